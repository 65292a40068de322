//! Loading a schema: TOML text → [`Schema`], collecting every problem with its span.
//!
//! The text is parsed into toml's spanned document tree, then walked by hand
//! rather than through `#[serde(deny_unknown_fields)]`: serde stops at the first
//! error, and a user fixing a schema wants all of them at once, each with a line,
//! a column and a "did you mean". [`from_str`] is pure; [`from_path`] is the IO edge.

use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use toml::Spanned;

use super::fields::{Allowed, Field, Fields};
use super::tree::{self, Item, Key, Table, Value};

use super::{
    DEFAULT_ENVIRONMENTS, DEFAULT_PARAMETER_NAME, DEFAULT_SECRET_NAME, Delivery, Guard, Layer,
    Pattern, ROTATE_KINDS, RotateKind, RotateSpec, Rules, ScanSettings, Schema, SchemaSource,
    Strategy, VarSpec, VarType,
};
use crate::duration;
use crate::error::{Error, SchemaErrors};
use crate::problem::{Code, Problem};
use crate::rules::check_value;

/// The largest schema envgate reads; a real schema is a few kilobytes.
pub const MAX_SCHEMA_BYTES: u64 = 4 * 1024 * 1024;

/// Keys of the schema's top level.
pub const TOP_KEYS: &[&str] = &["version", "envgate", "groups", "vars"];
/// Keys of `[envgate]`.
pub const ENVGATE_KEYS: &[&str] = &[
    "environments",
    "secret_name",
    "parameter_name",
    "shared_prefixes",
    "guard",
    "scan",
];
/// Keys of `[envgate.scan]`.
pub(super) const SCAN_KEYS: &[&str] = &["ignore", "exclude"];
/// Rule keys (allowed in a variable and in its per-environment overrides).
pub const RULE_KEYS: &[&str] = &[
    "min_length",
    "max_length",
    "min",
    "max",
    "pattern",
    "one_of",
    "forbid",
    "min_unique_chars",
    "min_entropy_bits",
    "schemes",
];
/// Non-rule keys a per-environment override may set.
pub const LAYER_KEYS: &[&str] = &["required", "default", "secret", "parameter", "help"];
/// Keys a variable may set but an override may not.
pub const VAR_ONLY_KEYS: &[&str] = &[
    "description",
    "example",
    "group",
    "type",
    "required_in",
    "sensitive",
    "deliver",
    "binary",
    "deprecated",
    "aliases",
    "rotate",
    "read_by",
    "environments",
];
/// Keys of a variable's `rotate` table.
pub const ROTATE_KEYS: &[&str] = &[
    "kind",
    "every",
    "strategy",
    "admin_secret",
    "ca_file",
    "length",
    "alphabet",
    "prefix",
    "max_fallbacks",
];

/// Keys of the schema's top level, as fields.
static TOP: LazyLock<Allowed> = LazyLock::new(|| Allowed::of(&[TOP_KEYS]));

/// Keys of `[envgate]`, as fields.
static ENVGATE: LazyLock<Allowed> = LazyLock::new(|| Allowed::of(&[ENVGATE_KEYS]));

/// Keys a `[vars.NAME]` table may set.
static VAR: LazyLock<Allowed> =
    LazyLock::new(|| Allowed::of(&[VAR_ONLY_KEYS, LAYER_KEYS, RULE_KEYS]));

/// Keys a per-environment override may set.
static OVERRIDE: LazyLock<Allowed> = LazyLock::new(|| Allowed::of(&[LAYER_KEYS, RULE_KEYS]));

/// Keys of `[envgate.scan]`, as fields.
static SCAN: LazyLock<Allowed> = LazyLock::new(|| Allowed::of(&[SCAN_KEYS]));

/// Keys of a variable's `rotate` table.
static ROTATE: LazyLock<Allowed> = LazyLock::new(|| Allowed::of(&[ROTATE_KEYS]));

/// Reads and loads the schema at `path`.
///
/// # Errors
/// [`Error::SchemaNotFound`] and friends for IO (exit 66), [`Error::SchemaInvalid`]
/// with every problem for a bad schema (exit 65).
pub fn from_path(path: &Path) -> Result<Schema, Error> {
    let name = path.display().to_string();
    let text = crate::fsio::read_regular(path, MAX_SCHEMA_BYTES)
        .map_err(|source| Error::schema_io(path, source, MAX_SCHEMA_BYTES))?;
    let Ok(text) = String::from_utf8(text) else {
        return Err(Error::SchemaInvalid(SchemaErrors::single(
            &name,
            "",
            Problem::error(Code::SchemaSyntax, "the schema is not valid UTF-8 text")
                .help("Save the schema as UTF-8."),
        )));
    };
    from_str(&name, &text).map_err(Error::SchemaInvalid)
}

