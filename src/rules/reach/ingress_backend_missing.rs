use super::backends::{PortRef, backends, find_port, find_service};
use crate::model::Typed;
use crate::rules::{Rule, RuleContext, Sink, Work, declare_rule, rule_identity};

declare_rule!(IngressBackendMissing, "ingress-backend-missing");

impl Rule for IngressBackendMissing {
    rule_identity!();

    fn work(&self) -> Work {
        Work::EveryNode
    }

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        for backend in backends(ctx.model, &ctx.graph.options.xks) {
            // A namespace without workloads in the repository is owned elsewhere: its Services may exist.
            let modelled = ctx
                .graph
                .namespaces
                .get(backend.namespace)
                .is_some_and(|ns| ns.has_workloads);
            if !modelled {
                continue;
            }
            let route = backend.route;
            match find_service(ctx.model, backend.namespace, backend.service) {
                None => {
                    let mut known: Vec<&str> = ctx
                        .model
                        .objects
                        .iter()
                        .filter(|o| {
                            matches!(o.typed, Typed::Service(_)) && o.namespace == backend.namespace
                        })
                        .map(|o| o.name.as_str())
                        .collect();
                    known.sort_unstable();
                    known.dedup();
                    let help = if known.is_empty() {
                        format!(
                            "namespace `{}` has no Service in this repository: add the Service or fix the name",
                            backend.namespace
                        )
                    } else {
                        format!(
                            "Services in namespace `{}`: {}; fix the name or add the Service",
                            backend.namespace,
                            known.join(", ")
                        )
                    };
                    sink.report(
                        route.location(backend.name_span()),
                        format!(
                            "{} `{}` sends traffic to Service `{}`, which does not exist in namespace `{}`",
                            route.kind, route.name, backend.service, backend.namespace
                        ),
                    )
                    .with_label("no such Service")
                    .with_help(help)
                    .with_object(route.identity(), backend.name_path());
                }
                Some((service, spec)) => {
                    if backend.port == PortRef::Unset || find_port(spec, &backend.port).is_some() {
                        continue;
                    }
                    // An ExternalName Service is a DNS alias: its ports are not mapped, the
                    // route's port number is used on the external name as it stands.
                    let external = spec.type_.as_deref() == Some("ExternalName");
                    if external && matches!(backend.port, PortRef::Number(_)) {
                        continue;
                    }
                    let ports: Vec<String> = spec
                        .ports
                        .iter()
                        .flatten()
                        .map(|p| match &p.name {
                            Some(name) => format!("{} (`{name}`)", p.port),
                            None => p.port.to_string(),
                        })
                        .collect();
                    sink.report(
                        route.location(backend.port_span()),
                        format!(
                            "Service `{}` has no port {}: {} `{}` cannot reach it",
                            backend.service, backend.port, route.kind, route.name
                        ),
                    )
                    .with_label("no such service port")
                    .with_help(if ports.is_empty() {
                        "the Service declares no ports".to_string()
                    } else {
                        format!("the Service's ports are: {}", ports.join(", "))
                    })
                    .with_related(
                        service.location(service.span_at(&["spec", "ports"])),
                        "the Service's ports",
                    )
                    .with_object(route.identity(), backend.port_path());
                }
            }
        }
    }
}
