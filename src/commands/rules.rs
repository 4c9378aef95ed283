//! `xks-lint rules` and `xks-lint explain`: the rule registry and each rule's documentation.

use super::shared::{ReportFormat, suggestion, usage_error, write_stdout};
use crate::report::sanitize::Channel;
use crate::rules;

/// `xks-lint rules`: id, default severity and title per rule, or every field as JSON.
pub fn list(format: ReportFormat) -> u8 {
    match format {
        ReportFormat::Json => write_stdout(&rules_json(), Channel::Json),
        ReportFormat::Human => {
            let mut out = String::new();
            for rule in rules::registry() {
                out.push_str(&format!(
                    "{:<34} {:<8} {:<7} {}\n",
                    rule.doc.id,
                    rule.doc.severity.as_str(),
                    format!("fix:{}", rule.doc.fix_str()),
                    rule.doc.title
                ));
            }
            write_stdout(&out, Channel::Text)
        }
    }
}

/// `xks-lint explain RULE`: the rule's documentation.
pub fn explain(id: &str) -> u8 {
    match rules::find(id) {
        Some(rule) => write_stdout(
            &format!(
                "# {}\n\nDefault severity: {}\nAutomatic fix: {}\n\n{}",
                rule.doc.id,
                rule.doc.severity.as_str(),
                match rule.doc.fix_str() {
                    "safe" => "safe (`check --fix`)",
                    "unsafe" => "unsafe, changes behaviour (`check --unsafe-fixes`)",
                    _ => "none",
                },
                rule.doc.body
            ),
            Channel::Text,
        ),
        None => usage_error(&format!(
            "unknown rule `{id}`{}; `xks-lint rules` lists them",
            suggestion(id)
        )),
    }
}

/// `rules --format json`: every rule's metadata, from its documentation's front matter.
fn rules_json() -> String {
    let rules: Vec<serde_json::Value> = rules::registry()
        .iter()
        .map(|rule| {
            let doc = &rule.doc;
            serde_json::json!({
                "id": doc.id,
                "severity": doc.severity.as_str(),
                "title": doc.title,
                "tags": doc.tags,
                "precision": doc.precision,
                "weakens_isolation": doc.weakens_isolation,
                "fix": doc.fix_str(),
                "help_uri": format!("{}/blob/main/rules/{}.md", env!("CARGO_PKG_REPOSITORY"), doc.id),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&rules).unwrap_or_else(|_| "[]".to_string());
    text.push('\n');
    text
}
