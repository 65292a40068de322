//! Reports: problems rendered for people (miette), for tools (JSON) and for
//! GitHub Actions (workflow annotations), plus the `--explain` table.
//!
//! Every renderer is a pure function returning a `String`; the caller decides where
//! it goes. None of them ever sees a sensitive value: problems carry none, and the
//! explain table shows a sensitive value's length only.

mod explain;
mod github;
mod human;
mod json;

use std::ops::Range;

pub use explain::explain_table;

use crate::problem::Problem;
use crate::schema::SchemaSource;

/// Output formats for problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// miette diagnostics for people.
    #[default]
    Human,
    /// One JSON object.
    Json,
    /// GitHub Actions workflow commands (`::error file=…`).
    Github,
}

/// What a report is about.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// The schema (name and text, for spans).
    pub source: &'a SchemaSource,
    /// The environment validated, when one was chosen.
    pub environment: Option<&'a str>,
    /// How many variables were checked.
    pub var_count: usize,
    /// Every problem found.
    pub problems: &'a [Problem],
    /// What happens on failure, for the summary line ("nothing was launched").
    pub consequence: Option<&'a str>,
}

impl Report<'_> {
    /// True when no problem is an error.
    #[must_use]
    pub fn ok(&self) -> bool {
        !self.problems.iter().any(Problem::is_error)
    }

    fn counts(&self) -> (usize, usize) {
        let errors = self.problems.iter().filter(|p| p.is_error()).count();
        (errors, self.problems.len() - errors)
    }
}

/// Renders `report` in `format`; `color` applies to the human format only.
#[must_use]
pub fn render(report: &Report<'_>, format: Format, color: bool) -> String {
    match format {
        Format::Human => human::render(report, color),
        Format::Json => json::render(report),
        Format::Github => github::render(report),
    }
}

/// 1-based line and column (in characters) of a byte offset.
#[must_use]
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Line and column of a span's start, if any.
fn position(text: &str, span: Option<&Range<usize>>) -> Option<(usize, usize)> {
    span.map(|span| line_column(text, span.start))
}

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("{count} {word}")
    } else {
        format!("{count} {word}s")
    }
}

/// The one-line summary closing a human or GitHub report.
fn summary(report: &Report<'_>) -> String {
    let (errors, warnings) = report.counts();
    let environment = report
        .environment
        .map(|env| format!(" (environment: {env})"))
        .unwrap_or_default();
    let variables = plural(report.var_count, "variable");
    if report.var_count == 0 && errors > 0 {
        return format!(
            "✗ {} in the schema {}; nothing was checked",
            plural(errors, "error"),
            report.source.name
        );
    }
    if errors == 0 {
        let warned = if warnings == 0 {
            String::new()
        } else {
            format!(", {}", plural(warnings, "warning"))
        };
        return format!("✓ {variables} valid{environment}{warned}");
    }
    let consequence = report
        .consequence
        .map(|text| format!("; {text}"))
        .unwrap_or_default();
    format!(
        "✗ {}, {} in {variables}{environment}{consequence}",
        plural(errors, "error"),
        plural(warnings, "warning")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        assert_eq!(line_column(text, 10), (2, 4));
    }
}
