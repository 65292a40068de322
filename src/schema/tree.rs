//! The schema's TOML document as a tree of spanned values, read quickly.
//!
//! The `toml` crate's spanned document (`DeTable`) lists every token of the text,
//! then every parser event, then builds a hash-indexed map per table: for a
//! 10,000-variable schema that was about 40 % of a `--check` and its whole memory
//! peak (a 6 MB token list). This reads the document one line at a time: plain
//! lines (a header, `key = "string"`, an integer, a boolean, a one-line array;
//! most of a schema) byte by byte ([`lines`]), any other expression with the
//! same lexer, parser and decoders as `toml` (`toml_parser`), into plain vectors
//! of entries, applying the same table rules as `toml` (implicit, dotted and
//! inline tables; no key or table defined twice).
//!
//! Anything it does not take on (a syntax or semantic error, an array of tables,
//! a date-time, a table header reopening a table made implicitly) makes it give
//! up: the caller then parses with `toml`, which words every error, and converts
//! that document ([`Table::from_document`]). A property test holds both to the
//! same tree, spans included.

use std::borrow::Cow;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};
use toml_parser::decoder::ScalarKind;
use toml_parser::lexer::{Token, TokenKind};
use toml_parser::parser::{Event, EventKind, RecursionGuard, ValidateWhitespace};
use toml_parser::{ErrorSink, ParseError, Source};

use crate::NameMap;
use lines::Line;

mod lines;

/// How deep arrays and inline tables may nest (the `toml` crate's limit).
const MAX_DEPTH: u32 = 80;

/// Tables with more entries than this find keys through a hash index.
const INDEXED_FROM: usize = 16;

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
    /// Position of each key, once the table is large (boxed: most tables are
    /// small, and every value is as large as its largest kind).
    index: Option<Box<NameMap<Cow<'i, str>, usize>>>,
    /// Made as the parent of a header or dotted key, not written itself (dotted
    /// keys may add to it; a header reopening it is left to `toml`).
    implicit: bool,
    /// Written inline (`{ ... }`): closed to later additions.
    inline: bool,
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

    fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            Some(index) => index.get(key).copied(),
            None => self
                .entries
                .iter()
                .position(|(candidate, _)| candidate.get_ref() == key),
        }
    }

    fn push(&mut self, key: Key<'i>, value: Item<'i>) {
        if let Some(index) = &mut self.index {
            index.insert(key.get_ref().clone(), self.entries.len());
        } else if self.entries.len() >= INDEXED_FROM {
            let mut index: NameMap<Cow<'i, str>, usize> = self
                .entries
                .iter()
                .enumerate()
                .map(|(position, (key, _))| (key.get_ref().clone(), position))
                .collect();
            index.insert(key.get_ref().clone(), self.entries.len());
            self.index = Some(Box::new(index));
        }
        self.entries.push((key, value));
    }

    /// Adds `key` with `value` unless the table holds `key`: false when it
    /// does (one hash lookup in a large table).
    fn push_new(&mut self, key: Key<'i>, value: Item<'i>) -> bool {
        if let Some(index) = &mut self.index {
            match index.entry(key.get_ref().clone()) {
                std::collections::hash_map::Entry::Occupied(_) => return false,
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(self.entries.len());
                }
            }
            self.entries.push((key, value));
            return true;
        }
        if self.position(key.get_ref()).is_some() {
            return false;
        }
        self.push(key, value);
        true
    }

    fn table_mut(&mut self, position: usize) -> Option<&mut Self> {
        match self.entries[position].1.get_mut() {
            Value::Table(table) => Some(table),
            _ => None,
        }
    }

    fn implicit() -> Self {
        Self {
            implicit: true,
            ..Self::default()
        }
    }
}

