use std::net::{IpAddr, Ipv4Addr};

use super::node_at;
use crate::graph::ip::IpRange;
use crate::graph::policy::{Direction, IpBlock, PeerKind, PolicyOrigin};
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(EgressToMetadataEndpoint, "egress-to-metadata-endpoint");

const METADATA: Ipv4Addr = Ipv4Addr::new(169, 254, 169, 254);
const PRIVATE: [&str; 3] = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"];

impl Rule for EgressToMetadataEndpoint {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        let graph = ctx.graph;
        for rule in graph
            .rules
            .iter()
            .filter(|r| r.direction == Direction::Egress)
        {
            let PolicyOrigin::Repo(id) = graph.policies[rule.policy].origin else {
                continue;
            };
            let object = ctx.model.object(id);
            for (p, peer) in rule.peers.iter().flatten().enumerate() {
                let PeerKind::Ip(block) = &peer.kind else {
                    continue;
                };
                let IpBlock {
                    cidr,
                    except,
                    parts,
                } = block.as_ref();
                let mut add = Vec::new();
                let metadata = IpRange::address(IpAddr::V4(METADATA));
                // A /32 for the metadata address itself is deliberate.
                if *cidr != metadata && parts.iter().any(|p| p.contains(&metadata)) {
                    add.push("169.254.169.254/32");
                }
                for private in PRIVATE {
                    let Ok(range) = IpRange::parse_cidr(private) else {
                        continue;
                    };
                    // A block that is the private range (or inside it) targets it on purpose.
                    let broader = cidr.contains(&range) && *cidr != range;
                    if broader && !except.iter().any(|e| e.overlaps(&range)) {
                        add.push(private);
                    }
                }
                if add.is_empty() {
                    continue;
                }
                let peer_path = rule.peer_path(p);
                let cidr_path = format!("{peer_path}.ipBlock.cidr");
                let span = node_at(&object.node, &cidr_path)
                    .map(|n| n.span)
                    .or(peer.location.map(|l| l.span))
                    .unwrap_or_else(|| object.name_span());
                let what = if add.contains(&"169.254.169.254/32") {
                    "the cloud instance metadata endpoint 169.254.169.254 (instance credentials)"
                } else {
                    "the private address ranges"
                };
                let mut help = "exclude them from the block:\n\n- ipBlock:\n    cidr: ".to_string();
                help.push_str(&cidr_scalar(
                    node_at(&object.node, &cidr_path)
                        .and_then(|n| n.scalar_text())
                        .unwrap_or("0.0.0.0/0"),
                ));
                help.push_str("\n    except:");
                let written = node_at(&object.node, &format!("{peer_path}.ipBlock.except"));
                for e in written.and_then(|n| n.as_seq()).unwrap_or(&[]) {
                    help.push_str(&format!(
                        "\n      - {}",
                        cidr_scalar(e.scalar_text().unwrap_or_default())
                    ));
                }
                for a in &add {
                    help.push_str(&format!("\n      - {a}"));
                }
                sink.report(
                    object.location(span),
                    format!(
                        "this egress ipBlock includes {what}: {} not excepted",
                        add.join(", ")
                    ),
                )
                .with_label("includes 169.254.169.254 or private ranges")
                .with_help(help)
                .with_object(object.identity(), cidr_path);
            }
        }
    }
}

/// A CIDR as written in the help's YAML: plain when it is one, else quoted (a hostile
/// value must not break the help's lines).
fn cidr_scalar(text: &str) -> String {
    if !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '/'))
        && text.starts_with(|c: char| c.is_ascii_digit())
    {
        text.to_string()
    } else {
        super::yaml_scalar(text)
    }
}
