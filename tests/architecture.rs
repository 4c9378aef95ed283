//! Issue 19: the stages import only downward.
//!
//! Every file under `src/` is tokenized (comments, strings and character literals skipped),
//! and every `crate::…` and `super::…` path is resolved to the top-level module of `src/` it
//! names. The test fails on any import cycle between top-level modules (printing it, with
//! the file and line of each import on it), on any import that goes up or sideways in the
//! layering below, and when the layering differs from the one `DESIGN.md` documents.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules of `src/`, bottom layer first: a module may import only modules of
/// layers before its own. Mirrors the "Layers" line of DESIGN.md's first page.
const LAYERS: &[&[&str]] = &[
    &["limits", "settings", "ip", "escape", "hashing"],
    &["span"],
    &["load"],
    &["diagnostic", "kinds"],
    &["kustomize"],
    &["model"],
    &["config", "graph", "certs", "fix"],
    &["rules"],
    &["gate"],
    &["analysis"],
    &["report", "autofix"],
    &["commands"],
    &["cli"],
];

/// The crate root (`src/lib.rs`): declares the modules and re-exports the library's
/// entry points; nothing imports it.
const ROOT: &str = "crate";

// ---------------------------------------------------------------------------------------
// A tokenizer good enough for paths: identifiers, `::` and single punctuation; comments,
// string, byte-string, raw-string and character literals are skipped; lifetimes are not
// mistaken for character literals.

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Punct(char),
}

fn tokenize(text: &str) -> Vec<(Token, usize)> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| chars.get(i).copied().unwrap_or('\0');
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && at(i + 1) == '/' {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_string(&chars, i + 1, &mut line);
        } else if c == '\'' {
            // 'x', '\n', '\u{..}' are characters; 'a (no closing quote next) a lifetime.
            if at(i + 1) == '\\' {
                i += 3; // the quote, the backslash and the escaped character
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(i + 2) == '\'' {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let raw = matches!(word.as_str(), "r" | "br" | "cr");
            if raw && (at(i) == '"' || at(i) == '#') {
                let mut hashes = 0;
                while at(i + hashes) == '#' {
                    hashes += 1;
                }
                if at(i + hashes) == '"' {
                    i += hashes + 1;
                    loop {
                        if i >= chars.len() {
                            break;
                        }
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        if chars[i] == '"' && (1..=hashes).all(|k| at(i + k) == '#') {
                            i += hashes + 1;
                            break;
                        }
                        i += 1;
                    }
                    continue;
                }
            }
            if matches!(word.as_str(), "b" | "c") && at(i) == '"' {
                i = skip_string(&chars, i + 1, &mut line);
                continue;
            }
            if word == "b" && at(i) == '\'' {
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                continue;
            }
            tokens.push((Token::Ident(word), line));
        } else if c == ':' && at(i + 1) == ':' {
            tokens.push((Token::PathSep, line));
            i += 2;
        } else {
            tokens.push((Token::Punct(c), line));
            i += 1;
        }
    }
    tokens
}

/// Skips a (byte) string body after its opening quote; returns the index after the closing one.
fn skip_string(chars: &[char], mut i: usize, line: &mut usize) -> usize {
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return i + 1,
            c => {
                if c == '\n' {
                    *line += 1;
                }
                i += 1;
            }
        }
    }
    i
}

// ---------------------------------------------------------------------------------------
// Paths to top-level modules.

/// One import: top-level module `from` names top-level module `to` (or an item of the
/// crate root) at `file:line`.
#[derive(Debug, Clone)]
struct Import {
    from: String,
    to: String,
    file: String,
    line: usize,
}

