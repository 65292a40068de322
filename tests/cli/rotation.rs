//! `envgate rotate` against moto's server: the four steps, resumption after a run
//! killed at each step, leases, rollback, dry runs, and the launcher reading the
//! rotated values.

use crate::harness::{Envgate, GOOD_SECRET_KEY};
use crate::moto::{block_on, client, create_secret, endpoint, gate, unique};

fn schema(env: &str) -> String {
    format!(
        r#"[envgate]
environments = ["{env}"]
[vars.RESEND_API_KEY]
sensitive = true
secret = "api-keys/resend#api_key"
min_length = 20
rotate = {{ kind = "api-key", every = "365d", prefix = "re_", length = 32 }}
[vars.SECRET_KEY]
sensitive = true
secret = "django/secret-key#SECRET_KEY"
min_length = 50
min_unique_chars = 5
forbid = ["django-insecure", "change-this", "example"]
rotate = {{ kind = "django-secret-key", every = "365d", max_fallbacks = 2 }}
[vars.SECRET_KEY_FALLBACKS]
type = "list"
sensitive = true
required = false
secret = "django/secret-key#SECRET_KEY_FALLBACKS"
"#
    )
}

struct Fixture {
    endpoint: String,
    env: String,
    resend: String,
    django: String,
}

fn fixture() -> Fixture {
    let endpoint = endpoint();
    let sm = client(&endpoint);
    let env = unique("rot");
    let resend = format!("{env}/api-keys/resend");
    let django = format!("{env}/django/secret-key");
    create_secret(
        &sm,
        &resend,
        r#"{"api_key":"re_original_key_0123456789","account":"acct-1"}"#,
    );
    create_secret(
        &sm,
        &django,
        &format!(r#"{{"SECRET_KEY":"{GOOD_SECRET_KEY}"}}"#),
    );
    Fixture {
        endpoint,
        env,
        resend,
        django,
    }
}

impl Fixture {
    fn envgate(&self) -> Envgate {
        gate(&schema(&self.env), &self.endpoint).env("ENVIRONMENT", &self.env)
    }

    fn stage_value(&self, secret: &str, stage: &str) -> serde_json::Value {
        crate::moto::stage_json(&self.endpoint, secret, stage)
    }

    fn stages(&self, secret: &str) -> Vec<Vec<String>> {
        crate::moto::version_stages(&self.endpoint, secret)
    }
}

#[test]
fn api_key_rotation_keeps_the_previous_key_and_the_launcher_reads_the_new_one() {
    let fixture = fixture();
    let gate = fixture
        .envgate()
        .args(["rotate", "--type", "api-key", "--name", "resend"]);
    let run = gate.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let events: Vec<String> = gate
        .audit_events()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        events,
        [
            "rotation.started",
            "secret.written",
            "rotation.step",
            "rotation.step",
            "rotation.step",
            "rotation.step",
            "rotation.finished"
        ]
    );
    let current = fixture.stage_value(&fixture.resend, "AWSCURRENT");
    let previous = fixture.stage_value(&fixture.resend, "AWSPREVIOUS");
    let key = current["api_key"].as_str().unwrap();
    assert!(key.starts_with("re_") && key.len() == 35, "{key}");
    assert_eq!(current["previous_key"], "re_original_key_0123456789");
    assert_eq!(current["account"], "acct-1", "other fields kept");
    assert!(current["rotated_at"].as_str().is_some());
    assert_eq!(previous["api_key"], "re_original_key_0123456789");
    assert!(
        !fixture
            .stages(&fixture.resend)
            .iter()
            .flatten()
            .any(|stage| stage == "AWSPENDING")
    );
    assert!(!run.all_output().contains(key), "the new key was printed");
    let audit_log = std::fs::read_to_string(gate.dir().join("audit.log")).unwrap();
    assert!(
        !audit_log.contains(key) && !audit_log.contains("re_original"),
        "a key reached the audit log"
    );

    // The launcher reads the rotated key.
    let launch = fixture
        .envgate()
        .args(["--", "printenv", "RESEND_API_KEY"])
        .run();
    assert_eq!(launch.stdout.trim(), key, "{}", launch.transcript());

    // Rollback makes the previous key current again.
    let run = fixture
        .envgate()
        .args([
            "rotate",
            "--type",
            "api-key",
            "--name",
            "resend",
            "--rollback",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        fixture.stage_value(&fixture.resend, "AWSCURRENT")["api_key"],
        "re_original_key_0123456789"
    );
}

#[test]
fn django_rotation_keeps_fallbacks_that_the_launcher_exports() {
    let fixture = fixture();
    for _ in 0..3 {
        let run = fixture
            .envgate()
            .args([
                "rotate",
                "--type",
                "django-secret-key",
                "--name",
                "secret-key",
            ])
            .run();
        assert_eq!(run.code, 0, "{}", run.transcript());
    }
    let current = fixture.stage_value(&fixture.django, "AWSCURRENT");
    let key = current["SECRET_KEY"].as_str().unwrap();
    assert_eq!(key.chars().count(), 50);
    let fallbacks = current["SECRET_KEY_FALLBACKS"].as_array().unwrap();
    assert_eq!(fallbacks.len(), 2, "capped at max_fallbacks");
    let launch = fixture
        .envgate()
        .args([
            "--",
            "sh",
            "-c",
            "echo \"$SECRET_KEY|$SECRET_KEY_FALLBACKS\"",
        ])
        .run();
    assert_eq!(launch.code, 0, "{}", launch.transcript());
    let expected = format!(
        "{key}|{},{}",
        fallbacks[0].as_str().unwrap(),
        fallbacks[1].as_str().unwrap()
    );
    assert_eq!(launch.stdout.trim(), expected);
}

#[test]
fn a_run_killed_after_each_step_is_finished_by_the_next_run() {
    for step in ["create", "set", "test"] {
        let fixture = fixture();
        let killed = fixture
            .envgate()
            .env("ENVGATE_ROTATION_FAIL_AFTER", step)
            .args(["rotate", "--type", "api-key", "--name", "resend"])
            .run();
        assert_eq!(killed.code, 70, "{step}: {}", killed.transcript());
        let pending = fixture.stage_value(&fixture.resend, "AWSPENDING")["api_key"].clone();
        // AWSCURRENT still works while the rotation is unfinished.
        assert_eq!(
            fixture.stage_value(&fixture.resend, "AWSCURRENT")["api_key"],
            "re_original_key_0123456789"
        );
        let next = fixture
            .envgate()
            .args(["rotate", "--type", "api-key", "--name", "resend"])
            .run();
        assert_eq!(next.code, 0, "{step}: {}", next.transcript());
        assert!(
            next.stdout.contains("finished an interrupted rotation"),
            "{}",
            next.stdout
        );
        assert_eq!(
            fixture.stage_value(&fixture.resend, "AWSCURRENT")["api_key"],
            pending,
            "{step}: the pending version was finished, not replaced"
        );
        assert_eq!(
            fixture.stages(&fixture.resend).len(),
            2,
            "{step}: no extra version"
        );
    }
}

#[test]
fn a_live_lease_keeps_a_second_run_away() {
    let fixture = fixture();
    let sm = client(&fixture.endpoint);
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let lease = format!(
        "{host}:1:{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 600
    );
    block_on(async {
        sm.tag_resource()
            .secret_id(&fixture.resend)
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key("envgate-rotation-lease")
                    .value(lease)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
    // A scheduled `rotate` is where a failure most needs a page: --alert works here.
    let receiver = crate::alerts::Receiver::start(crate::alerts::Answer::Ok);
    let run = fixture
        .envgate()
        .args([
            "rotate",
            "--type",
            "api-key",
            "--name",
            "resend",
            "--alert",
            &receiver.url,
        ])
        .run();
    assert_eq!(run.code, 70, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("failed at step lease: another rotation"),
        "{}",
        run.stderr
    );
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    assert_eq!(bodies[0]["event"]["event"], "rotation.failed");
    assert_eq!(
        fixture.stages(&fixture.resend).len(),
        1,
        "nothing was written"
    );
}

#[test]
fn dry_run_lists_and_changes_nothing() {
    let fixture = fixture();
    let run = fixture
        .envgate()
        .args(["rotate", "--all", "--dry-run"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    // Columns are aligned; compare the words of each row.
    let rows: Vec<String> = run
        .stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        rows.contains(&format!(
            "{} api-key never 365d yes (never rotated)",
            fixture.resend
        )),
        "{}",
        run.stdout
    );
    assert!(
        rows.iter()
            .any(|row| row.starts_with(&format!("{} django-secret-key", fixture.django))),
        "{}",
        run.stdout
    );
    assert_eq!(fixture.stages(&fixture.resend).len(), 1);
    assert_eq!(fixture.stages(&fixture.django).len(), 1);
}

#[test]
fn value_from_stdin_and_unknown_names() {
    let fixture = fixture();
    let gate = fixture.envgate().args([
        "rotate",
        "--type",
        "api-key",
        "--name",
        "resend",
        "--value-from-stdin",
    ]);
    let run = gate.run_with_stdin(b"re_issued_by_resend_0123456789\n");
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        fixture.stage_value(&fixture.resend, "AWSCURRENT")["api_key"],
        "re_issued_by_resend_0123456789"
    );

    let run = fixture
        .envgate()
        .args(["rotate", "--type", "api-key", "--name", "stripe"])
        .run();
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--type api-key --name resend"),
        "{}",
        run.stderr
    );
}

#[test]
fn check_warns_about_overdue_rotation_and_strict_fails() {
    let endpoint = endpoint();
    let sm = client(&endpoint);
    let env = unique("overdue");
    create_secret(
        &sm,
        &format!("{env}/api-keys/resend"),
        r#"{"api_key":"re_original_key_0123456789","rotated_at":"2020-01-15T10:30:00Z"}"#,
    );
    create_secret(
        &sm,
        &format!("{env}/django/secret-key"),
        &format!(r#"{{"SECRET_KEY":"{GOOD_SECRET_KEY}"}}"#),
    );
    let fixture = Fixture {
        endpoint,
        env,
        resend: String::new(),
        django: String::new(),
    };
    let run = fixture.envgate().args(["--check"]).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("envgate::rotation_overdue"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("envgate rotate --type api-key --name resend"),
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout.matches("envgate::rotation_overdue").count(),
        1,
        "the fresh Django key is not overdue"
    );
    let run = fixture.envgate().args(["--check", "--strict"]).run();
    assert_eq!(run.code, 78, "{}", run.transcript());
}

#[test]
fn two_racing_rotations_do_not_both_rotate() {
    let fixture = fixture();
    let gate = fixture
        .envgate()
        .args(["rotate", "--type", "api-key", "--name", "resend"]);
    let children: Vec<_> = (0..2)
        .map(|_| {
            gate.command()
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let runs: Vec<_> = children
        .into_iter()
        .map(|child| crate::harness::from_output(child.wait_with_output().unwrap()))
        .collect();
    let succeeded = runs.iter().filter(|run| run.code == 0).count();
    assert!(
        succeeded >= 1,
        "{}\n{}",
        runs[0].transcript(),
        runs[1].transcript()
    );
    for run in runs.iter().filter(|run| run.code != 0) {
        assert_eq!(run.code, 70, "{}", run.transcript());
        assert!(
            run.stderr.contains("failed at step lease"),
            "{}",
            run.stderr
        );
    }
    // Whatever the interleaving: no pending version left, and the chain is intact.
    let stages = fixture.stages(&fixture.resend);
    assert!(
        !stages.iter().flatten().any(|stage| stage == "AWSPENDING"),
        "{stages:?}"
    );
    let current = fixture.stage_value(&fixture.resend, "AWSCURRENT");
    let previous = fixture.stage_value(&fixture.resend, "AWSPREVIOUS");
    assert_eq!(current["previous_key"], previous["api_key"]);
}

#[test]
fn a_run_killed_after_finish_leaves_a_complete_rotation_and_an_abandoned_lease() {
    let fixture = fixture();
    let killed = fixture
        .envgate()
        .env("ENVGATE_ROTATION_FAIL_AFTER", "finish")
        .args(["rotate", "--type", "api-key", "--name", "resend"])
        .run();
    assert_eq!(killed.code, 70, "{}", killed.transcript());
    let rotated = fixture.stage_value(&fixture.resend, "AWSCURRENT")["api_key"].clone();
    assert_ne!(
        rotated, "re_original_key_0123456789",
        "the rotation was complete"
    );
    assert!(
        !fixture
            .stages(&fixture.resend)
            .iter()
            .flatten()
            .any(|stage| stage == "AWSPENDING")
    );
    // The dead run's lease does not block the next one.
    let next = fixture
        .envgate()
        .args(["rotate", "--type", "api-key", "--name", "resend"])
        .run();
    assert_eq!(next.code, 0, "{}", next.transcript());
    assert_eq!(
        fixture.stage_value(&fixture.resend, "AWSCURRENT")["previous_key"],
        rotated
    );
}
