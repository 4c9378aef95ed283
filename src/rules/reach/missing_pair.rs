//! Shared by `missing-ingress-pair` and `missing-egress-pair`: under XKS every
//! tenant namespace denies traffic to and from other namespaces, so a flow
//! between two tenants needs an egress rule at the source AND an ingress rule at
//! the destination (the guide's "Allow Cross Namespace" pair).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::{describe_selector, write_ports, write_selector};
use crate::diagnostic::{Applicability, Fix, NewFile};
use crate::escape::Inline;
use crate::fix::create::Directories;
use crate::graph::policy::{Direction, PeerKind, PolicyOrigin};
use crate::graph::ports::ConnSet;
use crate::graph::selector::Selector;
use crate::graph::{Graph, Other, Subject, XKS_NAME_LABEL};
use crate::load::Sources;
use crate::model::Model;
use crate::rules::Sink;
use crate::span::FileId;

/// One peer of one rule whose other half is missing in `other_namespace`.
pub(super) struct Gap {
    pub rule: usize,
    pub peer: usize,
    pub other_namespace: String,
    /// (source class, destination class, connections the rule wants but the other side refuses).
    pub pairs: Vec<(usize, usize, ConnSet)>,
    /// Policies of the other side that decide the gap (isolating or partly allowing it):
    /// what `why` cites, so that `--only-files` on their files reports this finding.
    cites: Vec<crate::span::Location>,
}

/// Peers of `direction` rules that name other tenant namespaces whose half is missing.
pub(super) fn gaps(graph: &Graph, direction: Direction) -> Vec<Gap> {
    let mut out = Vec::new();
    if !graph.is_xks() {
        return out;
    }
    // What the loops below ask of a namespace, by position: the classes' namespaces are
    // known by position, and looking each one up by name compared strings on every pair.
    let tenant: Vec<bool> = graph.namespaces.values().map(|ns| ns.tenant).collect();
    let modelled_tenant: Vec<bool> = graph
        .namespaces
        .values()
        .map(|ns| ns.tenant && ns.has_workloads)
        .collect();
    for (r, rule) in graph.rules.iter().enumerate() {
        let policy = &graph.policies[rule.policy];
        let applies = match direction {
            Direction::Egress => policy.isolates_egress,
            Direction::Ingress => policy.isolates_ingress,
        };
        if rule.direction != direction
            || !applies
            || !matches!(policy.origin, PolicyOrigin::Repo(_))
        {
            continue;
        }
        let Some(own) = graph
            .namespace_position(&policy.namespace)
            .filter(|&ns| tenant.get(ns) == Some(&true))
        else {
            continue;
        };
        let local: Vec<usize> = graph.policy_classes[rule.policy]
            .iter()
            .copied()
            .filter(|&c| !graph.is_endpoint(c))
            .collect();
        for (p, peer) in rule.peers.iter().flatten().enumerate() {
            // Only peers that name namespaces: `namespaceSelector: {}` means "any
            // namespace", and checking it pairwise would flag every tenant.
            let PeerKind::Pods {
                namespaces: Some(ns_selector),
                ..
            } = &peer.kind
            else {
                continue;
            };
            if ns_selector.is_everything() {
                continue;
            }
            let mut by_namespace: BTreeMap<&str, Vec<(usize, usize, ConnSet)>> = BTreeMap::new();
            let mut cites: BTreeMap<&str, Vec<crate::span::Location>> = BTreeMap::new();
            for remote in graph.peer_classes(r, p) {
                let class = &graph.classes[remote];
                let Some(remote_ns) = graph.class_namespace_position(remote) else {
                    continue;
                };
                if remote_ns == own
                    || modelled_tenant.get(remote_ns) != Some(&true)
                    || graph.is_endpoint(remote)
                {
                    continue;
                }
                for &l in &local {
                    let (src, dst) = match direction {
                        Direction::Egress => (l, remote),
                        Direction::Ingress => (remote, l),
                    };
                    let wanted = graph.rule_conns(r, Some(dst));
                    if wanted.is_empty() {
                        continue;
                    }
                    // The other half, evaluated without provenance: most pairs are
                    // complete, and only a gap needs to know who decided it.
                    let (pod, other, side) = match direction {
                        Direction::Egress => (dst, src, Direction::Ingress),
                        Direction::Ingress => (src, dst, Direction::Egress),
                    };
                    let have = graph.evaluate(pod, Other::Class(other), side, Some(dst), None);
                    let missing = missing_half(rule.ports.is_some(), &wanted, &have);
                    if !missing.is_empty() {
                        let why = graph.explain(&Subject::Pods(src), &Subject::Pods(dst));
                        let other_side = match direction {
                            Direction::Egress => why.ingress,
                            Direction::Ingress => why.egress,
                        };
                        let deciding: Vec<crate::span::Location> = other_side
                            .iter()
                            .flat_map(|v| {
                                v.isolating
                                    .iter()
                                    .filter_map(|&p| graph.policies[p].location)
                                    .chain(
                                        v.allowing
                                            .iter()
                                            .filter_map(|(r, _)| graph.rules[*r].location),
                                    )
                            })
                            .collect();
                        cites
                            .entry(class.namespace.as_str())
                            .or_default()
                            .extend(deciding);
                        by_namespace
                            .entry(class.namespace.as_str())
                            .or_default()
                            .push((src, dst, missing));
                    }
                }
            }
            for (namespace, pairs) in by_namespace {
                out.push(Gap {
                    rule: r,
                    peer: p,
                    other_namespace: namespace.to_string(),
                    pairs,
                    cites: cites.remove(namespace).unwrap_or_default(),
                });
            }
        }
    }
    out
}

