//! `xks-lint completions SHELL` and `xks-lint man`, generated from the CLI definition (which
//! the caller passes in: this module does not import the CLI).

use super::shared::{usage_error, write_stdout};
use crate::report::sanitize::Channel;

pub fn completions(shell: clap_complete::Shell, mut command: clap::Command) -> u8 {
    let mut bytes = Vec::new();
    clap_complete::generate(shell, &mut command, "xks-lint", &mut bytes);
    write_stdout(&String::from_utf8_lossy(&bytes), Channel::Text)
}

pub fn man(command: clap::Command) -> u8 {
    let mut bytes = Vec::new();
    match clap_mangen::Man::new(command).render(&mut bytes) {
        Ok(()) => write_stdout(&String::from_utf8_lossy(&bytes), Channel::Text),
        Err(e) => usage_error(&format!("cannot render the man page: {e}")),
    }
}
