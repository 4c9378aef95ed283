//! Native kustomize: builds each kustomization root into the objects it deploys
//! (resources, components, patches, namespace, name prefix/suffix with name
//! references, labels and annotations), without executing or fetching anything.
//! Reads only what the load stage loaded.

pub mod spec;
pub mod transform;

use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::load::yaml::{Node, NodeKind, parse_stream};
use crate::load::{IssueKind, LoadIssue, Loaded, LoadedDocument, is_kustomization_file, normalize};
use crate::model::{CLUSTER_SCOPED_KINDS, WorkloadKind};
use crate::span::{FileId, Location, Span};
use spec::{Kustomization, PatchSource, PatchTarget};
use transform::{for_each_at, get_mut, json6902, set, strategic_merge};

/// One object as a kustomization root renders it.
#[derive(Debug, Clone)]
pub struct Built {
    pub file: FileId,
    pub document: usize,
    pub item: Option<usize>,
    pub node: Node,
    /// The object's earlier identities, oldest first, recorded by every transformer that
    /// renames it, moves it to another namespace or changes its kind: kustomize lets a
    /// patch name an object by any of them.
    pub previous: Vec<ResId>,
}

/// What kustomize identifies an object by: apiVersion, kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResId {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl ResId {
    pub fn of(node: &Node) -> ResId {
        let text = |path: &[&str]| {
            node.path(path)
                .and_then(Node::scalar_text)
                .unwrap_or_default()
                .to_string()
        };
        ResId {
            api_version: text(&["apiVersion"]),
            kind: text(&["kind"]),
            namespace: text(&["metadata", "namespace"]),
            name: text(&["metadata", "name"]),
        }
    }

    /// The namespace as kustomize compares it: none is `default`.
    fn effective_namespace(&self) -> &str {
        if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }
}

impl Built {
    /// Records the current identity before a transformer changes it.
    pub fn remember_id(&mut self) {
        let id = ResId::of(&self.node);
        if self.previous.last() != Some(&id) {
            self.previous.push(id);
        }
    }

    /// The identity the object had when it was read.
    pub fn original_id(&self) -> ResId {
        self.previous
            .first()
            .cloned()
            .unwrap_or_else(|| ResId::of(&self.node))
    }
}

/// The objects of one kustomization root.
#[derive(Debug, Clone)]
pub struct View {
    /// The root's directory as shown to users (`overlays/prod`).
    pub root: String,
    /// The root's directory, absolute and normalized.
    pub dir: PathBuf,
    /// Repository-relative paths of the files holding Flux `Kustomization`s whose
    /// `spec.path` is this root (they name its environment in a `clusters/<env>/` layout).
    pub deployed_by: Vec<String>,
    pub objects: Vec<Built>,
}

#[derive(Debug, Default)]
pub struct KustomizeOutput {
    pub views: Vec<View>,
    /// Files read through a kustomization: never analysed a second time as plain files.
    pub consumed: HashSet<FileId>,
    pub issues: Vec<LoadIssue>,
}

/// Kustomization directories and their parsed `kustomization.yaml` (or Flux's generated one).
type Kustomizations = BTreeMap<PathBuf, (FileId, Kustomization)>;
/// A directory Flux `Kustomization`s deploy.
#[derive(Debug, Default)]
struct FluxTarget {
    /// The `spec.targetNamespace` applied over it.
    namespace: Option<(FileId, spec::Entry)>,
    /// Repository-relative paths of the files of those Flux `Kustomization`s.
    deployed_by: Vec<String>,
}

/// Directories Flux `Kustomization`s deploy.
type FluxTargets = BTreeMap<PathBuf, FluxTarget>;

struct Builder<'a> {
    loaded: &'a Loaded,
    files_by_path: &'a HashMap<PathBuf, FileId>,
    documents: &'a HashMap<FileId, Vec<&'a LoadedDocument>>,
    kustomizations: &'a Kustomizations,
    output: KustomizeOutput,
}

fn object_kind(node: &Node) -> Option<(&str, &str)> {
    Some((
        node.get("apiVersion")?.scalar_text()?,
        node.get("kind")?.scalar_text()?,
    ))
}

fn name_of(node: &Node) -> &str {
    node.path(&["metadata", "name"])
        .and_then(Node::scalar_text)
        .unwrap_or_default()
}

