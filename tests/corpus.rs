//! Real public manifests nobody here wrote: no panic, every file accounted for.

use std::path::PathBuf;

mod common;
#[path = "support/manifests.rs"]
mod manifests;
use manifests::manifest_files;

/// `../shared/corpus` beside the repository, or `XKS_LINT_CORPUS` when CI keeps it elsewhere.
fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("XKS_LINT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/corpus"));
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "SKIPPED: corpus {} is not present (set XKS_LINT_CORPUS)",
            dir.display()
        );
        None
    }
}

#[test]
fn whole_corpus_is_accounted_for() {
    let Some(corpus) = corpus_dir() else {
        return;
    };
    let corpus = corpus.as_path();
    let mut expected = Vec::new();
    manifest_files(corpus, &mut expected);
    assert!(!expected.is_empty());

    let analysis = common::analyze_paths(&[corpus]);
    let summary = analysis.summary();
    // Every manifest file is read, skipped with a reason, or counted as left out (hidden
    // directories such as `.github`, ignore files, excludes).
    let left_out = summary.files_hidden + summary.files_ignored + summary.files_excluded;
    assert_eq!(
        summary.files_found + left_out,
        expected.len(),
        "{:?}",
        analysis.left_out
    );
    assert_eq!(analysis.left_out.len(), left_out);
    assert_eq!(
        summary.files_read + summary.files_skipped,
        summary.files_found
    );
    // Nothing is read twice: no file is both walked and pulled in by a kustomization.
    assert_eq!(summary.files_referenced, 0);
    assert!(
        summary.objects >= expected.len(),
        "every corpus file holds at least one object"
    );
    // The XKS guide's examples include the unquoted integer annotation and the removed Ingress API.
    let fired = |rule: &str| analysis.diagnostics.iter().any(|d| d.rule == rule);
    assert!(fired("annotation-not-string"));
    assert!(fired("removed-api-version"));
    assert!(!fired("parse-error"), "{}", common::describe(&analysis));
}

#[test]
fn each_corpus_file_alone_is_accounted_for() {
    let Some(corpus) = corpus_dir() else {
        return;
    };
    let corpus = corpus.as_path();
    let mut files = Vec::new();
    manifest_files(corpus, &mut files);
    let mut pulled_in = 0;
    for file in files {
        let summary = common::analyze_paths(&[&file]).summary();
        // The file named, plus what a kustomization pulls in (its resources and patches).
        assert_eq!(
            summary.files_found,
            1 + summary.files_referenced,
            "{}",
            file.display()
        );
        assert_eq!(
            summary.files_read + summary.files_skipped,
            summary.files_found,
            "{}",
            file.display()
        );
        if summary.files_referenced > 0 {
            pulled_in += 1;
            assert!(
                xks_lint::load::is_kustomization_file(&file),
                "only kustomizations pull in other files: {}",
                file.display()
            );
        }
    }
    // The real repositories' overlays reference bases beside them.
    assert!(pulled_in > 0);
}