/// Loads a schema from its text; `name` is how diagnostics refer to it.
///
/// # Errors
/// Every problem found, syntax first, then structure, then contradictions.
pub fn from_str(name: &str, text: &str) -> Result<Schema, SchemaErrors> {
    let source = SchemaSource {
        name: name.to_owned(),
        text: Arc::from(text),
    };
    let document = match tree::parse(text) {
        Ok(document) => document,
        Err(syntax_errors) => {
            let problems = syntax_errors.iter().map(syntax_problem).collect();
            return Err(SchemaErrors { source, problems });
        }
    };
    let mut loader = Loader::default();
    let mut schema = loader.schema(document, source.clone());
    // Diagnostics quote the schema: never a sensitive variable's default.
    let source = masked(source, &loader.default_spans);
    schema.source = source.clone();
    if loader.problems.is_empty() {
        Ok(schema)
    } else {
        Err(SchemaErrors {
            source,
            problems: loader.problems,
        })
    }
}

/// `source` with every byte of `spans` replaced by `*` (offsets unchanged).
fn masked(source: SchemaSource, spans: &[Range<usize>]) -> SchemaSource {
    if spans.is_empty() {
        return source;
    }
    let mut bytes = source.text.as_bytes().to_vec();
    for span in spans {
        if let Some(part) = bytes.get_mut(span.clone()) {
            part.fill(b'*');
        }
    }
    // Whole UTF-8 characters were replaced by ASCII: still valid UTF-8.
    let text = String::from_utf8(bytes).unwrap_or_default();
    SchemaSource {
        name: source.name,
        text: Arc::from(text),
    }
}

fn syntax_problem(error: &toml::de::Error) -> Problem {
    let message = error.message().trim_end().to_owned();
    let problem = Problem::error(Code::SchemaSyntax, format!("invalid TOML: {message}"))
        .help("Fix the TOML syntax at the marked place.");
    match error.span() {
        Some(span) => problem.at(span, "here"),
        None => problem,
    }
}

/// A did-you-mean suggestion for `word` among `candidates`.
pub(crate) fn suggest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

type Entry<'a, 'i> = (
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<Value<'i>>,
);

#[derive(Default)]
struct Loader {
    problems: Vec<Problem>,
    /// Spans of `default` values, kept only for sensitive variables: masked in
    /// the text diagnostics quote.
    default_spans: Vec<Range<usize>>,
    /// Each distinct `pattern` text, compiled once.
    patterns: crate::pattern::Patterns,
}

impl Loader {
    fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// The schema `document` describes (consumed: each variable's part of the
    /// tree is freed once its specification is built).
    fn schema(&mut self, document: Table<'_>, source: SchemaSource) -> Schema {
        let top = self.fields(&document, &TOP, &|| "the schema".to_owned());
        self.version(&top);
        let envgate = self
            .table(&top, Field::Envgate)
            .map(|table| self.fields(table, &ENVGATE, &|| "[envgate]".to_owned()));
        let envgate = envgate.as_ref();
        let environments = envgate
            .and_then(|table| self.string_list(table, Field::Environments))
            .map_or_else(
                || {
                    DEFAULT_ENVIRONMENTS
                        .iter()
                        .map(|env| (*env).to_owned())
                        .collect()
                },
                |list| list.into_iter().map(Spanned::into_inner).collect(),
            );
        let secret_name = envgate
            .and_then(|table| self.string(table, Field::SecretName))
            .map_or_else(|| DEFAULT_SECRET_NAME.to_owned(), Spanned::into_inner);
        let parameter_name = envgate
            .and_then(|table| self.string(table, Field::ParameterName))
            .map_or_else(|| DEFAULT_PARAMETER_NAME.to_owned(), Spanned::into_inner);
        let shared_prefixes = envgate
            .and_then(|table| self.string_list(table, Field::SharedPrefixes))
            .map(|list| list.into_iter().map(Spanned::into_inner).collect())
            .unwrap_or_default();
        let guard = envgate.map_or(Guard::Prefix, |table| self.guard(table));
        let scan = envgate.map(|table| self.scan(table)).unwrap_or_default();
        for (field, convention, default) in [
            (Field::SecretName, &secret_name, DEFAULT_SECRET_NAME),
            (
                Field::ParameterName,
                &parameter_name,
                DEFAULT_PARAMETER_NAME,
            ),
        ] {
            if guard == Guard::Prefix
                && !convention.contains("{environment}")
                && let Some(span) = envgate
                    .and_then(|table| table.get(field))
                    .map(|(_, value)| value.span())
            {
                let key = field.name();
                self.push(
                    Problem::error(
                        Code::SchemaInvalidValue,
                        format!("`{key} = \"{convention}\"` has no `{{environment}}`: every environment would read and write the same values"),
                    )
                    .at(span, "no {environment}")
                    .help(format!("Put `{{environment}}` in the convention (the default is `{default}`), or, when each environment is in its own AWS account and IAM keeps them apart, say `guard = \"none\"` in [envgate].")),
                );
            }
        }
        let groups = self.groups(&top);
        let mut schema = Schema {
            source,
            environments,
            secret_name,
            parameter_name,
            shared_prefixes,
            guard,
            scan,
            groups,
            vars: Vec::new(),
            index: std::collections::HashMap::new(),
        };
        let vars_position = top.position(Field::Vars);
        let vars =
            vars_position.and_then(|position| document.into_entries().into_iter().nth(position));
        schema.vars = self.vars(vars, &schema);
        schema.index = (schema.vars.iter().enumerate())
            .map(|(position, var)| (var.name.clone(), position))
            .collect();
        self.cross_checks(&schema);
        schema
    }

