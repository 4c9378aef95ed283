//! Trees moved into the one build that reads them.
//!
//! A resource's objects start as a clone of the loaded document's tree: a reference count
//! per collection at its top (collections are copy-on-write, `load::yaml::Shared`). The
//! first edit of a transformer (the namespace of every object) then copies each mapping on
//! its path, because the loaded original still holds it. When one build is the only reader
//! of a document (one kustomization lists its file once, and that kustomization is built
//! once), the build takes the tree itself and edits it in place: the same objects, and no
//! second copy of their top mappings while the stage runs.
//!
//! Which documents qualify is decided from the kustomization files before any root is
//! built, conservatively (a document it cannot prove single-use stays shared):
//! - its file is named by exactly one entry that may add objects (`resources`,
//!   `components`, plugin configuration paths) of exactly one kustomization, and by no
//!   other field of any kustomization (patches, configurations, CRDs, replacements,
//!   generator data, refused entries: those read the document too);
//! - that kustomization is applied exactly once in the run: it is the directory of
//!   exactly one root build and nothing includes it, or no build starts at it and exactly
//!   one entry of another kustomization, itself applied once, includes it;
//! - the document is an object (apiVersion and kind), not a list, not in a kustomization
//!   file, and not a ConfigMap or Secret that a Flux `substituteFrom` may read.

