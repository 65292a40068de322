//! Taking a variable's value out of a secret (SecretString JSON, a key, binary):
//! a value or a typed error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, Option<&str>, &[u8], bool)| {
    let (string, key, binary, base64) = input;
    let _ = envgate::secrets::extract::extract(Some(string), None, key, base64);
    let _ = envgate::secrets::extract::extract(None, Some(binary), key, base64);
});
