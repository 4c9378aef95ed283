//! Human output: miette's graphical report for each finding, then a summary line.

use std::fmt::Write;

use miette::{
    GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, NamedSource, Report,
};

use super::RenderOptions;
use super::sanitize::{escape_text, mask_source};
use crate::Analysis;
use crate::diagnostic::{Diagnostic, Severity};
use crate::load::Sources;

pub fn render(analysis: &Analysis, options: &RenderOptions) -> String {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_width(110)
        .with_context_lines(1);
    let mut out = String::new();
    for diagnostic in &analysis.diagnostics {
        let report = to_report(diagnostic, &analysis.sources);
        if !out.is_empty() {
            out.push('\n');
        }
        if handler.render_report(&mut out, report.as_ref()).is_err() {
            // Rendering only fails on a formatter error; fall back to one plain line.
            let _ = writeln!(out, "{}", plain_line(diagnostic, &analysis.sources));
        }
    }
    if options.summary {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&summary_line(analysis));
        out.push('\n');
    }
    out
}

fn to_report(diagnostic: &Diagnostic, sources: &Sources) -> Report {
    let file = diagnostic.location.file;
    let span = diagnostic.location.span;
    let mut labels = vec![LabeledSpan::new_primary_with_span(
        diagnostic
            .label
            .as_deref()
            .map(|l| escape_text(l).into_owned()),
        (span.start.byte as usize, span.len()),
    )];
    let mut help = escape_text(diagnostic.help.as_deref().unwrap_or_default()).into_owned();
    if !diagnostic.contexts.is_empty() {
        if !help.is_empty() {
            help.push('\n');
        }
        let _ = write!(help, "in: {}", escape_text(&diagnostic.contexts.join(", ")));
    }
    if !diagnostic.environments.is_empty() {
        if !help.is_empty() {
            help.push('\n');
        }
        let _ = write!(
            help,
            "environments: {}",
            escape_text(&diagnostic.environments.join(", "))
        );
    }
    for related in &diagnostic.related {
        if related.location.file == file {
            labels.push(LabeledSpan::new_with_span(
                Some(escape_text(&related.message).into_owned()),
                (
                    related.location.span.start.byte as usize,
                    related.location.span.len(),
                ),
            ));
        } else {
            let start = related.location.span.start;
            if !help.is_empty() {
                help.push('\n');
            }
            let _ = write!(
                help,
                "related: {}:{}:{}: {}",
                escape_text(sources.display(related.location.file)),
                start.line,
                start.col,
                escape_text(&related.message)
            );
        }
    }
    let mut miette_diagnostic = MietteDiagnostic::new(escape_text(&diagnostic.message))
        .with_code(diagnostic.rule)
        .with_severity(match diagnostic.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Note => miette::Severity::Advice,
        })
        .with_labels(labels);
    if !help.is_empty() {
        miette_diagnostic = miette_diagnostic.with_help(help);
    }
    let source = sources.get(file);
    let name = escape_text(sources.display(file)).into_owned();
    let text: std::sync::Arc<str> = match source {
        Some(source) => match mask_source(&source.text) {
            std::borrow::Cow::Borrowed(_) => source.text.clone(),
            std::borrow::Cow::Owned(masked) => masked.into(),
        },
        None => "".into(),
    };
    Report::new(miette_diagnostic).with_source_code(NamedSource::new(name, text))
}

/// `path:line:col: severity[rule]: message`, the grep-friendly form.
pub fn plain_line(diagnostic: &Diagnostic, sources: &Sources) -> String {
    let start = diagnostic.location.span.start;
    format!(
        "{}:{}:{}: {}[{}]: {}",
        escape_text(sources.display(diagnostic.location.file)),
        start.line,
        start.col,
        diagnostic.severity.as_str(),
        diagnostic.rule,
        escape_text(&diagnostic.message)
    )
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

pub fn summary_line(analysis: &Analysis) -> String {
    let s = analysis.summary();
    let mut line = format!(
        "{} read ({} skipped), {} analysed, {} not Kubernetes objects; {}, {}, {} in {:.2}s",
        plural(s.files_read, "file"),
        s.files_skipped,
        plural(s.objects, "object"),
        plural(s.documents_skipped, "document"),
        plural(s.errors, "error"),
        plural(s.warnings, "warning"),
        plural(s.notes, "note"),
        analysis.elapsed.as_secs_f64()
    );
    let left_out = s.files_hidden + s.files_ignored + s.files_excluded;
    if left_out > 0 {
        let parts: Vec<String> = [
            (s.files_hidden, "hidden"),
            (s.files_ignored, "ignored"),
            (s.files_excluded, "excluded"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        line.push_str(&format!(
            "; {} left out ({}; --verbose lists them)",
            plural(left_out, "manifest file"),
            parts.join(", ")
        ));
    }
    if s.suppressed > 0 {
        line.push_str(&format!("; {} suppressed", s.suppressed));
    }
    if analysis.gate.baseline_used {
        line.push_str(&format!(
            "; {} in the baseline ({} baseline entries no longer occur)",
            s.baselined, s.baseline_stale
        ));
    }
    if analysis.gate.outside_only_files > 0 {
        line.push_str(&format!(
            "; {} outside --only-files",
            analysis.gate.outside_only_files
        ));
    }
    line
}
