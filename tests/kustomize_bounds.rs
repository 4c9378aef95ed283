//! Hostile kustomization trees (issue 14.4): every build stays bounded, each limit is a
//! located `kustomize-error`, and everything else is still analysed. Inputs are
//! generated in temp dirs; no timing asserts.

use std::fs;
use std::path::Path;

use xks_lint::Analysis;

mod common;

fn write(root: &Path, path: &str, text: &str) {
    let path = root.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn new_repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    // A bystander: always analysed, whatever happens to the hostile roots.
    write(
        dir.path(),
        "plain/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bystander\n",
    );
    dir
}

fn errors(analysis: &Analysis) -> Vec<String> {
    analysis
        .diagnostics
        .iter()
        .filter(|d| d.rule == "kustomize-error")
        .map(|d| {
            format!(
                "{}:{}: {}",
                analysis.sources.display(d.location.file),
                analysis.sources.start(d.location).line,
                d.message
            )
        })
        .collect()
}

fn assert_bystander(analysis: &Analysis) {
    assert!(
        analysis.model.objects.iter().any(|o| o.name == "bystander"),
        "the plain file is still analysed"
    );
}

const CM: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaf\n";

#[test]
fn a_5000_deep_chain_stops_at_the_depth_limit() {
    let dir = new_repo();
    for level in 0..5000 {
        let text = if level == 4999 {
            "resources:\n  - cm.yaml\n".to_string()
        } else {
            format!("resources:\n  - ../k{}\n", level + 1)
        };
        write(
            dir.path(),
            &format!("chain/k{level}/kustomization.yaml"),
            &text,
        );
    }
    write(dir.path(), "chain/k4999/cm.yaml", CM);
    let analysis = common::analyze_paths(&[dir.path()]);
    let errors = errors(&analysis);
    assert!(
        errors.iter().any(|e| e.contains("nested more than 64")),
        "{errors:?}"
    );
    assert!(
        errors.iter().all(|e| e.contains("kustomization.yaml:")),
        "located: {errors:?}"
    );
    assert_bystander(&analysis);
}

#[test]
fn a_diamond_fan_out_stops_at_the_budget() {
    // k0 includes k1 twice (through two names, as kustomize would otherwise refuse the
    // same entry twice), k1 includes k2 twice, ... : 2^25 objects unbounded.
    let dir = new_repo();
    let levels = 25;
    for level in 0..levels {
        let text = if level == levels - 1 {
            "resources:\n  - cm.yaml\n".to_string()
        } else {
            format!(
                "namePrefix: p{level}-\nresources:\n  - ../k{next}\n  - ../k{next}/\n",
                next = level + 1
            )
        };
        write(dir.path(), &format!("d/k{level}/kustomization.yaml"), &text);
    }
    write(dir.path(), &format!("d/k{}/cm.yaml", levels - 1), CM);
    let analysis = common::analyze_paths(&[dir.path()]);
    let errors = errors(&analysis);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("kustomize build stopped") || e.contains("a second time")),
        "{errors:?}"
    );
    assert!(analysis.model.objects.len() <= 200_000);
    assert_bystander(&analysis);
}

#[test]
fn a_diamond_of_distinct_objects_stops_at_the_object_budget() {
    // Each level renames what it includes (prefixes) so kustomize's duplicate check does
    // not stop it: the budget must.
    let dir = new_repo();
    let levels = 22;
    for level in 0..levels {
        let text = if level == levels - 1 {
            "resources:\n  - cm.yaml\n".to_string()
        } else {
            "resources:\n  - a\n  - b\n".to_string()
        };
        write(dir.path(), &format!("d/k{level}/kustomization.yaml"), &text);
        if level < levels - 1 {
            for side in ["a", "b"] {
                write(
                    dir.path(),
                    &format!("d/k{level}/{side}/kustomization.yaml"),
                    &format!(
                        "namePrefix: {side}-\nresources:\n  - ../../k{}\n",
                        level + 1
                    ),
                );
            }
        }
    }
    write(dir.path(), &format!("d/k{}/cm.yaml", levels - 1), CM);
    let analysis = common::analyze_paths(&[dir.path()]);
    let errors = errors(&analysis);
    assert!(
        errors.iter().any(|e| e.contains("kustomize build stopped")),
        "{errors:?}"
    );
    assert!(analysis.model.objects.len() <= 200_000);
    assert_bystander(&analysis);
}

#[test]
fn json_6902_copy_doubling_is_refused() {
    let dir = new_repo();
    let mut ops = String::new();
    for _ in 0..40 {
        ops.push_str("      - op: copy\n        from: /data\n        path: /data/again\n");
    }
    write(
        dir.path(),
        "copy/kustomization.yaml",
        &format!(
            "resources:\n  - cm.yaml\npatches:\n  - target:\n      kind: ConfigMap\n    patch: |\n{ops}"
        ),
    );
    write(
        dir.path(),
        "copy/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaf\ndata:\n  a: b\n",
    );
    let analysis = common::analyze_paths(&[dir.path()]);
    let errors = errors(&analysis);
    assert!(
        errors.iter().any(|e| e.contains("`copy` would grow")),
        "{errors:?}"
    );
    assert_bystander(&analysis);
}

