//! Cross-architecture benchmarks: relocations applied per second on a large generated
//! object for every architecture elfext links, and the veneers far calls need.
//!
//! Run with `cargo bench -p elfext --features std --bench arch` (well under a minute once
//! the objects are compiled and cached). Nothing is executed: every object is linked into a
//! `TargetMemory` window at `BASE` (`Granules::NONE`) with an `ExportMap` for its externs.
//!
//! 1. A generated C object (`FUNCTIONS` functions, each in its own section, calling three
//!    others, reading two of `GLOBALS` globals, an extern variable and two extern
//!    functions, with a string each) compiled for x86-64 (host gcc), ARM Thumb-2, AArch64,
//!    RV32 (without and with linker relaxation markers) and RV64. Each is loaded (temporary
//!    storage) and only `Registry::load` is timed; the table after the runs gives the
//!    sections, `LoadReport.relocations`, criterion's median, the median single load,
//!    relocations per second and user-space instructions per load (hardware counter).
//! 2. Far calls: an object whose calls go to `FAR_TARGETS` distinct host exports, each
//!    called from several places, placed out of direct branch range (256 MiB from the
//!    window; 4 GiB for x86-64). `Registry::load_traced` reports the `.veneers` area; the
//!    table gives veneer count and bytes beside the distinct far targets (duplicates share
//!    one veneer). A veneer is reserved per distinct external branch target whatever its
//!    distance (the block's address is not known when it is sized), so the same object with
//!    the exports in range is loaded too, for comparison. RISC-V C code calls with `auipc`
//!    and `jalr` (±2 GiB), which needs no veneer; the RISC-V rows with veneers use a
//!    generated assembly file of the same calls as `jal`s (±1 MiB).
//!
//! A cross compiler that is not installed is reported and its rows are skipped.

mod common;

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[cfg(target_os = "linux")]
use common::Instructions;
use common::{
    criterion_median, fmt_ns, quantile, target_dir, timer_overhead, Clock, Probe, SAMPLES,
};
use criterion::{BenchmarkId, Criterion};
use elfext::{Arch, BufLoader, ExportMap, Granules, LoadReport, Placed, Registry, TargetMemory};
use elfext_testkit::{build, Compiler};

/// Base of the target window (a microcontroller's RAM, say; also fine for 64-bit targets
/// and for RV64's medlow code model, which needs addresses below 2 GiB).
const BASE: u64 = 0x2000_0000;
/// Size of the target window (the big object needs well under 2 MiB of it).
const WINDOW: usize = 8 << 20;
/// Where the big object's externs are: 1 MiB below the window, in every branch range.
const NEAR: u64 = BASE - 0x10_0000;

/// Functions in the generated object.
const FUNCTIONS: usize = 4000;
/// Global variables in the generated object.
const GLOBALS: usize = 256;

/// Distinct far functions in the far-call object.
const FAR_TARGETS: usize = 16;
/// Functions in the far-call object; each calls two far functions.
const FAR_FUNCTIONS: usize = 32;

/// Flags for every C build besides the target's own: no unwind tables and no stack
/// protector (as a microcontroller build, so every architecture links the same code).
const COMMON: &[&str] = &[
    "-fno-asynchronous-unwind-tables",
    "-fno-unwind-tables",
    "-fno-stack-protector",
];

/// One target build.
struct Target {
    /// Row name.
    name: &'static str,
    arch: Arch,
    compiler: Compiler,
    /// Flags besides `COMMON`.
    flags: &'static [&'static str],
    /// Whether code addresses carry the Thumb bit.
    thumb: bool,
    /// Bytes of one veneer for this architecture (the relocators' `VENEER_SIZE`).
    veneer: u64,
}

const RV32: &str = "riscv64-unknown-elf-gcc";

