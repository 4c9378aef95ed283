//! Model stage: typed Kubernetes objects built from parsed documents.
//!
//! Each [`Object`] keeps the YAML node it came from, so every field's span can
//! be looked up by path, next to the k8s-openapi value used for its meaning.

pub mod crd;
pub mod de;
mod direct;
pub mod environments;
pub mod specs;
pub mod validation;

pub use crate::kinds::{CLUSTER_SCOPED_KINDS, WorkloadKind, list_item};
use std::collections::BTreeMap;

use ecow::EcoString;
use k8s_openapi::api::core::v1::{NamespaceSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;

use crate::load::yaml::{Node, NodeKind};
use crate::load::{IssueKind, LoadIssue, LoadStats, Loaded, manifest_kind as object_kind};
use crate::span::{FileId, Location, Span};
use de::Mode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(pub usize);

/// What the analysis reads of a workload's pod template. A template of common fields of
/// the right types is read straight from the tree ([`direct::pod_template`]); any other
/// is decoded whole (so schema errors are reported as for any field) and then dropped: a
/// `PodTemplateSpec` costs kilobytes per workload, this a few dozen bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    pub kind: WorkloadKind,
    /// The pod template's labels (a Pod's own labels).
    pub pod_labels: specs::LabelMap,
    /// `spec.hostNetwork: true`.
    pub host_network: bool,
    /// The container ports that have a name, in document order: a boxed slice of exactly
    /// their number (collected into a `Vec`, one port took room for four).
    pub named_ports: Box<[NamedPort]>,
}

/// A named `containers[].ports[]` entry, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPort {
    pub name: String,
    /// `protocol`, when written.
    pub protocol: Option<String>,
    pub container_port: i32,
}

impl Workload {
    fn of(kind: WorkloadKind, template: PodTemplateSpec) -> Workload {
        let PodTemplateSpec { metadata, spec } = template;
        let pod_labels = metadata
            .and_then(|m| m.labels)
            .into_iter()
            .flatten()
            .collect();
        let host_network = spec.as_ref().is_some_and(|s| s.host_network == Some(true));
        let named_ports: Vec<NamedPort> = spec
            .into_iter()
            .flat_map(|s| s.containers)
            .flat_map(|c| c.ports.unwrap_or_default())
            .filter_map(|p| {
                Some(NamedPort {
                    name: p.name?,
                    protocol: p.protocol,
                    container_port: p.container_port,
                })
            })
            .collect();
        Workload {
            kind,
            pod_labels,
            host_network,
            named_ports: named_ports.into_boxed_slice(),
        }
    }

    /// A workload from its template read directly (see [`direct::pod_template`]).
    fn from_parts(kind: WorkloadKind, parts: direct::TemplateParts) -> Workload {
        Workload {
            kind,
            pod_labels: parts.labels,
            host_network: parts.host_network,
            named_ports: parts.named_ports.into_boxed_slice(),
        }
    }

    pub fn pod_labels(&self) -> &specs::LabelMap {
        &self.pod_labels
    }
}

#[derive(Debug, Clone)]
pub enum Typed {
    Namespace(Option<NamespaceSpec>),
    Workload(Box<Workload>),
    Service(Box<specs::ServiceSpec>),
    NetworkPolicy(Box<specs::PolicySpec>),
    Ingress(Box<specs::IngressSpec>),
    Certificate(Box<crd::CertificateSpec>),
    Issuer(Box<crd::IssuerSpec>),
    Gateway(Box<crd::GatewaySpec>),
    HttpRoute(Box<crd::HttpRouteSpec>),
    /// A Kubernetes object no rule models in depth (ConfigMap, Role, CRDs, ...).
    Other,
}

/// The kustomization roots rendering an object (most objects: none or one).
pub type Contexts = smallvec::SmallVec<[std::sync::Arc<str>; 1]>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamespaceSource {
    Explicit,
    Kustomization,
    Default,
    ClusterScoped,
}

#[derive(Debug, Clone)]
pub struct Object {
    pub id: ObjectId,
    pub file: FileId,
    /// Document index in the file, and item index when the object came from a `List`.
    pub document: usize,
    pub item: Option<usize>,
    /// The object's YAML mapping: every span of every field is found from here.
    pub node: Node,
    /// The identity as `EcoString`s: most fit its 15 inline bytes, and a longer one is the
    /// tree's own scalar, shared rather than copied (the parser shares repeated long texts).
    pub api_version: EcoString,
    pub kind: EcoString,
    pub name: EcoString,
    pub namespace: EcoString,
    pub namespace_source: NamespaceSource,
    /// Whether `metadata` decoded as `ObjectMeta` (a schema error there is reported, and
    /// the object then reads as having no labels or annotations, as before).
    metadata_valid: bool,
    pub typed: Typed,
    /// Kustomization roots that render this object (`overlays/prod`); empty for plain files.
    /// One root's name is shared by all its objects, and one root is held inline.
    pub contexts: Contexts,
}

