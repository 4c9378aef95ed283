//! GitHub Actions and GitLab Code Quality formats.

use std::fs;

use assert_cmd::Command;

mod common;

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
    let mut multi_line = 0;
    for line in commands
        .iter()
        .filter(|l| !l.contains("annotations capped"))
    {
        for key in [
            "file=fixtures/xks-tenant-repo/",
            ",line=",
            ",endLine=",
            ",title=",
        ] {
            assert!(line.contains(key), "{key} missing in {line}");
        }
        // The runner rejects columns on a multi-line range: only on one line.
        let number = |key: &str| -> u64 {
            let start = line.find(key).unwrap() + key.len();
            line[start..]
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .unwrap()
                .parse()
                .unwrap()
        };
        let one_line = number(",line=") == number(",endLine=");
        assert_eq!(line.contains(",col="), one_line, "{line}");
        assert_eq!(line.contains(",endColumn="), one_line, "{line}");
        multi_line += usize::from(!one_line);
    }
    assert!(multi_line > 0, "the fixture has multi-line findings");
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

#[test]
fn github_annotations_are_capped_per_kind_and_the_rest_listed() {
    // The example tenant repository has more than ten errors.
    let run = |format: &str| {
        let output = xks_lint()
            .args([
                "check",
                "fixtures/xks-tenant-repo",
                "--fail-on",
                "never",
                "--format",
                format,
            ])
            .output()
            .unwrap();
        String::from_utf8(output.stdout).unwrap()
    };
    let findings: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    let findings = findings["findings"].as_array().unwrap().clone();
    let per_kind = |severity: &str| {
        findings
            .iter()
            .filter(|f| f["severity"] == severity)
            .count()
    };
    assert!(
        ["error", "warning", "note"]
            .iter()
            .any(|s| per_kind(s) > 10),
        "the input must pass the cap: {findings:?}"
    );
    let stdout = run("github");
    let annotations: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::") && !l.contains("annotations capped"))
        .collect();
    for command in ["::error ", "::warning ", "::notice "] {
        let n = annotations
            .iter()
            .filter(|l| l.starts_with(command))
            .count();
        assert!(n <= 10, "{n} {command} annotations");
    }
    let notice = stdout
        .lines()
        .find(|l| l.starts_with("::notice title=xks-lint%3A annotations capped::"))
        .unwrap_or_else(|| panic!("no notice about the cap:\n{stdout}"));
    let listed: Vec<&str> = stdout.lines().filter(|l| l.starts_with("  - ")).collect();
    assert_eq!(annotations.len() + listed.len(), findings.len(), "{stdout}");
    assert!(
        notice.contains(&format!("{} more findings", listed.len())),
        "{notice}"
    );
    // Most severe first: no annotation of a kind after a less severe one.
    let rank = |l: &str| {
        ["::error ", "::warning ", "::notice "]
            .iter()
            .position(|c| l.starts_with(c))
    };
    let ranks: Vec<_> = annotations.iter().map(|l| rank(l)).collect();
    assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
}

#[test]
fn github_step_summary_gets_every_finding_appended() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    fs::write(&summary, "previous step\n").unwrap();
    let json = xks_lint()
        .args(["check", "fixtures/xks-tenant-repo", "--format", "json"])
        .output()
        .unwrap();
    let findings: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let findings = findings["findings"].as_array().unwrap().len();
    let output = xks_lint()
        .args(["check", "fixtures/xks-tenant-repo", "--format", "github"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = fs::read_to_string(&summary).unwrap();
    assert!(text.starts_with("previous step\n## xks-lint\n"), "{text}");
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| Severity") && !l.starts_with("| ---"))
        .collect();
    assert_eq!(rows.len(), findings, "{text}");
    for row in rows {
        assert_eq!(common::markdown_cells(row).len(), 6, "{row}");
    }
    // Without the variable nothing is written anywhere.
    let output = xks_lint()
        .args(["check", "fixtures/xks-tenant-repo", "--format", "github"])
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
}

/// Issue 17 §3: several reports in one run, the compact line format, and a summary on
/// standard error when every report goes to a file.
#[test]
fn several_outputs_compact_lines_and_a_summary_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let sarif = dir.path().join("x.sarif");
    let output = xks_lint()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["check", "fixtures/xks-tenant-repo", "--output"])
        .arg(format!("sarif={}", sarif.display()))
        .args(["--output", "compact=-"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let log: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&sarif).unwrap()).unwrap();
    let results = log["runs"][0]["results"].as_array().unwrap().len();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line =
        regex::Regex::new(r"^[^:\s][^:]*:\d+:\d+: (error|warning|note)\[[a-z-]+\] \S.*$").unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(!lines.is_empty());
    for l in &lines {
        assert!(line.is_match(l), "not a compact line: {l}");
    }
    // Every finding in both reports (SARIF also lists suppressed ones).
    assert!(results >= lines.len(), "{results} < {}", lines.len());
    // A readable report went to standard output: no summary on stderr.
    assert!(String::from_utf8_lossy(&output.stderr).trim().is_empty());

    let json = dir.path().join("report.json");
    let output = xks_lint()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "check",
            "fixtures/xks-tenant-repo",
            "--format",
            "json",
            "--output",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("errors") && stderr.contains("more in the report"),
        "{stderr}"
    );
    assert!(
        stderr.contains(": error["),
        "the worst findings come first: {stderr}"
    );
    assert!(serde_json::from_str::<serde_json::Value>(&fs::read_to_string(&json).unwrap()).is_ok());

    // Two reports on standard output cannot both be read.
    xks_lint()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "check",
            "fixtures/xks-tenant-repo",
            "--output",
            "json=-",
            "--output",
            "-",
        ])
        .assert()
        .code(2);
}

#[test]
fn rules_list_as_json() {
    let output = xks_lint()
        .args(["rules", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let rules: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let rules = rules.as_array().unwrap();
    assert_eq!(rules.len(), xks_lint::rules::registry().len());
    let metadata = rules
        .iter()
        .find(|r| r["id"] == "egress-to-metadata-endpoint")
        .unwrap();
    assert_eq!(metadata["weakens_isolation"], true);
    assert!(metadata["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(
        rules
            .iter()
            .all(|r| ["error", "warning", "note"].contains(&r["severity"].as_str().unwrap_or("")))
    );
}
