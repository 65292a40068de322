//! A schema's `pattern` on any value: no panic, and a whole-value match only
//! where the pattern itself matches the value (the anchoring never widens what
//! it accepts). The input's first line is the pattern, the rest the value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let (source, value) = text.split_once('\n').unwrap_or((text, ""));
    let Ok(pattern) = envgate::pattern::Pattern::new(source) else {
        return;
    };
    if pattern.is_match(value) {
        let Ok(unanchored) = regex::RegexBuilder::new(source)
            .size_limit(4 * envgate::pattern::MAX_PATTERN_BYTES)
            .build()
        else {
            return;
        };
        assert!(unanchored.is_match(value), "{source:?} on {value:?}");
    }
});
