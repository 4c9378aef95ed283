//! The settings every stage may read, as plain data: what `.xks-lint.yaml` says about
//! the XKS platform (namespaces, platform endpoints, DNS, node addresses, issuers) and
//! the cloud flavour. Nothing here parses or checks: `config` reads the file into these
//! types, the graph and the certificate inventory derive their own settings from them.
//! It sits low in the layers (see DESIGN.md) so that no stage needs `config` to know
//! its defaults.

use std::collections::BTreeMap;

/// Cloud flavour of the XKS cluster: decides the NodeLocal DNS addresses (guide 004).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cloud {
    #[default]
    Aks,
    Aws,
}

impl Cloud {
    /// NodeLocal DNS addresses on this cloud (guide 004).
    pub fn nodelocal_dns(self) -> Vec<String> {
        let vnet_dns = match self {
            Cloud::Aks => "10.0.0.10/32",
            Cloud::Aws => "172.20.0.10/32",
        };
        vec!["169.254.20.10/32".to_string(), vnet_dns.to_string()]
    }
}

/// Pods of a platform component that tenant policies must admit or reach, modelled even
/// though their manifests are not in the tenant repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformEndpoint {
    pub name: String,
    pub namespace: String,
    pub pod_labels: BTreeMap<String, String>,
    /// IngressClass names served (ingress controllers) or GatewayClass names (gateways);
    /// empty means every class.
    pub classes: Vec<String>,
}

/// XKS model settings, for the reachability and certificate analyses: the one place
/// their user-changeable defaults are written. Plain data: `config` parses it,
/// `graph::XksSettings::from_config` and `certs::CertSettings::from_config` derive the
/// engines' settings from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XksSettings {
    /// Namespace of objects that set none (and have no kustomization namespace).
    pub default_namespace: String,
    /// Tenant namespaces; empty means inferred (every namespace with a workload that is not
    /// a platform namespace).
    pub tenant_namespaces: Vec<String>,
    pub platform_namespaces: Vec<String>,
    pub ingress_controllers: Vec<PlatformEndpoint>,
    pub gateways: Vec<PlatformEndpoint>,
    /// Cluster DNS pods (kube-dns / CoreDNS).
    pub dns: PlatformEndpoint,
    /// NodeLocal DNS addresses (CIDRs) that the XKS default-deny policy lets pods reach.
    pub dns_addresses: Vec<String>,
    /// ClusterIssuer names that issue from Let's Encrypt without being in the repository.
    pub letsencrypt_issuers: Vec<String>,
    /// Address ranges of the cluster's nodes: the source and destination address of
    /// hostNetwork pods (CIDRs).
    pub node_cidrs: Vec<String>,
    /// Optional platform policies the platform adds to every tenant namespace when switched
    /// on (the platform's Terraform variables): `datadog-tracing`, `grafana-alloy`.
    pub platform_allowances: Vec<String>,
}

/// The optional platform allowances `xks.platform-allowances` accepts.
pub const PLATFORM_ALLOWANCES: [&str; 2] = ["datadog-tracing", "grafana-alloy"];

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Default for XksSettings {
    /// The XKS platform as the XKS guides describe it (AKS addresses for NodeLocal DNS).
    fn default() -> Self {
        XksSettings {
            default_namespace: "default".to_string(),
            tenant_namespaces: Vec::new(),
            platform_namespaces: strings(&[
                "kube-system",
                "ingress-nginx",
                "envoy-gateway",
                "envoy-gateway-system",
                "linkerd",
                "cert-manager",
                "external-dns",
                "flux-system",
                "calico-system",
                "tigera-operator",
                "datadog",
                "grafana-alloy",
                "prometheus",
                "velero",
                "trivy",
                "falco",
                "reloader",
                "spegel",
                "vpa",
            ]),
            ingress_controllers: vec![PlatformEndpoint {
                name: "ingress-controller".to_string(),
                namespace: "ingress-nginx".to_string(),
                pod_labels: labels(&[
                    ("app.kubernetes.io/name", "ingress-nginx"),
                    ("app.kubernetes.io/component", "controller"),
                ]),
                classes: strings(&["nginx", "nginx-private"]),
            }],
            gateways: vec![PlatformEndpoint {
                name: "envoy-gateway".to_string(),
                namespace: "envoy-gateway".to_string(),
                pod_labels: labels(&[
                    ("app.kubernetes.io/name", "envoy"),
                    ("app.kubernetes.io/component", "proxy"),
                    ("app.kubernetes.io/managed-by", "envoy-gateway"),
                ]),
                classes: Vec::new(),
            }],
            dns: PlatformEndpoint {
                name: "kube-dns".to_string(),
                namespace: "kube-system".to_string(),
                pod_labels: labels(&[("k8s-app", "kube-dns")]),
                classes: Vec::new(),
            },
            dns_addresses: Cloud::Aks.nodelocal_dns(),
            letsencrypt_issuers: strings(&["letsencrypt"]),
            node_cidrs: strings(&["10.224.0.0/12"]),
            platform_allowances: Vec::new(),
        }
    }
}
