//! `.xks-lint.yaml`: rule selection, severities, excludes, the failure threshold, and the
//! XKS model settings (tenant and platform namespaces, ingress controllers, gateways, DNS).
//!
//! Read with the span-aware loader, so every problem points at `file:line:column` of the
//! config file; unknown keys and rule ids get the closest valid name suggested. Command-line
//! flags override the file (see `commands::shared`).
//!
//! This module sits below the rules, the graph and the gate (DESIGN.md, layers): the rule
//! ids a file may name are given by the caller that knows the registry
//! ([`load_checked`], called by `commands::shared::load_config`, where the config meets the
//! rules), and the settings it fills are the plain data of [`crate::settings`].

mod reader;
mod template;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::diagnostic::Severity;
use reader::parse_with;

pub use crate::settings::{PLATFORM_ALLOWANCES, PlatformEndpoint, XksSettings};
pub use template::DEFAULT_CONFIG;

pub const FILE_NAME: &str = ".xks-lint.yaml";

/// The lowest severity that fails the run, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    At(Severity),
    Never,
}

impl FailOn {
    pub fn parse(text: &str) -> Option<FailOn> {
        match text {
            "never" => Some(FailOn::Never),
            other => Severity::parse(other).map(FailOn::At),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// The file read, if any.
    pub path: Option<PathBuf>,
    pub select: Option<Vec<String>>,
    pub ignore: Vec<String>,
    pub severity: BTreeMap<String, Severity>,
    pub exclude: Vec<String>,
    pub fail_on: Option<FailOn>,
    pub xks: XksSettings,
    /// Environment name → patterns of its kustomization root directories, relative to
    /// the config file's directory, in the file's order (see `model::environments`).
    pub environments: Vec<(String, Vec<String>)>,
}

impl Config {
    /// The `environments:` section with its base directory, for `Model::environments`;
    /// `None` when the file has none.
    pub fn environment_config(&self) -> Option<crate::model::environments::EnvironmentConfig> {
        if self.environments.is_empty() {
            return None;
        }
        // `--config other.yaml` has the empty parent: the working directory.
        let dir = self
            .path
            .as_deref()
            .and_then(Path::parent)
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base = crate::load::normalize(dir);
        Some(crate::model::environments::EnvironmentConfig {
            base,
            environments: self.environments.clone(),
        })
    }
}

/// A problem in the config file, at its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.line, self.column, self.message
        )
    }
}

/// Reads and parses a config file, accepting any rule id (see [`load_checked`]).
pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    load_with(path, None)
}

/// Reads and parses a config file whose rule ids must be among `rule_ids` (the rule
/// registry's): an unknown one is an error at its position, with the closest id suggested.
pub fn load_checked(path: &Path, rule_ids: &[&str]) -> Result<Config, Vec<ConfigError>> {
    load_with(path, Some(rule_ids))
}

fn load_with(path: &Path, rule_ids: Option<&[&str]>) -> Result<Config, Vec<ConfigError>> {
    let display = path.display().to_string();
    // A committed config may be a link; it must not lead out of the repository.
    let cwd = std::env::current_dir().ok();
    let root = crate::load::boundary::root_of(path, cwd.as_deref());
    let limit = crate::limits::MAX_CONFIG_SIZE;
    let text = crate::load::boundary::read_user_file(path, &root, limit).map_err(|e| {
        vec![ConfigError {
            path: display.clone(),
            line: 1,
            column: 1,
            message: format!("cannot read the config file: {e}"),
        }]
    })?;
    let mut config = parse_with(&text, &display, rule_ids)?;
    config.path = Some(path.to_path_buf());
    Ok(config)
}

/// Closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(distance, _)| *distance <= 3.max(word.len() / 3))
        .min()
        .map(|(_, c)| c)
}

fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

/// Parses config text, accepting any rule id; `path` is only used in error messages.
pub fn parse(text: &str, path: &str) -> Result<Config, Vec<ConfigError>> {
    parse_with(text, path, None)
}

/// Parses config text whose rule ids must be among `rule_ids`.
pub fn parse_checked(
    text: &str,
    path: &str,
    rule_ids: &[&str],
) -> Result<Config, Vec<ConfigError>> {
    parse_with(text, path, Some(rule_ids))
}
