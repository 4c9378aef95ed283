use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use crate::load::yaml::Node;
use crate::model::crd::{Listener, ObjectRef};
use crate::model::{Model, Object, Typed};
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(RouteParentMissing, "route-parent-missing");

const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

impl Rule for RouteParentMissing {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        let gateways: Vec<&Object> = ctx
            .model
            .objects
            .iter()
            .filter(|o| matches!(o.typed, Typed::Gateway(_)))
            .collect();
        // The platform's Gateway is known under XKS without being in the repository.
        let platform = ctx
            .graph
            .is_xks()
            .then_some(ctx.graph.options.xks.platform_gateway.as_ref())
            .flatten();
        for route in &ctx.model.objects {
            let Typed::HttpRoute(spec) = &route.typed else {
                continue;
            };
            let parent_nodes = route
                .node
                .path(&["spec", "parentRefs"])
                .and_then(Node::as_seq)
                .unwrap_or(&[]);
            for (index, parent) in spec.parent_refs.iter().enumerate() {
                let is_gateway = parent.kind.as_deref().is_none_or(|k| k == "Gateway")
                    && parent.group.as_deref().is_none_or(|g| g == GATEWAY_GROUP);
                if !is_gateway {
                    continue;
                }
                let node = parent_nodes.get(index);
                let span = node
                    .and_then(|n| n.get("name"))
                    .or(node)
                    .map(|n| n.span)
                    .unwrap_or_else(|| route.name_span());
                let namespace = parent.namespace.as_deref().unwrap_or(&route.namespace);
                let problem = match platform {
                    Some(p) if p.namespace == namespace => {
                        // The platform's namespace: its Gateway, or one of the repository's there.
                        let in_repo = gateways
                            .iter()
                            .any(|g| g.name == parent.name && g.namespace == namespace);
                        if in_repo {
                            check_parent(ctx.model, &gateways, route, parent)
                        } else {
                            check_platform_parent(p, route, parent, &gateways)
                        }
                    }
                    // Without any Gateway in the repository, other routes attach to Gateways
                    // of the platform the repository cannot see: nothing to check.
                    _ if gateways.is_empty() => None,
                    _ => check_parent(ctx.model, &gateways, route, parent),
                };
                if let Some(problem) = problem {
                    let diagnostic = sink
                        .report(route.location(span), problem.message)
                        .with_label(problem.label)
                        .with_help(problem.help)
                        .with_object(route.identity(), format!("spec.parentRefs[{index}]"));
                    if let Some((object, span, message)) = problem.related {
                        diagnostic.with_related(object.location(span), message);
                    }
                }
            }
        }
    }
}

struct Problem<'a> {
    message: String,
    label: &'static str,
    help: String,
    related: Option<(&'a Object, crate::span::Span, String)>,
}

/// A parent in the platform Gateway's namespace that no repository Gateway answers: it must be
/// the platform's Gateway, on its listener.
fn check_platform_parent<'a>(
    platform: &crate::graph::PlatformGateway,
    route: &Object,
    parent: &ObjectRef,
    gateways: &[&'a Object],
) -> Option<Problem<'a>> {
    let full = format!("{}/{}", platform.namespace, platform.name);
    if parent.name != platform.name {
        let mut known: Vec<String> = vec![format!("`{full}` (the platform's)")];
        known.extend(
            gateways
                .iter()
                .map(|g| format!("`{}/{}`", g.namespace, g.name)),
        );
        return Some(Problem {
            message: format!(
                "HTTPRoute `{}` attaches to Gateway `{}/{}`, but the platform's Gateway in that namespace is `{full}` (known Gateways: {}): the route is never served",
                route.name,
                platform.namespace,
                parent.name,
                known.join(", ")
            ),
            label: "no such Gateway",
            help: format!(
                "attach the route to the platform's Gateway: `parentRefs: [{{name: {}, namespace: {}}}]`",
                platform.name, platform.namespace
            ),
            related: None,
        });
    }
    let section_ok = parent
        .section_name
        .as_deref()
        .is_none_or(|s| s == platform.listener);
    let port_ok = parent.port.is_none_or(|p| p == platform.port);
    if section_ok && port_ok {
        // Its listener admits routes from every namespace (`allowedRoutes.namespaces.from: All`).
        return None;
    }
    Some(Problem {
        message: format!(
            "HTTPRoute `{}` attaches to {} of the platform's Gateway `{full}`, which has one listener: `{}` on port {}",
            route.name,
            match (&parent.section_name, parent.port) {
                (Some(section), _) if !section_ok => format!("listener `{section}`"),
                (_, Some(port)) => format!("port {port}"),
                _ => "a listener".to_string(),
            },
            platform.listener,
            platform.port
        ),
        label: "no such listener",
        help: format!(
            "leave out `sectionName` and `port`, or set them to `{}` and {}",
            platform.listener, platform.port
        ),
        related: None,
    })
}

