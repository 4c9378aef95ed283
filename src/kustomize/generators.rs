//! `configMapGenerator` and `secretGenerator`: ConfigMaps and Secrets made from
//! literals, files and env files, as kustomize makes them (nothing is executed).
//!
//! A generated object is marked for the content-hash suffix, which is added once the
//! whole root is built (as kustomize does: the hash covers the final data and name);
//! [`finish`] adds it and rewrites the references to the object.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;

use crate::load::normalize;
use crate::load::yaml::Node;
use crate::span::{FileId, Span};

use super::spec::{Behavior, GeneratedKind, Generator, GeneratorOptions, Kustomization, Pairs};
use super::transform::{empty_map, get_mut, remove, set};
use super::{Built, hash};

/// Annotation marking an object whose name gets the content hash at the end of the build.
const NEEDS_HASH: &str = "internal.xks-lint.dev/needs-hash-suffix";
/// Annotation keeping the name a generator gave (before prefixes and suffixes), so a
/// generator of an overlay with `behavior: merge` finds it.
const GENERATED_NAME: &str = "internal.xks-lint.dev/generated-name";

/// Where generator data comes from.
pub struct Context<'a> {
    pub dir: &'a Path,
    pub file: FileId,
    pub data_files: &'a BTreeMap<PathBuf, Result<Arc<[u8]>, String>>,
}

/// A generator that cannot run: kustomize refuses the build.
#[derive(Debug)]
pub struct GenError {
    pub span: Span,
    pub message: String,
}

/// The identity a merge or replace looks for: kind, name and namespace.
pub type Identity = (String, String, String);

/// Runs the generators of `spec` and adds their objects to `resources` (creating,
/// merging or replacing as each says). `original` gives the identity an object had
/// when it was read (before any rename).
pub fn run(
    spec: &Kustomization,
    context: &Context,
    resources: &mut Vec<Built>,
    original: &dyn Fn(&Built) -> Option<Identity>,
) -> Vec<GenError> {
    let mut errors = Vec::new();
    for (index, generator) in spec.generators.iter().enumerate() {
        let node = match generate(generator, spec.generator_options.as_ref(), context) {
            Ok(node) => node,
            Err(error) => {
                errors.push(error);
                continue;
            }
        };
        let built = Built {
            file: context.file,
            document: usize::MAX,
            item: Some(index),
            node,
            previous: Vec::new(),
            provenance: Some(Box::new(super::Provenance {
                generated_by: Some((
                    match generator.kind {
                        GeneratedKind::ConfigMap => "ConfigMapGenerator",
                        GeneratedKind::Secret => "SecretGenerator",
                    },
                    None,
                )),
                transformations: Vec::new(),
                generated_in: None,
            })),
            var_names: Vec::new(),
            affixes: None,
            read_as: None,
        };
        if let Err(message) = absorb(generator, built, resources, original) {
            errors.push(GenError {
                span: generator.name.span,
                message,
            });
        }
    }
    errors
}

fn effective_namespace(namespace: &str) -> &str {
    if namespace.is_empty() {
        "default"
    } else {
        namespace
    }
}

fn identity(node: &Node) -> Identity {
    let text = |path: &[&str]| {
        node.path(path)
            .and_then(Node::scalar_text)
            .unwrap_or_default()
            .to_string()
    };
    (
        text(&["kind"]),
        text(&["metadata", "name"]),
        effective_namespace(&text(&["metadata", "namespace"])).to_string(),
    )
}

