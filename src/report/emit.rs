//! The only writers of the process's outputs: standard output, `--output` files and
//! standard error. Every byte goes through [`sanitize::guard`], so a report, a command
//! or a message added later cannot forget it. Clippy enforces this: the library denies
//! `println!`/`eprintln!`/`std::io::stdout`/`std::io::stderr` (clippy.toml, src/lib.rs),
//! and this module is the one place allowed to use them.
#![allow(clippy::disallowed_macros, clippy::disallowed_methods)]

use std::borrow::Cow;
use std::io::{self, IsTerminal, Write};
use std::path::Path;

use super::sanitize::{self, Channel};

/// Writes a finished document to standard output.
pub fn stdout(text: &str, channel: Channel) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(sanitize::guard(text, channel).as_bytes())?;
    stdout.flush()
}

/// A document written piece by piece to any writer (a report too large to hold twice in
/// memory): bytes wait until a line break, and every run of whole lines is guarded alone,
/// which is guarding the document: guarding never joins or splits lines. `finish` writes
/// the last line.
pub struct Guarded<W: Write> {
    out: W,
    pending: Vec<u8>,
    channel: Channel,
}

impl<W: Write> Guarded<W> {
    pub fn new(out: W, channel: Channel) -> Self {
        Guarded {
            out,
            pending: Vec::new(),
            channel,
        }
    }

    /// Guards and writes the first `end` bytes of `pending`, which end at a line break. A
    /// large batch is cut at line breaks and its pieces guarded on the rayon pool, then
    /// written in order: guarding whole lines alone is guarding them together.
    fn emit(&mut self, end: usize) -> io::Result<()> {
        use rayon::prelude::*;
        let Guarded {
            out,
            pending,
            channel,
        } = self;
        let pieces = line_pieces(&pending[..end], GUARD_PIECE);
        // `None`: the piece is valid UTF-8 and safe already (nearly always), written as is.
        let guarded: Vec<Option<String>> = pieces
            .par_iter()
            .map(|piece| {
                // `from_utf8` validates whole words of ASCII at a time, where the lossy
                // decoding walks byte by byte; that decoding is only for a piece that is
                // not UTF-8.
                let text = match std::str::from_utf8(piece) {
                    Ok(text) => Cow::Borrowed(text),
                    Err(_) => String::from_utf8_lossy(piece),
                };
                match (sanitize::guard(&text, *channel), &text) {
                    (Cow::Borrowed(_), Cow::Borrowed(_)) => None,
                    (safe, _) => Some(safe.into_owned()),
                }
            })
            .collect();
        for (piece, guarded) in pieces.iter().zip(guarded) {
            match guarded {
                None => out.write_all(piece)?,
                Some(text) => out.write_all(text.as_bytes())?,
            }
        }
        pending.drain(..end);
        Ok(())
    }

    /// Writes what is left, flushes, and gives the writer back.
    pub fn finish(mut self) -> io::Result<W> {
        let end = self.pending.len();
        self.emit(end)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Bytes one task guards.
const GUARD_PIECE: usize = 1 << 18;

/// `batch`, which ends at a line break, cut after line breaks into pieces of about `size`.
fn line_pieces(batch: &[u8], size: usize) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let mut rest = batch;
    while rest.len() > size {
        let cut = match rest[size..].iter().position(|b| *b == b'\n') {
            Some(at) => size + at + 1,
            None => rest.len(),
        };
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    if !rest.is_empty() {
        pieces.push(rest);
    }
    pieces
}

impl<W: Write> Write for Guarded<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        // Guard in batches of whole lines (a line break never sits inside a UTF-8 sequence),
        // large enough to guard on both cores.
        if self.pending.len() >= 4 * GUARD_PIECE
            && let Some(last) = self.pending.iter().rposition(|b| *b == b'\n')
        {
            self.emit(last + 1)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Standard output as a [`Guarded`] writer.
pub fn stdout_writer(channel: Channel) -> Guarded<io::BufWriter<io::StdoutLock<'static>>> {
    Guarded::new(
        io::BufWriter::with_capacity(1 << 16, io::stdout().lock()),
        channel,
    )
}

/// A report file (`--output`) as a [`Guarded`] writer, created with the checks of
/// [`file`].
pub fn file_writer(
    path: &Path,
    root: &Path,
    channel: Channel,
) -> Result<Guarded<io::BufWriter<std::fs::File>>, String> {
    let file = crate::load::boundary::create_file(path, root)?;
    Ok(Guarded::new(
        io::BufWriter::with_capacity(1 << 16, file),
        channel,
    ))
}

/// Writes a finished document to a file (`--output`, baselines, `init`), never through
/// a link that leads out of the repository `root` (see `load::boundary::write_file`).
pub fn file(path: &Path, root: &Path, text: &str, channel: Channel) -> Result<(), String> {
    crate::load::boundary::write_file(path, root, &sanitize::guard(text, channel))
}

/// Appends a finished document to a file (`$GITHUB_STEP_SUMMARY`, which each step shares).
pub fn append(path: &Path, text: &str, channel: Channel) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    file.write_all(sanitize::guard(text, channel).as_bytes())
}

/// Writes one message to standard error, on one line: `xks-lint: {message}`.
pub fn stderr(message: &str) {
    let line = format!("xks-lint: {}\n", sanitize::inline(message));
    let mut stderr = io::stderr().lock();
    let _ = stderr.write_all(sanitize::guard(&line, Channel::Text).as_bytes());
}

/// `xks-lint: error: {message}`.
pub fn error(message: &str) {
    stderr(&format!("error: {message}"));
}

/// `xks-lint: warning: {message}`.
pub fn warning(message: &str) {
    stderr(&format!("warning: {message}"));
}

/// `xks-lint: note: {message}`.
pub fn note(message: &str) {
    stderr(&format!("note: {message}"));
}

/// Writes a multi-line document (a human summary) to standard error.
pub fn stderr_text(text: &str) {
    let mut stderr = io::stderr().lock();
    let _ = stderr.write_all(sanitize::guard(text, Channel::Text).as_bytes());
}

pub fn stdout_is_terminal() -> bool {
    io::stdout().is_terminal()
}
#[cfg(test)]
mod tests {
    use super::*;

    /// Guarding a document in batches of whole lines, whatever the sizes of the pieces
    /// written, gives the bytes of guarding it whole.
    #[test]
    fn a_guarded_stream_is_the_guarded_document() {
        let mut text = String::new();
        for i in 0..20_000 {
            match i % 5 {
                0 => text.push_str("  \"message\": \"plain line\",\n"),
                1 => text.push_str("::error::not ours\n"),
                2 => text.push_str("bell \u{7} and escape \u{1b}[31m and ##[group]\n"),
                3 => text.push_str("non-ASCII é ✓ \u{202e} bidi\n"),
                _ => text.push_str("\r\n"),
            }
        }
        text.push_str("no final line break \u{1b}");
        for channel in [Channel::Json, Channel::Text, Channel::GithubCommands] {
            let whole = sanitize::guard(&text, channel).into_owned();
            for piece in [1usize, 7, 4096, 100_000] {
                let mut out = Guarded::new(Vec::new(), channel);
                for chunk in text.as_bytes().chunks(piece) {
                    out.write_all(chunk).unwrap();
                }
                let streamed = out.finish().unwrap();
                assert!(
                    streamed == whole.as_bytes(),
                    "{channel:?}, pieces of {piece} bytes"
                );
            }
        }
    }
}
