//! Calls between functions in different sections: with -ffunction-sections (every function
//! in its own .text.* section), with explicit `section` attributes, and in an object whose
//! sections of one kind are interleaved in the file (.text, .data, then .text.late).
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use common::*;

fn check_chain(ext: &Loaded<'_, '_>) {
    let ctx = ext.ctx();
    // SAFETY: the signatures match sections.c.
    let (chain, ping, pong) = unsafe {
        (
            ext.function::<extern "C" fn(i32) -> i32>("chain"),
            ext.function::<extern "C" fn(i32) -> i32>("ping"),
            ext.function::<extern "C" fn(i32) -> i32>("pong"),
        )
    };
    for x in [0, 1, 5, -3, 1000] {
        assert_eq!(
            chain(x),
            3 * x + 7 - 1 + 1000,
            "{ctx}: chain({x}) through four sections and the host"
        );
    }
    // ping(n) alternates +1 / +2 between .text.ping and .text.pong.
    assert_eq!(ping(10), 15, "{ctx}: mutual recursion across sections");
    assert_eq!(pong(9), 14, "{ctx}: mutual recursion across sections");
}

#[test]
fn call_chains_cross_explicit_sections_everywhere() {
    for b in c_builds(&[]) {
        let obj = build("c/sections.c", &b);
        let names: Vec<String> = sections(&obj.bytes).into_iter().map(|s| s.name).collect();
        for s in [".text.hop_far", ".text.hop_mid", ".text.ping", ".text.pong"] {
            assert!(
                names.iter().any(|n| n == s),
                "{}: the object has the explicit section {s}",
                obj.label
            );
        }
        check_everywhere("sections", &obj, check_chain);
    }
}

#[test]
fn call_chains_cross_function_sections_everywhere() {
    for b in c_builds(&["-ffunction-sections", "-fdata-sections"]) {
        let obj = build("c/sections.c", &b);
        let code = sections(&obj.bytes)
            .into_iter()
            .filter(|s| s.is_code() && s.size > 0)
            .count();
        assert!(
            code >= 6,
            "{}: -ffunction-sections gives each function its own section ({code} code sections)",
            obj.label
        );
        check_everywhere("sections", &obj, check_chain);
    }
}

#[test]
fn interleaved_text_and_data_sections_are_gathered_by_kind_everywhere() {
    for b in c_builds(&[]) {
        let obj = build("c/interleaved.c", &b);
        let secs = sections(&obj.bytes);
        let index = |name: &str| {
            secs.iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("{}: no section {name}", obj.label))
                .index
        };
        assert!(
            index(".text") < index(".data") && index(".data") < index(".text.late"),
            "{}: the file order is .text, .data, .text.late",
            obj.label
        );
        check_everywhere("interleaved", &obj, |ext| {
            let ctx = ext.ctx();
            // SAFETY: the signatures match interleaved.c.
            let (early, late, total) = unsafe {
                (
                    ext.function::<extern "C" fn() -> i32>("early_sum"),
                    ext.function::<extern "C" fn() -> i32>("late_sum"),
                    ext.function::<extern "C" fn() -> i32>("total"),
                )
            };
            assert_eq!(early(), 10, "{ctx}: .text reads .data");
            assert_eq!(
                late(),
                310,
                "{ctx}: .text.late calls .text and reads .data.late"
            );
            assert_eq!(total(), 620, "{ctx}: .text calls forward into .text.late");
            let late_data = ext.data::<[i32; 2]>("late_data");
            // SAFETY: `int late_data[2]` is live.
            unsafe { late_data.write_unaligned([1, 2]) };
            assert_eq!(late(), 13, "{ctx}: the host's write to .data.late is seen");
            // Code sections are gathered into TEXT, data into DATA: every function lies
            // outside the data, and every datum outside the code.
            let funcs = [
                ext.symbol("early_sum"),
                ext.symbol("late_sum"),
                ext.symbol("total"),
            ];
            let data = [ext.symbol("early_data"), ext.symbol("late_data")];
            let (fmin, fmax) = (funcs.iter().min().unwrap(), funcs.iter().max().unwrap());
            for d in data {
                assert!(
                    d < *fmin || d > *fmax,
                    "{ctx}: data at {d:#x} lies outside the code ({fmin:#x}..={fmax:#x})"
                );
            }
        });
    }
}
