//! The per-extension record: one allocation of loader metadata in the extension heap.
//!
//! ```text
//! Header (56 bytes, the same on 32- and 64-bit machines)
//! name bytes
//! dependencies: i32 offsets from this record to each record it links against
//! thread-local range (only with HAS_TLS): offset u32, size u32
//! region offsets in the block (only with HAS_OFFSETS, when the block has padding): 4 x u32
//! exports (temporary storage only): (address u64, name hash u32, name offset u32),
//!     sorted by hash, then the names themselves, each NUL-terminated
//! ```
//!
//! Records hold no host pointers: links to other records are offsets, and the fields have
//! the same widths everywhere, so a record's bytes are the same on a 64-bit host and a
//! 32-bit target (all supported architectures are little-endian). A snapshot stores them
//! as they are ([`Rec::snapshot_image`], [`check_stored`], [`Rec::place`]).
//!
//! This module is the only place that reads and writes records through raw pointers.

use core::alloc::Layout;
use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use alloc::vec::Vec;

use crate::error::{Error, Result};
use crate::layout::BlockLayout;
use crate::loader::Storage;
use crate::memory::Memory;

/// The fixed part of a record.
#[repr(C)]
pub(crate) struct Header {
    /// Host address of the caller's buffer (persistent and writable storage), else 0.
    pub source: u64,
    /// Target address of the block (0 when there is none).
    pub block_addr: u64,
    /// Rounded sizes of TEXT, RODATA, DATA and BSS.
    pub sizes: [u32; 4],
    /// Size of the block.
    pub block_size: u32,
    /// Length of the caller's buffer, or the number of exports for temporary storage.
    pub len: u32,
    /// Offset from this record to the next one in the registry's list (0: last).
    pub next: i32,
    /// Entries in the preinit, init and fini tables.
    pub tables: [u16; 3],
    /// Use count.
    pub uses: u16,
    /// Number of dependencies.
    pub n_deps: u8,
    /// Length of the name.
    pub name_len: u8,
    /// Storage type (bits 0..2); [`HAS_TLS`] when a thread-local range follows the
    /// dependencies.
    pub flags: u8,
    /// log2 of the block's alignment.
    pub align_log2: u8,
}

/// One export of a temporary extension.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct ExportEntry {
    pub addr: u64,
    pub hash: u32,
    pub name_off: u32,
}

/// The hash export lookups sort and search by (32-bit FNV-1a).
#[inline]
pub(crate) fn name_hash(name: &[u8]) -> u32 {
    let mut h = 0x811c_9dc5u32;
    for &b in name {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

/// Flag: the record carries a thread-local range (offset and size, two `u32`s) after its
/// dependencies; records without TLS do not pay for it.
pub(crate) const HAS_TLS: u8 = 4;

/// Flag: the record carries the offsets of its block's regions (four `u32`s) after the
/// thread-local range. Only blocks with padding between regions need them; without padding
/// each region starts where the previous one ends.
pub(crate) const HAS_OFFSETS: u8 = 8;

/// Offsets of the parts of a record.
struct Parts {
    deps: usize,
    tls: usize,
    offsets: usize,
    exports: usize,
    names: usize,
    size: usize,
}

fn parts(name_len: usize, n_deps: usize, flags: u8, n_exports: usize, names_len: usize) -> Parts {
    let deps = (size_of::<Header>() + name_len).next_multiple_of(4);
    let tls_at = deps + 4 * n_deps;
    let offsets = tls_at + if flags & HAS_TLS != 0 { 8 } else { 0 };
    let end = offsets + if flags & HAS_OFFSETS != 0 { 16 } else { 0 };
    let exports = end.next_multiple_of(align_of::<ExportEntry>());
    let names = exports + n_exports * size_of::<ExportEntry>();
    let size = (names + names_len).next_multiple_of(align_of::<Header>());
    Parts {
        deps,
        tls: tls_at,
        offsets,
        exports,
        names,
        size,
    }
}

const ALIGN: usize = if align_of::<Header>() > align_of::<ExportEntry>() {
    align_of::<Header>()
} else {
    align_of::<ExportEntry>()
};

fn storage_bits(s: Storage) -> u8 {
    match s {
        Storage::Temporary => 0,
        Storage::Persistent => 1,
        Storage::Writable => 2,
    }
}

/// Offsets of regions laid end to end, as [`BlockLayout::arrange`] places them when no
/// alignment pads between them.
pub(crate) fn packed_offsets(sizes: [u64; 4]) -> [u64; 4] {
    let mut offsets = [0u64; 4];
    let mut at = 0u64;
    for (o, s) in offsets.iter_mut().zip(sizes) {
        *o = at;
        at = at.saturating_add(s);
    }
    offsets
}

/// A record in the extension heap.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Rec(pub NonNull<Header>);

/// Everything needed to write a new record.
pub(crate) struct NewRecord<'n> {
    pub name: &'n [u8],
    pub storage: Storage,
    pub source: usize,
    pub source_len: u64,
    pub block_addr: u64,
    pub offsets: [u64; 4],
    pub sizes: [u64; 4],
    pub block_size: u64,
    pub block_align: u64,
    pub tables: [u16; 3],
    pub tls: (u64, u64),
    pub deps: &'n [Rec],
    /// Exports (hash, name, address), sorted by hash.
    pub exports: &'n [(u32, &'n [u8], u64)],
}

