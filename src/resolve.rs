//! Resolving values: which source gives each variable its value.
//!
//! Precedence, highest first: the process environment (or `NAME_FILE`, the
//! Docker/Kubernetes convention: the value is that file's content with one
//! trailing newline trimmed), the variable's aliases in the process environment,
//! `--env-file` files (later files win), then the schema `default`.
//!
//! An empty value counts as "set" for a variable required in the environment and
//! without a default (validation then reports it as empty); otherwise it counts as
//! unset, so that `FOO=` falls through to the next source or the default. Values are
//! held as [`SecretString`] from the moment they are read.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;

use crate::error::Error;
use crate::problem::{Code, Problem};
use crate::schema::{Schema, VarSpec};

/// The largest `NAME_FILE` envgate reads.
const MAX_VALUE_FILE_BYTES: u64 = 1024 * 1024;

/// A copy of the process environment, taken once at start.
#[derive(Clone, Default)]
pub struct EnvSnapshot {
    vars: Vec<(OsString, OsString)>,
    /// Position of each name in `vars`: lookups are per variable, so keep them O(1).
    index: HashMap<OsString, usize>,
}

impl fmt::Debug for EnvSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: the environment holds secrets.
        f.debug_list()
            .entries(self.vars.iter().map(|(name, _)| name))
            .finish()
    }
}

impl EnvSnapshot {
    /// The environment of this process.
    #[must_use]
    pub fn from_process() -> Self {
        Self::from_pairs(std::env::vars_os())
    }

    /// An environment made of these pairs (later duplicates win).
    pub fn from_pairs<K, V>(pairs: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let mut snapshot = Self::default();
        for (name, value) in pairs {
            snapshot.set(name.into(), value.into());
        }
        snapshot
    }

    /// The value of `name`, if set.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&OsStr> {
        self.index
            .get(OsStr::new(name))
            .map(|&position| self.vars[position].1.as_os_str())
    }

    /// The value of `name` when set and valid UTF-8.
    #[must_use]
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(OsStr::to_str)
    }

    /// Sets (or replaces) `name`.
    pub fn set(&mut self, name: OsString, value: OsString) {
        if let Some(&position) = self.index.get(&name) {
            self.vars[position].1 = value;
        } else {
            self.index.insert(name.clone(), self.vars.len());
            self.vars.push((name, value));
        }
    }

    /// Every pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars
            .iter()
            .map(|(name, value)| (name.as_os_str(), value.as_os_str()))
    }
}

/// The entries of one `--env-file`, parsed with dotenvy's rules.
pub struct EnvFile {
    /// The path as given.
    pub path: PathBuf,
    /// Entries by name; a name repeated in the file keeps its last value.
    entries: HashMap<String, SecretString>,
}

