//! Human output: miette's graphical report for each finding, then a summary line.

use std::fmt::Write;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteDiagnostic, SourceCode};

use super::RenderOptions;
use super::sanitize::{Inline, inline, multiline};
use super::snippet::{Excerpt, LineIndex, MAX_LABEL_DISTANCE, Mark};
use super::stream::write_in_order;
use crate::analysis::Analysis;
use crate::diagnostic::{Diagnostic, Severity};
use crate::load::Sources;

/// Labels drawn in one excerpt; further related locations are cited in the help.
const MAX_MARKS: usize = 8;

/// The two ways miette is asked to lay out a finding: wrapping its message and help itself,
/// or only indenting texts [`laid_out`] already wrapped as it would.
struct Handlers {
    wrapping: GraphicalReportHandler,
    indenting: GraphicalReportHandler,
    /// Columns of the indentation miette puts before the message's lines, by severity
    /// (error, warning, advice): the severity's icon on the first line, a bar on the
    /// others. `None` where the two differ in width, so that [`laid_out`] cannot stand in.
    message_indents: [Option<usize>; 3],
}

impl Handlers {
    fn message_indent(&self, severity: miette::Severity) -> Option<usize> {
        let [error, warning, advice] = self.message_indents;
        match severity {
            miette::Severity::Error => error,
            miette::Severity::Warning => warning,
            miette::Severity::Advice => advice,
        }
    }
}

fn handlers(options: &RenderOptions) -> Handlers {
    let theme = if options.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let characters = &theme.characters;
    let width = |icon: &str| {
        let first = textwrap::core::display_width(&format!("  {icon} "));
        let rest = textwrap::core::display_width(&format!("  {} ", characters.vbar));
        (first == rest).then_some(first)
    };
    let message_indents = [
        width(&characters.error),
        width(&characters.warning),
        width(&characters.advice),
    ];
    let wrapping = GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_width(WIDTH)
        .with_context_lines(1)
        .with_word_separator(textwrap::WordSeparator::Custom(words_of_line));
    Handlers {
        indenting: wrapping.clone().with_wrap_lines(false),
        wrapping,
        message_indents,
    }
}

/// Columns of the human report.
const WIDTH: usize = 110;
/// Columns of the help's indentation: `  help: ` on its first line, eight spaces after.
const HELP_INDENT: usize = 8;
/// The narrowest room miette leaves a line of text it wraps: the report's width less two
/// columns and the help's indentation (the message's is four columns).
const NARROWEST_WRAP: usize = WIDTH - 2 - HELP_INDENT;

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
    if !line.contains('\u{1b}') && width_of(line) <= NARROWEST_WRAP {
        return Box::new(std::iter::once(textwrap::core::Word::from(line)));
    }
    textwrap::WordSeparator::UnicodeBreakProperties.find_words(line)
}

/// `textwrap::core::display_width(text)`, without its work per character for printable
/// ASCII (a column a byte), which nearly every line of a report is.
fn width_of(text: &str) -> usize {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        text.len()
    } else {
        textwrap::core::display_width(text)
    }
}