/// The builds of the big object.
const TARGETS: &[Target] = &[
    Target {
        name: "x86-64",
        arch: Arch::X86_64,
        compiler: Compiler::Gcc,
        flags: &["-O2", "-fPIC", "-ffunction-sections"],
        thumb: false,
        veneer: 16,
    },
    Target {
        name: "thumb2",
        arch: Arch::Arm,
        compiler: Compiler::Cross("arm-none-eabi-gcc"),
        flags: &["-mcpu=cortex-m4", "-mthumb", "-O2", "-ffunction-sections"],
        thumb: true,
        veneer: 20,
    },
    Target {
        name: "aarch64",
        arch: Arch::Aarch64,
        compiler: Compiler::Cross("aarch64-linux-gnu-gcc"),
        flags: &["-O2", "-ffunction-sections"],
        thumb: false,
        veneer: 16,
    },
    Target {
        name: "rv32",
        arch: Arch::Riscv32,
        compiler: Compiler::Cross(RV32),
        flags: &[
            "-march=rv32imac",
            "-mabi=ilp32",
            "-O2",
            "-ffunction-sections",
            "-mno-relax",
        ],
        thumb: false,
        veneer: 8,
    },
    Target {
        name: "rv32-relax",
        arch: Arch::Riscv32,
        compiler: Compiler::Cross(RV32),
        flags: &[
            "-march=rv32imac",
            "-mabi=ilp32",
            "-O2",
            "-ffunction-sections",
            "-mrelax",
        ],
        thumb: false,
        veneer: 8,
    },
    Target {
        name: "rv64",
        arch: Arch::Riscv64,
        compiler: Compiler::Cross(RV32),
        flags: &[
            "-march=rv64imac",
            "-mabi=lp64",
            "-O2",
            "-ffunction-sections",
        ],
        thumb: false,
        veneer: 24,
    },
];

/// A32 code, for the far-call figure only (BL reaches ±32 MiB there).
const A32: Target = Target {
    name: "arm-a32",
    arch: Arch::Arm,
    compiler: Compiler::Cross("arm-none-eabi-gcc"),
    flags: &["-mcpu=cortex-a9", "-marm", "-O2", "-ffunction-sections"],
    thumb: false,
    veneer: 20,
};

// ---------------------------------------------------------------------------------------
// Sources

/// The C text of the big object: every function calls three others, reads two globals,
/// adds to an extern variable and calls two extern functions, one with its own string.
fn big_source() -> String {
    common::generated_c(
        "crates/elfext/benches/arch.rs",
        FUNCTIONS,
        GLOBALS,
        "extern int host_print(const char *msg);\nextern int host_add(int a, int b);\nextern int host_counter;\n",
        "noinline, noclone",
        &|i| format!("\thost_counter += r;\n\treturn host_add(r, host_print(\"f{i}\"));\n"),
    )
}

/// The two far functions function `j` of the far-call object calls: every one of the
/// `FAR_TARGETS` is called from `2 * FAR_FUNCTIONS / FAR_TARGETS` places.
fn far_pair(j: usize) -> (usize, usize) {
    (j % FAR_TARGETS, (j * 5 + 3) % FAR_TARGETS)
}

/// The C text of the far-call object (calls, not tail calls).
fn far_source() -> String {
    let mut s = String::from("/* Generated by crates/elfext/benches/arch.rs. */\n");
    for k in 0..FAR_TARGETS {
        let _ = writeln!(s, "extern int far{k}(int x);");
    }
    for j in 0..FAR_FUNCTIONS {
        let (a, b) = far_pair(j);
        let _ = writeln!(
            s,
            "int caller{j}(int x)\n{{\n\treturn far{a}(x) + far{b}(x + 1) + 1;\n}}"
        );
    }
    s
}

/// The far-call object for RISC-V in assembly: the same calls as `jal`s (R_RISCV_JAL).
fn far_jal_source() -> String {
    let mut s = String::from("# Generated by crates/elfext/benches/arch.rs.\n");
    for j in 0..FAR_FUNCTIONS {
        let (a, b) = far_pair(j);
        let _ = writeln!(
            s,
            "\t.section .text.caller{j},\"ax\",@progbits\n\t.globl caller{j}\n\
             caller{j}:\n\taddi sp, sp, -16\n\tsw ra, 12(sp)\n\tjal ra, far{a}\n\
             \tjal ra, far{b}\n\tlw ra, 12(sp)\n\taddi sp, sp, 16\n\tret"
        );
    }
    s
}

/// Write `text` to `target/bench-gen/<file>` (when it changed) and return the path.
fn write_source(file: &str, text: &str) -> PathBuf {
    let dir = target_dir().join("bench-gen");
    std::fs::create_dir_all(&dir).expect("create target/bench-gen");
    let path = dir.join(file);
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
        std::fs::write(&path, text).expect("write generated source");
    }
    path
}

/// Compile `src` for `t` (cached by `elfext_testkit::build`).
fn compile(t: &Target, src: &std::path::Path) -> Vec<u8> {
    let flags: Vec<&str> = t.flags.iter().chain(COMMON).copied().collect();
    build(t.compiler, src.to_str().expect("UTF-8 path"), &flags)
}

