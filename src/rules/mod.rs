//! Rules stage: every rule reads the model (and later the graph) and emits
//! diagnostics. One rule per file, grouped by area; each rule's metadata comes
//! from its `rules/<id>.md`.

pub mod doc;

mod api;
mod certs;
mod ingress;
mod input;
mod linkerd;
mod meta;
mod metadata;
mod reach;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::certs::Inventory;
use crate::diagnostic::{Diagnostic, Severity};
use crate::graph::Graph;
use crate::load::Sources;
use crate::model::{Model, Object};
use crate::span::Location;
pub use doc::RuleDoc;
pub use meta::unused_suppression::UnusedSuppression;
pub use reach::blocked::{BlockedPair, blocked_pairs};

/// What a rule may read.
pub struct RuleContext<'a> {
    pub model: &'a Model,
    /// The texts the model was read from: fixes build their edits on them.
    pub sources: &'a Sources,
    pub certs: &'a Inventory,
    pub graph: &'a Graph,
}

pub trait Rule: Send + Sync {
    /// The rule id: also the name of its documentation file.
    fn id(&self) -> &'static str;
    /// The embedded markdown of `rules/<id>.md`.
    fn doc_source(&self) -> &'static str;
    /// Looks at the whole model. A rule that looks at each object on its own implements
    /// [`Rule::check_object`] and says [`Work::EachObject`] instead.
    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        for object in &ctx.model.objects {
            self.check_object(ctx, object, sink);
        }
    }
    /// Looks at one object, with nothing carried over from the objects before it (see
    /// [`Work::EachObject`]).
    fn check_object(&self, _ctx: &RuleContext<'_>, _object: &Object, _sink: &mut Sink<'_>) {}
    /// What the rule's work grows with (see [`run_per_rule`]).
    fn work(&self) -> Work {
        Work::PerObject
    }
}

/// What a rule's work grows with, heaviest first. Rules run side by side, each on one
/// core; [`run_per_rule`] starts the heavy ones first, so that none of them is left
/// running alone at the end of the stage while the other cores wait (longest job first
/// is within a third of the best schedule). Measured on `gen-corpus` repositories, where
/// one pairwise rule alone took a fifth of the stage; results do not depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Work {
    /// Every cross-namespace policy peer against the other side's policies.
    PolicyPairs,
    /// Each object on its own, in [`Rule::check_object`]: such rules run together, a
    /// block of objects at a time, rather than each over the whole model. The trees were
    /// built during the load and are long out of cache by the rules stage; the first rule
    /// to look at an object fetches it from memory and the others find it in cache
    /// (cachegrind counted the rules stage's last-level misses as the largest of any
    /// stage, half of them one rule's walk; see `benches/misses.sh`).
    EachObject,
    /// A verdict per Ingress or certificate name, with lookups across objects.
    EveryNode,
    /// A look at each object (the default).
    PerObject,
}

/// Declares a rule struct whose documentation is `rules/<id>.md`; the id is written once, here.
macro_rules! declare_rule {
    ($name:ident, $id:literal) => {
        pub struct $name;
        impl $name {
            pub const ID: &'static str = $id;
            pub const DOC: &'static str =
                include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/rules/", $id, ".md"));
        }
    };
}
pub(crate) use declare_rule;

macro_rules! rule_identity {
    () => {
        fn id(&self) -> &'static str {
            Self::ID
        }
        fn doc_source(&self) -> &'static str {
            Self::DOC
        }
    };
}
pub(crate) use rule_identity;

/// Collects a rule's findings, stamping them with the rule id and default severity.
pub struct Sink<'a> {
    doc: &'a RuleDoc,
    found: Vec<Diagnostic>,
}

impl Sink<'_> {
    pub fn report(&mut self, location: Location, message: impl Into<String>) -> &mut Diagnostic {
        self.found.push(Diagnostic::new(
            self.doc.id,
            self.doc.severity,
            location,
            message,
        ));
        let last = self.found.len() - 1;
        &mut self.found[last]
    }
}

pub struct RegisteredRule {
    pub doc: RuleDoc,
    pub rule: Box<dyn Rule>,
}

