//! Large JSON documents written as `serde_json`'s pretty printer writes them, without
//! holding them: the elements of their one long array are serialised on the rayon pool a
//! window at a time and written in order, so memory is one window whatever their number.

use std::io::{self, Write};

use rayon::prelude::*;
use serde::Serialize;

/// Elements serialised per window: enough to keep both cores busy, little to hold.
const WINDOW: usize = 4096;
/// Elements one task serialises.
const TASK: usize = 128;

/// Two spaces a level, as the pretty printer indents.
const SPACES: &[u8] = b"                ";

fn indent(level: usize) -> &'static [u8] {
    &SPACES[..(2 * level).min(SPACES.len())]
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
    // One buffer per task, kept from window to window: buffers a worker allocated and
    // this thread freed would leave the worker taking fresh pages for every window.
    let mut buffers: Vec<Vec<u8>> = vec![Vec::new(); WINDOW.div_ceil(TASK)];
    for window in (0..len).step_by(WINDOW) {
        let window_end = len.min(window + WINDOW);
        let tasks = (window_end - window).div_ceil(TASK);
        buffers[..tasks]
            .par_iter_mut()
            .enumerate()
            .try_for_each(|(task, buffer)| {
                buffer.clear();
                let start = window + task * TASK;
                for index in start..window_end.min(start + TASK) {
                    buffer.extend_from_slice(if index == 0 { b"\n" } else { b",\n" });
                    buffer.extend_from_slice(indent(level + 1));
                    element(index, buffer)?;
                }
                Ok::<(), io::Error>(())
            })?;
        for buffer in &buffers[..tasks] {
            out.write_all(buffer)?;
        }
    }
    out.write_all(b"\n")?;
    out.write_all(indent(level))?;
    out.write_all(b"]")
}

/// `value` as the pretty printer writes it `level` levels down: its own pretty form with
/// every line after the first indented (JSON strings never hold a raw line break, so every
/// `\n` is between tokens).
pub fn write_pretty(
    out: &mut (impl Write + ?Sized),
    value: &impl Serialize,
    level: usize,
) -> io::Result<()> {
    let mut indented = Indented {
        out,
        indent: indent(level),
    };
    serde_json::to_writer_pretty(&mut indented, value).map_err(io::Error::other)
}

/// A writer that indents every line after the first by `indent`.
struct Indented<'a, W: ?Sized> {
    out: &'a mut W,
    indent: &'static [u8],
}

impl<W: Write + ?Sized> Write for Indented<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut lines = buf.split(|b| *b == b'\n');
        if let Some(first) = lines.next() {
            self.out.write_all(first)?;
        }
        for line in lines {
            self.out.write_all(b"\n")?;
            self.out.write_all(self.indent)?;
            self.out.write_all(line)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
