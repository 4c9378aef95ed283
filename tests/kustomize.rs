//! Native kustomize builds: overlays, patches, labels, prefixes, and what is
//! refused or not applied. Where `kubectl` is installed, every buildable root is
//! compared with `kubectl kustomize`.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};
use xks_lint::model::Object;
use xks_lint::model::environments::{EnvironmentConfig, Grouping};
use xks_lint::{Analysis, analyze};

mod common;

const TREE: &str = "fixtures/kustomize";

fn analysis() -> Analysis {
    common::analyze_paths(&[Path::new(TREE)])
}

fn find<'a>(analysis: &'a Analysis, kind: &str, namespace: &str, name: &str) -> &'a Object {
    analysis
        .model
        .objects
        .iter()
        .find(|o| o.kind == kind && o.namespace == namespace && o.name == name)
        .unwrap_or_else(|| panic!("no {kind} {namespace}/{name}"))
}

fn json_of(object: &Object) -> Value {
    object.node.to_json()
}

#[test]
fn overlays_deploy_the_base_into_each_tenant_namespace() {
    let analysis = analysis();
    let a = find(&analysis, "Deployment", "tenant-a", "a-api");
    let b = find(&analysis, "Deployment", "tenant-b", "api");
    assert_eq!(
        analysis.sources.display(a.file),
        "fixtures/kustomize/base/deployment.yaml"
    );
    assert_eq!(
        a.contexts.as_slice(),
        ["fixtures/kustomize/overlays/tenant-a".into()]
    );
    assert_eq!(
        b.contexts.as_slice(),
        ["fixtures/kustomize/overlays/tenant-b".into()]
    );
    // `labels`: metadata only; with includeTemplates also pod templates, never selectors.
    let labels = |o: &Object, pointer: &str| json_of(o).pointer(pointer).cloned();
    assert_eq!(
        labels(a, "/metadata/labels"),
        Some(json!({"app": "api", "team": "alpha"}))
    );
    assert_eq!(
        labels(a, "/spec/template/metadata/labels"),
        Some(json!({"app": "api"}))
    );
    assert_eq!(
        labels(a, "/spec/selector/matchLabels"),
        Some(json!({"app": "api"}))
    );
    assert_eq!(
        labels(b, "/spec/selector/matchLabels"),
        Some(json!({"app": "api"}))
    );
    assert_eq!(
        labels(b, "/spec/template/metadata/labels"),
        Some(json!({"app": "api", "env": "staging"}))
    );
    assert_eq!(
        labels(b, "/spec/template/metadata/annotations"),
        Some(json!({"owner": "team-b"}))
    );
    // The base is never analysed a second time as plain files.
    let plain_from_base = analysis
        .model
        .objects
        .iter()
        .filter(|o| {
            analysis
                .sources
                .display(o.file)
                .starts_with("fixtures/kustomize/base/")
                && o.contexts.is_empty()
        })
        .count();
    assert_eq!(plain_from_base, 0);
}

#[test]
fn common_labels_rewrite_network_policy_selectors() {
    let analysis = analysis();
    let policy = find(
        &analysis,
        "NetworkPolicy",
        "tenant-c",
        "allow-ingress-controller",
    );
    let spec = &json_of(policy)["spec"];
    assert_eq!(
        spec["podSelector"]["matchLabels"],
        json!({"app": "web", "team": "c"})
    );
    // The pods come from another root without the label: the policy now selects nothing.
    let finding = analysis
        .diagnostics
        .iter()
        .find(|d| d.rule == "policy-selects-nothing")
        .expect("policy-selects-nothing in tenant-c");
    assert_eq!(
        analysis.sources.display(finding.location.file),
        "fixtures/kustomize/overlays/tenant-c/policy.yaml"
    );
    assert_eq!(
        finding.contexts,
        vec!["fixtures/kustomize/overlays/tenant-c"]
    );
}

