//! The registry: loaded extensions by name, use counts, dependencies and export lookup.

mod image;
pub(crate) mod record;

use alloc::vec::Vec;
use core::marker::PhantomData;
use core::mem::size_of;
use core::ptr::NonNull;

use object::read::elf::{FileHeader, Sym};
use object::LittleEndian as LE;

use crate::arch::{Aarch64, Arch, Arm, Relocator, Riscv32, Riscv64, X86_64};
use crate::elf::{identify, Class, Elf32, Elf64, Object, RawSource, Source, Stream, Whole};
use crate::error::{Error, Name, Result};
use crate::layout::{BlockLayout, Plan, RegionKind};
use crate::link::exports::Exports;
use crate::link::{self, is_export, Linked, Placed, Resolve, Site, TlsUse, Wanted};
use crate::loader::{InPlace, Loader, Storage};
use crate::memory::{Claim, Claimed, HeapStats, Memory};
use crate::snapshot::{self, checksum, Entry, SaveOptions, Snapshot};
use crate::tls::TlsArea;
use record::{NewRecord, Rec};

/// The default lock: a spin lock, fine for threads and for bare metal without interrupts
/// touching the registry. Use a `critical-section` or RTOS mutex through
/// [`lock_api::RawMutex`] when interrupts load or unload extensions.
pub type DefaultRawMutex = spin::mutex::SpinMutex<()>;

/// Loaded extensions, owned by the application (there is no global registry).
///
/// `'buf` is how long persistent and writable buffers stay borrowed: as long as the
/// registry lives. `M` is where extensions go, `R` the lock that makes the registry
/// usable from several threads.
pub struct Registry<'buf, M: Memory, R: lock_api::RawMutex = DefaultRawMutex> {
    inner: lock_api::Mutex<R, Inner<'buf, M>>,
}

struct Inner<'buf, M> {
    mem: M,
    head: Option<Rec>,
    count: usize,
    exports: &'buf (dyn Exports + Sync),
    arch: Arch,
    tls: Option<TlsArea>,
    _buf: PhantomData<&'buf mut [u8]>,
}

// SAFETY: records are only reached through the registry, whose lock serializes access;
// the memory they live in moves with `M`.
unsafe impl<M: Send> Send for Inner<'_, M> {}

/// A loaded extension, seen while the registry is locked (see [`Registry::with`]).
pub struct Extension<'r, M: Memory> {
    rec: Rec,
    mem: &'r M,
    arch: Arch,
}

impl<'buf, M: Memory> Registry<'buf, M> {
    /// A registry linking for the architecture elfext runs on, with the default lock.
    pub fn new(memory: M, exports: &'buf (dyn Exports + Sync)) -> Self {
        Self::with_lock(memory, exports, Arch::HOST.unwrap_or(Arch::X86_64))
    }

    /// A registry linking for `arch`, with the default lock.
    pub fn for_arch(memory: M, exports: &'buf (dyn Exports + Sync), arch: Arch) -> Self {
        Self::with_lock(memory, exports, arch)
    }

    /// Rebuild a registry, with the default lock, from a snapshot written by
    /// [`save`](Self::save): see [`restore_with_lock`](Self::restore_with_lock).
    ///
    /// # Safety
    /// As for [`restore_with_lock`](Self::restore_with_lock).
    #[allow(clippy::result_large_err)]
    pub unsafe fn restore(
        memory: M,
        exports: &'buf (dyn Exports + Sync),
        snapshot: &[u8],
    ) -> core::result::Result<Self, (Error, M)> {
        // SAFETY: forwarded from the caller.
        unsafe { Self::restore_with_lock(memory, exports, snapshot) }
    }
}

impl<'buf, M: Memory, R: lock_api::RawMutex> Registry<'buf, M, R> {
    /// A registry linking for `arch`, locked with `R`.
    pub fn with_lock(memory: M, exports: &'buf (dyn Exports + Sync), arch: Arch) -> Self {
        Registry {
            inner: lock_api::Mutex::new(Inner {
                mem: memory,
                head: None,
                count: 0,
                exports,
                arch,
                tls: None,
                _buf: PhantomData,
            }),
        }
    }

    /// Give extensions a thread-local area: each one with `.tdata` or `.tbss` gets a range
    /// of it while loaded (see [`TlsArea`] for the model and its limits).
    ///
    /// # Safety
    /// When `area.init` is given, it must be the host address of `area.size` bytes that
    /// stay writable, and written by nobody else, whenever this registry loads.
    pub unsafe fn with_tls(self, area: TlsArea) -> Self {
        let mut inner = self.inner.into_inner();
        inner.tls = Some(area);
        Registry {
            inner: lock_api::Mutex::new(inner),
        }
    }

