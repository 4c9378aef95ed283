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
pub const MAX_RUN_YAML_NODES: usize = 24_000_000;

/// Syntax errors (parse errors and duplicate keys) reported per file; one more finding
/// says how many were left out.
pub const MAX_ERRORS_PER_FILE: usize = 100;

/// `.xks-lint.yaml` larger than this is refused (a real one is a few kilobytes).
pub const MAX_CONFIG_SIZE: u64 = 1024 * 1024;

/// Baseline files larger than this are refused (about 200,000 accepted findings).
pub const MAX_BASELINE_SIZE: u64 = 64 * 1024 * 1024;
/// Kustomizations nested in one another (resources and components) deeper than this are
/// not followed, so a long chain cannot exhaust the stack. kustomize has no such limit,
/// but no real layout comes near it.
pub const MAX_KUSTOMIZE_DEPTH: usize = 64;

/// Kustomization directories one root may visit (a shared base counts once per
/// inclusion), so a fan-out of tiny kustomizations including each other twice stops early.
pub const MAX_KUSTOMIZE_VISITS: usize = 10_000;

/// Objects one kustomization root may render.
pub const MAX_ROOT_OBJECTS: usize = 100_000;

/// Tree nodes one kustomization root may render (about 100 bytes each in memory).
pub const MAX_ROOT_NODES: usize = 5_000_000;

/// Tree nodes all kustomization roots of a run may render together beyond the first
/// rendering of each parsed document, which shares the parsed tree (see
/// `kustomize::budget::admit`).
pub const MAX_RUN_NODES: usize = 20_000_000;

/// Compiled size of one patch-target regular expression (`regex` crate size limit).
pub const MAX_TARGET_REGEX_SIZE: usize = 256 * 1024;

/// Bytes one Flux post-build substitution may produce in one value, and in one root.
pub const MAX_SUBSTITUTED_VALUE: usize = 1024 * 1024;
pub const MAX_SUBSTITUTED_ROOT: usize = 64 * 1024 * 1024;

/// Data files read for built-in generator plugin configurations (each configuration's
/// paths under each kustomization with `generators:`): a bound on that product.
pub const MAX_PLUGIN_DATA_FILES: usize = 4096;
