//! Several inputs as one extension: objects and static archives combined by `Combiner` into
//! one relocatable object that loads and runs natively (x86-64), pulls exactly the archive
//! members GNU ld pulls, and, for Cortex-M4 and RV32, links to the same bytes as GNU ld
//! linking the original inputs (each input section placed where elfext placed its copy).
//! Duplicate definitions, mixed architectures and broken archives are errors, never panics.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use elfext::{Arch, BufLoader, Combined, Combiner, Error, Mismatch};
use elfext_testkit::oracle::{difference, fake_exports, link_elfext};
use object::read::elf::{FileHeader, SectionHeader};
use object::LittleEndian as LE;

// ---------------------------------------------------------------------------------------
// Building inputs.
// ---------------------------------------------------------------------------------------

/// A fresh scratch directory for one test.
fn scratch(test: &str) -> PathBuf {
    let base = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| elfext_testkit::repo_root().join("target"));
    let dir = base.join("combine-tests").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the scratch directory");
    dir
}

/// A C compiler (or assembler driver) and its flags.
#[derive(Clone, Copy)]
struct Cc {
    command: &'static str,
    flags: &'static [&'static str],
    ar: &'static str,
    ld: &'static str,
    /// `ld`'s emulation for these objects (`-m ...`), when not its default.
    emulation: &'static [&'static str],
}

const HOST_CC: Cc = Cc {
    command: "gcc",
    flags: &["-O2", "-fPIC"],
    ar: "ar",
    ld: "ld",
    emulation: &[],
};

/// Write `source` as `dir/name` and compile it to `dir/<stem>.o`.
fn compile(dir: &Path, cc: Cc, name: &str, source: &str) -> PathBuf {
    compile_with(dir, cc, name, source, &[])
}

fn compile_with(dir: &Path, cc: Cc, name: &str, source: &str, extra: &[&str]) -> PathBuf {
    let src = dir.join(name);
    std::fs::write(&src, source).expect("write the source");
    let obj = src.with_extension("o");
    let out = Command::new(cc.command)
        .arg("-c")
        .args(cc.flags)
        .args(extra)
        .arg(&src)
        .arg("-o")
        .arg(&obj)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", cc.command));
    assert!(
        out.status.success(),
        "{} {name} failed:\n{}",
        cc.command,
        String::from_utf8_lossy(&out.stderr)
    );
    obj
}

