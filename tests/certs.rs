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
