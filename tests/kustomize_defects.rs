//! One minimal fixture per kustomize defect found on real repositories (issue 13,
//! section 3: defects 1, 2, 3, 4 and 8), under `fixtures/kustomize-defects/`. Each root
//! is checked for what kustomize does; where `kubectl` is installed, each is also
//! compared with `kubectl kustomize` (same objects, or both refuse).

use std::path::Path;
use std::process::Command;

use assert_cmd::cargo::CommandCargoExt;
use serde_json::Value;
use xks_lint::load::yaml::parse_stream;

const DIR: &str = "fixtures/kustomize-defects";

struct Rendered {
    code: Option<i32>,
    objects: Vec<Value>,
    stderr: String,
}

fn render(root: &str) -> Rendered {
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .arg("render")
        .arg(Path::new(DIR).join(root))
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stream = parse_stream(&stdout);
    assert!(stream.errors.is_empty(), "{root}: {:?}", stream.errors);
    Rendered {
        code: output.status.code(),
        objects: stream.documents.iter().map(|d| d.root.to_json()).collect(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn object<'a>(rendered: &'a Rendered, kind: &str, name: &str) -> &'a Value {
    rendered
        .objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {:?}", rendered.objects))
}

fn kubectl_available() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// kubectl's objects for `root` (canonical JSON, sorted), or None when it refuses.
fn kubectl(root: &str) -> Option<Vec<String>> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(Path::new(DIR).join(root))
        .output()
        .unwrap();
    if !output.status.success() {
        return None;
    }
    let stream = parse_stream(&String::from_utf8(output.stdout).unwrap());
    let mut objects: Vec<String> = stream
        .documents
        .iter()
        .map(|d| d.root.to_json().to_string())
        .collect();
    objects.sort();
    Some(objects)
}

const BUILDABLE: [&str; 16] = [
    "name-references-prefer-same-affixes",
    "name-references/base",
    "name-references/overlay",
    "set-selector-and-list-replace",
    "namespace-renames-namespace-object",
    "vars/overlay",
    "target-selects-nothing",
    "json6902-add-annotation",
    "nested-components",
    "target-keeps-identity",
    "base",
    "component-merges-parent-generator",
    "builtin-plugin-configs",
    "namespace-moves-subjects",
    "namespace-only-names",
    "namespace-only-subjects",
];
const REFUSED: [&str; 8] = [
    "name-reference-ambiguous",
    "patch-names-two-objects",
    "namespace-objects-collide",
    "vars-ambiguous",
    "smp-names-nothing",
    "json6902-missing-parent",
    "legacy-patches-strings",
    "namespace-ids-conflict",
];

#[test]
fn a_target_that_selects_nothing_is_a_no_op() {
    let rendered = render("target-selects-nothing");
    assert_eq!(rendered.code, Some(0), "{}", rendered.stderr);
    assert!(
        !rendered.stderr.contains("kustomize-error"),
        "{}",
        rendered.stderr
    );
    assert_eq!(
        object(&rendered, "Deployment", "web")["spec"]["replicas"],
        1
    );
    assert_eq!(rendered.objects.len(), 2);
}

#[test]
fn a_strategic_merge_patch_without_target_naming_nothing_is_refused_at_its_entry() {
    let rendered = render("smp-names-nothing");
    assert_eq!(rendered.code, Some(1));
    assert!(
        rendered.stderr.contains(
            "smp-names-nothing/kustomization.yaml:6:5: error[kustomize-error]: patch matches no resource (Deployment no-such-deployment)"
        ),
        "{}",
        rendered.stderr
    );
}

#[test]
fn json6902_adds_annotations_to_an_object_without_them_and_creates_no_other_parent() {
    let rendered = render("json6902-add-annotation");
    assert_eq!(rendered.code, Some(0), "{}", rendered.stderr);
    let web = object(&rendered, "Deployment", "web");
    assert_eq!(
        web["metadata"]["annotations"]["example.com/owner"],
        "team-a"
    );
    // Objects the patch did not touch get no empty annotations.
    let job = object(&rendered, "Job", "migrate");
    assert!(job["metadata"].get("annotations").is_none(), "{job}");

    let refused = render("json6902-missing-parent");
    assert_eq!(refused.code, Some(1));
    assert!(
        refused
            .stderr
            .contains("json6902-missing-parent/kustomization.yaml:6:5: error[kustomize-error]: JSON patch does not apply"),
        "{}",
        refused.stderr
    );
}

#[test]
fn a_component_of_a_component_is_applied() {
    let rendered = render("nested-components");
    assert_eq!(rendered.code, Some(0), "{}", rendered.stderr);
    let web = object(&rendered, "Deployment", "web");
    assert_eq!(web["spec"]["replicas"], 5, "the inner component's patch");
    assert_eq!(web["metadata"]["labels"]["tier"], "outer");
}

