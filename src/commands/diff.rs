//! `xks-lint diff [REV] [PATH ...]`: the connections the change since REV opens and
//! closes, per environment, with the policy rules responsible. Both trees go through the
//! same pipeline (load, kustomize, model, `graph::Graph::build`, `Graph::connection_stream`); REV
//! is read from the git object database ([`super::revision`]).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::revision;
use super::shared::policy_name;
use super::shared::{load_config, usage_error, write_stdout};
use super::{GraphArgs, InputArgs};
use crate::graph::listing::ConnectionFilter;
use crate::graph::ports::ConnSet;
use crate::graph::{Connection, DirectionVerdict, End, EndKind, Graph, Subject};
use crate::load::{self, Input, Sources, WalkOptions};
use crate::model::{Model, ModelOptions};
use crate::report::diff::{self, Change, ChangeKind, DiffFormat, DiffReport, Responsible};
use crate::report::sanitize::Inline;
use crate::span::Location;

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// Revision to compare the working tree with (branch, tag, commit) [default: the
    /// merge-base of HEAD and the default branch]. A first argument that is no revision
    /// but an existing path is taken as a PATH.
    #[arg(value_name = "REV")]
    pub rev: Option<String>,
    /// Files or directories to compare (default `.`), as for `check`.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    #[arg(long, value_enum, default_value_t = DiffFormat::Txt)]
    pub format: DiffFormat,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Per environment (`None`: one cluster), the model and its graph.
type Clusters = Vec<(Option<String>, Model, Graph)>;

/// One tree, analysed: its sources and, per environment, the model and the graph.
struct Tree {
    sources: Sources,
    /// Paths are shown relative to this directory, prefixed with this text (`main:`).
    display: Option<(PathBuf, String)>,
    clusters: Clusters,
}

fn analyse(
    inputs: &[Input],
    walk: &WalkOptions,
    model_options: &ModelOptions,
    config: &crate::config::Config,
    args: &DiffArgs,
) -> Result<(Sources, Clusters), String> {
    let loaded = load::load(inputs, walk);
    let sources = loaded.sources.clone();
    let model = Model::build(loaded, model_options);
    let options = args.graph.options(&config.xks);
    let mut clusters = Vec::new();
    match model.environments(config.environment_config().as_ref()) {
        None => {
            let graph = Graph::build(&model, &options);
            clusters.push((None, model, graph));
        }
        Some(environments) => {
            for (name, ids) in &environments.clusters {
                if args.input.environment.as_ref().is_some_and(|e| e != name) {
                    continue;
                }
                let subset = model.subset(ids);
                let graph = Graph::build(&subset, &options);
                clusters.push((Some(name.clone()), subset, graph));
            }
        }
    }
    Ok((sources, clusters))
}

impl Tree {
    fn cite(&self, location: Option<Location>) -> Option<String> {
        let l = location?;
        let file = self.sources.get(l.file)?;
        let path = match &self.display {
            Some((root, prefix)) => {
                let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                format!(
                    "{prefix}{}",
                    crate::gate::paths::relative(root, &file.path, &cwd)
                )
            }
            None => file.display.clone(),
        };
        let start = file.start(l.span);
        Some(format!("{path}:{}:{}", start.line, start.col))
    }
}

/// The subject an end of a connection stands for: its pod class, or the first address of
/// an IP segment.
fn subjects(graph: &Graph) -> HashMap<&str, Subject> {
    let mut out = HashMap::new();
    for (c, class) in graph.classes.iter().enumerate() {
        for member in &class.members {
            out.insert(member.label.as_str(), Subject::Pods(c));
        }
    }
    out
}

fn subject(end: &End, classes: &HashMap<&str, Subject>) -> Option<Subject> {
    if let Some(subject) = classes.get(end.label.as_str()) {
        return Some(*subject);
    }
    let first = end
        .label
        .split(['/', '-', ','])
        .next()
        .unwrap_or(&end.label);
    first.trim().parse::<IpAddr>().ok().map(Subject::Address)
}

