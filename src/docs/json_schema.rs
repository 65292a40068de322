//! The JSON Schema (draft 2020-12) of envgate's schema format, for editor
//! completion and validation (taplo / Even Better TOML read `#:schema`).
//!
//! Built from the same key lists the loader accepts, so the two cannot drift: a
//! key the loader knows but this schema does not describe fails a test.

use serde_json::{Map, Value, json};

use crate::schema::{
    ENVGATE_KEYS, LAYER_KEYS, ROTATE_KEYS, ROTATE_KINDS, RULE_KEYS, TOP_KEYS, VAR_ONLY_KEYS,
    VarType,
};

const NAME_PATTERN: &str = "^[A-Za-z_][A-Za-z0-9_]*$";

fn scalar(description: &str) -> Value {
    json!({ "type": ["string", "integer", "number", "boolean"], "description": description })
}

fn strings(description: &str) -> Value {
    json!({ "type": "array", "items": { "type": "string" }, "description": description })
}

fn count(description: &str) -> Value {
    json!({ "type": "integer", "minimum": 0, "description": description })
}

fn property(key: &str) -> Value {
    match key {
        "min_length" => count("Minimum length in Unicode characters."),
        "max_length" => count("Maximum length in Unicode characters."),
        "min" => json!({ "type": "integer", "description": "Minimum (int and port)." }),
        "max" => json!({ "type": "integer", "description": "Maximum (int and port)." }),
        "pattern" => {
            json!({ "type": "string", "format": "regex", "description": "Regular expression the whole value (each list item) must match." })
        }
        "one_of" => {
            json!({ "type": "array", "items": { "type": ["string", "integer", "number", "boolean"] }, "description": "Allowed values." })
        }
        "forbid" => strings("Substrings the value must not contain (any case)."),
        "min_unique_chars" => count("Minimum number of distinct characters."),
        "min_entropy_bits" => {
            json!({ "type": "number", "minimum": 0, "description": "Minimum estimated entropy in bits." })
        }
        "schemes" => strings("Allowed URL schemes (url)."),
        "required" => {
            json!({ "type": "boolean", "description": "Whether a value is required (default true)." })
        }
        "default" => scalar("Value used when no source sets one."),
        "secret" => {
            json!({ "type": "string", "description": "Secrets Manager reference: path#json_key, path, or a full ARN." })
        }
        "parameter" => {
            json!({ "type": "string", "description": "Parameter Store reference: a name the parameter_name convention places (app/DB_HOST), or a full name (/production/app/DB_HOST); :3 or :label pins a version or label. Never with secret." })
        }
        "help" => {
            json!({ "type": "string", "description": "How to fix a bad value (shown in diagnostics)." })
        }
        "description" => json!({ "type": "string", "description": "What the variable is for." }),
        "example" => scalar("An example value for the docs."),
        "group" => json!({ "type": "string", "description": "Key of a [groups] entry." }),
        "type" => {
            json!({ "enum": VarType::ALL.iter().map(|kind| kind.as_str()).collect::<Vec<_>>(), "description": "Value type (default string)." })
        }
        "required_in" => strings("Environments that require a value (none other does)."),
        "sensitive" => json!({ "type": "boolean", "description": "Never show the value." }),
        "deliver" => {
            json!({ "enum": ["env", "file"], "description": "How the program receives the value." })
        }
        "binary" => {
            json!({ "enum": ["base64"], "description": "Receive a SecretBinary secret base64-encoded." })
        }
        "deprecated" => {
            json!({ "type": ["boolean", "string"], "description": "true, or a message saying what to use instead." })
        }
        "aliases" => {
            json!({ "type": "array", "items": { "type": "string", "pattern": NAME_PATTERN }, "description": "Older names read when this one is unset." })
        }
        "rotate" => json!({ "$ref": "#/$defs/rotate" }),
        "read_by" => strings(
            "Who reads the variable when the code does not (gunicorn, a library): envgate scan does not call it unused.",
        ),
        "environments" => json!({
            "type": "object",
            "description": "Per-environment overrides.",
            "additionalProperties": { "$ref": "#/$defs/override" }
        }),
        "kind" => json!({ "enum": ROTATE_KINDS, "description": "What the secret is." }),
        "every" => json!({ "type": "string", "description": "Rotation period, e.g. 90d." }),
        "strategy" => {
            json!({ "enum": ["single-user", "alternating-users"], "description": "PostgreSQL rotation strategy." })
        }
        "admin_secret" => {
            json!({ "type": "string", "description": "Secret holding admin credentials for the rotation." })
        }
        "ca_file" => {
            json!({ "type": "string", "description": "PEM bundle of the CAs the database's TLS certificate is checked against (postgres; default: PGSSLROOTCERT, else the system roots)." })
        }
        "length" => count("Length of a generated key."),
        "alphabet" => json!({ "type": "string", "description": "Characters of a generated key." }),
        "prefix" => json!({ "type": "string", "description": "Prefix of a generated key." }),
        "max_fallbacks" => count("How many previous Django keys SECRET_KEY_FALLBACKS keeps."),
        other => panic!("no JSON Schema description for key `{other}`"),
    }
}

