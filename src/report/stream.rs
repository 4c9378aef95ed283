//! Large reports written without holding them: their elements (findings, SARIF results)
//! are rendered on the rayon pool a window at a time and written in order, so memory is
//! one window whatever their number. JSON comes out as `serde_json`'s pretty printer
//! writes the whole document.

use std::io::{self, Write};

use rayon::prelude::*;
use serde::Serialize;

/// Elements serialised per window: enough to keep both cores busy, little to hold.
const WINDOW: usize = 4096;
/// Elements one task serialises.
const TASK: usize = 128;

/// Two spaces a level, as the pretty printer indents.
const SPACES: &[u8] = b"                ";

/// Writes `len` elements in order, element `index` by `element(state, index, buffer)`;
/// each task starts from a state of its own, `init()` (a cache of line starts, say).
pub fn write_in_order<W, S, I, F>(out: &mut W, len: usize, init: I, element: F) -> io::Result<()>
where
    W: Write + ?Sized,
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize, &mut Vec<u8>) -> io::Result<()> + Sync,
{
    write_in_windows(out, len, (WINDOW, TASK), init, element)
}

/// [`write_in_order`] with windows of `window` elements and tasks of `task` (tests cut
/// small ones).
fn write_in_windows<W, S, I, F>(
    out: &mut W,
    len: usize,
    (window_len, task_len): (usize, usize),
    init: I,
    element: F,
) -> io::Result<()>
where
    W: Write + ?Sized,
    I: Fn() -> S + Sync,
    F: Fn(&mut S, usize, &mut Vec<u8>) -> io::Result<()> + Sync,
{
    let (window_len, task_len) = (window_len.max(1), task_len.max(1));
    // One buffer per task, kept from window to window: buffers a worker allocated and
    // this thread freed would leave the worker taking fresh pages for every window.
    let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); window_len.div_ceil(task_len).min(len)];
    for window in (0..len).step_by(window_len) {
        let window_end = len.min(window + window_len);
        let tasks = (window_end - window).div_ceil(task_len);
        buffers[..tasks]
            .par_iter_mut()
            .enumerate()
            .try_for_each(|(task, buffer)| {
                buffer.clear();
                let mut state = init();
                let start = window + task * task_len;
                for index in start..window_end.min(start + task_len) {
                    element(&mut state, index, buffer)?;
                }
                Ok::<(), io::Error>(())
            })?;
        for buffer in &buffers[..tasks] {
            out.write_all(buffer)?;
        }
    }
    Ok(())
}

/// An array of `len` elements whose key sits `level` levels down (its elements one level
/// further), each element written by `element(index, buffer)` with [`write_pretty`].
pub fn write_array<W, F>(out: &mut W, level: usize, len: usize, element: F) -> io::Result<()>
where
    W: Write + ?Sized,
    F: Fn(usize, &mut Vec<u8>) -> io::Result<()> + Sync,
{
    if len == 0 {
        return out.write_all(b"[]");
    }
    out.write_all(b"[")?;
    write_in_order(
        out,
        len,
        || (),
        |(), index, buffer| {
            buffer.extend_from_slice(if index == 0 { b"\n" } else { b",\n" });
            write_indent(buffer, level + 1)?;
            element(index, buffer)
        },
    )?;
    out.write_all(b"\n")?;
    write_indent(out, level)?;
    out.write_all(b"]")
}

/// `value` as the pretty printer writes it `level` levels down: its own pretty form with
/// every line after the first indented `level` levels more.
pub fn write_pretty(
    out: &mut (impl Write + ?Sized),
    value: &impl Serialize,
    level: usize,
) -> io::Result<()> {
    let mut serializer = serde_json::Serializer::with_formatter(out, LevelledPretty::at(level));
    // `From` keeps the kind of a write error (a closed pipe stays `BrokenPipe`, which
    // `check` does not report as a failure).
    value.serialize(&mut serializer).map_err(io::Error::from)
}