fn allowing(
    verdict: Option<&DirectionVerdict>,
    graph: &Graph,
    tree: &Tree,
    role: &'static str,
    out: &mut Vec<Responsible>,
) {
    for (rule, _) in verdict.map(|v| v.allowing.as_slice()).unwrap_or_default() {
        let r = &graph.rules[*rule];
        out.push(Responsible {
            role,
            what: format!("{} {}", policy_name(graph, r.policy), r.path()),
            at: tree.cite(r.location),
        });
    }
}

/// The policies isolating the side that now refuses (part of) `closed`.
fn isolating(
    verdict: Option<&DirectionVerdict>,
    closed: &ConnSet,
    graph: &Graph,
    tree: &Tree,
    out: &mut Vec<Responsible>,
) {
    let Some(verdict) = verdict.filter(|v| !closed.subtract(&v.conns).is_empty()) else {
        return;
    };
    for &policy in &verdict.isolating {
        out.push(Responsible {
            role: "isolated by",
            what: policy_name(graph, policy),
            at: tree.cite(graph.policies[policy].location),
        });
    }
}

/// One side's listing, one line per (source, destination) label pair: when a pair comes
/// twice in a row (one label in two classes), the later line stands, as it did when the
/// lines were gathered into a map keyed by the pair.
fn pairs(graph: Option<&Graph>) -> impl Iterator<Item = Connection> + '_ {
    let mut lines = graph
        .map(|g| g.connection_stream(ConnectionFilter::default()))
        .into_iter()
        .flatten()
        .peekable();
    std::iter::from_fn(move || {
        let mut line = lines.next()?;
        while let Some(next) =
            lines.next_if(|n| n.src.label == line.src.label && n.dst.label == line.dst.label)
        {
            line = next;
        }
        Some(line)
    })
}

fn pair_key(line: &Connection) -> (&str, &str) {
    (line.src.label.as_str(), line.dst.label.as_str())
}