    /// Load `name` from `loader`, or, when `name` is already loaded, only count one more
    /// use. Returns the use count before this call (0 for a fresh load).
    ///
    /// On error nothing is loaded and the heap is exactly as it was.
    pub fn load<L: Loader<'buf>>(&self, name: &str, loader: L) -> Result<u32> {
        self.inner.lock().load(name, loader)
    }

    /// Load and report what the load cost.
    pub fn load_with_report<L: Loader<'buf>>(&self, name: &str, loader: L) -> Result<LoadReport> {
        self.inner.lock().load_new_reported(name, loader, None)
    }

    /// Load like [`load_with_report`](Self::load_with_report), and tell `trace` where each
    /// section went (for a linker map, or to compare with another linker).
    pub fn load_traced<L: Loader<'buf>>(
        &self,
        name: &str,
        loader: L,
        trace: &mut dyn FnMut(Placed<'_>),
    ) -> Result<LoadReport> {
        self.inner
            .lock()
            .load_new_reported(name, loader, Some(trace))
    }

    /// Drop one use of `name`; at zero its memory is freed. Returns the uses left.
    ///
    /// Freeing is refused while another loaded extension links against it.
    pub fn unload(&self, name: &str) -> Result<u32> {
        self.inner.lock().unload(name)
    }

    /// Run `f` on the extension `name` while the registry is locked.
    ///
    /// Do not load or unload from inside `f` (the lock is held).
    pub fn with<T>(&self, name: &str, f: impl FnOnce(&Extension<'_, M>) -> T) -> Result<T> {
        let g = self.inner.lock();
        let rec = g
            .find(name.as_bytes())
            .ok_or(Error::NotLoaded(Name::from(name)))?;
        Ok(f(&Extension {
            rec,
            mem: &g.mem,
            arch: g.arch,
        }))
    }

    /// Target address of symbol `symbol` exported by extension `name`.
    pub fn symbol(&self, name: &str, symbol: &str) -> Result<u64> {
        self.with(name, |ext| ext.symbol(symbol))?
    }

    /// The function `symbol` of extension `name` as a function pointer of type `F`.
    ///
    /// # Safety
    /// As for [`Extension::function`]: `F` must match the function, and the pointer must not
    /// be used after the extension is unloaded.
    pub unsafe fn function<F: Copy>(&self, name: &str, symbol: &str) -> Result<F> {
        // SAFETY: forwarded from the caller.
        self.with(name, |ext| unsafe { ext.function::<F>(symbol) })?
    }

    /// Visit every loaded extension, oldest first.
    pub fn for_each(&self, mut f: impl FnMut(&Extension<'_, M>)) {
        let g = self.inner.lock();
        let mut cur = g.head;
        while let Some(r) = cur {
            f(&Extension {
                rec: r,
                mem: &g.mem,
                arch: g.arch,
            });
            cur = r.next();
        }
    }

    /// Whether `name` is loaded.
    pub fn contains(&self, name: &str) -> bool {
        self.inner.lock().find(name.as_bytes()).is_some()
    }

    /// Number of loaded extensions.
    pub fn len(&self) -> usize {
        self.inner.lock().count
    }

    /// Whether nothing is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes in use in the extension memory, by kind.
    pub fn heap_stats(&self) -> HeapStats {
        self.inner.lock().mem.stats()
    }

    /// Run `f` on the extension memory (to read linked bytes out of a
    /// [`TargetMemory`](crate::TargetMemory), for instance) while the registry is locked.
    pub fn with_memory<T>(&self, f: impl FnOnce(&M) -> T) -> T {
        f(&self.inner.lock().mem)
    }

    /// The architecture this registry links for.
    pub fn arch(&self) -> Arch {
        self.inner.lock().arch
    }

    /// Write a snapshot of the registry into `out` (see [`snapshot`](crate::snapshot) for
    /// the format); returns its length. When `out` is too small, nothing is written and
    /// [`Error::SnapshotTooSmall`] says how many bytes are needed.
    pub fn save(&self, out: &mut [u8], options: SaveOptions) -> Result<usize> {
        let bytes = self.inner.lock().snapshot(options)?;
        let Some(dst) = out.get_mut(..bytes.len()) else {
            return Err(Error::SnapshotTooSmall {
                needed: bytes.len() as u64,
                given: out.len() as u64,
            });
        };
        dst.copy_from_slice(&bytes);
        Ok(bytes.len())
    }

    /// Write a snapshot of the registry into a new vector (see [`save`](Self::save)).
    pub fn save_to_vec(&self, options: SaveOptions) -> Result<Vec<u8>> {
        self.inner.lock().snapshot(options)
    }

    /// Rebuild a registry from a snapshot written by [`save`](Self::save), without
    /// relinking and without reading any ELF file: each extension's block is taken back at
    /// its address in `memory` ([`Memory::claim_block`]), its metadata record is written
    /// anew, and names, use counts, dependencies, exports and thread-local ranges are as
    /// they were when saved. The registry links for the snapshot's architecture; give it
    /// its thread-local area again with [`with_tls`](Self::with_tls) if it had one.
    ///
    /// The snapshot is checked before anything is touched (format version, checksum,
    /// every field and index, no two blocks overlapping), `memory` must have the same
    /// protection granules as the memory the snapshot was saved from, every region must
    /// lie inside `memory` where nothing else is, and region checksums, when the snapshot
    /// has them, must match. On any failure the error comes back with `memory`, whose
    /// allocations are exactly as they were.
    ///
    /// # Safety
    /// Restore trusts the memory the snapshot points to:
    /// - every block still holds the linked bytes it held when the snapshot was saved,
    ///   at the same addresses (retained RAM), and nothing else uses it: turn on
    ///   [`SaveOptions::region_checksums`] to have this checked;
    /// - the buffer of every persistent or writable extension is still at its address,
    ///   unchanged, and stays valid and unused by anyone else for `'buf`, as when it was
    ///   loaded (its symbol table is read there, and its sections are used in place);
    /// - the host exports the extensions were linked against are still at the same
    ///   addresses (no relinking happens).
    #[allow(clippy::result_large_err)]
    pub unsafe fn restore_with_lock(
        memory: M,
        exports: &'buf (dyn Exports + Sync),
        snapshot: &[u8],
    ) -> core::result::Result<Self, (Error, M)> {
        let snap = match crate::snapshot::decode(snapshot) {
            Ok(s) => s,
            Err(e) => return Err((e, memory)),
        };
        // The memory is moved once, into the registry that is returned (it can be large:
        // a `MapMemory` is over 500 bytes, and every move is a copy on a microcontroller).
        let mut reg = Self::with_lock(memory, exports, snap.arch);
        let r = reg.inner.get_mut().restore(&snap);
        match r {
            Ok(()) => Ok(reg),
            Err(e) => {
                let mut inner = reg.inner.into_inner();
                inner.clear();
                Err((e, inner.mem))
            }
        }
    }

    /// Tear down: give the memory back. Refused while any extension is loaded.
    #[allow(clippy::result_large_err)]
    pub fn into_memory(self) -> core::result::Result<M, (Error, Self)> {
        let loaded = self.len();
        if loaded > 0 {
            return Err((Error::HeapBusy { loaded }, self));
        }
        Ok(self.inner.into_inner().mem)
    }
}

/// What one fresh load cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Use count before the call (0 for a fresh load; then the other fields are zero).
    pub previous_uses: u32,
    /// Rounded bytes of TEXT, RODATA, DATA and BSS in the block.
    pub regions: [u64; 4],
    /// Block bytes lost to alignment between regions.
    pub padding: u64,
    /// Bytes of loader metadata (the extension's record).
    pub metadata: u64,
    /// Bytes of sections copied from the object.
    pub copied: u64,
    /// Bytes of sections used in place.
    pub in_place: u64,
    /// Relocations processed.
    pub relocations: u64,
}

