//! A quick reader for the patterns schemas usually hold, compiled as it reads.
//!
//! `regex-syntax` builds an abstract syntax tree, then translates it with all the
//! flags and Unicode tables of the `regex` crate: about 45,000 instructions for
//! `^(abc|k3)[a-z0-9]{5,45}$`, on every launch; building its [`Hir`] alone, with
//! an allocation per node, and dropping it again were most of what a launch spent
//! on 25 such patterns. Most schema patterns use only literals, `.`, bracketed
//! classes of single characters and ranges, groups, alternation, repetition and
//! `^`/`$`; this reads exactly those and emits the automaton's instructions
//! ([`Compiler`]) as it goes, with no tree in between, and answers `None`
//! for anything else: escapes of letters (`\d`, `\w`, `\p{..}`), flags, named
//! groups, POSIX classes, class set operations, anything that is not plainly valid,
//! or a program over the size limit. The caller then asks `regex-syntax`, which
//! also words every error. Property tests check that whatever this reads,
//! `regex-syntax` reads too, and that both programs (and the `regex` crate) agree
//! on every generated value.
//!
//! [`Hir`]: regex_syntax::hir::Hir

use regex_syntax::hir::{ClassUnicode, ClassUnicodeRange};

use super::nfa::{Assertion, Compiler, Program};

/// Deeper nesting than this is left to `regex-syntax` (and its nesting limit).
const MAX_DEPTH: usize = 32;

/// Repetition counts are read up to this many digits; longer ones are left to
/// `regex-syntax`.
const MAX_COUNT_DIGITS: usize = 4;

/// `.`: any character but a line feed, as `regex-syntax` reads it.
const ANY_BUT_LINE_FEED: [(char, char); 2] = [('\0', '\u{9}'), ('\u{B}', char::MAX)];

/// The program for `source`, of at most `limit` bytes, when it uses only the
/// constructs this reads.
pub(super) fn compile(source: &str, limit: usize) -> Option<Program> {
    let mut reader = Reader {
        chars: source.chars().collect(),
        at: 0,
        out: Compiler::new(limit),
    };
    reader.alternation(0)?;
    if reader.at != reader.chars.len() {
        return None;
    }
    reader.out.finish().ok()
}

