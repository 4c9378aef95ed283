//! `vars`: kustomize's legacy `$(NAME)` substitution.
//!
//! Each kustomization's `vars` name an object (by apiVersion, kind, name and, when
//! given, namespace, matched against any name the object has had) and a field of it.
//! The declarations accumulate from the bases up; two with one name are an error.
//! Only the root substitutes, once every name is final: in the fields of
//! `varReference` (kustomize's list, extended by `configurations`), each `$(NAME)`
//! becomes the field's value, `$$` becomes `$`, and a reference to an unknown name
//! stays as written. A whole-value reference keeps the type of the value it copies.

use crate::kinds::CLUSTER_SCOPED_KINDS;
use crate::limits::{MAX_SUBSTITUTED_ROOT, MAX_SUBSTITUTED_VALUE};
use crate::load::yaml::{Node, NodeKind, Resolved, Style};
use crate::span::{FileId, Span};

use super::configurations::{FieldSpec, for_each_field, kind_of};
use super::spec::Var;
use super::{Built, ResId};

/// A `vars` entry and the kustomization that declared it.
#[derive(Debug, Clone)]
pub struct Declared {
    pub var: Var,
    pub file: FileId,
}

/// A build error about a var, at its declaration.
#[derive(Debug)]
pub struct VarError {
    pub file: FileId,
    pub span: Span,
    pub message: String,
}

impl VarError {
    fn at(declared: &Declared, message: String) -> VarError {
        VarError {
            file: declared.file,
            span: declared.var.span,
            message,
        }
    }
}

/// Container fields where kustomize's default `varReference` substitutes.
const POD_FIELDS: [&str; 8] = [
    "containers/args",
    "containers/command",
    "containers/env/value",
    "containers/volumeMounts/mountPath",
    "initContainers/args",
    "initContainers/command",
    "initContainers/env/value",
    "initContainers/volumeMounts/mountPath",
];

/// kustomize's default `varReference` field specs, as kubectl's kustomize (v5.5) has them.
pub fn default_references() -> Vec<FieldSpec> {
    let spec = |kind: &str, path: &str| FieldSpec {
        kind: (!kind.is_empty()).then(|| kind.to_string()),
        path: path.split('/').map(str::to_string).collect(),
        create: false,
    };
    let mut specs = Vec::new();
    let pod_specs: [(&str, &str); 7] = [
        ("CronJob", "spec/jobTemplate/spec/template/spec/"),
        ("DaemonSet", "spec/template/spec/"),
        ("Deployment", "spec/template/spec/"),
        ("Job", "spec/template/spec/"),
        ("Pod", "spec/"),
        ("ReplicaSet", "spec/template/spec/"),
        ("StatefulSet", "spec/template/spec/"),
    ];
    for (kind, prefix) in pod_specs {
        for field in POD_FIELDS {
            specs.push(spec(kind, &format!("{prefix}{field}")));
        }
        match kind {
            // kubectl's kustomize (v5.5) looks one level too high in a CronJob.
            "CronJob" => specs.push(spec(
                kind,
                "spec/jobTemplate/spec/template/volumes/nfs/server",
            )),
            "StatefulSet" => {}
            _ => specs.push(spec(kind, &format!("{prefix}volumes/nfs/server"))),
        }
    }
    for (kind, path) in [
        ("Deployment", "spec/template/metadata/annotations"),
        ("Ingress", "spec/rules/host"),
        ("Ingress", "spec/tls/hosts"),
        ("Ingress", "spec/tls/secretName"),
        ("Service", "spec/ports/port"),
        ("Service", "spec/ports/targetPort"),
        ("StatefulSet", "spec/volumeClaimTemplates/spec/nfs/server"),
        ("PersistentVolume", "spec/nfs/server"),
        ("", "metadata/labels"),
        ("", "metadata/annotations"),
    ] {
        specs.push(spec(kind, path));
    }
    specs
}

