//! Resolving values: which source gives each variable its value.
//!
//! One pipeline for every source. Local sources are asked in precedence order,
//! highest first, and the first that has a usable value wins: the process
//! environment (or `NAME_FILE`, the Docker/Kubernetes convention: that file's
//! content with one trailing newline trimmed), the variable's aliases, the
//! `--secrets-dir` mount ([`mounts`]), `--env-file` files (later files win), then
//! the schema `default`. Each is a [`Source`]; a new
//! source joins the list without touching the others. AWS Secrets Manager comes
//! last in time but first in precedence: the `secrets` stage reads what the local
//! values and the schema ask for, and hands each outcome to
//! [`Resolution::from_secrets_manager`] or [`Resolution::fail`], the only two ways
//! a resolved entry changes. The [`Resolution`] alone builds the program's
//! environment (`launch`).
//!
//! An empty value counts as "set" for a variable required in the environment and
//! without a default (validation then reports it as empty); otherwise it counts as
//! unset, so that `FOO=` falls through to the next source or the default. Values are
//! held as [`SecretString`] from the moment they are read.

pub mod env_file;
pub mod mounts;
mod snapshot;

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};

use crate::error::Error;
use crate::fsio::{io_reason, read_regular};
use crate::problem::{Code, Problem};
use crate::schema::{Schema, VarSpec};
pub use mounts::SecretsMount;
pub use snapshot::EnvSnapshot;
use std::collections::HashMap;

/// The largest `NAME_FILE` or `--env-file` envgate reads.
pub const MAX_VALUE_FILE_BYTES: u64 = 1024 * 1024;

/// The entries of one `--env-file`, read as python-dotenv reads them.
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
    /// An env file made of these entries (for tests of the precedence).
    #[cfg(test)]
    fn from_pairs(path: &Path, pairs: &[(&str, &str)]) -> Self {
        Self {
            path: path.to_owned(),
            entries: pairs
                .iter()
                .map(|(name, value)| ((*name).to_owned(), SecretString::from(*value)))
                .collect(),
        }
    }

    /// The value the file gives `name`, if any.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&SecretString> {
        self.entries.get(name)
    }
}

/// Reads every `--env-file`, in order, each as python-dotenv reads it. `${NAME}`
/// expands from the process environment first, then from the lines before it in
/// the same file, then from earlier files. Returns the files and the warnings (names that expanded to nothing).
///
/// # Errors
/// [`Error::EnvFileNotFound`] (exit 66) for a file that cannot be opened;
/// [`Error::EnvFileInvalid`] (exit 78) for one that is not UTF-8, too large, or
/// does not parse (with its line).
pub fn load_env_files(
    paths: &[PathBuf],
    env: &EnvSnapshot,
) -> Result<(Vec<EnvFile>, Vec<Problem>), Error> {
    let mut files: Vec<EnvFile> = Vec::with_capacity(paths.len());
    let mut warnings = Vec::new();
    for path in paths {
        let text = read_env_file(path)?;
        let raw = env_file::parse(&text).map_err(|error| Error::EnvFileInvalid {
            path: path.clone(),
            line: Some(error.line),
            reason: error.reason,
        })?;
        let outside = |name: &str| env.get_str(name).map(str::to_owned);
        let earlier = |name: &str| {
            files
                .iter()
                .rev()
                .find_map(|file| file.get(name))
                .map(|value| value.expose_secret().to_owned())
        };
        let (values, unset) = env_file::evaluate(raw, &outside, &earlier);
        for note in unset {
            warnings.push(unset_in_expansion(path, note.line, &note.entry, &note.name));
        }
        let entries: HashMap<String, SecretString> = values
            .into_iter()
            .filter_map(|(name, value)| Some((name, SecretString::from(value?))))
            .collect();
        files.push(EnvFile {
            path: path.clone(),
            entries,
        });
    }
    Ok((files, warnings))
}

