//! Human report: one miette diagnostic per problem, then a summary line.

use std::fmt;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, Severity as MietteSeverity,
    SourceCode,
};

use super::{IndexedSource, Report, summary};
use crate::problem::{Problem, Severity};

/// Width of rendered diagnostics: fixed, so output is the same on every terminal.
const WIDTH: usize = 100;

pub(super) fn render(report: &Report<'_>, color: bool) -> String {
    let source = IndexedSource::new(report.source);
    let theme = if color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme).with_width(WIDTH);
    let mut out = String::new();
    for problem in report.problems {
        let diagnostic = ProblemDiagnostic {
            problem,
            source: &source,
        };
        // Writing into a String cannot fail.
        let _ = handler.render_report(&mut out, &diagnostic);
    }
    out.push_str(&summary(report));
    out.push('\n');
    out
}

/// Adapts a [`Problem`] to miette's `Diagnostic`.
struct ProblemDiagnostic<'a> {
    problem: &'a Problem,
    source: &'a IndexedSource,
}

impl fmt::Debug for ProblemDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.problem.code.as_str())
    }
}

impl fmt::Display for ProblemDiagnostic<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.problem.message)
    }
}

impl std::error::Error for ProblemDiagnostic<'_> {}

impl Diagnostic for ProblemDiagnostic<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.problem.code.as_str()))
    }

    fn severity(&self) -> Option<MietteSeverity> {
        Some(match self.problem.severity {
            Severity::Error => MietteSeverity::Error,
            Severity::Warning => MietteSeverity::Warning,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.problem
            .help
            .as_deref()
            .map(|help| Box::new(help) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.problem
            .span
            .as_ref()
            .map(|_| self.source as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.problem.span.clone()?;
        let label = LabeledSpan::new_with_span(self.problem.label.clone(), span);
        Some(Box::new(std::iter::once(label)))
    }
}
