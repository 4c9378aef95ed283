use crate::load::IssueKind;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(FileTooLarge, "file-too-large");

impl Rule for FileTooLarge {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        super::report_issues(ctx, sink, &[IssueKind::TooLarge]);
    }
}
