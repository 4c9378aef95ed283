//! Rules about Ingress objects and ingress-nginx annotations.

pub mod rate_limit_conflict;
