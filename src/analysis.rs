//! One run of the pipeline: load → model → certificates and graph → rules (per
//! environment when roots form several) → gate. [`analyze`] wires the stages and returns
//! the [`Analysis`] every reporter and command reads; it sits above the stages and below
//! the reporters and commands.

use std::time::{Duration, Instant};

use crate::diagnostic::{Diagnostic, Severity};
use crate::load::{self, Input, Sources, WalkOptions};
use crate::model::{self, Model, ModelOptions};
use crate::rules::{self, RuleSelection};
use crate::{certs, fix, gate, graph, span};

#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub inputs: Vec<Input>,
    pub walk: WalkOptions,
    pub model: ModelOptions,
    pub rules: RuleSelection,
    pub certs: certs::CertSettings,
    pub gate: gate::GateOptions,
    /// Semantics and XKS settings of the reachability graph (`graph::XksSettings::from_config`).
    pub graph: graph::GraphOptions,
    /// `environments:` of `.xks-lint.yaml`: how kustomization roots group into clusters.
    pub environments: Option<model::environments::EnvironmentConfig>,
    /// Stop after loading (parse-only measurement): no model, graph or rules beyond
    /// the input ones.
    pub load_only: bool,
}

/// Wall time of each pipeline stage, for `--timings` and the benchmarks' story.
#[derive(Debug, Clone, Default)]
pub struct Timings {
    /// Stage, wall time, the process's peak resident memory when it ended (KiB,
    /// where the platform tells: Linux `/proc/self/status`), and the CPU time (user +
    /// system, all threads) the stage spent: on a shared machine wall time swings with
    /// the load, CPU time much less.
    pub stages: Vec<(&'static str, Duration, Option<u64>, Option<Duration>)>,
    /// Wall time of each rule on its thread (summed over environments), in registry order:
    /// rules run in parallel, so these add up to more than the `rules` stage's wall time.
    pub rules: Vec<(&'static str, Duration)>,
}

impl Timings {
    fn add_rules(&mut self, times: Vec<(&'static str, Duration)>) {
        for (id, elapsed) in times {
            match self.rules.iter_mut().find(|(known, _)| *known == id) {
                Some((_, total)) => *total += elapsed,
                None => self.rules.push((id, elapsed)),
            }
        }
    }
}

/// When a stage started: its wall clock and the process's CPU time then.
pub struct StageClock {
    started: Instant,
    cpu: Option<Duration>,
}

impl StageClock {
    pub fn start() -> StageClock {
        StageClock {
            started: Instant::now(),
            cpu: process_cpu_time(),
        }
    }
}

impl Timings {
    fn time<T>(&mut self, stage: &'static str, run: impl FnOnce() -> T) -> T {
        let clock = StageClock::start();
        let value = run();
        self.record(stage, clock);
        value
    }

    /// Records a stage that ran since `clock` started (the CLI's report writing, which
    /// runs after the analysis), and returns its wall time.
    pub fn record(&mut self, stage: &'static str, clock: StageClock) -> Duration {
        let cpu = match (clock.cpu, process_cpu_time()) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before)),
            _ => None,
        };
        let elapsed = clock.started.elapsed();
        self.stages.push((stage, elapsed, peak_resident_kib(), cpu));
        elapsed
    }
}

/// User + system CPU time of the whole process so far (every thread), where the platform
/// tells: Linux `/proc/self/stat`, in clock ticks (100 per second on Linux).
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces: count fields after its closing paren.
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace().skip(11); // field 14 (utime) is the 12th after
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system).saturating_mul(10)))
}

