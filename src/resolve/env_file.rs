//! The `.env` format, read exactly as python-dotenv (1.2) reads it, the loader of
//! Django projects, so that a value reaches the program as Django's own start-up
//! would have seen it. The rules are python-dotenv's, in its order:
//!
//! - Line ends are read as Python's text mode reads them: CRLF and a lone CR end a
//!   line like LF (so a CR never reaches a value).
//! - A statement is `[export ]KEY[ = value][ # comment]`. `KEY` is any run of
//!   characters other than `=`, `#` and whitespace (`a.b`, `1X`, `"q"` are all keys
//!   as written), or `'single-quoted'`. A key without `=` sets nothing.
//! - After `=`: a value in `'single'` or `"double"` quotes may span lines;
//!   `'…'` knows the escapes `\\ \'`, `"…"` knows `\\ \' \" \a \b \f \n \r \t \v`;
//!   any other backslash stays as written. An unquoted value is the rest of the
//!   line, cut at the first whitespace before a `#`, trailing whitespace removed.
//!   `KEY= # note` (whitespace, then `#`) is an empty value and a comment;
//!   `KEY=#x` is the value `#x`.
//! - Expansion, in every value however quoted: `${NAME}` and `${NAME:-default}`,
//!   from the process environment first, then the entries before it in the file.
//!   A name that is set, even to the empty string, gives its value; the default
//!   stands only for a name that is not set. `$NAME` without braces stays as
//!   written.
//!
//! Where python-dotenv logs "could not parse statement" and skips the line, envgate
//! refuses the file with that line and column: a value silently dropped is one the
//! gate cannot vouch for (docs/DECISIONS.md). The differential test in
//! tests/cli/reference.rs holds both readers to the same result on generated text.
//!
//! Parsing is pure and total: any text gives entries or a [`SyntaxError`] naming
//! its line and column, never a panic (the `env_file` fuzz target holds it to that).

use std::fmt;

use crate::rules::is_python_whitespace as is_space;

/// One statement as written, before expansion.
#[derive(Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The key as written (quotes removed from a single-quoted key).
    pub name: String,
    /// The value with quotes and escapes resolved, before expansion; `None` for a
    /// key written without `=`, which sets nothing.
    pub value: Option<String>,
    /// The 1-based line the statement starts on.
    pub line: usize,
}

impl fmt::Debug for RawEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawEntry")
            .field("name", &self.name)
            .field("has_value", &self.value.is_some())
            .field("line", &self.line)
            .finish_non_exhaustive()
    }
}

/// Why a `.env` text does not parse, and where. The reason never repeats the text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The 1-based line.
    pub line: usize,
    /// What is wrong there, with its column.
    pub reason: String,
}

/// Whitespace that does not end a line (python-dotenv's `[^\S\r\n]`).
fn is_blank(c: char) -> bool {
    is_space(c) && c != '\n' && c != '\r'
}

/// CRLF and lone CR read as LF, as Python's text mode reads a file.
fn universal_newlines(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// A position in the text, with the line and column it stands on.
struct Reader {
    chars: Vec<char>,
    at: usize,
    line: usize,
    column: usize,
}

impl Reader {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.at + offset).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let next = self.peek()?;
        self.at += 1;
        if next == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(next)
    }

    /// Skips characters while `keep` holds; returns how many.
    fn skip_while(&mut self, keep: impl Fn(char) -> bool) -> usize {
        let mut count = 0;
        while self.peek().is_some_and(&keep) {
            self.bump();
            count += 1;
        }
        count
    }

    fn error(&self, what: &str) -> SyntaxError {
        SyntaxError {
            line: self.line,
            reason: format!("{what} at column {}", self.column),
        }
    }
}

/// Parses `.env` text into statements, in file order.
///
/// # Errors
/// The first statement python-dotenv could not parse either.
pub fn parse(text: &str) -> Result<Vec<RawEntry>, SyntaxError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = Reader {
        chars: universal_newlines(text).chars().collect(),
        at: 0,
        line: 1,
        column: 1,
    };
    let mut entries = Vec::new();
    loop {
        reader.skip_while(is_space);
        if reader.peek().is_none() {
            return Ok(entries);
        }
        if let Some(entry) = statement(&mut reader)? {
            entries.push(entry);
        }
    }
}

