//! The pre-commit hook of `.pre-commit-hooks.yaml`, run by the real `pre-commit` on a
//! temporary git repository: it fails on a bad manifest and passes once it is fixed.
//!
//! The temporary repository's `.pre-commit-config.yaml` declares the hook of this repository's
//! `.pre-commit-hooks.yaml` (entry, file types, filename passing) as a local hook that runs the
//! binary under test, so pre-commit's own file selection is exercised without a minutes-long
//! `cargo install`; `pre-commit validate-manifest` checks the published definition itself.
//! When `pre-commit` is not installed (`.ci/run` installs it from PyPI) the tests say so on
//! stderr and pass.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

const BAD: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    linkerd.io/inject: enabled
spec:
  template:
    metadata:
      labels: {app: api}
";

const FIXED: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    metadata:
      labels: {app: api}
      annotations:
        linkerd.io/inject: enabled
";

fn skip(reason: &str) {
    // Written to the real stderr (not the captured test output) so a skip is always visible.
    let _ = writeln!(std::io::stderr(), "SKIPPED pre-commit hook test: {reason}");
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .current_dir(dir)
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// The hook of `.pre-commit-hooks.yaml`, as a `repo: local` hook running the binary under
/// test: the real pre-commit selects and passes the files exactly as it would for the
/// published hook, without a `cargo install` of this repository (minutes, in CI).
fn local_hook_config() -> String {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    let stream = xks_lint::load::yaml::parse_stream(&manifest);
    let hook = &stream.documents[0].root.as_seq().unwrap()[0];
    let field = |key: &str| {
        hook.get(key)
            .and_then(|n| n.scalar_text())
            .unwrap()
            .to_string()
    };
    assert_eq!(field("id"), "xks-lint");
    assert_eq!(field("language"), "rust");
    let entry = field("entry");
    let arguments = entry
        .strip_prefix("xks-lint ")
        .expect("the entry runs the installed binary");
    let types: Vec<String> = hook
        .get("types_or")
        .and_then(|n| n.as_seq())
        .unwrap()
        .iter()
        .map(|t| t.scalar_text().unwrap().to_string())
        .collect();
    format!(
        "repos:\n  - repo: local\n    hooks:\n      - id: xks-lint\n        name: xks-lint\n        entry: {} {arguments}\n        language: system\n        types_or: [{}]\n        pass_filenames: {}\n        require_serial: {}\n        always_run: {}\n",
        env!("CARGO_BIN_EXE_xks-lint"),
        types.join(", "),
        field("pass_filenames"),
        field("require_serial"),
        field("always_run"),
    )
}

fn run_hook(repo: &Path, home: &Path) -> Output {
    Command::new("pre-commit")
        .current_dir(repo)
        .args(["run", "--files", "deploy.yaml", "notes.json"])
        .env("PRE_COMMIT_HOME", home)
        .env("PRE_COMMIT_COLOR", "never")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .unwrap()
}

fn pre_commit_available() -> bool {
    matches!(Command::new("pre-commit").arg("--version").output(), Ok(output) if output.status.success())
}

#[test]
fn hook_manifest_is_valid_for_pre_commit() {
    if !pre_commit_available() {
        return skip("`pre-commit` is not installed (pip install pre-commit)");
    }
    let output = Command::new("pre-commit")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["validate-manifest", ".pre-commit-hooks.yaml"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn pre_commit_hook_fails_on_a_bad_manifest_and_passes_when_fixed() {
    if !pre_commit_available() {
        return skip("`pre-commit` is not installed (pip install pre-commit)");
    }
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    std::fs::write(repo.join(".pre-commit-config.yaml"), local_hook_config()).unwrap();
    git(repo, &["config", "user.email", "test@example.com"]);
    git(repo, &["config", "user.name", "test"]);
    std::fs::write(repo.join("deploy.yaml"), BAD).unwrap();
    // Not a manifest, but JSON: passed to the hook too, and harmless.
    std::fs::write(repo.join("notes.json"), "{\"note\": 1}\n").unwrap();
    // A problem in a file that is not passed: the hook must not report it.
    std::fs::write(
        repo.join("other.yaml"),
        BAD.replace("name: api", "name: other"),
    )
    .unwrap();
    git(repo, &["add", "."]);

    let failed = run_hook(repo, home.path());
    let stdout = String::from_utf8_lossy(&failed.stdout);
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        !failed.status.success(),
        "the hook should fail:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("linkerd-annotation-on-workload") && stdout.contains("deploy.yaml"),
        "{stdout}\n{stderr}"
    );
    assert!(stdout.contains("Failed"), "{stdout}");
    assert!(!stdout.contains("other.yaml"), "{stdout}");

    std::fs::write(repo.join("deploy.yaml"), FIXED).unwrap();
    git(repo, &["add", "."]);
    let passed = run_hook(repo, home.path());
    let stdout = String::from_utf8_lossy(&passed.stdout);
    assert!(
        passed.status.success(),
        "the hook should pass:\n{stdout}\n{}",
        String::from_utf8_lossy(&passed.stderr)
    );
    assert!(stdout.contains("Passed"), "{stdout}");
}

fn deployment(name: &str, namespace: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n        - name: {name}\n          image: example/{name}:1.0\n          ports:\n            - containerPort: 8080\n"
    )
}

const EGRESS_A: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-egress-to-tenant-b
  namespace: tenant-a
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              name: tenant-b
          podSelector:
            matchLabels:
              app: api
";

const INGRESS_B: &str = "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-ingress-from-tenant-a
  namespace: tenant-b
spec:
  podSelector:
    matchLabels:
      app: api
  policyTypes: [Ingress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              name: tenant-a
          podSelector:
            matchLabels:
              app: web
";

/// A git repository of published hook definitions: this repository's
/// `.pre-commit-hooks.yaml`, committed, so pre-commit installs the hooks exactly as a user's
/// `repo:`/`rev:` entry would.
fn hooks_repository(dir: &Path) -> String {
    git(dir, &["init", "-q"]);
    git(dir, &["config", "user.email", "test@example.com"]);
    git(dir, &["config", "user.name", "test"]);
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml"),
        dir.join(".pre-commit-hooks.yaml"),
    )
    .unwrap();
    git(dir, &["add", "."]);
    git(dir, &["commit", "-q", "-m", "hooks"]);
    let output = Command::new("git")
        .current_dir(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// `git commit` in `repo` with the installed hook, the binary under test first on the PATH.
fn commit(repo: &Path, home: &Path, message: &str) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_xks-lint")).parent().unwrap();
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    Command::new("git")
        .current_dir(repo)
        .args(["commit", "-q", "-m", message])
        .env("PATH", path)
        .env("PRE_COMMIT_HOME", home)
        .env("PRE_COMMIT_COLOR", "never")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Issue 17 §1: a commit that breaks a cross-namespace flow fails the `xks-lint-system`
/// hook although the finding lies in a file the commit does not touch — a label typo in
/// tenant-b's ingress policy, and the deletion of that policy (pre-commit passes no file
/// then); a commit that does not break it passes.
#[test]
fn system_hook_fails_commits_that_break_a_flow_elsewhere() {
    if !pre_commit_available() {
        return skip("`pre-commit` is not installed (pip install pre-commit)");
    }
    let hooks = tempfile::tempdir().unwrap();
    let rev = hooks_repository(hooks.path());
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    git(repo, &["config", "user.email", "test@example.com"]);
    git(repo, &["config", "user.name", "test"]);
    std::fs::write(
        repo.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: xks-lint-system\n",
            hooks.path().display()
        ),
    )
    .unwrap();
    for (path, text) in [
        ("tenant-a/web.yaml", deployment("web", "tenant-a")),
        ("tenant-a/egress.yaml", EGRESS_A.to_string()),
        ("tenant-b/api.yaml", deployment("api", "tenant-b")),
        ("tenant-b/ingress.yaml", INGRESS_B.to_string()),
    ] {
        std::fs::create_dir_all(repo.join(path).parent().unwrap()).unwrap();
        std::fs::write(repo.join(path), text).unwrap();
    }
    let install = Command::new("pre-commit")
        .current_dir(repo)
        .arg("install")
        .env("PRE_COMMIT_HOME", home.path())
        .output()
        .unwrap();
    assert!(install.status.success(), "{}", text(&install));
    git(repo, &["add", "."]);
    let first = commit(repo, home.path(), "tenants");
    assert!(
        first.status.success(),
        "a clean pair must pass:\n{}",
        text(&first)
    );

    // A typo in the peer's label: the policy still isolates tenant-b's api, but admits
    // nothing from tenant-a (the policy is what `why` cites).
    // And a typo in the policy's own pod selector: it then selects nothing, so only the
    // comparison with HEAD shows what the change broke.
    for (typo, replacement) in [("app: web", "app: wbe"), ("app: api", "app: apii")] {
        std::fs::write(
            repo.join("tenant-b/ingress.yaml"),
            INGRESS_B.replacen(typo, replacement, 1),
        )
        .unwrap();
        git(repo, &["add", "."]);
        let broken = commit(repo, home.path(), "typo");
        let out = text(&broken);
        assert!(
            !broken.status.success(),
            "the typo {replacement} must fail the hook:\n{out}"
        );
        assert!(
            out.contains("missing-ingress-pair") && out.contains("tenant-a/egress.yaml"),
            "{out}"
        );
        git(repo, &["reset", "-q", "--hard", "HEAD"]);
    }

    git(repo, &["rm", "-q", "tenant-b/ingress.yaml"]);
    let deleted = commit(repo, home.path(), "delete the policy");
    let out = text(&deleted);
    assert!(
        !deleted.status.success(),
        "the deletion must fail the hook:\n{out}"
    );
    assert!(out.contains("missing-ingress-pair"), "{out}");
    git(repo, &["reset", "-q", "--hard", "HEAD"]);

    // A change that keeps the flow: the hook passes.
    std::fs::write(
        repo.join("tenant-b/api.yaml"),
        deployment("api", "tenant-b").replace("example/api:1.0", "example/api:1.1"),
    )
    .unwrap();
    git(repo, &["add", "."]);
    let fine = commit(repo, home.path(), "new image");
    assert!(fine.status.success(), "{}", text(&fine));
}
