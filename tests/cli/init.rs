//! `envgate init`: a draft schema from a Django .env that passes `--check` with
//! it, copies no sensitive value, and never overwrites without --force.

use crate::harness::{Envgate, GOOD_SECRET_KEY};

const DOT_ENV: &str = "# a Django project's .env\n\
SECRET_KEY=__KEY__\n\
DEBUG=True\n\
ALLOWED_HOSTS=localhost,127.0.0.1\n\
DATABASE_URL=postgres://app:pw-canary-Zq81@db.internal:5432/app\n\
DATABASE_PORT=5432\n\
EMAIL_HOST_PASSWORD=mail-canary-Xw42\n\
STRIPE_API_KEY=sk_test_canary_Vb77\n\
DEFAULT_FROM_EMAIL=ops@example.com\n\
WORKERS=4\n\
FEATURE_FLAGS={\"beta\": true}\n\
SENTRY_DSN=\n";

fn project() -> Envgate {
    let gate = Envgate::with_schema("");
    std::fs::remove_file(gate.dir().join("env.schema.toml")).unwrap();
    gate.file(".env", DOT_ENV.replace("__KEY__", GOOD_SECRET_KEY));
    gate
}

#[test]
fn a_draft_from_a_django_env_checks_with_it_and_copies_no_secret() {
    let gate = project().args(["init", "--from", ".env"]);
    let run = gate.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains("wrote env.schema.toml: 11 variables"),
        "{}",
        run.stdout
    );
    let draft = std::fs::read_to_string(gate.dir().join("env.schema.toml")).unwrap();
    for canary in [
        "pw-canary-Zq81",
        "mail-canary-Xw42",
        "sk_test_canary_Vb77",
        GOOD_SECRET_KEY,
    ] {
        assert!(!draft.contains(canary), "{canary} copied into:\n{draft}");
    }
    let schema: toml::Table = toml::from_str(&draft).unwrap();
    let var = |name: &str| schema["vars"][name].as_table().unwrap().clone();
    assert_eq!(var("DATABASE_PORT")["type"].as_str(), Some("port"));
    assert_eq!(var("DEBUG")["type"].as_str(), Some("bool"));
    assert_eq!(
        var("DEBUG")["environments"]["production"]["one_of"][0].as_str(),
        Some("false")
    );
    assert_eq!(var("ALLOWED_HOSTS")["type"].as_str(), Some("list"));
    assert_eq!(var("DATABASE_URL")["type"].as_str(), Some("url"));
    assert_eq!(
        var("DATABASE_URL")["sensitive"].as_bool(),
        Some(true),
        "credentials in the URL"
    );
    assert_eq!(
        var("EMAIL_HOST_PASSWORD")["sensitive"].as_bool(),
        Some(true)
    );
    assert_eq!(var("STRIPE_API_KEY")["sensitive"].as_bool(), Some(true));
    assert_eq!(var("DEFAULT_FROM_EMAIL")["type"].as_str(), Some("email"));
    assert_eq!(var("WORKERS")["type"].as_str(), Some("int"));
    assert_eq!(var("FEATURE_FLAGS")["type"].as_str(), Some("json"));
    assert_eq!(var("SENTRY_DSN")["required"].as_bool(), Some(false));
    assert_eq!(var("SECRET_KEY")["min_length"].as_integer(), Some(50));
    assert!(
        var("WORKERS")["description"]
            .as_str()
            .unwrap()
            .starts_with("TODO")
    );

    // The draft passes --check with the file it came from ...
    let check = Envgate::with_schema(&draft)
        .args(["--env-file"])
        .args([gate.dir().join(".env")])
        .args(["--check"])
        .run();
    assert_eq!(check.code, 0, "{}", check.transcript());
    // ... and in production, DEBUG=True is refused.
    let production = Envgate::with_schema(&draft)
        .args(["--env-file"])
        .args([gate.dir().join(".env")])
        .args(["--environment", "production", "--check"])
        .run();
    assert_eq!(production.code, 78, "{}", production.transcript());
    assert!(production.stdout.contains("DEBUG"), "{}", production.stdout);
}

#[test]
fn a_weak_secret_key_in_the_file_is_caught_by_the_draft() {
    let gate = Envgate::with_schema("");
    std::fs::remove_file(gate.dir().join("env.schema.toml")).unwrap();
    gate.file(".env", "SECRET_KEY=django-insecure-abc123\n");
    let gate = gate.args(["init", "--from", ".env"]);
    assert_eq!(gate.run().code, 0);
    let draft = std::fs::read_to_string(gate.dir().join("env.schema.toml")).unwrap();
    let check = Envgate::with_schema(&draft)
        .args(["--env-file"])
        .args([gate.dir().join(".env")])
        .args(["--check"])
        .run();
    assert_eq!(check.code, 78, "{}", check.transcript());
    assert!(check.stdout.contains("django-insecure"), "{}", check.stdout);
}

