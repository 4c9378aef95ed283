//! Certificate and TLS rules. They read the certificate inventory
//! ([`crate::certs::Inventory`]) built from the model, never the files.

pub mod certificate_too_many_names;
pub mod ingress_nginx_deprecated;
pub mod ingress_without_tls;
pub mod letsencrypt_rate_limit;
pub mod per_ingress_certificate;
pub mod route_parent_missing;
pub mod shared_certificate;
pub mod tls_host_not_covered;
pub mod tls_secret_conflict;

use std::borrow::Cow;

use crate::certs::IssuerRef;
use crate::load::yaml::{Resolved, resolve_plain};

/// A YAML scalar that reads back as the same string: plain when that is safe,
/// double-quoted (JSON syntax is valid YAML) otherwise — `*.example.com` would be an alias.
pub fn yaml_string(text: &str) -> Cow<'_, str> {
    let plain_safe = text
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'))
        && resolve_plain(text) == Resolved::Str;
    if plain_safe {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(serde_json::Value::String(text.to_string()).to_string())
    }
}

/// A cert-manager Certificate as YAML, for help texts.
/// How many names, objects or sibling locations one finding spells out: a namespace of
/// hundreds of Ingresses must not make every finding hundreds of lines long.
pub const LISTED: usize = 10;

pub fn certificate_yaml(
    name: &str,
    namespace: &str,
    issuer: &IssuerRef,
    names: &[String],
    secret: &str,
) -> String {
    certificate_yaml_listing(name, namespace, issuer, names, secret, LISTED)
}

/// [`certificate_yaml`] listing at most `listed` names (then a comment saying how many
/// more): the help shows [`LISTED`], a fix's new file all of them. `namespace` is left out
/// when empty.
pub fn certificate_yaml_listing(
    name: &str,
    namespace: &str,
    issuer: &IssuerRef,
    names: &[String],
    secret: &str,
    listed: usize,
) -> String {
    let mut out = format!(
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: {}\n",
        yaml_string(name)
    );
    if !namespace.is_empty() {
        out.push_str(&format!("  namespace: {}\n", yaml_string(namespace)));
    }
    out.push_str(&format!(
        "spec:\n  issuerRef:\n    group: {}\n    kind: {}\n    name: {}\n  dnsNames:\n",
        yaml_string(&issuer.group),
        yaml_string(&issuer.kind),
        yaml_string(&issuer.name)
    ));
    for name in names.iter().take(listed) {
        out.push_str(&format!("    - {}\n", yaml_string(name)));
    }
    if names.len() > listed {
        out.push_str(&format!(
            "    # … and {} more (`xks-lint certs` lists every name)\n",
            names.len() - listed
        ));
    }
    out.push_str(&format!("  secretName: {}\n", yaml_string(secret)));
    out
}

/// A Kubernetes object name derived from a domain: `example.co.uk` → `example-co-uk`.
pub fn name_from_domain(domain: &str) -> String {
    let name = crate::rules::name_characters(domain);
    let name = name.trim_matches('-');
    if name.is_empty() {
        "shared".to_string()
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_strings_read_back_as_strings() {
        assert_eq!(yaml_string("app.example.com"), "app.example.com");
        assert_eq!(yaml_string("*.example.com"), "\"*.example.com\"");
        assert_eq!(yaml_string("yes"), "\"yes\"");
        assert_eq!(yaml_string("10"), "\"10\"");
        assert_eq!(yaml_string(""), "\"\"");
        assert_eq!(yaml_string("/api"), "/api");
    }

    #[test]
    fn names_from_domains_are_valid_object_names() {
        assert_eq!(name_from_domain("example.co.uk"), "example-co-uk");
        assert_eq!(name_from_domain("xn--bcher-kva.de"), "xn--bcher-kva-de");
        assert_eq!(name_from_domain("..."), "shared");
    }
}
