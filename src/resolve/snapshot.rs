//! A copy of the process environment, taken once at start.

use std::ffi::{OsStr, OsString};
use std::fmt;

/// What a name ends in when it names a file holding the value of the name before.
const FILE_SUFFIX: &str = "_FILE";

/// A copy of the process environment, taken once at start.
#[derive(Clone, Default)]
pub struct EnvSnapshot {
    /// Every pair in order, hash-indexed by name: lookups are per variable, so keep
    /// them O(1), and each name is stored once.
    vars: indexmap::IndexMap<OsString, OsString>,
    /// Whether some name ends in `_FILE` (or once did): when none does, asking
    /// for `NAME_FILE` builds no name.
    has_file_names: bool,
}

impl fmt::Debug for EnvSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: the environment holds secrets.
        f.debug_list().entries(self.vars.keys()).finish()
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
        let pairs = pairs.into_iter();
        // Sized once (the process environment knows its length): no rehashing.
        let mut snapshot = Self::with_capacity(pairs.size_hint().0);
        for (name, value) in pairs {
            snapshot.set(name.into(), value.into());
        }
        snapshot
    }

    /// An empty environment with room for `capacity` pairs.
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            vars: indexmap::IndexMap::with_capacity(capacity),
            has_file_names: false,
        }
    }

    /// The number of pairs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.vars.len()
    }

    /// True when no variable is set.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.vars.is_empty()
    }

    /// Every pair, in order, moved out.
    #[must_use]
    pub fn into_pairs(self) -> Vec<(OsString, OsString)> {
        self.vars.into_iter().collect()
    }

    /// The value of `name`, if set.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&OsStr> {
        self.vars.get(OsStr::new(name)).map(OsString::as_os_str)
    }

    /// The value of `{name}_FILE`, if set.
    #[must_use]
    pub fn get_file(&self, name: &str) -> Option<&OsStr> {
        if !self.has_file_names {
            return None;
        }
        self.get(&[name, FILE_SUFFIX].concat())
    }

    /// The value of `name` when set and valid UTF-8.
    #[must_use]
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(OsStr::to_str)
    }

    /// Sets (or replaces) `name`.
    pub fn set(&mut self, name: OsString, value: OsString) {
        self.has_file_names |= name.as_encoded_bytes().ends_with(FILE_SUFFIX.as_bytes());
        self.vars.insert(name, value);
    }

    /// Every pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&OsStr, &OsStr)> {
        self.vars
            .iter()
            .map(|(name, value)| (name.as_os_str(), value.as_os_str()))
    }
}
