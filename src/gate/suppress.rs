//! Suppressions written in the manifests:
//!
//! - object level: annotation `xks-lint.io/ignore: "rule-a,rule-b -- reason"` (or `all`)
//!   silences those rules for every finding inside the object (or about it);
//! - line level: a YAML comment `# xks-lint: ignore[rule-a, rule-b] -- reason` silences
//!   findings that start on its own line (a comment after a value) or, for a comment on a
//!   line of its own, on the next line.
//!
//! Every suppression that silenced nothing becomes an `unused-suppression` finding.

use crate::hashing::FastMap;

use crate::diagnostic::{Diagnostic, Severity};
use crate::load::Sources;
use crate::model::Model;
use crate::rules::{RuleSelection, UnusedSuppression, find, registry};
use crate::span::{FileId, Location, Pos, Span, narrow};

use super::{Suppressed, SuppressionKind};

pub const ANNOTATION: &str = "xks-lint.io/ignore";
const COMMENT_MARKER: &str = "xks-lint:";

/// One rule id named by a suppression, with whether it silenced something.
#[derive(Debug, Clone)]
struct Entry {
    rule: String,
    used: bool,
}

#[derive(Debug, Clone)]
enum Scope {
    /// Findings inside this span of this file, or about this object.
    Object {
        file: FileId,
        span: Span,
        identity: String,
    },
    Line {
        file: FileId,
        line: usize,
    },
}

#[derive(Debug, Clone)]
struct Site {
    kind: SuppressionKind,
    location: Location,
    scope: Scope,
    /// `None` for `all`.
    entries: Option<Vec<Entry>>,
    all_used: bool,
    reason: Option<String>,
    /// For fingerprints of unused-suppression findings.
    object: Option<(String, String)>,
    /// Why the suppression could not be read, if it could not.
    malformed: Option<String>,
}

impl Site {
    /// Whether the site covers `d`, which starts on `line` of its file.
    fn covers(&self, d: &Diagnostic, line: usize) -> bool {
        match &self.scope {
            Scope::Object {
                file,
                span,
                identity,
            } => {
                (d.location.file == *file
                    && span.start.byte <= d.location.span.start.byte
                    && d.location.span.start.byte < span.end.byte.max(span.start.byte + 1))
                    || d.object.as_deref() == Some(identity.as_str())
            }
            Scope::Line {
                file,
                line: line_number,
            } => d.location.file == *file && line == *line_number,
        }
    }

    fn names(&self, rule: &str) -> bool {
        self.entries
            .as_ref()
            .is_none_or(|entries| entries.iter().any(|e| e.rule == rule))
    }

    /// Marks the entry for `rule` used; false when the site does not name `rule`.
    fn take(&mut self, rule: &str) -> bool {
        match &mut self.entries {
            None => {
                self.all_used = true;
                true
            }
            Some(entries) => match entries.iter_mut().find(|e| e.rule == rule) {
                Some(entry) => {
                    entry.used = true;
                    true
                }
                None => false,
            },
        }
    }
}

/// `rule-a, rule-b -- reason` → (ids or `None` for all, reason).
fn parse_list(text: &str) -> (Option<Vec<Entry>>, Option<String>) {
    let (list, reason) = match text.split_once("--") {
        Some((list, reason)) => (list, Some(reason.trim().to_string())),
        None => (text, None),
    };
    let reason = reason.filter(|r| !r.is_empty());
    let ids: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if ids.contains(&"all") {
        return (None, reason);
    }
    let entries = ids
        .into_iter()
        .map(|rule| Entry {
            rule: rule.to_string(),
            used: false,
        })
        .collect();
    (Some(entries), reason)
}

fn annotation_sites(model: &Model) -> Vec<Site> {
    // Every object's annotations are looked at on every core; the sites keep object order.
    use rayon::prelude::*;
    model
        .objects
        .par_iter()
        .filter_map(|object| {
            let (_, value) = object
                .node
                .path(&["metadata", "annotations"])
                .and_then(|a| a.entry(ANNOTATION))?;
            Some(annotation_site(object, value))
        })
        .collect()
}

