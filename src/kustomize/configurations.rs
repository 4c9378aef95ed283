//! `configurations`: files of custom field specs that extend kustomize's built-in
//! transformer configuration. Supported: `images` (where image references are),
//! `nameReference` (where names of a kind are referenced, so renames and content
//! hashes follow), `commonLabels` / `labels` (where labels are written), and
//! `namePrefix` / `nameSuffix` (which kinds are renamed), and `varReference` (where
//! `vars` are substituted). Other sections (`namespace`, ...) are not applied.

use crate::load::yaml::{Node, NodeKind};
use crate::span::FileId;

use super::Built;
use super::namerefs::{CustomReference, split_path};
use super::spec::Pairs;
use super::transform::{empty_map, get_mut, set};

/// A field spec: the kind it applies to (any when `None`) and its path segments
/// (`[]` markers removed: lists are traversed wherever they are).
#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub kind: Option<String>,
    pub path: Vec<String>,
    pub create: bool,
}

const SUPPORTED: [&str; 7] = [
    "varReference",
    "images",
    "nameReference",
    "commonLabels",
    "labels",
    "namePrefix",
    "nameSuffix",
];

fn schema_properties(definition: &Node) -> Option<&[(Node, Node)]> {
    definition.path(&["Schema", "properties"])?.as_map()
}

/// How deep a `crds` definition's `$ref`s are followed (kustomize follows them without
/// limit; a cycle must not loop).
const MAX_CRD_DEPTH: usize = 32;
/// How many properties of one `crds` file are visited (`$ref`s count again).
const MAX_CRD_PROPERTIES: usize = 100_000;

#[derive(Debug, Clone, Default)]
pub struct Configurations {
    pub images: Vec<FieldSpec>,
    /// `commonLabels`: for `commonLabels` and `labels` with `includeSelectors`.
    pub common_labels: Vec<FieldSpec>,
    /// `labels`: for `labels` without `includeSelectors`.
    pub labels: Vec<FieldSpec>,
    pub name_references: Vec<CustomReference>,
    /// `namePrefix` / `nameSuffix`: when given, they replace kustomize's default (every
    /// kind's `metadata/name`) for that transformer, as kubectl does.
    pub name_prefix: Vec<FieldSpec>,
    pub name_suffix: Vec<FieldSpec>,
    /// `varReference`: fields where `$(VAR)` is substituted, besides kustomize's own.
    pub var_references: Vec<FieldSpec>,
}

pub fn field_spec(node: &Node) -> Option<FieldSpec> {
    let path = node.get("path").and_then(Node::scalar_text)?;
    let path: Vec<String> = split_path(path)
        .into_iter()
        .map(|s| s.strip_suffix("[]").map(str::to_string).unwrap_or(s))
        .collect();
    if path.is_empty() {
        return None;
    }
    Some(FieldSpec {
        kind: node
            .get("kind")
            .and_then(Node::scalar_text)
            .filter(|k| !k.is_empty())
            .map(str::to_string),
        path,
        create: node.get("create").and_then(Node::scalar_text) == Some("true"),
    })
}

fn specs(node: Option<&Node>) -> Vec<FieldSpec> {
    node.and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(field_spec)
        .collect()
}

