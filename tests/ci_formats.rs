//! GitHub Actions and GitLab Code Quality formats.

use std::fs;

use assert_cmd::Command;

fn xks_lint() -> Command {
    Command::cargo_bin("xks-lint").unwrap()
}

/// A quoted annotation value that holds a newline and workflow commands: the message of
/// `rate-limit-conflict` quotes it back.
const HOSTILE: &str = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: evil
  annotations:
    nginx.ingress.kubernetes.io/limit-rps: "5\n::set-output name=token::stolen\r\n::add-mask::x %0A"
"#;

#[test]
fn github_commands_cannot_be_injected_from_a_manifest() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("evil, file:1.yaml"), HOSTILE).unwrap();
    let output = xks_lint()
        .current_dir(dir.path())
        .args([
            "check",
            ".",
            "--format",
            "github",
            "--no-summary",
            "--select",
            "rate-limit-conflict",
        ])
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "a warning does not fail by default"
    );
    let stdout = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one finding, one line:\n{stdout}");
    let line = lines[0];
    assert!(
        line.starts_with("::warning file=evil%2C file%3A1.yaml,line=6,col="),
        "{line}"
    );
    assert!(
        line.contains(",title=xks-lint rate-limit-conflict::"),
        "{line}"
    );
    let message = line.split_once("::").unwrap().1.split_once("::").unwrap().1;
    // A line break inside a value is shown escaped (`\n`), not as a break of the annotation.
    assert!(
        message.contains("5\\n::set-output name=token::stolen\\r\\n::add-mask::x %250A"),
        "{message}"
    );
    assert!(!stdout.contains('\r'));
    for command in ["::set-output", "::add-mask"] {
        assert!(!lines.iter().any(|l| l.starts_with(command)));
    }
}

#[test]
fn github_format_has_every_position_and_notice_level() {
    let output = xks_lint()
        .args(["check", "fixtures/xks-tenant-repo", "--format", "github"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let commands: Vec<&str> = stdout.lines().filter(|l| l.starts_with("::")).collect();
    assert!(commands.len() >= 5);
    assert!(commands.iter().any(|l| l.starts_with("::error ")));
    assert!(commands.iter().any(|l| l.starts_with("::warning ")));
    assert!(commands.iter().any(|l| l.starts_with("::notice ")));
    for line in &commands {
        for key in [
            "file=fixtures/xks-tenant-repo/",
            ",line=",
            ",col=",
            ",endLine=",
            ",endColumn=",
            ",title=",
        ] {
            assert!(line.contains(key), "{key} missing in {line}");
        }
    }
    let summary = stdout.lines().last().unwrap();
    assert!(
        !summary.starts_with("::") && summary.contains("files read ("),
        "{summary}"
    );
}

#[test]
fn gitlab_code_quality_report() {
    let output = xks_lint()
        .args(["check", "fixtures/xks-tenant-repo", "--format", "gitlab"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let issues: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let issues = issues.as_array().unwrap();
    assert!(issues.len() >= 5);
    let mut fingerprints = std::collections::BTreeSet::new();
    for issue in issues {
        assert!(!issue["description"].as_str().unwrap().is_empty());
        let check = issue["check_name"].as_str().unwrap();
        assert!(xks_lint::rules::find(check).is_some(), "{check}");
        assert!(
            ["info", "minor", "major", "critical", "blocker"]
                .contains(&issue["severity"].as_str().unwrap())
        );
        assert!(
            issue["location"]["path"]
                .as_str()
                .unwrap()
                .starts_with("fixtures/xks-tenant-repo/")
        );
        assert!(issue["location"]["lines"]["begin"].as_u64().unwrap() >= 1);
        fingerprints.insert(issue["fingerprint"].as_str().unwrap().to_string());
    }
    assert_eq!(
        fingerprints.len(),
        issues.len(),
        "fingerprints must be unique"
    );
    let errors = issues.iter().filter(|i| i["severity"] == "major").count();
    assert!(errors >= 1);
}
