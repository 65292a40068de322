//! `--secrets-dir DIR`: a directory of files named after variables, as Docker and
//! Kubernetes mount secrets (and External Secrets Operator writes them, and
//! pydantic-settings' `secrets_dir` reads them).
//!
//! Each file holds one value, read like a `NAME_FILE` (UTF-8, one trailing newline
//! trimmed, at most [`MAX_VALUE_FILE_BYTES`](super::MAX_VALUE_FILE_BYTES)). Names
//! match case-insensitively (`db_password` serves `DB_PASSWORD`), as
//! pydantic-settings matches by default. Names starting with a dot are
//! skipped: Kubernetes keeps its `..data` link and timestamped directories there.
//! Files are followed through symlinks (the way Kubernetes mounts them). A file
//! for a name the schema does not declare is a warning; an entry named after a
//! variable that is not a readable regular file (a directory, which Docker makes
//! for a missing bind-mount source; a FIFO; a broken link) is an error of its
//! variable, never a reason to fall through to a lower source; so are two
//! entries whose names differ only in case. The directory is listed again on every
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
    /// Each entry by its exact name.
    exact: HashMap<String, PathBuf>,
    /// The entries of each upper-cased name (more than one: a conflict).
    folded: HashMap<String, Vec<PathBuf>>,
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
        let mut folded: HashMap<String, Vec<PathBuf>> = HashMap::default();
        for entry in std::fs::read_dir(dir).map_err(unreadable)? {
            let entry = entry.map_err(unreadable)?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            let same = folded.entry(name.to_ascii_uppercase()).or_default();
            same.push(entry.path());
            same.sort();
            exact.insert(name, entry.path());
        }
        Ok(Self {
            dir: dir.to_owned(),
            exact,
            folded,
        })
    }

    /// The entries for the variable `name`: none, one, or (names differing only
    /// in case) several.
    fn entries_for(&self, name: &str) -> &[PathBuf] {
        self.folded
            .get(&name.to_ascii_uppercase())
            .map_or(&[], Vec::as_slice)
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
        let path = match self.entries_for(&var.name) {
            [] => return Found::Nothing,
            [path] => path,
            several => {
                let names: Vec<String> = several
                    .iter()
                    .map(|path| format!("`{}`", path.display()))
                    .collect();
                return Found::Failed(
                    Problem::error(
                        Code::FileUnreadable,
                        format!(
                            "{} holds {} for {}: names that differ only in case, so which one is meant is unclear",
                            self.dir.display(),
                            names.join(" and "),
                            var.name
                        ),
                    )
                    .help("Keep one file per variable in the mount (remove or rename the others).")
                    .var(&var.name),
                );
            }
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
