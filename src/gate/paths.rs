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
    if let Some(inside) = below_by_bytes(root, path, cwd) {
        return inside;
    }
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

/// [`relative_to_normal`] for the path of nearly every file: normal (no `.`, `..` or empty
/// component once leading `./` are gone), and absolute under the root, or relative to a
/// working directory at or under it. Its root-relative form is then a slice of bytes;
/// taking both paths apart component by component cost some 8,000 instructions a file.
/// `None` for every other path, which the general way handles.
fn below_by_bytes(root: &Path, path: &Path, cwd: &Path) -> Option<String> {
    use crate::load::is_normal_absolute;
    fn bytes(path: &Path) -> &[u8] {
        path.as_os_str().as_encoded_bytes()
    }
    // The part of `full` (normal and absolute) below `root`, if it is below it.
    let under_root = |full: &[u8]| -> Option<Vec<u8>> {
        let rest = full.strip_prefix(bytes(root))?.strip_prefix(b"/")?;
        (!rest.is_empty()).then(|| rest.to_vec())
    };
    if !is_normal_absolute(root) {
        return None;
    }
    let inside = if is_normal_absolute(path) {
        under_root(bytes(path))?
    } else {
        let mut relative = bytes(path);
        while let Some(rest) = relative.strip_prefix(b"./") {
            relative = rest;
        }
        let normal = !relative.is_empty()
            && relative
                .split(|&b| b == b'/')
                .all(|part| !part.is_empty() && part != b"." && part != b"..");
        if !normal || !is_normal_absolute(cwd) {
            return None;
        }
        if bytes(cwd) == bytes(root) {
            relative.to_vec()
        } else {
            let mut inside = under_root(bytes(cwd))?;
            inside.push(b'/');
            inside.extend_from_slice(relative);
            inside
        }
    };
    Some(String::from_utf8_lossy(&inside).into_owned())
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
    fn the_byte_shortcut_agrees_with_taking_paths_apart() {
        let roots = ["/repo", "/repo/sub", "/", "/re", "/repo/./x", "relative"];
        let cwds = ["/repo", "/repo/sub", "/elsewhere", "/", "/repo/sub/../sub"];
        let paths = [
            "a.yaml",
            "./a.yaml",
            "././sub/a.yaml",
            "sub/../a.yaml",
            "/repo/a.yaml",
            "/repo/sub/deep/a.yaml",
            "/repository/a.yaml",
            "/repo",
            "/repo/",
            "/repo//a.yaml",
            "../a.yaml",
            ".",
            "./",
            "a/./b.yaml",
            "/other/x.yaml",
        ];
        for root in roots {
            for cwd in cwds {
                for path in paths {
                    let (root, cwd, path) = (Path::new(root), Path::new(cwd), Path::new(path));
                    if let Some(fast) = below_by_bytes(root, path, cwd) {
                        let absolute = normalize(&cwd.join(path));
                        let slow = absolute
                            .strip_prefix(root)
                            .map(|rest| rest.to_string_lossy().into_owned());
                        assert_eq!(Ok(fast), slow, "{root:?} {cwd:?} {path:?}");
                    }
                }
            }
        }
        // The shortcut is taken where it matters: absolute and `./` paths under the root.
        let root = Path::new("/repo");
        assert!(below_by_bytes(root, Path::new("/repo/k8s/a.yaml"), root).is_some());
        assert!(below_by_bytes(root, Path::new("./k8s/a.yaml"), Path::new("/repo/x")).is_some());
    }

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
