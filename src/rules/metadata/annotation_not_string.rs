use crate::diagnostic::Edit;
use crate::load::yaml::{Node, NodeKind, Resolved};
use crate::model::Object;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(AnnotationNotString, "annotation-not-string");

impl Rule for AnnotationNotString {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        for object in &ctx.model.objects {
            let mut path = Vec::new();
            visit(object, &object.node, &mut path, sink);
        }
    }
}

/// Finds every string-to-string map of the object: `labels` and `annotations`
/// of any `metadata` (the object's own, pod templates, job templates) and any
/// `matchLabels` of a label selector.
fn visit<'n>(object: &Object, node: &'n Node, path: &mut Vec<&'n str>, sink: &mut Sink<'_>) {
    match &node.kind {
        NodeKind::Map(entries) => {
            for (key, value) in entries {
                let Some(key_text) = key.scalar_text() else {
                    continue;
                };
                path.push(key_text);
                let parent = path.len().checked_sub(2).map(|i| path[i]);
                let is_string_map = key_text == "matchLabels"
                    || (matches!(key_text, "labels" | "annotations") && parent == Some("metadata"));
                if is_string_map {
                    check_values(object, value, path, sink);
                } else {
                    visit(object, value, path, sink);
                }
                path.pop();
            }
        }
        NodeKind::Seq(items) => {
            for item in items {
                visit(object, item, path, sink);
            }
        }
        NodeKind::Scalar(_) => {}
    }
}

fn check_values(object: &Object, map: &Node, path: &[&str], sink: &mut Sink<'_>) {
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
        let (read_as, fix) = match &value.kind {
            NodeKind::Scalar(scalar) => match scalar.resolve() {
                Resolved::Str | Resolved::Null => continue,
                Resolved::Bool(b) => (format!("the boolean {b}"), quote(&scalar.value)),
                Resolved::Int(i) => (format!("the integer {i}"), quote(&scalar.value)),
                Resolved::Float(_) => ("a floating-point number".to_string(), quote(&scalar.value)),
            },
            NodeKind::Seq(_) => ("a list".to_string(), String::new()),
            NodeKind::Map(_) => ("a mapping".to_string(), String::new()),
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
        // Quoting is only safe for a scalar written on one line: the JSON-style quoted form
        // of its value is then a drop-in replacement with the same meaning as a string.
        if !fix.is_empty() && value.span.start.line == value.span.end.line {
            diagnostic.with_fix(
                format!("quote the value: {fix}"),
                vec![Edit {
                    span: value.span,
                    replacement: fix,
                }],
            );
        }
    }
}

fn quote(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}
