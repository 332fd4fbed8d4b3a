//! `elfext inspect` (being written).

use crate::error::CliError;

/// Options of `elfext inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Run `elfext inspect`.
pub fn run(_args: Args) -> Result<(), CliError> {
    Err(CliError::Failed(
        "`elfext inspect` is not written yet".into(),
    ))
}
