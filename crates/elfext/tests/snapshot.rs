//! Save and restore of the registry: several extensions with a dependency pair, a
//! persistent one and use counts above one are saved, the registry and its memory's
//! bookkeeping are dropped (the arena's bytes stay: retained RAM), and a registry restored
//! from the snapshot into a fresh `MapMemory` over the same arena runs every extension as
//! before (natively, from an executable low arena), unloads and loads normally.
//! Every truncation and bit flip of a snapshot is refused with the memory handed back
//! unchanged, and so are snapshots whose blocks lie outside the memory or overlap.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use std::collections::BTreeMap;
use std::mem::MaybeUninit;

use common::{gcc, take_printed, HOST};
use elfext::memory::map::{Request, Slot};
use elfext::snapshot::{checksum, HEADER_LEN};
use elfext::{
    BufLoader, Error, HeapStats, HostMemory, LowBuffer, MapEntry, MapMemory, MemoryMap, RangeType,
    Registry, SaveOptions, Storage,
};

const FLAGS: &[&str] = &["-O2", "-fPIC"];
const ARENA: usize = 1 << 20;

/// An executable, writable arena in the low 2 GiB that outlives the registries using it.
struct Arena {
    ptr: *mut u8,
    len: usize,
}

impl Arena {
    fn new(len: usize) -> Self {
        let prot = libc::PROT_READ | libc::PROT_WRITE | libc::PROT_EXEC;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_32BIT;
        // SAFETY: an anonymous private mapping has no preconditions.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
        assert_ne!(ptr, libc::MAP_FAILED, "map the arena");
        Arena {
            ptr: ptr.cast(),
            len,
        }
    }
    fn slice(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: our mapping, borrowed mutably through `self`.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.cast(), self.len) }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; no registry borrows it any more.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

fn memory<'a>(slots: &'a mut [Slot], arena: &'a mut [MaybeUninit<u8>]) -> MapMemory<'a> {
    MapMemory::new(MemoryMap::new(slots), arena, "ext ram").unwrap()
}

fn reservations(mem: &MapMemory<'_>) -> Vec<MapEntry> {
    mem.map()
        .iter()
        .filter(|e| e.ty != RangeType::Free)
        .collect()
}

/// Everything the registry says about one extension, and the bytes of its block.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    storage: Storage,
    uses: u32,
    deps: Vec<String>,
    block: (u64, u64),
    sizes: [u64; 4],
    heap: (u64, u64),
    tables: [u16; 3],
    tls: (u64, u64),
    exports: BTreeMap<String, u64>,
    bytes: Vec<u8>,
}

fn seen(reg: &Registry<'_, MapMemory<'_>>) -> (Vec<(String, Seen)>, HeapStats) {
    let mut all = Vec::new();
    reg.for_each(|e| {
        let mut exports = BTreeMap::new();
        e.for_each_export(|n, a| {
            exports.insert(n.to_string(), a);
        })
        .unwrap();
        let block = e.block();
        // SAFETY: the block is live in the arena.
        let bytes =
            unsafe { std::slice::from_raw_parts(block.0 as usize as *const u8, block.1 as usize) }
                .to_vec();
        all.push((
            e.name().to_string(),
            Seen {
                storage: e.storage(),
                uses: e.use_count(),
                deps: e.dependencies().map(String::from).collect(),
                block,
                sizes: e.region_sizes(),
                heap: e.heap_bytes(),
                tables: e.table_lengths(),
                tls: e.tls_range(),
                exports,
                bytes,
            },
        ));
    });
    (all, reg.heap_stats())
}

/// Results of calls that change nothing.
fn calls(reg: &Registry<'_, MapMemory<'_>>) -> Vec<i64> {
    // SAFETY: the signatures match dep_a.c, dep_b.c, hello.c and data.c.
    unsafe {
        let b_compute: extern "C" fn(i32) -> i32 = reg.function("B", "b_compute").unwrap();
        let b_name_len: extern "C" fn() -> i32 = reg.function("B", "b_name_len").unwrap();
        let hello: extern "C" fn() -> i32 = reg.function("hello", "hello").unwrap();
        let prime_sum: extern "C" fn() -> i32 = reg.function("data", "prime_sum").unwrap();
        let apply: extern "C" fn(i32, i32, i32) -> i32 = reg.function("data", "apply").unwrap();
        let third: extern "C" fn() -> i32 = reg.function("data", "get_third_prime").unwrap();
        let counter = reg
            .with("data", |e| e.data::<i32>("counter"))
            .unwrap()
            .unwrap();
        let r = vec![
            i64::from(b_compute(5)),
            i64::from(b_name_len()),
            i64::from(hello()),
            i64::from(prime_sum()),
            i64::from(apply(2, 6, 7)),
            i64::from(third()),
            i64::from(counter.read_unaligned()),
        ];
        assert_eq!(take_printed(), ["hello from an extension"]);
        r
    }
}

