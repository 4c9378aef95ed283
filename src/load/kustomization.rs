//! The fields of a `kustomization.yaml` that xks-lint applies, read from the
//! span tree so every diagnostic can point at the entry that caused it.

use crate::load::yaml::{Node, NodeKind};
use crate::span::Span;

pub const FILE_NAMES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// A string entry with the span it was written at.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: String,
    pub span: Span,
}

/// `key: value` pairs as written, each value with its span (where a label or
/// annotation added to an object "was written").
pub type Pairs = Vec<(String, Entry)>;

#[derive(Debug, Clone)]
pub struct LabelSet {
    pub pairs: Pairs,
    pub include_selectors: bool,
    pub include_templates: bool,
}

#[derive(Debug, Clone, Default)]
pub struct PatchTarget {
    pub group: Option<String>,
    pub version: Option<String>,
    pub kind: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub label_selector: Option<String>,
    pub annotation_selector: Option<String>,
}

#[derive(Debug, Clone)]
pub enum PatchSource {
    Inline(String),
    File(String),
}

#[derive(Debug, Clone)]
pub struct Patch {
    pub source: PatchSource,
    pub target: Option<PatchTarget>,
    /// `patchesJson6902` entries are always JSON patches; `patches` entries are sniffed.
    pub json6902: bool,
    /// `options.allowNameChange` / `options.allowKindChange`: a strategic-merge patch with a
    /// `target` may rename the object / change its kind (otherwise its identity fields only
    /// describe what it patches).
    pub allow_name_change: bool,
    pub allow_kind_change: bool,
    pub span: Span,
    /// The built-in transformer kustomize configures for this entry (named in
    /// `transformerAnnotations`).
    pub builtin: &'static str,
}

#[derive(Debug, Clone, Default)]
pub struct Kustomization {
    pub resources: Vec<Entry>,
    pub components: Vec<Entry>,
    pub namespace: Option<Entry>,
    pub name_prefix: String,
    pub name_suffix: String,
    pub common_labels: Pairs,
    pub labels: Vec<LabelSet>,
    pub common_annotations: Pairs,
    pub patches: Vec<Patch>,
    /// `configMapGenerator` then `secretGenerator` entries, in that order.
    pub generators: Vec<Generator>,
    /// `generatorOptions`: defaults for every generator of this kustomization.
    pub generator_options: Option<GeneratorOptions>,
    pub images: Vec<Image>,
    pub replicas: Vec<Replica>,
    /// `replacements`, inline or from files.
    pub replacements: Vec<ReplacementEntry>,
    /// `configurations`: files of custom field specs.
    pub configurations: Vec<Entry>,
    /// `crds`: OpenAPI definition files whose `x-kubernetes-*` extensions add field specs.
    pub crds: Vec<Entry>,
    /// `generators:` and `transformers:` entries: plugin configuration files, directories
    /// of them, or inline configurations (see [`super::plugins`]).
    pub generator_plugins: Vec<Entry>,
    pub transformer_plugins: Vec<Entry>,
    /// `buildMetadata`: `originAnnotations`, `transformerAnnotations`, `managedByLabel`.
    pub build_metadata: Vec<String>,
    /// `vars`: legacy `$(NAME)` substitutions.
    pub vars: Vec<Var>,
    /// Features present but not applied (generators, plugins, helm charts, ...).
    pub unsupported: Vec<Entry>,
    /// Entries kustomize refuses to read (a `patches` item that is a bare string): the
    /// message, at the entry. kubectl fails the whole build on them.
    pub errors: Vec<Entry>,
    /// Files named by refused entries: read by nothing, and not plain manifests either.
    pub refused_files: Vec<Entry>,
}

const UNSUPPORTED_FIELDS: [&str; 4] = [
    "validators",
    "helmCharts",
    "helmChartInflationGenerator",
    "openapi",
];

/// One `vars` entry: `$(name)` takes the value at `field_path` of the object that
/// `objref` names.
#[derive(Debug, Clone)]
pub struct Var {
    pub name: String,
    /// `objref`: group and version (from `apiVersion`, or `group`/`version`), kind,
    /// name and namespace, compared exactly as kustomize compares them.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub object_name: String,
    pub namespace: String,
    /// `fieldref.fieldpath`, `metadata.name` when absent.
    pub field_path: String,
    /// The entry's `name`, where errors about it point.
    pub span: Span,
}

