//! Real public manifests nobody here wrote: no panic, every file accounted for.

use std::path::{Path, PathBuf};

mod common;

const CORPUS: &str = "../shared/corpus";

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
    let corpus = Path::new(CORPUS);
    if !corpus.is_dir() {
        eprintln!("SKIPPED: {CORPUS} is not present next to the repository");
        return;
    }
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
    let corpus = Path::new(CORPUS);
    if !corpus.is_dir() {
        eprintln!("SKIPPED: {CORPUS} is not present next to the repository");
        return;
    }
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
