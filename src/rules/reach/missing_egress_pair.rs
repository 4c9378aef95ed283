use crate::graph::policy::Direction;
use crate::rules::{Rule, RuleContext, Sink, Work, declare_rule, rule_identity};

declare_rule!(MissingEgressPair, "missing-egress-pair");

impl Rule for MissingEgressPair {
    rule_identity!();

    fn work(&self) -> Work {
        Work::PolicyPairs
    }

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        super::missing_pair::report(ctx.model, ctx.sources, ctx.graph, Direction::Ingress, sink);
    }
}