/// The pretty printer's layout (two spaces a level, `": "` after keys, a line break
/// before each element, none in an empty array or object) starting `level` levels down.
/// Writing the indentation itself, rather than indenting the pretty printer's output
/// after it, leaves every write (a string's escaped pieces above all) going straight to
/// the buffer.
struct LevelledPretty {
    depth: usize,
    has_value: bool,
}

impl LevelledPretty {
    fn at(level: usize) -> Self {
        LevelledPretty {
            depth: level,
            has_value: false,
        }
    }

    fn new_line(&self, writer: &mut (impl Write + ?Sized), separator: &[u8]) -> io::Result<()> {
        writer.write_all(separator)?;
        write_indent(writer, self.depth)
    }

    /// Opens an array or an object (`bracket`): one level down, nothing in it yet.
    fn open(&mut self, writer: &mut (impl Write + ?Sized), bracket: &[u8]) -> io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        writer.write_all(bracket)
    }

    /// Closes an array or an object (`bracket`), on a line of its own unless empty.
    fn close(&mut self, writer: &mut (impl Write + ?Sized), bracket: &[u8]) -> io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            self.new_line(writer, b"\n")?;
        }
        writer.write_all(bracket)
    }
}

/// Two spaces for each of `level` levels, however deep.
fn write_indent(writer: &mut (impl Write + ?Sized), level: usize) -> io::Result<()> {
    let mut left = 2 * level;
    while left > 0 {
        let step = left.min(SPACES.len());
        writer.write_all(&SPACES[..step])?;
        left -= step;
    }
    Ok(())
}

impl serde_json::ser::Formatter for LevelledPretty {
    fn begin_array<W: Write + ?Sized>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"[")
    }

    fn end_array<W: Write + ?Sized>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"]")
    }

    fn begin_array_value<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.new_line(writer, if first { b"\n" } else { b",\n" })
    }

    fn end_array_value<W: Write + ?Sized>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: Write + ?Sized>(&mut self, writer: &mut W) -> io::Result<()> {
        self.open(writer, b"{")
    }

    fn end_object<W: Write + ?Sized>(&mut self, writer: &mut W) -> io::Result<()> {
        self.close(writer, b"}")
    }

    fn begin_object_key<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.new_line(writer, if first { b"\n" } else { b",\n" })
    }

    fn begin_object_value<W: Write + ?Sized>(&mut self, writer: &mut W) -> io::Result<()> {
        writer.write_all(b": ")
    }

    fn end_object_value<W: Write + ?Sized>(&mut self, _writer: &mut W) -> io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// One JSON object written straight into a buffer, byte for byte as [`write_pretty`]
/// writes a struct `level` levels down, for the elements a large report has one of per
/// finding. Going through serde there spent most of the report in `serde_json`'s escaping,
/// which looks up every byte of every string in a table; [`write_json_string`] passes
/// eight plain bytes at a time. The caller writes the fields in the order of the struct
/// `render` serialises, which the report's streamed-equals-rendered tests hold it to.
pub struct PrettyObject<'b> {
    buffer: &'b mut Vec<u8>,
    level: usize,
    empty: bool,
}

impl<'b> PrettyObject<'b> {
    pub fn open(buffer: &'b mut Vec<u8>, level: usize) -> Self {
        buffer.push(b'{');
        PrettyObject {
            buffer,
            level,
            empty: true,
        }
    }

    /// The key of the next field, and what separates it from the one before.
    fn key(&mut self, key: &str) {
        self.buffer
            .extend_from_slice(if self.empty { b"\n" } else { b",\n" });
        self.empty = false;
        push_indent(self.buffer, self.level + 1);
        write_json_string(self.buffer, key);
        self.buffer.extend_from_slice(b": ");
    }

