//! End to end: `elfext check` against firmware executables linked with gcc,
//! arm-none-eabi-gcc and riscv64-unknown-elf-gcc, and against name lists: exit 0 when the
//! extension would link, 3 with every missing symbol and unsupported relocation listed when
//! it would not, 1 with one error line for unreadable or malformed input.

#[path = "data/support.rs"]
mod support;

use std::path::Path;

use support::{data, elfext, firmware, object, one_line_error, stdout, succeeded, Cc, ALL};

fn check(exports: &Path, files: &[&Path]) -> std::process::Output {
    let mut args = vec![
        "check".into(),
        "--exports".into(),
        exports.as_os_str().to_owned(),
    ];
    args.extend(files.iter().map(|f| f.as_os_str().to_owned()));
    elfext(&args)
}

/// The lines of stdout that start with `prefix`, without it.
fn listed(out: &std::process::Output, prefix: &str) -> Vec<String> {
    stdout(out)
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(str::to_string)
        .collect()
}

#[test]
fn links_against_a_firmware_that_exports_everything() {
    let dir = tempfile::tempdir().unwrap();
    for cc in ALL {
        let fw = firmware(cc, "firmware.c", dir.path(), &[]);
        let ext = object(cc, "ext.c", dir.path(), &[]);
        let out = check(&fw, &[&ext]);
        let text = succeeded(&out, &format!("{cc:?}"));
        assert!(text.lines().any(|l| l == "would link"), "{text}");
        assert_eq!(support::stderr(&out), "");
    }
}

#[test]
fn every_missing_symbol_is_listed_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    for cc in ALL {
        // The firmware lacks host_counter; the second object needs two long names too.
        let fw = firmware(cc, "firmware.c", dir.path(), &["-DWITHOUT_COUNTER"]);
        let ext = object(cc, "ext.c", dir.path(), &[]);
        let out = check(&fw, &[&ext]);
        let err = one_line_error(&out, 3);
        assert!(
            err.contains("would not link") && err.contains("1 missing symbol"),
            "{err}"
        );
        assert_eq!(listed(&out, "missing symbol: "), ["host_counter"], "{cc:?}");

        let long = object(cc, "needs_long.c", dir.path(), &[]);
        let out = check(&fw, &[&long]);
        one_line_error(&out, 3);
        assert_eq!(
            listed(&out, "missing symbol: "),
            [
                "firmware_function_with_a_very_long_name_one",
                "firmware_function_with_a_very_long_name_two",
            ],
            "{cc:?}: {}",
            stdout(&out)
        );
    }
}

#[test]
fn exports_macro_tables_in_a_firmware_count_as_exports() {
    let dir = tempfile::tempdir().unwrap();
    for cc in ALL {
        let ext = object(cc, "uses_table.c", dir.path(), &[]);
        let with = firmware(cc, "firmware.c", dir.path(), &["-DEXPORT_TABLE"]);
        succeeded(&check(&with, &[&ext]), &format!("{cc:?}"));
        let without = firmware(cc, "firmware.c", dir.path(), &[]);
        let out = check(&without, &[&ext]);
        one_line_error(&out, 3);
        assert_eq!(listed(&out, "missing symbol: "), ["table_only_function"]);
    }
}

#[test]
fn name_lists_with_comments_and_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let ext = object(Cc::Arm, "ext.c", dir.path(), &[]);
    let text = succeeded(&check(&data("exports.txt"), &[&ext]), "exports.txt");
    assert!(text.contains("checked against 3 exports"), "{text}");

    let partial = dir.path().join("partial.txt");
    std::fs::write(&partial, "# only one\nfirmware_add\n").unwrap();
    for cc in ALL {
        let ext = object(cc, "ext.c", dir.path(), &[]);
        let out = check(&partial, &[&ext]);
        let err = one_line_error(&out, 3);
        assert!(err.contains("2 missing symbols"), "{err}");
        assert_eq!(
            listed(&out, "missing symbol: "),
            ["host_counter", "host_print"]
        );
    }

    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "host_print\nhost counter\n").unwrap();
    let line = one_line_error(&check(&bad, &[&ext]), 1);
    assert!(line.contains("bad.txt:2"), "{line}");
    std::fs::write(&bad, "host_print = twelve\n").unwrap();
    let line = one_line_error(&check(&bad, &[&ext]), 1);
    assert!(
        line.contains("bad.txt:1") && line.contains("twelve"),
        "{line}"
    );
}

