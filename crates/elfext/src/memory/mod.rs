//! Memory: where extension regions and loader metadata live.
//!
//! [`Memory`] is the backend interface the registry allocates through. [`ExtHeap`] is the
//! bare-metal backend: a caller-provided arena managed by the TLSF allocator of the `rlsf`
//! crate, with a protection granule per region kind. `HostMemory` (feature `std`, Linux)
//! adds page protection so that extensions can run natively with W^X. [`MemoryMap`] knows
//! every byte of the banks it is given, as typed reservations and free ranges, and
//! [`MapMemory`] allocates extensions from it.

pub mod map;
mod mapped;
mod target;
pub use map::MemoryMap;
pub use mapped::MapMemory;

pub use target::TargetMemory;

#[cfg(all(feature = "std", unix))]
mod host;
#[cfg(all(feature = "std", unix))]
pub use host::HostMemory;
#[cfg(all(feature = "std", unix))]
mod lowbuf;
#[cfg(all(feature = "std", unix))]
pub use lowbuf::LowBuffer;

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use crate::error::{Error, Result};
use crate::layout::{BlockLayout, Granules, RegionKind};

/// One block of extension regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// Target address of the block's first byte.
    pub addr: u64,
    /// Where the block's bytes are written on this machine.
    pub ptr: NonNull<u8>,
}

/// Bytes in use, by kind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HeapStats {
    /// Bytes of each region kind (after granule rounding): TEXT, RODATA, DATA, BSS.
    pub regions: [u64; 4],
    /// Bytes of loader metadata.
    pub metadata: u64,
    /// Bytes lost to alignment between regions of a block.
    pub padding: u64,
    /// Live allocations (blocks and metadata records).
    pub allocations: u64,
    /// Size of the arena.
    pub arena: u64,
}

impl HeapStats {
    /// Bytes of one region kind.
    pub fn of(&self, kind: RegionKind) -> u64 {
        match kind {
            RegionKind::Metadata => self.metadata,
            k => self.regions[k as usize],
        }
    }
    /// All bytes in use: regions, padding and metadata.
    pub fn total(&self) -> u64 {
        self.regions.iter().sum::<u64>() + self.padding + self.metadata
    }
}

/// Something a snapshot restore takes back at its address ([`Memory::claim_all`]).
#[derive(Clone, Copy, Debug)]
pub struct Claim<'a> {
    /// The extension it belongs to.
    pub owner: &'a str,
    /// Target address of a block, host address of a record.
    pub addr: u64,
    /// What is there.
    pub what: Claimed<'a>,
}

/// The kind of a [`Claim`].
#[derive(Clone, Copy, Debug)]
pub enum Claimed<'a> {
    /// An extension's block, laid out so.
    Block(&'a BlockLayout),
    /// A metadata record of this size and alignment.
    Meta(Layout),
}

