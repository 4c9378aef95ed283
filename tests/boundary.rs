//! Issue 14, item 1: nothing outside the repository root is read or written through the
//! repository. The repositories are built in temp dirs; the binary runs on them as CI would.
#![cfg(unix)]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: t\nspec:\n  ports: [{port: 80}]\n";
const CANARY: &str = "xks-canary-7f3a9c1e-do-not-print";
const FORMATS: [&str; 5] = ["human", "json", "sarif", "github", "gitlab"];

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn run(cwd: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(cwd)
        .env("XKS_LINT_TEST_SECRET", CANARY)
        .args(args)
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap()
}

fn all_output(output: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A repository whose kustomizations reach `/proc/self/environ` (the CI's secrets) through
/// committed links: a resource, a patch, a directory, from an overlay and from the base.
fn environ_repo() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = &dir.path().join("repo");
    fs::create_dir_all(root.join(".git")).unwrap();
    fs::create_dir_all(root.join("base")).unwrap();
    symlink("/proc/self/environ", root.join("base/env.yaml")).unwrap();
    symlink("/proc/self", root.join("base/proc")).unwrap();
    write(
        root,
        "base/kustomization.yaml",
        "resources:\n- svc.yaml\n- env.yaml\n- proc/environ\n",
    );
    write(root, "base/svc.yaml", SERVICE);
    write(
        root,
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\npatches:\n- path: ../../base/env.yaml\ncomponents:\n- ../../component\n",
    );
    // A component whose directory is a link out of the repository.
    let elsewhere = dir.path().join("elsewhere");
    write(
        &elsewhere,
        "kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n",
    );
    symlink(&elsewhere, root.join("component")).unwrap();
    let root = root.clone();
    (dir, root)
}

#[test]
fn a_link_to_proc_environ_never_reaches_any_output() {
    let (_dir, repo) = environ_repo();
    for path in ["overlays/prod", ".", "base"] {
        for format in FORMATS {
            let output = run(repo.as_path(), &["check", path, "--format", format]);
            let text = all_output(&output);
            assert!(
                !text.contains(CANARY),
                "the environment leaked ({path}, {format}):\n{text}"
            );
            // The build is refused where kubectl refuses it: exit 1.
            assert_eq!(output.status.code(), Some(1), "{path} {format}:\n{text}");
        }
        let output = run(repo.as_path(), &["check", path, "--format", "json"]);
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let findings = json["findings"].as_array().unwrap();
        let located = |file: &str, line: u64, what: &str| {
            findings.iter().any(|f| {
                f["rule"] == "kustomize-error"
                    && f["path"] == file
                    && f["start"]["line"] == line
                    && f["message"].as_str().unwrap().contains(what)
                    && f["message"]
                        .as_str()
                        .unwrap()
                        .contains("outside the repository")
            })
        };
        assert!(
            located("base/kustomization.yaml", 3, "env.yaml"),
            "{path}: {json:#}"
        );
        assert!(
            located("base/kustomization.yaml", 4, "proc/environ"),
            "{path}: {json:#}"
        );
        if path != "base" {
            assert!(
                located("overlays/prod/kustomization.yaml", 4, "env.yaml"),
                "{path}: {json:#}"
            );
            assert!(
                located("overlays/prod/kustomization.yaml", 6, "component"),
                "{path}: {json:#}"
            );
        }
        // The rest is still analysed.
        assert!(
            json["summary"]["objects"].as_u64().unwrap() >= 1,
            "{json:#}"
        );
    }
}

#[test]
fn a_named_link_to_proc_is_not_read() {
    let (_dir, repo) = environ_repo();
    // What pre-commit does: pass the committed files by name.
    let output = run(
        repo.as_path(),
        &[
            "check",
            "base/env.yaml",
            "base/svc.yaml",
            "--format",
            "json",
        ],
    );
    let text = all_output(&output);
    assert!(!text.contains(CANARY), "{text}");
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["rule"] == "symlink-outside-tree" && f["path"] == "base/env.yaml"),
        "{json:#}"
    );
}

#[test]
fn config_and_baseline_links_out_of_the_repository_are_refused() {
    let (_dir, repo) = environ_repo();
    symlink("/proc/self/environ", repo.as_path().join(".xks-lint.yaml")).unwrap();
    let output = run(repo.as_path(), &["check", "base/svc.yaml"]);
    let text = all_output(&output);
    assert!(!text.contains(CANARY), "{text}");
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("outside the repository"), "{text}");
    fs::remove_file(repo.as_path().join(".xks-lint.yaml")).unwrap();

    symlink("/proc/self/environ", repo.as_path().join("baseline.json")).unwrap();
    let output = run(
        repo.as_path(),
        &["check", "base/svc.yaml", "--baseline", "baseline.json"],
    );
    let text = all_output(&output);
    assert!(!text.contains(CANARY), "{text}");
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("outside the repository"), "{text}");
}

