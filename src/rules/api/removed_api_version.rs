use crate::diagnostic::{Applicability, Edit, Fix};
use crate::fix::block::{Block, content_end, point, range};
use crate::fix::text;
use crate::load::Sources;
use crate::load::yaml::{Node, Resolved};
use crate::model::Object;
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
            let diagnostic = sink
                .report(object.location(span), message)
                .with_label(match removal.replacement {
                    Some(replacement) => format!("removed: use {replacement}"),
                    None => "removed API".to_string(),
                })
                .with_help(help)
                .with_object(object.identity(), "apiVersion");
            if let Some(replacement) = removal.replacement
                && let Some(fix) = conversion(ctx.sources, object, replacement)
            {
                diagnostic.with_fix(fix);
            }
        }
    }
}

/// Kinds whose schema is the same in the removed and the replacing version: the rewrite of
/// `apiVersion` is the whole conversion.
const SAME_SCHEMA: &[(&str, &str)] = &[
    ("batch/v1beta1", "CronJob"),
    ("batch/v2alpha1", "CronJob"),
    ("extensions/v1beta1", "NetworkPolicy"),
    ("networking.k8s.io/v1beta1", "IngressClass"),
];

/// The mechanical conversions: same-schema kinds, and Ingress v1beta1 to
/// networking.k8s.io/v1. Every edited node must be written, block style, in the file of the
/// object's `apiVersion`; otherwise no fix.
fn conversion(sources: &Sources, object: &Object, replacement: &str) -> Option<Fix> {
    let (_, version) = object.node.entry("apiVersion")?;
    let file = object.location_of(version).file;
    let source = sources.get(file)?;
    let block = Block::new(file, &source.text, object);
    block.scalar_text(version)?;
    let mut edits = vec![Edit {
        file,
        span: version.span,
        replacement: replacement.to_string(),
    }];
    let same_schema = SAME_SCHEMA
        .iter()
        .any(|(api, kind)| *api == object.api_version && *kind == object.kind);
    if !same_schema {
        if object.kind != "Ingress" {
            return None;
        }
        edits.extend(ingress_v1(&block)?);
    }
    Some(Fix {
        applicability: Applicability::Safe,
        description: format!("convert to `apiVersion: {replacement}`"),
        edits,
        new_files: Vec::new(),
    })
}

/// Ingress v1beta1 → v1: `spec.backend` becomes `spec.defaultBackend`, every
/// `serviceName`/`servicePort` pair becomes `service: {name, port: {number|name}}` (at the
/// file's indentation, values as written), and every path without `pathType` gets
/// `ImplementationSpecific`, the v1beta1 behaviour.
fn ingress_v1(block: &Block<'_>) -> Option<Vec<Edit>> {
    let spec = block.object.node.get("spec")?;
    let mut edits = Vec::new();
    if let Some((key, backend)) = spec.entry("backend") {
        block.column(key)?;
        edits.push(Edit {
            file: block.file,
            span: key.span,
            replacement: "defaultBackend".to_string(),
        });
        edits.extend(backend_v1(block, key, backend)?);
    }
    for rule in spec.get("rules").and_then(Node::as_seq).unwrap_or(&[]) {
        let Some(paths) = rule.path(&["http", "paths"]) else {
            continue;
        };
        for path in paths.as_seq()? {
            let entries = path.as_map()?;
            if let Some((key, backend)) = path.entry("backend") {
                edits.extend(backend_v1(block, key, backend)?);
            }
            if path.get("pathType").is_none() {
                let (first, _) = entries.first()?;
                let column = block.column(first)?;
                let (last_key, last_value) = entries.last()?;
                block.column(last_key)?;
                let end = content_end(last_value);
                if !text::rest_is_blank_or_comment(block.text, end) {
                    return None;
                }
                let at = text::line_end(block.text, end);
                let newline = if block.text[..at].ends_with('\n') {
                    ""
                } else {
                    "\n"
                };
                edits.push(Edit {
                    file: block.file,
                    span: point(block.text, at),
                    replacement: format!(
                        "{newline}{}pathType: ImplementationSpecific\n",
                        " ".repeat(column)
                    ),
                });
            }
        }
    }
    Some(edits)
}

/// `serviceName: a` + `servicePort: b` → `service:` / `name: a` / `port:` / `number: b`
/// (or `name: b` for a named port). `None` when the backend cannot be edited safely.
fn backend_v1(block: &Block<'_>, key: &Node, backend: &Node) -> Option<Vec<Edit>> {
    let (name_key, name) = backend.entry("serviceName")?;
    let (port_key, port) = backend.entry("servicePort")?;
    let name_text = block.scalar_text(name)?;
    let port_text = block.scalar_text(port)?;
    let name_lines = block.entry_lines(name_key, name)?;
    let port_lines = block.entry_lines(port_key, port)?;
    let indent = block.indent(name_key)?.len();
    let step = indent.checked_sub(block.column(key)?).filter(|s| *s > 0)?;
    let port_field = match port.as_scalar()?.resolve() {
        Resolved::Int(_) => "number",
        Resolved::Str => "name",
        _ => return None,
    };
    let pad = |depth: usize| " ".repeat(indent + depth * step);
    // A comment after either value stays on the line of its value.
    let comment = |value: &Node| {
        let end = content_end(value);
        let rest = block
            .text
            .get(end..text::line_end(block.text, end))
            .unwrap_or("")
            .trim_end_matches(['\n', '\r']);
        if rest.trim_start().starts_with('#') {
            rest.to_string()
        } else {
            String::new()
        }
    };
    let service = format!(
        "{}service:\n{}name: {name_text}{}\n{}port:\n{}{port_field}: {port_text}{}\n",
        pad(0),
        pad(1),
        comment(name),
        pad(1),
        pad(2),
        comment(port)
    );
    let (first, second) = if name_lines.0 < port_lines.0 {
        (name_lines, port_lines)
    } else {
        (port_lines, name_lines)
    };
    let text = block.text;
    // The last line of the file may lack its line break.
    let service = if text[..first.1].ends_with('\n') {
        service
    } else {
        service.trim_end_matches('\n').to_string()
    };
    Some(vec![
        Edit {
            file: block.file,
            span: range(text, first.0, first.1),
            replacement: service,
        },
        Edit {
            file: block.file,
            span: range(text, second.0, second.1),
            replacement: String::new(),
        },
    ])
}
