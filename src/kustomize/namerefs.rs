//! Name references: the fields where one object names another, as kustomize's
//! default `nameReference` configuration lists them. When a transformer renames an
//! object (a name prefix or suffix, a generator's content hash), every reference to
//! it in these fields follows.

use ecow::EcoString;

use crate::kinds::{CLUSTER_SCOPED_KINDS, api_group};
use crate::load::yaml::{Node, NodeKind};

use super::Built;
use crate::hashing::FastMap;

/// kustomize's namespace transformer in its default `setRoleBindingSubjects: defaultOnly`
/// mode: every RoleBinding or ClusterRoleBinding subject named `default` (whatever its
/// kind or written namespace; with `only_unset`, one without a namespace) moves to the
/// new namespace. Other subjects follow their ServiceAccount through the root's name
/// references.
pub fn move_default_subjects(
    resources: &mut [Built],
    namespace: &dyn Fn() -> Node,
    only_unset: bool,
) {
    for resource in resources.iter_mut() {
        // Only the kind is read first: most objects are not bindings.
        let kind = resource
            .node
            .get("kind")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        if kind != "RoleBinding" && kind != "ClusterRoleBinding" {
            continue;
        }
        let names_default =
            |subject: &Node| subject.get("name").and_then(Node::scalar_text) == Some("default");
        let any_default = resource
            .node
            .get("subjects")
            .and_then(Node::as_seq)
            .is_some_and(|subjects| subjects.iter().any(names_default));
        // Only then is the (possibly shared) subject list written.
        if !any_default {
            continue;
        }
        let Some(NodeKind::Seq(subjects, _)) =
            super::transform::get_mut(&mut resource.node, "subjects").map(|s| &mut s.kind)
        else {
            continue;
        };
        for subject in subjects.iter_mut() {
            let text = |key| subject.get(key).and_then(Node::scalar_text);
            let moves = text("name") == Some("default")
                && (!only_unset || text("namespace").is_none_or(str::is_empty));
            if moves {
                super::transform::set(subject, "namespace", namespace());
            }
        }
    }
}

/// A field spec added by `configurations` (`nameReference` entries).
#[derive(Debug, Clone)]
pub struct CustomReference {
    pub referenced_kind: String,
    pub referrer_kind: Option<String>,
    pub path: Vec<String>,
}

const POD_CONFIG_MAP: &[&str] = &[
    "volumes/configMap/name",
    "containers/env/valueFrom/configMapKeyRef/name",
    "initContainers/env/valueFrom/configMapKeyRef/name",
    "containers/envFrom/configMapRef/name",
    "initContainers/envFrom/configMapRef/name",
    "volumes/projected/sources/configMap/name",
];

const POD_SECRET: &[&str] = &[
    "volumes/secret/secretName",
    "containers/env/valueFrom/secretKeyRef/name",
    "initContainers/env/valueFrom/secretKeyRef/name",
    "containers/envFrom/secretRef/name",
    "initContainers/envFrom/secretRef/name",
    "imagePullSecrets/name",
    "volumes/projected/sources/secret/name",
];

/// Where a kind keeps its pod spec.
fn pod_spec(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Pod" => "spec",
        "PodTemplate" => "template/spec",
        "Deployment"
        | "ReplicaSet"
        | "DaemonSet"
        | "StatefulSet"
        | "Job"
        | "ReplicationController" => "spec/template/spec",
        "CronJob" => "spec/jobTemplate/spec/template/spec",
        _ => return None,
    })
}