fn all_rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(input::parse_error::ParseError),
        Box::new(input::helm_template::HelmTemplate),
        Box::new(input::unreadable_file::UnreadableFile),
        Box::new(input::file_too_large::FileTooLarge),
        Box::new(input::symlink_outside_tree::SymlinkOutsideTree),
        Box::new(input::kustomize_error::KustomizeError),
        Box::new(input::kustomize_not_applied::KustomizeNotApplied),
        Box::new(metadata::annotation_not_string::AnnotationNotString),
        Box::new(api::removed_api_version::RemovedApiVersion),
        Box::new(api::invalid_policy::InvalidPolicy),
        Box::new(api::duplicate_object::DuplicateObject),
        Box::new(linkerd::annotation_on_workload::LinkerdAnnotationOnWorkload),
        Box::new(ingress::rate_limit_conflict::RateLimitConflict),
        Box::new(certs::per_ingress_certificate::PerIngressCertificate),
        Box::new(certs::letsencrypt_rate_limit::LetsEncryptRateLimit),
        Box::new(certs::tls_secret_conflict::TlsSecretConflict),
        Box::new(certs::tls_host_not_covered::TlsHostNotCovered),
        Box::new(certs::ingress_without_tls::IngressWithoutTls),
        Box::new(certs::certificate_too_many_names::CertificateTooManyNames),
        Box::new(certs::ingress_nginx_deprecated::IngressNginxDeprecated),
        Box::new(certs::route_parent_missing::RouteParentMissing),
        Box::new(meta::unused_suppression::UnusedSuppression),
        Box::new(reach::missing_ingress_pair::MissingIngressPair),
        Box::new(reach::missing_egress_pair::MissingEgressPair),
        Box::new(reach::ingress_backend_blocked::IngressBackendBlocked),
        Box::new(reach::ingress_backend_missing::IngressBackendMissing),
        Box::new(reach::service_selects_nothing::ServiceSelectsNothing),
        Box::new(reach::policy_selects_nothing::PolicySelectsNothing),
        Box::new(reach::peer_selects_nothing::PeerSelectsNothing),
        Box::new(reach::egress_to_metadata_endpoint::EgressToMetadataEndpoint),
    ]
}

/// Every rule, sorted by id.
pub fn registry() -> &'static [RegisteredRule] {
    static REGISTRY: OnceLock<Vec<RegisteredRule>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut rules: Vec<RegisteredRule> = all_rules()
            .into_iter()
            .map(|rule| RegisteredRule {
                doc: RuleDoc::parse(rule.id(), rule.doc_source()),
                rule,
            })
            .collect();
        rules.sort_by_key(|r| r.doc.id);
        rules
    })
}

pub fn find(id: &str) -> Option<&'static RegisteredRule> {
    registry().iter().find(|r| r.doc.id == id)
}

/// Which rules run and at what severity.
#[derive(Debug, Clone, Default)]
pub struct RuleSelection {
    /// Only these rules (all when `None`).
    pub select: Option<BTreeSet<String>>,
    pub ignore: BTreeSet<String>,
    pub severity: BTreeMap<String, Severity>,
}

impl RuleSelection {
    pub fn enabled(&self, id: &str) -> bool {
        self.select.as_ref().is_none_or(|s| s.contains(id)) && !self.ignore.contains(id)
    }

    /// Ids named in the selection that no rule has.
    pub fn unknown_ids(&self) -> Vec<String> {
        let named = self
            .select
            .iter()
            .flatten()
            .chain(&self.ignore)
            .chain(self.severity.keys());
        named
            .filter(|id| find(id).is_none())
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }
}

/// Runs every enabled rule over the model; the result is in no particular order.
pub fn run(
    model: &Model,
    sources: &Sources,
    graph: &Graph,
    certs: &Inventory,
    selection: &RuleSelection,
) -> Vec<Diagnostic> {
    run_per_rule(model, sources, graph, certs, selection)
        .into_iter()
        .flat_map(|(_, _, found)| found)
        .collect()
}

