//! `xks-lint connectivity`: the allowed connections of the graph, streamed in the chosen
//! format (`--group namespace` summarises per namespace pair), with the blocked pairs the
//! reach rules find drawn by dot and Mermaid, or gathered into the interactive page
//! (`--format html`, see [`crate::report::html`]).

use crate::hashing::{FastMap, FastSet};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use super::shared::{self, GraphArgs, InputArgs, build, usage_error, write_report, write_stdout};
use crate::graph::listing::ConnectionFilter;
use crate::graph::policy::PolicyOrigin;
use crate::graph::ports::ConnSet;
use crate::graph::{End, EndKind, Graph, Subject, ip};
use crate::load::Sources;
use crate::model::Model;
use crate::report::connectivity::{self, Blocked, ConnectivityFormat, Renderer, display_label};
use crate::report::html::{self, BlockedEdge, Conns, View};
use crate::report::sanitize::{Lines, inline};

#[derive(Debug, clap::Args)]
pub struct ConnectivityArgs {
    /// Files or directories to read (default `.`); `-` reads standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    #[arg(long, value_enum, default_value_t = ConnectivityFormat::Txt)]
    pub format: ConnectivityFormat,
    /// `namespace`: one line per pair of namespaces, with the union of their connections
    /// (addresses reached from, or reaching, a namespace are one end).
    #[arg(long, value_enum, value_name = "BY")]
    pub group: Option<GroupBy>,
    /// Leave out XKS's intra-namespace default: the all-connections lines between two
    /// workloads of a tenant namespace whose `default-deny` is the implicit one.
    #[arg(long)]
    pub hide_default: bool,
    /// Only connections whose source or destination is in this namespace (repeatable).
    #[arg(long, value_name = "NAME")]
    pub namespace: Vec<String>,
    /// Only connections from this namespace, workload (`namespace/name`, optionally
    /// `[Kind]`), platform endpoint, or address (repeatable).
    #[arg(long, value_name = "END")]
    pub from: Vec<String>,
    /// Only connections to this namespace, workload, platform endpoint or address (repeatable).
    #[arg(long, value_name = "END")]
    pub to: Vec<String>,
    /// With `--format html`: mark what the change since REV (a git revision, as for `diff`)
    /// opens and closes, and offer to show only that.
    #[arg(long, value_name = "REV")]
    pub changed_since: Option<String>,
    /// Write to this file instead of standard output (never through a link leading out of
    /// the repository).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub graph: GraphArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    Namespace,
}

pub fn run(args: ConnectivityArgs) -> u8 {
    // Blocked pairs (drawn by dot, Mermaid and the page) include Ingress and HTTPRoute
    // backends, which need those typed; the line formats read the graph alone.
    let draws_blocked =
        Renderer::needs_ends(args.format) || args.format == ConnectivityFormat::Html;
    let typing = if draws_blocked {
        crate::model::Typing::Everything
    } else {
        crate::model::Typing::Reachability
    };
    let (sources, model, graph) = match build(&args.paths, &args.input, &args.graph, typing) {
        Ok(built) => shared::kept_until_exit(built),
        Err(code) => return code,
    };
    let filter = ConnectionFilter {
        namespaces: args.namespace.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        hide_default: args.hide_default,
    };
    let grouped = args.group == Some(GroupBy::Namespace);
    let blocked = if draws_blocked {
        blocked(
            model,
            graph,
            sources,
            &filter,
            grouped && args.format != ConnectivityFormat::Html,
        )
    } else {
        Vec::new()
    };
    if args.format == ConnectivityFormat::Html {
        let diff = match &args.changed_since {
            Some(rev) => match super::diff::changes(super::diff::DiffArgs {
                rev: Some(rev.clone()),
                paths: args.paths.clone(),
                format: crate::report::diff::DiffFormat::Txt,
                input: args.input.clone(),
                graph: args.graph.clone(),
            }) {
                Ok(report) => Some(report),
                Err(code) => return code,
            },
            None => None,
        };
        let mut view = gather(&args, graph, sources, &filter, blocked);
        if let Some(report) = diff {
            view.diff = Some(changes_of(&mut view, report, &args, &filter));
        }
        return finish(&args, html::page(&view));
    }
    if args.changed_since.is_some() {
        return usage_error("--changed-since marks changes in the page: use it with --format html");
    }
    if grouped {
        return finish(
            &args,
            connectivity::render_with_blocked(
                args.format,
                &graph.namespace_summary(&filter),
                blocked,
            ),
        );
    }
    // Streamed: memory follows one source's row, not the number of lines. Dot and Mermaid
    // declare their nodes first, so they walk the listing twice.
    let mut ends: BTreeMap<String, End> = BTreeMap::new();
    if Renderer::needs_ends(args.format) {
        graph.for_each_connection(&filter, |c| {
            for end in [&c.src, &c.dst] {
                if !ends.contains_key(&end.label) {
                    ends.insert(end.label.clone(), End::clone(end));
                }
            }
            true
        });
    }
    let mut renderer = Renderer::new(args.format, ends.values(), blocked);
    // The same stream to a file as to standard output: a listing of millions of lines
    // held whole before `--output` wrote it took 9 GB at 100,000 workloads.
    let listing = |out: &mut dyn std::io::Write| -> std::io::Result<()> {
        out.write_all(renderer.preamble().as_bytes())?;
        let mut result = Ok(());
        graph.for_each_connection(&filter, |c| {
            result = out.write_all(renderer.line(&c).as_bytes());
            result.is_ok()
        });
        result?;
        out.write_all(renderer.finish().as_bytes())
    };
    shared::stream_to(
        args.output.as_deref(),
        args.paths.first().map_or(".", String::as_str),
        connectivity::channel(args.format),
        listing,
    )
}

