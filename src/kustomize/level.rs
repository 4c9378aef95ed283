//! Building one kustomization level: its resources, generators, components and
//! plugins, its transformers, its vars; at the root, hashes, name references, vars
//! and build metadata.

use super::*;

impl Builder<'_> {
    pub(super) fn build_dir(&mut self, dir: &Path, stack: &mut Vec<PathBuf>) -> Vec<Built> {
        let Some((file, spec)) = self.kustomizations.get(dir).cloned() else {
            return Vec::new();
        };
        // A kustomization Flux generates is attributed to the Flux object, which stays an object.
        let generated = self
            .loaded
            .sources
            .get(file)
            .is_none_or(|source| !is_kustomization_file(&source.path));
        if !generated {
            self.output.consumed.insert(file);
        }
        for entry in &spec.unsupported {
            self.issue(
                IssueKind::KustomizeNote,
                file,
                entry.span,
                format!("`{}` is not applied by xks-lint (plugins and Helm charts are never run); objects it would create or change are not analysed", entry.value),
            );
        }
        self.refuse_entries(dir, file, &spec);
        if self.budget.exhausted() {
            return Vec::new();
        }
        if let Err(message) = self.budget.visit() {
            let span = spec.resources.first().map_or(Span::default(), |e| e.span);
            self.issue(IssueKind::KustomizeError, file, span, message);
            return Vec::new();
        }
        // This kustomization's vars start empty; what it includes adds theirs.
        let outer_vars = std::mem::take(&mut self.vars);
        // At least one object per resource entry: sized once for the usual one-object file.
        let mut resources = Vec::with_capacity(spec.resources.len());
        let mut ids = FastSet::with_capacity_and_hasher(spec.resources.len(), Default::default());
        for entry in &spec.resources {
            let before = resources.len();
            self.add_resource(dir, file, entry, stack, &mut resources);
            self.refuse_duplicates(file, entry, before, &mut ids, &mut resources);
        }
        // kustomize's order: resources, generators (a component's `behavior: merge`
        // reaches them), components, transformers.
        self.run_generators(dir, file, &spec, &mut resources);
        self.run_plugins(dir, file, &spec.generator_plugins, stack, &mut resources);
        self.apply_components(dir, file, &spec, stack, &mut ids, &mut resources);
        self.transform(dir, file, &spec, &mut resources);
        self.run_plugins(dir, file, &spec.transformer_plugins, stack, &mut resources);
        self.declare_vars(&spec.vars, file, &mut resources);
        if stack.len() <= 1 {
            // The root: generated names get their content hash now that data is final.
            let custom = self.configurations(dir);
            generators::finish(&mut resources);
            // Every transformer has run: references follow the objects they name.
            for error in namerefs::fix_back_references(&mut resources, &custom.name_references) {
                self.issue(
                    IssueKind::KustomizeError,
                    error.file,
                    error.span,
                    error.message,
                );
            }
            // Vars read final names, so they resolve last.
            let mut references = vars::default_references();
            references.extend(custom.var_references);
            if let Err(error) = vars::resolve(&self.vars, &references, &mut resources) {
                self.issue(
                    IssueKind::KustomizeError,
                    error.file,
                    error.span,
                    error.message,
                );
            }
            // Objects marked local configuration feed transformers and replacements but
            // are never deployed: kustomize leaves them out of the root's output.
            resources.retain(|built| !is_local_config(&built.node));
            self.annotate_build_metadata(dir, &spec.build_metadata, &mut resources);
        }
        let inner_vars = std::mem::replace(&mut self.vars, outer_vars);
        for error in vars::merge(&mut self.vars, inner_vars) {
            self.issue(
                IssueKind::KustomizeError,
                error.file,
                error.span,
                error.message,
            );
        }
        resources
    }

    /// kustomize's `MergeVars` for one kustomization or component.
    pub(super) fn declare_vars(
        &mut self,
        declared: &[spec::Var],
        file: FileId,
        resources: &mut [Built],
    ) {
        if declared.is_empty() {
            return;
        }
        for error in vars::declare(&mut self.vars, declared, file, resources) {
            self.issue(
                IssueKind::KustomizeError,
                error.file,
                error.span,
                error.message,
            );
        }
    }

    /// Notes that the built-in transformer `kind` configured in `file` ran over every object
    /// of `resources`, when some root asks for `transformerAnnotations` (otherwise the
    /// record would cost memory per object for nothing).
    pub(super) fn record_transformation(
        &self,
        resources: &mut [Built],
        file: FileId,
        kind: &'static str,
    ) {
        if !self.record_transformations {
            return;
        }
        for resource in resources.iter_mut() {
            let name = self.plugin_name.clone();
            resource
                .provenance_mut()
                .transformations
                .push((file, kind, name));
        }
    }

    /// `buildMetadata` of a root: `originAnnotations` writes where each object was read
    /// or which generator made it, `transformerAnnotations` which built-in transformers
    /// ran over it, paths relative to the root. (`managedByLabel` names the kustomize
    /// version, which xks-lint is not: it is left out.)
    pub(super) fn annotate_build_metadata(
        &self,
        dir: &Path,
        wanted: &[String],
        resources: &mut [Built],
    ) {
        let origins = wanted.iter().any(|w| w == "originAnnotations");
        let transformations = wanted.iter().any(|w| w == "transformerAnnotations");
        if !origins && !transformations {
            return;
        }
        let relative = |file: FileId| {
            self.loaded
                .sources
                .get(file)
                .map(|source| relative_path(dir, &normalize(&source.path)))
                .unwrap_or_default()
        };
        let configured = |file: FileId, kind: &str, name: &Option<String>, indent: &str| {
            let mut text = format!(
                "configuredIn: {}\n{indent}configuredBy:\n{indent}  apiVersion: builtin\n{indent}  kind: {kind}\n",
                relative(file)
            );
            if let Some(name) = name {
                text.push_str(&format!("{indent}  name: {name}\n"));
            }
            text
        };
        for resource in resources.iter_mut() {
            let mut added = Vec::new();
            let provenance = resource.provenance.as_deref();
            let recorded = provenance.map_or(&[][..], |p| &p.transformations);
            if transformations && !recorded.is_empty() {
                let text: String = recorded
                    .iter()
                    .map(|(file, kind, name)| format!("- {}", configured(*file, kind, name, "  ")))
                    .collect();
                added.push(("alpha.config.kubernetes.io/transformations", text));
            }
            if origins {
                let text = match provenance.and_then(|p| p.generated_by.as_ref()) {
                    Some((kind, name)) => {
                        let file = provenance.and_then(|p| p.generated_in);
                        configured(file.unwrap_or(resource.file), kind, name, "")
                    }
                    None => format!("path: {}\n", relative(resource.file)),
                };
                added.push(("config.kubernetes.io/origin", text));
            }
            let span = resource.node.span;
            for_each_at(
                &mut resource.node,
                &["metadata", "annotations"],
                Some((span, None)),
                &mut |annotations| {
                    for (key, value) in &added {
                        set(annotations, key, Node::synthetic_str(value, span, None));
                    }
                },
            );
        }
    }

    /// Applies the `components` of the kustomization in `dir`, in order, to `resources`:
    /// each adds its resources, then applies its own components (recursively), then its
    /// patches and transformers over everything accumulated so far.
    pub(super) fn apply_components(
        &mut self,
        dir: &Path,
        file: FileId,
        spec: &Kustomization,
        stack: &mut Vec<PathBuf>,
        ids: &mut FastSet<super::resources::ResourceId>,
        resources: &mut Vec<Built>,
    ) {
        for entry in &spec.components {
            let target = self.resolve(dir, &entry.value);
            let refused = self.loaded.refused.get(&target);
            let Some((component_file, component)) = self
                .kustomizations
                .get(&target)
                .filter(|_| refused.is_none())
                .cloned()
            else {
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    entry.span,
                    match refused {
                        Some(why) => format!("component `{}` refused: {why}", entry.value),
                        None => format!("component `{}` has no kustomization", entry.value),
                    },
                );
                continue;
            };
            if stack.contains(&target) {
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    entry.span,
                    format!("component `{}` includes itself", entry.value),
                );
                continue;
            }
            if self.too_deep(stack, file, entry) {
                continue;
            }
            self.output.consumed.insert(component_file);
            stack.push(target.clone());
            self.refuse_entries(&target, component_file, &component);
            for note in &component.unsupported {
                self.issue(
                    IssueKind::KustomizeNote,
                    component_file,
                    note.span,
                    format!("`{}` is not applied by xks-lint (plugins and Helm charts are never run); objects it would create or change are not analysed", note.value),
                );
            }
            for resource in &component.resources {
                let before = resources.len();
                self.add_resource(&target, component_file, resource, stack, resources);
                self.refuse_duplicates(component_file, resource, before, ids, resources);
            }
            self.run_generators(&target, component_file, &component, resources);
            let plugins = &component.generator_plugins;
            self.run_plugins(&target, component_file, plugins, stack, resources);
            self.apply_components(&target, component_file, &component, stack, ids, resources);
            self.transform(&target, component_file, &component, resources);
            let plugins = &component.transformer_plugins;
            self.run_plugins(&target, component_file, plugins, stack, resources);
            self.declare_vars(&component.vars, component_file, resources);
            stack.pop();
        }
    }

    /// Applies the built-in plugin configurations that `generators:` or `transformers:`
    /// entries name, in order, to `resources`.
    pub(super) fn run_plugins(
        &mut self,
        dir: &Path,
        file: FileId,
        entries: &[spec::Entry],
        stack: &mut Vec<PathBuf>,
        resources: &mut Vec<Built>,
    ) {
        for entry in entries {
            for (config_file, config) in self.plugin_configs(dir, file, entry, stack) {
                if self.budget.exhausted() {
                    return;
                }
                match plugins::interpret(&config) {
                    Ok(builtin) => {
                        self.plugin_name = config
                            .path(&["metadata", "name"])
                            .and_then(Node::scalar_text)
                            .map(str::to_string);
                        self.apply_builtin(dir, config_file, builtin, resources);
                        self.plugin_name = None;
                    }
                    Err(plugins::NotApplied::Invalid(message)) => {
                        self.issue(IssueKind::KustomizeError, config_file, config.span, message);
                    }
                    Err(
                        plugins::NotApplied::External(what) | plugins::NotApplied::Builtin(what),
                    ) => self.issue(
                        IssueKind::KustomizeNote,
                        config_file,
                        config.span,
                        format!("{what}: not applied by xks-lint (plugins and Helm charts are never run); objects it would create or change are not analysed"),
                    ),
                }
            }
        }
    }

    /// The plugin configuration objects of one `generators:`/`transformers:` entry: the
    /// entry itself when written inline, else the objects of the file or kustomization
    /// directory it names (a directory is built first, so its transformers apply).
    pub(super) fn plugin_configs(
        &mut self,
        dir: &Path,
        file: FileId,
        entry: &spec::Entry,
        stack: &mut Vec<PathBuf>,
    ) -> Vec<(FileId, Node)> {
        if spec::is_inline_config(&entry.value) {
            let stream = parse_stream(&entry.value);
            if let Some(error) = stream.errors.first() {
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    entry.span,
                    format!(
                        "inline plugin configuration does not parse: {}",
                        error.message
                    ),
                );
            }
            return stream
                .documents
                .into_iter()
                .filter(|d| !d.root.is_null())
                .map(|d| {
                    let mut root = d.root;
                    relocate(&mut root, entry.span, file);
                    (file, root)
                })
                .collect();
        }
        let mut configs = Vec::new();
        self.add_resource(dir, file, entry, stack, &mut configs);
        configs.into_iter().map(|b| (b.file, b.node)).collect()
    }

    pub(super) fn apply_builtin(
        &mut self,
        dir: &Path,
        config_file: FileId,
        builtin: plugins::Builtin,
        resources: &mut Vec<Built>,
    ) {
        match builtin {
            plugins::Builtin::Fragment(fragment) => {
                let before = resources.len();
                self.run_generators(dir, config_file, &fragment, resources);
                for generated in resources.iter_mut().skip(before) {
                    let provenance = generated.provenance.as_deref_mut();
                    if let Some((_, name)) = provenance.and_then(|p| p.generated_by.as_mut()) {
                        name.clone_from(&self.plugin_name);
                    }
                }
                self.transform(dir, config_file, &fragment, resources);
            }
            plugins::Builtin::Rename {
                prefix,
                suffix,
                kinds,
            } => {
                rename(resources, &prefix, &suffix, Some(&kinds));
                self.record_transformation(resources, config_file, "PrefixSuffixTransformer");
            }
            plugins::Builtin::Pairs { kind, pairs, specs } => {
                configurations::apply_labels(resources, &specs, &pairs, config_file);
                self.record_transformation(resources, config_file, kind);
            }
            plugins::Builtin::NamespaceIfUnset(namespace) => {
                if let Some(conflict) = set_namespace(resources, &namespace, config_file, true) {
                    self.issue(
                        IssueKind::KustomizeError,
                        config_file,
                        namespace.span,
                        conflict,
                    );
                }
                self.record_transformation(resources, config_file, "NamespaceTransformer");
            }
            plugins::Builtin::ServiceAccount {
                name,
                namespace,
                annotation,
                span,
            } => {
                let namespace = namespace.as_deref();
                let node =
                    plugins::service_account(&name, namespace, &annotation, span, config_file);
                resources.push(Built {
                    file: config_file,
                    document: usize::MAX,
                    item: Some(resources.len()),
                    node,
                    previous: Vec::new(),
                    provenance: Some(Box::new(Provenance {
                        generated_by: Some(("IAMPolicyGenerator", self.plugin_name.clone())),
                        transformations: Vec::new(),
                        generated_in: None,
                    })),
                    var_names: Vec::new(),
                    affixes: None,
                    read_as: None,
                });
            }
            plugins::Builtin::Nothing => {}
        }
    }

    /// Adds the objects of `configMapGenerator` and `secretGenerator` to `resources`.
    pub(super) fn run_generators(
        &mut self,
        dir: &Path,
        file: FileId,
        spec: &Kustomization,
        resources: &mut Vec<Built>,
    ) {
        if spec.generators.is_empty() {
            return;
        }
        let context = generators::Context {
            dir,
            file,
            data_files: &self.loaded.data_files,
        };
        let original = |built: &Built| self.original_identity(built);
        let errors = generators::run(spec, &context, resources, &original);
        // A data file that is also a manifest (`files: [config.yaml]`) is data, not objects.
        for path in spec.data_paths() {
            if let Some(data_file) = self.files_by_path.get(&self.resolve(dir, path)) {
                self.output.consumed.insert(*data_file);
            }
        }
        for error in errors {
            self.issue(IssueKind::KustomizeError, file, error.span, error.message);
        }
    }

    /// The custom field specs (`configurations`) of the kustomization at `dir` and of
    /// everything it includes: kustomize merges them upwards.
    pub(super) fn configurations(&self, dir: &Path) -> configurations::Configurations {
        let mut merged = configurations::Configurations::default();
        if !self
            .kustomizations
            .values()
            .any(|(_, spec)| !spec.configurations.is_empty() || !spec.crds.is_empty())
        {
            return merged;
        }
        let mut dirs: Vec<PathBuf> = self.reachable(&[dir.to_path_buf()]).into_iter().collect();
        dirs.sort();
        for dir in dirs {
            let Some((_, spec)) = self.kustomizations.get(&dir) else {
                continue;
            };
            for (entry, crd) in spec
                .configurations
                .iter()
                .map(|e| (e, false))
                .chain(spec.crds.iter().map(|e| (e, true)))
            {
                let target = self.resolve(&dir, &entry.value);
                let Some(file) = self.files_by_path.get(&target) else {
                    continue;
                };
                for document in self.documents.get(file).into_iter().flatten() {
                    if crd {
                        merged.add_crd_definitions(&document.root);
                    } else {
                        merged.add(&document.root);
                    }
                }
            }
        }
        merged
    }

    /// Kind, name and effective namespace of an object as it was read or generated,
    /// before any transformer renamed it.
    pub(super) fn original_identity(&self, built: &Built) -> Option<generators::Identity> {
        if let Some(identity) = generators::generated_identity(&built.node) {
            return Some(identity);
        }
        if let Some(identity) = &built.read_as {
            return Some(identity.as_ref().clone());
        }
        let document = self
            .documents
            .get(&built.file)?
            .iter()
            .find(|d| d.index == built.document)?;
        let node = match built.item {
            Some(item) => document.root.get("items")?.as_seq()?.get(item)?,
            None => &document.root,
        };
        Some(read_identity(node))
    }
}

/// Kind, name and effective namespace (`default` when none) written in an object.
pub(super) fn read_identity(node: &Node) -> generators::Identity {
    let text = |path: &[&str]| {
        node.path(path)
            .and_then(Node::scalar_text)
            .unwrap_or_default()
            .to_string()
    };
    let namespace = text(&["metadata", "namespace"]);
    (
        text(&["kind"]),
        text(&["metadata", "name"]),
        if namespace.is_empty() {
            "default".to_string()
        } else {
            namespace
        },
    )
}

pub(super) const LOCAL_CONFIG_ANNOTATION: &str = "config.kubernetes.io/local-config";

pub(super) fn is_local_config(node: &Node) -> bool {
    node.path(&["metadata", "annotations", LOCAL_CONFIG_ANNOTATION])
        .and_then(Node::scalar_text)
        == Some("true")
}
