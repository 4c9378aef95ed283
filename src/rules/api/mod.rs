//! Rules about API versions and kinds.

pub mod removed_api_version;
