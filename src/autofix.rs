//! The fix loop of `check --fix`: analyse, take the non-overlapping fixes ([`fix::plan`]), apply them in
//! memory, analyse the edited texts again (an [`Overlay`] the loader reads instead of the
//! disk), until no fix is left or [`MAX_PASSES`] passes ran. Nothing is written here:
//! `check --fix` writes the outcome through [`write`], `check --diff` prints it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::analysis::{Analysis, CheckOptions, analyze};
use crate::diagnostic::NewFile;
use crate::fix;
use crate::load::{Overlay, boundary, normalize};

/// Bound on fixing passes per run (one more analysis checks the last): a fix that keeps
/// producing another cannot loop.
pub const MAX_PASSES: usize = 10;

const BOM: &str = "\u{feff}";

/// One file the fixes change or create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: PathBuf,
    /// The path as reports show it.
    pub display: String,
    /// The path relative to the repository root (what the diff headers name).
    pub repo_path: String,
    /// The text as read (without a UTF-8 byte-order mark); empty for a created file.
    pub before: String,
    pub after: String,
    pub created: bool,
    /// The file started with a UTF-8 byte-order mark, kept when writing.
    pub bom: bool,
}

#[derive(Debug)]
pub struct FixRun {
    /// Sorted by path.
    pub changes: Vec<FileChange>,
    /// Fixes applied, over every pass.
    pub applied: usize,
    /// Analyses run (the last one saw the fixed texts).
    pub passes: usize,
    /// False when fixes were still pending after [`MAX_PASSES`].
    pub converged: bool,
    /// Files or fixes left alone, with the reason.
    pub warnings: Vec<String>,
    /// The analysis of the fixed texts: what remains.
    pub analysis: Analysis,
}

/// Runs the loop. `unsafe_fixes` also takes fixes that change behaviour.
pub fn run(options: &CheckOptions, unsafe_fixes: bool) -> FixRun {
    let mut overlay = Overlay::default();
    let mut changes: BTreeMap<PathBuf, FileChange> = BTreeMap::new();
    let mut refused: std::collections::BTreeSet<PathBuf> = Default::default();
    let mut warnings = Vec::new();
    let mut applied = 0;
    let mut passes = 0;
    loop {
        let mut pass_options = options.clone();
        pass_options.walk.overlay = Some(Arc::new(std::mem::take(&mut overlay)));
        let analysis = analyze(&pass_options);
        passes += 1;
        overlay = pass_options
            .walk
            .overlay
            .take()
            .and_then(|o| Arc::try_unwrap(o).ok())
            .unwrap_or_default();
        let sources = &analysis.sources;
        let new_path = |new: &NewFile| {
            let beside = sources.get(new.beside)?;
            Some(normalize(&beside.path).parent()?.join(&new.name))
        };
        let exists = |new: &NewFile| {
            new_path(new)
                .is_none_or(|path| changes.contains_key(&path) || path.symlink_metadata().is_ok())
        };
        let plan = fix::plan_with(&analysis.diagnostics, sources, unsafe_fixes, exists);
        if plan.is_empty() || passes > MAX_PASSES {
            return FixRun {
                changes: changed(changes),
                applied,
                passes,
                converged: plan.is_empty(),
                warnings,
                analysis,
            };
        }
        let root = boundary::canonical_root(&analysis.gate.root);
        let mut progressed = false;
        for (file, edits) in &plan.edits {
            let Some(source) = analysis.sources.get(*file) else {
                continue;
            };
            let path = normalize(&source.path);
            if refused.contains(&path) {
                continue;
            }
            let bom = match changes.get(&path) {
                Some(change) => change.bom,
                None => match on_disk(&source.path, &source.text, &root) {
                    Ok(bom) => bom,
                    Err(reason) => {
                        warnings.push(format!("{}: not fixed: {reason}", source.display));
                        refused.insert(path);
                        continue;
                    }
                },
            };
            let after = fix::apply(&source.text, edits);
            if let Err(reason) = still_parses(&source.text, &after) {
                warnings.push(format!(
                    "{}: not fixed: the edits would {reason}",
                    source.display
                ));
                refused.insert(path);
                continue;
            }
            overlay
                .files
                .insert(path.clone(), Arc::from(after.clone().into_bytes()));
            let change = changes.entry(path.clone()).or_insert_with(|| FileChange {
                path: source.path.clone(),
                display: source.display.clone(),
                repo_path: analysis.gate.repo_path(*file).to_string(),
                before: source.text.to_string(),
                after: String::new(),
                created: false,
                bom,
            });
            change.after = after;
            progressed = true;
        }
        for new in &plan.new_files {
            let Some(beside) = analysis.sources.get(new.beside) else {
                continue;
            };
            let Some(dir) = normalize(&beside.path).parent().map(Path::to_path_buf) else {
                continue;
            };
            let path = dir.join(&new.name);
            if changes.contains_key(&path) || path.symlink_metadata().is_ok() {
                // Already created in an earlier pass, or a file of that name exists.
                continue;
            }
            let inside = std::fs::canonicalize(&dir).is_ok_and(|d| d.starts_with(&root));
            if !inside {
                warnings.push(format!(
                    "{}: not created: its directory is outside the repository",
                    new.name
                ));
                continue;
            }
            let display = Path::new(&beside.display)
                .parent()
                .map_or_else(|| PathBuf::from(&new.name), |d| d.join(&new.name))
                .to_string_lossy()
                .into_owned();
            let beside_repo = analysis.gate.repo_path(new.beside);
            let repo_path = match beside_repo.rsplit_once('/') {
                Some((dir, _)) => format!("{dir}/{}", new.name),
                None => new.name.clone(),
            };
            overlay
                .files
                .insert(path.clone(), Arc::from(new.text.clone().into_bytes()));
            overlay.created.insert(path.clone());
            changes.insert(
                path.clone(),
                FileChange {
                    path,
                    display,
                    repo_path,
                    before: String::new(),
                    after: new.text.clone(),
                    created: true,
                    bom: false,
                },
            );
            progressed = true;
        }
        if !progressed {
            // Every file the fixes touch was refused: nothing more can be applied.
            return FixRun {
                changes: changed(changes),
                applied,
                passes,
                converged: true,
                warnings,
                analysis,
            };
        }
        applied += plan.taken;
    }
}

