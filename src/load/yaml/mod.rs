//! Span-aware YAML: turns saphyr-parser events into a tree in which every node
//! knows its byte range and 1-based line/column, and every scalar knows how it
//! was written (plain or quoted), which the type rules need.

use crate::hashing::{FastMap, FastSet};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};

use ecow::EcoString;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span as ParserSpan, Tag};

use crate::span::{End, FileId, Pos, Span, narrow};

/// The fast path: the events of plain block YAML without saphyr-parser.
mod fast;
/// The parser, from events to trees.
mod parse;
/// Copy-on-write children of collections.
mod shared;

pub use parse::{RunBudget, parse_stream, parse_stream_in};
pub use shared::Shared;

use crate::limits::{
    MAX_DEPTH, MAX_ERRORS_PER_FILE, MAX_EXPANDED_NODES, MAX_FILE_NODES, MAX_RUN_YAML_NODES,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Plain,
    Quoted,
    Block,
}

/// What a scalar resolves to under the YAML 1.1 rules the Kubernetes API
/// machinery (go-yaml v2 via sigs.k8s.io/yaml) applies.
#[derive(Debug, Clone, PartialEq)]
pub enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str,
}

/// A scalar's text and how it was written (plain or quoted, and its explicit tag), as
/// its node holds them: [`Node::as_scalar`] lends one.
#[derive(Debug, Clone, Copy)]
pub struct Scalar<'a> {
    pub value: &'a EcoString,
    pub style: Style,
    pub tag: Option<ExplicitTag>,
}

/// What an explicit tag makes of a scalar under the resolution the API machinery applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExplicitTag {
    /// `!!str`, the non-specific `!`, and every tag the API machinery does not know: a string.
    Str,
    /// `!!null`.
    Null,
    /// `!!bool`, `!!int`, `!!float`: the plain-scalar rules decide from the text.
    Typed,
}

impl ExplicitTag {
    /// The tag written as `handle` + `suffix` (`tag:yaml.org,2002:str`, `!`, `!local`).
    pub fn from_name(name: &str) -> ExplicitTag {
        match name {
            "tag:yaml.org,2002:null" => ExplicitTag::Null,
            "tag:yaml.org,2002:bool" | "tag:yaml.org,2002:int" | "tag:yaml.org,2002:float" => {
                ExplicitTag::Typed
            }
            _ => ExplicitTag::Str,
        }
    }
}

/// What a node holds. Each variant carries the node's origin: the file it was written in,
/// when that differs from its object's file (a value grafted in by a kustomize patch or
/// transformer). Kept in the variants, field by field, rather than next to the kind: the
/// scalar's style byte gives the enum its tag, every variant fits the 24 bytes a scalar
/// needs, and a node (kind and span) is 32 bytes. (An origin beside the kind, or a scalar
/// held as one struct field, leaves the compiler no room for the tag: 40 bytes.)
#[derive(Debug, Clone)]
pub enum NodeKind {
    Scalar {
        /// Most keys and values are short: stored inline (up to 15 bytes), they cost no
        /// allocation of their own; longer ones the parser shares (see `parse::interned`).
        value: EcoString,
        style: Style,
        /// An explicit tag (`!!str 8080`, `!custom x`), kept as what it does to the value's
        /// meaning rather than as text: one byte.
        tag: Option<ExplicitTag>,
        origin: Option<FileId>,
    },
    Seq(Shared<Node>, Option<FileId>),
    Map(Shared<(Node, Node)>, Option<FileId>),
}

