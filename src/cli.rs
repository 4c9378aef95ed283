//! Command-line interface. Exit codes: 0 clean, 1 findings at or above
//! `--fail-on`, 2 usage or I/O error.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::Severity;
use crate::load::{Input, WalkOptions};
use crate::model::ModelOptions;
use crate::report::{self, Format, RenderOptions};
use crate::rules::{self, RuleSelection};
use crate::{CheckOptions, analyze};

pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug, Parser)]
#[command(
    name = "xks-lint",
    version,
    about = "Static network-policy analyzer and linter for Kubernetes manifests on XKS",
    after_help = "Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it, 2 usage or I/O error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Lint manifests: directories (walked, .gitignore honoured), files, or `-` for standard input.
    Check(CheckArgs),
    /// List every rule: id, default severity, title.
    Rules,
    /// Print the documentation of a rule.
    Explain {
        /// Rule id, as listed by `xks-lint rules`.
        id: String,
    },
    /// List every connection the NetworkPolicies allow between workloads, IP blocks and platform endpoints.
    Connectivity(crate::commands::ConnectivityArgs),
    /// Explain why a connection is allowed or blocked, citing each policy rule with file:line.
    Why(crate::commands::WhyArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Note,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

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
    /// Namespace of objects that set none and have no kustomization namespace above them.
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub default_namespace: String,
    /// Lowest severity that makes the exit code 1.
    #[arg(long, value_enum, default_value_t = FailOn::Error)]
    pub fail_on: FailOn,
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
    /// Write the report to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub graph: crate::commands::GraphArgs,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_CLEAN
            });
        }
    };
    ExitCode::from(run(cli))
}

pub(crate) fn usage_error(message: &str) -> u8 {
    eprintln!("xks-lint: error: {message}");
    EXIT_USAGE
}

pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Rules => {
            let mut out = String::new();
            for rule in rules::registry() {
                out.push_str(&format!(
                    "{:<34} {:<8} {}\n",
                    rule.doc.id,
                    rule.doc.severity.as_str(),
                    rule.doc.title
                ));
            }
            write_stdout(&out)
        }
        Command::Explain { id } => match rules::find(&id) {
            Some(rule) => write_stdout(&format!(
                "# {}\n\nDefault severity: {}\n\n{}",
                rule.doc.id,
                rule.doc.severity.as_str(),
                rule.doc.body
            )),
            None => usage_error(&format!(
                "unknown rule `{id}`{}; `xks-lint rules` lists them",
                suggestion(&id)
            )),
        },
        Command::Check(args) => check(args),
        Command::Connectivity(args) => crate::commands::connectivity(args),
        Command::Why(args) => crate::commands::why(args),
    }
}

/// ` (did you mean `x`?)` for the closest rule id, or nothing.
pub fn suggestion(id: &str) -> String {
    rules::registry()
        .iter()
        .map(|r| (strsim_distance(id, r.doc.id), r.doc.id))
        .filter(|(distance, _)| *distance <= 3.max(id.len() / 3))
        .min()
        .map(|(_, best)| format!(" (did you mean `{best}`?)"))
        .unwrap_or_default()
}

/// Levenshtein distance, for "did you mean" hints.
fn strsim_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

pub(crate) fn write_stdout(text: &str) -> u8 {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => EXIT_CLEAN,
        // A closed pipe (`xks-lint rules | head`) is not an error worth a message.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => EXIT_CLEAN,
        Err(error) => usage_error(&format!("cannot write output: {error}")),
    }
}

fn check(args: CheckArgs) -> u8 {
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
    let walk = WalkOptions {
        excludes: args.exclude.clone(),
    };
    if let Err(message) = walk.validate() {
        return usage_error(&message);
    }
    let selection = RuleSelection {
        select: (!args.select.is_empty()).then(|| args.select.iter().cloned().collect()),
        ignore: args.ignore.iter().cloned().collect(),
        severity: Default::default(),
    };
    if let Some(unknown) = selection.unknown_ids().first() {
        return usage_error(&format!("unknown rule `{unknown}`{}", suggestion(unknown)));
    }
    let options = CheckOptions {
        inputs,
        walk,
        model: ModelOptions {
            default_namespace: args.default_namespace.clone(),
        },
        rules: selection,
        graph: args.graph.options(),
    };
    let analysis = analyze(&options);

    let to_terminal = args.output.is_none() && std::io::stdout().is_terminal();
    let no_color_env = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => to_terminal && !no_color_env,
    };
    let text = report::render(
        args.format,
        &analysis,
        &RenderOptions {
            color,
            summary: !args.no_summary,
        },
    );
    let written = match &args.output {
        Some(path) => std::fs::write(path, &text)
            .map(|_| EXIT_CLEAN)
            .unwrap_or_else(|e| usage_error(&format!("cannot write {}: {e}", path.display()))),
        None => write_stdout(&text),
    };
    if written != EXIT_CLEAN {
        return written;
    }
    let threshold = match args.fail_on {
        FailOn::Error => Some(Severity::Error),
        FailOn::Warning => Some(Severity::Warning),
        FailOn::Note => Some(Severity::Note),
        FailOn::Never => None,
    };
    match (threshold, analysis.worst()) {
        (Some(threshold), Some(worst)) if worst >= threshold => EXIT_FINDINGS,
        _ => EXIT_CLEAN,
    }
}
