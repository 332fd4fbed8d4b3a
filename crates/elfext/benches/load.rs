//! Load benchmarks: load + link time per extension, storage type and memory; a generated
//! object with 4 000 function sections and 28 000 relocations; heap bytes per extension
//! and storage type; relocations per second.
//!
//! Run with `cargo bench -p elfext --features std --bench load` (about a minute). Besides
//! criterion's own lines it prints, from `main`:
//! - before the runs: the section sizes of every object and a table of heap bytes per
//!   extension, storage type and memory (`Registry::load_with_report`, `heap_stats()`);
//! - after the runs: a summary with criterion's medians, the median single load and unload,
//!   relocations per second on the generated object, and the targets; then the user-space
//!   instructions per load (hardware counter), which a busy machine does not distort.
//!
//! Every measured iteration loads one extension into a registry that holds nothing else
//! (except the provider, for `dep`), and only `Registry::load` is timed: building the
//! registry, refreshing a writable buffer, and the unload afterwards are not.
//!
//! Two memories:
//! - `ExtHeap`: the microcontroller case. A TLSF heap over a `Vec<MaybeUninit<u8>>` arena
//!   with `Granules::NONE` (no rounding, no protection syscalls); code may run in place.
//!   The persistent and writable object buffers are carved from the same `Vec`, so that
//!   in-place sections and the arena are within ±2 GiB of each other, as flash and RAM are
//!   on a microcontroller.
//! - `HostMemory`: the hosted case. A low mmap arena with 4 KiB pages and W^X (`mprotect`
//!   on seal and free). Persistent and writable buffers are `LowBuffer`s.
//!
//! The extensions are C sources in `benches/ext/`; the generated object's source is written
//! to `target/bench-gen/` and compiled with gcc (both cached by `elfext_testkit::build`).

mod common;

use std::ffi::{c_char, c_int, CStr};
use std::fmt::Write as _;
use std::hint::black_box;
use std::mem::MaybeUninit;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use elfext::{BufLoader, ExtHeap, Granules, HostMemory, LoadReport, Memory, Registry, Storage};
use elfext_testkit::{build, Compiler, LowBuffer};

#[cfg(target_os = "linux")]
use common::Instructions;
use common::{
    criterion_median, fmt_ns, quantile, target_dir, timer_overhead, Clock, Probe, SAMPLES,
};
use object::elf::{FileHeader64, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS, SHT_RELA};
use object::read::elf::{FileHeader, SectionHeader};
use object::LittleEndian as LE;

// ---------------------------------------------------------------------------------------
// Host exports

/// Returns the length of the message (what `hello` returns, checked by `run_once`).
extern "C" fn host_print(msg: *const c_char) -> c_int {
    // SAFETY: extensions pass NUL-terminated strings.
    let len = unsafe { CStr::from_ptr(msg) }.to_bytes().len();
    len as c_int
}

extern "C" fn host_add(a: c_int, b: c_int) -> c_int {
    a.wrapping_add(b)
}

elfext::exports! {
    static HOST = [fn host_print, fn host_add];
}

// ---------------------------------------------------------------------------------------
// Objects

/// Functions in the generated object.
const BIG_FUNCTIONS: usize = 4000;
/// Global variables in the generated object.
const BIG_GLOBALS: usize = 256;

fn small_object(name: &str) -> Vec<u8> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/ext")
        .join(format!("{name}.c"));
    build(
        Compiler::Gcc,
        src.to_str().expect("UTF-8 path"),
        common::CFLAGS,
    )
}

/// The generated object (see [`common::big_object`]).
fn big_object() -> Vec<u8> {
    common::big_object(BIG_FUNCTIONS, BIG_GLOBALS, common::CFLAGS)
}

