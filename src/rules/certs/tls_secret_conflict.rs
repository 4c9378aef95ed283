use std::collections::BTreeMap;

use crate::certs::CertRequest;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(TlsSecretConflict, "tls-secret-conflict");

impl Rule for TlsSecretConflict {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        let mut by_secret: BTreeMap<(&str, &str), Vec<&CertRequest>> = BTreeMap::new();
        for request in &ctx.certs.requests {
            if !request.secret_name.is_empty() {
                by_secret
                    .entry((&request.namespace, &request.secret_name))
                    .or_default()
                    .push(request);
            }
        }
        for ((namespace, secret), writers) in by_secret {
            let Some((first, rest)) = writers.split_first() else {
                continue;
            };
            let first_names = first.name_set();
            let first_object = ctx.model.object(first.object);
            for other in rest {
                let names = other.name_set();
                if names == first_names {
                    continue;
                }
                let object = ctx.model.object(other.object);
                let missing: Vec<&str> = names
                    .symmetric_difference(&first_names)
                    .map(String::as_str)
                    .collect();
                let mut message = format!(
                    "{} `{}` and {} `{}` both make cert-manager write secret `{secret}` in namespace `{namespace}` with different names: only one certificate ends up in the secret",
                    object.kind, object.name, first_object.kind, first_object.name
                );
                if !missing.is_empty() {
                    message.push_str(&format!(
                        "; {} {} in only one of the two name sets and may be served a certificate that does not cover {}",
                        missing.join(", "),
                        if missing.len() == 1 { "is" } else { "are" },
                        if missing.len() == 1 { "it" } else { "them" }
                    ));
                }
                sink.report(object.location(other.secret_span), message)
                    .with_label("secret also written with other names")
                    .with_help(format!(
                        "give each certificate its own secretName, or request one certificate with all the names and let the others only reference `{secret}` (no cert-manager annotation)"
                    ))
                    .with_related(
                        first_object.location(first.secret_span),
                        format!(
                            "{} `{}` writes `{secret}` with {}",
                            first_object.kind,
                            first_object.name,
                            first_names.iter().map(String::as_str).collect::<Vec<_>>().join(", ")
                        ),
                    )
                    .with_object(object.identity(), other.secret_path.clone());
            }
        }
    }
}
