//! Rotation hardening (issue 10, the items taken so far): the cross-environment
//! guard, typed kinds and strategies, whole-segment names, inputs that cannot be
//! honoured, and the test seam kept out of release builds.

use crate::harness::Envgate;
use crate::moto::{client, create_secret, endpoint, gate, unique};
use crate::proxy::{Behaviour, Proxy};

/// Writes a rotation lease tag, as another run would have.
fn set_lease(sm: &aws_sdk_secretsmanager::Client, secret: &str, value: &str) {
    crate::moto::block_on(async {
        sm.tag_resource()
            .secret_id(secret)
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key("envgate-rotation-lease")
                    .value(value)
                    .build(),
            )
            .send()
            .await
            .unwrap();
    });
}

#[test]
fn rotation_applies_the_cross_environment_guard_before_any_request() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let production = unique("prodrot");
    let staging = unique("stagingrot");
    let arn = create_secret(
        &sm,
        &format!("{production}/api-keys/resend"),
        r#"{"api_key":"re_production_key_0123456789"}"#,
    );
    create_secret(
        &sm,
        &format!("{staging}/db/admin"),
        r#"{"user":"a","password":"b"}"#,
    );
    // From staging: a production secret named by ARN, and an admin secret
    // outside staging.
    let schema = format!(
        r#"[envgate]
environments = ["{staging}"]
[vars.RESEND_API_KEY]
secret = "{arn}#api_key"
rotate = {{ kind = "api-key", every = "365d" }}
[vars.DATABASE_PASSWORD]
secret = "db/primary#password"
rotate = {{ kind = "postgres", admin_secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:{production}/db/admin-AbCdEf" }}
"#
    );
    let proxy = Proxy::start(&upstream, Behaviour::Forward);
    let gate = gate(&schema, &proxy.url)
        .env("ENVIRONMENT", &staging)
        .args(["rotate", "--all"]);
    let run = gate.run();
    assert_eq!(run.code, 77, "{}", run.transcript());
    assert!(
        run.stderr
            .contains(&format!("{production}/api-keys/resend")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("{production}/db/admin")),
        "{}",
        run.stderr
    );
    assert_eq!(proxy.total(), 0, "no request may be sent");
    let denied: Vec<_> = gate
        .audit_events()
        .into_iter()
        .filter(|event| event["event"] == "secret.access_denied")
        .collect();
    assert_eq!(denied.len(), 2, "{denied:#?}");
    assert!(denied.iter().all(|event| event["alert"] == "critical"));
    // The production value is untouched.
    let value = crate::moto::stage_json(
        &upstream,
        &format!("{production}/api-keys/resend"),
        "AWSCURRENT",
    );
    assert_eq!(value["api_key"], "re_production_key_0123456789");
}

#[test]
fn kinds_and_strategies_are_checked_at_load() {
    let run = Envgate::with_schema(
        "[vars.P]\nsecret = \"db/p#password\"\nrotate = { kind = \"postgres\", strategy = \"alternating-user\" }\n",
    )
    .args(["--check"])
    .run();
    assert_eq!(run.code, 65, "{}", run.transcript());
    assert!(
        run.stdout.contains("alternating-users"),
        "{}",
        run.transcript()
    );
    let run = Envgate::with_schema(
        "[vars.P]\nsecret = \"db/p#password\"\nrotate = { kind = \"postgress\" }\n",
    )
    .args(["--check"])
    .run();
    assert_eq!(run.code, 65, "{}", run.transcript());
    assert!(
        run.stdout.contains("Did you mean `postgres`"),
        "{}",
        run.transcript()
    );
    // A strategy belongs to postgres only.
    let run = Envgate::with_schema(
        "[vars.K]\nsecret = \"k#api_key\"\nrotate = { kind = \"api-key\", strategy = \"single-user\" }\n",
    )
    .args(["--check"])
    .run();
    assert_eq!(run.code, 65, "{}", run.transcript());
}

#[test]
fn names_match_whole_path_segments() {
    let env = "staging";
    let schema = format!(
        r#"[envgate]
environments = ["{env}"]
[vars.A]
secret = "db/replica-primary#password"
rotate = {{ kind = "postgres" }}
[vars.B]
secret = "db/primary#password"
rotate = {{ kind = "postgres" }}
"#
    );
    let run = Envgate::with_schema(&schema)
        .env("ENVIRONMENT", env)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .args([
            "rotate",
            "--type",
            "database",
            "--name",
            "primary",
            "--dry-run",
            "--timeout",
            "2",
        ])
        .run();
    assert!(
        !run.all_output().contains("replica-primary"),
        "--name primary selected replica-primary:\n{}",
        run.transcript()
    );
}

#[test]
fn a_pending_version_is_not_silently_finished_instead_of_the_input() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("pendingin");
    let secret = format!("{env}/api-keys/resend");
    create_secret(&sm, &secret, r#"{"api_key":"re_original_key_0123456789"}"#);
    let schema = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.RESEND_API_KEY]\nsecret = \"api-keys/resend#api_key\"\nrotate = {{ kind = \"api-key\", prefix = \"re_\", length = 32 }}\n"
    );
    let rotate = || gate(&schema, &upstream).env("ENVIRONMENT", &env);
    // A run killed after create leaves an AWSPENDING version behind.
    let killed = rotate()
        .env("ENVGATE_ROTATION_FAIL_AFTER", "create")
        .args(["rotate", "--type", "api-key", "--name", "resend"])
        .run();
    assert_eq!(killed.code, 70, "{}", killed.transcript());
    let gate = rotate().args([
        "rotate",
        "--type",
        "api-key",
        "--name",
        "resend",
        "--value-from-stdin",
    ]);
    let run = gate.run_with_stdin(b"re_issued_by_resend_0123456789\n");
    assert_eq!(run.code, 70, "{}", run.transcript());
    assert!(
        run.all_output().contains("AWSPENDING"),
        "{}",
        run.transcript()
    );
    assert!(
        run.all_output()
            .contains("--value-from-stdin cannot be honoured"),
        "{}",
        run.transcript()
    );
    let current = crate::moto::stage_json(&upstream, &secret, "AWSCURRENT");
    assert_eq!(current["api_key"], "re_original_key_0123456789");
    let run = rotate()
        .args([
            "rotate",
            "--type",
            "api-key",
            "--name",
            "resend",
            "--rollback",
        ])
        .run();
    assert_eq!(run.code, 70, "{}", run.transcript());
    assert!(
        run.all_output().contains("--rollback cannot be honoured"),
        "{}",
        run.transcript()
    );
}

