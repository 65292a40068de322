//! libFuzzer on `bodies::pattern` (what it checks is documented there).
#![no_main]

#[path = "bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|text: &str| bodies::pattern(text));