    fn version(&mut self, document: &Fields<'_, '_>) {
        let Some((key, value)) = document.get(Field::Version) else {
            return;
        };
        let is_one = matches!(value.get_ref(), Value::Integer(int) if int.as_str() == "1");
        if !is_one {
            self.push(
                Problem::error(Code::SchemaInvalidValue, "unsupported schema version")
                    .at(span_of(key, value), "this envgate reads version 1")
                    .help("Write `version = 1`."),
            );
        }
    }

    fn groups(&mut self, document: &Fields<'_, '_>) -> Vec<(String, String)> {
        let Some(table) = self.table(document, Field::Groups) else {
            return Vec::new();
        };
        let mut groups = Vec::new();
        for (key, value) in table.iter() {
            match value.get_ref().as_str() {
                Some(title) => groups.push((key.get_ref().to_string(), title.to_owned())),
                None => self.wrong_type(key, value, "a string (the group's title)"),
            }
        }
        groups
    }

    fn vars(&mut self, vars: Option<(Key<'_>, Item<'_>)>, schema: &Schema) -> Vec<VarSpec> {
        let Some((key, value)) = vars else {
            self.push(
                Problem::error(Code::SchemaEmpty, "the schema declares no variables")
                    .help("Declare each variable the program needs as a `[vars.NAME]` table."),
            );
            return Vec::new();
        };
        let span = value.span();
        let table = match value.into_inner() {
            Value::Table(table) => table,
            other => {
                self.wrong_type(&key, &Spanned::new(span, other), "a table of variables");
                return Vec::new();
            }
        };
        if table.is_empty() {
            self.push(
                Problem::error(Code::SchemaEmpty, "the schema declares no variables")
                    .at(key.span(), "empty")
                    .help("Declare each variable the program needs as a `[vars.NAME]` table."),
            );
        }
        // Sized up front: a variable's specification is several hundred bytes, and a
        // growing vector of 10,000 would hold two copies at its peak.
        let mut vars = Vec::with_capacity(table.len());
        vars.extend(
            table
                .into_entries()
                .into_iter()
                .filter_map(|(key, value)| self.var((&key, &value), schema)),
        );
        vars
    }

    fn var(&mut self, (key, value): Entry<'_, '_>, schema: &Schema) -> Option<VarSpec> {
        let name = key.get_ref().to_string();
        let defaults_before = self.default_spans.len();
        if !is_env_name(&name) {
            self.push(
                Problem::error(
                    Code::SchemaInvalidName,
                    format!("`{name}` is not a valid environment variable name"),
                )
                .var(&name)
                .at(key.span(), "invalid name")
                .help("Use letters, digits and underscores, not starting with a digit."),
            );
        }
        let Some(table) = value.get_ref().as_table() else {
            self.wrong_type(key, value, "a table of the variable's settings");
            return None;
        };
        let table = &self.fields(table, &VAR, &|| format!("[vars.{name}]"));
        let kind = self.var_type(table, &name);
        let mut var = VarSpec {
            span: key.span(),
            description: self
                .string(table, Field::Description)
                .map(|text| text.into_inner().into_boxed_str()),
            example: self
                .scalar_text(table, Field::Example)
                .map(|text| text.into_inner().into_boxed_str()),
            group: self.group(table, schema).map(String::into_boxed_str),
            kind,
            required_in: self.required_in(table, schema).map(Vec::into_boxed_slice),
            sensitive: false,
            deliver: self.deliver(table),
            binary_base64: self.binary(table),
            deprecated: self.deprecated(table).map(String::into_boxed_str),
            aliases: self.aliases(table).into_boxed_slice(),
            read_by: self
                .string_list(table, Field::ReadBy)
                .map(|list| list.into_iter().map(Spanned::into_inner).collect())
                .unwrap_or_default(),
            rotate: self.rotate(table).map(Box::new),
            base: self.layer(table),
            overrides: self.overrides(table, schema, &name),
            name,
        };
        // Secure default: what is read from a secret store, rotated or delivered
        // as a file is sensitive unless the schema writes `sensitive = false`.
        let implied = var.base.secret.is_some()
            || var
                .overrides
                .iter()
                .any(|(_, layer)| layer.secret.is_some())
            || var.rotate.is_some()
            || var.deliver == Delivery::File;
        var.sensitive = self.bool(table, Field::Sensitive).unwrap_or(implied);
        if !var.sensitive {
            self.default_spans.truncate(defaults_before);
        }
        Some(var)
    }

    fn var_type(&mut self, table: &Fields<'_, '_>, name: &str) -> VarType {
        let Some(text) = self.borrowed_string(table, Field::Type) else {
            return VarType::String;
        };
        if let Some(kind) = VarType::parse(text.get_ref()) {
            return kind;
        }
        let names = VarType::ALL.iter().map(|kind| kind.as_str());
        let help = match suggest(text.get_ref(), names) {
            Some(best) => format!("Did you mean `{best}`?"),
            None => format!("Known types: {}.", type_names()),
        };
        self.push(
            Problem::error(
                Code::SchemaUnknownType,
                format!("unknown type `{}` for {name}", text.get_ref()),
            )
            .var(name)
            .at(text.span(), "unknown type")
            .help(help),
        );
        VarType::String
    }

