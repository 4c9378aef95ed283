//! `xks-lint why SRC DST`: one pair evaluated with provenance (`Graph::explain`), every
//! deciding policy rule cited with file:line.

use std::net::IpAddr;

use super::shared::{self, GraphArgs, InputArgs, build, policy_name, usage_error, write_stdout};
use crate::graph::policy::Direction;
use crate::graph::ports::{ConnSet, Protocol};
use crate::graph::{DirectionVerdict, Explanation, Graph, Subject};
use crate::load::Sources;
use crate::model::Model;
use crate::report::sanitize::Lines;

#[derive(Debug, clap::Args)]
pub struct WhyArgs {
    /// Source: `namespace/workload` (or `namespace/workload[Kind]`), an IP address, or a
    /// platform endpoint (`ingress-controller`, `envoy-gateway`, `kube-dns`, `linkerd`).
    pub src: String,
    /// Destination, written like the source.
    pub dst: String,
    /// Files or directories to read (default `.`); `-` reads standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    /// Ask about one port: `8080/TCP` (the protocol defaults to TCP), or a container port
    /// name of the destination (`http`, `dns/UDP`).
    #[arg(long, value_name = "PORT[/PROTOCOL]")]
    pub port: Option<String>,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// A `--port` argument: a number, or a container port name resolved at the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PortArg {
    Number(Protocol, u16),
    Named(String, Option<Protocol>),
}

/// Parses `8080`, `8080/TCP`, `53/udp`, `http`, `dns/UDP`.
fn parse_port(text: &str) -> Result<PortArg, String> {
    let (port, protocol) = match text.split_once('/') {
        Some((n, p)) => (
            n.trim(),
            Some(Protocol::parse(p).ok_or_else(|| {
                format!("unknown protocol in `--port {text}`: use TCP, UDP or SCTP")
            })?),
        ),
        None => (text.trim(), None),
    };
    if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() {
        let number = port
            .parse::<u16>()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| {
                format!("invalid port in `--port {text}`: use a number from 1 to 65535")
            })?;
        return Ok(PortArg::Number(protocol.unwrap_or(Protocol::Tcp), number));
    }
    if crate::model::validation::port_name_error(port).is_some() {
        return Err(format!(
            "invalid port in `--port {text}`: use a number from 1 to 65535 or a container port name"
        ));
    }
    Ok(PortArg::Named(port.to_string(), protocol))
}

/// The (protocol, number) a `--port` stands for at the destination: a name resolves
/// against the destination pod's container ports.
fn resolve_port(port: &PortArg, dst: &Resolved, graph: &Graph) -> Result<(Protocol, u16), String> {
    match port {
        PortArg::Number(protocol, number) => Ok((*protocol, *number)),
        PortArg::Named(name, protocol) => {
            let Subject::Pods(class) = dst.subject else {
                return Err(format!(
                    "`--port {name}` names a container port, but `{}` is an address: use a number",
                    dst.label
                ));
            };
            let ports = &graph.classes[class].ports;
            ports
                .iter()
                .find(|(n, p, _)| n == name && protocol.is_none_or(|want| want == *p))
                .map(|(_, p, number)| (*p, *number))
                .ok_or_else(|| {
                    let known: Vec<String> = ports
                        .iter()
                        .map(|(n, p, number)| format!("{n} ({} {number})", p.as_str()))
                        .collect();
                    format!(
                        "`{}` has no container port named `{name}`{}",
                        dst.label,
                        if known.is_empty() {
                            String::new()
                        } else {
                            format!("; its named ports: {}", known.join(", "))
                        }
                    )
                })
        }
    }
}

/// A `why` argument resolved against the graph.
struct Resolved {
    subject: Subject,
    label: String,
}

