//! Real public manifests nobody here wrote: no panic, every file accounted for.

use std::path::{Path, PathBuf};

mod common;

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

fn manifest_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            manifest_files(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(path);
        }
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
    assert_eq!(summary.files_found, expected.len());
    assert_eq!(
        summary.files_read + summary.files_skipped,
        summary.files_found
    );
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
    for file in files {
        let summary = common::analyze_paths(&[&file]).summary();
        assert_eq!(summary.files_found, 1, "{}", file.display());
        assert_eq!(
            summary.files_read + summary.files_skipped,
            1,
            "{}",
            file.display()
        );
    }
}