/// Number of section headers in an ELF object (32- or 64-bit, little-endian).
fn section_count(obj: &[u8]) -> u64 {
    let u16_at = |o: usize| u64::from(u16::from_le_bytes([obj[o], obj[o + 1]]));
    let (shnum, shoff_at) = if obj[4] == 2 {
        (u16_at(0x3c), 0x28)
    } else {
        (u16_at(0x30), 0x20)
    };
    if shnum != 0 {
        return shnum;
    }
    // More than 0xff00 sections: the count is in section 0's sh_size.
    if obj[4] == 2 {
        let off = u64::from_le_bytes(obj[shoff_at..shoff_at + 8].try_into().expect("8"));
        let at = off as usize + 0x20;
        u64::from_le_bytes(obj[at..at + 8].try_into().expect("8"))
    } else {
        let off = u32::from_le_bytes(obj[shoff_at..shoff_at + 4].try_into().expect("4"));
        let at = off as usize + 0x14;
        u64::from(u32::from_le_bytes(obj[at..at + 4].try_into().expect("4")))
    }
}

// ---------------------------------------------------------------------------------------
// Loading

/// The big object's exports for `t`: near the window, with the Thumb bit on code.
fn near_exports(t: &Target) -> ExportMap {
    let bit = u64::from(t.thumb);
    let mut m = ExportMap::new();
    m.insert("host_print", (NEAR + 0x100) | bit);
    m.insert("host_add", (NEAR + 0x200) | bit);
    m.insert("host_counter", NEAR + 0x300);
    m
}

/// The far functions for `t`: out of every direct branch range of its architecture, or,
/// when `near`, next to the window (within range).
fn far_exports(t: &Target, near: bool) -> ExportMap {
    let far = if near {
        NEAR
    } else if t.arch == Arch::X86_64 {
        BASE + (4 << 30)
    } else {
        BASE + (256 << 20)
    };
    let mut m = ExportMap::new();
    for k in 0..FAR_TARGETS {
        m.insert(
            &format!("far{k}"),
            (far + 0x1000 * k as u64) | u64::from(t.thumb),
        );
    }
    m
}

/// What one traced load reported: the report, and the `.veneers` and `.got` bytes.
struct Traced {
    report: LoadReport,
    veneers: u64,
    got: u64,
}

fn load_traced(t: &Target, obj: &[u8], exports: &ExportMap) -> Result<Traced, String> {
    let registry = Registry::for_arch(
        TargetMemory::new(BASE, WINDOW, Granules::NONE),
        exports,
        t.arch,
    );
    let (mut veneers, mut got) = (0, 0);
    let report = registry
        .load_traced(
            "obj",
            BufLoader::temporary(obj),
            &mut |p: Placed<'_>| match p.name {
                b".veneers" => veneers = p.size,
                b".got" => got = p.size,
                _ => {}
            },
        )
        .map_err(|e| format!("{}: {e}", t.name))?;
    registry.unload("obj").map_err(|e| e.to_string())?;
    Ok(Traced {
        report,
        veneers,
        got,
    })
}

/// Load `obj` `iters` times, each into a fresh registry over `mem`, with `probe` around
/// each `Registry::load` call (and nothing else).
fn run_loads(
    iters: u64,
    mem: &mut Option<TargetMemory>,
    exports: &ExportMap,
    arch: Arch,
    obj: &[u8],
    probe: &mut impl Probe,
) {
    for _ in 0..iters {
        let registry = Registry::for_arch(mem.take().expect("memory"), exports, arch);
        let loader = BufLoader::temporary(obj);
        probe.begin();
        let r = registry.load("big", loader);
        probe.end();
        black_box(r).expect("load");
        let t = Instant::now();
        let r = registry.unload("big");
        probe.unloaded(t.elapsed());
        r.expect("unload");
        *mem = Some(match registry.into_memory() {
            Ok(m) => m,
            Err((e, _)) => panic!("registry not empty: {e}"),
        });
    }
}

/// A built big object and what its traced load reported.
struct Built<'t> {
    target: &'t Target,
    obj: Vec<u8>,
    exports: ExportMap,
    traced: Traced,
}

fn key(t: &Target) -> String {
    format!("arch/load/{}", t.name)
}

