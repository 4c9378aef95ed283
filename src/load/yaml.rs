//! Span-aware YAML: turns saphyr-parser events into a tree in which every node
//! knows its byte range and 1-based line/column, and every scalar knows how it
//! was written (plain or quoted), which the type rules need.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};

use compact_str::CompactString;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span as ParserSpan, Tag};

use crate::span::{FileId, Pos, Span, narrow};

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

#[derive(Debug, Clone)]
pub struct Scalar {
    /// Most keys and values are short: stored inline, they cost no allocation of their own.
    pub value: compact_str::CompactString,
    pub style: Style,
    /// Rare: boxed behind a thin pointer (8 bytes, not a 16-byte `Box<str>`), so that a
    /// scalar without one stays small.
    pub tag: Option<Box<String>>,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Scalar(Scalar),
    Seq(Shared<Node>),
    Map(Shared<(Node, Node)>),
}

/// The children of a collection, shared by every tree that holds them until one of them
/// changes them (copy on write): cloning a tree is a reference count per collection at its
/// top, and a kustomize view that sets one field copies only the collections on that
/// field's path. One allocation holds the reference count, the capacity and the children
/// (`ecow::EcoVec`), so sharing costs a collection no more than a `Vec` did. Reads see a
/// slice; every method that changes the children first takes a private copy when they are
/// shared, so code that edits a tree never sees the change in another.
#[derive(Clone)]
pub struct Shared<T>(ecow::EcoVec<T>);

impl<T> Default for Shared<T> {
    fn default() -> Self {
        Shared(ecow::EcoVec::new())
    }
}

impl<T> Deref for Shared<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> Shared<T> {
    pub fn as_slice(&self) -> &[T] {
        &self.0
    }
}

impl<T: Clone> From<Vec<T>> for Shared<T> {
    fn from(items: Vec<T>) -> Self {
        Shared(items.into())
    }
}

impl<T: Clone> FromIterator<T> for Shared<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Shared(iter.into_iter().collect())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// The changing half of a `Vec`'s interface, each copying shared children first.
impl<T: Clone> Shared<T> {
    /// The children as an owned `Vec` (moved out when no other tree shares them).
    pub fn into_vec(self) -> Vec<T> {
        self.0.into_iter().collect()
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.0.make_mut().iter_mut()
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.0.make_mut().get_mut(index)
    }

    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.0.make_mut().last_mut()
    }

    pub fn first_mut(&mut self) -> Option<&mut T> {
        self.0.make_mut().first_mut()
    }

    pub fn push(&mut self, value: T) {
        self.0.push(value);
    }

    /// Inserts `value` at `index`, or at the end when `index` is past it.
    pub fn insert(&mut self, index: usize, value: T) {
        let index = index.min(self.0.len());
        self.0.insert(index, value);
    }

    /// Removes the child at `index` (callers check it is one, as with `Vec::remove`).
    pub fn remove(&mut self, index: usize) -> T {
        self.0.remove(index)
    }

    pub fn retain(&mut self, keep: impl FnMut(&mut T) -> bool) {
        self.0.retain(keep);
    }

    pub fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    pub fn clear(&mut self) {
        self.0.clear();
    }

    pub fn extend(&mut self, items: impl IntoIterator<Item = T>) {
        self.0.extend(items);
    }
}

impl<T: Clone> IntoIterator for Shared<T> {
    type Item = T;
    type IntoIter = ecow::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a Shared<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'a, T: Clone> IntoIterator for &'a mut Shared<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.make_mut().iter_mut()
    }
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
    /// The first [`MAX_ERRORS_PER_FILE`] errors.
    pub errors: Vec<YamlError>,
    /// Errors met beyond those kept.
    pub errors_not_kept: usize,
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
    /// Byte offset of every [`CHECKPOINT`]th character, only built for non-ASCII text: a lookup
    /// walks at most `CHECKPOINT - 1` characters from there, and the table costs a fraction
    /// of the text instead of eight bytes per character.
    checkpoints: Option<Vec<u32>>,
    base: Pos,
}

const CHECKPOINT: usize = 32;

impl<'a> Positions<'a> {
    fn new(text: &'a str, base: Pos) -> Self {
        let checkpoints = (!text.is_ascii()).then(|| {
            text.char_indices()
                .step_by(CHECKPOINT)
                .map(|(i, _)| narrow(i))
                .collect()
        });
        Positions {
            text,
            checkpoints,
            base,
        }
    }

