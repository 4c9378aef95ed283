//! Issue 19 (CLI part): the CLI is a thin layer over one module per subcommand; the modules
//! under `src/commands/` never import `crate::cli`, so the two do not form an import cycle.

use std::path::Path;

#[test]
fn commands_do_not_import_the_cli() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let code: String = text
                .lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            assert!(
                !code.contains("crate::cli") && !code.contains("super::super::cli"),
                "{} imports the CLI",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked} modules");
}

#[test]
fn one_module_per_subcommand() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    for module in [
        "check",
        "certs",
        "connectivity",
        "why",
        "diff",
        "render",
        "rules",
        "init",
        "completions",
        "shared",
    ] {
        assert!(dir.join(format!("{module}.rs")).is_file(), "{module}");
    }
    let cli =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cli.rs")).unwrap();
    // The CLI dispatches; the work is in the commands.
    assert!(!cli.contains("fn check(") && !cli.contains("analyze("));
}