use crate::hashing::{FastMap, FastSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rayon::prelude::*;

use super::{Plan, resolve, spec};
use crate::load::yaml::Node;
use crate::load::{Loaded, is_kustomization_file};
use crate::span::{FileId, Span};

/// A document's tree until its build takes it.
type Slot = Mutex<Option<Node>>;

/// The trees single-use documents hand to their build, by their position in
/// `Loaded::documents`, and where each (file, document index) is. Dense arrays rather
/// than a map keyed by (file, index): at 100,000 workloads the map took 400,000 inserts,
/// each a fresh page's fault on the main thread.
#[derive(Default)]
pub struct Moved {
    /// Per document position: `None` for a document that stays shared, else its slot,
    /// which holds the tree until the build takes it.
    slots: Vec<Option<Slot>>,
    /// Per file (by `FileId::index`): one past the position of its first document.
    first: Vec<u32>,
    /// Per document position: one past the position of its file's next document.
    next: Vec<u32>,
    /// Per document position: its index in its file.
    index_in_file: Vec<u32>,
    /// Some kustomization reads objects' identities as read (replicas, replacements,
    /// generators merging into resources, plugin configurations): a taken object keeps
    /// its own, since the loaded document no longer has it.
    pub(super) identities: bool,
}

impl Moved {
    /// Moves the trees of the single-use documents of `loaded` out of it.
    pub(super) fn select(plan: &Plan, loaded: &mut Loaded) -> Moved {
        let single = single_applications(plan);
        // Per file: the entries that add its objects (and whether all are in a
        // kustomization applied once), and whether any other field names it.
        // Each kustomization's paths are resolved on every core (a join, a normalization
        // and a lookup per entry); the counts are summed in order afterwards.
        let file_at = |dir: &Path, path: &str| plan.files_by_path.get(&resolve(dir, path));
        let per_kustomization: Vec<(Vec<FileId>, bool, Vec<FileId>)> = {
            let kustomizations: Vec<_> = plan.kustomizations.iter().collect();
            kustomizations
                .par_iter()
                .map(|(dir, (_, spec))| {
                    let mut adding = Vec::new();
                    let mut added: FastMap<FileId, usize> = FastMap::default();
                    for entry in spec.inclusions() {
                        if let Some(file) = file_at(dir, &entry.value) {
                            adding.push(*file);
                            if !spec::is_remote(&entry.value) {
                                *added.entry(*file).or_default() += 1;
                            }
                        }
                    }
                    // Every other path the kustomization names: what `referenced_paths`
                    // lists beyond the adding entries, and generator data.
                    let mut named: FastMap<FileId, usize> = FastMap::default();
                    for path in spec.referenced_paths().chain(spec.data_paths()) {
                        if let Some(file) = file_at(dir, path) {
                            *named.entry(*file).or_default() += 1;
                        }
                    }
                    let other_reads = named
                        .into_iter()
                        .filter(|(file, count)| *count > added.get(file).copied().unwrap_or(0))
                        .map(|(file, _)| file)
                        .collect();
                    (adding, single.contains(*dir), other_reads)
                })
                .collect()
        };
        let mut additions: FastMap<FileId, (usize, bool)> =
            FastMap::with_capacity_and_hasher(plan.files_by_path.len(), Default::default());
        let mut other_reads: FastSet<FileId> = FastSet::default();
        for (adding, applied_once, reads) in per_kustomization {
            for file in adding {
                let counted = additions.entry(file).or_insert((0, true));
                counted.0 = counted.0.saturating_add(1);
                counted.1 &= applied_once;
            }
            other_reads.extend(reads);
        }
        let substitutes = plan.jobs.iter().any(|job| {
            job.flux.iter().any(|deploy| {
                deploy
                    .post_build
                    .as_ref()
                    .is_some_and(|p| !p.from.is_empty())
            })
        });
        let identities = plan.kustomizations.values().any(|(_, spec)| {
            !spec.replicas.is_empty()
                || !spec.replacements.is_empty()
                || !spec.generators.is_empty()
                || !spec.generator_plugins.is_empty()
                || !spec.transformer_plugins.is_empty()
        });
        // Decided on every core (each reads a tree's kind), then moved in order.
        let movable: Vec<bool> = {
            let sources = &loaded.sources;
            loaded
                .documents
                .par_iter()
                .map(|document| {
                    if additions.get(&document.file) != Some(&(1, true))
                        || other_reads.contains(&document.file)
                    {
                        return false;
                    }
                    // What the loader noted of the kind: the tree is not read for it.
                    let written = document.written;
                    let movable = written.is_object()
                        && !(substitutes && written.is_substitution_source())
                        && !(written.is_list() && document.root.get("items").is_some());
                    movable
                        && sources
                            .get(document.file)
                            .is_some_and(|source| !is_kustomization_file(&source.path))
                })
                .collect()
        };
        if !movable.iter().any(|m| *m) {
            return Moved {
                identities,
                ..Moved::default()
            };
        }
        // Positions past `u32` (four billion documents) are beyond every budget; such a
        // document is simply not moved.
        let position_of = |position: usize| u32::try_from(position).ok()?.checked_add(1);
        let slots: Vec<Option<Slot>> = loaded
            .documents
            .par_iter_mut()
            .zip(movable)
            .enumerate()
            .map(|(position, (document, movable))| {
                (movable && position_of(position).is_some()).then(|| {
                    Mutex::new(Some(std::mem::replace(
                        &mut document.root,
                        Node::synthetic_str("", Span::default(), None),
                    )))
                })
            })
            .collect();
        // Each file's documents chained from its first, built back to front.
        let files = loaded.sources.files.len();
        let mut first = vec![0u32; files];
        let mut next = vec![0u32; loaded.documents.len()];
        let mut index_in_file = vec![u32::MAX; loaded.documents.len()];
        for (position, document) in loaded.documents.iter().enumerate().rev() {
            let (Some(link), Some(head)) =
                (position_of(position), first.get_mut(document.file.index()))
            else {
                continue;
            };
            next[position] = *head;
            *head = link;
            index_in_file[position] = u32::try_from(document.index).unwrap_or(u32::MAX);
        }
        Moved {
            slots,
            first,
            next,
            index_in_file,
            identities,
        }
    }

    /// The tree of document `index` of `file`, when it was moved here and not taken yet.
    pub(super) fn take(&self, file: FileId, index: usize) -> Option<Node> {
        let mut link = *self.first.get(file.index())?;
        while let Some(position) = (link as usize).checked_sub(1) {
            if self.index_in_file.get(position).map(|&i| i as usize) == Some(index) {
                let slot = self.slots.get(position)?.as_ref()?;
                return slot.lock().unwrap_or_else(PoisonError::into_inner).take();
            }
            link = *self.next.get(position)?;
        }
        None
    }

    /// After the build: trees no build took go back to their documents; the documents
    /// whose tree was taken leave `loaded` (their files are consumed).
    pub(super) fn settle(self, loaded: &mut Loaded) {
        if self.slots.is_empty() {
            return;
        }
        let mut taken = vec![false; loaded.documents.len()];
        for (position, slot) in self.slots.into_iter().enumerate() {
            let Some(slot) = slot else {
                continue;
            };
            let node = slot.into_inner().unwrap_or_else(PoisonError::into_inner);
            match (node, loaded.documents.get_mut(position)) {
                (Some(node), Some(document)) => document.root = node,
                (None, _) => {
                    if let Some(flag) = taken.get_mut(position) {
                        *flag = true;
                    }
                }
                (Some(_), None) => {}
            }
        }
        let mut position = 0;
        loaded.documents.retain(|_| {
            let keep = !taken.get(position).copied().unwrap_or(false);
            position += 1;
            keep
        });
    }
}

/// Kustomization directories applied exactly once in the run (see the module text).
fn single_applications(plan: &Plan) -> FastSet<PathBuf> {
    let mut starts: FastMap<&Path, usize> = FastMap::default();
    for job in &plan.jobs {
        *starts.entry(job.dir.as_path()).or_default() += 1;
    }
    // Inclusions as the plan resolved them.
    let mut includers: FastMap<&Path, Vec<&Path>> = FastMap::default();
    for (dir, targets) in &plan.inclusions {
        for target in targets {
            includers
                .entry(target.as_path())
                .or_default()
                .push(dir.as_path());
        }
    }
    // Each directory's answer follows its one chain of includers up to a root; answers
    // are remembered for every directory on the chain, so the whole pass is linear.
    let mut answers: FastMap<&Path, bool> = FastMap::default();
    for dir in plan.kustomizations.keys() {
        let mut chain: Vec<&Path> = Vec::new();
        let mut on_chain: FastSet<&Path> = FastSet::default();
        let mut current = dir.as_path();
        let answer = loop {
            if let Some(known) = answers.get(current) {
                break *known;
            }
            if !on_chain.insert(current) {
                break false; // a cycle: never built to the end
            }
            chain.push(current);
            let starts_here = starts.get(current).copied().unwrap_or(0);
            let included_by = includers.get(current).map_or(&[][..], Vec::as_slice);
            match (starts_here, included_by) {
                (1, []) => break true,
                (0, [only]) => current = only,
                _ => break false,
            }
        };
        for link in chain {
            answers.insert(link, answer);
        }
    }
    answers
        .into_iter()
        .filter(|(_, once)| *once)
        .map(|(dir, _)| dir.to_path_buf())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{KustomizeOutput, build, build_moving};
    use crate::load::{Input, Loaded, WalkOptions, load};

    fn load_twice(files: &[(&str, &str)]) -> (tempfile::TempDir, Loaded, Loaded) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let inputs = [Input::Path(dir.path().to_path_buf())];
        let first = load(&inputs, &WalkOptions::default());
        let second = load(&inputs, &WalkOptions::default());
        (dir, first, second)
    }

    /// Everything a build hands on, as text (trees with their spans and origins).
    fn summary(output: &KustomizeOutput) -> String {
        let mut consumed: Vec<_> = output.consumed.iter().map(|f| f.index()).collect();
        consumed.sort();
        format!("{:?}\n{:?}\n{consumed:?}", output.views, output.issues)
    }

    /// Builds `files` both ways: the same output; returns how many loaded documents the
    /// moving build took, after checking that every other document is left as loaded.
    fn moved_count(files: &[(&str, &str)]) -> usize {
        let (_dir, shared, mut moving) = load_twice(files);
        let expected = build(&shared);
        let output = build_moving(&mut moving);
        assert_eq!(summary(&output), summary(&expected));
        let mut left = moving.documents.iter().peekable();
        let mut taken = 0;
        for original in &shared.documents {
            match left.peek() {
                Some(document)
                    if document.file == original.file && document.index == original.index =>
                {
                    assert_eq!(
                        format!("{:?}", document.root),
                        format!("{:?}", original.root)
                    );
                    left.next();
                }
                _ => {
                    assert!(output.consumed.contains(&original.file));
                    taken += 1;
                }
            }
        }
        assert!(left.next().is_none());
        taken
    }

    const DEPLOY: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  labels:\n    app: web\nspec:\n  replicas: 1\n  template:\n    metadata:\n      labels:\n        app: web\n";
    const SERVICE: &str =
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n";

    #[test]
    fn a_file_one_build_reads_moves_and_builds_the_same() {
        let files = [
            (
                "base/kustomization.yaml",
                "namespace: team\nresources:\n  - deploy.yaml\n  - svc.yaml\n",
            ),
            ("base/deploy.yaml", DEPLOY),
            ("base/svc.yaml", SERVICE),
            (
                "prod/kustomization.yaml",
                "namePrefix: prod-\ncommonLabels:\n  env: prod\nresources:\n  - ../base\nreplicas:\n  - name: web\n    count: 3\nreplacements:\n  - source:\n      kind: Deployment\n      name: web\n      fieldPath: metadata.name\n    targets:\n      - select:\n          kind: Service\n          name: web\n        fieldPaths:\n          - metadata.annotations.deployment\n        options:\n          create: true\n",
            ),
        ];
        assert_eq!(moved_count(&files), 2);
    }

    #[test]
    fn a_base_two_overlays_include_stays_shared() {
        let files = [
            ("base/kustomization.yaml", "resources:\n  - deploy.yaml\n"),
            ("base/deploy.yaml", DEPLOY),
            (
                "a/kustomization.yaml",
                "namespace: a\nresources:\n  - ../base\n",
            ),
            (
                "b/kustomization.yaml",
                "namespace: b\nresources:\n  - ../base\n",
            ),
        ];
        assert_eq!(moved_count(&files), 0);
    }

    #[test]
    fn a_file_read_twice_or_as_a_patch_stays_shared() {
        let files = [
            (
                "app/kustomization.yaml",
                "namespace: app\nresources:\n  - deploy.yaml\n  - svc.yaml\n  - svc.yaml\npatches:\n  - path: deploy.yaml\n",
            ),
            ("app/deploy.yaml", DEPLOY),
            ("app/svc.yaml", SERVICE),
            ("app/extra.yaml", SERVICE),
        ];
        // deploy.yaml is a patch too, svc.yaml is listed twice, extra.yaml is plain.
        assert_eq!(moved_count(&files), 0);
    }

    #[test]
    fn a_component_applied_once_takes_its_files() {
        let files = [
            (
                "app/kustomization.yaml",
                "namespace: app\nresources:\n  - deploy.yaml\ncomponents:\n  - ../feature\n",
            ),
            ("app/deploy.yaml", DEPLOY),
            (
                "feature/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - svc.yaml\n",
            ),
            ("feature/svc.yaml", SERVICE),
        ];
        assert_eq!(moved_count(&files), 2);
    }

    /// Several documents in one file, one of them staying shared (a list), across two
    /// files: each taken tree is found by its file and index in that file.
    #[test]
    fn documents_of_a_multi_document_file_are_found_by_index() {
        let list = "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: listed\n";
        let first = format!("{DEPLOY}---\n{list}---\n{SERVICE}");
        let second = format!("{SERVICE}---\n{DEPLOY}");
        let second = second.replace("name: web", "name: api");
        let files = [
            (
                "app/kustomization.yaml",
                "namespace: app\nresources:\n  - first.yaml\n  - second.yaml\n",
            ),
            ("app/first.yaml", first.as_str()),
            ("app/second.yaml", second.as_str()),
        ];
        assert_eq!(moved_count(&files), 4);
    }
}
