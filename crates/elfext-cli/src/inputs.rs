//! Reading the input files of a command: objects and static archives, combined into one
//! extension.

use std::path::PathBuf;

use elfext::Combiner;

use crate::error::CliError;

/// Read `paths` into one relocatable object. `needed` names symbols that count as
/// undefined (a function `run --call` will call), so archive members defining them are
/// pulled in.
///
/// One plain object is returned as it is; anything else (several files, or an archive) is
/// combined with [`elfext::Combiner`].
pub fn read(paths: &[PathBuf], needed: &[&str]) -> Result<Vec<u8>, CliError> {
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let bytes = std::fs::read(path)
            .map_err(|e| CliError::io(format!("cannot read {}", path.display()), e))?;
        files.push((path.display().to_string(), bytes));
    }
    match files.as_mut_slice() {
        [] => return Err(CliError::Usage("no input file given".into())),
        [(_, bytes)] if !bytes.starts_with(b"!<") => return Ok(std::mem::take(bytes)),
        _ => {}
    }
    let mut combiner = Combiner::new();
    for (name, bytes) in &files {
        combiner
            .add(name, bytes)
            .map_err(|e| CliError::elfext(format!("cannot read {name}"), e))?;
    }
    for symbol in needed {
        combiner.need(symbol);
    }
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    combiner
        .combine()
        .map(|c| c.object)
        .map_err(|e| CliError::elfext(format!("cannot combine {}", names.join(", ")), e))
}
