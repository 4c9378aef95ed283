//! What the reachability engine assumes about the cluster. Every default here
//! comes from the XKS guides (seed 000: developer guide, seed 004: operator guide)
//! or from the upstream charts of the platform components; all of it is plain
//! data so a configuration file can fill it.

use std::collections::BTreeSet;

use super::ports::Protocol;
use super::selector::Labels;

/// Which rules of the game the engine plays by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
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

/// Cloud flavour of the XKS cluster: decides the NodeLocal DNS addresses (guide 004).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Cloud {
    #[default]
    Aks,
    Aws,
}

/// What a platform endpoint is for; rules look endpoints up by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndpointRole {
    /// Serves `Ingress` objects of the classes in [`XksSettings::ingress_classes`].
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
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XksSettings {
    /// Tenant namespaces. `None`: every namespace that holds a workload in the
    /// repository and is not a platform namespace.
    pub tenant_namespaces: Option<BTreeSet<String>>,
    /// Namespaces run by the platform team: never tenants, and never given the implicit policy.
    pub platform_namespaces: BTreeSet<String>,
    /// Name of the platform-managed policy in every tenant namespace (guide 000).
    pub default_deny_name: String,
    /// NodeLocal DNS addresses the default-deny policy also admits (guide 004), as CIDRs.
    pub nodelocal_dns: Vec<String>,
    /// Ports the DNS exceptions of the default-deny policy open (guide 000: UDP 53).
    pub dns_ports: Vec<(Protocol, u16)>,
    /// Ingress classes served by the `IngressController` endpoint; an Ingress
    /// without a class is served too (the XKS controller is the default class).
    pub ingress_classes: BTreeSet<String>,
    pub endpoints: Vec<PlatformEndpoint>,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl XksSettings {
    pub fn for_cloud(cloud: Cloud) -> XksSettings {
        let vnet_dns = match cloud {
            Cloud::Aks => "10.0.0.10/32",
            Cloud::Aws => "172.20.0.10/32",
        };
        XksSettings {
            tenant_namespaces: None,
            platform_namespaces: [
                "kube-system",
                "ingress-nginx",
                "envoy-gateway-system",
                "linkerd",
                "cert-manager",
                "external-dns",
                "flux-system",
            ]
            .into_iter()
            .map(String::from)
            .collect(),
            default_deny_name: "default-deny".to_string(),
            nodelocal_dns: vec!["169.254.20.10/32".to_string(), vnet_dns.to_string()],
            dns_ports: vec![(Protocol::Udp, 53)],
            ingress_classes: ["nginx", "nginx-private"]
                .into_iter()
                .map(String::from)
                .collect(),
            endpoints: vec![
                PlatformEndpoint {
                    id: "ingress-controller".to_string(),
                    role: EndpointRole::IngressController,
                    namespace: "ingress-nginx".to_string(),
                    pod_labels: labels(&[
                        ("app.kubernetes.io/name", "ingress-nginx"),
                        ("app.kubernetes.io/component", "controller"),
                    ]),
                    ports: vec![
                        ("http".to_string(), Protocol::Tcp, 80),
                        ("https".to_string(), Protocol::Tcp, 443),
                    ],
                },
                PlatformEndpoint {
                    id: "envoy-gateway".to_string(),
                    role: EndpointRole::GatewayProxy,
                    namespace: "envoy-gateway-system".to_string(),
                    pod_labels: labels(&[
                        ("app.kubernetes.io/name", "envoy"),
                        ("app.kubernetes.io/component", "proxy"),
                        ("app.kubernetes.io/managed-by", "envoy-gateway"),
                    ]),
                    ports: vec![],
                },
                PlatformEndpoint {
                    id: "kube-dns".to_string(),
                    role: EndpointRole::Dns,
                    namespace: "kube-system".to_string(),
                    pod_labels: labels(&[("k8s-app", "kube-dns")]),
                    ports: vec![
                        ("dns".to_string(), Protocol::Udp, 53),
                        ("dns-tcp".to_string(), Protocol::Tcp, 53),
                    ],
                },
                PlatformEndpoint {
                    id: "linkerd".to_string(),
                    role: EndpointRole::Mesh,
                    namespace: "linkerd".to_string(),
                    pod_labels: labels(&[("linkerd.io/control-plane-ns", "linkerd")]),
                    ports: vec![],
                },
            ],
        }
    }

    pub fn endpoint(&self, role: EndpointRole) -> Option<&PlatformEndpoint> {
        self.endpoints.iter().find(|e| e.role == role)
    }
}

impl Default for XksSettings {
    fn default() -> Self {
        XksSettings::for_cloud(Cloud::Aks)
    }
}

/// Everything the graph build needs besides the model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphOptions {
    pub semantics: Semantics,
    pub xks: XksSettings,
}