#[test]
fn an_existing_schema_is_never_overwritten_without_force() {
    let gate = project();
    gate.file("env.schema.toml", "# mine\n[vars.MINE]\n");
    let gate = gate.args(["init", "--from", ".env"]);
    let run = gate.run();
    assert_eq!(run.code, 2, "{}", run.transcript());
    assert!(run.stderr.contains("--force"), "{}", run.transcript());
    assert_eq!(
        std::fs::read_to_string(gate.dir().join("env.schema.toml")).unwrap(),
        "# mine\n[vars.MINE]\n"
    );
    let gate = gate.args(["--force"]);
    let run = gate.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        std::fs::read_to_string(gate.dir().join("env.schema.toml"))
            .unwrap()
            .contains("[vars.SECRET_KEY]")
    );
}

#[test]
fn a_draft_from_the_environment_takes_names_not_the_system() {
    let gate = Envgate::with_schema("");
    std::fs::remove_file(gate.dir().join("env.schema.toml")).unwrap();
    let gate = gate
        .env("HOME", "/root")
        .env("API_TOKEN", "env-canary-Qq19")
        .env("WORKERS", "8")
        .args(["init", "--output", "draft.toml"]);
    let run = gate.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let draft = std::fs::read_to_string(gate.dir().join("draft.toml")).unwrap();
    assert!(draft.contains("[vars.API_TOKEN]"), "{draft}");
    assert!(draft.contains("[vars.WORKERS]"), "{draft}");
    assert!(!draft.contains("[vars.PATH]"), "{draft}");
    assert!(!draft.contains("[vars.HOME]"), "{draft}");
    assert!(!draft.contains("env-canary-Qq19"), "{draft}");
}

/// A draft whose secrets live under a prefix of the test's own, so that moto
/// runs of different tests never meet.
fn drafted(gate: &Envgate, prefix: &str) -> String {
    let draft = std::fs::read_to_string(gate.dir().join("env.schema.toml")).unwrap();
    draft.replacen(
        "[envgate]\n",
        &format!("[envgate]\nsecret_name = \"{prefix}/{{environment}}/{{name}}\"\n"),
        1,
    )
}

/// `envgate import --from FILE` (Secrets Manager not read) against `endpoint`.
fn import(schema: &str, endpoint: &str, file: &std::path::Path, extra: &[&str]) -> Envgate {
    crate::moto::gate(schema, endpoint)
        .env("USE_SECRETS_MANAGER", "false")
        .args(["import"])
        .args(extra)
        .args(["--from".as_ref(), file.as_os_str()])
}

#[test]
fn init_import_launch_round_trip() {
    let upstream = crate::moto::endpoint();
    let prefix = crate::moto::unique("import");
    let gate = project().args(["init", "--from", ".env"]);
    assert_eq!(gate.run().code, 0);
    let schema = drafted(&gate, &prefix);
    let env_file = gate.dir().join(".env");

    // A dry run writes nothing and names keys, never values.
    let proxy = crate::proxy::Proxy::start(&upstream, crate::proxy::Behaviour::Forward);
    let dry = import(&schema, &proxy.url, &env_file, &["--dry-run"]).run();
    assert_eq!(dry.code, 0, "{}", dry.transcript());
    assert!(
        dry.stdout
            .contains(&format!("would create {prefix}/development/secrets")),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("SECRET_KEY"), "{}", dry.stdout);
    assert_eq!(
        proxy.count("CreateSecret") + proxy.count("PutSecretValue"),
        0
    );
    for canary in [
        "pw-canary-Zq81",
        "mail-canary-Xw42",
        "sk_test_canary_Vb77",
        GOOD_SECRET_KEY,
    ] {
        assert!(
            !dry.all_output().contains(canary),
            "{canary}: {}",
            dry.transcript()
        );
    }

    // The import.
    let first = import(&schema, &upstream, &env_file, &[]);
    let run = first.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .contains(&format!("create {prefix}/development/secrets")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains(&format!("create {prefix}/development/config")),
        "{}",
        run.stdout
    );
    let tags = crate::moto::aws_cli(
        &upstream,
        &[
            "secretsmanager",
            "describe-secret",
            "--secret-id",
            &format!("{prefix}/development/secrets"),
            "--query",
            "Tags",
        ],
    );
    assert!(tags.contains("envgate:managed-by"), "{tags}");
    let written: Vec<_> = first
        .audit_events()
        .into_iter()
        .filter(|event| event["event"] == "secret.written")
        .collect();
    assert_eq!(written.len(), 2, "{written:#?}");

    // A launch with Secrets Manager on and no local value gets every value back.
    let launch = crate::moto::gate(&schema, &upstream)
        .args(["--", "sh", "-c", "printf '%s|%s|%s|%s|%s' \"$SECRET_KEY\" \"$DATABASE_URL\" \"$STRIPE_API_KEY\" \"$WORKERS\" \"$ALLOWED_HOSTS\""])
        .run();
    assert_eq!(launch.code, 0, "{}", launch.transcript());
    assert_eq!(
        launch.stdout,
        format!(
            "{GOOD_SECRET_KEY}|postgres://app:pw-canary-Zq81@db.internal:5432/app|sk_test_canary_Vb77|4|localhost,127.0.0.1"
        )
    );
}