/// One thing to load: an object, and optionally a provider loaded first (same storage).
struct Case {
    name: &'static str,
    obj: Vec<u8>,
    base: Option<(&'static str, Vec<u8>)>,
}

fn small_cases() -> Vec<Case> {
    let plain = |name: &'static str| Case {
        name,
        obj: small_object(name),
        base: None,
    };
    vec![
        plain("hello"),
        plain("data"),
        plain("chain"),
        plain("bss"),
        Case {
            name: "dep",
            obj: small_object("dep_user"),
            base: Some(("dep_base", small_object("dep_base"))),
        },
    ]
}

/// Section sizes of an object, from its section headers.
#[derive(Default)]
struct ObjInfo {
    file: u64,
    sections: u64,
    alloc: [u64; 4],
    /// Allocated bytes that change once loaded: writable, NOBITS or relocated sections.
    changing: u64,
    bss: u64,
    relocs: u64,
}

fn obj_info(data: &[u8]) -> ObjInfo {
    let header = FileHeader64::<LE>::parse(data).expect("ELF header");
    let sections = header.sections(LE, data).expect("section headers");
    let mut info = ObjInfo {
        file: data.len() as u64,
        sections: sections.len() as u64,
        ..Default::default()
    };
    let mut relocated = vec![false; sections.len()];
    for s in sections.iter() {
        if s.sh_type(LE) == SHT_RELA && s.sh_size(LE) > 0 {
            relocated[s.sh_info(LE) as usize] = true;
            info.relocs += s.sh_size(LE) / 24;
        }
    }
    for (i, s) in sections.iter().enumerate() {
        let flags = s.sh_flags(LE).0;
        if flags & SHF_ALLOC.0 == 0 {
            continue;
        }
        let size = s.sh_size(LE);
        let nobits = s.sh_type(LE) == SHT_NOBITS;
        let write = flags & SHF_WRITE.0 != 0;
        let kind = if nobits {
            3
        } else if flags & SHF_EXECINSTR.0 != 0 {
            0
        } else if write {
            2
        } else {
            1
        };
        info.alloc[kind] += size;
        if nobits {
            info.bss += size;
        }
        if nobits || write || relocated[i] {
            info.changing += size;
        }
    }
    info
}

// ---------------------------------------------------------------------------------------
// Buffers and memories

const STORAGES: [Storage; 3] = [Storage::Temporary, Storage::Persistent, Storage::Writable];

fn storage_name(s: Storage) -> &'static str {
    match s {
        Storage::Temporary => "temporary",
        Storage::Persistent => "persistent",
        Storage::Writable => "writable",
    }
}

/// The bytes of one object as each storage type sees them.
struct Slots<'a> {
    /// The original object (a `Vec`), for temporary loads and to refresh `writable`.
    pristine: &'a [u8],
    /// A persistent copy, never written.
    persistent: &'a [u8],
    /// A writable copy, refreshed from `pristine` before every writable load.
    writable: &'a mut [u8],
}

impl<'a> Slots<'a> {
    fn loader<'b>(&'b mut self, storage: Storage) -> BufLoader<'b, 'b> {
        match storage {
            Storage::Temporary => BufLoader::temporary(self.pristine),
            Storage::Persistent => BufLoader::persistent(self.persistent),
            Storage::Writable => BufLoader::writable(self.writable),
        }
    }
    fn refresh(&mut self) {
        self.writable.copy_from_slice(self.pristine);
    }
}

/// The object buffers of one case: the object and its provider.
struct Bufs<'a> {
    user: Slots<'a>,
    base: Option<Slots<'a>>,
}

/// Which memory backs the registry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mem {
    ExtHeap,
    Host,
}

impl Mem {
    fn name(self) -> &'static str {
        match self {
            Mem::ExtHeap => "ExtHeap",
            Mem::Host => "HostMemory",
        }
    }
}

const PAGE: usize = 4096;

/// Arena bytes needed for `case` (generous: granule rounding, GOT, veneers, records).
fn arena_size(case: &Case) -> usize {
    let objs = case.obj.len() + case.base.as_ref().map_or(0, |(_, b)| b.len());
    (4 * objs + (1 << 20)).next_multiple_of(PAGE)
}