#[test]
fn rotation_reports_aws_failures_as_the_launch_path_does() {
    let schema = "[vars.K]\nsecret = \"api-keys/k#api_key\"\nrotate = { kind = \"api-key\", every = \"90d\" }\n";
    // No region.
    let run = Envgate::with_schema(schema)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["rotate", "--all", "--dry-run", "--timeout", "5"])
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(
        run.stderr.contains("no AWS region is configured"),
        "{}",
        run.transcript()
    );
    assert!(
        !run.stdout.contains("never rotated"),
        "{}",
        run.transcript()
    );
    // No credentials, and no network: never "never rotated, due".
    let without_credentials = || {
        Envgate::with_schema(schema)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/nonexistent")
            .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    };
    let run = without_credentials()
        .args(["rotate", "--all", "--dry-run", "--timeout", "5"])
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(
        run.stderr.contains("no AWS credentials found"),
        "{}",
        run.transcript()
    );
    assert!(
        !run.stdout.contains("never rotated"),
        "{}",
        run.transcript()
    );
    let run = without_credentials()
        .args([
            "rotate",
            "--type",
            "api-key",
            "--name",
            "k",
            "--timeout",
            "5",
        ])
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    assert!(
        run.stderr.contains("no AWS credentials found"),
        "{}",
        run.transcript()
    );
}