#[test]
fn import_keeps_existing_keys_unless_overwrite() {
    let upstream = crate::moto::endpoint();
    let prefix = crate::moto::unique("overwrite");
    let gate = project().args(["init", "--from", ".env"]);
    assert_eq!(gate.run().code, 0);
    let schema = drafted(&gate, &prefix);
    let first = import(&schema, &upstream, &gate.dir().join(".env"), &[]).run();
    assert_eq!(first.code, 0, "{}", first.transcript());
    // Again, with a changed value: kept without --overwrite, replaced with it.
    let changed = gate.file(
        "changed.env",
        DOT_ENV
            .replace("__KEY__", GOOD_SECRET_KEY)
            .replace("WORKERS=4", "WORKERS=8"),
    );
    let again = import(&schema, &upstream, &changed, &[]).run();
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert!(
        again
            .stdout
            .contains("kept keys (already there, different; --overwrite replaces them): WORKERS"),
        "{}",
        again.stdout
    );
    let config = crate::moto::stage_json(
        &upstream,
        &format!("{prefix}/development/config"),
        "AWSCURRENT",
    );
    assert_eq!(config["WORKERS"], "4");
    let forced = import(&schema, &upstream, &changed, &["--overwrite"]).run();
    assert_eq!(forced.code, 0, "{}", forced.transcript());
    let config = crate::moto::stage_json(
        &upstream,
        &format!("{prefix}/development/config"),
        "AWSCURRENT",
    );
    assert_eq!(config["WORKERS"], "8");
}

#[test]
fn a_weak_value_is_refused_before_any_write() {
    let upstream = crate::moto::endpoint();
    let prefix = crate::moto::unique("weak");
    let gate = project().args(["init", "--from", ".env"]);
    assert_eq!(gate.run().code, 0);
    let schema = drafted(&gate, &prefix);
    let weak = gate.file(
        "weak.env",
        "SECRET_KEY=django-insecure-0123456789\nWORKERS=4\n",
    );
    let proxy = crate::proxy::Proxy::start(&upstream, crate::proxy::Behaviour::Forward);
    let run = import(&schema, &proxy.url, &weak, &[]).run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(
        run.stderr.contains("nothing was written"),
        "{}",
        run.transcript()
    );
    assert!(
        !run.all_output().contains("django-insecure-0123456789"),
        "{}",
        run.transcript()
    );
    assert_eq!(proxy.total(), 0, "no request before validation passed");
}

#[test]
fn import_applies_the_cross_environment_guard() {
    let upstream = crate::moto::endpoint();
    let proxy = crate::proxy::Proxy::start(&upstream, crate::proxy::Behaviour::Forward);
    let gate = Envgate::with_schema("");
    let file = gate.file("prod.env", "TOKEN=a-production-token-value\n");
    let schema = "[vars.TOKEN]\nsecret = \"arn:aws:secretsmanager:us-east-1:123456789012:secret:production/api-AbCdEf#token\"\n";
    let run = import(schema, &proxy.url, &file, &[]).run();
    assert_eq!(run.code, 77, "{}", run.transcript());
    assert!(
        run.stderr.contains("outside the development environment"),
        "{}",
        run.transcript()
    );
    assert_eq!(proxy.total(), 0);
}

#[test]
fn import_shows_progress_on_a_terminal_only() {
    let upstream = crate::moto::endpoint();
    let prefix = crate::moto::unique("progress");
    let gate = project().args(["init", "--from", ".env"]);
    assert_eq!(gate.run().code, 0);
    let schema = drafted(&gate, &prefix);
    let plain = import(&schema, &upstream, &gate.dir().join(".env"), &["--dry-run"]);
    let run = plain.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(!run.all_output().contains("[1/2]"), "{}", run.transcript());
    let (ok, text) = plain.run_on_terminal();
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("[1/2] {prefix}/development/config")),
        "{text}"
    );
    assert!(
        text.contains(&format!("[2/2] {prefix}/development/secrets")),
        "{text}"
    );
}

