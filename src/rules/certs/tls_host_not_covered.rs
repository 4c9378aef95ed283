use crate::certs::domain::{covers, covers_normal, normalize, wildcard_base_of};
use crate::certs::{Inventory, Source};
use crate::escape::Inline;
use crate::hashing::{FastMap, FastSet};
use crate::load::yaml::Node;
use crate::model::{Model, Object, Typed};
use crate::rules::{Rule, RuleContext, Sink, Work, declare_rule, rule_identity};

declare_rule!(TlsHostNotCovered, "tls-host-not-covered");

impl Rule for TlsHostNotCovered {
    rule_identity!();

    fn work(&self) -> Work {
        Work::EveryNode
    }

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        // The names of each (namespace, secret) asked about, read once: the Ingresses of
        // a namespace usually share one certificate of many names.
        let mut certificates = FastMap::default();
        for object in &ctx.model.objects {
            match &object.typed {
                Typed::Ingress(_) => check_ingress(ctx, sink, object, &mut certificates),
                Typed::HttpRoute(_) => check_route(ctx, sink, object),
                _ => {}
            }
        }
    }
}

fn seq(node: Option<&Node>) -> &[Node] {
    node.and_then(Node::as_seq).unwrap_or(&[])
}

/// The names of a certificate as written, what puts it in its secret, and its names'
/// canonical forms indexed: a host is covered by an equal name or by the wildcard of its base.
struct CertificateNames {
    names: Vec<String>,
    what: String,
    exact: FastSet<String>,
    wildcard_bases: FastSet<String>,
}

impl CertificateNames {
    fn new((names, what): (Vec<String>, String)) -> Self {
        let mut exact = FastSet::default();
        let mut wildcard_bases = FastSet::default();
        for normal in names.iter().filter_map(|name| normalize(name)) {
            if let Some(base) = normal.strip_prefix("*.") {
                wildcard_bases.insert(base.to_string());
            }
            exact.insert(normal);
        }
        CertificateNames {
            names,
            what,
            exact,
            wildcard_bases,
        }
    }

    /// Whether some name covers `host` (normalized): [`covers_normal`] for each name.
    fn cover(&self, host: &str) -> bool {
        self.exact.contains(host)
            || wildcard_base_of(host).is_some_and(|base| self.wildcard_bases.contains(base))
    }
}

/// The names of the certificate the repository puts in `secret`, and what puts
/// it there; `None` when nothing in the repository writes the secret.
fn certificate_names(
    certs: &Inventory,
    model: &Model,
    namespace: &str,
    secret: &str,
) -> Option<(Vec<String>, String)> {
    let writers: Vec<_> = certs.writers(namespace, secret).collect();
    // Writers that disagree are `tls-secret-conflict`'s finding; which one wins is unknown here.
    if writers
        .windows(2)
        .any(|w| w[0].name_set() != w[1].name_set())
    {
        return None;
    }
    // An explicit Certificate is what the guide's shared setup relies on; prefer it.
    let writer = writers
        .iter()
        .find(|w| w.source == Source::Certificate)
        .or(writers.first())?;
    let object = model.object(writer.object);
    let what = match writer.source {
        Source::Certificate => format!("Certificate `{}`", object.name),
        _ => format!(
            "the certificate cert-manager requests for {} `{}`",
            object.kind, object.name
        ),
    };
    Some((writer.names.iter().map(|n| n.text.clone()).collect(), what))
}

/// Certificates by (namespace, secret), keyed by the model's own strings: looked up for
/// every host of every Ingress; `None` when nothing writes the secret.
type Certificates<'m> = FastMap<(&'m str, &'m str), Option<CertificateNames>>;

