//! Defects found on real repositories (issue 13): Helm template detection, Flux
//! `Kustomization` paths, generated kustomizations, unreferenced Components, Flux
//! patches and post-build substitution. Each case builds a minimal tree in a temp dir.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::{Value, json};
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
                analysis.sources.start(d.location).line,
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

fn json_at(analysis: &Analysis, kind: &str, namespace: &str, name: &str, pointer: &str) -> Value {
    find(analysis, kind, namespace, name)
        .node
        .to_json()
        .pointer(pointer)
        .cloned()
        .unwrap_or(Value::Null)
}

fn flux(name: &str, path: &str, extra: &str) -> String {
    format!(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: {name}\n  namespace: flux-system\nspec:\n  interval: 10m\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  path: {path}\n{extra}"
    )
}

fn config_map(name: &str, data: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n{data}")
}

// ---- Defect 11: Flux paths are relative to the repository root -----------------

#[test]
fn flux_paths_are_joined_to_the_root_like_flux_does() {
    for path in ["/apps", "./apps", "apps", "../../apps"] {
        let flux_file = flux("apps", path, "  targetNamespace: team\n");
        let (_dir, analysis) = repo(&[
            ("clusters/prod/apps.yaml", &flux_file),
            ("apps/cm.yaml", &config_map("settings", "  a: b\n")),
        ]);
        assert!(
            findings(&analysis, "kustomize-error").is_empty(),
            "{path}: {:?}",
            findings(&analysis, "kustomize-error")
        );
        find(&analysis, "ConfigMap", "team", "settings");
    }
}

// ---- Defect 6: Flux's generated kustomization includes subdirectories as units ----

#[test]
fn a_generated_kustomization_builds_subdirectories_with_a_kustomization_as_units() {
    let (_dir, analysis) = repo(&[
        ("clusters/prod/apps.yaml", &flux("apps", "./apps", "")),
        ("apps/plain.yaml", &config_map("plain", "  a: b\n")),
        (
            "apps/nested/more/deep.yaml",
            &config_map("deep", "  a: b\n"),
        ),
        (
            "apps/web/kustomization.yaml",
            "resources:\n  - cm.yaml\nnamespace: web\npatches:\n  - path: patch.yaml\n",
        ),
        ("apps/web/cm.yaml", &config_map("web", "  a: b\n")),
        (
            "apps/web/patch.yaml",
            &config_map("web", "  patched: \"yes\"\n"),
        ),
        (
            "apps/web/unlisted/extra.yaml",
            &config_map("unlisted", "  a: b\n"),
        ),
    ]);
    assert_eq!(
        objects(&analysis)
            .into_iter()
            .filter(|o| o.starts_with("ConfigMap"))
            .collect::<Vec<_>>(),
        [
            "ConfigMap default/deep",
            "ConfigMap default/plain",
            "ConfigMap web/unlisted",
            "ConfigMap web/web"
        ],
        "the patch file is not an object"
    );
    // A file the nested kustomization does not list is not deployed by the Flux root
    // (it is still analysed on its own, as every plain file is).
    assert!(
        find(&analysis, "ConfigMap", "web", "unlisted")
            .contexts
            .is_empty()
    );
    assert_eq!(
        find(&analysis, "ConfigMap", "default", "deep")
            .contexts
            .len(),
        1
    );
    assert_eq!(
        json_at(&analysis, "ConfigMap", "web", "web", "/data/patched"),
        json!("yes")
    );
}

// ---- Defect 7: a Component nothing includes is not a root --------------------

#[test]
fn an_unreferenced_component_is_not_built_and_its_files_are_not_objects() {
    let (dir, analysis) = repo(&[
        ("base/kustomization.yaml", "resources:\n  - cm.yaml\n"),
        ("base/cm.yaml", &config_map("app", "  a: b\n")),
        (
            "components/extra/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - np.yaml\npatches:\n  - patch: |-\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata:\n        name: not-here\n      spec:\n        replicas: 2\n",
        ),
        (
            "components/extra/np.yaml",
            &config_map("from-component", "  a: b\n"),
        ),
    ]);
    assert!(
        findings(&analysis, "kustomize-error").is_empty(),
        "{:?}",
        findings(&analysis, "kustomize-error")
    );
    assert_eq!(objects(&analysis), ["ConfigMap default/app"]);
    let _ = dir;
}

