//! Defects found on real repositories (issue 13): Helm template detection, Flux
//! `Kustomization` paths, generated kustomizations, unreferenced Components, Flux
//! patches and post-build substitution. Each case builds a minimal tree in a temp dir.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use xks_lint::Analysis;
use xks_lint::model::Object;

mod common;

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

/// A repository (with `.git`) holding `files`, analysed as `xks-lint check ROOT`.
fn repo(files: &[(&str, &str)]) -> (tempfile::TempDir, Analysis) {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    write(dir.path(), files);
    let analysis = common::analyze_paths(&[dir.path()]);
    (dir, analysis)
}

fn objects(analysis: &Analysis) -> Vec<String> {
    let mut names: Vec<String> = analysis
        .model
        .objects
        .iter()
        .map(|o| format!("{} {}/{}", o.kind, o.namespace, o.name))
        .collect();
    names.sort();
    names.dedup();
    names
}

fn find<'a>(analysis: &'a Analysis, kind: &str, namespace: &str, name: &str) -> &'a Object {
    analysis
        .model
        .objects
        .iter()
        .find(|o| o.kind == kind && o.namespace == namespace && o.name == name)
        .unwrap_or_else(|| panic!("no {kind} {namespace}/{name} in {:?}", objects(analysis)))
}

fn findings(analysis: &Analysis, rule: &str) -> Vec<String> {
    analysis
        .diagnostics
        .iter()
        .filter(|d| d.rule == rule)
        .map(|d| {
            format!(
                "{}:{}: {}",
                analysis.sources.display(d.location.file),
                d.location.span.start.line,
                d.message
            )
        })
        .collect()
}

// ---- Defect 5: `{{` in data is not a Helm template -------------------------------

const STREAM_WITH_BRACES: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: alert-templates
data:
  slack.tmpl: |
    {{ define \"title\" }}{{ .Status }}{{ end }}
---
apiVersion: apps/v1
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

#[test]
fn braces_inside_strings_do_not_skip_the_file() {
    let (_dir, analysis) = repo(&[("app.yaml", STREAM_WITH_BRACES)]);
    find(&analysis, "ConfigMap", "default", "alert-templates");
    find(&analysis, "Deployment", "default", "api");
    assert!(findings(&analysis, "helm-template").is_empty());
    assert!(!findings(&analysis, "linkerd-annotation-on-workload").is_empty());
}

#[test]
fn a_kustomize_build_piped_to_stdin_is_analysed() {
    Command::cargo_bin("xks-lint")
        .unwrap()
        .args(["check", "-", "--format", "json"])
        .write_stdin(STREAM_WITH_BRACES)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("linkerd-annotation-on-workload"))
        .stdout(predicate::str::contains("helm-template").not());
}

#[test]
fn only_templated_documents_of_a_stream_are_skipped() {
    let (_dir, analysis) = repo(&[(
        "stream.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: before\n---\n\
         apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}\n---\n\
         {{- if .Values.on }}\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: sa\n{{- end }}\n---\n\
         apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after\n",
    )]);
    assert_eq!(
        objects(&analysis),
        ["ConfigMap default/after", "ConfigMap default/before"]
    );
    assert_eq!(
        findings(&analysis, "helm-template")
            .iter()
            .map(|f| f
                .split(": ")
                .next()
                .unwrap_or_default()
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .to_string())
            .collect::<Vec<_>>(),
        ["9", "11"]
    );
    assert!(findings(&analysis, "parse-error").is_empty());
}

#[test]
fn chart_templates_are_skipped_whatever_they_hold() {
    let (_dir, analysis) = repo(&[
        (
            "chart/Chart.yaml",
            "apiVersion: v2\nname: demo\nversion: 0.1.0\n",
        ),
        (
            "chart/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: plain-looking\n",
        ),
        (
            "notachart/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: not-in-a-chart\n",
        ),
    ]);
    assert_eq!(objects(&analysis), ["ConfigMap default/not-in-a-chart"]);
    assert_eq!(findings(&analysis, "helm-template").len(), 1);
}
