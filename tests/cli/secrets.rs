//! The Secrets Manager source, end to end: the real binary, the real SDK over HTTP,
//! moto's real server; a proxy in between counts the API calls.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::harness::Run;
use crate::moto::{
    OwnServer, aws_cli, block_on, client, client_with, create_binary_secret, create_secret,
    endpoint, gate, put_value, schedule_deletion, unique,
};
use crate::proxy::{Behaviour, Proxy};

/// A schema for environment `env` whose variables read `secrets` (name → reference).
pub(crate) fn schema(env: &str, vars: &[(&str, &str)]) -> String {
    let mut text =
        format!("[envgate]\nenvironments = [\"{env}\"]\nshared_prefixes = [\"shared-{env}/\"]\n");
    for (name, secret) in vars {
        let _ = writeln!(
            text,
            "[vars.{name}]\nsecret = \"{secret}\"\nsensitive = true"
        );
    }
    text
}

/// `count` secrets `{env}/svc/sNN` holding `{"v":"value-N"}`, and the schema whose
/// variables `SNN` read them.
fn numbered_secrets(sm: &aws_sdk_secretsmanager::Client, env: &str, count: usize) -> String {
    let mut vars = Vec::new();
    for index in 0..count {
        create_secret(
            sm,
            &format!("{env}/svc/s{index:02}"),
            &format!(r#"{{"v":"value-{index}"}}"#),
        );
        vars.push((format!("S{index:02}"), format!("svc/s{index:02}#v")));
    }
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    schema(env, &pairs)
}

#[test]
fn forty_one_secrets_cost_three_batch_calls() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("batch");
    let mut vars = Vec::new();
    for index in 0..41 {
        create_secret(
            &sm,
            &format!("{env}/app/s{index:02}"),
            &format!(r#"{{"value":"v{index}","port":{index}}}"#),
        );
        vars.push((format!("S{index:02}"), format!("app/s{index:02}#value")));
    }
    // Two variables sharing a secret cost one fetch.
    vars.push(("PORT_00".to_owned(), "app/s00#port".to_owned()));
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let proxy = Proxy::start(&upstream, Behaviour::Forward);
    let run = gate(&schema(&env, &pairs), &proxy.url)
        .env("ENVIRONMENT", &env)
        .args(["--", "sh", "-c", "echo \"$S00 $S20 $S40 $PORT_00\""])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        run.stdout, "v0 v20 v40 0\n",
        "JSON numbers become their text"
    );
    assert_eq!(
        proxy.count("BatchGetSecretValue"),
        3,
        "ceil(41 / 20) batch calls"
    );
    assert_eq!(proxy.count("GetSecretValue"), 0);
}

#[test]
fn references_in_the_environment_are_resolved_without_use_secrets_manager() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("envref");
    let arn = create_secret(
        &sm,
        &format!("{env}/database/primary"),
        r#"{"password":"from-arn","host":"db.internal"}"#,
    );
    let text = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.DATABASE_PASSWORD]\nsensitive = true\n[vars.DATABASE_HOST]\n"
    );
    let run = gate(&text, &upstream)
        .env("USE_SECRETS_MANAGER", "false")
        .env("ENVIRONMENT", &env)
        .env("DATABASE_PASSWORD", format!("{arn}#password"))
        .env(
            "DATABASE_HOST",
            format!("aws-sm://{env}/database/primary#host"),
        )
        .args([
            "--",
            "sh",
            "-c",
            "echo \"$DATABASE_PASSWORD $DATABASE_HOST\"",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "from-arn db.internal\n");
}

