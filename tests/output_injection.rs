//! Issue 14, item 2: no control character, bidi control or workflow command from the
//! repository reaches any output raw. A hostile repository (names, labels, annotations,
//! namespaces, hosts, file and directory names, config values) is run through every
//! subcommand and every format; stdout and stderr of each run are checked line by line.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

mod common;
use common::{Kind, assert_lines_intact, check_output, markdown_cells};

/// Everything an attacker would put in a value, as a YAML double-quoted scalar body:
/// ESC sequences, BEL, CR, LF, forged workflow commands (new and legacy form), bidi
/// override and isolate, line separator, C1 CSI, DEL.
const HOSTILE_YAML: &str = r#"x\e[31mRED\e]8;;http://evil\a\r\n::error::forged\n  ::add-mask::secret\u202Eevil\u2066i\u2028L\x9b2J\x7f##[set-output name=a]b"#;

/// `HOSTILE_YAML` as the parser reads it.
const HOSTILE_VALUE: &str = "x\u{1b}[31mRED\u{1b}]8;;http://evil\u{7}\r\n::error::forged\n  ::add-mask::secret\u{202e}evil\u{2066}i\u{2028}L\u{9b}2J\u{7f}##[set-output name=a]b";

/// The same value for file names (no `/`; NUL is impossible).
const HOSTILE_NAME: &str =
    "f\u{1b}[31m\u{7}\r\n::error::forged-file\n::add-mask::m\u{202e}\u{2029}\u{9b}";

fn manifests(ns: &str) -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: "web{h}"
  namespace: "{ns}"
  labels:
    app: "{h}"
  annotations:
    "note{h}": "{h}"
spec:
  selector:
    matchLabels:
      app: "{h}"
  template:
    metadata:
      labels:
        app: "{h}"
    spec:
      containers:
        - name: web
          image: "nginx{h}"
          ports:
            - name: "http"
              containerPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: client
  namespace: other
spec:
  selector:
    matchLabels:
      app: client
  template:
    metadata:
      labels:
        app: client
    spec:
      containers:
        - name: c
          image: busybox
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: "allow{h}"
  namespace: "{ns}"
spec:
  podSelector:
    matchLabels:
      app: "{h}"
  policyTypes: [Ingress, Egress]
  ingress:
    - from:
        - namespaceSelector:
            matchLabels:
              name: "other{h}"
        - podSelector:
            matchLabels:
              "app{h}": "{h}"
      ports:
        - port: "named{h}"
    - from:
        - ipBlock:
            cidr: 0.0.0.0/0
  egress:
    - to:
        - ipBlock:
            cidr: "10.0.0.0/8{h}"
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: open
  namespace: other
spec:
  podSelector: {{}}
  policyTypes: [Egress]
  egress:
    - to:
        - namespaceSelector:
            matchLabels:
              name: "{ns}"
---
apiVersion: v1
kind: Service
metadata:
  name: "svc{h}"
  namespace: "{ns}"
spec:
  selector:
    app: "{h}"
  ports:
    - port: 80
      targetPort: "http{h}"
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: "ing{h}"
  namespace: "{ns}"
  annotations:
    cert-manager.io/cluster-issuer: "letsencrypt{h}"
    kubernetes.io/ingress.class: "nginx{h}"
spec:
  tls:
    - hosts: ["a{h}.example.com", "b.example.com"]
      secretName: "tls{h}"
  rules:
    - host: "a{h}.example.com"
      http:
        paths:
          - path: "/{h}"
            pathType: Prefix
            backend:
              service:
                name: "svc{h}"
                port:
                  number: 80
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: "cert{h}"
  namespace: "{ns}"
spec:
  secretName: "s{h}"
  issuerRef:
    name: letsencrypt
    kind: ClusterIssuer
  dnsNames: ["c{h}.example.org", "example.org"]
"#,
        h = HOSTILE_YAML
    )
}

/// The hostile repository: hostile values in every field, a hostile namespace, hostile
/// file and directory names, a parse error after hostile bytes, a kustomization whose
/// namespace and name prefix are hostile.
fn hostile_repo(root: &Path) {
    let ns = format!("ns{HOSTILE_YAML}");
    fs::write(root.join("app.yaml"), manifests(&ns)).unwrap();
    let dir = root.join(format!("dir{HOSTILE_NAME}"));
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join(format!("{HOSTILE_NAME}.yaml")),
        manifests("plain").replace("name: client", "name: client2"),
    )
    .unwrap();
    fs::write(
        root.join(format!("broken{HOSTILE_NAME}.yaml")),
        "a: \u{1b}[2J\u{7}\u{202e}\n::error::in-snippet\n  b: [\n",
    )
    .unwrap();
    // Left out (hidden), listed by `--verbose`.
    let hidden = root.join(format!(".hidden{HOSTILE_NAME}"));
    fs::create_dir_all(&hidden).unwrap();
    fs::write(hidden.join(format!("{HOSTILE_NAME}.yaml")), manifests("h")).unwrap();
    let kust = root.join("kust");
    fs::create_dir_all(&kust).unwrap();
    fs::write(
        kust.join("kustomization.yaml"),
        format!(
            "namespace: \"k{HOSTILE_YAML}\"\nnamePrefix: \"p{HOSTILE_YAML}-\"\nresources:\n  - res.yaml\n  - \"missing{HOSTILE_YAML}.yaml\"\n"
        ),
    )
    .unwrap();
    fs::write(
        kust.join("res.yaml"),
        manifests("x").replace("name: client", "name: client3"),
    )
    .unwrap();
}

