//! The pre-commit hook of `.pre-commit-hooks.yaml`, run by the real `pre-commit` on a
//! temporary git repository: it fails on a bad manifest and passes once it is fixed.
//!
//! The temporary repository's `.pre-commit-config.yaml` points at this repository by path
//! and at its HEAD commit (so the hook definition and code under test are the committed ones);
//! pre-commit clones it and builds it once with `cargo install`, offline, from the crates
//! already downloaded. The build directory is kept under the target directory so later runs
//! only rebuild xks-lint itself. When `pre-commit` is not installed (`.ci/run` installs it from PyPI) the
//! test says so on stderr and passes.

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

fn head_commit() -> Option<String> {
    let output = Command::new("git")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn run_hook(repo: &Path, home: &Path) -> Output {
    let build_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pre-commit-build");
    Command::new("pre-commit")
        .current_dir(repo)
        .args(["run", "--files", "deploy.yaml", "notes.json"])
        .env("PRE_COMMIT_HOME", home)
        .env("CARGO_TARGET_DIR", build_dir)
        .env("CARGO_NET_OFFLINE", "true")
        .env("PRE_COMMIT_COLOR", "never")
        .env_remove("GIT_DIR")
        .env_remove("GIT_INDEX_FILE")
        .output()
        .unwrap()
}

#[test]
fn pre_commit_hook_fails_on_a_bad_manifest_and_passes_when_fixed() {
    match Command::new("pre-commit").arg("--version").output() {
        Ok(output) if output.status.success() => {}
        _ => return skip("`pre-commit` is not installed (pip install pre-commit)"),
    }
    let Some(rev) = head_commit() else {
        return skip("this checkout is not a git repository");
    };
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let repo = dir.path();
    git(repo, &["init", "-q"]);
    std::fs::write(
        repo.join(".pre-commit-config.yaml"),
        format!(
            "repos:\n  - repo: {}\n    rev: {rev}\n    hooks:\n      - id: xks-lint\n",
            env!("CARGO_MANIFEST_DIR")
        ),
    )
    .unwrap();
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
