//! The memory map: every byte of every bank, as typed reservations and free ranges.
//!
//! A [`MemoryMap`] knows the banks of RAM and flash the application gives it, and cuts them
//! into ranges: free ones and reservations with a [`RangeType`], [`RangeFlags`] and an owner
//! [`Name`]. Addresses are target addresses (`u64`), so the same map describes the running
//! system or a target seen from a host.
//!
//! Bookkeeping lives in a caller-provided slice of [`Slot`]s, one per range: the map never
//! allocates. The ranges form a treap keyed by start address, each node augmented with the
//! largest free length in its subtree. Finding the lowest (or highest) free place for a
//! request inside an address window is one pruned descent, O(log n) expected when the first
//! free range long enough also satisfies the alignment (always so for alignment 1; each
//! range that is long enough but cannot hold the aligned block adds one visit). Exact
//! reservations, frees and shrinks are O(log n) lookups; coalescing touches the two
//! neighbours only. Running out of slots is [`Error::MapFull`], checked before anything
//! changes.
//!
//! Nodes carry parent links, so nothing recurses over the tree: the searches walk back up
//! by parent links instead of returning from calls, an allocation carves the free range
//! its search found in place (one new node for each rest, attached next to it and rotated
//! up), a free grows a free neighbour or turns the reservation into a free range in place
//! and unlinks at most two nodes, and the largest-free augmentation is recomputed upwards
//! from each change only until it stops changing. [`iter`](MemoryMap::iter) follows the
//! in-order links, O(1) amortized per step.
//!
//! Every change bumps the map's [`key`](MemoryMap::key) and is reported to the
//! [`MapObserver`]s subscribed to the map.

use alloc::vec::Vec;
use core::fmt;

use crate::error::{Error, Name, Result};
use crate::layout::{Granule, Granules, RegionKind};

/// What a range of the map holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RangeType {
    /// Free space.
    Free = 0,
    /// The firmware (or host program) itself.
    Firmware = 1,
    /// Extension code.
    Text = 2,
    /// Extension read-only data.
    Rodata = 3,
    /// Extension initialized data.
    Data = 4,
    /// Extension zero-initialized data.
    Bss = 5,
    /// Loader metadata.
    Metadata = 6,
    /// A loaded file (an object image kept in memory).
    File = 7,
    /// Reserved by or for a device.
    Device = 8,
}

impl RangeType {
    /// Number of range types.
    pub const COUNT: usize = 9;
}

impl From<RegionKind> for RangeType {
    fn from(kind: RegionKind) -> Self {
        match kind {
            RegionKind::Text => RangeType::Text,
            RegionKind::Rodata => RangeType::Rodata,
            RegionKind::Data => RangeType::Data,
            RegionKind::Bss => RangeType::Bss,
            RegionKind::Metadata => RangeType::Metadata,
        }
    }
}

impl fmt::Display for RangeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RangeType::Free => "free",
            RangeType::Firmware => "firmware",
            RangeType::Text => "TEXT",
            RangeType::Rodata => "RODATA",
            RangeType::Data => "DATA",
            RangeType::Bss => "BSS",
            RangeType::Metadata => "metadata",
            RangeType::File => "file",
            RangeType::Device => "device",
        })
    }
}

/// Flags of a reservation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RangeFlags(u8);

impl RangeFlags {
    /// No flags.
    pub const NONE: RangeFlags = RangeFlags(0);
    /// Nothing may be reserved or loaded over this range.
    pub const NO_OVERWRITE: RangeFlags = RangeFlags(1);
    /// The range must not be mapped (accessed) by the loader.
    pub const NO_MAP: RangeFlags = RangeFlags(2);
    /// The range keeps its contents across save / restore.
    pub const PERSISTENT: RangeFlags = RangeFlags(4);

    /// Whether every flag of `other` is set.
    pub fn contains(self, other: RangeFlags) -> bool {
        self.0 & other.0 == other.0
    }
    /// The raw bits.
    pub fn bits(self) -> u8 {
        self.0
    }
}

impl core::ops::BitOr for RangeFlags {
    type Output = RangeFlags;
    fn bitor(self, rhs: RangeFlags) -> RangeFlags {
        RangeFlags(self.0 | rhs.0)
    }
}

impl fmt::Display for RangeFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        for (flag, name) in [
            (RangeFlags::NO_OVERWRITE, "no-overwrite"),
            (RangeFlags::NO_MAP, "no-map"),
            (RangeFlags::PERSISTENT, "persistent"),
        ] {
            if self.contains(flag) {
                write!(f, "{sep}{name}")?;
                sep = ", ";
            }
        }
        Ok(())
    }
}

/// One range of the map, as exported: `[start, end)` with its type, flags, owner and bank.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MapEntry {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// What the range holds.
    pub ty: RangeType,
    /// Flags (none for free ranges).
    pub flags: RangeFlags,
    /// Index of the bank the range lies in.
    pub bank: u8,
    /// Who reserved it (empty for free ranges).
    pub owner: Name,
}

impl MapEntry {
    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    /// Whether the range is empty (never true for ranges of a map).
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }
}

impl fmt::Display for MapEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{:#x}, {:#x})", self.ty, self.start, self.end)?;
        if !self.owner.as_bytes().is_empty() {
            write!(f, " of `{}`", self.owner)?;
        }
        if self.flags != RangeFlags::NONE {
            write!(f, " ({})", self.flags)?;
        }
        Ok(())
    }
}

/// What kind of memory a bank is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BankKind {
    /// Writable memory.
    Ram,
    /// Flash (read-only at run time, written by a programmer or a flash driver).
    Flash,
}

/// A bank of memory the map manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bank {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
    /// RAM or flash.
    pub kind: BankKind,
    /// The application's name for it.
    pub name: Name,
}

/// Where an allocation goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The lowest fitting address.
    BottomUp,
    /// The highest fitting address.
    TopDown,
    /// Exactly this address.
    At(u64),
}

/// A reservation request: what, how much, where, for whom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Type of the reservation (not [`RangeType::Free`]).
    pub ty: RangeType,
    /// Bytes (rounded up to the type's granule); for [`MemoryMap::allocate_max`], the
    /// smallest acceptable size.
    pub size: u64,
    /// Alignment of the start (a power of two; the granule may raise it).
    pub align: u64,
    /// Placement.
    pub place: Place,
    /// Lowest allowed address.
    pub min: u64,
    /// Highest allowed address (of the last byte).
    pub max: u64,
    /// Flags of the reservation.
    pub flags: RangeFlags,
    /// Owner.
    pub owner: Name,
    /// Merge with overlapping reservations of the same type, flags and owner instead of
    /// failing (exact placement only).
    pub merge: bool,
}

impl Request {
    /// `size` bytes of type `ty`, bottom-up, byte-aligned, anywhere, no flags, no owner.
    pub fn new(ty: RangeType, size: u64) -> Self {
        Request {
            ty,
            size,
            align: 1,
            place: Place::BottomUp,
            min: 0,
            max: u64::MAX,
            flags: RangeFlags::NONE,
            owner: Name::new(b""),
            merge: false,
        }
    }
    /// Align the start to `align`.
    pub fn align(mut self, align: u64) -> Self {
        self.align = align;
        self
    }
    /// Place at the highest fitting address.
    pub fn top_down(mut self) -> Self {
        self.place = Place::TopDown;
        self
    }
    /// Place at the lowest fitting address.
    pub fn bottom_up(mut self) -> Self {
        self.place = Place::BottomUp;
        self
    }
    /// Place exactly at `addr`.
    pub fn at(mut self, addr: u64) -> Self {
        self.place = Place::At(addr);
        self
    }
    /// Keep the reservation inside `[min, max]` (`max` is the highest address of a byte).
    pub fn window(mut self, min: u64, max: u64) -> Self {
        self.min = min;
        self.max = max;
        self
    }
    /// Set the flags.
    pub fn flags(mut self, flags: RangeFlags) -> Self {
        self.flags = flags;
        self
    }
    /// Set the owner.
    pub fn owner(mut self, owner: &str) -> Self {
        self.owner = Name::from(owner);
        self
    }
    /// Merge with overlapping reservations of the same type, flags and owner.
    pub fn merge(mut self) -> Self {
        self.merge = true;
        self
    }
}

/// What changed in a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// A bank was added (the entry is its free range).
    BankAdded,
    /// A range was reserved (the entry is the reservation, after any merge).
    Reserved,
    /// A reservation was freed (the entry is the reservation as it was).
    Freed,
    /// A reservation was shrunk (the entry is the reservation as it is now).
    Shrunk {
        /// End before shrinking.
        old_end: u64,
    },
}

/// One change of a map, as told to observers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Change {
    /// The map's key after the change.
    pub key: u64,
    /// What happened.
    pub kind: ChangeKind,
    /// The range concerned.
    pub entry: MapEntry,
}

