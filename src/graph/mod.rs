//! Graph stage: which connections the NetworkPolicies of the repository allow.
//!
//! Nodes are pod equivalence classes (namespace + pod labels + named ports: every
//! replica and every identical workload is one node), the platform endpoints of XKS
//! (ingress controller, Envoy proxies, kube-dns, Linkerd), and IP segments: the
//! coarsest partition of the address space in which every `ipBlock` (after its
//! `except` holes) is a union of segments. No pair is stored: the build compiles the
//! policies (which classes each selects, per class its rules, per namespace-selector peer
//! its namespaces, a label index per namespace), so its size follows the policies and
//! classes, never the pairs. [`Graph::explain`] evaluates one pair from the rules, with
//! provenance (which policy rules allow each direction, with file:line); [`Graph::allowed`]
//! is that evaluation, and the listing (`listing.rs`) streams it per source.
//!
//! Files: this one holds the graph's types and the evaluation of a pair; `build.rs` the
//! construction from the model; `policy.rs` the compiled NetworkPolicies, `admin/` the
//! admin tiers, `selector.rs`, `ports.rs` the pieces they are made of; `settings.rs` what
//! the engine assumes about the platform.

pub mod admin;
mod build;
pub mod intern;
pub mod listing;
pub mod policy;
pub mod ports;
pub mod selector;
pub mod settings;

/// IP ranges live below the configuration, which checks CIDRs with them.
pub use crate::ip;

use crate::hashing::FastMap;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use crate::model::ObjectId;
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
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
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
    /// A whole namespace (`connectivity --group namespace`).
    Namespace,
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
    /// hostNetwork classes, sorted: matched only by address peers holding the node ranges.
    host_classes: Vec<usize>,
    /// Per namespace: whether it holds a hostNetwork class (its run is not all selectable).
    namespace_has_host: Vec<bool>,
    /// Per policy: the classes it selects.
    pub policy_classes: Vec<Vec<usize>>,
    /// Per class: the policies that select it (the inverse of `policy_classes`).
    class_policies: Vec<Vec<usize>>,
    /// Per namespace (in `namespaces` order): its classes, a contiguous run of `classes`.
    namespace_classes: Vec<std::ops::Range<usize>>,
    namespace_index: FastMap<String, usize>,
    /// Per class: its namespace's index.
    class_namespace: Vec<usize>,
    /// Per namespace: label key → value → its classes carrying that label (sorted).
    label_index: Vec<FastMap<ecow::EcoString, FastMap<ecow::EcoString, Vec<usize>>>>,
    /// Per rule: where its peers start in `peer_namespace_set`.
    rule_first_peer: Vec<u32>,
    /// Per peer of every rule, in rule order: its set in `namespace_sets` when it has a
    /// `namespaceSelector`, else [`NO_NAMESPACE_SET`].
    peer_namespace_set: Vec<u32>,
    /// The namespaces each distinct `namespaceSelector` of the peers matches: thousands of
    /// peers name the same few selectors.
    namespace_sets: Vec<BitSet>,
    /// Per object id, its class, or [`NO_CLASS`].
    class_of_object: Vec<u32>,
    ingress_rules: Vec<Vec<usize>>,
    egress_rules: Vec<Vec<usize>>,
    isolated_ingress: Vec<bool>,
    isolated_egress: Vec<bool>,
    /// Per rule without named ports: its connections (the same for every destination), as
    /// an index into `fixed_conns`.
    rule_fixed: Vec<Option<u32>>,
    /// The distinct connection sets of the rules without named ports.
    fixed_conns: Vec<ConnSet>,
    /// Per class: the id of its named-port list (classes with equal lists share one).
    class_port_list: Vec<u32>,
    /// Per rule with named ports: its row of `named_rows` (`None` past
    /// [`MAX_NAMED_CACHE`] entries: computed on each use instead).
    rule_named: Vec<Option<u32>>,
    /// Per distinct `ports` list of the rules with named ports: its connections per
    /// named-port list id. Rules with equal `ports` share a row, so the table follows the
    /// distinct port specifications times the distinct port lists, not rules times lists.
    named_rows: Vec<Vec<ConnSet>>,
}

