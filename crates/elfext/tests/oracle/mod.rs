//! GNU ld as the relocation oracle: link an object with elfext into a described target
//! window, link the same object with GNU ld placing each input section at exactly the
//! address elfext chose (undefined symbols given by `--defsym`), and compare the bytes.
//!
//! The oracle lives in the testkit (`elfext_testkit::oracle`), shared with the fixture
//! test and `cargo xtask fixtures`.
//!
//! Not every oracle test uses every helper.
#![allow(dead_code)]

pub use elfext_testkit::oracle::{compare, fake_exports};

/// The portable C extension sources every architecture's oracle links.
pub const PORTABLE_C: &[&str] = &[
    "c/oracle.c",
    "c/hello.c",
    "c/data.c",
    "c/host_data.c",
    "c/init_fini.c",
    "c/sections.c",
    "c/interleaved.c",
    "c/align.c",
    "c/bss.c",
    "c/dep_a.c",
    "c/dep_b.c",
    "c/symbols.c",
];

/// `own` followed by the portable sources, less `except`.
pub fn sources(own: &[&'static str], except: &[&str]) -> Vec<&'static str> {
    own.iter()
        .chain(PORTABLE_C)
        .copied()
        .filter(|s| !except.contains(s))
        .collect()
}

/// Whether every command runs (`--version`); prints a skip note naming `what` otherwise.
pub fn toolchain(commands: &[&str], what: &str) -> bool {
    let ok = commands.iter().all(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !ok {
        println!("skipped: {what} cross toolchain not installed");
    }
    ok
}
