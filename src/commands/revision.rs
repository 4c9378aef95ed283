//! Analysing another revision of the checked repository (`check --new-from-rev`,
//! `check --only-files` in a git repository, `diff`): its tree is exported from the object
//! database into a private temporary directory ([`crate::load::git`]) and loaded by the
//! same loader, with the same limits, as the working tree.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::analysis::{CheckOptions, analyze};
use crate::load::Input;
use crate::load::git::{self, Repo};

/// The repository of the first PATH, when it is a git repository (`None` otherwise, or for
/// standard input).
pub(crate) fn repository(paths: &[String]) -> Option<Repo> {
    let first = paths.first().map_or(".", String::as_str);
    if first == "-" {
        return None;
    }
    let cwd = std::env::current_dir().ok();
    let root = crate::load::boundary::root_of(Path::new(first), cwd.as_deref());
    if !root.join(".git").exists() {
        return None;
    }
    git::open(&root).ok()
}

/// A revision's tree on disk for the length of a run; removed when dropped.
pub(crate) struct Exported {
    pub dir: tempfile::TempDir,
    /// The checked PATHs as they lie in the export (those that exist at the revision).
    pub inputs: Vec<Input>,
}

/// Exports `commit` and maps the checked PATHs into it. A PATH outside the repository or
/// standard input cannot be compared: an error.
pub(crate) fn export(
    repo: &Repo,
    commit: gix::ObjectId,
    paths: &[String],
    max_file_size: u64,
) -> Result<Exported, String> {
    let dir = tempfile::Builder::new()
        .prefix("xks-lint-rev-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    repo.export(commit, dir.path(), max_file_size)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let root = crate::gate::paths::normalize(&cwd.join(&repo.root));
    let mut inputs = Vec::new();
    let paths: Vec<&str> = if paths.is_empty() {
        vec!["."]
    } else {
        paths.iter().map(String::as_str).collect()
    };
    for path in paths {
        if path == "-" {
            return Err("standard input has no earlier revision to compare with".to_string());
        }
        let absolute = crate::gate::paths::normalize(&cwd.join(path));
        let relative = absolute.strip_prefix(&root).map_err(|_| {
            format!(
                "{path}: outside the repository {}, so it has no revision there",
                root.display()
            )
        })?;
        let there = dir.path().join(relative);
        if there.exists() {
            inputs.push(Input::Path(there));
        }
    }
    Ok(Exported { dir, inputs })
}

/// Fingerprints of the findings `options` gives at `commit` (the same config, rules and
/// settings; no baseline, no `--only-files`). Empty when none of the PATHs exists there.
pub(crate) fn findings_at(
    options: &CheckOptions,
    repo: &Repo,
    commit: gix::ObjectId,
    paths: &[String],
) -> Result<BTreeSet<String>, String> {
    let exported = export(repo, commit, paths, options.walk.max_file_size)?;
    if exported.inputs.is_empty() {
        return Ok(BTreeSet::new());
    }
    let options = CheckOptions {
        inputs: exported.inputs.clone(),
        gate: crate::gate::GateOptions {
            root: Some(exported.dir.path().to_path_buf()),
            ..Default::default()
        },
        ..options.clone()
    };
    let analysis = analyze(&options);
    Ok(analysis
        .diagnostics
        .iter()
        .filter_map(|d| d.fingerprint.clone())
        .collect())
}
