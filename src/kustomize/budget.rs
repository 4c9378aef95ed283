//! Bounds of kustomize builds (limits in `crate::limits`): how many kustomizations a
//! root visits, and how many objects and nodes it and the whole run render. A
//! hostile tree (a 25-level diamond renders 2^25 objects) stops at a limit with a
//! located error instead of exhausting memory or time.

use crate::hashing::FastMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::limits::{
    MAX_KUSTOMIZE_VISITS, MAX_ROOT_NODES, MAX_ROOT_OBJECTS, MAX_RUN_NODES, MAX_RUN_YAML_NODES,
};
use crate::span::FileId;

/// What roots building at once may render together before they stop: what the in-order
/// admission can let through (the run's limit plus every parsed node, see [`admit`]) plus
/// two roots' worth, so that the admission decides in every ordinary case.
const RUN_CEILING: usize = MAX_RUN_NODES + MAX_RUN_YAML_NODES + 2 * MAX_ROOT_NODES;

/// A source document: its file and its index in the file.
pub type Source = (FileId, usize);

/// What one root rendered, as the run's limit counts it.
#[derive(Debug, Default)]
pub struct Rendered {
    /// Nodes the root rendered (its [`Budget::nodes`]).
    pub nodes: usize,
    /// Each source document it rendered objects from, once, with the document's nodes as
    /// parsed.
    pub sources: Vec<(Source, usize)>,
}

impl Rendered {
    /// The distinct sources of the rendered objects, in order; `parsed` gives a
    /// document's parsed size, asked once per document.
    pub fn of(
        nodes: usize,
        objects: impl IntoIterator<Item = Source>,
        parsed: impl Fn(Source) -> usize,
    ) -> Rendered {
        let objects = objects.into_iter();
        // Most objects are their own source document: sized for them once.
        let mut seen: crate::hashing::FastSet<Source> =
            crate::hashing::FastSet::with_capacity_and_hasher(
                objects.size_hint().0,
                Default::default(),
            );
        let sources = objects
            .filter(|source| seen.insert(*source))
            .map(|source| (source, parsed(source)))
            .collect();
        Rendered { nodes, sources }
    }
}

/// Nodes of a source document as parsed (0 when it is not a loaded document).
pub fn parsed_size(
    documents: &FastMap<FileId, Vec<&crate::load::LoadedDocument>>,
    (file, index): Source,
) -> usize {
    documents
        .get(&file)
        .and_then(|docs| {
            // Loaded in order of their index (a document that failed to parse is absent).
            let at = docs.binary_search_by_key(&index, |d| d.index).ok()?;
            docs.get(at)
        })
        .map_or(0, |d| d.nodes)
}

/// Which roots fit the run's node limit, decided in root order, so the same roots are cut on
/// every run. The first rendering of a document in the run shares its tree with the parsed
/// file (collections are copy-on-write), whose nodes the parse budget already bounds
/// (`MAX_RUN_YAML_NODES`): the root is credited the document's parsed size, once in the
/// run. Every later rendering of it (a base included by another root) and every node a
/// transformation adds is charged to `limit`. A root's nodes count each object as it was
/// added (untouched: its parsed size) plus what patches grew, so the credit matches what
/// was counted; a root whose patches shrink an object keeps the credit (the count is of
/// objects as added), which only lowers its charge by nodes that were parsed. So what all
/// admitted roots render is bounded by `limit` plus the parsed nodes, whatever the layout;
/// a cut root renders nothing, and the documents it would have rendered first stay free for
/// the next root.
pub fn admit(roots: &[Rendered], limit: usize) -> Vec<bool> {
    // Sized once for every source of every root: growing rehashed the set (hundreds of
    // thousands of sources at scale) at each doubling, on the one thread this runs on.
    let sources = roots.iter().map(|root| root.sources.len()).sum();
    let mut rendered_before: crate::hashing::FastSet<Source> =
        crate::hashing::FastSet::with_capacity_and_hasher(sources, Default::default());
    let mut charged = 0usize;
    roots
        .iter()
        .map(|root| {
            let free: usize = root
                .sources
                .iter()
                .filter(|(source, _)| !rendered_before.contains(source))
                .map(|&(_, parsed)| parsed)
                .fold(0usize, usize::saturating_add);
            let charge = root.nodes.saturating_sub(free);
            let fits = charged.saturating_add(charge) <= limit;
            if fits {
                charged = charged.saturating_add(charge);
                rendered_before.extend(root.sources.iter().map(|(source, _)| *source));
            }
            fits
        })
        .collect()
}

/// Nodes rendered by every root of a run, shared by the roots built in parallel.
#[derive(Debug, Clone, Default)]
pub struct Shared(Arc<AtomicUsize>);

/// What one root has spent so far.
#[derive(Debug, Default)]
pub struct Budget {
    run: Shared,
    visits: usize,
    objects: usize,
    nodes: usize,
    exhausted: bool,
}

impl Budget {
    pub fn new(run: &Shared) -> Budget {
        Budget {
            run: run.clone(),
            ..Budget::default()
        }
    }

