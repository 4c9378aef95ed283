//! The certificates cert-manager would request if the repository were applied to
//! a fresh cluster: from Ingresses (ingress-shim), Gateways (gateway-shim) and
//! explicit `cert-manager.io` Certificates, each with its names, secret, issuer
//! and whether that issuer is Let's Encrypt. Built once from the model; the
//! certificate rules and the `certs` budget report read it.

pub mod budget;
pub mod domain;
pub mod limits;

use crate::hashing::FastMap;
use std::collections::{BTreeMap, BTreeSet};

use crate::load::yaml::Node;
use crate::model::{Model, Object, ObjectId, Typed, map_entries};
use crate::span::Span;
use limits::Environment;

pub const CLUSTER_ISSUER_ANNOTATION: &str = "cert-manager.io/cluster-issuer";
pub const ISSUER_ANNOTATION: &str = "cert-manager.io/issuer";
pub const ISSUER_KIND_ANNOTATION: &str = "cert-manager.io/issuer-kind";
pub const ISSUER_GROUP_ANNOTATION: &str = "cert-manager.io/issuer-group";
pub const TLS_ACME_ANNOTATION: &str = "kubernetes.io/tls-acme";
pub const CERT_MANAGER_GROUP: &str = "cert-manager.io";

/// Certificate settings a user can change: from `xks.letsencrypt-issuers` of
/// `.xks-lint.yaml` (where the default is written) and the flags.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct CertSettings {
    /// ClusterIssuers that are not in the repository but are known to be Let's
    /// Encrypt production (the XKS platform provides `letsencrypt`). Also the
    /// issuer that `kubernetes.io/tls-acme: "true"` uses (the first one).
    pub letsencrypt_issuers: Vec<String>,
    /// `letsencrypt-rate-limit` warns from this share of a limit (percent).
    pub warn_percent: u32,
}

/// `letsencrypt-rate-limit` warns from this share of a limit unless told otherwise.
pub const DEFAULT_WARN_PERCENT: u32 = 50;

impl CertSettings {
    pub fn from_config(xks: &crate::settings::XksSettings) -> CertSettings {
        CertSettings {
            letsencrypt_issuers: xks.letsencrypt_issuers.clone(),
            warn_percent: DEFAULT_WARN_PERCENT,
        }
    }
}

impl Default for CertSettings {
    fn default() -> Self {
        CertSettings::from_config(&crate::settings::XksSettings::default())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// cert-manager's ingress-shim, from an annotated Ingress.
    IngressShim,
    /// cert-manager's gateway-shim, from an annotated Gateway.
    GatewayShim,
    /// An explicit `cert-manager.io` Certificate.
    Certificate,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::IngressShim => "ingress-shim",
            Source::GatewayShim => "gateway-shim",
            Source::Certificate => "Certificate",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct IssuerRef {
    pub name: String,
    pub kind: String,
    pub group: String,
}

impl std::fmt::Display for IssuerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.kind, self.name)
    }
}

/// Who signs the certificate, as far as the repository and the settings tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Authority {
    LetsEncrypt(Environment),
    /// An issuer in the repository that is not Let's Encrypt (another ACME CA, CA, Vault, ...).
    Other,
    /// An issuer neither in the repository nor among the assumed Let's Encrypt issuers.
    Unknown,
}

