//! `.xks-lint.yaml`: rule selection, severities, excludes, the failure threshold, and the
//! XKS model settings (tenant and platform namespaces, ingress controllers, gateways, DNS).
//!
//! Read with the span-aware loader, so every problem points at `file:line:column` of the
//! config file; unknown keys and rule ids get the closest valid name suggested. Command-line
//! flags override the file (see `commands::shared`).
//!
//! This module sits below the rules, the graph and the gate (DESIGN.md, layers): the rule
//! ids a file may name are given by the caller that knows the registry
//! ([`load_checked`], called by `commands::shared::load_config`, where the config meets the
//! rules), and the settings it fills are the plain data of [`crate::settings`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::diagnostic::Severity;
use crate::load::yaml::{Node, NodeKind, Resolved, parse_stream};
use crate::span::Span;

pub use crate::settings::{PLATFORM_ALLOWANCES, PlatformEndpoint, XksSettings};

pub const FILE_NAME: &str = ".xks-lint.yaml";

/// The lowest severity that fails the run, or never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailOn {
    At(Severity),
    Never,
}

impl FailOn {
    pub fn parse(text: &str) -> Option<FailOn> {
        match text {
            "never" => Some(FailOn::Never),
            other => Severity::parse(other).map(FailOn::At),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// The file read, if any.
    pub path: Option<PathBuf>,
    pub select: Option<Vec<String>>,
    pub ignore: Vec<String>,
    pub severity: BTreeMap<String, Severity>,
    pub exclude: Vec<String>,
    pub fail_on: Option<FailOn>,
    pub xks: XksSettings,
    /// Environment name → patterns of its kustomization root directories, relative to
    /// the config file's directory, in the file's order (see `model::environments`).
    pub environments: Vec<(String, Vec<String>)>,
}

impl Config {
    /// The `environments:` section with its base directory, for `Model::environments`;
    /// `None` when the file has none.
    pub fn environment_config(&self) -> Option<crate::model::environments::EnvironmentConfig> {
        if self.environments.is_empty() {
            return None;
        }
        // `--config other.yaml` has the empty parent: the working directory.
        let dir = self
            .path
            .as_deref()
            .and_then(Path::parent)
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let base = crate::load::normalize(dir);
        Some(crate::model::environments::EnvironmentConfig {
            base,
            environments: self.environments.clone(),
        })
    }
}

/// A problem in the config file, at its position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub path: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.path, self.line, self.column, self.message
        )
    }
}

/// Reads and parses a config file, accepting any rule id (see [`load_checked`]).
pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    load_with(path, None)
}

/// Reads and parses a config file whose rule ids must be among `rule_ids` (the rule
/// registry's): an unknown one is an error at its position, with the closest id suggested.
pub fn load_checked(path: &Path, rule_ids: &[&str]) -> Result<Config, Vec<ConfigError>> {
    load_with(path, Some(rule_ids))
}

fn load_with(path: &Path, rule_ids: Option<&[&str]>) -> Result<Config, Vec<ConfigError>> {
    let display = path.display().to_string();
    // A committed config may be a link; it must not lead out of the repository.
    let cwd = std::env::current_dir().ok();
    let root = crate::load::boundary::root_of(path, cwd.as_deref());
    let limit = crate::limits::MAX_CONFIG_SIZE;
    let text = crate::load::boundary::read_user_file(path, &root, limit).map_err(|e| {
        vec![ConfigError {
            path: display.clone(),
            line: 1,
            column: 1,
            message: format!("cannot read the config file: {e}"),
        }]
    })?;
    let mut config = parse_with(&text, &display, rule_ids)?;
    config.path = Some(path.to_path_buf());
    Ok(config)
}

/// Closest of `candidates` to `word`, when it is close enough to be a likely typo.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(word, c), c))
        .filter(|(distance, _)| *distance <= 3.max(word.len() / 3))
        .min()
        .map(|(_, c)| c)
}

fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates)
        .map(|c| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

const TOP_KEYS: [&str; 7] = [
    "select",
    "ignore",
    "severity",
    "exclude",
    "fail-on",
    "xks",
    "environments",
];
const XKS_KEYS: [&str; 10] = [
    "default-namespace",
    "tenant-namespaces",
    "platform-namespaces",
    "ingress-controllers",
    "gateways",
    "dns",
    "dns-addresses",
    "letsencrypt-issuers",
    "node-cidrs",
    "platform-allowances",
];
const ENDPOINT_KEYS: [&str; 4] = ["name", "namespace", "pod-labels", "classes"];
const DNS_KEYS: [&str; 2] = ["namespace", "pod-labels"];

struct Reader<'a> {
    path: &'a str,
    /// The rule ids the file may name; `None`: any.
    rule_ids: Option<&'a [&'a str]>,
    errors: Vec<ConfigError>,
    /// Names of the ingress controllers and gateways read, with where they were written.
    endpoint_names: Vec<(String, Span)>,
}

impl Reader<'_> {
    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.errors.push(ConfigError {
            path: self.path.to_string(),
            line: span.start.line as usize,
            column: span.start.col as usize,
            message: message.into(),
        });
    }

    /// The entries of a mapping whose keys are all in `allowed`; unknown keys are errors.
    fn map<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
    ) -> Vec<(&'n str, &'n Node)> {
        let Some(entries) = node.as_map() else {
            self.error(node.span, format!("{what} must be a mapping"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            match key.as_str() {
                Some(name) if allowed.contains(&name) => out.push((name, value)),
                Some(name) => self.error(
                    key.span,
                    format!(
                        "unknown key `{name}` in {what}{}; valid keys: {}",
                        did_you_mean(name, allowed.iter().copied()),
                        allowed.join(", ")
                    ),
                ),
                None => self.error(key.span, format!("keys of {what} must be strings")),
            }
        }
        out
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            NodeKind::Scalar(scalar) if scalar.resolve() == Resolved::Str => {
                Some(scalar.value.to_string())
            }
            _ => {
                self.error(node.span, format!("{what} must be a string"));
                None
            }
        }
    }

    fn string_list(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        let Some(items) = node.as_seq() else {
            self.error(node.span, format!("{what} must be a list of strings"));
            return None;
        };
        let mut out = Vec::new();
        for item in items {
            out.push(self.string(item, &format!("each item of {what}"))?);
        }
        Some(out)
    }

    fn string_map(&mut self, node: &Node, what: &str) -> Option<BTreeMap<String, String>> {
        let Some(entries) = node.as_map() else {
            self.error(node.span, format!("{what} must be a mapping of strings"));
            return None;
        };
        let mut out = BTreeMap::new();
        for (key, value) in entries {
            let key = self.string(key, &format!("keys of {what}"))?;
            let value = self.string(value, &format!("`{key}` in {what}"))?;
            out.insert(key, value);
        }
        Some(out)
    }

    /// A rule id that exists, else an error with the closest id.
    fn rule_id(&mut self, node: &Node, what: &str) -> Option<String> {
        let id = self.string(node, what)?;
        let Some(known) = self.rule_ids else {
            return Some(id);
        };
        if known.contains(&id.as_str()) {
            return Some(id);
        }
        let ids = known.iter().copied();
        self.error(
            node.span,
            format!(
                "unknown rule `{id}` in {what}{}; `xks-lint rules` lists them",
                did_you_mean(&id, ids)
            ),
        );
        None
    }

    fn rule_list(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        let Some(items) = node.as_seq() else {
            self.error(node.span, format!("{what} must be a list of rule ids"));
            return None;
        };
        let ids: Vec<Option<String>> = items.iter().map(|i| self.rule_id(i, what)).collect();
        ids.into_iter().collect()
    }

    fn endpoint(&mut self, node: &Node, what: &str) -> Option<PlatformEndpoint> {
        let mut endpoint = PlatformEndpoint {
            name: String::new(),
            namespace: String::new(),
            pod_labels: BTreeMap::new(),
            classes: Vec::new(),
        };
        let mut has_namespace = false;
        let mut name_span = node.span;
        for (key, value) in self.map(node, what, &ENDPOINT_KEYS) {
            match key {
                "name" => {
                    name_span = value.span;
                    endpoint.name = self.string(value, "`name`").unwrap_or_default()
                }
                "namespace" => {
                    has_namespace = true;
                    endpoint.namespace = self.string(value, "`namespace`").unwrap_or_default();
                }
                "pod-labels" => {
                    endpoint.pod_labels = self.string_map(value, "`pod-labels`").unwrap_or_default()
                }
                _ => endpoint.classes = self.string_list(value, "`classes`").unwrap_or_default(),
            }
        }
        if !has_namespace && node.as_map().is_some() {
            self.error(node.span, format!("{what} needs a `namespace`"));
        }
        // The name is the endpoint's id in `connectivity` and `why` output.
        if endpoint.name.is_empty() {
            endpoint.name = endpoint.namespace.clone();
        }
        self.endpoint_names.push((endpoint.name.clone(), name_span));
        Some(endpoint)
    }

    fn endpoints(&mut self, node: &Node, what: &str) -> Vec<PlatformEndpoint> {
        let Some(items) = node.as_seq() else {
            self.error(node.span, format!("`{what}` must be a list"));
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|item| self.endpoint(item, &format!("an entry of `{what}`")))
            .collect()
    }

    fn cidrs(&mut self, node: &Node, what: &str) -> Option<Vec<String>> {
        let list = self.string_list(node, what)?;
        let items = node.as_seq().unwrap_or_default();
        let mut valid = true;
        for (text, item) in list.iter().zip(items) {
            if let Err(e) = crate::ip::IpRange::parse_cidr(text) {
                self.error(item.span, format!("invalid address in {what}: {e}"));
                valid = false;
            }
        }
        valid.then_some(list)
    }

    fn xks(&mut self, node: &Node, xks: &mut XksSettings) {
        for (key, value) in self.map(node, "`xks`", &XKS_KEYS) {
            let what = format!("`xks.{key}`");
            match key {
                "default-namespace" => {
                    if let Some(ns) = self.string(value, &what) {
                        xks.default_namespace = ns;
                    }
                }
                "tenant-namespaces" => {
                    xks.tenant_namespaces = self.string_list(value, &what).unwrap_or_default()
                }
                "platform-namespaces" => {
                    xks.platform_namespaces = self.string_list(value, &what).unwrap_or_default()
                }
                "ingress-controllers" => {
                    xks.ingress_controllers = self.endpoints(value, "xks.ingress-controllers")
                }
                "gateways" => xks.gateways = self.endpoints(value, "xks.gateways"),
                "dns" => {
                    for (dns_key, dns_value) in self.map(value, "`xks.dns`", &DNS_KEYS) {
                        if dns_key == "namespace" {
                            if let Some(ns) = self.string(dns_value, "`xks.dns.namespace`") {
                                xks.dns.namespace = ns;
                            }
                        } else if let Some(labels) =
                            self.string_map(dns_value, "`xks.dns.pod-labels`")
                        {
                            xks.dns.pod_labels = labels;
                        }
                    }
                }
                "dns-addresses" => {
                    if let Some(addresses) = self.cidrs(value, &what) {
                        xks.dns_addresses = addresses;
                    }
                }
                "node-cidrs" => {
                    if let Some(cidrs) = self.cidrs(value, &what) {
                        xks.node_cidrs = cidrs;
                    }
                }
                "platform-allowances" => {
                    let list = self.string_list(value, &what).unwrap_or_default();
                    let items = value.as_seq().unwrap_or_default();
                    let mut valid = Vec::new();
                    for (name, item) in list.into_iter().zip(items) {
                        if PLATFORM_ALLOWANCES.contains(&name.as_str()) {
                            valid.push(name);
                        } else {
                            self.error(
                                item.span,
                                format!(
                                    "unknown platform allowance `{name}` in {what}: use {}",
                                    PLATFORM_ALLOWANCES.join(" or ")
                                ),
                            );
                        }
                    }
                    xks.platform_allowances = valid;
                }
                _ => xks.letsencrypt_issuers = self.string_list(value, &what).unwrap_or_default(),
            }
        }
        // Names are the ids `why` and `connectivity` print and accept: no two alike.
        let mut taken: Vec<String> = vec![xks.dns.name.clone(), "linkerd".to_string()];
        for (name, span) in std::mem::take(&mut self.endpoint_names) {
            if taken.contains(&name) {
                self.error(
                    span,
                    format!(
                        "platform endpoint name `{name}` is already used (by another ingress controller or gateway, or `kube-dns`/`linkerd`); give each a distinct `name`: it is the id `why` and `connectivity` print"
                    ),
                );
            } else {
                taken.push(name);
            }
        }
    }

    /// `environments:`: a mapping of environment names to non-empty lists of root
    /// directory patterns (globs), relative and staying inside the config's directory.
    fn environments(&mut self, node: &Node) -> Vec<(String, Vec<String>)> {
        let what = "`environments`";
        let Some(entries) = node.as_map() else {
            self.error(
                node.span,
                format!(
                    "{what} must map environment names to lists of kustomization root directories"
                ),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (key, value) in entries {
            let Some(name) = self.string(key, "environment names") else {
                continue;
            };
            if name.trim().is_empty() {
                self.error(key.span, "an environment name must not be empty");
                continue;
            }
            let list_what = format!("environment `{name}`");
            let Some(patterns) = self.string_list(value, &list_what) else {
                continue;
            };
            if patterns.is_empty() {
                self.error(
                    value.span,
                    format!("{list_what} lists no kustomization root directory"),
                );
                continue;
            }
            let items = value.as_seq().unwrap_or_default();
            let mut valid = true;
            for (pattern, item) in patterns.iter().zip(items) {
                let escapes = pattern.trim().starts_with('/')
                    || pattern.split('/').any(|part| part.trim() == "..");
                let problem = if escapes {
                    Some(
                        "patterns are relative to the config file's directory and stay inside it"
                            .to_string(),
                    )
                } else {
                    crate::model::environments::pattern_matcher(pattern).err()
                };
                if let Some(problem) = problem {
                    self.error(
                        item.span,
                        format!("invalid pattern `{pattern}` in {list_what}: {problem}"),
                    );
                    valid = false;
                }
            }
            if valid {
                out.push((name, patterns));
            }
        }
        out
    }
}

/// Parses config text, accepting any rule id; `path` is only used in error messages.
pub fn parse(text: &str, path: &str) -> Result<Config, Vec<ConfigError>> {
    parse_with(text, path, None)
}

/// Parses config text whose rule ids must be among `rule_ids`.
pub fn parse_checked(
    text: &str,
    path: &str,
    rule_ids: &[&str],
) -> Result<Config, Vec<ConfigError>> {
    parse_with(text, path, Some(rule_ids))
}

fn parse_with(
    text: &str,
    path: &str,
    rule_ids: Option<&[&str]>,
) -> Result<Config, Vec<ConfigError>> {
    let mut reader = Reader {
        path,
        rule_ids,
        errors: Vec::new(),
        endpoint_names: Vec::new(),
    };
    let stream = parse_stream(text);
    for error in &stream.errors {
        reader.errors.push(ConfigError {
            path: path.to_string(),
            line: error.pos.line as usize,
            column: error.pos.col as usize,
            message: format!("invalid YAML: {}", error.message),
        });
    }
    if stream.documents.len() > 1 {
        let span = stream.documents[1].root.span;
        reader.error(span, "the config file must hold one YAML document");
    }
    let mut config = Config::default();
    let Some(document) = stream.documents.first() else {
        return if reader.errors.is_empty() {
            Ok(config)
        } else {
            Err(reader.errors)
        };
    };
    for (repeat, _first) in &document.duplicate_keys {
        reader.error(*repeat, "duplicate key");
    }
    let root = &document.root;
    if root.is_null() {
        return if reader.errors.is_empty() {
            Ok(config)
        } else {
            Err(reader.errors)
        };
    }
    for (key, value) in reader.map(root, "the config file", &TOP_KEYS) {
        match key {
            "select" => config.select = reader.rule_list(value, "`select`"),
            "ignore" => config.ignore = reader.rule_list(value, "`ignore`").unwrap_or_default(),
            "severity" => {
                let Some(entries) = value.as_map() else {
                    reader.error(value.span, "`severity` must map rule ids to severities");
                    continue;
                };
                for (rule, level) in entries {
                    let Some(id) = reader.rule_id(rule, "`severity`") else {
                        continue;
                    };
                    match level.as_str().and_then(Severity::parse) {
                        Some(severity) => {
                            config.severity.insert(id, severity);
                        }
                        None => reader.error(
                            level.span,
                            format!(
                                "severity of `{id}` must be error, warning or note{}",
                                did_you_mean(
                                    level.scalar_text().unwrap_or_default(),
                                    ["error", "warning", "note"]
                                )
                            ),
                        ),
                    }
                }
            }
            "exclude" => {
                let globs = reader.string_list(value, "`exclude`").unwrap_or_default();
                for (glob, item) in globs.iter().zip(value.as_seq().unwrap_or_default()) {
                    if let Err(e) = globset::Glob::new(glob) {
                        reader.error(item.span, format!("invalid glob `{glob}`: {e}"));
                    }
                }
                config.exclude = globs;
            }
            "fail-on" => {
                let text = reader.string(value, "`fail-on`").unwrap_or_default();
                match FailOn::parse(&text) {
                    Some(fail_on) => config.fail_on = Some(fail_on),
                    None => reader.error(
                        value.span,
                        format!(
                            "`fail-on` must be error, warning, note or never{}",
                            did_you_mean(&text, ["error", "warning", "note", "never"])
                        ),
                    ),
                }
            }
            "environments" => config.environments = reader.environments(value),
            _ => reader.xks(value, &mut config.xks),
        }
    }
    if reader.errors.is_empty() {
        Ok(config)
    } else {
        Err(reader.errors)
    }
}

/// What `xks-lint init` writes: every key with its default, commented. A test keeps it equal
/// to the defaults in code.
pub const DEFAULT_CONFIG: &str = r#"# xks-lint configuration. Found by walking up from the first PATH to the repository root,
# or given with --config FILE. Command-line flags override it (--select, --ignore, --fail-on,
# --default-namespace, --letsencrypt-issuer, --cloud); --exclude adds to `exclude`.
# `xks-lint rules` lists the rule ids. `check`, `connectivity`, `why` and `certs` read it.

# Run only these rules (leave out or comment to run all of them).
# select: [annotation-not-string, rate-limit-conflict]

# Do not run these rules.
ignore: []

# Change the severity of a rule: error, warning or note.
severity: {}
#   rate-limit-conflict: error

# Leave out files and directories (gitignore syntax, relative to the directory checked).
exclude: []
#   - "charts/**/tests/"

# Lowest severity that makes the exit code 1: error, warning, note or never.
fail-on: error

# Environments analysed as separate clusters: each lists its kustomization root
# directories (paths or globs relative to this file). Roots listed nowhere, and files
# outside kustomizations, are part of every environment. Without this section, roots
# that render an object differently are grouped by Flux `clusters/<env>/` layouts, else
# by their directory name (`*/prod`, `*/staging`).
# environments:
#   prod: [overlays/prod, apps/*/prod]
#   staging: [overlays/staging, apps/*/staging]

# The XKS platform the manifests run on. A list given here replaces the default list.
xks:
  # Namespace of objects that set none and have no kustomization `namespace:` above them.
  default-namespace: default
  # Tenant namespaces; empty: every namespace holding a workload that is not a platform one.
  tenant-namespaces: []
  # Namespaces owned by the platform team: never tenants, no implicit default-deny policy.
  # (The platform's Terraform list, plus envoy-gateway-system, upstream Envoy Gateway's.)
  platform-namespaces:
    [kube-system, ingress-nginx, envoy-gateway, envoy-gateway-system, linkerd, cert-manager,
     external-dns, flux-system, calico-system, tigera-operator, datadog, grafana-alloy,
     prometheus, velero, trivy, falco, reloader, spegel, vpa]
  # Ingress controllers: pods that must be admitted by the backends of their Ingresses.
  # `name` is the endpoint's id in `connectivity` and `why` (default: the namespace); an
  # Ingress goes to the first controller listing its class (empty `classes`: every class),
  # an Ingress without a class to the first controller (the cluster's default class).
  ingress-controllers:
    - name: ingress-controller
      namespace: ingress-nginx
      pod-labels:
        app.kubernetes.io/name: ingress-nginx
        app.kubernetes.io/component: controller
      classes: [nginx, nginx-private]
  # Gateway API data planes: pods that must be admitted by the backends of their routes
  # (HTTPRoutes go to the first one).
  gateways:
    - name: envoy-gateway
      namespace: envoy-gateway
      pod-labels:
        app.kubernetes.io/name: envoy
        app.kubernetes.io/component: proxy
        app.kubernetes.io/managed-by: envoy-gateway
      classes: []
  # Cluster DNS pods (the XKS default-deny policy allows UDP and TCP 53 to them, in every namespace).
  dns:
    namespace: kube-system
    pod-labels:
      k8s-app: kube-dns
  # NodeLocal DNS addresses; on XKS on AWS use 169.254.20.10/32 and 172.20.0.10/32
  # (`--cloud aws|aks` replaces this list).
  dns-addresses: [169.254.20.10/32, 10.0.0.10/32]
  # ClusterIssuers of the platform that issue from Let's Encrypt production (the first one
  # also serves `kubernetes.io/tls-acme`); `--letsencrypt-issuer` replaces this list.
  letsencrypt-issuers: [letsencrypt]
  # Address ranges of the nodes. hostNetwork pods are not selected by NetworkPolicies (Calico,
  # XKS's CNI) and their traffic carries the node's address: an ipBlock or `networks` peer
  # holding these ranges matches them (`--host-network-as-pods` treats them as ordinary pods).
  # Default: AKS's default node address space.
  node-cidrs: [10.224.0.0/12]
  # Optional platform policies in every tenant namespace, as the platform's variables switch
  # them on: datadog-tracing (egress TCP 8126 to and ingress from namespace `datadog`),
  # grafana-alloy (egress to and ingress from namespace `grafana-alloy`).
  platform-allowances: []
"#;

#[cfg(test)]
mod tests {
    use super::*;

    /// Rule ids for these tests (the registry is above this module: `commands::shared`
    /// passes its ids, tests/gate.rs checks that end to end).
    const RULE_IDS: [&str; 3] = [
        "helm-template",
        "rate-limit-conflict",
        "annotation-not-string",
    ];

    fn errors(text: &str) -> Vec<String> {
        parse_checked(text, "c.yaml", &RULE_IDS)
            .err()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn default_config_template_matches_code_defaults() {
        let expected = Config {
            fail_on: Some(FailOn::At(Severity::Error)),
            ..Config::default()
        };
        assert_eq!(parse(DEFAULT_CONFIG, "init"), Ok(expected));
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(parse("", "c.yaml"), Ok(Config::default()));
        assert_eq!(parse("# only a comment\n", "c.yaml"), Ok(Config::default()));
    }

    #[test]
    fn keys_are_read() {
        let config = parse(
            "select: [rate-limit-conflict]\nignore: [helm-template]\nseverity:\n  rate-limit-conflict: error\nexclude: [vendor/]\nfail-on: never\nxks:\n  default-namespace: team-a\n  tenant-namespaces: [team-a, team-b]\n  dns-addresses: [169.254.20.10/32, 172.20.0.10/32]\n  gateways: []\n",
            "c.yaml",
        )
        .unwrap();
        assert_eq!(config.select, Some(vec!["rate-limit-conflict".to_string()]));
        assert_eq!(config.ignore, vec!["helm-template".to_string()]);
        assert_eq!(config.severity["rate-limit-conflict"], Severity::Error);
        assert_eq!(config.exclude, vec!["vendor/".to_string()]);
        assert_eq!(config.fail_on, Some(FailOn::Never));
        assert_eq!(config.xks.default_namespace, "team-a");
        assert_eq!(config.xks.tenant_namespaces.len(), 2);
        assert_eq!(config.xks.dns_addresses[1], "172.20.0.10/32");
        assert!(config.xks.gateways.is_empty());
        assert_eq!(
            config.xks.ingress_controllers,
            XksSettings::default().ingress_controllers
        );
    }

    #[test]
    fn endpoint_names_default_to_the_namespace_and_addresses_are_checked() {
        let config = parse(
            "xks:\n  ingress-controllers:\n    - namespace: traefik\n      classes: [traefik]\n",
            "c.yaml",
        )
        .unwrap();
        assert_eq!(config.xks.ingress_controllers[0].name, "traefik");
        assert_eq!(
            errors("xks:\n  dns-addresses: [10.0.0.300/32]\n"),
            vec![
                "c.yaml:2:19: invalid address in `xks.dns-addresses`: `10.0.0.300/32` is not a CIDR"
            ]
        );
        assert_eq!(
            errors(
                "xks:\n  gateways:\n    - {name: edge, namespace: a}\n    - {name: edge, namespace: b}\n"
            ),
            vec![
                "c.yaml:4:14: platform endpoint name `edge` is already used (by another ingress controller or gateway, or `kube-dns`/`linkerd`); give each a distinct `name`: it is the id `why` and `connectivity` print"
            ]
        );
    }

    #[test]
    fn environments_are_read_in_order_and_checked() {
        let config = parse(
            "environments:\n  prod: [overlays/prod, apps/*/prod]\n  staging: [./overlays/staging/]\n",
            "c.yaml",
        )
        .unwrap();
        assert_eq!(
            config.environments,
            vec![
                (
                    "prod".to_string(),
                    vec!["overlays/prod".to_string(), "apps/*/prod".to_string()]
                ),
                (
                    "staging".to_string(),
                    vec!["./overlays/staging/".to_string()]
                ),
            ]
        );
        assert_eq!(
            errors("environments: [prod]\n"),
            vec![
                "c.yaml:1:15: `environments` must map environment names to lists of kustomization root directories"
            ]
        );
        assert_eq!(
            errors("environments:\n  prod: []\n  dev: [\"a/[b\"]\n  test: [/abs, ../up]\n"),
            vec![
                "c.yaml:2:9: environment `prod` lists no kustomization root directory",
                "c.yaml:3:9: invalid pattern `a/[b` in environment `dev`: error parsing glob 'a/[b': unclosed character class; missing ']'",
                "c.yaml:4:10: invalid pattern `/abs` in environment `test`: patterns are relative to the config file's directory and stay inside it",
                "c.yaml:4:16: invalid pattern `../up` in environment `test`: patterns are relative to the config file's directory and stay inside it",
            ]
        );
    }

    #[test]
    fn rule_ids_are_checked_only_against_the_ids_given() {
        let text = "select: [helm-template, no-such-rule]\n";
        assert!(parse(text, "c.yaml").is_ok());
        assert_eq!(
            errors(text),
            vec![
                "c.yaml:1:25: unknown rule `no-such-rule` in `select`; `xks-lint rules` lists them"
            ]
        );
    }

    #[test]
    fn errors_point_at_the_node_and_suggest() {
        assert_eq!(
            errors("selct: [helm-template]\n"),
            vec![
                "c.yaml:1:1: unknown key `selct` in the config file (did you mean `select`?); valid keys: select, ignore, severity, exclude, fail-on, xks, environments"
            ]
        );
        assert_eq!(
            errors("ignore:\n  - helm-templat\n"),
            vec![
                "c.yaml:2:5: unknown rule `helm-templat` in `ignore` (did you mean `helm-template`?); `xks-lint rules` lists them"
            ]
        );
        assert_eq!(
            errors("fail-on: warnings\n"),
            vec![
                "c.yaml:1:10: `fail-on` must be error, warning, note or never (did you mean `warning`?)"
            ]
        );
        assert_eq!(
            errors("select: helm-template\n"),
            vec!["c.yaml:1:9: `select` must be a list of rule ids"]
        );
        assert_eq!(
            errors(
                "xks:\n  platform-allowances: [datadog, grafana-alloy]\n  node-cidrs: [10.0.0.0/33]\n"
            ),
            vec![
                "c.yaml:2:25: unknown platform allowance `datadog` in `xks.platform-allowances`: use datadog-tracing or grafana-alloy",
                "c.yaml:3:16: invalid address in `xks.node-cidrs`: `10.0.0.0/33` has an invalid prefix length",
            ]
        );
        assert_eq!(
            errors("xks:\n  tenant-namespace: [a]\n"),
            vec![
                "c.yaml:2:3: unknown key `tenant-namespace` in `xks` (did you mean `tenant-namespaces`?); valid keys: default-namespace, tenant-namespaces, platform-namespaces, ingress-controllers, gateways, dns, dns-addresses, letsencrypt-issuers, node-cidrs, platform-allowances"
            ]
        );
        assert_eq!(
            errors("xks:\n  default-namespace: 42\n"),
            vec!["c.yaml:2:22: `xks.default-namespace` must be a string"]
        );
        assert_eq!(
            errors("severity:\n  helm-template: fatal\n"),
            vec!["c.yaml:2:18: severity of `helm-template` must be error, warning or note"]
        );
        assert_eq!(errors("select: [\n").len(), 1);
    }
}