/// Paths (segments separated by `/`, lists traversed implicitly) in an object of
/// `referrer` kind that name an object of `referenced` kind.
fn default_paths(referenced: &str, referrer: &str, referrer_group: &str) -> Vec<String> {
    let mut paths: Vec<String> = Vec::new();
    let in_pod = |paths: &mut Vec<String>, fields: &[&str], kinds: &[&str]| {
        if kinds.contains(&referrer)
            && let Some(spec) = pod_spec(referrer)
        {
            paths.extend(fields.iter().map(|f| format!("{spec}/{f}")));
        }
    };
    const POD_KINDS: &[&str] = &[
        "Pod",
        "PodTemplate",
        "Deployment",
        "ReplicaSet",
        "DaemonSet",
        "StatefulSet",
        "Job",
        "CronJob",
    ];
    const SPEC_KINDS: &[&str] = &[
        "Pod",
        "StatefulSet",
        "Deployment",
        "ReplicationController",
        "CronJob",
        "Job",
        "DaemonSet",
    ];
    let mut simple = |kind: &str, path: &str| {
        if referrer == kind {
            paths.push(path.to_string());
        }
    };
    match referenced {
        "Deployment" | "ReplicationController" | "ReplicaSet" | "StatefulSet" => {
            simple("HorizontalPodAutoscaler", "spec/scaleTargetRef/name");
        }
        "ConfigMap" => {
            simple("Node", "spec/configSource/configMap");
            simple("Role", "rules/resourceNames");
            simple("ClusterRole", "rules/resourceNames");
            simple(
                "Ingress",
                "metadata/annotations/nginx.ingress.kubernetes.io\\/fastcgi-params-configmap",
            );
            in_pod(&mut paths, POD_CONFIG_MAP, POD_KINDS);
        }
        "Secret" => {
            simple("Ingress", "spec/tls/secretName");
            simple(
                "Ingress",
                "metadata/annotations/ingress.kubernetes.io\\/auth-secret",
            );
            simple(
                "Ingress",
                "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-secret",
            );
            simple(
                "Ingress",
                "metadata/annotations/nginx.ingress.kubernetes.io\\/auth-tls-secret",
            );
            simple("ServiceAccount", "imagePullSecrets/name");
            simple("ServiceAccount", "secrets/name");
            for parameter in [
                "secretName",
                "adminSecretName",
                "userSecretName",
                "secretRef",
            ] {
                simple("StorageClass", &format!("parameters/{parameter}"));
            }
            simple("Role", "rules/resourceNames");
            simple("ClusterRole", "rules/resourceNames");
            simple("PersistentVolume", "spec/azureFile/secretName");
            if referrer == "Service" && referrer_group == "serving.knative.dev" {
                paths.push("spec/template/spec/containers/env/valueFrom/secretKeyRef/name".into());
            }
            in_pod(&mut paths, POD_SECRET, POD_KINDS);
        }
        "Service" => {
            simple("StatefulSet", "spec/serviceName");
            for path in [
                "spec/rules/http/paths/backend/serviceName",
                "spec/backend/serviceName",
                "spec/rules/http/paths/backend/service/name",
                "spec/defaultBackend/service/name",
            ] {
                simple("Ingress", path);
            }
            simple("APIService", "spec/service");
            simple(
                "ValidatingWebhookConfiguration",
                "webhooks/clientConfig/service",
            );
            simple(
                "MutatingWebhookConfiguration",
                "webhooks/clientConfig/service",
            );
            simple("HTTPRoute", "spec/rules/backendRefs/name");
        }
        // `roleRef`'s `apiGroup` and `kind` say whether a Role or a ClusterRole is meant.
        "Role" => simple("RoleBinding", "roleRef/name"),
        "ClusterRole" => {
            simple("RoleBinding", "roleRef/name");
            simple("ClusterRoleBinding", "roleRef/name");
        }
        "ServiceAccount" => {
            simple("RoleBinding", "subjects");
            simple("ClusterRoleBinding", "subjects");
            in_pod(&mut paths, &["serviceAccountName"], SPEC_KINDS);
        }
        "PersistentVolumeClaim" => {
            in_pod(
                &mut paths,
                &["volumes/persistentVolumeClaim/claimName"],
                SPEC_KINDS,
            );
        }
        "PersistentVolume" => {
            simple("PersistentVolumeClaim", "spec/volumeName");
            simple("ClusterRole", "rules/resourceNames");
        }
        "StorageClass" => {
            simple("PersistentVolume", "spec/storageClassName");
            simple("PersistentVolumeClaim", "spec/storageClassName");
            simple(
                "StatefulSet",
                "spec/volumeClaimTemplates/spec/storageClassName",
            );
        }
        "PriorityClass" => in_pod(&mut paths, &["priorityClassName"], SPEC_KINDS),
        "IngressClass" => simple("Ingress", "spec/ingressClassName"),
        "ValidatingAdmissionPolicy" => {
            simple("ValidatingAdmissionPolicyBinding", "spec/policyName");
        }
        _ => {}
    }
    paths
}

/// Splits a field-spec path at `/`, keeping `\/` inside a segment.
pub fn split_path(path: &str) -> Vec<String> {
    let mut segments = vec![String::new()];
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'/') => {
                chars.next();
                if let Some(last) = segments.last_mut() {
                    last.push('/');
                }
            }
            '/' => segments.push(String::new()),
            c => {
                if let Some(last) = segments.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    segments.retain(|s| !s.is_empty());
    segments
}

/// The kinds the default name-reference configuration lists as referenced.
const REFERENCED_KINDS: &[&str] = &[
    "Deployment",
    "ReplicationController",
    "ReplicaSet",
    "StatefulSet",
    "ConfigMap",
    "Secret",
    "Service",
    "Role",
    "ClusterRole",
    "ServiceAccount",
    "PersistentVolumeClaim",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "ValidatingAdmissionPolicy",
];

/// How many candidate checks one root's name-reference pass may make: hostile input
/// (thousands of same-named objects referenced thousands of times) must stay bounded.
const MAX_CANDIDATE_CHECKS: usize = 20_000_000;

/// A name reference kustomize refuses to resolve, at the referencing field.
#[derive(Debug)]
pub struct ReferenceError {
    pub file: crate::span::FileId,
    pub span: crate::span::Span,
    pub message: String,
}

