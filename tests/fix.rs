//! Issue 18: `check --fix`. For every fixture of a rule with a fix: the fixes remove the
//! findings that carried them, every changed file still parses, a second run changes
//! nothing, and the text outside the edited ranges is byte-for-byte what it was. Each rule's
//! `fix:` front matter agrees with the fixes its findings carry.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use predicates::prelude::*;
use xks_lint::diagnostic::{Applicability, Diagnostic, Edit};
use xks_lint::load::yaml::parse_stream;
use xks_lint::rules::registry;
use xks_lint::{Analysis, analyze};
use xks_lint::{autofix as engine, fix};

pub fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

fn fail_cases(rule: &str) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(Path::new("fixtures").join(rule))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("fail-")
        })
        .collect();
    cases.sort();
    cases
}

/// A finding's identity that survives edits moving lines.
fn key(d: &Diagnostic) -> (String, Option<String>, Option<String>, String) {
    (
        d.rule.to_string(),
        d.object.clone(),
        d.node_path.clone(),
        d.message.clone(),
    )
}

/// The text of `before` outside `edits` (sorted, disjoint) must appear in `after` in order,
/// with each replacement between: the edits are the only difference.
fn only_edits_differ(before: &str, after: &str, edits: &[&Edit]) {
    let mut expected = String::new();
    let mut at = 0usize;
    let mut sorted = edits.to_vec();
    sorted.sort_by_key(|e| (e.span.start.byte, e.span.end.byte));
    sorted.dedup();
    for edit in sorted {
        let (start, end) = (edit.span.start.byte as usize, edit.span.end.byte as usize);
        expected.push_str(&before[at..start]);
        expected.push_str(&edit.replacement);
        at = end;
    }
    expected.push_str(&before[at..]);
    assert_eq!(after, expected, "bytes outside the edits changed");
}

pub struct Checked {
    pub fixed: usize,
    pub changed_files: usize,
}

/// Runs `--fix` (in the library) on a copy of `case` and checks every invariant.
pub fn check_case(case: &Path, unsafe_fixes: bool, only_rule: Option<&str>) -> Checked {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("repo");
    std::fs::create_dir_all(&target).unwrap();
    let copy = target.join(case.file_name().unwrap());
    copy_tree(case, &copy);
    check_dir(&target, unsafe_fixes, only_rule)
}

pub fn check_dir(target: &Path, unsafe_fixes: bool, only_rule: Option<&str>) -> Checked {
    let options = common::options_for(&[target]);
    let before: Analysis = analyze(&options);
    let fixable: Vec<&Diagnostic> = before
        .diagnostics
        .iter()
        .filter(|d| {
            d.fix
                .as_ref()
                .is_some_and(|f| unsafe_fixes || f.applicability == Applicability::Safe)
                && only_rule.is_none_or(|r| d.rule == r)
        })
        .collect();
    let run = engine::run(&options, unsafe_fixes);
    assert!(
        run.converged,
        "{}: fixes did not converge",
        target.display()
    );
    assert!(
        run.warnings.is_empty(),
        "{}: {:?}",
        target.display(),
        run.warnings
    );
    // Single-pass runs: the first plan's edits are the only difference.
    let plan = fix::plan(&before.diagnostics, &before.sources, unsafe_fixes);
    if run.passes == 2 {
        for change in run.changes.iter().filter(|c| !c.created) {
            let file = before
                .sources
                .files
                .iter()
                .position(|f| f.path == change.path)
                .unwrap();
            let edits: Vec<&Edit> = plan
                .edits
                .iter()
                .filter(|(id, _)| id.index() == file)
                .flat_map(|(_, e)| e)
                .collect();
            only_edits_differ(&change.before, &change.after, &edits);
        }
    }
    let (written, errors) = engine::write(&run.changes, &run.analysis.gate.root);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(written, run.changes.len());
    for change in &run.changes {
        let text = std::fs::read_to_string(&change.path).unwrap();
        assert_eq!(text, change.after);
        let parsed = parse_stream(&text);
        assert!(
            parsed.errors.is_empty(),
            "{}: {:?}\n{text}",
            change.display,
            parsed.errors
        );
    }
    let after = analyze(&options);
    let remaining: BTreeSet<_> = after.diagnostics.iter().map(key).collect();
    for d in &fixable {
        assert!(
            !remaining.contains(&key(d)),
            "{}: still reported after --fix: {}\n{}",
            target.display(),
            d.message,
            run.changes
                .iter()
                .map(|c| c.after.clone())
                .collect::<Vec<_>>()
                .join("\n---8<---\n")
        );
    }
    // No fix introduced a new finding.
    let earlier: BTreeSet<_> = before.diagnostics.iter().map(|d| d.rule).collect();
    for d in &after.diagnostics {
        assert!(
            earlier.contains(d.rule),
            "{}: --fix introduced {}: {}",
            target.display(),
            d.rule,
            d.message
        );
    }
    let again = engine::run(&options, unsafe_fixes);
    assert!(
        again.changes.is_empty(),
        "{}: a second --fix changed {:?}",
        target.display(),
        again.changes.iter().map(|c| &c.display).collect::<Vec<_>>()
    );
    Checked {
        fixed: fixable.len(),
        changed_files: run.changes.len(),
    }
}

