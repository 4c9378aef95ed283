//! The `resources` of a kustomization: files and directories it may read (kubectl's
//! load restrictions), how deep it may nest, and the objects each entry adds.

use super::*;

impl Builder<'_> {
    /// The file the load stage read at `target`; otherwise why it refused it (`None`:
    /// there is none).
    pub(super) fn loaded_file(&self, target: &Path) -> Result<FileId, Option<String>> {
        if let Some(why) = self.loaded.refused.get(target) {
            return Err(Some(why.to_string()));
        }
        self.files_by_path.get(target).copied().ok_or(None)
    }

    /// Reports the entries kustomize refuses to read; the files they name are neither
    /// applied nor analysed as plain manifests.
    pub(super) fn refuse_entries(&mut self, dir: &Path, file: FileId, spec: &Kustomization) {
        for error in &spec.errors {
            self.issue(
                IssueKind::KustomizeError,
                file,
                error.span,
                error.value.clone(),
            );
        }
        for entry in &spec.refused_files {
            if let Some(refused) = self.files_by_path.get(&self.resolve(dir, &entry.value)) {
                self.output.consumed.insert(*refused);
            }
        }
    }

    pub(super) fn add_resource(
        &mut self,
        dir: &Path,
        file: FileId,
        entry: &spec::Entry,
        stack: &mut Vec<PathBuf>,
        out: &mut Vec<Built>,
    ) {
        if spec::is_remote(&entry.value) {
            self.issue(
                IssueKind::KustomizeNote,
                file,
                entry.span,
                format!(
                    "remote resource `{}` is not fetched; its objects are not analysed",
                    entry.value
                ),
            );
            return;
        }
        let target = self.resolve(dir, &entry.value);
        if let Some(root) = &self.loaded.repo_root
            && !target.starts_with(root)
        {
            self.issue(
                IssueKind::KustomizeError,
                file,
                entry.span,
                format!(
                    "resource `{}` lies outside the repository; refused",
                    entry.value
                ),
            );
            return;
        }
        // A file the repository holds is no kustomization directory: asked first, by hash,
        // because most entries are files and the kustomizations are ordered by path, where
        // each comparison walks both paths' components.
        if !self.files_by_path.contains_key(&target) && self.kustomizations.contains_key(&target) {
            if let Some(start) = stack.iter().position(|d| *d == target) {
                let cycle: Vec<String> = stack[start..]
                    .iter()
                    .chain(std::iter::once(&target))
                    .map(|d| self.display_dir(d))
                    .collect();
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    entry.span,
                    format!("resource cycle: {}", cycle.join(" → ")),
                );
                return;
            }
            if self.too_deep(stack, file, entry) {
                return;
            }
            stack.push(target.clone());
            let built = self.build_dir(&target, stack);
            stack.pop();
            out.extend(built);
            return;
        }
        let resource_file = match self.loaded_file(&target) {
            Ok(resource_file) => resource_file,
            Err(refusal) => {
                let message = match refusal {
                    Some(why) => format!("resource `{}` refused: {why}", entry.value),
                    None => format!(
                        "resource `{}` not found (or a directory without a kustomization)",
                        entry.value
                    ),
                };
                self.issue(IssueKind::KustomizeError, file, entry.span, message);
                return;
            }
        };
        self.output.consumed.insert(resource_file);
        if !self.file_allowed(dir, file, entry, &target, "resource") {
            return;
        }
        if self.syntax_files.contains(&resource_file) {
            // kubectl fails the whole build on a resource that is not valid YAML.
            self.issue(
                IssueKind::KustomizeError,
                file,
                entry.span,
                format!(
                    "resource `{}` is not valid YAML (see its parse-error); kubectl refuses to build",
                    entry.value
                ),
            );
        }
        if self.budget.exhausted() {
            return;
        }
        let first = out.len();
        // The size of each object added, in order: an object is the document's tree, as yet
        // untouched, so the size the load counted (a list's items are counted here).
        let mut sizes = Vec::new();
        // The table outlives the builder's borrow: its documents are read, not copied.
        let documents = self
            .documents
            .get(&resource_file)
            .map_or(&[][..], Vec::as_slice);
        out.reserve(documents.len());
        for &document in documents {
            // A tree no other build reads is moved here rather than shared.
            let taken = self.moved.take(resource_file, document.index);
            let root = taken.as_ref().unwrap_or(&document.root);
            // A tree is edited only once added: what the loader noted of its kind holds.
            if !document.written.is_object() {
                continue;
            }
            let items = if document.written.is_list() {
                root.get("items").and_then(Node::as_seq)
            } else {
                None
            };
            match items {
                Some(items) => {
                    for (index, item) in items.iter().enumerate() {
                        let item = crate::kinds::list_item(root, item);
                        if object_kind(&item).is_some() {
                            sizes.push(item.expanded_size());
                            out.push(Built {
                                file: resource_file,
                                document: document.index,
                                item: Some(index),
                                node: item,
                                previous: Vec::new(),
                                provenance: None,
                                var_names: Vec::new(),
                                affixes: None,
                                read_as: None,
                            });
                        }
                    }
                }
                _ => {
                    let (node, read_as) = match taken {
                        Some(node) => {
                            let read_as = self
                                .moved
                                .identities
                                .then(|| Box::new(level::read_identity(&node)));
                            (node, read_as)
                        }
                        None => (document.root.clone(), None),
                    };
                    debug_assert_eq!(node.expanded_size(), document.nodes);
                    sizes.push(document.nodes);
                    out.push(Built {
                        file: resource_file,
                        document: document.index,
                        item: None,
                        node,
                        previous: Vec::new(),
                        provenance: None,
                        var_names: Vec::new(),
                        affixes: None,
                        read_as,
                    });
                }
            }
        }
        for (index, nodes) in (first..).zip(sizes) {
            if let Err(message) = self.budget.object(nodes) {
                self.issue(IssueKind::KustomizeError, file, entry.span, message);
            }
            if self.budget.exhausted() {
                out.truncate(index);
                break;
            }
        }
    }

    /// Kustomizations nested deeper than the limit are not followed.
    pub(super) fn too_deep(
        &mut self,
        stack: &[PathBuf],
        file: FileId,
        entry: &spec::Entry,
    ) -> bool {
        if stack.len() < crate::limits::MAX_KUSTOMIZE_DEPTH {
            return false;
        }
        self.issue(
            IssueKind::KustomizeError,
            file,
            entry.span,
            format!(
                "`{}` is nested more than {} kustomizations deep (a limit of xks-lint); not followed",
                entry.value,
                crate::limits::MAX_KUSTOMIZE_DEPTH
            ),
        );
        true
    }

    /// kustomize refuses a resource whose id (group, version, kind, namespace, name) is
    /// already in the kustomization: the same file listed twice, or two files holding
    /// one object. The first one is kept.
    pub(super) fn refuse_duplicates(
        &mut self,
        file: FileId,
        entry: &spec::Entry,
        before: usize,
        ids: &mut FastSet<ResourceId>,
        resources: &mut Vec<Built>,
    ) {
        // Which of the new resources to keep, decided in order; removed in one pass (a
        // removal per duplicate would be quadratic in a list of many duplicates).
        let mut first_duplicate: Option<ResourceId> = None;
        let keep: Vec<bool> = resources
            .iter()
            .skip(before)
            .map(|built| {
                let Some(id) = resource_id(&built.node) else {
                    return true;
                };
                // Looked up before it is kept: the identity is only needed again for the
                // message about a duplicate, so the first of each is moved in, not copied.
                if !ids.contains(&id) {
                    ids.insert(id);
                    return true;
                }
                if first_duplicate.is_none() {
                    first_duplicate = Some(id);
                }
                false
            })
            .collect();
        let Some((api_version, kind, namespace, name)) = first_duplicate else {
            return;
        };
        let mut position = 0;
        resources.retain(|_| {
            let kept = position < before || keep.get(position - before).copied().unwrap_or(true);
            position += 1;
            kept
        });
        let namespace = if namespace.is_empty() {
            EcoString::from("(cluster)")
        } else {
            namespace
        };
        self.issue(
            IssueKind::KustomizeError,
            file,
            entry.span,
            format!("`{}` adds {kind} {namespace}/{name} ({api_version}) a second time: kustomize refuses the build (\"may not add resource with an already registered id\"); the first one is kept", entry.value),
        );
    }

    /// kustomize's load restrictions: a file (not a kustomization directory) must lie in
    /// or below the directory of the kustomization naming it. Reports it otherwise.
    pub(super) fn file_allowed(
        &mut self,
        dir: &Path,
        file: FileId,
        entry: &spec::Entry,
        target: &Path,
        what: &str,
    ) -> bool {
        if target.starts_with(dir) {
            return true;
        }
        self.issue(
            IssueKind::KustomizeError,
            file,
            entry.span,
            format!(
                "{what} file `{}` is not in or below the kustomization's directory; kubectl refuses it (only directories with a kustomization may be shared)",
                entry.value
            ),
        );
        false
    }
}

