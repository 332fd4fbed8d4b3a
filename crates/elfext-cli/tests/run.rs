//! `elfext run` end to end: C sources from `tests/run_data` compiled with gcc into a
//! temporary directory, loaded natively by the built binary, their functions called.
#![cfg(all(unix, any(target_arch = "x86_64", target_arch = "aarch64")))]

#[path = "data/support.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{one_line_error, run_data as compile, stderr, stdout, succeeded};

/// `elfext run` with `args`.
fn run(args: &[&str]) -> Output {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    support::elfext(&all)
}

/// Call `signature` with `args` on `object`, expect success, and return stdout's last line.
fn call(object: &Path, signature: &str, args: &[&str]) -> String {
    let mut all = vec![object.to_str().unwrap(), "--call", signature];
    all.extend_from_slice(args);
    let out = succeeded(&run(&all), &format!("{signature} {args:?}"));
    assert!(out.ends_with('\n'), "{signature}: {out:?}");
    out.lines().last().unwrap_or("").to_string()
}

/// Call `signature` with `args` on `object`; expect a failure with exit code `code`, one
/// error line on stderr containing `needle`, and nothing on stdout.
fn call_fails(object: &str, signature: &str, args: &[&str], code: i32, needle: &str) -> String {
    let mut all = vec![object, "--call", signature];
    all.extend_from_slice(args);
    let o = run(&all);
    let err = one_line_error(&o, code);
    assert!(err.contains(needle), "{all:?}: `{needle}` not in {err}");
    assert!(o.stdout.is_empty(), "{all:?}: {}", stdout(&o));
    err
}

struct Fixture {
    _dir: tempfile::TempDir,
    types: PathBuf,
}

fn types() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let types = compile(dir.path(), "types", &[]);
    Fixture { _dir: dir, types }
}

#[test]
fn integers_of_every_width() {
    let f = types();
    let o = &f.types;
    assert_eq!(call(o, "add(i32,i32)->i32", &["2", "3"]), "5");
    assert_eq!(call(o, "add(i32,i32)->i32", &["-7", "0x2"]), "-5");
    assert_eq!(
        call(o, "add(i32,i32)->i32", &["2147483647", "1"]),
        "-2147483648"
    );
    assert_eq!(
        call(o, "mul_i64(i64,i64)->i64", &["-3037000499", "3037000499"]),
        "-9223372030926249001"
    );
    assert_eq!(call(o, "neg_i8(i8)->i8", &["1"]), "-1");
    assert_eq!(call(o, "neg_i8(i8)->i8", &["-128"]), "-128");
    assert_eq!(call(o, "neg_i16(i16)->i16", &["300"]), "-300");
    assert_eq!(call(o, "add_u8(u8,u8)->u8", &["200", "100"]), "44");
    assert_eq!(call(o, "add_u16(u16,u16)->u16", &["0xffff", "2"]), "1");
    assert_eq!(call(o, "not_u32(u32)->u32", &["0"]), "4294967295");
    assert_eq!(
        call(o, "id_u64(u64)->u64", &["18446744073709551615"]),
        "18446744073709551615"
    );
    assert_eq!(call(o, "id_u64(u64)->i64", &["0xffffffffffffffff"]), "-1");
}

#[test]
fn narrow_arguments_are_extended() {
    let f = types();
    let o = &f.types;
    assert_eq!(call(o, "widen_i8(i8)->i64", &["-5"]), "-5");
    assert_eq!(call(o, "widen_i8(i8)->i64", &["127"]), "127");
    assert_eq!(call(o, "widen_i16(i16)->i64", &["-32768"]), "-32768");
    assert_eq!(call(o, "widen_u8(u8)->u64", &["255"]), "255");
}

#[test]
fn floats_at_full_precision() {
    let f = types();
    let o = &f.types;
    assert_eq!(call(o, "tenth_f32()->f32", &[]), "0.1");
    assert_eq!(call(o, "tiny_f32()->f32", &[]), "1e-7");
    assert_eq!(call(o, "third_f32(f32)->f32", &["1"]), "0.33333334");
    assert_eq!(
        call(o, "third_f64(f64)->f64", &["1.0"]),
        "0.3333333333333333"
    );
    assert_eq!(call(o, "scale(f64)->f64", &["0.5"]), "1.0");
    assert_eq!(call(o, "scale(f64)->f64", &["-1e300"]), "-2e300");
    assert_eq!(
        call(
            o,
            "mixed(i8,f32,u64,f64,i16)->f64",
            &["-3", "0.5", "10", "0.25", "-100"]
        ),
        "-92.25"
    );
    let ints = ["1", "2", "3", "4", "5", "6"];
    let floats = ["0.5", "1", "1", "1", "1", "1", "2", "0.125"];
    let args: Vec<&str> = ints.iter().chain(floats.iter()).copied().collect();
    // 91 from the integers; 0.5 + 2 + 3 + 4 + 5 + 6 + 14 + 1 from the floats.
    assert_eq!(
        call(
            o,
            "all_registers(i64,i64,i64,i64,i64,i64,f64,f64,f64,f64,f64,f64,f32,f64)->f64",
            &args
        ),
        "126.5"
    );
}

