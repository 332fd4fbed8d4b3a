//! Running extensions natively on the host: a `Registry` over `HostMemory` (an mmap arena
//! with W^X pages), linked against the host's C library, and calls into what it loaded.

use std::ffi::{CStr, CString};
use std::io::Write;
use std::sync::OnceLock;

use elfext::{BufLoader, Exports, HostMemory, Memory, RegionKind, Registry};

use super::ffi;
use crate::call::{format_return, Arg, CallSpec, Ty};
use crate::error::CliError;

/// Size of the arena extensions are loaded into (address space; pages cost memory only
/// once touched).
pub const ARENA: usize = 64 << 20;

/// The host's C library (and libm) as exports: every name is looked up with `dlsym`, so an
/// object compiled against the C library (strlen, snprintf, qsort, printf, ...) links.
///
/// Calls from an extension to a function further than ±2 GiB go through the loader's
/// veneers; data of the C library (`stdout`, `errno`) is reachable only from objects
/// compiled with `-fPIC` (through the GOT).
pub struct HostSymbols;

/// The one `HostSymbols` value registries borrow.
pub static HOST_SYMBOLS: HostSymbols = HostSymbols;

/// `libm`'s handle, opened once (0 when it cannot be opened), as an address so that it is
/// `Sync`.
fn libm() -> usize {
    static HANDLE: OnceLock<usize> = OnceLock::new();
    *HANDLE.get_or_init(|| {
        let mut handle = std::ptr::null_mut();
        for name in [c"libm.so.6", c"libm.so", c"libm.dylib"] {
            // SAFETY: `name` is a NUL-terminated string; dlopen of libm runs no code of ours.
            handle = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
            if !handle.is_null() {
                break;
            }
        }
        handle as usize
    })
}

impl Exports for HostSymbols {
    fn lookup(&self, name: &[u8]) -> Option<u64> {
        let c = CString::new(name).ok()?;
        // SAFETY: `c` is NUL-terminated; dlsym only reads it.
        let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c.as_ptr()) };
        if !p.is_null() {
            return Some(p as u64);
        }
        let m = libm();
        if m == 0 {
            return None;
        }
        // SAFETY: as above, with a handle dlopen returned.
        let p = unsafe { libc::dlsym(m as *mut libc::c_void, c.as_ptr()) };
        (!p.is_null()).then_some(p as u64)
    }
}

/// A registry that loads extensions natively, linked against [`HOST_SYMBOLS`].
pub fn registry() -> Result<Registry<'static, HostMemory>, CliError> {
    let memory =
        HostMemory::new(ARENA).map_err(|e| CliError::io("map the extension arena (mmap)", e))?;
    Ok(Registry::new(memory, &HOST_SYMBOLS))
}

/// What a load did.
pub struct Loaded {
    /// The use count before the load (0: loaded now; more: it was loaded already and only
    /// counts one more use).
    pub before: u32,
    /// For a fresh load, where its regions went: (kind, start, length) of each non-empty
    /// TEXT, RODATA, DATA and BSS region in its block.
    pub regions: Vec<(RegionKind, u64, u64)>,
}

/// Load `object` as extension `name` (a copy: the bytes need not outlive the call) and, on
/// its first load, run its constructors.
pub fn load(
    registry: &Registry<'static, HostMemory>,
    name: &str,
    object: &[u8],
) -> Result<Loaded, CliError> {
    let what = || format!("load `{name}`");
    if registry.contains(name) {
        let before = registry
            .load(name, BufLoader::temporary(object))
            .map_err(|e| CliError::elfext(what(), e))?;
        return Ok(Loaded {
            before,
            regions: Vec::new(),
        });
    }
    // The lowest address of each region's sections, to find where the regions start.
    let mut lowest = [u64::MAX; 4];
    registry
        .load_traced(name, BufLoader::temporary(object), &mut |p| {
            if let Some(low) = lowest.get_mut(p.kind as usize) {
                if !p.in_place
                    && p.size > 0
                    && !p.name.starts_with(b".tdata")
                    && !p.name.starts_with(b".tbss")
                {
                    *low = (*low).min(p.addr);
                }
            }
        })
        .map_err(|e| CliError::elfext(what(), e))?;
    let (block, sizes) = registry
        .with(name, |ext| (ext.block().0, ext.region_sizes()))
        .map_err(|e| CliError::elfext(what(), e))?;
    // Regions start on a page of the block (HostMemory's granule); a region's first
    // section lies in its first page.
    let regions = KINDS
        .iter()
        .zip(lowest)
        .zip(sizes)
        .filter(|((_, low), size)| *low != u64::MAX && *size > 0 && *low >= block)
        .map(|((&kind, low), size)| (kind, block + (low - block) / PAGE * PAGE, size))
        .collect();
    // SAFETY: running the constructors of an extension the user asked to run.
    let ran = registry.with(name, |ext| unsafe { ext.bringup() });
    ran.and_then(|r| r)
        .map_err(|e| CliError::elfext(format!("run the constructors of `{name}`"), e))?;
    Ok(Loaded { before: 0, regions })
}

