//! Issue 14, item 7: manifest files left out by committed ignore files, hidden directories
//! or excludes are counted in the summary and listed with `--verbose`, never silent.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: t\nspec:\n  ports: [{port: 80}]\n";

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn hiding_repo() -> tempfile::TempDir {
    let repo = tempfile::tempdir().unwrap();
    fs::create_dir(repo.path().join(".git")).unwrap();
    write(repo.path(), "k8s/app.yaml", SERVICE);
    write(repo.path(), ".ignore", "k8s/hidden-by-ignore/\n");
    write(repo.path(), "k8s/hidden-by-ignore/deploy.yaml", SERVICE);
    write(repo.path(), "k8s/.gitignore", "secret.yml\n");
    write(repo.path(), "k8s/secret.yml", SERVICE);
    write(repo.path(), ".github/workflows/ci.yaml", "on: push\n");
    write(repo.path(), "k8s/.dot.yaml", SERVICE);
    write(repo.path(), "k8s/vendor/x.json", "{}");
    write(repo.path(), "k8s/notes.txt", "not a manifest");
    // `.git` itself is never walked nor counted.
    write(repo.path(), ".git/config.yaml", "x: 1\n");
    repo
}

#[test]
fn left_out_files_are_counted_and_listed() {
    let repo = hiding_repo();
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(repo.path())
        .args([
            "check",
            ".",
            "--format",
            "json",
            "--exclude",
            "vendor",
            "--verbose",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let summary = &json["summary"];
    assert_eq!(summary["files_found"], 1, "{summary}");
    assert_eq!(summary["files_ignored"], 2, "{summary}");
    assert_eq!(summary["files_hidden"], 2, "{summary}");
    assert_eq!(summary["files_excluded"], 1, "{summary}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for (path, reason) in [
        ("k8s/hidden-by-ignore/deploy.yaml", "ignore"),
        ("k8s/secret.yml", "ignore"),
        (".github/workflows/ci.yaml", "hidden"),
        ("k8s/.dot.yaml", "hidden"),
        ("k8s/vendor/x.json", "exclude"),
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(reason) && l.ends_with(&format!(": {path}"))),
            "{path} not listed as {reason}:\n{stderr}"
        );
    }
    assert!(!stderr.contains("config.yaml"), "{stderr}");
    assert!(!stderr.contains("notes.txt"), "{stderr}");

    // The human summary says so without --verbose, and lists nothing.
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(repo.path())
        .args(["check", ".", "--color", "never"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("4 manifest files left out (2 hidden, 2 ignored; --verbose lists them)"),
        "{stdout}"
    );
    assert!(!String::from_utf8_lossy(&output.stderr).contains("left out"));

    // SARIF carries the counts in the run's properties.
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(repo.path())
        .args(["check", ".", "--format", "sarif"])
        .output()
        .unwrap();
    let sarif: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let left_out = &sarif["runs"][0]["properties"]["xksLint/filesLeftOut"];
    assert_eq!(left_out["hidden"], 2, "{left_out}");
    assert_eq!(left_out["ignored"], 2, "{left_out}");
}

#[test]
fn a_referenced_ignored_file_is_read_not_counted_as_left_out() {
    let repo = tempfile::tempdir().unwrap();
    fs::create_dir(repo.path().join(".git")).unwrap();
    write(repo.path(), ".gitignore", "generated/\n");
    write(
        repo.path(),
        "app/kustomization.yaml",
        "resources:\n- svc.yaml\n- ../generated/svc.yaml\n",
    );
    write(repo.path(), "app/svc.yaml", SERVICE);
    write(
        repo.path(),
        "generated/svc.yaml",
        &SERVICE.replace("name: api", "name: gen"),
    );
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(repo.path())
        .args(["check", ".", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let summary = &json["summary"];
    assert_eq!(summary["files_ignored"], 0, "{summary}");
    assert_eq!(summary["files_referenced"], 1, "{summary}");
    assert_eq!(summary["files_found"], 3, "{summary}");
}

#[test]
fn ignore_files_apply_up_to_the_repository_root_only() {
    let dir = tempfile::tempdir().unwrap();
    // Above the repository: must not hide anything.
    write(dir.path(), ".gitignore", "*.yaml\n");
    write(dir.path(), ".ignore", "*.yaml\n");
    let repo = dir.path().join("repo");
    fs::create_dir_all(repo.join(".git")).unwrap();
    // The repository's own, above the checked directory: applies.
    write(&repo, ".gitignore", "k8s/rendered/\n");
    write(&repo, "k8s/app.yaml", SERVICE);
    write(&repo, "k8s/rendered/out.yaml", SERVICE);
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(&repo)
        .args(["check", "k8s", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let summary = &json["summary"];
    assert_eq!(summary["files_read"], 1, "{summary}");
    assert_eq!(summary["files_ignored"], 1, "{summary}");
}

#[test]
fn a_flux_path_into_ignored_files_gets_a_note() {
    let repo = tempfile::tempdir().unwrap();
    fs::create_dir(repo.path().join(".git")).unwrap();
    write(
        repo.path(),
        "clusters/prod/apps.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  path: ./apps\n  sourceRef: {kind: GitRepository, name: flux-system}\n",
    );
    write(repo.path(), "apps/svc.yaml", SERVICE);
    write(repo.path(), "apps/.ignore", "deploy.yaml\n");
    write(repo.path(), "apps/deploy.yaml", SERVICE);
    write(repo.path(), "other/.ignore", "x.yaml\n");
    write(repo.path(), "other/x.yaml", SERVICE);
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(repo.path())
        .args(["check", ".", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let notes: Vec<&serde_json::Value> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["message"]
                .as_str()
                .unwrap()
                .contains("left out of the check")
        })
        .collect();
    assert_eq!(notes.len(), 1, "{json:#}");
    assert_eq!(notes[0]["path"], "clusters/prod/apps.yaml");
    assert_eq!(notes[0]["start"]["line"], 7);
    assert!(
        notes[0]["message"]
            .as_str()
            .unwrap()
            .contains("deploy.yaml"),
        "{json:#}"
    );
}
