//! Source positions shared by every pipeline stage.

use std::sync::OnceLock;

/// A position in a source file: byte offset (0-based) and line/column (1-based, columns in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub byte: u32,
    pub line: u32,
    pub col: u32,
}

/// Positions are kept in 32 bits (a quarter of every tree node's size); offsets past
/// 4 GiB, which the file-size limit keeps out anyway, saturate.
pub fn narrow(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl Pos {
    /// Position of byte offset `byte` in `text` (clamped to a character boundary).
    pub fn of_byte(text: &str, byte: usize) -> Pos {
        let mut byte = byte.min(text.len());
        while !text.is_char_boundary(byte) {
            byte -= 1;
        }
        let before = &text[..byte];
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        Pos {
            byte: narrow(byte),
            line: narrow(before.matches('\n').count() + 1),
            col: narrow(before[line_start..].chars().count() + 1),
        }
    }
}

/// A half-open range `[start, end)` of a source file.
///
/// Only the two byte offsets are stored, 8 bytes. A YAML tree node is mostly its span, and
/// there is one node per few bytes of input, so the lines and columns, which only a report
/// or a fix needs and which the file's text gives back, are counted from the text where
/// they are shown ([`Span::start_pos`], [`Span::end_pos`]; through a [`TextIndex`] in time
/// that does not grow with the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: Start,
    pub end: End,
}

/// Where a span starts: its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Start {
    pub byte: u32,
}

/// Where a span ends: its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct End {
    pub byte: u32,
}

impl From<Pos> for Start {
    fn from(pos: Pos) -> Start {
        Start { byte: pos.byte }
    }
}

impl From<Pos> for End {
    fn from(pos: Pos) -> End {
        End { byte: pos.byte }
    }
}

/// The 1-based column, in characters, of byte offset `byte` of `text`: the characters
/// since the last line break (`\n`, or a lone `\r`), as the parser counts them. An
/// offset past the text or inside a character counts from the nearest boundary below.
pub fn column_at(text: &str, byte: usize) -> u32 {
    let mut byte = byte.min(text.len());
    while !text.is_char_boundary(byte) {
        byte -= 1;
    }
    let before = &text[..byte];
    let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
    narrow(before[line_start..].chars().count()).saturating_add(1)
}

impl Span {
    pub fn point(pos: Pos) -> Span {
        Span {
            start: pos.into(),
            end: pos.into(),
        }
    }

    /// The start as a full position, its line and column counted in `text` (the text of
    /// the file the span is in). Without the text (or past its end), line 1, column 1.
    pub fn start_pos(&self, text: &str) -> Pos {
        self.start_pos_indexed(text, &TextIndex::default())
    }

    /// The end as a full position, its line and column counted in `text` (the text of
    /// the file the span is in). Without the text (or with a span that does not fit it),
    /// the start's line and column.
    pub fn end_pos(&self, text: &str) -> Pos {
        self.end_pos_indexed(text, &TextIndex::default())
    }

    /// [`Span::start_pos`] with the file's [`TextIndex`], built the first time a position
    /// needs it: the same position, in time that grows neither with the file's length
    /// nor with the line's.
    pub fn start_pos_indexed(&self, text: &str, index: &TextIndex) -> Pos {
        let byte = self.start.byte as usize;
        let (line, col) = if byte <= text.len() {
            (index.line_at(text, byte), index.column_at(text, byte))
        } else {
            (1, 1)
        };
        Pos {
            byte: self.start.byte,
            line,
            col,
        }
    }

    /// [`Span::end_pos`] with the file's [`TextIndex`] (see [`Span::start_pos_indexed`]).
    pub fn end_pos_indexed(&self, text: &str, index: &TextIndex) -> Pos {
        self.end_within(text, index, || {
            index.line_at(text, self.start.byte as usize)
        })
        .unwrap_or_else(|| Pos {
            byte: self.end.byte,
            ..self.start_pos_indexed(text, index)
        })
    }

