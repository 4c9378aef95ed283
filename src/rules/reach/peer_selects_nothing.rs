use std::collections::BTreeSet;

use super::describe_selector;
use crate::graph::policy::{PeerKind, PolicyOrigin};
use crate::graph::selector::Selector;
use crate::graph::{METADATA_NAME_LABEL, XKS_NAME_LABEL};
use crate::rules::{Rule, RuleContext, Sink, Work, declare_rule, rule_identity};

declare_rule!(PeerSelectsNothing, "peer-selects-nothing");

impl Rule for PeerSelectsNothing {
    rule_identity!();

    fn work(&self) -> Work {
        Work::PolicyPairs
    }

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        let graph = ctx.graph;
        for (r, rule) in graph.rules.iter().enumerate() {
            let policy = &graph.policies[rule.policy];
            let PolicyOrigin::Repo(id) = policy.origin else {
                continue;
            };
            for (p, peer) in rule.peers.iter().flatten().enumerate() {
                let PeerKind::Pods { pods, namespaces } = &peer.kind else {
                    continue;
                };
                // The namespaces the peer can match, when they are all known.
                let involved: BTreeSet<&str> = match namespaces {
                    None => BTreeSet::from([policy.namespace.as_str()]),
                    Some(selector) => match pinned_namespaces(selector, graph.is_xks()) {
                        Some(names) => names,
                        // Not pinned to names: it may match namespaces this repository does not hold.
                        None => continue,
                    },
                };
                let all_modelled = involved.iter().all(|ns| {
                    graph
                        .namespaces
                        .get(*ns)
                        .is_some_and(|info| info.has_workloads && !info.platform)
                });
                // Which pods it matches is asked only when every namespace is modelled.
                if !all_modelled
                    || graph
                        .peer_classes(r, p)
                        .into_iter()
                        .any(|c| !graph.is_endpoint(c))
                {
                    continue;
                }
                let Some(location) = peer.location else {
                    continue;
                };
                let everything = Selector::everything();
                let names: Vec<&str> = involved.into_iter().collect();
                sink.report(
                    location,
                    format!(
                        "this {} peer matches no pod: no workload in namespace{} `{}` has pod labels matching {}",
                        rule.direction.as_str(),
                        if names.len() > 1 { "s" } else { "" },
                        names.join("`, `"),
                        describe_selector(pods.as_deref().unwrap_or(&everything))
                    ),
                )
                .with_label("selects nothing")
                .with_help("a label typo is the usual cause: compare the selector with the pod template labels of the workloads meant")
                .with_object(ctx.model.object(id).identity(), rule.peer_path(p));
            }
        }
    }
}

/// Namespace names a namespace selector is pinned to with `kubernetes.io/metadata.name`
/// (or XKS's `name`) `In` values, or `None` when it is not pinned.
fn pinned_namespaces(selector: &Selector, xks: bool) -> Option<BTreeSet<&str>> {
    let keys: &[&str] = if xks {
        &[METADATA_NAME_LABEL, XKS_NAME_LABEL]
    } else {
        &[METADATA_NAME_LABEL]
    };
    keys.iter()
        .find_map(|key| selector.pinned_values(key))
        .map(|values| values.iter().collect())
}