pub fn build(loaded: &Loaded) -> KustomizeOutput {
    let mut files_by_path = HashMap::new();
    for (index, file) in loaded.sources.files.iter().enumerate() {
        files_by_path.insert(normalize(&file.path), FileId(index));
    }
    let mut documents: HashMap<FileId, Vec<&LoadedDocument>> = HashMap::new();
    let mut kustomizations: Kustomizations = BTreeMap::new();
    let mut duplicates = Vec::new();
    for document in &loaded.documents {
        documents.entry(document.file).or_default().push(document);
        let Some(source) = loaded.sources.get(document.file) else {
            continue;
        };
        if is_kustomization_file(&source.path) && document.index == 0 {
            let dir = normalize(&source.path)
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
            if let Some((first, _)) = kustomizations.get(&dir) {
                // kubectl refuses a directory with several kustomization files.
                duplicates.push(LoadIssue {
                    kind: IssueKind::KustomizeError,
                    location: Location {
                        file: document.file,
                        span: document.root.span,
                    },
                    message: format!(
                        "a second kustomization file in this directory (next to `{}`); kubectl refuses to build it",
                        loaded.sources.display(*first)
                    ),
                    related: Vec::new(),
                });
                continue;
            }
            kustomizations.insert(
                dir,
                (document.file, Kustomization::from_node(&document.root)),
            );
        }
    }
    let mut builder = Builder {
        loaded,
        files_by_path: &files_by_path,
        documents: &documents,
        kustomizations: &kustomizations,
        output: KustomizeOutput {
            issues: duplicates,
            ..KustomizeOutput::default()
        },
    };
    let (flux, generated) = builder.flux_kustomizations();
    // Paths Flux deploys without a kustomization get the one Flux would generate.
    let output = builder.output;
    kustomizations.extend(generated);
    let mut builder = Builder {
        loaded,
        files_by_path: &files_by_path,
        documents: &documents,
        kustomizations: &kustomizations,
        output,
    };
    let mut roots = builder.roots();
    for dir in flux.keys() {
        if !roots.contains(dir) {
            roots.push(dir.clone());
        }
    }
    // Kustomizations that only include each other have no root: build the first of
    // each such group as one, so the cycle is reported instead of silently ignored.
    let reachable = builder.reachable(&roots);
    let orphans: Vec<PathBuf> = builder
        .kustomizations
        .keys()
        .filter(|dir| !reachable.contains(*dir))
        .cloned()
        .collect();
    let mut covered = reachable;
    for orphan in orphans {
        if covered.contains(&orphan) {
            continue;
        }
        covered.extend(builder.reachable(std::slice::from_ref(&orphan)));
        roots.push(orphan);
    }
    // Roots are independent: build them in parallel, each with its own output, then
    // merge in root order so views and issues stay deterministic.
    let shared = &builder;
    let built: Vec<(View, KustomizeOutput)> = roots
        .par_iter()
        .map(|root| {
            let mut root_builder = Builder {
                loaded: shared.loaded,
                files_by_path: shared.files_by_path,
                documents: shared.documents,
                kustomizations: shared.kustomizations,
                output: KustomizeOutput::default(),
            };
            let mut stack = vec![root.clone()];
            let mut objects = root_builder.build_dir(root, &mut stack);
            // Flux applies `spec.targetNamespace` over the built kustomization.
            if let Some((file, namespace)) = flux.get(root).and_then(|t| t.namespace.as_ref()) {
                let spec = Kustomization {
                    namespace: Some(namespace.clone()),
                    ..Kustomization::default()
                };
                root_builder.transform(root, *file, &spec, &mut objects);
            }
            let view = View {
                root: root_builder.display_dir(root),
                dir: root.clone(),
                deployed_by: flux
                    .get(root)
                    .map(|t| t.deployed_by.clone())
                    .unwrap_or_default(),
                objects,
            };
            (view, root_builder.output)
        })
        .collect();
    for (view, output) in built {
        builder.output.views.push(view);
        builder.output.consumed.extend(output.consumed);
        builder.output.issues.extend(output.issues);
    }
    let mut seen = HashSet::new();
    builder
        .output
        .issues
        .retain(|i| seen.insert((i.location.file, i.location.span, i.message.clone())));
    builder.output
}

