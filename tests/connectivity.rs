//! The connectivity scenario suite (`fixtures/connectivity/<scenario>/`): each
//! scenario's `manifests.yaml` must produce exactly its hand-derived
//! `expected-<semantics>.txt` (`xks`, `xks-aws`, `xks-allowances`, `vanilla`,
//! `vanilla-host-network-as-pods`). Plus property tests:
//! the result does not depend on file order, document order or thread count, and
//! the graph agrees with the pair-by-pair evaluation of `Graph::explain`.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use xks_lint::graph::ip::IpRange;
use xks_lint::graph::listing::RuleRanges;
use xks_lint::graph::policy::Direction;
use xks_lint::graph::ports::ConnSet;
use xks_lint::graph::{Cloud, Graph, GraphOptions, Semantics, Subject, XksSettings};
use xks_lint::load::{self, Input, WalkOptions};
use xks_lint::model::{Model, ModelOptions};
use xks_lint::report::connectivity;

fn options(name: &str) -> GraphOptions {
    match name {
        "xks" => GraphOptions::default(),
        "xks-aws" => GraphOptions {
            semantics: Semantics::Xks,
            xks: XksSettings::for_cloud(Cloud::Aws),
            host_network_as_pods: false,
        },
        "vanilla" => GraphOptions {
            semantics: Semantics::Vanilla,
            ..GraphOptions::default()
        },
        "xks-allowances" => {
            let config = xks_lint::config::XksSettings {
                platform_allowances: vec!["datadog-tracing".into(), "grafana-alloy".into()],
                ..Default::default()
            };
            GraphOptions {
                semantics: Semantics::Xks,
                xks: XksSettings::from_config(&config, None),
                host_network_as_pods: false,
            }
        }
        "vanilla-host-network-as-pods" => GraphOptions {
            semantics: Semantics::Vanilla,
            host_network_as_pods: true,
            ..GraphOptions::default()
        },
        other => panic!("unknown semantics `{other}` in an expected-*.txt name"),
    }
}

fn graph_of(paths: &[PathBuf], options: &GraphOptions) -> Graph {
    let inputs: Vec<Input> = paths.iter().map(|p| Input::Path(p.clone())).collect();
    let loaded = load::load(&inputs, &WalkOptions::default());
    let model = Model::build(loaded, &ModelOptions::default());
    Graph::build(&model, options)
}

