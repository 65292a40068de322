//! A quick reader for the patterns schemas usually hold.
//!
//! `regex-syntax` builds an abstract syntax tree, then translates it with all the
//! flags and Unicode tables of the `regex` crate: about 45,000 instructions for
//! `^(abc|k3)[a-z0-9]{5,45}$`, on every launch. Most schema patterns use only
//! literals, `.`, bracketed classes of single characters and ranges, groups,
//! alternation, repetition and `^`/`$`; this reads exactly those, straight into the
//! same [`Hir`] `regex-syntax` would give (built with its own constructors), and
//! answers `None` for anything else: escapes of letters (`\d`, `\w`, `\p{..}`),
//! flags, named groups, POSIX classes, class set operations, or anything that is
//! not plainly valid. The caller then asks `regex-syntax`, which also words every
//! error. A property test checks that whatever this reads, `regex-syntax` reads
//! the same.

use regex_syntax::hir::{Capture, ClassUnicode, ClassUnicodeRange, Dot, Hir, Look, Repetition};

/// Deeper nesting than this is left to `regex-syntax` (and its nesting limit).
const MAX_DEPTH: usize = 32;

/// Repetition counts are read up to this many digits; longer ones are left to
/// `regex-syntax`.
const MAX_COUNT_DIGITS: usize = 4;

/// The [`Hir`] of `source` when it uses only the constructs this reads.
pub(super) fn parse(source: &str) -> Option<Hir> {
    let mut reader = Reader {
        chars: source.chars().collect(),
        at: 0,
        captures: 0,
    };
    let hir = reader.alternation(0)?;
    (reader.at == reader.chars.len()).then_some(hir)
}

struct Reader {
    chars: Vec<char>,
    at: usize,
    /// Capture groups opened so far (they are numbered from 1 in order).
    captures: u32,
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
    fn alternation(&mut self, depth: usize) -> Option<Hir> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut branches = vec![self.concat(depth)?];
        while self.peek() == Some('|') {
            self.at += 1;
            branches.push(self.concat(depth)?);
        }
        Some(if branches.len() == 1 {
            branches.pop()?
        } else {
            Hir::alternation(branches)
        })
    }

    /// A sequence of repeated atoms, up to `|`, `)` or the end.
    fn concat(&mut self, depth: usize) -> Option<Hir> {
        let mut parts = Vec::new();
        // Characters in a row become one literal, as `Hir::concat` would merge
        // them, without a node per character.
        let mut run = String::new();
        while let Some(ch) = self.peek() {
            if ch == '|' || ch == ')' {
                break;
            }
            let atom = self.atom(depth)?;
            let repeated = matches!(self.peek(), Some('?' | '*' | '+' | '{'));
            if let (Atom::Literal(ch), false) = (&atom, repeated) {
                run.push(*ch);
                continue;
            }
            if !run.is_empty() {
                parts.push(Hir::literal(std::mem::take(&mut run).into_bytes()));
            }
            let repeatable = !matches!(atom, Atom::Anchor(_));
            let mut hir = atom.into_hir();
            if repeated {
                if !repeatable {
                    return None;
                }
                hir = self.repetition(hir)?;
            }
            parts.push(hir);
        }
        if !run.is_empty() {
            parts.push(Hir::literal(run.into_bytes()));
        }
        Some(Hir::concat(parts))
    }

    fn atom(&mut self, depth: usize) -> Option<Atom> {
        match self.bump()? {
            '(' => self.group(depth).map(Atom::Other),
            '[' => self.class().map(Atom::Other),
            '.' => Some(Atom::Other(Hir::dot(Dot::AnyCharExceptLF))),
            '^' => Some(Atom::Anchor(Look::Start)),
            '$' => Some(Atom::Anchor(Look::End)),
            '\\' => escaped(self.bump()?).map(Atom::Literal),
            '?' | '*' | '+' | '{' | '}' | ']' => None,
            ch => Some(Atom::Literal(ch)),
        }
    }

    /// After `(`: a capture group, or `(?:...)`.
    fn group(&mut self, depth: usize) -> Option<Hir> {
        let capturing = if self.peek() == Some('?') {
            if self.chars.get(self.at + 1) != Some(&':') {
                return None;
            }
            self.at += 2;
            false
        } else {
            true
        };
        let index = if capturing {
            self.captures += 1;
            Some(self.captures)
        } else {
            None
        };
        let sub = self.alternation(depth + 1)?;
        if self.bump()? != ')' {
            return None;
        }
        Some(match index {
            Some(index) => Hir::capture(Capture {
                index,
                name: None,
                sub: Box::new(sub),
            }),
            None => sub,
        })
    }

    /// After `[`: single characters and ranges, perhaps negated.
    fn class(&mut self) -> Option<Hir> {
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
        let mut class = ClassUnicode::new(ranges);
        if negated {
            class.negate();
        }
        Some(Hir::class(regex_syntax::hir::Class::Unicode(class)))
    }

    /// After an atom: `?`, `*`, `+` or `{m}`, `{m,}`, `{m,n}`, then perhaps `?`.
    fn repetition(&mut self, sub: Hir) -> Option<Hir> {
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
        let greedy = self.peek() != Some('?');
        if !greedy {
            self.at += 1;
        }
        // A second operator (`a**`, `a{2}+`) is left to regex-syntax.
        if matches!(self.peek(), Some('?' | '*' | '+' | '{')) {
            return None;
        }
        Some(Hir::repetition(Repetition {
            min,
            max,
            greedy,
            sub: Box::new(sub),
        }))
    }

    fn count(&mut self) -> Option<u32> {
        let start = self.at;
        while self.peek().is_some_and(|ch| ch.is_ascii_digit()) {
            self.at += 1;
        }
        let digits = self.at - start;
        if digits == 0 || digits > MAX_COUNT_DIGITS {
            return None;
        }
        self.chars[start..self.at]
            .iter()
            .collect::<String>()
            .parse()
            .ok()
    }
}