/// Adds a generated object: a new one, or merged into / replacing the object of the
/// same kind, name and namespace (by its original or current name).
fn absorb(
    generator: &Generator,
    mut new: Built,
    resources: &mut Vec<Built>,
    original: &dyn Fn(&Built) -> Option<Identity>,
) -> Result<(), String> {
    let wanted = identity(&new.node);
    let matches: Vec<usize> = resources
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            let generated = annotation(&r.node, GENERATED_NAME).map(|name| {
                let (kind, _, namespace) = identity(&r.node);
                (kind, name.to_string(), namespace)
            });
            identity(&r.node) == wanted
                || generated.as_ref() == Some(&wanted)
                || original(r).as_ref() == Some(&wanted)
        })
        .map(|(i, _)| i)
        .collect();
    let (kind, name, _) = &wanted;
    let old_index = match (matches.as_slice(), generator.behavior) {
        ([], Behavior::Create) => {
            resources.push(new);
            return Ok(());
        }
        ([], _) => {
            return Err(format!(
                "{kind} `{name}` does not exist in the resources; cannot merge or replace"
            ));
        }
        ([_], Behavior::Create) => {
            return Err(format!(
                "{kind} `{name}` already exists; its generator needs `behavior: merge` or `replace`"
            ));
        }
        ([index], _) => *index,
        _ => {
            return Err(format!(
                "several objects match {kind} `{name}`; cannot merge or replace"
            ));
        }
    };
    let old = resources.remove(old_index);
    // The result keeps the old object's name, namespace and hash option, and the
    // union of labels and annotations (the new ones win).
    let (span, origin) = (new.node.span, new.node.origin());
    for field in ["labels", "annotations"] {
        let merged = merge_maps(
            old.node.path(&["metadata", field]),
            new.node.path(&["metadata", field]),
        );
        if let Some(meta) = get_mut(&mut new.node, "metadata") {
            remove(meta, field);
            if let Some(mut merged) = merged {
                if field == "annotations" {
                    remove(&mut merged, NEEDS_HASH);
                    if annotation(&old.node, NEEDS_HASH).is_some() {
                        set(
                            &mut merged,
                            NEEDS_HASH,
                            Node::synthetic_str("true", span, origin),
                        );
                    }
                }
                if merged.as_map().is_some_and(|m| !m.is_empty()) {
                    set(meta, field, merged);
                }
            }
        }
    }
    if let Some(meta) = get_mut(&mut new.node, "metadata") {
        for field in ["name", "namespace"] {
            remove(meta, field);
            if let Some(value) = old.node.path(&["metadata", field]) {
                set(meta, field, value.clone());
            }
        }
    }
    if generator.behavior == Behavior::Merge {
        for field in ["data", "binaryData"] {
            if let Some(merged) = merge_maps(old.node.get(field), new.node.get(field)) {
                set(&mut new.node, field, merged);
            }
        }
    }
    // Build metadata as kustomize keeps it: a merge keeps the old object's origin, a
    // replace takes the new one's; both keep the transformations the old one went through.
    if let Some(old_provenance) = old.provenance {
        let provenance = new.provenance.get_or_insert_with(Box::default);
        provenance.transformations = old_provenance.transformations;
        if generator.behavior == Behavior::Merge {
            provenance.generated_by = old_provenance.generated_by;
            provenance.generated_in = Some(old_provenance.generated_in.unwrap_or(old.file));
        }
    }
    new.previous = old.previous;
    new.var_names = old.var_names;
    new.affixes = old.affixes;
    resources.insert(old_index, new);
    Ok(())
}

/// The identity a generator gave an object, if a generator made it.
pub fn generated_identity(node: &Node) -> Option<Identity> {
    let name = annotation(node, GENERATED_NAME)?;
    let (kind, _, namespace) = identity(node);
    Some((kind, name.to_string(), namespace))
}

fn annotation<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.path(&["metadata", "annotations", key])
        .and_then(Node::scalar_text)
}

/// `old` with the entries of `new` set over it; `None` when both are absent.
fn merge_maps(old: Option<&Node>, new: Option<&Node>) -> Option<Node> {
    let mut merged = match (old, new) {
        (Some(old), _) if old.as_map().is_some() => old.clone(),
        (_, Some(new)) if new.as_map().is_some() => empty_map(new.span, new.origin()),
        _ => return None,
    };
    for (key, value) in new.and_then(Node::as_map).unwrap_or(&[]) {
        if let Some(key) = key.scalar_text() {
            set(&mut merged, key, value.clone());
        }
    }
    Some(merged)
}

/// The options of one generator with the kustomization's `generatorOptions` under it
/// (a generator's own labels and annotations win; either may turn the hash off).
fn options(generator: &Generator, global: Option<&GeneratorOptions>) -> GeneratorOptions {
    let mut merged = generator.options.clone().unwrap_or_default();
    if let Some(global) = global {
        for (mine, theirs) in [
            (&mut merged.labels, &global.labels),
            (&mut merged.annotations, &global.annotations),
        ] {
            for (key, value) in theirs {
                if !mine.iter().any(|(k, _)| k == key) {
                    mine.push((key.clone(), value.clone()));
                }
            }
        }
        merged.disable_name_suffix_hash |= global.disable_name_suffix_hash;
        merged.immutable |= global.immutable;
    }
    merged
}

/// kustomize strips one pair of matching surrounding quotes from a literal's value.
fn unquote(value: &str) -> &str {
    let bytes = value.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(b'"'), Some(b'"')) | (Some(b'\''), Some(b'\'')) if value.len() >= 2 => {
            &value[1..value.len() - 1]
        }
        _ => value,
    }
}

