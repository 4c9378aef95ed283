//! Edits of span trees the way kustomize edits resources. Every node a
//! transformer or patch adds keeps the span and file it was written at, so
//! findings about it point into the kustomization or the patch.

use crate::load::yaml::{Node, NodeKind};
use crate::span::{FileId, Span};

pub fn empty_map(span: Span, origin: Option<FileId>) -> Node {
    Node {
        kind: NodeKind::Map(Default::default(), origin),
        span,
    }
}

pub fn get_mut<'a>(node: &'a mut Node, key: &str) -> Option<&'a mut Node> {
    match &mut node.kind {
        NodeKind::Map(entries, _) => entries
            .iter_mut()
            .rev()
            .find(|(k, _)| k.scalar_text() == Some(key))
            .map(|(_, v)| v),
        _ => None,
    }
}

/// Sets `key` to `value` in a mapping, replacing an existing value.
pub fn set(node: &mut Node, key: &str, value: Node) {
    if let Some(existing) = get_mut(node, key) {
        *existing = value;
        return;
    }
    if let NodeKind::Map(entries, _) = &mut node.kind {
        let key_node = Node::synthetic_str(key, value.span, value.origin());
        entries.push((key_node, value));
    }
}

pub fn remove(node: &mut Node, key: &str) -> bool {
    match &mut node.kind {
        NodeKind::Map(entries, _) => {
            let before = entries.len();
            entries.retain(|(k, _)| k.scalar_text() != Some(key));
            before != entries.len()
        }
        _ => false,
    }
}

/// Calls `apply` on every node at `path` (`name[]` iterates a sequence). With
/// `create`, missing or null mappings along plain segments are created (inside the
/// items a sequence has; a missing sequence is not created).
pub fn for_each_at(
    node: &mut Node,
    path: &[&str],
    create: Option<(Span, Option<FileId>)>,
    apply: &mut dyn FnMut(&mut Node),
) {
    let Some((first, rest)) = path.split_first() else {
        apply(node);
        return;
    };
    if let Some(field) = first.strip_suffix("[]") {
        if let Some(NodeKind::Seq(items, _)) = get_mut(node, field).map(|n| &mut n.kind) {
            for item in items {
                for_each_at(item, rest, create, apply);
            }
        }
        return;
    }
    let missing = get_mut(node, first).is_none_or(|child| child.is_null());
    if missing {
        let Some((span, origin)) = create else {
            return;
        };
        if !matches!(node.kind, NodeKind::Map(_, _)) {
            return;
        }
        set(node, first, empty_map(span, origin));
    }
    if let Some(child) = get_mut(node, first) {
        for_each_at(child, rest, create, apply);
    }
}

/// The field a list's items are merged by in a strategic merge patch, as the
/// Kubernetes types declare it (`patchMergeKey`); lists without one are replaced.
fn merge_key(field: &str, parent: &str) -> Option<&'static str> {
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "volumeMounts"
        | "imagePullSecrets"
        | "volumeDevices" => "name",
        "ports"
            if matches!(
                parent,
                "containers" | "initContainers" | "ephemeralContainers"
            ) =>
        {
            "containerPort"
        }
        "ports" => "port",
        _ => return None,
    })
}

fn directive(node: &Node) -> Option<&str> {
    node.get("$patch").and_then(Node::scalar_text)
}

fn strip_directives(node: &mut Node) {
    match &mut node.kind {
        NodeKind::Map(entries, _) => {
            entries.retain(|(k, _)| !k.scalar_text().is_some_and(|t| t.starts_with("$")));
            for (_, v) in entries {
                strip_directives(v);
            }
        }
        NodeKind::Seq(items, _) => items.iter_mut().for_each(strip_directives),
        NodeKind::Scalar { .. } => {}
    }
}

