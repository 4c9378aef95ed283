//! Conformance of the native kustomize build, measured through `xks-lint render`:
//!
//! - `../shared/kustomize-conformance/`: build cases of kustomize's own test suite with
//!   their expected output. Every case of the default-scored set (the scorer's
//!   `compare.py` leaves out generators, replacements, vars, helm, plugins and cases
//!   kubectl disagrees with) must render the expected objects, or be refused when the
//!   case expects an error. The data features that set leaves out but that execute
//!   nothing (vars, generators, components, replacements) are scored too, by a second
//!   test, for every case kubectl agrees with.
//! - `../shared/corpus/real/`: four public repositories. Every kustomization root
//!   kubectl builds must render the objects `kubectl kustomize` prints; every root
//!   kubectl refuses must be refused with a located `kustomize-error`.
//!
//! Objects are compared as a multiset of parsed values, not as text. Cases that still
//! fail are listed below with the reason; the test fails when a listed case passes (so
//! the lists only shrink) and when any other case fails.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use xks_lint::load::yaml::parse_stream;

/// Tags the scorer leaves out by default.
const EXCLUDED_TAGS: [&str; 6] = [
    "generators",
    "replacements",
    "vars",
    "helm",
    "plugins",
    "kubectl-disagrees",
];

/// Default-scored cases that do not pass yet, and why.
const KNOWN_KRUSTY_FAILURES: &[(&str, &str)] = &[
    (
        "TestTargetMustHaveKustomizationFile",
        "render of a directory without a kustomization prints its plain objects by design (kubectl refuses)",
    ),
    (
        "TestCrdBase",
        "name references declared by CRD schemas (x-kubernetes-*) are not followed",
    ),
];

/// Cases of the data features (vars, generators, components, replacements) that do
/// not pass yet, and why.
const KNOWN_FEATURE_FAILURES: &[(&str, &str)] = &[];

