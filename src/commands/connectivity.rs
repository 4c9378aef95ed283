//! `xks-lint connectivity`: the allowed connections of the graph, streamed in the chosen
//! format (`--group namespace` summarises per namespace pair).

use std::collections::BTreeMap;

use super::shared::{self, GraphArgs, InputArgs, build, write_stdout};
use crate::graph::End;
use crate::graph::listing::ConnectionFilter;
use crate::report::connectivity::{self, ConnectivityFormat, Renderer};
use crate::report::emit;

#[derive(Debug, clap::Args)]
pub struct ConnectivityArgs {
    /// Files or directories to read (default `.`); `-` reads standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    #[arg(long, value_enum, default_value_t = ConnectivityFormat::Txt)]
    pub format: ConnectivityFormat,
    /// `namespace`: one line per pair of namespaces, with the union of their connections
    /// (addresses reached from, or reaching, a namespace are one end).
    #[arg(long, value_enum, value_name = "BY")]
    pub group: Option<GroupBy>,
    /// Leave out XKS's intra-namespace default: the all-connections lines between two
    /// workloads of a tenant namespace whose `default-deny` is the implicit one.
    #[arg(long)]
    pub hide_default: bool,
    /// Only connections whose source or destination is in this namespace (repeatable).
    #[arg(long, value_name = "NAME")]
    pub namespace: Vec<String>,
    /// Only connections from this namespace, workload (`namespace/name`, optionally
    /// `[Kind]`), platform endpoint, or address (repeatable).
    #[arg(long, value_name = "END")]
    pub from: Vec<String>,
    /// Only connections to this namespace, workload, platform endpoint or address (repeatable).
    #[arg(long, value_name = "END")]
    pub to: Vec<String>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub graph: GraphArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupBy {
    Namespace,
}

pub fn run(args: ConnectivityArgs) -> u8 {
    let graph = match build(&args.paths, &args.input, &args.graph) {
        Ok((_, _, graph)) => graph,
        Err(code) => return code,
    };
    let filter = ConnectionFilter {
        namespaces: args.namespace.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        hide_default: args.hide_default,
    };
    if args.group == Some(GroupBy::Namespace) {
        return write_stdout(
            &connectivity::render(args.format, &graph.namespace_summary(&filter)),
            connectivity::channel(args.format),
        );
    }
    // Streamed: memory follows one source's row, not the number of lines. Dot and Mermaid
    // declare their nodes first, so they walk the listing twice.
    let mut ends: BTreeMap<String, End> = BTreeMap::new();
    if Renderer::needs_ends(args.format) {
        graph.for_each_connection(&filter, |c| {
            for end in [&c.src, &c.dst] {
                if !ends.contains_key(&end.label) {
                    ends.insert(end.label.clone(), End::clone(end));
                }
            }
            true
        });
    }
    let mut renderer = Renderer::new(args.format, ends.values());
    let mut out = emit::stdout_stream(connectivity::channel(args.format));
    let mut result = out.write(&renderer.preamble());
    graph.for_each_connection(&filter, |c| {
        result = out.write(&renderer.line(&c));
        result.is_ok()
    });
    if result.is_ok() {
        result = out.write(&renderer.finish()).and_then(|()| out.finish());
    }
    shared::written(result)
}