fn too_large(what: &'static str, value: u64, limit: u64) -> Error {
    Error::TooLarge { what, value, limit }
}

impl Rec {
    /// Allocate and write a record.
    pub fn create<M: Memory + ?Sized>(mem: &mut M, n: &NewRecord<'_>) -> Result<Rec> {
        let name_len = u8::try_from(n.name.len())
            .map_err(|_| too_large("extension name length", n.name.len() as u64, 255))?;
        let n_deps = u8::try_from(n.deps.len())
            .map_err(|_| too_large("dependencies", n.deps.len() as u64, 255))?;
        let len = if n.storage == Storage::Temporary {
            n.exports.len() as u64
        } else {
            n.source_len
        };
        let len = u32::try_from(len)
            .map_err(|_| too_large("object size or export count", len, u64::from(u32::MAX)))?;
        let block_size = u32::try_from(n.block_size)
            .map_err(|_| too_large("block size", n.block_size, u64::from(u32::MAX)))?;
        let mut sizes = [0u32; 4];
        for (d, s) in sizes.iter_mut().zip(n.sizes) {
            *d = u32::try_from(s).map_err(|_| too_large("region size", s, u64::from(u32::MAX)))?;
        }
        let has_tls = n.tls.1 > 0;
        let has_offsets = n.offsets != packed_offsets(n.sizes);
        let mut offsets = [0u32; 4];
        for (d, s) in offsets.iter_mut().zip(n.offsets) {
            *d =
                u32::try_from(s).map_err(|_| too_large("region offset", s, u64::from(u32::MAX)))?;
        }
        let flags = storage_bits(n.storage)
            | if has_tls { HAS_TLS } else { 0 }
            | if has_offsets { HAS_OFFSETS } else { 0 };
        let mut tls = [0u32; 2];
        for (d, s) in tls.iter_mut().zip([n.tls.0, n.tls.1]) {
            *d = u32::try_from(s)
                .map_err(|_| too_large("thread-local range", s, u64::from(u32::MAX)))?;
        }
        let names_len: usize = n.exports.iter().map(|(_, name, _)| name.len() + 1).sum();
        if names_len > u32::MAX as usize {
            return Err(too_large(
                "export names",
                names_len as u64,
                u64::from(u32::MAX),
            ));
        }
        let p = parts(
            n.name.len(),
            n.deps.len(),
            flags,
            n.exports.len(),
            names_len,
        );
        let layout = Layout::from_size_align(p.size, ALIGN)
            .map_err(|_| too_large("record", p.size as u64, isize::MAX as u64))?;
        let ptr = mem.alloc_meta(layout)?;
        let rec = Rec(ptr.cast());
        let mut dep_offsets = [0i32; 255];
        for (o, d) in dep_offsets.iter_mut().zip(n.deps) {
            match i32::try_from((d.0.as_ptr() as isize).wrapping_sub(ptr.as_ptr() as isize)) {
                Ok(v) => *o = v,
                Err(_) => {
                    // SAFETY: just allocated with `layout`.
                    unsafe { mem.free_meta(ptr, layout) };
                    return Err(too_large(
                        "distance between records",
                        u64::MAX,
                        i32::MAX as u64,
                    ));
                }
            }
        }
        let header = Header {
            source: n.source as u64,
            block_addr: n.block_addr,
            sizes,
            block_size,
            len,
            next: 0,
            tables: n.tables,
            uses: 1,
            n_deps,
            name_len,
            flags,
            align_log2: n.block_align.max(1).trailing_zeros() as u8,
        };
        // SAFETY: `ptr` points to `p.size` fresh bytes aligned to `ALIGN`; each write below
        // stays inside the part `parts` computed for it.
        unsafe {
            let base = ptr.as_ptr();
            // Padding too has defined bytes: a snapshot copies the record as it is.
            base.write_bytes(0, p.size);
            base.cast::<Header>().write(header);
            core::ptr::copy_nonoverlapping(
                n.name.as_ptr(),
                base.add(size_of::<Header>()),
                n.name.len(),
            );
            for (i, o) in dep_offsets[..n.deps.len()].iter().enumerate() {
                base.add(p.deps + 4 * i).cast::<i32>().write(*o);
            }
            if has_tls {
                base.add(p.tls).cast::<[u32; 2]>().write_unaligned(tls);
            }
            if has_offsets {
                base.add(p.offsets)
                    .cast::<[u32; 4]>()
                    .write_unaligned(offsets);
            }
            let mut name_off = 0usize;
            for (i, (hash, name, addr)) in n.exports.iter().enumerate() {
                let e = ExportEntry {
                    addr: *addr,
                    hash: *hash,
                    name_off: name_off as u32,
                };
                base.add(p.exports + i * size_of::<ExportEntry>())
                    .cast::<ExportEntry>()
                    .write(e);
                let dst = base.add(p.names + name_off);
                core::ptr::copy_nonoverlapping(name.as_ptr(), dst, name.len());
                dst.add(name.len()).write(0);
                name_off += name.len() + 1;
            }
        }
        Ok(rec)
    }

