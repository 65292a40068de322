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
use std::sync::{Arc, OnceLock};

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

pub use explain::{ExplainRow, escape, explain_rows, explain_table};
pub use json::failure_json;

use crate::problem::Problem;
use crate::schema::SchemaSource;

/// Output formats for problems.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Readable errors with the schema line they point at, for people.
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
    /// `--explain`: one row per variable.
    pub explain: Option<&'a [ExplainRow]>,
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
        Format::Human => {
            let table = report.explain.map(explain_table).unwrap_or_default();
            table + &human::render(report, color)
        }
        Format::Json => json::render(report),
        Format::Github => {
            let table = report
                .explain
                .map(|rows| {
                    format!(
                        "::group::envgate --explain\n{}::endgroup::\n",
                        explain_table(rows)
                    )
                })
                .unwrap_or_default();
            table + &github::render(report)
        }
    }
}

/// The schema text with the start of every line indexed, so that positions and
/// snippets cost a binary search, not a scan from the top: reporting 40,000
/// problems stays linear. The index is built on first use: a report without a
/// problem needs none.
pub struct IndexedSource {
    name: String,
    text: Arc<str>,
    line_starts: OnceLock<Vec<usize>>,
}

impl IndexedSource {
    /// `source`, to be indexed when a position is first asked for.
    #[must_use]
    pub fn new(source: &SchemaSource) -> Self {
        Self {
            name: source.name.clone(),
            text: Arc::clone(&source.text),
            line_starts: OnceLock::new(),
        }
    }

    /// Where every line starts.
    fn line_starts(&self) -> &[usize] {
        self.line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(
                    self.text
                        .bytes()
                        .enumerate()
                        .filter(|&(_, byte)| byte == b'\n')
                        .map(|(index, _)| index + 1),
                )
                .collect()
        })
    }

    /// 0-based line of a byte offset.
    fn line_of(&self, offset: usize) -> usize {
        self.line_starts()
            .partition_point(|&start| start <= offset)
            .saturating_sub(1)
    }

    /// 1-based line and column (in characters) of a byte offset.
    #[must_use]
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_of(offset);
        let start = self.line_starts()[line];
        let column = self
            .text
            .get(start..offset)
            .map_or(0, |t| t.chars().count());
        (line + 1, column + 1)
    }
}

impl SourceCode for IndexedSource {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        // miette's own reader scans from the top of the text; give it a window of
        // whole lines around the span instead, then shift what it found back.
        let start = span.offset().min(self.text.len());
        let end = (span.offset() + span.len()).min(self.text.len());
        let first = self.line_of(start).saturating_sub(context_lines_before + 1);
        let line_starts = self.line_starts();
        let last = (self.line_of(end) + context_lines_after + 2).min(line_starts.len());
        let from = line_starts[first];
        let to = line_starts.get(last).copied().unwrap_or(self.text.len());
        let window: &'a str = &self.text[from..to];
        let local = SourceSpan::new((span.offset().saturating_sub(from)).into(), span.len());
        let contents = window.read_span(&local, context_lines_before, context_lines_after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            contents.data(),
            SourceSpan::new(
                (contents.span().offset() + from).into(),
                contents.span().len(),
            ),
            contents.line() + first,
            contents.column(),
            contents.line_count(),
        )))
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
fn position(source: &IndexedSource, span: Option<&Range<usize>>) -> Option<(usize, usize)> {
    span.map(|span| source.position(span.start))
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
        let source = SchemaSource {
            name: "s".to_owned(),
            text: text.into(),
        };
        let indexed = IndexedSource::new(&source);
        for offset in 0..text.len() {
            if text.is_char_boundary(offset) {
                assert_eq!(indexed.position(offset), line_column(text, offset));
            }
        }
    }

    #[test]
    fn indexed_snippets_match_mietttes_own() {
        let mut text = String::new();
        for i in 0..40 {
            text.push_str("[vars.V");
            text.push_str(&i.to_string());
            text.push_str("]\nkey = 1\n");
        }
        let source = SchemaSource {
            name: "s.toml".to_owned(),
            text: text.as_str().into(),
        };
        let indexed = IndexedSource::new(&source);
        for start in [0, 5, 13, 200, 400, text.len() - 3] {
            let span = SourceSpan::new(start.into(), 2);
            for context in [0, 1, 2] {
                let ours = indexed.read_span(&span, context, context).unwrap();
                let theirs = text.as_str().read_span(&span, context, context).unwrap();
                assert_eq!(ours.data(), theirs.data(), "{start} {context}");
                assert_eq!(ours.line(), theirs.line());
                assert_eq!(ours.column(), theirs.column());
                assert_eq!(ours.span(), theirs.span());
            }
        }
    }
}