impl Configurations {
    /// Adds the sections of one configuration file.
    pub fn add(&mut self, root: &Node) {
        self.images.extend(specs(root.get("images")));
        self.common_labels.extend(specs(root.get("commonLabels")));
        self.labels.extend(specs(root.get("labels")));
        self.name_prefix.extend(specs(root.get("namePrefix")));
        self.name_suffix.extend(specs(root.get("nameSuffix")));
        self.var_references.extend(specs(root.get("varReference")));
        for entry in root
            .get("nameReference")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            let Some(kind) = entry.get("kind").and_then(Node::scalar_text) else {
                continue;
            };
            for spec in specs(entry.get("fieldSpecs")) {
                self.name_references.push(CustomReference {
                    referenced_kind: kind.to_string(),
                    referrer_kind: spec.kind,
                    path: spec.path,
                });
            }
        }
    }

    /// The field specs a `crds` file declares: an OpenAPI definitions map (type name →
    /// `Schema`), where every type with `kind`, `apiVersion` and `metadata` properties is a
    /// kind (the type name's last dot-separated part) whose properties, followed through
    /// `$ref`s to other definitions, may carry `x-kubernetes-object-ref-kind` (with
    /// `-api-version`, and `-name-key`, default `name`): a name reference; and
    /// `x-kubernetes-label-selector`: a `commonLabels` field. (`x-kubernetes-annotation`
    /// and `x-kubernetes-identity` are not applied.) Bounded: `$ref`s are followed
    /// at most `MAX_CRD_DEPTH` deep and `MAX_CRD_PROPERTIES` per file.
    pub fn add_crd_definitions(&mut self, root: &Node) {
        let Some(definitions) = root.as_map() else {
            return;
        };
        let by_name: crate::hashing::FastMap<&str, &Node> = definitions
            .iter()
            .filter_map(|(key, value)| Some((key.scalar_text()?, value)))
            .collect();
        let find = |name: &str| by_name.get(name).copied();
        let mut budget = MAX_CRD_PROPERTIES;
        for (name, definition) in definitions {
            let Some(name) = name.scalar_text() else {
                continue;
            };
            let Some(properties) = schema_properties(definition) else {
                continue;
            };
            let has = |key: &str| properties.iter().any(|(k, _)| k.scalar_text() == Some(key));
            if !(has("kind") && has("apiVersion") && has("metadata")) {
                continue;
            }
            let kind = name.rsplit('.').next().unwrap_or(name).to_string();
            // (type name, path so far), walked depth first.
            let mut stack: Vec<(&str, Vec<String>)> = vec![(name, Vec::new())];
            while let Some((type_name, path)) = stack.pop() {
                let Some(properties) = find(type_name).and_then(|d| schema_properties(d)) else {
                    continue;
                };
                for (property_name, property) in properties {
                    if budget == 0 {
                        return;
                    }
                    budget -= 1;
                    let Some(property_name) = property_name.scalar_text() else {
                        continue;
                    };
                    let text = |key: &str| property.get(key).and_then(Node::scalar_text);
                    let mut field = path.clone();
                    field.push(property_name.to_string());
                    if property.get("x-kubernetes-label-selector").is_some() {
                        self.common_labels.push(FieldSpec {
                            kind: Some(kind.clone()),
                            path: field.clone(),
                            create: false,
                        });
                    }
                    if text("x-kubernetes-object-ref-api-version").is_some()
                        && let Some(referenced) = text("x-kubernetes-object-ref-kind")
                    {
                        let mut reference = field.clone();
                        reference.push(
                            text("x-kubernetes-object-ref-name-key")
                                .unwrap_or("name")
                                .to_string(),
                        );
                        self.name_references.push(CustomReference {
                            referenced_kind: referenced.to_string(),
                            referrer_kind: Some(kind.clone()),
                            path: reference,
                        });
                    }
                    if let Some(target) = text("$ref")
                        && field.len() < MAX_CRD_DEPTH
                    {
                        stack.push((target, field));
                    }
                }
            }
        }
    }

    /// Sections of a configuration file that are not applied.
    pub fn unsupported_sections(root: &Node) -> Vec<(String, crate::span::Span)> {
        root.as_map()
            .unwrap_or(&[])
            .iter()
            .filter_map(|(key, _)| {
                let name = key.scalar_text()?;
                (!SUPPORTED.contains(&name)).then(|| (name.to_string(), key.span))
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
            && self.common_labels.is_empty()
            && self.labels.is_empty()
            && self.name_references.is_empty()
            && self.name_prefix.is_empty()
            && self.name_suffix.is_empty()
            && self.var_references.is_empty()
    }
}

/// The kinds whose `metadata/name` the field specs name (`None` inside: every kind);
/// `None` when there are no specs (kustomize's default applies).
pub fn renamed_kinds(specs: &[FieldSpec]) -> Option<Vec<Option<String>>> {
    (!specs.is_empty()).then(|| {
        specs
            .iter()
            .filter(|spec| spec.path == ["metadata", "name"])
            .map(|spec| spec.kind.clone())
            .collect()
    })
}

/// Calls `apply` on every node at `spec`'s path in objects of its kind, traversing
/// lists implicitly; with `create`, missing mappings are made (spans from `at`).
pub fn for_each_field(
    node: &mut Node,
    path: &[String],
    create: Option<(crate::span::Span, Option<FileId>)>,
    apply: &mut dyn FnMut(&mut Node),
) {
    if let NodeKind::Seq(items, _) = &mut node.kind {
        for item in items {
            for_each_field(item, path, create, apply);
        }
        return;
    }
    let Some((first, rest)) = path.split_first() else {
        apply(node);
        return;
    };
    if !matches!(node.kind, NodeKind::Map(_, _)) {
        return;
    }
    if get_mut(node, first).is_none_or(|c| c.is_null()) {
        let Some((span, origin)) = create else {
            return;
        };
        set(node, first, empty_map(span, origin));
    }
    if let Some(child) = get_mut(node, first) {
        for_each_field(child, rest, create, apply);
    }
}

pub fn kind_of(node: &Node) -> &str {
    node.get("kind")
        .and_then(Node::scalar_text)
        .unwrap_or_default()
}

/// Writes `pairs` (labels or annotations, from `file`) into `map`, when it is a mapping.
pub fn write_pairs(map: &mut Node, pairs: &Pairs, file: FileId) {
    if !matches!(map.kind, NodeKind::Map(_, _)) {
        return;
    }
    for (key, value) in pairs {
        let written = Node::synthetic_str(&value.value, value.span, Some(file));
        set(map, key, written);
    }
}

/// Writes label `pairs` at the custom label field specs.
pub fn apply_labels(resources: &mut [Built], specs: &[FieldSpec], pairs: &Pairs, file: FileId) {
    let Some((_, first)) = pairs.first() else {
        return;
    };
    for resource in resources.iter_mut() {
        let kind = kind_of(&resource.node).to_string();
        for spec in specs {
            if spec.kind.as_deref().is_some_and(|k| k != kind) {
                continue;
            }
            let create = spec.create.then_some((first.span, Some(file)));
            for_each_field(&mut resource.node, &spec.path, create, &mut |map| {
                write_pairs(map, pairs, file);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_stream;

    #[test]
    fn sections_are_read() {
        let text = "images:\n- kind: Custom\n  path: spec/containers[]/image\nnameReference:\n- kind: IngressHost\n  fieldSpecs:\n  - path: spec/rules/host\n    kind: Ingress\ncommonLabels:\n- path: spec/template/metadata/labels\n  create: true\n";
        let stream = parse_stream(text);
        let mut configurations = Configurations::default();
        for document in &stream.documents {
            configurations.add(&document.root);
        }
        assert_eq!(
            configurations.images[0].path,
            vec!["spec", "containers", "image"]
        );
        assert_eq!(
            configurations.name_references[0].referenced_kind,
            "IngressHost"
        );
        assert_eq!(
            configurations.name_references[0].referrer_kind.as_deref(),
            Some("Ingress")
        );
        assert!(configurations.common_labels[0].create);
        assert!(configurations.labels.is_empty());
    }

    #[test]
    fn crd_definitions_add_references_and_selectors_and_stop_on_cycles() {
        let text = r#"{
  "example.com.v1.Widget": {"Schema": {"properties": {
    "apiVersion": {}, "kind": {}, "metadata": {},
    "spec": {"$ref": "example.com.v1.WidgetSpec"}}}},
  "example.com.v1.WidgetSpec": {"Schema": {"properties": {
    "configRef": {"x-kubernetes-object-ref-api-version": "v1",
                  "x-kubernetes-object-ref-kind": "ConfigMap",
                  "x-kubernetes-object-ref-name-key": "configName"},
    "selector": {"x-kubernetes-label-selector": ""},
    "loop": {"$ref": "example.com.v1.WidgetSpec"}}}},
  "example.com.v1.NotAKind": {"Schema": {"properties": {
    "secretRef": {"x-kubernetes-object-ref-api-version": "v1",
                  "x-kubernetes-object-ref-kind": "Secret"}}}}
}"#;
        let stream = parse_stream(text);
        let mut configurations = Configurations::default();
        for document in &stream.documents {
            configurations.add_crd_definitions(&document.root);
        }
        let first = &configurations.name_references[0];
        assert_eq!(first.referenced_kind, "ConfigMap");
        assert_eq!(first.referrer_kind.as_deref(), Some("Widget"));
        assert_eq!(first.path, vec!["spec", "configRef", "configName"]);
        // The self-referencing `loop` is followed only to the depth limit.
        assert!(configurations.name_references.len() <= MAX_CRD_DEPTH);
        assert!(configurations.name_references.len() > 1);
        assert!(
            configurations
                .name_references
                .iter()
                .all(|r| r.referenced_kind == "ConfigMap")
        );
        assert_eq!(
            configurations.common_labels[0].path,
            vec!["spec", "selector"]
        );
        assert!(!configurations.common_labels[0].create);
    }
}
