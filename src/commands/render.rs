//! `xks-lint render`: the objects of the model as xks-lint sees them after building
//! kustomizations, as a YAML stream (or a JSON `List`), in kustomize's legacy order.

use super::shared::{EXIT_CLEAN, EXIT_FINDINGS, stream_stdout};
use crate::load::{IssueKind, LoadIssue, Sources};
use crate::model::Object;
use crate::report::sanitize::Channel;
use crate::report::sanitize::inline;
use crate::report::{emit, yaml};

use super::InputArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RenderFormat {
    /// A YAML stream, documents separated by `---` lines (what `kubectl kustomize` prints).
    Yaml,
    /// One JSON `v1` `List` holding every object.
    Json,
}

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Kustomization roots, directories or files to render (default `.`); `-` reads
    /// standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<String>,
    #[arg(long, value_enum, default_value_t = RenderFormat::Yaml)]
    pub format: RenderFormat,
    #[command(flatten)]
    pub input: InputArgs,
}

/// Kinds kustomize's legacy order puts first, in that order.
const ORDER_FIRST: [&str; 22] = [
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];

/// Kinds kustomize's legacy order puts last, in that order.
const ORDER_LAST: [&str; 2] = [
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

fn kind_rank(kind: &str) -> i32 {
    if let Some(index) = ORDER_FIRST.iter().position(|k| *k == kind) {
        return index as i32 - ORDER_FIRST.len() as i32;
    }
    ORDER_LAST
        .iter()
        .position(|k| *k == kind)
        .map_or(0, |index| index as i32 + 1)
}

fn node_text<'a>(object: &'a Object, path: &[&str]) -> &'a str {
    object
        .node
        .path(path)
        .and_then(|n| n.scalar_text())
        .unwrap_or_default()
}

/// kustomize's legacy order (`kubectl kustomize` without `sortOptions`) as a key: kinds
/// ranked by [`ORDER_FIRST`] / [`ORDER_LAST`] (others between), then group, version and
/// kind, then name, then namespace, as written in the rendered objects. Borrowed and read
/// once per object (reading it per comparison copied six strings each time, a quarter of
/// `render`'s time at 100,000 workloads).
pub fn legacy_key(object: &Object) -> (i32, &str, &str, &str, &str, &str) {
    let api_version = node_text(object, &["apiVersion"]);
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    let kind = node_text(object, &["kind"]);
    (
        kind_rank(kind),
        group,
        version,
        kind,
        node_text(object, &["metadata", "name"]),
        node_text(object, &["metadata", "namespace"]),
    )
}

fn issue_label(kind: IssueKind) -> (&'static str, &'static str) {
    match kind {
        IssueKind::Syntax | IssueKind::Schema => ("error", "parse-error"),
        IssueKind::HelmTemplate => ("note", "helm-template"),
        IssueKind::Unreadable => ("error", "unreadable-file"),
        IssueKind::TooLarge => ("warning", "file-too-large"),
        IssueKind::OutsideTree => ("warning", "symlink-outside-tree"),
        IssueKind::KustomizeNote => ("note", "kustomize-not-applied"),
        IssueKind::KustomizeError => ("error", "kustomize-error"),
    }
}

/// `file:line:col: severity[rule]: message`, with every unsafe character escaped.
pub fn issue_line(issue: &LoadIssue, sources: &Sources) -> String {
    let (severity, rule) = issue_label(issue.kind);
    let start = sources.start(issue.location);
    inline(&format!(
        "{}:{}:{}: {severity}[{rule}]: {}",
        sources.display(issue.location.file),
        start.line,
        start.col,
        issue.message.replace('\n', " ")
    ))
    .into_owned()
}

/// A directory holding a kustomization is rendered as `kubectl kustomize` builds it: from
/// its kustomization file, so that only what it includes is read (not the other files and
/// roots below it, which `check DIR` would analyse as well).
/// Several kustomization files in one directory are all read, so the build refuses them
/// as kubectl does.
fn as_root(path: &str) -> Vec<String> {
    let dir = std::path::Path::new(path);
    if path == "-" || !dir.is_dir() {
        return vec![path.to_string()];
    }
    let files: Vec<String> = crate::kustomize::spec::FILE_NAMES
        .iter()
        .map(|name| dir.join(name))
        .filter(|candidate| candidate.is_file())
        .map(|file| file.to_string_lossy().into_owned())
        .collect();
    if files.is_empty() {
        vec![path.to_string()]
    } else {
        files
    }
}

pub fn render(args: RenderArgs) -> u8 {
    let paths: Vec<String> = args.paths.iter().flat_map(|p| as_root(p)).collect();
    let (sources, model, _) =
        match super::shared::load_model(&paths, &args.input, crate::model::Typing::Everything) {
            Ok(loaded) => super::shared::kept_until_exit(loaded),
            Err(code) => return code,
        };
    let mut issues: Vec<&LoadIssue> = model.issues.iter().collect();
    issues.sort_by_key(|i| {
        (
            i.location.file.index(),
            i.location.span.start.byte,
            i.message.as_str(),
        )
    });
    for issue in &issues {
        emit::stderr_text(&format!("{}\n", issue_line(issue, sources)));
    }
    let mut objects: Vec<&Object> = model.objects.iter().collect();
    objects.sort_by_cached_key(|o| legacy_key(o));
    let nodes = objects.iter().map(|o| &o.node);
    let channel = match args.format {
        RenderFormat::Yaml => Channel::Text,
        RenderFormat::Json => Channel::Json,
    };
    // Streamed: every object of a large repository is hundreds of megabytes of text.
    let written = stream_stdout(channel, |out| match args.format {
        RenderFormat::Yaml => yaml::write_yaml_stream(nodes, out),
        RenderFormat::Json => yaml::write_json_list(nodes, out),
    });
    if written != EXIT_CLEAN {
        return written;
    }
    if issues.iter().any(|i| i.kind == IssueKind::KustomizeError) {
        EXIT_FINDINGS
    } else {
        EXIT_CLEAN
    }
}