fn check_parent<'a>(
    model: &Model,
    gateways: &[&'a Object],
    route: &Object,
    parent: &ObjectRef,
) -> Option<Problem<'a>> {
    let namespace = parent.namespace.as_deref().unwrap_or(&route.namespace);
    let Some(gateway) = gateways
        .iter()
        .find(|g| g.name == parent.name && g.namespace == namespace)
    else {
        let known: Vec<String> = gateways
            .iter()
            .map(|g| format!("`{}/{}`", g.namespace, g.name))
            .collect();
        return Some(Problem {
            message: format!(
                "HTTPRoute `{}` attaches to Gateway `{namespace}/{}`, which is not among the Gateways this repository defines ({}): the route is never served",
                route.name,
                parent.name,
                known.join(", ")
            ),
            label: "no such Gateway",
            help: "name one of the repository's Gateways (and its namespace, when it is in another one) in `parentRefs`".to_string(),
            related: None,
        });
    };
    let Typed::Gateway(spec) = &gateway.typed else {
        return None;
    };
    let selected: Vec<&Listener> = spec
        .listeners
        .iter()
        .filter(|l| parent.section_name.as_deref().is_none_or(|s| s == l.name))
        .filter(|l| parent.port.is_none_or(|p| l.port == Some(p)))
        .collect();
    if selected.is_empty() {
        let wanted = match (&parent.section_name, parent.port) {
            (Some(section), _) => format!("listener `{section}`"),
            (None, Some(port)) => format!("a listener on port {port}"),
            (None, None) => "any listener".to_string(),
        };
        let names: Vec<String> = spec
            .listeners
            .iter()
            .map(|l| format!("`{}`", l.name))
            .collect();
        return Some(Problem {
            message: format!(
                "HTTPRoute `{}` attaches to {wanted} of Gateway `{}`, which has none (listeners: {})",
                route.name,
                gateway.name,
                names.join(", ")
            ),
            label: "no such listener",
            help: "set `sectionName` (and `port`) to a listener the Gateway has".to_string(),
            related: Some((
                gateway,
                gateway.name_span(),
                format!("Gateway `{}` defined here", gateway.name),
            )),
        });
    }
    let allowed = selected
        .iter()
        .any(|l| allows_namespace(model, gateway, l, &route.namespace));
    if allowed {
        return None;
    }
    Some(Problem {
        message: format!(
            "HTTPRoute `{}` in namespace `{}` attaches to Gateway `{}/{}`, whose listeners do not allow routes from that namespace",
            route.name, route.namespace, gateway.namespace, gateway.name
        ),
        label: "namespace not allowed by the listener",
        help: "allow the route's namespace in the listener's `allowedRoutes.namespaces` (`from: All`, or `from: Selector` matching the namespace's labels), or move the route".to_string(),
        related: Some((
            gateway,
            gateway.name_span(),
            format!("Gateway `{}` defined here", gateway.name),
        )),
    })
}

/// Whether `listener` admits routes from `namespace` (Gateway API `allowedRoutes.namespaces`,
/// default `Same`). A selector over a Namespace the repository does not define is given the
/// benefit of the doubt.
fn allows_namespace(model: &Model, gateway: &Object, listener: &Listener, namespace: &str) -> bool {
    let namespaces = listener
        .allowed_routes
        .as_ref()
        .and_then(|a| a.namespaces.as_ref());
    let from = namespaces.and_then(|n| n.from.as_deref()).unwrap_or("Same");
    match from {
        "All" => true,
        "Same" => gateway.namespace == namespace,
        "Selector" => {
            let Some(selector) = namespaces.and_then(|n| n.selector.as_ref()) else {
                return false;
            };
            match namespace_labels(model, namespace) {
                Some(labels) => selector_matches(selector, &labels),
                None => true,
            }
        }
        _ => true,
    }
}

fn namespace_labels(model: &Model, namespace: &str) -> Option<BTreeMap<String, String>> {
    let object = model
        .objects
        .iter()
        .find(|o| o.kind == "Namespace" && o.name == namespace)?;
    let mut labels = object.labels();
    // The API server sets this label on every namespace.
    labels.insert(
        "kubernetes.io/metadata.name".to_string(),
        namespace.to_string(),
    );
    Some(labels)
}

fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_match = selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v));
    let expressions_match = selector.match_expressions.iter().flatten().all(|e| {
        let value = labels.get(&e.key);
        let values = e.values.as_deref().unwrap_or(&[]);
        match e.operator.as_str() {
            "In" => value.is_some_and(|v| values.contains(v)),
            "NotIn" => value.is_none_or(|v| !values.contains(v)),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    labels_match && expressions_match
}
