//! `envgate docs` and `envgate schema --json-schema`.

use std::path::Path;

use pulldown_cmark::{Event, HeadingLevel, Parser, Tag, TagEnd};

use crate::harness::{Envgate, muejam_schema};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs envgate from the project root, as the committed files are generated.
fn from_root(args: &[&str]) -> crate::harness::Run {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_envgate"))
        .current_dir(root())
        .env_clear()
        .args(args)
        .output()
        .unwrap();
    crate::harness::from_output(output)
}

#[test]
fn markdown_snapshot_and_flag_form_agree() {
    let run = from_root(&["--schema", "schema/muejam.toml", "docs"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    insta::assert_snapshot!(run.stdout);
    let flag = from_root(&["--schema", "schema/muejam.toml", "--docs"]);
    assert_eq!(flag.stdout, run.stdout);
    let again = from_root(&["--schema", "schema/muejam.toml", "docs"]);
    assert_eq!(
        again.stdout, run.stdout,
        "output must be byte-identical across runs"
    );
}

#[test]
fn dotenv_snapshot() {
    let run = from_root(&[
        "--schema",
        "schema/muejam.toml",
        "docs",
        "--format",
        "dotenv",
    ]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn json_schema_snapshot() {
    let run = from_root(&["schema", "--json-schema"]);
    assert_eq!(run.code, 0, "{}", run.transcript());
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn committed_files_are_current() {
    for (args, file) in [
        (
            vec!["docs", "--check", "docs/ENVIRONMENT_VARIABLES.md"],
            "docs/ENVIRONMENT_VARIABLES.md",
        ),
        (
            vec![
                "docs",
                "--format",
                "dotenv",
                "--check",
                "examples/.env.example",
            ],
            "examples/.env.example",
        ),
    ] {
        let mut full = vec!["--schema", "schema/muejam.toml"];
        full.extend(args);
        let run = from_root(&full);
        assert_eq!(run.code, 0, "{file} is stale:\n{}", run.stdout);
    }
    let generated = from_root(&["schema", "--json-schema"]).stdout;
    let committed = std::fs::read_to_string(root().join("schema/envgate.schema.json")).unwrap();
    assert_eq!(
        generated, committed,
        "schema/envgate.schema.json is stale: regenerate it"
    );
}

#[test]
fn markdown_is_commonmark_with_the_expected_structure() {
    let markdown = from_root(&["--schema", "schema/muejam.toml", "docs"]).stdout;
    let options = pulldown_cmark::Options::ENABLE_TABLES;
    let mut headings: Vec<(HeadingLevel, String)> = Vec::new();
    let mut links = Vec::new();
    let mut tables = 0;
    let mut current: Option<(HeadingLevel, String)> = None;
    for event in Parser::new_ext(&markdown, options) {
        match event {
            Event::Start(Tag::Heading { level, .. }) => current = Some((level, String::new())),
            Event::Text(text) | Event::Code(text) => {
                if let Some((_, heading)) = current.as_mut() {
                    heading.push_str(&text);
                }
            }
            Event::End(TagEnd::Heading(_)) => headings.extend(current.take()),
            Event::Start(Tag::Link { dest_url, .. }) => links.push(dest_url.to_string()),
            Event::Start(Tag::Table(_)) => tables += 1,
            _ => {}
        }
    }
    let titles = |level| {
        headings
            .iter()
            .filter(|(l, _)| *l == level)
            .map(|(_, text)| text.as_str())
            .collect::<Vec<_>>()
    };
    assert_eq!(titles(HeadingLevel::H1), ["Environment variables"]);
    assert_eq!(
        titles(HeadingLevel::H2),
        [
            "Summary",
            "Contents",
            "Django core",
            "Database",
            "External services",
            "Launcher and AWS"
        ]
    );
    let schema = envgate::schema::from_str("muejam.toml", &muejam_schema()).unwrap();
    let names: Vec<&str> = schema.vars.iter().map(|var| var.name.as_str()).collect();
    assert_eq!(titles(HeadingLevel::H3), names);
    assert_eq!(tables, 1, "one summary table");
    // Every in-page link points at a heading, with GitHub's anchor rules.
    let anchors: Vec<String> = headings
        .iter()
        .map(|(_, text)| {
            text.to_lowercase()
                .chars()
                .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
                .map(|c| if c == ' ' { '-' } else { c })
                .collect()
        })
        .collect();
    assert!(links.len() >= names.len() * 2);
    for link in links.iter().filter_map(|link| link.strip_prefix('#')) {
        assert!(
            anchors.iter().any(|anchor| anchor == link),
            "dangling link #{link}"
        );
    }
}

#[test]
fn docs_check_reports_a_stale_file_with_a_diff() {
    let gate = Envgate::muejam();
    let run = Envgate::muejam().args(["docs"]).run();
    let stale = run
        .stdout
        .replace("at least 50 characters", "at least 40 characters");
    gate.file("ENV.md", &stale);
    let run = gate.args(["docs", "--check", "ENV.md"]).run();
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("--- ENV.md\n+++ ENV.md (generated)\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("\n-  - at least 40 characters\n+  - at least 50 characters\n"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains(
        "ENV.md is stale; regenerate it with: envgate --schema env.schema.toml docs --output ENV.md"
    ));
}

#[test]
fn docs_check_of_a_missing_file_says_so() {
    let run = Envgate::muejam().args(["docs", "--check", "NOPE.md"]).run();
    assert_eq!(run.code, 1);
    assert!(
        run.stdout
            .contains("NOPE.md does not exist; create it with"),
        "{}",
        run.stdout
    );
}

#[test]
fn output_is_written_atomically_and_unwritable_paths_exit_73() {
    let gate = Envgate::muejam();
    let target = gate.dir().join("out.md");
    // The header names the file it was written to.
    let run = Envgate::muejam().args(["docs"]).run();
    let expected = run.stdout.replace(
        "docs --output docs/ENVIRONMENT_VARIABLES.md",
        "docs --output out.md",
    );
    let gate = gate.args(["--docs", "--output", "out.md"]);
    assert_eq!(gate.run().code, 0);
    assert_eq!(std::fs::read_to_string(&target).unwrap(), expected);
    let leftovers: Vec<_> = std::fs::read_dir(gate.dir())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_name().to_string_lossy().contains("envgate-tmp"))
        .collect();
    assert!(leftovers.is_empty());

    let run = Envgate::muejam()
        .args(["docs", "--output", "missing-dir/out.md"])
        .run();
    assert_eq!(run.code, 73);
    assert!(
        run.stderr
            .contains("cannot write missing-dir/out.md: no such file"),
        "{}",
        run.stderr
    );
}

#[test]
fn docs_of_a_broken_schema_exit_65() {
    let run = Envgate::with_schema("[vars.A]\ntyp = \"int\"\n")
        .args(["docs"])
        .run();
    assert_eq!(run.code, 65);
    assert!(
        run.stdout.contains("Did you mean `type`?"),
        "{}",
        run.stdout
    );
}

#[test]
fn docs_never_contain_values() {
    let canary = "CANARYdocs0193";
    for format in ["markdown", "dotenv"] {
        let run = Envgate::muejam()
            .env("SECRET_KEY", canary)
            .env("DATABASE_PASSWORD", canary)
            .args(["docs", "--format", format])
            .run();
        assert_eq!(run.code, 0);
        assert!(!run.all_output().contains(canary));
    }
}

fn toml_as_json(text: &str) -> serde_json::Value {
    toml::from_str(text).unwrap()
}

#[test]
fn the_example_schema_validates_against_the_json_schema() {
    let json_schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("schema/envgate.schema.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::draft202012::new(&json_schema).unwrap();
    let example = toml_as_json(&muejam_schema());
    let errors: Vec<String> = validator
        .iter_errors(&example)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");

    let unknown_key = toml_as_json("version = 1\n[vars.A]\nmin_lenght = 3\n");
    assert!(!validator.is_valid(&unknown_key));
    let unknown_type = toml_as_json("[vars.A]\ntype = \"strng\"\n");
    assert!(!validator.is_valid(&unknown_type));
    let bad_override =
        toml_as_json("[vars.A.environments.production]\ndescription = \"not overridable\"\n");
    assert!(!validator.is_valid(&bad_override));
}
