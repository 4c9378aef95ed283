use ecow::EcoString;
use std::fmt::Write as _;

use crate::load::yaml::Node;
use crate::model::{Model, Object, Typed, map_entries};
use crate::rules::certs::yaml_string;
use crate::rules::{Rule, RuleContext, Sink, Work, declare_rule, rule_identity};

declare_rule!(IngressNginxDeprecated, "ingress-nginx-deprecated");

/// The ingress classes XKS's ingress-nginx controllers serve.
const NGINX_CLASSES: [&str; 2] = ["nginx", "nginx-private"];
const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const NGINX_PREFIX: &str = "nginx.ingress.kubernetes.io/";

impl Rule for IngressNginxDeprecated {
    rule_identity!();

    fn work(&self) -> Work {
        Work::EachObject
    }

    fn check_object(&self, ctx: &RuleContext<'_>, object: &Object, sink: &mut Sink<'_>) {
        if !matches!(object.typed, Typed::Ingress(_)) {
            return;
        }
        // The class name wins over the annotation, which is only looked for without one.
        let class_node = object.node.path(&["spec", "ingressClassName"]);
        let annotation = || {
            map_entries(object.node.path(&["metadata", "annotations"]))
                .find(|(key, _, _)| *key == CLASS_ANNOTATION)
                .map(|(_, _, value)| value)
        };
        let (span, path, class) = match class_node {
            Some(node) => (
                node.span,
                "spec.ingressClassName".to_string(),
                node.scalar_text(),
            ),
            None => match annotation() {
                Some(node) => (
                    node.span,
                    format!("metadata.annotations.{CLASS_ANNOTATION}"),
                    node.scalar_text(),
                ),
                None => (object.kind_span(), "kind".to_string(), None),
            },
        };
        let class = class.map(str::trim);
        if class.is_some_and(|c| !NGINX_CLASSES.contains(&c)) {
            return;
        }
        let served_by = match class {
            Some(class) => format!("has class `{class}`, which ingress-nginx serves on XKS"),
            None => {
                "sets no class, so XKS's default controller, ingress-nginx, serves it".to_string()
            }
        };
        sink.report(
            object.location(span),
            format!(
                "Ingress `{}` {served_by}: XKS now uses Gateway API with Envoy Gateway, and ingress-nginx is retired upstream",
                object.name
            ),
        )
        .with_label("ingress-nginx")
        .with_rendered_help({
            let migration = Migration::of(ctx.model, object);
            move || migration.help()
        })
        .with_object(object.identity(), path);
    }
}

fn seq(node: Option<&Node>) -> &[Node] {
    node.and_then(Node::as_seq).unwrap_or(&[])
}

fn text<'a>(node: &'a Node, path: &[&str]) -> Option<&'a str> {
    node.path(path).and_then(Node::scalar_text).map(str::trim)
}

/// The port number of the Service port `name`, when the Service is in the repository.
fn service_port(model: &Model, namespace: &str, service: &str, name: &str) -> Option<i32> {
    model
        .named("Service", namespace, service)
        .find_map(|o| match &o.typed {
            Typed::Service(spec) => spec
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name))
                .map(|p| p.port),
            _ => None,
        })
}

/// One backend of a route to write: the path it serves and the Service port it targets.
struct Backend<'a> {
    path: &'a str,
    exact: bool,
    service: &'a str,
    port: PortText<'a>,
}

/// A backend's `port:` line as the help writes it.
enum PortText<'a> {
    /// Written as a number in the Ingress.
    Number(&'a str),
    /// A Service port name, with the number of that port in the repository's Service.
    Named(i32, &'a str),
    /// A Service port name whose number the repository does not tell.
    UnknownName(&'a str),
    Unset,
}

impl std::fmt::Display for PortText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PortText::Number(number) => f.write_str(number),
            PortText::Named(number, name) => write!(f, "{number}  # Service port `{name}`"),
            PortText::UnknownName(name) => {
                write!(f, "80  # set to the number of Service port `{name}`")
            }
            PortText::Unset => f.write_str("80  # set to the Service port number"),
        }
    }
}