#[test]
fn every_fixture_of_a_fixable_rule_is_fixed_cleanly() {
    for rule in registry() {
        let Some(kind) = rule.doc.fix else { continue };
        let mut fixed = 0;
        for case in fail_cases(rule.doc.id) {
            let checked = check_case(&case, kind == Applicability::Unsafe, Some(rule.doc.id));
            fixed += checked.fixed;
        }
        assert!(
            fixed > 0,
            "rules/{}.md says `fix: {}` but no fail fixture gets a fix",
            rule.doc.id,
            rule.doc.fix_str()
        );
    }
}

#[test]
fn front_matter_agrees_with_the_fixes_rules_emit() {
    for rule in registry() {
        let mut kinds = BTreeSet::new();
        for case in fail_cases(rule.doc.id) {
            let analysis = common::analyze_paths(&[&case]);
            kinds.extend(
                analysis
                    .diagnostics
                    .iter()
                    .filter(|d| d.rule == rule.doc.id)
                    .filter_map(|d| d.fix.as_ref().map(|f| f.applicability)),
            );
        }
        let expected: BTreeSet<Applicability> = rule.doc.fix.into_iter().collect();
        assert_eq!(
            kinds,
            expected,
            "rules/{}.md `fix: {}` disagrees with the fixes its findings carry",
            rule.doc.id,
            rule.doc.fix_str()
        );
    }
}

fn xks_lint() -> assert_cmd::Command {
    let mut command = assert_cmd::Command::cargo_bin("xks-lint").unwrap();
    command.env_remove("NO_COLOR");
    command
}

#[test]
fn diff_writes_nothing_and_exits_1_when_something_would_change() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    // CRLF endings, a comment and odd spacing: all kept.
    let text = "apiVersion: v1\r\nkind: ConfigMap\r\nmetadata:\r\n  name: a   # keep me\r\n  labels:\r\n    tier:   3\r\n";
    std::fs::write(repo.join("a.yaml"), text).unwrap();
    let output = xks_lint()
        .current_dir(&repo)
        .args(["check", "--diff", "."])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let diff = String::from_utf8(output).unwrap();
    assert!(
        diff.contains("--- a/a.yaml") && diff.contains("+++ b/a.yaml"),
        "{diff}"
    );
    assert!(
        diff.contains("-    tier:   3\r\n") && diff.contains("+    tier:   \"3\"\r\n"),
        "{diff}"
    );
    assert_eq!(std::fs::read_to_string(repo.join("a.yaml")).unwrap(), text);

    xks_lint()
        .current_dir(&repo)
        .args(["check", "--fix", "."])
        .assert()
        .code(0);
    assert_eq!(
        std::fs::read_to_string(repo.join("a.yaml")).unwrap(),
        text.replace("tier:   3", "tier:   \"3\"")
    );
    // Nothing left: --diff prints nothing and exits 0.
    xks_lint()
        .current_dir(&repo)
        .args(["check", "--diff", "."])
        .assert()
        .code(0)
        .stdout("");
}

#[test]
fn fix_refuses_standard_input_and_keeps_a_byte_order_mark() {
    xks_lint()
        .args(["check", "--fix", "-"])
        .write_stdin("a: 1\n")
        .assert()
        .code(2);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let text =
        "\u{feff}apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels: {tier: 3}\n";
    std::fs::write(repo.join("a.yaml"), text).unwrap();
    xks_lint()
        .current_dir(&repo)
        .args(["check", "--fix", "."])
        .assert()
        .code(0);
    assert_eq!(
        std::fs::read_to_string(repo.join("a.yaml")).unwrap(),
        text.replace("tier: 3", "tier: \"3\"")
    );
}

#[cfg(unix)]
#[test]
fn fix_never_writes_through_a_link_out_of_the_repository() {
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside.yaml");
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    tier: 3\n";
    std::fs::write(&outside, text).unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::os::unix::fs::symlink(&outside, repo.join("linked.yaml")).unwrap();
    xks_lint()
        .current_dir(&repo)
        .args(["check", "--fix", "."])
        .assert()
        .code(predicate::in_iter([0, 1]));
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), text);
}

/// In a kustomize tree each edit goes where the value was written: the base (once, though
/// two overlays render it) and the overlay's patch.
#[test]
fn kustomize_fixes_edit_the_base_and_the_patch() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    let write = |path: &str, text: &str| {
        let path = repo.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let base = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    linkerd.io/inject: enabled # mesh it
    prometheus.io/port: 8080
spec:
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      labels:
        app: api
    spec:
      containers:
        - name: api
          image: example/api:1
";
    write("base/deployment.yaml", base);
    write(
        "base/kustomization.yaml",
        "resources:\n  - deployment.yaml\n",
    );
    let patch = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  labels:
    tier: 3
";
    write("overlays/prod/patch.yaml", patch);
    write(
        "overlays/prod/kustomization.yaml",
        "namespace: prod\nresources:\n  - ../../base\npatches:\n  - path: patch.yaml\n",
    );
    write(
        "overlays/test/kustomization.yaml",
        "namespace: test\nresources:\n  - ../../base\n",
    );
    let checked = check_dir(&repo, false, None);
    assert!(checked.fixed >= 3, "{} fixed", checked.fixed);
    assert_eq!(checked.changed_files, 2);
    let base_after = std::fs::read_to_string(repo.join("base/deployment.yaml")).unwrap();
    assert_eq!(
        base_after,
        "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  annotations:
    prometheus.io/port: \"8080\"
spec:
  selector:
    matchLabels:
      app: api
  template:
    metadata:
      annotations:
        linkerd.io/inject: enabled # mesh it
      labels:
        app: api
    spec:
      containers:
        - name: api
          image: example/api:1
"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("overlays/prod/patch.yaml")).unwrap(),
        patch.replace("tier: 3", "tier: \"3\"")
    );
}