struct Reader {
    chars: Vec<char>,
    at: usize,
    out: Compiler,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let ch = self.peek()?;
        self.at += 1;
        Some(ch)
    }

    /// `a|b|...` up to the end or a closing parenthesis.
    fn alternation(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let start = self.out.here();
        // Where each branch but the last ends (no allocation without a `|`).
        let mut ends = Vec::new();
        self.concat(depth)?;
        while self.peek() == Some('|') {
            self.at += 1;
            ends.push(self.out.here());
            self.concat(depth)?;
        }
        self.out.alternate(start, &ends).ok()
    }

    /// A sequence of repeated atoms, up to `|`, `)` or the end.
    fn concat(&mut self, depth: usize) -> Option<()> {
        while let Some(ch) = self.peek() {
            if ch == '|' || ch == ')' {
                break;
            }
            let start = self.out.here();
            let repeatable = self.atom(depth)?;
            if matches!(self.peek(), Some('?' | '*' | '+' | '{')) {
                // An anchor cannot be repeated here.
                if !repeatable {
                    return None;
                }
                self.repetition(start)?;
            }
        }
        Some(())
    }

    /// Emits one atom; whether it may be repeated (anchors may not).
    fn atom(&mut self, depth: usize) -> Option<bool> {
        match self.bump()? {
            '(' => self.group(depth)?,
            '[' => self.class()?,
            '.' => self.out.class_of(ANY_BUT_LINE_FEED).ok()?,
            '^' => {
                self.out.assert(Assertion::Start).ok()?;
                return Some(false);
            }
            '$' => {
                self.out.assert(Assertion::End).ok()?;
                return Some(false);
            }
            '\\' => {
                let ch = escaped(self.bump()?)?;
                self.out.literal(ch).ok()?;
            }
            '?' | '*' | '+' | '{' | '}' | ']' => return None,
            ch => self.out.literal(ch).ok()?,
        }
        Some(true)
    }

    /// After `(`: a capture group, or `(?:...)` (the same to a whole-value match).
    fn group(&mut self, depth: usize) -> Option<()> {
        if self.peek() == Some('?') {
            if self.chars.get(self.at + 1) != Some(&':') {
                return None;
            }
            self.at += 2;
        }
        self.alternation(depth + 1)?;
        (self.bump()? == ')').then_some(())
    }

    /// After `[`: single characters and ranges, perhaps negated.
    fn class(&mut self) -> Option<()> {
        let negated = self.peek() == Some('^');
        if negated {
            self.at += 1;
        }
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let start = match self.bump()? {
                ']' if !first => break,
                // Every `-` at the start is a literal and starts no range, as in
                // regex-syntax: `[--z]` is `-` and `z`, not the range `-`..`z`.
                '-' if first => {
                    while self.peek() == Some('-') {
                        self.at += 1;
                    }
                    ranges.push(ClassUnicodeRange::new('-', '-'));
                    first = false;
                    continue;
                }
                '-' if self.peek() == Some(']') => '-',
                '\\' => escaped(self.bump()?)?,
                '[' | ']' | '-' | '&' | '~' => return None,
                ch => ch,
            };
            first = false;
            let end = if self.peek() == Some('-') && self.chars.get(self.at + 1) != Some(&']') {
                self.at += 1;
                match self.bump()? {
                    '\\' => escaped(self.bump()?)?,
                    '[' | ']' | '-' | '&' | '~' => return None,
                    ch => ch,
                }
            } else {
                start
            };
            if end < start {
                return None;
            }
            ranges.push(ClassUnicodeRange::new(start, end));
        }
        // Sorted and merged, and negated, by regex-syntax's own class type.
        let mut class = ClassUnicode::new(ranges);
        if negated {
            class.negate();
        }
        self.out
            .class_of(
                class
                    .ranges()
                    .iter()
                    .map(|range| (range.start(), range.end())),
            )
            .ok()
    }

    /// After the atom emitted from `start`: `?`, `*`, `+` or `{m}`, `{m,}`,
    /// `{m,n}`, then perhaps `?` (lazy and greedy match the same whole values).
    fn repetition(&mut self, start: u32) -> Option<()> {
        let (min, max) = match self.bump()? {
            '?' => (0, Some(1)),
            '*' => (0, None),
            '+' => (1, None),
            _ => {
                let min = self.count()?;
                let max = match self.bump()? {
                    '}' => Some(min),
                    ',' if self.peek() == Some('}') => {
                        self.at += 1;
                        None
                    }
                    ',' => {
                        let max = self.count()?;
                        (self.bump()? == '}').then_some(())?;
                        Some(max)
                    }
                    _ => return None,
                };
                if max.is_some_and(|max| max < min) {
                    return None;
                }
                (min, max)
            }
        };
        if self.peek() == Some('?') {
            self.at += 1;
        }
        // A second operator (`a**`, `a{2}+`) is left to regex-syntax.
        if matches!(self.peek(), Some('?' | '*' | '+' | '{')) {
            return None;
        }
        self.out.repeat(start, min, max).ok()
    }

    fn count(&mut self) -> Option<u32> {
        let start = self.at;
        let mut count = 0u32;
        while let Some(digit) = self.peek().and_then(|ch| ch.to_digit(10)) {
            count = count.saturating_mul(10).saturating_add(digit);
            self.at += 1;
        }
        let digits = self.at - start;
        (digits > 0 && digits <= MAX_COUNT_DIGITS).then_some(count)
    }
}