impl Builder<'_> {
    fn display_dir(&self, dir: &Path) -> String {
        // Relative to the repository, so messages and contexts read the same from any
        // working directory and never hold an absolute path of this machine.
        if let Some(relative) = self
            .loaded
            .repo_root
            .as_ref()
            .and_then(|root| dir.strip_prefix(root).ok())
        {
            let parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            return if parts.is_empty() {
                ".".to_string()
            } else {
                parts.join("/")
            };
        }
        let from_kustomization = self
            .kustomizations
            .get(dir)
            .and_then(|(file, _)| self.loaded.sources.get(*file))
            .filter(|source| is_kustomization_file(&source.path))
            .map(|source| {
                let display = source.display.as_str();
                display
                    .rfind('/')
                    .map_or(".".to_string(), |i| display[..i].to_string())
            });
        from_kustomization.unwrap_or_else(|| {
            let cwd = std::env::current_dir().unwrap_or_default();
            dir.strip_prefix(&cwd)
                .unwrap_or(dir)
                .to_string_lossy()
                .into_owned()
        })
    }

    fn resolve(&self, dir: &Path, reference: &str) -> PathBuf {
        normalize(&dir.join(reference))
    }

    /// Kustomizations no other kustomization includes.
    fn roots(&self) -> Vec<PathBuf> {
        let mut referenced = HashSet::new();
        for (dir, (_, spec)) in self.kustomizations {
            for entry in spec.resources.iter().chain(&spec.components) {
                let target = self.resolve(dir, &entry.value);
                if target != *dir && self.kustomizations.contains_key(&target) {
                    referenced.insert(target);
                }
            }
        }
        self.kustomizations
            .keys()
            .filter(|dir| !referenced.contains(*dir))
            .cloned()
            .collect()
    }

    /// Directories that Flux `Kustomization` objects deploy (`spec.path`, relative to the
    /// repository root), with their `spec.targetNamespace`. A path without a
    /// kustomization gets the one Flux generates: every manifest below it. HelmReleases
    /// are noted: Flux renders them in the cluster, xks-lint cannot.
    fn flux_kustomizations(&mut self) -> (FluxTargets, Kustomizations) {
        let mut found = BTreeMap::new();
        let mut generated = BTreeMap::new();
        let repo_root = self.loaded.repo_root.clone().unwrap_or_default();
        let documents: Vec<&LoadedDocument> = self.loaded.documents.iter().collect();
        for document in documents {
            let root = &document.root;
            let Some((api_version, kind)) = object_kind(root) else {
                continue;
            };
            if api_version.starts_with("helm.toolkit.fluxcd.io/") && kind == "HelmRelease" {
                let span = root.get("kind").map_or(root.span, |k| k.span);
                let chart = root
                    .path(&["spec", "chart", "spec", "chart"])
                    .and_then(Node::scalar_text)
                    .unwrap_or("its chart");
                self.output.issues.push(LoadIssue {
                    kind: IssueKind::HelmTemplate,
                    location: Location { file: document.file, span },
                    message: format!(
                        "HelmRelease `{}`: Flux renders `{chart}` in the cluster, so its objects are not analysed; render it with `helm template` and pipe it to `xks-lint check -`",
                        name_of(root)
                    ),
                    related: Vec::new(),
                });
                continue;
            }
            if !(api_version.starts_with("kustomize.toolkit.fluxcd.io/") && kind == "Kustomization")
            {
                continue;
            }
            let Some(path_node) = root.path(&["spec", "path"]) else {
                continue;
            };
            let dir = normalize(&repo_root.join(path_node.scalar_text().unwrap_or(".")));
            if !dir.starts_with(&repo_root) {
                self.issue(
                    IssueKind::KustomizeError,
                    document.file,
                    path_node.span,
                    "Flux Kustomization path lies outside the repository; refused".to_string(),
                );
                continue;
            }
            self.note_left_out(document.file, path_node, &dir);
            let target_namespace = root.path(&["spec", "targetNamespace"]).and_then(|n| {
                n.scalar_text().map(|value| {
                    (
                        document.file,
                        spec::Entry {
                            value: value.to_string(),
                            span: n.span,
                        },
                    )
                })
            });
            if !self.kustomizations.contains_key(&dir) && !generated.contains_key(&dir) {
                let kustomization = self.generated_kustomization(&dir);
                if kustomization.resources.is_empty() {
                    continue;
                }
                generated.insert(dir.clone(), (document.file, kustomization));
            }
            let target: &mut FluxTarget = found.entry(dir).or_default();
            target.namespace = target_namespace;
            if let Some(source) = self.loaded.sources.get(document.file) {
                let file = normalize(&source.path);
                let relative = file.strip_prefix(&repo_root).unwrap_or(&file);
                let parts: Vec<String> = relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                target.deployed_by.push(parts.join("/"));
            }
        }
        (found, generated)
    }

    /// A Flux path holding manifest files the walk left out (hidden, or ignored by a
    /// `.gitignore`/`.ignore` a pull request may commit): Flux deploys committed files
    /// whatever those say, so the check must not pass over them silently.
    fn note_left_out(&mut self, file: FileId, path_node: &Node, dir: &Path) {
        let hidden: Vec<&crate::load::LeftOut> = self
            .loaded
            .left_out
            .iter()
            .filter(|f| normalize(&f.path).starts_with(dir))
            // Flux's source-controller leaves CI directories out of the artifact itself.
            .filter(|f| {
                !f.path.components().any(|c| {
                    [".git", ".github", ".circleci", ".gitlab"]
                        .iter()
                        .any(|ci| c.as_os_str() == *ci)
                })
            })
            .collect();
        let Some(first) = hidden.first() else {
            return;
        };
        let path = path_node.scalar_text().unwrap_or(".");
        self.issue(
            IssueKind::KustomizeNote,
            file,
            path_node.span,
            format!(
                "Flux deploys `{path}`, but {} manifest file(s) below it were left out of the check ({}, e.g. `{}`); they are not analysed: check them explicitly or stop ignoring them",
                hidden.len(),
                first.reason.describe(),
                first.path.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned()),
            ),
        );
    }

    /// What Flux generates for a path without a kustomization: every manifest below it.
    fn generated_kustomization(&self, dir: &Path) -> Kustomization {
        let mut resources: Vec<spec::Entry> = self
            .files_by_path
            .iter()
            .filter(|(path, _)| path.starts_with(dir) && !is_kustomization_file(path))
            .filter(|(_, file)| {
                self.documents.get(file).is_some_and(|docs| {
                    docs.iter().any(|d| {
                        object_kind(&d.root)
                            .is_some_and(|(a, _)| !a.starts_with("kustomize.toolkit.fluxcd.io/"))
                    })
                })
            })
            .filter_map(|(path, _)| {
                path.strip_prefix(dir).ok().map(|relative| spec::Entry {
                    value: relative.to_string_lossy().into_owned(),
                    span: Span::default(),
                })
            })
            .collect();
        resources.sort_by(|a, b| a.value.cmp(&b.value));
        Kustomization {
            resources,
            ..Kustomization::default()
        }
    }

    /// Kustomization directories included, directly or not, by `from`.
    fn reachable(&self, from: &[PathBuf]) -> HashSet<PathBuf> {
        let mut seen: HashSet<PathBuf> = HashSet::new();
        let mut stack: Vec<PathBuf> = from.to_vec();
        while let Some(dir) = stack.pop() {
            if !seen.insert(dir.clone()) {
                continue;
            }
            if let Some((_, spec)) = self.kustomizations.get(&dir) {
                for entry in spec.resources.iter().chain(&spec.components) {
                    let target = self.resolve(&dir, &entry.value);
                    if self.kustomizations.contains_key(&target) {
                        stack.push(target);
                    }
                }
            }
        }
        seen
    }

    fn issue(&mut self, kind: IssueKind, file: FileId, span: Span, message: String) {
        self.output.issues.push(LoadIssue {
            kind,
            location: Location { file, span },
            message,
            related: Vec::new(),
        });
    }

    fn build_dir(&mut self, dir: &Path, stack: &mut Vec<PathBuf>) -> Vec<Built> {
        let Some((file, spec)) = self.kustomizations.get(dir).cloned() else {
            return Vec::new();
        };
        // A kustomization Flux generates is attributed to the Flux object, which stays an object.
        let generated = self
            .loaded
            .sources
            .get(file)
            .is_none_or(|source| !is_kustomization_file(&source.path));
        if !generated {
            self.output.consumed.insert(file);
        }
        for entry in &spec.unsupported {
            self.issue(
                IssueKind::KustomizeNote,
                file,
                entry.span,
                format!("`{}` is not applied by xks-lint (generators and plugins are never run); objects it would create or change are not analysed", entry.value),
            );
        }
        self.refuse_entries(dir, file, &spec);
        let mut resources = Vec::new();
        for entry in &spec.resources {
            let before = resources.len();
            self.add_resource(dir, file, entry, stack, &mut resources);
            self.refuse_duplicates(file, entry, &mut resources, before);
        }
        self.apply_components(dir, file, &spec, stack, &mut resources);
        self.transform(dir, file, &spec, &mut resources);
        resources
    }

    /// kustomize refuses to add an object whose apiVersion, kind, namespace and name are
    /// those of an object already accumulated: reports the entry and keeps the first.
    fn refuse_duplicates(
        &mut self,
        file: FileId,
        entry: &spec::Entry,
        resources: &mut Vec<Built>,
        before: usize,
    ) {
        if resources.len() == before {
            return;
        }
        let mut seen: HashSet<(String, String, String, String)> = HashSet::new();
        let key = |built: &Built| {
            let id = ResId::of(&built.node);
            let namespace = id.effective_namespace().to_string();
            (id.api_version, id.kind, namespace, id.name)
        };
        for built in &resources[..before] {
            seen.insert(key(built));
        }
        let added = resources.split_off(before);
        for built in added {
            let id = key(&built);
            if id.1.is_empty() || seen.insert(id.clone()) {
                resources.push(built);
                continue;
            }
            self.issue(
                IssueKind::KustomizeError,
                file,
                entry.span,
                format!(
                    "`{}` adds {} {}/{} a second time; kubectl refuses an object already added (same apiVersion, kind, namespace and name)",
                    entry.value, id.1, id.2, id.3
                ),
            );
        }
    }

    /// Reports the entries kustomize refuses to read; the files they name are neither
    /// applied nor analysed as plain manifests.
    fn refuse_entries(&mut self, dir: &Path, file: FileId, spec: &Kustomization) {
        for error in &spec.errors {
            self.issue(
                IssueKind::KustomizeError,
                file,
                error.span,
                error.value.clone(),
            );
        }
        for entry in &spec.refused_files {
            if let Some(refused) = self.files_by_path.get(&self.resolve(dir, &entry.value)) {
                self.output.consumed.insert(*refused);
            }
        }
    }

    /// Applies the `components` of the kustomization in `dir`, in order, to `resources`:
    /// each adds its resources, then applies its own components (recursively), then its
    /// patches and transformers over everything accumulated so far.
    fn apply_components(
        &mut self,
        dir: &Path,
        file: FileId,
        spec: &Kustomization,
        stack: &mut Vec<PathBuf>,
        resources: &mut Vec<Built>,
    ) {
        for entry in &spec.components {
            let target = self.resolve(dir, &entry.value);
            let Some((component_file, component)) = self.kustomizations.get(&target).cloned()
            else {
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    entry.span,
                    format!("component `{}` has no kustomization", entry.value),
                );
                continue;
            };
            if stack.contains(&target) {
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    entry.span,
                    format!("component `{}` includes itself", entry.value),
                );
                continue;
            }
            self.output.consumed.insert(component_file);
            stack.push(target.clone());
            self.refuse_entries(&target, component_file, &component);
            for note in &component.unsupported {
                self.issue(
                    IssueKind::KustomizeNote,
                    component_file,
                    note.span,
                    format!("`{}` is not applied by xks-lint (generators and plugins are never run); objects it would create or change are not analysed", note.value),
                );
            }
            for resource in &component.resources {
                self.add_resource(&target, component_file, resource, stack, resources);
            }
            self.apply_components(&target, component_file, &component, stack, resources);
            self.transform(&target, component_file, &component, resources);
            stack.pop();
        }
    }

    fn add_resource(
        &mut self,
        dir: &Path,
        file: FileId,
        entry: &spec::Entry,
        stack: &mut Vec<PathBuf>,
        out: &mut Vec<Built>,
    ) {
        if spec::is_remote(&entry.value) {
            self.issue(
                IssueKind::KustomizeNote,
                file,
                entry.span,
                format!(
                    "remote resource `{}` is not fetched; its objects are not analysed",
                    entry.value
                ),
            );
            return;
        }
        let target = self.resolve(dir, &entry.value);
        if let Some(root) = &self.loaded.repo_root
            && !target.starts_with(root)
        {
            self.issue(
                IssueKind::KustomizeError,
                file,
                entry.span,
                format!(
                    "resource `{}` lies outside the repository; refused",
                    entry.value
                ),
            );
            return;
        }
        if self.kustomizations.contains_key(&target) {
            if let Some(start) = stack.iter().position(|d| *d == target) {
                let cycle: Vec<String> = stack[start..]
                    .iter()
                    .chain(std::iter::once(&target))
                    .map(|d| self.display_dir(d))
                    .collect();
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    entry.span,
                    format!("resource cycle: {}", cycle.join(" → ")),
                );
                return;
            }
            stack.push(target.clone());
            let built = self.build_dir(&target, stack);
            stack.pop();
            out.extend(built);
            return;
        }
        let refused = self.loaded.refused.contains_key(&target);
        let Some(resource_file) = self
            .files_by_path
            .get(&target)
            .copied()
            .filter(|_| !refused)
        else {
            let message = match self.loaded.refused.get(&target) {
                Some(why) => format!("resource `{}` refused: {why}", entry.value),
                None => format!(
                    "resource `{}` not found (or a directory without a kustomization)",
                    entry.value
                ),
            };
            self.issue(IssueKind::KustomizeError, file, entry.span, message);
            return;
        };
        self.output.consumed.insert(resource_file);
        if !self.file_allowed(dir, file, entry, &target, "resource") {
            return;
        }
        if self
            .loaded
            .issues
            .iter()
            .any(|i| i.kind == IssueKind::Syntax && i.location.file == resource_file)
        {
            // kubectl fails the whole build on a resource that is not valid YAML.
            self.issue(
                IssueKind::KustomizeError,
                file,
                entry.span,
                format!(
                    "resource `{}` is not valid YAML (see its parse-error); kubectl refuses to build",
                    entry.value
                ),
            );
        }
        for document in self
            .documents
            .get(&resource_file)
            .cloned()
            .unwrap_or_default()
        {
            let Some((_, kind)) = object_kind(&document.root) else {
                continue;
            };
            let items = document.root.get("items").and_then(Node::as_seq);
            match items {
                Some(items) if kind.ends_with("List") => {
                    for (index, item) in items.iter().enumerate() {
                        if object_kind(item).is_some() {
                            out.push(Built {
                                file: resource_file,
                                document: document.index,
                                item: Some(index),
                                node: item.clone(),
                                previous: Vec::new(),
                            });
                        }
                    }
                }
                _ => out.push(Built {
                    file: resource_file,
                    document: document.index,
                    item: None,
                    node: document.root.clone(),
                    previous: Vec::new(),
                }),
            }
        }
    }

    /// kustomize's load restrictions: a file (not a kustomization directory) must lie in
    /// or below the directory of the kustomization naming it. Reports it otherwise.
    fn file_allowed(
        &mut self,
        dir: &Path,
        file: FileId,
        entry: &spec::Entry,
        target: &Path,
        what: &str,
    ) -> bool {
        if target.starts_with(dir) {
            return true;
        }
        self.issue(
            IssueKind::KustomizeError,
            file,
            entry.span,
            format!(
                "{what} file `{}` is not in or below the kustomization's directory; kubectl refuses it (only directories with a kustomization may be shared)",
                entry.value
            ),
        );
        false
    }

    /// Patch documents of one patch entry, each node marked with where it was written.
    fn patch_documents(&mut self, dir: &Path, file: FileId, patch: &spec::Patch) -> Vec<Node> {
        match &patch.source {
            PatchSource::Inline(text) => {
                // Positions inside an inline block scalar are not mapped back: the whole
                // patch points at its entry in the kustomization.
                let stream = parse_stream(text);
                if let Some(error) = stream.errors.first() {
                    self.issue(
                        IssueKind::KustomizeError,
                        file,
                        patch.span,
                        format!("inline patch does not parse: {}", error.message),
                    );
                }
                stream
                    .documents
                    .into_iter()
                    .map(|d| {
                        let mut root = d.root;
                        relocate(&mut root, patch.span, file);
                        root
                    })
                    .collect()
            }
            PatchSource::File(path) => {
                let target = self.resolve(dir, path);
                let refused = self.loaded.refused.contains_key(&target);
                let Some(patch_file) = self
                    .files_by_path
                    .get(&target)
                    .copied()
                    .filter(|_| !refused)
                else {
                    let message = match self.loaded.refused.get(&target) {
                        Some(why) => format!("patch file `{path}` refused: {why}"),
                        None => format!("patch file `{path}` not found"),
                    };
                    self.issue(IssueKind::KustomizeError, file, patch.span, message);
                    return Vec::new();
                };
                self.output.consumed.insert(patch_file);
                let entry = spec::Entry {
                    value: path.clone(),
                    span: patch.span,
                };
                if !self.file_allowed(dir, file, &entry, &target, "patch") {
                    return Vec::new();
                }
                self.documents
                    .get(&patch_file)
                    .map(|docs| {
                        docs.iter()
                            .map(|d| {
                                let mut root = d.root.clone();
                                root.set_origin(patch_file);
                                root
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
        }
    }

    fn transform(
        &mut self,
        dir: &Path,
        file: FileId,
        spec: &Kustomization,
        resources: &mut Vec<Built>,
    ) {
        for patch in &spec.patches {
            for document in self.patch_documents(dir, file, patch) {
                self.apply_patch(file, patch, &document, resources);
            }
        }
        if let Some(namespace) = &spec.namespace {
            for resource in resources.iter_mut() {
                let kind = object_kind(&resource.node)
                    .map(|(_, k)| k.to_string())
                    .unwrap_or_default();
                if CLUSTER_SCOPED_KINDS.contains(&kind.as_str()) {
                    continue;
                }
                if ResId::of(&resource.node).namespace != namespace.value {
                    resource.remember_id();
                }
                for_each_at(
                    &mut resource.node,
                    &["metadata"],
                    Some((namespace.span, Some(file))),
                    &mut |meta| {
                        set(
                            meta,
                            "namespace",
                            Node::synthetic_str(&namespace.value, namespace.span, Some(file)),
                        );
                    },
                );
            }
        }
        if !spec.name_prefix.is_empty() || !spec.name_suffix.is_empty() {
            rename(resources, &spec.name_prefix, &spec.name_suffix);
        }
        add_pairs(resources, &spec.common_labels, file, LabelScope::Selectors);
        for set in &spec.labels {
            let scope = if set.include_selectors {
                LabelScope::Selectors
            } else if set.include_templates {
                LabelScope::Templates
            } else {
                LabelScope::Metadata
            };
            add_pairs(resources, &set.pairs, file, scope);
        }
        add_pairs(
            resources,
            &spec.common_annotations,
            file,
            LabelScope::Annotations,
        );
    }

    fn apply_patch(
        &mut self,
        file: FileId,
        patch: &spec::Patch,
        document: &Node,
        resources: &mut Vec<Built>,
    ) {
        let is_json_patch = patch.json6902 || document.as_seq().is_some();
        let selected: Vec<usize> = match (&patch.target, is_json_patch) {
            // A target that selects nothing makes the patch a no-op, as in kustomize.
            (Some(target), _) => resources
                .iter()
                .enumerate()
                .filter(|(_, r)| matches_target(r, target))
                .map(|(i, _)| i)
                .collect(),
            (None, true) => {
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    patch.span,
                    "a JSON 6902 patch needs a `target`".to_string(),
                );
                return;
            }
            // Without a target, the patch names its object by apiVersion, kind, namespace
            // and name (current or earlier ones); kustomize fails when none has them.
            (None, false) => {
                let wanted = ResId::of(document);
                let found: Vec<usize> = resources
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| {
                        std::iter::once(ResId::of(&r.node))
                            .chain(r.previous.iter().cloned())
                            .any(|id| patch_names(&wanted, &id))
                    })
                    .map(|(i, _)| i)
                    .collect();
                if found.is_empty() {
                    self.issue(
                        IssueKind::KustomizeError,
                        file,
                        patch.span,
                        format!(
                            "patch matches no resource ({} {}{})",
                            if wanted.kind.is_empty() {
                                "any kind"
                            } else {
                                &wanted.kind
                            },
                            if wanted.namespace.is_empty() {
                                String::new()
                            } else {
                                format!("{}/", wanted.namespace)
                            },
                            wanted.name
                        ),
                    );
                }
                found
            }
        };
        let mut deleted = Vec::new();
        for index in selected {
            let Some(resource) = resources.get_mut(index) else {
                continue;
            };
            if is_json_patch {
                let before = ResId::of(&resource.node);
                let mut patched = resource.node.clone();
                match json6902(&mut patched, document) {
                    Ok(()) => {
                        if ResId::of(&patched) != before {
                            resource.remember_id();
                        }
                        resource.node = patched;
                    }
                    Err(message) => self.issue(
                        IssueKind::KustomizeError,
                        file,
                        patch.span,
                        format!("JSON patch does not apply: {message}"),
                    ),
                }
            } else if document.get("$patch").and_then(Node::scalar_text) == Some("delete") {
                deleted.push(index);
            } else {
                let mut body = document.clone();
                // The patch's identity fields select the target; they do not rename it or
                // change its kind, unless the entry's options allow it.
                if !patch.allow_kind_change {
                    transform::remove(&mut body, "apiVersion");
                    transform::remove(&mut body, "kind");
                }
                if let Some(meta) = get_mut(&mut body, "metadata") {
                    if !patch.allow_name_change {
                        transform::remove(meta, "name");
                    }
                    transform::remove(meta, "namespace");
                }
                let before = ResId::of(&resource.node);
                let mut patched = resource.node.clone();
                strategic_merge(&mut patched, &body, "", "");
                if ResId::of(&patched) != before {
                    resource.remember_id();
                }
                resource.node = patched;
            }
        }
        for index in deleted.into_iter().rev() {
            resources.remove(index);
        }
    }
}

/// Whether a patch without a target, identified by `wanted`, names the object `id`:
/// same kind and name, same namespace (none meaning `default`), and the same group and
/// version when the patch states its apiVersion.
fn patch_names(wanted: &ResId, id: &ResId) -> bool {
    wanted.kind == id.kind
        && wanted.name == id.name
        && wanted.effective_namespace() == id.effective_namespace()
        && (wanted.api_version.is_empty() || wanted.api_version == id.api_version)
}

fn relocate(node: &mut Node, span: Span, file: FileId) {
    node.span = span;
    node.origin = Some(file);
    match &mut node.kind {
        NodeKind::Scalar(_) => {}
        NodeKind::Seq(items) => items.iter_mut().for_each(|n| relocate(n, span, file)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            relocate(k, span, file);
            relocate(v, span, file);
        }),
    }
}

fn selector_matches(selector: &str, map: Option<&Node>) -> bool {
    selector
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|term| {
            let (key, value) = term
                .split_once("!=")
                .map(|(k, v)| (k, Some((v, false))))
                .or_else(|| {
                    term.split_once("==")
                        .or_else(|| term.split_once('='))
                        .map(|(k, v)| (k, Some((v, true))))
                })
                .unwrap_or((term, None));
            let actual = map
                .and_then(|m| m.get(key.trim()))
                .and_then(Node::scalar_text);
            match value {
                None => actual.is_some(),
                Some((v, true)) => actual == Some(v.trim()),
                Some((v, false)) => actual != Some(v.trim()),
            }
        })
}