/// One statement, from its first character to the end of its last line; `None`
/// for a comment line.
fn statement(reader: &mut Reader) -> Result<Option<RawEntry>, SyntaxError> {
    let line = reader.line;
    skip_export(reader);
    let name = key(reader)?;
    reader.skip_while(is_blank);
    let value = if reader.peek() == Some('=') {
        reader.bump();
        let blanks = reader.skip_while(is_blank);
        if blanks > 0 && reader.peek() == Some('#') {
            Some(String::new())
        } else {
            Some(value(reader)?)
        }
    } else {
        None
    };
    skip_comment(reader);
    reader.skip_while(is_blank);
    match reader.bump() {
        None | Some('\n') => {}
        Some(_) => {
            return Err(SyntaxError {
                line: reader.line,
                reason: format!(
                    "unexpected text at column {} (after {})",
                    reader.column - 1,
                    if value.is_some() {
                        "the value"
                    } else {
                        "a name with no `=`"
                    }
                ),
            });
        }
    }
    Ok(name.map(|name| RawEntry { name, value, line }))
}

/// `export` and the blanks after it, when blanks follow.
fn skip_export(reader: &mut Reader) {
    let word = "export".chars().enumerate();
    if word.clone().all(|(i, c)| reader.peek_at(i) == Some(c))
        && reader.peek_at(6).is_some_and(is_blank)
    {
        for _ in 0..6 {
            reader.bump();
        }
        reader.skip_while(is_blank);
    }
}

/// The key; `None` when the statement is a comment.
fn key(reader: &mut Reader) -> Result<Option<String>, SyntaxError> {
    match reader.peek() {
        Some('#') => Ok(None),
        Some('\'') => {
            let closing = reader.chars[reader.at + 1..]
                .iter()
                .position(|&c| c == '\'');
            match closing {
                Some(length) if length > 0 => {
                    reader.bump();
                    let name: String = (0..length).filter_map(|_| reader.bump()).collect();
                    reader.bump();
                    Ok(Some(name))
                }
                _ => Err(reader.error("a quoted name that is empty or never closed")),
            }
        }
        _ => {
            let start = reader.at;
            reader.skip_while(|c| c != '=' && c != '#' && !is_space(c));
            if reader.at == start {
                return Err(reader.error("expected a variable name"));
            }
            Ok(Some(reader.chars[start..reader.at].iter().collect()))
        }
    }
}

/// The value after `=` and its blanks.
fn value(reader: &mut Reader) -> Result<String, SyntaxError> {
    match reader.peek() {
        Some(quote @ ('\'' | '"')) => quoted(reader, quote),
        None | Some('\n') => Ok(String::new()),
        Some(_) => Ok(unquoted(reader)),
    }
}

/// A quoted value: backslash pairs are read as one (so `\'` never closes), then
/// the quote's own escapes are decoded. Nothing is consumed when it never closes.
fn quoted(reader: &mut Reader, quote: char) -> Result<String, SyntaxError> {
    let start = reader.at + 1;
    let mut end = start;
    let mut value = String::new();
    loop {
        match reader.chars.get(end) {
            None => {
                return Err(reader.error(&format!("the {quote} quote opened here is never closed")));
            }
            Some(&c) if c == quote => break,
            Some('\\') => {
                let Some(&escaped) = reader.chars.get(end + 1) else {
                    return Err(
                        reader.error(&format!("the {quote} quote opened here is never closed"))
                    );
                };
                if let Some(decoded) = decode_escape(quote, escaped) {
                    value.push(decoded);
                } else {
                    value.push('\\');
                    value.push(escaped);
                }
                end += 2;
            }
            Some(&c) => {
                value.push(c);
                end += 1;
            }
        }
    }
    while reader.at <= end {
        reader.bump();
    }
    Ok(value)
}

/// What `\` + `escaped` means inside `quote`, if it is one of its escapes.
fn decode_escape(quote: char, escaped: char) -> Option<char> {
    match (quote, escaped) {
        (_, '\\') => Some('\\'),
        (_, '\'') => Some('\''),
        ('"', '"') => Some('"'),
        ('"', 'a') => Some('\u{7}'),
        ('"', 'b') => Some('\u{8}'),
        ('"', 'f') => Some('\u{c}'),
        ('"', 'n') => Some('\n'),
        ('"', 'r') => Some('\r'),
        ('"', 't') => Some('\t'),
        ('"', 'v') => Some('\u{b}'),
        _ => None,
    }
}

