//! The only writers of the process's outputs: standard output, `--output` files and
//! standard error. Every byte goes through [`sanitize::guard`], so a report, a command
//! or a message added later cannot forget it. Clippy enforces this: the library denies
//! `println!`/`eprintln!`/`std::io::stdout`/`std::io::stderr` (clippy.toml, src/lib.rs),
//! and this module is the one place allowed to use them.
#![allow(clippy::disallowed_macros, clippy::disallowed_methods)]

use std::io::{self, IsTerminal, Write};
use std::path::Path;

use super::sanitize::{self, Channel};

/// Writes a finished document to standard output.
pub fn stdout(text: &str, channel: Channel) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    stdout.write_all(sanitize::guard(text, channel).as_bytes())?;
    stdout.flush()
}

/// A document written to standard output piece by piece (`connectivity`'s listing, which
/// may run to millions of lines): each piece must end at a line break, so that guarding it
/// alone is guarding the document.
pub struct StdoutStream {
    out: io::BufWriter<io::StdoutLock<'static>>,
    channel: Channel,
}

pub fn stdout_stream(channel: Channel) -> StdoutStream {
    StdoutStream {
        out: io::BufWriter::with_capacity(1 << 16, io::stdout().lock()),
        channel,
    }
}

impl StdoutStream {
    pub fn write(&mut self, text: &str) -> io::Result<()> {
        self.out
            .write_all(sanitize::guard(text, self.channel).as_bytes())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
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
