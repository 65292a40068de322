//! Problems: what every stage reports instead of printing.
//!
//! A broken schema and a weak value are both *data*: a [`Problem`] with a stable
//! [`Code`], a severity, the variable it concerns, a message, a fix and the place
//! in the schema it points at. Stages collect every problem of a run (never only the
//! first) and the `report` module renders them. Messages never carry a sensitive
//! value: they are built from lengths and character classes instead.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

/// The schema text and the name it is shown under in diagnostics.
#[derive(Debug, Clone)]
pub struct SchemaSource {
    /// Display name (the path as given).
    pub name: String,
    /// The whole TOML text.
    pub text: Arc<str>,
}

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Reported, but does not stop a launch (`--strict` makes it an error).
    Warning,
    /// Stops a launch and fails `--check`.
    Error,
}

impl Severity {
    /// The lower-case name used in JSON and GitHub output.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Error => "error",
        }
    }
}

macro_rules! codes {
    ($( $variant:ident => $code:literal, $description:literal; )*) => {
        /// A stable problem code, printed as `envgate::…` in every output format.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Code {
            $(
                #[doc = $description]
                $variant,
            )*
        }

        impl Code {
            /// Every code, in declaration order.
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The code as printed: `envgate::too_short`.
            #[must_use]
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)*
                }
            }

            /// One sentence saying what the code means.
            #[must_use]
            pub fn description(self) -> &'static str {
                match self {
                    $(Self::$variant => $description,)*
                }
            }
        }
    };
}

codes! {
    SchemaSyntax => "envgate::schema::syntax", "The schema is not valid TOML.";
    SchemaUnknownKey => "envgate::schema::unknown_key", "The schema uses a key envgate does not know.";
    SchemaWrongType => "envgate::schema::wrong_type", "A schema key holds a value of the wrong TOML type.";
    SchemaUnknownType => "envgate::schema::unknown_type", "A variable declares a type envgate does not know.";
    SchemaInvalidRegex => "envgate::schema::invalid_regex", "A `pattern` is not a valid regular expression.";
    SchemaContradiction => "envgate::schema::contradiction", "Two rules of a variable cannot both hold.";
    SchemaBadDefault => "envgate::schema::bad_default", "A variable's `default` fails its own rules.";
    SchemaUnknownEnvironment => "envgate::schema::unknown_environment", "The schema names an environment missing from `[envgate].environments`.";
    SchemaUnknownGroup => "envgate::schema::unknown_group", "A variable names a group missing from `[groups]`.";
    SchemaInvalidName => "envgate::schema::invalid_name", "A variable name is not a valid environment variable name.";
    SchemaInvalidValue => "envgate::schema::invalid_value", "A schema key holds a value outside what it accepts.";
    SchemaEmpty => "envgate::schema::empty", "The schema declares no variables.";
    SchemaTooLarge => "envgate::schema::too_large", "The schema file is larger than envgate accepts.";
    Missing => "envgate::missing", "A required variable has no value.";
    Empty => "envgate::empty", "A required variable is set to the empty string.";
    NotUtf8 => "envgate::not_utf8", "A value is not valid UTF-8.";
    FileConflict => "envgate::file_conflict", "Both `NAME` and `NAME_FILE` are set.";
    FileUnreadable => "envgate::file_unreadable", "The file named by `NAME_FILE` cannot be read.";
    InvalidType => "envgate::invalid_type", "A value does not parse as the variable's type.";
    TooShort => "envgate::too_short", "A value has fewer characters than `min_length`.";
    TooLong => "envgate::too_long", "A value has more characters than `max_length`.";
    TooSmall => "envgate::too_small", "A number is below `min`.";
    TooLarge => "envgate::too_large", "A number is above `max`.";
    PatternMismatch => "envgate::pattern", "A value does not match `pattern`.";
    NotOneOf => "envgate::not_one_of", "A value is not one of `one_of`.";
    ForbiddenPattern => "envgate::forbidden_pattern", "A value contains a substring listed in `forbid`.";
    TooFewUniqueChars => "envgate::too_few_unique_chars", "A value has fewer distinct characters than `min_unique_chars`.";
    LowEntropy => "envgate::low_entropy", "A value's estimated entropy is below `min_entropy_bits`.";
    SchemeNotAllowed => "envgate::scheme_not_allowed", "A URL's scheme is not listed in `schemes`.";
    UnknownEnvironment => "envgate::unknown_environment", "`ENVIRONMENT` names an environment the schema does not declare.";
    InvalidSetting => "envgate::invalid_setting", "One of envgate's own settings (`USE_SECRETS_MANAGER`, …) is malformed.";
    Deprecated => "envgate::deprecated", "A deprecated variable (or an alias of one) is set.";
    ValidationSkipped => "envgate::validation_skipped", "`SKIP_CONFIG_VALIDATION` turned rule checks into warnings.";
    CrossEnvironment => "envgate::cross_environment", "A secret outside the environment's prefix was refused before any request.";
    AccessDenied => "envgate::access_denied", "Secrets Manager denied access to a secret.";
    SecretNotFound => "envgate::secret_not_found", "A secret does not exist.";
    SecretNotJson => "envgate::secret_not_json", "A secret is not a JSON object, or a key holds no plain value.";
    SecretKeyMissing => "envgate::secret_key_missing", "A secret's JSON object lacks the key (or it is null).";
    SecretBinary => "envgate::secret_binary", "A secret is binary and the variable does not ask for base64.";
    SecretScheduledForDeletion => "envgate::secret_scheduled_for_deletion", "A secret is scheduled for deletion.";
    SecretDecryptionFailure => "envgate::secret_decryption_failure", "KMS could not decrypt a secret.";
    Throttled => "envgate::throttled", "Secrets Manager throttled the requests past every retry.";
    StoreUnavailable => "envgate::store_unavailable", "Secrets Manager could not be reached, did not answer in time, or no credentials were found.";
    SecretOverridesEnv => "envgate::secret_overrides_env", "A value from Secrets Manager replaced a different local value.";
    SecureParameterNotSensitive => "envgate::secure_parameter_not_sensitive", "A SecureString parameter feeds a variable the schema does not mark sensitive (envgate masks it anyway).";
    RotationOverdue => "envgate::rotation_overdue", "A secret is older than its `rotate.every`.";
    EnvFileUnsetName => "envgate::env_file_unset_name", "An `--env-file` value expands `${NAME}` and NAME is not set.";
    NulByte => "envgate::nul_byte", "A value contains a NUL byte, which no environment variable can hold.";
    TooLongForExec => "envgate::too_long_for_exec", "A value is longer than the kernel accepts for one environment variable.";
    UnresolvedReference => "envgate::unresolved_reference", "A Secrets Manager reference in the environment could not be resolved.";
    SecretsDirUnknownName => "envgate::secrets_dir_unknown_name", "A `--secrets-dir` file is named after no schema variable.";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found in the schema or in a value.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Stable code.
    pub code: Code,
    /// Error or warning.
    pub severity: Severity,
    /// The variable concerned, when there is one.
    pub var: Option<String>,
    /// What is wrong, without any sensitive value.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// Byte range in the schema text this problem points at.
    pub span: Option<Range<usize>>,
    /// Text shown under the span.
    pub label: Option<String>,
}