/// The fields of a kustomization (Go struct fields: kustomize reads the file with
/// `encoding/json`, whose field names match regardless of case, so `namePrefix`,
/// `nameprefix` and `NAMEPREFIX` are one field).
const KNOWN_FIELDS: [&str; 34] = [
    "apiVersion",
    "kind",
    "metadata",
    "resources",
    "bases",
    "components",
    "crds",
    "namespace",
    "namePrefix",
    "nameSuffix",
    "commonLabels",
    "labels",
    "commonAnnotations",
    "patches",
    "patchesStrategicMerge",
    "patchesJson6902",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
    "images",
    "replicas",
    "replacements",
    "configurations",
    "generators",
    "transformers",
    "validators",
    "buildMetadata",
    "vars",
    "helmCharts",
    "helmGlobals",
    "helmChartInflationGenerator",
    "openapi",
    "sortOptions",
    "imageTags",
];

/// `root` with its keys spelled as kustomize's field names where they differ only in
/// case; `None` when every key is already spelled so (the common case: no copy).
fn canonical_keys(root: &Node) -> Option<Node> {
    let entries = root.as_map()?;
    let canonical = |key: &str| {
        KNOWN_FIELDS
            .iter()
            .find(|field| field.eq_ignore_ascii_case(key) && **field != key)
    };
    if !entries
        .iter()
        .any(|(key, _)| key.scalar_text().and_then(canonical).is_some())
    {
        return None;
    }
    let mut copy = root.clone();
    if let NodeKind::Map(entries, _) = &mut copy.kind {
        for (key, _) in entries.iter_mut() {
            if let Some(field) = key.scalar_text().and_then(canonical)
                && let Some((value, _)) = key.as_scalar_mut()
            {
                *value = (*field).into();
            }
        }
    }
    Some(copy)
}

fn vars(node: Option<&Node>) -> Vec<Var> {
    let mut vars = Vec::new();
    for item in node.and_then(Node::as_seq).unwrap_or(&[]) {
        let Some(name_node) = item.get("name") else {
            continue;
        };
        let objref = item.get("objref");
        let field = |key: &str| text(objref.and_then(|o| o.get(key))).unwrap_or_default();
        let (mut group, mut version) = (field("group"), field("version"));
        let api_version = field("apiVersion");
        if !api_version.is_empty() {
            match api_version.split_once('/') {
                Some((g, v)) if !v.contains('/') => (group, version) = (g.into(), v.into()),
                Some(_) => {}
                None => version = api_version,
            }
        }
        vars.push(Var {
            name: name_node.scalar_text().unwrap_or_default().to_string(),
            group,
            version,
            kind: field("kind"),
            object_name: field("name"),
            namespace: field("namespace"),
            field_path: text(item.get("fieldref").and_then(|f| f.get("fieldpath")))
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "metadata.name".to_string()),
            span: name_node.span,
        });
    }
    vars
}

fn string_list(node: Option<&Node>) -> Vec<Entry> {
    node.and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(|item| {
            item.scalar_text().map(|value| Entry {
                value: value.to_string(),
                span: item.span,
            })
        })
        .collect()
}

fn string_map(node: Option<&Node>) -> Pairs {
    let mut pairs = Vec::new();
    if let Some(NodeKind::Map(entries, _)) = node.map(|n| &n.kind) {
        for (key, value) in entries {
            if let (Some(k), Some(v)) = (key.scalar_text(), value.scalar_text()) {
                pairs.push((
                    k.to_string(),
                    Entry {
                        value: v.to_string(),
                        span: value.span,
                    },
                ));
            }
        }
    }
    pairs
}

fn text(node: Option<&Node>) -> Option<String> {
    node.and_then(Node::scalar_text).map(str::to_string)
}

fn flag(node: Option<&Node>) -> bool {
    node.and_then(Node::scalar_text) == Some("true")
}

fn target(node: Option<&Node>) -> Option<PatchTarget> {
    let node = node?;
    Some(PatchTarget {
        group: text(node.get("group")),
        version: text(node.get("version")),
        kind: text(node.get("kind")),
        name: text(node.get("name")),
        namespace: text(node.get("namespace")),
        label_selector: text(node.get("labelSelector")),
        annotation_selector: text(node.get("annotationSelector")),
    })
}

