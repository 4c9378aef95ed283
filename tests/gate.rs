//! The CI gate around the rules: suppressions, baseline, `--only-files`, `.xks-lint.yaml`
//! and `xks-lint init`, through the binary as users run it.

use std::fs;
use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

const CONFLICT: &str = "apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  namespace: tenant
  annotations:
    nginx.ingress.kubernetes.io/limit-connections: \"10\"
    nginx.ingress.kubernetes.io/limit-rps: \"5\"
spec:
  # Another controller's class keeps ingress-nginx-deprecated out of these tests.
  ingressClassName: traefik
";

const INTEGER_LABELS: &str = "apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: tenant
  labels:
    # xks-lint: ignore[annotation-not-string] -- covers the next line only
    replicas: 3
    workers: 4
";

const LINKERD: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: tenant
  annotations:
    linkerd.io/inject: enabled
spec:
  template:
    metadata:
      labels: {app: api}
";

fn xks_lint(dir: &Path) -> Command {
    let mut command = Command::cargo_bin("xks-lint").unwrap();
    command.current_dir(dir).env_remove("NO_COLOR");
    command
}

fn json(dir: &Path, args: &[&str]) -> (Option<i32>, Value) {
    let output = xks_lint(dir)
        .args(["check", "--format", "json"])
        .args(args)
        .output()
        .unwrap();
    let value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code(), value)
}

fn rules_of(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| format!("{}@{}", f["rule"].as_str().unwrap(), f["start"]["line"]))
        .collect()
}

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    dir
}

#[test]
fn line_comment_covers_the_next_line_only_and_is_counted() {
    let dir = repo();
    fs::write(dir.path().join("cm.yaml"), INTEGER_LABELS).unwrap();
    let (code, report) = json(dir.path(), &["."]);
    assert_eq!(code, Some(1));
    assert_eq!(rules_of(&report), ["annotation-not-string@9"]);
    assert_eq!(report["summary"]["suppressed"], 1);

    let human = xks_lint(dir.path()).args(["check", "."]).output().unwrap();
    let text = String::from_utf8(human.stdout).unwrap();
    assert!(text.contains("; 1 suppressed"), "{text}");
}

#[test]
fn object_annotation_suppresses_listed_rules_or_all() {
    let dir = repo();
    let listed = CONFLICT.replace(
        "  annotations:\n",
        "  annotations:\n    xks-lint.io/ignore: \"rate-limit-conflict -- reviewed\"\n",
    );
    fs::write(dir.path().join("ingress.yaml"), &listed).unwrap();
    let all = LINKERD.replace(
        "  annotations:\n",
        "  annotations:\n    xks-lint.io/ignore: all\n",
    );
    fs::write(dir.path().join("deploy.yaml"), &all).unwrap();
    let (code, report) = json(dir.path(), &["."]);
    assert_eq!(code, Some(0), "{report}");
    assert!(rules_of(&report).is_empty(), "{report}");
    assert_eq!(report["summary"]["suppressed"], 2);

    // Not the listed rule: the finding stays, the suppression is unused.
    let other = CONFLICT.replace(
        "  annotations:\n",
        "  annotations:\n    xks-lint.io/ignore: \"annotation-not-string\"\n",
    );
    fs::write(dir.path().join("ingress.yaml"), other).unwrap();
    let (_, report) = json(dir.path(), &["ingress.yaml"]);
    assert_eq!(
        rules_of(&report),
        ["unused-suppression@7", "rate-limit-conflict@9"]
    );
}

