//! Snapshot benchmarks: restoring a registry from a snapshot versus loading and linking the
//! same extensions afresh, and snapshot bytes per extension.
//!
//! Run with `cargo bench -p elfext --features std --bench snapshot`. Before criterion's
//! runs `main` prints a table: for sets of 1, 4 and 8 extensions (a dependency pair among
//! them) and for the `load` bench's big generated object, the snapshot's bytes (with and without region checksums) and per extension, and
//! the median time of a fresh load + link of the set, of a restore, and of a restore that
//! verifies region checksums, with the speedup of restore over reloading.
//!
//! Memory: a `MapMemory` over a `Vec` arena with no protection granules (the
//! microcontroller case; linking only, nothing is run). Only `load` calls, or only the
//! `restore` call, are timed: making the memory and the registry is not, and neither is
//! dropping them.

// Only some of the shared helpers are used here.
#[allow(dead_code)]
mod common;

use std::hint::black_box;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use elfext::memory::map::Slot;
use elfext::{BufLoader, ExportMap, MapMemory, MemoryMap, Registry, SaveOptions};
use elfext_testkit::{build, Compiler};

/// Extension sets: name and source (relative to `extensions/`, or under `benches/ext`).
const ALL: [(&str, &str); 8] = [
    ("A", "c/dep_a.c"),
    ("B", "c/dep_b.c"),
    ("hello", "c/hello.c"),
    ("data", "c/data.c"),
    ("bss", "bench:bss.c"),
    ("chain", "bench:chain.c"),
    ("base", "bench:dep_base.c"),
    ("user", "bench:dep_user.c"),
];

const ARENA: usize = 1 << 20;

