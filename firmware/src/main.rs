//! elfext on a microcontroller: a bare-metal firmware for Cortex-M4 (QEMU `mps2-an386`) and
//! RV32 (QEMU `virt`) that embeds the `elfext` core crate as any user would. It loads the
//! test extensions from flash (persistent), from a RAM buffer (writable) and from a host file
//! streamed over semihosting (temporary), calls them, checks every result itself, unloads
//! them and checks the extension heap is empty again. It prints one line per check, a table
//! of heap bytes and load cycles, and exits with status 0 only if every check passed.
//!
//! Then it runs the groups of `src/mapdemo.rs` (a memory map) and `src/imagedemo.rs`
//! (prelinked images executed in place from flash).
//!
//! With the argument `fault-text` or `fault-call` it instead runs an extension that writes to
//! its own text in flash, or calls an unmapped address, and reports the fault (status 3).
//! With `run ...` it calls one function of an object read from a host file, for
//! `elfext run --target` (`src/runner.rs`).
#![no_std]
#![no_main]
#![deny(unsafe_op_in_unsafe_fn)]

extern crate alloc;

mod board;
mod exports;
mod runner;
mod semifile;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ffi::{c_char, CStr};
use core::fmt::Display;
use core::mem::MaybeUninit;

use elfext::{BufLoader, ExtHeap, Granules, IoLoader, LoadReport, Registry, Storage};
use semihosting::println;

#[cfg(target_arch = "arm")]
use cortex_m_rt::entry;
#[cfg(target_arch = "riscv32")]
use riscv_rt::entry;

use exports::FIRMWARE;
use semifile::HostFile;

/// The firmware's own heap (elfext's bookkeeping vectors, this program's strings).
#[global_allocator]
static ALLOC: embedded_alloc::LlffHeap = embedded_alloc::LlffHeap::empty();
const ALLOC_BYTES: usize = 128 * 1024;

/// The extension heap: every extension's regions and metadata come from here.
const ARENA_BYTES: usize = 1536 * 1024;
#[link_section = ".ext_arena"]
static mut ARENA: [MaybeUninit<u8>; ARENA_BYTES] = [MaybeUninit::uninit(); ARENA_BYTES];

/// RAM that writable objects are received into (each load takes a fresh piece: the
/// registry borrows the buffer for as long as it lives). It sits beside the extension heap:
/// code linked in place there reaches the veneers in the heap with a short branch.
const POOL_BYTES: usize = 256 * 1024;
#[link_section = ".ext_arena.pool"]
static mut POOL: [MaybeUninit<u8>; POOL_BYTES] = [MaybeUninit::uninit(); POOL_BYTES];

/// An object file placed in flash, aligned like a section would be.
#[repr(C, align(8))]
struct Aligned<T: ?Sized>(T);

macro_rules! object {
    ($name:literal) => {{
        static OBJECT: &$crate::Aligned<[u8]> = &$crate::Aligned(*include_bytes!(concat!(
            env!("ELFEXT_EXT_DIR"),
            "/",
            $name,
            ".o"
        )));
        $crate::Object {
            name: $name,
            bytes: &OBJECT.0,
            path: concat!(env!("ELFEXT_EXT_DIR"), "/", $name, ".o"),
        }
    }};
}

mod imagedemo;
mod mapdemo;

/// A test extension: its bytes in flash and its file on the host.
#[derive(Clone, Copy)]
struct Object {
    name: &'static str,
    bytes: &'static [u8],
    path: &'static str,
}

type Reg = Registry<'static, ExtHeap<'static>>;
type IntFn0 = extern "C" fn() -> i32;
type IntFn1 = extern "C" fn(i32) -> i32;
type IntFn2 = extern "C" fn(i32, i32) -> i32;

const STORAGES: [Storage; 3] = [Storage::Persistent, Storage::Writable, Storage::Temporary];

/// Hands out pieces of [`POOL`] for writable loads.
struct Pool(&'static mut [u8]);

impl Pool {
    /// A fresh RAM copy of `object` (received into RAM, as from a radio or a UART).
    fn receive(&mut self, object: &[u8]) -> Result<&'static mut [u8], String> {
        let rest = core::mem::take(&mut self.0);
        let skip = rest.as_ptr().align_offset(8);
        if rest.len() < skip + object.len() {
            self.0 = rest;
            return Err(format!(
                "the writable pool is out of room ({} bytes asked)",
                object.len()
            ));
        }
        let (copy, rest) = rest[skip..].split_at_mut(object.len());
        self.0 = rest;
        copy.copy_from_slice(object);
        Ok(copy)
    }
}