fn check_ingress<'m>(
    ctx: &RuleContext<'_>,
    sink: &mut Sink<'_>,
    object: &'m Object,
    certificates: &mut Certificates<'m>,
) {
    let spec = object.node.get("spec");
    let tls = seq(spec.and_then(|s| s.get("tls")));
    if tls.is_empty() {
        return;
    }
    let rules = seq(spec.and_then(|s| s.get("rules")));
    // Each host with its canonical form, computed once (`covers` is `covers_normal` on them).
    let rule_hosts: Vec<(usize, &Node, &str, Option<String>)> = rules
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let node = r.get("host")?;
            let text = node.scalar_text()?.trim();
            (!text.is_empty()).then(|| (i, node, text, normalize(text)))
        })
        .collect();
    let tls_normals: Vec<Vec<Option<String>>> = tls
        .iter()
        .map(|entry| {
            seq(entry.get("hosts"))
                .iter()
                .map(|node| node.scalar_text().and_then(normalize))
                .collect()
        })
        .collect();
    let has_catch_all = rules.iter().any(|r| r.get("host").is_none())
        || spec.and_then(|s| s.get("defaultBackend")).is_some()
        || spec.and_then(|s| s.get("backend")).is_some();

    for (rule_index, node, host, host_normal) in &rule_hosts {
        let entry = host_normal.as_deref().and_then(|host_normal| {
            tls.iter().zip(&tls_normals).find_map(|(entry, normals)| {
                normals
                    .iter()
                    .flatten()
                    .any(|t| covers_normal(t, host_normal))
                    .then_some(entry)
            })
        });
        // Formatted only for a finding: most hosts have none.
        let path = || format!("spec.rules[{rule_index}].host");
        let Some(entry) = entry else {
            sink.report(
                object.location(node.span),
                format!(
                    "host `{host}` of Ingress `{}` is in no `tls` entry: the ingress controller serves it with its default certificate",
                    object.name
                ),
            )
            .with_label("not in any tls.hosts")
            .with_help(format!(
                "add `{}` to the `hosts` of the `tls` entry whose certificate holds it",
                Inline(host)
            ))
            .with_object(object.identity(), path());
            continue;
        };
        let Some(secret) = entry
            .get("secretName")
            .and_then(Node::scalar_text)
            .map(str::trim)
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let certificate = certificates
            .entry((object.namespace.as_str(), secret))
            .or_insert_with(|| {
                certificate_names(ctx.certs, ctx.model, &object.namespace, secret)
                    .map(CertificateNames::new)
            });
        let Some(CertificateNames { names, what, .. }) = certificate
            .as_ref()
            .filter(|c| !host_normal.as_deref().is_some_and(|h| c.cover(h)))
        else {
            continue;
        };
        let diagnostic = sink
            .report(
                object.location(node.span),
                format!(
                    "host `{host}` is served with secret `{secret}`, but {what} does not include it (its names: {})",
                    names.join(", ")
                ),
            )
            .with_label("not covered by the certificate")
            .with_help(format!(
                "add `{}` to the dnsNames of the certificate written to `{}`, or use a secret whose certificate covers it",
                Inline(host),
                Inline(secret)
            ))
            .with_object(object.identity(), path());
        if let Some(secret_node) = entry.get("secretName") {
            diagnostic.with_related(
                object.location(secret_node.span),
                format!("secret `{secret}` used here"),
            );
        }
    }

    if has_catch_all {
        return;
    }
    for (entry_index, (entry, normals)) in tls.iter().zip(&tls_normals).enumerate() {
        for (host_index, (node, tls_normal)) in
            seq(entry.get("hosts")).iter().zip(normals).enumerate()
        {
            let Some(tls_host) = node.scalar_text().map(str::trim) else {
                continue;
            };
            let served = tls_normal.as_deref().is_some_and(|t| {
                rule_hosts
                    .iter()
                    .any(|(_, _, _, host)| host.as_deref().is_some_and(|h| covers_normal(t, h)))
            });
            if tls_host.is_empty() || served {
                continue;
            }
            sink.report(
                object.location(node.span),
                format!(
                    "TLS host `{tls_host}` of Ingress `{}` has no rule: nothing is served for it, yet its certificate holds the name",
                    object.name
                ),
            )
            .with_label("no rule for this host")
            .with_help("delete the host from `tls.hosts`, or add the rule that serves it")
            .with_object(
                object.identity(),
                format!("spec.tls[{entry_index}].hosts[{host_index}]"),
            );
        }
    }
}

