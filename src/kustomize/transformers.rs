//! One level's built-in transformers, in kustomize's order: patches, namespace,
//! name prefix and suffix, labels and annotations, then the data transformers
//! (replicas, images, replacements).

use super::*;

impl Builder<'_> {
    /// `replicas`, `images` and `replacements`: kustomize runs them in this order,
    /// after the label and annotation transformers.
    pub(super) fn apply_data_transformers(
        &mut self,
        dir: &Path,
        file: FileId,
        spec: &Kustomization,
        resources: &mut [Built],
    ) {
        let origin = Some(file);
        let mut errors = Vec::new();
        for replica in &spec.replicas {
            let original = |built: &Built| self.original_identity(built).map(|(_, name, _)| name);
            if let Err(message) = images::apply_replicas(resources, replica, &original, origin) {
                errors.push((replica.span, message));
            }
        }
        if !spec.images.is_empty() {
            let custom = self.configurations(dir);
            images::apply_images(resources, &spec.images, &custom.images, origin);
        }
        for entry in &spec.crds {
            let target = self.resolve(dir, &entry.value);
            match self.files_by_path.get(&target).copied() {
                Some(crd_file) => {
                    self.output.consumed.insert(crd_file);
                }
                None => errors.push((entry.span, format!("crds file `{}` not found", entry.value))),
            }
        }
        for entry in &spec.configurations {
            let target = self.resolve(dir, &entry.value);
            let Some(config_file) = self.files_by_path.get(&target).copied() else {
                errors.push((
                    entry.span,
                    format!("configuration file `{}` not found", entry.value),
                ));
                continue;
            };
            self.output.consumed.insert(config_file);
            for document in self.documents.get(&config_file).into_iter().flatten() {
                for (section, span) in
                    configurations::Configurations::unsupported_sections(&document.root)
                {
                    self.issue(
                        IssueKind::KustomizeNote,
                        config_file,
                        span,
                        format!("configuration section `{section}` is not applied by xks-lint (only images, nameReference, commonLabels, labels, namePrefix and nameSuffix are)"),
                    );
                }
            }
        }
        for entry in &spec.replacements {
            let (nodes, span) = match entry {
                spec::ReplacementEntry::Inline(node) => (vec![node.clone()], node.span),
                spec::ReplacementEntry::File(path) => {
                    let target = self.resolve(dir, &path.value);
                    let Some(replacement_file) = self.files_by_path.get(&target).copied() else {
                        errors.push((
                            path.span,
                            format!("replacement file `{}` not found", path.value),
                        ));
                        continue;
                    };
                    self.output.consumed.insert(replacement_file);
                    let mut nodes = Vec::new();
                    for document in self.documents.get(&replacement_file).into_iter().flatten() {
                        match document.root.as_seq() {
                            Some(items) => nodes.extend(items.iter().cloned()),
                            None if !document.root.is_null() => nodes.push(document.root.clone()),
                            None => {}
                        }
                    }
                    (nodes, path.span)
                }
            };
            for node in nodes {
                let original = |built: &Built| self.original_identity(built);
                if let Err(message) = replacements::apply(resources, &node, &original) {
                    errors.push((span, format!("replacement: {message}")));
                }
            }
        }
        for (span, message) in errors {
            self.issue(IssueKind::KustomizeError, file, span, message);
        }
    }

    /// Patch documents of one patch entry, each node marked with where it was written.
    pub(super) fn patch_documents(
        &mut self,
        dir: &Path,
        file: FileId,
        patch: &spec::Patch,
    ) -> Vec<Node> {
        match &patch.source {
            PatchSource::Inline(text) => {
                // Positions inside an inline block scalar are not mapped back: the whole
                // patch points at its entry in the kustomization.
                let stream = parse_stream(text);
                if let Some(error) = stream.errors.first() {
                    self.issue(
                        IssueKind::KustomizeError,
                        file,
                        patch.span,
                        format!("inline patch does not parse: {}", error.message),
                    );
                }
                stream
                    .documents
                    .into_iter()
                    .map(|d| {
                        let mut root = d.root;
                        relocate(&mut root, patch.span, file);
                        root
                    })
                    .collect()
            }
            PatchSource::File(path) => {
                let target = self.resolve(dir, path);
                let patch_file = match self.loaded_file(&target) {
                    Ok(patch_file) => patch_file,
                    Err(refusal) => {
                        let message = match refusal {
                            Some(why) => format!("patch file `{path}` refused: {why}"),
                            None => format!("patch file `{path}` not found"),
                        };
                        self.issue(IssueKind::KustomizeError, file, patch.span, message);
                        return Vec::new();
                    }
                };
                self.output.consumed.insert(patch_file);
                let entry = spec::Entry {
                    value: path.clone(),
                    span: patch.span,
                };
                if !self.file_allowed(dir, file, &entry, &target, "patch") {
                    return Vec::new();
                }
                self.documents
                    .get(&patch_file)
                    .map(|docs| {
                        docs.iter()
                            .map(|d| {
                                let mut root = d.root.clone();
                                root.set_origin(patch_file);
                                root
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
        }
    }

    pub(super) fn transform(
        &mut self,
        dir: &Path,
        file: FileId,
        spec: &Kustomization,
        resources: &mut Vec<Built>,
    ) {
        let mut size: usize = if spec.patches.is_empty() {
            0
        } else {
            resources.iter().map(|r| r.node.expanded_size()).sum()
        };
        for patch in &spec.patches {
            if self.budget.exhausted() {
                return;
            }
            for document in self.patch_documents(dir, file, patch) {
                self.apply_patch(file, patch, &document, resources);
            }
            // Patches may grow objects (JSON 6902 `copy`): count what they add.
            let grown: usize = resources.iter().map(|r| r.node.expanded_size()).sum();
            if let Err(message) = self.budget.grow(grown.saturating_sub(size)) {
                self.issue(IssueKind::KustomizeError, file, patch.span, message);
            }
            size = grown;
        }
        // Recorded in the order kustomize configures its built-in transformers.
        let record =
            |resources: &mut Vec<Built>, kind| self.record_transformation(resources, file, kind);
        for patch in spec.patches.iter().filter(|p| !p.json6902) {
            record(resources, patch.builtin);
        }
        let custom = self.configurations(dir);
        let mut conflicts = Vec::new();
        if let Some(namespace) = &spec.namespace {
            if let Some(conflict) = set_namespace(resources, namespace, file, false) {
                conflicts.push((namespace.span, conflict));
            }
            record(resources, "NamespaceTransformer");
        }
        let prefix_kinds = configurations::renamed_kinds(&custom.name_prefix);
        let suffix_kinds = configurations::renamed_kinds(&custom.name_suffix);
        if prefix_kinds.is_none() && suffix_kinds.is_none() {
            rename(resources, &spec.name_prefix, &spec.name_suffix, None);
        } else {
            // Custom field specs for one of them: each renames its own kinds.
            rename(resources, &spec.name_prefix, "", prefix_kinds.as_deref());
            rename(resources, "", &spec.name_suffix, suffix_kinds.as_deref());
        }
        if !spec.name_prefix.is_empty() {
            record(resources, "PrefixTransformer");
        }
        if !spec.name_suffix.is_empty() {
            record(resources, "SuffixTransformer");
        }
        add_pairs(resources, &spec.common_labels, file, LabelScope::Selectors);
        if !spec.common_labels.is_empty() {
            record(resources, "LabelTransformer");
        }
        for set in &spec.labels {
            let scope = if set.include_selectors {
                LabelScope::Selectors
            } else if set.include_templates {
                LabelScope::Templates
            } else {
                LabelScope::Metadata
            };
            add_pairs(resources, &set.pairs, file, scope);
            let specs = if set.include_selectors {
                &custom.common_labels
            } else {
                &custom.labels
            };
            configurations::apply_labels(resources, specs, &set.pairs, file);
            record(resources, "LabelTransformer");
        }
        configurations::apply_labels(resources, &custom.common_labels, &spec.common_labels, file);
        add_pairs(
            resources,
            &spec.common_annotations,
            file,
            LabelScope::Annotations,
        );
        if !spec.common_annotations.is_empty() {
            record(resources, "AnnotationsTransformer");
        }
        for patch in spec.patches.iter().filter(|p| p.json6902) {
            record(resources, patch.builtin);
        }
        for _ in &spec.replicas {
            record(resources, "ReplicaCountTransformer");
        }
        for _ in &spec.images {
            record(resources, "ImageTagTransformer");
        }
        if !spec.replacements.is_empty() {
            record(resources, "ReplacementTransformer");
        }
        for (span, conflict) in conflicts {
            self.issue(IssueKind::KustomizeError, file, span, conflict);
        }
        self.apply_data_transformers(dir, file, spec, resources);
    }

    pub(super) fn apply_patch(
        &mut self,
        file: FileId,
        patch: &spec::Patch,
        document: &Node,
        resources: &mut Vec<Built>,
    ) {
        let is_json_patch = patch.json6902 || document.as_seq().is_some();
        let selected: Vec<usize> = match (&patch.target, is_json_patch) {
            // A target that selects nothing makes the patch a no-op, as in kustomize.
            (Some(target), _) => {
                let matcher = match TargetMatcher::new(target) {
                    Ok(matcher) => matcher,
                    Err(message) => {
                        self.issue(IssueKind::KustomizeError, file, patch.span, message);
                        return;
                    }
                };
                resources
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| matcher.matches(r, target))
                    .map(|(i, _)| i)
                    .collect()
            }
            (None, true) => {
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    patch.span,
                    "a JSON 6902 patch needs a `target`".to_string(),
                );
                return;
            }
            // Without a target, the patch names its object by apiVersion, kind, namespace
            // and name (current or earlier ones); kustomize fails when none has them.
            (None, false) => {
                let wanted = ResId::of(document);
                let found: Vec<usize> = resources
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| {
                        std::iter::once(ResId::of(&r.node))
                            .chain(r.previous.iter().cloned())
                            .any(|id| patch_names(&wanted, &id))
                    })
                    .map(|(i, _)| i)
                    .collect();
                let named = format!(
                    "{} {}{}",
                    if wanted.kind.is_empty() {
                        "any kind"
                    } else {
                        &wanted.kind
                    },
                    if wanted.namespace.is_empty() {
                        String::new()
                    } else {
                        format!("{}/", wanted.namespace)
                    },
                    wanted.name
                );
                match found.len() {
                    0 => {
                        let message = format!("patch matches no resource ({named})");
                        self.issue(IssueKind::KustomizeError, file, patch.span, message);
                    }
                    1 => {}
                    count => {
                        // kustomize needs one target; an earlier name shared by several
                        // objects (renamed apart by different prefixes) is ambiguous.
                        let message = format!(
                            "patch names {count} objects by their current or earlier names ({named}); kubectl refuses it"
                        );
                        self.issue(IssueKind::KustomizeError, file, patch.span, message);
                        return;
                    }
                }
                found
            }
        };
        let mut deleted = Vec::new();
        for index in selected {
            let Some(resource) = resources.get_mut(index) else {
                continue;
            };
            if is_json_patch {
                let before = ResId::of(&resource.node);
                let mut patched = resource.node.clone();
                match json6902(&mut patched, document) {
                    Ok(()) => {
                        if ResId::of(&patched) != before {
                            resource.remember_id();
                        }
                        resource.node = patched;
                    }
                    Err(message) => self.issue(
                        IssueKind::KustomizeError,
                        file,
                        patch.span,
                        format!("JSON patch does not apply: {message}"),
                    ),
                }
            } else if document.get("$patch").and_then(Node::scalar_text) == Some("delete") {
                deleted.push(index);
            } else {
                let mut body = document.clone();
                // The patch's identity fields select the target; they do not rename it or
                // change its kind, unless the entry's options allow it.
                if !patch.allow_kind_change {
                    transform::remove(&mut body, "apiVersion");
                    transform::remove(&mut body, "kind");
                }
                if let Some(meta) = get_mut(&mut body, "metadata") {
                    if !patch.allow_name_change {
                        transform::remove(meta, "name");
                    }
                    transform::remove(meta, "namespace");
                }
                let before = ResId::of(&resource.node);
                let mut patched = resource.node.clone();
                strategic_merge(&mut patched, &body, "", "");
                if ResId::of(&patched) != before {
                    resource.remember_id();
                }
                resource.node = patched;
            }
        }
        for index in deleted.into_iter().rev() {
            resources.remove(index);
        }
    }
}

/// Whether a patch without a target, identified by `wanted`, names the object `id`:
/// same kind and name, same namespace (none meaning `default`), and the same group and
/// version when the patch states its apiVersion.
pub(super) fn patch_names(wanted: &ResId, id: &ResId) -> bool {
    wanted.kind == id.kind
        && wanted.name == id.name
        && wanted.effective_namespace() == id.effective_namespace()
        && (wanted.api_version.is_empty() || wanted.api_version == id.api_version)
}

pub(super) fn selector_matches(selector: &str, map: Option<&Node>) -> bool {
    // Terms are separated by commas outside the parentheses of a set (`tier in (a,b)`).
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (at, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                terms.push(&selector[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    terms.push(&selector[start..]);
    let label = |key: &str| {
        map.and_then(|m| m.get(key.trim()))
            .and_then(Node::scalar_text)
    };
    terms
        .into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .all(|term| {
            if let Some((head, set)) = term.split_once('(') {
                let mut words = head.split_whitespace();
                let (key, operator) = (words.next().unwrap_or_default(), words.next());
                let values: Vec<&str> = set
                    .trim_end_matches(')')
                    .split(',')
                    .map(str::trim)
                    .collect();
                let actual = label(key);
                return match operator {
                    Some("in") => actual.is_some_and(|a| values.contains(&a)),
                    Some("notin") => actual.is_none_or(|a| !values.contains(&a)),
                    _ => false,
                };
            }
            if let Some(key) = term.strip_prefix('!') {
                return label(key).is_none();
            }
            let (key, value) = term
                .split_once("!=")
                .map(|(k, v)| (k, Some((v, false))))
                .or_else(|| {
                    term.split_once("==")
                        .or_else(|| term.split_once('='))
                        .map(|(k, v)| (k, Some((v, true))))
                })
                .unwrap_or((term, None));
            let actual = label(key);
            match value {
                None => actual.is_some(),
                Some((v, true)) => actual == Some(v.trim()),
                Some((v, false)) => actual != Some(v.trim()),
            }
        })
}

/// The regular expressions of one patch target (kind, name, namespace: kustomize
/// anchors them), compiled once per patch with a size limit.
pub(super) struct TargetMatcher {
    kind: Option<regex::Regex>,
    name: Option<regex::Regex>,
    namespace: Option<regex::Regex>,
}

impl TargetMatcher {
    pub(super) fn new(target: &PatchTarget) -> Result<TargetMatcher, String> {
        let compile = |field: &str, pattern: &Option<String>| {
            pattern
                .as_deref()
                .map(|pattern| {
                    regex::RegexBuilder::new(&format!("^(?:{pattern})$"))
                        .size_limit(crate::limits::MAX_TARGET_REGEX_SIZE)
                        .dfa_size_limit(crate::limits::MAX_TARGET_REGEX_SIZE)
                        .build()
                        .map_err(|error| {
                            let reason = match error {
                                regex::Error::CompiledTooBig(_) => format!(
                                    "it compiles to more than {} bytes (a limit of xks-lint)",
                                    crate::limits::MAX_TARGET_REGEX_SIZE
                                ),
                                _ => "it is not a valid regular expression".to_string(),
                            };
                            let shown: String = pattern.chars().take(60).collect();
                            format!("patch target {field} `{shown}` is refused: {reason}")
                        })
                })
                .transpose()
        };
        Ok(TargetMatcher {
            kind: compile("kind", &target.kind)?,
            name: compile("name", &target.name)?,
            namespace: compile("namespace", &target.namespace)?,
        })
    }

    /// Whether the target selects the object: kind, group and version as they are now,
    /// name and namespace as they are now or as they were when the object was read
    /// (kustomize tries both), labels and annotations as they are now.
    pub(super) fn matches(&self, resource: &Built, target: &PatchTarget) -> bool {
        let node = &resource.node;
        let current = ResId::of(node);
        let original = resource.original_id();
        let (group, version) = current
            .api_version
            .rsplit_once('/')
            .unwrap_or(("", current.api_version.as_str()));
        let meta = node.get("metadata");
        self.kind
            .as_ref()
            .is_none_or(|re| re.is_match(&current.kind))
            && target.group.as_deref().is_none_or(|g| g == group)
            && target.version.as_deref().is_none_or(|v| v == version)
            && self
                .name
                .as_ref()
                .is_none_or(|re| re.is_match(&current.name) || re.is_match(&original.name))
            && self.namespace.as_ref().is_none_or(|re| {
                re.is_match(current.effective_namespace())
                    || re.is_match(original.effective_namespace())
            })
            && target
                .label_selector
                .as_deref()
                .is_none_or(|s| selector_matches(s, meta.and_then(|m| m.get("labels"))))
            && target
                .annotation_selector
                .as_deref()
                .is_none_or(|s| selector_matches(s, meta.and_then(|m| m.get("annotations"))))
    }
}

/// Where kustomize's label and annotation transformers write.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum LabelScope {
    /// `labels` without options: object metadata only.
    Metadata,
    /// `labels` with `includeTemplates`: metadata and pod templates.
    Templates,
    /// `commonLabels` / `includeSelectors`: also selectors, which changes what selects what.
    Selectors,
    /// `commonAnnotations`: metadata and pod templates.
    Annotations,
}

/// (path, create-if-missing) pairs of kustomize's label field specs for a kind.
pub(super) fn selector_paths(kind: &str) -> &'static [(&'static [&'static str], bool)] {
    match kind {
        "Service" | "ReplicationController" => &[(&["spec", "selector"], true)],
        "Deployment" | "ReplicaSet" | "DaemonSet" | "StatefulSet" => {
            &[(&["spec", "selector", "matchLabels"], true)]
        }
        "Job" | "PodDisruptionBudget" => &[(&["spec", "selector", "matchLabels"], false)],
        "CronJob" => &[(
            &["spec", "jobTemplate", "spec", "selector", "matchLabels"],
            false,
        )],
        "NetworkPolicy" => &[
            (&["spec", "podSelector", "matchLabels"], false),
            (
                &["spec", "ingress[]", "from[]", "podSelector", "matchLabels"],
                false,
            ),
            (
                &["spec", "egress[]", "to[]", "podSelector", "matchLabels"],
                false,
            ),
        ],
        _ => &[],
    }
}

pub(super) fn template_metadata_paths(kind: &str) -> Vec<Vec<&'static str>> {
    match WorkloadKind::from_kind(kind) {
        Some(WorkloadKind::Pod) | None => Vec::new(),
        Some(WorkloadKind::CronJob) => vec![
            vec!["spec", "jobTemplate", "metadata"],
            vec!["spec", "jobTemplate", "spec", "template", "metadata"],
        ],
        Some(_) => vec![vec!["spec", "template", "metadata"]],
    }
}

pub(super) fn add_pairs(
    resources: &mut [Built],
    pairs: &spec::Pairs,
    file: FileId,
    scope: LabelScope,
) {
    if pairs.is_empty() {
        return;
    }
    let field = if scope == LabelScope::Annotations {
        "annotations"
    } else {
        "labels"
    };
    let create = Some((pairs[0].1.span, Some(file)));
    let mut write = |map: &mut Node| configurations::write_pairs(map, pairs, file);
    for resource in resources {
        let kind = object_kind(&resource.node)
            .map(|(_, k)| k.to_string())
            .unwrap_or_default();
        for_each_at(&mut resource.node, &["metadata", field], create, &mut write);
        if scope != LabelScope::Metadata {
            for path in template_metadata_paths(&kind) {
                let mut full = path.clone();
                full.push(field);
                for_each_at(&mut resource.node, &full, create, &mut write);
            }
        }
        if scope == LabelScope::Selectors {
            // kustomize's commonLabels field specs also label each volume claim template.
            if kind == "StatefulSet" {
                for_each_at(
                    &mut resource.node,
                    &["spec", "volumeClaimTemplates[]", "metadata", "labels"],
                    create,
                    &mut write,
                );
            }
            for (path, create_missing) in selector_paths(&kind) {
                for_each_at(
                    &mut resource.node,
                    path,
                    if *create_missing { create } else { None },
                    &mut write,
                );
            }
        }
    }
}

/// The namespace transformer: moves every namespaced object (with `only_unset`, every
/// one without a namespace) into `namespace`. Like kustomize it first records every
/// object's identity, moved or not, so the root's name-reference pass can make the
/// references that name it with its namespace follow. kustomize's default field specs
/// also name `metadata/name` of `Namespace` objects: a Namespace in the build becomes the
/// target namespace (two of them collide; the refusal is returned), and ServiceAccount
/// subjects named `default` move too (`setRoleBindingSubjects: defaultOnly`).
pub(super) fn set_namespace(
    resources: &mut [Built],
    namespace: &spec::Entry,
    file: FileId,
    only_unset: bool,
) -> Option<String> {
    let value = || Node::synthetic_str(&namespace.value, namespace.span, Some(file));
    let mut renamed_namespaces = false;
    // Per object, whether it moved (`None`: a Namespace object, checked below).
    let mut moved: Vec<Option<bool>> = Vec::with_capacity(resources.len());
    for resource in resources.iter_mut() {
        resource.remember_id();
        let kind = object_kind(&resource.node).map_or("", |(_, k)| k);
        if kind == "Namespace" && !only_unset {
            if name_of(&resource.node) != namespace.value {
                renamed_namespaces = true;
                if let Some(meta) = get_mut(&mut resource.node, "metadata") {
                    set(meta, "name", value());
                }
            }
            moved.push(None);
            continue;
        }
        if CLUSTER_SCOPED_KINDS.contains(&kind) {
            moved.push(Some(false));
            continue;
        }
        let written = resource.node.path(&["metadata", "namespace"]);
        if only_unset
            && written
                .and_then(Node::scalar_text)
                .is_some_and(|n| !n.is_empty())
        {
            moved.push(Some(false));
            continue;
        }
        for_each_at(
            &mut resource.node,
            &["metadata"],
            Some((namespace.span, Some(file))),
            &mut |meta| set(meta, "namespace", value()),
        );
        moved.push(Some(true));
    }
    namerefs::move_default_subjects(resources, &value, only_unset);
    if let Some(conflict) = identity_conflict(resources, &moved, &namespace.value) {
        return Some(conflict);
    }
    if !renamed_namespaces {
        return None;
    }
    let namespaces = resources
        .iter()
        .filter(|r| object_kind(&r.node).is_some_and(|(_, k)| k == "Namespace"))
        .filter(|r| name_of(&r.node) == namespace.value)
        .count();
    (namespaces > 1).then(|| {
        format!(
            "the namespace transformer renames every Namespace object to `{}`, and this build has {namespaces} of them; kubectl refuses the ID conflict",
            namespace.value
        )
    })
}

/// Two objects the namespace transformer left with one identity (group, version, kind,
/// namespace as kustomize compares it, name), which kubectl refuses ("namespace
/// transformation produces ID conflict"): two objects of one name moved from different
/// namespaces, or one moved onto another already there. Each identity is the one
/// recorded before the move (`Built::previous`), with the target namespace when it moved.
fn identity_conflict(resources: &[Built], moved: &[Option<bool>], target: &str) -> Option<String> {
    let mut seen: FastMap<(&str, &str, &str, &str), &ResId> =
        FastMap::with_capacity_and_hasher(resources.len(), Default::default());
    for (resource, moved) in resources.iter().zip(moved) {
        let (Some(moved), Some(before)) = (moved, resource.previous.last()) else {
            continue;
        };
        let namespace = if CLUSTER_SCOPED_KINDS.contains(&before.kind.as_str()) {
            ""
        } else if *moved {
            if target.is_empty() { "default" } else { target }
        } else {
            before.effective_namespace()
        };
        let key = (
            before.api_version.as_str(),
            before.kind.as_str(),
            before.name.as_str(),
            namespace,
        );
        if let Some(first) = seen.insert(key, before) {
            return Some(format!(
                "the namespace transformer leaves two {} objects named `{}` in namespace `{namespace}` (they were in `{}` and `{}`); kubectl refuses the ID conflict",
                before.kind,
                before.name,
                first.effective_namespace(),
                before.effective_namespace(),
            ));
        }
    }
    None
}

/// Adds `prefix` and then `suffix` to object names, as kustomize's PrefixTransformer and
/// SuffixTransformer do: each records the object's earlier identity and the affix, and
/// the root's name-reference pass makes references follow.
/// `only_kinds` restricts the renamed kinds (a plugin's field specs; `None` inside it
/// means every kind); without it every object is renamed except Namespaces, CRDs and
/// APIServices.
pub(super) fn rename(
    resources: &mut [Built],
    prefix: &str,
    suffix: &str,
    only_kinds: Option<&[Option<String>]>,
) {
    for resource in resources.iter_mut() {
        let kind = object_kind(&resource.node).map_or("", |(_, k)| k);
        let wanted = match only_kinds {
            Some(kinds) => kinds.iter().any(|k| k.as_deref().is_none_or(|k| k == kind)),
            None => !matches!(
                kind,
                "Namespace" | "CustomResourceDefinition" | "APIService"
            ),
        };
        if !wanted {
            continue;
        }
        for (affix, is_prefix) in [(prefix, true), (suffix, false)] {
            if affix.is_empty() {
                continue;
            }
            resource.remember_id();
            let affixes = resource.affixes.get_or_insert_with(Box::default);
            if is_prefix {
                affixes.prefixes.push(affix.to_string());
            } else {
                affixes.suffixes.push(affix.to_string());
            }
            if let Some(name) =
                get_mut(&mut resource.node, "metadata").and_then(|m| get_mut(m, "name"))
                && let Some((value, _)) = name.as_scalar_mut()
            {
                let new = if is_prefix {
                    format!("{affix}{value}")
                } else {
                    format!("{value}{affix}")
                };
                *value = new.as_str().into();
            }
        }
    }
}
