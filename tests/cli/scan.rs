//! `envgate scan` on a small Django project (tests/fixtures/django_project):
//! settings and two apps reading variables in every supported style.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::harness::Envgate;

/// A copy of the fixture project in a fresh directory, plus what must not be
/// committed: a `.gitignore`d file with an undeclared read, a file Python refuses,
/// a binary and a Latin-1 file under `.py` names, and a symlink loop.
fn project() -> Envgate {
    let gate = Envgate::with_schema("");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/django_project");
    copy(&fixture, gate.dir());
    gate.file(".gitignore", "generated_settings.py\n");
    gate.file(
        "generated_settings.py",
        "import os\nHIDDEN = os.environ[\"IGNORED_BY_GIT\"]\n",
    );
    gate.file(
        "accounts/broken.py",
        "import os\ndef broken(:\n    os.environ['NEVER_SEEN']\n",
    );
    gate.file("accounts/blob.py", b"\x00\x01\x02binary".as_slice());
    gate.file("accounts/latin1.py", b"# caf\xe9\nimport os\n".as_slice());
    std::os::unix::fs::symlink(gate.dir(), gate.dir().join("accounts/loop")).unwrap();
    gate
}

fn copy(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn findings(stdout: &str) -> Vec<(String, String, String)> {
    let report: serde_json::Value = serde_json::from_str(stdout).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|finding| {
            (
                finding["kind"].as_str().unwrap().to_owned(),
                finding["name"].as_str().unwrap_or("-").to_owned(),
                format!(
                    "{}:{}:{}",
                    finding["file"].as_str().unwrap(),
                    finding["line"],
                    finding["column"]
                ),
            )
        })
        .collect()
}

fn triple(kind: &str, name: &str, at: &str) -> (String, String, String) {
    (kind.to_owned(), name.to_owned(), at.to_owned())
}

#[test]
fn the_django_project_gets_exactly_its_findings() {
    let run = project().args(["scan", "--format", "json"]).run();
    assert_eq!(run.code, 1, "{}", run.transcript());
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(
        findings(&run.stdout),
        [
            triple("unparsable", "-", "accounts/blob.py:1:1"),
            triple("unparsable", "-", "accounts/broken.py:2:1"),
            triple("unparsable", "-", "accounts/latin1.py:1:1"),
            triple("dynamic", "-", "accounts/providers.py:6:12"),
            triple(
                "undeclared",
                "STRIPE_WEBHOOK_SECRET",
                "billing/stripe.py:5:25"
            ),
            triple("default_mismatch", "CACHE_URL", "config/settings.py:18:13"),
            triple("unused", "LEGACY_FLAG", "env.schema.toml:54:7"),
        ]
    );
}

#[test]
fn formats_and_exit_codes() {
    let gate = project();
    let human = gate.args(["scan"]).run();
    assert_eq!(human.code, 1, "{}", human.transcript());
    assert!(
        human.stdout.contains("envgate::scan::undeclared"),
        "{}",
        human.stdout
    );
    assert!(
        human
            .stdout
            .contains("STRIPE_WEBHOOK_SECRET = config(\"STRIPE_WEBHOOK_SECRET\", default=\"\")"),
        "the code line is shown: {}",
        human.stdout
    );
    let github = project().args(["scan", "--format", "github"]).run();
    assert!(
        github.stdout.contains(
            "::error file=billing/stripe.py,line=5,col=25,title=envgate scan: undeclared::"
        ),
        "{}",
        github.stdout
    );
    // Declared, the undeclared read passes; warnings pass unless --strict.
    let fixed = project();
    let schema = std::fs::read_to_string(fixed.dir().join("env.schema.toml")).unwrap()
        + "\n[vars.STRIPE_WEBHOOK_SECRET]\nsensitive = true\nrequired = false\n";
    std::fs::write(fixed.dir().join("env.schema.toml"), schema).unwrap();
    let run = fixed.args(["scan", "--format", "json"]).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let strict = project().args(["scan", "--strict", "nothing-here"]).run();
    assert_eq!(strict.code, 66, "{}", strict.transcript());
}

#[test]
fn a_path_is_scanned_from_where_it_is_given() {
    let gate = project();
    let run = gate
        .args([
            "scan".as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
            PathBuf::from("billing").as_os_str(),
        ])
        .run();
    let found = findings(&run.stdout);
    assert!(
        found.contains(&triple(
            "undeclared",
            "STRIPE_WEBHOOK_SECRET",
            "stripe.py:5:25"
        )),
        "{found:?}"
    );
}

#[test]
fn an_exclude_glob_and_an_ignored_name_are_left_alone() {
    let gate = project();
    let schema = std::fs::read_to_string(gate.dir().join("env.schema.toml"))
        .unwrap()
        .replace("ignore = [\"DJANGO_SETTINGS_MODULE\"]", "ignore = [\"DJANGO_SETTINGS_MODULE\", \"STRIPE_WEBHOOK_SECRET\"]\nexclude = [\"accounts/**\"]");
    std::fs::write(gate.dir().join("env.schema.toml"), schema).unwrap();
    let run = gate.args(["scan", "--format", "json"]).run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let found = findings(&run.stdout);
    assert!(
        found.iter().all(|(_, _, at)| !at.starts_with("accounts/")),
        "{found:?}"
    );
}

