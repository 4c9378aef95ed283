//! The XKS guide's own NetworkPolicy examples, read from `../shared/corpus/xks-guide/`
//! next to workloads written here: the pair, the ingress-controller policy and the
//! internet-egress policy behave as the guide says.

mod common;

use std::path::{Path, PathBuf};

const GUIDE: &str = "../shared/corpus/xks-guide";

fn guide(file: &str) -> Option<PathBuf> {
    let path = Path::new(GUIDE).join(file);
    path.is_file().then_some(path)
}

fn deployment(namespace: &str, app: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\n  namespace: {namespace}\nspec:\n  template:\n    metadata:\n      labels:\n        app: {app}\n    spec:\n      containers:\n        - name: {app}\n          image: example/{app}:1\n          ports:\n            - name: http\n              containerPort: 8080\n---\n"
    )
}

fn rules_fired(extra: &str, guide_files: &[&Path]) -> Vec<&'static str> {
    let dir = tempfile::tempdir().unwrap();
    let workloads = dir.path().join("workloads.yaml");
    std::fs::write(&workloads, extra).unwrap();
    let mut paths: Vec<&Path> = guide_files.to_vec();
    paths.push(&workloads);
    let analysis = common::analyze_paths(&paths);
    analysis.diagnostics.iter().map(|d| d.rule).collect()
}

#[test]
fn cross_namespace_pair_needs_both_halves() {
    let (Some(egress), Some(ingress)) = (
        guide("03-networkpolicy-allow-egress-to-destination.yaml"),
        guide("04-networkpolicy-allow-ingress-from-source.yaml"),
    ) else {
        eprintln!("SKIPPED: {GUIDE} is not present next to the repository");
        return;
    };
    let workloads = deployment("source", "foo") + &deployment("destination", "bar");
    let both = rules_fired(&workloads, &[&egress, &ingress]);
    assert!(!both.contains(&"missing-ingress-pair"), "{both:?}");
    assert!(!both.contains(&"missing-egress-pair"), "{both:?}");
    assert!(rules_fired(&workloads, &[&egress]).contains(&"missing-ingress-pair"));
    assert!(rules_fired(&workloads, &[&ingress]).contains(&"missing-egress-pair"));
}

#[test]
fn allow_ingress_controller_opens_the_backend() {
    let Some(policy) = guide("02-networkpolicy-allow-ingress-controller.yaml") else {
        eprintln!("SKIPPED: {GUIDE} is not present next to the repository");
        return;
    };
    // The guide's policy sets no namespace: everything here lands in `default`.
    let app = deployment("default", "foo")
        + "apiVersion: v1\nkind: Service\nmetadata:\n  name: foo\nspec:\n  selector:\n    app: foo\n  ports:\n    - name: http\n      port: 80\n      targetPort: http\n---\n"
        + "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: foo\nspec:\n  rules:\n    - host: foo.example.com\n      http:\n        paths:\n          - path: /\n            pathType: Prefix\n            backend:\n              service:\n                name: foo\n                port:\n                  name: http\n";
    assert!(!rules_fired(&app, &[&policy]).contains(&"ingress-backend-blocked"));
    assert!(rules_fired(&app, &[]).contains(&"ingress-backend-blocked"));
}

#[test]
fn allow_internet_egress_includes_the_metadata_endpoint() {
    let Some(policy) = guide("01-networkpolicy-allow-internet-egress.yaml") else {
        eprintln!("SKIPPED: {GUIDE} is not present next to the repository");
        return;
    };
    assert!(
        rules_fired(&deployment("default", "foo"), &[&policy])
            .contains(&"egress-to-metadata-endpoint")
    );
}
