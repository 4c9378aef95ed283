//! Property test of the native kustomize build (issue 14, "Done when"): random
//! kustomization trees over a small file set — resources, components, patches of
//! every kind, namespaces, prefixes, labels, cycles, missing files, Flux
//! Kustomizations — built in a temp dir. Asserts no panic, bounded output, located
//! issues, and the invariants of kustomize's transformers. A bounded number of cases
//! (`PROPTEST_CASES` raises it), so it runs in `cargo test`.

use std::fs;
use std::path::Path;

use proptest::prelude::*;
use xks_lint::kustomize;
use xks_lint::load::{Input, WalkOptions, load};
use xks_lint::model::CLUSTER_SCOPED_KINDS;

/// Directories of the tree: kustomizations may live in any of them.
const DIRS: [&str; 5] = ["base", "overlays/a", "overlays/b", "components/c", "shared"];

/// Plain manifests a kustomization may list.
const FILES: [(&str, &str); 5] = [
    (
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  labels:\n    app: web\ndata:\n  a: ${var}\n",
    ),
    (
        "deploy.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n        - name: web\n          image: nginx\n",
    ),
    (
        "svc.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n    - port: 80\n",
    ),
    (
        "ns.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n",
    ),
    (
        "list.yaml",
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: v1\n    kind: Secret\n    metadata:\n      name: token\n  - apiVersion: v1\n    kind: ServiceAccount\n    metadata:\n      name: runner\n",
    ),
];

const PATCHES: [&str; 8] = [
    // strategic merge
    "  - patch: |\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata:\n        name: web\n      spec:\n        replicas: 3\n",
    // delete
    "  - patch: |\n      $patch: delete\n      apiVersion: v1\n      kind: Service\n      metadata:\n        name: web\n",
    // JSON 6902 with a target regex
    "  - target:\n      kind: Config.*\n    patch: |\n      - op: add\n        path: /data/b\n        value: c\n",
    // JSON 6902 copy (doubling)
    "  - target:\n      kind: ConfigMap\n    patch: |\n      - op: copy\n        from: /data\n        path: /data/again\n      - op: copy\n        from: /data\n        path: /data/more\n",
    // a target selecting nothing
    "  - target:\n      name: nothing-here\n    patch: |\n      - op: remove\n        path: /spec\n",
    // an invalid regex
    "  - target:\n      name: \"(bad\"\n    patch: |\n      - op: add\n        path: /x\n        value: 1\n",
    // a patch file (maybe missing)
    "  - path: patch.yaml\n",
    // a label-selected target
    "  - target:\n      labelSelector: app=web\n    patch: |\n      - op: add\n        path: /metadata/annotations\n        value: {seen: \"yes\"}\n",
];

#[derive(Debug, Clone)]
struct Kust {
    component: bool,
    resources: Vec<(bool, usize)>,
    components: Vec<usize>,
    patches: Vec<usize>,
    namespace: Option<usize>,
    prefix: Option<usize>,
    labels: bool,
}

fn kust() -> impl Strategy<Value = Kust> {
    (
        prop::bool::weighted(0.2),
        prop::collection::vec((any::<bool>(), 0usize..7), 0..5),
        prop::collection::vec(0usize..6, 0..3),
        prop::collection::vec(0usize..PATCHES.len(), 0..3),
        prop::option::of(0usize..3),
        prop::option::of(0usize..3),
        any::<bool>(),
    )
        .prop_map(
            |(component, resources, components, patches, namespace, prefix, labels)| Kust {
                component,
                resources,
                components,
                patches,
                namespace,
                prefix,
                labels,
            },
        )
}

#[derive(Debug, Clone)]
struct Tree {
    /// A kustomization per directory, or none.
    kustomizations: Vec<Option<Kust>>,
    /// Which plain files each directory holds.
    files: Vec<Vec<usize>>,
    /// A Flux Kustomization deploying directory N, with a substitution.
    flux: Option<(usize, bool)>,
}

fn tree() -> impl Strategy<Value = Tree> {
    (
        prop::collection::vec(prop::option::of(kust()), DIRS.len()),
        prop::collection::vec(prop::collection::vec(0usize..FILES.len(), 0..3), DIRS.len()),
        prop::option::of((0usize..DIRS.len() + 1, any::<bool>())),
    )
        .prop_map(|(kustomizations, files, flux)| Tree {
            kustomizations,
            files,
            flux,
        })
}

/// A path from `from` to directory or file `to` (sometimes missing, sometimes escaping).
fn reference(from: &str, target: usize, is_dir: bool) -> String {
    let up = "../".repeat(from.split('/').count());
    if is_dir {
        match DIRS.get(target) {
            Some(dir) => format!("{up}{dir}"),
            None if target == DIRS.len() => "../../../../outside".to_string(),
            None => "missing-dir".to_string(),
        }
    } else {
        match FILES.get(target) {
            Some((name, _)) => (*name).to_string(),
            None => "missing.yaml".to_string(),
        }
    }
}

