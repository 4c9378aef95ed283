//! Reachability on a generated cluster: 50 tenant namespaces, 10,000 workloads
//! (200 per namespace), 5,000 NetworkPolicies (100 per namespace) mixing
//! same-namespace rules, cross-namespace pairs, named ports, endPort ranges,
//! ingress-controller rules and ipBlocks with `except`, under XKS semantics.
//! The model is loaded once; the benchmark measures building the graph, and
//! building it plus listing every allowed connection (`xks-lint connectivity`).

use std::fmt::Write;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use xks_lint::graph::{Graph, GraphOptions};
use xks_lint::load::{self, Input, WalkOptions};
use xks_lint::model::{Model, ModelOptions};

const NAMESPACES: usize = 50;
const WORKLOADS: usize = 200;
const POLICIES: usize = 100;

fn policy(out: &mut String, ns: usize, name: &str, selector: &str, body: &str) {
    let _ = write!(
        out,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: tenant-{ns}\nspec:\n  podSelector:\n    matchLabels: {selector}\n{body}---\n"
    );
}

fn write_cluster(root: &Path) {
    for ns in 0..NAMESPACES {
        let next = (ns + 1) % NAMESPACES;
        let mut text = String::new();
        for w in 0..WORKLOADS {
            let _ = write!(
                text,
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{w}\n  namespace: tenant-{ns}\nspec:\n  template:\n    metadata:\n      labels: {{app: app-{w}, tier: t{}, team: team-{}}}\n    spec:\n      containers:\n        - name: app\n          image: example/app:{w}\n          ports:\n            - {{name: http, containerPort: {}}}\n            - {{name: metrics, containerPort: 9100}}\n---\n",
                w % 5,
                w % 10,
                8080 + w % 3
            );
        }
        for p in 0..POLICIES {
            let app = p * 2;
            let name = format!("policy-{p}");
            match p % 10 {
                0..=3 => policy(
                    &mut text,
                    ns,
                    &name,
                    &format!("{{app: app-{app}}}"),
                    &format!(
                        "  ingress:\n    - from:\n        - podSelector:\n            matchLabels: {{tier: t{}}}\n      ports:\n        - port: http\n",
                        (p + 1) % 5
                    ),
                ),
                4 | 5 => policy(
                    &mut text,
                    ns,
                    &name,
                    &format!("{{tier: t{}}}", p % 5),
                    &format!(
                        "  ingress:\n    - from:\n        - namespaceSelector:\n            matchLabels: {{name: tenant-{}}}\n          podSelector:\n            matchLabels: {{app: app-{app}}}\n      ports:\n        - port: 8080\n",
                        (ns + NAMESPACES - 1) % NAMESPACES
                    ),
                ),
                6 | 7 => policy(
                    &mut text,
                    ns,
                    &name,
                    &format!("{{app: app-{app}}}"),
                    &format!(
                        "  policyTypes: [Egress]\n  egress:\n    - to:\n        - namespaceSelector:\n            matchLabels: {{name: tenant-{next}}}\n          podSelector:\n            matchExpressions:\n              - {{key: tier, operator: In, values: [t{}, t{}]}}\n      ports:\n        - port: 8080\n          endPort: 8090\n",
                        p % 5,
                        (p + 2) % 5
                    ),
                ),
                8 => policy(
                    &mut text,
                    ns,
                    &name,
                    &format!("{{team: team-{}}}", p % 10),
                    "  ingress:\n    - from:\n        - namespaceSelector:\n            matchLabels: {name: ingress-nginx}\n",
                ),
                _ => policy(
                    &mut text,
                    ns,
                    &name,
                    &format!("{{app: app-{app}}}"),
                    &format!(
                        "  policyTypes: [Egress]\n  egress:\n    - to:\n        - ipBlock:\n            cidr: 0.0.0.0/0\n            except: [10.0.0.0/8, 169.254.169.254/32]\n        - ipBlock:\n            cidr: 10.{ns}.{p}.0/24\n      ports:\n        - port: 443\n"
                    ),
                ),
            }
        }
        std::fs::write(root.join(format!("tenant-{ns}.yaml")), text).unwrap();
    }
}

fn bench_connectivity(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    write_cluster(dir.path());
    let loaded = load::load(
        &[Input::Path(dir.path().to_path_buf())],
        &WalkOptions::default(),
    );
    let model = Model::build(loaded, &ModelOptions::default());
    assert_eq!(model.workloads().count(), NAMESPACES * WORKLOADS);
    let options = GraphOptions::default();
    let graph = Graph::build(&model, &options);
    assert_eq!(graph.policies.len(), NAMESPACES * POLICIES + NAMESPACES);
    eprintln!(
        "generated cluster: {} classes, {} IP segments, {} connections listed",
        graph.classes.len(),
        graph.segments.len(),
        graph.connections().len()
    );
    let mut group =
        c.benchmark_group("connectivity 10,000 workloads / 5,000 policies / 50 namespaces");
    group.sample_size(10);
    group.bench_function("build graph", |b| b.iter(|| Graph::build(&model, &options)));
    group.bench_function("build graph + list connections", |b| {
        b.iter(|| Graph::build(&model, &options).connections().len())
    });
    group.bench_function("build graph + namespace summary", |b| {
        b.iter(|| {
            Graph::build(&model, &options)
                .namespace_summary(&Default::default())
                .len()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_connectivity);
criterion_main!(benches);