    fn byte_of_char(&self, index: usize) -> usize {
        match &self.checkpoints {
            None => index.min(self.text.len()),
            Some(table) => {
                let Some(&start) = table.get(index / CHECKPOINT) else {
                    return self.text.len();
                };
                let start = start as usize;
                self.text
                    .get(start..)
                    .and_then(|rest| rest.char_indices().nth(index % CHECKPOINT))
                    .map_or(self.text.len(), |(i, _)| start + i)
            }
        }
    }

    fn pos(&self, marker: &saphyr_parser::Marker) -> Pos {
        let byte = narrow(self.byte_of_char(marker.index()));
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

/// The node budget of a whole run, shared by the files parsed in parallel: alias expansion
/// and sheer size are bounded per document, per file and per run.
#[derive(Debug)]
pub struct RunBudget {
    used: AtomicUsize,
    limit: usize,
}

impl Default for RunBudget {
    fn default() -> Self {
        RunBudget::new(MAX_RUN_YAML_NODES)
    }
}

impl RunBudget {
    pub fn new(limit: usize) -> Self {
        RunBudget {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Nodes charged so far.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }
}

/// Nodes are charged to the shared run budget in batches of this many (one atomic operation
/// per batch, not per node).
const RUN_BATCH: usize = 4096;

/// What an error ends: the document it is in, or the rest of the file (a budget is spent).
enum Stop {
    Document,
    File,
}

struct Failure {
    error: YamlError,
    stop: Stop,
}

impl From<YamlError> for Failure {
    fn from(error: YamlError) -> Self {
        Failure {
            error,
            stop: Stop::Document,
        }
    }
}

/// Node counts of the file being parsed.
struct Counters<'r> {
    run: &'r RunBudget,
    file: usize,
    /// Charged to this file but not yet to the run.
    unflushed: usize,
}

impl Counters<'_> {
    fn charge(&mut self, nodes: usize, at: Pos) -> Result<(), Failure> {
        self.file = self.file.saturating_add(nodes);
        if self.file > MAX_FILE_NODES {
            return Err(Failure {
                error: YamlError {
                    message: format!(
                        "file holds more than {MAX_FILE_NODES} YAML nodes (aliases expanded); the rest of the file is not analysed"
                    ),
                    pos: at,
                },
                stop: Stop::File,
            });
        }
        self.unflushed = self.unflushed.saturating_add(nodes);
        if self.unflushed >= RUN_BATCH {
            self.flush(at)?;
        }
        Ok(())
    }

    fn flush(&mut self, at: Pos) -> Result<(), Failure> {
        let batch = std::mem::take(&mut self.unflushed);
        let before = self.run.used.fetch_add(batch, Ordering::Relaxed);
        if before.saturating_add(batch) > self.run.limit {
            return Err(Failure {
                error: YamlError {
                    message: format!(
                        "the run holds more than {} YAML nodes in all files (aliases expanded); the rest of this file is not analysed",
                        self.run.limit
                    ),
                    pos: at,
                },
                stop: Stop::File,
            });
        }
        Ok(())
    }
}

/// Keys of a mapping are looked up through a hash index once it has this many entries
/// (a linear scan is cheaper below), so duplicate detection stays linear.
const INDEX_FROM: usize = 8;

enum Frame {
    Seq {
        start: Span,
        anchor: usize,
        /// Nodes of the document charged before this collection's own children.
        nodes_before: usize,
        /// Where this sequence's items start in the builder's item stack.
        from: usize,
    },
    Map {
        start: Span,
        anchor: usize,
        nodes_before: usize,
        /// Where this mapping's entries start in the builder's entry stack.
        from: usize,
        index: Option<HashMap<CompactString, usize>>,
        pending_key: Option<Node>,
        duplicates: Vec<(Span, Span)>,
    },
}

struct Builder<'c, 'r> {
    stack: Vec<Frame>,
    /// Children of the open collections, innermost last: a closed collection moves its
    /// own off the top into one allocation of exactly their number, so a tree holds no
    /// growth slack and building it reallocates nothing but these two stacks.
    items: Vec<Node>,
    entries: Vec<(Node, Node)>,
    /// Anchored nodes with their size in nodes (aliases expanded).
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes of the current document, alias copies and anchor copies included.
    expanded: usize,
    root: Option<Node>,
    duplicate_keys: Vec<(Span, Span)>,
    counters: &'c mut Counters<'r>,
}

impl<'c, 'r> Builder<'c, 'r> {
    fn new(counters: &'c mut Counters<'r>) -> Self {
        Builder {
            stack: Vec::new(),
            items: Vec::new(),
            entries: Vec::new(),
            anchors: HashMap::new(),
            expanded: 0,
            root: None,
            duplicate_keys: Vec::new(),
            counters,
        }
    }

