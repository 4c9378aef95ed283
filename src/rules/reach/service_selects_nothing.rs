use crate::graph::selector::Selector;
use crate::model::Typed;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(ServiceSelectsNothing, "service-selects-nothing");

impl Rule for ServiceSelectsNothing {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        for object in &ctx.model.objects {
            let Typed::Service(spec) = &object.typed else {
                continue;
            };
            let Some(selector) = spec.selector.as_ref().filter(|s| !s.is_empty()) else {
                continue;
            };
            if spec.type_.as_deref() == Some("ExternalName") {
                continue;
            }
            let modelled = ctx
                .graph
                .namespaces
                .get(object.namespace.as_str())
                .is_some_and(|ns| ns.has_workloads);
            if !modelled {
                continue;
            }
            let compiled = Selector::from_labels(selector);
            let matched = ctx
                .graph
                .classes_matching(&object.namespace, &compiled)
                .into_iter()
                .any(|c| !ctx.graph.classes[c].members.is_empty());
            if matched {
                continue;
            }
            // Only a finding spells out the namespace's pod templates.
            let mut candidates: Vec<String> = ctx
                .model
                .workloads()
                .filter(|(workload_object, _)| workload_object.namespace == object.namespace)
                .map(|(workload_object, workload)| {
                    let text = workload
                        .pod_labels()
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(",");
                    format!(
                        "{} `{}` ({text})",
                        workload_object.kind, workload_object.name
                    )
                })
                .collect();
            candidates.sort();
            let wanted = selector
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",");
            sink.report(
                object.location(object.span_at(&["spec", "selector"])),
                format!(
                    "Service `{}` selects no workload in namespace `{}`: no pod template carries {wanted}",
                    object.name, object.namespace
                ),
            )
            .with_label("matches no pod")
            .with_help(format!(
                "fix the selector or the pod template labels; pod templates in `{}`: {}",
                object.namespace,
                candidates.join("; ")
            ))
            .with_object(object.identity(), "spec.selector");
        }
    }
}
