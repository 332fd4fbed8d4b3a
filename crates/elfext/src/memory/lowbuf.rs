//! Buffers in the low 2 GiB of the address space, for persistent and writable objects that
//! `HostMemory` can use in place.
//!
//! `HostMemory` maps its arena there (x86-64 code reaches other code and data with 32-bit
//! PC-relative relocations), and uses a caller's persistent or writable bytes in place only
//! when they lie there too. A [`LowBuffer`] puts an object's bytes where that works.

use core::ptr::NonNull;
use std::io;

/// A copy of some bytes in an anonymous mapping below 2 GiB (on x86-64 Linux; elsewhere the
/// mapping lands wherever the kernel puts it, and elfext copies instead of using it in place).
pub struct LowBuffer {
    ptr: NonNull<u8>,
    len: usize,
    map_len: usize,
}

#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
const LOW: libc::c_int = libc::MAP_32BIT;
#[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
const LOW: libc::c_int = 0;

/// Page size used to round mappings (the kernel rounds to its own page size anyway).
const PAGE: usize = 4096;

impl LowBuffer {
    /// Map a new low buffer holding a copy of `bytes`.
    pub fn new(bytes: &[u8]) -> io::Result<Self> {
        let map_len = bytes.len().div_ceil(PAGE).max(1) * PAGE;
        // SAFETY: an anonymous private mapping at an address of the kernel's choice has no
        // preconditions and aliases nothing.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | LOW,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(map.cast::<u8>()).ok_or_else(|| io::Error::other("mmap at 0"))?;
        // SAFETY: the mapping is `map_len >= bytes.len()` writable bytes, fresh, so it cannot
        // overlap `bytes`.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr(), bytes.len()) };
        Ok(LowBuffer {
            ptr,
            len: bytes.len(),
            map_len,
        })
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `len` initialized bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        // SAFETY: as in `as_slice`, and `&mut self` makes this borrow the only one.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for LowBuffer {
    fn drop(&mut self) {
        // SAFETY: this is the mapping made in `new`; no borrow of it outlives `self`.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.map_len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_a_copy_below_2_gib() {
        let mut b = LowBuffer::new(b"hello").unwrap();
        assert_eq!(b.as_slice(), b"hello");
        b.as_mut_slice()[0] = b'j';
        assert_eq!(b.as_slice(), b"jello");
        if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
            let addr = b.as_slice().as_ptr() as u64;
            assert!(addr + 5 <= 1 << 31, "mapped at {addr:#x}");
        }
    }
}
