//! The real AWS-protocol server the Secrets Manager tests run against: moto's
//! standalone server on 127.0.0.1, started by `scripts/test.sh` (shared), or by a
//! test that needs one of its own (IAM enforcement switches auth on for everyone).
//! Fixtures are created through the real SDK client over HTTP, or the real `aws` CLI.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_secretsmanager::primitives::Blob;

use crate::harness::Envgate;

const HOW_TO_START: &str = "moto's server is not running. Run the suite with `scripts/test.sh`, or start \
     the server with `eval \"$(scripts/moto-server.sh start)\"` and run `cargo test` in the same shell.";

/// The shared server's endpoint; fails the test (never skips) when it is not running.
pub(crate) fn endpoint() -> String {
    let endpoint =
        std::env::var("ENVGATE_TEST_AWS_ENDPOINT").unwrap_or_else(|_| panic!("{HOW_TO_START}"));
    let address = endpoint.trim_start_matches("http://");
    assert!(
        std::net::TcpStream::connect(address).is_ok(),
        "nothing listens at {endpoint}. {HOW_TO_START}"
    );
    endpoint
}

/// The virtualenv's `bin` directory (moto_server, aws).
pub(crate) fn venv_bin() -> PathBuf {
    let python = std::env::var_os("ENVGATE_TEST_PYTHON").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
        PathBuf::from,
    );
    let bin = python.parent().unwrap().to_owned();
    assert!(
        bin.join("aws").exists(),
        "the aws CLI is not installed in {}. Run `scripts/setup-test-env.sh` (or `scripts/test.sh`).",
        bin.display()
    );
    bin
}

/// A name no other test (or earlier run against the same server) uses.
pub(crate) fn unique(label: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{label}{}x{}x{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        nanos % 10_000
    )
}

/// Runs a future to completion on a fresh current-thread runtime.
pub(crate) fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// An SDK client for `endpoint` with moto's test credentials.
pub(crate) fn client(endpoint: &str) -> Client {
    client_with(endpoint, "testing", "testing")
}

/// An SDK client for `endpoint` with the given access key.
pub(crate) fn client_with(endpoint: &str, key_id: &str, secret: &str) -> Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(key_id, secret, None, None, "tests"))
        // envgate builds without the SDK's default HTTPS client; so do its tests.
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .build();
    Client::from_conf(config)
}

/// An SSM (Parameter Store) client for `endpoint` with moto's test credentials.
#[allow(dead_code)] // used by benches/storm.rs, which includes this file
pub(crate) fn ssm_client(endpoint: &str) -> aws_sdk_ssm::Client {
    let config = aws_sdk_ssm::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .http_client(
            aws_smithy_http_client::Builder::new()
                .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
                    aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
                ))
                .build_https(),
        )
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}

/// Creates (or replaces) a `String` parameter.
#[allow(dead_code)] // used by benches/storm.rs, which includes this file
pub(crate) fn put_parameter(client: &aws_sdk_ssm::Client, name: &str, value: &str) {
    block_on(async {
        client
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(aws_sdk_ssm::types::ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .unwrap_or_else(|error| panic!("put_parameter {name}: {error:?}"));
    });
}

/// Creates a secret with a string value; returns its ARN.
pub(crate) fn create_secret(client: &Client, name: &str, value: &str) -> String {
    block_on(async {
        client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .unwrap()
            .arn()
            .unwrap()
            .to_owned()
    })
}

/// Creates a binary secret.
pub(crate) fn create_binary_secret(client: &Client, name: &str, bytes: &[u8]) {
    block_on(async {
        client
            .create_secret()
            .name(name)
            .secret_binary(Blob::new(bytes))
            .send()
            .await
            .unwrap();
    });
}

/// Stores a new AWSCURRENT version; returns its version id.
pub(crate) fn put_value(client: &Client, name: &str, value: &str) -> String {
    block_on(async {
        client
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .unwrap()
            .version_id()
            .unwrap()
            .to_owned()
    })
}

/// Schedules a secret for deletion.
pub(crate) fn schedule_deletion(client: &Client, name: &str) {
    block_on(async {
        client
            .delete_secret()
            .secret_id(name)
            .recovery_window_in_days(7)
            .send()
            .await
            .unwrap();
    });
}

/// Runs the `aws` CLI against `endpoint`; returns its stdout (JSON).
pub(crate) fn aws_cli(endpoint: &str, args: &[&str]) -> String {
    let output = Command::new(venv_bin().join("aws"))
        .arg("--endpoint-url")
        .arg(endpoint)
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "aws {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// envgate pointed at `endpoint` with test credentials, for the schema `schema`.
pub(crate) fn gate(schema: &str, endpoint: &str) -> Envgate {
    Envgate::with_schema(schema)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("USE_SECRETS_MANAGER", "true")
}

/// A moto server of the test's own, stopped when dropped.
pub(crate) struct OwnServer {
    child: Child,
    pub(crate) endpoint: String,
}

impl OwnServer {
    pub(crate) fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/moto_server.py");
        let child = Command::new(venv_bin().join("python"))
            .arg(script)
            .arg("--port")
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto's server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, endpoint }
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON of the version holding `stage`.
pub(crate) fn stage_json(endpoint: &str, secret: &str, stage: &str) -> serde_json::Value {
    let client = client(endpoint);
    let text = block_on(async {
        client
            .get_secret_value()
            .secret_id(secret)
            .version_stage(stage)
            .send()
            .await
            .unwrap()
            .secret_string()
            .unwrap()
            .to_owned()
    });
    serde_json::from_str(&text).unwrap()
}

/// Every version's staging labels, sorted.
pub(crate) fn version_stages(endpoint: &str, secret: &str) -> Vec<Vec<String>> {
    let client = client(endpoint);
    let described = block_on(async {
        client
            .describe_secret()
            .secret_id(secret)
            .send()
            .await
            .unwrap()
    });
    let mut stages: Vec<Vec<String>> = described
        .version_ids_to_stages()
        .unwrap()
        .values()
        .cloned()
        .collect();
    for list in &mut stages {
        list.sort();
    }
    stages.sort();
    stages
}

/// An IAM user `app` allowed only `actions` in `endpoint`'s moto; returns its
/// access key id and secret. Call [`crate::secrets::enforce_iam`] after it.
pub(crate) fn iam_user_allowed(endpoint: &str, actions: &[&str]) -> (String, String) {
    aws_cli(endpoint, &["iam", "create-user", "--user-name", "app"]);
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}]
    })
    .to_string();
    aws_cli(
        endpoint,
        &[
            "iam",
            "put-user-policy",
            "--user-name",
            "app",
            "--policy-name",
            "read",
            "--policy-document",
            &policy,
        ],
    );
    let key: serde_json::Value = serde_json::from_str(&aws_cli(
        endpoint,
        &["iam", "create-access-key", "--user-name", "app"],
    ))
    .unwrap();
    (
        key["AccessKey"]["AccessKeyId"].as_str().unwrap().to_owned(),
        key["AccessKey"]["SecretAccessKey"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}