/// The rest of the line, cut where whitespace is followed by `#`, trimmed at the end.
fn unquoted(reader: &mut Reader) -> String {
    let start = reader.at;
    reader.skip_while(|c| c != '\n');
    let part = &reader.chars[start..reader.at];
    let mut cut = part.len();
    let mut run_start = None;
    for (index, &c) in part.iter().enumerate() {
        if is_space(c) {
            run_start.get_or_insert(index);
        } else if c == '#'
            && let Some(run) = run_start
        {
            cut = run;
            break;
        } else {
            run_start = None;
        }
    }
    let value: String = part[..cut].iter().collect();
    value.trim_end_matches(is_space).to_owned()
}

/// Blanks and a `#` comment to the end of the line, if there is one.
fn skip_comment(reader: &mut Reader) {
    let blanks = reader.chars[reader.at..]
        .iter()
        .take_while(|&&c| is_blank(c))
        .count();
    if reader.peek_at(blanks) == Some('#') {
        reader.skip_while(|c| c != '\n');
    }
}

/// What expanding one value met that the caller should warn about.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Expansion {
    /// Names in `${…}` that were unset and had no `:-default`.
    pub unset: Vec<String>,
}

/// Where a `${NAME}` finds its value: `Some(Some(v))` set to `v`, `Some(None)`
/// written in the file without `=` (python-dotenv reads that as empty, not as
/// unset), `None` not set anywhere.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<Option<String>>;

