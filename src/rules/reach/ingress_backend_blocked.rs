use std::fmt::Write;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::backends::{Backend, backends, find_port, find_service, target_port};
use super::write_selector;
use crate::escape::Inline;
use crate::graph::ports::Protocol;
use crate::graph::selector::Selector;
use crate::graph::{EndpointRole, Graph, PlatformEndpoint, XKS_NAME_LABEL};
use crate::model::Model;
use crate::rules::{Rule, RuleContext, Sink, Work, declare_rule, rule_identity};

declare_rule!(IngressBackendBlocked, "ingress-backend-blocked");

impl Rule for IngressBackendBlocked {
    rule_identity!();

    fn work(&self) -> Work {
        Work::PolicyPairs
    }

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        let graph = ctx.graph;
        for found in blocked_backends(ctx.model, graph) {
            let BlockedBackend {
                backend,
                endpoint_settings,
                protocol,
                target,
                pod_selector,
                blocked,
                ..
            } = found;
            let route = backend.route;
            let target_text = match &target {
                IntOrString::Int(n) => n.to_string(),
                IntOrString::String(name) => format!("`{name}`"),
            };
            let who = match backend.role {
                EndpointRole::GatewayProxy => "the Envoy Gateway proxies",
                _ => "the ingress controller",
            };
            let workloads: Vec<String> = blocked
                .iter()
                .flat_map(|(c, n)| {
                    graph.classes[*c]
                        .members
                        .iter()
                        .map(move |m| format!("`{}` ({} {n})", m.label, protocol.as_str()))
                })
                .collect();
            let mut help = format!(
                "allow {who} in namespace `{}` (the XKS guide's \"Allow Ingress Nginx\" policy):\n\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-{}\n  namespace: {}\nspec:\n",
                Inline(backend.namespace),
                endpoint_settings.id,
                super::yaml_scalar(backend.namespace)
            );
            write_selector(&mut help, 2, "podSelector", &pod_selector);
            let _ = write!(
                help,
                "  policyTypes:\n    - Ingress\n  ingress:\n    - from:\n        - namespaceSelector:\n            matchLabels:\n              {XKS_NAME_LABEL}: {}\n      ports:\n        - port: {}\n          protocol: {}",
                super::yaml_scalar(&endpoint_settings.namespace),
                match &target {
                    IntOrString::Int(n) => n.to_string(),
                    IntOrString::String(name) => super::yaml_scalar(name),
                },
                protocol.as_str()
            );
            let diagnostic = sink
                .report(
                    route.location(backend.name_span()),
                    format!(
                        "{} `{}` routes to Service `{}`, but no NetworkPolicy in `{}` admits {who} to its pods on target port {target_text}: {}",
                        route.kind,
                        route.name,
                        backend.service,
                        backend.namespace,
                        workloads.join(", ")
                    ),
                )
                .with_label(format!("unreachable from {who}"))
                .with_help(help)
                .with_object(route.identity(), backend.name_path());
            for (class, _) in &blocked {
                for member in &graph.classes[*class].members {
                    if let Some(id) = member.object {
                        let object = ctx.model.object(id);
                        diagnostic.with_related(
                            object.location(object.name_span()),
                            format!("backend workload `{}`", member.label),
                        );
                    }
                }
            }
        }
    }
}

/// A route backend whose pods the platform endpoint serving the route cannot reach on the
/// target port: what `ingress-backend-blocked` reports and `connectivity` draws.
pub(crate) struct BlockedBackend<'a> {
    pub backend: Backend<'a>,
    /// The class of the platform endpoint forwarding to the backend.
    pub endpoint: usize,
    pub endpoint_settings: &'a PlatformEndpoint,
    pub protocol: Protocol,
    pub target: IntOrString,
    pub pod_selector: Selector,
    /// Backend pod classes the endpoint cannot reach, with the resolved target port.
    pub blocked: Vec<(usize, u16)>,
}

/// Every blocked route backend, in route order.
pub(crate) fn blocked_backends<'a>(model: &'a Model, graph: &'a Graph) -> Vec<BlockedBackend<'a>> {
    let mut out = Vec::new();
    for backend in backends(model, &graph.options.xks) {
        // Platform endpoints exist under XKS semantics only.
        let Some(endpoint) = backend.endpoint.and_then(|e| graph.endpoint_class_at(e)) else {
            continue;
        };
        let Some(endpoint_settings) = graph.classes[endpoint]
            .endpoint
            .and_then(|e| graph.options.xks.endpoints.get(e))
        else {
            continue;
        };
        let Some((_, spec)) = find_service(model, backend.namespace, backend.service) else {
            continue;
        };
        let Some(port) = find_port(spec, &backend.port) else {
            continue;
        };
        let Some(selector) = spec.selector.as_ref().filter(|s| !s.is_empty()) else {
            continue;
        };
        if spec.type_.as_deref() == Some("ExternalName") {
            continue;
        }
        let protocol = port
            .protocol
            .as_deref()
            .and_then(Protocol::parse)
            .unwrap_or(Protocol::Tcp);
        let target = target_port(port);
        let pod_selector = Selector::from_labels(selector);
        let mut blocked = Vec::new();
        for class in graph.classes_matching(backend.namespace, &pod_selector) {
            if graph.is_endpoint(class) {
                continue;
            }
            let number = match &target {
                IntOrString::Int(n) => u16::try_from(*n).ok(),
                IntOrString::String(name) => graph.classes[class]
                    .ports
                    .iter()
                    .find(|(n, p, _)| n == name && *p == protocol)
                    .map(|(_, _, number)| *number),
            };
            let Some(number) = number else { continue };
            if !graph.allowed(endpoint, class).contains(protocol, number) {
                blocked.push((class, number));
            }
        }
        if !blocked.is_empty() {
            out.push(BlockedBackend {
                backend,
                endpoint,
                endpoint_settings,
                protocol,
                target,
                pod_selector,
                blocked,
            });
        }
    }
    out
}
