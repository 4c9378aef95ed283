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
    /// The file or directory could not be read (permissions, symlink loop, ...).
    Unreadable,
}

#[derive(Debug, Clone)]
pub struct LoadIssue {
    pub kind: IssueKind,
    pub location: Location,
    pub message: String,
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

#[derive(Debug, Default)]
pub struct Loaded {
    pub sources: Sources,
    pub documents: Vec<LoadedDocument>,
    pub issues: Vec<LoadIssue>,
    pub stats: LoadStats,
}

enum FileOutcome {
    Parsed {
        documents: Vec<(Node, usize)>,
        issues: Vec<(IssueKind, Span, String)>,
    },
    Skipped {
        kind: IssueKind,
        message: String,
        span: Span,
    },
}

/// Reads every input and parses it. Never fails: problems become [`LoadIssue`]s.
pub fn load(inputs: &[Input], options: &WalkOptions) -> Loaded {
    let (candidates, walk_errors) = walk::collect(inputs, options);
    let cwd = std::env::current_dir().ok();

    let read: Vec<(SourceFile, FileOutcome, Option<String>)> = candidates
        .par_iter()
        .map(|candidate| read_and_parse(candidate, cwd.as_deref()))
        .collect();

    let mut loaded = Loaded::default();
    loaded.stats.files_found = candidates.len() + walk_errors.len();
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
                loaded
                    .issues
                    .extend(issues.into_iter().map(|(kind, span, message)| LoadIssue {
                        kind,
                        location: Location { file, span },
                        message,
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
                });
            }
        }
    }
    for error in walk_errors {
        let file = FileId(loaded.sources.files.len());
        loaded.sources.files.push(SourceFile {
            display: display_path(&error.path, cwd.as_deref()),
            path: error.path,
            text: Arc::from(""),
        });
        loaded.stats.files_skipped += 1;
        loaded.issues.push(LoadIssue {
            kind: IssueKind::Unreadable,
            location: Location {
                file,
                span: Span::point(first_position()),
            },
            message: error.message,
        });
    }
    loaded
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

fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    if path.as_os_str() == "-" {
        let mut buffer = Vec::new();
        std::io::stdin().lock().read_to_end(&mut buffer)?;
        Ok(buffer)
    } else {
        std::fs::read(path)
    }
}

fn read_and_parse(
    candidate: &walk::Candidate,
    cwd: Option<&Path>,
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
    let bytes = match read_bytes(&path) {
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
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => {
            let valid = error.utf8_error().valid_up_to();
            return skipped(
                Arc::from(""),
                IssueKind::Syntax,
                format!(
                    "not UTF-8 text (binary file?): invalid byte at offset {valid}; file not analysed"
                ),
                start,
            );
        }
    };
    let text: Arc<str> = Arc::from(text.strip_prefix('\u{feff}').unwrap_or(&text));
    let template_start = text.find("{{");
    if candidate.in_helm_chart || template_start.is_some() {
        let at = template_start.map(|byte| Pos::of_byte(&text, byte));
        let span = at.map_or(start, |pos| Span {
            start: pos,
            end: Pos::of_byte(&text, pos.byte + 2),
        });
        return skipped(
            text,
            IssueKind::HelmTemplate,
            "Helm template, not analysed: render it and pipe it in (`helm template . | xks-lint check -`)".to_string(),
            span,
        );
    }
    let stream = yaml::parse_stream(&text);
    let mut issues: Vec<(IssueKind, Span, String)> = stream
        .errors
        .into_iter()
        .map(|e| (IssueKind::Syntax, Span::point(e.pos), e.message))
        .collect();
    let mut documents = Vec::new();
    for (index, document) in stream.documents.into_iter().enumerate() {
        for key in &document.duplicate_keys {
            issues.push((
                IssueKind::Syntax,
                *key,
                "duplicate mapping key: the API server rejects the document (the later value is used here)".to_string(),
            ));
        }
        documents.push((document.root, index));
    }
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
