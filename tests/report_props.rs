//! Issue 14, item 3: every reporter renders any finding without panicking, whatever its
//! span (out of range, end before start, past the file, inside a UTF-8 character, on a
//! line longer than 65,535 columns) and whatever its strings hold; and what it renders,
//! once through the output layer, keeps the sanitising invariants (see `common`).

use std::path::PathBuf;
use std::sync::Arc;

use proptest::prelude::*;
use xks_lint::diagnostic::{Diagnostic, Related, Severity};
use xks_lint::graph::ports::ConnSet;
use xks_lint::graph::{Connection, End, EndKind};
use xks_lint::load::SourceFile;
use xks_lint::report::connectivity::{self, ConnectivityFormat};
use xks_lint::report::sanitize::{Channel, guard};
use xks_lint::report::{Format, RenderOptions};
use xks_lint::span::{FileId, Location, Pos, Span};
use xks_lint::{Analysis, CheckOptions, analyze};

mod common;
use common::{Kind, check_output};

/// Strings made of the pieces that break outputs, mixed with ordinary and multi-byte text.
fn hostile_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        any::<char>().prop_map(String::from),
        Just("\n".to_string()),
        Just("\r".to_string()),
        Just("\t".to_string()),
        Just("\u{1b}[31m".to_string()),
        Just("\u{1b}]8;;x\u{7}".to_string()),
        Just("::error::forged".to_string()),
        Just("::add-mask::m".to_string()),
        Just("##[set-output name=a]b".to_string()),
        Just("%0A".to_string()),
        Just(":,%".to_string()),
        Just("\u{202e}\u{2066}\u{2028}\u{9b}\u{7f}".to_string()),
        Just("é😀\"<>#\\".to_string()),
        Just("ab c".to_string()),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|pieces| pieces.concat())
}

/// Source text: hostile lines, sometimes with a line of more than 65,535 characters.
fn source_text() -> impl Strategy<Value = String> {
    (hostile_string(), hostile_string(), 0..4u8).prop_map(|(a, b, shape)| match shape {
        0 => format!("{a}{}{b}", "x".repeat(70_000)),
        1 => format!("{a}\n{b}\n{a}"),
        _ => a,
    })
}

/// Any position: near the text's size mostly, sometimes anywhere in u32.
fn position() -> impl Strategy<Value = Pos> {
    let number = prop_oneof![0..80u32, 69_990..70_100u32, any::<u32>()];
    (number.clone(), number.clone(), number).prop_map(|(byte, line, col)| Pos { byte, line, col })
}

fn span() -> impl Strategy<Value = Span> {
    (position(), position()).prop_map(|(start, end)| Span {
        start: start.into(),
        end: end.into(),
    })
}

const RULES: [&str; 3] = [
    "parse-error",
    "missing-ingress-pair",
    "tls-host-not-covered",
];

#[derive(Debug, Clone)]
struct Finding {
    rule: usize,
    severity: u8,
    file: usize,
    span: Span,
    message: String,
    label: Option<String>,
    help: Option<String>,
    related: Vec<(usize, Span, String)>,
    contexts: Vec<String>,
}

fn finding() -> impl Strategy<Value = Finding> {
    (
        (0..RULES.len(), 0..3u8, 0..3usize, span()),
        (
            hostile_string(),
            prop::option::of(hostile_string()),
            prop::option::of(hostile_string()),
            prop::collection::vec((0..3usize, span(), hostile_string()), 0..3),
            prop::collection::vec(hostile_string(), 0..2),
        ),
    )
        .prop_map(
            |((rule, severity, file, span), (message, label, help, related, contexts))| Finding {
                rule,
                severity,
                file,
                span,
                message,
                label,
                help,
                related,
                contexts,
            },
        )
}

fn diagnostic(f: &Finding) -> Diagnostic {
    let location = |file: usize, span: Span| Location {
        file: FileId::new(file),
        span,
    };
    let severity = [Severity::Error, Severity::Warning, Severity::Note][f.severity as usize % 3];
    let mut d = Diagnostic::new(
        RULES[f.rule],
        severity,
        location(f.file, f.span),
        f.message.clone(),
    );
    d.label = f.label.clone();
    d.help = f.help.clone().map(Into::into);
    d.related = f
        .related
        .iter()
        .map(|(file, span, message)| Related {
            location: location(*file, *span),
            message: message.clone(),
        })
        .collect();
    d.contexts = f.contexts.clone();
    d.environments = f.contexts.clone();
    d.object = f.label.clone();
    d.fingerprint = Some(f.message.clone());
    d
}

