//! Save and restore of the registry: suspend with extensions loaded, resume without
//! relinking.
//!
//! [`Registry::save`](crate::Registry::save) writes a snapshot of everything the registry
//! knows; [`Registry::restore`](crate::Registry::restore) rebuilds a registry from it, taking
//! back each extension's block at its address ([`Memory::claim_block`](crate::Memory::claim_block))
//! and writing fresh metadata records. Nothing is read from an ELF file and nothing is
//! relinked: the regions are assumed to still hold what the snapshot describes (retained
//! RAM), which a careful caller checks with per-region checksums
//! ([`SaveOptions::region_checksums`]).
//!
//! # Format, version 1
//!
//! Little-endian, fixed-width, no padding, no host pointers: the same bytes are written by
//! a 64-bit host linking for a target and read by that 32-bit target. Addresses are `u64`,
//! lengths and offsets `u32`.
//!
//! ```text
//! header (32 bytes)
//!   0  magic            8 bytes  "ELFXSNAP"
//!   8  version          u16      1
//!  10  flags            u16      bit 0: every extension carries region checksums
//!  12  total length     u32      bytes of the whole snapshot, checksum included
//!  16  architecture     u8       0 x86-64, 1 ARM, 2 AArch64, 3 RV32, 4 RV64
//!  17  granules         4 x u8   TEXT, RODATA, DATA, BSS: 0 none, 1 Mpu32, 2 MpuPow2, 3 Page4K
//!  21  reserved         3 bytes  0
//!  24  extensions       u32      count
//!  28  reserved         u32      0
//! per extension, in registry order (oldest first)
//!      name length u32, name bytes (1..=255, unique)
//!      storage u8 (0 temporary, 1 persistent, 2 writable), reserved u8 (0)
//!      use count u32 (1..=65535)
//!      block address u64 (0: no block), block size u32, block alignment u32 (power of two)
//!      region offsets 4 x u32, region sizes 4 x u32 (TEXT, RODATA, DATA, BSS)
//!      source address u64, source length u32 (the caller's buffer; 0, 0 for temporary)
//!      preinit, init, fini table lengths 3 x u16
//!      thread-local range: offset u32, size u32
//!      dependencies: count u32, then u32 indices of earlier extensions of this snapshot
//!      exports (temporary storage only): count u32, then per export
//!          address u64, name length u32, name bytes
//!      region checksums (only with header flag bit 0): 4 x u32, CRC-32 of each region's
//!          bytes (0 for an empty region)
//! trailer
//!      CRC-32 (ISO-HDLC, as zlib) of every byte before it, u32
//! ```
//!
//! Extensions loaded from persistent or writable buffers keep no export list: their exports
//! are read from their own symbol table in the buffer, as while they were loaded, so the
//! buffer must still be in place (see the safety contract of `restore`).
//!
//! A snapshot may be followed by unrelated bytes (a fixed-size flash slot): only `total
//! length` bytes are read.

use alloc::vec::Vec;

#[cfg(feature = "std")]
use crc::Table;
use crc::{Crc, CRC_32_ISO_HDLC};

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::layout::{BlockLayout, Granule, Granules};
use crate::loader::Storage;

/// The snapshot format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// The first bytes of every snapshot.
pub const MAGIC: [u8; 8] = *b"ELFXSNAP";

/// Bytes of the header.
pub const HEADER_LEN: usize = 32;

const FLAG_REGION_CRCS: u16 = 1;
const NO_EXT: u32 = u32::MAX;

/// The checksum of snapshots and regions: CRC-32 as zlib computes it. Hosted builds use
/// 16 lookup tables (16 KiB, several times faster); bare-metal builds one (1 KiB of flash).
#[cfg(feature = "std")]
pub(crate) const CRC32: Crc<u32, Table<16>> = Crc::<u32, Table<16>>::new(&CRC_32_ISO_HDLC);
/// The checksum of snapshots and regions: CRC-32 as zlib computes it.
#[cfg(not(feature = "std"))]
pub(crate) const CRC32: Crc<u32> = Crc::<u32>::new(&CRC_32_ISO_HDLC);

/// The CRC-32 snapshots and region checksums use (ISO-HDLC, as zlib's `crc32`).
pub fn checksum(bytes: &[u8]) -> u32 {
    CRC32.checksum(bytes)
}

/// What [`Registry::save`](crate::Registry::save) writes besides the bookkeeping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaveOptions {
    /// Save a CRC-32 of each region's bytes, which `restore` then verifies (16 bytes per
    /// extension, and a pass over all region bytes on save and on restore).
    pub region_checksums: bool,
}