/// The top-level modules a file's paths name. `module` is the file's module path
/// (`[]` for the crate root, `["graph", "policy"]` for `src/graph/policy.rs`); `modules`
/// the top-level modules of the crate. Paths from the crate root (`crate::x`, and in the
/// root itself `x::`) name `x` when it is a module, else an item of the root.
fn imports_of(text: &str, module: &[String], modules: &BTreeSet<String>) -> Vec<(String, usize)> {
    let tokens = tokenize(text);
    let ident = |i: usize| match tokens.get(i) {
        Some((Token::Ident(word), _)) => Some(word.as_str()),
        _ => None,
    };
    let is = |i: usize, token: &Token| tokens.get(i).is_some_and(|(t, _)| t == token);
    let mut found = Vec::new();
    // Inline modules (`mod tests { … }`) shift what `super` means: (name, brace depth).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < tokens.len() {
        let (token, line) = &tokens[i];
        match token {
            Token::Punct('{') => depth += 1,
            Token::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Token::Ident(word) if word == "mod" => {
                if let Some(name) = ident(i + 1)
                    && is(i + 2, &Token::Punct('{'))
                {
                    inline.push((name.to_string(), depth));
                }
            }
            _ => {}
        }
        let starts_path = i == 0 || !is(i - 1, &Token::PathSep);
        if starts_path && is(i + 1, &Token::PathSep) {
            let here: Vec<String> = module
                .iter()
                .cloned()
                .chain(inline.iter().map(|(name, _)| name.clone()))
                .collect();
            let mut base: Option<Vec<String>> = None;
            let mut next = i;
            match ident(i) {
                Some("crate") => {
                    base = Some(Vec::new());
                    next = i + 2;
                }
                Some("super") => {
                    let mut path = here.clone();
                    let mut j = i;
                    while ident(j) == Some("super") && is(j + 1, &Token::PathSep) {
                        path.pop();
                        j += 2;
                    }
                    base = Some(path);
                    next = j;
                }
                Some(name) if here.is_empty() && modules.contains(name) => {
                    base = Some(Vec::new());
                    next = i;
                }
                _ => {}
            }
            if let Some(base) = base {
                if let Some(top) = base.first() {
                    found.push((top.clone(), *line));
                } else {
                    for first in first_segments(&tokens, next) {
                        let to = if modules.contains(&first) {
                            first
                        } else {
                            ROOT.to_string()
                        };
                        found.push((to, *line));
                    }
                }
            }
        }
        i += 1;
    }
    found
}

