//! The schema loader on any text: problems or a schema, never a panic. A schema
//! that loads is also rendered in every docs format and its defaults validated.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
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
});
