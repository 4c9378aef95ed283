//! Baseline files: the findings a team has accepted, recorded by fingerprint, so that the gate
//! reports only new ones. Same fingerprints as SARIF, so stable under line shifts.

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::GateOutcome;
use crate::diagnostic::Diagnostic;

pub const VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
pub struct BaselineFile {
    pub version: u32,
    pub tool: String,
    pub findings: Vec<Entry>,
}

/// One accepted finding. Only `fingerprint` is matched; the rest is there for reviewers.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    pub fingerprint: String,
    pub rule: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    pub message: String,
}

/// The fingerprints of a baseline file.
pub fn read(path: &Path) -> Result<BTreeSet<String>, String> {
    let cwd = std::env::current_dir().ok();
    let root = crate::load::boundary::root_of(path, cwd.as_deref());
    let limit = crate::limits::MAX_BASELINE_SIZE;
    let text = crate::load::boundary::read_user_file(path, &root, limit)
        .map_err(|e| format!("cannot read baseline {}: {e}", path.display()))?;
    let file: BaselineFile = serde_json::from_str(&text)
        .map_err(|e| format!("{}: not an xks-lint baseline: {e}", path.display()))?;
    if file.version != VERSION {
        return Err(format!(
            "{}: baseline version {} is not supported (expected {VERSION})",
            path.display(),
            file.version
        ));
    }
    Ok(file.findings.into_iter().map(|e| e.fingerprint).collect())
}

/// The baseline of every finding of an analysis (its reported ones, with the gate's
/// outcome: suppressed findings need no baseline entry).
pub fn render(diagnostics: &[Diagnostic], gate: &GateOutcome) -> String {
    let findings = diagnostics
        .iter()
        .filter_map(|d| {
            Some(Entry {
                fingerprint: d.fingerprint.clone()?,
                rule: d.rule.to_string(),
                path: gate.repo_path(d.location.file).to_string(),
                object: d.object.clone(),
                message: d.message.clone(),
            })
        })
        .collect();
    let file = BaselineFile {
        version: VERSION,
        tool: format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
        findings,
    };
    let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
    text.push('\n');
    text
}