/// What the pass knows of each object as a possible referral target, read before any
/// reference changes (names and namespaces do not change during the pass).
/// Names are `EcoString`s shared with the tree and the identities (no copy per object).
struct Target {
    kind: EcoString,
    group: EcoString,
    name: EcoString,
    /// `metadata.namespace` as written (empty when none).
    namespace: EcoString,
    cluster_scoped: bool,
    /// The namespace of its first identity, as kustomize compares it; `None` when
    /// that identity is cluster-scoped.
    original_namespace: Option<EcoString>,
    /// Kinds and names of its earlier identities (kustomize's `PrevIds`, without the
    /// current one).
    previous_kinds: Vec<EcoString>,
    previous_names: Vec<EcoString>,
    affixes: Affixes,
}

use super::Affixes;

impl Target {
    fn of(built: &Built) -> Target {
        // One read of the identity serves the kind, group, name and namespace, and the
        // first identity when the object has no earlier one.
        let id = super::ResId::of(&built.node);
        let first = built.previous.first().unwrap_or(&id);
        let original_namespace = (!CLUSTER_SCOPED_KINDS.contains(&first.kind.as_str()))
            .then(|| first.effective_namespace().into());
        Target {
            cluster_scoped: CLUSTER_SCOPED_KINDS.contains(&id.kind.as_str()),
            group: api_group(&id.api_version).into(),
            kind: id.kind,
            name: id.name,
            namespace: id.namespace,
            original_namespace,
            previous_kinds: built.previous.iter().map(|p| p.kind.clone()).collect(),
            previous_names: built.previous.iter().map(|p| p.name.clone()).collect(),
            affixes: built.affixes.as_deref().cloned().unwrap_or_default(),
        }
    }

    fn effective_namespace(&self) -> Option<&str> {
        if self.cluster_scoped {
            None
        } else if self.namespace.is_empty() {
            Some("default")
        } else {
            Some(&self.namespace)
        }
    }

    fn same_names(&self, other: &Target) -> bool {
        self.name == other.name
    }

    fn same_names_and_namespaces(&self, other: &Target) -> bool {
        self.name == other.name && self.namespace == other.namespace
    }
}

/// The referrer's side of the pass.
struct Referrer<'a> {
    target: &'a Target,
    /// kustomize's `SubsetThatCouldBeReferencedByResource`: namespaces of a
    /// RoleBinding's ServiceAccount subjects, whose objects it may name.
    subject_namespaces: Vec<String>,
    /// `roleRef`'s (apiGroup, kind), when both are written.
    role_ref: Option<(String, String)>,
}

impl Referrer<'_> {
    fn could_reference(&self, candidate: &Target) -> bool {
        self.reaches(candidate.effective_namespace(), &candidate.namespace)
    }

    /// Whether an object now in `effective` namespace (`None`: cluster-scoped), written
    /// `written`, is among those the referrer may name.
    fn reaches(&self, effective: Option<&str>, written: &str) -> bool {
        self.target.cluster_scoped
            || effective.is_none()
            || self.target.effective_namespace() == effective
            || self.subject_namespaces.iter().any(|s| s == written)
    }
}

/// Whether one list ends like the other (kustomize's `SameEndingSubSlice`); an empty
/// list only ends like an empty one.
fn same_ending(a: &[String], b: &[String]) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    if short.is_empty() {
        return long.is_empty();
    }
    long.ends_with(short)
}

fn affixes_match(a: &Affixes, b: &Affixes, allow_empty: bool) -> bool {
    let matches = |x: &[String], y: &[String]| {
        (allow_empty && (x.is_empty() || y.is_empty())) || same_ending(x, y)
    };
    matches(&a.prefixes, &b.prefixes) && matches(&a.suffixes, &b.suffixes)
}