/// Someone told of every change of a map.
pub trait MapObserver {
    /// Called after each change.
    fn changed(&self, change: &Change);
}

impl<F: Fn(&Change)> MapObserver for F {
    fn changed(&self, change: &Change) {
        self(change)
    }
}

/// Bookkeeping for one range of a map (opaque; give the map a slice of them).
///
/// `repr(C)` keeps what a search reads (start, children, end, augmentation) in the first
/// 40 bytes and the owner, read only when a range is exported, at the end.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct Slot {
    start: u64,
    left: u32,
    right: u32,
    end: u64,
    /// Largest free length in the subtree rooted here.
    max_free: u64,
    /// Parent in the treap (`NIL` at the root): lets updates walk up instead of recursing
    /// down, and gives in-order neighbours and iteration without a search from the root.
    parent: u32,
    prio: u32,
    ty: RangeType,
    flags: RangeFlags,
    bank: u8,
    owner: Name,
}

impl Slot {
    /// An unused slot.
    pub const EMPTY: Slot = Slot {
        start: 0,
        end: 0,
        max_free: 0,
        left: NIL,
        right: NIL,
        parent: NIL,
        prio: 0,
        ty: RangeType::Free,
        flags: RangeFlags::NONE,
        bank: 0,
        owner: Name::EMPTY,
    };

    /// A detached free range (the caller sets type, flags and owner of a reservation).
    fn range(start: u64, end: u64, bank: u8) -> Slot {
        Slot {
            start,
            end,
            max_free: end - start,
            bank,
            ..Slot::EMPTY
        }
    }

    fn free_len(&self) -> u64 {
        if self.ty == RangeType::Free {
            self.end - self.start
        } else {
            0
        }
    }

    fn entry(&self) -> MapEntry {
        MapEntry {
            start: self.start,
            end: self.end,
            ty: self.ty,
            flags: self.flags,
            bank: self.bank,
            owner: self.owner,
        }
    }
}

const NIL: u32 = u32::MAX;

/// How many banks a map holds.
pub const MAX_BANKS: usize = 8;
/// How many observers can subscribe to a map.
pub const MAX_OBSERVERS: usize = 4;

/// A request after rounding and validation: where a block of `size` bytes aligned to `align`
/// may go.
#[derive(Clone, Copy)]
struct Fit {
    size: u64,
    align: u64,
    /// Lowest address.
    lo: u64,
    /// One past the highest address.
    hi: u64,
    granule: Granule,
}

impl Fit {
    /// The clipped part of `[start, end)` inside the window.
    fn clip(&self, start: u64, end: u64) -> Option<(u64, u64)> {
        let (s, e) = (start.max(self.lo), end.min(self.hi));
        (s < e).then_some((s, e))
    }
    fn lowest_in(&self, start: u64, end: u64) -> Option<u64> {
        let (s, e) = self.clip(start, end)?;
        let a = align_up(s, self.align)?;
        (a.checked_add(self.size)? <= e).then_some(a)
    }
    fn highest_in(&self, start: u64, end: u64) -> Option<u64> {
        let (s, e) = self.clip(start, end)?;
        let a = e.checked_sub(self.size)? & !(self.align - 1);
        (a >= s).then_some(a)
    }
    /// The largest block (start, length) of `[start, end)` inside the window that the
    /// granule allows.
    fn largest_in(&self, start: u64, end: u64) -> Option<(u64, u64)> {
        let (s, e) = self.clip(start, end)?;
        let found = match self.granule {
            Granule::MpuPow2 => {
                let a = align_up(s, self.align.max(32))?;
                let room = e.checked_sub(a).filter(|&r| r >= 32)?;
                let mut p = 1u64 << (63 - room.leading_zeros());
                loop {
                    let a = align_up(s, self.align.max(p))?;
                    if a.checked_add(p).is_some_and(|x| x <= e) {
                        break (a, p);
                    }
                    p /= 2;
                    if p < 32 {
                        return None;
                    }
                }
            }
            g => {
                let (_, unit) = g.round(1);
                let a = align_up(s, self.align)?;
                let len = e.checked_sub(a)? / unit * unit;
                (a, len)
            }
        };
        (found.1 >= self.size.max(1)).then_some(found)
    }
}

fn align_up(x: u64, align: u64) -> Option<u64> {
    Some(x.checked_add(align - 1)? & !(align - 1))
}

fn no_space(req: &Request, fit: &Fit) -> Error {
    Error::MapNoSpace {
        ty: req.ty,
        size: fit.size,
        align: fit.align,
        min: req.min,
        max: req.max,
    }
}

fn bad(problem: &'static str, value: u64) -> Error {
    Error::MapBadRequest { problem, value }
}

/// The memory map: banks cut into free ranges and typed reservations (see the
/// [module documentation](self)).
pub struct MemoryMap<'a> {
    slots: &'a mut [Slot],
    /// Slots handed out so far (the ones above are untouched).
    bumped: u32,
    /// Released slots, linked through `left`.
    released: u32,
    used: u32,
    root: u32,
    seed: u32,
    key: u64,
    banks: [Option<Bank>; MAX_BANKS],
    granules: [Granule; RangeType::COUNT],
    observers: [Option<&'a dyn MapObserver>; MAX_OBSERVERS],
}

impl<'a> MemoryMap<'a> {
    /// An empty map keeping its bookkeeping in `slots` (one slot per range).
    pub fn new(slots: &'a mut [Slot]) -> Self {
        MemoryMap {
            slots,
            bumped: 0,
            released: NIL,
            used: 0,
            root: NIL,
            seed: 0x9e37_79b9,
            key: 0,
            banks: [None; MAX_BANKS],
            granules: [Granule::None; RangeType::COUNT],
            observers: [None; MAX_OBSERVERS],
        }
    }

    /// Round extension regions (TEXT, RODATA, DATA, BSS) to `granules`.
    pub fn with_granules(mut self, granules: Granules) -> Self {
        for kind in RegionKind::REGIONS {
            self.set_granule(kind.into(), granules.of(kind));
        }
        self
    }

    /// Round reservations of type `ty` to `granule`.
    pub fn set_granule(&mut self, ty: RangeType, granule: Granule) {
        self.granules[ty as usize] = granule;
    }

    /// The granule reservations of type `ty` are rounded to.
    pub fn granule(&self, ty: RangeType) -> Granule {
        self.granules[ty as usize]
    }

    /// The map key: changes on every modification, so a copy of the map can be checked.
    pub fn key(&self) -> u64 {
        self.key
    }

    /// Number of ranges (free and reserved).
    pub fn len(&self) -> usize {
        self.used as usize
    }

    /// Whether the map has no ranges (no banks).
    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// How many ranges the bookkeeping can hold.
    pub fn capacity(&self) -> usize {
        self.slots.len().min(NIL as usize)
    }

    /// Tell `observer` about every change from now on; returns its subscription number.
    pub fn subscribe(&mut self, observer: &'a dyn MapObserver) -> Result<usize> {
        let i = self
            .observers
            .iter()
            .position(Option::is_none)
            .ok_or(Error::MapFull {
                what: "observer",
                capacity: MAX_OBSERVERS as u32,
            })?;
        self.observers[i] = Some(observer);
        Ok(i)
    }

    /// End subscription `id`; returns whether it existed.
    pub fn unsubscribe(&mut self, id: usize) -> bool {
        self.observers.get_mut(id).and_then(Option::take).is_some()
    }