fn peak_resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Everything a reporter needs: the sources to quote, the model's counts and the findings.
#[derive(Debug)]
pub struct Analysis {
    pub sources: Sources,
    pub model: Model,
    /// The certificates cert-manager would request (read by the certificate rules and `certs`).
    pub certs: certs::Inventory,
    /// Built once from the model for the rules. Nothing reads it afterwards (`connectivity`,
    /// `why` and `diff` build their own); it is held, not dropped, because freeing it costs
    /// ~27 ms at 100,000 workloads and returns no memory the gate and report reuse (peak
    /// RSS measured equal), while `check` keeps the analysis until the process exits.
    pub graph: graph::Graph,
    /// The environments analysed as separate clusters, when there are several.
    pub environments: Option<model::environments::Environments>,
    /// Sorted by path, line, column, rule, message.
    pub diagnostics: Vec<Diagnostic>,
    pub elapsed: Duration,
    pub timings: Timings,
    /// Root-relative paths, suppressed findings, baseline counts.
    pub gate: gate::GateOutcome,
    /// Manifest files the walk left out on purpose (hidden, ignored, excluded).
    pub left_out: Vec<load::LeftOut>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub files_found: usize,
    pub files_read: usize,
    pub files_skipped: usize,
    /// Of `files_found`: read only because a kustomization references them.
    pub files_referenced: usize,
    /// Manifest files left out by `.gitignore`/`.ignore` (listed with `--verbose`).
    pub files_ignored: usize,
    /// Manifest files in hidden files or directories, such as `.github` (listed with `--verbose`).
    pub files_hidden: usize,
    /// Manifest files left out by exclude globs (listed with `--verbose`).
    pub files_excluded: usize,
    pub documents: usize,
    pub documents_skipped: usize,
    pub objects: usize,
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
    /// Findings silenced by `xks-lint.io/ignore` or `# xks-lint: ignore[...]`.
    pub suppressed: usize,
    /// Findings left out because the `--baseline` file has them.
    pub baselined: usize,
    /// Entries of the `--baseline` file that no longer occur.
    pub baseline_stale: usize,
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
            files_referenced: load.files_referenced,
            files_ignored: load.files_ignored,
            files_hidden: load.files_hidden,
            files_excluded: load.files_excluded,
            documents: load.documents,
            documents_skipped: self.model.stats.documents_skipped,
            objects: self.model.stats.objects,
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            notes: count(Severity::Note),
            suppressed: self.gate.suppressed.len(),
            baselined: self.gate.baselined,
            baseline_stale: self.gate.baseline_stale,
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
    let mut timings = Timings::default();
    let loaded = timings.time("load", || load::load(&options.inputs, &options.walk));
    let sources = loaded.sources.clone();
    let left_out = loaded.left_out.clone();
    // Paths in CI reports are relative to the repository of the checked PATH, wherever
    // the linter runs from.
    let gate_options = gate::GateOptions {
        root: options.gate.root.clone().or(loaded.repo_root.clone()),
        ..options.gate.clone()
    };
    let model = timings.time("model", || {
        if options.load_only {
            // `check` never frees the trees (the process ends first); freeing them here,
            // node by node on one thread, charged the parse floor about 0.3 s at 100,000
            // workloads for work `check` does not do. A parse-only run is a measurement.
            let mut loaded = loaded;
            std::mem::forget(std::mem::take(&mut loaded.documents));
            Model::from_load(loaded)
        } else {
            Model::build(loaded, &options.model)
        }
    });
    // Independent readers of the model: the certificate inventory (one core) fills the
    // gaps of the graph build's less parallel steps.
    let (certs, graph) = timings.time("certs+graph", || {
        rayon::join(
            || certs::Inventory::build(&model, &options.certs),
            || graph::Graph::build(&model, &options.graph),
        )
    });
    let environments = model.environments(options.environments.as_ref());
    let mut rule_times = Vec::new();
    // Each rule's findings stay apart until `merge_across_contexts` gathers them.
    let raw: Vec<Vec<Diagnostic>> = timings.time("rules", || match &environments {
        // Roots that render the same object differently are separate clusters.
        Some(environments) => {
            let mut raw = Vec::new();
            for (name, ids) in &environments.clusters {
                let environment = model.subset(ids);
                let (environment_certs, environment_graph) = rayon::join(
                    || certs::Inventory::build(&environment, &options.certs),
                    || graph::Graph::build(&environment, &options.graph),
                );
                let mut found: Vec<Vec<Diagnostic>> = rules::run_per_rule(
                    &environment,
                    &sources,
                    &environment_graph,
                    &environment_certs,
                    &options.rules,
                )
                .into_iter()
                .map(|(id, elapsed, found)| {
                    rule_times.push((id, elapsed));
                    found
                })
                .collect();
                attribute_contexts(&mut found, &environment);
                for diagnostic in found.iter_mut().flatten() {
                    diagnostic.environments = vec![name.clone()];
                    // Only the roots of this environment (and shared ones) are where it occurs.
                    diagnostic
                        .contexts
                        .retain(|root| environments.root_in(root, &diagnostic.environments));
                }
                raw.append(&mut found);
            }
            raw
        }
        None => {
            let mut found: Vec<Vec<Diagnostic>> =
                rules::run_per_rule(&model, &sources, &graph, &certs, &options.rules)
                    .into_iter()
                    .map(|(id, elapsed, found)| {
                        rule_times.push((id, elapsed));
                        found
                    })
                    .collect();
            attribute_contexts(&mut found, &model);
            found
        }
    });
    timings.add_rules(rule_times);
    let (diagnostics, gate) = timings.time("gate", || {
        let mut diagnostics = merge_across_contexts(raw, &model);
        fix::adapt(&mut diagnostics, &sources);
        gate::sort_diagnostics(&mut diagnostics, &sources);
        gate::apply(&model, &sources, diagnostics, &options.rules, &gate_options)
    });
    Analysis {
        sources,
        model,
        certs,
        graph,
        environments,
        diagnostics,
        elapsed: started.elapsed(),
        timings,
        gate,
        left_out,
    }
}

