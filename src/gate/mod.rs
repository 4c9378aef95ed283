//! Gate stage, after the rules: everything that decides which findings a CI gate
//! reports — fingerprints, suppressions, the baseline and `--only-files` — and the
//! root-relative paths the CI formats need. Runs on diagnostics and the model only.

pub mod fingerprint;
pub mod paths;

use std::path::PathBuf;

use crate::diagnostic::Diagnostic;
use crate::load::Sources;
use crate::span::{FileId, Location};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressionKind {
    /// `xks-lint.io/ignore` annotation on the object.
    Annotation,
    /// `# xks-lint: ignore[...]` comment on the finding's line or the line above.
    Comment,
}

/// A finding that a suppression silenced: not reported, but counted and kept for SARIF.
#[derive(Debug, Clone)]
pub struct Suppressed {
    pub diagnostic: Diagnostic,
    pub kind: SuppressionKind,
    /// Where the suppression is written.
    pub location: Location,
    /// Text after `--` in the suppression, if any.
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct GateOptions {
    /// Directory the relative paths are computed from; the repository root above the
    /// working directory when `None`.
    pub root: Option<PathBuf>,
}

/// What the gate did, for reporters and the summary.
#[derive(Debug, Clone, Default)]
pub struct GateOutcome {
    pub root: PathBuf,
    /// Root-relative path of every source file, indexed by `FileId`.
    pub repo_paths: Vec<String>,
    pub suppressed: Vec<Suppressed>,
}

impl GateOutcome {
    pub fn repo_path(&self, file: FileId) -> &str {
        self.repo_paths
            .get(file.0)
            .map(String::as_str)
            .unwrap_or("<unknown>")
    }
}

/// Applies the gate to sorted diagnostics.
pub fn apply(
    sources: &Sources,
    mut diagnostics: Vec<Diagnostic>,
    options: &GateOptions,
) -> (Vec<Diagnostic>, GateOutcome) {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let root = options
        .root
        .clone()
        .map(|r| paths::normalize(&cwd.join(r)))
        .unwrap_or_else(|| paths::repo_root(&cwd));
    let repo_paths = paths::repo_paths(sources, &root, &cwd);
    let path_of = |d: &Diagnostic| {
        repo_paths
            .get(d.location.file.0)
            .cloned()
            .unwrap_or_default()
    };
    fingerprint::assign(&mut diagnostics, path_of);
    (
        diagnostics,
        GateOutcome {
            root,
            repo_paths,
            ..GateOutcome::default()
        },
    )
}
