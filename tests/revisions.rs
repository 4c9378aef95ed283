//! Revisions (issue 17 §1–2): `check --new-from-rev REV` reads REV from the git object
//! database, `--only-files` reports whole consequences, and a hostile tree cannot make the
//! export write outside its directory. Uses the `git` command only to build the fixtures.

use std::path::Path;
use std::process::Command as Process;

use assert_cmd::Command;
use serde_json::Value;

const LINKERD: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: NAME
  namespace: tenant
  annotations:
    linkerd.io/inject: enabled
spec:
  template:
    metadata:
      labels: {app: NAME}
";

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Process::new("git")
        .current_dir(dir)
        .args(args)
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn init(dir: &Path) {
    git(dir, &["init", "-q"]);
    git(dir, &["config", "user.email", "test@example.com"]);
    git(dir, &["config", "user.name", "test"]);
}

fn check(dir: &Path, args: &[&str]) -> (Option<i32>, Value, String) {
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(dir)
        .args(["check", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    (output.status.code(), value, stderr)
}

fn findings(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|f| {
                    format!(
                        "{}:{}",
                        f["path"].as_str().unwrap_or(""),
                        f["rule"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn new_from_rev_reports_only_findings_the_revision_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    init(repo);
    std::fs::create_dir(repo.join("k8s")).unwrap();
    std::fs::write(repo.join("k8s/old.yaml"), LINKERD.replace("NAME", "old")).unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "old finding"]);
    git(repo, &["branch", "-q", "base"]);

    // Lines inserted above the old finding move it; it is still the same finding.
    std::fs::write(
        repo.join("k8s/old.yaml"),
        format!("# moved\n# down\n{}", LINKERD.replace("NAME", "old")),
    )
    .unwrap();
    std::fs::write(repo.join("k8s/new.yaml"), LINKERD.replace("NAME", "new")).unwrap();

    let (code, all, _) = check(repo, &["k8s"]);
    assert_eq!(code, Some(1));
    assert_eq!(findings(&all).len(), 2, "{all}");

    // From the top and from below (paths are shown relative to the working directory).
    for (cwd, path, shown) in [
        (repo.to_path_buf(), "k8s", "k8s/new.yaml"),
        (repo.join("k8s"), ".", "new.yaml"),
    ] {
        let (code, report, stderr) = check(&cwd, &[path, "--new-from-rev", "base"]);
        assert_eq!(code, Some(1), "{stderr}");
        assert_eq!(
            findings(&report),
            [format!("{shown}:linkerd-annotation-on-workload")],
            "{report}\n{stderr}"
        );
    }
    // Against the working tree's own state there is nothing new.
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "new finding"]);
    let (code, report, stderr) = check(repo, &["k8s", "--new-from-rev", "HEAD"]);
    assert_eq!(code, Some(0), "{report}\n{stderr}");
    // A revision where the PATH does not exist yet: every finding is new.
    let (_, report, _) = check(repo, &["k8s", "--new-from-rev", "HEAD~1"]);
    assert_eq!(findings(&report).len(), 1, "{report}");

    let (code, _, stderr) = check(repo, &["k8s", "--new-from-rev", "no-such-branch"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("no-such-branch"), "{stderr}");
}

#[test]
fn new_from_rev_outside_a_git_repository_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.yaml"), LINKERD.replace("NAME", "a")).unwrap();
    let (code, _, stderr) = check(dir.path(), &["a.yaml", "--new-from-rev", "HEAD"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("git repository"), "{stderr}");
}

const WEB: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: tenant-a}
spec:
  template:
    metadata:
      labels: {app: web}
    spec:
      containers: [{name: web, image: web:1}]
";

const API: &str = "apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: tenant-b}
spec:
  template:
    metadata:
      labels: {app: api}
    spec:
      containers: [{name: api, image: api:1}]
";

const EGRESS_A: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: to-b, namespace: tenant-a}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector: {matchLabels: {name: tenant-b}}
          podSelector: {matchLabels: {app: api}}
";

const INGRESS_B_TYPO: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-a, namespace: tenant-b}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {name: tenant-a}}
          podSelector: {matchLabels: {app: wbe}}
";

