//! Gate stage, after the rules: everything that decides which findings a CI gate
//! reports — fingerprints, suppressions, the baseline and `--only-files` — and the
//! root-relative paths the CI formats need. Runs on diagnostics and the model only.

pub mod baseline;
pub mod fingerprint;
pub mod paths;
pub mod suppress;

use crate::hashing::FastSet;
use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::diagnostic::Diagnostic;
use crate::load::Sources;
use crate::model::Model;
use crate::rules::RuleSelection;
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
    /// Fingerprints of accepted findings (`--baseline`): those are not reported.
    pub baseline: Option<BTreeSet<String>>,
    /// Report only findings located in these files (`--only-files`); everything is still
    /// loaded and analysed, because a finding may depend on other files.
    pub only_files: Option<Vec<PathBuf>>,
    /// With `only_files`: fingerprints of the findings at the commit the change starts
    /// from (HEAD for a pre-commit run). A finding absent there is a consequence of the
    /// change wherever it is located, so it stays in scope.
    pub findings_before: Option<BTreeSet<String>>,
    /// `--new-from-rev`: fingerprints of the findings at that revision; those are not
    /// reported.
    pub known_at_rev: Option<BTreeSet<String>>,
}

/// What the gate did, for reporters and the summary.
#[derive(Debug, Clone, Default)]
pub struct GateOutcome {
    pub root: PathBuf,
    /// Root-relative path of every source file, indexed by `FileId`.
    pub repo_paths: Vec<String>,
    pub suppressed: Vec<Suppressed>,
    /// Findings left out because the baseline has them.
    pub baselined: usize,
    /// Baseline entries that no longer occur (`--write-baseline` prunes them).
    pub baseline_stale: usize,
    pub baseline_used: bool,
    /// Findings left out because they are in files not passed to `--only-files`.
    pub outside_only_files: usize,
    /// Findings left out because they already exist at the `--new-from-rev` revision.
    pub known_at_rev: usize,
}

impl GateOutcome {
    pub fn repo_path(&self, file: FileId) -> &str {
        self.repo_paths
            .get(file.index())
            .map(String::as_str)
            .unwrap_or("<unknown>")
    }
}

/// Applies the gate to sorted diagnostics: fingerprints, suppressions (and
/// `unused-suppression`), the baseline, then `--only-files`.
pub fn apply(
    model: &Model,
    sources: &Sources,
    mut diagnostics: Vec<Diagnostic>,
    selection: &RuleSelection,
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
            .get(d.location.file.index())
            .map_or("", String::as_str)
    };
    // Fingerprints before suppressing, so that silencing one of two identical findings does
    // not renumber the other.
    fingerprint::assign(&mut diagnostics, path_of);
    let (mut kept, mut suppressed, mut unused) =
        suppress::apply(model, sources, diagnostics, selection);
    sort_diagnostics(&mut unused, sources);
    fingerprint::assign(&mut unused, path_of);
    kept.extend(unused);
    sort_diagnostics(&mut kept, sources);

    let mut outcome = GateOutcome {
        root,
        ..GateOutcome::default()
    };
    if let Some(baseline) = &options.baseline {
        outcome.baseline_used = true;
        let before = kept.len();
        let mut matched = FastSet::default();
        kept.retain(
            |d| match d.fingerprint.as_ref().filter(|f| baseline.contains(*f)) {
                Some(fingerprint) => {
                    matched.insert(fingerprint.clone());
                    false
                }
                None => true,
            },
        );
        outcome.baselined = before - kept.len();
        outcome.baseline_stale = baseline.len().saturating_sub(matched.len());
    }
    if let Some(known) = &options.known_at_rev {
        let before = kept.len();
        kept.retain(|d| d.fingerprint.as_ref().is_none_or(|f| !known.contains(f)));
        outcome.known_at_rev = before - kept.len();
    }
    if let Some(files) = &options.only_files {
        let wanted: FastSet<PathBuf> = files.iter().filter_map(|f| canonical(&cwd, f)).collect();
        let in_scope: Vec<bool> = sources
            .files
            .iter()
            .map(|f| canonical(&cwd, &f.path).is_some_and(|p| wanted.contains(&p)))
            .collect();
        let changed = |file: FileId| in_scope.get(file.index()).copied().unwrap_or(false);
        // Whole consequences: the finding's own file, the files of the places it cites,
        // and — when the state before the change is known — every finding the change
        // created (a typo in one namespace's policy breaks a flow reported in another's;
        // a deleted policy leaves no file to point at).
        let keep = |d: &Diagnostic| {
            changed(d.location.file)
                || d.related.iter().any(|r| changed(r.location.file))
                || d.cites.iter().any(|l| changed(l.file))
                || options.findings_before.as_ref().is_some_and(|before| {
                    d.fingerprint.as_ref().is_some_and(|f| !before.contains(f))
                })
        };
        let before = kept.len();
        kept.retain(keep);
        outcome.outside_only_files = before - kept.len();
        suppressed.retain(|s| keep(&s.diagnostic));
    }
    outcome.repo_paths = repo_paths;
    outcome.suppressed = suppressed;
    (kept, outcome)
}

fn canonical(cwd: &std::path::Path, path: &std::path::Path) -> Option<PathBuf> {
    std::fs::canonicalize(cwd.join(path)).ok()
}

/// Sorts findings by path, line, column, rule, then message and end: the order of every
/// report. In one file the start's byte offset orders as its line and column do, and
/// needs no counting in the text.
pub fn sort_diagnostics(diagnostics: &mut [Diagnostic], sources: &Sources) {
    diagnostics.sort_by(|a, b| {
        // Borrowed, not copied: a sort compares n log n times.
        let key = |d: &Diagnostic| {
            (
                sources.display(d.location.file),
                d.location.span.start.byte,
                d.rule,
            )
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.message.cmp(&b.message))
            .then_with(|| a.location.span.end.cmp(&b.location.span.end))
    });
}
