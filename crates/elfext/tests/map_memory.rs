//! `MapMemory`: extensions allocated from the memory map. After loads the map shows each
//! extension's regions by type and owner, unloads free them, failed loads leave the map's
//! reservations as they were, and the application's own reservations live beside them.

mod common;

use std::mem::MaybeUninit;

use common::gcc;
use elfext::memory::map::{Request, Slot};
use elfext::{
    BufLoader, Error, ExportMap, Granules, MapEntry, MapMemory, MemoryMap, RangeType, Registry,
};

/// Objects linked here are not run: position-independent code links anywhere in the host's
/// address space.
const FLAGS: &[&str] = &["-O2", "-fPIC"];

fn exports(near: u64) -> ExportMap {
    let mut e = ExportMap::new();
    for (i, name) in ["host_print", "host_record", "host_add", "strlen"]
        .iter()
        .enumerate()
    {
        e.insert(name, near - 0x1000 + 16 * i as u64);
    }
    e
}

/// Extensions allocated from `map` over `arena`, linked but not run.
fn mapped<'a>(map: MemoryMap<'a>, arena: &'a mut [MaybeUninit<u8>]) -> MapMemory<'a> {
    MapMemory::new(map, arena, "ext heap")
        .unwrap()
        .with_native(false)
}

fn reservations(mem: &MapMemory<'_>) -> Vec<MapEntry> {
    mem.map()
        .iter()
        .filter(|e| e.ty != RangeType::Free)
        .collect()
}

fn owned<'e>(entries: &'e [MapEntry], owner: &str) -> Vec<&'e MapEntry> {
    entries
        .iter()
        .filter(|e| e.owner.as_bytes() == owner.as_bytes())
        .collect()
}

#[test]
fn the_map_shows_each_extension_by_region_type_and_name() {
    let mut slots = [Slot::EMPTY; 64];
    let mut arena = vec![MaybeUninit::uninit(); 256 << 10];
    let base = arena.as_ptr() as u64;
    let mem = mapped(MemoryMap::new(&mut slots), &mut arena);
    let exports = exports(base);
    let reg = Registry::new(mem, &exports);
    let data = gcc("c/data.c", FLAGS);
    let hello = gcc("c/hello.c", FLAGS);
    reg.load("data", BufLoader::temporary(&data.bytes)).unwrap();
    reg.load("hello", BufLoader::temporary(&hello.bytes))
        .unwrap();

    let entries = reg.with_memory(reservations);
    for (name, ext) in [("data", &data), ("hello", &hello)] {
        let mine = owned(&entries, name);
        let (block, len) = reg.with(name, |e| e.block()).unwrap();
        let sizes = reg.with(name, |e| e.region_sizes()).unwrap();
        // One reservation per non-empty region, inside the block, of the region's type.
        let regions: Vec<_> = mine
            .iter()
            .filter(|e| e.ty != RangeType::Metadata)
            .collect();
        let kinds = [
            RangeType::Text,
            RangeType::Rodata,
            RangeType::Data,
            RangeType::Bss,
        ];
        for (k, ty) in kinds.iter().enumerate() {
            let of_kind: Vec<_> = regions.iter().filter(|e| e.ty == *ty).collect();
            assert_eq!(
                of_kind.len(),
                usize::from(sizes[k] > 0),
                "{name}: {ty} ranges in {entries:#?} ({})",
                ext.path.display()
            );
            if let Some(e) = of_kind.first() {
                assert_eq!(e.len(), sizes[k], "{name}: size of its {ty}");
                assert!(
                    e.start >= block && e.end <= block + len,
                    "{name}: {ty} outside its block"
                );
            }
        }
        assert!(
            mine.iter().any(|e| e.ty == RangeType::Metadata),
            "{name}: its record is a metadata reservation"
        );
    }
    let key = reg.with_memory(|m| m.map().key());
    assert_eq!(reg.unload("data").unwrap(), 0);
    let entries = reg.with_memory(reservations);
    assert!(
        owned(&entries, "data").is_empty(),
        "unload frees every range: {entries:#?}"
    );
    assert!(!owned(&entries, "hello").is_empty());
    assert_ne!(
        reg.with_memory(|m| m.map().key()),
        key,
        "the key tells the map changed"
    );
    assert_eq!(reg.unload("hello").unwrap(), 0);
    reg.with_memory(|m| {
        let all: Vec<_> = m.map().iter().collect();
        assert_eq!(all.len(), 1, "one free range again: {all:#?}");
        assert_eq!(all[0].ty, RangeType::Free);
    });
    assert_eq!(reg.heap_stats().total(), 0);
}

