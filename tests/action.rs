//! Issue 17 §4: the GitHub Action's scripts (install with checksum verification, the
//! argument list and exit-code handling of the check step), the release workflow's asset
//! names, and the Dockerfile's shape. The scripts need bash, curl, tar and sha256sum; a test
//! says SKIPPED on stderr when one is missing.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn skip(reason: &str) {
    let _ = std::io::Write::write_all(
        &mut std::io::stderr(),
        format!("SKIPPED action script test: {reason}\n").as_bytes(),
    );
}

fn tools_available() -> bool {
    ["bash", "curl", "tar", "sha256sum"].iter().all(|tool| {
        Command::new(tool)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn bash(script: &str, env: &[(&str, &str)]) -> Output {
    let mut command = Command::new("bash");
    command.current_dir(root()).args(["-c", script]);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn action_definition_names_its_inputs_and_scripts() {
    let action = std::fs::read_to_string(root().join("action.yml")).unwrap();
    let stream = xks_lint::load::yaml::parse_stream(&action);
    let document = &stream.documents[0].root;
    let inputs = document.get("inputs").unwrap();
    for input in [
        "path",
        "format",
        "fail-on",
        "config",
        "version",
        "upload-sarif",
        "sarif",
    ] {
        assert!(inputs.get(input).is_some(), "input {input}");
    }
    let runs = document.get("runs").unwrap();
    assert_eq!(
        runs.get("using").and_then(|n| n.scalar_text()),
        Some("composite")
    );
    for script in ["action/install.sh", "action/run.sh"] {
        assert!(
            action.contains(script) && root().join(script).is_file(),
            "{script}"
        );
    }
    assert!(action.contains("github/codeql-action/upload-sarif"));
}

#[test]
fn install_script_maps_runner_platforms_to_release_targets() {
    if !tools_available() {
        return skip("bash, curl, tar or sha256sum is missing");
    }
    let release = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    for (os, arch, target) in [
        ("Linux", "X64", "x86_64-unknown-linux-musl"),
        ("Linux", "ARM64", "aarch64-unknown-linux-musl"),
        ("macOS", "X64", "x86_64-apple-darwin"),
        ("macOS", "ARM64", "aarch64-apple-darwin"),
        ("Windows", "X64", "x86_64-pc-windows-msvc"),
    ] {
        let out = bash(
            &format!("source action/install.sh && xks_lint_target {os} {arch}"),
            &[],
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            target,
            "{}",
            text(&out)
        );
        // The release workflow builds every target the action may ask for.
        assert!(release.contains(&format!("target: {target}")), "{target}");
    }
    let out = bash("source action/install.sh && xks_lint_target Linux ARM", &[]);
    assert!(!out.status.success());
}

/// A fake release directory served over `file://`: a stand-in binary (a script answering
/// `--version`; the real one is hundreds of megabytes in a debug build) in the archive layout
/// the release workflow produces, and SHA256SUMS.
fn fake_release(dir: &Path, tamper: bool) -> PathBuf {
    let stage = dir.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("xks-lint"), "#!/bin/sh\necho xks-lint 0.1.0\n").unwrap();
    let release = dir.join("release");
    std::fs::create_dir_all(&release).unwrap();
    let archive = "xks-lint-x86_64-unknown-linux-musl.tar.gz";
    let status = Command::new("tar")
        .args(["-czf"])
        .arg(release.join(archive))
        .arg("-C")
        .arg(&stage)
        .arg("xks-lint")
        .status()
        .unwrap();
    assert!(status.success());
    let sums = Command::new("sha256sum")
        .current_dir(&release)
        .arg(archive)
        .output()
        .unwrap();
    let mut sums = String::from_utf8_lossy(&sums.stdout).into_owned();
    if tamper {
        sums = format!("{}{}", "0".repeat(64), &sums[64..]);
    }
    std::fs::write(release.join("SHA256SUMS"), sums).unwrap();
    release
}

#[test]
fn install_script_verifies_the_checksum_before_installing() {
    if !tools_available() {
        return skip("bash, curl, tar or sha256sum is missing");
    }
    for tamper in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let release = fake_release(dir.path(), tamper);
        let bin = dir.path().join("bin");
        let github_path = dir.path().join("github_path");
        let base = format!("file://{}", release.display());
        let out = bash(
            "bash action/install.sh",
            &[
                ("RUNNER_OS", "Linux"),
                ("RUNNER_ARCH", "X64"),
                ("RUNNER_TEMP", dir.path().to_str().unwrap()),
                ("XKS_LINT_VERSION", "v0.1.0"),
                ("XKS_LINT_DOWNLOAD_BASE", &base),
                ("XKS_LINT_INSTALL_DIR", bin.to_str().unwrap()),
                ("GITHUB_PATH", github_path.to_str().unwrap()),
            ],
        );
        if tamper {
            assert!(!out.status.success(), "{}", text(&out));
            assert!(text(&out).contains("checksum mismatch"), "{}", text(&out));
            assert!(!bin.join("xks-lint").exists());
        } else {
            assert!(out.status.success(), "{}", text(&out));
            assert!(text(&out).contains("installed xks-lint"), "{}", text(&out));
            let path = std::fs::read_to_string(&github_path).unwrap();
            assert_eq!(path.trim(), bin.to_str().unwrap());
            assert!(bin.join("xks-lint").is_file());
        }
    }
}

#[test]
fn run_script_builds_the_arguments_and_reports_the_exit_code() {
    if !tools_available() {
        return skip("bash, curl, tar or sha256sum is missing");
    }
    let out = bash(
        "source action/run.sh && xks_lint_arguments",
        &[
            ("INPUT_PATH", "k8s  clusters/prod"),
            ("INPUT_FORMAT", "github"),
            ("INPUT_FAIL_ON", "warning"),
            ("INPUT_CONFIG", ""),
            ("INPUT_SARIF", "out.sarif"),
            ("INPUT_SARIF_CATEGORY", "k8s"),
            ("INPUT_ARGS", "--exclude 'legacy/*' $(touch pwned)"),
        ],
    );
    let args: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(
        args,
        [
            "check",
            "k8s",
            "clusters/prod",
            "--format",
            "github",
            "--output",
            "github=-",
            "--output",
            "sarif=out.sarif",
            "--sarif-category",
            "k8s",
            "--fail-on",
            "warning",
            "--exclude",
            "'legacy/*'",
            "$(touch",
            "pwned)"
        ]
    );
    // Inputs are words, never evaluated.
    assert!(!root().join("pwned").exists());

    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("output");
    let summary = dir.path().join("summary.md");
    let sarif = dir.path().join("x.sarif");
    let out = bash(
        "bash action/run.sh",
        &[
            ("XKS_LINT", env!("CARGO_BIN_EXE_xks-lint")),
            ("INPUT_PATH", "fixtures/xks-tenant-repo"),
            ("INPUT_FORMAT", "github"),
            ("INPUT_SARIF", sarif.to_str().unwrap()),
            ("GITHUB_OUTPUT", output.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    // The step succeeds; the exit code is an output for the action's last step.
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&output).unwrap().trim(),
        "exit-code=1"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("::error "));
    assert!(std::fs::read_to_string(&summary).unwrap().contains('|'));
    let log: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif).unwrap()).unwrap();
    assert_eq!(log["version"], "2.1.0");
}

#[test]
fn dockerfile_builds_a_static_binary_onto_a_minimal_base() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .collect();
    assert_eq!(stages.len(), 2, "{stages:?}");
    assert!(stages[0].contains("alpine") && stages[0].ends_with("AS build"));
    assert_eq!(stages[1], "FROM alpine:3");
    // The binary is copied from the build stage alone: no toolchain in the image.
    assert!(dockerfile.contains("COPY --from=build /xks-lint /usr/local/bin/xks-lint"));
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(dockerfile.contains("ENTRYPOINT [\"/usr/local/bin/xks-lint\"]"));
}
