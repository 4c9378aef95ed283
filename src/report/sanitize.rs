//! The one sanitising layer between repository text and any output.
//!
//! Text from manifests, file names and the config is untrusted: a terminal must never see
//! its control characters (ANSI escapes could rewrite the screen or forge links, bidi
//! overrides could hide code), and a CI runner must never see a line it would execute
//! (GitHub's runner runs `::command::` at the start of any stdout line and the legacy
//! `##[command]` anywhere in a line).
//!
//! Two levels:
//! - **Values**: [`inline`] / [`Inline`] for a value that belongs on one line (names, paths,
//!   messages, labels: a newline inside becomes the two characters `\n`), [`multiline`] for
//!   text whose own line breaks are meant (help with a YAML example). They live in
//!   [`crate::escape`], below the rules, which escape values in their messages; this module
//!   re-exports them.
//! - **Documents**: [`guard`] runs over every finished output (stdout, `--output` files,
//!   stderr) in `report::emit`, the only code allowed to write to them (clippy's
//!   `disallowed_macros`/`disallowed_methods`, see clippy.toml). It escapes whatever
//!   unsafe character is left, neutralises every line that would start a workflow command
//!   (except the GitHub reporter's own, which must be well formed) and every `##[`.
//!
//! Escape style for people: `\n`, `\r`, `\t`, and `\u{1b}` (hex code point, as Rust and
//! JavaScript write it) for any other control, bidi or line-separator character. JSON
//! outputs use JSON's own `\uXXXX` escape, so their strings still parse to the original.

use std::borrow::Cow;
use std::fmt;

use crate::escape::push_visible;
pub use crate::escape::{Inline, inline, is_unsafe, multiline};

/// Replaces unsafe characters of source text by visible ones of the same UTF-8
/// length, so byte offsets of spans stay valid. Tabs, newlines and `\r` before `\n`
/// are kept.
pub fn mask_source(text: &str) -> Cow<'_, str> {
    let unsafe_here = |(i, c): (usize, char)| {
        is_unsafe(c)
            && c != '\n'
            && c != '\t'
            && !(c == '\r' && text.as_bytes().get(i + 1) == Some(&b'\n'))
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

/// What kind of document an output is, which decides how [`guard`] escapes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Text for people (human, txt, csv, dot, mermaid, why, certs, stderr).
    Text,
    /// Text for a terminal with our colours: as [`Channel::Text`], except that SGR colour
    /// sequences (`ESC [ digits ; … m`) are kept. Repository values reach the reporter
    /// escaped, so every such sequence is the reporter's own.
    StyledText,
    /// A JSON document: unsafe characters can only be inside strings, where `\uXXXX` is
    /// their escape.
    Json,
    /// A unified diff of repository files (`check --diff`): as [`Channel::Text`], except that
    /// a `\r` ending a line is kept, so a diff of a CRLF file still applies.
    Patch,
    /// GitHub workflow commands: lines starting with `::` must be well-formed annotation
    /// commands (the reporter's own); any other is neutralised like in [`Channel::Text`].
    GithubCommands,
}

/// Workflow commands the GitHub reporter writes.
const OUR_COMMANDS: [&str; 5] = ["error", "warning", "notice", "group", "endgroup"];
/// Properties of those commands.
const OUR_PROPERTIES: [&str; 6] = ["file", "line", "endLine", "col", "endColumn", "title"];

/// Whether `line` is an annotation command as the GitHub reporter writes it: a known
/// command, known properties whose values hold no raw `:` or `,`, then `::` and the data.
pub fn is_our_github_command(line: &str) -> bool {
    let Some(rest) = line.strip_prefix("::") else {
        return false;
    };
    let Some(end) = rest.find("::") else {
        return false;
    };
    let info = &rest[..end];
    let (name, properties) = match info.split_once(' ') {
        Some((name, properties)) => (name, Some(properties)),
        None => (info, None),
    };
    if !OUR_COMMANDS.contains(&name) {
        return false;
    }
    let properties_ok = properties.is_none_or(|properties| {
        properties.split(',').all(|pair| {
            pair.split_once('=').is_some_and(|(key, value)| {
                OUR_PROPERTIES.contains(&key) && !value.contains([':', '\r', '\n'])
            })
        })
    });
    properties_ok && !line.contains(['\r', '\n'])
}

