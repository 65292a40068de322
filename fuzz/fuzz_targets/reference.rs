//! libFuzzer on `bodies::reference` (what it checks is documented there).
#![no_main]

#[path = "bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|input: (&str, &str, &str)| {
    let (text, convention, environment) = input;
    bodies::reference(text, convention, environment);
});