    pub fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        write_json_string(self.buffer, value);
    }

    pub fn number(&mut self, key: &str, value: usize) {
        self.key(key);
        self.buffer
            .extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
    }

    /// A field holding an object, written by `fields`.
    pub fn object(&mut self, key: &str, fields: impl FnOnce(&mut PrettyObject<'_>)) {
        self.key(key);
        let mut inner = PrettyObject::open(self.buffer, self.level + 1);
        fields(&mut inner);
        inner.close();
    }

    /// A field holding an array of `items`, each written by `element` one level further
    /// down (`[]` when there is none).
    pub fn array<T>(
        &mut self,
        key: &str,
        items: impl IntoIterator<Item = T>,
        mut element: impl FnMut(&mut Vec<u8>, usize, T),
    ) {
        self.key(key);
        self.buffer.push(b'[');
        let mut empty = true;
        for item in items {
            self.buffer
                .extend_from_slice(if empty { b"\n" } else { b",\n" });
            empty = false;
            push_indent(self.buffer, self.level + 2);
            element(self.buffer, self.level + 2, item);
        }
        if !empty {
            self.buffer.push(b'\n');
            push_indent(self.buffer, self.level + 1);
        }
        self.buffer.push(b']');
    }

    pub fn close(self) {
        if !self.empty {
            self.buffer.push(b'\n');
            push_indent(self.buffer, self.level);
        }
        self.buffer.push(b'}');
    }
}

fn push_indent(buffer: &mut Vec<u8>, level: usize) {
    buffer.resize(buffer.len() + 2 * level, b' ');
}

/// `text` as a JSON string, escaped as `serde_json` escapes it: `"` and `\\`, the control
/// characters below U+0020 (`\n`, `\t`, `\r`, `\b`, `\f` short, the others as `\u00xx`),
/// nothing else.
pub fn write_json_string(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    // Bytes before `at` from `plain` on need no escape and are not copied yet.
    let (mut plain, mut at) = (0, 0);
    while at < bytes.len() {
        // Eight bytes at a time: past them when none needs escaping, else straight to
        // the first one that does.
        if let Some(word) = bytes
            .get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
        {
            let escaped = escaped_bytes(u64::from_le_bytes(word));
            if escaped == 0 {
                at += 8;
                continue;
            }
            at += (escaped.trailing_zeros() / 8) as usize;
        }
        let Some(&byte) = bytes.get(at) else { break };
        at += 1;
        let short = match byte {
            b'"' => b'"',
            b'\\' => b'\\',
            b'\n' => b'n',
            b'\t' => b't',
            b'\r' => b'r',
            0x08 => b'b',
            0x0c => b'f',
            0x00..=0x1f => 0,
            _ => continue,
        };
        out.extend_from_slice(&bytes[plain..at - 1]);
        plain = at;
        if short != 0 {
            out.extend_from_slice(&[b'\\', short]);
        } else {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.extend_from_slice(b"\\u00");
            out.push(HEX[usize::from(byte >> 4)]);
            out.push(HEX[usize::from(byte & 0xf)]);
        }
    }
    out.extend_from_slice(&bytes[plain..]);
    out.push(b'"');
}