struct Run {
    args: Vec<String>,
    kind: Kind,
    /// Whether repository values must show in stdout (so the check above is not vacuous).
    shows_values: bool,
}

fn run(args: &[&str], kind: Kind, shows_values: bool) -> Run {
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        kind,
        shows_values,
    }
}

/// Every subcommand and every format.
fn every_run() -> Vec<Run> {
    let mut runs = Vec::new();
    // `render` prints YAML: control characters inside scalars come out as YAML
    // double-quoted escapes (checked below), JSON as JSON escapes.
    runs.push(run(&["render", "."], Kind::Text, false));
    runs.push(run(&["render", ".", "--format", "json"], Kind::Json, true));
    for format in ["human", "json", "sarif", "github", "gitlab"] {
        let kind = match format {
            "human" => Kind::Text,
            "github" => Kind::Github,
            _ => Kind::Json,
        };
        runs.push(run(
            &["check", ".", "--format", format, "--fail-on", "never"],
            kind,
            true,
        ));
    }
    runs.push(run(
        &["check", ".", "--color", "always", "--fail-on", "never"],
        Kind::Styled,
        true,
    ));
    runs.push(run(
        &[
            "check",
            ".",
            "--no-kustomize",
            "--timings",
            "--verbose",
            "--fail-on",
            "never",
        ],
        Kind::Text,
        true,
    ));
    for semantics in ["xks", "vanilla"] {
        for format in ["txt", "json", "csv", "dot", "mermaid"] {
            let kind = if format == "json" {
                Kind::Json
            } else {
                Kind::Text
            };
            runs.push(run(
                &[
                    "connectivity",
                    ".",
                    "--no-kustomize",
                    "--semantics",
                    semantics,
                    "--format",
                    format,
                ],
                kind,
                true,
            ));
        }
    }
    runs.push(run(&["certs", "."], Kind::Text, true));
    runs.push(run(&["certs", ".", "--format", "json"], Kind::Json, true));
    runs.push(run(&["check", ".", "--diff"], Kind::Patch, false));
    runs.push(run(&["rules"], Kind::Text, false));
    runs.push(run(&["explain", "missing-ingress-pair"], Kind::Text, false));
    runs
}

fn shows_hostile_value(stdout: &str, kind: Kind) -> bool {
    match kind {
        Kind::Json => stdout.contains("\\u001b[31mRED"),
        Kind::Github | Kind::Text | Kind::Styled | Kind::Patch => stdout.contains("\\u{1b}[31mRED"),
    }
}

