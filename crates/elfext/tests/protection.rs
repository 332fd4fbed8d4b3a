//! `HostMemory` seals what it links: TEXT read + execute, RODATA read-only, DATA and BSS
//! read + write, never writable and executable at once; freed blocks go back to read +
//! write for reuse. Checked in the kernel's view of this process (`/proc/self/maps`).
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use common::*;
use elfext::BufLoader;

/// The permissions ("r-xp", ...) of every mapping overlapping `start..end`.
fn perms(start: u64, end: u64) -> Vec<String> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    maps.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let (range, perms) = (fields.next()?, fields.next()?);
            let (lo, hi) = range.split_once('-')?;
            let (lo, hi) = (
                u64::from_str_radix(lo, 16).ok()?,
                u64::from_str_radix(hi, 16).ok()?,
            );
            (lo < end && start < hi).then(|| perms.to_string())
        })
        .collect()
}

#[test]
fn linked_regions_are_sealed_write_xor_execute_and_unsealed_when_freed() {
    for b in c_builds(&[]) {
        let obj = build("c/data.c", &b);
        let registry = registry();
        registry
            .load("data", BufLoader::temporary(&obj.bytes))
            .expect("load");
        let addr = |s: &str| registry.with("data", |e| e.symbol(s)).unwrap().unwrap();
        let ctx = &obj.label;
        let (code, rodata, data) = (addr("apply"), addr("version"), addr("counter"));
        assert_eq!(
            perms(code, code + 1),
            ["r-xp"],
            "{ctx}: code is read + execute"
        );
        assert_eq!(
            perms(rodata, rodata + 1),
            ["r--p"],
            "{ctx}: read-only data is read-only"
        );
        assert_eq!(
            perms(data, data + 1),
            ["rw-p"],
            "{ctx}: data is read + write"
        );
        let (block, size) = registry.with("data", |e| e.block()).unwrap();
        for p in perms(block, block + size) {
            assert!(
                !(p.contains('w') && p.contains('x')),
                "{ctx}: no page is writable and executable ({p})"
            );
        }
        registry.unload("data").expect("unload");
        assert_eq!(
            perms(code, code + 1),
            ["rw-p"],
            "{ctx}: freed code pages are writable again for reuse"
        );
        assert_heap_empty(&registry, ctx);
    }
}
