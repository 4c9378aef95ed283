//! Building the edits of a fix: the helpers rules use to write edits that keep the
//! author's layout ([`text`], and [`block`] for block-style YAML), and the line-ending
//! adaptation `analyze` runs once over every finding ([`adapt`]), so SARIF and `--fix` see
//! the same edits. Below the rules; applying fixes is `crate::fix`, above the analysis.

pub mod block;
pub mod text;

use crate::diagnostic::Diagnostic;
use crate::load::Sources;

/// Rules write replacement newlines as `\n`; in a file whose lines end with `\r\n`, every
/// lone `\n` of a replacement becomes `\r\n`, so the file keeps one line-ending style.
/// Run once by `analyze`, so SARIF and `--fix` see the same edits.
pub fn adapt(diagnostics: &mut [Diagnostic], sources: &Sources) {
    for fix in diagnostics.iter_mut().filter_map(|d| d.fix.as_mut()) {
        for edit in &mut fix.edits {
            let crlf = sources
                .get(edit.file)
                .is_some_and(|source| text::uses_crlf(&source.text));
            if crlf {
                edit.replacement = text::to_crlf(&edit.replacement);
            }
        }
    }
}