/// What the other half fails to give, as the rule's doc defines it: a rule that lists ports
/// asked for exactly those, so every one of them the other side refuses is missing; a rule
/// without ports asked for no port in particular (the other side may well narrow it, as the
/// guide recommends), so it misses something only when nothing at all gets through.
fn missing_half(lists_ports: bool, wanted: &ConnSet, have: &ConnSet) -> ConnSet {
    if lists_ports {
        wanted.subtract(have)
    } else if wanted.intersect(have).is_empty() {
        wanted.clone()
    } else {
        ConnSet::none()
    }
}

fn class_label(graph: &Graph, class: usize) -> String {
    let members = &graph.classes[class].members;
    match members.len() {
        0 => format!("pods of `{}`", graph.classes[class].namespace),
        1 => format!("`{}`", members[0].label),
        n => format!("`{}` (and {} identical)", members[0].label, n - 1),
    }
}

/// Reports every gap of `direction` rules (egress rules: the ingress half is missing, and the reverse).
pub fn report(
    model: &Model,
    sources: &Sources,
    graph: &Graph,
    direction: Direction,
    sink: &mut Sink<'_>,
) {
    // Built on the first fix, once: each fix looks up its directory's kustomization.
    let mut directories: Option<Directories> = None;
    for gap in gaps(graph, direction) {
        let rule = &graph.rules[gap.rule];
        let policy = &graph.policies[rule.policy];
        let PolicyOrigin::Repo(object_id) = policy.origin else {
            continue;
        };
        let object = model.object(object_id);
        let peer = &rule.peers.as_ref().map(|p| &p[gap.peer]);
        let Some(peer) = peer else { continue };
        let Some(location) = peer.location else {
            continue;
        };
        let mut missing = ConnSet::none();
        for (_, _, conns) in &gap.pairs {
            missing.union_with(conns);
        }
        let flows: Vec<String> = gap
            .pairs
            .iter()
            .take(3)
            .map(|(s, d, conns)| {
                format!(
                    "{} → {} on {conns}",
                    class_label(graph, *s),
                    class_label(graph, *d)
                )
            })
            .collect();
        let more = gap.pairs.len().saturating_sub(3);
        let flows = if more > 0 {
            format!("{} and {more} more", flows.join("; "))
        } else {
            flows.join("; ")
        };
        let (here, there) = (&policy.namespace, &gap.other_namespace);
        let everything = Selector::everything();
        let peer_pods = match &peer.kind {
            PeerKind::Pods { pods, .. } => pods.as_deref().unwrap_or(&everything),
            _ => &everything,
        };
        let (message, label, help) = match direction {
            Direction::Egress => (
                format!(
                    "this egress rule opens traffic to namespace `{there}`, but no ingress rule in `{there}` admits it, so the flow stays blocked: {flows}"
                ),
                format!(
                    "egress to `{there}` ({}) opened here",
                    describe_selector(peer_pods)
                ),
                pair_policy(
                    Direction::Ingress,
                    there,
                    here,
                    peer_pods,
                    &policy.pod_selector,
                    &missing,
                    None,
                ),
            ),
            Direction::Ingress => (
                format!(
                    "this ingress rule admits traffic from namespace `{there}`, but no egress rule in `{there}` lets it out, so the flow stays blocked: {flows}"
                ),
                format!(
                    "ingress from `{there}` ({}) admitted here",
                    describe_selector(peer_pods)
                ),
                pair_policy(
                    Direction::Egress,
                    there,
                    here,
                    peer_pods,
                    &policy.pod_selector,
                    &missing,
                    None,
                ),
            ),
        };
        let diagnostic = sink
            .report(location, message)
            .with_label(label)
            .with_help(help)
            .with_object(object.identity(), rule.peer_path(gap.peer));
        for location in &gap.cites {
            diagnostic.with_cite(*location);
        }
        // The unsafe fix: the policy of the help, as a file beside the other side's workloads.
        let remote_file = gap.pairs.iter().find_map(|(s, d, _)| {
            let remote = if direction == Direction::Egress {
                *d
            } else {
                *s
            };
            graph.classes[remote]
                .members
                .iter()
                .find_map(|m| m.object.map(|id| model.object(id).file))
        });
        if let Some(beside) = remote_file {
            let kind = match direction {
                Direction::Egress => Direction::Ingress,
                Direction::Ingress => Direction::Egress,
            };
            let name = fix_name(kind, here, &policy.name);
            let yaml = pair_policy(
                kind,
                there,
                here,
                peer_pods,
                &policy.pod_selector,
                &missing,
                Some(&name),
            );
            let document = yaml
                .split_once("\n\n")
                .map_or(yaml.as_str(), |(_, document)| document);
            let index = directories.get_or_insert_with(|| Directories::index(sources));
            if let Some(fix) = new_policy_fix(sources, index, beside, &name, document) {
                diagnostic.with_fix(fix);
            }
        }
        let mut related_seen = std::collections::BTreeSet::new();
        for (s, d, _) in &gap.pairs {
            let remote = if direction == Direction::Egress {
                *d
            } else {
                *s
            };
            for member in &graph.classes[remote].members {
                if let Some(id) = member.object
                    && related_seen.insert(id)
                {
                    let other = model.object(id);
                    let what = if direction == Direction::Egress {
                        "destination workload"
                    } else {
                        "source workload"
                    };
                    diagnostic.with_related(
                        other.location(other.name_span()),
                        format!("{what} `{}` in `{there}`", member.label),
                    );
                }
            }
        }
    }
}