/// Sets each finding's `contexts`: the kustomization roots rendering the object it is
/// about, else (a finding about no particular object) every rendering of the node it
/// points at. Both passes run on every core (one over the objects, one over the findings,
/// hundreds of thousands of each in a large repository); the index is built in order.
fn attribute_contexts(diagnostics: &mut [Vec<Diagnostic>], model: &Model) {
    use crate::hashing::{FastMap, FastSet};
    use rayon::prelude::*;
    // Only the identities and files findings name are indexed (not every object). The
    // identities are hashed on every core and the serial steps handle the numbers (hashing
    // and copying hundreds of thousands of identities on one thread was most of this
    // function at 100,000 workloads); a hash names candidates, and `Object::has_identity`
    // decides, so a collision costs a comparison, not a wrong context.
    let state = ahash::RandomState::new();
    let hash = |identity: &str| state.hash_one(identity);
    let mut by_identity: FastMap<u64, Vec<&model::Object>> = FastMap::default();
    let mut by_file: FastMap<span::FileId, Vec<&model::Object>> = FastMap::default();
    let rendered = || model.objects.par_iter().filter(|o| !o.contexts.is_empty());
    let findings = || diagnostics.par_iter().flat_map(|chunk| chunk.par_iter());
    let named: FastSet<u64> = findings()
        .filter_map(|d| d.object.as_deref().map(hash))
        .collect();
    if !named.is_empty() {
        // One buffer per task for the objects' identities.
        let found: Vec<(u64, &model::Object)> = rendered()
            .map_init(String::new, |identity, object| {
                object.write_identity(identity);
                let key = hash(identity);
                named.contains(&key).then_some((key, object))
            })
            .flatten()
            .collect();
        by_identity.reserve(found.len());
        for (key, object) in found {
            by_identity.entry(key).or_default().push(object);
        }
    }
    // A finding falls back to the objects of its file only when it names none that renders:
    // most name theirs, so few files are indexed.
    let files: FastSet<span::FileId> = findings()
        .filter(|d| {
            d.object.as_deref().is_none_or(|identity| {
                objects_named(&by_identity, hash(identity), identity)
                    .next()
                    .is_none()
            })
        })
        .map(|d| d.location.file)
        .collect();
    if !files.is_empty() {
        let found: Vec<&model::Object> = rendered()
            .filter(|object| files.contains(&object.file))
            .collect();
        for object in found {
            by_file.entry(object.file).or_default().push(object);
        }
    }
    let (by_identity, by_file) = (&by_identity, &by_file);
    diagnostics
        .par_iter_mut()
        .flat_map(|chunk| chunk.par_iter_mut())
        .for_each(|diagnostic| {
            let location = diagnostic.location;
            let named: Vec<&model::Object> = diagnostic
                .object
                .as_deref()
                .map(|identity| objects_named(by_identity, hash(identity), identity).collect())
                .unwrap_or_default();
            diagnostic.contexts = if named.is_empty() {
                by_file
                    .get(&location.file)
                    .into_iter()
                    .flatten()
                    .filter(|o| {
                        o.node.span.start.byte <= location.span.start.byte
                            && location.span.end.byte <= o.node.span.end.byte
                    })
                    .flat_map(|o| o.contexts.iter().map(|c| c.to_string()))
                    .collect()
            } else {
                named
                    .iter()
                    .flat_map(|o| o.contexts.iter().map(|c| c.to_string()))
                    .collect()
            };
            // Collected without a size, one root took room for four, per finding.
            diagnostic.contexts.shrink_to_fit();
        });
}

/// The rendered objects a finding names (`identity`, hashed `key`), in model order.
fn objects_named<'a>(
    by_identity: &'a crate::hashing::FastMap<u64, Vec<&'a model::Object>>,
    key: u64,
    identity: &'a str,
) -> impl Iterator<Item = &'a model::Object> + 'a {
    by_identity
        .get(&key)
        .into_iter()
        .flatten()
        .copied()
        .filter(move |object| object.has_identity(identity))
}