/// Kubernetes strategic merge patch of `patch` into `target`: mappings merge
/// key by key, `null` deletes, lists with a merge key merge item by item
/// (`$patch: delete` removes one), other lists and scalars are replaced.
pub fn strategic_merge(target: &mut Node, patch: &Node, field: &str, parent: &str) {
    if directive(patch) == Some("replace") {
        let mut replacement = patch.clone();
        strip_directives(&mut replacement);
        *target = replacement;
        return;
    }
    match (&mut target.kind, &patch.kind) {
        (NodeKind::Map(_, _), NodeKind::Map(patch_entries, _)) => {
            for (key, value) in patch_entries {
                let Some(key_text) = key.scalar_text() else {
                    continue;
                };
                if key_text.starts_with('$') {
                    continue;
                }
                if value.is_null() {
                    remove(target, key_text);
                } else if let Some(existing) = get_mut(target, key_text) {
                    strategic_merge(existing, value, key_text, field);
                } else {
                    let mut added = value.clone();
                    strip_directives(&mut added);
                    if let NodeKind::Map(entries, _) = &mut target.kind {
                        entries.push((key.clone(), added));
                    }
                }
            }
        }
        (NodeKind::Seq(_, _), NodeKind::Seq(patch_items, _))
            if patch_items.iter().any(|i| directive(i) == Some("replace")) =>
        {
            // A `{$patch: replace}` item: the patch's other items replace the whole list.
            let replacement: Vec<Node> = patch_items
                .iter()
                .filter(|i| directive(i).is_none())
                .map(|i| {
                    let mut item = i.clone();
                    strip_directives(&mut item);
                    item
                })
                .collect();
            target.kind = NodeKind::Seq(replacement.into(), target.origin());
        }
        (NodeKind::Seq(items, _), NodeKind::Seq(patch_items, _)) => {
            match merge_key(field, parent) {
                Some(merge_key) => {
                    // kustomize's order: the patch's items first, in the patch's order (merged
                    // with the object's item of the same key), then the object's other items.
                    let mut remaining: Vec<Option<Node>> =
                        std::mem::take(items).into_iter().map(Some).collect();
                    let mut merged = Vec::with_capacity(remaining.len() + patch_items.len());
                    for patch_item in patch_items {
                        let wanted = patch_item.get(merge_key).and_then(Node::scalar_text);
                        let existing = wanted.and_then(|w| {
                            remaining.iter_mut().find_map(|slot| {
                                slot.take_if(|item| {
                                    item.get(merge_key).and_then(Node::scalar_text) == Some(w)
                                })
                            })
                        });
                        match (existing, directive(patch_item)) {
                            (_, Some("delete")) => {}
                            (Some(mut item), _) => {
                                strategic_merge(&mut item, patch_item, field, parent);
                                merged.push(item);
                            }
                            (None, _) => {
                                let mut added = patch_item.clone();
                                strip_directives(&mut added);
                                merged.push(added);
                            }
                        }
                    }
                    merged.extend(remaining.into_iter().flatten());
                    *items = merged.into();
                }
                None => {
                    let mut replacement = patch.clone();
                    strip_directives(&mut replacement);
                    *target = replacement;
                }
            }
        }
        _ => {
            let mut replacement = patch.clone();
            strip_directives(&mut replacement);
            *target = replacement;
        }
    }
}

fn pointer_segments(path: &str) -> Vec<String> {
    path.split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect()
}

fn navigate<'a>(node: &'a mut Node, segments: &[String]) -> Option<&'a mut Node> {
    let mut current = node;
    for segment in segments {
        current = match &mut current.kind {
            NodeKind::Map(entries, _) => entries
                .iter_mut()
                .rev()
                .find(|(k, _)| k.scalar_text() == Some(segment.as_str()))
                .map(|(_, v)| v)?,
            NodeKind::Seq(items, _) => items.get_mut(segment.parse::<usize>().ok()?)?,
            NodeKind::Scalar { .. } => return None,
        };
    }
    Some(current)
}

fn lookup(node: &Node, segments: &[String]) -> Option<Node> {
    let mut current = node;
    for segment in segments {
        current = match &current.kind {
            NodeKind::Map(_, _) => current.get(segment)?,
            NodeKind::Seq(items, _) => items.get(segment.parse::<usize>().ok()?)?,
            NodeKind::Scalar { .. } => return None,
        };
    }
    Some(current.clone())
}

fn insert(
    target: &mut Node,
    segments: &[String],
    value: Node,
    replace: bool,
) -> Result<(), String> {
    let (last, parents) = segments
        .split_last()
        .ok_or_else(|| "cannot replace the whole resource".to_string())?;
    let parent = navigate(target, parents)
        .ok_or_else(|| format!("no parent for `/{}`", segments.join("/")))?;
    match &mut parent.kind {
        NodeKind::Map(_, _) => {
            if replace && get_mut(parent, last).is_none() {
                return Err(format!("`/{}` does not exist", segments.join("/")));
            }
            set(parent, last, value);
            Ok(())
        }
        NodeKind::Seq(items, _) => {
            if last == "-" && !replace {
                items.push(value);
                return Ok(());
            }
            let index: usize = last
                .parse()
                .map_err(|_| format!("`{last}` is not a list index"))?;
            if replace {
                let slot = items
                    .get_mut(index)
                    .ok_or_else(|| format!("index {index} out of range"))?;
                *slot = value;
            } else if index <= items.len() {
                items.insert(index, value);
            } else {
                return Err(format!("index {index} out of range"));
            }
            Ok(())
        }
        NodeKind::Scalar { .. } => Err(format!("`/{}` is inside a scalar", segments.join("/"))),
    }
}