/// The suppression an object's annotation `value` writes.
fn annotation_site(object: &crate::model::Object, value: &crate::load::yaml::Node) -> Site {
    let text = value.scalar_text().unwrap_or_default();
    let (entries, reason) = parse_list(text);
    let empty = entries.as_ref().is_some_and(Vec::is_empty);
    Site {
        kind: SuppressionKind::Annotation,
        location: object.location(value.span),
        scope: Scope::Object {
            file: object.file,
            span: object.node.span,
            identity: object.identity(),
        },
        entries,
        all_used: false,
        reason,
        object: Some((
            object.identity(),
            format!("metadata.annotations.{ANNOTATION}"),
        )),
        malformed: empty.then(|| {
            format!("`{ANNOTATION}` names no rule: write rule ids separated by commas, or `all`")
        }),
    }
}

/// Byte offset of the comment's `#` when `line` has a comment holding the marker.
fn comment_start(line: &str) -> Option<usize> {
    let mut single = false;
    let mut double = false;
    let mut previous = ' ';
    for (i, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single && previous != '\\' => double = !double,
            // A YAML comment starts at a `#` outside quotes, at the line start or after a blank.
            '#' if !single && !double && (i == 0 || previous.is_whitespace()) => {
                return line[i + 1..]
                    .trim_start()
                    .starts_with(COMMENT_MARKER)
                    .then_some(i);
            }
            _ => {}
        }
        previous = c;
    }
    None
}

fn comment_sites(sources: &Sources) -> Vec<Site> {
    // Files are searched on every core; the sites keep file and line order. Every file's
    // text is searched (200 MB at 100,000 workloads): one vectorised `memmem` searcher,
    // built once, rather than `str::contains`, which sets up a searcher per file and
    // scans at a fraction of the speed.
    use rayon::prelude::*;
    static MARKER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(COMMENT_MARKER));
    let per_file: Vec<Vec<Site>> = sources
        .files
        .par_iter()
        .enumerate()
        .filter(|(_, source)| MARKER.find(source.text.as_bytes()).is_some())
        .map(|(index, source)| comment_sites_in(FileId::new(index), &source.text))
        .collect();
    per_file.into_iter().flatten().collect()
}

/// The suppression comments of one file.
fn comment_sites_in(file: FileId, text: &str) -> Vec<Site> {
    let mut sites = Vec::new();
    let mut offset = 0;
    for (line_index, line) in text.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += line.len();
        let body = line.trim_end_matches(['\n', '\r']);
        let Some(hash) = comment_start(body) else {
            continue;
        };
        let line_number = line_index + 1;
        let comment = body[hash + 1..].trim_start();
        let rest = comment[COMMENT_MARKER.len()..].trim_start();
        // Positions from the line itself: no rescan of the file per comment.
        let at = |byte_in_line: usize| Pos {
            byte: narrow(line_start + byte_in_line),
            line: narrow(line_number),
            col: narrow(body.get(..byte_in_line).map_or(0, |b| b.chars().count()) + 1),
        };
        let span = Span {
            start: at(hash).into(),
            end: at(body.len()).into(),
        };
        let own_line = body[..hash].trim().is_empty();
        let scope = Scope::Line {
            file,
            line: if own_line {
                line_number + 1
            } else {
                line_number
            },
        };
        let parsed = rest
            .strip_prefix("ignore[")
            .and_then(|inner| inner.split_once(']'))
            .map(|(list, after)| {
                let reason = after.trim_start().strip_prefix("--").map(str::trim);
                let (entries, _) = parse_list(list);
                (
                    entries,
                    reason.filter(|r| !r.is_empty()).map(str::to_string),
                )
            });
        let (entries, reason, malformed) = match parsed {
            Some((entries, reason)) => {
                let empty = entries.as_ref().is_some_and(Vec::is_empty);
                (
                    entries,
                    reason,
                    empty.then(|| "`ignore[]` names no rule".to_string()),
                )
            }
            None => (
                Some(Vec::new()),
                None,
                Some(
                    "cannot read this comment: write `# xks-lint: ignore[rule-id, ...]`"
                        .to_string(),
                ),
            ),
        };
        sites.push(Site {
            kind: SuppressionKind::Comment,
            location: Location { file, span },
            scope,
            entries,
            all_used: false,
            reason,
            object: None,
            malformed,
        });
    }
    sites
}

