//! Engine unit tests on small models; the scenario suite in
//! `fixtures/connectivity/` covers the semantics point by point.

use super::*;
use crate::load::{Input, WalkOptions};
use crate::model::{Model, ModelOptions};

pub(crate) fn model_of(yaml: &str) -> Model {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("manifests.yaml");
    std::fs::write(&path, yaml).unwrap();
    let loaded = crate::load::load(&[Input::Path(path)], &WalkOptions::default());
    Model::build(loaded, &ModelOptions::default())
}

fn graph_of(yaml: &str, semantics: Semantics) -> Graph {
    let options = GraphOptions {
        semantics,
        ..GraphOptions::default()
    };
    Graph::build(&model_of(yaml), &options)
}

fn lines(graph: &Graph) -> Vec<String> {
    graph
        .connections()
        .iter()
        .map(|c| format!("{} => {} : {}", c.src.label, c.dst.label, c.conns))
        .collect()
}

fn deployment(ns: &str, name: &str, labels: &str, ports: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  template:\n    metadata:\n      labels: {labels}\n    spec:\n      containers:\n        - name: c\n          image: x\n          ports: {ports}\n---\n"
    )
}

#[test]
fn no_policies_in_vanilla_allow_everything() {
    let yaml =
        deployment("a", "one", "{app: one}", "[]") + &deployment("a", "two", "{app: two}", "[]");
    let graph = graph_of(&yaml, Semantics::Vanilla);
    assert_eq!(
        lines(&graph),
        [
            "0.0.0.0-255.255.255.255 => a/one[Deployment] : All Connections",
            "0.0.0.0-255.255.255.255 => a/two[Deployment] : All Connections",
            "a/one[Deployment] => 0.0.0.0-255.255.255.255 : All Connections",
            "a/one[Deployment] => a/two[Deployment] : All Connections",
            "a/two[Deployment] => 0.0.0.0-255.255.255.255 : All Connections",
            "a/two[Deployment] => a/one[Deployment] : All Connections",
        ]
    );
}

#[test]
fn identical_workloads_share_a_class_but_are_listed_apart() {
    let yaml = deployment("a", "one", "{app: x}", "[]") + &deployment("a", "two", "{app: x}", "[]");
    let graph = graph_of(&yaml, Semantics::Vanilla);
    assert_eq!(graph.classes.len(), 1);
    assert!(
        lines(&graph)
            .contains(&"a/one[Deployment] => a/two[Deployment] : All Connections".to_string())
    );
    assert!(
        lines(&graph)
            .contains(&"a/two[Deployment] => a/one[Deployment] : All Connections".to_string())
    );
}

#[test]
fn xks_tenants_get_the_implicit_default_deny() {
    let yaml = deployment("a", "one", "{app: one}", "[]")
        + &deployment("a", "two", "{app: two}", "[]")
        + &deployment("b", "three", "{app: three}", "[]");
    let graph = graph_of(&yaml, Semantics::Xks);
    let got = lines(&graph);
    assert!(got.contains(&"a/one[Deployment] => a/two[Deployment] : All Connections".to_string()));
    assert!(!got.iter().any(|l| l.starts_with("a/one[Deployment] => b/")));
    assert!(got.contains(&"a/one[Deployment] => {kube-dns} : TCP 53;UDP 53".to_string()));
    assert!(
        got.contains(
            &"a/one[Deployment] => 10.0.0.10-10.0.0.10,169.254.20.10-169.254.20.10 : TCP 53;UDP 53"
                .to_string()
        )
    );
    // Nothing reaches a tenant from outside its namespace.
    assert!(
        !got.iter()
            .any(|l| l.contains("=> a/") && !l.starts_with("a/"))
    );
}

#[test]
fn explain_agrees_with_every_edge() {
    let yaml = deployment(
        "a",
        "web",
        "{app: web}",
        "[{name: http, containerPort: 8080}]",
    ) + &deployment(
        "b",
        "api",
        "{app: api}",
        "[{name: http, containerPort: 9090}]",
    ) + "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: to-api, namespace: a}\nspec:\n  podSelector: {matchLabels: {app: web}}\n  egress:\n    - to: [{namespaceSelector: {matchLabels: {name: b}}}]\n      ports: [{port: http}]\n---\n"
        + "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: from-web, namespace: b}\nspec:\n  podSelector: {}\n  ingress:\n    - from: [{namespaceSelector: {}, podSelector: {matchLabels: {app: web}}}]\n";
    let graph = graph_of(&yaml, Semantics::Xks);
    for src in 0..graph.classes.len() {
        for dst in 0..graph.classes.len() {
            if graph.is_endpoint(src) && graph.is_endpoint(dst) {
                continue;
            }
            let explained = graph
                .explain(&Subject::Pods(src), &Subject::Pods(dst))
                .allowed;
            assert_eq!(graph.allowed(src, dst), explained, "{src} -> {dst}");
        }
    }
    let web = graph
        .classes
        .iter()
        .position(|c| c.namespace == "a")
        .unwrap();
    let api = graph
        .classes
        .iter()
        .position(|c| c.namespace == "b")
        .unwrap();
    // The named port resolves against the destination: api's http is 9090.
    assert_eq!(graph.allowed(web, api).to_string(), "TCP 9090");
    let why = graph.explain(&Subject::Pods(web), &Subject::Pods(api));
    assert_eq!(why.egress.unwrap().allowing.len(), 1);
    assert_eq!(why.ingress.unwrap().allowing.len(), 1);
}

