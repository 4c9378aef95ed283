//! `xks-lint init`: a commented `.xks-lint.yaml` with every key at its default.

use std::path::PathBuf;

use super::shared::{EXIT_CLEAN, usage_error, write_report};
use crate::config;
use crate::report::emit;
use crate::report::sanitize::Channel;

pub fn init(dir: Option<PathBuf>, force: bool) -> u8 {
    let path = dir
        .unwrap_or_else(|| PathBuf::from("."))
        .join(config::FILE_NAME);
    if path.exists() && !force {
        return usage_error(&format!(
            "{} already exists (use --force to overwrite it)",
            path.display()
        ));
    }
    let checked = path
        .parent()
        .map_or(".".to_string(), |p| p.to_string_lossy().into_owned());
    match write_report(&checked, &path, config::DEFAULT_CONFIG, Channel::Text) {
        Ok(()) => {
            emit::stderr(&format!("wrote {}", path.display()));
            EXIT_CLEAN
        }
        Err(e) => usage_error(&format!("cannot write {}: {e}", path.display())),
    }
}
