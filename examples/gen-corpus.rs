//! `cargo run --release --example gen-corpus -- --namespaces 50 --workloads 5000 --seed 1 OUT`
//! writes a deterministic, realistic XKS tenant repository for benchmarks (any size: the
//! README's scaling table goes from 5,000 to 100,000 workloads).
//! `--no-policies` leaves out every NetworkPolicy (with `--namespaces 1`: one open namespace
//! of n workloads, n² allowed pairs); `--ip-blocks N` adds N distinct `/32` ipBlock rules.

#[path = "../benches/support/corpus.rs"]
mod corpus;

use std::path::PathBuf;

fn usage() -> ! {
    eprintln!(
        "usage: gen-corpus [--namespaces N] [--workloads N] [--seed N] [--no-policies] [--ip-blocks N] OUT"
    );
    std::process::exit(2)
}

fn main() {
    let mut namespaces = 50u64;
    let mut workloads = 5000u64;
    let mut seed = 1u64;
    let mut shape = corpus::Shape::default();
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = || {
            args.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| usage())
        };
        match arg.as_str() {
            "--namespaces" => namespaces = number(),
            "--workloads" => workloads = number(),
            "--seed" => seed = number(),
            "--ip-blocks" => shape.ip_blocks = number(),
            "--no-policies" => shape.no_policies = true,
            other if !other.starts_with('-') => out = Some(PathBuf::from(other)),
            _ => usage(),
        }
    }
    let out = out.unwrap_or_else(|| usage());
    match corpus::generate_shaped(&out, namespaces.max(1), workloads, seed, shape) {
        Ok(generated) => eprintln!(
            "wrote {} files ({:.1} MB), {} objects, {namespaces} namespaces to {}",
            generated.files,
            generated.bytes as f64 / 1e6,
            generated.objects,
            out.display()
        ),
        Err(error) => {
            eprintln!("gen-corpus: {}: {error}", out.display());
            std::process::exit(1)
        }
    }
}
