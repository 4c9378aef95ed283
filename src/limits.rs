//! Every resource limit in one place. Inputs beyond them are reported, never
//! allowed to exhaust memory, stack or time. Documented in README ("Limits").

/// Files larger than this are not read (`file-too-large` note); `--max-file-size` changes it.
/// Kubernetes stores objects of at most ~1.5 MB, so real manifest files stay far below.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Nodes one YAML document may expand to, aliases included (alias bombs hit this first).
pub const MAX_EXPANDED_NODES: usize = 1_000_000;

/// Nesting depth of one YAML document, so walks over the tree stay bounded.
pub const MAX_DEPTH: usize = 256;

/// Nodes one file may hold, aliases expanded: many documents each just under the
/// per-document limit stop here.
pub const MAX_FILE_NODES: usize = 4_000_000;

/// Nodes all files of one run may hold together, aliases expanded (about 100 bytes each).
pub const MAX_RUN_NODES: usize = 24_000_000;

/// Syntax errors (parse errors and duplicate keys) reported per file; one more finding
/// says how many were left out.
pub const MAX_ERRORS_PER_FILE: usize = 100;