fn text_matches(pattern: &str, text: &str) -> bool {
    // kustomize targets take anchored regular expressions for names.
    regex::Regex::new(&format!("^(?:{pattern})$")).map_or(pattern == text, |re| re.is_match(text))
}

/// Whether a patch `target` selects the object: kind, group and version as they are now,
/// name and namespace as they are now or as they were when the object was read (kustomize
/// tries both), labels and annotations as they are now.
fn matches_target(resource: &Built, target: &PatchTarget) -> bool {
    let node = &resource.node;
    let current = ResId::of(node);
    let original = resource.original_id();
    let (group, version) = current
        .api_version
        .rsplit_once('/')
        .unwrap_or(("", current.api_version.as_str()));
    let meta = node.get("metadata");
    target
        .kind
        .as_deref()
        .is_none_or(|k| text_matches(k, &current.kind))
        && target
            .group
            .as_deref()
            .is_none_or(|g| text_matches(g, group))
        && target
            .version
            .as_deref()
            .is_none_or(|v| text_matches(v, version))
        && target
            .name
            .as_deref()
            .is_none_or(|n| text_matches(n, &current.name) || text_matches(n, &original.name))
        && target.namespace.as_deref().is_none_or(|ns| {
            text_matches(ns, current.effective_namespace())
                || text_matches(ns, original.effective_namespace())
        })
        && target
            .label_selector
            .as_deref()
            .is_none_or(|s| selector_matches(s, meta.and_then(|m| m.get("labels"))))
        && target
            .annotation_selector
            .as_deref()
            .is_none_or(|s| selector_matches(s, meta.and_then(|m| m.get("annotations"))))
}

