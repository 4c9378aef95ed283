//! End-to-end `analyze` on a generated tenant repository (load → model → rules).

use std::fmt::Write;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use xks_lint::load::Input;
use xks_lint::{CheckOptions, analyze};

fn write_repo(root: &Path, namespaces: usize, apps_per_namespace: usize) {
    for ns in 0..namespaces {
        let dir = root.join(format!("tenant-{ns}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("kustomization.yaml"),
            format!("namespace: tenant-{ns}\n"),
        )
        .unwrap();
        for app in 0..apps_per_namespace {
            let mut text = String::new();
            let _ = write!(
                text,
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{app}\n  annotations:\n    linkerd.io/inject: enabled\nspec:\n  selector:\n    matchLabels: {{app: app-{app}}}\n  template:\n    metadata:\n      labels: {{app: app-{app}, tier: \"{app}\"}}\n    spec:\n      containers:\n        - name: app\n          image: example/app:{app}\n          ports: [{{name: http, containerPort: 8080}}]\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: app-{app}\nspec:\n  selector: {{app: app-{app}}}\n  ports: [{{port: 80, targetPort: http}}]\n---\napiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: app-{app}\n  annotations:\n    nginx.ingress.kubernetes.io/limit-connections: \"10\"\n    nginx.ingress.kubernetes.io/limit-rps: \"5\"\nspec:\n  rules:\n    - host: app-{app}.tenant-{ns}.example.com\n"
            );
            std::fs::write(dir.join(format!("app-{app}.yaml")), text).unwrap();
        }
    }
}

fn bench_check(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    write_repo(dir.path(), 20, 50);
    let options = CheckOptions {
        inputs: vec![Input::Path(dir.path().to_path_buf())],
        ..CheckOptions::default()
    };
    c.bench_function("check 1000 files / 3000 objects", |b| {
        b.iter(|| analyze(&options))
    });
}

criterion_group!(benches, bench_check);
criterion_main!(benches);