#[test]
fn a_cross_namespace_pair_complete_for_one_overlay_is_reported_for_the_other() {
    let analysis = analysis();
    let pairs: Vec<_> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.rule == "missing-ingress-pair" || d.rule == "missing-egress-pair")
        .collect();
    assert_eq!(pairs.len(), 1, "{pairs:#?}");
    let missing = pairs[0];
    assert_eq!(missing.rule, "missing-ingress-pair");
    assert_eq!(
        analysis.sources.display(missing.location.file),
        "fixtures/kustomize/base/networkpolicy.yaml"
    );
    assert_eq!(analysis.sources.start(missing.location).line, 14);
    assert_eq!(
        missing.contexts,
        vec!["fixtures/kustomize/overlays/tenant-b"]
    );
    assert!(
        missing.message.contains("tenant-b/api[Deployment]"),
        "{}",
        missing.message
    );
}

#[test]
fn name_prefix_follows_references_inside_the_build_only() {
    let analysis = analysis();
    let ingress = find(&analysis, "Ingress", "tenant-a", "a-api");
    let spec = &json_of(ingress)["spec"];
    assert_eq!(
        spec["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"],
        "a-api"
    );
    let deployment = find(&analysis, "Deployment", "tenant-a", "a-api");
    // The ConfigMap is not part of the build, so its reference keeps the written name.
    assert_eq!(
        json_of(deployment)["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]["configMapRef"]
            ["name"],
        "api-settings"
    );
}

#[test]
fn patches_apply_and_findings_point_into_the_patch() {
    let analysis = analysis();
    let deployment = find(&analysis, "Deployment", "tenant-a", "a-api");
    assert_eq!(json_of(deployment)["spec"]["replicas"], 3);
    let ingress = find(&analysis, "Ingress", "tenant-a", "a-api");
    assert_eq!(
        json_of(ingress)["spec"]["rules"][0]["host"],
        "api.tenant-a.example.com"
    );
    let linkerd = analysis
        .diagnostics
        .iter()
        .find(|d| d.rule == "linkerd-annotation-on-workload")
        .expect("the patch puts linkerd.io/inject on the Deployment");
    assert_eq!(
        analysis.sources.display(linkerd.location.file),
        "fixtures/kustomize/overlays/tenant-a/replicas.yaml"
    );
    assert_eq!(analysis.sources.start(linkerd.location).line, 6);
    assert_eq!(
        linkerd.contexts,
        vec!["fixtures/kustomize/overlays/tenant-a"]
    );
}

#[test]
fn unbuildable_parts_are_reported_and_nothing_is_fetched() {
    let analysis = analysis();
    let messages = |rule: &str| -> Vec<String> {
        analysis
            .diagnostics
            .iter()
            .filter(|d| d.rule == rule)
            .map(|d| d.message.clone())
            .collect()
    };
    let errors = messages("kustomize-error");
    assert!(
        errors.iter().any(|m| m.starts_with("resource cycle")),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|m| m.contains("outside the repository")),
        "{errors:?}"
    );
    let notes = messages("kustomize-not-applied");
    assert!(
        notes.iter().any(|m| m.contains("remote resource")),
        "{notes:?}"
    );
    assert!(notes.iter().any(|m| m.contains("helmCharts")), "{notes:?}");
    // What the roots could build is still analysed.
    find(&analysis, "Job", "tools", "migrate");
    find(&analysis, "ConfigMap", "default", "escape");
    assert!(
        !analysis
            .sources
            .files
            .iter()
            .any(|f| f.path.ends_with("passwd"))
    );
}

#[test]
fn no_kustomize_treats_every_file_on_its_own() {
    let mut options = common::options_for(&[Path::new(TREE)]);
    options.model.kustomize = false;
    options.walk.kustomize = false;
    let analysis = analyze(&options);
    assert!(analysis.model.objects.iter().all(|o| o.contexts.is_empty()));
    find(&analysis, "Deployment", "default", "api");
}