/// Where kustomize's label and annotation transformers write.
#[derive(Clone, Copy, PartialEq)]
enum LabelScope {
    /// `labels` without options: object metadata only.
    Metadata,
    /// `labels` with `includeTemplates`: metadata and pod templates.
    Templates,
    /// `commonLabels` / `includeSelectors`: also selectors, which changes what selects what.
    Selectors,
    /// `commonAnnotations`: metadata and pod templates.
    Annotations,
}

/// (path, create-if-missing) pairs of kustomize's label field specs for a kind.
fn selector_paths(kind: &str) -> &'static [(&'static [&'static str], bool)] {
    match kind {
        "Service" | "ReplicationController" => &[(&["spec", "selector"], true)],
        "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet" => {
            &[(&["spec", "selector", "matchLabels"], true)]
        }
        "Job" | "PodDisruptionBudget" => &[(&["spec", "selector", "matchLabels"], false)],
        "CronJob" => &[(
            &["spec", "jobTemplate", "spec", "selector", "matchLabels"],
            false,
        )],
        "NetworkPolicy" => &[
            (&["spec", "podSelector", "matchLabels"], false),
            (
                &["spec", "ingress[]", "from[]", "podSelector", "matchLabels"],
                false,
            ),
            (
                &["spec", "egress[]", "to[]", "podSelector", "matchLabels"],
                false,
            ),
        ],
        _ => &[],
    }
}