impl Kustomization {
    pub fn from_node(root: &Node) -> Kustomization {
        let canonical = canonical_keys(root);
        let root = canonical.as_ref().unwrap_or(root);
        let mut k = Kustomization {
            resources: string_list(root.get("resources")),
            components: string_list(root.get("components")),
            namespace: root
                .get("namespace")
                .and_then(|n| {
                    n.scalar_text().map(|value| Entry {
                        value: value.to_string(),
                        span: n.span,
                    })
                })
                .filter(|e| !e.value.is_empty()),
            name_prefix: text(root.get("namePrefix")).unwrap_or_default(),
            name_suffix: text(root.get("nameSuffix")).unwrap_or_default(),
            common_labels: string_map(root.get("commonLabels")),
            common_annotations: string_map(root.get("commonAnnotations")),
            ..Kustomization::default()
        };
        // `bases` is the deprecated spelling of directory resources.
        k.resources.extend(string_list(root.get("bases")));
        for item in root.get("labels").and_then(Node::as_seq).unwrap_or(&[]) {
            k.labels.push(LabelSet {
                pairs: string_map(item.get("pairs")),
                include_selectors: flag(item.get("includeSelectors")),
                include_templates: flag(item.get("includeTemplates")),
            });
        }
        for item in string_list(root.get("patchesStrategicMerge")) {
            // An entry is either a path or an inline patch document.
            let source = if item.value.contains('\n') || item.value.contains(": ") {
                PatchSource::Inline(item.value)
            } else {
                PatchSource::File(item.value)
            };
            k.patches.push(Patch {
                source,
                target: None,
                json6902: false,
                allow_name_change: false,
                allow_kind_change: false,
                span: item.span,
                builtin: "PatchStrategicMergeTransformer",
            });
        }
        for (field, json6902) in [("patches", false), ("patchesJson6902", true)] {
            for item in root.get(field).and_then(Node::as_seq).unwrap_or(&[]) {
                if let Some(value) = item.scalar_text() {
                    // kubectl refuses the kustomization ("cannot unmarshal string into ...
                    // types.Patch"); the legacy spelling is `patchesStrategicMerge`.
                    k.errors.push(Entry {
                        value: format!(
                            "`{field}` entries are objects (`- path: {value}`), not strings; kubectl refuses this kustomization (the legacy list of files is `patchesStrategicMerge`)"
                        ),
                        span: item.span,
                    });
                    k.refused_files.push(Entry {
                        value: value.to_string(),
                        span: item.span,
                    });
                    continue;
                }
                let source = match (text(item.get("patch")), text(item.get("path"))) {
                    (Some(inline), _) => PatchSource::Inline(inline),
                    (None, Some(path)) => PatchSource::File(path),
                    (None, None) => continue,
                };
                let options = item.get("options");
                // Point at the entry's first key, not the whole (multi-line) entry.
                let span = item
                    .as_map()
                    .and_then(|entries| entries.first())
                    .map_or(item.span, |(key, _)| key.span);
                k.patches.push(Patch {
                    source,
                    target: target(item.get("target")),
                    json6902,
                    allow_name_change: flag(options.and_then(|o| o.get("allowNameChange"))),
                    allow_kind_change: flag(options.and_then(|o| o.get("allowKindChange"))),
                    span,
                    builtin: if json6902 {
                        "PatchJson6902Transformer"
                    } else {
                        "PatchTransformer"
                    },
                });
            }
        }
        k.parse_data_fields(root);
        k.vars = vars(root.get("vars"));
        for field in UNSUPPORTED_FIELDS {
            if let Some((key, _)) = root.entry(field) {
                k.unsupported.push(Entry {
                    value: field.to_string(),
                    span: key.span,
                });
            }
        }
        k
    }

    /// Entries that may name another kustomization directory, which is then built as
    /// part of this one: resources, components, and plugin configuration directories.
    pub fn inclusions(&self) -> impl Iterator<Item = &Entry> {
        self.resources.iter().chain(&self.components).chain(
            self.generator_plugins
                .iter()
                .chain(&self.transformer_plugins)
                .filter(|e| !is_inline_config(&e.value)),
        )
    }