#[test]
fn dry_run_columns_are_aligned() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("aligned");
    create_secret(
        &sm,
        &format!("{env}/api-keys/a-long-secret-name"),
        r#"{"api_key":"x"}"#,
    );
    create_secret(
        &sm,
        &format!("{env}/db/p"),
        r#"{"password":"x","user":"u"}"#,
    );
    let schema = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.K]\nsecret = \"api-keys/a-long-secret-name#api_key\"\nrotate = {{ kind = \"api-key\", every = \"90d\" }}\n[vars.P]\nsecret = \"db/p#password\"\nrotate = {{ kind = \"postgres\", every = \"30d\" }}\n"
    );
    let run = gate(&schema, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["rotate", "--all", "--dry-run"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    let column = |line: &str, word: &str| line.find(&format!(" {word} ")).unwrap() + 1;
    let kind_at = column(lines[0], "KIND");
    assert_eq!(column(lines[1], "api-key"), kind_at, "{}", run.stdout);
    assert_eq!(column(lines[2], "postgres"), kind_at, "{}", run.stdout);
}

#[test]
fn a_deadline_mid_step_releases_the_lease_and_says_where_it_stopped() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("deadline");
    let secret = format!("{env}/api-keys/resend");
    create_secret(&sm, &secret, r#"{"api_key":"re_original_key_0123456789"}"#);
    let schema = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.RESEND_API_KEY]\nsecret = \"api-keys/resend#api_key\"\nrotate = {{ kind = \"api-key\", prefix = \"re_\", length = 32 }}\n"
    );
    // PutSecretValue (the create step) never answers.
    let proxy = Proxy::start(&upstream, Behaviour::HangOn("PutSecretValue"));
    let gate = gate(&schema, &proxy.url).env("ENVIRONMENT", &env).args([
        "rotate",
        "--type",
        "api-key",
        "--name",
        "resend",
        "--timeout",
        "3",
    ]);
    let started = std::time::Instant::now();
    let run = gate.run();
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert_eq!(run.code, 70, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("failed at step create: no answer within 3s"),
        "{}",
        run.transcript()
    );
    let failed: Vec<_> = gate
        .audit_events()
        .into_iter()
        .filter(|event| event["event"] == "rotation.failed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["error_code"], "create");
    // The lease was given back: the next run rotates at once.
    let run = crate::moto::gate(&schema, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["rotate", "--type", "api-key", "--name", "resend"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_ne!(
        crate::moto::stage_json(&upstream, &secret, "AWSCURRENT")["api_key"],
        "re_original_key_0123456789"
    );
}

#[test]
fn a_lease_of_the_same_host_and_pid_but_another_run_is_not_taken_over() {
    // Two containers with the same hostname, both envgate as PID 1: the other
    // run's lease (another token, another PID namespace) is honoured.
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("samehost");
    let secret = format!("{env}/api-keys/resend");
    create_secret(&sm, &secret, r#"{"api_key":"re_original_key_0123456789"}"#);
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let lease = format!("feedface:{host}:{}:4026531999:1:{expiry}", boot.trim());
    set_lease(&sm, &secret, &lease);
    let schema = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.RESEND_API_KEY]\nsecret = \"api-keys/resend#api_key\"\nrotate = {{ kind = \"api-key\" }}\n"
    );
    let run = gate(&schema, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["rotate", "--type", "api-key", "--name", "resend"])
        .run();
    assert_eq!(run.code, 70, "{}", run.transcript());
    assert!(
        run.stderr.contains("another rotation"),
        "{}",
        run.transcript()
    );
    assert_eq!(
        crate::moto::stage_json(&upstream, &secret, "AWSCURRENT")["api_key"],
        "re_original_key_0123456789"
    );
}

#[test]
fn due_rotates_only_what_is_older_than_every() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("due");
    let now = envgate::clock::timestamp(std::time::SystemTime::now());
    create_secret(
        &sm,
        &format!("{env}/api-keys/old"),
        r#"{"api_key":"re_old_key_0123456789012345","rotated_at":"2020-01-01T00:00:00Z"}"#,
    );
    create_secret(
        &sm,
        &format!("{env}/api-keys/fresh"),
        &format!(r#"{{"api_key":"re_fresh_key_012345678901234","rotated_at":"{now}"}}"#),
    );
    let schema = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.OLD]\nsecret = \"api-keys/old#api_key\"\nrotate = {{ kind = \"api-key\", every = \"30d\", prefix = \"re_\" }}\n[vars.FRESH]\nsecret = \"api-keys/fresh#api_key\"\nrotate = {{ kind = \"api-key\", every = \"30d\", prefix = \"re_\" }}\n"
    );
    let run = gate(&schema, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["rotate", "--due"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains(&format!("not due: {env}/api-keys/fresh")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("rotated {env}/api-keys/old")),
        "{}",
        run.stdout
    );
    let old = crate::moto::stage_json(&upstream, &format!("{env}/api-keys/old"), "AWSCURRENT");
    assert_ne!(old["api_key"], "re_old_key_0123456789012345");
    let fresh = crate::moto::stage_json(&upstream, &format!("{env}/api-keys/fresh"), "AWSCURRENT");
    assert_eq!(fresh["api_key"], "re_fresh_key_012345678901234");
}

