//! The project's `.pre-commit-hooks.yaml`, run by the real pre-commit (from PyPI,
//! in the test venv) in a throwaway git repository: a stale docs file or an invalid
//! example fails the commit, fresh ones pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCHEMA: &str = "[vars.PORT]\ntype = \"port\"\ndescription = \"Where the app listens.\"\n";

fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git is needed for this test")
}

fn envgate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_envgate"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The project's commit that holds `.pre-commit-hooks.yaml`.
fn project_rev() -> String {
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = git(project, &["rev-parse", "HEAD"]);
    assert!(output.status.success(), "the project is not a git checkout");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

struct Repo {
    dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

impl Repo {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        let repo = Self { dir, home };
        repo.git(&["init", "-q"]);
        repo.git(&["config", "user.email", "test@example.com"]);
        repo.git(&["config", "user.name", "envgate test"]);
        repo.write(
            ".pre-commit-config.yaml",
            &format!(
                "repos:\n  - repo: {}\n    rev: {}\n    hooks:\n      - id: envgate-check\n        args: [--schema, env.schema.toml, --env-file, .env.example]\n      - id: envgate-docs\n        args: [--schema, env.schema.toml, docs, --check, ENVIRONMENT_VARIABLES.md]\n",
                env!("CARGO_MANIFEST_DIR"),
                project_rev()
            ),
        );
        repo
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn write(&self, name: &str, text: &str) {
        std::fs::write(self.path().join(name), text).unwrap();
    }

    fn git(&self, args: &[&str]) -> Output {
        let output = git(self.path(), args);
        assert!(output.status.success(), "git {args:?}: {output:?}");
        output
    }

    /// Runs a command with envgate and the venv's pre-commit on PATH.
    fn run(&self, program: &str, args: &[&str]) -> (bool, String) {
        let venv = crate::moto::venv_bin();
        assert!(
            venv.join("pre-commit").exists(),
            "pre-commit is not installed in {}. Run `scripts/setup-test-env.sh` (or `scripts/test.sh`).",
            venv.display()
        );
        let path = format!(
            "{}:{}:/usr/local/bin:/usr/bin:/bin",
            envgate_dir().display(),
            venv.display()
        );
        let output = Command::new(program)
            .args(args)
            .current_dir(self.path())
            .env_clear()
            .env("PATH", path)
            .env("HOME", self.home.path())
            .env("PRE_COMMIT_HOME", self.home.path().join("pre-commit"))
            .env("ENVGATE_AUDIT_LOG", "off")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    fn commit(&self, message: &str) -> (bool, String) {
        self.git(&["add", "-A"]);
        self.run("git", &["commit", "-q", "-m", message])
    }
}

#[test]
fn the_hooks_fail_a_commit_with_stale_docs_or_an_invalid_example() {
    let repo = Repo::new();
    repo.write("env.schema.toml", SCHEMA);
    repo.write(".env.example", "PORT=8000\n");
    let (ok, text) = repo.run(
        "envgate",
        &[
            "--schema",
            "env.schema.toml",
            "docs",
            "--output",
            "ENVIRONMENT_VARIABLES.md",
        ],
    );
    assert!(ok, "{text}");
    let (ok, text) = repo.run("pre-commit", &["install"]);
    assert!(ok, "{text}");

    // Fresh docs, a valid example: the commit goes through.
    let (ok, text) = repo.commit("first");
    assert!(ok, "{text}");

    // The schema changes, the docs do not: the commit is refused, with the diff.
    repo.write(
        "env.schema.toml",
        &format!("{SCHEMA}[vars.WORKERS]\ntype = \"int\"\nrequired = false\n"),
    );
    let (ok, text) = repo.commit("stale docs");
    assert!(!ok, "a stale docs file was committed:\n{text}");
    assert!(text.contains("is stale"), "{text}");

    // Regenerated: it goes through again.
    let (ok, text) = repo.run(
        "envgate",
        &[
            "--schema",
            "env.schema.toml",
            "docs",
            "--output",
            "ENVIRONMENT_VARIABLES.md",
        ],
    );
    assert!(ok, "{text}");
    let (ok, text) = repo.commit("fresh docs");
    assert!(ok, "{text}");

    // An example value that breaks the schema is refused too.
    repo.write(".env.example", "PORT=not-a-port\n");
    let (ok, text) = repo.commit("bad example");
    assert!(!ok, "an invalid example was committed:\n{text}");
    assert!(text.contains("PORT"), "{text}");
}

/// The `envgate-scan` hook: a commit whose code reads a variable the schema does
/// not declare is refused, naming it; declared, it goes through.
#[test]
fn the_scan_hook_refuses_code_that_reads_an_undeclared_variable() {
    let repo = Repo::new();
    repo.write(
        ".pre-commit-config.yaml",
        &format!(
            "repos:\n  - repo: {}\n    rev: {}\n    hooks:\n      - id: envgate-scan\n        args: [--schema, env.schema.toml]\n",
            env!("CARGO_MANIFEST_DIR"),
            project_rev()
        ),
    );
    repo.write("env.schema.toml", SCHEMA);
    repo.write(
        "settings.py",
        "import os\nPORT = int(os.environ[\"PORT\"])\nTOKEN = os.getenv(\"API_TOKEN\")\n",
    );
    let (ok, text) = repo.run("pre-commit", &["install"]);
    assert!(ok, "{text}");
    let (ok, text) = repo.commit("undeclared");
    assert!(
        !ok,
        "code reading an undeclared variable was committed:\n{text}"
    );
    assert!(
        text.contains("API_TOKEN is read here but not declared"),
        "{text}"
    );
    repo.write(
        "env.schema.toml",
        &format!("{SCHEMA}[vars.API_TOKEN]\nsensitive = true\nrequired = false\n"),
    );
    let (ok, text) = repo.commit("declared");
    assert!(ok, "{text}");
}
