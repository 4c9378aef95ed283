//! Generators of hostile repositories for the parser-linearity work (issue 14.5): each writes
//! one manifest of about `bytes` bytes into `dir` (plus a good file that must still be analysed),
//! so time and memory can be measured at two sizes and compared as a ratio. Shared by
//! `benches/hostile.rs`, `examples/gen-hostile.rs` and `tests/hostile_parse.rs`.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::Path;

/// A manifest that must still be analysed next to the hostile file: its policy opens port 0,
/// which `invalid-policy` reports, so a finding in `good.yaml` shows it was read.
pub const GOOD: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: good\n  namespace: good\nspec:\n  podSelector: {}\n  ingress:\n    - ports:\n        - port: 0\n";

/// Writes a hostile manifest of about the given number of bytes.
pub type Generator = fn(usize) -> String;

/// Every generator by name.
pub const GENERATORS: &[(&str, Generator)] = &[
    ("broken-docs", broken_docs),
    ("wide-map", wide_map),
    ("duplicate-keys", duplicate_keys),
    ("suppressions", suppressions),
    ("merge-aliases", merge_aliases),
    ("alias-docs", alias_docs),
    ("nested-anchors", nested_anchors),
];

pub fn generate(name: &str, bytes: usize) -> Option<String> {
    GENERATORS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, generate)| generate(bytes))
}

/// Writes `hostile.yaml` (generator `name`, about `bytes` long) and `good.yaml` into `dir`.
pub fn write(dir: &Path, name: &str, bytes: usize) -> std::io::Result<()> {
    let text = generate(name, bytes).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("no generator {name}"),
        )
    })?;
    std::fs::write(dir.join("good.yaml"), GOOD)?;
    std::fs::write(dir.join("hostile.yaml"), text)
}

/// Documents that each fail to parse (an unclosed flow sequence), in a non-ASCII file so the
/// character-to-byte table is needed: error recovery must not rescan the file per error.
pub fn broken_docs(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 64);
    let mut i = 0usize;
    while out.len() < bytes {
        let _ = write!(out, "# é {i}\nmetadata: {{name: [x{i}\n---\n");
        i += 1;
    }
    out
}

fn configmap_head(out: &mut String) {
    out.push_str(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: wide\n  namespace: good\ndata:\n",
    );
}

/// One ConfigMap whose `data` holds distinct keys only: duplicate detection must be linear.
pub fn wide_map(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 64);
    configmap_head(&mut out);
    let mut i = 0usize;
    while out.len() < bytes {
        let _ = writeln!(out, "  key{i}: v");
        i += 1;
    }
    out
}

/// Every key written twice: one duplicate-key error per pair, which the per-file cap bounds.
pub fn duplicate_keys(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 64);
    configmap_head(&mut out);
    let mut i = 0usize;
    while out.len() < bytes {
        let _ = writeln!(out, "  key{i}: a\n  key{i}: b");
        i += 1;
    }
    out
}

/// Suppression comments on every line, half of them suppressing a real finding
/// (`annotation-not-string` on an unquoted number), half suppressing nothing.
pub fn suppressions(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 64);
    out.push_str(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: suppressed\n  namespace: good\n  annotations:\n",
    );
    let mut i = 0usize;
    while out.len() < bytes {
        let rule = if i.is_multiple_of(2) {
            "annotation-not-string"
        } else {
            "no-such-rule"
        };
        let _ = writeln!(
            out,
            "    # xks-lint: ignore[{rule}] -- generated\n    a{i}: {i}"
        );
        i += 1;
    }
    out
}

/// Documents each merging one anchored mapping of 1,000 keys 450 times (`<<: [*a, *a, ...]`):
/// merging must be linear, and the per-file budget stops the expansion.
pub fn merge_aliases(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 64);
    let mut doc = String::from("base: &a\n");
    for k in 0..1000 {
        let _ = writeln!(doc, "  k{k}: v");
    }
    doc.push_str("merged:\n  <<: [");
    doc.push_str(&vec!["*a"; 450].join(", "));
    doc.push_str("]\n---\n");
    while out.len() < bytes {
        out.push_str(&doc);
    }
    out
}

/// Documents each expanding to about 900,000 nodes through aliases (just under the per-document
/// limit): only the per-file and per-run budgets stop them.
pub fn alias_docs(bytes: usize) -> String {
    let mut doc = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
    let mut previous = "a".to_string();
    for level in 0..4 {
        let name = format!("l{level}");
        let _ = writeln!(
            doc,
            "{name}: &{name} [{}]",
            vec![format!("*{previous}"); 10].join(",")
        );
        previous = name;
    }
    // Five levels hold about 123k nodes, their anchored copies as many again; six copies of
    // the top level (667k) keep the document just under the 1M limit.
    let _ = writeln!(
        doc,
        "top: [{}]\n---",
        vec![format!("*{previous}"); 6].join(",")
    );
    let mut out = String::with_capacity(bytes + doc.len());
    while out.len() < bytes {
        out.push_str(&doc);
    }
    out
}

/// Anchors nested 200 deep around a long flow sequence: each anchor keeps a copy of its
/// subtree, which must be charged to the budget rather than made for free at every level.
pub fn nested_anchors(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes + 64);
    let mut i = 0usize;
    while out.len() < bytes {
        let mut doc = String::from("a: ");
        for level in 0..200 {
            let _ = write!(doc, "&n{i}x{level} [");
        }
        doc.push_str(&vec!["x"; 100_000].join(","));
        doc.push_str(&"]".repeat(200));
        doc.push_str("\n---\n");
        out.push_str(&doc);
        i += 1;
    }
    out
}
