//! Protection granules end to end: the same objects linked into an `ExtHeap` under each
//! granule get regions rounded and aligned as the granule demands, and the heap returns
//! to empty. (Linking only: an arena in a `Vec` is not executable memory on this host.)

mod common;

use std::mem::MaybeUninit;

use common::{gcc, HOST};
use elfext::{BufLoader, ExtHeap, Granule, Granules, RegionKind, Registry};

fn check(granules: Granules, source: &str) {
    let obj = gcc(source, &["-O2", "-fPIC"]);
    // Power-of-two regions of a 16 KiB BSS need a generous arena.
    let mut arena = vec![MaybeUninit::<u8>::uninit(); 8 << 20];
    let heap = ExtHeap::new(&mut arena, granules).with_native(false);
    let registry = Registry::new(heap, &HOST);
    let report = registry
        .load_with_report("ext", BufLoader::temporary(&obj.bytes))
        .unwrap_or_else(|e| panic!("{source} under {granules:?}: {e}"));
    let (addr, size) = registry.with("ext", |e| e.block()).unwrap();
    for (k, kind) in RegionKind::REGIONS.iter().enumerate() {
        let bytes = report.regions[k];
        let (rounded, align) = granules.of(*kind).round(bytes);
        assert_eq!(
            bytes,
            rounded,
            "{source}: {kind} size {bytes} is not rounded to {:?}",
            granules.of(*kind)
        );
        if bytes > 0 {
            assert_eq!(
                addr % align,
                0,
                "{source}: block at {addr:#x} not aligned to {align}"
            );
        }
    }
    assert_eq!(size, report.regions.iter().sum::<u64>() + report.padding);
    let stats = registry.heap_stats();
    assert_eq!(stats.regions, report.regions);
    assert_eq!(stats.metadata, report.metadata);
    assert_eq!(
        registry
            .with("ext", |e| unsafe {
                e.function::<extern "C" fn()>("nothing")
            }
            .err())
            .unwrap(),
        Some(elfext::Error::NotNative),
        "a non-native heap must not hand out function pointers"
    );
    assert_eq!(registry.unload("ext").unwrap(), 0);
    assert_eq!(registry.heap_stats().total(), 0);
}

#[test]
fn every_granule_rounds_and_aligns_regions() {
    for granules in [
        Granules::NONE,
        Granules::MPU32,
        Granules::MPU_POW2,
        Granules::PAGES,
    ] {
        for source in ["c/hello.c", "c/data.c", "c/bss.c", "c/align.c"] {
            check(granules, source);
        }
    }
}

#[test]
fn pow2_regions_are_powers_of_two() {
    let obj = gcc("c/data.c", &["-O2", "-fPIC"]);
    let mut arena = vec![MaybeUninit::<u8>::uninit(); 1 << 20];
    let registry = Registry::new(
        ExtHeap::new(&mut arena, Granules::MPU_POW2).with_native(false),
        &HOST,
    );
    let report = registry
        .load_with_report("d", BufLoader::temporary(&obj.bytes))
        .unwrap();
    for &bytes in report.regions.iter().filter(|&&b| b > 0) {
        assert!(
            bytes.is_power_of_two() && bytes >= 32,
            "region of {bytes} bytes"
        );
    }
    assert_eq!(
        Granule::MpuPow2.round(report.regions[0]).0,
        report.regions[0]
    );
    registry.unload("d").unwrap();
}
