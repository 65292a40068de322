//! envgate's pattern automaton against the regex crate: for any pattern both
//! accept and any value, the same answer about a whole-value match, the first
//! time (the simulation) and the second (the automaton built from a pattern's
//! second value on). The input's first line is the pattern, the rest the value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let (source, value) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(pattern) = envgate::pattern::Pattern::new(source) else {
        return;
    };
    let Ok(reference) = regex::RegexBuilder::new(&format!(r"\A(?:{source})\z"))
        .size_limit(envgate::pattern::MAX_PATTERN_BYTES)
        .build()
    else {
        return;
    };
    let expected = reference.is_match(value);
    for time in ["first", "second"] {
        assert_eq!(
            pattern.is_match(value),
            expected,
            "{source:?} on {value:?}, the {time} time"
        );
    }
});
