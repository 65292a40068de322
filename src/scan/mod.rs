//! `envgate scan`: the code and the schema agree. Walks the tree as ripgrep does
//! (the `ignore` crate: `.gitignore`, `.ignore`, hidden files), reads every
//! Python file's environment reads on its syntax tree ([`python`]), and reports
//! what the schema does not cover ([`findings`]): `undeclared` (error),
//! `unused`, `default_mismatch`, `unparsable` (warnings), `dynamic` (info).
//!
//! Exit 0 without errors (and, with `--strict`, without warnings), 1 with them,
//! 66 for a path that does not exist. Paths print relative to the scan root.

pub mod findings;
pub mod python;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use findings::{FileReads, Finding, Level};

use crate::error::{Error, exit};
use crate::report::Format;
use crate::schema::Schema;

/// What `envgate scan` was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRequest {
    /// The roots (default `.`).
    pub paths: Vec<PathBuf>,
    /// `--strict`: warnings fail too.
    pub strict: bool,
}

/// Scans, reports; returns the exit code and the report.
///
/// # Errors
/// [`Error::ScanPath`] (66) for a root that does not exist.
pub fn run(
    schema: &Schema,
    schema_path: &Path,
    request: &ScanRequest,
    format: Format,
) -> Result<(u8, String), Error> {
    let roots = if request.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        request.paths.clone()
    };
    let mut files = Vec::new();
    for root in &roots {
        files.extend(walk(root, &schema.scan.exclude)?);
    }
    let schema_text = std::fs::read_to_string(schema_path).unwrap_or_default();
    let shown_schema = schema_path.display().to_string();
    let found = findings::findings(schema, &files, &shown_schema, &schema_text);
    let failing = |finding: &&Finding| {
        finding.level == Level::Error || (request.strict && finding.level == Level::Warning)
    };
    let ok = !found.iter().any(|finding| failing(&finding));
    let text = match format {
        Format::Json => json(&found, ok),
        Format::Github => github(&found),
        Format::Human => human(&found, &roots, schema_path, files.len()),
    };
    Ok((if ok { exit::OK } else { exit::STALE }, text))
}

