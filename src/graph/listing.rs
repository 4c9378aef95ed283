//! The `connectivity` listing, streamed: one source at a time in sorted order, so memory
//! follows the largest row (one source's destinations), never the number of lines. Every
//! pod-to-pod line comes from [`Graph::allowed`], the per-pair evaluation `why` uses; the
//! only shortcut here is which destinations are worth asking about (a superset of those
//! a source may reach, see [`Graph::egress_candidates`]). IP ends group a workload's
//! address segments by equal connections, computed per rule over segment ranges.

use crate::hashing::FastMap;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::ops::Range;
use std::sync::Arc;

use rayon::prelude::*;

use super::ip::{self, IpRange};
use super::policy::{Direction, PolicyOrigin};
use super::ports::ConnSet;
use super::{Connection, End, EndKind, Graph, Other};

/// Which lines of the listing to keep (`connectivity --namespace/--from/--to/--hide-default`).
#[derive(Debug, Clone, Default)]
pub struct ConnectionFilter {
    /// Keep a line when its source or destination is in one of these namespaces.
    pub namespaces: Vec<String>,
    /// Keep a line when its source matches one of these (see [`end_matches`]).
    pub from: Vec<String>,
    /// Keep a line when its destination matches one of these.
    pub to: Vec<String>,
    /// Hide XKS's intra-namespace default: all connections between two workloads of a
    /// tenant namespace whose `default-deny` is the implicit one.
    pub hide_default: bool,
}

/// Whether `pattern` names `end`: its namespace, its label (`ns/name[Kind]`), the label
/// without `[Kind]`, a platform endpoint's id with or without braces, or (for an IP end)
/// an address inside its ranges.
pub fn end_matches(pattern: &str, end: &End, ranges: &[IpRange]) -> bool {
    if end.namespace.as_deref() == Some(pattern) || end.label == pattern {
        return true;
    }
    match end.kind {
        EndKind::Workload => end
            .label
            .strip_suffix(']')
            .and_then(|l| l.rsplit_once('['))
            .is_some_and(|(bare, _)| bare == pattern),
        EndKind::Platform => end.label.trim_matches(['{', '}']) == pattern.trim_matches(['{', '}']),
        EndKind::Namespace => false,
        EndKind::Ip => pattern.parse::<IpAddr>().is_ok_and(|addr| {
            let addr = IpRange::address(addr);
            ranges.iter().any(|r| r.contains(&addr))
        }),
    }
}

impl ConnectionFilter {
    /// Whether a line between two workload or platform ends (no address ranges) passes
    /// `--from`, `--to` and `--namespace` (`--hide-default` is the listing's own business).
    pub fn keeps(&self, src: &End, dst: &End) -> bool {
        self.keeps_src(src, &[]) && self.keeps_dst(dst, &[]) && self.keeps_namespaces(src, dst)
    }

    fn keeps_src(&self, end: &End, ranges: &[IpRange]) -> bool {
        self.from.is_empty() || self.from.iter().any(|p| end_matches(p, end, ranges))
    }

    fn keeps_dst(&self, end: &End, ranges: &[IpRange]) -> bool {
        self.to.is_empty() || self.to.iter().any(|p| end_matches(p, end, ranges))
    }

    fn keeps_namespaces(&self, src: &End, dst: &End) -> bool {
        self.namespaces.is_empty()
            || self
                .namespaces
                .iter()
                .any(|n| src.namespace.as_deref() == Some(n) || dst.namespace.as_deref() == Some(n))
    }
}

/// An end of the listing with the address ranges it stands for (IP ends only).
#[derive(Debug, Clone)]
struct Node {
    end: Arc<End>,
    ranges: Arc<Vec<IpRange>>,
}

/// What the listing needs, computed once: every end, every workload's IP groups.
struct Ends {
    /// Per class, its members' ends.
    members: Vec<Vec<Node>>,
    /// Per class: IP groups it reaches (egress) and that reach it (ingress).
    egress_ip: Vec<Vec<(Node, ConnSet)>>,
    /// Per IP end label: the classes it reaches, with the connections.
    ip_sources: FastMap<String, Vec<(usize, ConnSet)>>,
    ip_nodes: FastMap<String, Node>,
}