/// The fields rules depend on, for comparing two renderings of the same object.
fn essentials(value: &Value) -> String {
    let pick = |pointer: &str| value.pointer(pointer).cloned().unwrap_or(Value::Null);
    json!({
        "kind": pick("/kind"),
        "namespace": pick("/metadata/namespace"),
        "name": pick("/metadata/name"),
        "labels": pick("/metadata/labels"),
        "annotations": pick("/metadata/annotations"),
        "selector": pick("/spec/selector"),
        "podSelector": pick("/spec/podSelector"),
        "template": pick("/spec/template/metadata"),
        "ingress": pick("/spec/ingress"),
        "egress": pick("/spec/egress"),
        "rules": pick("/spec/rules"),
        "replicas": pick("/spec/replicas"),
    })
    .to_string()
}

#[test]
fn native_build_agrees_with_kubectl_kustomize() {
    if Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIPPED: kubectl is not installed; the comparison with `kubectl kustomize` did not run"
        );
        return;
    }
    // Roots kubectl cannot build the same way, and why: they are the refusal and note cases.
    let unsupported = [
        // A resource cycle: both tools refuse it.
        "fixtures/kustomize/cycle/a",
        "fixtures/kustomize/cycle/b",
        // A resource escaping the repository: refused by xks-lint, read by kubectl.
        "fixtures/kustomize/escape",
        // A remote resource and a Helm chart: kubectl would fetch and inflate; xks-lint never does.
        "fixtures/kustomize/remote-and-generator",
    ];
    let mut compared = 0;
    for tree in [
        TREE,
        "fixtures/kustomize-environments/config",
        "fixtures/kustomize-environments/flux",
    ] {
        let analysis = common::analyze_paths(&[Path::new(tree)]);
        let flux_deployed: Vec<&str> = analysis
            .model
            .objects
            .iter()
            .filter(|o| o.kind == "Kustomization" && o.api_version.starts_with("kustomize.toolkit"))
            .filter_map(|o| {
                o.node
                    .path(&["spec", "targetNamespace"])
                    .map(|_| o.name.as_str())
            })
            .collect();
        let roots: std::collections::BTreeSet<&str> = analysis
            .model
            .objects
            .iter()
            .flat_map(|o| o.contexts.iter().map(|c| &**c))
            .collect();
        for dir in roots {
            if unsupported.contains(&dir) {
                continue;
            }
            // Flux applies `spec.targetNamespace` over the build; kubectl does not know it.
            if !flux_deployed.is_empty() && dir.contains("/flux/") {
                continue;
            }
            let output = Command::new("kubectl")
                .args(["kustomize", dir])
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "kubectl kustomize {dir}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let text = String::from_utf8(output.stdout).unwrap();
            let stream = xks_lint::load::yaml::parse_stream(&text);
            let mut expected: Vec<String> = stream
                .documents
                .iter()
                .map(|d| essentials(&d.root.to_json()))
                .collect();
            let mut actual: Vec<String> = analysis
                .model
                .objects
                .iter()
                .filter(|o| o.contexts.iter().any(|c| **c == *dir))
                .map(|o| essentials(&o.node.to_json()))
                .collect();
            expected.sort();
            actual.sort();
            assert!(!expected.is_empty(), "{dir}: kubectl rendered no object");
            assert_eq!(
                actual, expected,
                "native build of {dir} differs from kubectl kustomize"
            );
            compared += 1;
        }
    }
    eprintln!("compared {compared} kustomization roots with kubectl kustomize");
    assert!(compared >= 10, "only {compared} roots compared");
}

#[test]
fn flux_kustomizations_set_target_namespaces_and_helm_releases_are_noted() {
    let analysis = common::analyze_paths(&[Path::new("fixtures/kustomize/flux")]);
    let web = find(&analysis, "Service", "team-prod", "web");
    assert_eq!(
        web.contexts.as_slice(),
        ["fixtures/kustomize/flux/apps/prod".into()]
    );
    // A path without a kustomization gets the one Flux generates.
    find(&analysis, "ConfigMap", "team-plain", "settings");
    find(&analysis, "Kustomization", "flux-system", "apps");
    let note = analysis
        .diagnostics
        .iter()
        .find(|d| d.rule == "helm-template")
        .expect("HelmRelease noted");
    assert!(note.message.contains("HelmRelease `redis`"));
    assert_eq!(
        analysis
            .model
            .objects
            .iter()
            .filter(|o| o.name == "settings")
            .count(),
        1
    );
}

