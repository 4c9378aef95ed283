//! Every rule has `rules/<id>.md` with all sections, and `fixtures/<id>/` with
//! cases that fire (`fail-*`) and cases that stay silent (`pass-*`). Each case's
//! complete diagnostics are pinned by an insta snapshot.

mod common;

use std::path::{Path, PathBuf};

use xks_lint::rules::{doc::REQUIRED_SECTIONS, registry};

fn cases(rule: &str) -> Vec<PathBuf> {
    let dir = Path::new("fixtures").join(rule);
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("fixtures/{rule}/ is missing: {e}"))
        .map(|entry| entry.unwrap().path())
        .filter(|path| !path.ends_with("max-file-size"))
        .collect();
    cases.sort();
    cases
}

fn case_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().to_string()
}

#[test]
fn every_rule_has_a_complete_doc() {
    for rule in registry() {
        assert!(
            rule.doc.defects.is_empty(),
            "rules/{}.md: {:?}",
            rule.doc.id,
            rule.doc.defects
        );
        for section in REQUIRED_SECTIONS {
            assert!(rule.doc.section(section).is_some_and(|s| !s.is_empty()));
        }
    }
}

#[test]
fn every_doc_belongs_to_a_rule() {
    for entry in std::fs::read_dir("rules").unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        let id = name.strip_suffix(".md").expect("only .md files in rules/");
        assert!(
            registry().iter().any(|r| r.doc.id == id),
            "rules/{name} has no registered rule"
        );
    }
}

#[test]
fn every_rule_has_firing_and_silent_fixtures() {
    for rule in registry() {
        let names: Vec<String> = cases(rule.doc.id).iter().map(|p| case_name(p)).collect();
        assert!(
            names.iter().any(|n| n.starts_with("fail-")),
            "fixtures/{}/ has no fail-* case",
            rule.doc.id
        );
        assert!(
            names.iter().any(|n| n.starts_with("pass-")),
            "fixtures/{}/ has no pass-* case",
            rule.doc.id
        );
    }
}

#[test]
fn fixtures_fire_and_stay_silent_as_named() {
    for rule in registry() {
        let id = rule.doc.id;
        for case in cases(id) {
            let name = case_name(&case);
            let mut options = common::options_for(&[&case]);
            // A fixture directory may lower the file-size limit so that its cases stay small.
            if let Ok(limit) =
                std::fs::read_to_string(Path::new("fixtures").join(id).join("max-file-size"))
            {
                options.walk.max_file_size = limit.trim().parse().unwrap();
            }
            let analysis = xks_lint::analyze(&options);
            let fired = analysis.diagnostics.iter().filter(|d| d.rule == id).count();
            if name.starts_with("fail-") {
                assert!(fired > 0, "{} should fire {id}", case.display());
            } else if name.starts_with("pass-") {
                assert_eq!(
                    fired,
                    0,
                    "{} should not fire {id}:\n{}",
                    case.display(),
                    common::describe(&analysis)
                );
            } else {
                panic!(
                    "{}: fixture names start with fail- or pass-",
                    case.display()
                );
            }
            insta::assert_snapshot!(format!("{id}__{name}"), common::describe(&analysis));
        }
    }
}

/// The YAML documents a help text proposes: each starts at a `---` line (or at a line
/// `apiVersion: ...`) and runs to the next blank line.
fn proposed_yaml(help: &str) -> Vec<String> {
    let mut blocks: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in help.lines() {
        if line.trim().is_empty() {
            blocks.extend(current.take());
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        } else if line == "---" || line.starts_with("apiVersion: ") {
            current = Some(format!("{line}\n"));
        }
    }
    blocks.extend(current);
    blocks
}

/// An empty value (`targetRefs:` with nothing below) is YAML, but never what a help means.
fn null_paths(node: &xks_lint::load::yaml::Node, path: &str, out: &mut Vec<String>) {
    if let Some(entries) = node.as_map() {
        for (key, value) in entries {
            let key = format!("{path}.{}", key.scalar_text().unwrap_or("?"));
            if value.is_null() {
                out.push(key);
            } else {
                null_paths(value, &key, out);
            }
        }
    } else if let Some(items) = node.as_seq() {
        for (index, item) in items.iter().enumerate() {
            null_paths(item, &format!("{path}[{index}]"), out);
        }
    }
}

#[test]
fn yaml_that_helps_propose_is_valid_and_complete() {
    let mut checked = 0;
    for rule in registry() {
        for case in cases(rule.doc.id) {
            let analysis = xks_lint::analyze(&common::options_for(&[&case]));
            for diagnostic in &analysis.diagnostics {
                let Some(help) = diagnostic.help_text() else {
                    continue;
                };
                for block in proposed_yaml(&help) {
                    let stream = xks_lint::load::yaml::parse_stream(&block);
                    assert!(
                        stream.errors.is_empty(),
                        "{}: {} proposes invalid YAML: {:?}\n{block}",
                        case.display(),
                        diagnostic.rule,
                        stream.errors
                    );
                    for document in &stream.documents {
                        let mut nulls = Vec::new();
                        null_paths(&document.root, "", &mut nulls);
                        assert!(
                            nulls.is_empty(),
                            "{}: {} proposes empty values at {nulls:?}\n{block}",
                            case.display(),
                            diagnostic.rule
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    assert!(checked > 10, "only {checked} proposed documents found");
}
