//! Generated tests of the gate's two invariants, on the real binary:
//!
//! 1. The program runs (it writes a marker) exactly when envgate exits 0, and then
//!    with the environment the report describes; `--check` agrees with the launch.
//! 2. A canary in any sensitive value never appears, whole or as any 8-character
//!    substring, in stdout, stderr, the audit file or the docs, in every format,
//!    with and without `--explain`.
//!
//! Random schemas cover every value type that can carry a canary, the rules,
//! sensitive or not, required or not, per-environment overrides; values come
//! from every local source (env, NAME_FILE, env file, alias, default) and
//! sometimes from none. A second test draws Secrets Manager values on moto:
//! present, without the key, absent; by schema `secret` or by reference.

use std::fmt::Write as _;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::harness::{Envgate, Run};

/// Where a variable's value comes from in one generated case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Env,
    NameFile,
    EnvFile,
    Alias,
    Nowhere,
}

#[derive(Debug, Clone)]
struct GenVar {
    kind: &'static str,
    sensitive: bool,
    required: bool,
    default: Option<String>,
    min_length: Option<usize>,
    pattern: Option<&'static str>,
    production_required: Option<bool>,
    via: Via,
    value: String,
}

#[derive(Debug, Clone)]
struct Case {
    vars: Vec<GenVar>,
    production: bool,
}

/// A value of `kind` that can carry a canary (≥ 12 characters, random).
fn value_for(kind: &'static str) -> BoxedStrategy<String> {
    match kind {
        "int" => "[1-9][0-9]{11}".boxed(),
        "url" => "[a-z]{4}[A-Z0-9]{8}"
            .prop_map(|s| format!("https://h.example/{s}"))
            .boxed(),
        "email" => "[a-z]{4}[a-z0-9]{8}"
            .prop_map(|s| format!("{s}@mail.example"))
            .boxed(),
        "list" => ("[A-Za-z0-9]{12}", "[A-Za-z0-9]{12}")
            .prop_map(|(a, b)| format!("{a},{b}"))
            .boxed(),
        _ => "[A-Za-z0-9_.:@-]{12,24}".boxed(),
    }
}

fn gen_var() -> impl Strategy<Value = GenVar> {
    prop::sample::select(vec!["string", "int", "url", "email", "list"]).prop_flat_map(|kind| {
        (
            Just(kind),
            any::<bool>(),
            any::<bool>(),
            prop::option::weighted(0.3, value_for(kind)),
            prop::option::weighted(0.3, 1usize..30),
            prop::option::weighted(
                0.2,
                prop::sample::select(vec!["[A-Za-z0-9_.:@/,-]+", "[0-9]+", "[a-z]+.*"]),
            ),
            prop::option::weighted(0.3, any::<bool>()),
            prop::sample::select(vec![
                Via::Env,
                Via::NameFile,
                Via::EnvFile,
                Via::Alias,
                Via::Nowhere,
            ]),
            value_for(kind),
        )
            .prop_map(
                |(
                    kind,
                    sensitive,
                    required,
                    default,
                    min_length,
                    pattern,
                    production_required,
                    via,
                    value,
                )| {
                    GenVar {
                        kind,
                        sensitive,
                        required,
                        default,
                        min_length,
                        pattern,
                        production_required,
                        via,
                        value,
                    }
                },
            )
    })
}

fn gen_case() -> impl Strategy<Value = Case> {
    (prop::collection::vec(gen_var(), 1..5), any::<bool>())
        .prop_map(|(vars, production)| Case { vars, production })
}

fn schema_text(case: &Case) -> String {
    let mut text = String::new();
    for (index, var) in case.vars.iter().enumerate() {
        let _ = writeln!(text, "[vars.V{index}]");
        let _ = writeln!(text, "type = \"{}\"", var.kind);
        let _ = writeln!(text, "sensitive = {}", var.sensitive);
        let _ = writeln!(text, "required = {}", var.required);
        let _ = writeln!(text, "aliases = [\"OLD_V{index}\"]");
        let _ = writeln!(text, "description = \"Generated variable {index}.\"");
        if let Some(default) = &var.default {
            let _ = writeln!(text, "default = '{default}'");
        }
        if let Some(min) = var.min_length {
            let _ = writeln!(text, "min_length = {min}");
            if var.kind == "int" {
                // Above every generated number: the range rule fails too.
                let _ = writeln!(text, "min = 100000000000000");
            }
        }
        if let Some(pattern) = var.pattern {
            let _ = writeln!(text, "pattern = '{pattern}'");
        }
        if let Some(required) = var.production_required {
            let _ = writeln!(text, "[vars.V{index}.environments.production]");
            let _ = writeln!(text, "required = {required}");
        }
    }
    text
}