impl Problem {
    /// An error with a code and a message; add the rest with the builder methods.
    #[must_use]
    pub fn error(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            severity: Severity::Error,
            var: None,
            message: message.into(),
            help: None,
            span: None,
            label: None,
        }
    }

    /// A warning with a code and a message.
    #[must_use]
    pub fn warning(code: Code, message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(code, message)
        }
    }

    /// Names the variable this problem concerns.
    #[must_use]
    pub fn var(mut self, name: impl Into<String>) -> Self {
        self.var = Some(name.into());
        self
    }

    /// Adds a help text (joined to an existing one on a new line).
    #[must_use]
    pub fn help(mut self, help: impl Into<String>) -> Self {
        let help = help.into();
        self.help = Some(match self.help.take() {
            Some(existing) => format!("{existing}\n{help}"),
            None => help,
        });
        self
    }

    /// Points the problem at a place in the schema, with a label.
    #[must_use]
    pub fn at(mut self, span: Range<usize>, label: impl Into<String>) -> Self {
        self.span = Some(span);
        self.label = Some(label.into());
        self
    }

    /// True for errors.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_and_namespaced() {
        let mut seen = HashSet::new();
        for code in Code::ALL {
            assert!(seen.insert(code.as_str()), "duplicate code {code}");
            assert!(code.as_str().starts_with("envgate::"));
            assert!(code.description().ends_with('.'));
        }
    }

    #[test]
    fn help_accumulates_on_new_lines() {
        let problem = Problem::error(Code::Missing, "m").help("one").help("two");
        assert_eq!(problem.help.as_deref(), Some("one\ntwo"));
    }
}
