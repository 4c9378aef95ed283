//! The README matches what it describes: the rules table (ids, severities, fix kinds, titles)
//! and the set-up commands.

use xks_lint::rules::registry;

#[test]
fn readme_rules_table_matches_registry() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let start = readme.find("<!-- rules-table").expect("rules-table marker");
    let end = readme.find("<!-- end rules-table -->").expect("end marker");
    let rows: Vec<String> = readme[start..end]
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(str::to_string)
        .collect();
    let expected: Vec<String> = registry()
        .iter()
        .map(|r| {
            format!(
                "| `{}` | {} | {} | {} |",
                r.doc.id,
                r.doc.severity.as_str(),
                r.doc.fix_str(),
                r.doc.title
            )
        })
        .collect();
    assert_eq!(rows, expected, "README rules table is out of date");
}

#[test]
fn readme_commands_point_at_existing_things() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    assert!(readme.contains("cargo run --release -- check fixtures/xks-tenant-repo"));
    assert!(std::path::Path::new("fixtures/xks-tenant-repo").is_dir());
    assert!(readme.contains("\ncargo test"));
}

/// The set-up line's count of the rules that fire on the example is what the example gives.
#[test]
fn readme_counts_the_rules_the_example_fires() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let line = readme
        .lines()
        .find(|l| l.starts_with("cargo run --release -- check fixtures/xks-tenant-repo"))
        .expect("the set-up line");
    let claimed: usize = line
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a count of rules in the set-up line");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_xks-lint"))
        .args(["check", "fixtures/xks-tenant-repo", "--format", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let fired: std::collections::BTreeSet<&str> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert_eq!(
        fired.len(),
        claimed,
        "README says {claimed} rules fire on the example; these do: {fired:?}"
    );
}
