//! What the reachability engine assumes about the cluster. Every default comes
//! from the XKS guides (seed 000: developer guide, seed 004: operator guide) or
//! from the upstream charts of the platform components; the ones a user can
//! change live in [`crate::settings::XksSettings`] (`.xks-lint.yaml`) and are written
//! once, there.

use std::collections::BTreeSet;

use super::ports::Protocol;
use super::selector::Labels;
use crate::settings;
pub use crate::settings::Cloud;

/// Which rules of the game the engine plays by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Semantics {
    /// Kubernetes NetworkPolicy semantics plus what XKS adds: the implicit
    /// `default-deny` policy in every tenant namespace, NodeLocal DNS, the
    /// `name=<namespace>` label and the platform endpoints.
    #[default]
    Xks,
    /// The Kubernetes NetworkPolicy specification only, over the repository's objects.
    Vanilla,
}

/// What a platform endpoint is for; rules look endpoints up by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndpointRole {
    /// Serves `Ingress` objects of its [`PlatformEndpoint::classes`].
    IngressController,
    /// Serves Gateway API routes (`HTTPRoute`).
    GatewayProxy,
    Dns,
    Mesh,
}

/// A pod of the platform that tenant repositories do not contain but talk to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformEndpoint {
    /// Short id, printed as `{id}` and accepted by `why`.
    pub id: String,
    pub role: EndpointRole,
    pub namespace: String,
    pub pod_labels: Labels,
    /// Named container ports (name, protocol, number).
    pub ports: Vec<(String, Protocol, u16)>,
    /// IngressClass (ingress controllers) or GatewayClass (gateways) names served;
    /// empty: every class.
    pub classes: BTreeSet<String>,
}

/// The engine's view of the XKS platform. Derived from the user-facing
/// [`crate::settings::XksSettings`] (`.xks-lint.yaml`, whose defaults are the XKS guides'),
/// plus what the configuration does not expose: the name of the implicit policy, its
/// DNS ports, the endpoints' named ports and the Linkerd control plane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XksSettings {
    /// Tenant namespaces. `None`: every namespace that holds a workload in the
    /// repository and is not a platform namespace.
    pub tenant_namespaces: Option<BTreeSet<String>>,
    /// Namespaces run by the platform team: never tenants, and never given the implicit policy.
    pub platform_namespaces: BTreeSet<String>,
    /// Name of the platform-managed policy in every tenant namespace (guide 000).
    pub default_deny_name: String,
    /// Names under which a repository's own copy of that policy replaces the implicit one:
    /// the guide's `default-deny` and `xenit-tenant-default-deny`, the name the platform's
    /// Terraform gives it on real clusters.
    pub default_deny_names: Vec<String>,
    /// NodeLocal DNS addresses the default-deny policy also admits (guide 004), as CIDRs.
    pub nodelocal_dns: Vec<String>,
    /// Ports the DNS exceptions of the default-deny policy open: UDP and TCP 53, as the
    /// platform's Terraform deploys it (guide 000's YAML shows UDP only).
    pub dns_ports: Vec<(Protocol, u16)>,
    /// Ingress controllers first (the first one also serves Ingresses without a class:
    /// it is the cluster's default class), then gateways, DNS and the mesh.
    pub endpoints: Vec<PlatformEndpoint>,
    /// Address ranges of the nodes: hostNetwork pods send and receive with these addresses.
    pub node_cidrs: Vec<super::ip::IpRange>,
    /// Optional platform policies switched on in every tenant namespace.
    pub allowances: Vec<Allowance>,
    /// The platform's Gateway, which tenant repositories do not hold (`None` without gateways).
    pub platform_gateway: Option<PlatformGateway>,
}

/// The Gateway the platform deploys next to its Envoy Gateway (the platform's Terraform):
/// one HTTPS listener on 443 for a wildcard hostname, routes from every namespace, its
/// certificate issued by cert-manager's gateway-shim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformGateway {
    pub namespace: String,
    pub name: String,
    pub listener: String,
    pub port: i64,
}

/// An optional platform policy of every tenant namespace (the platform's Terraform).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowance {
    /// The policy's name in each tenant namespace.
    pub policy_name: String,
    /// The platform namespace it opens traffic to and from.
    pub namespace: String,
    /// Egress ports towards that namespace (`None`: every port).
    pub egress_ports: Option<Vec<(Protocol, u16)>>,
}