/// Flow-style mappings are left alone by the move (help only): no edit is safer than a
/// guessed one.
#[test]
fn flow_style_annotations_are_not_moved() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api, annotations: {linkerd.io/inject: enabled}}\nspec:\n  selector: {matchLabels: {app: api}}\n  template:\n    metadata: {labels: {app: api}}\n    spec:\n      containers: [{name: api, image: example/api:1}]\n";
    std::fs::write(repo.join("d.yaml"), text).unwrap();
    let analysis = common::analyze_paths(&[&repo]);
    let finding = analysis
        .diagnostics
        .iter()
        .find(|d| d.rule == "linkerd-annotation-on-workload")
        .expect("finding");
    assert!(finding.fix.is_none());
}

/// The JSON of a v1beta1 Ingress converted to v1 (the conversion the API server documents),
/// written independently of the text edits: the fixed file must mean exactly this.
fn ingress_v1_json(mut value: serde_json::Value) -> serde_json::Value {
    fn backend(b: &mut serde_json::Value) {
        let Some(map) = b.as_object_mut() else { return };
        let name = map.remove("serviceName");
        let port = map.remove("servicePort");
        if let (Some(name), Some(port)) = (name, port) {
            let port = if port.is_number() {
                serde_json::json!({ "number": port })
            } else {
                serde_json::json!({ "name": port })
            };
            map.insert(
                "service".into(),
                serde_json::json!({ "name": name, "port": port }),
            );
        }
    }
    value["apiVersion"] = "networking.k8s.io/v1".into();
    let spec = value["spec"].as_object_mut().unwrap();
    if let Some(mut b) = spec.remove("backend") {
        backend(&mut b);
        spec.insert("defaultBackend".into(), b);
    }
    for rule in spec
        .get_mut("rules")
        .and_then(|r| r.as_array_mut())
        .into_iter()
        .flatten()
    {
        for path in rule["http"]["paths"].as_array_mut().into_iter().flatten() {
            backend(&mut path["backend"]);
            if path.get("pathType").is_none() {
                path["pathType"] = "ImplementationSpecific".into();
            }
        }
    }
    value
}

fn documents_json(text: &str) -> Vec<serde_json::Value> {
    let stream = parse_stream(text);
    assert!(stream.errors.is_empty(), "{:?}\n{text}", stream.errors);
    stream.documents.iter().map(|d| d.root.to_json()).collect()
}

#[test]
fn ingress_conversion_means_what_the_api_server_converts_to() {
    let variants = [
        include_str!("../fixtures/removed-api-version/fail-xks-guide-ingress.yaml").to_string(),
        "apiVersion: \"networking.k8s.io/v1beta1\"\nkind: Ingress\nmetadata:\n  name: web\nspec:\n  backend:\n    serviceName: default   # fallback\n    servicePort: 8080\n  rules:\n  - host: a.example.com\n    http:\n      paths:\n      - path: /\n        backend:\n          servicePort: 'http'\n          serviceName: web\n      - path: /api\n        pathType: Prefix\n        backend:\n            serviceName: api\n            servicePort: 80".to_string(),
        "apiVersion: extensions/v1beta1\r\nkind: Ingress\r\nmetadata:\r\n  name: crlf\r\nspec:\r\n    rules:\r\n        -   http:\r\n                paths:\r\n                    -   backend:\r\n                            serviceName: s\r\n                            servicePort: 443\r\n".to_string(),
    ];
    for text in variants {
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::write(repo.join("ingress.yaml"), &text).unwrap();
        check_dir(&repo, false, None);
        let after = std::fs::read_to_string(repo.join("ingress.yaml")).unwrap();
        let expected: Vec<_> = documents_json(&text)
            .into_iter()
            .map(ingress_v1_json)
            .collect();
        assert_eq!(documents_json(&after), expected, "{after}");
        assert_eq!(
            text.contains("\r\n"),
            after.matches('\n').count() == after.matches("\r\n").count()
        );
    }
}

/// Single-file fail fixtures of rules with a fix, and whether that fix is unsafe.
fn fixable_fixture_files() -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for rule in registry() {
        let Some(kind) = rule.doc.fix else { continue };
        for case in fail_cases(rule.doc.id) {
            if case.is_file() {
                let text = std::fs::read_to_string(&case).unwrap();
                out.push((
                    case.display().to_string(),
                    text,
                    kind == Applicability::Unsafe,
                ));
            }
        }
    }
    out
}

