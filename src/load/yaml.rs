//! Span-aware YAML: turns saphyr-parser events into a tree in which every node
//! knows its byte range and 1-based line/column, and every scalar knows how it
//! was written (plain or quoted), which the type rules need.

use std::borrow::Cow;
use std::collections::BTreeMap;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span as ParserSpan, Tag};

use crate::span::{FileId, Pos, Span, narrow};

use crate::limits::{MAX_DEPTH, MAX_EXPANDED_NODES};

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

#[derive(Debug, Clone)]
pub struct Scalar {
    /// Most keys and values are short: stored inline, they cost no allocation of their own.
    pub value: compact_str::CompactString,
    pub style: Style,
    pub tag: Option<String>,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub kind: NodeKind,
    pub span: Span,
    /// The file this node was written in, when it differs from its object's file
    /// (a value grafted in by a kustomize patch or transformer).
    pub origin: Option<FileId>,
}

#[derive(Debug, Clone)]
pub struct Document {
    pub root: Node,
    /// Keys that appear twice in one mapping (the repeat, then the first occurrence):
    /// kept last-wins in the tree, reported by the loader.
    pub duplicate_keys: Vec<(Span, Span)>,
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
    pub errors: Vec<YamlError>,
    /// For each error, the byte range of the text it made unreadable (from the start of
    /// the document it struck to the next `---` line, or the end of the text).
    pub failed: Vec<std::ops::Range<usize>>,
}

impl Scalar {
    pub fn resolve(&self) -> Resolved {
        if let Some(tag) = &self.tag {
            return match tag.as_str() {
                "tag:yaml.org,2002:str" | "!" => Resolved::Str,
                "tag:yaml.org,2002:null" => Resolved::Null,
                "tag:yaml.org,2002:bool" => resolve_plain(&self.value),
                "tag:yaml.org,2002:int" | "tag:yaml.org,2002:float" => resolve_plain(&self.value),
                _ => Resolved::Str,
            };
        }
        match self.style {
            Style::Plain => resolve_plain(&self.value),
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
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
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
        self.as_scalar().map(|s| s.value.as_str())
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
            kind: NodeKind::Scalar(Scalar {
                value: value.into(),
                style: Style::Quoted,
                tag: None,
            }),
            span,
            origin,
        }
    }

    /// Marks this node and everything below it as written in `file`.
    pub fn set_origin(&mut self, file: FileId) {
        self.origin = Some(file);
        match &mut self.kind {
            NodeKind::Scalar(_) => {}
            NodeKind::Seq(items) => items.iter_mut().for_each(|n| n.set_origin(file)),
            NodeKind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
                k.set_origin(file);
                v.set_origin(file);
            }),
        }
    }

    /// Whether both nodes mean the same value to the API server (what [`Node::to_json`]
    /// would give), whatever their spans, origins, quoting or key order.
    pub fn same_value(&self, other: &Node) -> bool {
        match (&self.kind, &other.kind) {
            (NodeKind::Scalar(a), NodeKind::Scalar(b)) => match (a.resolve(), b.resolve()) {
                (Resolved::Str, Resolved::Str) => a.value == b.value,
                (Resolved::Float(x), Resolved::Float(y)) if x.is_nan() || y.is_nan() => {
                    x.is_nan() && y.is_nan() && a.value == b.value
                }
                (x, y) => x == y,
            },
            (NodeKind::Seq(a), NodeKind::Seq(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_value(y))
            }
            (NodeKind::Map(a), NodeKind::Map(b)) => {
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
        matches!(&self.kind, NodeKind::Scalar(s) if s.resolve() == Resolved::Null)
    }

    /// Nodes of this tree (each key, value and item counts one).
    pub fn expanded_size(&self) -> usize {
        match &self.kind {
            NodeKind::Scalar(_) => 1,
            NodeKind::Seq(items) => 1 + items.iter().map(Node::expanded_size).sum::<usize>(),
            NodeKind::Map(entries) => {
                1 + entries
                    .iter()
                    .map(|(k, v)| k.expanded_size() + v.expanded_size())
                    .sum::<usize>()
            }
        }
    }

    /// JSON as the API server would see it after YAML 1.1 resolution.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            NodeKind::Scalar(s) => match s.resolve() {
                Resolved::Null => Value::Null,
                Resolved::Bool(b) => Value::Bool(b),
                Resolved::Int(i) => Value::from(i),
                Resolved::Float(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or_else(|| Value::String(s.value.to_string())),
                Resolved::Str => Value::String(s.value.to_string()),
            },
            NodeKind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeKind::Map(entries) => {
                let mut map = serde_json::Map::new();
                for (k, v) in entries {
                    let key = match &k.kind {
                        NodeKind::Scalar(s) => s.value.to_string(),
                        _ => continue,
                    };
                    map.insert(key, v.to_json());
                }
                Value::Object(map)
            }
        }
    }
}