#[test]
fn restore_gives_back_every_extension_as_it_was() {
    let a = gcc("c/dep_a.c", FLAGS);
    let b = gcc("c/dep_b.c", FLAGS);
    let hello = gcc("c/hello.c", FLAGS);
    let data = gcc("c/data.c", FLAGS);
    // A persistent buffer in the low 2 GiB: its read-only sections are used in place, and
    // its exports are read from its symbol table there, before and after the restore.
    let data_buf = LowBuffer::new(&data.bytes).unwrap();
    let mut arena = Arena::new(ARENA);
    let mut slots = [Slot::EMPTY; 64];

    let reg = Registry::new(
        memory(&mut slots, arena.slice()).with_execute_in_place(false),
        &HOST,
    );
    reg.load("A", BufLoader::temporary(&a.bytes)).unwrap();
    reg.load("hello", BufLoader::temporary(&hello.bytes))
        .unwrap();
    reg.load("B", BufLoader::temporary(&b.bytes)).unwrap();
    reg.load("data", BufLoader::persistent(data_buf.as_slice()))
        .unwrap();
    assert_eq!(reg.load("A", BufLoader::temporary(&a.bytes)).unwrap(), 1);
    assert_eq!(
        reg.load("data", BufLoader::persistent(data_buf.as_slice()))
            .unwrap(),
        1
    );
    assert_eq!(
        reg.with("data", |e| e.storage()).unwrap(),
        Storage::Persistent
    );
    let results = calls(&reg);
    assert_eq!(results[..2], [110, 11]);
    let (before, stats) = seen(&reg);
    let map_before = reg.with_memory(reservations);

    let options = SaveOptions {
        region_checksums: true,
    };
    let snap = reg.save_to_vec(options).unwrap();
    // A buffer too small says how much is needed; a big enough one gets the same bytes.
    let mut small = vec![0u8; 10];
    assert_eq!(
        reg.save(&mut small, options),
        Err(Error::SnapshotTooSmall {
            needed: snap.len() as u64,
            given: 10
        })
    );
    let mut big = vec![0u8; snap.len() + 5];
    assert_eq!(reg.save(&mut big, options).unwrap(), snap.len());
    assert_eq!(big[..snap.len()], snap[..]);
    println!(
        "snapshot: {} bytes for {} extensions ({} without region checksums)",
        snap.len(),
        reg.len(),
        reg.save_to_vec(SaveOptions::default()).unwrap().len()
    );

    // Suspend: the registry (not used past this point, nor torn down) and the map's
    // bookkeeping are gone; the arena's bytes stay.
    slots.fill(Slot::EMPTY);

    let mem = memory(&mut slots, arena.slice()).with_execute_in_place(false);
    // SAFETY: the arena and the persistent buffer are untouched since the save, and the
    // host exports are where they were.
    let reg = unsafe { Registry::restore(mem, &HOST, &snap) }
        .map_err(|(e, _)| e)
        .unwrap();
    let (after, stats_after) = seen(&reg);
    assert_eq!(after, before, "every extension is as it was");
    assert_eq!(stats_after.regions, stats.regions);
    assert_eq!(stats_after.padding, stats.padding);
    assert_eq!(stats_after.metadata, stats.metadata);
    assert_eq!(stats_after.allocations, stats.allocations);
    // The map shows the same regions, owned by the same extensions (records may sit
    // elsewhere).
    let regions = |m: &[MapEntry]| -> Vec<MapEntry> {
        m.iter()
            .filter(|e| e.ty != RangeType::Metadata)
            .copied()
            .collect()
    };
    let map_after = reg.with_memory(reservations);
    assert_eq!(regions(&map_after), regions(&map_before));
    assert_eq!(calls(&reg), results, "calls give the same results");

    // Dependencies hold: B writes A's data, A sees it; A cannot go before B.
    // SAFETY: the signatures match dep_a.c and dep_b.c.
    unsafe {
        let b_set_a: extern "C" fn(i32) = reg.function("B", "b_set_a").unwrap();
        let a_bump: extern "C" fn() -> i32 = reg.function("A", "a_bump").unwrap();
        b_set_a(7);
        assert_eq!(a_bump(), 8);
    }
    assert_eq!(reg.unload("A").unwrap(), 1);
    assert!(matches!(reg.unload("A"), Err(Error::InUse { .. })));
    assert_eq!(reg.unload("data").unwrap(), 1);
    assert_eq!(reg.unload("data").unwrap(), 0);
    assert_eq!(reg.unload("B").unwrap(), 0);
    assert_eq!(reg.unload("hello").unwrap(), 0);
    assert_eq!(reg.unload("A").unwrap(), 0);
    assert_eq!(reg.heap_stats().total(), 0);
    assert!(reg.with_memory(reservations).is_empty(), "the map is empty");

    // Further loads work.
    reg.load("hello", BufLoader::temporary(&hello.bytes))
        .unwrap();
    // SAFETY: the signature matches hello.c.
    let f: extern "C" fn() -> i32 = unsafe { reg.function("hello", "hello") }.unwrap();
    assert_eq!(f(), 23);
    assert_eq!(take_printed(), ["hello from an extension"]);
    assert_eq!(reg.unload("hello").unwrap(), 0);
    assert_eq!(reg.heap_stats().total(), 0);
}