/// Sources in listing order: every distinct label, with the classes and IP end behind it.
struct Source {
    label: String,
    node: Node,
    classes: Vec<usize>,
    ip: bool,
}

/// The class ranges of policy rules, each computed once within one pass of the listing.
/// The rules of a namespace's policies apply to many of its classes: XKS's DNS rule,
/// whose `namespaceSelector: {}` matches every namespace, to all of them, so asking per
/// class looked up the DNS pods of every namespace once per workload. A pass holds one
/// cache per task (a namespace of the summary, a batch of rows), dropped with it, and
/// keeps at most 2^20 ranges (`MAX_HELD`; an empty list counts one): beyond, a rule's
/// ranges are computed again each time, as before.
#[derive(Default)]
pub struct RuleRanges {
    by_rule: FastMap<usize, Vec<Range<usize>>>,
    held: usize,
}

impl RuleRanges {
    const MAX_HELD: usize = 1 << 20;

    fn extend_with(&mut self, graph: &Graph, rule: usize, into: &mut Vec<Range<usize>>) {
        if let Some(ranges) = self.by_rule.get(&rule) {
            into.extend(ranges.iter().cloned());
            return;
        }
        let ranges = graph.rule_class_ranges(rule);
        into.extend(ranges.iter().cloned());
        // A rule whose peers match nothing still holds an entry: it counts as one.
        let weight = ranges.len().max(1);
        if self.held.saturating_add(weight) <= Self::MAX_HELD {
            self.held += weight;
            self.by_rule.insert(rule, ranges);
        }
    }
}

impl Graph {
    /// A superset of the classes `src` may reach, as sorted, disjoint index ranges; `None`
    /// when its egress is not isolated by NetworkPolicies. A class reached must be matched by
    /// one of `src`'s egress rules or by an admin-tier `Allow` rule at `src` (the per-pair
    /// evaluation, [`Graph::evaluate`], admits an isolated pod's traffic only through them).
    pub fn egress_candidates(
        &self,
        src: usize,
        rule_ranges: &mut RuleRanges,
    ) -> Option<Vec<Range<usize>>> {
        if !self.isolated_egress[src] {
            return None;
        }
        let mut ranges: Vec<Range<usize>> = Vec::new();
        for &r in &self.egress_rules[src] {
            rule_ranges.extend_with(self, r, &mut ranges);
        }
        for bits in self.admin.allow_candidates(src, Direction::Egress) {
            ranges.extend(bits.iter().map(|c| c..c + 1));
        }
        Some(merge_ranges(ranges))
    }

    /// The classes `src` reaches with the connections, in class order (pairs of platform
    /// endpoints left out: their policies are unknown).
    pub fn pod_destinations(
        &self,
        src: usize,
        rule_ranges: &mut RuleRanges,
    ) -> Vec<(usize, ConnSet)> {
        self.pod_destinations_outside(src, rule_ranges, 0..0, 0..0)
    }

    /// [`Graph::pod_destinations`] without the classes of `skipped`, and with every
    /// connection to the classes of `all_allowed` without asking (the caller knows).
    fn pod_destinations_outside(
        &self,
        src: usize,
        rule_ranges: &mut RuleRanges,
        skipped: Range<usize>,
        all_allowed: Range<usize>,
    ) -> Vec<(usize, ConnSet)> {
        let n = self.classes.len();
        let ranges = self
            .egress_candidates(src, rule_ranges)
            .unwrap_or_else(|| std::iter::once(0..n).collect());
        let src_endpoint = self.is_endpoint(src);
        let mut out = Vec::new();
        for dst in ranges.into_iter().flatten() {
            if (src_endpoint && self.is_endpoint(dst)) || skipped.contains(&dst) {
                continue;
            }
            if all_allowed.contains(&dst) {
                out.push((dst, ConnSet::all()));
                continue;
            }
            let conns = self.allowed(src, dst);
            if !conns.is_empty() {
                out.push((dst, conns));
            }
        }
        out
    }

