//! `pattern` rules: a regex that must match the whole value, compiled once per
//! distinct pattern text, on the engine that is cheapest to build for it.
//!
//! Every launch compiles the schema's patterns, so compile time is start-up time.
//! [`quick`] reads the plain patterns schemas usually hold straight into a small
//! automaton ([`nfa`]); `regex-syntax` reads every other (the same parser, flags
//! and Unicode tables as the `regex` crate) into a syntax tree that [`nfa`] turns
//! into the same kind of automaton. It answers one question: does the whole value
//! match? A full regex engine builds
//! several engines, a prefilter and match caches per pattern (about 110 µs for
//! `^(abc|k3)[a-z0-9]{5,45}$`); this costs a few microseconds, with the same
//! meaning (a property test compares both on generated patterns and values).
//! A pattern that checks several values remembers the automaton's steps
//! ([`dfa`]), so that each further value costs a table lookup a character.
//! Patterns with word boundaries or byte-oriented classes, and values longer than
//! [`LONG_VALUE_BYTES`], are matched by the `regex` crate, compiled on first use.

mod dfa;
mod nfa;
mod quick;

use std::fmt;
use std::sync::{Arc, OnceLock};

use crate::NameMap;

/// The most memory one compiled `pattern` may take.
pub const MAX_PATTERN_BYTES: usize = 1 << 20;

/// Values longer than this are matched by the `regex` crate: the automaton's time
/// grows with value length × pattern size, the crate's lazy DFA does not.
pub const LONG_VALUE_BYTES: usize = 4096;

/// A compiled `pattern`, anchored to the whole value. Clones share the compiled
/// pattern (one pointer: a schema's variables hold thousands of clones).
#[derive(Clone)]
pub struct Pattern(Arc<Compiled>);

/// A pattern's text and its engine.
struct Compiled {
    source: String,
    engine: Engine,
}

/// The compiled pattern, on the engine chosen for it.
enum Engine {
    /// envgate's automaton, with the `regex` crate's compile kept for long values.
    Automaton {
        program: nfa::Program,
        /// The program's steps, remembered from its second value on.
        steps: dfa::Lazy,
        full: OnceLock<Option<regex::Regex>>,
    },
    /// The `regex` crate, for constructs the automaton does not evaluate.
    Full(regex::Regex),
}

impl Engine {
    fn automaton(program: nfa::Program) -> Self {
        Self::Automaton {
            program,
            steps: dfa::Lazy::default(),
            full: OnceLock::new(),
        }
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pattern")
            .field("source", &self.source())
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
    /// The `regex` crate's error when `source` is not a valid pattern, or is too large.
    pub fn new(source: &str) -> Result<Self, regex::Error> {
        // A pattern that parses alone cannot escape the anchoring group.
        if let Some(program) = quick::compile(source, MAX_PATTERN_BYTES) {
            return Ok(Self::on(source, Engine::automaton(program)));
        }
        let Ok(hir) = regex_syntax::parse(source) else {
            // Compile it alone only to report why (the regex crate's own message).
            full(source)?;
            return Err(regex::Error::Syntax(format!("invalid pattern: {source}")));
        };
        let engine = match nfa::Program::new(&hir, MAX_PATTERN_BYTES) {
            Ok(program) => Engine::automaton(program),
            Err(_) => Engine::Full(full(&anchored(source))?),
        };
        Ok(Self::on(source, engine))
    }

    fn on(source: &str, engine: Engine) -> Self {
        Self(Arc::new(Compiled {
            source: source.to_owned(),
            engine,
        }))
    }

    /// The pattern as written in the schema.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.0.source
    }

    /// Whether `value` matches the pattern as a whole.
    #[must_use]
    pub fn is_match(&self, value: &str) -> bool {
        match &self.0.engine {
            Engine::Automaton { program, steps, .. } if value.len() <= LONG_VALUE_BYTES => steps
                .is_match(program, value)
                .unwrap_or_else(|| program.is_match(value)),
            Engine::Automaton { program, full, .. } => {
                let compiled = full.get_or_init(|| long_value_regex(self.source()));
                match compiled {
                    Some(regex) => regex.is_match(value),
                    None => program.is_match(value),
                }
            }
            Engine::Full(regex) => regex.is_match(value),
        }
    }

    /// Which engine the pattern was compiled for: `"automaton"` or `"regex"`.
    #[must_use]
    pub fn engine_name(&self) -> &'static str {
        match &self.0.engine {
            Engine::Automaton { .. } => "automaton",
            Engine::Full(_) => "regex",
        }
    }
}

/// `source` anchored to the whole value.
fn anchored(source: &str) -> String {
    format!(r"\A(?:{source})\z")
}

