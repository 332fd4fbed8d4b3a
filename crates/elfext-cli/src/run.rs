//! `elfext run` (being written).

use crate::error::CliError;

/// Options of `elfext run`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `elfext run`.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err(CliError::Failed("`elfext run` is not written yet".into()))
}