    /// The fixed part.
    pub fn header(&self) -> &Header {
        // SAFETY: a `Rec` always points to a live record written by `create`.
        unsafe { self.0.as_ref() }
    }

    /// The fixed part, for updates (the registry holds its lock).
    ///
    /// # Safety
    /// No other reference to this record's header may be live.
    pub unsafe fn header_mut(&mut self) -> &mut Header {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.as_mut() }
    }

    fn bytes(&self, at: usize, len: usize) -> &[u8] {
        // SAFETY: callers ask only for parts inside the record, as laid out by `parts`.
        unsafe { core::slice::from_raw_parts(self.0.as_ptr().cast::<u8>().add(at), len) }
    }

    fn parts(&self) -> Parts {
        let h = self.header();
        let n_exports = self.exports_len();
        let names_len = if n_exports == 0 {
            0
        } else {
            let last = self.export(n_exports - 1);
            let at = parts(
                usize::from(h.name_len),
                usize::from(h.n_deps),
                h.flags,
                n_exports,
                0,
            )
            .names;
            last.name_off as usize + self.cstr(at + last.name_off as usize).len() + 1
        };
        parts(
            usize::from(h.name_len),
            usize::from(h.n_deps),
            h.flags,
            n_exports,
            names_len,
        )
    }

    fn exports_len(&self) -> usize {
        let h = self.header();
        if self.storage() == Storage::Temporary {
            h.len as usize
        } else {
            0
        }
    }

    /// The extension's name.
    pub fn name(&self) -> &[u8] {
        self.bytes(size_of::<Header>(), usize::from(self.header().name_len))
    }

    /// Whether the record carries a thread-local range.
    fn has_tls(&self) -> bool {
        self.header().flags & HAS_TLS != 0
    }

    /// Offset and size of its range of the thread-local area ((0, 0) without TLS).
    pub fn tls(&self) -> (u64, u64) {
        if !self.has_tls() {
            return (0, 0);
        }
        let h = self.header();
        let at = parts(
            usize::from(h.name_len),
            usize::from(h.n_deps),
            h.flags,
            0,
            0,
        )
        .tls;
        // SAFETY: written by `create` at this offset when `HAS_TLS` is set.
        let [off, size] = unsafe {
            self.0
                .as_ptr()
                .cast::<u8>()
                .add(at)
                .cast::<[u32; 2]>()
                .read_unaligned()
        };
        (u64::from(off), u64::from(size))
    }

    /// Where its block's regions are, and the block's size and alignment.
    pub fn block_layout(&self) -> BlockLayout {
        let h = self.header();
        let sizes = h.sizes.map(u64::from);
        let offsets = if h.flags & HAS_OFFSETS != 0 {
            let at = parts(
                usize::from(h.name_len),
                usize::from(h.n_deps),
                h.flags,
                0,
                0,
            )
            .offsets;
            // SAFETY: written by `create` at this offset when `HAS_OFFSETS` is set.
            let raw = unsafe {
                self.0
                    .as_ptr()
                    .cast::<u8>()
                    .add(at)
                    .cast::<[u32; 4]>()
                    .read_unaligned()
            };
            raw.map(u64::from)
        } else {
            packed_offsets(sizes)
        };
        BlockLayout {
            offsets,
            sizes,
            size: u64::from(h.block_size),
            align: 1 << h.align_log2,
        }
    }

    /// Storage type it was loaded with.
    pub fn storage(&self) -> Storage {
        storage_of(self.header().flags)
    }

    /// The records it links against.
    pub fn deps(&self) -> impl Iterator<Item = Rec> + '_ {
        let at = parts(usize::from(self.header().name_len), 0, 0, 0, 0).deps;
        (0..usize::from(self.header().n_deps)).map(move |i| {
            let b = self.bytes(at + 4 * i, 4);
            let off = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
            // SAFETY: offsets were computed from live records; a record is only freed once
            // no other record depends on it.
            Rec(unsafe {
                NonNull::new_unchecked(self.0.as_ptr().cast::<u8>().offset(off as isize).cast())
            })
        })
    }

    /// Export `i` of a temporary extension.
    fn export(&self, i: usize) -> ExportEntry {
        let h = self.header();
        let at = parts(
            usize::from(h.name_len),
            usize::from(h.n_deps),
            h.flags,
            0,
            0,
        )
        .exports
            + i * size_of::<ExportEntry>();
        // SAFETY: `i` is below the export count; entries are aligned by `parts`.
        unsafe {
            self.0
                .as_ptr()
                .cast::<u8>()
                .add(at)
                .cast::<ExportEntry>()
                .read()
        }
    }

    /// The NUL-terminated name at `at`.
    fn cstr(&self, at: usize) -> &[u8] {
        let mut len = 0;
        // SAFETY: export names were written NUL-terminated inside the record.
        unsafe {
            let p = self.0.as_ptr().cast::<u8>().add(at);
            while p.add(len).read() != 0 {
                len += 1;
            }
        }
        self.bytes(at, len)
    }

    /// The exports of a temporary extension (in hash order).
    pub fn exports(&self) -> impl Iterator<Item = (&[u8], u64)> + '_ {
        let n = self.exports_len();
        let h = self.header();
        let names = parts(
            usize::from(h.name_len),
            usize::from(h.n_deps),
            h.flags,
            n,
            0,
        )
        .names;
        (0..n).map(move |i| {
            let e = self.export(i);
            (self.cstr(names + e.name_off as usize), e.addr)
        })
    }

    /// Look up an export of a temporary extension: binary search by hash, then compare names.
    pub fn find_export(&self, name: &[u8]) -> Option<u64> {
        let n = self.exports_len();
        if n == 0 {
            return None;
        }
        let h = self.header();
        let names = parts(
            usize::from(h.name_len),
            usize::from(h.n_deps),
            h.flags,
            n,
            0,
        )
        .names;
        let hash = name_hash(name);
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.export(mid).hash < hash {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        (lo..n)
            .map(|i| self.export(i))
            .take_while(|e| e.hash == hash)
            .find_map(|e| (self.cstr(names + e.name_off as usize) == name).then_some(e.addr))
    }

    /// Bytes and alignment of the record's allocation.
    pub fn layout(&self) -> Layout {
        // A record's layout was valid when it was created.
        Layout::from_size_align(self.parts().size, ALIGN).unwrap_or(Layout::new::<Header>())
    }

    /// The next record in the list.
    pub fn next(&self) -> Option<Rec> {
        let off = self.header().next;
        if off == 0 {
            return None;
        }
        // SAFETY: `next` offsets are written by the registry between live records.
        Some(Rec(unsafe {
            NonNull::new_unchecked(self.0.as_ptr().cast::<u8>().offset(off as isize).cast())
        }))
    }

    /// Point this record's `next` at `to`.
    ///
    /// # Safety
    /// The registry's lock must be held and `to` must be a live record.
    pub unsafe fn set_next(&mut self, to: Option<Rec>) -> Result<()> {
        let off = match to {
            None => 0,
            Some(t) => {
                i32::try_from((t.0.as_ptr() as isize).wrapping_sub(self.0.as_ptr() as isize))
                    .map_err(|_| too_large("distance between records", u64::MAX, i32::MAX as u64))?
            }
        };
        // SAFETY: forwarded from the caller.
        unsafe { self.header_mut().next = off };
        Ok(())
    }
}

