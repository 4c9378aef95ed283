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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    pub start: Pos,
    pub end: End,
}

/// Where a span ends: its byte offset and line. Its column is not stored (a tree node is
/// mostly spans, and this keeps a node at 56 bytes): where one is shown, [`Span::end_pos`]
/// counts it from the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct End {
    pub byte: u32,
    pub line: u32,
}

impl From<Pos> for End {
    fn from(pos: Pos) -> End {
        End {
            byte: pos.byte,
            line: pos.line,
        }
    }
}

impl Span {
    pub fn point(pos: Pos) -> Span {
        Span {
            start: pos,
            end: pos.into(),
        }
    }

    /// The end as a full position, its column counted in `text` (the text of the file the
    /// span is in) back to the start of its line: the character count of a line, as the
    /// parser counts columns. Without the text (or with a span that does not fit it), a
    /// column that cannot be wrong by much: the start's on its line, else the first.
    pub fn end_pos(&self, text: &str) -> Pos {
        let end = self.end.byte as usize;
        let col = if self.end.line == self.start.line {
            text.get(self.start.byte as usize..end)
                .map(|between| self.start.col + narrow(between.chars().count()))
        } else {
            text.get(..end).map(|before| {
                let line_start = before.rfind(['\n', '\r']).map_or(0, |i| i + 1);
                narrow(before[line_start..].chars().count()) + 1
            })
        };
        Pos {
            byte: self.end.byte,
            line: self.end.line,
            col: col.unwrap_or(if self.end.line == self.start.line {
                self.start.col
            } else {
                1
            }),
        }
    }

    pub fn len(&self) -> usize {
        self.end.byte.saturating_sub(self.start.byte) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
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
