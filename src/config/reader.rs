//! Reading `.xks-lint.yaml` from its span tree, section by section: every problem becomes a
//! [`ConfigError`] at the node, in document order, with the closest valid name suggested.

use std::collections::BTreeMap;

use super::{
    Config, ConfigError, FailOn, PLATFORM_ALLOWANCES, PlatformEndpoint, XksSettings, did_you_mean,
};
use crate::diagnostic::Severity;
use crate::load::yaml::{Node, Resolved, parse_stream};
use crate::span::Span;

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
    /// The file's text, where an error's column is counted.
    text: &'a str,
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
            line: span.start_pos(self.text).line as usize,
            column: span.start_pos(self.text).col as usize,
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
        match node.as_scalar() {
            Some(scalar) if scalar.resolve() == Resolved::Str => Some(scalar.value.to_string()),
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

pub(super) fn parse_with(
    text: &str,
    path: &str,
    rule_ids: Option<&[&str]>,
) -> Result<Config, Vec<ConfigError>> {
    let mut reader = Reader {
        path,
        text,
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
