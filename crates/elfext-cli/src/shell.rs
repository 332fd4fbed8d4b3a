//! `elfext shell` (being written).

use crate::error::CliError;

/// Options of `elfext shell`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `elfext shell`.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err(CliError::Failed("`elfext shell` is not written yet".into()))
}
