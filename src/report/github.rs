//! GitHub Actions workflow commands (`::error file=…,line=…::message`), which the runner turns
//! into annotations on the pull request.
//!
//! Everything that comes from the repository (paths, messages quoting manifest values) is
//! escaped as the Actions toolkit does, so a value holding a newline followed by
//! `::set-output …` or `::add-mask::` stays inside one annotation and can never start a
//! command of its own.

use std::fmt::Write;

use super::RenderOptions;
use super::sanitize::{inline, multiline};
use crate::Analysis;
use crate::diagnostic::Severity;

/// Escaping of a command's message: `%`, CR and LF.
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of a command property: as data, plus the `:` and `,` that delimit properties.
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn command(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "notice",
    }
}

pub fn render(analysis: &Analysis, options: &RenderOptions) -> String {
    let mut out = String::new();
    for d in &analysis.diagnostics {
        let span = d.location.span;
        // Controls other than the help's own line breaks are made visible first (the
        // runner's log renders ANSI escapes); then the runner's escaping.
        let mut message = inline(&d.message).into_owned();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(&multiline(help));
        }
        let _ = writeln!(
            out,
            "::{} file={},line={},col={},endLine={},endColumn={},title={}::{}",
            command(d.severity),
            escape_property(&inline(analysis.gate.repo_path(d.location.file))),
            span.start.line,
            span.start.col,
            span.end.line,
            span.end.col,
            escape_property(&format!("xks-lint {}", d.rule)),
            escape_data(&message)
        );
    }
    if options.summary {
        // A plain line: the runner only acts on lines that start with `::`.
        let _ = writeln!(out, "{}", super::human::summary_line(analysis));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_the_actions_toolkit() {
        assert_eq!(escape_data("50%\r\n::x"), "50%25%0D%0A::x");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
