//! The config parser's unit tests: every message at its position.

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
        vec!["c.yaml:2:19: invalid address in `xks.dns-addresses`: `10.0.0.300/32` is not a CIDR"]
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
        vec!["c.yaml:1:25: unknown rule `no-such-rule` in `select`; `xks-lint rules` lists them"]
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