/// Counts and prints checks.
struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    fn check(&mut self, what: impl Display, ok: bool, detail: impl Display) {
        if ok {
            self.passed += 1;
            println!("ok   {what}");
        } else {
            self.failed += 1;
            println!("FAIL {what}: {detail}");
        }
    }

    /// Check that `got == want`.
    fn eq<T: PartialEq + core::fmt::Debug>(&mut self, what: impl Display, got: T, want: T) {
        let ok = got == want;
        self.check(what, ok, format!("got {got:?}, want {want:?}"));
    }

    /// Check a fallible step; `None` when it failed.
    fn ok<T, E: Display>(&mut self, what: impl Display, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => {
                self.passed += 1;
                println!("ok   {what}");
                Some(v)
            }
            Err(e) => {
                self.failed += 1;
                println!("FAIL {what}: {e}");
                None
            }
        }
    }
}

/// One row of the on-target table.
struct Row {
    ext: &'static str,
    /// How it was loaded: a [`Storage`]'s name, or `image`.
    storage: &'static str,
    report: LoadReport,
    cycles: u32,
}

/// Everything a test needs.
struct Suite {
    reg: Reg,
    pool: Pool,
    checks: Checks,
    rows: Vec<Row>,
}

fn storage_name(s: Storage) -> &'static str {
    match s {
        Storage::Persistent => "persistent",
        Storage::Writable => "writable",
        Storage::Temporary => "temporary",
    }
}

impl Suite {
    /// Load `obj` under `storage` as `name`, timing the load and keeping a table row for a
    /// fresh load.
    fn load(&mut self, obj: Object, name: &str, storage: Storage) -> Result<LoadReport, String> {
        let (report, cycles) = match storage {
            Storage::Persistent => {
                let t = board::cycles();
                let r = self
                    .reg
                    .load_with_report(name, BufLoader::persistent(obj.bytes));
                (r, board::elapsed(t, board::cycles()))
            }
            Storage::Writable => {
                let buf = self.pool.receive(obj.bytes)?;
                let t = board::cycles();
                let r = self.reg.load_with_report(name, BufLoader::writable(buf));
                (r, board::elapsed(t, board::cycles()))
            }
            Storage::Temporary => {
                let t = board::cycles();
                let (file, len) = HostFile::open(obj.path)
                    .map_err(|_| format!("cannot open {} over semihosting", obj.path))?;
                let r = self.reg.load_with_report(name, IoLoader::new(file, len));
                (r, board::elapsed(t, board::cycles()))
            }
        };
        let report = report.map_err(|e| format!("{e}"))?;
        if report.previous_uses == 0
            && !self
                .rows
                .iter()
                .any(|r| r.ext == obj.name && r.storage == storage_name(storage))
        {
            self.rows.push(Row {
                ext: obj.name,
                storage: storage_name(storage),
                report,
                cycles,
            });
        }
        Ok(report)
    }

    /// Load, and check the load worked.
    fn try_load(
        &mut self,
        what: impl Display,
        obj: Object,
        name: &str,
        s: Storage,
    ) -> Option<LoadReport> {
        let r = self.load(obj, name, s);
        self.checks.ok(what, r)
    }

    /// A function of a loaded extension.
    fn func<F: Copy>(&self, ext: &str, sym: &str) -> Result<F, String> {
        // SAFETY: the caller names the C signature of the symbol it asks for.
        unsafe { self.reg.function::<F>(ext, sym) }.map_err(|e| format!("{e}"))
    }

    /// Unload `name` and check the uses left.
    fn unload(&mut self, name: &str, left: u32) {
        let r = self.reg.unload(name);
        self.checks.eq(
            format_args!("unload {name} -> {left} uses left"),
            r.ok(),
            Some(left),
        );
    }

    /// Check the extension heap holds nothing.
    fn heap_empty(&mut self, after: &str) {
        let total = self.reg.heap_stats().total();
        self.checks
            .eq(format_args!("extension heap empty after {after}"), total, 0);
    }
}

