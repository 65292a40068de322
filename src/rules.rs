//! Types and rules, and checking one value against them: the pure heart of
//! validation. A leaf module: the schema declares rules with these types, and
//! `validate` applies them to resolved values.
//!
//! [`check_value`] returns every violated rule, not the first. It is used both for
//! resolved values and for a schema's own defaults. Messages describe a sensitive
//! value only by its length and character classes, never by its content.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use crate::duration;
use crate::problem::Code;
use std::fmt;

pub mod address;

pub use crate::pattern::{MAX_PATTERN_BYTES, Pattern};

/// The type of a variable's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarType {
    /// Any text.
    String,
    /// A signed 64-bit integer.
    Int,
    /// true/false/1/0/yes/no/on/off, any case.
    Bool,
    /// An integer from 1 to 65535.
    Port,
    /// An absolute URL.
    Url,
    /// An e-mail address.
    Email,
    /// A host name or an IP address.
    Host,
    /// A duration such as `30s`, `5m`, `1h30m`, `90d`.
    Duration,
    /// Comma-separated items.
    List,
    /// A JSON document.
    Json,
}

impl VarType {
    /// Every type, in documentation order.
    pub const ALL: &'static [VarType] = &[
        Self::String,
        Self::Int,
        Self::Bool,
        Self::Port,
        Self::Url,
        Self::Email,
        Self::Host,
        Self::Duration,
        Self::List,
        Self::Json,
    ];

    /// The name used in the schema.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Int => "int",
            Self::Bool => "bool",
            Self::Port => "port",
            Self::Url => "url",
            Self::Email => "email",
            Self::Host => "host",
            Self::Duration => "duration",
            Self::List => "list",
            Self::Json => "json",
        }
    }

    /// Parses a schema type name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|kind| kind.as_str() == name)
    }

    /// True for the types whose values are numbers (`min`/`max` apply).
    #[must_use]
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Int | Self::Port)
    }
}

impl fmt::Display for VarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rules a value must satisfy; every field is optional so that layers merge.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// Minimum length in Unicode characters.
    pub min_length: Option<usize>,
    /// Maximum length in Unicode characters.
    pub max_length: Option<usize>,
    /// Minimum (numeric types).
    pub min: Option<i64>,
    /// Maximum (numeric types).
    pub max: Option<i64>,
    /// Regex the whole value must match (each item, for lists).
    pub pattern: Option<Pattern>,
    /// Allowed values (each item, for lists; normalised, for booleans).
    pub one_of: Option<Box<[String]>>,
    /// Case-insensitive substrings the value must not contain.
    pub forbid: Option<Box<[String]>>,
    /// Minimum number of distinct characters.
    pub min_unique_chars: Option<usize>,
    /// Minimum estimated entropy in bits (Shannon, over the value's own characters).
    pub min_entropy_bits: Option<f64>,
    /// Allowed URL schemes.
    pub schemes: Option<Box<[String]>>,
}

