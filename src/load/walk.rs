//! Finding the files to analyse: gitignore-aware directory walking, explicit
//! files, standard input, `--exclude` globs.

use crate::hashing::FastMap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::WalkBuilder;
use ignore::overrides::{Override, OverrideBuilder};

use super::IssueKind;
use crate::limits::DEFAULT_MAX_FILE_SIZE;

const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    Path(PathBuf),
    /// Bytes already in memory under a display name (tests, fuzzing, embedding).
    Memory {
        name: String,
        bytes: Arc<[u8]>,
    },
}

impl Input {
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(PathBuf::from(arg))
        }
    }
}

#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Gitignore-style globs of files and directories to leave out.
    pub excludes: Vec<String>,
    /// Files larger than this many bytes are not read.
    pub max_file_size: u64,
    /// Load the files kustomizations reference even where the walk did not reach them.
    pub kustomize: bool,
    /// Texts to analyse instead of what is on disk (`check --fix` between passes).
    pub overlay: Option<Arc<Overlay>>,
}

/// File contents held in memory by the fix engine: edited texts replace the files read,
/// created files join the walk when they lie below a checked directory. Keys are
/// [`crate::load::normalize`]d paths.
#[derive(Debug, Default)]
pub struct Overlay {
    pub files: FastMap<PathBuf, Arc<[u8]>>,
    pub created: std::collections::BTreeSet<PathBuf>,
}

impl Overlay {
    pub fn content(&self, path: &Path) -> Option<Arc<[u8]>> {
        self.files.get(&crate::load::normalize(path)).cloned()
    }
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            excludes: Vec::new(),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            kustomize: true,
            overlay: None,
        }
    }
}

impl WalkOptions {
    /// Checks every exclude glob, so a typo is a usage error before any work is done.
    pub fn validate(&self) -> Result<(), String> {
        for glob in &self.excludes {
            globset::Glob::new(glob)
                .map_err(|e| format!("invalid --exclude glob `{glob}`: {e}"))?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: PathBuf,
    /// Content given in memory instead of read from `path`.
    pub content: Option<Arc<[u8]>>,
    /// Below a `templates/` directory whose parent holds a `Chart.yaml`.
    pub in_helm_chart: bool,
    /// Shared by every file below one kustomization (and every document of each).
    pub kustomize_namespace: Option<Arc<str>>,
    /// For a regular file the walk reached without following a link below the walked
    /// directory: that directory, resolved. The file then resolves to it joined with the
    /// rest of its path, so the loader checks the directory against the repository once
    /// instead of resolving every file (ten system calls each).
    pub walked_from: Option<Arc<Path>>,
}

/// Why a manifest file below a checked directory was left out of the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LeftOutReason {
    /// The file or a directory above it (below the checked directory) starts with `.`.
    Hidden,
    /// A `.gitignore`, `.ignore` or git exclude file leaves it out.
    Ignored,
    /// An `--exclude` glob or the config's `exclude:` leaves it out.
    Excluded,
}

impl LeftOutReason {
    pub fn describe(self) -> &'static str {
        match self {
            LeftOutReason::Hidden => "hidden file or directory",
            LeftOutReason::Ignored => "ignored by .gitignore/.ignore",
            LeftOutReason::Excluded => "excluded by a glob",
        }
    }
}

/// A manifest file the walk did not read on purpose: counted in the summary and listed
/// with `--verbose`, so a committed `.ignore` cannot hide a deployed manifest silently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOut {
    pub path: PathBuf,
    pub reason: LeftOutReason,
}

/// What the walk found.
#[derive(Debug, Default)]
pub struct Collected {
    /// Files to read, sorted by path.
    pub candidates: Vec<Candidate>,
    /// Paths found but not read, and why.
    pub skipped: Vec<Skipped>,
    /// Manifest files left out by ignore files, hidden directories or excludes.
    pub left_out: Vec<LeftOut>,
}

/// A path found but not read, and why.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub path: PathBuf,
    pub kind: IssueKind,
    pub message: String,
}