fn template_metadata_paths(kind: &str) -> Vec<Vec<&'static str>> {
    match WorkloadKind::from_kind(kind) {
        Some(WorkloadKind::Pod) | None => Vec::new(),
        Some(WorkloadKind::CronJob) => vec![
            vec!["spec", "jobTemplate", "metadata"],
            vec!["spec", "jobTemplate", "spec", "template", "metadata"],
        ],
        Some(_) => vec![vec!["spec", "template", "metadata"]],
    }
}

fn add_pairs(resources: &mut [Built], pairs: &spec::Pairs, file: FileId, scope: LabelScope) {
    if pairs.is_empty() {
        return;
    }
    let field = if scope == LabelScope::Annotations {
        "annotations"
    } else {
        "labels"
    };
    let create = Some((pairs[0].1.span, Some(file)));
    let mut write = |map: &mut Node| {
        if !matches!(map.kind, NodeKind::Map(_)) {
            return;
        }
        for (key, value) in pairs {
            set(
                map,
                key,
                Node::synthetic_str(&value.value, value.span, Some(file)),
            );
        }
    };
    for resource in resources {
        let kind = object_kind(&resource.node)
            .map(|(_, k)| k.to_string())
            .unwrap_or_default();
        for_each_at(&mut resource.node, &["metadata", field], create, &mut write);
        if scope != LabelScope::Metadata {
            for path in template_metadata_paths(&kind) {
                let mut full = path.clone();
                full.push(field);
                for_each_at(&mut resource.node, &full, create, &mut write);
            }
        }
        if scope == LabelScope::Selectors {
            // kustomize's commonLabels field specs also label each volume claim template.
            if kind == "StatefulSet" {
                for_each_at(
                    &mut resource.node,
                    &["spec", "volumeClaimTemplates[]", "metadata", "labels"],
                    create,
                    &mut write,
                );
            }
            for (path, create_missing) in selector_paths(&kind) {
                for_each_at(
                    &mut resource.node,
                    path,
                    if *create_missing { create } else { None },
                    &mut write,
                );
            }
        }
    }
}