/// Writes a finished document to `--output`, or to standard output.
fn finish(args: &ConnectivityArgs, text: String) -> u8 {
    let channel = connectivity::channel(args.format);
    match &args.output {
        Some(path) => {
            let checked = args.paths.first().map_or(".", String::as_str);
            match write_report(checked, path, &text, channel) {
                Ok(()) => shared::EXIT_CLEAN,
                Err(message) => usage_error(&message),
            }
        }
        None => write_stdout(&text, channel),
    }
}

/// The blocked pairs the filter keeps, one per pair of workloads (or of namespaces when
/// `grouped`, their connections united per finding).
fn blocked(
    model: &Model,
    graph: &Graph,
    sources: &Sources,
    filter: &ConnectionFilter,
    grouped: bool,
) -> Vec<Blocked> {
    let mut out: Vec<Blocked> = Vec::new();
    for pair in crate::rules::blocked_pairs(model, graph) {
        let start = sources.start(pair.location);
        let at = format!(
            "{}:{}:{}",
            sources.display(pair.location.file),
            start.line,
            start.col
        );
        let srcs = graph.member_ends(pair.src);
        let dsts = graph.member_ends(pair.dst);
        for src in &srcs {
            for dst in &dsts {
                if !filter.keeps(src, dst) {
                    continue;
                }
                let (src, dst) = if grouped {
                    (namespace_end(src), namespace_end(dst))
                } else {
                    (Arc::new(src.clone()), Arc::new(dst.clone()))
                };
                let same = out
                    .iter_mut()
                    .find(|b| b.src == src && b.dst == dst && b.rule == pair.rule && b.at == at);
                match same {
                    Some(b) => b.conns.union_with(&pair.conns),
                    None => out.push(Blocked {
                        src,
                        dst,
                        conns: pair.conns.clone(),
                        rule: pair.rule,
                        at: at.clone(),
                        reason: pair.reason.clone(),
                    }),
                }
            }
        }
    }
    out
}

/// A workload's or platform endpoint's namespace as an end of `--group namespace`.
fn namespace_end(end: &End) -> Arc<End> {
    match &end.namespace {
        Some(ns) => Arc::new(End {
            label: ns.clone(),
            namespace: Some(ns.clone()),
            kind: EndKind::Namespace,
        }),
        None => Arc::new(end.clone()),
    }
}

/// Allowed connections embedded in the page at most: beyond, the page says how many were
/// left out (narrow with `--namespace`). 60,000 edges are some 3 MB of data.
const PAGE_EDGES: usize = 60_000;
/// Bytes of explanations embedded at most (distinct lines, and four per line reference).
const PAGE_WHY_BYTES: usize = 6 << 20;

/// Interned connection sets and explanations, and the nodes by label.
struct Tables<'g> {
    graph: &'g Graph,
    sources: &'g Sources,
    view: View,
    node_index: FastMap<String, usize>,
    namespace_index: FastMap<String, usize>,
    conns_index: FastMap<ConnSet, usize>,
    why_index: FastMap<Vec<u32>, usize>,
    line_index: FastMap<String, u32>,
    why_of_pair: FastMap<(String, String), i64>,
    why_bytes: usize,
    /// Class of every workload and platform endpoint label.
    class_of: FastMap<String, usize>,
}

