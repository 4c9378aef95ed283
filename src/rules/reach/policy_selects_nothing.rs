use super::describe_selector;
use crate::graph::policy::PolicyOrigin;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(PolicySelectsNothing, "policy-selects-nothing");

impl Rule for PolicySelectsNothing {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        let graph = ctx.graph;
        for (i, policy) in graph.policies.iter().enumerate() {
            let PolicyOrigin::Repo(id) = policy.origin else {
                continue;
            };
            let modelled = graph
                .namespaces
                .get(&policy.namespace)
                .is_some_and(|ns| ns.has_workloads);
            let selects_workload = graph.policy_classes[i]
                .iter()
                .any(|&c| !graph.is_endpoint(c));
            if !modelled || selects_workload {
                continue;
            }
            let object = ctx.model.object(id);
            let span = object
                .node
                .path(&["spec", "podSelector"])
                .map(|n| n.span)
                .unwrap_or_else(|| object.name_span());
            sink.report(
                object.location(span),
                format!(
                    "NetworkPolicy `{}` selects no workload in namespace `{}` (podSelector {}): it has no effect",
                    policy.name,
                    policy.namespace,
                    describe_selector(&policy.pod_selector)
                ),
            )
            .with_label("matches no pod template")
            .with_help("fix the podSelector to match the pod template labels of the workloads it is meant for (hostNetwork pods are never selected)")
            .with_object(object.identity(), "spec.podSelector");
        }
    }
}
