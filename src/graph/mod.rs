//! Graph stage: which connections the NetworkPolicies of the repository allow.
//!
//! Nodes are pod equivalence classes (namespace + pod labels + named ports: every
//! replica and every identical workload is one node), the platform endpoints of XKS
//! (ingress controller, Envoy proxies, kube-dns, Linkerd), and IP segments: the
//! coarsest partition of the address space in which every `ipBlock` (after its
//! `except` holes) is a union of segments. An edge carries the connection set the
//! policies allow (protocol → ports). Why an edge exists — which policy rules allow
//! each direction, with file:line — is answered by [`Graph::explain`], which
//! re-evaluates the pair from the compiled rules kept here.

pub mod ip;
pub mod listing;
pub mod policy;
pub mod ports;
pub mod selector;
pub mod settings;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use petgraph::graph::{DiGraph, NodeIndex};
use rayon::prelude::*;

use crate::model::{Model, ObjectId, Typed};
use ip::IpRange;
use policy::{PeerKind, Policy, PolicyRule};
use ports::{ConnSet, Protocol};
use selector::{Labels, Selector};
pub use settings::{Cloud, EndpointRole, GraphOptions, PlatformEndpoint, Semantics, XksSettings};

/// Label every namespace carries (set by the API server).
pub const METADATA_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Label XKS puts on every namespace and uses in its namespace selectors.
pub const XKS_NAME_LABEL: &str = "name";

#[derive(Debug, Clone, Default)]
pub struct NamespaceInfo {
    pub labels: Labels,
    /// Holds at least one workload of the repository: its pods are known.
    pub has_workloads: bool,
    pub tenant: bool,
    pub platform: bool,
}

/// One workload, or one platform endpoint, inside a pod class.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Member {
    /// `namespace/name[Kind]` for a workload, `{id}` for a platform endpoint.
    pub label: String,
    pub object: Option<ObjectId>,
    pub endpoint: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct PodClass {
    pub namespace: String,
    pub labels: Labels,
    /// Named container ports: (name, protocol, number), sorted.
    pub ports: Vec<(String, Protocol, u16)>,
    /// Sorted by label.
    pub members: Vec<Member>,
    /// Index into the settings' endpoints when this class is a platform endpoint.
    pub endpoint: Option<usize>,
}

/// Index of an edge's connection set in [`Graph::conn_sets`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnId(pub u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphNode {
    Pods(usize),
    Ip(usize),
}

/// A source or destination for [`Graph::explain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Pods(usize),
    Address(IpAddr),
}

/// How one direction (egress at the source, ingress at the destination) treats a pair.
#[derive(Debug, Clone)]
pub struct DirectionVerdict {
    /// Some policy selecting the pod has this policy type.
    pub isolated: bool,
    /// Policies that select the pod and isolate it for this direction.
    pub isolating: Vec<usize>,
    /// Rules that match the pair, with the connections each opens.
    pub allowing: Vec<(usize, ConnSet)>,
    pub conns: ConnSet,
}

#[derive(Debug, Clone)]
pub struct Explanation {
    /// `None` when the source is an address outside the cluster (no policy applies there).
    pub egress: Option<DirectionVerdict>,
    pub ingress: Option<DirectionVerdict>,
    pub allowed: ConnSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EndKind {
    Workload,
    Platform,
    Ip,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct End {
    pub label: String,
    pub namespace: Option<String>,
    pub kind: EndKind,
}

/// One line of `xks-lint connectivity`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Connection {
    pub src: Arc<End>,
    pub dst: Arc<End>,
    pub conns: ConnSet,
}

/// Allowed connections from (or to) each listed node.
type Row = Vec<(usize, ConnSet)>;

/// A fixed-size set of small integers.
#[derive(Debug, Clone, Default)]
struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    fn with_len(len: usize) -> BitSet {
        BitSet {
            words: vec![0; len.div_ceil(64)],
        }
    }
    fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }
    fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut word = w;
            std::iter::from_fn(move || {
                if word == 0 {
                    return None;
                }
                let bit = word.trailing_zeros() as usize;
                word &= word - 1;
                Some(wi * 64 + bit)
            })
        })
    }
}