/// Name references kustomize rewrites when the referenced object is renamed.
fn reference_paths(referenced_kind: &str) -> &'static [&'static [&'static str]] {
    match referenced_kind {
        "Service" => &[
            &[
                "spec", "rules[]", "http", "paths[]", "backend", "service", "name",
            ],
            &["spec", "defaultBackend", "service", "name"],
            &["spec", "serviceName"],
        ],
        "Secret" => &[&["spec", "tls[]", "secretName"]],
        _ => &[],
    }
}

fn pod_reference_paths(referenced_kind: &str) -> &'static [&'static [&'static str]] {
    match referenced_kind {
        "ConfigMap" => &[
            &["volumes[]", "configMap", "name"],
            &["containers[]", "envFrom[]", "configMapRef", "name"],
            &[
                "containers[]",
                "env[]",
                "valueFrom",
                "configMapKeyRef",
                "name",
            ],
        ],
        "Secret" => &[
            &["volumes[]", "secret", "secretName"],
            &["containers[]", "envFrom[]", "secretRef", "name"],
            &["containers[]", "env[]", "valueFrom", "secretKeyRef", "name"],
            &["imagePullSecrets[]", "name"],
        ],
        "ServiceAccount" => &[&["serviceAccountName"]],
        _ => &[],
    }
}