impl Object {
    /// Where the value at `span` was written: the file of the node of the object's tree
    /// with that span (a kustomize patch or kustomization when one put it there), else the
    /// object's file. Rules that kept only a span still name the patch file this way.
    pub fn location(&self, span: Span) -> Location {
        Location {
            file: self.origin_of(span).unwrap_or(self.file),
            span,
        }
    }

    /// The origin of the first node (document order) whose span is `span`; iterative, so
    /// no tree depth can exhaust the stack.
    fn origin_of(&self, span: Span) -> Option<crate::span::FileId> {
        let mut stack: Vec<&Node> = vec![&self.node];
        while let Some(node) = stack.pop() {
            if node.span == span {
                return node.origin();
            }
            match &node.kind {
                crate::load::yaml::NodeKind::Map(entries, _) => {
                    for (key, value) in entries.iter().rev() {
                        stack.push(value);
                        stack.push(key);
                    }
                }
                crate::load::yaml::NodeKind::Seq(items, _) => stack.extend(items.iter().rev()),
                crate::load::yaml::NodeKind::Scalar { .. } => {}
            }
        }
        None
    }

    /// Where `node` was written: the object's file, or the patch or kustomization
    /// that put it there.
    pub fn location_of(&self, node: &Node) -> Location {
        Location {
            file: node.origin().unwrap_or(self.file),
            span: node.span,
        }
    }

    /// Span of the node at `path`, or of the deepest existing ancestor.
    pub fn span_at(&self, path: &[&str]) -> Span {
        let mut node = &self.node;
        for key in path {
            match node.get(key) {
                Some(next) => node = next,
                None => break,
            }
        }
        node.span
    }

    pub fn kind_span(&self) -> Span {
        self.node
            .get("kind")
            .map(|n| n.span)
            .unwrap_or(self.node.span)
    }

    /// Span of `metadata.name`, the natural place to point at the object as a whole.
    pub fn name_span(&self) -> Span {
        self.node
            .path(&["metadata", "name"])
            .map(|n| n.span)
            .unwrap_or_else(|| self.kind_span())
    }

    /// `Kind/namespace/name`: identifies the object across runs, independent of file layout.
    pub fn identity(&self) -> String {
        let mut identity = String::new();
        self.write_identity(&mut identity);
        identity
    }

    /// [`Object::identity`] written into `out` (cleared first), so a pass over every
    /// object can reuse one buffer.
    pub fn write_identity(&self, out: &mut String) {
        out.clear();
        out.reserve(self.kind.len() + self.namespace.len() + self.name.len() + 2);
        out.push_str(&self.kind);
        out.push('/');
        if !self.namespace.is_empty() {
            out.push_str(&self.namespace);
            out.push('/');
        }
        out.push_str(&self.name);
    }

