//! YAML and JSON output of span trees (`xks-lint render`).
//!
//! The emitter writes what the model holds so that reading it back gives the same
//! values: a string that a YAML 1.1 reader would take for another type (`yes`, `10`,
//! `0777`, `null`, `~`, the empty string) is quoted, a number or boolean keeps the
//! text it was written with, and multi-line strings become literal blocks when that
//! is exact. Output is safe by construction: control characters (ESC, BEL, CR, C1),
//! bidi controls and the other characters YAML does not allow raw are written as
//! double-quoted escapes, never as themselves. Mapping keys are written in byte order,
//! as `kubectl kustomize` writes them.

use rayon::prelude::*;

use crate::load::yaml::{Node, NodeKind, Resolved, Scalar, resolve_plain};

/// Implicit keys are limited to 1024 characters by the YAML specification; longer
/// ones are written in the explicit `? key` form.
const MAX_IMPLICIT_KEY: usize = 1000;

/// Whether `c` may stand raw in output: YAML's printable set without the characters
/// a terminal or an editor would interpret (controls, bidi controls, line separators).
fn is_safe_char(c: char) -> bool {
    !(c.is_control()
        || matches!(
            c,
            '\u{200E}'
                | '\u{200F}'
                | '\u{061C}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{FEFF}'
                | '\u{FFFE}'
                | '\u{FFFF}'
        ))
}

/// Whether a string can be written as a plain scalar and read back as the same string.
fn plain_ok(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if resolve_plain(text) != Resolved::Str
        || text != text.trim()
        || text.starts_with("---")
        || text.starts_with("...")
        || text == "="
        || text == "<<"
        || text.ends_with(':')
        || text.contains(": ")
        || text.contains(" #")
        || text
            .chars()
            .any(|c| c == '\t' || c == '\n' || !is_safe_char(c))
        || forges_command(text)
    {
        return false;
    }
    let second = text.chars().nth(1);
    match first {
        // Digits, signs and dots start numbers, versions, timestamps and sexagesimals
        // in one YAML dialect or another: quoting is never wrong there.
        '0'..='9' | '+' | '.' => false,
        '-' => second.is_some_and(|c| !c.is_ascii_digit() && c != '.' && c != ' '),
        '?' | ':' => second.is_some_and(|c| c != ' '),
        ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\'' | '"' | '%'
        | '@' | '`' => false,
        _ => true,
    }
}

/// Whether text written raw could be read as a GitHub workflow command: a line starting
/// with `::` (after blanks, which the runner trims) or the legacy `##[` anywhere. Such a
/// value is double-quoted, where `[` after `##` is written `\x5B`, so the output layer's
/// guard (`report::sanitize::guard`) never has to alter the YAML.
fn forges_command(text: &str) -> bool {
    text.contains("##[")
        || text
            .split('\n')
            .any(|line| line.trim_start().starts_with("::"))
}

/// A double-quoted scalar with every unsafe character escaped.
fn push_double_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '[' if out.ends_with("##") => out.push_str("\\x5B"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{b}' => out.push_str("\\v"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            '\u{1b}' => out.push_str("\\e"),
            c if is_safe_char(c) => out.push(c),
            c if (c as u32) <= 0xFF => out.push_str(&format!("\\x{:02X}", c as u32)),
            c if (c as u32) <= 0xFFFF => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push_str(&format!("\\U{:08X}", c as u32)),
        }
    }
    out.push('"');
}

/// A literal block (`|`, `|-`) holds `text` exactly: it has a line break, starts with
/// no blank, ends with at most one line break, has no line made of blanks only (the
/// reader would take it for indentation) and only safe characters besides tabs.
fn literal_ok(text: &str) -> bool {
    let body = text.strip_suffix('\n').unwrap_or(text);
    body.contains('\n')
        && !forges_command(body)
        && !body.starts_with([' ', '\t', '\n'])
        && !body.ends_with('\n')
        && body
            .split('\n')
            .all(|line| line.is_empty() || !line.trim_matches([' ', '\t']).is_empty())
        && body
            .chars()
            .all(|c| c == '\n' || c == '\t' || is_safe_char(c))
}

