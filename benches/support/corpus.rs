//! Deterministic generator of realistic XKS tenant repositories, shared by
//! `examples/gen-corpus.rs` and the benchmarks (included with `#[path]`).
//!
//! Each namespace is a kustomize folder with shared cert-manager Certificates (as the XKS
//! guide recommends); each workload a multi-document file with a Deployment, its Service,
//! an Ingress and a NetworkPolicy whose egress opens a flow to a workload of another
//! namespace, admitted there by an ingress rule. One in ten of each goes wrong the way
//! real repositories do: the ingress half of the pair is missing, the Ingress requests a
//! certificate of its own, the Linkerd annotation sits on the Deployment. So every stage
//! has realistic work and the findings are a minority, as in a maintained repository.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::Path;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Size of what [`generate`] wrote.
pub struct Generated {
    pub files: u64,
    pub bytes: usize,
    pub objects: u64,
}

/// One workload of the generated repository.
struct App {
    port: u64,
    /// Cross-namespace destination of its egress rule: (namespace, app).
    peer: (u64, u64),
    /// Whether the destination leaves out the ingress half of the pair.
    broken_pair: bool,
    /// Whether its Ingress asks cert-manager for a certificate of its own.
    own_certificate: bool,
    misplaced_linkerd: bool,
}

/// Names per shared Certificate (cert-manager allows 100; teams split well below).
const NAMES_PER_CERTIFICATE: u64 = 50;

/// Shapes beyond the default tenant repository: the pathological cases of issue 16.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shape {
    /// Write no NetworkPolicy at all: every namespace is open (or, under XKS, only the
    /// implicit default-deny applies, which lets every pod of a namespace reach every other).
    pub no_policies: bool,
    /// Distinct `/32` ipBlocks spread over the workloads' policies (egress and ingress).
    pub ip_blocks: u64,
}

pub fn generate(
    out: &Path,
    namespaces: u64,
    workloads: u64,
    seed: u64,
) -> std::io::Result<Generated> {
    generate_shaped(out, namespaces, workloads, seed, Shape::default())
}

