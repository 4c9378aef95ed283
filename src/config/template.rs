//! The commented configuration `xks-lint init` writes.

/// What `xks-lint init` writes: every key with its default, commented. A test keeps it equal
/// to the defaults in code.
pub const DEFAULT_CONFIG: &str = r#"# xks-lint configuration. Found by walking up from the first PATH to the repository root,
# or given with --config FILE. Command-line flags override it (--select, --ignore, --fail-on,
# --default-namespace, --letsencrypt-issuer, --cloud); --exclude adds to `exclude`.
# `xks-lint rules` lists the rule ids. `check`, `connectivity`, `why` and `certs` read it.

# Run only these rules (leave out or comment to run all of them).
# select: [annotation-not-string, rate-limit-conflict]

# Do not run these rules.
ignore: []

# Change the severity of a rule: error, warning or note.
severity: {}
#   rate-limit-conflict: error

# Leave out files and directories (gitignore syntax, relative to the directory checked).
exclude: []
#   - "charts/**/tests/"

# Lowest severity that makes the exit code 1: error, warning, note or never.
fail-on: error

# Environments analysed as separate clusters: each lists its kustomization root
# directories (paths or globs relative to this file). Roots listed nowhere, and files
# outside kustomizations, are part of every environment. Without this section, roots
# that render an object differently are grouped by Flux `clusters/<env>/` layouts, else
# by their directory name (`*/prod`, `*/staging`).
# environments:
#   prod: [overlays/prod, apps/*/prod]
#   staging: [overlays/staging, apps/*/staging]

# The XKS platform the manifests run on. A list given here replaces the default list.
xks:
  # Namespace of objects that set none and have no kustomization `namespace:` above them.
  default-namespace: default
  # Tenant namespaces; empty: every namespace holding a workload that is not a platform one.
  tenant-namespaces: []
  # Namespaces owned by the platform team: never tenants, no implicit default-deny policy.
  # (The platform's Terraform list, plus envoy-gateway-system, upstream Envoy Gateway's.)
  platform-namespaces:
    [kube-system, ingress-nginx, envoy-gateway, envoy-gateway-system, linkerd, cert-manager,
     external-dns, flux-system, calico-system, tigera-operator, datadog, grafana-alloy,
     prometheus, velero, trivy, falco, reloader, spegel, vpa]
  # Ingress controllers: pods that must be admitted by the backends of their Ingresses.
  # `name` is the endpoint's id in `connectivity` and `why` (default: the namespace); an
  # Ingress goes to the first controller listing its class (empty `classes`: every class),
  # an Ingress without a class to the first controller (the cluster's default class).
  ingress-controllers:
    - name: ingress-controller
      namespace: ingress-nginx
      pod-labels:
        app.kubernetes.io/name: ingress-nginx
        app.kubernetes.io/component: controller
      classes: [nginx, nginx-private]
  # Gateway API data planes: pods that must be admitted by the backends of their routes
  # (HTTPRoutes go to the first one).
  gateways:
    - name: envoy-gateway
      namespace: envoy-gateway
      pod-labels:
        app.kubernetes.io/name: envoy
        app.kubernetes.io/component: proxy
        app.kubernetes.io/managed-by: envoy-gateway
      classes: []
  # Cluster DNS pods (the XKS default-deny policy allows UDP and TCP 53 to them, in every namespace).
  dns:
    namespace: kube-system
    pod-labels:
      k8s-app: kube-dns
  # NodeLocal DNS addresses; on XKS on AWS use 169.254.20.10/32 and 172.20.0.10/32
  # (`--cloud aws|aks` replaces this list).
  dns-addresses: [169.254.20.10/32, 10.0.0.10/32]
  # ClusterIssuers of the platform that issue from Let's Encrypt production (the first one
  # also serves `kubernetes.io/tls-acme`); `--letsencrypt-issuer` replaces this list.
  letsencrypt-issuers: [letsencrypt]
  # Address ranges of the nodes. hostNetwork pods are not selected by NetworkPolicies (Calico,
  # XKS's CNI) and their traffic carries the node's address: an ipBlock or `networks` peer
  # holding these ranges matches them (`--host-network-as-pods` treats them as ordinary pods).
  # Default: AKS's default node address space.
  node-cidrs: [10.224.0.0/12]
  # Optional platform policies in every tenant namespace, as the platform's variables switch
  # them on: datadog-tracing (egress TCP 8126 to and ingress from namespace `datadog`),
  # grafana-alloy (egress to and ingress from namespace `grafana-alloy`).
  platform-allowances: []
"#;
