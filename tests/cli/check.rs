//! `envgate --check`: values against the example schema, every report format.

use crate::harness::{DEV_VALUES, Envgate, GOOD_SECRET_KEY, PRODUCTION_VALUES};

#[test]
fn valid_development_configuration_passes() {
    let run = Envgate::muejam().envs(DEV_VALUES).args(["--check"]).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(
        run.stdout,
        "✓ 15 variables valid (environment: development)\n"
    );
}

#[test]
fn check_subcommand_and_flag_agree() {
    let flag = Envgate::muejam()
        .envs(PRODUCTION_VALUES)
        .args(["--check"])
        .run();
    let sub = Envgate::muejam()
        .envs(PRODUCTION_VALUES)
        .args(["check"])
        .run();
    assert_eq!(flag.code, 0, "{}", flag.transcript());
    assert_eq!(flag.transcript(), sub.transcript());
}

#[test]
fn secret_key_not_set() {
    let run = Envgate::muejam()
        .envs(&DEV_VALUES[1..])
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn secret_key_too_short_names_length_and_minimum() {
    let run = Envgate::muejam()
        .envs(&DEV_VALUES[1..])
        .env("SECRET_KEY", "Xq7#mK2pL9vR4tW8")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn secret_key_example_value_names_the_pattern() {
    let run = Envgate::muejam()
        .envs(&DEV_VALUES[1..])
        .env(
            "SECRET_KEY",
            "this-is-an-EXAMPLE-secret-key-for-the-docs-0123456789",
        )
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78);
    insta::assert_snapshot!(run.transcript());
}

#[test]
fn every_problem_is_reported_in_one_run() {
    let run = Envgate::muejam()
        .envs(PRODUCTION_VALUES)
        .envs(&[
            ("DEBUG", "True"),
            ("DATABASE_PORT", "99999"),
            ("ALLOWED_HOSTS", "good.example.com,,bad host"),
            ("SECRETS_CACHE_TTL", "100000"),
            ("CLERK_SECRET_KEY", "sk_test_9dk3kd9d3kd93kd9ek3"),
        ])
        .args(["--check", "--format", "json"])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["environment"], "production");
    let found: Vec<(String, String)> = report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["var"].as_str().unwrap().to_owned(),
                p["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("DEBUG", "envgate::not_one_of"),
        ("ALLOWED_HOSTS", "envgate::invalid_type"),
        ("ALLOWED_HOSTS", "envgate::pattern"),
        ("DATABASE_PORT", "envgate::invalid_type"),
        ("CLERK_SECRET_KEY", "envgate::pattern"),
        ("SECRETS_CACHE_TTL", "envgate::too_large"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(v, c)| ((*v).into(), (*c).into()))
        .collect();
    assert_eq!(found, expected);
    let first = &report["problems"][0];
    assert_eq!(first["span"]["line"], 42);
    assert_eq!(first["span"]["column"], 7);
    assert_eq!(first["severity"], "error");
    assert!(
        first["help"]
            .as_str()
            .unwrap()
            .contains("DEBUG must be false in production.")
    );
}

#[test]
fn github_format_annotates_the_schema_line() {
    let run = Envgate::muejam()
        .envs(&DEV_VALUES[1..])
        .args(["check", "--format", "github"])
        .run();
    assert_eq!(run.code, 78);
    let first = run.stdout.lines().next().unwrap();
    assert!(
        first.starts_with("::error file=env.schema.toml,line=22,col=7,title=envgate%3A%3Amissing::SECRET_KEY is not set"),
        "{first}"
    );
    assert!(first.contains("%0Ahelp: "), "{first}");
    assert_eq!(run.stdout.lines().count(), 2);
}

#[test]
fn explain_shows_sources_and_masks_sensitive_values() {
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .env("DEBUG", "true")
        .args(["--check", "--explain"])
        .run();
    assert_eq!(run.code, 0);
    insta::assert_snapshot!(run.stdout);
    assert!(!run.stdout.contains(GOOD_SECRET_KEY));
}

#[test]
fn unknown_environment_lists_the_allowed_ones() {
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .env("ENVIRONMENT", "prod")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78);
    assert!(
        run.stdout.contains("unknown environment `prod`"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("development, staging, production"));
    assert!(run.stdout.contains("Did you mean `production`?"));
}

#[test]
fn environment_flag_overrides_the_variable() {
    let run = Envgate::muejam()
        .envs(PRODUCTION_VALUES)
        .env("ENVIRONMENT", "staging")
        .env("DEBUG", "true")
        .args(["--environment", "production", "--check"])
        .run();
    assert_eq!(run.code, 78);
    assert!(run.stdout.contains("(environment: production)"));
    assert!(
        run.stdout
            .contains("DEBUG is not one of the allowed values")
    );
}

#[test]
fn env_files_later_wins_and_process_env_wins_over_files() {
    let gate = Envgate::muejam().envs(&DEV_VALUES[..1]);
    gate.file(
        "a.env",
        "DATABASE_USER=from_a\nDATABASE_PASSWORD='from a'\nDATABASE_NAME=name_a\n",
    );
    gate.file(
        "b.env",
        "export DATABASE_USER=from_b # comment\nDATABASE_NAME=\"name_b\"\n",
    );
    let run = gate
        .env("DATABASE_NAME", "from_env")
        .args([
            "--env-file",
            "a.env",
            "--env-file",
            "b.env",
            "--check",
            "--explain",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let rows = table_rows(&run.stdout);
    assert!(
        rows.contains(&"DATABASE_USER env-file b.env ok from_b".to_owned()),
        "{rows:?}"
    );
    assert!(
        rows.contains(&"DATABASE_NAME env ok from_env".to_owned()),
        "{rows:?}"
    );
    assert!(
        rows.contains(&"DATABASE_PASSWORD env-file a.env ok [sensitive, 6 chars]".to_owned()),
        "{rows:?}"
    );
}

#[test]
fn name_file_is_read_and_conflicts_with_name() {
    let gate = Envgate::muejam().envs(&DEV_VALUES[1..]);
    let key_file = gate.file("secret_key", format!("{GOOD_SECRET_KEY}\n"));
    let run = gate
        .env("SECRET_KEY_FILE", &key_file)
        .args(["--check"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());

    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .env("SECRET_KEY_FILE", &key_file)
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78);
    assert!(
        run.stdout
            .contains("both SECRET_KEY and SECRET_KEY_FILE are set"),
        "{}",
        run.stdout
    );
}

#[test]
fn unreadable_name_file_says_which_file_and_why() {
    let gate = Envgate::muejam().envs(&DEV_VALUES[1..]);
    let missing = gate.dir().join("no-such-secret");
    let run = gate
        .env("SECRET_KEY_FILE", &missing)
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78);
    assert!(
        run.stdout.contains("envgate::file_unreadable"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("no-such-secret: no such file"),
        "{}",
        run.stdout
    );
    let gate = Envgate::muejam().envs(&DEV_VALUES[1..]);
    let dir = gate.dir().to_owned();
    let run = gate.env("SECRET_KEY_FILE", &dir).args(["--check"]).run();
    assert!(run.stdout.contains("it is a directory"), "{}", run.stdout);
}

#[test]
fn empty_versus_unset() {
    // Required and empty: "set but empty", not "not set".
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .env("DATABASE_USER", "")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78);
    assert!(
        run.stdout.contains("DATABASE_USER is set but empty"),
        "{}",
        run.stdout
    );
    // Optional and empty: the default applies.
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .env("DATABASE_PORT", "")
        .args(["--check", "--explain"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        table_rows(&run.stdout).contains(&"DATABASE_PORT default ok 5432".to_owned()),
        "{}",
        run.stdout
    );
}

#[test]
fn non_utf8_values_are_reported_by_name() {
    use std::os::unix::ffi::OsStringExt;
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .env(
            "DATABASE_NAME",
            std::ffi::OsString::from_vec(vec![b'd', 0xff, b'b']),
        )
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78);
    assert!(
        run.stdout
            .contains("the value of DATABASE_NAME is not valid UTF-8"),
        "{}",
        run.stdout
    );
}

#[test]
fn env_file_problems() {
    let gate = Envgate::muejam().envs(DEV_VALUES);
    gate.file("bad.env", "GOOD=1\n# fine\nNOT A VALID LINE\n");
    let run = gate.args(["--env-file", "bad.env", "--check"]).run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(
        run.stderr.contains("env file bad.env, line 3"),
        "{}",
        run.stderr
    );

    let run = Envgate::muejam()
        .args(["--env-file", "missing.env", "--check"])
        .run();
    assert_eq!(run.code, 66);
    assert!(
        run.stderr
            .contains("cannot read env file missing.env: no such file"),
        "{}",
        run.stderr
    );

    let gate = Envgate::muejam();
    std::fs::create_dir(gate.dir().join("dir.env")).unwrap();
    let run = gate.args(["--env-file", "dir.env", "--check"]).run();
    assert_eq!(run.code, 66);
    assert!(run.stderr.contains("it is a directory"), "{}", run.stderr);
}

#[test]
fn launcher_settings_are_parsed_as_the_guide_writes_them() {
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .env("USE_SECRETS_MANAGER", "maybe")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78);
    assert!(
        run.stderr.contains("USE_SECRETS_MANAGER is not valid"),
        "{}",
        run.stderr
    );
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .env("SKIP_CONFIG_VALIDATION", "False")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
}

#[test]
fn skip_config_validation_warns_but_still_requires_values() {
    let run = Envgate::muejam()
        .envs(DEV_VALUES)
        .env("SECRET_KEY", "short-key-1")
        .env("SKIP_CONFIG_VALIDATION", "True")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.contains("envgate::validation_skipped"));
    assert!(run.stdout.contains("SECRET_KEY is too short"));

    let run = Envgate::muejam()
        .envs(&DEV_VALUES[1..])
        .env("SKIP_CONFIG_VALIDATION", "True")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78);
    assert!(run.stdout.contains("SECRET_KEY is not set"));
}

