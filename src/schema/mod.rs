//! The schema model: every variable a program needs, its type and its rules.
//!
//! `load` turns TOML text into a [`Schema`] (collecting every problem, with spans);
//! everything downstream (resolve, validate, docs) reads only these types. Rules
//! that can differ per environment live in a [`Layer`]; a variable has one base
//! layer and one override layer per environment, merged by [`VarSpec::layer_for`].

mod fields;
mod load;
pub mod parameter;
pub mod reference;
mod tree;

use std::borrow::Cow;
use std::ops::Range;

use crate::duration::Duration;
use std::collections::HashMap;

pub use crate::problem::SchemaSource;
pub use crate::rules::{MAX_PATTERN_BYTES, Pattern, Rules, VarType};
pub use load::is_env_name;
pub(crate) use load::suggest;
pub use load::{
    ENVGATE_KEYS, LAYER_KEYS, MAX_SCHEMA_BYTES, ROTATE_KEYS, RULE_KEYS, TOP_KEYS, VAR_ONLY_KEYS,
    from_path, from_str,
};

/// The environments a schema declares when `[envgate].environments` is absent.
pub const DEFAULT_ENVIRONMENTS: &[&str] = &["development", "staging", "production"];

/// The naming convention for secrets when `[envgate].secret_name` is absent.
pub const DEFAULT_SECRET_NAME: &str = "{environment}/{name}";
/// The default `[envgate] parameter_name`: `app/DB_HOST` in production is
/// `/production/app/DB_HOST`.
pub const DEFAULT_PARAMETER_NAME: &str = "/{environment}/{name}";

/// `[envgate] guard`: how secrets of one environment are kept from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Guard {
    /// `"prefix"` (the default): in environment E a secret's name must start
    /// with E's prefix or a `shared_prefixes` entry, whole path segments.
    #[default]
    Prefix,
    /// `"none"`: each environment is in its own AWS account and IAM keeps them
    /// apart; envgate checks no name.
    None,
}

/// A loaded, checked schema.
#[derive(Debug, Clone)]
pub struct Schema {
    /// Where it came from, for diagnostics.
    pub source: SchemaSource,
    /// Declared environments, in order.
    pub environments: Vec<String>,
    /// Naming convention for relative secret references.
    pub secret_name: String,
    /// Naming convention for relative parameter references.
    pub parameter_name: String,
    /// Secret and parameter prefixes any environment may read.
    pub shared_prefixes: Vec<String>,
    /// `[envgate] guard`: whether the cross-environment guard applies.
    pub guard: Guard,
    /// `[envgate.scan]`: what `envgate scan` leaves alone.
    pub scan: ScanSettings,
    /// Documentation groups `(key, title)`, in order.
    pub groups: Vec<(String, String)>,
    /// Variables, in schema order.
    pub vars: Vec<VarSpec>,
    /// Position of each variable in `vars`, by name.
    pub(crate) index: HashMap<String, usize>,
}

impl Schema {
    /// The variable called `name`, if declared.
    #[must_use]
    pub fn var(&self, name: &str) -> Option<&VarSpec> {
        let position = *self.index.get(name)?;
        Some(&self.vars[position])
    }

    /// True when `environment` is declared.
    #[must_use]
    pub fn has_environment(&self, environment: &str) -> bool {
        self.environments.iter().any(|known| known == environment)
    }
}

/// `[envgate.scan]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanSettings {
    /// Names never reported (read by code envgate does not see, or on purpose).
    pub ignore: Vec<String>,
    /// Globs of paths, relative to the scan root, not scanned.
    pub exclude: Vec<String>,
}

/// What can change per environment: requiredness, default, secret, help and rules.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    /// `required`, when written.
    pub required: Option<bool>,
    /// `default`, when written.
    pub default: Option<Box<str>>,
    /// `secret` reference, when written.
    pub secret: Option<Box<str>>,
    /// `parameter` reference (Parameter Store), when written; never with `secret`.
    pub parameter: Option<Box<str>>,
    /// `help`, when written.
    pub help: Option<Box<str>>,
    /// The rules.
    pub rules: Rules,
}

impl Layer {
    /// This layer with every field set in `over` replaced.
    #[must_use]
    pub fn merged(&self, over: &Layer) -> Layer {
        Layer {
            required: over.required.or(self.required),
            default: over.default.clone().or_else(|| self.default.clone()),
            // The store is chosen as a pair: an override naming either replaces both.
            secret: if over.secret.is_some() || over.parameter.is_some() {
                over.secret.clone()
            } else {
                self.secret.clone()
            },
            parameter: if over.secret.is_some() || over.parameter.is_some() {
                over.parameter.clone()
            } else {
                self.parameter.clone()
            },
            help: over.help.clone().or_else(|| self.help.clone()),
            rules: self.rules.merged(&over.rules),
        }
    }
}

/// How the launched program receives a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Delivery {
    /// As the environment variable `NAME`.
    #[default]
    Env,
    /// As a file on tmpfs named by `NAME_FILE`.
    File,
}

/// What a rotated secret is (`rotate.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotateKind {
    /// A PostgreSQL role's password (`postgres`).
    Postgres,
    /// An API key (`api-key`).
    ApiKey,
    /// Django's SECRET_KEY, with SECRET_KEY_FALLBACKS (`django-secret-key`).
    DjangoSecretKey,
}

