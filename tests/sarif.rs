//! SARIF output: valid against the vendored OASIS 2.1.0 schema, and carrying what GitHub code
//! scanning needs (relative URIs, regions, rule metadata, line-independent fingerprints).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const SCHEMA: &str = "schemas/sarif-2.1.0/sarif-schema-2.1.0.json";
const CORPUS: &str = "../shared/corpus";

fn validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(&fs::read_to_string(SCHEMA).unwrap()).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft4)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap()
}

fn schema_errors(sarif: &Value) -> Vec<String> {
    validator()
        .iter_errors(sarif)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn sarif_in(dir: &Path, args: &[&str]) -> Value {
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(dir)
        .args(["check", "--format", "sarif", "--fail-on", "never"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn sarif(args: &[&str]) -> Value {
    sarif_in(Path::new("."), args)
}

fn results(sarif: &Value) -> &Vec<Value> {
    sarif["runs"][0]["results"].as_array().unwrap()
}

#[test]
fn the_schema_validator_rejects_invalid_logs() {
    // The validation tests below would prove nothing if the validator accepted anything.
    let mut log = sarif(&["fixtures/rate-limit-conflict/fail-connections-and-rps.yaml"]);
    assert!(schema_errors(&log).is_empty());
    log["runs"][0]["results"][0]["level"] = Value::from("fatal");
    log["runs"][0]["columnKind"] = Value::from("bytes");
    log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        Value::from(0);
    let errors = schema_errors(&log);
    assert!(errors.len() >= 3, "{errors:?}");
}

#[test]
fn example_repo_sarif_is_schema_valid() {
    let log = sarif(&["fixtures/xks-tenant-repo", "--sarif-category", "manifests"]);
    assert_eq!(schema_errors(&log), Vec::<String>::new());
    assert!(!results(&log).is_empty());
}

#[test]
fn corpus_sarif_is_schema_valid() {
    if !Path::new(CORPUS).is_dir() {
        eprintln!("SKIPPED: {CORPUS} is not present next to the repository");
        return;
    }
    let log = sarif(&[CORPUS]);
    assert_eq!(schema_errors(&log), Vec::<String>::new());
    assert!(!results(&log).is_empty());
}

#[test]
fn tool_rules_and_results_carry_what_code_scanning_needs() {
    let log = sarif(&["fixtures/xks-tenant-repo", "--sarif-category", "k8s"]);
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let driver = &run["tool"]["driver"];
    assert_eq!(driver["name"], "xks-lint");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(driver["semanticVersion"], env!("CARGO_PKG_VERSION"));
    assert!(
        driver["informationUri"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert_eq!(run["columnKind"], "unicodeCodePoints");
    assert_eq!(run["automationDetails"]["id"], "k8s/");

    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules.len(), xks_lint::rules::registry().len());
    for rule in rules {
        let id = rule["id"].as_str().unwrap();
        let doc = &xks_lint::rules::find(id).unwrap().doc;
        assert_eq!(rule["shortDescription"]["text"], doc.title.as_str());
        let full = rule["fullDescription"]["text"].as_str().unwrap();
        assert!(!full.is_empty() && full.chars().count() <= 1024);
        assert!(
            rule["help"]["markdown"]
                .as_str()
                .unwrap()
                .contains("## Fix")
        );
        assert!(!rule["help"]["text"].as_str().unwrap().is_empty());
        assert!(
            rule["helpUri"]
                .as_str()
                .unwrap()
                .ends_with(&format!("{id}.md"))
        );
        assert_eq!(rule["defaultConfiguration"]["level"], doc.severity.as_str());
        assert_eq!(rule["properties"]["precision"], doc.precision.as_str());
        assert!(rule["properties"]["tags"].is_array());
        assert_eq!(
            rule["properties"]["security-severity"].is_string(),
            doc.weakens_isolation,
            "{id}"
        );
    }

    for result in results(&log) {
        let rule_id = result["ruleId"].as_str().unwrap();
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], rule_id);
        assert!(["error", "warning", "note"].contains(&result["level"].as_str().unwrap()));
        assert!(!result["message"]["text"].as_str().unwrap().is_empty());
        let locations = result["locations"].as_array().unwrap();
        assert_eq!(locations.len(), 1);
        let physical = &locations[0]["physicalLocation"];
        let uri = physical["artifactLocation"]["uri"].as_str().unwrap();
        assert!(uri.starts_with("fixtures/xks-tenant-repo/"), "{uri}");
        assert_eq!(physical["artifactLocation"]["uriBaseId"], "%SRCROOT%");
        for key in ["startLine", "startColumn", "endLine", "endColumn"] {
            assert!(physical["region"][key].as_u64().unwrap() >= 1);
        }
        let fingerprint = result["partialFingerprints"]["xksLint/v1"]
            .as_str()
            .unwrap();
        assert_eq!(fingerprint.len(), 32);
    }
    let fingerprints: std::collections::BTreeSet<&str> = results(&log)
        .iter()
        .map(|r| r["partialFingerprints"]["xksLint/v1"].as_str().unwrap())
        .collect();
    assert_eq!(
        fingerprints.len(),
        results(&log).len(),
        "fingerprints collide"
    );
}

#[test]
fn related_locations_fixes_and_notifications() {
    let log = sarif(&[
        "fixtures/rate-limit-conflict/fail-connections-and-rps.yaml",
        "fixtures/annotation-not-string/fail-xks-guide-integer.yaml",
        "fixtures/parse-error/fail-unclosed-flow.yaml",
        "fixtures/unused-suppression/pass-suppressions-in-use.yaml",
    ]);
    assert!(schema_errors(&log).is_empty());
    let suppressed = results(&log)
        .iter()
        .filter(|r| r["suppressions"][0]["kind"] == "inSource")
        .count();
    assert_eq!(suppressed, 3);
    let by_rule = |id: &str| {
        results(&log)
            .iter()
            .find(|r| r["ruleId"] == id)
            .unwrap_or_else(|| panic!("no {id} result"))
            .clone()
    };
    let conflict = by_rule("rate-limit-conflict");
    let related = &conflict["relatedLocations"][0];
    assert_eq!(related["physicalLocation"]["region"]["startLine"], 7);
    assert!(
        related["message"]["text"]
            .as_str()
            .unwrap()
            .contains("limit-connections")
    );

    let not_string = by_rule("annotation-not-string");
    let fix = &not_string["fixes"][0];
    let change = &fix["artifactChanges"][0];
    assert_eq!(
        change["artifactLocation"]["uri"],
        not_string["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    );
    let replacement = &change["replacements"][0];
    // The deleted region is the finding's region plus the byte range `--fix` replaces.
    let mut deleted = replacement["deletedRegion"].clone();
    let object = deleted.as_object_mut().unwrap();
    assert!(object.remove("byteOffset").unwrap().as_u64().unwrap() > 0);
    assert_eq!(object.remove("byteLength").unwrap(), 2);
    assert_eq!(
        deleted,
        not_string["locations"][0]["physicalLocation"]["region"]
    );
    let inserted = replacement["insertedContent"]["text"].as_str().unwrap();
    assert!(
        inserted.starts_with('"') && inserted.ends_with('"'),
        "{inserted}"
    );

    let invocation = &log["runs"][0]["invocations"][0];
    assert_eq!(invocation["executionSuccessful"], true);
    let notifications = invocation["toolExecutionNotifications"].as_array().unwrap();
    assert!(notifications.iter().any(|n| {
        n["descriptor"]["id"] == "parse-error"
            && n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
                .ends_with("fail-unclosed-flow.yaml")
    }));
}

#[test]
fn selected_rules_only_and_no_absolute_uris() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("my ingress#1.yaml"),
        fs::read_to_string("fixtures/rate-limit-conflict/fail-connections-and-rps.yaml").unwrap(),
    )
    .unwrap();
    let log = sarif_in(dir.path(), &[".", "--select", "rate-limit-conflict"]);
    assert!(schema_errors(&log).is_empty());
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    assert_eq!(rules.len(), 1);
    let uri = results(&log)[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        .as_str()
        .unwrap();
    assert_eq!(uri, "my%20ingress%231.yaml");
}

fn fingerprints_by_rule(log: &Value) -> BTreeMap<String, Vec<(String, u64)>> {
    let mut map: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for result in results(log) {
        map.entry(result["ruleId"].as_str().unwrap().to_string())
            .or_default()
            .push((
                result["partialFingerprints"]["xksLint/v1"]
                    .as_str()
                    .unwrap()
                    .to_string(),
                result["locations"][0]["physicalLocation"]["region"]["startLine"]
                    .as_u64()
                    .unwrap(),
            ));
    }
    for list in map.values_mut() {
        list.sort();
    }
    map
}

#[test]
fn fingerprints_survive_inserted_lines_and_reordered_documents() {
    let dir = tempfile::tempdir().unwrap();
    let first =
        fs::read_to_string("fixtures/linkerd-annotation-on-workload/fail-deployment.yaml").unwrap();
    let second =
        fs::read_to_string("fixtures/rate-limit-conflict/fail-connections-and-rps.yaml").unwrap();
    let file = dir.path().join("app.yaml");
    fs::write(&file, format!("{first}---\n{second}")).unwrap();
    let before = fingerprints_by_rule(&sarif_in(dir.path(), &["."]));
    assert!(before.len() >= 2, "{before:?}");

    let comment_block = "# A comment block\n# inserted at the top\n# of the file\n\n";
    fs::write(&file, format!("{comment_block}{first}---\n{second}")).unwrap();
    let shifted = fingerprints_by_rule(&sarif_in(dir.path(), &["."]));

    fs::write(&file, format!("{second}---\n{first}")).unwrap();
    let reordered = fingerprints_by_rule(&sarif_in(dir.path(), &["."]));

    for (rule, findings) in &before {
        let fingerprints = |list: &Vec<(String, u64)>| -> Vec<String> {
            list.iter().map(|(f, _)| f.clone()).collect()
        };
        assert_eq!(
            fingerprints(findings),
            fingerprints(&shifted[rule]),
            "{rule}"
        );
        assert_eq!(
            fingerprints(findings),
            fingerprints(&reordered[rule]),
            "{rule}"
        );
        // The lines did move, so equal fingerprints are not an accident of equal positions.
        let lines =
            |list: &Vec<(String, u64)>| -> Vec<u64> { list.iter().map(|(_, l)| *l).collect() };
        assert_ne!(lines(findings), lines(&shifted[rule]), "{rule}");
    }
}

/// Issue 17 §3: the alert title is the finding's one paragraph; the finding's help (a YAML
/// snippet) is not in it but in the result's properties; every rule whose finding weakens
/// isolation carries a `security-severity`.
#[test]
fn message_is_one_paragraph_and_isolation_rules_have_security_severity() {
    let log = sarif(&["fixtures/missing-ingress-pair/fail-xks-guide-egress-only.yaml"]);
    let result = &results(&log)[0];
    let text = result["message"]["text"].as_str().unwrap();
    assert!(
        !text.contains('\n') && !text.contains("apiVersion"),
        "{text}"
    );
    assert!(
        result["properties"]["help"]
            .as_str()
            .is_some_and(|h| h.contains("kind: NetworkPolicy")),
        "{result}"
    );
    let log = sarif(&["fixtures/xks-tenant-repo"]);
    let rules = log["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap();
    for id in [
        "egress-to-metadata-endpoint",
        "linkerd-annotation-on-workload",
        "invalid-policy",
        "policy-selects-nothing",
    ] {
        let rule = rules.iter().find(|r| r["id"] == id).unwrap();
        assert!(
            rule["properties"]["security-severity"].is_string(),
            "{id}: {rule}"
        );
    }
    let rule = rules.iter().find(|r| r["id"] == "parse-error").unwrap();
    assert!(rule["properties"]["security-severity"].is_null(), "{rule}");
}
