//! Load stage: find manifest files, read them, parse every YAML document with spans.
//! The only stage that touches the filesystem.

pub mod walk;
pub mod yaml;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::span::{FileId, Location, Pos, Span};
pub use walk::{Input, WalkOptions};
use yaml::Node;

/// A file the loader looked at; findings point into it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as found on disk (`-` for standard input).
    pub path: PathBuf,
    /// Path shown to users: relative to the working directory when below it.
    pub display: String,
    pub text: Arc<str>,
}

#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub files: Vec<SourceFile>,
}

impl Sources {
    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.0)
    }

    pub fn display(&self, id: FileId) -> &str {
        self.get(id)
            .map(|f| f.display.as_str())
            .unwrap_or("<unknown>")
    }
}

/// Why something in the input could not be analysed normally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueKind {
    /// YAML syntax error, duplicate key, or bytes that are not UTF-8 text.
    Syntax,
    /// A document that looks like a Kubernetes object but does not have its shape.
    Schema,
    /// A Helm chart template: not YAML until rendered.
    HelmTemplate,
    /// The file or directory could not be read (permissions, symlink loop, FIFO, ...).
    Unreadable,
    /// Larger than the file-size limit; not read.
    TooLarge,
    /// A symbolic link leading outside the checked tree; not followed.
    OutsideTree,
    /// A kustomization feature xks-lint does not apply (remote resource, generator, plugin).
    KustomizeNote,
    /// A kustomization that cannot be built (missing resource, cycle, escape, bad patch).
    KustomizeError,
}

#[derive(Debug, Clone)]
pub struct LoadIssue {
    pub kind: IssueKind,
    pub location: Location,
    pub message: String,
    /// Other places that explain the issue (the first occurrence of a duplicate key).
    pub related: Vec<(Location, String)>,
}