fn read_env_file(path: &Path) -> Result<String, Error> {
    let bytes = read_regular(path, MAX_VALUE_FILE_BYTES).map_err(|source| {
        if source.kind() == std::io::ErrorKind::FileTooLarge {
            Error::EnvFileInvalid {
                path: path.to_owned(),
                line: None,
                reason: format!(
                    "it is larger than {} MiB",
                    MAX_VALUE_FILE_BYTES / 1024 / 1024
                ),
            }
        } else {
            Error::EnvFileNotFound {
                path: path.to_owned(),
                source,
            }
        }
    })?;
    String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        Error::EnvFileInvalid {
            path: path.to_owned(),
            line: Some(valid.split(|&byte| byte == b'\n').count()),
            reason: "not valid UTF-8".to_owned(),
        }
    })
}

fn unset_in_expansion(path: &Path, line: usize, entry: &str, name: &str) -> Problem {
    Problem::warning(
        Code::EnvFileUnsetName,
        format!(
            "{}, line {line}: ${{{name}}} in {entry} is not set and expands to nothing",
            path.display()
        ),
    )
    .help(format!(
        "Set {name} or write ${{{name}:-fallback}}. Like python-dotenv, envgate expands ${{…}} in every value, quoted or not: a value that must keep a literal `${{` belongs in the environment or a secret, not in a .env file."
    ))
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
    /// A file of the `--secrets-dir` mount.
    SecretsDir(PathBuf),
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
    /// AWS SSM Parameter Store.
    ParameterStore {
        /// The parameter name requested.
        name: String,
        /// The version read.
        version: Option<i64>,
        /// A SecureString: masked in every output, whatever the schema says.
        secure: bool,
    },
    /// A source was set but could not be read; a problem says why.
    Failed,
}

impl Origin {
    /// A value the deployment supplied itself (the environment, an alias, a file,
    /// the secrets mount, an env file), which may be a store reference to resolve.
    #[must_use]
    pub fn is_supplied_locally(&self) -> bool {
        matches!(
            self,
            Self::Env | Self::Alias(_) | Self::File(_) | Self::SecretsDir(_) | Self::EnvFile(_)
        )
    }

