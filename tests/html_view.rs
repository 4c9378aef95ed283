//! `connectivity --format html` (issue 20): the page is self-contained and safe with hostile
//! names, and, in a real browser (headless Chromium; skipped with a `SKIPPED:` message when
//! none is installed), it renders the example repository and a generated 500-workload one
//! without console errors, honours filters given in the URL fragment, and is saved as a
//! screenshot (`target/html-view/*.png`).
//!
//! The page reports on itself: after each render it writes a JSON status (state, nodes and
//! edge labels shown, errors caught from `window.onerror` and `console.error`) into
//! `#xks-status`, which `chromium --dump-dom` prints.

mod common;
#[path = "../benches/support/corpus.rs"]
mod corpus;

use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;
use sha2::{Digest, Sha256};

fn xks_lint() -> Command {
    Command::cargo_bin("xks-lint").unwrap()
}

/// Writes the page of `repo` to `out` and returns it.
fn page(repo: &Path, out: &Path, extra: &[&str]) -> String {
    xks_lint()
        .arg("connectivity")
        .arg(repo)
        .args(["--format", "html", "--output"])
        .arg(out)
        .args(extra)
        .assert()
        .code(0);
    std::fs::read_to_string(out).unwrap()
}

/// The embedded data, parsed.
fn data(page: &str) -> serde_json::Value {
    let start = page
        .find("<script type=\"application/json\" id=\"xks-data\">")
        .unwrap();
    let rest = &page[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find("</script>").unwrap();
    serde_json::from_str(&rest[open..close]).unwrap()
}

#[test]
fn vendored_library_is_the_pinned_release() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let library = std::fs::read(root.join("vendor/cytoscape/cytoscape.min.js")).unwrap();
    let digest: String = Sha256::digest(&library)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let readme = std::fs::read_to_string(root.join("vendor/README.md")).unwrap();
    assert!(
        readme.contains(&digest),
        "vendor/README.md does not list sha256 {digest}"
    );
    let text = String::from_utf8(library).unwrap();
    assert!(!text.to_ascii_lowercase().contains("</script"));
    assert!(!text.contains("<!--"));
    assert!(
        !text
            .chars()
            .any(|c| xks_lint::report::sanitize::is_unsafe(c) && c != '\n' && c != '\t')
    );
    assert!(
        std::fs::read_to_string(root.join("vendor/cytoscape/LICENSE"))
            .unwrap()
            .contains("Permission is hereby granted")
    );
}

