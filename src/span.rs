//! Source positions shared by every pipeline stage.

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
/// Only what cannot be counted cheaply is stored: the start's byte and line and the end's
/// byte, 12 bytes. A YAML tree node is mostly its span, and there is one node per few
/// bytes of input, so the columns and the end line, which only a report or a fix needs
/// and which the file's text gives back, are counted from the text where they are shown
/// ([`Span::start_pos`], [`Span::end_pos`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: Start,
    pub end: End,
}

/// Where a span starts: its byte offset and 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Start {
    pub byte: u32,
    pub line: u32,
}

/// Where a span ends: its byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct End {
    pub byte: u32,
}

impl From<Pos> for Start {
    fn from(pos: Pos) -> Start {
        Start {
            byte: pos.byte,
            line: pos.line,
        }
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

    /// The start as a full position, its column counted in `text` (the text of the file
    /// the span is in). Without the text, column 1.
    pub fn start_pos(&self, text: &str) -> Pos {
        let col = if (self.start.byte as usize) <= text.len() {
            column_at(text, self.start.byte as usize)
        } else {
            1
        };
        Pos {
            byte: self.start.byte,
            line: self.start.line,
            col,
        }
    }

    /// The end as a full position, its line and column counted in `text` (the text of
    /// the file the span is in) from the start. Without the text (or with a span that
    /// does not fit it), the start's line and column.
    pub fn end_pos(&self, text: &str) -> Pos {
        let (start, end) = (self.start.byte as usize, self.end.byte as usize);
        match text.get(start..end) {
            Some(between) => Pos {
                byte: self.end.byte,
                line: self.start.line.saturating_add(narrow(line_breaks(between))),
                col: column_at(text, end),
            },
            None => Pos {
                byte: self.end.byte,
                ..self.start_pos(text)
            },
        }
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

/// Line breaks in `text` as the parser counts lines: `\r\n`, `\n` and a lone `\r` are one each.
fn line_breaks(text: &str) -> usize {
    let bytes = text.as_bytes();
    bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count()
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
