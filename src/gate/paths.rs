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

/// `path` relative to `root`, with `/` separators, climbing with `..` when the file is
/// outside the root (never an absolute path).
pub fn relative(root: &Path, path: &Path, cwd: &Path) -> String {
    let absolute = normalize(&cwd.join(path));
    let root = normalize(root);
    let ours: Vec<Component> = absolute.components().collect();
    let theirs: Vec<Component> = root.components().collect();
    let common = ours.iter().zip(&theirs).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = Vec::new();
    for _ in common..theirs.len() {
        parts.push("..".to_string());
    }
    for component in &ours[common..] {
        parts.push(component.as_os_str().to_string_lossy().to_string());
    }
    parts.join("/")
}

/// The root-relative path of every source file, indexed by `FileId`.
pub fn repo_paths(sources: &Sources, root: &Path, cwd: &Path) -> Vec<String> {
    sources
        .files
        .iter()
        .map(|file| {
            if file.path.as_os_str() == "-" {
                file.display.clone()
            } else {
                relative(root, &file.path, cwd)
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
        assert_eq!(
            relative(root, Path::new("../../elsewhere/c.yaml"), cwd),
            "../elsewhere/c.yaml"
        );
        assert_eq!(
            relative(root, Path::new("/other/d.yaml"), cwd),
            "../other/d.yaml"
        );
    }
}