    fn reset(&mut self) {
        self.stack.clear();
        self.items.clear();
        self.entries.clear();
        self.anchors.clear();
        self.expanded = 0;
        self.root = None;
        self.duplicate_keys.clear();
    }

    fn charge(&mut self, nodes: usize, at: Pos) -> Result<(), Failure> {
        self.expanded = self.expanded.saturating_add(nodes);
        if self.expanded > MAX_EXPANDED_NODES {
            return Err(YamlError {
                message: format!(
                    "document expands to more than {MAX_EXPANDED_NODES} nodes through anchors and aliases (alias bomb?); not analysed"
                ),
                pos: at,
            }
            .into());
        }
        self.counters.charge(nodes, at)
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

    /// Adds a finished node of `size` nodes; an anchored one is also kept for its aliases,
    /// a copy charged to the budget like the nodes it holds.
    fn add(&mut self, node: Node, anchor: usize, size: usize) -> Result<(), Failure> {
        if anchor != 0 {
            self.charge(size, node.span.start)?;
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq { .. }) => self.items.push(node),
            Some(Frame::Map {
                from,
                index,
                pending_key,
                duplicates,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => add_entry(&mut self.entries, *from, index, duplicates, key, node),
            },
        }
        Ok(())
    }
}

/// Adds `key: value` to a mapping under construction. A repeated key is recorded and its
/// value replaced in place (the later value wins, as with the API server's decoder).
fn add_entry(
    stack: &mut Vec<(Node, Node)>,
    from: usize,
    index: &mut Option<HashMap<CompactString, usize>>,
    duplicates: &mut Vec<(Span, Span)>,
    key: Node,
    value: Node,
) {
    let Some(entries) = stack.get_mut(from..) else {
        return;
    };
    let text = key.as_scalar().map(|s| s.value.clone());
    let existing = text.as_ref().and_then(|text| match index {
        Some(index) => index.get(text).copied(),
        None => entries
            .iter()
            .position(|(k, _)| k.scalar_text() == Some(text.as_str())),
    });
    if let Some(existing) = existing
        && let Some(slot) = entries.get_mut(existing)
    {
        duplicates.push((key.span, slot.0.span));
        *slot = (key, value);
        return;
    }
    if let (Some(index), Some(text)) = (index.as_mut(), text) {
        index.insert(text, entries.len());
    }
    stack.push((key, value));
    let entries = stack.get(from..).unwrap_or_default();
    if index.is_none() && entries.len() >= INDEX_FROM {
        *index = Some(
            entries
                .iter()
                .enumerate()
                .filter_map(|(i, (k, _))| Some((k.as_scalar()?.value.clone(), i)))
                .collect(),
        );
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

/// Parses every document of `text` (with a budget of its own; see [`parse_stream_in`]).
pub fn parse_stream(text: &str) -> Stream {
    parse_stream_in(text, &RunBudget::default())
}

/// Parses every document of `text`, charging its nodes to `run`. A syntax error ends the
/// document it is in: the text is cut into segments at `---` lines first (a document marker
/// at column 0 ends any scalar or block collection), so parsing resumes at the next segment
/// and a broken document is read once, whatever it swallows. At most
/// [`MAX_ERRORS_PER_FILE`] errors are kept; the rest are counted in `errors_not_kept`.
pub fn parse_stream_in(text: &str, run: &RunBudget) -> Stream {
    let mut stream = Stream::default();
    let mut counters = Counters {
        run,
        file: 0,
        unflushed: 0,
    };
    let mut line = 1usize;
    let mut last = Pos {
        byte: 0,
        line: 1,
        col: 1,
    };
    for (start, end) in segments(text) {
        let Some(segment) = text.get(start..end) else {
            continue;
        };
        let base = Pos {
            byte: narrow(start),
            line: narrow(line),
            col: 1,
        };
        line += segment.bytes().filter(|b| *b == b'\n').count();
        last = base;
        match parse_segment(segment, base, &mut stream.documents, &mut counters) {
            Ok(()) => {}
            Err(failure) => {
                last = failure.error.pos;
                let file_ends = matches!(failure.stop, Stop::File);
                // A spent budget makes nothing unreadable as YAML: its range is empty.
                let failed = if file_ends { end..end } else { start..end };
                stream.push_error(failure.error, failed);
                if file_ends {
                    return stream;
                }
            }
        }
    }
    if let Err(failure) = counters.flush(last) {
        stream.push_error(failure.error, text.len()..text.len());
    }
    stream
}

impl Stream {
    fn push_error(&mut self, error: YamlError, failed: std::ops::Range<usize>) {
        if self.errors.len() < MAX_ERRORS_PER_FILE {
            self.errors.push(error);
            self.failed.push(failed);
        } else {
            self.errors_not_kept += 1;
        }
    }
}

/// Byte ranges of the text cut before every document marker line (`---` at column 0), with
/// the directive lines (`%YAML`, `%TAG`) right above a marker kept with it.
fn segments(text: &str) -> Vec<(usize, usize)> {
    let mut cuts = vec![0usize];
    // Start of the run of directive lines just above the current line, if any.
    let mut directives: Option<usize> = None;
    let mut offset = 0usize;
    for line in text.split_inclusive('\n') {
        let is_marker = line.strip_prefix("---").is_some_and(|rest| {
            rest.chars()
                .next()
                .is_none_or(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
        });
        if is_marker {
            let cut = directives.unwrap_or(offset);
            if cut > 0 {
                cuts.push(cut);
            }
            directives = None;
        } else if line.starts_with('%') {
            directives.get_or_insert(offset);
        } else {
            directives = None;
        }
        offset += line.len();
    }
    cuts.dedup();
    let mut ranges: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    if let Some(&last) = cuts.last() {
        ranges.push((last, text.len()));
    }
    ranges
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

fn parse_segment(
    text: &str,
    base: Pos,
    out: &mut Vec<Document>,
    counters: &mut Counters<'_>,
) -> Result<(), Failure> {
    let positions = Positions::new(text, base);
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::new(counters);
    while let Some(next) = parser.next_event() {
        let (event, parser_span) = next.map_err(|e| scan_error(&e, &positions))?;
        let span = positions.span(&parser_span);
        match event {
            Event::StreamStart | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => builder.reset(),
            Event::DocumentEnd => {
                if let Some(root) = builder.root.take() {
                    out.push(Document {
                        root,
                        duplicate_keys: std::mem::take(&mut builder.duplicate_keys),
                    });
                }
            }
            Event::Alias(id) => {
                let size = builder
                    .anchors
                    .get(&id)
                    .map(|(_, size)| *size)
                    .ok_or_else(|| YamlError {
                        message: "alias refers to an unknown anchor".to_string(),
                        pos: span.start,
                    })?;
                builder.charge(size, span.start)?;
                let Some((target, _)) = builder.anchors.get(&id) else {
                    continue;
                };
                let target = target.clone();
                builder.add(target, 0, size)?;
            }
            Event::Scalar(value, style, anchor, tag) => {
                builder.charge(1, span.start)?;
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
                    ScalarStyle::Literal | ScalarStyle::Folded => Style::Block,
                };
                // A block scalar that ends the text without a line break has no final line
                // break to keep (YAML 1.2 §8.1.1.2; go-yaml and kubectl agree); the parser
                // adds one.
                let value = if style == Style::Block
                    && value.ends_with('\n')
                    && !text.ends_with('\n')
                    && span.end.byte as usize >= base.byte as usize + text.trim_end().len()
                {
                    let mut value = value.into_owned();
                    value.pop();
                    std::borrow::Cow::Owned(value)
                } else {
                    value
                };
                let node = Node {
                    kind: NodeKind::Scalar(Scalar {
                        value: CompactString::from(value),
                        style,
                        tag: tag_name(tag).map(Box::new),
                    }),
                    span,
                    origin: None,
                };
                builder.add(node, anchor, 1)?;
            }
            Event::SequenceStart(anchor, _) => {
                builder.charge(1, span.start)?;
                let nodes_before = builder.expanded;
                let from = builder.items.len();
                builder.push_frame(
                    Frame::Seq {
                        start: span,
                        anchor,
                        nodes_before,
                        from,
                    },
                    span.start,
                )?;
            }
            Event::MappingStart(anchor, _) => {
                builder.charge(1, span.start)?;
                let nodes_before = builder.expanded;
                let from = builder.entries.len();
                builder.push_frame(
                    Frame::Map {
                        start: span,
                        anchor,
                        nodes_before,
                        from,
                        index: None,
                        pending_key: None,
                        duplicates: Vec::new(),
                    },
                    span.start,
                )?;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor, nodes_before) = match builder.stack.pop() {
                    Some(Frame::Seq {
                        start,
                        anchor,
                        nodes_before,
                        from,
                    }) => {
                        let items: Shared<Node> = builder
                            .items
                            .drain(from.min(builder.items.len())..)
                            .collect();
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
                            nodes_before,
                        )
                    }
                    Some(Frame::Map {
                        start,
                        anchor,
                        nodes_before,
                        from,
                        duplicates,
                        ..
                    }) => {
                        builder.duplicate_keys.extend(duplicates);
                        let from = from.min(builder.entries.len());
                        let merges = builder
                            .entries
                            .get(from..)
                            .is_some_and(|e| e.iter().any(|(k, _)| is_merge_key(k)));
                        let entries: Shared<(Node, Node)> = if merges {
                            apply_merge_keys(builder.entries.drain(from..).collect()).into()
                        } else {
                            builder.entries.drain(from..).collect()
                        };
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
                            nodes_before,
                        )
                    }
                    None => continue,
                };
                // The collection itself plus every node charged inside it.
                let size = builder.expanded.saturating_sub(nodes_before) + 1;
                builder.add(node, anchor, size)?;
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
/// earlier sources win over later ones. Linear in the entries merged (a set of the keys
/// taken so far), however many aliases are merged.
fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let (merges, mut explicit): (Vec<_>, Vec<_>) =
        entries.into_iter().partition(|(k, _)| is_merge_key(k));
    let mut taken: HashSet<CompactString> = explicit
        .iter()
        .filter_map(|(k, _)| Some(k.as_scalar()?.value.clone()))
        .collect();
    for (_, source) in merges {
        let sources: Vec<Node> = match source.kind {
            NodeKind::Map(_) => vec![source],
            NodeKind::Seq(items) => items.into_vec(),
            NodeKind::Scalar(_) => Vec::new(),
        };
        for source in sources {
            let NodeKind::Map(source_entries) = source.kind else {
                continue;
            };
            for (key, value) in source_entries {
                let fresh = match key.as_scalar() {
                    Some(scalar) => taken.insert(scalar.value.clone()),
                    None => true,
                };
                if fresh {
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

    /// The tree is most of the parse stage's memory (a node per key and per value): a
    /// node is its kind (a scalar inline up to 24 bytes, a thin boxed tag), a span and an
    /// origin: 72 bytes, where a mapping entry (a key and a value) is 144.
    #[test]
    fn a_node_stays_small() {
        assert!(
            std::mem::size_of::<Node>() <= 72,
            "{}",
            std::mem::size_of::<Node>()
        );
        assert!(std::mem::size_of::<Option<FileId>>() <= 8);
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
        let NodeKind::Map(entries) = &mut copy.kind else {
            panic!("not a map")
        };
        let (_, metadata) = entries.first_mut().unwrap();
        let NodeKind::Map(fields) = &mut metadata.kind else {
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
        if let NodeKind::Seq(items) = &mut seq.kind {
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
            document.duplicate_keys[0].1.start.line, 4,
            "first occurrence"
        );
    }

    #[test]
    fn documents_after_directives_and_in_non_ascii_text_keep_their_positions() {
        let stream = parse_stream("ä: [\n%YAML 1.2\n---\nö: 1\n---\nb: ü\n");
        assert_eq!(stream.errors.len(), 1);
        assert_eq!(stream.documents.len(), 2);
        let (key, value) = stream.documents[1].root.entry("b").unwrap();
        assert_eq!((key.span.start.line, value.span.start.col), (6, 4));
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
