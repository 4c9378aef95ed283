//! The filesystem boundary. The repository under review is hostile: a committed symbolic
//! link must not make xks-lint read (and quote) a file elsewhere on the CI machine, such as
//! `/proc/self/environ`, nor write a report through it. Every read of a file the
//! repository names goes through [`read_bounded`] after [`check_inside`]; every write of a
//! report goes through [`write_file`].

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

/// Trees that are never read, whatever the root: kernel and device files.
const SYSTEM_DIRS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// Why a path was not read or written.
#[derive(Debug)]
pub enum Refusal {
    /// The path resolves (through a symbolic link) outside the repository.
    Outside { link: Option<PathBuf> },
    /// A kernel or device file (`/proc`, `/sys`, `/dev`), or not a regular file.
    Special,
    /// The path cannot be resolved (missing, broken link, loop, permissions).
    Io(std::io::Error),
}

impl Refusal {
    /// A sentence for a diagnostic. Never the resolved absolute path: only the link
    /// target as written in the repository.
    pub fn describe(&self) -> String {
        match self {
            Refusal::Outside { link: Some(target) } => format!(
                "it leads outside the repository through a symbolic link to `{}`",
                target.display()
            ),
            Refusal::Outside { link: None } => {
                "it leads outside the repository through a symbolic link".to_string()
            }
            Refusal::Special => {
                "it is not a regular file (FIFO, socket, device or a /proc, /sys or /dev file)"
                    .to_string()
            }
            Refusal::Io(error) => format!("it cannot be resolved: {error}"),
        }
    }
}

/// Lexically normalized absolute path (`.` and `..` resolved without following links).
fn lexical(path: &Path, cwd: Option<&Path>) -> PathBuf {
    let absolute = match cwd {
        Some(cwd) if path.is_relative() => cwd.join(path),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    };
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The repository a PATH belongs to: the nearest directory at or above it holding `.git`.
/// Without one (a tarball, a CI artifact): the working directory when the PATH lies inside
/// it (`xks-lint check overlays/prod` run from the top of the checkout), else the PATH's
/// directory. Lexical and absolute; never derived from the working directory alone.
pub fn root_of(path: &Path, cwd: Option<&Path>) -> PathBuf {
    let absolute = lexical(path, cwd);
    let start = if absolute.is_dir() {
        absolute.clone()
    } else {
        absolute
            .parent()
            .map_or(absolute.clone(), Path::to_path_buf)
    };
    if let Some(git) = start.ancestors().find(|dir| dir.join(".git").exists()) {
        return git.to_path_buf();
    }
    // Never `/`: a run from the top of the filesystem must not make everything "inside".
    match cwd.map(|cwd| lexical(cwd, None)) {
        Some(cwd) if start.starts_with(&cwd) && cwd.parent().is_some() => cwd,
        _ => widen_to_bases(start),
    }
}

/// Kustomization directories followed when widening a root without `.git`.
const MAX_WIDENING_DIRS: usize = 256;

/// A directory given without `.git` above it and outside the working directory (a
/// kustomization case unpacked anywhere, `xks-lint render /tmp/case/overlays/prod`): the
/// repository is `start` widened to the common ancestor of the kustomization
/// directories its kustomization includes (`resources`, `components`, `bases` naming
/// directories, transitively), as `kubectl kustomize` reaches bases wherever they lie;
/// never `/` or a kernel directory. Only kustomization files are read to find them.
fn widen_to_bases(start: PathBuf) -> PathBuf {
    let mut root = start.clone();
    let mut pending = vec![start];
    let mut seen = std::collections::HashSet::new();
    while let Some(dir) = pending.pop() {
        if seen.len() >= MAX_WIDENING_DIRS || !seen.insert(dir.clone()) {
            continue;
        }
        for reference in kustomization_directories(&dir) {
            let target = lexical(&dir.join(&reference), None);
            let Some(common) = common_ancestor(&root, &target) else {
                continue;
            };
            if common.parent().is_none() || is_system(&common) || !target.is_dir() {
                continue;
            }
            root = common;
            pending.push(target);
        }
    }
    root
}

fn common_ancestor(a: &Path, b: &Path) -> Option<PathBuf> {
    a.ancestors()
        .find(|candidate| b.starts_with(candidate))
        .map(Path::to_path_buf)
}

/// The entries of `dir`'s kustomization that may name directories (local ones only).
fn kustomization_directories(dir: &Path) -> Vec<String> {
    let Some(text) = crate::load::kustomization::FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .find(|file| file.is_file())
        .and_then(|file| read_bounded(&file, crate::limits::MAX_CONFIG_SIZE).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
    else {
        return Vec::new();
    };
    let stream = crate::load::yaml::parse_stream(&text);
    let Some(document) = stream.documents.first() else {
        return Vec::new();
    };
    ["resources", "components", "bases"]
        .iter()
        .filter_map(|key| document.root.get(key).and_then(|n| n.as_seq()))
        .flatten()
        .filter_map(|entry| entry.scalar_text())
        .filter(|value| !value.contains("://") && !value.starts_with("git@"))
        .map(str::to_string)
        .collect()
}

/// The root with its symbolic links resolved, for comparisons with resolved paths.
pub fn canonical_root(root: &Path) -> PathBuf {
    std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf())
}

fn is_system(canonical: &Path) -> bool {
    SYSTEM_DIRS.iter().any(|dir| canonical.starts_with(dir))
}

/// The first symbolic link on `path` (itself or a directory above it, below `/`), as
/// written: what a diagnostic may show.
fn first_link(path: &Path) -> Option<PathBuf> {
    let mut ancestors: Vec<&Path> = path.ancestors().collect();
    ancestors.reverse();
    ancestors.into_iter().find_map(|p| {
        p.symlink_metadata()
            .ok()
            .filter(|m| m.file_type().is_symlink())
            .and_then(|_| std::fs::read_link(p).ok())
    })
}

/// `path` resolved, if it stays inside one of the `roots` (resolved too) and is no
/// kernel or device file. The check every read of a repository file passes.
pub fn check_inside(path: &Path, roots: &[PathBuf]) -> Result<PathBuf, Refusal> {
    let canonical = std::fs::canonicalize(path).map_err(Refusal::Io)?;
    if !roots.is_empty() && !roots.iter().any(|root| canonical.starts_with(root)) {
        return Err(Refusal::Outside {
            link: first_link(path),
        });
    }
    if is_system(&canonical) {
        return Err(Refusal::Special);
    }
    // `stat` does not open, so a FIFO cannot block here.
    let meta = std::fs::metadata(&canonical).map_err(Refusal::Io)?;
    if !meta.is_file() && !meta.is_dir() {
        return Err(Refusal::Special);
    }
    Ok(canonical)
}

/// Whether a directory the walk listed (resolved) lies inside one of the `roots` and is
/// no kernel directory: then every regular file the walk found below it, without
/// following links, passes [`check_inside`] too.
pub fn walked_dir_inside(resolved: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|root| resolved.starts_with(root)) && !is_system(resolved)
}

