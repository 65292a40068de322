//! libFuzzer on `bodies::secret_json` (what it checks is documented there).
#![no_main]

#[path = "bodies.rs"]
mod bodies;

libfuzzer_sys::fuzz_target!(|input: (&str, Option<&str>, &[u8], bool)| {
    let (string, key, binary, base64) = input;
    bodies::secret_json(string, key, binary, base64);
});
