//! Reading the input files of a command: objects and static archives, combined into one
//! extension.

use std::path::PathBuf;

use crate::error::CliError;

/// Read `paths` into one relocatable object. `needed` names symbols that count as
/// undefined (a function `run --call` will call), so archive members defining them are
/// pulled in.
pub fn read(paths: &[PathBuf], needed: &[&str]) -> Result<Vec<u8>, CliError> {
    let _ = needed;
    match paths {
        [one] => std::fs::read(one)
            .map_err(|e| CliError::io(format!("cannot read {}", one.display()), e)),
        _ => Err(CliError::Usage(
            "several inputs are not supported yet".into(),
        )),
    }
}