/// Every Python file under `root`, read and parsed, in path order.
///
/// # Errors
/// [`Error::ScanPath`] (66) when `root` does not exist; [`Error::Usage`] for an
/// `exclude` glob that is not one.
pub fn walk(root: &Path, exclude: &[String]) -> Result<Vec<FileReads>, Error> {
    if !root.exists() {
        return Err(Error::ScanPath {
            path: root.to_owned(),
        });
    }
    let mut overrides = ignore::overrides::OverrideBuilder::new(root);
    for glob in exclude {
        overrides
            .add(&format!("!{glob}"))
            .map_err(|error| Error::Usage(format!("[envgate.scan] exclude `{glob}`: {error}")))?;
    }
    let overrides = overrides
        .build()
        .map_err(|error| Error::Usage(format!("[envgate.scan] exclude: {error}")))?;
    let found = Mutex::new(Vec::new());
    ignore::WalkBuilder::new(root)
        // .gitignore files count whether or not the tree is a git checkout.
        .require_git(false)
        .overrides(overrides)
        .threads(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
        .build_parallel()
        .run(|| {
            Box::new(|entry| {
                let Ok(entry) = entry else {
                    return ignore::WalkState::Continue;
                };
                let path = entry.path();
                let is_python = entry.file_type().is_some_and(|kind| kind.is_file())
                    && path.extension().is_some_and(|ext| ext == "py");
                if is_python {
                    let file = relative(root, path);
                    let reads = std::fs::read(path)
                        .map_err(|error| python::Unparsable {
                            line: 1,
                            reason: format!("cannot read it: {}", crate::fsio::io_reason(&error)),
                        })
                        .and_then(|bytes| python::reads(&bytes));
                    if let Ok(mut found) = found.lock() {
                        found.push(FileReads { file, reads });
                    }
                }
                ignore::WalkState::Continue
            })
        });
    let mut files = found.into_inner().unwrap_or_default();
    files.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(files)
}

/// `path` relative to `root`, `/`-separated; a root that is a file gives its name.
fn relative(root: &Path, path: &Path) -> String {
    let relative = path
        .strip_prefix(root)
        .ok()
        .filter(|rest| !rest.as_os_str().is_empty());
    let shown = relative.unwrap_or_else(|| path.file_name().map_or(path, Path::new));
    shown.to_string_lossy().replace('\\', "/")
}

fn json(found: &[Finding], ok: bool) -> String {
    let findings: Vec<serde_json::Value> = found
        .iter()
        .map(|finding| {
            serde_json::json!({
                "kind": finding.kind,
                "name": finding.name,
                "file": finding.file,
                "line": finding.line,
                "column": finding.column,
                "message": finding.message,
            })
        })
        .collect();
    let mut text =
        serde_json::to_string_pretty(&serde_json::json!({ "ok": ok, "findings": findings }))
            .unwrap_or_default();
    text.push('\n');
    text
}

/// GitHub Actions annotations on the code line.
fn github(found: &[Finding]) -> String {
    let mut out = String::new();
    for finding in found {
        let command = match finding.level {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Info => "notice",
        };
        let _ = writeln!(
            out,
            "::{command} file={},line={},col={},title=envgate scan: {}::{}",
            finding.file,
            finding.line,
            finding.column,
            finding.kind,
            finding.message.replace('%', "%25").replace('\n', "%0A")
        );
    }
    out
}

/// miette diagnostics showing the code line, then a summary.
fn human(found: &[Finding], roots: &[PathBuf], schema_path: &Path, scanned: usize) -> String {
    let handler =
        miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100);
    let mut out = String::new();
    for finding in found {
        let text = if finding.kind == "unused" {
            std::fs::read_to_string(schema_path).unwrap_or_default()
        } else {
            roots
                .iter()
                .map(|root| {
                    if root.is_file() {
                        root.clone()
                    } else {
                        root.join(&finding.file)
                    }
                })
                .find_map(|path| std::fs::read_to_string(path).ok())
                .unwrap_or_default()
        };
        let diagnostic = ScanDiagnostic {
            finding,
            source: finding.quotable.then(|| {
                miette::NamedSource::new(finding.file.clone(), own_lines(&text, &finding.span))
            }),
        };
        let mut report = String::new();
        let _ = handler.render_report(&mut report, &diagnostic);
        for line in report.lines() {
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    let count = |level| {
        found
            .iter()
            .filter(|finding| finding.level == level)
            .count()
    };
    let _ = writeln!(
        out,
        "envgate scan: {scanned} Python file(s); {} error(s), {} warning(s), {} note(s)",
        count(Level::Error),
        count(Level::Warning),
        count(Level::Info)
    );
    out
}

/// `text` with every line outside `span`'s blanked, at the same offsets: the
/// report shows the finding's own code, never a neighbouring line (which may hold a
/// secret default).
fn own_lines(text: &str, span: &std::ops::Range<usize>) -> String {
    let start = text[..span.start.min(text.len())]
        .rfind('\n')
        .map_or(0, |newline| newline + 1);
    let end = text[span.end.min(text.len())..]
        .find('\n')
        .map_or(text.len(), |newline| span.end + newline);
    let mut kept = String::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        if (start..end).contains(&at) || c == '\n' {
            kept.push(c);
        } else {
            // As many bytes as the character, so every offset stays where it was.
            kept.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    kept
}

/// One finding for miette; without `source` (a line that may hold a secret) the
/// message carries the place instead of the code.
struct ScanDiagnostic<'a> {
    finding: &'a Finding,
    source: Option<miette::NamedSource<String>>,
}

impl std::fmt::Debug for ScanDiagnostic<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.finding.kind)
    }
}

impl std::fmt::Display for ScanDiagnostic<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let finding = self.finding;
        if self.source.is_none() {
            write!(f, "{}:{}:{}: ", finding.file, finding.line, finding.column)?;
        }
        f.write_str(&finding.message)
    }
}

impl std::error::Error for ScanDiagnostic<'_> {}

impl miette::Diagnostic for ScanDiagnostic<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn std::fmt::Display + 'b>> {
        Some(Box::new(format!("envgate::scan::{}", self.finding.kind)))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.finding.level {
            Level::Error => miette::Severity::Error,
            Level::Warning => miette::Severity::Warning,
            Level::Info => miette::Severity::Advice,
        })
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source
            .as_ref()
            .map(|source| source as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.source.as_ref()?;
        let span = &self.finding.span;
        let label = match &self.finding.name {
            Some(name) => format!("{name} ({}:{})", self.finding.line, self.finding.column),
            None => format!("{}:{}", self.finding.line, self.finding.column),
        };
        Some(Box::new(std::iter::once(miette::LabeledSpan::new(
            Some(label),
            span.start,
            span.end.saturating_sub(span.start),
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::own_lines;

    #[test]
    fn only_the_findings_lines_are_kept_at_their_offsets() {
        let text = "café = 'sk-canary'\nX = os.environ['X']\nPASSWORD = 'hunter2'\n";
        let start = text.find("os.environ").unwrap();
        let kept = own_lines(text, &(start..start + 10));
        assert_eq!(kept.len(), text.len());
        assert_eq!(&kept[start..start + 10], "os.environ");
        assert!(
            !kept.contains("canary") && !kept.contains("hunter2"),
            "{kept}"
        );
        assert_eq!(kept.lines().count(), 3);
    }
}
