//! Rules about xks-lint's own annotations and comments in the manifests.

pub mod unused_suppression;
