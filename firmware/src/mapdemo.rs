//! The memory map on the target: extensions allocated from a `MemoryMap` (`MapMemory`), a
//! file of unknown size received into a reservation that is then shrunk and loaded in place,
//! and the map printed after the loads and checked empty after the unloads.

use core::mem::MaybeUninit;

use alloc::format;
use alloc::vec::Vec;
use elfext::memory::map::{BankKind, RangeFlags, Request, Slot};
use elfext::{BufLoader, MapMemory, MemoryMap, RangeType, Registry, SaveOptions};
use semihosting::println;

use crate::exports::FIRMWARE;
use crate::{board, Checks, IntFn0, IntFn1};

/// The arena of the mapped extension heap.
const ARENA_BYTES: usize = 256 * 1024;
#[link_section = ".ext_arena.map"]
static mut ARENA: [MaybeUninit<u8>; ARENA_BYTES] = [MaybeUninit::uninit(); ARENA_BYTES];

/// Bookkeeping of the map: one slot per range (a second set for the map rebuilt on resume).
static mut SLOTS: [Slot; 64] = [Slot::EMPTY; 64];
static mut RESUMED_SLOTS: [Slot; 64] = [Slot::EMPTY; 64];

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

/// Tell the map about the flash and reserve all of it for the firmware, no-overwrite.
fn reserve_flash(mem: &mut MapMemory<'_>) -> elfext::Result<elfext::MapEntry> {
    let (start, end) = board::flash();
    mem.add_bank(start, end - start, BankKind::Flash, "flash")?;
    mem.reserve(
        &Request::new(RangeType::Firmware, end - start)
            .at(start)
            .flags(RangeFlags::NO_OVERWRITE)
            .owner("firmware"),
    )
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
    let flash_start = board::flash().0;
    let flash = reserve_flash(&mut mem);
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
    let t = board::cycles();
    let a = reg.load("dep_a", BufLoader::writable(received));
    let b = reg.load("dep_b", BufLoader::persistent(object!("dep_b").bytes));
    let h = reg.load("hello", BufLoader::persistent(object!("hello").bytes));
    let l = reg.load("libc", BufLoader::persistent(object!("libc").bytes));
    let load_cycles = board::elapsed(t, board::cycles());
    checks.ok("map: dep_a linked in place in the received file", a);
    checks.ok("map: dep_b (persistent) linked against dep_a", b);
    checks.ok("map: hello (persistent)", h);
    checks.ok("map: libc (persistent)", l);
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
    let Some(reg) = suspend_and_resume(checks, reg, big.start, obj.bytes.len() as u64, load_cycles)
    else {
        return;
    };
    for name in ["libc", "hello", "dep_b", "dep_a"] {
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

/// Save the registry, lose it (as across a suspend that keeps RAM), rebuild the map as the
/// application would on resume, restore, and check nothing changed: calls, use counts,
/// dependencies and the map's reservations.
fn suspend_and_resume(
    checks: &mut Checks,
    reg: Registry<'static, MapMemory<'static>>,
    file: u64,
    file_len: u64,
    load_cycles: u32,
) -> Option<Registry<'static, MapMemory<'static>>> {
    let mut snapshot = [0u8; 1024];
    let t = board::cycles();
    let saved = reg.save(
        &mut snapshot,
        SaveOptions {
            region_checksums: false,
        },
    );
    let save_cycles = board::elapsed(t, board::cycles());
    let n = checks.ok("snapshot: saved", saved)?;
    let snapshot = &snapshot[..n];
    let before: Vec<_> =
        reg.with_memory(|m| m.map().iter().filter(|e| e.ty != RangeType::Free).collect());
    let uses = ["dep_a", "dep_b", "hello", "libc"].map(|x| reg.with(x, |e| e.use_count()).ok());
    let arena = reg.with_memory(|m| {
        m.map()
            .banks()
            .find(|b| b.kind == BankKind::Ram)
            .map(|b| (b.start, b.end))
    });
    // Suspend: the registry and the map are gone; the arena's contents stay.
    {
        let _lost = reg;
    }
    let (arena_start, arena_end) = arena?;

    // Resume: a fresh map over the same arena, the application's own ranges again.
    // SAFETY: the registry that used ARENA is gone; this is the only reference now.
    let (arena, slots) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(ARENA),
            &mut *core::ptr::addr_of_mut!(RESUMED_SLOTS),
        )
    };
    let mut mem = MapMemory::new(MemoryMap::new(slots), arena, "extension RAM").ok()?;
    let own = reserve_flash(&mut mem).and_then(|_| {
        mem.reserve(
            &Request::new(RangeType::File, file_len)
                .at(file)
                .owner("upload"),
        )
    });
    checks.ok("snapshot: the application's own ranges reserved again", own);

    // A corrupted snapshot is refused and the memory comes back untouched.
    let mut bad = [0u8; 1024];
    bad[..snapshot.len()].copy_from_slice(snapshot);
    bad[snapshot.len() / 2] ^= 0x10;
    // SAFETY: the regions are where the snapshot says (RAM was kept); the buffers of dep_a
    // (the received file) and of the persistent objects (flash) are still in place.
    let refused = unsafe { Registry::restore(mem, &FIRMWARE, &bad[..snapshot.len()]) };
    let mem = match refused {
        Ok(_) => {
            checks.check(
                "snapshot: a flipped bit is refused",
                false,
                "restored anyway",
            );
            return None;
        }
        Err((e, mem)) => {
            checks.check("snapshot: a flipped bit is refused", true, "");
            println!("  error: {e}");
            mem
        }
    };
    let t = board::cycles();
    // SAFETY: as above.
    let restored = unsafe { Registry::restore(mem, &FIRMWARE, snapshot) };
    let restore_cycles = board::elapsed(t, board::cycles());
    let reg = match restored {
        Ok(r) => r,
        Err((e, _)) => {
            checks.check("snapshot: restored", false, e);
            return None;
        }
    };
    checks.check("snapshot: restored", true, "");
    println!(
        "  snapshot of 4 extensions: {n} bytes, saved in {save_cycles} cycles; restore {restore_cycles} cycles against {load_cycles} to load and link them ({}x); arena {arena_start:#x}..{arena_end:#x}",
        load_cycles / restore_cycles.max(1)
    );
    let after: Vec<_> = reg.with_memory(|m| {
        m.map()
            .iter()
            .filter(|e| e.ty != RangeType::Free && e.ty != RangeType::Metadata)
            .collect()
    });
    let before: Vec<_> = before
        .into_iter()
        .filter(|e| e.ty != RangeType::Metadata)
        .collect();
    checks.eq(
        "snapshot: every region reservation as before",
        after,
        before,
    );
    let uses_after =
        ["dep_a", "dep_b", "hello", "libc"].map(|x| reg.with(x, |e| e.use_count()).ok());
    checks.eq("snapshot: use counts as before", uses_after, uses);
    let deps: Vec<_> = reg
        .with("dep_b", |e| {
            e.dependencies().map(alloc::string::String::from).collect()
        })
        .unwrap_or_default();
    checks.eq(
        "snapshot: dep_b still depends on dep_a",
        deps,
        ["dep_a".into()].to_vec(),
    );
    // SAFETY: C signatures of the symbols asked for.
    let calls = unsafe {
        (
            reg.function::<IntFn1>("dep_b", "b_compute"),
            reg.function::<IntFn0>("hello", "hello"),
        )
    };
    if let (Ok(compute), Ok(hello)) = calls {
        checks.eq(
            "snapshot: calls give what they gave before",
            (compute(3), hello()),
            (106, 23),
        );
    }
    let refused = reg.unload("dep_a");
    checks.check(
        "snapshot: dep_a still cannot go while dep_b uses it",
        refused.is_err(),
        format!("{refused:?}"),
    );
    Some(reg)
}
