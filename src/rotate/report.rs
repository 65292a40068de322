//! What `envgate rotate` says: one entry per secret, for people (lines, or an
//! aligned table for a dry run) or for tools (`--format json`: one object). Pure.

use std::fmt::Write as _;

use serde::Serialize;

/// What happened to one secret.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The secret id.
    pub secret: String,
    /// `postgres`, `api-key` or `django-secret-key`.
    pub kind: &'static str,
    /// `rotated`, `failed`, `not_due` or `listed` (dry run).
    pub outcome: &'static str,
    /// The step reached (`failed`), or `finish` (`rotated`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<&'static str>,
    /// The version now AWSCURRENT (`rotated`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// True when this run finished an interrupted rotation.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub resumed: bool,
    /// When it was last rotated (`listed`, `not_due`), or `never`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rotated: Option<String>,
    /// `rotate.every` as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// Whether it is due (`listed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due: Option<String>,
    /// Why it failed (`failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Entry {
    /// An entry with only the secret, kind and outcome set.
    #[must_use]
    pub fn new(secret: &str, kind: &'static str, outcome: &'static str) -> Self {
        Self {
            secret: secret.to_owned(),
            kind,
            outcome,
            step: None,
            version: None,
            resumed: false,
            last_rotated: None,
            every: None,
            due: None,
            reason: None,
        }
    }

    /// True for a failed rotation.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.outcome == "failed"
    }
}

#[derive(Serialize)]
struct JsonReport<'a> {
    ok: bool,
    environment: &'a str,
    dry_run: bool,
    secrets: &'a [Entry],
}

/// The whole run as one JSON object.
#[must_use]
pub fn json(environment: &str, dry_run: bool, entries: &[Entry]) -> String {
    let report = JsonReport {
        ok: !entries.iter().any(Entry::failed),
        environment,
        dry_run,
        secrets: entries,
    };
    let mut out = serde_json::to_string_pretty(&report).unwrap_or_default();
    out.push('\n');
    out
}

/// The run for people: a line per secret.
#[must_use]
pub fn human(entries: &[Entry]) -> String {
    let mut out = String::new();
    for entry in entries {
        let _ = match entry.outcome {
            "rotated" => writeln!(
                out,
                "rotated {} ({}): version {} is now AWSCURRENT{}",
                entry.secret,
                entry.kind,
                entry.version.as_deref().unwrap_or("?"),
                if entry.resumed {
                    " (finished an interrupted rotation)"
                } else {
                    ""
                }
            ),
            "not_due" => writeln!(
                out,
                "not due: {} (last rotated {}, every {})",
                entry.secret,
                entry.last_rotated.as_deref().unwrap_or("never"),
                entry.every.as_deref().unwrap_or("-")
            ),
            _ => writeln!(
                out,
                "envgate: rotation of {} failed at step {}: {}",
                entry.secret,
                entry.step.unwrap_or("?"),
                entry.reason.as_deref().unwrap_or_default()
            ),
        };
    }
    out
}

/// A dry run for people: an aligned table.
#[must_use]
pub fn dry_run_table(entries: &[Entry]) -> String {
    let header = ["SECRET", "KIND", "LAST ROTATED", "EVERY", "DUE"].map(str::to_owned);
    let rows: Vec<[String; 5]> = std::iter::once(header)
        .chain(entries.iter().map(|entry| {
            [
                entry.secret.clone(),
                entry.kind.to_owned(),
                entry
                    .last_rotated
                    .clone()
                    .unwrap_or_else(|| "never".to_owned()),
                entry.every.clone().unwrap_or_else(|| "-".to_owned()),
                entry.due.clone().unwrap_or_default(),
            ]
        }))
        .collect();
    let mut widths = [0usize; 5];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row.iter()) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
