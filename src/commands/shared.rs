//! What the subcommands share: exit codes, argument groups, config and input loading, and
//! the one way each writes a finished document.

use std::path::PathBuf;

use clap::ValueEnum;
use clap::builder::PossibleValue;

use crate::config::{self, Config};
use crate::graph::Graph;
use crate::graph::policy::PolicyOrigin;
use crate::graph::{Cloud, GraphOptions, Semantics, XksSettings};
use crate::load::Input;
use crate::load::{self, Sources, WalkOptions};
use crate::model::{Model, ModelOptions, Typing};
use crate::report::emit;
use crate::report::sanitize::Channel;
use crate::report::sanitize::Inline;
use crate::rules;

pub const EXIT_CLEAN: u8 = 0;
pub const EXIT_FINDINGS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
/// Formats of the reports that are not lists of findings (`certs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Note,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Stage {
    Load,
    All,
}

/// Certificate settings shared by `check` and `certs`.
#[derive(Debug, Clone, clap::Args)]
pub struct CertArgs {
    /// A ClusterIssuer outside the repository that is Let's Encrypt production
    /// (repeatable; replaces `xks.letsencrypt-issuers` of the config, default `letsencrypt`,
    /// the XKS platform's).
    #[arg(long = "letsencrypt-issuer", value_name = "NAME")]
    pub letsencrypt_issuers: Vec<String>,
    /// `letsencrypt-rate-limit` warns from this percentage of a limit.
    #[arg(long, value_name = "PERCENT", default_value_t = crate::certs::DEFAULT_WARN_PERCENT,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub letsencrypt_warn_percent: u32,
}

impl CertArgs {
    /// The config's certificate settings, overridden by the flags.
    pub fn settings(&self, xks: &config::XksSettings) -> crate::certs::CertSettings {
        let mut settings = crate::certs::CertSettings {
            warn_percent: self.letsencrypt_warn_percent,
            ..crate::certs::CertSettings::from_config(xks)
        };
        if !self.letsencrypt_issuers.is_empty() {
            settings.letsencrypt_issuers = self.letsencrypt_issuers.clone();
        }
        settings
    }
}

/// Flags that choose how the reachability graph is built.
#[derive(Debug, Clone, clap::Args)]
pub struct GraphArgs {
    /// `xks`: Kubernetes semantics plus XKS's implicit default-deny, NodeLocal DNS,
    /// `name=<namespace>` labels and platform endpoints; `vanilla`: Kubernetes only.
    #[arg(long, value_enum, default_value_t = Semantics::Xks)]
    pub semantics: Semantics,
    /// Cloud of the XKS cluster; picks the NodeLocal DNS addresses (aks: 10.0.0.10, aws:
    /// 172.20.0.10), replacing `xks.dns-addresses` of the config [default: the config's
    /// addresses, else aks].
    #[arg(long, value_enum)]
    pub cloud: Option<Cloud>,
    /// Treat hostNetwork pods as ordinary pods, selected and matched by policies as
    /// np-guard's netpol-analyzer does (default: as the CNI does, unselected, with the
    /// node's address, `xks.node-cidrs`).
    #[arg(long)]
    pub host_network_as_pods: bool,
}

impl GraphArgs {
    /// The graph settings of the config's `xks:` section, overridden by the flags.
    pub fn options(&self, xks: &config::XksSettings) -> GraphOptions {
        GraphOptions {
            semantics: self.semantics,
            xks: XksSettings::from_config(xks, self.cloud),
            host_network_as_pods: self.host_network_as_pods,
        }
    }
}

/// Which manifests to read; the same meaning as for `check`.
#[derive(Debug, Clone, clap::Args)]
pub struct InputArgs {
    /// Leave out files and directories matching this gitignore-style glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,
    /// Namespace of objects that set none and have no kustomization namespace above them
    /// [default: `xks.default-namespace` of the config, else `default`].
    #[arg(long, value_name = "NAME")]
    pub default_namespace: Option<String>,
    /// Treat every file on its own instead of building kustomizations.
    #[arg(long)]
    pub no_kustomize: bool,
    /// Config file to use instead of the `.xks-lint.yaml` found above the first PATH
    /// (its `exclude` and `xks` settings apply).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The environment to analyse when kustomization roots form several (see README,
    /// Environments); required then, since each environment is its own cluster.
    #[arg(long, value_name = "NAME")]
    pub environment: Option<String>,
}

