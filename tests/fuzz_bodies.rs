//! The fuzz targets' checks (fuzz/fuzz_targets/bodies.rs) in every test run: on
//! the committed seeds, and on generated inputs. libFuzzer itself, which needs
//! nightly and an instrumented build of the whole dependency graph, runs through
//! scripts/fuzz.sh (README, "Fuzzing").

#[path = "../fuzz/fuzz_targets/bodies.rs"]
mod bodies;

use std::path::Path;

use proptest::prelude::*;

/// Every seed of `target`, as text.
fn seeds(target: &str) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut texts = Vec::new();
    for entry in
        std::fs::read_dir(&dir).unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
    {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        texts.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    assert!(!texts.is_empty(), "no seeds in {}", dir.display());
    texts
}

#[test]
fn the_seeds_pass_every_target() {
    for text in seeds("schema") {
        bodies::schema(&text);
    }
    for text in seeds("env_file") {
        bodies::env_file(&text);
    }
    for text in seeds("pattern") {
        bodies::pattern(&text);
    }
    for text in seeds("reference") {
        bodies::reference(&text, "{environment}/{name}", "production");
    }
    for text in seeds("secret_json") {
        bodies::secret_json(&text, Some("password"), text.as_bytes(), true);
    }
}

/// Text made of the pieces the parsers care about.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            "[a-zA-Z0-9_ ]{0,6}",
            prop::sample::select(vec![
                "\n",
                "\r\n",
                "\r",
                "=",
                "\"",
                "'",
                "#",
                "[",
                "]",
                "{",
                "}",
                "$",
                "${",
                "\\",
                ":",
                "/",
                "*",
                "+",
                "?",
                "(",
                ")",
                "|",
                "^",
                "[vars.A]\n",
                "[envgate]\n",
                "type = ",
                "pattern = ",
                "aws-sm://",
                "arn:aws:secretsmanager:",
                "@AWSPREVIOUS",
                "\u{feff}",
                "é",
                "\u{0}",
            ])
            .prop_map(str::to_owned),
        ],
        0..24,
    )
    .prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn generated_inputs_pass_every_target(
        a in text(),
        b in text(),
        c in text(),
        key in proptest::option::of(text()),
        binary in prop::collection::vec(any::<u8>(), 0..64),
        base64 in any::<bool>(),
    ) {
        bodies::schema(&a);
        bodies::env_file(&a);
        bodies::pattern(&a);
        bodies::reference(&a, &b, &c);
        bodies::secret_json(&a, key.as_deref(), &binary, base64);
    }
}