/// The character an escape stands for, when it is an escaped metacharacter.
fn escaped(ch: char) -> Option<char> {
    matches!(
        ch,
        '\\' | '.'
            | '+'
            | '*'
            | '?'
            | '('
            | ')'
            | '|'
            | '['
            | ']'
            | '{'
            | '}'
            | '^'
            | '$'
            | '#'
            | '&'
            | '-'
            | '~'
    )
    .then_some(ch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const LIMIT: usize = super::super::MAX_PATTERN_BYTES;

    /// Whether the quick program, the program from regex-syntax's tree and the
    /// `regex` crate agree on each of `values` (when the quick reader reads
    /// `source`); an error names the first disagreement.
    fn agrees(source: &str, values: &[String]) -> Result<bool, String> {
        let Some(quick) = compile(source, LIMIT) else {
            return Ok(false);
        };
        let hir = regex_syntax::parse(source)
            .map_err(|error| format!("{source:?} read, but regex-syntax refuses it: {error}"))?;
        let tree = Program::new(&hir, LIMIT).map_err(|error| format!("{source:?}: {error:?}"))?;
        let regex = regex::Regex::new(&format!(r"\A(?:{source})\z")).unwrap();
        for value in values {
            let expected = regex.is_match(value);
            if quick.is_match(value) != expected || tree.is_match(value) != expected {
                return Err(format!(
                    "{source:?} on {value:?}: the regex crate says {expected}"
                ));
            }
        }
        Ok(true)
    }

    fn values(texts: &[&str]) -> Vec<String> {
        texts.iter().map(|text| (*text).to_owned()).collect()
    }

    #[test]
    fn schema_patterns_are_read_with_the_regex_crate_meaning() {
        let values = values(&[
            "",
            "abc",
            "k3abcde",
            "abcx1y2z3",
            "k3",
            "abc12345",
            "postgres://h",
            "postgresql://",
            "sk_live_0123456789abcdefghijklmn",
            "sk_test_x",
            "a@b",
            "x.example.com",
            "-",
            "a",
            "]",
            "aaabbc",
            "aaabbbcccc",
            "x",
            "é",
            "xé",
            "za04",
            "--",
            "b",
        ]);
        for source in [
            "^(abc|k3)[a-z0-9]{5,45}$",
            "[A-Za-z0-9_-]+",
            "postgres(ql)?://.+",
            r"^sk_(live|test)_[0-9a-zA-Z]{24,}$",
            r"\.example\.com$",
            "[-a]|[a-]|[^-]",
            "[--za04]",
            "[^--a-c]|[-]|[---]",
            "a{3}b{2,}c{1,4}?",
            "(?:x|)()é",
            "(a|b|)*c?",
            "",
        ] {
            assert_eq!(agrees(source, &values), Ok(true), "{source}");
        }
    }

    #[test]
    fn anything_else_is_left_to_regex_syntax() {
        for source in [
            r"\d+",
            r"\w",
            r"^[^@\s]+$",
            "(?i)a",
            "(?P<n>a)",
            "[[:alpha:]]",
            "[a&&b]",
            "a**",
            "*a",
            "^*",
            "(",
            ")",
            "a{",
            "a{2,1}",
            "[z-a]",
            "[]a]",
            r"\b",
            "a{12345}",
            "a{99999999999999999999}",
        ] {
            assert!(compile(source, LIMIT).is_none(), "{source}");
        }
    }

    #[test]
    fn a_program_over_the_limit_is_left_to_regex_syntax() {
        assert!(compile("[a-z0-9]{5,45}", 2_000).is_some());
        assert!(compile("[a-z0-9]{5,45}", 500).is_none());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        /// Whatever the quick reader reads, regex-syntax reads too, and both
        /// programs match exactly the values the `regex` crate matches.
        #[test]
        fn the_quick_reader_agrees_with_regex_syntax(
            source in "[a-c0-9é.^$|()\\[\\]{}?*+,:\\-\\\\&~# ]{0,16}",
            values in proptest::collection::vec("[a-c0-9é.^$|()\\[\\]{}?*+,:\\-\\\\&~#\n ]{0,8}", 1..12),
        ) {
            prop_assert!(agrees(&source, &values).is_ok(), "{}", agrees(&source, &values).unwrap_err());
        }

        /// The same for bracketed classes alone, drawn from the characters whose
        /// meaning depends on their place in a class (`-`, `]`, `^`, escapes).
        #[test]
        fn the_quick_reader_reads_classes_as_regex_syntax_does(
            source in "\\[\\^?[-a-c09\\]\\\\^]{0,8}\\]{1,2}",
            values in proptest::collection::vec("[-a-d09\\]\\\\^é]{0,2}", 1..12),
        ) {
            prop_assert!(agrees(&source, &values).is_ok(), "{}", agrees(&source, &values).unwrap_err());
        }
    }
}
