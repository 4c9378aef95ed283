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

pub mod admin;
pub mod listing;
pub mod policy;
pub mod ports;
pub mod selector;
pub mod settings;

/// IP ranges live below the configuration, which checks CIDRs with them.
pub use crate::ip;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

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

/// Namespace label index and each namespace's labels, in `Graph::namespaces` order.
type NamespaceLabels<'a> = (
    HashMap<&'a str, HashMap<&'a str, Vec<usize>>>,
    Vec<&'a Labels>,
);

/// Namespaces (indices) whose labels match `selector`: through the index when the selector
/// pins a key, else by asking each.
fn namespaces_matching(
    index: &NamespaceLabels<'_>,
    count: usize,
    selector: &Selector,
) -> Vec<usize> {
    let (by_label, labels) = index;
    let pinned = selector.requirements.iter().find_map(|r| match r {
        selector::Requirement::In(key, values) => Some((key, values)),
        _ => None,
    });
    let candidates: Vec<usize> = match pinned {
        Some((key, values)) => {
            let mut out: Vec<usize> = values
                .iter()
                .filter_map(|v| by_label.get(key.as_str()).and_then(|m| m.get(v.as_str())))
                .flatten()
                .copied()
                .collect();
            out.sort_unstable();
            out.dedup();
            out
        }
        None => (0..count).collect(),
    };
    candidates
        .into_iter()
        .filter(|&i| labels.get(i).is_some_and(|l| selector.matches(l)))
        .collect()
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
    namespace_index: HashMap<String, usize>,
    /// Per class: its namespace's index.
    class_namespace: Vec<usize>,
    /// Per namespace: label key → value → its classes carrying that label (sorted).
    label_index: Vec<HashMap<String, HashMap<String, Vec<usize>>>>,
    /// Per rule, per peer with a `namespaceSelector`: the namespaces it matches.
    peer_namespaces: Vec<Vec<Option<BitSet>>>,
    class_of_object: HashMap<ObjectId, usize>,
    ingress_rules: Vec<Vec<usize>>,
    egress_rules: Vec<Vec<usize>>,
    isolated_ingress: Vec<bool>,
    isolated_egress: Vec<bool>,
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
        // Namespaces by index; classes are sorted by namespace, so each namespace's are a run.
        let namespace_index: HashMap<String, usize> = namespaces
            .keys()
            .enumerate()
            .map(|(i, name)| (name.clone(), i))
            .collect();
        let mut namespace_classes = vec![0..0; namespaces.len()];
        let mut namespace_has_host = vec![false; namespaces.len()];
        let mut host_classes = Vec::new();
        let mut class_namespace = Vec::with_capacity(classes.len());
        let mut label_index: Vec<HashMap<String, HashMap<String, Vec<usize>>>> =
            vec![HashMap::new(); namespaces.len()];
        for (c, class) in classes.iter().enumerate() {
            let ns = namespace_index.get(&class.namespace).copied().unwrap_or(0);
            class_namespace.push(ns);
            if class.host_network {
                host_classes.push(c);
                if let Some(flag) = namespace_has_host.get_mut(ns) {
                    *flag = true;
                }
            }
            let run = &mut namespace_classes[ns];
            if run.start == run.end {
                *run = c..c + 1;
            } else {
                run.end = c + 1;
            }
            for (key, value) in &class.labels {
                label_index[ns]
                    .entry(key.clone())
                    .or_default()
                    .entry(value.clone())
                    .or_default()
                    .push(c);
            }
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
            // Namespaces holding a default-deny of their own: one pass, not one per namespace.
            let with_default_deny: std::collections::HashSet<&str> = repo_policies
                .iter()
                .filter(|(o, _)| {
                    o.name == settings.default_deny_name
                        || settings.default_deny_names.contains(&o.name)
                })
                .map(|(o, _)| o.namespace.as_str())
                .collect();
            // (namespace, name) of the repository's policies: which allowances a namespace
            // already has is a lookup, not a scan of every policy per namespace.
            let repo_names: std::collections::HashSet<(&str, &str)> = repo_policies
                .iter()
                .map(|(o, _)| (o.namespace.as_str(), o.name.as_str()))
                .collect();
            for namespace in tenants {
                let present = with_default_deny.contains(namespace.as_str());
                if !present {
                    let index = policies.len();
                    policies.push(policy::xks_default_deny(
                        namespace, settings, index, &mut rules,
                    ));
                }
                for allowance in &settings.allowances {
                    let present =
                        repo_names.contains(&(namespace.as_str(), allowance.policy_name.as_str()));
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
        let mut graph = Graph {
            options: options.clone(),
            namespaces,
            classes,
            policies,
            rules,
            admin,
            segments,
            host_classes,
            namespace_has_host,
            policy_classes: Vec::new(),
            class_policies: Vec::new(),
            namespace_classes,
            namespace_index,
            class_namespace,
            label_index,
            peer_namespaces: Vec::new(),
            class_of_object,
            ingress_rules: vec![Vec::new(); n],
            egress_rules: vec![Vec::new(); n],
            isolated_ingress: vec![false; n],
            isolated_egress: vec![false; n],
            rule_fixed: Vec::new(),
            class_port_list: Vec::new(),
            rule_named: Vec::new(),
        };
        let mut policy_classes = Vec::with_capacity(graph.policies.len());
        for policy in &graph.policies {
            let selected = graph.classes_matching(&policy.namespace, &policy.pod_selector);
            for &c in &selected {
                if policy.isolates_ingress {
                    graph.isolated_ingress[c] = true;
                }
                if policy.isolates_egress {
                    graph.isolated_egress[c] = true;
                }
                for &r in &policy.rules {
                    match graph.rules[r].direction {
                        policy::Direction::Ingress if policy.isolates_ingress => {
                            graph.ingress_rules[c].push(r)
                        }
                        policy::Direction::Egress if policy.isolates_egress => {
                            graph.egress_rules[c].push(r)
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
        graph.policy_classes = policy_classes;
        graph.class_policies = class_policies;

        // Per peer with a namespace selector, the namespaces it matches: the only set
        // computed ahead; which pods a peer matches is evaluated when asked.
        let namespace_count = graph.namespaces.len();
        // Namespace label index (key → value → namespaces): a selector pinning `name` finds
        // its namespace without asking every namespace, for every peer.
        let mut namespace_labels: HashMap<&str, HashMap<&str, Vec<usize>>> = HashMap::new();
        let mut namespace_label_sets: Vec<&Labels> = Vec::with_capacity(namespace_count);
        for (i, info) in graph.namespaces.values().enumerate() {
            namespace_label_sets.push(&info.labels);
            for (key, value) in &info.labels {
                namespace_labels
                    .entry(key.as_str())
                    .or_default()
                    .entry(value.as_str())
                    .or_default()
                    .push(i);
            }
        }
        let namespace_labels = (namespace_labels, namespace_label_sets);
        graph.peer_namespaces = graph
            .rules
            .iter()
            .map(|rule| {
                rule.peers
                    .iter()
                    .flatten()
                    .map(|peer| match &peer.kind {
                        PeerKind::Pods {
                            namespaces: Some(selector),
                            ..
                        } => {
                            let mut bits = BitSet::with_len(namespace_count);
                            for i in
                                namespaces_matching(&namespace_labels, namespace_count, selector)
                            {
                                bits.insert(i);
                            }
                            Some(bits)
                        }
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        graph.rule_fixed = graph
            .rules
            .iter()
            .map(|r| (!r.has_named_ports()).then(|| r.conns_for(&[])))
            .collect();
        // Named ports resolve per destination: once per distinct port list, not per pair.
        type PortList<'a> = &'a [(String, Protocol, u16)];
        let mut port_lists: HashMap<PortList, u32> = HashMap::new();
        let class_port_list: Vec<u32> = graph
            .classes
            .iter()
            .map(|c| {
                let next = u32::try_from(port_lists.len()).unwrap_or(u32::MAX);
                *port_lists.entry(c.ports.as_slice()).or_insert(next)
            })
            .collect();
        let mut lists: Vec<(PortList, u32)> = port_lists.into_iter().collect();
        lists.sort_by_key(|(_, id)| *id);
        let mut budget = MAX_NAMED_CACHE;
        let rule_named: Vec<Option<Vec<ConnSet>>> = graph
            .rules
            .iter()
            .zip(&graph.rule_fixed)
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
        graph.class_port_list = class_port_list;
        graph.rule_named = rule_named;
        graph
    }

    /// The namespaces (indices) a pod peer of rule `rule` covers.
    fn peer_namespace_list(&self, rule: usize, peer: usize) -> Vec<usize> {
        match self.peer_namespaces.get(rule).and_then(|p| p.get(peer)) {
            Some(Some(bits)) => bits.iter().collect(),
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
        let mut out: Vec<usize> = values
            .iter()
            .filter_map(|v| by_value.get(v))
            .flatten()
            .copied()
            .filter(|&c| self.classes[c].selectable() && selector.matches(&self.classes[c].labels))
            .collect();
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
            PeerKind::Ip { parts, .. } => {
                return if holds_nodes(parts, &self.options.xks.node_cidrs) {
                    self.host_classes.clone()
                } else {
                    Vec::new()
                };
            }
            PeerKind::Invalid(_) => return Vec::new(),
        };
        let everything = Selector::everything();
        let pods = pods.as_ref().unwrap_or(&everything);
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
            PeerKind::Ip { parts, .. } => {
                return self.classes[class].host_network
                    && holds_nodes(parts, &self.options.xks.node_cidrs);
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
                .peer_namespaces
                .get(rule)
                .and_then(|p| p.get(peer))
                .and_then(Option::as_ref)
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
                PeerKind::Ip { parts, .. } => {
                    if holds_nodes(parts, &self.options.xks.node_cidrs) {
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
            if let PeerKind::Ip { parts, .. } = &peer.kind {
                for part in parts {
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
                    PeerKind::Ip { parts, .. } => parts.iter().any(|r| r.contains(segment)),
                    _ => false,
                }),
            },
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
