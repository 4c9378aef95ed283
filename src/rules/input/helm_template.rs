use crate::load::IssueKind;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(HelmTemplate, "helm-template");

impl Rule for HelmTemplate {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        super::report_issues(ctx, sink, &[IssueKind::HelmTemplate]);
    }
}
