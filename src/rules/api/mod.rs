//! Rules about API versions and kinds.

pub mod duplicate_object;
pub mod invalid_policy;
pub mod removed_api_version;