/// A place to put extensions: allocates blocks and metadata, says what may be used in
/// place, and protects regions once they are linked.
pub trait Memory {
    /// Protection granules of the region kinds.
    fn granules(&self) -> Granules;
    /// Whether `len` bytes of a section of `kind` at host address `addr` may be used where they
    /// are instead of being copied.
    fn in_place_ok(&self, kind: RegionKind, addr: u64, len: u64) -> bool;
    /// Target address of host bytes used in place.
    fn in_place_addr(&self, host: u64) -> u64 {
        host
    }
    /// The block whose first byte is at target address `addr` (for freeing).
    fn block_at(&self, addr: u64) -> Block {
        Block {
            addr,
            ptr: NonNull::new(addr as usize as *mut u8).unwrap_or(NonNull::dangling()),
        }
    }
    /// The name of the extension the next blocks and metadata are for (a backend that
    /// labels its allocations, like [`MapMemory`], records it; others ignore it).
    fn owner(&mut self, _name: &str) {}
    /// Take back a block that is already at target address `addr`, laid out as `layout`
    /// (its bytes are left as they are): used to restore a snapshot. The block is then freed
    /// with [`free_block`](Memory::free_block) like any other.
    ///
    /// The default refuses with [`Error::NoFixedBlocks`]: a general-purpose allocator
    /// ([`ExtHeap`]'s TLSF) cannot allocate at a given address, and keeps its bookkeeping
    /// inside free memory.
    fn claim_block(&mut self, addr: u64, layout: &BlockLayout) -> Result<Block> {
        let _ = (addr, layout);
        Err(Error::NoFixedBlocks)
    }
    /// Take back a metadata record that is already at `addr` (a host address), to restore
    /// a snapshot; it is then freed with [`free_meta`](Memory::free_meta). The default
    /// refuses with [`Error::NoFixedBlocks`].
    fn claim_meta(&mut self, addr: u64, layout: Layout) -> Result<NonNull<u8>> {
        let _ = (addr, layout);
        Err(Error::NoFixedBlocks)
    }
    /// Whether [`claim_meta`](Memory::claim_meta) can take records back where they were:
    /// records live at host addresses inside this memory. A snapshot then saves where each
    /// record is, and restore puts it back there.
    fn claims_meta(&self) -> bool {
        false
    }
    /// Take back everything in `claims`, all or nothing: on error every claim made so far
    /// is undone. The default claims one at a time; a backend may do it in one pass.
    fn claim_all(&mut self, claims: &[Claim<'_>]) -> Result<()> {
        for (i, c) in claims.iter().enumerate() {
            self.owner(c.owner);
            let r = match c.what {
                Claimed::Block(layout) => self.claim_block(c.addr, layout).map(|_| ()),
                Claimed::Meta(layout) => self.claim_meta(c.addr, layout).map(|_| ()),
            };
            if let Err(e) = r {
                for d in &claims[..i] {
                    match d.what {
                        // SAFETY: claimed just above with this layout; nothing uses it yet.
                        Claimed::Block(layout) => unsafe {
                            self.free_block(self.block_at(d.addr), layout)
                        },
                        Claimed::Meta(layout) => {
                            if let Some(p) = NonNull::new(d.addr as usize as *mut u8) {
                                // SAFETY: as above.
                                unsafe { self.free_meta(p, layout) }
                            }
                        }
                    }
                }
                return Err(e);
            }
        }
        Ok(())
    }
    /// Allocate a block laid out as `layout`.
    fn alloc_block(&mut self, layout: &BlockLayout) -> Result<Block>;
    /// Free a block returned by [`alloc_block`](Memory::alloc_block) with the same layout
    /// (only `sizes`, `size` and `align` of the layout are meaningful here).
    ///
    /// # Safety
    /// `block` must come from this memory with `layout`, and must not be used afterwards.
    unsafe fn free_block(&mut self, block: Block, layout: &BlockLayout);
    /// Apply each region's final protection once linking is done.
    fn seal(&mut self, block: &Block, layout: &BlockLayout) -> Result<()>;
    /// Allocate metadata bytes.
    fn alloc_meta(&mut self, layout: Layout) -> Result<NonNull<u8>>;
    /// Free metadata bytes.
    ///
    /// # Safety
    /// `ptr` must come from [`alloc_meta`](Memory::alloc_meta) with `layout`.
    unsafe fn free_meta(&mut self, ptr: NonNull<u8>, layout: Layout);
    /// Bytes in use.
    fn stats(&self) -> HeapStats;
    /// Whether target addresses are addresses in this program, so loaded code can be called.
    fn is_native(&self) -> bool;
}

type Tlsf<'a> = rlsf::Tlsf<'a, u32, u32, 28, 16>;

/// The extension heap: a caller-provided arena, a real allocator (TLSF), granule rounding
/// for region kinds and byte accounting per kind.
pub struct ExtHeap<'a> {
    tlsf: Tlsf<'a>,
    granules: Granules,
    stats: HeapStats,
    base: u64,
    execute_in_place: bool,
    native: bool,
}

// SAFETY: the heap exclusively owns the arena it was given; nothing else points into it.
unsafe impl Send for ExtHeap<'_> {}

impl<'a> ExtHeap<'a> {
    /// Manage `arena` with the given granules.
    pub fn new(arena: &'a mut [MaybeUninit<u8>], granules: Granules) -> Self {
        let size = arena.len() as u64;
        let base = arena.as_ptr() as u64;
        let mut tlsf = Tlsf::new();
        tlsf.insert_free_block(arena);
        ExtHeap {
            tlsf,
            granules,
            stats: HeapStats {
                arena: size,
                ..Default::default()
            },
            base,
            execute_in_place: true,
            native: true,
        }
    }

    /// Say whether code may run from the buffer of a persistent or writable loader (true by
    /// default: flash and SRAM are executable on microcontrollers without an MPU rule
    /// against it).
    pub fn with_execute_in_place(mut self, allowed: bool) -> Self {
        self.execute_in_place = allowed;
        self
    }

    /// Say whether the arena is executable memory of this program (true by default, as on a
    /// microcontroller). On a hosted OS an arena in ordinary heap memory is not executable:
    /// pass `false` there, and [`Extension::function`](crate::Extension::function),
    /// `data`, `bringup` and `teardown` return [`Error::NotNative`] instead of handing out
    /// pointers that would crash. Linking works either way.
    pub fn with_native(mut self, native: bool) -> Self {
        self.native = native;
        self
    }

    /// Host address of the arena's first byte.
    pub fn base(&self) -> u64 {
        self.base
    }