/// The current SecretString of `name`.
fn current_string(endpoint: &str, name: &str) -> String {
    let client = crate::moto::client(endpoint);
    crate::moto::block_on(async {
        client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .unwrap()
            .secret_string()
            .unwrap_or_default()
            .to_owned()
    })
}

/// A secret whose value is not a JSON object (text, a list, a quoted string, a
/// number, broken JSON) is a conflict: without `--overwrite` nothing is written
/// and the run exits 78 naming it; with it, the report says the old content is
/// replaced whole. Never the old value in the output.
#[test]
fn import_does_not_replace_a_value_that_is_not_a_json_object() {
    let upstream = crate::moto::endpoint();
    for (index, old) in [
        "CANARY-plain-old-value",
        r#"["CANARY-in-a-list"]"#,
        r#""CANARY-quoted""#,
        "12345",
        r#"{"WORKERS": "CANARY-truncated""#,
    ]
    .into_iter()
    .enumerate()
    {
        let prefix = crate::moto::unique(&format!("conflict{index}"));
        let gate = project().args(["init", "--from", ".env"]);
        assert_eq!(gate.run().code, 0);
        let schema = drafted(&gate, &prefix);
        let config = format!("{prefix}/development/config");
        crate::moto::create_secret(&crate::moto::client(&upstream), &config, old);
        let env_file = gate.dir().join(".env");
        for extra in [&["--dry-run"][..], &[]] {
            let run = import(&schema, &upstream, &env_file, extra).run();
            assert_eq!(run.code, 78, "{old} {extra:?}: {}", run.transcript());
            assert!(
                run.all_output().contains(&format!("conflict {config}")),
                "{}",
                run.transcript()
            );
            assert!(
                run.all_output().contains("not a JSON object"),
                "{}",
                run.transcript()
            );
            assert!(!run.all_output().contains("CANARY"), "{}", run.transcript());
            assert_eq!(current_string(&upstream, &config), old, "nothing written");
        }
        let forced = import(&schema, &upstream, &env_file, &["--overwrite"]).run();
        assert_eq!(forced.code, 0, "{}", forced.transcript());
        assert!(
            forced.stdout.contains("replaced whole"),
            "{}",
            forced.stdout
        );
        let now: serde_json::Value =
            serde_json::from_str(&current_string(&upstream, &config)).unwrap();
        assert_eq!(now["WORKERS"], "4");
    }
}

/// What a new user met: secrets under names and shapes the old rules missed
/// were copied as examples; plain settings became sensitive (their `secret`
/// line implies it), so `--mask` redacted "DEBUG is False"; the schema was
/// written 0600; and `ENVGATE_SCHEMA` was ignored.
#[test]
fn init_marks_secrets_by_name_and_shape_and_writes_a_public_schema_where_it_is_read() {
    use std::os::unix::fs::PermissionsExt as _;
    let gate = Envgate::with_schema("");
    std::fs::remove_file(gate.dir().join("env.schema.toml")).unwrap();
    let dot_env = "SMTP_PASS=20250917\nAPI_PIN=4321\nMFA_SEED=JBSWY3DPEHPK3PXP\nCARD_NUMBER=4111111111111111\n\
         STRIPE=sk_live_canaryZ9\nSENTRY_DSN=https://canarykey@o1.ingest.sentry.io/42\n\
         CONFIG_JSON={\"password\": \"canary-json-pw\"}\nDEBUG=False\nDJANGO_PORT=8000\nWORKERS=4\n";
    gate.file(".env", dot_env);
    std::fs::create_dir(gate.dir().join("config")).unwrap();
    let init = gate
        .env("ENVGATE_SCHEMA", "config/app.schema.toml")
        .args(["init", "--from", ".env"]);
    let run = init.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let path = init.dir().join("config/app.schema.toml");
    let draft = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o644
    );
    for copied in ["20250917", "4321", "JBSWY3", "4111", "canary"] {
        assert!(!draft.contains(copied), "{copied} copied into:\n{draft}");
    }
    assert!(run.stdout.contains("7 marked sensitive"), "{}", run.stdout);
    let schema: toml::Table = toml::from_str(&draft).unwrap();
    for (name, sensitive) in [
        ("SMTP_PASS", true),
        ("API_PIN", true),
        ("MFA_SEED", true),
        ("CARD_NUMBER", true),
        ("STRIPE", true),
        ("SENTRY_DSN", true),
        ("CONFIG_JSON", true),
        ("DEBUG", false),
        ("DJANGO_PORT", false),
        ("WORKERS", false),
    ] {
        assert_eq!(
            schema["vars"][name]["sensitive"].as_bool(),
            Some(sensitive),
            "{name}:\n{draft}"
        );
    }
    // The draft with --mask: plain settings pass through as written.
    let checked = Envgate::with_schema(&draft);
    checked.file(".env", dot_env);
    let masked = checked
        .args(["--env-file", ".env", "--mask", "--", "sh", "-c"])
        .args(["echo \"DEBUG is $DEBUG; port $DJANGO_PORT\""])
        .run();
    assert_eq!(masked.code, 0, "{}", masked.transcript());
    assert_eq!(masked.stdout, "DEBUG is False; port 8000\n");
}

