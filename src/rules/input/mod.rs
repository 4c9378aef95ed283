//! Rules that report input the loader could not analyse normally.

pub mod helm_template;
pub mod parse_error;
pub mod unreadable_file;

use crate::load::IssueKind;
use crate::rules::{RuleContext, Sink};

/// Reports every load issue of the given kinds as a finding of the calling rule.
fn report_issues(ctx: &RuleContext<'_>, sink: &mut Sink<'_>, kinds: &[IssueKind]) {
    for issue in ctx.model.issues.iter().filter(|i| kinds.contains(&i.kind)) {
        sink.report(issue.location, issue.message.clone());
    }
}
