//! Failures of a run, and the one place that maps them to exit codes.
//!
//! A *failure* stops envgate before it can report on values (a schema that does not
//! load, a missing file, an exec that fails). A variable that fails a rule is not an
//! error but a [`Problem`]. Exit codes follow sysexits(3), as the README lists.

use std::path::{Path, PathBuf};

use miette::Diagnostic;
use thiserror::Error as ThisError;

use crate::fsio::io_reason;
use crate::problem::SchemaSource;
use crate::problem::{Code, Problem};

/// Exit codes, as documented in the README.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// `docs --check`: the file is stale.
    pub const STALE: u8 = 1;
    /// Command-line usage error.
    pub const USAGE: u8 = 2;
    /// The schema is invalid.
    pub const SCHEMA_INVALID: u8 = 65;
    /// The schema or an env file cannot be opened.
    pub const NO_INPUT: u8 = 66;
    /// The secret store is unavailable (unreachable, throttled, timeout, no credentials).
    pub const UNAVAILABLE: u8 = 69;
    /// A rotation failed.
    pub const ROTATION_FAILED: u8 = 70;
    /// An output file cannot be created.
    pub const CANT_CREATE: u8 = 73;
    /// Access denied (AWS AccessDenied, or the cross-environment guard).
    pub const ACCESS_DENIED: u8 = 77;
    /// The configuration (the values) is invalid.
    pub const CONFIG_INVALID: u8 = 78;
    /// The command exists but cannot be executed.
    pub const NOT_EXECUTABLE: u8 = 126;
    /// The command was not found.
    pub const NOT_FOUND: u8 = 127;

    /// Every exit status and what it means, for the manual page.
    pub const MEANINGS: &[(u8, &str)] = &[
        (
            OK,
            "the configuration is valid (check), or the docs are current",
        ),
        (STALE, "docs --check: the file is stale or missing"),
        (USAGE, "a usage error"),
        (SCHEMA_INVALID, "the schema is invalid"),
        (NO_INPUT, "the schema or an env file cannot be read"),
        (
            UNAVAILABLE,
            "Secrets Manager or Parameter Store unavailable: unreachable, timed out, throttled past retries, no credentials",
        ),
        (
            ROTATION_FAILED,
            "a rotation failed (the message names the step)",
        ),
        (CANT_CREATE, "an output file cannot be written"),
        (
            ACCESS_DENIED,
            "access denied: AWS AccessDenied, or the cross-environment guard",
        ),
        (
            CONFIG_INVALID,
            "the configuration is invalid: missing, weak or malformed values, a malformed .env file or launcher setting",
        ),
        (NOT_EXECUTABLE, "the command is not executable"),
        (NOT_FOUND, "the command was not found"),
    ];
}

/// Every problem of a schema that failed to load, with its text for diagnostics.
#[derive(Debug, Clone)]
pub struct SchemaErrors {
    /// The schema text and name.
    pub source: SchemaSource,
    /// What is wrong with it (at least one).
    pub problems: Vec<Problem>,
}

impl SchemaErrors {
    /// A schema failure made of one problem.
    #[must_use]
    pub fn single(name: &str, text: &str, problem: Problem) -> Self {
        Self {
            source: SchemaSource {
                name: name.to_owned(),
                text: text.into(),
            },
            problems: vec![problem],
        }
    }
}

