//! `--fetch agent`: the real AWS Secrets Manager Agent (built by
//! `scripts/setup-test-env.sh`) in front of moto's server, with a counting proxy
//! between them, so the tests see what reaches Secrets Manager.

use crate::agentd::{RunningAgent, start_agent};
use crate::harness::Envgate;
use crate::moto::{client, create_secret, endpoint, put_value, unique};
use crate::proxy::{Behaviour, Proxy};
use crate::secrets::schema;

use crate::agentd::TOKEN;

/// envgate reading through `agent`, with no AWS credentials of its own.
fn through(agent: &RunningAgent, schema: &str) -> Envgate {
    Envgate::with_schema(schema)
        .env("USE_SECRETS_MANAGER", "true")
        .env("ENVGATE_SECRETS_AGENT", &agent.url)
        .env("AWS_TOKEN", TOKEN)
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

/// A hostile "agent" on 127.0.0.1: every request gets `status` with `body`
/// (sent in pieces, with its length announced); returns its URL.
fn hostile_agent(status: u16, body: Vec<u8>) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = std::sync::Arc::new(body);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let body = std::sync::Arc::clone(&body);
            std::thread::spawn(move || {
                let mut request = [0u8; 4096];
                let _ = stream.read(&mut request);
                let head = format!(
                    "HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                for piece in body.chunks(64 * 1024) {
                    if stream.write_all(piece).is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// envgate asking `agent` for one secret, with `token` as its SSRF token.
fn ask(agent: &str, token: &str) -> crate::harness::Run {
    let text = schema("production", &[("DB_PASSWORD", "db#password")]);
    Envgate::with_schema(&text)
        .env("USE_SECRETS_MANAGER", "true")
        .env("ENVIRONMENT", "production")
        .env("ENVGATE_SECRETS_AGENT", agent)
        .env("AWS_TOKEN", token)
        .args(["--fetch", "agent", "--timeout", "5", "--", "true"])
        .run()
}

/// What an agent answers is never repeated: not a SecretString in an error
/// answer, not a token it echoes, not a value a parse error would quote; an
/// answer past the cap is refused unread, with a short message.
#[test]
fn agent_answers_are_described_never_printed() {
    const VALUE: &str = "CANARY-agent-value-5d1e";
    const TOKEN_CANARY: &str = "CANARY-agent-token-77ab";
    let get_secret_value = format!(
        r#"{{"ARN":"arn:aws:secretsmanager:us-east-1:1:secret:production/db-AbCdEf","Name":"production/db","SecretString":"{{\"password\":\"{VALUE}\"}}","VersionStages":["AWSCURRENT"]}}"#
    );
    let answers: Vec<(u16, Vec<u8>)> = vec![
        (500, get_secret_value.clone().into_bytes()),
        (403, format!("Bad token: {TOKEN_CANARY}").into_bytes()),
        (
            400,
            format!(r#"{{"__type":"{VALUE}","message":"{VALUE}"}}"#).into_bytes(),
        ),
        (
            400,
            format!(r#"{{"__type":"InvalidParameterException","message":"{VALUE}"}}"#).into_bytes(),
        ),
        (200, format!(r#"{{"SecretString": {VALUE}}}"#).into_bytes()),
        (
            200,
            format!(r#"{{"SecretString": 12, "Name": "{VALUE}""#).into_bytes(),
        ),
        (502, VALUE.repeat(2_000_000 / VALUE.len()).into_bytes()),
    ];
    for (status, body) in answers {
        let run = ask(&hostile_agent(status, body), TOKEN_CANARY);
        assert_ne!(run.code, 0, "HTTP {status}: {}", run.transcript());
        let output = run.all_output();
        assert!(
            !output.contains(VALUE),
            "HTTP {status} repeated a value: {output}"
        );
        assert!(
            !output.contains(TOKEN_CANARY),
            "HTTP {status} repeated the token: {output}"
        );
        assert!(
            output.len() < 8_000,
            "HTTP {status}: {} bytes of output",
            output.len()
        );
    }
}

/// A 50 MB answer is not read whole: envgate stops at its cap and says so.
#[test]
fn an_oversized_agent_answer_is_refused_unread() {
    let run = ask(&hostile_agent(200, vec![b' '; 50 * 1024 * 1024]), "t");
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(run.stderr.contains("larger than"), "{}", run.stderr);
    assert!(
        run.stderr.len() < 8_000,
        "{} bytes of diagnostics",
        run.stderr.len()
    );
}

/// The token (here `AWS_SESSION_TOKEN`, a real AWS credential) goes over plain
/// HTTP, so an agent address off this host is refused (78) before any
/// connection.
#[test]
fn an_agent_off_this_host_is_refused_before_any_connection() {
    const SESSION: &str = "CANARY-session-token-0c4f";
    let text = schema("production", &[("DB_PASSWORD", "db#password")]);
    for address in [
        "http://192.0.2.10:2773",
        "http://10.1.2.3:2773",
        "https://127.0.0.1:2773",
        "http://user:pw@127.0.0.1:2773",
        "http://agent.invalid:2773",
        "not a url",
    ] {
        let started = std::time::Instant::now();
        let run = Envgate::with_schema(&text)
            .env("USE_SECRETS_MANAGER", "true")
            .env("ENVIRONMENT", "production")
            .env("ENVGATE_SECRETS_AGENT", address)
            .env("AWS_SESSION_TOKEN", SESSION)
            .args(["--fetch", "agent", "--timeout", "20", "--", "true"])
            .run();
        assert_eq!(run.code, 78, "{address}: {}", run.transcript());
        assert!(run.stderr.contains("loopback"), "{address}: {}", run.stderr);
        assert!(!run.all_output().contains(SESSION), "{address}");
        assert!(!run.all_output().contains("pw@"), "{address}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{address}"
        );
    }
}