/// The changes of one environment between the base (`old`) and the working tree (`new`).
fn compare(
    environment: Option<&str>,
    old: Option<(&Graph, &Tree)>,
    new: Option<(&Graph, &Tree)>,
    out: &mut Vec<Change>,
) {
    let old_subjects = old.map(|(g, _)| subjects(g)).unwrap_or_default();
    let new_subjects = new.map(|(g, _)| subjects(g)).unwrap_or_default();
    // Both listings are sorted by (source, destination) label: walked side by side, neither
    // is ever held (gathered into maps, they took 9.5 GB at 20,000 workloads).
    let mut old_lines = pairs(old.map(|(g, _)| g)).peekable();
    let mut new_lines = pairs(new.map(|(g, _)| g)).peekable();
    loop {
        let order = match (old_lines.peek(), new_lines.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(before), Some(after)) => pair_key(before).cmp(&pair_key(after)),
        };
        let (before, after) = match order {
            std::cmp::Ordering::Less => (old_lines.next(), None),
            std::cmp::Ordering::Greater => (None, new_lines.next()),
            std::cmp::Ordering::Equal => (old_lines.next(), new_lines.next()),
        };
        let Some(line) = after.as_ref().or(before.as_ref()) else {
            continue;
        };
        let (src, dst): (&End, &End) = (&line.src, &line.dst);
        let mut before_conns = before
            .as_ref()
            .map_or_else(ConnSet::none, |c| c.conns.clone());
        let mut after_conns = after
            .as_ref()
            .map_or_else(ConnSet::none, |c| c.conns.clone());
        // IP segments are regrouped when policies change (`10.0.0.10` inside
        // `0.0.0.0-255.255.255.255`): a segment is compared by what each side allows
        // towards (or from) its first address, not by its label.
        if src.kind == EndKind::Ip || dst.kind == EndKind::Ip {
            let allowed = |side: Option<(&Graph, &Tree)>, subjects: &HashMap<&str, Subject>| {
                side.and_then(|(graph, _)| {
                    Some(
                        graph
                            .explain(&subject(src, subjects)?, &subject(dst, subjects)?)
                            .allowed,
                    )
                })
            };
            if let Some(conns) = allowed(old, &old_subjects) {
                before_conns = conns;
            }
            if let Some(conns) = allowed(new, &new_subjects) {
                after_conns = conns;
            }
        }
        for (kind, conns) in [
            (ChangeKind::Opened, after_conns.subtract(&before_conns)),
            (ChangeKind::Closed, before_conns.subtract(&after_conns)),
        ] {
            if conns.is_empty() {
                continue;
            }
            let mut responsible = Vec::new();
            fn explain<'a>(
                side: Option<(&'a Graph, &'a Tree)>,
                subjects: &HashMap<&str, Subject>,
                src: &End,
                dst: &End,
            ) -> Option<(crate::graph::Explanation, &'a Graph, &'a Tree)> {
                let (graph, tree) = side?;
                let s = subject(src, subjects)?;
                let d = subject(dst, subjects)?;
                Some((graph.explain(&s, &d), graph, tree))
            }
            match kind {
                ChangeKind::Opened => {
                    if let Some((why, graph, tree)) = explain(new, &new_subjects, src, dst) {
                        for (verdict, direction, end) in [
                            (why.egress.as_ref(), "egress", src),
                            (why.ingress.as_ref(), "ingress", dst),
                        ] {
                            if verdict.is_some_and(|v| !v.isolated) {
                                responsible.push(Responsible {
                                    role: "open:",
                                    what: format!(
                                        "no NetworkPolicy isolates the {direction} of {}",
                                        end.label
                                    ),
                                    at: None,
                                });
                            }
                        }
                        allowing(
                            why.egress.as_ref(),
                            graph,
                            tree,
                            "allowed by",
                            &mut responsible,
                        );
                        allowing(
                            why.ingress.as_ref(),
                            graph,
                            tree,
                            "allowed by",
                            &mut responsible,
                        );
                    }
                }
                ChangeKind::Closed => {
                    if let Some((why, graph, tree)) = explain(old, &old_subjects, src, dst) {
                        allowing(
                            why.egress.as_ref(),
                            graph,
                            tree,
                            "was allowed by",
                            &mut responsible,
                        );
                        allowing(
                            why.ingress.as_ref(),
                            graph,
                            tree,
                            "was allowed by",
                            &mut responsible,
                        );
                    }
                    if let Some((why, graph, tree)) = explain(new, &new_subjects, src, dst) {
                        isolating(why.egress.as_ref(), &conns, graph, tree, &mut responsible);
                        isolating(why.ingress.as_ref(), &conns, graph, tree, &mut responsible);
                    }
                }
            }
            out.push(Change {
                environment: environment.map(str::to_string),
                kind,
                src: src.clone(),
                dst: dst.clone(),
                conns: conns.to_string(),
                responsible,
            });
        }
    }
}

pub fn diff(args: DiffArgs) -> u8 {
    let format = args.format;
    match changes(args) {
        Ok(report) => write_stdout(&diff::render(format, &report), diff::channel(format)),
        Err(code) => code,
    }
}

