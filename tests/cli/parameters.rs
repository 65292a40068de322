//! Parameter Store, end to end: moto's SSM through the real SDK client, fixtures
//! made with the real `aws` CLI, requests counted by the counting proxy.

use std::fmt::Write as _;

use crate::moto::{aws_cli, endpoint, gate, unique};
use crate::proxy::{Behaviour, Proxy};

/// Creates a parameter of `kind` (`String`, `StringList`, `SecureString`).
fn put(name: &str, kind: &str, value: &str) {
    aws_cli(
        &endpoint(),
        &[
            "ssm",
            "put-parameter",
            "--name",
            name,
            "--type",
            kind,
            "--value",
            value,
            "--overwrite",
        ],
    );
}

/// A schema for environment `env` with `vars` as `[vars.NAME]` bodies.
fn schema(env: &str, vars: &[(&str, &str)]) -> String {
    let mut text = format!("[envgate]\nenvironments = [\"{env}\", \"production\"]\n");
    for (name, body) in vars {
        let _ = writeln!(text, "[vars.{name}]\n{body}");
    }
    text
}

#[test]
fn string_stringlist_and_securestring_reach_the_program_in_one_call() {
    let env = unique("ps");
    put(&format!("/{env}/app/DB_HOST"), "String", "db.internal");
    put(
        &format!("/{env}/app/HOSTS"),
        "StringList",
        "a.example.com,b.example.com",
    );
    put(
        &format!("/{env}/app/TOKEN"),
        "SecureString",
        "CANARYssm7Qx2",
    );
    let proxy = Proxy::start(&endpoint(), Behaviour::Forward);
    let text = schema(
        &env,
        &[
            ("DB_HOST", "parameter = \"app/DB_HOST\"\ntype = \"host\""),
            ("HOSTS", "parameter = \"app/HOSTS\"\ntype = \"list\""),
            ("TOKEN", "parameter = \"app/TOKEN\""),
        ],
    );
    let gate = gate(&text, &proxy.url)
        .env("USE_SECRETS_MANAGER", "false")
        .env("USE_PARAMETER_STORE", "true")
        .env("ENVIRONMENT", &env)
        .args([
            "--audit-log",
            "audit.log",
            "--explain",
            "--",
            "sh",
            "-c",
            "echo \"$DB_HOST|$HOSTS|$TOKEN\"",
        ]);
    let run = gate.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert!(
        run.stdout
            .ends_with("db.internal|a.example.com,b.example.com|CANARYssm7Qx2\n"),
        "{}",
        run.stdout
    );
    assert_eq!(proxy.count("GetParameters"), 1, "three names, one call");
    assert_eq!(proxy.total(), 1, "no other request");
    // The SecureString feeds a variable not marked sensitive: masked, and said so.
    assert!(!run.stderr.contains("CANARY"), "{}", run.stderr);
    assert!(
        run.stderr.contains("is a SecureString"),
        "{}",
        run.transcript()
    );
    assert!(
        run.stderr.contains("parameter-store"),
        "{}",
        run.transcript()
    );
    let reads: Vec<_> = gate
        .audit_events()
        .into_iter()
        .filter(|event| event["event"] == "secret.read")
        .collect();
    assert_eq!(reads.len(), 3, "{reads:?}");
    for read in &reads {
        assert_eq!(read["store"], "parameter-store", "{read}");
        assert!(!read.to_string().contains("CANARY"), "{read}");
    }
}

#[test]
fn twenty_five_parameters_take_three_calls() {
    let env = unique("ps");
    let mut vars = Vec::new();
    for index in 0..25 {
        put(
            &format!("/{env}/p/V{index:02}"),
            "String",
            &format!("value{index}"),
        );
        vars.push((
            format!("V{index:02}"),
            format!("parameter = \"p/V{index:02}\""),
        ));
    }
    let vars: Vec<(&str, &str)> = vars.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let proxy = Proxy::start(&endpoint(), Behaviour::Forward);
    let run = gate(&schema(&env, &vars), &proxy.url)
        .env("USE_PARAMETER_STORE", "true")
        .env("ENVIRONMENT", &env)
        .args(["--", "sh", "-c", "echo \"$V00 $V24\""])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "value0 value24\n");
    assert_eq!(proxy.count("GetParameters"), 3);
    assert_eq!(proxy.total(), 3);
}

