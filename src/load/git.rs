//! Revisions of the checked repository, read straight from the git object database with
//! `gix` (no checkout, no `git` process, no hooks, no global configuration).
//!
//! A revision's tree is exported, blob by blob, into a private temporary directory so that
//! the one loader analyses it with the very rules it applies to the working tree (walk,
//! `.gitignore`, the repository boundary, file-size and node budgets). The export itself is
//! bounded: entries, depth, bytes; names that could leave the directory (`..`, `.git`,
//! separators, NUL) are refused; symbolic links and submodules are not followed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gix::bstr::{BStr, ByteSlice};

/// Tree entries one export (or one walk of HEAD) may visit.
pub const MAX_TREE_ENTRIES: usize = 1_000_000;
/// Bytes one export may write, all files together.
pub const MAX_EXPORT_BYTES: u64 = 1024 * 1024 * 1024;
/// Blobs that are neither manifests nor ignore files are exported only up to this size
/// (kustomize generator data files are small; images and archives are not needed).
pub const MAX_DATA_BLOB: u64 = 1024 * 1024;

/// An opened repository.
pub struct Repo {
    repo: gix::Repository,
    /// The working-tree directory (the repository root).
    pub root: PathBuf,
}

/// What an export wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExportStats {
    pub files: usize,
    pub bytes: u64,
    /// Entries not exported: symbolic links, submodules, unsafe names, large non-manifests.
    pub skipped: usize,
}

/// Opens the repository whose working tree is `root` (the directory holding `.git`),
/// isolated from the environment and the user's and system's git configuration.
pub fn open(root: &Path) -> Result<Repo, String> {
    let repo = gix::open_opts(root, gix::open::Options::isolated())
        .map_err(|e| format!("{}: not a git repository: {e}", root.display()))?;
    Ok(Repo {
        repo,
        root: root.to_path_buf(),
    })
}

/// A name a tree may hold that is safe to create inside the export directory.
fn safe_name(name: &BStr) -> Option<&str> {
    let name = name.to_str().ok()?;
    let unsafe_name = name.is_empty()
        || name == "."
        || name == ".."
        || name.eq_ignore_ascii_case(".git")
        || name.contains(['/', '\\', '\0']);
    (!unsafe_name).then_some(name)
}

/// Whether the loader may read a file of this name as a manifest or a walk rule.
fn wanted_whole(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".yaml")
        || lower.ends_with(".yml")
        || lower.ends_with(".json")
        || lower == "kustomization"
        || lower == ".gitignore"
        || lower == ".ignore"
}

/// One blob of a tree walk: its slash-separated path and object id.
struct BlobEntry {
    path: String,
    id: gix::ObjectId,
}

impl Repo {
    /// The commit `rev` names (`main`, `HEAD~2`, a hash, a tag).
    pub fn resolve(&self, rev: &str) -> Result<gix::ObjectId, String> {
        let id = self
            .repo
            .rev_parse_single(rev)
            .map_err(|e| format!("cannot resolve revision `{rev}`: {e}"))?;
        let not_commit =
            |e: &dyn std::fmt::Display| format!("revision `{rev}` is not a commit: {e}");
        let commit = id
            .object()
            .map_err(|e| not_commit(&e))?
            .peel_to_commit()
            .map_err(|e| not_commit(&e))?;
        Ok(commit.id)
    }

    /// The commit HEAD points at, if any (`None` in a repository without commits).
    pub fn head(&self) -> Option<gix::ObjectId> {
        self.repo.head_commit().ok().map(|c| c.id)
    }

    /// The merge-base of HEAD with the default branch: `origin/HEAD`'s target, else the
    /// first of `origin/main`, `origin/master`, `main`, `master` that exists. Returns the
    /// branch's name and the merge-base.
    pub fn default_base(&self) -> Result<(String, gix::ObjectId), String> {
        let head = self
            .head()
            .ok_or_else(|| "the repository has no commit yet".to_string())?;
        let mut candidates = Vec::new();
        if let Ok(reference) = self.repo.find_reference("refs/remotes/origin/HEAD")
            && let Some(name) = reference.target().try_name()
        {
            candidates.push(name.as_bstr().to_string());
        }
        for name in ["origin/main", "origin/master", "main", "master"] {
            candidates.push(name.to_string());
        }
        for name in candidates {
            let Ok(branch) = self.resolve(&name) else {
                continue;
            };
            let base = self
                .repo
                .merge_base(head, branch)
                .map_err(|e| format!("no merge-base of HEAD and `{name}`: {e}"))?
                .ok_or_else(|| format!("HEAD and `{name}` have no common ancestor"))?;
            let short = name
                .strip_prefix("refs/remotes/")
                .unwrap_or(&name)
                .to_string();
            return Ok((short, base.detach()));
        }
        Err(
            "no default branch found (origin/HEAD, origin/main, origin/master, main, master): name a revision"
                .to_string(),
        )
    }

