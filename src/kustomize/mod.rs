//! Native kustomize: builds each kustomization root into the objects it deploys
//! (resources, components, generators, patches, namespace, name prefix/suffix with
//! name references, labels and annotations, replicas, images, replacements), without
//! executing or fetching anything.
//! Reads only what the load stage loaded.

pub mod budget;
pub mod configurations;
pub mod flux;
pub mod generators;
pub mod hash;
pub mod images;
pub mod namerefs;
pub mod plugins;
pub mod replacements;
/// The kustomization file format is read by the load stage (which follows its
/// references); kustomize builds from it.
pub use crate::load::kustomization as spec;
pub mod transform;
pub mod vars;

use rayon::prelude::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::kinds::{CLUSTER_SCOPED_KINDS, WorkloadKind};
use crate::load::yaml::{Node, NodeKind, parse_stream};
use crate::load::{IssueKind, LoadIssue, Loaded, LoadedDocument, is_kustomization_file, normalize};
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
    /// Build metadata (`buildMetadata` of the root decides whether it is shown); none for
    /// an object read from a file that no recorded transformer ran over.
    pub provenance: Option<Box<Provenance>>,
    /// The `vars` that name this object (kustomize marks the object when the
    /// kustomization declaring them is built; the root reads their values from it).
    pub var_names: Vec<String>,
    /// The name prefixes and suffixes added to it, innermost first: kustomize's name
    /// references prefer an object renamed in the same contexts as the referrer.
    pub affixes: Option<Box<Affixes>>,
}

/// The non-empty name prefixes and suffixes the build added to an object, in the order
/// they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Affixes {
    pub prefixes: Vec<String>,
    pub suffixes: Vec<String>,
}

