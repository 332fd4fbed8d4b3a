//! Build the firmware in `firmware/` and run it on a QEMU board, for the firmware tests and
//! `cargo xtask qemu`.
//!
//! Finding QEMU, building the firmware and running it are [`elfext_board`]'s (shared with
//! `elfext run --target`); this layer gives the tests a simpler shape (`None` for a missing
//! QEMU, one text for what a run printed) and reads the firmware's checks from its output.

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use elfext_board::{unpacked_dir, Board};

/// What a firmware run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    /// Exit status of QEMU (the firmware's semihosting exit code), `None` on a timeout, -1
    /// when QEMU could not be started or waited for.
    pub status: Option<i32>,
    /// Everything printed (stdout, then stderr), or why QEMU did not run.
    pub output: String,
}

/// A QEMU ready to start: the binary and what it needs around it.
#[derive(Clone, Debug)]
pub struct Qemu(elfext_board::Qemu);

/// Find QEMU for `board`: on `PATH`, else unpacked under `build/qemu`.
pub fn find(board: Board) -> Option<Qemu> {
    elfext_board::find(board).ok().map(Qemu)
}

/// Build the firmware for `board` (release) and return the ELF's path; a failed build's
/// error holds cargo's whole output.
pub fn build_firmware(board: Board) -> Result<PathBuf, String> {
    elfext_board::build_firmware(board, |_| {}).map_err(|e| match e {
        elfext_board::Error::BuildFailed { log, .. } => format!(
            "building the firmware for {} failed:\n{log}",
            board.target()
        ),
        e => e.to_string(),
    })
}

impl Qemu {
    /// Run `firmware` on `board` with the semihosting arguments `args`, stopping it after
    /// `timeout`.
    pub fn run(&self, board: Board, firmware: &Path, args: &[&str], timeout: Duration) -> Run {
        match self.0.run(board, firmware, args, timeout) {
            Ok(run) => Run {
                status: run.status,
                output: run.stdout + &run.stderr,
            },
            Err(e) => Run {
                status: Some(-1),
                output: e.to_string(),
            },
        }
    }
}

impl Run {
    /// The lines that report failed checks.
    pub fn failures(&self) -> Vec<&str> {
        self.output
            .lines()
            .filter(|l| l.starts_with("FAIL"))
            .collect()
    }

    /// The on-target table (lines starting with `|`).
    pub fn table(&self) -> Vec<&str> {
        self.output.lines().filter(|l| l.starts_with('|')).collect()
    }

    /// The checks passed and failed, from the firmware's closing line.
    pub fn summary(&self) -> Option<(u32, u32)> {
        let line = self
            .output
            .lines()
            .find(|l| l.starts_with("elfext-firmware:") && l.contains("checks passed"))?;
        let mut n = line
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty())
            .map(|s| s.parse().ok());
        Some((n.next()??, n.next()??))
    }
}