/// Without git, `--only-files` still reports a finding whose deciding policy (the one `why`
/// cites) is in a changed file, although the finding lies in another file.
#[test]
fn only_files_reports_findings_citing_a_changed_file() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for (name, text) in [
        ("web.yaml", WEB),
        ("api.yaml", API),
        ("egress-a.yaml", EGRESS_A),
        ("ingress-b.yaml", INGRESS_B_TYPO),
    ] {
        std::fs::write(root.join(name), text).unwrap();
    }
    let (_, report, stderr) = check(root, &[".", "--only-files", "ingress-b.yaml"]);
    assert!(
        findings(&report).contains(&"egress-a.yaml:missing-ingress-pair".to_string()),
        "{report}\n{stderr}"
    );
    // A file that decides nothing about that flow keeps it out.
    let (_, report, stderr) = check(root, &[".", "--only-files", "web.yaml"]);
    assert!(
        !findings(&report).contains(&"egress-a.yaml:missing-ingress-pair".to_string()),
        "{report}\n{stderr}"
    );
}

/// A tree written with plumbing commands holds names no checkout would create (`..`,
/// `.git`, `.GIT`); the export skips them and writes nothing outside its own directory.
#[test]
fn hostile_tree_names_stay_inside_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    init(repo);
    let marker = format!("escape-{}.yaml", std::process::id());
    std::fs::write(repo.join("blob"), LINKERD.replace("NAME", "evil")).unwrap();
    let blob = git(repo, &["hash-object", "-w", "blob"]);
    std::fs::remove_file(repo.join("blob")).unwrap();
    let inner = mktree(repo, &format!("100644 blob {blob}\t{marker}\n"));
    let mut entries = String::new();
    for name in ["..", ".git", ".GIT"] {
        entries.push_str(&format!("040000 tree {inner}\t{name}\n"));
    }
    entries.push_str(&format!("100644 blob {blob}\tgood.yaml\n"));
    let Some(top) = try_mktree(repo, &entries) else {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"SKIPPED hostile tree test: this git refuses to write such a tree\n",
        );
        return;
    };
    let commit = git(repo, &["commit-tree", &top, "-m", "hostile"]);
    std::fs::write(repo.join("good.yaml"), LINKERD.replace("NAME", "evil")).unwrap();
    let (code, report, stderr) = check(repo, &["good.yaml", "--new-from-rev", &commit]);
    assert_eq!(code, Some(0), "{report}\n{stderr}");
    let temp = std::env::temp_dir();
    assert!(!temp.join(&marker).exists());
    assert!(!repo.join(".git").join(&marker).exists());
}

fn mktree(repo: &Path, entries: &str) -> String {
    try_mktree(repo, entries).expect("git mktree")
}