/// One extension as a snapshot describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry<'s> {
    pub name: &'s [u8],
    pub storage: Storage,
    pub uses: u16,
    pub block_addr: u64,
    pub layout: BlockLayout,
    pub source: u64,
    pub source_len: u32,
    pub tables: [u16; 3],
    pub tls: (u32, u32),
    pub deps: Vec<u32>,
    pub exports: Vec<(&'s [u8], u64)>,
    pub crcs: Option<[u32; 4]>,
}

/// A decoded (and checked) snapshot.
#[derive(Debug)]
pub(crate) struct Snapshot<'s> {
    pub arch: Arch,
    pub granules: Granules,
    pub entries: Vec<Entry<'s>>,
}

fn arch_code(a: Arch) -> u8 {
    match a {
        Arch::X86_64 => 0,
        Arch::Arm => 1,
        Arch::Aarch64 => 2,
        Arch::Riscv32 => 3,
        Arch::Riscv64 => 4,
    }
}

fn arch_from(c: u8) -> Option<Arch> {
    Some(match c {
        0 => Arch::X86_64,
        1 => Arch::Arm,
        2 => Arch::Aarch64,
        3 => Arch::Riscv32,
        4 => Arch::Riscv64,
        _ => return None,
    })
}

fn granule_code(g: Granule) -> u8 {
    match g {
        Granule::None => 0,
        Granule::Mpu32 => 1,
        Granule::MpuPow2 => 2,
        Granule::Page4K => 3,
    }
}

fn granule_from(c: u8) -> Option<Granule> {
    Some(match c {
        0 => Granule::None,
        1 => Granule::Mpu32,
        2 => Granule::MpuPow2,
        3 => Granule::Page4K,
        _ => return None,
    })
}

pub(crate) fn storage_code(s: Storage) -> u8 {
    match s {
        Storage::Temporary => 0,
        Storage::Persistent => 1,
        Storage::Writable => 2,
    }
}

fn storage_from(c: u8) -> Option<Storage> {
    Some(match c {
        0 => Storage::Temporary,
        1 => Storage::Persistent,
        2 => Storage::Writable,
        _ => return None,
    })
}

fn u32_of(what: &'static str, v: u64) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::TooLarge {
        what,
        value: v,
        limit: u64::from(u32::MAX),
    })
}