/// Whether `id` is the object `var` names: group, version, kind and name equal, and
/// the namespace too when the var gives one or the kind is cluster-scoped.
fn names(var: &Var, id: &ResId) -> bool {
    let (group, version) = id
        .api_version
        .split_once('/')
        .unwrap_or(("", &id.api_version));
    if group != var.group
        || version != var.version
        || id.kind != var.kind
        || id.name != var.object_name
    {
        return false;
    }
    if CLUSTER_SCOPED_KINDS.contains(&var.kind.as_str()) {
        return true;
    }
    var.namespace.is_empty() || id.effective_namespace() == var.namespace
}

/// kustomize's `MergeVars`: marks the one object each of a kustomization's `vars`
/// names (by any of its names so far), then adds the vars to `set`.
pub fn declare(
    set: &mut Vec<Declared>,
    declared: &[Var],
    file: FileId,
    resources: &mut [Built],
) -> Vec<VarError> {
    let mut errors = Vec::new();
    for var in declared {
        let entry = Declared {
            var: var.clone(),
            file,
        };
        let matched: Vec<usize> = resources
            .iter()
            .enumerate()
            .filter(|(_, built)| {
                names(var, &ResId::of(&built.node))
                    || built.previous.iter().any(|id| names(var, id))
            })
            .map(|(index, _)| index)
            .collect();
        match matched.as_slice() {
            [] => {}
            [one] => {
                if let Some(built) = resources.get_mut(*one) {
                    built.var_names.push(var.name.clone());
                }
            }
            many => {
                errors.push(VarError::at(
                    &entry,
                    format!(
                        "var `{}` names {} objects ({} `{}`); kubectl refuses an ambiguous var (give its `objref.namespace`)",
                        var.name,
                        many.len(),
                        var.kind,
                        var.object_name
                    ),
                ));
                continue;
            }
        }
        errors.extend(merge(set, vec![entry]));
    }
    errors
}

/// Adds `incoming` to `set`; a name already there is an error, as in kustomize.
pub fn merge(set: &mut Vec<Declared>, incoming: Vec<Declared>) -> Vec<VarError> {
    let mut errors = Vec::new();
    for entry in incoming {
        if set.iter().any(|known| known.var.name == entry.var.name) {
            errors.push(VarError::at(
                &entry,
                format!(
                    "var `{}` is declared twice in this build; kubectl refuses it",
                    entry.var.name
                ),
            ));
        } else {
            set.push(entry);
        }
    }
    errors
}

/// A var's value: what kustomize substitutes.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A map or list: kustomize leaves `$(NAME)` as written.
    Structured,
}

impl Value {
    /// The value inside a longer string, formatted as Go's `%v` does.
    fn in_text(&self, name: &str) -> String {
        match self {
            Value::Str(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Float(f) => go_general_float(*f),
            Value::Structured => format!("$({name})"),
        }
    }
}

/// Go's `%v` of a float64: shortest digits, exponent form when the decimal exponent is
/// below -4 or at least 6 (with Go's `e+06`-style two-digit exponent).
fn go_general_float(f: f64) -> String {
    if !f.is_finite() {
        return if f.is_nan() {
            "NaN".into()
        } else if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    let scientific = format!("{f:e}");
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if f != 0.0 && !(-4..6).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.abs())
    } else {
        format!("{f}")
    }
}

/// The node at a var's `fieldpath` (`spec.ports[0].port`, `metadata.labels.app`).
fn field<'a>(node: &'a Node, path: &str) -> Option<&'a Node> {
    let mut current = node;
    for segment in path.split('.') {
        let (key, index) = match segment.strip_suffix(']').and_then(|s| s.rsplit_once('[')) {
            Some((key, index)) if index.bytes().all(|b| b.is_ascii_digit()) => {
                (key, index.parse::<usize>().ok())
            }
            _ => (segment, None),
        };
        if !key.is_empty() {
            current = match &current.kind {
                NodeKind::Seq(items, _) => items.get(key.parse::<usize>().ok()?)?,
                _ => current.get(key)?,
            };
        }
        if let Some(index) = index {
            current = current.as_seq()?.get(index)?;
        }
    }
    Some(current)
}