/// Offset of `Header::next`.
const NEXT_AT: usize = core::mem::offset_of!(Header, next);

/// Where a problem in a record image is: byte offset in the image, field, value.
pub(crate) type StoredFault = (usize, &'static str, u64);

/// A record image from a snapshot, checked by [`check_stored`].
pub(crate) struct Stored<'s> {
    /// The bytes, as [`Rec::snapshot_image`] wrote them.
    pub bytes: &'s [u8],
    /// A copy of the header.
    pub header: Header,
    /// The block's layout.
    pub layout: BlockLayout,
    name: &'s str,
}

impl Stored<'_> {
    /// The extension's name (UTF-8, checked).
    pub fn name(&self) -> &str {
        self.name
    }

    /// The snapshot indices of its dependencies.
    pub fn deps(&self) -> impl Iterator<Item = u32> + '_ {
        let at = parts(usize::from(self.header.name_len), 0, 0, 0, 0).deps;
        (0..usize::from(self.header.n_deps)).map(move |i| read_u32(self.bytes, at + 4 * i))
    }

    /// Bytes and alignment of the record.
    pub fn layout(&self) -> Layout {
        // Checked: the length is a multiple of ALIGN and fits.
        Layout::from_size_align(self.bytes.len(), ALIGN).unwrap_or(Layout::new::<Header>())
    }
}

