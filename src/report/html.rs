//! `connectivity --format html`: one self-contained page (no network access when opened)
//! drawing the connectivity with the vendored Cytoscape.js (`vendor/`), namespaces that
//! expand into workloads, filters, blocked pairs in red and each edge's `why`.
//!
//! Everything from the repository reaches the page as data, never as markup: one JSON
//! document in a `<script type="application/json">` element, where every `<`, `>`, `&`,
//! `#`, control, bidi and line-separator character is a `\uXXXX` escape (so the data can
//! neither close the element nor change the document, and the guard of `report::emit`
//! finds nothing to change), and the page's script writes it with `textContent` only.

use std::fmt::Write;

use serde::Serialize;

use super::sanitize::is_unsafe;
use crate::graph::ports::{ConnSet, Protocol};

/// The vendored Cytoscape.js (version and licence in `vendor/README.md`).
pub const CYTOSCAPE: &str = include_str!("../../vendor/cytoscape/cytoscape.min.js");
const SCRIPT: &str = include_str!("view/view.js");
const STYLE: &str = include_str!("view/view.css");

/// What the page shows, as the command gathered it.
#[derive(Debug, Default, Serialize)]
pub struct View {
    /// What was analysed (the PATH arguments).
    pub title: String,
    pub namespaces: Vec<Namespace>,
    pub nodes: Vec<Node>,
    /// Distinct connection sets, referred to by index.
    pub conns: Vec<Conns>,
    /// `[source node, destination node, conns index, why index or -1]`.
    pub edges: Vec<[i64; 4]>,
    pub blocked: Vec<BlockedEdge>,
    /// Distinct explanations (`why`), referred to by index: each a list of indices into
    /// `why_lines` (explanations of neighbouring pairs share most of their lines).
    pub why: Vec<Vec<u32>>,
    pub why_lines: Vec<String>,
    /// Allowed connections not embedded (beyond the page's budget).
    pub edges_omitted: u64,
    /// Edges whose explanation was not embedded (beyond the budget).
    pub why_omitted: u64,
    /// `--changed-since REV`: what the change opens and closes (`diff`), `None` without it.
    pub diff: Option<Diff>,
    /// `--hide-default` was given: the page starts with the defaults hidden.
    pub hide_default: bool,
    /// `--group namespace` was given: the page starts collapsed whatever its size.
    pub collapsed: bool,
}

#[derive(Debug, Default, Serialize)]
pub struct Namespace {
    pub name: String,
    /// An XKS tenant namespace (its `default-deny` is the implicit one).
    pub tenant: bool,
    pub platform: bool,
    /// Connections of XKS's intra-namespace default between its workloads (all
    /// connections, in both directions), counted rather than listed.
    pub default_pairs: u64,
}

#[derive(Debug, Serialize)]
pub struct Node {
    /// The listing's label (`ns/name[Kind]`, `{endpoint}`, the address ranges).
    pub label: String,
    /// What the node shows: the name without its namespace, or CIDR blocks.
    pub short: String,
    /// Index into `namespaces`.
    pub ns: Option<usize>,
    /// `workload`, `platform` or `ip`.
    pub kind: &'static str,
}

