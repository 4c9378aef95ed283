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

pub mod admin;
pub mod ip;
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
pub use settings::{
    Allowance, Cloud, EndpointRole, GraphOptions, PlatformEndpoint, PlatformGateway, Semantics,
    XksSettings,
};

/// Label every namespace carries (set by the API server).
pub const METADATA_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Label XKS puts on every namespace and uses in its namespace selectors.
pub const XKS_NAME_LABEL: &str = "name";
/// Label XKS puts on tenant (`tenant`) and platform (`platform`) namespaces.
pub const XKS_KIND_LABEL: &str = "xkf.xenit.io/kind";

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
    /// hostNetwork pods: never selected, matched only by address peers holding the node
    /// ranges (`XksSettings::node_cidrs`).
    pub host_network: bool,
}

impl PodClass {
    /// Whether pod selectors (of policy subjects and peers) can select this class.
    pub fn selectable(&self) -> bool {
        !self.host_network
    }
}

/// Whether address ranges (`parts`, disjoint) hold every node address: then a hostNetwork
/// pod, whose traffic carries its node's address, is certainly inside them.
pub fn holds_nodes(parts: &[IpRange], nodes: &[IpRange]) -> bool {
    !nodes.is_empty() && nodes.iter().all(|n| ip::subtract(*n, parts).is_empty())
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

/// The other end of a pair, as the evaluation of one direction at a pod sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Other {
    Class(usize),
    Segment(usize),
    Address(IpAddr),
}

/// How one direction (egress at the source, ingress at the destination) treats a pair.
#[derive(Debug, Clone, Default)]
pub struct DirectionVerdict {
    /// Some NetworkPolicy selecting the pod has this policy type.
    pub isolated: bool,
    /// Policies that select the pod and isolate it for this direction.
    pub isolating: Vec<usize>,
    /// Rules that match the pair, with the connections each opens.
    pub allowing: Vec<(usize, ConnSet)>,
    /// What AdminNetworkPolicy and BaselineAdminNetworkPolicy rules decided.
    pub tiers: admin::Tiers,
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
pub(crate) struct BitSet {
    words: Vec<u64>,
}

impl BitSet {
    pub(crate) fn with_len(len: usize) -> BitSet {
        BitSet {
            words: vec![0; len.div_ceil(64)],
        }
    }
    pub(crate) fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }
    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }
    pub(crate) fn union_with(&mut self, other: &BitSet) {
        for (word, &theirs) in self.words.iter_mut().zip(&other.words) {
            *word |= theirs;
        }
    }
    pub(crate) fn iter(&self) -> impl Iterator<Item = usize> + '_ {
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

#[derive(Debug)]
pub struct Graph {
    pub options: GraphOptions,
    pub namespaces: BTreeMap<String, NamespaceInfo>,
    pub classes: Vec<PodClass>,
    pub policies: Vec<Policy>,
    pub rules: Vec<PolicyRule>,
    /// AdminNetworkPolicies and BaselineAdminNetworkPolicies, before and after `policies`.
    pub admin: admin::AdminSet,
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
    /// Per class: the id of its named-port list (classes with equal lists share one).
    class_port_list: Vec<u32>,
    /// Per rule with named ports: its connections per named-port list id (`None` past
    /// [`MAX_NAMED_CACHE`] entries: computed on each use instead).
    rule_named: Vec<Option<Vec<ConnSet>>>,
}

