//! Every resource limit in one place. Inputs beyond them are reported, never
//! allowed to exhaust memory, stack or time. Documented in README ("Limits").

/// Files larger than this are not read (`file-too-large` note); `--max-file-size` changes it.
/// Kubernetes stores objects of at most ~1.5 MB, so real manifest files stay far below.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Nodes one YAML document may expand to, aliases included (alias bombs hit this first).
pub const MAX_EXPANDED_NODES: usize = 1_000_000;

/// Nesting depth of one YAML document, so walks over the tree stay bounded.
pub const MAX_DEPTH: usize = 256;

/// `.xks-lint.yaml` larger than this is refused (a real one is a few kilobytes).
pub const MAX_CONFIG_SIZE: u64 = 1024 * 1024;

/// Baseline files larger than this are refused (about 200,000 accepted findings).
pub const MAX_BASELINE_SIZE: u64 = 64 * 1024 * 1024;