fn rename(resources: &mut [Built], prefix: &str, suffix: &str) {
    let mut renamed: HashMap<(String, String), String> = HashMap::new();
    for resource in resources.iter_mut() {
        let kind = object_kind(&resource.node)
            .map(|(_, k)| k.to_string())
            .unwrap_or_default();
        if kind == "Namespace" || kind == "CustomResourceDefinition" {
            continue;
        }
        let old = name_of(&resource.node).to_string();
        let new = format!("{prefix}{old}{suffix}");
        resource.remember_id();
        if let Some(name) = get_mut(&mut resource.node, "metadata").and_then(|m| get_mut(m, "name"))
            && let NodeKind::Scalar(scalar) = &mut name.kind
        {
            scalar.value = new.as_str().into();
        }
        renamed.insert((kind, old), new);
    }
    for resource in resources.iter_mut() {
        let kind = object_kind(&resource.node)
            .map(|(_, k)| k.to_string())
            .unwrap_or_default();
        let pod_spec: Vec<&str> = match WorkloadKind::from_kind(&kind) {
            Some(WorkloadKind::Pod) => vec!["spec"],
            Some(workload) => {
                let mut path = workload.template_path().to_vec();
                path.push("spec");
                path
            }
            None => Vec::new(),
        };
        for referenced_kind in ["Service", "Secret", "ConfigMap", "ServiceAccount"] {
            let mut rewrite = |node: &mut Node| {
                if let NodeKind::Scalar(scalar) = &mut node.kind
                    && let Some(new) =
                        renamed.get(&(referenced_kind.to_string(), scalar.value.to_string()))
                {
                    scalar.value = new.as_str().into();
                }
            };
            let applies = match referenced_kind {
                "Service" => kind == "Ingress" || kind == "StatefulSet",
                "Secret" => kind == "Ingress",
                _ => false,
            };
            if applies {
                for path in reference_paths(referenced_kind) {
                    for_each_at(&mut resource.node, path, None, &mut rewrite);
                }
            }
            if !pod_spec.is_empty() {
                for path in pod_reference_paths(referenced_kind) {
                    let mut full = pod_spec.clone();
                    full.extend_from_slice(path);
                    for_each_at(&mut resource.node, &full, None, &mut rewrite);
                }
            }
        }
    }
}
