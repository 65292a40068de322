//! `--secrets-dir DIR`: a directory of files named after variables, as Docker and
//! Kubernetes mount secrets (and External Secrets Operator writes them, and
//! pydantic-settings' `secrets_dir` reads them).
//!
//! Each file holds one value, read like a `NAME_FILE` (UTF-8, one trailing newline
//! trimmed, at most [`MAX_VALUE_FILE_BYTES`](super::MAX_VALUE_FILE_BYTES)). Names
//! match case-insensitively (`db_password` serves `DB_PASSWORD`; an exact match
//! wins), as pydantic-settings matches by default. Names starting with a dot are
//! skipped: Kubernetes keeps its `..data` link and timestamped directories there.
//! Files are followed through symlinks (the way Kubernetes mounts them). A file
//! for a name the schema does not declare is a warning; a file that cannot be
//! read is an error of its variable. The directory is listed again on every
//! resolution, so `--watch` sees a mount that changes in place.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::{Found, Origin, Source, read_value_file};
use crate::error::Error;
use crate::problem::{Code, Problem};
use crate::schema::{Schema, VarSpec};
use std::collections::HashMap;

/// The files of one secrets directory, by name.
#[derive(Debug)]
pub struct SecretsMount {
    /// The directory as given.
    dir: PathBuf,
    /// Each file by its exact name.
    exact: HashMap<String, PathBuf>,
    /// Each file by its upper-cased name.
    folded: HashMap<String, PathBuf>,
}

impl SecretsMount {
    /// Lists `dir`.
    ///
    /// # Errors
    /// [`Error::SecretsDirUnreadable`] (exit 66) when the directory cannot be listed.
    pub fn scan(dir: &Path) -> Result<Self, Error> {
        let unreadable = |source| Error::SecretsDirUnreadable {
            path: dir.to_owned(),
            source,
        };
        let mut exact = HashMap::default();
        let mut folded = HashMap::default();
        for entry in std::fs::read_dir(dir).map_err(unreadable)? {
            let entry = entry.map_err(unreadable)?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.starts_with('.') || entry.path().is_dir() {
                continue;
            }
            folded.insert(name.to_ascii_uppercase(), entry.path());
            exact.insert(name, entry.path());
        }
        Ok(Self {
            dir: dir.to_owned(),
            exact,
            folded,
        })
    }

    fn file_for(&self, name: &str) -> Option<&PathBuf> {
        self.exact
            .get(name)
            .or_else(|| self.folded.get(&name.to_ascii_uppercase()))
    }

    /// A warning for each file whose name the schema does not declare.
    #[must_use]
    pub fn unknown_names(&self, schema: &Schema) -> Vec<Problem> {
        let mut unknown: Vec<&String> = self
            .exact
            .keys()
            .filter(|name| {
                let upper = name.to_ascii_uppercase();
                schema.var(name).is_none() && schema.var(&upper).is_none()
            })
            .collect();
        unknown.sort();
        unknown
            .into_iter()
            .map(|name| {
                let mut problem = Problem::warning(
                    Code::SecretsDirUnknownName,
                    format!(
                        "{} holds `{name}`, which the schema does not declare; it is not passed on",
                        self.dir.display()
                    ),
                )
                .help("Declare the variable in the schema, or remove the file from the mount.");
                let names = schema.vars.iter().map(|var| var.name.as_str());
                if let Some(best) = crate::schema::suggest(&name.to_ascii_uppercase(), names) {
                    problem = problem.help(format!("Did you mean `{best}`?"));
                }
                problem
            })
            .collect()
    }
}

impl Source for SecretsMount {
    fn lookup(&self, var: &VarSpec, _environment: &str, usable: &dyn Fn(&str) -> bool) -> Found {
        let Some(path) = self.file_for(&var.name) else {
            return Found::Nothing;
        };
        match read_value_file(path) {
            Ok(value) if usable(&value) => {
                Found::Value(SecretString::from(value), Origin::SecretsDir(path.clone()))
            }
            Ok(_) => Found::Nothing,
            Err(problem) => Found::Failed((*problem).var(&var.name)),
        }
    }
}
