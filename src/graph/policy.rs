//! NetworkPolicies compiled for evaluation: selectors, peers, ports, and the
//! source location of every rule and peer (for provenance).

use std::sync::Arc;

use k8s_openapi::api::networking::v1::NetworkPolicyPort;

use crate::model::specs::{PeerSpec, PolicySpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::intern::PolicyInterner;
use super::ip::{self, IpRange};
use super::ports::{ConnSet, PortSet, Protocol};
use super::selector::Selector;
use crate::model::validation::{self, port_name_error};
use crate::model::{Object, ObjectId};
use crate::span::Location;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }

    /// `from` for ingress rules, `to` for egress rules.
    pub fn peers_key(self) -> &'static str {
        match self {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyOrigin {
    /// A NetworkPolicy of the repository.
    Repo(ObjectId),
    /// The `default-deny` policy XKS puts in every tenant namespace (guide 000),
    /// with the NodeLocal DNS addresses of guide 004.
    XksDefaultDeny,
    /// An optional platform allowance switched on in `xks.platform-allowances`.
    XksAllowance,
}

#[derive(Debug, Clone)]
pub struct Policy {
    pub origin: PolicyOrigin,
    pub namespace: String,
    pub name: String,
    /// Shared with every equal selector of the graph (see [`super::intern`]).
    pub pod_selector: Arc<Selector>,
    pub isolates_ingress: bool,
    pub isolates_egress: bool,
    /// Indices into [`super::Graph::rules`].
    pub rules: Vec<usize>,
    pub location: Option<Location>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PortSpec {
    /// Numbered ports (a `port`, a `port`..`endPort` range, or every port of the protocol).
    Numbers(Protocol, PortSet),
    /// A container port name, resolved against each destination pod.
    Named(Protocol, String),
}

#[derive(Debug, Clone)]
pub enum PeerKind {
    /// `podSelector` and/or `namespaceSelector`. `namespaces: None` means the policy's namespace.
    /// The selectors are shared with every equal selector of the graph (see [`super::intern`]).
    Pods {
        pods: Option<Arc<Selector>>,
        namespaces: Option<Arc<Selector>>,
    },
    /// Boxed: address peers are rare, and inline they would triple the size of every peer.
    Ip(Box<IpBlock>),
    /// A peer the API server rejects (no selector and no ipBlock, ipBlock next to
    /// a selector, an unparsable CIDR): it matches nothing.
    Invalid(String),
}

/// An `ipBlock` peer.
#[derive(Debug, Clone)]
pub struct IpBlock {
    pub cidr: IpRange,
    pub except: Vec<IpRange>,
    /// `cidr` minus `except`, as disjoint ranges.
    pub parts: Vec<IpRange>,
}

#[derive(Debug, Clone)]
pub struct Peer {
    pub kind: PeerKind,
    pub location: Option<Location>,
}

#[derive(Debug, Clone)]
pub struct PolicyRule {
    pub policy: usize,
    pub direction: Direction,
    /// Position in the policy's `ingress` or `egress` list.
    pub index: usize,
    /// The peers stand for the whole `from`/`to` list rather than one entry each (the
    /// NodeLocal DNS addresses XKS adds): their path names the list.
    pub peers_as_list: bool,
    /// `None`: `from`/`to` missing or empty, every source/destination matches.
    pub peers: Option<Box<[Peer]>>,
    /// `None`: `ports` missing or empty, every port matches. Shared with every equal
    /// list of the graph (see [`super::intern`]).
    pub ports: Option<Arc<[PortSpec]>>,
    pub location: Option<Location>,
}

impl PolicyRule {
    /// `spec.egress[0]`: the rule's path inside its policy. Formatted when asked, not
    /// stored: a graph holds a rule per policy entry and reads few paths.
    pub fn path(&self) -> String {
        format!("spec.{}[{}]", self.direction.as_str(), self.index)
    }

    /// `spec.egress[0].to[1]`: the path of peer `peer` (its position in `peers`).
    pub fn peer_path(&self, peer: usize) -> String {
        let key = self.direction.peers_key();
        if self.peers_as_list {
            format!("{}.{key}", self.path())
        } else {
            format!("{}.{key}[{peer}]", self.path())
        }
    }

    /// Connections the rule opens towards a destination with these named ports.
    pub fn conns_for(&self, named_ports: &[(String, Protocol, u16)]) -> ConnSet {
        let Some(ports) = &self.ports else {
            return ConnSet::all();
        };
        let mut conns = ConnSet::none();
        for spec in ports.iter() {
            match spec {
                PortSpec::Numbers(protocol, set) => {
                    conns.union_with(&ConnSet::of(*protocol, set.clone()))
                }
                PortSpec::Named(protocol, name) => {
                    for (_, p, number) in named_ports
                        .iter()
                        .filter(|(n, p, _)| n == name && p == protocol)
                    {
                        conns.union_with(&ConnSet::single(*p, *number));
                    }
                }
            }
        }
        conns
    }

    pub fn has_named_ports(&self) -> bool {
        self.ports
            .iter()
            .flat_map(|ports| ports.iter())
            .any(|p| matches!(p, PortSpec::Named(..)))
    }
}

/// Defaulting of `policyTypes` done by the API server: Ingress always, Egress when
/// the policy has at least one egress rule (an empty `egress: []` does not count).
pub fn policy_types(spec: &PolicySpec) -> (bool, bool) {
    match &spec.policy_types {
        Some(types) if !types.is_empty() => (
            types.iter().any(|t| t == "Ingress"),
            types.iter().any(|t| t == "Egress"),
        ),
        _ => (true, spec.egress.as_ref().is_some_and(|e| !e.is_empty())),
    }
}

/// The ports a `ports` entry opens, or `None` when the API server rejects the entry
/// (see `model::validation`): an invalid entry opens nothing.
pub fn compile_port(port: &NetworkPolicyPort) -> Option<PortSpec> {
    let protocol = match port.protocol.as_deref() {
        Some("TCP") | None => Protocol::Tcp,
        Some("UDP") => Protocol::Udp,
        Some("SCTP") => Protocol::Sctp,
        // Protocols are case-sensitive to the API server: `tcp` is rejected.
        Some(_) => return None,
    };
    let valid = |n: i32| u16::try_from(n).ok().filter(|n| *n >= 1);
    Some(match (&port.port, port.end_port) {
        (None, None) => PortSpec::Numbers(protocol, PortSet::all()),
        (Some(IntOrString::Int(n)), None) => {
            let n = valid(*n)?;
            PortSpec::Numbers(protocol, PortSet::range(n, n))
        }
        (Some(IntOrString::Int(n)), Some(end)) => {
            let (n, end) = (valid(*n)?, valid(end)?);
            if end < n {
                return None;
            }
            PortSpec::Numbers(protocol, PortSet::range(n, end))
        }
        // A quoted number is a port name to the API server's IntOrString, and an invalid
        // one: the API server rejects every name that is not an IANA service name.
        (Some(IntOrString::String(text)), None) => {
            if port_name_error(text).is_some() {
                return None;
            }
            PortSpec::Named(protocol, text.clone())
        }
        // endPort needs a numeric port.
        (Some(IntOrString::String(_)), Some(_)) | (None, Some(_)) => return None,
    })
}

/// A CIDR as the API server reads it (a bare address or a bad prefix is rejected).
pub(crate) fn policy_cidr(text: &str) -> Result<((u128, u32, bool), IpRange), String> {
    let parsed = validation::parse_cidr(text).ok_or_else(|| format!("`{text}` is not a CIDR"))?;
    let (start, prefix, v6) = parsed;
    let family = if v6 { ip::Family::V6 } else { ip::Family::V4 };
    let bits = if v6 { 128 } else { 32 };
    let host_bits = bits - prefix;
    let host_mask = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    Ok((
        parsed,
        IpRange {
            family,
            start,
            end: start | host_mask,
        },
    ))
}

fn compile_peer(peer: &PeerSpec, interner: &PolicyInterner) -> PeerKind {
    match (&peer.ip_block, &peer.pod_selector, &peer.namespace_selector) {
        (Some(block), None, None) => {
            let (outer, cidr) = match policy_cidr(&block.cidr) {
                Ok(c) => c,
                Err(e) => return PeerKind::Invalid(e),
            };
            let mut except = Vec::new();
            for text in block.except.iter().flatten() {
                match policy_cidr(text) {
                    Ok((inner, e)) if validation::strict_subset(outer, inner) => except.push(e),
                    Ok(_) => {
                        return PeerKind::Invalid(format!(
                            "`{text}` is not a strict subset of `{}`",
                            block.cidr
                        ));
                    }
                    Err(e) => return PeerKind::Invalid(e),
                }
            }
            let parts = ip::subtract(cidr, &except);
            PeerKind::Ip(Box::new(IpBlock {
                cidr,
                except,
                parts,
            }))
        }
        (Some(_), _, _) => {
            PeerKind::Invalid("an ipBlock cannot be combined with selectors".to_string())
        }
        (None, None, None) => {
            PeerKind::Invalid("a peer needs a selector or an ipBlock".to_string())
        }
        (None, pods, namespaces) => PeerKind::Pods {
            pods: pods
                .as_ref()
                .map(|s| interner.selector(Selector::compile_spec(s))),
            namespaces: namespaces
                .as_ref()
                .map(|s| interner.selector(Selector::compile_spec(s))),
        },
    }
}

/// Compiles a repository NetworkPolicy; its rules are appended to `rules`, its selectors
/// and `ports` lists shared through `interner`.
pub fn compile_repo_policy(
    object: &Object,
    spec: &PolicySpec,
    index: usize,
    rules: &mut Vec<PolicyRule>,
    interner: &PolicyInterner,
) -> Policy {
    let (isolates_ingress, isolates_egress) = policy_types(spec);
    let mut rule_ids = Vec::new();
    let mut add = |direction: Direction,
                   rule_index: usize,
                   peers: Option<&Vec<PeerSpec>>,
                   ports: Option<&Vec<NetworkPolicyPort>>| {
        let rule_node = object
            .node
            .path(&["spec", direction.as_str()])
            .and_then(|n| n.as_seq())
            .and_then(|items| items.get(rule_index));
        let peer_nodes = rule_node
            .and_then(|n| n.get(direction.peers_key()))
            .and_then(|n| n.as_seq());
        let peers = peers.filter(|p| !p.is_empty()).map(|peers| {
            peers
                .iter()
                .enumerate()
                .map(|(j, peer)| Peer {
                    kind: compile_peer(peer, interner),
                    location: peer_nodes
                        .and_then(|nodes| nodes.get(j))
                        .map(|n| object.location_of(n)),
                })
                .collect()
        });
        let ports = ports
            .filter(|p| !p.is_empty())
            .map(|ports| interner.ports(ports.iter().filter_map(compile_port).collect()));
        rule_ids.push(rules.len());
        rules.push(PolicyRule {
            policy: index,
            direction,
            index: rule_index,
            peers_as_list: false,
            peers,
            ports,
            location: rule_node.map(|n| object.location_of(n)),
        });
    };
    for (i, rule) in spec.ingress.iter().flatten().enumerate() {
        add(
            Direction::Ingress,
            i,
            rule.peers.as_ref(),
            rule.ports.as_ref(),
        );
    }
    for (i, rule) in spec.egress.iter().flatten().enumerate() {
        add(
            Direction::Egress,
            i,
            rule.peers.as_ref(),
            rule.ports.as_ref(),
        );
    }
    Policy {
        origin: PolicyOrigin::Repo(object.id),
        namespace: object.namespace.to_string(),
        name: object.name.to_string(),
        pod_selector: interner.selector(
            spec.pod_selector
                .as_ref()
                .map(Selector::compile_spec)
                .unwrap_or_default(),
        ),
        isolates_ingress,
        isolates_egress,
        rules: rule_ids,
        location: Some(object.location(object.name_span())),
    }
}

/// The `default-deny` policy of guide 000 for one tenant namespace, plus egress
/// to the NodeLocal DNS addresses of guide 004.
pub fn xks_default_deny(
    namespace: &str,
    settings: &super::settings::XksSettings,
    index: usize,
    rules: &mut Vec<PolicyRule>,
    interner: &PolicyInterner,
) -> Policy {
    let dns_ports = interner.ports(
        settings
            .dns_ports
            .iter()
            .map(|(p, n)| PortSpec::Numbers(*p, PortSet::range(*n, *n)))
            .collect(),
    );
    let peer = |kind: PeerKind| Peer {
        kind,
        location: None,
    };
    let everything = || interner.selector(Selector::everything());
    // Guide 000's policy names `k8s-app: kube-dns`: the cluster DNS pods' labels.
    let kube_dns = settings
        .endpoint(super::settings::EndpointRole::Dns)
        .map(|dns| Selector::from_labels(&dns.pod_labels))
        .unwrap_or_else(|| Selector {
            requirements: vec![super::selector::Requirement::Invalid("no DNS".to_string())],
        });
    let nodelocal: Box<[Peer]> = settings
        .nodelocal_dns
        .iter()
        .filter_map(|text| IpRange::parse_cidr(text).ok())
        .map(|cidr| {
            peer(PeerKind::Ip(Box::new(IpBlock {
                cidr,
                except: Vec::new(),
                parts: vec![cidr],
            })))
        })
        .collect();
    // (direction, peers, whether the peers stand for the whole list, ports)
    type RuleSpec = (Direction, Box<[Peer]>, bool, Option<Arc<[PortSpec]>>);
    let specs: Vec<RuleSpec> = vec![
        (
            Direction::Ingress,
            Box::new([peer(PeerKind::Pods {
                pods: Some(everything()),
                namespaces: None,
            })]),
            false,
            None,
        ),
        (
            Direction::Egress,
            Box::new([peer(PeerKind::Pods {
                pods: Some(interner.selector(kube_dns)),
                namespaces: Some(everything()),
            })]),
            false,
            Some(Arc::clone(&dns_ports)),
        ),
        (
            Direction::Egress,
            Box::new([peer(PeerKind::Pods {
                pods: Some(everything()),
                namespaces: None,
            })]),
            false,
            None,
        ),
        (Direction::Egress, nodelocal, true, Some(dns_ports)),
    ];
    let mut rule_ids = Vec::new();
    let mut egress_index = 0;
    for (direction, peers, peers_as_list, ports) in specs {
        let rule_index = match direction {
            Direction::Ingress => 0,
            Direction::Egress => {
                egress_index += 1;
                egress_index - 1
            }
        };
        rule_ids.push(rules.len());
        rules.push(PolicyRule {
            policy: index,
            direction,
            index: rule_index,
            peers_as_list,
            peers: Some(peers),
            ports,
            location: None,
        });
    }
    Policy {
        origin: PolicyOrigin::XksDefaultDeny,
        namespace: namespace.to_string(),
        name: settings.default_deny_name.clone(),
        pod_selector: everything(),
        isolates_ingress: true,
        isolates_egress: true,
        rules: rule_ids,
        location: None,
    }
}

/// An optional platform allowance in one tenant namespace: egress to (on its ports) and
/// ingress from every pod of the platform namespace (selected by `name=<namespace>`).
pub fn xks_allowance(
    namespace: &str,
    allowance: &super::settings::Allowance,
    index: usize,
    rules: &mut Vec<PolicyRule>,
    interner: &PolicyInterner,
) -> Policy {
    let everything = || interner.selector(Selector::everything());
    let platform = || PeerKind::Pods {
        pods: Some(everything()),
        namespaces: Some(interner.selector(Selector::from_labels([(
            super::XKS_NAME_LABEL,
            allowance.namespace.as_str(),
        )]))),
    };
    let egress_ports = allowance.egress_ports.as_ref().map(|ports| {
        interner.ports(
            ports
                .iter()
                .map(|(p, n)| PortSpec::Numbers(*p, PortSet::range(*n, *n)))
                .collect(),
        )
    });
    let mut rule_ids = Vec::new();
    for (direction, ports) in [
        (Direction::Ingress, None),
        (Direction::Egress, egress_ports),
    ] {
        rule_ids.push(rules.len());
        rules.push(PolicyRule {
            policy: index,
            direction,
            index: 0,
            peers_as_list: false,
            peers: Some(Box::new([Peer {
                kind: platform(),
                location: None,
            }])),
            ports,
            location: None,
        });
    }
    Policy {
        origin: PolicyOrigin::XksAllowance,
        namespace: namespace.to_string(),
        name: allowance.policy_name.clone(),
        pod_selector: everything(),
        isolates_ingress: true,
        isolates_egress: true,
        rules: rule_ids,
        location: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn port(
        port: Option<IntOrString>,
        end: Option<i32>,
        protocol: Option<&str>,
    ) -> NetworkPolicyPort {
        NetworkPolicyPort {
            port,
            end_port: end,
            protocol: protocol.map(String::from),
        }
    }

    #[test]
    fn ports_compile_as_the_api_server_reads_them() {
        assert_eq!(
            compile_port(&port(Some(IntOrString::Int(80)), None, None)),
            Some(PortSpec::Numbers(Protocol::Tcp, PortSet::range(80, 80)))
        );
        assert_eq!(
            compile_port(&port(
                Some(IntOrString::Int(8000)),
                Some(8080),
                Some("SCTP")
            )),
            Some(PortSpec::Numbers(
                Protocol::Sctp,
                PortSet::range(8000, 8080)
            ))
        );
        assert_eq!(
            compile_port(&port(None, None, Some("UDP"))),
            Some(PortSpec::Numbers(Protocol::Udp, PortSet::all()))
        );
        assert_eq!(
            compile_port(&port(Some(IntOrString::String("http".into())), None, None)),
            Some(PortSpec::Named(Protocol::Tcp, "http".into()))
        );
        assert_eq!(
            compile_port(&port(Some(IntOrString::Int(0)), None, None)),
            None
        );
        assert_eq!(
            compile_port(&port(Some(IntOrString::Int(90)), Some(80), None)),
            None
        );
        assert_eq!(
            compile_port(&port(Some(IntOrString::Int(80)), None, Some("ICMP"))),
            None
        );
        // What the API server rejects opens nothing: a lower-case protocol, a quoted
        // number (a port name without a letter), a name longer than 15 characters.
        assert_eq!(
            compile_port(&port(Some(IntOrString::Int(80)), None, Some("tcp"))),
            None
        );
        assert_eq!(
            compile_port(&port(Some(IntOrString::String("80".into())), None, None)),
            None
        );
        assert_eq!(
            compile_port(&port(
                Some(IntOrString::String("a-very-long-port-name".into())),
                None,
                None
            )),
            None
        );
        assert_eq!(
            compile_port(&port(Some(IntOrString::Int(70000)), None, None)),
            None
        );
    }

    #[test]
    fn rejected_ip_blocks_match_nothing() {
        use k8s_openapi::api::networking::v1::IPBlock;
        let peer = |cidr: &str, except: &[&str]| PeerSpec {
            ip_block: Some(Box::new(IPBlock {
                cidr: cidr.to_string(),
                except: Some(except.iter().map(|e| e.to_string()).collect()),
            })),
            ..Default::default()
        };
        let interner = PolicyInterner::default();
        for (cidr, except) in [
            ("300.1.1.1/8", &[][..]),
            ("10.0.0.0/33", &[]),
            ("10.0.0.1", &[]),
            ("10.0.0.0/16", &["10.1.0.0/24"]),
            ("10.0.0.0/16", &["10.0.0.0/16"]),
        ] {
            assert!(
                matches!(
                    compile_peer(&peer(cidr, except), &interner),
                    PeerKind::Invalid(_)
                ),
                "{cidr} except {except:?}"
            );
        }
        let PeerKind::Ip(block) = compile_peer(&peer("10.0.0.1/8", &["010.1.0.0/16"]), &interner)
        else {
            panic!("host bits and leading zeros are accepted by the API server");
        };
        assert_eq!(block.parts.len(), 2);
    }

    #[test]
    fn policy_types_default_like_the_api_server() {
        let mut spec = PolicySpec::default();
        assert_eq!(policy_types(&spec), (true, false));
        spec.egress = Some(vec![]);
        assert_eq!(policy_types(&spec), (true, false));
        spec.egress = Some(vec![Default::default()]);
        assert_eq!(policy_types(&spec), (true, true));
        spec.policy_types = Some(vec!["Egress".into()]);
        assert_eq!(policy_types(&spec), (false, true));
    }
}
