//! `images` and `replicas`: kustomize's image tag and replica count transformers.

use crate::load::yaml::{Node, NodeKind, Style};

use super::Built;
use super::configurations::{FieldSpec, for_each_field};
use super::spec::{Image, Replica};
use super::transform::{for_each_at, get_mut, set};

/// Splits an image reference into name, tag and digest as kustomize does: the first
/// `:` or `@` after the host part separates them.
pub fn split(image: &str) -> (&str, Option<&str>, Option<&str>) {
    let host_end = match image.find('/') {
        Some(slash) if slash > 0 => slash,
        _ => 0,
    };
    let search = &image[host_end..];
    let at = search.find('@').map(|i| i + host_end);
    let colon = search.find(':').map(|i| i + host_end);
    match (colon, at) {
        (None, None) => (image, None, None),
        (colon, Some(at)) if colon.is_none_or(|c| at < c) => {
            (&image[..at], None, Some(&image[at + 1..]))
        }
        (Some(colon), Some(at)) => (
            &image[..colon],
            Some(&image[colon + 1..at]),
            Some(&image[at + 1..]),
        ),
        (Some(colon), None) => (&image[..colon], Some(&image[colon + 1..]), None),
        (None, Some(_)) => (image, None, None),
    }
}

/// The pattern kustomize matches image references against for an entry `name`
/// (read as a regular expression anchored at the start, then an optional digest and
/// tag); a name that is not a valid expression is matched literally.
pub fn pattern(name: &str) -> Option<regex::Regex> {
    let build = |name: &str| format!("^{name}(@sha256)?(:[a-zA-Z0-9_.{{}}-]*)?$");
    regex::Regex::new(&build(name))
        .or_else(|_| regex::Regex::new(&build(&regex::escape(name))))
        .ok()
}

/// Whether `image` is the image `name`.
pub fn matches(image: &str, name: &str) -> bool {
    pattern(name).is_some_and(|re| re.is_match(image))
}

/// The image reference after applying one `images` entry, if it matches.
pub fn updated(image: &str, entry: &Image) -> Option<String> {
    updated_with(image, entry, pattern(&entry.name).as_ref())
}

fn updated_with(image: &str, entry: &Image, pattern: Option<&regex::Regex>) -> Option<String> {
    if !pattern.is_some_and(|re| re.is_match(image)) {
        return None;
    }
    let (name, tag, digest) = split(image);
    let name = entry.new_name.as_deref().unwrap_or(name);
    let (tag, digest) = match (&entry.new_tag, &entry.digest) {
        (Some(tag), Some(digest)) => (Some(tag.as_str()), Some(digest.as_str())),
        (Some(tag), None) => (Some(tag.as_str()), None),
        (None, Some(digest)) => (None, Some(digest.as_str())),
        (None, None) => (tag, digest),
    };
    let mut out = name.to_string();
    if let Some(tag) = tag.filter(|t| !t.is_empty()) {
        out.push(':');
        out.push_str(tag);
    }
    if let Some(digest) = digest.filter(|d| !d.is_empty()) {
        out.push('@');
        out.push_str(digest);
    }
    Some(out)
}

/// One `images` entry with its pattern compiled once.
struct Compiled<'a> {
    entry: &'a Image,
    pattern: Option<regex::Regex>,
}

fn set_image(node: &mut Node, compiled: &Compiled, origin: Option<crate::span::FileId>) {
    let Some(scalar) = node.as_scalar() else {
        return;
    };
    let entry = compiled.entry;
    if let Some(new) = updated_with(scalar.value, entry, compiled.pattern.as_ref()) {
        *node = Node::synthetic_str(&new, entry.span, origin);
    }
}

/// kustomize's legacy image filter: the `image` of every item of every
/// `containers` and `initContainers` list, wherever it is in the object.
fn containers_everywhere(node: &mut Node, entry: &Compiled, origin: Option<crate::span::FileId>) {
    match &mut node.kind {
        NodeKind::Map(entries, _) => {
            for (key, value) in entries.iter_mut() {
                let is_list = matches!(value.kind, NodeKind::Seq(_, _));
                if is_list && matches!(key.scalar_text(), Some("containers" | "initContainers")) {
                    if let NodeKind::Seq(items, _) = &mut value.kind {
                        for item in items {
                            if let Some(image) = get_mut(item, "image") {
                                set_image(image, entry, origin);
                            }
                        }
                    }
                } else {
                    containers_everywhere(value, entry, origin);
                }
            }
        }
        NodeKind::Seq(items, _) => items
            .iter_mut()
            .for_each(|item| containers_everywhere(item, entry, origin)),
        NodeKind::Scalar { .. } => {}
    }
}

