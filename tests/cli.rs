//! The binary as users run it: exit codes, stdin, output formats, bad input next to good.

use std::fs;

use assert_cmd::Command;
use predicates::prelude::*;

fn xks_lint() -> Command {
    let mut command = Command::cargo_bin("xks-lint").unwrap();
    command.env_remove("NO_COLOR");
    command
}

const LINKERD_ON_DEPLOYMENT: &str = "apiVersion: apps/v1
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

const CLEAN_SERVICE: &str = "apiVersion: v1
kind: Service
metadata:
  name: api
spec:
  ports:
    - port: 80
";

#[test]
fn exit_code_0_when_clean() {
    xks_lint()
        .args(["check", "fixtures/parse-error/pass-valid.yaml"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("1 file read"));
}

#[test]
fn exit_code_1_on_error_findings() {
    xks_lint()
        .args([
            "check",
            "fixtures/linkerd-annotation-on-workload/fail-deployment.yaml",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("linkerd-annotation-on-workload"));
}

#[test]
fn fail_on_controls_the_threshold() {
    let warning_only = "fixtures/rate-limit-conflict/fail-connections-and-rps.yaml";
    xks_lint().args(["check", warning_only]).assert().code(0);
    xks_lint()
        .args(["check", warning_only, "--fail-on", "warning"])
        .assert()
        .code(1);
    xks_lint()
        .args([
            "check",
            "fixtures/linkerd-annotation-on-workload/fail-deployment.yaml",
            "--fail-on",
            "never",
        ])
        .assert()
        .code(0);
}

#[test]
fn exit_code_2_on_usage_errors() {
    xks_lint()
        .args(["check", "does/not/exist"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no such file or directory"));
    xks_lint()
        .args(["check", ".", "--select", "linkerd-anotation-on-workload"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "did you mean `linkerd-annotation-on-workload`",
        ));
    xks_lint()
        .args(["check", ".", "--exclude", "a[b"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid --exclude glob"));
    xks_lint()
        .args(["check", "--format", "xml"])
        .assert()
        .code(2);
    xks_lint()
        .args(["explain", "no-such-rule"])
        .assert()
        .code(2);
}

#[test]
fn reads_standard_input() {
    xks_lint()
        .args(["check", "-", "--format", "json"])
        .write_stdin(LINKERD_ON_DEPLOYMENT)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("\"path\": \"<stdin>\""))
        .stdout(predicate::str::contains("\"line\": 6"));
}

#[test]
fn json_output_has_the_documented_shape() {
    let output = xks_lint()
        .args([
            "check",
            "fixtures/rate-limit-conflict/fail-connections-and-rps.yaml",
            "--format",
            "json",
            // The fixture's Ingress also draws notes from the TLS/ingress-nginx rules.
            "--select",
            "rate-limit-conflict",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["version"], 1);
    assert_eq!(json["tool"]["name"], "xks-lint");
    let finding = &json["findings"][0];
    assert_eq!(finding["rule"], "rate-limit-conflict");
    assert_eq!(finding["severity"], "warning");
    assert_eq!(
        finding["path"],
        "fixtures/rate-limit-conflict/fail-connections-and-rps.yaml"
    );
    assert_eq!(finding["start"]["line"], 8);
    assert_eq!(finding["start"]["column"], 5);
    assert_eq!(finding["end"]["line"], 8);
    assert_eq!(finding["end"]["column"], 42);
    assert_eq!(finding["object"], "Ingress/tenant/example");
    assert_eq!(finding["related"][0]["start"]["line"], 7);
    assert!(finding["help"].as_str().unwrap().contains("choose one"));
    let summary = &json["summary"];
    assert_eq!(summary["files_read"], 1);
    assert_eq!(summary["objects"], 1);
    assert_eq!(summary["warnings"], 1);
    assert_eq!(summary["errors"], 0);
}

#[test]
fn one_broken_file_does_not_hide_the_others() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("a-good.yaml"), CLEAN_SERVICE).unwrap();
    fs::write(dir.path().join("b-broken.yaml"), "kind: [unclosed\n").unwrap();
    fs::write(dir.path().join("c-deployment.yml"), LINKERD_ON_DEPLOYMENT).unwrap();
    fs::write(dir.path().join("d-binary.yaml"), [0x00, 0xff, 0x81, 0x00]).unwrap();
    fs::write(dir.path().join("notes.txt"), "not a manifest").unwrap();
    let output = xks_lint()
        .args(["check", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rules: Vec<(&str, &str)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["path"].as_str().unwrap()))
        .collect();
    assert!(
        rules
            .iter()
            .any(|(r, p)| *r == "parse-error" && p.ends_with("b-broken.yaml"))
    );
    assert!(
        rules
            .iter()
            .any(|(r, p)| *r == "parse-error" && p.ends_with("d-binary.yaml"))
    );
    assert!(rules
        .iter()
        .any(|(r, p)| *r == "linkerd-annotation-on-workload" && p.ends_with("c-deployment.yml")));
    assert_eq!(json["summary"]["files_found"], 4);
    assert_eq!(json["summary"]["objects"], 2);
}

#[test]
fn gitignore_and_exclude_are_honoured() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("generated")).unwrap();
    fs::create_dir_all(dir.path().join("vendor")).unwrap();
    fs::write(dir.path().join(".gitignore"), "generated/\n").unwrap();
    fs::write(
        dir.path().join("generated/deploy.yaml"),
        LINKERD_ON_DEPLOYMENT,
    )
    .unwrap();
    fs::write(dir.path().join("vendor/deploy.yaml"), LINKERD_ON_DEPLOYMENT).unwrap();
    fs::write(dir.path().join(".hidden.yaml"), LINKERD_ON_DEPLOYMENT).unwrap();
    fs::write(dir.path().join("service.yaml"), CLEAN_SERVICE).unwrap();
    xks_lint()
        .args(["check", "--exclude", "vendor/"])
        .arg(dir.path())
        .assert()
        .code(0)
        .stdout(predicate::str::contains("1 file read"));
}

#[test]
fn kustomization_namespace_applies_below_it() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("app")).unwrap();
    fs::write(
        dir.path().join("kustomization.yaml"),
        "namespace: team-a\nresources: [app]\n",
    )
    .unwrap();
    fs::write(dir.path().join("app/deploy.yaml"), LINKERD_ON_DEPLOYMENT).unwrap();
    let output = xks_lint()
        .args(["check", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["findings"][0]["object"], "Deployment/team-a/api");
    assert_eq!(
        json["summary"]["documents_skipped"], 1,
        "the kustomization is not an object"
    );

    let output = xks_lint()
        .args([
            "check",
            "--format",
            "json",
            "--default-namespace",
            "fallback",
            "-",
        ])
        .write_stdin(LINKERD_ON_DEPLOYMENT)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["findings"][0]["object"], "Deployment/fallback/api");
}