/// Most (rule, named-port list) connection sets computed ahead: a repository has few
/// distinct port lists, but the product is bounded whatever the input.
const MAX_NAMED_CACHE: usize = 1 << 20;

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
            info.platform = xks && settings.platform_namespaces.contains(name);
            info.tenant = xks
                && match &settings.tenant_namespaces {
                    Some(tenants) => tenants.contains(name),
                    None => info.has_workloads && !info.platform,
                };
            if xks {
                // The labels the platform puts on its namespaces (its Terraform).
                info.labels.insert(XKS_NAME_LABEL.to_string(), name.clone());
                if info.tenant {
                    info.labels
                        .insert(XKS_KIND_LABEL.to_string(), "tenant".to_string());
                } else if info.platform {
                    info.labels
                        .insert(XKS_KIND_LABEL.to_string(), "platform".to_string());
                }
            }
            if let Some(labels) = declared.get(name) {
                info.labels.extend(labels.clone());
            }
            info.labels
                .insert(METADATA_NAME_LABEL.to_string(), name.clone());
        }

        // Pod classes, in a canonical order whatever the input order.
        type ClassKey = (
            String,
            Labels,
            Vec<(String, Protocol, u16)>,
            Option<usize>,
            bool,
        );
        let mut class_map: BTreeMap<ClassKey, Vec<Member>> = BTreeMap::new();
        for (object, workload) in model.workloads() {
            let spec = workload.pod_spec();
            // hostNetwork pods use the node's address: policies neither select them nor
            // match them with pod selectors (the CNI's view), unless asked to treat them as pods.
            let host_network =
                spec.is_some_and(|s| s.host_network == Some(true)) && !options.host_network_as_pods;
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
                .entry((
                    object.namespace.clone(),
                    workload.pod_labels(),
                    ports,
                    None,
                    host_network,
                ))
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
                        false,
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
        for ((namespace, labels, ports, endpoint, host_network), mut members) in class_map {
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
                host_network,
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
                for allowance in &settings.allowances {
                    let present = repo_policies
                        .iter()
                        .any(|(o, _)| &o.namespace == namespace && o.name == allowance.policy_name);
                    if !present {
                        let index = policies.len();
                        policies.push(policy::xks_allowance(
                            namespace, allowance, index, &mut rules,
                        ));
                    }
                }
            }
        }

        let mut admin = admin::AdminSet::compile(model);

        // IP segments.
        let mut ranges: Vec<IpRange> = admin.ranges().collect();
        for rule in &rules {
            for peer in rule.peers.iter().flatten() {
                if let PeerKind::Ip { parts, .. } = &peer.kind {
                    ranges.extend(parts.iter().copied());
                }
            }
        }
        let segments = ip::partition(&ranges);
        admin.index(&namespaces, &classes, &segments, &options.xks.node_cidrs);

        // Which policies select which classes.
        let n = classes.len();
        let matching_classes = |namespace: &str, selector: &Selector| -> Vec<usize> {
            classes_by_namespace
                .get(namespace)
                .into_iter()
                .flatten()
                .copied()
                .filter(|&c| classes[c].selectable() && selector.matches(&classes[c].labels))
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
                                if holds_nodes(parts, &options.xks.node_cidrs) {
                                    (0..n).filter(|&c| classes[c].host_network).collect()
                                } else {
                                    Vec::new()
                                }
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
        let rule_fixed: Vec<Option<ConnSet>> = rules
            .iter()
            .map(|r| (!r.has_named_ports()).then(|| r.conns_for(&[])))
            .collect();
        // Named ports resolve per destination: once per distinct port list, not per pair.
        type PortList<'a> = &'a [(String, Protocol, u16)];
        let mut port_lists: HashMap<PortList, u32> = HashMap::new();
        let class_port_list: Vec<u32> = classes
            .iter()
            .map(|c| {
                let next = u32::try_from(port_lists.len()).unwrap_or(u32::MAX);
                *port_lists.entry(c.ports.as_slice()).or_insert(next)
            })
            .collect();
        let mut lists: Vec<(PortList, u32)> = port_lists.into_iter().collect();
        lists.sort_by_key(|(_, id)| *id);
        let mut budget = MAX_NAMED_CACHE;
        let rule_named: Vec<Option<Vec<ConnSet>>> = rules
            .iter()
            .zip(&rule_fixed)
            .map(|(rule, fixed)| {
                if fixed.is_some() || budget < lists.len() {
                    return None;
                }
                budget -= lists.len();
                Some(
                    lists
                        .iter()
                        .map(|(ports, _)| rule.conns_for(ports))
                        .collect(),
                )
            })
            .collect();

        let mut graph = Graph {
            options: options.clone(),
            namespaces,
            classes,
            policies,
            rules,
            admin,
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
            class_port_list,
            rule_named,
        };
        graph.add_edges();
        graph
    }

    /// Connections rule `rule` opens towards a destination class (`None`: an address).
    pub fn rule_conns(&self, rule: usize, dst_class: Option<usize>) -> ConnSet {
        match (&self.rule_fixed[rule], dst_class) {
            (Some(fixed), _) => fixed.clone(),
            (None, Some(c)) => match (&self.rule_named[rule], self.class_port_list.get(c)) {
                (Some(per_list), Some(&list)) => per_list
                    .get(list as usize)
                    .cloned()
                    .unwrap_or_else(|| self.rules[rule].conns_for(&self.classes[c].ports)),
                _ => self.rules[rule].conns_for(&self.classes[c].ports),
            },
            // Named ports resolve against a pod's containers; an address has none.
            (None, None) => self.rules[rule].conns_for(&[]),
        }
    }

    pub fn is_endpoint(&self, class: usize) -> bool {
        self.classes[class].endpoint.is_some()
    }

    /// Connections allowed from class `src` to class `dst`: the one per-pair evaluation
    /// behind both the graph's edges and `why` (through [`Graph::explain`]).
    pub fn pair_conns(&self, src: usize, dst: usize) -> ConnSet {
        let ingress = self.evaluate(
            dst,
            Other::Class(src),
            policy::Direction::Ingress,
            Some(dst),
            None,
        );
        if ingress.is_empty() {
            return ingress;
        }
        self.evaluate(
            src,
            Other::Class(dst),
            policy::Direction::Egress,
            Some(dst),
            None,
        )
        .intersect(&ingress)
    }

    /// Classes that may send to `dst` (a superset of those that can): everyone when its
    /// ingress is not isolated by NetworkPolicies, else the peers of its ingress rules and
    /// of the admin `Allow` rules selecting it (nothing else gets past isolation).
    fn ingress_candidates(&self, dst: usize) -> Option<BitSet> {
        if !self.isolated_ingress[dst] {
            return None;
        }
        let mut bits = BitSet::with_len(self.classes.len());
        let rule_bits = self.ingress_rules[dst]
            .iter()
            .map(|&r| &self.rule_classes[r])
            .chain(self.admin.allow_candidates(dst, policy::Direction::Ingress));
        for other in rule_bits {
            bits.union_with(other);
        }
        Some(bits)
    }

    /// IP segments `class` may reach (egress) or hear from (ingress): a superset.
    fn segment_candidates(&self, class: usize, direction: policy::Direction) -> Option<BitSet> {
        let (isolated, rules) = match direction {
            policy::Direction::Ingress => {
                (self.isolated_ingress[class], &self.ingress_rules[class])
            }
            policy::Direction::Egress => (self.isolated_egress[class], &self.egress_rules[class]),
        };
        if !isolated {
            return None;
        }
        let mut bits = BitSet::with_len(self.segments.len());
        let rule_bits = rules
            .iter()
            .map(|&r| &self.rule_segments[r])
            .chain(self.admin.allow_segment_candidates(class, direction));
        for other in rule_bits {
            bits.union_with(other);
        }
        Some(bits)
    }

    fn add_edges(&mut self) {
        let n = self.classes.len();
        let this = &*self;
        // Pod to pod: per destination, every candidate source through the per-pair evaluation.
        let min_job = (n / (rayon::current_num_threads() * 8)).max(1);
        let pod_rows: Vec<Vec<(usize, ConnSet)>> = (0..n)
            .into_par_iter()
            .with_min_len(min_job)
            .map(|dst| {
                let dst_endpoint = this.is_endpoint(dst);
                let mut row = Vec::new();
                let mut visit = |src: usize| {
                    // Platform endpoints' own policies are unknown: their mutual traffic is not modelled.
                    if dst_endpoint && this.is_endpoint(src) {
                        return;
                    }
                    let allowed = this.pair_conns(src, dst);
                    if !allowed.is_empty() {
                        row.push((src, allowed));
                    }
                };
                match this.ingress_candidates(dst) {
                    None => (0..n).for_each(&mut visit),
                    Some(bits) => bits.iter().for_each(&mut visit),
                }
                row
            })
            .collect();

        // Pods and IP segments, both ways; platform endpoints are left out (their policies are unknown).
        let segment_count = self.segments.len();
        let ip_rows: Vec<(Row, Row)> = (0..n)
            .into_par_iter()
            .map(|class| {
                if this.is_endpoint(class) {
                    return (Vec::new(), Vec::new());
                }
                let side = |direction: policy::Direction| -> Row {
                    // The destination's named ports: the pod for ingress; an address has none.
                    let dst_class = (direction == policy::Direction::Ingress).then_some(class);
                    let mut row = Vec::new();
                    let mut visit = |s: usize| {
                        let conns =
                            this.evaluate(class, Other::Segment(s), direction, dst_class, None);
                        if !conns.is_empty() {
                            row.push((s, conns));
                        }
                    };
                    match this.segment_candidates(class, direction) {
                        None => (0..segment_count).for_each(&mut visit),
                        Some(bits) => bits.iter().for_each(&mut visit),
                    }
                    row
                };
                (
                    side(policy::Direction::Egress),
                    side(policy::Direction::Ingress),
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
            .filter(|&c| self.classes[c].selectable() && selector.matches(&self.classes[c].labels))
            .collect()
    }

    /// Whether NetworkPolicy rule `rule`'s peers match the other end.
    fn rule_matches(&self, rule: usize, other: &Other) -> bool {
        match other {
            Other::Class(c) => self.rule_classes[rule].contains(*c),
            Other::Segment(s) => self.rule_segments[rule].contains(*s),
            Other::Address(addr) => match &self.rules[rule].peers {
                None => true,
                Some(peers) => peers.iter().any(|p| match &p.kind {
                    PeerKind::Ip { parts, .. } => parts.iter().any(|r| r.contains_addr(*addr)),
                    _ => false,
                }),
            },
        }
    }

    /// The NetworkPolicy tier of one direction: the union of the matching rules of the
    /// policies isolating the pod (`None` when none isolates it).
    fn policy_tier(
        &self,
        pod: usize,
        other: &Other,
        direction: policy::Direction,
        dst_class: Option<usize>,
        mut trace: Option<&mut DirectionVerdict>,
    ) -> Option<ConnSet> {
        let (isolated, rules) = match direction {
            policy::Direction::Ingress => (self.isolated_ingress[pod], &self.ingress_rules[pod]),
            policy::Direction::Egress => (self.isolated_egress[pod], &self.egress_rules[pod]),
        };
        if let Some(t) = trace.as_deref_mut() {
            t.isolated = isolated;
            t.isolating = self.isolating_policies(pod, direction);
        }
        if !isolated {
            return None;
        }
        let mut conns = ConnSet::none();
        for &r in rules {
            if !self.rule_matches(r, other) {
                continue;
            }
            let rule_conns = self.rule_conns(r, dst_class);
            if rule_conns.is_empty() {
                continue;
            }
            conns.union_with(&rule_conns);
            match trace.as_deref_mut() {
                Some(t) => t.allowing.push((r, rule_conns)),
                None if conns.is_all() => break,
                None => {}
            }
        }
        Some(conns)
    }

    /// One direction at one pod (egress at the source, ingress at the destination) towards
    /// the other end, through the three tiers: admin policies, NetworkPolicies, the
    /// baseline policy (see [`admin`]). `dst_class`: the destination pod, whose container
    /// ports resolve named ports (`None`: an address). With `trace`, records who decided.
    pub fn evaluate(
        &self,
        pod: usize,
        other: Other,
        direction: policy::Direction,
        dst_class: Option<usize>,
        mut trace: Option<&mut DirectionVerdict>,
    ) -> ConnSet {
        let named: &[(String, Protocol, u16)] = dst_class
            .and_then(|c| self.classes.get(c))
            .map(|c| c.ports.as_slice())
            .unwrap_or_default();
        let tier_rules = |tier: admin::Tier| {
            self.admin
                .ordered(pod, tier, direction)
                .iter()
                .filter(|&&r| self.admin.matches(r, &other))
                .map(|&r| {
                    (
                        r,
                        self.admin.rules[r].effective_action(),
                        self.admin.conns(r, named),
                    )
                })
        };
        // Admin tier: what it allows is final; what it passes or leaves goes on.
        let mut open = ConnSet::all();
        let mut allowed = ConnSet::none();
        if !self
            .admin
            .ordered(pod, admin::Tier::Admin, direction)
            .is_empty()
        {
            let (admin_allowed, passed) = admin::decide(
                tier_rules(admin::Tier::Admin),
                &mut open,
                trace.as_deref_mut().map(|t| &mut t.tiers.admin),
            );
            allowed = admin_allowed;
            if open.is_empty() {
                open = passed;
            } else {
                open.union_with(&passed);
            }
        }
        if let Some(t) = trace.as_deref_mut() {
            t.tiers.to_policies = open.clone();
        }
        match self.policy_tier(pod, &other, direction, dst_class, trace.as_deref_mut()) {
            // Nothing decided by the admin tier: the NetworkPolicies' answer as it is.
            Some(policies) if open.is_all() && allowed.is_empty() => allowed = policies,
            Some(policies) => allowed.union_with(&open.intersect(&policies)),
            None => {
                // No NetworkPolicy isolates the pod: the baseline decides, then default allow.
                let (baseline, _) = admin::decide(
                    tier_rules(admin::Tier::Baseline),
                    &mut open,
                    trace.as_deref_mut().map(|t| &mut t.tiers.baseline),
                );
                allowed.union_with(&baseline);
                allowed.union_with(&open);
                if let Some(t) = trace.as_deref_mut() {
                    t.tiers.by_default = open;
                }
            }
        }
        if let Some(t) = trace {
            t.conns = allowed.clone();
        }
        allowed
    }

    fn verdict(
        &self,
        pod: usize,
        other: Other,
        direction: policy::Direction,
        dst_class: Option<usize>,
    ) -> DirectionVerdict {
        let mut verdict = DirectionVerdict::default();
        self.evaluate(pod, other, direction, dst_class, Some(&mut verdict));
        verdict
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

    /// Evaluates one pair with provenance, through [`Graph::evaluate`]: the same
    /// evaluation the graph's edges come from.
    pub fn explain(&self, src: &Subject, dst: &Subject) -> Explanation {
        let as_other = |subject: &Subject| match subject {
            Subject::Pods(c) => Other::Class(*c),
            Subject::Address(addr) => Other::Address(*addr),
        };
        let dst_class = match dst {
            Subject::Pods(c) => Some(*c),
            Subject::Address(_) => None,
        };
        let egress = match src {
            Subject::Pods(c) => {
                Some(self.verdict(*c, as_other(dst), policy::Direction::Egress, dst_class))
            }
            Subject::Address(_) => None,
        };
        let ingress = match dst {
            Subject::Pods(c) => {
                Some(self.verdict(*c, as_other(src), policy::Direction::Ingress, dst_class))
            }
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

    /// Every allowed connection, one per workload pair (self-connections left
    /// out), and per workload the IP segments grouped by identical connections.
    /// Sorted by source, destination.
    pub fn connections(&self) -> Vec<Connection> {
        // Ends are shared (`Arc`) and sorted once by label; connections are then
        // sorted by the ranks of their ends, which keeps millions of lines cheap.
        let mut ends: Vec<Arc<End>> = Vec::new();
        let member_ends: Vec<Vec<u32>> = self
            .classes
            .iter()
            .enumerate()
            .map(|(c, class)| {
                class
                    .members
                    .iter()
                    .map(|m| {
                        ends.push(Arc::new(self.end_of(m, c)));
                        (ends.len() - 1) as u32
                    })
                    .collect()
            })
            .collect();
        let mut raw: Vec<(u32, u32, ConnSet)> = Vec::new();
        for edge in self.graph.edge_indices() {
            let Some((a, b)) = self.graph.edge_endpoints(edge) else {
                continue;
            };
            if let (GraphNode::Pods(src), GraphNode::Pods(dst)) = (self.graph[a], self.graph[b]) {
                let conns = self.conns(edge);
                for &s in &member_ends[src] {
                    for &d in &member_ends[dst] {
                        if ends[s as usize].label != ends[d as usize].label {
                            raw.push((s, d, conns.clone()));
                        }
                    }
                }
            }
        }
        // IP segments: merged per workload and direction when the connections are equal.
        for (class, node) in self.class_nodes.iter().enumerate() {
            for direction in [petgraph::Direction::Outgoing, petgraph::Direction::Incoming] {
                let mut groups: BTreeMap<ConnSet, Vec<IpRange>> = BTreeMap::new();
                for edge in self.graph.edges_directed(*node, direction) {
                    use petgraph::visit::EdgeRef;
                    let other = match direction {
                        petgraph::Direction::Outgoing => edge.target(),
                        petgraph::Direction::Incoming => edge.source(),
                    };
                    if let GraphNode::Ip(s) = self.graph[other] {
                        groups
                            .entry(self.conns(edge.id()).clone())
                            .or_default()
                            .push(self.segments[s]);
                    }
                }
                for (conns, ranges) in groups {
                    let label = ip::merge(ranges)
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(",");
                    ends.push(Arc::new(End {
                        label,
                        namespace: None,
                        kind: EndKind::Ip,
                    }));
                    let ip_end = (ends.len() - 1) as u32;
                    for &member in &member_ends[class] {
                        raw.push(match direction {
                            petgraph::Direction::Outgoing => (member, ip_end, conns.clone()),
                            petgraph::Direction::Incoming => (ip_end, member, conns.clone()),
                        });
                    }
                }
            }
        }
        // Equal labels share a rank, so duplicate workloads collapse into one line.
        let mut order: Vec<u32> = (0..ends.len() as u32).collect();
        order.sort_by(|a, b| ends[*a as usize].cmp(&ends[*b as usize]));
        let mut rank = vec![0u32; ends.len()];
        for (i, &e) in order.iter().enumerate() {
            let same_as_previous =
                i > 0 && ends[order[i - 1] as usize].label == ends[e as usize].label;
            rank[e as usize] = if same_as_previous {
                rank[order[i - 1] as usize]
            } else {
                i as u32
            };
        }
        let key = |(s, d, _): &(u32, u32, ConnSet)| {
            (u64::from(rank[*s as usize]) << 32) | u64::from(rank[*d as usize])
        };
        raw.par_sort_unstable_by(|a, b| key(a).cmp(&key(b)).then_with(|| a.2.cmp(&b.2)));
        raw.dedup_by(|a, b| {
            rank[a.0 as usize] == rank[b.0 as usize]
                && rank[a.1 as usize] == rank[b.1 as usize]
                && a.2 == b.2
        });
        raw.into_iter()
            .map(|(s, d, conns)| Connection {
                src: Arc::clone(&ends[s as usize]),
                dst: Arc::clone(&ends[d as usize]),
                conns,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
