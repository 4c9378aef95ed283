//! Deterministic generator of realistic XKS tenant repositories, shared by
//! `examples/gen-corpus.rs` and the benchmarks (included with `#[path]`).
//!
//! Each namespace is a kustomize folder; each workload a multi-document file with a
//! Deployment, its Service, an Ingress with cert-manager annotations, and a NetworkPolicy
//! (cross-namespace egress whose ingress half is usually missing, and one Deployment in ten
//! with its Linkerd annotation in the wrong place), so every stage and rule has work to do.
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

pub fn generate(
    out: &Path,
    namespaces: u64,
    workloads: u64,
    seed: u64,
) -> std::io::Result<Generated> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut bytes = 0usize;
    for ns in 0..namespaces {
        let dir = out.join(format!("tenant-{ns:02}"));
        std::fs::create_dir_all(&dir)?;
        let mut resources = String::new();
        let per_namespace = workloads / namespaces + u64::from(ns < workloads % namespaces);
        for app in 0..per_namespace {
            let name = format!("app-{app:03}");
            let file = format!("{name}.yaml");
            let _ = writeln!(resources, "  - {file}");
            let peer_ns = rng.below(namespaces);
            let port = 8000 + rng.below(100);
            let misplaced_linkerd = rng.below(10) == 0;
            let mut text = String::new();
            let deployment_annotations = if misplaced_linkerd {
                "  annotations:\n    linkerd.io/inject: enabled\n"
            } else {
                ""
            };
            let _ = write!(
                text,
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n{deployment_annotations}spec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n        tier: \"{tier}\"\n      annotations:\n        linkerd.io/inject: enabled\n    spec:\n      containers:\n        - name: {name}\n          image: registry.example.com/{name}:1.{minor}.0\n          ports:\n            - name: http\n              containerPort: {port}\n          resources:\n            requests: {{cpu: 100m, memory: 128Mi}}\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\nspec:\n  selector:\n    app: {name}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  annotations:\n    cert-manager.io/cluster-issuer: letsencrypt\n    nginx.ingress.kubernetes.io/limit-rps: \"{rps}\"\nspec:\n  ingressClassName: nginx\n  rules:\n    - host: {name}.tenant-{ns:02}.example.com\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service:\n                name: {name}\n                port:\n                  name: http\n  tls:\n    - hosts: [{name}.tenant-{ns:02}.example.com]\n      secretName: {name}-tls\n---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\nspec:\n  podSelector:\n    matchLabels:\n      app: {name}\n  policyTypes: [Ingress, Egress]\n  ingress:\n    - from:\n        - namespaceSelector:\n            matchLabels:\n              name: ingress-nginx\n      ports:\n        - port: {port}\n  egress:\n    - to:\n        - namespaceSelector:\n            matchLabels:\n              name: tenant-{peer_ns:02}\n          podSelector:\n            matchLabels:\n              app: app-{peer_app:03}\n      ports:\n        - port: {peer_port}\n",
                replicas = 1 + rng.below(3),
                tier = rng.below(3),
                minor = rng.below(20),
                rps = 5 + rng.below(50),
                peer_app = rng.below(per_namespace.max(1)),
                peer_port = 8000 + rng.below(100),
            );
            bytes += text.len();
            std::fs::write(dir.join(&file), text)?;
        }
        let kustomization = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: tenant-{ns:02}\nresources:\n{resources}"
        );
        bytes += kustomization.len();
        std::fs::write(dir.join("kustomization.yaml"), kustomization)?;
    }
    Ok(Generated {
        files: workloads + namespaces,
        bytes,
        objects: workloads * 4,
    })
}