    /// Whether [`Object::identity`] is `identity`, compared piece by piece (nothing written).
    pub fn has_identity(&self, identity: &str) -> bool {
        let Some(rest) = identity
            .strip_prefix(self.kind.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            return false;
        };
        let rest = if self.namespace.is_empty() {
            Some(rest)
        } else {
            rest.strip_prefix(self.namespace.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
        };
        rest == Some(self.name.as_str())
    }

    /// `metadata.labels`, each value read as text (see `annotation-not-string`); empty
    /// when the object's metadata is not valid. Read from the tree on each call: only a
    /// few kinds' labels are ever asked for, so no object carries a copy.
    pub fn labels(&self) -> BTreeMap<String, String> {
        self.lenient_map("labels")
            .map(|(key, value)| (key.to_string(), de::lenient_text(value)))
            .collect()
    }

    /// The annotation `key`, read as text, as [`Object::labels`] reads labels.
    pub fn annotation(&self, key: &str) -> Option<String> {
        self.lenient_map("annotations")
            .filter(|(k, _)| *k == key)
            .last()
            .map(|(_, value)| de::lenient_text(value))
    }

    /// The entries of `metadata.<field>` in document order (a repeated key's last one wins
    /// when collected), none when the metadata did not decode.
    fn lenient_map(&self, field: &str) -> impl Iterator<Item = (&str, &Node)> {
        let node = self
            .metadata_valid
            .then(|| self.node.path(&["metadata", field]))
            .flatten();
        map_entries(node).map(|(key, _, value)| (key, value))
    }

    pub fn workload(&self) -> Option<&Workload> {
        match &self.typed {
            Typed::Workload(w) => Some(w),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelOptions {
    pub default_namespace: String,
    /// Build kustomization roots natively (overlays, patches, labels) instead of plain files.
    pub kustomize: bool,
    /// Which objects get their typed form.
    pub typing: Typing,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            default_namespace: "default".to_string(),
            kustomize: true,
            typing: Typing::Everything,
        }
    }
}

/// Which objects [`Model::build`] types (decodes their spec, looks for schema errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Typing {
    /// Every kind the model knows: what the rules read.
    #[default]
    Everything,
    /// Only what the reachability graph reads (Namespaces, workloads, NetworkPolicies):
    /// every other object is [`Typed::Other`], its metadata and spec not decoded and its
    /// schema problems not looked for. For the commands that read the graph alone.
    Reachability,
}

impl Typing {
    fn types(self, kind: &str) -> bool {
        self == Typing::Everything
            || matches!(kind, "Namespace" | "NetworkPolicy")
            || WorkloadKind::from_kind(kind).is_some()
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ModelStats {
    pub objects: usize,
    /// Documents that are not Kubernetes objects (values files, workflows, kustomizations, empty documents).
    pub documents_skipped: usize,
}

#[derive(Debug, Default)]
pub struct Model {
    pub objects: Vec<Object>,
    /// Problems met while loading and typing the input; the `parse-error` family of rules reports them.
    pub issues: Vec<LoadIssue>,
    pub load_stats: LoadStats,
    pub stats: ModelStats,
    /// Hash of (kind, namespace, name) → objects, so rules resolve references without
    /// scanning; lookups compare the names, so a collision costs a comparison, not a
    /// wrong answer. No object's names are copied for it.
    by_name: crate::hashing::FastMap<u64, smallvec::SmallVec<[ObjectId; 1]>>,
    /// The kustomization roots built, named as in `Object::contexts`.
    pub roots: Vec<environments::Root>,
    /// Files lying in a Flux `clusters/<env>/` directory, with `<env>`: objects there are
    /// that cluster's, so the same identity under two such directories is no duplicate.
    pub flux_clusters: crate::hashing::FastMap<FileId, String>,
}

/// An object found in the input, waiting to be typed.
struct Pending {
    node: Node,
    file: FileId,
    document: usize,
    item: Option<usize>,
    /// The namespace of an object that names none: its kustomization's, or (when none)
    /// the default one, which is not copied per object.
    namespace_fallback: Option<std::sync::Arc<str>>,
    contexts: Contexts,
}

impl Model {
    /// The input problems and counts of a load, with no object typed (parse-only runs).
    pub fn from_load(loaded: Loaded) -> Model {
        Model {
            issues: loaded.issues,
            load_stats: loaded.stats,
            ..Model::default()
        }
    }

    pub fn build(mut loaded: Loaded, options: &ModelOptions) -> Model {
        let kustomized = if options.kustomize {
            // Trees only one build reads move into it (edited in place, not copied).
            crate::kustomize::build_moving(&mut loaded)
        } else {
            crate::kustomize::KustomizeOutput::default()
        };
        let flux_clusters = loaded
            .sources
            .files
            .iter()
            .enumerate()
            .filter_map(|(index, file)| {
                environments::cluster_of(&file.display)
                    .map(|env| (FileId::new(index), env.to_string()))
            })
            .collect();
        let mut model = Model {
            issues: loaded.issues,
            load_stats: loaded.stats,
            flux_clusters,
            ..Model::default()
        };
        model.issues.extend(kustomized.issues);
        model.roots = kustomized
            .views
            .iter()
            .map(environments::Root::of)
            .collect();
        // The kustomize views hold their own copies: free the consumed originals before
        // typing the views, so both never peak together.
        let mut plain_documents = loaded.documents;
        plain_documents.retain(|document| {
            let consumed = kustomized.consumed.contains(&document.file);
            // What the loader noted: the tree (unedited here) is not fetched again.
            if consumed && !document.written.is_manifest() {
                model.stats.documents_skipped += 1;
            }
            !consumed
        });
        // The same source object rendered identically by several roots is one object
        // deployed once; rendered differently, it is one object per rendering.
        // Sized once: growing by doubling would copy the list and touch fresh pages twice.
        let renderings: usize = kustomized.views.iter().map(|v| v.objects.len()).sum();
        let mut pending: Vec<Pending> =
            Vec::with_capacity(renderings.saturating_add(plain_documents.len()));
        // Most sources are rendered once: only those of a file rendered more than once
        // are compared (and indexed) at all.
        let rendered_again = sources_rendered_again(&kustomized.views, loaded.sources.files.len());
        let again = |built: &crate::kustomize::Built| {
            rendered_again
                .get(built.file.index())
                .copied()
                .unwrap_or(true)
        };
        // The identities are hashed on every core first: reading three names of each of
        // hundreds of thousands of trees is most of this loop, and the rest is in order.
        let hashes: Vec<Vec<u64>> = {
            use rayon::prelude::*;
            kustomized
                .views
                .par_iter()
                .map(|view| {
                    view.objects
                        .par_iter()
                        .filter(|built| again(built))
                        .map(|built| identity_hash(&built.node))
                        .collect()
                })
                .collect()
        };
        // Renderings are bucketed by their source and a hash of their identity too, so
        // many renderings of one source (a fan-out of prefixes) are not compared with each
        // other: linear, not quadratic. The identity is compared, not copied, per object.
        // Sized for the renderings compared, not all of them: fresh pages cost time here.
        type RenderKey = (FileId, usize, Option<usize>, u64);
        let compared = hashes.iter().map(Vec::len).sum();
        let mut rendered: crate::hashing::FastMap<RenderKey, smallvec::SmallVec<[usize; 1]>> =
            crate::hashing::FastMap::with_capacity_and_hasher(compared, Default::default());
        for (view, hashes) in kustomized.views.into_iter().zip(hashes) {
            let root: std::sync::Arc<str> = view.root.as_str().into();
            let mut hashes = hashes.into_iter();
            for built in view.objects {
                if again(&built) {
                    let Some(hash) = hashes.next() else {
                        continue;
                    };
                    let key = (built.file, built.document, built.item, hash);
                    let same = rendered.get(&key).and_then(|indexes| {
                        indexes.iter().copied().find(|&i| {
                            same_identity(&pending[i].node, &built.node)
                                && pending[i].node.same_value(&built.node)
                        })
                    });
                    if let Some(index) = same {
                        if !pending[index].contexts.contains(&root) {
                            pending[index].contexts.push(root.clone());
                        }
                        continue;
                    }
                    rendered.entry(key).or_default().push(pending.len());
                }
                pending.push(Pending {
                    node: built.node,
                    file: built.file,
                    document: built.document,
                    item: built.item,
                    namespace_fallback: None,
                    contexts: smallvec::smallvec![root.clone()],
                });
            }
        }
        drop(rendered);
        for document in plain_documents {
            let namespace_fallback = document.kustomize_namespace.clone();
            let root = document.root;
            let Some(kind) = object_kind(&root) else {
                model.stats.documents_skipped += 1;
                continue;
            };
            let is_list =
                kind.ends_with("List") && root.get("items").is_some_and(|i| i.as_seq().is_some());
            if is_list {
                let items = root.get("items").and_then(Node::as_seq).unwrap_or(&[]);
                for (item_index, item) in items.iter().enumerate() {
                    let item = list_item(&root, item);
                    if object_kind(&item).is_none() {
                        model.stats.documents_skipped += 1;
                        continue;
                    }
                    pending.push(Pending {
                        node: item,
                        file: document.file,
                        document: document.index,
                        item: Some(item_index),
                        namespace_fallback: namespace_fallback.clone(),
                        contexts: Contexts::new(),
                    });
                }
            } else {
                pending.push(Pending {
                    node: root,
                    file: document.file,
                    document: document.index,
                    item: None,
                    namespace_fallback,
                    contexts: Contexts::new(),
                });
            }
        }
        // Typing (YAML → k8s-openapi) is independent per object: spread it over the cores,
        // keeping the order so ids and findings stay deterministic.
        use rayon::prelude::*;
        // Objects are collected straight into their final vector (no second copy of it).
        let default_namespace = options.default_namespace.as_str();
        let (objects, issues): (Vec<Object>, Vec<Vec<LoadIssue>>) = pending
            .into_par_iter()
            .enumerate()
            .map(|(index, pending)| {
                Model::type_object(ObjectId(index), pending, default_namespace, options.typing)
            })
            .unzip();
        model.objects = objects;
        model.issues.extend(issues.into_iter().flatten());
        model.stats.objects = model.objects.len();
        model.index_names();
        model
    }

    fn index_names(&mut self) {
        self.by_name.clear();
        self.by_name.reserve(self.objects.len());
        // The keys are hashed on every core; only the inserts are in order.
        use rayon::prelude::*;
        let keys: Vec<u64> = self
            .objects
            .par_iter()
            .map(|object| name_key(&object.kind, &object.namespace, &object.name))
            .collect();
        for (object, key) in self.objects.iter().zip(keys) {
            self.by_name.entry(key).or_default().push(object.id);
        }
    }

    /// The objects that share kind, namespace and name with another: a group per name,
    /// each in model order, the groups in no particular order. Read from the name index,
    /// where nearly every object has an entry of its own and is never looked at.
    pub fn objects_named_alike(&self) -> impl Iterator<Item = Vec<&Object>> {
        fn names(object: &Object) -> (&str, &str, &str) {
            (&object.kind, &object.namespace, &object.name)
        }
        self.by_name
            .values()
            .filter(|ids| ids.len() > 1)
            .flat_map(|ids| {
                let mut objects: Vec<&Object> =
                    ids.iter().filter_map(|id| self.objects.get(id.0)).collect();
                // An entry may also hold names that only hash alike: runs of equal names,
                // each kept in model order by the stable sort.
                objects.sort_by(|a, b| names(a).cmp(&names(b)));
                objects
                    .chunk_by(|a, b| names(a) == names(b))
                    .filter(|run| run.len() > 1)
                    .map(<[&Object]>::to_vec)
                    .collect::<Vec<_>>()
            })
    }

    /// The objects of `kind` named `name` in `namespace` ("" for cluster-scoped kinds).
    pub fn named<'a>(
        &'a self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> impl Iterator<Item = &'a Object> {
        self.by_name
            .get(&name_key(kind, namespace, name))
            .into_iter()
            .flatten()
            .filter_map(|id| self.objects.get(id.0))
            .filter(move |o| o.kind == kind && o.namespace == namespace && o.name == name)
    }

    fn type_object(
        id: ObjectId,
        pending: Pending,
        default_namespace: &str,
        typing: Typing,
    ) -> (Object, Vec<LoadIssue>) {
        let Pending {
            node,
            file,
            document,
            item,
            namespace_fallback,
            contexts,
        } = pending;
        let shared = |node: Option<&Node>| node.and_then(Node::scalar_string).cloned();
        let api_version = shared(node.get("apiVersion")).unwrap_or_default();
        let kind = shared(node.get("kind")).unwrap_or_default();
        let meta_node = node.get("metadata");
        let name = shared(meta_node.and_then(|m| m.get("name")))
            .or_else(|| shared(meta_node.and_then(|m| m.get("generateName"))))
            .unwrap_or_default();
        let explicit_namespace =
            shared(meta_node.and_then(|m| m.get("namespace"))).filter(|ns| !ns.is_empty());
        let (namespace, namespace_source) = if CLUSTER_SCOPED_KINDS.contains(&kind.as_str()) {
            (EcoString::new(), NamespaceSource::ClusterScoped)
        } else if let Some(ns) = explicit_namespace {
            (ns, NamespaceSource::Explicit)
        } else {
            match namespace_fallback {
                Some(ns) => (EcoString::from(&*ns), NamespaceSource::Kustomization),
                None => (default_namespace.into(), NamespaceSource::Default),
            }
        };

        let mut schema_errors = Vec::new();
        let typed_here = typing.types(&kind);
        // Decoded for its schema errors (what is read of it is read from the tree), and
        // for a Pod, whose metadata is its template's: plainly well-formed metadata has
        // no schema error to find.
        let pod = WorkloadKind::from_kind(&kind).is_some_and(|k| k.template_path().is_empty());
        let (meta, metadata_valid): (Option<ObjectMeta>, bool) =
            match value_at(&node, &["metadata"]) {
                Some(_) if !typed_here => (None, true),
                Some(meta_node) if pod || !direct::plain_metadata(meta_node) => {
                    let meta = decode(meta_node, Mode::Metadata, &["metadata"], &mut schema_errors);
                    let valid = meta.is_some();
                    (meta, valid)
                }
                Some(_) => (None, true),
                None => (Some(ObjectMeta::default()), true),
            };

        let spec_node = value_at(&node, &["spec"]);
        let typed = match (kind.as_str(), WorkloadKind::from_kind(&kind)) {
            _ if !typed_here => Typed::Other,
            (_, Some(workload_kind)) => {
                let path = workload_kind.template_path();
                let template_node = path.iter().try_fold(&node, |n, key| n.get(key));
                let workload = if path.is_empty() {
                    let template = PodTemplateSpec {
                        metadata: meta,
                        spec: spec_node.and_then(|spec| {
                            decode(spec, Mode::Plain, &["spec"], &mut schema_errors)
                        }),
                    };
                    Workload::of(workload_kind, template)
                } else if let Some(parts) = template_node.and_then(direct::pod_template) {
                    Workload::from_parts(workload_kind, parts)
                } else {
                    drop(meta);
                    let template = template_node
                        .and_then(|t| decode(t, Mode::Template, path, &mut schema_errors));
                    Workload::of(workload_kind, template.unwrap_or_default())
                };
                Typed::Workload(Box::new(workload))
            }
            ("Namespace", None) => Typed::Namespace(
                spec_node.and_then(|spec| decode(spec, Mode::Plain, &["spec"], &mut schema_errors)),
            ),
            ("Service", None) => {
                let spec: k8s_openapi::api::core::v1::ServiceSpec =
                    spec_or_default(spec_node, &mut schema_errors);
                Typed::Service(Box::new(spec.into()))
            }
            ("NetworkPolicy", None) => {
                // Read straight from the tree when plainly well-formed; decoded otherwise,
                // which reports the schema error if there is one.
                let spec = spec_node.and_then(direct::policy_spec).unwrap_or_else(|| {
                    let spec: k8s_openapi::api::networking::v1::NetworkPolicySpec =
                        spec_or_default(spec_node, &mut schema_errors);
                    spec.into()
                });
                Typed::NetworkPolicy(Box::new(spec))
            }
            ("Ingress", None) => {
                let spec = spec_node.and_then(direct::ingress_spec).unwrap_or_else(|| {
                    let spec: k8s_openapi::api::networking::v1::IngressSpec =
                        spec_or_default(spec_node, &mut schema_errors);
                    spec.into()
                });
                Typed::Ingress(Box::new(spec))
            }
            ("Certificate", None) if api_version.starts_with("cert-manager.io/") => {
                Typed::Certificate(Box::new(spec_or_default(spec_node, &mut schema_errors)))
            }
            ("Issuer" | "ClusterIssuer", None) if api_version.starts_with("cert-manager.io/") => {
                Typed::Issuer(Box::new(spec_or_default(spec_node, &mut schema_errors)))
            }
            ("Gateway", None) if api_version.starts_with("gateway.networking.k8s.io/") => {
                Typed::Gateway(Box::new(spec_or_default(spec_node, &mut schema_errors)))
            }
            ("HTTPRoute", None) if api_version.starts_with("gateway.networking.k8s.io/") => {
                Typed::HttpRoute(Box::new(spec_or_default(spec_node, &mut schema_errors)))
            }
            _ => Typed::Other,
        };
        let issues = schema_errors
            .into_iter()
            .map(|(span, message)| LoadIssue {
                kind: IssueKind::Schema,
                location: Location { file, span },
                message: format!("{kind} `{name}`: {message}"),
                related: Vec::new(),
            })
            .collect();
        let object = Object {
            id,
            file,
            document,
            item,
            node,
            api_version,
            kind,
            name,
            namespace,
            namespace_source,
            metadata_valid,
            typed,
            contexts,
        };
        (object, issues)
    }

    /// A model of some objects only (one environment), with the same issues.
    pub fn subset(&self, ids: &[ObjectId]) -> Model {
        let objects: Vec<Object> = ids
            .iter()
            .enumerate()
            .filter_map(|(index, id)| {
                self.objects.get(id.0).map(|object| Object {
                    id: ObjectId(index),
                    ..object.clone()
                })
            })
            .collect();
        let mut subset = Model {
            stats: ModelStats {
                objects: objects.len(),
                documents_skipped: self.stats.documents_skipped,
            },
            objects,
            issues: self.issues.clone(),
            load_stats: self.load_stats,
            by_name: Default::default(),
            roots: self.roots.clone(),
            flux_clusters: self.flux_clusters.clone(),
        };
        subset.index_names();
        subset
    }

    pub fn object(&self, id: ObjectId) -> &Object {
        &self.objects[id.0]
    }

    pub fn workloads(&self) -> impl Iterator<Item = (&Object, &Workload)> {
        self.objects
            .iter()
            .filter_map(|o| o.workload().map(|w| (o, w)))
    }
}

/// The node at `path` unless it is missing or null (a null field is an absent one).
fn value_at<'a>(node: &'a Node, path: &[&str]) -> Option<&'a Node> {
    node.path(path).filter(|n| !n.is_null())
}

/// Per file (by index), whether the kustomize views render some object of it more than
/// once. A file all of whose renderings come from one view, in strictly increasing
/// (document, item) order, renders each of its objects exactly once; any other pattern
/// (a second view, or an order that repeats or goes back) counts as rendered again,
/// which only costs the comparison it would have had anyway.
fn sources_rendered_again(views: &[crate::kustomize::View], files: usize) -> Vec<bool> {
    let mut last: Vec<Option<(usize, usize, Option<usize>)>> = vec![None; files];
    let mut again = vec![false; files];
    for (v, view) in views.iter().enumerate() {
        for built in &view.objects {
            let index = built.file.index();
            let (Some(seen), Some(flag)) = (last.get_mut(index), again.get_mut(index)) else {
                continue;
            };
            let key = (v, built.document, built.item);
            match seen {
                Some(previous) if previous.0 != v || *previous >= key => *flag = true,
                _ => {}
            }
            *seen = Some(key);
        }
    }
    again
}

/// A hash of an object's kind, namespace and name as written (the rendering dedup key).
fn identity_hash(node: &Node) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    for path in IDENTITY {
        node.path(path)
            .and_then(Node::scalar_text)
            .unwrap_or_default()
            .hash(&mut hasher);
    }
    hasher.finish()
}

