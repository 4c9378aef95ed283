//! Human output: miette's graphical report for each finding, then a summary line.

use std::fmt::Write;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, Report};

use super::RenderOptions;
use super::sanitize::{Inline, inline, multiline};
use super::snippet::{Excerpt, LineIndex, MAX_LABEL_DISTANCE, Mark};
use super::stream::write_in_order;
use crate::analysis::Analysis;
use crate::diagnostic::{Diagnostic, Severity};
use crate::load::Sources;

/// Labels drawn in one excerpt; further related locations are cited in the help.
const MAX_MARKS: usize = 8;

fn handler(options: &RenderOptions) -> GraphicalReportHandler {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_width(WIDTH)
        .with_context_lines(1)
        .with_word_separator(textwrap::WordSeparator::Custom(words_of_line))
}

/// Columns of the human report.
const WIDTH: usize = 110;
/// The narrowest room miette leaves a line of text it wraps: the report's width less two
/// columns and the help's indentation (`  help: `, eight columns; the message's is four).
const NARROWEST_WRAP: usize = WIDTH - 2 - 8;

/// The words miette's wrapper breaks `line` into: Unicode's line-break opportunities, as
/// the wrapper finds by default, except for a line that fits the narrowest room, which is
/// one word. Such a line comes out whole on one line however it is cut (the wrapper keeps
/// the text between its words), and finding the opportunities was most of the time of a
/// human report.
fn words_of_line(line: &str) -> Box<dyn Iterator<Item = textwrap::core::Word<'_>> + '_> {
    if line.is_empty() {
        // As the default separator: no word at all.
        return Box::new(std::iter::empty());
    }
    if !line.contains('\u{1b}') && textwrap::core::display_width(line) <= NARROWEST_WRAP {
        return Box::new(std::iter::once(textwrap::core::Word::from(line)));
    }
    textwrap::WordSeparator::UnicodeBreakProperties.find_words(line)
}

/// Appends the report of one finding to `out`.
fn render_one(
    handler: &GraphicalReportHandler,
    diagnostic: &Diagnostic,
    sources: &Sources,
    index: &mut LineIndex,
    out: &mut String,
) {
    let report = to_report(diagnostic, sources, index);
    if handler.render_report(out, report.as_ref()).is_err() {
        // Rendering only fails on a formatter error; fall back to one plain line.
        let _ = writeln!(out, "{}", plain_line(diagnostic, sources));
    }
}

pub fn render(analysis: &Analysis, options: &RenderOptions) -> String {
    let handler = handler(options);
    let mut out = String::new();
    let mut index = LineIndex::default();
    for (at, diagnostic) in analysis.diagnostics.iter().enumerate() {
        if at > 0 {
            out.push('\n');
        }
        render_one(
            &handler,
            diagnostic,
            &analysis.sources,
            &mut index,
            &mut out,
        );
    }
    if options.summary {
        if !analysis.diagnostics.is_empty() {
            out.push('\n');
        }
        out.push_str(&summary_line(analysis));
        out.push('\n');
    }
    out
}

