//! The unsafe fix of `per-ingress-certificate`: one shared Certificate per namespace,
//! registered domain and Let's Encrypt environment, and the group's Ingresses pointed at
//! its Secret with their cert-manager issuer annotations removed.
//!
//! The fix is planned once per group, all or nothing: when any Ingress of the group cannot
//! be edited safely, or the Ingresses disagree on the issuer, no finding of the group gets
//! a fix (the help stays). Each finding's fix carries the group's new file and
//! kustomization entry (identical in every finding, so the engine creates the file once)
//! and the edits of its own Ingress only.

use crate::hashing::{FastMap, FastSet};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::rc::Rc;

use crate::certs::limits::Environment;
use crate::certs::{
    CERT_MANAGER_GROUP, CLUSTER_ISSUER_ANNOTATION, CertRequest, ISSUER_ANNOTATION,
    ISSUER_GROUP_ANNOTATION, ISSUER_KIND_ANNOTATION, IssuerRef, Source, TLS_ACME_ANNOTATION,
};
use crate::diagnostic::{Applicability, Edit, Fix, NewFile};
use crate::fix::block::{Block, range};
use crate::fix::create::{self, Directories};
use crate::load::yaml::Node;
use crate::model::validation::is_dns_subdomain;
use crate::model::{Object, ObjectId};
use crate::rules::RuleContext;
use crate::rules::certs::{certificate_yaml_listing, name_from_domain, yaml_string};

/// Let's Encrypt's limit of names per certificate (`certificate-too-many-names`): a group
/// with more gets no fix.
const MAX_NAMES: usize = 100;

/// Candidate names tried before giving up on a free one.
const NAME_ATTEMPTS: usize = 100;

/// The annotations the fix removes: what makes ingress-shim act and the issuer it names.
const REMOVED: [&str; 5] = [
    CLUSTER_ISSUER_ANNOTATION,
    ISSUER_ANNOTATION,
    ISSUER_KIND_ANNOTATION,
    ISSUER_GROUP_ANNOTATION,
    TLS_ACME_ANNOTATION,
];

/// The Certificate a group shares, as the help names it, and the fix when there is one.
pub struct Shared {
    pub cert_name: String,
    pub secret: String,
    /// Whether the Certificate exists already (the help extends it).
    pub existing: bool,
    fix: Option<GroupFix>,
}

struct GroupFix {
    description: String,
    /// Edits every finding of the group carries (the kustomization entry, new `dnsNames`).
    common: Vec<Edit>,
    new_files: Vec<NewFile>,
    /// Each Ingress's own edits.
    members: FastMap<ObjectId, Vec<Edit>>,
}

impl Shared {
    /// The fix of the finding on `object`: the group's shared part and that Ingress's edits.
    pub fn fix_for(&self, object: ObjectId) -> Option<Fix> {
        let fix = self.fix.as_ref()?;
        let own = fix.members.get(&object)?;
        let mut edits = fix.common.clone();
        edits.extend(own.iter().cloned());
        Some(Fix {
            applicability: Applicability::Unsafe,
            description: fix.description.clone(),
            edits,
            new_files: fix.new_files.clone(),
        })
    }
}

type GroupKey = (String, String, Option<Environment>);

/// Plans groups on demand, once each; the caches (names taken per namespace, files
/// claimed per directory) are built on the first group, so a repository without findings
/// pays nothing.
pub struct Planner<'a> {
    ctx: &'a RuleContext<'a>,
    requests: &'a [CertRequest],
    domains: &'a [BTreeSet<String>],
    by_namespace: &'a FastMap<&'a str, Vec<usize>>,
    groups: FastMap<GroupKey, Rc<Shared>>,
    /// Ingress-shim requests per object.
    by_object: Option<FastMap<ObjectId, Vec<usize>>>,
    /// Object and Secret names in use per namespace (Certificates, Secrets, every
    /// `secretName`), plus the names this run chose.
    taken: Option<FastMap<String, FastSet<String>>>,
    directories: Option<Directories>,
    /// Files this run creates: (directory, name) → text.
    claimed: FastMap<(PathBuf, String), String>,
}

