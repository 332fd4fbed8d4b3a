//! The QEMU boards elfext's firmware runs on: finding QEMU, building the firmware and
//! running it with a time limit.
//!
//! One implementation for the test kit (the firmware tests, `cargo xtask qemu`) and the
//! command (`elfext run --target`), so both share one firmware build and one way of starting
//! QEMU:
//! - QEMU is the one on `PATH` when there is one, else the Debian packages that
//!   `scripts/qemu.sh` unpacks into `build/qemu/` (on images where `apt-get install` of QEMU
//!   conflicts with a preinstalled package);
//! - the firmware is built from `firmware/` (a cargo workspace of its own) in release mode
//!   into `target/firmware/`;
//! - a run counts one instruction per virtual nanosecond (`-icount shift=0`), passes its
//!   arguments over semihosting and is stopped after a time limit.
//!
//! Nothing here panics when the checkout it was built from is gone or a tool is missing:
//! every failure is an [`Error`] that says what is missing and how to get it.

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A board the firmware runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Board {
    /// Cortex-M4 on QEMU `mps2-an386`.
    CortexM4,
    /// RV32 (rv32imac) on QEMU `virt`.
    Rv32,
}

impl Board {
    /// Both boards.
    pub const ALL: [Board; 2] = [Board::CortexM4, Board::Rv32];

