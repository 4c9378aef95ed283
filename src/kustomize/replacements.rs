//! `replacements`: copies a value from one object's field into fields of other
//! objects, as kustomize's replacement transformer does (pure data copying).
//!
//! Field paths are dot-separated (`spec.template.spec.containers.[name=app].image`):
//! a segment is a mapping key, `[key=value]` selects list items by a field, `*`
//! every item, a number one item; `[a.b/c]` is a key holding dots.

use crate::load::yaml::{Node, NodeKind};
use crate::span::FileId;

use super::Built;
use super::generators::Identity;
use super::transform::{empty_map, get_mut, set};

/// Splits a field path at dots outside brackets.
pub fn split_path(path: &str) -> Vec<String> {
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut depth = 0usize;
    for c in path.chars() {
        match c {
            '[' => {
                depth += 1;
                current.push(c);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                current.push(c);
            }
            '.' if depth == 0 => segments.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    segments.push(current);
    segments.retain(|s| !s.is_empty());
    segments
}

/// What selects an object: every field given must match.
#[derive(Debug, Default)]
struct Selector {
    group: Option<String>,
    version: Option<String>,
    kind: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
    label_selector: Option<String>,
    annotation_selector: Option<String>,
}

fn text(node: &Node, key: &str) -> Option<String> {
    node.get(key)
        .and_then(Node::scalar_text)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

impl Selector {
    fn from_node(node: &Node) -> Selector {
        // `gvk` fields may also be written under a nested `gvk:` in older files.
        let gvk = node.get("gvk").unwrap_or(node);
        Selector {
            group: text(node, "group").or_else(|| text(gvk, "group")),
            version: text(node, "version").or_else(|| text(gvk, "version")),
            kind: text(node, "kind").or_else(|| text(gvk, "kind")),
            name: text(node, "name"),
            namespace: text(node, "namespace"),
            label_selector: text(node, "labelSelector"),
            annotation_selector: text(node, "annotationSelector"),
        }
    }

    /// Whether the object, under one of its identities (current or original
    /// name), is selected. `regex`: names and kinds are anchored patterns (newer
    /// kustomize releases read target selectors so; v5.5, the reference, does not).
    fn selects(&self, node: &Node, names: &[(String, String)], regex: bool) -> bool {
        let field = |key: &str| node.get(key).and_then(Node::scalar_text).unwrap_or("");
        let api_version = field("apiVersion");
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let equal = |pattern: &str, value: &str| {
            if regex {
                regex::Regex::new(&format!("^(?:{pattern})$"))
                    .map_or(pattern == value, |re| re.is_match(value))
            } else {
                pattern == value
            }
        };
        let meta = node.get("metadata");
        self.group.as_deref().is_none_or(|g| g == group)
            && self.version.as_deref().is_none_or(|v| v == version)
            && self.kind.as_deref().is_none_or(|k| equal(k, field("kind")))
            && self
                .label_selector
                .as_deref()
                .is_none_or(|s| super::selector_matches(s, meta.and_then(|m| m.get("labels"))))
            && self
                .annotation_selector
                .as_deref()
                .is_none_or(|s| super::selector_matches(s, meta.and_then(|m| m.get("annotations"))))
            && names.iter().any(|(name, namespace)| {
                self.name.as_deref().is_none_or(|n| equal(n, name))
                    && self
                        .namespace
                        .as_deref()
                        .is_none_or(|ns| equal(ns, namespace))
            })
    }
}

/// The (name, namespace) pairs an object is known by: current, then original.
fn names_of(built: &Built, original: &dyn Fn(&Built) -> Option<Identity>) -> Vec<(String, String)> {
    let text = |path: &[&str]| {
        built
            .node
            .path(path)
            .and_then(Node::scalar_text)
            .unwrap_or_default()
            .to_string()
    };
    let mut names = vec![(
        text(&["metadata", "name"]),
        text(&["metadata", "namespace"]),
    )];
    if let Some((_, name, namespace)) = original(built) {
        let namespace = if namespace == "default" && names[0].1.is_empty() {
            String::new()
        } else {
            namespace
        };
        if !names.contains(&(name.clone(), namespace.clone())) {
            names.push((name, namespace));
        }
    }
    names
}

fn lookup<'a>(node: &'a Node, segments: &[String]) -> Option<&'a Node> {
    let Some((first, rest)) = segments.split_first() else {
        return Some(node);
    };
    let child = match &node.kind {
        NodeKind::Map(_, _) => node.get(bracket_key(first)),
        NodeKind::Seq(items, _) => {
            match first.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                Some(condition) => {
                    let (key, value) = condition.split_once('=')?;
                    items
                        .iter()
                        .find(|item| item.get(key).and_then(Node::scalar_text) == Some(value))
                }
                None => items.get(first.parse::<usize>().ok()?),
            }
        }
        NodeKind::Scalar { .. } => None,
    }?;
    lookup(child, rest)
}

