//! `envgate init`: a draft schema from an existing `.env` / `.env.example`, or from
//! the names in the current environment. [`draft`] is pure (names and values in,
//! TOML text out); [`run`] is the IO edge (read the file, refuse to overwrite,
//! write atomically).
//!
//! What it infers, per variable:
//! - **sensitive** by name ([`sensitive_name`]: `*SECRET*`, `*PASSWORD*`,
//!   `*TOKEN*`, `*_KEY`, `*_PASS`, `*_PIN`, `*SEED*`, `*CARD*`, …) or by the
//!   value's shape ([`sensitive_value`]: a URL with a password or a user part, a
//!   known credential format, a PEM block, a JWT, JSON holding a password); every
//!   other variable says `sensitive = false`, since its `secret` line would
//!   otherwise make it sensitive;
//! - **type** from the value: bool, int (`port` for `*_PORT`), url, email, json,
//!   list (comma-separated), else string; a sensitive value's type is inferred too,
//!   but the value itself is never written to the draft;
//! - **required**: yes, unless the file leaves the value empty;
//! - Django's own settings: `SECRET_KEY` gets the weak-key rules, `DEBUG` is
//!   forbidden in production, `ALLOWED_HOSTS` is a list required in staging and
//!   production;
//! - a `description` to fill in, and an `example` only for booleans, ports and
//!   small numbers (at most 5 digits) under names that are not sensitive (other
//!   values may be secrets that the name does not betray);
//! - a `secret` for `envgate import`: `secrets#NAME` when sensitive, else
//!   `config#NAME`; with `--parameters`, a `parameter = "config/NAME"` in place
//!   of the `config` secret (Parameter Store for plain configuration).

use std::fmt::Write as _;
use std::path::Path;

use secrecy::ExposeSecret;

pub use crate::sensitive::{sensitive_name, sensitive_value};

use crate::error::Error;
use crate::resolve::{EnvSnapshot, env_file, load_env_files};
use crate::rules::{VarType, parse_bool};

/// One name found, with its value when the source has one.
#[derive(Clone)]
pub struct Found {
    /// The variable name.
    pub name: String,
    /// Its value in the file (`None` when drafting from names only).
    pub value: Option<String>,
    /// What the code says of it (`init --from-code`).
    pub code: Option<FromCode>,
}

/// What the code says of a variable: the type its cast gives, its literal default,
/// whether the code runs without it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FromCode {
    /// From `env.bool(…)`, `cast=int`, …
    pub kind: Option<VarType>,
    /// A literal default, as schema text.
    pub default: Option<String>,
    /// `.get`, `getenv`, `in`, or a default that is not a literal.
    pub optional: bool,
}

impl std::fmt::Debug for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Found")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Environment names that belong to the shell or the system, not the program.
const SYSTEM_NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "HOSTNAME",
    "PWD",
    "OLDPWD",
    "SHLVL",
    "TERM",
    "LANG",
    "LANGUAGE",
    "USER",
    "LOGNAME",
    "SHELL",
    "MAIL",
    "_",
    "TZ",
    "DISPLAY",
    "SSH_AUTH_SOCK",
    "SSH_CLIENT",
    "SSH_CONNECTION",
    "SSH_TTY",
    "COLORTERM",
    "TERM_PROGRAM",
    "EDITOR",
    "PAGER",
    "TMPDIR",
];

/// True for names the draft leaves out when reading the current environment.
#[must_use]
pub fn is_system_name(name: &str) -> bool {
    SYSTEM_NAMES.contains(&name)
        || name.starts_with("LC_")
        || name.starts_with("XDG_")
        || name.starts_with("ENVGATE_")
}

/// Whether a draft marks `entry` sensitive (by name, by its value, or by the
/// default the code gives it).
fn is_sensitive(entry: &Found) -> bool {
    let code_default = entry.code.as_ref().and_then(|code| code.default.as_deref());
    sensitive_name(&entry.name)
        || entry.value.as_deref().is_some_and(sensitive_value)
        || code_default.is_some_and(sensitive_value)
}