#[test]
fn a_failed_load_leaves_the_reservations_as_they_were() {
    let mut slots = [Slot::EMPTY; 32];
    let mut arena = vec![MaybeUninit::uninit(); 64 << 10];
    let base = arena.as_ptr() as u64;
    let mem = mapped(MemoryMap::new(&mut slots), &mut arena);
    let exports = exports(base);
    let reg = Registry::new(mem, &exports);
    let hello = gcc("c/hello.c", FLAGS);
    reg.load("hello", BufLoader::temporary(&hello.bytes))
        .unwrap();
    let before = reg.with_memory(reservations);
    let stats = reg.heap_stats();
    let missing = gcc("c/missing.c", FLAGS);
    assert!(matches!(
        reg.load("missing", BufLoader::temporary(&missing.bytes)),
        Err(Error::MissingSymbols(_))
    ));
    // Too big for the arena: the bss object wants 328 KB.
    let bss = gcc("c/bss.c", FLAGS);
    assert!(matches!(
        reg.load("bss", BufLoader::temporary(&bss.bytes)),
        Err(Error::OutOfMemory { .. })
    ));
    assert_eq!(reg.with_memory(reservations), before);
    assert_eq!(reg.heap_stats(), stats);
}

#[test]
fn running_out_of_map_slots_is_an_error_that_changes_nothing() {
    // Enough slots for the free range and a few reservations, not for data.c's regions.
    let mut slots = [Slot::EMPTY; 4];
    let mut arena = vec![MaybeUninit::uninit(); 64 << 10];
    let base = arena.as_ptr() as u64;
    let mem = mapped(MemoryMap::new(&mut slots), &mut arena);
    let exports = exports(base);
    let reg = Registry::new(mem, &exports);
    let data = gcc("c/data.c", FLAGS);
    let r = reg.load("data", BufLoader::temporary(&data.bytes));
    assert!(matches!(r, Err(Error::MapFull { .. })), "{r:?}");
    assert!(reg.with_memory(reservations).is_empty());
    assert_eq!(reg.heap_stats().total(), 0);
}

#[test]
fn application_reservations_live_beside_extensions() {
    let mut slots = [Slot::EMPTY; 64];
    let mut arena = vec![MaybeUninit::uninit(); 128 << 10];
    let base = arena.as_ptr() as u64;
    let mut mem = mapped(MemoryMap::new(&mut slots), &mut arena);
    // A received file of unknown size: reserve all there is, then shrink.
    let file = mem
        .reserve_max(&Request::new(RangeType::File, 1).top_down().owner("upload"))
        .unwrap();
    assert_eq!(file.len(), 128 << 10);
    let file = mem.shrink(file.start, 1000).unwrap();
    assert_eq!(file.len(), 1000);
    assert!(mem.reserve_max(&Request::new(RangeType::Data, 1)).is_err());
    // Extension types are the loader's.
    assert!(mem.reserve(&Request::new(RangeType::Text, 64)).is_err());
    let exports = exports(base);
    let reg = Registry::new(mem, &exports);
    let data = gcc("c/data.c", FLAGS);
    reg.load("data", BufLoader::temporary(&data.bytes)).unwrap();
    let entries = reg.with_memory(reservations);
    let ranges: Vec<_> = entries.iter().map(|e| (e.start, e.end)).collect();
    for w in ranges.windows(2) {
        assert!(w[0].1 <= w[1].0, "overlap in {entries:#?}");
    }
    assert_eq!(owned(&entries, "upload").len(), 1);
    let text = owned(&entries, "data")
        .into_iter()
        .find(|e| e.ty == RangeType::Text)
        .copied()
        .unwrap();
    assert_eq!(reg.unload("data").unwrap(), 0);
    let mut mem = reg.into_memory().map_err(|(e, _)| e).unwrap();
    assert!(mem.release(file.start).is_ok());
    assert!(mem.map().entry_at(text.start).unwrap().ty == RangeType::Free);
    assert!(reservations(&mem).is_empty());
}

#[test]
fn map_granules_shape_the_regions() {
    let mut slots = [Slot::EMPTY; 64];
    let mut arena = vec![MaybeUninit::uninit(); 256 << 10];
    let base = arena.as_ptr() as u64;
    let map = MemoryMap::new(&mut slots).with_granules(Granules::MPU32);
    let mem = mapped(map, &mut arena);
    let exports = exports(base);
    let reg = Registry::new(mem, &exports);
    let data = gcc("c/data.c", FLAGS);
    reg.load("data", BufLoader::temporary(&data.bytes)).unwrap();
    for e in reg.with_memory(reservations) {
        if e.ty != RangeType::Metadata {
            assert_eq!(e.start % 32, 0, "{e:?}");
            assert_eq!(e.len() % 32, 0, "{e:?}");
        }
    }
    assert_eq!(reg.unload("data").unwrap(), 0);
}