    /// The address segments a class reaches (egress) or is reached from (ingress), grouped
    /// by equal connections, sorted by connections; empty for platform endpoints.
    pub fn ip_groups(&self, class: usize, direction: Direction) -> Vec<(ConnSet, Vec<IpRange>)> {
        if self.is_endpoint(class) {
            return Vec::new();
        }
        let segment_count = self.segments.len();
        if !self.admin.is_empty() {
            // Admin tiers decide per segment: every segment through the per-pair evaluation
            // (correctness first; repositories with admin policies are few and small).
            let dst_class = (direction == Direction::Ingress).then_some(class);
            let mut groups: BTreeMap<ConnSet, Vec<IpRange>> = BTreeMap::new();
            for (s, segment) in self.segments.iter().enumerate() {
                let conns = self.evaluate(class, Other::Segment(s), direction, dst_class, None);
                if !conns.is_empty() {
                    groups.entry(conns).or_default().push(*segment);
                }
            }
            return groups
                .into_iter()
                .map(|(conns, ranges)| (conns, ip::merge(ranges)))
                .collect();
        }
        if !self.isolated(class, direction) {
            return vec![(ConnSet::all(), ip::merge(self.segments.clone()))];
        }
        let (rules, dst_class) = match direction {
            Direction::Egress => (&self.egress_rules[class], None),
            Direction::Ingress => (&self.ingress_rules[class], Some(class)),
        };
        // Sweep over segment index boundaries: each rule adds its connections to runs of segments.
        let mut events: Vec<(usize, bool, usize)> = Vec::new();
        let mut rule_conns: Vec<ConnSet> = Vec::new();
        for &r in rules {
            let conns = self.rule_conns(r, dst_class);
            if conns.is_empty() {
                continue;
            }
            let id = rule_conns.len();
            rule_conns.push(conns);
            for run in self.rule_segment_ranges(r) {
                events.push((run.start, true, id));
                events.push((run.end, false, id));
            }
        }
        events.sort_unstable();
        let mut active: BTreeMap<usize, usize> = BTreeMap::new();
        let mut groups: BTreeMap<ConnSet, Vec<IpRange>> = BTreeMap::new();
        let mut at = 0;
        let mut i = 0;
        while i < events.len() {
            let position = events[i].0;
            if position > at && !active.is_empty() {
                let mut conns = ConnSet::none();
                for &id in active.keys() {
                    conns.union_with(&rule_conns[id]);
                }
                groups.entry(conns).or_default().extend(
                    self.segments[at..position.min(segment_count)]
                        .iter()
                        .copied(),
                );
            }
            at = position;
            while i < events.len() && events[i].0 == position {
                let (_, start, id) = events[i];
                if start {
                    *active.entry(id).or_default() += 1;
                } else if let Some(count) = active.get_mut(&id) {
                    *count -= 1;
                    if *count == 0 {
                        active.remove(&id);
                    }
                }
                i += 1;
            }
        }
        groups
            .into_iter()
            .map(|(conns, ranges)| (conns, ip::merge(ranges)))
            .collect()
    }

    fn node_of(&self, class: usize, member: usize) -> Node {
        let m = &self.classes[class].members[member];
        Node {
            end: Arc::new(self.end_of(m, class)),
            ranges: Arc::new(Vec::new()),
        }
    }

