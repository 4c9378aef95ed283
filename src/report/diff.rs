//! Renders `xks-lint diff`: the connections a change opens and closes, per environment,
//! with the policy rules responsible; txt, json, and markdown for a pull-request comment or
//! `$GITHUB_STEP_SUMMARY`.

use std::collections::BTreeMap;

use super::sanitize::{Channel, Inline, Lines};
use crate::graph::End;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffFormat {
    /// `+ SRC => DST : CONNS` (opened) and `- ...` (closed), each followed by its rules.
    Txt,
    /// `{"base": ..., "changes": [...]}`.
    Json,
    /// Tables grouped by namespace pair, for a PR comment or the GitHub step summary.
    Markdown,
}

pub fn channel(format: DiffFormat) -> Channel {
    match format {
        DiffFormat::Json => Channel::Json,
        _ => Channel::Text,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Opened,
    Closed,
}

/// A policy rule or policy that decides a change, where it is written.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Responsible {
    /// `allowed by` (a rule that lets the connection through now), `was allowed by` (a
    /// rule that let it through at the base revision), `isolated by` (a policy that now
    /// isolates an end, for a closed connection).
    pub role: &'static str,
    /// `NetworkPolicy ns/name spec.egress[0]`, or the implicit XKS policy.
    pub what: String,
    /// `path:line:col` (at the base revision for `allowed`), when written in a file.
    pub at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Change {
    /// Environment (cluster) name; `None` when the repository is one cluster.
    pub environment: Option<String>,
    pub kind: ChangeKind,
    pub src: End,
    pub dst: End,
    /// The connections opened or closed (not the whole set allowed).
    pub conns: String,
    pub responsible: Vec<Responsible>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DiffReport {
    /// The revision compared with, as given or chosen (`origin/main`).
    pub base: String,
    /// Its commit id.
    pub commit: String,
    pub changes: Vec<Change>,
}

/// Rows of markdown shown before the rest is only counted.
pub const MARKDOWN_ROWS: usize = 50;

pub fn render(format: DiffFormat, report: &DiffReport) -> String {
    match format {
        DiffFormat::Txt => txt(report),
        DiffFormat::Json => {
            let mut text = serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".into());
            text.push('\n');
            text
        }
        DiffFormat::Markdown => markdown(report, MARKDOWN_ROWS),
    }
}

fn sign(kind: ChangeKind) -> &'static str {
    match kind {
        ChangeKind::Opened => "+",
        ChangeKind::Closed => "-",
    }
}

fn txt(report: &DiffReport) -> String {
    let mut out = Lines::new();
    let opened = count(report, ChangeKind::Opened);
    let closed = report.changes.len() - opened;
    out.line(format!(
        "against {} ({}): {opened} opened, {closed} closed",
        Inline(&report.base),
        short(&report.commit)
    ));
    let mut environment = None;
    for change in &report.changes {
        if change.environment.is_some() && change.environment.as_ref() != environment {
            environment = change.environment.as_ref();
            out.line(format!(
                "environment {}:",
                Inline(environment.map_or("", String::as_str))
            ));
        }
        out.line(format!(
            "{} {} => {} : {}",
            sign(change.kind),
            Inline(&change.src.label),
            Inline(&change.dst.label),
            change.conns
        ));
        for r in &change.responsible {
            out.line(format!(
                "    {} {}{}",
                r.role,
                Inline(&r.what),
                r.at.as_ref()
                    .map_or(String::new(), |at| format!(" at {}", Inline(at)))
            ));
        }
    }
    out.finish()
}

fn count(report: &DiffReport, kind: ChangeKind) -> usize {
    report.changes.iter().filter(|c| c.kind == kind).count()
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

/// A table cell: one line, `|` escaped, inside a code span when asked (backticks in the
/// text are replaced so the span cannot be closed early).
fn cell(text: &str, code: bool) -> String {
    let one_line = Inline(text).to_string().replace('|', "\\|");
    if code {
        format!("`{}`", one_line.replace('`', "'"))
    } else {
        one_line
    }
}

fn namespace(end: &End) -> &str {
    end.namespace.as_deref().unwrap_or("(outside the cluster)")
}

fn markdown(report: &DiffReport, cap: usize) -> String {
    let mut out = String::new();
    let opened = count(report, ChangeKind::Opened);
    let closed = report.changes.len() - opened;
    out.push_str(&format!(
        "## xks-lint: network changes against `{}` ({})\n\n",
        cell(&report.base, false).replace('`', "'"),
        short(&report.commit)
    ));
    if report.changes.is_empty() {
        out.push_str("No connection is opened or closed.\n");
        return out;
    }
    out.push_str(&format!(
        "**{opened}** connection(s) opened, **{closed}** closed.\n"
    ));
    // Grouped by environment, then namespace pair; opened before closed inside a group.
    let mut groups: BTreeMap<(Option<&str>, &str, &str), Vec<&Change>> = BTreeMap::new();
    for change in &report.changes {
        groups
            .entry((
                change.environment.as_deref(),
                namespace(&change.src),
                namespace(&change.dst),
            ))
            .or_default()
            .push(change);
    }
    let mut shown = 0;
    for ((environment, from, to), changes) in groups {
        if shown >= cap {
            break;
        }
        out.push_str(&format!(
            "\n### {}{} → {}\n\n| | Source | Destination | Connections | Responsible |\n|---|---|---|---|---|\n",
            environment.map_or(String::new(), |e| format!("{}: ", cell(e, false))),
            cell(from, true),
            cell(to, true)
        ));
        let mut sorted = changes;
        sorted.sort_by_key(|c| c.kind);
        for change in sorted {
            if shown >= cap {
                break;
            }
            shown += 1;
            let responsible: Vec<String> = change
                .responsible
                .iter()
                .map(|r| {
                    format!(
                        "{} {}{}",
                        r.role,
                        cell(&r.what, false),
                        r.at.as_ref()
                            .map_or(String::new(), |at| format!(" ({})", cell(at, true)))
                    )
                })
                .collect();
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                match change.kind {
                    ChangeKind::Opened => "🟢 opened",
                    ChangeKind::Closed => "🔴 closed",
                },
                cell(&change.src.label, true),
                cell(&change.dst.label, true),
                cell(&change.conns, false),
                responsible.join("<br>")
            ));
        }
    }
    let rest = report.changes.len().saturating_sub(shown);
    if rest > 0 {
        out.push_str(&format!(
            "\n…and {rest} more change(s) not shown; run `xks-lint diff` for the full list.\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::EndKind;

    fn end(label: &str, namespace: &str) -> End {
        End {
            label: label.to_string(),
            namespace: Some(namespace.to_string()),
            kind: EndKind::Workload,
        }
    }

    fn report(n: usize) -> DiffReport {
        DiffReport {
            base: "main".into(),
            commit: "0123456789abcdef".into(),
            changes: (0..n)
                .map(|i| Change {
                    environment: None,
                    kind: if i % 2 == 0 {
                        ChangeKind::Opened
                    } else {
                        ChangeKind::Closed
                    },
                    src: end(&format!("a/w{i}[Deployment]"), "a"),
                    dst: end("b|x/api[Deployment]", "b|x"),
                    conns: "TCP 8080".into(),
                    responsible: vec![Responsible {
                        role: "allowed by",
                        what: "NetworkPolicy a/p spec.egress[0]".into(),
                        at: Some("a/p.yaml:3:5".into()),
                    }],
                })
                .collect(),
        }
    }

    #[test]
    fn markdown_is_capped_with_a_count_and_escapes_cells() {
        let text = markdown(&report(MARKDOWN_ROWS + 7), MARKDOWN_ROWS);
        let rows = text
            .lines()
            .filter(|l| l.starts_with("| 🟢") || l.starts_with("| 🔴"))
            .count();
        assert_eq!(rows, MARKDOWN_ROWS);
        assert!(text.contains("and 7 more change(s)"), "{text}");
        // The namespace `b|x` cannot add a column.
        assert!(text.contains("`b\\|x/api[Deployment]`"), "{text}");
        assert!(!markdown(&report(3), MARKDOWN_ROWS).contains("more change"));
    }

    #[test]
    fn txt_marks_opened_and_closed() {
        let text = txt(&report(2));
        assert!(text.contains("1 opened, 1 closed"), "{text}");
        assert!(text.contains("+ a/w0[Deployment] => "), "{text}");
        assert!(text.contains("- a/w1[Deployment] => "), "{text}");
        assert!(text.contains("allowed by NetworkPolicy a/p spec.egress[0] at a/p.yaml:3:5"));
    }
}
