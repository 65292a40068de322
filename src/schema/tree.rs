//! The schema's TOML document as a tree of spanned values, from the `toml`
//! crate's spanned document (`DeTable`): entries in document order, each key
//! and value with its byte span, so every diagnostic points at its place.

use std::borrow::Cow;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A key as written (decoded), with its span.
pub(crate) type Key<'i> = Spanned<Cow<'i, str>>;

/// A value with its span.
pub(crate) type Item<'i> = Spanned<Value<'i>>;

/// A TOML value.
#[derive(Debug, PartialEq)]
pub(crate) enum Value<'i> {
    String(Cow<'i, str>),
    Integer(Integer<'i>),
    /// The float as decoded (its text).
    Float(Cow<'i, str>),
    Boolean(bool),
    /// A date-time (the schema format has none; only its type is reported).
    Datetime,
    Array(Vec<Item<'i>>),
    Table(Table<'i>),
}

/// An integer's digits (sign included) and radix.
#[derive(Debug, PartialEq)]
pub(crate) struct Integer<'i> {
    digits: Cow<'i, str>,
    radix: u32,
}

impl Integer<'_> {
    /// The digits, without prefix or underscores.
    pub(crate) fn as_str(&self) -> &str {
        &self.digits
    }

    /// The base of [`Integer::as_str`].
    pub(crate) fn radix(&self) -> u32 {
        self.radix
    }
}

impl<'i> Value<'i> {
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(text) => Some(text),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Boolean(flag) => Some(*flag),
            _ => None,
        }
    }

    pub(crate) fn as_table(&self) -> Option<&Table<'i>> {
        match self {
            Self::Table(table) => Some(table),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&[Item<'i>]> {
        match self {
            Self::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The TOML type's name, as the `toml` crate words it.
    pub(crate) fn type_str(&self) -> &'static str {
        match self {
            Self::String(_) => "string",
            Self::Integer(_) => "integer",
            Self::Float(_) => "float",
            Self::Boolean(_) => "boolean",
            Self::Datetime => "datetime",
            Self::Array(_) => "array",
            Self::Table(_) => "table",
        }
    }

    fn from_document(value: DeValue<'i>) -> Self {
        match value {
            DeValue::String(text) => Self::String(text),
            DeValue::Integer(int) => Self::Integer(Integer {
                digits: Cow::Owned(int.as_str().to_owned()),
                radix: int.radix(),
            }),
            DeValue::Float(float) => Self::Float(Cow::Owned(float.as_str().to_owned())),
            DeValue::Boolean(flag) => Self::Boolean(flag),
            DeValue::Datetime(_) => Self::Datetime,
            DeValue::Array(items) => Self::Array(
                items
                    .into_iter()
                    .map(|item| Spanned::new(item.span(), Self::from_document(item.into_inner())))
                    .collect(),
            ),
            DeValue::Table(table) => Self::Table(Table::from_document(table)),
        }
    }
}

/// A table: entries in document order.
#[derive(Debug, Default)]
pub(crate) struct Table<'i> {
    entries: Vec<(Key<'i>, Item<'i>)>,
}

impl PartialEq for Table<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl<'i> Table<'i> {
    /// The entries, in document order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&Key<'i>, &Item<'i>)> {
        self.entries.iter().map(|(key, value)| (key, value))
    }

    /// The entry at `position` (in document order).
    ///
    /// # Panics
    /// When `position` is not below [`Table::len`].
    pub(crate) fn entry(&self, position: usize) -> (&Key<'i>, &Item<'i>) {
        let (key, value) = &self.entries[position];
        (key, value)
    }

    /// The entries, in document order, moved out.
    pub(crate) fn into_entries(self) -> Vec<(Key<'i>, Item<'i>)> {
        self.entries
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The document `toml` parsed, as a tree.
    pub(crate) fn from_document(table: DeTable<'i>) -> Self {
        let mut converted = Self::default();
        for (key, value) in table {
            let span = value.span();
            converted.push(
                key,
                Spanned::new(span, Value::from_document(value.into_inner())),
            );
        }
        converted
    }

    fn push(&mut self, key: Key<'i>, value: Item<'i>) {
        self.entries.push((key, value));
    }
}

/// The document of `text`, or the `toml` crate's syntax errors (every one it
/// found, for one report).
pub(crate) fn parse(text: &str) -> Result<Table<'_>, Vec<toml::de::Error>> {
    let (document, errors) = DeTable::parse_recoverable(text);
    if errors.is_empty() {
        Ok(Table::from_document(document.into_inner()))
    } else {
        Err(errors)
    }
}