impl Tables<'_> {
    fn namespace(&mut self, name: &str) -> usize {
        if let Some(&i) = self.namespace_index.get(name) {
            return i;
        }
        let info = self.graph.namespaces.get(name);
        let i = self.view.namespaces.len();
        self.view.namespaces.push(html::Namespace {
            name: inline(name).into_owned(),
            tenant: info.is_some_and(|n| n.tenant),
            platform: info.is_some_and(|n| n.platform),
            default_pairs: 0,
        });
        self.namespace_index.insert(name.to_string(), i);
        i
    }

    fn node(&mut self, end: &End) -> usize {
        if let Some(&i) = self.node_index.get(&end.label) {
            return i;
        }
        let ns = end.namespace.as_deref().map(|ns| self.namespace(ns));
        let i = self.view.nodes.len();
        self.view.nodes.push(html::Node {
            label: inline(&end.label).into_owned(),
            short: inline(&display_label(end)).into_owned(),
            ns,
            kind: node_kind(end.kind),
        });
        self.node_index.insert(end.label.clone(), i);
        i
    }

    fn conns(&mut self, conns: &ConnSet) -> usize {
        if let Some(&i) = self.conns_index.get(conns) {
            return i;
        }
        let i = self.view.conns.len();
        self.view.conns.push(Conns::of(conns));
        self.conns_index.insert(conns.clone(), i);
        i
    }

    /// What `why` asks about an end: its class, or the first address of its ranges (then
    /// named, as the explanation holds for that address).
    fn subject(&self, end: &End) -> Option<(Subject, Option<String>)> {
        match end.kind {
            EndKind::Ip => {
                let first = ip::parse_ranges(&end.label)?.into_iter().next()?;
                let addr: IpAddr = match first.family {
                    ip::Family::V4 => {
                        IpAddr::V4(std::net::Ipv4Addr::from(u32::try_from(first.start).ok()?))
                    }
                    ip::Family::V6 => IpAddr::V6(std::net::Ipv6Addr::from(first.start)),
                };
                Some((Subject::Address(addr), Some(format!("the address {addr}"))))
            }
            _ => self
                .class_of
                .get(&end.label)
                .map(|&c| (Subject::Pods(c), None)),
        }
    }

    /// The index of the explanation of `src → dst`, computed once per pair of classes (or
    /// addresses), `-1` past the budget.
    fn why(&mut self, src: &End, dst: &End) -> i64 {
        let (Some((s, s_label)), Some((d, d_label))) = (self.subject(src), self.subject(dst))
        else {
            return -1;
        };
        let key = (format!("{s:?}"), format!("{d:?}"));
        if let Some(&i) = self.why_of_pair.get(&key) {
            return i;
        }
        let index = if self.why_bytes > PAGE_WHY_BYTES {
            self.view.why_omitted += 1;
            -1
        } else {
            let explanation = self.graph.explain(&s, &d);
            let mut lines = Lines::new();
            let s_label = s_label.unwrap_or_else(|| "the source".to_string());
            let d_label = d_label.unwrap_or_else(|| "the destination".to_string());
            super::why::describe_explanation(
                &mut lines,
                &explanation,
                &s_label,
                &d_label,
                self.graph,
                self.sources,
            );
            let text = lines.finish();
            let mut refs: Vec<u32> = Vec::new();
            for line in text.lines() {
                let next = self.view.why_lines.len() as u32;
                let i = *self.line_index.entry(line.to_string()).or_insert(next);
                if i == next {
                    self.why_bytes += line.len();
                    self.view.why_lines.push(line.to_string());
                }
                refs.push(i);
            }
            self.why_bytes += 4 * refs.len();
            match self.why_index.get(&refs) {
                Some(&i) => i as i64,
                None => {
                    let i = self.view.why.len();
                    self.why_index.insert(refs.clone(), i);
                    self.view.why.push(refs);
                    i as i64
                }
            }
        };
        self.why_of_pair.insert(key, index);
        index
    }
}

