//! Environments: kustomization roots that cannot be one cluster, analysed apart.
//!
//! Two roots that render the same object (kind, namespace, name) differently cannot
//! be deployed to one cluster. The roots are then grouped into environments, the first
//! of these that applies deciding:
//!
//! 1. **configuration**: `environments:` of `.xks-lint.yaml` names each environment's
//!    roots (globs relative to the config file's directory). It always applies, even
//!    when no two roots conflict.
//! 2. **Flux**: a Flux `Kustomization` in a file under `clusters/<env>/` puts the root
//!    its `spec.path` names into `<env>`. Used when this names two environments or more.
//! 3. **directory name**: the last directory of each conflicting root names an
//!    environment (`overlays/prod` and `apps/api/prod` are both `prod`); every root
//!    whose directory has one of those names belongs to it.
//!
//! A root belongs to every environment that claims it. A root no environment claims,
//! and every plain file outside kustomizations, is shared: part of every environment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobMatcher};

use super::{Model, Object, ObjectId};
use crate::kustomize::View;

/// A kustomization root, as the grouping sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// The name in `Object::contexts` (`overlays/prod`).
    pub display: String,
    /// Absolute, normalized directory.
    pub dir: PathBuf,
    /// Repository-relative files of the Flux `Kustomization`s whose `spec.path` it is.
    pub deployed_by: Vec<String>,
}

impl Root {
    pub fn of(view: &View) -> Root {
        Root {
            display: view.root.clone(),
            dir: view.dir.clone(),
            deployed_by: view.deployed_by.clone(),
        }
    }
}

/// The `environments:` section of `.xks-lint.yaml`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentConfig {
    /// Directory the patterns are relative to (the config file's), absolute.
    pub base: PathBuf,
    /// Environment name → patterns of its root directories, in the file's order.
    pub environments: Vec<(String, Vec<String>)>,
}

/// What decided the grouping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grouping {
    Config,
    Flux,
    DirectoryName,
}

#[derive(Debug, Clone)]
pub struct Environments {
    pub grouping: Grouping,
    /// Environment name → the objects of its cluster: those of its roots and every
    /// shared object. In the config's order, else by name.
    pub clusters: Vec<(String, Vec<ObjectId>)>,
    /// Root (as in `Object::contexts`) → the environments it belongs to. A root not
    /// listed is shared by every environment.
    pub roots: BTreeMap<String, BTreeSet<String>>,
    /// Configured patterns that match no root: (environment, pattern).
    pub unmatched: Vec<(String, String)>,
}

impl Environments {
    /// Whether a finding in one of `environments` may name the root `context`: the
    /// root is shared or belongs to one of them.
    pub fn root_in(&self, context: &str, environments: &[String]) -> bool {
        self.roots
            .get(context)
            .is_none_or(|own| environments.iter().any(|e| own.contains(e)))
    }
}

/// `./overlays/prod/` → `overlays/prod`; `.` and `` stay the config's directory.
fn normalize_pattern(pattern: &str) -> String {
    let mut text = pattern.trim();
    while let Some(rest) = text.strip_prefix("./") {
        text = rest;
    }
    let text = text.trim_end_matches('/');
    if text.is_empty() {
        ".".to_string()
    } else {
        text.to_string()
    }
}

/// A configured pattern as a matcher of `/`-separated relative paths (`*` stays in one
/// directory, `**` crosses them). The config reader has already rejected invalid globs.
pub fn pattern_matcher(pattern: &str) -> Result<GlobMatcher, String> {
    GlobBuilder::new(&normalize_pattern(pattern))
        .literal_separator(true)
        .build()
        .map(|glob| glob.compile_matcher())
        .map_err(|e| e.to_string())
}

