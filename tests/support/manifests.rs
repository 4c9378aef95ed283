//! The manifest files under a directory, for the tests that read whole corpora: included by
//! `tests/corpus.rs` and by the YAML fast path's differential test (`#[path]`), which reads
//! the same trees.

use std::path::{Path, PathBuf};

/// Every `.yaml`, `.yml` and `.json` file below `dir`, depth first; unreadable directories
/// are passed over (the callers count what they found).
pub fn manifest_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
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
