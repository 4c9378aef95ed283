//! The streamed `connectivity` listing, its filters and its namespace summary, checked
//! against references computed the slow way: the listing against `Graph::explain` for every
//! pair (and every IP segment), the filters against filtering the full listing line by line,
//! the summary against grouping the full listing. On every scenario, the tenant-repository
//! fixture and random generated repositories.

#[path = "../benches/support/corpus.rs"]
mod corpus;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use xks_lint::graph::ip::{self, Family, IpRange};
use xks_lint::graph::listing::{ConnectionFilter, end_matches};
use xks_lint::graph::ports::ConnSet;
use xks_lint::graph::{Connection, EndKind, Graph, GraphOptions, Semantics, Subject};
use xks_lint::load::{self, Input, WalkOptions};
use xks_lint::model::{Model, ModelOptions};

fn graph_of(path: &Path, semantics: Semantics) -> Graph {
    let loaded = load::load(&[Input::Path(path.to_path_buf())], &WalkOptions::default());
    let model = Model::build(loaded, &ModelOptions::default());
    let options = GraphOptions {
        semantics,
        ..GraphOptions::default()
    };
    Graph::build(&model, &options)
}

fn inputs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("fixtures/connectivity")
        .unwrap()
        .map(|e| e.unwrap().path().join("manifests.yaml"))
        .filter(|p| p.is_file())
        .collect();
    dirs.sort();
    dirs.push(PathBuf::from("fixtures/xks-tenant-repo"));
    dirs
}

fn lines(connections: &[Connection]) -> Vec<String> {
    connections
        .iter()
        .map(|c| format!("{} => {} : {}", c.src.label, c.dst.label, c.conns))
        .collect()
}

fn listed(graph: &Graph, filter: &ConnectionFilter) -> Vec<Connection> {
    let mut out = Vec::new();
    graph.for_each_connection(filter, |c| {
        out.push(c);
        true
    });
    out
}

/// The address ranges of an IP end's label (`a-b,c-d`).
fn ranges_of(label: &str) -> Vec<IpRange> {
    label
        .split(',')
        .map(|part| {
            let (a, b) = part.split_once('-').unwrap();
            let (a, b): (IpAddr, IpAddr) = (a.parse().unwrap(), b.parse().unwrap());
            let value = |addr: IpAddr| match addr {
                IpAddr::V4(v) => (Family::V4, u128::from(u32::from(v))),
                IpAddr::V6(v) => (Family::V6, u128::from(v)),
            };
            let ((family, start), (_, end)) = (value(a), value(b));
            IpRange { family, start, end }
        })
        .collect()
}

/// Every pod-to-pod line and every IP line equals the per-pair evaluation of `explain`.
fn assert_listing_agrees_with_explain(graph: &Graph, context: &str) {
    let mut by_label: BTreeMap<&str, usize> = BTreeMap::new();
    for (c, class) in graph.classes.iter().enumerate() {
        for m in &class.members {
            by_label.insert(m.label.as_str(), c);
        }
    }
    let all = graph.connections();
    let mut pods: BTreeMap<(usize, usize), ConnSet> = BTreeMap::new();
    for c in &all {
        match (
            by_label.get(c.src.label.as_str()),
            by_label.get(c.dst.label.as_str()),
        ) {
            (Some(&s), Some(&d)) => {
                let previous = pods.insert((s, d), c.conns.clone());
                assert!(
                    previous.is_none_or(|p| p == c.conns),
                    "{context}: two lines for {s} -> {d}"
                );
            }
            (Some(&s), None) => {
                for range in ranges_of(&c.dst.label) {
                    for addr in [range.start, range.end] {
                        let addr = address(range.family, addr);
                        let want = graph.explain(&Subject::Pods(s), &Subject::Address(addr));
                        assert_eq!(want.allowed, c.conns, "{context}: {s} -> {addr}");
                    }
                }
            }
            (None, Some(&d)) => {
                for range in ranges_of(&c.src.label) {
                    for addr in [range.start, range.end] {
                        let addr = address(range.family, addr);
                        let want = graph.explain(&Subject::Address(addr), &Subject::Pods(d));
                        assert_eq!(want.allowed, c.conns, "{context}: {addr} -> {d}");
                    }
                }
            }
            (None, None) => panic!("{context}: address to address line"),
        }
    }
    let n = graph.classes.len();
    for s in 0..n {
        for d in 0..n {
            let distinct_members = graph.classes[s]
                .members
                .iter()
                .any(|a| graph.classes[d].members.iter().any(|b| a.label != b.label));
            if (graph.is_endpoint(s) && graph.is_endpoint(d)) || !distinct_members {
                continue;
            }
            let want = graph.explain(&Subject::Pods(s), &Subject::Pods(d)).allowed;
            let got = pods.get(&(s, d)).cloned().unwrap_or_default();
            assert_eq!(got, want, "{context}: {s} -> {d}");
            assert_eq!(graph.allowed(s, d), want, "{context}: allowed {s} -> {d}");
        }
        // Every segment of the address space, both ways.
        if graph.is_endpoint(s) {
            continue;
        }
        for segment in &graph.segments {
            let addr = address(segment.family, segment.start);
            let out = graph
                .explain(&Subject::Pods(s), &Subject::Address(addr))
                .allowed;
            let into = graph
                .explain(&Subject::Address(addr), &Subject::Pods(s))
                .allowed;
            let find = |dst_side: bool| -> ConnSet {
                all.iter()
                    .filter(|c| {
                        let (pod, ip) = if dst_side {
                            (&c.src, &c.dst)
                        } else {
                            (&c.dst, &c.src)
                        };
                        ip.kind == EndKind::Ip
                            && by_label.get(pod.label.as_str()) == Some(&s)
                            && ranges_of(&ip.label)
                                .iter()
                                .any(|r| r.contains(&IpRange::address(addr)))
                    })
                    .map(|c| c.conns.clone())
                    .next()
                    .unwrap_or_default()
            };
            assert_eq!(find(true), out, "{context}: {s} -> {addr}");
            assert_eq!(find(false), into, "{context}: {addr} -> {s}");
        }
    }
}