fn excludes_for(root: &Path, options: &WalkOptions) -> Option<Override> {
    if options.excludes.is_empty() {
        return None;
    }
    let mut builder = OverrideBuilder::new(root);
    for glob in &options.excludes {
        // `!` turns an override into an ignore rule with gitignore semantics.
        builder.add(&format!("!{glob}")).ok()?;
    }
    builder.build().ok()
}

fn is_manifest(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| MANIFEST_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Files to read, sorted by path, the paths found but not read, and the manifests left out.
pub fn collect(inputs: &[Input], options: &WalkOptions) -> Collected {
    let mut found: BTreeMap<PathBuf, Option<Arc<Path>>> = BTreeMap::new();
    let mut stdin = false;
    let mut memory = Vec::new();
    let mut skipped = Vec::new();
    let mut left_out = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => stdin = true,
            Input::Memory { name, bytes } => memory.push(Candidate {
                path: PathBuf::from(name),
                content: Some(Arc::clone(bytes)),
                in_helm_chart: false,
                kustomize_namespace: None,
                walked_from: None,
            }),
            Input::Path(path) if path.is_dir() => {
                // The walk that reads and the one that accounts for what it left out are
                // independent directory scans: they run side by side.
                let ((walked, walk_skipped), every_manifest) = rayon::join(
                    || {
                        let mut walked = Vec::new();
                        let mut walk_skipped = Vec::new();
                        walk_dir(path, options, &mut walked, &mut walk_skipped);
                        (walked, walk_skipped)
                    },
                    || manifests_below(path),
                );
                // The walk lists files in path order: collected at once, the map is built
                // from the sorted list in one pass instead of a search per insert.
                if found.is_empty() {
                    found = walked.into_iter().collect();
                } else {
                    found.extend(walked);
                }
                skipped.extend(walk_skipped);
                if let Some(overlay) = &options.overlay {
                    let dir = crate::load::normalize(path);
                    let known: crate::hashing::FastSet<PathBuf> =
                        found.keys().map(|p| crate::load::normalize(p)).collect();
                    for created in &overlay.created {
                        if created.starts_with(&dir) && !known.contains(created) {
                            found.insert(created.clone(), None);
                        }
                    }
                }
                account_left_out(
                    path,
                    every_manifest,
                    options,
                    &found,
                    &skipped,
                    &mut left_out,
                );
            }
            Input::Path(path) => {
                let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                let excluded = excludes_for(&base, options)
                    .is_some_and(|o| o.matched(path, false).is_ignore());
                if excluded {
                    continue;
                }
                match std::fs::metadata(path) {
                    Ok(meta) if !meta.is_file() => skipped.push(not_regular(path)),
                    _ => {
                        found.insert(path.clone(), None);
                    }
                }
            }
        }
    }
    let mut candidates = candidates_of(found);
    candidates.append(&mut memory);
    if stdin {
        candidates.push(Candidate {
            content: None,
            path: PathBuf::from("-"),
            in_helm_chart: false,
            kustomize_namespace: None,
            walked_from: None,
        });
    }
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    skipped.dedup_by(|a, b| a.path == b.path);
    left_out.sort_by(|a, b| a.path.cmp(&b.path));
    left_out.dedup_by(|a, b| a.path == b.path);
    Collected {
        candidates,
        skipped,
        left_out,
    }
}

/// Every manifest file below `root`, walked without the hidden-file and ignore-file
/// filters (never into `.git`, never through symbolic links).
fn manifests_below(root: &Path) -> Vec<PathBuf> {
    let mut builder = WalkBuilder::new(root);
    builder
        .standard_filters(false)
        .follow_links(false)
        .filter_entry(|entry| {
            !(entry.file_name() == ".git" && entry.file_type().is_some_and(|t| t.is_dir()))
        });
    builder
        .build()
        .flatten()
        .filter(|entry| entry.file_type().is_some_and(|t| t.is_file()))
        .map(ignore::DirEntry::into_path)
        .filter(|path| is_manifest(path))
        .collect()
}