    /// The banks, in the order they were added.
    pub fn banks(&self) -> impl Iterator<Item = &Bank> + '_ {
        self.banks.iter().flatten()
    }

    /// Add a bank of `size` bytes at `start`: it becomes one free range. Returns its index.
    pub fn add_bank(&mut self, start: u64, size: u64, kind: BankKind, name: &str) -> Result<u8> {
        if size == 0 {
            return Err(bad("a bank cannot be empty", size));
        }
        let end = start
            .checked_add(size)
            .ok_or(bad("bank passes the end of the address space", start))?;
        if let Some(b) = self.banks().find(|b| b.start < end && start < b.end) {
            return Err(bad("bank overlaps an existing bank at", b.start));
        }
        let index = self
            .banks
            .iter()
            .position(Option::is_none)
            .ok_or(Error::MapFull {
                what: "bank",
                capacity: MAX_BANKS as u32,
            })?;
        let n = self.take_slot()?;
        self.banks[index] = Some(Bank {
            start,
            end,
            kind,
            name: Name::from(name),
        });
        self.set(
            n,
            start,
            end,
            RangeType::Free,
            RangeFlags::NONE,
            index as u8,
        );
        self.insert(n);
        let entry = self.slots[n as usize].entry();
        self.changed(ChangeKind::BankAdded, &entry);
        Ok(index as u8)
    }

    /// Reserve what `req` asks for; returns the reservation (after rounding and any merge).
    pub fn allocate(&mut self, req: &Request) -> Result<MapEntry> {
        let fit = self.fit(req)?;
        let found = match req.place {
            Place::At(addr) => {
                if addr % fit.align != 0 {
                    return Err(bad("address is not aligned as required", addr));
                }
                Some((addr, NIL))
            }
            Place::BottomUp => self.lowest(&fit),
            Place::TopDown => self.highest(&fit),
        };
        let (start, node) = found.ok_or_else(|| no_space(req, &fit))?;
        self.place(start, fit.size, req, node)
    }

    /// Reserve every request of `reqs` at its exact address ([`Request::at`]), over free
    /// space only, all or nothing: on error the map is as it was. Returns the number of
    /// reservations made.
    ///
    /// Meant for taking many ranges back at once (restoring a snapshot): with many
    /// requests it walks the map once and rebuilds its tree in one pass, O(ranges), instead
    /// of searching and rebalancing for every request; with few requests into a large map
    /// it reserves them one by one. The rebuild uses temporary vectors of the map's size;
    /// they are freed before it returns.
    pub fn reserve_all(&mut self, reqs: &[Request]) -> Result<usize> {
        // Check every request and sort them by address before anything changes.
        let mut items: Vec<(u64, u64, usize)> = Vec::with_capacity(reqs.len());
        for (i, req) in reqs.iter().enumerate() {
            let fit = self.fit(req)?;
            let Place::At(start) = req.place else {
                return Err(bad(
                    "reserve_all takes requests at exact addresses",
                    i as u64,
                ));
            };
            if start % fit.align != 0 {
                return Err(bad("address is not aligned as required", start));
            }
            let end = start
                .checked_add(fit.size)
                .ok_or_else(|| bad("reservation passes the end of the address space", start))?;
            if start < req.min || end - 1 > req.max {
                return Err(bad("reservation is outside the window at", start));
            }
            items.push((start, end, i));
        }
        items.sort_unstable_by_key(|it| it.0);
        let entry_of = |it: &(u64, u64, usize), bank: u8| MapEntry {
            start: it.0,
            end: it.1,
            ty: reqs[it.2].ty,
            flags: reqs[it.2].flags,
            bank,
            owner: reqs[it.2].owner,
        };
        for w in items.windows(2) {
            if w[1].0 < w[0].1 {
                return Err(Error::MapOverlap {
                    new: entry_of(&w[1], 0),
                    existing: entry_of(&w[0], 0),
                });
            }
        }
        if items.len() * 8 < self.used as usize {
            return self.reserve_each(reqs, &items);
        }
        // Why a request does not lie in one free range.
        let refuse = |map: &Self, it: &(u64, u64, usize)| -> Error {
            // The first byte of the request that is not free.
            let mut at = it.0;
            loop {
                match map.containing(at) {
                    Some(n) if map.slots[n as usize].ty == RangeType::Free => {
                        at = map.slots[n as usize].end;
                        if at >= it.1 {
                            // Free throughout but across banks.
                            return Error::MapOutsideBanks {
                                start: it.0,
                                end: it.1,
                            };
                        }
                    }
                    Some(n) => {
                        let bank = map.slots[n as usize].bank;
                        return Error::MapOverlap {
                            new: entry_of(it, bank),
                            existing: map.slots[n as usize].entry(),
                        };
                    }
                    None => {
                        return Error::MapOutsideBanks {
                            start: it.0,
                            end: it.1,
                        }
                    }
                }
            }
        };
        // Merge the map's ranges (in address order) with the requests.
        let mut out: Vec<Slot> = Vec::with_capacity(self.used as usize + 2 * items.len());
        let mut j = 0;
        let mut t = self.leftmost(self.root);
        while t != NIL {
            let s = &self.slots[t as usize];
            if j < items.len() && items[j].0 < s.start {
                return Err(refuse(self, &items[j]));
            }
            if s.ty != RangeType::Free {
                if j < items.len() && items[j].0 < s.end {
                    return Err(refuse(self, &items[j]));
                }
                out.push(*s);
            } else {
                let mut at = s.start;
                while j < items.len() && items[j].0 < s.end {
                    let it = items[j];
                    if it.1 > s.end {
                        return Err(refuse(self, &it));
                    }
                    if at < it.0 {
                        out.push(Slot::range(at, it.0, s.bank));
                    }
                    let req = &reqs[it.2];
                    let mut r = Slot::range(it.0, it.1, s.bank);
                    r.ty = req.ty;
                    r.flags = req.flags;
                    r.owner = req.owner;
                    out.push(r);
                    at = it.1;
                    j += 1;
                }
                if at < s.end {
                    out.push(Slot::range(at, s.end, s.bank));
                }
            }
            t = self.succ(t);
        }
        if let Some(it) = items.get(j) {
            return Err(refuse(self, it));
        }
        if out.len() > self.capacity() {
            return Err(self.full());
        }
        // Rebuild: slots 0.. in address order, a treap over fresh priorities. The right
        // spine is the stack of the classic Cartesian-tree construction, walked through
        // parent links; a node's subtree is complete when it leaves the spine, so its
        // augmentation is computed then.
        let mut top = NIL;
        for (i, r) in out.iter().enumerate() {
            let n = i as u32;
            let prio = self.next_prio();
            let mut last = NIL;
            while top != NIL && self.slots[top as usize].prio < prio {
                self.pull(top);
                last = top;
                top = self.slots[top as usize].parent;
            }
            let s = &mut self.slots[i];
            *s = *r;
            s.prio = prio;
            s.left = last;
            s.right = NIL;
            s.parent = top;
            if last != NIL {
                self.slots[last as usize].parent = n;
            }
            if top != NIL {
                self.slots[top as usize].right = n;
            }
            top = n;
        }
        let mut root = NIL;
        while top != NIL {
            self.pull(top);
            root = top;
            top = self.slots[top as usize].parent;
        }
        self.root = root;
        self.bumped = out.len() as u32;
        self.used = out.len() as u32;
        self.released = NIL;
        if self.observers.iter().all(Option::is_none) {
            self.key += items.len() as u64;
        } else {
            for r in out.iter().filter(|r| r.ty != RangeType::Free) {
                if items.binary_search_by_key(&r.start, |it| it.0).is_ok() {
                    self.changed(ChangeKind::Reserved, &r.entry());
                }
            }
        }
        Ok(items.len())
    }

    /// [`reserve_all`](Self::reserve_all) one request at a time (few requests into a large
    /// map); undoes what it did on error.
    fn reserve_each(&mut self, reqs: &[Request], items: &[(u64, u64, usize)]) -> Result<usize> {
        for (k, it) in items.iter().enumerate() {
            let req = Request {
                merge: false,
                ..reqs[it.2]
            };
            if let Err(e) = self.allocate(&req) {
                for done in &items[..k] {
                    // Reserved just above: freeing cannot fail.
                    let _ = self.free(done.0);
                }
                return Err(e);
            }
        }
        Ok(items.len())
    }

    /// Reserve the largest block `req` allows (at least `req.size` bytes), for a load of
    /// unknown size; [`shrink`](Self::shrink) it once the real size is known. Bottom-up
    /// prefers the lowest of equally large blocks, top-down the highest.
    pub fn allocate_max(&mut self, req: &Request) -> Result<MapEntry> {
        let mut fit = self.fit(&Request {
            size: req.size.max(1),
            ..*req
        })?;
        fit.size = req.size.max(1);
        let mut best = None;
        self.largest(self.root, &fit, req.place == Place::TopDown, &mut best);
        let (start, size) = best.ok_or_else(|| no_space(req, &fit))?;
        self.place(start, size, req, NIL)
    }

    /// Shrink the reservation starting at `start` to `size` bytes (rounded to its granule);
    /// the tail becomes free.
    pub fn shrink(&mut self, start: u64, size: u64) -> Result<MapEntry> {
        let n = self.reserved_at(start)?;
        let (ty, old_end, bank) = {
            let s = &self.slots[n as usize];
            (s.ty, s.end, s.bank)
        };
        let (size, align) = self.granules[ty as usize].round(size);
        if size == 0 {
            return Err(bad("cannot shrink to nothing; free the reservation", start));
        }
        if start % align != 0 {
            return Err(bad("start is not aligned to the shrunk size", start));
        }
        if size > old_end - start {
            return Err(bad("shrink cannot grow a reservation to", size));
        }
        let new_end = start + size;
        if new_end == old_end {
            return Ok(self.slots[n as usize].entry());
        }
        match self.free_after(n) {
            Some(m) => {
                // The free neighbour grows down over the tail: no node moves.
                self.slots[n as usize].end = new_end;
                self.slots[m as usize].start = new_end;
                self.fix_up_grow(m);
            }
            None => {
                let m = self.take_slot()?;
                self.slots[n as usize].end = new_end;
                self.set(m, new_end, old_end, RangeType::Free, RangeFlags::NONE, bank);
                self.insert_after(m, n);
            }
        }
        let entry = self.slots[n as usize].entry();
        self.changed(ChangeKind::Shrunk { old_end }, &entry);
        Ok(entry)
    }

    /// Free the reservation starting at `start`; it coalesces with free neighbours.
    pub fn free(&mut self, start: u64) -> Result<MapEntry> {
        let n = self.reserved_at(start)?;
        let old = self.slots[n as usize].entry();
        let prev = self.pred(n);
        let prev = (prev != NIL && {
            let p = &self.slots[prev as usize];
            p.ty == RangeType::Free && p.bank == old.bank && p.end == start
        })
        .then_some(prev);
        let next = self.free_after(n);
        let end = next.map_or(old.end, |m| self.slots[m as usize].end);
        // The free range that stays grows first (the augmentation only rises, up to where
        // it is already as large); the nodes removed after it then fix little.
        match prev {
            Some(p) => {
                self.slots[p as usize].end = end;
                self.fix_up_grow(p);
                self.delete(n);
                self.release(n);
            }
            None => {
                let s = &mut self.slots[n as usize];
                s.end = end;
                s.ty = RangeType::Free;
                s.flags = RangeFlags::NONE;
                s.owner = Name::EMPTY;
                self.fix_up_grow(n);
            }
        }
        if let Some(m) = next {
            self.delete(m);
            self.release(m);
        }
        self.changed(ChangeKind::Freed, &old);
        Ok(old)
    }

    /// The range holding `addr`, if `addr` is in a bank.
    pub fn entry_at(&self, addr: u64) -> Option<MapEntry> {
        self.containing(addr)
            .map(|n| self.slots[n as usize].entry())
    }

    /// All ranges, free and reserved, in address order.
    pub fn iter(&self) -> Entries<'_, 'a> {
        Entries {
            map: self,
            next: self.leftmost(self.root),
        }
    }

    /// Free bytes in all banks.
    pub fn free_bytes(&self) -> u64 {
        self.iter()
            .filter(|e| e.ty == RangeType::Free)
            .map(|e| e.len())
            .sum()
    }

    /// Length of the largest free range (O(1)).
    pub fn largest_free(&self) -> u64 {
        self.max_free(self.root)
    }

    // --- requests -------------------------------------------------------------------

    fn fit(&self, req: &Request) -> Result<Fit> {
        if req.ty == RangeType::Free {
            return Err(bad("cannot reserve a range of type free", 0));
        }
        if !req.align.is_power_of_two() {
            return Err(bad("alignment is not a power of two", req.align));
        }
        if req.size == 0 {
            return Err(bad("cannot reserve zero bytes", 0));
        }
        if req.min > req.max {
            return Err(bad("window is empty: min is above max", req.min));
        }
        let granule = self.granules[req.ty as usize];
        let (size, galign) = granule.round(req.size);
        Ok(Fit {
            size,
            align: req.align.max(galign),
            lo: req.min,
            hi: req.max.saturating_add(1),
            granule,
        })
    }

    /// Reserve `[start, start + size)` for `req`, over free space (or, with `req.merge`,
    /// over reservations it may merge with). `node` is the range holding `start` if the
    /// caller knows it, else `NIL`.
    fn place(&mut self, start: u64, size: u64, req: &Request, node: u32) -> Result<MapEntry> {
        let end = start
            .checked_add(size)
            .ok_or_else(|| bad("reservation passes the end of the address space", start))?;
        if start < req.min || end - 1 > req.max {
            return Err(bad("reservation is outside the window at", start));
        }
        let first = match node {
            NIL => self
                .containing(start)
                .ok_or(Error::MapOutsideBanks { start, end })?,
            n => n,
        };
        let f = &self.slots[first as usize];
        if f.ty == RangeType::Free && end <= f.end {
            self.carve(first, start, end, req)
        } else {
            self.place_over(first, start, end, req)
        }
    }

    /// Reserve `[start, end)` inside the free range `f`: `f` keeps the part below (or
    /// becomes the reservation), new nodes go right after it.
    fn carve(&mut self, f: u32, start: u64, end: u64, req: &Request) -> Result<MapEntry> {
        let (fstart, fend, bank) = {
            let s = &self.slots[f as usize];
            (s.start, s.end, s.bank)
        };
        let needed = u32::from(fstart < start) + u32::from(end < fend);
        if needed > self.spare() {
            return Err(self.full());
        }
        // New nodes go in first, while `f` still covers them: their lengths are below its
        // length, so their insertion stops fixing the augmentation at `f` at the latest,
        // and the path above `f` is fixed once, when `f` shrinks.
        let n = if fstart < start {
            let n = self.take_slot()?;
            self.set(n, start, end, req.ty, req.flags, bank);
            self.slots[n as usize].owner = req.owner;
            self.insert_after(n, f);
            n
        } else {
            f
        };
        if end < fend {
            let m = self.take_slot()?;
            self.set(m, end, fend, RangeType::Free, RangeFlags::NONE, bank);
            self.insert_after(m, n);
        }
        let s = &mut self.slots[f as usize];
        if n == f {
            s.end = end;
            s.ty = req.ty;
            s.flags = req.flags;
            s.owner = req.owner;
        } else {
            s.end = start;
        }
        self.fix_up(f);
        let entry = self.slots[n as usize].entry();
        self.changed(ChangeKind::Reserved, &entry);
        Ok(entry)
    }

    /// Reserve `[start, end)` starting in range `first`, over several ranges or a
    /// reservation (merging where `req` allows).
    fn place_over(&mut self, first: u32, start: u64, end: u64, req: &Request) -> Result<MapEntry> {
        let outside = || Error::MapOutsideBanks { start, end };
        let bank = self.slots[first as usize].bank;
        // Pass 1: check every range overlapping [start, end); find the union to replace.
        let (mut lo, mut hi, mut count) = (start, end, 0u32);
        let mut m = first;
        loop {
            let s = &self.slots[m as usize];
            if s.ty != RangeType::Free {
                let mergeable = req.merge
                    && s.ty == req.ty
                    && s.flags == req.flags
                    && s.owner == req.owner
                    && !s.flags.contains(RangeFlags::NO_OVERWRITE);
                if !mergeable {
                    let new = MapEntry {
                        start,
                        end,
                        ty: req.ty,
                        flags: req.flags,
                        bank,
                        owner: req.owner,
                    };
                    return Err(Error::MapOverlap {
                        new,
                        existing: s.entry(),
                    });
                }
                lo = lo.min(s.start);
                hi = hi.max(s.end);
            }
            count += 1;
            if s.end >= end {
                break;
            }
            let at = s.end;
            m = self.succ(m);
            if m == NIL || self.slots[m as usize].start != at || self.slots[m as usize].bank != bank
            {
                return Err(outside());
            }
        }
        let (left_start, left_ty) = {
            let s = &self.slots[first as usize];
            (s.start, s.ty)
        };
        let right_end = self.slots[m as usize].end;
        if count == 1 && left_ty != RangeType::Free {
            // Merged into the reservation that already covers it: nothing changes.
            return Ok(self.slots[first as usize].entry());
        }
        let left_rest = left_start < lo;
        let right_rest = right_end > hi;
        let needed = 1 + u32::from(left_rest) + u32::from(right_rest);
        if needed > count + self.spare() {
            return Err(self.full());
        }
        // Pass 2: replace the ranges by [lo, hi) and the free rests at either side.
        let mut at = first;
        for _ in 0..count {
            let next = self.succ(at);
            self.delete(at);
            self.release(at);
            at = next;
        }
        if left_rest {
            let n = self.take_slot()?;
            self.set(n, left_start, lo, RangeType::Free, RangeFlags::NONE, bank);
            self.insert(n);
        }
        if right_rest {
            let n = self.take_slot()?;
            self.set(n, hi, right_end, RangeType::Free, RangeFlags::NONE, bank);
            self.insert(n);
        }
        let n = self.take_slot()?;
        self.set(n, lo, hi, req.ty, req.flags, bank);
        self.slots[n as usize].owner = req.owner;
        self.insert(n);
        let entry = self.slots[n as usize].entry();
        self.changed(ChangeKind::Reserved, &entry);
        Ok(entry)
    }

    fn full(&self) -> Error {
        Error::MapFull {
            what: "range",
            capacity: self.capacity() as u32,
        }
    }

    /// The reservation starting exactly at `start` (the search stops at that node).
    fn reserved_at(&self, start: u64) -> Result<u32> {
        let mut t = self.root;
        while t != NIL {
            let s = &self.slots[t as usize];
            if start < s.start {
                t = s.left;
            } else if start > s.start {
                t = s.right;
            } else if s.ty != RangeType::Free {
                return Ok(t);
            } else {
                break;
            }
        }
        Err(Error::MapNotReserved { addr: start })
    }

    /// The free range right after `n` in the same bank, if any.
    fn free_after(&self, n: u32) -> Option<u32> {
        let m = self.succ(n);
        if m == NIL {
            return None;
        }
        let (s, t) = (&self.slots[n as usize], &self.slots[m as usize]);
        (t.start == s.end && t.ty == RangeType::Free && t.bank == s.bank).then_some(m)
    }

    fn changed(&mut self, kind: ChangeKind, entry: &MapEntry) {
        self.key += 1;
        if self.observers.iter().all(Option::is_none) {
            return;
        }
        let change = Change {
            key: self.key,
            kind,
            entry: *entry,
        };
        for o in self.observers.iter().flatten() {
            o.changed(&change);
        }
    }

    // --- searches -------------------------------------------------------------------

    fn viable(&self, t: u32, q: &Fit) -> bool {
        t != NIL && self.slots[t as usize].max_free >= q.size
    }

    /// The lowest fitting address and the free range holding it.
    fn lowest(&self, q: &Fit) -> Option<(u64, u32)> {
        self.nearest::<false>(q)
    }

    /// The highest fitting address and the free range holding it.
    fn highest(&self, q: &Fit) -> Option<(u64, u32)> {
        self.nearest::<true>(q)
    }

    /// The lowest (`TOP` false) or highest fitting address and the free range holding it:
    /// an in-order walk (reversed for `TOP`) that skips subtrees without a long enough free
    /// range and parts outside the window. Iterative: a failed subtree climbs back by
    /// parent links to the nearest ancestor whose own range and far subtree are still to
    /// be tried.
    fn nearest<const TOP: bool>(&self, q: &Fit) -> Option<(u64, u32)> {
        // The subtree searched first, and the one after the node itself.
        let near = |n: &Slot| if TOP { n.right } else { n.left };
        let far = |n: &Slot| if TOP { n.left } else { n.right };
        let fit_in = |t: u32| {
            let n = &self.slots[t as usize];
            if n.ty != RangeType::Free {
                return None;
            }
            let at = if TOP {
                q.highest_in(n.start, n.end)
            } else {
                q.lowest_in(n.start, n.end)
            };
            at.map(|a| (a, t))
        };
        let mut t = self.root;
        if !self.viable(t, q) {
            return None;
        }
        'descend: loop {
            let n = &self.slots[t as usize];
            if n.start >= q.hi {
                // This range and everything right of it are above the window.
                if self.viable(n.left, q) {
                    t = n.left;
                    continue;
                }
            } else if n.end <= q.lo {
                // This range and everything left of it are below the window.
                if self.viable(n.right, q) {
                    t = n.right;
                    continue;
                }
            } else {
                if self.viable(near(n), q) {
                    t = near(n);
                    continue;
                }
                if let Some(a) = fit_in(t) {
                    return Some(a);
                }
                if self.viable(far(n), q) {
                    t = far(n);
                    continue;
                }
            }
            // Nothing in the subtree of `t`: go back up.
            loop {
                let c = t;
                t = self.slots[c as usize].parent;
                if t == NIL {
                    return None;
                }
                let a = &self.slots[t as usize];
                let in_window = if TOP { a.end > q.lo } else { a.start < q.hi };
                if near(a) == c && in_window {
                    if let Some(x) = fit_in(t) {
                        return Some(x);
                    }
                    if self.viable(far(a), q) {
                        t = far(a);
                        continue 'descend;
                    }
                }
            }
        }
    }

    /// Branch and bound over subtrees whose largest free range could beat `best`.
    fn largest(&self, t: u32, q: &Fit, top: bool, best: &mut Option<(u64, u64)>) {
        let bound = best.map_or(q.size, |b| b.1 + 1);
        if self.max_free(t) < bound.max(1) {
            return;
        }
        let n = &self.slots[t as usize];
        if n.start >= q.hi {
            return self.largest(n.left, q, top, best);
        }
        if n.end <= q.lo {
            return self.largest(n.right, q, top, best);
        }
        let (first, second) = if top {
            (n.right, n.left)
        } else {
            (n.left, n.right)
        };
        self.largest(first, q, top, best);
        if n.ty == RangeType::Free {
            if let Some(c) = q.largest_in(n.start, n.end) {
                if best.is_none_or(|b| c.1 > b.1) {
                    *best = Some(c);
                }
            }
        }
        self.largest(second, q, top, best);
    }

    // --- the treap ------------------------------------------------------------------
    //
    // A max-heap on `prio`, a search tree on `start`, with parent links. Updates are
    // iterative: a new node is attached as a leaf next to a known neighbour and rotated up,
    // a node is removed by rotating it down to at most one child; the augmentation is then
    // recomputed upwards from the change, stopping where it no longer changes.

    fn max_free(&self, t: u32) -> u64 {
        if t == NIL {
            0
        } else {
            self.slots[t as usize].max_free
        }
    }

    fn pull(&mut self, t: u32) {
        let s = &self.slots[t as usize];
        let m = s
            .free_len()
            .max(self.max_free(s.left))
            .max(self.max_free(s.right));
        self.slots[t as usize].max_free = m;
    }

    /// Recompute the augmentation from `t` up to the root after a change at or below `t`.
    /// A node whose value does not change leaves its ancestors' values right too.
    fn fix_up(&mut self, mut t: u32) {
        while t != NIL {
            let old = self.slots[t as usize].max_free;
            self.pull(t);
            let s = &self.slots[t as usize];
            if s.max_free == old {
                break;
            }
            t = s.parent;
        }
    }

    /// Fix the augmentation after the free range `t` grew (or a range became free).
    fn fix_up_grow(&mut self, mut t: u32) {
        let len = self.slots[t as usize].free_len();
        while t != NIL {
            let s = &mut self.slots[t as usize];
            if s.max_free >= len {
                break;
            }
            s.max_free = len;
            t = s.parent;
        }
    }

    fn spare(&self) -> u32 {
        self.capacity() as u32 - self.used
    }

    fn take_slot(&mut self) -> Result<u32> {
        let n = if self.released != NIL {
            let n = self.released;
            self.released = self.slots[n as usize].left;
            n
        } else if (self.bumped as usize) < self.capacity() {
            self.bumped += 1;
            self.bumped - 1
        } else {
            return Err(self.full());
        };
        self.used += 1;
        self.slots[n as usize].prio = self.next_prio();
        Ok(n)
    }

    /// xorshift32: priorities independent of the keys keep the treap balanced.
    fn next_prio(&mut self) -> u32 {
        let mut x = self.seed;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed = x;
        x
    }

    fn release(&mut self, n: u32) {
        self.slots[n as usize].left = self.released;
        self.released = n;
        self.used -= 1;
    }

    /// Fill slot `n` as a detached node (no owner).
    fn set(&mut self, n: u32, start: u64, end: u64, ty: RangeType, flags: RangeFlags, bank: u8) {
        let s = &mut self.slots[n as usize];
        s.start = start;
        s.end = end;
        s.ty = ty;
        s.flags = flags;
        s.bank = bank;
        s.owner = Name::EMPTY;
        s.left = NIL;
        s.right = NIL;
        s.parent = NIL;
        s.max_free = s.free_len();
    }

    /// Node with the largest start ≤ `addr`, if it contains `addr`.
    fn containing(&self, addr: u64) -> Option<u32> {
        let (mut t, mut found) = (self.root, NIL);
        while t != NIL {
            let s = &self.slots[t as usize];
            if s.start <= addr {
                found = t;
                t = s.right;
            } else {
                t = s.left;
            }
        }
        (found != NIL && addr < self.slots[found as usize].end).then_some(found)
    }

    fn leftmost(&self, mut t: u32) -> u32 {
        if t == NIL {
            return NIL;
        }
        loop {
            let l = self.slots[t as usize].left;
            if l == NIL {
                return t;
            }
            t = l;
        }
    }

    fn rightmost(&self, mut t: u32) -> u32 {
        loop {
            let r = self.slots[t as usize].right;
            if r == NIL {
                return t;
            }
            t = r;
        }
    }

    /// The next node in address order (`NIL` after the last).
    fn succ(&self, mut t: u32) -> u32 {
        let r = self.slots[t as usize].right;
        if r != NIL {
            return self.leftmost(r);
        }
        loop {
            let p = self.slots[t as usize].parent;
            if p == NIL || self.slots[p as usize].left == t {
                return p;
            }
            t = p;
        }
    }

    /// The previous node in address order (`NIL` before the first).
    fn pred(&self, mut t: u32) -> u32 {
        let l = self.slots[t as usize].left;
        if l != NIL {
            return self.rightmost(l);
        }
        loop {
            let p = self.slots[t as usize].parent;
            if p == NIL || self.slots[p as usize].right == t {
                return p;
            }
            t = p;
        }
    }

    /// Make `new` the child of `p` that `old` was (the root if `p` is `NIL`).
    fn replace_child(&mut self, p: u32, old: u32, new: u32) {
        if p == NIL {
            self.root = new;
        } else if self.slots[p as usize].left == old {
            self.slots[p as usize].left = new;
        } else {
            self.slots[p as usize].right = new;
        }
        if new != NIL {
            self.slots[new as usize].parent = p;
        }
    }

    /// Rotate `x` above its parent, keeping the order; the augmentation of both is left
    /// to the caller.
    fn rotate_up(&mut self, x: u32) -> u32 {
        let p = self.slots[x as usize].parent;
        let g = self.slots[p as usize].parent;
        if self.slots[p as usize].left == x {
            let b = self.slots[x as usize].right;
            self.slots[p as usize].left = b;
            if b != NIL {
                self.slots[b as usize].parent = p;
            }
            self.slots[x as usize].right = p;
        } else {
            let b = self.slots[x as usize].left;
            self.slots[p as usize].right = b;
            if b != NIL {
                self.slots[b as usize].parent = p;
            }
            self.slots[x as usize].left = p;
        }
        self.slots[p as usize].parent = x;
        self.replace_child(g, p, x);
        p
    }

    /// Hang the detached node `n` below `p` (on the left if `left`), rotate it up to its
    /// place in the heap and fix the augmentation above it.
    fn attach(&mut self, n: u32, p: u32, left: bool) {
        self.slots[n as usize].parent = p;
        if p == NIL {
            self.root = n;
        } else if left {
            self.slots[p as usize].left = n;
        } else {
            self.slots[p as usize].right = n;
        }
        let prio = self.slots[n as usize].prio;
        let mut rotated = false;
        loop {
            let p = self.slots[n as usize].parent;
            if p == NIL || self.slots[p as usize].prio >= prio {
                break;
            }
            // `p` takes a child of `n` and goes under it: its value is final. Nobody reads
            // the value of `n` before its last rotation, so it is computed once, after.
            let p = self.rotate_up(n);
            self.pull(p);
            rotated = true;
        }
        if rotated {
            self.pull(n);
        }
        self.fix_up(self.slots[n as usize].parent);
    }

    /// Insert the detached node `n`, searching its place from the root.
    fn insert(&mut self, n: u32) {
        let key = self.slots[n as usize].start;
        let (mut t, mut p, mut left) = (self.root, NIL, false);
        while t != NIL {
            p = t;
            left = key < self.slots[t as usize].start;
            let s = &self.slots[t as usize];
            t = if left { s.left } else { s.right };
        }
        self.attach(n, p, left);
    }

    /// Insert the detached node `n` right after node `after` in address order.
    fn insert_after(&mut self, n: u32, after: u32) {
        let r = self.slots[after as usize].right;
        if r == NIL {
            self.attach(n, after, false);
        } else {
            let p = self.leftmost(r);
            self.attach(n, p, true);
        }
    }

    /// Unlink node `n` from the tree (its slot is not released).
    fn delete(&mut self, n: u32) {
        loop {
            let s = &self.slots[n as usize];
            let (l, r) = (s.left, s.right);
            if l == NIL || r == NIL {
                break;
            }
            let c = if self.slots[l as usize].prio > self.slots[r as usize].prio {
                l
            } else {
                r
            };
            // Keep every value right for the tree that still holds `n`, so that fixing
            // up after the splice may stop early.
            self.rotate_up(c);
            self.pull(n);
            self.pull(c);
        }
        let s = &self.slots[n as usize];
        let child = if s.left != NIL { s.left } else { s.right };
        let p = s.parent;
        self.replace_child(p, n, child);
        self.fix_up(p);
    }
}