/// Converts the parser's character-based markers to byte offsets of the text.
struct Positions<'a> {
    text: &'a str,
    /// Byte offset of each character, only built for non-ASCII text.
    char_to_byte: Option<Vec<usize>>,
    base: Pos,
}

impl<'a> Positions<'a> {
    fn new(text: &'a str, base: Pos) -> Self {
        let char_to_byte = (!text.is_ascii()).then(|| {
            let mut offsets: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            offsets.push(text.len());
            offsets
        });
        Positions {
            text,
            char_to_byte,
            base,
        }
    }

    fn pos(&self, marker: &saphyr_parser::Marker) -> Pos {
        let byte = match &self.char_to_byte {
            Some(map) => map.get(marker.index()).copied().unwrap_or(self.text.len()),
            None => marker.index().min(self.text.len()),
        };
        let byte = narrow(byte);
        let line = narrow(marker.line().max(1));
        let col = narrow(marker.col() + 1);
        if line == 1 {
            Pos {
                byte: self.base.byte + byte,
                line: self.base.line,
                col: self.base.col + col - 1,
            }
        } else {
            Pos {
                byte: self.base.byte + byte,
                line: self.base.line + line - 1,
                col,
            }
        }
    }

    fn span(&self, span: &ParserSpan) -> Span {
        Span {
            start: self.pos(&span.start),
            end: self.pos(&span.end),
        }
    }
}

enum Frame {
    Seq {
        start: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        start: Span,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
        duplicates: Vec<(Span, Span)>,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Node>,
    expanded: usize,
    root: Option<Node>,
    duplicate_keys: Vec<(Span, Span)>,
}

impl Builder {
    fn new() -> Self {
        Builder {
            stack: Vec::new(),
            anchors: std::collections::HashMap::new(),
            expanded: 0,
            root: None,
            duplicate_keys: Vec::new(),
        }
    }

    fn charge(&mut self, nodes: usize, at: Pos) -> Result<(), YamlError> {
        self.expanded = self.expanded.saturating_add(nodes);
        if self.expanded > MAX_EXPANDED_NODES {
            return Err(YamlError {
                message: format!(
                    "document expands to more than {MAX_EXPANDED_NODES} nodes through aliases (alias bomb?); not analysed"
                ),
                pos: at,
            });
        }
        Ok(())
    }

    fn push_frame(&mut self, frame: Frame, at: Pos) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError {
                message: format!("nesting deeper than {MAX_DEPTH} levels; not analysed"),
                pos: at,
            });
        }
        self.stack.push(frame);
        Ok(())
    }

    fn add(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map {
                entries,
                pending_key,
                duplicates,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => {
                    let key_text = key.scalar_text();
                    if let Some(existing) = key_text.and_then(|text| {
                        entries
                            .iter()
                            .position(|(k, _)| k.scalar_text() == Some(text))
                    }) {
                        duplicates.push((key.span, entries[existing].0.span));
                        entries.remove(existing);
                    }
                    entries.push((key, node));
                }
            },
        }
    }
}

fn tag_name(tag: Option<Cow<'_, Tag>>) -> Option<String> {
    tag.map(|t| {
        if t.handle == "!" && t.suffix.is_empty() {
            "!".to_string()
        } else {
            format!("{}{}", t.handle, t.suffix)
        }
    })
}

/// Parses every document of `text`. A syntax error ends the document it is in;
/// parsing resumes at the next `---` line so later documents are still seen.
pub fn parse_stream(text: &str) -> Stream {
    let mut stream = Stream::default();
    let mut offset = 0usize;
    let mut base = Pos {
        byte: 0,
        line: 1,
        col: 1,
    };
    loop {
        let chunk = &text[offset..];
        // Start of the document being parsed when an error strikes: recovery resumes at the
        // first `---` after it (an unclosed bracket may swallow later markers, so the error
        // position itself can lie documents further down).
        let mut document_start = offset;
        match parse_chunk(chunk, base, &mut stream.documents, &mut document_start) {
            Ok(()) => break,
            Err(error) => {
                stream.errors.push(error);
                let next = next_document_marker(text, document_start.max(offset));
                let failed_end = next.map_or(text.len(), |(byte, _)| byte);
                stream
                    .failed
                    .push(document_start.max(offset).min(failed_end)..failed_end);
                match next {
                    Some((byte, line)) => {
                        offset = byte;
                        base = Pos {
                            byte: narrow(byte),
                            line: narrow(line),
                            col: 1,
                        };
                    }
                    None => break,
                }
            }
        }
    }
    stream
}

