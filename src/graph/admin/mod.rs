//! AdminNetworkPolicy and BaselineAdminNetworkPolicy (`policy.networking.k8s.io/v1alpha1`,
//! the Network Policy API project), compiled for evaluation, and the validation the
//! CRD's schema and CEL rules apply to them.
//!
//! Evaluation of one direction of one pair (see [`Tiers`]): the AdminNetworkPolicies
//! selecting the pod, by priority (lower number first; equal priorities by name), each
//! one's rules in written order; the first rule matching a connection decides it:
//! `Allow` and `Deny` are final, `Pass` skips every remaining admin rule. What no admin
//! rule decided, and what was passed, goes to the NetworkPolicies: when one selects the
//! pod for the direction they are final; otherwise the BaselineAdminNetworkPolicy's rules
//! decide (first match, `Allow` or `Deny`), and what is still undecided is allowed.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::ip::IpRange;
use super::policy::{Direction, PortSpec};
use super::ports::{ConnSet, PortSet, Protocol};
use super::selector::{Requirement, Selector};
use crate::load::yaml::{Node, Resolved};
use crate::model::validation::port_name_error;
use std::collections::BTreeMap;

mod validation;
pub use validation::problems;

use super::{BitSet, NamespaceInfo, Other, PodClass};
use crate::model::{Model, Object, ObjectId};
use crate::span::Location;

/// The API group (with its `/`) of both kinds.
pub const API_GROUP: &str = "policy.networking.k8s.io/";
/// The one name a BaselineAdminNetworkPolicy may have.
pub const BASELINE_NAME: &str = "default";
const MAX_RULES: usize = 100;
const MAX_PEERS: usize = 100;
const MAX_PORTS: usize = 100;
const MAX_NETWORKS: usize = 25;
const MAX_RULE_NAME: usize = 100;
const MAX_PRIORITY: i64 = 1000;

/// Before (`Admin`) or after (`Baseline`) the NetworkPolicies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    Admin,
    Baseline,
}

impl Tier {
    /// The tier of an object of this kind and API version, if it is one of the two kinds.
    pub fn of(object: &Object) -> Option<Tier> {
        if !object.api_version.starts_with(API_GROUP) {
            return None;
        }
        match object.kind.as_str() {
            "AdminNetworkPolicy" => Some(Tier::Admin),
            "BaselineAdminNetworkPolicy" => Some(Tier::Baseline),
            _ => None,
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Tier::Admin => "AdminNetworkPolicy",
            Tier::Baseline => "BaselineAdminNetworkPolicy",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Allow,
    Deny,
    Pass,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "Allow",
            Action::Deny => "Deny",
            Action::Pass => "Pass",
        }
    }
}

/// The pods a policy applies to.
#[derive(Debug, Clone)]
pub enum AdminSubject {
    /// Every pod of the matching namespaces.
    Namespaces(Selector),
    /// Matching pods of matching namespaces.
    Pods {
        namespaces: Selector,
        pods: Selector,
    },
    /// A subject the API server rejects: the policy applies to no pod.
    Nothing,
}

