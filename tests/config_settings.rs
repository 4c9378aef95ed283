//! The `xks:` section of `.xks-lint.yaml` reaches the engines: tenant and platform
//! namespaces, ingress controllers, DNS addresses and Let's Encrypt issuers change
//! what `check`, `connectivity`, `why` and `certs` say; flags override the file.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

/// A tenant workload behind an Ingress of `class`, with a policy that admits the
/// default XKS ingress controller (namespace `ingress-nginx`) only when `admit_nginx`.
fn shop(class: &str, admit_nginx: bool) -> String {
    let mut yaml = format!(
        "apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: shop}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers: [{{name: web, image: web, ports: [{{containerPort: 8080}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: shop}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web, namespace: shop}}
spec:
  ingressClassName: {class}
  rules:
    - host: web.example.com
      http:
        paths:
          - path: /
            pathType: Prefix
            backend: {{service: {{name: web, port: {{number: 80}}}}}}
"
    );
    if admit_nginx {
        yaml.push_str(
            "---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-ingress-nginx, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {name: ingress-nginx}}
",
        );
    }
    yaml
}

/// A repository holding `manifests` and, when given, `.xks-lint.yaml`.
fn repo(manifests: &str, config: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    fs::write(dir.path().join("manifests.yaml"), manifests).unwrap();
    if let Some(config) = config {
        fs::write(dir.path().join(".xks-lint.yaml"), config).unwrap();
    }
    dir
}

fn xks_lint(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("xks-lint").unwrap();
    command.current_dir(dir);
    command
}

/// The findings of `check --format json` in `dir`, as (rule, message, help).
fn findings(dir: &Path, args: &[&str]) -> Vec<(String, String, String)> {
    let output = xks_lint(dir)
        .args(["check", ".", "--format", "json", "--fail-on", "never"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let text = |key: &str| f[key].as_str().unwrap_or_default().to_string();
            (text("rule"), text("message"), text("help"))
        })
        .collect()
}

fn rule_count(findings: &[(String, String, String)], rule: &str) -> usize {
    findings.iter().filter(|(r, _, _)| r == rule).count()
}

#[test]
fn tenant_and_platform_namespaces_decide_where_the_implicit_policy_is() {
    let manifests = shop("nginx", false);
    // By default `shop` holds a workload: a tenant, isolated by the XKS default-deny policy.
    let dir = repo(&manifests, None);
    assert_eq!(
        rule_count(&findings(dir.path(), &[]), "ingress-backend-blocked"),
        1
    );
    // Declared tenants: `shop` is not one, so nothing isolates its pods.
    let dir = repo(&manifests, Some("xks:\n  tenant-namespaces: [billing]\n"));
    assert_eq!(
        rule_count(&findings(dir.path(), &[]), "ingress-backend-blocked"),
        0
    );
    // A platform namespace is never a tenant.
    let dir = repo(
        &manifests,
        Some("xks:\n  platform-namespaces: [kube-system, shop]\n"),
    );
    assert_eq!(
        rule_count(&findings(dir.path(), &[]), "ingress-backend-blocked"),
        0
    );
}

const TRAEFIK: &str = "xks:
  ingress-controllers:
    - name: traefik
      namespace: traefik
      pod-labels: {app.kubernetes.io/name: traefik}
      classes: [traefik]
";

#[test]
fn configured_ingress_controllers_serve_their_classes_from_their_namespace() {
    // The policy admits ingress-nginx: enough for the default controller.
    let manifests = shop("nginx", true);
    let dir = repo(&manifests, None);
    assert_eq!(
        rule_count(&findings(dir.path(), &[]), "ingress-backend-blocked"),
        0
    );
    // A class no configured controller serves is not checked.
    let dir = repo(&shop("traefik", true), None);
    assert_eq!(
        rule_count(&findings(dir.path(), &[]), "ingress-backend-blocked"),
        0
    );
    // Traefik in its own namespace serves `traefik`: the policy does not admit it.
    let dir = repo(&shop("traefik", true), Some(TRAEFIK));
    let found = findings(dir.path(), &[]);
    let blocked: Vec<_> = found
        .iter()
        .filter(|(rule, _, _)| rule == "ingress-backend-blocked")
        .collect();
    assert_eq!(blocked.len(), 1, "{found:#?}");
    let (_, _, help) = blocked[0];
    assert!(help.contains("name: allow-traefik"), "{help}");
    assert!(help.contains("name: traefik"), "{help}");
    // ... and the nginx class is no longer served by anything.
    let dir = repo(&manifests, Some(TRAEFIK));
    assert_eq!(
        rule_count(&findings(dir.path(), &[]), "ingress-backend-blocked"),
        0
    );
}

