use crate::hashing::FastMap;
use crate::kinds::api_group;
use crate::model::Object;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(DuplicateObject, "duplicate-object");

fn different_flux_clusters(ctx: &RuleContext<'_>, a: &Object, b: &Object) -> bool {
    let clusters = &ctx.model.flux_clusters;
    matches!((clusters.get(&a.file), clusters.get(&b.file)), (Some(x), Some(y)) if x != y)
}

impl Rule for DuplicateObject {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        // The model the rule sees is one cluster (the whole repository, or one environment
        // when roots are grouped into several), so every group here shares a cluster.
        // Sized once, and a lone object (nearly all of them) needs no list of its own.
        type Members<'a> = smallvec::SmallVec<[&'a Object; 1]>;
        let mut groups: FastMap<(&str, &str, &str, &str), Members<'_>> =
            FastMap::with_capacity_and_hasher(ctx.model.objects.len(), Default::default());
        let mut order = Vec::new();
        for object in &ctx.model.objects {
            if object.kind.is_empty() || object.name.is_empty() {
                continue;
            }
            let key = (
                api_group(&object.api_version),
                object.kind.as_str(),
                object.namespace.as_str(),
                object.name.as_str(),
            );
            let members = groups.entry(key).or_default();
            if members.len() == 1 {
                order.push(key);
            }
            members.push(object);
        }
        for key in order {
            let Some(members) = groups.get(&key) else {
                continue;
            };
            for (i, object) in members.iter().enumerate() {
                // Two renderings by kustomization roots are told apart by the environment
                // grouping, not here; a plain file next to anything is a duplicate.
                let Some(first) = members.get(..i).unwrap_or(&[]).iter().find(|other| {
                    (object.contexts.is_empty() || other.contexts.is_empty())
                            // Files of two Flux `clusters/<env>/` directories are two clusters.
                            && !different_flux_clusters(ctx, object, other)
                            // An identical copy (or the same file reached through a link)
                            // deploys the same object whichever is applied.
                            && !object.node.same_value(&other.node)
                }) else {
                    continue;
                };
                sink.report(
                    object.location(object.name_span()),
                    format!(
                        "`{}` is defined twice: only one of the two copies can exist in the cluster",
                        object.identity()
                    ),
                )
                .with_label("second definition")
                .with_related(first.location(first.name_span()), "first definition")
                .with_help("delete the stale copy, or make the copies overlays of one kustomize base")
                .with_object(object.identity(), "metadata.name");
            }
        }
    }
}
