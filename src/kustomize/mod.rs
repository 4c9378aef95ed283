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
pub mod moved;
pub mod namerefs;
pub mod plugins;
pub mod replacements;
/// The kustomization file format is read by the load stage (which follows its
/// references); kustomize builds from it.
pub use crate::load::kustomization as spec;
pub mod transform;
pub mod vars;

// The build itself, by concern; each file adds methods to `Builder` and imports this
// module's names.
/// Flux `Kustomization`s as roots and what Flux does around a build.
mod flux_deploy;
/// One kustomization level, from its resources to the root's finishing passes.
mod level;
/// The `resources` entries: what may be read and the objects each adds.
mod resources;
/// One level's built-in transformers.
mod transformers;

use ecow::EcoString;

use crate::hashing::{FastMap, FastSet};
use moved::Moved;
use resources::{relative_path, relocate};
use transformers::{rename, selector_matches, set_namespace};

use rayon::prelude::*;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::kinds::{CLUSTER_SCOPED_KINDS, WorkloadKind};
/// apiVersion and kind of an object; kustomize needs only the kind (an object without
/// `apiVersion` is built and printed as written).
use crate::load::written_kind as object_kind;
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
    /// Kind, name and namespace the object was read with, when its tree was moved out
    /// of the loaded document (which no longer answers `original_identity`).
    pub read_as: Option<Box<generators::Identity>>,
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
    pub api_version: EcoString,
    pub kind: EcoString,
    pub namespace: EcoString,
    pub name: EcoString,
}