fn try_mktree(repo: &Path, entries: &str) -> Option<String> {
    use std::io::Write;
    let mut child = Process::new("git")
        .current_dir(repo)
        .args(["mktree", "--missing"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    child.stdin.take()?.write_all(entries.as_bytes()).ok()?;
    let output = child.wait_with_output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

const INGRESS_B: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-a, namespace: tenant-b}
spec:
  podSelector: {matchLabels: {app: api}}
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector: {matchLabels: {name: tenant-a}}
          podSelector: {matchLabels: {app: web}}
";

fn diff(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(dir)
        .arg("diff")
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `diff` (issue 17 §2): deleting the ingress half closes the flow (citing the rules that
/// allowed it at the base, with the base's paths); restoring it with a typo keeps it closed;
/// a branch that adds the pair opens it; the default base is the merge-base with `main`.
#[test]
fn diff_lists_connections_opened_and_closed_with_their_rules() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    init(repo);
    git(repo, &["checkout", "-q", "-b", "main"]);
    for (name, text) in [
        ("web.yaml", WEB),
        ("api.yaml", API),
        ("egress-a.yaml", EGRESS_A),
    ] {
        std::fs::write(repo.join(name), text).unwrap();
    }
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "half a pair"]);
    git(repo, &["checkout", "-q", "-b", "feature"]);
    std::fs::write(repo.join("ingress-b.yaml"), INGRESS_B).unwrap();

    // Uncommitted work against the merge-base with main: the pair opens the flow.
    let (code, out, err) = diff(repo, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("1 opened, 0 closed"), "{out}");
    assert!(
        out.contains("+ tenant-a/web[Deployment] => tenant-b/api[Deployment] : All Connections"),
        "{out}"
    );
    assert!(
        out.contains(
            "allowed by NetworkPolicy tenant-b/from-a spec.ingress[0] at ingress-b.yaml:8:7"
        ),
        "{out}"
    );
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "pair"]);

    // Deleting the policy closes it; the rules are cited at the base revision.
    std::fs::remove_file(repo.join("ingress-b.yaml")).unwrap();
    let (_, out, err) = diff(repo, &["HEAD", "."]);
    assert!(out.contains("0 opened, 1 closed"), "{out}\n{err}");
    assert!(
        out.contains("- tenant-a/web[Deployment] => tenant-b/api[Deployment]"),
        "{out}"
    );
    assert!(out.contains("was allowed by NetworkPolicy tenant-b/from-a spec.ingress[0] at HEAD:ingress-b.yaml:8:7"), "{out}");

    // A typo closes it too, and the markdown groups it under the namespace pair.
    std::fs::write(repo.join("ingress-b.yaml"), INGRESS_B_TYPO).unwrap();
    let (_, out, _) = diff(repo, &["HEAD", "--format", "markdown"]);
    assert!(out.contains("### `tenant-a` → `tenant-b`"), "{out}");
    assert!(
        out.contains("| 🔴 closed | `tenant-a/web[Deployment]` |"),
        "{out}"
    );
    assert!(
        out.contains("isolated by NetworkPolicy tenant-b/from-a (`ingress-b.yaml:3:"),
        "{out}"
    );

    let (_, out, _) = diff(repo, &["HEAD", "--format", "json"]);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["changes"][0]["kind"], "closed", "{report}");
    assert_eq!(
        report["changes"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );

    // No change, no line; an unknown revision is a usage error.
    std::fs::write(repo.join("ingress-b.yaml"), INGRESS_B).unwrap();
    let (code, out, _) = diff(repo, &["HEAD"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("0 opened, 0 closed"), "{out}");
    let (code, _, err) = diff(repo, &["no-such-rev"]);
    assert_eq!(code, Some(2), "{err}");
}

/// `diff` per environment: two overlays of one base form two clusters; replacing XKS's
/// default-deny in prod (ingress only) closes the flow inside the namespace there, opens all
/// egress (explained as not isolated), and changes nothing in dev. The DNS segment, now
/// inside a wider open range, is not reported as closed.
#[test]
fn diff_compares_each_environment_and_ip_segments_by_what_they_allow() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path();
    init(repo);
    for overlay in ["dev", "prod"] {
        std::fs::create_dir_all(repo.join("overlays").join(overlay)).unwrap();
        std::fs::write(
            repo.join("overlays")
                .join(overlay)
                .join("kustomization.yaml"),
            format!("resources:\n  - ../../base\ncommonAnnotations:\n  env: {overlay}\n"),
        )
        .unwrap();
    }
    std::fs::create_dir_all(repo.join("base")).unwrap();
    std::fs::write(
        repo.join("base/app.yaml"),
        format!(
            "{}---\n{}",
            WEB.replace("tenant-a", "shop"),
            API.replace("tenant-b", "shop")
        ),
    )
    .unwrap();
    std::fs::write(
        repo.join("base/kustomization.yaml"),
        "resources:\n  - app.yaml\n",
    )
    .unwrap();
    git(repo, &["add", "."]);
    git(repo, &["commit", "-q", "-m", "two overlays"]);

    std::fs::write(
        repo.join("overlays/prod/deny.yaml"),
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny, namespace: shop}\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("overlays/prod/kustomization.yaml"),
        "resources:\n  - ../../base\n  - deny.yaml\ncommonAnnotations:\n  env: prod\n",
    )
    .unwrap();
    let (code, out, err) = diff(repo, &["HEAD"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("environment prod:"), "{out}");
    assert!(!out.contains("environment dev:"), "{out}");
    assert!(
        out.contains("- shop/web[Deployment] => shop/api[Deployment] : All Connections"),
        "{out}"
    );
    assert!(
        out.contains("isolated by NetworkPolicy shop/default-deny at overlays/prod/deny.yaml"),
        "{out}"
    );
    assert!(
        out.contains("open: no NetworkPolicy isolates the egress of shop/web[Deployment]"),
        "{out}"
    );
    assert!(
        !out.lines()
            .any(|l| l.starts_with("- ") && l.contains("=> 10.")),
        "a DNS segment still allowed is not closed:\n{out}"
    );
}