/// The page size of `HostMemory`'s regions.
const PAGE: u64 = 4096;

/// The region kinds of a block, in order.
pub const KINDS: [RegionKind; 4] = [
    RegionKind::Text,
    RegionKind::Rodata,
    RegionKind::Data,
    RegionKind::Bss,
];

/// Drop one use of `name`; when it is the last, run its destructors first. Returns the uses
/// left.
pub fn unload<M: Memory>(registry: &Registry<'_, M>, name: &str) -> Result<u32, CliError> {
    let what = || format!("unload `{name}`");
    let uses = registry
        .with(name, |ext| ext.use_count())
        .map_err(|e| CliError::elfext(what(), e))?;
    let mut dependent = None;
    registry.for_each(|ext| {
        if dependent.is_none() && ext.dependencies().any(|d| d == name) {
            dependent = Some(ext.name().to_string());
        }
    });
    if uses == 1 && dependent.is_none() && registry.with_memory(|m| m.is_native()) {
        // SAFETY: running the destructors of an extension about to be freed.
        let ran = registry.with(name, |ext| unsafe { ext.teardown() });
        ran.and_then(|r| r)
            .map_err(|e| CliError::elfext(format!("run the destructors of `{name}`"), e))?;
    }
    registry
        .unload(name)
        .map_err(|e| CliError::elfext(what(), e))
}

/// Call `spec.name` of the loaded extension `ext` with `args`, and return the result as
/// printed (see [`format_return`]; a `str` result is the string it points to).
///
/// Output the callee writes through the C library is flushed before this returns, so it
/// comes before anything printed after the call.
pub fn call<M: Memory>(
    registry: &Registry<'_, M>,
    ext: &str,
    spec: &CallSpec,
    args: &[Arg],
) -> Result<String, CliError> {
    if !registry.with_memory(|m| m.is_native()) {
        return Err(CliError::elfext(
            format!("call `{}` in `{ext}`", spec.name),
            elfext::Error::NotNative,
        ));
    }
    let addr = function_address(registry, ext, &spec.name)?;
    call_at(addr, spec, args)
}

/// Call the function at `addr` (in native, executable memory, checked by the caller to be
/// the function `spec` names) with `args`, and return the result as printed (see [`call`]).
pub fn call_at(addr: u64, spec: &CallSpec, args: &[Arg]) -> Result<String, CliError> {
    let regs = ffi::classify(args)?;
    let returned = call_native(addr, &regs, spec.ret)?;
    Ok(match spec.ret {
        Ty::Str if returned.int_bits == 0 => "(null)".to_string(),
        // SAFETY: the signature says the function returns a C string.
        Ty::Str => unsafe { CStr::from_ptr(returned.int_bits as usize as *const libc::c_char) }
            .to_string_lossy()
            .into_owned(),
        ty => format_return(ty, returned.int_bits, returned.float_bits),
    })
}

