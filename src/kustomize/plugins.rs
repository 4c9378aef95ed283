//! Built-in plugin configurations named by a kustomization's `generators:` and
//! `transformers:` fields (`apiVersion: builtin`, `kind: PrefixSuffixTransformer`, ...).
//!
//! Each is pure data — the same operations a kustomization's own fields perform, with
//! explicit field specs — so xks-lint applies them natively. Most translate into a
//! kustomization fragment (a `PatchTransformer` is a `patches` entry, a
//! `ConfigMapGenerator` a `configMapGenerator` entry); the ones whose field specs replace
//! kustomize's defaults (prefix/suffix, labels, annotations) carry their specs. Anything
//! else (exec and container plugins, KRM functions, Helm) is never run.

use crate::load::yaml::{Node, NodeKind, Style};
use crate::span::{FileId, Span};

use super::configurations::FieldSpec;
use super::spec::{Entry, Kustomization, Pairs};

/// The `apiVersion` kustomize reserves for its built-in plugins.
pub const BUILTIN_API_VERSION: &str = "builtin";
/// Where GKE workload identity reads the Google service account of a ServiceAccount.
const GKE_SERVICE_ACCOUNT_ANNOTATION: &str = "iam.gke.io/gcp-service-account";

/// What one plugin configuration does.
#[derive(Debug, Clone)]
pub enum Builtin {
    /// Exactly what these kustomization fields do (generators, patches, namespace,
    /// images, replicas, replacements).
    Fragment(Box<Kustomization>),
    /// `PrefixSuffixTransformer` (and `PrefixTransformer`/`SuffixTransformer`): renames
    /// the objects whose kind one of its `metadata/name` field specs names.
    Rename {
        prefix: String,
        suffix: String,
        /// Kinds renamed; `None` inside means every kind.
        kinds: Vec<Option<String>>,
    },
    /// `LabelTransformer` / `AnnotationsTransformer`: pairs written at the field specs.
    Pairs {
        kind: &'static str,
        pairs: Pairs,
        specs: Vec<FieldSpec>,
    },
    /// `NamespaceTransformer` with `unsetOnly`: sets the namespace of objects that have none.
    NamespaceIfUnset(Entry),
    /// `IAMPolicyGenerator` (GKE workload identity): one annotated ServiceAccount.
    ServiceAccount {
        name: String,
        namespace: Option<String>,
        annotation: String,
        span: Span,
    },
    /// Hashing and ordering transformers: nothing to do for a set of objects.
    Nothing,
}

/// Why a plugin configuration is not applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotApplied {
    /// Not a built-in: an exec or container plugin, or a KRM function; kubectl refuses
    /// those without `--enable-alpha-plugins`, and xks-lint never runs them.
    External(String),
    /// A built-in that runs a program (Helm) or that xks-lint does not model.
    Builtin(String),
    /// A built-in whose configuration kustomize itself rejects.
    Invalid(String),
}

fn text(node: Option<&Node>) -> Option<String> {
    node.and_then(Node::scalar_text)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
}

fn key(name: &str, span: Span) -> Node {
    Node::scalar(name.into(), Style::Plain, None, span)
}

fn map(entries: Vec<(&str, Node)>, span: Span) -> Node {
    Node::map(
        entries
            .into_iter()
            .map(|(k, v)| (key(k, span), v))
            .collect(),
        span,
    )
}

fn seq(items: Vec<Node>, span: Span) -> Node {
    Node::seq(items.into(), span)
}

/// The config's entries except the ones listed, plus the given ones.
fn with_entries(config: &Node, drop: &[&str], add: Vec<(&str, Node)>) -> Node {
    let mut entries: Vec<(Node, Node)> = config
        .as_map()
        .unwrap_or(&[])
        .iter()
        .filter(|(k, _)| k.scalar_text().is_none_or(|k| !drop.contains(&k)))
        .cloned()
        .collect();
    entries.extend(add.into_iter().map(|(k, v)| (key(k, config.span), v)));
    Node {
        kind: NodeKind::Map(entries.into(), config.origin()),
        span: config.span,
    }
}

fn fragment(root: Node) -> Builtin {
    Builtin::Fragment(Box::new(Kustomization::from_node(&root)))
}

fn field_specs(config: &Node) -> Vec<FieldSpec> {
    config
        .get("fieldSpecs")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter_map(super::configurations::field_spec)
        .collect()
}