/// Name of the policy (and file) the fix writes: the pair's direction, the peer namespace
/// and the policy it pairs with, cut to a DNS label's 63 characters.
fn fix_name(kind: Direction, peer_namespace: &str, policy: &str) -> String {
    let prefix = match kind {
        Direction::Ingress => "allow-ingress-from",
        Direction::Egress => "allow-egress-to",
    };
    let mut name: String =
        crate::rules::name_characters(&format!("{prefix}-{peer_namespace}-for-{policy}"))
            .chars()
            .take(63)
            .collect();
    while name.ends_with('-') {
        name.pop();
    }
    name
}

/// A new file `<name>.yaml` holding `document` beside `beside`, listed in the `resources:` of
/// that directory's kustomization when there is one. No fix when the kustomization cannot
/// be edited safely, since a file it does not list would never be deployed.
fn new_policy_fix(
    sources: &Sources,
    directories: &Directories,
    beside: FileId,
    name: &str,
    document: &str,
) -> Option<Fix> {
    let file_name = format!("{name}.yaml");
    let dir = Directories::dir_of(sources, beside)?;
    let mut edits = Vec::new();
    if let Some(kustomization) = directories.kustomization(&dir) {
        edits.push(directories.list_in_kustomization(sources, kustomization, &file_name)?);
    }
    Some(Fix {
        applicability: Applicability::Unsafe,
        description: format!("write the missing half as a new NetworkPolicy file `{file_name}`"),
        edits,
        new_files: vec![NewFile {
            beside,
            name: file_name,
            text: format!("{document}\n"),
        }],
    })
}

