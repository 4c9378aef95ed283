//! SARIF 2.1.0 output for GitHub code scanning and other SARIF consumers, built from
//! the `serde-sarif` types (generated from the SARIF schema) rather than hand-written JSON.
//!
//! Paths are relative to the repository root under `uriBaseId` `%SRCROOT%`; columns count
//! Unicode code points (`run.columnKind`); each result carries a line-independent
//! fingerprint. Rule metadata comes from the rule documents (`rules/<id>.md`).

use std::collections::BTreeMap;

use serde_json::{Value, json};
use serde_sarif::sarif;

use super::RenderOptions;
use super::stream::{write_array, write_pretty};
use crate::analysis::Analysis;
use crate::diagnostic::{Diagnostic, Severity};
use crate::gate::fingerprint::SARIF_KEY;
use crate::gate::{GateOutcome, SuppressionKind};
use crate::load::SourceFile;
use crate::rules::{RegisteredRule, RuleDoc, registry};
use crate::span::{Location, Span};

pub const SARIF_SCHEMA: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
const TOOL_NAME: &str = env!("CARGO_PKG_NAME");
const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
const REPOSITORY: &str = env!("CARGO_PKG_REPOSITORY");
/// GitHub code scanning truncates longer rule descriptions.
const MAX_DESCRIPTION: usize = 1024;
/// Rules whose findings are reported as tool execution notifications as well: the input
/// could not be analysed, which a SARIF consumer should know apart from lint results.
const NOTIFICATION_RULES: [&str; 2] = ["parse-error", "unreadable-file"];

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

fn result_level(severity: Severity) -> sarif::ResultLevel {
    match severity {
        Severity::Error => sarif::ResultLevel::Error,
        Severity::Warning => sarif::ResultLevel::Warning,
        Severity::Note => sarif::ResultLevel::Note,
    }
}

/// GitHub's scale: 7.0–8.9 high, 4.0–6.9 medium, 0.1–3.9 low.
fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "8.0",
        Severity::Warning => "5.5",
        Severity::Note => "3.0",
    }
}

