//! `xks-lint certs`: the Let's Encrypt budget per registered domain.

use std::path::PathBuf;

use super::shared::{
    CertArgs, EXIT_CLEAN, EXIT_FINDINGS, ReportFormat, inputs, load_config, usage_error,
    write_stdout,
};
use crate::analysis::{CheckOptions, analyze};
use crate::load::WalkOptions;
use crate::model::ModelOptions;
use crate::report;
use crate::report::sanitize::Channel;
use crate::rules::RuleSelection;

#[derive(Debug, clap::Args)]
pub struct CertsArgs {
    /// Files or directories to read (default `.`); `-` reads standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
    pub format: ReportFormat,
    /// Leave out files and directories matching this gitignore-style glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Namespace of objects that set none and have no kustomization namespace above them
    /// [default: `xks.default-namespace` of the config, else `default`].
    #[arg(long, value_name = "NAME")]
    pub default_namespace: Option<String>,
    /// Config file to use instead of the `.xks-lint.yaml` found above the first PATH.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub certs: CertArgs,
}

/// `xks-lint certs`: exit 1 when a registered domain is over a Let's Encrypt limit.
pub fn certs(args: CertsArgs) -> u8 {
    let inputs = match inputs(&args.paths) {
        Ok(inputs) => inputs,
        Err(code) => return code,
    };
    let walk = WalkOptions {
        excludes: args.exclude.clone(),
        ..WalkOptions::default()
    };
    if let Err(message) = walk.validate() {
        return usage_error(&message);
    }
    let config = match load_config(args.config.as_deref(), &args.paths) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let options = CheckOptions {
        inputs,
        walk,
        model: ModelOptions {
            default_namespace: args
                .default_namespace
                .clone()
                .unwrap_or_else(|| config.xks.default_namespace.clone()),
            ..ModelOptions::default()
        },
        // The report needs the inventory only, not the rules' findings.
        rules: RuleSelection {
            select: Some(Default::default()),
            ..Default::default()
        },
        certs: args.certs.settings(&config.xks),
        ..CheckOptions::default()
    };
    let analysis = super::shared::kept_until_exit(analyze(&options));
    let report = report::certs::Report::build(analysis);
    let written = match args.format {
        ReportFormat::Human => write_stdout(&report.to_human(), Channel::Text),
        ReportFormat::Json => write_stdout(&report.to_json(), Channel::Json),
    };
    if written != EXIT_CLEAN {
        return written;
    }
    if report.over() {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}