/// How a value scalar is written; `indent` is where block content starts.
fn push_scalar(out: &mut String, scalar: Scalar<'_>, indent: usize, allow_block: bool) {
    let text = scalar.value.as_str();
    match scalar.resolve() {
        Resolved::Str => {
            if plain_ok(text) {
                out.push_str(text);
            } else if allow_block && literal_ok(text) {
                let body = text.strip_suffix('\n');
                out.push_str(if body.is_some() { "|" } else { "|-" });
                for line in body.unwrap_or(text).split('\n') {
                    out.push('\n');
                    if !line.is_empty() {
                        push_indent(out, indent);
                        out.push_str(line);
                    }
                }
            } else {
                push_double_quoted(out, text);
            }
        }
        Resolved::Null => out.push_str("null"),
        resolved => {
            // Numbers and booleans keep the text they were written with when it reads
            // back the same; a tag-typed value (`!!int "10"`) gets its plain spelling.
            let same_text = !text.is_empty()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-' | b'_'))
                && same_resolution(&resolve_plain(text), &resolved);
            if same_text {
                out.push_str(text);
            } else {
                match resolved {
                    Resolved::Bool(b) => out.push_str(if b { "true" } else { "false" }),
                    Resolved::Int(i) => out.push_str(&i.to_string()),
                    Resolved::Float(f) if f.is_nan() => out.push_str(".nan"),
                    Resolved::Float(f) if f.is_infinite() => {
                        out.push_str(if f > 0.0 { ".inf" } else { "-.inf" });
                    }
                    Resolved::Float(f) => out.push_str(&format!("{f:?}")),
                    Resolved::Null | Resolved::Str => out.push_str("null"),
                }
            }
        }
    }
}

