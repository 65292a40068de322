//! `envgate codegen python`: the module converts as the validator does (a
//! property test runs both on the same values), passes `mypy --strict`, and a
//! Django project's settings import it under `manage.py check`.

use std::path::Path;

use envgate::rules::{Rules, VarType, check_value, list_items, parse_bool};
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::harness::{Envgate, run_reference, test_python};

/// A schema with one optional variable per converted type.
const TYPES_SCHEMA: &str = "[vars.B]\ntype = \"bool\"\nrequired = false\n[vars.I]\ntype = \"int\"\nrequired = false\n[vars.P]\ntype = \"port\"\nrequired = false\n[vars.L]\ntype = \"list\"\nrequired = false\n[vars.D]\ntype = \"duration\"\nrequired = false\n";

fn generated(schema: &str) -> (Envgate, std::path::PathBuf) {
    let gate = Envgate::with_schema(schema);
    let run = gate.args(["codegen", "python", "--output", "env.py"]);
    let result = run.run();
    assert_eq!(result.code, 0, "{}", result.transcript());
    let path = run.dir().join("env.py");
    (run, path)
}

/// The validator's verdict and conversion, in the reference script's shape.
fn envgate_converts(kind: &str, value: &str) -> Value {
    let var_type = match kind {
        "bool" => VarType::Bool,
        "int" => VarType::Int,
        "port" => VarType::Port,
        "list" => VarType::List,
        _ => VarType::Duration,
    };
    if !check_value(var_type, &Rules::default(), value, false).is_empty() {
        return json!([false, null]);
    }
    let converted = match kind {
        "bool" => json!(parse_bool(value).unwrap()),
        "int" | "port" => json!(value.trim_start_matches('+').parse::<i64>().unwrap()),
        "list" => json!(list_items(value)),
        _ => {
            let millis = envgate::duration::parse(value).unwrap().as_millis();
            // Python's timedelta holds at most 999,999,999 days: a longer duration
            // envgate accepts is a ConfigError there (docs/DECISIONS.md).
            if millis > 86_399_999_999_999_999 {
                return json!([false, null]);
            }
            json!(u64::try_from(millis).unwrap())
        }
    };
    json!([true, converted])
}

fn value() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "0",
            "1",
            "7",
            "65535",
            "65536",
            "99999999999999999999",
            "-",
            "+",
            " ",
            "\t",
            ",",
            "a",
            "true",
            "TRUE",
            "Yes",
            "off",
            "n",
            "maybe",
            "ms",
            "s",
            "m",
            "h",
            "d",
            "w",
            "x",
            "10",
            "1h30m",
            "٣",
            "\u{a0}",
            ".",
            "e",
        ]),
        0..5,
    )
    .prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    /// The generated converters accept exactly what envgate accepts, and give the
    /// same value: one table of words, splitting and units, read by both.
    #[test]
    fn the_module_converts_as_envgate_validates(
        cases in prop::collection::vec(
            (prop::sample::select(vec!["bool", "int", "port", "list", "duration"]), value()),
            300,
        ),
    ) {
        let (_gate, module) = generated(TYPES_SCHEMA);
        let python = test_python("json");
        let request = json!({ "module": module, "cases": cases });
        let answers = run_reference(&python, "codegen_reference.py", &request, &[]);
        for ((kind, value), answer) in cases.iter().zip(answers.as_array().unwrap()) {
            let ours = envgate_converts(kind, value);
            prop_assert_eq!(&ours, answer, "{} {:?}", kind, value);
        }
    }
}

