//! `elfext check` (being written).

use crate::error::CliError;

/// Options of `elfext check`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `elfext check`.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err(CliError::Failed("`elfext check` is not written yet".into()))
}