/// The id kustomize registers an object under: apiVersion, kind, namespace (empty for
/// cluster-scoped kinds, `default` when unset) and name. The texts are the tree's own
/// (a clone shares them): one id per object is kept while a kustomization is built.
pub(super) type ResourceId = (EcoString, EcoString, EcoString, EcoString);

pub(super) fn resource_id(node: &Node) -> Option<ResourceId> {
    let kind = node.get("kind")?.scalar_string()?;
    let api_version = match node.get("apiVersion") {
        None => EcoString::new(),
        Some(api_version) => api_version.scalar_string()?.clone(),
    };
    let name = node
        .path(&["metadata", "name"])
        .and_then(Node::scalar_string)
        .filter(|name| !name.is_empty())?;
    let namespace = if CLUSTER_SCOPED_KINDS.contains(&kind.as_str()) {
        EcoString::new()
    } else {
        node.path(&["metadata", "namespace"])
            .and_then(Node::scalar_string)
            .filter(|ns| !ns.is_empty())
            .cloned()
            .unwrap_or_else(|| EcoString::from("default"))
    };
    Some((api_version, kind.clone(), namespace, name.clone()))
}

/// `path` relative to directory `base`, with `..` where it lies outside it.
pub(super) fn relative_path(base: &Path, path: &Path) -> String {
    let base: Vec<_> = base.components().collect();
    let path: Vec<_> = path.components().collect();
    let common = base.iter().zip(&path).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_string(); base.len() - common];
    parts.extend(
        path.iter()
            .skip(common)
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    parts.join("/")
}

pub(super) fn relocate(node: &mut Node, span: Span, file: FileId) {
    node.span = span;
    *node.origin_mut() = Some(file);
    match &mut node.kind {
        NodeKind::Scalar { .. } => {}
        NodeKind::Seq(items, _) => items.iter_mut().for_each(|n| relocate(n, span, file)),
        NodeKind::Map(entries, _) => entries.iter_mut().for_each(|(k, v)| {
            relocate(k, span, file);
            relocate(v, span, file);
        }),
    }
}