/// Splits `diagnostics` into the findings that stay and those suppressed, and adds the
/// `unused-suppression` findings (when that rule is enabled).
pub fn apply(
    model: &Model,
    sources: &Sources,
    diagnostics: Vec<Diagnostic>,
    selection: &RuleSelection,
) -> (Vec<Diagnostic>, Vec<Suppressed>, Vec<Diagnostic>) {
    // Line comments first: they are the more precise of the two.
    let mut sites = comment_sites(sources);
    sites.extend(annotation_sites(model));
    let index = SiteIndex::new(&sites);
    // Suppressed findings are taken out in place (in order), so the kept ones are not
    // moved into a second list.
    let mut kept = diagnostics;
    let mut taken_by: Vec<usize> = Vec::new();
    let taken: Vec<Diagnostic> = kept
        .extract_if(.., |diagnostic| {
            // The finding's line, counted in its file only where a comment may name it.
            let line = if index.lines.is_empty() {
                0
            } else {
                sources.start(diagnostic.location).line as usize
            };
            // The first site (in the order above) that names the rule and covers the finding.
            let site = index
                .candidates(diagnostic, line)
                .into_iter()
                .filter(|&i| {
                    sites.get(i).is_some_and(|site| {
                        site.names(diagnostic.rule) && site.covers(diagnostic, line)
                    })
                })
                .min();
            match site.and_then(|i| sites.get_mut(i).map(|site| (i, site))) {
                Some((i, site)) => {
                    site.take(diagnostic.rule);
                    taken_by.push(i);
                    true
                }
                None => false,
            }
        })
        .collect();
    let suppressed: Vec<Suppressed> = taken
        .into_iter()
        .zip(taken_by)
        .filter_map(|(diagnostic, i)| {
            let site = sites.get(i)?;
            Some(Suppressed {
                kind: site.kind,
                location: site.location,
                reason: site.reason.clone(),
                diagnostic,
            })
        })
        .collect();
    let unused = if selection.enabled(UnusedSuppression::ID) {
        unused(&sites, selection)
    } else {
        Vec::new()
    };
    (kept, suppressed, unused)
}

/// Where to look for the sites that may cover a finding, so that matching findings to
/// suppressions does not compare every finding with every site.
struct SiteIndex {
    /// (file, line) → line sites.
    lines: FastMap<(FileId, usize), Vec<usize>>,
    /// Per file, object sites sorted by start, with the largest end among them and every
    /// earlier one (to stop the backward walk as soon as nothing earlier can cover).
    objects: FastMap<FileId, Vec<(u32, u32, usize)>>,
    /// Object identity → object sites.
    identities: FastMap<String, Vec<usize>>,
}

impl SiteIndex {
    fn new(sites: &[Site]) -> Self {
        let mut index = SiteIndex {
            lines: FastMap::default(),
            objects: FastMap::default(),
            identities: FastMap::default(),
        };
        for (i, site) in sites.iter().enumerate() {
            match &site.scope {
                Scope::Line { file, line } => {
                    index.lines.entry((*file, *line)).or_default().push(i);
                }
                Scope::Object {
                    file,
                    span,
                    identity,
                } => {
                    let end = span.end.byte.max(span.start.byte.saturating_add(1));
                    index
                        .objects
                        .entry(*file)
                        .or_default()
                        .push((span.start.byte, end, i));
                    index
                        .identities
                        .entry(identity.clone())
                        .or_default()
                        .push(i);
                }
            }
        }
        for list in index.objects.values_mut() {
            list.sort_unstable();
            let mut max_end = 0;
            for entry in list.iter_mut() {
                max_end = max_end.max(entry.1);
                entry.1 = max_end;
            }
        }
        index
    }