/// `[a.b/c]` names the key `a.b/c`.
fn bracket_key(segment: &str) -> &str {
    segment
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .filter(|s| !s.contains('='))
        .unwrap_or(segment)
}

/// Calls `apply` on every node at `segments` (creating missing mappings when
/// `create`); returns how many nodes were found.
fn for_each_target(
    node: &mut Node,
    segments: &[String],
    create: bool,
    origin: Option<FileId>,
    apply: &mut dyn FnMut(&mut Node),
) -> usize {
    let Some((first, rest)) = segments.split_first() else {
        apply(node);
        return 1;
    };
    let span = node.span;
    match &mut node.kind {
        NodeKind::Seq(items, _) => {
            if first == "*" {
                return items
                    .iter_mut()
                    .map(|item| for_each_target(item, rest, create, origin, apply))
                    .sum();
            }
            if let Some(condition) = first.strip_prefix('[').and_then(|s| s.strip_suffix(']'))
                && let Some((key, value)) = condition.split_once('=')
            {
                let mut found = 0;
                for item in items.iter_mut() {
                    if item.get(key).and_then(Node::scalar_text) == Some(value) {
                        found += for_each_target(item, rest, create, origin, apply);
                    }
                }
                if found == 0 && create {
                    let mut item = empty_map(span, origin);
                    set(&mut item, key, Node::synthetic_str(value, span, origin));
                    items.push(item);
                    if let Some(last) = items.last_mut() {
                        found = for_each_target(last, rest, create, origin, apply);
                    }
                }
                return found;
            }
            match first.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                Some(item) => for_each_target(item, rest, create, origin, apply),
                None => 0,
            }
        }
        NodeKind::Map(_, _) => {
            let key = bracket_key(first).to_string();
            let missing = get_mut(node, &key).is_none_or(|child| child.is_null());
            if missing {
                if !create {
                    return 0;
                }
                let value = if rest.is_empty() {
                    // Null until the copied value replaces it whole.
                    Node {
                        kind: NodeKind::Scalar {
                            value: "".into(),
                            style: crate::load::yaml::Style::Plain,
                            tag: None,
                            origin,
                        },
                        span,
                    }
                } else if rest[0].starts_with('[') && rest[0].contains('=') || rest[0] == "*" {
                    Node {
                        kind: NodeKind::Seq(Default::default(), origin),
                        span,
                    }
                } else {
                    empty_map(span, origin)
                };
                set(node, &key, value);
            }
            match get_mut(node, &key) {
                Some(child) => for_each_target(child, rest, create, origin, apply),
                None => 0,
            }
        }
        NodeKind::Scalar { .. } => 0,
    }
}

fn options(node: Option<&Node>) -> (Option<String>, i64, bool) {
    let Some(node) = node else {
        return (None, 0, false);
    };
    (
        node.get("delimiter")
            .and_then(Node::scalar_text)
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        node.get("index")
            .and_then(Node::scalar_text)
            .and_then(|i| i.parse().ok())
            .unwrap_or(0),
        node.get("create").and_then(Node::scalar_text) == Some("true"),
    )
}

