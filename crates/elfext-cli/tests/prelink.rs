//! `elfext prelink` end to end: C compiled with gcc (and arm-none-eabi-gcc when installed)
//! into a temporary directory, prelinked by the built binary for fixed addresses, and the
//! x86-64 images run with `elfext run IMAGE` (text mapped at its address, data and BSS in
//! RAM at theirs, constructors run).
#![cfg(all(unix, target_arch = "x86_64"))]

#[path = "data/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{compile_c, elfext, one_line_error, succeeded};

/// A self-contained extension: data, read-only data, BSS, a constructor.
const COUNTER_C: &str = r#"
int counter = 5;
static const int table[4] = { 1, 2, 3, 4 };
int zeros[64];
static int initialized;

__attribute__((constructor)) static void init(void) { initialized = 100; }

int add(int a, int b) { return a + b; }
int bump(void) { return ++counter; }
int sum_table(void) { int s = 0; for (int i = 0; i < 4; i++) s += table[i]; return s; }
int zeros_sum(void) { int s = 0; for (int i = 0; i < 64; i++) s += zeros[i]; return s; }
int get_initialized(void) { return initialized; }
long scale(long x) { return x * 3; }
"#;

/// An extension that needs a firmware function.
const USER_C: &str = r#"
extern int firmware_add(int, int);
int twice(int x) { return firmware_add(x, x); }
"#;

/// A temporary directory with `name.c` compiled by `cc` with `flags` into `name.o`.
fn compile(dir: &Path, cc: &str, name: &str, source: &str, flags: &[&str]) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    std::fs::write(&src, source).unwrap();
    let out = dir.join(format!("{name}.o"));
    let mut args = vec!["-c", "-O2", "-Wall", "-fno-asynchronous-unwind-tables"];
    args.extend_from_slice(flags);
    compile_c(cc, &args, &src, &out);
    out
}

/// Expect success and return stdout.
fn ok(args: &[&str]) -> String {
    succeeded(&elfext(args), &format!("{args:?}"))
}

/// Expect exit code `code` and one error line on stderr containing `needle`.
fn fails(args: &[&str], code: i32, needle: &str) -> String {
    let err = one_line_error(&elfext(args), code);
    assert!(err.contains(needle), "{args:?}: {err:?} lacks {needle:?}");
    err
}

/// `prelink --text TEXT --data DATA`, then `rest`: options, inputs, `-o` and the output.
fn prelink<'a>(text: &'a str, data: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["prelink", "--text", text, "--data", data];
    args.extend_from_slice(rest);
    args
}

/// `run IMAGE --call add(i32,i32)->i32 1 2`.
fn run_add(img: &str) -> [&str; 6] {
    ["run", img, "--call", "add(i32,i32)->i32", "1", "2"]
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Distinct addresses per test: tests run in parallel, but each `elfext run` is a process
/// of its own, so only the addresses of one process matter.
const TEXT: &str = "0x7e000000";
const DATA: &str = "0x7e400000";

#[test]
fn a_prelinked_image_runs_natively_from_its_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let obj = compile(dir.path(), "gcc", "counter", COUNTER_C, &["-fPIC"]);
    let img = dir.path().join("counter.img");
    let out = ok(&prelink(TEXT, DATA, &[s(&obj), "-o", s(&img)]));
    assert!(out.contains("for x86_64"), "{out}");
    assert!(out.contains("text   0x7e000000"), "{out}");
    assert!(out.contains("data   0x7e400000"), "{out}");
    assert!(out.contains("init/fini tables 0/1/0"), "{out}");
    assert!(out.contains("exports: 8"), "{out}");
    assert!(
        out.contains("  add\n") && out.contains("  counter\n"),
        "{out}"
    );
    let bytes = std::fs::read(&img).unwrap();
    assert_eq!(&bytes[..8], b"ELFXIMAG");

    let call = |sig: &str, args: &[&str]| {
        let mut all = vec!["run", s(&img), "--call", sig];
        all.extend_from_slice(args);
        ok(&all).lines().last().unwrap_or("").to_string()
    };
    assert_eq!(call("add(i32,i32)->i32", &["2", "3"]), "5");
    assert_eq!(call("add(i32,i32)->i32", &["-7", "3"]), "-4");
    assert_eq!(call("bump()->i32", &[]), "6", "DATA copied from the image");
    assert_eq!(call("sum_table()->i32", &[]), "10", "RODATA in place");
    assert_eq!(call("zeros_sum()->i32", &[]), "0", "BSS zeroed");
    assert_eq!(
        call("get_initialized()->i32", &[]),
        "100",
        "constructor ran"
    );
    assert_eq!(call("scale(i64)->i64", &["-5"]), "-15");

    // Data is not a function; a missing function is named.
    fails(
        &["run", s(&img), "--call", "counter()->i32"],
        1,
        "is data, not a function",
    );
    fails(&["run", s(&img), "--call", "nothing()->i32"], 1, "nothing");
    // Boards run objects, not images.
    fails(
        &[
            "run",
            "--target",
            "cortex-m4",
            s(&img),
            "--call",
            "add(i32,i32)->i32",
            "1",
            "2",
        ],
        2,
        "is an image",
    );
}

