//! `elfext run --target`: `tests/run_target_data/calls.c` compiled with the boards' cross
//! compilers (the firmware's flags for its extensions), streamed to the firmware on QEMU
//! (Cortex-M4 `mps2-an386`, RV32 `virt`) and called there: integer, 64-bit and soft-float
//! arguments and results, strings, a missing symbol, a fault, and a call that does not fit
//! the argument registers.
//!
//! Needs QEMU (`scripts/qemu.sh`) and the firmware's toolchains (the Rust targets, the cross
//! gcc, picolibc). Without QEMU each test says so and passes, unless `ELFEXT_REQUIRE_QEMU`
//! is set (the test script sets it), where a missing QEMU is a failure. The firmware is
//! built once per board into `target/firmware` (shared with the firmware tests).

#[path = "data/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Instant;

use elfext_testkit::qemu::{self, Board};
use support::compile_c;

const ELFEXT: &str = env!("CARGO_BIN_EXE_elfext");

/// The cross compiler and flags the firmware's `build.rs` uses for its extensions.
fn compiler(board: Board) -> (&'static str, &'static [&'static str]) {
    match board {
        Board::CortexM4 => (
            "arm-none-eabi-gcc",
            &["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"],
        ),
        Board::Rv32 => (
            "riscv64-unknown-elf-gcc",
            &["-march=rv32imac", "-mabi=ilp32"],
        ),
    }
}

/// `calls.c` compiled for `board`, once per test binary; `None` (skip) without QEMU when
/// QEMU is not required.
fn object(board: Board) -> Option<PathBuf> {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    static BUILT: [OnceLock<PathBuf>; 2] = [OnceLock::new(), OnceLock::new()];
    if qemu::find(board).is_none() {
        assert!(
            std::env::var_os("ELFEXT_REQUIRE_QEMU").is_none(),
            "QEMU for {} is missing: run scripts/qemu.sh",
            board.name()
        );
        println!(
            "skipped: no QEMU for {} (scripts/qemu.sh fetches it)",
            board.name()
        );
        return None;
    }
    let dir = DIR.get_or_init(|| tempfile::tempdir().expect("temporary folder"));
    let slot = &BUILT[Board::ALL.iter().position(|b| *b == board).unwrap()];
    Some(slot.get_or_init(|| compile(dir.path(), board)).clone())
}

fn compile(dir: &Path, board: Board) -> PathBuf {
    let (cc, flags) = compiler(board);
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/run_target_data/calls.c");
    let out = dir.join(format!("calls-{}.o", board.name()));
    let mut args = flags.to_vec();
    args.extend([
        "-O2",
        "-ffunction-sections",
        "-fdata-sections",
        "-Wall",
        "-Werror",
        "-c",
    ]);
    compile_c(cc, &args, &src, &out);
    out
}

fn run(board: Board, object: &Path, signature: &str, args: &[&str]) -> Output {
    let start = Instant::now();
    let out = Command::new(ELFEXT)
        .args(["run", "--target", board.name()])
        .arg(object)
        .args(["--call", signature])
        .args(args)
        .output()
        .expect("run elfext");
    println!(
        "{} {signature} {args:?}: {:?} in {:.2} s\n  stdout: {}  stderr: {}",
        board.name(),
        out.status.code(),
        start.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Call and return stdout's last line, expecting success.
fn call(board: Board, object: &Path, signature: &str, args: &[&str]) -> String {
    let out = run(board, object, signature, args);
    assert!(
        out.status.success(),
        "{} {signature}: {:?}: {}",
        board.name(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// Expect exit code `code` and one error line on stderr containing every `needle`.
fn fails(board: Board, object: &Path, signature: &str, args: &[&str], code: i32, needles: &[&str]) {
    let out = run(board, object, signature, args);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{} {signature}",
        board.name()
    );
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.starts_with("elfext: error:"))
        .unwrap_or_else(|| panic!("{} {signature}: no error line in {err:?}", board.name()));
    for n in needles {
        assert!(
            line.contains(n),
            "{} {signature}: {line:?} lacks {n:?}",
            board.name()
        );
    }
}

fn calls(board: Board) {
    let Some(obj) = object(board) else { return };
    let obj = obj.as_path();
    assert_eq!(call(board, obj, "add(i32,i32)->i32", &["2", "3"]), "5");
    assert_eq!(call(board, obj, "add(i32,i32)->i32", &["-7", "0x3"]), "-4");
    // i8 arguments are sign-extended, i8 results read from the low byte only.
    assert_eq!(call(board, obj, "widen(i8)->i32", &["-128"]), "-128");
    assert_eq!(call(board, obj, "narrow(i32)->i8", &["0x1ff"]), "-1");
    assert_eq!(call(board, obj, "narrow(i32)->u8", &["0x1ff"]), "255");
    // 64-bit integers: after an i32 (register pair alignment on Cortex-M), and division
    // through the firmware's run-time helpers.
    let b: i64 = -10_000_000_000;
    assert_eq!(
        call(board, obj, "mix(i32,i64)->i64", &["3", &b.to_string()]),
        (3 * b + 7).to_string()
    );
    assert_eq!(
        call(board, obj, "ratio(i64,i64)->i64", &["100000000000", "-3"]),
        (100_000_000_000i64 / -3).to_string()
    );
    // Soft float.
    assert_eq!(
        call(board, obj, "muladd(f64,f64)->f64", &["1.5", "-2"]),
        format!("{:?}", 1.5f64 * -2.0 + 0.1)
    );
    assert_eq!(
        call(board, obj, "scale(f32,f32)->f32", &["1", "3"]),
        format!("{:?}", 1f32 / 3.0)
    );
    // Strings are copied into the board's RAM; blanks and commas survive the trip.
    assert_eq!(
        call(board, obj, "lengths(str,str)->i32", &["hello", "a b,c"]),
        "505"
    );
}

fn errors(board: Board) {
    let Some(obj) = object(board) else { return };
    let obj = obj.as_path();
    fails(
        board,
        obj,
        "nosuch(i32)->i32",
        &["1"],
        1,
        // The extension is named after its file on the board too.
        &[board.name(), "nosuch", &format!("calls-{}", board.name())],
    );
    let unmapped = match board {
        Board::CortexM4 => "0xf0000001",
        Board::Rv32 => "0xf0000000",
    };
    fails(
        board,
        obj,
        "jump(ptr)->i32",
        &[unmapped],
        4,
        &[
            &format!("the extension faulted on {}:", board.name()),
            "0xf0000000",
        ],
    );
}

#[test]
fn cortex_m4_calls() {
    calls(Board::CortexM4);
}

#[test]
fn rv32_calls() {
    calls(Board::Rv32);
}

#[test]
fn cortex_m4_errors() {
    errors(Board::CortexM4);
}

#[test]
fn rv32_errors() {
    errors(Board::Rv32);
}

/// Arguments that would need the stack are refused before QEMU is even looked for (so this
/// runs without QEMU).
#[test]
fn arguments_beyond_the_registers_are_refused() {
    let dir = tempfile::tempdir().expect("temporary folder");
    let obj = compile(dir.path(), Board::CortexM4);
    // r0, then the i64 in r2:r3: no register left for the third argument.
    fails(
        Board::CortexM4,
        &obj,
        "mix(i32,i64,i32)->i64",
        &["1", "2", "3"],
        2,
        &["argument 3", "r0-r3"],
    );
    // The same call fits RV32's a0-a3; an i64 that ilp32 would split between a7 and the
    // stack does not.
    let obj = compile(dir.path(), Board::Rv32);
    fails(
        Board::Rv32,
        &obj,
        "mix(i32,i32,i32,i32,i32,i32,i32,i64)->i64",
        &["0", "0", "0", "0", "0", "0", "0", "1"],
        2,
        &["argument 8", "a0-a7"],
    );
}
