//! Hostile YAML at moderate sizes (generated here, never committed): each generator of
//! `benches/support/hostile.rs` gives the located findings and caps it should, and the good
//! file next to it is still analysed. Speed is measured in `benches/hostile.rs`, not here.

#[path = "../benches/support/hostile.rs"]
mod hostile;

use assert_cmd::Command;
use serde_json::Value;

/// Runs `check --format json` on a directory holding the generated file and `good.yaml`.
fn check(generator: &str, bytes: usize) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    hostile::write(dir.path(), generator, bytes).unwrap();
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .args(["check", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    // good.yaml opens port 0: its invalid-policy finding shows the file was analysed.
    assert!(
        findings
            .iter()
            .any(|f| f["path"].as_str().is_some_and(|p| p.ends_with("good.yaml"))),
        "{generator}: good.yaml was not analysed: {findings:#?}"
    );
    findings
}

fn of_rule<'a>(findings: &'a [Value], rule: &str) -> Vec<&'a Value> {
    findings.iter().filter(|f| f["rule"] == rule).collect()
}

fn message(finding: &Value) -> &str {
    finding["message"].as_str().unwrap_or_default()
}

#[test]
fn broken_documents_are_capped_per_file_with_a_count_of_the_rest() {
    let text = hostile::broken_docs(30_000);
    let broken = text.matches("---").count();
    let findings = check("broken-docs", 30_000);
    let errors = of_rule(&findings, "parse-error");
    assert_eq!(errors.len(), 101, "100 errors and one count");
    let last = errors
        .iter()
        .find(|f| message(f).contains("more errors"))
        .expect("a finding counting the errors left out");
    assert!(
        message(last).starts_with(&format!("{} more errors", broken - 100)),
        "{}",
        message(last)
    );
    // Errors are located on their own lines, in order, not all at the file start.
    let lines: Vec<u64> = errors
        .iter()
        .filter_map(|f| f["start"]["line"].as_u64())
        .collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    let mut distinct = lines.clone();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        100,
        "the count sits at the last error reported"
    );
}

#[test]
fn a_wide_mapping_parses_without_findings_of_its_own() {
    let findings = check("wide-map", 50_000);
    assert!(of_rule(&findings, "parse-error").is_empty());
}

#[test]
fn duplicate_keys_are_reported_up_to_the_cap() {
    let findings = check("duplicate-keys", 40_000);
    let errors = of_rule(&findings, "parse-error");
    assert_eq!(errors.len(), 101);
    assert_eq!(
        errors
            .iter()
            .filter(|f| message(f).starts_with("duplicate mapping key"))
            .count(),
        100
    );
}

#[test]
fn every_suppression_comment_is_matched_to_its_line() {
    let text = hostile::suppressions(40_000);
    let annotations = text.matches("\n    a").count();
    let findings = check("suppressions", 40_000);
    // Even annotations are suppressed by their comment, odd ones carry an unknown rule id.
    let odd = annotations / 2;
    assert_eq!(of_rule(&findings, "annotation-not-string").len(), odd);
    assert_eq!(of_rule(&findings, "unused-suppression").len(), odd);
}

#[test]
fn many_documents_near_the_alias_limit_hit_the_file_budget() {
    let findings = check("alias-docs", 3_000);
    let errors = of_rule(&findings, "parse-error");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(message(errors[0]).contains("file holds more than"));
}

#[test]
fn merged_aliases_and_nested_anchors_are_charged() {
    let findings = check("merge-aliases", 80_000);
    let errors = of_rule(&findings, "parse-error");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(message(errors[0]).contains("file holds more than"));

    let findings = check("nested-anchors", 10);
    let errors = of_rule(&findings, "parse-error");
    assert_eq!(errors.len(), 1, "{errors:#?}");
    assert!(message(errors[0]).contains("anchors and aliases"));
}
