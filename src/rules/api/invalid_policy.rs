use crate::graph::admin::{self, Tier};
use crate::model::Object;
use crate::model::validation::network_policy_problems;
use crate::rules::{Rule, RuleContext, Sink, Work, declare_rule, rule_identity};

declare_rule!(InvalidPolicy, "invalid-policy");

const HELP: &str = "until this value is fixed, `kubectl apply` fails and the policy does not exist in the cluster; xks-lint reads the invalid piece as matching nothing";

impl Rule for InvalidPolicy {
    rule_identity!();

    fn work(&self) -> Work {
        Work::EachObject
    }

    fn check_object(&self, _ctx: &RuleContext<'_>, object: &Object, sink: &mut Sink<'_>) {
        let admin_tier = Tier::of(object);
        let problems = if let Some(tier) = admin_tier {
            admin::problems(object, tier)
        } else if object.kind == "NetworkPolicy"
            && object.api_version.starts_with("networking.k8s.io/")
        {
            match object.node.get("spec") {
                Some(spec) => network_policy_problems(spec),
                None => return,
            }
        } else {
            return;
        };
        // Nearly every policy is valid: its help is not written.
        if problems.is_empty() {
            return;
        }
        let help = match admin_tier {
            None => HELP.to_string(),
            Some(_) => format!(
                "{HELP} (a peer of no known field as the specification asks: in an `Allow` rule it matches nothing, in a `Deny` or `Pass` rule it denies everything)"
            ),
        };
        for problem in problems {
            sink.report(
                object.location_of(problem.node),
                format!(
                    "the API server rejects this {}: {}",
                    object.kind, problem.message
                ),
            )
            .with_label("rejected by the API server")
            .with_help(help.clone())
            .with_object(object.identity(), problem.path);
        }
    }
}