/// Named object files, loaded in order.
type Set = Vec<(&'static str, Vec<u8>)>;

fn objects(n: usize) -> Vec<(&'static str, Vec<u8>)> {
    let bench = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/ext");
    ALL[..n]
        .iter()
        .map(|&(name, src)| {
            let path = match src.strip_prefix("bench:") {
                Some(f) => bench.join(f).to_str().expect("UTF-8 path").to_string(),
                None => src.to_string(),
            };
            (name, build(Compiler::Gcc, &path, common::CFLAGS))
        })
        .collect()
}

fn exports(near: u64) -> ExportMap {
    let mut e = ExportMap::new();
    for (i, name) in ["host_print", "host_add", "host_record", "strlen"]
        .iter()
        .enumerate()
    {
        e.insert(name, near - 0x1000 + 16 * i as u64);
    }
    e
}

fn memory<'a>(slots: &'a mut [Slot], arena: &'a mut [MaybeUninit<u8>]) -> MapMemory<'a> {
    MapMemory::new(MemoryMap::new(slots), arena, "ext ram")
        .unwrap()
        .with_native(false)
}

/// Load `objs` into a fresh registry; returns the time the loads took.
fn reload(
    slots: &mut [Slot],
    arena: &mut [MaybeUninit<u8>],
    exports: &ExportMap,
    objs: &[(&str, Vec<u8>)],
) -> Duration {
    let reg = Registry::new(memory(slots, arena), exports);
    let t = Instant::now();
    for (name, bytes) in objs {
        black_box(reg.load(name, BufLoader::temporary(bytes)).unwrap());
    }
    let d = t.elapsed();
    black_box(&reg);
    d
}

/// Restore `snap` into a fresh memory over `arena`; returns the time restore took.
fn restore(
    slots: &mut [Slot],
    arena: &mut [MaybeUninit<u8>],
    exports: &ExportMap,
    snap: &[u8],
) -> Duration {
    let mem = memory(slots, arena);
    let t = Instant::now();
    // SAFETY: the arena holds what was saved; nothing runs.
    let reg = unsafe { Registry::restore(mem, exports, snap) }
        .map_err(|(e, _)| e)
        .unwrap();
    let d = t.elapsed();
    black_box(&reg);
    d
}

/// Snapshots of the set of `n`, without and with region checksums, saved from a registry
/// over `arena` (which keeps the linked bytes afterwards).
fn snapshots(
    arena: &mut [MaybeUninit<u8>],
    exports: &ExportMap,
    objs: &[(&str, Vec<u8>)],
) -> (Vec<u8>, Vec<u8>) {
    let mut slots = [Slot::EMPTY; 64];
    let reg = Registry::new(memory(&mut slots, arena), exports);
    for (name, bytes) in objs {
        reg.load(name, BufLoader::temporary(bytes)).unwrap();
    }
    (
        reg.save_to_vec(SaveOptions::default()).unwrap(),
        reg.save_to_vec(SaveOptions {
            region_checksums: true,
        })
        .unwrap(),
    )
}

fn median(mut f: impl FnMut() -> Duration, runs: usize) -> f64 {
    let mut v: Vec<f64> = (0..runs).map(|_| f().as_nanos() as f64).collect();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn table(runs: usize) {
    println!();
    println!("restore vs fresh load + link (MapMemory, no granules, temporary loaders)");
    println!(
        "{:>4} {:>10} {:>10} {:>8} {:>11} {:>11} {:>11} {:>8} {:>8}",
        "exts",
        "snap B",
        "+crc B",
        "B/ext",
        "reload ns",
        "restore ns",
        "+crc ns",
        "speedup",
        "+crc"
    );
    // Sets of small extensions, then one big one (the `load` bench's generated object:
    // 4 000 functions, 28 000 relocations), where linking does real work.
    let big = common::big_object(4000, 256, common::CFLAGS);
    let sets: [(&str, Set); 4] = [
        ("1", objects(1)),
        ("4", objects(4)),
        ("8", objects(8)),
        ("big", vec![("big", big)]),
    ];
    for (label, objs) in &sets {
        let mut arena = vec![MaybeUninit::uninit(); ARENA];
        let exports = exports(arena.as_ptr() as u64);
        let (plain, crcs) = snapshots(&mut arena, &exports, objs);
        let mut other = vec![MaybeUninit::uninit(); ARENA];
        let mut slots = [Slot::EMPTY; 64];
        let runs = if *label == "big" { runs.min(31) } else { runs };
        let reload_ns = median(|| reload(&mut slots, &mut other, &exports, objs), runs);
        let restore_ns = median(|| restore(&mut slots, &mut arena, &exports, &plain), runs);
        let crc_ns = median(|| restore(&mut slots, &mut arena, &exports, &crcs), runs);
        println!(
            "{label:>4} {:>10} {:>10} {:>8.0} {reload_ns:>11.0} {restore_ns:>11.0} {crc_ns:>11.0} {:>7.1}x {:>7.1}x",
            plain.len(),
            crcs.len(),
            plain.len() as f64 / objs.len() as f64,
            reload_ns / restore_ns,
            reload_ns / crc_ns,
        );
    }
    println!();
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("snapshot");
    for n in [4, 8] {
        let objs = objects(n);
        let mut arena = vec![MaybeUninit::uninit(); ARENA];
        let exports = exports(arena.as_ptr() as u64);
        let (plain, crcs) = snapshots(&mut arena, &exports, &objs);
        let mut other = vec![MaybeUninit::uninit(); ARENA];
        let mut slots = [Slot::EMPTY; 64];
        g.bench_with_input(BenchmarkId::new("reload", n), &n, |b, _| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| reload(&mut slots, &mut other, &exports, &objs))
                    .sum()
            })
        });
        for (label, snap) in [("restore", &plain), ("restore+crc", &crcs)] {
            g.bench_with_input(BenchmarkId::new(label, n), &n, |b, _| {
                b.iter_custom(|iters| {
                    (0..iters)
                        .map(|_| restore(&mut slots, &mut arena, &exports, snap))
                        .sum()
                })
            });
        }
    }
    g.finish();
}

fn main() {
    let test = std::env::args().any(|a| a == "--test");
    table(if test { 5 } else { 301 });
    let mut c = common::quick_criterion();
    bench(&mut c);
    c.final_summary();
}