impl fmt::Debug for EnvFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvFile")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl EnvFile {
    /// Reads and parses a `.env` file (quotes, `export`, comments, multi-line values).
    ///
    /// # Errors
    /// [`Error::EnvFileNotFound`] (exit 66) or [`Error::EnvFileSyntax`] with the
    /// line number (exit 78).
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = read_text(path).map_err(|source| Error::EnvFileNotFound {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Parses `.env` text; `path` is only used in messages.
    ///
    /// # Errors
    /// [`Error::EnvFileSyntax`] naming the line that does not parse.
    pub fn parse(path: &Path, text: &str) -> Result<Self, Error> {
        let mut entries = HashMap::new();
        for item in dotenvy::from_read_iter(text.as_bytes()) {
            match item {
                Ok((name, value)) => {
                    entries.insert(name, SecretString::from(value));
                }
                Err(dotenvy::Error::LineParse(line, _)) => {
                    return Err(Error::EnvFileSyntax {
                        path: path.to_owned(),
                        line: line_number_of(text, &line),
                    });
                }
                Err(other) => {
                    return Err(Error::EnvFileNotFound {
                        path: path.to_owned(),
                        source: std::io::Error::other(other.to_string()),
                    });
                }
            }
        }
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }

    fn get(&self, name: &str) -> Option<&SecretString> {
        self.entries.get(name)
    }
}

/// The 1-based line where `fragment` (a line dotenvy rejected) starts in `text`.
fn line_number_of(text: &str, fragment: &str) -> usize {
    let first_line = fragment.lines().next().unwrap_or(fragment).trim();
    text.lines()
        .position(|line| !first_line.is_empty() && line.trim() == first_line)
        .map_or(1, |index| index + 1)
}

fn read_text(path: &Path) -> std::io::Result<String> {
    if path.is_dir() {
        return Err(std::io::Error::from(std::io::ErrorKind::IsADirectory));
    }
    let bytes = read_limited(path)?;
    String::from_utf8(bytes)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not valid UTF-8"))
}

fn read_limited(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_VALUE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_VALUE_FILE_BYTES {
        return Err(std::io::Error::from(std::io::ErrorKind::FileTooLarge));
    }
    Ok(bytes)
}

/// Where a variable's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The process environment.
    Env,
    /// The process environment, under an alias.
    Alias(String),
    /// The file named by `NAME_FILE`.
    File(PathBuf),
    /// An `--env-file`.
    EnvFile(PathBuf),
    /// The schema default.
    Default,
    /// No source had a value.
    Unset,
    /// AWS Secrets Manager.
    SecretsManager {
        /// The secret id requested.
        secret_id: String,
        /// The version read.
        version_id: Option<String>,
        /// The staging label that selected it.
        stage: Option<String>,
    },
    /// A source was set but could not be read; a problem says why.
    Failed,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env => f.write_str("env"),
            Self::Alias(alias) => write!(f, "env ({alias})"),
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::EnvFile(path) => write!(f, "env-file {}", path.display()),
            Self::Default => f.write_str("default"),
            Self::Unset => f.write_str("unset"),
            Self::SecretsManager {
                secret_id,
                version_id,
                stage,
            } => {
                write!(f, "secrets-manager {secret_id}")?;
                let version = version_id
                    .as_deref()
                    .map(|id| id.chars().take(8).collect::<String>());
                match (version, stage) {
                    (Some(version), Some(stage)) => write!(f, " ({stage}, version {version})"),
                    (Some(version), None) => write!(f, " (version {version})"),
                    (None, Some(stage)) => write!(f, " ({stage})"),
                    (None, None) => Ok(()),
                }
            }
            Self::Failed => f.write_str("unreadable"),
        }
    }
}

/// One variable's resolved value.
pub struct ResolvedVar {
    /// The variable name.
    pub name: String,
    /// The value, when some source had one.
    pub value: Option<SecretString>,
    /// Its source.
    pub origin: Origin,
}

impl fmt::Debug for ResolvedVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedVar")
            .field("name", &self.name)
            .field("value", &self.value.as_ref().map(|_| "[REDACTED]"))
            .field("origin", &self.origin)
            .finish()
    }
}

/// Every variable's value, plus the problems met while reading sources.
#[derive(Debug, Default)]
pub struct Resolution {
    /// One entry per schema variable, in schema order.
    pub vars: Vec<ResolvedVar>,
    /// Conflicts, unreadable files, non-UTF-8 values.
    pub problems: Vec<Problem>,
}

impl Resolution {
    /// The resolved entry for `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&ResolvedVar> {
        self.vars.iter().find(|var| var.name == name)
    }
}

/// Resolves every schema variable for `environment`.
#[must_use]
pub fn resolve(
    schema: &Schema,
    environment: &str,
    env: &EnvSnapshot,
    env_files: &[EnvFile],
) -> Resolution {
    let mut resolution = Resolution::default();
    for var in &schema.vars {
        let resolved = resolve_var(var, environment, env, env_files, &mut resolution.problems);
        resolution.vars.push(resolved);
    }
    resolution
}

