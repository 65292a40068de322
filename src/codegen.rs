//! `envgate codegen python`: a typed Python module from the schema, standard
//! library only, that reads `os.environ` once at import and converts each value
//! exactly as envgate validated it. The boolean words, the list splitting, the
//! whitespace trimmed and the duration units come from the validator's own
//! tables ([`crate::rules::TRUE_WORDS`], [`crate::duration::UNITS`], …), so the
//! two cannot drift; a property test feeds the same values to both.
//!
//! Pure: schema in, module text out.

use std::collections::HashSet;
use std::fmt::Write as _;

use crate::rules::VarType;
use crate::schema::{Schema, VarSpec};

/// Python's keywords: a variable named like one becomes `NAME_`.
const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// The module for `schema`.
#[must_use]
pub fn python(schema: &Schema) -> String {
    let mut out = header();
    out.push_str(&class(schema));
    out.push_str(
        "\n\nenv = Env()\n\"\"\"The environment, read and converted once, at import.\"\"\"\n",
    );
    out
}

/// A Python string literal (JSON's escapes are Python's).
fn literal(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// The whitespace Rust's `str::trim` removes (Unicode's White_Space), as a
/// Python string literal for `str.strip`.
fn rust_whitespace() -> String {
    let mut escaped = String::from("\"");
    for c in (0..=0x3000u32)
        .filter_map(char::from_u32)
        .filter(|c| c.is_whitespace())
    {
        let _ = write!(escaped, "\\u{:04x}", u32::from(c));
    }
    escaped.push('"');
    escaped
}

fn words(list: &[&str]) -> String {
    list.iter()
        .map(|word| literal(word))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The module's head: docstring, imports and the converters, from
/// `codegen/runtime.py` with the validator's tables filled in.
fn header() -> String {
    let units = crate::duration::UNITS
        .iter()
        .map(|(unit, seconds)| format!("{}: {}", literal(unit), seconds * 1000))
        .chain(std::iter::once(format!("{}: 1", literal("ms"))))
        .collect::<Vec<_>>()
        .join(", ");
    RUNTIME
        .replace("@TRUE_WORDS@", &words(crate::rules::TRUE_WORDS))
        .replace("@FALSE_WORDS@", &words(crate::rules::FALSE_WORDS))
        .replace("@WHITESPACE@", &rust_whitespace())
        .replace("@MILLIS_PER_UNIT@", &units)
}

/// The Python the module starts with; `@NAME@` marks a table filled in from Rust.
const RUNTIME: &str = include_str!("codegen/runtime.py");

/// The Python type and converter of a variable's type.
fn python_type(var: &VarSpec) -> (&'static str, Option<&'static str>) {
    match var.kind {
        VarType::Int => ("int", Some("_to_int")),
        VarType::Port => ("int", Some("_to_port")),
        VarType::Bool => ("bool", Some("_to_bool")),
        VarType::List => ("list[str]", Some("_to_list")),
        VarType::Json => ("typing.Any", Some("_to_json")),
        VarType::Duration => ("datetime.timedelta", Some("_to_duration")),
        _ if var.sensitive => ("Secret", None),
        _ => ("str", None),
    }
}

/// Attribute names: the variable's, or `NAME_` for a Python keyword or a name
/// that starts with two underscores; never two alike.
fn attribute_names(schema: &Schema) -> Vec<String> {
    let mut taken: HashSet<String> = schema.vars.iter().map(|var| var.name.clone()).collect();
    schema
        .vars
        .iter()
        .map(|var| {
            let name = &var.name;
            if !PYTHON_KEYWORDS.contains(&name.as_str()) && !name.starts_with("__") {
                return name.clone();
            }
            let mut renamed = format!("{name}_");
            while taken.contains(&renamed) {
                renamed.push('_');
            }
            taken.insert(renamed.clone());
            renamed
        })
        .collect()
}

/// Per environment: (required, default) of `var`; a sensitive default is never copied.
fn per_environment(schema: &Schema, var: &VarSpec) -> Vec<(String, bool, Option<String>)> {
    schema
        .environments
        .iter()
        .map(|environment| {
            let layer = var.layer_for(environment);
            let default = layer
                .default
                .as_deref()
                .filter(|_| !var.sensitive)
                .map(str::to_owned);
            (
                environment.clone(),
                var.is_required_in(environment),
                default,
            )
        })
        .collect()
}

fn class(schema: &Schema) -> String {
    let names = attribute_names(schema);
    let mut body = String::new();
    let mut init = String::new();
    for (var, attribute) in schema.vars.iter().zip(&names) {
        let (kind, convert) = python_type(var);
        let layers = per_environment(schema, var);
        let always_there = layers
            .iter()
            .all(|(_, required, default)| *required || default.is_some())
            && !(var.sensitive && var.base.default.is_some());
        let annotation = if always_there {
            kind.to_owned()
        } else {
            format!("{kind} | None")
        };
        let _ = writeln!(body, "    {attribute}: {annotation}");
        let mut doc = var.description.as_deref().unwrap_or("").trim().to_owned();
        if var.sensitive && var.base.default.is_some() {
            doc.push_str(
                " (Its schema default is sensitive and not copied here: under envgate it is set.)",
            );
        }
        if attribute != &var.name {
            let _ = write!(doc, " (The variable {}.)", var.name);
        }
        if !doc.trim().is_empty() {
            let _ = writeln!(
                body,
                "    \"\"\"{}\"\"\"\n",
                doc.trim()
                    .replace('\\', "\\\\")
                    .replace("\"\"\"", "\\\"\\\"\\\"")
            );
        }
        let default = environment_choice(&layers, |(_, _, default)| {
            default
                .as_deref()
                .map_or_else(|| "None".to_owned(), literal)
        });
        let required = environment_choice(&layers, |(_, required, _)| {
            if *required {
                "True".to_owned()
            } else {
                "False".to_owned()
            }
        });
        let name = literal(&var.name);
        let _ = writeln!(init, "        text = _value(source, {name}, {default})");
        let value = match convert {
            Some(function) => format!("{function}({name}, text)"),
            None if var.sensitive => "Secret(text)".to_owned(),
            None => "text".to_owned(),
        };
        if always_there {
            let _ = writeln!(init, "        text = _required({name}, text)");
            let _ = writeln!(init, "        self.{attribute} = {value}");
        } else {
            let _ = writeln!(init, "        if text is None and {required}:");
            let _ = writeln!(
                init,
                "            raise ConfigError(f\"{} is not set (required in {{_ENVIRONMENT}})\")",
                var.name
            );
            let _ = writeln!(
                init,
                "        self.{attribute} = None if text is None else {value}"
            );
        }
    }
    let slots = names
        .iter()
        .map(|name| literal(name))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "class Env:\n    \"\"\"Every variable of the schema, typed.\"\"\"\n\n    __slots__ = ({slots}{comma})\n\n{body}\n    def __init__(self, source: typing.Mapping[str, str] | None = None) -> None:\n        source = os.environ if source is None else source\n        text: str | None\n{init}",
        comma = if names.len() == 1 { "," } else { "" },
    )
}

/// A Python expression for a per-environment value: the value itself when every
/// environment agrees, else a lookup on `_ENVIRONMENT` with the base as fallback.
fn environment_choice(
    layers: &[(String, bool, Option<String>)],
    value: impl Fn(&(String, bool, Option<String>)) -> String,
) -> String {
    let values: Vec<String> = layers.iter().map(&value).collect();
    match values.first() {
        Some(first) if values.iter().all(|other| other == first) => first.clone(),
        Some(first) => {
            let pairs = layers
                .iter()
                .zip(&values)
                .map(|((environment, _, _), value)| format!("{}: {value}", literal(environment)))
                .collect::<Vec<_>>()
                .join(", ");
            format!("{{{pairs}}}.get(_ENVIRONMENT, {first})")
        }
        None => "None".to_owned(),
    }
}