/// kustomize's final name-reference pass (`FixBackReferences`), run once at the root
/// after every transformer and the content hashes: each field that names an object of a
/// referenced kind, in every object, is pointed at the one object that had that name
/// before a transformer renamed or moved it. Candidates are narrowed as kustomize does
/// (earlier name, kind, `roleRef` kind, namespace, then name prefixes and suffixes);
/// several that still differ are refused.
pub fn fix_back_references(
    resources: &mut [Built],
    custom: &[CustomReference],
) -> Vec<ReferenceError> {
    let mut errors = Vec::new();
    // Only objects with earlier identities are candidates; without any, nothing moved.
    if resources.iter().all(|r| r.previous.is_empty()) {
        return errors;
    }
    let mut referenced: Vec<&str> = REFERENCED_KINDS.to_vec();
    referenced.extend(custom.iter().map(|c| c.referenced_kind.as_str()));
    referenced.sort_unstable();
    referenced.dedup();
    let mut fields_by_kind: FastMap<(EcoString, EcoString), KindFields> = FastMap::default();
    // A namespace transformer gives every object an earlier identity without renaming
    // any. Then a reference written as a bare name keeps it and is never ambiguous (every
    // candidate still has the name it was looked up by): only `{name, namespace}`
    // references can change, so without one in any object there is nothing to do.
    if !any_renamed(resources)
        && !resources.iter().any(|built| {
            let KindFields { fields, trie } = kind_fields(
                &mut fields_by_kind,
                referrer_kind(built, None),
                &referenced,
                custom,
            );
            !fields.is_empty() && trie.any_leaf(&built.node, &holds_mapping_reference)
        })
    {
        return errors;
    }
    let targets: Vec<Target> = resources.iter().map(Target::of).collect();
    let mut by_previous_name: FastMap<&str, Vec<usize>> = FastMap::default();
    for (index, target) in targets.iter().enumerate() {
        let mut names: Vec<&str> = target
            .previous_names
            .iter()
            .map(EcoString::as_str)
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            by_previous_name.entry(name).or_default().push(index);
        }
    }
    // Per original namespace, where its objects are now (effective namespace, `None` when
    // cluster-scoped, and as written), for references written with a namespace.
    let mut original_namespaces: OriginalNamespaces = FastMap::default();
    for target in &targets {
        if let Some(original) = &target.original_namespace {
            let now = (target.effective_namespace(), target.namespace.as_str());
            let places = original_namespaces.entry(original).or_default();
            if !places.contains(&now) {
                places.push(now);
            }
        }
    }
    let mut pass = Pass {
        targets: &targets,
        by_previous_name: &by_previous_name,
        original_namespaces: &original_namespaces,
        checks: 0,
    };
    for (index, built) in resources.iter_mut().enumerate() {
        let Some(target) = targets.get(index) else {
            continue;
        };
        let KindFields { fields, trie } = kind_fields(
            &mut fields_by_kind,
            referrer_kind(built, Some(target)),
            &referenced,
            custom,
        );
        if fields.is_empty() {
            continue;
        }
        let referrer = Referrer {
            target,
            subject_namespaces: subject_namespaces(&built.node, &target.kind),
            role_ref: role_ref(&built.node),
        };
        let file = built.file;
        // The fields are handled in order, each seeing the tree as the ones before left
        // it. Their references are gathered in one walk of the tree; after a field
        // rewrites some, the later fields' are gathered again from the new tree.
        let mut first_field = 0;
        while first_field < fields.len() {
            let leaves = trie.leaves(&built.node, fields.len());
            let mut rewrite = None;
            for (at, (referenced, path)) in fields.iter().enumerate().skip(first_field) {
                let mut changes = Vec::new();
                let mut failures = Vec::new();
                let field_leaves = leaves.get(at).map_or(&[][..], Vec::as_slice);
                if !field_leaves.is_empty() {
                    let field = Field {
                        referenced,
                        role_ref: match path.as_slice() {
                            [.., role_ref, name] if role_ref == "roleRef" && name == "name" => {
                                referrer.role_ref.as_ref()
                            }
                            _ => None,
                        },
                    };
                    for leaf in field_leaves {
                        pass.decide(&referrer, &field, leaf, &mut changes, &mut failures);
                    }
                }
                for (message, span, origin) in failures {
                    errors.push(ReferenceError {
                        file: origin.unwrap_or(file),
                        span,
                        message: format!(
                            "`{}` of {} `{}` {message}",
                            path.join("/"),
                            target.kind,
                            target.name
                        ),
                    });
                }
                if changes.iter().any(|c| !matches!(c, Change::Keep)) {
                    rewrite = Some((at, changes));
                    break;
                }
                if pass.checks > MAX_CANDIDATE_CHECKS {
                    errors.push(too_many_checks(file, built.node.span));
                    return errors;
                }
            }
            drop(leaves);
            let Some((at, changes)) = rewrite else {
                break;
            };
            if let Some((_, path)) = fields.get(at) {
                let segments: Vec<&str> = path.iter().map(String::as_str).collect();
                let mut changes = changes.into_iter();
                visit(&mut built.node, &segments, &mut |leaf| {
                    apply(leaf, &mut changes)
                });
            }
            if pass.checks > MAX_CANDIDATE_CHECKS {
                errors.push(too_many_checks(file, built.node.span));
                return errors;
            }
            first_field = at + 1;
        }
    }
    errors
}

/// Whether a transformer renamed some object: an earlier identity under another name.
fn any_renamed(resources: &[Built]) -> bool {
    resources.iter().any(|built| {
        !built.previous.is_empty() && {
            let name = built
                .node
                .path(&["metadata", "name"])
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            built.previous.iter().any(|id| id.name != name)
        }
    })
}

/// The kind and group field specs select `built` by as a referrer: those of its first
/// identity; its current one (`target`'s, when already read) when it has no earlier one.
fn referrer_kind(built: &Built, target: Option<&Target>) -> (EcoString, EcoString) {
    match (built.previous.first(), target) {
        (Some(first), _) => (first.kind.clone(), api_group(&first.api_version).into()),
        (None, Some(target)) => (target.kind.clone(), target.group.clone()),
        (None, None) => {
            let id = super::ResId::of(&built.node);
            (id.kind, api_group(&id.api_version).into())
        }
    }
}