/// The random part of a generated value (URLs and e-mails have fixed parts).
fn random_part(value: &str) -> &str {
    let value = value.strip_prefix("https://h.example/").unwrap_or(value);
    value.strip_suffix("@mail.example").unwrap_or(value)
}

/// The 8-character pieces of every sensitive value and default of a case, minus
/// any piece a public value of the same case also holds (shrinking makes values
/// alike).
fn canaries(case: &Case) -> Vec<String> {
    let public: Vec<&str> = case
        .vars
        .iter()
        .filter(|var| !var.sensitive)
        .flat_map(|var| std::iter::once(var.value.as_str()).chain(var.default.as_deref()))
        .collect();
    let mut pieces = Vec::new();
    for var in case.vars.iter().filter(|var| var.sensitive) {
        for value in std::iter::once(&var.value).chain(&var.default) {
            let chars: Vec<char> = random_part(value).chars().collect();
            for window in chars.windows(8) {
                let piece: String = window.iter().collect();
                if !public.iter().any(|text| text.contains(&piece)) {
                    pieces.push(piece);
                }
            }
        }
    }
    pieces
}

fn assert_no_canary(canaries: &[String], output: &str, context: &str) {
    for piece in canaries {
        assert!(
            !output.contains(piece),
            "{context}: `{piece}` of a sensitive value leaked:\n{output}"
        );
    }
}

/// The gate for a case: the schema, and every value put where `via` says.
fn gate_for(case: &Case) -> Envgate {
    let mut gate = Envgate::with_schema(&schema_text(case));
    let mut env_file = String::new();
    for (index, var) in case.vars.iter().enumerate() {
        let name = format!("V{index}");
        match var.via {
            Via::Env => gate = gate.env(&name, &var.value),
            Via::Alias => gate = gate.env(format!("OLD_{name}"), &var.value),
            Via::NameFile => {
                let path = gate.file(&format!("{name}.value"), format!("{}\n", var.value));
                gate = gate.env(format!("{name}_FILE"), path);
            }
            Via::EnvFile => {
                let _ = writeln!(env_file, "{name}='{}'", var.value);
            }
            Via::Nowhere => {}
        }
    }
    gate.file("case.env", env_file);
    let environment = if case.production {
        "production"
    } else {
        "development"
    };
    gate.env("ENVIRONMENT", environment)
}

fn env_file_args() -> [&'static str; 2] {
    ["--env-file", "case.env"]
}

/// The `NAME=value` lines the program wrote.
fn marker_env(path: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split('\0')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
}

/// Checks both invariants for one case; returns whether the program ran.
fn check_case(case: &Case) -> bool {
    let canaries = canaries(case);
    check_reports(case, &canaries);
    check_launch(case, &canaries)
}

/// Invariant 2 on `--check` (every format, with and without `--explain`) and docs.
fn check_reports(case: &Case, canaries: &[String]) {
    for format in ["human", "json", "github"] {
        for explain in [false, true] {
            let gate = gate_for(case)
                .args(env_file_args())
                .args(["--check", "--format", format]);
            let gate = if explain {
                gate.args(["--explain"])
            } else {
                gate
            };
            let run = gate.run();
            let audit = std::fs::read_to_string(gate.dir().join("audit.log")).unwrap_or_default();
            let context = format!("--check --format {format} explain={explain}");
            assert_no_canary(canaries, &run.all_output(), &context);
            assert_no_canary(canaries, &audit, &context);
        }
    }
    for docs in [
        ["docs", "--format", "markdown"],
        ["docs", "--format", "dotenv"],
    ] {
        let run = gate_for(case).args(docs).run();
        // A schema whose default breaks its own rules is refused (65).
        assert!(matches!(run.code, 0 | 65), "{}", run.transcript());
        assert_no_canary(canaries, &run.all_output(), "docs");
    }
}

