//! Parsing hostile input (issue 14.5): every generator of `benches/support/hostile.rs` at two
//! sizes, through `load` (walk, read, parse). Linear parsing shows as a time ratio close to the
//! size ratio (4); `examples/gen-hostile` writes the same inputs for the release binary.

#[path = "support/hostile.rs"]
mod hostile;

use criterion::{Criterion, criterion_group, criterion_main};
use xks_lint::load::{self, Input, WalkOptions};

fn bench_hostile(c: &mut Criterion) {
    let walk = WalkOptions::default();
    for (name, _) in hostile::GENERATORS {
        for bytes in [250_000usize, 1_000_000] {
            let dir = tempfile::tempdir().unwrap();
            hostile::write(dir.path(), name, bytes).unwrap();
            let inputs = vec![Input::Path(dir.path().to_path_buf())];
            c.bench_function(&format!("load {name} {} KB", bytes / 1000), |b| {
                b.iter(|| load::load(&inputs, &walk))
            });
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench_hostile
}
criterion_main!(benches);
