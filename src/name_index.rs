//! Positions of named entries of a vector, found by name without a second copy
//! of every name: the schema's variables and their resolution are looked up by
//! name, and a schema may declare 10,000 variables.

use std::fmt;
use std::hash::BuildHasher;

/// The position of each entry of a vector by its name; the names stay in the
/// vector (callers say where with `name_at`).
#[derive(Clone, Default)]
pub(crate) struct NameIndex {
    table: hashbrown::HashTable<usize>,
    hasher: foldhash::fast::RandomState,
}

impl fmt::Debug for NameIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameIndex({} names)", self.table.len())
    }
}

impl NameIndex {
    /// An empty index with room for `count` names.
    pub(crate) fn with_capacity(count: usize) -> Self {
        Self {
            table: hashbrown::HashTable::with_capacity(count),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// Records that the entry at `position` is called `name` (names are unique);
    /// `name_at` gives the name of any entry already recorded.
    pub(crate) fn insert<'a>(
        &mut self,
        name: &str,
        position: usize,
        name_at: impl Fn(usize) -> &'a str,
    ) {
        let hasher = &self.hasher;
        self.table
            .insert_unique(hasher.hash_one(name), position, |&known| {
                hasher.hash_one(name_at(known))
            });
    }

    /// The position of the entry called `name`, if any.
    pub(crate) fn get<'a>(&self, name: &str, name_at: impl Fn(usize) -> &'a str) -> Option<usize> {
        self.table
            .find(self.hasher.hash_one(name), |&known| name_at(known) == name)
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_found_where_they_were_recorded() {
        let names: Vec<String> = (0..1000).map(|i| format!("VAR_{i}")).collect();
        let mut index = NameIndex::with_capacity(1);
        for (position, name) in names.iter().enumerate() {
            index.insert(name, position, |known| names[known].as_str());
        }
        for (position, name) in names.iter().enumerate() {
            assert_eq!(
                index.get(name, |known| names[known].as_str()),
                Some(position)
            );
        }
        assert_eq!(index.get("VAR_1000", |known| names[known].as_str()), None);
        assert_eq!(index.get("", |known| names[known].as_str()), None);
    }
}