impl ResId {
    /// The identity written in `node`. `EcoString`s cloned from the tree's scalars: inline up
    /// to 15 bytes, else the tree's shared string; the build records one per object and
    /// transformer (`Built::previous`), and copying four names each time was a fifth of it.
    pub fn of(node: &Node) -> ResId {
        let text = |path: &[&str]| {
            node.path(path)
                .and_then(Node::scalar_string)
                .cloned()
                .unwrap_or_default()
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

    /// Its root is built: drops what only the build reads (earlier identities, affixes,
    /// vars, build metadata), so the views waiting for the other roots hold their trees
    /// only. At 100,000 workloads the earlier identities alone are ~400,000 `ResId`s.
    fn settle(&mut self) {
        self.previous = Vec::new();
        self.provenance = None;
        self.var_names = Vec::new();
        self.affixes = None;
        self.read_as = None;
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
    pub consumed: FastSet<FileId>,
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
    files_by_path: &'a FastMap<PathBuf, FileId>,
    documents: &'a FastMap<FileId, Vec<&'a LoadedDocument>>,
    /// Files with a syntax error (asked per resource entry: a set, not a scan of the issues).
    syntax_files: &'a FastSet<FileId>,
    kustomizations: &'a Kustomizations,
    output: KustomizeOutput,
    budget: budget::Budget,
    /// ConfigMaps and Secrets of the repository by (kind, name): Flux `substituteFrom` sources.
    variable_sources: &'a FastMap<(String, String), Vec<&'a Node>>,
    /// `metadata.name` of the plugin configuration being applied (build metadata names it).
    plugin_name: Option<String>,
    /// Some kustomization asks for `transformerAnnotations`.
    record_transformations: bool,
    /// The `vars` of the kustomization being built, with those of what it includes.
    vars: Vec<vars::Declared>,
    /// Trees only one build reads, taken by the build that reads them.
    moved: &'a Moved,
}

fn name_of(node: &Node) -> &str {
    node.path(&["metadata", "name"])
        .and_then(Node::scalar_text)
        .unwrap_or_default()
}

/// Builds every kustomization root of `loaded`, leaving it as it was.
pub fn build(loaded: &Loaded) -> KustomizeOutput {
    let plan = plan(loaded);
    run(loaded, plan, &Moved::default())
}

/// Builds every kustomization root of `loaded` as [`build`] does, moving each tree only
/// one build reads into that build instead of sharing it (see [`moved`]): a
/// transformer's edit then changes the tree in place instead of copying the mappings
/// on its path while the loaded original stays alive. The moved documents are gone
/// from `loaded.documents` afterwards; every file they came from is in `consumed`.
pub fn build_moving(loaded: &mut Loaded) -> KustomizeOutput {
    let plan = plan(loaded);
    let moved = Moved::select(&plan, loaded);
    let output = run(loaded, plan, &moved);
    moved.settle(loaded);
    output
}

/// The loaded documents of each file, in order.
fn document_index(loaded: &Loaded) -> FastMap<FileId, Vec<&LoadedDocument>> {
    let mut documents: FastMap<FileId, Vec<&LoadedDocument>> = FastMap::default();
    for document in &loaded.documents {
        documents.entry(document.file).or_default().push(document);
    }
    documents
}

/// ConfigMaps and Secrets of the repository by (kind, name): Flux `substituteFrom` sources.
fn variable_sources(loaded: &Loaded) -> FastMap<(String, String), Vec<&Node>> {
    // Each tree's kind read on every core (a read of hundreds of thousands of trees); the
    // few ConfigMaps and Secrets are indexed in document order.
    let found: Vec<(&str, &Node)> = loaded
        .documents
        .par_iter()
        // Only the documents the loader saw as ConfigMaps and Secrets are read.
        .filter(|document| document.written.is_substitution_source())
        .filter_map(|document| match object_kind(&document.root) {
            Some(("v1", kind @ ("ConfigMap" | "Secret"))) => Some((kind, &document.root)),
            _ => None,
        })
        .collect();
    let mut variable_sources: FastMap<(String, String), Vec<&Node>> = FastMap::default();
    for (kind, root) in found {
        variable_sources
            .entry((kind.to_string(), name_of(root).to_string()))
            .or_default()
            .push(root);
    }
    variable_sources
}

/// What the build decides before building any root: the kustomizations, Flux's
/// deployments and the roots to build, with the issues found on the way.
struct Plan {
    files_by_path: FastMap<PathBuf, FileId>,
    syntax_files: FastSet<FileId>,
    kustomizations: Kustomizations,
    /// Per kustomization, the kustomizations it includes ([`included_kustomizations`]).
    inclusions: BTreeMap<PathBuf, Vec<PathBuf>>,
    record_transformations: bool,
    output: KustomizeOutput,
    jobs: Vec<RootJob>,
}

fn plan(loaded: &Loaded) -> Plan {
    let none_moved = Moved::default();
    // Paths normalized on every core, then indexed in order (a later duplicate wins, as
    // inserting one by one did).
    let normalized: Vec<PathBuf> = loaded
        .sources
        .files
        .par_iter()
        .map(|file| normalize(&file.path))
        .collect();
    let mut files_by_path = FastMap::with_capacity_and_hasher(normalized.len(), Default::default());
    for (index, path) in normalized.into_iter().enumerate() {
        files_by_path.insert(path, FileId::new(index));
    }
    let syntax_files: FastSet<FileId> = loaded
        .issues
        .iter()
        .filter(|i| i.kind == IssueKind::Syntax)
        .map(|i| i.location.file)
        .collect();
    let (documents, variable_sources) =
        rayon::join(|| document_index(loaded), || variable_sources(loaded));
    let mut kustomizations: Kustomizations = BTreeMap::new();
    let mut duplicates = Vec::new();
    for document in &loaded.documents {
        let Some(source) = loaded.sources.get(document.file) else {
            continue;
        };
        // The index first: it rules out every later document of a file without a path read.
        if document.index == 0 && is_kustomization_file(&source.path) {
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
        moved: &none_moved,
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
        moved: &none_moved,
    };
    let children = included_kustomizations(&kustomizations);
    let mut roots = roots_of(&children, |dir| builder.is_component(dir));
    for dir in flux.keys() {
        if !roots.contains(dir) {
            roots.push(dir.clone());
        }
    }
    // Kustomizations that only include each other have no root: build the first of
    // each such group as one, so the cycle is reported instead of silently ignored.
    // A Component nothing lists is not a root next to other roots (see below).
    let included = |dir: &Path| children.get(dir).cloned().unwrap_or_default();
    let reachable = reachable_in(&roots, included);
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
        covered.extend(reachable_in(std::slice::from_ref(orphan), included));
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
        let mut covered = FastSet::default();
        for component in unused {
            if covered.insert(component.clone()) {
                covered.extend(reachable_in(std::slice::from_ref(&component), included));
                roots.push(component);
            }
        }
    } else {
        for component in &unused {
            builder.consume_unused_component(component);
        }
    }
    let jobs = root_jobs(roots, &flux);
    let output = builder.output;
    Plan {
        files_by_path,
        syntax_files,
        kustomizations,
        inclusions: children,
        record_transformations,
        output,
        jobs,
    }
}

/// Builds the roots of `plan`, taking the trees `moved` holds instead of sharing them.
fn run(loaded: &Loaded, plan: Plan, moved: &Moved) -> KustomizeOutput {
    let (documents, variable_sources) =
        rayon::join(|| document_index(loaded), || variable_sources(loaded));
    let jobs = plan.jobs;
    let mut builder = Builder {
        loaded,
        files_by_path: &plan.files_by_path,
        syntax_files: &plan.syntax_files,
        documents: &documents,
        kustomizations: &plan.kustomizations,
        output: plan.output,
        budget: budget::Budget::default(),
        variable_sources: &variable_sources,
        plugin_name: None,
        record_transformations: plan.record_transformations,
        vars: Vec::new(),
        moved,
    };
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
                moved: shared.moved,
            };
            let root = &job.dir;
            let mut stack = vec![root.clone()];
            let mut objects = root_builder.build_dir(root, &mut stack);
            if let Some(deploy) = job.flux.first() {
                root_builder.apply_flux(root, deploy, &mut objects);
            }
            objects.iter_mut().for_each(Built::settle);
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
                view.objects.iter().map(|b| (b.file, b.document)),
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
    let mut seen = FastSet::default();
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
        resolve(dir, reference)
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

    /// Kustomization directories included, directly or not, by `from`.
    fn reachable(&self, from: &[PathBuf]) -> FastSet<PathBuf> {
        reachable_in(from, |dir| match self.kustomizations.get(dir) {
            Some((_, spec)) => {
                included_in(|target| self.kustomizations.contains_key(target), dir, spec)
            }
            None => Vec::new(),
        })
    }

    fn issue(&mut self, kind: IssueKind, file: FileId, span: Span, message: String) {
        self.output.issues.push(LoadIssue {
            kind,
            location: Location { file, span },
            message,
            related: Vec::new(),
        });
    }
}

/// A path a kustomization at `dir` names, as a normalized path.
fn resolve(dir: &Path, reference: &str) -> PathBuf {
    normalize(&dir.join(reference))
}

/// The kustomizations the inclusions of `spec` (at `dir`) name, in order (`dir` itself too,
/// when it names itself).
fn included_in(
    is_kustomization: impl Fn(&Path) -> bool,
    dir: &Path,
    spec: &Kustomization,
) -> Vec<PathBuf> {
    spec.inclusions()
        .map(|entry| resolve(dir, &entry.value))
        .filter(|target| is_kustomization(target))
        .collect()
}

/// For each kustomization, the kustomizations it includes ([`included_in`]): every inclusion
/// resolved once, on every core, instead of once per question the plan asks.
/// Membership is asked of a hash set of the directories: a search of the sorted map
/// compares paths component by component, for each of a hundred thousand entries.
fn included_kustomizations(kustomizations: &Kustomizations) -> BTreeMap<PathBuf, Vec<PathBuf>> {
    let dirs: Vec<(&PathBuf, &Kustomization)> = kustomizations
        .iter()
        .map(|(dir, (_, spec))| (dir, spec))
        .collect();
    let known: FastSet<&Path> = kustomizations.keys().map(PathBuf::as_path).collect();
    dirs.par_iter()
        .map(|(dir, spec)| {
            let included = included_in(|target| known.contains(target), dir, spec);
            (dir.to_path_buf(), included)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect()
}

/// Kustomizations no other kustomization includes, except Components (built only inside a
/// kustomization that lists them, unless they are all there is).
fn roots_of(
    children: &BTreeMap<PathBuf, Vec<PathBuf>>,
    is_component: impl Fn(&Path) -> bool,
) -> Vec<PathBuf> {
    let referenced: FastSet<&Path> = children
        .iter()
        .flat_map(|(dir, included)| {
            included
                .iter()
                .map(PathBuf::as_path)
                .filter(move |target| *target != dir.as_path())
        })
        .collect();
    children
        .keys()
        .filter(|dir| !referenced.contains(dir.as_path()) && !is_component(dir))
        .cloned()
        .collect()
}

/// The kustomizations `from` include, directly or not (`included` gives a directory's own),
/// and `from` themselves.
fn reachable_in(from: &[PathBuf], included: impl Fn(&Path) -> Vec<PathBuf>) -> FastSet<PathBuf> {
    let mut seen: FastSet<PathBuf> = FastSet::default();
    let mut stack: Vec<PathBuf> = from.to_vec();
    while let Some(dir) = stack.pop() {
        if !seen.insert(dir.clone()) {
            continue;
        }
        stack.extend(included(&dir));
    }
    seen
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
