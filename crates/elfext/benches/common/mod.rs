//! Helpers shared by the benchmarks (`load`, `arch`): where criterion and generated
//! sources live, the per-iteration clock and samples, the user-space instruction counter,
//! and reading criterion's medians back.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use elfext_testkit::repo_root;

/// The cargo target directory (where criterion, caches and generated sources go).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
}

// ---------------------------------------------------------------------------------------
// Timing

/// What is measured around each timed `Registry::load` call.
pub trait Probe {
    /// Right before the load.
    fn begin(&mut self);
    /// Right after the load.
    fn end(&mut self);
    /// How long the (untimed) unload that followed took.
    fn unloaded(&mut self, _took: Duration) {}
}

/// Per-iteration load and unload times (ns) of one benchmark, kept besides criterion's
/// statistics: on a busy machine a batch mean includes time spent descheduled, while the
/// median single iteration is rarely interrupted.
#[derive(Default)]
pub struct Samples {
    pub load: Vec<u32>,
    pub unload: Vec<u32>,
}

/// Samples kept per benchmark id (a bound on memory).
const MAX_SAMPLES: usize = 1 << 20;

pub static SAMPLES: Mutex<BTreeMap<String, Samples>> = Mutex::new(BTreeMap::new());

fn nanos(d: Duration) -> u32 {
    u32::try_from(d.as_nanos()).unwrap_or(u32::MAX)
}

/// The wall clock, for criterion.
pub struct Clock {
    start: Instant,
    total: Duration,
    keep: usize,
    samples: Samples,
}

impl Clock {
    pub fn new(iters: u64) -> Self {
        let keep = usize::try_from(iters)
            .unwrap_or(usize::MAX)
            .min(MAX_SAMPLES);
        Clock {
            start: Instant::now(),
            total: Duration::ZERO,
            keep,
            samples: Samples {
                load: Vec::with_capacity(keep),
                unload: Vec::with_capacity(keep),
            },
        }
    }
    /// Keep the samples under `key`; return the total load time.
    pub fn finish(self, key: &str) -> Duration {
        let mut all = SAMPLES.lock().unwrap_or_else(|e| e.into_inner());
        let s = all.entry(key.to_string()).or_default();
        let room = MAX_SAMPLES.saturating_sub(s.load.len());
        s.load.extend(self.samples.load.iter().take(room));
        s.unload.extend(self.samples.unload.iter().take(room));
        self.total
    }
}

impl Probe for Clock {
    #[inline(always)]
    fn begin(&mut self) {
        self.start = Instant::now();
    }
    #[inline(always)]
    fn end(&mut self) {
        let d = self.start.elapsed();
        self.total += d;
        if self.samples.load.len() < self.keep {
            self.samples.load.push(nanos(d));
        }
    }
    fn unloaded(&mut self, took: Duration) {
        if self.samples.unload.len() < self.keep {
            self.samples.unload.push(nanos(took));
        }
    }
}

// ---------------------------------------------------------------------------------------
// Instruction counts

/// This thread's user-space instruction counter (Linux `perf_event_open`). Instructions per
/// load do not depend on how busy the machine is, unlike wall time. (Cycles are not shown:
/// reading the counter is a system call, which leaves the caches and predictors of the
/// load that follows colder than in a real load.)
#[cfg(target_os = "linux")]
pub struct Instructions {
    fd: libc::c_int,
    start: u64,
    pub samples: Vec<u64>,
}

#[cfg(target_os = "linux")]
impl Instructions {
    pub fn open() -> Option<Self> {
        // struct perf_event_attr (PERF_ATTR_SIZE_VER8 = 136 bytes): type PERF_TYPE_HARDWARE
        // (0) and size at offset 0, config PERF_COUNT_HW_INSTRUCTIONS (1) at 8, flag bits
        // at 40: exclude_kernel (bit 5) and exclude_hv (bit 6). Counting starts at once.
        let mut attr = [0u64; 17];
        attr[0] = 136 << 32;
        attr[1] = 1;
        attr[5] = (1 << 5) | (1 << 6);
        // SAFETY: `attr` is a fully initialized perf_event_attr of the size it declares.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_perf_event_open,
                attr.as_ptr(),
                0 as libc::pid_t,
                -1 as libc::c_int,
                -1 as libc::c_int,
                0 as libc::c_ulong,
            )
        };
        let fd = libc::c_int::try_from(fd).ok().filter(|&fd| fd >= 0)?;
        Some(Instructions {
            fd,
            start: 0,
            samples: Vec::new(),
        })
    }

    #[inline(always)]
    fn read(&self) -> u64 {
        let mut v = 0u64;
        // SAFETY: reading 8 bytes into a u64 from our own counter descriptor.
        let n = unsafe { libc::read(self.fd, (&raw mut v).cast(), 8) };
        if n == 8 {
            v
        } else {
            0
        }
    }

    /// Median of the samples, less `overhead`.
    pub fn median(&mut self, overhead: u64) -> u64 {
        self.samples.sort_unstable();
        self.samples[self.samples.len() / 2].saturating_sub(overhead)
    }
}

