//! Native memory on a hosted Unix: an mmap arena with page protection (W^X).

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use super::{Block, ExtHeap, HeapStats, Memory};
use crate::error::{Error, Result};
use crate::layout::{BlockLayout, Granules, RegionKind};

/// Extension memory for running extensions natively on a hosted Unix.
///
/// The arena is one anonymous mapping. Regions are page-granular; while an extension is
/// linked its pages are read + write, and once linked TEXT becomes read + execute, RODATA
/// read-only, DATA and BSS read + write: never writable and executable at once.
///
/// On x86-64 the arena is mapped in the low 2 GiB (`MAP_32BIT`) so that objects compiled
/// with `-fno-pic` (absolute 32-bit addresses) link; calls to host functions further away go
/// through veneers, and host data is reached through the GOT (compile with `-fPIC` to read
/// host data from an extension).
pub struct HostMemory {
    heap: ExtHeap<'static>,
    map: *mut libc::c_void,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone.
unsafe impl Send for HostMemory {}

const PAGE: usize = 4096;

impl HostMemory {
    /// Map an arena of `size` bytes (rounded up to whole pages).
    pub fn new(size: usize) -> std::io::Result<Self> {
        let len = size.div_ceil(PAGE).max(1) * PAGE;
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        let low = libc::MAP_32BIT;
        #[cfg(not(all(target_os = "linux", target_arch = "x86_64")))]
        let low = 0;
        // SAFETY: an anonymous private mapping has no preconditions.
        let mut map = unsafe { libc::mmap(core::ptr::null_mut(), len, prot, flags | low, -1, 0) };
        if map == libc::MAP_FAILED && low != 0 {
            // SAFETY: as above.
            map = unsafe { libc::mmap(core::ptr::null_mut(), len, prot, flags, -1, 0) };
        }
        if map == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: the mapping is `len` bytes, readable and writable, and lives until `Drop`
        // unmaps it, after the heap that borrows it is gone (the heap keeps no pointers
        // into it once dropped; it has no `Drop` of its own).
        let arena: &'static mut [MaybeUninit<u8>] =
            unsafe { core::slice::from_raw_parts_mut(map.cast::<MaybeUninit<u8>>(), len) };
        let heap = ExtHeap::new(arena, Granules::PAGES).with_execute_in_place(false);
        Ok(HostMemory { heap, map, len })
    }

    /// The arena: host address of its first byte and its length.
    pub fn arena(&self) -> (u64, u64) {
        (self.map as u64, self.len as u64)
    }

    fn protect(&self, addr: u64, len: u64, prot: libc::c_int, kind: RegionKind) -> Result<()> {
        if len == 0 {
            return Ok(());
        }
        // SAFETY: `addr..addr+len` is a page-aligned range inside our own mapping (regions
        // are page-granular), so changing its protection affects nothing else.
        let r = unsafe { libc::mprotect(addr as *mut libc::c_void, len as usize, prot) };
        if r != 0 {
            return Err(Error::Protect { kind, addr, len });
        }
        Ok(())
    }
}

impl Drop for HostMemory {
    fn drop(&mut self) {
        // SAFETY: `map`/`len` are the mapping created in `new`; nothing refers to it any more
        // (a registry owning this memory has already freed every block).
        unsafe {
            libc::munmap(self.map, self.len);
        }
    }
}

impl Memory for HostMemory {
    fn granules(&self) -> Granules {
        Granules::PAGES
    }
    fn in_place_ok(&self, kind: RegionKind, addr: u64, len: u64) -> bool {
        // Code never runs from a caller's buffer here (it would need to be executable);
        // data is used in place when the arena's code can reach it with 32-bit relocations.
        let reach = if cfg!(target_arch = "x86_64") {
            1u64 << 31
        } else {
            0
        };
        kind != RegionKind::Text && addr.checked_add(len).is_some_and(|end| end <= reach)
    }
    fn alloc_block(&mut self, layout: &BlockLayout) -> Result<Block> {
        self.heap.alloc_block(layout)
    }
    unsafe fn free_block(&mut self, block: Block, layout: &BlockLayout) {
        // Back to read + write so the allocator can reuse the pages. This cannot fail for a
        // range of our own mapping; if it did, the block is leaked rather than reused.
        if self
            .protect(
                block.addr,
                layout.size.next_multiple_of(PAGE as u64),
                libc::PROT_READ | libc::PROT_WRITE,
                RegionKind::Text,
            )
            .is_ok()
        {
            // SAFETY: forwarded from the caller.
            unsafe { self.heap.free_block(block, layout) }
        }
    }
    fn seal(&mut self, block: &Block, layout: &BlockLayout) -> Result<()> {
        // DATA and BSS stay read + write as the arena was mapped; only TEXT and RODATA change.
        let text = RegionKind::Text as usize;
        let rodata = RegionKind::Rodata as usize;
        self.protect(
            block.addr + layout.offsets[text],
            layout.sizes[text],
            libc::PROT_READ | libc::PROT_EXEC,
            RegionKind::Text,
        )?;
        self.protect(
            block.addr + layout.offsets[rodata],
            layout.sizes[rodata],
            libc::PROT_READ,
            RegionKind::Rodata,
        )
    }
    fn alloc_meta(&mut self, layout: Layout) -> Result<NonNull<u8>> {
        self.heap.alloc_meta(layout)
    }
    unsafe fn free_meta(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { self.heap.free_meta(ptr, layout) }
    }
    fn stats(&self) -> HeapStats {
        self.heap.stats()
    }
    fn is_native(&self) -> bool {
        true
    }
}