/// The document of `text`, or `None` when it is left to the `toml` crate.
///
/// Plain lines are read by [`lines`]; any other expression (one or several
/// lines) by `toml_parser`'s lexer and parser.
pub(crate) fn parse(text: &str) -> Option<Table<'_>> {
    let mut builder = Builder {
        text,
        source: Source::new(text),
        base: 0,
        root: Table::default(),
        current: Table::default(),
        slot: None,
        tokens: Vec::new(),
        events: Vec::new(),
    };
    let mut at = 0;
    while at < text.len() {
        at = match lines::read(text, at) {
            Some((line, next)) => {
                builder.line(line)?;
                next
            }
            None => builder.expression_at(at)?,
        };
    }
    builder.finish_table()?;
    Some(builder.root)
}

/// Notes that an error was reported.
#[derive(Default)]
struct Failed(bool);

impl ErrorSink for Failed {
    fn report_error(&mut self, _error: ParseError) {
        self.0 = true;
    }
}

/// Positions of entries, from a table down through its children.
type Positions = smallvec::SmallVec<[usize; 4]>;

/// A `[table]` header.
struct Header<'i> {
    path: lines::Path<'i>,
    key: Key<'i>,
    span: Range<usize>,
}

struct Builder<'i> {
    text: &'i str,
    /// The text from `base` on, for the expression being parsed.
    source: Source<'i>,
    /// Where `source` starts in `text`: added to the parser's spans.
    base: usize,
    root: Table<'i>,
    /// The table being filled: the root's own entries, then each header's.
    current: Table<'i>,
    /// Where `current` goes when it is a header's: the position of each table
    /// from the root down, the last one its own entry (held by an empty table
    /// until it is finished).
    slot: Option<Positions>,
    /// The tokens of the expressions being read.
    tokens: Vec<Token>,
    events: Vec<Event>,
}

/// Events of the expressions being read, consumed in order.
struct Cursor<'e> {
    events: &'e [Event],
    at: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<Event> {
        let event = *self.events.get(self.at)?;
        self.at += 1;
        Some(event)
    }

    fn peek(&self) -> Option<EventKind> {
        self.events.get(self.at).map(Event::kind)
    }

    fn skip(&mut self, kinds: &[EventKind]) {
        while self.peek().is_some_and(|kind| kinds.contains(&kind)) {
            self.at += 1;
        }
    }

    /// The next event, after whitespace, comments and line breaks.
    fn next_significant(&mut self) -> Option<Event> {
        self.skip(&[
            EventKind::Whitespace,
            EventKind::Comment,
            EventKind::Newline,
        ]);
        self.next()
    }

    fn expect(&mut self, kind: EventKind) -> Option<Event> {
        self.skip(&[EventKind::Whitespace]);
        self.next().filter(|event| event.kind() == kind)
    }
}

impl<'i> Builder<'i> {
    /// Applies a line read by [`lines`].
    fn line(&mut self, line: Line<'i>) -> Option<()> {
        match line {
            Line::Blank => Some(()),
            Line::Header { path, key, span } => {
                self.finish_table()?;
                self.start_table(Header { path, key, span })
            }
            Line::KeyValue { path, key, value } => self.key_value(&path, key, value),
        }
    }

    /// Lexes from `at` to the end of the expression starting there (a line
    /// break outside brackets, or the end), parses and applies it: where the
    /// next line starts.
    fn expression_at(&mut self, at: usize) -> Option<usize> {
        let rest = &self.text[at..];
        // The lexer skips a byte order mark at the start of its input; past the
        // start of the document one is an error, which `toml` words.
        if at > 0 && rest.starts_with('\u{feff}') {
            return None;
        }
        self.source = Source::new(rest);
        self.base = at;
        let mut depth = 0_usize;
        let mut end = self.text.len();
        for token in self.source.lex() {
            match token.kind() {
                TokenKind::LeftSquareBracket | TokenKind::LeftCurlyBracket => depth += 1,
                TokenKind::RightSquareBracket | TokenKind::RightCurlyBracket => {
                    depth = depth.saturating_sub(1);
                }
                _ => {}
            }
            let ends_expression = match token.kind() {
                TokenKind::Newline => depth == 0,
                TokenKind::Eof => true,
                _ => false,
            };
            self.tokens.push(token);
            if ends_expression {
                end = at + token.span().end();
                break;
            }
        }
        self.expressions()?;
        Some(end)
    }

