//! `pattern` rules: a regex that must match the whole value, on the `regex`
//! crate.
//!
//! A pattern's syntax is checked when the schema loads (so a mistake points at
//! its line and column); the `regex` crate compiles it the first time a value is
//! checked against it, once per distinct pattern text: `--docs`, `schema` and the
//! variables a launch never reaches compile nothing.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// The most memory one compiled `pattern` may take.
pub const MAX_PATTERN_BYTES: usize = 1 << 20;

/// A `pattern`, anchored to the whole value. Clones share the compiled regex.
#[derive(Clone)]
pub struct Pattern(Arc<Compiled>);

/// A pattern's text and, once a value was checked, its compiled regex.
struct Compiled {
    source: String,
    regex: OnceLock<Result<regex::Regex, regex::Error>>,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.source()).finish()
    }
}

impl Pattern {
    /// Checks `source`'s syntax; the regex itself is compiled on first use.
    ///
    /// The pattern must be a regex on its own before it is anchored: otherwise
    /// `[0-9]+)|(.*` would close the anchoring group early and match anything.
    ///
    /// # Errors
    /// The `regex` crate's syntax error when `source` is not a valid pattern.
    pub fn new(source: &str) -> Result<Self, regex::Error> {
        if let Err(error) = regex_syntax::Parser::new().parse(source) {
            return Err(regex::Error::Syntax(error.to_string()));
        }
        Ok(Self(Arc::new(Compiled {
            source: source.to_owned(),
            regex: OnceLock::new(),
        })))
    }

    /// The pattern as written in the schema.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.0.source
    }

    /// Whether `value` matches the pattern as a whole.
    ///
    /// # Errors
    /// When the pattern compiles to more than [`MAX_PATTERN_BYTES`] (a schema
    /// cannot exhaust memory); the error is kept, so it is reported once per
    /// value checked but computed once.
    pub fn matches(&self, value: &str) -> Result<bool, &regex::Error> {
        let compiled = self.0.regex.get_or_init(|| compile(&self.0.source));
        compiled.as_ref().map(|regex| regex.is_match(value))
    }
}

/// `source` anchored to the whole value, compiled within the size limits.
fn compile(source: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(&format!(r"\A(?:{source})\z"))
        .size_limit(MAX_PATTERN_BYTES)
        .dfa_size_limit(MAX_PATTERN_BYTES)
        .build()
}

/// Each distinct pattern text once: schemas repeat the same `pattern` across
/// variables and environment layers, and its clones share one compile.
#[derive(Debug, Default)]
pub struct Patterns {
    known: HashMap<String, Pattern>,
}

impl Patterns {
    /// The pattern `source`, shared with an earlier one of the same text if any.
    ///
    /// # Errors
    /// As [`Pattern::new`]; errors are not kept (each place is reported).
    pub fn compile(&mut self, source: &str) -> Result<Pattern, regex::Error> {
        if let Some(pattern) = self.known.get(source) {
            return Ok(pattern.clone());
        }
        let pattern = Pattern::new(source)?;
        self.known.insert(source.to_owned(), pattern.clone());
        Ok(pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_match(source: &str, value: &str) -> bool {
        Pattern::new(source).unwrap().matches(value).unwrap()
    }

    #[test]
    fn patterns_match_the_whole_value_unicode_included() {
        assert!(is_match("^(abc|k3)[a-z0-9]{5,45}$", "abcxxxxx"));
        assert!(!is_match("[a-z]+", "abc1"));
        assert!(is_match(r"\d+", "٣٣"));
        assert!(is_match("(?i)k", "\u{212A}"));
        assert!(is_match(r"\bkey\b", "key"));
    }

    #[test]
    fn a_pattern_cannot_escape_its_anchoring() {
        assert!(Pattern::new("[0-9]+)|(.*").is_err());
        let pattern = Pattern::new("ab|cd").unwrap();
        for (value, expected) in [("ab", true), ("cd", true), ("abcd", false), ("xab", false)] {
            assert_eq!(pattern.matches(value), Ok(expected), "{value}");
        }
        assert_eq!(pattern.matches("ab\n"), Ok(false));
        assert_eq!(pattern.matches(""), Ok(false));
    }

    #[test]
    fn invalid_patterns_get_the_regex_crate_message() {
        let error = Pattern::new("(").unwrap_err().to_string();
        assert!(error.contains("unclosed group"), "{error}");
    }

    #[test]
    fn oversized_patterns_are_refused_with_the_size_error_when_used() {
        let pattern = Pattern::new("[a-z]{1000}{1000}").unwrap();
        let error = pattern.matches("a").unwrap_err();
        assert!(matches!(error, regex::Error::CompiledTooBig(_)), "{error}");
    }

    #[test]
    fn identical_patterns_share_one_compile_made_on_first_use() {
        let mut patterns = Patterns::default();
        let first = patterns.compile("[a-z]+").unwrap();
        let second = patterns.compile("[a-z]+").unwrap();
        assert_eq!(patterns.known.len(), 1);
        assert!(Arc::ptr_eq(&first.0, &second.0));
        assert!(first.0.regex.get().is_none());
        assert_eq!(second.matches("abc"), Ok(true));
        assert!(first.0.regex.get().is_some());
        assert!(patterns.compile("(").is_err());
    }
}