pub fn usage_error(message: &str) -> u8 {
    emit::error(message);
    EXIT_USAGE
}

/// ` (did you mean `x`?)` for the closest rule id, or nothing.
pub fn suggestion(id: &str) -> String {
    rules::registry()
        .iter()
        .map(|r| (strsim_distance(id, r.doc.id), r.doc.id))
        .filter(|(distance, _)| *distance <= 3.max(id.len() / 3))
        .min()
        .map(|(_, best)| format!(" (did you mean `{best}`?)"))
        .unwrap_or_default()
}

/// Levenshtein distance, for "did you mean" hints.
fn strsim_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(row[j]).min(row[j + 1])
            };
            previous = current;
        }
    }
    row[b.len()]
}

/// Writes a finished document to standard output through the sanitising layer.
pub fn write_stdout(text: &str, channel: Channel) -> u8 {
    written(emit::stdout(text, channel))
}

/// The exit code of writing a report to standard output.
pub fn written(result: std::io::Result<()>) -> u8 {
    match result {
        Ok(()) => EXIT_CLEAN,
        // A closed pipe (`xks-lint rules | head`) is not an error worth a message.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => EXIT_CLEAN,
        Err(error) => usage_error(&format!("cannot write output: {error}")),
    }
}

/// The config of `--config FILE`, else the one discovered from the first PATH, else the
/// defaults; a usage error (already printed) when it cannot be read or is invalid.
pub fn load_config(explicit: Option<&std::path::Path>, paths: &[String]) -> Result<Config, u8> {
    let first_path = paths.first().map_or(".", String::as_str);
    let path = match explicit {
        Some(path) if !path.is_file() => {
            return Err(usage_error(&format!(
                "{}: no such config file",
                path.display()
            )));
        }
        Some(path) => Some(path.to_path_buf()),
        None => {
            let start = if first_path == "-" { "." } else { first_path };
            discover_config(std::path::Path::new(start))
        }
    };
    let Some(path) = path else {
        return Ok(Config::default());
    };
    // Where the config meets the rules: its rule ids must be the registry's.
    let rule_ids: Vec<&str> = rules::registry().iter().map(|r| r.doc.id).collect();
    config::load_checked(&path, &rule_ids).map_err(|errors| {
        for error in &errors {
            emit::error(&error.to_string());
        }
        EXIT_USAGE
    })
}

