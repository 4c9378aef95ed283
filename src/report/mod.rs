//! Report stage: renders an [`Analysis`] for people or machines. Reporters see
//! diagnostics and sources only, never a rule's internals.

pub mod certs;
pub mod compact;
pub mod connectivity;
pub mod diff;
pub mod emit;
pub mod github;
pub mod gitlab;
pub mod html;
pub mod human;
pub mod json;
pub mod sanitize;
pub mod sarif;
pub mod snippet;
pub mod stream;
pub mod yaml;

use crate::analysis::Analysis;
use crate::rules::RuleSelection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Source snippets with the offending node highlighted, help and rule id.
    Human,
    /// A stable JSON document (see README "JSON output").
    Json,
    /// SARIF 2.1.0 for GitHub code scanning (see README "SARIF").
    Sarif,
    /// GitHub Actions workflow commands: annotations on the pull request.
    Github,
    /// GitLab Code Quality JSON (`artifacts:reports:codequality`).
    Gitlab,
    /// One line per finding: `file:line:col: severity[rule] message` (logs, problem matchers).
    Compact,
}

impl Format {
    /// How the finished document is sanitised on its way out (`sanitize::guard`).
    pub fn channel(self) -> sanitize::Channel {
        match self {
            Format::Human | Format::Compact => sanitize::Channel::Text,
            Format::Json | Format::Sarif | Format::Gitlab => sanitize::Channel::Json,
            Format::Github => sanitize::Channel::GithubCommands,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    pub color: bool,
    pub summary: bool,
    /// The rules that ran, for the rule metadata of SARIF.
    pub selection: RuleSelection,
    /// SARIF `runAutomationDetails.id`, to tell several uploads of one workflow apart.
    pub sarif_category: Option<String>,
}

/// The text a streaming writer produces, for callers that want it whole (tests, small
/// documents). Writing to memory cannot fail, and the writers write UTF-8 only.
pub fn written_text(write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>) -> String {
    let mut text = Vec::new();
    let _ = write(&mut text);
    String::from_utf8_lossy(&text).into_owned()
}

pub fn render(format: Format, analysis: &Analysis, options: &RenderOptions) -> String {
    match format {
        Format::Human => human::render(analysis, options),
        Format::Json => json::render(analysis),
        Format::Sarif => sarif::render(analysis, options),
        Format::Github => github::render(analysis, options),
        Format::Gitlab => gitlab::render(analysis),
        Format::Compact => compact::render(analysis),
    }
}