#[test]
fn unsupported_relocations_are_listed_with_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    // General-dynamic TLS (-fPIC): R_X86_64_TLSGD, which elfext does not apply.
    let tls = object(Cc::Host, "tls_gd.c", dir.path(), &[]);
    let list = dir.path().join("exports.txt");
    std::fs::write(&list, "__tls_get_addr\n").unwrap();
    let out = check(&list, &[&tls]);
    let err = one_line_error(&out, 3);
    assert!(err.contains("unsupported relocation type"), "{err}");
    let unsupported = listed(&out, "unsupported relocation: ");
    assert!(
        unsupported.iter().any(|l| l.starts_with("R_X86_64_TLSGD ")),
        "{}",
        stdout(&out)
    );
    assert!(listed(&out, "missing symbol: ").is_empty());

    // With the helper missing too, both kinds of problem are listed.
    std::fs::write(&list, "").unwrap();
    let out = check(&list, &[&tls]);
    let err = one_line_error(&out, 3);
    assert!(
        err.contains("1 missing symbol") && err.contains("unsupported"),
        "{err}"
    );
    assert_eq!(listed(&out, "missing symbol: "), ["__tls_get_addr"]);
}

#[test]
fn another_architecture_would_not_link() {
    let dir = tempfile::tempdir().unwrap();
    let fw = firmware(Cc::Arm, "firmware.c", dir.path(), &[]);
    let ext = object(Cc::Rv32, "ext.c", dir.path(), &[]);
    let out = check(&fw, &[&ext]);
    one_line_error(&out, 3);
    assert!(stdout(&out).contains("the extension is for riscv32, the firmware for arm"));
}

#[test]
fn malformed_inputs_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let fw = firmware(Cc::Rv32, "firmware.c", dir.path(), &[]);
    let ext = object(Cc::Rv32, "ext.c", dir.path(), &[]);
    for (label, bad) in support::malformed_variants(&ext) {
        let line = one_line_error(&check(&fw, &[&bad]), 1);
        assert!(line.contains(bad.to_str().unwrap()), "{label}: {line}");
    }
    // A damaged firmware: cut in the middle of its tables, or its class flipped.
    let bytes = std::fs::read(&fw).unwrap();
    let cut = dir.path().join("cut.elf");
    std::fs::write(&cut, &bytes[..bytes.len() - 40]).unwrap();
    one_line_error(&check(&cut, &[&ext]), 1);
    let mut class = bytes.clone();
    class[4] = 2;
    std::fs::write(&cut, &class).unwrap();
    one_line_error(&check(&cut, &[&ext]), 1);
    one_line_error(&check(&dir.path().join("none.elf"), &[&ext]), 1);

    // Bit flips in the object: exit 0, 1 or 3, one line on stderr when failing, no panic.
    let flipped = dir.path().join("flipped.o");
    for (at, bytes) in support::bit_flips(&ext, 30) {
        std::fs::write(&flipped, &bytes).unwrap();
        let out = check(&fw, &[&flipped]);
        match out.status.code() {
            Some(0) => {}
            Some(3) => {
                one_line_error(&out, 3);
            }
            _ => {
                let line = one_line_error(&out, 1);
                assert!(!line.is_empty(), "flip at {at}");
            }
        }
    }
}

#[test]
fn help_has_an_example() {
    let out = elfext(&["check", "--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("Example:"));
}
