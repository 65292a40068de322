//! Canary: a sensitive value never appears in any output of any mode.

use crate::harness::{DEV_VALUES, Envgate, PRODUCTION_VALUES};

const CANARY: &str = "CANARYzq81vX";

/// A schema with a sensitive variable of every type and rule.
const SENSITIVE_SCHEMA: &str = r#"
[vars.S_STRING]
sensitive = true
min_length = 40
max_length = 45
one_of = ["a", "b"]
pattern = "[0-9]+"
min_unique_chars = 30
min_entropy_bits = 200
[vars.S_INT]
sensitive = true
type = "int"
[vars.S_BOOL]
sensitive = true
type = "bool"
[vars.S_PORT]
sensitive = true
type = "port"
[vars.S_URL]
sensitive = true
type = "url"
[vars.S_EMAIL]
sensitive = true
type = "email"
[vars.S_HOST]
sensitive = true
type = "host"
[vars.S_DURATION]
sensitive = true
type = "duration"
[vars.S_LIST]
sensitive = true
type = "list"
pattern = "[0-9]+"
one_of = ["1"]
[vars.S_JSON]
sensitive = true
type = "json"
"#;

fn assert_no_canary(output: &str, context: &str) {
    assert!(
        !output.contains(CANARY),
        "{context}: canary leaked:\n{output}"
    );
    assert!(
        !output.contains("zq81vX"),
        "{context}: canary fragment leaked:\n{output}"
    );
}

fn sensitive_gate() -> Envgate {
    let mut gate = Envgate::with_schema(SENSITIVE_SCHEMA);
    for name in [
        "S_STRING",
        "S_INT",
        "S_BOOL",
        "S_PORT",
        "S_URL",
        "S_EMAIL",
        "S_HOST",
        "S_DURATION",
        "S_JSON",
    ] {
        gate = gate.env(name, format!("{CANARY} {CANARY},"));
    }
    gate.env("S_LIST", format!("{CANARY},,{CANARY}"))
}

#[test]
fn every_type_and_rule_failing_in_every_format() {
    for format in ["human", "json", "github"] {
        let run = sensitive_gate()
            .args(["--check", "--explain", "--format", format])
            .run();
        assert_eq!(run.code, 78, "{}", run.transcript());
        assert!(
            run.stdout.matches("envgate::").count() >= 10,
            "{}",
            run.stdout
        );
        assert_no_canary(&run.all_output(), format);
    }
}

#[test]
fn failed_launch_and_skipped_validation() {
    let run = sensitive_gate().args(["--explain", "--", "true"]).run();
    assert_eq!(run.code, 78);
    assert_no_canary(&run.all_output(), "launch");
    let run = sensitive_gate()
        .env("SKIP_CONFIG_VALIDATION", "yes")
        .args(["--explain", "--", "true"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stderr.contains("envgate::validation_skipped"));
    assert_no_canary(&run.all_output(), "skip");
}

#[test]
fn example_schema_secrets_in_every_failure_path() {
    let canary_key = format!("example-{CANARY}");
    let cases: Vec<Vec<(&str, String)>> = vec![
        vec![("SECRET_KEY", canary_key.clone())],
        vec![(
            "SECRET_KEY",
            format!("django-insecure-{CANARY}{CANARY}{CANARY}{CANARY}{CANARY}"),
        )],
        vec![("DATABASE_PASSWORD", format!("password{CANARY}"))],
        vec![("CLERK_SECRET_KEY", format!("sk_test_{CANARY}{CANARY}"))],
        vec![("RESEND_API_KEY", CANARY.to_owned())],
    ];
    for case in cases {
        for format in ["human", "json", "github"] {
            let mut gate = Envgate::muejam().envs(PRODUCTION_VALUES);
            for (name, value) in &case {
                gate = gate.env(*name, value);
            }
            let run = gate
                .args(["--check", "--explain", "--format", format])
                .run();
            assert_eq!(run.code, 78, "{}", run.transcript());
            assert_no_canary(&run.all_output(), &format!("{case:?} {format}"));
        }
    }
}

#[test]
fn valid_values_are_not_echoed_either() {
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .env("DATABASE_PASSWORD", format!("{CANARY}-long-enough"))
        .args(["--check", "--explain", "--format", "json"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_no_canary(&run.all_output(), "valid");
}