fn same_resolution(a: &Resolved, b: &Resolved) -> bool {
    match (a, b) {
        (Resolved::Float(x), Resolved::Float(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => a == b,
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// The text of a mapping key (never a block scalar).
fn key_text(key: Scalar<'_>) -> String {
    let mut text = String::new();
    push_scalar(&mut text, key, 0, false);
    text
}

/// Mapping entries; the first line's indentation is already written when `inline`.
fn push_entries(out: &mut String, entries: &[(Node, Node)], indent: usize, mut inline: bool) {
    // Keys in byte order, as `kubectl kustomize` prints them, so both outputs diff well.
    let mut sorted: Vec<&(Node, Node)> = entries.iter().collect();
    sorted.sort_by(|(a, _), (b, _)| a.scalar_text().cmp(&b.scalar_text()));
    for (key, value) in sorted {
        // Non-scalar keys cannot be Kubernetes fields; the model skips them too.
        let Some(key) = key.as_scalar() else {
            continue;
        };
        if !inline {
            push_indent(out, indent);
        }
        inline = false;
        let key = key_text(key);
        if key.chars().count() > MAX_IMPLICIT_KEY {
            out.push_str("? ");
            out.push_str(&key);
            out.push('\n');
            push_indent(out, indent);
        } else {
            out.push_str(&key);
        }
        out.push(':');
        push_after_key(out, value, indent);
    }
}

fn push_after_key(out: &mut String, value: &Node, indent: usize) {
    match &value.kind {
        NodeKind::Scalar {
            value: text,
            style,
            tag,
            ..
        } => {
            out.push(' ');
            push_scalar(out, Scalar::of(text, style, tag), indent + 2, true);
            out.push('\n');
        }
        NodeKind::Map(entries, _) if has_scalar_key(entries) => {
            out.push('\n');
            push_entries(out, entries, indent + 2, false);
        }
        NodeKind::Map(_, _) => out.push_str(" {}\n"),
        NodeKind::Seq(items, _) if items.is_empty() => out.push_str(" []\n"),
        NodeKind::Seq(items, _) => {
            out.push('\n');
            push_items(out, items, indent, false);
        }
    }
}

fn has_scalar_key(entries: &[(Node, Node)]) -> bool {
    entries
        .iter()
        .any(|(k, _)| matches!(k.kind, NodeKind::Scalar { .. }))
}

/// Sequence items (`- ` at `indent`); the first line's indentation is already written
/// when `inline`.
fn push_items(out: &mut String, items: &[Node], indent: usize, inline: bool) {
    for (index, item) in items.iter().enumerate() {
        if index > 0 || !inline {
            push_indent(out, indent);
        }
        out.push('-');
        match &item.kind {
            NodeKind::Scalar {
                value, style, tag, ..
            } => {
                out.push(' ');
                push_scalar(out, Scalar::of(value, style, tag), indent + 2, true);
                out.push('\n');
            }
            NodeKind::Map(entries, _) if has_scalar_key(entries) => {
                out.push(' ');
                push_entries(out, entries, indent + 2, true);
            }
            NodeKind::Map(_, _) => out.push_str(" {}\n"),
            NodeKind::Seq(inner, _) if inner.is_empty() => out.push_str(" []\n"),
            NodeKind::Seq(inner, _) => {
                out.push(' ');
                push_items(out, inner, indent + 2, true);
            }
        }
    }
}

/// One YAML document (without a `---` line) holding `node`.
pub fn yaml_document(node: &Node) -> String {
    let mut out = String::new();
    match &node.kind {
        NodeKind::Map(entries, _) if has_scalar_key(entries) => {
            push_entries(&mut out, entries, 0, false);
        }
        NodeKind::Map(_, _) => out.push_str("{}\n"),
        NodeKind::Seq(items, _) if items.is_empty() => out.push_str("[]\n"),
        NodeKind::Seq(items, _) => push_items(&mut out, items, 0, false),
        NodeKind::Scalar {
            value, style, tag, ..
        } => {
            push_scalar(&mut out, Scalar::of(value, style, tag), 2, false);
            out.push('\n');
        }
    }
    out
}

/// A YAML stream of `nodes`, documents separated by `---` lines, written to `out` a
/// document at a time (`render` of a large repository is hundreds of megabytes, never
/// held whole).
pub fn write_yaml_stream<'a>(
    nodes: impl IntoIterator<Item = &'a Node>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let nodes: Vec<&Node> = nodes.into_iter().collect();
    let mut first = true;
    for batch in nodes.chunks(RENDER_BATCH) {
        let documents: Vec<String> = batch.par_iter().map(|node| yaml_document(node)).collect();
        for document in documents {
            if !first {
                out.write_all(b"---\n")?;
            }
            first = false;
            out.write_all(document.as_bytes())?;
        }
    }
    Ok(())
}

/// Documents rendered at once on every core, then written in order: memory holds a batch,
/// never the stream.
const RENDER_BATCH: usize = 1024;

/// A `v1` `List` holding `nodes`, as pretty JSON whose strings escape every unsafe
/// character (serde_json leaves DEL, C1 and bidi controls raw).
pub fn json_list<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> String {
    super::written_text(|out| write_json_list(nodes, out))
}

/// [`json_list`], written to `out` an item at a time: the list is serde_json's pretty form
/// of the whole, but only one item is ever a `serde_json::Value` (the whole list as values
/// took 8.8 GB at 100,000 workloads). The list's own lines come from serde_json too (an
/// empty list, cut at its `[]`), so its key order is serde_json's whatever its features.
pub fn write_json_list<'a>(
    nodes: impl IntoIterator<Item = &'a Node>,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    let empty = serde_json::json!({
        "apiVersion": "v1",
        "kind": "List",
        "items": [],
    });
    let frame = serde_json::to_string_pretty(&empty).map_err(std::io::Error::other)?;
    let (head, tail) = frame
        .split_once("\"items\": []")
        .ok_or_else(|| std::io::Error::other("serde_json wrote an empty list otherwise"))?;
    out.write_all(head.as_bytes())?;
    out.write_all(b"\"items\": [")?;
    let nodes: Vec<&Node> = nodes.into_iter().collect();
    let mut any = false;
    for batch in nodes.chunks(RENDER_BATCH) {
        let items: Vec<std::io::Result<String>> =
            batch.par_iter().map(|node| json_item(node)).collect();
        for item in items {
            out.write_all(if any { b",\n" } else { b"\n" })?;
            any = true;
            out.write_all(item?.as_bytes())?;
        }
    }
    if any {
        out.write_all(b"\n  ")?;
    }
    out.write_all(b"]")?;
    out.write_all(escape_unsafe(tail).as_bytes())?;
    out.write_all(b"\n")
}

