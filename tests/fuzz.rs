//! Mutation fuzzing on stable Rust: fixture and corpus manifests are mutated
//! (byte flips, truncation, indentation changes, key/value swaps, YAML sigils)
//! and run through the whole pipeline and every reporter. Deterministic: a fixed
//! seed, `XKS_LINT_FUZZ_ITERATIONS` (default 400) and `XKS_LINT_FUZZ_SEED` to go further.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use xks_lint::load::Input;
use xks_lint::report::{Format, RenderOptions, render};
use xks_lint::{CheckOptions, analyze};

/// xorshift64*: tiny, deterministic, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn seeds() -> Vec<Vec<u8>> {
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> =
        vec![PathBuf::from("fixtures"), PathBuf::from("../shared/corpus")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml")
                && let Ok(bytes) = std::fs::read(&path)
                && bytes.len() < 64 * 1024
            {
                files.push(bytes);
            }
        }
    }
    files.sort();
    files
}

const SIGILS: [&str; 14] = [
    "&a ", "*a", "{", "}", "[", "]", "!!str ", "<<: ", "---\n", "...\n", "? ", "|", "\"", "'",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut bytes = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(7) {
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len());
                bytes[i] ^= 1 << rng.below(8);
            }
            1 => bytes.truncate(at),
            2 => {
                let sigil = SIGILS[rng.below(SIGILS.len())].as_bytes();
                bytes.splice(at..at, sigil.iter().copied());
            }
            3 => {
                // Indent or dedent the line holding `at`.
                let start = bytes[..at]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1);
                if rng.below(2) == 0 {
                    bytes.splice(start..start, [b' ', b' ']);
                } else if bytes.get(start) == Some(&b' ') {
                    bytes.remove(start);
                }
            }
            4 => {
                // Swap key and value on a `key: value` line.
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
                if !lines.is_empty() {
                    let i = rng.below(lines.len());
                    if let Some((key, value)) = lines[i].clone().split_once(": ") {
                        let indent = key.len() - key.trim_start().len();
                        lines[i] = format!("{}{}: {}", &key[..indent], value.trim(), key.trim());
                    }
                }
                bytes = lines.join("\n").into_bytes();
            }
            5 => {
                // Duplicate a line (duplicate keys, repeated list items).
                let text = String::from_utf8_lossy(&bytes).into_owned();
                let mut lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let i = rng.below(lines.len());
                    lines.insert(i, lines[i]);
                }
                bytes = lines.join("\n").into_bytes();
            }
            _ => {
                let junk = [0u8, 0xff, b'\t', b'\r', 0x1b, 0xc3];
                bytes.insert(at.min(bytes.len()), junk[rng.below(junk.len())]);
            }
        }
    }
    bytes
}

fn check_one(name: &str, bytes: Vec<u8>) {
    let options = CheckOptions {
        inputs: vec![Input::Memory {
            name: name.to_string(),
            bytes: Arc::from(bytes),
        }],
        ..CheckOptions::default()
    };
    let analysis = analyze(&options);
    let summary = analysis.summary();
    assert_eq!(summary.files_found, 1);
    assert_eq!(summary.files_read + summary.files_skipped, 1);
    for diagnostic in &analysis.diagnostics {
        let span = diagnostic.location.span;
        let start = analysis.sources.start(diagnostic.location);
        assert!(start.line >= 1 && start.col >= 1, "{name}: {diagnostic:?}");
        assert!(span.start.byte <= span.end.byte, "{name}");
        let text = &analysis.sources.files[diagnostic.location.file.index()].text;
        assert!(
            span.end.byte as usize <= text.len(),
            "{name}: span past the end: {diagnostic:?}"
        );
    }
    for format in [
        Format::Human,
        Format::Json,
        Format::Sarif,
        Format::Github,
        Format::Gitlab,
    ] {
        let rendered = render(
            format,
            &analysis,
            &RenderOptions {
                color: false,
                summary: true,
                ..RenderOptions::default()
            },
        );
        assert!(!rendered.is_empty());
    }
}

#[test]
fn mutated_manifests_never_crash_the_pipeline() {
    let seeds = seeds();
    assert!(seeds.len() > 20, "expected fixtures to mutate");
    let iterations: usize = std::env::var("XKS_LINT_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400);
    let seed: u64 = std::env::var("XKS_LINT_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_cafe);
    let mut rng = Rng(seed | 1);
    for iteration in 0..iterations {
        let original = &seeds[rng.below(seeds.len())];
        let mutated = mutate(&mut rng, original);
        let name = format!("fuzz-{iteration}.yaml");
        let result = std::panic::catch_unwind(|| check_one(&name, mutated.clone()));
        if result.is_err() {
            let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join(&name);
            let _ = std::fs::write(&keep, &mutated);
            panic!(
                "iteration {iteration} (seed {seed}) crashed; input kept at {}",
                keep.display()
            );
        }
    }
}
