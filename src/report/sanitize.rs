//! Text from manifests and file names is untrusted: a terminal must never see
//! its control characters (ANSI escapes could rewrite the screen or forge links,
//! bidi overrides could hide code).

use std::borrow::Cow;

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

fn is_unsafe(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t') || is_bidi_control(c)
}

/// Escapes control and bidi characters as `\u{..}`; newlines and tabs are kept.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if is_unsafe(c) {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Replaces unsafe characters of source text by visible ones of the same UTF-8
/// length, so byte offsets of spans stay valid. `\r` before `\n` is kept.
pub fn mask_source(text: &str) -> Cow<'_, str> {
    let unsafe_here = |(i, c): (usize, char)| {
        is_unsafe(c) && !(c == '\r' && text.as_bytes().get(i + 1) == Some(&b'\n'))
    };
    if !text.char_indices().any(unsafe_here) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for (i, c) in text.char_indices() {
        if unsafe_here((i, c)) {
            out.push(match c.len_utf8() {
                1 => '?',
                2 => '\u{00BF}',
                3 => '\u{FFFD}',
                _ => '\u{1F5F2}',
            });
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_byte_length() {
        let text = "a: \u{1b}[2J\u{9b}x\u{202e}y\r\nb\rc";
        let masked = mask_source(text);
        assert_eq!(masked.len(), text.len());
        assert_eq!(masked, "a: ?[2J\u{bf}x\u{fffd}y\r\nb?c");
    }

    #[test]
    fn escaping_makes_controls_visible() {
        assert_eq!(escape_text("x\u{1b}]8;;y"), "x\\u{1b}]8;;y");
        assert_eq!(escape_text("line\nnext"), "line\nnext");
    }
}
