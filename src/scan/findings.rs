//! What `scan` reports: the reads of every file against the schema. Pure.

use std::collections::HashSet;

use super::python::{Literal, Read};
use crate::rules::parse_bool;
use crate::schema::{Schema, VarSpec};

/// How grave a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Context (`dynamic`).
    Info,
    /// A likely mistake (`unused`, `default_mismatch`, `unparsable`).
    Warning,
    /// The gate cannot cover it (`undeclared`).
    Error,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// `undeclared`, `unused`, `default_mismatch`, `dynamic`, `unparsable`.
    pub kind: &'static str,
    /// How grave.
    pub level: Level,
    /// The variable, when there is one.
    pub name: Option<String>,
    /// The file, relative to the scan root (the schema for `unused`).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and what to do.
    pub message: String,
    /// Byte range in the file, for the code line a human report shows.
    pub span: std::ops::Range<usize>,
    /// Whether a report may show that line: not when the read's default may be a
    /// secret (the variable is sensitive, or its name or the default says so).
    pub quotable: bool,
}

/// One scanned file's reads, or why it was not read.
pub struct FileReads {
    /// Relative to the scan root.
    pub file: String,
    /// The reads, or the line and reason it could not be parsed.
    pub reads: Result<Vec<Read>, super::python::Unparsable>,
}

/// Every finding, in file order, then the unused variables in schema order.
#[must_use]
pub fn findings(
    schema: &Schema,
    files: &[FileReads],
    schema_file: &str,
    schema_text: &str,
) -> Vec<Finding> {
    let ignored: HashSet<&str> = schema.scan.ignore.iter().map(String::as_str).collect();
    let known: HashSet<&str> = crate::settings::SETTING_NAMES
        .iter()
        .copied()
        .chain(["ENVIRONMENT"])
        .collect();
    let mut out = Vec::new();
    let mut read_names: HashSet<String> = HashSet::new();
    for file in files {
        let reads = match &file.reads {
            Ok(reads) => reads,
            Err(unparsable) => {
                out.push(Finding {
                    kind: "unparsable",
                    level: Level::Warning,
                    name: None,
                    file: file.file.clone(),
                    line: unparsable.line,
                    column: 1,
                    message: format!(
                        "not scanned: {}; the rest of the tree was",
                        unparsable.reason
                    ),
                    span: 0..0,
                    quotable: true,
                });
                continue;
            }
        };
        for read in reads {
            let quotable = !default_may_be_secret(schema, read);
            let at = |kind, level, name: Option<&String>, message| Finding {
                kind,
                level,
                name: name.cloned(),
                file: file.file.clone(),
                line: read.line,
                column: read.column,
                message,
                span: read.span.clone(),
                quotable,
            };
            let Some(name) = &read.name else {
                out.push(at(
                    "dynamic",
                    Level::Info,
                    None,
                    "a read whose name is not a literal: envgate cannot tell which variable it is"
                        .to_owned(),
                ));
                continue;
            };
            read_names.insert(name.clone());
            if ignored.contains(name.as_str()) || known.contains(name.as_str()) {
                continue;
            }
            match schema.var(name) {
                None => out.push(at(
                    "undeclared",
                    Level::Error,
                    Some(name),
                    format!("{name} is read here but not declared in the schema, so envgate never validates it; add [vars.{name}] (or list it in [envgate.scan] ignore)"),
                )),
                Some(var) => {
                    if let Some(message) = default_mismatch(var, read.default.as_ref()) {
                        out.push(at("default_mismatch", Level::Warning, Some(name), message));
                    }
                }
            }
        }
    }
    for var in &schema.vars {
        if read_names.contains(&var.name)
            || !var.read_by.is_empty()
            || ignored.contains(var.name.as_str())
        {
            continue;
        }
        let (line, column) = line_and_column(schema_text, var.span.start);
        out.push(Finding {
            kind: "unused",
            level: Level::Warning,
            name: Some(var.name.clone()),
            file: schema_file.to_owned(),
            line,
            column,
            message: format!(
                "{} is declared but no scanned code reads it; remove it, or say who does with read_by = [\"…\"]",
                var.name
            ),
            span: var.span.start..var.span.start,
            quotable: true,
        });
    }
    out
}

/// Whether the default written in `read` may be a secret: a text default of a
/// variable the schema marks sensitive, of an undeclared or dynamic variable whose
/// name says secret, or one that looks like a credential itself.
fn default_may_be_secret(schema: &Schema, read: &Read) -> bool {
    let Some(Literal::Text(default)) = &read.default else {
        return false;
    };
    if default.is_empty() {
        return false;
    }
    let sensitive = match read.name.as_deref() {
        Some(name) => schema.var(name).map_or_else(
            || crate::sensitive::sensitive_name(name),
            |var| var.sensitive,
        ),
        None => true,
    };
    sensitive || crate::sensitive::sensitive_value(default)
}

/// A code default that the schema contradicts, or that can never apply.
fn default_mismatch(var: &VarSpec, default: Option<&Literal>) -> Option<String> {
    let default = default?;
    let name = &var.name;
    let always_required = var.required_in.is_none() && var.base.required.unwrap_or(true);
    match var.base.default.as_deref() {
        None if always_required => Some(format!(
            "the code gives {name} a default, but the schema requires it: under envgate the default never applies; drop one of them"
        )),
        None => None,
        Some(schema_default) => match same_default(default, schema_default) {
            // A sensitive variable's defaults are never shown: either may be a secret.
            Some(false) if var.sensitive => Some(format!(
                "the code's default for {name} differs from the schema's; make them agree"
            )),
            Some(false) => Some(format!(
                "the code's default for {name} ({}) differs from the schema's ({schema_default:?}); make them agree",
                shown(default)
            )),
            _ => None,
        },
    }
}

/// Whether the code's literal and the schema's default mean the same value
/// (`None` when the code's default is not a literal).
fn same_default(code: &Literal, schema: &str) -> Option<bool> {
    match code {
        Literal::Text(text) => Some(text == schema),
        Literal::Bool(value) => Some(parse_bool(schema) == Some(*value)),
        Literal::Int(value) => Some(schema.trim().parse::<i64>().ok() == Some(*value)),
        #[allow(clippy::float_cmp)] // the same literal, written twice
        Literal::Float(value) => Some(schema.trim().parse::<f64>().ok() == Some(*value)),
        Literal::None | Literal::Expression => None,
    }
}

fn shown(literal: &Literal) -> String {
    match literal {
        Literal::Text(text) => format!("{text:?}"),
        Literal::Bool(true) => "True".to_owned(),
        Literal::Bool(false) => "False".to_owned(),
        Literal::Int(value) => value.to_string(),
        Literal::Float(value) => value.to_string(),
        Literal::None => "None".to_owned(),
        Literal::Expression => "an expression".to_owned(),
    }
}

/// 1-based line and column (characters) of byte `offset` in `text`.
#[must_use]
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    (line, column)
}