impl<'a> Planner<'a> {
    pub fn new(
        ctx: &'a RuleContext<'a>,
        domains: &'a [BTreeSet<String>],
        by_namespace: &'a FastMap<&'a str, Vec<usize>>,
    ) -> Self {
        Planner {
            ctx,
            requests: &ctx.certs.requests,
            domains,
            by_namespace,
            groups: FastMap::default(),
            by_object: None,
            taken: None,
            directories: None,
            claimed: FastMap::default(),
        }
    }

    /// The group of `request` (an ingress-shim request) for `domain`.
    pub fn group(&mut self, request: &CertRequest, domain: &str) -> Rc<Shared> {
        let key = (
            request.namespace.clone(),
            domain.to_string(),
            request.environment(),
        );
        if let Some(shared) = self.groups.get(&key) {
            return Rc::clone(shared);
        }
        let shared = Rc::new(self.plan(request, domain));
        self.groups.insert(key, Rc::clone(&shared));
        shared
    }

    fn plan(&mut self, request: &CertRequest, domain: &str) -> Shared {
        let requests = self.requests;
        let model = self.ctx.model;
        let environment = request.environment();
        let in_namespace: Vec<usize> = self
            .by_namespace
            .get(request.namespace.as_str())
            .cloned()
            .unwrap_or_default();
        let covers = |i: usize| {
            self.domains.get(i).is_some_and(|d| d.contains(domain))
                && requests[i].environment() == environment
        };
        let existing = in_namespace.iter().copied().find(|&i| {
            requests[i].source == Source::Certificate
                && covers(i)
                && !requests[i].secret_name.is_empty()
        });
        let mut members: Vec<ObjectId> = in_namespace
            .iter()
            .copied()
            .filter(|&i| requests[i].source == Source::IngressShim && covers(i))
            .map(|i| requests[i].object)
            .collect();
        members.sort();
        members.dedup();
        if let Some(existing) = existing {
            let certificate = &requests[existing];
            let cert_name = model.object(certificate.object).name.to_string();
            let fix = self.existing_fix(certificate, &members, domain);
            return Shared {
                cert_name,
                secret: certificate.secret_name.clone(),
                existing: true,
                fix,
            };
        }
        let dir = members
            .first()
            .and_then(|&id| Directories::dir_of(self.ctx.sources, model.object(id).file));
        let (cert_name, secret) = self.names_for(&request.namespace, domain, dir.as_deref());
        let fix = self.new_fix(request, &members, domain, &cert_name, &secret);
        Shared {
            cert_name,
            secret,
            existing: false,
            fix,
        }
    }

    /// A Certificate name (and its Secret's) free in `namespace`, derived from the domain
    /// as the help always did: `example-com`, `example-com-tls`; then `example-com-2`, ...
    /// Both are DNS-1123 labels (the domain's characters are mapped to `[a-z0-9-]` and cut
    /// so that `-tls` still fits in 63).
    fn names_for(
        &mut self,
        namespace: &str,
        domain: &str,
        dir: Option<&std::path::Path>,
    ) -> (String, String) {
        let sources = self.ctx.sources;
        let directories = self
            .directories
            .get_or_insert_with(|| Directories::index(sources));
        let file_free =
            |name: &str| dir.is_none_or(|dir| !directories.has_file(dir, &certificate_file(name)));
        let taken = self.taken.get_or_insert_with(|| taken_names(self.ctx));
        let base = name_from_domain(domain);
        let mut chosen = None;
        for attempt in 1..=NAME_ATTEMPTS {
            let suffix = if attempt == 1 {
                String::new()
            } else {
                format!("-{attempt}")
            };
            let name = label(&base, 63 - "-tls".len() - suffix.len()) + &suffix;
            let secret = format!("{name}-tls");
            let free = taken
                .get(namespace)
                .is_none_or(|names| !names.contains(&name) && !names.contains(&secret))
                && file_free(&name);
            if free {
                chosen = Some((name, secret));
                break;
            }
        }
        let (name, secret) = chosen.unwrap_or_else(|| {
            let name = label(&base, 59);
            let secret = format!("{name}-tls");
            (name, secret)
        });
        let names = taken.entry(namespace.to_string()).or_default();
        names.insert(name.clone());
        names.insert(secret.clone());
        (name, secret)
    }