fn resolve_var(
    var: &VarSpec,
    environment: &str,
    env: &EnvSnapshot,
    env_files: &[EnvFile],
    problems: &mut Vec<Problem>,
) -> ResolvedVar {
    let layer = var.layer_for(environment);
    // An empty value stands only where nothing else could: a required variable
    // without a default. Elsewhere it counts as unset and falls through.
    let keep_empty = var.is_required_in(environment) && layer.default.is_none();
    let usable = |value: &str| keep_empty || !value.is_empty();
    let found = |value: SecretString, origin: Origin| ResolvedVar {
        name: var.name.clone(),
        value: Some(value),
        origin,
    };
    let file_var = format!("{}_FILE", var.name);
    match (env.get(&var.name), env.get(&file_var)) {
        (Some(_), Some(_)) => {
            problems.push(file_conflict(var, &file_var));
            return failed(var);
        }
        (Some(raw), None) => match raw.to_str() {
            Some(value) if usable(value) => {
                return found(SecretString::from(value.to_owned()), Origin::Env);
            }
            Some(_) => {}
            None => {
                problems.push(not_utf8(var, &var.name));
                return failed(var);
            }
        },
        (None, Some(path)) => {
            let path = PathBuf::from(path);
            match read_value_file(&path) {
                Ok(value) if usable(&value) => {
                    return found(SecretString::from(value), Origin::File(path));
                }
                Ok(_) => {}
                Err(problem) => {
                    problems.push((*problem).var(&var.name));
                    return failed(var);
                }
            }
        }
        (None, None) => {}
    }
    for alias in &var.aliases {
        match env.get(alias).map(OsStr::to_str) {
            Some(Some(value)) if usable(value) => {
                return found(
                    SecretString::from(value.to_owned()),
                    Origin::Alias(alias.clone()),
                );
            }
            Some(None) => {
                problems.push(not_utf8(var, alias));
                return failed(var);
            }
            _ => {}
        }
    }
    for file in env_files.iter().rev() {
        if let Some(value) = file.get(&var.name)
            && usable(secrecy::ExposeSecret::expose_secret(value))
        {
            return found(value.clone(), Origin::EnvFile(file.path.clone()));
        }
    }
    match &layer.default {
        Some(default) => found(SecretString::from(default.clone()), Origin::Default),
        None => ResolvedVar {
            name: var.name.clone(),
            value: None,
            origin: Origin::Unset,
        },
    }
}

fn failed(var: &VarSpec) -> ResolvedVar {
    ResolvedVar {
        name: var.name.clone(),
        value: None,
        origin: Origin::Failed,
    }
}

fn file_conflict(var: &VarSpec, file_var: &str) -> Problem {
    Problem::error(
        Code::FileConflict,
        format!("both {} and {file_var} are set", var.name),
    )
    .var(&var.name)
    .at(var.span.clone(), "declared here")
    .help(format!(
        "Set only one: {} for the value itself, or {file_var} for a file that holds it.",
        var.name
    ))
}

fn not_utf8(var: &VarSpec, source_name: &str) -> Problem {
    Problem::error(
        Code::NotUtf8,
        format!("the value of {source_name} is not valid UTF-8"),
    )
    .var(&var.name)
    .at(var.span.clone(), "declared here")
    .help("Set it to UTF-8 text; envgate validates text values only.")
}

/// Reads a `NAME_FILE` value: UTF-8, one trailing newline trimmed.
fn read_value_file(path: &Path) -> Result<String, Box<Problem>> {
    let unreadable = |why: String| {
        Problem::error(
            Code::FileUnreadable,
            format!("cannot read {}: {why}", path.display()),
        )
        .help("Check that the file exists, is a regular file and is readable by this user (mounted secret volumes are often root-only).")
    };
    if path.is_dir() {
        return Err(Box::new(unreadable("it is a directory".to_owned())));
    }
    let bytes = read_limited(path).map_err(|error| Box::new(unreadable(io_reason(&error))))?;
    let mut text = String::from_utf8(bytes).map_err(|_| {
        Problem::error(
            Code::NotUtf8,
            format!("{} is not valid UTF-8", path.display()),
        )
        .help("Store the value as UTF-8 text.")
    })?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(text)
}