/// The reference fields of referrers of `(kind, group)`, made on first use.
fn kind_fields<'c, 'a>(
    cache: &'c mut FastMap<(EcoString, EcoString), KindFields<'a>>,
    (kind, group): (EcoString, EcoString),
    referenced: &[&'a str],
    custom: &'a [CustomReference],
) -> &'c KindFields<'a> {
    cache
        .entry((kind, group))
        .or_insert_with_key(|(kind, group)| {
            let mut fields = Vec::new();
            for referenced in referenced {
                for path in default_paths(referenced, kind, group) {
                    fields.push((*referenced, split_path(&path)));
                }
                for c in custom.iter().filter(|c| {
                    c.referenced_kind == *referenced
                        && c.referrer_kind.as_deref().is_none_or(|k| k == kind)
                }) {
                    fields.push((*referenced, c.path.clone()));
                }
            }
            let trie = PathTrie::of(fields.iter().map(|(_, path)| path.as_slice()));
            KindFields { fields, trie }
        })
}

/// Whether the node a reference field reaches is, or lists, a `{name, namespace}`
/// mapping (what [`Pass::decide`] reads as one).
fn holds_mapping_reference(leaf: &Node) -> bool {
    match &leaf.kind {
        NodeKind::Map(_, _) => true,
        NodeKind::Seq(items, _) => items
            .iter()
            .any(|item| matches!(item.kind, NodeKind::Map(_, _))),
        NodeKind::Scalar { .. } => false,
    }
}

fn too_many_checks(file: crate::span::FileId, span: crate::span::Span) -> ReferenceError {
    ReferenceError {
        file,
        span,
        message: format!(
            "name references need more than {MAX_CANDIDATE_CHECKS} candidate checks in this build; the remaining references are left as written"
        ),
    }
}

/// The reference fields of one referrer kind, and their paths as a prefix tree.
struct KindFields<'a> {
    fields: Vec<ReferenceField<'a>>,
    trie: PathTrie,
}

/// Field paths as a prefix tree, so that one walk of an object finds the references of
/// every field: the paths of a kind share long prefixes (`spec/template/spec`, a
/// container's `env`), each read once per object instead of once per path.
#[derive(Debug)]
struct PathTrie {
    /// The root first.
    steps: Vec<PathStep>,
}

#[derive(Debug, Default)]
struct PathStep {
    /// The segment to each child step, and its index.
    children: Vec<(String, usize)>,
    /// The paths (by their index) that end at this step.
    ends: Vec<usize>,
}

impl PathTrie {
    fn of<'p>(paths: impl IntoIterator<Item = &'p [String]>) -> PathTrie {
        let mut steps = vec![PathStep::default()];
        for (path_index, path) in paths.into_iter().enumerate() {
            let mut at = 0;
            for segment in path {
                let existing = steps.get(at).and_then(|step| {
                    step.children
                        .iter()
                        .find(|(s, _)| s == segment)
                        .map(|&(_, child)| child)
                });
                at = match existing {
                    Some(child) => child,
                    None => {
                        let child = steps.len();
                        steps.push(PathStep::default());
                        if let Some(step) = steps.get_mut(at) {
                            step.children.push((segment.clone(), child));
                        }
                        child
                    }
                };
            }
            if let Some(step) = steps.get_mut(at) {
                step.ends.push(path_index);
            }
        }
        PathTrie { steps }
    }

    /// Per path (of `paths` in all), the nodes [`visit_ref`] would reach, in its order.
    fn leaves<'n>(&self, node: &'n Node, paths: usize) -> Vec<Vec<&'n Node>> {
        let mut leaves = vec![Vec::new(); paths];
        self.walk(0, node, &mut leaves);
        leaves
    }

    fn walk<'n>(&self, at: usize, node: &'n Node, leaves: &mut [Vec<&'n Node>]) {
        // As in `visit_ref`, lists on the way are traversed, but not the node a path ends
        // at (but for an empty path, which ends at the object itself).
        if let NodeKind::Seq(items, _) = &node.kind {
            for item in items.iter() {
                self.walk(at, item, leaves);
            }
            return;
        }
        let Some(step) = self.steps.get(at) else {
            return;
        };
        if at == 0 {
            push_leaf(leaves, &step.ends, node);
        }
        for (segment, child_at) in &step.children {
            let (Some(child), Some(child_step)) = (node.get(segment), self.steps.get(*child_at))
            else {
                continue;
            };
            push_leaf(leaves, &child_step.ends, child);
            if !child_step.children.is_empty() {
                self.walk(*child_at, child, leaves);
            }
        }
    }
}

impl PathTrie {
    /// Whether a node [`PathTrie::leaves`] would gather satisfies `wanted`; the same walk,
    /// stopped at the first, and nothing gathered.
    fn any_leaf(&self, node: &Node, wanted: &impl Fn(&Node) -> bool) -> bool {
        self.reaches(0, node, wanted)
    }

    fn reaches(&self, at: usize, node: &Node, wanted: &impl Fn(&Node) -> bool) -> bool {
        if let NodeKind::Seq(items, _) = &node.kind {
            return items.iter().any(|item| self.reaches(at, item, wanted));
        }
        let Some(step) = self.steps.get(at) else {
            return false;
        };
        if at == 0 && !step.ends.is_empty() && wanted(node) {
            return true;
        }
        step.children.iter().any(|(segment, child_at)| {
            let (Some(child), Some(child_step)) = (node.get(segment), self.steps.get(*child_at))
            else {
                return false;
            };
            (!child_step.ends.is_empty() && wanted(child))
                || (!child_step.children.is_empty() && self.reaches(*child_at, child, wanted))
        })
    }
}

