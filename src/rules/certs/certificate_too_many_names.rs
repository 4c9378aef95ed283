use crate::certs::Authority;
use crate::certs::limits::{self, Environment};
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(CertificateTooManyNames, "certificate-too-many-names");

impl Rule for CertificateTooManyNames {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        for request in &ctx.certs.requests {
            // A known non-Let's Encrypt issuer has limits of its own; an unknown one may well be Let's Encrypt.
            let environment = match request.authority {
                Authority::LetsEncrypt(environment) => environment,
                Authority::Unknown => Environment::Production,
                Authority::Other => continue,
            };
            let limit = limits::limits(environment).names_per_certificate as usize;
            let count = request.names.len();
            if count <= limit {
                continue;
            }
            let object = ctx.model.object(request.object);
            let chunks = count.div_ceil(limit);
            sink.report(
                object.location(request.names_span),
                format!(
                    "{} `{}` makes cert-manager request one certificate (secret `{}`) with {count} names; Let's Encrypt accepts at most {limit} names per certificate, so the order fails",
                    object.kind, object.name, request.secret_name
                ),
            )
            .with_label(format!("{count} names"))
            .with_help(format!(
                "split the names over {chunks} certificates of at most {limit} names each (each with its own secretName), or use a wildcard `*.<domain>` name. Limits: {}",
                limits::SOURCE_URL
            ))
            .with_object(object.identity(), request.secret_path.clone());
        }
    }
}