#[test]
fn pinned_stages_and_versions() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("pin");
    let name = format!("{env}/api-keys/resend");
    create_secret(&sm, &name, r#"{"api_key":"old-key"}"#);
    let new_version = put_value(&sm, &name, r#"{"api_key":"new-key"}"#);
    let text = schema(
        &env,
        &[
            ("CURRENT", "api-keys/resend#api_key"),
            ("PREVIOUS", "api-keys/resend#api_key@AWSPREVIOUS"),
            ("BY_ID", &format!("api-keys/resend#api_key@{new_version}")),
        ],
    );
    let run = gate(&text, &upstream)
        .env("ENVIRONMENT", &env)
        .args([
            "--explain",
            "--",
            "sh",
            "-c",
            "echo \"$CURRENT $PREVIOUS $BY_ID\"",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "new-key old-key new-key\n");
    // --explain names the secret, the stage and the version.
    let short_id: String = new_version.chars().take(8).collect();
    assert!(
        run.stderr
            .contains(&format!("secrets-manager {name} (AWSPREVIOUS, version")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("(AWSCURRENT, version {short_id})")),
        "{}",
        run.stderr
    );
}

#[test]
fn the_guard_refuses_other_environments_before_any_request() {
    let upstream = endpoint();
    let proxy = Proxy::start(&upstream, Behaviour::Forward);
    let env = unique("guard");
    let text = format!(
        "[envgate]\nenvironments = [\"{env}\", \"production\"]\n[vars.DATABASE_PASSWORD]\nsensitive = true\n[vars.OK]\nsecret = \"app#k\"\n"
    );
    let run = gate(&text, &proxy.url)
        .env("ENVIRONMENT", &env)
        .env(
            "DATABASE_PASSWORD",
            "aws-sm://production/database/primary#password",
        )
        .args(["--check"])
        .run();
    assert_eq!(run.code, 77, "{}", run.transcript());
    assert!(
        run.stdout.contains("envgate::cross_environment"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("DATABASE_PASSWORD refers to secret `production/database/primary`"),
        "{}",
        run.stdout
    );
    assert_eq!(proxy.total(), 0, "no request may be sent");
}

#[test]
fn shared_prefixes_are_allowed() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("shared");
    create_secret(&sm, &format!("shared-{env}/smtp"), "smtp-password");
    let text = format!(
        "[envgate]\nenvironments = [\"{env}\"]\nshared_prefixes = [\"shared-{env}/\"]\n[vars.SMTP]\nsensitive = true\n"
    );
    let run = gate(&text, &upstream)
        .env("ENVIRONMENT", &env)
        .env("SMTP", format!("aws-sm://shared-{env}/smtp"))
        .args(["--", "printenv", "SMTP"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "smtp-password\n");
}

#[test]
fn per_secret_failures_name_the_secret_the_variable_and_the_fix() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("fail");
    create_secret(
        &sm,
        &format!("{env}/db"),
        r#"{"host":"CANARYsm1","nested":{"a":"CANARYsm2"}}"#,
    );
    create_secret(&sm, &format!("{env}/plain"), "not json CANARYsm3");
    create_binary_secret(&sm, &format!("{env}/bin"), b"\x00\x01binary");
    create_secret(&sm, &format!("{env}/doomed"), "x");
    schedule_deletion(&sm, &format!("{env}/doomed"));
    let text = schema(
        &env,
        &[
            ("MISSING_SECRET", "nope#k"),
            ("MISSING_KEY", "db#user"),
            ("NESTED", "db#nested"),
            ("NOT_JSON", "plain#k"),
            ("BINARY", "bin"),
            ("DOOMED", "doomed"),
        ],
    );
    // No value of these secrets may appear anywhere, in any format.
    for format in ["human", "github", "json"] {
        let gate = gate(&text, &upstream).env("ENVIRONMENT", &env).args([
            "--check",
            "--explain",
            "--format",
            format,
        ]);
        let run = gate.run();
        let audit_log = std::fs::read_to_string(gate.dir().join("audit.log")).unwrap();
        for output in [&run.stdout, &run.stderr, &audit_log] {
            assert!(
                !output.contains("CANARYsm"),
                "a secret value leaked in {format}:\n{output}"
            );
        }
    }
    let run = gate(&text, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["--check", "--format", "json"])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let problem = |var: &str| {
        report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["var"] == var)
            .unwrap_or_else(|| panic!("no problem for {var}: {}", run.stdout))
            .clone()
    };
    let missing = problem("MISSING_SECRET");
    assert_eq!(missing["code"], "envgate::secret_not_found");
    assert!(
        missing["message"]
            .as_str()
            .unwrap()
            .contains(&format!("secret `{env}/nope` was not found"))
    );
    assert!(
        missing["help"]
            .as_str()
            .unwrap()
            .contains("Check that the secret name matches the environment prefix")
    );
    assert_eq!(
        problem("MISSING_KEY")["code"],
        "envgate::secret_key_missing"
    );
    assert!(
        problem("MISSING_KEY")["message"]
            .as_str()
            .unwrap()
            .contains("has no key `user` (its keys: host, nested)")
    );
    assert_eq!(problem("NESTED")["code"], "envgate::secret_not_json");
    assert_eq!(problem("NOT_JSON")["code"], "envgate::secret_not_json");
    assert_eq!(problem("BINARY")["code"], "envgate::secret_binary");
    assert!(
        problem("BINARY")["help"]
            .as_str()
            .unwrap()
            .contains("binary = \"base64\"")
    );
    assert_eq!(
        problem("DOOMED")["code"],
        "envgate::secret_scheduled_for_deletion"
    );
    assert!(
        problem("MISSING_SECRET")["span"]["line"].as_u64().is_some(),
        "points at the schema"
    );
}

#[test]
fn binary_secrets_can_be_delivered_as_base64() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("b64");
    create_binary_secret(&sm, &format!("{env}/cert"), b"\x00\x01\x02");
    let text = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.CERT]\nsecret = \"cert\"\nbinary = \"base64\"\n"
    );
    let run = gate(&text, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["--", "printenv", "CERT"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "AAEC\n");
}

