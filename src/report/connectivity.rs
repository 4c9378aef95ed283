//! Renders the allowed connections of the reachability graph (`xks-lint
//! connectivity`): txt in the line format of np-guard's netpol-analyzer `list`,
//! json, csv, Graphviz dot and Mermaid (namespaces as clusters).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::sanitize::{Channel, Inline, Lines, inline};
use crate::graph::{Connection, End, EndKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConnectivityFormat {
    /// `SRC => DST : CONNS`, one sorted line per connection (np-guard netpol-analyzer `list` format).
    Txt,
    /// An array of `{"src", "dst", "conn"}` objects.
    Json,
    /// `src,dst,conn` with a header row (RFC 4180 quoting).
    Csv,
    /// Graphviz, namespaces as clusters.
    Dot,
    /// Mermaid flowchart, namespaces as subgraphs.
    Mermaid,
}

/// How the document is sanitised on its way out.
pub fn channel(format: ConnectivityFormat) -> Channel {
    match format {
        ConnectivityFormat::Json => Channel::Json,
        _ => Channel::Text,
    }
}

pub fn render(format: ConnectivityFormat, connections: &[Connection]) -> String {
    match format {
        ConnectivityFormat::Txt => txt(connections),
        ConnectivityFormat::Json => json(connections),
        ConnectivityFormat::Csv => csv(connections),
        ConnectivityFormat::Dot => dot(connections),
        ConnectivityFormat::Mermaid => mermaid(connections),
    }
}

pub fn txt(connections: &[Connection]) -> String {
    let mut out = Lines::new();
    for c in connections {
        out.line(format!(
            "{} => {} : {}",
            Inline(&c.src.label),
            Inline(&c.dst.label),
            c.conns
        ));
    }
    out.finish()
}

fn json(connections: &[Connection]) -> String {
    let items: Vec<serde_json::Value> = connections
        .iter()
        .map(|c| {
            serde_json::json!({
                "src": c.src.label,
                "dst": c.dst.label,
                "conn": c.conns.to_string(),
            })
        })
        .collect();
    let mut text = serde_json::to_string_pretty(&items).unwrap_or_else(|_| "[]".to_string());
    text.push('\n');
    text
}

/// An RFC 4180 field of one line: the value escaped by `inline` (so it holds no line
/// break), quoted when it holds a comma or a quote.
fn csv_field(text: &str) -> String {
    let text = inline(text);
    if text.contains([',', '"']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.into_owned()
    }
}

fn csv(connections: &[Connection]) -> String {
    let mut out = Lines::new();
    out.line("src,dst,conn");
    for c in connections {
        out.line(format!(
            "{},{},{}",
            csv_field(&c.src.label),
            csv_field(&c.dst.label),
            csv_field(&c.conns.to_string())
        ));
    }
    out.finish()
}

/// Every distinct end, grouped by namespace (`None`: IP blocks), in sorted order.
fn ends_by_namespace(connections: &[Connection]) -> BTreeMap<Option<String>, Vec<End>> {
    let mut groups: BTreeMap<Option<String>, Vec<End>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for end in connections.iter().flat_map(|c| [&c.src, &c.dst]) {
        if seen.insert(end.label.as_str()) {
            groups
                .entry(end.namespace.clone())
                .or_default()
                .push(End::clone(end));
        }
    }
    for group in groups.values_mut() {
        group.sort();
    }
    groups
}

/// The label shown inside a namespace cluster: `name[Kind]` without the namespace.
fn short_label(end: &End) -> &str {
    match (&end.namespace, end.kind) {
        (Some(ns), EndKind::Workload) => end
            .label
            .strip_prefix(ns.as_str())
            .and_then(|rest| rest.strip_prefix('/'))
            .unwrap_or(&end.label),
        _ => &end.label,
    }
}

/// A DOT quoted string: the value escaped by `inline` first, then DOT's own escapes
/// (`\\` and `\"`), so an escaped newline shows as the two characters `\n`.
fn dot_string(text: &str) -> String {
    format!(
        "\"{}\"",
        inline(text).replace('\\', "\\\\").replace('"', "\\\"")
    )
}

fn dot(connections: &[Connection]) -> String {
    let mut out = String::from("digraph {\n");
    for (namespace, ends) in ends_by_namespace(connections) {
        let (indent, close) = match &namespace {
            Some(ns) => {
                let _ = writeln!(
                    out,
                    "\tsubgraph {} {{",
                    dot_string(&format!("cluster_{ns}"))
                );
                let _ = writeln!(out, "\t\tlabel={}", dot_string(ns));
                ("\t\t", true)
            }
            None => ("\t", false),
        };
        for end in ends {
            let colour = match end.kind {
                EndKind::Workload => "blue",
                EndKind::Platform => "darkorange",
                EndKind::Ip => "red2",
            };
            let _ = writeln!(
                out,
                "{indent}{} [label={} color=\"{colour}\" fontcolor=\"{colour}\"]",
                dot_string(&end.label),
                dot_string(short_label(&end))
            );
        }
        if close {
            out.push_str("\t}\n");
        }
    }
    for c in connections {
        let _ = writeln!(
            out,
            "\t{} -> {} [label={} color=\"gold2\" fontcolor=\"darkgreen\"]",
            dot_string(&c.src.label),
            dot_string(&c.dst.label),
            dot_string(&c.conns.to_string())
        );
    }
    out.push_str("}\n");
    out
}

/// A Mermaid quoted label: the value escaped by `inline`, then `#`, `"`, `<` and `>` as
/// Mermaid entity codes (`#35;`, `#quot;`, `#lt;`, `#gt;`), so a label can neither end
/// the string nor carry an entity or HTML of its own.
fn mermaid_text(text: &str) -> String {
    let mut out = String::from("\"");
    for c in inline(text).chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            _ => out.push(c),
        }
    }
    out.push('"');
    out
}

