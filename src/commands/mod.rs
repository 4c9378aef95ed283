//! The subcommands, one module each (`check`, `certs`, `connectivity`, `diff`, `render`,
//! `rules`, `why`, `init`, `completions`), over the shared argument groups, exit codes,
//! loaders and helpers of [`shared`]. Nothing here imports the CLI definition (`cli.rs`), which
//! sits on top and dispatches.

pub mod certs;
pub mod check;
pub mod completions;
pub mod connectivity;
pub mod diff;
pub mod init;
pub mod render;
pub mod revision;
pub mod rules;
pub mod shared;
pub mod why;

pub use shared::{GraphArgs, InputArgs};