/// The files a run created or changed, sorted by path.
fn changed(changes: BTreeMap<PathBuf, FileChange>) -> Vec<FileChange> {
    changes
        .into_values()
        .filter(|c| c.created || c.before != c.after)
        .collect()
}

/// Whether the file on disk still holds `text` (the analysis read it, so it is inside the
/// repository), and whether it has a UTF-8 byte-order mark. Files read through a link out
/// of the repository, re-encoded (UTF-16) or changed since are not edited.
fn on_disk(path: &Path, text: &str, root: &Path) -> Result<bool, String> {
    if path.as_os_str() == "-" {
        return Err("standard input cannot be fixed".to_string());
    }
    let resolved = boundary::check_inside(path, &[root.to_path_buf()])
        .map_err(|refusal| refusal.describe())?;
    let limit = u64::try_from(text.len())
        .unwrap_or(u64::MAX)
        .saturating_add(3);
    let bytes = boundary::read_bounded(&resolved, limit).map_err(|e| e.to_string())?;
    if bytes == text.as_bytes() {
        Ok(false)
    } else if bytes.strip_prefix(BOM.as_bytes()) == Some(text.as_bytes()) {
        Ok(true)
    } else {
        Err("it is not UTF-8 text as read, or it changed since".to_string())
    }
}

/// An edited text must still be YAML with as many documents and no new syntax error.
fn still_parses(before: &str, after: &str) -> Result<(), String> {
    let old = crate::load::yaml::parse_stream(before);
    let new = crate::load::yaml::parse_stream(after);
    if new.errors.len() > old.errors.len() || new.failed.len() > old.failed.len() {
        let message = new
            .errors
            .first()
            .map_or_else(String::new, |e| format!(": {}", e.message));
        return Err(format!("break its YAML{message}"));
    }
    if new.documents.len() != old.documents.len() {
        return Err("change its number of documents".to_string());
    }
    Ok(())
}

/// Writes every change (a created file only where none exists yet), each through the
/// repository boundary. Returns the files written and the errors met.
pub fn write(changes: &[FileChange], root: &Path) -> (usize, Vec<String>) {
    let mut written = 0;
    let mut errors = Vec::new();
    for change in changes {
        if change.created && change.path.symlink_metadata().is_ok() {
            errors.push(format!("{}: exists already; not created", change.display));
            continue;
        }
        if !change.created {
            // The text the analysis read must still be there.
            let canonical = boundary::canonical_root(root);
            match on_disk(&change.path, &change.before, &canonical) {
                Ok(_) => {}
                Err(reason) => {
                    errors.push(format!("{}: not written: {reason}", change.display));
                    continue;
                }
            }
        }
        let text = if change.bom {
            format!("{BOM}{}", change.after)
        } else {
            change.after.clone()
        };
        match boundary::write_file(&change.path, root, &text) {
            Ok(()) => written += 1,
            Err(error) => errors.push(format!("{}: {error}", change.display)),
        }
    }
    (written, errors)
}

/// Unified diff of every change, `a/` and `b/` prefixed as `git diff` writes them.
pub fn unified_diff(changes: &[FileChange]) -> String {
    let mut out = String::new();
    for change in changes {
        let old = if change.created {
            "/dev/null".to_string()
        } else {
            format!("a/{}", change.repo_path)
        };
        let diff = similar::TextDiff::from_lines(&change.before, &change.after);
        out.push_str(
            &diff
                .unified_diff()
                .context_radius(3)
                .header(&old, &format!("b/{}", change.repo_path))
                .to_string(),
        );
    }
    out
}
