//! Alerts, end to end: SNS (moto) read back from a subscribed SQS queue, and a
//! webhook receiver on 127.0.0.1 that answers, fails or hangs; the audit default
//! on a terminal.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::Envgate;
use crate::moto::{aws_cli, endpoint, gate, unique};

/// How the webhook receiver answers.
#[derive(Clone, Copy)]
pub(crate) enum Answer {
    Ok,
    Status500,
    Hang,
}

/// A webhook receiver on 127.0.0.1: every request body it got.
pub(crate) struct Receiver {
    pub(crate) url: String,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    pub(crate) fn start(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // The path holds the token, as Slack's do.
        let url = format!(
            "http://{}/services/T000/B000/HOOKTOKENsecret42",
            listener.local_addr().unwrap()
        );
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let seen = Arc::clone(&seen);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut length = 0;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(value) =
                            line.to_ascii_lowercase().strip_prefix("content-length:")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0; length];
                    let _ = reader.read_exact(&mut body);
                    if let Ok(json) = serde_json::from_slice(&body) {
                        seen.lock().unwrap().push(json);
                    }
                    let mut stream = stream;
                    match answer {
                        Answer::Hang => std::thread::sleep(Duration::from_secs(30)),
                        Answer::Ok => {
                            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
                        }
                        Answer::Status500 => {
                            let _ = stream.write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        }
                    }
                });
            }
        });
        Self { url, bodies }
    }

    pub(crate) fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }
}

/// A schema whose `DATABASE_PASSWORD` reads `{env}/database/primary#password`.
fn schema(env: &str) -> String {
    format!(
        "[envgate]\nenvironments = [\"{env}\", \"production\"]\n[vars.DATABASE_PASSWORD]\nsensitive = true\nsecret = \"database/primary#password\"\n"
    )
}

/// An SNS topic with an SQS queue subscribed: (topic ARN, queue URL).
fn topic_with_queue() -> (String, String) {
    let upstream = endpoint();
    let name = unique("alerts");
    let queue: serde_json::Value = serde_json::from_str(&aws_cli(
        &upstream,
        &["sqs", "create-queue", "--queue-name", &name],
    ))
    .unwrap();
    let queue_url = queue["QueueUrl"].as_str().unwrap().to_owned();
    let attributes: serde_json::Value = serde_json::from_str(&aws_cli(
        &upstream,
        &[
            "sqs",
            "get-queue-attributes",
            "--queue-url",
            &queue_url,
            "--attribute-names",
            "QueueArn",
        ],
    ))
    .unwrap();
    let queue_arn = attributes["Attributes"]["QueueArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let topic: serde_json::Value = serde_json::from_str(&aws_cli(
        &upstream,
        &["sns", "create-topic", "--name", &name],
    ))
    .unwrap();
    let topic_arn = topic["TopicArn"].as_str().unwrap().to_owned();
    aws_cli(
        &upstream,
        &[
            "sns",
            "subscribe",
            "--topic-arn",
            &topic_arn,
            "--protocol",
            "sqs",
            "--notification-endpoint",
            &queue_arn,
        ],
    );
    (topic_arn, queue_url)
}

/// The SNS envelopes waiting in the queue.
fn envelopes(queue_url: &str) -> Vec<serde_json::Value> {
    let text = aws_cli(
        &endpoint(),
        &[
            "sqs",
            "receive-message",
            "--queue-url",
            queue_url,
            "--max-number-of-messages",
            "10",
            "--wait-time-seconds",
            "1",
        ],
    );
    if text.trim().is_empty() {
        return Vec::new();
    }
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    answer["Messages"]
        .as_array()
        .map(|messages| {
            messages
                .iter()
                .map(|message| serde_json::from_str(message["Body"].as_str().unwrap()).unwrap())
                .collect()
        })
        .unwrap_or_default()
}

fn audit_events(gate: &Envgate, event: &str) -> Vec<serde_json::Value> {
    gate.audit_events()
        .into_iter()
        .filter(|line| line["event"] == event)
        .collect()
}

