//! GNU ld is the oracle for x86-64 relocation: for gcc and clang at -O0 and -O2, with and
//! without -fPIC, the bytes elfext links must equal what GNU ld links at the same addresses.
//!
//! GNU ld runs without `--no-relax` here: on x86-64 its "relaxation" only rewrites GOT loads
//! in place (`mov $imm`, `lea`, direct `call`/`jmp`), which elfext does identically, and
//! never moves code.

mod common;
mod oracle;

use common::{build, c_builds, rust_builds};
use elfext::Arch;

const BASE: u64 = 0x2000_0000;

/// Builds that read GOT slots elfext cannot relax away: GNU ld lays out its GOT in another
/// order, so those displacements differ by design (the native tests run that code).
fn uses_unrelaxable_got(source: &str, flags: &[&str]) -> bool {
    let pic = flags
        .iter()
        .any(|f| *f == "-fPIC" || f.ends_with("relocation-model=pic"));
    pic && (source == "c/symbols.c" || source == "rust/compute.rs")
}

fn check(label: &str, path: &std::path::Path, bytes: &[u8]) -> usize {
    let mut exports = oracle::fake_exports(bytes, Arch::X86_64, 0x1000_0000);
    exports.retain(|(n, _)| n != "_GLOBAL_OFFSET_TABLE_");
    let exports: Vec<(&str, u64)> = exports.iter().map(|(n, a)| (n.as_str(), *a)).collect();
    let compared = oracle::compare(path, bytes, Arch::X86_64, "ld", &[], BASE, &exports)
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    assert!(compared.sections >= 1, "{label}: nothing compared");
    compared.sections
}

#[test]
fn elfext_links_the_same_bytes_as_gnu_ld() {
    let mut sections = 0;
    for source in oracle::PORTABLE_C {
        for config in c_builds(&["-fno-common", "-fno-asynchronous-unwind-tables"]) {
            if uses_unrelaxable_got(source, &config.flags) {
                continue;
            }
            let obj = build(source, &config);
            sections += check(&obj.label, &obj.path, &obj.bytes);
        }
    }
    assert!(sections > 100, "only {sections} sections compared");
}

#[test]
fn the_large_code_model_links_the_same_bytes_as_gnu_ld() {
    // -mcmodel=large -fPIC addresses everything relative to `_GLOBAL_OFFSET_TABLE_`:
    // R_X86_64_GOTPC64, GOTOFF64 and PLTOFF64.
    // (GOT64 slots are laid out differently by GNU ld; objects using them are left out.)
    for source in ["c/sections.c", "c/hello.c"] {
        let config = common::Build {
            compiler: elfext_testkit::Compiler::Gcc,
            flags: vec![
                "-O2",
                "-fPIC",
                "-mcmodel=large",
                "-fno-common",
                "-fno-asynchronous-unwind-tables",
            ],
        };
        let obj = build(source, &config);
        check(&obj.label, &obj.path, &obj.bytes);
    }
}

#[test]
fn the_rust_extension_links_the_same_bytes_as_gnu_ld() {
    for config in rust_builds() {
        if uses_unrelaxable_got("rust/compute.rs", &config.flags) {
            continue;
        }
        let obj = build("rust/compute.rs", &config);
        check(&obj.label, &obj.path, &obj.bytes);
    }
}