/// Records each manifest file below `root` (`every_manifest`) the real walk left out.
fn account_left_out(
    root: &Path,
    every_manifest: Vec<PathBuf>,
    options: &WalkOptions,
    found: &BTreeMap<PathBuf, Option<Arc<Path>>>,
    skipped: &[Skipped],
    left_out: &mut Vec<LeftOut>,
) {
    // Both walks spell a file below `root` the same way, so a hash of the path's bytes
    // finds it (hashing a `Path` takes it apart component by component, on this one
    // thread, for every manifest); only a miss asks again with paths compared as paths,
    // which also match spellings that differ in separators.
    fn bytes(path: &Path) -> &[u8] {
        path.as_os_str().as_encoded_bytes()
    }
    let skipped: crate::hashing::FastSet<&Path> =
        skipped.iter().map(|s| s.path.as_path()).collect();
    let found_bytes: crate::hashing::FastSet<&[u8]> =
        found.keys().map(|path| bytes(path)).collect();
    let excludes = excludes_for(root, options);
    for path in &every_manifest {
        let path = path.as_path();
        let listed =
            found_bytes.contains(bytes(path)) || skipped.contains(path) || found.contains_key(path);
        if listed {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap_or(path);
        let hidden = relative.components().any(|c| {
            matches!(c, std::path::Component::Normal(name)
                if name.to_string_lossy().starts_with('.'))
        });
        let excluded = || {
            excludes.as_ref().is_some_and(|o| {
                path.ancestors()
                    .take_while(|dir| dir.starts_with(root) && *dir != root)
                    .any(|p| o.matched(p, p != path).is_ignore())
            })
        };
        let reason = if hidden {
            LeftOutReason::Hidden
        } else if excluded() {
            LeftOutReason::Excluded
        } else {
            LeftOutReason::Ignored
        };
        left_out.push(LeftOut {
            path: path.to_path_buf(),
            reason,
        });
    }
}

fn not_regular(path: &Path) -> Skipped {
    Skipped {
        path: path.to_path_buf(),
        kind: IssueKind::Unreadable,
        message: "not a regular file (FIFO, socket or device); not read".to_string(),
    }
}

fn walk_dir(
    root: &Path,
    options: &WalkOptions,
    found: &mut Vec<(PathBuf, Option<Arc<Path>>)>,
    skipped: &mut Vec<Skipped>,
) {
    let resolved_root = std::fs::canonicalize(root).ok();
    // Only a root that resolved vouches for the files below it.
    let walked_from: Option<Arc<Path>> = resolved_root.as_deref().map(Arc::from);
    let canonical_root = resolved_root.unwrap_or_else(|| root.to_path_buf());
    // Links leading out of the tree are not followed: the linter reads only what it was pointed at.
    let outside = Arc::new(Mutex::new(Vec::new()));
    let outside_sink = Arc::clone(&outside);
    let above = ancestor_ignores(root);
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(true)
        .git_ignore(true)
        .ignore(true)
        .require_git(false)
        // Ignore files above the checked directory count only up to the repository root
        // (`ancestor_ignores`): the walker's own lookup reads them up to `/`, where a stray
        // `/tmp/.gitignore` would hide manifests. A user's global git excludes would make
        // the gate depend on the machine.
        .parents(false)
        .git_global(false)
        // Links are handled here, not by the walker (see the filter).
        .follow_links(false)
        .sort_by_file_name(|a, b| a.cmp(b))
        .filter_entry(move |entry| {
            if entry.depth() > 0 && !above.is_empty() {
                let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
                let absolute = std::path::absolute(entry.path());
                let ignored = absolute.is_ok_and(|path| {
                    above.iter().any(|ignore| {
                        ignore
                            .matched_path_or_any_parents(&path, is_dir)
                            .is_ignore()
                    })
                });
                if ignored {
                    return false;
                }
            }
            // The checked directory itself may be a link.
            if !entry.path_is_symlink() || entry.depth() == 0 {
                return true;
            }
            match std::fs::canonicalize(entry.path()) {
                Ok(target) if !target.starts_with(&canonical_root) => {
                    // Show the link as written, not the resolved absolute path of this machine.
                    let written = std::fs::read_link(entry.path()).unwrap_or(target);
                    if let Ok(mut list) = outside_sink.lock() {
                        list.push(Skipped {
                            path: entry.path().to_path_buf(),
                            kind: IssueKind::OutsideTree,
                            message: format!(
                                "symbolic link to `{}` leads outside the checked tree; not followed",
                                written.display()
                            ),
                        });
                    }
                    false
                }
                // A link inside the tree is not followed: its target is walked under its own
                // path, so every file is read once, and links to `.` or to each other cannot
                // make the walk loop or grow exponentially. (A kustomization that references
                // the link's path still gets it, through the loader.)
                Ok(_) => false,
                // Broken links and loops are reported by the walker itself.
                Err(_) => true,
            }
        });
    if let Some(overrides) = excludes_for(root, options) {
        builder.overrides(overrides);
    }
    for entry in builder.build() {
        match entry {
            Ok(entry) => {
                let Some(file_type) = entry.file_type() else {
                    continue;
                };
                if file_type.is_dir() || !is_manifest(entry.path()) {
                    continue;
                }
                if file_type.is_file() {
                    // The walker follows no link, so only the walked directory itself may
                    // have been one (depth 0): everything below it lies where it is listed.
                    found.push((entry.path().to_path_buf(), walked_from.clone()));
                } else if file_type.is_symlink() {
                    // Only broken links and loops pass the filter.
                    skipped.push(broken_link(entry.path()));
                } else {
                    skipped.push(not_regular(entry.path()));
                }
            }
            Err(error) => skipped.push(walk_error(root, error)),
        }
    }
    if let Ok(mut list) = outside.lock() {
        skipped.append(&mut list);
    }
}

/// The `.gitignore` and `.ignore` files of the directories above `root`, up to the
/// repository root (the nearest one holding `.git`; none when there is no repository),
/// nearest first.
fn ancestor_ignores(root: &Path) -> Vec<ignore::gitignore::Gitignore> {
    let Ok(absolute) = std::path::absolute(root) else {
        return Vec::new();
    };
    let absolute = super::normalize(&absolute);
    if absolute.join(".git").exists() {
        return Vec::new();
    }
    let Some(top) = absolute
        .ancestors()
        .skip(1)
        .find(|dir| dir.join(".git").exists())
    else {
        return Vec::new();
    };
    let mut matchers = Vec::new();
    for dir in absolute.ancestors().skip(1) {
        for name in [".ignore", ".gitignore"] {
            let file = dir.join(name);
            let regular = file.symlink_metadata().is_ok_and(|m| m.is_file())
                && file
                    .metadata()
                    .is_ok_and(|m| m.len() <= DEFAULT_MAX_FILE_SIZE);
            if regular {
                let (matcher, _) = ignore::gitignore::Gitignore::new(&file);
                matchers.push(matcher);
            }
        }
        if dir == top {
            break;
        }
    }
    matchers
}

fn broken_link(path: &Path) -> Skipped {
    let message = match std::fs::canonicalize(path) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            "broken symbolic link: its target does not exist".to_string()
        }
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {
            "symbolic link loop: the link resolves to itself".to_string()
        }
        Err(error) => error.to_string(),
        Ok(_) => "symbolic link changed while walking".to_string(),
    };
    Skipped {
        path: path.to_path_buf(),
        kind: IssueKind::Unreadable,
        message: format!("cannot read: {message}; not analysed"),
    }
}