    /// A store that holds this value encrypted (a SecureString): the value is
    /// treated as sensitive in every output, whatever the schema says.
    #[must_use]
    pub fn is_secure_store(&self) -> bool {
        matches!(self, Self::ParameterStore { secure: true, .. })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env => f.write_str("env"),
            Self::Alias(alias) => write!(f, "env ({alias})"),
            Self::File(path) => write!(f, "file {}", path.display()),
            Self::SecretsDir(path) => write!(f, "secrets-dir {}", path.display()),
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
            Self::ParameterStore { name, version, .. } => {
                write!(f, "parameter-store {name}")?;
                match version {
                    Some(version) => write!(f, " (version {version})"),
                    None => Ok(()),
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
    /// An `--env-file` wrote `NAME=` (empty) and no source had a usable value:
    /// validation counts the variable unset, but the program still receives the
    /// empty string, as it would under python-dotenv.
    pub empty_in_env_file: bool,
}

impl fmt::Debug for ResolvedVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResolvedVar")
            .field("name", &self.name)
            .field("value", &self.value.as_ref().map(|_| "[REDACTED]"))
            .field("origin", &self.origin)
            .field("empty_in_env_file", &self.empty_in_env_file)
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
    /// Position of each name in `vars`.
    index: HashMap<String, usize>,
}

impl Resolution {
    /// An empty resolution with room for `count` variables.
    fn with_capacity(count: usize) -> Self {
        Self {
            vars: Vec::with_capacity(count),
            problems: Vec::new(),
            index: HashMap::with_capacity(count),
        }
    }

    /// The resolved entry for `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&ResolvedVar> {
        Some(&self.vars[self.position(name)?])
    }

    /// Where `name` is in `vars`.
    fn position(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    fn push(&mut self, resolved: ResolvedVar) {
        self.index.insert(resolved.name.clone(), self.vars.len());
        self.vars.push(resolved);
    }

    /// Secrets Manager, the highest source, gave `name` its value.
    pub fn from_secrets_manager(&mut self, name: &str, value: SecretString, origin: Origin) {
        self.from_store(name, value, origin);
    }

    /// A store (Secrets Manager, Parameter Store), above every local source, gave
    /// `name` its value.
    pub fn from_store(&mut self, name: &str, value: SecretString, origin: Origin) {
        if let Some(position) = self.position(name) {
            let resolved = &mut self.vars[position];
            resolved.value = Some(value);
            resolved.origin = origin;
        }
    }

    /// A source of `name` was set but failed; a problem says why. The variable has
    /// no value: whatever a lower source held must not reach the program.
    pub fn fail(&mut self, name: &str) {
        if let Some(position) = self.position(name) {
            let resolved = &mut self.vars[position];
            resolved.value = None;
            resolved.origin = Origin::Failed;
        }
    }
}

/// What a source holds for one variable.
pub enum Found {
    /// A usable value, and where it came from.
    Value(SecretString, Origin),
    /// The source is set but cannot be used; the problem says why.
    Failed(Problem),
    /// Nothing here: ask the next source.
    Nothing,
}

/// One place local values come from. `usable` says whether a value counts as set
/// (an empty value falls through unless the variable must be set).
pub trait Source {
    /// What this source holds for `var` in `environment`.
    fn lookup(&self, var: &VarSpec, environment: &str, usable: &dyn Fn(&str) -> bool) -> Found;
}

/// `NAME`, or the file named by `NAME_FILE`, in the process environment.
pub struct ProcessEnv<'a>(pub &'a EnvSnapshot);

impl Source for ProcessEnv<'_> {
    fn lookup(&self, var: &VarSpec, _environment: &str, usable: &dyn Fn(&str) -> bool) -> Found {
        match (self.0.get(&var.name), self.0.get_file(&var.name)) {
            (Some(_), Some(_)) => Found::Failed(file_conflict(var, &[&var.name, "_FILE"].concat())),
            (Some(raw), None) => match raw.to_str() {
                Some(value) if usable(value) => {
                    Found::Value(SecretString::from(value.to_owned()), Origin::Env)
                }
                Some(_) => Found::Nothing,
                None => Found::Failed(not_utf8(var, &var.name)),
            },
            (None, Some(path)) => {
                let path = PathBuf::from(path);
                match read_value_file(&path) {
                    Ok(value) if usable(&value) => {
                        Found::Value(SecretString::from(value), Origin::File(path))
                    }
                    Ok(_) => Found::Nothing,
                    Err(problem) => Found::Failed((*problem).var(&var.name)),
                }
            }
            (None, None) => Found::Nothing,
        }
    }
}

/// The variable's older names, in the process environment.
pub struct Aliases<'a>(pub &'a EnvSnapshot);

impl Source for Aliases<'_> {
    fn lookup(&self, var: &VarSpec, _environment: &str, usable: &dyn Fn(&str) -> bool) -> Found {
        for alias in &var.aliases {
            match self.0.get(alias).map(OsStr::to_str) {
                Some(Some(value)) if usable(value) => {
                    return Found::Value(
                        SecretString::from(value.to_owned()),
                        Origin::Alias(alias.clone()),
                    );
                }
                Some(None) => return Found::Failed(not_utf8(var, alias)),
                _ => {}
            }
        }
        Found::Nothing
    }
}

/// The `--env-file` files; later files win.
pub struct EnvFiles<'a>(pub &'a [EnvFile]);

impl Source for EnvFiles<'_> {
    fn lookup(&self, var: &VarSpec, _environment: &str, usable: &dyn Fn(&str) -> bool) -> Found {
        for file in self.0.iter().rev() {
            if let Some(value) = file.get(&var.name)
                && usable(value.expose_secret())
            {
                return Found::Value(value.clone(), Origin::EnvFile(file.path.clone()));
            }
        }
        Found::Nothing
    }
}