/// A short, lower-case reason for an IO error, without the OS error number.
#[must_use]
pub fn io_reason(error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::NotFound => "no such file".to_owned(),
        ErrorKind::PermissionDenied => "permission denied".to_owned(),
        ErrorKind::IsADirectory => "it is a directory".to_owned(),
        ErrorKind::FileTooLarge => "the file is too large".to_owned(),
        _ => {
            let text = error.to_string();
            text.split(" (os error")
                .next()
                .unwrap_or(&text)
                .to_lowercase()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const SCHEMA: &str = r#"
[vars.A]
default = "from-default"
[vars.B]
required = false
default = "b-default"
[vars.C]
aliases = ["OLD_C"]
"#;

    fn schema() -> Schema {
        crate::schema::from_str("s.toml", SCHEMA).unwrap()
    }

    fn value<'a>(resolution: &'a Resolution, name: &str) -> (Option<&'a str>, &'a Origin) {
        let var = resolution.get(name).unwrap();
        (
            var.value.as_ref().map(secrecy::ExposeSecret::expose_secret),
            &var.origin,
        )
    }

    #[test]
    fn precedence_env_then_env_files_then_default() {
        let path = Path::new("one.env");
        let files = [
            EnvFile::parse(path, "A=first\nC=from-file\n").unwrap(),
            EnvFile::parse(Path::new("two.env"), "A=second\n").unwrap(),
        ];
        let env = EnvSnapshot::from_pairs([("C", "from-env")]);
        let resolution = resolve(&schema(), "development", &env, &files);
        assert_eq!(
            value(&resolution, "A"),
            (Some("second"), &Origin::EnvFile("two.env".into()))
        );
        assert_eq!(value(&resolution, "C"), (Some("from-env"), &Origin::Env));
        assert_eq!(
            value(&resolution, "B"),
            (Some("b-default"), &Origin::Default)
        );
    }

    #[test]
    fn empty_falls_through_unless_required_without_default() {
        let env = EnvSnapshot::from_pairs([("A", ""), ("B", ""), ("C", "")]);
        let resolution = resolve(&schema(), "development", &env, &[]);
        assert_eq!(
            value(&resolution, "A"),
            (Some("from-default"), &Origin::Default)
        );
        assert_eq!(
            value(&resolution, "B"),
            (Some("b-default"), &Origin::Default)
        );
        assert_eq!(value(&resolution, "C"), (Some(""), &Origin::Env));
    }

    #[test]
    fn aliases_are_read_when_the_name_is_unset() {
        let env = EnvSnapshot::from_pairs([("OLD_C", "legacy")]);
        let resolution = resolve(&schema(), "development", &env, &[]);
        assert_eq!(
            value(&resolution, "C"),
            (Some("legacy"), &Origin::Alias("OLD_C".into()))
        );
    }

    #[test]
    fn name_and_name_file_together_conflict() {
        let env = EnvSnapshot::from_pairs([("A", "x"), ("A_FILE", "/nonexistent")]);
        let resolution = resolve(&schema(), "development", &env, &[]);
        assert_eq!(resolution.problems[0].code, Code::FileConflict);
        assert_eq!(value(&resolution, "A"), (None, &Origin::Failed));
    }

    #[test]
    fn name_file_trims_one_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a");
        std::fs::write(&path, "value\n\n").unwrap();
        let env =
            EnvSnapshot::from_pairs([(OsString::from("A_FILE"), path.clone().into_os_string())]);
        let resolution = resolve(&schema(), "development", &env, &[]);
        assert_eq!(
            value(&resolution, "A"),
            (Some("value\n"), &Origin::File(path))
        );
    }

    #[test]
    fn dotenv_syntax_error_names_the_line() {
        let error = EnvFile::parse(Path::new("x.env"), "A=1\nB=2\nC D=3\n").unwrap_err();
        assert!(
            matches!(error, Error::EnvFileSyntax { line: 3, .. }),
            "{error:?}"
        );
    }

    #[test]
    fn dotenv_quotes_export_comments_and_multiline() {
        let text = "# comment\nexport A=\"quoted # not comment\"\nB='single'\nC=\"line1\nline2\"\n";
        let file = EnvFile::parse(Path::new("x.env"), text).unwrap();
        assert_eq!(
            file.get("A").unwrap().expose_secret(),
            "quoted # not comment"
        );
        assert_eq!(file.get("B").unwrap().expose_secret(), "single");
        assert_eq!(file.get("C").unwrap().expose_secret(), "line1\nline2");
    }
}
