//! One line of the plain TOML most schemas are written in, read byte by byte.
//!
//! Lexing and parsing with `toml_parser` costs a few thousand instructions a
//! line: about 40 % of a 10,000-variable `--check`. Most schema lines are a
//! `[vars.NAME]` header, `key = "string"`, `key = 'literal'`, a decimal
//! integer, a boolean, or a one-line array of those, with bare keys. This reads
//! exactly those and nothing else: a line with anything more (escapes, quoted
//! keys, inline tables, floats, multi-line values, whitespace around dots, a
//! control character) is not taken, and the caller reads it with the lexer and
//! parser instead. What it takes it reads as `toml` does, spans included (held
//! to it by the property test of the tree and the `schema` fuzz target).

use std::borrow::Cow;

use smallvec::SmallVec;
use toml::Spanned;

use super::{Item, Key, Value};

/// The parents of a dotted key (`vars` in `[vars.NAME]`): most have one or
/// none, held without an allocation.
pub(super) type Path<'i> = SmallVec<[Key<'i>; 2]>;

/// What a line holds.
pub(super) enum Line<'i> {
    /// Nothing but whitespace and perhaps a comment.
    Blank,
    /// `[path.key]`, with the span of the brackets and what they hold.
    Header {
        path: Path<'i>,
        key: Key<'i>,
        span: std::ops::Range<usize>,
    },
    /// `path.key = value`.
    KeyValue {
        path: Path<'i>,
        key: Key<'i>,
        value: Item<'i>,
    },
}

/// The line of `text` starting at `start` and where the next one starts, or
/// `None` when it is not one this reads.
pub(super) fn read(text: &str, start: usize) -> Option<(Line<'_>, usize)> {
    let mut scanner = Scanner {
        text,
        bytes: text.as_bytes(),
        at: start,
    };
    scanner.skip_whitespace();
    let line = match scanner.peek() {
        None | Some(b'#' | b'\n' | b'\r') => Line::Blank,
        Some(b'[') => scanner.header()?,
        Some(_) => scanner.key_value()?,
    };
    let next = scanner.end_of_line()?;
    Some((line, next))
}

/// How many dotted parts a key may have before it is left to the parser (the
/// parser's own limit is larger; the two only need to agree on what is taken).
const MAX_KEY_PARTS: usize = 32;

struct Scanner<'i> {
    text: &'i str,
    bytes: &'i [u8],
    at: usize,
}

/// A byte TOML forbids in comments and single-line strings.
const fn is_control(byte: u8) -> bool {
    (byte < 0x20 && byte != b'\t') || byte == 0x7f
}

/// The bytes a `"basic"` string's text stops at: its quote, a backslash, a
/// control character.
static BASIC_STRING_STOPS: [bool; 256] = string_stops(b'"');

/// The bytes a `'literal'` string's text stops at: its quote, a control
/// character.
static LITERAL_STRING_STOPS: [bool; 256] = string_stops(b'\'');

const fn string_stops(quote: u8) -> [bool; 256] {
    let mut table = [false; 256];
    let mut byte: u8 = 0;
    loop {
        table[byte as usize] =
            byte == quote || (quote == b'"' && byte == b'\\') || is_control(byte);
        if byte == u8::MAX {
            break table;
        }
        byte += 1;
    }
}

/// Which bytes a bare key is made of: `A-Za-z0-9_-` (a table, as a key is
/// read a byte at a time).
static BARE_KEY_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte: u8 = 0;
    loop {
        table[byte as usize] = byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-';
        if byte == u8::MAX {
            break table;
        }
        byte += 1;
    }
};