/// Byte offset and line number of the first `---` line strictly after the line holding `byte`.
fn next_document_marker(text: &str, byte: usize) -> Option<(usize, usize)> {
    let mut line_start = text[..byte.min(text.len())]
        .rfind('\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let mut line_no = text[..line_start].matches('\n').count() + 1;
    loop {
        let next_newline = text[line_start..].find('\n')?;
        line_start += next_newline + 1;
        line_no += 1;
        let rest = &text[line_start..];
        if rest.starts_with("---")
            && rest[3..]
                .chars()
                .next()
                .is_none_or(|c| c == ' ' || c == '\n' || c == '\r' || c == '\t')
        {
            return Some((line_start, line_no));
        }
    }
}

fn scan_error(error: &ScanError, positions: &Positions<'_>) -> YamlError {
    let message = if error.info().contains("recursion limit") {
        "nesting too deep for the parser's recursion limit; not analysed".to_string()
    } else {
        error.info().to_string()
    };
    YamlError {
        message,
        pos: positions.pos(error.marker()),
    }
}

fn parse_chunk(
    text: &str,
    base: Pos,
    out: &mut Vec<Document>,
    document_start: &mut usize,
) -> Result<(), YamlError> {
    let positions = Positions::new(text, base);
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::new();
    while let Some(next) = parser.next_event() {
        let (event, parser_span) = next.map_err(|e| scan_error(&e, &positions))?;
        let span = positions.span(&parser_span);
        match event {
            Event::StreamStart | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                *document_start = span.start.byte as usize;
                builder = Builder::new();
            }
            Event::DocumentEnd => {
                if let Some(root) = builder.root.take() {
                    out.push(Document {
                        root,
                        duplicate_keys: std::mem::take(&mut builder.duplicate_keys),
                    });
                }
            }
            Event::Alias(id) => {
                let target = builder.anchors.get(&id).cloned().ok_or_else(|| YamlError {
                    message: "alias refers to an unknown anchor".to_string(),
                    pos: span.start,
                })?;
                builder.charge(target.expanded_size(), span.start)?;
                builder.add(target, 0);
            }
            Event::Scalar(value, style, anchor, tag) => {
                builder.charge(1, span.start)?;
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
                    ScalarStyle::Literal | ScalarStyle::Folded => Style::Block,
                };
                let node = Node {
                    kind: NodeKind::Scalar(Scalar {
                        value: compact_str::CompactString::from(value),
                        style,
                        tag: tag_name(tag),
                    }),
                    span,
                    origin: None,
                };
                builder.add(node, anchor);
            }
            Event::SequenceStart(anchor, _) => {
                builder.charge(1, span.start)?;
                builder.push_frame(
                    Frame::Seq {
                        start: span,
                        anchor,
                        items: Vec::new(),
                    },
                    span.start,
                )?;
            }
            Event::MappingStart(anchor, _) => {
                builder.charge(1, span.start)?;
                builder.push_frame(
                    Frame::Map {
                        start: span,
                        anchor,
                        entries: Vec::new(),
                        pending_key: None,
                        duplicates: Vec::new(),
                    },
                    span.start,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match builder.stack.pop() {
                    Some(Frame::Seq {
                        start,
                        anchor,
                        mut items,
                    }) => {
                        // Growth leaves up to half of a collection's buffer unused; the
                        // tree lives for the whole run, so give the slack back now.
                        items.shrink_to_fit();
                        let end = collection_end(
                            &positions,
                            start,
                            span,
                            items.last().map(|n| n.span.end),
                        );
                        (
                            Node {
                                kind: NodeKind::Seq(items),
                                span: Span {
                                    start: start.start,
                                    end,
                                },
                                origin: None,
                            },
                            anchor,
                        )
                    }
                    Some(Frame::Map {
                        start,
                        anchor,
                        entries,
                        duplicates,
                        ..
                    }) => {
                        builder.duplicate_keys.extend(duplicates);
                        let mut entries = apply_merge_keys(entries);
                        entries.shrink_to_fit();
                        let end = collection_end(
                            &positions,
                            start,
                            span,
                            entries.last().map(|(_, v)| v.span.end),
                        );
                        (
                            Node {
                                kind: NodeKind::Map(entries),
                                span: Span {
                                    start: start.start,
                                    end,
                                },
                                origin: None,
                            },
                            anchor,
                        )
                    }
                    None => continue,
                };
                builder.add(node, anchor);
            }
        }
    }
    Ok(())
}