#[entry]
fn main() -> ! {
    // SAFETY: the only reference ever made to these statics, made once at start-up.
    let (arena, pool) = unsafe {
        let heap = &raw mut ALLOC_MEMORY;
        ALLOC.init(heap as usize, ALLOC_BYTES);
        let pool = &mut *core::ptr::addr_of_mut!(POOL);
        pool.fill(MaybeUninit::new(0));
        // Every byte was just initialised.
        let pool = &mut *(pool as *mut [MaybeUninit<u8>] as *mut [u8]);
        (&mut *core::ptr::addr_of_mut!(ARENA), pool)
    };
    let counter = board::init();
    println!(
        "elfext-firmware: board {} | extension heap {} KiB | cycles from {counter}",
        board::NAME,
        ARENA_BYTES / 1024
    );

    let mut args = [0u8; 64];
    let mode = command_line(&mut args);
    if mode == Some("run") {
        runner::run(ExtHeap::new(arena, Granules::NONE));
    }

    let heap = ExtHeap::new(arena, Granules::NONE);
    let mut bench = Suite {
        reg: Registry::new(heap, &FIRMWARE),
        pool: Pool(pool),
        checks: Checks {
            passed: 0,
            failed: 0,
        },
        // Room for every row up front, so the firmware heap's baseline holds.
        rows: Vec::with_capacity(64),
    };

    if let Some(mode) = mode.filter(|m| m.starts_with("fault")) {
        fault_test(&mut bench, mode);
    }

    let baseline = ALLOC.used();
    for storage in STORAGES {
        println!("-- {} loads", storage_name(storage));
        hello(&mut bench, storage);
        data(&mut bench, storage);
        init_fini(&mut bench, storage);
        chain(&mut bench, storage);
        dependencies(&mut bench, storage);
        align(&mut bench, storage);
        bss(&mut bench, storage);
        far(&mut bench, storage);
        libc(&mut bench, storage);
    }
    println!("-- errors");
    missing(&mut bench);
    refcount(&mut bench);
    mapdemo::run(&mut bench.checks);
    for (ext, report, cycles) in imagedemo::run(&mut bench.checks) {
        bench.rows.push(Row {
            ext,
            storage: "image",
            report,
            cycles,
        });
    }

    let Suite {
        reg, checks, rows, ..
    } = &mut bench;
    checks.eq("registry empty at the end", reg.len(), 0);
    checks.eq(
        "extension heap empty at the end",
        reg.heap_stats().total(),
        0,
    );
    checks.eq(
        "firmware heap back to where it was (bytes in use)",
        ALLOC.used(),
        baseline,
    );
    print_table(rows);
    println!(
        "elfext-firmware: {} checks passed, {} failed",
        checks.passed, checks.failed
    );
    semihosting::process::exit(if checks.failed == 0 { 0 } else { 1 })
}

/// Backing memory of the firmware's own heap.
static mut ALLOC_MEMORY: [MaybeUninit<u8>; ALLOC_BYTES] = [MaybeUninit::uninit(); ALLOC_BYTES];

/// The first argument after the program name, if any (semihosting command line).
fn command_line(buf: &mut [u8; 64]) -> Option<&str> {
    let args = semihosting::experimental::env::args::<256>().ok()?;
    let arg = (&args).nth(1)?.ok()?;
    let n = arg.len().min(buf.len());
    buf[..n].copy_from_slice(&arg.as_bytes()[..n]);
    core::str::from_utf8(&buf[..n]).ok()
}

fn hello(b: &mut Suite, s: Storage) {
    let obj = object!("hello");
    let what = format!("hello ({})", storage_name(s));
    if b.try_load(format_args!("load {what}"), obj, "hello", s)
        .is_none()
    {
        return;
    }
    if let Some(f) = b
        .checks
        .ok("hello: symbol", b.func::<IntFn0>("hello", "hello"))
    {
        b.checks.eq(
            format_args!("{what}: hello() returns host_print's length"),
            f(),
            23,
        );
    }
    b.unload("hello", 0);
    b.heap_empty(&what);
}

/// The functions of the `data` extension whose results do not depend on where it lives.
struct DataFns {
    apply: extern "C" fn(i32, i32, i32) -> i32,
    prime_sum: IntFn0,
    third: IntFn0,
    colour_len: IntFn1,
    initials: IntFn0,
    wide: extern "C" fn() -> i64,
}

