//! One line per finding, `file:line:col: severity[rule] message`: for logs and editors'
//! problem matchers (the shape of compilers' diagnostics).

use super::sanitize::inline;
use crate::analysis::Analysis;
use crate::diagnostic::Diagnostic;
use crate::load::Sources;

pub fn line(diagnostic: &Diagnostic, sources: &Sources) -> String {
    super::human::located_line(diagnostic, sources, " ")
}

pub fn render(analysis: &Analysis) -> String {
    super::written_text(|out| write(analysis, out))
}

/// [`render`], written to `out` line by line (a line per finding: tens of megabytes for a
/// large repository, never held whole).
pub fn write(analysis: &Analysis, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    for diagnostic in &analysis.diagnostics {
        let text = line(diagnostic, &analysis.sources);
        out.write_all(inline(&text).as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Findings shown in the summary on standard error when the report goes elsewhere.
pub const TOP_FINDINGS: usize = 5;

/// The summary for standard error when every report goes to files or machine formats: the
/// summary line, then the most severe findings in compact form and how many more there are.
pub fn stderr_summary(analysis: &Analysis) -> Vec<String> {
    let mut worst: Vec<&Diagnostic> = analysis.diagnostics.iter().collect();
    // Stable: equal severities keep the report's order (path, line).
    worst.sort_by_key(|d| std::cmp::Reverse(d.severity));
    let mut lines: Vec<String> = worst
        .iter()
        .take(TOP_FINDINGS)
        .map(|d| line(d, &analysis.sources))
        .collect();
    let rest = worst.len().saturating_sub(TOP_FINDINGS);
    if rest > 0 {
        lines.push(format!("… and {rest} more in the report"));
    }
    lines.push(super::human::summary_line(analysis));
    lines
}
