//! Automatic fixes (`check --fix`, `--unsafe-fixes`, `--diff`).
//!
//! Rules attach a [`Fix`](crate::diagnostic::Fix) to a finding: byte-range replacements on
//! the text the loader read, plus new files. Those edits are the single description of a
//! repair: SARIF `fixes` print them, the `autofix` loop applies them. This module holds what both
//! need: line-ending adaptation ([`adapt`]), the choice of non-overlapping edits per pass
//! ([`plan`]) and their application ([`apply`]); [`text`] has the helpers rules use to
//! build edits that keep the author's indentation.

pub mod block;
pub mod create;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};

use crate::diagnostic::{Applicability, Diagnostic, Edit, NewFile};
use crate::load::Sources;
use crate::span::FileId;

/// Rules write replacement newlines as `\n`; in a file whose lines end with `\r\n`, every
/// lone `\n` of a replacement becomes `\r\n`, so the file keeps one line-ending style, and
/// a new file takes the line endings of the file it is written beside.
/// Run once by `analyze`, so SARIF and `--fix` see the same edits.
pub fn adapt(diagnostics: &mut [Diagnostic], sources: &Sources) {
    use rayon::prelude::*;
    // On every core: a large repository has tens of thousands of fixes.
    diagnostics.par_iter_mut().for_each(|diagnostic| {
        let Some(fix) = diagnostic.fix.as_mut() else {
            return;
        };
        for new in &mut fix.new_files {
            let crlf = sources
                .get(new.beside)
                .is_some_and(|source| text::uses_crlf(&source.text));
            if crlf {
                new.text = text::to_crlf(&new.text);
            }
        }
        for edit in &mut fix.edits {
            let crlf = sources
                .get(edit.file)
                .is_some_and(|source| text::uses_crlf(&source.text));
            if crlf {
                edit.replacement = text::to_crlf(&edit.replacement);
            }
        }
    });
}

/// The edits of one pass: per file, sorted and pairwise disjoint.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan {
    pub edits: BTreeMap<FileId, Vec<Edit>>,
    pub new_files: Vec<NewFile>,
    /// Fixes taken in this pass.
    pub taken: usize,
    /// Fixes left for a later pass because they overlap one taken.
    pub deferred: usize,
    /// Fixes never applicable: an edit outside its file's text or splitting a character.
    pub invalid: usize,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty() && self.new_files.is_empty()
    }
}

/// Whether two edits of one file cannot both be applied in one pass: their ranges share a
/// byte, or both start at the same offset (two insertions there have no defined order).
pub fn conflict(a: &Edit, b: &Edit) -> bool {
    a.file == b.file
        && a != b
        && ((a.span.start.byte < b.span.end.byte && b.span.start.byte < a.span.end.byte)
            || a.span.start.byte == b.span.start.byte)
}

fn valid(edit: &Edit, sources: &Sources) -> bool {
    let Some(source) = sources.get(edit.file) else {
        return false;
    };
    let (start, end) = (edit.span.start.byte as usize, edit.span.end.byte as usize);
    start <= end
        && end <= source.text.len()
        && source.text.is_char_boundary(start)
        && source.text.is_char_boundary(end)
}

/// Chooses the fixes of one pass, in the findings' order (path, line, column, rule): a fix
/// is taken whole or not at all; one whose edits overlap an edit already taken waits for
/// the next pass, when the file has been analysed again. Identical edits (one base file
/// rendered by several overlays) are applied once, and so are identical new files (the
/// shared Certificate every finding of a group carries); a different file of the same
/// name in the same directory waits.
pub fn plan(diagnostics: &[Diagnostic], sources: &Sources, unsafe_fixes: bool) -> Plan {
    plan_with(diagnostics, sources, unsafe_fixes, |_| false)
}

