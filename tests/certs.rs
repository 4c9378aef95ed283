//! The certificate inventory: what cert-manager would request from a repository.

mod common;

use xks_lint::certs::limits::Environment;
use xks_lint::certs::{Authority, Source, budget};

fn inventory(yaml: &str) -> xks_lint::Analysis {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifests.yaml");
    std::fs::write(&path, yaml).unwrap();
    common::analyze_paths(&[&path])
}

const SHIMS: &str = "
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: one
  namespace: tenant
  annotations:
    cert-manager.io/cluster-issuer: letsencrypt
spec:
  tls:
    - hosts: [One.Example.com, www.example.com]
      secretName: one-tls
    - hosts: [extra.example.com]
      secretName: one-tls
    - hosts: [nosecret.example.com]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: acme
  namespace: tenant
  annotations:
    kubernetes.io/tls-acme: \"true\"
spec:
  tls:
    - hosts: [acme.example.org]
      secretName: acme-tls
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: plain
  namespace: tenant
spec:
  tls:
    - hosts: [plain.example.com]
      secretName: plain-tls
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: gw
  namespace: tenant
  annotations:
    cert-manager.io/issuer: staging
spec:
  gatewayClassName: eg
  listeners:
    - name: a
      hostname: a.example.net
      port: 443
      protocol: HTTPS
      tls:
        certificateRefs: [{name: gw-tls}]
    - name: b
      hostname: b.example.net
      port: 443
      protocol: HTTPS
      tls:
        certificateRefs: [{name: gw-tls}]
    - name: passthrough
      hostname: c.example.net
      port: 443
      protocol: TLS
      tls:
        mode: Passthrough
        certificateRefs: [{name: c-tls}]
    - name: nohost
      port: 8443
      protocol: HTTPS
      tls:
        certificateRefs: [{name: d-tls}]
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: staging
  namespace: tenant
spec:
  acme:
    server: https://acme-staging-v02.api.letsencrypt.org/directory
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: explicit
  namespace: tenant
spec:
  secretName: explicit-tls
  commonName: x.example.com
  dnsNames: [x.example.com, y.example.com]
  issuerRef:
    name: private-ca
    kind: ClusterIssuer
---
apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: private-ca
spec:
  ca:
    secretName: ca
";

#[test]
fn shims_and_certificates_become_requests() {
    let analysis = inventory(SHIMS);
    let requests = &analysis.certs.requests;
    let summary: Vec<(Source, &str, Vec<&str>, Authority)> = requests
        .iter()
        .map(|r| {
            (
                r.source,
                r.secret_name.as_str(),
                r.names.iter().map(|n| n.normal.as_str()).collect(),
                r.authority,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                Source::IngressShim,
                "one-tls",
                vec!["one.example.com", "www.example.com", "extra.example.com"],
                Authority::LetsEncrypt(Environment::Production)
            ),
            (
                Source::IngressShim,
                "acme-tls",
                vec!["acme.example.org"],
                Authority::LetsEncrypt(Environment::Production)
            ),
            (
                Source::GatewayShim,
                "gw-tls",
                vec!["a.example.net", "b.example.net"],
                Authority::LetsEncrypt(Environment::Staging)
            ),
            (
                Source::Certificate,
                "explicit-tls",
                vec!["x.example.com", "y.example.com"],
                Authority::Other
            ),
        ]
    );
}

#[test]
fn unknown_issuers_are_not_assumed_to_be_lets_encrypt() {
    let analysis = inventory(
        "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: one
  annotations:
    cert-manager.io/cluster-issuer: letsencrypt-prod
spec:
  tls: [{hosts: [a.example.com], secretName: a}]
",
    );
    assert_eq!(analysis.certs.requests[0].authority, Authority::Unknown);
    assert!(budget::budgets(&analysis.certs).is_empty());
}