fn write_tree(root: &Path, tree: &Tree) {
    let write = |path: &str, text: &str| {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    };
    for (index, dir) in DIRS.iter().enumerate() {
        for &file in &tree.files[index] {
            let (name, text) = FILES[file];
            write(&format!("{dir}/{name}"), text);
        }
        if index % 2 == 0 {
            write(
                &format!("{dir}/patch.yaml"),
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  patched: \"true\"\n",
            );
        }
        let Some(k) = &tree.kustomizations[index] else {
            continue;
        };
        let mut text = String::new();
        if k.component {
            text.push_str("apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n");
        }
        if !k.resources.is_empty() {
            text.push_str("resources:\n");
            for &(is_dir, target) in &k.resources {
                text.push_str(&format!("  - {}\n", reference(dir, target, is_dir)));
            }
        }
        if !k.components.is_empty() {
            text.push_str("components:\n");
            for &target in &k.components {
                text.push_str(&format!("  - {}\n", reference(dir, target, true)));
            }
        }
        if !k.patches.is_empty() {
            text.push_str("patches:\n");
            for &patch in &k.patches {
                text.push_str(PATCHES[patch]);
            }
        }
        if let Some(ns) = k.namespace {
            text.push_str(&format!("namespace: ns{ns}\n"));
        }
        if let Some(prefix) = k.prefix {
            text.push_str(&format!("namePrefix: p{prefix}-\n"));
        }
        if k.labels {
            text.push_str("commonLabels:\n  tier: web\n");
        }
        write(&format!("{dir}/kustomization.yaml"), &text);
    }
    if let Some((target, substitute)) = tree.flux {
        let path = DIRS.get(target).copied().unwrap_or("/");
        let post_build = if substitute {
            "  postBuild:\n    substitute:\n      var: value\n"
        } else {
            ""
        };
        write(
            "clusters/prod/apps.yaml",
            &format!(
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: flux-system\nspec:\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  path: ./{path}\n  targetNamespace: flux-target\n{post_build}"
            ),
        );
    }
}

fn check(tree: &Tree) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join(".git")).unwrap();
    write_tree(dir.path(), tree);
    let loaded = load(
        &[Input::Path(dir.path().to_path_buf())],
        &WalkOptions::default(),
    );
    let output = kustomize::build(&loaded);
    let input_files = loaded.sources.files.len();
    for issue in &output.issues {
        let source = loaded.sources.get(issue.location.file);
        prop_assert!(source.is_some(), "issue in an unknown file: {issue:?}");
        let text_len = source.map_or(0, |s| s.text.len());
        prop_assert!(issue.location.span.end.byte as usize <= text_len);
    }
    let mut total = 0;
    for view in &output.views {
        total += view.objects.len();
        prop_assert!(view.objects.len() <= xks_lint::limits::MAX_ROOT_OBJECTS);
        // Invariants of kustomize's transformers, checked where the root's own
        // kustomization (not a Flux one) sets them.
        let Some(index) = DIRS.iter().position(|d| view.dir == dir.path().join(d)) else {
            continue;
        };
        let Some(k) = &tree.kustomizations[index] else {
            continue;
        };
        let flux_deployed = tree.flux.is_some_and(|(t, _)| t == index);
        for built in &view.objects {
            let node = built.node.to_json();
            let kind = node["kind"].as_str().unwrap_or_default().to_string();
            let namespace = node["metadata"]["namespace"].as_str();
            if let Some(ns) = k.namespace
                && !flux_deployed
                && !CLUSTER_SCOPED_KINDS.contains(&kind.as_str())
            {
                let expected = format!("ns{ns}");
                prop_assert_eq!(namespace, Some(expected.as_str()), "{:?}", node);
            }
            if let Some(prefix) = k.prefix
                && kind != "Namespace"
            {
                let name = node["metadata"]["name"].as_str().unwrap_or_default();
                prop_assert!(name.starts_with(&format!("p{prefix}-")), "{node:?}");
            }
            if flux_deployed && !CLUSTER_SCOPED_KINDS.contains(&kind.as_str()) {
                prop_assert_eq!(namespace, Some("flux-target"));
            }
        }
    }
    // Tiny inputs stay tiny: 5 kustomizations over at most 15 files.
    prop_assert!(total <= 4096, "{total} objects from {input_files} files");
    // Moving single-use trees into their build changes nothing it hands on, and leaves
    // every other loaded document as it was.
    let mut moving = load(
        &[Input::Path(dir.path().to_path_buf())],
        &WalkOptions::default(),
    );
    let moved = kustomize::build_moving(&mut moving);
    prop_assert_eq!(format!("{:?}", moved.views), format!("{:?}", output.views));
    prop_assert_eq!(
        format!("{:?}", moved.issues),
        format!("{:?}", output.issues)
    );
    prop_assert_eq!(&moved.consumed, &output.consumed);
    let mut left = moving.documents.iter().peekable();
    for original in &loaded.documents {
        match left.peek() {
            Some(d) if (d.file, d.index) == (original.file, original.index) => {
                prop_assert_eq!(format!("{:?}", d.root), format!("{:?}", original.root));
                left.next();
            }
            _ => prop_assert!(output.consumed.contains(&original.file)),
        }
    }
    prop_assert!(left.next().is_none());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(96),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_kustomization_trees_build_within_bounds(tree in tree()) {
        check(&tree)?;
    }
}

/// The whole pipeline (model, graph, rules) on a few random trees as well.
#[test]
fn random_trees_survive_the_whole_pipeline() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    for _ in 0..12 {
        let tree = tree().new_tree(&mut runner).unwrap().current();
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join(".git")).unwrap();
        write_tree(dir.path(), &tree);
        let analysis = xks_lint::analyze(&xks_lint::CheckOptions {
            inputs: vec![Input::Path(dir.path().to_path_buf())],
            ..xks_lint::CheckOptions::default()
        });
        assert!(analysis.model.objects.len() <= 4096);
    }
}
