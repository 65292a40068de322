//! Rules and types in plain English, shared by the Markdown and dotenv renderers.

use crate::schema::{Rules, VarType};

/// Wraps `text` in a Markdown code span that survives backticks inside it.
#[must_use]
pub fn code(text: &str) -> String {
    let longest_run = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    if longest_run == 0 {
        return format!("`{text}`");
    }
    let fence = "`".repeat(longest_run + 1);
    format!("{fence} {text} {fence}")
}

/// What a value of `kind` looks like.
#[must_use]
pub fn type_sentence(kind: VarType) -> &'static str {
    match kind {
        VarType::String => "text",
        VarType::Int => "an integer",
        VarType::Bool => "a boolean (true/false, 1/0, yes/no, on/off; any case)",
        VarType::Port => "a port number (1–65535)",
        VarType::Url => "an absolute URL",
        VarType::Email => "an e-mail address",
        VarType::Host => "a host name or an IP address",
        VarType::Duration => {
            "a duration such as 30s, 5m, 1h30m or 90d (a bare number means seconds)"
        }
        VarType::List => "a comma-separated list (items are trimmed)",
        VarType::Json => "a JSON document",
    }
}

fn joined(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., tail] => format!("{} {last} {tail}", init.join(", ")),
    }
}

fn characters(count: usize) -> String {
    if count == 1 {
        "1 character".to_owned()
    } else {
        format!("{count} characters")
    }
}

/// Every rule set in `rules`, as `(schema key, sentence)`, in a fixed order.
///
/// The destructuring below has no `..`: a rule added to [`Rules`] does not compile
/// until it has a sentence here.
#[must_use]
pub fn rule_sentences(kind: VarType, rules: &Rules) -> Vec<(&'static str, String)> {
    let Rules {
        min_length,
        max_length,
        min,
        max,
        pattern,
        one_of,
        forbid,
        min_unique_chars,
        min_entropy_bits,
        schemes,
    } = rules;
    let each = if kind == VarType::List {
        "each item "
    } else {
        ""
    };
    let mut sentences = Vec::new();
    if let Some(n) = min_length {
        sentences.push(("min_length", format!("at least {}", characters(*n))));
    }
    if let Some(n) = max_length {
        sentences.push(("max_length", format!("at most {}", characters(*n))));
    }
    if let Some(n) = min {
        sentences.push(("min", format!("at least {n}")));
    }
    if let Some(n) = max {
        sentences.push(("max", format!("at most {n}")));
    }
    if let Some(pattern) = pattern {
        sentences.push((
            "pattern",
            format!(
                "{each}must match the regular expression {} (the whole value)",
                code(pattern.source())
            ),
        ));
    }
    if let Some(allowed) = one_of {
        let allowed: Vec<String> = allowed.iter().map(|value| code(value)).collect();
        sentences.push(("one_of", format!("{each}one of: {}", allowed.join(", "))));
    }
    if let Some(forbidden) = forbid {
        let quoted: Vec<String> = forbidden.iter().map(|text| format!("'{text}'")).collect();
        sentences.push((
            "forbid",
            format!("must not contain {} (in any case)", joined(&quoted, "or")),
        ));
    }
    if let Some(n) = min_unique_chars {
        sentences.push((
            "min_unique_chars",
            format!(
                "at least {n} distinct {}",
                if *n == 1 { "character" } else { "characters" }
            ),
        ));
    }
    if let Some(bits) = min_entropy_bits {
        sentences.push((
            "min_entropy_bits",
            format!("at least {bits} bits of estimated entropy"),
        ));
    }
    if let Some(schemes) = schemes {
        let schemes: Vec<String> = schemes.iter().map(|scheme| code(scheme)).collect();
        sentences.push((
            "schemes",
            format!("URL scheme one of: {}", schemes.join(", ")),
        ));
    }
    sentences
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::RULE_KEYS;

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "`` a`b ``");
    }

    #[test]
    fn every_rule_key_has_a_sentence() {
        let schema = crate::schema::from_str(
            "s.toml",
            r#"
[vars.ALL]
type = "url"
min_length = 50
max_length = 90
pattern = "https://.*"
one_of = ["https://a.example/012345678901234567890123456789012345678901234567"]
forbid = ["django-insecure", "change-this", "example"]
min_unique_chars = 5
min_entropy_bits = 10
schemes = ["https"]
[vars.NUMBER]
type = "int"
min = 1
max = 9
"#,
        )
        .unwrap();
        let mut keys: Vec<&str> = schema
            .vars
            .iter()
            .flat_map(|var| rule_sentences(var.kind, &var.base.rules))
            .map(|(key, _)| key)
            .collect();
        keys.sort_unstable();
        let mut expected = RULE_KEYS.to_vec();
        expected.sort_unstable();
        assert_eq!(keys, expected, "a rule key without an English sentence");
        let sentences = rule_sentences(schema.vars[0].kind, &schema.vars[0].base.rules);
        let forbid = sentences.iter().find(|(key, _)| *key == "forbid").unwrap();
        assert_eq!(
            forbid.1,
            "must not contain 'django-insecure', 'change-this' or 'example' (in any case)"
        );
    }
}
