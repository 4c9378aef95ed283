//! The parser: saphyr-parser events into span trees, one document at a time, within
//! the per-file and run-wide node budgets; merge keys expanded, errors located.

use super::fast;
use super::*;

/// Converts the parser's character-based markers to byte offsets of the text.
pub(super) struct Positions<'a> {
    text: &'a str,
    /// Byte offset of every [`CHECKPOINT`]th character, only built for non-ASCII text: a lookup
    /// walks at most `CHECKPOINT - 1` characters from there, and the table costs a fraction
    /// of the text instead of eight bytes per character.
    checkpoints: Option<Vec<u32>>,
    base: Pos,
}

pub(super) const CHECKPOINT: usize = 32;

impl<'a> Positions<'a> {
    pub(super) fn new(text: &'a str, base: Pos) -> Self {
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
        in_text(
            self.base,
            self.byte_of_char(marker.index()),
            narrow(marker.line()),
            narrow(marker.col()),
        )
    }

    /// The span, and its start as a full position (for errors met at it).
    pub(super) fn span(&self, span: &ParserSpan) -> (Span, Pos) {
        let start = self.pos(&span.start);
        let span = Span {
            start: start.into(),
            end: self.pos(&span.end).into(),
        };
        (span, start)
    }
}

/// A position of a segment starting at `base` (byte offset, 1-based line and 0-based column
/// within the segment, as saphyr-parser counts them) as a position of the whole text:
/// columns on the segment's first line continue the base's. The fast path counts the same way.
pub(super) fn in_text(base: Pos, byte: usize, line: u32, col: u32) -> Pos {
    let byte = base.byte.saturating_add(narrow(byte));
    if line <= 1 {
        Pos {
            byte,
            line: base.line,
            col: base.col.saturating_add(col),
        }
    } else {
        Pos {
            byte,
            line: base.line.saturating_add(line - 1),
            col: col.saturating_add(1),
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
pub(super) const RUN_BATCH: usize = 4096;

/// What an error ends: the document it is in, or the rest of the file (a budget is spent).
pub(super) enum Stop {
    Document,
    File,
}

pub(super) struct Failure {
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
pub(super) struct Counters<'r> {
    run: &'r RunBudget,
    file: usize,
    /// Charged to this file but not yet to the run.
    unflushed: usize,
}

impl Counters<'_> {
    /// Charged once per node: kept small enough to inline, its failure built out of line.
    #[inline]
    fn charge(&mut self, nodes: usize, at: Pos) -> Result<(), Failure> {
        self.file = self.file.saturating_add(nodes);
        if self.file > MAX_FILE_NODES {
            return Err(file_too_large(at));
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

#[cold]
fn file_too_large(at: Pos) -> Failure {
    Failure {
        error: YamlError {
            message: format!(
                "file holds more than {MAX_FILE_NODES} YAML nodes (aliases expanded); the rest of the file is not analysed"
            ),
            pos: at,
        },
        stop: Stop::File,
    }
}

#[cold]
fn document_too_large(at: Pos) -> Failure {
    YamlError {
        message: format!(
            "document expands to more than {MAX_EXPANDED_NODES} nodes through anchors and aliases (alias bomb?); not analysed"
        ),
        pos: at,
    }
    .into()
}

/// Keys of a mapping are looked up through a hash index once it has this many entries
/// (a linear scan is cheaper below), so duplicate detection stays linear.
pub(super) const INDEX_FROM: usize = 8;

pub(super) enum Frame {
    Seq {
        start: Span,
        /// The start as a full position, for a budget error met when the sequence closes.
        at: Pos,
        anchor: usize,
        /// Nodes of the document charged before this collection's own children.
        nodes_before: usize,
        /// Where this sequence's items start in the builder's item stack.
        from: usize,
    },
    Map {
        start: Span,
        at: Pos,
        anchor: usize,
        nodes_before: usize,
        /// Where this mapping's entries start in the builder's entry stack.
        from: usize,
        index: Option<FastMap<EcoString, usize>>,
        pending_key: Option<Node>,
        duplicates: Vec<(Span, Span)>,
    },
}

pub(super) struct Builder<'c, 'r> {
    stack: Vec<Frame>,
    /// Children of the open collections, innermost last: a closed collection moves its
    /// own off the top into one allocation of exactly their number, so a tree holds no
    /// growth slack and building it reallocates nothing but these two stacks.
    items: Vec<Node>,
    entries: Vec<(Node, Node)>,
    /// Anchored nodes with their size in nodes (aliases expanded).
    anchors: FastMap<usize, (Node, usize)>,
    /// Nodes of the current document, alias copies and anchor copies included.
    expanded: usize,
    root: Option<Node>,
    duplicate_keys: Vec<(Span, Span)>,
    /// A mapping key of the current document is a collection (see `Document::collection_keys`).
    collection_keys: bool,
    counters: &'c mut Counters<'r>,
}

impl<'c, 'r> Builder<'c, 'r> {
    fn new(counters: &'c mut Counters<'r>, stacks: Stacks) -> Self {
        Builder {
            stack: stacks.frames,
            items: stacks.items,
            entries: stacks.entries,
            anchors: FastMap::default(),
            expanded: 0,
            root: None,
            duplicate_keys: Vec::new(),
            collection_keys: false,
            counters,
        }
    }

    /// The work stacks, emptied, for the next segment's builder.
    fn into_stacks(mut self) -> Stacks {
        self.stack.clear();
        self.items.clear();
        self.entries.clear();
        Stacks {
            frames: self.stack,
            items: self.items,
            entries: self.entries,
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
        self.collection_keys = false;
    }

    #[inline]
    fn charge(&mut self, nodes: usize, at: Pos) -> Result<(), Failure> {
        self.expanded = self.expanded.saturating_add(nodes);
        if self.expanded > MAX_EXPANDED_NODES {
            return Err(document_too_large(at));
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
    fn add(&mut self, node: Node, at: Pos, anchor: usize, size: usize) -> Result<(), Failure> {
        if anchor != 0 {
            self.charge(size, at)?;
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
                None => {
                    self.collection_keys |= !matches!(node.kind, NodeKind::Scalar { .. });
                    *pending_key = Some(node)
                }
                Some(key) => add_entry(&mut self.entries, *from, index, duplicates, key, node),
            },
        }
        Ok(())
    }
}

/// Scalars longer than [`ecow::EcoString`]'s 15 inline bytes are shared, not copied,
/// when the same text was read before on this thread (`namespaceSelector`,
/// `networking.k8s.io/v1`, an annotation key, an image): keys and many values repeat in
/// every manifest, and a shared string costs a reference count, not an allocation.
/// Bounded: texts up to [`MAX_INTERNED_LEN`] bytes, at most [`MAX_INTERNED`] of them.
fn interned(text: &str) -> EcoString {
    const INLINE: usize = 15;
    if text.len() <= INLINE || text.len() > MAX_INTERNED_LEN {
        return EcoString::from(text);
    }
    thread_local! {
        static SEEN: std::cell::RefCell<FastSet<EcoString>> =
            std::cell::RefCell::new(FastSet::default());
    }
    SEEN.with_borrow_mut(|seen| {
        if let Some(shared) = seen.get(text) {
            return shared.clone();
        }
        let value = EcoString::from(text);
        if seen.len() < MAX_INTERNED {
            seen.insert(value.clone());
        }
        value
    })
}

const MAX_INTERNED_LEN: usize = 128;
const MAX_INTERNED: usize = 1 << 16;

/// Adds `key: value` to a mapping under construction. A repeated key is recorded and its
/// value replaced in place (the later value wins, as with the API server's decoder).
pub(super) fn add_entry(
    stack: &mut Vec<(Node, Node)>,
    from: usize,
    index: &mut Option<FastMap<EcoString, usize>>,
    duplicates: &mut Vec<(Span, Span)>,
    key: Node,
    value: Node,
) {
    let Some(entries) = stack.get_mut(from..) else {
        return;
    };
    // The key's text is borrowed for the lookup; it is copied (a reference count at
    // most) only into an index.
    let existing = key.scalar_text().and_then(|text| match index {
        Some(index) => index.get(text).copied(),
        None => entries
            .iter()
            .position(|(k, _)| k.scalar_text() == Some(text)),
    });
    if let Some(existing) = existing
        && let Some(slot) = entries.get_mut(existing)
    {
        duplicates.push((key.span, slot.0.span));
        *slot = (key, value);
        return;
    }
    if let (Some(index), Some(text)) = (index.as_mut(), key.scalar_string()) {
        index.insert(text.clone(), entries.len());
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

pub(super) fn tag_name(tag: Option<Cow<'_, Tag>>) -> Option<String> {
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
    parse_stream_with(text, run, true)
}

/// [`parse_stream_in`], with the fast path on or off (off only to test it against
/// saphyr-parser alone).
pub(super) fn parse_stream_with(text: &str, run: &RunBudget, fast: bool) -> Stream {
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
        line += memchr::memchr_iter(b'\n', segment.as_bytes()).count();
        last = base;
        match parse_segment(segment, base, &mut stream.documents, &mut counters, fast) {
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
///
/// Only lines starting `---` can cut, so they are found with a substring search rather
/// than by reading the text line by line (a manifest has a marker every hundred lines or
/// so, and the line-by-line reading was a twentieth of the parse); each one's directive
/// lines are then read back upwards.
pub(super) fn segments(text: &str) -> Vec<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut cuts = vec![0usize];
    let line_starts = std::iter::once(0)
        .filter(|_| bytes.starts_with(b"---"))
        .chain(memchr::memmem::find_iter(bytes, b"\n---").map(|newline| newline + 1));
    for start in line_starts {
        let after = bytes.get(start + 3).copied();
        if !after.is_none_or(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n')) {
            continue;
        }
        let mut cut = start;
        // The run of `%` lines right above, read upwards one line at a time.
        while cut > 0 {
            let above = bytes
                .get(..cut - 1)
                .and_then(|head| memchr::memrchr(b'\n', head))
                .map_or(0, |newline| newline + 1);
            if bytes.get(above) != Some(&b'%') {
                break;
            }
            cut = above;
        }
        if cut > 0 {
            cuts.push(cut);
        }
    }
    cuts.dedup();
    let mut ranges: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    if let Some(&last) = cuts.last() {
        ranges.push((last, text.len()));
    }
    ranges
}

pub(super) fn scan_error(error: &ScanError, positions: &Positions<'_>) -> YamlError {
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

/// The fast path's buffers, kept per thread so a segment costs no allocation of its own.
/// Buffers grown past this many events by one large document are dropped after it.
const KEEP_FAST_EVENTS: usize = 1 << 16;

thread_local! {
    static FAST_BUFFERS: std::cell::Cell<fast::Buffers> = std::cell::Cell::new(fast::Buffers::default());
}

/// Parses one segment into `out`: through the fast path when `fast` is on and the segment
/// is in its subset (see [`fast`]), through saphyr-parser otherwise. Both feed the same
/// [`Builder`] the same events, so trees, budgets and errors do not depend on the path.
pub(super) fn parse_segment(
    text: &str,
    base: Pos,
    out: &mut Vec<Document>,
    counters: &mut Counters<'_>,
    fast: bool,
) -> Result<(), Failure> {
    let mut builder = Builder::new(counters, BUILDER_STACKS.take());
    let result = feed_segment(&mut builder, text, base, out, fast);
    let stacks = builder.into_stacks();
    if stacks.capacity() <= KEEP_STACK_ENTRIES {
        BUILDER_STACKS.set(stacks);
    }
    result
}

/// The builder's work stacks (open collections, their items and entries), kept per thread from
/// one segment to the next: a builder per document grew all three from nothing, some ten
/// reallocations a manifest.
#[derive(Default)]
struct Stacks {
    frames: Vec<Frame>,
    items: Vec<Node>,
    entries: Vec<(Node, Node)>,
}

impl Stacks {
    fn capacity(&self) -> usize {
        self.frames
            .capacity()
            .max(self.items.capacity())
            .max(self.entries.capacity())
    }
}

/// The largest stacks kept for the next segment (a huge document's are let go).
const KEEP_STACK_ENTRIES: usize = 1 << 12;

thread_local! {
    static BUILDER_STACKS: std::cell::Cell<Stacks> = std::cell::Cell::new(Stacks::default());
}

fn feed_segment(
    builder: &mut Builder<'_, '_>,
    text: &str,
    base: Pos,
    out: &mut Vec<Document>,
    fast: bool,
) -> Result<(), Failure> {
    if fast {
        let mut buffers = FAST_BUFFERS.take();
        // The fast path reads the whole segment before the builder sees an event: a
        // segment it declines is parsed by saphyr-parser from scratch, charged once.
        let result = fast::events(text, base, &mut buffers).then(|| {
            for event in &buffers.events {
                if !builder.feed_fast(event, text, base, out)? {
                    break;
                }
            }
            Ok(())
        });
        if buffers.events.capacity() <= KEEP_FAST_EVENTS {
            FAST_BUFFERS.set(buffers);
        }
        if let Some(result) = result {
            return result;
        }
    }
    let positions = Positions::new(text, base);
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, parser_span) = next.map_err(|e| scan_error(&e, &positions))?;
        let (span, start_pos) = positions.span(&parser_span);
        if !builder.feed(event, span, start_pos, text, base, out)? {
            break;
        }
    }
    Ok(())
}

impl Builder<'_, '_> {
    /// Takes one event of the segment `text` (which starts at `base`): `span` is the event's
    /// and `start_pos` its start as a full position. False once the stream has ended.
    fn feed(
        &mut self,
        event: Event<'_>,
        span: Span,
        start_pos: Pos,
        text: &str,
        base: Pos,
        out: &mut Vec<Document>,
    ) -> Result<bool, Failure> {
        match event {
            Event::StreamStart | Event::Nothing => {}
            Event::StreamEnd => return Ok(false),
            Event::DocumentStart(_) => self.reset(),
            Event::DocumentEnd => self.document_end(out),
            Event::Alias(id) => self.alias(id, start_pos)?,
            Event::Scalar(value, style, anchor, tag) => {
                let style = style_of(style);
                // A block scalar that ends the text without a line break has no final line
                // break to keep (YAML 1.2 §8.1.1.2; go-yaml and kubectl agree); the parser
                // adds one.
                let unterminated = style == Style::Block
                    && !text.ends_with('\n')
                    && span.end.byte as usize >= base.byte as usize + text.trim_end().len();
                let value = match value.strip_suffix('\n') {
                    Some(kept) if unterminated => kept,
                    _ => &value,
                };
                let tag = tag_name(tag).as_deref().map(ExplicitTag::from_name);
                self.scalar(value, style, tag, anchor, span, start_pos)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.collection_start(CollectionKind::Sequence, anchor, span, start_pos)?
            }
            Event::MappingStart(anchor, _) => {
                self.collection_start(CollectionKind::Mapping, anchor, span, start_pos)?
            }
            Event::SequenceEnd | Event::MappingEnd => self.collection_end(span, text, base)?,
        }
        Ok(true)
    }

    /// Takes one event of the fast path (see [`feed`](Self::feed)): the same work, without
    /// building a saphyr-parser event for it.
    pub(super) fn feed_fast(
        &mut self,
        event: &fast::FastEvent,
        text: &str,
        base: Pos,
        out: &mut Vec<Document>,
    ) -> Result<bool, Failure> {
        let (span, start_pos) = (event.span, event.start);
        match event.kind {
            fast::Kind::StreamStart => {}
            fast::Kind::StreamEnd => return Ok(false),
            fast::Kind::DocumentStart { .. } => self.reset(),
            fast::Kind::DocumentEnd => self.document_end(out),
            fast::Kind::Scalar { style, from, to } => {
                let value = fast::scalar_value(text, style, from, to);
                self.scalar(&value, style_of(style), None, 0, span, start_pos)?;
            }
            fast::Kind::SequenceStart => {
                self.collection_start(CollectionKind::Sequence, 0, span, start_pos)?
            }
            fast::Kind::MappingStart => {
                self.collection_start(CollectionKind::Mapping, 0, span, start_pos)?
            }
            fast::Kind::SequenceEnd | fast::Kind::MappingEnd => {
                self.collection_end(span, text, base)?
            }
        }
        Ok(true)
    }

    fn document_end(&mut self, out: &mut Vec<Document>) {
        if let Some(root) = self.root.take() {
            out.push(Document {
                root,
                duplicate_keys: std::mem::take(&mut self.duplicate_keys),
                collection_keys: std::mem::take(&mut self.collection_keys),
            });
        }
    }

    fn alias(&mut self, id: usize, start_pos: Pos) -> Result<(), Failure> {
        let size = self
            .anchors
            .get(&id)
            .map(|(_, size)| *size)
            .ok_or_else(|| YamlError {
                message: "alias refers to an unknown anchor".to_string(),
                pos: start_pos,
            })?;
        self.charge(size, start_pos)?;
        let Some((target, _)) = self.anchors.get(&id) else {
            return Ok(());
        };
        let target = target.clone();
        self.add(target, start_pos, 0, size)
    }

    fn scalar(
        &mut self,
        value: &str,
        style: Style,
        tag: Option<ExplicitTag>,
        anchor: usize,
        span: Span,
        start_pos: Pos,
    ) -> Result<(), Failure> {
        self.charge(1, start_pos)?;
        let node = Node::scalar(interned(value), style, tag, span);
        self.add(node, start_pos, anchor, 1)
    }

    /// Opens a collection of `kind`, its children to come.
    fn collection_start(
        &mut self,
        kind: CollectionKind,
        anchor: usize,
        span: Span,
        start_pos: Pos,
    ) -> Result<(), Failure> {
        self.charge(1, start_pos)?;
        let nodes_before = self.expanded;
        let frame = match kind {
            CollectionKind::Sequence => Frame::Seq {
                start: span,
                at: start_pos,
                anchor,
                nodes_before,
                from: self.items.len(),
            },
            CollectionKind::Mapping => Frame::Map {
                start: span,
                at: start_pos,
                anchor,
                nodes_before,
                from: self.entries.len(),
                index: None,
                pending_key: None,
                duplicates: Vec::new(),
            },
        };
        self.push_frame(frame, start_pos)?;
        Ok(())
    }

    /// Closes the innermost collection, at the end event's `span`.
    fn collection_end(&mut self, span: Span, text: &str, base: Pos) -> Result<(), Failure> {
        let (start, at, anchor, nodes_before, children) = match self.stack.pop() {
            Some(Frame::Seq {
                start,
                at,
                anchor,
                nodes_before,
                from,
            }) => {
                // Moved out as one block (`EcoVec::from(Vec)` copies it whole): collecting a
                // drain pushed the children one by one, each push checking capacity and sharing.
                let items = self.items.split_off(from.min(self.items.len())).into();
                (start, at, anchor, nodes_before, Children::Seq(items))
            }
            Some(Frame::Map {
                start,
                at,
                anchor,
                nodes_before,
                from,
                duplicates,
                ..
            }) => {
                self.duplicate_keys.extend(duplicates);
                let from = from.min(self.entries.len());
                let merges = self
                    .entries
                    .get(from..)
                    .is_some_and(|e| e.iter().any(|(k, _)| is_merge_key(k)));
                let entries = if merges {
                    apply_merge_keys(self.entries.drain(from..).collect()).into()
                } else {
                    self.entries.split_off(from).into()
                };
                (start, at, anchor, nodes_before, Children::Map(entries))
            }
            None => return Ok(()),
        };
        let last_child = match &children {
            Children::Seq(items) => items.last().map(|n| n.span.end),
            Children::Map(entries) => entries.last().map(|(_, v)| v.span.end),
        };
        let span = Span {
            start: start.start,
            end: collection_end(text, base, start, span, last_child),
        };
        let node = match children {
            Children::Seq(items) => Node::seq(items, span),
            Children::Map(entries) => Node::map(entries, span),
        };
        // The collection itself plus every node charged inside it.
        let size = self.expanded.saturating_sub(nodes_before) + 1;
        self.add(node, at, anchor, size)
    }
}

/// The children of a collection being closed.
enum Children {
    Seq(Shared<Node>),
    Map(Shared<(Node, Node)>),
}

#[derive(Clone, Copy)]
enum CollectionKind {
    Sequence,
    Mapping,
}

fn style_of(style: ScalarStyle) -> Style {
    match style {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted => Style::Quoted,
        ScalarStyle::Literal | ScalarStyle::Folded => Style::Block,
    }
}

/// Where a collection ends: a flow collection at its closing bracket, a block
/// collection at the end of its last child (not at the next token, which may be
/// lines of comments further down).
pub(super) fn collection_end(
    text: &str,
    base: Pos,
    start: Span,
    end_event: Span,
    last_child: Option<End>,
) -> End {
    let relative = start.start.byte.saturating_sub(base.byte) as usize;
    let is_flow = matches!(text.as_bytes().get(relative), Some(b'{' | b'['));
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

pub(super) fn is_merge_key(key: &Node) -> bool {
    key.as_scalar()
        .is_some_and(|s| s.value == "<<" && s.style == Style::Plain && s.tag.is_none())
}

/// YAML merge keys (`<<: *base` or `<<: [*a, *b]`), which the Kubernetes YAML
/// decoder honours: merged entries never override keys written explicitly, and
/// earlier sources win over later ones. Linear in the entries merged (a set of the keys
/// taken so far), however many aliases are merged.
pub(super) fn apply_merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let (merges, mut explicit): (Vec<_>, Vec<_>) =
        entries.into_iter().partition(|(k, _)| is_merge_key(k));
    let mut taken: FastSet<EcoString> = explicit
        .iter()
        .filter_map(|(k, _)| Some(k.as_scalar()?.value.clone()))
        .collect();
    for (_, source) in merges {
        let sources: Vec<Node> = match source.kind {
            NodeKind::Map(_, _) => vec![source],
            NodeKind::Seq(items, _) => items.into_vec(),
            NodeKind::Scalar { .. } => Vec::new(),
        };
        for source in sources {
            let NodeKind::Map(source_entries, _) = source.kind else {
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

    /// The cut as it was first written, line by line: the reference [`segments`] is
    /// checked against.
    fn segments_line_by_line(text: &str) -> Vec<(usize, usize)> {
        let mut cuts = vec![0usize];
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

    proptest::proptest! {
        /// Texts of the pieces that decide a cut: markers with and without what may
        /// follow them, directive lines, dashes and percent signs mid-line.
        #[test]
        fn segments_cut_where_a_line_by_line_reading_cuts(
            pieces in proptest::collection::vec(
                proptest::sample::select(vec![
                    "---", "--", "-", "%", "%YAML 1.2", "\n", "\r", "\t", " ", "a", "é", "---x",
                    "...", "# c",
                ]),
                0..40,
            )
        ) {
            let text: String = pieces.concat();
            proptest::prop_assert_eq!(segments(&text), segments_line_by_line(&text));
        }
    }

    /// Spans keep no columns and no end line: reporters count them from the text. They
    /// must come out as the parser counts them, event by event, on text written to trip
    /// the counting: tabs, CRLF and lone CR line breaks, characters of two to four bytes,
    /// flow collections, block and multi-line quoted scalars, comments, directives and
    /// several documents.
    #[test]
    fn positions_counted_from_the_text_are_the_parsers() {
        let texts = [
            "a: 1\nb:\n  - x\n  - {y: 2, z: [3, 4]}\n",
            "ä: ö\n\tkey: \"tab\tinside\"\nü: [é, 'à b']\n",
            "a: 1\r\nb:\r\n  c: \"x\r\n   y\"\r\n  d: |\r\n    one\r\n    two\r\n",
            "a: 1\rb: 2\r",
            "# comment\n%YAML 1.2\n---\nk: v # trailing\n...\n---\n- 𝄞: 𝄞𝄞\n- \"multi\n  line\"\n",
            "x: >\n  folded\n  text\n\ny: {a: [1, {b: c}], d: e}\n",
            "- ? complex key\n  : value\n- &anchor {a: 1}\n- *anchor\n",
        ];
        for text in texts {
            let positions = Positions::new(
                text,
                Pos {
                    byte: 0,
                    line: 1,
                    col: 1,
                },
            );
            let mut parser = Parser::new_from_str(text);
            while let Some(Ok((event, marker_span))) = parser.next_event() {
                let start = positions.pos(&marker_span.start);
                let end = positions.pos(&marker_span.end);
                let span = Span {
                    start: start.into(),
                    end: end.into(),
                };
                assert_eq!(span.start_pos(text), start, "{text:?} {event:?}");
                assert_eq!(span.end_pos(text), end, "{text:?} {event:?}");
                assert_eq!(span.is_one_line(text), start.line == end.line);
                if matches!(event, Event::StreamEnd) {
                    break;
                }
            }
        }
    }
}
