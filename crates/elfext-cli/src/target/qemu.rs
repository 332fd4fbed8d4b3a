//! Finding QEMU, building the firmware and running it with a time limit.
//!
//! The same conventions as the test kit's QEMU runner (`crates/testkit/src/qemu.rs`), so the
//! tests and the command share one firmware build: QEMU on `PATH`, else the packages
//! `scripts/qemu.sh` unpacks into `build/qemu/`; the firmware built from `firmware/` into
//! `target/firmware/`. The command has its own copy because it reports what is missing as an
//! error instead of panicking, shows the build's progress, and must not depend on the
//! test-only kit.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::CliError;

use super::Board;

/// The repository this command was built from: the firmware's sources are there.
fn repo_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// A QEMU ready to start.
pub struct Qemu {
    binary: PathBuf,
    /// The folder of an unpacked QEMU (its libraries and firmware files).
    unpacked: Option<PathBuf>,
}

/// What a run printed and how it ended.
pub struct Run {
    /// QEMU's exit status (the firmware's semihosting exit code), `None` after a timeout.
    pub status: Option<i32>,
    /// What the firmware printed.
    pub stdout: String,
    /// What QEMU printed on its own.
    pub stderr: String,
}

fn runs(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// QEMU for `board`: on `PATH`, else unpacked under `build/qemu`.
pub fn find(board: Board) -> Result<Qemu, CliError> {
    let name = board.qemu_binary();
    if runs(Command::new(name).arg("--version")) {
        return Ok(Qemu {
            binary: name.into(),
            unpacked: None,
        });
    }
    let dir = repo_root().join("build/qemu");
    let binary = dir.join("usr/bin").join(name);
    if binary.exists() {
        return Ok(Qemu {
            binary,
            unpacked: Some(dir),
        });
    }
    Err(CliError::Target(format!(
        "{name} is not installed (needed for --target {board}): install {} or run scripts/qemu.sh in the elfext repository",
        board.qemu_package()
    )))
}

/// Check the tools the firmware build needs, so a missing one is named in one line.
fn check_toolchain(board: Board) -> Result<(), CliError> {
    let cc = board.cross_gcc();
    if !runs(Command::new(cc).arg("--version")) {
        let triple = cc.trim_end_matches("-gcc");
        return Err(CliError::Target(format!(
            "{cc} is not installed (the firmware for {board} builds its test extensions with it): apt-get install {} picolibc-{triple}",
            board.gcc_package()
        )));
    }
    let libdir = Command::new("rustc")
        .args(["--print", "target-libdir", "--target", board.rust_target()])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if !libdir.is_some_and(|d| d.exists()) {
        return Err(CliError::Target(format!(
            "the Rust target {} is not installed (the firmware for {board} is built for it): rustup target add {}",
            board.rust_target(),
            board.rust_target()
        )));
    }
    Ok(())
}

/// Build the firmware for `board` (release, cached in `target/firmware`) and return its
/// path. Cargo's `Compiling` lines are shown as progress; a cached build prints nothing.
pub fn build_firmware(board: Board) -> Result<PathBuf, CliError> {
    let root = repo_root();
    let source = root.join("firmware");
    if !source.join("Cargo.toml").exists() {
        return Err(CliError::Target(format!(
            "the firmware's sources are not at {}: run elfext from the checkout of the repository it was built in",
            source.display()
        )));
    }
    check_toolchain(board)?;
    let target_dir = root.join("target/firmware");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut child = Command::new(cargo)
        // The firmware is a workspace of its own; its folder's configuration applies.
        .current_dir(&source)
        .args(["build", "--release", "--target", board.rust_target()])
        .env("CARGO_TARGET_DIR", &target_dir)
        .env_remove("RUSTFLAGS")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| CliError::Target(format!("cannot run cargo to build the firmware: {e}")))?;
    let mut log = Vec::new();
    let mut announced = false;
    if let Some(stderr) = child.stderr.take() {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.trim_start().starts_with("Compiling") {
                if !announced {
                    eprintln!(
                        "elfext: building the firmware for {board} into {} (the first build takes a few minutes)",
                        target_dir.display()
                    );
                    announced = true;
                }
                eprintln!("elfext:   {}", line.trim());
            }
            log.push(line);
        }
    }
    let status = child
        .wait()
        .map_err(|e| CliError::io("waiting for cargo", e))?;
    if !status.success() {
        for line in &log {
            eprintln!("{line}");
        }
        let first_error = log
            .iter()
            .find(|l| l.starts_with("error") || l.contains("panicked"))
            .map_or("see cargo's output above", |l| l.trim());
        return Err(CliError::Target(format!(
            "building the firmware for {board} failed: {first_error}"
        )));
    }
    Ok(target_dir
        .join(board.rust_target())
        .join("release/elfext-firmware"))
}

fn read_all(mut from: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
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
        args: &[String],
        timeout: Duration,
    ) -> Result<Run, CliError> {
        let mut semihosting = String::from("enable=on,target=native,arg=elfext-firmware");
        for a in args {
            semihosting.push_str(",arg=");
            semihosting.push_str(a);
        }
        let mut cmd = Command::new(&self.binary);
        cmd.args(board.machine())
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
        let mut child = cmd.spawn().map_err(|e| {
            CliError::Target(format!("cannot start {}: {e}", self.binary.display()))
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
                Err(e) => return Err(CliError::io("waiting for QEMU", e)),
            }
        };
        let joined = |h: Option<std::thread::JoinHandle<String>>| {
            h.and_then(|h| h.join().ok()).unwrap_or_default()
        };
        Ok(Run {
            status,
            stdout: joined(stdout),
            stderr: joined(stderr),
        })
    }
}