    fn alloc_raw(&mut self, layout: Layout, kind: RegionKind) -> Result<NonNull<u8>> {
        self.tlsf.allocate(layout).ok_or(Error::OutOfMemory {
            kind,
            size: layout.size() as u64,
            align: layout.align() as u64,
            free: self.stats.arena.saturating_sub(self.stats.total()),
        })
    }
}

fn block_layout(l: &BlockLayout) -> Result<Layout> {
    let size = usize::try_from(l.size.max(1)).ok();
    let align = usize::try_from(l.align).ok();
    match (size, align) {
        (Some(s), Some(a)) => Layout::from_size_align(s, a).map_err(|_| Error::TooLarge {
            what: "extension block",
            value: l.size,
            limit: isize::MAX as u64,
        }),
        _ => Err(Error::TooLarge {
            what: "extension block",
            value: l.size,
            limit: usize::MAX as u64,
        }),
    }
}

impl Memory for ExtHeap<'_> {
    fn granules(&self) -> Granules {
        self.granules
    }
    fn in_place_ok(&self, kind: RegionKind, _addr: u64, _len: u64) -> bool {
        kind != RegionKind::Text || self.execute_in_place
    }
    fn alloc_block(&mut self, layout: &BlockLayout) -> Result<Block> {
        let l = block_layout(layout)?;
        let ptr = self.alloc_raw(l, RegionKind::Text)?;
        for k in 0..4 {
            self.stats.regions[k] += layout.sizes[k];
        }
        self.stats.padding += layout.padding();
        self.stats.allocations += 1;
        Ok(Block {
            addr: ptr.as_ptr() as u64,
            ptr,
        })
    }
    unsafe fn free_block(&mut self, block: Block, layout: &BlockLayout) {
        for k in 0..4 {
            self.stats.regions[k] -= layout.sizes[k];
        }
        self.stats.padding -= layout.padding();
        self.stats.allocations -= 1;
        // SAFETY: the caller passes a block this heap allocated with this layout.
        unsafe { self.tlsf.deallocate(block.ptr, layout.align as usize) }
    }
    fn seal(&mut self, _block: &Block, _layout: &BlockLayout) -> Result<()> {
        Ok(())
    }
    fn alloc_meta(&mut self, layout: Layout) -> Result<NonNull<u8>> {
        let ptr = self.alloc_raw(layout, RegionKind::Metadata)?;
        self.stats.metadata += layout.size() as u64;
        self.stats.allocations += 1;
        Ok(ptr)
    }
    unsafe fn free_meta(&mut self, ptr: NonNull<u8>, layout: Layout) {
        self.stats.metadata -= layout.size() as u64;
        self.stats.allocations -= 1;
        // SAFETY: the caller passes metadata this heap allocated with this layout.
        unsafe { self.tlsf.deallocate(ptr, layout.align()) }
    }
    fn stats(&self) -> HeapStats {
        self.stats
    }
    fn is_native(&self) -> bool {
        self.native
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn granules_round_and_align() {
        use crate::layout::Granule;
        assert_eq!(Granule::None.round(5), (5, 1));
        assert_eq!(Granule::Mpu32.round(33), (64, 32));
        assert_eq!(Granule::MpuPow2.round(33), (64, 64));
        assert_eq!(Granule::MpuPow2.round(3), (32, 32));
        assert_eq!(Granule::Page4K.round(4097), (8192, 4096));
        assert_eq!(Granule::Page4K.round(0), (0, 1));
    }

    #[test]
    fn heap_accounts_per_kind_and_returns_to_zero() {
        let mut arena = [MaybeUninit::uninit(); 8192];
        let mut heap = ExtHeap::new(&mut arena, Granules::MPU32);
        let l = BlockLayout::arrange([10, 0, 40, 8], [4, 1, 8, 8], &heap.granules());
        assert_eq!(l.sizes, [32, 0, 64, 32]);
        let b = heap.alloc_block(&l).unwrap();
        assert_eq!(b.addr % l.align, 0);
        let m = heap
            .alloc_meta(Layout::from_size_align(40, 8).unwrap())
            .unwrap();
        let s = heap.stats();
        assert_eq!(s.regions, [32, 0, 64, 32]);
        assert_eq!(s.metadata, 40);
        unsafe {
            heap.free_meta(m, Layout::from_size_align(40, 8).unwrap());
            heap.free_block(b, &l);
        }
        assert_eq!(heap.stats().total(), 0);
    }

    #[test]
    fn exhausted_heap_is_an_error() {
        let mut arena = [MaybeUninit::uninit(); 512];
        let mut heap = ExtHeap::new(&mut arena, Granules::NONE);
        let l = BlockLayout::arrange([4096, 0, 0, 0], [1; 4], &heap.granules());
        assert!(matches!(
            heap.alloc_block(&l),
            Err(Error::OutOfMemory { .. })
        ));
        assert_eq!(heap.stats().total(), 0);
    }
}