fn mermaid(connections: &[Connection]) -> String {
    let mut out = String::from("flowchart LR\n");
    let mut ids: BTreeMap<String, String> = BTreeMap::new();
    let mut clusters = 0;
    for (namespace, ends) in ends_by_namespace(connections) {
        let indent = if let Some(ns) = &namespace {
            let _ = writeln!(out, "  subgraph ns{clusters}[{}]", mermaid_text(ns));
            clusters += 1;
            "    "
        } else {
            "  "
        };
        for end in ends {
            let id = format!("n{}", ids.len());
            let _ = writeln!(out, "{indent}{id}[{}]", mermaid_text(short_label(&end)));
            ids.insert(end.label.clone(), id);
        }
        if namespace.is_some() {
            out.push_str("  end\n");
        }
    }
    for c in connections {
        let (Some(src), Some(dst)) = (ids.get(&c.src.label), ids.get(&c.dst.label)) else {
            continue;
        };
        let _ = writeln!(
            out,
            "  {src} -->|{}| {dst}",
            mermaid_text(&c.conns.to_string())
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::graph::ports::{ConnSet, Protocol};

    fn sample() -> Vec<Connection> {
        let workload = |ns: &str, name: &str| {
            Arc::new(End {
                label: format!("{ns}/{name}[Deployment]"),
                namespace: Some(ns.to_string()),
                kind: EndKind::Workload,
            })
        };
        vec![
            Connection {
                src: Arc::new(End {
                    label: "0.0.0.0-9.255.255.255,11.0.0.0-255.255.255.255".to_string(),
                    namespace: None,
                    kind: EndKind::Ip,
                }),
                dst: workload("a", "web"),
                conns: ConnSet::single(Protocol::Tcp, 80)
                    .union(&ConnSet::single(Protocol::Tcp, 443)),
            },
            Connection {
                src: workload("a", "web"),
                dst: workload("b", "api"),
                conns: ConnSet::all(),
            },
        ]
    }

    #[test]
    fn txt_is_the_np_guard_line_format() {
        assert_eq!(
            txt(&sample()),
            "0.0.0.0-9.255.255.255,11.0.0.0-255.255.255.255 => a/web[Deployment] : TCP 80,443\na/web[Deployment] => b/api[Deployment] : All Connections\n"
        );
    }

    #[test]
    fn csv_quotes_fields_with_commas() {
        assert_eq!(
            csv(&sample()),
            "src,dst,conn\n\"0.0.0.0-9.255.255.255,11.0.0.0-255.255.255.255\",a/web[Deployment],\"TCP 80,443\"\na/web[Deployment],b/api[Deployment],All Connections\n"
        );
    }

    #[test]
    fn json_has_src_dst_conn() {
        let value: serde_json::Value = serde_json::from_str(&json(&sample())).unwrap();
        assert_eq!(value[1]["src"], "a/web[Deployment]");
        assert_eq!(value[1]["conn"], "All Connections");
    }

    #[test]
    fn dot_and_mermaid_cluster_by_namespace() {
        let dot = dot(&sample());
        assert!(dot.contains("subgraph \"cluster_a\" {"));
        assert!(dot.contains("\"a/web[Deployment]\" [label=\"web[Deployment]\""));
        assert!(
            dot.contains(
                "\"a/web[Deployment]\" -> \"b/api[Deployment]\" [label=\"All Connections\""
            )
        );
        let mermaid = mermaid(&sample());
        assert!(mermaid.starts_with("flowchart LR\n"));
        assert!(mermaid.contains("subgraph ns0[\"a\"]"));
        assert!(mermaid.contains("-->|\"TCP 80,443\"|"));
    }
}