#[cfg(target_os = "linux")]
impl Drop for Instructions {
    fn drop(&mut self) {
        // SAFETY: our own descriptor.
        unsafe { libc::close(self.fd) };
    }
}

#[cfg(target_os = "linux")]
impl Probe for Instructions {
    #[inline(always)]
    fn begin(&mut self) {
        self.start = self.read();
    }
    #[inline(always)]
    fn end(&mut self) {
        let end = self.read();
        self.samples.push(end - self.start);
    }
}

// ---------------------------------------------------------------------------------------
// Criterion results and statistics

/// The median point estimate (ns) criterion stored for `group/function/param`.
pub fn criterion_median(dir: &Path, group: &str, function: &str, param: &str) -> Option<f64> {
    let path = dir
        .join(group)
        .join(function)
        .join(param)
        .join("new/estimates.json");
    let text = std::fs::read_to_string(path).ok()?;
    let median = &text[text.find("\"median\"")?..];
    let at = median.find("\"point_estimate\":")? + "\"point_estimate\":".len();
    let num: String = median[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'))
        .collect();
    num.parse().ok()
}

pub fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.3} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.3} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Median cost of reading the clock twice, which every timed load includes once.
pub fn timer_overhead() -> f64 {
    let mut v: Vec<u128> = (0..10_001)
        .map(|_| {
            let t = Instant::now();
            black_box(t.elapsed()).as_nanos()
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2] as f64
}

/// The `q`-quantile of `v` (sorted in place), in ns.
pub fn quantile(v: &mut [u32], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let i = ((v.len() - 1) as f64 * q).round() as usize;
    Some(f64::from(v[i]))
}

/// C text of a generated extension: `n` functions, each in its own function (compile with
/// `-ffunction-sections`), calling three others and reading two of `g` globals; `prelude`
/// declares the externs, `attrs` are the functions' attributes and `tail(i)` ends function
/// `i` (it sees `r`, the sum so far).
pub fn generated_c(
    origin: &str,
    n: usize,
    g: usize,
    prelude: &str,
    attrs: &str,
    tail: &dyn Fn(usize) -> String,
) -> String {
    use std::fmt::Write as _;
    let mut s = format!("/* Generated by {origin}. */\n");
    s.push_str(prelude);
    for k in 0..g {
        let _ = writeln!(s, "int g{k} = {k};");
    }
    for i in 0..n {
        let _ = writeln!(s, "int f{i}(int x);");
    }
    let other = |i: usize, mul: usize, add: usize| {
        let j = (i * mul + add) % n;
        if j == i {
            (j + 1) % n
        } else {
            j
        }
    };
    for i in 0..n {
        let (a, b, c) = (other(i, 7, 1), other(i, 13, 5), other(i, 31, 11));
        let (p, q) = ((i * 3) % g, (i * 5 + 1) % g);
        let _ = writeln!(
            s,
            "__attribute__(({attrs})) int f{i}(int x)\n{{\n\
             \tint r = f{a}(x + 1) + f{b}(x ^ 3) + f{c}(x - 1);\n\
             \tr += g{p} * g{q};\n{}}}",
            tail(i)
        );
    }
    s
}

// ---------------------------------------------------------------------------------------
// The big generated object

/// A generated C object with `functions` functions, each in its own section
/// (`-ffunction-sections`), each calling three others, reading two of `globals` globals
/// (GOT-relative loads) and calling a host export with its own string: seven relocations
/// per function. The source is written under the target directory and compiled with gcc
/// and `flags` (cached). (Used by the `load` and `snapshot` benches, not by `arch`.)
#[allow(dead_code)]
pub fn big_object(functions: usize, globals: usize, flags: &[&str]) -> Vec<u8> {
    let text = generated_c(
        "crates/elfext/benches/common/mod.rs",
        functions,
        globals,
        "extern int host_print(const char *msg);\n",
        "noinline",
        &|i| format!("\treturn r + host_print(\"f{i}\");\n"),
    );
    let dir = target_dir().join("bench-gen");
    std::fs::create_dir_all(&dir).expect("create target/bench-gen");
    let path = dir.join(format!("big{functions}.c"));
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&path, &text).expect("write generated source");
    }
    elfext_testkit::build(
        elfext_testkit::Compiler::Gcc,
        path.to_str().expect("UTF-8 path"),
        flags,
    )
}

/// Flags for every benchmark object: position independent (the `ExtHeap` arena is a heap
/// `Vec`, far above 4 GiB, so absolute 32-bit relocations would not fit), one section per
/// function, no unwind tables and no stack protector (as a microcontroller build).
#[allow(dead_code)] // each bench compiles this module; not all of them build objects
pub const CFLAGS: &[&str] = &[
    "-O2",
    "-fPIC",
    "-ffunction-sections",
    "-fno-asynchronous-unwind-tables",
    "-fno-stack-protector",
];

/// Criterion for the benches whose own tables carry the figures (map, snapshot): 20
/// samples of one second after 300 ms of warm-up, no plots.
#[allow(dead_code)] // each bench compiles this module; load and arch set up their own
pub fn quick_criterion() -> criterion::Criterion {
    criterion::Criterion::default()
        .without_plots()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args()
}
