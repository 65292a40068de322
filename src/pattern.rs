//! `pattern` rules: a regex that must match the whole value, compiled once per
//! distinct pattern text, on the engine that is cheapest to build for it.
//!
//! Every launch compiles the schema's patterns, so compile time is start-up time.
//! The `regex` crate builds several engines and a literal prefilter per pattern
//! (about 110 µs for `^(abc|k3)[a-z0-9]{5,45}$`); `regex-lite` builds one (about
//! 10 µs) and matches a short value just as well. The two differ only in Unicode
//! behaviour (`\d`, `\w`, `\s`, word boundaries, case folding, `\p{..}`), so a pattern
//! goes to `regex-lite` only when it uses none of that: its meaning is then the same
//! on both engines (a property test compares them), and every other pattern keeps
//! the `regex` crate's full Unicode semantics.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use regex_syntax::ast::{self, Ast, ClassSetItem, Visitor};

/// The most memory one compiled `pattern` may take.
pub const MAX_PATTERN_BYTES: usize = 1 << 20;

/// A compiled `pattern`, anchored to the whole value. Clones share the compiled
/// regex and its match caches.
#[derive(Clone)]
pub struct Pattern {
    /// The pattern as written in the schema.
    pub source: String,
    engine: Arc<Engine>,
}

/// The compiled regex, on the engine chosen for it.
enum Engine {
    /// Small to build; ASCII-only classes, no Unicode case folding.
    Lite(regex_lite::Regex),
    /// The full engine, for patterns whose meaning depends on Unicode.
    Full(regex::Regex),
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pattern")
            .field("source", &self.source)
            .field("engine", &self.engine_name())
            .finish()
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
    /// The regex error when `source` is not a valid pattern, or is too large.
    pub fn new(source: &str) -> Result<Self, regex::Error> {
        // A pattern that parses alone cannot escape the anchoring group.
        let parsed = ast::parse::Parser::new().parse(source);
        let anchored = format!(r"\A(?:{source})\z");
        if let Ok(tree) = &parsed
            && same_on_both_engines(source, tree)
            && let Ok(lite) = regex_lite::RegexBuilder::new(&anchored)
                .size_limit(MAX_PATTERN_BYTES)
                .build()
        {
            return Ok(Self {
                source: source.to_owned(),
                engine: Arc::new(Engine::Lite(lite)),
            });
        }
        // Parsing is enough to know the pattern stands alone; compile it alone only
        // to report why it does not (the regex crate's own message).
        if regex_syntax::parse(source).is_err() {
            full(source)?;
        }
        Ok(Self {
            source: source.to_owned(),
            engine: Arc::new(Engine::Full(full(&anchored)?)),
        })
    }

    /// Whether `value` matches the pattern as a whole.
    #[must_use]
    pub fn is_match(&self, value: &str) -> bool {
        match self.engine.as_ref() {
            Engine::Lite(regex) => regex.is_match(value),
            Engine::Full(regex) => regex.is_match(value),
        }
    }

    /// Which engine the pattern was compiled for: `"regex-lite"` or `"regex"`.
    #[must_use]
    pub fn engine_name(&self) -> &'static str {
        match self.engine.as_ref() {
            Engine::Lite(_) => "regex-lite",
            Engine::Full(_) => "regex",
        }
    }
}

fn full(text: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(text)
        .size_limit(MAX_PATTERN_BYTES)
        .dfa_size_limit(MAX_PATTERN_BYTES)
        .build()
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
    /// As [`Pattern::new`]; errors are not cached (each place is reported).
    pub fn compile(&mut self, source: &str) -> Result<Pattern, regex::Error> {
        if let Some(pattern) = self.compiled.get(source) {
            return Ok(pattern.clone());
        }
        let pattern = Pattern::new(source)?;
        self.compiled.insert(source.to_owned(), pattern.clone());
        Ok(pattern)
    }
}

/// Whether `source` means the same on `regex-lite` as on the `regex` crate: ASCII
/// text, no Perl classes (`\d \s \w`), no `\p{..}`, no word boundaries, no inline
/// flags (case-insensitive matching folds `k` to the Kelvin sign only in `regex`).
fn same_on_both_engines(source: &str, tree: &Ast) -> bool {
    source.is_ascii() && ast::visit(tree, AsciiOnly).is_ok()
}

/// Stops the walk at the first construct whose meaning depends on Unicode mode.
struct AsciiOnly;

