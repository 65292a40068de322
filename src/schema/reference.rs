//! Secret references: where in Secrets Manager a variable's value lives.
//!
//! In the schema (`secret = "…"`):
//! - `path#json_key`: the JSON key of the secret `path`, placed in the naming
//!   convention (`[envgate].secret_name`, default `{environment}/{name}`), so
//!   `database/primary#password` in production reads `production/database/primary`;
//! - a bare `path`: the whole SecretString;
//! - a full ARN, with an optional `#key`: used as is in every environment.
//!
//! In the process environment, as users of secrets-init and berglas write them:
//! `aws-sm://production/database/primary#password` (a full name, not placed in the
//! convention) or an ARN.
//!
//! Any of them may pin a version after the key (or after the path when there is no
//! key): `#password@AWSPREVIOUS` for a staging label, `#password@<version id>`.

/// The prefix of a reference written in the process environment.
pub const ENV_REFERENCE_PREFIX: &str = "aws-sm://";

/// Which version of a secret to read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Selector {
    /// AWSCURRENT (the default; batched).
    Current,
    /// A staging label such as `AWSPREVIOUS`.
    Stage(String),
    /// A version id.
    Version(String),
}

impl Selector {
    fn parse(text: &str) -> Self {
        let looks_like_version_id =
            text.len() >= 32 && text.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if looks_like_version_id {
            Self::Version(text.to_owned())
        } else if text == "AWSCURRENT" {
            Self::Current
        } else {
            Self::Stage(text.to_owned())
        }
    }
}

/// A parsed secret reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The path, full name or ARN, before `#`.
    pub path: String,
    /// The JSON key after `#`, when the secret is a JSON object.
    pub key: Option<String>,
    /// The version to read.
    pub selector: Selector,
    /// True when `path` is a full name (an `aws-sm://` reference), not placed in
    /// the naming convention.
    pub absolute: bool,
}

impl SecretRef {
    /// Parses a schema reference: `path#key`, `path`, an ARN, each with an optional `@version`.
    #[must_use]
    pub fn parse(reference: &str) -> Self {
        let (path, key, selector) = match reference.split_once('#') {
            Some((path, key_part)) => match key_part.rsplit_once('@') {
                Some((key, selector)) => (path, Some(key), Selector::parse(selector)),
                None => (path, Some(key_part), Selector::Current),
            },
            None => split_path_selector(reference),
        };
        Self {
            path: path.to_owned(),
            key: key.map(str::to_owned),
            selector,
            absolute: false,
        }
    }

    /// Parses a value found in the process environment, if it is a reference
    /// (`aws-sm://name#key` or a Secrets Manager ARN).
    #[must_use]
    ///
    /// The scheme and the ARN's fixed fields are read in any case (`AWS-SM://`,
    /// `ARN:AWS:SECRETSMANAGER:…`), as AWS writes them in lower case: a value
    /// that looks like a reference is never passed on as a literal. The secret's
    /// own name keeps its case.
    pub fn from_env_value(value: &str) -> Option<Self> {
        let scheme = ENV_REFERENCE_PREFIX.len();
        if value.len() >= scheme
            && value.is_char_boundary(scheme)
            && value[..scheme].eq_ignore_ascii_case(ENV_REFERENCE_PREFIX)
        {
            let mut reference = Self::parse(&value[scheme..]);
            reference.absolute = true;
            return Some(reference);
        }
        let arn = arn_fields_in_lower_case(value);
        is_secrets_manager_arn(&arn).then(|| Self::parse(&arn))
    }

    /// True when the path is a full ARN (used as is, whatever the environment).
    #[must_use]
    pub fn is_arn(&self) -> bool {
        self.path.starts_with("arn:")
    }

    /// The secret id to request in `environment`, under `convention`.
    #[must_use]
    pub fn full_name(&self, convention: &str, environment: &str) -> String {
        if self.is_arn() || self.absolute {
            return self.path.clone();
        }
        convention
            .replace("{environment}", environment)
            .replace("{name}", &self.path)
    }
}

/// `path@AWSPREVIOUS` or `path@<version id>`; any other `@` belongs to the name
/// (secret names may contain `@`).
fn split_path_selector(reference: &str) -> (&str, Option<&str>, Selector) {
    if let Some((path, selector)) = reference.rsplit_once('@') {
        let parsed = Selector::parse(selector);
        let is_selector = matches!(parsed, Selector::Version(_))
            || matches!(selector, "AWSCURRENT" | "AWSPREVIOUS" | "AWSPENDING");
        if is_selector && !path.is_empty() {
            return (path, None, parsed);
        }
    }
    (reference, None, Selector::Current)
}