/// Applies one replacement (its YAML node) to `resources`.
pub fn apply(
    resources: &mut [Built],
    replacement: &Node,
    original: &dyn Fn(&Built) -> Option<Identity>,
) -> Result<(), String> {
    let source = replacement
        .get("source")
        .ok_or("a replacement needs a `source`")?;
    let selector = Selector::from_node(source);
    let mut matches = resources
        .iter()
        .filter(|r| selector.selects(&r.node, &names_of(r, original), false));
    let chosen = matches
        .next()
        .ok_or("the replacement source selects no object")?;
    if matches.next().is_some() {
        return Err("the replacement source selects several objects".to_string());
    }
    let field_path = text(source, "fieldPath").unwrap_or_else(|| "metadata.name".to_string());
    let mut value = lookup(&chosen.node, &split_path(&field_path))
        .filter(|v| !v.is_null())
        .cloned()
        .ok_or_else(|| format!("the replacement source has no `{field_path}`"))?;
    let (delimiter, index, _) = options(source.get("options"));
    if let (Some(delimiter), Some((text, _))) = (&delimiter, value.as_scalar_mut()) {
        let parts: Vec<&str> = text.split(delimiter.as_str()).collect();
        let part = usize::try_from(index)
            .ok()
            .and_then(|i| parts.get(i))
            .ok_or_else(|| format!("options.index {index} is out of bounds of the source value"))?
            .to_string();
        *text = part.as_str().into();
    }
    for target in replacement
        .get("targets")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
    {
        let select = Selector::from_node(
            target
                .get("select")
                .ok_or("a replacement target needs `select`")?,
        );
        let rejects: Vec<Selector> = target
            .get("reject")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .map(Selector::from_node)
            .collect();
        let mut paths: Vec<String> = target
            .get("fieldPaths")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .filter_map(|p| p.scalar_text().map(str::to_string))
            .collect();
        if paths.is_empty() {
            paths.push("metadata.name".to_string());
        }
        let (delimiter, index, create) = options(target.get("options"));
        let selected: Vec<usize> = resources
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                let names = names_of(r, original);
                select.selects(&r.node, &names, false)
                    && !rejects.iter().any(|j| j.selects(&r.node, &names, false))
            })
            .map(|(i, _)| i)
            .collect();
        for index_of_target in selected {
            let Some(resource) = resources.get_mut(index_of_target) else {
                continue;
            };
            let origin = resource.node.origin();
            for path in &paths {
                let mut error = None;
                let found = for_each_target(
                    &mut resource.node,
                    &split_path(path),
                    create,
                    origin,
                    &mut |field| {
                        if let Err(e) = set_value(field, &value, delimiter.as_deref(), index) {
                            error = Some(e);
                        }
                    },
                );
                if let Some(error) = error {
                    return Err(error);
                }
                if found == 0 {
                    return Err(format!(
                        "the replacement target has no `{path}` (use `options.create` to add it)"
                    ));
                }
            }
        }
    }
    Ok(())
}

fn set_value(
    field: &mut Node,
    value: &Node,
    delimiter: Option<&str>,
    index: i64,
) -> Result<(), String> {
    let mut value = value.clone();
    if let Some(delimiter) = delimiter {
        let (Some(target), Some((source, _))) = (field.scalar_text(), value.as_scalar_mut()) else {
            return Err("the delimiter option can only be used with scalar values".to_string());
        };
        let mut parts: Vec<String> = target.split(delimiter).map(str::to_string).collect();
        let new = source.to_string();
        match usize::try_from(index) {
            Err(_) => parts.insert(0, new),
            Ok(i) if i >= parts.len() => parts.push(new),
            Ok(i) => parts[i] = new,
        }
        *source = parts.join(delimiter).as_str().into();
    }
    let origin = value.origin();
    match (field.as_scalar_mut(), value.scalar_string()) {
        // A scalar keeps its own style (kustomize copies only the text).
        (Some((target, _)), Some(text)) if !target.is_empty() || delimiter.is_some() => {
            *target = text.clone();
            field.span = value.span;
            *field.origin_mut() = origin;
        }
        _ => *field = value,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_outside_brackets() {
        assert_eq!(
            split_path("spec.containers.[name=a.b].image"),
            vec!["spec", "containers", "[name=a.b]", "image"]
        );
        assert_eq!(
            split_path("metadata.annotations.[x.io/y]"),
            vec!["metadata", "annotations", "[x.io/y]"]
        );
    }
}