#[derive(Debug, Clone)]
pub enum AdminPeerKind {
    /// Every pod of the matching namespaces.
    Namespaces(Selector),
    /// Matching pods of matching namespaces.
    Pods {
        namespaces: Selector,
        pods: Selector,
    },
    /// Egress only: addresses in these CIDRs. `0.0.0.0/0` also holds every pod.
    Networks(Vec<IpRange>),
    /// A peer xks-lint cannot place (`nodes`: node addresses; `domainNames`: resolved
    /// addresses): it matches nothing.
    Unmodelled(&'static str),
    /// A peer with none of the fields, or a rejected value: matches nothing.
    Invalid(String),
}

#[derive(Debug, Clone)]
pub struct AdminPeer {
    pub kind: AdminPeerKind,
    pub location: Option<Location>,
    /// `spec.egress[0].to[1]`.
    pub path: String,
}

#[derive(Debug, Clone)]
pub struct AdminRule {
    pub policy: usize,
    pub direction: Direction,
    pub index: usize,
    /// The rule's `name` (empty when it has none).
    pub name: String,
    pub action: Action,
    pub peers: Vec<AdminPeer>,
    /// `None`: `ports` missing, every port matches.
    pub ports: Option<Vec<PortSpec>>,
    /// A `Deny` or `Pass` rule with a peer of no known field: the specification asks
    /// consumers to fail closed, so the rule denies every connection.
    pub fail_closed: bool,
    pub location: Option<Location>,
    /// `spec.ingress[0]`.
    pub path: String,
}

impl AdminRule {
    /// Connections the rule matches towards a destination with these named ports.
    pub fn conns_for(&self, named_ports: &[(String, Protocol, u16)]) -> ConnSet {
        if self.fail_closed {
            return ConnSet::all();
        }
        let Some(ports) = &self.ports else {
            return ConnSet::all();
        };
        let mut conns = ConnSet::none();
        for spec in ports {
            match spec {
                PortSpec::Numbers(protocol, set) => {
                    conns.union_with(&ConnSet::of(*protocol, set.clone()))
                }
                // A named port names a container port, of any protocol (the API has no
                // protocol next to `namedPort`).
                PortSpec::Named(_, name) => {
                    for (_, p, number) in named_ports.iter().filter(|(n, _, _)| n == name) {
                        conns.union_with(&ConnSet::single(*p, *number));
                    }
                }
            }
        }
        conns
    }

    pub fn has_named_ports(&self) -> bool {
        !self.fail_closed
            && self
                .ports
                .iter()
                .flatten()
                .any(|p| matches!(p, PortSpec::Named(..)))
    }

    /// The action the rule takes: a fail-closed rule denies.
    pub fn effective_action(&self) -> Action {
        if self.fail_closed {
            Action::Deny
        } else {
            self.action
        }
    }
}

#[derive(Debug, Clone)]
pub struct AdminPolicy {
    pub tier: Tier,
    pub name: String,
    /// `spec.priority` (0 for the baseline policy, which has none).
    pub priority: i64,
    pub subject: AdminSubject,
    /// Indices into the admin rules, ingress first, each direction in written order.
    pub rules: Vec<usize>,
    pub object: ObjectId,
    pub location: Location,
}

impl AdminPolicy {
    /// `AdminNetworkPolicy deny-all (priority 10)` / `BaselineAdminNetworkPolicy default`.
    pub fn title(&self) -> String {
        match self.tier {
            Tier::Admin => format!(
                "{} {} (priority {})",
                self.tier.kind(),
                self.name,
                self.priority
            ),
            Tier::Baseline => format!("{} {}", self.tier.kind(), self.name),
        }
    }
}

fn present(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| !n.is_null())
}

fn int_of(node: &Node) -> Option<i64> {
    match node.as_scalar()?.resolve() {
        Resolved::Int(value) => Some(value),
        _ => None,
    }
}

/// A label selector as written, or one that matches nothing when it does not decode.
fn selector_of(node: Option<&Node>) -> Selector {
    let Some(node) = present(node) else {
        // A required selector that is missing: the API server rejects it.
        return Selector {
            requirements: vec![Requirement::Invalid("missing selector".to_string())],
        };
    };
    match serde_json::from_value::<LabelSelector>(node.to_json()) {
        Ok(selector) => Selector::compile(&selector),
        Err(e) => Selector {
            requirements: vec![Requirement::Invalid(e.to_string())],
        },
    }
}

/// `namespaces` or `pods` (`namespaceSelector` + `podSelector`) of a subject or a peer.
fn selection_of(node: &Node) -> Option<(Selector, Option<Selector>)> {
    if let Some(namespaces) = present(node.get("namespaces")) {
        return Some((selector_of(Some(namespaces)), None));
    }
    let pods = present(node.get("pods"))?;
    Some((
        selector_of(pods.get("namespaceSelector")),
        Some(selector_of(pods.get("podSelector"))),
    ))
}

