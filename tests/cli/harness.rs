//! A harness that runs the real `envgate` binary in a temporary directory with a
//! cleared environment: the environment is the input, so nothing leaks in.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// The project's example schema.
pub(crate) fn muejam_schema() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/muejam.toml"))
        .unwrap()
}

/// A `SECRET_KEY` that passes the example schema (generated once, used only in tests).
pub(crate) const GOOD_SECRET_KEY: &str = "q9#Lx2!vR7@kZp4$Wm8^Tn3&Hs6*Yb1(Jd5)Fg0_Cu-Ae=Oi+Ql";

/// Values that make the example schema valid in development.
pub(crate) const DEV_VALUES: &[(&str, &str)] = &[
    ("SECRET_KEY", GOOD_SECRET_KEY),
    ("DATABASE_USER", "muejam_user"),
    ("DATABASE_PASSWORD", "local-dev-s3cret"),
];

/// Values that make the example schema valid in production.
pub(crate) const PRODUCTION_VALUES: &[(&str, &str)] = &[
    ("ENVIRONMENT", "production"),
    ("SECRET_KEY", GOOD_SECRET_KEY),
    ("ALLOWED_HOSTS", "library.muejam.com,www.muejam.com"),
    ("DATABASE_HOST", "db.internal"),
    ("DATABASE_USER", "muejam_user"),
    ("DATABASE_PASSWORD", "Zr8-kq2Vw9-Lm4xT"),
    ("RESEND_API_KEY", "re_3kd93kfj39dk2l20dkeu"),
    ("CLERK_SECRET_KEY", "sk_live_9dk3kd9d3kd93kd9ek3"),
    ("AWS_REGION", "eu-west-1"),
];

/// One envgate invocation being prepared.
pub(crate) struct Envgate {
    dir: TempDir,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

/// What a run produced.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// exit code, stdout and stderr in one text, for snapshots.
    pub(crate) fn transcript(&self) -> String {
        format!(
            "exit: {}\n----- stdout -----\n{}----- stderr -----\n{}",
            self.code, self.stdout, self.stderr
        )
    }

    /// Everything the run printed.
    pub(crate) fn all_output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl Envgate {
    /// A run in a fresh directory whose `env.schema.toml` is `schema`.
    pub(crate) fn with_schema(schema: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("env.schema.toml"), schema).unwrap();
        // Audit lines go to a file of the run, so stdout and stderr stay comparable.
        let audit_log = dir.path().join("audit.log").into_os_string();
        Self {
            dir,
            args: Vec::new(),
            env: vec![
                ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
                ("ENVGATE_AUDIT_LOG".into(), audit_log),
            ],
        }
    }

    /// A run of the example schema.
    pub(crate) fn muejam() -> Self {
        Self::with_schema(&muejam_schema())
    }

    /// The audit lines written so far, parsed.
    pub(crate) fn audit_events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("audit.log"))
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
            .collect()
    }

    /// The run's directory.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file into the run's directory and returns its path.
    pub(crate) fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Adds command-line arguments.
    pub(crate) fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable.
    pub(crate) fn env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Sets several environment variables.
    pub(crate) fn envs(mut self, pairs: &[(&str, &str)]) -> Self {
        for (name, value) in pairs {
            self.env.push(((*name).into(), (*value).into()));
        }
        self
    }

    /// The command, ready to spawn.
    pub(crate) fn command(&self) -> Command {
        let mut command = Command::new(binary());
        command
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.env.iter().cloned())
            .args(&self.args);
        command
    }

    /// `program` (a wrapper: unshare, script, a shell) with this invocation's
    /// environment and directory, ready for its own arguments.
    pub(crate) fn wrapper(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.env.iter().cloned());
        command
    }

    /// The envgate binary followed by this invocation's arguments, for a wrapper.
    pub(crate) fn argv(&self) -> Vec<OsString> {
        std::iter::once(binary())
            .chain(self.args.iter().cloned())
            .collect()
    }

    /// Runs to completion on a pseudo-terminal (script(1)); returns what the
    /// terminal showed, stdout and stderr together, and whether it exited 0.
    pub(crate) fn run_on_terminal(&self) -> (bool, String) {
        let line = self
            .argv()
            .iter()
            .map(|arg| format!("'{}'", arg.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ");
        let output = self
            .wrapper("script")
            .args(["-qec", &line, "/dev/null"])
            .output()
            .expect("script (util-linux) is needed for this test");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    }

    /// Runs to completion with `input` on standard input.
    pub(crate) fn run_with_stdin(&self, input: &[u8]) -> Run {
        use std::io::Write as _;
        let mut child = self
            .command()
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        from_output(child.wait_with_output().unwrap())
    }

    /// Runs to completion.
    pub(crate) fn run(&self) -> Run {
        from_output(self.command().output().unwrap())
    }
}

/// Converts a process output.
#[allow(clippy::needless_pass_by_value)] // reads like `from_output(command.output()?)`
pub(crate) fn from_output(output: Output) -> Run {
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The binary under test: this build's, or `ENVGATE_TEST_BINARY` (another
/// build, e.g. an older commit's, to show a new test fails there).
pub(crate) fn binary() -> OsString {
    std::env::var_os("ENVGATE_TEST_BINARY")
        .unwrap_or_else(|| OsString::from(env!("CARGO_BIN_EXE_envgate")))
}

/// The test virtualenv's python (or `ENVGATE_TEST_PYTHON`), checked to have
/// `module`: a reference test fails, never skips, when its reference is missing.
pub(crate) fn test_python(module: &str) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var_os("ENVGATE_TEST_PYTHON")
        .map_or_else(|| root.join(".venv/bin/python"), PathBuf::from);
    let has_module = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        has_module,
        "{module} is not installed for {}. Run `scripts/test.sh` (it creates .venv with the test \
         dependencies), or set ENVGATE_TEST_PYTHON to a python that has it.",
        python.display()
    );
    python
}

/// Runs a reference script of tests/ under `python` with `input` as JSON on
/// stdin and `env` as its whole environment; returns its JSON answer.
pub(crate) fn run_reference(
    python: &Path,
    script: &str,
    input: &impl serde::Serialize,
    env: &[(&str, &str)],
) -> serde_json::Value {
    use std::io::Write as _;
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(script);
    let mut child = Command::new(python)
        .arg(&script)
        .env_clear()
        .env("PYTHONUTF8", "1")
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let input = serde_json::to_vec(input).unwrap();
    child.stdin.take().unwrap().write_all(&input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}