/// A connection set: its text and, per protocol, the port ranges (for the port filter and
/// for uniting the connections of grouped edges).
#[derive(Debug, Serialize)]
pub struct Conns {
    pub text: String,
    /// `[protocol, first port, last port]`.
    pub ranges: Vec<(&'static str, u16, u16)>,
}

impl Conns {
    pub fn of(conns: &ConnSet) -> Conns {
        let mut ranges = Vec::new();
        for protocol in Protocol::ALL {
            for &(a, b) in conns.ports(protocol).ranges() {
                ranges.push((protocol.as_str(), a, b));
            }
        }
        Conns {
            text: conns.to_string(),
            ranges,
        }
    }
}

/// The connections a change opens and closes, as `diff` finds them.
#[derive(Debug, Default, Serialize)]
pub struct Diff {
    /// The revision compared with.
    pub base: String,
    pub changes: Vec<ChangeEdge>,
}

#[derive(Debug, Serialize)]
pub struct ChangeEdge {
    pub src: usize,
    pub dst: usize,
    /// `opened` or `closed`.
    pub kind: &'static str,
    pub conns: String,
    /// `allowed by NetworkPolicy ns/name spec.ingress[0] at path:line:col`, one per rule.
    pub responsible: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct BlockedEdge {
    pub src: usize,
    pub dst: usize,
    pub conns: usize,
    pub rule: &'static str,
    /// `file:line:column`.
    pub at: String,
    pub reason: String,
    pub why: i64,
}

/// The data as it is embedded: JSON with every character that could end the element,
/// start markup, or hide or move text escaped as `\uXXXX` (valid inside JSON strings,
/// the only place such characters can be).
pub fn embedded_json(view: &View) -> String {
    let json = serde_json::to_string(view).unwrap_or_else(|_| "{}".to_string());
    let mut out = String::with_capacity(json.len() + json.len() / 16);
    for c in json.chars() {
        if matches!(c, '<' | '>' | '&' | '#' | '\'') || is_unsafe(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

/// The page: markup, style and scripts of our own, the vendored library, the data.
pub fn page(view: &View) -> String {
    let mut out = String::with_capacity(CYTOSCAPE.len() + 64 * 1024);
    out.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>xks-lint connectivity</title>\n<style>\n",
    );
    out.push_str(STYLE);
    out.push_str(
        "</style>\n</head>\n<body>\n\
<header>\n\
  <h1>xks-lint connectivity <span id=\"title\"></span></h1>\n\
  <div id=\"controls\">\n\
    <label>namespace <input id=\"f-ns\" list=\"ns-list\" placeholder=\"any\" size=\"14\"></label>\n\
    <datalist id=\"ns-list\"></datalist>\n\
    <label>workload <input id=\"f-workload\" placeholder=\"name contains\" size=\"14\"></label>\n\
    <label>port <input id=\"f-port\" placeholder=\"8080 or 53/UDP\" size=\"10\"></label>\n\
    <label><input type=\"checkbox\" id=\"f-hide-default\"> hide intra-namespace defaults</label>\n\
    <label><input type=\"checkbox\" id=\"f-cross\"> only cross-namespace</label>\n\
    <label id=\"changed-toggle\" hidden><input type=\"checkbox\" id=\"f-changed\"> only what the change opens or closes</label>\n\
    <button id=\"expand-all\" type=\"button\">expand all</button>\n\
    <button id=\"collapse-all\" type=\"button\">collapse all</button>\n\
    <button id=\"fit\" type=\"button\">fit</button>\n\
  </div>\n\
</header>\n\
<main>\n\
  <div id=\"cy\"></div>\n\
  <aside id=\"side\">\n\
    <section id=\"legend\"></section>\n\
    <section id=\"details\"><h2>Details</h2><p class=\"hint\">Click an edge for the rules that allow it (why), a namespace to expand or collapse it.</p></section>\n\
    <section id=\"findings\"><h2>Blocked pairs</h2></section>\n\
  </aside>\n\
</main>\n\
<div id=\"notice\" hidden></div>\n\
<div id=\"xks-status\" data-state=\"loading\" hidden></div>\n\
<script type=\"application/json\" id=\"xks-data\">",
    );
    out.push_str(&embedded_json(view));
    out.push_str("</script>\n<script>\n");
    out.push_str(CYTOSCAPE);
    out.push_str("\n</script>\n<script>\n");
    out.push_str(SCRIPT);
    out.push_str("\n</script>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_data_cannot_close_the_element_or_carry_controls() {
        let view = View {
            title: "</script><script>alert(1)</script>\u{202e}\u{2028}\u{1b}[2J&#x3c;##[x".into(),
            ..View::default()
        };
        let json = embedded_json(&view);
        for bad in ["<", ">", "&", "#", "\u{202e}", "\u{2028}", "\u{1b}"] {
            assert!(!json.contains(bad), "{bad:?} in {json}");
        }
        // Still the same data once parsed.
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["title"], view.title.as_str());
        let page = page(&view);
        assert_eq!(page.matches("</script>").count(), 3);
        assert_eq!(
            crate::report::sanitize::guard(&page, crate::report::sanitize::Channel::Text),
            page.as_str()
        );
    }

    #[test]
    fn conns_list_ranges_per_protocol() {
        let conns = ConnSet::single(Protocol::Tcp, 80).union(&ConnSet::single(Protocol::Udp, 53));
        let c = Conns::of(&conns);
        assert_eq!(c.text, "TCP 80;UDP 53");
        assert_eq!(c.ranges, [("TCP", 80, 80), ("UDP", 53, 53)]);
        assert_eq!(Conns::of(&ConnSet::all()).ranges.len(), 3);
    }
}
