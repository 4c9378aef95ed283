//! `cargo run --release --example gen-hostile -- NAME BYTES OUT` writes the hostile repository
//! NAME (see `benches/support/hostile.rs`) of about BYTES bytes into the directory OUT, to
//! measure the release binary on it: `/usr/bin/time -v target/release/xks-lint check OUT`.

#[path = "../benches/support/hostile.rs"]
mod hostile;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [name, bytes, out] = args.as_slice() else {
        let names: Vec<&str> = hostile::GENERATORS.iter().map(|(n, _)| *n).collect();
        eprintln!(
            "usage: gen-hostile NAME BYTES OUT   (NAME: {})",
            names.join(", ")
        );
        std::process::exit(2)
    };
    let Ok(bytes) = bytes.parse::<usize>() else {
        eprintln!("BYTES must be a number");
        std::process::exit(2)
    };
    let out = std::path::Path::new(out);
    if let Err(error) = std::fs::create_dir_all(out).and_then(|()| hostile::write(out, name, bytes))
    {
        eprintln!("gen-hostile: {error}");
        std::process::exit(1)
    }
}
