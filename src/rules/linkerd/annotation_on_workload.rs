use super::{INJECT, INJECT_VALUES, is_linkerd_annotation};
use crate::diagnostic::{Applicability, Edit, Fix};
use crate::fix::block::{Block, point, range};
use crate::fix::text;
use crate::load::Sources;
use crate::load::yaml::Node;
use crate::model::{Object, WorkloadKind, map_entries};
use crate::rules::{Rule, RuleContext, Sink, Work, declare_rule, rule_identity};

declare_rule!(
    LinkerdAnnotationOnWorkload,
    "linkerd-annotation-on-workload"
);

impl Rule for LinkerdAnnotationOnWorkload {
    rule_identity!();

    fn work(&self) -> Work {
        Work::EachObject
    }

    fn check_object(&self, ctx: &RuleContext<'_>, object: &Object, sink: &mut Sink<'_>) {
        let workload_kind = object.workload().map(|w| w.kind);
        match workload_kind {
            Some(WorkloadKind::Pod) => check_inject_value(object, &["metadata"], sink),
            Some(kind) => {
                let sources = ctx.sources;
                check_misplaced(sources, object, kind, &["metadata"], &object.kind, sink);
                // A CronJob's `spec.jobTemplate.metadata` is the Job's metadata, not the pod's.
                if object.kind == "CronJob" {
                    let job = &["spec", "jobTemplate", "metadata"];
                    check_misplaced(sources, object, kind, job, "Job template", sink);
                }
                let mut template_meta: Vec<&str> = kind.template_path().to_vec();
                template_meta.push("metadata");
                check_inject_value(object, &template_meta, sink);
            }
            None if object.kind == "Namespace" => check_inject_value(object, &["metadata"], sink),
            None => {}
        }
    }
}

fn check_misplaced(
    sources: &Sources,
    object: &Object,
    kind: WorkloadKind,
    metadata_path: &[&str],
    owner: &str,
    sink: &mut Sink<'_>,
) {
    let annotations = object
        .node
        .path(metadata_path)
        .and_then(|m| m.get("annotations"));
    let template_path = kind.template_path();
    let template_meta = object
        .node
        .path(template_path)
        .and_then(|t| t.entry("metadata"));
    let template_annotations = template_meta.and_then(|(_, m)| m.get("annotations"));
    let template_text = format!("{}.metadata.annotations", template_path.join("."));
    for (key, key_node, value) in map_entries(annotations) {
        if !is_linkerd_annotation(key) {
            continue;
        }
        let value_text = value.scalar_text().unwrap_or_default();
        let already_there = template_annotations.and_then(|a| a.get(key)).is_some();
        let help = if already_there {
            format!(
                "the pod template already sets `{key}`; delete this copy from the {owner} metadata"
            )
        } else {
            format!(
                "move it to `{template_text}`:\n  template:\n    metadata:\n      annotations:\n        {key}: {}",
                quoted(value_text)
            )
        };
        let diagnostic = sink
            .report(
                object.location_of(key_node),
                format!(
                    "`{key}` is on the {owner} metadata, where Linkerd never reads it: {}",
                    if key == INJECT {
                        "the proxy is never injected"
                    } else {
                        "the proxy setting is never applied"
                    }
                ),
            )
            .with_label("Linkerd reads this from the pod template only")
            .with_help(help)
            .with_object(
                object.identity(),
                format!("{}.annotations.{key}", metadata_path.join(".")),
            );
        if let Some((meta, _)) = template_meta {
            diagnostic.with_related(
                object.location_of(meta),
                "pod template metadata: where it belongs",
            );
        }
        let place = Misplaced {
            object,
            annotations: annotations.and_then(|_| object.node.path(metadata_path)),
            metadata_path,
            key,
            key_node,
            value,
            template_path,
            already_there,
        };
        if let Some(fix) = move_fix(sources, &place) {
            diagnostic.with_fix(fix);
        }
    }
}

/// A Linkerd annotation on workload metadata, and where it belongs.
struct Misplaced<'a> {
    object: &'a Object,
    /// The metadata map holding the `annotations` entry.
    annotations: Option<&'a Node>,
    metadata_path: &'a [&'a str],
    key: &'a str,
    key_node: &'a Node,
    value: &'a Node,
    template_path: &'a [&'a str],
    already_there: bool,
}