/// Everything the page shows: every workload and platform endpoint (all of them when no
/// filter narrows the listing), the allowed connections apart from XKS's intra-namespace
/// defaults (counted per namespace instead: they grow with the square of its size), the
/// blocked pairs, and the explanations of what is embedded.
fn gather(
    args: &ConnectivityArgs,
    graph: &Graph,
    sources: &Sources,
    filter: &ConnectionFilter,
    blocked: Vec<Blocked>,
) -> View {
    let mut tables = Tables {
        graph,
        sources,
        view: View {
            title: inline(&if args.paths.is_empty() {
                ".".to_string()
            } else {
                args.paths.join(" ")
            })
            .into_owned(),
            hide_default: args.hide_default,
            collapsed: args.group == Some(GroupBy::Namespace),
            ..View::default()
        },
        node_index: FastMap::default(),
        namespace_index: FastMap::default(),
        conns_index: FastMap::default(),
        why_index: FastMap::default(),
        line_index: FastMap::default(),
        why_of_pair: FastMap::default(),
        why_bytes: 0,
        class_of: FastMap::default(),
    };
    let unfiltered = filter.namespaces.is_empty() && filter.from.is_empty() && filter.to.is_empty();
    for c in 0..graph.classes.len() {
        for end in graph.member_ends(c) {
            tables.class_of.insert(end.label.clone(), c);
            if unfiltered {
                tables.node(&end);
            }
        }
    }
    let implicit_default: FastSet<&str> = graph
        .policies
        .iter()
        .filter(|p| p.origin == PolicyOrigin::XksDefaultDeny)
        .map(|p| p.namespace.as_str())
        .collect();
    let listing = ConnectionFilter {
        hide_default: false,
        ..filter.clone()
    };
    graph.for_each_connection(&listing, |c| {
        let default = c.src.kind == EndKind::Workload
            && c.dst.kind == EndKind::Workload
            && c.src.namespace == c.dst.namespace
            && c.conns.is_all()
            && c.src
                .namespace
                .as_deref()
                .is_some_and(|ns| implicit_default.contains(ns));
        if default {
            if let Some(ns) = c.src.namespace.as_deref() {
                let i = tables.namespace(ns);
                tables.view.namespaces[i].default_pairs += 1;
            }
            return true;
        }
        if tables.view.edges.len() >= PAGE_EDGES {
            tables.view.edges_omitted += 1;
            return true;
        }
        let src = tables.node(&c.src);
        let dst = tables.node(&c.dst);
        let conns = tables.conns(&c.conns);
        let why = tables.why(&c.src, &c.dst);
        tables
            .view
            .edges
            .push([src as i64, dst as i64, conns as i64, why]);
        true
    });
    for b in blocked {
        let src = tables.node(&b.src);
        let dst = tables.node(&b.dst);
        let conns = tables.conns(&b.conns);
        let why = tables.why(&b.src, &b.dst);
        tables.view.blocked.push(BlockedEdge {
            src,
            dst,
            conns,
            rule: b.rule,
            at: inline(&b.at).into_owned(),
            reason: inline(&b.reason).into_owned(),
            why,
        });
    }
    tables.view
}

/// The changes of `diff` the filter keeps, with their ends added to the page's nodes: of the
/// chosen environment, or every one when none is chosen.
fn changes_of(
    view: &mut View,
    report: crate::report::diff::DiffReport,
    args: &ConnectivityArgs,
    filter: &ConnectionFilter,
) -> html::Diff {
    let mut index: FastMap<String, usize> = view
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.label.clone(), i))
        .collect();
    let mut namespaces: FastMap<String, usize> = view
        .namespaces
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.clone(), i))
        .collect();
    let mut node = |view: &mut View, end: &End| -> usize {
        let label = inline(&end.label).into_owned();
        if let Some(&i) = index.get(&label) {
            return i;
        }
        let ns = end.namespace.as_deref().map(|name| {
            let name = inline(name).into_owned();
            *namespaces.entry(name.clone()).or_insert_with(|| {
                view.namespaces.push(html::Namespace {
                    name,
                    ..html::Namespace::default()
                });
                view.namespaces.len() - 1
            })
        });
        view.nodes.push(html::Node {
            label: label.clone(),
            short: inline(&display_label(end)).into_owned(),
            ns,
            kind: node_kind(end.kind),
        });
        index.insert(label, view.nodes.len() - 1);
        view.nodes.len() - 1
    };
    let mut out = html::Diff {
        base: inline(&report.base).into_owned(),
        changes: Vec::new(),
    };
    for change in report.changes {
        let chosen = match (&args.input.environment, &change.environment) {
            (Some(wanted), Some(env)) => wanted == env,
            _ => true,
        };
        if !chosen || !filter.keeps(&change.src, &change.dst) {
            continue;
        }
        let src = node(view, &change.src);
        let dst = node(view, &change.dst);
        out.changes.push(html::ChangeEdge {
            src,
            dst,
            kind: match change.kind {
                crate::report::diff::ChangeKind::Opened => "opened",
                crate::report::diff::ChangeKind::Closed => "closed",
            },
            conns: inline(&change.conns).into_owned(),
            responsible: change
                .responsible
                .iter()
                .map(|r| {
                    inline(&match &r.at {
                        Some(at) => format!("{} {} at {at}", r.role, r.what),
                        None => format!("{} {}", r.role, r.what),
                    })
                    .into_owned()
                })
                .collect(),
        });
    }
    out
}

/// How the page draws an end.
fn node_kind(kind: EndKind) -> &'static str {
    match kind {
        EndKind::Platform => "platform",
        EndKind::Ip => "ip",
        EndKind::Workload | EndKind::Namespace => "workload",
    }
}
