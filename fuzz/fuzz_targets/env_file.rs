//! The `.env` parser and `${NAME}` expansion on any text: entries or a syntax
//! error on a line that exists, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

use envgate::resolve::env_file::{expand, parse};

fuzz_target!(|text: &str| {
    match parse(text) {
        Ok(entries) => {
            for entry in entries {
                assert!(entry.line >= 1);
                let (value, _) = expand(&entry.value, entry.quoting, |name| {
                    (name.len() % 2 == 0).then(|| name.to_owned())
                });
                let _ = value;
            }
        }
        Err(error) => {
            let lines = text.split('\n').count();
            assert!(
                error.line >= 1 && error.line <= lines,
                "line {} of {lines}",
                error.line
            );
        }
    }
});