/// Invariant 1 (and 2 on the launch): the program runs exactly when envgate
/// exits 0, with the environment the report describes.
fn check_launch(case: &Case, canaries: &[String]) -> bool {
    let check = gate_for(case)
        .args(env_file_args())
        .args(["--check", "--format", "json", "--explain"])
        .run();
    let gate = gate_for(case);
    let marker = gate.dir().join("marker");
    let gate = gate
        .args(env_file_args())
        .args(["--format", "json", "--explain", "--", "sh", "-c"])
        .args([format!("env -0 > '{}'", marker.display())]);
    let launch: Run = gate.run();
    let audit = std::fs::read_to_string(gate.dir().join("audit.log")).unwrap_or_default();
    assert_no_canary(canaries, &launch.all_output(), "launch");
    assert_no_canary(canaries, &audit, "launch audit");
    assert_eq!(
        launch.code == 0,
        marker.exists(),
        "exit {} but marker {}:\n{}",
        launch.code,
        marker.exists(),
        launch.transcript()
    );
    assert_eq!(
        check.code,
        launch.code,
        "check and launch disagree:\n{}\n{}",
        check.transcript(),
        launch.transcript()
    );
    if launch.code != 0 {
        return false;
    }
    // The environment the report describes.
    let report: serde_json::Value = serde_json::from_str(&launch.stderr)
        .unwrap_or_else(|error| panic!("{error}: {}", launch.stderr));
    let child = marker_env(&marker);
    let get = |name: &str| {
        child
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let environment = if case.production {
        "production"
    } else {
        "development"
    };
    assert_eq!(get("ENVIRONMENT"), Some(environment));
    for (index, row) in report["explain"].as_array().unwrap().iter().enumerate() {
        let name = format!("V{index}");
        assert_eq!(row["var"], name.as_str());
        let var = &case.vars[index];
        assert_eq!(
            get(&format!("OLD_{name}")),
            None,
            "aliases are not passed on"
        );
        assert_eq!(
            get(&format!("{name}_FILE")),
            None,
            "NAME_FILE is not passed on"
        );
        if row["source"] == "unset" {
            assert_eq!(get(&name), None, "{row}");
            continue;
        }
        let value = get(&name).unwrap_or_else(|| panic!("{name} missing: {row}"));
        if var.sensitive {
            let shown = format!("[sensitive, {} chars]", value.chars().count());
            assert_eq!(row["value"], shown.as_str());
        } else {
            assert_eq!(row["value"], value, "{row}");
        }
    }
    true
}

#[test]
fn the_gate_holds_for_generated_schemas_and_values() {
    let cases = std::env::var("ENVGATE_PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(128);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let launched = std::cell::Cell::new(0u32);
    let refused = std::cell::Cell::new(0u32);
    runner
        .run(&gen_case(), |case| {
            let counter = if check_case(&case) {
                &launched
            } else {
                &refused
            };
            counter.set(counter.get() + 1);
            Ok(())
        })
        .unwrap();
    // Both sides of invariant 1 were exercised, not only one.
    assert!(
        launched.get() * 10 >= cases && refused.get() * 10 >= cases,
        "launched {}, refused {} of {cases}",
        launched.get(),
        refused.get()
    );
}

/// How a generated variable meets Secrets Manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stored {
    /// The secret exists with the key.
    Present,
    /// The secret exists without the key.
    KeyMissing,
    /// No such secret.
    Absent,
}

#[derive(Debug, Clone)]
struct SecretVar {
    stored: Stored,
    /// Read through `aws-sm://…` in the environment instead of the schema's `secret`.
    by_reference: bool,
    required: bool,
    local: Option<String>,
    value: String,
}

fn gen_secret_var() -> impl Strategy<Value = SecretVar> {
    (
        prop::sample::select(vec![Stored::Present, Stored::KeyMissing, Stored::Absent]),
        any::<bool>(),
        any::<bool>(),
        prop::option::of("[A-Za-z0-9]{12,20}"),
        "[A-Za-z0-9]{16,24}",
    )
        .prop_map(|(stored, by_reference, required, local, value)| SecretVar {
            stored,
            by_reference,
            required,
            local,
            value,
        })
}

/// Secrets Manager values on moto: the program runs exactly when envgate exits 0,
/// with each value from the store (or, for an optional schema `secret` absent from
/// the store, the local value), never a reference's text; no secret leaks.
fn check_secrets_case(vars: &[SecretVar], upstream: &str) -> bool {
    let sm = crate::moto::client(upstream);
    let env = crate::moto::unique("gen");
    let mut schema = format!("[envgate]\nenvironments = [\"{env}\"]\n");
    for (index, var) in vars.iter().enumerate() {
        let path = format!("app/s{index}");
        match var.stored {
            Stored::Present => {
                crate::moto::create_secret(
                    &sm,
                    &format!("{env}/{path}"),
                    &format!(r#"{{"key":"{}"}}"#, var.value),
                );
            }
            Stored::KeyMissing => {
                crate::moto::create_secret(&sm, &format!("{env}/{path}"), r#"{"other":"x"}"#);
            }
            Stored::Absent => {}
        }
        let _ = writeln!(schema, "[vars.S{index}]\nrequired = {}", var.required);
        if var.by_reference {
            // A reference in the environment is secret whatever the schema says.
            let _ = writeln!(schema, "sensitive = true");
        } else {
            let _ = writeln!(schema, "secret = \"{path}#key\"");
        }
    }
    let mut gate = crate::moto::gate(&schema, upstream).env("ENVIRONMENT", &env);
    for (index, var) in vars.iter().enumerate() {
        let name = format!("S{index}");
        if var.by_reference {
            gate = gate.env(&name, format!("aws-sm://{env}/app/s{index}#key"));
        } else if let Some(local) = &var.local {
            gate = gate.env(&name, local);
        }
    }
    let marker = gate.dir().join("marker");
    let gate = gate
        .args(["--explain", "--", "sh", "-c"])
        .args([format!("env -0 > '{}'", marker.display())]);
    let run = gate.run();
    let audit = std::fs::read_to_string(gate.dir().join("audit.log")).unwrap_or_default();
    let secrets: Vec<String> = vars
        .iter()
        .flat_map(|var| {
            let chars: Vec<char> = var.value.chars().collect();
            chars
                .windows(8)
                .map(|window| window.iter().collect::<String>())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_no_canary(&secrets, &run.all_output(), "secrets launch");
    assert_no_canary(&secrets, &audit, "secrets audit");
    assert_eq!(run.code == 0, marker.exists(), "{}", run.transcript());
    let child = marker_env(&marker);
    for (index, var) in vars.iter().enumerate() {
        let got = child
            .iter()
            .find(|(name, _)| *name == format!("S{index}"))
            .map(|(_, value)| value.as_str());
        assert!(
            got.is_none_or(|value| !value.starts_with("aws-sm://")),
            "a reference's text reached the program: {}",
            run.transcript()
        );
        if run.code != 0 {
            continue;
        }
        let expected = match (var.stored, var.by_reference) {
            (Stored::Present, _) => Some(var.value.as_str()),
            // Only an optional schema `secret` falls back to the local value.
            (_, false) if !var.required => var.local.as_deref(),
            _ => panic!("exit 0 without S{index}'s secret: {}", run.transcript()),
        };
        assert_eq!(got, expected, "S{index}: {}", run.transcript());
    }
    run.code == 0
}

#[test]
fn the_gate_holds_for_generated_secrets_manager_values() {
    let upstream = crate::moto::endpoint();
    let cases = std::env::var("ENVGATE_PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse::<u32>().ok())
        .map_or(24, |cases| cases / 4);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    });
    let launched = std::cell::Cell::new(0u32);
    runner
        .run(&prop::collection::vec(gen_secret_var(), 1..4), |vars| {
            if check_secrets_case(&vars, &upstream) {
                launched.set(launched.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    assert!(
        launched.get() > 0 && launched.get() < cases,
        "launched {} of {cases}: both outcomes must be exercised",
        launched.get()
    );
}