/// Load A and B (B depends on A) into a non-native `MapMemory` over `arena`, save, and
/// drop the registry.
fn small_snapshot(arena: &mut [MaybeUninit<u8>], options: SaveOptions) -> Vec<u8> {
    let a = gcc("c/dep_a.c", FLAGS);
    let b = gcc("c/dep_b.c", FLAGS);
    let mut slots = [Slot::EMPTY; 32];
    let reg = Registry::new(memory(&mut slots, arena).with_native(false), &HOST);
    reg.load("A", BufLoader::temporary(&a.bytes)).unwrap();
    reg.load("B", BufLoader::temporary(&b.bytes)).unwrap();
    reg.save_to_vec(options).unwrap()
}

/// Restore must fail, and hand the memory back with no reservation left.
fn refused<'a>(mem: MapMemory<'a>, snap: &[u8], what: &str) -> (Error, MapMemory<'a>) {
    let stats = elfext::Memory::stats(&mem);
    // SAFETY: the arena holds what was saved (and restore must refuse anyway).
    match unsafe { Registry::restore(mem, &HOST, snap) } {
        Ok(_) => panic!("{what}: restored"),
        Err((e, mem)) => {
            assert!(
                reservations(&mem).is_empty(),
                "{what}: {e}: reservations left"
            );
            assert_eq!(elfext::Memory::stats(&mem), stats, "{what}: {e}");
            (e, mem)
        }
    }
}

#[test]
fn every_truncation_and_bit_flip_is_refused() {
    let mut arena = vec![MaybeUninit::uninit(); 256 << 10];
    for region_checksums in [false, true] {
        let snap = small_snapshot(&mut arena, SaveOptions { region_checksums });
        let mut slots = [Slot::EMPTY; 32];
        let mut mem = memory(&mut slots, &mut arena).with_native(false);
        for len in 0..snap.len() {
            mem = refused(mem, &snap[..len], &format!("truncated to {len}")).1;
        }
        for bit in 0..snap.len() * 8 {
            let mut bad = snap.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            mem = refused(mem, &bad, &format!("bit {bit} flipped")).1;
        }
        // The memory handed back takes the good snapshot.
        // SAFETY: the arena holds what was saved.
        let reg = unsafe { Registry::restore(mem, &HOST, &snap) }
            .map_err(|(e, _)| e)
            .unwrap();
        assert_eq!(reg.len(), 2);
        assert_eq!(reg.unload("B").unwrap(), 0);
        assert_eq!(reg.unload("A").unwrap(), 0);
        assert_eq!(reg.heap_stats().total(), 0);
    }
}

/// The snapshot with its trailing checksum recomputed, as a hostile writer would.
fn resealed(mut s: Vec<u8>) -> Vec<u8> {
    let total = s.len();
    let crc = checksum(&s[..total - 4]);
    s[total - 4..].copy_from_slice(&crc.to_le_bytes());
    s
}