/// The config file that applies to `start`: `.xks-lint.yaml` in its directory or the nearest
/// one above, looking no higher than the repository root (the directory holding `.git`).
pub fn discover_config(start: &std::path::Path) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let absolute = crate::gate::paths::normalize(&cwd.join(start));
    let first = if absolute.is_dir() {
        absolute.as_path()
    } else {
        absolute.parent()?
    };
    for dir in first.ancestors() {
        let candidate = dir.join(config::FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

/// The inputs named on the command line (default `.`), or a usage error.
pub fn inputs(paths: &[String]) -> Result<Vec<Input>, u8> {
    let paths = if paths.is_empty() {
        vec![".".to_string()]
    } else {
        paths.to_vec()
    };
    let inputs: Vec<Input> = paths.iter().map(|p| Input::from_arg(p)).collect();
    for input in &inputs {
        if let Input::Path(path) = input
            && !path.exists()
        {
            return Err(usage_error(&format!(
                "{}: no such file or directory",
                path.display()
            )));
        }
    }
    Ok(inputs)
}

/// Writes `--output` / `--write-baseline` / `init`, never through a link leading out of
/// the repository of `checked` (the first PATH).
pub fn write_report(
    checked: &str,
    path: &std::path::Path,
    text: &str,
    channel: Channel,
) -> Result<(), String> {
    emit::file(path, &report_root(checked), text, channel)
}

/// The repository a report file must not be written out of (see `load::boundary`).
fn report_root(checked: &str) -> std::path::PathBuf {
    let cwd = std::env::current_dir().ok();
    let checked = if checked == "-" { "." } else { checked };
    crate::load::boundary::root_of(std::path::Path::new(checked), cwd.as_deref())
}

/// Like [`write_report`], for a report written while it is serialised (`write` gets the
/// guarded file), so it is never held in memory whole.
pub fn stream_report(
    checked: &str,
    path: &std::path::Path,
    channel: Channel,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), String> {
    let mut out = emit::file_writer(path, &report_root(checked), channel)?;
    write(&mut out)
        .and_then(|()| out.finish())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// A report written while it is serialised, to `destination` (`--output`, checked as
/// [`stream_report`] checks it; a file that cannot be written is a usage error) or, without
/// one, to standard output.
pub fn stream_to(
    destination: Option<&std::path::Path>,
    checked: &str,
    channel: Channel,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> u8 {
    match destination {
        Some(path) => stream_report(checked, path, channel, write)
            .map(|()| EXIT_CLEAN)
            .unwrap_or_else(|e| usage_error(&format!("cannot write {}: {e}", path.display()))),
        None => stream_stdout(channel, write),
    }
}

/// Like [`write_stdout`], for a report written while it is serialised.
pub fn stream_stdout(
    channel: Channel,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> u8 {
    let mut out = emit::stdout_writer(channel);
    written(write(&mut out).and_then(|()| out.finish()).map(|_| ()))
}

/// Keeps a value until the process exits, which follows the command: freeing a million
/// tree nodes one by one (most of a large model) would only add to every run's wall time.
pub(crate) fn kept_until_exit<T>(value: T) -> &'static T {
    Box::leak(Box::new(value))
}

/// Loads the inputs and the config and builds the model and the graph, or returns the
/// exit code of a usage error (already printed).
/// `typing`: [`Typing::Reachability`] when only the graph is read (the blocked pairs of
/// Ingress and HTTPRoute backends read those and their Services too).
pub(crate) fn build(
    paths: &[String],
    input: &InputArgs,
    graph: &GraphArgs,
    typing: Typing,
) -> Result<(Sources, Model, Graph), u8> {
    let (sources, model, config) = load_model(paths, input, typing)?;
    if !model.issues.is_empty() {
        emit::note(&format!(
            "{} problem(s) in the input were skipped; `xks-lint check` reports them",
            model.issues.len()
        ));
    }
    let graph = Graph::build(&model, &graph.options(&config.xks));
    Ok((sources, model, graph))
}

/// Loads the inputs and the config and builds the model of the chosen environment, or
/// returns the exit code of a usage error (already printed).
pub(crate) fn load_model(
    paths: &[String],
    input: &InputArgs,
    typing: Typing,
) -> Result<(Sources, Model, config::Config), u8> {
    let inputs = inputs(paths)?;
    let config = load_config(input.config.as_deref(), paths)?;
    let walk = WalkOptions {
        excludes: config
            .exclude
            .iter()
            .chain(&input.exclude)
            .cloned()
            .collect(),
        kustomize: !input.no_kustomize,
        ..WalkOptions::default()
    };
    walk.validate().map_err(|message| usage_error(&message))?;
    let loaded = load::load(&inputs, &walk);
    let sources = loaded.sources.clone();
    let model = Model::build(
        loaded,
        &ModelOptions {
            default_namespace: input
                .default_namespace
                .clone()
                .unwrap_or_else(|| config.xks.default_namespace.clone()),
            kustomize: !input.no_kustomize,
            typing,
        },
    );
    let model = match (
        model.environments(config.environment_config().as_ref()),
        &input.environment,
    ) {
        (None, None) => model,
        (None, Some(name)) => {
            return Err(usage_error(&format!(
                "--environment {}: the repository forms one cluster, it has no environments",
                Inline(name)
            )));
        }
        (Some(environments), chosen) => {
            let names: Vec<&str> = environments
                .clusters
                .iter()
                .map(|(name, _)| name.as_str())
                .collect();
            let cluster = chosen.as_ref().and_then(|name| {
                environments
                    .clusters
                    .iter()
                    .find(|(candidate, _)| candidate == name)
            });
            match cluster {
                Some((_, ids)) => model.subset(ids),
                None => {
                    return Err(usage_error(&format!(
                        "{}the repository's kustomization roots form several environments, each its own cluster: choose one with --environment ({})",
                        chosen.as_ref().map_or(String::new(), |name| format!(
                            "no environment `{}`: ",
                            Inline(name)
                        )),
                        Inline(&names.join(", "))
                    )));
                }
            }
        }
    };
    Ok((sources, model, config))
}

/// `NetworkPolicy ns/name`, with why it exists when XKS puts it there (`why`, `diff`).
pub(crate) fn policy_name(graph: &Graph, policy: usize) -> String {
    let p = &graph.policies[policy];
    match p.origin {
        PolicyOrigin::Repo(_) => format!("NetworkPolicy {}/{}", p.namespace, p.name),
        PolicyOrigin::XksDefaultDeny => format!(
            "NetworkPolicy {}/{} (implicit: XKS puts it in every tenant namespace)",
            p.namespace, p.name
        ),
        PolicyOrigin::XksAllowance => format!(
            "NetworkPolicy {}/{} (implicit: a platform allowance switched on in `xks.platform-allowances`)",
            p.namespace, p.name
        ),
    }
}

// How the library's enums are spelled on the command line: the library knows nothing of
// clap, so their `ValueEnum` lives here, with the help each value shows in `--help`.

macro_rules! value_enum {
    ($ty:ty { $($variant:ident => $name:literal $(: $help:literal)?),* $(,)? }) => {
        impl ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$(Self::$variant),*]
            }
            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $(Self::$variant => PossibleValue::new($name)$(.help($help))?,)*
                })
            }
        }
    };
}