#[test]
fn a_value_from_secrets_manager_overriding_the_environment_is_a_warning_without_values() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("override");
    create_secret(
        &sm,
        &format!("{env}/db"),
        r#"{"password":"CANARYsmValue1"}"#,
    );
    let text = schema(&env, &[("DATABASE_PASSWORD", "db#password")]);
    let run = gate(&text, &upstream)
        .env("ENVIRONMENT", &env)
        .env("DATABASE_PASSWORD", "CANARYlocalValue2")
        .args(["--", "true"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stderr.contains("envgate::secret_overrides_env"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("DATABASE_PASSWORD"));
    assert!(!run.stderr.contains("CANARY"), "{}", run.stderr);
}

#[test]
fn optional_variables_fall_back_when_their_secret_is_absent() {
    let upstream = endpoint();
    let env = unique("fallback");
    let text = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.OPTIONAL]\nrequired = false\nsecret = \"nope#k\"\n"
    );
    let run = gate(&text, &upstream)
        .env("ENVIRONMENT", &env)
        .env("OPTIONAL", "local")
        .args(["--", "printenv", "OPTIONAL"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "local\n");
}

#[test]
fn the_aws_cli_creates_secrets_the_way_the_guide_does() {
    let upstream = endpoint();
    let env = unique("cli");
    let secret = r#"{"host":"db.example.com","port":"5432","name":"muejam","user":"muejam_user","password":"a-long-database-s3cret"}"#;
    aws_cli(
        &upstream,
        &[
            "secretsmanager",
            "create-secret",
            "--name",
            &format!("{env}/database/primary"),
            "--secret-string",
            secret,
        ],
    );
    let key = format!(r#"{{"SECRET_KEY":"{}"}}"#, crate::harness::GOOD_SECRET_KEY);
    aws_cli(
        &upstream,
        &[
            "secretsmanager",
            "create-secret",
            "--name",
            &format!("{env}/django/secret-key"),
            "--secret-string",
            &key,
        ],
    );
    let text = crate::harness::muejam_schema().replace(
        "[\"development\", \"staging\", \"production\"]",
        &format!("[\"development\", \"staging\", \"production\", \"{env}\"]"),
    );
    let run = gate(&text, &upstream)
        .env("ENVIRONMENT", &env)
        .env("AWS_REGION", "us-east-1")
        .args([
            "--explain",
            "--",
            "sh",
            "-c",
            "echo $DATABASE_HOST:$DATABASE_PORT/$DATABASE_NAME $DATABASE_USER",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "db.example.com:5432/muejam muejam_user\n");
    assert!(!run.stderr.contains("a-long-database-s3cret"));
}

#[test]
fn an_unreachable_endpoint_exits_69_naming_it() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = format!("http://127.0.0.1:{port}");
    let text = schema(
        "production",
        &[("DATABASE_PASSWORD", "database/primary#password")],
    );
    let started = Instant::now();
    let run = gate(&text, &dead)
        .env("ENVIRONMENT", "production")
        .args(["--check", "--timeout", "5"])
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(
        run.stdout.contains("envgate::store_unavailable"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&dead),
        "names the endpoint: {}",
        run.stdout
    );
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_server_that_never_answers_hits_the_deadline() {
    let proxy = Proxy::start("http://127.0.0.1:9", Behaviour::Hang);
    let text = schema(
        "production",
        &[("DATABASE_PASSWORD", "database/primary#password")],
    );
    let started = Instant::now();
    let run = gate(&text, &proxy.url)
        .env("ENVIRONMENT", "production")
        .args(["--timeout", "2", "--", "touch", "launched"])
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(run.stderr.contains("within 2s"), "{}", run.stderr);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[test]
fn no_credentials_says_so_and_lists_what_was_tried() {
    let upstream = endpoint();
    let home = tempfile::tempdir().unwrap();
    let text = schema(
        "production",
        &[("DATABASE_PASSWORD", "database/primary#password")],
    );
    let run = crate::harness::Envgate::with_schema(&text)
        .env("HOME", home.path())
        .env("AWS_ENDPOINT_URL", &upstream)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("USE_SECRETS_MANAGER", "true")
        .env("ENVIRONMENT", "production")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(
        run.stdout.contains("no AWS credentials found"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("AWS_ACCESS_KEY_ID"), "{}", run.stdout);
    assert!(run.stdout.contains("instance metadata"), "{}", run.stdout);
}

#[test]
fn auto_falls_back_to_get_secret_value_under_iam_without_batch_permission() {
    let server = OwnServer::start();
    let sm = client(&server.endpoint);
    let env = "production";
    for name in ["database/primary", "api-keys/resend"] {
        create_secret(
            &sm,
            &format!("{env}/{name}"),
            r#"{"password":"p","api_key":"k"}"#,
        );
    }
    // The guide's policy: GetSecretValue, DescribeSecret, ListSecrets; no BatchGetSecretValue.
    let (key_id, secret) = crate::moto::iam_user_allowed(
        &server.endpoint,
        &[
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret",
            "secretsmanager:ListSecrets",
        ],
    );
    enforce_iam(&server.endpoint);
    // The user really lacks the batch permission.
    let denied = block_on(async {
        client_with(&server.endpoint, &key_id, &secret)
            .batch_get_secret_value()
            .secret_id_list(format!("{env}/database/primary"))
            .send()
            .await
    });
    assert!(denied.is_err());

    let proxy = Proxy::start(&server.endpoint, Behaviour::Forward);
    let text = schema(
        env,
        &[
            ("DATABASE_PASSWORD", "database/primary#password"),
            ("RESEND_API_KEY", "api-keys/resend#api_key"),
        ],
    );
    let as_app = |mode: &str| {
        gate(&text, &proxy.url)
            .env("AWS_ACCESS_KEY_ID", &key_id)
            .env("AWS_SECRET_ACCESS_KEY", &secret)
            .env("ENVIRONMENT", env)
            .args([
                "--fetch",
                mode,
                "--",
                "sh",
                "-c",
                "echo $DATABASE_PASSWORD $RESEND_API_KEY",
            ])
            .run()
    };
    let run = as_app("auto");
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "p k\n");
    assert_eq!(proxy.count("BatchGetSecretValue"), 1);
    assert_eq!(proxy.count("GetSecretValue"), 2);

    let run = as_app("batch");
    assert_eq!(run.code, 77, "{}", run.transcript());
    assert!(
        run.stderr.contains("envgate::access_denied"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("BatchGetSecretValue"), "{}", run.stderr);
    assert_eq!(run.stdout, "", "nothing was launched");
}

/// Switches moto's IAM enforcement on: every later request is authenticated and authorised.
pub(crate) fn enforce_iam(endpoint: &str) {
    let address = endpoint.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    let request = format!(
        "POST /moto-api/reset-auth HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/plain\r\nContent-Length: 1\r\nConnection: close\r\n\r\n0"
    );
    std::io::Write::write_all(&mut stream, request.as_bytes()).unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut stream, &mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200"),
        "{response}"
    );
}

#[test]
fn a_hundred_launches_through_throttling_all_succeed_with_full_configuration() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("fleet");
    let text = numbered_secrets(&sm, &env, 25);
    // Every fourth request is answered with ThrottlingException: a server short
    // of capacity for every action, where retrying the batch is the cheap answer.
    let proxy = Proxy::start(&upstream, Behaviour::ThrottleEvery(4));
    let echo = (0..25)
        .map(|index| format!("$S{index:02}"))
        .collect::<Vec<_>>()
        .join(" ");
    let expected = (0..25)
        .map(|index| format!("value-{index}"))
        .collect::<Vec<_>>()
        .join(" ");
    let template = gate(&text, &proxy.url)
        .env("ENVIRONMENT", &env)
        // A deadline for a loaded 2-core machine running the whole suite at once.
        .args(["--fetch", "batch", "--timeout", "90", "--", "sh", "-c"])
        .args([format!("echo \"{echo}\"")]);
    let started = Instant::now();
    let children: Vec<_> = (0..100)
        .map(|_| {
            template
                .command()
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let runs: Vec<Run> = children
        .into_iter()
        .map(|child| crate::harness::from_output(child.wait_with_output().unwrap()))
        .collect();
    let elapsed = started.elapsed();
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert_eq!(
            run.stdout.trim_end(),
            expected.trim_end(),
            "partial configuration"
        );
    }
    assert!(
        proxy.total() > 200,
        "the throttling proxy saw {} requests",
        proxy.total()
    );
    assert!(
        elapsed < Duration::from_secs(180),
        "100 launches took {elapsed:?}"
    );
}

#[test]
fn https_endpoints_are_verified_against_the_trust_store() {
    let upstream = endpoint();
    let upstream_port = upstream.rsplit(':').next().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("ca.pem");
    let (tls, port) = listening(
        "tests/tls_proxy.py",
        &[
            "--upstream-port".as_ref(),
            upstream_port.as_ref(),
            "--cert-out".as_ref(),
            cert.as_os_str(),
        ],
    );
    let https = format!("https://127.0.0.1:{port}");

    let sm = client(&upstream);
    let env = unique("tls");
    create_secret(&sm, &format!("{env}/db"), r#"{"password":"over-tls"}"#);
    let text = schema(&env, &[("DATABASE_PASSWORD", "db#password")]);
    // Trusted through SSL_CERT_FILE: the value arrives over TLS.
    let run = gate(&text, &https)
        .env("ENVIRONMENT", &env)
        .env("SSL_CERT_FILE", &cert)
        .args(["--", "printenv", "DATABASE_PASSWORD"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "over-tls\n");
    // Not trusted by the system's roots: refused at once (a new connection would be
    // refused the same way, so it is not retried until the deadline), saying why;
    // nothing launched.
    let started = Instant::now();
    let run = gate(&text, &https)
        .env("ENVIRONMENT", &env)
        .args(["--timeout", "30", "--", "printenv", "DATABASE_PASSWORD"])
        .run();
    let took = started.elapsed();
    drop(tls);
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains(&https), "{}", run.stderr);
    assert!(
        run.stderr.contains("invalid peer certificate"),
        "says why: {}",
        run.stderr
    );
    assert!(
        took < Duration::from_secs(10),
        "an untrusted certificate was retried for {took:?}"
    );
}

/// A CA bundle the TLS set-up cannot use is an error naming the file and the
/// certificate (exit 69, nothing launched), not an internal error: the SDK's set-up
/// panics on such a bundle.
#[test]
fn an_unusable_ca_bundle_is_named_not_an_internal_error() {
    let dir = tempfile::tempdir().unwrap();
    let bundles = [
        (
            "not-pem.pem",
            "-----BEGIN CERTIFICATE-----\nnot*base64!\n-----END CERTIFICATE-----\n",
            "is not valid PEM",
        ),
        (
            "not-a-certificate.pem",
            "-----BEGIN CERTIFICATE-----\naGVsbG8=\n-----END CERTIFICATE-----\n",
            "cannot be a trust anchor",
        ),
        ("empty.pem", "", "holds no certificate"),
    ];
    let env = unique("bundle");
    let text = schema(&env, &[("DATABASE_PASSWORD", "db#password")]);
    for (name, contents, says) in bundles {
        let bundle = dir.path().join(name);
        std::fs::write(&bundle, contents).unwrap();
        let marker = dir.path().join("launched");
        let run = gate(&text, "https://127.0.0.1:9")
            .env("ENVIRONMENT", &env)
            .env("SSL_CERT_FILE", &bundle)
            .args(["--", "touch", &marker.display().to_string()])
            .run();
        assert_eq!(run.code, 69, "{name}: {}", run.transcript());
        // The report wraps its lines: compare the words.
        let words = run.stderr.replace('│', " ");
        let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.contains(&bundle.display().to_string()) && words.contains(says),
            "{name}: {}",
            run.stderr
        );
        assert!(!run.stderr.contains("internal error"), "{}", run.stderr);
        assert!(!marker.exists());
    }
}

/// A child process killed when the test ends, passing or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn throttling_past_every_retry_exits_69_and_launches_nothing() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("throttle");
    create_secret(&sm, &format!("{env}/db"), r#"{"password":"p"}"#);
    let proxy = Proxy::start(&upstream, Behaviour::ThrottleEvery(1));
    let text = schema(&env, &[("DATABASE_PASSWORD", "db#password")]);
    let gate = gate(&text, &proxy.url).env("ENVIRONMENT", &env);
    let marker = gate.dir().join("launched");
    // A 10 s deadline: 12 attempts (the attempts grow with --timeout).
    let run = gate
        .args(["--timeout", "10", "--", "touch"])
        .args([&marker])
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(run.stderr.contains("envgate::throttled"), "{}", run.stderr);
    assert!(run.stderr.contains("up to 12 attempts"), "{}", run.stderr);
    assert!(!marker.exists());
    // Tried once, then fell back to GetSecretValue, which was retried.
    assert_eq!(proxy.count("BatchGetSecretValue"), 1, "batch not retried");
    assert!(
        proxy.count("GetSecretValue") > 1,
        "fell back to single reads, retried"
    );
}

#[test]
fn auto_switches_to_single_reads_at_the_first_throttled_batch() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("quota");
    let text = numbered_secrets(&sm, &env, 41);
    // The batch quota is spent: every BatchGetSecretValue is throttled.
    let proxy = Proxy::start(&upstream, Behaviour::ThrottleAction("BatchGetSecretValue"));
    let started = Instant::now();
    let run = gate(&text, &proxy.url)
        .env("ENVIRONMENT", &env)
        .args(["--", "sh", "-c", "echo \"$S00 $S40\""])
        .run();
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "value-0 value-40\n");
    assert_eq!(
        proxy.count("BatchGetSecretValue"),
        3,
        "each of the 3 batches tried once, no backoff on a spent quota"
    );
    assert_eq!(proxy.count("GetSecretValue"), 41, "each secret read once");
    assert!(
        took < Duration::from_secs(10),
        "no waiting on the batch quota: {took:?}"
    );
}

#[test]
fn forty_launches_with_the_batch_quota_spent_all_succeed_through_single_reads() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("storm");
    let text = numbered_secrets(&sm, &env, 25);
    let proxy = Proxy::start(&upstream, Behaviour::ThrottleAction("BatchGetSecretValue"));
    let template = gate(&text, &proxy.url).env("ENVIRONMENT", &env).args([
        "--",
        "sh",
        "-c",
        "echo \"$S00 $S24\"",
    ]);
    let children: Vec<_> = (0..40)
        .map(|_| {
            template
                .command()
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let run = crate::harness::from_output(child.wait_with_output().unwrap());
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert_eq!(run.stdout, "value-0 value-24\n");
    }
    assert_eq!(
        proxy.count("BatchGetSecretValue"),
        80,
        "2 batches per launch, tried once"
    );
    // Each secret read (a loaded server may make some attempts be retried).
    assert!(
        proxy.count("GetSecretValue") >= 1000,
        "then each secret read: {}",
        proxy.count("GetSecretValue")
    );
}

#[test]
fn batch_mode_still_retries_a_throttled_batch() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("batchonly");
    create_secret(&sm, &format!("{env}/db"), r#"{"password":"p"}"#);
    let proxy = Proxy::start(&upstream, Behaviour::ThrottleEvery(1));
    let text = schema(&env, &[("DATABASE_PASSWORD", "db#password")]);
    let run = gate(&text, &proxy.url)
        .env("ENVIRONMENT", &env)
        .args(["--fetch", "batch", "--timeout", "10", "--"])
        .args(["printenv", "DATABASE_PASSWORD"])
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(
        proxy.count("BatchGetSecretValue") > 1,
        "retried with backoff"
    );
    assert_eq!(
        proxy.count("GetSecretValue"),
        0,
        "no fallback in batch mode"
    );
}

/// Retries of a throttled call wait a random time (full jitter), so a storm's
/// retries arrive spread out and a refilling quota is used as it refills. The
/// SDK's adaptive mode, used before, waited exactly its 2 s cap after the first
/// few throttles: every process retried in lockstep waves, and `--fetch batch`
/// took twice the time its quota allows.
#[test]
fn throttled_retries_are_spread_out_not_in_lockstep() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("jitter");
    let text = numbered_secrets(&sm, &env, 2);
    let proxy = Proxy::start(&upstream, Behaviour::ThrottleAction("BatchGetSecretValue"));
    let run = gate(&text, &proxy.url)
        .env("ENVIRONMENT", &env)
        .args(["--fetch", "batch", "--timeout", "12", "--", "true"])
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(run.stderr.contains("throttl"), "{}", run.transcript());
    let arrivals = proxy.arrivals("BatchGetSecretValue");
    let gaps: Vec<Duration> = arrivals.windows(2).map(|pair| pair[1] - pair[0]).collect();
    // From the fifth retry on, the backoff cap (2 s) bounds a uniform wait.
    let capped = gaps.get(5..).unwrap_or_default();
    assert!(capped.len() >= 3, "too few retries to judge: {gaps:?}");
    let shortest = capped.iter().min().unwrap();
    let longest = capped.iter().max().unwrap();
    assert!(
        longest.saturating_sub(*shortest) > Duration::from_millis(300),
        "retries came at fixed intervals (lockstep): {gaps:?}"
    );
}

