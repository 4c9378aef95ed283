//! Load stage: find manifest files, read them, parse every YAML document with spans.
//! The only stage that touches the filesystem.

pub mod boundary;
pub mod git;
pub mod kustomization;
pub mod walk;
pub mod yaml;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;

use crate::span::{FileId, Location, Pos, Span, TextIndex};
pub use walk::{Input, LeftOut, LeftOutReason, Overlay, WalkOptions};
use yaml::Node;

/// A file the loader looked at; findings point into it.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Path as found on disk (`-` for standard input).
    pub path: PathBuf,
    /// Path shown to users: relative to the working directory when below it.
    pub display: String,
    /// The file's text, in the buffer it was read into: an `Arc<str>` would copy every
    /// file once more (its count has to sit before the text), 400 MB at 100,000 workloads.
    pub text: Arc<String>,
    /// Built when a position in the file is first shown (see [`SourceFile::start`]).
    index: TextIndex,
}

impl SourceFile {
    pub fn new(path: PathBuf, display: String, text: Arc<String>) -> SourceFile {
        SourceFile {
            path,
            display,
            text,
            index: TextIndex::default(),
        }
    }

    /// Where `span` (a span of this file) starts, its line and column counted in the text
    /// through the file's index: every finding in a long file or on a long line costs a
    /// bounded count, not the file or the line.
    pub fn start(&self, span: Span) -> Pos {
        span.start_pos_indexed(&self.text, &self.index)
    }

    /// Where `span` (a span of this file) ends, its line and column counted in the text.
    pub fn end(&self, span: Span) -> Pos {
        span.end_pos_indexed(&self.text, &self.index)
    }

    /// Where `span` (a span of this file) starts and ends: [`SourceFile::start`] and
    /// [`SourceFile::end`] with the line counted once.
    pub fn range(&self, span: Span) -> (Pos, Pos) {
        span.positions_indexed(&self.text, &self.index)
    }
}

/// The files of a run. Cloning shares them: every stage and the report read one list
/// (copying a path, a display name and an index per file was tens of milliseconds on
/// the main thread at 100,000 files, and freeing the original as many again), and a
/// file's position index, built when a finding there is first shown, is built once.
#[derive(Debug, Default, Clone)]
pub struct Sources {
    pub files: Arc<Vec<SourceFile>>,
}

impl Sources {
    /// Adds a file while the run is loading (the list is not shared yet; a shared one is
    /// copied first) and returns its id.
    pub fn push(&mut self, file: SourceFile) -> FileId {
        let files = Arc::make_mut(&mut self.files);
        let id = FileId::new(files.len());
        files.push(file);
        id
    }

    pub fn get(&self, id: FileId) -> Option<&SourceFile> {
        self.files.get(id.index())
    }

    pub fn display(&self, id: FileId) -> &str {
        self.get(id)
            .map(|f| f.display.as_str())
            .unwrap_or("<unknown>")
    }

    /// The text of a file (empty for an id the table does not hold): where reporters count
    /// a span's columns and end line (`Span::start_pos`, `Span::end_pos`).
    pub fn text(&self, id: FileId) -> &str {
        self.get(id).map_or("", |f| &f.text)
    }

    /// Where `location` starts, its column counted in its file's text (see
    /// [`SourceFile::start`]).
    pub fn start(&self, location: Location) -> Pos {
        match self.get(location.file) {
            Some(file) => file.start(location.span),
            None => location.span.start_pos(""),
        }
    }

    /// Where `location` ends, its line and column counted in its file's text.
    pub fn end(&self, location: Location) -> Pos {
        match self.get(location.file) {
            Some(file) => file.end(location.span),
            None => location.span.end_pos(""),
        }
    }