impl LoadReport {
    /// Heap bytes this load took: regions, padding and metadata.
    pub fn heap_bytes(&self) -> u64 {
        self.regions.iter().sum::<u64>() + self.padding + self.metadata
    }
}

impl<'buf, M: Memory> Inner<'buf, M> {
    fn find(&self, name: &[u8]) -> Option<Rec> {
        let mut cur = self.head;
        while let Some(r) = cur {
            if r.name() == name {
                return Some(r);
            }
            cur = r.next();
        }
        None
    }

    fn load<L: Loader<'buf>>(&mut self, name: &str, loader: L) -> Result<u32> {
        self.load_new_reported(name, loader, None)
            .map(|r| r.previous_uses)
    }

    fn load_new_reported<L: Loader<'buf>>(
        &mut self,
        name: &str,
        mut loader: L,
        trace: Option<&mut dyn FnMut(Placed<'_>)>,
    ) -> Result<LoadReport> {
        if let Some(prev) = self.count_use(name)? {
            return Ok(LoadReport {
                previous_uses: prev,
                ..Default::default()
            });
        }
        if name.len() > 255 {
            return Err(Error::TooLarge {
                what: "extension name length",
                value: name.len() as u64,
                limit: 255,
            });
        }
        self.mem.owner(name);
        let storage = loader.storage();
        let (rec, report) = match (storage, loader.in_place()) {
            (Storage::Persistent, Some(InPlace::Persistent(buf))) => {
                let site = Site {
                    storage,
                    base: buf.as_ptr() as u64,
                    writable: None,
                };
                self.link_from(name, &mut Whole(buf), &site, trace)?
            }
            (Storage::Writable, Some(InPlace::Writable(buf))) => {
                let len = buf.len();
                let ptr = NonNull::from(buf).cast::<u8>();
                // SAFETY: the buffer is exclusively borrowed for `'buf`; elfext writes only to
                // sections proven apart from every range read through this source.
                let mut src = unsafe { RawSource::new(ptr.as_ptr(), len) };
                let site = Site {
                    storage,
                    base: ptr.as_ptr() as u64,
                    writable: Some(ptr),
                };
                self.link_from(name, &mut src, &site, trace)?
            }
            (Storage::Temporary, None) => {
                let site = Site {
                    storage,
                    base: 0,
                    writable: None,
                };
                let len = loader.len();
                if loader.peek(0, len).is_some() {
                    let whole = loader.peek(0, len).unwrap_or(&[]);
                    self.link_from(name, &mut Whole(whole), &site, trace)?
                } else {
                    self.link_from(name, &mut Stream(&mut loader), &site, trace)?
                }
            }
            (s, _) => return Err(Error::LoaderStorage(s)),
        };
        self.append(rec)?;
        Ok(report)
    }

    /// When `name` is loaded, count one more use and return the count before; `None` when
    /// it is not loaded.
    fn count_use(&mut self, name: &str) -> Result<Option<u32>> {
        let Some(mut r) = self.find(name.as_bytes()) else {
            return Ok(None);
        };
        let prev = r.header().uses;
        let next = prev.checked_add(1).ok_or(Error::TooLarge {
            what: "use count",
            value: u64::from(prev) + 1,
            limit: u64::from(u16::MAX),
        })?;
        // SAFETY: the lock is held (we have `&mut self`).
        unsafe { r.header_mut().uses = next };
        Ok(Some(u32::from(prev)))
    }

    /// Append a new record to the list, so that lookups go oldest first; on error the
    /// record and its block are freed.
    fn append(&mut self, rec: Rec) -> Result<()> {
        let mut last = None;
        let mut cur = self.head;
        while let Some(r) = cur {
            last = Some(r);
            cur = r.next();
        }
        match last {
            None => self.head = Some(rec),
            Some(mut l) => {
                // SAFETY: the lock is held; `rec` is live.
                if let Err(e) = unsafe { l.set_next(Some(rec)) } {
                    self.free(rec);
                    return Err(e);
                }
            }
        }
        self.count += 1;
        Ok(())
    }

    fn link_from<'a>(
        &mut self,
        name: &str,
        src: &mut impl Source<'a>,
        site: &Site,
        trace: Option<&mut dyn FnMut(Placed<'_>)>,
    ) -> Result<(Rec, LoadReport)> {
        // One line per architecture: its ELF class and its relocator.
        match (identify(src)?, self.arch) {
            (Class::Elf64, Arch::X86_64) => {
                self.link_with::<Elf64, X86_64, _>(name, src, site, trace)
            }
            (Class::Elf32, Arch::Arm) => self.link_with::<Elf32, Arm, _>(name, src, site, trace),
            (Class::Elf32, Arch::Riscv32) => {
                self.link_with::<Elf32, Riscv32, _>(name, src, site, trace)
            }
            (Class::Elf64, Arch::Riscv64) => {
                self.link_with::<Elf64, Riscv64, _>(name, src, site, trace)
            }
            (Class::Elf64, Arch::Aarch64) => {
                self.link_with::<Elf64, Aarch64, _>(name, src, site, trace)
            }
            (Class::Elf32, _) => {
                Object::<Elf32>::parse(src, self.arch)?;
                Err(Error::NoLinker(self.arch))
            }
            (Class::Elf64, _) => {
                Object::<Elf64>::parse(src, self.arch)?;
                Err(Error::NoLinker(self.arch))
            }
        }
    }

    /// Parse, link and record an object of class `E` with relocator `R`.
    fn link_with<'a, E, R, S>(
        &mut self,
        name: &str,
        src: &mut S,
        site: &Site,
        trace: Option<&mut dyn FnMut(Placed<'_>)>,
    ) -> Result<(Rec, LoadReport)>
    where
        E: FileHeader<Endian = LE>,
        R: Relocator,
        S: Source<'a>,
    {
        let obj = Object::<E>::parse(src, self.arch)?;
        let resolver = Resolver {
            exports: self.exports,
            head: self.head,
            arch: self.arch,
        };
        let tls = self.tls.as_ref().map(|area| {
            let mut used = Vec::new();
            let mut cur = self.head;
            while let Some(r) = cur {
                let (off, size) = r.tls();
                if size > 0 {
                    used.push((off, size));
                }
                cur = r.next();
            }
            TlsUse { area, used }
        });
        let linked = link::link::<E, R, M>(&obj, src, &mut self.mem, site, &resolver, tls, trace)?;
        self.record(name, &obj, site, linked)
    }

    /// Write the record of a linked object; on failure free its block.
    fn record<E: FileHeader<Endian = LE>>(
        &mut self,
        name: &str,
        obj: &Object<'_, E>,
        site: &Site,
        linked: Linked,
    ) -> Result<(Rec, LoadReport)> {
        let free_block = |mem: &mut M| {
            if let Some(b) = linked.block {
                // SAFETY: allocated by `link` with this layout; nothing refers to it yet.
                unsafe { mem.free_block(b, &linked.layout) };
            }
        };
        // Sort by hash through 8-byte keys (hash, index), then gather: cheaper than moving
        // the entries themselves through the sort.
        let mut keys: Vec<u64> = Vec::with_capacity(linked.exports.len());
        for (k, &(s, _)) in linked.exports.iter().enumerate() {
            match obj.sym_name(s) {
                Ok(n) => keys.push(u64::from(record::name_hash(n)) << 32 | k as u64),
                Err(e) => {
                    free_block(&mut self.mem);
                    return Err(e);
                }
            }
        }
        keys.sort_unstable();
        let exports: Vec<(u32, &[u8], u64)> = keys
            .iter()
            .map(|&key| {
                let (s, addr) = linked.exports[key as u32 as usize];
                // The name was read above; it cannot fail now.
                ((key >> 32) as u32, obj.sym_name(s).unwrap_or(&[]), addr)
            })
            .collect();
        let deps: Vec<Rec> = linked.deps.iter().map(|d| Rec(d.cast())).collect();
        let new = NewRecord {
            name: name.as_bytes(),
            storage: site.storage,
            source: site.base as usize,
            source_len: obj.len,
            block_addr: linked.block.map_or(0, |b| b.addr),
            offsets: linked.layout.offsets,
            sizes: linked.layout.sizes,
            block_size: linked.layout.size,
            block_align: linked.layout.align,
            tables: linked.tables,
            tls: linked.tls,
            deps: &deps,
            exports: &exports,
        };
        match Rec::create(&mut self.mem, &new) {
            Ok(rec) => {
                let report = LoadReport {
                    previous_uses: 0,
                    regions: linked.layout.sizes,
                    padding: linked.layout.padding(),
                    metadata: rec.layout().size() as u64,
                    copied: linked.copied,
                    in_place: linked.in_place,
                    relocations: linked.relocations,
                };
                Ok((rec, report))
            }
            Err(e) => {
                free_block(&mut self.mem);
                Err(e)
            }
        }
    }

    fn unload(&mut self, name: &str) -> Result<u32> {
        let mut rec = self
            .find(name.as_bytes())
            .ok_or(Error::NotLoaded(Name::from(name)))?;
        let uses = rec.header().uses;
        if uses > 1 {
            // SAFETY: the lock is held.
            unsafe { rec.header_mut().uses = uses - 1 };
            return Ok(u32::from(uses - 1));
        }
        let mut cur = self.head;
        while let Some(r) = cur {
            if r != rec && r.deps().any(|d| d == rec) {
                return Err(Error::InUse {
                    name: Name::from(name),
                    dependent: Name::new(r.name()),
                });
            }
            cur = r.next();
        }
        // Unlink.
        let next = rec.next();
        if self.head == Some(rec) {
            self.head = next;
        } else {
            let mut cur = self.head;
            while let Some(mut r) = cur {
                if r.next() == Some(rec) {
                    // SAFETY: the lock is held. Records live in one heap and were linked
                    // once already, so the distance fits.
                    unsafe { r.set_next(next)? };
                    break;
                }
                cur = r.next();
            }
        }
        self.free(rec);
        self.count -= 1;
        Ok(0)
    }

    /// Describe every loaded extension for a snapshot.
    fn snapshot(&self, options: SaveOptions) -> Result<Vec<u8>> {
        let mut recs = Vec::with_capacity(self.count);
        let mut cur = self.head;
        while let Some(r) = cur {
            recs.push(r);
            cur = r.next();
        }
        let fixed = self.mem.claims_meta();
        let mut w = snapshot::Writer::new(
            self.arch,
            self.mem.granules(),
            recs.len(),
            options.region_checksums,
        )?;
        for (i, r) in recs.iter().enumerate() {
            let crcs = if options.region_checksums {
                self.region_checksums(r)
            } else {
                [0; 4]
            };
            let addr = if fixed { r.0.as_ptr() as u64 } else { 0 };
            w.entry(
                addr,
                |out| {
                    // A dependency is always loaded before its dependents.
                    r.snapshot_image(out, |d| {
                        recs[..i].iter().position(|x| *x == d).map(|j| j as u32)
                    })
                },
                crcs,
            )?;
        }
        w.finish()
    }

    /// CRC-32 of each region of an extension's block (0 for an empty region).
    fn region_checksums(&self, r: &Rec) -> [u32; 4] {
        let h = r.header();
        let mut c = [0u32; 4];
        if h.block_size > 0 {
            let layout = r.block_layout();
            let block = self.mem.block_at(h.block_addr);
            for (k, c) in c.iter_mut().enumerate() {
                if layout.sizes[k] > 0 {
                    // SAFETY: the region is part of a live block of this memory, readable
                    // at its host address.
                    let bytes = unsafe {
                        core::slice::from_raw_parts(
                            block.ptr.as_ptr().add(layout.offsets[k] as usize),
                            layout.sizes[k] as usize,
                        )
                    };
                    *c = checksum(bytes);
                }
            }
        }
        c
    }

    /// Take back every extension of a checked snapshot: all blocks (and records, where
    /// the memory can put them back at their addresses) in one claim, then the records
    /// are copied in. On error everything taken is given back.
    fn restore(&mut self, snap: &Snapshot<'_>) -> Result<()> {
        let granules = self.mem.granules();
        if granules != snap.granules {
            return Err(Error::BadSnapshot {
                offset: 17,
                extension: u32::MAX,
                field: "granules (this memory's differ)",
                value: u64::from(u32::from_le_bytes(snap.granules.0.map(|g| g as u8))),
            });
        }
        // Records go back where they were when this memory can take them back there.
        let fixed = self.mem.claims_meta();
        let at_home = |e: &Entry<'_>| fixed && e.record_addr != 0;
        let mut claims = Vec::with_capacity(2 * snap.entries.len());
        for e in &snap.entries {
            let img = &e.record;
            if img.layout.size > 0 {
                claims.push(Claim {
                    owner: img.name(),
                    addr: img.header.block_addr,
                    what: Claimed::Block(&img.layout),
                });
            }
            if at_home(e) {
                claims.push(Claim {
                    owner: img.name(),
                    addr: e.record_addr,
                    what: Claimed::Meta(img.layout()),
                });
            }
        }
        self.mem.claim_all(&claims)?;
        // Records: copied in at their claimed place, or allocated anew, and linked in order.
        let mut recs: Vec<Rec> = Vec::with_capacity(snap.entries.len());
        let mut result = Ok(());
        for e in &snap.entries {
            let img = &e.record;
            let ptr = if at_home(e) {
                // Claimed above: a host address inside this memory.
                NonNull::new(e.record_addr as usize as *mut u8).ok_or(Error::NoFixedBlocks)
            } else {
                self.mem.owner(img.name());
                self.mem.alloc_meta(img.layout())
            };
            let ptr = match ptr {
                Ok(p) => p,
                Err(err) => {
                    result = Err(err);
                    break;
                }
            };
            // SAFETY: `ptr` was claimed or allocated with the image's layout, for this
            // record alone; the records placed before are live.
            let placed = unsafe { Rec::place(ptr, img, &recs) };
            let placed = match placed {
                Ok(r) => r,
                Err(err) => {
                    if !at_home(e) {
                        // SAFETY: allocated just above with this layout.
                        unsafe { self.mem.free_meta(ptr, img.layout()) };
                    }
                    result = Err(err);
                    break;
                }
            };
            recs.push(placed);
            if let [.., mut prev, rec] = recs[..] {
                // SAFETY: we own `self`; both records are live.
                result = unsafe { prev.set_next(Some(rec)) };
                if result.is_err() {
                    break;
                }
            }
        }
        if result.is_ok() {
            result = snap.entries.iter().try_for_each(|e| self.check_and_seal(e));
        }
        if let Err(err) = result {
            // Give back every claim and record: records placed free themselves with their
            // block; the rest are freed from the snapshot's description.
            for (i, e) in snap.entries.iter().enumerate() {
                if let Some(&rec) = recs.get(i) {
                    self.free(rec);
                    continue;
                }
                let img = &e.record;
                if img.layout.size > 0 {
                    let block = self.mem.block_at(img.header.block_addr);
                    // SAFETY: claimed above with this layout; nothing refers to it.
                    unsafe { self.mem.free_block(block, &img.layout) };
                }
                if at_home(e) {
                    if let Some(p) = NonNull::new(e.record_addr as usize as *mut u8) {
                        // SAFETY: claimed above with this layout; never placed.
                        unsafe { self.mem.free_meta(p, img.layout()) };
                    }
                }
            }
            return Err(err);
        }
        self.head = recs.first().copied();
        self.count = recs.len();
        Ok(())
    }

    /// Verify a claimed block's region checksums, then protect it.
    fn check_and_seal(&mut self, e: &Entry<'_>) -> Result<()> {
        let img = &e.record;
        if img.layout.size == 0 {
            return Ok(());
        }
        let b = self.mem.block_at(img.header.block_addr);
        if let Some(crcs) = e.crcs {
            for k in 0..4 {
                if img.layout.sizes[k] == 0 {
                    continue;
                }
                // SAFETY: the region lies inside the block just claimed from this memory,
                // which owns those bytes.
                let bytes = unsafe {
                    core::slice::from_raw_parts(
                        b.ptr.as_ptr().add(img.layout.offsets[k] as usize),
                        img.layout.sizes[k] as usize,
                    )
                };
                let computed = checksum(bytes);
                if computed != crcs[k] {
                    return Err(Error::RegionChecksum {
                        extension: Name::from(img.name()),
                        kind: [
                            RegionKind::Text,
                            RegionKind::Rodata,
                            RegionKind::Data,
                            RegionKind::Bss,
                        ][k],
                        stored: crcs[k],
                        computed,
                    });
                }
            }
        }
        self.mem.seal(&b, &img.layout)
    }

    /// Free every record and block (a failed restore).
    fn clear(&mut self) {
        let mut cur = self.head.take();
        while let Some(r) = cur {
            cur = r.next();
            self.free(r);
        }
        self.count = 0;
    }

    /// Free a record and its block.
    fn free(&mut self, rec: Rec) {
        let h = rec.header();
        if h.block_size > 0 {
            let layout = rec.block_layout();
            let block = self.mem.block_at(h.block_addr);
            // SAFETY: the block was allocated with this size and alignment and the record is
            // being removed, so nothing refers to it any more.
            unsafe { self.mem.free_block(block, &layout) };
        }
        let layout = rec.layout();
        // SAFETY: the record was allocated with this layout and is unlinked.
        unsafe { self.mem.free_meta(rec.0.cast(), layout) };
    }
}