#[inline]
fn read_u32(b: &[u8], at: usize) -> u32 {
    let mut v = [0u8; 4];
    v.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(v)
}

fn storage_of(flags: u8) -> Storage {
    match flags & 3 {
        1 => Storage::Persistent,
        2 => Storage::Writable,
        _ => Storage::Temporary,
    }
}

/// Check a record image read from a snapshot, the `index`-th of it: every field in range,
/// every part inside the image, dependencies on earlier records only, exports sorted by
/// hash with their names back to back. After this, reading the record through [`Rec`]
/// stays inside it.
pub(crate) fn check_stored(
    bytes: &[u8],
    index: usize,
) -> core::result::Result<Stored<'_>, StoredFault> {
    let hs = size_of::<Header>();
    if bytes.len() < hs || bytes.len() % ALIGN != 0 {
        return Err((0, "record length", bytes.len() as u64));
    }
    // SAFETY: at least `size_of::<Header>()` bytes; every bit pattern is a valid header
    // (integers only); the read is unaligned.
    let h: Header = unsafe { bytes.as_ptr().cast::<Header>().read_unaligned() };
    let at = |field: usize| field;
    if h.flags & !(3 | HAS_TLS | HAS_OFFSETS) != 0 || h.flags & 3 == 3 {
        return Err((
            at(core::mem::offset_of!(Header, flags)),
            "record flags",
            u64::from(h.flags),
        ));
    }
    let storage = storage_of(h.flags);
    let name_len = usize::from(h.name_len);
    let name = bytes
        .get(hs..hs + name_len)
        .filter(|_| name_len > 0)
        .and_then(|b| core::str::from_utf8(b).ok())
        .ok_or((hs, "extension name", name_len as u64))?;
    if h.uses == 0 {
        return Err((core::mem::offset_of!(Header, uses), "use count", 0));
    }
    if h.next != 0 {
        return Err((
            NEXT_AT,
            "next record (must be 0 in a snapshot)",
            h.next as u64,
        ));
    }
    let temporary = storage == Storage::Temporary;
    let n_exports = if temporary { h.len as usize } else { 0 };
    // A count the image cannot hold is refused before any offset is computed from it.
    if n_exports > bytes.len() / size_of::<ExportEntry>() {
        return Err((
            core::mem::offset_of!(Header, len),
            "export count",
            n_exports as u64,
        ));
    }
    let fits = usize::try_from(h.source)
        .ok()
        .and_then(|s| s.checked_add(h.len as usize))
        .is_some();
    if temporary != (h.source == 0) || (!temporary && (h.len == 0 || !fits)) {
        return Err((
            core::mem::offset_of!(Header, source),
            "source buffer",
            h.source,
        ));
    }
    if h.align_log2 > 31 {
        return Err((
            core::mem::offset_of!(Header, align_log2),
            "block alignment",
            u64::from(h.align_log2),
        ));
    }
    let p = parts(name_len, usize::from(h.n_deps), h.flags, n_exports, 0);
    if p.names > bytes.len() {
        return Err((0, "record length", bytes.len() as u64));
    }
    for i in 0..usize::from(h.n_deps) {
        let d = read_u32(bytes, p.deps + 4 * i);
        // Dependencies are loaded before their dependents: this also rules out cycles. At
        // most 255 of them, so the search for a repeat stays short.
        let repeated = (0..i).any(|j| read_u32(bytes, p.deps + 4 * j) == d);
        if d as usize >= index || repeated {
            return Err((p.deps + 4 * i, "dependency index", u64::from(d)));
        }
    }
    if h.flags & HAS_TLS != 0 {
        let (off, size) = (read_u32(bytes, p.tls), read_u32(bytes, p.tls + 4));
        if size == 0 || u64::from(off) + u64::from(size) > u64::from(u32::MAX) {
            return Err((p.tls, "thread-local range", u64::from(off)));
        }
    }
    let sizes = h.sizes.map(u64::from);
    let offsets = if h.flags & HAS_OFFSETS != 0 {
        [0, 1, 2, 3].map(|k| u64::from(read_u32(bytes, p.offsets + 4 * k)))
    } else {
        packed_offsets(sizes)
    };
    let layout = BlockLayout {
        offsets,
        sizes,
        size: u64::from(h.block_size),
        align: 1 << h.align_log2,
    };
    check_layout(h.block_addr, &layout, p.offsets)?;
    // Exports: entries sorted by hash, names back to back after them, each NUL-terminated.
    let names = &bytes[p.names..];
    let mut name_off = 0usize;
    let mut last_hash = 0u32;
    let entries = bytes[p.exports..p.names].chunks_exact(size_of::<ExportEntry>());
    for (i, e) in entries.enumerate() {
        let e_at = p.exports + i * size_of::<ExportEntry>();
        let hash = read_u32(e, 8);
        let off = read_u32(e, 12) as usize;
        if hash < last_hash {
            return Err((e_at + 8, "export hash (not sorted)", u64::from(hash)));
        }
        last_hash = hash;
        if off != name_off {
            return Err((e_at + 12, "export name offset", off as u64));
        }
        // `off` is where the previous name ended, inside `names`.
        let len = names[off..]
            .iter()
            .position(|&b| b == 0)
            .filter(|&len| len > 0)
            .ok_or((e_at + 12, "export name", off as u64))?;
        name_off = off + len + 1;
    }
    let want = parts(
        name_len,
        usize::from(h.n_deps),
        h.flags,
        n_exports,
        name_off,
    )
    .size;
    if want != bytes.len() {
        return Err((0, "record length", bytes.len() as u64));
    }
    Ok(Stored {
        bytes,
        header: h,
        layout,
        name,
    })
}

