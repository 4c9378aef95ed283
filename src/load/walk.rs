//! Finding the files to analyse: gitignore-aware directory walking, explicit
//! files, standard input, `--exclude` globs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ignore::WalkBuilder;
use ignore::overrides::{Override, OverrideBuilder};

const MANIFEST_EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];
const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    Path(PathBuf),
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

#[derive(Debug, Clone, Default)]
pub struct WalkOptions {
    /// Gitignore-style globs of files and directories to leave out.
    pub excludes: Vec<String>,
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
    /// Below a `templates/` directory whose parent holds a `Chart.yaml`.
    pub in_helm_chart: bool,
    pub kustomize_namespace: Option<String>,
}

#[derive(Debug, Clone)]
pub struct WalkError {
    pub path: PathBuf,
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

/// Files to read, sorted by path, and the problems met while walking.
pub fn collect(inputs: &[Input], options: &WalkOptions) -> (Vec<Candidate>, Vec<WalkError>) {
    let mut found: BTreeMap<PathBuf, ()> = BTreeMap::new();
    let mut stdin = false;
    let mut errors = Vec::new();
    for input in inputs {
        match input {
            Input::Stdin => stdin = true,
            Input::Path(path) if path.is_dir() => walk_dir(path, options, &mut found, &mut errors),
            Input::Path(path) => {
                let base = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                let excluded = excludes_for(&base, options)
                    .is_some_and(|o| o.matched(path, false).is_ignore());
                if !excluded {
                    found.insert(path.clone(), ());
                }
            }
        }
    }
    let mut kustomize_cache = HashMap::new();
    let mut candidates: Vec<Candidate> = found
        .into_keys()
        .map(|path| Candidate {
            in_helm_chart: in_helm_chart(&path),
            kustomize_namespace: kustomize_namespace(&path, &mut kustomize_cache),
            path,
        })
        .collect();
    if stdin {
        candidates.push(Candidate {
            path: PathBuf::from("-"),
            in_helm_chart: false,
            kustomize_namespace: None,
        });
    }
    errors.sort_by(|a, b| a.path.cmp(&b.path));
    (candidates, errors)
}

fn walk_dir(
    root: &Path,
    options: &WalkOptions,
    found: &mut BTreeMap<PathBuf, ()>,
    errors: &mut Vec<WalkError>,
) {
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(true)
        .git_ignore(true)
        .ignore(true)
        .require_git(false)
        .follow_links(true)
        .sort_by_file_name(|a, b| a.cmp(b));
    if let Some(overrides) = excludes_for(root, options) {
        builder.overrides(overrides);
    }
    for entry in builder.build() {
        match entry {
            Ok(entry) => {
                let is_file = entry.file_type().is_some_and(|t| t.is_file());
                if is_file && is_manifest(entry.path()) {
                    found.insert(entry.path().to_path_buf(), ());
                }
            }
            Err(error) => errors.push(walk_error(root, error)),
        }
    }
}

fn walk_error(root: &Path, error: ignore::Error) -> WalkError {
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
    WalkError {
        path,
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

/// `namespace:` of the nearest kustomization above `path` that sets one,
/// looking no higher than the repository root.
fn kustomize_namespace(
    path: &Path,
    cache: &mut HashMap<PathBuf, Option<String>>,
) -> Option<String> {
    let absolute = std::path::absolute(path).ok()?;
    for dir in absolute.ancestors().skip(1) {
        let namespace = cache
            .entry(dir.to_path_buf())
            .or_insert_with(|| read_kustomize_namespace(dir))
            .clone();
        if namespace.is_some() {
            return namespace;
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

fn read_kustomize_namespace(dir: &Path) -> Option<String> {
    KUSTOMIZATION_FILES.iter().find_map(|name| {
        let text = std::fs::read_to_string(dir.join(name)).ok()?;
        let stream = super::yaml::parse_stream(&text);
        let root = &stream.documents.first()?.root;
        root.get("namespace")?.as_str().map(str::to_string)
    })
}