#[test]
fn a_guard_refusal_publishes_one_sns_message_and_keeps_77() {
    let (topic, queue) = topic_with_queue();
    let env = unique("guard");
    let run = gate(&schema(&env), &endpoint())
        .env("ENVIRONMENT", &env)
        .env(
            "DATABASE_PASSWORD",
            "aws-sm://production/database/primary#password",
        )
        .args(["--alert", &format!("sns:{topic}"), "--", "echo", "launched"])
        .run();
    assert_eq!(run.code, 77, "{}", run.transcript());
    assert_eq!(run.stdout, "");
    let messages = envelopes(&queue);
    assert_eq!(messages.len(), 1, "{messages:#?}");
    let envelope = &messages[0];
    let subject = envelope["Subject"].as_str().unwrap();
    assert!(
        subject.starts_with(&format!("envgate: secret.access_denied in {env} on ")),
        "{subject}"
    );
    assert!(subject.len() <= 100);
    let line: serde_json::Value =
        serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(line["event"], "secret.access_denied");
    assert_eq!(line["secret_id"], "production/database/primary");
    assert_eq!(
        envelope["MessageAttributes"]["event"]["Value"],
        "secret.access_denied"
    );
    assert_eq!(
        envelope["MessageAttributes"]["severity"]["Value"],
        "critical"
    );
}

#[test]
fn a_missing_secret_reaches_the_webhook_and_critical_filters_it() {
    let receiver = Receiver::start(Answer::Ok);
    let env = unique("missing");
    let gate = gate(&schema(&env), &endpoint())
        .env("ENVIRONMENT", &env)
        .env("DATABASE_PASSWORD", "CANARYlocalvalue99")
        .args([
            "--audit-log",
            "audit.log",
            "--alert",
            &receiver.url,
            "--",
            "true",
        ]);
    let run = gate.run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert_eq!(bodies[0]["event"]["event"], "secret.read_failed");
    let text = bodies[0]["text"].as_str().unwrap();
    assert!(
        text.contains("secret.read_failed") && text.contains("DATABASE_PASSWORD"),
        "{text}"
    );
    assert!(!bodies[0].to_string().contains("CANARY"), "{}", bodies[0]);
    assert!(!run.stderr.contains("HOOKTOKEN"), "{}", run.stderr);

    let quiet = Receiver::start(Answer::Ok);
    let run = crate::moto::gate(&schema(&env), &endpoint())
        .env("ENVIRONMENT", &env)
        .env("ENVGATE_ALERT_SEVERITY", "critical")
        .args(["--alert", &quiet.url, "--", "true"])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(quiet.bodies().is_empty(), "{:?}", quiet.bodies());
}

#[test]
fn a_hanging_webhook_costs_at_most_two_seconds_and_is_an_alert_failed_line() {
    let receiver = Receiver::start(Answer::Hang);
    let env = unique("hang");
    let gate = gate(&schema(&env), &endpoint())
        .env("ENVIRONMENT", &env)
        .args([
            "--audit-log",
            "audit.log",
            "--alert",
            &receiver.url,
            "--",
            "true",
        ]);
    let started = Instant::now();
    let run = gate.run();
    let took = started.elapsed();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(took < Duration::from_secs(5), "{took:?}");
    let failed = audit_events(&gate, "alert.failed");
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["target"], "http://127.0.0.1");
    let trail = std::fs::read_to_string(gate.dir().join("audit.log")).unwrap();
    assert!(!trail.contains("HOOKTOKEN"), "{trail}");
}

#[test]
fn a_failing_webhook_or_a_missing_topic_keeps_the_exit_code() {
    let receiver = Receiver::start(Answer::Status500);
    let env = unique("fail");
    let gate = gate(&schema(&env), &endpoint())
        .env("ENVIRONMENT", &env)
        .args([
            "--audit-log",
            "audit.log",
            "--alert",
            &receiver.url,
            "--alert",
            "sns:arn:aws:sns:us-east-1:123456789012:no-such-topic",
            "--",
            "true",
        ]);
    let run = gate.run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    let failed = audit_events(&gate, "alert.failed");
    let targets: Vec<&str> = failed
        .iter()
        .filter_map(|line| line["target"].as_str())
        .collect();
    assert!(targets.contains(&"http://127.0.0.1"), "{failed:#?}");
    assert!(
        targets.contains(&"arn:aws:sns:us-east-1:123456789012:no-such-topic"),
        "{failed:#?}"
    );
    assert!(
        failed.iter().any(|line| line["error_code"]
            .as_str()
            .is_some_and(|code| code.contains("500"))),
        "{failed:#?}"
    );
}

#[test]
fn alert_targets_are_checked_before_anything_runs() {
    let run = Envgate::with_schema("[vars.A]\ndefault = \"a\"\n")
        .args([
            "--alert",
            "http://hooks.example.com/T0/TOKENinPATH",
            "--",
            "true",
        ])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("http://hooks.example.com"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("TOKENinPATH"), "{}", run.stderr);
    let run = Envgate::with_schema("[vars.A]\ndefault = \"a\"\n")
        .env("ENVGATE_ALERT_SEVERITY", "loud")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(
        run.transcript().contains("ENVGATE_ALERT_SEVERITY"),
        "{}",
        run.transcript()
    );
}

