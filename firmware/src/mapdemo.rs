//! The memory map on the target: extensions allocated from a `MemoryMap` (`MapMemory`), a
//! file of unknown size received into a reservation that is then shrunk and loaded in place,
//! and the map printed after the loads and checked empty after the unloads.

use core::mem::MaybeUninit;

use alloc::format;
use alloc::vec::Vec;
use elfext::memory::map::{BankKind, RangeFlags, Request, Slot};
use elfext::{BufLoader, MapMemory, MemoryMap, RangeType, Registry};
use semihosting::println;

use crate::exports::FIRMWARE;
use crate::{board, Checks, IntFn0, IntFn1};

/// The arena of the mapped extension heap.
const ARENA_BYTES: usize = 256 * 1024;
#[link_section = ".ext_arena.map"]
static mut ARENA: [MaybeUninit<u8>; ARENA_BYTES] = [MaybeUninit::uninit(); ARENA_BYTES];

/// Bookkeeping of the map: one slot per range.
static mut SLOTS: [Slot; 64] = [Slot::EMPTY; 64];

/// Print the map: every range in address order.
fn print_map(mem: &MapMemory<'_>) {
    println!("memory map (key {}):", mem.map().key());
    for e in mem.map().iter() {
        println!(
            "  {:#010x}-{:#010x} {:>8} B  {:<9} {:<10} {}",
            e.start,
            e.end,
            e.len(),
            format!("{}", e.ty),
            e.owner,
            e.flags
        );
    }
}

pub fn run(checks: &mut Checks) {
    println!("-- memory map");
    // SAFETY: the only references ever made to these statics, made once.
    let (arena, slots) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(ARENA),
            &mut *core::ptr::addr_of_mut!(SLOTS),
        )
    };
    let arena_start = arena.as_ptr() as u64;
    let mut mem = match MapMemory::new(MemoryMap::new(slots), arena, "extension RAM") {
        Ok(m) => m,
        Err(e) => return checks.check("map: set up", false, e),
    };
    // The firmware's flash, known to the map and protected from any reservation.
    let (flash_start, flash_end) = board::flash();
    let flash = mem
        .add_bank(
            flash_start,
            flash_end - flash_start,
            BankKind::Flash,
            "flash",
        )
        .and_then(|_| {
            mem.reserve(
                &Request::new(RangeType::Firmware, flash_end - flash_start)
                    .at(flash_start)
                    .flags(RangeFlags::NO_OVERWRITE)
                    .owner("firmware"),
            )
        });
    checks.ok("map: flash reserved for the firmware, no-overwrite", flash);
    let over = mem.reserve(&Request::new(RangeType::File, 64).at(flash_start + 0x100));
    let named = over
        .as_ref()
        .err()
        .map(|e| format!("{e}"))
        .unwrap_or_default();
    checks.check(
        "map: reserving over the firmware fails naming both ranges",
        named.contains("firmware") && named.contains("file"),
        format!("{over:?}"),
    );

    // A file of unknown size: reserve as much as there is, receive, shrink to its size.
    let obj = object!("dep_a");
    let big = mem.reserve_max(
        &Request::new(RangeType::File, 16)
            .window(arena_start, arena_start + ARENA_BYTES as u64 - 1)
            .align(8)
            .top_down()
            .owner("upload"),
    );
    let Some(big) = checks.ok("map: reserve the largest free block for a file", big) else {
        return;
    };
    // SAFETY: the map reserved this range of the arena for us alone; nothing else
    // writes it while the reservation lasts, and it lasts as long as the registry below.
    let received: &'static mut [u8] =
        unsafe { core::slice::from_raw_parts_mut(big.start as usize as *mut u8, obj.bytes.len()) };
    received.copy_from_slice(obj.bytes);
    let shrunk = mem.shrink(big.start, obj.bytes.len() as u64);
    checks.eq(
        "map: shrunk to the received size",
        shrunk.map(|e| e.len()).ok(),
        Some(obj.bytes.len() as u64),
    );

    let reg = Registry::new(mem, &FIRMWARE);
    let a = reg.load("dep_a", BufLoader::writable(received));
    checks.ok("map: dep_a linked in place in the received file", a);
    let b = reg.load("dep_b", BufLoader::persistent(object!("dep_b").bytes));
    checks.ok("map: dep_b (persistent) linked against dep_a", b);
    let h = reg.load("hello", BufLoader::persistent(object!("hello").bytes));
    checks.ok("map: hello (persistent)", h);
    // SAFETY: C signatures of the symbols asked for.
    let calls = unsafe {
        (
            reg.function::<IntFn1>("dep_b", "b_compute"),
            reg.function::<IntFn0>("hello", "hello"),
        )
    };
    if let (Ok(compute), Ok(hello)) = calls {
        checks.eq("map: calls work", (compute(3), hello()), (106, 23));
    }
    reg.with_memory(print_map);

    let entries: Vec<_> = reg.with_memory(|m| m.map().iter().collect());
    for name in ["dep_b", "hello"] {
        let mine: Vec<_> = entries
            .iter()
            .filter(|e| e.owner.as_bytes() == name.as_bytes())
            .collect();
        let sizes = reg.with(name, |e| e.region_sizes()).unwrap_or_default();
        let regions = mine
            .iter()
            .filter(|e| e.ty != RangeType::Metadata)
            .map(|e| e.len())
            .sum::<u64>();
        checks.check(
            format_args!("map: {name}'s regions and record are reservations it owns"),
            regions == sizes.iter().sum::<u64>()
                && mine.iter().any(|e| e.ty == RangeType::Metadata),
            format!("{mine:?} vs sizes {sizes:?}"),
        );
    }
    for name in ["hello", "dep_b", "dep_a"] {
        let r = reg.unload(name);
        checks.eq(format_args!("map: unload {name}"), r.ok(), Some(0));
    }
    let left: Vec<_> = reg.with_memory(|m| {
        m.map()
            .iter()
            .filter(|e| e.ty != RangeType::Free)
            .map(|e| (e.ty, e.owner))
            .collect()
    });
    checks.check(
        "map: after the unloads only the firmware and the received file are reserved",
        left.len() == 2
            && left.iter().any(|(t, _)| *t == RangeType::Firmware)
            && left.iter().any(|(t, _)| *t == RangeType::File),
        format!("{left:?}"),
    );
    reg.with_memory(print_map);
}
