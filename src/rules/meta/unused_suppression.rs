use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(UnusedSuppression, "unused-suppression");

/// Whether a suppression silenced anything is only known once every other rule has run, so
/// the findings of this rule are made by the gate stage (`gate::suppress`), which applies the
/// suppressions. It is registered like any rule for its documentation, `--select`/`--ignore`
/// and severity overrides.
impl Rule for UnusedSuppression {
    rule_identity!();

    fn check(&self, _ctx: &RuleContext<'_>, _sink: &mut Sink<'_>) {}
}