fn pairs(node: Option<&Node>) -> Pairs {
    node.and_then(Node::as_map)
        .unwrap_or(&[])
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.scalar_text()?.to_string(),
                Entry {
                    value: v.scalar_text()?.to_string(),
                    span: v.span,
                },
            ))
        })
        .collect()
}

/// A generator's arguments: `metadata.name`/`namespace` name the generated object
/// unless the config says `name`/`namespace` itself.
fn generator(config: &Node, field: &str) -> Builtin {
    let metadata = config.get("metadata");
    let mut add = Vec::new();
    for name in ["name", "namespace"] {
        if text(config.get(name)).is_none()
            && let Some(value) = metadata.and_then(|m| m.get(name))
        {
            add.push((name, value.clone()));
        }
    }
    let entry = with_entries(config, &["apiVersion", "kind", "metadata"], add);
    fragment(map(
        vec![(field, seq(vec![entry], config.span))],
        config.span,
    ))
}

/// The ServiceAccount an `IAMPolicyGenerator` generates, written at `span` of `file`.
pub fn service_account(
    name: &str,
    namespace: Option<&str>,
    annotation: &str,
    span: Span,
    file: FileId,
) -> Node {
    let string = |value: &str| Node::synthetic_str(value, span, Some(file));
    let mut metadata = vec![
        (
            "annotations",
            map(
                vec![(GKE_SERVICE_ACCOUNT_ANNOTATION, string(annotation))],
                span,
            ),
        ),
        ("name", string(name)),
    ];
    if let Some(namespace) = namespace {
        metadata.push(("namespace", string(namespace)));
    }
    let mut node = map(
        vec![
            ("apiVersion", string("v1")),
            ("kind", string("ServiceAccount")),
            ("metadata", map(metadata, span)),
        ],
        span,
    );
    node.set_origin(file);
    node
}