/// Resolves undefined symbols: host exports first, then loaded extensions, oldest first.
struct Resolver<'r> {
    exports: &'r (dyn Exports + Sync),
    head: Option<Rec>,
    arch: Arch,
}

impl Resolve for Resolver<'_> {
    fn resolve(&self, wanted: &mut [Wanted<'_>], mem: &dyn Memory) {
        for w in wanted.iter_mut() {
            w.addr = self.exports.lookup(w.name);
        }
        let mut cur = self.head;
        while let Some(r) = cur {
            if wanted.iter().all(|w| w.addr.is_some()) {
                break;
            }
            let provider = Some(r.0.cast::<()>());
            if r.storage() == Storage::Temporary {
                for w in wanted.iter_mut().filter(|w| w.addr.is_none()) {
                    if let Some(a) = r.find_export(w.name) {
                        w.addr = Some(a);
                        w.provider = provider;
                    }
                }
            } else {
                let _ = in_place_exports(r, self.arch, mem, &mut |name, addr| {
                    if let Ok(i) = wanted.binary_search_by(|w| w.name.cmp(name)) {
                        if wanted[i].addr.is_none() {
                            wanted[i].addr = Some(addr);
                            wanted[i].provider = provider;
                        }
                    }
                });
            }
            cur = r.next();
        }
    }
}

