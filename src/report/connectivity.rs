//! Renders the allowed connections of the reachability graph (`xks-lint
//! connectivity`): txt in the line format of np-guard's netpol-analyzer `list`,
//! json, csv, Graphviz dot and Mermaid (namespaces as clusters, IP blocks in CIDR
//! notation, blocked pairs as dashed red edges), and the interactive page ([`super::html`]).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use super::sanitize::{Channel, Inline, Lines, inline};
use crate::graph::ip;
use crate::graph::ports::ConnSet;
use crate::graph::{Connection, End, EndKind};

/// A pair one side opened and the other refuses (a `missing-ingress-pair`,
/// `missing-egress-pair` or `ingress-backend-blocked` finding): drawn red and dashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub src: Arc<End>,
    pub dst: Arc<End>,
    /// What the open side wants and the other refuses.
    pub conns: ConnSet,
    pub rule: &'static str,
    /// `file:line:column` of the finding.
    pub at: String,
    pub reason: String,
}

/// What a node shows: a workload without its namespace (the cluster says it), an IP end in
/// CIDR notation, anything else as listed.
pub fn display_label(end: &End) -> String {
    match end.kind {
        EndKind::Ip => ip::parse_ranges(&end.label)
            .map(|ranges| ip::cidr_label(&ranges))
            .unwrap_or_else(|| end.label.clone()),
        _ => short_label(end).to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    /// One self-contained interactive page (`--output view.html`): namespaces that expand
    /// into workloads, filters, blocked pairs in red, `why` on a click.
    Html,
}

/// How the document is sanitised on its way out.
pub fn channel(format: ConnectivityFormat) -> Channel {
    match format {
        ConnectivityFormat::Json => Channel::Json,
        _ => Channel::Text,
    }
}

pub fn render(format: ConnectivityFormat, connections: &[Connection]) -> String {
    render_with_blocked(format, connections, Vec::new())
}

/// [`render`], with the blocked pairs drawn (dot and Mermaid; the line formats list allowed
/// connections only).
pub fn render_with_blocked(
    format: ConnectivityFormat,
    connections: &[Connection],
    blocked: Vec<Blocked>,
) -> String {
    let mut renderer = Renderer::new(
        format,
        connections.iter().flat_map(|c| [&*c.src, &*c.dst]),
        blocked,
    );
    let mut out = renderer.preamble();
    for c in connections {
        out.push_str(&renderer.line(c));
    }
    out.push_str(&renderer.finish());
    out
}

/// Writes a listing one connection at a time (`connectivity` streams it): a preamble, one
/// piece per connection, a closing piece. Every piece ends at a line break. Dot and Mermaid
/// declare their nodes first, so they are built from the distinct ends of the listing
/// ([`Renderer::needs_ends`]); the other formats ignore the ends.
pub struct Renderer {
    format: ConnectivityFormat,
    count: usize,
    preamble: String,
    ids: BTreeMap<String, String>,
    blocked: Vec<Blocked>,
    /// Mermaid links written so far (`linkStyle` addresses links by their index).
    links: usize,
}

impl Renderer {
    /// Whether [`Renderer::new`] needs the ends before the first line.
    pub fn needs_ends(format: ConnectivityFormat) -> bool {
        matches!(
            format,
            ConnectivityFormat::Dot | ConnectivityFormat::Mermaid
        )
    }

    /// `blocked`: drawn after the allowed connections by dot and Mermaid (their ends are
    /// declared with the others); ignored by the line formats.
    pub fn new<'a>(
        format: ConnectivityFormat,
        ends: impl Iterator<Item = &'a End>,
        blocked: Vec<Blocked>,
    ) -> Renderer {
        let mut ids = BTreeMap::new();
        let ends = ends.cloned().chain(
            blocked
                .iter()
                .flat_map(|b| [End::clone(&b.src), End::clone(&b.dst)]),
        );
        let preamble = match format {
            ConnectivityFormat::Txt | ConnectivityFormat::Json | ConnectivityFormat::Html => {
                String::new()
            }
            ConnectivityFormat::Csv => "src,dst,conn\n".to_string(),
            ConnectivityFormat::Dot => dot_nodes(&ends_by_namespace(ends)),
            ConnectivityFormat::Mermaid => mermaid_nodes(&ends_by_namespace(ends), &mut ids),
        };
        Renderer {
            format,
            count: 0,
            preamble,
            ids,
            blocked,
            links: 0,
        }
    }

    pub fn preamble(&mut self) -> String {
        std::mem::take(&mut self.preamble)
    }

    pub fn line(&mut self, c: &Connection) -> String {
        self.count += 1;
        match self.format {
            ConnectivityFormat::Txt | ConnectivityFormat::Html => {
                let mut out = Lines::new();
                out.line(format!(
                    "{} => {} : {}",
                    Inline(&c.src.label),
                    Inline(&c.dst.label),
                    c.conns
                ));
                out.finish()
            }
            ConnectivityFormat::Json => {
                let item = serde_json::json!({
                    "src": c.src.label,
                    "dst": c.dst.label,
                    "conn": c.conns.to_string(),
                });
                let text = serde_json::to_string_pretty(&item).unwrap_or_default();
                let mut out = String::from(if self.count == 1 { "[\n" } else { ",\n" });
                for (i, line) in text.lines().enumerate() {
                    if i > 0 {
                        out.push('\n');
                    }
                    out.push_str("  ");
                    out.push_str(line);
                }
                out
            }
            ConnectivityFormat::Csv => {
                let mut out = Lines::new();
                out.line(format!(
                    "{},{},{}",
                    csv_field(&c.src.label),
                    csv_field(&c.dst.label),
                    csv_field(&c.conns.to_string())
                ));
                out.finish()
            }
            ConnectivityFormat::Dot => format!(
                "\t{} -> {} [label={} color=\"gold2\" fontcolor=\"darkgreen\"]\n",
                dot_string(&c.src.label),
                dot_string(&c.dst.label),
                dot_string(&c.conns.to_string())
            ),
            ConnectivityFormat::Mermaid => {
                let (Some(src), Some(dst)) =
                    (self.ids.get(&c.src.label), self.ids.get(&c.dst.label))
                else {
                    return String::new();
                };
                self.links += 1;
                format!(
                    "  {src} -->|{}| {dst}\n",
                    mermaid_text(&c.conns.to_string())
                )
            }
        }
    }

    pub fn finish(self) -> String {
        match self.format {
            ConnectivityFormat::Json if self.count == 0 => "[]\n".to_string(),
            ConnectivityFormat::Json => "\n]\n".to_string(),
            ConnectivityFormat::Dot => {
                let mut out = String::new();
                for b in &self.blocked {
                    let _ = writeln!(
                        out,
                        "\t{} -> {} [label=\"{}\" tooltip={} color=\"red\" fontcolor=\"red\" style=\"dashed\"]",
                        dot_string(&b.src.label),
                        dot_string(&b.dst.label),
                        [
                            format!("BLOCKED {}", b.conns),
                            b.rule.to_string(),
                            b.at.clone()
                        ]
                        .iter()
                        .map(|line| dot_escape(line))
                        .collect::<Vec<_>>()
                        .join("\\n"),
                        dot_string(&b.reason)
                    );
                }
                out.push_str("}\n");
                out
            }
            ConnectivityFormat::Mermaid => {
                let mut out = String::new();
                let mut styled = Vec::new();
                for b in &self.blocked {
                    let (Some(src), Some(dst)) =
                        (self.ids.get(&b.src.label), self.ids.get(&b.dst.label))
                    else {
                        continue;
                    };
                    let _ = writeln!(
                        out,
                        "  {src} -.->|{}| {dst}",
                        mermaid_text(&format!("BLOCKED {} ({} at {})", b.conns, b.rule, b.at))
                    );
                    styled.push((self.links + styled.len()).to_string());
                }
                if !styled.is_empty() {
                    let _ = writeln!(
                        out,
                        "  linkStyle {} stroke:#d00000,color:#d00000,stroke-dasharray:6 4",
                        styled.join(",")
                    );
                }
                out
            }
            _ => String::new(),
        }
    }
}

