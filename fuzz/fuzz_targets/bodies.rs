//! What each fuzz target checks, as plain functions: libFuzzer drives them from
//! the targets beside this file (scripts/fuzz.sh), and tests/fuzz_bodies.rs runs
//! them on the seeds and on generated inputs in every test run.
#![allow(dead_code)] // each target uses one of them

/// The schema loader on any text: problems or a schema, never a panic. A schema
/// that loads is also rendered in every docs format and its defaults validated.
pub(crate) fn schema(text: &str) {
    if let Ok(schema) = envgate::schema::from_str("fuzz.toml", text) {
        for format in [
            envgate::cli::DocsFormat::Markdown,
            envgate::cli::DocsFormat::Dotenv,
        ] {
            let _ = envgate::docs::render(&schema, format, None);
        }
        for environment in &schema.environments {
            let env = envgate::resolve::EnvSnapshot::default();
            let resolution = envgate::resolve::resolve(&schema, environment, &env, &[]);
            let _ = envgate::validate::validate(
                &schema,
                environment,
                &resolution,
                envgate::validate::Mode::Enforce,
            );
        }
    }
}

/// The `.env` parser and `${NAME}` expansion on any text: entries or a syntax
/// error on a line that exists, never a panic.
pub(crate) fn env_file(text: &str) {
    use envgate::resolve::env_file::{evaluate, parse};
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
}

/// A schema's `pattern` on any value: no panic, and a whole-value match only
/// where the pattern itself matches the value (the anchoring never widens what
/// it accepts). The input's first line is the pattern, the rest the value.
pub(crate) fn pattern(text: &str) {
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
}

/// Secret references (`path#key`, `aws-sm://…`, ARNs) as written in a schema or
/// in the environment: parsed and named under any convention, never a panic.
pub(crate) fn reference(text: &str, convention: &str, environment: &str) {
    use envgate::schema::reference::SecretRef;
    let reference = SecretRef::parse(text);
    let _ = reference.full_name(convention, environment);
    if let Some(reference) = SecretRef::from_env_value(text) {
        let _ = reference.full_name(convention, environment);
    }
}

/// Taking a variable's value out of a secret (SecretString JSON, a key, binary):
/// a value or a typed error, never a panic.
pub(crate) fn secret_json(string: &str, key: Option<&str>, binary: &[u8], base64: bool) {
    let _ = envgate::secrets::extract::extract(Some(string), None, key, base64);
    let _ = envgate::secrets::extract::extract(None, Some(binary), key, base64);
}
