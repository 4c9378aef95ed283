use crate::graph::policy::Direction;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(MissingIngressPair, "missing-ingress-pair");

impl Rule for MissingIngressPair {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        super::missing_pair::report(ctx.model, ctx.sources, ctx.graph, Direction::Egress, sink);
    }
}
