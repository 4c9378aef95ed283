//! The validation the AdminNetworkPolicy CRD's schema and CEL rules apply: what the API
//! server would reject, each problem at its value (the `invalid-policy` rule reports
//! them). Compilation (`mod.rs`) is lenient and matches nothing where this rejects.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::super::policy::{self, Direction};
use super::{
    BASELINE_NAME, MAX_NETWORKS, MAX_PEERS, MAX_PORTS, MAX_PRIORITY, MAX_RULE_NAME, MAX_RULES,
    Tier, int_of, present, protocol_of, set_fields,
};
use crate::load::yaml::Node;
use crate::model::Object;
use crate::model::validation::{self, Problem, port_name_error};

/// What the CRD's schema and validation rules reject in an AdminNetworkPolicy or a
/// BaselineAdminNetworkPolicy, each at its value.
pub fn problems(object: &Object, tier: Tier) -> Vec<Problem<'_>> {
    let node = &object.node;
    let mut report = Reporter { out: Vec::new() };
    if tier == Tier::Baseline && object.name != BASELINE_NAME {
        let at = node.path(&["metadata", "name"]).unwrap_or(node);
        report.push(
            at,
            "metadata.name",
            format!(
                "only one BaselineAdminNetworkPolicy can exist, and it is named `{BASELINE_NAME}`, not `{}`",
                object.name
            ),
        );
    }
    let Some(spec) = present(node.get("spec")) else {
        report.push(node, "spec", "`spec` is required".to_string());
        return report.out;
    };
    if tier == Tier::Admin {
        match present(spec.get("priority")) {
            None => report.push(spec, "spec.priority", "`priority` is required".to_string()),
            Some(p) => match int_of(p) {
                Some(value) if (0..=MAX_PRIORITY).contains(&value) => {}
                _ => report.push(
                    p,
                    "spec.priority",
                    format!(
                        "priority `{}` must be an integer from 0 to {MAX_PRIORITY}",
                        p.scalar_text().unwrap_or("")
                    ),
                ),
            },
        }
    }
    match present(spec.get("subject")) {
        None => report.push(spec, "spec.subject", "`subject` is required".to_string()),
        Some(subject) => selection_problems(subject, "spec.subject", &mut report),
    }
    for direction in [Direction::Ingress, Direction::Egress] {
        let Some(items_node) = present(spec.get(direction.as_str())) else {
            continue;
        };
        let items = items_node.as_seq().unwrap_or_default();
        if items.len() > MAX_RULES {
            report.push(
                items_node,
                format!("spec.{}", direction.as_str()),
                format!("at most {MAX_RULES} rules, not {}", items.len()),
            );
        }
        for (i, rule) in items.iter().enumerate() {
            rule_problems(rule, direction, tier, i, &mut report);
        }
    }
    report.out
}

struct Reporter<'n> {
    out: Vec<Problem<'n>>,
}

impl<'n> Reporter<'n> {
    fn push(&mut self, node: &'n Node, path: impl Into<String>, message: String) {
        self.out.push(Problem {
            node,
            path: path.into(),
            message,
        });
    }
}

/// A subject or a peer: exactly one of `namespaces` and `pods`, valid selectors.
fn selection_problems<'n>(node: &'n Node, path: &str, report: &mut Reporter<'n>) {
    match set_fields(node, &["namespaces", "pods"]).as_slice() {
        ["namespaces"] => {
            if let Some(selector) = node.get("namespaces") {
                selector_problems(selector, &format!("{path}.namespaces"), report);
            }
        }
        ["pods"] => {
            let pods = node.get("pods").unwrap_or(node);
            for key in ["namespaceSelector", "podSelector"] {
                match present(pods.get(key)) {
                    Some(selector) => {
                        selector_problems(selector, &format!("{path}.pods.{key}"), report)
                    }
                    None => report.push(
                        pods,
                        format!("{path}.pods.{key}"),
                        format!("`{key}` is required"),
                    ),
                }
            }
        }
        [] => report.push(
            node,
            path,
            "must set one of `namespaces` and `pods`".to_string(),
        ),
        _ => report.push(
            node,
            path,
            "must set exactly one of `namespaces` and `pods`".to_string(),
        ),
    }
}