/// Interprets one plugin configuration object.
pub fn interpret(config: &Node) -> Result<Builtin, NotApplied> {
    let api_version = text(config.get("apiVersion")).unwrap_or_default();
    let kind = text(config.get("kind")).unwrap_or_default();
    if api_version != BUILTIN_API_VERSION {
        return Err(NotApplied::External(if kind.is_empty() {
            "a plugin configuration without `kind`".to_string()
        } else {
            format!("plugin `{api_version}` `{kind}`")
        }));
    }
    let span = config.span;
    Ok(match kind.as_str() {
        "ConfigMapGenerator" => generator(config, "configMapGenerator"),
        "SecretGenerator" => generator(config, "secretGenerator"),
        "PatchTransformer" => {
            let entry = with_entries(config, &["apiVersion", "kind", "metadata"], Vec::new());
            fragment(map(vec![("patches", seq(vec![entry], span))], span))
        }
        "PatchStrategicMergeTransformer" => {
            let mut items: Vec<Node> = config
                .get("paths")
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .to_vec();
            items.extend(config.get("patches").cloned());
            fragment(map(vec![("patchesStrategicMerge", seq(items, span))], span))
        }
        "PatchJson6902Transformer" => {
            let mut add = Vec::new();
            if let Some(operations) = config.get("jsonOp") {
                add.push(("patch", operations.clone()));
            }
            let entry = with_entries(config, &["apiVersion", "kind", "metadata", "jsonOp"], add);
            fragment(map(vec![("patchesJson6902", seq(vec![entry], span))], span))
        }
        "ReplacementTransformer" => {
            let mut items: Vec<Node> = config
                .get("replacements")
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .to_vec();
            if let Some(path) = config.get("path") {
                items.push(map(vec![("path", path.clone())], span));
            }
            fragment(map(vec![("replacements", seq(items, span))], span))
        }
        "ImageTagTransformer" => {
            let Some(image) = config.get("imageTag") else {
                return Err(NotApplied::Invalid(
                    "`ImageTagTransformer` needs `imageTag`".to_string(),
                ));
            };
            fragment(map(vec![("images", seq(vec![image.clone()], span))], span))
        }
        "ReplicaCountTransformer" => {
            let Some(replica) = config.get("replica") else {
                return Err(NotApplied::Invalid(
                    "`ReplicaCountTransformer` needs `replica`".to_string(),
                ));
            };
            fragment(map(
                vec![("replicas", seq(vec![replica.clone()], span))],
                span,
            ))
        }
        "NamespaceTransformer" => {
            let Some(namespace) = config.path(&["metadata", "namespace"]) else {
                return Ok(Builtin::Nothing);
            };
            if config.get("unsetOnly").and_then(Node::scalar_text) == Some("true") {
                Builtin::NamespaceIfUnset(Entry {
                    value: namespace.scalar_text().unwrap_or_default().to_string(),
                    span: namespace.span,
                })
            } else {
                fragment(map(vec![("namespace", namespace.clone())], span))
            }
        }
        "PrefixSuffixTransformer" | "PrefixTransformer" | "SuffixTransformer" => {
            let kinds =
                super::configurations::renamed_kinds(&field_specs(config)).unwrap_or_default();
            Builtin::Rename {
                prefix: text(config.get("prefix")).unwrap_or_default(),
                suffix: text(config.get("suffix")).unwrap_or_default(),
                kinds,
            }
        }
        "LabelTransformer" => Builtin::Pairs {
            kind: "LabelTransformer",
            pairs: pairs(config.get("labels")),
            specs: field_specs(config),
        },
        "AnnotationsTransformer" => Builtin::Pairs {
            kind: "AnnotationsTransformer",
            pairs: pairs(config.get("annotations")),
            specs: field_specs(config),
        },
        "IAMPolicyGenerator" => {
            let service = config.get("kubernetesService");
            let account = config.get("serviceAccount");
            let (Some(name), Some(account_name), Some(project)) = (
                text(service.and_then(|s| s.get("name"))),
                text(account.and_then(|a| a.get("name"))),
                text(account.and_then(|a| a.get("projectId"))),
            ) else {
                return Err(NotApplied::Invalid(
                    "`IAMPolicyGenerator` needs `kubernetesService.name`, `serviceAccount.name` and `serviceAccount.projectId`".to_string(),
                ));
            };
            Builtin::ServiceAccount {
                name,
                namespace: text(service.and_then(|s| s.get("namespace"))),
                annotation: format!("{account_name}@{project}.iam.gserviceaccount.com"),
                span,
            }
        }
        "HashTransformer" | "SortOrderTransformer" | "LegacyOrderTransformer" => Builtin::Nothing,
        "HelmChartInflationGenerator" => {
            return Err(NotApplied::Builtin(
                "`HelmChartInflationGenerator` runs Helm".to_string(),
            ));
        }
        other => {
            return Err(NotApplied::Builtin(format!(
                "built-in plugin `{other}` is not modelled"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_stream;

    fn config(text: &str) -> Node {
        parse_stream(text)
            .documents
            .into_iter()
            .next()
            .map(|d| d.root)
            .unwrap_or_else(|| Node::synthetic_str("", Span::default(), None))
    }

    #[test]
    fn generator_takes_its_name_from_metadata() {
        let parsed = interpret(&config(
            "apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: mymap\n  namespace: ns\nliterals:\n- A=b\n",
        ));
        let Ok(Builtin::Fragment(fragment)) = parsed else {
            panic!("expected a fragment, got {parsed:?}");
        };
        let generator = &fragment.generators[0];
        assert_eq!(generator.name.value, "mymap");
        assert_eq!(generator.namespace.as_deref(), Some("ns"));
        assert_eq!(generator.literals[0].value, "A=b");
    }

    #[test]
    fn prefixer_renames_only_the_kinds_of_its_name_specs() {
        let parsed = interpret(&config(
            "apiVersion: builtin\nkind: PrefixSuffixTransformer\nprefix: p-\nfieldSpecs:\n- kind: Service\n  path: metadata/name\n- path: spec/x\n",
        ));
        let Ok(Builtin::Rename { prefix, kinds, .. }) = parsed else {
            panic!("expected a rename, got {parsed:?}");
        };
        assert_eq!(prefix, "p-");
        assert_eq!(kinds, vec![Some("Service".to_string())]);
    }

    #[test]
    fn non_builtin_and_helm_are_not_applied() {
        assert!(matches!(
            interpret(&config("apiVersion: example.com/v1\nkind: Sed\n")),
            Err(NotApplied::External(_))
        ));
        assert!(matches!(
            interpret(&config(
                "apiVersion: builtin\nkind: HelmChartInflationGenerator\n"
            )),
            Err(NotApplied::Builtin(_))
        ));
    }
}
