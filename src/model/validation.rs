//! What the API server's validation of a NetworkPolicy rejects (Kubernetes'
//! `ValidateNetworkPolicySpec` and the apimachinery checks it calls), on the span tree so
//! every problem points at its value. Shared by the `invalid-policy` rule, which reports
//! the problems, and the graph, which lets an invalid piece match nothing.
//!
//! Only what the API server rejects is a problem here: CIDRs are read as its lenient
//! ("sloppy") parser reads them (leading zeros allowed, host bits below the prefix ignored).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::load::yaml::{Node, NodeKind, Resolved};

/// One rejected value: the node to point at, its path in the object, and why.
#[derive(Debug)]
pub struct Problem<'n> {
    pub node: &'n Node,
    pub path: String,
    pub message: String,
}

/// A CIDR as the API server parses it (`net.ParseCIDR`, with IPv4 octets allowed leading
/// zeros): the network address (host bits cleared), the prefix length, and whether it is IPv6.
/// A bare address without `/` is not a CIDR.
pub fn parse_cidr(text: &str) -> Option<(u128, u32, bool)> {
    let (address, prefix) = text.split_once('/')?;
    let (value, bits, v6) = match parse_ipv4(address) {
        Some(v4) => (u128::from(u32::from(v4)), 32, false),
        None => {
            let v6: Ipv6Addr = address.parse().ok()?;
            (u128::from(v6), 128, true)
        }
    };
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) || prefix.len() > 3 {
        return None;
    }
    let prefix: u32 = prefix.parse().ok()?;
    if prefix > bits {
        return None;
    }
    let host_bits = bits - prefix;
    let host_mask = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    Some((value & !host_mask, prefix, v6))
}

/// Dotted-quad IPv4 with each octet written in decimal, leading zeros allowed.
fn parse_ipv4(text: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = text.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 8 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part
            .parse::<u32>()
            .ok()
            .and_then(|n| u8::try_from(n).ok())?;
    }
    parts.next().is_none().then(|| Ipv4Addr::from(octets))
}

/// `except` must be a strict subset of `cidr`: inside it, with a longer prefix.
pub fn strict_subset(cidr: (u128, u32, bool), except: (u128, u32, bool)) -> bool {
    let (network, prefix, v6) = cidr;
    let (inner, inner_prefix, inner_v6) = except;
    if v6 != inner_v6 || inner_prefix <= prefix {
        return false;
    }
    let bits = if v6 { 128 } else { 32 };
    let host_bits = bits - prefix;
    let mask = if host_bits == 128 {
        0
    } else {
        !((1u128 << host_bits) - 1)
    };
    inner & mask == network
}

/// IANA service name (`IsValidPortName`): 1–15 of `a-z0-9-`, at least one letter, no `-` at
/// either end and no `--`.
pub fn port_name_error(name: &str) -> Option<&'static str> {
    if name.is_empty() || name.len() > 15 {
        return Some("must be no more than 15 characters");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Some("must contain only alphanumeric characters (a-z, 0-9), and hyphens (-)");
    }
    if name.contains("--") {
        return Some("must not contain consecutive hyphens");
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        return Some("must contain at least one letter (a-z)");
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("must not begin or end with a hyphen");
    }
    None
}

/// The label name part: 1–63 characters, alphanumeric at both ends, `-_.` inside.
fn is_label_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A DNS-1123 subdomain: at most 253 characters of lowercase labels separated by dots.
pub fn is_dns_subdomain(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && label.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A label key (`IsQualifiedName`): `name` or `prefix/name` with a DNS subdomain prefix.
pub fn is_label_key(key: &str) -> bool {
    match key.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_name(name),
        None => is_label_name(key),
    }
}

/// A label value: empty, or a label name.
pub fn is_label_value(value: &str) -> bool {
    value.is_empty() || is_label_name(value)
}

fn text_of(node: &Node) -> Option<&str> {
    node.scalar_text()
}

fn present(node: Option<&Node>) -> Option<&Node> {
    node.filter(|n| !n.is_null())
}