/// Expands `${NAME}` and `${NAME:-default}` in `value` with `lookup`; returns the
/// new value and what the caller should warn about.
#[must_use]
pub fn expand(value: &str, lookup: Lookup<'_>) -> (String, Expansion) {
    let mut notes = Expansion::default();
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        let Some((name, default, tail)) = reference(after) else {
            out.push('$');
            rest = &rest[at + 1..];
            continue;
        };
        match (lookup(name), default) {
            (Some(found), _) => out.push_str(found.as_deref().unwrap_or_default()),
            (None, Some(default)) => out.push_str(default),
            (None, None) => {
                if !name.is_empty() {
                    notes.unset.push(name.to_owned());
                }
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    (out, notes)
}

/// `NAME}` or `NAME:-default}` at the start of `text` (after `${`): the name,
/// the default, and the text after the `}`.
fn reference(text: &str) -> Option<(&str, Option<&str>, &str)> {
    let name_end = text.find(['}', ':']).unwrap_or(text.len());
    let (name, after) = text.split_at(name_end);
    if let Some(tail) = after.strip_prefix('}') {
        return Some((name, None, tail));
    }
    let body = after.strip_prefix(":-")?;
    let close = body.find('}')?;
    Some((name, Some(&body[..close]), &body[close + 1..]))
}

/// A `${NAME}` that expanded to nothing because `NAME` is not set anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsetName {
    /// The key of the statement it is in.
    pub entry: String,
    /// The statement's line.
    pub line: usize,
    /// The name that is not set.
    pub name: String,
}

/// A file's keys in first-written order, each with the value its last statement
/// gives (`None`: written without `=`, which sets nothing).
pub type Values = indexmap::IndexMap<String, Option<String>>;

/// One file's statements, expanded in order, as python-dotenv's `load_dotenv`
/// gives them: the last statement for a key wins, and a key whose last statement
/// has no `=` sets nothing. `outside` looks a name up in the process environment
/// (which wins) and `earlier` in the files read before this one (which lose to
/// this file's own statements).
pub fn evaluate(
    entries: Vec<RawEntry>,
    outside: &dyn Fn(&str) -> Option<String>,
    earlier: &dyn Fn(&str) -> Option<String>,
) -> (Values, Vec<UnsetName>) {
    let mut values = Values::with_capacity(entries.len());
    let mut unset = Vec::new();
    for entry in entries {
        let value = entry.value.as_deref().map(|raw| {
            let lookup = |name: &str| {
                outside(name)
                    .map(Some)
                    .or_else(|| values.get(name).cloned())
                    .or_else(|| earlier(name).map(Some))
            };
            let (value, notes) = expand(raw, &lookup);
            unset.extend(notes.unset.into_iter().map(|name| UnsetName {
                entry: entry.name.clone(),
                line: entry.line,
                name,
            }));
            value
        });
        values.insert(entry.name, value);
    }
    (values, unset)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The file as `load_dotenv` would set it, with nothing in the environment.
    fn read(text: &str) -> Vec<(String, String)> {
        let (values, _) = evaluate(parse(text).unwrap(), &|_| None, &|_| None);
        values
            .into_iter()
            .filter_map(|(name, value)| Some((name, value?)))
            .collect()
    }

    fn pair(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn the_forms_python_dotenv_reads() {
        let text = "# comment\nexport A=\"quoted # not comment\"\nB='single'\nC=\"line1\nline2\"\n D = spaced  # note\nE=a#b\nF\nG=\n";
        assert_eq!(
            read(text),
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
            read(r#"A="a\nb\"c\\d\q""#),
            vec![pair("A", "a\nb\"c\\d\\q")]
        );
        assert_eq!(read(r"A='a\nb\'c'"), vec![pair("A", "a\\nb'c")]);
    }

    /// The differences issue 29 listed, each as python-dotenv 1.2 reads it.
    #[test]
    fn a_blank_then_hash_after_equals_is_an_empty_value() {
        assert_eq!(read("KEY= # comment\n"), vec![pair("KEY", "")]);
        assert_eq!(read("KEY=\t# comment\n"), vec![pair("KEY", "")]);
        assert_eq!(read("KEY=#novalue\n"), vec![pair("KEY", "#novalue")]);
    }

    #[test]
    fn a_lone_cr_ends_a_line() {
        assert_eq!(read("a=b\rc=d"), vec![pair("a", "b"), pair("c", "d")]);
        assert_eq!(read("a=\"x\r\ny\"\r\n"), vec![pair("a", "x\ny")]);
    }

    #[test]
    fn quoted_and_odd_keys_are_read_not_refused() {
        assert_eq!(read("'a'=b\n"), vec![pair("a", "b")]);
        assert_eq!(read("export 'a'=b\n"), vec![pair("a", "b")]);
        assert_eq!(
            read("a.b=1\n1X=2\n\"q\"=3\n"),
            vec![pair("a.b", "1"), pair("1X", "2"), pair("\"q\"", "3")]
        );
    }

    #[test]
    fn single_quotes_expand_too() {
        assert_eq!(
            read("A=1\nB='${A}'\n"),
            vec![pair("A", "1"), pair("B", "1")]
        );
    }

    #[test]
    fn set_but_empty_is_not_unset() {
        assert_eq!(
            read("E=\nB=${E:-d}\nC=${NOPE:-d}\nN\nD=${N:-d}\n"),
            vec![pair("E", ""), pair("B", ""), pair("C", "d"), pair("D", "")]
        );
    }

    #[test]
    fn a_later_key_without_equals_unsets_the_earlier_one() {
        assert_eq!(read("A=1\nA\n"), Vec::<(String, String)>::new());
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
        let lookup = |name: &str| (name == "HOME").then(|| Some("/home/app".to_owned()));
        let (value, notes) = expand("${HOME}/x $HOME ${NOPE:-d} ${NOPE} ${a:b}", &lookup);
        assert_eq!(value, "/home/app/x $HOME d  ${a:b}");
        assert_eq!(notes.unset, vec!["NOPE".to_owned()]);
        let (value, notes) = expand("q9$x#k2$", &lookup);
        assert_eq!(value, "q9$x#k2$");
        assert!(notes.unset.is_empty());
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let (values, _) = evaluate(
            parse("H=file\nX=${H}\n").unwrap(),
            &|name| (name == "H").then(|| "env".to_owned()),
            &|_| None,
        );
        assert_eq!(values["X"].as_deref(), Some("env"));
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
                    proptest::sample::select(vec![" ", "\t", "=", "\n", "\r\n", "\r", "'", "\"", "#", "export ", "$", "${", "}", "\\"]).prop_map(|piece: &str| piece.to_owned()),
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
    fn an_error_names_its_column_not_its_words() {
        let error = parse("A=1\n  sk_live_X note\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.reason.contains("column 13"), "{}", error.reason);
        assert!(!error.reason.contains("sk_live"), "{}", error.reason);
    }
}
