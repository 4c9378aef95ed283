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
/// outcome: suppressed findings need no baseline entry), written to `out` as serde_json's
/// pretty form of a [`BaselineFile`]. The entries are borrowed from the findings as they are
/// written: at 100,000 workloads the file is 50 MB, which a copy of every entry and the
/// whole text before writing added to the run's peak (past 2×10⁹ bytes).
pub fn write(
    diagnostics: &[Diagnostic],
    gate: &GateOutcome,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    /// [`Entry`], borrowed.
    #[derive(Serialize)]
    struct EntryRef<'a> {
        fingerprint: &'a str,
        rule: &'a str,
        path: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        object: Option<&'a str>,
        message: &'a str,
    }
    struct Findings<'a>(&'a [Diagnostic], &'a GateOutcome);
    impl Serialize for Findings<'_> {
        fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
            let Findings(diagnostics, gate) = self;
            serializer.collect_seq(diagnostics.iter().filter_map(|d| {
                Some(EntryRef {
                    fingerprint: d.fingerprint.as_deref()?,
                    rule: d.rule,
                    path: gate.repo_path(d.location.file),
                    object: d.object.as_deref(),
                    message: &d.message,
                })
            }))
        }
    }
    /// [`BaselineFile`], borrowed.
    #[derive(Serialize)]
    struct FileRef<'a> {
        version: u32,
        tool: String,
        findings: Findings<'a>,
    }
    let file = FileRef {
        version: VERSION,
        tool: format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
        findings: Findings(diagnostics, gate),
    };
    serde_json::to_writer_pretty(&mut *out, &file).map_err(std::io::Error::other)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Severity;
    use crate::span::{FileId, Location, Span};

    #[test]
    fn the_written_baseline_is_the_pretty_form_of_the_owned_file() {
        // Entries are borrowed while written: the bytes must be those of serializing the
        // owned `BaselineFile` (which `read` parses), empty or not, findings without a
        // fingerprint (suppressed ones) left out and `object` only when there is one.
        let gate = GateOutcome {
            repo_paths: vec!["a.yaml".to_string(), "dir/b \"q\".yaml".to_string()],
            ..GateOutcome::default()
        };
        let at = |file: usize| Location {
            file: FileId::new(file),
            span: Span::default(),
        };
        let mut with_object = Diagnostic::new("rule-a", Severity::Error, at(0), "one\nline");
        with_object.fingerprint = Some("f1".to_string());
        with_object.object = Some("Service/ns/x".to_string());
        let mut without_object = Diagnostic::new("rule-b", Severity::Note, at(1), "two");
        without_object.fingerprint = Some("f2".to_string());
        let suppressed = Diagnostic::new("rule-c", Severity::Warning, at(0), "three");
        let all = [with_object, suppressed, without_object];
        for diagnostics in [&all[..0], &all[..]] {
            let mut written = Vec::new();
            write(diagnostics, &gate, &mut written).unwrap();
            let owned = BaselineFile {
                version: VERSION,
                tool: format!("{} {}", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION")),
                findings: diagnostics
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
                    .collect(),
            };
            let want = format!("{}\n", serde_json::to_string_pretty(&owned).unwrap());
            assert_eq!(String::from_utf8(written).unwrap(), want);
        }
    }
}
