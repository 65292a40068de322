//! The `.env` format, read as python-dotenv reads it (the reference for Django
//! projects), so that a value reaches the program exactly as the file wrote it.
//!
//! - `NAME=value`, optionally `export NAME=value`; spaces around `=` are allowed;
//!   blank lines and `#` comments are skipped; a line with a name alone sets nothing.
//! - Unquoted values end at the line's end; a `#` after whitespace starts a comment;
//!   surrounding whitespace is trimmed.
//! - `'single'` quotes: literal, may span lines; only `\\` and `\'` are escapes.
//! - `"double"` quotes: may span lines; `\\ \" \' \n \r \t \a \b \f \v` are escapes.
//! - Expansion: `${NAME}` and `${NAME:-default}` in unquoted and double-quoted values,
//!   from the process environment first, then the entries read before it. `$NAME`
//!   without braces is kept as written (python-dotenv does not expand it; Compose
//!   does: see docs/DECISIONS.md). A name that is unset expands to the empty
//!   string, with a warning.
//!
//! Parsing is pure and total: any text gives entries or a [`SyntaxError`] naming
//! its line, never a panic (the `env_file` fuzz target holds it to that).

use std::fmt;

/// How a value was quoted, which decides escapes and expansion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quoting {
    /// No quotes.
    Bare,
    /// `'…'`: literal.
    Single,
    /// `"…"`: escapes and expansion.
    Double,
}

/// One `NAME=value` entry as written, before expansion.
#[derive(Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The variable name.
    pub name: String,
    /// The value with quotes and escapes resolved, before expansion.
    pub value: String,
    /// How it was quoted.
    pub quoting: Quoting,
    /// The 1-based line the entry starts on.
    pub line: usize,
}

impl fmt::Debug for RawEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawEntry")
            .field("name", &self.name)
            .field("quoting", &self.quoting)
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

/// Why a `.env` text does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The 1-based line.
    pub line: usize,
    /// What is wrong there.
    pub reason: String,
}

struct Cursor<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    /// The 1-based column (in characters) of the next character.
    column: usize,
}

impl Cursor<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn bump(&mut self) -> Option<char> {
        let next = self.chars.next();
        if next == Some('\n') {
            self.line += 1;
            self.column = 1;
        } else if next.is_some() {
            self.column += 1;
        }
        next
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t')) {
            self.bump();
        }
    }

    fn skip_line(&mut self) {
        while let Some(c) = self.bump() {
            if c == '\n' {
                break;
            }
        }
    }

    /// After a value: blanks, an optional comment, then the end of the line.
    fn end_of_entry(&mut self, line: usize) -> Result<(), SyntaxError> {
        self.skip_blanks();
        match self.peek() {
            None => Ok(()),
            Some('\n' | '\r' | '#') => {
                self.skip_line();
                Ok(())
            }
            Some(_) => Err(SyntaxError {
                line,
                reason: "unexpected text after the closing quote".to_owned(),
            }),
        }
    }
}

fn is_name_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '=' | '#' | '"' | '\'' | '$' | '{' | '}')
}

/// Parses `.env` text into entries, in file order.
///
/// # Errors
/// The first line that does not parse.
pub fn parse(text: &str) -> Result<Vec<RawEntry>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut cursor = Cursor {
        chars: text.chars().peekable(),
        line: 1,
        column: 1,
    };
    let mut entries = Vec::new();
    loop {
        while matches!(cursor.peek(), Some(c) if c.is_whitespace()) {
            cursor.bump();
        }
        let Some(first) = cursor.peek() else { break };
        if first == '#' {
            cursor.skip_line();
            continue;
        }
        let line = cursor.line;
        let mut name = read_name(&mut cursor);
        if name == "export" && matches!(cursor.peek(), Some(' ' | '\t')) {
            cursor.skip_blanks();
            name = read_name(&mut cursor);
        }
        if name.is_empty() {
            return Err(SyntaxError {
                line,
                reason: "expected NAME=value".to_owned(),
            });
        }
        cursor.skip_blanks();
        match cursor.peek() {
            None | Some('\n' | '\r' | '#') => {
                // A name alone declares nothing (python-dotenv: no value).
                cursor.skip_line();
                continue;
            }
            Some('=') => {
                cursor.bump();
            }
            Some(_) => {
                // The line's text is not repeated: it may be a value.
                return Err(SyntaxError {
                    line,
                    reason: format!(
                        "expected `=` at column {} (after a variable name of {} characters)",
                        cursor.column,
                        name.chars().count()
                    ),
                });
            }
        }
        cursor.skip_blanks();
        let (value, quoting) = match cursor.peek() {
            Some('\'') => {
                cursor.bump();
                let value = read_quoted(&mut cursor, '\'', line)?;
                cursor.end_of_entry(line)?;
                (value, Quoting::Single)
            }
            Some('"') => {
                cursor.bump();
                let value = read_quoted(&mut cursor, '"', line)?;
                cursor.end_of_entry(line)?;
                (value, Quoting::Double)
            }
            _ => (read_bare(&mut cursor), Quoting::Bare),
        };
        entries.push(RawEntry {
            name,
            value,
            quoting,
            line,
        });
    }
    Ok(entries)
}

fn read_name(cursor: &mut Cursor<'_>) -> String {
    let mut name = String::new();
    while let Some(c) = cursor.peek() {
        if !is_name_char(c) {
            break;
        }
        name.push(c);
        cursor.bump();
    }
    name
}