/// The two-store round trip: `init --parameters` from a .env, `import` into both
/// stores, then a launch with both settings on and no local values gets every
/// value back: secrets from Secrets Manager, plain configuration from Parameter
/// Store (SecureString for nothing here: sensitive values stay secrets).
#[test]
fn init_parameters_import_both_stores_launch_round_trip() {
    let upstream = crate::moto::endpoint();
    let prefix = crate::moto::unique("both");
    let gate = project().args(["init", "--parameters", "--from", ".env"]);
    assert_eq!(gate.run().code, 0);
    let draft = std::fs::read_to_string(gate.dir().join("env.schema.toml")).unwrap();
    assert!(draft.contains("parameter = \"config/WORKERS\""), "{draft}");
    assert!(draft.contains("secret = \"secrets#SECRET_KEY\""), "{draft}");
    let schema = draft.replacen(
        "[envgate]\n",
        &format!(
            "[envgate]\nsecret_name = \"{prefix}/{{environment}}/{{name}}\"\nparameter_name = \"/{prefix}/{{environment}}/{{name}}\"\n"
        ),
        1,
    );
    let env_file = gate.dir().join(".env");
    let secrets = import(&schema, &upstream, &env_file, &[]).run();
    assert_eq!(secrets.code, 0, "{}", secrets.transcript());
    let proxy = crate::proxy::Proxy::start(&upstream, crate::proxy::Behaviour::Forward);
    let parameters = import(&schema, &proxy.url, &env_file, &["--to", "parameter-store"]);
    let run = parameters.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout.contains(&format!(
            "create /{prefix}/development/config/WORKERS (String)"
        )),
        "{}",
        run.stdout
    );
    assert!(proxy.count("PutParameter") >= 2, "{}", run.stdout);
    assert!(
        !run.all_output().contains("pw-canary-Zq81"),
        "{}",
        run.transcript()
    );
    let written: Vec<_> = parameters
        .audit_events()
        .into_iter()
        .filter(|event| event["event"] == "secret.written")
        .collect();
    assert!(!written.is_empty());
    assert!(
        written
            .iter()
            .all(|event| event["store"] == "parameter-store"),
        "{written:?}"
    );
    // Again: unchanged, nothing written.
    let again = import(&schema, &upstream, &env_file, &["--to", "parameter-store"]).run();
    assert_eq!(again.code, 0, "{}", again.transcript());
    assert!(again.stdout.contains("unchanged"), "{}", again.stdout);

    let launch = crate::moto::gate(&schema, &upstream)
        .env("USE_PARAMETER_STORE", "true")
        .args(["--", "sh", "-c", "printf '%s|%s|%s|%s|%s' \"$SECRET_KEY\" \"$DATABASE_URL\" \"$STRIPE_API_KEY\" \"$WORKERS\" \"$ALLOWED_HOSTS\""])
        .run();
    assert_eq!(launch.code, 0, "{}", launch.transcript());
    assert_eq!(
        launch.stdout,
        format!(
            "{GOOD_SECRET_KEY}|postgres://app:pw-canary-Zq81@db.internal:5432/app|sk_test_canary_Vb77|4|localhost,127.0.0.1"
        )
    );
}

/// `init --from missing.env` does not send the user to a flag they did not give.
#[test]
fn a_missing_from_file_is_named_without_another_flag() {
    let run = Envgate::with_schema("")
        .args(["init", "--from", "missing.env", "--output", "draft.toml"])
        .run();
    assert_eq!(run.code, 66, "{}", run.transcript());
    assert!(run.stderr.contains("missing.env"), "{}", run.stderr);
    assert!(!run.stderr.contains("--env-file"), "{}", run.stderr);
}
