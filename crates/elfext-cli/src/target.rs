//! Running an extension's function on a QEMU board (`elfext run --target`).
//!
//! The object is written to a temporary host file; the firmware in `firmware/` (built once
//! and cached in `target/firmware/`) reads it over semihosting, loads it as a temporary
//! extension against its exports, calls the function with the argument registers the host
//! laid out ([`abi`]), prints the result registers and unloads it (`firmware/src/runner.rs`
//! describes the request). A fault on the board is reported as an error with exit code 4.

mod abi;
mod qemu;

use std::fmt;
use std::time::Duration;

use crate::call::{format_return, Arg, CallSpec};
use crate::error::CliError;

use abi::Slot;

/// A QEMU board the firmware runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Board {
    /// Cortex-M4 on QEMU `mps2-an386` (AAPCS, soft float).
    #[value(name = "cortex-m4")]
    CortexM4,
    /// RV32 (rv32imac) on QEMU `virt` (ilp32, soft float).
    #[value(name = "rv32")]
    Rv32,
}

impl fmt::Display for Board {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.shared().fmt(f)
    }
}

impl Board {
    /// The same board in the shared QEMU runner.
    fn shared(self) -> elfext_board::Board {
        match self {
            Board::CortexM4 => elfext_board::Board::CortexM4,
            Board::Rv32 => elfext_board::Board::Rv32,
        }
    }
}

/// How long a call may take, QEMU's start included (a run takes well under a second).
const TIMEOUT: Duration = Duration::from_secs(60);
/// The longest request the firmware reads (its command-line buffer, less some room).
const MAX_REQUEST: usize = 4000;
/// The firmware's room for string arguments, NUL terminators included.
const MAX_STRING_BYTES: usize = 2048;
/// Exit statuses of the firmware's `run` mode (`firmware/src/runner.rs`).
const BAD_REQUEST: i32 = 1;
const LOAD_FAILED: i32 = 2;
const FAULT: i32 = 3;

/// Run `spec`'s function of `object` on `board` with `args`, loaded as extension `name`;
/// the return value formatted as [`format_return`] does (a `str` result is its address).
pub fn run(
    board: Board,
    name: &str,
    object: &[u8],
    spec: &CallSpec,
    args: &[Arg],
) -> Result<String, CliError> {
    let slots = abi::lay_out(board, spec, args)?;
    let dir = tempfile::tempdir().map_err(|e| CliError::io("cannot make a temporary folder", e))?;
    // The firmware names the extension after the file.
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let file = if plain { name } else { "extension" };
    let path = dir.path().join(format!("{file}.o"));
    std::fs::write(&path, object)
        .map_err(|e| CliError::io(format!("cannot write {}", path.display()), e))?;
    let request = request(&path.to_string_lossy(), &spec.name, &slots)?;

    let qemu = qemu::find(board)?;
    let firmware = qemu::build_firmware(board)?;
    let run = qemu::run(&qemu, board, &firmware, &request, TIMEOUT)?;
    // What the extension printed (and QEMU's own complaints) goes through.
    for line in run.stdout.lines().filter(|l| !is_firmware_line(l)) {
        println!("{line}");
    }
    eprint!("{}", run.stderr);
    outcome(board, spec, run.status, &run.stdout)
}