/// A person at a terminal in development reads the report, not JSON lines;
/// `--audit-log -` brings them back. Not on a terminal: stderr, as before.
#[test]
fn the_audit_trail_stays_off_a_developer_terminal_unless_asked() {
    let schema = "[vars.A]\ndefault = \"a\"\n";
    // The harness points the trail at a file; empty, the setting is unset.
    let gate = || Envgate::with_schema(schema).env("ENVGATE_AUDIT_LOG", "");
    let (ok, screen) = gate().args(["--", "echo", "launched"]).run_on_terminal();
    assert!(ok, "{screen}");
    assert!(screen.contains("launched"), "{screen}");
    assert!(!screen.contains("process.exec"), "{screen}");
    let (ok, screen) = gate()
        .args(["--audit-log", "-", "--", "echo", "launched"])
        .run_on_terminal();
    assert!(ok, "{screen}");
    assert!(screen.contains("\"process.exec\""), "{screen}");
    let (ok, screen) = gate()
        .env("ENVIRONMENT", "production")
        .args(["--", "echo", "launched"])
        .run_on_terminal();
    assert!(ok, "{screen}");
    assert!(
        screen.contains("\"process.exec\""),
        "production keeps its trail: {screen}"
    );
    let run = gate().args(["--", "echo", "launched"]).run();
    assert!(
        run.stderr.contains("\"process.exec\""),
        "not a terminal: {}",
        run.stderr
    );
}

/// A `--watch` refresh that fails (here: the new value is too weak) is alerted
/// while the program keeps running.
#[test]
fn a_failed_watch_refresh_is_alerted() {
    use crate::supervise::{finish, spawn, wait_until};
    let receiver = Receiver::start(Answer::Ok);
    let gate = Envgate::with_schema("[vars.API_TOKEN]\nsensitive = true\nmin_length = 16\n");
    let token = gate.file("token", "canary-token-one-7Qx9\n");
    let gate = gate
        .env("API_TOKEN_FILE", &token)
        .env("SECRETS_CACHE_TTL", "1")
        .args(["--watch", "--alert", &receiver.url, "--", "sleep", "30"]);
    let child = spawn(&gate);
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&token, "short\n").unwrap();
    wait_until(
        "the refresh failure's alert",
        Duration::from_secs(10),
        || {
            receiver
                .bodies()
                .iter()
                .any(|body| body["event"]["event"] == "secret.refresh")
        },
    );
    let refresh = receiver
        .bodies()
        .into_iter()
        .find(|body| body["event"]["event"] == "secret.refresh")
        .unwrap();
    assert_eq!(refresh["event"]["outcome"], "failure");
    assert!(!refresh.to_string().contains("canary-token"), "{refresh}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let run = finish(child);
    assert_eq!(run.code, 143, "{}", run.transcript());
}

/// The metric filter docs/SECURITY.md gives, `{ $.FIELD = "VALUE" }`, run as
/// CloudWatch Logs runs it over real audit output: it matches the critical lines
/// (a guard refusal) and nothing else (a read, a validation result, an exec).
#[test]
fn the_documented_metric_filter_matches_exactly_the_critical_lines() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/SECURITY.md"),
    )
    .unwrap();
    let pattern = doc
        .split("--filter-pattern '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("docs/SECURITY.md gives a --filter-pattern");
    let (field, value) = pattern
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .trim()
        .strip_prefix("$.")
        .and_then(|rest| rest.split_once(" = "))
        .expect("a pattern of the form { $.FIELD = \"VALUE\" }");
    let value = value.trim().trim_matches('"');
    let matches = |line: &serde_json::Value| line[field].as_str() == Some(value);

    let env = unique("filter");
    let gate = gate(&schema(&env), &endpoint())
        .env("ENVIRONMENT", &env)
        .env(
            "DATABASE_PASSWORD",
            "aws-sm://production/database/primary#password",
        )
        .args(["--audit-log", "audit.log", "--", "true"]);
    assert_eq!(gate.run().code, 77);
    let refused = gate.audit_events();
    let ok = Envgate::with_schema("[vars.A]\ndefault = \"a\"\n").args(["--", "true"]);
    assert_eq!(ok.run().code, 0);
    let quiet = ok.audit_events();
    assert!(
        refused
            .iter()
            .any(|line| line["event"] == "secret.access_denied")
    );
    for line in refused.iter().chain(&quiet) {
        assert_eq!(matches(line), line["severity"] == "critical", "{line}");
    }
    assert_eq!(refused.iter().filter(|line| matches(line)).count(), 1);
}
