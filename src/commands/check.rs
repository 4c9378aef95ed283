//! `xks-lint check`: the gate. Runs the pipeline (`analyze`), compares with revisions when
//! asked (`--new-from-rev`, `--only-files` in a git repository), writes every requested
//! report and maps the worst finding to the exit code.

use std::path::PathBuf;

use super::shared::{
    CertArgs, Color, EXIT_CLEAN, EXIT_FINDINGS, FailOn, GraphArgs, Stage, load_config, stream_to,
    suggestion, usage_error, write_stdout,
};
use crate::analysis::{CheckOptions, analyze};
use crate::autofix;
use crate::config;
use crate::diagnostic::Severity;
use crate::gate::{self, GateOptions};
use crate::load::{Input, WalkOptions};
use crate::model::ModelOptions;
use crate::report::sanitize::{Channel, Inline};
use crate::report::{self, Format, RenderOptions, emit};
use crate::rules::RuleSelection;
use clap::ValueEnum;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Files or directories to check (default `.`); `-` reads standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Leave out files and directories matching this gitignore-style glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Namespace of objects that set none and have no kustomization namespace above them
    /// [default: `xks.default-namespace` of the config, else `default`].
    #[arg(long, value_name = "NAME")]
    pub default_namespace: Option<String>,
    /// Lowest severity that makes the exit code 1 [default: `fail-on` of the config, else error].
    #[arg(long, value_enum)]
    pub fail_on: Option<FailOn>,
    /// Only run these rules (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    pub select: Vec<String>,
    /// Do not run these rules (comma-separated or repeated).
    #[arg(long, value_delimiter = ',', value_name = "RULE")]
    pub ignore: Vec<String>,
    /// Colours in human output; `auto` colours only a terminal and honours NO_COLOR.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Omit the summary line of human output.
    #[arg(long)]
    pub no_summary: bool,
    /// Write the report to this file instead of standard output; `FORMAT=FILE` writes that
    /// format there (repeatable: `--output sarif=x.sarif --output human=-`; `-` is standard
    /// output). When no readable report goes to standard output, a summary goes to standard
    /// error.
    #[arg(long, value_name = "[FORMAT=]FILE")]
    pub output: Vec<String>,
    /// List on standard error every manifest file left out (hidden, ignored, excluded).
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// SARIF `runAutomationDetails.id` category, to tell several uploads in one workflow apart.
    #[arg(long, value_name = "CATEGORY")]
    pub sarif_category: Option<String>,
    /// Config file to use instead of the `.xks-lint.yaml` found above the first PATH.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Leave out findings recorded in this baseline file (see --write-baseline).
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Record every current finding in this baseline file (replacing it) and report none.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Report only findings that do not exist at this git revision (a branch, tag or commit;
    /// compared by fingerprint). The revision's tree is read from the git object database:
    /// nothing is checked out and no `git` process runs.
    #[arg(long, value_name = "REV")]
    pub new_from_rev: Option<String>,
    /// Load and analyse everything, but report only the findings these changed files can
    /// cause (what pre-commit passes): findings in them, findings citing them, and in a git
    /// repository every finding that HEAD does not have (deleted files included). Put PATHs
    /// before this option: every later argument is a file.
    #[arg(long, value_name = "FILE", num_args = 0..)]
    pub only_files: Option<Vec<PathBuf>>,
    /// Files larger than this many bytes are reported and not read.
    #[arg(long, value_name = "BYTES", default_value_t = crate::limits::DEFAULT_MAX_FILE_SIZE)]
    pub max_file_size: u64,
    /// Treat every file on its own instead of building kustomizations (no overlays, no patches).
    #[arg(long)]
    pub no_kustomize: bool,
    /// Print the wall time of each pipeline stage to standard error.
    #[arg(long)]
    pub timings: bool,
    /// Stop after this stage; `load` reads and parses only (the parse floor of the benchmarks).
    #[arg(long, value_enum, hide = true, default_value_t = Stage::All)]
    pub stage: Stage,
    /// Apply the safe automatic fixes in place, then report what remains. Edits replace
    /// byte ranges only: comments, quoting, key order, indentation and line endings
    /// elsewhere stay as written; in a kustomize tree the file where the value was written
    /// is edited.
    #[arg(long, conflicts_with_all = ["write_baseline"])]
    pub fix: bool,
    /// Also apply fixes that change behaviour (new NetworkPolicy files); implies --fix
    /// unless --diff is given.
    #[arg(long, conflicts_with_all = ["write_baseline"])]
    pub unsafe_fixes: bool,
    /// Print the fixes as a unified diff and write nothing; exit 1 when there is something
    /// to fix, 0 otherwise.
    #[arg(long, conflicts_with_all = ["write_baseline", "output"])]
    pub diff: bool,
    #[command(flatten)]
    pub certs: CertArgs,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// `--new-from-rev`: the findings of that revision, to leave out. `--only-files` in a git
/// repository with commits: the findings of HEAD, so that every finding the change creates
/// is reported wherever it lies (a deleted policy included). A HEAD that cannot be read
/// only narrows `--only-files` to the changed files themselves (a warning says so).
fn compare_with_revisions(
    args: &CheckArgs,
    paths: &[String],
    options: &mut CheckOptions,
) -> Result<(), String> {
    use crate::commands::revision;
    if let Some(rev) = &args.new_from_rev {
        let repo = revision::repository(paths).ok_or_else(|| {
            "--new-from-rev needs the checked PATHs to be inside a git repository".to_string()
        })?;
        let commit = repo.resolve(rev)?;
        options.gate.known_at_rev = Some(revision::findings_at(options, &repo, commit, paths)?);
    }
    if let Some(files) = &options.gate.only_files
        && let Some(repo) = revision::repository(paths)
        && let Some(head) = repo.head()
    {
        // No file passed (a hook that always runs) and no deletion staged: nothing changed
        // that could cause a finding, so HEAD need not be analysed.
        let nothing_changed =
            files.is_empty() && repo.staged_deletions().is_ok_and(|d| d.is_empty());
        if nothing_changed {
            return Ok(());
        }
        match revision::findings_at(options, &repo, head, paths) {
            Ok(before) => options.gate.findings_before = Some(before),
            Err(message) => emit::warning(&format!(
                "--only-files: cannot analyse HEAD ({message}); reporting findings in and citing the changed files only"
            )),
        }
    }
    Ok(())
}

/// The reports to write: (format, file; `None` for standard output). Without `--output`,
/// `--format` on standard output. At most one report on standard output.
fn outputs(args: &CheckArgs) -> Result<Vec<(Format, Option<PathBuf>)>, String> {
    if args.output.is_empty() {
        return Ok(vec![(args.format, None)]);
    }
    let mut out = Vec::new();
    for value in &args.output {
        let (format, file) = match value.split_once('=') {
            Some((name, file)) => match Format::from_str(name, true) {
                Ok(format) => (format, file),
                // `a=b.json` with no format `a`: a file name holding `=`.
                Err(_) => (args.format, value.as_str()),
            },
            None => (args.format, value.as_str()),
        };
        if file.is_empty() {
            return Err(format!(
                "--output {value}: no file named (use `-` for standard output)"
            ));
        }
        let destination = (file != "-").then(|| PathBuf::from(file));
        out.push((format, destination));
    }
    if out.iter().filter(|(_, d)| d.is_none()).count() > 1 {
        return Err("--output: only one report can go to standard output (`-`)".to_string());
    }
    Ok(out)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `--fix`, `--unsafe-fixes`, `--diff`: runs the fix loop; writes the files (returning the
/// analysis of the fixed repository to report) or prints the diff (returning the exit code).
fn apply_fixes(args: &CheckArgs, options: &CheckOptions) -> Result<crate::analysis::Analysis, u8> {
    let run = autofix::run(options, args.unsafe_fixes);
    for warning in &run.warnings {
        emit::warning(warning);
    }
    if !run.converged {
        emit::warning(&format!(
            "fixes still pending after {} passes; run --fix again",
            autofix::MAX_PASSES
        ));
    }
    let files = run.changes.len();
    let created = run.changes.iter().filter(|c| c.created).count();
    let created_text = if created > 0 {
        format!(" ({created} new)")
    } else {
        String::new()
    };
    if args.diff {
        let code = write_stdout(&autofix::unified_diff(&run.changes), Channel::Patch);
        if code != EXIT_CLEAN {
            return Err(code);
        }
        emit::stderr(&format!(
            "{} would change {}{created_text}",
            plural(run.applied, "fix", "fixes"),
            plural(files, "file", "files")
        ));
        return Err(if files > 0 { EXIT_FINDINGS } else { EXIT_CLEAN });
    }
    let (written, errors) = autofix::write(&run.changes, &run.analysis.gate.root);
    for error in &errors {
        emit::warning(error);
    }
    emit::stderr(&format!(
        "applied {} to {}{created_text} ({})",
        plural(run.applied, "fix", "fixes"),
        plural(written, "file", "files"),
        plural(run.passes, "analysis", "analyses")
    ));
    if !errors.is_empty() {
        return Err(usage_error("some fixed files could not be written"));
    }
    Ok(run.analysis)
}

pub fn check(args: CheckArgs) -> u8 {
    let paths = if args.paths.is_empty() {
        vec![".".to_string()]
    } else {
        args.paths.clone()
    };
    let inputs: Vec<Input> = paths.iter().map(|p| Input::from_arg(p)).collect();
    for input in &inputs {
        if let Input::Path(path) = input
            && !path.exists()
        {
            return usage_error(&format!("{}: no such file or directory", path.display()));
        }
    }
    let config = match load_config(args.config.as_deref(), &paths) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let walk = WalkOptions {
        excludes: config
            .exclude
            .iter()
            .chain(&args.exclude)
            .cloned()
            .collect(),
        max_file_size: args.max_file_size,
        kustomize: !args.no_kustomize,
        overlay: None,
    };
    if let Err(message) = walk.validate() {
        return usage_error(&message);
    }
    // Flags replace the config's lists rather than adding to them.
    let select = if args.select.is_empty() {
        config.select.clone()
    } else {
        Some(args.select.clone())
    };
    let ignore = if args.ignore.is_empty() {
        config.ignore.clone()
    } else {
        args.ignore.clone()
    };
    let selection = RuleSelection {
        select: select.map(|ids| ids.into_iter().collect()),
        ignore: ignore.into_iter().collect(),
        severity: config.severity.clone(),
    };
    if let Some(unknown) = selection.unknown_ids().first() {
        return usage_error(&format!("unknown rule `{unknown}`{}", suggestion(unknown)));
    }
    let old_baseline = match &args.baseline {
        Some(path) => match gate::baseline::read(path) {
            Ok(fingerprints) => Some(fingerprints),
            Err(message) => return usage_error(&message),
        },
        None => None,
    };
    let writing_baseline = args.write_baseline.is_some();
    let mut xks = config.xks.clone();
    if let Some(namespace) = &args.default_namespace {
        xks.default_namespace = namespace.clone();
    }
    let options = CheckOptions {
        inputs,
        walk,
        model: ModelOptions {
            default_namespace: xks.default_namespace.clone(),
            kustomize: !args.no_kustomize,
            ..ModelOptions::default()
        },
        rules: selection.clone(),
        certs: args.certs.settings(&xks),
        gate: GateOptions {
            root: None,
            // A new baseline records every finding of the repository.
            baseline: old_baseline.clone().filter(|_| !writing_baseline),
            only_files: args.only_files.clone().filter(|_| !writing_baseline),
            findings_before: None,
            known_at_rev: None,
        },
        graph: args.graph.options(&xks),
        environments: config.environment_config(),
        load_only: args.stage == Stage::Load,
    };
    let mut options = options;
    if let Err(message) = compare_with_revisions(&args, &paths, &mut options) {
        return usage_error(&message);
    }
    let fixing = args.fix || args.unsafe_fixes || args.diff;
    if fixing && options.inputs.iter().any(|i| !matches!(i, Input::Path(_))) {
        return usage_error("--fix and --diff edit files: standard input cannot be fixed");
    }
    let mut analysis = if fixing {
        match apply_fixes(&args, &options) {
            Ok(analysis) => analysis,
            Err(code) => return code,
        }
    } else {
        analyze(&options)
    };
    for (environment, pattern) in analysis
        .environments
        .iter()
        .flat_map(|e| e.unmatched.iter())
    {
        emit::warning(&format!(
            "{}: `{}` of environment `{}` matches no kustomization root",
            config.path.as_deref().map_or_else(
                || config::FILE_NAME.to_string(),
                |p| p.display().to_string()
            ),
            Inline(pattern),
            Inline(environment)
        ));
    }
    if args.verbose {
        let cwd = std::env::current_dir().ok();
        for file in &analysis.left_out {
            emit::stderr(&format!(
                "left out ({}): {}",
                file.reason.describe(),
                crate::load::display_path(&file.path, cwd.as_deref())
            ));
        }
    }
    if let Some(path) = &args.write_baseline {
        let written = stream_to(
            Some(path),
            paths.first().map_or(".", String::as_str),
            Channel::Json,
            |out| gate::baseline::write(&analysis.diagnostics, &analysis.gate, out),
        );
        if written != EXIT_CLEAN {
            return written;
        }
        let current: std::collections::BTreeSet<&str> = analysis
            .diagnostics
            .iter()
            .filter_map(|d| d.fingerprint.as_deref())
            .collect();
        let pruned = old_baseline
            .iter()
            .flatten()
            .filter(|f| !current.contains(f.as_str()))
            .count();
        emit::stderr(&format!(
            "wrote {} findings to {}{}",
            analysis.diagnostics.len(),
            path.display(),
            if pruned > 0 {
                format!(" ({pruned} entries of the old baseline no longer occur and were dropped)")
            } else {
                String::new()
            }
        ));
        analysis.gate.baseline_used = true;
        analysis.gate.baselined = analysis.diagnostics.len();
        analysis.diagnostics.clear();
    }

    let outputs = match outputs(&args) {
        Ok(outputs) => outputs,
        Err(message) => return usage_error(&message),
    };
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let stdout_terminal = emit::stdout_is_terminal();
    let report_clock = crate::analysis::StageClock::start();
    // In GitHub Actions the annotations are capped; the step summary gets every finding.
    if outputs.iter().any(|(format, _)| *format == Format::Github)
        && let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty())
    {
        let path = PathBuf::from(path);
        let summary = report::github::step_summary(&analysis);
        if let Err(e) = emit::append(&path, &summary, Channel::Text) {
            emit::warning(&format!(
                "cannot write the step summary {}: {e}",
                path.display()
            ));
        }
    }
    for (format, destination) in &outputs {
        let color = match args.color {
            Color::Always => true,
            Color::Never => false,
            Color::Auto => destination.is_none() && stdout_terminal && !no_color_env,
        };
        let options = RenderOptions {
            color,
            summary: !args.no_summary,
            selection: selection.clone(),
            sarif_category: args.sarif_category.clone(),
        };
        let channel = match format.channel() {
            Channel::Text if color => Channel::StyledText,
            channel => channel,
        };
        // Written as it is rendered: at 100,000 workloads the document is tens to hundreds
        // of megabytes, which building it whole (and growing it by doubling) would add to
        // the run's peak (`github` and `compact` took it to 2.0×10⁹ bytes).
        let write = |out: &mut dyn std::io::Write| match format {
            Format::Sarif => report::sarif::write(&analysis, &options, out),
            Format::Human => report::human::write(&analysis, &options, out),
            Format::Gitlab => report::gitlab::write(&analysis, out),
            Format::Github => report::github::write(&analysis, &options, out),
            Format::Compact => report::compact::write(&analysis, out),
            Format::Json => report::json::write(&analysis, out),
        };
        let written = stream_to(
            destination.as_deref(),
            paths.first().map_or(".", String::as_str),
            channel,
            write,
        );
        if written != EXIT_CLEAN {
            return written;
        }
    }
    // Writing the report is the last stage `--timings` shows (a JSON report at 100,000
    // workloads is hundreds of megabytes).
    let report_elapsed = analysis.timings.record("report", report_clock);
    if args.timings {
        for (stage, elapsed, peak, cpu) in &analysis.timings.stages {
            let cpu = cpu.map_or(String::new(), |cpu| {
                format!("  cpu {:>8.1} ms", cpu.as_secs_f64() * 1000.0)
            });
            let peak = peak.map_or(String::new(), |kib| {
                format!("  (peak RSS {:.0} MB)", kib as f64 / 1024.0)
            });
            emit::stderr(&format!(
                "{stage:<6} {:>8.1} ms{cpu}{peak}",
                elapsed.as_secs_f64() * 1000.0
            ));
            if *stage == "rules" {
                // Each rule's time on its thread, slowest first (rules run in parallel).
                let mut rules = analysis.timings.rules.clone();
                rules.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
                for (id, elapsed) in rules.iter().filter(|(_, e)| e.as_micros() >= 100) {
                    emit::stderr(&format!(
                        "  rule {:>8.1} ms  {id}",
                        elapsed.as_secs_f64() * 1000.0
                    ));
                }
            }
        }
        emit::stderr(&format!(
            "total  {:>8.1} ms",
            (analysis.elapsed + report_elapsed).as_secs_f64() * 1000.0
        ));
    }

    // A report written only to files (or as JSON/SARIF) leaves a red job unexplained:
    // the summary and the worst findings go to standard error.
    let readable_on_stdout = outputs.iter().any(|(format, destination)| {
        destination.is_none() && matches!(format, Format::Human | Format::Compact | Format::Github)
    });
    let to_files = outputs.iter().any(|(_, destination)| destination.is_some());
    if to_files && !readable_on_stdout && !args.no_summary {
        for line in report::compact::stderr_summary(&analysis) {
            emit::stderr(&line);
        }
    }
    let threshold = match args.fail_on {
        Some(FailOn::Error) => Some(Severity::Error),
        Some(FailOn::Warning) => Some(Severity::Warning),
        Some(FailOn::Note) => Some(Severity::Note),
        Some(FailOn::Never) => None,
        None => match config.fail_on {
            Some(config::FailOn::At(severity)) => Some(severity),
            Some(config::FailOn::Never) => None,
            None => Some(Severity::Error),
        },
    };
    let code = match (threshold, analysis.worst()) {
        (Some(threshold), Some(worst)) if worst >= threshold => EXIT_FINDINGS,
        _ => EXIT_CLEAN,
    };
    // The process ends here: freeing a million tree nodes one by one would only add
    // to the wall time of every run.
    std::mem::forget(analysis);
    code
}