    fn group(&mut self, table: &Fields<'_, '_>, schema: &Schema) -> Option<String> {
        let group = self.string(table, Field::Group)?;
        let known = schema.groups.iter().map(|(key, _)| key.as_str());
        if !schema.groups.iter().any(|(key, _)| key == group.get_ref()) {
            let help = match suggest(group.get_ref(), known) {
                Some(best) => format!("Did you mean `{best}`? Or add it to `[groups]`."),
                None => "Add it to `[groups]`, or use one of the groups declared there.".to_owned(),
            };
            self.push(
                Problem::error(
                    Code::SchemaUnknownGroup,
                    format!("unknown group `{}`", group.get_ref()),
                )
                .at(group.span(), "not in [groups]")
                .help(help),
            );
        }
        Some(group.into_inner())
    }

    fn required_in(&mut self, table: &Fields<'_, '_>, schema: &Schema) -> Option<Vec<String>> {
        let list = self.string_list(table, Field::RequiredIn)?;
        for env in &list {
            self.known_environment(env, schema);
        }
        Some(list.into_iter().map(Spanned::into_inner).collect())
    }

    fn known_environment(&mut self, env: &Spanned<String>, schema: &Schema) -> bool {
        if schema.has_environment(env.get_ref()) {
            return true;
        }
        let known = schema.environments.iter().map(String::as_str);
        let help = match suggest(env.get_ref(), known) {
            Some(best) => format!("Did you mean `{best}`?"),
            None => format!(
                "Declared environments: {}. Add it to `[envgate].environments` to use it.",
                schema.environments.join(", ")
            ),
        };
        self.push(
            Problem::error(
                Code::SchemaUnknownEnvironment,
                format!("unknown environment `{}`", env.get_ref()),
            )
            .at(env.span(), "not in [envgate].environments")
            .help(help),
        );
        false
    }

    fn deliver(&mut self, table: &Fields<'_, '_>) -> Delivery {
        let Some(text) = self.borrowed_string(table, Field::Deliver) else {
            return Delivery::Env;
        };
        match *text.get_ref() {
            "env" => Delivery::Env,
            "file" => Delivery::File,
            other => {
                self.push(
                    Problem::error(
                        Code::SchemaInvalidValue,
                        format!("unknown delivery `{other}`"),
                    )
                    .at(text.span(), "expected `env` or `file`")
                    .help("Use `deliver = \"env\"` (default) or `deliver = \"file\"`."),
                );
                Delivery::Env
            }
        }
    }

    fn binary(&mut self, table: &Fields<'_, '_>) -> bool {
        let Some(text) = self.borrowed_string(table, Field::Binary) else {
            return false;
        };
        if *text.get_ref() != "base64" {
            self.push(
                Problem::error(
                    Code::SchemaInvalidValue,
                    format!("unknown binary encoding `{}`", text.get_ref()),
                )
                .at(text.span(), "expected `base64`")
                .help(
                    "Write `binary = \"base64\"` to receive a SecretBinary secret base64-encoded.",
                ),
            );
        }
        true
    }

    fn deprecated(&mut self, table: &Fields<'_, '_>) -> Option<String> {
        let (key, value) = table.get(Field::Deprecated)?;
        match value.get_ref() {
            Value::Boolean(true) => Some(String::new()),
            Value::Boolean(false) => None,
            Value::String(message) => Some(message.to_string()),
            _ => {
                self.wrong_type(key, value, "true or a message");
                None
            }
        }
    }

    fn aliases(&mut self, table: &Fields<'_, '_>) -> Vec<String> {
        let Some(list) = self.string_list(table, Field::Aliases) else {
            return Vec::new();
        };
        for alias in &list {
            if !is_env_name(alias.get_ref()) {
                self.push(
                    Problem::error(
                        Code::SchemaInvalidName,
                        format!(
                            "alias `{}` is not a valid environment variable name",
                            alias.get_ref()
                        ),
                    )
                    .at(alias.span(), "invalid name")
                    .help("Use letters, digits and underscores, not starting with a digit."),
                );
            }
        }
        list.into_iter().map(Spanned::into_inner).collect()
    }

    /// `[envgate] guard`: `"prefix"` (the default) or `"none"`.
    fn guard(&mut self, table: &Fields<'_, '_>) -> Guard {
        match self.string(table, Field::Guard) {
            None => Guard::Prefix,
            Some(text) if text.get_ref() == "prefix" => Guard::Prefix,
            Some(text) if text.get_ref() == "none" => Guard::None,
            Some(text) => {
                self.push(
                    Problem::error(
                        Code::SchemaInvalidValue,
                        format!("unknown guard `{}`", text.get_ref()),
                    )
                    .at(text.span(), "unknown guard")
                    .help("Use `guard = \"prefix\"` (the default: names carry the environment) or `guard = \"none\"` (each environment in its own AWS account)."),
                );
                Guard::Prefix
            }
        }
    }