/// The type a value suggests (and that it passes).
#[must_use]
pub fn infer_type(name: &str, value: &str) -> VarType {
    let upper = name.to_ascii_uppercase();
    let value = value.trim();
    if value.is_empty() {
        return VarType::String;
    }
    if upper.ends_with("_PORT") && matches!(value.parse::<u32>(), Ok(1..=65_535)) {
        return VarType::Port;
    }
    let word_bool = matches!(
        value.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off"
    );
    if word_bool && parse_bool(value).is_some() {
        return VarType::Bool;
    }
    if value.parse::<i64>().is_ok() {
        return VarType::Int;
    }
    if (value.starts_with('{') || value.starts_with('['))
        && serde_json::from_str::<serde_json::Value>(value).is_ok()
    {
        return VarType::Json;
    }
    if value.contains("://") && url::Url::parse(value).is_ok() {
        return VarType::Url;
    }
    if crate::rules::check_value(VarType::Email, &crate::rules::Rules::default(), value, true)
        .is_empty()
        && !value.contains(',')
    {
        return VarType::Email;
    }
    if value.contains(',')
        && crate::rules::list_items(value)
            .iter()
            .all(|item| !item.is_empty())
    {
        return VarType::List;
    }
    VarType::String
}

/// Where `envgate import` puts the variable: sensitive values in the
/// environment's `secrets` secret, the others in its `config` secret (one JSON key
/// each), or with `--parameters` in the parameter `config/NAME`. Remove the line
/// of a variable that should stay in the environment.
fn store_line(name: &str, sensitive: bool, parameters: bool) -> String {
    if parameters && !sensitive {
        return format!("parameter = \"config/{name}\"\n");
    }
    let path = if sensitive { "secrets" } else { "config" };
    format!("secret = \"{path}#{name}\"\n")
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The draft schema for `found`; `source` names where the names came from, and
/// `env_file` the .env file among them; `parameters`: non-sensitive variables
/// read Parameter Store, not a secret.
#[must_use]
pub fn draft(found: &[Found], source: &str, env_file: Option<&str>, parameters: bool) -> String {
    let check = match env_file {
        Some(file) => format!("envgate --schema THIS_FILE --env-file {file} --check"),
        None => "envgate --schema THIS_FILE --check".to_owned(),
    };
    let mut out = format!(
        "# Draft schema written by `envgate init` from {source}.\n\
         # Fill in every TODO, review each type and rule, then run:\n\
         #   {check}\n\
         version = 1\n\n\
         [envgate]\n\
         environments = [\"development\", \"staging\", \"production\"]\n"
    );
    for entry in found {
        out.push('\n');
        out.push_str(&var_table(entry, parameters));
    }
    out
}

fn var_table(entry: &Found, parameters: bool) -> String {
    let name = &entry.name;
    let value = entry.value.as_deref();
    let sensitive = is_sensitive(entry);
    let code = entry.code.clone().unwrap_or_default();
    let kind = code
        .kind
        .map(|kind| {
            if kind == VarType::Int && name.ends_with("_PORT") {
                VarType::Port
            } else {
                kind
            }
        })
        .or_else(|| value.map(|value| infer_type(name, value)))
        .or_else(|| {
            code.default
                .as_deref()
                .map(|default| infer_type(name, default))
        })
        .unwrap_or(VarType::String);
    let mut out = format!("[vars.{name}]\n");
    let _ = writeln!(
        out,
        "description = {}",
        quoted(&format!("TODO: what {name} is for."))
    );
    match name.as_str() {
        "SECRET_KEY" => {
            out.push_str(&store_line(name, true, parameters));
            out.push_str(
                "sensitive = true\nmin_length = 50\nmin_unique_chars = 5\n\
                 forbid = [\"django-insecure\", \"change-this\", \"example\"]\n\
                 help = \"Generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'\"\n",
            );
            return out;
        }
        "DEBUG" => {
            out.push_str(&store_line(name, false, parameters));
            out.push_str(
                "sensitive = false\ntype = \"bool\"\ndefault = \"false\"\n\
                 [vars.DEBUG.environments.production]\none_of = [\"false\"]\n\
                 help = \"DEBUG must be false in production: it leaks settings and stack traces.\"\n",
            );
            return out;
        }
        "ALLOWED_HOSTS" => {
            out.push_str(&store_line(name, false, parameters));
            out.push_str(
                "sensitive = false\ntype = \"list\"\nrequired_in = [\"staging\", \"production\"]\n",
            );
            return out;
        }
        _ => {}
    }
    if kind != VarType::String {
        let _ = writeln!(out, "type = \"{kind}\"");
    }
    // A `secret` makes a variable sensitive unless it says otherwise.
    let _ = writeln!(out, "sensitive = {sensitive}");
    out.push_str(&store_line(name, sensitive, parameters));
    match code.default.clone().filter(|_| !sensitive) {
        // The code's own default: a sensitive one is never copied.
        Some(default) => {
            let _ = writeln!(out, "default = {}", quoted(&default));
        }
        None if code.optional
            || code.default.is_some()
            || value.is_some_and(|value| value.trim().is_empty()) =>
        {
            out.push_str("required = false\n");
        }
        None => {}
    }
    if let Some(value) = value.filter(|value| !sensitive && public_example(kind, value)) {
        let _ = writeln!(out, "example = {}", quoted(value.trim()));
    }
    out
}

/// Whether a value of a non-sensitive variable may be copied as its example:
/// booleans, and ports and numbers written in at most 5 digits (a longer number may be a
/// PIN, a card or an account number that the name does not betray).
fn public_example(kind: VarType, value: &str) -> bool {
    let digits = value.trim().trim_start_matches(['-', '+']);
    match kind {
        VarType::Bool => true,
        VarType::Int | VarType::Port => digits.len() <= 5,
        _ => false,
    }
}

/// `envgate init`: writes the draft for `from` (a .env file, or the environment's
/// names) to `output`; returns what to print.
///
/// # Errors
/// [`Error::Usage`] when `output` exists and `force` is off; the env file's own
/// errors; [`Error::Output`] when the draft cannot be written.
pub fn run(
    sources: &Sources<'_>,
    output: &Path,
    force: bool,
    parameters: bool,
    env: &EnvSnapshot,
) -> Result<String, Error> {
    let from = sources.file;
    if output.exists() && !force {
        return Err(Error::Usage(format!(
            "{} exists; envgate init never overwrites a schema. Pass --force to replace it, or --output another path.",
            output.display()
        )));
    }
    let (found, source) = match (from, sources.code) {
        (Some(path), Some(code)) => (
            merged(from_file(path, env)?, from_code(code)?),
            format!("{} and the code in {}", path.display(), code.display()),
        ),
        (Some(path), None) => (from_file(path, env)?, path.display().to_string()),
        (None, Some(code)) => (from_code(code)?, format!("the code in {}", code.display())),
        (None, None) => (from_environment(env), "the current environment".to_owned()),
    };
    let (kept, skipped): (Vec<_>, Vec<_>) = found
        .into_iter()
        .partition(|entry| crate::schema::is_env_name(&entry.name));
    let file = from.map(|path| path.display().to_string());
    let text = draft(&kept, &source, file.as_deref(), parameters);
    // The draft must load: a name or a value that broke it is a bug here.
    crate::schema::from_str(&output.display().to_string(), &text).map_err(Error::SchemaInvalid)?;
    // A schema is source: committed and copied into images, so 0644.
    crate::fsio::write_atomically_with_mode(output, text.as_bytes(), 0o644).map_err(|source| {
        Error::Output {
            path: output.to_owned(),
            source,
        }
    })?;
    let sensitive = kept.iter().filter(|entry| is_sensitive(entry)).count();
    let mut message = format!(
        "wrote {}: {} variables ({sensitive} marked sensitive, by name or value); no sensitive value was copied.\n",
        output.display(),
        kept.len()
    );
    for entry in &skipped {
        let _ = writeln!(
            message,
            "skipped {:?}: not a valid environment variable name",
            crate::report::escape(&entry.name)
        );
    }
    let env_file = from
        .map(|path| format!(" --env-file {}", path.display()))
        .unwrap_or_default();
    let _ = writeln!(
        message,
        "next: fill in the TODO descriptions, then run: envgate --schema {}{env_file} --check",
        output.display()
    );
    if let Some(code) = sources.code {
        let _ = writeln!(
            message,
            "and keep the code and the schema in step: envgate --schema {} scan {}",
            output.display(),
            code.display()
        );
    }
    Ok(message)
}

/// The names of a .env file in file order, with their values as envgate reads them.
fn from_file(path: &Path, env: &EnvSnapshot) -> Result<Vec<Found>, Error> {
    let (files, _) = load_env_files(&[path.to_owned()], env)?;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut found: Vec<Found> = Vec::new();
    for entry in env_file::parse(&text).unwrap_or_default() {
        if found.iter().any(|seen| seen.name == entry.name) {
            continue;
        }
        let value = files[0]
            .get(&entry.name)
            .map(|value| value.expose_secret().to_owned());
        found.push(Found {
            name: entry.name,
            value,
            code: None,
        });
    }
    Ok(found)
}

/// Where `init` takes the names from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sources<'a> {
    /// `--from`: a .env file.
    pub file: Option<&'a Path>,
    /// `--from-code`: Python code, read as `envgate scan` reads it.
    pub code: Option<&'a Path>,
}