impl NodeKind {
    /// The scalar's text, style and tag (`None` for a collection).
    pub fn as_scalar(&self) -> Option<Scalar<'_>> {
        match self {
            NodeKind::Scalar {
                value, style, tag, ..
            } => Some(Scalar::of(value, style, tag)),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub struct Document {
    pub root: Node,
    /// Keys that appear twice in one mapping (the repeat, then the first occurrence):
    /// kept last-wins in the tree, reported by the loader.
    pub duplicate_keys: Vec<(Span, Span)>,
    /// Whether some mapping of the document has a key that is itself a collection
    /// (`{{ .Values.name }}` reads so). Noted while building, so that the loader's search
    /// for such a key walks only the rare document that has one.
    pub collection_keys: bool,
}

#[derive(Debug, Clone)]
pub struct YamlError {
    pub message: String,
    pub pos: Pos,
}

/// Every document of a stream that parsed, and every error met on the way.
#[derive(Debug, Default)]
pub struct Stream {
    pub documents: Vec<Document>,
    /// The first [`MAX_ERRORS_PER_FILE`] errors.
    pub errors: Vec<YamlError>,
    /// Errors met beyond those kept.
    pub errors_not_kept: usize,
    /// For each error, the byte range of the text it made unreadable (from the start of
    /// the document it struck to the next `---` line, or the end of the text).
    pub failed: Vec<std::ops::Range<usize>>,
}

impl<'a> Scalar<'a> {
    /// The view of a scalar variant's fields (as a `NodeKind::Scalar` arm binds them).
    pub fn of(value: &'a EcoString, style: &Style, tag: &Option<ExplicitTag>) -> Scalar<'a> {
        Scalar {
            value,
            style: *style,
            tag: *tag,
        }
    }

    pub fn resolve(&self) -> Resolved {
        if let Some(tag) = self.tag {
            return match tag {
                ExplicitTag::Str => Resolved::Str,
                ExplicitTag::Null => Resolved::Null,
                ExplicitTag::Typed => resolve_plain(self.value),
            };
        }
        match self.style {
            Style::Plain => resolve_plain(self.value),
            Style::Quoted | Style::Block => Resolved::Str,
        }
    }
}

/// YAML 1.1 plain-scalar resolution as go-yaml v2 does it.
pub fn resolve_plain(value: &str) -> Resolved {
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Resolved::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Resolved::Bool(false);
        }
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    let first = value.as_bytes()[0];
    if !(first.is_ascii_digit() || first == b'-' || first == b'+' || first == b'.') {
        return Resolved::Str;
    }
    let cleaned: String = value.chars().filter(|c| *c != '_').collect();
    if let Some(int) = parse_int(&cleaned) {
        return Resolved::Int(int);
    }
    // go-yaml falls back to a float for decimal integers too large for 64 bits.
    let unsigned = cleaned.trim_start_matches(['-', '+']);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return Resolved::Float(cleaned.parse::<f64>().unwrap_or(f64::INFINITY));
    }
    if is_float_syntax(&cleaned)
        && let Ok(f) = cleaned.parse::<f64>()
    {
        return Resolved::Float(f);
    }
    Resolved::Str
}

fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() {
        return None;
    }
    let magnitude = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(bin) = digits.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if digits.len() > 1 && digits.starts_with('0') {
        i64::from_str_radix(&digits[1..], 8).ok()?
    } else if digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse::<i64>().ok()?
    } else {
        return None;
    };
    Some(if negative { -magnitude } else { magnitude })
}

fn is_float_syntax(text: &str) -> bool {
    let body = text.trim_start_matches(['-', '+']);
    let mut seen_digit = false;
    let mut seen_exp = false;
    let mut previous = ' ';
    for c in body.chars() {
        match c {
            '0'..='9' => seen_digit = true,
            '.' if !seen_exp => {}
            'e' | 'E' if seen_digit && !seen_exp => seen_exp = true,
            '-' | '+' if matches!(previous, 'e' | 'E') => {}
            _ => return false,
        }
        previous = c;
    }
    seen_digit && (body.contains('.') || seen_exp)
}

impl Node {
    /// A scalar written at `span` of its object's file.
    pub fn scalar(value: EcoString, style: Style, tag: Option<ExplicitTag>, span: Span) -> Node {
        Node {
            kind: NodeKind::Scalar {
                value,
                style,
                tag,
                origin: None,
            },
            span,
        }
    }

    /// A sequence written at `span` of its object's file.
    pub fn seq(items: Shared<Node>, span: Span) -> Node {
        Node {
            kind: NodeKind::Seq(items, None),
            span,
        }
    }