#[test]
fn roots_rendering_one_object_differently_are_separate_environments() {
    let analysis = common::analyze_paths(&[Path::new("fixtures/kustomize/environments")]);
    let environments = analysis
        .model
        .environments(None)
        .expect("prod and staging differ");
    assert_eq!(environments.grouping, Grouping::DirectoryName);
    let names: Vec<&str> = environments
        .clusters
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(names, ["prod", "staging"]);
    for (name, ids) in &environments.clusters {
        let objects: Vec<String> = ids
            .iter()
            .map(|id| {
                let o = analysis.model.object(*id);
                format!(
                    "{}:{}",
                    o.identity(),
                    json_of(o)["metadata"]["labels"]["env"]
                )
            })
            .collect();
        assert_eq!(objects.len(), 2, "{name}: {objects:?}");
        assert!(
            objects.contains(&format!("Deployment/shop/api:\"{name}\"")),
            "{objects:?}"
        );
        assert!(
            objects.contains(&format!("ConfigMap/shop/worker-{name}:null")),
            "{objects:?}"
        );
    }
    // The tenant fixtures deploy into distinct namespaces: one cluster.
    assert!(
        common::analyze_paths(&[Path::new("fixtures/kustomize/overlays")])
            .model
            .environments(None)
            .is_none()
    );
}

const ENVIRONMENTS: &str = "fixtures/kustomize-environments";

/// (environment, sorted `identity env-label` of each object of its cluster).
fn clusters(analysis: &Analysis) -> Vec<(String, Vec<String>)> {
    let environments = analysis.environments.as_ref().expect("environments");
    environments
        .clusters
        .iter()
        .map(|(name, ids)| {
            let mut objects: Vec<String> = ids
                .iter()
                .map(|id| analysis.model.object(*id))
                .filter(|o| o.kind != "Kustomization")
                .map(|o| {
                    let env = json_of(o)["metadata"]["labels"]["env"]
                        .as_str()
                        .map(|e| format!(" env={e}"))
                        .unwrap_or_default();
                    format!("{}{env}", o.identity())
                })
                .collect();
            objects.sort();
            (name.clone(), objects)
        })
        .collect()
}

/// The one finding of `rule`, with its roots (relative to `tree`) and environments.
fn finding_in(analysis: &Analysis, rule: &str, tree: &str) -> (Vec<String>, Vec<String>) {
    let found: Vec<_> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.rule == rule)
        .collect();
    assert_eq!(found.len(), 1, "{rule}: {found:#?}");
    let roots = found[0]
        .contexts
        .iter()
        .map(|c| c.strip_prefix(&format!("{tree}/")).unwrap_or(c).to_string())
        .collect();
    (roots, found[0].environments.clone())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn configured_environments_group_roots_whatever_their_names() {
    let tree = format!("{ENVIRONMENTS}/config");
    let config = xks_lint::config::load(Path::new(&format!("{tree}/.xks-lint.yaml")))
        .expect("the fixture's config loads");
    let mut options = common::options_for(&[Path::new(&tree)]);
    options.environments = config.environment_config();
    let analysis = analyze(&options);
    let environments = analysis.environments.as_ref().expect("environments");
    assert_eq!(environments.grouping, Grouping::Config);
    assert!(environments.unmatched.is_empty());
    assert_eq!(
        clusters(&analysis),
        vec![
            (
                "production".to_string(),
                strings(&["Deployment/shop/api env=live", "Service/shop/worker-prd"])
            ),
            (
                "testing".to_string(),
                strings(&["Deployment/shop/api env=test", "Deployment/shop/worker"])
            ),
        ]
    );
    // Each finding lists the environments and roots it occurs in.
    assert_eq!(
        finding_in(&analysis, "service-selects-nothing", &tree),
        (strings(&["apps/worker/prd"]), strings(&["production"]))
    );
    assert_eq!(
        finding_in(&analysis, "linkerd-annotation-on-workload", &tree),
        (
            strings(&["overlays/live", "overlays/test"]),
            strings(&["production", "testing"])
        )
    );

    // Without the config the directory names decide: `live` and `test` each get both
    // workers, and the Service of `prd` selects the worker of `tst`.
    let unconfigured = common::analyze_paths(&[Path::new(&tree)]);
    let environments = unconfigured.environments.as_ref().expect("environments");
    assert_eq!(environments.grouping, Grouping::DirectoryName);
    let names: Vec<&str> = environments
        .clusters
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["live", "test"]);
    assert!(
        !unconfigured
            .diagnostics
            .iter()
            .any(|d| d.rule == "service-selects-nothing")
    );
}