fn read_quoted(cursor: &mut Cursor<'_>, quote: char, line: usize) -> Result<String, SyntaxError> {
    let mut value = String::new();
    loop {
        let Some(c) = cursor.bump() else {
            return Err(SyntaxError {
                line,
                reason: format!("the {quote} quote opened on this line is never closed"),
            });
        };
        if c == quote {
            return Ok(value);
        }
        if c != '\\' {
            value.push(c);
            continue;
        }
        let escaped = match (quote, cursor.peek()) {
            (_, Some('\\')) => '\\',
            ('\'' | '"', Some('\'')) => '\'',
            ('"', Some('"')) => '"',
            ('"', Some('n')) => '\n',
            ('"', Some('r')) => '\r',
            ('"', Some('t')) => '\t',
            ('"', Some('a')) => '\u{7}',
            ('"', Some('b')) => '\u{8}',
            ('"', Some('f')) => '\u{c}',
            ('"', Some('v')) => '\u{b}',
            _ => {
                value.push('\\');
                continue;
            }
        };
        cursor.bump();
        value.push(escaped);
    }
}

fn read_bare(cursor: &mut Cursor<'_>) -> String {
    let mut value = String::new();
    while let Some(c) = cursor.peek() {
        if c == '\n' {
            break;
        }
        // A `#` after whitespace starts a comment.
        if c == '#' && value.ends_with([' ', '\t']) {
            cursor.skip_line();
            return value.trim().to_owned();
        }
        value.push(c);
        cursor.bump();
    }
    value.trim().to_owned()
}

/// What expanding one value met that the caller should warn about.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expansion {
    /// Names in `${…}` that were unset and had no `:-default`.
    pub unset: Vec<String>,
}

/// Expands `${NAME}` and `${NAME:-default}` in `value` (unquoted and double-quoted
/// values only) with `lookup`; returns the new value and what the caller should
/// warn about.
pub fn expand(
    value: &str,
    quoting: Quoting,
    lookup: impl Fn(&str) -> Option<String>,
) -> (String, Expansion) {
    let mut notes = Expansion::default();
    if quoting == Quoting::Single {
        return (value.to_owned(), notes);
    }
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(inner) = after.strip_prefix('{')
            && let Some(close) = inner.find('}')
        {
            let body = &inner[..close];
            let (name, default) = match body.split_once(":-") {
                Some((name, default)) => (name, Some(default)),
                None => (body, None),
            };
            match (lookup(name).filter(|found| !found.is_empty()), default) {
                (Some(found), _) => out.push_str(&found),
                (None, Some(default)) => out.push_str(default),
                (None, None) => {
                    if let Some(found) = lookup(name) {
                        out.push_str(&found);
                    } else {
                        notes.unset.push(name.to_owned());
                    }
                }
            }
            rest = &inner[close + 1..];
            continue;
        }
        out.push('$');
        rest = after;
    }
    out.push_str(rest);
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|entry| (entry.name, entry.value))
            .collect()
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn the_forms_python_dotenv_reads() {
        let text = "# comment\nexport A=\"quoted # not comment\"\nB='single'\nC=\"line1\nline2\"\n D = spaced  # note\nE=a#b\nF\nG=\n";
        assert_eq!(
            values(text),
            vec![
                pair("A", "quoted # not comment"),
                pair("B", "single"),
                pair("C", "line1\nline2"),
                pair("D", "spaced"),
                pair("E", "a#b"),
                pair("G", ""),
            ]
        );
    }

    #[test]
    fn escapes_by_quoting() {
        assert_eq!(
            values(r#"A="a\nb\"c\\d\q""#),
            vec![pair("A", "a\nb\"c\\d\\q")]
        );
        assert_eq!(values(r"A='a\nb\'c'"), vec![pair("A", "a\\nb'c")]);
    }

    #[test]
    fn errors_name_their_line() {
        let error = parse("A=1\nB=2\n\nC D=3\n").unwrap_err();
        assert_eq!(error.line, 4);
        let error = parse("A=1\nB=\"open\nC=3\n").unwrap_err();
        assert_eq!(error.line, 2);
        let error = parse("A='x' y\n").unwrap_err();
        assert_eq!(error.line, 1);
    }

    #[test]
    fn expansion_follows_python_dotenv() {
        let lookup = |name: &str| (name == "HOME").then(|| "/home/app".to_owned());
        let (value, notes) = expand(
            "${HOME}/x $HOME ${NOPE:-d} ${NOPE}",
            Quoting::Double,
            lookup,
        );
        assert_eq!(value, "/home/app/x $HOME d ");
        assert_eq!(notes.unset, vec!["NOPE".to_owned()]);
        let (value, _) = expand("${HOME}", Quoting::Single, lookup);
        assert_eq!(value, "${HOME}");
        let (value, notes) = expand("q9$x#k2$", Quoting::Bare, lookup);
        assert_eq!(value, "q9$x#k2$");
        assert!(notes.unset.is_empty());
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        /// A syntax error says where, never what: no word of the file (a value,
        /// a key pasted on the wrong line) appears in its reason.
        #[test]
        fn syntax_errors_never_repeat_the_text(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    "CANARY[a-z0-9]{6}",
                    proptest::sample::select(vec![" ", "\t", "=", "\n", "\r\n", "'", "\"", "#", "export ", "$", "${", "}", "\\"]).prop_map(|piece: &str| piece.to_owned()),
                ],
                1..24,
            ),
        ) {
            let text: String = pieces.concat();
            if let Err(error) = parse(&text) {
                proptest::prop_assert!(!error.reason.contains("CANARY"), "{:?}", error);
            }
        }
    }

    #[test]
    fn a_line_without_equals_names_its_column_not_its_words() {
        let error = parse("A=1\n  sk_live_X note\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.reason.contains("column 13"), "{}", error.reason);
        assert!(!error.reason.contains("sk_live"), "{}", error.reason);
    }
}