    fn ends(&self) -> Ends {
        let n = self.classes.len();
        // Per class on every core: its members' ends and its IP groups both ways.
        let per_class: Vec<_> = (0..n)
            .into_par_iter()
            .map(|c| {
                let members: Vec<Node> = (0..self.classes[c].members.len())
                    .map(|m| self.node_of(c, m))
                    .collect();
                (
                    members,
                    self.ip_groups(c, Direction::Egress),
                    self.ip_groups(c, Direction::Ingress),
                )
            })
            .collect();
        // One end per distinct list of ranges, found by the ranges themselves: most classes
        // share a handful of lists (every unisolated class has the same one), so the label
        // is spelled once per list rather than once per class.
        let mut by_ranges: FastMap<Vec<IpRange>, Node> = FastMap::default();
        let mut node = |ranges: Vec<IpRange>| -> Node {
            by_ranges
                .entry(ranges)
                .or_insert_with_key(|ranges| Node {
                    end: Arc::new(ip_end(ranges)),
                    ranges: Arc::new(ranges.clone()),
                })
                .clone()
        };
        let mut members = Vec::with_capacity(n);
        let mut egress_ip = Vec::with_capacity(n);
        let mut ip_sources: FastMap<String, Vec<(usize, ConnSet)>> = FastMap::default();
        for (c, (class_members, egress, ingress)) in per_class.into_iter().enumerate() {
            members.push(class_members);
            egress_ip.push(
                egress
                    .into_iter()
                    .map(|(conns, r)| (node(r), conns))
                    .collect(),
            );
            for (conns, ranges) in ingress {
                let ip = node(ranges);
                ip_sources
                    .entry(ip.end.label.clone())
                    .or_default()
                    .push((c, conns));
            }
        }
        let ip_nodes: FastMap<String, Node> = by_ranges
            .into_values()
            .map(|node| (node.end.label.clone(), node))
            .collect();
        Ends {
            members,
            egress_ip,
            ip_sources,
            ip_nodes,
        }
    }

    fn sources(&self, ends: &Ends) -> Vec<Source> {
        let mut all: Vec<(&Node, Option<usize>)> = Vec::new();
        for (c, members) in ends.members.iter().enumerate() {
            all.extend(members.iter().map(|m| (m, Some(c))));
        }
        for label in ends.ip_sources.keys() {
            if let Some(node) = ends.ip_nodes.get(label) {
                all.push((node, None));
            }
        }
        // Sorted by End: equal labels are adjacent, and the first of them names the lines.
        all.sort_by(|a, b| a.0.end.cmp(&b.0.end));
        let mut sources: Vec<Source> = Vec::new();
        for (node, class) in all {
            let same = sources
                .last()
                .is_some_and(|s: &Source| s.label == node.end.label);
            if !same {
                sources.push(Source {
                    label: node.end.label.clone(),
                    node: node.clone(),
                    classes: Vec::new(),
                    ip: false,
                });
            }
            if let Some(source) = sources.last_mut() {
                match class {
                    Some(c) if !source.classes.contains(&c) => source.classes.push(c),
                    Some(_) => {}
                    None => source.ip = true,
                }
            }
        }
        sources
    }

    /// One source's lines, sorted by destination label and connections, deduplicated.
    fn row(
        &self,
        ends: &Ends,
        source: &Source,
        hidden: &NamespaceDefaults,
        filter: &ConnectionFilter,
        rule_ranges: &mut RuleRanges,
    ) -> Vec<(Node, ConnSet)> {
        let mut row: Vec<(Node, ConnSet)> = Vec::new();
        let src = &source.node;
        for &c in &source.classes {
            let ns = self.class_namespace_position(c);
            let own_default =
                filter.hide_default && ns.is_some_and(|ns| hidden.implicit.get(ns) == Some(&true));
            // A namespace the default covers whole: every pair inside it is allowed on all
            // connections, so none is asked. With `--hide-default` every such line is hidden
            // and none is listed (at 100,000 workloads nearly all the pairs were these).
            let covered = ns
                .filter(|&ns| hidden.covered.get(ns) == Some(&true))
                .and_then(|ns| self.namespace_classes.get(ns).cloned())
                .unwrap_or(0..0);
            let (skipped, all_allowed) = if filter.hide_default {
                (covered, 0..0)
            } else {
                (0..0, covered)
            };
            for (d, conns) in self.pod_destinations_outside(c, rule_ranges, skipped, all_allowed) {
                let hidden = own_default && self.is_default_shape(c, d, &conns);
                if hidden {
                    continue;
                }
                for m in &ends.members[d] {
                    if m.end.label != source.label {
                        row.push((m.clone(), conns.clone()));
                    }
                }
            }
            for (ip, conns) in &ends.egress_ip[c] {
                row.push((ip.clone(), conns.clone()));
            }
        }
        if source.ip {
            for (c, conns) in ends.ip_sources.get(&source.label).into_iter().flatten() {
                for m in &ends.members[*c] {
                    row.push((m.clone(), conns.clone()));
                }
            }
        }
        row.retain(|(dst, _)| {
            filter.keeps_dst(&dst.end, &dst.ranges) && filter.keeps_namespaces(&src.end, &dst.end)
        });
        row.sort_by(|a, b| {
            a.0.end
                .label
                .cmp(&b.0.end.label)
                .then_with(|| a.1.cmp(&b.1))
        });
        row.dedup_by(|a, b| a.0.end.label == b.0.end.label && a.1 == b.1);
        row
    }

