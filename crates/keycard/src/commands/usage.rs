//! `keycard usage` (being written).

use crate::ui::Ui;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args, _ui: &Ui) -> anyhow::Result<u8> {
    anyhow::bail!("keycard usage is not available in this build yet")
}