/// Whether two objects have the same kind, namespace and name as written.
fn same_identity(a: &Node, b: &Node) -> bool {
    fn text<'n>(node: &'n Node, path: &[&str]) -> &'n str {
        node.path(path)
            .and_then(Node::scalar_text)
            .unwrap_or_default()
    }
    IDENTITY.iter().all(|path| text(a, path) == text(b, path))
}

const IDENTITY: [&[&str]; 3] = [&["kind"], &["metadata", "namespace"], &["metadata", "name"]];

/// The key of `Model::by_name`: a fixed hash (the same in every run) of the three names.
fn name_key(kind: &str, namespace: &str, name: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    (kind, namespace, name).hash(&mut hasher);
    hasher.finish()
}

fn spec_or_default<T: DeserializeOwned + Default>(
    spec: Option<&Node>,
    errors: &mut Vec<(Span, String)>,
) -> T {
    spec.and_then(|spec| decode(spec, Mode::Plain, &["spec"], errors))
        .unwrap_or_default()
}

/// Decodes `node` (the node at `base` in `root`) into `T`; on failure records the
/// error at the span of the offending field. The first attempt tracks no path (objects
/// almost always decode); a failing one is decoded again through `serde_path_to_error`,
/// which fails the same way and says where.
fn decode<T: DeserializeOwned>(
    node: &Node,
    mode: Mode,
    base: &[&str],
    errors: &mut Vec<(Span, String)>,
) -> Option<T> {
    if let Ok(value) = de::from_node(node, mode) {
        return Some(value);
    }
    match serde_path_to_error::deserialize::<_, T>(de::NodeDeserializer::new(node, mode)) {
        Ok(value) => Some(value),
        Err(error) => {
            let mut node = node;
            let mut path = base.join(".");
            for segment in error.path().iter() {
                let next = match segment {
                    serde_path_to_error::Segment::Map { key } => {
                        path.push('.');
                        path.push_str(key);
                        node.get(key)
                    }
                    serde_path_to_error::Segment::Seq { index } => {
                        path.push_str(&format!("[{index}]"));
                        node.as_seq().and_then(|items| items.get(*index))
                    }
                    _ => None,
                };
                match next {
                    Some(n) => node = n,
                    None => break,
                }
            }
            errors.push((node.span, format!("invalid `{path}`: {}", error.inner())));
            None
        }
    }
}

