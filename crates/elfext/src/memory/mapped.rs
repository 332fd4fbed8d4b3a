//! [`MapMemory`]: extension regions and metadata allocated from a [`MemoryMap`], so that the
//! map shows every extension's regions by type and name.

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use alloc::vec::Vec;

use super::map::{BankKind, MapEntry, MemoryMap, RangeType, Request};
use super::{Block, Claim, Claimed, HeapStats, Memory};
use crate::error::{Error, Name, Result};
use crate::layout::{BlockLayout, Granules, RegionKind};

const KINDS: [RegionKind; 4] = [
    RegionKind::Text,
    RegionKind::Rodata,
    RegionKind::Data,
    RegionKind::Bss,
];

/// A [`Memory`] backend that allocates from a [`MemoryMap`]: each region of an extension's
/// block (TEXT, RODATA, DATA, BSS) and each metadata record is a reservation of its type,
/// owned by the extension's name, inside one RAM bank made of a caller-provided arena.
/// Unloading frees them. The map may describe more (flash, the firmware, loaded files,
/// devices): the application reserves those through [`reserve`](Self::reserve).
pub struct MapMemory<'a> {
    map: MemoryMap<'a>,
    /// The arena's bank: `[start, end)`.
    arena: (u64, u64),
    owner: Name,
    stats: HeapStats,
    execute_in_place: bool,
    native: bool,
}

impl<'a> MapMemory<'a> {
    /// Allocate extensions from `arena`, added to `map` as a RAM bank named `name`.
    ///
    /// The region granules are the map's (see [`MemoryMap::with_granules`]).
    pub fn new(
        mut map: MemoryMap<'a>,
        arena: &'a mut [MaybeUninit<u8>],
        name: &str,
    ) -> Result<Self> {
        let start = arena.as_mut_ptr() as u64;
        let size = arena.len() as u64;
        map.add_bank(start, size, BankKind::Ram, name)?;
        Ok(MapMemory {
            map,
            arena: (start, start + size),
            owner: Name::EMPTY,
            stats: HeapStats {
                arena: size,
                ..Default::default()
            },
            execute_in_place: true,
            native: true,
        })
    }

    /// Say whether code may run from the buffer of a persistent or writable loader (true by
    /// default), as [`ExtHeap::with_execute_in_place`](super::ExtHeap::with_execute_in_place).
    pub fn with_execute_in_place(mut self, allowed: bool) -> Self {
        self.execute_in_place = allowed;
        self
    }

    /// Say whether the arena is executable memory of this program (true by default), as
    /// [`ExtHeap::with_native`](super::ExtHeap::with_native).
    pub fn with_native(mut self, native: bool) -> Self {
        self.native = native;
        self
    }

