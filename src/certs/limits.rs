//! Let's Encrypt's published rate limits, in one place. Rule docs link to the
//! source page; when Let's Encrypt changes a number, only this table changes.

/// Where the numbers come from.
pub const SOURCE_URL: &str = "https://letsencrypt.org/docs/rate-limits/";
pub const STAGING_SOURCE_URL: &str = "https://letsencrypt.org/docs/staging-environment/";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Environment {
    Production,
    Staging,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Limits {
    /// New certificates per registered domain per 7 days.
    pub certificates_per_registered_domain: u32,
    /// New certificates with the identical set of names per 7 days.
    pub duplicate_certificates: u32,
    /// Names (SANs) in one certificate with the classic profile; the short-lived
    /// profiles allow fewer.
    pub names_per_certificate: u32,
    /// New orders per ACME account per 3 hours.
    pub new_orders_per_account: u32,
}

pub const PRODUCTION: Limits = Limits {
    certificates_per_registered_domain: 50,
    duplicate_certificates: 5,
    names_per_certificate: 100,
    new_orders_per_account: 300,
};

/// The staging environment's limits are much larger; it exists for testing.
pub const STAGING: Limits = Limits {
    certificates_per_registered_domain: 30_000,
    duplicate_certificates: 30_000,
    names_per_certificate: 100,
    new_orders_per_account: 1_500,
};

pub fn limits(environment: Environment) -> Limits {
    match environment {
        Environment::Production => PRODUCTION,
        Environment::Staging => STAGING,
    }
}

/// The week over which the certificate limits are counted, for messages.
pub const WINDOW: &str = "7 days";