    /// Every blob of `commit`'s tree with a safe path, in tree order; entries not kept are
    /// counted in `skipped`. Bounded by [`MAX_TREE_ENTRIES`] and the YAML depth limit.
    fn blobs(&self, commit: gix::ObjectId, skipped: &mut usize) -> Result<Vec<BlobEntry>, String> {
        let unreadable =
            |e: &dyn std::fmt::Display| format!("cannot read the tree of {commit}: {e}");
        let tree = self
            .repo
            .find_commit(commit)
            .map_err(|e| unreadable(&e))?
            .tree_id()
            .map_err(|e| unreadable(&e))?;
        let mut out = Vec::new();
        let mut visited = 0usize;
        let mut pending = vec![(String::new(), tree.detach(), 0usize)];
        while let Some((prefix, id, depth)) = pending.pop() {
            let tree = self
                .repo
                .find_tree(id)
                .map_err(|e| format!("cannot read tree {id}: {e}"))?;
            let decoded = tree
                .decode()
                .map_err(|e| format!("cannot decode tree {id}: {e}"))?;
            // Pushed in reverse so that the stack pops them in tree order.
            for entry in decoded.entries.iter().rev() {
                visited += 1;
                if visited > MAX_TREE_ENTRIES {
                    return Err(format!(
                        "the tree of {commit} has more than {MAX_TREE_ENTRIES} entries"
                    ));
                }
                let Some(name) = safe_name(entry.filename) else {
                    *skipped += 1;
                    continue;
                };
                let path = if prefix.is_empty() {
                    name.to_string()
                } else {
                    format!("{prefix}/{name}")
                };
                if entry.mode.is_tree() {
                    if depth + 1 >= crate::limits::MAX_DEPTH {
                        *skipped += 1;
                        continue;
                    }
                    pending.push((path, entry.oid.to_owned(), depth + 1));
                } else if entry.mode.is_blob() {
                    out.push(BlobEntry {
                        path,
                        id: entry.oid.to_owned(),
                    });
                } else {
                    // Symbolic links and submodules: not followed.
                    *skipped += 1;
                }
            }
        }
        Ok(out)
    }

    /// Writes `commit`'s tree below `dest` (an empty private directory), with an empty
    /// `.git` directory so that the loader treats `dest` as the repository root and
    /// honours `.gitignore` as in the working tree. A manifest above `max_file_size` is
    /// created with its size but no content, so the loader reports it as too large exactly
    /// as it does in the working tree.
    pub fn export(
        &self,
        commit: gix::ObjectId,
        dest: &Path,
        max_file_size: u64,
    ) -> Result<ExportStats, String> {
        let mut stats = ExportStats::default();
        let blobs = self.blobs(commit, &mut stats.skipped)?;
        let io = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
        std::fs::create_dir_all(dest.join(".git")).map_err(|e| io(dest, e))?;
        for blob in blobs {
            let name = blob.path.rsplit('/').next().unwrap_or(&blob.path);
            let size = self
                .repo
                .find_header(blob.id)
                .map_err(|e| format!("cannot read {}: {e}", blob.path))?
                .size();
            let whole = wanted_whole(name);
            if !whole && size > MAX_DATA_BLOB.min(max_file_size) {
                stats.skipped += 1;
                continue;
            }
            let target = dest.join(&blob.path);
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            if size > max_file_size {
                let file = std::fs::File::create(&target).map_err(|e| io(&target, e))?;
                file.set_len(size).map_err(|e| io(&target, e))?;
                stats.files += 1;
                continue;
            }
            stats.bytes += size;
            if stats.bytes > MAX_EXPORT_BYTES {
                return Err(format!(
                    "the files of {commit} exceed {} MiB",
                    MAX_EXPORT_BYTES / (1024 * 1024)
                ));
            }
            let object = self
                .repo
                .find_blob(blob.id)
                .map_err(|e| format!("cannot read {}: {e}", blob.path))?;
            std::fs::write(&target, &object.data).map_err(|e| io(&target, e))?;
            stats.files += 1;
        }
        Ok(stats)
    }

    /// Paths of HEAD's tree that the index no longer has: deletions staged for the next
    /// commit (what pre-commit does not pass to hooks). Empty without commits.
    pub fn staged_deletions(&self) -> Result<BTreeSet<String>, String> {
        let Some(head) = self.head() else {
            return Ok(BTreeSet::new());
        };
        let index = self
            .repo
            .index_or_empty()
            .map_err(|e| format!("cannot read the git index: {e}"))?;
        let mut skipped = 0;
        Ok(self
            .blobs(head, &mut skipped)?
            .into_iter()
            .filter(|blob| {
                index
                    .entry_by_path(blob.path.as_bytes().as_bstr())
                    .is_none()
            })
            .map(|blob| blob.path)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_names_are_refused() {
        for name in ["", ".", "..", ".git", ".GIT", "a/b", "a\\b", "a\0b"] {
            assert_eq!(safe_name(name.as_bytes().as_bstr()), None, "{name:?}");
        }
        assert_eq!(safe_name(b"\xff".as_bstr()), None);
        assert_eq!(safe_name(b"deploy.yaml".as_bstr()), Some("deploy.yaml"));
        assert_eq!(safe_name(b".gitignore".as_bstr()), Some(".gitignore"));
    }
}