#[test]
fn page_of_the_example_repository_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let html = page(
        Path::new("fixtures/xks-tenant-repo"),
        &dir.path().join("view.html"),
        &[],
    );
    // Nothing is loaded from elsewhere, and the policy forbids it.
    for fetch in ["src=\"http", "href=\"http", "src=\"//", "@import", "url("] {
        assert!(!html.contains(fetch), "{fetch}");
    }
    assert!(html.contains("Content-Security-Policy\" content=\"default-src 'none'"));
    let data = data(&html);
    let labels: Vec<&str> = data["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["short"].as_str().unwrap())
        .collect();
    assert!(
        labels.contains(&"10.0.0.10/32, 169.254.20.10/32"),
        "{labels:?}"
    );
    let rules: Vec<&str> = data["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["rule"].as_str().unwrap())
        .collect();
    for rule in [
        "missing-ingress-pair",
        "missing-egress-pair",
        "ingress-backend-blocked",
    ] {
        assert!(rules.contains(&rule), "{rule}: {rules:?}");
    }
    let at: Vec<&str> = data["blocked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["at"].as_str().unwrap())
        .collect();
    assert!(at.contains(&"fixtures/xks-tenant-repo/apps/api/egress.yaml:30:11"));
    // XKS's intra-namespace default is counted, not listed: tenant-a's 3 workloads, 6 pairs.
    let tenant_a = data["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "tenant-a")
        .unwrap();
    assert_eq!(tenant_a["default_pairs"], 6);
    // Every edge's explanation cites the policies with their locations.
    let lines = data["why_lines"].as_array().unwrap();
    let why: Vec<String> = data["why"]
        .as_array()
        .unwrap()
        .iter()
        .map(|refs| {
            refs.as_array()
                .unwrap()
                .iter()
                .map(|i| lines[i.as_u64().unwrap() as usize].as_str().unwrap())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    assert!(
        why.iter().any(
            |w| w.contains("allowed by NetworkPolicy tenant-a/allow-egress-to-reports")
                && w.contains("egress.yaml:")
        ),
        "{why:?}"
    );
}

#[test]
fn hostile_names_stay_data() {
    let dir = tempfile::tempdir().unwrap();
    // YAML's double-quoted escapes: a right-to-left override in the middle.
    let name = r#""x</script><script>alert(1)</script>\u202e&#60;##[y""#;
    let yaml = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {name}\nspec:\n  selector:\n    matchLabels: {{app: a}}\n  template:\n    metadata:\n      labels: {{app: a}}\n    spec:\n      containers: [{{name: c, image: i}}]\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: other\n  namespace: {name}\nspec:\n  selector:\n    matchLabels: {{app: b}}\n  template:\n    metadata:\n      labels: {{app: b}}\n    spec:\n      containers: [{{name: c, image: i}}]\n"
    );
    std::fs::write(dir.path().join("app.yaml"), yaml).unwrap();
    let html = page(dir.path(), &dir.path().join("view.html"), &[]);
    // Our three scripts end the only script elements; the names are escaped data.
    assert_eq!(html.matches("</script>").count(), 3);
    assert_eq!(html.matches("<script").count(), 3);
    assert!(!html.contains("alert(1)</"));
    assert!(
        !html
            .chars()
            .any(|c| xks_lint::report::sanitize::is_unsafe(c) && c != '\n' && c != '\t')
    );
    let data = data(&html);
    let labels: Vec<String> = data["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["label"].as_str().unwrap().to_string())
        .collect();
    // The namespace reads back (bidi control visible as an escape, as in every format).
    assert!(
        labels
            .iter()
            .any(|l| l.contains("x</script><script>alert(1)</script>\\u{202e}&#60;##[y")),
        "{labels:?}"
    );
}

// ---- in a browser ---------------------------------------------------------------------

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Runs headless Chromium with `args` and the page URL, killed after two minutes.
fn run_chromium(browser: &Path, profile: &Path, args: &[String], url: &str) -> String {
    let mut child = Process::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=15000",
            "--window-size=1500,900",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).ok();
        text
    });
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().ok();
            child.wait().ok();
            panic!("chromium did not finish within 2 minutes: {url}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    reader.join().unwrap()
}

/// The page's own status after it rendered `file#fragment`.
fn status(browser: &Path, profile: &Path, file: &Path, fragment: &str) -> serde_json::Value {
    let url = format!("file://{}#{fragment}", file.display());
    let dom = run_chromium(browser, profile, &["--dump-dom".to_string()], &url);
    let start = dom
        .find("id=\"xks-status\"")
        .unwrap_or_else(|| panic!("no status element in the DOM of {url}"));
    let rest = &dom[start..];
    let open = rest.find('>').unwrap() + 1;
    let close = rest.find("</div>").unwrap();
    let text = rest[open..close]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let value: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: status {text:?}: {e}"));
    assert_eq!(value["state"], "ready", "{url}: {value}");
    assert_eq!(value["errors"], serde_json::json!([]), "{url}");
    value
}

fn strings(value: &serde_json::Value, key: &str) -> Vec<String> {
    value[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Where screenshots go: `target/html-view/`, kept for people to look at.
fn screenshot(browser: &Path, profile: &Path, file: &Path, fragment: &str, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/html-view");
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join(name);
    let _ = std::fs::remove_file(&png);
    run_chromium(
        browser,
        profile,
        &[format!("--screenshot={}", png.display())],
        &format!("file://{}#{fragment}", file.display()),
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{}",
        png.display()
    );
}

#[test]
fn renders_and_filters_in_a_browser() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: no Chromium on PATH (apt-get install chromium)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("profile");

    // The example repository: small, so every namespace starts expanded.
    let example = dir.path().join("example.html");
    page(Path::new("fixtures/xks-tenant-repo"), &example, &[]);
    let all = status(&browser, &profile, &example, "");
    let labels = strings(&all, "labels");
    for wanted in [
        "worker[Deployment]",
        "reports[Deployment]",
        "{ingress-controller}",
        "10.0.0.10/32, 169.254.20.10/32",
    ] {
        assert!(labels.iter().any(|l| l == wanted), "{wanted}: {labels:?}");
    }
    assert!(all["blocked"].as_u64().unwrap() >= 4, "{all}");
    let edges = strings(&all, "edgeLabels");
    assert!(
        edges
            .iter()
            .any(|e| e.starts_with("api[Deployment] -> reports[Deployment] : BLOCKED TCP 8080")),
        "{edges:?}"
    );
    assert!(edges.iter().any(|e| e.contains("XKS default")), "{edges:?}");

    // Filter by namespace: tenant-b and what touches it; worker has nothing to do with it.
    let tenant_b = status(&browser, &profile, &example, "ns=tenant-b");
    let labels = strings(&tenant_b, "labels");
    assert!(
        labels.iter().any(|l| l == "reports[Deployment]"),
        "{labels:?}"
    );
    assert!(labels.iter().any(|l| l == "api[Deployment]"), "{labels:?}");
    assert!(
        !labels.iter().any(|l| l == "worker[Deployment]"),
        "{labels:?}"
    );
    assert!(tenant_b["nodes"].as_u64() < all["nodes"].as_u64());

    // Filter by port: DNS lines go, what carries 3000 stays.
    let port = status(&browser, &profile, &example, "port=3000");
    let edges = strings(&port, "edgeLabels");
    assert!(
        !edges.iter().any(|e| e.ends_with("TCP 53;UDP 53")),
        "{edges:?}"
    );
    assert!(
        edges.iter().any(|e| e.contains("BLOCKED TCP 3000")),
        "{edges:?}"
    );

    // Toggles: no intra-namespace default, only cross-namespace.
    let cross = status(&browser, &profile, &example, "cross=1&hide=1");
    let edges = strings(&cross, "edgeLabels");
    assert!(
        !edges.iter().any(|e| e.contains("XKS default")),
        "{edges:?}"
    );
    assert!(
        !edges
            .iter()
            .any(|e| e.starts_with("api[Deployment] -> worker[Deployment]")),
        "{edges:?}"
    );
    // Clicking a pair shows why: the blocked pair's finding and the rules with locations.
    let blocked = status(&browser, &profile, &example, "show=blocked:0");
    let details = blocked["details"].as_str().unwrap();
    for wanted in [
        "missing-ingress-pair",
        "fixtures/xks-tenant-repo/apps/api/egress.yaml:30:11",
        "allowed by NetworkPolicy tenant-a/allow-egress-to-reports",
        "ingress to the destination",
    ] {
        assert!(details.contains(wanted), "{wanted}: {details}");
    }
    screenshot(&browser, &profile, &example, "", "example.png");

    // A generated 500-workload repository: starts collapsed to its namespaces.
    let repo = dir.path().join("corpus");
    corpus::generate(&repo, 10, 500, 1).unwrap();
    let big = dir.path().join("big.html");
    let html = page(&repo, &big, &[]);
    assert_eq!(
        data(&html)["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "workload")
            .count(),
        500
    );
    let collapsed = status(&browser, &profile, &big, "");
    let nodes = collapsed["nodes"].as_u64().unwrap();
    assert!((10..100).contains(&nodes), "{collapsed}");
    let expanded = status(&browser, &profile, &big, "expand=all");
    assert!(
        expanded["nodes"].as_u64().unwrap() >= 510,
        "{}",
        expanded["nodes"]
    );
    let one = status(&browser, &profile, &big, "ns=tenant-00&expand=tenant-00");
    let labels = strings(&one, "labels");
    assert!(labels.iter().any(|l| l.starts_with("app-")), "{labels:?}");
    assert!(one["nodes"].as_u64() < expanded["nodes"].as_u64());
    screenshot(&browser, &profile, &big, "", "generated-500.png");
}

fn git(dir: &Path, args: &[&str]) {
    let output = Process::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}");
}

/// `--changed-since REV`: the page carries what `diff` finds, and shows only that on request.
#[test]
fn changes_since_a_revision_are_marked() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo");
    common::copy_dir(Path::new("fixtures/xks-tenant-repo"), &repo);
    git(&repo, &["init", "-q"]);
    git(&repo, &["config", "user.email", "test@example.com"]);
    git(&repo, &["config", "user.name", "test"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "base"]);
    git(&repo, &["branch", "-q", "base"]);
    // The missing ingress half of api -> reports, added.
    let reports = repo.join("tenant-b/reports.yaml");
    let mut text = std::fs::read_to_string(&reports).unwrap();
    text.push_str("---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: allow-from-tenant-a\n  namespace: tenant-b\nspec:\n  podSelector: {}\n  policyTypes: [Ingress]\n  ingress:\n    - from:\n        - namespaceSelector:\n            matchLabels:\n              name: tenant-a\n");
    std::fs::write(&reports, text).unwrap();
    let out = dir.path().join("view.html");
    let html = page(&repo, &out, &["--changed-since", "base"]);
    let data = data(&html);
    let changes = data["diff"]["changes"].as_array().unwrap();
    let label = |i: &serde_json::Value| {
        data["nodes"][i.as_u64().unwrap() as usize]["label"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let opened: Vec<(String, String, String)> = changes
        .iter()
        .filter(|c| c["kind"] == "opened")
        .map(|c| {
            (
                label(&c["src"]),
                label(&c["dst"]),
                c["conns"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        opened,
        [(
            "tenant-a/api[Deployment]".to_string(),
            "tenant-b/reports[Deployment]".to_string(),
            "TCP 8080".to_string()
        )]
    );
    // Without a change, nothing is marked; other formats refuse the flag.
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "pair"]);
    let html = page(&repo, &out, &["--changed-since", "HEAD"]);
    assert_eq!(self::data(&html)["diff"]["changes"], serde_json::json!([]));
    xks_lint()
        .arg("connectivity")
        .arg(&repo)
        .args(["--changed-since", "HEAD"])
        .assert()
        .code(2);

    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: no Chromium on PATH (apt-get install chromium)");
        return;
    };
    page(&repo, &out, &["--changed-since", "base"]);
    let shown = status(&browser, &dir.path().join("profile"), &out, "changed=1");
    assert_eq!(
        strings(&shown, "edgeLabels"),
        ["api[Deployment] -> reports[Deployment] : OPENED TCP 8080"]
    );
}