/// An atom: anchors cannot be repeated here; literal characters in a row are
/// joined.
enum Atom {
    Anchor(Look),
    Literal(char),
    Other(Hir),
}

impl Atom {
    fn into_hir(self) -> Hir {
        match self {
            Self::Anchor(look) => Hir::look(look),
            Self::Literal(ch) => literal(ch),
            Self::Other(hir) => hir,
        }
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

fn literal(ch: char) -> Hir {
    let mut buffer = [0; 4];
    Hir::literal(ch.encode_utf8(&mut buffer).as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn schema_patterns_are_read_as_regex_syntax_reads_them() {
        for source in [
            "^(abc|k3)[a-z0-9]{5,45}$",
            "[A-Za-z0-9_-]+",
            "postgres(ql)?://.+",
            r"^sk_(live|test)_[0-9a-zA-Z]{24,}$",
            r"^[^@\s]+$",
            r"\.example\.com$",
            "[-a]|[a-]|[^-]",
            "[--za04]",
            "[^--a-c]|[-]|[---]",
            "a{3}b{2,}c{1,4}?",
            "(?:x|)()é",
            "",
        ] {
            let expected = regex_syntax::parse(source).unwrap();
            match parse(source) {
                Some(hir) => assert_eq!(hir, expected, "{source}"),
                None => assert!(source.contains(r"\s"), "{source} was not read"),
            }
        }
    }

    #[test]
    fn anything_else_is_left_to_regex_syntax() {
        for source in [
            r"\d+",
            r"\w",
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
        ] {
            assert!(parse(source).is_none(), "{source}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        /// Whatever the quick reader reads, regex-syntax reads as the same Hir;
        /// whatever regex-syntax refuses, the quick reader refuses.
        #[test]
        fn the_quick_reader_agrees_with_regex_syntax(
            source in "[a-c0-9é.^$|()\\[\\]{}?*+,:\\-\\\\&~# ]{0,16}",
        ) {
            if let Some(hir) = parse(&source) {
                prop_assert_eq!(Ok(hir), regex_syntax::parse(&source).map_err(drop), "{:?}", source);
            }
        }

        /// The same for bracketed classes alone, drawn from the characters whose
        /// meaning depends on their place in a class (`-`, `]`, `^`, escapes).
        #[test]
        fn the_quick_reader_reads_classes_as_regex_syntax_does(
            source in "\\[\\^?[-a-c09\\]\\\\^]{0,8}\\]{1,2}",
        ) {
            if let Some(hir) = parse(&source) {
                prop_assert_eq!(Ok(hir), regex_syntax::parse(&source).map_err(drop), "{:?}", source);
            }
        }
    }
}