    fn rotate(&mut self, table: &Fields<'_, '_>) -> Option<RotateSpec> {
        let rotate = self.table(table, Field::Rotate)?;
        let rotate = &self.fields(rotate, &ROTATE, &|| "rotate".to_owned());
        let kind = match self.string(rotate, Field::Kind) {
            Some(kind) if RotateKind::parse(kind.get_ref()).is_some() => {
                RotateKind::parse(kind.get_ref())
            }
            Some(kind) => {
                let help = match suggest(kind.get_ref(), ROTATE_KINDS.iter().copied()) {
                    Some(best) => format!("Did you mean `{best}`?"),
                    None => format!("Known kinds: {}.", ROTATE_KINDS.join(", ")),
                };
                self.push(
                    Problem::error(
                        Code::SchemaInvalidValue,
                        format!("unknown rotation kind `{}`", kind.get_ref()),
                    )
                    .at(kind.span(), "unknown kind")
                    .help(help),
                );
                None
            }
            None => {
                let span = table
                    .get(Field::Rotate)
                    .map(|(key, _)| key.span())
                    .unwrap_or(0..0);
                self.push(
                    Problem::error(Code::SchemaInvalidValue, "`rotate` needs a `kind`")
                        .at(span, "no kind")
                        .help(format!(
                            "Set `kind` to one of: {}.",
                            ROTATE_KINDS.join(", ")
                        )),
                );
                None
            }
        };
        let strategy = self.strategy(rotate, kind);
        let every_text = self.string(rotate, Field::Every);
        let every = every_text
            .as_ref()
            .and_then(|text| match duration::parse(text.get_ref()) {
                Ok(every) => Some(every),
                Err(why) => {
                    self.push(
                        Problem::error(
                            Code::SchemaInvalidValue,
                            format!("`every` is not a duration: {why}"),
                        )
                        .at(text.span(), "not a duration")
                        .help("Write a duration such as `90d`, `12w` or `365d`."),
                    );
                    None
                }
            });
        Some(RotateSpec {
            kind: kind?,
            every,
            every_text: every_text.map(Spanned::into_inner),
            strategy,
            admin_secret: self
                .string(rotate, Field::AdminSecret)
                .map(Spanned::into_inner),
            ca_file: self.string(rotate, Field::CaFile).map(Spanned::into_inner),
            length: self.count(rotate, Field::Length),
            alphabet: self
                .string(rotate, Field::Alphabet)
                .map(Spanned::into_inner),
            prefix: self.string(rotate, Field::Prefix).map(Spanned::into_inner),
            max_fallbacks: self.count(rotate, Field::MaxFallbacks),
        })
    }

    /// `rotate.strategy`: a known strategy, and only for `postgres`.
    fn strategy(&mut self, rotate: &Fields<'_, '_>, kind: Option<RotateKind>) -> Option<Strategy> {
        let text = self.string(rotate, Field::Strategy)?;
        let names = Strategy::ALL.map(Strategy::as_str);
        let Some(strategy) = Strategy::parse(text.get_ref()) else {
            let help = match suggest(text.get_ref(), names.iter().copied()) {
                Some(best) => format!("Did you mean `{best}`?"),
                None => format!("Known strategies: {}.", names.join(", ")),
            };
            self.push(
                Problem::error(
                    Code::SchemaInvalidValue,
                    format!("unknown rotation strategy `{}`", text.get_ref()),
                )
                .at(text.span(), "unknown strategy")
                .help(help),
            );
            return None;
        };
        if kind.is_some_and(|kind| kind != RotateKind::Postgres) {
            self.push(
                Problem::error(
                    Code::SchemaInvalidValue,
                    "`strategy` applies to `kind = \"postgres\"` only",
                )
                .at(text.span(), "not a postgres rotation")
                .help("Remove `strategy`; api-key and django-secret-key rotations have one way."),
            );
        }
        Some(strategy)
    }

    fn overrides(
        &mut self,
        table: &Fields<'_, '_>,
        schema: &Schema,
        name: &str,
    ) -> Vec<(String, Layer)> {
        let Some(environments) = self.table(table, Field::Environments) else {
            return Vec::new();
        };
        let mut overrides = Vec::new();
        for (key, value) in environments.iter() {
            let env = Spanned::new(key.span(), key.get_ref().to_string());
            self.known_environment(&env, schema);
            let Some(layer_table) = value.get_ref().as_table() else {
                self.wrong_type(key, value, "a table of rules for that environment");
                continue;
            };
            let layer_table = self.fields(layer_table, &OVERRIDE, &|| {
                format!("[vars.{name}.environments.{}]", env.get_ref())
            });
            overrides.push((env.into_inner(), self.layer(&layer_table)));
        }
        overrides
    }