/// Moves the annotation to the pod template: its lines leave the workload metadata (with
/// the `annotations:` key when it was the only one) and join the template's annotations,
/// which are created, at the indentation the file uses, when missing. Only block-style
/// mappings written in one file are edited; anything else (flow style, a value spread over
/// kustomize patches, several entries on a line) gets no fix.
fn move_fix(sources: &Sources, place: &Misplaced<'_>) -> Option<Fix> {
    let object = place.object;
    let file = object.location_of(place.key_node).file;
    let source = sources.get(file)?;
    let block = Block::new(file, &source.text, object);
    let text = block.text;
    // The moved line: the entry as written (quoting and comment kept), without indentation.
    let (start, end) = block.entry_lines(place.key_node, place.value)?;
    if !place.value.span.is_one_line(text) {
        return None;
    }
    let written = text
        .get(place.key_node.span.start.byte as usize..end)?
        .trim_end_matches(['\n', '\r']);
    // Delete the entry, or the whole `annotations:` when it is the only entry.
    let metadata = place.annotations?;
    let (annotations_key, annotations) = metadata.entry("annotations")?;
    let entries = annotations.as_map()?;
    let deletion = if entries.len() == 1 && metadata.as_map()?.len() == 1 {
        // `annotations` is all the metadata holds (a Job template's): the metadata goes.
        let (parent, last) = place.metadata_path.split_at(place.metadata_path.len() - 1);
        let (metadata_key, _) = object.node.path(parent)?.entry(last.first()?)?;
        block.entry_lines(metadata_key, metadata)?
    } else if entries.len() == 1 {
        block.entry_lines(annotations_key, annotations)?
    } else {
        // A block map: every entry on lines of its own.
        for (k, v) in entries {
            block.entry_lines(k, v)?;
        }
        (start, end)
    };
    // Comment lines the deletion takes (between `annotations:` and the entry) move with it.
    let comments: Vec<&str> = if deletion == (start, end) {
        Vec::new()
    } else {
        let from = text::line_end(text, annotations_key.span.start.byte as usize);
        text.get(from..start)
            .unwrap_or("")
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with('#'))
            .collect()
    };
    let moved = |indent: &str| {
        let mut out: String = comments
            .iter()
            .map(|comment| format!("{indent}{comment}\n"))
            .collect();
        out.push_str(&format!("{indent}{written}\n"));
        out
    };
    let mut edits = vec![Edit {
        file,
        span: range(text, deletion.0, deletion.1),
        replacement: String::new(),
    }];
    if !place.already_there {
        let template = object.node.path(place.template_path)?;
        let (parent_path, last) = place.template_path.split_at(place.template_path.len() - 1);
        let template_key = object.node.path(parent_path)?.entry(last.first()?)?.0;
        let insertion = match template.entry("metadata") {
            Some((meta_key, meta)) => {
                let meta_indent = block.indent(meta_key)?;
                let (first_key, indent) = block.first_entry(meta)?;
                let step = indent
                    .len()
                    .checked_sub(meta_indent.len())
                    .filter(|s| *s > 0)?;
                match meta.entry("annotations") {
                    Some((_, existing)) => {
                        // After the last entry, at the indentation of the first.
                        let (_, entry_indent) = block.first_entry(existing)?;
                        let (last_key, last_value) = existing.as_map()?.last()?;
                        let (_, at) = block.entry_lines(last_key, last_value)?;
                        let newline = if text[..at].ends_with('\n') { "" } else { "\n" };
                        (at, format!("{newline}{}", moved(entry_indent)))
                    }
                    None => {
                        let at = text::line_start(text, first_key.span.start.byte as usize);
                        let inner = " ".repeat(indent.len() + step);
                        (at, format!("{indent}annotations:\n{}", moved(&inner)))
                    }
                }
            }
            None => {
                let template_indent = block.indent(template_key)?;
                let (first_key, indent) = block.first_entry(template)?;
                let step = indent
                    .len()
                    .checked_sub(template_indent.len())
                    .filter(|s| *s > 0)?;
                let at = text::line_start(text, first_key.span.start.byte as usize);
                let annotations = " ".repeat(indent.len() + step);
                let entry = " ".repeat(indent.len() + 2 * step);
                (
                    at,
                    format!(
                        "{indent}metadata:\n{annotations}annotations:\n{}",
                        moved(&entry)
                    ),
                )
            }
        };
        // The insertion must not fall inside the deleted lines.
        if insertion.0 > deletion.0 && insertion.0 < deletion.1 {
            return None;
        }
        edits.push(Edit {
            file,
            span: point(text, insertion.0),
            replacement: insertion.1,
        });
    }
    let key = place.key;
    Some(Fix {
        applicability: Applicability::Safe,
        description: if place.already_there {
            format!("delete `{key}` from the workload metadata (the pod template sets it)")
        } else {
            format!("move `{key}` to the pod template's annotations")
        },
        edits,
        new_files: Vec::new(),
    })
}

fn check_inject_value(object: &Object, metadata_path: &[&str], sink: &mut Sink<'_>) {
    let annotations = object
        .node
        .path(metadata_path)
        .and_then(|m| m.get("annotations"));
    let Some((_, value)) = annotations.and_then(|a| a.entry(INJECT)) else {
        return;
    };
    let text = value.scalar_text().unwrap_or_default();
    if INJECT_VALUES.contains(&text) {
        return;
    }
    report_bad_value(object, metadata_path, value, text, sink);
}

fn report_bad_value(
    object: &Object,
    metadata_path: &[&str],
    value: &Node,
    text: &str,
    sink: &mut Sink<'_>,
) {
    let suggestion = match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "y" | "enable" | "enabled" => "enabled",
        "false" | "no" | "off" | "n" | "disable" | "disabled" => "disabled",
        _ => "enabled",
    };
    sink.report(
        object.location_of(value),
        format!(
            "`{INJECT}: {text}` is not a value Linkerd understands (enabled, disabled or ingress)"
        ),
    )
    .with_label("expected enabled, disabled or ingress")
    .with_help(format!("write `{INJECT}: {suggestion}`"))
    .with_object(
        object.identity(),
        format!("{}.annotations.{INJECT}", metadata_path.join(".")),
    );
}

fn quoted(text: &str) -> String {
    if text.is_empty() || crate::load::yaml::resolve_plain(text) != crate::load::yaml::Resolved::Str
    {
        format!("\"{text}\"")
    } else {
        text.to_string()
    }
}