fn address(family: Family, value: u128) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4((value as u32).into()),
        Family::V6 => IpAddr::V6(value.into()),
    }
}

/// The summary computed the slow way: group the filtered listing by namespace.
fn grouped(graph: &Graph, filter: &ConnectionFilter) -> Vec<String> {
    let mut pods: BTreeMap<(String, String), ConnSet> = BTreeMap::new();
    let mut out_ip: BTreeMap<String, (Vec<IpRange>, ConnSet)> = BTreeMap::new();
    let mut in_ip: BTreeMap<String, (Vec<IpRange>, ConnSet)> = BTreeMap::new();
    for c in listed(graph, filter) {
        match (&c.src.namespace, &c.dst.namespace) {
            (Some(a), Some(b)) => pods
                .entry((a.clone(), b.clone()))
                .or_default()
                .union_with(&c.conns),
            (Some(a), None) => {
                let slot = out_ip.entry(a.clone()).or_default();
                slot.0.extend(ranges_of(&c.dst.label));
                slot.1.union_with(&c.conns);
            }
            (None, Some(b)) => {
                let slot = in_ip.entry(b.clone()).or_default();
                slot.0.extend(ranges_of(&c.src.label));
                slot.1.union_with(&c.conns);
            }
            (None, None) => panic!("address to address"),
        }
    }
    let text = |ranges: Vec<IpRange>| {
        ip::merge(ranges)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut out: Vec<(String, String, ConnSet)> = Vec::new();
    out.extend(pods.into_iter().map(|((a, b), c)| (a, b, c)));
    out.extend(out_ip.into_iter().map(|(a, (r, c))| (a, text(r), c)));
    out.extend(in_ip.into_iter().map(|(b, (r, c))| (text(r), b, c)));
    out.sort_by(|x, y| (&x.0, &x.1).cmp(&(&y.0, &y.1)));
    out.into_iter()
        .map(|(a, b, c)| format!("{a} => {b} : {c}"))
        .collect()
}

/// Filters chosen from the graph: each namespace, a workload, a platform endpoint, an address.
fn filters(graph: &Graph) -> Vec<ConnectionFilter> {
    let mut out = vec![
        ConnectionFilter::default(),
        ConnectionFilter {
            hide_default: true,
            ..ConnectionFilter::default()
        },
    ];
    let mut patterns: Vec<String> = graph.namespaces.keys().take(3).cloned().collect();
    if let Some(class) = graph.classes.iter().find(|c| c.endpoint.is_none()) {
        let label = &class.members[0].label;
        patterns.push(label.clone());
        if let Some((bare, _)) = label.rsplit_once('[') {
            patterns.push(bare.to_string());
        }
    }
    patterns.push("kube-dns".to_string());
    patterns.push("10.0.0.10".to_string());
    for p in patterns {
        out.push(ConnectionFilter {
            namespaces: vec![p.clone()],
            ..ConnectionFilter::default()
        });
        out.push(ConnectionFilter {
            from: vec![p.clone()],
            hide_default: true,
            ..ConnectionFilter::default()
        });
        out.push(ConnectionFilter {
            to: vec![p],
            ..ConnectionFilter::default()
        });
    }
    out
}

/// Filtering while listing equals listing everything and filtering each line.
fn assert_filters_agree(graph: &Graph, context: &str) {
    let all = graph.connections();
    let class_of: BTreeMap<&str, usize> = graph
        .classes
        .iter()
        .enumerate()
        .flat_map(|(c, class)| class.members.iter().map(move |m| (m.label.as_str(), c)))
        .collect();
    for filter in filters(graph) {
        let keep = |c: &Connection| {
            let ranges = |label: &str, kind| {
                if kind == EndKind::Ip {
                    ranges_of(label)
                } else {
                    Vec::new()
                }
            };
            let src_ranges = ranges(&c.src.label, c.src.kind);
            let dst_ranges = ranges(&c.dst.label, c.dst.kind);
            let default = filter.hide_default
                && c.conns.is_all()
                && c.src.kind == EndKind::Workload
                && c.dst.kind == EndKind::Workload
                && c.src.namespace == c.dst.namespace
                && class_of.contains_key(c.src.label.as_str())
                && graph.policies.iter().any(|p| {
                    p.origin == xks_lint::graph::policy::PolicyOrigin::XksDefaultDeny
                        && Some(&p.namespace) == c.src.namespace.as_ref()
                });
            !default
                && (filter.from.is_empty()
                    || filter
                        .from
                        .iter()
                        .any(|p| end_matches(p, &c.src, &src_ranges)))
                && (filter.to.is_empty()
                    || filter
                        .to
                        .iter()
                        .any(|p| end_matches(p, &c.dst, &dst_ranges)))
                && (filter.namespaces.is_empty()
                    || filter.namespaces.iter().any(|n| {
                        c.src.namespace.as_ref() == Some(n) || c.dst.namespace.as_ref() == Some(n)
                    }))
        };
        let want: Vec<Connection> = all.iter().filter(|c| keep(c)).cloned().collect();
        assert_eq!(
            lines(&listed(graph, &filter)),
            lines(&want),
            "{context}: {filter:?}"
        );
        assert_eq!(
            lines(&graph.namespace_summary(&filter)),
            grouped(graph, &filter),
            "{context}: summary {filter:?}"
        );
    }
}

/// `diff` walks two listings side by side by (source label, destination label): the stream
/// must come in that order, the same lines as `connections`, whatever the batch size.
fn assert_stream_is_sorted_by_labels(graph: &Graph, context: &str) {
    let streamed: Vec<Connection> = graph
        .connection_stream(ConnectionFilter::default())
        .collect();
    assert_eq!(lines(&streamed), lines(&graph.connections()), "{context}");
    for pair in streamed.windows(2) {
        let key = |c: &Connection| (c.src.label.clone(), c.dst.label.clone());
        assert!(key(&pair[0]) <= key(&pair[1]), "{context}: {pair:?}");
    }
}

#[test]
fn listing_filters_and_summary_agree_with_the_slow_way_on_every_fixture() {
    for path in inputs() {
        for semantics in [Semantics::Xks, Semantics::Vanilla] {
            let graph = graph_of(&path, semantics);
            let context = format!("{} {semantics:?}", path.display());
            assert_listing_agrees_with_explain(&graph, &context);
            assert_filters_agree(&graph, &context);
            assert_stream_is_sorted_by_labels(&graph, &context);
        }
    }
}

#[test]
fn listing_filters_and_summary_agree_with_the_slow_way_on_generated_repositories() {
    for seed in 1..4u64 {
        for shape in [
            corpus::Shape::default(),
            corpus::Shape {
                no_policies: true,
                ip_blocks: 0,
            },
            corpus::Shape {
                no_policies: false,
                ip_blocks: 40,
            },
        ] {
            let dir = tempfile::tempdir().unwrap();
            corpus::generate_shaped(dir.path(), 3, 24, seed, shape).unwrap();
            for semantics in [Semantics::Xks, Semantics::Vanilla] {
                let graph = graph_of(dir.path(), semantics);
                let context = format!("seed {seed} {shape:?} {semantics:?}");
                assert!(graph.classes.len() >= 24, "{context}");
                assert_listing_agrees_with_explain(&graph, &context);
                assert_filters_agree(&graph, &context);
                assert_stream_is_sorted_by_labels(&graph, &context);
            }
        }
    }
}

#[test]
fn summary_of_an_open_namespace_is_one_line_per_pair_of_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    corpus::generate_shaped(
        dir.path(),
        1,
        40,
        7,
        corpus::Shape {
            no_policies: true,
            ip_blocks: 0,
        },
    )
    .unwrap();
    let graph = graph_of(dir.path(), Semantics::Xks);
    let summary = lines(&graph.namespace_summary(&ConnectionFilter::default()));
    assert!(
        summary.contains(&"tenant-00 => tenant-00 : All Connections".to_string()),
        "{summary:?}"
    );
    let hidden = lines(&graph.namespace_summary(&ConnectionFilter {
        hide_default: true,
        ..ConnectionFilter::default()
    }));
    assert!(
        !hidden
            .iter()
            .any(|l| l.starts_with("tenant-00 => tenant-00 ")),
        "{hidden:?}"
    );
    // The DNS default stays: it is not intra-namespace.
    assert!(
        hidden
            .iter()
            .any(|l| l.starts_with("tenant-00 => kube-system ")),
        "{hidden:?}"
    );
}
