//! `connectivity --format dot|mermaid` on the example repository, pinned as golden files
//! (insta snapshots): IP blocks in CIDR notation, the blocked halves of pairs as dashed red
//! edges citing the finding's file:line, and `--group namespace` / `--hide-default`.

use assert_cmd::Command;

mod common;

fn connectivity(args: &[&str]) -> String {
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .args(["connectivity", "fixtures/xks-tenant-repo"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{args:?}");
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn dot_of_the_example_repository() {
    let dot = connectivity(&["--format", "dot"]);
    // Not the np-guard range format in labels (node ids keep the listing's label).
    assert!(!dot.contains("label=\"10.0.0.10-10.0.0.10"));
    insta::assert_snapshot!("dot", dot);
}

#[test]
fn dot_grouped_by_namespace_without_defaults() {
    let dot = connectivity(&["--format", "dot", "--group", "namespace", "--hide-default"]);
    // The intra-namespace default of tenant-a is gone; the blocked pairs stay.
    assert!(!dot.contains("\"tenant-a\" -> \"tenant-a\""));
    assert!(dot.contains("\"tenant-a\" -> \"tenant-b\" [label=\"BLOCKED TCP 8080"));
    insta::assert_snapshot!("dot_grouped_hide_default", dot);
}

#[test]
fn mermaid_of_the_example_repository() {
    insta::assert_snapshot!("mermaid", connectivity(&["--format", "mermaid"]));
    let grouped = connectivity(&["--format", "mermaid", "--group", "namespace"]);
    assert!(grouped.contains("-.->|\"BLOCKED TCP 8080 (missing-ingress-pair at "));
    insta::assert_snapshot!("mermaid_grouped", grouped);
}

#[test]
fn filters_apply_to_blocked_pairs() {
    // Only what leaves the ingress controller: its blocked backends, no tenant-b pair.
    let dot = connectivity(&["--format", "dot", "--from", "ingress-controller"]);
    assert!(dot.contains(
        "\"{ingress-controller}\" -> \"tenant-a/web[Deployment]\" [label=\"BLOCKED TCP 3000"
    ));
    assert!(!dot.contains("missing-ingress-pair"));
    assert!(!dot.contains("{envoy-gateway}"));
}

#[test]
fn line_formats_stay_np_guard_compatible() {
    // txt keeps the range notation and lists allowed connections only.
    let txt = connectivity(&[]);
    assert!(txt.contains("10.0.0.10-10.0.0.10,169.254.20.10-169.254.20.10"));
    assert!(!txt.contains("BLOCKED"));
}

#[test]
fn output_file_holds_what_standard_output_shows() {
    // The listing is streamed to `--output` as it is to standard output (it was once built
    // whole first): the file must end up byte for byte what standard output shows, in
    // every format, grouped or filtered, and a link leading out of the repository is refused.
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    common::copy_dir(std::path::Path::new("fixtures/xks-tenant-repo"), &repo);
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let run = |args: &[&str]| {
        Command::cargo_bin("xks-lint")
            .unwrap()
            .current_dir(&repo)
            .args(["connectivity", "."])
            .args(args)
            .output()
            .unwrap()
    };
    for args in [
        &[][..],
        &["--format", "json"],
        &["--format", "dot"],
        &["--format", "mermaid", "--hide-default"],
        &["--group", "namespace"],
        &["--namespace", "tenant-a", "--hide-default"],
    ] {
        let shown = run(args);
        assert_eq!(shown.status.code(), Some(0), "{args:?}");
        assert!(!shown.stdout.is_empty(), "{args:?}");
        let written = run(&[args, &["--output", "listing.out"]].concat());
        assert_eq!(written.status.code(), Some(0), "{args:?}");
        assert!(written.stdout.is_empty(), "{args:?}");
        let file = std::fs::read(repo.join("listing.out")).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&file),
            String::from_utf8_lossy(&shown.stdout),
            "{args:?}"
        );
        std::fs::remove_file(repo.join("listing.out")).unwrap();
    }
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious").unwrap();
    std::os::unix::fs::symlink(&victim, repo.join("link.out")).unwrap();
    let refused = run(&["--output", "link.out"]);
    assert_eq!(refused.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
}
