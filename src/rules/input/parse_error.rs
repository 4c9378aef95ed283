use crate::load::IssueKind;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(ParseError, "parse-error");

impl Rule for ParseError {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        super::report_issues(ctx, sink, &[IssueKind::Syntax, IssueKind::Schema]);
    }
}