/// A naming convention without `{environment}` would let one environment read
/// and write another's secrets: a schema error at its place, unless the schema
/// says `guard = "none"`.
#[test]
fn a_naming_convention_without_the_environment_is_a_schema_error() {
    for convention in ["production/{name}", "{name}", "apps/{name}"] {
        let text = format!(
            "[envgate]\nenvironments = [\"staging\", \"production\"]\nsecret_name = \"{convention}\"\n[vars.DB_PASSWORD]\nsecret = \"db#password\"\nsensitive = true\n"
        );
        let run = crate::harness::Envgate::with_schema(&text)
            .env("ENVIRONMENT", "staging")
            .args(["--check"])
            .run();
        assert_eq!(run.code, 65, "{convention}: {}", run.transcript());
        assert!(run.stdout.contains("{environment}"), "{}", run.stdout);
        assert!(run.stdout.contains("env.schema.toml:3:"), "{}", run.stdout);
        assert!(run.stdout.contains("guard = \"none\""), "{}", run.stdout);
    }
}

/// A shared prefix covers whole path segments: `prod` does not let
/// `production/…` through from staging (77, no request).
#[test]
fn shared_prefixes_match_whole_path_segments() {
    let upstream = endpoint();
    let proxy = Proxy::start(&upstream, Behaviour::Forward);
    let text = "[envgate]\nenvironments = [\"staging\", \"production\"]\nshared_prefixes = [\"prod\"]\n[vars.DB_PASSWORD]\nsensitive = true\n";
    for reference in [
        "aws-sm://production/database/primary#password",
        "aws-sm://arn:aws:secretsmanager:us-east-1:123456789012:secret:production/db-AbCdEf#password",
    ] {
        let run = gate(text, &proxy.url)
            .env("ENVIRONMENT", "staging")
            .env("DB_PASSWORD", reference)
            .args(["--check"])
            .run();
        assert_eq!(run.code, 77, "{reference}: {}", run.transcript());
    }
    assert_eq!(proxy.total(), 0, "no request may be sent");
}