/// `dir` relative to `base`, `/`-separated (`.` for `base` itself); `None` outside it.
fn relative(dir: &Path, base: &Path) -> Option<String> {
    let rest = dir.strip_prefix(base).ok()?;
    let parts: Vec<String> = rest
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    Some(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

/// The environment a Flux file names by its place: `…/clusters/<env>/…/file.yaml`.
pub fn cluster_of(file: &str) -> Option<&str> {
    // Asked of every file, on one thread: most paths have no such directory, found by one
    // substring search with a searcher built once (`str::contains` sets one up per call,
    // ~45 ms of 100,000 paths).
    static CLUSTERS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new("clusters"));
    CLUSTERS.find(file.as_bytes())?;
    let mut parts = file.split('/');
    parts.position(|p| p == "clusters")?;
    let env = parts.next()?;
    // `clusters/<env>/` must be a directory holding the file, not the file itself.
    parts.next().map(|_| env)
}

/// The last directory of a root: its environment when grouping by directory name.
fn directory_name(root: &str) -> &str {
    root.rsplit('/').next().unwrap_or(root)
}

impl Model {
    /// Roots that render some object (kind, namespace, name) differently from another root.
    fn conflicting_roots(&self) -> BTreeSet<&str> {
        let mut conflicting = BTreeSet::new();
        for same_name in self.objects_named_alike() {
            let rendered: Vec<&Object> = same_name
                .into_iter()
                .filter(|o| !o.contexts.is_empty())
                .collect();
            if rendered.len() > 1 {
                conflicting.extend(
                    rendered
                        .iter()
                        .flat_map(|o| o.contexts.iter())
                        .map(|c| &**c),
                );
            }
        }
        conflicting
    }

    /// The environments of this model (see the module documentation), or `None` when
    /// it is one cluster: no configuration and no conflicting roots.
    pub fn environments(&self, config: Option<&EnvironmentConfig>) -> Option<Environments> {
        if let Some(config) = config.filter(|c| !c.environments.is_empty()) {
            return Some(self.configured_environments(config));
        }
        let conflicting = self.conflicting_roots();
        if conflicting.is_empty() {
            return None;
        }
        let mut flux: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for root in &self.roots {
            for environment in root.deployed_by.iter().filter_map(|f| cluster_of(f)) {
                flux.entry(root.display.clone())
                    .or_default()
                    .insert(environment.to_string());
            }
        }
        let flux_names: BTreeSet<String> = flux.values().flatten().cloned().collect();
        if flux_names.len() >= 2 {
            return Some(self.group(Grouping::Flux, flux_names.into_iter().collect(), flux));
        }
        let names: BTreeSet<&str> = conflicting.iter().map(|r| directory_name(r)).collect();
        if names.len() < 2 {
            return None;
        }
        let contexts: BTreeSet<&str> = self
            .objects
            .iter()
            .flat_map(|o| o.contexts.iter().map(|c| &**c))
            .collect();
        let roots = contexts
            .into_iter()
            .filter(|root| names.contains(directory_name(root)))
            .map(|root| {
                let name = directory_name(root).to_string();
                (root.to_string(), BTreeSet::from([name]))
            })
            .collect();
        let names = names.into_iter().map(str::to_string).collect();
        Some(self.group(Grouping::DirectoryName, names, roots))
    }

    fn configured_environments(&self, config: &EnvironmentConfig) -> Environments {
        let mut roots: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut unmatched = Vec::new();
        let relative_dirs: Vec<(&str, Option<String>)> = self
            .roots
            .iter()
            .map(|r| (r.display.as_str(), relative(&r.dir, &config.base)))
            .collect();
        for (name, patterns) in &config.environments {
            for pattern in patterns {
                let Ok(matcher) = pattern_matcher(pattern) else {
                    unmatched.push((name.clone(), pattern.clone()));
                    continue;
                };
                let mut matched = false;
                for (display, dir) in &relative_dirs {
                    if dir.as_deref().is_some_and(|d| matcher.is_match(d)) {
                        matched = true;
                        roots
                            .entry(display.to_string())
                            .or_default()
                            .insert(name.clone());
                    }
                }
                if !matched {
                    unmatched.push((name.clone(), pattern.clone()));
                }
            }
        }
        let names = config.environments.iter().map(|(n, _)| n.clone()).collect();
        let mut environments = self.group(Grouping::Config, names, roots);
        environments.unmatched = unmatched;
        environments
    }

    fn group(
        &self,
        grouping: Grouping,
        names: Vec<String>,
        roots: BTreeMap<String, BTreeSet<String>>,
    ) -> Environments {
        let mut clusters: Vec<(String, Vec<ObjectId>)> =
            names.into_iter().map(|name| (name, Vec::new())).collect();
        for object in &self.objects {
            // Rendered by a shared root (or a plain file): in every environment.
            let shared = object.contexts.is_empty()
                || object.contexts.iter().any(|c| !roots.contains_key(&**c));
            let own: BTreeSet<&String> = object
                .contexts
                .iter()
                .filter_map(|c| roots.get(&**c))
                .flatten()
                .collect();
            for (name, ids) in clusters.iter_mut() {
                if shared || own.contains(name) {
                    ids.push(object.id);
                }
            }
        }
        Environments {
            grouping,
            clusters,
            roots,
            unmatched: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flux_files_name_their_cluster() {
        assert_eq!(cluster_of("clusters/prod/apps.yaml"), Some("prod"));
        assert_eq!(
            cluster_of("fleet/clusters/staging/tenants/apps.yaml"),
            Some("staging")
        );
        assert_eq!(cluster_of("clusters/apps.yaml"), None);
        assert_eq!(cluster_of("apps/prod/flux.yaml"), None);
        // The word inside another directory's name is no `clusters/` directory.
        assert_eq!(cluster_of("myclusters/prod/apps.yaml"), None);
        assert_eq!(cluster_of("a/clusters-old/prod/apps.yaml"), None);
    }

    #[test]
    fn patterns_match_relative_root_directories() {
        let matcher = |p: &str| pattern_matcher(p).unwrap();
        assert!(matcher("./overlays/prod/").is_match("overlays/prod"));
        assert!(matcher("apps/*/prod").is_match("apps/web/prod"));
        assert!(!matcher("apps/*/prod").is_match("apps/web/eu/prod"));
        assert!(matcher("apps/**/prod").is_match("apps/web/eu/prod"));
        assert!(matcher(".").is_match("."));
        assert_eq!(
            relative(Path::new("/r/overlays/prod"), Path::new("/r")),
            Some("overlays/prod".to_string())
        );
        assert_eq!(
            relative(Path::new("/r"), Path::new("/r")),
            Some(".".to_string())
        );
        assert_eq!(relative(Path::new("/elsewhere"), Path::new("/r")), None);
    }
}
