//! The `xks-lint certs` budget report: per registered domain, the certificates a
//! fresh cluster would request from Let's Encrypt, their sources, the limits side
//! by side and what sharing one certificate per namespace would bring it to.

use serde::Serialize;

use super::sanitize::Inline;

use crate::analysis::Analysis;
use crate::certs::budget::{self, DomainBudget};
use crate::certs::limits::{self, Environment, Limits};
use crate::certs::{Authority, CertRequest};

#[derive(Debug, Serialize)]
pub struct Report {
    pub version: u32,
    pub limits_source: &'static str,
    pub domains: Vec<DomainReport>,
    /// Certificates whose issuer is not (or not known to be) Let's Encrypt.
    pub not_counted: Vec<SourceReport>,
}

#[derive(Debug, Serialize)]
pub struct DomainReport {
    pub domain: String,
    pub environment: &'static str,
    /// `over`, `warning` (from the warning percentage) or `ok`.
    pub status: &'static str,
    pub certificates: usize,
    pub names: usize,
    pub limits: Limits,
    /// Certificates if each namespace shared one per issuer.
    pub shared_certificates: usize,
    pub largest_identical_name_set: usize,
    pub sources: Vec<SourceReport>,
}

#[derive(Debug, Serialize)]
pub struct SourceReport {
    pub source: &'static str,
    pub object: String,
    pub namespace: String,
    pub secret: String,
    pub issuer: String,
    /// `letsencrypt-production`, `letsencrypt-staging`, `other` or `unknown`.
    pub authority: &'static str,
    pub names: Vec<String>,
    pub path: String,
    pub line: usize,
    pub column: usize,
}

impl Report {
    pub fn build(analysis: &Analysis) -> Report {
        let inventory = &analysis.certs;
        let percent = inventory.settings.warn_percent.clamp(1, 100) as usize;
        let source = |request: &CertRequest| {
            let object = analysis.model.object(request.object);
            // Counted in the file the span is in (a patch's, when one set the annotation).
            let start = analysis
                .sources
                .start(object.location(request.trigger_span));
            SourceReport {
                source: request.source.as_str(),
                object: object.identity(),
                namespace: request.namespace.clone(),
                secret: request.secret_name.clone(),
                issuer: request.issuer_ref.to_string(),
                authority: match request.authority {
                    Authority::LetsEncrypt(Environment::Production) => "letsencrypt-production",
                    Authority::LetsEncrypt(Environment::Staging) => "letsencrypt-staging",
                    Authority::Other => "other",
                    Authority::Unknown => "unknown",
                },
                names: request.names.iter().map(|n| n.text.clone()).collect(),
                path: analysis.sources.display(object.file).to_string(),
                line: start.line as usize,
                column: start.col as usize,
            }
        };
        let domains = budget::budgets(inventory)
            .iter()
            .map(|b| DomainReport {
                domain: b.domain.clone(),
                environment: b.environment.as_str(),
                status: status(b, percent),
                certificates: b.count(),
                names: b.names.len(),
                limits: b.limits,
                shared_certificates: b.shared,
                largest_identical_name_set: b.worst_duplicate().map(|(_, r)| r.len()).unwrap_or(1),
                sources: b
                    .certificates
                    .iter()
                    .map(|&i| source(&inventory.requests[i]))
                    .collect(),
            })
            .collect();
        let not_counted = inventory
            .requests
            .iter()
            .filter(|r| r.environment().is_none())
            .map(source)
            .collect();
        Report {
            version: 1,
            limits_source: limits::SOURCE_URL,
            domains,
            not_counted,
        }
    }

    /// Whether any registered domain is over a Let's Encrypt limit.
    pub fn over(&self) -> bool {
        self.domains.iter().any(|d| d.status == "over")
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".to_string());
        text.push('\n');
        text
    }

