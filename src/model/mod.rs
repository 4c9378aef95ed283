//! Model stage: typed Kubernetes objects built from parsed documents.
//!
//! Each [`Object`] keeps the YAML node it came from, so every field's span can
//! be looked up by path, next to the k8s-openapi value used for its meaning.

pub mod crd;
pub mod environments;
pub mod validation;

pub use crate::kinds::{CLUSTER_SCOPED_KINDS, WorkloadKind, list_item};
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NamespaceSpec, PodSpec, PodTemplateSpec, ServiceSpec};
use k8s_openapi::api::networking::v1::{IngressSpec, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;

use crate::load::yaml::{Node, NodeKind};
use crate::load::{IssueKind, LoadIssue, LoadStats, Loaded};
use crate::span::{FileId, Location, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(pub usize);

#[derive(Debug, Clone)]
pub struct Workload {
    pub kind: WorkloadKind,
    pub template: PodTemplateSpec,
}

impl Workload {
    pub fn pod_labels(&self) -> BTreeMap<String, String> {
        self.template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default()
    }

    pub fn pod_spec(&self) -> Option<&PodSpec> {
        self.template.spec.as_ref()
    }
}

#[derive(Debug, Clone)]
pub enum Typed {
    Namespace(Option<NamespaceSpec>),
    Workload(Box<Workload>),
    Service(Box<ServiceSpec>),
    NetworkPolicy(Box<NetworkPolicySpec>),
    Ingress(Box<IngressSpec>),
    Certificate(Box<crd::CertificateSpec>),
    Issuer(Box<crd::IssuerSpec>),
    Gateway(Box<crd::GatewaySpec>),
    HttpRoute(Box<crd::HttpRouteSpec>),
    /// A Kubernetes object no rule models in depth (ConfigMap, Role, CRDs, ...).
    Other,
}

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
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: String,
    pub namespace_source: NamespaceSource,
    pub meta: ObjectMeta,
    pub typed: Typed,
    /// Kustomization roots that render this object (`overlays/prod`); empty for plain files.
    pub contexts: Vec<String>,
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
                return node.origin;
            }
            match &node.kind {
                crate::load::yaml::NodeKind::Map(entries) => {
                    for (key, value) in entries.iter().rev() {
                        stack.push(value);
                        stack.push(key);
                    }
                }
                crate::load::yaml::NodeKind::Seq(items) => stack.extend(items.iter().rev()),
                crate::load::yaml::NodeKind::Scalar(_) => {}
            }
        }
        None
    }

    /// Where `node` was written: the object's file, or the patch or kustomization
    /// that put it there.
    pub fn location_of(&self, node: &Node) -> Location {
        Location {
            file: node.origin.unwrap_or(self.file),
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
        if self.namespace.is_empty() {
            format!("{}/{}", self.kind, self.name)
        } else {
            format!("{}/{}/{}", self.kind, self.namespace, self.name)
        }
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
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            default_namespace: "default".to_string(),
            kustomize: true,
        }
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
    /// (kind, namespace, name) → objects, so rules resolve references without scanning.
    by_name: std::collections::HashMap<(String, String, String), Vec<ObjectId>>,
    /// The kustomization roots built, named as in `Object::contexts`.
    pub roots: Vec<environments::Root>,
    /// Files lying in a Flux `clusters/<env>/` directory, with `<env>`: objects there are
    /// that cluster's, so the same identity under two such directories is no duplicate.
    pub flux_clusters: std::collections::HashMap<FileId, String>,
}

/// An object found in the input, waiting to be typed.
struct Pending {
    node: Node,
    file: FileId,
    document: usize,
    item: Option<usize>,
    namespace_fallback: (String, NamespaceSource),
    contexts: Vec<String>,
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