/// [`plan`], leaving out every fix that would create a file `exists` says is there (on disk,
/// or created by an earlier pass): its other edits (a kustomization entry) would repeat.
pub fn plan_with(
    diagnostics: &[Diagnostic],
    sources: &Sources,
    unsafe_fixes: bool,
    exists: impl Fn(&NewFile) -> bool,
) -> Plan {
    let mut plan = Plan::default();
    let mut taken: BTreeSet<Edit> = BTreeSet::new();
    // (directory, name) → text of the files created this pass.
    let mut files: BTreeMap<(Option<std::path::PathBuf>, String), String> = BTreeMap::new();
    let key = |file: &NewFile| {
        (
            sources.get(file.beside).and_then(|s| {
                crate::load::normalize(&s.path)
                    .parent()
                    .map(|d| d.to_path_buf())
            }),
            file.name.clone(),
        )
    };
    for fix in diagnostics.iter().filter_map(|d| d.fix.as_ref()) {
        if fix.applicability == Applicability::Unsafe && !unsafe_fixes {
            continue;
        }
        if (fix.edits.is_empty() && fix.new_files.is_empty()) || fix.new_files.iter().any(&exists) {
            continue;
        }
        let names_ok = fix.new_files.iter().all(|f| text::plain_file_name(&f.name));
        if !names_ok || !fix.edits.iter().all(|e| valid(e, sources)) {
            plan.invalid += 1;
            continue;
        }
        let fresh: Vec<&Edit> = fix.edits.iter().filter(|e| !taken.contains(e)).collect();
        let clashes = fresh.iter().enumerate().any(|(i, edit)| {
            taken.iter().any(|t| conflict(t, edit))
                || fresh.iter().skip(i + 1).any(|other| conflict(edit, other))
        }) || fix
            .new_files
            .iter()
            .any(|f| files.get(&key(f)).is_some_and(|text| *text != f.text));
        if clashes {
            plan.deferred += 1;
            continue;
        }
        taken.extend(fresh.into_iter().cloned());
        for file in &fix.new_files {
            if files.insert(key(file), file.text.clone()).is_none() {
                plan.new_files.push(file.clone());
            }
        }
        plan.taken += 1;
    }
    for edit in taken {
        plan.edits.entry(edit.file).or_default().push(edit);
    }
    for edits in plan.edits.values_mut() {
        edits.sort_by_key(|e| (e.span.start.byte, e.span.end.byte));
    }
    plan
}

/// `text` with `edits` (sorted, disjoint, inside `text`, as [`plan`] makes them) applied;
/// every byte outside the edited ranges is copied as it was.
pub fn apply(text: &str, edits: &[Edit]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0usize;
    for edit in edits {
        let (start, end) = (edit.span.start.byte as usize, edit.span.end.byte as usize);
        if start < at {
            continue;
        }
        out.push_str(text.get(at..start).unwrap_or(""));
        out.push_str(&edit.replacement);
        at = end;
    }
    out.push_str(text.get(at..).unwrap_or(""));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::{Pos, Span};

    fn edit(start: u32, end: u32, replacement: &str) -> Edit {
        let pos = |byte| Pos {
            byte,
            line: 1,
            col: byte + 1,
        };
        Edit {
            file: FileId::new(0),
            span: Span {
                start: pos(start).into(),
                end: pos(end).into(),
            },
            replacement: replacement.to_string(),
        }
    }

    #[test]
    fn apply_keeps_bytes_outside_edits() {
        let text = "a: 1\r\nb: 2 # c\r\n";
        let out = apply(text, &[edit(3, 4, "\"1\""), edit(9, 10, "\"2\"")]);
        assert_eq!(out, "a: \"1\"\r\nb: \"2\" # c\r\n");
    }

    #[test]
    fn overlapping_and_same_point_edits_conflict() {
        assert!(conflict(&edit(0, 4, "x"), &edit(3, 5, "y")));
        assert!(conflict(&edit(2, 2, "x"), &edit(2, 2, "y")));
        assert!(!conflict(&edit(0, 2, "x"), &edit(2, 4, "y")));
        assert!(!conflict(&edit(0, 2, "x"), &edit(0, 2, "x")));
    }

    #[test]
    fn crlf_replacements() {
        assert_eq!(text::to_crlf("a\nb\r\nc"), "a\r\nb\r\nc");
    }
}