    /// A mapping written at `span` of its object's file.
    pub fn map(entries: Shared<(Node, Node)>, span: Span) -> Node {
        Node {
            kind: NodeKind::Map(entries, None),
            span,
        }
    }

    /// The file this node was written in, when it differs from its object's file (a
    /// value grafted in by a kustomize patch or transformer).
    pub fn origin(&self) -> Option<FileId> {
        match &self.kind {
            NodeKind::Scalar { origin, .. }
            | NodeKind::Seq(_, origin)
            | NodeKind::Map(_, origin) => *origin,
        }
    }

    /// This node's origin (see [`Node::origin`]), to set.
    pub fn origin_mut(&mut self) -> &mut Option<FileId> {
        match &mut self.kind {
            NodeKind::Scalar { origin, .. }
            | NodeKind::Seq(_, origin)
            | NodeKind::Map(_, origin) => origin,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries, _) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items, _) => Some(items),
            _ => None,
        }
    }

    pub fn as_scalar(&self) -> Option<Scalar<'_>> {
        self.kind.as_scalar()
    }

    /// The scalar's text and style, to change in place.
    pub fn as_scalar_mut(&mut self) -> Option<(&mut EcoString, &mut Style)> {
        match &mut self.kind {
            NodeKind::Scalar { value, style, .. } => Some((value, style)),
            _ => None,
        }
    }

    /// The scalar's text when it resolves to a string (quoted, or plain and not a number/bool/null).
    pub fn as_str(&self) -> Option<&str> {
        let scalar = self.as_scalar()?;
        (scalar.resolve() == Resolved::Str).then_some(scalar.value.as_str())
    }

    /// The scalar's raw text whatever it resolves to (a label value `10` reads as "10").
    pub fn scalar_text(&self) -> Option<&str> {
        self.scalar_string().map(EcoString::as_str)
    }

    /// The scalar's raw text as the tree holds it: a clone is inline up to 15 bytes and
    /// shares a longer text instead of copying it.
    pub fn scalar_string(&self) -> Option<&EcoString> {
        match &self.kind {
            NodeKind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// The key node and value node of `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .rev()
            .find(|(k, _)| k.scalar_text() == Some(key))
            .map(|(k, v)| (k, v))
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    pub fn path(&self, keys: &[&str]) -> Option<&Node> {
        keys.iter().try_fold(self, |node, key| node.get(key))
    }

    /// A scalar written nowhere in particular (synthesised by a transformer).
    pub fn synthetic_str(value: &str, span: Span, origin: Option<FileId>) -> Node {
        Node {
            kind: NodeKind::Scalar {
                value: value.into(),
                style: Style::Quoted,
                tag: None,
                origin,
            },
            span,
        }
    }

    /// Marks this node and everything below it as written in `file`.
    pub fn set_origin(&mut self, file: FileId) {
        *self.origin_mut() = Some(file);
        match &mut self.kind {
            NodeKind::Scalar { .. } => {}
            NodeKind::Seq(items, _) => items.iter_mut().for_each(|n| n.set_origin(file)),
            NodeKind::Map(entries, _) => entries.iter_mut().for_each(|(k, v)| {
                k.set_origin(file);
                v.set_origin(file);
            }),
        }
    }

    /// Whether both nodes mean the same value to the API server (what [`Node::to_json`]
    /// would give), whatever their spans, origins, quoting or key order.
    pub fn same_value(&self, other: &Node) -> bool {
        if let (Some(a), Some(b)) = (self.as_scalar(), other.as_scalar()) {
            return match (a.resolve(), b.resolve()) {
                (Resolved::Str, Resolved::Str) => a.value == b.value,
                (Resolved::Float(x), Resolved::Float(y)) if x.is_nan() || y.is_nan() => {
                    x.is_nan() && y.is_nan() && a.value == b.value
                }
                (x, y) => x == y,
            };
        }
        match (&self.kind, &other.kind) {
            (NodeKind::Seq(a, _), NodeKind::Seq(b, _)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_value(y))
            }
            (NodeKind::Map(a, _), NodeKind::Map(b, _)) => {
                let key = |k: &Node| k.scalar_text().map(str::to_string);
                let in_order = a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| key(ka) == key(kb) && va.same_value(vb));
                in_order || {
                    // Later duplicates win, as in to_json.
                    let a: BTreeMap<_, _> =
                        a.iter().filter_map(|(k, v)| Some((key(k)?, v))).collect();
                    let b: BTreeMap<_, _> =
                        b.iter().filter_map(|(k, v)| Some((key(k)?, v))).collect();
                    a.len() == b.len()
                        && a.iter()
                            .all(|(k, v)| b.get(k).is_some_and(|w| v.same_value(w)))
                }
            }
            _ => false,
        }
    }

    pub fn is_null(&self) -> bool {
        self.as_scalar()
            .is_some_and(|s| s.resolve() == Resolved::Null)
    }

    /// Nodes of this tree (each key, value and item counts one).
    pub fn expanded_size(&self) -> usize {
        // Most nodes are scalars (every key, most values): counted here, without a call.
        fn size(node: &Node) -> usize {
            match node.kind {
                NodeKind::Scalar { .. } => 1,
                _ => node.expanded_size(),
            }
        }
        match &self.kind {
            NodeKind::Scalar { .. } => 1,
            NodeKind::Seq(items, _) => 1 + items.iter().map(size).sum::<usize>(),
            NodeKind::Map(entries, _) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| size(k) + size(v))
                    .sum::<usize>()
            }
        }
    }

    /// JSON as the API server would see it after YAML 1.1 resolution.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Scalar {
                value, style, tag, ..
            } => match Scalar::of(value, style, tag).resolve() {
                Resolved::Null => Value::Null,
                Resolved::Bool(b) => Value::Bool(b),
                Resolved::Int(i) => Value::from(i),
                Resolved::Float(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(value.to_string())),
                Resolved::Str => Value::String(value.to_string()),
            },
            NodeKind::Seq(items, _) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries, _) => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    let Some(key) = k.scalar_text() else {
                        continue;
                    };
                    map.insert(key.to_string(), v.to_json());
                }
                Value::Object(map)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tree is most of the parse stage's memory (a node per key and per value): a
    /// node is its kind (a scalar inline up to 15 bytes, its style, tag and origin beside
    /// it: 24) and a span (8: two byte offsets): 32 bytes, where a mapping entry (a key
    /// and a value) is 64. Sizes matter at the allocator's size classes: a mapping of one
    /// to four entries took mimalloc's 160/320/448/640-byte blocks at 72 bytes a node,
    /// 112/224/320/448 at 48, 96/192/256/384 at 40, and takes 80/160/224/320 at 32.
    #[test]
    fn a_node_stays_small() {
        assert!(std::mem::size_of::<crate::span::Span>() <= 8);
        assert!(std::mem::size_of::<Option<FileId>>() <= 4);
        assert!(std::mem::size_of::<NodeKind>() <= 24);
        assert!(
            std::mem::size_of::<Node>() <= 32,
            "{}",
            std::mem::size_of::<Node>()
        );
    }

    /// A cloned tree shares its collections; changing one path of the clone copies the
    /// collections on that path only, and the original never sees the change.
    #[test]
    fn clones_share_children_until_changed() {
        let original = doc("metadata:\n  name: a\nspec:\n  ports: [80, 443]\n");
        let mut copy = original.clone();
        let ports = |n: &Node| {
            n.path(&["spec", "ports"])
                .unwrap()
                .as_seq()
                .unwrap()
                .as_ptr()
        };
        assert_eq!(
            ports(&original),
            ports(&copy),
            "a clone shares its subtrees"
        );
        let NodeKind::Map(entries, _) = &mut copy.kind else {
            panic!("not a map")
        };
        let (_, metadata) = entries.first_mut().unwrap();
        let NodeKind::Map(fields, _) = &mut metadata.kind else {
            panic!("not a map")
        };
        fields.push((
            Node::synthetic_str("namespace", Span::default(), None),
            Node::synthetic_str("prod", Span::default(), None),
        ));
        assert_eq!(
            copy.path(&["metadata", "namespace"]).unwrap().as_str(),
            Some("prod")
        );
        assert!(original.path(&["metadata", "namespace"]).is_none());
        assert_eq!(
            ports(&original),
            ports(&copy),
            "an untouched subtree stays shared"
        );
        let mut seq = copy.path(&["spec", "ports"]).unwrap().clone();
        if let NodeKind::Seq(items, _) = &mut seq.kind {
            items.truncate(1);
        }
        assert_eq!(seq.as_seq().unwrap().len(), 1);
        assert_eq!(
            copy.path(&["spec", "ports"])
                .unwrap()
                .as_seq()
                .unwrap()
                .len(),
            2
        );
    }

    fn doc(text: &str) -> Node {
        let stream = parse_stream(text);
        assert!(stream.errors.is_empty(), "{:?}", stream.errors);
        stream.documents[0].root.clone()
    }

    /// Start line and column, end line and column (the end's counted in `text`).
    fn at(text: &str, span: Span) -> (u32, u32, u32, u32) {
        let end = span.end_pos(text);
        let start = span.start_pos(text);
        (start.line, start.col, end.line, end.col)
    }

    #[test]
    fn keys_and_values_have_exact_spans() {
        let text = "metadata:\n  name: api\n  labels: {app: \"web\"}\n";
        let root = doc(text);
        let (key, value) = root.path(&["metadata"]).unwrap().entry("name").unwrap();
        assert_eq!(at(text, key.span), (2, 3, 2, 7));
        assert_eq!(at(text, value.span), (2, 9, 2, 12));
        let labels = root.path(&["metadata", "labels"]).unwrap();
        assert_eq!(
            at(text, labels.span),
            (3, 11, 3, 23),
            "flow mapping ends after its brace"
        );
        let quoted = labels.get("app").unwrap();
        assert_eq!(
            at(text, quoted.span),
            (3, 17, 3, 22),
            "quotes belong to the node"
        );
        assert_eq!(quoted.as_str(), Some("web"));
    }

    #[test]
    fn columns_count_characters_and_bytes_are_bytes() {
        let text = "ä: 1\nö: [x]\n";
        let root = doc(text);
        let (key, value) = root.entry("ö").unwrap();
        assert_eq!(at(text, key.span), (2, 1, 2, 2));
        assert_eq!(key.span.start.byte, 6);
        assert_eq!(value.span.start_pos(text).col, 4);
        assert_eq!(value.span.start.byte, 10);
    }

    #[test]
    fn block_mapping_ends_at_its_last_value_not_at_trailing_comments() {
        let text = "a:\n  b: 1\n  c: 2\n# trailing\n\nd: 3\n";
        let root = doc(text);
        assert_eq!(at(text, root.get("a").unwrap().span), (2, 3, 3, 7));
    }

    #[test]
    fn a_broken_document_does_not_take_the_next_one_with_it() {
        let text = "a: 1\n---\nb: [\n---\nc: 3\n";
        let stream = parse_stream(text);
        assert_eq!(stream.errors.len(), 1);
        assert_eq!(stream.documents.len(), 2);
        let last = &stream.documents[1].root;
        assert_eq!(last.get("c").unwrap().span.start_pos(text).line, 5);
    }

    #[test]
    fn yaml_1_1_resolution_as_the_api_server_reads_it() {
        for (text, expected) in [
            ("yes", Resolved::Bool(true)),
            ("Off", Resolved::Bool(false)),
            ("y", Resolved::Bool(true)),
            ("0755", Resolved::Int(493)),
            ("0x1f", Resolved::Int(31)),
            ("1_000", Resolved::Int(1000)),
            ("-42", Resolved::Int(-42)),
            ("1.5", Resolved::Float(1.5)),
            ("1e3", Resolved::Float(1000.0)),
            ("~", Resolved::Null),
            ("enabled", Resolved::Str),
            ("1.2.3", Resolved::Str),
            ("08", Resolved::Float(8.0)),
            ("100m", Resolved::Str),
        ] {
            assert_eq!(resolve_plain(text), expected, "{text}");
        }
    }

    #[test]
    fn tags_and_quotes_override_resolution() {
        let root = doc("a: !!str 10\nb: '10'\nc: |\n  10\nd: 10\n");
        assert_eq!(
            root.get("a").unwrap().as_scalar().unwrap().resolve(),
            Resolved::Str
        );
        assert_eq!(
            root.get("b").unwrap().as_scalar().unwrap().resolve(),
            Resolved::Str
        );
        assert_eq!(
            root.get("c").unwrap().as_scalar().unwrap().resolve(),
            Resolved::Str
        );
        assert_eq!(
            root.get("d").unwrap().as_scalar().unwrap().resolve(),
            Resolved::Int(10)
        );
    }

    #[test]
    fn the_run_budget_is_shared_by_every_file_of_the_run() {
        let text = format!("a: [{}]\n", vec!["x"; 3000].join(","));
        let run = RunBudget::new(10_000);
        let mut failed = 0;
        for _ in 0..5 {
            let stream = parse_stream_in(&text, &run);
            if let Some(error) = stream.errors.first() {
                assert!(
                    error.message.contains("the run holds more than"),
                    "{error:?}"
                );
                failed += 1;
            }
        }
        assert!(run.used() > 10_000);
        assert!(failed >= 2, "files past the budget fail: {failed}");
    }

    #[test]
    fn merge_keys_keep_explicit_keys_and_earlier_sources() {
        let root = doc("a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  x: 0\n");
        let c = root.get("c").unwrap();
        assert_eq!(c.get("x").unwrap().scalar_text(), Some("0"));
        assert_eq!(c.get("y").unwrap().scalar_text(), Some("1"));
        assert_eq!(c.get("z").unwrap().scalar_text(), Some("2"));
    }

    #[test]
    fn duplicate_keys_in_a_large_mapping_are_all_found() {
        let mut text = String::new();
        for i in 0..50 {
            text.push_str(&format!("k{i}: a\n"));
        }
        text.push_str("k3: b\nk40: b\n");
        let stream = parse_stream(&text);
        let document = &stream.documents[0];
        assert_eq!(document.duplicate_keys.len(), 2);
        assert_eq!(document.root.get("k40").unwrap().scalar_text(), Some("b"));
        assert_eq!(
            document.duplicate_keys[0].1.start_pos(&text).line,
            4,
            "first occurrence"
        );
    }

    #[test]
    fn documents_after_directives_and_in_non_ascii_text_keep_their_positions() {
        let text = "ä: [\n%YAML 1.2\n---\nö: 1\n---\nb: ü\n";
        let stream = parse_stream(text);
        assert_eq!(stream.errors.len(), 1);
        assert_eq!(stream.documents.len(), 2);
        let (key, value) = stream.documents[1].root.entry("b").unwrap();
        assert_eq!(
            (
                key.span.start_pos(text).line,
                value.span.start_pos(text).col
            ),
            (6, 4)
        );
        assert_eq!(
            value.span.start.byte as usize,
            "ä: [\n%YAML 1.2\n---\nö: 1\n---\nb: ".len()
        );
    }

    #[test]
    fn a_block_scalar_ending_the_text_without_a_line_break_has_none() {
        let value = |text: &str| {
            doc(text)
                .get("a")
                .and_then(Node::as_str)
                .map(str::to_string)
        };
        assert_eq!(value("a: |\n  line").as_deref(), Some("line"));
        assert_eq!(value("a: |\n  line\n").as_deref(), Some("line\n"));
        assert_eq!(value("a: |\n  line\nb: x").as_deref(), Some("line\n"));
        assert_eq!(
            value("a: >\n  folded\n  text").as_deref(),
            Some("folded text")
        );
    }
}
