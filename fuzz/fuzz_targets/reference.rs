//! Secret references (`path#key`, `aws-sm://…`, ARNs) as written in a schema or
//! in the environment: parsed and named under any convention, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

use envgate::schema::reference::SecretRef;

fuzz_target!(|input: (&str, &str, &str)| {
    let (text, convention, environment) = input;
    let reference = SecretRef::parse(text);
    let _ = reference.full_name(convention, environment);
    if let Some(reference) = SecretRef::from_env_value(text) {
        let _ = reference.full_name(convention, environment);
    }
});
