//! xks-lint: static network-policy analysis and linting of Kubernetes manifests
//! under XKS (Xenit Kubernetes Service) semantics.
//!
//! Pipeline, each stage its own module, data flowing one way:
//! [`load`] (walk, parse with spans) → [`kustomize`] → [`model`] (typed objects) →
//! [`graph`] (reachability) / [`certs`] → [`rules`] → [`gate`] → [`report`]; [`analysis`]
//! wires them ([`analyze`]), the CLI ([`cli`], [`commands`]) sits on top. Modules import
//! only the layers below their own (DESIGN.md, tests/architecture.rs); this root only
//! declares them and re-exports the library's entry points.

// All output goes through `report::emit`, which sanitises it (clippy.toml).
#![deny(clippy::disallowed_macros, clippy::disallowed_methods)]

pub mod analysis;
pub mod autofix;
pub mod certs;
pub mod cli;
pub mod commands;
pub mod config;
pub mod diagnostic;
pub mod escape;
pub mod fix;
pub mod gate;
pub mod graph;
pub mod hashing;
pub mod ip;
pub mod kinds;
pub mod kustomize;
pub mod limits;
pub mod load;
pub mod model;
pub mod report;
pub mod rules;
pub mod settings;
pub mod span;

pub use analysis::{Analysis, CheckOptions, Summary, Timings, analyze};
pub use gate::sort_diagnostics;