#[test]
fn suppressed_findings_are_in_sarif_as_in_source_suppressions() {
    let dir = repo();
    fs::write(dir.path().join("cm.yaml"), INTEGER_LABELS).unwrap();
    let output = xks_lint(dir.path())
        .args(["check", ".", "--format", "sarif"])
        .output()
        .unwrap();
    let sarif: Value = serde_json::from_slice(&output.stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    let suppressed: Vec<&Value> = results
        .iter()
        .filter(|r| r["suppressions"].is_array())
        .collect();
    assert_eq!(suppressed.len(), 1);
    let suppression = &suppressed[0]["suppressions"][0];
    assert_eq!(suppression["kind"], "inSource");
    assert_eq!(suppression["justification"], "covers the next line only");
    assert_eq!(
        suppression["location"]["physicalLocation"]["region"]["startLine"],
        7
    );
    assert_eq!(
        suppressed[0]["locations"][0]["physicalLocation"]["region"]["startLine"],
        8
    );
}

#[test]
fn unused_suppression_can_be_turned_off() {
    let dir = repo();
    let stale = CONFLICT.replace(
        "    nginx.ingress.kubernetes.io/limit-rps: \"5\"\n",
        "    # xks-lint: ignore[rate-limit-conflict]\n",
    );
    fs::write(dir.path().join("ingress.yaml"), stale).unwrap();
    let (_, report) = json(dir.path(), &["."]);
    assert_eq!(rules_of(&report), ["unused-suppression@8"]);
    let (_, report) = json(dir.path(), &[".", "--ignore", "unused-suppression"]);
    assert!(rules_of(&report).is_empty());
    // A suppression of a rule that did not run is not "unused".
    let (_, report) = json(dir.path(), &[".", "--ignore", "rate-limit-conflict"]);
    assert!(rules_of(&report).is_empty());
}

#[test]
fn baseline_hides_accepted_findings_and_survives_line_shifts() {
    let dir = repo();
    fs::write(dir.path().join("ingress.yaml"), CONFLICT).unwrap();
    fs::write(dir.path().join("deploy.yaml"), LINKERD).unwrap();

    xks_lint(dir.path())
        .args(["check", ".", "--write-baseline", "baseline.json"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "wrote 2 findings to baseline.json",
        ));
    let baseline: Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("baseline.json")).unwrap())
            .unwrap();
    assert_eq!(baseline["version"], 1);
    assert_eq!(baseline["findings"].as_array().unwrap().len(), 2);

    // Lines inserted above both findings: still accepted.
    fs::write(
        dir.path().join("ingress.yaml"),
        format!("# owned by team web\n\n{CONFLICT}"),
    )
    .unwrap();
    fs::write(
        dir.path().join("deploy.yaml"),
        format!("---\n# api\n{LINKERD}"),
    )
    .unwrap();
    let (code, report) = json(dir.path(), &[".", "--baseline", "baseline.json"]);
    assert_eq!(code, Some(0), "{report}");
    assert!(rules_of(&report).is_empty());
    assert_eq!(report["summary"]["baselined"], 2);
    assert_eq!(report["summary"]["baseline_stale"], 0);

    // A new problem is reported; a fixed one leaves a stale entry.
    fs::write(
        dir.path().join("deploy.yaml"),
        LINKERD.replace("linkerd.io/inject: enabled", "team: api"),
    )
    .unwrap();
    fs::write(dir.path().join("cm.yaml"), INTEGER_LABELS).unwrap();
    let (code, report) = json(dir.path(), &[".", "--baseline", "baseline.json"]);
    assert_eq!(code, Some(1));
    assert_eq!(rules_of(&report), ["annotation-not-string@9"]);
    assert_eq!(report["summary"]["baselined"], 1);
    assert_eq!(report["summary"]["baseline_stale"], 1);

    // Writing again prunes the stale entry and records the new finding.
    xks_lint(dir.path())
        .args([
            "check",
            ".",
            "--baseline",
            "baseline.json",
            "--write-baseline",
            "baseline.json",
        ])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "1 entries of the old baseline no longer occur",
        ));
    let (code, report) = json(dir.path(), &[".", "--baseline", "baseline.json"]);
    assert_eq!(code, Some(0));
    assert_eq!(report["summary"]["baselined"], 2);
    assert_eq!(report["summary"]["baseline_stale"], 0);
}