/// `init --from-code`: a draft from the code's reads (names, literal defaults,
/// types from casts, sensitive by name) that `scan` then passes with no
/// `undeclared`; with `--from .env` too, the file's entries and the code's names.
#[test]
fn a_draft_from_the_code_passes_scan() {
    let gate = project().args(["init", "--from-code", ".", "--output", "draft.toml"]);
    let run = gate.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let draft = std::fs::read_to_string(gate.dir().join("draft.toml")).unwrap();
    for expected in [
        "[vars.STRIPE_WEBHOOK_SECRET]",
        "[vars.WORKERS]\ndescription = \"TODO: what WORKERS is for.\"\ntype = \"int\"",
        "default = \"8\"",
        "default = \"redis://cache:6379/0\"",
        "[vars.DATABASE_URL]\ndescription = \"TODO: what DATABASE_URL is for.\"\ntype = \"url\"",
    ] {
        assert!(draft.contains(expected), "{expected}:\n{draft}");
    }
    assert!(!draft.contains("[vars.IGNORED_BY_GIT]"), "{draft}");
    let scan = Envgate::with_schema(&draft)
        .args([
            "scan".as_ref(),
            "--format".as_ref(),
            "json".as_ref(),
            gate.dir().as_os_str(),
        ])
        .run();
    let found = findings(&scan.stdout);
    assert!(
        found.iter().all(|(kind, _, _)| kind != "undeclared"),
        "{found:?}"
    );

    let both = project();
    both.file(".env", "EXTRA_FROM_FILE=1\nWORKERS=4\n");
    let both = both.args([
        "init",
        "--from",
        ".env",
        "--from-code",
        ".",
        "--output",
        "both.toml",
    ]);
    let run = both.run();
    assert_eq!(run.code, 0, "{}", run.transcript());
    let draft = std::fs::read_to_string(both.dir().join("both.toml")).unwrap();
    assert!(draft.contains("[vars.EXTRA_FROM_FILE]"), "{draft}");
    assert!(draft.contains("[vars.STRIPE_API_KEY]"), "{draft}");
}

/// A 20 MB generated module (the size of a large generated settings or fixtures
/// file) is scanned like any other: every read found, in the debug build too.
#[test]
fn a_twenty_megabyte_generated_file_is_scanned() {
    let gate =
        Envgate::with_schema("[vars.UNUSED_HERE]\nrequired = false\nread_by = [\"gunicorn\"]\n");
    let mut text = String::from("import os\n");
    let (mut lines, mut reads) = (0, 0);
    while text.len() < 20 * 1024 * 1024 {
        if lines % 500 == 0 {
            let _ = writeln!(
                text,
                "READ_{reads} = os.environ.get(\"GENERATED_{reads:04}\")"
            );
            reads += 1;
        } else {
            let _ = writeln!(text, "DATA_{lines} = \"{}\"", "x".repeat(120));
        }
        lines += 1;
    }
    gate.file("generated.py", &text);
    let run = gate.args(["scan", "--format", "json"]).run();
    assert_eq!(
        run.code,
        1,
        "{}",
        run.transcript().chars().take(2000).collect::<String>()
    );
    let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), reads, "one undeclared finding per read");
    assert!(
        findings
            .iter()
            .all(|finding| finding["kind"] == "undeclared")
    );
}

/// A default written in the code may be a secret: no format shows it, nor the line
/// it stands on, nor a neighbouring line (generated: every kind of finding next to
/// every kind of secret line).
#[test]
fn a_secret_default_in_the_code_is_never_shown() {
    let schema = "[vars.API_KEY]\nsensitive = true\nrequired = false\ndefault = \"schema-side\"\n\
                  [vars.PORT]\ntype = \"port\"\nrequired = false\n";
    let secret_lines = [
        "KEY = os.environ.get(\"API_KEY\", \"canary-declared-sensitive\")",
        "TOKEN = os.getenv(\"API_TOKEN\", \"canary-undeclared-by-name\")",
        "DSN = os.getenv(\"DATABASE_URL\", \"postgres://app:canary-in-a-dsn@db/app\")",
        "ANY = os.environ.get(name, \"canary-dynamic-name\")",
        "PASSWORD = \"canary-neighbouring-line\"",
    ];
    let findings_lines = [
        "UNDECLARED = os.environ[\"SOME_SETTING\"]",
        "PORT = os.environ.get(\"PORT\", \"8000\")",
        "DYNAMIC = os.environ[name]",
    ];
    for secret in secret_lines {
        for finding in findings_lines {
            let module = format!("import os\nname = 'X'\n{finding}\n{secret}\n{finding}\n");
            for format in ["human", "json", "github"] {
                let gate = Envgate::with_schema(schema);
                gate.file("app.py", module.as_str());
                let run = gate.args(["scan", "--format", format]).run();
                assert!(run.code == 0 || run.code == 1, "{}", run.transcript());
                assert!(
                    !run.transcript().contains("canary"),
                    "{format}, {secret}: {}",
                    run.transcript()
                );
            }
        }
    }
}