/// Every problem of a NetworkPolicy's `spec`.
pub fn network_policy_problems(spec: &Node) -> Vec<Problem<'_>> {
    let mut out = Vec::new();
    if let Some(selector) = present(spec.get("podSelector")) {
        selector_problems(selector, &|| "spec.podSelector".to_string(), &mut out);
    }
    for (direction, peers_key) in [("ingress", "from"), ("egress", "to")] {
        let rules = spec.get(direction).and_then(Node::as_seq).unwrap_or(&[]);
        for (i, rule) in rules.iter().enumerate() {
            // Paths are formatted only for a problem: most policies have none.
            let path = || format!("spec.{direction}[{i}]");
            for (j, port) in rule
                .get("ports")
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                port_problems(port, &|| format!("{}.ports[{j}]", path()), &mut out);
            }
            for (j, peer) in rule
                .get(peers_key)
                .and_then(Node::as_seq)
                .unwrap_or(&[])
                .iter()
                .enumerate()
            {
                peer_problems(peer, &|| format!("{}.{peers_key}[{j}]", path()), &mut out);
            }
        }
    }
    if let Some(types) = spec.get("policyTypes").and_then(Node::as_seq) {
        if types.len() > 2 {
            if let Some(node) = spec.get("policyTypes") {
                out.push(Problem {
                    node,
                    path: "spec.policyTypes".to_string(),
                    message: "may not specify more than two policyTypes".to_string(),
                });
            }
        } else {
            for (i, kind) in types.iter().enumerate() {
                if !matches!(text_of(kind), Some("Ingress" | "Egress")) {
                    out.push(Problem {
                        node: kind,
                        path: format!("spec.policyTypes[{i}]"),
                        message: format!(
                            "unsupported policy type `{}`: supported values are `Ingress` and `Egress`",
                            text_of(kind).unwrap_or("")
                        ),
                    });
                }
            }
        }
    }
    out
}

/// Where a value is, formatted only when a problem there is reported.
type PathOf<'a> = &'a dyn Fn() -> String;

fn port_problems<'n>(port: &'n Node, path: PathOf<'_>, out: &mut Vec<Problem<'n>>) {
    let mut report = |node: &'n Node, field: &str, message: String| {
        out.push(Problem {
            node,
            path: format!("{}.{field}", path()),
            message,
        });
    };
    if let Some(protocol) = present(port.get("protocol"))
        && !matches!(text_of(protocol), Some("TCP" | "UDP" | "SCTP"))
    {
        report(
            protocol,
            "protocol",
            format!(
                "unsupported protocol `{}`: supported values are `TCP`, `UDP` and `SCTP` (upper case)",
                text_of(protocol).unwrap_or("")
            ),
        );
    }
    let end = present(port.get("endPort")).and_then(|n| match n.as_scalar()?.resolve() {
        Resolved::Int(value) => Some((n, value)),
        _ => None,
    });
    let number_problem = |value: i64| {
        (!(1..=65535).contains(&value)).then_some("must be between 1 and 65535, inclusive")
    };
    match present(port.get("port")) {
        Some(node) => match node.as_scalar().map(|s| (s.resolve(), s.value.as_str())) {
            Some((Resolved::Int(value), _)) => {
                if let Some(message) = number_problem(value) {
                    report(node, "port", format!("port {value} {message}"));
                }
                if let Some((end_node, end_value)) = end {
                    if end_value < value {
                        report(
                            end_node,
                            "endPort",
                            format!(
                                "endPort {end_value} must be greater than or equal to `port` ({value})"
                            ),
                        );
                    }
                    if let Some(message) = number_problem(end_value) {
                        report(
                            end_node,
                            "endPort",
                            format!("endPort {end_value} {message}"),
                        );
                    }
                }
            }
            Some((Resolved::Str, name)) => {
                if let Some((end_node, _)) = end {
                    report(
                        end_node,
                        "endPort",
                        "endPort may not be specified when `port` is non-numeric (a named port)"
                            .to_string(),
                    );
                }
                if let Some(message) = port_name_error(name) {
                    let hint = if name.parse::<i64>().is_ok() {
                        " (a quoted number is a port name to the API server: write it unquoted)"
                    } else {
                        ""
                    };
                    report(
                        node,
                        "port",
                        format!("`{name}` is not a valid port name: {message}{hint}"),
                    );
                }
            }
            _ => {}
        },
        None => {
            if let Some((end_node, _)) = end {
                report(
                    end_node,
                    "endPort",
                    "endPort may not be specified when `port` is not specified".to_string(),
                );
            }
        }
    }
}

