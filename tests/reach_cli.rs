//! `xks-lint connectivity` and `xks-lint why` as users run them.

use assert_cmd::Command;
use predicates::prelude::*;

fn xks_lint() -> Command {
    Command::cargo_bin("xks-lint").unwrap()
}

#[test]
fn connectivity_txt_is_the_scenario_golden_file() {
    let expected =
        std::fs::read_to_string("fixtures/connectivity/named-ports/expected-vanilla.txt").unwrap();
    xks_lint()
        .args([
            "connectivity",
            "fixtures/connectivity/named-ports",
            "--semantics",
            "vanilla",
        ])
        .assert()
        .code(0)
        .stdout(expected);
    let aws = std::fs::read_to_string(
        "fixtures/connectivity/xks-implicit-default-deny/expected-xks-aws.txt",
    )
    .unwrap();
    xks_lint()
        .args([
            "connectivity",
            "fixtures/connectivity/xks-implicit-default-deny",
            "--cloud",
            "aws",
        ])
        .assert()
        .code(0)
        .stdout(aws);
}

#[test]
fn connectivity_formats() {
    let run = |format: &str| {
        let output = xks_lint()
            .args([
                "connectivity",
                "fixtures/connectivity/ipblock-except",
                "--semantics",
                "vanilla",
                "--format",
                format,
            ])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0));
        String::from_utf8(output.stdout).unwrap()
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 5);
    assert_eq!(
        json[1]["src"],
        "10.0.0.0-10.0.255.255,10.2.0.0-10.255.255.255"
    );
    assert_eq!(json[1]["conn"], "TCP 443");
    let csv = run("csv");
    assert!(csv.starts_with("src,dst,conn\n"));
    assert!(
        csv.contains("\"10.0.0.0-10.0.255.255,10.2.0.0-10.255.255.255\",ns/web[Pod],TCP 443\n")
    );
    let dot = run("dot");
    assert!(dot.starts_with("digraph {"));
    assert!(dot.contains("subgraph \"cluster_ns\""));
    let mermaid = run("mermaid");
    assert!(mermaid.starts_with("flowchart LR"));
}

