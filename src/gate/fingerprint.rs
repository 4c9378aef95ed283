//! Fingerprints: the identity of a finding across runs, shared by SARIF
//! `partialFingerprints`, GitLab's `fingerprint` and the baseline file.
//!
//! Derived from the rule, the root-relative file, the object identity and the path of the
//! node inside the object — never from line or column numbers — so inserting lines above a
//! finding or reordering files or documents leaves it unchanged. Findings without an
//! object (parse errors, unreadable files) use their message with digits masked instead,
//! because such messages may quote positions. Two findings with the same key are told apart
//! by their order of appearance.

use sha2::{Digest, Sha256};

use crate::diagnostic::Diagnostic;

/// Key of the fingerprint in SARIF `partialFingerprints`; bump the version when the
/// derivation changes, so code scanning does not match old alerts against new ones.
pub const SARIF_KEY: &str = "xksLint/v1";

fn key(diagnostic: &Diagnostic, path: &str) -> String {
    let mut key = format!("{}\u{0}{}\u{0}", diagnostic.rule, path);
    match (&diagnostic.object, &diagnostic.node_path) {
        (Some(object), Some(node_path)) => {
            key.push_str(object);
            key.push('\u{0}');
            key.push_str(node_path);
        }
        _ => key.extend(
            diagnostic
                .message
                .chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c }),
        ),
    }
    key
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Sets `fingerprint` on every diagnostic. `path_of` gives the root-relative path of a
/// diagnostic's file. The slice must be in its final deterministic order (sorted).
///
/// The keys and digests are computed on every core; only numbering the occurrences of
/// each key follows the findings' order, on one (the gate runs on the whole report, after
/// the rules, and a run of 100,000 workloads has 130,000 findings to digest). Grouping the
/// keys on every core instead (`hashing::earliest_equal`) measured no faster here.
pub fn assign<'a>(diagnostics: &mut [Diagnostic], path_of: impl Fn(&Diagnostic) -> &'a str + Sync) {
    use rayon::prelude::*;
    let keys: Vec<String> = diagnostics
        .par_iter()
        .map(|diagnostic| key(diagnostic, path_of(diagnostic)))
        .collect();
    let mut seen: crate::hashing::FastMap<&str, usize> =
        crate::hashing::FastMap::with_capacity_and_hasher(keys.len(), Default::default());
    let occurrences: Vec<usize> = keys
        .iter()
        .map(|key| {
            let count = seen.entry(key.as_str()).or_insert(0);
            *count += 1;
            *count - 1
        })
        .collect();
    drop(seen);
    diagnostics
        .par_iter_mut()
        .zip(keys.par_iter().zip(occurrences.par_iter()))
        .for_each(|(diagnostic, (key, &occurrence))| {
            // The digest of `key \0 occurrence`, fed in pieces: no copy of the key.
            let mut hasher = Sha256::new();
            hasher.update(key.as_bytes());
            hasher.update(b"\0");
            hasher.update(occurrence.to_string().as_bytes());
            let digest = hasher.finalize();
            // 128 bits are plenty to keep a repository's findings apart and keep baselines
            // short.
            diagnostic.fingerprint = Some(hex(&digest[..16]));
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Severity;
    use crate::span::{End, FileId, Location, Span, Start};

    /// Equal keys are numbered in the findings' order, each digest is that of
    /// `key \0 occurrence` (what baselines written by earlier versions hold), and a key
    /// between two equal ones does not disturb their numbering.
    #[test]
    fn equal_keys_are_numbered_in_order() {
        let finding = |message: &str, start: u32| {
            Diagnostic::new(
                "parse-error",
                Severity::Error,
                Location {
                    file: FileId::new(0),
                    span: Span {
                        start: Start { byte: start },
                        end: End { byte: start + 1 },
                    },
                },
                message,
            )
        };
        let mut list = vec![
            finding("bad 1", 0),
            finding("other", 5),
            finding("bad 2", 9),
            finding("bad 3", 20),
        ];
        assign(&mut list, |_| "dir/file.yaml");
        let expected = |message: &str, occurrence: usize| {
            let key = format!("parse-error\u{0}dir/file.yaml\u{0}{message}");
            let digest = Sha256::digest(format!("{key}\u{0}{occurrence}").as_bytes());
            hex(&digest[..16])
        };
        let got: Vec<String> = list.iter().filter_map(|d| d.fingerprint.clone()).collect();
        assert_eq!(
            got,
            [
                expected("bad #", 0),
                expected("other", 0),
                expected("bad #", 1),
                expected("bad #", 2),
            ]
        );
    }
}
