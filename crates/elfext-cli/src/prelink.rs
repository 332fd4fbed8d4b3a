//! `elfext prelink` (being written).

use crate::error::CliError;

/// Options of `elfext prelink`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `elfext prelink`.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err(CliError::Failed(
        "`elfext prelink` is not written yet".into(),
    ))
}
