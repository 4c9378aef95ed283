//! JSON output. The schema is part of the public interface (README, "JSON output"):
//! fields are only ever added, never renamed or removed, within a `version`.

use serde::Serialize;

use super::stream::{PrettyObject, write_array, write_pretty};
use crate::analysis::{Analysis, Summary};
use crate::diagnostic::Diagnostic;
use crate::load::Sources;
use crate::span::{Location, Pos};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Output<'a> {
    version: u32,
    tool: Tool,
    findings: Findings<'a>,
    summary: Summary,
}

/// The findings, serialised one by one as they are written (the same sequence a `Vec`
/// gives), so a report of a hundred thousand findings builds no second list of them.
struct Findings<'a> {
    diagnostics: &'a [Diagnostic],
    sources: &'a Sources,
}

impl Serialize for Findings<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.diagnostics.iter().map(|d| finding(d, self.sources)))
    }
}

#[derive(Serialize)]
struct Tool {
    name: &'static str,
    version: &'static str,
}

#[derive(Serialize)]
pub struct Point {
    pub line: usize,
    pub column: usize,
}

#[derive(Serialize)]
struct Finding<'a> {
    rule: &'a str,
    severity: &'a str,
    message: &'a str,
    path: &'a str,
    start: Point,
    end: Point,
    #[serde(skip_serializing_if = "Option::is_none")]
    label: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<std::borrow::Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<&'a str>,
    related: Related<'a>,
    /// Kustomization roots rendering the object; absent for plain files.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    contexts: &'a [String],
    /// Environments the finding occurs in; absent when the repository is one cluster.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    environments: &'a [String],
}

/// The related locations, serialised as they are written (the sequence a `Vec` gives),
/// so a finding builds no list of them.
struct Related<'a> {
    related: &'a [crate::diagnostic::Related],
    sources: &'a Sources,
}

impl Serialize for Related<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.related.iter().map(|r| {
            let (path, start, end) = place(&r.location, self.sources);
            RelatedLocation {
                message: &r.message,
                path,
                start,
                end,
            }
        }))
    }
}

#[derive(Serialize)]
struct RelatedLocation<'a> {
    message: &'a str,
    path: &'a str,
    start: Point,
    end: Point,
}

fn point(pos: Pos) -> Point {
    Point {
        line: pos.line as usize,
        column: pos.col as usize,
    }
}

fn finding<'a>(d: &'a Diagnostic, sources: &'a Sources) -> Finding<'a> {
    let (path, start, end) = place(&d.location, sources);
    Finding {
        rule: d.rule,
        severity: d.severity.as_str(),
        message: &d.message,
        path,
        start,
        end,
        label: d.label.as_deref(),
        help: d.help_text(),
        object: d.object.as_deref(),
        contexts: &d.contexts,
        environments: &d.environments,
        related: Related {
            related: &d.related,
            sources,
        },
    }
}

/// `finding` as [`write_pretty`] serialises it `level` levels down (its fields in the order
/// `Finding` declares them), written by hand: a report holds one per finding.
fn write_finding(buffer: &mut Vec<u8>, finding: &Finding<'_>, level: usize) {
    let point = |object: &mut PrettyObject<'_>, key: &str, point: &Point| {
        object.object(key, |fields| {
            fields.number("line", point.line);
            fields.number("column", point.column);
        });
    };
    let strings = |object: &mut PrettyObject<'_>, key: &str, values: &[String]| {
        if !values.is_empty() {
            object.array(key, values, |buffer, _, value| {
                super::stream::write_json_string(buffer, value);
            });
        }
    };
    let mut object = PrettyObject::open(buffer, level);
    object.string("rule", finding.rule);
    object.string("severity", finding.severity);
    object.string("message", finding.message);
    object.string("path", finding.path);
    point(&mut object, "start", &finding.start);
    point(&mut object, "end", &finding.end);
    for (key, value) in [
        ("label", finding.label),
        ("help", finding.help.as_deref()),
        ("object", finding.object),
    ] {
        if let Some(value) = value {
            object.string(key, value);
        }
    }
    let sources = finding.related.sources;
    object.array(
        "related",
        finding.related.related,
        |buffer, level, related| {
            let (path, start, end) = place(&related.location, sources);
            let mut fields = PrettyObject::open(buffer, level);
            fields.string("message", &related.message);
            fields.string("path", path);
            point(&mut fields, "start", &start);
            point(&mut fields, "end", &end);
            fields.close();
        },
    );
    strings(&mut object, "contexts", finding.contexts);
    strings(&mut object, "environments", finding.environments);
    object.close();
}

fn place<'a>(location: &Location, sources: &'a Sources) -> (&'a str, Point, Point) {
    let (start, end) = sources.range(*location);
    (sources.display(location.file), point(start), point(end))
}

/// Writes the report to `out` as it is serialised, byte for byte what [`render`] returns,
/// without holding the document in memory (at 100,000 workloads it is ~250 MB): the
/// fields in the order [`Output`] declares them, the findings streamed.
pub fn write(analysis: &Analysis, out: &mut (impl std::io::Write + ?Sized)) -> std::io::Result<()> {
    let Output {
        version,
        tool,
        findings,
        summary,
    } = output(analysis);
    out.write_all(b"{\n  \"version\": ")?;
    write_pretty(out, &version, 1)?;
    out.write_all(b",\n  \"tool\": ")?;
    write_pretty(out, &tool, 1)?;
    out.write_all(b",\n  \"findings\": ")?;
    write_array(out, 1, findings.diagnostics.len(), |index, buffer| {
        write_finding(
            buffer,
            &finding(&findings.diagnostics[index], findings.sources),
            2,
        );
        Ok(())
    })?;
    out.write_all(b",\n  \"summary\": ")?;
    write_pretty(out, &summary, 1)?;
    out.write_all(b"\n}\n")
}

fn output(analysis: &Analysis) -> Output<'_> {
    Output {
        version: SCHEMA_VERSION,
        tool: Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        },
        findings: Findings {
            diagnostics: &analysis.diagnostics,
            sources: &analysis.sources,
        },
        summary: analysis.summary(),
    }
}

pub fn render(analysis: &Analysis) -> String {
    let output = output(analysis);
    let mut text = serde_json::to_string_pretty(&output).unwrap_or_else(|e| {
        format!("{{\"version\":{SCHEMA_VERSION},\"error\":\"cannot serialise output: {e}\"}}")
    });
    text.push('\n');
    text
}
