//! Backends of `Ingress` and `HTTPRoute` objects, resolved to Services, service
//! ports and target ports: what `ingress-backend-missing` and
//! `ingress-backend-blocked` check.

use k8s_openapi::api::core::v1::ServicePort;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::node_at;
use crate::graph::EndpointRole;
use crate::graph::settings::XksSettings;
use crate::model::specs::ServiceSpec;
use crate::model::{Model, Object, Typed};
use crate::span::Span;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortRef {
    Number(i64),
    Name(String),
    Unset,
}

impl std::fmt::Display for PortRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(name) => write!(f, "`{name}`"),
            PortRef::Unset => f.write_str("(unset)"),
        }
    }
}

/// One backend reference of a route-like object.
pub struct Backend<'a> {
    pub route: &'a Object,
    /// Which kind of platform endpoint forwards traffic to it.
    pub role: EndpointRole,
    /// That endpoint, as an index into `XksSettings::endpoints` (`None`: no gateway is
    /// configured for an HTTPRoute).
    pub endpoint: Option<usize>,
    pub namespace: String,
    pub service: String,
    pub port: PortRef,
    /// Path of the backend's service-name node, e.g. `spec.rules[0].http.paths[0].backend.service.name`.
    pub name_path: String,
    pub port_path: String,
}

impl Backend<'_> {
    pub fn name_span(&self) -> Span {
        node_at(&self.route.node, &self.name_path)
            .map(|n| n.span)
            .unwrap_or_else(|| self.route.name_span())
    }

    pub fn port_span(&self) -> Span {
        node_at(&self.route.node, &self.port_path)
            .map(|n| n.span)
            .unwrap_or_else(|| self.name_span())
    }
}

/// The ingress controller serving an Ingress, by `spec.ingressClassName` or the
/// `kubernetes.io/ingress.class` annotation (none: the default class).
fn ingress_controller(
    object: &Object,
    class: Option<&String>,
    settings: &XksSettings,
) -> Option<usize> {
    let annotation = object.annotation("kubernetes.io/ingress.class");
    settings.ingress_controller(class.or(annotation.as_ref()).map(String::as_str))
}

/// Every Service backend of every Ingress served by a configured ingress controller
/// and of every HTTPRoute, deduplicated per route, service and port.
pub fn backends<'a>(model: &'a Model, settings: &XksSettings) -> Vec<Backend<'a>> {
    let mut out: Vec<Backend<'a>> = Vec::new();
    for object in &model.objects {
        match &object.typed {
            Typed::Ingress(spec) => {
                let Some(controller) =
                    ingress_controller(object, spec.ingress_class_name.as_ref(), settings)
                else {
                    continue;
                };
                let mut refs = Vec::new();
                if let Some(service) = &spec.default_backend {
                    refs.push((service, "spec.defaultBackend.service".to_string()));
                }
                for (i, j, service) in &spec.path_backends {
                    refs.push((
                        service,
                        format!("spec.rules[{i}].http.paths[{j}].backend.service"),
                    ));
                }
                for (service, base) in refs {
                    let port = match &service.port {
                        Some(p) => match (&p.name, p.number) {
                            (Some(name), _) if !name.is_empty() => {
                                (PortRef::Name(name.clone()), format!("{base}.port.name"))
                            }
                            (_, Some(n)) => {
                                (PortRef::Number(i64::from(n)), format!("{base}.port.number"))
                            }
                            _ => (PortRef::Unset, format!("{base}.port")),
                        },
                        None => (PortRef::Unset, format!("{base}.name")),
                    };
                    push_unique(
                        &mut out,
                        Backend {
                            route: object,
                            role: EndpointRole::IngressController,
                            endpoint: Some(controller),
                            namespace: object.namespace.to_string(),
                            service: service.name.clone(),
                            port: port.0,
                            name_path: format!("{base}.name"),
                            port_path: port.1,
                        },
                    );
                }
            }
            Typed::HttpRoute(spec) => {
                // The platform's Gateway is not in tenant repositories: the first gateway.
                let gateway = settings
                    .endpoints
                    .iter()
                    .position(|e| e.role == EndpointRole::GatewayProxy);
                for (i, rule) in spec.rules.iter().enumerate() {
                    for (j, backend) in rule.backend_refs.iter().enumerate() {
                        let is_service = backend.kind.as_deref().is_none_or(|k| k == "Service")
                            && backend.group.as_deref().is_none_or(str::is_empty);
                        if !is_service {
                            continue;
                        }
                        let base = format!("spec.rules[{i}].backendRefs[{j}]");
                        push_unique(
                            &mut out,
                            Backend {
                                route: object,
                                role: EndpointRole::GatewayProxy,
                                endpoint: gateway,
                                namespace: backend
                                    .namespace
                                    .clone()
                                    .unwrap_or_else(|| object.namespace.to_string()),
                                service: backend.name.clone(),
                                port: backend.port.map(PortRef::Number).unwrap_or(PortRef::Unset),
                                name_path: format!("{base}.name"),
                                port_path: format!("{base}.port"),
                            },
                        );
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Pushes a backend unless its route already names it. A route's backends are pushed
/// together, so only the tail of `out` holds them: scanning all of `out` was quadratic.
fn push_unique<'a>(out: &mut Vec<Backend<'a>>, backend: Backend<'a>) {
    let duplicate = out
        .iter()
        .rev()
        .take_while(|b| b.route.id == backend.route.id)
        .any(|b| {
            b.namespace == backend.namespace
                && b.service == backend.service
                && b.port == backend.port
        });
    if !duplicate {
        out.push(backend);
    }
}

/// The Service a backend names, if the repository has it.
pub fn find_service<'a>(
    model: &'a Model,
    namespace: &str,
    name: &str,
) -> Option<(&'a Object, &'a ServiceSpec)> {
    model
        .named("Service", namespace, name)
        .find_map(|o| match &o.typed {
            Typed::Service(spec) => Some((o, spec.as_ref())),
            _ => None,
        })
}

/// The service port a backend port refers to. `Unset` picks the only port.
pub fn find_port<'a>(spec: &'a ServiceSpec, port: &PortRef) -> Option<&'a ServicePort> {
    let ports = spec.ports.as_deref().unwrap_or(&[]);
    match port {
        PortRef::Number(n) => ports.iter().find(|p| i64::from(p.port) == *n),
        PortRef::Name(name) => ports
            .iter()
            .find(|p| p.name.as_deref() == Some(name.as_str())),
        PortRef::Unset if ports.len() == 1 => ports.first(),
        PortRef::Unset => None,
    }
}

/// Target port of a service port: a number, or a container port name.
pub fn target_port(port: &ServicePort) -> IntOrString {
    match &port.target_port {
        Some(IntOrString::String(s)) => match s.parse::<i32>() {
            Ok(n) => IntOrString::Int(n),
            Err(_) => IntOrString::String(s.clone()),
        },
        Some(IntOrString::Int(n)) => IntOrString::Int(*n),
        None => IntOrString::Int(port.port),
    }
}
