//! Memory map benchmarks: allocations and frees per second at 10, 1 000 and 100 000 live
//! reservations, and fragmentation after random load/unload cycles, compared between the
//! map's top-down and bottom-up placement and the TLSF allocator of the extension heap.
//!
//! Run with `cargo bench -p elfext --features std --bench map`. Before criterion's lines it
//! prints the fragmentation table: 1 000 000 cycles (10 000 with `--test`), each loading
//! one extension-sized block (64 B – 64 KiB, log-uniform, 16-byte aligned) into a 64 MiB
//! arena and, once 4 000 blocks are live, unloading a random one. Fragmentation is the
//! largest allocatable block over the free bytes (1.0 = one free block), sampled every
//! 1 % of the cycles after the first 10 %, and at the end.

// Only the criterion settings of the shared helpers are used here.
#[allow(dead_code)]
mod common;

use std::alloc::Layout;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::time::Instant;

use criterion::{BenchmarkId, Criterion, Throughput};
use elfext::memory::map::{BankKind, Request, Slot};
use elfext::{MemoryMap, RangeType};

/// xorshift64*: a small deterministic generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Log-uniform in [64, 65536].
    fn ext_size(&mut self) -> u64 {
        let x = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        (64.0 * 1024f64.powf(x)) as u64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ARENA: u64 = 64 << 20;
const LIVE: usize = 4000;
const ALIGN: u64 = 16;

/// An allocator under test.
trait Heap {
    fn alloc(&mut self, size: u64) -> Option<u64>;
    fn free(&mut self, addr: u64, size: u64);
    /// Largest block one allocation could get now.
    fn largest(&mut self) -> u64;
}

struct Map<'a> {
    map: MemoryMap<'a>,
    top: bool,
}

impl Heap for Map<'_> {
    fn alloc(&mut self, size: u64) -> Option<u64> {
        let mut req = Request::new(RangeType::Text, size).align(ALIGN);
        if self.top {
            req = req.top_down();
        }
        match self.map.allocate(&req) {
            Ok(e) => Some(e.start),
            Err(elfext::Error::MapNoSpace { .. }) => None,
            Err(e) => panic!("{e}"),
        }
    }
    fn free(&mut self, addr: u64, _size: u64) {
        self.map.free(addr).unwrap();
    }
    fn largest(&mut self) -> u64 {
        self.map.largest_free()
    }
}

type Tlsf<'a> = rlsf::Tlsf<'a, u32, u32, 28, 16>;

struct Tl<'a>(Tlsf<'a>);

fn layout(size: u64) -> Layout {
    Layout::from_size_align(size as usize, ALIGN as usize).unwrap()
}

impl Heap for Tl<'_> {
    fn alloc(&mut self, size: u64) -> Option<u64> {
        self.0.allocate(layout(size)).map(|p| p.as_ptr() as u64)
    }
    fn free(&mut self, addr: u64, _size: u64) {
        // SAFETY: `addr` came from `alloc` of this heap and is freed once.
        unsafe {
            self.0
                .deallocate(NonNull::new(addr as *mut u8).unwrap(), ALIGN as usize)
        }
    }
    fn largest(&mut self) -> u64 {
        // rlsf exposes no block walk without its unstable feature: probe by bisection.
        let (mut lo, mut hi) = (0u64, ARENA);
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            match self.0.allocate(layout(mid)) {
                Some(p) => {
                    // SAFETY: just allocated with this alignment.
                    unsafe { self.0.deallocate(p, ALIGN as usize) };
                    lo = mid;
                }
                None => hi = mid - 1,
            }
        }
        lo
    }
}

struct Frag {
    failed: u64,
    mean: f64,
    last: f64,
    secs: f64,
}

fn cycles(heap: &mut dyn Heap, cycles: u64) -> Frag {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut live: Vec<(u64, u64)> = Vec::with_capacity(LIVE + 1);
    let mut live_bytes = 0u64;
    let (mut failed, mut sum, mut samples) = (0u64, 0f64, 0u32);
    let ratio =
        |heap: &mut dyn Heap, live_bytes: u64| heap.largest() as f64 / (ARENA - live_bytes) as f64;
    let start = Instant::now();
    for i in 0..cycles {
        let size = rng.ext_size();
        match heap.alloc(size) {
            Some(addr) => {
                live.push((addr, size));
                live_bytes += size;
            }
            None => failed += 1,
        }
        if live.len() > LIVE {
            let (addr, size) = live.swap_remove(rng.below(live.len()));
            heap.free(addr, size);
            live_bytes -= size;
        }
        if i >= cycles / 10 && i % (cycles / 100).max(1) == 0 {
            sum += ratio(heap, live_bytes);
            samples += 1;
        }
    }
    let secs = start.elapsed().as_secs_f64();
    Frag {
        failed,
        mean: sum / f64::from(samples.max(1)),
        last: ratio(heap, live_bytes),
        secs,
    }
}

