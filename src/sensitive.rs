//! Whether a name or a value says it is a secret: the judgement `init` uses to
//! mark a drafted variable sensitive and `scan` uses to keep a code default out of
//! its report. Pure.

/// True when the name says the value is a secret.
#[must_use]
pub fn sensitive_name(name: &str) -> bool {
    const WORDS: [&str; 13] = [
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "PASSPHRASE",
        "TOKEN",
        "PRIVATE",
        "CREDENTIAL",
        "APIKEY",
        "SEED",
        "CARD",
        "CVV",
        "SALT",
        "SIGNING",
    ];
    const ENDINGS: [&str; 5] = ["_KEY", "_PASS", "_PIN", "_PWD", "_AUTH"];
    let upper = name.to_ascii_uppercase();
    WORDS.iter().any(|word| upper.contains(word))
        || ENDINGS.iter().any(|ending| upper.ends_with(ending))
        || ["KEY", "PASS", "PIN", "PWD"].contains(&upper.as_str())
}

/// True when the value looks like a credential whatever its name: a URL with a
/// password or a user part (a DSN's key), a known token format, a PEM block, a
/// JWT, an AWS access key id, a Slack webhook, JSON holding a password.
#[must_use]
pub fn sensitive_value(value: &str) -> bool {
    const PREFIXES: [&str; 14] = [
        "sk_live_",
        "sk_test_",
        "rk_live_",
        "rk_test_",
        "pk_live_",
        "whsec_",
        "ghp_",
        "gho_",
        "ghs_",
        "ghu_",
        "github_pat_",
        "glpat-",
        "xoxb-",
        "xoxp-",
    ];
    let value = value.trim();
    let aws_key_id = value.len() == 20
        && (value.starts_with("AKIA") || value.starts_with("ASIA"))
        && value
            .bytes()
            .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit());
    let jwt = value.starts_with("eyJ") && value.matches('.').count() == 2;
    PREFIXES.iter().any(|prefix| value.starts_with(prefix))
        || (value.starts_with("xox") && value.get(4..5) == Some("-"))
        || value.contains("-----BEGIN")
        || value.starts_with("https://hooks.slack.com/")
        || aws_key_id
        || jwt
        || credentials_in_url(value)
        || json_with_a_secret(value)
}

/// True when the value is a URL with a password or a user name in it (a
/// Sentry-style DSN carries its key there).
fn credentials_in_url(value: &str) -> bool {
    url::Url::parse(value).is_ok_and(|url| url.password().is_some() || !url.username().is_empty())
}

/// True when the value is a JSON object with a key that names a secret, at any
/// depth.
fn json_with_a_secret(value: &str) -> bool {
    fn holds(value: &serde_json::Value) -> bool {
        match value {
            serde_json::Value::Object(map) => map
                .iter()
                .any(|(key, inner)| sensitive_name(key) || holds(inner)),
            serde_json::Value::Array(items) => items.iter().any(holds),
            _ => false,
        }
    }
    value.starts_with('{')
        && serde_json::from_str::<serde_json::Value>(value).is_ok_and(|parsed| holds(&parsed))
}