fn push_leaf<'n>(leaves: &mut [Vec<&'n Node>], paths: &[usize], node: &'n Node) {
    for &path in paths {
        if let Some(list) = leaves.get_mut(path) {
            list.push(node);
        }
    }
}

/// Per original namespace, the (effective, written) namespaces its objects are in now.
type OriginalNamespaces<'a> = FastMap<&'a str, Vec<(Option<&'a str>, &'a str)>>;

/// A field that names an object: the kind named and the path segments to it.
type ReferenceField<'a> = (&'a str, Vec<String>);

/// Namespaces of a RoleBinding's ServiceAccount subjects (kustomize lets a RoleBinding
/// name objects in them).
fn subject_namespaces(node: &Node, kind: &str) -> Vec<String> {
    if kind != "RoleBinding" {
        return Vec::new();
    }
    let Some(subjects) = node.get("subjects").and_then(Node::as_seq) else {
        return Vec::new();
    };
    subjects
        .iter()
        .filter(|s| s.get("kind").and_then(Node::scalar_text) == Some("ServiceAccount"))
        .filter_map(|s| s.get("namespace").and_then(Node::scalar_text))
        .map(str::to_string)
        .collect()
}

fn role_ref(node: &Node) -> Option<(String, String)> {
    let role_ref = node.get("roleRef")?;
    let group = role_ref.get("apiGroup").and_then(Node::scalar_text)?;
    let kind = role_ref.get("kind").and_then(Node::scalar_text)?;
    Some((group.to_string(), kind.to_string()))
}

/// One referrer field: the kind it names, and for `roleRef/name` the role's group
/// and kind.
struct Field<'a> {
    referenced: &'a str,
    role_ref: Option<&'a (String, String)>,
}

struct Pass<'a> {
    targets: &'a [Target],
    by_previous_name: &'a FastMap<&'a str, Vec<usize>>,
    original_namespaces: &'a OriginalNamespaces<'a>,
    checks: usize,
}

/// What one reference field becomes.
enum Change {
    Keep,
    Name(EcoString),
    /// A `{name, namespace}` reference: the new name, and the namespace to write.
    Map(EcoString, Option<EcoString>),
}

impl Pass<'_> {
    /// Decides, without touching the tree (whose shared subtrees a write would copy),
    /// what each reference under `leaf` becomes, in visiting order; failures go to
    /// `errors` and keep the reference.
    fn decide(
        &mut self,
        referrer: &Referrer,
        field: &Field,
        leaf: &Node,
        changes: &mut Vec<Change>,
        errors: &mut Vec<(String, crate::span::Span, Option<crate::span::FileId>)>,
    ) {
        let mut one = |pass: &mut Self, node: &Node| {
            let decided = match node.kind {
                NodeKind::Scalar { .. } => pass.decide_scalar(referrer, field, node),
                NodeKind::Map(_, _) => pass.decide_mapping(referrer, field, node),
                NodeKind::Seq(_, _) => return,
            };
            changes.push(decided.unwrap_or_else(|message| {
                errors.push((message, node.span, node.origin()));
                Change::Keep
            }));
        };
        match &leaf.kind {
            NodeKind::Seq(items, _) => items.iter().for_each(|item| one(self, item)),
            _ => one(self, leaf),
        }
    }

    fn decide_scalar(
        &mut self,
        referrer: &Referrer,
        field: &Field,
        leaf: &Node,
    ) -> Result<Change, String> {
        let Some(value) = leaf.scalar_text().filter(|_| !leaf.is_null()) else {
            return Ok(Change::Keep);
        };
        let found = self.select(referrer, field, value, &|_| true, Target::same_names)?;
        Ok(match found {
            Some(target) if target.name != value => Change::Name(target.name.clone()),
            _ => Change::Keep,
        })
    }

    fn decide_mapping(
        &mut self,
        referrer: &Referrer,
        field: &Field,
        leaf: &Node,
    ) -> Result<Change, String> {
        let Some(name) = leaf.get("name").and_then(Node::scalar_text) else {
            return Err("has no `name`, which kubectl needs to follow the reference".to_string());
        };
        let written_namespace = leaf.get("namespace").and_then(Node::scalar_text);
        let pool: Box<dyn Fn(&Target) -> bool> = match written_namespace {
            None => Box::new(|_| true),
            Some(namespace) => {
                // kustomize narrows to the objects first written in that namespace, or, when
                // none of those could be referenced, to the ones now in it.
                let places = self
                    .original_namespaces
                    .get(namespace)
                    .map_or(&[][..], Vec::as_slice);
                self.checks += places.len();
                let by_original = places
                    .iter()
                    .any(|(effective, written)| referrer.reaches(*effective, written));
                if by_original {
                    Box::new(move |t: &Target| t.original_namespace.as_deref() == Some(namespace))
                } else {
                    Box::new(move |t: &Target| t.effective_namespace() == Some(namespace))
                }
            }
        };
        let found = self.select(
            referrer,
            field,
            name,
            &*pool,
            Target::same_names_and_namespaces,
        )?;
        Ok(match found {
            None => Change::Keep,
            Some(target) if target.name == name && target.namespace.is_empty() => Change::Keep,
            Some(target) => Change::Map(
                target.name.clone(),
                (!target.namespace.is_empty()).then(|| target.namespace.clone()),
            ),
        })
    }

    /// kustomize's `selectReferral`.
    fn select(
        &mut self,
        referrer: &Referrer,
        field: &Field,
        old_name: &str,
        pool: &dyn Fn(&Target) -> bool,
        identical: fn(&Target, &Target) -> bool,
    ) -> Result<Option<&Target>, String> {
        let Some(bucket) = self.by_previous_name.get(old_name) else {
            return Ok(None);
        };
        self.checks += bucket.len();
        let targets = self.targets;
        let mut candidates: Vec<&Target> = bucket
            .iter()
            .filter_map(|&i| targets.get(i))
            .filter(|t| referrer.could_reference(t) && pool(t))
            .filter(|t| t.previous_kinds.iter().any(|k| k == field.referenced))
            .filter(|t| {
                field.role_ref.is_none_or(|(group, kind)| {
                    t.group == *group && t.previous_kinds.iter().any(|k| k == kind)
                })
            })
            .filter(|t| {
                referrer.target.cluster_scoped
                    || t.cluster_scoped
                    || t.kind == "ServiceAccount"
                    || referrer.target.effective_namespace() == t.effective_namespace()
            })
            .collect();
        if candidates.len() > 1 {
            candidates.retain(|t| affixes_match(&t.affixes, &referrer.target.affixes, true));
        }
        if candidates.len() > 1 {
            candidates.retain(|t| affixes_match(&t.affixes, &referrer.target.affixes, false));
        }
        match candidates.as_slice() {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            [first, rest @ ..] => {
                if rest.iter().all(|t| identical(first, t)) {
                    return Ok(Some(first));
                }
                let ids: Vec<String> = candidates
                    .iter()
                    .map(|t| match t.effective_namespace() {
                        Some(namespace) => format!("{} {namespace}/{}", t.kind, t.name),
                        None => format!("{} {}", t.kind, t.name),
                    })
                    .collect();
                Err(format!(
                    "names `{old_name}`, which may be any of {}; kubectl refuses the ambiguous reference",
                    ids.join(", ")
                ))
            }
        }
    }
}

