//! Differential tests: envgate's readings against the Python stack it guards,
//! run from the test virtualenv so the comparison stays true as they change.
//! - `.env` text against python-dotenv (`load_dotenv`'s reading).
//! - `url` and `email` against Django's `URLValidator` and `validate_email`.

use envgate::resolve::env_file;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::harness::{run_reference, test_python};

/// The process environment both readers see: one name set, one set but empty.
const PROCESS_ENV: &[(&str, &str)] = &[("HOMEDIR", "/home/app"), ("EMPTY", "")];

/// envgate's reading of `text`, in the reference script's answer shape.
fn envgate_reading(text: &str) -> Value {
    let outside = |name: &str| {
        PROCESS_ENV
            .iter()
            .find(|(set, _)| *set == name)
            .map(|(_, value)| (*value).to_owned())
    };
    match env_file::parse(text) {
        Ok(entries) => {
            let (values, _) = env_file::evaluate(entries, &outside, &|_| None);
            json!({ "values": values.into_iter().collect::<Vec<_>>() })
        }
        Err(error) => json!({ "error_line": error.line }),
    }
}

/// The same reading, or an error inside the statement python-dotenv refused.
fn agrees(ours: &Value, reference: &Value) -> bool {
    match (ours.get("error_line"), reference.get("error")) {
        (Some(line), Some(range)) => {
            let line = line.as_u64().unwrap();
            range[0].as_u64().unwrap() <= line && line <= range[1].as_u64().unwrap()
        }
        (None, None) => ours["values"] == reference["values"],
        _ => false,
    }
}

/// Pieces of `.env` text: the shapes python-dotenv distinguishes and the
/// characters where readers tend to differ.
fn piece() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "A",
        "B",
        "KEY",
        "a.b",
        "1X",
        "export",
        "export ",
        "'q'",
        "\"q\"",
        "=",
        " = ",
        "= ",
        "=\t",
        "value",
        "two words",
        " ",
        "\t",
        "\u{b}",
        "\u{1c}",
        "\u{a0}",
        "é",
        "#",
        " #",
        "# note",
        "'",
        "\"",
        "\\",
        "\\\\",
        "\\'",
        "\\\"",
        "\\n",
        "\\t",
        "\\v",
        "\\q",
        "\n",
        "\r",
        "\r\n",
        "$",
        "${",
        "}",
        "${A}",
        "${B:-d}",
        "${EMPTY:-d}",
        "${HOMEDIR}",
        "${NOPE}",
        "${NOPE:-x y}",
        ":",
        ":-",
        "${}",
    ])
}

/// A `.env` text: mostly statement-shaped lines, some soup.
fn dotenv_text() -> impl Strategy<Value = String> {
    let line = prop_oneof![
        3 => (
            prop::sample::select(vec!["", "export ", "  ", "\t"]),
            prop::sample::select(vec!["A", "B", "KEY", "a.b", "'A'", "1X"]),
            prop::sample::select(vec!["=", " = ", "= ", "=\t", ""]),
            prop::sample::select(vec!["", "", "'", "\""]),
            prop::collection::vec(piece(), 0..5),
            prop::sample::select(vec!["", " # note", " junk", "\t"]),
            prop::sample::select(vec!["\n", "\r\n", "\r", ""]),
        )
            .prop_map(|(export, key, equals, quote, value, after, end)| {
                format!("{export}{key}{equals}{quote}{}{quote}{after}{end}", value.concat())
            }),
        1 => prop::collection::vec(piece(), 1..8).prop_map(|pieces| pieces.concat()),
    ];
    prop::collection::vec(line, 1..6).prop_map(|lines| lines.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]

    /// python-dotenv and envgate read every generated text alike: the same keys
    /// and values, or both refuse the same statement.
    #[test]
    fn env_files_read_as_python_dotenv_reads_them(
        texts in prop::collection::vec(dotenv_text(), 400),
    ) {
        let python = test_python("dotenv");
        let answers = run_reference(&python, "dotenv_reference.py", &texts, PROCESS_ENV);
        for (text, reference) in texts.iter().zip(answers.as_array().unwrap()) {
            let ours = envgate_reading(text);
            prop_assert!(
                agrees(&ours, reference),
                "{text:?}\n  python-dotenv: {reference}\n  envgate: {ours}"
            );
        }
    }
}

/// The cases issue 29 found, checked against python-dotenv itself.
#[test]
fn the_listed_dotenv_differences_agree_with_python_dotenv() {
    let texts = [
        "KEY= # comment\n",
        "KEY=\t# comment\n",
        "a=b\rc=d",
        "'a'=b\n",
        "export 'a'=b\n",
        "a.b=c\n1X=y\n",
        "A=1\nB='${A}'\n",
        "FOO=\nBAR=${UNSET}\n",
    ];
    let python = test_python("dotenv");
    let answers = run_reference(&python, "dotenv_reference.py", &texts, PROCESS_ENV);
    for (text, reference) in texts.iter().zip(answers.as_array().unwrap()) {
        let ours = envgate_reading(text);
        assert!(
            agrees(&ours, reference),
            "{text:?}\n  python-dotenv: {reference}\n  envgate: {ours}"
        );
    }
}