/// How many findings of `text` (as the one file of a repository) carry a fix `--fix`
/// (with `unsafe_fixes`) takes.
fn fixable_count(text: &str, unsafe_fixes: bool) -> usize {
    let (_dir, repo) = repo_with(&[("case.yaml", text)]);
    common::analyze_paths(&[&repo])
        .diagnostics
        .iter()
        .filter(|d| {
            d.fix
                .as_ref()
                .is_some_and(|f| unsafe_fixes || f.applicability == Applicability::Safe)
        })
        .count()
}

/// A fixture written differently with the same meaning: shifted right, with comment lines
/// and trailing comments, quoted names, CRLF line endings.
fn mutate(text: &str, shift: usize, comments: &[bool], quote_names: bool, crlf: bool) -> String {
    let pad = " ".repeat(shift);
    let mut out = String::new();
    for (i, line) in text.lines().enumerate() {
        let comment = comments
            .get(i % comments.len().max(1))
            .copied()
            .unwrap_or(false);
        let is_separator = line.starts_with("---");
        let mut line = if line.trim().is_empty() || is_separator || line.starts_with('#') {
            line.to_string()
        } else {
            format!("{pad}{line}")
        };
        if quote_names {
            let trimmed = line.trim_start().trim_start_matches("- ");
            if let Some(value) = trimmed.strip_prefix("name: ")
                && !value.is_empty()
                && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                line = line.replace(&format!("name: {value}"), &format!("name: \"{value}\""));
            }
        }
        if comment && !is_separator && !line.trim().is_empty() && !line.contains('#') {
            line.push_str("   # mutated");
        }
        if comment && !is_separator {
            out.push_str(&pad);
            out.push_str("# a comment line\n");
        }
        out.push_str(&line);
        out.push('\n');
    }
    if crlf { out.replace('\n', "\r\n") } else { out }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// The fixture invariants hold on mutated fixtures too.
    #[test]
    fn fixes_of_mutated_fixtures_keep_the_invariants(
        which in 0usize..64,
        shift in 0usize..4,
        comments in proptest::collection::vec(proptest::prelude::any::<bool>(), 1..5),
        quote_names in proptest::prelude::any::<bool>(),
        crlf in proptest::prelude::any::<bool>(),
    ) {
        let files = fixable_fixture_files();
        let (name, text, unsafe_fixes) = &files[which % files.len()];
        let mutated = mutate(text, shift, &comments, quote_names, crlf);
        // The mutation keeps the meaning: same documents.
        proptest::prop_assert_eq!(documents_json(&mutated), documents_json(text), "{}", name);
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        std::fs::write(repo.join("case.yaml"), &mutated).unwrap();
        let checked = check_dir(&repo, *unsafe_fixes, None);
        // The same meaning gets the same fixes, however it is written.
        proptest::prop_assert_eq!(checked.fixed, fixable_count(text, *unsafe_fixes), "{}", name);
        // Edited and created files alike keep the fixture's line endings.
        for entry in std::fs::read_dir(&repo).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                let after = std::fs::read_to_string(&path).unwrap();
                let crlf_lines = after.matches("\r\n").count();
                let expected = if crlf { after.matches('\n').count() } else { 0 };
                proptest::prop_assert_eq!(crlf_lines, expected, "{}", path.display());
            }
        }
    }
}