/// Named fields of a map node that are set (not null).
fn set_fields<'n>(node: &'n Node, fields: &[&'n str]) -> Vec<&'n str> {
    fields
        .iter()
        .copied()
        .filter(|f| present(node.get(f)).is_some())
        .collect()
}

fn protocol_of(node: &Node) -> Option<Protocol> {
    match present(node.get("protocol")).map(|p| p.scalar_text()) {
        None => Some(Protocol::Tcp),
        Some(Some("TCP")) => Some(Protocol::Tcp),
        Some(Some("UDP")) => Some(Protocol::Udp),
        Some(Some("SCTP")) => Some(Protocol::Sctp),
        Some(_) => None,
    }
}

fn port_number(node: Option<&Node>) -> Option<u16> {
    let value = int_of(present(node)?)?;
    u16::try_from(value).ok().filter(|n| *n >= 1)
}

/// One `ports` entry, or `None` when the API server rejects it (it then matches nothing).
fn compile_port(node: &Node) -> Option<PortSpec> {
    let fields = set_fields(node, &["portNumber", "namedPort", "portRange"]);
    match fields.as_slice() {
        ["portNumber"] => {
            let number = node.get("portNumber")?;
            let port = port_number(number.get("port"))?;
            Some(PortSpec::Numbers(
                protocol_of(number)?,
                PortSet::range(port, port),
            ))
        }
        ["portRange"] => {
            let range = node.get("portRange")?;
            let (start, end) = (
                port_number(range.get("start"))?,
                port_number(range.get("end"))?,
            );
            let protocol = protocol_of(range)?;
            (start < end).then(|| PortSpec::Numbers(protocol, PortSet::range(start, end)))
        }
        ["namedPort"] => {
            let name = node.get("namedPort")?.scalar_text()?;
            port_name_error(name)
                .is_none()
                .then(|| PortSpec::Named(Protocol::Tcp, name.to_string()))
        }
        _ => None,
    }
}

fn compile_peer(node: &Node, direction: Direction, tier: Tier) -> AdminPeerKind {
    let mut known = vec!["namespaces", "pods"];
    if direction == Direction::Egress {
        known.extend(["nodes", "networks"]);
        if tier == Tier::Admin {
            known.push("domainNames");
        }
    }
    let fields = set_fields(node, &known);
    match fields.as_slice() {
        ["namespaces"] | ["pods"] => match selection_of(node) {
            Some((namespaces, None)) => AdminPeerKind::Namespaces(namespaces),
            Some((namespaces, Some(pods))) => AdminPeerKind::Pods { namespaces, pods },
            None => AdminPeerKind::Invalid("no selector".to_string()),
        },
        ["networks"] => {
            let items = node
                .get("networks")
                .and_then(Node::as_seq)
                .unwrap_or_default();
            let mut ranges = Vec::new();
            for item in items {
                match item.scalar_text().map(super::policy::policy_cidr) {
                    Some(Ok((_, range))) => ranges.push(range),
                    _ => {
                        return AdminPeerKind::Invalid(format!(
                            "`{}` is not a CIDR",
                            item.scalar_text().unwrap_or("")
                        ));
                    }
                }
            }
            if ranges.is_empty() {
                AdminPeerKind::Invalid("no network".to_string())
            } else {
                AdminPeerKind::Networks(ranges)
            }
        }
        ["nodes"] => AdminPeerKind::Unmodelled("nodes"),
        ["domainNames"] => AdminPeerKind::Unmodelled("domainNames"),
        [] => AdminPeerKind::Invalid("a peer needs one of its fields".to_string()),
        _ => AdminPeerKind::Invalid("a peer sets exactly one field".to_string()),
    }
}

/// Compiles an AdminNetworkPolicy or BaselineAdminNetworkPolicy; its rules are appended
/// to `rules`. Lenient: what the API server would reject matches nothing (see [`problems`]).
pub fn compile(
    object: &Object,
    tier: Tier,
    index: usize,
    rules: &mut Vec<AdminRule>,
) -> AdminPolicy {
    let spec = object.node.get("spec");
    let subject = match spec.and_then(|s| present(s.get("subject"))) {
        Some(subject) if set_fields(subject, &["namespaces", "pods"]).len() == 1 => {
            match selection_of(subject) {
                Some((namespaces, None)) => AdminSubject::Namespaces(namespaces),
                Some((namespaces, Some(pods))) => AdminSubject::Pods { namespaces, pods },
                None => AdminSubject::Nothing,
            }
        }
        _ => AdminSubject::Nothing,
    };
    let priority = spec
        .and_then(|s| present(s.get("priority")))
        .and_then(int_of)
        .filter(|p| (0..=MAX_PRIORITY).contains(p));
    let subject = match (tier, priority) {
        // An AdminNetworkPolicy without a valid priority is rejected: it applies to nothing.
        (Tier::Admin, None) => AdminSubject::Nothing,
        _ => subject,
    };
    let mut rule_ids = Vec::new();
    for direction in [Direction::Ingress, Direction::Egress] {
        let items = spec
            .and_then(|s| s.get(direction.as_str()))
            .and_then(Node::as_seq)
            .unwrap_or_default();
        for (i, rule) in items.iter().enumerate() {
            let path = format!("spec.{}[{i}]", direction.as_str());
            let action = match rule.get("action").and_then(Node::scalar_text) {
                Some("Allow") => Some(Action::Allow),
                Some("Deny") => Some(Action::Deny),
                Some("Pass") if tier == Tier::Admin => Some(Action::Pass),
                _ => None,
            };
            let peer_nodes = rule
                .get(direction.peers_key())
                .and_then(Node::as_seq)
                .unwrap_or_default();
            let peers: Vec<AdminPeer> = peer_nodes
                .iter()
                .enumerate()
                .map(|(j, peer)| AdminPeer {
                    kind: compile_peer(peer, direction, tier),
                    location: Some(object.location_of(peer)),
                    path: format!("{path}.{}[{j}]", direction.peers_key()),
                })
                .collect();
            let ports = present(rule.get("ports"))
                .map(|ports| {
                    ports
                        .as_seq()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(compile_port)
                        .collect()
                })
                .map(Some)
                .unwrap_or(None);
            // No peer of a known field: fail closed (see `AdminRule::fail_closed`).
            let unknown_peer = peer_nodes.iter().any(|p| {
                set_fields(
                    p,
                    &["namespaces", "pods", "nodes", "networks", "domainNames"],
                )
                .is_empty()
            });
            // A rule without a valid action matches nothing (the policy is rejected): an
            // `Allow` rule without peers.
            let (action, fail_closed, peers) = match action {
                Some(action) => (action, unknown_peer && action != Action::Allow, peers),
                None => (Action::Allow, false, Vec::new()),
            };
            rule_ids.push(rules.len());
            rules.push(AdminRule {
                policy: index,
                direction,
                index: i,
                name: rule
                    .get("name")
                    .and_then(Node::scalar_text)
                    .unwrap_or_default()
                    .to_string(),
                action,
                peers,
                ports,
                fail_closed,
                location: Some(object.location_of(rule)),
                path,
            });
        }
    }
    AdminPolicy {
        tier,
        name: object.name.to_string(),
        priority: priority.unwrap_or(0),
        subject,
        rules: rule_ids,
        object: object.id,
        location: object.location(object.name_span()),
    }
}

/// Whether a `networks` range holds every pod address: pods' own addresses are unknown
/// statically, but the whole IPv4 space certainly holds them (the specification: an
/// `Allow` or `Deny` to `0.0.0.0/0` applies to pod-to-pod traffic as well).
pub fn holds_every_pod(range: &IpRange) -> bool {
    *range == IpRange::universe(super::ip::Family::V4)
}

/// The admin policies of one graph, compiled and indexed by pod class.
#[derive(Debug, Default)]
pub struct AdminSet {
    pub policies: Vec<AdminPolicy>,
    pub rules: Vec<AdminRule>,
    /// Per class: `[tier][direction]` rule lists in precedence order.
    ordered: Vec<[[Vec<usize>; 2]; 2]>,
    /// Per rule: the classes and the IP segments its peers match.
    rule_classes: Vec<BitSet>,
    rule_segments: Vec<BitSet>,
    /// Connections of rules without named ports, the same for every destination.
    rule_fixed: Vec<Option<ConnSet>>,
}

fn slot(tier: Tier, direction: Direction) -> (usize, usize) {
    (
        match tier {
            Tier::Admin => 0,
            Tier::Baseline => 1,
        },
        match direction {
            Direction::Ingress => 0,
            Direction::Egress => 1,
        },
    )
}

impl AdminSet {
    /// Compiles every AdminNetworkPolicy and BaselineAdminNetworkPolicy of the model.
    /// Several baseline policies cannot exist (one name): all are kept, in name order.
    pub fn compile(model: &Model) -> AdminSet {
        let mut found: Vec<(&Object, Tier)> = model
            .objects
            .iter()
            .filter_map(|o| Tier::of(o).map(|t| (o, t)))
            .collect();
        // By name, then by content: the order never depends on file or document order
        // (two policies of one name cannot both exist; both are kept, deterministically).
        let mut keyed: Vec<(String, String, &Object, Tier)> = found
            .drain(..)
            .map(|(o, t)| (o.name.to_string(), o.node.to_json().to_string(), o, t))
            .collect();
        keyed.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        found = keyed.into_iter().map(|(_, _, o, t)| (o, t)).collect();
        let mut set = AdminSet::default();
        for (object, tier) in found {
            let index = set.policies.len();
            set.policies
                .push(compile(object, tier, index, &mut set.rules));
        }
        set
    }

    /// Every `networks` range, for the partition of the address space.
    pub fn ranges(&self) -> impl Iterator<Item = IpRange> + '_ {
        self.rules
            .iter()
            .flat_map(|r| r.peers.iter())
            .filter_map(|p| match &p.kind {
                AdminPeerKind::Networks(ranges) => Some(ranges.iter().copied()),
                _ => None,
            })
            .flatten()
    }

    /// Which classes each policy selects and each rule's peers match.
    pub fn index(
        &mut self,
        namespaces: &BTreeMap<String, NamespaceInfo>,
        classes: &[PodClass],
        segments: &[IpRange],
        node_cidrs: &[IpRange],
    ) {
        let n = classes.len();
        let namespace_labels =
            |class: &PodClass| namespaces.get(&class.namespace).map(|i| &i.labels);
        let in_selection = |class: &PodClass, ns: &Selector, pods: Option<&Selector>| {
            class.selectable()
                && namespace_labels(class).is_some_and(|labels| ns.matches(labels))
                && pods.is_none_or(|p| p.matches(&class.labels))
        };
        // Precedence: admin policies by (priority, name), the baseline after; rules in order.
        let mut order: Vec<usize> = (0..self.policies.len()).collect();
        order.sort_by(|&a, &b| {
            let (pa, pb) = (&self.policies[a], &self.policies[b]);
            (pa.tier, pa.priority, &pa.name, a).cmp(&(pb.tier, pb.priority, &pb.name, b))
        });
        // Without admin policies every class's lists stay empty: `ordered()` reads a missing
        // class as one, so no per-class slots are allocated.
        self.ordered = if self.policies.is_empty() {
            Vec::new()
        } else {
            vec![Default::default(); n]
        };
        for &p in &order {
            let policy = &self.policies[p];
            for (c, class) in classes.iter().enumerate() {
                let selected = match &policy.subject {
                    AdminSubject::Namespaces(ns) => in_selection(class, ns, None),
                    AdminSubject::Pods { namespaces, pods } => {
                        in_selection(class, namespaces, Some(pods))
                    }
                    AdminSubject::Nothing => false,
                };
                if !selected {
                    continue;
                }
                for &r in &policy.rules {
                    let (t, d) = slot(policy.tier, self.rules[r].direction);
                    self.ordered[c][t][d].push(r);
                }
            }
        }
        self.rule_classes = Vec::with_capacity(self.rules.len());
        self.rule_segments = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            let mut class_bits = BitSet::with_len(n);
            let mut segment_bits = BitSet::with_len(segments.len());
            if rule.fail_closed {
                (0..n).for_each(|c| class_bits.insert(c));
                (0..segments.len()).for_each(|s| segment_bits.insert(s));
            }
            for peer in &rule.peers {
                match &peer.kind {
                    AdminPeerKind::Namespaces(ns) => classes
                        .iter()
                        .enumerate()
                        .filter(|(_, class)| in_selection(class, ns, None))
                        .for_each(|(c, _)| class_bits.insert(c)),
                    AdminPeerKind::Pods { namespaces, pods } => classes
                        .iter()
                        .enumerate()
                        .filter(|(_, class)| in_selection(class, namespaces, Some(pods)))
                        .for_each(|(c, _)| class_bits.insert(c)),
                    AdminPeerKind::Networks(ranges) => {
                        for (s, segment) in segments.iter().enumerate() {
                            if ranges.iter().any(|r| r.contains(segment)) {
                                segment_bits.insert(s);
                            }
                        }
                        if ranges.iter().any(holds_every_pod) {
                            (0..n).for_each(|c| class_bits.insert(c));
                        } else if super::holds_nodes(ranges, node_cidrs) {
                            (0..n)
                                .filter(|&c| classes[c].host_network)
                                .for_each(|c| class_bits.insert(c));
                        }
                    }
                    AdminPeerKind::Unmodelled(_) | AdminPeerKind::Invalid(_) => {}
                }
            }
            self.rule_classes.push(class_bits);
            self.rule_segments.push(segment_bits);
        }
        self.rule_fixed = self
            .rules
            .iter()
            .map(|r| (!r.has_named_ports()).then(|| r.conns_for(&[])))
            .collect();
    }

    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// Rules of `tier` that apply to `class` in `direction`, in precedence order.
    pub fn ordered(&self, class: usize, tier: Tier, direction: Direction) -> &[usize] {
        let (t, d) = slot(tier, direction);
        self.ordered
            .get(class)
            .map(|slots| slots[t][d].as_slice())
            .unwrap_or_default()
    }

    /// Whether rule `rule`'s peers match the other end.
    pub fn matches(&self, rule: usize, other: &Other) -> bool {
        match other {
            Other::Class(c) => self.rule_classes[rule].contains(*c),
            Other::Segment(s) => self.rule_segments[rule].contains(*s),
            Other::Address(addr) => {
                self.rules[rule].fail_closed
                    || self.rules[rule].peers.iter().any(|p| match &p.kind {
                        AdminPeerKind::Networks(ranges) => {
                            ranges.iter().any(|r| r.contains_addr(*addr))
                        }
                        _ => false,
                    })
            }
        }
    }

    /// Connections rule `rule` matches towards a destination (`named_ports` of the
    /// destination pod, empty for an address).
    pub fn conns(&self, rule: usize, named_ports: &[(String, Protocol, u16)]) -> ConnSet {
        match &self.rule_fixed[rule] {
            Some(fixed) => fixed.clone(),
            None => self.rules[rule].conns_for(named_ports),
        }
    }

    /// Classes an `Allow` rule of the admin tier can admit in `direction` at `class`:
    /// the only sources an isolated pod can receive from beyond its NetworkPolicies.
    pub(crate) fn allow_candidates(
        &self,
        class: usize,
        direction: Direction,
    ) -> impl Iterator<Item = &BitSet> {
        self.ordered(class, Tier::Admin, direction)
            .iter()
            .filter(|&&r| self.rules[r].effective_action() == Action::Allow)
            .map(|&r| &self.rule_classes[r])
    }
}