    fn by_object(&mut self) -> &FastMap<ObjectId, Vec<usize>> {
        let requests = self.requests;
        self.by_object.get_or_insert_with(|| {
            let mut by_object: FastMap<ObjectId, Vec<usize>> = FastMap::default();
            for (index, request) in requests.iter().enumerate() {
                if request.source == Source::IngressShim {
                    by_object.entry(request.object).or_default().push(index);
                }
            }
            by_object
        })
    }

    /// The names of every Ingress of the group, lower-cased, deduplicated and sorted, and
    /// the issuer they all use; `None` when an Ingress is not one the fix can move to the
    /// shared Certificate (another issuer, a name outside `domain`, a name that is no
    /// valid host name, a certificate without names, `kubernetes.io/tls-acme` whose
    /// issuer is the cluster's default).
    fn hosts_and_issuer(
        &mut self,
        members: &[ObjectId],
        domain: &str,
    ) -> Option<(BTreeSet<String>, IssuerRef)> {
        let requests = self.requests;
        let mut issuer: Option<&IssuerRef> = None;
        let mut hosts = BTreeSet::new();
        for object in members {
            let indexes = self.by_object().get(object)?.clone();
            for index in indexes {
                let request = requests.get(index)?;
                let trigger = request
                    .trigger_path
                    .trim_start_matches("metadata.annotations.");
                if trigger != CLUSTER_ISSUER_ANNOTATION && trigger != ISSUER_ANNOTATION {
                    return None;
                }
                match issuer {
                    Some(seen) if *seen != request.issuer_ref => return None,
                    _ => issuer = Some(&request.issuer_ref),
                }
                if request.names.is_empty() {
                    return None;
                }
                for name in &request.names {
                    let lower = name.text.trim().to_ascii_lowercase();
                    if name.registered.as_deref() != Some(domain)
                        || name.normal != lower
                        || !host_name(&lower)
                    {
                        return None;
                    }
                    hosts.insert(lower);
                }
            }
        }
        let issuer = issuer?.clone();
        let kind_ok = issuer.kind == "ClusterIssuer" || issuer.kind == "Issuer";
        if !kind_ok || issuer.group != CERT_MANAGER_GROUP || !is_dns_subdomain(&issuer.name) {
            return None;
        }
        Some((hosts, issuer))
    }

    /// Every Ingress's edits: remove its issuer annotations, point its `tls` entries at
    /// `secret`.
    fn member_edits(
        &self,
        members: &[ObjectId],
        secret: &str,
    ) -> Option<FastMap<ObjectId, Vec<Edit>>> {
        let model = self.ctx.model;
        let mut out = FastMap::default();
        for &id in members {
            let object = model.object(id);
            out.insert(id, ingress_edits(self.ctx, object, secret)?);
        }
        Some(out)
    }

    fn new_fix(
        &mut self,
        request: &CertRequest,
        members: &[ObjectId],
        domain: &str,
        cert_name: &str,
        secret: &str,
    ) -> Option<GroupFix> {
        let model = self.ctx.model;
        let sources = self.ctx.sources;
        let first = model.object(*members.first()?);
        let (hosts, issuer) = self.hosts_and_issuer(members, domain)?;
        if hosts.len() > MAX_NAMES {
            return None;
        }
        let member_edits = self.member_edits(members, secret)?;
        // The namespace is written in the Certificate only when the Ingress beside it
        // writes it: in a kustomize base the overlay's `namespace:` sets both.
        let namespace_written = first
            .node
            .path(&["metadata", "namespace"])
            .is_some_and(|n| first.location_of(n).file == first.file);
        let namespace = if namespace_written {
            if !dns_label(&request.namespace) {
                return None;
            }
            request.namespace.as_str()
        } else {
            ""
        };
        let names: Vec<String> = hosts.into_iter().collect();
        let text =
            certificate_yaml_listing(cert_name, namespace, &issuer, &names, secret, MAX_NAMES);
        let dir = Directories::dir_of(sources, first.file)?;
        let file_name = certificate_file(cert_name);
        let directories = self
            .directories
            .get_or_insert_with(|| Directories::index(sources));
        if directories.has_file(&dir, &file_name) {
            return None;
        }
        let mut common = Vec::new();
        match directories.kustomization(&dir) {
            Some(kustomization) => {
                common.push(directories.list_in_kustomization(
                    sources,
                    kustomization,
                    &file_name,
                )?);
            }
            // Rendered through a kustomization of another directory, which lists files one
            // by one: a new file here would not be deployed.
            None if !first.contexts.is_empty() => return None,
            None => {}
        }
        let claim = (dir, file_name.clone());
        match self.claimed.get(&claim) {
            Some(other) if *other != text => return None,
            _ => {
                self.claimed.insert(claim, text.clone());
            }
        }
        Some(GroupFix {
            description: format!(
                "write the shared Certificate `{cert_name}` ({} name{}) as a new file `{file_name}`, remove the Ingress's cert-manager issuer annotation and set its `tls` secretName to `{secret}`",
                names.len(),
                if names.len() == 1 { "" } else { "s" }
            ),
            common,
            new_files: vec![NewFile {
                beside: first.file,
                name: file_name,
                text,
            }],
            members: member_edits,
        })
    }