    fn layer(&mut self, table: &Fields<'_, '_>) -> Layer {
        Layer {
            required: self.bool(table, Field::Required),
            default: self.scalar_text(table, Field::Default).map(|default| {
                self.default_spans.push(default.span());
                default.into_inner().into_boxed_str()
            }),
            secret: self.secret(table).map(String::into_boxed_str),
            parameter: self.parameter(table).map(String::into_boxed_str),
            help: self
                .string(table, Field::Help)
                .map(|text| text.into_inner().into_boxed_str()),
            rules: self.rules(table),
        }
    }

    fn secret(&mut self, table: &Fields<'_, '_>) -> Option<String> {
        let text = self.string(table, Field::Secret)?;
        let path = text.get_ref().split('#').next().unwrap_or_default();
        if path.is_empty() {
            self.push(
                Problem::error(Code::SchemaInvalidValue, "a secret reference needs a secret name")
                    .at(text.span(), "empty name")
                    .help("Write `path#json_key` (e.g. `database/primary#password`), a bare `path`, or a full ARN."),
            );
        }
        Some(text.into_inner())
    }

    /// `[envgate.scan]`: names and globs `envgate scan` leaves alone.
    fn scan(&mut self, envgate: &Fields<'_, '_>) -> ScanSettings {
        let Some(table) = self.table(envgate, Field::Scan) else {
            return ScanSettings::default();
        };
        let table = &self.fields(table, &SCAN, &|| "[envgate.scan]".to_owned());
        let list = |loader: &mut Self, field| {
            loader
                .string_list(table, field)
                .map(|list| list.into_iter().map(Spanned::into_inner).collect())
                .unwrap_or_default()
        };
        ScanSettings {
            ignore: list(self, Field::Ignore),
            exclude: list(self, Field::Exclude),
        }
    }

    fn parameter(&mut self, table: &Fields<'_, '_>) -> Option<String> {
        let text = self.string(table, Field::Parameter)?;
        if table.get(Field::Secret).is_some() {
            self.push(
                Problem::error(Code::SchemaInvalidValue, "a variable reads either a secret or a parameter, not both")
                    .at(text.span(), "parameter here")
                    .help("Keep `secret` for a value in Secrets Manager, or `parameter` for one in Parameter Store."),
            );
        }
        if let Err(why) = super::parameter::check_reference(text.get_ref()) {
            self.push(
                Problem::error(Code::SchemaInvalidValue, format!("invalid parameter reference: {why}"))
                    .at(text.span(), "invalid parameter")
                    .help("Write a name such as `app/DB_HOST` (the convention adds the environment), a full name such as `/production/app/DB_HOST`, optionally pinned with `:3` (a version) or `:blue` (a label)."),
            );
        }
        Some(text.into_inner())
    }

    fn rules(&mut self, table: &Fields<'_, '_>) -> Rules {
        Rules {
            min_length: self.count(table, Field::MinLength),
            max_length: self.count(table, Field::MaxLength),
            min: self.int(table, Field::Min),
            max: self.int(table, Field::Max),
            pattern: self.pattern(table),
            one_of: self
                .text_list(table, Field::OneOf)
                .map(Vec::into_boxed_slice),
            forbid: self
                .string_list(table, Field::Forbid)
                .map(|list| list.into_iter().map(Spanned::into_inner).collect()),
            min_unique_chars: self.count(table, Field::MinUniqueChars),
            min_entropy_bits: self.entropy_bits(table),
            schemes: self.string_list(table, Field::Schemes).map(|list| {
                list.into_iter()
                    .map(|s| s.into_inner().to_ascii_lowercase())
                    .collect()
            }),
        }
    }

    fn pattern(&mut self, table: &Fields<'_, '_>) -> Option<Pattern> {
        let text = self.borrowed_string(table, Field::Pattern)?;
        match self.patterns.compile(text.get_ref()) {
            Ok(pattern) => Some(pattern),
            Err(error) => {
                let last = if let regex::Error::CompiledTooBig(limit) = &error {
                    format!(
                        "the pattern is too large once compiled (over {} KiB); use smaller repetition counts or ASCII classes such as [A-Za-z0-9_] instead of \\w",
                        limit / 1024
                    )
                } else {
                    let detail = error.to_string();
                    detail.lines().last().unwrap_or_default().trim().to_owned()
                };
                self.push(
                    Problem::error(Code::SchemaInvalidRegex, format!("invalid regular expression: {last}"))
                        .at(text.span(), "invalid pattern")
                        .help("Patterns use Rust regex syntax (no look-around or back-references) and match the whole value."),
                );
                None
            }
        }
    }

    /// Contradictions that need the whole variable: run per environment layer.
    fn cross_checks(&mut self, schema: &Schema) {
        for var in &schema.vars {
            self.type_rule_fit(var);
            self.required_with_default(var);
            self.layer_contradictions(var, "", &var.base);
            for (env, _) in &var.overrides {
                self.layer_contradictions(var, env, &var.layer_for(env));
            }
        }
    }