fn delete(target: &mut Node, segments: &[String]) -> Result<Node, String> {
    let (last, parents) = segments
        .split_last()
        .ok_or_else(|| "cannot remove the whole resource".to_string())?;
    let parent = navigate(target, parents)
        .ok_or_else(|| format!("`/{}` does not exist", segments.join("/")))?;
    let missing = || format!("`/{}` does not exist", segments.join("/"));
    match &mut parent.kind {
        NodeKind::Map(entries, _) => {
            let i = entries
                .iter()
                .position(|(k, _)| k.scalar_text() == Some(last.as_str()))
                .ok_or_else(missing)?;
            Ok(entries.remove(i).1)
        }
        NodeKind::Seq(items, _) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            (i < items.len())
                .then(|| items.remove(i))
                .ok_or_else(missing)
        }
        NodeKind::Scalar { .. } => Err(missing()),
    }
}

/// Nesting depth of a tree (a scalar is 1).
fn depth(node: &Node) -> usize {
    1 + match &node.kind {
        NodeKind::Scalar { .. } => 0,
        NodeKind::Seq(items, _) => items.iter().map(depth).max().unwrap_or(0),
        NodeKind::Map(entries, _) => entries
            .iter()
            .map(|(k, v)| depth(k).max(depth(v)))
            .max()
            .unwrap_or(0),
    }
}

/// Applies RFC 6902 operations (a sequence of `{op, path, value, from}`).
///
/// Like kustomize, `metadata.annotations` counts as present (an empty mapping) when an
/// object has `metadata` but no annotations: kustomize keeps its own bookkeeping
/// annotations there during a build, so `add /metadata/annotations/KEY` works on any
/// object. No other missing parent is created (kustomize fails on them too).
pub fn json6902(target: &mut Node, operations: &Node) -> Result<(), String> {
    let metadata = get_mut(target, "metadata").filter(|m| matches!(m.kind, NodeKind::Map(_, _)));
    let added_annotations = match metadata {
        Some(meta) if meta.get("annotations").is_none_or(Node::is_null) => {
            let span = meta.span;
            let origin = meta.origin();
            set(meta, "annotations", empty_map(span, origin));
            true
        }
        _ => false,
    };
    let result = apply_operations(target, operations);
    if added_annotations
        && let Some(meta) = get_mut(target, "metadata")
        && get_mut(meta, "annotations").is_some_and(|a| a.as_map().is_some_and(<[_]>::is_empty))
    {
        remove(meta, "annotations");
    }
    result
}

fn apply_operations(target: &mut Node, operations: &Node) -> Result<(), String> {
    let operations = operations
        .as_seq()
        .ok_or_else(|| "a JSON 6902 patch is a list of operations".to_string())?;
    // `copy` can double an object per operation: one patch may at most double an object
    // (plus a little), so repeated patches stay within the build's node budget.
    let mut size = target.expanded_size();
    let limit = size
        .saturating_mul(2)
        .saturating_add(1000)
        .min(crate::limits::MAX_EXPANDED_NODES);
    for operation in operations {
        let op = operation
            .get("op")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        let path = pointer_segments(
            operation
                .get("path")
                .and_then(Node::scalar_text)
                .unwrap_or_default(),
        );
        let from = operation
            .get("from")
            .and_then(Node::scalar_text)
            .map(pointer_segments);
        let value = || {
            operation
                .get("value")
                .cloned()
                .ok_or_else(|| format!("`{op}` needs a value"))
        };
        // Values keep the nesting limit of parsed documents, so every later walk over the
        // tree stays within the stack (a `copy` into itself nests one level per operation).
        let nested = |value: Node| {
            if path.len().saturating_add(depth(&value)) > crate::limits::MAX_DEPTH {
                Err(format!(
                    "the patch nests `/{}` deeper than {} levels (a limit of xks-lint)",
                    path.join("/"),
                    crate::limits::MAX_DEPTH
                ))
            } else {
                Ok(value)
            }
        };
        match op {
            "add" => insert(target, &path, nested(value()?)?, false)?,
            "replace" => insert(target, &path, nested(value()?)?, true)?,
            "remove" => {
                delete(target, &path)?;
            }
            "move" => {
                let moved = delete(target, &from.ok_or("`move` needs `from`")?)?;
                insert(target, &path, nested(moved)?, false)?;
            }
            "copy" => {
                let copied = lookup(target, &from.ok_or("`copy` needs `from`")?)
                    .ok_or("`copy` source does not exist")?;
                size = size.saturating_add(copied.expanded_size());
                if size > limit {
                    return Err(format!(
                        "`copy` would grow the object beyond {limit} YAML nodes (a limit of xks-lint: one patch may at most double an object)"
                    ));
                }
                insert(target, &path, nested(copied)?, false)?;
            }
            "test" => {
                let actual = lookup(target, &path).map(|n| n.to_json());
                if actual != Some(value()?.to_json()) {
                    return Err(format!("test failed at `/{}`", path.join("/")));
                }
            }
            other => return Err(format!("unknown operation `{other}`")),
        }
    }
    Ok(())
}