/// Writes the decided changes into the references under `leaf`, in the order
/// [`Pass::decide`] visited them.
fn apply(leaf: &mut Node, changes: &mut std::vec::IntoIter<Change>) {
    fn one(node: &mut Node, change: Change) {
        match change {
            Change::Keep => {}
            Change::Name(name) => {
                if let Some((value, _)) = node.as_scalar_mut() {
                    *value = name.as_str().into();
                }
            }
            Change::Map(name, namespace) => {
                if let Some(slot) = super::transform::get_mut(node, "name")
                    && let Some((value, _)) = slot.as_scalar_mut()
                {
                    *value = name.as_str().into();
                }
                if let Some(namespace) = namespace {
                    let (span, origin) = (node.span, node.origin());
                    match super::transform::get_mut(node, "namespace").map(|n| &mut n.kind) {
                        Some(NodeKind::Scalar { value, .. }) => *value = namespace.as_str().into(),
                        _ => super::transform::set(
                            node,
                            "namespace",
                            Node::synthetic_str(&namespace, span, origin),
                        ),
                    }
                }
            }
        }
    }
    match &mut leaf.kind {
        NodeKind::Seq(items, _) => {
            for item in items.iter_mut() {
                if !matches!(item.kind, NodeKind::Seq(_, _))
                    && let Some(change) = changes.next()
                {
                    one(item, change);
                }
            }
        }
        _ => {
            if let Some(change) = changes.next() {
                one(leaf, change);
            }
        }
    }
}

/// [`visit`] without changing the tree: what [`PathTrie::leaves`] gathers for each path
/// at once, which its test checks against this.
#[cfg(test)]
fn visit_ref<'n>(node: &'n Node, path: &[&str], apply: &mut dyn FnMut(&'n Node)) {
    if let NodeKind::Seq(items, _) = &node.kind {
        for item in items.iter() {
            visit_ref(item, path, apply);
        }
        return;
    }
    let Some((first, rest)) = path.split_first() else {
        apply(node);
        return;
    };
    if let Some(child) = node.get(first) {
        if rest.is_empty() {
            apply(child);
        } else {
            visit_ref(child, rest, apply);
        }
    }
}

