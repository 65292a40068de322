//! The keys of a schema table, found once per table.
//!
//! Reading a variable asks its table for some thirty keys (`description`,
//! `type`, each rule, ...). Scanning the table's entries for each of them by
//! name was about a tenth of a 10,000-variable `--check`. [`Fields`] reads the
//! table's keys once, each into the slot of its [`Field`]; the loader then asks
//! for a field by slot. The key lists in [`super::load`] (`VAR_ONLY_KEYS`,
//! `RULE_KEYS`, ...) stay the words users see; [`Allowed`] is one of them as a
//! set of fields.

use super::tree::{Item, Key, Table};

/// Declares [`Field`] with its TOML names.
macro_rules! fields {
    ($($field:ident = $name:literal,)*) => {
        /// A key some schema table may hold.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub(super) enum Field {
            $(#[doc = concat!("`", $name, "`")] $field,)*
        }

        impl Field {
            /// Every field, in slot order.
            pub(super) const ALL: &'static [Field] = &[$(Field::$field,)*];

            /// The key as written in a schema.
            pub(super) fn name(self) -> &'static str {
                match self {
                    $(Field::$field => $name,)*
                }
            }

            /// The field named `key`, if any table has it.
            pub(super) fn parse(key: &str) -> Option<Self> {
                match key {
                    $($name => Some(Field::$field),)*
                    _ => None,
                }
            }
        }
    };
}

fields! {
    Version = "version",
    Envgate = "envgate",
    Groups = "groups",
    Vars = "vars",
    Environments = "environments",
    SecretName = "secret_name",
    SharedPrefixes = "shared_prefixes",
    Guard = "guard",
    MinLength = "min_length",
    MaxLength = "max_length",
    Min = "min",
    Max = "max",
    Pattern = "pattern",
    OneOf = "one_of",
    Forbid = "forbid",
    MinUniqueChars = "min_unique_chars",
    MinEntropyBits = "min_entropy_bits",
    Schemes = "schemes",
    Required = "required",
    Default = "default",
    Secret = "secret",
    Parameter = "parameter",
    ReadBy = "read_by",
    Scan = "scan",
    Ignore = "ignore",
    Exclude = "exclude",
    ParameterName = "parameter_name",
    Help = "help",
    Description = "description",
    Example = "example",
    Group = "group",
    Type = "type",
    RequiredIn = "required_in",
    Sensitive = "sensitive",
    Deliver = "deliver",
    Binary = "binary",
    Deprecated = "deprecated",
    Aliases = "aliases",
    Rotate = "rotate",
    Kind = "kind",
    Every = "every",
    Strategy = "strategy",
    AdminSecret = "admin_secret",
    CaFile = "ca_file",
    Length = "length",
    Alphabet = "alphabet",
    Prefix = "prefix",
    MaxFallbacks = "max_fallbacks",
}

/// How many fields there are.
const COUNT: usize = Field::ALL.len();

const _: () = assert!(COUNT <= 64, "Allowed holds fields as bits of a u64");

/// The keys one kind of table may hold: their names in the order diagnostics
/// list them, and the same as a set of fields.
pub(super) struct Allowed {
    /// The names, as the key lists in [`super::load`] give them.
    pub(super) names: Vec<&'static str>,
    /// Bit `field as usize` is set for each allowed field.
    bits: u64,
}

impl Allowed {
    /// The keys of `lists`, in order.
    ///
    /// # Panics
    /// When a name is not a [`Field`]: the lists and the fields are written
    /// together (a unit test reads every list).
    pub(super) fn of(lists: &[&[&'static str]]) -> Self {
        let names: Vec<&'static str> = lists.iter().flat_map(|list| list.iter().copied()).collect();
        let bits = names.iter().fold(0, |bits, name| {
            let field = Field::parse(name).expect("every schema key is a field");
            bits | 1 << field as usize
        });
        Self { names, bits }
    }

    fn contains(&self, field: Field) -> bool {
        self.bits & 1 << field as usize != 0
    }
}

/// A table's entries by field: the allowed keys it holds, each found once.
pub(super) struct Fields<'a, 'i> {
    table: &'a Table<'i>,
    /// One more than the position in `table` of each field's entry; 0 when the
    /// table does not hold it.
    slots: [u32; COUNT],
}

impl<'a, 'i> Fields<'a, 'i> {
    /// The allowed fields of `table`, and the keys it holds that are not allowed
    /// (in document order).
    pub(super) fn read(table: &'a Table<'i>, allowed: &Allowed) -> (Self, Vec<&'a Key<'i>>) {
        let mut slots = [0; COUNT];
        let mut unknown = Vec::new();
        for (position, (key, _)) in table.iter().enumerate() {
            match Field::parse(key.get_ref()) {
                Some(field) if allowed.contains(field) => {
                    slots[field as usize] = u32::try_from(position + 1).unwrap_or(0);
                }
                _ => unknown.push(key),
            }
        }
        (Self { table, slots }, unknown)
    }

    /// The entry of `field`, if the table holds it.
    pub(super) fn get(&self, field: Field) -> Option<(&'a Key<'i>, &'a Item<'i>)> {
        let slot = self.slots[field as usize] as usize;
        slot.checked_sub(1)
            .map(|position| self.table.entry(position))
    }

    /// Where `field`'s entry is in the table.
    pub(super) fn position(&self, field: Field) -> Option<usize> {
        (self.slots[field as usize] as usize).checked_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::load::{
        ENVGATE_KEYS, LAYER_KEYS, ROTATE_KEYS, RULE_KEYS, TOP_KEYS, VAR_ONLY_KEYS,
    };

    #[test]
    fn every_listed_key_is_a_field_and_every_field_is_listed() {
        let lists = [
            TOP_KEYS,
            ENVGATE_KEYS,
            LAYER_KEYS,
            RULE_KEYS,
            VAR_ONLY_KEYS,
            ROTATE_KEYS,
            super::super::load::SCAN_KEYS,
        ];
        let listed = Allowed::of(&lists);
        for field in Field::ALL {
            assert_eq!(Field::parse(field.name()), Some(*field));
            assert!(
                listed.contains(*field),
                "{} is in no key list",
                field.name()
            );
        }
        assert_eq!(Field::parse("Type"), None);
    }

    #[test]
    fn a_table_is_read_once_into_its_allowed_fields() {
        let document = crate::schema::tree::parse(
            "type = \"url\"\nkind = \"x\"\ndescription = \"d\"\nnope = 1\n",
        )
        .unwrap();
        let allowed = Allowed::of(&[VAR_ONLY_KEYS]);
        let (fields, unknown) = Fields::read(&document, &allowed);
        let (key, value) = fields.get(Field::Description).unwrap();
        assert_eq!(key.get_ref(), "description");
        assert_eq!(value.get_ref().as_str(), Some("d"));
        assert_eq!(fields.position(Field::Type), Some(0));
        assert!(
            fields.get(Field::Kind).is_none(),
            "kind is not a variable's key"
        );
        assert!(fields.get(Field::Example).is_none());
        let unknown: Vec<&str> = unknown.iter().map(|key| key.get_ref().as_ref()).collect();
        assert_eq!(unknown, ["kind", "nope"]);
    }
}
