//! JSON report: one object with `ok`, `environment`, `problems[]`.

use serde::Serialize;

use super::{Report, line_column};

#[derive(Serialize)]
struct JsonReport<'a> {
    ok: bool,
    environment: Option<&'a str>,
    schema: &'a str,
    variables: usize,
    problems: Vec<JsonProblem<'a>>,
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
                let (line, column) = line_column(&report.source.text, span.start);
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
    };
    // Serialising plain data to a String cannot fail.
    let mut out = serde_json::to_string_pretty(&json).unwrap_or_default();
    out.push('\n');
    out
}