/// Most (rule, named-port list) connection sets computed ahead: a repository has few
/// distinct port lists, but the product is bounded whatever the input.
const MAX_NAMED_CACHE: usize = 1 << 20;

/// In `Graph::peer_namespace_set`: the peer has no `namespaceSelector`. Set indices stay
/// below it: a run holds at most `limits::MAX_RUN_YAML_NODES` nodes, far fewer peers.
const NO_NAMESPACE_SET: u32 = u32::MAX;
/// In `class_of_object`: the object is no workload of any class.
const NO_CLASS: u32 = u32::MAX;

impl Graph {
    /// The namespaces the `namespaceSelector` of peer `peer` of rule `rule` matches
    /// (`None`: the peer has none).
    fn peer_namespaces(&self, rule: usize, peer: usize) -> Option<&BitSet> {
        let first = *self.rule_first_peer.get(rule)? as usize;
        let set = *self.peer_namespace_set.get(first + peer)?;
        self.namespace_sets.get(set as usize)
    }

    /// The namespaces (indices) a pod peer of rule `rule` covers.
    fn peer_namespace_list(&self, rule: usize, peer: usize) -> Vec<usize> {
        match self.peer_namespaces(rule, peer) {
            Some(bits) => bits.iter().collect(),
            _ => {
                let policy_ns = &self.policies[self.rules[rule].policy].namespace;
                self.namespace_index
                    .get(policy_ns)
                    .copied()
                    .into_iter()
                    .collect()
            }
        }
    }