    /// The memory map, to read or export (`iter`, `key`, `entry_at`).
    pub fn map(&self) -> &MemoryMap<'a> {
        &self.map
    }

    /// Reserve a range of the application's own (a loaded file, a device buffer, the
    /// firmware) anywhere in the map. Extension and metadata types are the loader's.
    pub fn reserve(&mut self, req: &Request) -> Result<MapEntry> {
        check_app_type(req)?;
        self.map.allocate(req)
    }

    /// Reserve the largest block `req` allows (at least `req.size` bytes), for a file of
    /// unknown size; [`shrink`](Self::shrink) it once the size is known.
    pub fn reserve_max(&mut self, req: &Request) -> Result<MapEntry> {
        check_app_type(req)?;
        self.map.allocate_max(req)
    }

    /// Shrink a reservation made with [`reserve`](Self::reserve) (a file whose size became
    /// known).
    pub fn shrink(&mut self, start: u64, size: u64) -> Result<MapEntry> {
        self.check_not_loaders(start)?;
        self.map.shrink(start, size)
    }

    /// Free a reservation made with [`reserve`](Self::reserve).
    pub fn release(&mut self, start: u64) -> Result<MapEntry> {
        self.check_not_loaders(start)?;
        self.map.free(start)
    }

    /// Add a bank to the map (flash, other RAM) for reservations of the application's own.
    pub fn add_bank(&mut self, start: u64, size: u64, kind: BankKind, name: &str) -> Result<u8> {
        self.map.add_bank(start, size, kind, name)
    }

    /// Tell `observer` about every change of the map; returns its id.
    pub fn subscribe(&mut self, observer: &'a dyn super::map::MapObserver) -> Result<usize> {
        self.map.subscribe(observer)
    }

    fn check_not_loaders(&self, start: u64) -> Result<()> {
        match self.map.entry_at(start) {
            Some(e) if e.start == start && is_loader_type(e.ty) => Err(Error::MapBadRequest {
                problem: "this range belongs to the loader",
                value: start,
            }),
            _ => Ok(()),
        }
    }

    /// A request of `ty` inside the arena, owned by the current extension.
    fn request(&self, ty: RangeType, size: u64) -> Request {
        Request {
            owner: self.owner,
            ..Request::new(ty, size).window(self.arena.0, self.arena.1 - 1)
        }
    }

    fn no_space(&self, kind: RegionKind, size: u64, align: u64, e: Error) -> Error {
        match e {
            Error::MapNoSpace { .. } => Error::OutOfMemory {
                kind,
                size,
                align,
                free: self.map.free_bytes(),
            },
            e => e,
        }
    }

    /// The range `[addr + offset, + size)` of a region of `kind`, if it lies in the arena.
    fn inside(&self, addr: u64, offset: u64, size: u64, kind: RegionKind) -> Result<(u64, u64)> {
        let start = addr.checked_add(offset);
        let end = start.and_then(|s| s.checked_add(size));
        match (start, end) {
            (Some(start), Some(end)) if start >= self.arena.0 && end <= self.arena.1 => {
                Ok((start, end))
            }
            _ => Err(Error::OutsideMemory {
                owner: self.owner,
                kind,
                start: start.unwrap_or(addr),
                end: end.unwrap_or(u64::MAX),
            }),
        }
    }

    /// Append the requests that take back each non-empty region of a block at `addr`;
    /// the block's host pointer.
    fn block_requests(
        &self,
        addr: u64,
        layout: &BlockLayout,
        reqs: &mut Vec<Request>,
    ) -> Result<NonNull<u8>> {
        let ptr = NonNull::new(addr as usize as *mut u8)
            .filter(|_| usize::try_from(addr).is_ok())
            .ok_or(Error::MapBadRequest {
                problem: "block at an address this machine cannot hold",
                value: addr,
            })?;
        for (k, kind) in KINDS.iter().enumerate() {
            if layout.sizes[k] > 0 {
                let (start, _) = self.inside(addr, layout.offsets[k], layout.sizes[k], *kind)?;
                reqs.push(self.request((*kind).into(), layout.sizes[k]).at(start));
            }
        }
        Ok(ptr)
    }

    /// Count a block taken in the statistics.
    fn count_block(&mut self, layout: &BlockLayout) {
        for k in 0..4 {
            self.stats.regions[k] += layout.sizes[k];
        }
        self.stats.padding += layout.padding();
        self.stats.allocations += 1;
    }

    /// The request that takes a record back at `addr`.
    fn meta_claim(&self, addr: u64, layout: Layout) -> Result<Request> {
        let size = layout.size().max(1) as u64;
        self.inside(addr, 0, size, RegionKind::Metadata)?;
        Ok(self
            .request(RangeType::Metadata, size)
            .align(layout.align() as u64)
            .at(addr))
    }

    /// Free the regions of a block reserved so far (on failure or unload).
    fn free_regions(&mut self, addr: u64, layout: &BlockLayout) {
        for k in 0..4 {
            if layout.sizes[k] > 0 {
                // Each non-empty region was reserved at its offset; nothing else frees
                // loader ranges, so this cannot fail.
                let _ = self.map.free(addr + layout.offsets[k]);
            }
        }
    }
}

/// Refuse a request of the application's for a type the loader reserves.
fn check_app_type(req: &Request) -> Result<()> {
    if is_loader_type(req.ty) {
        return Err(Error::MapBadRequest {
            problem: "extension regions and metadata are reserved by the loader",
            value: req.ty as u64,
        });
    }
    Ok(())
}

fn is_loader_type(ty: RangeType) -> bool {
    matches!(
        ty,
        RangeType::Text
            | RangeType::Rodata
            | RangeType::Data
            | RangeType::Bss
            | RangeType::Metadata
    )
}