/// A failure that ends the run.
#[derive(Debug, ThisError, Diagnostic)]
pub enum Error {
    /// The schema file cannot be opened or read.
    #[error("cannot read schema {}: {}", path.display(), io_reason(source))]
    #[diagnostic(
        code(envgate::schema::not_found),
        help(
            "Pass the schema with --schema FILE or ENVGATE_SCHEMA; without either, envgate reads ./env.schema.toml."
        )
    )]
    SchemaNotFound {
        /// The path as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// A path given to `envgate scan` does not exist.
    #[error("cannot scan {}: no such file or directory", path.display())]
    #[diagnostic(
        code(envgate::scan::no_path),
        help("Give the directory of the Python code (default: the current directory).")
    )]
    ScanPath {
        /// The path as given.
        path: PathBuf,
    },

    /// The schema file is larger than envgate accepts.
    #[error("schema {} is larger than {} MiB", path.display(), limit / 1024 / 1024)]
    #[diagnostic(
        code(envgate::schema::too_large),
        help(
            "A schema describes variables, not data; split it or remove what is not a variable declaration."
        )
    )]
    SchemaTooLarge {
        /// The path as given.
        path: PathBuf,
        /// The largest schema read, in bytes.
        limit: u64,
    },

    /// The schema has problems (all of them are listed).
    #[error("the schema is invalid")]
    #[diagnostic(code(envgate::schema::invalid))]
    SchemaInvalid(SchemaErrors),

    /// An `--env-file` cannot be opened or read.
    #[error("cannot read env file {}: {}", path.display(), io_reason(source))]
    #[diagnostic(
        code(envgate::env_file::not_found),
        help(
            "Check the path (relative paths start from the current directory) and that this user may read the file."
        )
    )]
    EnvFileNotFound {
        /// The path as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// The `--secrets-dir` directory cannot be listed.
    #[error("cannot read the secrets directory {}: {}", path.display(), io_reason(source))]
    #[diagnostic(
        code(envgate::secrets_dir::unreadable),
        help(
            "Check the path given to --secrets-dir, and that this user may list it (secret mounts are often root-only)."
        )
    )]
    SecretsDirUnreadable {
        /// The path as given.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// An `--env-file` is not UTF-8, too large, or does not parse.
    #[error("env file {}{}: {reason}", path.display(), line.map(|line| format!(", line {line}")).unwrap_or_default())]
    #[diagnostic(
        code(envgate::env_file::invalid),
        help(
            "Each line is NAME=value (python-dotenv's format): quote values with spaces or ' #', close every quote, and save the file as UTF-8."
        )
    )]
    EnvFileInvalid {
        /// The path as given.
        path: PathBuf,
        /// 1-based line number, when the problem has one.
        line: Option<usize>,
        /// What is wrong.
        reason: String,
    },

    /// One of envgate's own settings (from the environment) is malformed.
    #[error("{name} is not valid: {reason}")]
    #[diagnostic(code(envgate::invalid_setting), help("{help}"))]
    Setting {
        /// The setting's variable name.
        name: String,
        /// Why it does not parse.
        reason: String,
        /// What the setting accepts.
        help: String,
    },

    /// A command-line usage error.
    #[error("{0}")]
    #[diagnostic(code(envgate::usage), help("Run `envgate --help` for usage."))]
    Usage(String),

    /// The audit log cannot be opened (before any secret is read).
    #[error("cannot open the audit log {}: {}", path.display(), io_reason(source))]
    #[diagnostic(
        code(envgate::audit::open),
        help(
            "Create the directory and make it writable, or choose another path with --audit-log / ENVGATE_AUDIT_LOG (`-` is stderr)."
        )
    )]
    AuditLog {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// An audit line could not be written: envgate refuses to go on without it.
    #[error("cannot write the audit log ({destination}): {reason}; nothing was launched")]
    #[diagnostic(
        code(envgate::audit::write),
        help(
            "Free space on the audit log's file system, or fix its destination. envgate does not launch without its audit trail."
        )
    )]
    AuditWrite {
        /// The file, or `stderr`.
        destination: String,
        /// Why.
        reason: String,
    },

    /// The file given to `docs --check` cannot be read.
    #[error("cannot read {}: {}", path.display(), io_reason(source))]
    #[diagnostic(
        code(envgate::docs::unreadable),
        help("Give `docs --check` the regular file the docs were written to.")
    )]
    DocsUnreadable {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// An output file cannot be written.
    #[error("cannot write {}: {}", path.display(), io_reason(source))]
    #[diagnostic(
        code(envgate::output),
        help(
            "Check that the directory exists and is writable, and that the path is a regular file (envgate does not write through symlinks or into devices)."
        )
    )]
    Output {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },

    /// The environment envgate would pass is larger than the kernel takes.
    #[error(
        "the program's environment is too large to pass ({bytes} bytes; the limit here is {limit})"
    )]
    #[diagnostic(
        code(envgate::exec::too_large),
        help(
            "Deliver large values as files (deliver = \"file\") or trim what the container inherits."
        )
    )]
    EnvironmentTooLarge {
        /// Bytes the arguments and environment need.
        bytes: usize,
        /// What the kernel accepts.
        limit: usize,
    },

    /// The command to launch was not found.
    #[error("command not found: {program}")]
    #[diagnostic(
        code(envgate::exec::not_found),
        help(
            "Check the command name and the PATH of the container (a bare name is searched in PATH)."
        )
    )]
    CommandNotFound {
        /// The program as given.
        program: String,
    },

    /// The command to launch exists but cannot be executed.
    #[error("cannot execute {program}: {reason}")]
    #[diagnostic(
        code(envgate::exec::not_executable),
        help("Check the file's execute permission and its interpreter line (#!).")
    )]
    NotExecutable {
        /// The program as given.
        program: String,
        /// Why.
        reason: String,
    },
}

/// The exit code of a run whose problems include errors: access denied (77) over
/// an unavailable secret store (69) over invalid configuration (78).
#[must_use]
pub fn problems_exit_code(problems: &[Problem]) -> u8 {
    let has = |codes: &[Code]| {
        problems
            .iter()
            .any(|p| p.is_error() && codes.contains(&p.code))
    };
    if has(&[Code::AccessDenied, Code::CrossEnvironment]) {
        exit::ACCESS_DENIED
    } else if has(&[Code::StoreUnavailable, Code::Throttled]) {
        exit::UNAVAILABLE
    } else {
        exit::CONFIG_INVALID
    }
}

impl Error {
    /// A schema IO failure, choosing between "not found" and "too large".
    #[must_use]
    pub fn schema_io(path: &Path, source: std::io::Error, limit: u64) -> Self {
        if source.kind() == std::io::ErrorKind::FileTooLarge {
            Self::SchemaTooLarge {
                path: path.to_owned(),
                limit,
            }
        } else {
            Self::SchemaNotFound {
                path: path.to_owned(),
                source,
            }
        }
    }

    /// The exit code for this failure (sysexits).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::SchemaNotFound { .. }
            | Self::EnvFileNotFound { .. }
            | Self::SecretsDirUnreadable { .. }
            | Self::DocsUnreadable { .. }
            | Self::ScanPath { .. } => exit::NO_INPUT,
            Self::SchemaTooLarge { .. } | Self::SchemaInvalid(_) => exit::SCHEMA_INVALID,
            Self::EnvFileInvalid { .. } | Self::Setting { .. } => exit::CONFIG_INVALID,
            Self::Usage(_) => exit::USAGE,
            Self::Output { .. } | Self::AuditLog { .. } | Self::AuditWrite { .. } => {
                exit::CANT_CREATE
            }
            Self::CommandNotFound { .. } => exit::NOT_FOUND,
            Self::NotExecutable { .. } | Self::EnvironmentTooLarge { .. } => exit::NOT_EXECUTABLE,
        }
    }
}