/// The `regex` crate's compile of `source` for long values, if within the limits.
fn long_value_regex(source: &str) -> Option<regex::Regex> {
    full(&anchored(source)).ok()
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
    compiled: NameMap<String, Pattern>,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reference(source: &str) -> regex::Regex {
        full(&anchored(source)).unwrap()
    }

    #[test]
    fn patterns_compile_to_the_automaton_unicode_included() {
        for source in [
            "^(abc|k3)[a-z0-9]{5,45}$",
            "[A-Za-z0-9_-]+",
            "postgres(ql)?://.+",
            "[[:alpha:]][^ ]*",
            r"\A[0-9]{4}\z",
            r"\d+",
            r"[\s,]+",
            "(?i)key",
            r"\p{L}+",
            "café",
            "(?m)^a$",
        ] {
            assert_eq!(
                Pattern::new(source).unwrap().engine_name(),
                "automaton",
                "{source}"
            );
        }
        // Unicode digits are digits for `\d`, as on the regex crate.
        assert!(Pattern::new(r"\d+").unwrap().is_match("٣٣"));
        assert!(Pattern::new("(?i)k").unwrap().is_match("\u{212A}"));
    }

    #[test]
    fn word_boundaries_and_byte_classes_keep_the_regex_crate() {
        for source in [r"\bkey\b", r"(?-u:\b)k", r"\Bx", r"(?-u:[a-z])+"] {
            let pattern = Pattern::new(source).unwrap();
            assert_eq!(pattern.engine_name(), "regex", "{source}");
        }
        assert!(Pattern::new(r"\bkey\b").unwrap().is_match("key"));
    }

    #[test]
    fn a_pattern_cannot_escape_its_anchoring() {
        let escaping = Pattern::new("[0-9]+)|(.*");
        assert!(escaping.is_err());
        let pattern = Pattern::new("ab|cd").unwrap();
        assert!(pattern.is_match("ab") && pattern.is_match("cd"));
        assert!(!pattern.is_match("abcd") && !pattern.is_match("xab") && !pattern.is_match("ab\n"));
        assert!(!pattern.is_match(""));
    }

    #[test]
    fn line_anchors_follow_the_regex_crate_in_crlf_mode() {
        let pattern = Pattern::new(r"a\r(?Rm:^)b|c(?Rm:$)\n\r(?Rm:$)").unwrap();
        for value in ["a\rb", "c\n\r"] {
            assert!(pattern.is_match(value), "{value:?}");
        }
        let between = Pattern::new(r"(?s)a.(?Rm:^).b").unwrap();
        assert!(!between.is_match("a\r\nb"));
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
    fn a_repeated_class_is_stored_once() {
        let hir = regex_syntax::parse("[a-z0-9]{5,45}").unwrap();
        let small = nfa::Program::new(&hir, 2_000).unwrap();
        assert!(small.is_match("abcde") && !small.is_match("abcd"));
        assert_eq!(
            nfa::Program::new(&hir, 500).unwrap_err(),
            nfa::Unsupported::TooBig
        );
    }

    #[test]
    fn long_values_are_matched_by_the_regex_crate_with_the_same_answer() {
        let pattern = Pattern::new("(ab|c)*x?").unwrap();
        let long = "ab".repeat(LONG_VALUE_BYTES);
        assert!(pattern.is_match(&long));
        assert!(!pattern.is_match(&format!("{long}d")));
        let Engine::Automaton { full, .. } = &pattern.0.engine else {
            panic!("expected the automaton");
        };
        assert!(full.get().is_some_and(Option::is_some));
    }

    #[test]
    fn identical_patterns_compile_once() {
        let mut patterns = Patterns::default();
        let first = patterns.compile("[a-z]+").unwrap();
        let second = patterns.compile("[a-z]+").unwrap();
        assert_eq!(patterns.compiled.len(), 1);
        assert!(Arc::ptr_eq(&first.0, &second.0));
        assert!(first.is_match("abc") && second.is_match("abc"));
        assert!(patterns.compile("(").is_err());
    }

    /// Patterns built from the constructs schemas use: classes (ASCII, POSIX,
    /// Perl, Unicode, negated), literals with non-ASCII text, case folding,
    /// alternation, groups and every kind of repetition; with `line_anchors`,
    /// multi-line `^` and `$` in LF and CRLF modes too (which keep a pattern on
    /// Pike's simulation, see [`dfa`]).
    pub(super) fn pattern(line_anchors: bool) -> impl Strategy<Value = String> {
        let mut atoms = vec![
            "[a-c0-2]".prop_map(String::from).boxed(),
            Just(String::new()).boxed(),
        ];
        let texts = [
            ".",
            "(?s:.)",
            "[a-c]",
            "[^a1]",
            "[[:digit:]]",
            "[[:^alpha:]]",
            r"\d",
            r"\w",
            r"\s",
            r"\p{L}",
            r"[^\d\n]",
            "(?i:k)",
            "(?i:é)",
            "é",
            r"\.",
            "-",
            "^",
            "$",
            "\n",
            "\r",
        ];
        let lines = ["(?m:^)", "(?m:$)", "(?Rm:^)", "(?Rm:$)"];
        let chosen = texts.iter().chain(lines.iter().filter(|_| line_anchors));
        atoms.extend(chosen.map(|text| Just((*text).to_owned()).boxed()));
        proptest::strategy::Union::new(atoms).prop_recursive(4, 24, 3, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a}{b}")),
                (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("(?:{a}|{b})")),
                (inner.clone(), inner.clone(), inner.clone())
                    .prop_map(|(a, b, c)| format!("({a}|{b}|{c})")),
                inner.clone().prop_map(|a| format!("(?:{a})*")),
                inner.clone().prop_map(|a| format!("(?:{a})+?")),
                inner.clone().prop_map(|a| format!("(?:{a})?")),
                (inner.clone(), 0u8..3, 0u8..3)
                    .prop_map(|(a, m, n)| format!("(?:{a}){{{m},{}}}", m + n)),
                (inner.clone(), 0u8..3).prop_map(|(a, m)| format!("(?:{a}){{{m},}}")),
                inner.clone().prop_map(|a| format!("^{a}$")),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// The automaton agrees with the `regex` crate about every value, ASCII or
        /// not, with line breaks and carriage returns.
        #[test]
        fn the_automaton_agrees_with_the_regex_crate(
            source in pattern(true),
            values in proptest::collection::vec("[a-c0-2.\\-\n\r é٣K\u{212A}_]{0,8}", 1..16),
        ) {
            let pattern = Pattern::new(&source).unwrap();
            prop_assert_eq!(pattern.engine_name(), "automaton");
            let reference = reference(&source);
            for value in &values {
                prop_assert_eq!(pattern.is_match(value), reference.is_match(value), "{:?} on {:?}", source, value);
            }
        }
    }
}