    /// The end, its line counted on from the start's (`start_line`, asked only then), or
    /// `None` when the span does not fit `text`.
    fn end_within(
        &self,
        text: &str,
        index: &TextIndex,
        start_line: impl FnOnce() -> u32,
    ) -> Option<Pos> {
        let (start, end) = (self.start.byte as usize, self.end.byte as usize);
        let between = text.get(start..end)?;
        Some(Pos {
            byte: self.end.byte,
            line: start_line().saturating_add(narrow(line_breaks(between))),
            col: index.column_at(text, end),
        })
    }

    /// Both ends at once, as [`Span::start_pos_indexed`] and [`Span::end_pos_indexed`]
    /// give them: the start's line, which the end's is counted from, is counted once.
    pub fn positions_indexed(&self, text: &str, index: &TextIndex) -> (Pos, Pos) {
        let start = self.start_pos_indexed(text, index);
        let end = self.end_within(text, index, || start.line).unwrap_or(Pos {
            byte: self.end.byte,
            ..start
        });
        (start, end)
    }

    /// Whether the span lies on one line of `text`.
    pub fn is_one_line(&self, text: &str) -> bool {
        text.get(self.start.byte as usize..self.end.byte as usize)
            .is_none_or(|between| line_breaks(between) == 0)
    }

    pub fn len(&self) -> usize {
        self.end.byte.saturating_sub(self.start.byte) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn indexed_column(text: &str, byte: usize, index: &OnceLock<ColumnIndex>) -> u32 {
    ColumnIndex::column_lazily(text, byte, || index.get_or_init(|| ColumnIndex::new(text)))
}

/// Line breaks in `text` as the parser counts lines: `\r\n`, `\n` and a lone `\r` are one each.
fn line_breaks(text: &str) -> usize {
    line_breaks_in(text.as_bytes(), 0, text.len())
}

/// Line breaks of `bytes[from..to]` (see [`line_breaks`]); a `\r` just before `to` is one
/// when the byte after it, read in all of `bytes`, is not `\n`.
fn line_breaks_in(bytes: &[u8], from: usize, to: usize) -> usize {
    let Some(range) = bytes.get(from..to) else {
        return 0;
    };
    // Most texts have no `\r`: then the line feeds are the count.
    let newlines = count_byte(range, b'\n');
    if !range.contains(&b'\r') {
        return newlines;
    }
    let lone_returns = range
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\r' && bytes.get(from + i + 1) != Some(&b'\n'))
        .count();
    newlines + lone_returns
}

/// How many bytes of `bytes` are `needle`. Counted into a byte per block of 32, which
/// the compiler turns into whole-vector compares and adds; a count per byte into a
/// `usize` (`filter().count()`) widens every byte, and position lookups took twice the
/// instructions with it (callgrind, 5,000 workloads: 67 → 32 million).
fn count_byte(bytes: &[u8], needle: u8) -> usize {
    let mut blocks = bytes.chunks_exact(32);
    let mut count = 0;
    for block in &mut blocks {
        let in_block: u8 = block.iter().map(|&b| u8::from(b == needle)).sum();
        count += usize::from(in_block);
    }
    count + blocks.remainder().iter().filter(|&&b| b == needle).count()
}

/// Line breaks before byte offset `byte` of `text` (clamped to the text), counted from
/// the nearest of `marks` (see [`TextIndex`]) when given, else from the start.
fn line_breaks_before(text: &str, byte: usize, marks: Option<&[u32]>) -> usize {
    let byte = byte.min(text.len());
    let (from, before) = match marks {
        Some(marks) => {
            let at = (byte / LINE_MARK).min(marks.len().saturating_sub(1));
            marks.get(at).map_or((0, 0), |&count| {
                ((at * LINE_MARK).min(byte), count as usize)
            })
        }
        None => (0, 0),
    };
    before + line_breaks_in(text.as_bytes(), from, byte)
}

/// Bytes between the marks of a [`TextIndex`]'s line counts.
const LINE_MARK: usize = 4096;

/// What makes a file's positions cheap to count, built the first time a report asks
/// for one: the line breaks before every [`LINE_MARK`]th byte (a file longer than one
/// mark; a line is then counted from the nearest mark, not from the file's start), and
/// the [`ColumnIndex`] (a file with a long line).
#[derive(Debug, Default)]
pub struct TextIndex {
    line_marks: OnceLock<Vec<u32>>,
    columns: OnceLock<ColumnIndex>,
}

impl TextIndex {
    /// The 1-based line of byte offset `byte` of `text` (the text this index is for).
    fn line_at(&self, text: &str, byte: usize) -> u32 {
        narrow(self.line_breaks_before(text, byte)).saturating_add(1)
    }

    /// The 1-based column of byte offset `byte` of `text`, as [`column_at`] counts it.
    fn column_at(&self, text: &str, byte: usize) -> u32 {
        indexed_column(text, byte, &self.columns)
    }

    fn line_breaks_before(&self, text: &str, byte: usize) -> usize {
        if text.len() <= LINE_MARK {
            return line_breaks_before(text, byte, None);
        }
        let marks = self.line_marks.get_or_init(|| {
            let bytes = text.as_bytes();
            let mut marks = Vec::with_capacity(bytes.len() / LINE_MARK + 1);
            let mut count = 0;
            for from in (0..bytes.len()).step_by(LINE_MARK) {
                marks.push(narrow(count));
                count += line_breaks_in(bytes, from, (from + LINE_MARK).min(bytes.len()));
            }
            marks
        });
        line_breaks_before(text, byte, Some(marks))
    }
}

impl Clone for TextIndex {
    /// A clone starts empty: the index is a cache of what the text gives back.
    fn clone(&self) -> TextIndex {
        TextIndex::default()
    }
}

/// Index of a loaded source file in the `Sources` table of the load stage.
///
/// Stored as the index plus one in a `NonZeroU32`, so `Option<FileId>` (every tree node's
/// origin) is 4 bytes, not 8.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FileId(std::num::NonZeroU32);

impl FileId {
    /// The file at `index`; indexes past `u32::MAX - 1`, which the file-count limit keeps
    /// out anyway, saturate.
    pub fn new(index: usize) -> FileId {
        let stored = narrow(index).saturating_add(1);
        FileId(std::num::NonZeroU32::new(stored).unwrap_or(std::num::NonZeroU32::MAX))
    }

    pub fn index(self) -> usize {
        self.0.get() as usize - 1
    }
}

impl std::fmt::Debug for FileId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileId({})", self.index())
    }
}