/// A base file rendered by several kustomization roots (or analysed in several
/// environments) yields the same finding once per root: report it once, listing every
/// root and environment it occurs in.
fn merge_across_contexts(chunks: Vec<Vec<Diagnostic>>, model: &Model) -> Vec<Diagnostic> {
    use rayon::prelude::*;
    let total = chunks.iter().map(Vec::len).sum();
    let mut merged: Vec<Diagnostic> = Vec::with_capacity(total);
    // Chunk by chunk: each rule's list is freed once moved, so findings are not held twice.
    for chunk in chunks {
        merged.extend(chunk);
    }
    merge_repeats(&mut merged);
    // With a single root, naming it on every finding says nothing. (Two different roots
    // settle it: the scan stops at the first.)
    let several_roots = {
        let mut roots = model
            .objects
            .iter()
            .flat_map(|o| o.contexts.iter().map(|c| &**c));
        roots
            .next()
            .is_some_and(|first| roots.any(|root| root != first))
    };
    merged.par_iter_mut().for_each(|diagnostic| {
        diagnostic.contexts.sort();
        diagnostic.contexts.dedup();
        diagnostic.environments.sort();
        diagnostic.environments.dedup();
        if !several_roots {
            diagnostic.contexts.clear();
        }
    });
    merged
}

/// Merges each finding into the earliest equal one (same rule, location and message), which
/// keeps its place and takes the others' roots and environments, as merging in order does.
fn merge_repeats(merged: &mut Vec<Diagnostic>) {
    // A table filled on the main thread took ~100 ms for 130,000 findings at 100,000
    // workloads; grouped on every core instead (`hashing::earliest_equal`).
    let state = ahash::RandomState::new();
    let earliest = crate::hashing::earliest_equal(
        merged,
        |d| state.hash_one((d.rule, d.location, d.message.as_str())),
        |a, b| a.rule == b.rule && a.location == b.location && a.message == b.message,
    );
    for (repeat, &first) in earliest.iter().enumerate() {
        if repeat != first {
            let mut contexts = std::mem::take(&mut merged[repeat].contexts);
            let mut environments = std::mem::take(&mut merged[repeat].environments);
            merged[first].contexts.append(&mut contexts);
            merged[first].environments.append(&mut environments);
        }
    }
    // Only the earliest of each group stays (a pass that moves nothing when none repeat).
    let mut position = 0;
    merged.retain(|_| {
        let keep = earliest[position] == position;
        position += 1;
        keep
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Severity;
    use crate::span::{End, FileId, Location, Span, Start};

    /// `merge_repeats` against merging one by one in order (each finding joins the first
    /// kept one equal to it): repeats across and within lists, one location with several
    /// messages, equal messages on other rules, files and spans.
    #[test]
    fn repeats_merge_into_the_earliest_as_merging_in_order_does() {
        let finding = |rule: &'static str, file: usize, start: u32, message: &str, root: &str| {
            let mut d = Diagnostic::new(
                rule,
                Severity::Error,
                Location {
                    file: FileId::new(file),
                    span: Span {
                        start: Start { byte: start },
                        end: End { byte: start + 1 },
                    },
                },
                message,
            );
            d.contexts = vec![root.to_string()];
            d.environments = vec![format!("env-{root}")];
            d
        };
        let mut list = Vec::new();
        for (n, root) in ["a", "b", "c"].iter().enumerate() {
            list.push(finding("r1", 0, 5, "m", root));
            list.push(finding("r1", 0, 5, "other", root));
            list.push(finding("r2", 0, 5, "m", root));
            list.push(finding("r1", 1, 5, "m", root));
            list.push(finding("r1", 0, 6, "m", root));
            list.push(finding("r1", 0, 5, &format!("only in {root}"), root));
            if n == 1 {
                list.push(finding("r1", 0, 5, "m", "b-again"));
            }
        }
        let mut expected: Vec<Diagnostic> = Vec::new();
        for d in list.clone() {
            let equal = expected
                .iter_mut()
                .find(|e| e.rule == d.rule && e.location == d.location && e.message == d.message);
            match equal {
                Some(e) => {
                    e.contexts.extend(d.contexts);
                    e.environments.extend(d.environments);
                }
                None => expected.push(d),
            }
        }
        let mut merged = list;
        merge_repeats(&mut merged);
        let seen = |list: &[Diagnostic]| -> Vec<String> {
            list.iter()
                .map(|d| {
                    format!(
                        "{} {:?} {} {:?} {:?}",
                        d.rule, d.location, d.message, d.contexts, d.environments
                    )
                })
                .collect()
        };
        assert_eq!(seen(&merged), seen(&expected));
        assert_eq!(merged.len(), 8);
    }
}
