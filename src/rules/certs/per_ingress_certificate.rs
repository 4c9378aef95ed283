use std::collections::BTreeSet;
use std::rc::Rc;

use crate::certs::{CertRequest, IssuerRef, Source};
use crate::hashing::{FastMap, FastSet};
use crate::rules::certs::shared_certificate::{Planner, Shared};
use crate::rules::certs::{LISTED, certificate_yaml};
use crate::rules::{Rule, RuleContext, Sink, Work, declare_rule, rule_identity};

declare_rule!(PerIngressCertificate, "per-ingress-certificate");

impl Rule for PerIngressCertificate {
    rule_identity!();

    fn work(&self) -> Work {
        Work::EveryNode
    }

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        let requests = &ctx.certs.requests;
        // Registered domains are looked up once per request, and siblings only searched
        // among the requests of the same namespace and registered domain.
        let domains: Vec<BTreeSet<String>> =
            requests.iter().map(|r| r.registered_domains()).collect();
        let mut by_namespace: crate::hashing::FastMap<&str, Vec<usize>> =
            crate::hashing::FastMap::default();
        for (index, request) in requests.iter().enumerate() {
            by_namespace
                .entry(request.namespace.as_str())
                .or_default()
                .push(index);
        }
        // The requests of each namespace naming each registered domain, in request order:
        // a request's candidate siblings are those, not every request of its namespace.
        let mut by_namespace_domain: crate::hashing::FastMap<(&str, &str), Vec<usize>> =
            crate::hashing::FastMap::default();
        for (index, request) in requests.iter().enumerate() {
            for domain in &domains[index] {
                by_namespace_domain
                    .entry((request.namespace.as_str(), domain.as_str()))
                    .or_default()
                    .push(index);
            }
        }
        let mut reported = BTreeSet::new();
        let mut planner = Planner::new(ctx, &domains, &by_namespace);
        let mut advice = AdviceCache::default();
        for (index, request) in requests.iter().enumerate() {
            if request.source != Source::IngressShim || request.environment().is_none() {
                continue;
            }
            if reported.contains(&request.object) {
                continue;
            }
            for domain in &domains[index] {
                // Candidates are of the request's namespace and name `domain` already.
                let shares = |other: &CertRequest| match other.source {
                    Source::IngressShim => {
                        other.issuer_ref == request.issuer_ref
                            && other.secret_name != request.secret_name
                    }
                    Source::Certificate => {
                        other.environment() == request.environment()
                            && !other.secret_name.is_empty()
                    }
                    Source::GatewayShim => false,
                };
                let siblings: Vec<(usize, &CertRequest)> = by_namespace_domain
                    .get(&(request.namespace.as_str(), domain.as_str()))
                    .into_iter()
                    .flatten()
                    .map(|&other_index| (other_index, &requests[other_index]))
                    .filter(|(other_index, other)| *other_index != index && shares(other))
                    .collect();
                if siblings.is_empty() {
                    continue;
                }
                reported.insert(request.object);
                let shared = planner.group(request, domain);
                report(
                    ctx,
                    sink,
                    (index, request),
                    &siblings,
                    domain,
                    &shared,
                    &mut advice,
                );
                break;
            }
        }
    }
}

/// The Certificate and Ingresses a group's help spells out, by everything they are
/// written from: the members (request indices, in the order listed) and the Certificate's
/// name, Secret and issuer (the namespace is the members'). Every Ingress of a group gets
/// the same text, and a namespace of hundreds of Ingresses must not rebuild it (and its
/// name lists) for each of them.
type AdviceKey = (Vec<usize>, String, String, IssuerRef);

#[derive(Default)]
struct AdviceCache {
    texts: FastMap<AdviceKey, Rc<str>>,
}

impl AdviceCache {
    /// The text of `key`, made by `make` the first time the key is asked for.
    fn advice(&mut self, key: AdviceKey, make: impl FnOnce(&AdviceKey) -> String) -> Rc<str> {
        if let Some(text) = self.texts.get(&key) {
            return Rc::clone(text);
        }
        let text: Rc<str> = make(&key).into();
        self.texts.insert(key, Rc::clone(&text));
        text
    }
}

/// The Certificate's YAML, then `then in Ingress` and the Ingresses listed: the part of the
/// help [`AdviceCache`] holds, computed from the members' requests.
fn advice_text(
    ctx: &RuleContext<'_>,
    members: &[usize],
    namespace: &str,
    cert_name: &str,
    secret: &str,
    issuer: &IssuerRef,
) -> String {
    let model = ctx.model;
    let requests = &ctx.certs.requests;
    let mut names: Vec<String> = Vec::new();
    let mut ingresses: Vec<String> = Vec::new();
    // Names compared as Let's Encrypt does (case ignored), listed as first written.
    let mut seen_names = FastSet::default();
    let mut seen_ingresses = FastSet::default();
    for member in members.iter().filter_map(|&i| requests.get(i)) {
        for name in &member.names {
            if seen_names.insert(name.normal.as_str()) {
                names.push(name.text.clone());
            }
        }
        if member.source == Source::IngressShim && seen_ingresses.insert(member.object) {
            ingresses.push(format!("`{}`", model.object(member.object).name));
        }
    }
    format!(
        "{}\nthen in Ingress {}",
        certificate_yaml(cert_name, namespace, issuer, &names, secret),
        listed(&ingresses),
    )
}