/// The key/value pairs of an env file: `KEY=value` lines; blank lines and `#`
/// comments skipped; a line without `=` has an empty value (kustomize would read the
/// variable from its own environment, which a static analyser does not have).
fn env_pairs(text: &str) -> Vec<(String, Vec<u8>)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let (key, value) = line.split_once('=').unwrap_or((line, ""));
            Some((key.to_string(), value.as_bytes().to_vec()))
        })
        .collect()
}

fn read<'a>(context: &'a Context, path: &str, span: Span) -> Result<&'a [u8], GenError> {
    let target = normalize(&context.dir.join(path));
    match context.data_files.get(&target) {
        Some(Ok(bytes)) => Ok(bytes),
        Some(Err(reason)) => Err(GenError {
            span,
            message: format!("generator file `{path}` {reason}"),
        }),
        None => Err(GenError {
            span,
            message: format!("generator file `{path}` was not loaded"),
        }),
    }
}

/// Base64 as kustomize writes generated data: in lines of 70 characters, each ended
/// by a newline, when the text is longer than one line.
fn wrapped_base64(bytes: &[u8]) -> String {
    const LINE: usize = 70;
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    if encoded.len() < LINE {
        return encoded;
    }
    let mut out = String::with_capacity(encoded.len() + encoded.len() / LINE + 1);
    for chunk in encoded.as_bytes().chunks(LINE) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out
}

/// The object one generator makes, before merge or replace.
pub fn generate(
    generator: &Generator,
    global: Option<&GeneratorOptions>,
    context: &Context,
) -> Result<Node, GenError> {
    let span = generator.name.span;
    let origin = Some(context.file);
    let error = |span: Span, message: String| GenError { span, message };
    if let Some(bad) = &generator.bad_behavior {
        return Err(error(
            bad.span,
            format!("unknown generator behavior `{}`", bad.value),
        ));
    }
    if generator.name.value.is_empty() {
        return Err(error(span, "a generator needs a `name`".to_string()));
    }
    let mut pairs: Vec<(String, Vec<u8>, Span)> = Vec::new();
    for entry in &generator.envs {
        let bytes = read(context, &entry.value, entry.span)?;
        let text = std::str::from_utf8(bytes).map_err(|_| {
            error(
                entry.span,
                format!("env file `{}` is not UTF-8 text", entry.value),
            )
        })?;
        pairs.extend(env_pairs(text).into_iter().map(|(k, v)| (k, v, entry.span)));
    }
    for entry in &generator.literals {
        match entry.value.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                pairs.push((
                    key.to_string(),
                    unquote(value).as_bytes().to_vec(),
                    entry.span,
                ));
            }
            _ => {
                return Err(error(
                    entry.span,
                    format!("invalid literal `{}`: expected key=value", entry.value),
                ));
            }
        }
    }
    for entry in &generator.files {
        let (key, path) =
            super::spec::file_source(&entry.value).map_err(|m| error(entry.span, m))?;
        let bytes = read(context, path, entry.span)?;
        pairs.push((key.to_string(), bytes.to_vec(), entry.span));
    }
    let is_secret = generator.kind == GeneratedKind::Secret;
    let text = |value: &str| Node::synthetic_str(value, span, origin);
    let mut data = empty_map(span, origin);
    let mut binary = empty_map(span, origin);
    let mut seen = crate::hashing::FastSet::default();
    let kind_name = if is_secret { "Secret" } else { "ConfigMap" };
    for (key, value, at) in pairs {
        if !seen.insert(key.clone()) {
            return Err(error(
                at,
                format!(
                    "{} `{}` repeats the key `{key}`",
                    kind_name, generator.name.value
                ),
            ));
        }
        let base64 = || wrapped_base64(&value);
        match (is_secret, std::str::from_utf8(&value)) {
            (true, _) => set(&mut data, &key, text(&base64())),
            (false, Ok(utf8)) => set(&mut data, &key, text(utf8)),
            (false, Err(_)) => set(&mut binary, &key, text(&base64())),
        }
    }
    let options = options(generator, global);
    let mut node = empty_map(span, origin);
    set(&mut node, "apiVersion", text("v1"));
    set(
        &mut node,
        "kind",
        text(if is_secret { "Secret" } else { "ConfigMap" }),
    );
    let mut metadata = empty_map(span, origin);
    set(&mut metadata, "name", text(&generator.name.value));
    if let Some(namespace) = &generator.namespace {
        set(&mut metadata, "namespace", text(namespace));
    }
    let pairs_map = |pairs: &Pairs| {
        let mut map = empty_map(span, origin);
        for (key, value) in pairs {
            set(
                &mut map,
                key,
                Node::synthetic_str(&value.value, value.span, origin),
            );
        }
        map
    };
    if !options.labels.is_empty() {
        set(&mut metadata, "labels", pairs_map(&options.labels));
    }
    let mut annotations = pairs_map(&options.annotations);
    if !options.disable_name_suffix_hash {
        set(&mut annotations, NEEDS_HASH, text("true"));
    }
    set(
        &mut annotations,
        GENERATED_NAME,
        text(&generator.name.value),
    );
    set(&mut metadata, "annotations", annotations);
    set(&mut node, "metadata", metadata);
    if data.as_map().is_some_and(|m| !m.is_empty()) {
        set(&mut node, "data", data);
    }
    if binary.as_map().is_some_and(|m| !m.is_empty()) {
        set(&mut node, "binaryData", binary);
    }
    if is_secret {
        set(
            &mut node,
            "type",
            text(generator.secret_type.as_deref().unwrap_or("Opaque")),
        );
    }
    if options.immutable {
        let mut flag = text("true");
        if let Some((_, style)) = flag.as_scalar_mut() {
            *style = crate::load::yaml::Style::Plain;
        }
        set(&mut node, "immutable", flag);
    }
    Ok(node)
}

