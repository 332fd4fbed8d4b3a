//! Global data and pointer relocations: pointers in .data to .rodata strings and arrays,
//! function pointer tables, and exported globals the host reads and writes through
//! `Extension::data`; and host data read through the GOT by position-independent code.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use std::ffi::{c_char, CStr};

use common::*;

type IntFn = extern "C" fn() -> i32;

#[test]
fn data_pointers_tables_and_exported_globals_everywhere() {
    for b in c_builds(&[]) {
        let obj = build("c/data.c", &b);
        check_everywhere("data", &obj, |ext| {
            let ctx = ext.ctx();
            // SAFETY: every signature below matches data.c.
            let (apply, prime_sum, third, colour_len, initials, greeting, bump, wide) = unsafe {
                (
                    ext.function::<extern "C" fn(i32, i32, i32) -> i32>("apply"),
                    ext.function::<IntFn>("prime_sum"),
                    ext.function::<IntFn>("get_third_prime"),
                    ext.function::<extern "C" fn(i32) -> i32>("colour_len"),
                    ext.function::<IntFn>("name_initials"),
                    ext.function::<extern "C" fn() -> *const c_char>("get_greeting"),
                    ext.function::<extern "C" fn(i32) -> i32>("bump"),
                    ext.function::<extern "C" fn() -> i64>("get_wide"),
                )
            };
            assert_eq!(
                (
                    apply(0, 6, 7),
                    apply(1, 6, 7),
                    apply(2, 6, 7),
                    apply(3, 6, 7)
                ),
                (13, -1, 42, -1),
                "{ctx}: calls through the function pointer table"
            );
            assert_eq!(prime_sum(), 77, "{ctx}: reads the .rodata prime table");
            assert_eq!(
                third(),
                5,
                "{ctx}: a .data pointer with an addend into .rodata"
            );
            assert_eq!(
                [colour_len(0), colour_len(1), colour_len(2)],
                [3, 5, 4],
                "{ctx}: a read-only table of pointers to strings"
            );
            assert_eq!(
                initials(),
                i32::from_le_bytes([b'a', b'b', b'g', 0]),
                "{ctx}: a writable table of pointers to strings"
            );
            // SAFETY: get_greeting returns a pointer to a NUL-terminated literal.
            let g = unsafe { CStr::from_ptr(greeting()) };
            assert_eq!(
                g.to_str(),
                Ok("hello, data"),
                "{ctx}: a .data pointer to a string"
            );

            // The host reads and writes the extension's exported globals directly.
            let counter = ext.data::<i32>("counter");
            // SAFETY: `int counter` is live while the extension is loaded.
            unsafe {
                assert_eq!(read(counter), 42, "{ctx}: initial value of `counter`");
                counter.write_unaligned(100);
            }
            assert_eq!(bump(5), 105, "{ctx}: the extension sees the host's write");
            // SAFETY: as above.
            assert_eq!(
                unsafe { read(counter) },
                105,
                "{ctx}: the host sees the extension's write"
            );
            let wide_ptr = ext.data::<i64>("wide");
            // SAFETY: `long long wide` is live.
            unsafe {
                assert_eq!(
                    read(wide_ptr),
                    0x1122334455667788,
                    "{ctx}: 64-bit exported data"
                );
                wide_ptr.write_unaligned(-5);
            }
            assert_eq!(
                wide(),
                -5,
                "{ctx}: the extension reads the host's 64-bit write"
            );
            let version = ext.data::<[u8; 9]>("version");
            // SAFETY: `const char version[9]` is live.
            assert_eq!(
                &unsafe { read(version) },
                b"data-1.0\0",
                "{ctx}: exported const array"
            );

            // The data pointer table holds absolute addresses of the extension's strings.
            let names = ext.data::<[*const c_char; 4]>("names");
            // SAFETY: `const char *names[4]`, pointing to literals.
            let first = unsafe { CStr::from_ptr(read(names)[0]) };
            assert_eq!(
                first.to_str(),
                Ok("alpha"),
                "{ctx}: relocated pointer in .data"
            );
            // SAFETY: as above.
            assert!(
                unsafe { read(names)[3] }.is_null(),
                "{ctx}: a null pointer stays null"
            );

            // Exported symbols are listed with their addresses.
            let mut exported = Vec::new();
            ext.registry
                .with(ext.name, |e| {
                    e.for_each_export(|n, a| exported.push((n.to_string(), a)))
                })
                .expect("loaded")
                .expect("exports can be listed");
            for sym in ["apply", "counter", "ops", "names", "version", "greeting"] {
                let found = exported.iter().find(|(n, _)| n == sym);
                assert_eq!(
                    found.map(|(_, a)| *a),
                    Some(ext.symbol(sym)),
                    "{ctx}: `{sym}` is listed by for_each_export at its symbol() address"
                );
            }
            assert!(
                !exported.iter().any(|(n, _)| n == "add" || n == "colours"),
                "{ctx}: static functions and data are not exported"
            );
        });
    }
}

#[test]
fn pic_code_reads_and_writes_host_data_through_the_got() {
    for b in c_builds(&[]).into_iter().filter(|b| b.is_pic()) {
        let obj = build("c/host_data.c", &b);
        check_everywhere("host_data", &obj, |ext| {
            // SAFETY: `int limit_plus(int)` and `void count_up(void)`.
            let (limit_plus, count_up) = unsafe {
                (
                    ext.function::<extern "C" fn(i32) -> i32>("limit_plus"),
                    ext.function::<extern "C" fn()>("count_up"),
                )
            };
            assert_eq!(limit_plus(5), 1005, "{}: reads host_limit", ext.ctx());
            let before = host_counter();
            count_up();
            assert_eq!(
                host_counter(),
                before + 1,
                "{}: increments host_counter",
                ext.ctx()
            );
        });
    }
}

#[test]
fn exported_symbols_not_present_are_reported_by_name() {
    let obj = gcc("c/data.c", &["-O2", "-fPIC"]);
    check_everywhere("data", &obj, |ext| {
        let err = ext
            .registry
            .with(ext.name, |e| e.symbol("add"))
            .expect("loaded")
            .expect_err("a static function is not exported");
        assert_eq!(
            err.to_string(),
            "extension `data` exports no symbol `add`",
            "{}: NoSuchSymbol names the extension and the symbol",
            ext.ctx()
        );
    });
}