    /// The group joins a Certificate the namespace already has: allowed when it uses the
    /// group's issuer; names it lacks are appended to its block-style `dnsNames`.
    fn existing_fix(
        &mut self,
        certificate: &CertRequest,
        members: &[ObjectId],
        domain: &str,
    ) -> Option<GroupFix> {
        let model = self.ctx.model;
        let cert_object = model.object(certificate.object);
        let (hosts, issuer) = self.hosts_and_issuer(members, domain)?;
        if issuer != certificate.issuer_ref || !is_dns_subdomain(&certificate.secret_name) {
            return None;
        }
        let have = certificate.name_set();
        // A name the Certificate holds, or matches with a wildcard, is not added again.
        let covered = |host: &str| {
            have.contains(host)
                || (!host.starts_with("*.")
                    && host
                        .split_once('.')
                        .is_some_and(|(_, parent)| have.contains(&format!("*.{parent}"))))
        };
        let missing: Vec<String> = hosts.into_iter().filter(|h| !covered(h)).collect();
        if have.len() + missing.len() > MAX_NAMES {
            return None;
        }
        let mut common = Vec::new();
        if !missing.is_empty() {
            let file = cert_object.file;
            let source = self.ctx.sources.get(file)?;
            let dns_names = cert_object.node.path(&["spec", "dnsNames"])?;
            let owned = dns_names
                .as_seq()?
                .iter()
                .all(|n| cert_object.location_of(n).file == file);
            if !owned {
                return None;
            }
            let items: Vec<String> = missing
                .iter()
                .map(|h| yaml_string(h).into_owned())
                .collect();
            common.push(create::append_to_block_seq(
                &source.text,
                file,
                dns_names,
                &items,
            )?);
        }
        let secret = &certificate.secret_name;
        let member_edits = self.member_edits(members, secret)?;
        let cert_name = &cert_object.name;
        Some(GroupFix {
            description: if missing.is_empty() {
                format!(
                    "remove the Ingress's cert-manager issuer annotation and set its `tls` secretName to `{secret}`, the Secret of the Certificate `{cert_name}`"
                )
            } else {
                format!(
                    "add {} name{} to the Certificate `{cert_name}`, remove the Ingress's cert-manager issuer annotation and set its `tls` secretName to `{secret}`",
                    missing.len(),
                    if missing.len() == 1 { "" } else { "s" }
                )
            },
            common,
            new_files: Vec::new(),
            members: member_edits,
        })
    }
}