/// Opens a regular file for reading without blocking on a FIFO and without acquiring a
/// terminal (and, with `no_follow`, not through a link); anything but a regular file is
/// refused after opening (no race with a swap). Returns the file and its length.
fn open_regular(path: &Path, no_follow: bool) -> std::io::Result<(std::fs::File, u64)> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let follow = if no_follow { libc::O_NOFOLLOW } else { 0 };
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | follow);
    }
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (FIFO, socket or device)",
        ));
    }
    Ok((file, meta.len()))
}

/// What a bounded read found.
pub enum Bounded {
    /// At most `limit + 1` bytes (more than `limit` when the file grew while read).
    Read(Vec<u8>),
    /// The file's length, above the limit: nothing was read.
    TooLarge(u64),
}

/// A regular file of at most `limit` bytes, read in one call into a buffer sized from its
/// length; a longer file is reported by its length without being read.
pub fn read_regular(path: &Path, limit: u64, no_follow: bool) -> std::io::Result<Bounded> {
    let (file, length) = open_regular(path, no_follow)?;
    if length > limit {
        return Ok(Bounded::TooLarge(length));
    }
    Ok(Bounded::Read(read_sized(file, length, limit)?))
}

/// At most `limit + 1` bytes of a regular file, so an oversized file is detected without
/// being held.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let (file, length) = open_regular(path, false)?;
    read_sized(file, length, limit)
}

fn read_sized(file: std::fs::File, length: u64, limit: u64) -> std::io::Result<Vec<u8>> {
    // Sized from the file's length (plus room to see the end without another read), so
    // reading takes one call instead of a probe, a doubling buffer and a probe for the
    // end; the length only sizes the buffer (never above 64 MiB up front, whatever the
    // limit asked for), `take` still bounds what is read.
    let expected = length.min(limit).min(1 << 26);
    let mut buffer = Vec::with_capacity(usize::try_from(expected).unwrap_or(0).saturating_add(64));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut buffer)?;
    Ok(buffer)
}