/// `rate-limit-conflict` → `RateLimitConflict`, the friendly rule name SARIF viewers show.
fn pascal_case(id: &str) -> String {
    id.split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// Cuts at a character boundary and marks the cut, keeping at most `max` characters.
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn message(text: impl Into<String>) -> sarif::Message {
    sarif::Message {
        text: Some(text.into()),
        ..Default::default()
    }
}

fn multiformat(text: impl Into<String>) -> sarif::MultiformatMessageString {
    sarif::MultiformatMessageString::builder()
        .text(text.into())
        .build()
}

/// `file` is the one the span is in: a span stores no columns, they are counted in its text
/// (see `Span::start_pos`); none (a file to create) counts in an empty text.
fn region(span: Span, file: Option<&SourceFile>) -> sarif::Region {
    let number = |n: u32| i64::from(n);
    let (start, end) = match file {
        Some(file) => file.range(span),
        None => (span.start_pos(""), span.end_pos("")),
    };
    sarif::Region {
        start_line: Some(number(start.line)),
        start_column: Some(number(start.col)),
        end_line: Some(number(end.line)),
        end_column: Some(number(end.col)),
        ..Default::default()
    }
}

/// A root-relative path as a URI reference: every byte outside the unreserved set and `/`
/// is percent-encoded, so spaces and `#` in file names stay part of the path.
pub fn uri(path: &str) -> String {
    const KEEP: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(path, KEEP).to_string()
}

fn artifact(gate: &GateOutcome, location: &Location) -> sarif::ArtifactLocation {
    sarif::ArtifactLocation {
        uri: Some(uri(gate.repo_path(location.file))),
        uri_base_id: Some("%SRCROOT%".to_string()),
        ..Default::default()
    }
}

fn location(analysis: &Analysis, at: &Location, text: Option<&str>) -> sarif::Location {
    sarif::Location {
        physical_location: Some(sarif::PhysicalLocation {
            artifact_location: Some(artifact(&analysis.gate, at)),
            region: Some(region(at.span, analysis.sources.get(at.file))),
            ..Default::default()
        }),
        message: text.map(message),
        ..Default::default()
    }
}

fn rule_descriptor(doc: &RuleDoc, severity: Severity) -> sarif::ReportingDescriptor {
    let mut tags = doc.tags.clone();
    let mut extra = BTreeMap::new();
    extra.insert("precision".to_string(), json!(doc.precision));
    if doc.weakens_isolation {
        // GitHub only shows security-severity for rules tagged `security`.
        if !tags.iter().any(|t| t == "security") {
            tags.push("security".to_string());
        }
        extra.insert(
            "security-severity".to_string(),
            json!(security_severity(severity)),
        );
    }
    let descriptor = sarif::ReportingDescriptor::builder().id(doc.id).build();
    sarif::ReportingDescriptor {
        name: Some(pascal_case(doc.id)),
        short_description: Some(multiformat(doc.title.clone())),
        full_description: Some(multiformat(truncate(&doc.summary(), MAX_DESCRIPTION))),
        help: Some(
            sarif::MultiformatMessageString::builder()
                .text(doc.body)
                .markdown(doc.body)
                .build(),
        ),
        help_uri: Some(format!("{REPOSITORY}/blob/main/rules/{}.md", doc.id)),
        default_configuration: Some(sarif::ReportingConfiguration {
            level: Some(json!(level(severity))),
            ..Default::default()
        }),
        properties: Some(sarif::PropertyBag {
            tags: Some(tags),
            additional_properties: extra,
        }),
        ..descriptor
    }
}

/// The deleted region of an edit: lines and columns, plus the byte range `--fix` replaces.
fn edit_region(span: Span, file: Option<&SourceFile>) -> sarif::Region {
    sarif::Region {
        byte_offset: Some(i64::from(span.start.byte)),
        byte_length: Some(i64::from(span.end.byte.saturating_sub(span.start.byte))),
        ..region(span, file)
    }
}

/// The edits of a fix as SARIF artifact changes, one per file (in file order), then one per
/// created file (an insertion at its start): exactly what `check --fix` applies.
fn artifact_changes(
    fix: &crate::diagnostic::Fix,
    analysis: &Analysis,
) -> Vec<sarif::ArtifactChange> {
    let gate = &analysis.gate;
    let mut by_file: BTreeMap<crate::span::FileId, Vec<&crate::diagnostic::Edit>> = BTreeMap::new();
    for edit in &fix.edits {
        by_file.entry(edit.file).or_default().push(edit);
    }
    let replacement = |span: Span, text: &str, file: Option<&SourceFile>| sarif::Replacement {
        inserted_content: Some(sarif::ArtifactContent {
            text: Some(text.to_string()),
            ..Default::default()
        }),
        ..sarif::Replacement::builder()
            .deleted_region(edit_region(span, file))
            .build()
    };
    let mut changes: Vec<sarif::ArtifactChange> = by_file
        .into_iter()
        .map(|(file, mut edits)| {
            edits.sort_by_key(|e| (e.span.start.byte, e.span.end.byte));
            let at = Location {
                file,
                span: Span::default(),
            };
            sarif::ArtifactChange::builder()
                .artifact_location(artifact(gate, &at))
                .replacements(
                    edits
                        .iter()
                        .map(|e| replacement(e.span, &e.replacement, analysis.sources.get(file)))
                        .collect::<Vec<_>>(),
                )
                .build()
        })
        .collect();
    for new in &fix.new_files {
        let beside = gate.repo_path(new.beside);
        let path = match beside.rsplit_once('/') {
            Some((dir, _)) => format!("{dir}/{}", new.name),
            None => new.name.clone(),
        };
        let start = crate::span::Pos {
            byte: 0,
            line: 1,
            col: 1,
        };
        changes.push(
            sarif::ArtifactChange::builder()
                .artifact_location(sarif::ArtifactLocation {
                    uri: Some(uri(&path)),
                    uri_base_id: Some("%SRCROOT%".to_string()),
                    ..Default::default()
                })
                .replacements(vec![replacement(Span::point(start), &new.text, None)])
                .build(),
        );
    }
    changes
}

fn result(
    diagnostic: &Diagnostic,
    rule_index: Option<usize>,
    analysis: &Analysis,
    suppression: Option<&crate::gate::Suppressed>,
) -> sarif::Result {
    let related: Vec<sarif::Location> = diagnostic
        .related
        .iter()
        .enumerate()
        .map(|(i, r)| sarif::Location {
            id: Some(i64::try_from(i).unwrap_or(i64::MAX)),
            ..location(analysis, &r.location, Some(&r.message))
        })
        .collect();
    // The alert's title is the finding's one paragraph; the rule's help is `rule.help`, and
    // the finding's own help (often a YAML snippet to add) is a result property and, with
    // an automatic fix, that fix's description.
    let text = diagnostic.message.clone();
    let help = diagnostic.help_text();
    let fixes = diagnostic.fix.as_ref().map(|fix| {
        let description = match &help {
            Some(help) => format!("{}\n\n{help}", fix.description),
            None => fix.description.clone(),
        };
        vec![sarif::Fix {
            description: Some(message(description)),
            ..sarif::Fix::builder()
                .artifact_changes(artifact_changes(fix, analysis))
                .build()
        }]
    });
    let suppressions = suppression.map(|s| {
        vec![sarif::Suppression {
            justification: s.reason.clone(),
            location: Some(location(
                analysis,
                &s.location,
                Some(match s.kind {
                    SuppressionKind::Annotation => "xks-lint.io/ignore annotation",
                    SuppressionKind::Comment => "xks-lint: ignore comment",
                }),
            )),
            ..sarif::Suppression::builder()
                .kind(json!("inSource"))
                .build()
        }]
    });
    sarif::Result {
        rule_id: Some(diagnostic.rule.to_string()),
        rule_index: rule_index.and_then(|i| i64::try_from(i).ok()),
        level: Some(result_level(diagnostic.severity)),
        locations: Some(vec![location(analysis, &diagnostic.location, None)]),
        related_locations: (!related.is_empty()).then_some(related),
        partial_fingerprints: diagnostic
            .fingerprint
            .as_ref()
            .map(|fingerprint| BTreeMap::from([(SARIF_KEY.to_string(), fingerprint.clone())])),
        fixes,
        suppressions,
        properties: help.map(|help| sarif::PropertyBag {
            additional_properties: BTreeMap::from([("help".to_string(), json!(help))]),
            ..Default::default()
        }),
        ..sarif::Result::builder().message(message(text)).build()
    }
}

fn notification(diagnostic: &Diagnostic, analysis: &Analysis) -> sarif::Notification {
    sarif::Notification {
        level: Some(json!(level(diagnostic.severity))),
        locations: Some(vec![location(analysis, &diagnostic.location, None)]),
        descriptor: Some(sarif::ReportingDescriptorReference {
            id: Some(diagnostic.rule.to_string()),
            ..Default::default()
        }),
        ..sarif::Notification::builder()
            .message(message(diagnostic.message.clone()))
            .build()
    }
}

/// The rules the log describes, in `tool.driver.rules` order.
fn described_rules(options: &RenderOptions) -> Vec<&'static RegisteredRule> {
    registry()
        .iter()
        .filter(|r| options.selection.enabled(r.doc.id))
        .collect()
}