/// The edits of one Ingress, all in the file that holds its document: its issuer
/// annotations deleted (their whole lines; the `annotations:` key too when nothing else is
/// left in it) and every `tls` entry's `secretName` replaced by `secret`. `None` when
/// anything to edit was written elsewhere (a kustomize patch, `commonAnnotations`: a patch
/// may apply to several objects), is not block style, or when the Ingress has other
/// cert-manager annotations (they configure the certificate ingress-shim made, which the
/// shared one would silently drop).
fn ingress_edits(ctx: &RuleContext<'_>, object: &Object, secret: &str) -> Option<Vec<Edit>> {
    let file = object.file;
    let source = ctx.sources.get(file)?;
    let block = Block::new(file, &source.text, object);
    let text = block.text;
    let written_here = |node: &Node| object.location_of(node).file == file;
    let metadata = object.node.get("metadata")?;
    let (annotations_key, annotations) = metadata.entry("annotations")?;
    let entries = annotations.as_map()?;
    let mut deletions = Vec::new();
    let mut kept = 0usize;
    for (key, value) in entries {
        if !written_here(key) || !written_here(value) {
            return None;
        }
        let lines = block.entry_lines(key, value)?;
        let name = key.scalar_text()?;
        if REMOVED.contains(&name) {
            deletions.push(lines);
        } else if name.starts_with("cert-manager.io/") || name.starts_with("acme.cert-manager.io/")
        {
            return None;
        } else {
            kept += 1;
        }
    }
    if deletions.is_empty() {
        return None;
    }
    if kept == 0 {
        deletions = vec![block.entry_lines(annotations_key, annotations)?];
    }
    let mut edits: Vec<Edit> = deletions
        .into_iter()
        .map(|(start, end)| Edit {
            file,
            span: range(text, start, end),
            replacement: String::new(),
        })
        .collect();
    let replacement = yaml_string(secret).into_owned();
    for entry in seq(object.node.path(&["spec", "tls"])) {
        let Some(node) = entry.get("secretName") else {
            continue;
        };
        if node.scalar_text().is_none_or(|s| s.trim().is_empty()) {
            // No certificate for this entry before; none after.
            continue;
        }
        block.scalar_text(node)?;
        edits.push(Edit {
            file,
            span: node.span,
            replacement: replacement.clone(),
        });
    }
    Some(edits)
}

/// The names in use per namespace: Certificates and Secrets, and every `secretName` (an
/// Ingress's, a Certificate's) — ingress-shim names its Certificates after their Secret.
fn taken_names(ctx: &RuleContext<'_>) -> FastMap<String, FastSet<String>> {
    let mut taken: FastMap<String, FastSet<String>> = FastMap::default();
    for object in &ctx.model.objects {
        let names = taken.entry(object.namespace.to_string()).or_default();
        if matches!(object.kind.as_str(), "Certificate" | "Secret") {
            names.insert(object.name.to_string());
        }
        if let Some(secret) = object
            .node
            .path(&["spec", "secretName"])
            .and_then(Node::scalar_text)
        {
            names.insert(secret.trim().to_string());
        }
        for entry in seq(object.node.path(&["spec", "tls"])) {
            if let Some(secret) = entry.get("secretName").and_then(Node::scalar_text) {
                names.insert(secret.trim().to_string());
            }
        }
    }
    taken
}

/// The file a new Certificate is written to.
fn certificate_file(cert_name: &str) -> String {
    format!("{cert_name}-certificate.yaml")
}

fn seq(node: Option<&Node>) -> &[Node] {
    node.and_then(Node::as_seq).unwrap_or(&[])
}

/// `text` cut to at most `max` bytes (it is ASCII), without a trailing hyphen.
fn label(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        "shared".to_string()
    } else {
        out
    }
}

/// A DNS-1123 label: what a namespace name must be.
fn dns_label(text: &str) -> bool {
    text.len() <= 63 && !text.contains('.') && is_dns_subdomain(text)
}

/// A host name a Certificate's `dnsNames` accepts: DNS-1123 labels, optionally after `*.`.
fn host_name(text: &str) -> bool {
    let base = text.strip_prefix("*.").unwrap_or(text);
    base.contains('.') && base.split('.').all(|l| l.len() <= 63) && is_dns_subdomain(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_labels() {
        assert_eq!(label(&"a".repeat(100), 59).len(), 59);
        assert_eq!(label("ab-", 3), "ab");
        assert_eq!(label("---", 3), "shared");
        assert!(dns_label("tenant") && !dns_label("a.b") && !dns_label(&"a".repeat(64)));
        assert!(host_name("*.blog.example.com") && host_name("a-b.example.com"));
        assert!(!host_name("example") && !host_name("a_b.example.com"));
        assert!(!host_name("a\nb.example.com") && !host_name("*.*.example.com"));
    }
}
