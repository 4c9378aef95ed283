//! GitLab Code Quality report: a JSON array of issues (the subset of the Code Climate format
//! that GitLab reads), for `artifacts:reports:codequality`.

use serde::Serialize;

use super::stream::{write_array, write_pretty};
use crate::analysis::Analysis;
use crate::diagnostic::{Diagnostic, Severity};

#[derive(Serialize)]
struct Issue<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    description: String,
    check_name: &'a str,
    fingerprint: &'a str,
    severity: &'static str,
    location: IssueLocation<'a>,
}

#[derive(Serialize)]
struct IssueLocation<'a> {
    path: &'a str,
    lines: Lines,
}

#[derive(Serialize)]
struct Lines {
    begin: usize,
    end: usize,
}

/// GitLab's scale is info, minor, major, critical, blocker; `blocker` and `critical` are left
/// for problems that break a deployment outright, which a linter cannot know.
fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "major",
        Severity::Warning => "minor",
        Severity::Note => "info",
    }
}

fn issue<'a>(analysis: &'a Analysis, d: &'a Diagnostic) -> Issue<'a> {
    let (start, end) = analysis.sources.range(d.location);
    Issue {
        kind: "issue",
        description: format!("[{}] {}", d.rule, d.message),
        check_name: d.rule,
        fingerprint: d.fingerprint.as_deref().unwrap_or_default(),
        severity: severity(d.severity),
        location: IssueLocation {
            path: analysis.gate.repo_path(d.location.file),
            lines: Lines {
                begin: start.line as usize,
                end: end.line as usize,
            },
        },
    }
}

pub fn render(analysis: &Analysis) -> String {
    let issues: Vec<Issue> = analysis
        .diagnostics
        .iter()
        .map(|d| issue(analysis, d))
        .collect();
    let mut text = serde_json::to_string_pretty(&issues).unwrap_or_else(|_| "[]".to_string());
    text.push('\n');
    text
}

/// Writes to `out` what [`render`] returns, without holding it (see `report::stream`).
pub fn write(analysis: &Analysis, out: &mut (impl std::io::Write + ?Sized)) -> std::io::Result<()> {
    let diagnostics = &analysis.diagnostics;
    write_array(out, 0, diagnostics.len(), |index, buffer| {
        write_pretty(buffer, &issue(analysis, &diagnostics[index]), 1)
    })?;
    out.write_all(b"\n")
}
