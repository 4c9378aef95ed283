//! A NetworkPolicy's or an Ingress's `spec` read straight from the tree into
//! [`PolicySpec`] or [`IngressSpec`], when it is plainly well-formed: every field the k8s-openapi type reads holds the JSON type it asks
//! for. Anything else (a wrong type, a number out of range, a non-scalar key) returns
//! `None`, and the caller decodes through k8s-openapi as before, which reports the schema
//! error where there is one. So this path never accepts what decoding rejects, and gives
//! what decoding then `From` give: the tests in `de.rs` hold it to both.
//!
//! Why: a repository's NetworkPolicies and Ingresses are typically one per workload, and
//! decoding each into k8s-openapi's structs (a `BTreeMap` and `String`s per selector) and
//! then moving it into the model's was half of the typing stage.
//!
//! Fields are read as `de` presents them: the last of repeated keys, keys compared by their
//! raw text, scalars resolved as `to_json` resolves them; an unknown field is ignored, and
//! a missing or null one is absent (`cidr`, `key` and `operator` then empty, as
//! k8s-openapi defaults them).

use k8s_openapi::api::networking::v1::{
    IPBlock, IngressServiceBackend, NetworkPolicyPort, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::NamedPort;
use super::de::{json_bool, json_int, json_is_null, json_str, lenient_text};
use super::specs::{IngressSpec, LabelMap, PeerSpec, PolicyRuleSpec, PolicySpec, SelectorSpec};
use crate::load::yaml::{Node, NodeKind};

/// The spec, or `None` when only decoding can say what it is.
pub fn policy_spec(spec: &Node) -> Option<PolicySpec> {
    let spec = entries(spec)?;
    Some(PolicySpec {
        pod_selector: optional(field(spec, "podSelector"), selector)?,
        policy_types: optional(field(spec, "policyTypes"), strings)?,
        ingress: optional(field(spec, "ingress"), |rules| {
            each(rules, |rule| policy_rule(rule, "from"))
        })?,
        egress: optional(field(spec, "egress"), |rules| {
            each(rules, |rule| policy_rule(rule, "to"))
        })?,
    })
}

fn policy_rule(rule: &Node, peers_key: &str) -> Option<PolicyRuleSpec> {
    let rule = entries(rule)?;
    Some(PolicyRuleSpec {
        peers: optional(field(rule, peers_key), |peers| each(peers, peer))?,
        ports: optional(field(rule, "ports"), |ports| each(ports, port))?,
    })
}

fn peer(peer: &Node) -> Option<PeerSpec> {
    let peer = entries(peer)?;
    Some(PeerSpec {
        ip_block: optional(field(peer, "ipBlock"), ip_block)?.map(Box::new),
        namespace_selector: optional(field(peer, "namespaceSelector"), selector)?,
        pod_selector: optional(field(peer, "podSelector"), selector)?,
    })
}

fn ip_block(block: &Node) -> Option<IPBlock> {
    let block = entries(block)?;
    Some(IPBlock {
        cidr: defaulted_string(field(block, "cidr"))?,
        except: optional(field(block, "except"), strings)?,
    })
}

fn selector(selector: &Node) -> Option<SelectorSpec> {
    let selector = entries(selector)?;
    Some(SelectorSpec {
        match_labels: optional(field(selector, "matchLabels"), labels)?.unwrap_or_default(),
        match_expressions: optional(field(selector, "matchExpressions"), |expressions| {
            each(expressions, requirement)
        })?
        .unwrap_or_default()
        .into(),
    })
}

/// A string-to-string mapping; the last of repeated keys wins, as in a `BTreeMap`.
fn labels(map: &Node) -> Option<LabelMap> {
    entries(map)?
        .iter()
        .map(|(key, value)| Some((key.as_scalar()?.value.as_str(), json_str(value)?)))
        .collect()
}

fn requirement(requirement: &Node) -> Option<LabelSelectorRequirement> {
    let requirement = entries(requirement)?;
    Some(LabelSelectorRequirement {
        key: defaulted_string(field(requirement, "key"))?,
        operator: defaulted_string(field(requirement, "operator"))?,
        values: optional(field(requirement, "values"), strings)?,
    })
}

fn port(port: &Node) -> Option<NetworkPolicyPort> {
    let port = entries(port)?;
    Some(NetworkPolicyPort {
        end_port: optional(field(port, "endPort"), |n| i32::try_from(json_int(n)?).ok())?,
        port: optional(field(port, "port"), int_or_string)?,
        protocol: optional(field(port, "protocol"), |n| json_str(n).map(String::from))?,
    })
}

/// A 32-bit integer or a string, as k8s-openapi's `IntOrString` visitor takes them.
fn int_or_string(node: &Node) -> Option<IntOrString> {
    Some(match int_or_str(node)? {
        Ok(number) => IntOrString::Int(number),
        Err(text) => IntOrString::String(text.to_string()),
    })
}

/// [`int_or_string`] without copying the string.
fn int_or_str(node: &Node) -> Option<Result<i32, &str>> {
    match json_int(node) {
        Some(number) => i32::try_from(number).ok().map(Ok),
        None => json_str(node).map(Err),
    }
}

/// The spec, or `None` when only decoding can say what it is. Hosts, paths and TLS are
/// checked, not kept (rules read them from the tree).
pub fn ingress_spec(spec: &Node) -> Option<IngressSpec> {
    let spec = entries(spec)?;
    let ingress_class_name = optional(field(spec, "ingressClassName"), string)?;
    let default_backend = optional(field(spec, "defaultBackend"), backend)?.flatten();
    let rules = optional(field(spec, "rules"), |rules| each(rules, ingress_rule))?;
    optional(field(spec, "tls"), |tls| each(tls, ingress_tls))?;
    let path_backends = rules
        .into_iter()
        .flatten()
        .enumerate()
        .flat_map(|(i, paths)| {
            paths
                .into_iter()
                .enumerate()
                .filter_map(move |(j, service)| Some((i, j, service?)))
        })
        .collect();
    Some(IngressSpec {
        ingress_class_name,
        default_backend,
        path_backends,
    })
}

/// A rule's paths, each as its Service backend if it has one.
fn ingress_rule(rule: &Node) -> Option<Vec<Option<IngressServiceBackend>>> {
    let rule = entries(rule)?;
    optional(field(rule, "host"), string)?;
    let paths = optional(field(rule, "http"), |http| {
        let http = entries(http)?;
        optional(field(http, "paths"), |paths| each(paths, http_path))
    })?;
    Some(paths.flatten().unwrap_or_default())
}

fn http_path(path: &Node) -> Option<Option<IngressServiceBackend>> {
    let path = entries(path)?;
    optional(field(path, "path"), string)?;
    defaulted_string(field(path, "pathType"))?;
    Some(optional(field(path, "backend"), backend)?.flatten())
}

/// A backend's Service, if it names one; its `resource` is checked.
fn backend(backend: &Node) -> Option<Option<IngressServiceBackend>> {
    let backend = entries(backend)?;
    optional(field(backend, "resource"), |resource| {
        let resource = entries(resource)?;
        optional(field(resource, "apiGroup"), string)?;
        defaulted_string(field(resource, "kind"))?;
        defaulted_string(field(resource, "name"))
    })?;
    optional(field(backend, "service"), |service| {
        let service = entries(service)?;
        Some(IngressServiceBackend {
            name: defaulted_string(field(service, "name"))?,
            port: optional(field(service, "port"), |port| {
                let port = entries(port)?;
                Some(ServiceBackendPort {
                    name: optional(field(port, "name"), string)?,
                    number: optional(field(port, "number"), |n| i32::try_from(json_int(n)?).ok())?,
                })
            })?,
        })
    })
}

fn ingress_tls(tls: &Node) -> Option<()> {
    let tls = entries(tls)?;
    optional(field(tls, "hosts"), strings)?;
    optional(field(tls, "secretName"), string)?;
    Some(())
}

fn string(node: &Node) -> Option<String> {
    json_str(node).map(String::from)
}

fn strings(seq: &Node) -> Option<Vec<String>> {
    each(seq, |item| json_str(item).map(String::from))
}

/// A sequence, every item read by `read`. Sized exactly (as decoding sizes it): a list
/// collected through `Option` grows by doubling, and the model keeps these lists.
fn each<T>(seq: &Node, read: impl Fn(&Node) -> Option<T>) -> Option<Vec<T>> {
    let NodeKind::Seq(items, _) = &seq.kind else {
        return None;
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items.iter() {
        out.push(read(item)?);
    }
    Some(out)
}

/// An optional field: absent or null is `Some(None)`; a value `read` cannot take is `None`.
fn optional<T>(node: Option<&Node>, read: impl FnOnce(&Node) -> Option<T>) -> Option<Option<T>> {
    match present(node) {
        None => Some(None),
        Some(node) => read(node).map(Some),
    }
}

/// A string field k8s-openapi defaults to empty when absent or null.
fn defaulted_string(node: Option<&Node>) -> Option<String> {
    optional(node, |n| json_str(n).map(String::from)).map(Option::unwrap_or_default)
}

fn entries(node: &Node) -> Option<&[(Node, Node)]> {
    match &node.kind {
        NodeKind::Map(entries, _) => Some(entries.as_slice()),
        _ => None,
    }
}

/// What a workload keeps of its pod template: the pod's labels, `hostNetwork`, and the
/// named ports of its containers in document order.
#[derive(Debug, Default, PartialEq)]
pub struct TemplateParts {
    pub labels: LabelMap,
    pub host_network: bool,
    pub named_ports: Vec<NamedPort>,
}

/// A pod template read straight from the tree when it holds only the fields of
/// [`TEMPLATE`], each with the JSON type k8s-openapi asks for; `None` for anything else
/// (an unlisted field such as `affinity` or `tolerations`, a wrong type, a number out of
/// range), which is then decoded as before. Decoding the whole `PodTemplateSpec` only to
/// keep its labels and named ports was the largest part of typing a workload.
pub fn pod_template(template: &Node) -> Option<TemplateParts> {
    if !conforms(template, &TEMPLATE) {
        return None;
    }
    let template = entries(template)?;
    let labels = present(field(template, "metadata"))
        .and_then(|metadata| present(field(entries(metadata)?, "labels")));
    let labels = match labels {
        Some(labels) => lenient_labels(labels)?,
        None => LabelMap::default(),
    };
    let spec = present(field(template, "spec")).and_then(entries);
    let host_network = spec
        .and_then(|spec| present(field(spec, "hostNetwork")))
        .and_then(json_bool)
        == Some(true);
    let containers = spec.and_then(|spec| present(field(spec, "containers")));
    let ports = containers
        .and_then(Node::as_seq)
        .into_iter()
        .flatten()
        .filter_map(|container| present(field(entries(container)?, "ports")))
        .filter_map(Node::as_seq)
        .flatten();
    let named_ports = ports
        .filter_map(|port| {
            let port = entries(port)?;
            Some(NamedPort {
                name: present(field(port, "name")).and_then(json_str)?.to_string(),
                protocol: present(field(port, "protocol"))
                    .and_then(json_str)
                    .map(String::from),
                container_port: present(field(port, "containerPort"))
                    .and_then(int32)
                    .unwrap_or_default(),
            })
        })
        .collect();
    Some(TemplateParts {
        labels,
        host_network,
        named_ports,
    })
}

/// The JSON shape k8s-openapi asks of a field: the part of the pod template's schema that
/// manifests commonly write. A null field counts as absent, as decoding reads it.
enum Shape {
    Str,
    Bool,
    Int,
    Int32,
    IntOrStr,
    /// A sequence whose items all have this shape (none null).
    List(&'static Shape),
    /// Strings by string keys: labels, node selectors, quantities (which k8s-openapi reads
    /// from strings only).
    StrMap,
    /// Object metadata, as [`plain_metadata`] takes it.
    Metadata,
    /// A mapping holding only these fields.
    Object(&'static [(&'static str, Shape)]),
}

use Shape::{Bool, Int, Int32, IntOrStr, List, Metadata, Object, Str, StrMap};

const TEMPLATE: Shape = Object(&[("metadata", Metadata), ("spec", POD_SPEC)]);

const POD_SPEC: Shape = Object(&[
    ("containers", List(&CONTAINER)),
    ("initContainers", List(&CONTAINER)),
    ("volumes", List(&VOLUME)),
    ("securityContext", POD_SECURITY),
    ("imagePullSecrets", List(&Object(&[("name", Str)]))),
    ("nodeSelector", StrMap),
    ("priority", Int32),
    ("activeDeadlineSeconds", Int),
    ("terminationGracePeriodSeconds", Int),
    ("automountServiceAccountToken", Bool),
    ("enableServiceLinks", Bool),
    ("hostIPC", Bool),
    ("hostNetwork", Bool),
    ("hostPID", Bool),
    ("hostUsers", Bool),
    ("setHostnameAsFQDN", Bool),
    ("shareProcessNamespace", Bool),
    ("dnsPolicy", Str),
    ("hostname", Str),
    ("nodeName", Str),
    ("preemptionPolicy", Str),
    ("priorityClassName", Str),
    ("restartPolicy", Str),
    ("runtimeClassName", Str),
    ("schedulerName", Str),
    ("serviceAccount", Str),
    ("serviceAccountName", Str),
    ("subdomain", Str),
]);

const CONTAINER: Shape = Object(&[
    ("name", Str),
    ("image", Str),
    ("imagePullPolicy", Str),
    ("workingDir", Str),
    ("terminationMessagePath", Str),
    ("terminationMessagePolicy", Str),
    ("stdin", Bool),
    ("stdinOnce", Bool),
    ("tty", Bool),
    ("command", List(&Str)),
    ("args", List(&Str)),
    ("ports", List(&CONTAINER_PORT)),
    ("env", List(&ENV_VAR)),
    (
        "resources",
        Object(&[("limits", StrMap), ("requests", StrMap)]),
    ),
    ("volumeMounts", List(&VOLUME_MOUNT)),
    ("livenessProbe", PROBE),
    ("readinessProbe", PROBE),
    ("startupProbe", PROBE),
    ("securityContext", CONTAINER_SECURITY),
]);

const CONTAINER_PORT: Shape = Object(&[
    ("containerPort", Int32),
    ("hostPort", Int32),
    ("hostIP", Str),
    ("name", Str),
    ("protocol", Str),
]);

const ENV_VAR: Shape = Object(&[
    ("name", Str),
    ("value", Str),
    (
        "valueFrom",
        Object(&[
            (
                "fieldRef",
                Object(&[("apiVersion", Str), ("fieldPath", Str)]),
            ),
            ("secretKeyRef", KEY_SELECTOR),
            ("configMapKeyRef", KEY_SELECTOR),
            (
                "resourceFieldRef",
                Object(&[("containerName", Str), ("resource", Str), ("divisor", Str)]),
            ),
        ]),
    ),
]);

const KEY_SELECTOR: Shape = Object(&[("name", Str), ("key", Str), ("optional", Bool)]);

const VOLUME_MOUNT: Shape = Object(&[
    ("name", Str),
    ("mountPath", Str),
    ("subPath", Str),
    ("subPathExpr", Str),
    ("mountPropagation", Str),
    ("recursiveReadOnly", Str),
    ("readOnly", Bool),
]);

const PROBE: Shape = Object(&[
    ("exec", Object(&[("command", List(&Str))])),
    (
        "httpGet",
        Object(&[
            ("path", Str),
            ("port", IntOrStr),
            ("host", Str),
            ("scheme", Str),
            (
                "httpHeaders",
                List(&Object(&[("name", Str), ("value", Str)])),
            ),
        ]),
    ),
    ("tcpSocket", Object(&[("port", IntOrStr), ("host", Str)])),
    ("grpc", Object(&[("port", Int32), ("service", Str)])),
    ("initialDelaySeconds", Int32),
    ("periodSeconds", Int32),
    ("timeoutSeconds", Int32),
    ("successThreshold", Int32),
    ("failureThreshold", Int32),
    ("terminationGracePeriodSeconds", Int),
]);

const PROFILE: Shape = Object(&[("type", Str), ("localhostProfile", Str)]);

const POD_SECURITY: Shape = Object(&[
    ("fsGroup", Int),
    ("runAsGroup", Int),
    ("runAsUser", Int),
    ("runAsNonRoot", Bool),
    ("fsGroupChangePolicy", Str),
    ("seLinuxChangePolicy", Str),
    ("supplementalGroupsPolicy", Str),
    ("supplementalGroups", List(&Int)),
    ("seccompProfile", PROFILE),
    ("appArmorProfile", PROFILE),
]);

const CONTAINER_SECURITY: Shape = Object(&[
    ("allowPrivilegeEscalation", Bool),
    ("privileged", Bool),
    ("readOnlyRootFilesystem", Bool),
    ("runAsNonRoot", Bool),
    ("runAsGroup", Int),
    ("runAsUser", Int),
    ("procMount", Str),
    (
        "capabilities",
        Object(&[("add", List(&Str)), ("drop", List(&Str))]),
    ),
    ("seccompProfile", PROFILE),
    ("appArmorProfile", PROFILE),
]);

const KEY_TO_PATH: Shape = Object(&[("key", Str), ("path", Str), ("mode", Int32)]);

const VOLUME: Shape = Object(&[
    ("name", Str),
    (
        "configMap",
        Object(&[
            ("name", Str),
            ("items", List(&KEY_TO_PATH)),
            ("defaultMode", Int32),
            ("optional", Bool),
        ]),
    ),
    (
        "secret",
        Object(&[
            ("secretName", Str),
            ("items", List(&KEY_TO_PATH)),
            ("defaultMode", Int32),
            ("optional", Bool),
        ]),
    ),
    ("emptyDir", Object(&[("medium", Str), ("sizeLimit", Str)])),
    (
        "persistentVolumeClaim",
        Object(&[("claimName", Str), ("readOnly", Bool)]),
    ),
]);

/// Whether `node` has `shape` (see [`Shape`]).
fn conforms(node: &Node, shape: &Shape) -> bool {
    match shape {
        Str => json_str(node).is_some(),
        Bool => json_bool(node).is_some(),
        Int => json_int(node).is_some(),
        Int32 => int32(node).is_some(),
        IntOrStr => int_or_str(node).is_some(),
        List(item) => node
            .as_seq()
            .is_some_and(|items| items.iter().all(|i| conforms(i, item))),
        StrMap => entries(node).is_some_and(|entries| {
            entries
                .iter()
                .all(|(key, value)| key.as_scalar().is_some() && json_str(value).is_some())
        }),
        Metadata => plain_metadata(node),
        Object(fields) => entries(node).is_some_and(|entries| {
            entries.iter().all(|(key, value)| {
                key.as_scalar().is_some_and(|key| {
                    fields.iter().any(|(name, shape)| {
                        *name == key.value.as_str()
                            && (json_is_null(value) || conforms(value, shape))
                    })
                })
            })
        }),
    }
}

/// A field that is there and not null.
fn present(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| !json_is_null(n))
}