/// The address of function `symbol` of `ext`, checked to lie in its code.
fn function_address<M: Memory>(
    registry: &Registry<'_, M>,
    ext: &str,
    symbol: &str,
) -> Result<u64, CliError> {
    let what = || format!("call `{symbol}` in `{ext}`");
    let found = registry
        .with(ext, |e| {
            e.symbol(symbol)
                .map(|addr| (addr, e.block().0, e.region_sizes()[0]))
        })
        .and_then(|r| r)
        .map_err(|e| CliError::elfext(what(), e))?;
    let (addr, text, text_len) = found;
    if !(text..text + text_len).contains(&addr) {
        return Err(CliError::Failed(format!(
            "{}: `{symbol}` is data, not a function (at {addr:#x}, outside the extension's code)",
            what()
        )));
    }
    Ok(addr)
}

#[cfg(all(unix, any(target_arch = "x86_64", target_arch = "aarch64")))]
fn call_native(addr: u64, regs: &ffi::Registers, ret: Ty) -> Result<ffi::Returned, CliError> {
    let _ = std::io::stdout().flush();
    let guard = CrashGuard::install();
    // SAFETY: `addr` is a function in the code of a loaded extension (checked by the
    // caller); that its signature is the one the user gave is the user's promise, as it is
    // for any foreign call. The `str` arguments `regs` points to live in the caller's `args`.
    let returned = unsafe { ffi::call(addr, regs, ret) };
    drop(guard);
    // SAFETY: fflush(NULL) flushes every C stdio stream; it takes no pointer of ours.
    unsafe { libc::fflush(std::ptr::null_mut()) };
    Ok(returned)
}

/// The signals a crashing callee raises.
#[cfg(all(unix, any(target_arch = "x86_64", target_arch = "aarch64")))]
const CRASHES: [(libc::c_int, &str); 4] = [
    (libc::SIGSEGV, "elfext: error: the called function crashed: SIGSEGV (invalid memory access); check its signature and arguments\n"),
    (libc::SIGBUS, "elfext: error: the called function crashed: SIGBUS (bus error); check its signature and arguments\n"),
    (libc::SIGILL, "elfext: error: the called function crashed: SIGILL (illegal instruction)\n"),
    (libc::SIGFPE, "elfext: error: the called function crashed: SIGFPE (arithmetic fault, e.g. division by zero)\n"),
];

/// While alive, a crash of the called code ends the process with a one-line message and
/// exit code 1 instead of a bare signal death.
#[cfg(all(unix, any(target_arch = "x86_64", target_arch = "aarch64")))]
struct CrashGuard {
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

#[cfg(all(unix, any(target_arch = "x86_64", target_arch = "aarch64")))]
extern "C" fn crashed(signal: libc::c_int) {
    let message = CRASHES
        .iter()
        .find(|(s, _)| *s == signal)
        .map_or("elfext: error: the called function crashed\n", |(_, m)| m);
    // SAFETY: write and _exit are async-signal-safe; the message is a static string.
    unsafe {
        libc::write(2, message.as_ptr().cast(), message.len());
        libc::_exit(1);
    }
}

#[cfg(all(unix, any(target_arch = "x86_64", target_arch = "aarch64")))]
impl CrashGuard {
    fn install() -> Self {
        let mut previous = Vec::new();
        for (signal, _) in CRASHES {
            // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the
            // handler only calls async-signal-safe functions.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = crashed as extern "C" fn(libc::c_int) as libc::sighandler_t;
                libc::sigemptyset(&mut action.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, &action, &mut old) == 0 {
                    previous.push((signal, old));
                }
            }
        }
        CrashGuard { previous }
    }
}

#[cfg(all(unix, any(target_arch = "x86_64", target_arch = "aarch64")))]
impl Drop for CrashGuard {
    fn drop(&mut self) {
        for (signal, old) in &self.previous {
            // SAFETY: restoring the action sigaction returned before.
            unsafe { libc::sigaction(*signal, old, std::ptr::null_mut()) };
        }
    }
}

#[cfg(not(all(unix, any(target_arch = "x86_64", target_arch = "aarch64"))))]
fn call_native(_addr: u64, _regs: &ffi::Registers, _ret: Ty) -> Result<ffi::Returned, CliError> {
    Err(CliError::Failed(
        "native calls are implemented for x86-64 and AArch64 Unix hosts only; use --target to run on a QEMU board"
            .into(),
    ))
}
