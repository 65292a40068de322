//! A schema's `pattern` on any value: no panic, the same answer every time, and
//! a whole-value match only where the pattern itself matches the value (the
//! anchoring never widens what it accepts). The input's first line is the
//! pattern, the rest the value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let (source, value) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(pattern) = envgate::pattern::Pattern::new(source) else {
        return;
    };
    let Ok(first) = pattern.matches(value) else {
        return;
    };
    assert_eq!(pattern.matches(value), Ok(first), "{source:?} on {value:?}");
    if first {
        let unanchored = regex::RegexBuilder::new(source)
            .size_limit(envgate::pattern::MAX_PATTERN_BYTES)
            .build()
            .expect("a pattern that compiled anchored compiles alone");
        assert!(unanchored.is_match(value), "{source:?} on {value:?}");
    }
});