#[test]
fn strings_pointers_and_void() {
    let f = types();
    let o = &f.types;
    assert_eq!(call(o, "length(str)->u64", &["hello"]), "5");
    assert_eq!(call(o, "length(str)->u64", &[""]), "0");
    assert_eq!(call(o, "greeting()->str", &[]), "hello from C");
    assert_eq!(call(o, "nothing()->str", &[]), "(null)");
    assert_eq!(call(o, "ptr_value(ptr)->u64", &["0x1234"]), "4660");
    assert_eq!(call(o, "ptr_value(ptr)->u64", &["null"]), "0");
    assert_eq!(call(o, "make_ptr(u64)->ptr", &["3735928559"]), "0xdeadbeef");

    // A void function: its own output, then nothing more.
    let o = run(&[f.types.to_str().unwrap(), "--call", "bump(i32)", "41"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "counter is 41\n");
    let o = run(&[f.types.to_str().unwrap(), "--call", "bump(i32)->void", "1"]);
    assert_eq!(stdout(&o), "counter is 1\n");
}

#[test]
fn host_c_library_links() {
    let dir = tempfile::tempdir().unwrap();
    for flags in [&["-fPIC"][..], &["-fno-pic", "-O0"][..]] {
        let o = compile(dir.path(), "libc_user", flags);
        assert_eq!(
            call(&o, "c_strlen(str)->u64", &["elfext"]),
            "6",
            "{flags:?}"
        );
        let out = run(&[
            o.to_str().unwrap(),
            "--call",
            "sort_digits(i64)->i64",
            "31415926",
        ]);
        assert!(out.status.success(), "{flags:?}: {}", stderr(&out));
        // printf's output comes first, the return value alone on the last line.
        assert_eq!(
            stdout(&out),
            "sorted 8 digits: 11234569 (100.0%)\n11234569\n",
            "{flags:?}"
        );
    }
}

#[test]
fn archive_members_are_pulled_as_needed() {
    let dir = tempfile::tempdir().unwrap();
    let members: Vec<PathBuf> = ["pulled_main", "pulled_helper", "unpulled"]
        .iter()
        .map(|m| compile(dir.path(), m, &[]))
        .collect();
    let archive = dir.path().join("libfoo.a");
    let status = Command::new("ar")
        .arg("rcs")
        .arg(&archive)
        .args(&members)
        .status()
        .expect("ar must be installed");
    assert!(status.success());
    // `foo` is needed (it is called), `helper` because `foo` uses it; `unused` is left out,
    // or its undefined `not_defined_anywhere` would fail the link.
    assert_eq!(call(&archive, "foo(i32)->i32", &["4"]), "41");
    let err = call_fails(
        archive.to_str().unwrap(),
        "unused(i32)->i32",
        &["1"],
        1,
        "not_defined_anywhere",
    );
    assert!(err.contains("undefined"), "{err}");
}

#[test]
fn bad_signatures_and_arguments_are_usage_errors() {
    let f = types();
    let o = f.types.to_str().unwrap();
    call_fails(o, "add(i32,int)->i32", &["1", "2"], 2, "unknown type `int`");
    call_fails(o, "add(i32,i32", &["1", "2"], 2, "no `)`");
    call_fails(
        o,
        "add(i32,i32)->i32",
        &["1"],
        2,
        "takes 2 arguments, 1 given",
    );
    call_fails(o, "neg_i8(i8)->i8", &["300"], 2, "out of range for i8");
    call_fails(o, "widen_u8(u8)->u64", &["-1"], 2, "out of range for u8");
    call_fails(o, "scale(f64)->f64", &["half"], 2, "is not a number");
    call_fails(o, "ptr_value(ptr)->u64", &["here"], 2, "not an address");
    call_fails(
        o,
        "f(i32,i32,i32,i32,i32,i32,i32)",
        &["1", "2", "3", "4", "5", "6", "7"],
        2,
        "at most 6 integer",
    );
}

#[test]
fn missing_symbols_fail_naming_them() {
    let f = types();
    let o = f.types.to_str().unwrap();
    call_fails(
        o,
        "no_such_function(i32)->i32",
        &["1"],
        1,
        "no_such_function",
    );
    call_fails(o, "a_variable()->i32", &[], 1, "is data, not a function");

    let dir = tempfile::tempdir().unwrap();
    let m = compile(dir.path(), "missing", &[]);
    call_fails(
        m.to_str().unwrap(),
        "uses_missing(i32)->i32",
        &["1"],
        1,
        "no_such_host_function",
    );
}

#[test]
fn malformed_inputs_fail() {
    let f = types();
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(&f.types).unwrap();
    let garbage = dir.path().join("garbage.o");
    std::fs::write(&garbage, b"this is not an ELF file").unwrap();
    let truncated = dir.path().join("truncated.o");
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let missing = dir.path().join("absent.o");
    for path in [&garbage, &truncated, &missing] {
        call_fails(
            path.to_str().unwrap(),
            "add(i32,i32)->i32",
            &["1", "2"],
            1,
            path.file_stem().unwrap().to_str().unwrap(),
        );
    }
}

#[test]
fn a_crash_in_the_callee_is_one_line() {
    let f = types();
    let o = f.types.to_str().unwrap();
    call_fails(
        o,
        "read_through(ptr)->i32",
        &["null"],
        1,
        "the called function crashed: SIGSEGV",
    );
}