fn selector_problems<'n>(selector: &'n Node, path: &str, report: &mut Reporter<'n>) {
    if serde_json::from_value::<LabelSelector>(selector.to_json()).is_err() {
        report.push(
            selector,
            path,
            "is not a label selector (`matchLabels`, `matchExpressions`)".to_string(),
        );
        return;
    }
    report
        .out
        .extend(validation::label_selector_problems(selector, path));
}

fn rule_problems<'n>(
    rule: &'n Node,
    direction: Direction,
    tier: Tier,
    i: usize,
    report: &mut Reporter<'n>,
) {
    let path = format!("spec.{}[{i}]", direction.as_str());
    if let Some(name) = present(rule.get("name")).and_then(Node::scalar_text)
        && name.chars().count() > MAX_RULE_NAME
        && let Some(at) = rule.get("name")
    {
        report.push(
            at,
            format!("{path}.name"),
            format!("a rule name has at most {MAX_RULE_NAME} characters"),
        );
    }
    let allowed_actions = match tier {
        Tier::Admin => "`Allow`, `Deny` or `Pass`",
        Tier::Baseline => "`Allow` or `Deny`",
    };
    match present(rule.get("action")) {
        None => report.push(
            rule,
            format!("{path}.action"),
            format!("`action` is required: {allowed_actions}"),
        ),
        Some(action) => {
            let ok = match action.scalar_text() {
                Some("Allow" | "Deny") => true,
                Some("Pass") => tier == Tier::Admin,
                _ => false,
            };
            if !ok {
                report.push(
                    action,
                    format!("{path}.action"),
                    format!(
                        "unsupported action `{}`: use {allowed_actions}",
                        action.scalar_text().unwrap_or("")
                    ),
                );
            }
        }
    }
    let key = direction.peers_key();
    let peers = present(rule.get(key))
        .and_then(Node::as_seq)
        .unwrap_or_default();
    if peers.is_empty() {
        report.push(
            rule.get(key).unwrap_or(rule),
            format!("{path}.{key}"),
            format!("`{key}` is required and needs at least one peer"),
        );
    } else if peers.len() > MAX_PEERS {
        report.push(
            rule.get(key).unwrap_or(rule),
            format!("{path}.{key}"),
            format!("at most {MAX_PEERS} peers, not {}", peers.len()),
        );
    }
    let mut address_peer = false;
    for (j, peer) in peers.iter().enumerate() {
        let peer_path = format!("{path}.{key}[{j}]");
        let mut fields = vec!["namespaces", "pods"];
        if direction == Direction::Egress {
            fields.extend(["nodes", "networks"]);
            if tier == Tier::Admin {
                fields.push("domainNames");
            }
        }
        let set = set_fields(peer, &fields);
        match set.as_slice() {
            ["namespaces"] | ["pods"] => selection_problems(peer, &peer_path, report),
            ["nodes"] => {
                address_peer = true;
                if let Some(selector) = peer.get("nodes") {
                    selector_problems(selector, &format!("{peer_path}.nodes"), report);
                }
            }
            ["networks"] => {
                address_peer = true;
                networks_problems(peer, &peer_path, report);
            }
            ["domainNames"] => {
                if rule.get("action").and_then(Node::scalar_text) != Some("Allow") {
                    report.push(
                        peer,
                        format!("{peer_path}.domainNames"),
                        "domainNames peers are only supported in `Allow` rules".to_string(),
                    );
                }
            }
            [] => report.push(
                peer,
                peer_path,
                format!("a peer must set one of {}", quoted(&fields)),
            ),
            _ => report.push(
                peer,
                peer_path,
                format!("a peer must set exactly one of {}", quoted(&fields)),
            ),
        }
    }
    let Some(ports_node) = present(rule.get("ports")) else {
        return;
    };
    let ports = ports_node.as_seq().unwrap_or_default();
    if ports.is_empty() || ports.len() > MAX_PORTS {
        report.push(
            ports_node,
            format!("{path}.ports"),
            format!("`ports`, when set, holds 1 to {MAX_PORTS} entries"),
        );
    }
    for (j, port) in ports.iter().enumerate() {
        let port_path = format!("{path}.ports[{j}]");
        match set_fields(port, &["portNumber", "namedPort", "portRange"]).as_slice() {
            ["portNumber"] => {
                let number = port.get("portNumber").unwrap_or(port);
                protocol_problem(number, &format!("{port_path}.portNumber"), report);
                number_problem(number, "port", &format!("{port_path}.portNumber"), report);
            }
            ["portRange"] => {
                let range = port.get("portRange").unwrap_or(port);
                let range_path = format!("{port_path}.portRange");
                protocol_problem(range, &range_path, report);
                let start = number_problem(range, "start", &range_path, report);
                let end = number_problem(range, "end", &range_path, report);
                if let (Some(start), Some(end)) = (start, end)
                    && start >= end
                {
                    report.push(
                        range.get("end").unwrap_or(range),
                        format!("{range_path}.end"),
                        format!("`start` ({start}) must be less than `end` ({end})"),
                    );
                }
            }
            ["namedPort"] => {
                let at = port.get("namedPort").unwrap_or(port);
                let name = at.scalar_text().unwrap_or("");
                if let Some(message) = port_name_error(name) {
                    report.push(
                        at,
                        format!("{port_path}.namedPort"),
                        format!("`{name}` is not a valid port name: {message}"),
                    );
                }
                if address_peer {
                    report.push(
                        at,
                        format!("{port_path}.namedPort"),
                        "a named port cannot be used with `networks` or `nodes` peers (addresses have no named ports)"
                            .to_string(),
                    );
                }
            }
            [] => report.push(
                port,
                port_path,
                "a port must set one of `portNumber`, `namedPort` and `portRange`".to_string(),
            ),
            _ => report.push(
                port,
                port_path,
                "a port must set exactly one of `portNumber`, `namedPort` and `portRange`"
                    .to_string(),
            ),
        }
    }
}