/// [`run`], each rule's findings apart (in registry order) with the wall time the rule took
/// on its thread (what `check --timings` lists per rule); a [`Work::EachObject`] rule gives
/// one entry per block of objects, in model order, whose times add up to the rule's. Kept
/// apart so that the caller gathers them into one list once, freeing each part as it goes,
/// instead of holding every finding twice.
pub fn run_per_rule(
    model: &Model,
    sources: &Sources,
    graph: &Graph,
    certs: &Inventory,
    selection: &RuleSelection,
) -> Vec<(&'static str, Duration, Vec<Diagnostic>)> {
    run_scheduled(model, sources, graph, certs, selection, OBJECTS_PER_TASK)
}

/// Objects per task of the [`Work::EachObject`] rules: few enough that their trees stay in
/// cache from the first of those rules to the last, enough that a task is not all
/// overhead.
const OBJECTS_PER_TASK: usize = 256;

/// A rule's findings from one job, with the time it took.
type Found = (Duration, Vec<Diagnostic>);

/// A unit of the rules stage: one rule over the whole model, or every
/// [`Work::EachObject`] rule over a block of objects.
#[derive(Debug)]
enum Job {
    Rule(usize),
    Objects(std::ops::Range<usize>),
}

/// [`run_per_rule`] with `objects_per_task` objects per block (tests cut small ones).
fn run_scheduled(
    model: &Model,
    sources: &Sources,
    graph: &Graph,
    certs: &Inventory,
    selection: &RuleSelection,
    objects_per_task: usize,
) -> Vec<(&'static str, Duration, Vec<Diagnostic>)> {
    let ctx = RuleContext {
        model,
        sources,
        graph,
        certs,
    };
    let enabled: Vec<&RegisteredRule> = registry()
        .iter()
        .filter(|r| selection.enabled(r.doc.id))
        .collect();
    // The rules that look at one object at a time, by their index in `enabled`.
    let each_object: Vec<usize> = (0..enabled.len())
        .filter(|&i| enabled[i].rule.work() == Work::EachObject)
        .collect();
    let mut jobs: Vec<Job> = (0..enabled.len())
        .filter(|i| !each_object.contains(i))
        .map(Job::Rule)
        .collect();
    if !each_object.is_empty() {
        let objects = model.objects.len();
        let step = objects_per_task.max(1);
        jobs.extend(
            (0..objects)
                .step_by(step)
                .map(|start| Job::Objects(start..objects.min(start.saturating_add(step)))),
        );
    }
    // Stable: blocks of objects stay in model order.
    jobs.sort_by_key(|job| match job {
        Job::Rule(i) => enabled[*i].rule.work(),
        Job::Objects(_) => Work::EachObject,
    });
    fn sink(registered: &RegisteredRule) -> Sink<'_> {
        Sink {
            doc: &registered.doc,
            found: Vec::new(),
        }
    }
    // One rule's findings (by its index in `enabled`), or each object rule's findings for
    // one block (by the block's first object; in the order of `each_object`), with the
    // time each took.
    enum Done {
        Rule(usize, Found),
        Objects(usize, Vec<Found>),
    }
    let run = |job: &Job| match job {
        Job::Rule(i) => {
            let started = Instant::now();
            let mut sink = sink(enabled[*i]);
            enabled[*i].rule.check(&ctx, &mut sink);
            Done::Rule(*i, (started.elapsed(), sink.found))
        }
        Job::Objects(range) => {
            let objects = model.objects.get(range.clone()).unwrap_or_default();
            // Rule after rule over the block: its trees stay in cache between them.
            Done::Objects(
                range.start,
                each_object
                    .iter()
                    .map(|&i| {
                        let started = Instant::now();
                        let mut sink = sink(enabled[i]);
                        for object in objects {
                            enabled[i].rule.check_object(&ctx, object, &mut sink);
                        }
                        (started.elapsed(), sink.found)
                    })
                    .collect(),
            )
        }
    };
    // Greedy list scheduling: each core takes the next job in order as it frees up, the
    // heaviest first. (A parallel iterator splits the list in halves and would start the
    // second half's heavy rules late.)
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(jobs.len()));
    rayon::scope(|scope| {
        for _ in 0..rayon::current_num_threads().min(jobs.len()) {
            scope.spawn(|_| {
                while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = run(job);
                    done.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(result);
                }
            });
        }
    });
    let done = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    // Back to registry order (the order of runs does not show): one part per rule, or per
    // block for a rule run block by block, in model order. The parts are not joined into
    // one list per rule: that would hold those findings twice while copying, and the
    // caller gathers every part into one list anyway.
    let mut per_rule: Vec<Vec<Found>> = (0..enabled.len()).map(|_| Vec::new()).collect();
    let mut blocks: Vec<(usize, Vec<Found>)> = Vec::new();
    for result in done {
        match result {
            Done::Rule(i, found) => {
                if let Some(parts) = per_rule.get_mut(i) {
                    parts.push(found);
                }
            }
            Done::Objects(start, found) => blocks.push((start, found)),
        }
    }
    blocks.sort_unstable_by_key(|(start, _)| *start);
    for (_, found) in blocks {
        for (&i, part) in each_object.iter().zip(found) {
            if let Some(parts) = per_rule.get_mut(i) {
                parts.push(part);
            }
        }
    }
    enabled
        .iter()
        .zip(per_rule)
        .flat_map(|(registered, parts)| {
            parts.into_iter().map(|(elapsed, mut found)| {
                if let Some(severity) = selection.severity.get(registered.doc.id) {
                    for diagnostic in &mut found {
                        diagnostic.severity = *severity;
                    }
                }
                (registered.doc.id, elapsed, found)
            })
        })
        .collect()
}