/// Write `snap` (the trailing checksum included).
pub(crate) fn encode(snap: &Snapshot<'_>) -> Result<Vec<u8>> {
    let crcs = snap.entries.iter().any(|e| e.crcs.is_some());
    let mut out = Vec::with_capacity(HEADER_LEN + 128 * snap.entries.len() + 4);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let flags = if crcs { FLAG_REGION_CRCS } else { 0 };
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // total length, patched below
    out.push(arch_code(snap.arch));
    for g in snap.granules.0 {
        out.push(granule_code(g));
    }
    out.extend_from_slice(&[0; 3]);
    out.extend_from_slice(&u32_of("extension count", snap.entries.len() as u64)?.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for e in &snap.entries {
        let put32 = |out: &mut Vec<u8>, what, v: u64| -> Result<()> {
            out.extend_from_slice(&u32_of(what, v)?.to_le_bytes());
            Ok(())
        };
        put32(&mut out, "extension name length", e.name.len() as u64)?;
        out.extend_from_slice(e.name);
        out.push(storage_code(e.storage));
        out.push(0);
        put32(&mut out, "use count", u64::from(e.uses))?;
        out.extend_from_slice(&e.block_addr.to_le_bytes());
        put32(&mut out, "block size", e.layout.size)?;
        put32(&mut out, "block alignment", e.layout.align)?;
        for o in e.layout.offsets {
            put32(&mut out, "region offset", o)?;
        }
        for s in e.layout.sizes {
            put32(&mut out, "region size", s)?;
        }
        out.extend_from_slice(&e.source.to_le_bytes());
        out.extend_from_slice(&e.source_len.to_le_bytes());
        for t in e.tables {
            out.extend_from_slice(&t.to_le_bytes());
        }
        out.extend_from_slice(&e.tls.0.to_le_bytes());
        out.extend_from_slice(&e.tls.1.to_le_bytes());
        put32(&mut out, "dependency count", e.deps.len() as u64)?;
        for d in &e.deps {
            out.extend_from_slice(&d.to_le_bytes());
        }
        put32(&mut out, "export count", e.exports.len() as u64)?;
        for (name, addr) in &e.exports {
            out.extend_from_slice(&addr.to_le_bytes());
            put32(&mut out, "export name length", name.len() as u64)?;
            out.extend_from_slice(name);
        }
        if crcs {
            for c in e.crcs.unwrap_or([0; 4]) {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
    }
    let total = u32_of("snapshot length", out.len() as u64 + 4)?;
    out[12..16].copy_from_slice(&total.to_le_bytes());
    let crc = CRC32.checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// A bounds-checked little-endian reader that names what it could not read.
struct Reader<'s> {
    bytes: &'s [u8],
    at: usize,
    ext: u32,
}

impl<'s> Reader<'s> {
    fn bad(&self, at: usize, field: &'static str, value: u64) -> Error {
        Error::BadSnapshot {
            offset: at as u64,
            extension: self.ext,
            field,
            value,
        }
    }
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'s [u8]> {
        match self.at.checked_add(n) {
            Some(end) if end <= self.bytes.len() => {
                let s = &self.bytes[self.at..end];
                self.at = end;
                Ok(s)
            }
            _ => Err(self.bad(self.at, field, n as u64)),
        }
    }
    fn u8(&mut self, field: &'static str) -> Result<u8> {
        Ok(self.take(1, field)?[0])
    }
    fn u16(&mut self, field: &'static str) -> Result<u16> {
        let b = self.take(2, field)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, field: &'static str) -> Result<u32> {
        let b = self.take(4, field)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, field: &'static str) -> Result<u64> {
        let b = self.take(8, field)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    /// A `u32` count of items of at least `min` bytes each: never more than the bytes left
    /// can hold, so that no hostile count makes restore allocate much.
    fn count(&mut self, field: &'static str, min: usize) -> Result<usize> {
        let at = self.at;
        let n = self.u32(field)?;
        let left = self.bytes.len() - self.at;
        if n as usize > left / min.max(1) {
            return Err(self.bad(at, field, u64::from(n)));
        }
        Ok(n as usize)
    }
}

/// Smallest encoding of one extension (a one-byte name, nothing else).
const MIN_ENTRY: usize = 4 + 1 + 2 + 4 + 8 + 8 + 32 + 12 + 6 + 8 + 4 + 4;

/// Read and check a snapshot: format, checksum and internal consistency. Whether it fits
/// the memory it is restored into is checked by the registry and the memory backend.
pub(crate) fn decode(bytes: &[u8]) -> Result<Snapshot<'_>> {
    let mut r = Reader {
        bytes,
        at: 0,
        ext: NO_EXT,
    };
    let magic = r.take(8, "magic")?;
    if magic != MAGIC {
        let mut v = [0u8; 8];
        v.copy_from_slice(magic);
        return Err(r.bad(0, "magic", u64::from_le_bytes(v)));
    }
    let version = r.u16("format version")?;
    if version != FORMAT_VERSION {
        return Err(Error::SnapshotVersion {
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    let flags = r.u16("flags")?;
    let total = r.u32("total length")? as usize;
    if total < HEADER_LEN + 4 || total > bytes.len() {
        return Err(r.bad(12, "total length", total as u64));
    }
    // From here on, read only the snapshot, and only once its checksum holds.
    let body = &bytes[..total - 4];
    let t = &bytes[total - 4..total];
    let stored = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
    let computed = CRC32.checksum(body);
    if stored != computed {
        return Err(Error::SnapshotChecksum { stored, computed });
    }
    let mut r = Reader {
        bytes: body,
        at: r.at,
        ext: NO_EXT,
    };
    if flags & !FLAG_REGION_CRCS != 0 {
        return Err(r.bad(10, "flags", u64::from(flags)));
    }
    let code = r.u8("architecture")?;
    let arch = arch_from(code).ok_or_else(|| r.bad(16, "architecture", u64::from(code)))?;
    let mut granules = [Granule::None; 4];
    for (k, g) in granules.iter_mut().enumerate() {
        let c = r.u8("granule")?;
        *g = granule_from(c).ok_or_else(|| r.bad(17 + k, "granule", u64::from(c)))?;
    }
    for _ in 0..3 {
        let at = r.at;
        let v = r.u8("reserved")?;
        if v != 0 {
            return Err(r.bad(at, "reserved", u64::from(v)));
        }
    }
    let n = r.count("extension count", MIN_ENTRY)?;
    let v = r.u32("reserved")?;
    if v != 0 {
        return Err(r.bad(28, "reserved", u64::from(v)));
    }
    let mut entries: Vec<Entry<'_>> = Vec::with_capacity(n);
    for i in 0..n {
        r.ext = i as u32;
        let e = entry(&mut r, i, flags & FLAG_REGION_CRCS != 0)?;
        if let Some(j) = entries.iter().position(|o| o.name == e.name) {
            return Err(r.bad(
                r.at,
                "duplicate extension name (index of the first)",
                j as u64,
            ));
        }
        entries.push(e);
    }
    if r.at != body.len() {
        r.ext = NO_EXT;
        return Err(r.bad(r.at, "trailing bytes", (body.len() - r.at) as u64));
    }
    check_overlaps(&entries)?;
    Ok(Snapshot {
        arch,
        granules: Granules(granules),
        entries,
    })
}

fn entry<'s>(r: &mut Reader<'s>, index: usize, crcs: bool) -> Result<Entry<'s>> {
    let at = r.at;
    let name_len = r.count("extension name length", 1)?;
    if name_len == 0 || name_len > 255 {
        return Err(r.bad(at, "extension name length", name_len as u64));
    }
    let name = r.take(name_len, "extension name")?;
    if core::str::from_utf8(name).is_err() {
        return Err(r.bad(at + 4, "extension name (not UTF-8)", name_len as u64));
    }
    let at = r.at;
    let s = r.u8("storage")?;
    let storage = storage_from(s).ok_or_else(|| r.bad(at, "storage", u64::from(s)))?;
    let v = r.u8("reserved")?;
    if v != 0 {
        return Err(r.bad(at + 1, "reserved", u64::from(v)));
    }
    let at = r.at;
    let uses = r.u32("use count")?;
    let uses = match u16::try_from(uses) {
        Ok(u) if u > 0 => u,
        _ => return Err(r.bad(at, "use count", u64::from(uses))),
    };
    let block_at = r.at;
    let block_addr = r.u64("block address")?;
    let size = u64::from(r.u32("block size")?);
    let align_at = r.at;
    let align = u64::from(r.u32("block alignment")?);
    if !align.is_power_of_two() {
        return Err(r.bad(align_at, "block alignment", align));
    }
    let mut layout = BlockLayout {
        offsets: [0; 4],
        sizes: [0; 4],
        size,
        align,
    };
    let offsets_at = r.at;
    for o in layout.offsets.iter_mut() {
        *o = u64::from(r.u32("region offset")?);
    }
    let sizes_at = r.at;
    for s in layout.sizes.iter_mut() {
        *s = u64::from(r.u32("region size")?);
    }
    check_block(r, block_at, offsets_at, sizes_at, block_addr, &layout)?;
    let source_at = r.at;
    let source = r.u64("source address")?;
    let source_len = r.u32("source length")?;
    let in_buffer = storage != Storage::Temporary;
    let fits = usize::try_from(source).is_ok()
        && source
            .checked_add(u64::from(source_len))
            .is_some_and(|end| usize::try_from(end).is_ok());
    if in_buffer != (source != 0) || in_buffer != (source_len != 0) || !fits {
        return Err(r.bad(source_at, "source buffer", source));
    }
    let mut tables = [0u16; 3];
    for t in tables.iter_mut() {
        *t = r.u16("table length")?;
    }
    let tls_at = r.at;
    let tls = (r.u32("thread-local offset")?, r.u32("thread-local size")?);
    if u64::from(tls.0) + u64::from(tls.1) > u64::from(u32::MAX) {
        return Err(r.bad(tls_at, "thread-local range", u64::from(tls.0)));
    }
    let at = r.at;
    let n_deps = r.count("dependency count", 4)?;
    if n_deps > 255 {
        return Err(r.bad(at, "dependency count", n_deps as u64));
    }
    let mut deps = Vec::with_capacity(n_deps);
    for _ in 0..n_deps {
        let at = r.at;
        let d = r.u32("dependency index")?;
        // Dependencies are loaded before their dependents: this also rules out cycles.
        if d as usize >= index || deps.contains(&d) {
            return Err(r.bad(at, "dependency index", u64::from(d)));
        }
        deps.push(d);
    }
    let at = r.at;
    let n_exports = r.count("export count", 12)?;
    if n_exports > 0 && in_buffer {
        return Err(r.bad(
            at,
            "export count (exports of a buffer are read in place)",
            n_exports as u64,
        ));
    }
    let mut exports = Vec::with_capacity(n_exports);
    for _ in 0..n_exports {
        let addr = r.u64("export address")?;
        let at = r.at;
        let len = r.count("export name length", 1)?;
        let name = r.take(len, "export name")?;
        if len == 0 || name.contains(&0) {
            return Err(r.bad(at, "export name", len as u64));
        }
        exports.push((name, addr));
    }
    let crcs = if crcs {
        let mut c = [0u32; 4];
        for (k, v) in c.iter_mut().enumerate() {
            let at = r.at;
            *v = r.u32("region checksum")?;
            if layout.sizes[k] == 0 && *v != 0 {
                return Err(r.bad(at, "region checksum of an empty region", u64::from(*v)));
            }
        }
        Some(c)
    } else {
        None
    };
    Ok(Entry {
        name,
        storage,
        uses,
        block_addr,
        layout,
        source,
        source_len,
        tables,
        tls,
        deps,
        exports,
        crcs,
    })
}

/// A block's regions lie inside it, in kind order, apart; the block is aligned and does
/// not wrap around the address space.
fn check_block(
    r: &Reader<'_>,
    block_at: usize,
    offsets_at: usize,
    sizes_at: usize,
    addr: u64,
    l: &BlockLayout,
) -> Result<()> {
    let used: u64 = l.sizes.iter().sum();
    if l.size == 0 {
        if addr != 0 || used != 0 || l.offsets != [0; 4] {
            return Err(r.bad(block_at, "empty block", addr));
        }
        return Ok(());
    }
    if addr == 0 || addr % l.align != 0 || addr.checked_add(l.size).is_none() {
        return Err(r.bad(block_at, "block address", addr));
    }
    if used == 0 || used > l.size {
        return Err(r.bad(sizes_at, "region sizes", used));
    }
    let mut end = 0u64;
    for k in 0..4 {
        if l.sizes[k] == 0 {
            continue;
        }
        if l.offsets[k] < end || l.offsets[k] + l.sizes[k] > l.size {
            return Err(r.bad(offsets_at + 4 * k, "region offset", l.offsets[k]));
        }
        end = l.offsets[k] + l.sizes[k];
    }
    Ok(())
}

/// No two blocks share a byte.
fn check_overlaps(entries: &[Entry<'_>]) -> Result<()> {
    let mut blocks: Vec<(u64, u64, usize)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.layout.size > 0)
        .map(|(i, e)| (e.block_addr, e.block_addr + e.layout.size, i))
        .collect();
    blocks.sort_unstable();
    for w in blocks.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(Error::SnapshotOverlap {
                first: crate::error::Name::new(entries[w[0].2].name),
                second: crate::error::Name::new(entries[w[1].2].name),
                addr: w[1].0,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample() -> Snapshot<'static> {
        let layout = BlockLayout {
            offsets: [0, 64, 96, 128],
            sizes: [40, 32, 0, 32],
            size: 160,
            align: 32,
        };
        Snapshot {
            arch: Arch::Arm,
            granules: Granules([Granule::Mpu32; 4]),
            entries: vec![
                Entry {
                    name: b"a",
                    storage: Storage::Temporary,
                    uses: 2,
                    block_addr: 0x2000_0000,
                    layout,
                    source: 0,
                    source_len: 0,
                    tables: [0, 1, 0],
                    tls: (0, 0),
                    deps: vec![],
                    exports: vec![(b"f", 0x2000_0001), (b"g", 0x2000_0040)],
                    crcs: Some([1, 2, 0, 3]),
                },
                Entry {
                    name: b"bb",
                    storage: Storage::Persistent,
                    uses: 1,
                    block_addr: 0x2000_0100,
                    layout,
                    source: 0x0800_0000,
                    source_len: 900,
                    tables: [0; 3],
                    tls: (8, 16),
                    deps: vec![0],
                    exports: vec![],
                    crcs: Some([4, 5, 0, 6]),
                },
            ],
        }
    }

    #[test]
    fn round_trip() {
        let s = sample();
        let bytes = encode(&s).unwrap();
        let back = decode(&bytes).unwrap();
        assert_eq!(back.arch, s.arch);
        assert_eq!(back.granules, s.granules);
        assert_eq!(back.entries, s.entries);
        // Trailing bytes after the snapshot are ignored.
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0xff; 7]);
        assert_eq!(decode(&longer).unwrap().entries, s.entries);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_an_error() {
        let bytes = encode(&sample()).unwrap();
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "truncated to {len}");
        }
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(decode(&b).is_err(), "bit {bit} flipped");
        }
    }

    #[test]
    fn overlapping_blocks_are_refused() {
        let mut s = sample();
        s.entries[1].block_addr = 0x2000_0080;
        let bytes = encode(&s).unwrap();
        assert!(matches!(
            decode(&bytes),
            Err(Error::SnapshotOverlap {
                addr: 0x2000_0080,
                ..
            })
        ));
    }
}
