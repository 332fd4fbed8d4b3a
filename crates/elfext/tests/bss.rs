//! Zero-initialized data: large .bss arrays and, with -fcommon, common symbols the loader
//! allocates itself. Everything starts zero, also when a reload reuses dirty memory, and is
//! writable by the extension and the host.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use common::*;
use elfext::{HostMemory, RegionKind, Registry};

/// Bytes of zeroed data bss.c defines.
const ZEROED: u64 = 256 * 1024 + 64 * 1024 + 4 + 800 + 3;

fn check_bss(ext: &Loaded<'_, '_>) {
    let ctx = ext.ctx();
    assert!(
        ext.report.regions[RegionKind::Bss as usize] >= ZEROED,
        "{ctx}: the BSS region holds every zeroed object ({:?})",
        ext.report.regions
    );
    assert!(
        ext.registry.heap_stats().of(RegionKind::Bss) >= ZEROED,
        "{ctx}: the heap accounts the BSS bytes"
    );
    // SAFETY: the signatures match bss.c.
    let (sum, fill) = unsafe {
        (
            ext.function::<extern "C" fn() -> u64>("bss_sum"),
            ext.function::<extern "C" fn() -> u64>("bss_fill"),
        )
    };
    assert_eq!(sum(), 0, "{ctx}: every zeroed byte starts zero");
    assert_eq!(
        fill(),
        64 + 7 + 3 + 5 + 9,
        "{ctx}: the zeroed data is writable"
    );
    let exported = ext.data::<u32>("big_exported");
    // SAFETY: `unsigned big_exported[16384]` is live.
    unsafe {
        assert_eq!(
            read(exported.add(16 * 1024 - 1)),
            7,
            "{ctx}: the host sees the write"
        );
        exported.write_unaligned(1000);
    }
    assert_eq!(
        sum(),
        88 + 1000,
        "{ctx}: the extension sees the host's write"
    );
    let common_int = ext.data::<i32>("common_int");
    // SAFETY: `int common_int` is live.
    assert_eq!(
        unsafe { read(common_int) },
        3,
        "{ctx}: common_int by symbol"
    );
}

#[test]
fn bss_arrays_start_zero_and_are_writable_everywhere() {
    for b in c_builds(&[]) {
        let obj = build("c/bss.c", &b);
        assert!(
            common_symbols(&obj.bytes).is_empty(),
            "{}: without -fcommon there are no common symbols",
            obj.label
        );
        check_everywhere("bss", &obj, check_bss);
    }
}

#[test]
fn common_symbols_are_allocated_zeroed_everywhere() {
    for b in c_builds(&["-fcommon"]) {
        let obj = build("c/bss.c", &b);
        let mut commons = common_symbols(&obj.bytes);
        commons.sort();
        assert_eq!(
            commons,
            ["big_exported", "common_array", "common_bytes", "common_int"],
            "{}: -fcommon makes the tentative definitions common symbols",
            obj.label
        );
        check_everywhere("bss", &obj, |ext| {
            check_bss(ext);
            for (sym, align) in [("common_array", 8), ("common_int", 4), ("big_exported", 4)] {
                let addr = ext.symbol(sym);
                assert_eq!(addr % align, 0, "{}: common `{sym}` is aligned", ext.ctx());
            }
        });
    }
}

/// Load bss.c, read its fresh sum, dirty it, unload: (fresh sum, sum after filling).
fn load_fill_unload<'b>(registry: &Registry<'b, HostMemory>, loader: AnyLoader<'b>) -> (u64, u64) {
    registry.load("bss", loader).expect("load");
    let (sum, fill) = registry
        .with("bss", |e| {
            // SAFETY: the signatures match bss.c.
            unsafe {
                (
                    e.function::<extern "C" fn() -> u64>("bss_sum")
                        .expect("bss_sum"),
                    e.function::<extern "C" fn() -> u64>("bss_fill")
                        .expect("bss_fill"),
                )
            }
        })
        .expect("loaded");
    let result = (sum(), fill());
    assert_eq!(registry.unload("bss"), Ok(0), "unload");
    result
}

#[test]
fn a_reload_into_reused_memory_starts_zero_again() {
    for flags in [
        ["-O2", "-fno-pic", "-fcommon"],
        ["-O0", "-fPIC", "-fno-common"],
    ] {
        let obj = gcc("c/bss.c", &flags);
        for via in Via::ALL {
            let ctx = format!("{} via {via:?}", obj.label);
            let mut first = Staged::new(via, &obj);
            let mut second = Staged::new(via, &obj);
            let registry = registry();
            assert_eq!(
                load_fill_unload(&registry, first.loader()),
                (0, 88),
                "{ctx}: first load starts zero"
            );
            assert_eq!(
                load_fill_unload(&registry, second.loader()),
                (0, 88),
                "{ctx}: the reload starts zero again"
            );
            assert_heap_empty(&registry, &ctx);
        }
    }
}
