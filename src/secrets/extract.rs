//! Extracting a variable's value from a fetched secret: the whole SecretString, or
//! one key of its JSON object. Pure. Errors name keys, never values.

use base64::Engine as _;
use secrecy::SecretString;

/// Why a value could not be taken from a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtractError {
    /// A key was asked for, but the SecretString is JSON that is not an object.
    NotJson,
    /// A key was asked for, but the SecretString does not parse as JSON.
    InvalidJson {
        /// serde_json's reason and position (it never quotes the input).
        reason: String,
    },
    /// The JSON object has no such key; `available` lists the keys it has.
    MissingKey {
        /// The key asked for.
        key: String,
        /// The keys the secret has.
        available: Vec<String>,
    },
    /// The key holds an object or an array.
    Nested {
        /// The key asked for.
        key: String,
    },
    /// The key holds `null`.
    Null {
        /// The key asked for.
        key: String,
    },
    /// The secret is binary (SecretBinary) and the variable does not ask for base64.
    Binary,
    /// The secret has neither a string nor a binary value.
    Empty,
}

/// Takes the value for `key` (or the whole secret) from a secret's contents.
///
/// JSON numbers and booleans become their text (`5432`, `true`). A binary secret
/// is delivered base64-encoded when `binary_base64` is set, and refused otherwise.
///
/// # Errors
/// An [`ExtractError`] saying what the secret lacks.
pub fn extract(
    string: Option<&str>,
    binary: Option<&[u8]>,
    key: Option<&str>,
    binary_base64: bool,
) -> Result<SecretString, ExtractError> {
    let Some(text) = string else {
        return match binary {
            Some(bytes) if binary_base64 && key.is_none() => Ok(SecretString::from(
                base64::engine::general_purpose::STANDARD.encode(bytes),
            )),
            Some(_) => Err(ExtractError::Binary),
            None => Err(ExtractError::Empty),
        };
    };
    let Some(key) = key else {
        return Ok(SecretString::from(text.to_owned()));
    };
    let object = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) => return Err(ExtractError::NotJson),
        // Plain text is simply not JSON; an object that does not parse says why.
        Err(_) if !text.trim_start().starts_with('{') => return Err(ExtractError::NotJson),
        Err(error) => {
            return Err(ExtractError::InvalidJson {
                reason: error.to_string(),
            });
        }
    };
    match object.get(key) {
        Some(serde_json::Value::String(value)) => Ok(SecretString::from(value.clone())),
        Some(serde_json::Value::Number(number)) => Ok(SecretString::from(number.to_string())),
        Some(serde_json::Value::Bool(flag)) => Ok(SecretString::from(flag.to_string())),
        Some(serde_json::Value::Null) => Err(ExtractError::Null {
            key: key.to_owned(),
        }),
        // A list of plain values (SECRET_KEY_FALLBACKS) becomes comma-separated text.
        Some(serde_json::Value::Array(items))
            if items
                .iter()
                .all(|item| item.is_string() || item.is_number()) =>
        {
            let texts: Vec<String> = items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map_or_else(|| item.to_string(), str::to_owned)
                })
                .collect();
            Ok(SecretString::from(texts.join(",")))
        }
        Some(_) => Err(ExtractError::Nested {
            key: key.to_owned(),
        }),
        None => {
            let mut available: Vec<String> = object.keys().cloned().collect();
            available.sort();
            Err(ExtractError::MissingKey {
                key: key.to_owned(),
                available,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const DATABASE: &str = r#"{"host":"db.internal","port":5432,"ssl":true,"password":"s3cr3t","extra":{"a":1},"gone":null}"#;

    fn text(result: Result<SecretString, ExtractError>) -> String {
        result.unwrap().expose_secret().to_owned()
    }

    #[test]
    fn json_that_does_not_parse_says_why() {
        let error = extract(Some(r#"{"k": 1e400}"#), None, Some("k"), false).unwrap_err();
        assert_eq!(
            error,
            ExtractError::InvalidJson {
                reason: "number out of range at line 1 column 11".to_owned()
            }
        );
        assert_eq!(
            extract(Some("[1]"), None, Some("k"), false).unwrap_err(),
            ExtractError::NotJson
        );
    }

    #[test]
    fn keys_numbers_and_booleans() {
        assert_eq!(
            text(extract(Some(DATABASE), None, Some("host"), false)),
            "db.internal"
        );
        assert_eq!(
            text(extract(Some(DATABASE), None, Some("port"), false)),
            "5432"
        );
        assert_eq!(
            text(extract(Some(DATABASE), None, Some("ssl"), false)),
            "true"
        );
        assert_eq!(text(extract(Some(DATABASE), None, None, false)), DATABASE);
    }

    #[test]
    fn missing_nested_null_and_not_json() {
        let missing = extract(Some(DATABASE), None, Some("user"), false).unwrap_err();
        assert_eq!(
            missing,
            ExtractError::MissingKey {
                key: "user".into(),
                available: ["extra", "gone", "host", "password", "port", "ssl"]
                    .map(String::from)
                    .to_vec(),
            }
        );
        assert_eq!(
            extract(Some(DATABASE), None, Some("extra"), false).unwrap_err(),
            ExtractError::Nested {
                key: "extra".into()
            }
        );
        assert_eq!(
            extract(Some(DATABASE), None, Some("gone"), false).unwrap_err(),
            ExtractError::Null { key: "gone".into() }
        );
        assert_eq!(
            extract(Some("plain"), None, Some("k"), false).unwrap_err(),
            ExtractError::NotJson
        );
        assert_eq!(
            extract(Some("[1]"), None, Some("k"), false).unwrap_err(),
            ExtractError::NotJson
        );
    }

    #[test]
    fn lists_of_plain_values_become_comma_separated() {
        let secret = r#"{"SECRET_KEY_FALLBACKS":["old1","old2"],"mixed":[1,{"a":1}]}"#;
        assert_eq!(
            text(extract(
                Some(secret),
                None,
                Some("SECRET_KEY_FALLBACKS"),
                false
            )),
            "old1,old2"
        );
        assert_eq!(
            extract(Some(secret), None, Some("mixed"), false).unwrap_err(),
            ExtractError::Nested {
                key: "mixed".into()
            }
        );
    }

    #[test]
    fn binary_needs_base64() {
        assert_eq!(
            extract(None, Some(b"\x00\x01"), None, false).unwrap_err(),
            ExtractError::Binary
        );
        assert_eq!(text(extract(None, Some(b"\x00\x01"), None, true)), "AAE=");
        assert_eq!(
            extract(None, Some(b"\x00"), Some("k"), true).unwrap_err(),
            ExtractError::Binary
        );
        assert_eq!(
            extract(None, None, None, false).unwrap_err(),
            ExtractError::Empty
        );
    }
}