    /// True once a limit was crossed: the root's build stops.
    pub fn exhausted(&self) -> bool {
        self.exhausted
    }

    /// Nodes this root rendered.
    pub fn nodes(&self) -> usize {
        self.nodes
    }

    /// Counts one visit of a kustomization directory. The message says which limit was
    /// crossed, the first time one is.
    pub fn visit(&mut self) -> Result<(), String> {
        self.visits += 1;
        if self.visits > MAX_KUSTOMIZE_VISITS {
            return self.stop(format!(
                "this root includes kustomizations more than {MAX_KUSTOMIZE_VISITS} times"
            ));
        }
        Ok(())
    }

    /// Counts one rendered object of `nodes` tree nodes.
    pub fn object(&mut self, nodes: usize) -> Result<(), String> {
        self.objects += 1;
        let run = self.add_nodes(nodes);
        if self.objects > MAX_ROOT_OBJECTS {
            return self.stop(format!(
                "this root renders more than {MAX_ROOT_OBJECTS} objects"
            ));
        }
        self.check_nodes(run)
    }

    /// Counts nodes a transformation added to objects already counted.
    pub fn grow(&mut self, nodes: usize) -> Result<(), String> {
        let run = self.add_nodes(nodes);
        self.check_nodes(run)
    }

    /// Adds `nodes` to this root's and the run's counts; returns the run's new count.
    fn add_nodes(&mut self, nodes: usize) -> usize {
        self.nodes = self.nodes.saturating_add(nodes);
        self.run
            .0
            .fetch_add(nodes, Ordering::Relaxed)
            .saturating_add(nodes)
    }

    fn check_nodes(&mut self, run: usize) -> Result<(), String> {
        if self.nodes > MAX_ROOT_NODES {
            return self.stop(format!(
                "this root renders more than {MAX_ROOT_NODES} YAML nodes"
            ));
        }
        // The run's limit is applied in root order after the parallel build (`admit`), so
        // which roots are cut does not depend on thread timing; this ceiling above it only
        // bounds memory while roots build concurrently.
        if run > RUN_CEILING {
            return self.stop(format!(
                "the kustomization roots of this run render more than {MAX_RUN_NODES} YAML nodes"
            ));
        }
        Ok(())
    }

    fn stop(&mut self, reason: String) -> Result<(), String> {
        if self.exhausted {
            // Reported once, where it first happened.
            return Ok(());
        }
        self.exhausted = true;
        Err(format!(
            "kustomize build stopped: {reason} (a limit of xks-lint); the rest of this root is not analysed"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(nodes: usize, sources: &[(u32, usize)]) -> Rendered {
        Rendered {
            nodes,
            sources: sources
                .iter()
                .map(|&(file, parsed)| ((FileId::new(file as usize), 0), parsed))
                .collect(),
        }
    }

    #[test]
    fn a_first_rendering_is_credited_its_parsed_size() {
        // Three roots render three distinct documents of 40 nodes each: nothing is charged.
        let roots = [
            root(40, &[(1, 40)]),
            root(40, &[(2, 40)]),
            root(40, &[(3, 40)]),
        ];
        assert_eq!(admit(&roots, 10), vec![true, true, true]);
    }

    #[test]
    fn later_renderings_and_growth_are_charged_in_root_order() {
        // A base of 40 nodes included by three roots, each adding 5 nodes of its own.
        let roots = [
            root(45, &[(1, 40)]),
            root(45, &[(1, 40)]),
            root(45, &[(1, 40)]),
        ];
        // Charged: 5, then 45, then 45.
        assert_eq!(admit(&roots, 50), vec![true, true, false]);
        assert_eq!(admit(&roots, 95), vec![true, true, true]);
        assert_eq!(admit(&roots, 4), vec![false, false, false]);
    }

    #[test]
    fn a_cut_root_leaves_its_documents_free_for_the_next() {
        let roots = [
            root(100, &[(1, 30)]), // 70 nodes of growth: over the limit
            root(30, &[(1, 30)]),  // the document's first rendering after all
        ];
        assert_eq!(admit(&roots, 50), vec![false, true]);
    }

    #[test]
    fn a_root_credit_beyond_its_nodes_is_not_carried_to_the_next() {
        // The first root renders less than its document parsed (a list's items without the
        // list, or objects a patch shrank): its charge is nothing, not a negative one.
        let roots = [root(10, &[(1, 40)]), root(50, &[(2, 40)])];
        assert_eq!(admit(&roots, 5), vec![true, false]);
        assert_eq!(admit(&roots, 10), vec![true, true]);
    }

    #[test]
    fn each_source_document_is_listed_once_in_order() {
        let rendered = Rendered::of(
            9,
            [
                (FileId::new(1), 0),
                (FileId::new(2), 1),
                (FileId::new(1), 0),
            ],
            |(file, _)| file.index() * 100,
        );
        assert_eq!(
            rendered.sources,
            vec![((FileId::new(1), 0), 100), ((FileId::new(2), 1), 200)]
        );
    }
}