fn check_route(ctx: &RuleContext<'_>, sink: &mut Sink<'_>, route: &Object) {
    let Typed::HttpRoute(spec) = &route.typed else {
        return;
    };
    let hostname_nodes = seq(route.node.path(&["spec", "hostnames"]));
    for parent in &spec.parent_refs {
        let is_gateway = parent.kind.as_deref().is_none_or(|k| k == "Gateway")
            && parent
                .group
                .as_deref()
                .is_none_or(|g| g == "gateway.networking.k8s.io");
        if !is_gateway {
            continue;
        }
        let namespace = parent.namespace.as_deref().unwrap_or(&route.namespace);
        let Some(gateway) = ctx
            .model
            .named("Gateway", namespace, &parent.name)
            .find(|o| matches!(o.typed, Typed::Gateway(_)))
        else {
            continue;
        };
        let Typed::Gateway(gateway_spec) = &gateway.typed else {
            continue;
        };
        for listener in &gateway_spec.listeners {
            let selected = parent
                .section_name
                .as_deref()
                .is_none_or(|s| s == listener.name)
                && parent.port.is_none_or(|p| Some(p) == listener.port);
            let Some(tls) = &listener.tls else { continue };
            if !selected || listener.protocol != "HTTPS" {
                continue;
            }
            let mut names = Vec::new();
            let mut sources = Vec::new();
            for reference in &tls.certificate_refs {
                if let Some((mut cert_names, what)) =
                    certificate_names(ctx.certs, ctx.model, &gateway.namespace, &reference.name)
                {
                    names.append(&mut cert_names);
                    sources.push(what);
                }
            }
            if sources.is_empty() {
                continue;
            }
            for (index, node) in hostname_nodes.iter().enumerate() {
                let Some(hostname) = node.scalar_text().map(str::trim) else {
                    continue;
                };
                // A hostname the listener does not accept does not attach there at all.
                let attaches = listener
                    .hostname
                    .as_deref()
                    .is_none_or(|l| covers(l, hostname) || covers(hostname, l));
                if !attaches || names.iter().any(|n| covers(n, hostname)) {
                    continue;
                }
                sink.report(
                    route.location(node.span),
                    format!(
                        "hostname `{hostname}` attaches to HTTPS listener `{}` of Gateway `{}`, but {} does not include it (its names: {})",
                        listener.name,
                        gateway.name,
                        sources.join(" and "),
                        names.join(", ")
                    ),
                )
                .with_label("not covered by the listener's certificate")
                .with_help(format!(
                    "add `{}` to the certificate of listener `{}`, or attach the route to a listener whose certificate covers it",
                    Inline(hostname),
                    Inline(&listener.name)
                ))
                .with_related(gateway.location(gateway.name_span()), format!("Gateway `{}`", gateway.name))
                .with_object(route.identity(), format!("spec.hostnames[{index}]"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The indexed test answers as asking `covers` of every name does.
    #[test]
    fn indexed_names_cover_what_covers_says() {
        let names: Vec<String> = [
            "a.example.com",
            "*.example.com",
            "*.b.example.com",
            "Bücher.example",
            "*.",
            "",
            "x..y",
            " C.Example.COM. ",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let hosts = [
            "a.example.com",
            "A.EXAMPLE.com.",
            "z.example.com",
            "example.com",
            "*.example.com",
            "*.z.example.com",
            "c.b.example.com",
            "d.c.b.example.com",
            "xn--bcher-kva.example",
            "c.example.com",
            "x..y",
            "",
            "com",
        ];
        for subset in [&names[..], &names[..2], &names[1..3], &names[4..]] {
            let indexed = CertificateNames::new((subset.to_vec(), String::new()));
            for host in hosts {
                let expected = subset.iter().any(|name| covers(name, host));
                let got = normalize(host).is_some_and(|h| indexed.cover(&h));
                assert_eq!(got, expected, "{host} against {subset:?}");
            }
        }
    }
}
