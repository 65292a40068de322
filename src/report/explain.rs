//! The `--explain` table: every variable, where its value came from, its status,
//! and its value (a sensitive value only by its length).

use std::fmt::Write as _;

use secrecy::ExposeSecret;

use crate::problem::Problem;
use crate::resolve::{Origin, Resolution};
use crate::schema::Schema;

const MAX_SHOWN: usize = 40;

/// Renders the explain table for `environment`.
#[must_use]
pub fn explain_table(
    schema: &Schema,
    environment: &str,
    resolution: &Resolution,
    problems: &[Problem],
) -> String {
    let mut rows = vec![[
        "VARIABLE".to_owned(),
        "SOURCE".to_owned(),
        "STATUS".to_owned(),
        "VALUE".to_owned(),
    ]];
    for (var, resolved) in schema.vars.iter().zip(&resolution.vars) {
        let status = status(
            &var.name,
            var.is_required_in(environment),
            &resolved.origin,
            problems,
        );
        let value = match &resolved.value {
            None => "-".to_owned(),
            Some(_) if var.sensitive => {
                let length = resolved
                    .value
                    .as_ref()
                    .map_or(0, |v| v.expose_secret().chars().count());
                format!("[sensitive, {length} chars]")
            }
            Some(value) => shown(value.expose_secret()),
        };
        rows.push([var.name.clone(), resolved.origin.to_string(), status, value]);
    }
    layout(&rows)
}

fn status(name: &str, required: bool, origin: &Origin, problems: &[Problem]) -> String {
    let own: Vec<&Problem> = problems
        .iter()
        .filter(|problem| problem.var.as_deref() == Some(name))
        .collect();
    if let Some(error) = own.iter().find(|problem| problem.is_error()) {
        return format!("error {}", error.code);
    }
    if let Some(warning) = own.first() {
        return format!("warning {}", warning.code);
    }
    match (origin, required) {
        (Origin::Unset, false) => "ok (optional)".to_owned(),
        _ => "ok".to_owned(),
    }
}

fn shown(value: &str) -> String {
    let single_line = value.replace('\n', "\\n");
    if single_line.chars().count() > MAX_SHOWN {
        let head: String = single_line.chars().take(MAX_SHOWN - 1).collect();
        format!("{head}…")
    } else {
        single_line
    }
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
