//! Kubernetes kind facts that several stages need (kustomize builds, the model):
//! which kinds are cluster-scoped, which are workloads and where their pod template
//! is, and how the items of a typed list are read. Imports nothing above `load`.

use crate::load::yaml::{Node, NodeKind};

/// The API group of an `apiVersion` (`""` for the core group).
pub fn api_group(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

pub const CLUSTER_SCOPED_KINDS: &[&str] = &[
    "Namespace",
    "ClusterIssuer",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "IngressClass",
    "GatewayClass",
    "PriorityClass",
    "Node",
    "PodSecurityPolicy",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
    "RuntimeClass",
    "ClusterPolicy",
    "AdminNetworkPolicy",
    "BaselineAdminNetworkPolicy",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding",
    "CSIDriver",
    "CSINode",
    "VolumeAttachment",
    "CertificateSigningRequest",
    "FlowSchema",
    "PriorityLevelConfiguration",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    Pod,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    ReplicationController,
    Job,
    CronJob,
}

impl WorkloadKind {
    pub fn from_kind(kind: &str) -> Option<WorkloadKind> {
        Some(match kind {
            "Pod" => WorkloadKind::Pod,
            "Deployment" => WorkloadKind::Deployment,
            "StatefulSet" => WorkloadKind::StatefulSet,
            "DaemonSet" => WorkloadKind::DaemonSet,
            "ReplicaSet" => WorkloadKind::ReplicaSet,
            "ReplicationController" => WorkloadKind::ReplicationController,
            "Job" => WorkloadKind::Job,
            "CronJob" => WorkloadKind::CronJob,
            _ => return None,
        })
    }

    /// Path from the object root to its pod template (empty for a Pod: the object is the pod).
    pub fn template_path(self) -> &'static [&'static str] {
        match self {
            WorkloadKind::Pod => &[],
            WorkloadKind::CronJob => &["spec", "jobTemplate", "spec", "template"],
            _ => &["spec", "template"],
        }
    }
}

/// An item of a `List` document, with what a typed list implies filled in: the API
/// server and `kubectl get -o yaml` write `PodList`, `DeploymentList`, … with `kind`
/// and `apiVersion` on the list only, so an item without `kind` takes the list's kind
/// less `List`, and one without `apiVersion` the list's. A generic `List` implies nothing
/// (its items must say what they are). Synthesised values point at the item.
pub fn list_item(list: &Node, item: &Node) -> Node {
    let mut item = item.clone();
    let span = item.span;
    let origin = item.origin();
    let list_kind = list.get("kind").and_then(Node::as_str).unwrap_or_default();
    let Some(kind) = list_kind.strip_suffix("List").filter(|k| !k.is_empty()) else {
        return item;
    };
    let api_version = list.get("apiVersion").and_then(Node::as_str);
    let NodeKind::Map(entries, _) = &mut item.kind else {
        return item;
    };
    let absent = |entries: &[(Node, Node)], key: &str| {
        !entries.iter().any(|(k, _)| k.scalar_text() == Some(key))
    };
    if absent(entries, "kind") {
        entries.push((
            Node::synthetic_str("kind", span, origin),
            Node::synthetic_str(kind, span, origin),
        ));
        if let Some(api_version) = api_version.filter(|_| absent(entries, "apiVersion")) {
            entries.push((
                Node::synthetic_str("apiVersion", span, origin),
                Node::synthetic_str(api_version, span, origin),
            ));
        }
    }
    item
}