/// `text` as miette's wrapper lays it out (`textwrap::fill` with [`words_of_line`], the
/// report's width less two, indentations `indent` columns wide on every line), without
/// the indentations, for miette to indent unwrapped; `None` when that would not give the
/// wrapper's lines. A blank line is the exception on purpose: miette writes it as its
/// indentation trimmed, the wrapper wrote the indentation, trailing spaces and all, so
/// `blank_rest` (the indentation after the first line trims to nothing, as the help's
/// eight spaces do) allows blank lines after the first, which then carry no spaces.
/// Why: most lines of a report fit, and the wrapper's work on each (finding its words,
/// breaking, fitting) was most of the time of a human report of many findings. A line
/// that fits is its own layout, its trailing spaces dropped as the wrapper drops them;
/// only the others go through the wrapper, one line at a time as it takes them.
fn laid_out(text: &str, indent: usize, blank_rest: bool) -> Option<String> {
    if text.is_empty() || text.contains(['\t', '\r']) || text.ends_with('\n') {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut first_line = true;
    for line in text.split('\n') {
        if !first_line {
            out.push('\n');
        }
        if line.trim().is_empty() {
            // miette drops any whitespace of a blank line, the wrapper only spaces.
            if first_line || !blank_rest || !line.trim_matches(' ').is_empty() {
                return None;
            }
        } else if !line.contains('\u{1b}') && width_of(line) <= NARROWEST_WRAP {
            out.push_str(line.trim_end_matches(' '));
        } else {
            out.push_str(&wrapped_line(line, indent)?);
        }
        first_line = false;
    }
    Some(out)
}

/// Lines wrapped lately on this thread, by indentation and text: a rule's fixed prose (the
/// first line of a migration proposal, say) comes back in every one of its findings, and
/// finding a long line's break opportunities is the wrapper's dearest step.
type WrapCache =
    crate::hashing::FastMap<usize, crate::hashing::FastMap<String, Option<std::rc::Rc<str>>>>;

thread_local! {
    static WRAPPED: std::cell::RefCell<WrapCache> = std::cell::RefCell::default();
}

/// Lines the cache keeps before it starts over, and the longest line it keeps: a few MB a
/// thread at most, whatever the repository writes.
const WRAP_CACHE_LINES: usize = 1024;
const WRAP_CACHE_LINE_BYTES: usize = 1024;

/// One line longer than the narrowest room, as the wrapper breaks it with indentations
/// `indent` columns wide, without them; `None` when a piece is blank (see [`laid_out`]).
fn wrapped_line(line: &str, indent: usize) -> Option<std::rc::Rc<str>> {
    let known = WRAPPED.with(|cache| {
        cache
            .borrow()
            .get(&indent)
            .and_then(|lines| lines.get(line).cloned())
    });
    if let Some(known) = known {
        return known;
    }
    let placeholder = " ".repeat(indent);
    let options = textwrap::Options::new(WIDTH - 2)
        .initial_indent(&placeholder)
        .subsequent_indent(&placeholder)
        .word_separator(textwrap::WordSeparator::Custom(words_of_line));
    let mut pieces = String::with_capacity(line.len() + 8);
    let mut blank = false;
    for (at, piece) in textwrap::wrap(line, &options).iter().enumerate() {
        if at > 0 {
            pieces.push('\n');
        }
        match piece.strip_prefix(placeholder.as_str()) {
            Some(rest) if !rest.trim().is_empty() => pieces.push_str(rest),
            _ => blank = true,
        }
    }
    let wrapped: Option<std::rc::Rc<str>> = (!blank).then(|| pieces.into());
    if line.len() > WRAP_CACHE_LINE_BYTES {
        return wrapped;
    }
    WRAPPED.with(|cache| {
        let mut cache = cache.borrow_mut();
        let lines = cache.entry(indent).or_default();
        if lines.len() >= WRAP_CACHE_LINES {
            lines.clear();
        }
        lines.insert(line.to_owned(), wrapped.clone());
    });
    wrapped
}

/// A finding as miette renders it: the diagnostic and the excerpt of its file. Rendered
/// straight from this, not through a `miette::Report`: making a `Report` asks miette's
/// global hook for a handler, which built one (terminal and environment probing included)
/// for every finding, 3.5 % of a human report's run at 20,000 workloads.
struct WithExcerpt {
    diagnostic: MietteDiagnostic,
    excerpt: Excerpt,
}

impl std::fmt::Debug for WithExcerpt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.diagnostic, f)
    }
}

impl std::fmt::Display for WithExcerpt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.diagnostic, f)
    }
}

impl std::error::Error for WithExcerpt {}

impl miette::Diagnostic for WithExcerpt {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.diagnostic.code()
    }

    fn severity(&self) -> Option<miette::Severity> {
        self.diagnostic.severity()
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.diagnostic.help()
    }

    fn url<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.diagnostic.url()
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.excerpt)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.diagnostic.labels()
    }
}

/// Appends the report of one finding to `out`.
fn render_one(
    handlers: &Handlers,
    diagnostic: &Diagnostic,
    sources: &Sources,
    index: &mut LineIndex,
    out: &mut String,
) {
    let (report, laid_out) = to_report(diagnostic, sources, index, handlers);
    let handler = if laid_out {
        &handlers.indenting
    } else {
        &handlers.wrapping
    };
    if handler.render_report(out, &report).is_err() {
        // Rendering only fails on a formatter error; fall back to one plain line.
        let _ = writeln!(out, "{}", plain_line(diagnostic, sources));
    }
}