/// Runs of consecutive members of a bit set.
fn bit_runs(bits: &BitSet) -> Vec<std::ops::Range<usize>> {
    let mut runs: Vec<std::ops::Range<usize>> = Vec::new();
    for i in bits.iter() {
        match runs.last_mut() {
            Some(run) if run.end == i => run.end = i + 1,
            _ => runs.push(i..i + 1),
        }
    }
    runs
}

#[derive(Debug)]
pub struct Graph {
    pub options: GraphOptions,
    pub namespaces: BTreeMap<String, NamespaceInfo>,
    pub classes: Vec<PodClass>,
    pub policies: Vec<Policy>,
    pub rules: Vec<PolicyRule>,
    pub segments: Vec<IpRange>,
    /// Edges carry an index into `conn_sets`: a repository has hundreds of thousands of
    /// edges but only a handful of distinct connection sets, so each is stored once.
    pub graph: DiGraph<GraphNode, ConnId>,
    pub conn_sets: Vec<ConnSet>,
    pub class_nodes: Vec<NodeIndex>,
    pub segment_nodes: Vec<NodeIndex>,
    /// Per policy: the classes it selects.
    pub policy_classes: Vec<Vec<usize>>,
    /// Per class: the policies that select it (the inverse of `policy_classes`).
    class_policies: Vec<Vec<usize>>,
    classes_by_namespace: HashMap<String, Vec<usize>>,
    /// Per rule, per peer: the classes the peer matches (empty for ipBlock peers).
    pub peer_classes: Vec<Vec<Vec<usize>>>,
    class_of_object: HashMap<ObjectId, usize>,
    ingress_rules: Vec<Vec<usize>>,
    egress_rules: Vec<Vec<usize>>,
    isolated_ingress: Vec<bool>,
    isolated_egress: Vec<bool>,
    rule_classes: Vec<BitSet>,
    rule_segments: Vec<BitSet>,
    /// Connections of rules without named ports, the same for every destination.
    rule_fixed: Vec<Option<ConnSet>>,
}

impl Graph {
    pub fn build(model: &Model, options: &GraphOptions) -> Graph {
        let xks = options.semantics == Semantics::Xks;
        let settings = &options.xks;

        // Namespaces and their labels.
        let mut namespaces: BTreeMap<String, NamespaceInfo> = BTreeMap::new();
        let mut declared: BTreeMap<String, Labels> = BTreeMap::new();
        for object in &model.objects {
            match &object.typed {
                Typed::Namespace(_) if !object.name.is_empty() => {
                    declared
                        .entry(object.name.clone())
                        .or_default()
                        .extend(object.meta.labels.clone().unwrap_or_default());
                    namespaces.entry(object.name.clone()).or_default();
                }
                Typed::Workload(_) => {
                    namespaces
                        .entry(object.namespace.clone())
                        .or_default()
                        .has_workloads = true;
                }
                Typed::NetworkPolicy(_) => {
                    namespaces.entry(object.namespace.clone()).or_default();
                }
                _ => {}
            }
        }
        if xks {
            for endpoint in &settings.endpoints {
                namespaces.entry(endpoint.namespace.clone()).or_default();
            }
        }
        for (name, info) in namespaces.iter_mut() {
            if xks {
                info.labels.insert(XKS_NAME_LABEL.to_string(), name.clone());
            }
            if let Some(labels) = declared.get(name) {
                info.labels.extend(labels.clone());
            }
            info.labels
                .insert(METADATA_NAME_LABEL.to_string(), name.clone());
            info.platform = xks && settings.platform_namespaces.contains(name);
            info.tenant = xks
                && match &settings.tenant_namespaces {
                    Some(tenants) => tenants.contains(name),
                    None => info.has_workloads && !info.platform,
                };
        }

        // Pod classes, in a canonical order whatever the input order.
        type ClassKey = (String, Labels, Vec<(String, Protocol, u16)>, Option<usize>);
        let mut class_map: BTreeMap<ClassKey, Vec<Member>> = BTreeMap::new();
        for (object, workload) in model.workloads() {
            let spec = workload.pod_spec();
            // hostNetwork pods use the node's address: policies neither select nor match them.
            if spec.is_some_and(|s| s.host_network == Some(true)) {
                continue;
            }
            let mut ports: Vec<(String, Protocol, u16)> = spec
                .into_iter()
                .flat_map(|s| s.containers.iter())
                .flat_map(|c| c.ports.iter().flatten())
                .filter_map(|p| {
                    let name = p.name.clone()?;
                    let protocol = match &p.protocol {
                        Some(text) => Protocol::parse(text)?,
                        None => Protocol::Tcp,
                    };
                    let number = u16::try_from(p.container_port).ok()?;
                    Some((name, protocol, number))
                })
                .collect();
            ports.sort();
            ports.dedup();
            class_map
                .entry((object.namespace.clone(), workload.pod_labels(), ports, None))
                .or_default()
                .push(Member {
                    label: format!("{}/{}[{}]", object.namespace, object.name, object.kind),
                    object: Some(object.id),
                    endpoint: None,
                });
        }
        if xks {
            for (i, endpoint) in settings.endpoints.iter().enumerate() {
                let mut ports = endpoint.ports.clone();
                ports.sort();
                class_map
                    .entry((
                        endpoint.namespace.clone(),
                        endpoint.pod_labels.clone(),
                        ports,
                        Some(i),
                    ))
                    .or_default()
                    .push(Member {
                        label: format!("{{{}}}", endpoint.id),
                        object: None,
                        endpoint: Some(i),
                    });
            }
        }
        let mut classes = Vec::with_capacity(class_map.len());
        let mut class_of_object = HashMap::new();
        for ((namespace, labels, ports, endpoint), mut members) in class_map {
            members.sort();
            for member in &members {
                if let Some(object) = member.object {
                    class_of_object.insert(object, classes.len());
                }
            }
            classes.push(PodClass {
                namespace,
                labels,
                ports,
                members,
                endpoint,
            });
        }
        let mut classes_by_namespace: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, class) in classes.iter().enumerate() {
            classes_by_namespace
                .entry(class.namespace.clone())
                .or_default()
                .push(i);
        }