value_enum!(crate::report::Format {
    Human => "human": "Source snippets with the offending node highlighted, help and rule id",
    Json => "json": "A stable JSON document (see README \"JSON output\")",
    Sarif => "sarif": "SARIF 2.1.0 for GitHub code scanning (see README \"SARIF\")",
    Github => "github": "GitHub Actions workflow commands: annotations on the pull request",
    Gitlab => "gitlab": "GitLab Code Quality JSON (`artifacts:reports:codequality`)",
    Compact => "compact": "One line per finding: `file:line:col: severity[rule] message` (logs, problem matchers)",
});

value_enum!(crate::report::connectivity::ConnectivityFormat {
    Txt => "txt": "`SRC => DST : CONNS`, one sorted line per connection (np-guard netpol-analyzer `list` format)",
    Json => "json": "An array of `{\"src\", \"dst\", \"conn\"}` objects",
    Csv => "csv": "`src,dst,conn` with a header row (RFC 4180 quoting)",
    Dot => "dot": "Graphviz, namespaces as clusters",
    Mermaid => "mermaid": "Mermaid flowchart, namespaces as subgraphs",
    Html => "html": "One self-contained interactive page (`--output view.html`): namespaces that expand into workloads, filters, blocked pairs in red, `why` on a click",
});

value_enum!(crate::report::diff::DiffFormat {
    Txt => "txt": "`+ SRC => DST : CONNS` (opened) and `- ...` (closed), each followed by its rules",
    Json => "json": "`{\"base\": ..., \"changes\": [...]}`",
    Markdown => "markdown": "Tables grouped by namespace pair, for a PR comment or the GitHub step summary",
});

value_enum!(Semantics {
    Xks => "xks": "Kubernetes NetworkPolicy semantics plus what XKS adds: the implicit `default-deny` policy in every tenant namespace, NodeLocal DNS, the `name=<namespace>` label and the platform endpoints",
    Vanilla => "vanilla": "The Kubernetes NetworkPolicy specification only, over the repository's objects",
});

value_enum!(Cloud {
    Aks => "aks",
    Aws => "aws",
});