/// Check the `data` extension's function pointer table, data pointers (with addends, to
/// strings, in an array) and 64-bit data, wherever it was loaded (any storage, an image).
fn check_data_calls(c: &mut Checks, what: &str, f: DataFns) {
    c.eq(
        format_args!("{what}: function pointer table"),
        [
            (f.apply)(0, 2, 3),
            (f.apply)(1, 2, 3),
            (f.apply)(2, 4, 5),
            (f.apply)(7, 1, 1),
        ],
        [5, -1, 20, -1],
    );
    c.eq(format_args!("{what}: prime_sum"), (f.prime_sum)(), 77);
    c.eq(format_args!("{what}: pointer with addend"), (f.third)(), 5);
    c.eq(
        format_args!("{what}: pointers to strings"),
        [(f.colour_len)(0), (f.colour_len)(1), (f.colour_len)(2)],
        [3, 5, 4],
    );
    c.eq(
        format_args!("{what}: pointer array"),
        (f.initials)(),
        i32::from_le_bytes([b'a', b'b', b'g', 0]),
    );
    c.eq(
        format_args!("{what}: 64-bit data"),
        (f.wide)(),
        0x1122_3344_5566_7788,
    );
}

fn data(b: &mut Suite, s: Storage) {
    let obj = object!("data");
    let what = format!("data ({})", storage_name(s));
    if b.try_load(format_args!("load {what}"), obj, "data", s)
        .is_none()
    {
        return;
    }
    let r = (|| -> Result<(), String> {
        let apply = b.func::<extern "C" fn(i32, i32, i32) -> i32>("data", "apply")?;
        let prime_sum = b.func::<IntFn0>("data", "prime_sum")?;
        let third = b.func::<IntFn0>("data", "get_third_prime")?;
        let colour_len = b.func::<IntFn1>("data", "colour_len")?;
        let initials = b.func::<IntFn0>("data", "name_initials")?;
        let bump = b.func::<IntFn1>("data", "bump")?;
        let wide = b.func::<extern "C" fn() -> i64>("data", "get_wide")?;
        let greeting = b.func::<extern "C" fn() -> *const c_char>("data", "get_greeting")?;
        let c = &mut b.checks;
        check_data_calls(
            c,
            &what,
            DataFns {
                apply,
                prime_sum,
                third,
                colour_len,
                initials,
                wide,
            },
        );
        // SAFETY: get_greeting returns a pointer to a string literal of the extension.
        let g = unsafe { CStr::from_ptr(greeting()) };
        c.eq(
            format_args!("{what}: greeting"),
            g.to_bytes(),
            b"hello, data".as_slice(),
        );
        c.eq(format_args!("{what}: bump"), bump(1), 43);
        Ok(())
    })();
    b.checks.ok(format_args!("{what}: symbols"), r);
    // The exported counter, read directly, and where the in-place version string lives.
    let counter = b
        .reg
        .with("data", |e| e.data::<i32>("counter"))
        .ok()
        .and_then(|r| r.ok());
    // SAFETY: `int counter` is live while the extension is loaded.
    let counter = counter.map(|p| unsafe { p.read() });
    b.checks
        .eq(format_args!("{what}: exported counter"), counter, Some(43));
    if s == Storage::Persistent {
        let version = b.reg.symbol("data", "version").unwrap_or(0);
        let flash = obj.bytes.as_ptr() as u64..obj.bytes.as_ptr() as u64 + obj.bytes.len() as u64;
        b.checks.check(
            format_args!("{what}: read-only data without relocations used in place in flash"),
            flash.contains(&version),
            format!(
                "version at {version:#x}, object at {:#x}..{:#x}",
                flash.start, flash.end
            ),
        );
    }
    b.unload("data", 0);
    b.heap_empty(&what);
}

fn init_fini(b: &mut Suite, s: Storage) {
    let obj = object!("init_fini");
    let what = format!("init_fini ({})", storage_name(s));
    exports::take_records();
    if b.try_load(format_args!("load {what}"), obj, "init_fini", s)
        .is_none()
    {
        return;
    }
    // SAFETY: runs the extension's constructors.
    let r = b.reg.with("init_fini", |e| unsafe { e.bringup() });
    b.checks
        .ok(format_args!("{what}: bringup"), r.and_then(|r| r));
    b.checks.eq(
        format_args!("{what}: preinit and constructor order"),
        exports::take_records(),
        [1, 101, 200, 1000].to_vec(),
    );
    if let Ok(calls) = b.func::<IntFn0>("init_fini", "init_calls") {
        b.checks.eq(
            format_args!("{what}: constructors seen by the extension"),
            calls(),
            4,
        );
    }
    // SAFETY: runs the extension's destructors.
    let r = b.reg.with("init_fini", |e| unsafe { e.teardown() });
    b.checks
        .ok(format_args!("{what}: teardown"), r.and_then(|r| r));
    b.checks.eq(
        format_args!("{what}: destructor order"),
        exports::take_records(),
        [-1000, -200, -101].to_vec(),
    );
    b.unload("init_fini", 0);
    b.heap_empty(&what);
}