/// The names the Python code under `root` reads, in file order, with what the
/// code says of each (envgate's own settings left out).
fn from_code(root: &Path) -> Result<Vec<Found>, Error> {
    let mut found: Vec<Found> = Vec::new();
    for file in crate::scan::walk(root, &[])? {
        for read in file.reads.unwrap_or_default() {
            let Some(name) = read.name else { continue };
            if crate::settings::SETTING_NAMES.contains(&name.as_str()) || name == "ENVIRONMENT" {
                continue;
            }
            let said = code_of(read.default.as_ref(), read.cast, read.optional);
            match found.iter_mut().find(|seen| seen.name == name) {
                Some(seen) => {
                    let code = seen.code.get_or_insert_with(FromCode::default);
                    code.kind = code.kind.or(said.kind);
                    code.default = code.default.take().or(said.default);
                    code.optional |= said.optional;
                }
                None => found.push(Found {
                    name,
                    value: None,
                    code: Some(said),
                }),
            }
        }
    }
    Ok(found)
}

/// What one read says: the type of its cast, its literal default as schema text.
fn code_of(
    default: Option<&crate::scan::python::Literal>,
    cast: Option<crate::scan::python::Cast>,
    optional: bool,
) -> FromCode {
    use crate::scan::python::{Cast, Literal};
    let kind = cast.and_then(|cast| match cast {
        Cast::Bool => Some(VarType::Bool),
        Cast::Int => Some(VarType::Int),
        Cast::List => Some(VarType::List),
        Cast::Url => Some(VarType::Url),
        Cast::Json => Some(VarType::Json),
        Cast::Float => None,
    });
    let text = match default {
        Some(Literal::Text(text)) => Some(text.clone()),
        Some(Literal::Bool(value)) => Some(value.to_string()),
        Some(Literal::Int(value)) => Some(value.to_string()),
        Some(Literal::Float(value)) => Some(value.to_string()),
        _ => None,
    };
    FromCode {
        kind,
        optional: optional || (default.is_some() && text.is_none()),
        default: text,
    }
}