fn object(keys: &[&[&str]]) -> Value {
    let properties: Map<String, Value> = keys
        .iter()
        .flat_map(|list| list.iter())
        .map(|key| ((*key).to_owned(), property(key)))
        .collect();
    json!({ "type": "object", "additionalProperties": false, "properties": properties })
}

/// The JSON Schema document, pretty-printed with a trailing newline.
#[must_use]
pub(super) fn render() -> String {
    debug_assert_eq!(TOP_KEYS, ["version", "envgate", "groups", "vars"]);
    debug_assert_eq!(
        ENVGATE_KEYS,
        [
            "environments",
            "secret_name",
            "parameter_name",
            "shared_prefixes",
            "guard",
            "scan"
        ]
    );
    let document = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "envgate schema",
        "description": "Every environment variable a program needs, with types and rules. See envgate's README.",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "version": { "const": 1, "description": "Schema format version." },
            "envgate": {
                "type": "object",
                "additionalProperties": false,
                "properties": {
                    "environments": strings("Environments (default development, staging, production)."),
                    "secret_name": { "type": "string", "description": "Naming convention, default {environment}/{name}." },
                    "parameter_name": { "type": "string", "description": "Parameter Store naming convention, default /{environment}/{name}." },
                    "shared_prefixes": strings("Secret and parameter prefixes any environment may read (whole path segments)."),
                    "scan": {
                        "type": "object",
                        "additionalProperties": false,
                        "description": "What envgate scan leaves alone.",
                        "properties": {
                            "ignore": strings("Variable names never reported."),
                            "exclude": strings("Globs of paths, relative to the scan root, not scanned.")
                        }
                    },
                    "guard": { "enum": ["prefix", "none"], "description": "The cross-environment guard: prefix (default; names carry the environment) or none (each environment in its own AWS account)." },
                }
            },
            "groups": {
                "type": "object",
                "description": "Documentation sections: key = title, in order.",
                "additionalProperties": { "type": "string" }
            },
            "vars": {
                "type": "object",
                "propertyNames": { "pattern": NAME_PATTERN },
                "additionalProperties": { "$ref": "#/$defs/var" }
            }
        },
        "$defs": {
            "var": object(&[VAR_ONLY_KEYS, LAYER_KEYS, RULE_KEYS]),
            "override": object(&[LAYER_KEYS, RULE_KEYS]),
            "rotate": {
                "required": ["kind"],
                "type": "object",
                "additionalProperties": false,
                "properties": object(&[ROTATE_KEYS])["properties"].clone(),
            }
        }
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_loader_key_is_described() {
        // `property` panics on a key it does not describe.
        let text = super::render();
        assert!(text.contains("\"min_unique_chars\""));
    }
}
