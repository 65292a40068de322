//! New secret contents for each rotation kind: pure functions of the current JSON,
//! the rotation settings and some random bytes.

use serde_json::{Map, Value};

use crate::schema::RotateSpec;

/// The alphabet of generated API keys when the schema gives none.
pub const DEFAULT_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
/// Django's own SECRET_KEY alphabet (`get_random_secret_key`).
pub const DJANGO_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz0123456789!@#$%^&*(-_=+)";
/// Django's key length.
pub const DJANGO_LENGTH: usize = 50;
/// Generated API key length when the schema gives none.
pub const DEFAULT_LENGTH: usize = 40;
/// Previous Django keys kept when the schema gives no `max_fallbacks`.
pub const DEFAULT_MAX_FALLBACKS: usize = 3;
/// The JSON key holding Django's previous keys.
pub const FALLBACKS_KEY: &str = "SECRET_KEY_FALLBACKS";

/// `length` characters drawn uniformly from `alphabet` with the OS's randomness.
///
/// # Errors
/// When the OS cannot supply random bytes, or the alphabet is empty.
pub fn random_string(alphabet: &str, length: usize) -> Result<String, String> {
    let letters: Vec<char> = alphabet.chars().collect();
    if letters.is_empty() || letters.len() > 256 {
        return Err("the alphabet must have between 1 and 256 characters".to_owned());
    }
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - (256 % letters.len());
    let mut out = String::with_capacity(length);
    let mut buffer = [0u8; 64];
    while out.chars().count() < length {
        getrandom::fill(&mut buffer)
            .map_err(|error| format!("no randomness from the OS: {error}"))?;
        for byte in buffer {
            if usize::from(byte) < limit && out.chars().count() < length {
                out.push(letters[usize::from(byte) % letters.len()]);
            }
        }
    }
    Ok(out)
}

/// The secret as a JSON object.
///
/// # Errors
/// When it is not one: rotation keeps the other fields, so it needs them named.
pub fn as_object(text: &str) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(
            "the secret is not a JSON object; rotation keeps its other fields and needs `path#key`"
                .to_owned(),
        ),
    }
}

/// A new API key: generated from `spec` (or `supplied`), the old one kept as
/// `previous_key`, `rotated_at` set.
///
/// # Errors
/// When no key can be generated.
pub fn next_api_key(
    current: &Map<String, Value>,
    key: &str,
    spec: &RotateSpec,
    supplied: Option<String>,
    now: &str,
) -> Result<Map<String, Value>, String> {
    let fresh = if let Some(value) = supplied {
        value
    } else {
        let body = random_string(
            spec.alphabet.as_deref().unwrap_or(DEFAULT_ALPHABET),
            spec.length.unwrap_or(DEFAULT_LENGTH),
        )?;
        format!("{}{body}", spec.prefix.as_deref().unwrap_or_default())
    };
    let mut next = current.clone();
    if let Some(old) = current.get(key) {
        next.insert("previous_key".to_owned(), old.clone());
    }
    next.insert(key.to_owned(), Value::String(fresh));
    next.insert("rotated_at".to_owned(), Value::String(now.to_owned()));
    Ok(next)
}

/// Swaps `key` and `previous_key` back.
///
/// # Errors
/// When the secret has no previous key to return to.
pub fn rolled_back_api_key(
    current: &Map<String, Value>,
    key: &str,
    now: &str,
) -> Result<Map<String, Value>, String> {
    let previous = current
        .get("previous_key")
        .filter(|value| value.as_str().is_some_and(|text| !text.is_empty()))
        .ok_or_else(|| "the secret has no previous_key to roll back to".to_owned())?;
    let mut next = current.clone();
    next.insert(key.to_owned(), previous.clone());
    if let Some(old) = current.get(key) {
        next.insert("previous_key".to_owned(), old.clone());
    }
    next.insert("rotated_at".to_owned(), Value::String(now.to_owned()));
    Ok(next)
}

/// A new Django SECRET_KEY; the old one goes first in `SECRET_KEY_FALLBACKS`, which
/// keeps at most `max_fallbacks` keys, so sessions and signatures stay valid.
#[must_use]
pub fn next_django_key(
    current: &Map<String, Value>,
    key: &str,
    fresh: String,
    max_fallbacks: usize,
    now: &str,
) -> Map<String, Value> {
    let mut fallbacks: Vec<Value> = Vec::new();
    if let Some(old) = current.get(key) {
        fallbacks.push(old.clone());
    }
    if let Some(Value::Array(older)) = current.get(FALLBACKS_KEY) {
        fallbacks.extend(older.iter().cloned());
    }
    fallbacks.truncate(max_fallbacks);
    let mut next = current.clone();
    next.insert(key.to_owned(), Value::String(fresh));
    next.insert(FALLBACKS_KEY.to_owned(), Value::Array(fallbacks));
    next.insert("rotated_at".to_owned(), Value::String(now.to_owned()));
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RotateSpec {
        RotateSpec {
            kind: crate::schema::RotateKind::ApiKey,
            every: None,
            every_text: None,
            strategy: None,
            admin_secret: None,
            ca_file: None,
            length: Some(24),
            alphabet: Some("ab".into()),
            prefix: Some("re_".into()),
            max_fallbacks: None,
        }
    }

    #[test]
    fn random_strings_use_the_alphabet_and_length() {
        let text = random_string("xyz", 100).unwrap();
        assert_eq!(text.chars().count(), 100);
        assert!(text.chars().all(|c| "xyz".contains(c)));
        assert_ne!(
            random_string(DEFAULT_ALPHABET, 40).unwrap(),
            random_string(DEFAULT_ALPHABET, 40).unwrap()
        );
    }

    #[test]
    fn api_keys_keep_the_previous_and_other_fields() {
        let current = as_object(r#"{"api_key":"old","account":"a1"}"#).unwrap();
        let next = next_api_key(
            &current,
            "api_key",
            &spec(),
            None,
            "2026-11-29T00:00:00.000Z",
        )
        .unwrap();
        let key = next["api_key"].as_str().unwrap();
        assert!(key.starts_with("re_") && key.len() == 27, "{key}");
        assert_eq!(next["previous_key"], "old");
        assert_eq!(next["account"], "a1");
        let back = rolled_back_api_key(&next, "api_key", "t").unwrap();
        assert_eq!(back["api_key"], "old");
        assert_eq!(back["previous_key"], key);
        assert!(rolled_back_api_key(&current, "api_key", "t").is_err());
    }

    #[test]
    fn django_keys_keep_capped_fallbacks() {
        let current =
            as_object(r#"{"SECRET_KEY":"k3","SECRET_KEY_FALLBACKS":["k2","k1"]}"#).unwrap();
        let next = next_django_key(&current, "SECRET_KEY", "k4".into(), 2, "t");
        assert_eq!(next["SECRET_KEY"], "k4");
        assert_eq!(next[FALLBACKS_KEY], serde_json::json!(["k3", "k2"]));
    }
}