fn peer_problems<'n>(peer: &'n Node, path: PathOf<'_>, out: &mut Vec<Problem<'n>>) {
    let pods = present(peer.get("podSelector"));
    let namespaces = present(peer.get("namespaceSelector"));
    let block = present(peer.get("ipBlock"));
    if let Some(selector) = pods {
        selector_problems(selector, &|| format!("{}.podSelector", path()), out);
    }
    if let Some(selector) = namespaces {
        selector_problems(selector, &|| format!("{}.namespaceSelector", path()), out);
    }
    if let Some(block) = block {
        ip_block_problems(block, &|| format!("{}.ipBlock", path()), out);
    }
    let count = [pods, namespaces, block].iter().flatten().count();
    if count == 0 {
        out.push(Problem {
            node: peer,
            path: path(),
            message: "must specify a peer: a podSelector, a namespaceSelector or an ipBlock"
                .to_string(),
        });
    } else if count > 1 && block.is_some() {
        out.push(Problem {
            node: peer,
            path: path(),
            message: "may not specify both ipBlock and another peer".to_string(),
        });
    }
}

fn ip_block_problems<'n>(block: &'n Node, path: PathOf<'_>, out: &mut Vec<Problem<'n>>) {
    let cidr_node = present(block.get("cidr"));
    let Some(cidr_text) = cidr_node.and_then(text_of).filter(|t| !t.is_empty()) else {
        out.push(Problem {
            node: cidr_node.unwrap_or(block),
            path: format!("{}.cidr", path()),
            message: "cidr is required".to_string(),
        });
        return;
    };
    let cidr = parse_cidr(cidr_text);
    if cidr.is_none()
        && let Some(node) = cidr_node
    {
        out.push(Problem {
            node,
            path: format!("{}.cidr", path()),
            message: format!("`{cidr_text}` is not a valid CIDR (address/prefix-length)"),
        });
        return;
    }
    for (i, except) in block
        .get("except")
        .and_then(Node::as_seq)
        .unwrap_or(&[])
        .iter()
        .enumerate()
    {
        let text = text_of(except).unwrap_or("");
        let message = match (parse_cidr(text), cidr) {
            (None, _) => format!("`{text}` is not a valid CIDR (address/prefix-length)"),
            (Some(inner), Some(outer)) if !strict_subset(outer, inner) => {
                format!("`{text}` must be a strict subset of `cidr` ({cidr_text})")
            }
            _ => continue,
        };
        out.push(Problem {
            node: except,
            path: format!("{}.except[{i}]", path()),
            message,
        });
    }
}

/// `ValidateLabelSelector`: label keys and values, and each requirement's operator/values.
/// Every problem of a label selector (`matchLabels`, `matchExpressions`) at `path`.
pub fn label_selector_problems<'n>(selector: &'n Node, path: &str) -> Vec<Problem<'n>> {
    let mut out = Vec::new();
    selector_problems(selector, &|| path.to_string(), &mut out);
    out
}