fn walk_error(root: &Path, error: ignore::Error) -> Skipped {
    let path = error_path(&error).unwrap_or_else(|| root.to_path_buf());
    let is_symlink = path
        .symlink_metadata()
        .is_ok_and(|m| m.file_type().is_symlink());
    let message = match error.io_error() {
        Some(io) if is_symlink && io.kind() == std::io::ErrorKind::NotFound => {
            "broken symbolic link: its target does not exist".to_string()
        }
        Some(io) if is_symlink && io.to_string().contains("levels of symbolic links") => {
            "symbolic link loop: the link resolves to itself".to_string()
        }
        Some(io) => io.to_string(),
        None if matches!(error, ignore::Error::Loop { .. }) => {
            "symbolic link loop: the directory links back to one of its ancestors".to_string()
        }
        None => error.to_string(),
    };
    Skipped {
        path,
        kind: IssueKind::Unreadable,
        message: format!("cannot read: {message}; not analysed"),
    }
}

fn error_path(error: &ignore::Error) -> Option<PathBuf> {
    match error {
        ignore::Error::WithPath { path, .. } => Some(path.clone()),
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        ignore::Error::Loop { child, .. } => Some(child.clone()),
        ignore::Error::Partial(errors) => errors.iter().find_map(error_path),
        _ => None,
    }
}