#[test]
fn reports_are_never_written_through_a_link_out_of_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let outside = dir.path().join("victim");
    fs::create_dir_all(repo.join(".git")).unwrap();
    fs::write(&outside, "precious").unwrap();
    write(&repo, "k8s/svc.yaml", SERVICE);
    symlink(&outside, repo.join("report.sarif")).unwrap();
    symlink(dir.path(), repo.join("out")).unwrap();
    symlink(
        dir.path().join("created-by-link"),
        repo.join("dangling.json"),
    )
    .unwrap();
    for (flag, target) in [
        ("--output", "report.sarif"),
        ("--write-baseline", "report.sarif"),
        ("--output", "out/victim"),
        ("--output", "dangling.json"),
    ] {
        let output = run(&repo, &["check", "k8s", "--format", "sarif", flag, target]);
        assert_eq!(output.status.code(), Some(2), "{flag} {target}");
        assert!(
            all_output(&output).contains("refused to write"),
            "{}",
            all_output(&output)
        );
        assert_eq!(fs::read_to_string(&outside).unwrap(), "precious");
        assert!(!dir.path().join("created-by-link").exists());
    }
    // A link inside the repository, and a plain file, are written.
    fs::create_dir(repo.join("reports")).unwrap();
    symlink("reports/r.sarif", repo.join("inside.sarif")).unwrap();
    let output = run(
        &repo,
        &[
            "check",
            "k8s",
            "--format",
            "sarif",
            "--output",
            "inside.sarif",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", all_output(&output));
    assert!(
        fs::read_to_string(repo.join("reports/r.sarif"))
            .unwrap()
            .contains("2.1.0")
    );
}

#[test]
fn fifos_and_devices_referenced_by_kustomizations_do_not_block_and_are_refused() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    fs::create_dir(root.join(".git")).unwrap();
    write(
        root,
        "app/kustomization.yaml",
        "resources:\n- svc.yaml\n- ../shared/fifo.yaml\n- zero.yaml\n",
    );
    write(root, "app/svc.yaml", SERVICE);
    fs::create_dir(root.join("shared")).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(root.join("shared/fifo.yaml"))
        .status()
        .unwrap();
    assert!(status.success());
    symlink("/dev/zero", root.join("app/zero.yaml")).unwrap();
    // Only `app` is checked: the FIFO is reached through the kustomization alone.
    let output = run(root, &["check", "app", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = json["findings"].as_array().unwrap();
    for (line, what) in [(3, "fifo.yaml"), (4, "zero.yaml")] {
        assert!(
            findings
                .iter()
                .any(|f| f["path"] == "app/kustomization.yaml"
                    && f["start"]["line"] == line
                    && f["message"].as_str().unwrap().contains(what)),
            "{json:#}"
        );
    }
}

#[test]
fn links_to_dot_and_link_chains_read_each_file_once() {
    let repo = tempfile::tempdir().unwrap();
    let root = repo.path();
    fs::create_dir(root.join(".git")).unwrap();
    let levels = 30;
    for level in 0..levels {
        write(
            root,
            &format!("d{level}/cm.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c{level}\n"),
        );
    }
    // Two links per level to the next: 2^30 paths if links were followed.
    for level in 0..levels - 1 {
        let next = format!("../d{}", level + 1);
        symlink(&next, root.join(format!("d{level}/a"))).unwrap();
        symlink(&next, root.join(format!("d{level}/b"))).unwrap();
    }
    symlink(".", root.join("self-a")).unwrap();
    symlink(".", root.join("self-b")).unwrap();
    symlink("d0/cm.yaml", root.join("alias.yaml")).unwrap();
    let output = run(root, &["check", ".", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["summary"]["files_found"], levels, "{json:#}");
    assert_eq!(json["summary"]["objects"], levels, "{json:#}");
}

/// The loader trusts the files a walk lists only when the walked directory itself resolves
/// inside the repository: a checked directory that is a committed link out of it has each
/// of its files refused, as a file named on the command line would be.
#[test]
fn a_checked_directory_linked_out_of_the_repository_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    fs::create_dir_all(root.join(".git")).unwrap();
    write(&root, "inside/svc.yaml", SERVICE);
    let elsewhere = dir.path().join("elsewhere");
    write(
        &elsewhere,
        "secret.yaml",
        &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: {CANARY}\n"),
    );
    symlink(&elsewhere, root.join("linked")).unwrap();
    for format in FORMATS {
        let output = run(&root, &["check", "linked", "inside", "--format", format]);
        let text = all_output(&output);
        assert!(!text.contains(CANARY), "{format}: {text}");
    }
    let output = run(&root, &["check", "linked", "inside", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["summary"]["objects"], 1, "{json:#}");
    let text = json.to_string();
    assert!(
        text.contains("secret.yaml") && text.contains("outside"),
        "{json:#}"
    );
}