/// Cut `ram` into page-aligned copies of `images` followed by the rest, the arena.
fn carve<'a>(
    ram: &'a mut [MaybeUninit<u8>],
    images: &[&[u8]],
) -> (Vec<&'a mut [u8]>, &'a mut [MaybeUninit<u8>]) {
    let skip = ram.as_ptr().align_offset(PAGE);
    let mut rest = &mut ram[skip..];
    let mut out = Vec::new();
    for img in images {
        let (slot, tail) = std::mem::take(&mut rest).split_at_mut(img.len().next_multiple_of(PAGE));
        rest = tail;
        let slot = &mut slot[..img.len()];
        for (d, s) in slot.iter_mut().zip(img.iter()) {
            d.write(*s);
        }
        // SAFETY: every byte of `slot` was written just above, and `MaybeUninit<u8>` has the
        // layout of `u8`.
        out.push(unsafe { &mut *(slot as *mut [MaybeUninit<u8>] as *mut [u8]) });
    }
    (out, rest)
}

/// Run `f` with buffers and a memory of kind `mem` for `case`.
fn with_setup<T>(mem: Mem, case: &Case, f: &mut dyn FnMut(&mut Bufs<'_>, MemBox<'_>) -> T) -> T {
    let base = case.base.as_ref().map(|(_, b)| b.as_slice());
    match mem {
        Mem::ExtHeap => {
            let mut images: Vec<&[u8]> = vec![&case.obj, &case.obj];
            if let Some(b) = base {
                images.extend([b, b]);
            }
            let total: usize = images.iter().map(|i| i.len().next_multiple_of(PAGE)).sum();
            let mut ram = vec![MaybeUninit::<u8>::uninit(); total + PAGE + arena_size(case)];
            let (slots, arena) = carve(&mut ram, &images);
            let mut it = slots.into_iter();
            let mut bufs = Bufs {
                user: Slots {
                    pristine: &case.obj,
                    persistent: it.next().map(|s| &*s).expect("slot"),
                    writable: it.next().expect("slot"),
                },
                base: base.map(|b| Slots {
                    pristine: b,
                    persistent: it.next().map(|s| &*s).expect("slot"),
                    writable: it.next().expect("slot"),
                }),
            };
            f(
                &mut bufs,
                MemBox::ExtHeap(ExtHeap::new(arena, Granules::NONE)),
            )
        }
        Mem::Host => {
            let low = |b: &[u8]| LowBuffer::new(b).expect("low buffer");
            let (up, mut uw) = (low(&case.obj), low(&case.obj));
            let mut bb = base.map(|b| (low(b), low(b)));
            let mut bufs = Bufs {
                user: Slots {
                    pristine: &case.obj,
                    persistent: up.as_slice(),
                    writable: uw.as_mut_slice(),
                },
                base: match (&mut bb, base) {
                    (Some((p, w)), Some(b)) => Some(Slots {
                        pristine: b,
                        persistent: p.as_slice(),
                        writable: w.as_mut_slice(),
                    }),
                    _ => None,
                },
            };
            let mem = HostMemory::new(arena_size(case)).expect("host memory");
            f(&mut bufs, MemBox::Host(mem))
        }
    }
}

/// A memory of either kind, so one closure serves both.
enum MemBox<'a> {
    ExtHeap(ExtHeap<'a>),
    Host(HostMemory),
}

// ---------------------------------------------------------------------------------------
// Timing