/// SARIF `fixes` are the `--fix` edits: applying every SARIF replacement (by byte range) to
/// the files gives exactly what `check --unsafe-fixes` writes, created files included.
#[test]
fn sarif_fixes_are_the_edits_fix_applies() {
    use xks_lint::report::{Format, RenderOptions, render};
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    for case in [
        "fixtures/annotation-not-string/fail-xks-guide-integer.yaml",
        "fixtures/removed-api-version/fail-xks-guide-ingress.yaml",
        "fixtures/missing-ingress-pair/fail-patched-egress-rule",
        "fixtures/linkerd-annotation-on-workload/fail-statefulset-both.yaml",
        "fixtures/per-ingress-certificate/fail-two-ingresses.yaml",
    ] {
        let case = Path::new(case);
        copy_tree(case, &repo.join(case.file_name().unwrap()));
    }
    let options = common::options_for(&[&repo]);
    let analysis = analyze(&options);
    let sarif: serde_json::Value =
        serde_json::from_str(&render(Format::Sarif, &analysis, &RenderOptions::default())).unwrap();
    // uri → (byte offset, byte length, text), from every result's fixes.
    let mut replacements: std::collections::BTreeMap<String, Vec<(usize, usize, String)>> =
        Default::default();
    for result in sarif["runs"][0]["results"].as_array().unwrap() {
        for fix in result["fixes"].as_array().into_iter().flatten() {
            for change in fix["artifactChanges"].as_array().unwrap() {
                let uri = change["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .to_string();
                for r in change["replacements"].as_array().unwrap() {
                    let region = &r["deletedRegion"];
                    replacements.entry(uri.clone()).or_default().push((
                        region["byteOffset"].as_u64().unwrap() as usize,
                        region["byteLength"].as_u64().unwrap() as usize,
                        r["insertedContent"]["text"].as_str().unwrap().to_string(),
                    ));
                }
            }
        }
    }
    assert!(replacements.len() >= 5, "{replacements:?}");
    let run = engine::run(&options, true);
    assert_eq!(run.passes, 2, "these fixtures need one pass");
    let mut fixed = std::collections::BTreeMap::new();
    for (uri, mut edits) in replacements {
        let before = std::fs::read_to_string(repo.join(&uri)).unwrap_or_default();
        edits.sort();
        edits.dedup();
        let mut after = before.clone();
        for (offset, length, text) in edits.iter().rev() {
            after.replace_range(offset..&(offset + length), text);
        }
        fixed.insert(uri, after);
    }
    let written: std::collections::BTreeMap<String, String> = run
        .changes
        .iter()
        .map(|c| (c.repo_path.clone(), c.after.clone()))
        .collect();
    assert_eq!(fixed, written);
}

#[test]
fn rules_and_explain_show_the_fix_kind() {
    let out = xks_lint()
        .args(["rules", "--format", "json"])
        .output()
        .unwrap();
    let rules: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for rule in registry() {
        let listed = rules
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == rule.doc.id)
            .unwrap();
        assert_eq!(listed["fix"], rule.doc.fix_str(), "{}", rule.doc.id);
    }
    xks_lint()
        .arg("rules")
        .assert()
        .code(0)
        .stdout(predicate::str::contains("fix:unsafe"));
    xks_lint()
        .args(["explain", "annotation-not-string"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Automatic fix: safe"));
    xks_lint()
        .args(["explain", "rate-limit-conflict"])
        .assert()
        .code(0)
        .stdout(predicate::str::contains("Automatic fix: none"));
}

/// A comment line above the only moved annotation moves with it (its block is deleted).
#[test]
fn a_comment_above_a_moved_annotation_moves_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let text = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\n  annotations:\n    # mesh it\n    linkerd.io/inject: enabled\nspec:\n  template:\n    metadata:\n      labels:\n        app: api\n";
    std::fs::write(repo.join("d.yaml"), text).unwrap();
    check_dir(&repo, false, None);
    assert_eq!(
        std::fs::read_to_string(repo.join("d.yaml")).unwrap(),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    metadata:\n      annotations:\n        # mesh it\n        linkerd.io/inject: enabled\n      labels:\n        app: api\n"
    );
}

/// The per-ingress-certificate fix's diagnostics in `analysis`.
fn certificate_findings(analysis: &Analysis) -> Vec<&Diagnostic> {
    analysis
        .diagnostics
        .iter()
        .filter(|d| d.rule == "per-ingress-certificate")
        .collect()
}

/// Whether each `per-ingress-certificate` finding of the paths carries a fix.
fn certificate_fixes(paths: &[&Path]) -> Vec<bool> {
    let analysis = common::analyze_paths(paths);
    certificate_findings(&analysis)
        .iter()
        .map(|d| d.fix.is_some())
        .collect()
}

fn repo_with(files: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    for (path, text) in files {
        let path = repo.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    (dir, repo)
}

/// The shared Certificate is an unsafe fix: `--fix` alone leaves the files, `--diff` shows
/// the new file, `--fix --unsafe-fixes` writes it with every host of the group (lower-cased,
/// deduplicated, sorted) and the issuer the annotation named; then nothing is left to fix.
#[test]
fn shared_certificate_is_unsafe_and_diff_shows_the_new_file() {
    let text = include_str!("../fixtures/per-ingress-certificate/fail-two-ingresses.yaml");
    let (_dir, repo) = repo_with(&[("apps/ingresses.yaml", text)]);
    let created = repo.join("apps/example-com-certificate.yaml");
    xks_lint()
        .current_dir(&repo)
        .args(["check", "--fix", "."])
        .assert()
        .code(predicate::in_iter([0, 1]));
    assert_eq!(
        std::fs::read_to_string(repo.join("apps/ingresses.yaml")).unwrap(),
        text
    );
    assert!(!created.exists());
    let out = xks_lint()
        .current_dir(&repo)
        .args(["check", "--diff", "--unsafe-fixes", "."])
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let diff = String::from_utf8(out).unwrap();
    for expected in [
        "--- /dev/null\n+++ b/apps/example-com-certificate.yaml\n",
        "+kind: Certificate\n",
        "-    cert-manager.io/cluster-issuer: letsencrypt\n",
        "-      secretName: shop-tls\n+      secretName: example-com-tls\n",
    ] {
        assert!(diff.contains(expected), "{expected:?} missing from\n{diff}");
    }
    assert!(!created.exists(), "--diff wrote the new file");
    xks_lint()
        .current_dir(&repo)
        .args(["check", "--fix", "--unsafe-fixes", "."])
        .assert()
        .code(predicate::in_iter([0, 1]));
    let certificate = documents_json(&std::fs::read_to_string(&created).unwrap());
    assert_eq!(
        certificate,
        vec![serde_json::json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": "example-com", "namespace": "tenant"},
            "spec": {
                "issuerRef": {"group": "cert-manager.io", "kind": "ClusterIssuer", "name": "letsencrypt"},
                "dnsNames": ["*.blog.example.com", "blog.example.com", "shop.example.com"],
                "secretName": "example-com-tls",
            },
        })]
    );
    let ingresses =
        documents_json(&std::fs::read_to_string(repo.join("apps/ingresses.yaml")).unwrap());
    for ingress in &ingresses {
        assert!(
            ingress["metadata"].get("annotations").is_none(),
            "{ingress}"
        );
        assert_eq!(ingress["spec"]["tls"][0]["secretName"], "example-com-tls");
    }
    let after = common::analyze_paths(&[&repo]);
    assert!(certificate_findings(&after).is_empty());
    xks_lint()
        .current_dir(&repo)
        .args(["check", "--diff", "--unsafe-fixes", "."])
        .assert()
        .code(0)
        .stdout("");
}

