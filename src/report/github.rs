//! GitHub Actions report: `::error file=…,line=…,col=…,title=…::message` lines.
//!
//! See GitHub's "workflow commands" documentation: data is escaped (`%`, CR, LF)
//! and property values additionally escape `:` and `,`.

use std::fmt::Write as _;

use super::{IndexedSource, Report, position, summary};

pub(super) fn render(report: &Report<'_>) -> String {
    let source = IndexedSource::new(report.source);
    let mut out = String::new();
    for problem in report.problems {
        let mut properties = vec![format!("file={}", escape_property(&report.source.name))];
        if let Some((line, column)) = position(&source, problem.span.as_ref()) {
            properties.push(format!("line={line}"));
            properties.push(format!("col={column}"));
        }
        properties.push(format!("title={}", escape_property(problem.code.as_str())));
        let mut message = problem.message.clone();
        if let Some(help) = &problem.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        let _ = writeln!(
            out,
            "::{} {}::{}",
            problem.severity.as_str(),
            properties.join(","),
            escape_data(&message)
        );
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_as_github_documents() {
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("envgate::a,b"), "envgate%3A%3Aa%2Cb");
    }
}
