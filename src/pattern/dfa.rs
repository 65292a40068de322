//! The automaton's steps, remembered: a deterministic automaton built lazily
//! while values are matched.
//!
//! One pattern often checks many values (a schema with thousands of variables
//! repeats its few patterns). Pike's simulation ([`super::nfa`]) steps every
//! live state over every character, a few hundred instructions a character;
//! here each set of live states the simulation reaches becomes one state, and
//! each step from it, once taken, is a table lookup. It applies to programs
//! whose only assertions are the text's start and end (what a step reaches then
//! depends on the character's class and on whether it is the last one) and to
//! ASCII values; anything else, and any value once the state limit is reached,
//! is left to the simulation. A pattern's first value is matched by the
//! simulation alone: a pattern checked once (the usual launch) builds nothing.

use std::sync::Mutex;

use super::nfa::Program;
use crate::NameMap;

/// The most states one pattern's automaton keeps (each holds a row of
/// `2 × classes` steps and its set of program states).
const MAX_STATES: usize = 256;

/// A step not taken yet.
const UNKNOWN: u32 = u32::MAX;

/// The state with no live program state: no value reaching it matches.
const DEAD: u32 = 0;

/// The lazily built automaton of one program, shared by every clone of its
/// pattern.
#[derive(Debug, Default)]
pub(super) struct Lazy(Mutex<Stage>);

#[derive(Debug, Default)]
enum Stage {
    /// No value matched yet.
    #[default]
    Unused,
    /// One value matched (by the simulation).
    UsedOnce,
    Built(Box<Dfa>),
    /// The program asserts more than the text's ends.
    Never,
}

impl Lazy {
    /// Whether the whole of `value` matches `program`, or `None` when the
    /// simulation must tell (first use, another thread matching, a value this
    /// does not take, the state limit).
    pub(super) fn is_match(&self, program: &Program, value: &str) -> Option<bool> {
        let mut stage = self.0.try_lock().ok()?;
        match &mut *stage {
            Stage::Built(dfa) => dfa.is_match(program, value),
            Stage::Never => None,
            Stage::Unused => {
                *stage = Stage::UsedOnce;
                None
            }
            Stage::UsedOnce => {
                *stage = match Dfa::new(program) {
                    Some(dfa) => Stage::Built(Box::new(dfa)),
                    None => Stage::Never,
                };
                match &mut *stage {
                    Stage::Built(dfa) => dfa.is_match(program, value),
                    _ => None,
                }
            }
        }
    }
}

/// States (sets of program states) and the steps between them taken so far.
#[derive(Debug)]
struct Dfa {
    /// Each ASCII character's class.
    classes: [u8; 128],
    /// Steps per state: two per class (the character last in the value, or not).
    stride: usize,
    /// Each state's program states.
    sets: Vec<Box<[u32]>>,
    /// The state of each set of program states.
    ids: NameMap<Box<[u32]>, u32>,
    /// `steps[state * stride + 2 * class + last]`: the state after a character
    /// of that class, [`UNKNOWN`] until taken.
    steps: Vec<u32>,
    /// Whether each state includes the match.
    accepting: Vec<bool>,
    /// The state before the first character.
    start: u32,
}

impl Dfa {
    /// An automaton with its dead and start states, when `program` asserts
    /// only the text's ends.
    fn new(program: &Program) -> Option<Self> {
        if !program.asserts_only_text_ends() {
            return None;
        }
        let (classes, count) = program.ascii_classes();
        let mut dfa = Self {
            classes,
            stride: 2 * count,
            sets: Vec::new(),
            ids: NameMap::default(),
            steps: Vec::new(),
            accepting: Vec::new(),
            start: DEAD,
        };
        dfa.state(program, Vec::new())?;
        dfa.start = dfa.state(program, program.start_states())?;
        Some(dfa)
    }

