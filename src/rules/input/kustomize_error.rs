use crate::load::IssueKind;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(KustomizeError, "kustomize-error");

impl Rule for KustomizeError {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        super::report_issues(ctx, sink, &[IssueKind::KustomizeError]);
    }
}