/// Several findings carry the same new file: one pass creates it once and takes every fix.
#[test]
fn findings_of_a_group_share_one_new_file() {
    let case = Path::new("fixtures/per-ingress-certificate/fail-two-ingresses.yaml");
    let analysis = common::analyze_paths(&[case]);
    let findings = certificate_findings(&analysis);
    assert_eq!(findings.len(), 2);
    let files: Vec<_> = findings
        .iter()
        .map(|d| d.fix.as_ref().expect("a fix").new_files.clone())
        .collect();
    assert_eq!(files[0], files[1], "the group's findings carry one file");
    let plan = fix::plan(&analysis.diagnostics, &analysis.sources, true);
    assert_eq!(plan.new_files.len(), 1);
    assert_eq!(plan.taken, 2);
    assert_eq!(plan.deferred, 0);
    // Without --unsafe-fixes, nothing of it.
    let safe = fix::plan(&analysis.diagnostics, &analysis.sources, false);
    assert!(safe.new_files.is_empty() && safe.taken == 0);
}

#[test]
fn a_group_whose_ingresses_disagree_on_the_issuer_gets_no_fix() {
    let case = Path::new("fixtures/per-ingress-certificate/fail-mismatched-issuers.yaml");
    assert_eq!(certificate_fixes(&[case]), [false, false]);
    // The same Ingresses without the one using the other issuer: fixed.
    let text = std::fs::read_to_string(case).unwrap();
    let agreeing = text
        .split("\n---\n")
        .filter(|doc| !doc.contains("letsencrypt-tenant"));
    let agreeing = agreeing.collect::<Vec<_>>().join("\n---\n");
    let (_dir, repo) = repo_with(&[("ingresses.yaml", &agreeing)]);
    assert_eq!(certificate_fixes(&[&repo]), [true, true]);
}

/// In a kustomize base the Certificate is written beside the Ingresses, listed in the
/// kustomization after its last resource, without a namespace (the kustomization sets it):
/// what `kubectl kustomize` builds from the fixed tree is the XKS guide's pattern.
#[test]
fn kustomize_base_gets_the_certificate_listed_and_built() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let base = repo.join("base");
    copy_tree(
        Path::new("fixtures/per-ingress-certificate/fail-kustomize-base"),
        &base,
    );
    let checked = check_dir(&repo, true, Some("per-ingress-certificate"));
    assert_eq!(checked.fixed, 2);
    let kustomization = std::fs::read_to_string(base.join("kustomization.yaml")).unwrap();
    assert!(
        kustomization
            .ends_with("  - billing.yaml # added last quarter\n  - example-org-certificate.yaml\n"),
        "{kustomization}"
    );
    let orders = std::fs::read_to_string(base.join("orders.yaml")).unwrap();
    assert!(
        orders.contains("  annotations:\n    # The namespace's own ACME issuer.\n    nginx.ingress.kubernetes.io/ssl-redirect: \"true\"\n"),
        "{orders}"
    );
    let created = documents_json(
        &std::fs::read_to_string(base.join("example-org-certificate.yaml")).unwrap(),
    );
    assert!(created[0]["metadata"].get("namespace").is_none());
    assert_eq!(
        created[0]["spec"]["dnsNames"],
        serde_json::json!([
            "api.shop.example.org",
            "billing.shop.example.org",
            "orders.shop.example.org"
        ])
    );
    assert_eq!(created[0]["spec"]["issuerRef"]["kind"], "Issuer");
    if std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        eprintln!(
            "SKIPPED: kubectl is not installed; the fixed base was not built with kubectl kustomize"
        );
        return;
    }
    let output = std::process::Command::new("kubectl")
        .arg("kustomize")
        .arg(&base)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let built = documents_json(&String::from_utf8(output.stdout).unwrap());
    let certificates: Vec<_> = built
        .iter()
        .filter(|o| o["kind"] == "Certificate")
        .collect();
    assert_eq!(certificates.len(), 1);
    assert_eq!(certificates[0]["metadata"]["namespace"], "shop");
    let ingresses: Vec<_> = built.iter().filter(|o| o["kind"] == "Ingress").collect();
    assert_eq!(ingresses.len(), 2);
    for ingress in ingresses {
        assert_eq!(ingress["metadata"]["namespace"], "shop");
        assert_eq!(ingress["spec"]["tls"][0]["secretName"], "example-org-tls");
        let annotations = ingress["metadata"]["annotations"].as_object();
        assert!(
            annotations.is_none_or(|a| !a.keys().any(|k| k.starts_with("cert-manager.io/"))),
            "{ingress}"
        );
    }
}