/// The NetworkPolicy to add in `namespace` (the other side): it selects
/// `own_pods` and admits/lets out traffic to `peer_pods` of `peer_namespace`; named `name`
/// when given.
fn pair_policy(
    kind: Direction,
    namespace: &str,
    peer_namespace: &str,
    own_pods: &Selector,
    peer_pods: &Selector,
    conns: &ConnSet,
    name: Option<&str>,
) -> String {
    let (default_name, key, peers_key) = match kind {
        Direction::Ingress => (
            format!("allow-ingress-from-{peer_namespace}"),
            "Ingress",
            "from",
        ),
        Direction::Egress => (format!("allow-egress-to-{peer_namespace}"), "Egress", "to"),
    };
    let name = name.map_or(default_name, str::to_string);
    // Values are quoted (YAML) or escaped (prose): a line break inside one must not
    // break the help's lines.
    let mut out = format!(
        "add the other half of the pair in namespace `{}` (the XKS guide's \"Allow Cross Namespace\" example):\n\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: {}\n  namespace: {}\nspec:\n",
        Inline(namespace),
        super::yaml_scalar(&name),
        super::yaml_scalar(namespace)
    );
    write_selector(&mut out, 2, "podSelector", own_pods);
    let _ = writeln!(out, "  policyTypes:\n    - {key}\n  {}:", kind.as_str());
    let _ = writeln!(out, "    - {peers_key}:");
    let _ = writeln!(
        out,
        "        - namespaceSelector:\n            matchLabels:\n              {XKS_NAME_LABEL}: {}",
        super::yaml_scalar(peer_namespace)
    );
    let mut peer = String::new();
    write_selector(&mut peer, 10, "podSelector", peer_pods);
    out.push_str(&peer);
    write_ports(&mut out, 6, conns);
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::ports::{PortSet, Protocol};

    fn tcp(from: u16, to: u16) -> ConnSet {
        ConnSet::of(Protocol::Tcp, PortSet::range(from, to))
    }

    #[test]
    fn a_side_without_ports_misses_only_when_nothing_gets_through() {
        // Egress on every port, ingress admits 8080: the flow works.
        assert!(missing_half(false, &ConnSet::all(), &tcp(8080, 8080)).is_empty());
        // Nothing admitted: everything the rule opened is missing.
        assert_eq!(
            missing_half(false, &ConnSet::all(), &ConnSet::none()),
            ConnSet::all()
        );
        // Ports listed: each refused one is missing; an admitting side without ports gives all.
        assert_eq!(
            missing_half(
                true,
                &tcp(8080, 8080).union(&tcp(9090, 9090)),
                &tcp(8080, 8080)
            ),
            tcp(9090, 9090)
        );
        assert!(missing_half(true, &tcp(8080, 8080), &ConnSet::all()).is_empty());
    }
}