fn chain(b: &mut Suite, s: Storage) {
    let obj = object!("chain");
    let what = format!("chain ({})", storage_name(s));
    if b.try_load(format_args!("load {what}"), obj, "chain", s)
        .is_none()
    {
        return;
    }
    let r = (|| -> Result<(), String> {
        let sum = b.func::<IntFn1>("chain", "chain_sum")?;
        let callback = b.func::<IntFn1>("chain", "chain_callback")?;
        let fib = b.func::<IntFn1>("chain", "chain_fib")?;
        let c = &mut b.checks;
        c.eq(
            format_args!("{what}: local calls then the firmware"),
            sum(4),
            13,
        );
        c.eq(
            format_args!("{what}: firmware calls the extension back"),
            callback(5),
            16,
        );
        c.eq(
            format_args!("{what}: recursion through the firmware"),
            fib(10),
            55,
        );
        Ok(())
    })();
    b.checks.ok(format_args!("{what}: symbols"), r);
    b.unload("chain", 0);
    b.heap_empty(&what);
}

fn dependencies(b: &mut Suite, s: Storage) {
    let what = format!("dependencies ({})", storage_name(s));
    let loaded_a = b.try_load(
        format_args!("load dep_a ({})", storage_name(s)),
        object!("dep_a"),
        "dep_a",
        s,
    );
    let loaded_b = b.try_load(
        format_args!("load dep_b ({}), linked against dep_a", storage_name(s)),
        object!("dep_b"),
        "dep_b",
        s,
    );
    if loaded_a.is_none() || loaded_b.is_none() {
        return;
    }
    let r = (|| -> Result<(), String> {
        let compute = b.func::<IntFn1>("dep_b", "b_compute")?;
        let name_len = b.func::<IntFn0>("dep_b", "b_name_len")?;
        let set_a = b.func::<extern "C" fn(i32)>("dep_b", "b_set_a")?;
        b.checks.eq(
            format_args!("{what}: b calls a and reads its data"),
            compute(3),
            106,
        );
        b.checks.eq(
            format_args!("{what}: b reads a's read-only data"),
            name_len(),
            11,
        );
        set_a(7);
        let a_value = b
            .reg
            .with("dep_a", |e| e.data::<i32>("a_value"))
            .map_err(|e| format!("{e}"))?;
        // SAFETY: `int a_value` is live while dep_a is loaded.
        let a_value = a_value
            .map(|p| unsafe { p.read() })
            .map_err(|e| format!("{e}"));
        b.checks
            .eq(format_args!("{what}: b writes a's data"), a_value, Ok(7));
        let deps: Vec<String> = b
            .reg
            .with("dep_b", |e| e.dependencies().map(String::from).collect())
            .unwrap_or_default();
        b.checks.eq(
            format_args!("{what}: b depends on a"),
            deps,
            ["dep_a".into()].to_vec(),
        );
        Ok(())
    })();
    b.checks.ok(format_args!("{what}: symbols"), r);
    let refused = b.reg.unload("dep_a");
    let named = refused
        .as_ref()
        .err()
        .map(|e| format!("{e}"))
        .unwrap_or_default();
    b.checks.check(
        format_args!("{what}: unloading a while b uses it is refused, naming b"),
        refused.is_err() && named.contains("dep_b"),
        format!("{refused:?}"),
    );
    b.unload("dep_b", 0);
    b.unload("dep_a", 0);
    b.heap_empty(&what);
}