    /// `required_in` naming an environment where a default applies: the variable
    /// could never be missing there, which is not what `required_in` says.
    fn required_with_default(&mut self, var: &VarSpec) {
        let Some(required_in) = &var.required_in else {
            return;
        };
        let defaulted: Vec<&str> = required_in
            .iter()
            .filter(|env| var.layer_for(env).default.is_some())
            .map(String::as_str)
            .collect();
        if !defaulted.is_empty() {
            self.contradiction(
                var,
                format!(
                    "{} is required in {} by `required_in`, but has a default there, so it can never be missing",
                    var.name,
                    defaulted.join(", ")
                ),
                "Remove the default (or move it into the environments that do not require a value), or drop those environments from `required_in`.",
            );
        }
    }

    fn type_rule_fit(&mut self, var: &VarSpec) {
        let layers = std::iter::once(&var.base).chain(var.overrides.iter().map(|(_, layer)| layer));
        for layer in layers {
            let rules = &layer.rules;
            if (rules.min.is_some() || rules.max.is_some()) && !var.kind.is_numeric() {
                self.contradiction(
                    var,
                    format!(
                        "`min`/`max` apply to int and port variables, and {} is a {}",
                        var.name, var.kind
                    ),
                    "Use `min_length`/`max_length` for text, or set `type = \"int\"`.",
                );
            }
            if rules.schemes.is_some() && var.kind != VarType::Url {
                self.contradiction(
                    var,
                    format!(
                        "`schemes` applies to url variables, and {} is a {}",
                        var.name, var.kind
                    ),
                    "Set `type = \"url\"`, or remove `schemes`.",
                );
            }
        }
    }

    fn layer_contradictions(&mut self, var: &VarSpec, env: &str, layer: &Layer) {
        let rules = &layer.rules;
        let place = if env.is_empty() {
            String::new()
        } else {
            format!(" in {env}")
        };
        if let (Some(min), Some(max)) = (rules.min_length, rules.max_length)
            && min > max
        {
            self.contradiction(
                var,
                format!(
                    "{}{place}: min_length ({min}) is greater than max_length ({max})",
                    var.name
                ),
                "No value can satisfy both; lower `min_length` or raise `max_length`.",
            );
        }
        if let (Some(min), Some(max)) = (rules.min, rules.max)
            && min > max
        {
            self.contradiction(
                var,
                format!(
                    "{}{place}: min ({min}) is greater than max ({max})",
                    var.name
                ),
                "No value can satisfy both; lower `min` or raise `max`.",
            );
        }
        if let Some(default) = &layer.default {
            let violations = check_value(var.kind, rules, default, var.sensitive);
            for violation in violations {
                self.push(
                    Problem::error(
                        Code::SchemaBadDefault,
                        format!(
                            "the default of {}{place} fails its own rules: {}",
                            var.name, violation.message
                        ),
                    )
                    .var(&var.name)
                    .at(var.span.clone(), "declared here")
                    .help("Change the default so it passes the variable's rules, or remove it."),
                );
            }
        }
    }

    fn contradiction(&mut self, var: &VarSpec, message: String, help: &str) {
        self.push(
            Problem::error(Code::SchemaContradiction, message)
                .var(&var.name)
                .at(var.span.clone(), "declared here")
                .help(help),
        );
    }

    // ---- typed field readers: each reports a wrong TOML type and returns None ----

    /// The `allowed` fields of `table`; reports every other key, with `context`
    /// naming the table (built only when there is something to report).
    fn fields<'a, 'i>(
        &mut self,
        table: &'a Table<'i>,
        allowed: &Allowed,
        context: &dyn Fn() -> String,
    ) -> Fields<'a, 'i> {
        let (fields, unknown) = Fields::read(table, allowed);
        for key in unknown {
            let name = key.get_ref().as_ref();
            let help = match suggest(name, allowed.names.iter().copied()) {
                Some(best) => format!("Did you mean `{best}`?"),
                None => format!("Known keys here: {}.", allowed.names.join(", ")),
            };
            self.push(
                Problem::error(
                    Code::SchemaUnknownKey,
                    format!("unknown key `{name}` in {}", context()),
                )
                .at(key.span(), "unknown key")
                .help(help),
            );
        }
        fields
    }

    fn wrong_type(
        &mut self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        value: &Spanned<Value<'_>>,
        expected: &str,
    ) {
        self.push(
            Problem::error(
                Code::SchemaWrongType,
                format!(
                    "`{}` must be {expected}, not {}",
                    key.get_ref(),
                    value.get_ref().type_str()
                ),
            )
            .at(value.span(), format!("expected {expected}"))
            .help(format!("Write `{}` as {expected}.", key.get_ref())),
        );
    }

    fn table<'a, 'i>(&mut self, table: &Fields<'a, 'i>, field: Field) -> Option<&'a Table<'i>> {
        let (found_key, value) = table.get(field)?;
        let inner = value.get_ref().as_table();
        if inner.is_none() {
            self.wrong_type(found_key, value, "a table");
        }
        inner
    }

    fn string(&mut self, table: &Fields<'_, '_>, field: Field) -> Option<Spanned<String>> {
        self.borrowed_string(table, field)
            .map(|text| Spanned::new(text.span(), (*text.get_ref()).to_owned()))
    }