#[test]
fn the_example_module_passes_mypy_strict() {
    let module = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/env.py");
    let python = test_python("mypy");
    let output = std::process::Command::new(&python)
        .args([
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            "/dev/null",
        ])
        .arg(&module)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Keywords, dunder names and names that differ only in case still give valid,
/// typed Python.
#[test]
fn odd_names_give_valid_python() {
    let schema = "[vars.None]\nrequired = false\n[vars.class]\nrequired = false\n[vars.class_]\nrequired = false\n[vars.__init__]\nrequired = false\n[vars.Debug]\ntype = \"bool\"\ndefault = \"false\"\n[vars.DEBUG]\ntype = \"bool\"\ndefault = \"true\"\n";
    let (_gate, module) = generated(schema);
    let python = test_python("mypy");
    let output = std::process::Command::new(&python)
        .args([
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            "/dev/null",
        ])
        .arg(&module)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let text = std::fs::read_to_string(&module).unwrap();
    for attribute in [
        "None_:",
        "class__:",
        "class_:",
        "__init___:",
        "Debug: bool",
        "DEBUG: bool",
    ] {
        assert!(text.contains(attribute), "{attribute}:\n{text}");
    }
}

/// Stale or current, as `docs --check`; the committed example is current.
#[test]
fn check_reports_a_stale_module() {
    let (gate, module) = generated(TYPES_SCHEMA);
    std::fs::write(&module, "# edited\n").unwrap();
    let run = Envgate::with_schema(TYPES_SCHEMA)
        .args([
            "codegen".as_ref(),
            "python".as_ref(),
            "--check".as_ref(),
            module.as_os_str(),
        ])
        .run();
    assert_eq!(run.code, 1, "{}", run.transcript());
    assert!(
        run.stdout.contains("is stale; regenerate it with: envgate"),
        "{}",
        run.stdout
    );
    drop(gate);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/env.py");
    let run = Envgate::muejam()
        .args([
            "codegen".as_ref(),
            "python".as_ref(),
            "--check".as_ref(),
            example.as_os_str(),
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.transcript());
}

/// The Django fixture project imports the generated module from its settings and
/// passes Django's own `manage.py check`; without a required value, the import
/// fails naming it; a sensitive value's repr is masked.
#[test]
fn a_django_project_reads_its_settings_through_the_module() {
    let schema = "[vars.SECRET_KEY]\nsensitive = true\n[vars.DEBUG]\ntype = \"bool\"\ndefault = \"false\"\n[vars.ALLOWED_HOSTS]\ntype = \"list\"\nrequired = false\n[vars.WORKERS]\ntype = \"int\"\ndefault = \"4\"\n";
    let (gate, module) = generated(schema);
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/django_project");
    let project = gate.dir().join("project");
    std::fs::create_dir_all(project.join("config")).unwrap();
    std::fs::copy(fixture.join("manage.py"), project.join("manage.py")).unwrap();
    for app in ["billing", "accounts"] {
        std::fs::create_dir_all(project.join(app)).unwrap();
        std::fs::write(project.join(app).join("__init__.py"), "").unwrap();
    }
    std::fs::write(project.join("config/__init__.py"), "").unwrap();
    std::fs::copy(&module, project.join("config/env.py")).unwrap();
    std::fs::write(
        project.join("config/settings.py"),
        "from config.env import env\n\nSECRET_KEY = env.SECRET_KEY\nDEBUG = env.DEBUG\nALLOWED_HOSTS = env.ALLOWED_HOSTS or []\nWORKERS = env.WORKERS\nINSTALLED_APPS = [\"billing\", \"accounts\"]\nDATABASES: dict[str, dict[str, str]] = {}\nUSE_TZ = True\n",
    )
    .unwrap();
    std::fs::write(
        project.join("config/urls.py"),
        "urlpatterns: list[object] = []\n",
    )
    .unwrap();
    let python = test_python("django");
    let check = |env: &[(&str, &str)]| {
        std::process::Command::new(&python)
            .args(["manage.py", "check"])
            .current_dir(&project)
            .env_clear()
            .env("DJANGO_SETTINGS_MODULE", "config.settings")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let key = "q9#Lx2!vR7@kZp4$Wm8^Tn3&Hs6*Yb1(Jd5)Fg0_Cu-Ae=Oi+QlCANARY";
    let ok = check(&[
        ("SECRET_KEY", key),
        ("DEBUG", "yes"),
        ("ALLOWED_HOSTS", "a.example, b.example"),
    ]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(
        String::from_utf8_lossy(&ok.stdout).contains("no issues"),
        "{ok:?}"
    );
    let missing = check(&[("DEBUG", "yes")]);
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("ConfigError: SECRET_KEY is not set"),
        "{stderr}"
    );
    let bad = check(&[("SECRET_KEY", key), ("DEBUG", "maybe")]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("DEBUG is not a boolean"), "{stderr}");
    let shown = std::process::Command::new(&python)
        .args(["-c", "from config.env import env; print(repr(env.SECRET_KEY), env.WORKERS, env.ALLOWED_HOSTS)"])
        .current_dir(&project)
        .env_clear()
        .env("SECRET_KEY", key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&shown.stdout);
    assert_eq!(
        stdout.trim(),
        "Secret('********') 4 None",
        "{}",
        String::from_utf8_lossy(&shown.stderr)
    );
}