#[test]
fn no_output_of_any_command_carries_repository_controls() {
    if let Some(keep) = std::env::var_os("KEEP_HOSTILE_REPO") {
        let _ = fs::create_dir_all(&keep);
        hostile_repo(Path::new(&keep));
    }
    let dir = tempfile::tempdir().unwrap();
    hostile_repo(dir.path());
    for run in every_run() {
        let what = run.args.join(" ");
        let output = Command::cargo_bin("xks-lint")
            .unwrap()
            .current_dir(dir.path())
            .args(&run.args)
            .timeout(std::time::Duration::from_secs(60))
            .output()
            .unwrap();
        assert!(
            output.status.code().is_some_and(|c| c <= 1),
            "{what}: exit {:?}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        check_output(&format!("{what} (stdout)"), &output.stdout, run.kind);
        assert_lines_intact(&format!("{what} (stdout)"), &output.stdout);
        check_output(&format!("{what} (stderr)"), &output.stderr, Kind::Text);
        assert_lines_intact(&format!("{what} (stderr)"), &output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        if run.args[0] == "render" && run.kind == Kind::Text {
            // The YAML escapes the values itself, so the guard never had to touch it
            // (which would change the data): no `##\[`, no neutralised line.
            assert!(
                stdout.contains(r"x\e[31mRED\e]8;;http://evil\a\r\n::error::forged\n"),
                "{stdout}"
            );
            assert!(stdout.contains(r"##\x5B"), "{stdout}");
            assert!(!stdout.contains(r"##\["), "{stdout}");
        }
        if run.shows_values {
            assert!(
                shows_hostile_value(&stdout, run.kind),
                "{what}: the hostile values never reached the output:\n{stdout}"
            );
        }
    }
}

#[test]
fn why_and_its_errors_escape_repository_names() {
    let dir = tempfile::tempdir().unwrap();
    hostile_repo(dir.path());
    let ns = format!("ns{HOSTILE_VALUE}");
    // The file in the hostile directory has the hostile workload in namespace `plain`.
    let workload = format!("plain/web{HOSTILE_VALUE}");
    let cases: [(Vec<String>, bool); 4] = [
        (
            vec!["why".into(), "other/client".into(), workload.clone()],
            true,
        ),
        (
            vec!["why".into(), workload.clone(), "10.1.2.3".into()],
            true,
        ),
        // Errors that echo the arguments and list the repository's names.
        (
            vec!["why".into(), format!("{ns}/nothing"), "other/client".into()],
            false,
        ),
        (
            vec![
                "why".into(),
                workload.clone(),
                "other/client".into(),
                "--port".into(),
                format!("80/{ns}"),
            ],
            false,
        ),
    ];
    for (args, shows) in cases {
        let what = args.join(" ");
        let output = Command::cargo_bin("xks-lint")
            .unwrap()
            .current_dir(dir.path())
            .args(&args)
            .args([".", "--no-kustomize"])
            .output()
            .unwrap();
        check_output(&format!("{what} (stdout)"), &output.stdout, Kind::Text);
        assert_lines_intact(&format!("{what} (stdout)"), &output.stdout);
        check_output(&format!("{what} (stderr)"), &output.stderr, Kind::Text);
        assert_lines_intact(&format!("{what} (stderr)"), &output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if shows {
            assert!(
                shows_hostile_value(&stdout, Kind::Text),
                "{what}:\n{stdout}\n{stderr}"
            );
        } else {
            assert!(stderr.contains("\\u{1b}[31mRED"), "{what}:\n{stderr}");
        }
    }
}

#[test]
fn config_errors_warnings_and_baseline_messages_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    hostile_repo(dir.path());
    // An unknown key and a bad value, both hostile: config errors quote them.
    let bad = dir.path().join("bad.yaml");
    fs::write(
        &bad,
        format!("\"k{HOSTILE_YAML}\": 1\nfail-on: \"{HOSTILE_YAML}\"\n"),
    )
    .unwrap();
    // A valid config whose environment pattern matches nothing: a warning quotes it.
    let warn = dir.path().join("warn.yaml");
    fs::write(
        &warn,
        format!("environments:\n  \"e{HOSTILE_YAML}\": [\"p{HOSTILE_YAML}\"]\n"),
    )
    .unwrap();
    let baseline = dir.path().join(format!("base{HOSTILE_NAME}.json"));
    let runs: Vec<(Vec<std::ffi::OsString>, Kind)> = vec![
        (
            vec![
                "check".into(),
                ".".into(),
                "--config".into(),
                bad.clone().into(),
            ],
            Kind::Text,
        ),
        (
            vec![
                "connectivity".into(),
                ".".into(),
                "--config".into(),
                bad.into(),
            ],
            Kind::Text,
        ),
        (
            vec!["check".into(), ".".into(), "--config".into(), warn.into()],
            Kind::Text,
        ),
        (
            vec![
                "check".into(),
                ".".into(),
                "--write-baseline".into(),
                baseline.clone().into(),
            ],
            Kind::Text,
        ),
        (
            vec![
                "check".into(),
                ".".into(),
                "--baseline".into(),
                baseline.clone().into(),
                "--format".into(),
                "json".into(),
            ],
            Kind::Json,
        ),
    ];
    let mut stderr_all = String::new();
    for (args, kind) in runs {
        let what = format!("{args:?}");
        let output = Command::cargo_bin("xks-lint")
            .unwrap()
            .current_dir(dir.path())
            .args(&args)
            .output()
            .unwrap();
        check_output(&format!("{what} (stdout)"), &output.stdout, kind);
        assert_lines_intact(&format!("{what} (stdout)"), &output.stdout);
        check_output(&format!("{what} (stderr)"), &output.stderr, Kind::Text);
        assert_lines_intact(&format!("{what} (stderr)"), &output.stderr);
        stderr_all.push_str(&String::from_utf8_lossy(&output.stderr));
    }
    assert!(
        stderr_all.contains("\\u{1b}[31mRED"),
        "the config's values never reached stderr:\n{stderr_all}"
    );
    // The baseline file is JSON whose strings read back to the original values.
    let written = fs::read_to_string(&baseline).unwrap();
    check_output("baseline file", written.as_bytes(), Kind::Json);
}

#[test]
fn the_github_step_summary_escapes_repository_values() {
    let dir = tempfile::tempdir().unwrap();
    hostile_repo(dir.path());
    let summary = dir.path().join("summary.md");
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(dir.path())
        .args(["check", ".", "--format", "github", "--fail-on", "never"])
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let bytes = fs::read(&summary).unwrap();
    check_output("step summary", &bytes, Kind::Text);
    assert_lines_intact("step summary", &bytes);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.contains("\\u{1b}\\[31mRED"), "{text}");
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| ")).collect();
    assert!(rows.len() > 3, "{text}");
    for row in rows {
        assert_eq!(markdown_cells(row).len(), 6, "a value split the row: {row}");
        assert!(!row.contains('<'), "{row}");
    }
}