fn resolve(text: &str, model: &Model, graph: &Graph) -> Result<Resolved, String> {
    let bare = text.trim_start_matches('{').trim_end_matches('}');
    if let Some(class) = graph.endpoint_class_by_id(bare) {
        return Ok(Resolved {
            subject: Subject::Pods(class),
            label: format!("{{{bare}}}"),
        });
    }
    if let Ok(addr) = text.parse::<IpAddr>() {
        return Ok(Resolved {
            subject: Subject::Address(addr),
            label: addr.to_string(),
        });
    }
    let (path, kind) = match text.strip_suffix(']').and_then(|t| t.split_once('[')) {
        Some((path, kind)) => (path, Some(kind)),
        None => (text, None),
    };
    let Some((namespace, name)) = path.split_once('/') else {
        let endpoints: Vec<&str> = graph
            .options
            .xks
            .endpoints
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        let hint = if graph.is_xks() {
            format!(", an IP address, or one of: {}", endpoints.join(", "))
        } else {
            ", or an IP address (platform endpoints exist under --semantics xks only)".to_string()
        };
        let named: Vec<String> = model
            .workloads()
            .filter(|(o, _)| o.name == path)
            .take(3)
            .map(|(o, _)| format!("{}/{}[{}]", o.namespace, o.name, o.kind))
            .collect();
        let suggestion = if named.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", named.join(", "))
        };
        return Err(format!(
            "`{text}`: write a workload as namespace/name{hint}{suggestion}"
        ));
    };
    let matches: Vec<_> = model
        .workloads()
        .filter(|(o, _)| {
            o.namespace == namespace
                && o.name == name
                && kind.is_none_or(|k| k.trim().eq_ignore_ascii_case(&o.kind))
        })
        .map(|(o, _)| o)
        .collect();
    match matches.as_slice() {
        [] => Err(format!(
            "no workload `{name}`{} in namespace `{namespace}`{}",
            kind.map(|k| format!(" of kind `{k}`")).unwrap_or_default(),
            did_you_mean(namespace, name, model)
        )),
        [object] => match graph.class_of(object.id) {
            Some(class) => Ok(Resolved {
                subject: Subject::Pods(class),
                label: format!("{}/{}[{}]", object.namespace, object.name, object.kind),
            }),
            None => Err(format!(
                "`{text}` uses hostNetwork: NetworkPolicies do not apply to it"
            )),
        },
        several => Err(format!(
            "`{text}` is ambiguous: {}",
            several
                .iter()
                .map(|o| format!("{namespace}/{name}[{}]", o.kind))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// `; did you mean ns/a[Deployment], ns/b[Pod]?` for a workload that does not exist: the same
/// name in other namespaces first, then the closest `namespace/name`s (edit distance).
fn did_you_mean(namespace: &str, name: &str, model: &Model) -> String {
    let wanted = format!("{namespace}/{name}");
    let mut scored: Vec<(usize, String)> = model
        .workloads()
        .map(|(o, _)| {
            let label = format!("{}/{}[{}]", o.namespace, o.name, o.kind);
            let distance = if o.name == name {
                0
            } else {
                strsim::levenshtein(&wanted, &format!("{}/{}", o.namespace, o.name))
            };
            (distance, label)
        })
        .filter(|(distance, _)| *distance <= (wanted.chars().count() / 3).max(2))
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    if scored.is_empty() {
        return String::new();
    }
    let names: Vec<String> = scored.into_iter().take(3).map(|(_, l)| l).collect();
    format!("; did you mean {}?", names.join(", "))
}

/// ` at file:line:col`, or nothing for the implicit XKS policy (it has no source).
fn cite(location: Option<crate::span::Location>, sources: &Sources) -> String {
    match location {
        Some(l) => {
            let start = sources.start(l);
            format!(
                " at {}:{}:{}",
                sources.display(l.file),
                start.line,
                start.col
            )
        }
        None => String::new(),
    }
}

/// `  Deny by AdminNetworkPolicy x (priority 5) rule `name` spec.egress[0] at f:1:2: TCP 80`.
fn describe_admin(out: &mut Lines, decided: &[(usize, ConnSet)], graph: &Graph, sources: &Sources) {
    for (rule, conns) in decided {
        let r = &graph.admin.rules[*rule];
        let policy = &graph.admin.policies[r.policy];
        let name = if r.name.is_empty() {
            String::new()
        } else {
            format!(" rule `{}`", r.name)
        };
        let how = if r.fail_closed {
            " (a peer of no known field: fails closed, denies)".to_string()
        } else {
            String::new()
        };
        out.line(format!(
            "  {} by {}{name} {}{}{how}: {conns}",
            r.effective_action().as_str(),
            policy.title(),
            r.path,
            cite(r.location, sources)
        ));
    }
}

fn describe_verdict(
    out: &mut Lines,
    heading: &str,
    verdict: &DirectionVerdict,
    direction: Direction,
    graph: &Graph,
    sources: &Sources,
) {
    out.line(format!("{heading}: {}", verdict.conns));
    let tiers = &verdict.tiers;
    describe_admin(out, &tiers.admin, graph, sources);
    let admin_decided = !tiers.admin.is_empty();
    if admin_decided {
        out.line(format!(
            "  left to NetworkPolicies by the AdminNetworkPolicies: {}",
            tiers.to_policies
        ));
    }
    if !verdict.isolated {
        let what = if tiers.baseline.is_empty() && !admin_decided {
            "every connection is allowed".to_string()
        } else if tiers.baseline.is_empty() {
            "what reaches them is allowed".to_string()
        } else {
            "the BaselineAdminNetworkPolicy decides".to_string()
        };
        out.line(format!(
            "  not isolated for {}: no NetworkPolicy selecting it has policyType {}, so {what}",
            direction.as_str(),
            if direction == Direction::Ingress {
                "Ingress"
            } else {
                "Egress"
            }
        ));
        if !tiers.baseline.is_empty() {
            describe_admin(out, &tiers.baseline, graph, sources);
            out.line(format!(
                "  allowed by default (no rule decided them): {}",
                tiers.by_default
            ));
        }
        return;
    }
    for &policy in &verdict.isolating {
        out.line(format!(
            "  isolated by {}{}",
            policy_name(graph, policy),
            cite(graph.policies[policy].location, sources)
        ));
    }
    if verdict.allowing.is_empty() {
        out.line(format!(
            "  no {} rule of these policies matches the other side: {}blocked",
            direction.as_str(),
            if admin_decided {
                "what reaches them is "
            } else {
                ""
            }
        ));
    }
    for (rule, conns) in &verdict.allowing {
        let r = &graph.rules[*rule];
        out.line(format!(
            "  allowed by {} {}{}: {conns}",
            policy_name(graph, r.policy),
            r.path(),
            cite(r.location, sources)
        ));
    }
}

pub fn run(args: WhyArgs) -> u8 {
    let port = match args.port.as_deref().map(parse_port).transpose() {
        Ok(port) => port,
        Err(message) => return usage_error(&message),
    };
    let (sources, model, graph) = match build(
        &args.paths,
        &args.input,
        &args.graph,
        crate::model::Typing::Reachability,
    ) {
        Ok(built) => shared::kept_until_exit(built),
        Err(code) => return code,
    };
    let (src, dst) = match (
        resolve(&args.src, model, graph),
        resolve(&args.dst, model, graph),
    ) {
        (Ok(src), Ok(dst)) => (src, dst),
        (Err(message), _) | (_, Err(message)) => return usage_error(&message),
    };
    let resolved_port = match port
        .as_ref()
        .map(|p| resolve_port(p, &dst, graph))
        .transpose()
    {
        Ok(resolved) => resolved,
        Err(message) => return usage_error(&message),
    };
    let explanation = graph.explain(&src.subject, &dst.subject);
    let allowed = match resolved_port {
        Some((protocol, number)) => explanation.allowed.contains(protocol, number),
        None => !explanation.allowed.is_empty(),
    };
    let asked = match (&port, resolved_port) {
        (Some(PortArg::Named(name, _)), Some((protocol, number))) => {
            format!(" on {} {number} ({name})", protocol.as_str())
        }
        (_, Some((protocol, number))) => format!(" on {} {number}", protocol.as_str()),
        _ => String::new(),
    };
    let mut out = Lines::new();
    out.line(format!(
        "{} => {}{asked}: {}",
        src.label,
        dst.label,
        if allowed { "ALLOWED" } else { "BLOCKED" }
    ));
    describe_explanation(
        &mut out,
        &explanation,
        &src.label,
        &dst.label,
        graph,
        sources,
    );
    match write_stdout(&out.finish(), crate::report::sanitize::Channel::Text) {
        shared::EXIT_CLEAN if allowed => shared::EXIT_CLEAN,
        shared::EXIT_CLEAN => shared::EXIT_FINDINGS,
        code => code,
    }
}

/// The allowed connections and who decided each direction, one line each, citing every
/// policy and rule with its location (`why`, and the page's edge details).
pub(crate) fn describe_explanation(
    out: &mut Lines,
    explanation: &Explanation,
    src_label: &str,
    dst_label: &str,
    graph: &Graph,
    sources: &Sources,
) {
    out.line(format!("allowed connections: {}", explanation.allowed));
    match &explanation.egress {
        Some(verdict) => describe_verdict(
            out,
            &format!("egress from {src_label}"),
            verdict,
            Direction::Egress,
            graph,
            sources,
        ),
        None => {
            out.line(format!(
                "egress from {}: outside the cluster, no NetworkPolicy applies",
                src_label
            ));
        }
    }
    match &explanation.ingress {
        Some(verdict) => describe_verdict(
            out,
            &format!("ingress to {dst_label}"),
            verdict,
            Direction::Ingress,
            graph,
            sources,
        ),
        None => {
            out.line(format!(
                "ingress to {}: outside the cluster, no NetworkPolicy applies",
                dst_label
            ));
        }
    }
}
