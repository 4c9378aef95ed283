//! Command-line interface: the clap definition of every subcommand and the dispatch to
//! `commands::*`. Exit codes: 0 clean, 1 findings at or above `--fail-on`, 2 usage or I/O
//! error (`commands::shared`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::commands;
pub use crate::commands::check::CheckArgs;
pub use crate::commands::shared::{EXIT_CLEAN, EXIT_FINDINGS, EXIT_USAGE, ReportFormat};
use crate::report::emit;

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
    Check(Box<CheckArgs>),
    /// List every rule: id, default severity, title (`--format json`: with tags, precision
    /// and whether its findings weaken isolation).
    Rules {
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
    },
    /// Print the documentation of a rule.
    Explain {
        /// Rule id, as listed by `xks-lint rules`.
        id: String,
    },
    /// List every connection the NetworkPolicies allow between workloads, IP blocks and platform endpoints.
    Connectivity(commands::connectivity::ConnectivityArgs),
    /// Explain why a connection is allowed or blocked, citing each policy rule with file:line.
    Why(commands::why::WhyArgs),
    /// The connections a change opens and closes since REV (default: the merge-base with
    /// the default branch), per environment, with the policy rules responsible.
    Diff(commands::diff::DiffArgs),
    /// Print the objects xks-lint analyses after building kustomizations (what `kubectl
    /// kustomize ROOT` prints, for a root), as YAML or JSON; exit 1 when a root cannot be built.
    Render(commands::render::RenderArgs),
    /// Let's Encrypt budget per registered domain: certificates the repo would request.
    Certs(commands::certs::CertsArgs),
    /// Print a shell completion script (e.g. `xks-lint completions bash > /etc/bash_completion.d/xks-lint`).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff; `xks-lint man > xks-lint.1`).
    Man,
    /// Write a commented `.xks-lint.yaml` with every key at its default.
    Init {
        /// Directory to write it in (default `.`).
        #[arg(value_name = "DIR")]
        dir: Option<PathBuf>,
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            clap_message(&error);
            return ExitCode::from(if error.use_stderr() {
                EXIT_USAGE
            } else {
                EXIT_CLEAN
            });
        }
    };
    ExitCode::from(run(cli))
}

pub fn run(cli: Cli) -> u8 {
    match cli.command {
        Command::Rules { format } => commands::rules::list(format),
        Command::Explain { id } => commands::rules::explain(&id),
        Command::Check(args) => commands::check::check(*args),
        Command::Certs(args) => commands::certs::certs(args),
        Command::Init { dir, force } => commands::init::init(dir, force),
        Command::Connectivity(args) => commands::connectivity::run(args),
        Command::Why(args) => commands::why::run(args),
        Command::Render(args) => commands::render::render(args),
        Command::Diff(args) => commands::diff::diff(args),
        Command::Completions { shell } => commands::completions::completions(shell, Cli::command()),
        Command::Man => commands::completions::man(Cli::command()),
    }
}

/// Command-line parse errors from clap echo what was typed (a file name that pre-commit
/// passes may come from the repository): they go out through `emit`, guarded and without
/// colours. `--help` and `--version` are our own text only: clap prints them in the
/// terminal's colours.
fn clap_message(error: &clap::Error) {
    if error.use_stderr() {
        emit::stderr_text(&error.render().to_string());
    } else {
        let _ = error.print();
    }
}
