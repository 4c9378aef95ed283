//! Text helpers for building edits that keep the author's layout: line boundaries,
//! indentation, line endings, quoting. Pure functions on the source text; every index is
//! checked, so a span from a hostile file can at worst make a helper return `None`.

/// Whether the file's first line ends with `\r\n`.
pub fn uses_crlf(text: &str) -> bool {
    text.find('\n')
        .is_some_and(|i| i > 0 && text.as_bytes().get(i - 1) == Some(&b'\r'))
}

/// `text` with every `\n` not preceded by `\r` written `\r\n`.
pub fn to_crlf(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut previous = '\0';
    for c in text.chars() {
        if c == '\n' && previous != '\r' {
            out.push('\r');
        }
        out.push(c);
        previous = c;
    }
    out
}

/// A name for a new file: one path component, no hidden or parent name, a YAML extension.
pub fn plain_file_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && (name.ends_with(".yaml") || name.ends_with(".yml"))
}

/// Byte offset where the line holding `byte` starts.
pub fn line_start(text: &str, byte: usize) -> usize {
    let byte = byte.min(text.len());
    text.as_bytes()
        .get(..byte)
        .and_then(|before| before.iter().rposition(|&b| b == b'\n'))
        .map_or(0, |i| i + 1)
}

/// Byte offset just after the line holding `byte` (after its `\n`, or the end of text).
pub fn line_end(text: &str, byte: usize) -> usize {
    let byte = byte.min(text.len());
    text.as_bytes()
        .get(byte..)
        .and_then(|after| after.iter().position(|&b| b == b'\n'))
        .map_or(text.len(), |i| byte + i + 1)
}

/// The spaces in front of `byte` when only spaces stand between the line start and it:
/// the node at `byte` begins its line, at that indentation.
pub fn leading_indent(text: &str, byte: usize) -> Option<&str> {
    let start = line_start(text, byte);
    let before = text.get(start..byte)?;
    before.bytes().all(|b| b == b' ').then_some(before)
}

/// Whether the rest of the line after `byte` is blank or a comment.
pub fn rest_is_blank_or_comment(text: &str, byte: usize) -> bool {
    let end = line_end(text, byte);
    text.get(byte..end)
        .is_some_and(|rest| matches!(rest.trim_start().chars().next(), None | Some('#')))
}

/// The scalar `value` as a double-quoted YAML string meaning exactly `value`: JSON string
/// escapes are a subset of YAML's double-quoted escapes, and double quotes are what the
/// rule documents and the Kubernetes docs write.
pub fn quote(value: &str) -> String {
    serde_json::Value::String(value.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_indentation() {
        let text = "a:\n  b: 1\n  c: 2";
        assert_eq!(line_start(text, 6), 3);
        assert_eq!(line_end(text, 6), 10);
        assert_eq!(line_end(text, 12), text.len());
        assert_eq!(leading_indent(text, 5), Some("  "));
        assert_eq!(leading_indent(text, 8), None);
        assert!(rest_is_blank_or_comment("a: 1 # x\n", 4));
        assert!(!rest_is_blank_or_comment("a: 1, b\n", 4));
    }

    #[test]
    fn quoting_keeps_the_value() {
        assert_eq!(quote("10"), "\"10\"");
        assert_eq!(quote("it's"), "\"it's\"");
        assert_eq!(quote("a\\b"), "\"a\\\\b\"");
        assert!(uses_crlf("a\r\nb\n"));
        assert!(!uses_crlf("a\nb\r\n"));
        assert!(plain_file_name("np-allow.yaml"));
        assert!(!plain_file_name("../x.yaml") && !plain_file_name(".x.yaml"));
    }
}