/// Where an object came from and which built-in transformers ran over it, as
/// kustomize's `originAnnotations` and `transformerAnnotations` report them.
#[derive(Debug, Clone, Default)]
pub struct Provenance {
    /// The built-in generator that made the object and its configuration's name.
    pub generated_by: Option<(&'static str, Option<String>)>,
    /// The kustomization of that generator, when it is not the object's file (a
    /// `behavior: merge` generator keeps the object the first one made).
    pub generated_in: Option<FileId>,
    /// (kustomization or plugin configuration file, built-in kind, configuration name),
    /// in the order they ran.
    pub transformations: Vec<(FileId, &'static str, Option<String>)>,
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
    pub(crate) fn effective_namespace(&self) -> &str {
        if self.namespace.is_empty() {
            "default"
        } else {
            &self.namespace
        }
    }
}

impl Built {
    fn provenance_mut(&mut self) -> &mut Provenance {
        self.provenance.get_or_insert_with(Box::default)
    }

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
/// One Flux `Kustomization` object deploying a directory, with what Flux does around
/// the kustomize build of that directory.
#[derive(Debug, Clone)]
struct FluxDeploy {
    /// The file holding the Flux object.
    file: FileId,
    /// Repository-relative path of that file (names the environment in `clusters/<env>/`).
    deployed_by: String,
    /// `metadata.namespace` of the Flux object: where `substituteFrom` sources live.
    namespace: String,
    /// `spec.targetNamespace`.
    target_namespace: Option<spec::Entry>,
    /// `spec.patches` (inline, with optional targets).
    patches: Vec<spec::Patch>,
    /// `spec.postBuild`.
    post_build: Option<PostBuild>,
    /// The settings above as text: deploys with equal settings render one view.
    settings: String,
}

#[derive(Debug, Clone)]
struct PostBuild {
    /// The `postBuild` key, where notes about the substitution point.
    span: Span,
    /// `substitute`: name (with the key's span) and value.
    vars: Vec<(spec::Entry, String)>,
    /// `substituteFrom`: kind, name, optional, span of the entry.
    from: Vec<(String, String, bool, Span)>,
}

/// Directories Flux `Kustomization`s deploy, with the Flux objects deploying each.
type FluxTargets = BTreeMap<PathBuf, Vec<FluxDeploy>>;

/// One build: a kustomization root, and the Flux objects (with equal settings)
/// deploying it, if any.
struct RootJob {
    dir: PathBuf,
    flux: Vec<FluxDeploy>,
    /// Set when Flux objects with different settings deploy one directory: each
    /// rendering is its own root, named after the first Flux file.
    variant: Option<String>,
}

struct Builder<'a> {
    loaded: &'a Loaded,
    files_by_path: &'a HashMap<PathBuf, FileId>,
    documents: &'a HashMap<FileId, Vec<&'a LoadedDocument>>,
    /// Files with a syntax error (asked per resource entry: a set, not a scan of the issues).
    syntax_files: &'a HashSet<FileId>,
    kustomizations: &'a Kustomizations,
    output: KustomizeOutput,
    budget: budget::Budget,
    /// ConfigMaps and Secrets of the repository by (kind, name): Flux `substituteFrom` sources.
    variable_sources: &'a HashMap<(String, String), Vec<&'a Node>>,
    /// `metadata.name` of the plugin configuration being applied (build metadata names it).
    plugin_name: Option<String>,
    /// Some kustomization asks for `transformerAnnotations`.
    record_transformations: bool,
    /// The `vars` of the kustomization being built, with those of what it includes.
    vars: Vec<vars::Declared>,
}

/// apiVersion and kind of an object; kustomize needs only the kind (an object without
/// `apiVersion` is built and printed as written).
fn object_kind(node: &Node) -> Option<(&str, &str)> {
    let api_version = node.get("apiVersion").map_or(Some(""), Node::scalar_text)?;
    Some((api_version, node.get("kind")?.scalar_text()?))
}

fn name_of(node: &Node) -> &str {
    node.path(&["metadata", "name"])
        .and_then(Node::scalar_text)
        .unwrap_or_default()
}

pub fn build(loaded: &Loaded) -> KustomizeOutput {
    let mut files_by_path = HashMap::new();
    for (index, file) in loaded.sources.files.iter().enumerate() {
        files_by_path.insert(normalize(&file.path), FileId(crate::span::narrow(index)));
    }
    let syntax_files: HashSet<FileId> = loaded
        .issues
        .iter()
        .filter(|i| i.kind == IssueKind::Syntax)
        .map(|i| i.location.file)
        .collect();
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
    let mut variable_sources: HashMap<(String, String), Vec<&Node>> = HashMap::new();
    for document in &loaded.documents {
        if let Some(("v1", kind @ ("ConfigMap" | "Secret"))) = object_kind(&document.root) {
            variable_sources
                .entry((kind.to_string(), name_of(&document.root).to_string()))
                .or_default()
                .push(&document.root);
        }
    }
    let record_transformations = kustomizations.values().any(|(_, spec)| {
        spec.build_metadata
            .iter()
            .any(|m| m == "transformerAnnotations")
    });
    let mut builder = Builder {
        loaded,
        files_by_path: &files_by_path,
        syntax_files: &syntax_files,
        documents: &documents,
        kustomizations: &kustomizations,
        output: KustomizeOutput {
            issues: duplicates,
            ..KustomizeOutput::default()
        },
        budget: budget::Budget::default(),
        variable_sources: &variable_sources,
        plugin_name: None,
        record_transformations,
        vars: Vec::new(),
    };
    let (flux, generated) = builder.flux_kustomizations();
    // Paths Flux deploys without a kustomization get the one Flux would generate.
    let output = builder.output;
    kustomizations.extend(generated);
    let mut builder = Builder {
        loaded,
        files_by_path: &files_by_path,
        syntax_files: &syntax_files,
        documents: &documents,
        kustomizations: &kustomizations,
        output,
        budget: budget::Budget::default(),
        variable_sources: &variable_sources,
        plugin_name: None,
        record_transformations,
        vars: Vec::new(),
    };
    let mut roots = builder.roots();
    for dir in flux.keys() {
        if !roots.contains(dir) {
            roots.push(dir.clone());
        }
    }
    // Kustomizations that only include each other have no root: build the first of
    // each such group as one, so the cycle is reported instead of silently ignored.
    // A Component nothing lists is not a root next to other roots (see below).
    let reachable = builder.reachable(&roots);
    let orphans: Vec<PathBuf> = builder
        .kustomizations
        .keys()
        .filter(|dir| !reachable.contains(*dir))
        .cloned()
        .collect();
    let mut covered = reachable;
    for orphan in &orphans {
        if covered.contains(orphan) || builder.is_component(orphan) {
            continue;
        }
        covered.extend(builder.reachable(std::slice::from_ref(orphan)));
        roots.push(orphan.clone());
    }
    // Components nothing builds: their files belong to the component, never plain objects.
    // Next to roots, a Component nothing lists is a library of optional features: not
    // built. When Components are all there is (`render components/x`), they are built
    // as kubectl builds them when named directly.
    let unused: Vec<PathBuf> = orphans
        .iter()
        .filter(|dir| !covered.contains(*dir))
        .cloned()
        .collect();
    if roots.is_empty() {
        let mut covered = HashSet::new();
        for component in unused {
            if covered.insert(component.clone()) {
                covered.extend(builder.reachable(std::slice::from_ref(&component)));
                roots.push(component);
            }
        }
    } else {
        for component in &unused {
            builder.consume_unused_component(component);
        }
    }
    let jobs = root_jobs(roots, &flux);
    // Roots are independent: build them in parallel, each with its own output, then
    // merge in root order so views and issues stay deterministic.
    let shared = &builder;
    let run_budget = budget::Shared::default();
    let built: Vec<(View, KustomizeOutput, budget::Rendered)> = jobs
        .par_iter()
        .map(|job| {
            let mut root_builder = Builder {
                loaded: shared.loaded,
                files_by_path: shared.files_by_path,
                syntax_files: shared.syntax_files,
                documents: shared.documents,
                kustomizations: shared.kustomizations,
                output: KustomizeOutput::default(),
                budget: budget::Budget::new(&run_budget),
                variable_sources: shared.variable_sources,
                plugin_name: None,
                record_transformations: shared.record_transformations,
                vars: Vec::new(),
            };
            let root = &job.dir;
            let mut stack = vec![root.clone()];
            let mut objects = root_builder.build_dir(root, &mut stack);
            if let Some(deploy) = job.flux.first() {
                root_builder.apply_flux(root, deploy, &mut objects);
            }
            let mut display = root_builder.display_dir(root);
            if let Some(variant) = &job.variant {
                display = format!("{display} ({variant})");
            }
            let view = View {
                root: display,
                dir: root.clone(),
                deployed_by: job.flux.iter().map(|d| d.deployed_by.clone()).collect(),
                objects,
            };
            let rendered = budget::Rendered::of(
                root_builder.budget.nodes(),
                view.objects
                    .iter()
                    .map(|b| ((b.file, b.document), b.node.expanded_size())),
                |source| budget::parsed_size(shared.documents, source),
            );
            (view, root_builder.output, rendered)
        })
        .collect();
    // The run's node limit, drawn in root order: the same roots are cut on every run.
    let (built, rendered): (Vec<_>, Vec<_>) = built
        .into_iter()
        .map(|(view, output, rendered)| ((view, output), rendered))
        .unzip();
    let fits = budget::admit(&rendered, crate::limits::MAX_RUN_NODES);
    for ((mut view, mut output), fits) in built.into_iter().zip(fits) {
        if !fits {
            if !view.objects.is_empty()
                && let Some((file, spec)) = builder.kustomizations.get(&view.dir)
            {
                let span = spec.resources.first().map_or(Span::default(), |e| e.span);
                output.issues.push(LoadIssue {
                    kind: IssueKind::KustomizeError,
                    location: Location { file: *file, span },
                    message: format!(
                        "kustomize build stopped: the kustomization roots of this run render more than {} YAML nodes (a limit of xks-lint); this root is not analysed",
                        crate::limits::MAX_RUN_NODES
                    ),
                    related: Vec::new(),
                });
            }
            view.objects.clear();
        }
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

    /// Kustomizations no other kustomization includes, except Components (built only
    /// inside a kustomization that lists them, unless they are all there is).
    fn roots(&self) -> Vec<PathBuf> {
        let mut referenced = HashSet::new();
        for (dir, (_, spec)) in self.kustomizations {
            for entry in spec.inclusions() {
                let target = self.resolve(dir, &entry.value);
                if target != *dir && self.kustomizations.contains_key(&target) {
                    referenced.insert(target);
                }
            }
        }
        self.kustomizations
            .keys()
            .filter(|dir| !referenced.contains(*dir) && !self.is_component(dir))
            .cloned()
            .collect()
    }

    /// Directories that Flux `Kustomization` objects deploy (`spec.path`, relative to the
    /// repository root), with what Flux does around each build. A path without a
    /// kustomization gets the one Flux generates. HelmReleases are noted: Flux renders
    /// them in the cluster, xks-lint cannot.
    fn flux_kustomizations(&mut self) -> (FluxTargets, Kustomizations) {
        let mut found: FluxTargets = BTreeMap::new();
        let mut generated = BTreeMap::new();
        let repo_root = self.loaded.repo_root.clone().unwrap_or_default();
        let documents: Vec<&LoadedDocument> = self.loaded.documents.iter().collect();
        let git_repositories: HashSet<&str> = documents
            .iter()
            .map(|d| &d.root)
            .filter(|root| {
                object_kind(root).is_some_and(|(a, k)| {
                    a.starts_with("source.toolkit.fluxcd.io/") && k == "GitRepository"
                })
            })
            .map(name_of)
            .collect();
        let generators: Vec<&LoadedDocument> = documents
            .iter()
            .copied()
            .filter(|d| {
                object_kind(&d.root).is_some_and(|(a, k)| {
                    a.starts_with("source.extensions.fluxcd.io/") && k == "ArtifactGenerator"
                })
            })
            .collect();
        for document in documents.iter().copied() {
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
            let from_artifact = root
                .path(&["spec", "sourceRef", "kind"])
                .and_then(Node::scalar_text)
                == Some("ExternalArtifact");
            let path_text = path_node.scalar_text().unwrap_or(".");
            let dir = if from_artifact {
                match artifact_dir(
                    document,
                    &generators,
                    &git_repositories,
                    path_text,
                    &repo_root,
                    self.loaded,
                ) {
                    Ok(dir) => dir,
                    Err(message) => {
                        self.issue(
                            IssueKind::KustomizeNote,
                            document.file,
                            path_node.span,
                            message,
                        );
                        continue;
                    }
                }
            } else if let Some(source) = external_source(root, &git_repositories) {
                self.issue(
                    IssueKind::KustomizeNote,
                    document.file,
                    root.path(&["spec", "sourceRef"]).map_or(path_node.span, |n| n.span),
                    format!("Flux Kustomization `{}` deploys from {source}, not from this repository: its objects are not analysed", name_of(root)),
                );
                continue;
            } else {
                // Flux joins the path to the source's root securely: `/apps`, `./apps` and
                // `apps` are the same directory, and `..` stops at the root.
                flux::secure_join(&repo_root, path_text)
            };
            self.note_left_out(document.file, path_node, &dir);
            if !self.kustomizations.contains_key(&dir) && !generated.contains_key(&dir) {
                let kustomization = self.generated_kustomization(&dir);
                if kustomization.resources.is_empty() {
                    continue;
                }
                generated.insert(dir.clone(), (document.file, kustomization));
            }
            let deploy = self.flux_deploy(document, &repo_root);
            found.entry(dir).or_default().push(deploy);
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

    /// What one Flux `Kustomization` adds to the build of its path.
    fn flux_deploy(&mut self, document: &LoadedDocument, repo_root: &Path) -> FluxDeploy {
        let root = &document.root;
        let file = document.file;
        let spec_node = root.get("spec");
        let target_namespace = spec_node
            .and_then(|s| s.get("targetNamespace"))
            .and_then(|n| {
                n.scalar_text().map(|value| spec::Entry {
                    value: value.to_string(),
                    span: n.span,
                })
            })
            .filter(|e| !e.value.is_empty());
        let mut patches = Vec::new();
        if let Some(spec_node) = spec_node {
            // Flux's patches have the shape of a kustomization's `patches` entries, inline only.
            let only_patches = Node {
                kind: NodeKind::Map(
                    spec_node
                        .as_map()
                        .unwrap_or(&[])
                        .iter()
                        .filter(|(k, _)| k.scalar_text() == Some("patches"))
                        .cloned()
                        .collect(),
                ),
                span: spec_node.span,
                origin: None,
            };
            for patch in spec::Kustomization::from_node(&only_patches).patches {
                match patch.source {
                    PatchSource::Inline(_) => patches.push(patch),
                    PatchSource::File(_) => self.issue(
                        IssueKind::KustomizeError,
                        file,
                        patch.span,
                        "a Flux Kustomization's patches are inline (`patch:`); `path:` is not read by Flux".to_string(),
                    ),
                }
            }
            for field in [
                "images",
                "components",
                "patchesStrategicMerge",
                "patchesJson6902",
            ] {
                if let Some((key, _)) = spec_node.entry(field) {
                    self.issue(
                        IssueKind::KustomizeNote,
                        file,
                        key.span,
                        format!("Flux `spec.{field}` is not applied by xks-lint; objects it would change are analysed as built without it"),
                    );
                }
            }
        }
        let post_build = spec_node
            .and_then(|s| s.entry("postBuild"))
            .map(|(key, node)| {
                let vars = node
                    .get("substitute")
                    .and_then(Node::as_map)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((
                            spec::Entry {
                                value: k.scalar_text()?.to_string(),
                                span: k.span,
                            },
                            v.scalar_text().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect();
                let from = node
                    .get("substituteFrom")
                    .and_then(Node::as_seq)
                    .unwrap_or(&[])
                    .iter()
                    .map(|item| {
                        let text = |key: &str| {
                            item.get(key)
                                .and_then(Node::scalar_text)
                                .unwrap_or_default()
                                .to_string()
                        };
                        (
                            text("kind"),
                            text("name"),
                            text("optional") == "true",
                            item.span,
                        )
                    })
                    .collect();
                PostBuild {
                    span: key.span,
                    vars,
                    from,
                }
            });
        let namespace = root
            .path(&["metadata", "namespace"])
            .and_then(Node::scalar_text)
            .unwrap_or("default")
            .to_string();
        let settings = serde_json::json!([
            spec_node
                .and_then(|s| s.get("targetNamespace"))
                .map(Node::to_json),
            spec_node.and_then(|s| s.get("patches")).map(Node::to_json),
            spec_node
                .and_then(|s| s.get("postBuild"))
                .map(Node::to_json),
            post_build.as_ref().map(|_| namespace.clone()),
        ])
        .to_string();
        let deployed_by = self
            .loaded
            .sources
            .get(file)
            .map(|source| {
                let path = normalize(&source.path);
                let relative = path.strip_prefix(repo_root).unwrap_or(&path);
                relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default();
        FluxDeploy {
            file,
            deployed_by,
            namespace,
            target_namespace,
            patches,
            post_build,
            settings,
        }
    }

    /// What Flux generates for a path without a kustomization: every YAML manifest
    /// below it, except that a subdirectory holding a kustomization is included as a
    /// unit (its files are that kustomization's business, not read raw).
    fn generated_kustomization(&self, dir: &Path) -> Kustomization {
        // Topmost kustomization directories strictly below `dir`.
        let nested: Vec<&PathBuf> = self
            .kustomizations
            .keys()
            .filter(|k| k.starts_with(dir) && k.as_path() != dir)
            .collect();
        let below_nested = |path: &Path| {
            path.ancestors()
                .skip(1)
                .take_while(|a| *a != dir)
                .any(|a| self.kustomizations.contains_key(a))
        };
        let relative = |path: &Path| {
            path.strip_prefix(dir).ok().map(|relative| spec::Entry {
                value: relative.to_string_lossy().into_owned(),
                span: Span::default(),
            })
        };
        let mut resources: Vec<spec::Entry> = nested
            .iter()
            .filter(|k| !below_nested(k))
            .filter_map(|k| relative(k))
            .collect();
        let files = self
            .files_by_path
            .iter()
            .filter(|(path, _)| path.starts_with(dir) && !is_kustomization_file(path))
            .filter(|(path, _)| path.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .filter(|(path, _)| !below_nested(path))
            .filter(|(_, file)| {
                self.documents.get(file).is_some_and(|docs| {
                    docs.iter().any(|d| {
                        object_kind(&d.root)
                            .is_some_and(|(a, _)| !a.starts_with("kustomize.toolkit.fluxcd.io/"))
                    })
                })
            })
            .filter_map(|(path, _)| relative(path));
        resources.extend(files);
        resources.sort_by(|a, b| a.value.cmp(&b.value));
        Kustomization {
            resources,
            ..Kustomization::default()
        }
    }

    /// A kustomization declaring `kind: Component`.
    fn is_component(&self, dir: &Path) -> bool {
        self.kustomizations
            .get(dir)
            .and_then(|(file, _)| self.documents.get(file))
            .and_then(|docs| docs.first())
            .and_then(|doc| doc.root.get("kind"))
            .and_then(Node::scalar_text)
            == Some("Component")
    }

    /// A Component nothing includes is not built (kustomize builds components only
    /// inside a kustomization), but its kustomization file and the plain files it lists
    /// are its own: they are not analysed as objects deployed on their own.
    fn consume_unused_component(&mut self, dir: &Path) {
        let Some((file, spec)) = self.kustomizations.get(dir) else {
            return;
        };
        self.output.consumed.insert(*file);
        for path in spec.referenced_paths() {
            let target = self.resolve(dir, path);
            if let Some(consumed) = self.files_by_path.get(&target) {
                self.output.consumed.insert(*consumed);
            }
        }
    }

    /// Flux applies `spec.patches` and `spec.targetNamespace` over the built
    /// kustomization, then `spec.postBuild` variable substitution.
    fn apply_flux(&mut self, dir: &Path, deploy: &FluxDeploy, objects: &mut Vec<Built>) {
        let spec = Kustomization {
            patches: deploy.patches.clone(),
            namespace: deploy.target_namespace.clone(),
            ..Kustomization::default()
        };
        self.transform(dir, deploy.file, &spec, objects);
        if let Some(post_build) = &deploy.post_build {
            self.substitute(deploy, post_build, objects);
        }
    }

    /// The value of a ConfigMap's or Secret's keys, when the repository holds it.
    fn variables_from(
        &self,
        kind: &str,
        name: &str,
        namespace: &str,
    ) -> Option<Vec<(String, String)>> {
        let candidates = self
            .variable_sources
            .get(&(kind.to_string(), name.to_string()))
            .into_iter()
            .flatten()
            .copied();
        let mut best: Option<&Node> = None;
        for candidate in candidates {
            match candidate
                .path(&["metadata", "namespace"])
                .and_then(Node::scalar_text)
            {
                Some(ns) if ns == namespace => {
                    best = Some(candidate);
                    break;
                }
                None if best.is_none() => best = Some(candidate),
                _ => {}
            }
        }
        let object = best?;
        let mut vars = Vec::new();
        let entries = |field: &str| object.get(field).and_then(Node::as_map).unwrap_or(&[]);
        let decode = |text: &str| {
            use base64::Engine;
            let compact: String = text.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
        };
        for (key, value) in entries("data") {
            let (Some(key), Some(value)) = (key.scalar_text(), value.scalar_text()) else {
                continue;
            };
            let value = if kind == "Secret" {
                decode(value).unwrap_or_default()
            } else {
                value.to_string()
            };
            vars.push((key.to_string(), value));
        }
        if kind == "Secret" {
            for (key, value) in entries("stringData") {
                if let (Some(key), Some(value)) = (key.scalar_text(), value.scalar_text()) {
                    vars.push((key.to_string(), value.to_string()));
                }
            }
        }
        Some(vars)
    }

    /// Flux's post-build substitution: `${var}` in every value and key of every object
    /// not labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled`.
    fn substitute(&mut self, deploy: &FluxDeploy, post_build: &PostBuild, objects: &mut [Built]) {
        let file = deploy.file;
        let mut vars: HashMap<String, String> = HashMap::new();
        let mut complete = true;
        for (kind, name, _optional, span) in &post_build.from {
            match (
                kind.as_str(),
                self.variables_from(kind, name, &deploy.namespace),
            ) {
                ("ConfigMap" | "Secret", Some(found)) => vars.extend(found),
                ("ConfigMap" | "Secret", None) => {
                    complete = false;
                    self.issue(
                        IssueKind::KustomizeNote,
                        file,
                        *span,
                        format!("substituteFrom {kind} `{name}` is not in the repository (it may live in the cluster): its variables are not substituted, `${{var}}` references to them are analysed as written"),
                    );
                }
                _ => {
                    complete = false;
                    self.issue(
                        IssueKind::KustomizeError,
                        file,
                        *span,
                        format!("substituteFrom kind `{kind}` is neither ConfigMap nor Secret"),
                    );
                }
            }
        }
        for (name, value) in &post_build.vars {
            vars.insert(name.value.clone(), value.clone());
        }
        // Flux rejects invalid names; names come from keys of a ConfigMap too.
        for (name, _) in &post_build.vars {
            if !flux::valid_name(&name.value) {
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    name.span,
                    format!("variable name `{}` is invalid for Flux (letters, digits and `_`, not starting with a digit): Flux refuses the substitution", name.value),
                );
            }
        }
        vars.retain(|name, _| flux::valid_name(name));
        if vars.is_empty() && complete {
            // Flux substitutes only when there is at least one variable.
            return;
        }
        for value in vars.values_mut() {
            value.retain(|c| c != '\n');
        }
        let undefined = if complete {
            flux::Undefined::Empty
        } else {
            flux::Undefined::Keep
        };
        let lookup = |name: &str| vars.get(name).cloned();
        let mut produced = 0usize;
        let mut problems: Vec<String> = Vec::new();
        for object in objects.iter_mut() {
            let disabled = ["labels", "annotations"].iter().any(|field| {
                object
                    .node
                    .path(&["metadata", field, "kustomize.toolkit.fluxcd.io/substitute"])
                    .and_then(Node::scalar_text)
                    == Some("disabled")
            });
            if disabled {
                continue;
            }
            substitute_node(
                &mut object.node,
                &lookup,
                undefined,
                &mut produced,
                &mut problems,
            );
        }
        problems.sort();
        problems.dedup();
        for problem in problems {
            self.issue(IssueKind::KustomizeNote, file, post_build.span, problem);
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
                for entry in spec.inclusions() {
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
                format!("`{}` is not applied by xks-lint (plugins and Helm charts are never run); objects it would create or change are not analysed", entry.value),
            );
        }
        self.refuse_entries(dir, file, &spec);
        if self.budget.exhausted() {
            return Vec::new();
        }
        if let Err(message) = self.budget.visit() {
            let span = spec.resources.first().map_or(Span::default(), |e| e.span);
            self.issue(IssueKind::KustomizeError, file, span, message);
            return Vec::new();
        }
        // This kustomization's vars start empty; what it includes adds theirs.
        let outer_vars = std::mem::take(&mut self.vars);
        let mut resources = Vec::new();
        let mut ids = HashSet::new();
        for entry in &spec.resources {
            let before = resources.len();
            self.add_resource(dir, file, entry, stack, &mut resources);
            self.refuse_duplicates(file, entry, before, &mut ids, &mut resources);
        }
        // kustomize's order: resources, generators (a component's `behavior: merge`
        // reaches them), components, transformers.
        self.run_generators(dir, file, &spec, &mut resources);
        self.run_plugins(dir, file, &spec.generator_plugins, stack, &mut resources);
        self.apply_components(dir, file, &spec, stack, &mut ids, &mut resources);
        self.transform(dir, file, &spec, &mut resources);
        self.run_plugins(dir, file, &spec.transformer_plugins, stack, &mut resources);
        self.declare_vars(&spec.vars, file, &mut resources);
        if stack.len() <= 1 {
            // The root: generated names get their content hash now that data is final.
            let custom = self.configurations(dir);
            generators::finish(&mut resources);
            // Every transformer has run: references follow the objects they name.
            for error in namerefs::fix_back_references(&mut resources, &custom.name_references) {
                self.issue(
                    IssueKind::KustomizeError,
                    error.file,
                    error.span,
                    error.message,
                );
            }
            // Vars read final names, so they resolve last.
            let mut references = vars::default_references();
            references.extend(custom.var_references);
            if let Err(error) = vars::resolve(&self.vars, &references, &mut resources) {
                self.issue(
                    IssueKind::KustomizeError,
                    error.file,
                    error.span,
                    error.message,
                );
            }
            // Objects marked local configuration feed transformers and replacements but
            // are never deployed: kustomize leaves them out of the root's output.
            resources.retain(|built| !is_local_config(&built.node));
            self.annotate_build_metadata(dir, &spec.build_metadata, &mut resources);
        }
        let inner_vars = std::mem::replace(&mut self.vars, outer_vars);
        for error in vars::merge(&mut self.vars, inner_vars) {
            self.issue(
                IssueKind::KustomizeError,
                error.file,
                error.span,
                error.message,
            );
        }
        resources
    }

    /// kustomize's `MergeVars` for one kustomization or component.
    fn declare_vars(&mut self, declared: &[spec::Var], file: FileId, resources: &mut [Built]) {
        if declared.is_empty() {
            return;
        }
        for error in vars::declare(&mut self.vars, declared, file, resources) {
            self.issue(
                IssueKind::KustomizeError,
                error.file,
                error.span,
                error.message,
            );
        }
    }

    /// Notes that the built-in transformer `kind` configured in `file` ran over every object
    /// of `resources`, when some root asks for `transformerAnnotations` (otherwise the
    /// record would cost memory per object for nothing).
    fn record_transformation(&self, resources: &mut [Built], file: FileId, kind: &'static str) {
        if !self.record_transformations {
            return;
        }
        for resource in resources.iter_mut() {
            let name = self.plugin_name.clone();
            resource
                .provenance_mut()
                .transformations
                .push((file, kind, name));
        }
    }

    /// `buildMetadata` of a root: `originAnnotations` writes where each object was read
    /// or which generator made it, `transformerAnnotations` which built-in transformers
    /// ran over it, paths relative to the root. (`managedByLabel` names the kustomize
    /// version, which xks-lint is not: it is left out.)
    fn annotate_build_metadata(&self, dir: &Path, wanted: &[String], resources: &mut [Built]) {
        let origins = wanted.iter().any(|w| w == "originAnnotations");
        let transformations = wanted.iter().any(|w| w == "transformerAnnotations");
        if !origins && !transformations {
            return;
        }
        let relative = |file: FileId| {
            self.loaded
                .sources
                .get(file)
                .map(|source| relative_path(dir, &normalize(&source.path)))
                .unwrap_or_default()
        };
        let configured = |file: FileId, kind: &str, name: &Option<String>, indent: &str| {
            let mut text = format!(
                "configuredIn: {}\n{indent}configuredBy:\n{indent}  apiVersion: builtin\n{indent}  kind: {kind}\n",
                relative(file)
            );
            if let Some(name) = name {
                text.push_str(&format!("{indent}  name: {name}\n"));
            }
            text
        };
        for resource in resources.iter_mut() {
            let mut added = Vec::new();
            let provenance = resource.provenance.as_deref();
            let recorded = provenance.map_or(&[][..], |p| &p.transformations);
            if transformations && !recorded.is_empty() {
                let text: String = recorded
                    .iter()
                    .map(|(file, kind, name)| format!("- {}", configured(*file, kind, name, "  ")))
                    .collect();
                added.push(("alpha.config.kubernetes.io/transformations", text));
            }
            if origins {
                let text = match provenance.and_then(|p| p.generated_by.as_ref()) {
                    Some((kind, name)) => {
                        let file = provenance.and_then(|p| p.generated_in);
                        configured(file.unwrap_or(resource.file), kind, name, "")
                    }
                    None => format!("path: {}\n", relative(resource.file)),
                };
                added.push(("config.kubernetes.io/origin", text));
            }
            let span = resource.node.span;
            for_each_at(
                &mut resource.node,
                &["metadata", "annotations"],
                Some((span, None)),
                &mut |annotations| {
                    for (key, value) in &added {
                        set(annotations, key, Node::synthetic_str(value, span, None));
                    }
                },
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
        ids: &mut HashSet<(String, String, String, String)>,
        resources: &mut Vec<Built>,
    ) {
        for entry in &spec.components {
            let target = self.resolve(dir, &entry.value);
            let refused = self.loaded.refused.get(&target);
            let Some((component_file, component)) = self
                .kustomizations
                .get(&target)
                .filter(|_| refused.is_none())
                .cloned()
            else {
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    entry.span,
                    match refused {
                        Some(why) => format!("component `{}` refused: {why}", entry.value),
                        None => format!("component `{}` has no kustomization", entry.value),
                    },
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
            if self.too_deep(stack, file, entry) {
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
                    format!("`{}` is not applied by xks-lint (plugins and Helm charts are never run); objects it would create or change are not analysed", note.value),
                );
            }
            for resource in &component.resources {
                let before = resources.len();
                self.add_resource(&target, component_file, resource, stack, resources);
                self.refuse_duplicates(component_file, resource, before, ids, resources);
            }
            self.run_generators(&target, component_file, &component, resources);
            let plugins = &component.generator_plugins;
            self.run_plugins(&target, component_file, plugins, stack, resources);
            self.apply_components(&target, component_file, &component, stack, ids, resources);
            self.transform(&target, component_file, &component, resources);
            let plugins = &component.transformer_plugins;
            self.run_plugins(&target, component_file, plugins, stack, resources);
            self.declare_vars(&component.vars, component_file, resources);
            stack.pop();
        }
    }

    /// Applies the built-in plugin configurations that `generators:` or `transformers:`
    /// entries name, in order, to `resources`.
    fn run_plugins(
        &mut self,
        dir: &Path,
        file: FileId,
        entries: &[spec::Entry],
        stack: &mut Vec<PathBuf>,
        resources: &mut Vec<Built>,
    ) {
        for entry in entries {
            for (config_file, config) in self.plugin_configs(dir, file, entry, stack) {
                if self.budget.exhausted() {
                    return;
                }
                match plugins::interpret(&config) {
                    Ok(builtin) => {
                        self.plugin_name = config
                            .path(&["metadata", "name"])
                            .and_then(Node::scalar_text)
                            .map(str::to_string);
                        self.apply_builtin(dir, config_file, builtin, resources);
                        self.plugin_name = None;
                    }
                    Err(plugins::NotApplied::Invalid(message)) => {
                        self.issue(IssueKind::KustomizeError, config_file, config.span, message);
                    }
                    Err(
                        plugins::NotApplied::External(what) | plugins::NotApplied::Builtin(what),
                    ) => self.issue(
                        IssueKind::KustomizeNote,
                        config_file,
                        config.span,
                        format!("{what}: not applied by xks-lint (plugins and Helm charts are never run); objects it would create or change are not analysed"),
                    ),
                }
            }
        }
    }

    /// The plugin configuration objects of one `generators:`/`transformers:` entry: the
    /// entry itself when written inline, else the objects of the file or kustomization
    /// directory it names (a directory is built first, so its transformers apply).
    fn plugin_configs(
        &mut self,
        dir: &Path,
        file: FileId,
        entry: &spec::Entry,
        stack: &mut Vec<PathBuf>,
    ) -> Vec<(FileId, Node)> {
        if spec::is_inline_config(&entry.value) {
            let stream = parse_stream(&entry.value);
            if let Some(error) = stream.errors.first() {
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    entry.span,
                    format!(
                        "inline plugin configuration does not parse: {}",
                        error.message
                    ),
                );
            }
            return stream
                .documents
                .into_iter()
                .filter(|d| !d.root.is_null())
                .map(|d| {
                    let mut root = d.root;
                    relocate(&mut root, entry.span, file);
                    (file, root)
                })
                .collect();
        }
        let mut configs = Vec::new();
        self.add_resource(dir, file, entry, stack, &mut configs);
        configs.into_iter().map(|b| (b.file, b.node)).collect()
    }

    fn apply_builtin(
        &mut self,
        dir: &Path,
        config_file: FileId,
        builtin: plugins::Builtin,
        resources: &mut Vec<Built>,
    ) {
        match builtin {
            plugins::Builtin::Fragment(fragment) => {
                let before = resources.len();
                self.run_generators(dir, config_file, &fragment, resources);
                for generated in resources.iter_mut().skip(before) {
                    let provenance = generated.provenance.as_deref_mut();
                    if let Some((_, name)) = provenance.and_then(|p| p.generated_by.as_mut()) {
                        name.clone_from(&self.plugin_name);
                    }
                }
                self.transform(dir, config_file, &fragment, resources);
            }
            plugins::Builtin::Rename {
                prefix,
                suffix,
                kinds,
            } => {
                rename(resources, &prefix, &suffix, Some(&kinds));
                self.record_transformation(resources, config_file, "PrefixSuffixTransformer");
            }
            plugins::Builtin::Pairs { kind, pairs, specs } => {
                configurations::apply_labels(resources, &specs, &pairs, config_file);
                self.record_transformation(resources, config_file, kind);
            }
            plugins::Builtin::NamespaceIfUnset(namespace) => {
                set_namespace(resources, &namespace, config_file, true);
                self.record_transformation(resources, config_file, "NamespaceTransformer");
            }
            plugins::Builtin::ServiceAccount {
                name,
                namespace,
                annotation,
                span,
            } => {
                let namespace = namespace.as_deref();
                let node =
                    plugins::service_account(&name, namespace, &annotation, span, config_file);
                resources.push(Built {
                    file: config_file,
                    document: usize::MAX,
                    item: Some(resources.len()),
                    node,
                    previous: Vec::new(),
                    provenance: Some(Box::new(Provenance {
                        generated_by: Some(("IAMPolicyGenerator", self.plugin_name.clone())),
                        transformations: Vec::new(),
                        generated_in: None,
                    })),
                    var_names: Vec::new(),
                    affixes: None,
                });
            }
            plugins::Builtin::Nothing => {}
        }
    }

    /// Adds the objects of `configMapGenerator` and `secretGenerator` to `resources`.
    fn run_generators(
        &mut self,
        dir: &Path,
        file: FileId,
        spec: &Kustomization,
        resources: &mut Vec<Built>,
    ) {
        if spec.generators.is_empty() {
            return;
        }
        let context = generators::Context {
            dir,
            file,
            data_files: &self.loaded.data_files,
        };
        let original = |built: &Built| self.original_identity(built);
        let errors = generators::run(spec, &context, resources, &original);
        // A data file that is also a manifest (`files: [config.yaml]`) is data, not objects.
        for path in spec.data_paths() {
            if let Some(data_file) = self.files_by_path.get(&self.resolve(dir, path)) {
                self.output.consumed.insert(*data_file);
            }
        }
        for error in errors {
            self.issue(IssueKind::KustomizeError, file, error.span, error.message);
        }
    }

    /// The custom field specs (`configurations`) of the kustomization at `dir` and of
    /// everything it includes: kustomize merges them upwards.
    fn configurations(&self, dir: &Path) -> configurations::Configurations {
        let mut merged = configurations::Configurations::default();
        if !self
            .kustomizations
            .values()
            .any(|(_, spec)| !spec.configurations.is_empty())
        {
            return merged;
        }
        let mut dirs: Vec<PathBuf> = self.reachable(&[dir.to_path_buf()]).into_iter().collect();
        dirs.sort();
        for dir in dirs {
            let Some((_, spec)) = self.kustomizations.get(&dir) else {
                continue;
            };
            for entry in &spec.configurations {
                let target = self.resolve(&dir, &entry.value);
                let Some(file) = self.files_by_path.get(&target) else {
                    continue;
                };
                for document in self.documents.get(file).into_iter().flatten() {
                    merged.add(&document.root);
                }
            }
        }
        merged
    }

    /// Kind, name and effective namespace of an object as it was read or generated,
    /// before any transformer renamed it.
    fn original_identity(&self, built: &Built) -> Option<generators::Identity> {
        if let Some(identity) = generators::generated_identity(&built.node) {
            return Some(identity);
        }
        let document = self
            .documents
            .get(&built.file)?
            .iter()
            .find(|d| d.index == built.document)?;
        let node = match built.item {
            Some(item) => document.root.get("items")?.as_seq()?.get(item)?,
            None => &document.root,
        };
        let text = |path: &[&str]| {
            node.path(path)
                .and_then(Node::scalar_text)
                .unwrap_or_default()
                .to_string()
        };
        let namespace = text(&["metadata", "namespace"]);
        Some((
            text(&["kind"]),
            text(&["metadata", "name"]),
            if namespace.is_empty() {
                "default".to_string()
            } else {
                namespace
            },
        ))
    }

    /// `replicas`, `images` and `replacements`: kustomize runs them in this order,
    /// after the label and annotation transformers.
    fn apply_data_transformers(
        &mut self,
        dir: &Path,
        file: FileId,
        spec: &Kustomization,
        resources: &mut [Built],
    ) {
        let origin = Some(file);
        let mut errors = Vec::new();
        for replica in &spec.replicas {
            let original = |built: &Built| self.original_identity(built).map(|(_, name, _)| name);
            if let Err(message) = images::apply_replicas(resources, replica, &original, origin) {
                errors.push((replica.span, message));
            }
        }
        if !spec.images.is_empty() {
            let custom = self.configurations(dir);
            images::apply_images(resources, &spec.images, &custom.images, origin);
        }
        for entry in &spec.configurations {
            let target = self.resolve(dir, &entry.value);
            let Some(config_file) = self.files_by_path.get(&target).copied() else {
                errors.push((
                    entry.span,
                    format!("configuration file `{}` not found", entry.value),
                ));
                continue;
            };
            self.output.consumed.insert(config_file);
            for document in self.documents.get(&config_file).into_iter().flatten() {
                for (section, span) in
                    configurations::Configurations::unsupported_sections(&document.root)
                {
                    self.issue(
                        IssueKind::KustomizeNote,
                        config_file,
                        span,
                        format!("configuration section `{section}` is not applied by xks-lint (only images, nameReference, commonLabels, labels, namePrefix and nameSuffix are)"),
                    );
                }
            }
        }
        for entry in &spec.replacements {
            let (nodes, span) = match entry {
                spec::ReplacementEntry::Inline(node) => (vec![node.clone()], node.span),
                spec::ReplacementEntry::File(path) => {
                    let target = self.resolve(dir, &path.value);
                    let Some(replacement_file) = self.files_by_path.get(&target).copied() else {
                        errors.push((
                            path.span,
                            format!("replacement file `{}` not found", path.value),
                        ));
                        continue;
                    };
                    self.output.consumed.insert(replacement_file);
                    let mut nodes = Vec::new();
                    for document in self.documents.get(&replacement_file).into_iter().flatten() {
                        match document.root.as_seq() {
                            Some(items) => nodes.extend(items.iter().cloned()),
                            None if !document.root.is_null() => nodes.push(document.root.clone()),
                            None => {}
                        }
                    }
                    (nodes, path.span)
                }
            };
            for node in nodes {
                let original = |built: &Built| self.original_identity(built);
                if let Err(message) = replacements::apply(resources, &node, &original) {
                    errors.push((span, format!("replacement: {message}")));
                }
            }
        }
        for (span, message) in errors {
            self.issue(IssueKind::KustomizeError, file, span, message);
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
            if self.too_deep(stack, file, entry) {
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
        if self.syntax_files.contains(&resource_file) {
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
        if self.budget.exhausted() {
            return;
        }
        let first = out.len();
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
                        let item = crate::kinds::list_item(&document.root, item);
                        if object_kind(&item).is_some() {
                            out.push(Built {
                                file: resource_file,
                                document: document.index,
                                item: Some(index),
                                node: item,
                                previous: Vec::new(),
                                provenance: None,
                                var_names: Vec::new(),
                                affixes: None,
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
                    provenance: None,
                    var_names: Vec::new(),
                    affixes: None,
                }),
            }
        }
        for index in first..out.len() {
            let nodes = out.get(index).map_or(0, |b| b.node.expanded_size());
            if let Err(message) = self.budget.object(nodes) {
                self.issue(IssueKind::KustomizeError, file, entry.span, message);
            }
            if self.budget.exhausted() {
                out.truncate(index);
                break;
            }
        }
    }

    /// Kustomizations nested deeper than the limit are not followed.
    fn too_deep(&mut self, stack: &[PathBuf], file: FileId, entry: &spec::Entry) -> bool {
        if stack.len() < crate::limits::MAX_KUSTOMIZE_DEPTH {
            return false;
        }
        self.issue(
            IssueKind::KustomizeError,
            file,
            entry.span,
            format!(
                "`{}` is nested more than {} kustomizations deep (a limit of xks-lint); not followed",
                entry.value,
                crate::limits::MAX_KUSTOMIZE_DEPTH
            ),
        );
        true
    }

    /// kustomize refuses a resource whose id (group, version, kind, namespace, name) is
    /// already in the kustomization: the same file listed twice, or two files holding
    /// one object. The first one is kept.
    fn refuse_duplicates(
        &mut self,
        file: FileId,
        entry: &spec::Entry,
        before: usize,
        ids: &mut HashSet<(String, String, String, String)>,
        resources: &mut Vec<Built>,
    ) {
        let mut index = before;
        let mut reported = false;
        while index < resources.len() {
            let Some(id) = resources.get(index).and_then(|b| resource_id(&b.node)) else {
                index += 1;
                continue;
            };
            if ids.insert(id.clone()) {
                index += 1;
                continue;
            }
            resources.remove(index);
            if !reported {
                reported = true;
                let (api_version, kind, namespace, name) = id;
                let namespace = if namespace.is_empty() {
                    "(cluster)".to_string()
                } else {
                    namespace
                };
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    entry.span,
                    format!("`{}` adds {kind} {namespace}/{name} ({api_version}) a second time: kustomize refuses the build (\"may not add resource with an already registered id\"); the first one is kept", entry.value),
                );
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
        let mut size: usize = if spec.patches.is_empty() {
            0
        } else {
            resources.iter().map(|r| r.node.expanded_size()).sum()
        };
        for patch in &spec.patches {
            if self.budget.exhausted() {
                return;
            }
            for document in self.patch_documents(dir, file, patch) {
                self.apply_patch(file, patch, &document, resources);
            }
            // Patches may grow objects (JSON 6902 `copy`): count what they add.
            let grown: usize = resources.iter().map(|r| r.node.expanded_size()).sum();
            if let Err(message) = self.budget.grow(grown.saturating_sub(size)) {
                self.issue(IssueKind::KustomizeError, file, patch.span, message);
            }
            size = grown;
        }
        // Recorded in the order kustomize configures its built-in transformers.
        let record =
            |resources: &mut Vec<Built>, kind| self.record_transformation(resources, file, kind);
        for patch in spec.patches.iter().filter(|p| !p.json6902) {
            record(resources, patch.builtin);
        }
        let custom = self.configurations(dir);
        let mut conflicts = Vec::new();
        if let Some(namespace) = &spec.namespace {
            if let Some(conflict) = set_namespace(resources, namespace, file, false) {
                conflicts.push((namespace.span, conflict));
            }
            record(resources, "NamespaceTransformer");
        }
        let prefix_kinds = configurations::renamed_kinds(&custom.name_prefix);
        let suffix_kinds = configurations::renamed_kinds(&custom.name_suffix);
        if prefix_kinds.is_none() && suffix_kinds.is_none() {
            rename(resources, &spec.name_prefix, &spec.name_suffix, None);
        } else {
            // Custom field specs for one of them: each renames its own kinds.
            rename(resources, &spec.name_prefix, "", prefix_kinds.as_deref());
            rename(resources, "", &spec.name_suffix, suffix_kinds.as_deref());
        }
        if !spec.name_prefix.is_empty() {
            record(resources, "PrefixTransformer");
        }
        if !spec.name_suffix.is_empty() {
            record(resources, "SuffixTransformer");
        }
        add_pairs(resources, &spec.common_labels, file, LabelScope::Selectors);
        if !spec.common_labels.is_empty() {
            record(resources, "LabelTransformer");
        }
        for set in &spec.labels {
            let scope = if set.include_selectors {
                LabelScope::Selectors
            } else if set.include_templates {
                LabelScope::Templates
            } else {
                LabelScope::Metadata
            };
            add_pairs(resources, &set.pairs, file, scope);
            let specs = if set.include_selectors {
                &custom.common_labels
            } else {
                &custom.labels
            };
            configurations::apply_labels(resources, specs, &set.pairs, file);
            record(resources, "LabelTransformer");
        }
        configurations::apply_labels(resources, &custom.common_labels, &spec.common_labels, file);
        add_pairs(
            resources,
            &spec.common_annotations,
            file,
            LabelScope::Annotations,
        );
        if !spec.common_annotations.is_empty() {
            record(resources, "AnnotationsTransformer");
        }
        for patch in spec.patches.iter().filter(|p| p.json6902) {
            record(resources, patch.builtin);
        }
        for _ in &spec.replicas {
            record(resources, "ReplicaCountTransformer");
        }
        for _ in &spec.images {
            record(resources, "ImageTagTransformer");
        }
        if !spec.replacements.is_empty() {
            record(resources, "ReplacementTransformer");
        }
        for (span, conflict) in conflicts {
            self.issue(IssueKind::KustomizeError, file, span, conflict);
        }
        self.apply_data_transformers(dir, file, spec, resources);
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
            (Some(target), _) => {
                let matcher = match TargetMatcher::new(target) {
                    Ok(matcher) => matcher,
                    Err(message) => {
                        self.issue(IssueKind::KustomizeError, file, patch.span, message);
                        return;
                    }
                };
                resources
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| matcher.matches(r, target))
                    .map(|(i, _)| i)
                    .collect()
            }
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
                let named = format!(
                    "{} {}{}",
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
                );
                match found.len() {
                    0 => {
                        let message = format!("patch matches no resource ({named})");
                        self.issue(IssueKind::KustomizeError, file, patch.span, message);
                    }
                    1 => {}
                    count => {
                        // kustomize needs one target; an earlier name shared by several
                        // objects (renamed apart by different prefixes) is ambiguous.
                        let message = format!(
                            "patch names {count} objects by their current or earlier names ({named}); kubectl refuses it"
                        );
                        self.issue(IssueKind::KustomizeError, file, patch.span, message);
                        return;
                    }
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

/// The source a Flux `Kustomization` deploys from, when it is not this repository: a
/// source of another kind (OCIRepository, Bucket), or a GitRepository the repository
/// itself defines under another name than `flux-system` (the one `flux bootstrap`
/// creates for the repository it writes to). A GitRepository the repository does not
/// define is taken to be this one.
fn external_source(root: &Node, git_repositories: &HashSet<&str>) -> Option<String> {
    let source = root.path(&["spec", "sourceRef"])?;
    let kind = source
        .get("kind")
        .and_then(Node::scalar_text)
        .unwrap_or("GitRepository");
    let name = source
        .get("name")
        .and_then(Node::scalar_text)
        .unwrap_or_default();
    let external =
        kind != "GitRepository" || (name != "flux-system" && git_repositories.contains(name));
    external.then(|| format!("{kind} `{name}`"))
}

/// The repository directory an `ExternalArtifact` path stands for, when a Flux
/// `ArtifactGenerator` of the repository builds that artifact by copying directories of
/// this repository (`from: "@repo/apps/base/**"`, `to: "@artifact/base/"`). The
/// generator next to the Flux Kustomization wins when several define the artifact.
fn artifact_dir(
    document: &LoadedDocument,
    documents: &[&LoadedDocument],
    git_repositories: &HashSet<&str>,
    path: &str,
    repo_root: &Path,
    loaded: &Loaded,
) -> Result<PathBuf, String> {
    let root = &document.root;
    let artifact = root
        .path(&["spec", "sourceRef", "name"])
        .and_then(Node::scalar_text)
        .unwrap_or_default();
    let unknown = || {
        format!(
            "Flux Kustomization `{}` deploys `{path}` from ExternalArtifact `{artifact}`, which no ArtifactGenerator of this repository builds from it: its objects are not analysed",
            name_of(root)
        )
    };
    let dir_of = |file: FileId| {
        loaded
            .sources
            .get(file)
            .and_then(|s| normalize(&s.path).parent().map(Path::to_path_buf))
    };
    let here = dir_of(document.file);
    let mut candidates: Vec<(&LoadedDocument, &Node)> = Vec::new();
    for generator in documents {
        let is_generator = object_kind(&generator.root).is_some_and(|(a, k)| {
            a.starts_with("source.extensions.fluxcd.io/") && k == "ArtifactGenerator"
        });
        if !is_generator {
            continue;
        }
        for spec in generator
            .root
            .path(&["spec", "artifacts"])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            if spec.get("name").and_then(Node::scalar_text) == Some(artifact) {
                candidates.push((generator, spec));
            }
        }
    }
    let chosen = match candidates.as_slice() {
        [] => return Err(unknown()),
        [only] => *only,
        several => *several
            .iter()
            .find(|(g, _)| dir_of(g.file) == here)
            .ok_or_else(unknown)?,
    };
    let (generator, spec) = chosen;
    // Aliases of sources that are this repository.
    let local_aliases: Vec<&str> = generator
        .root
        .path(&["spec", "sources"])
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter(|source| {
            let kind = source
                .get("kind")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            let name = source
                .get("name")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            kind == "GitRepository" && (name == "flux-system" || !git_repositories.contains(name))
        })
        .filter_map(|source| source.get("alias").and_then(Node::scalar_text))
        .collect();
    let wanted = flux::secure_join(Path::new("/"), path);
    let mut best: Option<(usize, PathBuf)> = None;
    for rule in spec.get("copy").and_then(Node::as_seq).unwrap_or(&[]) {
        let text = |key: &str| {
            rule.get(key)
                .and_then(Node::scalar_text)
                .unwrap_or_default()
        };
        let Some((alias, from)) = text("from")
            .strip_prefix('@')
            .and_then(|f| f.split_once('/'))
        else {
            continue;
        };
        let Some(from) = from
            .strip_suffix("/**")
            .or_else(|| (from == "**").then_some(""))
        else {
            continue;
        };
        let Some(to) = text("to").strip_prefix("@artifact/") else {
            continue;
        };
        if !local_aliases.contains(&alias) {
            continue;
        }
        let dest = flux::secure_join(Path::new("/"), to);
        if let Ok(rest) = wanted.strip_prefix(&dest) {
            let depth = dest.components().count();
            if best.as_ref().is_none_or(|(d, _)| depth > *d) {
                let source = flux::secure_join(repo_root, from);
                best = Some((depth, source.join(rest)));
            }
        }
    }
    best.map(|(_, dir)| normalize(&dir)).ok_or_else(unknown)
}

/// One build per root; a directory Flux objects with different settings deploy is
/// built once per settings.
fn root_jobs(roots: Vec<PathBuf>, flux: &FluxTargets) -> Vec<RootJob> {
    let mut jobs = Vec::new();
    for dir in roots {
        let deploys = flux.get(&dir).cloned().unwrap_or_default();
        let mut groups: Vec<Vec<FluxDeploy>> = Vec::new();
        for deploy in deploys {
            match groups
                .iter_mut()
                .find(|g| g.first().is_some_and(|d| d.settings == deploy.settings))
            {
                Some(group) => group.push(deploy),
                None => groups.push(vec![deploy]),
            }
        }
        if groups.len() <= 1 {
            jobs.push(RootJob {
                dir,
                flux: groups.pop().unwrap_or_default(),
                variant: None,
            });
            continue;
        }
        for group in groups {
            let variant = group.first().map(|d| d.deployed_by.clone());
            jobs.push(RootJob {
                dir: dir.clone(),
                flux: group,
                variant,
            });
        }
    }
    jobs
}

/// Substitutes variables in every scalar below `node` (keys included), within the
/// byte limits of `crate::limits`.
fn substitute_node(
    node: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    undefined: flux::Undefined,
    produced: &mut usize,
    problems: &mut Vec<String>,
) {
    use crate::limits::{MAX_SUBSTITUTED_ROOT, MAX_SUBSTITUTED_VALUE};
    match &mut node.kind {
        NodeKind::Scalar(scalar) => {
            if !scalar.value.contains("${") {
                return;
            }
            let limit = MAX_SUBSTITUTED_VALUE.min(MAX_SUBSTITUTED_ROOT.saturating_sub(*produced));
            match flux::envsubst(&scalar.value, lookup, undefined, limit) {
                Ok(std::borrow::Cow::Owned(value)) => {
                    *produced += value.len();
                    scalar.value = value.into();
                }
                Ok(std::borrow::Cow::Borrowed(_)) => {}
                Err(flux::SubstError::Unsupported(expression)) => problems.push(format!(
                    "variable expression {expression} is not evaluated by xks-lint; the value is analysed as written"
                )),
                Err(flux::SubstError::TooLarge) => problems.push(format!(
                    "substitution stopped: a value would exceed {MAX_SUBSTITUTED_VALUE} bytes or the root {MAX_SUBSTITUTED_ROOT} bytes (a limit of xks-lint); such values are analysed as written"
                )),
            }
        }
        NodeKind::Seq(items) => {
            for item in items {
                substitute_node(item, lookup, undefined, produced, problems);
            }
        }
        NodeKind::Map(entries) => {
            for (key, value) in entries {
                substitute_node(key, lookup, undefined, produced, problems);
                substitute_node(value, lookup, undefined, produced, problems);
            }
        }
    }
}

/// The id kustomize registers an object under: apiVersion, kind, namespace (empty for
/// cluster-scoped kinds, `default` when unset) and name.
fn resource_id(node: &Node) -> Option<(String, String, String, String)> {
    let (api_version, kind) = object_kind(node)?;
    let name = name_of(node);
    if name.is_empty() {
        return None;
    }
    let namespace = if CLUSTER_SCOPED_KINDS.contains(&kind) {
        String::new()
    } else {
        node.path(&["metadata", "namespace"])
            .and_then(Node::scalar_text)
            .filter(|ns| !ns.is_empty())
            .unwrap_or("default")
            .to_string()
    };
    Some((
        api_version.to_string(),
        kind.to_string(),
        namespace,
        name.to_string(),
    ))
}

/// `path` relative to directory `base`, with `..` where it lies outside it.
fn relative_path(base: &Path, path: &Path) -> String {
    let base: Vec<_> = base.components().collect();
    let path: Vec<_> = path.components().collect();
    let common = base.iter().zip(&path).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); base.len() - common];
    parts.extend(
        path.iter()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

const LOCAL_CONFIG_ANNOTATION: &str = "config.kubernetes.io/local-config";

fn is_local_config(node: &Node) -> bool {
    node.path(&["metadata", "annotations", LOCAL_CONFIG_ANNOTATION])
        .and_then(Node::scalar_text)
        == Some("true")
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
    // Terms are separated by commas outside the parentheses of a set (`tier in (a,b)`).
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (at, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&selector[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    let label = |key: &str| {
        map.and_then(|m| m.get(key.trim()))
            .and_then(Node::scalar_text)
    };
    terms
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|term| {
            if let Some((head, set)) = term.split_once('(') {
                let mut words = head.split_whitespace();
                let (key, operator) = (words.next().unwrap_or_default(), words.next());
                let values: Vec<&str> = set
                    .trim_end_matches(')')
                    .split(',')
                    .map(str::trim)
                    .collect();
                let actual = label(key);
                return match operator {
                    Some("in") => actual.is_some_and(|a| values.contains(&a)),
                    Some("notin") => actual.is_none_or(|a| !values.contains(&a)),
                    _ => false,
                };
            }
            if let Some(key) = term.strip_prefix('!') {
                return label(key).is_none();
            }
            let (key, value) = term
                .split_once("!=")
                .map(|(k, v)| (k, Some((v, false))))
                .or_else(|| {
                    term.split_once("==")
                        .or_else(|| term.split_once('='))
                        .map(|(k, v)| (k, Some((v, true))))
                })
                .unwrap_or((term, None));
            let actual = label(key);
            match value {
                None => actual.is_some(),
                Some((v, true)) => actual == Some(v.trim()),
                Some((v, false)) => actual != Some(v.trim()),
            }
        })
}

/// The regular expressions of one patch target (kind, name, namespace: kustomize
/// anchors them), compiled once per patch with a size limit.
struct TargetMatcher {
    kind: Option<regex::Regex>,
    name: Option<regex::Regex>,
    namespace: Option<regex::Regex>,
}

impl TargetMatcher {
    fn new(target: &PatchTarget) -> Result<TargetMatcher, String> {
        let compile = |field: &str, pattern: &Option<String>| {
            pattern
                .as_deref()
                .map(|pattern| {
                    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
                        .size_limit(crate::limits::MAX_TARGET_REGEX_SIZE)
                        .dfa_size_limit(crate::limits::MAX_TARGET_REGEX_SIZE)
                        .build()
                        .map_err(|error| {
                            let reason = match error {
                                regex::Error::CompiledTooBig(_) => format!(
                                    "it compiles to more than {} bytes (a limit of xks-lint)",
                                    crate::limits::MAX_TARGET_REGEX_SIZE
                                ),
                                _ => "it is not a valid regular expression".to_string(),
                            };
                            let shown: String = pattern.chars().take(60).collect();
                            format!("patch target {field} `{shown}` is refused: {reason}")
                        })
                })
                .transpose()
        };
        Ok(TargetMatcher {
            kind: compile("kind", &target.kind)?,
            name: compile("name", &target.name)?,
            namespace: compile("namespace", &target.namespace)?,
        })
    }

    /// Whether the target selects the object: kind, group and version as they are now,
    /// name and namespace as they are now or as they were when the object was read
    /// (kustomize tries both), labels and annotations as they are now.
    fn matches(&self, resource: &Built, target: &PatchTarget) -> bool {
        let node = &resource.node;
        let current = ResId::of(node);
        let original = resource.original_id();
        let (group, version) = current
            .api_version
            .rsplit_once('/')
            .unwrap_or(("", current.api_version.as_str()));
        let meta = node.get("metadata");
        self.kind
            .as_ref()
            .is_none_or(|re| re.is_match(&current.kind))
            && target.group.as_deref().is_none_or(|g| g == group)
            && target.version.as_deref().is_none_or(|v| v == version)
            && self
                .name
                .as_ref()
                .is_none_or(|re| re.is_match(&current.name) || re.is_match(&original.name))
            && self.namespace.as_ref().is_none_or(|re| {
                re.is_match(current.effective_namespace())
                    || re.is_match(original.effective_namespace())
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

/// The namespace transformer: moves every namespaced object (with `only_unset`, every
/// one without a namespace) into `namespace`. Like kustomize it first records every
/// object's identity, moved or not, so the root's name-reference pass can make the
/// references that name it with its namespace follow. kustomize's default field specs
/// also name `metadata/name` of `Namespace` objects: a Namespace in the build becomes the
/// target namespace (two of them collide; the refusal is returned), and ServiceAccount
/// subjects named `default` move too (`setRoleBindingSubjects: defaultOnly`).
fn set_namespace(
    resources: &mut [Built],
    namespace: &spec::Entry,
    file: FileId,
    only_unset: bool,
) -> Option<String> {
    let value = || Node::synthetic_str(&namespace.value, namespace.span, Some(file));
    let mut renamed_namespaces = false;
    for resource in resources.iter_mut() {
        resource.remember_id();
        let kind = object_kind(&resource.node).map_or("", |(_, k)| k);
        if kind == "Namespace" && !only_unset {
            if name_of(&resource.node) != namespace.value {
                renamed_namespaces = true;
                if let Some(meta) = get_mut(&mut resource.node, "metadata") {
                    set(meta, "name", value());
                }
            }
            continue;
        }
        if CLUSTER_SCOPED_KINDS.contains(&kind) {
            continue;
        }
        if only_unset && !ResId::of(&resource.node).namespace.is_empty() {
            continue;
        }
        for_each_at(
            &mut resource.node,
            &["metadata"],
            Some((namespace.span, Some(file))),
            &mut |meta| set(meta, "namespace", value()),
        );
    }
    namerefs::move_default_subjects(resources, &value, only_unset);
    if !renamed_namespaces {
        return None;
    }
    let namespaces = resources
        .iter()
        .filter(|r| object_kind(&r.node).is_some_and(|(_, k)| k == "Namespace"))
        .filter(|r| name_of(&r.node) == namespace.value)
        .count();
    (namespaces > 1).then(|| {
        format!(
            "the namespace transformer renames every Namespace object to `{}`, and this build has {namespaces} of them; kubectl refuses the ID conflict",
            namespace.value
        )
    })
}

/// Adds `prefix` and then `suffix` to object names, as kustomize's PrefixTransformer and
/// SuffixTransformer do: each records the object's earlier identity and the affix, and
/// the root's name-reference pass makes references follow.
/// `only_kinds` restricts the renamed kinds (a plugin's field specs; `None` inside it
/// means every kind); without it every object is renamed except Namespaces, CRDs and
/// APIServices.
fn rename(
    resources: &mut [Built],
    prefix: &str,
    suffix: &str,
    only_kinds: Option<&[Option<String>]>,
) {
    for resource in resources.iter_mut() {
        let kind = object_kind(&resource.node).map_or("", |(_, k)| k);
        let wanted = match only_kinds {
            Some(kinds) => kinds.iter().any(|k| k.as_deref().is_none_or(|k| k == kind)),
            None => !matches!(
                kind,
                "Namespace" | "CustomResourceDefinition" | "APIService"
            ),
        };
        if !wanted {
            continue;
        }
        for (affix, is_prefix) in [(prefix, true), (suffix, false)] {
            if affix.is_empty() {
                continue;
            }
            resource.remember_id();
            let affixes = resource.affixes.get_or_insert_with(Box::default);
            if is_prefix {
                affixes.prefixes.push(affix.to_string());
            } else {
                affixes.suffixes.push(affix.to_string());
            }
            if let Some(name) =
                get_mut(&mut resource.node, "metadata").and_then(|m| get_mut(m, "name"))
                && let NodeKind::Scalar(scalar) = &mut name.kind
            {
                let new = if is_prefix {
                    format!("{affix}{}", scalar.value)
                } else {
                    format!("{}{affix}", scalar.value)
                };
                scalar.value = new.as_str().into();
            }
        }
    }
}