    /// Sites that may cover `d`, which starts on `line` of its file (a superset;
    /// `Site::covers` decides).
    fn candidates(&self, d: &Diagnostic, line: usize) -> Vec<usize> {
        let mut found = Vec::new();
        if let Some(list) = self.lines.get(&(d.location.file, line)) {
            found.extend_from_slice(list);
        }
        if let Some(list) = self.objects.get(&d.location.file) {
            let at = d.location.span.start.byte;
            let upto = list.partition_point(|(start, _, _)| *start <= at);
            for &(_, max_end, i) in list[..upto].iter().rev() {
                if max_end <= at {
                    break;
                }
                found.push(i);
            }
        }
        if let Some(identity) = d.object.as_deref()
            && let Some(list) = self.identities.get(identity)
        {
            found.extend_from_slice(list);
        }
        found
    }
}

fn unused(sites: &[Site], selection: &RuleSelection) -> Vec<Diagnostic> {
    let severity = find(UnusedSuppression::ID)
        .map(|r| r.doc.severity)
        .unwrap_or(Severity::Warning);
    let severity = selection
        .severity
        .get(UnusedSuppression::ID)
        .copied()
        .unwrap_or(severity);
    let every_rule_ran = registry().iter().all(|r| selection.enabled(r.doc.id));
    let mut found = Vec::new();
    let mut report = |site: &Site, key: &str, message: String, help: &str| {
        let mut d = Diagnostic::new(UnusedSuppression::ID, severity, site.location, message);
        d.with_label("suppresses nothing").with_help(help);
        if let Some((identity, path)) = &site.object {
            d.with_object(identity.clone(), format!("{path}#{key}"));
        }
        found.push(d);
    };
    for site in sites {
        if let Some(problem) = &site.malformed {
            report(
                site,
                "malformed",
                problem.clone(),
                "fix the suppression or delete it",
            );
            continue;
        }
        match &site.entries {
            None if !site.all_used && every_rule_ran => report(
                site,
                "all",
                "this suppression of all rules suppresses nothing".to_string(),
                "delete it: nothing is reported here",
            ),
            None => {}
            Some(entries) => {
                for entry in entries.iter().filter(|e| !e.used) {
                    if find(&entry.rule).is_none() {
                        let hint = crate::config::closest(
                            &entry.rule,
                            registry().iter().map(|r| r.doc.id),
                        )
                        .map(|c| format!(" (did you mean `{c}`?)"))
                        .unwrap_or_default();
                        report(
                            site,
                            &entry.rule,
                            format!(
                                "`{}` is not a rule{hint}: this suppression suppresses nothing",
                                entry.rule
                            ),
                            "correct the rule id (`xks-lint rules` lists them) or delete it",
                        );
                    } else if selection.enabled(&entry.rule) {
                        report(
                            site,
                            &entry.rule,
                            format!(
                                "suppression of `{}` suppresses nothing: no such finding here",
                                entry.rule
                            ),
                            "delete it: the problem it silenced is gone",
                        );
                    }
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_found_outside_quotes_only() {
        assert_eq!(comment_start("# xks-lint: ignore[a]"), Some(0));
        assert_eq!(comment_start("  key: v # xks-lint: ignore[a]"), Some(9));
        assert_eq!(comment_start("key: \"# xks-lint: ignore[a]\""), None);
        assert_eq!(comment_start("key: '# xks-lint: x'"), None);
        assert_eq!(comment_start("key: a#xks-lint: x"), None);
        assert_eq!(comment_start("# another comment"), None);
    }

    #[test]
    fn lists_and_reasons() {
        let (entries, reason) = parse_list(" a, b -- agreed with platform ");
        let ids: Vec<String> = entries.unwrap().into_iter().map(|e| e.rule).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(reason.as_deref(), Some("agreed with platform"));
        assert!(parse_list("all").0.is_none());
    }
}