    /// The span of `event` in `text`.
    fn span(&self, event: &Event) -> Range<usize> {
        self.between(event, event)
    }

    /// From the start of `first` to the end of `last`, in `text`.
    fn between(&self, first: &Event, last: &Event) -> Range<usize> {
        self.base + first.span().start()..self.base + last.span().end()
    }

    /// Parses the tokens gathered (whole expressions) and applies them.
    fn expressions(&mut self) -> Option<()> {
        let mut failed = Failed::default();
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        {
            let mut whitespace = ValidateWhitespace::new(&mut events, self.source);
            let mut guard = RecursionGuard::new(&mut whitespace, MAX_DEPTH);
            toml_parser::parser::parse_document(&self.tokens, &mut guard, &mut failed);
        }
        self.tokens.clear();
        if failed.0 {
            return None;
        }
        let mut cursor = Cursor {
            events: &events,
            at: 0,
        };
        let applied = self.document(&mut cursor);
        self.events = events;
        applied
    }

    fn document(&mut self, cursor: &mut Cursor<'_>) -> Option<()> {
        while let Some(event) = cursor.next() {
            match event.kind() {
                EventKind::Whitespace | EventKind::Comment | EventKind::Newline => {}
                EventKind::StdTableOpen => {
                    self.finish_table()?;
                    let header = self.header(cursor, &event)?;
                    self.start_table(header)?;
                }
                EventKind::SimpleKey => {
                    let (path, key) = self.key(cursor, &event)?;
                    cursor.expect(EventKind::KeyValSep)?;
                    let value = self.value(cursor)?;
                    self.key_value(&path, key, value)?;
                }
                _ => return None,
            }
        }
        Some(())
    }

    fn header(&self, cursor: &mut Cursor<'_>, open: &Event) -> Option<Header<'i>> {
        let first = cursor.expect(EventKind::SimpleKey)?;
        let (path, key) = self.key(cursor, &first)?;
        let close = cursor.expect(EventKind::StdTableClose)?;
        Some(Header {
            path,
            key,
            span: self.between(open, &close),
        })
    }

    /// A simple or dotted key starting at `first`: the parents, then the last part.
    fn key(&self, cursor: &mut Cursor<'_>, first: &Event) -> Option<(lines::Path<'i>, Key<'i>)> {
        let mut path = lines::Path::new();
        let mut key = self.decode_key(first)?;
        loop {
            let before = cursor.at;
            cursor.skip(&[EventKind::Whitespace]);
            if cursor.peek() != Some(EventKind::KeySep) {
                cursor.at = before;
                break;
            }
            cursor.at += 1;
            let part = cursor.expect(EventKind::SimpleKey)?;
            path.push(std::mem::replace(&mut key, self.decode_key(&part)?));
        }
        (path.len() < MAX_DEPTH as usize / 2).then_some((path, key))
    }

    fn decode_key(&self, event: &Event) -> Option<Key<'i>> {
        let mut failed = Failed::default();
        let mut decoded = Cow::Borrowed("");
        self.source
            .get(event)?
            .decode_key(&mut decoded, &mut failed);
        (!failed.0).then(|| Spanned::new(self.span(event), decoded))
    }

