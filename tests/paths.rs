//! Issue 14, item 8 and issue 13, defect 12: the repository root is found from the checked
//! PATH, not from the working directory; CI paths are repository-relative, never absolute
//! and never `../`; a checkout without `.git` still builds overlays over their bases.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The fixture copied into `<tmp>/checkout`, with `.git` when asked.
fn checkout(with_git: bool) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("checkout");
    copy_tree(Path::new("fixtures/checkout-without-git"), &root);
    if with_git {
        fs::create_dir(root.join(".git")).unwrap();
    }
    (dir, root)
}

fn sarif(cwd: &Path, args: &[&str]) -> serde_json::Value {
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(cwd)
        .args(["check", "--format", "sarif"])
        .args(args)
        .output()
        .unwrap();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// Every artifact URI of a SARIF log, and every message text.
fn uris_and_messages(log: &serde_json::Value) -> (Vec<String>, Vec<String>) {
    let mut uris = Vec::new();
    let mut messages = Vec::new();
    fn walk(value: &serde_json::Value, uris: &mut Vec<String>, messages: &mut Vec<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, value) in map {
                    match (key.as_str(), value) {
                        ("uri", serde_json::Value::String(uri)) => uris.push(uri.clone()),
                        ("text", serde_json::Value::String(text)) => messages.push(text.clone()),
                        _ => walk(value, uris, messages),
                    }
                }
            }
            serde_json::Value::Array(items) => {
                for item in items {
                    walk(item, uris, messages);
                }
            }
            _ => {}
        }
    }
    walk(&log["runs"][0]["results"], &mut uris, &mut messages);
    (uris, messages)
}

fn assert_repository_relative(log: &serde_json::Value, root: &Path, context: &str) {
    let (uris, messages) = uris_and_messages(log);
    assert!(
        uris.contains(&"base/deployment.yaml".to_string()),
        "{context}: {uris:?}"
    );
    for uri in &uris {
        assert!(
            !uri.starts_with('/') && !uri.contains("..") && !uri.contains(':'),
            "{context}: {uri}"
        );
    }
    let machine = root.parent().unwrap().to_string_lossy().into_owned();
    for text in &messages {
        assert!(!text.contains(&machine), "{context}: {text}");
    }
}

#[test]
fn sarif_paths_are_relative_to_the_repository_of_the_path_from_any_directory() {
    let (_dir, root) = checkout(true);
    let absolute = root.join("overlays/prod");
    let absolute = absolute.to_str().unwrap();
    // From the top, from an unrelated directory, from inside a subdirectory.
    let top = sarif(&root, &["overlays/prod"]);
    assert_repository_relative(&top, &root, "top");
    let elsewhere = sarif(Path::new("/"), &[absolute]);
    assert_repository_relative(&elsewhere, &root, "from /");
    let inside = sarif(&root.join("overlays"), &["prod"]);
    assert_repository_relative(&inside, &root, "from overlays/");
    let inside_up = sarif(&root.join("overlays/prod"), &["."]);
    assert_repository_relative(&inside_up, &root, "from overlays/prod");
    // The same findings with the same fingerprints, wherever the run started.
    let fingerprints = |log: &serde_json::Value| {
        log["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"].to_string())
            .collect::<Vec<_>>()
    };
    assert!(!fingerprints(&top).is_empty());
    assert_eq!(fingerprints(&top), fingerprints(&elsewhere));
    assert_eq!(fingerprints(&top), fingerprints(&inside));
}

#[test]
fn a_checkout_without_git_builds_overlays_checked_from_the_top() {
    let (_dir, root) = checkout(false);
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(&root)
        .args(["check", "overlays/prod", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = json["findings"].as_array().unwrap();
    assert!(
        !findings.iter().any(|f| f["rule"] == "kustomize-error"),
        "{json:#}"
    );
    // The base's Deployment is built into the overlay and analysed there.
    assert!(
        findings
            .iter()
            .any(|f| f["rule"] == "linkerd-annotation-on-workload"
                && f["path"] == "base/deployment.yaml"
                && f["object"].as_str().unwrap_or("").contains("prod")),
        "{json:#}"
    );
    let log = sarif(&root, &["overlays/prod"]);
    assert_repository_relative(&log, &root, "without .git");
}

#[test]
fn a_checkout_without_git_checked_from_elsewhere_reaches_its_bases_and_never_the_filesystem() {
    let (dir, root) = checkout(false);
    // A directory beside the checkout that no kustomization names: never read.
    let beside = dir.path().join("beside");
    fs::create_dir_all(&beside).unwrap();
    fs::write(
        beside.join("secret.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: beside-canary\n",
    )
    .unwrap();
    // `render` from `/`, which holds neither the checkout nor a `.git` above it.
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir("/")
        .arg("render")
        .arg(root.join("overlays/prod"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("kind: Deployment"), "{stdout}\n{stderr}");
    assert!(!stdout.contains("beside-canary"));

    // A kustomization reaching for the top of the filesystem does not widen the root there.
    let overlay = root.join("overlays/greedy");
    fs::create_dir_all(&overlay).unwrap();
    let up = "../".repeat(overlay.components().count() + 2);
    fs::write(
        overlay.join("kustomization.yaml"),
        format!("resources:\n- ../../base\n- {up}\n- {up}etc\n"),
    )
    .unwrap();
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir("/")
        .arg("render")
        .arg(&overlay)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("kustomize-error"), "{stderr}");
}