/// The bytes of `word` JSON escapes (below 0x20, `"`, `\\`), as the high bit of each: the
/// classic "some byte is zero / less than n" bit tricks. Each may also flag a byte above a
/// flagged one, never below, so the lowest bit set is the first byte to escape; bytes
/// from 0x80 up are never flagged.
fn escaped_bytes(word: u64) -> u64 {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let below = |n: u8| word.wrapping_sub(ONES * u64::from(n)) & !word & HIGH;
    let zero_in = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    below(0x20)
        | zero_in(word ^ (ONES * u64::from(b'"')))
        | zero_in(word ^ (ONES * u64::from(b'\\')))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every element once, in order, whatever the cut into windows and tasks; each task
    /// starts from a fresh state.
    #[test]
    fn elements_come_out_in_order_across_windows_and_tasks() {
        for len in [0, 1, 2, 5, 7, 8, 9, 30, 64, 65] {
            for cut in [(1, 1), (3, 1), (4, 2), (7, 3), (8, 8), (100, 7)] {
                let mut out = Vec::new();
                write_in_windows(
                    &mut out,
                    len,
                    cut,
                    || 0usize,
                    |seen, index, buffer| {
                        *seen += 1;
                        assert!(*seen <= cut.1, "a task's state is its own");
                        buffer.extend_from_slice(format!("{index},").as_bytes());
                        Ok(())
                    },
                )
                .unwrap();
                let expected: String = (0..len).map(|i| format!("{i},")).collect();
                assert_eq!(String::from_utf8(out).unwrap(), expected, "{len} {cut:?}");
            }
        }
    }

    /// An array comes out as the pretty printer writes it, empty or not, at any level.
    #[test]
    fn arrays_are_what_the_pretty_printer_writes() {
        #[derive(Serialize)]
        struct Item {
            name: String,
            tags: Vec<u32>,
        }
        #[derive(Serialize)]
        struct Doc {
            items: Vec<Item>,
        }
        for len in [0, 1, 3, 4_097] {
            let items: Vec<Item> = (0..len)
                .map(|i| Item {
                    name: format!("n\"{i}\n"),
                    tags: (0..(i % 3) as u32).collect(),
                })
                .collect();
            let mut out = b"{\n  \"items\": ".to_vec();
            write_array(&mut out, 1, items.len(), |i, buffer| {
                write_pretty(buffer, &items[i], 2)
            })
            .unwrap();
            out.extend_from_slice(b"\n}");
            let expected = serde_json::to_string_pretty(&Doc { items }).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{len}");
        }
    }

    /// A value written `level` levels down is its pretty form with every line after the
    /// first indented `level` levels more, for nested, empty and scalar values and levels
    /// deeper than one block of spaces.
    #[test]
    fn a_value_down_some_levels_is_its_pretty_form_indented() {
        let value = serde_json::json!({
            "empty_object": {},
            "empty_array": [],
            "text": "a \"quoted\" line\nbreak",
            "nested": [{"a": [1, [], {}], "b": {"c": null}}, [[true]], 2.5],
        });
        for value in [value, serde_json::json!([]), serde_json::json!("plain")] {
            let pretty = serde_json::to_string_pretty(&value).unwrap();
            for level in [0, 1, 2, 4, 9, 12] {
                let mut out = Vec::new();
                write_pretty(&mut out, &value, level).unwrap();
                let expected = pretty.replace('\n', &format!("\n{}", "  ".repeat(level)));
                assert_eq!(String::from_utf8(out).unwrap(), expected, "level {level}");
            }
        }
    }

    proptest::proptest! {
        /// Any text, control characters, quotes, backslashes and non-ASCII included, comes
        /// out as `serde_json` writes it.
        #[test]
        fn json_strings_are_escaped_as_serde_json_escapes_them(
            text in "(?s)[\\x00-\\x7f\"\\\\a-z\u{80}-\u{10ffff}]{0,40}"
        ) {
            let mut ours = Vec::new();
            write_json_string(&mut ours, &text);
            let theirs = serde_json::to_string(&text).unwrap_or_default();
            proptest::prop_assert_eq!(String::from_utf8_lossy(&ours).into_owned(), theirs);
        }
    }

    /// Each byte value at each position of a long text: the word test misses none.
    #[test]
    fn every_escaped_byte_is_found_at_every_offset() {
        for byte in 0u8..0x80 {
            for offset in 0..17 {
                let mut text = "abcdefghijklmnopq".to_string();
                text.insert(offset, char::from(byte));
                let mut ours = Vec::new();
                write_json_string(&mut ours, &text);
                assert_eq!(
                    String::from_utf8_lossy(&ours),
                    serde_json::to_string(&text).unwrap_or_default(),
                    "byte {byte:#04x} at {offset}"
                );
            }
        }
    }
}