#[test]
fn colours_only_when_asked_or_on_a_terminal() {
    let file = "fixtures/linkerd-annotation-on-workload/fail-deployment.yaml";
    let plain = xks_lint().args(["check", file]).output().unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains('\u{1b}'));
    let coloured = xks_lint()
        .args(["check", file, "--color", "always"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&coloured.stdout).contains('\u{1b}'));
}

#[test]
fn output_is_identical_whatever_the_thread_count() {
    let run = |threads: &str| {
        let output = xks_lint()
            .env("RAYON_NUM_THREADS", threads)
            .args(["check", "fixtures", "--format", "json"])
            .output()
            .unwrap();
        let mut json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        json["summary"]["elapsed_ms"] = serde_json::Value::Null;
        json
    };
    let single = run("1");
    assert!(single["findings"].as_array().unwrap().len() > 20);
    assert_eq!(single, run("4"));
    assert_eq!(single, run("2"));
}

#[test]
fn rules_lists_and_explain_prints_docs() {
    xks_lint()
        .arg("rules")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("rate-limit-conflict"))
        .stdout(predicate::str::contains("warning"));
    xks_lint()
        .args(["explain", "annotation-not-string"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("## Bad"))
        .stdout(predicate::str::contains("## Fix"));
}

#[test]
fn list_items_are_objects() {
    let list = "apiVersion: v1
kind: List
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: first
      namespace: team-b
      annotations:
        linkerd.io/inject: enabled
    spec:
      template:
        metadata:
          labels: {app: first}
  - apiVersion: v1
    kind: Service
    metadata:
      name: second
---
apiVersion: apps/v1
kind: DeploymentList
items:
  - apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: third
      annotations:
        config.linkerd.io/proxy-cpu-limit: \"1\"
";
    let output = xks_lint()
        .args(["check", "-", "--format", "json"])
        .write_stdin(list)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["summary"]["objects"], 3);
    let findings = json["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{json:#}");
    assert_eq!(findings[0]["object"], "Deployment/team-b/first");
    assert_eq!(findings[0]["start"]["line"], 10);
    assert_eq!(findings[0]["start"]["column"], 9);
    assert_eq!(findings[1]["object"], "Deployment/default/third");
    assert_eq!(findings[1]["start"]["line"], 28);
}