/// A snapshot changed anywhere past its header, with the checksum made to match again,
/// is either refused (memory handed back as it was) or restored into a registry that
/// works and gives all its memory back: never a panic, never a claim outside the arena.
#[test]
fn changed_records_with_a_matching_checksum_never_panic() {
    let mut arena = vec![MaybeUninit::uninit(); 256 << 10];
    let (lo, hi) = (
        arena.as_ptr() as u64,
        arena.as_ptr() as u64 + arena.len() as u64,
    );
    let snap = small_snapshot(&mut arena, SaveOptions::default());
    let mut slots = [Slot::EMPTY; 32];
    let mut mem = memory(&mut slots, &mut arena).with_native(false);
    let (mut refusals, mut restored) = (0, 0);
    let changes = (HEADER_LEN..snap.len() - 4).flat_map(|at| {
        (0..8)
            .map(move |bit| (at, 1u8 << bit, false))
            .chain([(at, 0xff, true), (at, 0, true)])
    });
    for (at, v, set) in changes {
        let mut bad = snap.clone();
        if set {
            bad[at] = v;
        } else {
            bad[at] ^= v;
        }
        if bad == snap {
            continue;
        }
        let bad = resealed(bad);
        let stats = elfext::Memory::stats(&mem);
        // SAFETY: nothing runs; the arena holds what was saved and restore only takes
        // ranges of it back.
        match unsafe { Registry::restore(mem, &HOST, &bad) } {
            Err((_, back)) => {
                assert!(reservations(&back).is_empty(), "byte {at} = {v:#x}");
                assert_eq!(elfext::Memory::stats(&back), stats, "byte {at} = {v:#x}");
                refusals += 1;
                mem = back;
            }
            Ok(reg) => {
                reg.with_memory(|m| {
                    for e in reservations(m) {
                        assert!(e.start >= lo && e.end <= hi, "byte {at}: {e:?}");
                    }
                });
                // Unload everything: newest first, every use.
                let mut names = Vec::new();
                reg.for_each(|e| names.push(e.name().to_string()));
                for name in names.iter().rev() {
                    while reg.unload(name).unwrap() > 0 {}
                }
                assert_eq!(reg.heap_stats().total(), 0, "byte {at} = {v:#x}");
                restored += 1;
                mem = reg.into_memory().map_err(|(e, _)| e).unwrap();
            }
        }
    }
    assert!(
        refusals > 0 && restored > 0,
        "{refusals} refused, {restored} restored"
    );
}

/// Snapshot indices are `u32`: a dependency on the 301st extension restores like any other.
#[test]
fn dependencies_past_the_255th_extension_restore() {
    let hello = gcc("c/hello.c", FLAGS);
    let a = gcc("c/dep_a.c", FLAGS);
    let b = gcc("c/dep_b.c", FLAGS);
    let mut arena = vec![MaybeUninit::uninit(); 4 << 20];
    let snap = {
        let mut slots = vec![Slot::EMPTY; 2048];
        let reg = Registry::new(memory(&mut slots, &mut arena).with_native(false), &HOST);
        for i in 0..300 {
            reg.load(&format!("h{i}"), BufLoader::temporary(&hello.bytes))
                .unwrap();
        }
        reg.load("A", BufLoader::temporary(&a.bytes)).unwrap();
        reg.load("B", BufLoader::temporary(&b.bytes)).unwrap();
        reg.save_to_vec(SaveOptions::default()).unwrap()
    };
    let mut slots = vec![Slot::EMPTY; 2048];
    let mem = memory(&mut slots, &mut arena).with_native(false);
    // SAFETY: the arena holds what was saved; nothing runs.
    let reg = unsafe { Registry::restore(mem, &HOST, &snap) }
        .map_err(|(e, _)| e)
        .unwrap();
    assert_eq!(reg.len(), 302);
    assert!(reg.unload("A").is_err(), "B still links against A");
    assert_eq!(reg.unload("B").unwrap(), 0);
    assert_eq!(reg.unload("A").unwrap(), 0);
}

/// Offset of the block address of extension `index` (in its record, 8 bytes in).
fn block_addr_at(snap: &[u8], index: usize) -> usize {
    let crcs = u16::from_le_bytes([snap[10], snap[11]]) & 1 != 0;
    let mut at = HEADER_LEN;
    for i in 0..=index {
        let len = u32::from_le_bytes(snap[at + 8..at + 12].try_into().unwrap()) as usize;
        let record = at + 16;
        if i == index {
            return record + 8;
        }
        at = record + len + if crcs { 16 } else { 0 };
    }
    unreachable!()
}

