//! Rule documentation: `rules/<id>.md` is the single source of a rule's title,
//! default severity, tags and prose. The markdown is embedded at compile time
//! and parsed here for `rules`, `explain` and the SARIF rule metadata.

use crate::diagnostic::{Applicability, Severity};

/// Sections every rule document must have, in this order.
pub const REQUIRED_SECTIONS: [&str; 4] = ["Why", "Bad", "Good", "Fix"];

#[derive(Debug, Clone)]
pub struct RuleDoc {
    pub id: &'static str,
    pub title: String,
    pub severity: Severity,
    pub tags: Vec<String>,
    /// SARIF `precision`: very-high, high, medium or low.
    pub precision: String,
    /// Whether a finding means isolation is weaker than intended (drives SARIF security-severity).
    pub weakens_isolation: bool,
    /// Front matter `fix: safe|unsafe|none`: the kind of automatic fix the rule's findings
    /// carry (`check --fix`, `--unsafe-fixes`); `None` when it has none.
    pub fix: Option<Applicability>,
    /// Markdown after the front matter.
    pub body: &'static str,
    /// Problems with the document itself; a test keeps this empty for every shipped rule.
    pub defects: Vec<String>,
}

impl RuleDoc {
    /// Parses a document; never fails, records what is wrong in `defects` instead.
    pub fn parse(id: &'static str, source: &'static str) -> RuleDoc {
        let mut doc = RuleDoc {
            id,
            title: String::new(),
            severity: Severity::Warning,
            tags: Vec::new(),
            precision: "high".to_string(),
            weakens_isolation: false,
            fix: None,
            body: source,
            defects: Vec::new(),
        };
        let Some(rest) = source.strip_prefix("---\n") else {
            doc.defects.push("missing front matter".to_string());
            return doc;
        };
        let Some(end) = rest.find("\n---\n") else {
            doc.defects.push("unterminated front matter".to_string());
            return doc;
        };
        doc.body = rest[end + 5..].trim_start_matches('\n');
        let mut severity_seen = false;
        let mut fix_seen = false;
        for line in rest[..end].lines() {
            let Some((key, value)) = line.split_once(':') else {
                doc.defects
                    .push(format!("front matter line without `key:`: {line}"));
                continue;
            };
            let value = value.trim();
            match key.trim() {
                "title" => doc.title = value.to_string(),
                "severity" => match Severity::parse(value) {
                    Some(severity) => {
                        doc.severity = severity;
                        severity_seen = true;
                    }
                    None => doc.defects.push(format!("unknown severity `{value}`")),
                },
                "tags" => {
                    doc.tags = value
                        .split(',')
                        .map(|t| t.trim().to_string())
                        .filter(|t| !t.is_empty())
                        .collect()
                }
                "precision" => doc.precision = value.to_string(),
                "weakens-isolation" => doc.weakens_isolation = value == "true",
                "fix" => {
                    fix_seen = true;
                    doc.fix = match value {
                        "safe" => Some(Applicability::Safe),
                        "unsafe" => Some(Applicability::Unsafe),
                        "none" => None,
                        other => {
                            doc.defects
                                .push(format!("unknown fix `{other}` (safe, unsafe or none)"));
                            None
                        }
                    }
                }
                other => doc
                    .defects
                    .push(format!("unknown front matter key `{other}`")),
            }
        }
        if doc.title.is_empty() {
            doc.defects.push("missing title".to_string());
        }
        if !severity_seen {
            doc.defects.push("missing severity".to_string());
        }
        if !fix_seen {
            doc.defects
                .push("missing `fix: safe|unsafe|none`".to_string());
        }
        for section in REQUIRED_SECTIONS {
            if doc.section(section).is_none() {
                doc.defects.push(format!("missing section `## {section}`"));
            }
        }
        doc
    }

    /// Text of the `## name` section, without its heading.
    pub fn section(&self, name: &str) -> Option<&'static str> {
        let body: &'static str = self.body;
        let heading = format!("## {name}\n");
        let start = if body.starts_with(&heading) {
            heading.len()
        } else {
            body.find(&format!("\n{heading}"))? + heading.len() + 1
        };
        let rest = &body[start..];
        let end = rest.find("\n## ").map(|i| i + 1).unwrap_or(rest.len());
        Some(rest[..end].trim())
    }

    /// `safe`, `unsafe` or `none`, as the front matter writes it.
    pub fn fix_str(&self) -> &'static str {
        self.fix.map_or("none", Applicability::as_str)
    }

    /// First paragraph of the `Why` section: the one-line description.
    pub fn summary(&self) -> String {
        self.section("Why")
            .and_then(|why| why.split("\n\n").next())
            .map(|p| p.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| self.title.clone())
    }
}