/// A line the GitHub runner would take for a command of its own (`::` after leading
/// whitespace, as its parser trims).
pub fn starts_command(line: &str) -> bool {
    // Every line of every report comes here, most of them indented: the ASCII whitespace
    // is skipped by bytes, and only a line whose indentation goes on with a non-ASCII
    // character is trimmed by characters (Unicode's whitespace, as the runner's trim is).
    let indent = line
        .bytes()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .unwrap_or(line.len());
    let rest = &line[indent..];
    if rest.as_bytes().first().is_some_and(|b| !b.is_ascii()) {
        rest.trim_start().starts_with("::")
    } else {
        rest.starts_with("::")
    }
}

/// Makes a finished document safe to print: see the module documentation. Line breaks
/// (`\n`) and tabs of text documents are kept; everything else unsafe is escaped.
pub fn guard(text: &str, channel: Channel) -> Cow<'_, str> {
    // A line can only start a command if `::` is somewhere in the text: most documents
    // have none, and need no look at each line's start.
    let needs_work = has_unsafe_character(text)
        || text.contains("##[")
        || (text.contains("::") && text.split('\n').any(starts_command));
    if !needs_work {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let (line, line_cr) = match line.strip_suffix('\r') {
            Some(rest) if channel == Channel::Patch => (rest, true),
            _ => (line, false),
        };
        match channel {
            Channel::Json => {
                let mut escaped = String::with_capacity(line.len());
                for c in line.chars() {
                    if is_unsafe(c) && c != '\t' {
                        use fmt::Write;
                        let _ = write!(escaped, "\\u{:04x}", u32::from(c));
                    } else {
                        escaped.push(c);
                    }
                }
                // `##[` can only be inside a string, where `\u005b` reads back as `[`.
                out.push_str(&escaped.replace("##[", "##\\u005b"));
            }
            Channel::Text | Channel::Patch | Channel::StyledText | Channel::GithubCommands => {
                let escaped = if channel == Channel::StyledText {
                    escape_keeping_colours(line)
                } else {
                    multiline(line)
                };
                let escaped = if escaped.contains("##[") {
                    Cow::Owned(escaped.replace("##[", "##\\["))
                } else {
                    escaped
                };
                let ours = channel == Channel::GithubCommands && is_our_github_command(&escaped);
                if starts_command(&escaped) && !ours {
                    let indent = escaped.len() - escaped.trim_start().len();
                    out.push_str(&escaped[..indent]);
                    out.push('\\');
                    out.push_str(&escaped[indent..]);
                } else {
                    out.push_str(&escaped);
                }
            }
        }
        if line_cr {
            out.push('\r');
        }
    }
    Cow::Owned(out)
}

/// Whether `text` holds an unsafe character other than a line break or a tab. Every
/// report passes through here whole, so it runs over the bytes: only a control byte or a
/// non-ASCII character can be unsafe, and only those characters are decoded (messages
/// hold a few, such as `→`).
fn has_unsafe_character(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut from = 0;
    loop {
        let Some(offset) = bytes.get(from..).and_then(first_suspicious_byte) else {
            return false;
        };
        // Scanning from a character boundary, the first byte found starts a character.
        let Some(c) = text
            .get(from + offset..)
            .and_then(|rest| rest.chars().next())
        else {
            return false;
        };
        if is_unsafe(c) {
            return true;
        }
        from += offset + c.len_utf8();
    }
}

/// The offset of the first control byte other than a line break or a tab, or byte of a
/// non-ASCII character. Blocks of 64 bytes are tested without stopping early, which the
/// compiler turns into vector instructions; only a block with a hit is searched.
fn first_suspicious_byte(bytes: &[u8]) -> Option<usize> {
    let suspicious = |b: u8| (b < 0x20 && b != b'\n' && b != b'\t') || b >= 0x7f;
    let mut blocks = bytes.chunks_exact(64);
    let mut offset = 0;
    for block in blocks.by_ref() {
        if block.iter().fold(false, |hit, &b| hit | suspicious(b)) {
            return block
                .iter()
                .position(|&b| suspicious(b))
                .map(|i| offset + i);
        }
        offset += 64;
    }
    blocks
        .remainder()
        .iter()
        .position(|&b| suspicious(b))
        .map(|i| offset + i)
}

/// Length of the SGR colour sequence (`ESC [ 0-9; m`) at the start of `text`, if any.
fn sgr_len(text: &str) -> Option<usize> {
    let rest = text.strip_prefix("\u{1b}[")?;
    let params = rest
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b';')
        .count();
    (rest.as_bytes().get(params) == Some(&b'm')).then_some(2 + params + 1)
}

