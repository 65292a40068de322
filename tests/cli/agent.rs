//! `--fetch agent`: the real AWS Secrets Manager Agent (built by
//! `scripts/setup-test-env.sh`) in front of moto's server, with a counting proxy
//! between them, so the tests see what reaches Secrets Manager.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::Envgate;
use crate::moto::{client, create_secret, endpoint, put_value, unique};
use crate::proxy::{Behaviour, Proxy};

const TOKEN: &str = "agent-ssrf-token-for-tests";

/// The agent binary; fails (never skips) with how to build it.
fn agent_bin() -> PathBuf {
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
struct RunningAgent {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for RunningAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the agent on a free port, reading Secrets Manager at `upstream`.
fn start_agent(upstream: &str, ttl_seconds: u32) -> RunningAgent {
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
            "log_level = \"INFO\"\nlog_to_file = false\nhttp_port = \"{port}\"\nttl_seconds = \"{ttl_seconds}\"\nvalidate_credentials = false\nregion = \"us-east-1\"\n"
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

/// envgate reading through `agent`, with no AWS credentials of its own.
fn through(agent: &RunningAgent, schema: &str) -> Envgate {
    Envgate::with_schema(schema)
        .env("USE_SECRETS_MANAGER", "true")
        .env("ENVGATE_SECRETS_AGENT", &agent.url)
        .env("AWS_TOKEN", TOKEN)
}

fn schema(env: &str, vars: &[(&str, &str)]) -> String {
    use std::fmt::Write as _;
    let mut text = format!("[envgate]\nenvironments = [\"{env}\"]\n");
    for (name, secret) in vars {
        let _ = writeln!(
            text,
            "[vars.{name}]\nsecret = \"{secret}\"\nsensitive = true"
        );
    }
    text
}

#[test]
fn values_come_through_the_agent_and_a_hundred_launches_cost_one_fetch_each() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("agent");
    create_secret(
        &sm,
        &format!("{env}/db"),
        r#"{"password":"canary-agent-pw"}"#,
    );
    create_secret(&sm, &format!("{env}/api"), "canary-agent-key");
    let proxy = Proxy::start(&upstream, Behaviour::Forward);
    let agent = start_agent(&proxy.url, 300);
    let text = schema(&env, &[("DB_PASSWORD", "db#password"), ("API_KEY", "api")]);
    let gate = through(&agent, &text).env("ENVIRONMENT", &env).args([
        "--",
        "sh",
        "-c",
        "echo \"$DB_PASSWORD $API_KEY\"",
    ]);
    for _ in 0..100 {
        let run = gate.run();
        assert_eq!(run.code, 0, "{}", run.transcript());
        assert_eq!(run.stdout, "canary-agent-pw canary-agent-key\n");
    }
    assert_eq!(
        proxy.count("GetSecretValue"),
        2,
        "one fetch per secret per TTL for 100 launches"
    );
    assert_eq!(proxy.count("BatchGetSecretValue"), 0);
    // The audit trail is the direct path's: a secret.read per secret, no value.
    let reads: Vec<_> = gate
        .audit_events()
        .into_iter()
        .filter(|event| event["event"] == "secret.read")
        .collect();
    assert_eq!(reads.len(), 200);
    assert_eq!(reads[0]["stage"], "AWSCURRENT");
    let trail = std::fs::read_to_string(gate.dir().join("audit.log")).unwrap();
    assert!(!trail.contains("canary-agent"));
}

#[test]
fn pinned_stages_and_versions_go_through_the_agent() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("agentpin");
    create_secret(&sm, &format!("{env}/key"), r#"{"k":"old-value"}"#);
    let newest = put_value(&sm, &format!("{env}/key"), r#"{"k":"new-value"}"#);
    let agent = start_agent(&upstream, 300);
    let text = schema(
        &env,
        &[
            ("CURRENT", "key#k"),
            ("PREVIOUS", "key#k@AWSPREVIOUS"),
            ("NEWEST", &format!("key#k@{newest}")),
        ],
    );
    let run = through(&agent, &text)
        .env("ENVIRONMENT", &env)
        .args(["--", "sh", "-c", "echo \"$CURRENT $PREVIOUS $NEWEST\""])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "new-value old-value new-value\n");
}

#[test]
fn agent_failures_say_what_to_check() {
    let upstream = endpoint();
    let env = unique("agentfail");
    let agent = start_agent(&upstream, 300);
    let text = schema(&env, &[("DB_PASSWORD", "missing#password")]);
    // A secret that does not exist: the direct path's diagnostic, exit 78.
    let run = through(&agent, &text)
        .env("ENVIRONMENT", &env)
        .args(["--", "true"])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(run.stderr.contains("was not found"), "{}", run.stderr);
    // A wrong token: refused by the agent, exit 69, says to set AWS_TOKEN.
    let run = through(&agent, &text)
        .env("ENVIRONMENT", &env)
        .env("AWS_TOKEN", "not-the-token")
        .args(["--", "true"])
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(run.stderr.contains("refused the token"), "{}", run.stderr);
    assert!(run.stderr.contains("AWS_TOKEN"), "{}", run.stderr);
    assert!(
        !run.all_output().contains("not-the-token"),
        "the token is never shown"
    );
    // The token from a file (file://), as the agent reads it.
    let gate = through(&agent, &text).env("ENVIRONMENT", &env);
    let token_file = gate.file("token", format!("{TOKEN}\n"));
    let run = gate
        .env("AWS_TOKEN", format!("file://{}", token_file.display()))
        .args(["--", "true"])
        .run();
    assert_eq!(run.code, 78, "the token was accepted: {}", run.transcript());
    // No agent listening: exit 69 naming the agent's address.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let run = Envgate::with_schema(&text)
        .env("USE_SECRETS_MANAGER", "true")
        .env("ENVIRONMENT", &env)
        .env("AWS_TOKEN", TOKEN)
        .args(["--fetch", "agent", "--timeout", "5", "--", "true"])
        .env("ENVGATE_SECRETS_AGENT", &dead)
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(run.stderr.contains(&dead), "{}", run.stderr);
    assert!(
        run.stderr.contains("Secrets Manager Agent"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_guard_refuses_before_asking_the_agent() {
    let upstream = endpoint();
    let proxy = Proxy::start(&upstream, Behaviour::Forward);
    let agent = start_agent(&proxy.url, 300);
    let env = unique("agentguard");
    let text = format!(
        "[envgate]\nenvironments = [\"{env}\", \"production\"]\n[vars.DB_PASSWORD]\nsecret = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:production/db-AbCdEf#password\"\n"
    );
    let run = through(&agent, &text)
        .env("ENVIRONMENT", &env)
        .args(["--", "true"])
        .run();
    assert_eq!(run.code, 77, "{}", run.transcript());
    assert_eq!(proxy.total(), 0, "nothing reached Secrets Manager");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