/// Writes to `out` what [`render`] returns, without holding it: the findings are rendered
/// on the rayon pool a window at a time (see `report::stream`).
pub fn write(
    analysis: &Analysis,
    options: &RenderOptions,
    out: &mut (impl std::io::Write + ?Sized),
) -> std::io::Result<()> {
    let handler = handler(options);
    let diagnostics = &analysis.diagnostics;
    write_in_order(
        out,
        diagnostics.len(),
        || (LineIndex::default(), String::new()),
        |(index, text), at, buffer| {
            text.clear();
            if at > 0 {
                text.push('\n');
            }
            render_one(&handler, &diagnostics[at], &analysis.sources, index, text);
            buffer.extend_from_slice(text.as_bytes());
            Ok(())
        },
    )?;
    if options.summary {
        if !diagnostics.is_empty() {
            out.write_all(b"\n")?;
        }
        out.write_all(summary_line(analysis).as_bytes())?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Appends a paragraph to the help text.
fn add_help(help: &mut String, text: std::fmt::Arguments) {
    if !help.is_empty() {
        help.push('\n');
    }
    let _ = help.write_fmt(text);
}

/// The miette report of a finding. Every repository string is escaped here: one-line
/// values by `inline`, the help (whose line breaks are ours) by `multiline`, the source
/// by the excerpt's masking.
fn to_report(diagnostic: &Diagnostic, sources: &Sources, index: &mut LineIndex) -> Report {
    let file = diagnostic.location.file;
    let span = diagnostic.location.span;
    let primary_line = sources.start(diagnostic.location).line as usize;
    let mut marks = vec![Mark {
        text: diagnostic.label.as_deref().map(|l| inline(l).into_owned()),
        start: span.start.byte as usize,
        end: span.end.byte as usize,
        primary: true,
    }];
    let mut help = multiline(&diagnostic.help_text().unwrap_or_default()).into_owned();
    if !diagnostic.contexts.is_empty() {
        add_help(
            &mut help,
            format_args!("in: {}", Inline(&diagnostic.contexts.join(", "))),
        );
    }
    if !diagnostic.environments.is_empty() {
        add_help(
            &mut help,
            format_args!(
                "environments: {}",
                Inline(&diagnostic.environments.join(", "))
            ),
        );
    }
    for related in &diagnostic.related {
        let start = sources.start(related.location);
        let near = (start.line as usize).abs_diff(primary_line) <= MAX_LABEL_DISTANCE;
        if related.location.file == file && near && marks.len() < MAX_MARKS {
            marks.push(Mark {
                text: Some(inline(&related.message).into_owned()),
                start: start.byte as usize,
                end: related.location.span.end.byte as usize,
                primary: false,
            });
        } else {
            add_help(
                &mut help,
                format_args!(
                    "related: {}:{}:{}: {}",
                    Inline(sources.display(related.location.file)),
                    start.line,
                    start.col,
                    Inline(&related.message)
                ),
            );
        }
    }
    let name = inline(sources.display(file)).into_owned();
    let text: std::sync::Arc<String> = match sources.get(file) {
        Some(source) => source.text.clone(),
        None => std::sync::Arc::default(),
    };
    let (excerpt, marks) = Excerpt::build(name, file, text, &marks, index);
    let labels = marks
        .into_iter()
        .map(|m| {
            let span = (m.start, m.end - m.start);
            if m.primary {
                LabeledSpan::new_primary_with_span(m.text, span)
            } else {
                LabeledSpan::new_with_span(m.text, span)
            }
        })
        .collect::<Vec<_>>();
    let mut miette_diagnostic = MietteDiagnostic::new(inline(&diagnostic.message))
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
    Report::new(miette_diagnostic).with_source_code(excerpt)
}

/// `path:line:col: severity[rule]: message`, the grep-friendly form.
pub fn plain_line(diagnostic: &Diagnostic, sources: &Sources) -> String {
    located_line(diagnostic, sources, ": ")
}

/// `path:line:col: severity[rule]` then `separator` and the message: the one-line forms
/// of the human and compact formats.
pub fn located_line(diagnostic: &Diagnostic, sources: &Sources, separator: &str) -> String {
    let start = sources.start(diagnostic.location);
    format!(
        "{}:{}:{}: {}[{}]{separator}{}",
        Inline(sources.display(diagnostic.location.file)),
        start.line,
        start.col,
        diagnostic.severity.as_str(),
        diagnostic.rule,
        Inline(&diagnostic.message)
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
    if analysis.gate.known_at_rev > 0 {
        line.push_str(&format!(
            "; {} already at the --new-from-rev revision",
            analysis.gate.known_at_rev
        ));
    }
    if analysis.gate.outside_only_files > 0 {
        line.push_str(&format!(
            "; {} outside --only-files and not caused by the change",
            analysis.gate.outside_only_files
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wrapping with [`words_of_line`] gives what wrapping with the default separator
    /// gives, with miette's indentations and width, for lines that fit, lines just over,
    /// long lines with hyphens, paths and URLs, wide characters, trailing and leading
    /// spaces, empty lines and colours.
    #[test]
    fn the_word_separator_wraps_as_the_default_one() {
        let long = "add `networking.k8s.io/v1` NetworkPolicy egress-to-dns rules for the namespace (see https://example.com/a-b/c?d=e) so that pods resolve names; ";
        let texts = [
            String::new(),
            "short".to_string(),
            "  leading and trailing   ".to_string(),
            "x".repeat(NARROWEST_WRAP),
            "x".repeat(NARROWEST_WRAP + 1),
            format!("{} tail", "word-with-hyphen ".repeat(6)),
            long.repeat(3),
            format!("{}\n\n{}\nlast  ", long, "é→✓ 你好 😂 ".repeat(9)),
            "a".repeat(300),
            "\u{1b}[31mred\u{1b}[0m text".to_string(),
            format!("{}-{}", "y".repeat(NARROWEST_WRAP - 2), "z".repeat(5)),
        ];
        let indents = [
            ("  help: ", "        "),
            ("  \u{1b}[31m×\u{1b}[0m ", "  │ "),
        ];
        for text in &texts {
            for (initial, subsequent) in indents {
                let options = || {
                    textwrap::Options::new(WIDTH - 2)
                        .initial_indent(initial)
                        .subsequent_indent(subsequent)
                };
                let ours = options().word_separator(textwrap::WordSeparator::Custom(words_of_line));
                assert_eq!(
                    textwrap::fill(text, ours),
                    textwrap::fill(text, options()),
                    "{text:?}"
                );
            }
        }
    }
}
