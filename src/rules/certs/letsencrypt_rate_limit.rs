use crate::certs::budget::{self, DomainBudget};
use crate::certs::limits::{self, Environment};
use crate::diagnostic::Severity;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(LetsEncryptRateLimit, "letsencrypt-rate-limit");

/// How many contributing certificates a finding points at.
const RELATED_SHOWN: usize = 5;

impl Rule for LetsEncryptRateLimit {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        let percent = ctx.certs.settings.warn_percent.clamp(1, 100);
        for budget in budget::budgets(ctx.certs) {
            domain_limit(ctx, sink, &budget, percent);
            duplicate_limit(ctx, sink, &budget, percent);
        }
    }
}

/// The first count at which a limit is worth a warning.
fn threshold(limit: u32, percent: u32) -> usize {
    (limit as usize * percent as usize).div_ceil(100).max(1)
}

fn environment_name(environment: Environment) -> &'static str {
    match environment {
        Environment::Production => "Let's Encrypt",
        Environment::Staging => "Let's Encrypt staging",
    }
}

fn domain_limit(ctx: &RuleContext<'_>, sink: &mut Sink<'_>, budget: &DomainBudget, percent: u32) {
    let limit = budget.limits.certificates_per_registered_domain;
    let count = budget.count();
    if count < threshold(limit, percent) {
        return;
    }
    let severity = if count > limit as usize {
        Severity::Error
    } else {
        Severity::Warning
    };
    let requests = &ctx.certs.requests;
    let Some(&first) = budget.certificates.first() else {
        return;
    };
    let first = &requests[first];
    let object = ctx.model.object(first.object);
    let contributors: Vec<String> = budget
        .by_namespace
        .iter()
        .take(3)
        .map(|(namespace, n)| format!("namespace `{namespace}` {n}"))
        .collect();
    let verdict = if severity == Severity::Error {
        "over"
    } else {
        "close to"
    };
    let sharing = if budget.shared < count {
        format!(
            "one shared certificate per namespace would bring it to {}",
            budget.shared
        )
    } else {
        "the certificates are already one per namespace: only wildcard names or fewer namespaces lower it".to_string()
    };
    let diagnostic = sink
        .report(
            object.location(first.trigger_span),
            format!(
                "a fresh cluster would request {count} new {} certificates for registered domain `{}`, {verdict} the limit of {limit} per {} (top contributors: {}); {sharing}",
                environment_name(budget.environment),
                budget.domain,
                limits::WINDOW,
                contributors.join(", "),
            ),
        )
        .with_label(format!("1 of {count} certificates under `{}`", budget.domain))
        .with_help(format!(
            "XKS blue/green upgrades request every certificate again at once. Share one Certificate per namespace with all its names (see `xks-lint explain per-ingress-certificate` and `xks-lint certs`); `xks-lint certs` lists every source. Limits: {}",
            limits::SOURCE_URL
        ))
        .with_object(object.identity(), first.trigger_path.clone());
    diagnostic.severity = severity;
    for &index in budget.certificates.iter().skip(1).take(RELATED_SHOWN) {
        let request = &requests[index];
        let other = ctx.model.object(request.object);
        diagnostic.with_related(
            other.location(request.trigger_span),
            format!(
                "{} `{}/{}` requests certificate `{}`",
                other.kind, other.namespace, other.name, request.secret_name
            ),
        );
    }
}

fn duplicate_limit(
    ctx: &RuleContext<'_>,
    sink: &mut Sink<'_>,
    budget: &DomainBudget,
    percent: u32,
) {
    let limit = budget.limits.duplicate_certificates;
    let Some((names, members)) = budget.worst_duplicate() else {
        return;
    };
    let count = members.len();
    if count < threshold(limit, percent) {
        return;
    }
    // A set spanning two registered domains is one finding, under its first domain.
    let requests = &ctx.certs.requests;
    let first = &requests[members[0]];
    if first.registered_domains().first() != Some(&budget.domain) {
        return;
    }
    let severity = if count > limit as usize {
        Severity::Error
    } else {
        Severity::Warning
    };
    let object = ctx.model.object(first.object);
    let shown: Vec<&str> = names.iter().map(String::as_str).take(3).collect();
    let diagnostic = sink
        .report(
            object.location(first.names_span),
            format!(
                "the same set of names ({}{}) would be requested {count} times from {}; the limit is {limit} certificates with an identical set of names per {}",
                shown.join(", "),
                if names.len() > 3 { ", ..." } else { "" },
                environment_name(budget.environment),
                limits::WINDOW,
            ),
        )
        .with_label("identical set of names requested again elsewhere")
        .with_help(format!(
            "request the certificate once and reference its secret from every place that needs it. Limits: {}",
            limits::SOURCE_URL
        ))
        .with_object(object.identity(), first.secret_path.clone());
    diagnostic.severity = severity;
    for &index in members.iter().skip(1).take(RELATED_SHOWN) {
        let request = &requests[index];
        let other = ctx.model.object(request.object);
        diagnostic.with_related(
            other.location(request.names_span),
            format!(
                "{} `{}/{}` asks for the same names",
                other.kind, other.namespace, other.name
            ),
        );
    }
}
