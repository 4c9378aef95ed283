//! The source excerpt shown under a human finding: a few lines around its labels, with
//! unsafe characters masked and over-long lines elided.
//!
//! miette renders whatever source it is given and panics on columns past 65,535 (one-line
//! minified JSON), and would print a megabyte line whole. So the human reporter never
//! hands it the file: it gets an [`Excerpt`] holding only the lines between the first and
//! the last label (plus one line of context each side), in which a line longer than
//! [`MAX_LINE_CHARS`] keeps [`WINDOW`] characters either side of each label end and `…`
//! for the rest. The excerpt answers miette with the real line numbers and columns, so
//! the header still reads `file:line:col` of the original.
//!
//! Every span is accepted: offsets past the end are clamped to it, an end before its start
//! becomes an empty span, offsets inside a UTF-8 character move to its start.

use crate::hashing::FastMap;

use miette::{MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

use super::sanitize::mask_source;
use crate::span::FileId;

/// Lines longer than this many characters are elided around the labels.
pub const MAX_LINE_CHARS: usize = 240;
/// Characters kept on each side of a label's start and end in an elided line.
pub const WINDOW: usize = 60;
/// A label spanning more lines than this is cut to its first line.
pub const MAX_LABEL_LINES: usize = 24;
/// Labels of the same file further than this many lines from the primary one are cited
/// in the help instead of drawn.
pub const MAX_LABEL_DISTANCE: usize = 40;

/// Start offsets of the lines of each file, computed once per file.
#[derive(Default)]
pub struct LineIndex {
    files: FastMap<FileId, Vec<usize>>,
}

impl LineIndex {
    fn starts(&mut self, file: FileId, text: &str) -> &[usize] {
        self.files.entry(file).or_insert_with(|| {
            std::iter::once(0)
                .chain(
                    text.bytes()
                        .enumerate()
                        .filter(|(_, b)| *b == b'\n')
                        .map(|(i, _)| i + 1),
                )
                .collect()
        })
    }
}

/// The largest character boundary of `text` not after `offset` (clamped to its length).
pub fn floor_boundary(text: &str, offset: usize) -> usize {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A byte range of the source, clamped and aligned: `start <= end <= len`, both boundaries.
pub fn clamp_range(text: &str, start: usize, end: usize) -> (usize, usize) {
    let start = floor_boundary(text, start);
    let end = floor_boundary(text, end.max(start));
    (start, end)
}

/// A label to draw: real byte offsets into the source.
#[derive(Debug, Clone)]
pub struct Mark {
    pub text: Option<String>,
    pub start: usize,
    pub end: usize,
    pub primary: bool,
}

/// A verbatim piece of the excerpt.
#[derive(Debug, Clone, Copy)]
struct Segment {
    display: usize,
    real: usize,
    len: usize,
}

pub struct Excerpt {
    name: String,
    text: String,
    /// 0-based number of the excerpt's first line in the source.
    first_line: usize,
    segments: Vec<Segment>,
    /// The source, for real columns.
    source: std::sync::Arc<String>,
    line_starts: Vec<usize>,
}

fn line_of(starts: &[usize], offset: usize) -> usize {
    starts.partition_point(|&s| s <= offset).saturating_sub(1)
}

impl Excerpt {
    /// The excerpt of `source` (file `file`) showing `marks`, whose offsets are clamped
    /// and cut as the module says; returns it with the marks in excerpt offsets.
    pub fn build(
        name: String,
        file: FileId,
        source: std::sync::Arc<String>,
        marks: &[Mark],
        index: &mut LineIndex,
    ) -> (Excerpt, Vec<Mark>) {
        let text: &str = &source;
        let starts = index.starts(file, text).to_vec();
        let line_end = |line: usize| {
            // End of the line's content, before its `\n`.
            starts
                .get(line + 1)
                .map_or(text.len(), |next| next.saturating_sub(1))
        };
        let mut marks: Vec<Mark> = marks
            .iter()
            .map(|m| {
                let (start, mut end) = clamp_range(text, m.start, m.end);
                let first = line_of(&starts, start);
                if line_of(&starts, end) > first + MAX_LABEL_LINES {
                    end = floor_boundary(text, line_end(first)).max(start);
                }
                Mark {
                    text: m.text.clone(),
                    start,
                    end,
                    primary: m.primary,
                }
            })
            .collect();
        let first_line = marks
            .iter()
            .map(|m| line_of(&starts, m.start))
            .min()
            .unwrap_or(0)
            .saturating_sub(1);
        let last_line = marks
            .iter()
            .map(|m| line_of(&starts, m.end))
            .max()
            .unwrap_or(0)
            .saturating_add(1)
            .min(starts.len().saturating_sub(1));
        let mut excerpt = String::new();
        let mut segments = Vec::new();
        for line in first_line..=last_line {
            let Some(&line_start) = starts.get(line) else {
                break;
            };
            let content_end = line_end(line).max(line_start);
            let has_newline = content_end < text.len();
            let piece_end = if has_newline {
                content_end + 1
            } else {
                content_end
            };
            let raw = text.get(line_start..piece_end).unwrap_or_default();
            let masked = mask_source(raw);
            let content = masked.get(..content_end - line_start).unwrap_or_default();
            if content.len() <= MAX_LINE_CHARS || content.chars().count() <= MAX_LINE_CHARS {
                segments.push(Segment {
                    display: excerpt.len(),
                    real: line_start,
                    len: content.len(),
                });
                excerpt.push_str(content);
            } else {
                let points: Vec<usize> = marks
                    .iter()
                    .flat_map(|m| [m.start, m.end])
                    .filter(|&p| p >= line_start && p <= content_end)
                    .map(|p| p - line_start)
                    .collect();
                for (from, to) in windows(content, &points) {
                    if from > 0 {
                        excerpt.push('…');
                    }
                    segments.push(Segment {
                        display: excerpt.len(),
                        real: line_start + from,
                        len: to - from,
                    });
                    excerpt.push_str(&content[from..to]);
                }
                if segments
                    .last()
                    .is_some_and(|s| s.real + s.len < content_end)
                {
                    excerpt.push('…');
                }
            }
            if has_newline {
                excerpt.push('\n');
            }
        }
        let excerpt = Excerpt {
            name,
            text: excerpt,
            first_line,
            segments,
            source: source.clone(),
            line_starts: starts,
        };
        for mark in &mut marks {
            mark.start = excerpt.to_display(mark.start);
            mark.end = excerpt.to_display(mark.end).max(mark.start);
        }
        (excerpt, marks)
    }

    /// The excerpt text (for tests).
    pub fn text(&self) -> &str {
        &self.text
    }

    fn to_display(&self, real: usize) -> usize {
        let i = self.segments.partition_point(|s| s.real <= real);
        match i.checked_sub(1).and_then(|i| self.segments.get(i)) {
            Some(s) => s.display + (real - s.real).min(s.len),
            None => 0,
        }
    }

    fn to_real(&self, display: usize) -> usize {
        let i = self.segments.partition_point(|s| s.display <= display);
        match i.checked_sub(1).and_then(|i| self.segments.get(i)) {
            Some(s) => s.real + (display - s.display).min(s.len),
            None => 0,
        }
    }

    /// 0-based column, in characters, of a display offset in the source.
    fn real_column(&self, display: usize) -> usize {
        let real = floor_boundary(&self.source, self.to_real(display));
        let line_start = self
            .line_starts
            .get(line_of(&self.line_starts, real))
            .copied()
            .unwrap_or(0)
            .min(real);
        self.source
            .get(line_start..real)
            .map_or(0, |s| s.chars().count())
    }
}

/// The ranges of `line` to keep: [`WINDOW`] characters either side of each point (a
/// byte offset), merged, on character boundaries. The first window when there is no
/// point.
fn windows(line: &str, points: &[usize]) -> Vec<(usize, usize)> {
    let back = |offset: usize| {
        let offset = floor_boundary(line, offset);
        line[..offset]
            .char_indices()
            .rev()
            .nth(WINDOW - 1)
            .map_or(0, |(i, _)| i)
    };
    let forward = |offset: usize| {
        let offset = floor_boundary(line, offset);
        line[offset..]
            .char_indices()
            .nth(WINDOW)
            .map_or(line.len(), |(i, _)| offset + i)
    };
    let mut ranges: Vec<(usize, usize)> = if points.is_empty() {
        vec![(0, forward(0))]
    } else {
        points.iter().map(|&p| (back(p), forward(p))).collect()
    };
    ranges.sort_unstable();
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (from, to) in ranges {
        match merged.last_mut() {
            Some(last) if from <= last.1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    merged
}

impl SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner =
            self.text
                .as_str()
                .read_span(span, context_lines_before, context_lines_after)?;
        let column = if context_lines_before == 0 {
            self.real_column(span.offset())
        } else {
            inner.column()
        };
        Ok(Box::new(MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            inner.line() + self.first_line,
            column,
            inner.line_count(),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(text: &str, marks: &[(usize, usize)]) -> (Excerpt, Vec<Mark>) {
        let marks: Vec<Mark> = marks
            .iter()
            .map(|&(start, end)| Mark {
                text: None,
                start,
                end,
                primary: true,
            })
            .collect();
        Excerpt::build(
            "f".into(),
            FileId::new(0),
            std::sync::Arc::new(text.to_string()),
            &marks,
            &mut LineIndex::default(),
        )
    }

    #[test]
    fn long_lines_keep_a_window_around_the_label() {
        let line = format!("{}TARGET{}", "a".repeat(70_000), "b".repeat(70_000));
        let text = format!("first\n{line}\nlast\n");
        let start = 6 + 70_000;
        let (excerpt, marks) = build(&text, &[(start, start + 6)]);
        assert!(excerpt.text().len() < 400, "{}", excerpt.text().len());
        assert_eq!(&excerpt.text()[marks[0].start..marks[0].end], "TARGET");
        assert!(excerpt.text().starts_with("first\n…a"));
        assert!(excerpt.text().ends_with("b…\nlast\n"));
        let contents = excerpt
            .read_span(&(marks[0].start, 6).into(), 0, 0)
            .unwrap();
        assert_eq!((contents.line(), contents.column()), (1, 70_000));
    }

    #[test]
    fn any_span_is_clamped() {
        let text = "é\nab";
        for (start, end) in [(1, 1), (9, 3), (3, 1), (0, 99), (usize::MAX, usize::MAX)] {
            let (excerpt, marks) = build(text, &[(start, end)]);
            assert!(marks[0].start <= marks[0].end && marks[0].end <= excerpt.text().len());
            assert!(excerpt.text().is_char_boundary(marks[0].start));
        }
    }
}