#[test]
fn a_broken_baseline_is_a_usage_error() {
    let dir = repo();
    fs::write(
        dir.path().join("baseline.json"),
        "{\"not\": \"a baseline\"}",
    )
    .unwrap();
    xks_lint(dir.path())
        .args(["check", ".", "--baseline", "baseline.json"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("not an xks-lint baseline"));
}

#[test]
fn only_files_reports_findings_in_the_passed_files_only() {
    let dir = repo();
    fs::create_dir(dir.path().join("apps")).unwrap();
    fs::write(dir.path().join("apps/ingress.yaml"), CONFLICT).unwrap();
    fs::write(dir.path().join("apps/deploy.yaml"), LINKERD).unwrap();
    let (code, report) = json(
        dir.path(),
        &["--only-files", "apps/ingress.yaml", "README.md"],
    );
    assert_eq!(code, Some(0), "the error is in a file not passed");
    assert_eq!(rules_of(&report), ["rate-limit-conflict@8"]);
    assert_eq!(
        report["summary"]["files_read"], 2,
        "everything is still loaded"
    );
    let (code, _) = json(dir.path(), &["--only-files", "./apps/deploy.yaml"]);
    assert_eq!(code, Some(1));
    let (code, report) = json(dir.path(), &["--only-files"]);
    assert_eq!(code, Some(0));
    assert!(rules_of(&report).is_empty());
}

#[test]
fn config_is_discovered_upwards_and_flags_override_it() {
    let dir = repo();
    fs::create_dir_all(dir.path().join("apps/web")).unwrap();
    fs::write(dir.path().join("apps/web/ingress.yaml"), CONFLICT).unwrap();
    fs::write(dir.path().join("apps/web/deploy.yaml"), LINKERD).unwrap();
    fs::write(
        dir.path().join(".xks-lint.yaml"),
        "ignore: [linkerd-annotation-on-workload]\nseverity:\n  rate-limit-conflict: error\nfail-on: never\n",
    )
    .unwrap();
    let web = dir.path().join("apps/web");
    let (code, report) = json(&web, &["."]);
    assert_eq!(code, Some(0), "fail-on: never");
    let findings = report["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0]["rule"], "rate-limit-conflict");
    assert_eq!(findings[0]["severity"], "error");

    let (code, report) = json(
        &web,
        &[".", "--fail-on", "error", "--ignore", "helm-template"],
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        rules_of(&report).len(),
        2,
        "--ignore replaced the config's list"
    );

    // The search stops at the repository root: a config above it is not used.
    let outer = tempfile::tempdir().unwrap();
    fs::write(outer.path().join(".xks-lint.yaml"), "fail-on: never\n").unwrap();
    let inner = outer.path().join("repo");
    fs::create_dir_all(inner.join(".git")).unwrap();
    fs::write(inner.join("deploy.yaml"), LINKERD).unwrap();
    let (code, _) = json(&inner, &["."]);
    assert_eq!(code, Some(1));
}

#[test]
fn config_errors_point_at_the_file_position() {
    let dir = repo();
    fs::write(dir.path().join("deploy.yaml"), LINKERD).unwrap();
    fs::write(
        dir.path().join(".xks-lint.yaml"),
        "fail-on: error\nignore:\n  - linkerd-anotation-on-workload\nxks:\n  tenant-namespace: [a]\n",
    )
    .unwrap();
    xks_lint(dir.path())
        .args(["check", "."])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            ".xks-lint.yaml:3:5: unknown rule `linkerd-anotation-on-workload` in `ignore` (did you mean `linkerd-annotation-on-workload`?)",
        ))
        .stderr(predicate::str::contains(
            ".xks-lint.yaml:5:3: unknown key `tenant-namespace` in `xks` (did you mean `tenant-namespaces`?)",
        ));
    xks_lint(dir.path())
        .args(["check", ".", "--config", "missing.yaml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no such config file"));
    fs::write(dir.path().join("other.yaml"), "fail-on: never\n").unwrap();
    xks_lint(dir.path())
        .args(["check", "deploy.yaml", "--config", "other.yaml"])
        .assert()
        .code(0);
}

#[test]
fn init_writes_a_config_that_loads() {
    let dir = repo();
    xks_lint(dir.path()).arg("init").assert().code(0);
    let written = fs::read_to_string(dir.path().join(".xks-lint.yaml")).unwrap();
    assert_eq!(written, xks_lint::config::DEFAULT_CONFIG);
    assert!(xks_lint::config::load(&dir.path().join(".xks-lint.yaml")).is_ok());
    xks_lint(dir.path())
        .arg("init")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("already exists"));
    xks_lint(dir.path())
        .args(["init", "--force"])
        .assert()
        .code(0);
    fs::write(dir.path().join("deploy.yaml"), LINKERD).unwrap();
    xks_lint(dir.path()).args(["check", "."]).assert().code(1);
}
