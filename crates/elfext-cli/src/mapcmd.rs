//! `elfext map` (being written).

use crate::error::CliError;

/// Options of `elfext map`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `elfext map`.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err(CliError::Failed("`elfext map` is not written yet".into()))
}