/// The first segment of each path a `use` tree starting at token `i` names: `x` for `x::…`,
/// `a`, `b` for `{a::…, b}` (nested groups included), nothing for `*` or `self`.
fn first_segments(tokens: &[(Token, usize)], i: usize) -> Vec<String> {
    match tokens.get(i) {
        Some((Token::Ident(word), _)) if word != "self" => vec![word.clone()],
        Some((Token::Punct('{'), _)) => {
            let mut out = Vec::new();
            let mut depth = 0;
            let mut expect_item = true;
            for (token, _) in &tokens[i..] {
                match token {
                    Token::Punct('{') => {
                        depth += 1;
                        expect_item = depth == 1;
                    }
                    Token::Punct('}') => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    Token::Punct(',') if depth == 1 => expect_item = true,
                    Token::Ident(word) if expect_item && depth == 1 => {
                        if word != "self" {
                            out.push(word.clone());
                        }
                        expect_item = false;
                    }
                    _ => {
                        if depth == 1 {
                            expect_item = false;
                        }
                    }
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level modules of `src/` and every import of the library crate (`src/main.rs`
/// is another crate, which uses the library by its name).
fn crate_imports() -> (BTreeSet<String>, Vec<Import>) {
    let src = src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| {
            let relative = f.strip_prefix(&src).unwrap();
            let first = relative.components().next()?.as_os_str().to_str()?;
            let name = first.strip_suffix(".rs").unwrap_or(first);
            (name != "lib" && name != "main").then(|| name.to_string())
        })
        .collect();
    let mut imports = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let mut module: Vec<String> = relative
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if module.last().is_some_and(|m| m == "mod") {
            module.pop();
        }
        if module == ["main"] {
            continue;
        }
        if module == ["lib"] {
            module.clear();
        }
        let from = module.first().cloned().unwrap_or_else(|| ROOT.to_string());
        let text = std::fs::read_to_string(file).unwrap();
        for (to, line) in imports_of(&text, &module, &modules) {
            if to != from {
                imports.push(Import {
                    from: from.clone(),
                    to,
                    file: format!("src/{}", relative.display()),
                    line,
                });
            }
        }
    }
    (modules, imports)
}

// ---------------------------------------------------------------------------------------
// Cycles.

/// The modules `start` reaches (itself only when on a cycle).
fn reachable(edges: &BTreeMap<String, BTreeSet<String>>, start: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![start.to_string()];
    while let Some(node) = stack.pop() {
        for next in edges.get(&node).into_iter().flatten() {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen
}

/// The knot (strongly connected component) of `node`: the modules it reaches that reach it.
fn knot(edges: &BTreeMap<String, BTreeSet<String>>, node: &str) -> BTreeSet<String> {
    reachable(edges, node)
        .into_iter()
        .filter(|other| reachable(edges, other).contains(node))
        .collect()
}

/// One shortest cycle per knot of more than one module (breadth-first from the knot's
/// first module, inside the knot), as its modules with the first repeated at the end.
/// Empty when the graph is acyclic. Quadratic in the modules: a few dozen.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges
        .iter()
        .flat_map(|(from, tos)| std::iter::once(from).chain(tos))
        .collect();
    let mut done: BTreeSet<String> = BTreeSet::new();
    let mut out = Vec::new();
    for node in nodes {
        if done.contains(node) {
            continue;
        }
        let members = knot(edges, node);
        if members.is_empty() {
            continue;
        }
        done.extend(members.iter().cloned());
        let mut previous: BTreeMap<&String, &String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([node]);
        'search: while let Some(at) = queue.pop_front() {
            for next in edges.get(at).into_iter().flatten() {
                if !members.contains(next) || previous.contains_key(next) {
                    continue;
                }
                previous.insert(next, at);
                if next == node {
                    break 'search;
                }
                queue.push_back(next);
            }
        }
        let mut cycle = vec![node.clone()];
        let mut at = previous[node];
        while at != node {
            cycle.push(at.clone());
            at = previous[at];
        }
        cycle[1..].reverse();
        cycle.push(node.clone());
        out.push(cycle);
    }
    out
}

fn graph_of(imports: &[Import]) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for import in imports {
        edges
            .entry(import.from.clone())
            .or_default()
            .insert(import.to.clone());
    }
    edges
}

/// Where `from` imports `to`: the first few `file:line`s.
fn witnesses(imports: &[Import], from: &str, to: &str) -> String {
    let places: Vec<String> = imports
        .iter()
        .filter(|i| i.from == from && i.to == to)
        .map(|i| format!("{}:{}", i.file, i.line))
        .collect();
    let shown = places
        .iter()
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if places.len() > 3 {
        format!("{shown}, … ({} in all)", places.len())
    } else {
        shown
    }
}

#[test]
fn no_import_cycle_between_top_level_modules() {
    let (modules, imports) = crate_imports();
    assert!(modules.len() >= 10, "{modules:?}");
    assert!(imports.len() > 100, "{} imports found", imports.len());
    let graph = graph_of(&imports);
    let found = cycles(&graph);
    let report: Vec<String> = found
        .iter()
        .map(|cycle| {
            let members: Vec<String> = knot(&graph, &cycle[0]).into_iter().collect();
            let mut text = format!(
                "{} (one cycle of the knot {{{}}})",
                cycle.join(" -> "),
                members.join(", ")
            );
            for pair in cycle.windows(2) {
                text.push_str(&format!(
                    "\n    {} -> {}: {}",
                    pair[0],
                    pair[1],
                    witnesses(&imports, &pair[0], &pair[1])
                ));
            }
            text
        })
        .collect();
    assert!(
        found.is_empty(),
        "import cycles between top-level modules of src/:\n  {}",
        report.join("\n  ")
    );
}

#[test]
fn imports_go_only_down_the_documented_layers() {
    let (modules, imports) = crate_imports();
    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(n, layer)| layer.iter().map(move |m| (*m, n)))
        .collect();
    let listed: BTreeSet<String> = layer_of.keys().map(|m| m.to_string()).collect();
    assert_eq!(
        listed, modules,
        "LAYERS (and DESIGN.md) must list every top-level module of src/, and only those"
    );
    let mut wrong = BTreeSet::new();
    for import in &imports {
        if import.from == ROOT {
            continue; // the root declares and re-exports everything
        }
        let from = layer_of[import.from.as_str()];
        let fine = layer_of
            .get(import.to.as_str())
            .is_some_and(|to| *to < from);
        if !fine {
            wrong.insert(format!(
                "{} -> {}: {}",
                import.from,
                import.to,
                witnesses(&imports, &import.from, &import.to)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that go up or sideways in the layering (or into the crate root):\n  {}",
        wrong.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}

#[test]
fn design_documents_the_same_layers() {
    let design =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("DESIGN.md")).unwrap();
    // The line `Layers, bottom up: `a` → `b`, `c` → …` of the first page.
    let line = design
        .lines()
        .find(|l| l.starts_with("Layers, bottom up:"))
        .expect("DESIGN.md has a `Layers, bottom up:` line");
    let documented: Vec<Vec<String>> = line
        .trim_start_matches("Layers, bottom up:")
        .trim_end_matches('.')
        .split('→')
        .map(|layer| {
            layer
                .split(',')
                .map(|m| m.trim().trim_matches('`').to_string())
                .collect()
        })
        .collect();
    let ours: Vec<Vec<String>> = LAYERS
        .iter()
        .map(|layer| layer.iter().map(|m| m.to_string()).collect())
        .collect();
    assert_eq!(documented, ours, "DESIGN.md's layers differ from LAYERS");
}

// ---------------------------------------------------------------------------------------
// The checker itself can fail.

fn edges(pairs: &[(&str, &str)]) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, to) in pairs {
        out.entry(from.to_string())
            .or_default()
            .insert(to.to_string());
    }
    out
}

#[test]
fn cycle_finder_finds_cycles_and_only_cycles() {
    assert!(cycles(&edges(&[("a", "b"), ("b", "c"), ("a", "c")])).is_empty());
    assert_eq!(
        cycles(&edges(&[("a", "b"), ("b", "a")])),
        vec![vec!["a", "b", "a"]]
    );
    // A longer cycle, next to an acyclic part and a second, separate cycle.
    let found = cycles(&edges(&[
        ("cli", "commands"),
        ("config", "graph"),
        ("graph", "rules"),
        ("rules", "config"),
        ("commands", "config"),
        ("x", "y"),
        ("y", "x"),
    ]));
    assert_eq!(
        found,
        vec![
            vec!["config", "graph", "rules", "config"],
            vec!["x", "y", "x"]
        ]
    );
}

#[test]
fn paths_are_found_in_code_only() {
    let modules: BTreeSet<String> = ["config", "graph", "rules", "span", "load"]
        .iter()
        .map(|m| m.to_string())
        .collect();
    let text = r####"
        //! Doc: crate::rules is mentioned, not imported.
        use crate::{config::X, graph::{self, Y}, Analysis};
        /* crate::span::Span in /* a nested */ comment */
        fn f<'a>(x: &'a str) -> char {
            let _ = "crate::load::yaml";
            let _ = r#"crate::load "quoted" "#;
            let _ = b"crate::load";
            let _ = '"';
            let _ = ['\'', '\\', '\u{22}'];
            let _ = "crate::load \" still a string";
            crate::rules::find("x");
            'x'
        }
        mod tests {
            use super::super::span::Span;
        }
    "####;
    let found: Vec<(String, usize)> =
        imports_of(text, &["graph".into(), "policy".into()], &modules);
    let names: Vec<&str> = found.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(names, ["config", "graph", "crate", "rules", "graph"]);
    // From the crate root, a module's name alone is a path to it; other names are the root's.
    let root = imports_of(
        "use load::Input; fn g() { span::f(); helper::x(); }",
        &[],
        &modules,
    );
    let names: Vec<&str> = root.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(names, ["load", "span"]);
    // In `src/graph/policy.rs`, `super::super::span` is the root's `span`; inside its
    // `mod tests` (above), it is `graph::span`.
    let deep = imports_of(
        "use super::super::span::Span;",
        &["graph".into(), "policy".into()],
        &modules,
    );
    assert_eq!(deep, [("span".to_string(), 1)]);
}

/// The library knows nothing of clap: only the CLI layer (`cli.rs`, `commands/`) names it
/// (the `ValueEnum`s of library enums live in `commands/shared.rs`).
#[test]
fn clap_only_in_the_cli_layer() {
    let src = src();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut named = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let cli_layer = relative.starts_with("cli.rs") || relative.starts_with("commands");
        let text = std::fs::read_to_string(file).unwrap();
        let uses_clap = tokenize(&text)
            .iter()
            .any(|(token, _)| matches!(token, Token::Ident(word) if word.starts_with("clap")));
        if uses_clap && !cli_layer {
            named.push(relative.display().to_string());
        }
        if relative.starts_with("cli.rs") {
            assert!(uses_clap, "the tokenizer finds clap in cli.rs");
        }
    }
    assert!(named.is_empty(), "clap outside the CLI layer: {named:?}");
}

#[test]
fn one_module_per_subcommand() {
    let dir = src().join("commands");
    for module in [
        "check",
        "certs",
        "connectivity",
        "why",
        "diff",
        "render",
        "rules",
        "init",
        "completions",
        "shared",
    ] {
        assert!(dir.join(format!("{module}.rs")).is_file(), "{module}");
    }
    let cli = std::fs::read_to_string(src().join("cli.rs")).unwrap();
    // The CLI dispatches; the work is in the commands.
    assert!(!cli.contains("fn check(") && !cli.contains("analyze("));
}