    pub fn build(loaded: Loaded, options: &ModelOptions) -> Model {
        let kustomized = if options.kustomize {
            crate::kustomize::build(&loaded)
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
            if consumed && object_kind(&document.root).is_none() {
                model.stats.documents_skipped += 1;
            }
            !consumed
        });
        let default_fallback = (options.default_namespace.clone(), NamespaceSource::Default);
        // The same source object rendered identically by several roots is one object
        // deployed once; rendered differently, it is one object per rendering.
        let mut pending: Vec<Pending> = Vec::new();
        // Renderings are bucketed by their identity too, so many renderings of one source
        // (a fan-out of prefixes) are not compared with each other: linear, not quadratic.
        type RenderKey = (FileId, usize, Option<usize>, [String; 3]);
        let mut rendered: std::collections::HashMap<RenderKey, Vec<usize>> =
            std::collections::HashMap::new();
        for view in kustomized.views {
            for built in view.objects {
                let text = |path: &[&str]| {
                    built
                        .node
                        .path(path)
                        .and_then(Node::scalar_text)
                        .unwrap_or_default()
                        .to_string()
                };
                let identity = [
                    text(&["kind"]),
                    text(&["metadata", "namespace"]),
                    text(&["metadata", "name"]),
                ];
                let key = (built.file, built.document, built.item, identity);
                let same = rendered.get(&key).and_then(|indexes| {
                    indexes
                        .iter()
                        .copied()
                        .find(|&i| pending[i].node.same_value(&built.node))
                });
                if let Some(index) = same {
                    if !pending[index].contexts.contains(&view.root) {
                        pending[index].contexts.push(view.root.clone());
                    }
                    continue;
                }
                rendered.entry(key).or_default().push(pending.len());
                pending.push(Pending {
                    node: built.node,
                    file: built.file,
                    document: built.document,
                    item: built.item,
                    namespace_fallback: default_fallback.clone(),
                    contexts: vec![view.root.clone()],
                });
            }
        }
        for document in plain_documents {
            let namespace_fallback = document
                .kustomize_namespace
                .clone()
                .map(|ns| (ns, NamespaceSource::Kustomization))
                .unwrap_or_else(|| (options.default_namespace.clone(), NamespaceSource::Default));
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
                        contexts: Vec::new(),
                    });
                }
            } else {
                pending.push(Pending {
                    node: root,
                    file: document.file,
                    document: document.index,
                    item: None,
                    namespace_fallback,
                    contexts: Vec::new(),
                });
            }
        }
        // Typing (YAML → k8s-openapi) is independent per object: spread it over the cores,
        // keeping the order so ids and findings stay deterministic.
        use rayon::prelude::*;
        let typed: Vec<(Object, Vec<LoadIssue>)> =
            pending.into_par_iter().map(Model::type_object).collect();
        model.objects.reserve_exact(typed.len());
        for (mut object, issues) in typed {
            object.id = ObjectId(model.objects.len());
            model.objects.push(object);
            model.issues.extend(issues);
        }
        model.stats.objects = model.objects.len();
        model.index_names();
        model
    }

    fn index_names(&mut self) {
        self.by_name.clear();
        for object in &self.objects {
            self.by_name
                .entry((
                    object.kind.clone(),
                    object.namespace.clone(),
                    object.name.clone(),
                ))
                .or_default()
                .push(object.id);
        }
    }

    /// The objects of `kind` named `name` in `namespace` ("" for cluster-scoped kinds).
    pub fn named<'a>(
        &'a self,
        kind: &str,
        namespace: &str,
        name: &str,
    ) -> impl Iterator<Item = &'a Object> + 'a {
        self.by_name
            .get(&(kind.to_string(), namespace.to_string(), name.to_string()))
            .into_iter()
            .flatten()
            .filter_map(|id| self.objects.get(id.0))
    }

    fn type_object(pending: Pending) -> (Object, Vec<LoadIssue>) {
        let Pending {
            node,
            file,
            document,
            item,
            namespace_fallback,
            contexts,
        } = pending;
        let api_version = node
            .get("apiVersion")
            .and_then(Node::scalar_text)
            .unwrap_or_default()
            .to_string();
        let kind = node
            .get("kind")
            .and_then(Node::scalar_text)
            .unwrap_or_default()
            .to_string();
        let meta_node = node.get("metadata");
        let name = meta_node
            .and_then(|m| m.get("name"))
            .and_then(Node::scalar_text)
            .or_else(|| {
                meta_node
                    .and_then(|m| m.get("generateName"))
                    .and_then(Node::scalar_text)
            })
            .unwrap_or_default()
            .to_string();
        let explicit_namespace = meta_node
            .and_then(|m| m.get("namespace"))
            .and_then(Node::scalar_text)
            .filter(|ns| !ns.is_empty());
        let (namespace, namespace_source) = if CLUSTER_SCOPED_KINDS.contains(&kind.as_str()) {
            (String::new(), NamespaceSource::ClusterScoped)
        } else if let Some(ns) = explicit_namespace {
            (ns.to_string(), NamespaceSource::Explicit)
        } else {
            namespace_fallback.clone()
        };

        let mut schema_errors = Vec::new();
        let meta_json = json_at(&node, &["metadata"]).map(lenient_metadata);
        let meta: ObjectMeta = match meta_json {
            Some(json) => {
                decode(json, &node, &["metadata"], &mut schema_errors).unwrap_or_default()
            }
            None => ObjectMeta::default(),
        };

        let spec_json = json_at(&node, &["spec"]);
        let typed = match (kind.as_str(), WorkloadKind::from_kind(&kind)) {
            (_, Some(workload_kind)) => {
                let path = workload_kind.template_path();
                let template = if path.is_empty() {
                    Some(PodTemplateSpec {
                        metadata: Some(meta.clone()),
                        spec: spec_json
                            .and_then(|json| decode(json, &node, &["spec"], &mut schema_errors)),
                    })
                } else {
                    let template_node = path.iter().try_fold(&node, |n, key| n.get(key));
                    template_node.and_then(|t| {
                        let mut json = t.to_json();
                        if let Some(meta) = json.get_mut("metadata") {
                            *meta = lenient_metadata(meta.take());
                        }
                        decode(json, &node, path, &mut schema_errors)
                    })
                };
                Typed::Workload(Box::new(Workload {
                    kind: workload_kind,
                    template: template.unwrap_or_default(),
                }))
            }
            ("Namespace", None) => Typed::Namespace(
                spec_json.and_then(|j| decode(j, &node, &["spec"], &mut schema_errors)),
            ),
            ("Service", None) => Typed::Service(Box::new(spec_or_default(
                spec_json,
                &node,
                &mut schema_errors,
            ))),
            ("NetworkPolicy", None) => Typed::NetworkPolicy(Box::new(spec_or_default(
                spec_json,
                &node,
                &mut schema_errors,
            ))),
            ("Ingress", None) => Typed::Ingress(Box::new(spec_or_default(
                spec_json,
                &node,
                &mut schema_errors,
            ))),
            ("Certificate", None) if api_version.starts_with("cert-manager.io/") => {
                Typed::Certificate(Box::new(spec_or_default(
                    spec_json,
                    &node,
                    &mut schema_errors,
                )))
            }
            ("Issuer" | "ClusterIssuer", None) if api_version.starts_with("cert-manager.io/") => {
                Typed::Issuer(Box::new(spec_or_default(
                    spec_json,
                    &node,
                    &mut schema_errors,
                )))
            }
            ("Gateway", None) if api_version.starts_with("gateway.networking.k8s.io/") => {
                Typed::Gateway(Box::new(spec_or_default(
                    spec_json,
                    &node,
                    &mut schema_errors,
                )))
            }
            ("HTTPRoute", None) if api_version.starts_with("gateway.networking.k8s.io/") => {
                Typed::HttpRoute(Box::new(spec_or_default(
                    spec_json,
                    &node,
                    &mut schema_errors,
                )))
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
            // Assigned when the object joins the model.
            id: ObjectId(0),
            file,
            document,
            item,
            node,
            api_version,
            kind,
            name,
            namespace,
            namespace_source,
            meta,
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

fn json_at(node: &Node, path: &[&str]) -> Option<serde_json::Value> {
    match node.path(path) {
        Some(n) if !n.is_null() => Some(n.to_json()),
        _ => None,
    }
}

fn object_kind(node: &Node) -> Option<&str> {
    let api_version = node.get("apiVersion")?.as_str()?;
    let kind = node.get("kind")?.as_str()?;
    // kustomize's own files carry apiVersion/kind but are build instructions, not objects.
    let is_kustomize_config = api_version.starts_with("kustomize.config.k8s.io/");
    (!api_version.is_empty() && !kind.is_empty() && !is_kustomize_config).then_some(kind)
}

fn spec_or_default<T: DeserializeOwned + Default>(
    json: Option<serde_json::Value>,
    node: &Node,
    errors: &mut Vec<(Span, String)>,
) -> T {
    json.and_then(|j| decode(j, node, &["spec"], errors))
        .unwrap_or_default()
}

/// Labels and annotations must be strings for the API server; `annotation-not-string`
/// reports the ones that are not. Here they are read as their text so the rest of the
/// object is still typed and analysed.
fn lenient_metadata(mut meta: serde_json::Value) -> serde_json::Value {
    for field in ["labels", "annotations"] {
        if let Some(serde_json::Value::Object(map)) = meta.get_mut(field) {
            for value in map.values_mut() {
                let text = match &*value {
                    serde_json::Value::String(_) => continue,
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                *value = serde_json::Value::String(text);
            }
        }
    }
    meta
}

/// Decodes `json` (the node at `base` in `root`) into `T`; on failure records the
/// error at the span of the offending field.
fn decode<T: DeserializeOwned>(
    json: serde_json::Value,
    root: &Node,
    base: &[&str],
    errors: &mut Vec<(Span, String)>,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(json) {
        Ok(value) => Some(value),
        Err(error) => {
            let base_node = base
                .iter()
                .try_fold(root, |n, key| n.get(key))
                .unwrap_or(root);
            let mut node = base_node;
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
        NodeKind::Map(entries) => Some(entries.as_slice()),
        _ => None,
    })
    .unwrap_or(&[])
    .iter()
    .filter_map(|(k, v)| k.scalar_text().map(|text| (text, k, v)))
}
