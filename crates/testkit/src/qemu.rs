//! Build the firmware in `firmware/` and run it on a QEMU board.
//!
//! QEMU is the one on `PATH` when there is one, else the Debian packages that
//! `scripts/qemu.sh` unpacks into `build/qemu/` (on images where `apt-get install` of QEMU
//! conflicts with a preinstalled package).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::repo_root;

/// A board the firmware runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

    fn qemu_binary(self) -> &'static str {
        match self {
            Board::CortexM4 => "qemu-system-arm",
            Board::Rv32 => "qemu-system-riscv32",
        }
    }

    fn machine(self) -> &'static [&'static str] {
        match self {
            Board::CortexM4 => &["-M", "mps2-an386"],
            Board::Rv32 => &["-M", "virt", "-bios", "none"],
        }
    }
}

/// What a firmware run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    /// Exit status of QEMU (the firmware's semihosting exit code), `None` on a timeout.
    pub status: Option<i32>,
    /// Everything printed (stdout and stderr).
    pub output: String,
}

/// A QEMU ready to start: the binary and what it needs around it.
#[derive(Clone, Debug)]
pub struct Qemu {
    binary: PathBuf,
    /// `LD_LIBRARY_PATH` and `-L` for an unpacked QEMU.
    unpacked: Option<PathBuf>,
}

/// The unpacked QEMU folder (`build/qemu`).
pub fn unpacked_dir() -> PathBuf {
    repo_root().join("build/qemu")
}

/// Find QEMU for `board`: on `PATH`, else unpacked under `build/qemu`.
pub fn find(board: Board) -> Option<Qemu> {
    let name = board.qemu_binary();
    let on_path = Command::new(name)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if on_path {
        return Some(Qemu {
            binary: name.into(),
            unpacked: None,
        });
    }
    let dir = unpacked_dir();
    let binary = dir.join("usr/bin").join(name);
    binary.exists().then_some(Qemu {
        binary,
        unpacked: Some(dir),
    })
}

/// Build the firmware for `board` (release) and return the ELF's path.
pub fn build_firmware(board: Board) -> Result<PathBuf, String> {
    let root = repo_root();
    let target_dir = root.join("target/firmware");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        // The firmware is a workspace of its own; its folder's config applies.
        .current_dir(root.join("firmware"))
        .args(["build", "--release", "--target", board.target()])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "building the firmware for {} failed:\n{}",
            board.target(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(target_dir
        .join(board.target())
        .join("release/elfext-firmware"))
}

impl Qemu {
    /// Run `firmware` on `board` with the semihosting arguments `args`, stopping it after
    /// `timeout`.
    pub fn run(&self, board: Board, firmware: &Path, args: &[&str], timeout: Duration) -> Run {
        let mut semihosting = String::from("enable=on,target=native,arg=elfext-firmware");
        for a in args {
            semihosting.push_str(",arg=");
            semihosting.push_str(a);
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
            cmd.env("LD_LIBRARY_PATH", std::env::join_paths(libs).unwrap());
            cmd.arg("-L").arg(dir.join("usr/share/qemu"));
        }
        let mut child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                return Run {
                    status: Some(-1),
                    output: format!("cannot start {}: {e}", self.binary.display()),
                }
            }
        };
        let mut stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            stdout.read_to_string(&mut s).ok();
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            stderr.read_to_string(&mut s).ok();
            s
        });
        let start = Instant::now();
        let status = loop {
            if let Ok(Some(s)) = child.try_wait() {
                break s.code();
            }
            if start.elapsed() > timeout {
                child.kill().ok();
                child.wait().ok();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut output = out.join().unwrap_or_default();
        output.push_str(&err.join().unwrap_or_default());
        Run { status, output }
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