#[test]
fn certs_budget_shows_sixty_per_ingress_certificates_over_the_limit() {
    let output = xks_lint()
        .args(["certs", "fixtures/letsencrypt-budget/per-ingress"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "over a limit exits 1");
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("example.com (Let's Encrypt production): OVER A LIMIT\n"));
    assert!(text.contains("new certificates per registered domain / 7 days        60     50"));
    assert!(
        text.contains("sharing one certificate per namespace: 1 certificate (within the limit)")
    );
    assert_eq!(
        text.matches("  ingress-shim  Ingress/tenant/app-").count(),
        60
    );
    assert!(text.contains("fixtures/letsencrypt-budget/per-ingress/ingresses.yaml:9 "));

    let output = xks_lint()
        .args([
            "certs",
            "fixtures/letsencrypt-budget/per-ingress",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let domain = &json["domains"][0];
    assert_eq!(domain["domain"], "example.com");
    assert_eq!(domain["status"], "over");
    assert_eq!(domain["certificates"], 60);
    assert_eq!(domain["limits"]["certificates_per_registered_domain"], 50);
    assert_eq!(domain["shared_certificates"], 1);
    assert_eq!(domain["sources"].as_array().unwrap().len(), 60);
    assert_eq!(domain["sources"][0]["line"], 9);
}

#[test]
fn certs_budget_of_the_shared_alternative_is_within_the_limits() {
    let output = xks_lint()
        .args([
            "certs",
            "fixtures/letsencrypt-budget/shared",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let domain = &json["domains"][0];
    assert_eq!(domain["status"], "ok");
    assert_eq!(domain["certificates"], 1);
    assert_eq!(domain["names"], 60);
    // The same repository through `check`: the rate limit and per-Ingress advice are silent.
    let output = xks_lint()
        .args([
            "check",
            "fixtures/letsencrypt-budget/shared",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rules: Vec<&str> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(!rules.contains(&"letsencrypt-rate-limit"));
    assert!(!rules.contains(&"per-ingress-certificate"));
    assert!(!rules.contains(&"tls-host-not-covered"));
}

#[test]
fn check_reports_the_sixty_certificates_and_the_flags_change_the_issuers() {
    let run = |extra: &[&str]| {
        let output = xks_lint()
            .args([
                "check",
                "fixtures/letsencrypt-budget/per-ingress",
                "--format",
                "json",
            ])
            .args(extra)
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        json["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["rule"] == "letsencrypt-rate-limit")
            .map(|f| f["severity"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(run(&[]), vec!["error"]);
    // Not the platform's issuer: nothing is known to come from Let's Encrypt.
    assert!(run(&["--letsencrypt-issuer", "other"]).is_empty());
    xks_lint()
        .args(["certs", ".", "--letsencrypt-warn-percent", "0"])
        .assert()
        .code(2);
}

#[test]
fn connectivity_and_why_analyse_one_environment_at_a_time() {
    let tree = "fixtures/kustomize/environments";
    // Two environments are two clusters: listing their union would be wrong.
    xks_lint()
        .args(["connectivity", tree])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "choose one with --environment (prod, staging)",
        ));
    xks_lint()
        .args(["connectivity", tree, "--environment", "qa"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no environment `qa`"));
    xks_lint()
        .args(["connectivity", tree, "--environment", "prod"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "shop/api[Deployment] => {kube-dns} : TCP 53;UDP 53",
        ));
    xks_lint()
        .args([
            "why",
            "shop/api",
            "kube-dns",
            tree,
            "--environment",
            "staging",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("UDP 53"));
    // A repository of one cluster has no environment to choose.
    xks_lint()
        .args([
            "connectivity",
            "fixtures/connectivity/xks-cross-namespace-pair",
            "--environment",
            "prod",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("has no environments"));
}

/// Issue 17 §4: completions and the man page come from the CLI definition, so they know
/// every subcommand and flag; the bash script is valid bash.
#[test]
fn completions_and_man_page_follow_the_cli() {
    let bash = assert_cmd::Command::cargo_bin("xks-lint")
        .unwrap()
        .args(["completions", "bash"])
        .output()
        .unwrap();
    assert!(bash.status.success());
    let script = String::from_utf8_lossy(&bash.stdout);
    for word in [
        "diff",
        "--new-from-rev",
        "--only-files",
        "compact",
        "completions",
    ] {
        assert!(
            script.contains(word),
            "{word} missing from the bash completion"
        );
    }
    if let Ok(check) = std::process::Command::new("bash")
        .args(["-n", "-c", &script])
        .output()
    {
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = assert_cmd::Command::cargo_bin("xks-lint")
            .unwrap()
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success() && out.stdout.len() > 100, "{shell}");
    }
    let man = assert_cmd::Command::cargo_bin("xks-lint")
        .unwrap()
        .arg("man")
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&man.stdout);
    assert!(page.contains(".TH xks-lint 1"), "{page}");
    for subcommand in ["check", "diff", "connectivity", "why", "completions"] {
        assert!(
            page.contains(subcommand),
            "{subcommand} missing from the man page"
        );
    }
}

/// `check … | head` closes the pipe before the report is written out: the streamed report
/// stops without a message, and the exit code is still the findings' (0 with
/// `--fail-on never`), not a usage error.
#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::Read;
    use std::process::Stdio;
    for format in ["sarif", "json", "human", "gitlab"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_xks-lint"))
            .args(["check", "fixtures", "--format", format, "--color", "never"])
            .args(["--fail-on", "never"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        stdout.read_exact(&mut first).unwrap();
        drop(stdout);
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{format}: {stderr}");
        assert!(!stderr.contains("cannot write"), "{format}: {stderr}");
    }
}