/// Visit the exports of a persistent or writable extension, read from its own symbol table
/// where it lies.
fn in_place_exports(
    rec: Rec,
    arch: Arch,
    mem: &dyn Memory,
    f: &mut dyn FnMut(&[u8], u64),
) -> Result<()> {
    let h = rec.header();
    // SAFETY: the buffer is borrowed for the registry's lifetime; only its tables (never
    // written by anyone) are read.
    let mut src = unsafe { RawSource::new(h.source as *const u8, h.len as usize) };
    match identify(&mut src)? {
        Class::Elf32 => scan::<Elf32>(rec, arch, mem, &mut src, f),
        Class::Elf64 => scan::<Elf64>(rec, arch, mem, &mut src, f),
    }
}

fn scan<'a, E: FileHeader<Endian = LE>>(
    rec: Rec,
    arch: Arch,
    mem: &dyn Memory,
    src: &mut RawSource<'a>,
    f: &mut dyn FnMut(&[u8], u64),
) -> Result<()> {
    let obj = Object::<E>::parse(src, arch)?;
    let h = rec.header();
    let ok = |k, a, l| mem.in_place_ok(k, a, l);
    let mut plan = Plan::new(&obj, rec.storage(), h.source, &ok)?;
    link::retrim(&obj, src, arch, &mut plan, rec.storage(), h.source, &ok)?;
    let mut raw = [0u64; 4];
    for (d, s) in raw.iter_mut().zip(h.sizes) {
        *d = u64::from(s);
    }
    let layout = BlockLayout::arrange(raw, plan.align, &mem.granules());
    let mut common = plan.common_start;
    for s in 1..obj.nsyms {
        let sym = obj.sym(s);
        let is_common = sym.st_shndx(LE) == object::elf::SHN_COMMON;
        if !is_export(sym) && !is_common {
            continue;
        }
        let addr = link::symbol_addr(
            &obj,
            &plan,
            &layout,
            h.block_addr,
            h.source,
            mem,
            s,
            &mut common,
            // Thread-local symbols are not exported.
            0,
        )?;
        if is_export(sym) {
            if let Some(a) = addr {
                f(obj.sym_name(s)?, a);
            }
        }
    }
    Ok(())
}