fn align(b: &mut Suite, s: Storage) {
    let obj = object!("align");
    let what = format!("align ({})", storage_name(s));
    if b.try_load(format_args!("load {what}"), obj, "align", s)
        .is_none()
    {
        return;
    }
    let wanted = [
        ("ro_8", 8),
        ("ro_64", 64),
        ("ro_512", 512),
        ("rw_16", 16),
        ("rw_128", 128),
        ("rw_256", 256),
        ("bss_32", 32),
        ("bss_512", 512),
        ("fn_16", 16),
        ("fn_32", 32),
        ("fn_256", 256),
        ("fn_512", 512),
    ];
    let mut wrong = Vec::new();
    for (sym, align) in wanted {
        // The Thumb bit of a function address is not part of its alignment.
        match b.reg.symbol("align", sym) {
            Ok(addr) if (addr & !1) % align == 0 => {}
            Ok(addr) => wrong.push(format!("{sym} at {addr:#x}")),
            Err(e) => wrong.push(format!("{e}")),
        }
    }
    b.checks.check(
        format_args!("{what}: 8- to 512-byte alignment of data, bss and code"),
        wrong.is_empty(),
        wrong.join(", "),
    );
    if let Ok(sum) = b.func::<extern "C" fn() -> i32>("align", "aligned_sum") {
        b.checks.eq(
            format_args!("{what}: aligned objects read through code"),
            sum(),
            1806,
        );
    }
    b.unload("align", 0);
    b.heap_empty(&what);
}

fn bss(b: &mut Suite, s: Storage) {
    let obj = object!("bss");
    let what = format!("bss ({})", storage_name(s));
    for round in ["fresh", "reloaded into dirty memory"] {
        if b.try_load(format_args!("load {what}, {round}"), obj, "bss", s)
            .is_none()
        {
            return;
        }
        if let (Ok(sum), Ok(fill)) = (
            b.func::<IntFn0>("bss", "bss_sum"),
            b.func::<IntFn0>("bss", "bss_fill"),
        ) {
            b.checks
                .eq(format_args!("{what}, {round}: zeroed"), sum(), 0);
            b.checks
                .eq(format_args!("{what}, {round}: writable"), fill(), 88);
        }
        b.unload("bss", 0);
    }
    b.heap_empty(&what);
}

fn far(b: &mut Suite, s: Storage) {
    let obj = object!("far");
    let what = format!("far ({})", storage_name(s));
    if b.try_load(format_args!("load {what}"), obj, "far", s)
        .is_none()
    {
        return;
    }
    let caller = b.reg.symbol("far", "far_call").unwrap_or(0);
    let callee = exports::host_add as *const () as u64;
    let distance = caller.abs_diff(callee);
    let reach: u64 = if cfg!(target_arch = "arm") {
        16 << 20
    } else {
        1 << 20
    };
    b.checks.check(
        format_args!(
            "{what}: {} KiB between caller and callee, beyond the {} KiB a direct call reaches",
            distance >> 10,
            reach >> 10
        ),
        distance > reach,
        "the extension landed within reach: this test proves nothing",
    );
    let r = (|| -> Result<(), String> {
        let call = b.func::<IntFn2>("far", "far_call")?;
        let tail = b.func::<IntFn2>("far", "far_tail")?;
        b.checks
            .eq(format_args!("{what}: call through a veneer"), call(2, 3), 6);
        b.checks.eq(
            format_args!("{what}: tail jump through a veneer"),
            tail(2, 3),
            8,
        );
        Ok(())
    })();
    b.checks.ok(format_args!("{what}: symbols"), r);
    b.unload("far", 0);
    b.heap_empty(&what);
}

fn libc(b: &mut Suite, s: Storage) {
    let obj = object!("libc");
    let what = format!("libc ({})", storage_name(s));
    if b.try_load(
        format_args!("load {what}: picolibc members pulled from libc.a"),
        obj,
        "libc",
        s,
    )
    .is_none()
    {
        return;
    }
    let r = (|| -> Result<(), String> {
        let strings = b.func::<IntFn0>("libc", "libc_string_check")?;
        let sort = b.func::<IntFn0>("libc", "libc_sort_check")?;
        let search = b.func::<IntFn1>("libc", "libc_bsearch_check")?;
        let parse = b.func::<IntFn0>("libc", "libc_parse_check")?;
        let format = b.func::<IntFn1>("libc", "libc_format_check")?;
        let c = &mut b.checks;
        c.eq(format_args!("{what}: string functions"), strings(), 12583);
        c.eq(format_args!("{what}: qsort"), sort(), 12345);
        c.eq(
            format_args!("{what}: bsearch"),
            [search(2), search(13), search(37), search(4)],
            [0, 5, 11, -1],
        );
        c.eq(
            format_args!("{what}: strtok_r, strspn, abs, div"),
            parse(),
            3614,
        );
        c.eq(
            format_args!("{what}: snprintf"),
            [format(255), format(-42), format(0)],
            [8, 14, 5],
        );
        Ok(())
    })();
    b.checks.ok(format_args!("{what}: symbols"), r);
    b.unload("libc", 0);
    b.heap_empty(&what);
}

