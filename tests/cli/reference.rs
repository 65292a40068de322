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

/// The schemes both sides are given.
const SCHEMES: &[&str] = &["http", "https", "ftp", "ftps", "redis", "postgres"];

/// A generated URL or address, with the features envgate treats differently
/// from Django on purpose (docs/DECISIONS.md, "URLs and e-mail addresses").
#[derive(Debug, Clone)]
struct Address {
    kind: &'static str,
    value: String,
    /// Host labels, when the host is a name (not an IP address).
    labels: Vec<&'static str>,
    empty_user_with_password: bool,
    port_above_65535: bool,
}

impl Address {
    /// Whether envgate may judge this value differently from Django, and in
    /// which direction (`true`: envgate accepts what Django refuses).
    fn documented_difference(&self, envgate_accepts: bool) -> bool {
        let name = self.labels.join(".");
        let name = name.strip_suffix('.').unwrap_or(&name);
        let single_label = !self.labels.is_empty() && !name.is_empty() && !name.contains('.');
        let underscore = self.labels.iter().any(|label| label.contains('_'));
        let non_ascii = self.labels.iter().any(|label| !label.is_ascii());
        let control = self.value.chars().any(char::is_control);
        let empty_authority = self.kind == "url" && self.value.contains(":///");
        if envgate_accepts {
            single_label || underscore || self.empty_user_with_password || empty_authority
        } else {
            self.port_above_65535 || control || non_ascii
        }
    }
}

fn label() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "example",
        "a",
        "com",
        "co",
        "c",
        "org",
        "c0m",
        "-a",
        "a-",
        "a--b",
        "",
        "xn--bcher-kva",
        "xn--p1ai",
        "xn--",
        "bücher",
        "例子",
        "测试",
        "✪df",
        "¡¡",
        "123",
        "01",
        "0x7f",
        "a_b",
        "redis",
        "localhost",
        "LOCALHOST",
        "db1",
        "%41",
        "a%2e",
        "ü-",
    ])
}

fn host() -> impl Strategy<Value = (String, Vec<&'static str>)> {
    prop_oneof![
        4 => (prop::collection::vec(label(), 1..4), prop::bool::weighted(0.15)).prop_map(
            |(labels, trailing_dot)| {
                let dot = if trailing_dot { "." } else { "" };
                (format!("{}{dot}", labels.join(".")), labels)
            }
        ),
        1 => prop::sample::select(vec![
            "1.2.3.4", "01.2.3.4", "256.1.1.1", "1.2.3", "0.0.0.0", "[::1]", "[::1:2::3]", "[]",
            "[1.2.3.4]", "[::ffff:1.2.3.4]", "[fe80::1%25eth0]", "[::1", "3628126748",
        ])
        .prop_map(|host| (host.to_owned(), Vec::new())),
    ]
}

fn url() -> impl Strategy<Value = Address> {
    (
        prop::sample::select(vec![
            "http", "HTTPS", "ftp", "redis", "postgres", "git", "1http", "",
        ]),
        prop::sample::select(vec![
            "", "", "u@", "u:p@", ":p@", ":@", "@", "u:p:q@", "u@v@", "%40@", "u:@",
        ]),
        host(),
        prop::sample::select(vec![
            "", "", ":80", ":", ":65535", ":65536", ":99999", ":123456", ":0", ":a",
        ]),
        prop::sample::select(vec![
            "",
            "/",
            "/a/b?q=1#f",
            "/a b",
            "/%zz",
            "?q",
            "#",
            "/\t",
            "/ü",
            "/\u{1}",
            "/(x)",
        ]),
    )
        .prop_map(|(scheme, userinfo, (host, labels), port, path)| Address {
            kind: "url",
            value: format!("{scheme}://{userinfo}{host}{port}{path}"),
            labels,
            empty_user_with_password: userinfo == ":p@",
            port_above_65535: port
                .trim_start_matches(':')
                .parse::<u32>()
                .is_ok_and(|port| port > 65_535),
        })
}

fn email() -> impl Strategy<Value = Address> {
    (
        prop::sample::select(vec![
            "a", "a.b", ".a", "a.", "a..b", "\"a b\"", "\"a\\ b\"", "\"a@b\"", "ü", "a+b", "a b", "",
            "a@b", "!#$%&'*+-/=?^_`{|}~",
        ]),
        prop_oneof![
            4 => host(),
            1 => prop::sample::select(vec!["[192.0.2.1]", "[::1]", "[IPv6:::1]", "[01.2.3.4]", "[x]"])
                .prop_map(|domain| (domain.to_owned(), Vec::new())),
        ],
    )
        .prop_map(|(local, (domain, labels))| Address {
            kind: "email",
            value: format!("{local}@{domain}"),
            labels,
            empty_user_with_password: false,
            port_above_65535: false,
        })
}

fn envgate_accepts(address: &Address) -> bool {
    use envgate::rules::{Rules, VarType, check_value};
    let (kind, rules) = match address.kind {
        "url" => (
            VarType::Url,
            Rules {
                schemes: Some(SCHEMES.iter().map(|s| (*s).to_owned()).collect()),
                ..Rules::default()
            },
        ),
        _ => (VarType::Email, Rules::default()),
    };
    check_value(kind, &rules, &address.value, false).is_empty()
}

fn django_accepts(addresses: &[Address]) -> Vec<bool> {
    let python = test_python("django");
    let cases: Vec<(&str, &str, &[&str])> = addresses
        .iter()
        .map(|address| (address.kind, address.value.as_str(), SCHEMES))
        .collect();
    serde_json::from_value(run_reference(&python, "django_validators.py", &cases, &[])).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4, ..ProptestConfig::default() })]

    /// envgate's `url` and `email` types judge generated near-misses as Django's
    /// validators do, except where docs/DECISIONS.md says envgate differs.
    #[test]
    fn urls_and_emails_are_judged_as_django_judges_them(
        addresses in prop::collection::vec(prop_oneof![url(), email()], 600),
    ) {
        let django = django_accepts(&addresses);
        for (address, django) in addresses.iter().zip(django) {
            let ours = envgate_accepts(address);
            prop_assert!(
                ours == django || address.documented_difference(ours),
                "{:?} (host labels {:?}): Django {}, envgate {}",
                address.value,
                address.labels,
                if django { "accepts" } else { "refuses" },
                if ours { "accepts" } else { "refuses" },
            );
        }
    }
}