fn value_of(node: &Node) -> Value {
    let Some(scalar) = node.as_scalar() else {
        return Value::Structured;
    };
    if scalar.style != Style::Plain && scalar.tag.is_none() {
        return Value::Str(scalar.value.to_string());
    }
    // kustomize reads YAML 1.2: only `true`/`false` spellings are booleans.
    match scalar.resolve() {
        Resolved::Bool(b)
            if matches!(
                scalar.value.as_str(),
                "true" | "True" | "TRUE" | "false" | "False" | "FALSE"
            ) =>
        {
            Value::Bool(b)
        }
        Resolved::Int(i) => Value::Int(i),
        Resolved::Float(f) => Value::Float(f),
        _ => Value::Str(scalar.value.to_string()),
    }
}

/// The values of every declared var, from the objects marked as theirs.
fn values(set: &[Declared], resources: &[Built]) -> Result<Vec<(String, Value)>, VarError> {
    let mut values = Vec::with_capacity(set.len());
    for declared in set {
        let var = &declared.var;
        let Some(object) = resources
            .iter()
            .find(|built| built.var_names.contains(&var.name))
        else {
            return Err(VarError::at(
                declared,
                format!(
                    "var `{}` names no object of this build ({} `{}`{}); kubectl refuses it",
                    var.name,
                    var.kind,
                    var.object_name,
                    if var.group.is_empty() && var.version.is_empty() {
                        ", and its `objref` has no `apiVersion`"
                    } else {
                        ""
                    }
                ),
            ));
        };
        let Some(node) = field(&object.node, &var.field_path) else {
            return Err(VarError::at(
                declared,
                format!(
                    "var `{}`: `{}` has no field `{}`; kubectl refuses it",
                    var.name, var.object_name, var.field_path
                ),
            ));
        };
        values.push((var.name.clone(), value_of(node)));
    }
    Ok(values)
}

