use crate::model::validation::network_policy_problems;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(InvalidPolicy, "invalid-policy");

impl Rule for InvalidPolicy {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        for object in &ctx.model.objects {
            if object.kind != "NetworkPolicy"
                || !object.api_version.starts_with("networking.k8s.io/")
            {
                continue;
            }
            let Some(spec) = object.node.get("spec") else {
                continue;
            };
            for problem in network_policy_problems(spec) {
                sink.report(
                    object.location_of(problem.node),
                    format!(
                        "the API server rejects this NetworkPolicy: {}",
                        problem.message
                    ),
                )
                .with_label("rejected by the API server")
                .with_help("until this value is fixed, `kubectl apply` fails and the policy does not exist in the cluster; xks-lint reads the invalid piece as matching nothing")
                .with_object(object.identity(), problem.path);
            }
        }
    }
}