/// `ar rcs dir/lib members...` (with extra `ar` modifiers in `how`, e.g. `rcsT` for thin).
fn archive(dir: &Path, ar: &str, how: &str, lib: &str, members: &[&Path]) -> PathBuf {
    let path = dir.join(lib);
    let _ = std::fs::remove_file(&path);
    let out = Command::new(ar)
        .current_dir(dir)
        .arg(how)
        .arg(lib)
        .args(
            members
                .iter()
                .map(|m| m.file_name().expect("member file name")),
        )
        .output()
        .unwrap_or_else(|e| panic!("run {ar}: {e}"));
    assert!(
        out.status.success(),
        "{ar} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    path
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Combine files of `dir` (named as on a command line) with `need`ed symbols.
fn combine_files(dir: &Path, files: &[&str], need: &[&str]) -> elfext::Result<Combined> {
    let bytes: Vec<Vec<u8>> = files.iter().map(|f| read(&dir.join(f))).collect();
    let mut combiner = Combiner::new();
    for (name, b) in files.iter().zip(&bytes) {
        combiner.add(name, b)?;
    }
    for n in need {
        combiner.need(n);
    }
    combiner.combine()
}

/// The archive members GNU ld pulls for the same inputs (`ld -r -u need... --start-group
/// files... --end-group`), from its map file.
fn gnu_ld_members(dir: &Path, cc: Cc, files: &[&str], need: &[&str]) -> BTreeSet<String> {
    let ld = cc.ld;
    let mut cmd = Command::new(ld);
    cmd.current_dir(dir)
        .args(cc.emulation)
        .args(["-r", "-o", "gnu-ld-r.o", "-Map", "gnu-ld.map"]);
    for n in need {
        cmd.arg("-u").arg(n);
    }
    cmd.arg("--start-group").args(files).arg("--end-group");
    let out = cmd.output().unwrap_or_else(|e| panic!("run {ld}: {e}"));
    assert!(
        out.status.success(),
        "{ld} -r failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let map = std::fs::read_to_string(dir.join("gnu-ld.map")).expect("read the map");
    let mut members = BTreeSet::new();
    let mut lines = map.lines();
    if lines
        .next()
        .is_some_and(|l| l.starts_with("Archive member included"))
    {
        for line in lines {
            if line.starts_with("Memory Configuration") || line.starts_with("Discarded") {
                break;
            }
            if let Some(first) = line.split_whitespace().next() {
                if !line.starts_with(' ') && first.ends_with(')') {
                    members.insert(first.to_string());
                }
            }
        }
    }
    members
}

// ---------------------------------------------------------------------------------------
// Running natively.
// ---------------------------------------------------------------------------------------

/// Load `object`, call `entry(arg)` for each (entry, arg, expected), unload; the heap is
/// empty afterwards.
fn run(object: &[u8], calls: &[(&str, i32, i32)], ctx: &str) {
    let registry = registry();
    registry
        .load("combined", BufLoader::temporary(object))
        .unwrap_or_else(|e| panic!("{ctx}: load: {e}"));
    for &(entry, arg, want) in calls {
        // SAFETY: every entry point the tests call is `int f(int)`.
        let f = registry
            .with("combined", |e| unsafe {
                e.function::<extern "C" fn(i32) -> i32>(entry)
            })
            .expect("loaded")
            .unwrap_or_else(|e| panic!("{ctx}: {entry}: {e}"));
        assert_eq!(f(arg), want, "{ctx}: {entry}({arg})");
    }
    assert_eq!(registry.unload("combined"), Ok(0));
    assert_heap_empty(&registry, ctx);
}

/// Names of the global symbols of an ELF64 object with their section index (0: undefined,
/// 0xfff2: common).
fn globals(bytes: &[u8]) -> Vec<(String, u16)> {
    let header = object::elf::FileHeader64::<LE>::parse(bytes).expect("ELF64 header");
    let sections = header.sections(LE, bytes).expect("sections");
    let symbols = sections
        .symbols(LE, bytes, object::elf::SHT_SYMTAB)
        .expect("symbols");
    symbols
        .iter()
        .filter(|s| s.st_bind() != object::elf::STB_LOCAL)
        .map(|s| {
            (
                String::from_utf8_lossy(symbols.symbol_name(LE, s).expect("name")).into_owned(),
                s.st_shndx.get(LE).0,
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Sources.
// ---------------------------------------------------------------------------------------

const A_C: &str = r#"
int b_twice(int);
int shared_total;
int a_entry(int x) { shared_total += x; return b_twice(x) + 1; }
int a_helper(int x) { return x * 3; }
"#;

const B_C: &str = r#"
int a_helper(int);
extern int shared_total;
static int calls;
int b_twice(int x) { calls++; return a_helper(x) * 2 + shared_total - x; }
int b_calls(int unused) { (void)unused; return calls; }
"#;

/// An archive whose members depend on each other, listed so that a member's dependency
/// comes before it (a single forward pass would miss it), plus members nobody needs.
const MEMBERS: &[(&str, &str)] = &[
    ("m_f2.c", "int f2(int x) { return x * 2; }\n"),
    ("m_unused.c", "int unused_fn(int x) { return x - 1000; }\n"),
    (
        "m_f1.c",
        "int f2(int); int f3(int);\nint f1(int x) { return f2(x) + f3(x); }\n",
    ),
    (
        "m_refs_only.c",
        "int f1(int);\nint refs_only(int x) { return f1(x); }\n",
    ),
    ("m_f3.c", "int f3(int x) { return x + 3; }\n"),
    (
        "m_needed.c",
        "int f2(int);\nint needed_fn(int x) { return f2(x) + 7; }\n",
    ),
];

const MAIN_C: &str = "int f1(int);\nint entry(int x) { return f1(x) * 10; }\n";

fn build_library(dir: &Path, cc: Cc) -> PathBuf {
    let objs: Vec<PathBuf> = MEMBERS
        .iter()
        .map(|(name, src)| compile(dir, cc, name, src))
        .collect();
    let refs: Vec<&Path> = objs.iter().map(PathBuf::as_path).collect();
    archive(dir, cc.ar, "rcs", "libdeps.a", &refs)
}

// ---------------------------------------------------------------------------------------
// Native tests.
// ---------------------------------------------------------------------------------------

#[test]
fn two_objects_call_each_other() {
    let dir = scratch("two_objects");
    for flags in [
        &["-O0", "-fPIC"][..],
        &["-O2", "-fPIC"],
        &["-O0", "-fno-pic"],
        &["-O2", "-fno-pic"],
    ] {
        let cc = Cc { flags, ..HOST_CC };
        compile(&dir, cc, "a.c", A_C);
        compile(&dir, cc, "b.c", B_C);
        for order in [["a.o", "b.o"], ["b.o", "a.o"]] {
            let ctx = format!("{order:?} {flags:?}");
            let c = combine_files(&dir, &order, &[]).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert!(c.members.is_empty());
            // One definition of each global, no undefined one left but the common.
            let g = globals(&c.object);
            for name in ["a_entry", "a_helper", "b_twice", "b_calls"] {
                let defs: Vec<_> = g.iter().filter(|(n, _)| n == name).collect();
                assert_eq!(defs.len(), 1, "{ctx}: {name} once: {g:?}");
                assert_ne!(defs[0].1, 0, "{ctx}: {name} is defined: {g:?}");
            }
            // a_entry(5): total 5; b_twice = 15*2 + 5 - 5 = 30; + 1.
            run(&c.object, &[("a_entry", 5, 31), ("b_calls", 0, 1)], &ctx);
            // The sections of both inputs are all there, each with its origin.
            let inputs: BTreeSet<&str> = c.origins.iter().map(|o| o.input.as_str()).collect();
            assert_eq!(inputs, BTreeSet::from(["a.o", "b.o"]), "{ctx}");
        }
    }
}

#[test]
fn archive_members_pulled_are_exactly_those_gnu_ld_pulls() {
    let dir = scratch("archive_members");
    build_library(&dir, HOST_CC);
    compile(&dir, HOST_CC, "main.c", MAIN_C);
    let cases: &[(&[&str], &[&str])] = &[
        (&["main.o", "libdeps.a"], &[]),
        (&["libdeps.a", "main.o"], &[]),
        (&["main.o", "libdeps.a"], &["needed_fn"]),
        (&["libdeps.a"], &["needed_fn"]),
        (&["libdeps.a"], &["f3"]),
    ];
    for (files, need) in cases {
        let ctx = format!("{files:?} need {need:?}");
        let c = combine_files(&dir, files, need).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let ours: BTreeSet<String> = c.members.iter().cloned().collect();
        assert_eq!(ours.len(), c.members.len(), "{ctx}: pulled once each");
        let theirs = gnu_ld_members(&dir, HOST_CC, files, need);
        assert_eq!(ours, theirs, "{ctx}: the members GNU ld pulls");
        if files.contains(&"main.o") {
            // entry(4) = (f2(4) + f3(4)) * 10 = (8 + 7) * 10.
            let mut calls = vec![("entry", 4, 150)];
            if need.contains(&"needed_fn") {
                calls.push(("needed_fn", 4, 15));
            }
            run(&c.object, &calls, &ctx);
        } else if need.contains(&"needed_fn") {
            run(&c.object, &[("needed_fn", 1, 9)], &ctx);
        }
    }
    // An archive alone with nothing needed gives nothing to load: an error naming it.
    let err = combine_files(&dir, &["libdeps.a"], &[]).expect_err("nothing needed");
    assert!(err.to_string().contains("`libdeps.a`"), "{err}");
    // The first case spelled out: main needs f1; f1 needs f2 (listed before it) and f3.
    let c = combine_files(&dir, &["main.o", "libdeps.a"], &[]).expect("combine");
    assert_eq!(
        c.members,
        [
            "libdeps.a(m_f1.o)",
            "libdeps.a(m_f3.o)",
            "libdeps.a(m_f2.o)"
        ],
        "f3 follows f1 in the archive and comes in the same pass; f2 precedes it, the next"
    );
}

#[test]
fn archives_that_need_each_other_resolve_in_any_order() {
    let dir = scratch("mutual_archives");
    let x = compile(
        &dir,
        HOST_CC,
        "x.c",
        "int y(int);\nint x(int n) { return n <= 0 ? 0 : 1 + y(n - 1); }\n",
    );
    let y = compile(
        &dir,
        HOST_CC,
        "y.c",
        "int x(int);\nint y(int n) { return n <= 0 ? 0 : 100 + x(n - 1); }\n",
    );
    archive(&dir, "ar", "rcs", "libx.a", &[&x]);
    archive(&dir, "ar", "rcs", "liby.a", &[&y]);
    compile(
        &dir,
        HOST_CC,
        "use.c",
        "int y(int);\nint go(int n) { return y(n); }\n",
    );
    for files in [["use.o", "libx.a", "liby.a"], ["use.o", "liby.a", "libx.a"]] {
        let c = combine_files(&dir, &files, &[]).expect("combine");
        let ours: BTreeSet<String> = c.members.iter().cloned().collect();
        assert_eq!(
            ours,
            gnu_ld_members(&dir, HOST_CC, &files, &[]),
            "{files:?}"
        );
        assert_eq!(ours.len(), 2, "{files:?}");
        // go(3) = y(3) = 100 + x(2) = 100 + 1 + y(1) = 101 + 100 + x(0).
        run(&c.object, &[("go", 3, 201)], &format!("{files:?}"));
    }
}

#[test]
fn duplicate_strong_definitions_name_both_inputs() {
    let dir = scratch("duplicates");
    compile(
        &dir,
        HOST_CC,
        "one.c",
        "int twice(int x) { return 2 * x; }\n",
    );
    compile(
        &dir,
        HOST_CC,
        "two.c",
        "int twice(int x) { return x + x; }\n",
    );
    let err = combine_files(&dir, &["one.o", "two.o"], &[]).expect_err("duplicate");
    assert!(
        matches!(err, Error::DuplicateSymbol { .. }),
        "unexpected error: {err}"
    );
    let msg = err.to_string();
    for part in ["`twice`", "`one.o`", "`two.o`"] {
        assert!(msg.contains(part), "{msg} names {part}");
    }
    // A member pulled in that defines it again: named `lib.a(member.o)`.
    let user = compile(
        &dir,
        HOST_CC,
        "user.c",
        "int twice(int); int more(int);\nint use(int x) { return twice(x) + more(x); }\n",
    );
    let more = compile(
        &dir,
        HOST_CC,
        "more.c",
        "int more(int x) { return x; }\nint twice(int x) { return 2 * x; }\n",
    );
    let _ = user;
    archive(&dir, "ar", "rcs", "libmore.a", &[&more]);
    let err = combine_files(&dir, &["one.o", "user.o", "libmore.a"], &[]).expect_err("duplicate");
    let msg = err.to_string();
    for part in ["`twice`", "`one.o`", "`libmore.a(more.o)`"] {
        assert!(msg.contains(part), "{msg} names {part}");
    }
    // GNU ld agrees that these do not link.
    let out = Command::new("ld")
        .current_dir(&dir)
        .args(["-r", "-o", "dup.o", "one.o", "two.o"])
        .output()
        .expect("run ld");
    assert!(!out.status.success(), "GNU ld also refuses");
}

#[test]
fn a_strong_definition_wins_over_a_weak_one_in_either_order() {
    let dir = scratch("weak");
    compile(
        &dir,
        HOST_CC,
        "weak.c",
        "__attribute__((weak)) int value(int x) { return x + 1; }\n\
         int call_value(int x) { return value(x); }\n",
    );
    compile(
        &dir,
        HOST_CC,
        "strong.c",
        "int value(int x) { return x + 2; }\n",
    );
    compile(
        &dir,
        HOST_CC,
        "weak2.c",
        "__attribute__((weak)) int value(int x) { return x + 3; }\n",
    );
    for files in [
        &["weak.o", "strong.o"][..],
        &["strong.o", "weak.o"],
        &["weak.o", "weak2.o", "strong.o"],
    ] {
        let c = combine_files(&dir, files, &[]).expect("combine");
        run(
            &c.object,
            &[("call_value", 10, 12), ("value", 1, 3)],
            &format!("{files:?}"),
        );
    }
    // Two weak ones: the first wins, as with GNU ld.
    let c = combine_files(&dir, &["weak.o", "weak2.o"], &[]).expect("combine");
    run(&c.object, &[("call_value", 10, 11)], "weak, weak2");
    // A weak undefined reference pulls nothing from an archive.
    let strong = dir.join("strong.o");
    archive(&dir, "ar", "rcs", "libvalue.a", &[&strong]);
    compile(
        &dir,
        HOST_CC,
        "maybe.c",
        "__attribute__((weak)) int value(int);\n\
         int maybe(int x) { return value ? value(x) : -1; }\n",
    );
    let files = ["maybe.o", "libvalue.a"];
    let c = combine_files(&dir, &files, &[]).expect("combine");
    assert!(c.members.is_empty(), "{:?}", c.members);
    assert_eq!(gnu_ld_members(&dir, HOST_CC, &files, &[]), BTreeSet::new());
    run(&c.object, &[("maybe", 5, -1)], "weak undefined");
}

#[test]
fn common_symbols_keep_the_largest_size_and_a_definition_wins() {
    let dir = scratch("common");
    let cc = Cc {
        flags: &["-O2", "-fPIC", "-fcommon"],
        ..HOST_CC
    };
    compile(
        &dir,
        cc,
        "small.c",
        "int table[4];\nint put(int i) { table[i] = i * 5; return 0; }\n",
    );
    compile(
        &dir,
        cc,
        "big.c",
        "int table[64];\nint get(int i) { return table[i]; }\n",
    );
    compile(&dir, cc, "defined.c", "int table[64] = { [63] = 7 };\n");
    let c = combine_files(&dir, &["small.o", "big.o"], &[]).expect("combine");
    assert_eq!(common_symbols(&c.object), ["table"], "one common symbol");
    let size = symbol_size(&c.object, "table");
    assert_eq!(size, 256, "the largest size wins");
    run(&c.object, &[("put", 60, 0), ("get", 60, 300)], "commons");
    // GNU ld makes the same single common symbol.
    let out = Command::new("ld")
        .current_dir(&dir)
        .args(["-r", "-o", "gnu.o", "small.o", "big.o"])
        .output()
        .expect("run ld");
    assert!(out.status.success());
    assert_eq!(symbol_size(&read(&dir.join("gnu.o")), "table"), 256);
    // A definition wins over the commons, wherever it is.
    for files in [
        ["defined.o", "small.o", "big.o"],
        ["small.o", "big.o", "defined.o"],
    ] {
        let c = combine_files(&dir, &files, &[]).expect("combine");
        assert!(common_symbols(&c.object).is_empty(), "{files:?}");
        run(&c.object, &[("get", 63, 7)], &format!("{files:?}"));
    }
    // A common symbol pulls an archive member that defines it, as GNU ld does.
    let defined = dir.join("defined.o");
    archive(&dir, "ar", "rcs", "libtable.a", &[&defined]);
    let files = ["small.o", "big.o", "libtable.a"];
    let c = combine_files(&dir, &files, &[]).expect("combine");
    let ours: BTreeSet<String> = c.members.iter().cloned().collect();
    assert_eq!(ours, gnu_ld_members(&dir, HOST_CC, &files, &[]));
    assert_eq!(c.members, ["libtable.a(defined.o)"]);
    run(&c.object, &[("get", 63, 7)], "common + archive");
}

fn symbol_size(bytes: &[u8], name: &str) -> u64 {
    let header = object::elf::FileHeader64::<LE>::parse(bytes).expect("ELF64 header");
    let sections = header.sections(LE, bytes).expect("sections");
    let symbols = sections
        .symbols(LE, bytes, object::elf::SHT_SYMTAB)
        .expect("symbols");
    symbols
        .iter()
        .find(|s| symbols.symbol_name(LE, s) == Ok(name.as_bytes()))
        .map(|s| s.st_size.get(LE))
        .unwrap_or_else(|| panic!("no symbol {name}"))
}

/// Two objects with the same COMDAT group (the same inline function and a local label in
/// it that the rest of each object calls): only the first group stays, and the second
/// object's reference to its own label goes to the kept copy.
#[test]
fn duplicate_comdat_groups_are_dropped() {
    let dir = scratch("comdat");
    let group = |entry: &str, add: i32, local: bool| {
        let call_local = if local {
            "call .Llocal_in_group"
        } else {
            "add $2, %eax"
        };
        format!(
            ".section .text.shared_fn,\"axG\",@progbits,shared_fn,comdat\n\
             .globl shared_fn\n.type shared_fn,@function\n\
             shared_fn:\n  lea 40(%rdi), %eax\n  ret\n\
             .Llocal_in_group:\n  lea 2(%rdi), %eax\n  ret\n\
             .text\n.globl {entry}\n.type {entry},@function\n\
             {entry}:\n  push %rbx\n  mov %edi, %ebx\n  call shared_fn\n  add ${add}, %eax\n\
             \x20 mov %eax, %edi\n  {call_local}\n  pop %rbx\n  ret\n\
             .section .note.GNU-stack,\"\",@progbits\n"
        )
    };
    compile(&dir, HOST_CC, "g1.s", &group("first", 1, true));
    compile(&dir, HOST_CC, "g2.s", &group("second", 2, true));
    let c = combine_files(&dir, &["g1.o", "g2.o"], &[]).expect("combine");
    let secs = sections(&c.object);
    let groups = secs
        .iter()
        .filter(|s| s.ty == object::elf::SHT_GROUP)
        .count();
    let copies = secs.iter().filter(|s| s.name == ".text.shared_fn").count();
    assert_eq!(
        (groups, copies),
        (1, 1),
        "one group and one copy of its section"
    );
    // first(1) = shared_fn(1) + 1 + 2 = 44; second(1) = 41 + 2 + 2 = 45.
    run(&c.object, &[("first", 1, 44), ("second", 1, 45)], "comdat");
    // GNU ld refuses the reference to a local label of a dropped group (elfext takes the
    // kept copy of the same section, of the same size); without it, GNU ld keeps one copy
    // too, and so does elfext.
    let out = Command::new("ld")
        .current_dir(&dir)
        .args(["-r", "-o", "gnu.o", "g1.o", "g2.o"])
        .output()
        .expect("run ld");
    assert!(!out.status.success());
    compile(&dir, HOST_CC, "h1.s", &group("first", 1, false));
    compile(&dir, HOST_CC, "h2.s", &group("second", 2, false));
    let c = combine_files(&dir, &["h1.o", "h2.o"], &[]).expect("combine");
    let copies = sections(&c.object)
        .iter()
        .filter(|s| s.name == ".text.shared_fn")
        .count();
    assert_eq!(copies, 1);
    // first(1) = 41 + 1 + 2; second(1) = 41 + 2 + 2.
    run(&c.object, &[("first", 1, 44), ("second", 1, 45)], "comdat");
    let out = Command::new("ld")
        .current_dir(&dir)
        .args(["-r", "-o", "gnu.o", "h1.o", "h2.o"])
        .output()
        .expect("run ld");
    assert!(out.status.success());
    let theirs = sections(&read(&dir.join("gnu.o")));
    assert_eq!(
        theirs
            .iter()
            .filter(|s| s.name == ".text.shared_fn")
            .count(),
        1
    );
}

/// C++ inline functions and template instances used by two translation units: one copy
/// each, and both units call it.
#[test]
fn cpp_inline_functions_are_kept_once() {
    if !Command::new("g++")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        println!("skipped: g++ not installed");
        return;
    }
    let dir = scratch("cpp");
    let cxx = Cc {
        command: "g++",
        flags: &["-O0", "-fPIC", "-fno-exceptions", "-fno-rtti"],
        ..HOST_CC
    };
    let header = "template <int N> struct Scale { static int by(int x) { return x * N; } };\n\
                  inline int offset(int x) { static int calls; calls++; return x + calls; }\n";
    compile(
        &dir,
        cxx,
        "u1.cpp",
        &format!("{header}extern \"C\" int u1(int x) {{ return Scale<3>::by(offset(x)); }}\n"),
    );
    compile(
        &dir,
        cxx,
        "u2.cpp",
        &format!("{header}extern \"C\" int u2(int x) {{ return Scale<3>::by(offset(x)) + 1; }}\n"),
    );
    let c = combine_files(&dir, &["u1.o", "u2.o"], &[]).expect("combine");
    let secs = sections(&c.object);
    let names: Vec<&str> = secs
        .iter()
        .filter(|s| s.name.starts_with(".text._Z"))
        .map(|s| s.name.as_str())
        .collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), unique.len(), "one copy of each: {names:?}");
    // The static local `calls` is shared: u1(1) = 3 * (1 + 1), u2(1) = 3 * (1 + 2) + 1.
    run(&c.object, &[("u1", 1, 6), ("u2", 1, 10)], "c++ comdat");
}

#[test]
fn mixed_architectures_are_refused() {
    let dir = scratch("mixed");
    compile(&dir, HOST_CC, "host.c", "int h(int x) { return x; }\n");
    let mut files = vec![];
    if oracle_tools(ARM) {
        compile(&dir, ARM, "arm.c", "int a(int x) { return x; }\n");
        files.push(("arm.o", Mismatch::Class(64, 32)));
    }
    if oracle_tools(RV32) {
        compile(&dir, RV32, "rv.c", "int r(int x) { return x; }\n");
        let rv64 = Cc {
            flags: &["-O2", "-march=rv64imac", "-mabi=lp64"],
            ..RV32
        };
        compile(&dir, rv64, "rv64.c", "int r64(int x) { return x; }\n");
        files.push(("rv64.o", Mismatch::Machine(62, 243)));
        // RV32 soft-float and hard-float calls do not meet.
        let hard = Cc {
            flags: &["-O2", "-march=rv32imafc", "-mabi=ilp32f"],
            ..RV32
        };
        compile(&dir, hard, "rvf.c", "int f(int x) { return x; }\n");
        let err = combine_files(&dir, &["rv.o", "rvf.o"], &[]).expect_err("mixed float ABI");
        assert!(
            matches!(
                err,
                Error::IncompatibleInputs {
                    what: Mismatch::Flags(..),
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("`rv.o` and `rvf.o`"), "{err}");
    }
    for (other, want) in files {
        let err = combine_files(&dir, &["host.o", other], &[]).expect_err("mixed");
        match &err {
            Error::IncompatibleInputs { what, .. } => assert_eq!(*what, want, "{err}"),
            e => panic!("unexpected error {e}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("`host.o`") && msg.contains(other), "{msg}");
    }
}

#[test]
fn bad_inputs_are_errors() {
    let dir = scratch("bad_inputs");
    let obj = compile(&dir, HOST_CC, "one.c", "int one(int x) { return x; }\n");
    let two = compile(&dir, HOST_CC, "two.c", "int two(int x) { return x; }\n");
    // A thin archive's members are separate files.
    let thin = archive(&dir, "ar", "rcsT", "libthin.a", &[&obj]);
    let bytes = read(&thin);
    let mut c = Combiner::new();
    let err = c.add("libthin.a", &bytes).expect_err("thin");
    assert!(err.to_string().contains("thin archive"), "{err}");
    // Not an object at all.
    let err = Combiner::new()
        .add("notes.txt", b"hello")
        .expect_err("text");
    assert!(err.to_string().contains("`notes.txt`"), "{err}");
    // A shared library or executable is not relocatable.
    let mut c = Combiner::new();
    let exe = read(Path::new("/proc/self/exe"));
    c.add("self", &exe).expect("ELF by magic");
    let err = c.combine().expect_err("not ET_REL");
    assert!(err.to_string().contains("ET_REL"), "{err}");
    // Nothing at all.
    assert!(Combiner::new().combine().is_err());
    // An archive without a symbol index and one in BSD format still work.
    for (how, format) in [("rcS", None), ("rcs", Some("bsd"))] {
        let lib = dir.join("libplain.a");
        let _ = std::fs::remove_file(&lib);
        let mut cmd = Command::new("ar");
        cmd.current_dir(&dir).arg(how);
        if let Some(f) = format {
            cmd.arg(format!("--format={f}"));
        }
        let out = cmd
            .args(["libplain.a", "one.o", "two.o"])
            .output()
            .expect("run ar");
        if !out.status.success() {
            println!("note: ar {how} {format:?} not supported here");
            continue;
        }
        let _ = &two;
        let c = combine_files(&dir, &["libplain.a"], &["two"]).expect("combine");
        assert_eq!(c.members, ["libplain.a(two.o)"], "{how} {format:?}");
        // A needed symbol no member defines is named.
        let err = combine_files(&dir, &["libplain.a"], &["three"]).expect_err("three");
        assert!(
            matches!(&err, elfext::Error::MissingSymbols(n) if n.len() == 1 && n[0].to_string() == "three"),
            "{err}"
        );
    }
}

/// Every truncation of a small archive and a bit flip in every byte of it: an error or a
/// combined object, never a panic; whatever combines also loads or fails cleanly.
#[test]
fn broken_archives_never_panic() {
    let dir = scratch("broken");
    build_library(&dir, HOST_CC);
    compile(&dir, HOST_CC, "main.c", MAIN_C);
    let lib = read(&dir.join("libdeps.a"));
    let main = read(&dir.join("main.o"));
    let registry = registry();
    let mut ok = 0;
    let mut try_one = |bytes: &[u8]| {
        let mut c = Combiner::new();
        if c.add("main.o", &main).is_err() || c.add("libdeps.a", bytes).is_err() {
            return;
        }
        if let Ok(combined) = c.combine() {
            ok += 1;
            if registry
                .load("x", BufLoader::temporary(&combined.object))
                .is_ok()
            {
                registry.unload("x").expect("unload");
            }
        }
    };
    let step = (lib.len() / 300).max(1);
    for len in (0..lib.len()).step_by(step) {
        try_one(&lib[..len]);
    }
    for at in (0..lib.len()).step_by(step.max(3) / 3 + 1) {
        for bit in [0, 3, 7] {
            let mut copy = lib.clone();
            copy[at] ^= 1 << bit;
            try_one(&copy);
        }
    }
    assert!(
        ok > 0,
        "some damaged archives still combine (flips in padding)"
    );
    assert_heap_empty(&registry, "after damaged archives");
    // Damaged objects too.
    let obj = read(&dir.join("m_f1.o"));
    for at in (0..obj.len()).step_by(7) {
        let mut copy = obj.clone();
        copy[at] ^= 0x55;
        let mut c = Combiner::new();
        if c.add("main.o", &main).is_ok() && c.add("m_f1.o", &copy).is_ok() {
            let _ = c.combine();
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Random damage anywhere in an archive: never a panic.
    #[test]
    fn random_archive_damage_never_panics(
        flips in proptest::collection::vec((0usize..1_000_000, 0u8..8), 1..8),
        cut in 0usize..1_000_000,
    ) {
        let lib = random_damage_library();
        let mut copy = lib.to_vec();
        for (at, bit) in flips {
            let at = at % copy.len();
            copy[at] ^= 1 << bit;
        }
        copy.truncate(copy.len() - cut % 64);
        let mut c = Combiner::new();
        if c.add("lib.a", &copy).is_ok() {
            c.need("entry");
            c.need("f1");
            let _ = c.combine();
        }
    }
}

fn random_damage_library() -> &'static [u8] {
    static LIB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    LIB.get_or_init(|| {
        let dir = scratch("random_damage");
        build_library(&dir, HOST_CC);
        read(&dir.join("libdeps.a"))
    })
}

// ---------------------------------------------------------------------------------------
// Cortex-M4 and RV32: loads into target memory, GNU ld as the oracle.
// ---------------------------------------------------------------------------------------

const ARM: Cc = Cc {
    command: "arm-none-eabi-gcc",
    flags: &[
        "-O2",
        "-mcpu=cortex-m4",
        "-mthumb",
        "-fno-common",
        "-fno-asynchronous-unwind-tables",
    ],
    ar: "arm-none-eabi-ar",
    ld: "arm-none-eabi-ld",
    emulation: &[],
};

const RV32: Cc = Cc {
    command: "riscv64-unknown-elf-gcc",
    flags: &[
        "-O2",
        "-march=rv32imac",
        "-mabi=ilp32",
        "-fno-pic",
        "-fno-common",
        "-fno-asynchronous-unwind-tables",
    ],
    ar: "riscv64-unknown-elf-ar",
    ld: "riscv64-unknown-elf-ld",
    emulation: &["-m", "elf32lriscv"],
};

/// Whether the cross compiler, ar and ld are installed; says so when they are not.
fn oracle_tools(cc: Cc) -> bool {
    let ok = [cc.command, cc.ar, cc.ld].iter().all(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !ok {
        println!("skipped: {} not installed", cc.command);
    }
    ok
}

/// Where elfext places the extension.
const BASE: u64 = 0x2000_0000;
/// Stand-in host exports, in reach of every call.
const HOST: u64 = BASE - (8 << 20);

/// Link `combined` with elfext into target memory and the original `files` with GNU ld,
/// each input section where elfext put its copy; the bytes must be the same. Returns the
/// number of sections compared.
fn compare_with_gnu_ld(
    dir: &Path,
    cc: Cc,
    arch: Arch,
    ld_flags: &[&str],
    files: &[&str],
    need: &[&str],
    combined: &Combined,
) -> usize {
    let thumb = arch == Arch::Arm;
    let mut exports = fake_exports(&combined.object, arch, HOST);
    for e in &mut exports {
        e.1 |= u64::from(thumb);
    }
    let exports: Vec<(&str, u64)> = exports.iter().map(|(n, a)| (n.as_str(), *a)).collect();
    let linked = link_elfext(&combined.object, arch, BASE, &exports)
        .unwrap_or_else(|e| panic!("{files:?}: {e}"));
    // elfext always reports its GOT; this code uses none, so GNU ld makes none.
    let mut script = String::from("SECTIONS {\n");
    for s in &linked.sections {
        let origin = combined
            .origins
            .iter()
            .find(|o| o.section == s.index)
            .unwrap_or_else(|| panic!("section {} has no origin", s.index));
        // `lib.a(m.o)` is `lib.a:m.o` in a linker script.
        let file = origin.input.replace('(', ":").replace(')', "");
        writeln!(
            script,
            "  .elfext_{} 0x{:x} : {{ KEEP({file}({})) }}",
            s.index, s.addr, s.name
        )
        .unwrap();
    }
    script.push_str("  /DISCARD/ : { *(.eh_frame) *(.comment) *(.note*) }\n}\n");
    std::fs::write(dir.join("oracle.ld"), &script).expect("write the script");
    let mut cmd = Command::new(cc.ld);
    cmd.current_dir(dir)
        .arg("--no-check-sections")
        .args(cc.emulation)
        .args(ld_flags)
        .args(["-T", "oracle.ld", "-o", "oracle.elf"]);
    for n in need {
        cmd.arg("-u").arg(n);
    }
    cmd.arg("--start-group").args(files).arg("--end-group");
    for (name, addr) in &exports {
        cmd.arg(format!("--defsym={name}=0x{addr:x}"));
    }
    let out = cmd.output().expect("run ld");
    assert!(
        out.status.success(),
        "{} failed:\n{}\nscript:\n{script}",
        cc.ld,
        String::from_utf8_lossy(&out.stderr)
    );
    let elf = read(&dir.join("oracle.elf"));
    let header = object::elf::FileHeader32::<LE>::parse(&*elf).expect("ELF32");
    let sections = header.sections(LE, &*elf).expect("sections");
    let mut compared = 0;
    for s in linked.compared() {
        let want = format!(".elfext_{}", s.index);
        let sh = sections
            .iter()
            .find(|sh| sections.section_name(LE, sh) == Ok(want.as_bytes()))
            .unwrap_or_else(|| panic!("GNU ld did not emit {want} ({})", s.name));
        let bytes = sh.data(LE, &*elf).expect("section data");
        if let Some(d) = difference(s, u64::from(sh.sh_addr(LE)), bytes) {
            panic!("{files:?}: {d}");
        }
        compared += 1;
    }
    compared
}

/// Two objects calling each other and an archive pulled transitively, for a cross target.
fn cross_combination(cc: Cc, arch: Arch, ld_flags: &[&str], test: &str) {
    if !oracle_tools(cc) {
        return;
    }
    let dir = scratch(test);
    compile(&dir, cc, "a.c", A_C);
    compile(&dir, cc, "b.c", B_C);
    compile(&dir, cc, "main.c", MAIN_C);
    build_library(&dir, cc);
    let cases: &[(&[&str], &[&str])] = &[
        (&["a.o", "b.o"], &[]),
        (&["main.o", "libdeps.a", "a.o", "b.o"], &[]),
        (&["libdeps.a", "main.o"], &["needed_fn"]),
    ];
    let mut compared = 0;
    for (files, need) in cases {
        let c = combine_files(&dir, files, need).unwrap_or_else(|e| panic!("{files:?}: {e}"));
        let ours: BTreeSet<String> = c.members.iter().cloned().collect();
        assert_eq!(
            ours,
            gnu_ld_members(&dir, cc, files, need),
            "{files:?}: the members GNU ld pulls"
        );
        compared += compare_with_gnu_ld(&dir, cc, arch, ld_flags, files, need, &c);
    }
    assert!(compared >= 10, "only {compared} sections compared");
}

#[test]
fn cortex_m4_combination_links_like_gnu_ld() {
    cross_combination(ARM, Arch::Arm, &["--no-relax"], "cortex_m4");
}

#[test]
fn rv32_combination_links_like_gnu_ld() {
    cross_combination(RV32, Arch::Riscv32, &["--no-relax"], "rv32");
}