/// Load `case` `iters` times, each into a fresh registry over `mem`, with `probe` around
/// each `Registry::load` call (and nothing else).
fn run_loads<M: Memory>(
    iters: u64,
    mem: &mut Option<M>,
    bufs: &mut Bufs<'_>,
    case: &Case,
    storage: Storage,
    probe: &mut impl Probe,
) {
    for _ in 0..iters {
        if storage == Storage::Writable {
            bufs.user.refresh();
            if let Some(b) = &mut bufs.base {
                b.refresh();
            }
        }
        let registry = Registry::new(mem.take().expect("memory"), &HOST);
        if let (Some(b), Some((name, _))) = (&mut bufs.base, &case.base) {
            registry
                .load(name, b.loader(storage))
                .expect("load provider");
        }
        let loader = bufs.user.loader(storage);
        probe.begin();
        let r = registry.load(case.name, loader);
        probe.end();
        black_box(r).expect("load");
        let t = Instant::now();
        let r = registry.unload(case.name);
        probe.unloaded(t.elapsed());
        r.expect("unload");
        if let Some((name, _)) = &case.base {
            registry.unload(name).expect("unload provider");
        }
        *mem = Some(match registry.into_memory() {
            Ok(m) => m,
            Err((e, _)) => panic!("registry not empty: {e}"),
        });
    }
}