#[test]
fn an_image_whose_addresses_are_taken_or_damaged_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let obj = compile(dir.path(), "gcc", "counter", COUNTER_C, &["-fPIC"]);
    // Beyond the user address space of x86-64 Linux (47 bits).
    let low = dir.path().join("low.img");
    ok(&prelink(
        "0x900000000000",
        "0x900000400000",
        &[s(&obj), "-o", s(&low)],
    ));
    fails(&run_add(s(&low)), 1, "cannot be mapped at its address");
    // A flipped bit.
    let good = dir.path().join("good.img");
    ok(&prelink(TEXT, DATA, &[s(&obj), "-o", s(&good)]));
    let mut bytes = std::fs::read(&good).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 4;
    let bad = dir.path().join("bad.img");
    std::fs::write(&bad, &bytes).unwrap();
    fails(&run_add(s(&bad)), 1, "checksum");
    // Truncated.
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).unwrap();
    fails(&run_add(s(&bad)), 1, "truncated");
}

#[test]
fn prelink_refuses_what_cannot_link_for_those_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let counter = compile(dir.path(), "gcc", "counter", COUNTER_C, &["-fPIC"]);
    let user = compile(dir.path(), "gcc", "user", USER_C, &["-fPIC"]);
    let img = dir.path().join("x.img");
    let img = s(&img);
    // Overlapping text and data.
    fails(
        &prelink(TEXT, "0x7e000040", &[s(&counter), "-o", img]),
        1,
        "overlap",
    );
    // Text not aligned for its sections.
    fails(
        &prelink("0x7e000001", DATA, &[s(&counter), "-o", img]),
        1,
        "is not a multiple of",
    );
    // A firmware symbol without exports, then in a list without an address.
    fails(
        &prelink(TEXT, DATA, &[s(&user), "-o", img]),
        1,
        "firmware_add",
    );
    let names = dir.path().join("exports.txt");
    std::fs::write(&names, "# firmware\nfirmware_add\n").unwrap();
    fails(
        &prelink(TEXT, DATA, &["--exports", s(&names), s(&user), "-o", img]),
        2,
        "has no address",
    );
    // With the address, it links; the call to the firmware is out of reach of a direct
    // call and goes through a veneer in TEXT.
    std::fs::write(&names, "firmware_add = 0x7f0000001000\n").unwrap();
    let out = ok(&prelink(
        TEXT,
        DATA,
        &["--exports", s(&names), s(&user), "-o", img],
    ));
    assert!(
        out.contains("exports: 1") && out.contains("  twice\n"),
        "{out}"
    );
    assert!(
        out.contains("imports: 1") && out.contains("0x7f0000001000  firmware_add"),
        "{out}"
    );
    // This process's exports (the C library) have no `firmware_add` there.
    fails(
        &["run", img, "--call", "twice(i32)->i32", "2"],
        1,
        "prelinked against `firmware_add` at 0x7f0000001000",
    );
    // The wrong architecture for the object.
    fails(
        &prelink(
            TEXT,
            DATA,
            &["--target-arch", "arm", s(&counter), "-o", img],
        ),
        1,
        "machine",
    );
    // Not a number: clap's usage error.
    let o = elfext(&prelink("flash", DATA, &[s(&counter), "-o", img]));
    assert_eq!(o.status.code(), Some(2));
    assert!(support::stderr(&o).contains("`flash` is not a number"));
}

#[test]
fn arm_thumb_extensions_prelink_for_flash_and_sram() {
    let cc = "arm-none-eabi-gcc";
    if !Command::new(cc)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!("skipped: {cc} not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let flags = ["-mcpu=cortex-m4", "-mthumb"];
    let user = compile(dir.path(), cc, "user", USER_C, &flags);
    let counter = compile(dir.path(), cc, "counter", COUNTER_C, &flags);
    let names = dir.path().join("exports.txt");
    std::fs::write(&names, "firmware_add = 0x00000401\n").unwrap();
    let img = dir.path().join("user.img");
    let out = ok(&prelink(
        "0x08040000",
        "0x20010000",
        &["--exports", s(&names), s(&user), s(&counter), "-o", s(&img)],
    ));
    assert!(out.contains("for arm"), "{out}");
    assert!(out.contains("text   0x08040000"), "{out}");
    assert!(out.contains("exports: 9"), "{out}");
    // An ARM image does not run on this host.
    fails(&run_add(s(&img)), 1, "prelinked for arm");
}
