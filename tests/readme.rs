//! The README's rules table matches the rule registry (ids, severities, fix kinds, titles).

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