/// `text` as the characters of a Kubernetes object name: ASCII letters and digits
/// lowercased, everything else a dash (callers trim and cut as their names need).
pub fn name_characters(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{Input, WalkOptions};
    use crate::model::ModelOptions;

    /// The rules that look at one object at a time give the same findings, in the same
    /// order, however the objects are cut into blocks, and the same as each rule's own
    /// `check` over the whole model.
    #[test]
    fn blocks_of_objects_do_not_change_the_findings() {
        let rules = [
            "annotation-not-string",
            "invalid-policy",
            "linkerd-annotation-on-workload",
            "ingress-nginx-deprecated",
            "rate-limit-conflict",
            "ingress-without-tls",
        ];
        let inputs: Vec<Input> = rules
            .iter()
            .map(|id| Input::Path(std::path::Path::new("fixtures").join(id)))
            .collect();
        let loaded = crate::load::load(&inputs, &WalkOptions::default());
        let sources = loaded.sources.clone();
        let model = Model::build(loaded, &ModelOptions::default());
        let graph = Graph::build(&model, &Default::default());
        let certs = Inventory::build(&model, &Default::default());
        let selection = RuleSelection::default();
        let shown = |runs: Vec<(&'static str, Duration, Vec<Diagnostic>)>| -> Vec<String> {
            runs.into_iter()
                .flat_map(|(id, _, found)| {
                    found
                        .into_iter()
                        .map(move |d| format!("{id} {:?} {}", d.location, d.message))
                })
                .collect()
        };
        let whole = shown(run_scheduled(
            &model,
            &sources,
            &graph,
            &certs,
            &selection,
            usize::MAX,
        ));
        for id in rules {
            assert_eq!(
                find(id).map(|r| r.rule.work()),
                Some(Work::EachObject),
                "{id}"
            );
            assert!(
                whole.iter().any(|line| line.starts_with(&format!("{id} "))),
                "fixtures/{id}/ gives {id} nothing to find"
            );
        }
        for block in [1, 2, 3, 7, 256] {
            let blocks = shown(run_scheduled(
                &model, &sources, &graph, &certs, &selection, block,
            ));
            assert_eq!(blocks, whole, "blocks of {block}");
        }
        // Each rule's own `check` (the whole model, object after object).
        let ctx = RuleContext {
            model: &model,
            sources: &sources,
            graph: &graph,
            certs: &certs,
        };
        for id in rules {
            let registered = find(id).unwrap();
            let mut sink = Sink {
                doc: &registered.doc,
                found: Vec::new(),
            };
            registered.rule.check(&ctx, &mut sink);
            let own: Vec<String> = sink
                .found
                .into_iter()
                .map(|d| format!("{id} {:?} {}", d.location, d.message))
                .collect();
            let scheduled: Vec<String> = whole
                .iter()
                .filter(|line| line.starts_with(&format!("{id} ")))
                .cloned()
                .collect();
            assert_eq!(own, scheduled, "{id}");
        }
    }
}