impl Authority {
    pub fn environment(self) -> Option<Environment> {
        match self {
            Authority::LetsEncrypt(environment) => Some(environment),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsName {
    /// As written in the manifest.
    pub text: String,
    /// Lower-case ASCII form (see [`domain::normalize`]); the written text when it is not a host name.
    pub normal: String,
    pub registered: Option<String>,
    pub span: Span,
}

/// One certificate cert-manager would request.
#[derive(Debug, Clone)]
pub struct CertRequest {
    pub source: Source,
    pub object: ObjectId,
    pub namespace: String,
    /// The Secret the certificate is written to; for the shims also the Certificate's name.
    pub secret_name: String,
    pub secret_span: Span,
    /// Node path of the secret name, for fingerprints (no line numbers).
    pub secret_path: String,
    /// Distinct names, in the order written.
    pub names: Vec<DnsName>,
    /// The list the names come from (hosts, dnsNames, listener hostname).
    pub names_span: Span,
    pub issuer_ref: IssuerRef,
    pub authority: Authority,
    /// What makes cert-manager act: the shim annotation's key, or the Certificate's `issuerRef`.
    pub trigger_span: Span,
    pub trigger_path: String,
}

impl CertRequest {
    /// The set of names as Let's Encrypt compares them (case and order ignored).
    pub fn name_set(&self) -> BTreeSet<String> {
        self.names.iter().map(|n| n.normal.clone()).collect()
    }

    pub fn registered_domains(&self) -> BTreeSet<String> {
        self.names
            .iter()
            .filter_map(|n| n.registered.clone())
            .collect()
    }

    pub fn environment(&self) -> Option<Environment> {
        self.authority.environment()
    }
}

#[derive(Debug, Default)]
pub struct Inventory {
    pub requests: Vec<CertRequest>,
    pub settings: CertSettings,
    /// (namespace, secret) → indexes into `requests`.
    by_secret: FastMap<(String, String), Vec<usize>>,
}

impl Inventory {
    pub fn build(model: &Model, settings: &CertSettings) -> Inventory {
        let issuers = Issuers::collect(model);
        // Each object's requests are made on every core, then gathered in object order.
        use rayon::prelude::*;
        let per_object: Vec<Vec<CertRequest>> = model
            .objects
            .par_iter()
            .map(|object| {
                let mut requests = Vec::new();
                match &object.typed {
                    Typed::Ingress(_) => ingress_shim(object, settings, &issuers, &mut requests),
                    Typed::Gateway(_) => gateway_shim(object, settings, &issuers, &mut requests),
                    Typed::Certificate(_) => certificate(object, settings, &issuers, &mut requests),
                    _ => {}
                }
                requests
            })
            .collect();
        let requests: Vec<CertRequest> = per_object.into_iter().flatten().collect();
        let mut by_secret: FastMap<(String, String), Vec<usize>> = FastMap::default();
        for (index, request) in requests.iter().enumerate() {
            by_secret
                .entry((request.namespace.clone(), request.secret_name.clone()))
                .or_default()
                .push(index);
        }
        Inventory {
            requests,
            settings: settings.clone(),
            by_secret,
        }
    }

    /// Requests that write `secret` in `namespace`.
    pub fn writers<'a>(
        &'a self,
        namespace: &'a str,
        secret: &'a str,
    ) -> impl Iterator<Item = &'a CertRequest> + 'a {
        self.by_secret
            .get(&(namespace.to_string(), secret.to_string()))
            .into_iter()
            .flatten()
            .filter_map(|&i| self.requests.get(i))
    }
}

/// Issuers and ClusterIssuers defined in the repository.
struct Issuers {
    /// (kind, namespace or "" for ClusterIssuers, name) → authority.
    known: BTreeMap<(String, String, String), Authority>,
}

impl Issuers {
    fn collect(model: &Model) -> Issuers {
        let mut known = BTreeMap::new();
        for object in &model.objects {
            if let Typed::Issuer(spec) = &object.typed {
                let authority = match &spec.acme {
                    Some(acme) => classify_acme_server(&acme.server),
                    None => Authority::Other,
                };
                let namespace = if object.kind == "ClusterIssuer" {
                    String::new()
                } else {
                    object.namespace.to_string()
                };
                known.insert(
                    (object.kind.to_string(), namespace, object.name.to_string()),
                    authority,
                );
            }
        }
        Issuers { known }
    }

    fn authority(&self, issuer: &IssuerRef, namespace: &str, settings: &CertSettings) -> Authority {
        if issuer.group != CERT_MANAGER_GROUP {
            // An external issuer (AWS PCA, Vault operator, ...): not Let's Encrypt as far as we can tell.
            return Authority::Other;
        }
        let scope = if issuer.kind == "ClusterIssuer" {
            ""
        } else {
            namespace
        };
        let key = (issuer.kind.clone(), scope.to_string(), issuer.name.clone());
        if let Some(authority) = self.known.get(&key) {
            return *authority;
        }
        if issuer.kind == "ClusterIssuer" && settings.letsencrypt_issuers.contains(&issuer.name) {
            return Authority::LetsEncrypt(Environment::Production);
        }
        Authority::Unknown
    }
}

/// Let's Encrypt's ACME directories: production `acme-v02.api.letsencrypt.org`,
/// staging `acme-staging-v02.api.letsencrypt.org`.
pub fn classify_acme_server(url: &str) -> Authority {
    let rest = url.trim();
    let rest = rest.split_once("://").map(|(_, rest)| rest).unwrap_or(rest);
    let host = rest
        .split(['/', ':'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let host = host.trim_end_matches('.');
    let is_letsencrypt = host == "letsencrypt.org" || host.ends_with(".letsencrypt.org");
    if !is_letsencrypt {
        Authority::Other
    } else if host.split('.').any(|label| label.contains("staging")) {
        Authority::LetsEncrypt(Environment::Staging)
    } else {
        Authority::LetsEncrypt(Environment::Production)
    }
}

/// The issuer an annotated Ingress or Gateway asks for, with the annotation that asks.
fn shim_issuer(object: &Object, settings: &CertSettings) -> Option<(IssuerRef, Span, String)> {
    let annotations = object.node.path(&["metadata", "annotations"]);
    let find = |key: &str| {
        map_entries(annotations)
            .filter(|(k, _, _)| *k == key)
            .last()
            .map(|(_, key_node, value)| (key_node, value.scalar_text().unwrap_or_default().trim()))
    };
    let path = |key: &str| format!("metadata.annotations.{key}");
    let (mut issuer, span, trigger) = if let Some((key, name)) = find(CLUSTER_ISSUER_ANNOTATION) {
        (
            IssuerRef {
                name: name.to_string(),
                kind: "ClusterIssuer".to_string(),
                group: CERT_MANAGER_GROUP.to_string(),
            },
            key.span,
            path(CLUSTER_ISSUER_ANNOTATION),
        )
    } else if let Some((key, name)) = find(ISSUER_ANNOTATION) {
        (
            IssuerRef {
                name: name.to_string(),
                kind: "Issuer".to_string(),
                group: CERT_MANAGER_GROUP.to_string(),
            },
            key.span,
            path(ISSUER_ANNOTATION),
        )
    } else if let Some((key, value)) = find(TLS_ACME_ANNOTATION)
        && value == "true"
    {
        // cert-manager then uses its configured default issuer; on XKS that is the platform's.
        let name = settings
            .letsencrypt_issuers
            .first()
            .cloned()
            .unwrap_or_default();
        (
            IssuerRef {
                name,
                kind: "ClusterIssuer".to_string(),
                group: CERT_MANAGER_GROUP.to_string(),
            },
            key.span,
            path(TLS_ACME_ANNOTATION),
        )
    } else {
        return None;
    };
    if let Some((_, kind)) = find(ISSUER_KIND_ANNOTATION)
        && !kind.is_empty()
    {
        issuer.kind = kind.to_string();
    }
    if let Some((_, group)) = find(ISSUER_GROUP_ANNOTATION)
        && !group.is_empty()
    {
        issuer.group = group.to_string();
    }
    Some((issuer, span, trigger))
}

fn dns_name(text: &str, span: Span) -> DnsName {
    DnsName {
        text: text.to_string(),
        normal: domain::normalize(text).unwrap_or_else(|| text.trim().to_ascii_lowercase()),
        registered: domain::registered_domain(text),
        span,
    }
}

fn push_name(names: &mut Vec<DnsName>, name: DnsName) {
    if !name.text.trim().is_empty() && !names.iter().any(|n| n.normal == name.normal) {
        names.push(name);
    }
}

fn seq(node: Option<&Node>) -> &[Node] {
    node.and_then(Node::as_seq).unwrap_or(&[])
}

fn ingress_shim(
    object: &Object,
    settings: &CertSettings,
    issuers: &Issuers,
    out: &mut Vec<CertRequest>,
) {
    let Some((issuer_ref, trigger_span, trigger_path)) = shim_issuer(object, settings) else {
        return;
    };
    let authority = issuers.authority(&issuer_ref, &object.namespace, settings);
    let first = out.len();
    for (index, entry) in seq(object.node.path(&["spec", "tls"])).iter().enumerate() {
        // An entry without a secret gets no certificate (cert-manager skips it).
        let Some(secret_node) = entry.get("secretName") else {
            continue;
        };
        let secret = secret_node.scalar_text().unwrap_or_default().trim();
        if secret.is_empty() {
            continue;
        }
        let hosts = entry.get("hosts");
        // Entries naming the same secret become one Certificate holding all their hosts.
        let request = request_for_secret(out, first, secret, || CertRequest {
            source: Source::IngressShim,
            object: object.id,
            namespace: object.namespace.to_string(),
            secret_name: secret.to_string(),
            secret_span: secret_node.span,
            secret_path: format!("spec.tls[{index}].secretName"),
            names: Vec::new(),
            names_span: hosts.map(|h| h.span).unwrap_or(entry.span),
            issuer_ref: issuer_ref.clone(),
            authority,
            trigger_span,
            trigger_path: trigger_path.clone(),
        });
        for host in seq(hosts) {
            if let Some(text) = host.scalar_text() {
                push_name(&mut request.names, dns_name(text, host.span));
            }
        }
    }
}

/// The request of this object (those from `first` on) that writes `secret`, made by
/// `new` when there is none yet: entries naming one secret share one Certificate.
fn request_for_secret<'a>(
    out: &'a mut Vec<CertRequest>,
    first: usize,
    secret: &str,
    new: impl FnOnce() -> CertRequest,
) -> &'a mut CertRequest {
    let index = match out[first..].iter().position(|r| r.secret_name == secret) {
        Some(offset) => first + offset,
        None => {
            out.push(new());
            out.len() - 1
        }
    };
    &mut out[index]
}

fn gateway_shim(
    object: &Object,
    settings: &CertSettings,
    issuers: &Issuers,
    out: &mut Vec<CertRequest>,
) {
    let Some((issuer_ref, trigger_span, trigger_path)) = shim_issuer(object, settings) else {
        return;
    };
    let authority = issuers.authority(&issuer_ref, &object.namespace, settings);
    let first = out.len();
    for (index, listener) in seq(object.node.path(&["spec", "listeners"]))
        .iter()
        .enumerate()
    {
        // gateway-shim skips listeners without a hostname and TLS passthrough listeners.
        let Some(hostname) = listener.get("hostname") else {
            continue;
        };
        let mode = listener
            .path(&["tls", "mode"])
            .and_then(Node::scalar_text)
            .unwrap_or("Terminate");
        if mode != "Terminate" {
            continue;
        }
        for (ref_index, reference) in seq(listener.path(&["tls", "certificateRefs"]))
            .iter()
            .enumerate()
        {
            let text = |key: &str| reference.get(key).and_then(Node::scalar_text);
            let is_secret = text("kind").is_none_or(|k| k == "Secret")
                && text("group").is_none_or(str::is_empty);
            let same_namespace = text("namespace").is_none_or(|ns| ns == object.namespace);
            let Some(name_node) = reference.get("name") else {
                continue;
            };
            let secret = name_node.scalar_text().unwrap_or_default().trim();
            if !is_secret || !same_namespace || secret.is_empty() {
                continue;
            }
            let request = request_for_secret(out, first, secret, || CertRequest {
                source: Source::GatewayShim,
                object: object.id,
                namespace: object.namespace.to_string(),
                secret_name: secret.to_string(),
                secret_span: name_node.span,
                secret_path: format!(
                    "spec.listeners[{index}].tls.certificateRefs[{ref_index}].name"
                ),
                names: Vec::new(),
                names_span: hostname.span,
                issuer_ref: issuer_ref.clone(),
                authority,
                trigger_span,
                trigger_path: trigger_path.clone(),
            });
            if let Some(text) = hostname.scalar_text() {
                push_name(&mut request.names, dns_name(text, hostname.span));
            }
        }
    }
}

fn certificate(
    object: &Object,
    settings: &CertSettings,
    issuers: &Issuers,
    out: &mut Vec<CertRequest>,
) {
    let Typed::Certificate(spec) = &object.typed else {
        return;
    };
    let issuer_ref = IssuerRef {
        name: spec.issuer_ref.name.clone(),
        kind: spec
            .issuer_ref
            .kind
            .clone()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "Issuer".to_string()),
        group: spec
            .issuer_ref
            .group
            .clone()
            .filter(|g| !g.is_empty())
            .unwrap_or_else(|| CERT_MANAGER_GROUP.to_string()),
    };
    let authority = issuers.authority(&issuer_ref, &object.namespace, settings);
    let mut names = Vec::new();
    if let Some(node) = object.node.path(&["spec", "commonName"])
        && let Some(text) = node.scalar_text()
    {
        push_name(&mut names, dns_name(text, node.span));
    }
    for node in seq(object.node.path(&["spec", "dnsNames"])) {
        if let Some(text) = node.scalar_text() {
            push_name(&mut names, dns_name(text, node.span));
        }
    }
    let secret_node = object.node.path(&["spec", "secretName"]);
    out.push(CertRequest {
        source: Source::Certificate,
        object: object.id,
        namespace: object.namespace.to_string(),
        secret_name: spec.secret_name.trim().to_string(),
        secret_span: secret_node
            .map(|n| n.span)
            .unwrap_or_else(|| object.name_span()),
        secret_path: "spec.secretName".to_string(),
        names,
        names_span: object
            .node
            .path(&["spec", "dnsNames"])
            .map(|n| n.span)
            .unwrap_or_else(|| object.name_span()),
        issuer_ref,
        authority,
        trigger_span: object.name_span(),
        trigger_path: "metadata.name".to_string(),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acme_servers_are_classified() {
        assert_eq!(
            classify_acme_server("https://acme-v02.api.letsencrypt.org/directory"),
            Authority::LetsEncrypt(Environment::Production)
        );
        assert_eq!(
            classify_acme_server("https://acme-staging-v02.api.letsencrypt.org/directory"),
            Authority::LetsEncrypt(Environment::Staging)
        );
        assert_eq!(
            classify_acme_server("https://ACME-V02.api.letsencrypt.org./directory"),
            Authority::LetsEncrypt(Environment::Production)
        );
        assert_eq!(
            classify_acme_server("https://acme.zerossl.com/v2/DV90"),
            Authority::Other
        );
        assert_eq!(
            classify_acme_server("https://letsencrypt.org.evil.example/directory"),
            Authority::Other
        );
    }
}