/// True for `arn:<partition>:secretsmanager:…`.
#[must_use]
pub fn is_secrets_manager_arn(value: &str) -> bool {
    let mut parts = value.splitn(4, ':');
    parts.next() == Some("arn") && parts.next().is_some() && parts.next() == Some("secretsmanager")
}

/// `value` with an ARN's first six fields (`arn:PARTITION:SERVICE:REGION:
/// ACCOUNT:secret:`) in lower case, the rest as written; `value` itself when it
/// does not start with `arn:` in any case.
fn arn_fields_in_lower_case(value: &str) -> String {
    let starts_as_arn =
        value.len() >= 4 && value.is_char_boundary(4) && value[..4].eq_ignore_ascii_case("arn:");
    if !starts_as_arn {
        return value.to_owned();
    }
    let fields: Vec<&str> = value.splitn(7, ':').collect();
    let fixed = fields.len().min(6);
    let mut normalized: Vec<String> = fields[..fixed]
        .iter()
        .map(|field| field.to_ascii_lowercase())
        .collect();
    normalized.extend(fields[fixed..].iter().map(|field| (*field).to_owned()));
    normalized.join(":")
}

/// The secret name inside an ARN (`…:secret:NAME-AbCdEf` → `NAME-AbCdEf`), or the id itself.
#[must_use]
pub fn name_of(secret_id: &str) -> &str {
    match secret_id.split_once(":secret:") {
        Some((_, name)) if is_secrets_manager_arn(secret_id) => name,
        _ => secret_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_references_follow_the_convention() {
        let reference = SecretRef::parse("database/primary#password");
        assert_eq!(reference.key.as_deref(), Some("password"));
        assert_eq!(reference.selector, Selector::Current);
        assert_eq!(
            reference.full_name("{environment}/{name}", "production"),
            "production/database/primary"
        );
        assert_eq!(
            reference.full_name("apps/{environment}/{name}", "staging"),
            "apps/staging/database/primary"
        );
    }

    #[test]
    fn arns_are_used_as_is() {
        let arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:shared/db-AbCdEf";
        let reference = SecretRef::parse(&format!("{arn}#host"));
        assert!(reference.is_arn());
        assert_eq!(
            reference.full_name("{environment}/{name}", "production"),
            arn
        );
        assert_eq!(SecretRef::parse("api-keys/resend").key, None);
        assert_eq!(name_of(arn), "shared/db-AbCdEf");
        assert_eq!(name_of("production/db"), "production/db");
    }

    #[test]
    fn pinned_versions() {
        let stage = SecretRef::parse("database/primary#password@AWSPREVIOUS");
        assert_eq!(stage.key.as_deref(), Some("password"));
        assert_eq!(stage.selector, Selector::Stage("AWSPREVIOUS".into()));
        let id = "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111".replace("EXAMPLE", "0123456");
        let version = SecretRef::parse(&format!("database/primary#password@{id}"));
        assert_eq!(version.selector, Selector::Version(id.clone()));
        let whole = SecretRef::parse("api-keys/resend@AWSPREVIOUS");
        assert_eq!((whole.path.as_str(), whole.key), ("api-keys/resend", None));
        assert_eq!(whole.selector, Selector::Stage("AWSPREVIOUS".into()));
        let at_in_name = SecretRef::parse("team@example/key");
        assert_eq!(at_in_name.path, "team@example/key");
    }

    #[test]
    fn environment_references() {
        let reference =
            SecretRef::from_env_value("aws-sm://production/database/primary#password").unwrap();
        assert!(reference.absolute);
        assert_eq!(
            reference.full_name("{environment}/{name}", "staging"),
            "production/database/primary"
        );
        let arn =
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:production/db-AbCdEf#password";
        assert_eq!(
            SecretRef::from_env_value(arn).unwrap().key.as_deref(),
            Some("password")
        );
        assert!(SecretRef::from_env_value("plain value").is_none());
        // Any case of the scheme and the ARN's fixed fields; the name keeps its own.
        let upper = SecretRef::from_env_value(
            "ARN:AWS:SECRETSMANAGER:US-EAST-1:123456789012:SECRET:Prod/DB-AbCdEf#password",
        )
        .unwrap();
        assert_eq!(
            upper.path,
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:Prod/DB-AbCdEf"
        );
        assert!(
            SecretRef::from_env_value("AWS-SM://production/db#password")
                .unwrap()
                .absolute
        );
        assert!(SecretRef::from_env_value("ARN:aws:s3:::bucket").is_none());
        assert!(SecretRef::from_env_value("arn:aws:s3:::bucket").is_none());
    }
}