    /// [`Loader::string`] without a copy, for text that is only looked at.
    fn borrowed_string<'a>(
        &mut self,
        table: &Fields<'a, '_>,
        field: Field,
    ) -> Option<Spanned<&'a str>> {
        let (found_key, value) = table.get(field)?;
        if let Value::String(text) = value.get_ref() {
            Some(Spanned::new(value.span(), text.as_ref()))
        } else {
            self.wrong_type(found_key, value, "a string");
            None
        }
    }

    fn scalar_text(&mut self, table: &Fields<'_, '_>, field: Field) -> Option<Spanned<String>> {
        let (found_key, value) = table.get(field)?;
        let text = scalar_to_text(value.get_ref());
        if text.is_none() {
            self.wrong_type(found_key, value, "a string, number or boolean");
        }
        text.map(|text| Spanned::new(value.span(), text))
    }

    fn bool(&mut self, table: &Fields<'_, '_>, field: Field) -> Option<bool> {
        let (found_key, value) = table.get(field)?;
        let flag = value.get_ref().as_bool();
        if flag.is_none() {
            self.wrong_type(found_key, value, "true or false");
        }
        flag
    }

    fn int(&mut self, table: &Fields<'_, '_>, field: Field) -> Option<i64> {
        let (found_key, value) = table.get(field)?;
        let number = match value.get_ref() {
            Value::Integer(int) => i64::from_str_radix(int.as_str(), int.radix()).ok(),
            _ => None,
        };
        if number.is_none() {
            self.wrong_type(found_key, value, "an integer");
        }
        number
    }

    fn count(&mut self, table: &Fields<'_, '_>, field: Field) -> Option<usize> {
        let (found_key, value) = table.get(field)?;
        let number = match value.get_ref() {
            Value::Integer(int) => usize::from_str_radix(int.as_str(), int.radix()).ok(),
            _ => None,
        };
        if number.is_none() {
            self.wrong_type(found_key, value, "a non-negative integer");
        }
        number
    }

    /// `min_entropy_bits`: a finite number, zero or more (`nan` or `-inf` would
    /// switch the rule off).
    fn entropy_bits(&mut self, table: &Fields<'_, '_>) -> Option<f64> {
        let bits = self.number(table, Field::MinEntropyBits)?;
        if bits.is_finite() && bits >= 0.0 {
            return Some(bits);
        }
        let (key, value) = table.get(Field::MinEntropyBits)?;
        self.push(
            Problem::error(
                Code::SchemaInvalidValue,
                format!(
                    "min_entropy_bits must be a finite number of bits, zero or more (got {bits})"
                ),
            )
            .at(span_of(key, value), "not a usable number of bits")
            .help("Write a number such as 128; Django's generated keys carry about 280 bits."),
        );
        None
    }

    fn number(&mut self, table: &Fields<'_, '_>, field: Field) -> Option<f64> {
        let (found_key, value) = table.get(field)?;
        let number = match value.get_ref() {
            Value::Integer(int) => i32::from_str_radix(int.as_str(), int.radix())
                .ok()
                .map(f64::from),
            Value::Float(float) => float.replace('_', "").parse().ok(),
            _ => None,
        };
        if number.is_none() {
            self.wrong_type(found_key, value, "a number");
        }
        number
    }

    fn string_list(
        &mut self,
        table: &Fields<'_, '_>,
        field: Field,
    ) -> Option<Vec<Spanned<String>>> {
        let (found_key, value) = table.get(field)?;
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(found_key, value, "an array of strings");
            return None;
        };
        let mut list = Vec::new();
        for item in array {
            match item.get_ref().as_str() {
                Some(text) => list.push(Spanned::new(item.span(), text.to_owned())),
                None => self.wrong_type(found_key, item, "an array of strings"),
            }
        }
        Some(list)
    }

    fn text_list(&mut self, table: &Fields<'_, '_>, field: Field) -> Option<Vec<String>> {
        let (found_key, value) = table.get(field)?;
        let Some(array) = value.get_ref().as_array() else {
            self.wrong_type(found_key, value, "an array");
            return None;
        };
        let mut list = Vec::new();
        for item in array {
            match scalar_to_text(item.get_ref()) {
                Some(text) => list.push(text),
                None => {
                    self.wrong_type(found_key, item, "an array of strings, numbers or booleans");
                }
            }
        }
        Some(list)
    }
}

fn span_of(key: &Spanned<std::borrow::Cow<'_, str>>, value: &Spanned<Value<'_>>) -> Range<usize> {
    key.span().start..value.span().end
}

fn scalar_to_text(value: &Value<'_>) -> Option<String> {
    match value {
        Value::String(text) => Some(text.to_string()),
        Value::Integer(int) => i64::from_str_radix(int.as_str(), int.radix())
            .ok()
            .map(|n| n.to_string()),
        Value::Float(float) => Some(float.to_string()),
        Value::Boolean(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn type_names() -> String {
    VarType::ALL
        .iter()
        .map(|kind| kind.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// True for a portable environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
#[must_use]
pub fn is_env_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes
        .first()
        .is_some_and(|&first| first.is_ascii_alphabetic() || first == b'_')
        && bytes
            .iter()
            .all(|&byte| byte.is_ascii_alphanumeric() || byte == b'_')
}