/// Labels of object metadata as decoding reads them (`de::Mode::LenientMap`): a string
/// as written, null as empty, any other value as its JSON text.
fn lenient_labels(map: &Node) -> Option<LabelMap> {
    entries(map)?
        .iter()
        .map(|(key, value)| {
            let text = match json_str(value) {
                Some(text) => text.into(),
                None => ecow::EcoString::from(lenient_text(value)),
            };
            Some((key.as_scalar()?.value.as_str(), text))
        })
        .collect()
}

fn int32(node: &Node) -> Option<i32> {
    i32::try_from(json_int(node)?).ok()
}

/// The value of the last entry whose key's raw text is `name`.
fn field<'n>(entries: &'n [(Node, Node)], name: &str) -> Option<&'n Node> {
    entries
        .iter()
        .rev()
        .find(|(key, _)| key.as_scalar().is_some_and(|k| k.value.as_str() == name))
        .map(|(_, value)| value)
}

/// Whether object metadata is plainly well-formed, so decoding it (done for its schema
/// errors only) cannot fail: names as strings, labels and annotations as mappings (read
/// leniently, any values), a generation as an integer, finalizers as strings. Any other
/// field, or an odd key, is left to decoding.
pub fn plain_metadata(metadata: &Node) -> bool {
    let Some(entries) = entries(metadata) else {
        return false;
    };
    entries.iter().all(|(key, value)| {
        let Some(key) = key.as_scalar() else {
            return false;
        };
        json_is_null(value)
            || match key.value.as_str() {
                "name" | "namespace" | "generateName" | "uid" | "resourceVersion" | "selfLink" => {
                    json_str(value).is_some()
                }
                "labels" | "annotations" => matches!(value.kind, NodeKind::Map(_, _)),
                "generation" | "deletionGracePeriodSeconds" => json_int(value).is_some(),
                "finalizers" => strings(value).is_some(),
                _ => false,
            }
    })
}