/// The connections the change since `args.rev` opens and closes (what `diff` prints, and
/// what the connectivity page marks), or the exit code of a usage error (already printed).
pub(crate) fn changes(mut args: DiffArgs) -> Result<DiffReport, u8> {
    // `diff k8s/`: a first argument that is an existing path and no revision is a PATH.
    let probe: Vec<String> = args.paths.first().cloned().into_iter().collect();
    let repo = revision::repository(&probe);
    if let Some(first) = args.rev.clone()
        && Path::new(&first).exists()
        && repo.as_ref().is_none_or(|r| r.resolve(&first).is_err())
    {
        args.paths.insert(0, first);
        args.rev = None;
    }
    let Some(repo) = revision::repository(&args.paths) else {
        return Err(usage_error(
            "diff compares with a git revision: the PATHs must be inside a git repository",
        ));
    };
    let (base, commit) = match &args.rev {
        Some(rev) => match repo.resolve(rev) {
            Ok(commit) => (rev.clone(), commit),
            Err(message) => return Err(usage_error(&message)),
        },
        None => match repo.default_base() {
            Ok((branch, commit)) => (format!("merge-base with {branch}"), commit),
            Err(message) => return Err(usage_error(&message)),
        },
    };
    let inputs = super::shared::inputs(&args.paths)?;
    let config = load_config(args.input.config.as_deref(), &args.paths)?;
    let walk = WalkOptions {
        excludes: config
            .exclude
            .iter()
            .chain(&args.input.exclude)
            .cloned()
            .collect(),
        kustomize: !args.input.no_kustomize,
        ..WalkOptions::default()
    };
    if let Err(message) = walk.validate() {
        return Err(usage_error(&message));
    }
    let model_options = ModelOptions {
        default_namespace: args
            .input
            .default_namespace
            .clone()
            .unwrap_or_else(|| config.xks.default_namespace.clone()),
        kustomize: !args.input.no_kustomize,
        ..ModelOptions::default()
    };
    let exported = match revision::export(&repo, commit, &args.paths, walk.max_file_size) {
        Ok(exported) => exported,
        Err(message) => return Err(usage_error(&message)),
    };
    let analysed = (
        analyse(&exported.inputs, &walk, &model_options, &config, &args),
        analyse(&inputs, &walk, &model_options, &config, &args),
    );
    let ((old_sources, old_clusters), (new_sources, new_clusters)) = match analysed {
        (Ok(old), Ok(new)) => (old, new),
        (Err(message), _) | (_, Err(message)) => return Err(usage_error(&message)),
    };
    // Both sides live until the process exits (see `kept_until_exit`).
    let old_tree: &Tree = super::shared::kept_until_exit(Tree {
        sources: old_sources,
        display: Some((
            exported.dir.path().to_path_buf(),
            format!("{}:", short_rev(&args.rev, &commit.to_string())),
        )),
        clusters: old_clusters,
    });
    let new_tree: &Tree = super::shared::kept_until_exit(Tree {
        sources: new_sources,
        display: None,
        clusters: new_clusters,
    });
    if exported.inputs.is_empty() {
        crate::report::emit::note(&format!(
            "the PATHs do not exist at {}: every connection is new",
            Inline(&base)
        ));
    }
    let names: BTreeSet<Option<&str>> = old_tree
        .clusters
        .iter()
        .chain(&new_tree.clusters)
        .map(|(name, _, _)| name.as_deref())
        .collect();
    let mut changes = Vec::new();
    for name in names {
        fn side<'a>(tree: &'a Tree, name: Option<&str>) -> Option<&'a Graph> {
            tree.clusters
                .iter()
                .find(|(n, _, _)| n.as_deref() == name)
                .map(|(_, _, graph)| graph)
        }
        let old = side(old_tree, name).map(|g| (g, old_tree));
        let new = side(new_tree, name).map(|g| (g, new_tree));
        // A repository that forms one cluster on one side and environments on the other:
        // the single cluster stands for every environment.
        let old = old.or_else(|| {
            name.and(old_tree.clusters.first())
                .filter(|(n, _, _)| n.is_none())
                .map(|(_, _, g)| (g, old_tree))
        });
        let new = new.or_else(|| {
            name.and(new_tree.clusters.first())
                .filter(|(n, _, _)| n.is_none())
                .map(|(_, _, g)| (g, new_tree))
        });
        let named = old_tree
            .clusters
            .iter()
            .chain(&new_tree.clusters)
            .any(|(n, _, _)| n.is_some());
        if name.is_none() && named {
            continue;
        }
        compare(name, old, new, &mut changes);
    }
    Ok(DiffReport {
        base,
        commit: commit.to_string(),
        changes,
    })
}

fn short_rev(rev: &Option<String>, commit: &str) -> String {
    rev.clone()
        .unwrap_or_else(|| commit.get(..12).unwrap_or(commit).to_string())
}
