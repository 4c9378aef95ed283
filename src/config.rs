//! `.xks-lint.yaml`: rule selection, severities, excludes, the failure threshold, and the
//! XKS model settings (tenant and platform namespaces, ingress controllers, gateways, DNS).
//!
//! Read with the span-aware loader, so every problem points at `file:line:column` of the
//! config file; unknown keys and rule ids get the closest valid name suggested. Command-line
//! flags override the file (see `cli.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::diagnostic::Severity;
use crate::load::yaml::{Node, NodeKind, Resolved, parse_stream};
use crate::rules;
use crate::span::Span;

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

/// Pods of a platform component that tenant policies must admit or reach, modelled even
/// though their manifests are not in the tenant repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformEndpoint {
    pub name: String,
    pub namespace: String,
    pub pod_labels: BTreeMap<String, String>,
    /// IngressClass names served (ingress controllers) or GatewayClass names (gateways);
    /// empty means every class.
    pub classes: Vec<String>,
}

/// XKS model settings, for the reachability and certificate analyses. Plain data: the
/// engines read it, this module only parses and defaults it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XksSettings {
    /// Namespace of objects that set none (and have no kustomization namespace).
    pub default_namespace: String,
    /// Tenant namespaces; empty means inferred (every namespace with a workload that is not
    /// a platform namespace).
    pub tenant_namespaces: Vec<String>,
    pub platform_namespaces: Vec<String>,
    pub ingress_controllers: Vec<PlatformEndpoint>,
    pub gateways: Vec<PlatformEndpoint>,
    /// Cluster DNS pods (kube-dns / CoreDNS).
    pub dns: PlatformEndpoint,
    /// NodeLocal DNS addresses (CIDRs) that the XKS default-deny policy lets pods reach.
    pub dns_addresses: Vec<String>,
    /// ClusterIssuer names that issue from Let's Encrypt without being in the repository.
    pub letsencrypt_issuers: Vec<String>,
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

impl Default for XksSettings {
    /// The XKS platform as the XKS guides describe it (AKS addresses for NodeLocal DNS).
    fn default() -> Self {
        XksSettings {
            default_namespace: "default".to_string(),
            tenant_namespaces: Vec::new(),
            platform_namespaces: strings(&[
                "kube-system",
                "ingress-nginx",
                "envoy-gateway-system",
                "linkerd",
            ]),
            ingress_controllers: vec![PlatformEndpoint {
                name: "ingress-nginx".to_string(),
                namespace: "ingress-nginx".to_string(),
                pod_labels: labels(&[
                    ("app.kubernetes.io/name", "ingress-nginx"),
                    ("app.kubernetes.io/component", "controller"),
                ]),
                classes: strings(&["nginx", "nginx-private"]),
            }],
            gateways: vec![PlatformEndpoint {
                name: "envoy-gateway".to_string(),
                namespace: "envoy-gateway-system".to_string(),
                pod_labels: labels(&[
                    ("app.kubernetes.io/name", "envoy"),
                    ("app.kubernetes.io/component", "proxy"),
                    ("app.kubernetes.io/managed-by", "envoy-gateway"),
                ]),
                classes: Vec::new(),
            }],
            dns: PlatformEndpoint {
                name: "kube-dns".to_string(),
                namespace: "kube-system".to_string(),
                pod_labels: labels(&[("k8s-app", "kube-dns")]),
                classes: Vec::new(),
            },
            dns_addresses: strings(&["169.254.20.10/32", "10.0.0.10/32"]),
            letsencrypt_issuers: strings(&["letsencrypt"]),
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

/// The config file that applies to `start`: `.xks-lint.yaml` in its directory or the nearest
/// one above, looking no higher than the repository root (the directory holding `.git`).
pub fn discover(start: &Path) -> Option<PathBuf> {
    let cwd = std::env::current_dir().ok()?;
    let absolute = crate::gate::paths::normalize(&cwd.join(start));
    let first = if absolute.is_dir() {
        absolute.as_path()
    } else {
        absolute.parent()?
    };
    for dir in first.ancestors() {
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            return Some(candidate);
        }
        if dir.join(".git").exists() {
            break;
        }
    }
    None
}

/// Reads and parses a config file.
pub fn load(path: &Path) -> Result<Config, Vec<ConfigError>> {
    let display = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![ConfigError {
            path: display.clone(),
            line: 1,
            column: 1,
            message: format!("cannot read the config file: {e}"),
        }]
    })?;
    let mut config = parse(&text, &display)?;
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

const TOP_KEYS: [&str; 6] = ["select", "ignore", "severity", "exclude", "fail-on", "xks"];
const XKS_KEYS: [&str; 8] = [
    "default-namespace",
    "tenant-namespaces",
    "platform-namespaces",
    "ingress-controllers",
    "gateways",
    "dns",
    "dns-addresses",
    "letsencrypt-issuers",
];
const ENDPOINT_KEYS: [&str; 4] = ["name", "namespace", "pod-labels", "classes"];
const DNS_KEYS: [&str; 2] = ["namespace", "pod-labels"];

struct Reader<'a> {
    path: &'a str,
    errors: Vec<ConfigError>,
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
        if rules::find(&id).is_some() {
            return Some(id);
        }
        let ids = rules::registry().iter().map(|r| r.doc.id);
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
        for (key, value) in self.map(node, what, &ENDPOINT_KEYS) {
            match key {
                "name" => endpoint.name = self.string(value, "`name`").unwrap_or_default(),
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
                    xks.dns_addresses = self.string_list(value, &what).unwrap_or_default()
                }
                _ => xks.letsencrypt_issuers = self.string_list(value, &what).unwrap_or_default(),
            }
        }
    }
}

