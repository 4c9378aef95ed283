//! The blocked halves the reach rules find, as data rather than findings: which pod
//! classes cannot talk although one side opened the traffic, on which connections, and
//! where that side is written. `connectivity` draws them (red, dashed) next to the
//! allowed connections; the rules report the same gaps as findings.

use super::ingress_backend_blocked::blocked_backends;
use super::missing_pair::gaps;
use crate::graph::Graph;
use crate::graph::policy::Direction;
use crate::graph::ports::ConnSet;
use crate::model::Model;
use crate::span::Location;

/// One blocked pair of pod classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockedPair {
    /// The rule that reports it: `missing-ingress-pair`, `missing-egress-pair` or
    /// `ingress-backend-blocked`.
    pub rule: &'static str,
    pub src: usize,
    pub dst: usize,
    /// What one side opened and the other refuses.
    pub conns: ConnSet,
    /// Where the finding points: the peer of the half that exists, or the route's backend.
    pub location: Location,
    /// One sentence: what is missing, and where.
    pub reason: String,
}

/// Every blocked pair the three rules would report, in their order (deterministic).
pub fn blocked_pairs(model: &Model, graph: &Graph) -> Vec<BlockedPair> {
    let mut out = Vec::new();
    for (direction, rule) in [
        (Direction::Egress, "missing-ingress-pair"),
        (Direction::Ingress, "missing-egress-pair"),
    ] {
        for gap in gaps(graph, direction) {
            let Some(location) = graph.rules[gap.rule]
                .peers
                .as_ref()
                .and_then(|peers| peers.get(gap.peer))
                .and_then(|peer| peer.location)
            else {
                continue;
            };
            let policy = &graph.policies[graph.rules[gap.rule].policy];
            let reason = match direction {
                Direction::Egress => format!(
                    "NetworkPolicy {}/{} opens egress to namespace `{}`, but no ingress rule there admits it",
                    policy.namespace, policy.name, gap.other_namespace
                ),
                Direction::Ingress => format!(
                    "NetworkPolicy {}/{} admits ingress from namespace `{}`, but no egress rule there lets it out",
                    policy.namespace, policy.name, gap.other_namespace
                ),
            };
            for (src, dst, conns) in gap.pairs {
                out.push(BlockedPair {
                    rule,
                    src,
                    dst,
                    conns,
                    location,
                    reason: reason.clone(),
                });
            }
        }
    }
    for found in blocked_backends(model, graph) {
        let route = found.backend.route;
        let location = route.location(found.backend.name_span());
        for (class, port) in found.blocked {
            out.push(BlockedPair {
                rule: "ingress-backend-blocked",
                src: found.endpoint,
                dst: class,
                conns: ConnSet::single(found.protocol, port),
                location,
                reason: format!(
                    "{} {}/{} routes to Service `{}`, but no NetworkPolicy in `{}` admits `{}` on {} {port}",
                    route.kind,
                    route.namespace,
                    route.name,
                    found.backend.service,
                    found.backend.namespace,
                    found.endpoint_settings.id,
                    found.protocol.as_str()
                ),
            });
        }
    }
    out
}
