//! Edits inside one object's block-style YAML: every node checked to be written in the
//! edited file (not grafted by a kustomize patch from another), keys beginning their lines.

use crate::fix::text;
use crate::load::yaml::{Node, NodeKind};
use crate::model::Object;
use crate::span::{FileId, Pos, Span};

/// Byte offset where the text of `node` ends: the end of its last scalar (a collection's
/// own span may reach further, over the line break after it).
pub fn content_end(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar { .. } => node.span.end.byte as usize,
        NodeKind::Seq(items, _) => items
            .last()
            .map_or(node.span.end.byte as usize, content_end),
        NodeKind::Map(entries, _) => entries
            .last()
            .map_or(node.span.end.byte as usize, |(k, v)| {
                content_end(v).max(k.span.end.byte as usize)
            }),
    }
}

/// The text of a file around one block-style node tree: every node checked to be written
/// in that file, on lines of its own.
pub struct Block<'a> {
    pub file: FileId,
    pub text: &'a str,
    pub object: &'a Object,
}

impl<'a> Block<'a> {
    /// Column (bytes from the line start) of a key in this file that is first on its line
    /// but for sequence dashes (`- key:` included).
    pub fn column(&self, key: &Node) -> Option<usize> {
        if !self.owns(key) {
            return None;
        }
        let at = key.span.start.byte as usize;
        let start = text::line_start(self.text, at);
        let before = self.text.get(start..at)?;
        before
            .bytes()
            .all(|b| b == b' ' || b == b'-')
            .then_some(at - start)
    }

    /// The exact text of a one-line scalar written in this file.
    pub fn scalar_text(&self, node: &Node) -> Option<&'a str> {
        if !self.owns(node) || !node.span.is_one_line(self.text) {
            return None;
        }
        node.as_scalar()?;
        self.text
            .get(node.span.start.byte as usize..node.span.end.byte as usize)
    }

    pub fn new(file: FileId, text: &'a str, object: &'a Object) -> Self {
        Block { file, text, object }
    }

    pub fn owns(&self, node: &Node) -> bool {
        self.object.location_of(node).file == self.file
    }

    /// Indentation of a key that begins its line in this file.
    pub fn indent(&self, key: &Node) -> Option<&'a str> {
        if !self.owns(key) {
            return None;
        }
        text::leading_indent(self.text, key.span.start.byte as usize)
    }

    /// Byte range of the whole lines holding the entry `key: value` (a block entry: the key
    /// begins its line, nothing but a comment follows the value).
    pub fn entry_lines(&self, key: &Node, value: &Node) -> Option<(usize, usize)> {
        self.indent(key)?;
        if !self.owns(value) {
            return None;
        }
        let end = content_end(value);
        if !text::rest_is_blank_or_comment(self.text, end) {
            return None;
        }
        Some((
            text::line_start(self.text, key.span.start.byte as usize),
            text::line_end(self.text, end),
        ))
    }

    /// `(key, value)` of a non-empty block map: its first entry (where insertions go, at its
    /// indentation).
    pub fn first_entry(&self, map: &'a Node) -> Option<(&'a Node, &'a str)> {
        let (key, _) = map.as_map()?.first()?;
        Some((key, self.indent(key)?))
    }
}

pub fn point(text: &str, byte: usize) -> Span {
    Span::point(Pos::of_byte(text, byte))
}

pub fn range(text: &str, start: usize, end: usize) -> Span {
    Span {
        start: Pos::of_byte(text, start).into(),
        end: Pos::of_byte(text, end).into(),
    }
}