impl Memory for MapMemory<'_> {
    fn granules(&self) -> Granules {
        Granules(KINDS.map(|k| self.map.granule(k.into())))
    }
    fn in_place_ok(&self, kind: RegionKind, _addr: u64, _len: u64) -> bool {
        kind != RegionKind::Text || self.execute_in_place
    }
    fn owner(&mut self, name: &str) {
        self.owner = Name::from(name);
    }
    fn alloc_block(&mut self, layout: &BlockLayout) -> Result<Block> {
        // The first non-empty region finds a place for the whole block, then gives back
        // what the others take at their offsets.
        let first = (0..4).find(|&k| layout.sizes[k] > 0).unwrap_or(0);
        let kind = KINDS[first];
        let size = layout.size.max(1);
        let whole = self
            .request(kind.into(), size)
            .align(layout.align.max(1))
            .bottom_up();
        let at = self
            .map
            .allocate(&whole)
            .map_err(|e| self.no_space(kind, size, layout.align, e))?
            .start;
        let addr = at - layout.offsets[first];
        let mut result = Ok(());
        if layout.sizes[first] > 0 && layout.sizes[first] < size {
            result = self.map.shrink(at, layout.sizes[first]).map(|_| ());
        }
        let mut reserved = BlockLayout {
            sizes: [0; 4],
            ..*layout
        };
        reserved.sizes[first] = layout.sizes[first].max(1);
        for (k, kind) in KINDS.iter().enumerate().skip(first + 1) {
            if result.is_err() {
                break;
            }
            if layout.sizes[k] == 0 {
                continue;
            }
            let req = self
                .request((*kind).into(), layout.sizes[k])
                .at(addr + layout.offsets[k]);
            result = self.map.allocate(&req).map(|_| ());
            if result.is_ok() {
                reserved.sizes[k] = layout.sizes[k];
            }
        }
        let ptr = result.and_then(|()| {
            NonNull::new(addr as usize as *mut u8).ok_or(Error::MapBadRequest {
                problem: "block at address 0",
                value: 0,
            })
        });
        match ptr {
            Ok(ptr) => {
                self.count_block(layout);
                Ok(Block { addr, ptr })
            }
            Err(e) => {
                self.free_regions(addr, &reserved);
                Err(e)
            }
        }
    }
    fn claim_meta(&mut self, addr: u64, layout: Layout) -> Result<NonNull<u8>> {
        let req = self.meta_claim(addr, layout)?;
        self.map.allocate(&req)?;
        self.stats.metadata += layout.size() as u64;
        self.stats.allocations += 1;
        NonNull::new(addr as usize as *mut u8).ok_or(Error::MapBadRequest {
            problem: "metadata at address 0",
            value: 0,
        })
    }
    fn claims_meta(&self) -> bool {
        true
    }
    fn claim_all(&mut self, claims: &[Claim<'_>]) -> Result<()> {
        // Every region and record as an exact request, then one pass over the map.
        let mut reqs = Vec::with_capacity(claims.len() * 3);
        for c in claims {
            self.owner = Name::from(c.owner);
            match c.what {
                Claimed::Block(layout) => {
                    self.block_requests(c.addr, layout, &mut reqs)?;
                }
                Claimed::Meta(layout) => reqs.push(self.meta_claim(c.addr, layout)?),
            }
        }
        self.map.reserve_all(&reqs)?;
        for c in claims {
            match c.what {
                Claimed::Block(layout) => self.count_block(layout),
                Claimed::Meta(layout) => {
                    self.stats.metadata += layout.size() as u64;
                    self.stats.allocations += 1;
                }
            }
        }
        Ok(())
    }
    fn claim_block(&mut self, addr: u64, layout: &BlockLayout) -> Result<Block> {
        // Every non-empty region at exactly its place, inside the arena; all or nothing.
        let mut reqs = Vec::with_capacity(4);
        let ptr = self.block_requests(addr, layout, &mut reqs)?;
        self.map.reserve_all(&reqs)?;
        self.count_block(layout);
        Ok(Block { addr, ptr })
    }
    unsafe fn free_block(&mut self, block: Block, layout: &BlockLayout) {
        // The record keeps only the block's size, not where each region sits: walk the
        // block and free the region reservations of its owner (padding between regions is
        // free space, which another reservation may have taken since).
        let end = block.addr + layout.size.max(1);
        let owner = self.map.entry_at(block.addr).map(|e| e.owner);
        let mut at = block.addr;
        while at < end {
            let Some(e) = self.map.entry_at(at) else {
                break;
            };
            let region = matches!(
                e.ty,
                RangeType::Text | RangeType::Rodata | RangeType::Data | RangeType::Bss
            );
            if region && Some(e.owner) == owner {
                // A reservation of this block: nothing else frees loader ranges.
                let _ = self.map.free(e.start);
            }
            at = e.end;
        }
        for k in 0..4 {
            self.stats.regions[k] -= layout.sizes[k];
        }
        self.stats.padding -= layout.padding();
        self.stats.allocations -= 1;
    }
    fn seal(&mut self, _block: &Block, _layout: &BlockLayout) -> Result<()> {
        Ok(())
    }
    fn alloc_meta(&mut self, layout: Layout) -> Result<NonNull<u8>> {
        let size = layout.size().max(1) as u64;
        let req = self
            .request(RangeType::Metadata, size)
            .align(layout.align() as u64)
            .top_down();
        let e = self
            .map
            .allocate(&req)
            .map_err(|e| self.no_space(RegionKind::Metadata, size, layout.align() as u64, e))?;
        self.stats.metadata += layout.size() as u64;
        self.stats.allocations += 1;
        NonNull::new(e.start as usize as *mut u8).ok_or(Error::MapBadRequest {
            problem: "metadata at address 0",
            value: 0,
        })
    }
    unsafe fn free_meta(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // The record was reserved at this address and nothing else frees loader ranges.
        let _ = self.map.free(ptr.as_ptr() as u64);
        self.stats.metadata -= layout.size() as u64;
        self.stats.allocations -= 1;
    }
    fn stats(&self) -> HeapStats {
        self.stats
    }
    fn is_native(&self) -> bool {
        self.native
    }
}