    /// Files read as raw data (generator `files` and `envs`), as written.
    pub fn data_paths(&self) -> impl Iterator<Item = &str> {
        self.generators
            .iter()
            .flat_map(|g| g.files.iter().chain(&g.envs))
            .filter_map(|e| file_source(&e.value).ok().map(|(_, path)| path))
    }

    /// Local paths this kustomization reads (resources, components, patch files), as written.
    pub fn referenced_paths(&self) -> impl Iterator<Item = &str> {
        let patch_files = self.patches.iter().filter_map(|p| match &p.source {
            PatchSource::File(path) => Some(path.as_str()),
            PatchSource::Inline(_) => None,
        });
        self.resources
            .iter()
            .chain(&self.components)
            .chain(&self.refused_files)
            .map(|e| e.value.as_str())
            .filter(|p| !is_remote(p))
            .chain(patch_files)
            .chain(self.configurations.iter().map(|e| e.value.as_str()))
            .chain(self.crds.iter().map(|e| e.value.as_str()))
            .chain(
                self.generator_plugins
                    .iter()
                    .chain(&self.transformer_plugins)
                    .map(|e| e.value.as_str())
                    .filter(|p| !is_inline_config(p) && !is_remote(p)),
            )
            .chain(self.replacements.iter().filter_map(|r| match r {
                ReplacementEntry::File(e) => Some(e.value.as_str()),
                ReplacementEntry::Inline(_) => None,
            }))
    }
}

/// A `generators:`/`transformers:` entry written as the configuration itself rather
/// than a path (kustomize tries to read every entry as YAML objects first).
pub fn is_inline_config(entry: &str) -> bool {
    entry.contains('\n') || entry.trim_start().starts_with('{')
}

