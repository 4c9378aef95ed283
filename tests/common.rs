//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::Path;

use xks_lint::load::Input;
use xks_lint::{Analysis, CheckOptions, analyze};

pub fn analyze_paths(paths: &[&Path]) -> Analysis {
    analyze(&options_for(paths))
}

pub fn options_for(paths: &[&Path]) -> CheckOptions {
    CheckOptions {
        inputs: paths.iter().map(|p| Input::Path(p.to_path_buf())).collect(),
        ..CheckOptions::default()
    }
}

/// Every finding with its full location, label, help and related locations: what snapshots pin down.
pub fn describe(analysis: &Analysis) -> String {
    let mut out = String::new();
    for d in &analysis.diagnostics {
        let start = analysis.sources.start(d.location);
        let end = analysis.sources.end(d.location);
        out.push_str(&format!(
            "{}:{}:{}-{}:{} {}[{}] {}\n",
            analysis.sources.display(d.location.file),
            start.line,
            start.col,
            end.line,
            end.col,
            d.severity.as_str(),
            d.rule,
            d.message
        ));
        if let Some(label) = &d.label {
            out.push_str(&format!("  label: {label}\n"));
        }
        if let Some(help) = d.help_text() {
            out.push_str(&format!("  help: {}\n", help.replace('\n', "\n        ")));
        }
        for r in &d.related {
            let rs = analysis.sources.start(r.location);
            out.push_str(&format!(
                "  related: {}:{}:{} {}\n",
                analysis.sources.display(r.location.file),
                rs.line,
                rs.col,
                r.message
            ));
        }
    }
    out
}

/// Characters no output may carry raw (issue 14): C0/C1 controls, DEL, bidi embedding,
/// override, isolate and mark characters, line and paragraph separators. Defined here
/// independently of the library's own list.
pub fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

/// Checks one output (stdout, stderr or a file) against the output-injection invariants:
/// no forbidden character raw (line ends and tabs aside, and our SGR colours in
/// `Kind::Styled`), no legacy `##[` command, no line starting
/// with `::` except escaped annotations in `Kind::Github`, JSON that parses.
/// What an output is, for [`check_output`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Text,
    /// Human output with `--color always`: SGR colour sequences are ours.
    Styled,
    Json,
    Github,
    /// `check --diff`: a `\r` may end a line (a CRLF file's diff).
    Patch,
}

pub fn check_output(what: &str, bytes: &[u8], kind: Kind) {
    let text = String::from_utf8_lossy(bytes);
    let mut rest: &str = &text;
    // Unsafe characters: none raw, except line ends, tabs, and our colours.
    while let Some(c) = rest.chars().next() {
        if kind == Kind::Styled
            && let Some(after) = rest.strip_prefix("\u{1b}[")
        {
            let params = after
                .bytes()
                .take_while(|b| b.is_ascii_digit() || *b == b';')
                .count();
            if after.as_bytes().get(params) == Some(&b'm') {
                rest = &after[params + 1..];
                continue;
            }
        }
        let line_cr = kind == Kind::Patch && c == '\r' && rest[1..].starts_with('\n');
        assert!(
            !forbidden(c) || c == '\n' || c == '\t' || line_cr,
            "{what}: raw {:?} in\n{text}",
            c
        );
        rest = &rest[c.len_utf8()..];
    }
    assert!(!text.contains("##["), "{what}: legacy command in\n{text}");
    for line in text.lines() {
        if !line.trim_start().starts_with("::") {
            continue;
        }
        assert_eq!(kind, Kind::Github, "{what}: command line {line:?}");
        assert_github_annotation(what, line);
    }
    if kind == Kind::Json && !text.trim().is_empty() {
        serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("{what}: invalid JSON ({e}):\n{text}"));
    }
}

/// A line of the github format that starts with `::` must be an annotation whose
/// properties and data are escaped as the runner requires.
fn assert_github_annotation(what: &str, line: &str) {
    let rest = line.strip_prefix("::").unwrap();
    let (info, data) = rest
        .split_once("::")
        .unwrap_or_else(|| panic!("{what}: malformed {line:?}"));
    let (name, properties) = info.split_once(' ').unwrap_or((info, ""));
    assert!(
        ["error", "warning", "notice"].contains(&name),
        "{what}: command {name:?} in {line:?}"
    );
    for pair in properties.split(',').filter(|p| !p.is_empty()) {
        let (key, value) = pair
            .split_once('=')
            .unwrap_or_else(|| panic!("{what}: property {pair:?} in {line:?}"));
        assert!(
            ["file", "line", "endLine", "col", "endColumn", "title"].contains(&key),
            "{what}: key {key:?}"
        );
        assert!(!value.contains(':'), "{what}: raw ':' in {key}={value:?}");
        assert_percent_escaped(what, value);
    }
    assert!(!data.contains('\r'), "{what}: raw CR in data");
    assert_percent_escaped(what, data);
}

/// Every `%` starts one of the runner's escapes.
fn assert_percent_escaped(what: &str, text: &str) {
    for (i, _) in text.match_indices('%') {
        let escape = text.get(i..i + 3).unwrap_or_default();
        assert!(
            ["%25", "%0D", "%0A", "%3A", "%2C"].contains(&escape),
            "{what}: unescaped % at {i} in {text:?}"
        );
    }
}

/// No line starts with the guard's mark of a neutralised command (`\::`): when no value
/// starts a line, that mark means a value's line break split a line, which the reporters'
/// own escaping must prevent (the guard is only the backstop).
pub fn assert_lines_intact(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("\\::"),
            "{what}: a value broke a line: {line:?}"
        );
    }
}

/// The cells of a Markdown table row, split at `|` not escaped by a backslash.
pub fn markdown_cells(row: &str) -> Vec<String> {
    let mut cells = vec![String::new()];
    let mut escaped = false;
    for c in row.chars() {
        match c {
            '|' if !escaped => cells.push(String::new()),
            _ => {
                if let Some(cell) = cells.last_mut() {
                    cell.push(c);
                }
            }
        }
        escaped = c == '\\' && !escaped;
    }
    cells
}

/// Copies the directory `from` into `to`, subdirectories included.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