fn with_block_addr(snap: &[u8], index: usize, addr: u64) -> Vec<u8> {
    let mut s = snap.to_vec();
    let at = block_addr_at(&s, index);
    s[at..at + 8].copy_from_slice(&addr.to_le_bytes());
    resealed(s)
}

fn block_addr(snap: &[u8], index: usize) -> u64 {
    let at = block_addr_at(snap, index);
    u64::from_le_bytes(snap[at..at + 8].try_into().unwrap())
}

#[test]
fn blocks_outside_the_memory_or_overlapping_are_refused() {
    let mut arena = vec![MaybeUninit::uninit(); 256 << 10];
    let start = arena.as_ptr() as u64;
    let end = start + arena.len() as u64;
    let snap = small_snapshot(&mut arena, SaveOptions::default());
    let (a, b) = (block_addr(&snap, 0), block_addr(&snap, 1));
    assert!(a >= start && b < end);
    let mut slots = [Slot::EMPTY; 32];
    let mut mem = memory(&mut slots, &mut arena).with_native(false);

    // Below and beyond the arena; the second case claims A first, then rolls it back.
    for (index, addr) in [(0, start - 0x10_0000), (1, end), (1, end - 16)] {
        let bad = with_block_addr(&snap, index, addr);
        let (e, m) = refused(mem, &bad, &format!("extension {index} at {addr:#x}"));
        // Records sit at the top of the arena: a block reaching past its end overlaps
        // them as well, which the snapshot's own check finds first.
        assert!(
            matches!(
                e,
                Error::OutsideMemory { .. } | Error::SnapshotOverlap { .. }
            ),
            "extension {index} at {addr:#x}: {e}"
        );
        mem = m;
    }
    // Two blocks at the same place.
    let bad = with_block_addr(&snap, 1, a);
    let (e, m) = refused(mem, &bad, "overlap");
    assert!(matches!(e, Error::SnapshotOverlap { .. }), "{e}");
    mem = m;
    // A block over a reservation of the application's own.
    let own = mem
        .reserve(&Request::new(RangeType::File, 64).at(b))
        .unwrap();
    // SAFETY: as in `refused` (which cannot be used: a reservation is expected to stay).
    let (e, mut mem) = match unsafe { Registry::restore(mem, &HOST, &snap) } {
        Ok(_) => panic!("restored over a reservation"),
        Err(x) => x,
    };
    assert!(matches!(e, Error::MapOverlap { .. }), "{e}");
    assert_eq!(
        reservations(&mem),
        [own],
        "only the application's range is left"
    );
    mem.release(own.start).unwrap();
    // A region changed since the save is caught by its checksum.
    let snap = small_snapshot(
        &mut arena,
        SaveOptions {
            region_checksums: true,
        },
    );
    let a = block_addr(&snap, 0);
    let off = (a - start) as usize;
    arena[off] = MaybeUninit::new(!unsafe { arena[off].assume_init() });
    let mem = memory(&mut slots, &mut arena).with_native(false);
    let (e, _) = refused(mem, &snap, "changed region");
    assert!(
        matches!(
            e,
            Error::RegionChecksum {
                kind: elfext::RegionKind::Text,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn a_memory_that_cannot_claim_blocks_says_so() {
    let mut arena = vec![MaybeUninit::uninit(); 256 << 10];
    let snap = small_snapshot(&mut arena, SaveOptions::default());
    // SAFETY: restore refuses before touching anything.
    match unsafe { Registry::restore(HostMemory::new(1 << 20).unwrap(), &HOST, &snap) } {
        Ok(_) => panic!("restored into other granules"),
        Err((e, mem)) => {
            // HostMemory's granules are pages; the map's here are none.
            assert!(matches!(e, Error::BadSnapshot { .. }), "{e}");
            assert_eq!(elfext::Memory::stats(&mem).total(), 0);
        }
    }
    let hello = gcc("c/hello.c", FLAGS);
    let reg = Registry::new(HostMemory::new(1 << 20).unwrap(), &HOST);
    reg.load("hello", BufLoader::temporary(&hello.bytes))
        .unwrap();
    let snap = reg.save_to_vec(SaveOptions::default()).unwrap();
    // SAFETY: restore refuses before touching anything.
    match unsafe { Registry::restore(HostMemory::new(1 << 20).unwrap(), &HOST, &snap) } {
        Ok(_) => panic!("HostMemory cannot take blocks back"),
        Err((e, mem)) => {
            assert_eq!(e, Error::NoFixedBlocks);
            assert_eq!(elfext::Memory::stats(&mem).total(), 0);
        }
    }
    assert_eq!(reg.unload("hello").unwrap(), 0);
    // An empty snapshot restores into any memory.
    let empty = reg.save_to_vec(SaveOptions::default()).unwrap();
    // SAFETY: an empty snapshot points to nothing.
    let reg = unsafe { Registry::restore(HostMemory::new(1 << 20).unwrap(), &HOST, &empty) }
        .map_err(|(e, _)| e)
        .unwrap();
    assert!(reg.is_empty());
}

/// A snapshot written on the host for a target's layout (`TargetMemory`, ARM, records in
/// host memory) restores into the target's memory (`MapMemory` over the target's RAM):
/// the records, whose host addresses mean nothing there, are allocated anew.
#[test]
fn a_snapshot_saved_on_the_host_for_a_target_restores_there() {
    use elfext::{Arch, ExportMap, Granules, TargetMemory};
    use elfext_testkit::{build, Compiler};
    let flags = ["-O2", "-mcpu=cortex-m4", "-mthumb", "-ffunction-sections"];
    let gcc = Compiler::Cross("arm-none-eabi-gcc");
    let a = build(gcc, "c/dep_a.c", &flags);
    let b = build(gcc, "c/dep_b.c", &flags);
    let mut arena = vec![MaybeUninit::<u8>::uninit(); 256 << 10];
    let base = arena.as_ptr() as u64;
    // The firmware's strlen (gcc turns B's loop into a call), 1 KiB below the RAM.
    let mut exports = ExportMap::new();
    exports.insert("strlen", (base - 0x400) | 1);
    let host = Registry::for_arch(
        TargetMemory::new(base, arena.len(), Granules::NONE),
        &exports,
        Arch::Arm,
    );
    host.load("A", BufLoader::temporary(&a)).unwrap();
    host.load("B", BufLoader::temporary(&b)).unwrap();
    host.load("A", BufLoader::temporary(&a)).unwrap();
    fn symbols<M: elfext::Memory>(reg: &Registry<'_, M>) -> Vec<u64> {
        ["a_twice", "a_value", "a_name"]
            .iter()
            .map(|s| reg.symbol("A", s).unwrap())
            .chain(
                ["b_compute", "b_name_len"]
                    .iter()
                    .map(|s| reg.symbol("B", s).unwrap()),
            )
            .collect()
    }
    let want = symbols(&host);
    let snap = host
        .save_to_vec(SaveOptions {
            region_checksums: true,
        })
        .unwrap();
    // "Flash" the linked blocks into the target's RAM.
    for name in ["A", "B"] {
        let (addr, size) = host.with(name, |e| e.block()).unwrap();
        let bytes = host.with_memory(|m| m.bytes(addr, size as usize).unwrap().to_vec());
        let at = (addr - base) as usize;
        for (d, s) in arena[at..at + bytes.len()].iter_mut().zip(bytes) {
            d.write(s);
        }
    }
    let mut slots = [Slot::EMPTY; 32];
    let mem = memory(&mut slots, &mut arena).with_native(false);
    // SAFETY: the arena holds the linked blocks; nothing runs.
    let reg = unsafe { Registry::restore(mem, &exports, &snap) }
        .map_err(|(e, _)| e)
        .unwrap();
    assert_eq!(reg.arch(), Arch::Arm);
    assert_eq!(symbols(&reg), want);
    assert_eq!(reg.with("A", |e| e.use_count()).unwrap(), 2);
    // Records were allocated: metadata in the map besides the regions.
    let meta = reg.with_memory(|m| {
        m.map()
            .iter()
            .filter(|e| e.ty == RangeType::Metadata)
            .count()
    });
    assert_eq!(meta, 2);
    assert!(matches!(reg.unload("A"), Ok(1)));
    assert!(reg.unload("A").is_err(), "B still links against A");
    assert_eq!(reg.unload("B").unwrap(), 0);
    assert_eq!(reg.unload("A").unwrap(), 0);
    assert_eq!(reg.heap_stats().total(), 0);
}