#[test]
fn a_targeted_strategic_merge_patch_keeps_the_objects_identity() {
    let rendered = render("target-keeps-identity");
    assert_eq!(rendered.code, Some(0), "{}", rendered.stderr);
    let job = object(&rendered, "Job", "migrate");
    assert_eq!(job["apiVersion"], "batch/v1");
    assert!(job["metadata"].get("namespace").is_none(), "{job}");
    assert_eq!(job["spec"]["backoffLimit"], 2);
    assert!(
        !rendered
            .objects
            .iter()
            .any(|o| o["metadata"]["name"] == "some-name"),
        "{:?}",
        rendered.objects
    );
}

#[test]
fn legacy_string_patches_are_refused_and_the_file_is_no_object() {
    let rendered = render("legacy-patches-strings");
    assert_eq!(rendered.code, Some(1));
    assert!(
        rendered.stderr.contains(
            "legacy-patches-strings/kustomization.yaml:5:5: error[kustomize-error]: `patches` entries are objects"
        ),
        "{}",
        rendered.stderr
    );
    // The patch is not applied, and `check` does not read its file as a manifest.
    assert_eq!(
        object(&rendered, "Deployment", "web")["spec"]["replicas"],
        1
    );
    let analysis = xks_lint::analyze(&xks_lint::CheckOptions {
        inputs: vec![xks_lint::load::Input::Path(
            Path::new(DIR).join("legacy-patches-strings"),
        )],
        ..xks_lint::CheckOptions::default()
    });
    let webs = analysis
        .model
        .objects
        .iter()
        .filter(|o| o.kind == "Deployment" && o.name == "web")
        .count();
    assert_eq!(webs, 1, "replicas.yaml became an object");
    assert!(
        analysis
            .diagnostics
            .iter()
            .any(|d| d.rule == "kustomize-error" && analysis.sources.start(d.location).line == 5),
        "{:?}",
        analysis.diagnostics
    );
}

#[test]
fn builtin_plugin_configurations_are_applied_and_local_config_is_not_deployed() {
    let rendered = render("builtin-plugin-configs");
    assert_eq!(rendered.code, Some(0), "{}", rendered.stderr);
    // The prefixer's field specs name Deployments only.
    let deployment = object(&rendered, "Deployment", "team-web");
    object(&rendered, "Service", "web");
    assert_eq!(deployment["metadata"]["labels"]["owner"], "team-a");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["image"],
        "nginx:1.27"
    );
    // The inline generator's ConfigMap gets its hash, and the reference follows it.
    let reference = deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"][0]
        ["configMapRef"]["name"]
        .as_str()
        .unwrap();
    assert!(reference.starts_with("env-"), "{reference}");
    object(&rendered, "ConfigMap", reference);
    assert!(
        rendered
            .objects
            .iter()
            .all(|o| o["metadata"]["name"] != "settings"),
        "local configuration is not deployed"
    );
}

#[test]
fn a_component_merges_into_its_parents_generated_config_map() {
    let rendered = render("component-merges-parent-generator");
    assert_eq!(rendered.code, Some(0), "{}", rendered.stderr);
    let config_map = rendered
        .objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap")
        .unwrap();
    assert_eq!(config_map["data"]["a"], "1");
    assert_eq!(config_map["data"]["b"], "2");
}

#[test]
fn rolebinding_subjects_follow_a_moved_service_account() {
    let rendered = render("namespace-moves-subjects");
    let binding = object(&rendered, "ClusterRoleBinding", "p-crb");
    let subjects = binding["subjects"].as_array().unwrap();
    let find = |name: &str, index: usize| {
        &subjects
            .iter()
            .filter(|s| s["name"] == name)
            .nth(index)
            .unwrap()["namespace"]
    };
    // Named like a moved ServiceAccount, without a namespace or with the old one: follows.
    assert_eq!(find("p-myapp", 0), "test");
    assert_eq!(find("p-inns", 0), "test");
    // Another namespace, or a ServiceAccount that is not in the build: untouched.
    assert_eq!(find("myapp", 0), "zzz");
    assert_eq!(find("foo", 0), "default");
}

#[test]
fn vars_are_substituted_at_the_root_with_final_names_and_types() {
    let rendered = render("vars/overlay");
    assert_eq!(rendered.code, Some(0), "{}", rendered.stderr);
    // `NamePrefix` is `namePrefix`: kustomize matches field names regardless of case.
    let service = object(&rendered, "Service", "prod-api");
    // A whole-value reference keeps the type of the value: an integer port.
    assert_eq!(service["spec"]["ports"][0]["targetPort"], 8080);
    let deployment = object(&rendered, "Deployment", "prod-api");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["env"][0]["value"], "prod-api");
    assert_eq!(
        container["args"],
        serde_json::json!(["--listen=8080", "--price=$5", "--unknown=$(NOT_A_VAR)"])
    );
    assert_eq!(
        deployment["metadata"]["annotations"]["upstream"],
        "http://prod-api:8080"
    );
    // `configurations` `varReference` adds fields: the ConfigMap's data.
    let config_map = object(&rendered, "ConfigMap", "prod-client");
    assert_eq!(config_map["data"]["url"], "http://prod-api:8080/");
}