#[test]
fn why_and_connectivity_read_the_config() {
    let dir = repo(&shop("traefik", true), Some(TRAEFIK));
    let output = xks_lint(dir.path())
        .args(["why", "traefik", "shop/web", "--port", "8080"])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("BLOCKED"));
    // With another (empty) config there is no such endpoint.
    fs::write(dir.path().join("empty.yaml"), "").unwrap();
    xks_lint(dir.path())
        .args(["why", "traefik", "shop/web", "--config", "empty.yaml"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "write a workload as namespace/name",
        ));

    let dir = repo(
        &shop("nginx", false),
        Some("xks:\n  dns-addresses: [192.0.2.53/32]\n"),
    );
    let connectivity = |args: &[&str]| {
        let output = xks_lint(dir.path())
            .arg("connectivity")
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0));
        String::from_utf8(output.stdout).unwrap()
    };
    let configured = connectivity(&[]);
    assert!(
        configured.contains("shop/web[Deployment] => 192.0.2.53-192.0.2.53 : TCP 53;UDP 53"),
        "{configured}"
    );
    assert!(!configured.contains("10.0.0.10"), "{configured}");
    // `--cloud` replaces the configured addresses.
    let aws = connectivity(&["--cloud", "aws"]);
    assert!(
        aws.contains("172.20.0.10-172.20.0.10 : TCP 53;UDP 53"),
        "{aws}"
    );
    assert!(!aws.contains("192.0.2.53"), "{aws}");
}

/// Two Ingresses of one namespace, each asking `issuer` for its own certificate.
fn two_ingresses(issuer: &str) -> String {
    ["shop", "blog"]
        .iter()
        .map(|name| {
            format!(
                "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {name}
  namespace: tenant
  annotations:
    cert-manager.io/cluster-issuer: {issuer}
spec:
  ingressClassName: traefik
  tls:
    - hosts: [{name}.example.com]
      secretName: {name}-tls
"
            )
        })
        .collect::<Vec<_>>()
        .join("---\n")
}

#[test]
fn letsencrypt_issuers_of_the_config_count_and_the_flag_replaces_them() {
    let manifests = two_ingresses("le-prod");
    let dir = repo(&manifests, None);
    assert_eq!(
        rule_count(&findings(dir.path(), &[]), "per-ingress-certificate"),
        0,
        "an unknown issuer is not Let's Encrypt"
    );
    let dir = repo(&manifests, Some("xks:\n  letsencrypt-issuers: [le-prod]\n"));
    assert_eq!(
        rule_count(&findings(dir.path(), &[]), "per-ingress-certificate"),
        2
    );
    assert_eq!(
        rule_count(
            &findings(dir.path(), &["--letsencrypt-issuer", "letsencrypt"]),
            "per-ingress-certificate"
        ),
        0,
        "--letsencrypt-issuer replaces the config's list"
    );
    // `xks-lint certs` counts them too.
    let budget = |dir: &Path| {
        let output = xks_lint(dir)
            .args(["certs", "--format", "json"])
            .output()
            .unwrap();
        serde_json::from_slice::<Value>(&output.stdout).unwrap()
    };
    let counted = budget(dir.path());
    let plain = budget(repo(&manifests, None).path());
    assert_ne!(counted, plain);
    assert!(counted.to_string().contains("example.com"), "{counted}");
}

#[test]
fn bad_xks_values_are_errors_at_their_position() {
    let dir = repo(
        &shop("nginx", false),
        Some(
            "xks:\n  dns-addresses: [10.0.0.10/32, not-an-address]\n  ingress-controllers:\n    - {name: kube-dns, namespace: traefik}\n",
        ),
    );
    let output = xks_lint(dir.path()).args(["check", "."]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(".xks-lint.yaml:2:33: invalid address in `xks.dns-addresses`"),
        "{stderr}"
    );
    assert!(
        stderr.contains(".xks-lint.yaml:4:14: platform endpoint name `kube-dns` is already used"),
        "{stderr}"
    );
    // The same config stops `connectivity` and `certs`.
    xks_lint(dir.path()).arg("connectivity").assert().code(2);
    xks_lint(dir.path()).arg("certs").assert().code(2);
}