/// Whether `kubectl kustomize DIR` refuses to build; None (with a visible message) when
/// kubectl is not installed.
fn kubectl_refuses(dir: &Path) -> Option<bool> {
    match std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(dir)
        .output()
    {
        Ok(output) => Some(!output.status.success()),
        Err(_) => {
            eprintln!("SKIPPED: kubectl is not installed; no comparison with kubectl kustomize");
            None
        }
    }
}

// ---- Defect 10: Flux patches and post-build substitution ----------------------

#[test]
fn flux_patches_apply_after_the_build_with_the_target_namespace() {
    let extra = "  targetNamespace: team\n  patches:\n    - patch: |\n        - op: replace\n          path: /data/mode\n          value: patched\n      target:\n        kind: ConfigMap\n        name: sett.*\n    - patch: |\n        apiVersion: v1\n        kind: ConfigMap\n        metadata:\n          name: other\n        data:\n          added: \"true\"\n";
    let (_dir, analysis) = repo(&[
        ("clusters/prod/apps.yaml", &flux("apps", "./apps", extra)),
        ("apps/kustomization.yaml", "resources:\n  - cm.yaml\n"),
        (
            "apps/cm.yaml",
            &format!(
                "{}---\n{}",
                config_map("settings", "  mode: plain\n"),
                config_map("other", "  mode: plain\n")
            ),
        ),
    ]);
    assert!(
        findings(&analysis, "kustomize-error").is_empty(),
        "{:?}",
        findings(&analysis, "kustomize-error")
    );
    assert_eq!(
        json_at(&analysis, "ConfigMap", "team", "settings", "/data/mode"),
        json!("patched")
    );
    assert_eq!(
        json_at(&analysis, "ConfigMap", "team", "other", "/data/mode"),
        json!("plain")
    );
    assert_eq!(
        json_at(&analysis, "ConfigMap", "team", "other", "/data/added"),
        json!("true")
    );
}

#[test]
fn post_build_substitution_follows_flux() {
    let extra = "  postBuild:\n    substitute:\n      cluster: prod\n      replicas: \"3\"\n    substituteFrom:\n      - kind: ConfigMap\n        name: cluster-vars\n      - kind: Secret\n        name: cluster-secret\n";
    let data = "  a: ${cluster}\n  b: ${missing}\n  c: ${missing:=fallback}\n  d: $${cluster}\n  e: $cluster\n  f: ${region}-${token}\n  g: ${cluster:-x}-${replicas}\n";
    let (_dir, analysis) = repo(&[
        ("clusters/prod/apps.yaml", &flux("apps", "./apps", extra)),
        (
            "clusters/prod/vars.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cluster-vars\n  namespace: flux-system\ndata:\n  region: north\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: cluster-secret\n  namespace: flux-system\ndata:\n  token: c2VjcmV0\n",
        ),
        (
            "apps/kustomization.yaml",
            "resources:\n  - cm.yaml\n  - disabled.yaml\n",
        ),
        ("apps/cm.yaml", &config_map("settings", data)),
        (
            "apps/disabled.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: script\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  run: echo ${HOME}\n",
        ),
    ]);
    let at = |key: &str| {
        json_at(
            &analysis,
            "ConfigMap",
            "default",
            "settings",
            &format!("/data/{key}"),
        )
    };
    assert_eq!(at("a"), json!("prod"));
    // Undefined without default: empty, as Flux does without strict mode; Flux re-reads
    // the YAML, so an unquoted empty value is null.
    assert_eq!(at("b"), Value::Null);
    assert_eq!(at("c"), json!("fallback"));
    assert_eq!(at("d"), json!("${cluster}"));
    assert_eq!(at("e"), json!("$cluster"));
    assert_eq!(at("f"), json!("north-secret"));
    assert_eq!(at("g"), json!("prod-3"));
    assert_eq!(
        json_at(&analysis, "ConfigMap", "default", "script", "/data/run"),
        json!("echo ${HOME}")
    );
    assert!(findings(&analysis, "kustomize-not-applied").is_empty());
}