impl Visitor for AsciiOnly {
    type Output = ();
    type Err = ();

    fn finish(self) -> Result<(), ()> {
        Ok(())
    }

    fn visit_pre(&mut self, node: &Ast) -> Result<(), ()> {
        match node {
            Ast::ClassPerl(_) | Ast::ClassUnicode(_) | Ast::Flags(_) => Err(()),
            Ast::Group(group) => match &group.kind {
                ast::GroupKind::NonCapturing(flags) if !flags.items.is_empty() => Err(()),
                _ => Ok(()),
            },
            Ast::Assertion(assertion) => match assertion.kind {
                ast::AssertionKind::StartLine
                | ast::AssertionKind::EndLine
                | ast::AssertionKind::StartText
                | ast::AssertionKind::EndText => Ok(()),
                _ => Err(()),
            },
            _ => Ok(()),
        }
    }

    fn visit_class_set_item_pre(&mut self, item: &ClassSetItem) -> Result<(), ()> {
        match item {
            ClassSetItem::Perl(_) | ClassSetItem::Unicode(_) => Err(()),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ascii_patterns_use_the_small_engine() {
        for source in [
            "^(abc|k3)[a-z0-9]{5,45}$",
            "[A-Za-z0-9_-]+",
            "postgres(ql)?://.+",
            "[[:alpha:]][^ ]*",
            r"\A[0-9]{4}\z",
        ] {
            assert_eq!(
                Pattern::new(source).unwrap().engine_name(),
                "regex-lite",
                "{source}"
            );
        }
    }

    #[test]
    fn unicode_dependent_patterns_keep_the_full_engine() {
        for source in [
            r"\d+", r"\w+", r"[\s,]+", r"\bkey\b", "(?i)key", "(?i:k)ey", r"\p{L}+", "café",
        ] {
            assert_eq!(
                Pattern::new(source).unwrap().engine_name(),
                "regex",
                "{source}"
            );
        }
        // Unicode digits are digits for `\d`, as they were before.
        assert!(Pattern::new(r"\d+").unwrap().is_match("٣٣"));
        assert!(Pattern::new("(?i)k").unwrap().is_match("\u{212A}"));
    }

    #[test]
    fn a_pattern_cannot_escape_its_anchoring_on_either_engine() {
        let escaping = Pattern::new("[0-9]+)|(.*");
        assert!(escaping.is_err());
        let lite = Pattern::new("ab|cd").unwrap();
        assert_eq!(lite.engine_name(), "regex-lite");
        assert!(lite.is_match("ab") && lite.is_match("cd"));
        assert!(!lite.is_match("abcd") && !lite.is_match("xab") && !lite.is_match("ab\n"));
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

    /// ASCII patterns built from the constructs the small engine is chosen for.
    fn ascii_pattern() -> impl Strategy<Value = String> {
        let atom = prop_oneof![
            "[a-c0-2]".prop_map(String::from),
            Just(".".to_owned()),
            Just("[a-c]".to_owned()),
            Just("[^a1]".to_owned()),
            Just("[[:digit:]]".to_owned()),
            Just("[[:^alpha:]]".to_owned()),
            Just(r"\.".to_owned()),
            Just("-".to_owned()),
        ];
        atom.prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}{b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(?:{a}|{b})")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}|{b})")),
                inner.clone().prop_map(|a| format!("(?:{a})*")),
                inner.clone().prop_map(|a| format!("(?:{a})+?")),
                (inner.clone(), 0u8..3, 0u8..3)
                    .prop_map(|(a, m, n)| format!("(?:{a}){{{m},{}}}", m + n)),
                inner.clone().prop_map(|a| format!("^{a}$")),
            ]
        })
    }

    proptest! {
        /// On every pattern routed to `regex-lite`, it agrees with the `regex` crate
        /// about every value, ASCII or not.
        #[test]
        fn both_engines_agree_where_the_small_one_is_used(
            source in ascii_pattern(),
            values in proptest::collection::vec("[a-c0-2.\\-\n é٣K\u{212A}]{0,8}", 1..16),
        ) {
            let pattern = Pattern::new(&source).unwrap();
            prop_assert_eq!(pattern.engine_name(), "regex-lite");
            let reference = full(&format!(r"\A(?:{source})\z")).unwrap();
            for value in &values {
                prop_assert_eq!(pattern.is_match(value), reference.is_match(value), "{:?} on {:?}", source, value);
            }
        }
    }
}