/// Parses config text; `path` is only used in error messages.
pub fn parse(text: &str, path: &str) -> Result<Config, Vec<ConfigError>> {
    let mut reader = Reader {
        path,
        errors: Vec::new(),
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
# --default-namespace); --exclude adds to `exclude`. `xks-lint rules` lists the rule ids.

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

# The XKS platform the manifests run on. A list given here replaces the default list.
xks:
  # Namespace of objects that set none and have no kustomization `namespace:` above them.
  default-namespace: default
  # Tenant namespaces; empty: every namespace holding a workload that is not a platform one.
  tenant-namespaces: []
  # Namespaces owned by the platform team, modelled as known endpoints.
  platform-namespaces: [kube-system, ingress-nginx, envoy-gateway-system, linkerd]
  # Ingress controllers: pods that must be admitted by the backends of their Ingresses.
  ingress-controllers:
    - name: ingress-nginx
      namespace: ingress-nginx
      pod-labels:
        app.kubernetes.io/name: ingress-nginx
        app.kubernetes.io/component: controller
      classes: [nginx, nginx-private]
  # Gateway API data planes: pods that must be admitted by the backends of their routes.
  gateways:
    - name: envoy-gateway
      namespace: envoy-gateway-system
      pod-labels:
        app.kubernetes.io/name: envoy
        app.kubernetes.io/component: proxy
        app.kubernetes.io/managed-by: envoy-gateway
      classes: []
  # Cluster DNS pods (the XKS default-deny policy allows UDP 53 to them).
  dns:
    namespace: kube-system
    pod-labels:
      k8s-app: kube-dns
  # NodeLocal DNS addresses; on XKS on AWS use 169.254.20.10/32 and 172.20.0.10/32.
  dns-addresses: [169.254.20.10/32, 10.0.0.10/32]
  # ClusterIssuers of the platform that issue from Let's Encrypt.
  letsencrypt-issuers: [letsencrypt]
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<String> {
        parse(text, "c.yaml")
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
    fn errors_point_at_the_node_and_suggest() {
        assert_eq!(
            errors("selct: [helm-template]\n"),
            vec![
                "c.yaml:1:1: unknown key `selct` in the config file (did you mean `select`?); valid keys: select, ignore, severity, exclude, fail-on, xks"
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
            errors("xks:\n  tenant-namespace: [a]\n"),
            vec![
                "c.yaml:2:3: unknown key `tenant-namespace` in `xks` (did you mean `tenant-namespaces`?); valid keys: default-namespace, tenant-namespaces, platform-namespaces, ingress-controllers, gateways, dns, dns-addresses, letsencrypt-issuers"
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