impl RotateKind {
    /// Every kind, in documentation order.
    pub const ALL: [RotateKind; 3] = [Self::Postgres, Self::ApiKey, Self::DjangoSecretKey];

    /// The name written in the schema.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::ApiKey => "api-key",
            Self::DjangoSecretKey => "django-secret-key",
        }
    }

    /// The `--type` that selects it (`database` for `postgres`).
    #[must_use]
    pub fn type_name(self) -> &'static str {
        match self {
            Self::Postgres => "database",
            other => other.as_str(),
        }
    }

    /// Parses a schema kind.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

impl std::fmt::Display for RotateKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a PostgreSQL password is rotated (`rotate.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// One role; its password changes (`single-user`, the default).
    #[default]
    SingleUser,
    /// Two roles, `user` and `user_clone`, take turns (`alternating-users`).
    AlternatingUsers,
}

impl Strategy {
    /// Every strategy.
    pub const ALL: [Strategy; 2] = [Self::SingleUser, Self::AlternatingUsers];

    /// The name written in the schema.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SingleUser => "single-user",
            Self::AlternatingUsers => "alternating-users",
        }
    }

    /// Parses a schema strategy.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|strategy| strategy.as_str() == text)
    }
}

/// The `rotate` table of a variable.
#[derive(Debug, Clone)]
pub struct RotateSpec {
    /// What the secret is.
    pub kind: RotateKind,
    /// How often the secret should be rotated.
    pub every: Option<Duration>,
    /// The `every` text as written.
    pub every_text: Option<String>,
    /// Postgres strategy (absent: single-user).
    pub strategy: Option<Strategy>,
    /// Secret holding admin credentials for the rotation.
    pub admin_secret: Option<String>,
    /// PEM bundle of the CAs the database's certificate is checked against.
    pub ca_file: Option<String>,
    /// Generated key length.
    pub length: Option<usize>,
    /// Generated key alphabet.
    pub alphabet: Option<String>,
    /// Generated key prefix.
    pub prefix: Option<String>,
    /// Maximum number of previous Django keys kept.
    pub max_fallbacks: Option<usize>,
}

/// The rotation kinds envgate knows.
pub const ROTATE_KINDS: &[&str] = &["postgres", "api-key", "django-secret-key"];

/// One declared variable.
#[derive(Debug, Clone)]
pub struct VarSpec {
    /// The variable name.
    pub name: String,
    /// Span of the variable's table in the schema.
    pub span: Range<usize>,
    /// What it is for.
    pub description: Option<Box<str>>,
    /// An example value for docs.
    pub example: Option<Box<str>>,
    /// Documentation group key.
    pub group: Option<Box<str>>,
    /// Value type.
    pub kind: VarType,
    /// Environments where it is required (when written).
    pub required_in: Option<Box<[String]>>,
    /// Whether the value is secret (never shown).
    pub sensitive: bool,
    /// How the child receives it.
    pub deliver: Delivery,
    /// `binary = "base64"`: a SecretBinary secret is delivered base64-encoded.
    pub binary_base64: bool,
    /// Deprecation: `Some(message)` when deprecated (empty message for `true`).
    pub deprecated: Option<Box<str>>,
    /// Older names that are read when `name` is unset.
    pub aliases: Box<[String]>,
    /// `read_by`: who reads the variable when the code does not (`gunicorn`, a
    /// library), so `envgate scan` does not call it unused.
    pub read_by: Vec<String>,
    /// Rotation settings (boxed: most variables have none, and a schema may
    /// declare thousands of variables).
    pub rotate: Option<Box<RotateSpec>>,
    /// Rules and settings for every environment.
    pub base: Layer,
    /// Per-environment overrides, in schema order.
    pub overrides: Vec<(String, Layer)>,
}

impl VarSpec {
    /// The effective layer in `environment`: base merged with its override.
    #[must_use]
    pub fn layer_for(&self, environment: &str) -> Cow<'_, Layer> {
        match self.overrides.iter().find(|(env, _)| env == environment) {
            Some((_, over)) => Cow::Owned(self.base.merged(over)),
            None => Cow::Borrowed(&self.base),
        }
    }

    /// Whether a value is required in `environment`.
    ///
    /// An override's `required` wins; otherwise `required_in` (when written) lists
    /// exactly the environments that require it; otherwise `required` (default true).
    #[must_use]
    pub fn is_required_in(&self, environment: &str) -> bool {
        let override_required = self
            .overrides
            .iter()
            .find(|(env, _)| env == environment)
            .and_then(|(_, layer)| layer.required);
        if let Some(required) = override_required {
            return required;
        }
        if let Some(required_in) = &self.required_in {
            return required_in.iter().any(|env| env == environment);
        }
        self.base.required.unwrap_or(true)
    }

    /// Whether someone must set a value in `environment`: required there, and
    /// without a default to fall back on.
    #[must_use]
    pub fn must_be_set_in(&self, environment: &str) -> bool {
        self.is_required_in(environment) && self.layer_for(environment).default.is_none()
    }
}