/// Result `index` of the log: the findings, then the suppressed findings.
fn result_at(
    analysis: &Analysis,
    rules: &[&RegisteredRule],
    index: usize,
) -> Option<sarif::Result> {
    let rule_index = |id: &str| rules.iter().position(|r| r.doc.id == id);
    match analysis.diagnostics.get(index) {
        Some(d) => Some(result(d, rule_index(d.rule), analysis, None)),
        None => {
            let s = analysis
                .gate
                .suppressed
                .get(index - analysis.diagnostics.len())?;
            Some(result(
                &s.diagnostic,
                rule_index(s.diagnostic.rule),
                analysis,
                Some(s),
            ))
        }
    }
}

fn result_count(analysis: &Analysis) -> usize {
    analysis.diagnostics.len() + analysis.gate.suppressed.len()
}

/// The SARIF log as a value (tests inspect it; `render` prints it).
pub fn log(analysis: &Analysis, options: &RenderOptions) -> sarif::Sarif {
    let rules = described_rules(options);
    let results = (0..result_count(analysis))
        .filter_map(|index| result_at(analysis, &rules, index))
        .collect();
    log_with(analysis, options, &rules, results)
}

/// The log with `results` as its run's results.
fn log_with(
    analysis: &Analysis,
    options: &RenderOptions,
    rules: &[&RegisteredRule],
    results: Vec<sarif::Result>,
) -> sarif::Sarif {
    let descriptors = rules
        .iter()
        .map(|r| {
            let severity = options
                .selection
                .severity
                .get(r.doc.id)
                .copied()
                .unwrap_or(r.doc.severity);
            rule_descriptor(&r.doc, severity)
        })
        .collect();
    let notifications: Vec<sarif::Notification> = analysis
        .diagnostics
        .iter()
        .filter(|d| NOTIFICATION_RULES.contains(&d.rule))
        .map(|d| notification(d, analysis))
        .collect();
    let automation_details = options.sarif_category.as_ref().map(|category| {
        // GitHub reads everything before the last `/` as the category.
        let id = if category.ends_with('/') {
            category.clone()
        } else {
            format!("{category}/")
        };
        sarif::RunAutomationDetails {
            id: Some(id),
            ..Default::default()
        }
    });
    let driver = sarif::ToolComponent {
        version: Some(TOOL_VERSION.to_string()),
        semantic_version: Some(TOOL_VERSION.to_string()),
        information_uri: Some(REPOSITORY.to_string()),
        rules: Some(descriptors),
        ..sarif::ToolComponent::builder().name(TOOL_NAME).build()
    };
    let invocation = sarif::Invocation {
        tool_execution_notifications: (!notifications.is_empty()).then_some(notifications),
        ..sarif::Invocation::builder()
            .execution_successful(true)
            .build()
    };
    // Manifest files the walk left out (hidden, ignored, excluded): a reviewer of the upload
    // sees that the check did not cover them.
    let summary = analysis.summary();
    let mut run_properties = BTreeMap::new();
    run_properties.insert(
        "xksLint/filesLeftOut".to_string(),
        json!({
            "hidden": summary.files_hidden,
            "ignored": summary.files_ignored,
            "excluded": summary.files_excluded,
        }),
    );
    let run = sarif::Run {
        properties: Some(sarif::PropertyBag {
            tags: None,
            additional_properties: run_properties,
        }),
        automation_details,
        column_kind: Some(json!("unicodeCodePoints")),
        invocations: Some(vec![invocation]),
        results: Some(results),
        ..sarif::Run::builder()
            .tool(sarif::Tool::builder().driver(driver).build())
            .build()
    };
    sarif::Sarif {
        schema: Some(SARIF_SCHEMA.to_string()),
        ..sarif::Sarif::builder()
            .version(Value::String("2.1.0".to_string()))
            .runs(vec![run])
            .build()
    }
}