    /// Whether `src → dst` has the shape of XKS's intra-namespace default (two workloads of
    /// one namespace, all connections), in a namespace the caller knows has the implicit
    /// `default-deny`.
    fn is_default_shape(&self, src: usize, dst: usize, conns: &ConnSet) -> bool {
        let (a, b) = (&self.classes[src], &self.classes[dst]);
        a.namespace == b.namespace && a.endpoint.is_none() && b.endpoint.is_none() && conns.is_all()
    }

    /// Whether every pair of workloads of namespace `ns` (an index), which has the implicit
    /// `default-deny`, is XKS's default without asking each: every pod may reach every
    /// other on all connections, both directions (the union of rules can only add), and the
    /// namespace holds no platform endpoint.
    fn default_covers_namespace(&self, ns: usize) -> bool {
        let Some(run) = self.namespace_classes.get(ns) else {
            return false;
        };
        // Admin tiers may cut intra-namespace traffic, and hostNetwork pods are not selected
        // by the default-deny's peers: then the pairs are asked one by one.
        self.admin.is_empty()
            && run
                .clone()
                .all(|c| !self.is_endpoint(c) && !self.classes[c].host_network)
    }

    /// Streams every allowed connection the filter keeps, in the order of
    /// [`Graph::connections`], to `emit`; stops when `emit` returns false.
    pub fn for_each_connection(
        &self,
        filter: &ConnectionFilter,
        mut emit: impl FnMut(Connection) -> bool,
    ) {
        for connection in self.connection_stream(filter.clone()) {
            if !emit(connection) {
                return;
            }
        }
    }

