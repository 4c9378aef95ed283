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
    use rayon::prelude::*;
    // A sort compares n log n times: each file's place among the findings' files is
    // worked out once, and two findings then compare two numbers, not two paths.
    let rank = display_ranks(diagnostics, sources);
    let rank_of = |d: &Diagnostic| {
        rank.get(d.location.file.index())
            .copied()
            .unwrap_or(u32::MAX)
    };
    let order = |a: &Diagnostic, b: &Diagnostic| {
        let key = |d: &Diagnostic| (rank_of(d), d.location.span.start.byte, d.rule);
        key(a)
            .cmp(&key(b))
            .then_with(|| a.message.cmp(&b.message))
            .then_with(|| a.location.span.end.cmp(&b.location.span.end))
    };
    // The gate sorts twice (before and after suppression); the second finds the findings
    // in order unless suppression comments added some.
    if diagnostics.is_sorted_by(|a, b| order(a, b).is_le()) {
        return;
    }
    // A merge sort moves what it sorts about log n times, and a finding is some 300
    // bytes: sorting 16-byte keys, then moving each finding once, keeps 130,000 findings
    // (100,000 workloads) from copying ~600 MB and touching a fresh buffer as large as
    // the list. The index breaks ties last, so the order stays stable, as `sort_by`'s.
    let mut keys: Vec<(u32, u32, usize)> = diagnostics
        .par_iter()
        .enumerate()
        .map(|(index, d)| (rank_of(d), d.location.span.start.byte, index))
        .collect();
    keys.par_sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| order(&diagnostics[a.2], &diagnostics[b.2]).then_with(|| a.2.cmp(&b.2)))
    });
    let sources_of: Vec<usize> = keys.into_iter().map(|(_, _, index)| index).collect();
    permute(diagnostics, &sources_of);
}

/// Reorders `items` so that position `i` holds what position `sources_of[i]` held
/// (`sources_of` is a permutation): each cycle of the permutation is walked once with
/// swaps, so every item moves about once and no second list is needed.
fn permute<T>(items: &mut [T], sources_of: &[usize]) {
    let mut placed = vec![false; items.len()];
    for start in 0..items.len() {
        if placed[start] {
            continue;
        }
        placed[start] = true;
        let mut current = start;
        while let Some(&source) = sources_of.get(current) {
            // The cycle closes: what `start` held has travelled to `current`, its place.
            if source == start || source >= items.len() || placed[source] {
                break;
            }
            items.swap(current, source);
            placed[source] = true;
            current = source;
        }
    }
}