/// An issuer annotation a kustomize patch puts on the Ingresses (a patch may apply to
/// several objects), or one written in flow style, is left to the user: help, no fix.
#[test]
fn annotations_from_a_patch_or_in_flow_style_get_no_fix() {
    let ingress = |name: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\nspec:\n  rules:\n    - host: {name}.example.com\n  tls:\n    - hosts: [{name}.example.com]\n      secretName: {name}-tls\n"
        )
    };
    let patch = |name: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  annotations:\n    cert-manager.io/cluster-issuer: letsencrypt\n"
        )
    };
    let (_dir, repo) = repo_with(&[
        ("base/one.yaml", &ingress("one")),
        ("base/two.yaml", &ingress("two")),
        (
            "base/kustomization.yaml",
            "resources:\n  - one.yaml\n  - two.yaml\n",
        ),
        ("prod/patch-one.yaml", &patch("one")),
        ("prod/patch-two.yaml", &patch("two")),
        (
            "prod/kustomization.yaml",
            "namespace: prod\nresources:\n  - ../base\npatches:\n  - path: patch-one.yaml\n  - path: patch-two.yaml\n",
        ),
    ]);
    let analysis = common::analyze_paths(&[&repo]);
    let findings = certificate_findings(&analysis);
    assert_eq!(findings.len(), 2, "{:?}", analysis.diagnostics);
    assert!(findings.iter().all(|d| d.fix.is_none()));

    let flow = include_str!("../fixtures/per-ingress-certificate/fail-two-ingresses.yaml")
        .replacen(
            "  annotations:\n    cert-manager.io/cluster-issuer: letsencrypt\n",
            "  annotations: {cert-manager.io/cluster-issuer: letsencrypt}\n",
            1,
        );
    let (_dir, repo) = repo_with(&[("ingresses.yaml", &flow)]);
    assert_eq!(certificate_fixes(&[&repo]), [false, false]);
}

/// The Certificate, its Secret and its file never take a name in use: a Secret named like
/// the shared one and a file of the first choice's name push the fix to `-2`.
#[test]
fn shared_certificate_names_avoid_names_in_use() {
    let text = include_str!("../fixtures/per-ingress-certificate/fail-two-ingresses.yaml");
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: example-com-tls\n  namespace: tenant\ntype: Opaque\n";
    let (_dir, repo) = repo_with(&[("ingresses.yaml", text), ("secret.yaml", secret)]);
    check_dir(&repo, true, Some("per-ingress-certificate"));
    let created = documents_json(
        &std::fs::read_to_string(repo.join("example-com-2-certificate.yaml")).unwrap(),
    );
    assert_eq!(created[0]["metadata"]["name"], "example-com-2");
    assert_eq!(created[0]["spec"]["secretName"], "example-com-2-tls");

    let other =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unrelated\n  namespace: tenant\n";
    let (_dir, repo) = repo_with(&[
        ("ingresses.yaml", text),
        ("example-com-certificate.yaml", other),
    ]);
    check_dir(&repo, true, Some("per-ingress-certificate"));
    assert_eq!(
        std::fs::read_to_string(repo.join("example-com-certificate.yaml")).unwrap(),
        other
    );
    assert!(repo.join("example-com-2-certificate.yaml").is_file());
}

/// Hostile hosts: a control character or a name that is no host name keeps the group
/// from being fixed; a very long registered domain gives DNS-1123 names of at most 63
/// characters, and the new file stays in the repository.
#[test]
fn hostile_hosts_give_valid_names_or_no_fix() {
    let ingress = |name: &str, hosts: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: tenant\n  annotations:\n    cert-manager.io/cluster-issuer: letsencrypt\nspec:\n  tls:\n    - hosts: [{hosts}]\n      secretName: {name}-tls\n"
        )
    };
    for weird in [
        "\"bad\\u0007.example.com\"",
        "\"bad_name.example.com\"",
        "\"../x.example.com\"",
    ] {
        let text = format!(
            "{}---\n{}",
            ingress("one", &format!("one.example.com, {weird}")),
            ingress("two", "two.example.com")
        );
        let (_dir, repo) = repo_with(&[("ingresses.yaml", &text)]);
        let analysis = common::analyze_paths(&[&repo]);
        let findings = certificate_findings(&analysis);
        assert!(!findings.is_empty(), "{weird}");
        assert!(findings.iter().all(|d| d.fix.is_none()), "{weird}");
    }
    let long = format!("{}.{}.com", "a".repeat(63), "b-".repeat(31) + "b");
    let text = format!(
        "{}---\n{}",
        ingress("one", &format!("one.{long}")),
        ingress("two", &format!("two.{long}"))
    );
    let (_dir, repo) = repo_with(&[("ingresses.yaml", &text)]);
    check_dir(&repo, true, Some("per-ingress-certificate"));
    let created: Vec<_> = std::fs::read_dir(&repo)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-certificate.yaml"))
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    let certificate = documents_json(&std::fs::read_to_string(repo.join(&created[0])).unwrap());
    let dns_label = |s: &str| {
        s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
    };
    let name = certificate[0]["metadata"]["name"].as_str().unwrap();
    let secret = certificate[0]["spec"]["secretName"].as_str().unwrap();
    assert!(dns_label(name) && dns_label(secret), "{name} {secret}");
    assert_eq!(created[0], format!("{name}-certificate.yaml"));
}