pub fn generate_shaped(
    out: &Path,
    namespaces: u64,
    workloads: u64,
    seed: u64,
    shape: Shape,
) -> std::io::Result<Generated> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let per_namespace = |ns: u64| workloads / namespaces + u64::from(ns < workloads % namespaces);
    // Plan first: a destination's ingress rules list the sources whose egress names it.
    let mut apps: Vec<Vec<App>> = Vec::new();
    for ns in 0..namespaces {
        let mut row = Vec::new();
        for _ in 0..per_namespace(ns) {
            let peer_ns = if namespaces > 1 {
                (ns + 1 + rng.below(namespaces - 1)) % namespaces
            } else {
                ns
            };
            row.push(App {
                port: 8000 + rng.below(100),
                peer: (peer_ns, rng.below(per_namespace(peer_ns))),
                broken_pair: rng.below(10) == 0,
                own_certificate: rng.below(10) == 0,
                misplaced_linkerd: rng.below(10) == 0,
            });
        }
        apps.push(row);
    }
    let mut sources: Vec<Vec<Vec<(u64, u64)>>> =
        apps.iter().map(|row| vec![Vec::new(); row.len()]).collect();
    for (ns, row) in apps.iter().enumerate() {
        for (app, planned) in row.iter().enumerate() {
            let (peer_ns, peer_app) = planned.peer;
            if !planned.broken_pair
                && let Some(slot) = sources
                    .get_mut(peer_ns as usize)
                    .and_then(|r| r.get_mut(peer_app as usize))
            {
                slot.push((ns as u64, app as u64));
            }
        }
    }

    // /32 addresses, dealt round-robin to the workloads (egress for even, ingress for odd).
    let mut ip_blocks: Vec<Vec<String>> = vec![Vec::new(); workloads as usize];
    for i in 0..shape.ip_blocks {
        if let Some(slot) = ip_blocks.get_mut((i % workloads.max(1)) as usize) {
            slot.push(format!(
                "10.{}.{}.{}/32",
                (i >> 16) & 255,
                (i >> 8) & 255,
                i & 255
            ));
        }
    }
    let mut workload_index = 0usize;
    let mut bytes = 0usize;
    let mut files = 0u64;
    let mut objects = 0u64;
    for (ns, row) in apps.iter().enumerate() {
        let dir = out.join(format!("tenant-{ns:02}"));
        std::fs::create_dir_all(&dir)?;
        let mut resources = String::new();
        let mut shared_names: Vec<Vec<String>> = Vec::new();
        for (app, planned) in row.iter().enumerate() {
            let name = format!("app-{app:03}");
            let host = format!("{name}.tenant-{ns:02}.example.com");
            let file = format!("{name}.yaml");
            let _ = writeln!(resources, "  - {file}");
            let deployment_annotations = if planned.misplaced_linkerd {
                "  annotations:\n    linkerd.io/inject: enabled\n"
            } else {
                ""
            };
            let (certificate_annotation, secret) = if planned.own_certificate {
                (
                    "    cert-manager.io/cluster-issuer: letsencrypt\n".to_string(),
                    format!("{name}-tls"),
                )
            } else {
                let group = app as u64 / NAMES_PER_CERTIFICATE;
                if shared_names.len() <= group as usize {
                    shared_names.push(Vec::new());
                }
                shared_names[group as usize].push(host.clone());
                (String::new(), format!("shared-{group}-tls"))
            };
            let mut ingress_from = String::new();
            for (src_ns, src_app) in &sources[ns][app] {
                let _ = write!(
                    ingress_from,
                    "    - from:\n        - namespaceSelector:\n            matchLabels:\n              name: tenant-{src_ns:02}\n          podSelector:\n            matchLabels:\n              app: app-{src_app:03}\n      ports:\n        - port: {port}\n",
                    port = planned.port
                );
            }
            let (peer_ns, peer_app) = planned.peer;
            let peer_port = apps[peer_ns as usize][peer_app as usize].port;
            let mut ip_egress = String::new();
            let mut ip_ingress = String::new();
            for (i, cidr) in ip_blocks
                .get(workload_index)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let target = if i % 2 == 0 {
                    &mut ip_egress
                } else {
                    &mut ip_ingress
                };
                let (verb, field) = if i % 2 == 0 {
                    ("to", "443")
                } else {
                    ("from", "http")
                };
                let _ = write!(
                    target,
                    "    - {verb}:\n        - ipBlock:\n            cidr: {cidr}\n      ports:\n        - port: {field}\n"
                );
            }
            workload_index += 1;
            let mut text = String::new();
            let _ = write!(
                text,
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n{deployment_annotations}spec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n        tier: \"{tier}\"\n      annotations:\n        linkerd.io/inject: enabled\n    spec:\n      containers:\n        - name: {name}\n          image: registry.example.com/{name}:1.{minor}.0\n          ports:\n            - name: http\n              containerPort: {port}\n          resources:\n            requests: {{cpu: 100m, memory: 128Mi}}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app: {name}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  annotations:\n{certificate_annotation}    nginx.ingress.kubernetes.io/limit-rps: \"{rps}\"\nspec:\n  ingressClassName: nginx\n  rules:\n    - host: {host}\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service:\n                name: {name}\n                port:\n                  name: http\n  tls:\n    - hosts: [{host}]\n      secretName: {secret}\n",
                port = planned.port,
                replicas = 1 + rng.below(3),
                tier = rng.below(3),
                minor = rng.below(20),
                rps = 5 + rng.below(50),
            );
            objects += 3;
            if !shape.no_policies {
                let _ = write!(
                    text,
                    "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\nspec:\n  podSelector:\n    matchLabels:\n      app: {name}\n  policyTypes: [Ingress, Egress]\n  ingress:\n    - from:\n        - namespaceSelector:\n            matchLabels:\n              name: ingress-nginx\n      ports:\n        - port: {port}\n{ingress_from}{ip_ingress}  egress:\n    - to:\n        - namespaceSelector:\n            matchLabels:\n              name: tenant-{peer_ns:02}\n          podSelector:\n            matchLabels:\n              app: app-{peer_app:03}\n      ports:\n        - port: {peer_port}\n{ip_egress}",
                    port = planned.port,
                );
                objects += 1;
            }
            bytes += text.len();
            files += 1;
            std::fs::write(dir.join(&file), text)?;
        }
        let mut certificates = String::new();
        for (group, names) in shared_names.iter().enumerate() {
            let mut dns_names = String::new();
            for host in names {
                let _ = writeln!(dns_names, "    - {host}");
            }
            let _ = write!(
                certificates,
                "---\napiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: shared-{group}\nspec:\n  issuerRef:\n    group: cert-manager.io\n    kind: ClusterIssuer\n    name: letsencrypt\n  dnsNames:\n{dns_names}  secretName: shared-{group}-tls\n"
            );
            objects += 1;
        }
        if !certificates.is_empty() {
            let _ = writeln!(resources, "  - certificates.yaml");
            bytes += certificates.len();
            files += 1;
            std::fs::write(dir.join("certificates.yaml"), certificates)?;
        }
        let kustomization = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: tenant-{ns:02}\nresources:\n{resources}"
        );
        bytes += kustomization.len();
        files += 1;
        std::fs::write(dir.join("kustomization.yaml"), kustomization)?;
    }
    Ok(Generated {
        files,
        bytes,
        objects,
    })
}