fn quoted(fields: &[&str]) -> String {
    fields
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn protocol_problem<'n>(node: &'n Node, path: &str, report: &mut Reporter<'n>) {
    if protocol_of(node).is_none()
        && let Some(at) = node.get("protocol")
    {
        report.push(
            at,
            format!("{path}.protocol"),
            format!(
                "unsupported protocol `{}`: supported values are `TCP`, `UDP` and `SCTP` (upper case)",
                at.scalar_text().unwrap_or("")
            ),
        );
    }
}

/// Checks `node.field` is a port number; returns it when it is.
fn number_problem<'n>(
    node: &'n Node,
    field: &str,
    path: &str,
    report: &mut Reporter<'n>,
) -> Option<i64> {
    let Some(at) = present(node.get(field)) else {
        report.push(
            node,
            format!("{path}.{field}"),
            format!("`{field}` is required"),
        );
        return None;
    };
    match int_of(at) {
        Some(value) if (1..=65535).contains(&value) => Some(value),
        _ => {
            report.push(
                at,
                format!("{path}.{field}"),
                format!(
                    "`{}` must be a port number from 1 to 65535",
                    at.scalar_text().unwrap_or("")
                ),
            );
            None
        }
    }
}

fn networks_problems<'n>(peer: &'n Node, path: &str, report: &mut Reporter<'n>) {
    let Some(networks) = peer.get("networks") else {
        return;
    };
    let items = networks.as_seq().unwrap_or_default();
    if items.is_empty() || items.len() > MAX_NETWORKS {
        report.push(
            networks,
            format!("{path}.networks"),
            format!("`networks` holds 1 to {MAX_NETWORKS} CIDRs"),
        );
    }
    for (k, item) in items.iter().enumerate() {
        let text = item.scalar_text().unwrap_or("");
        if policy::policy_cidr(text).is_err() {
            report.push(
                item,
                format!("{path}.networks[{k}]"),
                format!("`{text}` is not a CIDR (an IPv4 or IPv6 network with its prefix length)"),
            );
        }
    }
}