impl<'i> Scanner<'i> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let matched = self.peek() == Some(byte);
        self.at += usize::from(matched);
        matched
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    /// Whitespace, a comment, then the line break (or the end): where the next
    /// line starts.
    fn end_of_line(&mut self) -> Option<usize> {
        self.skip_whitespace();
        if self.eat(b'#') {
            while let Some(byte) = self.peek() {
                if byte == b'\n' || byte == b'\r' {
                    break;
                }
                if is_control(byte) {
                    return None;
                }
                self.at += 1;
            }
        }
        match self.peek() {
            None => Some(self.at),
            Some(b'\n') => Some(self.at + 1),
            Some(b'\r') if self.bytes.get(self.at + 1) == Some(&b'\n') => Some(self.at + 2),
            Some(_) => None,
        }
    }

    fn bare_key(&mut self) -> Option<Key<'i>> {
        let start = self.at;
        let length = self.bytes[start..]
            .iter()
            .position(|&byte| !BARE_KEY_BYTES[usize::from(byte)])
            .unwrap_or(self.bytes.len() - start);
        self.at += length;
        (length > 0)
            .then(|| Spanned::new(start..self.at, Cow::Borrowed(&self.text[start..self.at])))
    }

    /// `a.b.c` (no whitespace around the dots): the parents, then the last part.
    fn dotted_key(&mut self) -> Option<(Path<'i>, Key<'i>)> {
        let mut key = self.bare_key()?;
        let mut path = Path::new();
        while self.eat(b'.') {
            path.push(std::mem::replace(&mut key, self.bare_key()?));
            if path.len() >= MAX_KEY_PARTS {
                return None;
            }
        }
        Some((path, key))
    }

    fn header(&mut self) -> Option<Line<'i>> {
        let start = self.at;
        self.at += 1;
        self.skip_whitespace();
        let (path, key) = self.dotted_key()?;
        self.skip_whitespace();
        if !self.eat(b']') {
            return None;
        }
        Some(Line::Header {
            path,
            key,
            span: start..self.at,
        })
    }

    fn key_value(&mut self) -> Option<Line<'i>> {
        let (path, key) = self.dotted_key()?;
        self.skip_whitespace();
        if !self.eat(b'=') {
            return None;
        }
        self.skip_whitespace();
        let value = if self.peek() == Some(b'[') {
            self.array()?
        } else {
            self.scalar()?
        };
        Some(Line::KeyValue { path, key, value })
    }

    /// `[ scalar, scalar, ]` on one line.
    fn array(&mut self) -> Option<Item<'i>> {
        let start = self.at;
        self.at += 1;
        // Gathered in place, then moved into a vector of their exact size: most
        // arrays hold one or two items, where a vector's first allocation has
        // room for four.
        let mut items: SmallVec<[Item<'i>; 4]> = SmallVec::new();
        loop {
            self.skip_whitespace();
            if self.eat(b']') {
                break;
            }
            items.push(self.scalar()?);
            self.skip_whitespace();
            if !self.eat(b',') {
                self.skip_whitespace();
                if !self.eat(b']') {
                    return None;
                }
                break;
            }
        }
        Some(Spanned::new(
            start..self.at,
            Value::Array(items.into_iter().collect()),
        ))
    }

    /// A string without escapes, a decimal integer or a boolean, followed by
    /// something that ends a value.
    fn scalar(&mut self) -> Option<Item<'i>> {
        let start = self.at;
        let value = match self.peek()? {
            quote @ (b'"' | b'\'') => Value::String(Cow::Borrowed(self.string(quote)?)),
            b't' => self.word("true", Value::Boolean(true))?,
            b'f' => self.word("false", Value::Boolean(false))?,
            b'-' | b'0'..=b'9' => self.integer()?,
            _ => return None,
        };
        let ends_value = matches!(
            self.peek(),
            None | Some(b' ' | b'\t' | b',' | b']' | b'#' | b'\n' | b'\r')
        );
        ends_value.then(|| Spanned::new(start..self.at, value))
    }

    /// The text between `quote`s: no escapes, no control characters, not the
    /// start of a multi-line string.
    fn string(&mut self, quote: u8) -> Option<&'i str> {
        self.at += 1;
        let start = self.at;
        let rest = &self.bytes[start..];
        if rest.starts_with(&[quote, quote]) {
            return None;
        }
        // Where the text stops: the closing quote, or a byte this does not read
        // (an escape, a control character).
        let stops = if quote == b'"' {
            &BASIC_STRING_STOPS
        } else {
            &LITERAL_STRING_STOPS
        };
        let length = rest.iter().position(|&byte| stops[usize::from(byte)])?;
        if rest[length] != quote {
            return None;
        }
        self.at += length + 1;
        Some(&self.text[start..start + length])
    }

    fn word(&mut self, word: &str, value: Value<'i>) -> Option<Value<'i>> {
        self.bytes[self.at..].starts_with(word.as_bytes()).then(|| {
            self.at += word.len();
            value
        })
    }

    /// `0`, `-0`, or digits not starting with `0`, with an optional minus: no
    /// underscores, no prefix, no plus.
    fn integer(&mut self) -> Option<Value<'i>> {
        let start = self.at;
        self.eat(b'-');
        let first = self.peek()?;
        if !first.is_ascii_digit() {
            return None;
        }
        self.at += 1;
        if first != b'0' {
            while self.peek().is_some_and(|byte| byte.is_ascii_digit()) {
                self.at += 1;
            }
        }
        Some(Value::Integer(super::Integer {
            digits: Cow::Borrowed(&self.text[start..self.at]),
            radix: 10,
        }))
    }
}
