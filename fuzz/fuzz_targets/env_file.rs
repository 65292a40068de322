//! The `.env` parser and `${NAME}` expansion on any text: entries or a syntax
//! error on a line that exists, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

use envgate::resolve::env_file::{evaluate, parse};

fuzz_target!(|text: &str| {
    match parse(text) {
        Ok(entries) => {
            assert!(entries.iter().all(|entry| entry.line >= 1));
            let _ = evaluate(
                entries,
                &|name| (name.len() % 2 == 0).then(|| name.to_owned()),
                &|_| None,
            );
        }
        Err(error) => {
            // CR and CRLF end lines too, as in Python's text mode.
            let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count();
            assert!(
                error.line >= 1 && error.line <= lines,
                "line {} of {lines}",
                error.line
            );
        }
    }
});
