//! Running a prelinked image natively: the image is mapped so that its text lies at its
//! text address (read + execute), a RAM area is mapped over its data address, and
//! [`Registry::load_image`] takes DATA+BSS there from a [`MapMemory`]; the call then goes
//! through the same path as for an object ([`crate::run::native`]).

use std::mem::MaybeUninit;

use elfext::memory::map::Slot;
use elfext::{Image, MapMemory, MemoryMap, Registry};

use crate::call::{Arg, CallSpec};
use crate::error::CliError;
use crate::run::native::{self as run_native, HOST_SYMBOLS};

/// Bytes of RAM mapped after the image's DATA+BSS for the loader's records.
const METADATA: u64 = 64 << 10;

const PAGE: u64 = 4096;

/// An anonymous mapping at a fixed address, unmapped on drop.
struct Mapping {
    addr: u64,
    len: usize,
}

impl Mapping {
    /// Map `[start, end)` (rounded out to pages) read-write at exactly its address, never
    /// replacing a mapping of this process.
    fn fixed(start: u64, end: u64, what: &str) -> Result<Mapping, CliError> {
        let addr = start / PAGE * PAGE;
        let len = end.div_ceil(PAGE) * PAGE - addr;
        let taken = || {
            CliError::Failed(format!(
                "the image's {what} [{start:#x}, {end:#x}) cannot be mapped at its address in this process (the range is taken or not mappable); prelink it for other addresses"
            ))
        };
        let len = usize::try_from(len).map_err(|_| taken())?;
        if addr == 0 || usize::try_from(addr).is_err() {
            return Err(taken());
        }
        // SAFETY: a new anonymous mapping; MAP_FIXED_NOREPLACE never replaces an existing
        // one (it fails instead).
        let p = unsafe {
            libc::mmap(
                addr as usize as *mut libc::c_void,
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(taken());
        }
        if p as u64 != addr {
            // A kernel without MAP_FIXED_NOREPLACE takes the address as a hint.
            // SAFETY: the mapping just made, used by nothing.
            unsafe { libc::munmap(p, len) };
            return Err(taken());
        }
        Ok(Mapping { addr, len })
    }

    /// The mapping's bytes.
    fn bytes(&mut self) -> &mut [MaybeUninit<u8>] {
        // SAFETY: `len` bytes mapped read-write at `addr`, owned by this value.
        unsafe { std::slice::from_raw_parts_mut(self.addr as usize as *mut _, self.len) }
    }

    /// Make the mapping read + execute.
    fn seal_executable(&self) -> Result<(), CliError> {
        // SAFETY: the mapping is this value's own.
        let r = unsafe {
            libc::mprotect(
                self.addr as usize as *mut libc::c_void,
                self.len,
                libc::PROT_READ | libc::PROT_EXEC,
            )
        };
        if r != 0 {
            return Err(CliError::io(
                "make the image's text executable (mprotect)",
                std::io::Error::last_os_error(),
            ));
        }
        Ok(())
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: mapped in `fixed`; nothing uses it any more (registries borrowing it are
        // dropped first).
        unsafe { libc::munmap(self.addr as usize as *mut libc::c_void, self.len) };
    }
}

/// Load the image `bytes` natively as extension `name`, run its constructors, call `spec`
/// with `values`, run its destructors, unload it, and return the formatted result.
pub fn run_image(
    name: &str,
    bytes: &[u8],
    spec: &CallSpec,
    values: &[Arg],
) -> Result<String, CliError> {
    let what = || format!("load the image `{name}`");
    let img = Image::parse(bytes).map_err(|e| CliError::elfext(what(), e))?;
    let host = elfext::Arch::HOST.unwrap_or(elfext::Arch::X86_64);
    if img.arch() != host {
        return Err(CliError::elfext(
            what(),
            elfext::Error::ImageArch {
                found: img.arch(),
                expected: host,
            },
        ));
    }
    // The image where its text must be ("flash"), then read + execute.
    let start = img.image_addr();
    let mut flash = Mapping::fixed(start, start + img.len() as u64, "text")?;
    let off = (start - flash.addr) as usize;
    for (d, s) in flash.bytes()[off..off + img.len()].iter_mut().zip(bytes) {
        d.write(*s);
    }
    flash.seal_executable()?;
    // SAFETY: the image's bytes were just written there and stay mapped (read-only now)
    // until `flash` is dropped, after the registry.
    let image: &[u8] =
        unsafe { std::slice::from_raw_parts(start as usize as *const u8, img.len()) };
    // RAM over the data address, with room for the loader's records after DATA+BSS.
    let (ram_start, ram_end) = img.ram_range();
    let mut ram = Mapping::fixed(ram_start, ram_end + METADATA, "data")?;
    let mut slots = vec![Slot::EMPTY; 16];
    let memory = MapMemory::new(MemoryMap::new(&mut slots), ram.bytes(), "image RAM")
        .map_err(|e| CliError::elfext("describe the image's RAM", e))?;
    let registry = Registry::new(memory, &HOST_SYMBOLS);
    registry
        .load_image(name, image)
        .map_err(|e| CliError::elfext(what(), e))?;
    let result = call_loaded(&registry, name, &img, spec, values);
    let unloaded = run_native::unload(&registry, name);
    let result = result?;
    unloaded?;
    Ok(result)
}

/// Run the constructors, then call `spec` if it names a function in the image's text.
fn call_loaded(
    registry: &Registry<'_, MapMemory<'_>>,
    name: &str,
    img: &Image<'_>,
    spec: &CallSpec,
    values: &[Arg],
) -> Result<String, CliError> {
    // SAFETY: running the constructors of an image the user asked to run.
    let ran = registry.with(name, |ext| unsafe { ext.bringup() });
    ran.and_then(|r| r)
        .map_err(|e| CliError::elfext(format!("run the constructors of `{name}`"), e))?;
    let what = || format!("call `{}` in `{name}`", spec.name);
    let addr = registry
        .symbol(name, &spec.name)
        .map_err(|e| CliError::elfext(what(), e))?;
    let (text, end) = img.text_range();
    if !(text..end).contains(&addr) {
        return Err(CliError::Failed(format!(
            "{}: `{}` is data, not a function (at {addr:#x}, outside the image's text)",
            what(),
            spec.name
        )));
    }
    run_native::call_at(addr, spec, values)
}
