//! Rules about the Linkerd service mesh.

pub mod annotation_on_workload;

/// Annotations the Linkerd proxy injector reads from pod (or namespace) metadata.
pub fn is_linkerd_annotation(key: &str) -> bool {
    key == INJECT
        || key.starts_with("config.linkerd.io/")
        || key.starts_with("config.alpha.linkerd.io/")
}

pub const INJECT: &str = "linkerd.io/inject";
pub const INJECT_VALUES: [&str; 3] = ["enabled", "disabled", "ingress"];
