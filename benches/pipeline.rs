//! Each pipeline stage on a generated tenant repository (see `benches/support/corpus.rs`):
//! load (walk + parse), model (kustomize build + typing), graph, rules, report, and the whole `analyze`.

#[path = "support/corpus.rs"]
mod corpus;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use xks_lint::load::{Input, WalkOptions};
use xks_lint::model::{Model, ModelOptions};
use xks_lint::report::{Format, RenderOptions, render};
use xks_lint::rules::RuleSelection;
use xks_lint::{CheckOptions, analyze, certs, graph, load, rules};

fn bench_stages(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let generated = corpus::generate(dir.path(), 10, 1000, 1).unwrap();
    let inputs = vec![Input::Path(dir.path().to_path_buf())];
    let walk = WalkOptions::default();
    let label = |stage: &str| {
        format!(
            "{stage} ({} files, {} objects)",
            generated.files, generated.objects
        )
    };

    c.bench_function(&label("load"), |b| b.iter(|| load::load(&inputs, &walk)));

    let loaded = load::load(&inputs, &walk);
    c.bench_function(&label("model"), |b| {
        b.iter_batched(
            || loaded.clone(),
            |l| Model::build(l, &ModelOptions::default()),
            BatchSize::LargeInput,
        )
    });

    let sources = loaded.sources.clone();
    let model = Model::build(loaded, &ModelOptions::default());
    let settings = certs::CertSettings::default();
    let inventory = certs::Inventory::build(&model, &settings);
    let graph_options = graph::GraphOptions::default();
    c.bench_function(&label("graph"), |b| {
        b.iter(|| graph::Graph::build(&model, &graph_options))
    });
    let reachability = graph::Graph::build(&model, &graph_options);
    c.bench_function(&label("rules"), |b| {
        b.iter(|| {
            rules::run(
                &model,
                &sources,
                &reachability,
                &inventory,
                &RuleSelection::default(),
            )
        })
    });

    let options = CheckOptions {
        inputs: inputs.clone(),
        ..CheckOptions::default()
    };
    let analysis = analyze(&options);
    let plain = RenderOptions {
        color: false,
        summary: true,
        ..RenderOptions::default()
    };
    // As `check` writes it (streamed on the rayon pool, its findings written by hand),
    // beside the same bytes as `render` makes them (the whole document through serde, on
    // one thread): the ratio is the two changes together, parallel rendering and the
    // hand-written findings.
    c.bench_function(&label("report json"), |b| {
        b.iter(|| {
            let mut out = Vec::new();
            xks_lint::report::json::write(&analysis, &mut out).map(|()| out.len())
        })
    });
    c.bench_function(&label("report json through serde"), |b| {
        b.iter(|| render(Format::Json, &analysis, &plain))
    });
    c.bench_function(&label("report human"), |b| {
        b.iter(|| render(Format::Human, &analysis, &plain))
    });

    c.bench_function(&label("analyze end to end"), |b| {
        b.iter(|| analyze(&options))
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_stages
}
criterion_main!(benches);
