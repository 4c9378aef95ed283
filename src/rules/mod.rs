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
use crate::model::Model;
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
    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>);
    /// What the rule's work grows with: a scheduling hint only (see [`run_per_rule`]).
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
    /// Every node of every object, or a verdict per Ingress or certificate name.
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
/// on its thread (what `check --timings` lists per rule). Kept apart so that the caller
/// gathers them into one list once, freeing each rule's as it goes, instead of holding
/// every finding twice.
pub fn run_per_rule(
    model: &Model,
    sources: &Sources,
    graph: &Graph,
    certs: &Inventory,
    selection: &RuleSelection,
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
    let mut order: Vec<usize> = (0..enabled.len()).collect();
    order.sort_by_key(|&i| enabled[i].rule.work());
    let run = |registered: &RegisteredRule| {
        let started = Instant::now();
        let mut sink = Sink {
            doc: &registered.doc,
            found: Vec::new(),
        };
        registered.rule.check(&ctx, &mut sink);
        if let Some(severity) = selection.severity.get(registered.doc.id) {
            for diagnostic in &mut sink.found {
                diagnostic.severity = *severity;
            }
        }
        (registered.doc.id, started.elapsed(), sink.found)
    };
    // Greedy list scheduling: each core takes the next rule in `order` as it frees up.
    // (A parallel iterator splits the list in halves and would start the second half's
    // heavy rules late.)
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::with_capacity(enabled.len()));
    rayon::scope(|scope| {
        for _ in 0..rayon::current_num_threads().min(enabled.len()) {
            scope.spawn(|_| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = run(enabled[i]);
                    done.lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push((i, result));
                }
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(PoisonError::into_inner);
    // In registry order, as before: the order of runs does not show.
    done.sort_unstable_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, result)| result).collect()
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