pub fn txt(connections: &[Connection]) -> String {
    render(ConnectivityFormat::Txt, connections)
}

#[cfg(test)]
fn json(connections: &[Connection]) -> String {
    render(ConnectivityFormat::Json, connections)
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

#[cfg(test)]
fn csv(connections: &[Connection]) -> String {
    render(ConnectivityFormat::Csv, connections)
}

/// Every distinct end, grouped by namespace (`None`: IP blocks), in sorted order.
fn ends_by_namespace(ends: impl Iterator<Item = End>) -> BTreeMap<Option<String>, Vec<End>> {
    let mut groups: BTreeMap<Option<String>, Vec<End>> = BTreeMap::new();
    let mut seen = std::collections::BTreeSet::new();
    for end in ends {
        if seen.insert(end.label.clone()) {
            // A namespace of `--group namespace` is a node of its own, not a cluster.
            let cluster = match end.kind {
                EndKind::Namespace => None,
                _ => end.namespace.clone(),
            };
            groups.entry(cluster).or_default().push(end);
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
    format!("\"{}\"", dot_escape(text))
}

/// The inside of a DOT quoted string (see [`dot_string`]).
fn dot_escape(text: &str) -> String {
    inline(text).replace('\\', "\\\\").replace('"', "\\\"")
}

fn dot_nodes(groups: &BTreeMap<Option<String>, Vec<End>>) -> String {
    let mut out = String::from("digraph {\n");
    for (namespace, ends) in groups {
        let (indent, close) = match namespace {
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
            let (colour, shape) = match end.kind {
                EndKind::Workload => ("blue", ""),
                EndKind::Platform => ("darkorange", " shape=\"hexagon\""),
                EndKind::Ip => ("red2", " shape=\"note\""),
                EndKind::Namespace => ("blue", " shape=\"box\""),
            };
            let _ = writeln!(
                out,
                "{indent}{} [label={} color=\"{colour}\" fontcolor=\"{colour}\"{shape}]",
                dot_string(&end.label),
                dot_string(&display_label(end))
            );
        }
        if close {
            out.push_str("\t}\n");
        }
    }
    out
}

#[cfg(test)]
fn dot(connections: &[Connection]) -> String {
    render(ConnectivityFormat::Dot, connections)
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

fn mermaid_nodes(
    groups: &BTreeMap<Option<String>, Vec<End>>,
    ids: &mut BTreeMap<String, String>,
) -> String {
    let mut out = String::from(
        "flowchart LR\n  classDef platform fill:#fff3e0,stroke:#e65100\n  classDef ip fill:#f3e5f5,stroke:#6a1b9a\n",
    );
    let mut clusters = 0;
    for (namespace, ends) in groups {
        let indent = if let Some(ns) = namespace {
            let _ = writeln!(out, "  subgraph ns{clusters}[{}]", mermaid_text(ns));
            clusters += 1;
            "    "
        } else {
            "  "
        };
        for end in ends {
            let id = format!("n{}", ids.len());
            let class = match end.kind {
                EndKind::Platform => ":::platform",
                EndKind::Ip => ":::ip",
                _ => "",
            };
            let _ = writeln!(
                out,
                "{indent}{id}[{}]{class}",
                mermaid_text(&display_label(end))
            );
            ids.insert(end.label.clone(), id);
        }
        if namespace.is_some() {
            out.push_str("  end\n");
        }
    }
    out
}

#[cfg(test)]
fn mermaid(connections: &[Connection]) -> String {
    render(ConnectivityFormat::Mermaid, connections)
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
