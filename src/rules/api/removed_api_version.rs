use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(RemovedApiVersion, "removed-api-version");

/// A served API version that a Kubernetes (or cert-manager) release stopped serving.
struct Removal {
    api_version: &'static str,
    /// Kinds affected; empty means every kind of the group version.
    kinds: &'static [&'static str],
    removed_in: &'static str,
    /// The version to use instead; `None` when the kind itself is gone.
    replacement: Option<&'static str>,
    note: &'static str,
}

const WORKLOADS: &[&str] = &[
    "Deployment",
    "DaemonSet",
    "ReplicaSet",
    "StatefulSet",
    "ControllerRevision",
];

/// From the Kubernetes deprecated API migration guide and cert-manager's upgrade notes.
const REMOVALS: &[Removal] = &[
    Removal {
        api_version: "extensions/v1beta1",
        kinds: &["Ingress"],
        removed_in: "Kubernetes 1.22",
        replacement: Some("networking.k8s.io/v1"),
        note: "the backend becomes `service: {name, port: {number|name}}` and `pathType` is required",
    },
    Removal {
        api_version: "networking.k8s.io/v1beta1",
        kinds: &["Ingress", "IngressClass"],
        removed_in: "Kubernetes 1.22",
        replacement: Some("networking.k8s.io/v1"),
        note: "the backend becomes `service: {name, port: {number|name}}` and `pathType` is required",
    },
    Removal {
        api_version: "extensions/v1beta1",
        kinds: &["NetworkPolicy"],
        removed_in: "Kubernetes 1.16",
        replacement: Some("networking.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "extensions/v1beta1",
        kinds: &["Deployment", "DaemonSet", "ReplicaSet"],
        removed_in: "Kubernetes 1.16",
        replacement: Some("apps/v1"),
        note: "`spec.selector` is required and immutable in apps/v1",
    },
    Removal {
        api_version: "extensions/v1beta1",
        kinds: &["PodSecurityPolicy"],
        removed_in: "Kubernetes 1.16",
        replacement: None,
        note: "PodSecurityPolicy is gone since Kubernetes 1.25: use Pod Security Admission labels on the Namespace",
    },
    Removal {
        api_version: "apps/v1beta1",
        kinds: WORKLOADS,
        removed_in: "Kubernetes 1.16",
        replacement: Some("apps/v1"),
        note: "`spec.selector` is required and immutable in apps/v1",
    },
    Removal {
        api_version: "apps/v1beta2",
        kinds: WORKLOADS,
        removed_in: "Kubernetes 1.16",
        replacement: Some("apps/v1"),
        note: "",
    },
    Removal {
        api_version: "policy/v1beta1",
        kinds: &["PodSecurityPolicy"],
        removed_in: "Kubernetes 1.25",
        replacement: None,
        note: "PodSecurityPolicy is gone: use Pod Security Admission labels on the Namespace",
    },
    Removal {
        api_version: "policy/v1beta1",
        kinds: &["PodDisruptionBudget"],
        removed_in: "Kubernetes 1.25",
        replacement: Some("policy/v1"),
        note: "an empty `spec.selector` selects every pod of the namespace in policy/v1",
    },
    Removal {
        api_version: "batch/v1beta1",
        kinds: &["CronJob"],
        removed_in: "Kubernetes 1.25",
        replacement: Some("batch/v1"),
        note: "",
    },
    Removal {
        api_version: "batch/v2alpha1",
        kinds: &["CronJob"],
        removed_in: "Kubernetes 1.21",
        replacement: Some("batch/v1"),
        note: "",
    },
    Removal {
        api_version: "autoscaling/v2beta1",
        kinds: &["HorizontalPodAutoscaler"],
        removed_in: "Kubernetes 1.25",
        replacement: Some("autoscaling/v2"),
        note: "",
    },
    Removal {
        api_version: "autoscaling/v2beta2",
        kinds: &["HorizontalPodAutoscaler"],
        removed_in: "Kubernetes 1.26",
        replacement: Some("autoscaling/v2"),
        note: "",
    },
    Removal {
        api_version: "discovery.k8s.io/v1beta1",
        kinds: &["EndpointSlice"],
        removed_in: "Kubernetes 1.25",
        replacement: Some("discovery.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "events.k8s.io/v1beta1",
        kinds: &["Event"],
        removed_in: "Kubernetes 1.25",
        replacement: Some("events.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "node.k8s.io/v1beta1",
        kinds: &["RuntimeClass"],
        removed_in: "Kubernetes 1.25",
        replacement: Some("node.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "rbac.authorization.k8s.io/v1beta1",
        kinds: &[],
        removed_in: "Kubernetes 1.22",
        replacement: Some("rbac.authorization.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "rbac.authorization.k8s.io/v1alpha1",
        kinds: &[],
        removed_in: "Kubernetes 1.22",
        replacement: Some("rbac.authorization.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "apiextensions.k8s.io/v1beta1",
        kinds: &["CustomResourceDefinition"],
        removed_in: "Kubernetes 1.22",
        replacement: Some("apiextensions.k8s.io/v1"),
        note: "a structural `openAPIV3Schema` per version is required",
    },
    Removal {
        api_version: "admissionregistration.k8s.io/v1beta1",
        kinds: &[],
        removed_in: "Kubernetes 1.22",
        replacement: Some("admissionregistration.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "apiregistration.k8s.io/v1beta1",
        kinds: &["APIService"],
        removed_in: "Kubernetes 1.22",
        replacement: Some("apiregistration.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "certificates.k8s.io/v1beta1",
        kinds: &["CertificateSigningRequest"],
        removed_in: "Kubernetes 1.22",
        replacement: Some("certificates.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "coordination.k8s.io/v1beta1",
        kinds: &["Lease"],
        removed_in: "Kubernetes 1.22",
        replacement: Some("coordination.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "scheduling.k8s.io/v1beta1",
        kinds: &["PriorityClass"],
        removed_in: "Kubernetes 1.22",
        replacement: Some("scheduling.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "storage.k8s.io/v1beta1",
        kinds: &["CSIDriver", "CSINode", "StorageClass", "VolumeAttachment"],
        removed_in: "Kubernetes 1.22",
        replacement: Some("storage.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "storage.k8s.io/v1beta1",
        kinds: &["CSIStorageCapacity"],
        removed_in: "Kubernetes 1.27",
        replacement: Some("storage.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "flowcontrol.apiserver.k8s.io/v1beta1",
        kinds: &[],
        removed_in: "Kubernetes 1.26",
        replacement: Some("flowcontrol.apiserver.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "flowcontrol.apiserver.k8s.io/v1beta2",
        kinds: &[],
        removed_in: "Kubernetes 1.29",
        replacement: Some("flowcontrol.apiserver.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "flowcontrol.apiserver.k8s.io/v1beta3",
        kinds: &[],
        removed_in: "Kubernetes 1.32",
        replacement: Some("flowcontrol.apiserver.k8s.io/v1"),
        note: "",
    },
    Removal {
        api_version: "cert-manager.io/v1alpha2",
        kinds: &[],
        removed_in: "cert-manager 1.6",
        replacement: Some("cert-manager.io/v1"),
        note: "",
    },
    Removal {
        api_version: "cert-manager.io/v1alpha3",
        kinds: &[],
        removed_in: "cert-manager 1.6",
        replacement: Some("cert-manager.io/v1"),
        note: "",
    },
    Removal {
        api_version: "cert-manager.io/v1beta1",
        kinds: &[],
        removed_in: "cert-manager 1.6",
        replacement: Some("cert-manager.io/v1"),
        note: "",
    },
    Removal {
        api_version: "acme.cert-manager.io/v1alpha2",
        kinds: &[],
        removed_in: "cert-manager 1.6",
        replacement: Some("acme.cert-manager.io/v1"),
        note: "",
    },
    Removal {
        api_version: "acme.cert-manager.io/v1alpha3",
        kinds: &[],
        removed_in: "cert-manager 1.6",
        replacement: Some("acme.cert-manager.io/v1"),
        note: "",
    },
    Removal {
        api_version: "acme.cert-manager.io/v1beta1",
        kinds: &[],
        removed_in: "cert-manager 1.6",
        replacement: Some("acme.cert-manager.io/v1"),
        note: "",
    },
    Removal {
        api_version: "certmanager.k8s.io/v1alpha1",
        kinds: &[],
        removed_in: "cert-manager 0.11",
        replacement: Some("cert-manager.io/v1"),
        note: "",
    },
];

impl Rule for RemovedApiVersion {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        for object in &ctx.model.objects {
            let Some(removal) = REMOVALS.iter().find(|r| {
                r.api_version == object.api_version
                    && (r.kinds.is_empty() || r.kinds.contains(&object.kind.as_str()))
            }) else {
                continue;
            };
            let span = object.span_at(&["apiVersion"]);
            let message = format!(
                "`{}` {} was removed in {}",
                removal.api_version, object.kind, removal.removed_in
            );
            let help = match (removal.replacement, removal.note) {
                (Some(replacement), "") => format!("use `apiVersion: {replacement}`"),
                (Some(replacement), note) => format!("use `apiVersion: {replacement}`; {note}"),
                (None, note) => note.to_string(),
            };
            sink.report(object.location(span), message)
                .with_label(match removal.replacement {
                    Some(replacement) => format!("removed: use {replacement}"),
                    None => "removed API".to_string(),
                })
                .with_help(help)
                .with_object(object.identity(), "apiVersion");
        }
    }
}