    /// Classes of namespace `ns` (an index) whose labels match `selector`, sorted: through
    /// the label index when the selector pins a key, else by a scan of the namespace.
    fn classes_in(&self, ns: usize, selector: &Selector) -> Vec<usize> {
        let Some(run) = self.namespace_classes.get(ns) else {
            return Vec::new();
        };
        let pinned = selector.requirements.iter().find_map(|r| match r {
            selector::Requirement::In(key, values) => Some((key, values)),
            _ => None,
        });
        let Some((key, values)) = pinned else {
            return run
                .clone()
                .filter(|&c| {
                    self.classes[c].selectable() && selector.matches(&self.classes[c].labels)
                })
                .collect();
        };
        let Some(by_value) = self.label_index.get(ns).and_then(|index| index.get(key)) else {
            return Vec::new();
        };
        // The index holds exactly the classes the pinned requirement admits: a selector
        // of that one requirement (a `matchLabels` of one label, most peers) needs no
        // second test, and one value's list is already sorted (classes are indexed in order).
        let alone = selector.requirements.len() == 1;
        let admitted = |&c: &usize| {
            self.classes[c].selectable() && (alone || selector.matches(&self.classes[c].labels))
        };
        let mut lists = values.iter().filter_map(|v| by_value.get(v));
        if values.len() == 1 {
            return lists
                .next()
                .map(|list| list.iter().copied().filter(admitted).collect())
                .unwrap_or_default();
        }
        let mut out: Vec<usize> = lists.flatten().copied().filter(admitted).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// The classes peer `peer` of rule `rule` matches (empty for ipBlock and invalid peers),
    /// sorted. Computed when asked: a peer such as `podSelector: {}` matches a whole namespace.
    pub fn peer_classes(&self, rule: usize, peer: usize) -> Vec<usize> {
        let Some(p) = self.rules[rule].peers.iter().flatten().nth(peer) else {
            return Vec::new();
        };
        let pods = match &p.kind {
            PeerKind::Pods { pods, .. } => pods,
            PeerKind::Ip(block) => {
                return if holds_nodes(&block.parts, &self.options.xks.node_cidrs) {
                    self.host_classes.clone()
                } else {
                    Vec::new()
                };
            }
            PeerKind::Invalid(_) => return Vec::new(),
        };
        let everything = Selector::everything();
        let pods = pods.as_deref().unwrap_or(&everything);
        self.peer_namespace_list(rule, peer)
            .into_iter()
            .flat_map(|ns| self.classes_in(ns, pods))
            .collect()
    }

    /// Whether peer `peer` of rule `rule` matches class `class`: the peer's selectors
    /// evaluated on the class, nothing stored per pair.
    fn peer_matches_class(&self, rule: usize, peer: usize, class: usize) -> bool {
        let Some(p) = self.rules[rule].peers.iter().flatten().nth(peer) else {
            return false;
        };
        let (pods, namespaces) = match &p.kind {
            PeerKind::Pods { pods, namespaces } => (pods, namespaces),
            PeerKind::Ip(block) => {
                return self.classes[class].host_network
                    && holds_nodes(&block.parts, &self.options.xks.node_cidrs);
            }
            PeerKind::Invalid(_) => return false,
        };
        if !self.classes[class].selectable() {
            return false;
        }
        let in_namespace = match namespaces {
            None => {
                self.classes[class].namespace == self.policies[self.rules[rule].policy].namespace
            }
            Some(_) => self
                .peer_namespaces(rule, peer)
                .is_some_and(|bits| bits.contains(self.class_namespace[class])),
        };
        in_namespace
            && pods
                .as_ref()
                .is_none_or(|s| s.matches(&self.classes[class].labels))
    }

    /// The classes rule `rule`'s peers match, as sorted, disjoint index ranges: a whole
    /// namespace is one range, so the size follows the rule, not the classes it covers.
    pub(crate) fn rule_class_ranges(&self, rule: usize) -> Vec<std::ops::Range<usize>> {
        let Some(peers) = &self.rules[rule].peers else {
            return std::iter::once(0..self.classes.len()).collect();
        };
        let mut ranges = Vec::new();
        for (p, peer) in peers.iter().enumerate() {
            let pods = match &peer.kind {
                PeerKind::Pods { pods, .. } => pods,
                PeerKind::Ip(block) => {
                    if holds_nodes(&block.parts, &self.options.xks.node_cidrs) {
                        ranges.extend(self.host_classes.iter().map(|&c| c..c + 1));
                    }
                    continue;
                }
                PeerKind::Invalid(_) => continue,
            };
            let everything = Selector::everything();
            for ns in self.peer_namespace_list(rule, p) {
                let has_host = self.namespace_has_host.get(ns) == Some(&true);
                match pods {
                    // A namespace holding hostNetwork classes is not one selectable run.
                    None if has_host => ranges.extend(
                        self.classes_in(ns, &everything)
                            .into_iter()
                            .map(|c| c..c + 1),
                    ),
                    Some(selector) if !selector.is_everything() || has_host => {
                        ranges.extend(self.classes_in(ns, selector).into_iter().map(|c| c..c + 1))
                    }
                    _ => ranges.extend(self.namespace_classes.get(ns).cloned()),
                }
            }
        }
        listing::merge_ranges(ranges)
    }

    /// The IP segments rule `rule`'s peers match, as sorted, disjoint index ranges (every
    /// ipBlock part is a run of segments, found by binary search).
    pub(crate) fn rule_segment_ranges(&self, rule: usize) -> Vec<std::ops::Range<usize>> {
        let Some(peers) = &self.rules[rule].peers else {
            return std::iter::once(0..self.segments.len()).collect();
        };
        let mut ranges = Vec::new();
        for peer in peers {
            if let PeerKind::Ip(block) = &peer.kind {
                for part in &block.parts {
                    let lo = self
                        .segments
                        .partition_point(|s| (s.family, s.start) < (part.family, part.start));
                    let hi = self
                        .segments
                        .partition_point(|s| (s.family, s.end) <= (part.family, part.end));
                    if lo < hi {
                        ranges.push(lo..hi);
                    }
                }
            }
        }
        listing::merge_ranges(ranges)
    }

    /// Connections rule `rule` opens towards a destination class (`None`: an address).
    pub fn rule_conns(&self, rule: usize, dst_class: Option<usize>) -> ConnSet {
        match (self.rule_fixed[rule], dst_class) {
            (Some(fixed), _) => self.fixed_conns[fixed as usize].clone(),
            (None, Some(c)) => match (
                self.rule_named[rule].and_then(|row| self.named_rows.get(row as usize)),
                self.class_port_list.get(c),
            ) {
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

    /// The position of namespace `name` in `namespaces` order.
    pub fn namespace_position(&self, name: &str) -> Option<usize> {
        self.namespace_index.get(name).copied()
    }

    /// The position (in `namespaces` order) of the namespace of class `class`.
    pub fn class_namespace_position(&self, class: usize) -> Option<usize> {
        self.class_namespace.get(class).copied()
    }

    pub fn is_endpoint(&self, class: usize) -> bool {
        self.classes[class].endpoint.is_some()
    }

    pub fn is_xks(&self) -> bool {
        self.options.semantics == Semantics::Xks
    }

    pub fn class_of(&self, object: ObjectId) -> Option<usize> {
        self.class_of_object
            .get(object.0)
            .filter(|&&c| c != NO_CLASS)
            .map(|&c| c as usize)
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

    /// Connections allowed from one class to another: the per-pair evaluation of
    /// [`Graph::explain`] (the one source of semantics), except between two platform
    /// endpoints, whose mutual traffic is not modelled.
    pub fn allowed(&self, src: usize, dst: usize) -> ConnSet {
        if self.is_endpoint(src) && self.is_endpoint(dst) {
            return ConnSet::none();
        }
        self.pair_conns(src, dst)
    }

    /// Connections allowed from class `src` to class `dst`: the one per-pair evaluation
    /// behind the listing, the rules and `why` (through [`Graph::explain`]).
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

    pub fn isolated(&self, class: usize, direction: policy::Direction) -> bool {
        match direction {
            policy::Direction::Ingress => self.isolated_ingress[class],
            policy::Direction::Egress => self.isolated_egress[class],
        }
    }

    /// Classes of `namespace` whose labels match `selector`.
    pub fn classes_matching(&self, namespace: &str, selector: &Selector) -> Vec<usize> {
        match self.namespace_index.get(namespace) {
            Some(&ns) => self.classes_in(ns, selector),
            None => Vec::new(),
        }
    }

    /// Whether NetworkPolicy rule `rule`'s peers match the other end.
    fn rule_matches(&self, rule: usize, other: &Other) -> bool {
        match other {
            Other::Class(c) => match &self.rules[rule].peers {
                None => true,
                Some(peers) => (0..peers.len()).any(|p| self.peer_matches_class(rule, p, *c)),
            },
            Other::Segment(s) => match (&self.rules[rule].peers, self.segments.get(*s)) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(peers), Some(segment)) => peers.iter().any(|p| match &p.kind {
                    PeerKind::Ip(block) => block.parts.iter().any(|r| r.contains(segment)),
                    _ => false,
                }),
            },
            Other::Address(addr) => match &self.rules[rule].peers {
                None => true,
                Some(peers) => peers.iter().any(|p| match &p.kind {
                    PeerKind::Ip(block) => block.parts.iter().any(|r| r.contains_addr(*addr)),
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

    /// The listing's ends of every workload or platform endpoint of a class.
    pub fn member_ends(&self, class: usize) -> Vec<End> {
        self.classes
            .get(class)
            .map(|c| c.members.iter().map(|m| self.end_of(m, class)).collect())
            .unwrap_or_default()
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