#[test]
fn a_configuration_applies_without_conflicts_and_before_flux() {
    // The tenant overlays fit in one cluster, but the configuration splits them.
    let tree = format!("{TREE}/overlays");
    let mut options = common::options_for(&[Path::new(&tree)]);
    options.environments = Some(EnvironmentConfig {
        base: xks_lint::load::normalize(Path::new(&tree)),
        environments: vec![("a".to_string(), strings(&["tenant-a"]))],
    });
    let analysis = analyze(&options);
    let environments = analysis.environments.as_ref().expect("configured");
    assert_eq!(environments.grouping, Grouping::Config);
    let roots: Vec<&String> = environments.roots.keys().collect();
    assert_eq!(roots, [&format!("{tree}/tenant-a")]);

    let tree = format!("{ENVIRONMENTS}/flux");
    let mut options = common::options_for(&[Path::new(&tree)]);
    options.environments = Some(EnvironmentConfig {
        base: xks_lint::load::normalize(Path::new(&tree)),
        environments: vec![("everything".to_string(), strings(&["apps/*/*"]))],
    });
    let analysis = analyze(&options);
    assert_eq!(
        analysis.environments.as_ref().map(|e| e.grouping),
        Some(Grouping::Config)
    );
}

#[test]
fn flux_clusters_directories_group_the_roots_they_deploy() {
    let tree = format!("{ENVIRONMENTS}/flux");
    let analysis = common::analyze_paths(&[Path::new(&tree)]);
    let environments = analysis.environments.as_ref().expect("environments");
    assert_eq!(environments.grouping, Grouping::Flux);
    assert_eq!(
        clusters(&analysis),
        vec![
            (
                "prod".to_string(),
                strings(&["Deployment/shop/api env=live", "Service/shop/worker-blue"])
            ),
            (
                "staging".to_string(),
                strings(&["Deployment/shop/api env=preview", "Deployment/shop/worker"])
            ),
        ]
    );
    assert_eq!(
        finding_in(&analysis, "service-selects-nothing", &tree),
        (strings(&["apps/worker/blue"]), strings(&["prod"]))
    );
    assert_eq!(
        finding_in(&analysis, "linkerd-annotation-on-workload", &tree),
        (
            strings(&["apps/web/live", "apps/web/preview"]),
            strings(&["prod", "staging"])
        )
    );
}

#[test]
fn check_reads_environments_from_the_discovered_config() {
    let output = Command::new(env!("CARGO_BIN_EXE_xks-lint"))
        .args([
            "check",
            &format!("{ENVIRONMENTS}/config"),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let service = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "service-selects-nothing")
        .expect("service-selects-nothing");
    assert_eq!(service["environments"], json!(["production"]));
    assert_eq!(
        service["contexts"],
        json!([format!("{ENVIRONMENTS}/config/apps/worker/prd")])
    );
    // A config named relative to the working directory: patterns are relative to it too.
    let output = Command::new(env!("CARGO_BIN_EXE_xks-lint"))
        .current_dir(format!("{ENVIRONMENTS}/config"))
        .args([
            "check",
            ".",
            "--config",
            ".xks-lint.yaml",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let environments: Vec<&Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["environments"])
        .collect();
    assert_eq!(
        environments,
        [&json!(["production"]), &json!(["production", "testing"])]
    );
}
