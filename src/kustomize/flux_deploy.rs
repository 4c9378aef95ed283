//! Flux `Kustomization`s as build roots: which directories they deploy (with the
//! kustomization Flux generates where there is none), and what Flux does around the
//! kustomize build: `targetNamespace`, inline `patches`, `postBuild` substitution.

use super::*;

impl Builder<'_> {
    /// Directories that Flux `Kustomization` objects deploy (`spec.path`, relative to the
    /// repository root), with what Flux does around each build. A path without a
    /// kustomization gets the one Flux generates. HelmReleases are noted: Flux renders
    /// them in the cluster, xks-lint cannot.
    pub(super) fn flux_kustomizations(&mut self) -> (FluxTargets, Kustomizations) {
        let mut found: FluxTargets = BTreeMap::new();
        let mut generated = BTreeMap::new();
        let repo_root = self.loaded.repo_root.clone().unwrap_or_default();
        // Only Flux objects matter below: picked out on every core, in document order.
        let documents: Vec<&LoadedDocument> = self
            .loaded
            .documents
            .par_iter()
            .filter(|d| d.written.is_flux())
            .collect();
        let git_repositories: FastSet<&str> = documents
            .iter()
            .filter(|d| {
                object_kind(&d.root).is_some_and(|(a, k)| {
                    a.starts_with("source.toolkit.fluxcd.io/") && k == "GitRepository"
                })
            })
            .map(|d| name_of(&d.root))
            .collect();
        let generators: Vec<&LoadedDocument> = documents
            .iter()
            .copied()
            .filter(|d| {
                object_kind(&d.root).is_some_and(|(a, k)| {
                    a.starts_with("source.extensions.fluxcd.io/") && k == "ArtifactGenerator"
                })
            })
            .collect();
        for document in documents.iter().copied() {
            let root = &document.root;
            let Some((api_version, kind)) = object_kind(root) else {
                continue;
            };
            if api_version.starts_with("helm.toolkit.fluxcd.io/") && kind == "HelmRelease" {
                let span = root.get("kind").map_or(root.span, |k| k.span);
                let chart = root
                    .path(&["spec", "chart", "spec", "chart"])
                    .and_then(Node::scalar_text)
                    .unwrap_or("its chart");
                self.output.issues.push(LoadIssue {
                    kind: IssueKind::HelmTemplate,
                    location: Location { file: document.file, span },
                    message: format!(
                        "HelmRelease `{}`: Flux renders `{chart}` in the cluster, so its objects are not analysed; render it with `helm template` and pipe it to `xks-lint check -`",
                        name_of(root)
                    ),
                    related: Vec::new(),
                });
                continue;
            }
            if !(api_version.starts_with("kustomize.toolkit.fluxcd.io/") && kind == "Kustomization")
            {
                continue;
            }
            let Some(path_node) = root.path(&["spec", "path"]) else {
                continue;
            };
            let from_artifact = root
                .path(&["spec", "sourceRef", "kind"])
                .and_then(Node::scalar_text)
                == Some("ExternalArtifact");
            let path_text = path_node.scalar_text().unwrap_or(".");
            let dir = if from_artifact {
                match artifact_dir(
                    document,
                    &generators,
                    &git_repositories,
                    path_text,
                    &repo_root,
                    self.loaded,
                ) {
                    Ok(dir) => dir,
                    Err(message) => {
                        self.issue(
                            IssueKind::KustomizeNote,
                            document.file,
                            path_node.span,
                            message,
                        );
                        continue;
                    }
                }
            } else if let Some(source) = external_source(root, &git_repositories) {
                self.issue(
                    IssueKind::KustomizeNote,
                    document.file,
                    root.path(&["spec", "sourceRef"]).map_or(path_node.span, |n| n.span),
                    format!("Flux Kustomization `{}` deploys from {source}, not from this repository: its objects are not analysed", name_of(root)),
                );
                continue;
            } else {
                // Flux joins the path to the source's root securely: `/apps`, `./apps` and
                // `apps` are the same directory, and `..` stops at the root.
                flux::secure_join(&repo_root, path_text)
            };
            self.note_left_out(document.file, path_node, &dir);
            if !self.kustomizations.contains_key(&dir) && !generated.contains_key(&dir) {
                let kustomization = self.generated_kustomization(&dir);
                if kustomization.resources.is_empty() {
                    continue;
                }
                generated.insert(dir.clone(), (document.file, kustomization));
            }
            let deploy = self.flux_deploy(document, &repo_root);
            found.entry(dir).or_default().push(deploy);
        }
        (found, generated)
    }

    /// A Flux path holding manifest files the walk left out (hidden, or ignored by a
    /// `.gitignore`/`.ignore` a pull request may commit): Flux deploys committed files
    /// whatever those say, so the check must not pass over them silently.
    pub(super) fn note_left_out(&mut self, file: FileId, path_node: &Node, dir: &Path) {
        let hidden: Vec<&crate::load::LeftOut> = self
            .loaded
            .left_out
            .iter()
            .filter(|f| normalize(&f.path).starts_with(dir))
            // Flux's source-controller leaves CI directories out of the artifact itself.
            .filter(|f| {
                !f.path.components().any(|c| {
                    [".git", ".github", ".circleci", ".gitlab"]
                        .iter()
                        .any(|ci| c.as_os_str() == *ci)
                })
            })
            .collect();
        let Some(first) = hidden.first() else {
            return;
        };
        let path = path_node.scalar_text().unwrap_or(".");
        self.issue(
            IssueKind::KustomizeNote,
            file,
            path_node.span,
            format!(
                "Flux deploys `{path}`, but {} manifest file(s) below it were left out of the check ({}, e.g. `{}`); they are not analysed: check them explicitly or stop ignoring them",
                hidden.len(),
                first.reason.describe(),
                first.path.file_name().map_or(String::new(), |n| n.to_string_lossy().into_owned()),
            ),
        );
    }

    /// What one Flux `Kustomization` adds to the build of its path.
    pub(super) fn flux_deploy(
        &mut self,
        document: &LoadedDocument,
        repo_root: &Path,
    ) -> FluxDeploy {
        let root = &document.root;
        let file = document.file;
        let spec_node = root.get("spec");
        let target_namespace = spec_node
            .and_then(|s| s.get("targetNamespace"))
            .and_then(|n| {
                n.scalar_text().map(|value| spec::Entry {
                    value: value.to_string(),
                    span: n.span,
                })
            })
            .filter(|e| !e.value.is_empty());
        let mut patches = Vec::new();
        if let Some(spec_node) = spec_node {
            // Flux's patches have the shape of a kustomization's `patches` entries, inline only.
            let only_patches = Node {
                kind: NodeKind::Map(
                    spec_node
                        .as_map()
                        .unwrap_or(&[])
                        .iter()
                        .filter(|(k, _)| k.scalar_text() == Some("patches"))
                        .cloned()
                        .collect(),
                    None,
                ),
                span: spec_node.span,
            };
            for patch in spec::Kustomization::from_node(&only_patches).patches {
                match patch.source {
                    PatchSource::Inline(_) => patches.push(patch),
                    PatchSource::File(_) => self.issue(
                        IssueKind::KustomizeError,
                        file,
                        patch.span,
                        "a Flux Kustomization's patches are inline (`patch:`); `path:` is not read by Flux".to_string(),
                    ),
                }
            }
            for field in [
                "images",
                "components",
                "patchesStrategicMerge",
                "patchesJson6902",
            ] {
                if let Some((key, _)) = spec_node.entry(field) {
                    self.issue(
                        IssueKind::KustomizeNote,
                        file,
                        key.span,
                        format!("Flux `spec.{field}` is not applied by xks-lint; objects it would change are analysed as built without it"),
                    );
                }
            }
        }
        let post_build = spec_node
            .and_then(|s| s.entry("postBuild"))
            .map(|(key, node)| {
                let vars = node
                    .get("substitute")
                    .and_then(Node::as_map)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((
                            spec::Entry {
                                value: k.scalar_text()?.to_string(),
                                span: k.span,
                            },
                            v.scalar_text().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect();
                let from = node
                    .get("substituteFrom")
                    .and_then(Node::as_seq)
                    .unwrap_or(&[])
                    .iter()
                    .map(|item| {
                        let text = |key: &str| {
                            item.get(key)
                                .and_then(Node::scalar_text)
                                .unwrap_or_default()
                                .to_string()
                        };
                        (
                            text("kind"),
                            text("name"),
                            text("optional") == "true",
                            item.span,
                        )
                    })
                    .collect();
                PostBuild {
                    span: key.span,
                    vars,
                    from,
                }
            });
        let namespace = root
            .path(&["metadata", "namespace"])
            .and_then(Node::scalar_text)
            .unwrap_or("default")
            .to_string();
        let settings = serde_json::json!([
            spec_node
                .and_then(|s| s.get("targetNamespace"))
                .map(Node::to_json),
            spec_node.and_then(|s| s.get("patches")).map(Node::to_json),
            spec_node
                .and_then(|s| s.get("postBuild"))
                .map(Node::to_json),
            post_build.as_ref().map(|_| namespace.clone()),
        ])
        .to_string();
        let deployed_by = self
            .loaded
            .sources
            .get(file)
            .map(|source| {
                let path = normalize(&source.path);
                let relative = path.strip_prefix(repo_root).unwrap_or(&path);
                relative
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_default();
        FluxDeploy {
            file,
            deployed_by,
            namespace,
            target_namespace,
            patches,
            post_build,
            settings,
        }
    }

    /// What Flux generates for a path without a kustomization: every YAML manifest
    /// below it, except that a subdirectory holding a kustomization is included as a
    /// unit (its files are that kustomization's business, not read raw).
    pub(super) fn generated_kustomization(&self, dir: &Path) -> Kustomization {
        // Topmost kustomization directories strictly below `dir`.
        let nested: Vec<&PathBuf> = self
            .kustomizations
            .keys()
            .filter(|k| k.starts_with(dir) && k.as_path() != dir)
            .collect();
        let below_nested = |path: &Path| {
            path.ancestors()
                .skip(1)
                .take_while(|a| *a != dir)
                .any(|a| self.kustomizations.contains_key(a))
        };
        let relative = |path: &Path| {
            path.strip_prefix(dir).ok().map(|relative| spec::Entry {
                value: relative.to_string_lossy().into_owned(),
                span: Span::default(),
            })
        };
        let mut resources: Vec<spec::Entry> = nested
            .iter()
            .filter(|k| !below_nested(k))
            .filter_map(|k| relative(k))
            .collect();
        let files = self
            .files_by_path
            .iter()
            .filter(|(path, _)| path.starts_with(dir) && !is_kustomization_file(path))
            .filter(|(path, _)| path.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .filter(|(path, _)| !below_nested(path))
            .filter(|(_, file)| {
                self.documents.get(file).is_some_and(|docs| {
                    docs.iter().any(|d| {
                        object_kind(&d.root)
                            .is_some_and(|(a, _)| !a.starts_with("kustomize.toolkit.fluxcd.io/"))
                    })
                })
            })
            .filter_map(|(path, _)| relative(path));
        resources.extend(files);
        resources.sort_by(|a, b| a.value.cmp(&b.value));
        Kustomization {
            resources,
            ..Kustomization::default()
        }
    }

    /// Flux applies `spec.patches` and `spec.targetNamespace` over the built
    /// kustomization, then `spec.postBuild` variable substitution.
    pub(super) fn apply_flux(&mut self, dir: &Path, deploy: &FluxDeploy, objects: &mut Vec<Built>) {
        let spec = Kustomization {
            patches: deploy.patches.clone(),
            namespace: deploy.target_namespace.clone(),
            ..Kustomization::default()
        };
        self.transform(dir, deploy.file, &spec, objects);
        if let Some(post_build) = &deploy.post_build {
            self.substitute(deploy, post_build, objects);
        }
    }

    /// The value of a ConfigMap's or Secret's keys, when the repository holds it.
    pub(super) fn variables_from(
        &self,
        kind: &str,
        name: &str,
        namespace: &str,
    ) -> Option<Vec<(String, String)>> {
        let candidates = self
            .variable_sources
            .get(&(kind.to_string(), name.to_string()))
            .into_iter()
            .flatten()
            .copied();
        let mut best: Option<&Node> = None;
        for candidate in candidates {
            match candidate
                .path(&["metadata", "namespace"])
                .and_then(Node::scalar_text)
            {
                Some(ns) if ns == namespace => {
                    best = Some(candidate);
                    break;
                }
                None if best.is_none() => best = Some(candidate),
                _ => {}
            }
        }
        let object = best?;
        let mut vars = Vec::new();
        let entries = |field: &str| object.get(field).and_then(Node::as_map).unwrap_or(&[]);
        let decode = |text: &str| {
            use base64::Engine;
            let compact: String = text.split_whitespace().collect();
            base64::engine::general_purpose::STANDARD
                .decode(compact)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
        };
        for (key, value) in entries("data") {
            let (Some(key), Some(value)) = (key.scalar_text(), value.scalar_text()) else {
                continue;
            };
            let value = if kind == "Secret" {
                decode(value).unwrap_or_default()
            } else {
                value.to_string()
            };
            vars.push((key.to_string(), value));
        }
        if kind == "Secret" {
            for (key, value) in entries("stringData") {
                if let (Some(key), Some(value)) = (key.scalar_text(), value.scalar_text()) {
                    vars.push((key.to_string(), value.to_string()));
                }
            }
        }
        Some(vars)
    }

    /// Flux's post-build substitution: `${var}` in every value and key of every object
    /// not labelled or annotated `kustomize.toolkit.fluxcd.io/substitute: disabled`.
    pub(super) fn substitute(
        &mut self,
        deploy: &FluxDeploy,
        post_build: &PostBuild,
        objects: &mut [Built],
    ) {
        let file = deploy.file;
        let mut vars: FastMap<String, String> = FastMap::default();
        let mut complete = true;
        for (kind, name, _optional, span) in &post_build.from {
            match (
                kind.as_str(),
                self.variables_from(kind, name, &deploy.namespace),
            ) {
                ("ConfigMap" | "Secret", Some(found)) => vars.extend(found),
                ("ConfigMap" | "Secret", None) => {
                    complete = false;
                    self.issue(
                        IssueKind::KustomizeNote,
                        file,
                        *span,
                        format!("substituteFrom {kind} `{name}` is not in the repository (it may live in the cluster): its variables are not substituted, `${{var}}` references to them are analysed as written"),
                    );
                }
                _ => {
                    complete = false;
                    self.issue(
                        IssueKind::KustomizeError,
                        file,
                        *span,
                        format!("substituteFrom kind `{kind}` is neither ConfigMap nor Secret"),
                    );
                }
            }
        }
        for (name, value) in &post_build.vars {
            vars.insert(name.value.clone(), value.clone());
        }
        // Flux rejects invalid names; names come from keys of a ConfigMap too.
        for (name, _) in &post_build.vars {
            if !flux::valid_name(&name.value) {
                self.issue(
                    IssueKind::KustomizeError,
                    file,
                    name.span,
                    format!("variable name `{}` is invalid for Flux (letters, digits and `_`, not starting with a digit): Flux refuses the substitution", name.value),
                );
            }
        }
        vars.retain(|name, _| flux::valid_name(name));
        if vars.is_empty() && complete {
            // Flux substitutes only when there is at least one variable.
            return;
        }
        for value in vars.values_mut() {
            value.retain(|c| c != '\n');
        }
        let undefined = if complete {
            flux::Undefined::Empty
        } else {
            flux::Undefined::Keep
        };
        let lookup = |name: &str| vars.get(name).cloned();
        let mut produced = 0usize;
        let mut problems: Vec<String> = Vec::new();
        for object in objects.iter_mut() {
            let disabled = ["labels", "annotations"].iter().any(|field| {
                object
                    .node
                    .path(&["metadata", field, "kustomize.toolkit.fluxcd.io/substitute"])
                    .and_then(Node::scalar_text)
                    == Some("disabled")
            });
            if disabled {
                continue;
            }
            substitute_node(
                &mut object.node,
                &lookup,
                undefined,
                &mut produced,
                &mut problems,
            );
        }
        problems.sort();
        problems.dedup();
        for problem in problems {
            self.issue(IssueKind::KustomizeNote, file, post_build.span, problem);
        }
    }
}

/// The source a Flux `Kustomization` deploys from, when it is not this repository: a
/// source of another kind (OCIRepository, Bucket), or a GitRepository the repository
/// itself defines under another name than `flux-system` (the one `flux bootstrap`
/// creates for the repository it writes to). A GitRepository the repository does not
/// define is taken to be this one.
pub(super) fn external_source(root: &Node, git_repositories: &FastSet<&str>) -> Option<String> {
    let source = root.path(&["spec", "sourceRef"])?;
    let kind = source
        .get("kind")
        .and_then(Node::scalar_text)
        .unwrap_or("GitRepository");
    let name = source
        .get("name")
        .and_then(Node::scalar_text)
        .unwrap_or_default();
    let external =
        kind != "GitRepository" || (name != "flux-system" && git_repositories.contains(name));
    external.then(|| format!("{kind} `{name}`"))
}

/// The repository directory an `ExternalArtifact` path stands for, when a Flux
/// `ArtifactGenerator` of the repository builds that artifact by copying directories of
/// this repository (`from: "@repo/apps/base/**"`, `to: "@artifact/base/"`). The
/// generator next to the Flux Kustomization wins when several define the artifact.
pub(super) fn artifact_dir(
    document: &LoadedDocument,
    documents: &[&LoadedDocument],
    git_repositories: &FastSet<&str>,
    path: &str,
    repo_root: &Path,
    loaded: &Loaded,
) -> Result<PathBuf, String> {
    let root = &document.root;
    let artifact = root
        .path(&["spec", "sourceRef", "name"])
        .and_then(Node::scalar_text)
        .unwrap_or_default();
    let unknown = || {
        format!(
            "Flux Kustomization `{}` deploys `{path}` from ExternalArtifact `{artifact}`, which no ArtifactGenerator of this repository builds from it: its objects are not analysed",
            name_of(root)
        )
    };
    let dir_of = |file: FileId| {
        loaded
            .sources
            .get(file)
            .and_then(|s| normalize(&s.path).parent().map(Path::to_path_buf))
    };
    let here = dir_of(document.file);
    let mut candidates: Vec<(&LoadedDocument, &Node)> = Vec::new();
    for generator in documents {
        let is_generator = object_kind(&generator.root).is_some_and(|(a, k)| {
            a.starts_with("source.extensions.fluxcd.io/") && k == "ArtifactGenerator"
        });
        if !is_generator {
            continue;
        }
        for spec in generator
            .root
            .path(&["spec", "artifacts"])
            .and_then(Node::as_seq)
            .unwrap_or(&[])
        {
            if spec.get("name").and_then(Node::scalar_text) == Some(artifact) {
                candidates.push((generator, spec));
            }
        }
    }
    let chosen = match candidates.as_slice() {
        [] => return Err(unknown()),
        [only] => *only,
        several => *several
            .iter()
            .find(|(g, _)| dir_of(g.file) == here)
            .ok_or_else(unknown)?,
    };
    let (generator, spec) = chosen;
    // Aliases of sources that are this repository.
    let local_aliases: Vec<&str> = generator
        .root
        .path(&["spec", "sources"])
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .filter(|source| {
            let kind = source
                .get("kind")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            let name = source
                .get("name")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            kind == "GitRepository" && (name == "flux-system" || !git_repositories.contains(name))
        })
        .filter_map(|source| source.get("alias").and_then(Node::scalar_text))
        .collect();
    let wanted = flux::secure_join(Path::new("/"), path);
    let mut best: Option<(usize, PathBuf)> = None;
    for rule in spec.get("copy").and_then(Node::as_seq).unwrap_or(&[]) {
        let text = |key: &str| {
            rule.get(key)
                .and_then(Node::scalar_text)
                .unwrap_or_default()
        };
        let Some((alias, from)) = text("from")
            .strip_prefix('@')
            .and_then(|f| f.split_once('/'))
        else {
            continue;
        };
        let Some(from) = from
            .strip_suffix("/**")
            .or_else(|| (from == "**").then_some(""))
        else {
            continue;
        };
        let Some(to) = text("to").strip_prefix("@artifact/") else {
            continue;
        };
        if !local_aliases.contains(&alias) {
            continue;
        }
        let dest = flux::secure_join(Path::new("/"), to);
        if let Ok(rest) = wanted.strip_prefix(&dest) {
            let depth = dest.components().count();
            if best.as_ref().is_none_or(|(d, _)| depth > *d) {
                let source = flux::secure_join(repo_root, from);
                best = Some((depth, source.join(rest)));
            }
        }
    }
    best.map(|(_, dir)| normalize(&dir)).ok_or_else(unknown)
}

/// Substitutes variables in every scalar below `node` (keys included), within the
/// byte limits of `crate::limits`.
pub(super) fn substitute_node(
    node: &mut Node,
    lookup: &dyn Fn(&str) -> Option<String>,
    undefined: flux::Undefined,
    produced: &mut usize,
    problems: &mut Vec<String>,
) {
    use crate::limits::{MAX_SUBSTITUTED_ROOT, MAX_SUBSTITUTED_VALUE};
    match &mut node.kind {
        NodeKind::Scalar { value: text, .. } => {
            if !text.contains("${") {
                return;
            }
            let limit = MAX_SUBSTITUTED_VALUE.min(MAX_SUBSTITUTED_ROOT.saturating_sub(*produced));
            match flux::envsubst(text, lookup, undefined, limit) {
                Ok(std::borrow::Cow::Owned(value)) => {
                    *produced += value.len();
                    *text = value.into();
                }
                Ok(std::borrow::Cow::Borrowed(_)) => {}
                Err(flux::SubstError::Unsupported(expression)) => problems.push(format!(
                    "variable expression {expression} is not evaluated by xks-lint; the value is analysed as written"
                )),
                Err(flux::SubstError::TooLarge) => problems.push(format!(
                    "substitution stopped: a value would exceed {MAX_SUBSTITUTED_VALUE} bytes or the root {MAX_SUBSTITUTED_ROOT} bytes (a limit of xks-lint); such values are analysed as written"
                )),
            }
        }
        NodeKind::Seq(items, _) => {
            for item in items {
                substitute_node(item, lookup, undefined, produced, problems);
            }
        }
        NodeKind::Map(entries, _) => {
            for (key, value) in entries {
                substitute_node(key, lookup, undefined, produced, problems);
                substitute_node(value, lookup, undefined, produced, problems);
            }
        }
    }
}
