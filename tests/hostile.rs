//! Hostile input, generated here (never committed): each case gives a located
//! finding or a counted skip, never a panic or a hang, and a good file in the
//! same run is still analysed.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

const GOOD: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: good
  annotations:
    linkerd.io/inject: enabled
spec:
  template:
    metadata:
      labels: {app: good}
";

fn configmap_with_label(value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  labels:\n    v: {value}\n")
}

/// Minified JSON: thousands of Ingresses, each found by a rule, on one line of ~0.8 MB with
/// non-ASCII text in it. Columns there come from the file's column index (long-line starts
/// and character marks); counting back to the line's start for each finding was quadratic.
const ONE_LINE_INGRESSES: usize = 4000;

fn one_line_list() -> String {
    let items: Vec<String> = (0..ONE_LINE_INGRESSES)
        .map(|i| {
            format!(
                r#"{{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{{"name":"i{i}","annotations":{{"note":"é"}}}},"spec":{{"ingressClassName":"nginx","rules":[{{"host":"h{i}.example.com"}}]}}}}"#
            )
        })
        .collect();
    format!(
        r#"{{"apiVersion":"v1","kind":"List","items":[{}]}}"#,
        items.join(",")
    )
}

fn write_cases(dir: &Path) {
    let write = |name: &str, bytes: &[u8]| fs::write(dir.join(name), bytes).unwrap();
    write("00-good.yaml", GOOD.as_bytes());

    let mut bomb = String::from(
        "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for (level, name) in ["b", "c", "d", "e", "f", "g", "h", "i", "j"]
        .iter()
        .enumerate()
    {
        let previous = if level == 0 {
            "a"
        } else {
            ["b", "c", "d", "e", "f", "g", "h", "i"][level - 1]
        };
        bomb.push_str(&format!(
            "{name}: &{name} [{}]\n",
            vec![format!("*{previous}"); 9].join(",")
        ));
    }
    write("alias-bomb.yaml", bomb.as_bytes());
    write(
        "deep.yaml",
        format!("a: {}{}\n", "[".repeat(10_000), "]".repeat(10_000)).as_bytes(),
    );
    write(
        "deep-block.yaml",
        (0..1_000)
            .map(|i| format!("{}k:\n", " ".repeat(i)))
            .collect::<String>()
            .as_bytes(),
    );
    // Sparse: the size is what the loader must refuse on, and a 50 MiB file of real
    // blocks per test would only spend the runner's disk.
    fs::File::create(dir.join("huge.yaml"))
        .and_then(|file| file.set_len(50 * 1024 * 1024))
        .unwrap();
    write("invalid-utf8.yaml", &[b'a', b':', b' ', 0xC3, 0x28, b'\n']);
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in configmap_with_label("1").encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    write("utf16.yaml", &utf16);
    write(
        "utf8-bom.yaml",
        format!("\u{feff}{}", configmap_with_label("2")).as_bytes(),
    );
    write(
        "crlf.yaml",
        configmap_with_label("3").replace('\n', "\r\n").as_bytes(),
    );
    write(
        "tabs.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: tab\n",
    );
    write("nul.yaml", b"apiVersion: v1\nkind: Conf\0igMap\n");
    write("binary.yaml", &[0x7f, b'E', b'L', b'F', 0, 0, 0xff, 0xfe]);
    write("empty.yaml", b"");
    write("comments.yaml", b"# nothing\n# here\n");
    write("dashes.yaml", b"---\n");
    write(
        "doc-end.yaml",
        format!("{}...\n", configmap_with_label("\"ok\"")).as_bytes(),
    );
    write(
        "duplicate-keys.yaml",
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n",
    );
    write("merge-keys.yaml", b"base: &base {app: x, tier: \"1\"}\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: merged\n  labels:\n    <<: *base\n    extra: on\n");
    write("octal.yaml", configmap_with_label("0755").as_bytes());
    write(
        "huge-int.yaml",
        configmap_with_label("123456789012345678901234567890").as_bytes(),
    );
    write("one-line.json", one_line_list().as_bytes());
    write(
        "long-line.yaml",
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: long\ndata:\n  k: {}\n",
            "x".repeat(100_000)
        )
        .as_bytes(),
    );
}