/// The firmware's command line for the call: `run <path, hex> <symbol> w<hex>|s<hex>...`.
fn request(path: &str, symbol: &str, slots: &[Slot]) -> Result<Vec<String>, CliError> {
    let mut request = vec!["run".to_string(), hex(path.as_bytes()), symbol.to_string()];
    let mut string_bytes = 0;
    for slot in slots {
        request.push(match slot {
            Slot::Word(w) => format!("w{w:x}"),
            Slot::Str(s) => {
                string_bytes += s.len() + 1;
                format!("s{}", hex(s))
            }
        });
    }
    let length = request.iter().map(|a| a.len() + 1).sum::<usize>();
    if string_bytes > MAX_STRING_BYTES || length > MAX_REQUEST {
        return Err(CliError::Usage(format!(
            "the call's arguments are too long for the firmware ({length} of {MAX_REQUEST} characters on its command line, strings hex-encoded; {string_bytes} of {MAX_STRING_BYTES} bytes of strings): pass shorter strings"
        )));
    }
    Ok(request)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Lines that are the firmware's own (its banner, the result, errors and fault reports), not
/// the extension's output.
fn is_firmware_line(line: &str) -> bool {
    line.starts_with("elfext-firmware:")
        || line.starts_with("elfext-run:")
        || line.starts_with("fault:")
}

/// The call's result, from how the firmware ended and what it printed.
fn outcome(
    board: Board,
    spec: &CallSpec,
    status: Option<i32>,
    output: &str,
) -> Result<String, CliError> {
    let said = |prefix: &str| {
        output
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let last_line = || {
        output
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no output")
            .trim()
    };
    match status {
        None => Err(CliError::Target(format!(
            "calling `{}` on {board} did not finish within {} s; QEMU was stopped (an endless loop in the extension?)",
            spec.name,
            TIMEOUT.as_secs()
        ))),
        Some(0) => {
            let pair = said("elfext-run: ret=")
                .and_then(|r| r.strip_prefix("0x"))
                .and_then(|r| u64::from_str_radix(r, 16).ok())
                .ok_or_else(|| {
                    CliError::Target(format!(
                        "the firmware on {board} exited without a result: {}",
                        last_line()
                    ))
                })?;
            let (int_bits, float_bits) = abi::result_bits(spec.ret, pair);
            Ok(format_return(spec.ret, int_bits, float_bits))
        }
        Some(FAULT) => {
            let report: Vec<&str> = output
                .lines()
                .filter_map(|l| l.strip_prefix("fault: "))
                .collect();
            let report = if report.is_empty() {
                last_line().to_string()
            } else {
                report.join("; ")
            };
            Err(CliError::Target(format!(
                "the extension faulted on {board}: {report}"
            )))
        }
        Some(LOAD_FAILED) => Err(CliError::Failed(format!(
            "on {board}: {}",
            said("elfext-run: error:").unwrap_or_else(last_line)
        ))),
        Some(BAD_REQUEST) if said("elfext-run: bad request:").is_some() => {
            Err(CliError::Target(format!(
                "the firmware on {board} refused the request: {}",
                said("elfext-run: bad request:").unwrap_or_default()
            )))
        }
        Some(other) => Err(CliError::Target(format!(
            "the firmware on {board} failed (exit status {other}): {}",
            last_line()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::parse_spec;

    #[test]
    fn requests_hex_encode_paths_and_strings() {
        let r = request(
            "/tmp/a b,c/extension.o",
            "f",
            &[Slot::Word(0xffff_fffe), Slot::Str(b"a, b".to_vec())],
        )
        .unwrap();
        assert_eq!(
            r,
            [
                "run",
                "2f746d702f6120622c632f657874656e73696f6e2e6f",
                "f",
                "wfffffffe",
                "s612c2062"
            ]
        );
        assert!(r.iter().all(|a| !a.contains([' ', ','])));
        let long = vec![Slot::Str(vec![b'x'; 1500]); 2];
        let e = request("/tmp/x.o", "f", &long).unwrap_err();
        assert!(
            matches!(&e, CliError::Usage(m) if m.contains("too long")),
            "{e}"
        );
    }

    #[test]
    fn outcomes() {
        let spec = parse_spec("f(i32)->i8").unwrap();
        let banner = "elfext-firmware: board mps2-an386 | extension heap 1536 KiB\n";
        let ok = format!("{banner}  ext says: hi\nelfext-run: ret=0x00000001000000ff\n");
        assert_eq!(outcome(Board::CortexM4, &spec, Some(0), &ok).unwrap(), "-1");

        let fault = format!("{banner}fault: bus fault at address 0xf0000000 (outside the extension's memory)\nfault: instruction at 0x0\n");
        let e = outcome(Board::CortexM4, &spec, Some(3), &fault).unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert_eq!(
            e.to_string(),
            "the extension faulted on cortex-m4: bus fault at address 0xf0000000 (outside the extension's memory); instruction at 0x0"
        );

        let missing = format!("{banner}elfext-run: error: no symbol `g` in `extension`\n");
        let e = outcome(Board::Rv32, &spec, Some(2), &missing).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert_eq!(e.to_string(), "on rv32: no symbol `g` in `extension`");

        let e = outcome(Board::Rv32, &spec, None, banner).unwrap_err();
        assert!(e.to_string().contains("did not finish"), "{e}");
        assert_eq!(e.exit_code(), 4);

        let e = outcome(Board::Rv32, &spec, Some(0), banner).unwrap_err();
        assert!(e.to_string().contains("without a result"), "{e}");
        let e = outcome(Board::Rv32, &spec, Some(101), "panicked at x\n").unwrap_err();
        assert!(e.to_string().contains("status 101): panicked at x"), "{e}");
    }

    #[test]
    fn firmware_lines_are_not_passed_through() {
        assert!(is_firmware_line("elfext-run: ret=0x0"));
        assert!(is_firmware_line("fault: bus fault"));
        assert!(!is_firmware_line("  ext says: hi"));
    }
}
