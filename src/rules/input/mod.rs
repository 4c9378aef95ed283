//! Rules that report input the loader could not analyse normally.

pub mod file_too_large;
pub mod helm_template;
pub mod kustomize_error;
pub mod kustomize_not_applied;
pub mod parse_error;
pub mod symlink_outside_tree;
pub mod unreadable_file;

use crate::load::IssueKind;
use crate::rules::{RuleContext, Sink};

/// Reports every load issue of the given kinds as a finding of the calling rule.
fn report_issues(ctx: &RuleContext<'_>, sink: &mut Sink<'_>, kinds: &[IssueKind]) {
    for issue in ctx.model.issues.iter().filter(|i| kinds.contains(&i.kind)) {
        let diagnostic = sink.report(issue.location, issue.message.clone());
        for (location, message) in &issue.related {
            diagnostic.with_related(*location, message.clone());
        }
    }
}