        // Policies: the repository's, in a canonical order, then XKS's implicit ones.
        let mut repo_policies: Vec<_> = model
            .objects
            .iter()
            .filter_map(|o| match &o.typed {
                Typed::NetworkPolicy(spec) => Some((o, spec)),
                _ => None,
            })
            .collect();
        repo_policies.sort_by(|(a, _), (b, _)| {
            (&a.namespace, &a.name, a.file, a.document, a.item).cmp(&(
                &b.namespace,
                &b.name,
                b.file,
                b.document,
                b.item,
            ))
        });
        let mut policies = Vec::new();
        let mut rules = Vec::new();
        for (object, spec) in &repo_policies {
            let index = policies.len();
            policies.push(policy::compile_repo_policy(object, spec, index, &mut rules));
        }
        if xks {
            let tenants: Vec<&String> = namespaces
                .iter()
                .filter(|(_, info)| info.tenant)
                .map(|(name, _)| name)
                .collect();
            for namespace in tenants {
                let present = repo_policies.iter().any(|(o, _)| {
                    &o.namespace == namespace
                        && (o.name == settings.default_deny_name
                            || settings.default_deny_names.contains(&o.name))
                });
                if !present {
                    let index = policies.len();
                    policies.push(policy::xks_default_deny(
                        namespace, settings, index, &mut rules,
                    ));
                }
            }
        }

        // IP segments.
        let mut ranges = Vec::new();
        for rule in &rules {
            for peer in rule.peers.iter().flatten() {
                if let PeerKind::Ip { parts, .. } = &peer.kind {
                    ranges.extend(parts.iter().copied());
                }
            }
        }
        let segments = ip::partition(&ranges);

