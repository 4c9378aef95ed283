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
use crate::analysis::Analysis;
use crate::diagnostic::{Diagnostic, Severity};

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

/// GitHub shows at most this many annotations of each kind (error, warning, notice) per
/// step and drops the rest silently.
pub const ANNOTATIONS_PER_KIND: usize = 10;

fn kind(severity: Severity) -> usize {
    match severity {
        Severity::Error => 0,
        Severity::Warning => 1,
        Severity::Note => 2,
    }
}

/// One annotation. `col`/`endColumn` only when the finding is on one line: the runner
/// rejects them on a multi-line range.
fn annotation(out: &mut String, d: &Diagnostic, analysis: &Analysis) {
    // Controls other than the help's own line breaks are made visible first (the
    // runner's log renders ANSI escapes); then the runner's escaping.
    let mut message = inline(&d.message).into_owned();
    if let Some(help) = d.help_text() {
        message.push_str("\nhelp: ");
        message.push_str(&multiline(&help));
    }
    let (start, end) = analysis.sources.range(d.location);
    let columns = if start.line == end.line {
        format!(",col={},endColumn={}", start.col, end.col)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "::{} file={},line={}{columns},endLine={},title={}::{}",
        command(d.severity),
        escape_property(&inline(analysis.gate.repo_path(d.location.file))),
        start.line,
        end.line,
        escape_property(&format!("xks-lint {}", d.rule)),
        escape_data(&message)
    );
}

/// Annotations, most severe first, at most [`ANNOTATIONS_PER_KIND`] of each kind; when
/// some do not fit, a notice says how many and the log lists them as plain lines (which
/// the runner does not act on), so nothing is dropped silently.
pub fn render(analysis: &Analysis, options: &RenderOptions) -> String {
    super::written_text(|out| write(analysis, options, out))
}

/// [`render`], written to `out` as it goes: with every finding past the caps one log line,
/// a large repository's document is tens of megabytes, held whole on top of the run's peak.
pub fn write(
    analysis: &Analysis,
    options: &RenderOptions,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let mut order: Vec<&Diagnostic> = analysis.diagnostics.iter().collect();
    order.sort_by_key(|d| std::cmp::Reverse(d.severity));
    let mut counts = [0usize; 3];
    for d in &order {
        counts[kind(d.severity)] += 1;
    }
    let overflow = counts.iter().any(|&n| n > ANNOTATIONS_PER_KIND);
    // The notice about left-out findings takes one notice slot.
    let caps = [
        ANNOTATIONS_PER_KIND,
        ANNOTATIONS_PER_KIND,
        ANNOTATIONS_PER_KIND - usize::from(overflow),
    ];
    let mut shown = [0usize; 3];
    let mut left_out: Vec<&Diagnostic> = Vec::new();
    let mut line = String::new();
    for d in order {
        let k = kind(d.severity);
        if shown[k] < caps[k] {
            shown[k] += 1;
            line.clear();
            annotation(&mut line, d, analysis);
            out.write_all(line.as_bytes())?;
        } else {
            left_out.push(d);
        }
    }
    if !left_out.is_empty() {
        let count = |severity: Severity| left_out.iter().filter(|d| d.severity == severity).count();
        let text = format!(
            "{} more finding{} ({} error, {} warning, {} note) not shown as annotations: GitHub shows at most {ANNOTATIONS_PER_KIND} of each kind per step. The job log lists them.",
            left_out.len(),
            if left_out.len() == 1 { "" } else { "s" },
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Note),
        );
        writeln!(
            out,
            "::notice title={}::{}",
            escape_property("xks-lint: annotations capped"),
            escape_data(&text)
        )?;
        writeln!(out, "xks-lint: {text}")?;
        for d in left_out {
            // Indented and starting with `-`: never a command, even where the runner
            // trims leading spaces.
            writeln!(
                out,
                "  - {}",
                super::human::plain_line(d, &analysis.sources)
            )?;
        }
    }
    if options.summary {
        // A plain line: the runner only acts on lines that start with `::`.
        writeln!(out, "{}", super::human::summary_line(analysis))?;
    }
    Ok(())
}

/// GitHub's limit on one step's summary (`$GITHUB_STEP_SUMMARY`): 1 MiB; we stay below it.
pub const STEP_SUMMARY_BUDGET: usize = 1_000_000;

/// A Markdown table cell: the value escaped by `inline`, then HTML's `&`, `<`, `>` as
/// entities and Markdown's punctuation (`|` above all, which would end the cell) with a
/// backslash.
fn markdown_cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in inline(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// The full report for the step summary (`$GITHUB_STEP_SUMMARY`): every finding in a
/// Markdown table, most severe first, cut with a count when it would pass GitHub's limit.
pub fn step_summary(analysis: &Analysis) -> String {
    let mut order: Vec<&Diagnostic> = analysis.diagnostics.iter().collect();
    order.sort_by_key(|d| std::cmp::Reverse(d.severity));
    let mut out = String::from("## xks-lint\n\n");
    let _ = writeln!(
        out,
        "{}\n",
        markdown_cell(&super::human::summary_line(analysis))
    );
    if order.is_empty() {
        return out;
    }
    out.push_str("| Severity | Rule | Location | Message |\n| --- | --- | --- | --- |\n");
    let total = order.len();
    for (i, d) in order.into_iter().enumerate() {
        let start = analysis.sources.start(d.location);
        let row = format!(
            "| {} | {} | {}:{}:{} | {} |\n",
            d.severity.as_str(),
            d.rule,
            markdown_cell(analysis.gate.repo_path(d.location.file)),
            start.line,
            start.col,
            markdown_cell(&d.message)
        );
        if out.len() + row.len() + 200 > STEP_SUMMARY_BUDGET {
            let _ = writeln!(
                out,
                "\n{} more findings are not listed here (GitHub limits a step summary to 1 MiB).",
                total - i
            );
            break;
        }
        out.push_str(&row);
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
