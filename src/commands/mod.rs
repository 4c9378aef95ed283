//! The reachability commands (`connectivity`, `why`) and the flags they share with `check`.

use crate::graph::{Cloud, GraphOptions, Semantics, XksSettings};

/// Flags that choose how the reachability graph is built.
#[derive(Debug, Clone, clap::Args)]
pub struct GraphArgs {
    /// `xks`: Kubernetes semantics plus XKS's implicit default-deny, NodeLocal DNS,
    /// `name=<namespace>` labels and platform endpoints; `vanilla`: Kubernetes only.
    #[arg(long, value_enum, default_value_t = Semantics::Xks)]
    pub semantics: Semantics,
    /// Cloud of the XKS cluster; picks the NodeLocal DNS addresses (aks: 10.0.0.10, aws: 172.20.0.10).
    #[arg(long, value_enum, default_value_t = Cloud::Aks)]
    pub cloud: Cloud,
}

impl GraphArgs {
    pub fn options(&self) -> GraphOptions {
        GraphOptions {
            semantics: self.semantics,
            xks: XksSettings::for_cloud(self.cloud),
        }
    }
}
