//! `xks-lint render`: what the model holds after building, as YAML or JSON.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use xks_lint::load::yaml::parse_stream;

fn xks_lint() -> Command {
    Command::cargo_bin("xks-lint").unwrap()
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A temporary repository (`.git` marks its root).
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    dir
}

/// The documents of a YAML stream as JSON values.
fn objects(yaml: &str) -> Vec<serde_json::Value> {
    let stream = parse_stream(yaml);
    assert!(stream.errors.is_empty(), "{yaml}: {:?}", stream.errors);
    stream.documents.iter().map(|d| d.root.to_json()).collect()
}

const BASE: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  replicas: 1
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: example/api:1
        env:
        - {name: FLAG, value: 'yes'}
        - {name: MODE, value: '0777'}
---
apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  selector: {app: api}
  ports:
  - port: 80
---
apiVersion: v1
kind: Namespace
metadata:
  name: team
";

#[test]
fn renders_a_root_in_legacy_order_with_patches_applied() {
    let dir = repo();
    write(dir.path(), "base/app.yaml", BASE);
    write(
        dir.path(),
        "base/kustomization.yaml",
        "resources: [app.yaml]\n",
    );
    write(
        dir.path(),
        "prod/kustomization.yaml",
        "resources: [../base]\nnamePrefix: prod-\npatches:\n- patch: |\n    - op: replace\n      path: /spec/replicas\n      value: 3\n  target: {kind: Deployment}\n",
    );
    let output = xks_lint()
        .args(["render"])
        .arg(dir.path().join("prod"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let objects = objects(&stdout);
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["Namespace", "Service", "Deployment"], "{stdout}");
    let deployment = &objects[2];
    assert_eq!(deployment["metadata"]["name"], "prod-api");
    assert_eq!(deployment["spec"]["replicas"], 3);
    // Strings that look like other types stay strings.
    let env = &deployment["spec"]["template"]["spec"]["containers"][0]["env"];
    assert_eq!(env[0]["value"], "yes");
    assert_eq!(env[1]["value"], "0777");
    // The base's files are not printed a second time as plain files.
    assert_eq!(objects.len(), 3);
}

#[test]
fn a_directory_of_plain_files_renders_its_objects() {
    let dir = repo();
    write(dir.path(), "a.yaml", BASE);
    let output = xks_lint().arg("render").arg(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(objects(&String::from_utf8(output.stdout).unwrap()).len(), 3);
}

#[test]
fn json_format_is_a_list() {
    let dir = repo();
    write(dir.path(), "a.yaml", BASE);
    let output = xks_lint()
        .args(["render", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
}

#[test]
fn an_unbuildable_root_exits_1_with_a_located_error_on_stderr() {
    let dir = repo();
    write(
        dir.path(),
        "app/kustomization.yaml",
        "resources:\n- missing.yaml\n",
    );
    xks_lint()
        .arg("render")
        .arg(dir.path().join("app"))
        .assert()
        .code(1)
        .stderr(predicate::str::is_match(r"kustomization\.yaml:2:3: error\[kustomize-error\]: resource `missing\.yaml` not found").unwrap());
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let dir = repo();
    write(
        dir.path(),
        "a.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"x\\e[2Jy\"\ndata:\n  a: \"\\a\\r\\x9b\\u202Eevil\"\n  b: \"line\\nnext\\e]8;;\"\n",
    );
    // A broken file next to it: its message reaches stderr escaped too.
    write(dir.path(), "b\u{1b}[31m.yaml", "a: [\n");
    for format in ["yaml", "json"] {
        let output = xks_lint()
            .args(["render", "--format", format])
            .arg(dir.path())
            .output()
            .unwrap();
        for stream in [&output.stdout, &output.stderr] {
            let text = String::from_utf8_lossy(stream);
            assert!(
                text.chars().all(|c| c == '\n'
                    || c == '\t'
                    || !(c.is_control() || ('\u{202A}'..='\u{202E}').contains(&c))),
                "{format}: {text:?}"
            );
        }
        let stdout = String::from_utf8(output.stdout).unwrap();
        let value = if format == "yaml" {
            objects(&stdout).remove(0)
        } else {
            serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["items"][0].clone()
        };
        assert_eq!(value["metadata"]["name"], "x\u{1b}[2Jy");
        assert_eq!(value["data"]["a"], "\u{7}\r\u{9b}\u{202e}evil");
        assert_eq!(value["data"]["b"], "line\nnext\u{1b}]8;;");
    }
}