fn bench_case(c: &mut Criterion, case: &Case, measure: Duration) {
    let mut group = c.benchmark_group(case.name);
    group.measurement_time(measure);
    for storage in STORAGES {
        for mem in [Mem::ExtHeap, Mem::Host] {
            let id = BenchmarkId::new(storage_name(storage), mem.name());
            let key = format!("{}/{}/{}", case.name, storage_name(storage), mem.name());
            with_setup(mem, case, &mut |bufs, m| {
                fn go<M: Memory>(
                    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
                    id: &BenchmarkId,
                    key: &str,
                    mem: M,
                    bufs: &mut Bufs<'_>,
                    case: &Case,
                    storage: Storage,
                ) {
                    let mut m = Some(mem);
                    group.bench_function(id.clone(), |b| {
                        b.iter_custom(|n| {
                            let mut clock = Clock::new(n);
                            run_loads(n, &mut m, bufs, case, storage, &mut clock);
                            clock.finish(key)
                        })
                    });
                }
                match m {
                    MemBox::ExtHeap(h) => go(&mut group, &id, &key, h, bufs, case, storage),
                    MemBox::Host(h) => go(&mut group, &id, &key, h, bufs, case, storage),
                }
            });
        }
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------
// Instruction counts

/// Median user-space instructions per load for every case, storage type and memory.
#[cfg(target_os = "linux")]
fn print_instructions(cases: &[&Case]) {
    let Some(mut counter) = Instructions::open() else {
        println!("(no instruction counter here: perf_event_open failed)");
        return;
    };
    for _ in 0..1001 {
        counter.begin();
        counter.end();
    }
    let overhead = counter.median(0);
    println!();
    println!(
        "Instructions per load (user space, median; {overhead} for reading the counter subtracted):"
    );
    println!(
        "{:<6} {:<11} {:>10} {:>11}",
        "ext", "storage", "ExtHeap", "HostMemory"
    );
    for &case in cases {
        let iters = if case.name == "big" { 21 } else { 501 };
        for storage in STORAGES {
            let mut line = format!("{:<6} {:<11}", case.name, storage_name(storage));
            for mem in [Mem::ExtHeap, Mem::Host] {
                counter.samples.clear();
                with_setup(mem, case, &mut |bufs, m| match m {
                    MemBox::ExtHeap(h) => {
                        run_loads(iters, &mut Some(h), bufs, case, storage, &mut counter)
                    }
                    MemBox::Host(h) => {
                        run_loads(iters, &mut Some(h), bufs, case, storage, &mut counter)
                    }
                });
                let width = if mem == Mem::ExtHeap { 10 } else { 11 };
                let _ = write!(line, " {:>width$}", counter.median(overhead));
            }
            println!("{line}");
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn print_instructions(_cases: &[&Case]) {
    println!("(instruction counts are read on Linux only)");
}

// ---------------------------------------------------------------------------------------
// Heap table

/// Load `case` once with a report; the heap bytes it added; and run it when `run` says so.
fn report_one<M: Memory>(
    mem: M,
    bufs: &mut Bufs<'_>,
    case: &Case,
    storage: Storage,
    run: bool,
) -> (LoadReport, u64) {
    let registry = Registry::new(mem, &HOST);
    if let (Some(b), Some((name, _))) = (&mut bufs.base, &case.base) {
        registry
            .load(name, b.loader(storage))
            .expect("load provider");
    }
    let before = registry.heap_stats().total();
    let report = registry
        .load_with_report(case.name, bufs.user.loader(storage))
        .unwrap_or_else(|e| panic!("load {} ({}): {e}", case.name, storage_name(storage)));
    let heap = registry.heap_stats().total() - before;
    if run {
        run_once(&registry, case);
    }
    registry.unload(case.name).expect("unload");
    if let Some((name, _)) = &case.base {
        registry.unload(name).expect("unload provider");
    }
    assert_eq!(registry.heap_stats().total(), 0, "heap back to empty");
    (report, heap)
}

/// Call into a small extension once, natively, to show the benchmarked links are right.
fn run_once<M: Memory>(registry: &Registry<'_, M>, case: &Case) {
    type F0 = extern "C" fn() -> c_int;
    type F1 = extern "C" fn(c_int) -> c_int;
    // SAFETY (all calls): the signatures match the C sources in benches/ext.
    let got = registry
        .with(case.name, |e| unsafe {
            match case.name {
                "hello" => e.function::<F0>("hello").map(|f| f()),
                "data" => e.function::<F0>("data_sum").map(|f| f() - f()),
                "chain" => e.function::<F1>("chain_run").map(|f| f(1)),
                "bss" => e.function::<F1>("bss_put").map(|f| f(7)),
                "dep" => e.function::<F1>("user_run").map(|f| f(2)),
                _ => Ok(0),
            }
        })
        .expect("loaded")
        .expect("function");
    // Expected values, worked out from the C sources: strlen of the message; the second
    // data_sum sees counter one higher, twice (through cells[0] and the increment); the
    // chain for x = 1; the first bss_put; base_value(3) + base_value(2) with base_scale 2.
    let want = match case.name {
        "hello" => 23,
        "data" => -2,
        "chain" => 82,
        "bss" => 1,
        "dep" => 12,
        _ => 0,
    };
    assert_eq!(got, want, "{} returned a wrong value", case.name);
}

fn print_heap_table(cases: &[&Case]) {
    println!();
    println!("Object sections (SHF_ALLOC bytes by kind; relocs = all RELA entries):");
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>9} {:>9} {:>7}",
        "object",
        "file",
        "sections",
        "TEXT",
        "RODATA",
        "DATA",
        "BSS",
        "alloc",
        "changing",
        "relocs"
    );
    let mut objects: Vec<(&str, &[u8])> = Vec::new();
    for c in cases {
        if let Some((n, b)) = &c.base {
            objects.push((n, b));
        }
        objects.push((if c.base.is_some() { "dep_user" } else { c.name }, &c.obj));
    }
    for (name, obj) in objects {
        let i = obj_info(obj);
        println!(
            "{:<10} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>9} {:>9} {:>7}",
            name,
            i.file,
            i.sections,
            i.alloc[0],
            i.alloc[1],
            i.alloc[2],
            i.alloc[3],
            i.alloc.iter().sum::<u64>(),
            i.changing,
            i.relocs
        );
    }

    println!();
    println!(
        "Heap bytes per extension and storage type (one load, from LoadReport and heap_stats()):"
    );
    println!(
        "  TEXT..BSS = region bytes in the block (rounded to the granule; TEXT includes GOT and veneers)"
    );
    println!("  copied / in place = section bytes copied into the block / used where they are");
    println!("  expect = temporary: alloc sections + metadata; persistent: changing sections");
    println!("           (writable, NOBITS or relocated) + metadata; writable: BSS + metadata");
    println!("           (+ TEXT for HostMemory, which never executes from the caller's buffer)");
    println!("  extra  = heap - expect: GOT, veneers, alignment and granule rounding");
    println!(
        "{:<10} {:<11} {:<10} {:>7} {:>7} {:>6} {:>6} {:>7} {:>8} {:>5} {:>4} {:>8} {:>7} {:>6}",
        "extension",
        "storage",
        "memory",
        "TEXT",
        "RODATA",
        "DATA",
        "BSS",
        "copied",
        "in place",
        "meta",
        "pad",
        "heap",
        "expect",
        "extra"
    );
    let mut over = Vec::new();
    for mem in [Mem::ExtHeap, Mem::Host] {
        for &case in cases {
            let info = obj_info(&case.obj);
            for storage in STORAGES {
                let run = mem == Mem::Host && case.name != "big";
                let (r, heap) = with_setup(mem, case, &mut |bufs, m| match m {
                    MemBox::ExtHeap(h) => report_one(h, bufs, case, storage, false),
                    MemBox::Host(h) => report_one(h, bufs, case, storage, run),
                });
                let body = match storage {
                    Storage::Temporary => info.alloc.iter().sum::<u64>(),
                    Storage::Persistent => info.changing,
                    // HostMemory never runs code from the caller's buffer (W^X), so
                    // TEXT is copied there even for writable storage.
                    Storage::Writable if mem == Mem::Host => info.bss + info.alloc[0],
                    Storage::Writable => info.bss,
                };
                let expect = body + r.metadata;
                println!(
                    "{:<10} {:<11} {:<10} {:>7} {:>7} {:>6} {:>6} {:>7} {:>8} {:>5} {:>4} {:>8} {:>7} {:>6}",
                    case.name,
                    storage_name(storage),
                    mem.name(),
                    r.regions[0],
                    r.regions[1],
                    r.regions[2],
                    r.regions[3],
                    r.copied,
                    r.in_place,
                    r.metadata,
                    r.padding,
                    heap,
                    expect,
                    heap as i64 - expect as i64
                );
                if storage != Storage::Temporary && r.metadata > 64 {
                    over.push(format!(
                        "{} {} {}: metadata {} > 64",
                        case.name,
                        storage_name(storage),
                        mem.name(),
                        r.metadata
                    ));
                }
            }
        }
    }
    if over.is_empty() {
        println!("metadata target (<= 64 bytes for persistent and writable): met everywhere");
    } else {
        println!("metadata target (<= 64 bytes) missed: {}", over.join("; "));
    }
    println!();
}

// ---------------------------------------------------------------------------------------
// Summary

fn print_summary(dir: &Path, cases: &[Case], big: &Case) {
    let mut samples = SAMPLES.lock().unwrap_or_else(|e| e.into_inner());
    let dash = || "-".to_string();
    println!();
    println!("Summary: load + link time per extension, storage type and memory");
    println!(
        "  crit = criterion's median (of batch means: includes time descheduled on a busy host)"
    );
    println!("  p50  = median single load; unload = median single unload (not part of the timing)");
    println!(
        "{:<6} {:<10} | {:>10} {:>10} {:>10} | {:>10} {:>10} {:>10}",
        "ext", "storage", "ExtHeap", "", "", "HostMemory", "", ""
    );
    println!(
        "{:<6} {:<10} | {:>10} {:>10} {:>10} | {:>10} {:>10} {:>10}",
        "", "", "crit", "p50", "unload", "crit", "p50", "unload"
    );
    let mut big_rows = Vec::new();
    let mut small_p50: Vec<(f64, String)> = Vec::new();
    for case in cases.iter().chain(std::iter::once(big)) {
        for storage in STORAGES {
            let mut line = format!("{:<6} {:<10} |", case.name, storage_name(storage));
            for mem in [Mem::ExtHeap, Mem::Host] {
                let key = format!("{}/{}/{}", case.name, storage_name(storage), mem.name());
                // Only benchmarks that ran now (criterion keeps older results on disk).
                let (crit, p50, unload) = match samples.get_mut(&key) {
                    Some(s) => (
                        criterion_median(dir, case.name, storage_name(storage), mem.name()),
                        quantile(&mut s.load, 0.5),
                        quantile(&mut s.unload, 0.5),
                    ),
                    None => (None, None, None),
                };
                if mem == Mem::ExtHeap && case.name != big.name {
                    if let Some(p) = p50 {
                        small_p50.push((p, key.clone()));
                    }
                }
                let _ = write!(
                    line,
                    " {:>10} {:>10} {:>10}{}",
                    crit.map_or_else(dash, fmt_ns),
                    p50.map_or_else(dash, fmt_ns),
                    unload.map_or_else(dash, fmt_ns),
                    if mem == Mem::ExtHeap { " |" } else { "" }
                );
                if case.name == big.name {
                    big_rows.push((storage, mem, crit, p50));
                }
            }
            println!("{line}");
        }
    }
    println!(
        "(every timed load includes about one clock read; now() + elapsed() costs {})",
        fmt_ns(timer_overhead())
    );

    let info = obj_info(&big.obj);
    let relocs = with_setup(Mem::ExtHeap, big, &mut |bufs, m| match m {
        MemBox::ExtHeap(h) => report_one(h, bufs, big, Storage::Temporary, false).0,
        MemBox::Host(h) => report_one(h, bufs, big, Storage::Temporary, false).0,
    })
    .relocations;
    println!();
    println!(
        "Generated object: {BIG_FUNCTIONS} functions, {} sections, {} RELA entries in the file, \
         {relocs} relocations processed per load (LoadReport.relocations)",
        info.sections, info.relocs
    );
    println!(
        "{:<11} {:<11} {:>11} {:>14} {:>11} {:>14}",
        "storage", "memory", "crit", "relocs/s", "p50", "relocs/s"
    );
    let rate =
        |ns: Option<f64>| ns.map_or_else(dash, |ns| format!("{:.3e}", relocs as f64 / (ns * 1e-9)));
    for &(storage, mem, crit, p50) in &big_rows {
        println!(
            "{:<11} {:<11} {:>11} {:>14} {:>11} {:>14}",
            storage_name(storage),
            mem.name(),
            crit.map_or_else(dash, fmt_ns),
            rate(crit),
            p50.map_or_else(dash, fmt_ns),
            rate(p50)
        );
    }
    println!();
    small_p50.sort_by(|a, b| a.0.total_cmp(&b.0));
    if let (Some(lo), Some(hi)) = (small_p50.first(), small_p50.last()) {
        let met = small_p50.iter().filter(|(p, _)| *p <= 1000.0).count();
        println!(
            "Target small extension load <= 1 µs (ExtHeap, p50): {met} of {} met; fastest {} ({}), \
             slowest {} ({})",
            small_p50.len(),
            fmt_ns(lo.0),
            lo.1,
            fmt_ns(hi.0),
            hi.1
        );
    }
    if let Some((_, _, _, Some(p50))) = big_rows
        .iter()
        .find(|r| r.0 == Storage::Temporary && r.1 == Mem::ExtHeap)
    {
        println!(
            "Target big object load <= 0.4 ms (temporary, ExtHeap, p50): {} ({:.1}x the target)",
            fmt_ns(*p50),
            p50 / 400_000.0
        );
    }
}

// ---------------------------------------------------------------------------------------

fn main() {
    let cases = small_cases();
    let big = Case {
        name: "big",
        obj: big_object(),
        base: None,
    };
    let dir = target_dir().join("criterion");
    let mut c = Criterion::default()
        .output_directory(&dir)
        .without_plots()
        .sample_size(20)
        .nresamples(10_000)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_millis(700))
        .configure_from_args();
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let profiling = std::env::args().any(|a| a == "--profile-time");
    if benchmarking && !profiling {
        let all: Vec<&Case> = cases.iter().chain(std::iter::once(&big)).collect();
        print_heap_table(&all);
    }
    for case in &cases {
        bench_case(&mut c, case, Duration::from_millis(700));
    }
    bench_case(&mut c, &big, Duration::from_secs(2));
    c.final_summary();
    if benchmarking && !profiling {
        print_summary(&dir, &cases, &big);
        let all: Vec<&Case> = cases.iter().chain(std::iter::once(&big)).collect();
        print_instructions(&all);
    }
}
