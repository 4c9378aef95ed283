//! The content-hash name suffix kustomize gives generated ConfigMaps and Secrets.
//!
//! kustomize hashes a small JSON document — `kind`, `name` (always empty, see
//! [`suffix`]), `data` (and `binaryData`
//! for a ConfigMap when it is a map; `type` and `stringData` for a Secret) — encoded
//! as Go's `encoding/json` encodes a map (keys sorted, `<`, `>`, `&`, U+2028 and
//! U+2029 escaped), takes the SHA-256 of it in lower-case hex, and keeps the first
//! ten characters with `0 1 3 a e` replaced by `g h k m t` (so that no suffix reads
//! as a number or a word).

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::load::yaml::Node;

/// The ten-character suffix of a ConfigMap or Secret; `None` for other kinds.
pub fn suffix(node: &Node) -> Option<String> {
    let kind = node.get("kind").and_then(Node::scalar_text)?;
    // kustomize looks the name up as one field literally called `metadata/name`,
    // which never exists: the name it hashes is always empty.
    let name = "";
    let field = |key: &str| match node.get(key) {
        None => Value::String(String::new()),
        Some(value) => match value.to_json() {
            // kustomize reads a missing or null field as the empty string.
            Value::Null => Value::String(String::new()),
            other => other,
        },
    };
    let mut fields: Vec<(&str, Value)> = vec![
        ("kind", Value::String(kind.to_string())),
        ("name", Value::String(name.to_string())),
        ("data", field("data")),
    ];
    let optional = match kind {
        "ConfigMap" => "binaryData",
        "Secret" => {
            fields.push(("type", field("type")));
            "stringData"
        }
        _ => return None,
    };
    if let Value::Object(map) = field(optional) {
        fields.push((optional, Value::Object(map)));
    }
    fields.sort_by(|a, b| a.0.cmp(b.0));
    let mut encoded = String::from("{");
    for (index, (key, value)) in fields.iter().enumerate() {
        if index > 0 {
            encoded.push(',');
        }
        go_string(key, &mut encoded);
        encoded.push(':');
        go_json(value, &mut encoded);
    }
    encoded.push('}');
    Some(encode(&hex(&Sha256::digest(encoded.as_bytes()))))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The first ten hex characters, with the substitutions kustomize makes.
pub fn encode(hex: &str) -> String {
    hex.chars()
        .take(10)
        .map(|c| match c {
            '0' => 'g',
            '1' => 'h',
            '3' => 'k',
            'a' => 'm',
            'e' => 't',
            other => other,
        })
        .collect()
}

/// JSON as Go's `encoding/json` writes a decoded `interface{}` value.
fn go_json(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&go_number(n)),
        Value::String(s) => go_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                go_json(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                go_string(key, out);
                out.push(':');
                go_json(item, out);
            }
            out.push('}');
        }
    }
}

/// Numbers decode to float64 in Go; integral values print without a fraction.
fn go_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    let abs = f.abs();
    if f.fract() == 0.0 && abs < 1e21 {
        format!("{f:.0}")
    } else if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let text = format!("{f:e}");
        // Go writes exponents with a sign and at least two digits: 1e-07, 1e+21.
        match text.split_once('e') {
            Some((mantissa, exp)) => {
                let (sign, digits) = exp
                    .strip_prefix('-')
                    .map_or(("+", exp), |digits| ("-", digits));
                format!("{mantissa}e{sign}{digits:0>2}")
            }
            None => text,
        }
    } else {
        f.to_string()
    }
}

fn go_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::yaml::parse_stream;

    fn suffix_of(yaml: &str) -> Option<String> {
        let stream = parse_stream(yaml);
        suffix(&stream.documents.first()?.root)
    }

    // Expected suffixes are what `kubectl kustomize` (kustomize v5.5) prints for the
    // same generated objects.
    #[test]
    fn config_map_with_literals_and_html_characters() {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  f.txt: \"hello <&>\\n\"\n  k: \"hello <&>\\n\"\n  x: \"1\"\n  \"y\": two\n  z: a=b\n";
        assert_eq!(suffix_of(yaml).as_deref(), Some("7dfdcmc6bb"));
    }

    #[test]
    fn config_map_without_data() {
        let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: empty\n";
        assert_eq!(suffix_of(yaml).as_deref(), Some("6ct58987ht"));
    }

    #[test]
    fn secret_includes_its_type() {
        let base = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  p: dw==\n";
        let tls = format!("{base}type: kubernetes.io/tls\n");
        assert_eq!(suffix_of(&tls).as_deref(), Some("gb9ktb82f2"));
        assert_ne!(suffix_of(&tls), suffix_of(&format!("{base}type: Opaque\n")));
    }

    #[test]
    fn the_name_does_not_change_the_suffix() {
        let named = |name: &str| {
            suffix_of(&format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: b\n"
            ))
        };
        assert_eq!(named("one"), named("two"));
    }

    #[test]
    fn other_kinds_have_no_suffix() {
        assert_eq!(
            suffix_of("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n"),
            None
        );
    }

    #[test]
    fn encode_substitutes_like_kustomize() {
        assert_eq!(encode("0123456789abcdef"), "gh2k456789");
        assert_eq!(encode("aeae"), "mtmt");
    }

    #[test]
    fn go_escaping() {
        let mut out = String::new();
        go_string("a<b>&\"\\\n\u{1}\u{2028}é", &mut out);
        assert_eq!(out, "\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\\u0001\\u2028é\"");
    }
}