#[test]
fn an_ambiguous_var_is_refused_at_its_declaration() {
    let rendered = render("vars-ambiguous");
    assert_eq!(rendered.code, Some(1));
    assert!(
        rendered
            .stderr
            .contains("kustomization.yaml:5:9: error[kustomize-error]: var `DB` names 2 objects"),
        "{}",
        rendered.stderr
    );
    assert_eq!(rendered.stderr.matches("kustomize-error").count(), 1);
}

#[test]
fn the_namespace_transformer_renames_namespace_objects() {
    let rendered = render("namespace-renames-namespace-object");
    assert_eq!(rendered.code, Some(0), "{}", rendered.stderr);
    object(&rendered, "Namespace", "shop-prod");
    assert_eq!(
        object(&rendered, "Service", "web")["metadata"]["namespace"],
        "shop-prod"
    );
    let collide = render("namespace-objects-collide");
    assert_eq!(collide.code, Some(1));
    assert!(
        collide
            .stderr
            .contains("kustomization.yaml:2:12: error[kustomize-error]"),
        "{}",
        collide.stderr
    );
}

#[test]
fn set_based_target_selectors_and_list_replace_directives_apply() {
    let rendered = render("set-selector-and-list-replace");
    assert_eq!(rendered.code, Some(0), "{}", rendered.stderr);
    let env = |name: &str| {
        object(&rendered, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["env"]
            .clone()
    };
    assert_eq!(
        env("web"),
        serde_json::json!([{"name": "MODE", "value": "patched"}])
    );
    assert_eq!(env("web-canary")[0]["value"], "original");
}

#[test]
fn every_defect_fixture_agrees_with_kubectl_kustomize() {
    if !kubectl_available() {
        eprintln!(
            "SKIPPED: kubectl is not installed; the defect fixtures were not compared with `kubectl kustomize`"
        );
        return;
    }
    for root in BUILDABLE {
        let rendered = render(root);
        assert_eq!(rendered.code, Some(0), "{root}: {}", rendered.stderr);
        let mut ours: Vec<String> = rendered.objects.iter().map(Value::to_string).collect();
        ours.sort();
        assert_eq!(Some(ours), kubectl(root), "{root}");
    }
    for root in REFUSED {
        assert_eq!(kubectl(root), None, "{root}: kubectl builds it");
        let rendered = render(root);
        assert_eq!(rendered.code, Some(1), "{root}");
        assert!(rendered.stderr.contains("kustomize-error"), "{root}");
    }
}

#[test]
fn references_resolve_once_at_the_root_through_every_earlier_name() {
    let rendered = render("name-references/overlay");
    assert_eq!(rendered.code, Some(0), "{}", rendered.stderr);
    let binding = object(&rendered, "RoleBinding", "o-p-rb-s");
    assert_eq!(binding["roleRef"]["name"], "o-p-role-s");
    // The ServiceAccount subject follows its account's prefixes, suffix and namespace;
    // every subject named `default` moves with the namespace transformer.
    assert_eq!(binding["subjects"][0]["name"], "o-p-sa-s");
    assert_eq!(binding["subjects"][0]["namespace"], "ns2");
    assert_eq!(binding["subjects"][1]["namespace"], "ns2");
    let webhook = object(&rendered, "ValidatingWebhookConfiguration", "o-p-vw-s");
    assert_eq!(
        webhook["webhooks"][0]["clientConfig"]["service"]["namespace"],
        "ns2"
    );
    // A reference prefers the candidate renamed in the same contexts as the referrer,
    // and a candidate without prefixes matches any.
    let affixes = render("name-references-prefer-same-affixes");
    assert_eq!(affixes.code, Some(0), "{}", affixes.stderr);
    let deployment = object(&affixes, "Deployment", "a-d");
    let reference = &deployment["spec"]["template"]["spec"]["containers"][0]["envFrom"][0];
    assert!(
        reference["configMapRef"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("cm-")),
        "{reference}"
    );
}

#[test]
fn ambiguous_references_and_patches_are_refused_where_they_are_written() {
    let ambiguous = render("name-reference-ambiguous");
    assert_eq!(ambiguous.code, Some(1));
    for team in ["team-a", "team-b"] {
        let expected = format!(
            "name-reference-ambiguous/{team}/deployer.yaml:15:3: error[kustomize-error]: `subjects` of ClusterRoleBinding `{team}-deployer` names `deployer`, which may be any of ServiceAccount team-a/deployer, ServiceAccount team-b/deployer"
        );
        assert!(ambiguous.stderr.contains(&expected), "{}", ambiguous.stderr);
    }
    let patch = render("patch-names-two-objects");
    assert_eq!(patch.code, Some(1));
    assert!(
        patch.stderr.contains(
            "patch-names-two-objects/kustomization.yaml:5:3: error[kustomize-error]: patch names 2 objects"
        ),
        "{}",
        patch.stderr
    );
}