fn selector_problems<'n>(selector: &'n Node, path: PathOf<'_>, out: &mut Vec<Problem<'n>>) {
    if let Some(NodeKind::Map(labels, _)) = selector.get("matchLabels").map(|n| &n.kind) {
        for (key, value) in labels {
            let key_text = text_of(key).unwrap_or("");
            if !is_label_key(key_text) {
                out.push(Problem {
                    node: key,
                    path: format!("{}.matchLabels", path()),
                    message: format!("`{key_text}` is not a valid label key"),
                });
            }
            let value_text = text_of(value).unwrap_or("");
            if !is_label_value(value_text) {
                out.push(Problem {
                    node: value,
                    path: format!("{}.matchLabels.{key_text}", path()),
                    message: format!(
                        "`{value_text}` is not a valid label value (at most 63 characters, alphanumeric at both ends, `-_.` inside)"
                    ),
                });
            }
        }
    }
    let expressions = selector
        .get("matchExpressions")
        .and_then(Node::as_seq)
        .unwrap_or(&[]);
    for (i, expression) in expressions.iter().enumerate() {
        let path = || format!("{}.matchExpressions[{i}]", path());
        let key = present(expression.get("key"));
        let key_text = key.and_then(text_of).unwrap_or("");
        if !is_label_key(key_text) {
            out.push(Problem {
                node: key.unwrap_or(expression),
                path: format!("{}.key", path()),
                message: format!("`{key_text}` is not a valid label key"),
            });
        }
        let values_node = present(expression.get("values"));
        let values = values_node.and_then(Node::as_seq).unwrap_or(&[]);
        let operator = present(expression.get("operator"));
        let operator_text = operator.and_then(text_of).unwrap_or("");
        let at = operator.unwrap_or(expression);
        match operator_text {
            "In" | "NotIn" => {
                if values.is_empty() {
                    out.push(Problem {
                        node: values_node.unwrap_or(at),
                        path: format!("{}.values", path()),
                        message: format!("must be specified when `operator` is `{operator_text}`"),
                    });
                }
                for (j, value) in values.iter().enumerate() {
                    let text = text_of(value).unwrap_or("");
                    if !is_label_value(text) {
                        out.push(Problem {
                            node: value,
                            path: format!("{}.values[{j}]", path()),
                            message: format!("`{text}` is not a valid label value"),
                        });
                    }
                }
            }
            "Exists" | "DoesNotExist" => {
                if !values.is_empty() {
                    out.push(Problem {
                        node: values_node.unwrap_or(at),
                        path: format!("{}.values", path()),
                        message: format!(
                            "may not be specified when `operator` is `{operator_text}`"
                        ),
                    });
                }
            }
            other => out.push(Problem {
                node: at,
                path: format!("{}.operator", path()),
                message: format!(
                    "`{other}` is not a valid selector operator: use `In`, `NotIn`, `Exists` or `DoesNotExist`"
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_stream;

    fn problems(spec: &str) -> Vec<(String, String)> {
        let stream = parse_stream(spec);
        let root = &stream.documents[0].root;
        network_policy_problems(root)
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect()
    }

    #[test]
    fn cidrs_as_the_api_server_parses_them() {
        assert!(parse_cidr("10.0.0.0/8").is_some());
        assert!(parse_cidr("10.0.0.1/8").is_some(), "host bits are ignored");
        assert!(
            parse_cidr("010.0.0.0/8").is_some(),
            "leading zeros are sloppy-accepted"
        );
        assert!(parse_cidr("2001:db8::/32").is_some());
        assert!(parse_cidr("300.1.1.1/8").is_none());
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(
            parse_cidr("10.0.0.1").is_none(),
            "a bare address is no CIDR"
        );
        assert!(parse_cidr("10.0.0.0/-1").is_none());
        assert!(parse_cidr("::/129").is_none());
        let outer = parse_cidr("10.0.0.0/8").unwrap();
        assert!(strict_subset(outer, parse_cidr("10.1.0.0/16").unwrap()));
        assert!(!strict_subset(outer, parse_cidr("10.0.0.0/8").unwrap()));
        assert!(!strict_subset(outer, parse_cidr("11.0.0.0/16").unwrap()));
        assert!(!strict_subset(outer, parse_cidr("::/64").unwrap()));
        assert_eq!(outer.0, 10 << 24);
    }

    #[test]
    fn port_names_follow_iana() {
        assert_eq!(port_name_error("http"), None);
        assert_eq!(port_name_error("h2c-8080"), None);
        assert!(port_name_error("a-very-long-port-name").is_some());
        assert!(port_name_error("80").is_some());
        assert!(port_name_error("HTTP").is_some());
        assert!(port_name_error("-http").is_some());
        assert!(port_name_error("ht--tp").is_some());
    }

    #[test]
    fn every_rejected_value_is_found_and_nothing_accepted() {
        let found = problems(
            "podSelector: {matchExpressions: [{key: app, operator: In}, {key: b, operator: Exists, values: [x]}, {key: c, operator: Has}]}
ingress:
  - from:
      - ipBlock: {cidr: 300.1.1.1/8}
      - ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16, 10.1.0.0/16]}
      - {}
      - {ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}
    ports:
      - port: 0
      - port: 70000
      - {port: 90, endPort: 80}
      - {port: http, endPort: 90}
      - {endPort: 90}
      - port: a-very-long-port-name
      - port: \"80\"
      - {port: 80, protocol: tcp}
      - {port: 80, endPort: 90, protocol: SCTP}
policyTypes: [Ingress, Sideways]
",
        );
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.podSelector.matchExpressions[0].values",
                "spec.podSelector.matchExpressions[1].values",
                "spec.podSelector.matchExpressions[2].operator",
                "spec.ingress[0].ports[0].port",
                "spec.ingress[0].ports[1].port",
                "spec.ingress[0].ports[2].endPort",
                "spec.ingress[0].ports[3].endPort",
                "spec.ingress[0].ports[4].endPort",
                "spec.ingress[0].ports[5].port",
                "spec.ingress[0].ports[6].port",
                "spec.ingress[0].ports[7].protocol",
                "spec.ingress[0].from[0].ipBlock.cidr",
                "spec.ingress[0].from[1].ipBlock.except[0]",
                "spec.ingress[0].from[2]",
                "spec.ingress[0].from[3]",
                "spec.policyTypes[1]",
            ],
            "{found:#?}"
        );
    }
}
