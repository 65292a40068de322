//! libFuzzer on `bodies::env_file` (what it checks is documented there).
#![no_main]

#[path = "bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|text: &str| bodies::env_file(text));