fn report(
    ctx: &RuleContext<'_>,
    sink: &mut Sink<'_>,
    (index, request): (usize, &CertRequest),
    siblings: &[(usize, &CertRequest)],
    domain: &str,
    shared: &Shared,
    advice: &mut AdviceCache,
) {
    let model = ctx.model;
    let object = model.object(request.object);
    // Prefer a Certificate that already exists: extend it rather than add another.
    let existing = siblings
        .iter()
        .find(|(_, r)| r.source == Source::Certificate);
    let (cert_name, secret, issuer) = match existing {
        Some((_, certificate)) => (
            model.object(certificate.object).name.to_string(),
            certificate.secret_name.clone(),
            certificate.issuer_ref.clone(),
        ),
        // The names the fix uses: free in the namespace.
        None => (
            shared.cert_name.clone(),
            shared.secret.clone(),
            request.issuer_ref.clone(),
        ),
    };
    // Every Ingress of the group gets the same advice: the existing Certificate's names
    // first, then the Ingresses' in the order of the repository.
    let mut shims: Vec<(usize, &CertRequest)> = siblings
        .iter()
        .copied()
        .filter(|(_, r)| r.source == Source::IngressShim)
        .chain(std::iter::once((index, request)))
        .collect();
    shims.sort_by(|(_, a), (_, b)| (a.object, &a.secret_path).cmp(&(b.object, &b.secret_path)));
    let members: Vec<usize> = existing
        .into_iter()
        .copied()
        .chain(shims)
        .map(|(i, _)| i)
        .collect();
    let existing = existing.map(|(_, r)| *r);
    let key = (members, cert_name.clone(), secret.clone(), issuer);
    let advice = advice.advice(key, |(members, cert_name, secret, issuer)| {
        advice_text(ctx, members, &request.namespace, cert_name, secret, issuer)
    });
    let others = siblings.len();
    let what = if existing.is_some() {
        format!("extend the Certificate `{cert_name}` to hold every name")
    } else {
        "share one Certificate for the namespace, as the XKS guide recommends".to_string()
    };
    let annotation = request
        .trigger_path
        .trim_start_matches("metadata.annotations.");
    let help = format!(
        "{what}:\n\n{advice}: delete the `{annotation}` annotation and set `secretName: {secret}` in every `spec.tls` entry",
    );
    let diagnostic = sink
        .report(
            object.location(request.trigger_span),
            format!(
                "Ingress `{}` makes cert-manager request a certificate of its own for `{domain}` while namespace `{}` has {others} other certificate{} for the same registered domain: each one counts against Let's Encrypt's limit of new certificates per registered domain",
                object.name,
                request.namespace,
                if others == 1 { "" } else { "s" },
            ),
        )
        .with_label("one certificate per Ingress")
        .with_help(help)
        .with_object(object.identity(), request.trigger_path.clone());
    for (_, sibling) in siblings.iter().take(LISTED) {
        let sibling_object = model.object(sibling.object);
        let message = match sibling.source {
            Source::Certificate => format!(
                "Certificate `{}` already covers `{domain}` (secret `{}`)",
                sibling_object.name, sibling.secret_name
            ),
            _ => format!(
                "{} `{}` requests another certificate (secret `{}`)",
                sibling_object.kind, sibling_object.name, sibling.secret_name
            ),
        };
        diagnostic.with_related(sibling_object.location(sibling.trigger_span), message);
    }
    // The help and the fix name the same Certificate (the group's, planned once).
    if existing.is_some() == shared.existing
        && (existing.is_none() || shared.secret == secret)
        && let Some(fix) = shared.fix_for(request.object)
    {
        diagnostic.with_fix(fix);
    }
}

/// The first [`LISTED`] items, then how many more there are.
fn listed(items: &[String]) -> String {
    let shown = items[..items.len().min(LISTED)].join(", ");
    match items.len().saturating_sub(LISTED) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(name: &str) -> IssuerRef {
        IssuerRef {
            name: name.to_string(),
            kind: "ClusterIssuer".to_string(),
            group: "cert-manager.io".to_string(),
        }
    }

    /// The text a key would get without the cache: every input spelled out.
    fn direct((members, cert_name, secret, issuer): &AdviceKey) -> String {
        format!("{members:?} {cert_name} {secret} {issuer:?}")
    }

    #[test]
    fn advice_is_made_once_per_key_and_never_shared_across_keys() {
        let keys: Vec<AdviceKey> = vec![
            (vec![1, 2, 3], "a".into(), "a-tls".into(), issuer("le")),
            (vec![1, 2, 3], "a".into(), "a-tls".into(), issuer("staging")),
            (vec![1, 2], "a".into(), "a-tls".into(), issuer("le")),
            (vec![2, 1, 3], "a".into(), "a-tls".into(), issuer("le")),
            (vec![1, 2, 3], "b".into(), "a-tls".into(), issuer("le")),
            (vec![1, 2, 3], "a".into(), "b-tls".into(), issuer("le")),
        ];
        let mut cache = AdviceCache::default();
        let mut made = 0;
        for round in 0..3 {
            for key in &keys {
                let text = cache.advice(key.clone(), |key| {
                    made += 1;
                    direct(key)
                });
                assert_eq!(&*text, direct(key), "round {round}");
            }
        }
        assert_eq!(made, keys.len());
    }
}
