//! `pattern` rules: a regex that must match the whole value, on the `regex`
//! crate's engine (`regex-automata`'s meta regex, which `regex::Regex` wraps).
//!
//! Each distinct pattern text is compiled once, when the schema loads: a
//! pattern that cannot work (a syntax error, or one too large to compile) is a
//! schema error with its line and column, found by `--check` in CI rather than
//! by the first value that reaches it (docs/DECISIONS.md, "Patterns"). The
//! pattern is parsed once; its syntax tree, anchored to the whole value, is
//! what the engine compiles.

use std::collections::HashMap;
use std::fmt;

use regex_syntax::hir::{Hir, Look};

/// The most memory one compiled `pattern` may take.
pub const MAX_PATTERN_BYTES: usize = 1 << 20;

/// A compiled `pattern`, anchored to the whole value. Clones share the compiled
/// regex.
#[derive(Clone)]
pub struct Pattern {
    source: String,
    regex: regex_automata::meta::Regex,
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.source).finish()
    }
}

impl Pattern {
    /// Compiles `source` so that it must match the whole value.
    ///
    /// The pattern must be a regex on its own before it is anchored: otherwise
    /// `[0-9]+)|(.*` would close the anchoring group early and match anything.
    /// Compiled size is bounded, so a schema cannot exhaust memory.
    ///
    /// # Errors
    /// The `regex` crate's error when `source` is not a valid pattern, or is too large.
    pub fn new(source: &str) -> Result<Self, regex::Error> {
        let hir = regex_syntax::Parser::new()
            .parse(source)
            .map_err(|error| regex::Error::Syntax(error.to_string()))?;
        // `\A(?:source)\z`, without writing (and parsing) it again.
        let anchored = Hir::concat(vec![Hir::look(Look::Start), hir, Hir::look(Look::End)]);
        let regex = regex_automata::meta::Builder::new()
            .configure(
                regex_automata::meta::Config::new()
                    .nfa_size_limit(Some(MAX_PATTERN_BYTES))
                    .onepass_size_limit(Some(MAX_PATTERN_BYTES))
                    // The NFA simulation only, whatever features other crates turn
                    // on in `regex-automata` (`ignore` turns on its DFAs and
                    // prefilters): a value is matched once per launch, and building
                    // those for 25 patterns took 1 ms of every launch.
                    .onepass(false)
                    .hybrid(false)
                    .dfa(false)
                    .backtrack(false)
                    .auto_prefilter(false),
            )
            .build_from_hir(&anchored)
            .map_err(|error| match error.size_limit() {
                Some(limit) => regex::Error::CompiledTooBig(limit),
                None => regex::Error::Syntax(error.to_string()),
            })?;
        Ok(Self {
            source: source.to_owned(),
            regex,
        })
    }

    /// The pattern as written in the schema.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether `value` matches the pattern as a whole.
    #[must_use]
    pub fn is_match(&self, value: &str) -> bool {
        self.regex.is_match(value)
    }
}

/// Compiles each distinct pattern text once: schemas repeat the same `pattern`
/// across variables and environment layers.
#[derive(Debug, Default)]
pub struct Patterns {
    compiled: HashMap<String, Pattern>,
}

impl Patterns {
    /// The compiled `source`, from an earlier compile of the same text if any.
    ///
    /// # Errors
    /// As [`Pattern::new`]; errors are not kept (each place is reported).
    pub fn compile(&mut self, source: &str) -> Result<Pattern, regex::Error> {
        if let Some(pattern) = self.compiled.get(source) {
            return Ok(pattern.clone());
        }
        let pattern = Pattern::new(source)?;
        self.compiled.insert(source.to_owned(), pattern.clone());
        Ok(pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_match(source: &str, value: &str) -> bool {
        Pattern::new(source).unwrap().is_match(value)
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
            assert_eq!(pattern.is_match(value), expected, "{value}");
        }
        assert!(!pattern.is_match("ab\n") && !pattern.is_match(""));
    }

    #[test]
    fn invalid_patterns_get_the_regex_crate_message() {
        let error = Pattern::new("(").unwrap_err().to_string();
        assert!(error.contains("unclosed group"), "{error}");
    }

    #[test]
    fn oversized_patterns_are_refused_with_the_size_error() {
        let error = Pattern::new("[a-z]{1000}{1000}").unwrap_err();
        assert!(matches!(error, regex::Error::CompiledTooBig(_)), "{error}");
    }

    #[test]
    fn identical_patterns_compile_once() {
        let mut patterns = Patterns::default();
        let first = patterns.compile("[a-z]+").unwrap();
        let second = patterns.compile("[a-z]+").unwrap();
        assert_eq!(patterns.compiled.len(), 1);
        assert!(first.is_match("abc") && second.is_match("abc"));
        assert!(patterns.compile("(").is_err());
    }

    #[test]
    fn a_pattern_holds_its_nfa_and_nothing_more() {
        // Other crates turn on regex-automata's DFAs and prefilters; building
        // them for every pattern of a schema cost 1 ms of every launch.
        let source = "^(abc75|k3)[a-z0-9]{5,45}$";
        let pattern = Pattern::new(source).unwrap();
        let hir = regex_syntax::Parser::new().parse(source).unwrap();
        let anchored = Hir::concat(vec![Hir::look(Look::Start), hir, Hir::look(Look::End)]);
        let nfa = regex_automata::nfa::thompson::Compiler::new()
            .build_from_hir(&anchored)
            .unwrap();
        let (held, nfa) = (pattern.regex.memory_usage(), nfa.memory_usage());
        assert!(held < nfa * 3 / 2, "{held} bytes held for an NFA of {nfa}");
    }
}
