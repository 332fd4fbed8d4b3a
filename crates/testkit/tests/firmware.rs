//! The firmware under QEMU: on a Cortex-M4 (`mps2-an386`) and an RV32 (`virt`) board it
//! loads every test extension from flash, RAM and a host file, checks the results itself,
//! unloads them and checks its heaps; these tests fail on any failed check, on a wrong exit
//! status and on a hang. The fault runs must end with a clear report, not a hang.
//!
//! Needs the cross C toolchains, picolibc and QEMU (`scripts/test.sh` installs them). When
//! one is missing the test says so and passes, unless `ELFEXT_REQUIRE_QEMU` is set (the test
//! script sets it), where a missing tool is a failure.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use elfext_testkit::qemu::{self, Board, Qemu, Run};

/// Long enough for a slow machine; a run takes well under a second of host time.
const TIMEOUT: Duration = Duration::from_secs(120);

/// QEMU and the firmware for `board`, built once per test binary; `None` (skip) when a
/// tool is missing and the tools are not required.
fn setup(board: Board) -> Option<(Qemu, PathBuf)> {
    static BUILT: [OnceLock<Result<PathBuf, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    let required = std::env::var_os("ELFEXT_REQUIRE_QEMU").is_some();
    let Some(qemu) = qemu::find(board) else {
        assert!(
            !required,
            "QEMU for {} is missing: run scripts/qemu.sh",
            board.name()
        );
        println!(
            "skipped: no QEMU for {} (scripts/qemu.sh fetches it)",
            board.name()
        );
        return None;
    };
    let slot = &BUILT[Board::ALL.iter().position(|b| *b == board).unwrap()];
    match slot.get_or_init(|| qemu::build_firmware(board)) {
        Ok(fw) => Some((qemu, fw.clone())),
        Err(e) if !required && e.contains("cannot run") => {
            println!("skipped: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn checks_all_pass(board: Board) {
    let Some((qemu, fw)) = setup(board) else {
        return;
    };
    let run = qemu.run(board, &fw, &[], TIMEOUT);
    println!("{}", run.output);
    assert!(run.status.is_some(), "{}: the firmware hung", board.name());
    assert!(
        run.failures().is_empty(),
        "{}: failed checks:\n{}",
        board.name(),
        run.failures().join("\n")
    );
    let (passed, failed) = run
        .summary()
        .unwrap_or_else(|| panic!("{}: no closing line", board.name()));
    assert_eq!(failed, 0);
    assert!(passed >= 200, "{}: only {passed} checks ran", board.name());
    assert_eq!(run.status, Some(0), "{}: exit status", board.name());
    // A row per extension and storage type: 10 extensions, 3 storage types, plus the header.
    assert!(
        run.table().len() >= 32,
        "{}: the table is short",
        board.name()
    );
}

fn fault(board: Board, mode: &str, expect: &[&str]) -> Run {
    let (qemu, fw) = setup(board).expect("checked by the caller");
    let run = qemu.run(board, &fw, &[mode], TIMEOUT);
    println!("{}", run.output);
    assert!(
        run.status.is_some(),
        "{} {mode}: the firmware hung",
        board.name()
    );
    assert_eq!(run.status, Some(3), "{} {mode}: exit status", board.name());
    for e in expect {
        assert!(
            run.output.contains(e),
            "{} {mode}: the report does not say {e:?}",
            board.name()
        );
    }
    run
}

fn faults_are_reported(board: Board) {
    if setup(board).is_none() {
        return;
    }
    fault(
        board,
        "fault-text",
        &[
            "write to read-only memory",
            "inside the extension's object in flash",
            "instruction at 0x",
            "inside the extension's block",
        ],
    );
    let run = fault(
        board,
        "fault-call",
        &["outside the extension's memory", "0xf0000000"],
    );
    // The return address places the caller inside the extension (`fault_call` has no
    // relocations, so under a persistent loader it runs in place from flash).
    assert!(
        run.output.lines().any(|l| l.contains("return address 0x")
            && l.ends_with(
                "(inside the extension's object in flash (its in-place, read-only text))"
            )),
        "{}: the caller is not named",
        board.name()
    );
}

#[test]
fn cortex_m4_runs_every_extension() {
    checks_all_pass(Board::CortexM4);
}

#[test]
fn rv32_runs_every_extension() {
    checks_all_pass(Board::Rv32);
}

#[test]
fn cortex_m4_reports_faults() {
    faults_are_reported(Board::CortexM4);
}

#[test]
fn rv32_reports_faults() {
    faults_are_reported(Board::Rv32);
}
