//! JSON report: one object with `ok`, `environment`, `problems[]`.

use serde::Serialize;

use super::{IndexedSource, Report};

#[derive(Serialize)]
struct JsonReport<'a> {
    ok: bool,
    environment: Option<&'a str>,
    schema: &'a str,
    variables: usize,
    problems: Vec<JsonProblem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    explain: Option<&'a [super::ExplainRow]>,
}

#[derive(Serialize)]
struct JsonProblem<'a> {
    code: &'static str,
    severity: &'static str,
    var: Option<&'a str>,
    message: &'a str,
    help: Option<&'a str>,
    span: Option<JsonSpan>,
}

#[derive(Serialize)]
struct JsonSpan {
    line: usize,
    column: usize,
    offset: usize,
    length: usize,
}

pub(super) fn render(report: &Report<'_>) -> String {
    let source = IndexedSource::new(report.source);
    let problems = report
        .problems
        .iter()
        .map(|problem| JsonProblem {
            code: problem.code.as_str(),
            severity: problem.severity.as_str(),
            var: problem.var.as_deref(),
            message: &problem.message,
            help: problem.help.as_deref(),
            span: problem.span.as_ref().map(|span| {
                let (line, column) = source.position(span.start);
                JsonSpan {
                    line,
                    column,
                    offset: span.start,
                    length: span.len(),
                }
            }),
        })
        .collect();
    let json = JsonReport {
        ok: report.ok(),
        environment: report.environment,
        schema: &report.source.name,
        variables: report.var_count,
        problems,
        explain: report.explain,
    };
    // Serialising plain data to a String cannot fail.
    let mut out = serde_json::to_string_pretty(&json).unwrap_or_default();
    out.push('\n');
    out
}

/// A failure that ended the run (not a problem list), as the JSON report's shape.
#[must_use]
pub fn failure_json(error: &dyn miette::Diagnostic) -> String {
    let code = error.code().map(|code| code.to_string());
    let help = error.help().map(|help| help.to_string());
    let json = serde_json::json!({
        "ok": false,
        "problems": [{
            "code": code,
            "severity": "error",
            "message": error.to_string(),
            "help": help,
        }],
    });
    format!("{json:#}\n")
}
