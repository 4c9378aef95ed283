use crate::certs::Source;
use crate::certs::domain::{covers, registered_domain};
use crate::load::yaml::Node;
use crate::model::{Object, Typed};
use crate::rules::certs::yaml_string;
use crate::rules::{Rule, RuleContext, Sink, Work, declare_rule, rule_identity};

declare_rule!(IngressWithoutTls, "ingress-without-tls");

impl Rule for IngressWithoutTls {
    rule_identity!();

    fn work(&self) -> Work {
        Work::EachObject
    }

    fn check_object(&self, ctx: &RuleContext<'_>, object: &Object, sink: &mut Sink<'_>) {
        if !matches!(object.typed, Typed::Ingress(_)) {
            return;
        }
        let spec = object.node.get("spec");
        let has_tls = spec
            .and_then(|s| s.get("tls"))
            .and_then(Node::as_seq)
            .is_some_and(|entries| !entries.is_empty());
        if has_tls {
            return;
        }
        let hosts: Vec<(usize, &Node, &str)> = spec
            .and_then(|s| s.get("rules"))
            .and_then(Node::as_seq)
            .unwrap_or(&[])
            .iter()
            .enumerate()
            .filter_map(|(index, rule)| {
                let node = rule.get("host")?;
                let text = node.scalar_text()?.trim();
                (!text.is_empty()).then_some((index, node, text))
            })
            .collect();
        let Some((first_index, first, _)) = hosts.first() else {
            return;
        };
        let mut names: Vec<&str> = Vec::new();
        for (_, _, host) in &hosts {
            if !names.contains(host) {
                names.push(host);
            }
        }
        // A Certificate of the namespace under the same registered domain is the one to use.
        let domain = registered_domain(names[0]);
        let shared = ctx.certs.requests.iter().find(|r| {
            r.source == Source::Certificate
                && r.namespace == object.namespace
                && !r.secret_name.is_empty()
                && domain
                    .as_ref()
                    .is_some_and(|d| r.registered_domains().contains(d))
        });
        let mut tls = String::from("spec:\n  tls:\n    - hosts:\n");
        for name in &names {
            tls.push_str(&format!("        - {}\n", yaml_string(name)));
        }
        let help = match shared {
            Some(certificate) => {
                let certificate_name = &ctx.model.object(certificate.object).name;
                tls.push_str(&format!(
                    "      secretName: {}\n",
                    yaml_string(&certificate.secret_name)
                ));
                let missing: Vec<&str> = names
                    .iter()
                    .copied()
                    .filter(|host| !certificate.names.iter().any(|n| covers(&n.text, host)))
                    .collect();
                let extend = if missing.is_empty() {
                    String::new()
                } else {
                    format!(
                        "\nand add {} to the dnsNames of Certificate `{certificate_name}`",
                        missing.join(", ")
                    )
                };
                format!(
                    "XKS recommends TLS on every Ingress; use the namespace's shared Certificate `{certificate_name}`:\n\n{tls}{extend}"
                )
            }
            None => {
                tls.push_str("      secretName: shared-cert\n");
                "XKS recommends TLS on every Ingress. Add the hosts to the namespace's shared cert-manager Certificate (one per namespace, as the XKS guide shows) and reference its secret:\n\n"
                    .to_string()
                    + &tls
            }
        };
        let shown: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
        sink.report(
            object.location(first.span),
            format!(
                "Ingress `{}` serves {} over plain HTTP: it has no `tls`",
                object.name,
                shown.join(", ")
            ),
        )
        .with_label("served without TLS")
        .with_help(help)
        .with_object(object.identity(), format!("spec.rules[{first_index}].host"));
    }
}
