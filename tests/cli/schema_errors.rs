//! Broken schemas: every problem in one run, with line, column and a suggestion.

use crate::harness::Envgate;

const BROKEN: &str = r#"version = 1

[envgate]
environments = ["development", "production"]

[groups]
core = "Core"

[vars.SECRET_KEY]
group = "core"
min_lenght = 50
type = "strng"
pattern = "([a-z]+"

[vars.PORT]
type = "port"
default = "99999"
min_length = 10
max_length = 2
required_in = ["prod"]

[vars.DEBUG]
type = "bool"
group = "cor"
[vars.DEBUG.environments.staging]
one_of = ["false"]
"#;

#[test]
fn every_schema_error_in_one_run() {
    let run = Envgate::with_schema(BROKEN).args(["--check"]).run();
    assert_eq!(run.code, 65);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn schema_errors_in_json_carry_line_and_column() {
    let run = Envgate::with_schema(BROKEN)
        .args(["--check", "--format", "json"])
        .run();
    assert_eq!(run.code, 65);
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let problems = report["problems"].as_array().unwrap();
    let unknown_key = problems
        .iter()
        .find(|p| p["code"] == "envgate::schema::unknown_key")
        .unwrap();
    assert_eq!(unknown_key["span"]["line"], 11);
    assert_eq!(unknown_key["span"]["column"], 1);
    assert_eq!(unknown_key["help"], "Did you mean `min_length`?");
    let codes: Vec<&str> = problems
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    for code in [
        "envgate::schema::unknown_type",
        "envgate::schema::invalid_regex",
        "envgate::schema::unknown_environment",
        "envgate::schema::unknown_group",
        "envgate::schema::contradiction",
        "envgate::schema::bad_default",
    ] {
        assert!(codes.contains(&code), "{code} missing from {codes:?}");
    }
}

#[test]
fn malformed_toml_points_at_the_line() {
    let run = Envgate::with_schema("[vars.A]\ndescription = \"unclosed\n")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 65);
    assert!(
        run.stdout.contains("envgate::schema::syntax"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("env.schema.toml:2:"), "{}", run.stdout);
}

#[test]
fn empty_schema() {
    let run = Envgate::with_schema("").args(["--check"]).run();
    assert_eq!(run.code, 65);
    assert!(
        run.stdout.contains("the schema declares no variables"),
        "{}",
        run.stdout
    );
}

#[test]
fn missing_schema_and_directory_schema() {
    let run = Envgate::with_schema("")
        .args(["--schema", "nope.toml", "--check"])
        .run();
    assert_eq!(run.code, 66);
    assert!(
        run.stderr
            .contains("cannot read schema nope.toml: no such file"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("--schema FILE or ENVGATE_SCHEMA"),
        "{}",
        run.stderr
    );
    let gate = Envgate::with_schema("");
    std::fs::create_dir(gate.dir().join("schemas")).unwrap();
    let run = gate.args(["--schema", "schemas", "--check"]).run();
    assert_eq!(run.code, 66);
    assert!(run.stderr.contains("it is a directory"), "{}", run.stderr);
}

#[test]
fn schema_from_envgate_schema_variable() {
    let gate = Envgate::with_schema("");
    gate.file("other.toml", "[vars.A]\ndefault = \"x\"\n");
    let run = gate
        .env("ENVGATE_SCHEMA", "other.toml")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
}

#[test]
fn a_ten_megabyte_schema_is_refused_quickly() {
    let gate = Envgate::with_schema("");
    let mut big = String::with_capacity(10 * 1024 * 1024);
    while big.len() < 10 * 1024 * 1024 {
        big.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    gate.file("big.toml", big);
    let run = gate.args(["--schema", "big.toml", "--check"]).run();
    assert_eq!(run.code, 65);
    assert!(
        run.stderr.contains("schema big.toml is larger than 4 MiB"),
        "{}",
        run.stderr
    );
}

#[test]
fn non_utf8_schema() {
    let gate = Envgate::with_schema("");
    gate.file("latin1.toml", b"[vars.A]\ndescription = \"caf\xe9\"\n");
    let run = gate.args(["--schema", "latin1.toml", "--check"]).run();
    assert_eq!(run.code, 65);
    assert!(run.stdout.contains("not valid UTF-8"), "{}", run.stdout);
}