/// For each file findings point into (by index), its rank when those files are sorted by
/// their displayed path; files displayed alike share a rank, so ordering by rank is
/// ordering by displayed path.
fn display_ranks(diagnostics: &[Diagnostic], sources: &Sources) -> Vec<u32> {
    use rayon::prelude::*;
    let len = diagnostics
        .iter()
        .map(|d| d.location.file.index().saturating_add(1))
        .max()
        .unwrap_or(0);
    let mut used = vec![false; len];
    for diagnostic in diagnostics {
        if let Some(flag) = used.get_mut(diagnostic.location.file.index()) {
            *flag = true;
        }
    }
    let mut files: Vec<(&str, usize)> = used
        .iter()
        .enumerate()
        .filter(|(_, used)| **used)
        .map(|(index, _)| (sources.display(FileId::new(index)), index))
        .collect();
    // The walk reads files in path order, which is nearly always display order too.
    if !files.windows(2).all(|pair| pair[0].0 <= pair[1].0) {
        files.par_sort_unstable_by(|a, b| a.0.cmp(b.0));
    }
    let mut rank = vec![u32::MAX; len];
    let mut current = 0u32;
    let mut previous: Option<&str> = None;
    for (display, index) in files {
        if previous.is_some_and(|p| p != display) {
            current = current.saturating_add(1);
        }
        previous = Some(display);
        if let Some(slot) = rank.get_mut(index) {
            *slot = current;
        }
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Severity;
    use crate::load::SourceFile;
    use crate::span::{End, Span, Start};
    use std::sync::Arc;

    /// Sorting by ranks of displayed paths orders findings exactly as comparing the paths
    /// themselves: files read out of display order, two files displayed alike, and an id
    /// the run does not hold ("<unknown>").
    #[test]
    fn findings_sort_by_displayed_path_then_place_then_rule() {
        let mut sources = Sources::default();
        for display in ["b/z.yaml", "a/y.yaml", "b/z.yaml", "a/b.yaml", "c.yaml"] {
            sources.push(SourceFile::new(
                PathBuf::from(display),
                display.to_string(),
                Arc::new(String::new()),
            ));
        }
        let finding = |file: usize, start: u32, end: u32, rule: &'static str, message: &str| {
            let span = Span {
                start: Start { byte: start },
                end: End { byte: end },
            };
            Diagnostic::new(
                rule,
                Severity::Warning,
                Location {
                    file: FileId::new(file),
                    span,
                },
                message,
            )
        };
        let mut diagnostics = Vec::new();
        for (file, start, end, rule, message) in [
            (0, 5, 9, "r-b", "m"),
            (2, 5, 9, "r-a", "m"),
            (1, 7, 8, "r-a", "second"),
            (9, 0, 1, "r-a", "unknown file"),
            (4, 0, 1, "r-a", "m"),
            (1, 7, 8, "r-a", "first"),
            (3, 3, 4, "r-c", "m"),
            (2, 1, 2, "r-a", "m"),
            (0, 1, 2, "r-a", "m"),
            (1, 7, 3, "r-a", "first"),
            (0, 5, 9, "r-b", "m"),
        ] {
            diagnostics.push(finding(file, start, end, rule, message));
        }
        let mut expected = diagnostics.clone();
        expected.sort_by(|a, b| {
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
        sort_diagnostics(&mut diagnostics, &sources);
        let seen = |list: &[Diagnostic]| -> Vec<(usize, u32, u32, &'static str, String)> {
            list.iter()
                .map(|d| {
                    (
                        d.location.file.index(),
                        d.location.span.start.byte,
                        d.location.span.end.byte,
                        d.rule,
                        d.message.clone(),
                    )
                })
                .collect()
        };
        assert_eq!(seen(&diagnostics), seen(&expected));
        // `<unknown>` sorts before letters; files displayed alike interleave by place, as
        // their paths compare equal, and equal findings keep their order.
        let order: Vec<usize> = diagnostics
            .iter()
            .map(|d| d.location.file.index())
            .collect();
        assert_eq!(order, [9, 3, 1, 1, 1, 2, 0, 2, 0, 0, 4]);
    }

    /// Findings equal in every key keep the order they came in (the second copy of a
    /// finding is numbered second by its fingerprint), however many there are.
    #[test]
    fn equal_findings_keep_their_order() {
        let mut sources = Sources::default();
        for display in ["b.yaml", "a.yaml"] {
            sources.push(SourceFile::new(
                PathBuf::from(display),
                display.to_string(),
                Arc::new(String::new()),
            ));
        }
        let mut diagnostics: Vec<Diagnostic> = (0..200)
            .map(|n| {
                let mut d = Diagnostic::new(
                    "r",
                    Severity::Note,
                    Location {
                        file: FileId::new(n % 2),
                        span: Span {
                            start: Start { byte: 3 },
                            end: End { byte: 4 },
                        },
                    },
                    "same",
                );
                d.object = Some(n.to_string());
                d
            })
            .collect();
        sort_diagnostics(&mut diagnostics, &sources);
        let arrival: Vec<usize> = diagnostics
            .iter()
            .filter_map(|d| d.object.as_deref()?.parse().ok())
            .collect();
        let odd = (1..200).step_by(2);
        let even = (0..200).step_by(2);
        assert_eq!(arrival, odd.chain(even).collect::<Vec<usize>>());
    }

    /// `permute` puts at each place what the permutation names, for permutations of one
    /// cycle, many short cycles and fixed points.
    #[test]
    fn permute_moves_each_item_to_its_place() {
        let mut seed = 0x2545_f491_u64;
        for len in [0usize, 1, 2, 3, 17, 256] {
            for _ in 0..20 {
                let mut sources_of: Vec<usize> = (0..len).collect();
                // Fisher-Yates with a fixed linear congruential sequence.
                for i in (1..len).rev() {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let j = (seed >> 33) as usize % (i + 1);
                    sources_of.swap(i, j);
                }
                let original: Vec<String> = (0..len).map(|i| format!("item {i}")).collect();
                let mut items = original.clone();
                permute(&mut items, &sources_of);
                let expected: Vec<String> =
                    sources_of.iter().map(|&i| original[i].clone()).collect();
                assert_eq!(items, expected, "permutation {sources_of:?}");
            }
        }
    }
}
