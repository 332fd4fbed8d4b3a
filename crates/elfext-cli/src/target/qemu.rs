//! Finding QEMU, building the firmware and running it with a time limit, for the command.
//!
//! The work is [`elfext_board`]'s, shared with the test kit so the tests and the command
//! share one firmware build (in `target/firmware/`) and one way of starting QEMU. This layer
//! shows the build's progress, phrases the errors for `--target` and makes them the
//! command's errors (exit status 4).

use std::path::{Path, PathBuf};
use std::time::Duration;

use elfext_board::{Error, Qemu, Run};

use crate::error::CliError;

use super::Board;

/// The command's error for `e`, met while working for `board`.
fn cli_error(board: Board, e: Error) -> CliError {
    match e {
        Error::QemuMissing { board: b } => CliError::Target(format!(
            "{} is not installed (needed for --target {board}): install {} or run scripts/qemu.sh in the elfext repository",
            b.qemu_binary(),
            b.qemu_package()
        )),
        Error::SourcesMissing { path } => CliError::Target(format!(
            "the firmware's sources are not at {}: run elfext from the checkout of the repository it was built in",
            path.display()
        )),
        Error::CargoWait(e) => CliError::io("waiting for cargo", e),
        Error::QemuWait(e) => CliError::io("waiting for QEMU", e),
        e => CliError::Target(e.to_string()),
    }
}

/// QEMU for `board`: on `PATH`, else unpacked under `build/qemu`.
pub fn find(board: Board) -> Result<Qemu, CliError> {
    elfext_board::find(board.shared()).map_err(|e| cli_error(board, e))
}

/// Build the firmware for `board` (release, cached in `target/firmware`) and return its
/// path. Cargo's `Compiling` lines are shown as progress; a cached build prints nothing. A
/// failed build's output is shown before the error.
pub fn build_firmware(board: Board) -> Result<PathBuf, CliError> {
    let mut announced = false;
    let built = elfext_board::build_firmware(board.shared(), |line| {
        if !announced {
            eprintln!(
                "elfext: building the firmware for {board} into {} (the first build takes a few minutes)",
                elfext_board::firmware_target_dir().display()
            );
            announced = true;
        }
        eprintln!("elfext:   {line}");
    });
    built.map_err(|e| {
        if let Error::BuildFailed { log, .. } = &e {
            for line in log.lines() {
                eprintln!("{line}");
            }
        }
        cli_error(board, e)
    })
}

/// Run `firmware` on `board` with the semihosting arguments `args` (none may hold a comma or
/// a blank), stopping QEMU after `timeout`.
pub fn run(
    qemu: &Qemu,
    board: Board,
    firmware: &Path,
    args: &[String],
    timeout: Duration,
) -> Result<Run, CliError> {
    qemu.run(board.shared(), firmware, args, timeout)
        .map_err(|e| cli_error(board, e))
}