impl<M: Memory> Extension<'_, M> {
    /// The name it was loaded under.
    pub fn name(&self) -> &str {
        core::str::from_utf8(self.rec.name()).unwrap_or("?")
    }

    /// How many loads it has outstanding.
    pub fn use_count(&self) -> u32 {
        u32::from(self.rec.header().uses)
    }

    /// The storage type of the loader it came from.
    pub fn storage(&self) -> Storage {
        self.rec.storage()
    }

    /// Names of the extensions it links against.
    pub fn dependencies(&self) -> impl Iterator<Item = &str> + '_ {
        self.rec.deps().map(|d| {
            // SAFETY: dependency records outlive their dependents (see `unload`).
            let name: &[u8] =
                unsafe { core::slice::from_raw_parts(d.name().as_ptr(), d.name().len()) };
            core::str::from_utf8(name).unwrap_or("?")
        })
    }

    /// Target address and size of its block of copied regions (0, 0 when everything is in
    /// place).
    pub fn block(&self) -> (u64, u64) {
        let h = self.rec.header();
        (h.block_addr, u64::from(h.block_size))
    }

    /// Offset and size of its range of the registry's thread-local area (0, 0 without
    /// thread-local sections).
    pub fn tls_range(&self) -> (u64, u64) {
        self.rec.tls()
    }

    /// Bytes of TEXT, RODATA, DATA and BSS in its block, rounded to the protection granule.
    pub fn region_sizes(&self) -> [u64; 4] {
        self.rec.header().sizes.map(u64::from)
    }

    /// Heap bytes it uses: its block and its metadata record.
    pub fn heap_bytes(&self) -> (u64, u64) {
        (
            u64::from(self.rec.header().block_size),
            self.rec.layout().size() as u64,
        )
    }

    /// Target address of the exported symbol `name`.
    pub fn symbol(&self, name: &str) -> Result<u64> {
        let missing = || Error::NoSuchSymbol {
            extension: Name::new(self.rec.name()),
            symbol: Name::from(name),
        };
        if self.rec.storage() == Storage::Temporary {
            return self.rec.find_export(name.as_bytes()).ok_or_else(missing);
        }
        let mut found = None;
        in_place_exports(self.rec, self.arch, self.mem, &mut |n, a| {
            if found.is_none() && n == name.as_bytes() {
                found = Some(a);
            }
        })?;
        found.ok_or_else(missing)
    }

    /// Visit every exported symbol with its target address.
    pub fn for_each_export(&self, mut f: impl FnMut(&str, u64)) -> Result<()> {
        let mut visit = |n: &[u8], a: u64| f(core::str::from_utf8(n).unwrap_or("?"), a);
        if self.rec.storage() == Storage::Temporary {
            for (n, a) in self.rec.exports() {
                visit(n, a);
            }
            return Ok(());
        }
        in_place_exports(self.rec, self.arch, self.mem, &mut visit)
    }

    /// The exported function `name` as a function pointer of type `F`
    /// (e.g. `extern "C" fn(i32) -> i32`).
    ///
    /// # Safety
    /// `F` must match the function's real signature and ABI, and the pointer must not be
    /// used after the extension is unloaded.
    pub unsafe fn function<F: Copy>(&self, name: &str) -> Result<F> {
        const {
            assert!(
                size_of::<F>() == size_of::<usize>(),
                "F must be a function pointer type"
            )
        };
        if !self.mem.is_native() {
            return Err(Error::NotNative);
        }
        let addr = self.symbol(name)? as usize;
        // SAFETY: `F` is pointer-sized (checked above) and the caller vouches for its type.
        Ok(unsafe { core::mem::transmute_copy::<usize, F>(&addr) })
    }

    /// A pointer to the exported data symbol `name` (it may be unaligned for `T`).
    pub fn data<T>(&self, name: &str) -> Result<*mut T> {
        if !self.mem.is_native() {
            return Err(Error::NotNative);
        }
        Ok(self.symbol(name)? as usize as *mut T)
    }

    fn table(&self, which: usize) -> &[usize] {
        let h = self.rec.header();
        let word = size_of::<usize>();
        let before: usize = h.tables[..which].iter().map(|&n| usize::from(n)).sum();
        let len = usize::from(h.tables[which]);
        if len == 0 || h.block_addr == 0 {
            return &[];
        }
        // SAFETY: native memory (checked by callers); the tables are the first bytes of
        // TEXT, word-aligned, written during linking and never written again.
        unsafe {
            core::slice::from_raw_parts(
                (h.block_addr as usize + before * word) as *const usize,
                len,
            )
        }
    }

    /// Run the preinit and init tables, in order.
    ///
    /// # Safety
    /// Runs the extension's own code.
    pub unsafe fn bringup(&self) -> Result<()> {
        if !self.mem.is_native() {
            return Err(Error::NotNative);
        }
        for which in [0, 1] {
            for &f in self.table(which) {
                // SAFETY: the caller allows running extension code; entries are relocated
                // function addresses (0 and -1 are skipped as GNU tools do).
                unsafe { call(f) };
            }
        }
        Ok(())
    }

    /// Run the fini table, last entry first.
    ///
    /// # Safety
    /// Runs the extension's own code.
    pub unsafe fn teardown(&self) -> Result<()> {
        if !self.mem.is_native() {
            return Err(Error::NotNative);
        }
        for &f in self.table(2).iter().rev() {
            // SAFETY: as in `bringup`.
            unsafe { call(f) };
        }
        Ok(())
    }

    /// Number of entries in the preinit, init and fini tables.
    pub fn table_lengths(&self) -> [u16; 3] {
        self.rec.header().tables
    }
}

/// Call a table entry.
///
/// # Safety
/// `f` must be the address of an `extern "C" fn()` or 0 / -1.
unsafe fn call(f: usize) {
    if f == 0 || f == usize::MAX {
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        let func: extern "C" fn() = core::mem::transmute::<usize, extern "C" fn()>(f);
        func();
    }
}