/// One direction of one pair through the three tiers, recording who decided what.
#[derive(Debug, Clone, Default)]
pub struct Tiers {
    /// Admin rules that decided connections, in precedence order, with what each decided.
    pub admin: Vec<(usize, ConnSet)>,
    /// What reached the NetworkPolicies (undecided by admin rules, or passed).
    pub to_policies: ConnSet,
    /// Baseline rules that decided connections (only when no NetworkPolicy isolates the pod).
    pub baseline: Vec<(usize, ConnSet)>,
    /// Allowed because no rule of any tier decided them.
    pub by_default: ConnSet,
}

/// Walks ordered rules over the connections still `open`: each matching rule decides
/// what it matches of them. Returns (allowed, passed); `open` keeps what is undecided.
pub fn decide(
    rules: impl Iterator<Item = (usize, Action, ConnSet)>,
    open: &mut ConnSet,
    mut record: Option<&mut Vec<(usize, ConnSet)>>,
) -> (ConnSet, ConnSet) {
    let mut allowed = ConnSet::none();
    let mut passed = ConnSet::none();
    let mut denied = ConnSet::none();
    for (rule, action, conns) in rules {
        if open.is_empty() {
            break;
        }
        let hit = if conns.is_all() {
            std::mem::take(open)
        } else {
            let hit = open.intersect(&conns);
            if hit.is_empty() {
                continue;
            }
            *open = open.subtract(&hit);
            hit
        };
        let kept = match action {
            Action::Allow => &mut allowed,
            Action::Deny => &mut denied,
            Action::Pass => &mut passed,
        };
        match record.as_deref_mut() {
            Some(record) => {
                kept.union_with(&hit);
                record.push((rule, hit));
            }
            None if kept.is_empty() => *kept = hit,
            None => kept.union_with(&hit),
        }
    }
    (allowed, passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(from: u16, to: u16) -> ConnSet {
        ConnSet::of(Protocol::Tcp, PortSet::range(from, to))
    }

    /// Malformed admin policies of every shape: never a panic, every problem located,
    /// and the graph still builds.
    #[test]
    fn hostile_admin_policies_compile_and_validate_without_panics() {
        let specs = [
            "spec: 7",
            "spec: {priority: [1], subject: 3, ingress: {a: b}, egress: x}",
            "spec: {priority: -1, subject: {namespaces: [1]}, ingress: [7, [], {action: [Allow]}]}",
            "spec: {priority: 99999999999999999999, subject: {pods: 1}}",
            "spec: {priority: 1, subject: {pods: {}}, egress: [{action: Deny, to: [{networks: 5}], ports: 3}]}",
            "spec: {priority: 1, subject: {namespaces: {}}, egress: [{action: Pass, to: [{networks: [1, {a: b}, '::/0']}], ports: [{portRange: {start: x, end: []}}, {portNumber: 1}, {namedPort: [a]}]}]}",
            "spec: {priority: 1, subject: {namespaces: {matchExpressions: 1}}, ingress: [{action: Deny, from: [{}, {pods: {namespaceSelector: 1, podSelector: {matchLabels: [1]}}}]}]}",
        ];
        for (i, spec) in specs.iter().enumerate() {
            for kind in ["AdminNetworkPolicy", "BaselineAdminNetworkPolicy"] {
                let yaml = format!(
                    "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: {kind}\nmetadata: {{name: p{i}}}\n{spec}\n---\napiVersion: v1\nkind: Pod\nmetadata: {{name: x, namespace: n}}\nspec: {{containers: [{{name: c, image: i}}]}}\n"
                );
                let model = crate::graph::tests::model_of(&yaml);
                let object = model
                    .objects
                    .iter()
                    .find(|o| o.kind == kind)
                    .expect("the policy is modelled");
                let tier = Tier::of(object).expect("an admin kind");
                assert!(!problems(object, tier).is_empty(), "{kind} {spec}");
                let graph = crate::graph::Graph::build(&model, &Default::default());
                assert_eq!(graph.admin.policies.len(), 1, "{kind} {spec}");
            }
        }
    }

    #[test]
    fn first_matching_rule_decides_each_connection() {
        let mut open = ConnSet::all();
        let mut record = Vec::new();
        let (allowed, passed) = decide(
            [
                (0, Action::Deny, tcp(80, 80)),
                (1, Action::Allow, tcp(1, 100)),
                (2, Action::Pass, ConnSet::all()),
            ]
            .into_iter(),
            &mut open,
            Some(&mut record),
        );
        assert_eq!(allowed, tcp(1, 79).union(&tcp(81, 100)));
        assert!(open.is_empty());
        assert_eq!(passed, ConnSet::all().subtract(&tcp(1, 100)));
        assert_eq!(record.len(), 3);
        assert_eq!(record[0].1, tcp(80, 80));
    }
}