/// Iterates the entries of a mapping node as (key text, key node, value node).
pub fn map_entries(node: Option<&Node>) -> impl Iterator<Item = (&str, &Node, &Node)> {
    node.and_then(|n| match &n.kind {
        NodeKind::Map(entries, _) => Some(entries.as_slice()),
        _ => None,
    })
    .unwrap_or(&[])
    .iter()
    .filter_map(|(k, v)| k.scalar_text().map(|text| (text, k, v)))
}

#[cfg(test)]
mod tests {
    use super::{Model, ModelOptions};
    use crate::load::{Input, WalkOptions};

    /// Only a file rendered by a second view, or twice (or out of order) in one view, is
    /// marked for comparison; a file rendered once per object, in order, is not.
    #[test]
    fn a_source_is_compared_only_when_rendered_again() {
        use crate::kustomize::{Built, View};
        use crate::load::yaml::Node;
        use crate::span::FileId;
        let built = |file: usize, document: usize, item: Option<usize>| Built {
            file: FileId::new(file),
            document,
            item,
            node: Node::synthetic_str("", Default::default(), None),
            previous: Vec::new(),
            provenance: None,
            var_names: Vec::new(),
            affixes: None,
            read_as: None,
        };
        let view = |objects: Vec<Built>| View {
            root: String::new(),
            dir: Default::default(),
            deployed_by: Vec::new(),
            objects,
        };
        let views = [
            view(vec![
                built(0, 0, None),
                built(0, 1, None),
                built(1, 0, Some(0)),
                built(1, 0, Some(1)),
                built(2, 0, None),
                built(3, 1, None),
                built(3, 0, None),
                built(4, 0, None),
                built(4, 0, None),
            ]),
            view(vec![built(2, 0, None), built(5, 0, None)]),
        ];
        assert_eq!(
            super::sources_rendered_again(&views, 6),
            [false, false, true, true, true, false]
        );
        // A file past the count is left out, not a panic.
        assert_eq!(
            super::sources_rendered_again(&[view(vec![built(9, 0, None)])], 2),
            [false, false]
        );
    }

