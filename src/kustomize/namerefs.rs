//! Name references: the fields where one object names another, as kustomize's
//! default `nameReference` configuration lists them. When a transformer renames an
//! object (a name prefix or suffix, a generator's content hash), every reference to
//! it in these fields follows.

use crate::kinds::CLUSTER_SCOPED_KINDS;
use crate::load::yaml::{Node, NodeKind};

use super::Built;

/// An object renamed: references to `kind` named one of `from` (in `namespace`, or
/// in any namespace when `None`) now name `to`.
#[derive(Debug, Clone)]
pub struct Rename {
    pub kind: String,
    pub namespace: Option<String>,
    pub from: Vec<String>,
    pub to: String,
}

/// An object the namespace transformer moved out of namespace `from` (`default` when it
/// had none).
#[derive(Debug, Clone)]
pub struct Move {
    pub kind: String,
    pub name: String,
    pub from: String,
}

/// After a namespace move, the references that name a moved object with its namespace
/// follow it, as kustomize does:
/// - a RoleBinding's or ClusterRoleBinding's subject named like a moved ServiceAccount,
///   written without a namespace or with the old one (kustomize does not look at the
///   subject's `kind` here, so a User of the same name follows too);
/// - a webhook's `clientConfig.service` naming a moved Service in its old namespace;
/// - with `default_subjects`, ServiceAccount subjects named `default` in `default` (or
///   none), kustomize's `setRoleBindingSubjects: defaultOnly`.
pub fn follow_moves(
    resources: &mut [Built],
    moves: &[Move],
    namespace: &super::spec::Entry,
    file: crate::span::FileId,
    default_subjects: bool,
) {
    let moved = |kind: &str, name: &str, written: Option<&str>| {
        moves.iter().any(|m| {
            m.kind == kind && m.name == name && written.is_none_or(|w| w.is_empty() || w == m.from)
        })
    };
    let new_namespace = || Node::synthetic_str(&namespace.value, namespace.span, Some(file));
    for resource in resources.iter_mut() {
        let (kind, _) = kind_and_group(&resource.node);
        let path: &[&str] = match kind.as_str() {
            "RoleBinding" | "ClusterRoleBinding" => &["subjects"],
            "ValidatingWebhookConfiguration" | "MutatingWebhookConfiguration" => {
                &["webhooks", "clientConfig", "service"]
            }
            _ => continue,
        };
        let subjects = path == ["subjects"];
        let mut follow = |reference: &mut Node| {
            let Some(name) = reference.get("name").and_then(Node::scalar_text) else {
                return;
            };
            let written = reference.get("namespace").and_then(Node::scalar_text);
            let follows = if subjects {
                let service_account =
                    reference.get("kind").and_then(Node::scalar_text) == Some("ServiceAccount");
                moved("ServiceAccount", name, written)
                    || (default_subjects
                        && service_account
                        && name == "default"
                        && written.is_none_or(|w| w.is_empty() || w == "default"))
            } else {
                written.is_some() && moved("Service", name, written)
            };
            if follows {
                super::transform::set(reference, "namespace", new_namespace());
            }
        };
        visit(
            &mut resource.node,
            path,
            &mut |found| match &mut found.kind {
                NodeKind::Seq(items) => items.iter_mut().for_each(&mut follow),
                _ => follow(found),
            },
        );
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
            simple("APIService", "spec/service/name");
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
        // The whole `roleRef`: its `kind` says whether a Role or a ClusterRole is meant.
        "Role" => simple("RoleBinding", "roleRef"),
        "ClusterRole" => {
            simple("RoleBinding", "roleRef");
            simple("ClusterRoleBinding", "roleRef");
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

fn kind_and_group(node: &Node) -> (String, String) {
    let kind = node
        .get("kind")
        .and_then(Node::scalar_text)
        .unwrap_or_default();
    let api_version = node
        .get("apiVersion")
        .and_then(Node::scalar_text)
        .unwrap_or_default();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    (kind.to_string(), group.to_string())
}

fn namespace_of(node: &Node) -> &str {
    node.path(&["metadata", "namespace"])
        .and_then(Node::scalar_text)
        .filter(|n| !n.is_empty())
        .unwrap_or("default")
}

/// Rewrites, in every object, the references that `renames` make stale.
pub fn rewrite(resources: &mut [Built], renames: &[Rename], custom: &[CustomReference]) {
    if renames.is_empty() {
        return;
    }
    let mut kinds: Vec<&str> = renames.iter().map(|r| r.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    for resource in resources.iter_mut() {
        let (kind, group) = kind_and_group(&resource.node);
        let own_namespace = if CLUSTER_SCOPED_KINDS.contains(&kind.as_str()) {
            None
        } else {
            Some(namespace_of(&resource.node).to_string())
        };
        for referenced in &kinds {
            let mut paths: Vec<Vec<String>> = default_paths(referenced, &kind, &group)
                .iter()
                .map(|p| split_path(p))
                .collect();
            paths.extend(
                custom
                    .iter()
                    .filter(|c| {
                        c.referenced_kind == *referenced
                            && c.referrer_kind.as_deref().is_none_or(|k| k == kind)
                    })
                    .map(|c| c.path.clone()),
            );
            let lookup = |name: &str, namespace: Option<&str>| -> Option<String> {
                let namespace = namespace.or(own_namespace.as_deref());
                renames
                    .iter()
                    .find(|r| {
                        r.kind == *referenced
                            && r.from.iter().any(|f| f == name)
                            && match (&r.namespace, namespace) {
                                (Some(a), Some(b)) => a == b,
                                _ => true,
                            }
                    })
                    .map(|r| r.to.clone())
            };
            for path in &paths {
                let segments: Vec<&str> = path.iter().map(String::as_str).collect();
                visit(&mut resource.node, &segments, &mut |leaf| {
                    rewrite_leaf(leaf, referenced, &lookup);
                });
            }
        }
    }
}

fn rewrite_leaf(
    leaf: &mut Node,
    referenced: &str,
    lookup: &dyn Fn(&str, Option<&str>) -> Option<String>,
) {
    match &mut leaf.kind {
        NodeKind::Scalar(scalar) => {
            if let Some(new) = lookup(&scalar.value, None) {
                scalar.value = new.as_str().into();
            }
        }
        NodeKind::Seq(items) => {
            for item in items {
                rewrite_leaf(item, referenced, lookup);
            }
        }
        NodeKind::Map(_) => {
            // A subject, a `roleRef` or a webhook's service: `name`, with `namespace`
            // or `kind` beside it. kustomize matches subjects by name whatever their kind.
            if referenced != "ServiceAccount"
                && leaf
                    .get("kind")
                    .and_then(Node::scalar_text)
                    .is_some_and(|k| k != referenced)
            {
                return;
            }
            let namespace = leaf
                .get("namespace")
                .and_then(Node::scalar_text)
                .map(str::to_string);
            let Some(name) = leaf.get("name").and_then(Node::scalar_text) else {
                return;
            };
            if let Some(new) = lookup(name, namespace.as_deref())
                && let Some(slot) = super::transform::get_mut(leaf, "name")
                && let NodeKind::Scalar(scalar) = &mut slot.kind
            {
                scalar.value = new.as_str().into();
            }
        }
    }
}

/// Calls `apply` on the node at `path`, traversing lists on the way. (kustomize
/// rewrites `rules/resourceNames` whatever the rule's `resources` say.)
fn visit(node: &mut Node, path: &[&str], apply: &mut dyn FnMut(&mut Node)) {
    if let NodeKind::Seq(items) = &mut node.kind {
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
}
