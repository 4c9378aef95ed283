use crate::diagnostic::{Applicability, Edit, Fix};
use crate::fix::text;
use crate::load::Sources;
use crate::load::yaml::{Node, NodeKind, Resolved, Style};
use crate::model::Object;
use crate::rules::{Rule, RuleContext, Sink, Work, declare_rule, rule_identity};

declare_rule!(AnnotationNotString, "annotation-not-string");

impl Rule for AnnotationNotString {
    rule_identity!();

    fn work(&self) -> Work {
        Work::EachObject
    }

    fn check_object(&self, ctx: &RuleContext<'_>, object: &Object, sink: &mut Sink<'_>) {
        visit(ctx.sources, object, &object.node, &mut Vec::new(), sink);
    }
}

/// Finds every string-to-string map of the object: `labels` and `annotations`
/// of any `metadata` (the object's own, pod templates, job templates) and any
/// `matchLabels` of a label selector.
fn visit<'n>(
    sources: &Sources,
    object: &Object,
    node: &'n Node,
    path: &mut Vec<&'n str>,
    sink: &mut Sink<'_>,
) {
    match &node.kind {
        NodeKind::Map(entries, _) => {
            for (key, value) in entries {
                // A scalar value is neither a map to check nor one to search further: most
                // entries of a manifest end here, before their key is read.
                if matches!(value.kind, NodeKind::Scalar { .. }) {
                    continue;
                }
                let Some(key_text) = key.scalar_text() else {
                    continue;
                };
                path.push(key_text);
                let parent = path.len().checked_sub(2).map(|i| path[i]);
                let is_string_map = key_text == "matchLabels"
                    || (matches!(key_text, "labels" | "annotations") && parent == Some("metadata"));
                if is_string_map {
                    check_values(sources, object, value, path, sink);
                } else {
                    visit(sources, object, value, path, sink);
                }
                path.pop();
            }
        }
        NodeKind::Seq(items, _) => {
            for item in items {
                visit(sources, object, item, path, sink);
            }
        }
        NodeKind::Scalar { .. } => {}
    }
}

fn check_values(
    sources: &Sources,
    object: &Object,
    map: &Node,
    path: &[&str],
    sink: &mut Sink<'_>,
) {
    let Some(entries) = map.as_map() else {
        return;
    };
    let what = match path.last() {
        Some(&"annotations") => "annotation",
        _ => "label",
    };
    for (key, value) in entries {
        let Some(key_text) = key.scalar_text() else {
            continue;
        };
        let (read_as, fix) = match (value.as_scalar(), &value.kind) {
            (Some(scalar), _) => match scalar.resolve() {
                Resolved::Str | Resolved::Null => continue,
                Resolved::Bool(b) => (format!("the boolean {b}"), quote(scalar.value)),
                Resolved::Int(i) => (format!("the integer {i}"), quote(scalar.value)),
                Resolved::Float(_) => ("a floating-point number".to_string(), quote(scalar.value)),
            },
            (None, NodeKind::Seq(_, _)) => ("a list".to_string(), String::new()),
            (None, _) => ("a mapping".to_string(), String::new()),
        };
        let node_path = format!("{}.{key_text}", path.join("."));
        let help = if fix.is_empty() {
            format!("{what} values must be strings: write the value as one string")
        } else {
            format!("quote the value: `{key_text}: {fix}`")
        };
        let diagnostic = sink
            .report(
                object.location_of(value),
                format!(
                    "{what} `{key_text}` is read as {read_as}, not a string: the API server rejects the {}",
                    object.kind
                ),
            )
            .with_label(format!("not a string ({read_as})"))
            .with_help(help)
            .with_object(object.identity(), node_path);
        // Quoting is safe for a plain scalar written on one line, exactly where its span
        // says (not an alias, not tagged, not synthesised): the quoted form is then a
        // drop-in replacement meaning the same characters as a string.
        let location = object.location_of(value);
        let text = sources.text(location.file);
        let written = text
            .get(value.span.start.byte as usize..value.span.end.byte as usize)
            .is_some_and(|raw| {
                value
                    .as_scalar()
                    .is_some_and(|s| s.style == Style::Plain && s.tag.is_none() && s.value == raw)
            });
        if !fix.is_empty() && written && value.span.is_one_line(text) {
            diagnostic.with_fix(Fix {
                applicability: Applicability::Safe,
                description: format!("quote the value: {fix}"),
                edits: vec![Edit {
                    file: location.file,
                    span: value.span,
                    replacement: fix,
                }],
                new_files: Vec::new(),
            });
        }
    }
}

fn quote(text: &str) -> String {
    text::quote(text)
}