    /// Whether the whole of `value` matches; `None` for the empty value, a
    /// non-ASCII one, or a step beyond the state limit.
    fn is_match(&mut self, program: &Program, value: &str) -> Option<bool> {
        let bytes = value.as_bytes();
        if bytes.is_empty() || !value.is_ascii() {
            return None;
        }
        let mut state = self.start;
        for (index, &byte) in bytes.iter().enumerate() {
            let last = index + 1 == bytes.len();
            let slot = state as usize * self.stride
                + 2 * usize::from(self.classes[usize::from(byte)])
                + usize::from(last);
            state = match self.steps[slot] {
                UNKNOWN => {
                    let reached =
                        program.step_states(&self.sets[state as usize], char::from(byte), last);
                    let next = self.state(program, reached)?;
                    self.steps[slot] = next;
                    next
                }
                known => known,
            };
            if state == DEAD {
                return Some(false);
            }
        }
        Some(self.accepting[state as usize])
    }

    /// The state of `set`, added when new; `None` past the limit.
    fn state(&mut self, program: &Program, set: Vec<u32>) -> Option<u32> {
        if let Some(&id) = self.ids.get(set.as_slice()) {
            return Some(id);
        }
        if self.sets.len() >= MAX_STATES {
            return None;
        }
        let id = u32::try_from(self.sets.len()).ok()?;
        let set = set.into_boxed_slice();
        self.accepting.push(program.accepts(&set));
        self.steps.resize(self.steps.len() + self.stride, UNKNOWN);
        self.sets.push(set.clone());
        self.ids.insert(set, id);
        Some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn program(source: &str) -> Program {
        Program::new(&regex_syntax::parse(source).unwrap(), 1 << 20).unwrap()
    }

    #[test]
    fn the_first_value_builds_nothing_and_the_second_builds_the_automaton() {
        let program = program(r"^(abc|k3)[a-z0-9]{5,45}$");
        let lazy = Lazy::default();
        assert_eq!(lazy.is_match(&program, "abcx1y2z3"), None);
        assert_eq!(lazy.is_match(&program, "abcx1y2z3"), Some(true));
        assert_eq!(lazy.is_match(&program, "k3x1y2z"), Some(true));
        assert_eq!(lazy.is_match(&program, "k3x1y"), Some(false));
        assert_eq!(lazy.is_match(&program, "k3x1y2z!"), Some(false));
        assert_eq!(lazy.is_match(&program, "zz"), Some(false));
        assert_eq!(lazy.is_match(&program, ""), None, "left to the simulation");
        assert_eq!(
            lazy.is_match(&program, "k3é1y2z"),
            None,
            "left to the simulation"
        );
    }

    #[test]
    fn line_assertions_are_left_to_the_simulation() {
        let program = program(r"(?m)a$\n^b");
        let lazy = Lazy::default();
        assert_eq!(lazy.is_match(&program, "a\nb"), None);
        assert_eq!(lazy.is_match(&program, "a\nb"), None);
    }

    #[test]
    fn past_the_state_limit_values_are_left_to_the_simulation() {
        // Each length up to 300 is its own state.
        let program = program(r"a{0,300}b");
        let lazy = Lazy::default();
        let long = format!("{}b", "a".repeat(299));
        assert_eq!(lazy.is_match(&program, "b"), None);
        assert_eq!(lazy.is_match(&program, "ab"), Some(true));
        assert_eq!(lazy.is_match(&program, &long), None);
        assert!(program.is_match(&long));
        assert_eq!(
            lazy.is_match(&program, "aab"),
            Some(true),
            "what was built stays"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]
        /// Once built, the automaton answers for every non-empty ASCII value, and
        /// as the `regex` crate does, whatever order the values come in.
        #[test]
        fn the_automaton_answers_as_the_regex_crate(
            source in crate::pattern::tests::pattern(false),
            values in proptest::collection::vec("[a-c0-2 \\n\r.K_k-]{1,8}", 1..24),
        ) {
            let program = program(&source);
            let regex = regex::Regex::new(&format!(r"\A(?:{source})\z")).unwrap();
            let lazy = Lazy::default();
            prop_assert_eq!(lazy.is_match(&program, "x"), None, "first use");
            for value in &values {
                let answer = lazy.is_match(&program, value);
                prop_assert_eq!(answer, Some(regex.is_match(value)), "{:?} on {:?}", source, value);
            }
        }
    }
}