#[test]
fn rotate_and_dry_run_speak_json() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("rotjson");
    create_secret(
        &sm,
        &format!("{env}/api-keys/k"),
        r#"{"api_key":"re_key_0123456789012345678"}"#,
    );
    let schema = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.K]\nsecret = \"api-keys/k#api_key\"\nrotate = {{ kind = \"api-key\", every = \"30d\", prefix = \"re_\" }}\n"
    );
    let dry = gate(&schema, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["rotate", "--all", "--dry-run", "--format", "json"])
        .run();
    assert_eq!(dry.code, 0, "{}", dry.transcript());
    let json: serde_json::Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(json["dry_run"], true);
    assert_eq!(json["secrets"][0]["secret"], format!("{env}/api-keys/k"));
    assert_eq!(json["secrets"][0]["outcome"], "listed");
    assert_eq!(json["secrets"][0]["due"], "yes (never rotated)");
    let run = gate(&schema, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["rotate", "--all", "--format", "json"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["ok"], true);
    assert_eq!(json["secrets"][0]["outcome"], "rotated");
    assert_eq!(json["secrets"][0]["step"], "finish");
    assert!(json["secrets"][0]["version"].is_string());
    // A run stopped before any secret is JSON too.
    let run = Envgate::with_schema(&schema)
        .env("ENVIRONMENT", &env)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(["rotate", "--all", "--format", "json", "--timeout", "5"])
        .run();
    assert_eq!(run.code, 69, "{}", run.transcript());
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["ok"], false);
    assert_eq!(json["exit"], 69);
}

#[test]
fn progress_is_shown_per_secret_on_a_terminal_only() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("progress");
    create_secret(
        &sm,
        &format!("{env}/api-keys/k"),
        r#"{"api_key":"re_key_0123456789012345678"}"#,
    );
    let schema = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.K]\nsecret = \"api-keys/k#api_key\"\nrotate = {{ kind = \"api-key\", prefix = \"re_\" }}\n"
    );
    let gate = gate(&schema, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["rotate", "--all"]);
    // Not a terminal: no progress lines.
    let plain = gate.run();
    assert_eq!(plain.code, 0, "{}", plain.transcript());
    assert!(
        !plain.all_output().contains("rotating "),
        "{}",
        plain.transcript()
    );
    // A terminal (script(1) gives the run a pseudo-terminal).
    let (ok, text) = gate.run_on_terminal();
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("rotating {env}/api-keys/k (api-key)")),
        "{text}"
    );
}

#[test]
fn as_pid_1_another_containers_pid_1_lease_is_not_taken_for_our_own() {
    // Another container with the same hostname, envgate as its PID 1, holds the
    // lease (`host:1:expiry`, as envgate wrote them before tokens). This run is
    // PID 1 too (a PID namespace of its own): it must not take that lease for its own.
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("pid1lease");
    let secret = format!("{env}/api-keys/resend");
    create_secret(&sm, &secret, r#"{"api_key":"re_original_key_0123456789"}"#);
    let host = nix::unistd::gethostname().unwrap().into_string().unwrap();
    let expiry = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    set_lease(&sm, &secret, &format!("{host}:1:{expiry}"));
    let schema = format!(
        "[envgate]\nenvironments = [\"{env}\"]\n[vars.RESEND_API_KEY]\nsecret = \"api-keys/resend#api_key\"\nrotate = {{ kind = \"api-key\" }}\n"
    );
    let gate = gate(&schema, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["rotate", "--type", "api-key", "--name", "resend"]);
    let output = gate
        .wrapper("unshare")
        .args(["--pid", "--fork", "--kill-child"])
        .args(gate.argv())
        .output()
        .expect("unshare (util-linux) and root are needed for this test");
    let run = crate::harness::from_output(output);
    assert_eq!(run.code, 70, "{}", run.transcript());
    assert!(
        run.stderr.contains("another rotation"),
        "{}",
        run.transcript()
    );
    assert_eq!(
        crate::moto::stage_json(&upstream, &secret, "AWSCURRENT")["api_key"],
        "re_original_key_0123456789"
    );
}