/// `guard = "none"` (each environment in its own AWS account): a convention
/// without `{environment}` loads, and names are not checked.
#[test]
fn guard_none_leaves_the_separation_to_iam() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let name = unique("noguard");
    create_secret(&sm, &name, r#"{"password":"canary-noguard-pw-1"}"#);
    let text = "[envgate]\nenvironments = [\"staging\"]\nsecret_name = \"{name}\"\nguard = \"none\"\n[vars.DB_PASSWORD]\nsensitive = true\n";
    let run = gate(text, &upstream)
        .env("ENVIRONMENT", "staging")
        .env("DB_PASSWORD", format!("aws-sm://{name}#password"))
        .args(["--", "printenv", "DB_PASSWORD"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "canary-noguard-pw-1\n");
}

/// A helper process started with `args`, whose first output line is the port it
/// listens on; killed when dropped.
fn listening(script: &str, args: &[&std::ffi::OsStr]) -> (KillOnDrop, String) {
    use std::io::BufRead as _;
    let mut child = KillOnDrop(
        std::process::Command::new(crate::moto::venv_bin().join("python"))
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut port = String::new();
    std::io::BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut port)
        .unwrap();
    (child, port.trim().to_owned())
}

/// Behind a corporate proxy: `HTTPS_PROXY` carries the HTTPS request through a
/// CONNECT tunnel, `NO_PROXY` bypasses it, and a proxy that refuses the tunnel
/// fails the launch (69) within the deadline, nothing launched.
#[test]
fn https_goes_through_a_connect_proxy_unless_no_proxy_says_otherwise() {
    let upstream = endpoint();
    let upstream_port = upstream.rsplit(':').next().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("ca.pem");
    let (_tls, tls_port) = listening(
        "tests/tls_proxy.py",
        &[
            "--upstream-port".as_ref(),
            upstream_port.as_ref(),
            "--cert-out".as_ref(),
            cert.as_os_str(),
        ],
    );
    let https = format!("https://127.0.0.1:{tls_port}");
    let log = dir.path().join("tunnels.log");
    let (_proxy, proxy_port) = listening(
        "tests/connect_proxy.py",
        &["--log".as_ref(), log.as_os_str()],
    );
    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let tunnels = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .count()
    };

    let sm = client(&upstream);
    let env = unique("proxy");
    create_secret(
        &sm,
        &format!("{env}/db"),
        r#"{"password":"through-the-proxy"}"#,
    );
    let text = schema(&env, &[("DATABASE_PASSWORD", "db#password")]);
    let through = |extra: &[(&str, &str)]| {
        let mut gate = gate(&text, &https)
            .env("ENVIRONMENT", &env)
            .env("SSL_CERT_FILE", &cert);
        for (name, value) in extra {
            gate = gate.env(name, value);
        }
        gate.args(["--timeout", "5", "--", "printenv", "DATABASE_PASSWORD"])
            .run()
    };
    let run = through(&[("HTTPS_PROXY", &proxy)]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "through-the-proxy\n");
    assert!(tunnels() >= 1, "no CONNECT reached the proxy");
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains(&format!("CONNECT 127.0.0.1:{tls_port}")),
        "the tunnel went elsewhere"
    );
    let before = tunnels();
    let run = through(&[("https_proxy", &proxy), ("NO_PROXY", "127.0.0.1")]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(tunnels(), before, "NO_PROXY did not bypass the proxy");

    let refused_log = dir.path().join("refused.log");
    let (_refusing, refusing_port) = listening(
        "tests/connect_proxy.py",
        &[
            "--log".as_ref(),
            refused_log.as_os_str(),
            "--refuse".as_ref(),
        ],
    );
    let started = Instant::now();
    let run = through(&[("HTTPS_PROXY", &format!("http://127.0.0.1:{refusing_port}"))]);
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert_eq!(run.stdout, "", "nothing launched");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert!(
        std::fs::read_to_string(&refused_log)
            .unwrap_or_default()
            .contains("CONNECT")
    );
}