/// Reads a file the user named or the repository holds (config, baseline): if it lies in
/// the repository at `root`, it must resolve inside it; a regular file of at most `limit`
/// bytes.
pub fn read_user_file(path: &Path, root: &Path, limit: u64) -> Result<String, String> {
    let path = guard(path, root).map_err(|refusal| format!("not read: {}", refusal.describe()))?;
    let bytes = read_bounded(&path, limit).map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!("larger than the {limit}-byte limit; not read"));
    }
    String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())
}

/// Whether `path`, as written, lies in the repository at `root`.
fn in_repository(path: &Path, root: &Path) -> bool {
    let cwd = std::env::current_dir().ok();
    let lexical_path = lexical(path, cwd.as_deref());
    lexical_path.starts_with(lexical(root, cwd.as_deref()))
        || lexical_path.starts_with(canonical_root(root))
}

/// A path inside the repository at `root` (written relative to the working directory or
/// absolute) must resolve inside it too; paths outside the repository are the user's own.
/// Returns the path to open: the link's target when `path` is a link (even a dangling one,
/// whose target must then lie inside the repository too).
fn guard(path: &Path, root: &Path) -> Result<PathBuf, Refusal> {
    if !in_repository(path, root) {
        return Ok(path.to_path_buf());
    }
    let cwd = std::env::current_dir().ok();
    let lexical_path = lexical(path, cwd.as_deref());
    let root_canonical = canonical_root(root);
    let outside = || Refusal::Outside {
        link: first_link(&lexical_path),
    };
    let (Some(parent), Some(name)) = (lexical_path.parent(), lexical_path.file_name()) else {
        return Ok(path.to_path_buf());
    };
    // The directory must exist; a missing one is the caller's error to report.
    let Ok(parent) = std::fs::canonicalize(parent) else {
        return Ok(path.to_path_buf());
    };
    if !parent.starts_with(&root_canonical) {
        return Err(outside());
    }
    let resolved = parent.join(name);
    let is_link = resolved
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink());
    if !is_link {
        return Ok(resolved);
    }
    let target = match std::fs::canonicalize(&resolved) {
        Ok(target) => target,
        Err(_) => {
            // Dangling: writing would create the target wherever it points.
            let written = std::fs::read_link(&resolved).map_err(Refusal::Io)?;
            let target = lexical(&parent.join(written), None);
            let (Some(target_parent), Some(target_name)) = (target.parent(), target.file_name())
            else {
                return Err(outside());
            };
            let Ok(target_parent) = std::fs::canonicalize(target_parent) else {
                return Err(outside());
            };
            let target = target_parent.join(target_name);
            if target.symlink_metadata().is_ok() {
                // Still a link (a chain through a dangling link): refuse rather than chase.
                return Err(outside());
            }
            target
        }
    };
    if target.starts_with(&root_canonical) && !is_system(&target) {
        Ok(target)
    } else {
        Err(outside())
    }
}

/// Writes a report or baseline. A path inside the repository at `root` is never written
/// through a symbolic link (of the file or a directory above it) leading out of it, so a
/// committed `report.sarif -> ~/.bashrc` cannot make the gate overwrite a file elsewhere.
pub fn write_file(path: &Path, root: &Path, text: &str) -> Result<(), String> {
    create_file(path, root)?
        .write_all(text.as_bytes())
        .map_err(|e| e.to_string())
}

/// Creates (or truncates) a report file for writing, with the checks of [`write_file`].
pub fn create_file(path: &Path, root: &Path) -> Result<std::fs::File, String> {
    let target =
        guard(path, root).map_err(|refusal| format!("refused to write: {}", refusal.describe()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The final component was checked above; do not follow a link swapped in since.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    if !in_repository(path, root) {
        // The user's own path (`/dev/null`, a file under `$RUNNER_TEMP`): written as given.
        return std::fs::File::create(path).map_err(|e| e.to_string());
    }
    let file = options.open(&target).map_err(|e| e.to_string())?;
    if !file.metadata().map_err(|e| e.to_string())?.is_file() {
        return Err("not a regular file".to_string());
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_without_git_is_the_working_directory_holding_the_path() {
        let cwd = Path::new("/nonexistent-xks/checkout");
        assert_eq!(
            root_of(Path::new("overlays/prod"), Some(cwd)),
            PathBuf::from("/nonexistent-xks/checkout")
        );
        assert_eq!(
            root_of(Path::new("/nonexistent-xks/other/overlays/prod"), Some(cwd)),
            PathBuf::from("/nonexistent-xks/other/overlays")
        );
        assert_eq!(
            root_of(Path::new("nonexistent-xks/a/b.yaml"), Some(Path::new("/"))),
            PathBuf::from("/nonexistent-xks/a")
        );
    }
}
