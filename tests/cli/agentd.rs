//! The real AWS Secrets Manager Agent as a test fixture: built into `.tools` by
//! `scripts/setup-test-env.sh`, started on a free port in front of a Secrets
//! Manager endpoint (moto's server, or the counting proxy before it).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The SSRF token the agents of the tests are started with.
pub(crate) const TOKEN: &str = "agent-ssrf-token-for-tests";

/// The agent binary; fails (never skips) with how to build it.
pub(crate) fn agent_bin() -> PathBuf {
    let path = std::env::var_os("ENVGATE_TEST_AGENT").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/aws_secretsmanager_agent"),
        PathBuf::from,
    );
    assert!(
        path.exists(),
        "the AWS Secrets Manager Agent is not built at {}. Run `scripts/setup-test-env.sh` (or `scripts/test.sh`), which builds it with cargo install.",
        path.display()
    );
    path
}

/// A running agent, stopped when dropped.
pub(crate) struct RunningAgent {
    child: Child,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the agent on a free port, reading Secrets Manager at `upstream`.
pub(crate) fn start_agent(upstream: &str, ttl_seconds: u32) -> RunningAgent {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    std::fs::write(
        &config,
        format!(
            "log_level = \"WARN\"\nlog_to_file = false\nhttp_port = \"{port}\"\nttl_seconds = \"{ttl_seconds}\"\nvalidate_credentials = false\nregion = \"us-east-1\"\nmax_conn = \"1000\"\n"
        ),
    )
    .unwrap();
    let child = Command::new(agent_bin())
        .arg("--config")
        .arg(&config)
        .current_dir(dir.path())
        .env_clear()
        .env("AWS_TOKEN", TOKEN)
        .env("AWS_ENDPOINT_URL", upstream)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the agent did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    RunningAgent {
        child,
        url,
        _dir: dir,
    }
}