impl Allowance {
    /// The allowance `xks.platform-allowances` names (see `settings::PLATFORM_ALLOWANCES`).
    pub fn named(name: &str) -> Option<Allowance> {
        match name {
            "datadog-tracing" => Some(Allowance {
                policy_name: "allow-ingress-egress-datadog-tracing".to_string(),
                namespace: "datadog".to_string(),
                egress_ports: Some(vec![(Protocol::Tcp, 8126)]),
            }),
            "grafana-alloy" => Some(Allowance {
                policy_name: "allow-ingress-egress-grafana-alloy".to_string(),
                namespace: "grafana-alloy".to_string(),
                egress_ports: None,
            }),
            _ => None,
        }
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl XksSettings {
    /// The XKS defaults with the NodeLocal DNS addresses of `cloud`.
    pub fn for_cloud(cloud: Cloud) -> XksSettings {
        XksSettings::from_config(&settings::XksSettings::default(), Some(cloud))
    }

    /// The engine settings for a configuration; `cloud`, when given (`--cloud`),
    /// replaces the configured NodeLocal DNS addresses with that cloud's.
    pub fn from_config(xks: &settings::XksSettings, cloud: Option<Cloud>) -> XksSettings {
        let nodelocal_dns = match cloud {
            Some(cloud) => cloud.nodelocal_dns(),
            None => xks.dns_addresses.clone(),
        };
        let endpoint = |e: &settings::PlatformEndpoint, role, ports: &[(&str, Protocol, u16)]| {
            PlatformEndpoint {
                id: e.name.clone(),
                role,
                namespace: e.namespace.clone(),
                pod_labels: e.pod_labels.clone().into_iter().collect(),
                ports: ports
                    .iter()
                    .map(|(name, protocol, number)| (name.to_string(), *protocol, *number))
                    .collect(),
                classes: e.classes.iter().cloned().collect(),
            }
        };
        let mut endpoints: Vec<PlatformEndpoint> = Vec::new();
        for controller in &xks.ingress_controllers {
            endpoints.push(endpoint(
                controller,
                EndpointRole::IngressController,
                &[("http", Protocol::Tcp, 80), ("https", Protocol::Tcp, 443)],
            ));
        }
        for gateway in &xks.gateways {
            endpoints.push(endpoint(gateway, EndpointRole::GatewayProxy, &[]));
        }
        endpoints.push(endpoint(
            &xks.dns,
            EndpointRole::Dns,
            &[("dns", Protocol::Udp, 53), ("dns-tcp", Protocol::Tcp, 53)],
        ));
        endpoints.push(PlatformEndpoint {
            id: "linkerd".to_string(),
            role: EndpointRole::Mesh,
            namespace: "linkerd".to_string(),
            pod_labels: labels(&[("linkerd.io/control-plane-ns", "linkerd")]),
            ports: vec![],
            classes: BTreeSet::new(),
        });
        XksSettings {
            tenant_namespaces: (!xks.tenant_namespaces.is_empty())
                .then(|| xks.tenant_namespaces.iter().cloned().collect()),
            platform_namespaces: xks.platform_namespaces.iter().cloned().collect(),
            default_deny_name: "default-deny".to_string(),
            default_deny_names: vec![
                "default-deny".to_string(),
                "xenit-tenant-default-deny".to_string(),
            ],
            nodelocal_dns,
            dns_ports: vec![(Protocol::Udp, 53), (Protocol::Tcp, 53)],
            endpoints,
            node_cidrs: xks
                .node_cidrs
                .iter()
                .filter_map(|c| super::ip::IpRange::parse_cidr(c).ok())
                .collect(),
            platform_gateway: xks.gateways.first().map(|g| PlatformGateway {
                namespace: g.namespace.clone(),
                name: "default-gateway".to_string(),
                listener: "https".to_string(),
                port: 443,
            }),
            allowances: xks
                .platform_allowances
                .iter()
                .filter_map(|a| Allowance::named(a))
                .collect(),
        }
    }

    /// The first endpoint with this role.
    pub fn endpoint(&self, role: EndpointRole) -> Option<&PlatformEndpoint> {
        self.endpoints.iter().find(|e| e.role == role)
    }

    /// Index in [`XksSettings::endpoints`] of the ingress controller serving an Ingress
    /// of this class (`None`: no class, served by the first controller, the default
    /// class); `None` when no configured controller serves it.
    pub fn ingress_controller(&self, class: Option<&str>) -> Option<usize> {
        let mut controllers = self
            .endpoints
            .iter()
            .enumerate()
            .filter(|(_, e)| e.role == EndpointRole::IngressController);
        match class {
            None => controllers.next().map(|(i, _)| i),
            Some(class) => controllers
                .find(|(_, e)| e.classes.is_empty() || e.classes.contains(class))
                .map(|(i, _)| i),
        }
    }
}

impl Default for XksSettings {
    fn default() -> Self {
        XksSettings::from_config(&settings::XksSettings::default(), None)
    }
}

/// Everything the graph build needs besides the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphOptions {
    pub semantics: Semantics,
    pub xks: XksSettings,
    /// Treat hostNetwork pods as ordinary pods (as np-guard's netpol-analyzer does) instead
    /// of node-network endpoints.
    pub host_network_as_pods: bool,
}
