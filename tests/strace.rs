//! Issue 14, item 1, checked from outside: run the binary under `strace` on a hostile
//! repository whose links lead everywhere, and require that every file it opens is inside
//! the repository or one of the few system files any process opens. Skipped, visibly, where
//! `strace` is absent or not permitted.
#![cfg(target_os = "linux")]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};
use std::process::Command;

const SERVICE: &str = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api\n  namespace: t\nspec:\n  ports: [{port: 80}]\n";

/// Files outside the repository that the process may open: the dynamic loader's, the C
/// library's, and what the Rust runtime, rayon and mimalloc read about this process and
/// machine. Nothing a repository link could name is here.
const ALLOWED_PREFIXES: [&str; 12] = [
    "/etc/ld.so.cache",
    "/etc/ld.so.preload",
    "/lib/",
    "/lib64/",
    "/usr/lib/",
    "/usr/lib64/",
    "/sys/fs/cgroup/",
    "/sys/devices/system/cpu/",
    "/sys/kernel/mm/transparent_hugepage/",
    "/proc/sys/vm/overcommit_memory",
    "/dev/null",
    "/dev/urandom",
];
const ALLOWED_PROC_SELF: [&str; 5] = ["status", "maps", "cgroup", "mountinfo", "stat"];

fn write(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Every path the traced processes tried to open (successfully or not).
fn opened_paths(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter(|line| {
            ["open(", "openat(", "openat2(", "creat("]
                .iter()
                .any(|call| line.contains(call))
        })
        .filter_map(|line| {
            let start = line.find('"')? + 1;
            let end = start + line[start..].find('"')?;
            Some(line[start..end].to_string())
        })
        .collect()
}

fn strace_works() -> bool {
    let probe = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=openat", "-o", "/dev/null", "true"])
        .output();
    match probe {
        Ok(output) if output.status.success() => true,
        Ok(output) => {
            eprintln!(
                "SKIPPED: strace cannot trace here: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
            false
        }
        Err(_) => {
            eprintln!("SKIPPED: strace is not installed (apt-get install strace)");
            false
        }
    }
}

#[test]
fn no_file_outside_the_repository_is_opened() {
    if !strace_works() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path();
    let repo = outside.join("repo");
    // Outside the repository: a secret manifest, a config, ignore files that must not apply.
    write(outside, "secret.yaml", SERVICE);
    write(outside, "secret-dir/kustomization.yaml", "resources: []\n");
    write(outside, "config.yaml", "fail-on: never\n");
    write(outside, ".gitignore", "*.yaml\n");
    write(outside, ".ignore", "*.yaml\n");
    fs::create_dir_all(repo.join(".git")).unwrap();
    write(&repo, "base/svc.yaml", SERVICE);
    write(
        &repo,
        "base/kustomization.yaml",
        "resources:\n- svc.yaml\n- env.yaml\n- secret.yaml\n- secret-dir\n- proc/environ\npatches:\n- path: secret.yaml\n",
    );
    symlink("/proc/self/environ", repo.join("base/env.yaml")).unwrap();
    symlink("/proc/self", repo.join("base/proc")).unwrap();
    symlink("../../secret.yaml", repo.join("base/secret.yaml")).unwrap();
    symlink(outside.join("secret-dir"), repo.join("base/secret-dir")).unwrap();
    symlink("/etc", repo.join("etc")).unwrap();
    symlink(".", repo.join("self")).unwrap();
    write(
        &repo,
        "overlays/prod/kustomization.yaml",
        "resources:\n- ../../base\n- ../../etc/passwd\n",
    );
    symlink("../secret.yaml", repo.join("baseline.json")).unwrap();
    symlink("../victim.sarif", repo.join("report.sarif")).unwrap();

    let binary = assert_cmd::cargo::cargo_bin("xks-lint");
    let runs: [&[&str]; 5] = [
        &["check", ".", "--format", "json"],
        &["check", "overlays/prod", "--format", "sarif"],
        &[
            "check",
            "base/env.yaml",
            "base/secret.yaml",
            "base/svc.yaml",
        ],
        &["check", "base", "--baseline", "baseline.json"],
        &[
            "check",
            "base",
            "--format",
            "sarif",
            "--output",
            "report.sarif",
        ],
    ];
    let canonical_repo = fs::canonicalize(&repo).unwrap();
    for (index, args) in runs.iter().enumerate() {
        if index == runs.len() - 1 {
            symlink("../config.yaml", repo.join(".xks-lint.yaml")).unwrap();
        }
        let trace_file = outside.join("trace.txt");
        let output = Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=open,openat,openat2,creat", "-o"])
            .arg(&trace_file)
            .arg(&binary)
            .args(*args)
            // Only the system's libraries, not cargo's build directories.
            .env_remove("LD_LIBRARY_PATH")
            .current_dir(&repo)
            .output()
            .unwrap();
        let trace = fs::read_to_string(&trace_file).unwrap();
        let opened = opened_paths(&trace);
        assert!(!opened.is_empty(), "no open traced for {args:?}:\n{trace}");
        for path in opened {
            let absolute = lexical(&repo.join(&path));
            if absolute.starts_with(&repo) {
                // Inside as written: it must stay inside once links are resolved.
                if let Ok(target) = fs::canonicalize(&absolute) {
                    assert!(
                        target.starts_with(&canonical_repo),
                        "{args:?} opened {path}, a link to {}",
                        target.display()
                    );
                }
                continue;
            }
            if absolute == binary {
                continue;
            }
            // The walker library opens the ignore files of the directories above the
            // checked one; their rules are not applied above the repository (the first run
            // reads every manifest although `*.yaml` is ignored above), and their content
            // is never shown.
            let ignore_file_above = repo.ancestors().any(|dir| {
                [".ignore", ".gitignore"]
                    .iter()
                    .any(|name| absolute == dir.join(name))
            });
            if ignore_file_above {
                continue;
            }
            let text = absolute.to_string_lossy();
            let allowed = ALLOWED_PREFIXES.iter().any(|p| text.starts_with(p))
                || ALLOWED_PROC_SELF
                    .iter()
                    .any(|name| text == format!("/proc/self/{name}"));
            assert!(
                allowed,
                "{args:?} opened {text}, outside the repository\nstderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        assert!(!outside.join("victim.sarif").exists());
        if index == 0 {
            let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            assert_eq!(json["summary"]["files_ignored"], 0, "{json:#}");
            assert!(
                json["summary"]["files_read"].as_u64().unwrap() >= 3,
                "{json:#}"
            );
        }
    }
}