    /// Where `location` starts and ends (see [`SourceFile::range`]).
    pub fn range(&self, location: Location) -> (Pos, Pos) {
        match self.get(location.file) {
            Some(file) => file.range(location.span),
            None => location.span.positions_indexed("", &TextIndex::default()),
        }
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
    /// Nodes of `root` as parsed ([`Node::expanded_size`]), counted while the tree was
    /// fresh: the kustomize build's limits ask it for every object it adds, and counting
    /// there walked every tree of the run again.
    pub nodes: usize,
    /// `namespace:` of the nearest kustomization above the file, if any.
    pub kustomize_namespace: Option<Arc<str>>,
    /// What the document's `apiVersion` and `kind` say, noted while the tree was fresh.
    pub written: WrittenKind,
}

/// What the kustomize build asks of every document before it edits any tree (is it an
/// object, a list, a Flux object, a Flux substitution source), and the model of each one a
/// build consumed (is it an object the model types), noted by the parsing worker
/// right after building the tree. The build asked it four times over (Flux objects,
/// substitution sources, which trees may move, each resource as it is added), and each
/// time fetched every tree's root from memory again. One byte: it sits in the padding of
/// [`LoadedDocument`]. The build edits only trees it has added, and a moved tree it
/// edited never returns to the loaded documents, so what was noted stays true.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WrittenKind(u8);

impl WrittenKind {
    const OBJECT: u8 = 1;
    const LIST: u8 = 2;
    const FLUX: u8 = 4;
    const SUBSTITUTION_SOURCE: u8 = 8;
    const MANIFEST: u8 = 16;

    /// What `root` says: see [`written_kind`] for what makes an object.
    pub fn of(root: &Node) -> WrittenKind {
        let Some((api_version, kind)) = written_kind(root) else {
            return WrittenKind(0);
        };
        let mut bits = WrittenKind::OBJECT;
        if kind.ends_with("List") {
            bits |= WrittenKind::LIST;
        }
        if api_version.contains(".fluxcd.io/") {
            bits |= WrittenKind::FLUX;
        }
        if api_version == "v1" && matches!(kind, "ConfigMap" | "Secret") {
            bits |= WrittenKind::SUBSTITUTION_SOURCE;
        }
        if manifest_kind(root).is_some() {
            bits |= WrittenKind::MANIFEST;
        }
        WrittenKind(bits)
    }

    /// An object the model types: see [`manifest_kind`].
    pub fn is_manifest(self) -> bool {
        self.0 & WrittenKind::MANIFEST != 0
    }

    /// A string `kind` (and `apiVersion` a string or absent).
    pub fn is_object(self) -> bool {
        self.0 & WrittenKind::OBJECT != 0
    }

    /// A `kind` ending in `List`.
    pub fn is_list(self) -> bool {
        self.0 & WrittenKind::LIST != 0
    }

    /// An `apiVersion` of a Flux group (`*.fluxcd.io/`).
    pub fn is_flux(self) -> bool {
        self.0 & WrittenKind::FLUX != 0
    }