/// [`multiline`], except that SGR colour sequences stay as they are.
fn escape_keeping_colours(line: &str) -> Cow<'_, str> {
    if !line.contains('\u{1b}') {
        return multiline(line);
    }
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if let Some(len) = sgr_len(rest) {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        if is_unsafe(c) && c != '\n' && c != '\t' {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// Builds a line-oriented document (txt, csv, dot, mermaid, `why`, `certs`): each line's
/// text goes through [`inline`], so nothing inside a line can break it.
#[derive(Debug, Default)]
pub struct Lines {
    text: String,
}

impl Lines {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one line (its newline added here).
    pub fn line(&mut self, text: impl AsRef<str>) {
        self.text.push_str(&inline(text.as_ref()));
        self.text.push('\n');
    }

    pub fn blank(&mut self) {
        self.text.push('\n');
    }

    pub fn finish(self) -> String {
        self.text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_byte_length() {
        let text = "a: \u{1b}[2J\u{9b}x\u{202e}y\r\nb\rc\u{2028}";
        let masked = mask_source(text);
        assert_eq!(masked.len(), text.len());
        assert_eq!(masked, "a: ?[2J\u{bf}x\u{fffd}y\r\nb?c\u{fffd}");
    }

    #[test]
    fn values_escape_every_control_visibly() {
        assert_eq!(inline("x\u{1b}]8;;y"), "x\\u{1b}]8;;y");
        assert_eq!(
            inline("a\nb\tc\rd\u{7f}\u{85}"),
            "a\\nb\\tc\\rd\\u{7f}\\u{85}"
        );
        assert_eq!(multiline("line\nnext\r"), "line\nnext\\r");
        assert_eq!(format!("[{}]", Inline("\u{202e}x")), "[\\u{202e}x]");
    }

    #[test]
    fn guard_neutralises_commands_but_keeps_ours() {
        let text = "ok\n::error::forged\n  ::add-mask::x\nsee ##[set-output name=a]b\n";
        assert_eq!(
            guard(text, Channel::Text),
            "ok\n\\::error::forged\n  \\::add-mask::x\nsee ##\\[set-output name=a]b\n"
        );
        let ours = "::error file=a%3Ab.yaml,line=1,title=xks-lint r::msg :: %0A\n::add-mask::x\n";
        assert_eq!(
            guard(ours, Channel::GithubCommands),
            "::error file=a%3Ab.yaml,line=1,title=xks-lint r::msg :: %0A\n\\::add-mask::x\n"
        );
        assert_eq!(
            guard(
                "\u{1b}[31mred\u{1b}[0m \u{1b}]8;;x\u{7}",
                Channel::StyledText
            ),
            "\u{1b}[31mred\u{1b}[0m \\u{1b}]8;;x\\u{7}"
        );
        assert!(!is_our_github_command("::error file=a:b::x"));
        assert!(!is_our_github_command("::error fyle=a::x"));
        assert!(!is_our_github_command("::stop-commands::x"));
    }

    #[test]
    fn json_guard_uses_json_escapes() {
        let text = "{\"a\": \"\u{202e}\u{7f}##[x\"}\n";
        let guarded = guard(text, Channel::Json);
        assert_eq!(guarded, "{\"a\": \"\\u202e\\u007f##\\u005bx\"}\n");
        let value: serde_json::Value = serde_json::from_str(&guarded).unwrap();
        assert_eq!(value["a"], "\u{202e}\u{7f}##[x");
    }

    proptest::proptest! {
        /// The byte scan answers as decoding every character does, for text mixing ASCII,
        /// controls (C0, DEL, C1), bidi and separator characters, and harmless non-ASCII.
        #[test]
        fn the_byte_scan_finds_what_decoding_finds(
            text in "([a-z :#\\[\n\t\r\u{0}-\u{1f}\u{7f}-\u{a0}é€\u{200e}\u{202a}-\u{202e}\u{2028}\u{2029}\u{2066}-\u{2069}𝄞]){0,40}",
            padding in 0usize..200
        ) {
            // Padding moves the characters across the scan's 64-byte blocks.
            let text = format!("{}{text}", "x".repeat(padding));
            let decoded = text.chars().any(|c| is_unsafe(c) && c != '\n' && c != '\t');
            proptest::prop_assert_eq!(has_unsafe_character(&text), decoded);
        }

        /// Skipping ASCII whitespace by bytes finds a command where trimming Unicode's
        /// whitespace does.
        #[test]
        fn a_command_is_found_as_trimming_finds_it(
            line in "[ \t\n\u{b}\u{c}\r\u{1c}-\u{1f}\u{85}\u{a0}\u{2000}\u{3000}é]{0,3}(::|:a|a:)"
        ) {
            proptest::prop_assert_eq!(starts_command(&line), line.trim_start().starts_with("::"));
        }
    }
}
