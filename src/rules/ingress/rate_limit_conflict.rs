use crate::model::{Object, map_entries};
use crate::rules::{Rule, RuleContext, Sink, Work, declare_rule, rule_identity};

declare_rule!(RateLimitConflict, "rate-limit-conflict");

const CONNECTIONS: &str = "nginx.ingress.kubernetes.io/limit-connections";
const RATES: [&str; 2] = [
    "nginx.ingress.kubernetes.io/limit-rps",
    "nginx.ingress.kubernetes.io/limit-rpm",
];

impl Rule for RateLimitConflict {
    rule_identity!();

    fn work(&self) -> Work {
        Work::EachObject
    }

    fn check_object(&self, _ctx: &RuleContext<'_>, object: &Object, sink: &mut Sink<'_>) {
        if object.kind != "Ingress" {
            return;
        }
        let annotations: Vec<_> =
            map_entries(object.node.path(&["metadata", "annotations"])).collect();
        let find = |name: &str| annotations.iter().find(|(key, _, _)| *key == name);

        for (key, _, value) in annotations
            .iter()
            .filter(|(key, _, _)| *key == CONNECTIONS || RATES.contains(key))
        {
            let text = value.scalar_text().unwrap_or_default().trim();
            let valid = text.parse::<u64>().is_ok_and(|n| n > 0);
            if !valid {
                sink.report(
                    object.location_of(value),
                    format!("`{key}` must be a positive integer, not `{text}`"),
                )
                .with_label("not a positive integer")
                .with_help(format!(
                    "write a whole number above zero, quoted: `{key}: \"10\"`"
                ))
                .with_object(object.identity(), format!("metadata.annotations.{key}"));
            }
        }

        let Some(connections) = find(CONNECTIONS) else {
            return;
        };
        for rate in RATES {
            let Some(rate_entry) = find(rate) else {
                continue;
            };
            let (first, second) = if connections.1.span.start <= rate_entry.1.span.start {
                (connections, rate_entry)
            } else {
                (rate_entry, connections)
            };
            sink.report(
                object.location_of(second.1),
                format!(
                    "`{}` and `{}` are both set on Ingress `{}`: the XKS guide says connection and request-rate limits do not work together",
                    first.0, second.0, object.name
                ),
            )
            .with_label("conflicts with the earlier rate-limit annotation")
            .with_help("choose one strategy: keep either `limit-connections` or the request-rate limit, and delete the other annotation")
            .with_related(object.location_of(first.1), format!("`{}` set here", first.0))
            .with_object(object.identity(), format!("metadata.annotations.{}", second.0));
        }
    }
}