    pub fn to_human(&self) -> String {
        let mut out = String::new();
        if self.domains.is_empty() {
            out.push_str(
                "No certificate in these manifests would be requested from Let's Encrypt.\n",
            );
        }
        for domain in &self.domains {
            let l = &domain.limits;
            let verdict = match domain.status {
                "over" => "OVER A LIMIT",
                "warning" => "close to a limit",
                _ => "within the limits",
            };
            out.push_str(&format!(
                "{} (Let's Encrypt {}): {verdict}\n",
                Inline(&domain.domain),
                domain.environment
            ));
            out.push_str(&format!("  {:<50} {:>6} {:>6}\n", "", "repo", "limit"));
            out.push_str(&format!(
                "  {:<50} {:>6} {:>6}\n",
                "new certificates per registered domain / 7 days",
                domain.certificates,
                l.certificates_per_registered_domain
            ));
            out.push_str(&format!(
                "  {:<50} {:>6} {:>6}\n",
                "certificates with one identical name set / 7 days",
                domain.largest_identical_name_set,
                l.duplicate_certificates
            ));
            let most_names = domain
                .sources
                .iter()
                .map(|s| s.names.len())
                .max()
                .unwrap_or(0);
            out.push_str(&format!(
                "  {:<50} {:>6} {:>6}\n",
                "names in the largest certificate", most_names, l.names_per_certificate
            ));
            out.push_str(&format!(
                "  {:<50} {:>6} {:>6}\n",
                "orders for this domain (account limit / 3 hours)",
                domain.certificates,
                l.new_orders_per_account
            ));
            out.push_str(&format!(
                "  distinct names: {}; sharing one certificate per namespace: {} certificate{}{}\n",
                domain.names,
                domain.shared_certificates,
                if domain.shared_certificates == 1 {
                    ""
                } else {
                    "s"
                },
                if domain.shared_certificates <= l.certificates_per_registered_domain as usize {
                    " (within the limit)"
                } else {
                    " (still over the limit)"
                }
            ));
            out.push_str("  sources:\n");
            let rows: Vec<[String; 5]> = domain
                .sources
                .iter()
                .map(|source| {
                    let n = source.names.len();
                    [
                        format!("{}:{}", Inline(&source.path), source.line),
                        source.source.to_string(),
                        Inline(&source.object).to_string(),
                        format!("secret {}", Inline(&source.secret)),
                        format!("{n} name{}", if n == 1 { "" } else { "s" }),
                    ]
                })
                .collect();
            let width = |column: usize| {
                rows.iter()
                    .map(|r| r[column].chars().count())
                    .max()
                    .unwrap_or(0)
            };
            let widths = [width(0), width(1), width(2), width(3)];
            for (row, source) in rows.iter().zip(&domain.sources) {
                out.push_str(&format!(
                    "    {:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:>8}  {}\n",
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    row[4],
                    Inline(&source.issuer),
                    w0 = widths[0],
                    w1 = widths[1],
                    w2 = widths[2],
                    w3 = widths[3],
                ));
            }
            out.push('\n');
        }
        if !self.not_counted.is_empty() {
            out.push_str("Not counted (issuer not Let's Encrypt, or not known to be: see --letsencrypt-issuer):\n");
            for source in &self.not_counted {
                let reason = match source.authority {
                    "unknown" => "unknown issuer",
                    _ => "not Let's Encrypt",
                };
                out.push_str(&format!(
                    "    {}:{}  {}  secret {}  {} ({reason})\n",
                    Inline(&source.path),
                    source.line,
                    Inline(&source.object),
                    Inline(&source.secret),
                    Inline(&source.issuer)
                ));
            }
            out.push('\n');
        }
        out.push_str(&format!(
            "Counted as on a fresh cluster (a new XKS blue/green cluster requests every certificate at once). Limits: {}\n",
            self.limits_source
        ));
        out
    }
}

fn status(budget: &DomainBudget, percent: usize) -> &'static str {
    let checks = [
        (
            budget.count(),
            budget.limits.certificates_per_registered_domain as usize,
        ),
        (
            // A name set requested once is no duplicate, whatever the percentage.
            budget.worst_duplicate().map(|(_, r)| r.len()).unwrap_or(0),
            budget.limits.duplicate_certificates as usize,
        ),
    ];
    if checks.iter().any(|(count, limit)| count > limit) {
        "over"
    } else if checks
        .iter()
        .any(|(count, limit)| *count >= (limit * percent).div_ceil(100).max(1))
    {
        "warning"
    } else {
        "ok"
    }
}
