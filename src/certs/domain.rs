//! DNS names as Let's Encrypt counts them: normalised to lower-case ASCII
//! (punycode), grouped by registered domain under the Public Suffix List, and
//! matched against certificate names with RFC 6125 wildcards.

/// The canonical form of a DNS name: lower case, IDN labels as punycode, no
/// trailing dot, a leading `*.` kept. `None` when the name is not a valid
/// host name (the IDNA mapping rejects it).
pub fn normalize(name: &str) -> Option<String> {
    let name = name.trim().trim_end_matches('.');
    let (wildcard, base) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    if base.is_empty() {
        return None;
    }
    // UTS 46 lower-cases, maps and punycode-encodes each label, so `Example.COM`,
    // `bücher.example` and `xn--bcher-kva.example` each have one canonical form.
    let ascii = idna::domain_to_ascii(base).ok()?;
    if ascii.is_empty() || ascii.split('.').any(str::is_empty) {
        return None;
    }
    Some(if wildcard {
        format!("*.{ascii}")
    } else {
        ascii
    })
}

/// The registered domain (public suffix plus one label) that Let's Encrypt
/// counts a name against. A wildcard counts toward its base domain. `None` for a
/// name that is itself a public suffix (`co.uk`, `github.io`) or not a host name.
pub fn registered_domain(name: &str) -> Option<String> {
    let normal = normalize(name)?;
    let base = normal.strip_prefix("*.").unwrap_or(&normal);
    psl::domain_str(base).map(str::to_string)
}

/// Whether a certificate name (possibly `*.`-prefixed) covers `host`, per
/// RFC 6125 section 6.4.3 as browsers apply it: a wildcard stands for exactly one
/// whole left-most label. Both sides are compared in their canonical forms.
pub fn covers(cert_name: &str, host: &str) -> bool {
    let (Some(cert), Some(host)) = (normalize(cert_name), normalize(host)) else {
        return false;
    };
    covers_normal(&cert, &host)
}

/// [`covers`] on names already through [`normalize`].
pub fn covers_normal(cert: &str, host: &str) -> bool {
    if cert == host {
        return true;
    }
    match cert.strip_prefix("*.") {
        Some(base) => wildcard_base_of(host) == Some(base),
        None => false,
    }
}

/// The base a wildcard certificate name must have to cover `host` (normalized): the host
/// without its first label. `None` for a wildcard host (`*.a.com` on an Ingress rule), which
/// only the same wildcard covers, or a host of one label.
pub fn wildcard_base_of(host: &str) -> Option<&str> {
    if host.starts_with("*.") {
        return None;
    }
    host.split_once('.')
        .filter(|(label, _)| !label.is_empty())
        .map(|(_, rest)| rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icann_multi_label_suffixes() {
        assert_eq!(
            registered_domain("new.blog.example.co.uk").as_deref(),
            Some("example.co.uk")
        );
        assert_eq!(registered_domain("co.uk"), None);
        assert_eq!(
            registered_domain("www.example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            registered_domain("example.com").as_deref(),
            Some("example.com")
        );
    }

    #[test]
    fn private_suffixes_count_per_owner() {
        // github.io is in the private section: each user's site is its own registered domain.
        assert_eq!(
            registered_domain("docs.alice.github.io").as_deref(),
            Some("alice.github.io")
        );
        assert_ne!(
            registered_domain("alice.github.io"),
            registered_domain("bob.github.io")
        );
        assert_eq!(registered_domain("github.io"), None);
    }

    #[test]
    fn wildcards_count_toward_their_base() {
        assert_eq!(
            registered_domain("*.apps.example.com").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            registered_domain("*.example.co.uk").as_deref(),
            Some("example.co.uk")
        );
        // A wildcard directly under a public suffix has no registered domain.
        assert_eq!(registered_domain("*.co.uk"), None);
    }

    #[test]
    fn upper_case_and_trailing_dots_are_the_same_name() {
        assert_eq!(
            registered_domain("API.Example.COM.").as_deref(),
            Some("example.com")
        );
        assert_eq!(
            normalize("WWW.Example.Com").as_deref(),
            Some("www.example.com")
        );
    }

    #[test]
    fn idn_names_are_compared_as_punycode() {
        assert_eq!(
            normalize("Bücher.example").as_deref(),
            Some("xn--bcher-kva.example")
        );
        assert_eq!(
            registered_domain("shop.bücher.de"),
            registered_domain("shop.xn--bcher-kva.de")
        );
        assert_eq!(
            registered_domain("www.食狮.中国").as_deref(),
            Some("xn--85x722f.xn--fiqs8s")
        );
        assert_eq!(
            registered_domain("www.xn--85x722f.xn--fiqs8s").as_deref(),
            Some("xn--85x722f.xn--fiqs8s")
        );
    }

    #[test]
    fn invalid_names_have_no_domain() {
        assert_eq!(registered_domain(""), None);
        assert_eq!(registered_domain("*."), None);
        assert_eq!(registered_domain("a..example.com"), None);
    }

    #[test]
    fn wildcards_cover_exactly_one_label() {
        assert!(covers("*.example.com", "app.example.com"));
        assert!(covers("*.Example.com", "APP.example.com"));
        assert!(!covers("*.example.com", "example.com"));
        assert!(!covers("*.example.com", "a.b.example.com"));
        assert!(covers("app.example.com", "app.example.com."));
        assert!(!covers("app.example.com", "*.example.com"));
        assert!(covers("*.example.com", "*.example.com"));
        assert!(!covers("*.example.com", "*.a.example.com"));
    }
}