#[test]
fn duplicate_resources_are_refused_like_kustomize() {
    let dir = new_repo();
    write(
        dir.path(),
        "dup/kustomization.yaml",
        "resources:\n  - a.yaml\n  - a.yaml\n  - b.yaml\n  - other.yaml\n",
    );
    write(dir.path(), "dup/a.yaml", CM);
    write(
        dir.path(),
        "dup/b.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaf\n  namespace: default\n",
    );
    write(
        dir.path(),
        "dup/other.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaf\n  namespace: elsewhere\n",
    );
    let analysis = common::analyze_paths(&[dir.path()]);
    let errors = errors(&analysis);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].contains("kustomization.yaml:3"), "{errors:?}");
    assert!(errors[1].contains("kustomization.yaml:4"), "{errors:?}");
    assert!(errors.iter().all(|e| e.contains("already registered id")));
    // kubectl refuses the same build.
    match std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir.path().join("dup"))
        .output()
    {
        Ok(output) => {
            assert!(!output.status.success());
            assert!(String::from_utf8_lossy(&output.stderr).contains("already registered id"));
        }
        Err(_) => eprintln!("SKIPPED: kubectl is not installed"),
    }
    assert_bystander(&analysis);
}

#[test]
fn hostile_target_regexes_are_located_errors() {
    let dir = new_repo();
    write(
        dir.path(),
        "re/kustomization.yaml",
        "resources:\n  - cm.yaml\npatches:\n  - target:\n      name: \"(unclosed\"\n    patch: |\n      - op: add\n        path: /data/x\n        value: y\n  - target:\n      name: \"(a{1000}){1000}\"\n    patch: |\n      - op: add\n        path: /data/x\n        value: y\n",
    );
    write(dir.path(), "re/cm.yaml", CM);
    let analysis = common::analyze_paths(&[dir.path()]);
    let errors = errors(&analysis);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains(":4:") && errors[0].contains("not a valid regular expression"),
        "{errors:?}"
    );
    assert!(
        errors[1].contains(":10:") && errors[1].contains("compiles to more than"),
        "{errors:?}"
    );
    assert!(analysis.model.objects.iter().any(|o| o.name == "leaf"));
    assert_bystander(&analysis);
}

#[test]
fn json_6902_nesting_beyond_the_depth_limit_is_refused() {
    // Each operation nests one level deeper at constant growth.
    let dir = new_repo();
    let mut ops = String::new();
    let mut from = "/data/a".to_string();
    for _ in 0..300 {
        let to = format!("{from}/n");
        ops.push_str(&format!(
            "      - op: add\n        path: {to}\n        value: {{k: v}}\n"
        ));
        from = to;
    }
    write(
        dir.path(),
        "deep/kustomization.yaml",
        &format!(
            "resources:\n  - cm.yaml\npatches:\n  - target:\n      kind: ConfigMap\n    patch: |\n{ops}"
        ),
    );
    write(
        dir.path(),
        "deep/cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: leaf\ndata:\n  a:\n    k:\n      k: v\n",
    );
    let analysis = common::analyze_paths(&[dir.path()]);
    let errors = errors(&analysis);
    assert!(
        errors.iter().any(|e| e.contains("deeper than 256 levels")),
        "{errors:?}"
    );
    assert_bystander(&analysis);
}

/// Thousands of broken resources, each with many syntax errors: every entry naming one is
/// reported (kubectl refuses such a build), the valid entries are still rendered, and the
/// question "is this resource broken" is a set lookup (it was a scan of every issue of the
/// run per entry: entries × issues).
#[test]
fn many_broken_resources_are_each_reported_once() {
    let dir = new_repo();
    let broken: String = "a: [\n---\n".repeat(20);
    let mut kustomization = String::from("resources:\n");
    for i in 0..300 {
        write(dir.path(), &format!("app/broken-{i}.yaml"), &broken);
        kustomization.push_str(&format!("  - broken-{i}.yaml\n"));
    }
    write(dir.path(), "app/cm.yaml", CM);
    kustomization.push_str("  - cm.yaml\n");
    write(dir.path(), "app/kustomization.yaml", &kustomization);
    let analysis = common::analyze_paths(&[dir.path()]);
    let refused: Vec<String> = errors(&analysis)
        .into_iter()
        .filter(|e| e.contains("is not valid YAML"))
        .collect();
    assert_eq!(refused.len(), 300, "{refused:?}");
    assert!(
        refused
            .iter()
            .all(|e| e.contains("app/kustomization.yaml:")),
        "{:?}",
        refused.first()
    );
    assert!(!refused.iter().any(|e| e.contains("`cm.yaml`")));
    assert!(analysis.model.objects.iter().any(|o| o.name == "leaf"));
    assert_bystander(&analysis);
}
