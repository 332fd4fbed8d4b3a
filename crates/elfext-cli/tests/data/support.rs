//! Shared by the end-to-end tests of the `elfext` command: compile C sources (those of
//! `tests/data` and `tests/run_data`, or a test's own) with the real compilers into a
//! temporary directory, run the built `elfext` binary and check what it answers.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A compiler and the flags for one target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cc {
    /// The host's gcc: x86-64.
    Host,
    /// arm-none-eabi-gcc for Cortex-M4 (Thumb-2).
    Arm,
    /// riscv64-unknown-elf-gcc for RV32IMAC.
    Rv32,
}

pub const ALL: [Cc; 3] = [Cc::Host, Cc::Arm, Cc::Rv32];

impl Cc {
    fn command(self) -> &'static str {
        match self {
            Cc::Host => "gcc",
            Cc::Arm => "arm-none-eabi-gcc",
            Cc::Rv32 => "riscv64-unknown-elf-gcc",
        }
    }
    fn flags(self) -> &'static [&'static str] {
        match self {
            Cc::Host => &["-fPIC"],
            Cc::Arm => &["-mcpu=cortex-m4", "-mthumb"],
            Cc::Rv32 => &["-march=rv32imac", "-mabi=ilp32"],
        }
    }
    /// The architecture `elfext inspect --json` names.
    pub fn arch(self) -> &'static str {
        match self {
            Cc::Host => "x86_64",
            Cc::Arm => "arm",
            Cc::Rv32 => "riscv32",
        }
    }
    /// The library's architecture.
    pub fn lib_arch(self) -> elfext::Arch {
        match self {
            Cc::Host => elfext::Arch::X86_64,
            Cc::Arm => elfext::Arch::Arm,
            Cc::Rv32 => elfext::Arch::Riscv32,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Cc::Host => "x86",
            Cc::Arm => "arm",
            Cc::Rv32 => "rv32",
        }
    }
}

/// `tests/data/<name>`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// Compile `src` into `out` with the C compiler `cc` and `args`; a failure shows its
/// stderr.
pub fn compile_c(cc: &str, args: &[&str], src: &Path, out: &Path) {
    let o = Command::new(cc)
        .args(args)
        .arg(src)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cc} (install it): {e}"));
    assert!(
        o.status.success(),
        "{cc} failed on {}:\n{}",
        src.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Compile `tests/run_data/<name>.c` with the host's gcc into `<dir>/<name>.o`.
pub fn run_data(dir: &Path, name: &str, flags: &[&str]) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/run_data")
        .join(format!("{name}.c"));
    let out = dir.join(format!("{name}.o"));
    let mut args = vec!["-c", "-O2", "-Wall", "-Werror"];
    args.extend_from_slice(flags);
    compile_c("gcc", &args, &src, &out);
    out
}

/// Run `cc` with its target's flags and `args` on `tests/data/<source>`, into `out`.
fn run_cc(cc: Cc, args: &[&str], source: &str, out: &Path) {
    let mut all = cc.flags().to_vec();
    all.extend_from_slice(args);
    compile_c(cc.command(), &all, &data(source), out);
}

/// Compile `tests/data/<source>` into a relocatable object in `dir`, named
/// `<stem>_<target>.o`.
pub fn object(cc: Cc, source: &str, dir: &Path, extra: &[&str]) -> PathBuf {
    let stem = Path::new(source).file_stem().unwrap().to_str().unwrap();
    let out = dir.join(format!("{stem}_{}.o", cc.label()));
    let mut args = vec![
        "-c",
        "-O2",
        "-fno-asynchronous-unwind-tables",
        "-fno-stack-protector",
    ];
    args.extend_from_slice(extra);
    run_cc(cc, &args, source, &out);
    out
}

/// Link `tests/data/<source>` into a bare executable (a firmware) in `dir`.
pub fn firmware(cc: Cc, source: &str, dir: &Path, extra: &[&str]) -> PathBuf {
    let stem = Path::new(source).file_stem().unwrap().to_str().unwrap();
    let out = dir.join(format!("{stem}_{}{}.elf", cc.label(), extra.join("")));
    let mut args = vec![
        "-O2",
        "-nostdlib",
        "-static",
        "-ffreestanding",
        "-fno-stack-protector",
    ];
    if cc == Cc::Host {
        args.push("-no-pie");
    }
    args.extend_from_slice(extra);
    run_cc(cc, &args, source, &out);
    out
}

/// Run the built `elfext` with `args`.
pub fn elfext<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_elfext"))
        .args(args)
        .env_remove("CC")
        .output()
        .expect("run the elfext binary")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

/// Assert that `o` succeeded (exit status 0); returns its stdout. `what` names the run in
/// the failure message, which shows both outputs.
#[track_caller]
pub fn succeeded(o: &Output, what: &str) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{what}: exit status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(o)
}

/// Assert that `o` failed with exit code `code` and exactly one line on stderr, an error of
/// elfext (never a panic); returns that line.
#[track_caller]
pub fn one_line_error(o: &Output, code: i32) -> String {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit status {:?}, stderr:\n{err}\nstdout:\n{}",
        o.status,
        stdout(o)
    );
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(err.lines().count(), 1, "not one line: {err:?}");
    assert!(err.starts_with("elfext: error: "), "{err}");
    err
}

/// Malformed variants of the object at `path`, written next to it: truncated at several
/// lengths, not ELF at all, the other ELF class, an empty file. Returns (label, path).
pub fn malformed_variants(path: &Path) -> Vec<(String, PathBuf)> {
    let bytes = std::fs::read(path).unwrap();
    let dir = path.parent().unwrap();
    let mut out = Vec::new();
    let mut put = |label: &str, b: &[u8]| {
        let p = dir.join(format!(
            "{}_{label}.o",
            path.file_stem().unwrap().to_str().unwrap()
        ));
        std::fs::write(&p, b).unwrap();
        out.push((label.to_string(), p));
    };
    for cut in [
        0usize,
        3,
        16,
        40,
        63,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        put(&format!("truncated{cut}"), &bytes[..cut]);
    }
    put("text", b"int main(void) { return 0; }\n");
    let mut class = bytes.clone();
    class[4] = if class[4] == 1 { 2 } else { 1 };
    put("wrong_class", &class);
    let mut big = bytes.clone();
    big[5] = 2;
    put("big_endian", &big);
    out
}

/// Copies of the object at `path` with one bit flipped, across its headers and tables;
/// each is (offset, bytes).
pub fn bit_flips(path: &Path, count: usize) -> Vec<(usize, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let step = (bytes.len() / count).max(1);
    let mut out = Vec::new();
    // Every byte of the ELF header, then a spread over the rest (tables live at the end).
    let offsets = (0..64.min(bytes.len())).chain((64..bytes.len()).step_by(step));
    for (n, at) in offsets.enumerate() {
        let mut b = bytes.clone();
        b[at] ^= 1 << (n % 8);
        out.push((at, b));
    }
    out
}