    /// A core (`v1`) ConfigMap or Secret, which Flux's `substituteFrom` may name.
    pub fn is_substitution_source(self) -> bool {
        self.0 & WrittenKind::SUBSTITUTION_SOURCE != 0
    }
}

/// The `kind` of a tree the model takes for a Kubernetes object: `apiVersion` and `kind`
/// both non-empty strings (a number or a boolean is not one), and not one of kustomize's own
/// files, which carry both but are build instructions.
pub fn manifest_kind(root: &Node) -> Option<&str> {
    let api_version = root.get("apiVersion")?.as_str()?;
    let kind = root.get("kind")?.as_str()?;
    let is_kustomize_config = api_version.starts_with("kustomize.config.k8s.io/");
    (!api_version.is_empty() && !kind.is_empty() && !is_kustomize_config).then_some(kind)
}

/// `apiVersion` (`""` when absent) and `kind` of a tree's root, when both are strings.
pub fn written_kind(root: &Node) -> Option<(&str, &str)> {
    let api_version = root.get("apiVersion").map_or(Some(""), Node::scalar_text)?;
    Some((api_version, root.get("kind")?.scalar_text()?))
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LoadStats {
    /// Candidate files found (walked or named).
    pub files_found: usize,
    /// Files read and parsed as YAML/JSON.
    pub files_read: usize,
    /// Files not analysed: Helm templates, unreadable or binary files.
    pub files_skipped: usize,
    /// Of `files_found`: files read only because a kustomization references them (the
    /// walk did not reach them: a base beside the checked directory, an excluded patch).
    pub files_referenced: usize,
    /// Manifest files below a checked directory that a `.gitignore`/`.ignore` leaves out.
    pub files_ignored: usize,
    /// Manifest files below a checked directory in hidden files or directories (`.github`).
    pub files_hidden: usize,
    /// Manifest files below a checked directory that an exclude glob leaves out.
    pub files_excluded: usize,
    pub documents: usize,
}

#[derive(Debug, Default, Clone)]
pub struct Loaded {
    /// Kustomizations may not reference files outside it.
    pub repo_root: Option<PathBuf>,
    /// The repository of every PATH, symbolic links resolved: no file is read outside them.
    pub roots: Vec<PathBuf>,
    /// Files kustomizations reference that were not read, by normalized path, and why
    /// (a symbolic link leading outside the repository, a device): the build reports them.
    pub refused: crate::hashing::FastMap<PathBuf, String>,
    pub sources: Sources,
    pub documents: Vec<LoadedDocument>,
    pub issues: Vec<LoadIssue>,
    pub stats: LoadStats,
    /// YAML nodes of every file of the run, against the per-run limit.
    pub node_budget: Arc<yaml::RunBudget>,
    /// Files kustomize generators read as data (`files`, `envs`), keyed by normalized
    /// path: raw bytes, never parsed as manifests; or why they could not be read.
    pub data_files: std::collections::BTreeMap<PathBuf, Result<Arc<[u8]>, String>>,
    /// Manifest files the walk left out on purpose (counted in `stats`).
    pub left_out: Vec<LeftOut>,
}

struct ParsedIssue {
    kind: IssueKind,
    span: Span,
    message: String,
    related: Vec<(Span, String)>,
}

/// A document's tree, index in its file, size in nodes and what its kind says.
type ParsedDocument = (Node, usize, usize, WrittenKind);

enum FileOutcome {
    Parsed {
        /// Each document's tree, index in the file, size in nodes and written kind.
        documents: Vec<ParsedDocument>,
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
    let walk::Collected {
        candidates,
        skipped: walk_skipped,
        left_out,
    } = walk::collect(inputs, options);
    let cwd = std::env::current_dir().ok();
    let mut loaded = Loaded {
        repo_root: repo_root(inputs, cwd.as_deref()),
        roots: inputs
            .iter()
            .filter_map(|input| match input {
                Input::Path(path) => Some(boundary::canonical_root(&boundary::root_of(
                    path,
                    cwd.as_deref(),
                ))),
                _ => None,
            })
            .collect(),
        ..Loaded::default()
    };
    read_candidates(&mut loaded, &candidates, cwd.as_deref(), options);
    for skipped in walk_skipped {
        let display = display_path(&skipped.path, cwd.as_deref());
        let file = loaded
            .sources
            .push(SourceFile::new(skipped.path, display, Arc::default()));
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
    // A left-out file a kustomization references was read after all. (Nothing left out,
    // nothing to look up: the set of every file read is not built.)
    if !left_out.is_empty() {
        let read: crate::hashing::FastSet<PathBuf> = loaded
            .sources
            .files
            .par_iter()
            .map(|f| normalize(&f.path))
            .collect();
        loaded.left_out = left_out
            .into_iter()
            .filter(|file| !read.contains(&normalize(&file.path)))
            .collect();
    }
    for file in &loaded.left_out {
        let count = match file.reason {
            LeftOutReason::Hidden => &mut loaded.stats.files_hidden,
            LeftOutReason::Ignored => &mut loaded.stats.files_ignored,
            LeftOutReason::Excluded => &mut loaded.stats.files_excluded,
        };
        *count += 1;
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
    let roots = &loaded.roots;
    let budget = Arc::clone(&loaded.node_budget);
    let read: Vec<(SourceFile, FileOutcome, Option<Arc<str>>)> = candidates
        .par_iter()
        .map(|candidate| {
            let overlaid;
            let candidate = match options
                .overlay
                .as_ref()
                .and_then(|o| o.content(&candidate.path))
            {
                Some(content) => {
                    overlaid = walk::Candidate {
                        content: Some(content),
                        ..candidate.clone()
                    };
                    &overlaid
                }
                None => candidate,
            };
            read_and_parse(candidate, cwd, roots, options.max_file_size, &budget)
        })
        .collect();
    loaded.stats.files_found += read.len();
    // Sized once: grown by doubling, the document list (a tree root each) was copied
    // about twice over into fresh pages.
    let documents: usize = read
        .iter()
        .map(|(_, outcome, _)| match outcome {
            FileOutcome::Parsed { documents, .. } => documents.len(),
            FileOutcome::Skipped { .. } => 0,
        })
        .sum();
    loaded.documents.reserve(documents);
    // Not shared yet: the list is extended in place.
    Arc::make_mut(&mut loaded.sources.files).reserve(read.len());
    for (source, outcome, kustomize_namespace) in read {
        let file = loaded.sources.push(source);
        match outcome {
            FileOutcome::Parsed { documents, issues } => {
                loaded.stats.files_read += 1;
                loaded.stats.documents += documents.len();
                for (root, index, nodes, written) in documents {
                    loaded.documents.push(LoadedDocument {
                        file,
                        index,
                        root,
                        nodes,
                        kustomize_namespace: kustomize_namespace.clone(),
                        written,
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
    if is_normal_absolute(path) {
        return path.to_path_buf();
    }
    normalize_by_components(path)
}

fn normalize_by_components(path: &Path) -> PathBuf {
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

/// Whether `path` is absolute and already as [`normalize`] leaves it: no `.` or `..`
/// component and no empty one (a repeated or trailing separator). Every file's path is
/// normalized several times, and nearly every one already is; checking the bytes costs
/// far less than taking the path apart. Unix only: elsewhere a leading `/` is no root.
pub(crate) fn is_normal_absolute(path: &Path) -> bool {
    let bytes = path.as_os_str().as_encoded_bytes();
    cfg!(unix)
        && bytes.len() > 1
        && bytes.first() == Some(&b'/')
        && bytes[1..]
            .split(|&b| b == b'/')
            .all(|part| !part.is_empty() && part != b"." && part != b"..")
}

/// The repository the first path belongs to ([`boundary::root_of`]): kustomizations may
/// not reach beyond it.
fn repo_root(inputs: &[Input], cwd: Option<&Path>) -> Option<PathBuf> {
    inputs.iter().find_map(|input| match input {
        Input::Path(path) => Some(boundary::root_of(path, cwd)),
        _ => None,
    })
}

pub fn is_kustomization_file(path: &Path) -> bool {
    let names = &crate::load::kustomization::FILE_NAMES;
    // Asked of every file of a run, several times: the name after the last `/` read from
    // the bytes is the file name unless the path ends in a separator or a `.` or `..`
    // component, which take `Path::file_name`'s walk over the components.
    let bytes = path.as_os_str().as_encoded_bytes();
    if cfg!(unix) && !matches!(bytes.last(), None | Some(b'/' | b'.')) {
        let name = bytes.rsplit(|&b| b == b'/').next().unwrap_or(bytes);
        return names.iter().any(|n| n.as_bytes() == name);
    }
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| names.contains(&n))
}

/// Loads the files that kustomizations reference but the walk did not reach
/// (a base outside the checked directory, an excluded patch file), within the
/// repository only. Never fetches remote resources.
fn pull_kustomize_references(loaded: &mut Loaded, cwd: Option<&Path>, options: &WalkOptions) {
    let mut known: crate::hashing::FastSet<PathBuf> = loaded
        .sources
        .files
        .par_iter()
        .map(|f| normalize(&f.path))
        .collect();
    // Files read already passed the boundary check before they were read; only those it
    // refused (or could not read) are checked again, to tell the build why.
    let not_read: crate::hashing::FastSet<PathBuf> = loaded
        .issues
        .iter()
        .filter(|issue| matches!(issue.kind, IssueKind::OutsideTree | IssueKind::Unreadable))
        .filter_map(|issue| loaded.sources.get(issue.location.file))
        .map(|f| normalize(&f.path))
        .collect();
    // Kustomizations with `generators:` entries, and the configurations written inline there.
    let mut plugin_users = Vec::new();
    let mut inline_configs = Vec::new();
    // Each round reads the files the previous one found: only its documents are new.
    let mut next_document = 0;
    loop {
        let mut wanted = std::collections::BTreeSet::new();
        let fresh = loaded.documents.get(next_document..).unwrap_or_default();
        next_document = loaded.documents.len();
        for found in kustomizations_among(&loaded.sources, fresh) {
            let FoundKustomization {
                dir,
                spec,
                data_targets,
                referenced_targets,
            } = found;
            if !spec.generator_plugins.is_empty() {
                plugin_users.push(dir.clone());
                inline_configs.extend(
                    spec.generator_plugins
                        .iter()
                        .filter(|e| crate::load::kustomization::is_inline_config(&e.value))
                        .flat_map(|e| yaml::parse_stream(&e.value).documents)
                        .map(|d| d.root),
                );
            }
            for target in data_targets {
                if loaded.data_files.contains_key(&target) {
                    continue;
                }
                let read = read_data_file(&target, loaded.repo_root.as_deref(), options);
                loaded.data_files.insert(target, read);
            }
            for target in referenced_targets {
                let inside = loaded
                    .repo_root
                    .as_ref()
                    .is_none_or(|root| target.starts_with(root));
                if !inside || (known.contains(&target) && !not_read.contains(&target)) {
                    continue;
                }
                // Resolve links before deciding: a committed link may lead anywhere.
                match boundary::check_inside(&target, &loaded.roots) {
                    Ok(_) => {}
                    Err(boundary::Refusal::Io(_)) => continue,
                    Err(refusal) => {
                        loaded.refused.insert(target, refusal.describe());
                        continue;
                    }
                }
                if target.is_dir() {
                    let file = crate::load::kustomization::FILE_NAMES
                        .iter()
                        .map(|name| target.join(name))
                        .find(|candidate| candidate.symlink_metadata().is_ok());
                    match file
                        .as_ref()
                        .map(|f| boundary::check_inside(f, &loaded.roots))
                    {
                        Some(Ok(_)) => wanted.extend(file),
                        Some(Err(boundary::Refusal::Io(_))) | None => {}
                        Some(Err(refusal)) => {
                            loaded.refused.insert(target, refusal.describe());
                        }
                    }
                } else {
                    wanted.insert(target);
                }
            }
        }
        wanted.retain(|path| !known.contains(path));
        if wanted.is_empty() {
            break;
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
                    walked_from: None,
                }
            })
            .collect();
        loaded.stats.files_referenced += candidates.len();
        read_candidates(loaded, &candidates, cwd, options);
    }
    pull_plugin_data_files(loaded, &plugin_users, &inline_configs, options);
}

/// A kustomization file found among the loaded documents, with the paths it names.
struct FoundKustomization {
    dir: PathBuf,
    spec: crate::load::kustomization::Kustomization,
    /// Generator data files, resolved against `dir`.
    data_targets: Vec<PathBuf>,
    /// Every other path it names (resources, components, patches...), resolved.
    referenced_targets: Vec<PathBuf>,
}

/// The kustomization files among `documents` (each file's documents in a run, in file
/// order), read and their paths resolved on every core.
fn kustomizations_among(
    sources: &Sources,
    documents: &[LoadedDocument],
) -> Vec<FoundKustomization> {
    documents
        .par_iter()
        .enumerate()
        .filter(|&(i, document)| i == 0 || documents[i - 1].file != document.file)
        .filter_map(|(_, document)| {
            let source = sources.get(document.file)?;
            is_kustomization_file(&source.path).then_some((document, source))
        })
        .map(|(document, source)| {
            let dir = normalize(&source.path)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            let spec = crate::load::kustomization::Kustomization::from_node(&document.root);
            let resolve = |reference: &str| normalize(&dir.join(reference));
            FoundKustomization {
                data_targets: spec.data_paths().map(resolve).collect(),
                referenced_targets: spec.referenced_paths().map(resolve).collect(),
                spec,
                dir,
            }
        })
        .collect()
}

/// Loads the data files of built-in generator plugin configurations
/// (`ConfigMapGenerator`/`SecretGenerator` objects named by `generators:`). kustomize
/// reads their `files` and `envs` relative to the kustomization that uses them, which
/// may be any kustomization with `generators:` entries: each such directory gets each
/// path (a path that does not exist there is only an error if a build uses it).
fn pull_plugin_data_files(
    loaded: &mut Loaded,
    user_dirs: &[PathBuf],
    inline_configs: &[Node],
    options: &WalkOptions,
) {
    use crate::load::kustomization::file_source;
    if user_dirs.is_empty() {
        return;
    }
    let is_builtin_generator = |root: &Node| {
        root.get("apiVersion").and_then(Node::scalar_text) == Some("builtin")
            && matches!(
                root.get("kind").and_then(Node::scalar_text),
                Some("ConfigMapGenerator" | "SecretGenerator")
            )
    };
    let configs = loaded
        .documents
        .iter()
        .map(|d| &d.root)
        .chain(inline_configs)
        .filter(|root| is_builtin_generator(root));
    let mut paths = std::collections::BTreeSet::new();
    for config in configs {
        let env = config.get("env").into_iter().filter_map(Node::scalar_text);
        let lists = ["files", "envs"]
            .into_iter()
            .filter_map(|key| config.get(key).and_then(Node::as_seq))
            .flatten()
            .filter_map(Node::scalar_text);
        for path in env.chain(lists) {
            if let Ok((_, path)) = file_source(path) {
                paths.insert(path.to_string());
            }
        }
    }
    let pairs = user_dirs
        .iter()
        .flat_map(|dir| paths.iter().map(move |path| (dir, path)))
        .take(crate::limits::MAX_PLUGIN_DATA_FILES);
    for (dir, path) in pairs {
        let target = normalize(&dir.join(path));
        if !loaded.data_files.contains_key(&target) {
            let read = read_data_file(&target, loaded.repo_root.as_deref(), options);
            loaded.data_files.insert(target, read);
        }
    }
}

/// Reads a file a kustomize generator takes as data: inside the repository (also
/// after resolving symbolic links), a regular file, at most `--max-file-size` bytes.
fn read_data_file(
    path: &Path,
    repo_root: Option<&Path>,
    options: &WalkOptions,
) -> Result<Arc<[u8]>, String> {
    if let Some(root) = repo_root {
        let outside = "lies outside the repository; refused".to_string();
        if !path.starts_with(root) {
            return Err(outside);
        }
        let real_root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
        if let Ok(real) = path.canonicalize()
            && !real.starts_with(&real_root)
        {
            return Err(outside);
        }
    }
    if !path.is_file() {
        return Err("not found".to_string());
    }
    let bytes = boundary::read_bounded(path, options.max_file_size)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > options.max_file_size {
        return Err(format!(
            "is above the {}-byte limit (`--max-file-size`); not read",
            options.max_file_size
        ));
    }
    Ok(Arc::from(bytes))
}

/// Byte offset of a `{{` that YAML parsed as a mapping key (`name: {{ .Values.name }}`
/// reads as a mapping whose key is a mapping): no Kubernetes object has such a key.
fn templated_key(node: &Node, text: &str) -> Option<usize> {
    match &node.kind {
        yaml::NodeKind::Scalar { .. } => None,
        yaml::NodeKind::Seq(items, _) => items.iter().find_map(|item| templated_key(item, text)),
        yaml::NodeKind::Map(entries, _) => entries.iter().find_map(|(key, value)| {
            let byte = node.span.start.byte as usize;
            if !matches!(key.kind, yaml::NodeKind::Scalar { .. })
                && text.get(byte..).is_some_and(|rest| rest.starts_with("{{"))
            {
                return Some(byte);
            }
            templated_key(key, text).or_else(|| templated_key(value, text))
        }),
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

/// At most `limit + 1` bytes of standard input, so an oversized input is detected
/// without being held.
fn read_stdin(limit: u64) -> std::io::Result<Vec<u8>> {
    let mut buffer = Vec::new();
    std::io::stdin()
        .lock()
        .take(limit.saturating_add(1))
        .read_to_end(&mut buffer)?;
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
    roots: &[PathBuf],
    max_file_size: u64,
    budget: &yaml::RunBudget,
) -> (SourceFile, FileOutcome, Option<Arc<str>>) {
    let path = candidate.path.clone();
    let display = display_path(&path, cwd);
    let skipped = |text: Arc<String>, kind, message: String, span: Span| {
        (
            SourceFile::new(path.clone(), display.clone(), text),
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
    // A file the walk listed below a directory that resolves inside the repository needs
    // no resolving of its own (and is opened without following a link, should one have
    // replaced it since); any other path is resolved and checked.
    let walked_inside = candidate
        .walked_from
        .as_deref()
        .is_some_and(|dir| boundary::walked_dir_inside(dir, roots));
    if on_disk && !walked_inside {
        match boundary::check_inside(&path, roots) {
            Err(refusal @ boundary::Refusal::Outside { .. }) => {
                let message = format!("not read: {}", refusal.describe());
                return skipped(Arc::default(), IssueKind::OutsideTree, message, start);
            }
            Err(refusal @ boundary::Refusal::Special) => {
                let message = format!("not read: {}", refusal.describe());
                return skipped(Arc::default(), IssueKind::Unreadable, message, start);
            }
            // Reported by the read below.
            Err(boundary::Refusal::Io(_)) | Ok(_) => {}
        }
    }
    let read = match &candidate.content {
        Some(content) => Ok(boundary::Bounded::Read(content.to_vec())),
        None if path.as_os_str() == "-" => read_stdin(max_file_size).map(boundary::Bounded::Read),
        None => boundary::read_regular(&path, max_file_size, walked_inside),
    };
    let bytes = match read {
        Ok(boundary::Bounded::TooLarge(size)) => {
            let message = too_large(format!("{size} bytes"));
            return skipped(Arc::default(), IssueKind::TooLarge, message, start);
        }
        Ok(boundary::Bounded::Read(bytes)) if bytes.len() as u64 > max_file_size => {
            let message = too_large("larger".to_string());
            return skipped(Arc::default(), IssueKind::TooLarge, message, start);
        }
        Ok(boundary::Bounded::Read(bytes)) => bytes,
        Err(error) => {
            return skipped(
                Arc::default(),
                IssueKind::Unreadable,
                format!("cannot read file: {error}; not analysed"),
                start,
            );
        }
    };
    let text: Arc<String> = match decode_text(bytes) {
        Ok(text) => Arc::new(text),
        Err(message) => return skipped(Arc::default(), IssueKind::Syntax, message, start),
    };
    let helm_message = "Helm template, not analysed: render it and pipe it in (`helm template . | xks-lint check -`)";
    // Line starts, built once: a position is a binary search and a walk along its own
    // line, not a scan of the file per templated document.
    let line_starts: std::cell::OnceCell<Vec<usize>> = std::cell::OnceCell::new();
    let pos_of = |byte: usize| {
        let starts = line_starts.get_or_init(|| {
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect()
        });
        let line = starts.partition_point(|&s| s <= byte).max(1);
        let line_start = starts.get(line - 1).copied().unwrap_or(0);
        let line_text = text.get(line_start..).unwrap_or("");
        let pos = Pos::of_byte(line_text, byte.saturating_sub(line_start));
        Pos {
            byte: pos.byte.saturating_add(crate::span::narrow(line_start)),
            line: crate::span::narrow(line),
            col: pos.col,
        }
    };
    let template_at = |byte: usize| Span {
        start: pos_of(byte).into(),
        end: pos_of(byte.saturating_add(2).min(text.len())).into(),
    };
    if candidate.in_helm_chart {
        let span = text.find("{{").map_or(start, template_at);
        return skipped(
            text,
            IssueKind::HelmTemplate,
            helm_message.to_string(),
            span,
        );
    }
    let stream = yaml::parse_stream_in(&text, budget);
    let errors_not_kept = stream.errors_not_kept;
    let mut issues: Vec<ParsedIssue> = Vec::new();
    // A document is a Helm template only when it looks templated where YAML breaks:
    // `{{` in the text a syntax error made unreadable, or a `{{ ... }}` that YAML read
    // as a mapping key. `{{` inside a string (an Alertmanager template, a shell
    // command) is data.
    for (error, failed) in stream.errors.into_iter().zip(
        stream
            .failed
            .into_iter()
            .map(Some)
            .chain(std::iter::repeat(None)),
    ) {
        let template = failed.and_then(|range| {
            text.get(range.clone())
                .and_then(|region| region.find("{{"))
                .map(|at| range.start + at)
        });
        issues.push(match template {
            Some(byte) => ParsedIssue {
                kind: IssueKind::HelmTemplate,
                span: template_at(byte),
                message: helm_message.to_string(),
                related: Vec::new(),
            },
            None => ParsedIssue {
                kind: IssueKind::Syntax,
                span: Span::point(error.pos),
                message: error.message,
                related: Vec::new(),
            },
        });
    }
    let mut documents = Vec::new();
    for (index, document) in stream.documents.into_iter().enumerate() {
        debug_assert!(document.collection_keys || templated_key(&document.root, &text).is_none());
        if document.collection_keys
            && let Some(byte) = templated_key(&document.root, &text)
        {
            issues.push(ParsedIssue {
                kind: IssueKind::HelmTemplate,
                span: template_at(byte),
                message: helm_message.to_string(),
                related: Vec::new(),
            });
            continue;
        }
        for (repeat, first) in &document.duplicate_keys {
            issues.push(ParsedIssue {
                kind: IssueKind::Syntax,
                span: *repeat,
                message: "duplicate mapping key: the API server rejects the document (the later value is used here)".to_string(),
                related: vec![(*first, "first occurrence".to_string())],
            });
        }
        // Counted and read here, while the tree is still in cache (see
        // `LoadedDocument::nodes` and `WrittenKind`).
        let nodes = document.root.expanded_size();
        let written = WrittenKind::of(&document.root);
        documents.push((document.root, index, nodes, written));
    }
    // A file that is a template through and through is one skipped file, as before.
    if documents.is_empty()
        && !issues.is_empty()
        && issues.iter().all(|i| i.kind == IssueKind::HelmTemplate)
    {
        let span = issues.first().map_or(start, |i| i.span);
        return skipped(
            text,
            IssueKind::HelmTemplate,
            helm_message.to_string(),
            span,
        );
    }
    cap_issues(&mut issues, errors_not_kept);
    let kustomize_namespace = candidate.kustomize_namespace.clone();
    (
        SourceFile::new(path, display, text),
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

#[cfg(test)]
mod normalize_tests {
    use super::*;

    /// The byte check takes only paths that taking them apart leaves as they are.
    #[test]
    fn the_fast_path_agrees_with_taking_the_path_apart() {
        let paths = [
            "/",
            "//",
            "/a",
            "/a/",
            "/a//b",
            "/a/./b",
            "/a/../b",
            "/a/b/..",
            "/a/b/.",
            "/a/.b/c..",
            "/.../x",
            "/a/b/c.yaml",
            "a/b",
            "./a",
            "../a",
            "",
            ".",
            "/tmp/xb/tenant-00/app-001.yaml",
        ];
        for text in paths {
            let path = Path::new(text);
            assert_eq!(normalize(path), normalize_by_components(path), "{text:?}");
            if is_normal_absolute(path) {
                assert_eq!(normalize_by_components(path), path, "{text:?}");
            }
        }
        assert!(is_normal_absolute(Path::new("/a/.b/c..")));
        assert!(!is_normal_absolute(Path::new("/a/./b")));
    }

    /// The byte reading of a kustomization file name agrees with `Path::file_name`.
    #[test]
    fn kustomization_files_are_named_as_path_reads_them() {
        let by_components = |path: &Path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| crate::load::kustomization::FILE_NAMES.contains(&n))
        };
        let paths = [
            "kustomization.yaml",
            "Kustomization",
            "/r/base/kustomization.yml",
            "/r/base/kustomization.yaml/",
            "/r/base/kustomization.yaml/.",
            "/r/base/kustomization.yaml//",
            "/r/kustomization.yaml/..",
            "/r/base/my-kustomization.yaml",
            "/r/base/kustomization.yaml.bak",
            "/r/kustomization/app.yaml",
            "/",
            "",
            ".",
            "..",
        ];
        let mut named = 0;
        for text in paths {
            let path = Path::new(text);
            assert_eq!(is_kustomization_file(path), by_components(path), "{text:?}");
            named += usize::from(is_kustomization_file(path));
        }
        assert_eq!(named, 6);
    }
}

#[cfg(test)]
mod written_kind_tests {
    use super::*;

    fn noted(yaml: &str) -> WrittenKind {
        let stream = yaml::parse_stream(yaml);
        WrittenKind::of(&stream.documents[0].root)
    }

    /// Each bit says what the readers it replaced decided from the tree.
    #[test]
    fn the_note_says_what_the_tree_says() {
        let deployment = noted("apiVersion: apps/v1\nkind: Deployment\n");
        assert!(deployment.is_object() && deployment.is_manifest());
        assert!(!deployment.is_list() && !deployment.is_flux());
        assert!(!deployment.is_substitution_source());

        let secret = noted("apiVersion: v1\nkind: Secret\n");
        assert!(secret.is_substitution_source());
        assert!(!noted("apiVersion: v2\nkind: Secret\n").is_substitution_source());

        let list = noted("apiVersion: v1\nkind: ConfigMapList\nitems: []\n");
        assert!(list.is_object() && list.is_list());

        let flux = noted("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n");
        assert!(flux.is_flux() && flux.is_manifest());

        // No apiVersion: an object to kustomize (built as written), not one the model types.
        let bare = noted("kind: ConfigMap\n");
        assert!(bare.is_object() && !bare.is_manifest());
        // A kustomization file carries both, and is no object of the model.
        let config = noted("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n");
        assert!(config.is_object() && !config.is_manifest());
        // A number is a scalar to kustomize, not a string to the model.
        let numeric = noted("apiVersion: v1\nkind: 1\n");
        assert!(numeric.is_object() && !numeric.is_manifest());

        for not_an_object in [
            "foo: bar\n",
            "apiVersion: [v1]\nkind: Pod\n",
            "kind: {a: b}\n",
        ] {
            let written = noted(not_an_object);
            assert_eq!(written, WrittenKind::default(), "{not_an_object}");
            assert!(!written.is_object() && !written.is_manifest());
        }
    }
}