/// Expands `$(NAME)` references in `text`; `None` when nothing changes. A reference
/// that is the whole text yields the value with its type.
fn expand(text: &str, values: &[(String, Value)], limit: usize) -> Result<Option<Value>, ()> {
    if !text.contains('$') {
        return Ok(None);
    }
    let lookup = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    if let Some(name) = text.strip_prefix("$(").and_then(|t| t.strip_suffix(')'))
        && !name.contains(')')
    {
        return Ok(match lookup(name) {
            Some(Value::Structured) | None => None,
            Some(value) => Some(value.clone()),
        });
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if after.is_empty() {
            out.push('$');
            rest = after;
            break;
        }
        if let Some(tail) = after.strip_prefix('$') {
            // `$$` is an escaped `$`.
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('(') {
            match body.find(')') {
                Some(end) => {
                    let name = &body[..end];
                    match lookup(name) {
                        Some(value) => out.push_str(&value.in_text(name)),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &body[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = body;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
        if out.len() > limit {
            return Err(());
        }
    }
    out.push_str(rest);
    if out.len() > limit {
        return Err(());
    }
    Ok((out != text).then_some(Value::Str(out)))
}

/// Writes `value` into a string scalar, typed as kustomize types it.
fn store(node: &mut Node, value: Value) {
    let NodeKind::Scalar {
        value: stored,
        style: stored_style,
        tag,
        ..
    } = &mut node.kind
    else {
        return;
    };
    let (text, style) = match value {
        Value::Str(s) => (s, Style::Quoted),
        Value::Int(i) => (i.to_string(), Style::Plain),
        Value::Bool(b) => (b.to_string(), Style::Plain),
        Value::Float(f) => (format!("{f}"), Style::Plain),
        Value::Structured => return,
    };
    *stored = text.into();
    *stored_style = style;
    *tag = None;
}

fn is_string(node: &Node) -> bool {
    node.as_scalar()
        .is_some_and(|scalar| scalar.resolve() == Resolved::Str)
}

/// kustomize's `ResolveVars`, run once at the root after names are final: substitutes
/// every var in the `references` fields of `resources`.
pub fn resolve(
    set: &[Declared],
    references: &[FieldSpec],
    resources: &mut [Built],
) -> Result<(), VarError> {
    if set.is_empty() {
        return Ok(());
    }
    let values = values(set, resources)?;
    let mut produced = 0usize;
    let mut too_large = false;
    let mut substitute = |node: &mut Node| {
        if !is_string(node) {
            return;
        }
        let Some(text) = node.scalar_text() else {
            return;
        };
        let limit = MAX_SUBSTITUTED_VALUE.min(MAX_SUBSTITUTED_ROOT.saturating_sub(produced));
        match expand(text, &values, limit) {
            Ok(Some(value)) => {
                if let Value::Str(s) = &value {
                    produced += s.len();
                }
                store(node, value);
            }
            Ok(None) => {}
            Err(()) => too_large = true,
        }
    };
    for built in resources.iter_mut() {
        let kind = kind_of(&built.node).to_string();
        for spec in references {
            if spec.kind.as_deref().is_some_and(|k| k != kind) {
                continue;
            }
            for_each_field(&mut built.node, &spec.path, None, &mut |node| {
                if let NodeKind::Map(entries, _) = &mut node.kind {
                    for (_, value) in entries.iter_mut() {
                        substitute(value);
                    }
                } else {
                    substitute(node);
                }
            });
        }
    }
    match (too_large, set.first()) {
        (true, Some(first)) => Err(VarError::at(
            first,
            format!(
                "var substitution stopped: a value would exceed {MAX_SUBSTITUTED_VALUE} bytes or the root {MAX_SUBSTITUTED_ROOT} bytes (a limit of xks-lint); such values are analysed as written"
            ),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Vec<(String, Value)> {
        vec![
            ("A".into(), Value::Str("alpha".into())),
            ("N".into(), Value::Int(8080)),
            ("M".into(), Value::Structured),
        ]
    }

    fn run(text: &str) -> Option<Value> {
        expand(text, &values(), usize::MAX).unwrap_or(None)
    }

    #[test]
    fn expansion_follows_kustomize() {
        assert_eq!(run("$(A)"), Some(Value::Str("alpha".into())));
        assert_eq!(run("$(N)"), Some(Value::Int(8080)));
        assert_eq!(run("x-$(N)"), Some(Value::Str("x-8080".into())));
        assert_eq!(run("$(M)"), None);
        assert_eq!(run("$(UNKNOWN)"), None);
        assert_eq!(run("$$(A)"), Some(Value::Str("$(A)".into())));
        assert_eq!(run("a$(A"), None);
        assert_eq!(run("cost $5"), None);
        assert_eq!(run("end$"), None);
        assert_eq!(
            run("$(A)/$(UNKNOWN)"),
            Some(Value::Str("alpha/$(UNKNOWN)".into()))
        );
    }

    #[test]
    fn expansion_is_bounded() {
        let text = "$(A)".repeat(100);
        assert!(expand(&text, &values(), 50).is_err());
    }

    #[test]
    fn floats_print_as_go_does() {
        assert_eq!(go_general_float(1.5), "1.5");
        assert_eq!(go_general_float(1e6), "1e+06");
        assert_eq!(go_general_float(123456.0), "123456");
        assert_eq!(go_general_float(0.00001), "1e-05");
        assert_eq!(go_general_float(100.0), "100");
    }

    #[test]
    fn field_paths_index_lists() {
        let stream = crate::load::yaml::parse_stream(
            "spec:\n  ports:\n  - port: 80\n  - port: 443\n    name: https\n",
        );
        let root = &stream.documents[0].root;
        assert_eq!(
            field(root, "spec.ports[1].port").and_then(Node::scalar_text),
            Some("443")
        );
        assert_eq!(
            field(root, "spec.ports.1.name").and_then(Node::scalar_text),
            Some("https")
        );
        assert!(field(root, "spec.ports[2].port").is_none());
    }
}