    /// The name on the command line (`cortex-m4`, `rv32`).
    pub fn name(self) -> &'static str {
        match self {
            Board::CortexM4 => "cortex-m4",
            Board::Rv32 => "rv32",
        }
    }

    /// The board named `name`.
    pub fn from_name(name: &str) -> Option<Board> {
        Board::ALL.into_iter().find(|b| b.name() == name)
    }

    /// The Rust target the firmware is built for.
    pub fn target(self) -> &'static str {
        match self {
            Board::CortexM4 => "thumbv7em-none-eabi",
            Board::Rv32 => "riscv32imac-unknown-none-elf",
        }
    }

    /// The C cross compiler the firmware's build uses for its test extensions.
    pub fn cross_gcc(self) -> &'static str {
        match self {
            Board::CortexM4 => "arm-none-eabi-gcc",
            Board::Rv32 => "riscv64-unknown-elf-gcc",
        }
    }

    /// The distribution package of [`Board::cross_gcc`].
    pub fn gcc_package(self) -> &'static str {
        match self {
            Board::CortexM4 => "gcc-arm-none-eabi",
            Board::Rv32 => "gcc-riscv64-unknown-elf",
        }
    }

    /// The QEMU program that emulates the board.
    pub fn qemu_binary(self) -> &'static str {
        match self {
            Board::CortexM4 => "qemu-system-arm",
            Board::Rv32 => "qemu-system-riscv32",
        }
    }

    /// The distribution package of [`Board::qemu_binary`].
    pub fn qemu_package(self) -> &'static str {
        match self {
            Board::CortexM4 => "qemu-system-arm",
            Board::Rv32 => "qemu-system-misc",
        }
    }

    fn machine(self) -> &'static [&'static str] {
        match self {
            Board::CortexM4 => &["-M", "mps2-an386"],
            Board::Rv32 => &["-M", "virt", "-bios", "none"],
        }
    }
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why QEMU could not be found, the firmware not built or QEMU not run. Each message is one
/// line: what went wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// QEMU for the board is neither on `PATH` nor unpacked under `build/qemu`.
    #[error("{} is not installed (needed to run the firmware on {board}): install {} or run scripts/qemu.sh in the elfext repository", board.qemu_binary(), board.qemu_package())]
    QemuMissing {
        /// The board QEMU was looked for.
        board: Board,
    },
    /// The firmware's sources are not where this crate was built from.
    #[error("the firmware's sources are not at {}: run from the checkout of the elfext repository this program was built in", path.display())]
    SourcesMissing {
        /// The folder the sources were looked for in (`firmware/`).
        path: PathBuf,
    },
    /// The C cross compiler the firmware's build needs is missing.
    #[error("{} is not installed (the firmware for {board} builds its test extensions with it): apt-get install {} picolibc-{}", board.cross_gcc(), board.gcc_package(), board.cross_gcc().trim_end_matches("-gcc"))]
    CrossGccMissing {
        /// The board the firmware was to be built for.
        board: Board,
    },
    /// The Rust target the firmware is built for is not installed.
    #[error("the Rust target {} is not installed (the firmware for {board} is built for it): rustup target add {}", board.target(), board.target())]
    RustTargetMissing {
        /// The board the firmware was to be built for.
        board: Board,
    },
    /// Cargo could not be started.
    #[error("cannot run cargo to build the firmware: {0}")]
    CargoStart(#[source] std::io::Error),
    /// Waiting for cargo failed.
    #[error("waiting for cargo: {0}")]
    CargoWait(#[source] std::io::Error),
    /// Cargo ran and the build failed.
    #[error("building the firmware for {board} failed: {}", first_error.as_deref().unwrap_or("see cargo's output above"))]
    BuildFailed {
        /// The board the firmware was built for.
        board: Board,
        /// Cargo's first error line (or a panic's), when it printed one.
        first_error: Option<String>,
        /// Everything cargo printed on its standard error.
        log: String,
    },
    /// QEMU could not be started.
    #[error("cannot start {}: {source}", binary.display())]
    QemuStart {
        /// The QEMU program.
        binary: PathBuf,
        /// Why it did not start.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for QEMU failed.
    #[error("waiting for QEMU: {0}")]
    QemuWait(#[source] std::io::Error),
}

/// The repository this crate was built from: the firmware's sources and the unpacked QEMU
/// are there.
fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// The unpacked QEMU folder (`build/qemu`).
pub fn unpacked_dir() -> PathBuf {
    repo_root().join("build/qemu")
}

/// The folder the firmware is built into (`target/firmware`), shared by every user.
pub fn firmware_target_dir() -> PathBuf {
    repo_root().join("target/firmware")
}

/// Whether `cmd` starts and exits successfully (its output dropped).
fn runs(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A QEMU ready to start: the binary and what it needs around it.
#[derive(Clone, Debug)]
pub struct Qemu {
    binary: PathBuf,
    /// `LD_LIBRARY_PATH` and `-L` for an unpacked QEMU.
    unpacked: Option<PathBuf>,
}

/// What a firmware run printed and how it ended.
#[derive(Clone, Debug)]
pub struct Run {
    /// QEMU's exit status (the firmware's semihosting exit code), `None` after a timeout.
    pub status: Option<i32>,
    /// What the firmware printed.
    pub stdout: String,
    /// What QEMU printed on its own.
    pub stderr: String,
}

/// Find QEMU for `board`: on `PATH`, else unpacked under `build/qemu`.
pub fn find(board: Board) -> Result<Qemu, Error> {
    let name = board.qemu_binary();
    if runs(Command::new(name).arg("--version")) {
        return Ok(Qemu {
            binary: name.into(),
            unpacked: None,
        });
    }
    let dir = unpacked_dir();
    let binary = dir.join("usr/bin").join(name);
    if binary.exists() {
        return Ok(Qemu {
            binary,
            unpacked: Some(dir),
        });
    }
    Err(Error::QemuMissing { board })
}

/// Check the tools the firmware build needs, so a missing one is named in one line.
fn check_toolchain(board: Board) -> Result<(), Error> {
    if !runs(Command::new(board.cross_gcc()).arg("--version")) {
        return Err(Error::CrossGccMissing { board });
    }
    let libdir = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", board.target()])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if !libdir.is_some_and(|d| d.exists()) {
        return Err(Error::RustTargetMissing { board });
    }
    Ok(())
}

/// Build the firmware for `board` (release, cached in [`firmware_target_dir`]) and return
/// the ELF's path. `compiling` is called with each of cargo's `Compiling ...` lines
/// (trimmed) as they come, so a caller can show progress; a cached build calls it never.
pub fn build_firmware(board: Board, mut compiling: impl FnMut(&str)) -> Result<PathBuf, Error> {
    let source = repo_root().join("firmware");
    if !source.join("Cargo.toml").exists() {
        return Err(Error::SourcesMissing { path: source });
    }
    check_toolchain(board)?;
    let target_dir = firmware_target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        // The firmware is a workspace of its own; its folder's configuration applies.
        .current_dir(&source)
        .args(["build", "--release", "--target", board.target()])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(Error::CargoStart)?;
    let mut log = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.trim_start().starts_with("Compiling") {
                compiling(line.trim());
            }
            log.push(line);
        }
    }
    let status = child.wait().map_err(Error::CargoWait)?;
    if !status.success() {
        let first_error = log
            .iter()
            .find(|l| l.starts_with("error") || l.contains("panicked"))
            .map(|l| l.trim().to_string());
        return Err(Error::BuildFailed {
            board,
            first_error,
            log: log.join("\n"),
        });
    }
    Ok(target_dir
        .join(board.target())
        .join("release/elfext-firmware"))
}

/// Read everything from `from` on a thread of its own (invalid UTF-8 replaced).
fn read_all(mut from: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        from.read_to_end(&mut bytes).ok();
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

impl Qemu {
    /// Run `firmware` on `board` with the semihosting arguments `args` (none may hold a
    /// comma or a blank), stopping QEMU after `timeout`.
    pub fn run(
        &self,
        board: Board,
        firmware: &Path,
        args: &[impl AsRef<str>],
        timeout: Duration,
    ) -> Result<Run, Error> {
        let mut semihosting = String::from("enable=on,target=native,arg=elfext-firmware");
        for a in args {
            semihosting.push_str(",arg=");
            semihosting.push_str(a.as_ref());
        }
        let mut cmd = Command::new(&self.binary);
        cmd.args(board.machine())
            // One instruction per virtual nanosecond: cycle counts are instruction counts
            // and do not depend on the host's speed.
            .args(["-nographic", "-monitor", "none", "-icount", "shift=0"])
            .args(["-semihosting-config", &semihosting, "-kernel"])
            .arg(firmware)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(dir) = &self.unpacked {
            let libs = [
                dir.join("usr/lib/x86_64-linux-gnu"),
                dir.join("lib/x86_64-linux-gnu"),
            ];
            if let Ok(path) = std::env::join_paths(libs) {
                cmd.env("LD_LIBRARY_PATH", path);
            }
            cmd.arg("-L").arg(dir.join("usr/share/qemu"));
        }
        let mut child = cmd.spawn().map_err(|source| Error::QemuStart {
            binary: self.binary.clone(),
            source,
        })?;
        let stdout = child.stdout.take().map(read_all);
        let stderr = child.stderr.take().map(read_all);
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(s)) => break s.code(),
                Ok(None) if start.elapsed() > timeout => {
                    child.kill().ok();
                    child.wait().ok();
                    break None;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => {
                    child.kill().ok();
                    child.wait().ok();
                    return Err(Error::QemuWait(e));
                }
            }
        };
        let joined =
            |h: Option<JoinHandle<String>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
        Ok(Run {
            status,
            stdout: joined(stdout),
            stderr: joined(stderr),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boards_by_name() {
        for board in Board::ALL {
            assert_eq!(Board::from_name(board.name()), Some(board));
            assert_eq!(board.to_string(), board.name());
        }
        assert_eq!(Board::from_name("cortex-m0"), None);
    }

    #[test]
    fn errors_say_what_to_do() {
        let e = Error::CrossGccMissing { board: Board::Rv32 };
        assert_eq!(
            e.to_string(),
            "riscv64-unknown-elf-gcc is not installed (the firmware for rv32 builds its test extensions with it): apt-get install gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf"
        );
        let e = Error::BuildFailed {
            board: Board::CortexM4,
            first_error: None,
            log: String::new(),
        };
        assert_eq!(
            e.to_string(),
            "building the firmware for cortex-m4 failed: see cargo's output above"
        );
        let e = Error::QemuMissing { board: Board::Rv32 };
        assert!(!e.to_string().contains('\n'), "{e}");
        assert!(e.to_string().contains("qemu-system-misc"), "{e}");
    }
}
