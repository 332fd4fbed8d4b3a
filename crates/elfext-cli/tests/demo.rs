//! End to end: run the built `elfext` binary and check what it prints.
//!
//! `demo` needs a C compiler (cc, gcc or clang) on the PATH, as the project README says.

#[path = "data/support.rs"]
mod support;

use support::elfext;

/// The lines of `out` that contain every one of `parts`.
fn lines_with<'o>(out: &'o str, parts: &[&str]) -> Vec<&'o str> {
    out.lines()
        .filter(|l| parts.iter().all(|p| l.contains(p)))
        .collect()
}

/// Assert that some line of `out` contains every one of `parts`.
#[track_caller]
fn assert_line(out: &str, parts: &[&str]) {
    assert!(
        !lines_with(out, parts).is_empty(),
        "no line contains all of {parts:?} in:\n{out}"
    );
}

/// The cells of a table row: runs of text separated by two or more spaces.
fn cells(line: &str) -> Vec<&str> {
    line.split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

/// Assert that a table row starts with exactly these cells.
#[track_caller]
fn assert_row(out: &str, first_cells: &[&str]) {
    let found = out.lines().any(|l| cells(l).starts_with(first_cells));
    assert!(found, "no table row starts with {first_cells:?} in:\n{out}");
}

#[test]
fn demo_runs_every_section_and_frees_the_heap() {
    let out = elfext(&["demo"]);
    let stdout = support::stdout(&out);
    let stderr = support::stderr(&out);
    assert!(
        out.status.success(),
        "demo failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert_eq!(stderr, "", "the demo wrote to stderr");

    // Calls under each storage type (the storage is named on its first row).
    for storage in ["temporary", "persistent", "writable"] {
        assert_row(&stdout, &[storage, "mathlib", "square(7)", "49"]);
    }
    for row in [
        &["mathlib", "fib(40)", "102334155"][..],
        &["stats", "sum_squares(10)", "385"],
        &["stats", "sample_energy()", "173"],
        &[
            "greet",
            "greet()",
            "57",
            "\"Hello from greet.o, linked against the host's host_print!\"",
        ],
        &["counter", "counter_next()", "11"],
    ] {
        assert_eq!(
            lines_with(&stdout, row).len(),
            3,
            "expected {row:?} once per storage type in:\n{stdout}"
        );
    }

    // Reference counts: previous count on load, remaining count on unload.
    assert_row(
        &stdout,
        &[
            "load(\"mathlib\")",
            "1",
            "previous use count: already loaded, nothing copied",
        ],
    );
    assert_row(&stdout, &["use_count()", "2"]);
    assert_row(
        &stdout,
        &[
            "unload(\"mathlib\")",
            "1",
            "uses left: still loaded, square(5) = 25",
        ],
    );
    assert_row(
        &stdout,
        &[
            "unload(\"mathlib\")",
            "0",
            "uses left: freed, 0 heap bytes in use",
        ],
    );

    // Dependencies: the library refuses to unload mathlib while stats uses it.
    assert_row(
        &stdout,
        &[
            "load(\"stats\")",
            "Err(MissingSymbols)",
            "undefined symbols: `square`",
        ],
    );
    assert_row(
        &stdout,
        &[
            "unload(\"mathlib\")",
            "Err(InUse)",
            "extension `mathlib` is still used by `stats`; unload `stats` first",
        ],
    );
    assert_row(&stdout, &["dependencies()", "mathlib"]);
    assert_row(&stdout, &["unload(\"stats\")", "0"]);

    // Constructors and destructors.
    assert_row(&stdout, &["counter_get()", "10 (DATA as compiled)"]);
    assert_row(
        &stdout,
        &[
            "bringup()",
            "ok",
            "\"counter.o: constructor ran, count = 100\"",
        ],
    );
    assert_row(&stdout, &["counter_get()", "100"]);
    assert_row(
        &stdout,
        &["counter_history(101)", "101 (read back from BSS)"],
    );
    assert_row(
        &stdout,
        &["teardown()", "ok", "\"counter.o: destructor ran\""],
    );

    // Heap reports: two backends times three storage types, each back to 0.
    assert_line(&stdout, &["Heap report: HostMemory"]);
    assert_line(&stdout, &["Heap report: ExtHeap"]);
    assert_eq!(
        lines_with(&stdout, &["heap bytes in use: 0 before loading"]).len(),
        6
    );
    assert_eq!(
        lines_with(&stdout, &["0 after unloading everything"]).len(),
        6
    );
    // Packed and writable, mathlib's code is used where it lies: nothing in the heap but
    // its record.
    assert_line(&stdout, &["mathlib", "square in place"]);
    assert_line(&stdout, &["Demo finished"]);
}

#[test]
fn missing_compiler_is_one_clear_line() {
    let out = elfext(&["demo", "--cc", "elfext-no-such-compiler"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = support::stderr(&out);
    assert_eq!(stderr.lines().count(), 1, "stderr:\n{stderr}");
    assert!(
        stderr.starts_with("elfext: error: no C compiler found (tried elfext-no-such-compiler)"),
        "stderr:\n{stderr}"
    );
}

#[test]
fn help_shows_examples() {
    let top = elfext(&["--help"]);
    assert!(top.status.success());
    let top = support::stdout(&top);
    assert_line(&top, &["demo"]);
    assert_line(&top, &["Examples:"]);
    assert_line(&top, &["cargo run --release -p elfext-cli -- demo"]);

    let demo = elfext(&["demo", "--help"]);
    assert!(demo.status.success());
    let demo = support::stdout(&demo);
    assert_line(&demo, &["--cc <COMPILER>"]);
    assert_line(&demo, &["elfext demo --cc clang"]);
}