        // Which policies select which classes.
        let n = classes.len();
        let matching_classes = |namespace: &str, selector: &Selector| -> Vec<usize> {
            classes_by_namespace
                .get(namespace)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&c| selector.matches(&classes[c].labels))
                .collect()
        };
        let mut policy_classes = Vec::with_capacity(policies.len());
        let mut ingress_rules = vec![Vec::new(); n];
        let mut egress_rules = vec![Vec::new(); n];
        let mut isolated_ingress = vec![false; n];
        let mut isolated_egress = vec![false; n];
        for policy in &policies {
            let selected = matching_classes(&policy.namespace, &policy.pod_selector);
            for &c in &selected {
                if policy.isolates_ingress {
                    isolated_ingress[c] = true;
                }
                if policy.isolates_egress {
                    isolated_egress[c] = true;
                }
                for &r in &policy.rules {
                    match rules[r].direction {
                        policy::Direction::Ingress if policy.isolates_ingress => {
                            ingress_rules[c].push(r)
                        }
                        policy::Direction::Egress if policy.isolates_egress => {
                            egress_rules[c].push(r)
                        }
                        _ => {}
                    }
                }
            }
            policy_classes.push(selected);
        }
        let mut class_policies = vec![Vec::new(); n];
        for (p, selected) in policy_classes.iter().enumerate() {
            for &c in selected {
                class_policies[c].push(p);
            }
        }

        // What each rule's peers match.
        let mut peer_classes = Vec::with_capacity(rules.len());
        let mut rule_classes = Vec::with_capacity(rules.len());
        let mut rule_segments = Vec::with_capacity(rules.len());
        for rule in &rules {
            let policy_ns = policies[rule.policy].namespace.as_str();
            let mut class_bits = BitSet::with_len(n);
            let mut segment_bits = BitSet::with_len(segments.len());
            let mut per_peer = Vec::new();
            match &rule.peers {
                None => {
                    (0..n).for_each(|c| class_bits.insert(c));
                    (0..segments.len()).for_each(|s| segment_bits.insert(s));
                }
                Some(peers) => {
                    for peer in peers {
                        let matched: Vec<usize> = match &peer.kind {
                            PeerKind::Pods {
                                pods,
                                namespaces: ns_selector,
                            } => {
                                let everything = Selector::everything();
                                let pods = pods.as_ref().unwrap_or(&everything);
                                match ns_selector {
                                    None => matching_classes(policy_ns, pods),
                                    Some(ns_selector) => namespaces
                                        .iter()
                                        .filter(|(_, info)| ns_selector.matches(&info.labels))
                                        .flat_map(|(ns, _)| matching_classes(ns, pods))
                                        .collect(),
                                }
                            }
                            PeerKind::Ip { parts, .. } => {
                                for (s, segment) in segments.iter().enumerate() {
                                    if parts.iter().any(|p| p.contains(segment)) {
                                        segment_bits.insert(s);
                                    }
                                }
                                Vec::new()
                            }
                            PeerKind::Invalid(_) => Vec::new(),
                        };
                        matched.iter().for_each(|&c| class_bits.insert(c));
                        per_peer.push(matched);
                    }
                }
            }
            peer_classes.push(per_peer);
            rule_classes.push(class_bits);
            rule_segments.push(segment_bits);
        }
        let rule_fixed = rules
            .iter()
            .map(|r| (!r.has_named_ports()).then(|| r.conns_for(&[])))
            .collect();

        let mut graph = Graph {
            options: options.clone(),
            namespaces,
            classes,
            policies,
            rules,
            segments,
            graph: DiGraph::new(),
            conn_sets: Vec::new(),
            class_nodes: Vec::new(),
            segment_nodes: Vec::new(),
            policy_classes,
            class_policies,
            classes_by_namespace,
            peer_classes,
            class_of_object,
            ingress_rules,
            egress_rules,
            isolated_ingress,
            isolated_egress,
            rule_classes,
            rule_segments,
            rule_fixed,
        };
        graph.add_edges();
        graph
    }

    /// The classes rule `rule`'s peers match, as sorted, disjoint index ranges.
    pub(crate) fn rule_class_ranges(&self, rule: usize) -> Vec<std::ops::Range<usize>> {
        bit_runs(&self.rule_classes[rule])
    }

    /// The IP segments rule `rule`'s peers match, as sorted, disjoint index ranges.
    pub(crate) fn rule_segment_ranges(
        &self,
        rule: usize,
        _segment_count: usize,
    ) -> Vec<std::ops::Range<usize>> {
        bit_runs(&self.rule_segments[rule])
    }

    /// Connections rule `rule` opens towards a destination class (`None`: an address).
    pub fn rule_conns(&self, rule: usize, dst_class: Option<usize>) -> ConnSet {
        match (&self.rule_fixed[rule], dst_class) {
            (Some(fixed), _) => fixed.clone(),
            (None, Some(c)) => self.rules[rule].conns_for(&self.classes[c].ports),
            // Named ports resolve against a pod's containers; an address has none.
            (None, None) => self.rules[rule].conns_for(&[]),
        }
    }

    pub fn is_endpoint(&self, class: usize) -> bool {
        self.classes[class].endpoint.is_some()
    }

    /// Egress allowed from class `src` to class `dst` (the source side only).
    fn egress_between(&self, src: usize, dst: usize) -> ConnSet {
        if !self.isolated_egress[src] {
            return ConnSet::all();
        }
        let mut conns = ConnSet::none();
        for &r in &self.egress_rules[src] {
            if self.rule_classes[r].contains(dst) {
                conns.union_with(&self.rule_conns(r, Some(dst)));
                if conns.is_all() {
                    break;
                }
            }
        }
        conns
    }

    fn add_edges(&mut self) {
        let n = self.classes.len();
        let this = &*self;
        // Pod to pod: per destination, gather what its ingress admits from each
        // source, then intersect with what each such source's egress allows.
        // map_init runs its init once per job rayon splits off: bound the splits, or the
        // per-job scratch row (one slot per class) is allocated and zeroed hundreds of times.
        let min_job = (n / (rayon::current_num_threads() * 8)).max(1);
        let pod_rows: Vec<Vec<(usize, ConnSet)>> = (0..n)
            .into_par_iter()
            .with_min_len(min_job)
            .map_init(
                || (vec![None::<ConnSet>; n], Vec::<usize>::new()),
                |(acc, touched), dst| {
                    let mut row = Vec::new();
                    let dst_endpoint = this.is_endpoint(dst);
                    let emit = |src: usize, admitted: &ConnSet, row: &mut Vec<(usize, ConnSet)>| {
                        // Platform endpoints' own policies are unknown: their mutual traffic is not modelled.
                        if dst_endpoint && this.is_endpoint(src) {
                            return;
                        }
                        let allowed = this.egress_between(src, dst).intersect(admitted);
                        if !allowed.is_empty() {
                            row.push((src, allowed));
                        }
                    };
                    if !this.isolated_ingress[dst] {
                        let all = ConnSet::all();
                        for src in 0..n {
                            emit(src, &all, &mut row);
                        }
                        return row;
                    }
                    for &r in &this.ingress_rules[dst] {
                        let conns = this.rule_conns(r, Some(dst));
                        if conns.is_empty() {
                            continue;
                        }
                        for src in this.rule_classes[r].iter() {
                            match &mut acc[src] {
                                Some(existing) => existing.union_with(&conns),
                                slot @ None => {
                                    *slot = Some(conns.clone());
                                    touched.push(src);
                                }
                            }
                        }
                    }
                    touched.sort_unstable();
                    for &src in touched.iter() {
                        if let Some(admitted) = acc[src].take() {
                            emit(src, &admitted, &mut row);
                        }
                    }
                    touched.clear();
                    row
                },
            )
            .collect();

        // Pods and IP segments, both ways; platform endpoints are left out (their policies are unknown).
        let segment_count = self.segments.len();
        let ip_rows: Vec<(Row, Row)> = (0..n)
            .into_par_iter()
            .map(|class| {
                if this.is_endpoint(class) {
                    return (Vec::new(), Vec::new());
                }
                // `dst_class`: the pod when it is the destination (ingress), so that a named
                // port resolves against its containers whatever the source; for egress the
                // destination is an address, which has no named ports.
                let side = |isolated: bool,
                            rules: &[usize],
                            dst_class: Option<usize>|
                 -> Vec<(usize, ConnSet)> {
                    if !isolated {
                        return (0..segment_count).map(|s| (s, ConnSet::all())).collect();
                    }
                    // Sparse: a class usually reaches a handful of the segments.
                    let mut acc: Vec<(usize, ConnSet)> = Vec::new();
                    for &r in rules {
                        let conns = this.rule_conns(r, dst_class);
                        if conns.is_empty() {
                            continue;
                        }
                        acc.extend(this.rule_segments[r].iter().map(|s| (s, conns.clone())));
                    }
                    acc.sort_by_key(|(s, _)| *s);
                    let mut merged: Row = Vec::with_capacity(acc.len());
                    for (s, conns) in acc {
                        match merged.last_mut() {
                            Some((last, existing)) if *last == s => existing.union_with(&conns),
                            _ => merged.push((s, conns)),
                        }
                    }
                    merged
                };
                (
                    side(this.isolated_egress[class], &this.egress_rules[class], None),
                    side(
                        this.isolated_ingress[class],
                        &this.ingress_rules[class],
                        Some(class),
                    ),
                )
            })
            .collect();

        let edge_count = pod_rows.iter().map(Vec::len).sum::<usize>()
            + ip_rows
                .iter()
                .map(|(egress, ingress)| egress.len() + ingress.len())
                .sum::<usize>();
        let mut graph = DiGraph::with_capacity(n + segment_count, edge_count);
        let class_nodes: Vec<NodeIndex> =
            (0..n).map(|c| graph.add_node(GraphNode::Pods(c))).collect();
        let segment_nodes: Vec<NodeIndex> = (0..segment_count)
            .map(|s| graph.add_node(GraphNode::Ip(s)))
            .collect();
        let mut conn_sets: Vec<ConnSet> = Vec::new();
        let mut interned: HashMap<ConnSet, ConnId> = HashMap::new();
        let mut intern = |conns: ConnSet| -> ConnId {
            *interned.entry(conns).or_insert_with_key(|conns| {
                conn_sets.push(conns.clone());
                ConnId(u32::try_from(conn_sets.len() - 1).unwrap_or(u32::MAX))
            })
        };
        for (dst, row) in pod_rows.into_iter().enumerate() {
            for (src, conns) in row {
                graph.add_edge(class_nodes[src], class_nodes[dst], intern(conns));
            }
        }
        for (class, (egress, ingress)) in ip_rows.into_iter().enumerate() {
            for (s, conns) in egress {
                graph.add_edge(class_nodes[class], segment_nodes[s], intern(conns));
            }
            for (s, conns) in ingress {
                graph.add_edge(segment_nodes[s], class_nodes[class], intern(conns));
            }
        }
        self.graph = graph;
        self.conn_sets = conn_sets;
        self.class_nodes = class_nodes;
        self.segment_nodes = segment_nodes;
    }

    pub fn is_xks(&self) -> bool {
        self.options.semantics == Semantics::Xks
    }

    pub fn class_of(&self, object: ObjectId) -> Option<usize> {
        self.class_of_object.get(&object).copied()
    }

    /// The class of the platform endpoint with this role (XKS semantics only).
    pub fn endpoint_class(&self, role: EndpointRole) -> Option<usize> {
        self.classes.iter().position(|c| {
            c.endpoint
                .and_then(|e| self.options.xks.endpoints.get(e))
                .is_some_and(|e| e.role == role)
        })
    }

    /// The class of the platform endpoint `XksSettings::endpoints[index]` (XKS semantics only).
    pub fn endpoint_class_at(&self, index: usize) -> Option<usize> {
        self.classes.iter().position(|c| c.endpoint == Some(index))
    }

    pub fn endpoint_class_by_id(&self, id: &str) -> Option<usize> {
        self.classes.iter().position(|c| {
            c.endpoint
                .and_then(|e| self.options.xks.endpoints.get(e))
                .is_some_and(|e| e.id == id)
        })
    }

    /// Connections the graph allows from one class to another.
    pub fn allowed(&self, src: usize, dst: usize) -> ConnSet {
        self.edge_between(self.class_nodes[src], self.class_nodes[dst])
            .map(|e| self.conns(e).clone())
            .unwrap_or_default()
    }

    /// The connections an edge allows.
    pub fn conns(&self, edge: petgraph::graph::EdgeIndex) -> &ConnSet {
        static NONE: std::sync::OnceLock<ConnSet> = std::sync::OnceLock::new();
        self.graph
            .edge_weight(edge)
            .and_then(|id| self.conn_sets.get(id.0 as usize))
            .unwrap_or_else(|| NONE.get_or_init(ConnSet::none))
    }

    /// The edge from `a` to `b`, walking `a`'s out-edges and `b`'s in-edges in step: a
    /// platform endpoint has an edge to nearly every class, so searching only its side
    /// (what `find_edge` does) made every endpoint query linear in the repository.
    fn edge_between(&self, a: NodeIndex, b: NodeIndex) -> Option<petgraph::graph::EdgeIndex> {
        use petgraph::Direction::{Incoming, Outgoing};
        use petgraph::visit::EdgeRef;
        let mut outgoing = self.graph.edges_directed(a, Outgoing);
        let mut incoming = self.graph.edges_directed(b, Incoming);
        loop {
            let out_edge = outgoing.next();
            if let Some(edge) = out_edge
                && edge.target() == b
            {
                return Some(edge.id());
            }
            let in_edge = incoming.next();
            if let Some(edge) = in_edge
                && edge.source() == a
            {
                return Some(edge.id());
            }
            if out_edge.is_none() || in_edge.is_none() {
                return None;
            }
        }
    }

    pub fn isolated(&self, class: usize, direction: policy::Direction) -> bool {
        match direction {
            policy::Direction::Ingress => self.isolated_ingress[class],
            policy::Direction::Egress => self.isolated_egress[class],
        }
    }

    /// Classes of `namespace` whose labels match `selector`.
    pub fn classes_matching(&self, namespace: &str, selector: &Selector) -> Vec<usize> {
        self.classes_by_namespace
            .get(namespace)
            .into_iter()
            .flatten()
            .copied()
            .filter(|&c| selector.matches(&self.classes[c].labels))
            .collect()
    }

    fn rule_matches(&self, rule: usize, subject: &Subject) -> bool {
        match subject {
            Subject::Pods(c) => self.rule_classes[rule].contains(*c),
            Subject::Address(addr) => match &self.rules[rule].peers {
                None => true,
                Some(peers) => peers.iter().any(|p| match &p.kind {
                    PeerKind::Ip { parts, .. } => parts.iter().any(|r| r.contains_addr(*addr)),
                    _ => false,
                }),
            },
        }
    }

    fn verdict(
        &self,
        pod: usize,
        other: &Subject,
        direction: policy::Direction,
        dst_class: Option<usize>,
    ) -> DirectionVerdict {
        let (isolated, rules) = match direction {
            policy::Direction::Ingress => (self.isolated_ingress[pod], &self.ingress_rules[pod]),
            policy::Direction::Egress => (self.isolated_egress[pod], &self.egress_rules[pod]),
        };
        let isolating = self.isolating_policies(pod, direction);
        if !isolated {
            return DirectionVerdict {
                isolated,
                isolating,
                allowing: Vec::new(),
                conns: ConnSet::all(),
            };
        }
        let mut allowing = Vec::new();
        let mut conns = ConnSet::none();
        for &r in rules {
            if self.rule_matches(r, other) {
                let rule_conns = self.rule_conns(r, dst_class);
                if !rule_conns.is_empty() {
                    conns.union_with(&rule_conns);
                    allowing.push((r, rule_conns));
                }
            }
        }
        DirectionVerdict {
            isolated,
            isolating,
            allowing,
            conns,
        }
    }

    pub fn isolating_policies(&self, pod: usize, direction: policy::Direction) -> Vec<usize> {
        let Some(selecting) = self.class_policies.get(pod) else {
            return Vec::new();
        };
        selecting
            .iter()
            .copied()
            .filter(|&p| match direction {
                policy::Direction::Ingress => self.policies[p].isolates_ingress,
                policy::Direction::Egress => self.policies[p].isolates_egress,
            })
            .collect()
    }

    /// Evaluates one pair from the rules, with provenance. Independent of the
    /// edge computation, so it also serves as the reference the graph is tested against.
    pub fn explain(&self, src: &Subject, dst: &Subject) -> Explanation {
        let dst_class = match dst {
            Subject::Pods(c) => Some(*c),
            Subject::Address(_) => None,
        };
        let egress = match src {
            Subject::Pods(c) => Some(self.verdict(*c, dst, policy::Direction::Egress, dst_class)),
            Subject::Address(_) => None,
        };
        let ingress = match dst {
            Subject::Pods(c) => Some(self.verdict(*c, src, policy::Direction::Ingress, dst_class)),
            Subject::Address(_) => None,
        };
        let allowed = match (&egress, &ingress) {
            (Some(e), Some(i)) => e.conns.intersect(&i.conns),
            (Some(e), None) => e.conns.clone(),
            (None, Some(i)) => i.conns.clone(),
            // Address to address: outside the cluster, nothing to say.
            (None, None) => ConnSet::none(),
        };
        Explanation {
            egress,
            ingress,
            allowed,
        }
    }

    fn end_of(&self, member: &Member, class: usize) -> End {
        End {
            label: member.label.clone(),
            namespace: Some(self.classes[class].namespace.clone()),
            kind: if member.endpoint.is_some() {
                EndKind::Platform
            } else {
                EndKind::Workload
            },
        }
    }
}

#[cfg(test)]
mod tests;
