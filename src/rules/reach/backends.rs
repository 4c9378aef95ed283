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
    pub namespace: &'a str,
    pub service: &'a str,
    pub port: PortRef,
    /// Where the route writes it: its node paths are spelled out only for a finding.
    place: Place,
    /// The field under `place` that holds the port (`.port.name`, `.port`, ...).
    port_field: &'static str,
}

/// Where a backend is written in its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// `spec.defaultBackend.service` of an Ingress.
    IngressDefault,
    /// `spec.rules[i].http.paths[j].backend.service` of an Ingress.
    IngressPath(usize, usize),
    /// `spec.rules[i].backendRefs[j]` of an HTTPRoute.
    RouteRef(usize, usize),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::IngressDefault => f.write_str("spec.defaultBackend.service"),
            Place::IngressPath(i, j) => {
                write!(f, "spec.rules[{i}].http.paths[{j}].backend.service")
            }
            Place::RouteRef(i, j) => write!(f, "spec.rules[{i}].backendRefs[{j}]"),
        }
    }
}

impl Backend<'_> {
    /// Path of the backend's service-name node, e.g. `spec.rules[0].http.paths[0].backend.service.name`.
    pub fn name_path(&self) -> String {
        format!("{}.name", self.place)
    }

    /// Path of the node holding the backend's port (its name node when none is written).
    pub fn port_path(&self) -> String {
        format!("{}{}", self.place, self.port_field)
    }

    pub fn name_span(&self) -> Span {
        node_at(&self.route.node, &self.name_path())
            .map(|n| n.span)
            .unwrap_or_else(|| self.route.name_span())
    }

    pub fn port_span(&self) -> Span {
        node_at(&self.route.node, &self.port_path())
            .map(|n| n.span)
            .unwrap_or_else(|| self.name_span())
    }
}

/// The ingress controller serving an Ingress, by `spec.ingressClassName` or the
/// `kubernetes.io/ingress.class` annotation (none: the default class). The annotation is
/// read only without a class name: it is a search of the object's tree, once per Ingress.
fn ingress_controller(
    object: &Object,
    class: Option<&String>,
    settings: &XksSettings,
) -> Option<usize> {
    match class {
        Some(class) => settings.ingress_controller(Some(class)),
        None => {
            let annotation = object.annotation("kubernetes.io/ingress.class");
            settings.ingress_controller(annotation.as_deref())
        }
    }
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
                let paths = spec
                    .path_backends
                    .iter()
                    .map(|(i, j, service)| (service, Place::IngressPath(*i, *j)));
                let refs = spec
                    .default_backend
                    .iter()
                    .map(|service| (service, Place::IngressDefault))
                    .chain(paths);
                for (service, place) in refs {
                    let (port, port_field) = match &service.port {
                        Some(p) => match (&p.name, p.number) {
                            (Some(name), _) if !name.is_empty() => {
                                (PortRef::Name(name.clone()), ".port.name")
                            }
                            (_, Some(n)) => (PortRef::Number(i64::from(n)), ".port.number"),
                            _ => (PortRef::Unset, ".port"),
                        },
                        None => (PortRef::Unset, ".name"),
                    };
                    push_unique(
                        &mut out,
                        Backend {
                            route: object,
                            role: EndpointRole::IngressController,
                            endpoint: Some(controller),
                            namespace: &object.namespace,
                            service: &service.name,
                            port,
                            place,
                            port_field,
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
                        push_unique(
                            &mut out,
                            Backend {
                                route: object,
                                role: EndpointRole::GatewayProxy,
                                endpoint: gateway,
                                namespace: backend
                                    .namespace
                                    .as_deref()
                                    .unwrap_or(&object.namespace),
                                service: &backend.name,
                                port: backend.port.map(PortRef::Number).unwrap_or(PortRef::Unset),
                                place: Place::RouteRef(i, j),
                                port_field: ".port",
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