/// The results of the run as the pretty printer writes them when there are none: a line
/// break first, so only the run's own key can match (a string never holds a raw one).
const NO_RESULTS: &str = "\n      \"results\": []";

/// Writes the log to `out` as it is serialised, byte for byte what [`render`] returns,
/// without holding it in memory (at 100,000 workloads the results alone are hundreds of
/// megabytes as values): the log without results, with the results streamed in their place.
pub fn write(
    analysis: &Analysis,
    options: &RenderOptions,
    out: &mut (impl std::io::Write + ?Sized),
) -> std::io::Result<()> {
    let rules = described_rules(options);
    let frame = serde_json::to_string_pretty(&log_with(analysis, options, &rules, Vec::new()))
        .map_err(std::io::Error::other)?;
    let Some(at) = frame.find(NO_RESULTS) else {
        // Not reached (the run always has results); the whole log is still right.
        serde_json::to_writer_pretty(&mut *out, &log(analysis, options))
            .map_err(std::io::Error::from)?;
        return out.write_all(b"\n");
    };
    let (before, after) = frame.split_at(at + NO_RESULTS.len());
    out.write_all(before.trim_end_matches("[]").as_bytes())?;
    write_array(
        out,
        3,
        result_count(analysis),
        |index, buffer| match result_at(analysis, &rules, index) {
            Some(result) => write_pretty(buffer, &result, 4),
            None => Ok(()),
        },
    )?;
    out.write_all(after.as_bytes())?;
    out.write_all(b"\n")
}

pub fn render(analysis: &Analysis, options: &RenderOptions) -> String {
    let mut text = serde_json::to_string_pretty(&log(analysis, options)).unwrap_or_else(|e| {
        // Serialising plain structs cannot fail in practice; still emit valid JSON.
        json!({"version": "2.1.0", "runs": [], "properties": {"error": e.to_string()}}).to_string()
    });
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "---\ntitle: Test rule\nseverity: error\ntags: a, b\nprecision: medium\nweakens-isolation: true\nfix: none\n---\n\n## Why\n\nFirst paragraph\nwrapped.\n\nSecond.\n\n## Bad\n\nx\n\n## Good\n\ny\n\n## Fix\n\nz\n";

    #[test]
    fn isolation_rules_get_security_severity_and_tag() {
        let doc = RuleDoc::parse("test-rule", DOC);
        assert!(doc.defects.is_empty(), "{:?}", doc.defects);
        let descriptor = rule_descriptor(&doc, Severity::Error);
        let value = serde_json::to_value(&descriptor).unwrap();
        assert_eq!(value["name"], "TestRule");
        assert_eq!(value["fullDescription"]["text"], "First paragraph wrapped.");
        assert_eq!(value["properties"]["security-severity"], "8.0");
        assert_eq!(value["properties"]["precision"], "medium");
        assert_eq!(value["properties"]["tags"], json!(["a", "b", "security"]));
        let warning = serde_json::to_value(rule_descriptor(&doc, Severity::Warning)).unwrap();
        assert_eq!(warning["properties"]["security-severity"], "5.5");
        assert_eq!(warning["defaultConfiguration"]["level"], "warning");
    }

    #[test]
    fn long_descriptions_are_cut_to_the_limit() {
        let long = "word ".repeat(400);
        let cut = truncate(&long, MAX_DESCRIPTION);
        assert_eq!(cut.chars().count(), MAX_DESCRIPTION);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate("short", MAX_DESCRIPTION), "short");
    }
}