fn missing(b: &mut Suite) {
    let before = b.reg.heap_stats();
    let used = ALLOC.used();
    let r = b.load(object!("missing"), "missing", Storage::Persistent);
    let msg = r.err().unwrap_or_default();
    b.checks.check(
        "missing symbols: the load fails naming every one",
        [
            "undefined_function_one",
            "undefined_function_two",
            "undefined_variable",
        ]
        .iter()
        .all(|n| msg.contains(n)),
        &msg,
    );
    println!("  error: {msg}");
    drop(msg);
    b.checks.eq(
        "missing symbols: extension heap as before",
        b.reg.heap_stats(),
        before,
    );
    b.checks.eq(
        "missing symbols: firmware heap as before",
        ALLOC.used(),
        used,
    );
}

fn refcount(b: &mut Suite) {
    let obj = object!("hello");
    let first = b
        .load(obj, "hello", Storage::Persistent)
        .map(|r| r.previous_uses);
    let second = b
        .load(obj, "hello", Storage::Persistent)
        .map(|r| r.previous_uses);
    b.checks
        .eq("use counts: load twice", (first, second), (Ok(0), Ok(1)));
    let heap = b.reg.heap_stats().total();
    b.unload("hello", 1);
    b.checks.eq(
        "use counts: still loaded after one unload",
        b.reg.heap_stats().total(),
        heap,
    );
    if let Ok(f) = b.func::<IntFn0>("hello", "hello") {
        b.checks.eq("use counts: still callable", f(), 23);
    }
    b.unload("hello", 0);
    let again = b.reg.unload("hello");
    b.checks.check(
        "use counts: unloading again is an error",
        again.is_err(),
        format!("{again:?}"),
    );
    let reload = b
        .load(obj, "hello", Storage::Persistent)
        .map(|r| r.previous_uses);
    b.checks.eq(
        "use counts: reload after unload is a fresh load",
        reload,
        Ok(0),
    );
    b.unload("hello", 0);
    b.heap_empty("use counts");
}

fn fault_test(b: &mut Suite, mode: &str) -> ! {
    let obj = object!("fault");
    let storage = Storage::Persistent;
    if let Err(e) = b.load(obj, "fault", storage) {
        println!("FAIL load fault: {e}");
        semihosting::process::exit(1);
    }
    let block = b.reg.with("fault", |e| e.block()).unwrap_or((0, 0));
    let start = obj.bytes.as_ptr() as u32;
    board::WATCHED.set(
        (block.0 as u32, (block.0 + block.1) as u32),
        (start, start + obj.bytes.len() as u32),
    );
    match mode {
        "fault-text" => {
            println!("fault test: the extension writes to its own text in flash");
            if let Ok(f) = b.func::<IntFn0>("fault", "fault_write_text") {
                let r = f();
                println!("FAIL fault-text: the write went through (returned {r})");
            }
        }
        "fault-call" => {
            let bad: u32 = if cfg!(target_arch = "arm") {
                0xF000_0001
            } else {
                0xF000_0000
            };
            println!("fault test: the extension calls {bad:#010x}, where nothing is mapped");
            if let Ok(f) = b.func::<extern "C" fn(u32) -> i32>("fault", "fault_call") {
                let r = f(bad);
                println!("FAIL fault-call: the call returned {r}");
            }
        }
        other => println!("FAIL unknown fault test {other:?} (fault-text, fault-call)"),
    }
    semihosting::process::exit(1)
}

fn print_table(rows: &[Row]) {
    println!("on-target figures: bytes; sections = bytes of the object's sections (copied + used in place); heap = regions + padding + metadata");
    println!("| extension | storage | sections | copied | in place | text | rodata | data | bss | padding | metadata | heap | load cycles |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let p = &r.report;
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.ext,
            r.storage,
            p.copied + p.in_place,
            p.copied,
            p.in_place,
            p.regions[0],
            p.regions[1],
            p.regions[2],
            p.regions[3],
            p.padding,
            p.metadata,
            p.heap_bytes(),
            r.cycles
        );
    }
}