fn bench_all(c: &mut Criterion, built: &[Built<'_>]) {
    let mut group = c.benchmark_group("arch");
    for b in built {
        let mut mem = Some(TargetMemory::new(BASE, WINDOW, Granules::NONE));
        let key = key(b.target);
        group.bench_function(BenchmarkId::new("load", b.target.name), |bench| {
            bench.iter_custom(|n| {
                let mut clock = Clock::new(n);
                run_loads(n, &mut mem, &b.exports, b.target.arch, &b.obj, &mut clock);
                clock.finish(&key)
            })
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------
// Tables

/// Median user-space instructions per load of each big object.
#[cfg(target_os = "linux")]
fn instructions(built: &[Built<'_>], iters: u64) -> Vec<Option<u64>> {
    let Some(mut counter) = Instructions::open() else {
        println!("(no instruction counter here: perf_event_open failed)");
        return vec![None; built.len()];
    };
    for _ in 0..1001 {
        counter.begin();
        counter.end();
    }
    let overhead = counter.median(0);
    built
        .iter()
        .map(|b| {
            counter.samples.clear();
            let mut mem = Some(TargetMemory::new(BASE, WINDOW, Granules::NONE));
            run_loads(
                iters,
                &mut mem,
                &b.exports,
                b.target.arch,
                &b.obj,
                &mut counter,
            );
            Some(counter.median(overhead))
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
fn instructions(built: &[Built<'_>], _iters: u64) -> Vec<Option<u64>> {
    println!("(instruction counts are read on Linux only)");
    vec![None; built.len()]
}

/// The table of load times and rates. `testing`: criterion ran each benchmark once and
/// stored no estimate (an older one on disk would not be of this run).
fn print_rates(dir: &std::path::Path, built: &[Built<'_>], instr: &[Option<u64>], testing: bool) {
    let dash = || "-".to_string();
    let mut samples = SAMPLES.lock().unwrap_or_else(|e| e.into_inner());
    println!();
    println!(
        "Relocations per second: generated object ({FUNCTIONS} functions, {GLOBALS} globals), \
         temporary load into a TargetMemory at {BASE:#x} (Granules::NONE)"
    );
    println!("  relocs = LoadReport.relocations; crit = criterion's median (of batch means);");
    println!("  p50 = median single load; relocs/s from p50; instr = user-space instructions");
    println!("  per load (median), and per relocation; ven B / got B = .veneers / .got bytes");
    println!("  (rv32-relax and rv64 are built with gcc's default -mrelax: every R_RISCV_RELAX");
    println!("  marker counts as a relocation; rv32 is built with -mno-relax)");
    println!(
        "{:<11} {:>8} {:>7} {:>7} {:>6} {:>11} {:>11} {:>10} {:>11} {:>7}",
        "arch",
        "sections",
        "relocs",
        "ven B",
        "got B",
        "crit",
        "p50",
        "relocs/s",
        "instr",
        "/reloc"
    );
    for (b, instr) in built.iter().zip(instr) {
        let relocs = b.traced.report.relocations;
        let (crit, p50) = match samples.get_mut(&key(b.target)) {
            Some(s) => (
                criterion_median(dir, "arch", "load", b.target.name).filter(|_| !testing),
                quantile(&mut s.load, 0.5),
            ),
            None => (None, None),
        };
        println!(
            "{:<11} {:>8} {:>7} {:>7} {:>6} {:>11} {:>11} {:>10} {:>11} {:>7}",
            b.target.name,
            section_count(&b.obj),
            relocs,
            b.traced.veneers,
            b.traced.got,
            crit.map_or_else(dash, fmt_ns),
            p50.map_or_else(dash, fmt_ns),
            p50.map_or_else(dash, |ns| format!("{:.3e}", relocs as f64 / (ns * 1e-9))),
            instr.map_or_else(dash, |i| i.to_string()),
            instr.map_or_else(dash, |i| format!("{:.1}", i as f64 / relocs as f64)),
        );
    }
    println!(
        "(every timed load includes one clock read: now() + elapsed() costs {})",
        fmt_ns(timer_overhead())
    );
}

/// Build and load the far-call objects, and print the veneer table.
fn print_far(jobs: Vec<(&Target, &'static str, Option<Vec<u8>>)>) {
    println!();
    println!(
        "Far calls: {FAR_FUNCTIONS} functions x 2 calls to {FAR_TARGETS} distinct host \
         exports 256 MiB past the window (x86-64: 4 GiB)"
    );
    println!("  veneers = .veneers bytes / bytes each (Registry::load_traced); got = .got bytes");
    println!("  near ven = veneers when the same exports are 1 MiB below the window, in range:");
    println!("  one veneer is reserved per distinct external branch target before the block's");
    println!("  address is known, and used only by branches that cannot reach their target");
    println!("  (RISC-V C code calls with auipc + jalr, R_RISCV_CALL_PLT, which reaches");
    println!("  +-2 GiB and needs none; `asm jal` is the same calls as jal, R_RISCV_JAL, +-1 MiB)");
    println!(
        "{:<11} {:<10} {:>7} {:>6} {:>8} {:>7} {:>9} {:>5} {:>6} {:>9}",
        "arch",
        "object",
        "relocs",
        "calls",
        "targets",
        "veneers",
        "ven bytes",
        "each",
        "got",
        "near ven"
    );
    for (t, what, obj) in jobs {
        let Some(obj) = obj else {
            println!(
                "{:<11} {:<10} (skipped: {} not found)",
                t.name,
                what,
                t.compiler.command()
            );
            continue;
        };
        let near = load_traced(t, &obj, &far_exports(t, true)).map_or_else(
            |_| "error".to_string(),
            |r| (r.veneers / t.veneer).to_string(),
        );
        match load_traced(t, &obj, &far_exports(t, false)) {
            Ok(r) => println!(
                "{:<11} {:<10} {:>7} {:>6} {:>8} {:>7} {:>9} {:>5} {:>6} {:>9}{}",
                t.name,
                what,
                r.report.relocations,
                2 * FAR_FUNCTIONS,
                FAR_TARGETS,
                r.veneers / t.veneer,
                r.veneers,
                t.veneer,
                r.got,
                near,
                if r.veneers != 0 && r.veneers / t.veneer != FAR_TARGETS as u64 {
                    "  (not one veneer per target)"
                } else {
                    ""
                }
            ),
            Err(e) => println!("{:<11} {:<10} load failed: {e}", t.name, what),
        }
    }
}

// ---------------------------------------------------------------------------------------

fn main() {
    let big_src = write_source(&format!("arch{FUNCTIONS}.c"), &big_source());
    let far_src = write_source("arch_far.c", &far_source());
    let far_jal_src = write_source("arch_far_jal.S", &far_jal_source());

    // Compile everything in parallel (each build is cached by source and flags).
    let available: Vec<bool> = TARGETS.iter().map(|t| t.compiler.available()).collect();
    let a32_ok = A32.compiler.available();
    let (big_src, far_src, far_jal_src) = (&big_src, &far_src, &far_jal_src);
    let (objs, far_objs) = std::thread::scope(|s| {
        let big: Vec<_> = TARGETS
            .iter()
            .zip(&available)
            .map(|(t, &ok)| ok.then(|| s.spawn(move || compile(t, big_src))))
            .collect();
        let mut far = Vec::new();
        for (t, &ok) in TARGETS.iter().zip(&available) {
            if t.name == "rv32-relax" {
                continue;
            }
            let job = ok.then(|| s.spawn(move || compile(t, far_src)));
            far.push((t, "C call", job));
            if t.name == "thumb2" {
                let job = a32_ok.then(|| s.spawn(move || compile(&A32, far_src)));
                far.push((&A32, "C call", job));
            }
            if matches!(t.arch, Arch::Riscv32 | Arch::Riscv64) {
                let job = ok.then(|| s.spawn(move || compile(t, far_jal_src)));
                far.push((t, "asm jal", job));
            }
        }
        let join = |h: std::thread::ScopedJoinHandle<'_, Vec<u8>>| h.join().expect("compile");
        let big: Vec<Option<Vec<u8>>> = big.into_iter().map(|h| h.map(join)).collect();
        let far: Vec<_> = far
            .into_iter()
            .map(|(t, what, h)| (t, what, h.map(join)))
            .collect();
        (big, far)
    });

    let mut built = Vec::new();
    for (t, obj) in TARGETS.iter().zip(objs) {
        let Some(obj) = obj else {
            println!(
                "note: {} not found; skipping {} (scripts/test.sh installs it)",
                t.compiler.command(),
                t.name
            );
            continue;
        };
        let exports = near_exports(t);
        let traced = load_traced(t, &obj, &exports).unwrap_or_else(|e| panic!("{e}"));
        built.push(Built {
            target: t,
            obj,
            exports,
            traced,
        });
    }

    let dir = target_dir().join("criterion");
    let mut c = Criterion::default()
        .output_directory(&dir)
        .without_plots()
        .sample_size(10)
        .nresamples(10_000)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    let testing = std::env::args().any(|a| a == "--test");
    let profiling = std::env::args().any(|a| a == "--profile-time");
    bench_all(&mut c, &built);
    c.final_summary();
    if !profiling {
        let instr = instructions(&built, if testing { 3 } else { 21 });
        print_rates(&dir, &built, &instr, testing);
        print_far(far_objs);
    }
}