#[test]
fn a_missing_parameter_names_itself_and_exits_78() {
    let env = unique("ps");
    let run = gate(
        &schema(&env, &[("DB_HOST", "parameter = \"app/NOPE\"")]),
        &endpoint(),
    )
    .env("USE_PARAMETER_STORE", "true")
    .env("ENVIRONMENT", &env)
    .args(["--", "true"])
    .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(
        run.stderr
            .contains(&format!("parameter `/{env}/app/NOPE` was not found")),
        "{}",
        run.transcript()
    );
}

#[test]
fn a_label_that_does_not_exist_is_not_found_and_a_version_pin_reads() {
    let env = unique("ps");
    let name = format!("/{env}/app/PINNED");
    put(&name, "String", "first");
    put(&name, "String", "second");
    let text = schema(
        &env,
        &[
            ("ONE", "parameter = \"app/PINNED:1\""),
            ("TWO", "parameter = \"app/PINNED\""),
        ],
    );
    let run = gate(&text, &endpoint())
        .env("USE_PARAMETER_STORE", "true")
        .env("ENVIRONMENT", &env)
        .args(["--", "sh", "-c", "echo \"$ONE $TWO\""])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "first second\n");
    let run = gate(
        &schema(&env, &[("ONE", "parameter = \"app/PINNED:nosuchlabel\"")]),
        &endpoint(),
    )
    .env("USE_PARAMETER_STORE", "true")
    .env("ENVIRONMENT", &env)
    .args(["--", "true"])
    .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(run.stderr.contains("was not found"), "{}", run.transcript());
}

#[test]
fn the_guard_and_bad_references_refuse_with_no_request() {
    let env = unique("ps");
    let proxy = Proxy::start(&endpoint(), Behaviour::Forward);
    let text = schema(&env, &[("DB_HOST", "")]);
    let cases = [
        ("aws-ssm:///production/app/DB_HOST", 77, "outside the"),
        (
            "arn:aws:ssm:us-east-1:123456789012:parameter/production/app/DB_HOST",
            77,
            "outside the",
        ),
        ("aws-ssm://", 78, "names no parameter"),
        ("aws-ssm:///x/has space", 78, "no spaces"),
    ];
    for (value, code, says) in cases {
        let run = gate(&text, &proxy.url)
            .env("ENVIRONMENT", &env)
            .env("DB_HOST", value)
            .args(["--", "true"])
            .run();
        assert_eq!(run.code, code, "{value}: {}", run.transcript());
        assert!(run.stderr.contains(says), "{value}: {}", run.transcript());
    }
    let long = format!("aws-ssm:///{env}/{}", "a".repeat(2100));
    let run = gate(&text, &proxy.url)
        .env("ENVIRONMENT", &env)
        .env("DB_HOST", &long)
        .args(["--", "true"])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert_eq!(proxy.total(), 0, "nothing may be requested");
}

#[test]
fn a_reference_in_the_environment_reads_without_the_setting() {
    let env = unique("ps");
    put(&format!("/{env}/app/URL"), "String", "redis://cache:6379/0");
    let run = gate(
        &schema(&env, &[("CACHE_URL", "type = \"url\"")]),
        &endpoint(),
    )
    .env("ENVIRONMENT", &env)
    .env("CACHE_URL", format!("aws-ssm:///{env}/app/URL"))
    .args(["--", "printenv", "CACHE_URL"])
    .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    assert_eq!(run.stdout, "redis://cache:6379/0\n");
}

#[test]
fn a_stringlist_into_a_non_list_variable_fails_its_rules() {
    let env = unique("ps");
    put(&format!("/{env}/app/PORT"), "StringList", "80,443");
    let run = gate(
        &schema(
            &env,
            &[("PORT", "parameter = \"app/PORT\"\ntype = \"port\"")],
        ),
        &endpoint(),
    )
    .env("USE_PARAMETER_STORE", "true")
    .env("ENVIRONMENT", &env)
    .args(["--", "true"])
    .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(
        run.stderr.contains("PORT is not a port"),
        "{}",
        run.transcript()
    );
}

