//! Escaping of untrusted values (names, paths, labels from the repository) for messages:
//! the values level of `report::sanitize`, which re-exports it. It sits below the rules,
//! which escape the values they put in their messages; the document level (`guard`, run
//! over every output) stays in `report::sanitize`.
//!
//! Escape style for people: `\n`, `\r`, `\t`, and `\u{1b}` (hex code point, as Rust and
//! JavaScript write it) for any other control, bidi or line-separator character.

use std::borrow::Cow;
use std::fmt;

fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// A character that must never reach an output raw: C0 and C1 controls (tab and newline
/// included: callers decide where they are legitimate), DEL, bidi controls, and the
/// Unicode line and paragraph separators.
pub fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Appends `c` in its visible escape: `\n`, `\r`, `\t`, else `\u{hex}`.
pub fn push_visible(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        _ => {
            use fmt::Write;
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        }
    }
}

fn escape_where(text: &str, escape: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escape(c) {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// A value shown on one line: every unsafe character, newline and tab included, escaped.
pub fn inline(text: &str) -> Cow<'_, str> {
    escape_where(text, is_unsafe)
}

/// Text whose newlines and tabs are its own (help with a YAML example): everything else
/// unsafe escaped, a lone `\r` included.
pub fn multiline(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| is_unsafe(c) && c != '\n' && c != '\t')
}

/// `Display` of a value through [`inline`], for `format!` arguments.
#[derive(Debug, Clone, Copy)]
pub struct Inline<'a>(pub &'a str);

impl fmt::Display for Inline<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&inline(self.0))
    }
}