    fn value(&self, cursor: &mut Cursor<'_>) -> Option<Item<'i>> {
        cursor.skip(&[EventKind::Whitespace]);
        let event = cursor.next()?;
        match event.kind() {
            EventKind::Scalar => self.scalar(&event),
            EventKind::ArrayOpen => self.array(cursor, &event),
            EventKind::InlineTableOpen => self.inline_table(cursor, &event),
            _ => None,
        }
    }

    fn scalar(&self, event: &Event) -> Option<Item<'i>> {
        let mut failed = Failed::default();
        let mut decoded = Cow::Borrowed("");
        let kind = self
            .source
            .get(event)?
            .decode_scalar(&mut decoded, &mut failed);
        if failed.0 {
            return None;
        }
        let value = match kind {
            ScalarKind::String => Value::String(decoded),
            ScalarKind::Boolean(flag) => Value::Boolean(flag),
            ScalarKind::Float => Value::Float(decoded),
            ScalarKind::Integer(radix) => Value::Integer(Integer {
                digits: decoded,
                radix: radix.value(),
            }),
            // Date-times are validated by the `toml` crate.
            ScalarKind::DateTime => return None,
        };
        Some(Spanned::new(self.span(event), value))
    }

    fn array(&self, cursor: &mut Cursor<'_>, open: &Event) -> Option<Item<'i>> {
        let mut items = Vec::new();
        loop {
            cursor.skip(&[
                EventKind::Whitespace,
                EventKind::Comment,
                EventKind::Newline,
            ]);
            if cursor.peek() == Some(EventKind::ArrayClose) {
                break;
            }
            items.push(self.value(cursor)?);
            let separator = cursor.next_significant()?;
            match separator.kind() {
                EventKind::ValueSep => {}
                EventKind::ArrayClose => {
                    cursor.at -= 1;
                    break;
                }
                _ => return None,
            }
        }
        let close = cursor.next()?;
        Some(Spanned::new(
            self.between(open, &close),
            Value::Array(items),
        ))
    }

    /// `{ key = value, ... }` with simple keys (dotted ones are left to `toml`).
    fn inline_table(&self, cursor: &mut Cursor<'_>, open: &Event) -> Option<Item<'i>> {
        let mut table = Table {
            inline: true,
            ..Table::default()
        };
        let close = loop {
            let event = cursor.next_significant()?;
            match event.kind() {
                EventKind::InlineTableClose => break event,
                EventKind::SimpleKey => {}
                _ => return None,
            }
            let (path, key) = self.key(cursor, &event)?;
            cursor.expect(EventKind::KeyValSep)?;
            let value = self.value(cursor)?;
            if !path.is_empty() || table.position(key.get_ref()).is_some() {
                return None;
            }
            table.push(key, value);
            let separator = cursor.next_significant()?;
            match separator.kind() {
                EventKind::ValueSep => {}
                EventKind::InlineTableClose => break separator,
                _ => return None,
            }
        };
        Some(Spanned::new(
            self.between(open, &close),
            Value::Table(table),
        ))
    }

    /// `path.key = value` in the current table.
    fn key_value(&mut self, path: &[Key<'i>], key: Key<'i>, value: Item<'i>) -> Option<()> {
        let dotted = !path.is_empty();
        let parent = descend(&mut self.current, path, dotted)?;
        if (dotted && !parent.implicit) || parent.position(key.get_ref()).is_some() {
            return None;
        }
        parent.push(key, value);
        Some(())
    }

    /// Puts the table being filled where its header says.
    fn finish_table(&mut self) -> Option<()> {
        let mut table = std::mem::take(&mut self.current);
        // Entries gather in one vector kept from table to table, and each table
        // keeps a copy of its exact size: most hold a few entries, where a
        // vector's first allocation has room for four. A 10,000-variable
        // schema's tree is two megabytes smaller, and each megabyte of heap is a
        // fraction of a millisecond of page faults.
        let exact = table.entries.drain(..).collect();
        self.current.entries = std::mem::replace(&mut table.entries, exact);
        let Some(slot) = self.slot.take() else {
            self.root = table;
            return Some(());
        };
        // `start_table` put an empty table in the header's place, and nothing
        // since changed the tree above it: the lines in between went into `table`.
        let (&last, parents) = slot.split_last()?;
        let mut parent = &mut self.root;
        for &position in parents {
            parent = parent.table_mut(position)?;
        }
        *parent.table_mut(last)? = table;
        Some(())
    }

    /// Makes the header's table, empty, where it says: where `current` goes
    /// once it is filled.
    fn start_table(&mut self, header: Header<'i>) -> Option<()> {
        let Header { path, key, span } = header;
        let mut slot = Positions::new();
        let parent = descend_recording(&mut self.root, &path, false, &mut slot)?;
        // Defined twice, or first made implicitly (which `toml` reorders): left
        // to `toml`.
        if !parent.push_new(key, Spanned::new(span, Value::Table(Table::default()))) {
            return None;
        }
        slot.push(parent.len() - 1);
        // `finish_table` left `current` empty (its vector's room kept).
        self.slot = Some(slot);
        Some(())
    }
}

/// The table at `path` under `table`, made (implicitly) where missing, by the
/// `toml` crate's rules for headers (`dotted` false) and dotted keys: a dotted
/// key adds only to implicit tables, nothing adds to an inline one.
fn descend<'t, 'i>(
    table: &'t mut Table<'i>,
    path: &[Key<'i>],
    dotted: bool,
) -> Option<&'t mut Table<'i>> {
    descend_recording(table, path, dotted, &mut Positions::new())
}

/// As [`descend`], adding the position of each table it goes through to
/// `positions`.
fn descend_recording<'t, 'i>(
    mut table: &'t mut Table<'i>,
    path: &[Key<'i>],
    dotted: bool,
    positions: &mut Positions,
) -> Option<&'t mut Table<'i>> {
    for key in path {
        let position = if let Some(position) = table.position(key.get_ref()) {
            let child = table.table_mut(position)?;
            if child.inline || (dotted && !child.implicit) {
                return None;
            }
            position
        } else {
            table.push(
                key.clone(),
                Spanned::new(key.span(), Value::Table(Table::implicit())),
            );
            table.entries.len() - 1
        };
        positions.push(position);
        table = table.table_mut(position)?;
    }
    Some(table)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn with_toml(text: &str) -> Option<Table<'_>> {
        DeTable::parse(text)
            .ok()
            .map(|document| Table::from_document(document.into_inner()))
    }

    #[test]
    fn a_schema_reads_as_the_toml_crate_reads_it() {
        let text = r#"# schema
version = 1
[envgate]
environments = ["development", 'production']
shared_prefixes = [
  "shared/", # comment
]

[vars.DATABASE_URL]
type = "url"
schemes = ["postgres", "postgresql"]
secret = "db#url"
min_length = 0x10
min_entropy_bits = 1_28.5e0
rotate = { kind = "postgres", every = "30d" }
environments.production.required = true

[vars.PORT]
type = "port"
default = 8_000
"quoted key" = """multi
line"""

[vars.PORT.environments.staging]
default = '''8001'''
"#;
        let quick = parse(text).expect("read quickly");
        assert_eq!(Some(&quick), with_toml(text).as_ref());
        let vars = quick
            .iter()
            .find(|(key, _)| key.get_ref() == "vars")
            .unwrap();
        assert_eq!(vars.1.get_ref().as_table().unwrap().entries.len(), 2);
    }

    #[test]
    fn what_the_toml_crate_refuses_or_reorders_is_left_to_it() {
        for text in [
            "a = 1\na = 2",
            "[a]\n[a]",
            "[a.b]\n[a]",
            "[[a]]\nb = 1",
            "a = 1979-05-27",
            "a = { b.c = 1 }",
            "a = {b = 1}\n[a.c]",
            "a = [1,,2]",
            "a = \"\\q\"",
            "[a]\nb = 1\n[a.b]",
            "a.b = 1\n[a]",
            "a = ",
            "a = 1\n\u{feff}b = 2",
        ] {
            assert!(parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn large_tables_find_keys_by_index() {
        let text = (0..100).fold(String::new(), |text, i| {
            text + &format!("[vars.V{i}]\nx = {i}\n")
        });
        let quick = parse(&text).unwrap();
        assert_eq!(Some(&quick), with_toml(&text).as_ref());
        let twice = format!("{text}[vars.V7]\n");
        assert!(parse(&twice).is_none());
    }

    /// Lines of schema-like TOML: headers, dotted and quoted keys, every scalar,
    /// arrays over one or several lines, inline tables, comments, indentation
    /// and both line breaks, with keys drawn from a small set so that duplicates
    /// and redefinitions happen, and near misses of the plain lines [`lines`]
    /// reads (leading zeros, `+`, empty and multi-line strings, words run on).
    fn document() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("a".to_owned()),
            Just("b".to_owned()),
            Just("vars".to_owned()),
            Just("V_1-x".to_owned()),
            Just("1".to_owned()),
            Just("\"a\"".to_owned()),
            Just("'b c'".to_owned()),
            Just("\"\\u00e9\"".to_owned()),
        ];
        let dot = prop_oneof![4 => Just("."), 1 => Just(" . ")];
        let path = proptest::collection::vec((key, dot), 1..4).prop_map(|parts| {
            let mut path = String::new();
            for (index, (key, dot)) in parts.iter().enumerate() {
                if index > 0 {
                    path.push_str(dot);
                }
                path.push_str(key);
            }
            path
        });
        let scalar = prop_oneof![
            Just("1".to_owned()),
            Just("0".to_owned()),
            Just("-0".to_owned()),
            Just("-42".to_owned()),
            Just("+1".to_owned()),
            Just("01".to_owned()),
            Just("-".to_owned()),
            Just("-0x1F".to_owned()),
            Just("0o17".to_owned()),
            Just("1_000".to_owned()),
            Just("3.5e-2".to_owned()),
            Just("inf".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("truex".to_owned()),
            Just("\"\"".to_owned()),
            Just("''".to_owned()),
            Just("\"plain \u{e9}\t\"".to_owned()),
            Just("\"s\\t\\\"x\\\"\"".to_owned()),
            Just("\"a\"b".to_owned()),
            Just("'lit \\ #'".to_owned()),
            Just("'''ml'''".to_owned()),
            Just("\"\"\"\nml\\\n  x\"\"\"".to_owned()),
            Just("1979-05-27".to_owned()),
            Just("\"bad \\q\"".to_owned()),
        ];
        let value = scalar.prop_recursive(2, 8, 3, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3)
                    .prop_map(|items| format!("[{}]", items.join(", "))),
                proptest::collection::vec(inner.clone(), 1..3)
                    .prop_map(|items| format!("[ {}, ]", items.join(","))),
                Just("[,]".to_owned()),
                proptest::collection::vec(inner.clone(), 1..3)
                    .prop_map(|items| format!("[\n  {}, # c\n]", items.join(",\n  "))),
                (inner.clone(), inner).prop_map(|(a, b)| format!("{{ a = {a}, b = {b} }}")),
            ]
        });
        let line = prop_oneof![
            3 => (path.clone(), value).prop_map(|(key, value)| format!("{key} = {value}")),
            1 => Just("\u{feff}b = 1".to_owned()),
            1 => path.clone().prop_map(|key| format!("[{key}]")),
            1 => path.clone().prop_map(|key| format!("\t[ {key} ] # header \u{e9}")),
            1 => path.prop_map(|key| format!("[{key}] x")),
            1 => Just("# comment".to_owned()),
            1 => Just("  # comment \u{7f}".to_owned()),
            1 => Just(String::new()),
        ];
        let line_break = prop_oneof![4 => Just("\n"), 1 => Just("\r\n"), 1 => Just("\r")];
        proptest::collection::vec((line, line_break), 0..12).prop_map(|lines| {
            lines
                .into_iter()
                .map(|(line, line_break)| line + line_break)
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        /// Whatever is read quickly is what the `toml` crate reads, spans included;
        /// whatever it refuses is not read quickly.
        #[test]
        fn the_quick_tree_is_the_toml_crates_tree(text in document()) {
            if let Some(quick) = parse(&text) {
                prop_assert_eq!(Some(quick), with_toml(&text), "{}", text);
            }
        }
    }
}
