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
}