fn policy_with_ports(ns: &str, name: &str, ports: &str) -> String {
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  podSelector: {{}}\n  ingress:\n    - ports: {ports}\n---\n"
    )
}

#[test]
fn rules_sharing_named_ports_share_a_row_and_resolve_per_destination() {
    // Three rules with the same `ports`, one with other names, one mixing numbers and
    // names; destinations whose `http` is on different numbers.
    let mut yaml = String::new();
    for (i, port) in [8080, 8081, 9000].iter().enumerate() {
        yaml += &deployment(
            "a",
            &format!("w{i}"),
            &format!("{{app: w{i}}}"),
            &format!(
                "[{{name: http, containerPort: {port}}}, {{name: dns, containerPort: 53, protocol: UDP}}]"
            ),
        );
    }
    yaml += &deployment("a", "none", "{app: none}", "[]");
    for name in ["p1", "p2", "p3"] {
        yaml += &policy_with_ports("a", name, "[{port: http}]");
    }
    yaml += &policy_with_ports("a", "p4", "[{port: dns, protocol: UDP}]");
    yaml += &policy_with_ports("a", "p5", "[{port: http}, {port: 7000}]");
    let graph = graph_of(&yaml, Semantics::Vanilla);
    let named: Vec<usize> = (0..graph.rules.len())
        .filter(|&r| graph.rules[r].has_named_ports())
        .collect();
    assert_eq!(named.len(), 5);
    // p1..p3 share one row; p4 and p5 have their own.
    assert_eq!(graph.named_rows.len(), 3);
    for &r in &named {
        for c in 0..graph.classes.len() {
            assert_eq!(
                graph.rule_conns(r, Some(c)),
                graph.rules[r].conns_for(&graph.classes[c].ports),
                "rule {r}, class {c}"
            );
        }
        assert_eq!(graph.rule_conns(r, None), graph.rules[r].conns_for(&[]));
    }
}

/// `peer_classes` (through the label index, with its shortcuts for one requirement and one
/// value) lists exactly the classes `peer_matches_class` admits one by one: one label,
/// two labels, `In` with several values, `NotIn`, `Exists`, mixed, across namespaces.
#[test]
fn peer_classes_agree_with_matching_each_class() {
    let mut yaml = String::new();
    for ns in ["a", "b"] {
        for (name, labels) in [
            ("web", "{app: web, tier: front}"),
            ("web2", "{app: web, tier: back}"),
            ("api", "{app: api, tier: back}"),
            ("db", "{app: db}"),
            ("bare", "{}"),
        ] {
            yaml += &deployment(ns, name, labels, "[]");
        }
    }
    let peers = [
        "{podSelector: {matchLabels: {app: web}}}",
        "{podSelector: {matchLabels: {app: web, tier: back}}}",
        "{podSelector: {matchExpressions: [{key: app, operator: In, values: [api, db, web]}]}}",
        "{podSelector: {matchExpressions: [{key: app, operator: In, values: [nothing]}]}}",
        "{podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [web]}]}}",
        "{podSelector: {matchExpressions: [{key: tier, operator: Exists}]}}",
        "{podSelector: {matchLabels: {tier: back}, matchExpressions: [{key: app, operator: In, values: [api, web]}]}}",
        "{namespaceSelector: {}, podSelector: {matchLabels: {app: db}}}",
        "{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: b}}, podSelector: {matchExpressions: [{key: app, operator: In, values: [web, api]}]}}",
        "{namespaceSelector: {}}",
        "{podSelector: {}}",
    ];
    yaml += &format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: p, namespace: a}}\nspec:\n  podSelector: {{}}\n  ingress:\n    - from: [{}]\n",
        peers.join(", ")
    );
    for semantics in [Semantics::Vanilla, Semantics::Xks] {
        let graph = graph_of(&yaml, semantics);
        let mut checked = 0;
        for r in 0..graph.rules.len() {
            let count = graph.rules[r].peers.iter().flatten().count();
            for p in 0..count {
                let expected: Vec<usize> = (0..graph.classes.len())
                    .filter(|&c| graph.peer_matches_class(r, p, c))
                    .collect();
                assert_eq!(graph.peer_classes(r, p), expected, "rule {r}, peer {p}");
                checked += 1;
            }
        }
        assert!(checked >= peers.len(), "{checked} peers checked");
    }
}