/// The schema's `default` for the environment.
pub struct Defaults;

impl Source for Defaults {
    fn lookup(&self, var: &VarSpec, environment: &str, _usable: &dyn Fn(&str) -> bool) -> Found {
        match &var.layer_for(environment).default {
            Some(default) => Found::Value(SecretString::from(default.clone()), Origin::Default),
            None => Found::Nothing,
        }
    }
}

/// Resolves every schema variable for `environment` from the local sources, in
/// precedence order.
#[must_use]
pub fn resolve(
    schema: &Schema,
    environment: &str,
    env: &EnvSnapshot,
    env_files: &[EnvFile],
) -> Resolution {
    resolve_with_mount(schema, environment, env, None, env_files)
}

/// [`resolve`], with a `--secrets-dir` mount between the process environment
/// and the env files; its unknown names become warnings of the resolution.
#[must_use]
pub fn resolve_with_mount(
    schema: &Schema,
    environment: &str,
    env: &EnvSnapshot,
    mount: Option<&SecretsMount>,
    env_files: &[EnvFile],
) -> Resolution {
    let (process, aliases, files) = (ProcessEnv(env), Aliases(env), EnvFiles(env_files));
    let mut sources: Vec<&dyn Source> = vec![&process, &aliases];
    if let Some(mount) = mount {
        sources.push(mount);
    }
    sources.push(&files);
    sources.push(&Defaults);
    let mut resolution = resolve_from(schema, environment, &sources);
    for resolved in &mut resolution.vars {
        resolved.empty_in_env_file = resolved.origin == Origin::Unset
            && env_files
                .iter()
                .any(|file| file.get(&resolved.name).is_some());
    }
    if let Some(mount) = mount {
        resolution.problems.extend(mount.unknown_names(schema));
    }
    resolution
}

/// Resolves every schema variable from `sources`, highest precedence first.
#[must_use]
pub fn resolve_from(schema: &Schema, environment: &str, sources: &[&dyn Source]) -> Resolution {
    let mut resolution = Resolution::with_capacity(schema.vars.len());
    for var in &schema.vars {
        // An empty value stands only where nothing else could: a variable that
        // must be set. Elsewhere it counts as unset and falls through.
        let keep_empty = var.must_be_set_in(environment);
        let usable = |value: &str| keep_empty || !value.is_empty();
        let mut resolved = ResolvedVar {
            name: var.name.clone(),
            value: None,
            origin: Origin::Unset,
            empty_in_env_file: false,
        };
        for source in sources {
            match source.lookup(var, environment, &usable) {
                Found::Value(value, origin) => {
                    resolved.value = Some(value);
                    resolved.origin = origin;
                }
                Found::Failed(problem) => {
                    resolution.problems.push(problem);
                    resolved.origin = Origin::Failed;
                }
                Found::Nothing => continue,
            }
            break;
        }
        resolution.push(resolved);
    }
    resolution
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

/// Reads a `NAME_FILE` value: a regular file, UTF-8, one trailing newline trimmed.
fn read_value_file(path: &Path) -> Result<String, Box<Problem>> {
    let unreadable = |why: String| {
        Problem::error(
            Code::FileUnreadable,
            format!("cannot read {}: {why}", path.display()),
        )
        .help("Check that the file exists, is a regular file and is readable by this user (mounted secret volumes are often root-only).")
    };
    let bytes = read_regular(path, MAX_VALUE_FILE_BYTES)
        .map_err(|error| Box::new(unreadable(io_reason(&error))))?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

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
            EnvFile::from_pairs(path, &[("A", "first"), ("C", "from-file")]),
            EnvFile::from_pairs(Path::new("two.env"), &[("A", "second")]),
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
}