/// How a backend names its Service port.
enum PortRef<'a> {
    Number(&'a str),
    Name(&'a str),
    Unset,
}

/// The Service and port of a backend (`service.name` and `service.port`, or the removed
/// v1beta1 `serviceName`/`servicePort`); `None` for resource backends.
fn backend_service(backend: &Node) -> Option<(&str, PortRef<'_>)> {
    match backend.get("service") {
        Some(service) => {
            let port = match (
                text(service, &["port", "number"]),
                text(service, &["port", "name"]),
            ) {
                (Some(number), _) => PortRef::Number(number),
                (None, Some(name)) => PortRef::Name(name),
                (None, None) => PortRef::Unset,
            };
            Some((text(service, &["name"])?, port))
        }
        None => {
            let service = text(backend, &["serviceName"])?;
            let port = match text(backend, &["servicePort"]) {
                Some(port) if port.parse::<u32>().is_ok() => PortRef::Number(port),
                Some(name) => PortRef::Name(name),
                None => PortRef::Unset,
            };
            Some((service, port))
        }
    }
}

/// The Ingress's default backend (`defaultBackend`, or v1beta1's `backend`).
fn default_backend(ingress: &Node) -> Option<&Node> {
    ["defaultBackend", "backend"]
        .iter()
        .find_map(|key| ingress.path(&["spec", key]))
}

/// Every backend the Ingress names: the default one, then each path's.
fn backends(ingress: &Node) -> impl Iterator<Item = &Node> {
    let paths = seq(ingress.path(&["spec", "rules"]))
        .iter()
        .flat_map(|rule| seq(rule.path(&["http", "paths"])))
        .filter_map(|path| path.get("backend"));
    default_backend(ingress).into_iter().chain(paths)
}

/// One HTTPRoute the Ingress becomes: an optional hostname and its backends.
struct Route<'a> {
    name: String,
    host: Option<&'a str>,
    backends: Vec<Backend<'a>>,
}

/// What the help proposes for one Ingress. Held from the rule's run until a reporter asks
/// for the text (see `diagnostic::Help`), so it keeps only what the text cannot be derived
/// from later: the Ingress's tree (shared with the model, not copied) and the numbers of
/// the Service ports its backends name, which only the model knows.
struct Migration {
    ingress: Node,
    name: EcoString,
    namespace: EcoString,
    /// (Service, port name, the port's number when the Service is in the repository), for
    /// each named port a backend refers to.
    named_ports: Vec<(EcoString, EcoString, Option<i32>)>,
}

impl Migration {
    fn of(model: &Model, ingress: &Object) -> Migration {
        let mut named_ports: Vec<(EcoString, EcoString, Option<i32>)> = Vec::new();
        for (service, port) in backends(&ingress.node).filter_map(backend_service) {
            let PortRef::Name(name) = port else {
                continue;
            };
            if !named_ports
                .iter()
                .any(|(s, n, _)| s == service && n == name)
            {
                let number = service_port(model, &ingress.namespace, service, name);
                named_ports.push((service.into(), name.into(), number));
            }
        }
        Migration {
            ingress: ingress.node.clone(),
            name: ingress.name.clone(),
            namespace: ingress.namespace.clone(),
            named_ports,
        }
    }

    /// The backend `backend` served at `path`, as written in an HTTPRoute rule.
    fn backend<'a>(&self, backend: &'a Node, path: &'a str, exact: bool) -> Option<Backend<'a>> {
        let (service, port) = backend_service(backend)?;
        let port = match port {
            PortRef::Number(number) => PortText::Number(number),
            PortRef::Name(name) => {
                let number = self
                    .named_ports
                    .iter()
                    .find(|(s, n, _)| s == service && n == name)
                    .and_then(|(_, _, number)| *number);
                match number {
                    Some(number) => PortText::Named(number, name),
                    None => PortText::UnknownName(name),
                }
            }
            PortRef::Unset => PortText::Unset,
        };
        Some(Backend {
            path,
            exact,
            service,
            port,
        })
    }