/// Applies the `images` entries to every object (not to CRDs); `extra_paths` are the
/// image field specs of `configurations`.
pub fn apply_images(
    resources: &mut [Built],
    images: &[Image],
    extra_paths: &[FieldSpec],
    origin: Option<crate::span::FileId>,
) {
    let compiled: Vec<Compiled> = images
        .iter()
        .map(|entry| Compiled {
            entry,
            pattern: pattern(&entry.name),
        })
        .collect();
    for resource in resources.iter_mut() {
        let kind = resource
            .node
            .get("kind")
            .and_then(Node::scalar_text)
            .unwrap_or_default()
            .to_string();
        if kind == "CustomResourceDefinition" {
            continue;
        }
        for entry in &compiled {
            containers_everywhere(&mut resource.node, entry, origin);
            for spec in extra_paths {
                if spec.kind.as_deref().is_some_and(|k| k != kind) {
                    continue;
                }
                for_each_field(&mut resource.node, &spec.path, None, &mut |node| {
                    set_image(node, entry, origin);
                });
            }
        }
    }
}

const REPLICATED_KINDS: [&str; 4] = [
    "Deployment",
    "ReplicationController",
    "ReplicaSet",
    "StatefulSet",
];

/// Applies one `replicas` entry to the objects it names (by current or original
/// name); `Err` when it names none, as kustomize refuses.
pub fn apply_replicas(
    resources: &mut [Built],
    replica: &Replica,
    original_name: &dyn Fn(&Built) -> Option<String>,
    origin: Option<crate::span::FileId>,
) -> Result<(), String> {
    let Some(count) = replica.count else {
        return Err(format!(
            "replicas `{}` needs an integer `count`",
            replica.name
        ));
    };
    let mut found = false;
    for resource in resources.iter_mut() {
        let kind = resource
            .node
            .get("kind")
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        if !REPLICATED_KINDS.contains(&kind) {
            continue;
        }
        let current = resource
            .node
            .path(&["metadata", "name"])
            .and_then(Node::scalar_text)
            .unwrap_or_default();
        if current != replica.name && original_name(resource).as_deref() != Some(&replica.name) {
            continue;
        }
        found = true;
        let mut value = Node::synthetic_str(&count.to_string(), replica.span, origin);
        if let Some((_, style)) = value.as_scalar_mut() {
            *style = Style::Plain;
        }
        for_each_at(
            &mut resource.node,
            &["spec"],
            Some((replica.span, origin)),
            &mut |spec| set(spec, "replicas", value.clone()),
        );
    }
    if found {
        Ok(())
    } else {
        Err(format!(
            "replicas: no Deployment, ReplicationController, ReplicaSet or StatefulSet is named `{}`",
            replica.name
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    fn image(name: &str, new_name: Option<&str>, tag: Option<&str>, digest: Option<&str>) -> Image {
        Image {
            name: name.to_string(),
            new_name: new_name.map(str::to_string),
            new_tag: tag.map(str::to_string),
            digest: digest.map(str::to_string),
            span: Span::default(),
        }
    }

    #[test]
    fn split_ignores_the_port_of_a_registry() {
        assert_eq!(split("nginx"), ("nginx", None, None));
        assert_eq!(split("nginx:1.2"), ("nginx", Some("1.2"), None));
        assert_eq!(
            split("localhost:5000/app:v1"),
            ("localhost:5000/app", Some("v1"), None)
        );
        assert_eq!(split("app@sha256:abc"), ("app", None, Some("sha256:abc")));
        assert_eq!(
            split("reg/app:v1@sha256:abc"),
            ("reg/app", Some("v1"), Some("sha256:abc"))
        );
    }

    #[test]
    fn matching_needs_the_whole_name() {
        assert!(matches("nginx:1.2", "nginx"));
        assert!(matches("nginx@sha256:abc", "nginx"));
        assert!(!matches("nginx-exporter:1", "nginx"));
        assert!(!matches("docker.io/nginx", "nginx"));
    }

    #[test]
    fn a_new_tag_or_digest_replaces_both() {
        let entry = image("nginx", Some("reg/nginx"), Some("2"), None);
        assert_eq!(
            updated("nginx@sha256:x", &entry).as_deref(),
            Some("reg/nginx:2")
        );
        let entry = image("nginx", None, None, Some("sha256:y"));
        assert_eq!(
            updated("nginx:1", &entry).as_deref(),
            Some("nginx@sha256:y")
        );
        let entry = image("nginx", Some("other"), None, None);
        assert_eq!(updated("nginx:1", &entry).as_deref(), Some("other:1"));
        assert_eq!(updated("redis:1", &entry), None);
    }
}