fn scenarios() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("fixtures/connectivity")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn expectations(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?;
            let semantics = name.strip_prefix("expected-")?.strip_suffix(".txt")?;
            Some((semantics.to_string(), p.clone()))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn every_scenario_matches_its_hand_derived_golden_file() {
    let scenarios = scenarios();
    assert!(scenarios.len() >= 14, "scenarios: {scenarios:?}");
    let mut failures = Vec::new();
    for dir in &scenarios {
        let expected = expectations(dir);
        assert!(!expected.is_empty(), "{}: no expected-*.txt", dir.display());
        let loaded = load::load(
            &[Input::Path(dir.join("manifests.yaml"))],
            &WalkOptions::default(),
        );
        assert!(
            loaded.issues.is_empty(),
            "{}: {:?}",
            dir.display(),
            loaded.issues
        );
        for (semantics, file) in expected {
            let graph = graph_of(&[dir.join("manifests.yaml")], &options(&semantics));
            let got = connectivity::txt(&graph.connections());
            let want = std::fs::read_to_string(&file).unwrap();
            if got != want {
                failures.push(format!(
                    "{}:\n--- expected\n{want}--- got\n{got}",
                    file.display()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The listing's shortcuts (which destinations a source may reach, the IP segments grouped
/// per class and direction) equal an independent evaluation of every pair from the rules.
fn assert_graph_agrees_with_explain(graph: &Graph, context: &str) {
    let classes = graph.classes.len();
    // One cache of rule ranges for every source, as a pass of the listing shares it.
    let mut rule_ranges = RuleRanges::default();
    for src in 0..classes {
        let reached: std::collections::BTreeMap<usize, ConnSet> = graph
            .pod_destinations(src, &mut rule_ranges)
            .into_iter()
            .collect();
        for dst in 0..classes {
            if graph.is_endpoint(src) && graph.is_endpoint(dst) {
                assert!(!reached.contains_key(&dst), "{context}: {src} -> {dst}");
                continue;
            }
            let explained = graph
                .explain(&Subject::Pods(src), &Subject::Pods(dst))
                .allowed;
            assert_eq!(
                reached.get(&dst).cloned().unwrap_or_default(),
                explained,
                "{context}: {src} -> {dst}"
            );
            assert_eq!(
                graph.allowed(src, dst),
                explained,
                "{context}: {src} -> {dst}"
            );
        }
        if graph.is_endpoint(src) {
            continue;
        }
        let group_of = |direction, segment: &IpRange| -> ConnSet {
            graph
                .ip_groups(src, direction)
                .into_iter()
                .find(|(_, ranges)| ranges.iter().any(|r| r.contains(segment)))
                .map(|(conns, _)| conns)
                .unwrap_or_default()
        };
        for segment in &graph.segments {
            let addr: IpAddr = match segment.family {
                xks_lint::graph::ip::Family::V4 => IpAddr::V4((segment.start as u32).into()),
                xks_lint::graph::ip::Family::V6 => IpAddr::V6(segment.start.into()),
            };
            assert_eq!(
                group_of(Direction::Egress, segment),
                graph
                    .explain(&Subject::Pods(src), &Subject::Address(addr))
                    .allowed,
                "{context}: {src} -> {addr}"
            );
            assert_eq!(
                group_of(Direction::Ingress, segment),
                graph
                    .explain(&Subject::Address(addr), &Subject::Pods(src))
                    .allowed,
                "{context}: {addr} -> {src}"
            );
        }
    }
}

#[test]
fn graph_agrees_with_pairwise_evaluation_in_every_scenario() {
    for dir in scenarios() {
        // `why` evaluates with `Graph::explain`, the listing asks only the destinations the
        // compiled rules say a source may reach, and groups IP segments per rule run:
        // every pair of every scenario, under every semantics, must agree.
        for semantics in [
            "xks",
            "xks-aws",
            "xks-allowances",
            "vanilla",
            "vanilla-host-network-as-pods",
        ] {
            let graph = graph_of(&[dir.join("manifests.yaml")], &options(semantics));
            assert_graph_agrees_with_explain(&graph, &format!("{} {semantics}", dir.display()));
        }
    }
    let repo = graph_of(
        &[PathBuf::from("fixtures/xks-tenant-repo")],
        &options("xks"),
    );
    assert_graph_agrees_with_explain(&repo, "xks-tenant-repo");
}

/// Every document of every scenario, for shuffling.
fn all_documents() -> Vec<String> {
    let mut docs = Vec::new();
    for dir in scenarios() {
        // Namespaces of different scenarios collide on purpose: the union is one bigger cluster.
        let text = std::fs::read_to_string(dir.join("manifests.yaml")).unwrap();
        docs.extend(
            text.split("\n---\n")
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(String::from),
        );
    }
    docs
}

fn write_files(dir: &Path, files: &[Vec<String>]) -> Vec<PathBuf> {
    files
        .iter()
        .enumerate()
        .map(|(i, docs)| {
            let path = dir.join(format!("f{i:03}.yaml"));
            std::fs::write(&path, docs.join("\n---\n")).unwrap();
            path
        })
        .collect()
}

fn connectivity_in(files: &[Vec<String>], threads: usize, semantics: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_files(dir.path(), files);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| connectivity::txt(&graph_of(&paths, &options(semantics)).connections()))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn result_is_independent_of_file_order_document_order_and_threads(
        seed in any::<u64>(),
        files in 1usize..6,
        threads in 1usize..5,
        vanilla in any::<bool>(),
    ) {
        let semantics = if vanilla { "vanilla" } else { "xks" };
        let docs = all_documents();
        let reference = connectivity_in(std::slice::from_ref(&docs), 1, semantics);
        prop_assert!(reference.lines().count() > 50);
        // A deterministic shuffle from the seed, then a split into files.
        let mut shuffled = docs.clone();
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut split: Vec<Vec<String>> = vec![Vec::new(); files];
        for (i, doc) in shuffled.into_iter().enumerate() {
            split[(i * 7 + seed as usize) % files].push(doc);
        }
        prop_assert_eq!(connectivity_in(&split, threads, semantics), reference);
    }
}

/// A typed List given to kustomize as a resource: its items get their kind from the list.
#[test]
fn typed_list_items_are_modelled_through_kustomize() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: ns\nresources:\n  - pods.yaml\n",
    )
    .unwrap();
    let pod = |name: &str| {
        format!(
            "  - metadata:\n      name: {name}\n    spec:\n      containers:\n        - name: main\n          image: example/app:1\n"
        )
    };
    std::fs::write(
        dir.path().join("pods.yaml"),
        format!(
            "apiVersion: v1\nkind: PodList\nitems:\n{}{}",
            pod("a"),
            pod("b")
        ),
    )
    .unwrap();
    let graph = graph_of(&[dir.path().to_path_buf()], &options("vanilla"));
    let got = connectivity::txt(&graph.connections());
    assert!(
        got.contains("ns/a[Pod] => ns/b[Pod] : All Connections"),
        "{got}"
    );
}
