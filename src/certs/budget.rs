//! The Let's Encrypt budget per registered domain: how many new certificates a
//! fresh cluster (a new XKS blue/green cluster, or a first deploy) would request
//! at once, against the published limits, and what sharing one certificate per
//! namespace would bring it down to.

use std::collections::{BTreeMap, BTreeSet};

use super::limits::{self, Environment, Limits};
use super::{CertRequest, Inventory, IssuerRef};

#[derive(Debug, Clone)]
pub struct DomainBudget {
    pub environment: Environment,
    pub domain: String,
    pub limits: Limits,
    /// Indices into [`Inventory::requests`]: one per certificate (a secret written
    /// by several sources counts once), in model order.
    pub certificates: Vec<usize>,
    /// Distinct names under this registered domain.
    pub names: BTreeSet<String>,
    /// Name sets requested more than once, with the requests asking for them.
    pub duplicates: Vec<(BTreeSet<String>, Vec<usize>)>,
    /// Certificates needed if each namespace shared one certificate per issuer
    /// (split into chunks of the names-per-certificate limit).
    pub shared: usize,
    /// Requests per namespace, most first.
    pub by_namespace: Vec<(String, usize)>,
}

impl DomainBudget {
    pub fn count(&self) -> usize {
        self.certificates.len()
    }

    pub fn exceeded(&self) -> bool {
        self.count() > self.limits.certificates_per_registered_domain as usize
    }

    pub fn worst_duplicate(&self) -> Option<&(BTreeSet<String>, Vec<usize>)> {
        self.duplicates.iter().max_by_key(|(_, r)| r.len())
    }
}

/// One budget per (environment, registered domain), sorted by environment then domain.
pub fn budgets(inventory: &Inventory) -> Vec<DomainBudget> {
    let mut groups: BTreeMap<(Environment, String), Vec<usize>> = BTreeMap::new();
    for (index, request) in inventory.requests.iter().enumerate() {
        let Some(environment) = request.environment() else {
            continue;
        };
        for domain in request.registered_domains() {
            groups.entry((environment, domain)).or_default().push(index);
        }
    }
    groups
        .into_iter()
        .map(|((environment, domain), members)| budget(inventory, environment, domain, &members))
        .collect()
}

fn budget(
    inventory: &Inventory,
    environment: Environment,
    domain: String,
    members: &[usize],
) -> DomainBudget {
    let limits = limits::limits(environment);
    let request = |i: usize| -> &CertRequest { &inventory.requests[i] };
    let mut seen_secrets = BTreeSet::new();
    let certificates: Vec<usize> = members
        .iter()
        .copied()
        .filter(|&i| {
            seen_secrets.insert((request(i).namespace.clone(), request(i).secret_name.clone()))
        })
        .collect();
    let names: BTreeSet<String> = certificates
        .iter()
        .flat_map(|&i| request(i).names.iter())
        .filter(|n| n.registered.as_deref() == Some(domain.as_str()))
        .map(|n| n.normal.clone())
        .collect();

    let mut by_set: BTreeMap<BTreeSet<String>, Vec<usize>> = BTreeMap::new();
    for &i in &certificates {
        by_set.entry(request(i).name_set()).or_default().push(i);
    }
    let duplicates = by_set.into_iter().filter(|(_, r)| r.len() > 1).collect();

    let mut shared_groups: BTreeMap<(String, IssuerRef), BTreeSet<String>> = BTreeMap::new();
    for &i in &certificates {
        let r = request(i);
        shared_groups
            .entry((r.namespace.clone(), r.issuer_ref.clone()))
            .or_default()
            .extend(r.names.iter().map(|n| n.normal.clone()));
    }
    let per_certificate = limits.names_per_certificate.max(1) as usize;
    let shared = shared_groups
        .values()
        .map(|names| names.len().div_ceil(per_certificate).max(1))
        .sum();

    let mut namespaces: BTreeMap<String, usize> = BTreeMap::new();
    for &i in &certificates {
        *namespaces.entry(request(i).namespace.clone()).or_default() += 1;
    }
    let mut by_namespace: Vec<(String, usize)> = namespaces.into_iter().collect();
    by_namespace.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

    DomainBudget {
        environment,
        domain,
        limits,
        certificates,
        names,
        duplicates,
        shared,
        by_namespace,
    }
}