/// Ends a root's build: adds the content hash to the names of generated objects
/// (recording their earlier identity, so the root's name references follow), and
/// removes the internal marks.
pub fn finish(resources: &mut [Built]) {
    for resource in resources.iter_mut() {
        // Read before editing: most objects carry neither internal annotation, and taking
        // their mappings for editing would copy them wherever a base is shared by roots.
        let untouched = resource
            .node
            .path(&["metadata", "annotations"])
            .and_then(Node::as_map)
            .is_none_or(|entries| {
                !entries.is_empty()
                    && entries.iter().all(|(key, _)| {
                        !matches!(key.scalar_text(), Some(NEEDS_HASH | GENERATED_NAME))
                    })
            });
        if untouched {
            continue;
        }
        let needs_hash = annotation(&resource.node, NEEDS_HASH).is_some();
        if let Some(meta) = get_mut(&mut resource.node, "metadata") {
            if let Some(annotations) = get_mut(meta, "annotations") {
                remove(annotations, NEEDS_HASH);
                remove(annotations, GENERATED_NAME);
            }
            if meta
                .get("annotations")
                .and_then(Node::as_map)
                .is_some_and(<[_]>::is_empty)
            {
                remove(meta, "annotations");
            }
        }
        if !needs_hash {
            continue;
        }
        let Some(suffix) = hash::suffix(&resource.node) else {
            continue;
        };
        resource.remember_id();
        if let Some(slot) = get_mut(&mut resource.node, "metadata").and_then(|m| get_mut(m, "name"))
            && let Some((value, _)) = slot.as_scalar_mut()
        {
            let new = format!("{value}-{suffix}");
            *value = new.as_str().into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_quotes_are_stripped_only_in_pairs() {
        assert_eq!(unquote("'two'"), "two");
        assert_eq!(unquote("\"x\""), "x");
        assert_eq!(unquote("'x\""), "'x\"");
        assert_eq!(unquote("'"), "'");
    }

    #[test]
    fn long_base64_is_wrapped_like_kustomize() {
        assert_eq!(wrapped_base64(b"w"), "dw==");
        let long = wrapped_base64(&[0u8; 60]);
        let lines: Vec<&str> = long.split_terminator('\n').collect();
        assert_eq!(
            lines.iter().map(|l| l.len()).collect::<Vec<_>>(),
            vec![70, 10]
        );
        assert!(long.ends_with('\n'));
        assert_eq!(wrapped_base64(&[0u8; 51]).len(), 68);
        assert_eq!(wrapped_base64(&[0u8; 54]).len(), 74);
    }

    #[test]
    fn env_files_keep_values_as_written() {
        let pairs = env_pairs("\u{feff}a=1\n b = 2 \n#c\n\nd=\"q\"\nE\n");
        let text: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8(v).unwrap_or_default()))
            .collect();
        assert_eq!(
            text,
            vec![
                ("a".into(), "1".into()),
                ("b ".into(), " 2 ".into()),
                ("d".into(), "\"q\"".into()),
                ("E".into(), String::new()),
            ]
        );
    }
}