/// URLs and git references are never fetched.
pub fn is_remote(path: &str) -> bool {
    path.contains("://")
        || path.starts_with("github.com/")
        || path.starts_with("git@")
        || path.contains("?ref=")
        || path.contains(".git//")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeneratedKind {
    ConfigMap,
    Secret,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behavior {
    #[default]
    Create,
    Merge,
    Replace,
}

/// `generatorOptions`, or a generator's own `options`.
#[derive(Debug, Clone, Default)]
pub struct GeneratorOptions {
    pub labels: Pairs,
    pub annotations: Pairs,
    pub disable_name_suffix_hash: bool,
    pub immutable: bool,
}

/// One `configMapGenerator` or `secretGenerator` entry.
#[derive(Debug, Clone)]
pub struct Generator {
    pub kind: GeneratedKind,
    pub name: Entry,
    pub namespace: Option<String>,
    pub behavior: Behavior,
    /// The `behavior` value as written when it is none of create, merge, replace.
    pub bad_behavior: Option<Entry>,
    pub literals: Vec<Entry>,
    pub files: Vec<Entry>,
    /// `envs` and the legacy single `env`.
    pub envs: Vec<Entry>,
    pub options: Option<GeneratorOptions>,
    /// `type` of a Secret (`Opaque` when absent).
    pub secret_type: Option<String>,
}

/// One `images` entry.
#[derive(Debug, Clone)]
pub struct Image {
    pub name: String,
    pub new_name: Option<String>,
    pub new_tag: Option<String>,
    pub digest: Option<String>,
    pub span: Span,
}

/// One `replicas` entry.
#[derive(Debug, Clone)]
pub struct Replica {
    pub name: String,
    /// The count as written (kustomize requires an integer).
    pub count: Option<i64>,
    pub span: Span,
}

/// One `replacements` entry: written inline or in a file.
#[derive(Debug, Clone)]
pub enum ReplacementEntry {
    Inline(Node),
    File(Entry),
}

fn options(node: Option<&Node>) -> Option<GeneratorOptions> {
    let node = node?;
    Some(GeneratorOptions {
        labels: string_map(node.get("labels")),
        annotations: string_map(node.get("annotations")),
        disable_name_suffix_hash: flag(node.get("disableNameSuffixHash")),
        immutable: flag(node.get("immutable")),
    })
}

/// Splits a generator `files` entry into key and path: `key=path`, or a path whose
/// base name is the key.
pub fn file_source(source: &str) -> Result<(&str, &str), String> {
    match source.matches('=').count() {
        0 => Ok((source.rsplit('/').next().unwrap_or(source), source)),
        1 => match source.split_once('=') {
            Some(("", path)) => Err(format!("missing key name for file path `{path}`")),
            Some((key, "")) => Err(format!("missing file path for key `{key}`")),
            Some((key, path)) => Ok((key, path)),
            None => Err("bad file source".to_string()),
        },
        _ => Err(format!(
            "key names or file paths cannot contain `=` (`{source}`)"
        )),
    }
}

impl Kustomization {
    /// Generators, images, replicas, replacements and configurations.
    fn parse_data_fields(&mut self, root: &Node) {
        for (field, kind) in [
            ("configMapGenerator", GeneratedKind::ConfigMap),
            ("secretGenerator", GeneratedKind::Secret),
        ] {
            for item in root.get(field).and_then(Node::as_seq).unwrap_or(&[]) {
                let name = item.get("name").map_or(
                    Entry {
                        value: String::new(),
                        span: item.span,
                    },
                    |n| Entry {
                        value: n.scalar_text().unwrap_or_default().to_string(),
                        span: n.span,
                    },
                );
                let behavior_node = item.get("behavior");
                let (behavior, bad_behavior) = match behavior_node.and_then(Node::scalar_text) {
                    None | Some("") | Some("create") => (Behavior::Create, None),
                    Some("merge") => (Behavior::Merge, None),
                    Some("replace") => (Behavior::Replace, None),
                    Some(other) => (
                        Behavior::Create,
                        Some(Entry {
                            value: other.to_string(),
                            span: behavior_node.map_or(item.span, |n| n.span),
                        }),
                    ),
                };
                let mut envs = string_list(item.get("envs"));
                if let Some(env) = item.get("env")
                    && let Some(value) = env.scalar_text().filter(|v| !v.is_empty())
                {
                    envs.push(Entry {
                        value: value.to_string(),
                        span: env.span,
                    });
                }
                self.generators.push(Generator {
                    kind,
                    name,
                    namespace: text(item.get("namespace")).filter(|n| !n.is_empty()),
                    behavior,
                    bad_behavior,
                    literals: string_list(item.get("literals")),
                    files: string_list(item.get("files")),
                    envs,
                    options: options(item.get("options")),
                    secret_type: text(item.get("type")).filter(|t| !t.is_empty()),
                });
            }
        }
        self.generator_options = options(root.get("generatorOptions"));
        for item in root.get("images").and_then(Node::as_seq).unwrap_or(&[]) {
            let Some(name) = text(item.get("name")) else {
                continue;
            };
            self.images.push(Image {
                name,
                new_name: text(item.get("newName")).filter(|v| !v.is_empty()),
                new_tag: text(item.get("newTag")).filter(|v| !v.is_empty()),
                digest: text(item.get("digest")).filter(|v| !v.is_empty()),
                span: item.get("name").map_or(item.span, |n| n.span),
            });
        }
        for item in root.get("replicas").and_then(Node::as_seq).unwrap_or(&[]) {
            let Some(name) = text(item.get("name")) else {
                continue;
            };
            self.replicas.push(Replica {
                name,
                count: item
                    .get("count")
                    .and_then(Node::scalar_text)
                    .and_then(|c| c.parse().ok()),
                span: item.get("name").map_or(item.span, |n| n.span),
            });
        }
        for item in root
            .get("replacements")
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            match item.get("path") {
                Some(path) if item.get("source").is_none() => {
                    if let Some(value) = path.scalar_text() {
                        self.replacements.push(ReplacementEntry::File(Entry {
                            value: value.to_string(),
                            span: path.span,
                        }));
                    }
                }
                _ => self
                    .replacements
                    .push(ReplacementEntry::Inline(item.clone())),
            }
        }
        self.configurations = string_list(root.get("configurations"));
        self.crds = string_list(root.get("crds"));
        self.generator_plugins = string_list(root.get("generators"));
        self.transformer_plugins = string_list(root.get("transformers"));
        self.build_metadata = string_list(root.get("buildMetadata"))
            .into_iter()
            .map(|e| e.value)
            .collect();
    }
}
