//! envgate's own settings, read with envy from the environment and `--env-file`s.
//!
//! These are the launcher's knobs, not the program's configuration: which
//! environment to validate for, whether to use Secrets Manager, where the schema
//! is. They resolve with the same precedence as variables (the process
//! environment, then env files, later files win), so a file cannot make the
//! program see a setting envgate did not act on. Booleans accept the spellings people write (`True`, `1`, `yes`, `on`, any case),
//! because the guide envgate replaces writes `USE_SECRETS_MANAGER=True`.

use std::path::PathBuf;

use serde::{Deserialize, Deserializer};

use secrecy::ExposeSecret;

use crate::error::Error;
use crate::resolve::{EnvFile, EnvSnapshot};
use crate::rules::parse_bool;

/// The variables envgate itself reads.
pub const SETTING_NAMES: &[&str] = &[
    "ENVIRONMENT",
    "USE_SECRETS_MANAGER",
    "USE_PARAMETER_STORE",
    "AWS_REGION",
    "SECRETS_CACHE_TTL",
    "SKIP_CONFIG_VALIDATION",
    "ENVGATE_SCHEMA",
    "ENVGATE_AUDIT_LOG",
    "ENVGATE_ALERT",
    "ENVGATE_ALERT_SEVERITY",
];

/// What each setting (and the other variables envgate reads) does, for the manual page.
pub const SETTING_HELP: &[(&str, &str)] = &[
    (
        "ENVIRONMENT",
        "the environment validated (default development); --environment overrides it",
    ),
    (
        "USE_SECRETS_MANAGER",
        "true: variables with a secret read AWS Secrets Manager (default false)",
    ),
    (
        "USE_PARAMETER_STORE",
        "true: variables with a parameter read AWS SSM Parameter Store (default false)",
    ),
    (
        "AWS_REGION",
        "the AWS region; the standard AWS variables (AWS_PROFILE, AWS_ENDPOINT_URL, ...) apply too",
    ),
    (
        "SKIP_CONFIG_VALIDATION",
        "true: rule violations become warnings (an emergency escape hatch; audited)",
    ),
    (
        "SECRETS_CACHE_TTL",
        "seconds between --watch refreshes (default 300)",
    ),
    (
        "ENVGATE_SCHEMA",
        "the schema when --schema is not given (default ./env.schema.toml)",
    ),
    (
        "ENVGATE_AUDIT_LOG",
        "the audit trail when --audit-log is not given: a file, - for stderr, or off",
    ),
    (
        "ENVGATE_ALERT",
        "alert targets, comma-separated: sns:TOPIC_ARN or https:// webhook URLs (--alert adds to them)",
    ),
    (
        "ENVGATE_ALERT_SEVERITY",
        "error (default: every alert) or critical (refusals and failed refreshes only)",
    ),
    (
        "ENVGATE_SECRETS_AGENT",
        "the AWS Secrets Manager Agent's address on this host, for --fetch agent",
    ),
    (
        "SSL_CERT_FILE",
        "the CA bundle HTTPS endpoints are checked against",
    ),
    (
        "HTTPS_PROXY",
        "a proxy for AWS requests (also HTTP_PROXY, ALL_PROXY, NO_PROXY)",
    ),
    ("NO_COLOR", "set: no colour in reports"),
];

const BOOL_SETTINGS: &[&str] = &[
    "USE_SECRETS_MANAGER",
    "USE_PARAMETER_STORE",
    "SKIP_CONFIG_VALIDATION",
];

/// envgate's settings from the environment.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Settings {
    /// The environment to validate for (`--environment` overrides it).
    #[serde(default = "default_environment")]
    pub environment: String,
    /// Read secrets from AWS Secrets Manager.
    #[serde(default, deserialize_with = "flexible_bool")]
    pub use_secrets_manager: bool,
    /// Read `parameter` variables from AWS SSM Parameter Store.
    #[serde(default, deserialize_with = "flexible_bool")]
    pub use_parameter_store: bool,
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
    /// Alert targets, comma-separated (`--alert` adds to them).
    pub envgate_alert: Option<String>,
    /// `error` (default) or `critical`: the least severity alerted.
    pub envgate_alert_severity: Option<String>,
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
    /// Reads the settings from the process environment alone.
    ///
    /// # Errors
    /// [`Error::Setting`] naming the malformed variable (exit 78).
    pub fn from_env(env: &EnvSnapshot) -> Result<Self, Error> {
        Self::resolve(env, &[])
    }

    /// Reads the settings from the process environment, then the env files
    /// (later files win): the precedence of every other variable.
    ///
    /// # Errors
    /// [`Error::Setting`] naming the malformed variable (exit 78).
    pub fn resolve(env: &EnvSnapshot, env_files: &[EnvFile]) -> Result<Self, Error> {
        let mut pairs = Vec::new();
        for name in SETTING_NAMES {
            match env.get(name).map(|value| value.to_str()) {
                Some(Some(value)) if !value.is_empty() => {
                    pairs.push(((*name).to_owned(), value.to_owned()));
                    continue;
                }
                Some(None) => {
                    return Err(Error::Setting {
                        name: (*name).to_owned(),
                        reason: "not valid UTF-8".to_owned(),
                        help: help_for(name).to_owned(),
                    });
                }
                _ => {}
            }
            let from_file = env_files.iter().rev().find_map(|file| {
                file.get(name)
                    .filter(|value| !value.expose_secret().is_empty())
            });
            if let Some(value) = from_file {
                pairs.push(((*name).to_owned(), value.expose_secret().to_owned()));
            }
        }
        for (name, value) in &pairs {
            check_setting(name, value)?;
        }
        envy::from_iter(pairs).map_err(|error| Error::Setting {
            name: "settings".to_owned(),
            reason: error.to_string(),
            help: "Check envgate's own variables (ENVIRONMENT, USE_SECRETS_MANAGER, …).".to_owned(),
        })
    }
}

/// What a setting accepts, for its error's help.
fn help_for(name: &str) -> &'static str {
    if BOOL_SETTINGS.contains(&name) {
        "Booleans accept true/false, 1/0, yes/no, on/off in any case."
    } else if name == "SECRETS_CACHE_TTL" {
        "SECRETS_CACHE_TTL is a whole number of seconds, such as 300 (the default)."
    } else if name == "ENVGATE_ALERT_SEVERITY" {
        "error (the default) alerts every failure; critical only refusals and failed refreshes."
    } else {
        "Set it to UTF-8 text."
    }
}

/// Checks one setting's text before envy sees it, so the error names the variable
/// and says what it accepts.
fn check_setting(name: &str, value: &str) -> Result<(), Error> {
    let reason = if BOOL_SETTINGS.contains(&name) {
        parse_bool(value)
            .is_none()
            .then(|| "expected a boolean".to_owned())
    } else if name == "SECRETS_CACHE_TTL" {
        value
            .parse::<u64>()
            .is_err()
            .then(|| "expected a whole number of seconds".to_owned())
    } else if name == "ENVGATE_ALERT_SEVERITY" {
        crate::alert::Severity::parse(value)
            .is_none()
            .then(|| "expected error or critical".to_owned())
    } else {
        None
    };
    match reason {
        Some(reason) => Err(Error::Setting {
            name: name.to_owned(),
            reason,
            help: help_for(name).to_owned(),
        }),
        None => Ok(()),
    }
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
