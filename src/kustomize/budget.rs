//! Bounds of kustomize builds (limits in `crate::limits`): how many kustomizations a
//! root visits, and how many objects and nodes it and the whole run render. A
//! hostile tree (a 25-level diamond renders 2^25 objects) stops at a limit with a
//! located error instead of exhausting memory or time.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::limits::{MAX_KUSTOMIZE_VISITS, MAX_ROOT_NODES, MAX_ROOT_OBJECTS, MAX_RUN_NODES};

/// What roots building at once may render together before they stop (the run's limit
/// plus two roots' worth, so that the in-order admission decides in every ordinary case).
const RUN_CEILING: usize = MAX_RUN_NODES + 2 * MAX_ROOT_NODES;

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