/// `format` written the way `check` streams it (through a guarded writer), and the
/// rendered document guarded: the two must be the same bytes.
fn streamed_and_rendered(
    analysis: &Analysis,
    format: Format,
    color: bool,
    channel: Channel,
) -> (Vec<u8>, String) {
    let options = RenderOptions {
        color,
        summary: color,
        ..RenderOptions::default()
    };
    let rendered = xks_lint::report::render(format, analysis, &options);
    let mut out = xks_lint::report::emit::Guarded::new(Vec::new(), channel);
    match format {
        Format::Sarif => xks_lint::report::sarif::write(analysis, &options, &mut out),
        Format::Human => xks_lint::report::human::write(analysis, &options, &mut out),
        Format::Gitlab => xks_lint::report::gitlab::write(analysis, &mut out),
        _ => xks_lint::report::json::write(analysis, &mut out),
    }
    .unwrap();
    let streamed = out.finish().unwrap();
    (streamed, guard(&rendered, channel).into_owned())
}

fn kind_of(channel: Channel) -> Kind {
    match channel {
        Channel::Text => Kind::Text,
        Channel::StyledText => Kind::Styled,
        Channel::Json => Kind::Json,
        Channel::GithubCommands => Kind::Github,
        Channel::Patch => Kind::Patch,
    }
}

/// An analysis of nothing, given these source files and findings.
fn analysis_of(files: &[(String, String)], findings: &[Finding]) -> Analysis {
    let mut analysis = analyze(&CheckOptions::default());
    analysis.sources.files = files
        .iter()
        .map(|(name, text)| {
            SourceFile::new(PathBuf::from(name), name.clone(), Arc::new(text.clone()))
        })
        .collect::<Vec<_>>()
        .into();
    analysis.diagnostics = findings.iter().map(diagnostic).collect();
    analysis
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// `check --diff` output: hostile file contents, CRLF or not, reach the terminal with
    /// only a line-ending `\r` kept raw.
    #[test]
    fn patch_channel_keeps_only_line_ending_carriage_returns(
        lines in prop::collection::vec(hostile_string(), 0..6),
        crlf in any::<bool>(),
    ) {
        let end = if crlf { "\r\n" } else { "\n" };
        let text: String = lines.iter().map(|l| format!("+{l}{end}")).collect();
        let guarded = guard(&text, Channel::Patch);
        check_output("patch", guarded.as_bytes(), Kind::Patch);
        prop_assert_eq!(guarded.matches("\r\n").count() >= usize::from(crlf) * lines.len(), true);
    }

    #[test]
    fn every_format_renders_any_finding_safely(
        files in prop::collection::vec((hostile_string(), source_text()), 0..3),
        findings in prop::collection::vec(finding(), 1..4),
    ) {
        let mut analysis = analysis_of(&files, &findings);
        analysis.gate.repo_paths = files.iter().map(|(name, _)| name.clone()).collect();
        for format in [Format::Human, Format::Json, Format::Sarif, Format::Github, Format::Gitlab] {
            for color in [false, true] {
                let options = RenderOptions { color, summary: true, ..RenderOptions::default() };
                let text = xks_lint::report::render(format, &analysis, &options);
                let channel = match format.channel() {
                    Channel::Text if color => Channel::StyledText,
                    channel => channel,
                };
                let guarded = guard(&text, channel);
                check_output(&format!("{format:?} color={color}"), guarded.as_bytes(), kind_of(channel));
            }
        }
    }

    /// `check` streams its JSON, SARIF, GitLab and human reports (`report::json::write`,
    /// `sarif::write`, `gitlab::write`, `human::write` through a guarded writer): the bytes
    /// are those of the rendered document, guarded.
    #[test]
    fn streamed_reports_are_the_rendered_ones(
        files in prop::collection::vec((hostile_string(), source_text()), 0..3),
        findings in prop::collection::vec(finding(), 1..4),
    ) {
        let analysis = analysis_of(&files, &findings);
        for (format, color, channel) in [
            (Format::Json, false, Channel::Json),
            (Format::Sarif, false, Channel::Json),
            (Format::Gitlab, false, Channel::Json),
            (Format::Human, false, Channel::Text),
            (Format::Human, true, Channel::StyledText),
        ] {
            let (streamed, rendered) = streamed_and_rendered(&analysis, format, color, channel);
            prop_assert_eq!(String::from_utf8_lossy(&streamed).into_owned(), rendered);
        }
    }

    #[test]
    fn connectivity_formats_render_any_label_safely(
        ends in prop::collection::vec((hostile_string(), prop::option::of(hostile_string()), 0..3u8), 1..5),
    ) {
        let ends: Vec<Arc<End>> = ends
            .into_iter()
            .map(|(label, namespace, kind)| {
                Arc::new(End {
                    label,
                    namespace,
                    kind: [EndKind::Workload, EndKind::Platform, EndKind::Ip][kind as usize % 3],
                })
            })
            .collect();
        let connections: Vec<Connection> = ends
            .iter()
            .zip(ends.iter().cycle().skip(1))
            .map(|(src, dst)| Connection { src: src.clone(), dst: dst.clone(), conns: ConnSet::all() })
            .collect();
        for format in [
            ConnectivityFormat::Txt,
            ConnectivityFormat::Json,
            ConnectivityFormat::Csv,
            ConnectivityFormat::Dot,
            ConnectivityFormat::Mermaid,
        ] {
            let text = connectivity::render(format, &connections);
            let channel = connectivity::channel(format);
            let guarded = guard(&text, channel);
            check_output(&format!("{format:?}"), guarded.as_bytes(), kind_of(channel));
            // The formats' own quoting keeps every value on its line: the document has as
            // many lines before the guard as after it.
            prop_assert_eq!(guarded.lines().count(), text.lines().count());
        }
    }
}