/// Roots of `corpus/real` (repository/directory) that do not agree with kubectl yet, and why.
const KNOWN_REAL_FAILURES: &[(&str, &str)] = &[];

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_file() {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Makes `dir` a repository root (`git init`, or a bare `.git` without git).
fn init_repository(dir: &Path) {
    let initialised = Command::new("git")
        .args(["init", "-q"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    if !initialised {
        fs::create_dir_all(dir.join(".git")).unwrap();
    }
}

/// The objects of a YAML stream as canonical JSON, sorted: a multiset.
fn objects(text: &str) -> Result<Vec<String>, String> {
    let stream = parse_stream(text);
    if let Some(error) = stream.errors.first() {
        return Err(format!("not a YAML stream: {}", error.message));
    }
    let mut objects: Vec<String> = stream
        .documents
        .iter()
        .map(|d| d.root.to_json())
        .filter(|v| !v.is_null())
        .map(|v| v.to_string())
        .collect();
    objects.sort();
    Ok(objects)
}

struct Outcome {
    success: bool,
    stdout: String,
    stderr: String,
}

fn run(command: &mut Command) -> Outcome {
    let output = command.output().unwrap();
    Outcome {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn render(dir: &Path) -> Outcome {
    run(Command::cargo_bin("xks-lint")
        .unwrap()
        .arg("render")
        .arg(dir))
}

/// A short description of how two multisets differ.
fn difference(expected: &[String], actual: &[String]) -> String {
    let mut missing: Vec<&String> = Vec::new();
    let mut unexpected: Vec<&String> = actual.iter().collect();
    for object in expected {
        match unexpected.iter().position(|a| *a == object) {
            Some(i) => {
                unexpected.remove(i);
            }
            None => missing.push(object),
        }
    }
    let cut = |s: &&String| s.chars().take(300).collect::<String>();
    format!(
        "missing {:?}; unexpected {:?}",
        missing.iter().map(cut).collect::<Vec<_>>(),
        unexpected.iter().map(cut).collect::<Vec<_>>()
    )
}

/// Fails unless the failing cases are exactly the known ones.
fn check_against_known(kind: &str, failures: &[(String, String)], known: &[(&str, &str)]) {
    let failing: BTreeSet<&str> = failures.iter().map(|(name, _)| name.as_str()).collect();
    let known_names: BTreeSet<&str> = known.iter().map(|(name, _)| *name).collect();
    let unexpected: Vec<&(String, String)> = failures
        .iter()
        .filter(|(name, _)| !known_names.contains(name.as_str()))
        .collect();
    let now_passing: Vec<&&str> = known_names.difference(&failing).collect();
    assert!(
        unexpected.is_empty() && now_passing.is_empty(),
        "{kind}: {} new failure(s):\n{}\nknown failures that now pass (remove them from the list): {now_passing:?}",
        unexpected.len(),
        unexpected
            .iter()
            .map(|(name, why)| format!("  {name}: {why}"))
            .collect::<Vec<_>>()
            .join("\n"),
    );
}

/// Renders every case `selected` picks by its tags and checks the failures are exactly
/// `known`; returns (scored, failing).
fn score_cases(
    label: &str,
    selected: &dyn Fn(&[&str]) -> bool,
    known: &[(&str, &str)],
) -> Option<usize> {
    let base = shared().join("kustomize-conformance");
    let Ok(index) = fs::read_to_string(base.join("cases.json")) else {
        eprintln!(
            "SKIPPED: {} is absent; the kustomize conformance cases ({label}) did not run",
            base.display()
        );
        return None;
    };
    let index: serde_json::Value = serde_json::from_str(&index).unwrap();
    let cases = index["cases"].as_array().unwrap();
    let temp = tempfile::tempdir().unwrap();
    init_repository(temp.path());
    let mut scored = 0;
    let mut failures: Vec<(String, String)> = Vec::new();
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let tags: Vec<&str> = case["tags"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|t| t.as_str())
            .collect();
        if !selected(&tags) {
            continue;
        }
        scored += 1;
        let dir = temp.path().join(name);
        copy_tree(&base.join("cases").join(name), &dir);
        for extra in case["dirs"].as_array().into_iter().flatten() {
            fs::create_dir_all(dir.join(extra.as_str().unwrap())).unwrap();
        }
        // The expected output is no input of the build.
        let expected_text = fs::read_to_string(dir.join("expected.yaml")).ok();
        let _ = fs::remove_file(dir.join("expected.yaml"));
        let root = dir.join(case["root"].as_str().unwrap());
        let outcome = render(&root);
        let failure = if case["expect"] == "error" {
            outcome
                .success
                .then(|| "kustomize refuses this build; render exited 0".to_string())
        } else if !outcome.success {
            Some(format!(
                "render failed: {}",
                outcome.stderr.lines().last().unwrap_or_default()
            ))
        } else {
            match (
                objects(expected_text.as_deref().unwrap_or_default()),
                objects(&outcome.stdout),
            ) {
                (Ok(expected), Ok(actual)) if expected == actual => None,
                (Ok(expected), Ok(actual)) => Some(difference(&expected, &actual)),
                (Err(e), _) | (_, Err(e)) => Some(e),
            }
        };
        if let Some(why) = failure {
            failures.push((name.to_string(), why));
        }
    }
    eprintln!(
        "kustomize-krusty ({label}): {}/{scored} cases match",
        scored - failures.len()
    );
    check_against_known(label, &failures, known);
    Some(scored)
}

#[test]
fn kustomize_krusty_cases_render_as_kustomize_builds_them() {
    let scored = score_cases(
        "default-scored",
        &|tags| !tags.iter().any(|t| EXCLUDED_TAGS.contains(t)),
        KNOWN_KRUSTY_FAILURES,
    );
    assert!(
        scored.is_none_or(|n| n >= 50),
        "only {scored:?} cases scored"
    );
}

/// The data features the default score leaves out but that execute nothing: vars,
/// generators, components and replacements (kubectl must agree with the case).
#[test]
fn kustomize_krusty_data_feature_cases_render_as_kustomize_builds_them() {
    const FEATURES: [&str; 4] = ["vars", "generators", "components", "replacements"];
    let scored = score_cases(
        "vars, generators, components, replacements",
        &|tags| {
            tags.iter().any(|t| FEATURES.contains(t))
                && !tags
                    .iter()
                    .any(|t| ["helm", "plugins", "kubectl-disagrees"].contains(t))
        },
        KNOWN_FEATURE_FAILURES,
    );
    assert!(
        scored.is_none_or(|n| n >= 40),
        "only {scored:?} cases scored"
    );
}

fn is_component(dir: &Path) -> Option<bool> {
    let file = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())?;
    let text = fs::read_to_string(file).ok()?;
    let stream = parse_stream(&text);
    let root = &stream.documents.first()?.root;
    Some(root.get("kind").and_then(|k| k.scalar_text()) == Some("Component"))
}

fn kustomization_dirs(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    if is_component(dir) == Some(false) {
        out.push(dir.to_path_buf());
    }
    for entry in entries {
        if entry.is_dir() && !entry.ends_with(".git") {
            kustomization_dirs(&entry, out);
        }
    }
}

#[test]
fn real_repositories_render_as_kubectl_kustomize_builds_them() {
    let corpus = shared().join("corpus/real");
    if !corpus.is_dir() {
        eprintln!(
            "SKIPPED: {} is absent; the real-repository comparison did not run",
            corpus.display()
        );
        return;
    }
    if !Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!(
            "SKIPPED: kubectl is not installed; the real repositories were not compared with `kubectl kustomize`"
        );
        return;
    }
    let temp = tempfile::tempdir().unwrap();
    let mut repositories: Vec<PathBuf> = fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    repositories.sort();
    let mut compared = 0;
    let mut failures: Vec<(String, String)> = Vec::new();
    for repository in repositories {
        let copy = temp.path().join(repository.file_name().unwrap());
        copy_tree(&repository, &copy);
        init_repository(&copy);
        let mut roots = Vec::new();
        kustomization_dirs(&copy, &mut roots);
        for root in roots {
            compared += 1;
            let name = root
                .strip_prefix(temp.path())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let reference = run(Command::new("kubectl").arg("kustomize").arg(&root));
            let outcome = render(&root);
            let failure = if !reference.success {
                let located = outcome.stderr.lines().any(|line| {
                    line.contains("error[kustomize-error]")
                        && line
                            .split(':')
                            .nth(1)
                            .is_some_and(|l| l.parse::<u32>().is_ok())
                });
                (outcome.success || !located).then(|| {
                    format!(
                        "kubectl refuses ({}); render {}",
                        reference.stderr.trim().lines().last().unwrap_or_default(),
                        if outcome.success {
                            "exited 0"
                        } else {
                            "gave no located kustomize-error"
                        }
                    )
                })
            } else if !outcome.success {
                Some(format!(
                    "kubectl builds it; render failed: {}",
                    outcome.stderr.lines().last().unwrap_or_default()
                ))
            } else {
                match (objects(&reference.stdout), objects(&outcome.stdout)) {
                    (Ok(expected), Ok(actual)) if expected == actual => None,
                    (Ok(expected), Ok(actual)) => Some(difference(&expected, &actual)),
                    (Err(e), _) | (_, Err(e)) => Some(e),
                }
            };
            if let Some(why) = failure {
                failures.push((name, why));
            }
        }
    }
    eprintln!(
        "corpus/real: {}/{compared} kustomization roots agree with kubectl kustomize",
        compared - failures.len()
    );
    assert!(compared >= 20, "only {compared} roots compared");
    check_against_known("corpus/real", &failures, KNOWN_REAL_FAILURES);
}