    /// The listing [`Graph::for_each_connection`] streams, as an iterator: sorted by source
    /// label, then destination label and connections, so two listings can be walked side
    /// by side (`diff`) without holding either.
    pub fn connection_stream(&self, filter: ConnectionFilter) -> ConnectionStream<'_> {
        let ends = self.ends();
        let sources: Vec<Source> = self
            .sources(&ends)
            .into_iter()
            .filter(|s| filter.keeps_src(&s.node.end, &s.node.ranges))
            .collect();
        let hidden = NamespaceDefaults::of(self);
        ConnectionStream {
            graph: self,
            filter,
            ends,
            sources,
            hidden,
            next_source: 0,
            pending: std::collections::VecDeque::new(),
        }
    }

    /// Every allowed connection, one per workload pair (self-connections left
    /// out), and per workload the IP segments grouped by identical connections.
    /// Sorted by source, destination.
    pub fn connections(&self) -> Vec<Connection> {
        let mut out = Vec::new();
        self.for_each_connection(&ConnectionFilter::default(), |c| {
            out.push(c);
            true
        });
        out
    }

    /// The listing the filter keeps, grouped by namespace: one line per (source group,
    /// destination group) with the union of the connections. A workload's or platform
    /// endpoint's group is its namespace; the IP ends of one namespace and direction are one
    /// end, the union of their addresses. Equal to grouping [`Graph::for_each_connection`]
    /// (a test checks it), computed without listing pairs whose group is already saturated.
    pub fn namespace_summary(&self, filter: &ConnectionFilter) -> Vec<Connection> {
        let ends = self.ends();
        let mut by_namespace: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (c, class) in self.classes.iter().enumerate() {
            by_namespace
                .entry(class.namespace.as_str())
                .or_default()
                .push(c);
        }
        let ns_end = |ns: &str| {
            Arc::new(End {
                label: ns.to_string(),
                namespace: Some(ns.to_string()),
                kind: EndKind::Namespace,
            })
        };
        // Per source namespace: pods reached per destination namespace, addresses reached.
        type Summary = (BTreeMap<String, ConnSet>, Vec<IpRange>, ConnSet);
        let namespaces: Vec<(&str, &Vec<usize>)> =
            by_namespace.iter().map(|(k, v)| (*k, v)).collect();
        let defaults = NamespaceDefaults::of(self);
        let summaries: Vec<Summary> = namespaces
            .par_iter()
            .map(|(_, classes)| {
                let mut rule_ranges = RuleRanges::default();
                let mut pods: BTreeMap<String, ConnSet> = BTreeMap::new();
                let mut addresses: Vec<IpRange> = Vec::new();
                let mut ip_conns = ConnSet::none();
                for &c in classes.iter() {
                    let sources: Vec<&Node> = ends.members[c]
                        .iter()
                        .filter(|m| filter.keeps_src(&m.end, &m.ranges))
                        .collect();
                    if sources.is_empty() {
                        continue;
                    }
                    let n = self.classes.len();
                    let ranges = self
                        .egress_candidates(c, &mut rule_ranges)
                        .unwrap_or_else(|| std::iter::once(0..n).collect());
                    // Intra-namespace pairs XKS's implicit default makes are hidden whole.
                    let own = self.class_namespace[c];
                    let own_default =
                        filter.hide_default && defaults.implicit.get(own) == Some(&true);
                    let skip_own = own_default
                        && !self.is_endpoint(c)
                        && defaults.covered.get(own) == Some(&true);
                    for range in ranges {
                        let mut d = range.start;
                        while d < range.end {
                            let ns = self.class_namespace[d];
                            let run_end = self
                                .namespace_classes
                                .get(ns)
                                .map_or(d + 1, |run| run.end.min(range.end))
                                .max(d + 1);
                            let dst_ns = &self.classes[d].namespace;
                            // A destination namespace already at all connections, or hidden whole.
                            if pods.get(dst_ns.as_str()).is_some_and(ConnSet::is_all)
                                || (skip_own && ns == own)
                            {
                                d = run_end;
                                continue;
                            }
                            let dst = d;
                            d += 1;
                            if self.is_endpoint(c) && self.is_endpoint(dst) {
                                continue;
                            }
                            let conns = self.allowed(c, dst);
                            if conns.is_empty()
                                || (own_default && self.is_default_shape(c, dst, &conns))
                            {
                                continue;
                            }
                            let listed = sources.iter().any(|s| {
                                ends.members[dst].iter().any(|m| {
                                    m.end.label != s.end.label
                                        && filter.keeps_dst(&m.end, &m.ranges)
                                        && filter.keeps_namespaces(&s.end, &m.end)
                                })
                            });
                            if listed {
                                pods.entry(dst_ns.clone())
                                    .or_insert_with(ConnSet::none)
                                    .union_with(&conns);
                            }
                        }
                    }
                    for (ip, conns) in &ends.egress_ip[c] {
                        let listed = sources.iter().any(|s| {
                            filter.keeps_dst(&ip.end, &ip.ranges)
                                && filter.keeps_namespaces(&s.end, &ip.end)
                        });
                        if listed {
                            addresses.extend(ip.ranges.iter().copied());
                            ip_conns.union_with(conns);
                        }
                    }
                }
                (pods, ip::merge(addresses), ip_conns)
            })
            .collect();
        let mut lines: Vec<Connection> = Vec::new();
        for ((ns, _), (pods, addresses, ip_conns)) in namespaces.iter().zip(summaries) {
            let src = ns_end(ns);
            for (dst, conns) in pods {
                lines.push(Connection {
                    src: Arc::clone(&src),
                    dst: ns_end(&dst),
                    conns,
                });
            }
            if !addresses.is_empty() {
                lines.push(Connection {
                    src: Arc::clone(&src),
                    dst: Arc::new(ip_end(&addresses)),
                    conns: ip_conns,
                });
            }
        }
        // Addresses reaching each namespace.
        let mut incoming: BTreeMap<&str, (Vec<IpRange>, ConnSet)> = BTreeMap::new();
        for (label, targets) in &ends.ip_sources {
            let Some(ip) = ends.ip_nodes.get(label) else {
                continue;
            };
            if !filter.keeps_src(&ip.end, &ip.ranges) {
                continue;
            }
            for (c, conns) in targets {
                let listed = ends.members[*c].iter().any(|m| {
                    filter.keeps_dst(&m.end, &m.ranges) && filter.keeps_namespaces(&ip.end, &m.end)
                });
                if listed {
                    let slot = incoming
                        .entry(self.classes[*c].namespace.as_str())
                        .or_insert_with(|| (Vec::new(), ConnSet::none()));
                    slot.0.extend(ip.ranges.iter().copied());
                    slot.1.union_with(conns);
                }
            }
        }
        for (ns, (ranges, conns)) in incoming {
            lines.push(Connection {
                src: Arc::new(ip_end(&ip::merge(ranges))),
                dst: ns_end(ns),
                conns,
            });
        }
        lines.sort_by(|a, b| (&a.src.label, &a.dst.label).cmp(&(&b.src.label, &b.dst.label)));
        lines
    }
}