/// Calls `apply` on the node at `path`, traversing lists on the way. (kustomize
/// rewrites `rules/resourceNames` whatever the rule's `resources` say.)
fn visit(node: &mut Node, path: &[&str], apply: &mut dyn FnMut(&mut Node)) {
    if let NodeKind::Seq(items, _) = &mut node.kind {
        for item in items {
            visit(item, path, apply);
        }
        return;
    }
    let Some((first, rest)) = path.split_first() else {
        apply(node);
        return;
    };
    if let Some(child) = super::transform::get_mut(node, first) {
        if rest.is_empty() {
            apply(child);
        } else {
            visit(child, rest, apply);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_keeps_escaped_slashes() {
        assert_eq!(
            split_path("metadata/annotations/a.io\\/b"),
            vec!["metadata", "annotations", "a.io/b"]
        );
    }

    #[test]
    fn pod_references_cover_init_containers_and_projected_volumes() {
        let paths = default_paths("ConfigMap", "Deployment", "apps");
        assert!(
            paths.contains(
                &"spec/template/spec/initContainers/envFrom/configMapRef/name".to_string()
            )
        );
        assert!(
            paths.contains(
                &"spec/template/spec/volumes/projected/sources/configMap/name".to_string()
            )
        );
        assert!(default_paths("ConfigMap", "Service", "").is_empty());
    }

    /// The trie's walk finds, for every path, the nodes `visit_ref` reaches on its own,
    /// in the same order: through nested lists, shared prefixes, a path that is a prefix
    /// of another, a path given twice, a duplicated key (the later one counts), a list
    /// at the end of a path (not traversed), and the empty path (the object itself).
    #[test]
    fn path_trie_reaches_what_each_path_reaches() {
        let yaml = "\
spec:
  template:
    spec:
      containers:
        - name: a
          env:
            - valueFrom: {configMapKeyRef: {name: one}}
            - valueFrom: {secretKeyRef: {name: two}}
            - [{valueFrom: {configMapKeyRef: {name: nested}}}]
        - name: b
          env:
            - valueFrom: {configMapKeyRef: {name: three}}
          envFrom:
            - configMapRef: {name: four}
      volumes:
        - configMap: {name: early}
          configMap: {name: late}
      imagePullSecrets: [{name: x}, {name: y}]
rules:
  - resourceNames: [p, q]
  - resourceNames: r
";
        let stream = crate::load::yaml::parse_stream(yaml);
        let Some(root) = stream.documents.first().map(|d| &d.root) else {
            panic!("the test document parses");
        };
        let paths: Vec<Vec<String>> = [
            "spec/template/spec/containers/env/valueFrom/configMapKeyRef/name",
            "spec/template/spec/containers/env/valueFrom/secretKeyRef/name",
            "spec/template/spec/containers/envFrom/configMapRef/name",
            "spec/template/spec/containers/name",
            "spec/template/spec/containers",
            "spec/template/spec/volumes/configMap/name",
            "spec/template/spec/imagePullSecrets/name",
            "spec/template/spec/imagePullSecrets/name",
            "spec/template/spec/missing/name",
            "rules/resourceNames",
            "",
        ]
        .iter()
        .map(|p| split_path(p))
        .collect();
        let trie = PathTrie::of(paths.iter().map(Vec::as_slice));
        let leaves = trie.leaves(root, paths.len());
        assert_eq!(leaves.len(), paths.len());
        let text = |nodes: &[&Node]| -> Vec<String> {
            nodes
                .iter()
                .map(|n| match n.scalar_text() {
                    Some(text) => text.to_string(),
                    None => format!("{:?}", n.span),
                })
                .collect()
        };
        for (path, found) in paths.iter().zip(&leaves) {
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            let mut expected = Vec::new();
            visit_ref(root, &segments, &mut |leaf| expected.push(leaf));
            assert_eq!(text(found), text(&expected), "path {path:?}");
            assert!(
                found
                    .iter()
                    .zip(&expected)
                    .all(|(a, b)| std::ptr::eq(*a, *b)),
                "path {path:?}"
            );
        }
        // The early-stopping walk answers what the gathered leaves answer, path by path
        // and for all paths together.
        type Test = (&'static str, fn(&Node) -> bool);
        let tests: [Test; 4] = [
            ("mapping reference", holds_mapping_reference),
            ("scalar", |n| n.as_scalar().is_some()),
            ("`late`", |n| n.scalar_text() == Some("late")),
            ("`early`", |n| n.scalar_text() == Some("early")),
        ];
        for (what, wanted) in tests {
            for (path, found) in paths.iter().zip(&leaves) {
                let alone = PathTrie::of([path.as_slice()]);
                assert_eq!(
                    alone.any_leaf(root, &wanted),
                    found.iter().any(|n| wanted(n)),
                    "{what} at {path:?}"
                );
            }
            assert_eq!(
                trie.any_leaf(root, &wanted),
                leaves.iter().flatten().any(|n| wanted(n)),
                "{what}"
            );
        }
        let names = |at: usize| text(leaves.get(at).map_or(&[][..], Vec::as_slice));
        assert_eq!(names(0), ["one", "nested", "three"]);
        assert_eq!(names(5), ["late"]);
        assert_eq!(names(6), ["x", "y"]);
        assert_eq!(names(7), ["x", "y"]);
        assert!(names(8).is_empty());
        assert_eq!(names(9).len(), 2);
        assert_eq!(names(10).len(), 1);
    }
}
