//! xks-lint: static network-policy analysis and linting of Kubernetes manifests
//! under XKS (Xenit Kubernetes Service) semantics.
//!
//! Pipeline, each stage its own module, data flowing one way:
//! [`load`] (walk, parse with spans) → [`model`] (typed objects) → [`graph`]
//! (reachability) → [`rules`] → [`report`].

pub mod cli;
pub mod commands;
pub mod diagnostic;
pub mod graph;
pub mod load;
pub mod model;
pub mod report;
pub mod rules;
pub mod span;

use std::time::{Duration, Instant};

use diagnostic::{Diagnostic, Severity};
use load::{Input, Sources, WalkOptions};
use model::{Model, ModelOptions};
use rules::RuleSelection;

#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub inputs: Vec<Input>,
    pub walk: WalkOptions,
    pub model: ModelOptions,
    pub rules: RuleSelection,
    /// Semantics and XKS settings of the reachability graph.
    pub graph: graph::GraphOptions,
}

/// Everything a reporter needs: the sources to quote, the model's counts and the findings.
#[derive(Debug)]
pub struct Analysis {
    pub sources: Sources,
    pub model: Model,
    /// Built once from the model; rules and the `connectivity`/`why` commands read it.
    pub graph: graph::Graph,
    /// Sorted by path, line, column, rule, message.
    pub diagnostics: Vec<Diagnostic>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub files_found: usize,
    pub files_read: usize,
    pub files_skipped: usize,
    pub documents: usize,
    pub documents_skipped: usize,
    pub objects: usize,
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    pub elapsed_ms: u128,
}

impl Analysis {
    pub fn summary(&self) -> Summary {
        let count = |severity| {
            self.diagnostics
                .iter()
                .filter(|d| d.severity == severity)
                .count()
        };
        let load = self.model.load_stats;
        Summary {
            files_found: load.files_found,
            files_read: load.files_read,
            files_skipped: load.files_skipped,
            documents: load.documents,
            documents_skipped: self.model.stats.documents_skipped,
            objects: self.model.stats.objects,
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            notes: count(Severity::Note),
            elapsed_ms: self.elapsed.as_millis(),
        }
    }

    /// The most severe finding, if any.
    pub fn worst(&self) -> Option<Severity> {
        self.diagnostics.iter().map(|d| d.severity).max()
    }
}

/// Runs the whole pipeline. Never fails on bad input: it becomes findings.
pub fn analyze(options: &CheckOptions) -> Analysis {
    let started = Instant::now();
    let loaded = load::load(&options.inputs, &options.walk);
    let sources = loaded.sources.clone();
    let model = Model::build(loaded, &options.model);
    let graph = graph::Graph::build(&model, &options.graph);
    let mut diagnostics = rules::run(&model, &graph, &options.rules);
    sort_diagnostics(&mut diagnostics, &sources);
    Analysis {
        sources,
        model,
        graph,
        diagnostics,
        elapsed: started.elapsed(),
    }
}

pub fn sort_diagnostics(diagnostics: &mut [Diagnostic], sources: &Sources) {
    diagnostics.sort_by(|a, b| {
        let key = |d: &Diagnostic| {
            (
                sources.display(d.location.file).to_string(),
                d.location.span.start.line,
                d.location.span.start.col,
                d.rule,
            )
        };
        key(a)
            .cmp(&key(b))
            .then_with(|| a.message.cmp(&b.message))
            .then_with(|| a.location.span.end.cmp(&b.location.span.end))
    });
}