/// The .env file's entries, with what the code says of them, then the names only
/// the code reads.
fn merged(mut file: Vec<Found>, code: Vec<Found>) -> Vec<Found> {
    for read in code {
        match file.iter_mut().find(|entry| entry.name == read.name) {
            Some(entry) => entry.code = read.code,
            None => file.push(read),
        }
    }
    file
}

/// The program's names in the current environment (the system's left out).
fn from_environment(env: &EnvSnapshot) -> Vec<Found> {
    env.iter()
        .filter_map(|(name, value)| {
            let name = name.to_str()?;
            (!is_system_name(name)).then(|| Found {
                name: name.to_owned(),
                value: value.to_str().map(str::to_owned),
                code: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(name: &str, value: &str) -> Found {
        Found {
            name: name.to_owned(),
            value: Some(value.to_owned()),
            code: None,
        }
    }

    #[test]
    fn types_are_inferred_from_values() {
        assert_eq!(infer_type("DATABASE_PORT", "5432"), VarType::Port);
        assert_eq!(infer_type("WORKERS", "4"), VarType::Int);
        assert_eq!(infer_type("DEBUG", "True"), VarType::Bool);
        assert_eq!(infer_type("SITE", "https://example.com"), VarType::Url);
        assert_eq!(infer_type("ADMIN", "ops@example.com"), VarType::Email);
        assert_eq!(infer_type("HOSTS", "a.example,b.example"), VarType::List);
        assert_eq!(infer_type("FLAGS", r#"{"a": 1}"#), VarType::Json);
        assert_eq!(infer_type("NAME", "muejam"), VarType::String);
    }

    #[test]
    fn sensitive_values_are_never_copied() {
        let text = draft(
            &[
                found("API_TOKEN", "tok-canary-123456"),
                found("DATABASE_URL", "postgres://u:pw-canary@db/x"),
                found("STRIPE_KEY", "sk_canary"),
                found("WORKERS", "4"),
            ],
            ".env",
            Some(".env"),
            false,
        );
        assert!(!text.contains("canary"), "{text}");
        assert!(text.contains("example = \"4\""), "{text}");
        crate::schema::from_str("draft.toml", &text).unwrap();
    }

    #[test]
    fn a_credential_shaped_default_in_the_code_is_never_copied() {
        let from_code = |name: &str, default: &str| Found {
            name: name.to_owned(),
            value: None,
            code: Some(FromCode {
                default: Some(default.to_owned()),
                ..FromCode::default()
            }),
        };
        let text = draft(
            &[
                from_code("DATABASE_URL", "postgres://app:pw-canary@db/app"),
                from_code("PAYMENTS", "sk_live_canary"),
                from_code("WORKERS", "4"),
            ],
            "the code",
            None,
            false,
        );
        assert!(!text.contains("canary"), "{text}");
        assert!(text.contains("default = \"4\""), "{text}");
        crate::schema::from_str("draft.toml", &text).unwrap();
    }

    #[test]
    fn secrets_are_found_by_name_and_by_shape() {
        for name in [
            "SMTP_PASS",
            "API_PIN",
            "MFA_SEED",
            "CARD_NUMBER",
            "DB_PWD",
            "STRIPE_APIKEY",
        ] {
            assert!(sensitive_name(name), "{name}");
        }
        for value in [
            "sk_live_abc123",
            "ghp_0123456789abcdef",
            "xoxb-1-2-abc",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
            "AKIAIOSFODNN7EXAMPLE",
            "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
            "https://hooks.slack.com/services/T0/B0/abc",
            "https://key123@o1.ingest.sentry.io/42",
            "postgres://u:pw@db/x",
            r#"{"db": {"password": "x"}}"#,
        ] {
            assert!(sensitive_value(value), "{value}");
        }
        for value in [
            "true",
            "8000",
            "muejam",
            "https://example.com",
            r#"{"beta": true}"#,
        ] {
            assert!(!sensitive_value(value), "{value}");
        }
        // Found by the property test below: a zero-padded port is a long number.
        assert!(public_example(VarType::Port, "8000"));
        assert!(!public_example(VarType::Port, "000001"));
    }

    proptest::proptest! {
        /// Whatever a .env holds under whatever name, a draft copies a value only
        /// when it is a boolean, a port or a number of at most 5 digits under a
        /// name that is not sensitive; every variable says whether it is
        /// sensitive; the draft loads.
        #[test]
        fn a_draft_copies_only_small_public_values(
            entries in proptest::collection::vec(
                (
                    proptest::sample::select(vec!["SMTP_PASS", "API_PIN", "DEBUG", "WORKERS", "DJANGO_PORT", "CARD_NUMBER", "NAME", "MFA_SEED", "TIMEOUT"]),
                    proptest::prop_oneof![
                        proptest::string::string_regex("[0-9]{1,12}").unwrap(),
                        proptest::sample::select(vec!["true".to_owned(), "False".to_owned(), "sk_live_CANARY1".to_owned(), "ghp_CANARY22".to_owned(), "muejam".to_owned()]),
                    ],
                ),
                1..6,
            ),
        ) {
            let mut seen = std::collections::HashSet::new();
            let found: Vec<Found> = entries
                .iter()
                .filter(|(name, _)| seen.insert(*name))
                .map(|(name, value)| found(name, value))
                .collect();
            let text = draft(&found, ".env", Some(".env"), false);
            crate::schema::from_str("draft.toml", &text).unwrap();
            let document: toml::Table = toml::from_str(&text).unwrap();
            for entry in &found {
                let value = entry.value.as_deref().unwrap();
                let table = &document["vars"][entry.name.as_str()];
                proptest::prop_assert!(table.get("sensitive").is_some(), "{}", text);
                if table.get("example").is_some() {
                    proptest::prop_assert!(!is_sensitive(entry), "{} = {}", entry.name, value);
                    proptest::prop_assert!(value.len() <= 5 || value.parse::<i64>().is_err(), "{}", value);
                }
                proptest::prop_assert!(!value.contains("CANARY") || !text.contains(value), "{}", value);
            }
        }
    }
}