pub fn render(analysis: &Analysis, options: &RenderOptions) -> String {
    let handlers = handlers(options);
    let mut out = String::new();
    let mut index = LineIndex::default();
    for (at, diagnostic) in analysis.diagnostics.iter().enumerate() {
        if at > 0 {
            out.push('\n');
        }
        render_one(
            &handlers,
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
    let handlers = handlers(options);
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
            render_one(&handlers, &diagnostics[at], &analysis.sources, index, text);
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

/// The miette report of a finding, and whether its message and help come laid out (see
/// [`laid_out`]), for `handlers.indenting`. Every repository string is escaped here:
/// one-line values by `inline`, the help (whose line breaks are ours) by `multiline`, the
/// source by the excerpt's masking.
fn to_report(
    diagnostic: &Diagnostic,
    sources: &Sources,
    index: &mut LineIndex,
    handlers: &Handlers,
) -> (WithExcerpt, bool) {
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
    let message = inline(&diagnostic.message);
    let severity = match diagnostic.severity {
        Severity::Error => miette::Severity::Error,
        Severity::Warning => miette::Severity::Warning,
        Severity::Note => miette::Severity::Advice,
    };
    let laid = handlers
        .message_indent(severity)
        .and_then(|indent| laid_out(&message, indent, false))
        .and_then(|message| {
            if help.is_empty() {
                return Some((message, String::new()));
            }
            Some((message, laid_out(&help, HELP_INDENT, true)?))
        });
    let is_laid_out = laid.is_some();
    let (message, help) = laid.unwrap_or_else(|| (message.into_owned(), help));
    let mut miette_diagnostic = MietteDiagnostic::new(message)
        .with_code(diagnostic.rule)
        .with_severity(severity)
        .with_labels(labels);
    if !help.is_empty() {
        miette_diagnostic = miette_diagnostic.with_help(help);
    }
    (
        WithExcerpt {
            diagnostic: miette_diagnostic,
            excerpt,
        },
        is_laid_out,
    )
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

    /// What miette writes of a message and a help it wraps itself and what it writes of
    /// them laid out by [`laid_out`] and only indented are the same lines, but for blank
    /// lines, which no longer carry the help's indentation as trailing spaces; texts it
    /// cannot lay out fall back to the wrapping handler. Checked for each severity, with
    /// and without colours, on lines that fit, lines over, long prose seen twice (the
    /// second from the cache), wide characters, escapes, blank and space-only lines.
    #[test]
    fn laid_out_texts_render_as_miette_wraps_them() {
        let long = "the request-rate limit becomes an Envoy Gateway BackendTrafficPolicy (a local limit counts per Envoy replica, not per client IP as ingress-nginx does; see https://example.com/a-b/c?d=e)";
        let helps = [
            "short".to_string(),
            format!("intro line:\n\n---\nkind: HTTPRoute\n  name: x  \n\n{long}\n{long}"),
            format!("{}\n   \nnext", "é→✓ 你好 😂 ".repeat(12)),
            format!("{}-{}", "y".repeat(NARROWEST_WRAP - 2), "z".repeat(5)),
            "a".repeat(300),
            "\u{1b}[31mred\u{1b}[0m text".to_string(),
            "\nstarts blank".to_string(),
            "non-breaking\n\u{a0}\nspace".to_string(),
            String::new(),
        ];
        let messages = [
            "Ingress `app` has class `nginx`, which ingress-nginx serves on XKS: XKS now uses Gateway API with Envoy Gateway, and ingress-nginx is retired upstream".to_string(),
            "short message".to_string(),
            "two\n\nparagraphs".to_string(),
        ];
        let trimmed = |text: &str| {
            text.lines()
                .map(str::trim_end)
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut laid = 0;
        for color in [false, true] {
            let handlers = handlers(&RenderOptions {
                color,
                ..RenderOptions::default()
            });
            for severity in [
                miette::Severity::Error,
                miette::Severity::Warning,
                miette::Severity::Advice,
            ] {
                let indent = handlers.message_indent(severity);
                for message in &messages {
                    for help in &helps {
                        let render =
                            |handler: &GraphicalReportHandler, message: &str, help: &str| {
                                let mut diagnostic =
                                    MietteDiagnostic::new(message).with_severity(severity);
                                if !help.is_empty() {
                                    diagnostic = diagnostic.with_help(help);
                                }
                                let mut out = String::new();
                                handler.render_report(&mut out, &diagnostic).unwrap();
                                out
                            };
                        let wrapped = render(&handlers.wrapping, message, help);
                        let message_laid = indent.and_then(|i| laid_out(message, i, false));
                        let help_laid = if help.is_empty() {
                            Some(String::new())
                        } else {
                            laid_out(help, HELP_INDENT, true)
                        };
                        if let (Some(message_laid), Some(help_laid)) = (message_laid, help_laid) {
                            laid += 1;
                            let indented = render(&handlers.indenting, &message_laid, &help_laid);
                            assert_eq!(
                                trimmed(&indented),
                                trimmed(&wrapped),
                                "{message:?} {help:?}"
                            );
                        }
                    }
                }
            }
        }
        // Most texts here are laid out: the test would pass vacuously otherwise.
        assert!(laid >= 24, "only {laid} laid out");
    }

    #[test]
    fn widths_are_the_wrappers_widths() {
        for text in [
            "",
            "plain ascii: `x` (y) [z] {w} ~!@#$%^&*_+-=|\\;:'\",.<>/?",
            "tab\there",
            "\u{1b}[31mred\u{1b}[0m",
            "é→✓ 你好 😂",
            "\u{7f}del",
            "nul\u{0}",
        ] {
            assert_eq!(
                width_of(text),
                textwrap::core::display_width(text),
                "{text:?}"
            );
        }
    }
}
