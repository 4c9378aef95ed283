//! Paths relative to the repository root: what SARIF `%SRCROOT%` URIs, GitHub
//! annotations, GitLab reports and fingerprints use, so they do not depend on the
//! directory the linter was started from.

use std::path::{Component, Path, PathBuf};

use crate::load::Sources;

/// The nearest directory at or above `start` holding `.git` (a directory, or a file
/// in worktrees and submodules); `start` itself when there is none.
pub fn repo_root(start: &Path) -> PathBuf {
    let start = normalize(start);
    start
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .map(Path::to_path_buf)
        .unwrap_or(start)
}

/// Removes `.` and resolves `..` lexically (symlinks are not followed: the path a user
/// sees is the path reported).
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// `path` relative to `root`, with `/` separators. Never an absolute path and never `..`:
/// a file outside the root (another repository named on the command line) is given
/// relative to its own repository ([`crate::load::boundary::root_of`]).
pub fn relative(root: &Path, path: &Path, cwd: &Path) -> String {
    relative_to_normal(&normalize(root), path, cwd)
}

/// [`relative`] with `root` already normalized.
fn relative_to_normal(root: &Path, path: &Path, cwd: &Path) -> String {
    let absolute = normalize(&cwd.join(path));
    let below = |base: &Path| {
        absolute.strip_prefix(base).ok().map(|rest| {
            rest.components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
    };
    if let Some(inside) = below(root) {
        return inside;
    }
    let own = crate::load::boundary::root_of(&absolute, Some(cwd));
    below(&own)
        .filter(|p| !p.is_empty())
        .or_else(|| {
            absolute
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default()
}

/// The root-relative path of every source file, indexed by `FileId` (on every core: one
/// per file read, 100,000 and more in a large repository).
pub fn repo_paths(sources: &Sources, root: &Path, cwd: &Path) -> Vec<String> {
    use rayon::prelude::*;
    let root = normalize(root);
    sources
        .files
        .par_iter()
        .map(|file| {
            if file.path.as_os_str() == "-" {
                file.display.clone()
            } else {
                relative_to_normal(&root, &file.path, cwd)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_never_absolute() {
        let root = Path::new("/repo");
        let cwd = Path::new("/repo/sub");
        assert_eq!(relative(root, Path::new("./a/b.yaml"), cwd), "sub/a/b.yaml");
        assert_eq!(relative(root, Path::new("/repo/x.yaml"), cwd), "x.yaml");
        // Outside the root: relative to the file's own root, never `..` nor absolute.
        for outside in ["../../elsewhere/c.yaml", "/other/d.yaml"] {
            let path = relative(root, Path::new(outside), cwd);
            assert!(!path.contains("..") && !path.starts_with('/'), "{path}");
            assert!(path.ends_with(".yaml"), "{path}");
        }
    }
}