/// Where a collection ends: a flow collection at its closing bracket, a block
/// collection at the end of its last child (not at the next token, which may be
/// lines of comments further down).
fn collection_end(
    positions: &Positions<'_>,
    start: Span,
    end_event: Span,
    last_child: Option<Pos>,
) -> Pos {
    let relative = start.start.byte.saturating_sub(positions.base.byte) as usize;
    let is_flow = matches!(positions.text.as_bytes().get(relative), Some(b'{' | b'['));
    match last_child {
        Some(child_end) if !is_flow => child_end,
        _ => {
            if end_event.end.byte >= start.start.byte {
                end_event.end
            } else {
                start.end
            }
        }
    }
}

fn is_merge_key(key: &Node) -> bool {
    matches!(&key.kind, NodeKind::Scalar(s) if s.value == "<<" && s.style == Style::Plain && s.tag.is_none())
}

/// YAML merge keys (`<<: *base` or `<<: [*a, *b]`), which the Kubernetes YAML
/// decoder honours: merged entries never override keys written explicitly, and
/// earlier sources win over later ones.
fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    if !entries.iter().any(|(k, _)| is_merge_key(k)) {
        return entries;
    }
    let (merges, mut explicit): (Vec<_>, Vec<_>) =
        entries.into_iter().partition(|(k, _)| is_merge_key(k));
    for (_, source) in merges {
        let sources: Vec<Node> = match source.kind {
            NodeKind::Map(_) => vec![source],
            NodeKind::Seq(items) => items,
            NodeKind::Scalar(_) => Vec::new(),
        };
        for source in sources {
            let NodeKind::Map(source_entries) = source.kind else {
                continue;
            };
            for (key, value) in source_entries {
                let taken = key.scalar_text().is_some_and(|text| {
                    explicit.iter().any(|(k, _)| k.scalar_text() == Some(text))
                });
                if !taken {
                    explicit.push((key, value));
                }
            }
        }
    }
    explicit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Node {
        let stream = parse_stream(text);
        assert!(stream.errors.is_empty(), "{:?}", stream.errors);
        stream.documents[0].root.clone()
    }

    fn at(span: Span) -> (u32, u32, u32, u32) {
        (span.start.line, span.start.col, span.end.line, span.end.col)
    }

    #[test]
    fn keys_and_values_have_exact_spans() {
        let root = doc("metadata:\n  name: api\n  labels: {app: \"web\"}\n");
        let (key, value) = root.path(&["metadata"]).unwrap().entry("name").unwrap();
        assert_eq!(at(key.span), (2, 3, 2, 7));
        assert_eq!(at(value.span), (2, 9, 2, 12));
        let labels = root.path(&["metadata", "labels"]).unwrap();
        assert_eq!(
            at(labels.span),
            (3, 11, 3, 23),
            "flow mapping ends after its brace"
        );
        let quoted = labels.get("app").unwrap();
        assert_eq!(at(quoted.span), (3, 17, 3, 22), "quotes belong to the node");
        assert_eq!(quoted.as_str(), Some("web"));
    }

    #[test]
    fn columns_count_characters_and_bytes_are_bytes() {
        let root = doc("ä: 1\nö: [x]\n");
        let (key, value) = root.entry("ö").unwrap();
        assert_eq!(at(key.span), (2, 1, 2, 2));
        assert_eq!(key.span.start.byte, 6);
        assert_eq!(value.span.start.col, 4);
        assert_eq!(value.span.start.byte, 10);
    }

    #[test]
    fn block_mapping_ends_at_its_last_value_not_at_trailing_comments() {
        let root = doc("a:\n  b: 1\n  c: 2\n# trailing\n\nd: 3\n");
        assert_eq!(at(root.get("a").unwrap().span), (2, 3, 3, 7));
    }

    #[test]
    fn a_broken_document_does_not_take_the_next_one_with_it() {
        let stream = parse_stream("a: 1\n---\nb: [\n---\nc: 3\n");
        assert_eq!(stream.errors.len(), 1);
        assert_eq!(stream.documents.len(), 2);
        let last = &stream.documents[1].root;
        assert_eq!(last.get("c").unwrap().span.start.line, 5);
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
}