/// One parsed YAML document.
#[derive(Debug, Clone)]
pub struct LoadedDocument {
    pub file: FileId,
    /// 0-based index of the document in its file.
    pub index: usize,
    pub root: Node,
    /// `namespace:` of the nearest kustomization above the file, if any.
    pub kustomize_namespace: Option<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LoadStats {
    /// Candidate files found (walked or named).
    pub files_found: usize,
    /// Files read and parsed as YAML/JSON.
    pub files_read: usize,
    /// Files not analysed: Helm templates, unreadable or binary files.
    pub files_skipped: usize,
    pub documents: usize,
}

#[derive(Debug, Default, Clone)]
pub struct Loaded {
    /// Kustomizations may not reference files outside it.
    pub repo_root: Option<PathBuf>,
    pub sources: Sources,
    pub documents: Vec<LoadedDocument>,
    pub issues: Vec<LoadIssue>,
    pub stats: LoadStats,
    /// YAML nodes of every file of the run, against the per-run limit.
    pub node_budget: Arc<yaml::RunBudget>,
}

struct ParsedIssue {
    kind: IssueKind,
    span: Span,
    message: String,
    related: Vec<(Span, String)>,
}

enum FileOutcome {
    Parsed {
        documents: Vec<(Node, usize)>,
        issues: Vec<ParsedIssue>,
    },
    Skipped {
        kind: IssueKind,
        message: String,
        span: Span,
    },
}

/// Reads every input and parses it. Never fails: problems become [`LoadIssue`]s.
pub fn load(inputs: &[Input], options: &WalkOptions) -> Loaded {
    let (candidates, walk_skipped) = walk::collect(inputs, options);
    let cwd = std::env::current_dir().ok();
    let mut loaded = Loaded {
        repo_root: repo_root(inputs),
        ..Loaded::default()
    };
    read_candidates(&mut loaded, &candidates, cwd.as_deref(), options);
    for skipped in walk_skipped {
        let file = FileId(loaded.sources.files.len());
        loaded.sources.files.push(SourceFile {
            display: display_path(&skipped.path, cwd.as_deref()),
            path: skipped.path,
            text: Arc::from(""),
        });
        loaded.stats.files_found += 1;
        loaded.stats.files_skipped += 1;
        loaded.issues.push(LoadIssue {
            kind: skipped.kind,
            location: Location {
                file,
                span: Span::point(first_position()),
            },
            message: skipped.message,
            related: Vec::new(),
        });
    }
    if options.kustomize {
        pull_kustomize_references(&mut loaded, cwd.as_deref(), options);
    }
    loaded
}

/// Reads and parses candidates in parallel and appends them, in order, to `loaded`.
fn read_candidates(
    loaded: &mut Loaded,
    candidates: &[walk::Candidate],
    cwd: Option<&Path>,
    options: &WalkOptions,
) {
    let budget = Arc::clone(&loaded.node_budget);
    let read: Vec<(SourceFile, FileOutcome, Option<String>)> = candidates
        .par_iter()
        .map(|candidate| read_and_parse(candidate, cwd, options.max_file_size, &budget))
        .collect();
    loaded.stats.files_found += read.len();
    for (source, outcome, kustomize_namespace) in read {
        let file = FileId(loaded.sources.files.len());
        loaded.sources.files.push(source);
        match outcome {
            FileOutcome::Parsed { documents, issues } => {
                loaded.stats.files_read += 1;
                loaded.stats.documents += documents.len();
                for (root, index) in documents {
                    loaded.documents.push(LoadedDocument {
                        file,
                        index,
                        root,
                        kustomize_namespace: kustomize_namespace.clone(),
                    });
                }
                loaded.issues.extend(issues.into_iter().map(|issue| {
                    LoadIssue {
                        kind: issue.kind,
                        location: Location {
                            file,
                            span: issue.span,
                        },
                        message: issue.message,
                        related: issue
                            .related
                            .into_iter()
                            .map(|(span, message)| (Location { file, span }, message))
                            .collect(),
                    }
                }));
            }
            FileOutcome::Skipped {
                kind,
                message,
                span,
            } => {
                loaded.stats.files_skipped += 1;
                loaded.issues.push(LoadIssue {
                    kind,
                    location: Location { file, span },
                    message,
                    related: Vec::new(),
                });
            }
        }
    }
}

/// Absolute path with `.` and `..` resolved lexically (symlinks are not resolved, so
/// paths compare the way kustomization files write them).
pub fn normalize(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in absolute.components() {
        match component {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// The repository the first path belongs to (the nearest directory holding `.git`),
/// else that path itself: kustomizations may not reach beyond it.
fn repo_root(inputs: &[Input]) -> Option<PathBuf> {
    let first = inputs.iter().find_map(|input| match input {
        Input::Path(path) => Some(normalize(path)),
        _ => None,
    })?;
    let start = if first.is_dir() {
        first.clone()
    } else {
        first
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or(first.clone())
    };
    Some(
        start
            .ancestors()
            .find(|dir| dir.join(".git").exists())
            .map(Path::to_path_buf)
            .unwrap_or(start),
    )
}

pub fn is_kustomization_file(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| crate::kustomize::spec::FILE_NAMES.contains(&n))
}

/// Loads the files that kustomizations reference but the walk did not reach
/// (a base outside the checked directory, an excluded patch file), within the
/// repository only. Never fetches remote resources.
fn pull_kustomize_references(loaded: &mut Loaded, cwd: Option<&Path>, options: &WalkOptions) {
    let mut known: std::collections::HashSet<PathBuf> = loaded
        .sources
        .files
        .iter()
        .map(|f| normalize(&f.path))
        .collect();
    let mut scanned = std::collections::HashSet::new();
    loop {
        let mut wanted = std::collections::BTreeSet::new();
        for document in &loaded.documents {
            let Some(source) = loaded.sources.get(document.file) else {
                continue;
            };
            if !is_kustomization_file(&source.path) || !scanned.insert(document.file) {
                continue;
            }
            let dir = normalize(&source.path)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let spec = crate::kustomize::spec::Kustomization::from_node(&document.root);
            for reference in spec.referenced_paths() {
                let target = normalize(&dir.join(reference));
                let inside = loaded
                    .repo_root
                    .as_ref()
                    .is_none_or(|root| target.starts_with(root));
                if !inside {
                    continue;
                }
                if target.is_dir() {
                    let file = crate::kustomize::spec::FILE_NAMES
                        .iter()
                        .map(|name| target.join(name))
                        .find(|candidate| candidate.is_file());
                    wanted.extend(file);
                } else if target.is_file() {
                    wanted.insert(target);
                }
            }
        }
        wanted.retain(|path| !known.contains(path));
        if wanted.is_empty() {
            return;
        }
        let candidates: Vec<walk::Candidate> = wanted
            .into_iter()
            .map(|path| {
                known.insert(path.clone());
                walk::Candidate {
                    path: cwd
                        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
                        .unwrap_or(path),
                    content: None,
                    in_helm_chart: false,
                    kustomize_namespace: None,
                }
            })
            .collect();
        read_candidates(loaded, &candidates, cwd, options);
    }
}

fn first_position() -> Pos {
    Pos {
        byte: 0,
        line: 1,
        col: 1,
    }
}

pub fn display_path(path: &Path, cwd: Option<&Path>) -> String {
    if path.as_os_str() == "-" {
        return "<stdin>".to_string();
    }
    if path.is_relative() && !path.exists() {
        // In-memory inputs keep the name they were given.
        return path.to_string_lossy().into_owned();
    }
    let relative = cwd
        .and_then(|cwd| {
            let absolute = if path.is_absolute() {
                path.to_path_buf()
            } else {
                cwd.join(path)
            };
            absolute.strip_prefix(cwd).ok().map(Path::to_path_buf)
        })
        .unwrap_or_else(|| path.to_path_buf());
    let text = relative.to_string_lossy().replace('\\', "/");
    text.strip_prefix("./").unwrap_or(&text).to_string()
}

/// Reads at most `limit + 1` bytes, so an oversized input is detected without being held.
fn read_bytes(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut buffer = Vec::new();
    let cap = limit.saturating_add(1);
    if path.as_os_str() == "-" {
        std::io::stdin().lock().take(cap).read_to_end(&mut buffer)?;
    } else {
        std::fs::File::open(path)?
            .take(cap)
            .read_to_end(&mut buffer)?;
    }
    Ok(buffer)
}

/// Text of a file: UTF-8 (BOM removed) or UTF-16 with a byte-order mark.
fn decode_text(bytes: Vec<u8>) -> Result<String, String> {
    let utf16 = |bytes: &[u8], big_endian: bool| {
        let units: Vec<u16> = bytes
            .chunks(2)
            .map(|pair| {
                let pair = [pair[0], pair.get(1).copied().unwrap_or(0)];
                if big_endian {
                    u16::from_be_bytes(pair)
                } else {
                    u16::from_le_bytes(pair)
                }
            })
            .collect();
        String::from_utf16(&units).map_err(|_| "invalid UTF-16 text; file not analysed".to_string())
    };
    match bytes.as_slice() {
        [0xFF, 0xFE, rest @ ..] => utf16(rest, false),
        [0xFE, 0xFF, rest @ ..] => utf16(rest, true),
        [0xEF, 0xBB, 0xBF, rest @ ..] => String::from_utf8(rest.to_vec()).map_err(utf8_message),
        _ => String::from_utf8(bytes).map_err(utf8_message),
    }
}

fn utf8_message(error: std::string::FromUtf8Error) -> String {
    format!(
        "not UTF-8 text (binary file?): invalid byte at offset {}; file not analysed",
        error.utf8_error().valid_up_to()
    )
}

fn read_and_parse(
    candidate: &walk::Candidate,
    cwd: Option<&Path>,
    max_file_size: u64,
    budget: &yaml::RunBudget,
) -> (SourceFile, FileOutcome, Option<String>) {
    let path = candidate.path.clone();
    let display = display_path(&path, cwd);
    let skipped = |text: Arc<str>, kind, message: String, span: Span| {
        (
            SourceFile {
                path: path.clone(),
                display: display.clone(),
                text,
            },
            FileOutcome::Skipped {
                kind,
                message,
                span,
            },
            None,
        )
    };
    let start = Span::point(first_position());
    let too_large = |size: String| {
        format!(
            "file is {size}, above the {max_file_size}-byte limit (`--max-file-size`); not read"
        )
    };
    let on_disk = candidate.content.is_none() && path.as_os_str() != "-";
    if on_disk
        && let Ok(meta) = std::fs::metadata(&path)
        && meta.len() > max_file_size
    {
        let message = too_large(format!("{} bytes", meta.len()));
        return skipped(Arc::from(""), IssueKind::TooLarge, message, start);
    }
    let read = match &candidate.content {
        Some(content) => Ok(content.to_vec()),
        None => read_bytes(&path, max_file_size),
    };
    let bytes = match read {
        Ok(bytes) if bytes.len() as u64 > max_file_size => {
            let message = too_large("larger".to_string());
            return skipped(Arc::from(""), IssueKind::TooLarge, message, start);
        }
        Ok(bytes) => bytes,
        Err(error) => {
            return skipped(
                Arc::from(""),
                IssueKind::Unreadable,
                format!("cannot read file: {error}; not analysed"),
                start,
            );
        }
    };
    let text: Arc<str> = match decode_text(bytes) {
        Ok(text) => Arc::from(text),
        Err(message) => return skipped(Arc::from(""), IssueKind::Syntax, message, start),
    };
    let template_start = text.find("{{");
    if candidate.in_helm_chart || template_start.is_some() {
        let at = template_start.map(|byte| Pos::of_byte(&text, byte));
        let span = at.map_or(start, |pos| Span {
            start: pos,
            end: Pos::of_byte(&text, pos.byte as usize + 2),
        });
        return skipped(
            text,
            IssueKind::HelmTemplate,
            "Helm template, not analysed: render it and pipe it in (`helm template . | xks-lint check -`)".to_string(),
            span,
        );
    }
    let stream = yaml::parse_stream_in(&text, budget);
    let errors_not_kept = stream.errors_not_kept;
    let mut issues: Vec<ParsedIssue> = stream
        .errors
        .into_iter()
        .map(|e| ParsedIssue {
            kind: IssueKind::Syntax,
            span: Span::point(e.pos),
            message: e.message,
            related: Vec::new(),
        })
        .collect();
    let mut documents = Vec::new();
    for (index, document) in stream.documents.into_iter().enumerate() {
        for (repeat, first) in &document.duplicate_keys {
            issues.push(ParsedIssue {
                kind: IssueKind::Syntax,
                span: *repeat,
                message: "duplicate mapping key: the API server rejects the document (the later value is used here)".to_string(),
                related: vec![(*first, "first occurrence".to_string())],
            });
        }
        documents.push((document.root, index));
    }
    cap_issues(&mut issues, errors_not_kept);
    let kustomize_namespace = candidate.kustomize_namespace.clone();
    (
        SourceFile {
            path,
            display,
            text,
        },
        FileOutcome::Parsed { documents, issues },
        kustomize_namespace,
    )
}

/// Keeps the first [`crate::limits::MAX_ERRORS_PER_FILE`] syntax issues of a file (by
/// position) and says, at the first one left out, how many more there are.
fn cap_issues(issues: &mut Vec<ParsedIssue>, not_kept: usize) {
    use crate::limits::MAX_ERRORS_PER_FILE;
    let total = issues.len() + not_kept;
    if total <= MAX_ERRORS_PER_FILE {
        return;
    }
    issues.sort_by_key(|issue| issue.span.start);
    let first_left_out = issues
        .get(MAX_ERRORS_PER_FILE)
        .or(issues.last())
        .map_or(Span::point(first_position()), |issue| issue.span);
    issues.truncate(MAX_ERRORS_PER_FILE);
    let more = total - issues.len();
    issues.push(ParsedIssue {
        kind: IssueKind::Syntax,
        span: first_left_out,
        message: format!(
            "{more} more errors in this file are not reported (at most {MAX_ERRORS_PER_FILE} per file)"
        ),
        related: Vec::new(),
    });
}