#[test]
fn variables_from_outside_the_repository_are_noted_and_left_as_written() {
    let extra = "  postBuild:\n    substitute:\n      cluster: prod\n    substituteFrom:\n      - kind: ConfigMap\n        name: in-cluster-only\n";
    let (_dir, analysis) = repo(&[
        ("clusters/prod/apps.yaml", &flux("apps", "./apps", extra)),
        ("apps/kustomization.yaml", "resources:\n  - cm.yaml\n"),
        (
            "apps/cm.yaml",
            &config_map("settings", "  a: ${cluster}/${unknown}\n"),
        ),
    ]);
    assert_eq!(
        json_at(&analysis, "ConfigMap", "default", "settings", "/data/a"),
        json!("prod/${unknown}")
    );
    let notes = findings(&analysis, "kustomize-not-applied");
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert!(notes[0].contains("in-cluster-only"), "{notes:?}");
}

#[test]
fn one_path_deployed_with_different_settings_renders_once_per_setting() {
    let (_dir, analysis) = repo(&[
        (
            "clusters/prod/apps.yaml",
            &flux(
                "apps",
                "./apps",
                "  postBuild:\n    substitute:\n      env: prod\n",
            ),
        ),
        (
            "clusters/staging/apps.yaml",
            &flux(
                "apps",
                "./apps",
                "  postBuild:\n    substitute:\n      env: staging\n",
            ),
        ),
        ("apps/kustomization.yaml", "resources:\n  - cm.yaml\n"),
        ("apps/cm.yaml", &config_map("settings", "  env: ${env}\n")),
    ]);
    let mut values: Vec<Value> = analysis
        .model
        .objects
        .iter()
        .filter(|o| o.name == "settings")
        .map(|o| {
            o.node
                .to_json()
                .pointer("/data/env")
                .cloned()
                .unwrap_or(Value::Null)
        })
        .collect();
    values.sort_by_key(|v| v.to_string());
    assert_eq!(values, [json!("prod"), json!("staging")]);
}

#[test]
fn kustomizations_of_other_sources_are_noted_not_read_here() {
    let oci = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: vendor\n  namespace: flux-system\nspec:\n  sourceRef:\n    kind: OCIRepository\n    name: vendor\n  path: ./\n";
    let (_dir, analysis) = repo(&[
        ("clusters/prod/vendor.yaml", oci),
        ("apps/a/kustomization.yaml", "resources:\n  - cm.yaml\n"),
        ("apps/a/cm.yaml", &config_map("a", "  a: b\n")),
    ]);
    let notes = findings(&analysis, "kustomize-not-applied");
    assert!(
        notes.iter().any(|n| n.contains("OCIRepository `vendor`")),
        "{notes:?}"
    );
    assert!(findings(&analysis, "kustomize-error").is_empty());
}

#[test]
fn external_artifacts_of_an_artifact_generator_map_to_repository_directories() {
    let generator = "apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  sources:\n    - alias: repo\n      kind: GitRepository\n      name: flux-system\n  artifacts:\n    - name: apps\n      copy:\n        - from: \"@repo/apps/base/**\"\n          to: \"@artifact/base/\"\n        - from: \"@repo/apps/prod/**\"\n          to: \"@artifact/prod/\"\n";
    let kustomization = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  sourceRef:\n    kind: ExternalArtifact\n    name: apps\n  path: ./prod\n  targetNamespace: shop\n";
    let (_dir, analysis) = repo(&[
        ("clusters/prod/artifacts.yaml", generator),
        ("clusters/prod/apps.yaml", kustomization),
        ("apps/base/kustomization.yaml", "resources:\n  - cm.yaml\n"),
        ("apps/base/cm.yaml", &config_map("a", "  a: b\n")),
        ("apps/prod/kustomization.yaml", "resources:\n  - ../base\n"),
    ]);
    find(&analysis, "ConfigMap", "shop", "a");
}

#[test]
fn components_checked_on_their_own_are_built_as_kubectl_builds_them() {
    let (dir, analysis) = repo(&[
        (
            "components/extra/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - cm.yaml\nnamespace: extra\n",
        ),
        (
            "components/extra/cm.yaml",
            &config_map("from-component", "  a: b\n"),
        ),
    ]);
    assert!(findings(&analysis, "kustomize-error").is_empty());
    assert_eq!(objects(&analysis), ["ConfigMap extra/from-component"]);
    // kubectl builds a Component named directly, too.
    if let Some(refused) = kubectl_refuses(&dir.path().join("components/extra")) {
        assert!(!refused);
    }
}