/// A block's regions lie inside it, in kind order, apart; the block is aligned and does
/// not wrap around the address space.
fn check_layout(
    addr: u64,
    l: &BlockLayout,
    offsets_at: usize,
) -> core::result::Result<(), StoredFault> {
    let block_at = core::mem::offset_of!(Header, block_addr);
    let sizes_at = core::mem::offset_of!(Header, sizes);
    let used: u64 = l.sizes.iter().sum();
    if l.size == 0 {
        if addr != 0 || used != 0 {
            return Err((block_at, "empty block", addr));
        }
        return Ok(());
    }
    // `align` is a power of two (from `align_log2`).
    if addr == 0 || addr & (l.align - 1) != 0 || addr.checked_add(l.size).is_none() {
        return Err((block_at, "block address", addr));
    }
    if used == 0 || used > l.size {
        return Err((sizes_at, "region sizes", used));
    }
    let mut end = 0u64;
    for k in 0..4 {
        if l.sizes[k] == 0 {
            continue;
        }
        if l.offsets[k] < end || l.offsets[k] + l.sizes[k] > l.size {
            return Err((offsets_at + 4 * k, "region offset", l.offsets[k]));
        }
        end = l.offsets[k] + l.sizes[k];
    }
    Ok(())
}

impl Rec {
    /// Append the record's bytes to `out` as a snapshot stores them: `next` is 0 and each
    /// dependency is the index `index_of` gives it instead of an offset.
    pub fn snapshot_image(
        &self,
        out: &mut Vec<u8>,
        mut index_of: impl FnMut(Rec) -> Option<u32>,
    ) -> Result<()> {
        let start = out.len();
        let size = self.parts().size;
        out.extend_from_slice(self.bytes(0, size));
        out[start + NEXT_AT..start + NEXT_AT + 4].fill(0);
        let at = start + parts(usize::from(self.header().name_len), 0, 0, 0, 0).deps;
        for (i, d) in self.deps().enumerate() {
            let j = index_of(d).ok_or(Error::BadSnapshot {
                offset: 0,
                extension: u32::MAX,
                field: "dependency not loaded before its dependent",
                value: 0,
            })?;
            out[at + 4 * i..at + 4 * i + 4].copy_from_slice(&j.to_le_bytes());
        }
        Ok(())
    }