#[cfg(unix)]
fn write_unix_cases(dir: &Path, outside: &Path) {
    use std::os::unix::fs::symlink;
    symlink("loop.yaml", dir.join("loop.yaml")).unwrap();
    symlink("../elsewhere/secret.yaml", dir.join("outside.yaml")).unwrap();
    fs::write(outside.join("secret.yaml"), GOOD).unwrap();
    let fifo = dir.join("fifo.yaml");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(status.is_ok_and(|s| s.success()), "mkfifo failed");
}

/// A temporary directory holding the hostile repository `repo` and, beside it, the
/// `elsewhere` its links point into.
fn hostile_repository() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("repo");
    let outside = root.path().join("elsewhere");
    fs::create_dir_all(&dir).unwrap();
    fs::create_dir_all(&outside).unwrap();
    write_cases(&dir);
    #[cfg(unix)]
    write_unix_cases(&dir, &outside);
    (root, dir, outside)
}

#[test]
fn hostile_inputs_are_reported_and_never_hide_the_rest() {
    let (root, _, _) = hostile_repository();

    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(root.path())
        .args(["check", "repo", "--format", "json"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let findings = json["findings"].as_array().unwrap();
    let find = |file: &str, rule: &str| {
        findings
            .iter()
            .find(|f| f["path"] == format!("repo/{file}") && f["rule"] == rule)
            .unwrap_or_else(|| panic!("no {rule} for {file}: {json:#}"))
    };
    let at = |f: &serde_json::Value| {
        (
            f["start"]["line"].as_u64().unwrap(),
            f["start"]["column"].as_u64().unwrap(),
        )
    };

    assert_eq!(
        at(find("00-good.yaml", "linkerd-annotation-on-workload")),
        (6, 5)
    );
    assert!(
        find("alias-bomb.yaml", "parse-error")["message"]
            .as_str()
            .unwrap()
            .contains("alias")
    );
    assert!(
        find("deep.yaml", "parse-error")["message"]
            .as_str()
            .unwrap()
            .contains("nesting")
    );
    assert!(
        find("deep-block.yaml", "parse-error")["message"]
            .as_str()
            .unwrap()
            .contains("nesting")
    );
    assert!(
        find("huge.yaml", "file-too-large")["message"]
            .as_str()
            .unwrap()
            .contains("52428800")
    );
    assert!(
        find("invalid-utf8.yaml", "parse-error")["message"]
            .as_str()
            .unwrap()
            .contains("UTF-8")
    );
    assert_eq!(at(find("utf16.yaml", "annotation-not-string")), (6, 8));
    assert_eq!(at(find("utf8-bom.yaml", "annotation-not-string")), (6, 8));
    // Every Ingress of the one-line List is found, the last at its column in characters.
    let text = one_line_list();
    let last_class =
        text.rfind(r#""ingressClassName":"nginx""#).unwrap() + r#""ingressClassName":"#.len();
    let one_line: Vec<(u64, u64)> = findings
        .iter()
        .filter(|f| f["path"] == "repo/one-line.json" && f["rule"] == "ingress-nginx-deprecated")
        .map(at)
        .collect();
    assert_eq!(one_line.len(), ONE_LINE_INGRESSES);
    assert_eq!(
        one_line.iter().max(),
        Some(&(1, text[..last_class].chars().count() as u64 + 1))
    );
    let crlf = find("crlf.yaml", "annotation-not-string");
    assert_eq!(at(crlf), (6, 8));
    assert_eq!(crlf["end"]["column"], 9);
    assert_eq!(at(find("tabs.yaml", "parse-error")).0, 4);
    assert_eq!(at(find("nul.yaml", "parse-error")).0, 2);
    assert!(
        find("binary.yaml", "parse-error")["message"]
            .as_str()
            .unwrap()
            .contains("UTF-8")
    );
    let duplicate = find("duplicate-keys.yaml", "parse-error");
    assert_eq!(at(duplicate), (5, 3));
    assert_eq!(duplicate["related"][0]["start"]["line"], 4);
    // Merged `app: x` and `tier: "1"` are strings; the explicit `extra: on` is a boolean.
    let merged: Vec<_> = findings
        .iter()
        .filter(|f| f["path"] == "repo/merge-keys.yaml")
        .collect();
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert!(merged[0]["message"].as_str().unwrap().contains("`extra`"));
    assert!(
        find("octal.yaml", "annotation-not-string")["message"]
            .as_str()
            .unwrap()
            .contains("493")
    );
    assert!(
        find("huge-int.yaml", "annotation-not-string")["message"]
            .as_str()
            .unwrap()
            .contains("floating")
    );
    #[cfg(unix)]
    {
        assert!(
            find("loop.yaml", "unreadable-file")["message"]
                .as_str()
                .unwrap()
                .contains("loop")
        );
        let outside = find("outside.yaml", "symlink-outside-tree");
        assert!(
            outside["message"]
                .as_str()
                .unwrap()
                .contains("`../elsewhere/secret.yaml`")
        );
        assert!(
            find("fifo.yaml", "unreadable-file")["message"]
                .as_str()
                .unwrap()
                .contains("regular")
        );
        // The file behind the outside link must not have been read.
        assert!(
            !findings
                .iter()
                .any(|f| f["path"].as_str().unwrap().contains("elsewhere"))
        );
    }

    let summary = &json["summary"];
    assert_eq!(
        summary["files_read"].as_u64().unwrap() + summary["files_skipped"].as_u64().unwrap(),
        summary["files_found"].as_u64().unwrap()
    );
    for quiet in [
        "empty.yaml",
        "comments.yaml",
        "dashes.yaml",
        "doc-end.yaml",
        "long-line.yaml",
    ] {
        assert!(
            !findings
                .iter()
                // Several cases share the ConfigMap `cm` (duplicate-object, not a parse finding).
                .any(|f| f["path"] == format!("repo/{quiet}") && f["rule"] != "duplicate-object"),
            "{quiet} should give no finding"
        );
    }
}

#[test]
fn terminal_output_cannot_carry_escape_sequences() {
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: evil\n  labels:\n    \"x\\e]8;;http://evil.example/\\a\": 1\n  annotations:\n    \"clear\\e[2J\": \"\\e[31mred\"\n    linkerd.io/inject: \"\\e[2Jbad\"\n";
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .args(["check", "-", "--color", "never"])
        .write_stdin(manifest)
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.contains("annotation-not-string"), "{text}");
    assert!(!text.contains('\u{1b}'), "raw ESC in output:\n{text}");
    assert!(!text.contains('\u{7}'), "raw BEL in output:\n{text}");
    assert!(
        text.contains("\\u{1b}"),
        "escapes should be visible:\n{text}"
    );
}

/// `--unsafe-fixes` on the hostile repository: no panic or hang, nothing written outside it
/// (the linked file keeps its text), the FIFO is never opened for writing.
#[test]
fn fixing_a_hostile_repository_stays_inside_it() {
    let (root, _, outside) = hostile_repository();
    let output = Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(root.path())
        .args(["check", "repo", "--unsafe-fixes", "--format", "json"])
        .timeout(std::time::Duration::from_secs(120))
        .output()
        .unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        fs::read_to_string(outside.join("secret.yaml")).unwrap(),
        GOOD
    );
    // Something was fixed: the label values the cases write unquoted.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("applied"), "{stderr}");
}