fn ip_end(ranges: &[IpRange]) -> End {
    End {
        label: ranges
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(","),
        namespace: None,
        kind: EndKind::Ip,
    }
}

/// Sorts ranges and merges overlapping or touching ones.
pub(crate) fn merge_ranges(mut ranges: Vec<Range<usize>>) -> Vec<Range<usize>> {
    ranges.retain(|r| r.start < r.end);
    ranges.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<usize>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// The allowed connections of a graph, computed a batch of sources at a time (the rows of a
/// batch in parallel) and handed out in order: memory holds a batch of rows, never the
/// whole listing. See [`Graph::connection_stream`].
pub struct ConnectionStream<'g> {
    graph: &'g Graph,
    filter: ConnectionFilter,
    ends: Ends,
    sources: Vec<Source>,
    hidden: NamespaceDefaults,
    next_source: usize,
    pending: std::collections::VecDeque<Connection>,
}

impl Iterator for ConnectionStream<'_> {
    type Item = Connection;

    fn next(&mut self) -> Option<Connection> {
        loop {
            if let Some(connection) = self.pending.pop_front() {
                return Some(connection);
            }
            let batch = rayon::current_num_threads() * 16;
            let chunk = self.sources.get(self.next_source..)?;
            if chunk.is_empty() {
                return None;
            }
            let chunk = &chunk[..batch.min(chunk.len())];
            self.next_source += chunk.len();
            let ConnectionStream {
                graph,
                filter,
                ends,
                hidden,
                ..
            } = self;
            let rows: Vec<Vec<(Node, ConnSet)>> = chunk
                .par_iter()
                .map_init(RuleRanges::default, |rule_ranges, s| {
                    graph.row(ends, s, hidden, filter, rule_ranges)
                })
                .collect();
            for (source, row) in chunk.iter().zip(rows) {
                self.pending
                    .extend(row.into_iter().map(|(dst, conns)| Connection {
                        src: Arc::clone(&source.node.end),
                        dst: dst.end,
                        conns,
                    }));
            }
        }
    }
}

/// XKS's intra-namespace default per namespace position, decided once per listing (asking
/// per source class scanned every policy each time): what `--hide-default` hides, and
/// where no pair needs asking.
struct NamespaceDefaults {
    /// The namespace has XKS's implicit `default-deny`: its all-connections lines between
    /// two of its workloads are the default.
    implicit: Vec<bool>,
    /// Every pair of the namespace's classes is such a line ([`Graph::default_covers_namespace`]).
    covered: Vec<bool>,
}

impl NamespaceDefaults {
    fn of(graph: &Graph) -> NamespaceDefaults {
        let count = graph.namespace_classes.len();
        let mut implicit = vec![false; count];
        for policy in &graph.policies {
            if policy.origin == PolicyOrigin::XksDefaultDeny
                && let Some(ns) = graph.namespace_position(&policy.namespace)
                && let Some(slot) = implicit.get_mut(ns)
            {
                *slot = true;
            }
        }
        let covered = (0..count)
            .map(|ns| implicit[ns] && graph.default_covers_namespace(ns))
            .collect();
        NamespaceDefaults { implicit, covered }
    }
}