    /// The backend of one `http.paths[]` entry.
    fn path_backend<'a>(&self, path: &'a Node) -> Option<Backend<'a>> {
        let value = text(path, &["path"]).unwrap_or("/");
        let exact = text(path, &["pathType"]) == Some("Exact");
        self.backend(path.get("backend")?, value, exact)
    }

    fn default_backend(&self) -> Option<Backend<'_>> {
        self.backend(default_backend(&self.ingress)?, "/", false)
    }

    /// One route per rule with Service backends (a rule without paths uses the default
    /// backend), plus a route without hostnames for the default backend. Routes with
    /// nothing to route to are left out, so every route written is complete.
    fn routes(&self) -> Vec<Route<'_>> {
        let mut routes: Vec<Route<'_>> = Vec::new();
        for rule in seq(self.ingress.path(&["spec", "rules"])) {
            let paths = seq(rule.path(&["http", "paths"]));
            let backends: Vec<Backend> = if paths.is_empty() {
                self.default_backend().into_iter().collect()
            } else {
                paths
                    .iter()
                    .filter_map(|path| self.path_backend(path))
                    .collect()
            };
            if !backends.is_empty() {
                routes.push(Route {
                    name: String::new(),
                    host: text(rule, &["host"]).filter(|h| !h.is_empty()),
                    backends,
                });
            }
        }
        let named = routes.len();
        if let Some(backend) = self.default_backend() {
            routes.push(Route {
                name: if named == 0 {
                    self.name.to_string()
                } else {
                    format!("{}-default", self.name)
                },
                host: None,
                backends: vec![backend],
            });
        }
        for (index, route) in routes.iter_mut().take(named).enumerate() {
            route.name = if named == 1 {
                self.name.to_string()
            } else {
                format!("{}-{}", self.name, index + 1)
            };
        }
        routes
    }

    /// The rules' hosts, named when no route can be written.
    fn hosts(&self) -> Vec<&str> {
        seq(self.ingress.path(&["spec", "rules"]))
            .iter()
            .filter_map(|rule| text(rule, &["host"]))
            .filter(|host| !host.is_empty())
            .collect()
    }

    /// The `nginx.ingress.kubernetes.io/` annotations, with their values.
    fn annotations(&self) -> Vec<(&str, &str)> {
        map_entries(self.ingress.path(&["metadata", "annotations"]))
            .filter(|(key, _, _)| key.starts_with(NGINX_PREFIX))
            .map(|(key, _, value)| (key, value.scalar_text().unwrap_or_default().trim()))
            .collect()
    }

    fn help(&self) -> String {
        let routes = self.routes();
        let annotations = self.annotations();
        // The request-rate limit of `limit-rps` or `limit-rpm`, and its unit.
        let rate = annotations.iter().find_map(|(key, value)| {
            let unit = match key.strip_prefix(NGINX_PREFIX)? {
                "limit-rps" => "Second",
                "limit-rpm" => "Minute",
                _ => return None,
            };
            value.parse::<u32>().ok().map(|n| (n, unit))
        });
        let mut help = String::with_capacity(2048);
        help.push_str(
            "move to Gateway API (TLS then terminates on the Gateway listener, whose certificateRefs replace `spec.tls`):\n\n",
        );
        for route in &routes {
            let _ = write!(
                help,
                "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: {}\n",
                yaml_string(&route.name)
            );
            if !self.namespace.is_empty() {
                let _ = writeln!(help, "  namespace: {}", yaml_string(&self.namespace));
            }
            help.push_str("spec:\n  parentRefs:\n    - name: GATEWAY  # the XKS Gateway (Envoy Gateway) to attach to\n");
            if let Some(host) = route.host {
                let _ = write!(help, "  hostnames:\n    - {}\n", yaml_string(host));
            }
            help.push_str("  rules:\n");
            for backend in &route.backends {
                let _ = write!(
                    help,
                    "    - matches:\n        - path:\n            type: {}\n            value: {}\n      backendRefs:\n        - name: {}\n          port: {}\n",
                    if backend.exact { "Exact" } else { "PathPrefix" },
                    yaml_string(backend.path),
                    yaml_string(backend.service),
                    backend.port
                );
            }
        }
        let route_names: Vec<&str> = routes.iter().map(|r| r.name.as_str()).collect();
        if routes.is_empty() {
            let hosts: Vec<String> = self
                .hosts()
                .iter()
                .map(|host| format!("`{host}`"))
                .collect();
            let for_hosts = if hosts.is_empty() {
                String::new()
            } else {
                format!(" for {}", hosts.join(", "))
            };
            let _ = writeln!(
                help,
                "this Ingress routes to no Service (no rule with a Service backend, no default backend): write an HTTPRoute{for_hosts} with `backendRefs` to the Services it should serve"
            );
        }
        if let Some((requests, unit)) = rate {
            let _ = write!(
                help,
                "\nthe request-rate limit becomes an Envoy Gateway BackendTrafficPolicy (a local limit counts per Envoy replica, not per client IP as ingress-nginx does; a Global limit with a `sourceCIDR` client selector of type Distinct counts per client):\n\n---\napiVersion: gateway.envoyproxy.io/v1alpha1\nkind: BackendTrafficPolicy\nmetadata:\n  name: {}\n",
                yaml_string(&self.name)
            );
            if !self.namespace.is_empty() {
                let _ = writeln!(help, "  namespace: {}", yaml_string(&self.namespace));
            }
            help.push_str("spec:\n  targetRefs:\n");
            for name in &route_names {
                let _ = write!(
                    help,
                    "    - group: gateway.networking.k8s.io\n      kind: HTTPRoute\n      name: {}\n",
                    yaml_string(name)
                );
            }
            if route_names.is_empty() {
                let _ = write!(
                    help,
                    "    - group: gateway.networking.k8s.io\n      kind: HTTPRoute\n      name: {}  # the HTTPRoute that replaces this Ingress\n",
                    yaml_string(&self.name)
                );
            }
            let _ = write!(
                help,
                "  rateLimit:\n    type: Local\n    local:\n      rules:\n        - limit:\n            requests: {requests}\n            unit: {unit}\n"
            );
        }
        let others: Vec<&str> = annotations
            .iter()
            .map(|(key, _)| *key)
            .filter(|key| !key.ends_with("/limit-rps") && !key.ends_with("/limit-rpm"))
            .collect();
        if !others.is_empty() {
            let _ = write!(
                help,
                "\nno direct HTTPRoute equivalent, check Envoy Gateway's policies for: {}",
                others.join(", ")
            );
        }
        help
    }
}