/// One item of the list: pretty JSON two levels in (every line indented by four spaces;
/// JSON strings hold no raw line break, so each one in the text is between two tokens),
/// unsafe characters escaped.
fn json_item(node: &Node) -> std::io::Result<String> {
    let item = serde_json::to_string_pretty(&node.to_json()).map_err(std::io::Error::other)?;
    let mut indented = String::with_capacity(item.len() + item.len() / 8);
    for (index, line) in item.split('\n').enumerate() {
        if index > 0 {
            indented.push('\n');
        }
        indented.push_str("    ");
        indented.push_str(line);
    }
    Ok(escape_unsafe(&indented).into_owned())
}

/// JSON text with every character that is not safe written as `\uXXXX` escapes. Outside
/// strings JSON has only ASCII punctuation, so an unsafe character is always inside a
/// string, where the escape means the same character.
fn escape_unsafe(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(|c| c == '\n' || is_safe_char(c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if c == '\n' || is_safe_char(c) {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_stream;
    use proptest::prelude::*;

    fn parse(text: &str) -> Node {
        let stream = parse_stream(text);
        assert!(stream.errors.is_empty(), "{text:?}: {:?}", stream.errors);
        assert_eq!(stream.documents.len(), 1, "{text:?}");
        stream.documents[0].root.clone()
    }

    fn round_trip(text: &str) -> (Node, String) {
        let node = parse(text);
        let emitted = yaml_document(&node);
        let again = parse(&emitted);
        assert!(
            node.same_value(&again),
            "{text:?} became {emitted:?}: {:?} vs {:?}",
            node.to_json(),
            again.to_json()
        );
        (node, emitted)
    }

    #[test]
    fn values_that_forge_workflow_commands_need_no_guard() {
        let (_, out) = round_trip(
            "a: \"x\\n::error::forged\\n  ::add-mask::m\\nend\"\n\"::k\": \"##[set-output name=a]b\"\nc: ##[x\n",
        );
        let guarded = crate::report::sanitize::guard(&out, crate::report::sanitize::Channel::Text);
        assert_eq!(guarded, out);
        assert!(out.contains("##\\x5B"), "{out}");
    }

    #[test]
    fn strings_that_read_as_other_types_are_quoted() {
        let (_, out) = round_trip(
            "a: 'yes'\nb: '10'\nc: '0777'\nd: 'null'\ne: '~'\nf: ''\ng: 'on'\nh: '1e3'\ni: '<<'\nj: '- x'\n",
        );
        for quoted in [
            "\"yes\"", "\"10\"", "\"0777\"", "\"null\"", "\"~\"", "\"\"", "\"on\"",
        ] {
            assert!(out.contains(quoted), "{quoted} in {out}");
        }
    }

    #[test]
    fn numbers_and_booleans_keep_their_spelling() {
        let (_, out) = round_trip("a: 0777\nb: yes\nc: 1.50\nd: ~\ne: !!str 10\nf: !!int \"12\"\n");
        assert_eq!(out, "a: 0777\nb: yes\nc: 1.50\nd: null\ne: \"10\"\nf: 12\n");
    }

    #[test]
    fn plain_strings_stay_plain() {
        let (_, out) =
            round_trip("args:\n- --port=80\n- -v\n- http://x:80/a\n- a b\nimage: nginx:1.25\n");
        assert_eq!(
            out,
            "args:\n- --port=80\n- -v\n- http://x:80/a\n- a b\nimage: nginx:1.25\n"
        );
        let (_, out) = round_trip("b: 1\na:\n  z: 2\n  y: 3\n");
        assert_eq!(out, "a:\n  y: 3\n  z: 2\nb: 1\n", "keys in byte order");
    }

    #[test]
    fn multi_line_strings_are_literal_blocks_when_exact() {
        let (_, out) =
            round_trip("a: |\n  line one\n\n  # not a comment\n  ---\nb: |-\n  x\n  y\n");
        assert_eq!(
            out,
            "a: |\n  line one\n\n  # not a comment\n  ---\nb: |-\n  x\n  y\n"
        );
        // Leading blanks, trailing blank lines and blank-only lines are double-quoted.
        round_trip("a: \"  x\\ny\"\nb: \"x\\n\\n\\n\"\nc: \"x\\n  \\ny\"\n");
    }

    #[test]
    fn control_and_bidi_characters_are_escaped_never_raw() {
        let text =
            "a: \"\\e[2J\\a\\r\\x85\\u202Ex\\u2066\\x7F\"\nb: \"multi\\nline\\e\"\n\"k\\e\": 1\n";
        let (_, out) = round_trip(text);
        assert!(out.chars().all(|c| c == '\n' || is_safe_char(c)), "{out:?}");
        assert!(
            out.contains("\\e[2J\\a\\r\\x85\\u202Ex\\u2066\\x7F"),
            "{out}"
        );
    }

    #[test]
    fn nesting_and_empty_collections() {
        let (_, out) = round_trip(
            "spec:\n  containers:\n  - name: a\n    ports:\n    - 80\n    - - x\n      - y\n  empty: {}\n  none: []\n  list:\n  - {}\n  - []\n",
        );
        assert!(
            out.contains("  containers:\n  - name: a\n    ports:\n    - 80\n"),
            "{out}"
        );
    }

    #[test]
    fn very_long_keys_use_the_explicit_form() {
        let key = "k".repeat(2000);
        let (_, out) = round_trip(&format!("? {key}\n: v\nlist:\n- ? {key}\n  : w\n"));
        assert!(out.starts_with("? "), "{out}");
    }

    #[test]
    fn the_streamed_json_list_is_serde_json_pretty_form_of_the_whole() {
        // The list is written an item at a time; it must read as serde_json's pretty
        // printing of the whole list would (then unsafe characters escaped), empty or not.
        let documents = [
            "a: 1\nb: [x, {c: d}]\n",
            "kind: ConfigMap\ndata: {k: \"line\\nbreak\", e: \"\\e\"}\nempty: {}\nlist: []\n",
            "- 1\n- nested: [[]]\n",
            "plain scalar\n",
        ];
        let nodes: Vec<Node> = documents.iter().map(|d| parse(d)).collect();
        for count in 0..=nodes.len() {
            let items: Vec<serde_json::Value> = nodes[..count].iter().map(Node::to_json).collect();
            let whole = serde_json::to_string_pretty(&serde_json::json!({
                "apiVersion": "v1",
                "kind": "List",
                "items": items,
            }))
            .unwrap();
            let want = format!("{}\n", escape_unsafe(&whole));
            assert_eq!(json_list(&nodes[..count]), want, "{count} items");
        }
    }

    #[test]
    fn json_escapes_unsafe_characters() {
        let node = parse("a: \"\\x85\\u202E\\x7F\\e\"\n");
        let out = json_list([&node]);
        assert!(out.chars().all(|c| c == '\n' || is_safe_char(c)), "{out:?}");
        let back: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(back["items"][0]["a"], "\u{85}\u{202e}\u{7f}\u{1b}");
    }

    fn any_scalar() -> impl Strategy<Value = String> {
        prop_oneof![
            "[ -~]{0,12}",
            "[a-z0-9:#\\-. '\"]{0,8}",
            proptest::collection::vec(any::<char>(), 0..8)
                .prop_map(|chars| chars.into_iter().collect::<String>()),
            "[a-z \\n\\t]{0,16}",
        ]
    }

    proptest! {
        #[test]
        fn any_string_round_trips(key in any_scalar(), value in any_scalar(), item in any_scalar()) {
            let mut out = String::new();
            out.push_str("k: ");
            push_double_quoted(&mut out, &value);
            out.push('\n');
            push_double_quoted(&mut out, &key);
            out.push_str(":\n- ");
            push_double_quoted(&mut out, &item);
            out.push_str("\n- x\n");
            let stream = parse_stream(&out);
            // Inputs the parser refuses (e.g. keys it cannot read) are not the emitter's
            // concern; everything it reads must come back unchanged.
            if stream.errors.is_empty() && stream.documents.len() == 1 {
                let node = &stream.documents[0].root;
                let emitted = yaml_document(node);
                prop_assert!(emitted.chars().all(|c| c == '\n' || c == '\t' || is_safe_char(c)), "{:?}", emitted);
                let again = parse_stream(&emitted);
                prop_assert!(again.errors.is_empty(), "{:?} -> {:?}: {:?}", out, emitted, again.errors);
                prop_assert!(node.same_value(&again.documents[0].root), "{:?} -> {:?}", out, emitted);
            }
        }
    }
}