    /// Write a checked image at `ptr` (allocated with [`Stored::layout`]) and point its
    /// dependencies at the records `placed` before it (the image's dependency indices are
    /// indices into `placed`, checked to be below its own index).
    ///
    /// # Safety
    /// `ptr` must be valid for writes of the image's length, aligned as [`Stored::layout`]
    /// says, and used by nothing else; the records in `placed` must be live.
    pub unsafe fn place(ptr: NonNull<u8>, img: &Stored<'_>, placed: &[Rec]) -> Result<Rec> {
        let at = parts(usize::from(img.header.name_len), 0, 0, 0, 0).deps;
        let base = ptr.as_ptr();
        // SAFETY: from the caller.
        unsafe { core::ptr::copy_nonoverlapping(img.bytes.as_ptr(), base, img.bytes.len()) };
        for (i, d) in img.deps().enumerate() {
            let d = placed.get(d as usize).ok_or(Error::BadSnapshot {
                offset: 0,
                extension: u32::MAX,
                field: "dependency index",
                value: u64::from(d),
            })?;
            let off = i32::try_from((d.0.as_ptr() as isize).wrapping_sub(base as isize))
                .map_err(|_| too_large("distance between records", u64::MAX, i32::MAX as u64))?;
            // SAFETY: the image was checked, so its dependency entries lie inside it; the
            // caller frees the half-written record on error.
            unsafe { base.add(at + 4 * i).cast::<i32>().write(off) };
        }
        Ok(Rec(ptr.cast()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_compact() {
        assert!(
            size_of::<Header>() == 56 && align_of::<Header>() == 8,
            "record header grew to {} bytes",
            size_of::<Header>()
        );
    }
}