#[test]
fn strict_turns_warnings_into_errors() {
    let schema = "[vars.NEW_NAME]\naliases = [\"OLD_NAME\"]\n";
    let run = Envgate::with_schema(schema)
        .env("OLD_NAME", "x")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(run.stdout.contains("OLD_NAME is deprecated"));
    let run = Envgate::with_schema(schema)
        .env("OLD_NAME", "x")
        .args(["--check", "--strict"])
        .run();
    assert_eq!(run.code, 78);
}

#[test]
fn usage_errors_exit_2() {
    let run = Envgate::muejam().run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("nothing to do"), "{}", run.stderr);
    let run = Envgate::muejam().args(["--format", "xml", "--check"]).run();
    assert_eq!(run.code, 2);
}

/// The explain table's rows with runs of spaces folded to one.
fn table_rows(table: &str) -> Vec<String> {
    table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// A schema of 6,000 variables, named with `--schema` or found by its default
/// name: every value is checked, the one bad value is named, and no value is
/// printed.
#[test]
fn a_large_schema_is_checked_whole_however_it_is_named() {
    use std::fmt::Write as _;
    const COUNT: usize = 6_000;
    const CANARY: &str = "canary-large-schema-value-7f3a";
    let mut schema = String::from("version = 1\n");
    let mut values = Vec::with_capacity(COUNT);
    for i in 0..COUNT {
        writeln!(
            schema,
            "[vars.LARGE_{i}]\ndescription = \"Variable number {i} of a large schema, described at some length.\"\nmin_length = 8\nsensitive = true"
        )
        .unwrap();
        values.push((format!("LARGE_{i}"), format!("{CANARY}-{i}")));
    }
    assert!(schema.len() > 256 * 1024, "{} bytes", schema.len());
    // One value too short, in the middle.
    values[COUNT / 2].1 = "q7zx".to_owned();
    let pairs: Vec<(&str, &str)> = values
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let named = Envgate::with_schema(&schema).envs(&pairs);
    let schema_path = named.dir().join("env.schema.toml");
    for run in [
        named.args(["--check"]).run(),
        Envgate::with_schema(&schema)
            .envs(&pairs)
            .args([
                "--schema".as_ref(),
                schema_path.as_os_str(),
                "--check".as_ref(),
            ])
            .run(),
    ] {
        assert_eq!(run.code, 78, "{}", run.transcript());
        let transcript = run.transcript();
        assert!(
            transcript.contains(&format!("LARGE_{}", COUNT / 2)),
            "{transcript}"
        );
        assert!(transcript.contains("1 error"), "{transcript}");
        assert!(!transcript.contains(CANARY), "a value was printed");
        assert!(
            !transcript.contains("q7zx"),
            "a value was printed: {transcript}"
        );
    }
}