#[test]
fn schema_and_setting_errors() {
    let env = unique("ps");
    let both = schema(&env, &[("X", "secret = \"app#x\"\nparameter = \"app/X\"")]);
    let run = gate(&both, &endpoint()).args(["--check"]).run();
    assert_eq!(run.code, 65, "{}", run.transcript());
    assert!(
        run.transcript().contains("either a secret or a parameter"),
        "{}",
        run.transcript()
    );
    let spaced = schema(&env, &[("X", "parameter = \"app/has space\"")]);
    let run = gate(&spaced, &endpoint()).args(["--check"]).run();
    assert_eq!(run.code, 65, "{}", run.transcript());
    let convention =
        format!("[envgate]\nenvironments = [\"{env}\"]\nparameter_name = \"/app/{{name}}\"\n");
    let run = gate(&convention, &endpoint()).args(["--check"]).run();
    assert_eq!(run.code, 65, "{}", run.transcript());
    assert!(
        run.transcript().contains("parameter_name"),
        "{}",
        run.transcript()
    );
    let run = gate(&schema(&env, &[("X", "")]), &endpoint())
        .env("ENVIRONMENT", &env)
        .env("USE_PARAMETER_STORE", "maybe")
        .args(["--check"])
        .run();
    assert_eq!(run.code, 78, "{}", run.transcript());
    assert!(
        run.transcript().contains("USE_PARAMETER_STORE"),
        "{}",
        run.transcript()
    );
}

/// `--watch` refreshes parameters as it refreshes secrets: a changed value
/// restarts the program with it.
#[test]
fn watch_restarts_the_program_when_a_parameter_changes() {
    use crate::supervise::{finish, lines, spawn, wait_until};
    use std::time::Duration;
    let env = unique("ps");
    let name = format!("/{env}/app/MODE");
    put(&name, "String", "blue");
    let gate = gate(
        &schema(&env, &[("MODE", "parameter = \"app/MODE\"")]),
        &endpoint(),
    )
    .env("USE_PARAMETER_STORE", "true")
    .env("ENVIRONMENT", &env)
    .env("SECRETS_CACHE_TTL", "1");
    let log = gate.dir().join("runs.log");
    let gate = gate.args([
        "--watch".to_owned(),
        "--audit-log".to_owned(),
        "audit.log".to_owned(),
        "--".to_owned(),
        "sh".to_owned(),
        "-c".to_owned(),
        format!(
            "echo \"$MODE\" >> {}; while :; do sleep 0.05; done",
            log.display()
        ),
    ]);
    let child = spawn(&gate);
    wait_until("the first start", Duration::from_secs(15), || {
        lines(&log).len() == 1
    });
    put(&name, "String", "green");
    wait_until(
        "the restart with the new value",
        Duration::from_secs(15),
        || lines(&log).len() == 2,
    );
    assert_eq!(lines(&log), ["blue", "green"]);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(child.id()).unwrap()),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let run = finish(child);
    assert_eq!(run.code, 143, "{}", run.transcript());
    let restarts: Vec<_> = gate
        .audit_events()
        .into_iter()
        .filter(|event| event["event"] == "process.restart")
        .collect();
    assert_eq!(restarts.len(), 1, "{restarts:?}");
}

/// A role without `ssm:GetParameters` (moto with IAM enforced): 77, naming the
/// parameter and what to allow; nothing launched.
#[test]
fn a_denied_parameter_exits_77_and_names_it() {
    let server = crate::moto::OwnServer::start();
    let env = "production";
    aws_cli(
        &server.endpoint,
        &[
            "ssm",
            "put-parameter",
            "--name",
            "/production/app/DB_HOST",
            "--type",
            "String",
            "--value",
            "db",
        ],
    );
    let (key_id, secret) =
        crate::moto::iam_user_allowed(&server.endpoint, &["secretsmanager:GetSecretValue"]);
    crate::secrets::enforce_iam(&server.endpoint);
    let run = gate(
        &schema(env, &[("DB_HOST", "parameter = \"app/DB_HOST\"")]),
        &server.endpoint,
    )
    .env("AWS_ACCESS_KEY_ID", &key_id)
    .env("AWS_SECRET_ACCESS_KEY", &secret)
    .env("USE_PARAMETER_STORE", "true")
    .env("ENVIRONMENT", env)
    .args(["--", "echo", "launched"])
    .run();
    assert_eq!(run.code, 77, "{}", run.transcript());
    assert!(
        run.stderr
            .contains("access to parameter `/production/app/DB_HOST` was denied"),
        "{}",
        run.transcript()
    );
    assert!(
        run.stderr.contains("ssm:GetParameters"),
        "{}",
        run.transcript()
    );
    assert_eq!(run.stdout, "");
}
