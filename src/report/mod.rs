//! Report stage: renders an [`Analysis`] for people or machines. Reporters see
//! diagnostics and sources only, never a rule's internals.

pub mod connectivity;
pub mod human;
pub mod json;

use crate::Analysis;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Source snippets with the offending node highlighted, help and rule id.
    Human,
    /// A stable JSON document (see README "JSON output").
    Json,
}

pub struct RenderOptions {
    pub color: bool,
    pub summary: bool,
}

pub fn render(format: Format, analysis: &Analysis, options: &RenderOptions) -> String {
    match format {
        Format::Human => human::render(analysis, options),
        Format::Json => json::render(analysis),
    }
}