    /// `has_identity` answers as comparing with `identity()` would, namespaced or not, and
    /// with names that contain the separator.
    #[test]
    fn has_identity_agrees_with_the_written_identity() {
        let model = model_of(
            "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n---\n\
             apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n\
             apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a/b, namespace: x}\n",
        );
        let candidates = [
            "Service/shop/web",
            "Service/web",
            "Service/shop/we",
            "Service/shop/web/",
            "Namespace/shop",
            "Namespace//shop",
            "ConfigMap/x/a/b",
            "ConfigMap/x/a",
            "ConfigMap/a/b",
            "",
        ];
        assert_eq!(model.objects.len(), 3);
        for object in &model.objects {
            for candidate in candidates {
                assert_eq!(
                    object.has_identity(candidate),
                    object.identity() == candidate,
                    "{} against {candidate:?}",
                    object.identity()
                );
            }
            assert!(object.has_identity(&object.identity()));
        }
    }

    fn model_of(yaml: &str) -> Model {
        model_typed(yaml, super::Typing::Everything)
    }

    fn model_typed(yaml: &str, typing: super::Typing) -> Model {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifests.yaml");
        std::fs::write(&path, yaml).unwrap();
        let loaded = crate::load::load(&[Input::Path(path)], &WalkOptions::default());
        let options = ModelOptions {
            typing,
            ..ModelOptions::default()
        };
        Model::build(loaded, &options)
    }

