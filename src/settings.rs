//! envgate's own settings, read from the environment with envy.
//!
//! These are the launcher's knobs, not the program's configuration: which
//! environment to validate for, whether to use Secrets Manager, where the schema
//! is. Booleans accept the spellings people write (`True`, `1`, `yes`, `on`, any case),
//! because the guide envgate replaces writes `USE_SECRETS_MANAGER=True`.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use crate::error::Error;
use crate::resolve::EnvSnapshot;
use crate::validate::rules::parse_bool;

/// The variables envgate itself reads.
pub const SETTING_NAMES: &[&str] = &[
    "ENVIRONMENT",
    "USE_SECRETS_MANAGER",
    "AWS_REGION",
    "SECRETS_CACHE_TTL",
    "SKIP_CONFIG_VALIDATION",
    "ENVGATE_SCHEMA",
    "ENVGATE_AUDIT_LOG",
];

const BOOL_SETTINGS: &[&str] = &["USE_SECRETS_MANAGER", "SKIP_CONFIG_VALIDATION"];

/// envgate's settings from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Settings {
    /// The environment to validate for (`--environment` overrides it).
    #[serde(default = "default_environment")]
    pub environment: String,
    /// Read secrets from AWS Secrets Manager.
    #[serde(default, deserialize_with = "flexible_bool")]
    pub use_secrets_manager: bool,
    /// AWS region for Secrets Manager.
    pub aws_region: Option<String>,
    /// Cache lifetime of secrets in seconds (watch mode).
    #[serde(default = "default_cache_ttl")]
    pub secrets_cache_ttl: u64,
    /// Resolve but do not enforce rules (loud warning).
    #[serde(default, deserialize_with = "flexible_bool")]
    pub skip_config_validation: bool,
    /// Schema path when `--schema` is not given.
    pub envgate_schema: Option<PathBuf>,
    /// Audit log destination when `--audit-log` is not given.
    pub envgate_audit_log: Option<String>,
}

fn default_environment() -> String {
    "development".to_owned()
}

fn default_cache_ttl() -> u64 {
    300
}

fn flexible_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_bool(&text).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "expected true/false, 1/0, yes/no or on/off, got {text:?}"
        ))
    })
}

impl Settings {
    /// Reads the settings from an environment snapshot.
    ///
    /// # Errors
    /// [`Error::Setting`] naming the malformed variable (exit 78).
    pub fn from_env(env: &EnvSnapshot) -> Result<Self, Error> {
        let mut pairs = Vec::new();
        for name in SETTING_NAMES {
            match env.get(name).map(|value| value.to_str()) {
                Some(Some(value)) if !value.is_empty() => {
                    pairs.push(((*name).to_owned(), value.to_owned()));
                }
                Some(None) => {
                    return Err(Error::Setting {
                        name: (*name).to_owned(),
                        reason: "not valid UTF-8".to_owned(),
                    });
                }
                _ => {}
            }
        }
        envy::from_iter(pairs).map_err(|error| Error::Setting {
            name: failing_setting(env),
            reason: error.to_string(),
        })
    }
}

fn failing_setting(env: &EnvSnapshot) -> String {
    BOOL_SETTINGS
        .iter()
        .find(|name| {
            env.get_str(name)
                .is_some_and(|value| parse_bool(value).is_none())
        })
        .unwrap_or(&"SECRETS_CACHE_TTL")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, Error> {
        Settings::from_env(&EnvSnapshot::from_pairs(pairs.iter().copied()))
    }

    #[test]
    fn defaults() {
        let found = settings(&[]).unwrap();
        assert_eq!(found.environment, "development");
        assert!(!found.use_secrets_manager);
        assert_eq!(found.secrets_cache_ttl, 300);
    }

    #[test]
    fn booleans_as_the_guide_writes_them() {
        for spelling in ["True", "true", "1", "yes", "ON"] {
            assert!(
                settings(&[("USE_SECRETS_MANAGER", spelling)])
                    .unwrap()
                    .use_secrets_manager
            );
        }
        for spelling in ["False", "0", "no", "off"] {
            assert!(
                !settings(&[("SKIP_CONFIG_VALIDATION", spelling)])
                    .unwrap()
                    .skip_config_validation
            );
        }
    }

    #[test]
    fn malformed_settings_name_the_variable() {
        let error = settings(&[("USE_SECRETS_MANAGER", "maybe")]).unwrap_err();
        assert!(
            matches!(&error, Error::Setting { name, .. } if name == "USE_SECRETS_MANAGER"),
            "{error:?}"
        );
        let error = settings(&[("SECRETS_CACHE_TTL", "soon")]).unwrap_err();
        assert!(
            matches!(&error, Error::Setting { name, .. } if name == "SECRETS_CACHE_TTL"),
            "{error:?}"
        );
    }
}
