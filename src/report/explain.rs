//! `--explain`: every variable, where its value came from, its status, and its
//! value (a sensitive value only by its length). Rendered as a table for people,
//! as an `explain` array in JSON, and inside a log group for GitHub.
//!
//! Public values are shown with control characters escaped (`\u{1b}`, `\r`): a
//! value must not be able to move a terminal's cursor or forge a CI log line.

use std::collections::HashMap;
use std::fmt::Write as _;

use secrecy::ExposeSecret;
use serde::Serialize;

use crate::problem::Problem;
use crate::resolve::{Origin, Resolution};
use crate::schema::Schema;

const MAX_SHOWN: usize = 40;

/// One variable's line of the explanation.
#[derive(Debug, Clone, Serialize)]
pub struct ExplainRow {
    /// The variable.
    pub var: String,
    /// Where its value came from.
    pub source: String,
    /// `ok`, `ok (optional)`, `error CODE` or `warning CODE`.
    pub status: String,
    /// The value as it may be shown: escaped, shortened, or masked when sensitive.
    pub value: String,
}

/// The explanation of every variable for `environment`.
#[must_use]
pub fn explain_rows(
    schema: &Schema,
    environment: &str,
    resolution: &Resolution,
    problems: &[Problem],
) -> Vec<ExplainRow> {
    // The first error, else the first warning, of each variable: one pass.
    let mut worst: HashMap<&str, &Problem> = HashMap::new();
    for problem in problems {
        let Some(var) = problem.var.as_deref() else {
            continue;
        };
        worst
            .entry(var)
            .and_modify(|kept| {
                if problem.is_error() && !kept.is_error() {
                    *kept = problem;
                }
            })
            .or_insert(problem);
    }
    schema
        .vars
        .iter()
        .zip(&resolution.vars)
        .map(|(var, resolved)| {
            let status = match worst.get(var.name.as_str()) {
                Some(problem) if problem.is_error() => format!("error {}", problem.code),
                Some(problem) => format!("warning {}", problem.code),
                None if resolved.origin == Origin::Unset && !var.is_required_in(environment) => {
                    "ok (optional)".to_owned()
                }
                None => "ok".to_owned(),
            };
            let value = match &resolved.value {
                None => "-".to_owned(),
                Some(value) if var.sensitive || resolved.origin.is_secure_store() => {
                    format!(
                        "[sensitive, {} chars]",
                        value.expose_secret().chars().count()
                    )
                }
                Some(value) => shown(value.expose_secret()),
            };
            ExplainRow {
                var: var.name.clone(),
                source: escape(&resolved.origin.to_string()),
                status,
                value,
            }
        })
        .collect()
}

/// The rows as an aligned table.
#[must_use]
pub fn explain_table(rows: &[ExplainRow]) -> String {
    let mut cells = vec![[
        "VARIABLE".to_owned(),
        "SOURCE".to_owned(),
        "STATUS".to_owned(),
        "VALUE".to_owned(),
    ]];
    cells.extend(rows.iter().map(|row| {
        [
            row.var.clone(),
            row.source.clone(),
            row.status.clone(),
            row.value.clone(),
        ]
    }));
    layout(&cells)
}

/// A public value, escaped and shortened for one table cell.
fn shown(value: &str) -> String {
    let escaped = escape(value);
    if escaped.chars().count() > MAX_SHOWN {
        let head: String = escaped.chars().take(MAX_SHOWN - 1).collect();
        format!("{head}…")
    } else {
        escaped
    }
}

/// `text` with control characters and bidirectional overrides escaped.
#[must_use]
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn layout(rows: &[[String; 4]]) -> String {
    let mut widths = [0usize; 4];
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (index, (cell, width)) in row.iter().zip(widths).enumerate() {
            if index == row.len() - 1 {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ");
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("a\u{1b}[31mb\rc\nd"), "a\\u{1b}[31mb\\rc\\nd");
        assert_eq!(escape("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape("plain é"), "plain é");
    }
}
