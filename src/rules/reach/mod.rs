//! Rules that read the reachability graph: missing halves of cross-namespace
//! pairs, blocked or missing ingress backends, selectors that select nothing,
//! egress to the cloud metadata endpoint.

pub mod egress_to_metadata_endpoint;
pub mod ingress_backend_blocked;
pub mod ingress_backend_missing;
pub mod missing_egress_pair;
pub mod missing_ingress_pair;
mod missing_pair;
pub mod peer_selects_nothing;
pub mod policy_selects_nothing;
pub mod service_selects_nothing;

mod backends;
pub mod blocked;

use std::fmt::Write;

use crate::graph::ports::ConnSet;
use crate::graph::selector::{Labels, Requirement, Selector};
use crate::load::yaml::Node;

/// The node at a path written as `spec.egress[0].to[1].ipBlock.cidr`.
pub fn node_at<'a>(root: &'a Node, path: &str) -> Option<&'a Node> {
    let mut node = root;
    for part in path.split('.') {
        let (key, indices) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            node = node.get(key)?;
        }
        for index in indices.split(['[', ']']).filter(|s| !s.is_empty()) {
            node = node.as_seq()?.get(index.parse::<usize>().ok()?)?;
        }
    }
    Some(node)
}

/// A YAML scalar for a label key or value, quoted when plain text would not
/// read back as the same string (numbers, booleans, null, special characters).
pub fn yaml_scalar(text: &str) -> String {
    let plain_chars = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
        && text.starts_with(|c: char| c.is_ascii_alphabetic());
    let special = matches!(
        text.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null" | "~"
    );
    if plain_chars && !special {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
    }
}

fn write_labels(out: &mut String, indent: usize, labels: &Labels) {
    let pad = " ".repeat(indent);
    for (k, v) in labels {
        let _ = writeln!(out, "{pad}{}: {}", yaml_scalar(k), yaml_scalar(v));
    }
}

/// Writes `key:` and the selector below it at `indent` (`key: {}` when it selects everything).
pub fn write_selector(out: &mut String, indent: usize, key: &str, selector: &Selector) {
    let pad = " ".repeat(indent);
    if selector.is_everything() {
        let _ = writeln!(out, "{pad}{key}: {{}}");
        return;
    }
    let _ = writeln!(out, "{pad}{key}:");
    let mut labels = Labels::new();
    let mut expressions = Vec::new();
    for requirement in &selector.requirements {
        match requirement {
            Requirement::In(k, values) if values.len() == 1 => {
                if let Some(v) = values.iter().next() {
                    labels.insert(k.clone(), v);
                }
            }
            other => expressions.push(other),
        }
    }
    if !labels.is_empty() {
        let _ = writeln!(out, "{pad}  matchLabels:");
        write_labels(out, indent + 4, &labels);
    }
    if !expressions.is_empty() {
        let _ = writeln!(out, "{pad}  matchExpressions:");
        for expression in expressions {
            let (key, operator, values) = match expression {
                Requirement::In(k, v) => (k, "In", Some(v)),
                Requirement::NotIn(k, v) => (k, "NotIn", Some(v)),
                Requirement::Exists(k) => (k, "Exists", None),
                Requirement::DoesNotExist(k) => (k, "DoesNotExist", None),
                Requirement::Invalid(_) => continue,
            };
            let _ = writeln!(out, "{pad}    - key: {}", yaml_scalar(key));
            let _ = writeln!(out, "{pad}      operator: {operator}");
            if let Some(values) = values {
                let _ = writeln!(out, "{pad}      values:");
                for v in values {
                    let _ = writeln!(out, "{pad}        - {}", yaml_scalar(v));
                }
            }
        }
    }
}

/// Writes a `ports:` list for `conns` at `indent`; nothing when every port is meant.
pub fn write_ports(out: &mut String, indent: usize, conns: &ConnSet) {
    if conns.is_all() {
        return;
    }
    let pad = " ".repeat(indent);
    let _ = writeln!(out, "{pad}ports:");
    for (protocol, ports) in conns.iter() {
        if ports.is_all() {
            let _ = writeln!(out, "{pad}  - protocol: {}", protocol.as_str());
            continue;
        }
        for &(a, b) in ports.ranges() {
            let _ = writeln!(out, "{pad}  - port: {a}");
            if b != a {
                let _ = writeln!(out, "{pad}    endPort: {b}");
            }
            let _ = writeln!(out, "{pad}    protocol: {}", protocol.as_str());
        }
    }
}

/// Short text of a selector for messages: `app=web, tier in (a,b)`; `{}` for everything.
pub fn describe_selector(selector: &Selector) -> String {
    if selector.is_everything() {
        return "{}".to_string();
    }
    selector
        .requirements
        .iter()
        .map(|r| match r {
            Requirement::In(k, v) if v.len() == 1 => {
                format!("{k}={}", v.iter().next().unwrap_or(""))
            }
            Requirement::In(k, v) => format!("{k} in ({})", join(v)),
            Requirement::NotIn(k, v) => format!("{k} notin ({})", join(v)),
            Requirement::Exists(k) => k.to_string(),
            Requirement::DoesNotExist(k) => format!("!{k}"),
            Requirement::Invalid(text) => format!("invalid `{text}`"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn join(values: &crate::graph::selector::Values) -> String {
    values.iter().collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_quote_what_yaml_would_misread() {
        assert_eq!(yaml_scalar("web"), "web");
        assert_eq!(
            yaml_scalar("app.kubernetes.io/name"),
            "app.kubernetes.io/name"
        );
        assert_eq!(yaml_scalar("10"), "\"10\"");
        assert_eq!(yaml_scalar("yes"), "\"yes\"");
        assert_eq!(yaml_scalar(""), "\"\"");
        assert_eq!(yaml_scalar("a b"), "\"a b\"");
    }
}