fn fragmentation_table(n: u64) {
    let mut slots = vec![Slot::EMPTY; 4 * LIVE + 8];
    let mut rows = Vec::new();
    for (name, top) in [("map top-down", true), ("map bottom-up", false)] {
        let mut map = MemoryMap::new(&mut slots);
        map.add_bank(0x1000_0000, ARENA, BankKind::Ram, "ram")
            .unwrap();
        rows.push((name, cycles(&mut Map { map, top }, n)));
    }
    let mut arena = vec![MaybeUninit::<u8>::uninit(); ARENA as usize + 64];
    let mut tlsf = Tlsf::new();
    tlsf.insert_free_block(&mut arena);
    rows.push(("rlsf TLSF (ExtHeap)", cycles(&mut Tl(tlsf), n)));
    println!(
        "\nfragmentation after {n} load/unload cycles (64 B-64 KiB log-uniform, {LIVE} live, \
         {} MiB arena); ratio = largest allocatable block / free bytes",
        ARENA >> 20
    );
    println!(
        "{:<22}{:>12}{:>12}{:>14}{:>12}",
        "allocator", "mean ratio", "end ratio", "failed loads", "ns/cycle"
    );
    for (name, f) in rows {
        println!(
            "{:<22}{:>12.3}{:>12.3}{:>14}{:>12.0}",
            name,
            f.mean,
            f.last,
            f.failed,
            f.secs * 1e9 / n as f64
        );
    }
    println!();
}

/// A map of one huge bank with 2 × `live` reservations, every other one freed: `live`
/// reservations and as many holes of random sizes (plus alignment gaps: up to 4 ranges
/// per live one).
fn populated<'s>(slots: &'s mut [Slot], live: usize, rng: &mut Rng) -> MemoryMap<'s> {
    let mut map = MemoryMap::new(slots);
    map.add_bank(0, 1 << 40, BankKind::Ram, "ram").unwrap();
    let starts: Vec<u64> = (0..2 * live)
        .map(|_| {
            let r = Request::new(RangeType::Data, rng.ext_size()).align(ALIGN);
            map.allocate(&r).unwrap().start
        })
        .collect();
    for s in starts.iter().step_by(2) {
        map.free(*s).unwrap();
    }
    map
}

fn bench_alloc_free(c: &mut Criterion) {
    let mut group = c.benchmark_group("map/alloc+free");
    group.throughput(Throughput::Elements(2));
    for live in [10usize, 1_000, 100_000] {
        let mut slots = vec![Slot::EMPTY; 4 * live + 8];
        let mut rng = Rng(42);
        let mut map = populated(&mut slots, live, &mut rng);
        for (name, top) in [("bottom-up", false), ("top-down", true)] {
            group.bench_function(BenchmarkId::new(name, live), |b| {
                b.iter(|| {
                    let mut r = Request::new(RangeType::Text, rng.ext_size()).align(ALIGN);
                    if top {
                        r = r.top_down();
                    }
                    let e = map.allocate(black_box(&r)).unwrap();
                    map.free(black_box(e.start)).unwrap();
                })
            });
        }
    }
    group.finish();
}

/// `MAP_BENCH_ONLY=top|bottom|tlsf`: only that allocator's load/unload cycles
/// (`MAP_BENCH_CYCLES` of them, default 1 000 000), for `perf stat` / `perf record`.
fn only(which: &str) {
    let n = std::env::var("MAP_BENCH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let mut slots = vec![Slot::EMPTY; 4 * LIVE + 8];
    let mut arena = Vec::new();
    let f = match which {
        "tlsf" => {
            arena.resize(ARENA as usize + 64, MaybeUninit::<u8>::uninit());
            let mut tlsf = Tlsf::new();
            tlsf.insert_free_block(&mut arena);
            cycles(&mut Tl(tlsf), n)
        }
        _ => {
            let mut map = MemoryMap::new(&mut slots);
            map.add_bank(0x1000_0000, ARENA, BankKind::Ram, "ram")
                .unwrap();
            let top = which == "top";
            cycles(&mut Map { map, top }, n)
        }
    };
    println!(
        "{which}: {n} cycles, mean ratio {:.3}, {:.0} ns/cycle",
        f.mean,
        f.secs * 1e9 / n as f64
    );
}

/// `MAP_BENCH_PAIRS=<live>:<top|bottom>`: only `MAP_BENCH_CYCLES` allocate+free pairs of
/// the criterion benchmark at `live` reservations, for `perf stat`.
fn only_pairs(spec: &str) {
    let n: u64 = std::env::var("MAP_BENCH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let (live, top) = spec.split_once(':').unwrap_or((spec, "bottom"));
    let live: usize = live.parse().unwrap();
    let (mut slots, mut rng) = (vec![Slot::EMPTY; 4 * live + 8], Rng(42));
    let mut map = populated(&mut slots, live, &mut rng);
    let start = Instant::now();
    for _ in 0..n {
        let mut r = Request::new(RangeType::Text, rng.ext_size()).align(ALIGN);
        if top == "top" {
            r = r.top_down();
        }
        let e = map.allocate(black_box(&r)).unwrap();
        map.free(black_box(e.start)).unwrap();
    }
    let ns = start.elapsed().as_secs_f64() * 1e9 / n as f64;
    println!("{live} live, {top}: {n} pairs, {ns:.0} ns/pair");
}

fn main() {
    if let Ok(spec) = std::env::var("MAP_BENCH_PAIRS") {
        return only_pairs(&spec);
    }
    if let Ok(which) = std::env::var("MAP_BENCH_ONLY") {
        return only(&which);
    }
    let test = std::env::args().any(|a| a == "--test");
    fragmentation_table(if test { 10_000 } else { 1_000_000 });
    let mut c = common::quick_criterion();
    bench_alloc_free(&mut c);
    c.final_summary();
}