impl Rules {
    /// These rules with every field set in `over` replaced.
    #[must_use]
    pub fn merged(&self, over: &Rules) -> Rules {
        Rules {
            min_length: over.min_length.or(self.min_length),
            max_length: over.max_length.or(self.max_length),
            min: over.min.or(self.min),
            max: over.max.or(self.max),
            pattern: over.pattern.clone().or_else(|| self.pattern.clone()),
            one_of: over.one_of.clone().or_else(|| self.one_of.clone()),
            forbid: over.forbid.clone().or_else(|| self.forbid.clone()),
            min_unique_chars: over.min_unique_chars.or(self.min_unique_chars),
            min_entropy_bits: over.min_entropy_bits.or(self.min_entropy_bits),
            schemes: over.schemes.clone().or_else(|| self.schemes.clone()),
        }
    }
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// Stable code of the rule.
    pub code: Code,
    /// What is wrong, written to follow the variable's name ("is too short …").
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl Violation {
    fn new(code: Code, message: String, help: impl Into<String>) -> Self {
        Self {
            code,
            message,
            help: help.into(),
        }
    }
}

/// Every rule `value` breaks, for a variable of type `kind`.
#[must_use]
pub fn check_value(kind: VarType, rules: &Rules, value: &str, sensitive: bool) -> Vec<Violation> {
    let mut violations = Vec::new();
    let parsed = match check_type(kind, value, sensitive) {
        Ok(parsed) => parsed,
        Err(violation) => {
            violations.push(violation);
            Parsed::Invalid
        }
    };
    check_length(rules, value, &mut violations);
    if let Parsed::Number(number) = parsed {
        check_range(
            rules,
            number,
            &|| describe(value, sensitive),
            &mut violations,
        );
    }
    check_items(kind, rules, value, sensitive, &mut violations);
    check_strength(rules, value, &mut violations);
    if let Parsed::Url(scheme) = &parsed {
        check_scheme(rules, scheme, &mut violations);
    }
    violations
}

/// What the type check gives the rules after it.
enum Parsed {
    /// The value is not of its type.
    Invalid,
    /// A value with nothing more to check by type.
    Text,
    /// A numeric type's number.
    Number(i64),
    /// A URL's scheme (lowercase), for the scheme rule.
    Url(String),
}

/// Parses `value` as `kind`: its number for numeric types, the URL for URLs.
fn check_type(kind: VarType, value: &str, sensitive: bool) -> Result<Parsed, Violation> {
    // A parser's reason may quote the value: keep it for public values only.
    let reason = |why: String| {
        if sensitive {
            String::new()
        } else {
            format!(" ({why})")
        }
    };
    let invalid = |expected: &str, help: &str| {
        Violation::new(
            Code::InvalidType,
            format!("is not {expected} (got {})", describe(value, sensitive)),
            help,
        )
    };
    match kind {
        VarType::String => Ok(Parsed::Text),
        VarType::List => check_list_items(value, sensitive).map(|()| Parsed::Text),
        VarType::Int => value
            .parse::<i64>()
            .map(Parsed::Number)
            .map_err(|_| invalid("an integer", "Use a whole number such as `42` or `-1`.")),
        VarType::Bool => parse_bool(value)
            .map(|_| Parsed::Text)
            .ok_or_else(|| invalid("a boolean", "Use true/false, 1/0, yes/no or on/off (any case).")),
        VarType::Port => match value.parse::<u32>() {
            Ok(port @ 1..=65_535) => Ok(Parsed::Number(i64::from(port))),
            _ => Err(invalid("a port", "Use a port number from 1 to 65535.")),
        },
        VarType::Url => address::check_url(value).map(Parsed::Url).map_err(|why| {
            invalid(
                &format!("a URL: {why}"),
                "Use an absolute URL such as `https://example.com/path` or `redis://cache:6379/0`, written as a client should receive it.",
            )
        }),
        VarType::Email => address::check_email(value).map(|()| Parsed::Text).map_err(|why| {
            invalid(
                &format!("an e-mail address: {why}"),
                "Use an address such as `ops@example.com`.",
            )
        }),
        VarType::Host => {
            if is_host(value) {
                Ok(Parsed::Text)
            } else {
                Err(invalid("a host name or IP address", "Use a host name such as `db.internal` or an address such as `10.0.0.5`."))
            }
        }
        VarType::Duration => duration::parse(value).map(|_| Parsed::Text).map_err(|why| {
            invalid(
                &format!("a duration{}", reason(why)),
                "Use a duration such as `30s`, `5m`, `1h30m` or `90d`; a bare number means seconds.",
            )
        }),
        VarType::Json => serde_json::from_str::<serde_json::Value>(value)
            .map(|_| Parsed::Text)
            .map_err(|why| invalid(&format!("valid JSON{}", reason(why.to_string())), "Use a JSON document, e.g. `{\"key\": 1}`.")),
    }
}

fn check_list_items(value: &str, sensitive: bool) -> Result<(), Violation> {
    match list_items(value).iter().position(|item| item.is_empty()) {
        None => Ok(()),
        Some(index) => Err(Violation::new(
            Code::InvalidType,
            format!(
                "is not a valid list: item {} is empty (got {})",
                index + 1,
                describe(value, sensitive),
            ),
            "Separate items with single commas, e.g. `a.example.com,b.example.com`.",
        )),
    }
}

/// Splits a list value on commas and trims each item.
#[must_use]
pub fn list_items(value: &str) -> Vec<&str> {
    value.split(',').map(str::trim).collect()
}

/// The words envgate reads as true, in any case (also the generated Python's table).
pub const TRUE_WORDS: &[&str] = &["true", "1", "yes", "y", "on"];
/// The words envgate reads as false, in any case.
pub const FALSE_WORDS: &[&str] = &["false", "0", "no", "n", "off"];

/// Parses the boolean spellings envgate accepts, in any case.
#[must_use]
pub fn parse_bool(value: &str) -> Option<bool> {
    let word = value.trim().to_ascii_lowercase();
    if TRUE_WORDS.contains(&word.as_str()) {
        Some(true)
    } else if FALSE_WORDS.contains(&word.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// Whitespace as Python's `\s` and `str.isspace` see it (the Django side's idea of
/// whitespace): Unicode's, plus the information separators U+001C..U+001F.
#[must_use]
pub fn is_python_whitespace(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn is_host(value: &str) -> bool {
    if value.parse::<IpAddr>().is_ok() {
        return true;
    }
    let name = value.strip_suffix('.').unwrap_or(value);
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn check_length(rules: &Rules, value: &str, violations: &mut Vec<Violation>) {
    let length = value.chars().count();
    if let Some(min) = rules.min_length
        && length < min
    {
        violations.push(Violation::new(
            Code::TooShort,
            format!("is too short ({length} characters); it should be at least {min} characters"),
            format!("Use a value of at least {min} characters."),
        ));
    }
    if let Some(max) = rules.max_length
        && length > max
    {
        violations.push(Violation::new(
            Code::TooLong,
            format!("is too long ({length} characters); it should be at most {max} characters"),
            format!("Use a value of at most {max} characters."),
        ));
    }
}

/// `shown` gives the value as messages may show it: quoted when public, by its
/// shape when sensitive (a PIN's digits are the secret); it is only called when a
/// bound is broken.
fn check_range(
    rules: &Rules,
    number: i64,
    shown: &dyn Fn() -> String,
    violations: &mut Vec<Violation>,
) {
    if let Some(min) = rules.min
        && number < min
    {
        violations.push(Violation::new(
            Code::TooSmall,
            format!("is below the minimum of {min} (got {})", shown()),
            format!("Use a number of at least {min}."),
        ));
    }
    if let Some(max) = rules.max
        && number > max
    {
        violations.push(Violation::new(
            Code::TooLarge,
            format!("is above the maximum of {max} (got {})", shown()),
            format!("Use a number of at most {max}."),
        ));
    }
}

/// Rules that apply to each item of a list, or to the whole value otherwise.
fn check_items(
    kind: VarType,
    rules: &Rules,
    value: &str,
    sensitive: bool,
    violations: &mut Vec<Violation>,
) {
    let items = if kind == VarType::List {
        list_items(value)
    } else {
        vec![value]
    };
    // "has an item (\"x\") that does not match …" for lists, "(got \"x\")" otherwise.
    let subject = |item: &str| match kind {
        VarType::List => (
            format!("has an item ({}) that ", describe(item, sensitive)),
            String::new(),
        ),
        _ => (
            String::new(),
            format!(" (got {})", describe(item, sensitive)),
        ),
    };
    if let Some(pattern) = &rules.pattern
        && let Some(item) = items.iter().find(|item| !pattern.is_match(item))
    {
        let (prefix, suffix) = subject(item);
        violations.push(Violation::new(
            Code::PatternMismatch,
            format!(
                "{prefix}does not match the pattern `{}`{suffix}",
                pattern.source()
            ),
            format!(
                "Use a value matching `{}` (the whole value must match).",
                pattern.source()
            ),
        ));
    }
    if let Some(allowed) = &rules.one_of
        && let Some(item) = items.iter().find(|item| !is_one_of(kind, allowed, item))
    {
        let (prefix, suffix) = subject(item);
        violations.push(Violation::new(
            Code::NotOneOf,
            format!("{prefix}is not one of the allowed values{suffix}"),
            format!("Use one of: {}.", allowed.join(", ")),
        ));
    }
}

fn is_one_of(kind: VarType, allowed: &[String], value: &str) -> bool {
    if kind == VarType::Bool {
        let wanted = parse_bool(value);
        return wanted.is_some()
            && allowed
                .iter()
                .any(|candidate| parse_bool(candidate) == wanted);
    }
    allowed.iter().any(|candidate| candidate == value)
}

fn check_strength(rules: &Rules, value: &str, violations: &mut Vec<Violation>) {
    if let Some(forbidden) = &rules.forbid {
        let lowered = value.to_lowercase();
        if let Some(pattern) = forbidden
            .iter()
            .find(|pattern| lowered.contains(&pattern.to_lowercase()))
        {
            violations.push(Violation::new(
                Code::ForbiddenPattern,
                format!("appears to be an example or placeholder value (contains '{pattern}')"),
                "Replace it with a real, randomly generated value.",
            ));
        }
    }
    if let Some(min) = rules.min_unique_chars {
        let unique = value.chars().collect::<HashSet<_>>().len();
        if unique < min {
            violations.push(Violation::new(
                Code::TooFewUniqueChars,
                format!(
                    "has too few distinct characters ({unique}); it should have at least {min}"
                ),
                "Use a randomly generated value, not a repeated character or word.",
            ));
        }
    }
    if let Some(min) = rules.min_entropy_bits {
        let bits = entropy_bits(value);
        if bits < min {
            violations.push(Violation::new(
                Code::LowEntropy,
                format!("has too little entropy (about {bits:.0} bits); it should have at least {min:.0} bits"),
                "Use a longer, randomly generated value.",
            ));
        }
    }
}

/// Estimated entropy: the value's length times the Shannon entropy of its own
/// character distribution. A rough, conservative measure for random strings.
#[must_use]
#[allow(clippy::cast_precision_loss)] // counts of characters in a value: far below 2^52
pub fn entropy_bits(value: &str) -> f64 {
    let mut counts: HashMap<char, usize> = HashMap::new();
    for c in value.chars() {
        *counts.entry(c).or_default() += 1;
    }
    let total = value.chars().count() as f64;
    if total == 0.0 {
        return 0.0;
    }
    let per_char: f64 = counts
        .values()
        .map(|&count| {
            let p = count as f64 / total;
            -p * p.log2()
        })
        .sum();
    per_char * total
}

fn check_scheme(rules: &Rules, scheme: &str, violations: &mut Vec<Violation>) {
    let Some(allowed) = &rules.schemes else {
        return;
    };
    if !allowed
        .iter()
        .any(|allowed| allowed.eq_ignore_ascii_case(scheme))
    {
        violations.push(Violation::new(
            Code::SchemeNotAllowed,
            format!("uses the scheme `{scheme}`, which is not allowed"),
            format!("Use a URL with one of the schemes: {}.", allowed.join(", ")),
        ));
    }
}

/// How a value is shown in a message: quoted when public, by shape when sensitive.
#[must_use]
pub fn describe(value: &str, sensitive: bool) -> String {
    const MAX: usize = 60;
    if sensitive {
        return describe_shape(value);
    }
    if value.chars().count() > MAX {
        let head: String = value.chars().take(MAX).collect();
        format!("{head:?}…")
    } else {
        format!("{value:?}")
    }
}

/// A sensitive value's length and character classes, e.g. "a 12-character value
/// (lowercase letters, digits)". Never a character of the value itself.
#[must_use]
pub fn describe_shape(value: &str) -> String {
    let length = value.chars().count();
    let mut classes = Vec::new();
    if value.chars().any(char::is_lowercase) {
        classes.push("lowercase letters");
    }
    if value.chars().any(char::is_uppercase) {
        classes.push("uppercase letters");
    }
    if value.chars().any(char::is_numeric) {
        classes.push("digits");
    }
    if value.chars().any(char::is_whitespace) {
        classes.push("spaces");
    }
    if value
        .chars()
        .any(|c| !c.is_alphanumeric() && !c.is_whitespace())
    {
        classes.push("symbols");
    }
    if classes.is_empty() {
        format!("a {length}-character value")
    } else {
        format!("a {length}-character value ({})", classes.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(kind: VarType, rules: &Rules, value: &str) -> Vec<Code> {
        check_value(kind, rules, value, false)
            .into_iter()
            .map(|violation| violation.code)
            .collect()
    }

    #[test]
    fn types_accept_and_reject() {
        let none = Rules::default();
        let cases: &[(VarType, &str, bool)] = &[
            (VarType::String, "", true),
            (VarType::Int, "-42", true),
            (VarType::Int, "4.2", false),
            (VarType::Bool, "True", true),
            (VarType::Bool, "off", true),
            (VarType::Bool, "maybe", false),
            (VarType::Port, "5432", true),
            (VarType::Port, "0", false),
            (VarType::Port, "65536", false),
            (VarType::Url, "postgres://u@db:5432/app", true),
            (VarType::Url, "not a url", false),
            (VarType::Email, "ops@example.com", true),
            (VarType::Email, "ops@localhost", true),
            (VarType::Email, "no-at.example.com", false),
            (VarType::Host, "db.internal", true),
            (VarType::Host, "10.0.0.5", true),
            (VarType::Host, "::1", true),
            (VarType::Host, "-bad-.example", false),
            (VarType::Host, "has space", false),
            (VarType::Duration, "1h30m", true),
            (VarType::Duration, "soon", false),
            (VarType::List, "a.com, b.com", true),
            (VarType::List, "a.com,,b.com", false),
            (VarType::Json, r#"{"a": [1, 2]}"#, true),
            (VarType::Json, "{a}", false),
        ];
        for (kind, value, ok) in cases {
            let found = codes(*kind, &none, value);
            assert_eq!(found.is_empty(), *ok, "{kind} {value:?}: {found:?}");
        }
    }

    /// Issue 29's list: what Django's validators refuse, envgate refused too
    /// late or not at all, and what they accept, envgate refused.
    #[test]
    fn urls_and_emails_as_django_judges_them() {
        let none = Rules::default();
        let refused: &[(VarType, &str)] = &[
            (VarType::Url, "http://.com"),
            (VarType::Url, "http://-a.b.co"),
            (VarType::Url, "http://example..com/"),
            (VarType::Url, "http://exa mple.com/"),
            (VarType::Url, "http://example.com/a b"),
            (VarType::Url, "http://example.com/\ta"),
            (VarType::Url, "http://example.com/\ra"),
            (VarType::Url, "http://foo:bar@baz@example.com"),
            (VarType::Url, "http://123"),
            (VarType::Url, "http://01.2.3.4"),
            (VarType::Url, "http://0x7f.0.0.1"),
            (VarType::Url, "http://ex%41mple.com/"),
            (VarType::Url, "http://example.com:65536/"),
            (VarType::Url, "http:///a"),
            (VarType::Email, ".a@example.com"),
            (VarType::Email, "a.@example.com"),
            (VarType::Email, "a..b@example.com"),
            (VarType::Email, "a@1.2.3.4"),
            (VarType::Email, "a@example.com."),
            (VarType::Email, "a b@example.com"),
        ];
        for (kind, value) in refused {
            assert!(
                !codes(*kind, &none, value).is_empty(),
                "{kind} {value:?} passed"
            );
        }
        let accepted: &[(VarType, &str)] = &[
            (VarType::Url, "http://xn--bcher-kva.ch/"),
            (VarType::Url, "http://bücher.ch/"),
            (VarType::Url, "http://例子.测试"),
            (VarType::Url, "http://[::1]:8080/"),
            (VarType::Url, "http://redis:6379"),
            (VarType::Url, "http://my_service:8000/health"),
            (VarType::Url, "redis://:password@cache:6379/0"),
            (VarType::Url, "sqlite:///data/db.sqlite3"),
            (VarType::Url, "http://example.com./"),
            (VarType::Email, "a@bücher.ch"),
            (VarType::Email, "a@xn--bcher-kva.ch"),
            (VarType::Email, "a@[192.0.2.1]"),
            (VarType::Email, "a@[2001:db8::1]"),
            (VarType::Email, "\"a\\ b\"@example.com"),
            (VarType::Email, "\"a@b\"@example.com"),
            (VarType::Email, "a@mailhog"),
        ];
        for (kind, value) in accepted {
            let found = codes(*kind, &none, value);
            assert!(found.is_empty(), "{kind} {value:?}: {found:?}");
        }
    }

    /// A reason says what is wrong, never the text: URLs carry passwords.
    #[test]
    fn url_reasons_never_repeat_the_value() {
        for value in [
            "http://u:CANARYpw@ex ample.com",
            "http://u:CANARYpw@-x.com",
            "redis://:CANARYpw@h:99999",
        ] {
            let violations = check_value(VarType::Url, &Rules::default(), value, true);
            assert_eq!(violations.len(), 1, "{value}");
            assert!(
                !violations[0].message.contains("CANARY"),
                "{}",
                violations[0].message
            );
        }
    }

    #[test]
    fn lengths_count_characters_not_bytes() {
        let rules = Rules {
            min_length: Some(3),
            max_length: Some(3),
            ..Rules::default()
        };
        assert!(codes(VarType::String, &rules, "äöü").is_empty());
        assert_eq!(codes(VarType::String, &rules, "äö"), vec![Code::TooShort]);
        assert_eq!(codes(VarType::String, &rules, "äöüß"), vec![Code::TooLong]);
    }

    #[test]
    fn unique_characters_count_characters() {
        let rules = Rules {
            min_unique_chars: Some(3),
            ..Rules::default()
        };
        assert!(codes(VarType::String, &rules, "ééàü").is_empty());
        assert_eq!(
            codes(VarType::String, &rules, "éééé"),
            vec![Code::TooFewUniqueChars]
        );
    }

    #[test]
    fn numeric_ranges() {
        let rules = Rules {
            min: Some(10),
            max: Some(20),
            ..Rules::default()
        };
        assert_eq!(codes(VarType::Int, &rules, "9"), vec![Code::TooSmall]);
        assert_eq!(codes(VarType::Int, &rules, "21"), vec![Code::TooLarge]);
        assert!(codes(VarType::Int, &rules, "15").is_empty());
        assert_eq!(codes(VarType::Int, &rules, "x"), vec![Code::InvalidType]);
    }

    #[test]
    fn pattern_matches_whole_value_and_each_list_item() {
        let rules = Rules {
            pattern: Some(Pattern::new("[a-z]+").unwrap()),
            ..Rules::default()
        };
        assert!(codes(VarType::String, &rules, "abc").is_empty());
        assert_eq!(
            codes(VarType::String, &rules, "abc1"),
            vec![Code::PatternMismatch]
        );
        assert!(codes(VarType::List, &rules, "ab, cd").is_empty());
        assert_eq!(
            codes(VarType::List, &rules, "ab,c1"),
            vec![Code::PatternMismatch]
        );
    }

    #[test]
    fn one_of_normalises_booleans() {
        let rules = Rules {
            one_of: Some(Box::new(["false".to_owned()])),
            ..Rules::default()
        };
        assert!(codes(VarType::Bool, &rules, "False").is_empty());
        assert!(codes(VarType::Bool, &rules, "0").is_empty());
        assert_eq!(codes(VarType::Bool, &rules, "True"), vec![Code::NotOneOf]);
        assert_eq!(
            codes(VarType::String, &rules, "False"),
            vec![Code::NotOneOf]
        );
    }

    #[test]
    fn forbid_is_case_insensitive_and_names_the_pattern() {
        let rules = Rules {
            forbid: Some(Box::new(["change-this".to_owned()])),
            ..Rules::default()
        };
        let violations = check_value(VarType::String, &rules, "please-CHANGE-THIS-now", true);
        assert_eq!(violations.len(), 1);
        assert!(violations[0].message.contains("'change-this'"));
    }

    #[test]
    fn entropy_and_schemes() {
        let rules = Rules {
            min_entropy_bits: Some(64.0),
            ..Rules::default()
        };
        assert_eq!(
            codes(VarType::String, &rules, "aaaaaaaaaaaaaaaaaaaaaaaa"),
            vec![Code::LowEntropy]
        );
        assert!(codes(VarType::String, &rules, "q8Z!v2#LmN0x&Rt5yW7e").is_empty());
        let rules = Rules {
            schemes: Some(Box::new(["https".to_owned()])),
            ..Rules::default()
        };
        assert!(codes(VarType::Url, &rules, "https://a.example").is_empty());
        assert_eq!(
            codes(VarType::Url, &rules, "http://a.example"),
            vec![Code::SchemeNotAllowed]
        );
    }

    #[test]
    fn sensitive_values_are_described_by_shape_only() {
        let rules = Rules {
            one_of: Some(Box::new(["x".to_owned()])),
            ..Rules::default()
        };
        let canary = "CANARY-zq81";
        for kind in VarType::ALL {
            for violation in check_value(*kind, &rules, canary, true) {
                assert!(
                    !violation.message.contains(canary),
                    "{kind}: {}",
                    violation.message
                );
                assert!(!violation.message.contains("zq81"));
            }
        }
        assert_eq!(
            describe_shape("ab1"),
            "a 3-character value (lowercase letters, digits)"
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn rules() -> impl Strategy<Value = Rules> {
            (
                proptest::option::weighted(0.3, 0usize..20),
                proptest::option::weighted(0.3, 0usize..30),
                proptest::option::weighted(0.3, 0usize..8),
                proptest::option::weighted(
                    0.3,
                    proptest::sample::subsequence(vec!["ab", "x", "Z9"], 0..3),
                ),
                proptest::option::weighted(
                    0.3,
                    proptest::sample::select(vec!["[a-z]+", "[a-z0-9 ]*", ".*x.*"]),
                ),
                proptest::option::weighted(
                    0.3,
                    proptest::sample::subsequence(vec!["abc", "xyz", "a b"], 1..3),
                ),
                proptest::option::weighted(0.3, 0.0f64..60.0),
            )
                .prop_map(
                    |(
                        min_length,
                        max_length,
                        min_unique_chars,
                        forbid,
                        pattern,
                        one_of,
                        min_entropy_bits,
                    )| Rules {
                        min_length,
                        max_length,
                        min_unique_chars,
                        forbid: forbid.map(|list| list.into_iter().map(str::to_owned).collect()),
                        pattern: pattern.map(|source| Pattern::new(source).unwrap()),
                        one_of: one_of.map(|list| list.into_iter().map(str::to_owned).collect()),
                        min_entropy_bits,
                        ..Rules::default()
                    },
                )
        }

        proptest! {
            /// Any value the validator accepts satisfies every declared rule,
            /// each checked here independently of the validator's code.
            #[test]
            fn accepted_values_satisfy_every_rule(rules in rules(), value in "[a-zxZ9 é]{0,25}|abc|xyz|a b") {
                if !check_value(VarType::String, &rules, &value, false).is_empty() {
                    return Ok(());
                }
                let length = value.chars().count();
                if let Some(min) = rules.min_length { prop_assert!(length >= min); }
                if let Some(max) = rules.max_length { prop_assert!(length <= max); }
                if let Some(min) = rules.min_unique_chars {
                    prop_assert!(value.chars().collect::<HashSet<_>>().len() >= min);
                }
                if let Some(forbid) = &rules.forbid {
                    for pattern in forbid {
                        prop_assert!(!value.to_lowercase().contains(&pattern.to_lowercase()));
                    }
                }
                if let Some(pattern) = &rules.pattern {
                    let whole = regex::Regex::new(pattern.source()).unwrap();
                    prop_assert!(whole.find(&value).is_some_and(|m| m.start() == 0 && m.end() == value.len()));
                }
                if let Some(one_of) = &rules.one_of { prop_assert!(one_of.contains(&value)); }
                if let Some(min) = rules.min_entropy_bits { prop_assert!(entropy_bits(&value) >= min); }
            }

            /// Lengths are Unicode characters: a value of n characters passes
            /// `min_length = n` whatever its byte length.
            #[test]
            fn length_counts_characters(value in "\\PC{0,30}") {
                let rules = Rules { min_length: Some(value.chars().count()), max_length: Some(value.chars().count()), ..Rules::default() };
                prop_assert!(check_value(VarType::String, &rules, &value, false).is_empty());
            }
        }
    }
}