#[test]
fn a_finding_past_column_65535_renders_with_its_real_position() {
    let dir = tempfile::tempdir().unwrap();
    // A minified one-line JSON manifest of about 70 KB with a syntax error at its end.
    let labels: Vec<String> = (0..6000).map(|i| format!("\"k{i}\":\"vvvvvv\"")).collect();
    let json = format!(
        "{{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{{\"name\":\"x\",\"labels\":{{{}}}}},\"zz\": [}}",
        labels.join(",")
    );
    assert!(json.len() > 66_000);
    std::fs::write(dir.path().join("big.json"), &json).unwrap();
    let output = assert_cmd::Command::cargo_bin("xks-lint")
        .unwrap()
        .current_dir(dir.path())
        .args(["check", "."])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let column = json.chars().count();
    assert!(
        stdout.contains(&format!("big.json:1:{column}]")),
        "the header keeps the real column:\n{stdout}"
    );
    assert!(stdout.contains('…'), "the long line is elided:\n{stdout}");
    assert!(stdout.len() < 4_000, "{} bytes", stdout.len());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2, ..ProptestConfig::default() })]

    /// The streamed reports render their findings a window at a time on several threads and
    /// guard large batches in pieces: with enough findings to cross windows, tasks and
    /// pieces, the bytes are still those of the rendered document, guarded.
    #[test]
    fn streamed_reports_of_many_findings_are_the_rendered_ones(
        files in prop::collection::vec((hostile_string(), source_text()), 1..3),
        findings in prop::collection::vec(finding(), 1..6),
        count in 4_097..4_600usize,
    ) {
        let many: Vec<Finding> = findings.iter().cycle().take(count).cloned().collect();
        let analysis = analysis_of(&files, &many);
        // Human output streams through the same windows (`report::stream`'s own tests cut
        // small ones); it is compared on few findings above, where it is cheap.
        for format in [Format::Json, Format::Sarif, Format::Gitlab] {
            let (streamed, rendered) = streamed_and_rendered(&analysis, format, false, Channel::Json);
            prop_assert!(
                streamed == rendered.as_bytes(),
                "{format:?}: {} streamed bytes, {} rendered",
                streamed.len(),
                rendered.len()
            );
        }
    }
}