impl fmt::Debug for MemoryMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The ranges of a map in address order (O(1) amortized per step).
pub struct Entries<'m, 'a> {
    map: &'m MemoryMap<'a>,
    /// The node of the next range (`NIL` at the end).
    next: u32,
}

impl Iterator for Entries<'_, '_> {
    type Item = MapEntry;
    fn next(&mut self) -> Option<MapEntry> {
        if self.next == NIL {
            return None;
        }
        let n = self.next;
        self.next = self.map.succ(n);
        Some(self.map.slots[n as usize].entry())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use core::cell::Cell;

    fn ranges(map: &MemoryMap<'_>) -> Vec<(u64, u64, RangeType)> {
        map.iter().map(|e| (e.start, e.end, e.ty)).collect()
    }

    fn ram<'a>(slots: &'a mut [Slot]) -> MemoryMap<'a> {
        let mut map = MemoryMap::new(slots);
        map.add_bank(0x1000, 0x1000, BankKind::Ram, "sram").unwrap();
        map
    }

    #[test]
    fn bottom_up_top_down_and_coalescing() {
        let mut slots = [Slot::EMPTY; 16];
        let mut map = ram(&mut slots);
        let a = map.allocate(&Request::new(RangeType::Text, 0x100)).unwrap();
        let b = map
            .allocate(&Request::new(RangeType::Data, 0x10).top_down().align(0x40))
            .unwrap();
        assert_eq!((a.start, a.end), (0x1000, 0x1100));
        assert_eq!((b.start, b.end), (0x1fc0, 0x1fd0));
        assert_eq!(map.len(), 4);
        map.free(a.start).unwrap();
        map.free(b.start).unwrap();
        assert_eq!(ranges(&map), [(0x1000, 0x2000, RangeType::Free)]);
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn window_limits_the_search() {
        let mut slots = [Slot::EMPTY; 16];
        let mut map = ram(&mut slots);
        let r = Request::new(RangeType::File, 0x100).window(0x1800, 0x18ff);
        assert_eq!(map.allocate(&r).unwrap().start, 0x1800);
        // The window is full now, whichever direction.
        assert!(matches!(
            map.allocate(&r.top_down()),
            Err(Error::MapNoSpace { size: 0x100, .. })
        ));
        let top = map
            .allocate(
                &Request::new(RangeType::File, 0x80)
                    .top_down()
                    .window(0, 0x17ff),
            )
            .unwrap();
        assert_eq!((top.start, top.end), (0x1780, 0x1800));
        let low = map
            .allocate(&Request::new(RangeType::File, 0x80).window(0x1900, u64::MAX))
            .unwrap();
        assert_eq!(low.start, 0x1900);
    }

    #[test]
    fn granules_round_per_type() {
        let mut slots = [Slot::EMPTY; 16];
        let mut map = ram(&mut slots).with_granules(Granules::MPU_POW2);
        map.set_granule(RangeType::Metadata, Granule::Mpu32);
        let t = map.allocate(&Request::new(RangeType::Text, 100)).unwrap();
        assert_eq!((t.start % 128, t.len()), (0, 128));
        let m = map
            .allocate(&Request::new(RangeType::Metadata, 33))
            .unwrap();
        assert_eq!((m.start % 32, m.len()), (0, 64));
        let f = map.allocate(&Request::new(RangeType::File, 3)).unwrap();
        assert_eq!(f.len(), 3);
    }

    #[test]
    fn no_overwrite_overlap_names_both_ranges() {
        let mut slots = [Slot::EMPTY; 16];
        let mut map = ram(&mut slots);
        let fw = Request::new(RangeType::Firmware, 0x200)
            .at(0x1000)
            .flags(RangeFlags::NO_OVERWRITE)
            .owner("kernel");
        map.allocate(&fw).unwrap();
        let err = map
            .allocate(
                &Request::new(RangeType::File, 0x10)
                    .at(0x11f0)
                    .owner("blob")
                    .merge(),
            )
            .unwrap_err();
        let Error::MapOverlap { new, existing } = err else {
            panic!("{err:?}")
        };
        assert_eq!(
            (new.start, new.end, new.owner),
            (0x11f0, 0x1200, "blob".into())
        );
        assert_eq!((existing.start, existing.end), (0x1000, 0x1200));
        assert_eq!(existing.owner, Name::from("kernel"));
        let text = alloc::format!("{}", Error::MapOverlap { new, existing });
        assert!(
            text.contains("`blob`") && text.contains("`kernel`"),
            "{text}"
        );
        assert!(text.contains("no-overwrite"), "{text}");
        // Even merging the same request does not pass a no-overwrite range.
        assert!(matches!(
            map.allocate(&fw.merge()),
            Err(Error::MapOverlap { .. })
        ));
    }

    #[test]
    fn plain_overlaps_merge_only_when_asked() {
        let mut slots = [Slot::EMPTY; 16];
        let mut map = ram(&mut slots);
        let r = Request::new(RangeType::Device, 0x100).owner("uart");
        map.allocate(&r.at(0x1100)).unwrap();
        map.allocate(&r.at(0x1300)).unwrap();
        assert!(matches!(
            map.allocate(&r.at(0x1180).align(0x80)),
            Err(Error::MapOverlap { .. })
        ));
        // Another owner or type does not merge.
        assert!(matches!(
            map.allocate(&r.at(0x1180).owner("spi").merge()),
            Err(Error::MapOverlap { .. })
        ));
        let m = map
            .allocate(
                &Request::new(RangeType::Device, 0x200)
                    .at(0x1180)
                    .owner("uart")
                    .merge(),
            )
            .unwrap();
        assert_eq!((m.start, m.end), (0x1100, 0x1400));
        assert_eq!(
            ranges(&map),
            [
                (0x1000, 0x1100, RangeType::Free),
                (0x1100, 0x1400, RangeType::Device),
                (0x1400, 0x2000, RangeType::Free)
            ]
        );
        // Merging a range already covered changes nothing, not even the key.
        let key = map.key();
        assert_eq!(map.allocate(&r.at(0x1200).merge()), Ok(m));
        assert_eq!(map.key(), key);
        map.free(0x1100).unwrap();
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn unknown_size_load_shrinks() {
        let mut slots = [Slot::EMPTY; 16];
        let mut map = ram(&mut slots).with_granules(Granules::MPU32);
        map.allocate(&Request::new(RangeType::Firmware, 0x300).at(0x1400))
            .unwrap();
        let big = map
            .allocate_max(&Request::new(RangeType::Text, 1).owner("ext"))
            .unwrap();
        assert_eq!((big.start, big.end), (0x1700, 0x2000));
        let top = map
            .allocate_max(&Request::new(RangeType::Data, 1).top_down())
            .unwrap();
        assert_eq!((top.start, top.end), (0x1000, 0x1400));
        let small = map.shrink(big.start, 0x45).unwrap();
        assert_eq!((small.start, small.end), (0x1700, 0x1760));
        assert_eq!(
            map.entry_at(0x1760).map(|e| (e.start, e.end, e.ty)),
            Some((0x1760, 0x2000, RangeType::Free))
        );
        assert!(matches!(
            map.shrink(big.start, 0x1000),
            Err(Error::MapBadRequest { .. })
        ));
        assert!(matches!(
            map.shrink(big.start, 0),
            Err(Error::MapBadRequest { .. })
        ));
        // Shrinking next to a reservation takes a new slot for the tail.
        let shrunk = map.shrink(top.start, 0x20).unwrap();
        assert_eq!(shrunk.end, 0x1020);
        assert_eq!(map.entry_at(0x1020).unwrap().end, 0x1400);
    }

    #[test]
    fn allocate_max_with_power_of_two_regions() {
        let mut slots = [Slot::EMPTY; 16];
        let mut map = ram(&mut slots).with_granules(Granules::MPU_POW2);
        map.allocate(&Request::new(RangeType::Firmware, 0x20).at(0x1000))
            .unwrap();
        let e = map.allocate_max(&Request::new(RangeType::Text, 1)).unwrap();
        assert_eq!((e.start, e.len()), (0x1800, 0x800));
    }

    #[test]
    fn freeing_errors() {
        let mut slots = [Slot::EMPTY; 16];
        let mut map = ram(&mut slots);
        let a = map.allocate(&Request::new(RangeType::Bss, 8)).unwrap();
        assert_eq!(
            map.free(0x1004),
            Err(Error::MapNotReserved { addr: 0x1004 })
        );
        assert_eq!(
            map.free(0x1008),
            Err(Error::MapNotReserved { addr: 0x1008 })
        );
        assert_eq!(
            map.free(0x9999),
            Err(Error::MapNotReserved { addr: 0x9999 })
        );
        map.free(a.start).unwrap();
        assert_eq!(
            map.free(a.start),
            Err(Error::MapNotReserved { addr: a.start })
        );
        assert_eq!(
            map.shrink(a.start, 1),
            Err(Error::MapNotReserved { addr: a.start })
        );
    }

    #[test]
    fn bad_requests() {
        let mut slots = [Slot::EMPTY; 16];
        let mut map = ram(&mut slots);
        let bad = |r: Result<MapEntry>| matches!(r, Err(Error::MapBadRequest { .. }));
        assert!(bad(map.allocate(&Request::new(RangeType::Free, 1))));
        assert!(bad(map.allocate(&Request::new(RangeType::Text, 0))));
        assert!(bad(map.allocate(&Request::new(RangeType::Text, 1).align(3))));
        assert!(bad(
            map.allocate(&Request::new(RangeType::Text, 1).window(5, 4))
        ));
        assert!(bad(map.allocate(
            &Request::new(RangeType::Text, 1).at(0x1001).align(2)
        )));
        assert!(bad(map.allocate(
            &Request::new(RangeType::Text, 0x10)
                .at(0x1000)
                .window(0x1008, 0x2000)
        )));
        assert!(bad(
            map.allocate(&Request::new(RangeType::Text, 2).at(u64::MAX))
        ));
        assert!(bad(map
            .add_bank(0, 0, BankKind::Ram, "empty")
            .map(|_| map.iter().next().unwrap())));
        assert!(bad(map
            .add_bank(u64::MAX, 2, BankKind::Ram, "wrap")
            .map(|_| map.iter().next().unwrap())));
        assert!(bad(map
            .add_bank(0x1800, 0x1000, BankKind::Ram, "overlap")
            .map(|_| map.iter().next().unwrap())));
        assert_eq!(map.key(), 1);
    }

    #[test]
    fn outside_banks_and_across_banks() {
        let mut slots = [Slot::EMPTY; 16];
        let mut map = ram(&mut slots);
        map.add_bank(0x2000, 0x1000, BankKind::Flash, "flash")
            .unwrap();
        assert_eq!(
            map.allocate(&Request::new(RangeType::File, 0x10).at(0x800)),
            Err(Error::MapOutsideBanks {
                start: 0x800,
                end: 0x810
            })
        );
        // Adjacent banks do not form one range.
        assert_eq!(
            map.allocate(&Request::new(RangeType::File, 0x10).at(0x1ff8)),
            Err(Error::MapOutsideBanks {
                start: 0x1ff8,
                end: 0x2008
            })
        );
        assert!(matches!(
            map.allocate(&Request::new(RangeType::File, 0x1800)),
            Err(Error::MapNoSpace { .. })
        ));
        let a = map
            .allocate(&Request::new(RangeType::File, 0x10).at(0x1ff0))
            .unwrap();
        let b = map
            .allocate(&Request::new(RangeType::File, 0x10).at(0x2000))
            .unwrap();
        map.free(a.start).unwrap();
        map.free(b.start).unwrap();
        assert_eq!(
            ranges(&map),
            [
                (0x1000, 0x2000, RangeType::Free),
                (0x2000, 0x3000, RangeType::Free)
            ]
        );
        assert_eq!(map.banks().count(), 2);
    }

    #[test]
    fn running_out_of_slots_is_an_error_and_changes_nothing() {
        let mut slots = [Slot::EMPTY; 3];
        let mut map = ram(&mut slots);
        map.allocate(&Request::new(RangeType::Text, 0x10).at(0x1100))
            .unwrap();
        let before = ranges(&map);
        let key = map.key();
        assert_eq!(
            map.allocate(&Request::new(RangeType::Text, 0x10).at(0x1200)),
            Err(Error::MapFull {
                what: "range",
                capacity: 3
            })
        );
        // At the edge of a free range, one more slot is still needed.
        map.allocate(&Request::new(RangeType::Text, 0x10).at(0x1000))
            .unwrap_err();
        assert_eq!((ranges(&map), map.key()), (before, key));
        assert!(matches!(
            map.add_bank(0x4000, 1, BankKind::Ram, "more"),
            Err(Error::MapFull { .. })
        ));
        let mut banks = [Slot::EMPTY; 16];
        let mut many = MemoryMap::new(&mut banks);
        for i in 0..MAX_BANKS as u64 {
            many.add_bank(i * 16, 16, BankKind::Ram, "b").unwrap();
        }
        assert_eq!(
            many.add_bank(0x1000, 16, BankKind::Ram, "b"),
            Err(Error::MapFull {
                what: "bank",
                capacity: MAX_BANKS as u32
            })
        );
    }

    #[test]
    fn observers_see_every_change_and_the_key_moves() {
        let seen = Cell::new(0u64);
        let last = Cell::new(None);
        let count = |_: &Change| seen.set(seen.get() + 1);
        let record = |c: &Change| last.set(Some(*c));
        let mut slots = vec![Slot::EMPTY; 8];
        let mut map = MemoryMap::new(&mut slots);
        assert_eq!(map.subscribe(&count), Ok(0));
        assert_eq!(map.subscribe(&record), Ok(1));
        map.add_bank(0, 0x100, BankKind::Ram, "r").unwrap();
        let a = map
            .allocate(&Request::new(RangeType::Data, 0x20).owner("x"))
            .unwrap();
        map.shrink(a.start, 0x10).unwrap();
        assert_eq!(
            last.get().map(|c| (c.key, c.kind)),
            Some((3, ChangeKind::Shrunk { old_end: 0x20 }))
        );
        assert!(map.unsubscribe(1));
        assert!(!map.unsubscribe(1));
        map.free(a.start).unwrap();
        assert_eq!((seen.get(), map.key()), (4, 4));
        assert_eq!(last.get().unwrap().key, 3);
        for _ in 0..MAX_OBSERVERS - 1 {
            map.subscribe(&count).unwrap();
        }
        assert!(matches!(map.subscribe(&count), Err(Error::MapFull { .. })));
    }

    /// Check the treap: parent links, search order, heap order, augmentation, and that
    /// every used slot is in the tree. Returns the subtree size.
    fn check(map: &MemoryMap<'_>, t: u32, parent: u32, lo: u64, hi: u64) -> u32 {
        if t == NIL {
            return 0;
        }
        let s = map.slots[t as usize];
        assert_eq!(s.parent, parent, "parent link of {t}");
        assert!(
            lo <= s.start && s.end <= hi && s.start < s.end,
            "order at {t}"
        );
        if parent != NIL {
            assert!(
                map.slots[parent as usize].prio >= s.prio,
                "heap order at {t}"
            );
        }
        let count = 1 + check(map, s.left, t, lo, s.start) + check(map, s.right, t, s.end, hi);
        let want = s
            .free_len()
            .max(map.max_free(s.left))
            .max(map.max_free(s.right));
        assert_eq!(s.max_free, want, "augmentation at {t}");
        count
    }

    fn check_all(map: &MemoryMap<'_>) {
        assert_eq!(check(map, map.root, NIL, 0, u64::MAX), map.used);
        let all: Vec<MapEntry> = map.iter().collect();
        assert_eq!(all.len(), map.len());
        for w in all.windows(2) {
            assert!(w[0].end <= w[1].start);
            // Free neighbours in one bank always coalesce.
            let adjacent = w[0].end == w[1].start && w[0].bank == w[1].bank;
            assert!(!(adjacent && w[0].ty == RangeType::Free && w[1].ty == RangeType::Free));
        }
    }

    #[test]
    fn treap_invariants_hold_through_random_operations() {
        let mut slots = vec![Slot::EMPTY; 600];
        let mut map = MemoryMap::new(&mut slots);
        map.add_bank(0, 1 << 20, BankKind::Ram, "a").unwrap();
        map.add_bank(1 << 20, 1 << 16, BankKind::Ram, "b").unwrap();
        let mut x = 0x1234_5678_9abc_def1u64;
        let mut rand = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut live: Vec<u64> = Vec::new();
        for _ in 0..20_000 {
            match rand(8) {
                0..=3 => {
                    let mut r = Request::new(RangeType::Data, 1 + rand(4000)).align(1 << rand(7));
                    if rand(2) == 0 {
                        r = r.top_down();
                    }
                    if rand(4) == 0 {
                        let lo = rand(1 << 20);
                        r = r.window(lo, lo + rand(1 << 18));
                    }
                    if let Ok(e) = map.allocate(&r) {
                        live.push(e.start);
                    }
                }
                4 => {
                    let at = rand((1 << 20) + (1 << 16));
                    let r = Request::new(RangeType::Data, 1 + rand(3000)).at(at).merge();
                    if let Ok(e) = map.allocate(&r) {
                        live.retain(|&s| s < e.start || s >= e.end);
                        live.push(e.start);
                    }
                }
                5 if !live.is_empty() => {
                    let s = live[rand(live.len() as u64) as usize];
                    let len = map.entry_at(s).unwrap().len();
                    match map.shrink(s, 1 + rand(len)) {
                        Ok(_) | Err(Error::MapFull { .. }) => {}
                        Err(e) => panic!("{e:?}"),
                    }
                }
                _ if !live.is_empty() => {
                    let s = live.swap_remove(rand(live.len() as u64) as usize);
                    map.free(s).unwrap();
                }
                _ => {}
            }
            check_all(&map);
        }
        for s in live {
            map.free(s).unwrap();
        }
        check_all(&map);
        assert_eq!(map.len(), 2);
    }

    #[test]
    fn reserve_all_equals_one_by_one_and_keeps_the_tree() {
        // Random exact requests over random existing reservations: reserve_all must give
        // the map that reserving them one by one gives, or the same error and no change.
        let mut seed = 0x1234_5678u64;
        let mut rnd = move |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % n
        };
        let (mut oks, mut errs) = (0, 0);
        for round in 0..400 {
            let seen = Cell::new(0usize);
            let count = |c: &Change| {
                if c.kind == ChangeKind::Reserved {
                    seen.set(seen.get() + 1);
                }
            };
            let mut a = vec![Slot::EMPTY; 96];
            let mut b = vec![Slot::EMPTY; 96];
            let mut one = ram(&mut a);
            let mut all = ram(&mut b);
            let observed = round % 2 == 0;
            if observed {
                all.subscribe(&count).unwrap();
            }
            if round % 3 == 0 {
                for m in [&mut one, &mut all] {
                    m.add_bank(0x20_0000, 0x1000, BankKind::Flash, "flash")
                        .unwrap();
                }
            }
            for _ in 0..rnd(12) {
                let req =
                    Request::new(RangeType::File, 16 * (1 + rnd(8))).at(0x1000 + 16 * rnd(256));
                let r1 = one.allocate(&req);
                let r2 = all.allocate(&req);
                assert_eq!(r1, r2);
            }
            let mut reqs = Vec::new();
            let mut at = 0x1000 + 16 * rnd(32);
            for _ in 0..1 + rnd(20) {
                let size = 16 * (1 + rnd(6));
                let ty = [RangeType::Text, RangeType::Data, RangeType::Metadata][rnd(3) as usize];
                reqs.push(Request::new(ty, size).owner("ext").at(at));
                at += size + 16 * rnd(4);
                if rnd(10) == 0 {
                    at = 0x1000 + 16 * rnd(300);
                }
            }
            if rnd(4) == 0 {
                let k = rnd(reqs.len() as u64) as usize;
                reqs.swap(0, k);
            }
            let before: Vec<MapEntry> = all.iter().collect();
            let key = all.key();
            seen.set(0);
            let got = all.reserve_all(&reqs);
            let reported = seen.get();
            // One by one, in address order, undoing on error.
            let mut sorted = reqs.clone();
            sorted.sort_by_key(|r| match r.place {
                Place::At(a) => a,
                _ => 0,
            });
            let mut want = Ok(sorted.len());
            for (k, r) in sorted.iter().enumerate() {
                if let Err(e) = one.allocate(r) {
                    for d in &sorted[..k] {
                        if let Place::At(a) = d.place {
                            one.free(a).unwrap();
                        }
                    }
                    want = Err(e);
                    break;
                }
            }
            match (&got, &want) {
                (Ok(n), Ok(m)) => {
                    oks += 1;
                    assert_eq!(n, m);
                    assert_eq!(
                        all.iter().collect::<Vec<_>>(),
                        one.iter().collect::<Vec<_>>()
                    );
                    assert_eq!(all.key(), key + *n as u64);
                    assert_eq!(reported, if observed { *n } else { 0 });
                }
                (Err(_), Err(_)) => {
                    errs += 1;
                    assert_eq!(all.iter().collect::<Vec<_>>(), before, "round {round}");
                    assert_eq!(all.key(), key);
                    assert_eq!(reported, 0);
                }
                _ => panic!("round {round}: reserve_all {got:?}, one by one {want:?}"),
            }
            check_all(&all);
            assert_eq!(all.free_bytes(), one.free_bytes());
            // The rebuilt map keeps working.
            let e = all.allocate(&Request::new(RangeType::File, 32)).ok();
            if let Some(e) = e {
                all.free(e.start).unwrap();
                check_all(&all);
            }
        }
        assert!(oks > 50 && errs > 50, "{oks} successes, {errs} errors");
    }

    #[test]
    fn slots_stay_small() {
        assert!(core::mem::size_of::<Slot>() <= 72);
    }

    #[test]
    fn map_errors_keep_error_small() {
        assert!(core::mem::size_of::<Error>() <= 112);
        assert!(core::mem::size_of::<MapEntry>() <= 48);
    }
}
