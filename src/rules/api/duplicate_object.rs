use crate::kinds::api_group;
use crate::model::Object;
use crate::rules::{Rule, RuleContext, Sink, declare_rule, rule_identity};

declare_rule!(DuplicateObject, "duplicate-object");

fn different_flux_clusters(ctx: &RuleContext<'_>, a: &Object, b: &Object) -> bool {
    let clusters = &ctx.model.flux_clusters;
    matches!((clusters.get(&a.file), clusters.get(&b.file)), (Some(x), Some(y)) if x != y)
}

/// The API group of an object: objects of one kind and name in two groups are two objects.
fn group<'o>(object: &&'o Object) -> &'o str {
    api_group(&object.api_version)
}

impl Rule for DuplicateObject {
    rule_identity!();

    fn check(&self, ctx: &RuleContext<'_>, sink: &mut Sink<'_>) {
        // The model the rule sees is one cluster (the whole repository, or one environment
        // when roots are grouped into several), so every group here shares a cluster.
        // Candidates come from the model's name index: a table of every object's four
        // names, built here, was the largest allocation of the rules stage (47 MB at
        // 100,000 workloads) for the handful of names defined twice.
        let mut groups: Vec<Vec<&Object>> = Vec::new();
        for mut same_name in ctx.model.objects_named_alike() {
            if same_name
                .first()
                .is_none_or(|o| o.kind.is_empty() || o.name.is_empty())
            {
                continue;
            }
            // One group per API group, each in model order (the sort is stable).
            same_name.sort_by(|a, b| group(a).cmp(group(b)));
            groups.extend(
                same_name
                    .chunk_by(|a, b| group(a) == group(b))
                    .filter(|run| run.len() > 1)
                    .map(<[&Object]>::to_vec),
            );
        }
        // In the order the second definition of each name appears, as reported before.
        groups.sort_by_key(|members| members.get(1).map(|object| object.id));
        for members in groups {
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
