//! Memory of another machine, described from a host: link for a board.

use alloc::vec::Vec;
use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use super::{Block, ExtHeap, HeapStats, Memory};
use crate::error::Result;
use crate::layout::{BlockLayout, Granules, RegionKind};

/// A target memory window (a board's RAM, say) described by its base address and size.
///
/// Regions are allocated inside `[base, base + size)` by the same allocator as [`ExtHeap`],
/// working on a host image of that window: addresses are the target's, bytes are written to
/// the image and can be read back with [`bytes`](TargetMemory::bytes) to flash or send.
/// Nothing here can be called on the host ([`Memory::is_native`] is false).
///
/// An object buffer that will be at a known target address (execute-in-place flash) can be
/// declared with [`with_flash`](TargetMemory::with_flash): persistent and writable loads
/// then use its sections in place at those addresses.
pub struct TargetMemory {
    heap: ExtHeap<'static>,
    /// The host allocation: pointer and length (the window is a part of it).
    alloc: (NonNull<MaybeUninit<u8>>, usize),
    /// Host address of the window's first byte.
    image: NonNull<MaybeUninit<u8>>,
    size: usize,
    base: u64,
    flash: Option<(u64, u64, u64)>,
}

// SAFETY: the image is owned by this value alone.
unsafe impl Send for TargetMemory {}

impl TargetMemory {
    /// Describe `size` bytes of target memory at `base`, with the target's protection
    /// granules.
    pub fn new(base: u64, size: usize, granules: Granules) -> Self {
        // Target addresses are the image's addresses shifted by a constant. So that an
        // alignment the allocator gives on the host is the same alignment on the target,
        // the image starts at an address congruent to `base` modulo every alignment a
        // region can ask for: the window's size rounded up to a power of two.
        let modulus = size.max(1).next_power_of_two();
        let len = size + modulus;
        let all: &'static mut [MaybeUninit<u8>] =
            Vec::leak(alloc::vec![MaybeUninit::uninit(); len]);
        let alloc = (NonNull::from(&mut *all).cast::<MaybeUninit<u8>>(), len);
        let start = all.as_ptr() as u64;
        let want = base % modulus as u64;
        let skip = (want + modulus as u64 - start % modulus as u64) % modulus as u64;
        let window = &mut all[skip as usize..skip as usize + size];
        let image = NonNull::from(&mut *window).cast::<MaybeUninit<u8>>();
        let heap = ExtHeap::new(window, granules).with_native(false);
        TargetMemory {
            heap,
            alloc,
            image,
            size,
            base,
            flash: None,
        }
    }

    /// Declare that the host buffer at `host` (`len` bytes) will sit at `target` on the
    /// target, so its read-only sections may be used in place there.
    pub fn with_flash(mut self, host: &[u8], target: u64) -> Self {
        self.flash = Some((host.as_ptr() as u64, host.len() as u64, target));
        self
    }

    /// Base address of the window on the target.
    pub fn base(&self) -> u64 {
        self.base
    }

    fn host_base(&self) -> u64 {
        self.image.as_ptr() as u64
    }

    /// The linked bytes at target address `addr` (`len` bytes), if inside the window.
    pub fn bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let off = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        if off.checked_add(len)? > self.size {
            return None;
        }
        // SAFETY: inside the image; bytes never written by a load are reported as they
        // were allocated (zeroed by `fill` for every block byte handed to a load).
        Some(unsafe { core::slice::from_raw_parts(self.image.as_ptr().cast::<u8>().add(off), len) })
    }

    fn to_target(&self, host: u64) -> u64 {
        host - self.host_base() + self.base
    }
}

impl Drop for TargetMemory {
    fn drop(&mut self) {
        // SAFETY: `alloc` is the `Vec` leaked in `new`, with its length as capacity; the heap
        // that borrowed it keeps no pointers into it once this value is gone.
        unsafe {
            drop(Vec::from_raw_parts(
                self.alloc.0.as_ptr(),
                self.alloc.1,
                self.alloc.1,
            ));
        }
    }
}

impl Memory for TargetMemory {
    fn granules(&self) -> Granules {
        self.heap.granules()
    }
    fn in_place_ok(&self, _kind: RegionKind, addr: u64, len: u64) -> bool {
        match self.flash {
            Some((host, hlen, _)) => {
                addr >= host && addr.checked_add(len).is_some_and(|end| end <= host + hlen)
            }
            None => false,
        }
    }
    fn in_place_addr(&self, host: u64) -> u64 {
        match self.flash {
            Some((h, _, target)) => host.wrapping_sub(h).wrapping_add(target),
            None => host,
        }
    }
    fn block_at(&self, addr: u64) -> Block {
        let host = addr.wrapping_sub(self.base).wrapping_add(self.host_base());
        Block {
            addr,
            ptr: NonNull::new(host as usize as *mut u8).unwrap_or(NonNull::dangling()),
        }
    }
    fn alloc_block(&mut self, layout: &BlockLayout) -> Result<Block> {
        let b = self.heap.alloc_block(layout)?;
        Ok(Block {
            addr: self.to_target(b.addr),
            ptr: b.ptr,
        })
    }
    unsafe fn free_block(&mut self, block: Block, layout: &BlockLayout) {
        let host = Block {
            addr: block.ptr.as_ptr() as u64,
            ptr: block.ptr,
        };
        // SAFETY: forwarded from the caller.
        unsafe { self.heap.free_block(host, layout) }
    }
    fn seal(&mut self, _block: &Block, _layout: &BlockLayout) -> Result<()> {
        Ok(())
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
        false
    }
}
