//! Secret references as the schema writes them: `path#json_key`, a bare `path`,
//! or a full ARN (with an optional `#key`).
//!
//! A relative path is placed in the naming convention (`[envgate].secret_name`,
//! default `{environment}/{name}`), so `database/primary#password` in production
//! is the JSON key `password` of the secret `production/database/primary`.

/// A parsed secret reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The path or ARN, before `#`.
    pub path: String,
    /// The JSON key after `#`, when the secret is a JSON object.
    pub key: Option<String>,
}

impl SecretRef {
    /// Parses `path#key`, `path`, or an ARN.
    #[must_use]
    pub fn parse(reference: &str) -> Self {
        match reference.split_once('#') {
            Some((path, key)) => Self {
                path: path.to_owned(),
                key: Some(key.to_owned()),
            },
            None => Self {
                path: reference.to_owned(),
                key: None,
            },
        }
    }

    /// True when the path is a full ARN (used as is, whatever the environment).
    #[must_use]
    pub fn is_arn(&self) -> bool {
        self.path.starts_with("arn:")
    }

    /// The secret's full name in `environment`, under `convention`.
    #[must_use]
    pub fn full_name(&self, convention: &str, environment: &str) -> String {
        if self.is_arn() {
            return self.path.clone();
        }
        convention
            .replace("{environment}", environment)
            .replace("{name}", &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_references_follow_the_convention() {
        let reference = SecretRef::parse("database/primary#password");
        assert_eq!(reference.key.as_deref(), Some("password"));
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
    }
}
