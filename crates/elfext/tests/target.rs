//! Linking for another address space: `TargetMemory` places regions inside a described
//! window, relocations use target addresses, and the linked bytes can be read back.

mod common;

use common::gcc;
use elfext::{BufLoader, ExportMap, Granules, Placed, RegionKind, Registry, TargetMemory};

const BASE: u64 = 0x2000_0000;
const HOST_PRINT: u64 = 0x1000_0400;

#[test]
fn hello_links_at_target_addresses() {
    let obj = gcc("c/hello.c", &["-O2", "-fno-pic"]);
    let mut exports = ExportMap::new();
    exports.insert("host_print", HOST_PRINT);
    let registry = Registry::new(TargetMemory::new(BASE, 64 << 10, Granules::MPU32), &exports);
    let mut placed: Vec<(String, RegionKind, u64, u64)> = Vec::new();
    let report = registry
        .load_traced(
            "hello",
            BufLoader::temporary(&obj.bytes),
            &mut |p: Placed<'_>| {
                placed.push((
                    String::from_utf8_lossy(p.name).into_owned(),
                    p.kind,
                    p.addr,
                    p.size,
                ));
            },
        )
        .unwrap();
    assert!(report.relocations >= 2);
    let (block, size) = registry.with("hello", |e| e.block()).unwrap();
    assert!(
        block >= BASE && block + size <= BASE + (64 << 10),
        "block {block:#x}+{size:#x} outside the window"
    );
    assert_eq!(block % 32, 0, "MPU32 granule alignment on the target");
    assert_eq!(
        registry.symbol("hello", "hello").unwrap(),
        placed.iter().find(|p| p.0 == ".text").unwrap().2
    );

    // Read the linked code back and check both relocations against target addresses.
    let text = placed
        .iter()
        .find(|p| p.0 == ".text")
        .expect(".text placed")
        .clone();
    let str_at = placed
        .iter()
        .find(|p| p.0.starts_with(".rodata"))
        .expect("string placed")
        .2;
    let code = registry.with_memory(|m| m.bytes(text.2, text.3 as usize).unwrap().to_vec());
    // gcc -O2 -fno-pic: `mov $.LC0, %edi` (bf imm32) then `jmp host_print` (e9 rel32).
    let mov = code
        .iter()
        .position(|&b| b == 0xbf)
        .expect("mov $imm32, %edi");
    let imm = u32::from_le_bytes(code[mov + 1..mov + 5].try_into().unwrap());
    assert_eq!(
        u64::from(imm),
        str_at,
        "R_X86_64_32 holds the string's target address"
    );
    let jmp = code
        .iter()
        .position(|&b| b == 0xe9 || b == 0xe8)
        .expect("call or jump to host_print");
    let rel = i32::from_le_bytes(code[jmp + 1..jmp + 5].try_into().unwrap());
    let next = text.2 + jmp as u64 + 5;
    assert_eq!(
        next.wrapping_add(rel as i64 as u64),
        HOST_PRINT,
        "R_X86_64_PLT32 reaches host_print directly"
    );
    registry.unload("hello").unwrap();
    assert_eq!(registry.heap_stats().total(), 0);
}

#[test]
fn target_memory_refuses_native_calls_and_reports_out_of_window() {
    let obj = gcc("c/hello.c", &["-O2", "-fPIC"]);
    let mut exports = ExportMap::new();
    exports.insert("host_print", HOST_PRINT);
    let registry = Registry::new(TargetMemory::new(BASE, 4096, Granules::PAGES), &exports);
    // Two pages of TEXT and RODATA do not fit in one page of target memory.
    let err = registry
        .load("hello", BufLoader::temporary(&obj.bytes))
        .unwrap_err();
    assert!(matches!(err, elfext::Error::OutOfMemory { .. }), "{err}");
    assert_eq!(registry.heap_stats().total(), 0);
    let memory = registry
        .into_memory()
        .unwrap_or_else(|_| panic!("nothing loaded"));
    assert!(
        memory.bytes(BASE + 4000, 200).is_none(),
        "reads past the window are refused"
    );
    let registry = Registry::new(TargetMemory::new(BASE, 64 << 10, Granules::NONE), &exports);
    registry
        .load("hello", BufLoader::temporary(&obj.bytes))
        .unwrap();
    let call = registry
        .with("hello", |e| {
            unsafe { e.function::<extern "C" fn() -> i32>("hello") }.err()
        })
        .unwrap();
    assert_eq!(call, Some(elfext::Error::NotNative));
    registry.unload("hello").unwrap();
}
