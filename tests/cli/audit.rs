//! The audit trail: one JSON line per secret access and decision, never a value.

use std::os::unix::fs::PermissionsExt;

use crate::harness::{DEV_VALUES, Envgate};
use crate::moto::{client, create_secret, endpoint, gate, unique};
use crate::proxy::{Behaviour, Proxy};

const CANARY: &str = "CANARYaudit77x";

fn schema(env: &str) -> String {
    format!(
        "[envgate]\nenvironments = [\"{env}\", \"production\"]\n\
         [vars.DATABASE_PASSWORD]\nsensitive = true\nsecret = \"db#password\"\n\
         [vars.DATABASE_HOST]\nsecret = \"db#host\"\n\
         [vars.API_KEY]\nsensitive = true\nsecret = \"api#key\"\n"
    )
}

fn events<'a>(all: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    all.iter().filter(|event| event["event"] == name).collect()
}

#[test]
fn a_launch_leaves_one_line_per_secret_read_and_no_value() {
    let upstream = endpoint();
    let sm = client(&upstream);
    let env = unique("audit");
    create_secret(
        &sm,
        &format!("{env}/db"),
        &format!(r#"{{"password":"{CANARY}-db","host":"db.internal"}}"#),
    );
    create_secret(
        &sm,
        &format!("{env}/api"),
        &format!(r#"{{"key":"{CANARY}-api"}}"#),
    );
    let gate = gate(&schema(&env), &upstream)
        .env("ENVIRONMENT", &env)
        .args(["--", "true"]);
    let run = gate.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let all = gate.audit_events();
    for event in &all {
        for field in [
            "ts",
            "event",
            "severity",
            "environment",
            "pid",
            "host",
            "version",
        ] {
            assert!(!event[field].is_null(), "{field} missing from {event}");
        }
        assert_eq!(event["environment"], env.as_str());
    }
    let reads = events(&all, "secret.read");
    assert_eq!(
        reads.len(),
        2,
        "one secret.read per secret fetched: {all:?}"
    );
    let db = reads
        .iter()
        .find(|e| e["secret_id"] == format!("{env}/db"))
        .unwrap();
    assert_eq!(
        db["vars"],
        serde_json::json!(["DATABASE_PASSWORD", "DATABASE_HOST"]),
        "schema order"
    );
    assert_eq!(db["stage"], "AWSCURRENT");
    assert!(db["version_id"].as_str().is_some());
    assert_eq!(events(&all, "config.valid").len(), 1);
    let exec = events(&all, "process.exec");
    assert_eq!(exec.len(), 1);
    assert_eq!(exec[0]["program"], "true");
    let log = std::fs::read_to_string(gate.dir().join("audit.log")).unwrap();
    assert!(!log.contains(CANARY), "a value reached the audit log");
    assert!(
        !log.contains("db.internal"),
        "a value reached the audit log"
    );
    let mode = std::fs::metadata(gate.dir().join("audit.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn denial_and_the_guard_raise_critical_alerts() {
    let upstream = endpoint();
    let env = unique("alert");
    let text = format!(
        "[envgate]\nenvironments = [\"{env}\", \"production\"]\n[vars.DATABASE_PASSWORD]\nsensitive = true\n"
    );
    let gate = gate(&text, &upstream)
        .env("ENVIRONMENT", &env)
        .env(
            "DATABASE_PASSWORD",
            "aws-sm://production/database/primary#password",
        )
        .args(["--check"]);
    assert_eq!(gate.run().code, 77);
    let all = gate.audit_events();
    let denied = events(&all, "secret.access_denied");
    assert_eq!(denied.len(), 1, "{all:?}");
    assert_eq!(denied[0]["alert"], "critical");
    assert_eq!(denied[0]["outcome"], "refused");
    assert_eq!(denied[0]["secret_id"], "production/database/primary");
    assert_eq!(denied[0]["error_code"], "envgate::cross_environment");
}

#[test]
fn failed_reads_and_invalid_configuration_name_codes_not_values() {
    let upstream = endpoint();
    let env = unique("failaudit");
    let gate = gate(&schema(&env), &upstream)
        .env("ENVIRONMENT", &env)
        .args(["--check"]);
    assert_eq!(gate.run().code, 78);
    let all = gate.audit_events();
    let failed = events(&all, "secret.read_failed");
    assert_eq!(failed.len(), 3, "{all:?}");
    assert!(
        failed
            .iter()
            .all(|event| event["error_code"] == "ResourceNotFoundException")
    );
    let invalid = events(&all, "config.invalid");
    assert_eq!(invalid.len(), 1);
    assert!(
        invalid[0]["codes"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("envgate::secret_not_found"))
    );

    let gate = Envgate::muejam()
        .envs(DEV_VALUES)
        .env("SECRET_KEY", CANARY)
        .args(["--check"]);
    assert_eq!(gate.run().code, 78);
    let log = std::fs::read_to_string(gate.dir().join("audit.log")).unwrap();
    assert!(log.contains("envgate::too_short"));
    assert!(!log.contains(CANARY));
}

#[test]
fn skipped_validation_is_recorded() {
    let gate = Envgate::muejam()
        .envs(DEV_VALUES)
        .env("SECRET_KEY", "short")
        .env("SKIP_CONFIG_VALIDATION", "true")
        .args(["--", "true"]);
    assert_eq!(gate.run().code, 0);
    let all = gate.audit_events();
    let skipped = events(&all, "config.validation_skipped");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["severity"], "warning");
}

#[test]
fn stderr_is_the_default_destination() {
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .args(["--audit-log", "-", "--", "true"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let lines: Vec<serde_json::Value> = run
        .stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(
        lines
            .iter()
            .map(|l| l["event"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["config.valid", "process.exec"]
    );
}

#[test]
fn an_audit_log_in_a_missing_directory_stops_before_any_secret_is_read() {
    let upstream = endpoint();
    let proxy = Proxy::start(&upstream, Behaviour::Forward);
    let env = unique("nolog");
    let run = gate(&schema(&env), &proxy.url)
        .env("ENVIRONMENT", &env)
        .args(["--audit-log", "/nonexistent-dir/audit.log", "--", "true"])
        .run();
    assert_eq!(run.code, 73, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("cannot open the audit log /nonexistent-dir/audit.log: no such file"),
        "{}",
        run.stderr
    );
    assert_eq!(
        proxy.total(),
        0,
        "no secret may be read without an audit trail"
    );
}

#[test]
fn a_full_disk_stops_the_launch() {
    let gate = Envgate::muejam().envs(DEV_VALUES);
    let marker = gate.dir().join("launched");
    let run = gate
        .args(["--audit-log", "/dev/full", "--", "touch"])
        .args([&marker])
        .run();
    assert_eq!(run.code, 73, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("cannot write the audit log (/dev/full)"),
        "{}",
        run.stderr
    );
    assert!(!marker.exists(), "launched without an audit line");
}

#[test]
fn turning_the_audit_off_in_production_needs_force() {
    let values: Vec<(&str, &str)> = crate::harness::PRODUCTION_VALUES.to_vec();
    let run = Envgate::muejam()
        .envs(&values)
        .args(["--audit-log", "off", "--check"])
        .run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(
        run.stderr.contains("cannot be turned off in production"),
        "{}",
        run.stderr
    );
    let run = Envgate::muejam()
        .envs(&values)
        .args(["--audit-log", "off", "--force", "--check"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .args(["--audit-log", "off", "--check"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
}

#[test]
fn audit_principal_adds_the_caller_identity() {
    let upstream = endpoint();
    let env = unique("principal");
    let text = format!("[envgate]\nenvironments = [\"{env}\"]\n[vars.A]\ndefault = \"x\"\n");
    let gate = gate(&text, &upstream)
        .env("ENVIRONMENT", &env)
        .args(["--audit-principal", "--check"]);
    assert_eq!(gate.run().code, 0);
    let all = gate.audit_events();
    assert!(!all.is_empty());
    assert!(
        all.iter()
            .all(|event| event["principal"] == "arn:aws:sts::123456789012:user/moto"),
        "{all:?}"
    );

    // Without the flag, no extra call and no principal.
    let proxy = Proxy::start(&upstream, Behaviour::Forward);
    let gate = crate::moto::gate(&text, &proxy.url)
        .env("ENVIRONMENT", &env)
        .args(["--check"]);
    assert_eq!(gate.run().code, 0);
    assert!(
        gate.audit_events()
            .iter()
            .all(|event| event["principal"].is_null())
    );
    assert_eq!(proxy.total(), 0);
}