/// A span in a particular file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Location {
    pub file: FileId,
    pub span: Span,
}

/// Counts columns in one file's text in time that does not grow with the length of the
/// line: a minified JSON file is one line of megabytes, and counting back to its start for
/// each of thousands of findings on it would be quadratic. A line break is looked for at
/// most [`LONG_LINE`] bytes back; a position further into a line than that finds the
/// line's start among the starts of long lines, and its character count from character
/// counts kept every [`CHARACTER_MARK`] bytes (only for a text that is not ASCII and has
/// a long line). Built once per file, in one pass, when a column is first asked for.
#[derive(Debug, Clone, Default)]
pub struct ColumnIndex {
    ascii: bool,
    /// Where lines longer than [`LONG_LINE`] bytes start, in order.
    long_line_starts: Vec<u32>,
    /// (byte, characters before it) at the first character boundary at or after every
    /// [`CHARACTER_MARK`]th byte.
    character_marks: Vec<(u32, u32)>,
}

const LONG_LINE: usize = 4096;
const CHARACTER_MARK: usize = 256;

fn is_break(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

impl ColumnIndex {
    pub fn new(text: &str) -> ColumnIndex {
        let bytes = text.as_bytes();
        let mut long_line_starts = Vec::new();
        let mut line_start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if is_break(b) {
                if i - line_start > LONG_LINE {
                    long_line_starts.push(narrow(line_start));
                }
                line_start = i + 1;
            }
        }
        if bytes.len() - line_start > LONG_LINE {
            long_line_starts.push(narrow(line_start));
        }
        let ascii = text.is_ascii();
        let mut character_marks = Vec::new();
        if !ascii && !long_line_starts.is_empty() {
            let mut next = 0;
            for (characters, (i, _)) in text.char_indices().enumerate() {
                if i >= next {
                    character_marks.push((narrow(i), narrow(characters)));
                    next = (i / CHARACTER_MARK + 1) * CHARACTER_MARK;
                }
            }
        }
        ColumnIndex {
            ascii,
            long_line_starts,
            character_marks,
        }
    }

    /// The 1-based column of byte offset `byte` of `text` (the text this index was built
    /// from), as [`column_at`] counts it.
    pub fn column(&self, text: &str, byte: usize) -> u32 {
        ColumnIndex::column_lazily(text, byte, || self)
    }

    /// [`ColumnIndex::column`], asking for the index (and so building it, see
    /// [`Span::start_pos_indexed`]) only on a long line: where a line break lies within
    /// [`LONG_LINE`] bytes before `byte`, the characters since it are counted directly.
    pub fn column_lazily<'i>(
        text: &str,
        byte: usize,
        index: impl FnOnce() -> &'i ColumnIndex,
    ) -> u32 {
        let mut byte = byte.min(text.len());
        while !text.is_char_boundary(byte) {
            byte -= 1;
        }
        let window = byte.saturating_sub(LONG_LINE + 1);
        let before = text.as_bytes().get(window..byte).unwrap_or_default();
        let near_start = match before.iter().rposition(|&b| is_break(b)) {
            Some(at) => Some(window + at + 1),
            None if window == 0 => Some(0),
            None => None,
        };
        let characters = match near_start {
            Some(line_start) => text.get(line_start..byte).map_or(0, |s| s.chars().count()),
            None => {
                let index = index();
                let later = index
                    .long_line_starts
                    .partition_point(|&start| start as usize <= byte);
                let line_start = later
                    .checked_sub(1)
                    .and_then(|i| index.long_line_starts.get(i))
                    .map_or(0, |&start| start as usize);
                index.characters_between(text, line_start, byte)
            }
        };
        narrow(characters).saturating_add(1)
    }

    fn characters_between(&self, text: &str, from: usize, to: usize) -> usize {
        if self.ascii {
            return to - from;
        }
        if to - from <= LONG_LINE || self.character_marks.is_empty() {
            return text.get(from..to).map_or(0, |s| s.chars().count());
        }
        self.characters_before(text, to)
            .saturating_sub(self.characters_before(text, from))
    }

    fn characters_before(&self, text: &str, byte: usize) -> usize {
        let at = (byte / CHARACTER_MARK).min(self.character_marks.len().saturating_sub(1));
        let mark = self
            .character_marks
            .get(..=at)
            .and_then(|marks| marks.iter().rev().find(|(b, _)| *b as usize <= byte));
        let (mark_byte, characters) = mark.map_or((0, 0), |&(b, c)| (b as usize, c as usize));
        characters + text.get(mark_byte..byte).map_or(0, |s| s.chars().count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block count agrees with a byte-by-byte count at every length around the block
    /// size and at every alignment, for bytes that are all, none or some of the needle.
    #[test]
    fn bytes_are_counted_as_one_by_one() {
        let mixed: Vec<u8> = (0..200u32)
            .map(|i| if i % 7 == 3 { b'\n' } else { b'a' })
            .collect();
        let all = vec![b'\n'; 200];
        let none = vec![b'\r'; 200];
        for bytes in [&mixed, &all, &none] {
            for from in 0..40 {
                for to in from..bytes.len() {
                    let slice = &bytes[from..to];
                    let expected = slice.iter().filter(|&&b| b == b'\n').count();
                    assert_eq!(count_byte(slice, b'\n'), expected, "{from}..{to}");
                }
            }
        }
    }

    /// The index answers as counting back through the text does, at every character
    /// boundary of texts with short and long lines (longer than the look-back window),
    /// ASCII or not, with LF, CRLF and lone CR breaks.
    #[test]
    fn the_column_index_counts_as_the_text_does() {
        let long_ascii = "x".repeat(LONG_LINE * 2 + 37);
        let long_wide: String = "aé𝄞b".repeat(LONG_LINE / 2);
        let texts = [
            String::new(),
            "a: 1\nbé: [x, y]\r\n  - z\rq".to_string(),
            format!("{long_ascii}\n{long_ascii}"),
            format!("k: v\n{long_wide}\r\n{long_ascii}\rend é"),
            format!("{long_wide}{long_ascii}é"),
        ];
        for text in &texts {
            let index = ColumnIndex::new(text);
            let lazy = OnceLock::new();
            // Every boundary near the start and a sample of the rest (the reference counts
            // back through the whole line each time).
            let boundaries: Vec<usize> = text
                .char_indices()
                .map(|(i, _)| i)
                .chain([text.len()])
                .collect();
            let sampled = boundaries
                .iter()
                .enumerate()
                .filter(|(n, _)| *n < 300 || n % 11 == 0 || *n + 300 > boundaries.len())
                .map(|(_, &byte)| byte);
            for byte in sampled {
                let expected = column_at(text, byte);
                let context = format!("byte {byte} of a {}-byte text", text.len());
                assert_eq!(index.column(text, byte), expected, "{context}");
                assert_eq!(indexed_column(text, byte, &lazy), expected, "{context}");
            }
            // Built only for a text with a line longer than the look-back window.
            let long = text.lines().any(|line| line.len() > LONG_LINE);
            assert_eq!(lazy.get().is_some(), long, "a {}-byte text", text.len());
        }
    }

    /// Lines counted from the index's marks are the lines counted from the text's start,
    /// at every byte of texts longer than several marks, with a `\r\n` straddling a mark
    /// and lone `\r` breaks; and a short text builds no marks.
    #[test]
    fn the_line_marks_count_as_the_text_does() {
        // 4095 bytes of a line, then `\r` at byte 4095 and `\n` at 4096: the pair is
        // one break across the first mark.
        let straddling = format!("{}\r\n{}", "x".repeat(LINE_MARK - 1), "a: 1\n".repeat(2000));
        let mixed: String = (0..3000)
            .map(|i| match i % 3 {
                0 => "k: v\n",
                1 => "é: [1]\r\n",
                _ => "z\r",
            })
            .collect();
        let short = "a: 1\nb: 2\r\nc\rd".to_string();
        for text in [straddling, mixed, short] {
            let index = TextIndex::default();
            // Every byte near the start, the end and each mark, and a sample of the rest
            // (the reference counts from the text's start each time).
            let near_mark = |b: usize| b % LINE_MARK < 3 || LINE_MARK - b % LINE_MARK < 3;
            let sampled = (0..=text.len()).filter(|&b| {
                text.is_char_boundary(b)
                    && (b < 300 || b + 300 > text.len() || near_mark(b) || b % 7 == 0)
            });
            for byte in sampled {
                let span = Span {
                    start: Start { byte: narrow(byte) },
                    end: End { byte: narrow(byte) },
                };
                assert_eq!(
                    span.start_pos_indexed(&text, &index),
                    span.start_pos(&text),
                    "byte {byte} of a {}-byte text",
                    text.len()
                );
            }
            assert_eq!(
                index.line_marks.get().is_some(),
                text.len() > LINE_MARK,
                "a {}-byte text",
                text.len()
            );
        }
    }

    /// Both ends counted at once are the ends counted apart, for spans inside the text,
    /// reaching past it, reversed, and in an empty text.
    #[test]
    fn both_ends_at_once_are_the_ends_apart() {
        let text = format!("a: 1\nb\u{e9}: [x]\r\n  - z\rq\n{}", "k: v\n".repeat(1200));
        let offsets = [
            0,
            1,
            4,
            5,
            7,
            9,
            17,
            18,
            20,
            4100,
            text.len(),
            text.len() + 3,
        ];
        for text in [text.as_str(), ""] {
            let index = TextIndex::default();
            for &start in &offsets {
                for &end in &offsets {
                    let span = Span {
                        start: Start {
                            byte: narrow(start),
                        },
                        end: End { byte: narrow(end) },
                    };
                    assert_eq!(
                        span.positions_indexed(text, &index),
                        (
                            span.start_pos_indexed(text, &index),
                            span.end_pos_indexed(text, &index)
                        ),
                        "{start}..{end} of a {}-byte text",
                        text.len()
                    );
                }
            }
        }
    }
}