fn in_helm_chart(path: &Path) -> bool {
    path.ancestors().skip(1).any(|dir| {
        dir.file_name().is_some_and(|n| n == "templates")
            && dir
                .parent()
                .is_some_and(|chart| chart.join("Chart.yaml").is_file())
    })
}

/// The files found, as candidates to read, each with the `namespace:` of the nearest
/// kustomization above it that sets one (looking no higher than the repository root).
/// Per-file work runs on every core; the directories are asked in order, each once.
fn candidates_of(found: BTreeMap<PathBuf, Option<Arc<Path>>>) -> Vec<Candidate> {
    use rayon::prelude::*;
    let found: Vec<(PathBuf, Option<Arc<Path>>)> = found.into_iter().collect();
    let parents: Vec<Option<PathBuf>> = found
        .par_iter()
        .map(|(path, _)| {
            let absolute = std::path::absolute(path).ok()?;
            absolute.parent().map(Path::to_path_buf)
        })
        .collect();
    let mut cache = FastMap::default();
    let mut previous: Option<&Path> = None;
    for parent in parents.iter().flatten() {
        // Files of one directory are adjacent in path order: asked once per run.
        if previous != Some(parent.as_path()) {
            namespace_for_dir(parent, &mut cache);
            previous = Some(parent);
        }
    }
    found
        .into_par_iter()
        .zip(parents)
        .map(|((path, walked_from), parent)| Candidate {
            content: None,
            in_helm_chart: in_helm_chart(&path),
            kustomize_namespace: parent.and_then(|dir| cache.get(&dir).cloned().flatten()),
            path,
            walked_from,
        })
        .collect()
}

/// The answer for the files of `dir`, remembered for each directory on the way up: the
/// files of one directory, and the directories of one tree, share their lookups (a
/// repository of 100,000 files would otherwise look for `.git` in every ancestor of each).
fn namespace_for_dir(
    dir: &Path,
    cache: &mut FastMap<PathBuf, Option<Arc<str>>>,
) -> Option<Arc<str>> {
    let mut unanswered = Vec::new();
    let mut answer = None;
    for ancestor in dir.ancestors() {
        if let Some(known) = cache.get(ancestor) {
            answer = known.clone();
            break;
        }
        unanswered.push(ancestor);
        if let Some(namespace) = read_kustomize_namespace(ancestor) {
            answer = Some(Arc::from(namespace));
            break;
        }
        // The repository root: nothing above it counts.
        if ancestor.join(".git").exists() {
            break;
        }
    }
    for ancestor in unanswered {
        cache.insert(ancestor.to_path_buf(), answer.clone());
    }
    answer
}

fn read_kustomize_namespace(dir: &Path) -> Option<String> {
    KUSTOMIZATION_FILES.iter().find_map(|name| {
        let path = dir.join(name);
        // Not through a link: this reads above the checked directory, where the boundary
        // checks of the loader do not run.
        let small_enough = std::fs::symlink_metadata(&path)
            .is_ok_and(|m| m.is_file() && m.len() <= DEFAULT_MAX_FILE_SIZE);
        if !small_enough {
            return None;
        }
        let text = std::fs::read_to_string(path).ok()?;
        let stream = super::yaml::parse_stream(&text);
        let root = &stream.documents.first()?.root;
        crate::load::kustomization::Kustomization::from_node(root)
            .namespace
            .map(|entry| entry.value)
    })
}