/// A namespace that already has a Certificate for the domain with the same issuer: its
/// `dnsNames` gain the missing names (after the last, at its indentation, the comments
/// kept) and the Ingress points at its Secret; no new file.
#[test]
fn an_existing_certificate_is_extended() {
    let case = Path::new("fixtures/per-ingress-certificate/fail-extend-certificate.yaml");
    let text = std::fs::read_to_string(case).unwrap();
    let (_dir, repo) = repo_with(&[("tenant.yaml", &text)]);
    let checked = check_dir(&repo, true, Some("per-ingress-certificate"));
    assert_eq!((checked.fixed, checked.changed_files), (1, 1));
    let after = std::fs::read_to_string(repo.join("tenant.yaml")).unwrap();
    assert!(
        after.contains("    - app-two.example.com   # the second app\n    - app-three.example.com\n  secretName: shared-cert\n"),
        "{after}"
    );
    assert!(
        after
            .contains("  annotations:\n    nginx.ingress.kubernetes.io/proxy-body-size: 8m\nspec:")
    );
    assert!(after.contains("      secretName: shared-cert\n") && !after.contains("app-three-tls"));

    // A wildcard of the Certificate already matches the host: only the Ingress changes.
    let wildcard = text.replace(
        "    - app-one.example.com\n    - app-two.example.com   # the second app\n",
        "    - \"*.example.com\"\n",
    );
    assert_ne!(wildcard, text);
    let (_dir, repo) = repo_with(&[("tenant.yaml", &wildcard)]);
    let checked = check_dir(&repo, true, Some("per-ingress-certificate"));
    assert_eq!(checked.fixed, 1);
    let after = std::fs::read_to_string(repo.join("tenant.yaml")).unwrap();
    assert!(
        after.contains("  dnsNames:\n    - \"*.example.com\"\n  secretName: shared-cert\n"),
        "{after}"
    );
    assert!(after.contains("      secretName: shared-cert\n"));
}

/// A suppressed finding's Ingress is left as written; the others of its group share the new
/// Certificate (which lists every host of the group, so the suppressed one can join later).
#[test]
fn a_suppressed_ingress_of_a_group_is_not_edited() {
    let ingress = |name: &str, comment: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  namespace: tenant\n  annotations:\n    cert-manager.io/cluster-issuer: letsencrypt{comment}\nspec:\n  rules:\n    - host: {name}.example.com\n  tls:\n    - hosts: [{name}.example.com]\n      secretName: {name}-tls\n"
        )
    };
    let kept = ingress(
        "legacy",
        " # xks-lint: ignore[per-ingress-certificate] -- pinned",
    );
    let (_dir, repo) = repo_with(&[
        ("a.yaml", &ingress("shop", "")),
        ("b.yaml", &ingress("blog", "")),
        ("c.yaml", &kept),
    ]);
    let checked = check_dir(&repo, true, Some("per-ingress-certificate"));
    assert_eq!(checked.fixed, 2);
    assert_eq!(std::fs::read_to_string(repo.join("c.yaml")).unwrap(), kept);
    let created = documents_json(
        &std::fs::read_to_string(repo.join("example-com-certificate.yaml")).unwrap(),
    );
    assert_eq!(
        created[0]["spec"]["dnsNames"],
        serde_json::json!(["blog.example.com", "legacy.example.com", "shop.example.com"])
    );
    for file in ["a.yaml", "b.yaml"] {
        let text = std::fs::read_to_string(repo.join(file)).unwrap();
        assert!(
            !text.contains("annotations") && text.contains("secretName: example-com-tls"),
            "{text}"
        );
    }
}

/// A base rendered by two overlays (two namespaces, two groups) gets one Certificate file,
/// without a namespace, listed once: both groups' fixes carry the identical file and edits.
#[test]
fn a_base_rendered_by_two_overlays_gets_one_certificate() {
    let ingress = |name: &str| {
        format!(
            "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: {name}\n  annotations:\n    cert-manager.io/cluster-issuer: letsencrypt\nspec:\n  rules:\n    - host: {name}.example.com\n  tls:\n    - hosts: [{name}.example.com]\n      secretName: {name}-tls\n"
        )
    };
    let (_dir, repo) = repo_with(&[
        ("base/shop.yaml", &ingress("shop")),
        ("base/blog.yaml", &ingress("blog")),
        (
            "base/kustomization.yaml",
            "resources:\n  - shop.yaml\n  - blog.yaml\n",
        ),
        (
            "prod/kustomization.yaml",
            "namespace: prod\nresources:\n  - ../base\n",
        ),
        (
            "test/kustomization.yaml",
            "namespace: test\nresources:\n  - ../base\n",
        ),
    ]);
    let before = common::analyze_paths(&[&repo]);
    assert_eq!(certificate_findings(&before).len(), 4);
    let checked = check_dir(&repo, true, Some("per-ingress-certificate"));
    assert_eq!(checked.fixed, 4);
    assert_eq!(
        checked.changed_files, 4,
        "two Ingresses, the kustomization, one new file"
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("base/kustomization.yaml")).unwrap(),
        "resources:\n  - shop.yaml\n  - blog.yaml\n  - example-com-certificate.yaml\n"
    );
    let created = documents_json(
        &std::fs::read_to_string(repo.join("base/example-com-certificate.yaml")).unwrap(),
    );
    assert!(created[0]["metadata"].get("namespace").is_none());
}