    /// Typing for the graph alone gives the graph's kinds the same typed form and schema
    /// problems as full typing, and leaves every other kind untyped, unchecked.
    #[test]
    fn reachability_typing_types_only_what_the_graph_reads() {
        let yaml = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {team: x}}\n\
             ---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: a}\nspec:\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: c, ports: [{name: http, containerPort: nope}]}]\n\
             ---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: a}\nspec: {podSelector: {matchLabels: {app: web}}, policyTypes: [Ingress]}\n\
             ---\napiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: a, generation: many}\nspec: {selector: {app: web}, ports: [{port: nope}]}\n\
             ---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: i, namespace: a}\nspec: {rules: [{host: x}]}\n";
        let everything = model_of(yaml);
        let graph_only = model_typed(yaml, super::Typing::Reachability);
        let shape = |model: &Model| -> Vec<(String, String)> {
            model
                .objects
                .iter()
                .map(|o| (o.name.to_string(), format!("{:?}", o.typed)))
                .collect()
        };
        let (all, graph) = (shape(&everything), shape(&graph_only));
        assert_eq!(all.len(), 5);
        for ((name, typed), (_, graph_typed)) in all.iter().zip(&graph) {
            match name.as_str() {
                "a" | "d" | "p" => assert_eq!(typed, graph_typed, "{name}"),
                _ => {
                    assert_ne!(typed, "Other", "{name} is typed in full");
                    assert_eq!(graph_typed, "Other", "{name}");
                }
            }
        }
        let messages = |model: &Model| -> Vec<String> {
            model.issues.iter().map(|i| i.message.clone()).collect()
        };
        let (all, graph) = (messages(&everything), messages(&graph_only));
        assert!(all.iter().any(|m| m.starts_with("Service `s`")), "{all:?}");
        assert!(
            all.iter().any(|m| m.starts_with("Deployment `d`")),
            "{all:?}"
        );
        let graph_kinds: Vec<&String> = all.iter().filter(|m| !m.starts_with("Service")).collect();
        assert_eq!(graph.iter().collect::<Vec<_>>(), graph_kinds);
    }

    /// What objects keep of their metadata and pod template is what was decoded: labels
    /// read as text, empty when the metadata has a schema error (which is reported), the
    /// named ports and hostNetwork of the pod template.
    #[test]
    fn objects_read_labels_and_workloads_keep_what_the_graph_uses() {
        let model = model_of(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n  labels: {team: x, n: 10, on: yes, z: ~, l: [1]}\n  annotations: {kubernetes.io/ingress.class: nginx, k: 1}\n\
             ---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n  labels: {team: y}\n  generation: many\n\
             ---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: a}\nspec:\n  template:\n    metadata: {labels: {app: web, v: 2}}\n    spec:\n      hostNetwork: true\n      containers:\n        - name: c\n          ports: [{name: http, containerPort: 8080}, {containerPort: 9090}, {name: dns, containerPort: 53, protocol: UDP}]\n\
             ---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a, labels: {app: pod}}\nspec:\n  containers: [{name: c, ports: [{name: x, containerPort: nope}]}]\n",
        );
        let object = |name: &str| model.objects.iter().find(|o| o.name == name).unwrap();
        let labels = object("a").labels();
        let text: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            text,
            [
                ("l", "[1]"),
                ("n", "10"),
                ("on", "true"),
                ("team", "x"),
                ("z", "")
            ]
        );
        assert_eq!(
            object("a")
                .annotation("kubernetes.io/ingress.class")
                .as_deref(),
            Some("nginx")
        );
        assert_eq!(object("a").annotation("k").as_deref(), Some("1"));
        assert_eq!(object("a").annotation("missing"), None);
        assert!(
            object("b").labels().is_empty(),
            "invalid metadata reads as none"
        );
        assert!(
            model
                .issues
                .iter()
                .any(|i| i.message.contains("invalid `metadata.generation`")),
            "{:?}",
            model.issues
        );

        let deployment = object("d").workload().unwrap();
        assert_eq!(deployment.pod_labels().get("v"), Some("2"));
        assert!(deployment.host_network);
        let ports: Vec<(&str, Option<&str>, i32)> = deployment
            .named_ports
            .iter()
            .map(|p| (p.name.as_str(), p.protocol.as_deref(), p.container_port))
            .collect();
        assert_eq!(ports, [("http", None, 8080), ("dns", Some("UDP"), 53)]);

        // A Pod's template is the Pod: its labels are its own; a schema error in its spec
        // leaves it without ports, and is reported.
        let pod = object("p").workload().unwrap();
        assert_eq!(pod.pod_labels().get("app"), Some("pod"));
        assert!(pod.named_ports.is_empty() && !pod.host_network);
        assert!(
            model.issues.iter().any(|i| i
                .message
                .contains("spec.containers[0].ports[0].containerPort")),
            "{:?}",
            model.issues
        );
    }
}
