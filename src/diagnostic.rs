//! Findings as every reporter sees them: a rule id, a severity, a message and
//! locations. Reporters know nothing else about rules.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Serialize;

use crate::span::{FileId, Location, Span};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Note,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text.trim() {
            "note" | "info" => Some(Severity::Note),
            "warning" | "warn" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Related {
    pub location: Location,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub rule: &'static str,
    pub severity: Severity,
    pub message: String,
    pub location: Location,
    /// Short text shown under the highlighted span.
    pub label: Option<String>,
    pub related: Vec<Related>,
    pub help: Option<Help>,
    /// Identity of the object the finding is about (`Kind/namespace/name`), if any.
    pub object: Option<String>,
    /// Path of the node inside its object (`metadata.annotations.linkerd.io/inject`);
    /// with `object` it identifies a finding independently of line numbers.
    pub node_path: Option<String>,
    /// Kustomization roots in which the finding occurs; empty for plain files.
    pub contexts: Vec<String>,
    /// Environments (see `model::environments`) in which the finding occurs; empty when
    /// the repository is analysed as one cluster.
    pub environments: Vec<String>,
    /// An automatic fix, when the rule knows one. Boxed: most findings have none, and a
    /// finding is moved and held in its hundreds of thousands (80 bytes inline, 8 boxed).
    pub fix: Option<Box<Fix>>,
    /// Places that decide the finding without being shown as related locations: the
    /// policies `why` would cite for the flow (the other side's isolating policies). The
    /// gate's `--only-files` keeps a finding when one of them is in a changed file.
    pub cites: Vec<Location>,
    /// Stable identity of the finding across runs (set by the gate stage, see `gate::fingerprint`).
    pub fingerprint: Option<String>,
}

/// Whether applying a fix keeps what the cluster does (`check --fix`) or changes behaviour
/// (`check --unsafe-fixes` only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Applicability {
    Safe,
    Unsafe,
}

impl Applicability {
    pub fn as_str(self) -> &'static str {
        match self {
            Applicability::Safe => "safe",
            Applicability::Unsafe => "unsafe",
        }
    }
}

/// Text edits that resolve a finding: the one description of a repair, which `check --fix`
/// applies and SARIF `fixes` carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fix {
    pub applicability: Applicability,
    pub description: String,
    /// Replacements in existing files, on the bytes the analysis read.
    pub edits: Vec<Edit>,
    /// Files to create, each beside an existing one.
    pub new_files: Vec<NewFile>,
}

/// Replace the text of `span` in `file` with `replacement`. Rules write newlines as `\n`;
/// `analyze` turns them into `\r\n` in files whose lines end so (`fix::adapt`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Edit {
    pub file: FileId,
    pub span: Span,
    pub replacement: String,
}

/// A file to create in the directory of `beside`, named `name` (one path component).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NewFile {
    pub beside: FileId,
    pub name: String,
    pub text: String,
}

/// What to do about a finding: text, or text rendered when a reporter writes it. A help
/// built from the repository (the Gateway API migration of an Ingress) is a kilobyte or
/// more per finding: rendered while the report streams, it is never held for all findings
/// at once, and its memory is reused from one finding to the next.
#[derive(Clone)]
pub enum Help {
    Text(String),
    Rendered(Arc<dyn Fn() -> String + Send + Sync>),
}

impl Help {
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Help::Text(text) => Cow::Borrowed(text),
            Help::Rendered(render) => Cow::Owned(render()),
        }
    }
}

impl std::fmt::Debug for Help {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.text(), f)
    }
}

impl From<String> for Help {
    fn from(text: String) -> Help {
        Help::Text(text)
    }
}

/// `text` in an allocation of its length when building it left much spare capacity (a
/// text grown by appending has up to half its allocation unused): every finding is held
/// until the report is written, and an allocator may keep a shrunk block where it is.
fn fitted(text: String) -> String {
    if text.capacity() - text.len() > text.len() / 8 {
        text.as_str().to_owned()
    } else {
        text
    }
}

impl Diagnostic {
    pub fn new(
        rule: &'static str,
        severity: Severity,
        location: Location,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            rule,
            severity,
            message: fitted(message.into()),
            location,
            label: None,
            related: Vec::new(),
            help: None,
            object: None,
            node_path: None,
            contexts: Vec::new(),
            environments: Vec::new(),
            fix: None,
            cites: Vec::new(),
            fingerprint: None,
        }
    }

    pub fn with_label(&mut self, label: impl Into<String>) -> &mut Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_help(&mut self, help: impl Into<String>) -> &mut Self {
        self.help = Some(Help::Text(fitted(help.into())));
        self
    }

    /// A help rendered each time a reporter writes it (see [`Help`]).
    pub fn with_rendered_help(
        &mut self,
        render: impl Fn() -> String + Send + Sync + 'static,
    ) -> &mut Self {
        self.help = Some(Help::Rendered(Arc::new(render)));
        self
    }

    /// The help's text, rendered if need be.
    pub fn help_text(&self) -> Option<Cow<'_, str>> {
        self.help.as_ref().map(Help::text)
    }

    pub fn with_related(&mut self, location: Location, message: impl Into<String>) -> &mut Self {
        self.related.push(Related {
            location,
            message: message.into(),
        });
        self
    }

    /// Records a place that decides the finding (see [`Diagnostic::cites`]).
    pub fn with_cite(&mut self, location: Location) -> &mut Self {
        if !self.cites.contains(&location) {
            self.cites.push(location);
        }
        self
    }

    pub fn with_object(
        &mut self,
        object: impl Into<String>,
        node_path: impl Into<String>,
    ) -> &mut Self {
        self.object = Some(object.into());
        self.node_path = Some(node_path.into());
        self
    }

    pub fn with_fix(&mut self, fix: Fix) -> &mut Self {
        self.fix = Some(Box::new(fix));
        self
    }
}
