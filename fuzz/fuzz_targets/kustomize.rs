//! Native kustomize builds of arbitrary trees: the input is split at NUL bytes into the
//! files of a small fixed tree (kustomizations, a component, manifests, a patch, a Flux
//! Kustomization), written to a temporary repository and built. No panic, bounded output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xks_lint::load::{Input, WalkOptions, load};

const PATHS: [&str; 8] = [
    "kustomization.yaml",
    "base/kustomization.yaml",
    "base/app.yaml",
    "overlay/kustomization.yaml",
    "overlay/patch.yaml",
    "components/c/kustomization.yaml",
    "components/c/extra.yaml",
    "clusters/prod/flux.yaml",
];

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else {
        return;
    };
    if std::fs::create_dir(dir.path().join(".git")).is_err() {
        return;
    }
    for (path, bytes) in PATHS.iter().zip(data.split(|b| *b == 0)) {
        let path = dir.path().join(path);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = std::fs::write(path, bytes);
    }
    let loaded = load(
        &[Input::Path(dir.path().to_path_buf())],
        &WalkOptions::default(),
    );
    let output = xks_lint::kustomize::build(&loaded);
    for view in &output.views {
        assert!(view.objects.len() <= xks_lint::limits::MAX_ROOT_OBJECTS);
    }
    for issue in &output.issues {
        assert!(loaded.sources.get(issue.location.file).is_some());
    }
});
