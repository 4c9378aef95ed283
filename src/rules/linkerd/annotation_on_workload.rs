use super::{INJECT, INJECT_VALUES, is_linkerd_annotation};
use crate::load::yaml::Node;
use crate::model::{Object, WorkloadKind, map_entries};
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(
    LinkerdAnnotationOnWorkload,
    "linkerd-annotation-on-workload"
);

impl Rule for LinkerdAnnotationOnWorkload {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        for object in &ctx.model.objects {
            let workload_kind = object.workload().map(|w| w.kind);
            match workload_kind {
                Some(WorkloadKind::Pod) => check_inject_value(object, &["metadata"], sink),
                Some(kind) => {
                    check_misplaced(object, kind, &["metadata"], &object.kind, sink);
                    // A CronJob's `spec.jobTemplate.metadata` is the Job's metadata, not the pod's.
                    if object.kind == "CronJob" {
                        let job = &["spec", "jobTemplate", "metadata"];
                        check_misplaced(object, kind, job, "Job template", sink);
                    }
                    let mut template_meta: Vec<&str> = kind.template_path().to_vec();
                    template_meta.push("metadata");
                    check_inject_value(object, &template_meta, sink);
                }
                None if object.kind == "Namespace" => {
                    check_inject_value(object, &["metadata"], sink)
                }
                None => {}
            }
        }
    }
}

fn check_misplaced(
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
    }
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