#[test]
fn why_explains_an_allowed_connection_with_file_and_line() {
    xks_lint()
        .args([
            "why",
            "ns/client",
            "ns/web2",
            "fixtures/connectivity/named-ports",
            "--semantics",
            "vanilla",
            "--port",
            "9090/TCP",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ns/client[Pod] => ns/web2[Pod] on TCP 9090: ALLOWED"))
        .stdout(predicate::str::contains(
            "allowed by NetworkPolicy ns/client-to-web spec.egress[0] at fixtures/connectivity/named-ports/manifests.yaml:",
        ))
        .stdout(predicate::str::contains(
            "allowed by NetworkPolicy ns/web-from-client spec.ingress[0] at fixtures/connectivity/named-ports/manifests.yaml:",
        ));
}

#[test]
fn why_explains_a_blocked_connection() {
    xks_lint()
        .args([
            "why",
            "tenant-a/web",
            "tenant-b/reports",
            "fixtures/xks-tenant-repo",
            "--port",
            "8080",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("BLOCKED"))
        .stdout(predicate::str::contains(
            "isolated by NetworkPolicy tenant-a/default-deny (implicit",
        ))
        .stdout(predicate::str::contains(
            "no egress rule of these policies matches",
        ));
    xks_lint()
        .args([
            "why",
            "ingress-controller",
            "tenant-a/api",
            "fixtures/xks-tenant-repo",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("ALLOWED"));
    xks_lint()
        .args([
            "why",
            "203.0.113.7",
            "ns/web",
            "fixtures/connectivity/ipblock-except",
            "--semantics",
            "vanilla",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "egress from 203.0.113.7: outside the cluster",
        ));
}

#[test]
fn why_takes_any_kind_in_any_case_and_named_ports() {
    xks_lint()
        .args([
            "why",
            "a/client[pod]",
            "b/server[POD]",
            "fixtures/connectivity/anp-ports",
            "--semantics",
            "vanilla",
            "--port",
            "stats/UDP",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "a/client[Pod] => b/server[Pod] on UDP 8125 (stats): ALLOWED",
        ));
    xks_lint()
        .args([
            "why",
            "c/other",
            "b/server",
            "fixtures/connectivity/anp-ports",
            "--semantics",
            "vanilla",
            "--port",
            "http",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "c/other[Pod] => b/server[Pod] on TCP 8080 (http): BLOCKED",
        ));
}

#[test]
fn why_cites_the_admin_rule_that_decided() {
    xks_lint()
        .args([
            "why",
            "a/client",
            "b/server",
            "fixtures/connectivity/anp-priority-deny-allow",
            "--semantics",
            "vanilla",
            "--port",
            "80",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("a/client[Pod] => b/server[Pod] on TCP 80: BLOCKED"))
        .stdout(predicate::str::contains(
            "  Deny by AdminNetworkPolicy deny-80-from-a (priority 10) rule `deny-http` spec.ingress[0] at fixtures/connectivity/anp-priority-deny-allow/manifests.yaml:61:7: TCP 80",
        ))
        .stdout(predicate::str::contains(
            "  Allow by AdminNetworkPolicy allow-from-a (priority 20) rule `allow-everything-from-a` spec.ingress[0] at fixtures/connectivity/anp-priority-deny-allow/manifests.yaml:43:7:",
        ));
    xks_lint()
        .args([
            "why",
            "b/server",
            "a/client",
            "fixtures/connectivity/anp-baseline-networks",
            "--semantics",
            "vanilla",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains(
            "  Deny by BaselineAdminNetworkPolicy default rule `deny-in-cluster` spec.ingress[0] at fixtures/connectivity/anp-baseline-networks/manifests.yaml:",
        ));
}

#[test]
fn why_usage_errors() {
    xks_lint()
        .args([
            "why",
            "ns/nope",
            "ns/web",
            "fixtures/connectivity/ipblock-except",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "no workload `nope` in namespace `ns`",
        ));
    xks_lint()
        .args([
            "why",
            "ns/web",
            "ns/job",
            "fixtures/connectivity/ipblock-except",
            "--port",
            "70000/TCP",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid port"));
    // A port name resolves at the destination: an unknown one lists the known ones.
    xks_lint()
        .args([
            "why",
            "a/client",
            "b/server",
            "fixtures/connectivity/anp-ports",
            "--semantics",
            "vanilla",
            "--port",
            "https",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`b/server[Pod]` has no container port named `https`; its named ports: http (TCP 8080), stats (UDP 8125)",
        ));
    // Did you mean: a close name, the same name elsewhere, or the same name of another kind.
    for (src, want) in [
        (
            "a/clint",
            "no workload `clint` in namespace `a`; did you mean a/client[Pod]?",
        ),
        ("client", "did you mean a/client[Pod]?"),
        (
            "a/client[Deployment]",
            "no workload `client` of kind `Deployment` in namespace `a`; did you mean a/client[Pod]?",
        ),
    ] {
        xks_lint()
            .args([
                "why",
                src,
                "b/server",
                "fixtures/connectivity/anp-ports",
                "--semantics",
                "vanilla",
            ])
            .assert()
            .code(2)
            .stderr(predicate::str::contains(want));
    }
    xks_lint()
        .args(["connectivity", "does/not/exist"])
        .assert()
        .code(2);
}

#[test]
fn connectivity_completes_on_every_corpus_tree() {
    let corpus = std::path::Path::new("../shared/corpus");
    if !corpus.is_dir() {
        eprintln!("SKIPPED: ../shared/corpus is not present next to the repository");
        return;
    }
    let mut trees = vec![corpus.to_path_buf()];
    let mut pending = vec![corpus.to_path_buf()];
    // Each tree of the corpus and each repository of corpus/real/.
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir()
                && !path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                if path.file_name().is_some_and(|n| n == "real") {
                    pending.push(path.clone());
                }
                if dir.as_path() == corpus || dir.file_name().is_some_and(|n| n == "real") {
                    trees.push(path);
                }
            }
        }
    }
    for tree in trees {
        for semantics in ["xks", "vanilla"] {
            let output = xks_lint()
                .args(["connectivity", "--semantics", semantics])
                .arg(&tree)
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            if output.status.code() == Some(2) && stderr.contains("choose one with --environment") {
                // Several clusters: every environment the error lists must complete.
                let listed = stderr
                    .rsplit_once('(')
                    .and_then(|(_, rest)| rest.split_once(')'))
                    .map(|(names, _)| names.to_string())
                    .unwrap_or_default();
                let environments: Vec<&str> =
                    listed.split(", ").filter(|n| !n.is_empty()).collect();
                assert!(!environments.is_empty(), "{}: {stderr}", tree.display());
                for environment in environments {
                    xks_lint()
                        .args([
                            "connectivity",
                            "--semantics",
                            semantics,
                            "--environment",
                            environment,
                        ])
                        .arg(&tree)
                        .assert()
                        .code(0);
                }
                continue;
            }
            assert_eq!(
                output.status.code(),
                Some(0),
                "{}: {stderr}",
                tree.display()
            );
        }
    }
}