#[test]
fn budget_counts_per_registered_domain_and_environment() {
    let analysis = inventory(SHIMS);
    let budgets = budget::budgets(&analysis.certs);
    let rows: Vec<(Environment, &str, usize)> = budgets
        .iter()
        .map(|b| (b.environment, b.domain.as_str(), b.count()))
        .collect();
    assert_eq!(
        rows,
        vec![
            (Environment::Production, "example.com", 1),
            (Environment::Production, "example.org", 1),
            (Environment::Staging, "example.net", 1),
        ]
    );
    assert_eq!(budgets[0].names.len(), 3);
}

const CERT_RULES: [&str; 6] = [
    "per-ingress-certificate",
    "letsencrypt-rate-limit",
    "tls-secret-conflict",
    "tls-host-not-covered",
    "ingress-without-tls",
    "certificate-too-many-names",
];

#[test]
fn the_xks_guides_shared_certificate_example_is_silent() {
    let guide = std::path::Path::new("../shared/corpus/xks-guide");
    if !guide.is_dir() {
        eprintln!("SKIPPED: {} is not present", guide.display());
        return;
    }
    let certificate = guide.join("05-certificate-shared.yaml");
    let ingress = guide.join("06-ingress-app-one.yaml");
    let private_ingress = guide.join("07-ingress-app-one.yaml");
    let analysis = common::analyze_paths(&[&certificate, &ingress, &private_ingress]);
    assert_eq!(
        analysis.certs.requests.len(),
        1,
        "the one shared Certificate"
    );
    let fired: Vec<_> = analysis
        .diagnostics
        .iter()
        .filter(|d| CERT_RULES.contains(&d.rule))
        .collect();
    assert!(fired.is_empty(), "{}", common::describe(&analysis));
}

#[test]
fn the_shared_certificate_in_the_help_is_valid_and_holds_every_name() {
    let analysis = common::analyze_paths(&[std::path::Path::new(
        "fixtures/per-ingress-certificate/fail-two-ingresses.yaml",
    )]);
    let help = analysis
        .diagnostics
        .iter()
        .find(|d| d.rule == "per-ingress-certificate")
        .and_then(|d| d.help_text().map(|h| h.into_owned()))
        .unwrap();
    let start = help.find("apiVersion:").unwrap();
    let end = help[start..].find("\n\n").unwrap() + start;
    let fixed = inventory(&help[start..end]);
    assert!(fixed.diagnostics.iter().all(|d| d.rule != "parse-error"));
    let requests = &fixed.certs.requests;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].source, Source::Certificate);
    assert_eq!(
        requests[0].authority,
        Authority::LetsEncrypt(Environment::Production)
    );
    assert_eq!(requests[0].secret_name, "example-com-tls");
    let names: Vec<&str> = requests[0]
        .names
        .iter()
        .map(|n| n.normal.as_str())
        .collect();
    assert_eq!(
        names,
        vec!["shop.example.com", "blog.example.com", "*.blog.example.com"]
    );
}

#[test]
fn the_assumed_issuer_list_comes_from_the_settings() {
    let yaml = "apiVersion: cert-manager.io/v1
kind: Certificate
metadata: {name: a, namespace: t}
spec:
  secretName: a
  dnsNames: [a.example.com]
  issuerRef: {kind: ClusterIssuer, name: le-prod}
";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.yaml");
    std::fs::write(&path, yaml).unwrap();
    let analyze = |issuers: Vec<String>| {
        let options = xks_lint::CheckOptions {
            inputs: vec![xks_lint::load::Input::Path(path.clone())],
            certs: xks_lint::certs::CertSettings {
                letsencrypt_issuers: issuers,
                ..Default::default()
            },
            ..Default::default()
        };
        xks_lint::analyze(&options).certs.requests[0].authority
    };
    assert_eq!(analyze(vec![]), Authority::Unknown);
    assert_eq!(
        analyze(vec!["le-prod".to_string()]),
        Authority::LetsEncrypt(Environment::Production)
    );
}
