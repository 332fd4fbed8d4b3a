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
//! # Format, version 2
//!
//! Little-endian, fixed-width, no host pointers: the same bytes are written by a 64-bit
//! host linking for a target and read by that 32-bit target. The registry's bookkeeping is
//! one metadata record per extension (see below); a snapshot stores those records as they
//! are, so restoring copies them back instead of rebuilding them, and checks them field by
//! field.
//!
//! ```text
//! header (32 bytes)
//!   0  magic            8 bytes  "ELFXSNAP"
//!   8  version          u16      2
//!  10  flags            u16      bit 0: every extension carries region checksums
//!  12  total length     u32      bytes of the whole snapshot, checksum included
//!  16  architecture     u8       0 x86-64, 1 ARM, 2 AArch64, 3 RV32, 4 RV64
//!  17  granules         4 x u8   TEXT, RODATA, DATA, BSS: 0 none, 1 Mpu32, 2 MpuPow2, 3 Page4K
//!  21  reserved         3 bytes  0
//!  24  extensions       u32      count
//!  28  reserved         u32      0
//! per extension, in registry order (oldest first)
//!      record address   u64      where the record was (0: anywhere; restore puts it back
//!                                there when the memory can claim records, see
//!                                `Memory::claims_meta`)
//!      record length    u32      a multiple of 8, at least 56
//!      reserved         u32      0
//!      record           the metadata record, below
//!      region checksums (only with header flag bit 0): 4 x u32, CRC-32 of each region's
//!          bytes (0 for an empty region)
//! trailer
//!      CRC-32 (ISO-HDLC, as zlib) of every byte before it, u32
//! ```
//!
//! A record (the registry's own layout, the same on every machine):
//!
//! ```text
//!   0  source address   u64      the caller's buffer (persistent, writable), else 0
//!   8  block address    u64      0 when the extension has no block
//!  16  region sizes     4 x u32  TEXT, RODATA, DATA, BSS
//!  32  block size       u32
//!  36  length           u32      source buffer length, or the export count (temporary)
//!  40  next             i32      0 in a snapshot
//!  44  tables           3 x u16  preinit, init and fini entries
//!  50  use count        u16      1..=65535
//!  52  dependencies     u8       count
//!  53  name length      u8       1..=255
//!  54  flags            u8       bits 0-1 storage (0 temporary, 1 persistent, 2 writable),
//!                                bit 2 thread-local range follows, bit 3 region offsets follow
//!  55  alignment        u8       log2 of the block's alignment
//!  56  name             UTF-8, unique among the extensions; then zeros to a multiple of 4
//!      dependencies     u32 each: the index of an earlier extension of this snapshot
//!      thread-local range (bit 2): offset u32, size u32
//!      region offsets (bit 3): 4 x u32 (else regions lie end to end from offset 0)
//!      exports (temporary storage only), 8-aligned: address u64, FNV-1a hash of the name
//!          u32, name offset u32; sorted by hash
//!      export names, each NUL-terminated, back to back; zeros to a multiple of 8
//! ```
//!
//! Extensions loaded from persistent or writable buffers keep no export list: their exports
//! are read from their own symbol table in the buffer, as while they were loaded, so the
//! buffer must still be in place (see the safety contract of `restore`).
//!
//! A snapshot may be followed by unrelated bytes (a fixed-size flash slot): only `total
//! length` bytes are read.
//!
//! Version 1 (extensions described field by field, records rebuilt on restore) is no longer
//! read: restore refuses it with [`Error::SnapshotVersion`].

use alloc::vec::Vec;

#[cfg(not(feature = "std"))]
use crc::{Crc, Table, CRC_32_ISO_HDLC};

use crate::arch::Arch;
use crate::error::{Error, Result};
use crate::layout::{Granule, Granules};
use crate::registry::record::{check_stored, Stored};

/// The snapshot format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 2;

/// The first bytes of every snapshot.
pub const MAGIC: [u8; 8] = *b"ELFXSNAP";

/// Bytes of the header.
pub const HEADER_LEN: usize = 32;

const FLAG_REGION_CRCS: u16 = 1;
const NO_EXT: u32 = u32::MAX;

/// The CRC-32 snapshots and region checksums use (ISO-HDLC, as zlib's `crc32`). Hosted
/// builds use `crc32fast` (carry-less multiplication where the CPU has it); bare-metal
/// builds a 1 KiB table, or 16 KiB of tables with the `fast-crc` feature (1.5 times faster
/// on the RV32 board, at the cost of that flash).
pub fn checksum(bytes: &[u8]) -> u32 {
    #[cfg(feature = "std")]
    {
        crc32fast::hash(bytes)
    }
    #[cfg(not(feature = "std"))]
    {
        CRC32.checksum(bytes)
    }
}

/// The same CRC-32 over bytes given in pieces.
pub(crate) struct Checksum {
    #[cfg(feature = "std")]
    h: crc32fast::Hasher,
    #[cfg(not(feature = "std"))]
    d: crc::Digest<'static, u32, CrcTable>,
}

/// Bare-metal table: 1 KiB, or 16 KiB (slice-by-16) with the `fast-crc` feature.
#[cfg(all(not(feature = "std"), not(feature = "fast-crc")))]
type CrcTable = Table<1>;
#[cfg(all(not(feature = "std"), feature = "fast-crc"))]
type CrcTable = Table<16>;

#[cfg(not(feature = "std"))]
static CRC32: Crc<u32, CrcTable> = Crc::<u32, CrcTable>::new(&CRC_32_ISO_HDLC);

impl Checksum {
    /// Nothing summed yet.
    pub fn new() -> Self {
        Checksum {
            #[cfg(feature = "std")]
            h: crc32fast::Hasher::new(),
            #[cfg(not(feature = "std"))]
            d: CRC32.digest(),
        }
    }
    /// Add `bytes`.
    pub fn update(&mut self, bytes: &[u8]) {
        #[cfg(feature = "std")]
        self.h.update(bytes);
        #[cfg(not(feature = "std"))]
        self.d.update(bytes);
    }
    /// The checksum.
    pub fn finalize(self) -> u32 {
        #[cfg(feature = "std")]
        return self.h.finalize();
        #[cfg(not(feature = "std"))]
        return self.d.finalize();
    }
}

/// What [`Registry::save`](crate::Registry::save) writes besides the bookkeeping.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaveOptions {
    /// Save a CRC-32 of each region's bytes, which `restore` then verifies (16 bytes per
    /// extension, and a pass over all region bytes on save and on restore).
    pub region_checksums: bool,
}

/// One extension as a snapshot describes it.
pub(crate) struct Entry<'s> {
    /// Its record, checked.
    pub record: Stored<'s>,
    /// Where the record was (0: anywhere).
    pub record_addr: u64,
    /// Region checksums, when saved.
    pub crcs: Option<[u32; 4]>,
}

/// A decoded (and checked) snapshot.
pub(crate) struct Snapshot<'s> {
    pub arch: Arch,
    pub granules: Granules,
    pub entries: Vec<Entry<'s>>,
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

fn u32_of(what: &'static str, v: u64) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::TooLarge {
        what,
        value: v,
        limit: u64::from(u32::MAX),
    })
}

/// Writes a snapshot, one extension at a time.
pub(crate) struct Writer {
    out: Vec<u8>,
    crcs: bool,
}

impl Writer {
    /// Start a snapshot of `count` extensions.
    pub fn new(arch: Arch, granules: Granules, count: usize, crcs: bool) -> Result<Self> {
        let mut out = Vec::with_capacity(HEADER_LEN + 128 * count + 4);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        let flags = if crcs { FLAG_REGION_CRCS } else { 0 };
        out.extend_from_slice(&flags.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes()); // total length, patched by `finish`
        out.push(Arch::code(arch));
        for g in granules.0 {
            out.push(granule_code(g));
        }
        out.extend_from_slice(&[0; 3]);
        out.extend_from_slice(&u32_of("extension count", count as u64)?.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        Ok(Writer { out, crcs })
    }

    /// Add an extension: its record (written by `record`, which appends the image and
    /// returns) and its region checksums.
    pub fn entry(
        &mut self,
        record_addr: u64,
        record: impl FnOnce(&mut Vec<u8>) -> Result<()>,
        crcs: [u32; 4],
    ) -> Result<()> {
        self.out.extend_from_slice(&record_addr.to_le_bytes());
        let len_at = self.out.len();
        self.out.extend_from_slice(&[0; 8]);
        let start = self.out.len();
        record(&mut self.out)?;
        let len = u32_of("record length", (self.out.len() - start) as u64)?;
        self.out[len_at..len_at + 4].copy_from_slice(&len.to_le_bytes());
        if self.crcs {
            for c in crcs {
                self.out.extend_from_slice(&c.to_le_bytes());
            }
        }
        Ok(())
    }

    /// The snapshot, with its length and checksum.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        let total = u32_of("snapshot length", self.out.len() as u64 + 4)?;
        self.out[12..16].copy_from_slice(&total.to_le_bytes());
        let crc = checksum(&self.out);
        self.out.extend_from_slice(&crc.to_le_bytes());
        Ok(self.out)
    }
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

/// Smallest encoding of one extension (address, length, reserved, a 56-byte header and a
/// one-byte name, padded).
const MIN_ENTRY: usize = 16 + 64;

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
    let computed = checksum(body);
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
    let arch = Arch::from_code(code).ok_or_else(|| r.bad(16, "architecture", u64::from(code)))?;
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
    let crcs = flags & FLAG_REGION_CRCS != 0;
    let mut entries: Vec<Entry<'_>> = Vec::with_capacity(n);
    for i in 0..n {
        r.ext = i as u32;
        let record_addr = r.u64("record address")?;
        let at = r.at;
        let len = r.u32("record length")? as usize;
        let v = r.u32("reserved")?;
        if v != 0 {
            return Err(r.bad(at + 4, "reserved", u64::from(v)));
        }
        let base = r.at;
        let bytes = r.take(len, "record")?;
        let record = check_stored(bytes, i)
            .map_err(|(off, field, value)| r.bad(base + off, field, value))?;
        if record_addr % 8 != 0 {
            return Err(r.bad(at - 8, "record address", record_addr));
        }
        let crcs = if crcs {
            let mut c = [0u32; 4];
            for (k, v) in c.iter_mut().enumerate() {
                let at = r.at;
                *v = r.u32("region checksum")?;
                if record.layout.sizes[k] == 0 && *v != 0 {
                    return Err(r.bad(at, "region checksum of an empty region", u64::from(*v)));
                }
            }
            Some(c)
        } else {
            None
        };
        if let Some(j) = entries
            .iter()
            .position(|o| o.record.name() == record.name())
        {
            return Err(r.bad(
                base + 56,
                "duplicate extension name (index of the first)",
                j as u64,
            ));
        }
        entries.push(Entry {
            record,
            record_addr,
            crcs,
        });
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

/// No two blocks or records share a byte.
fn check_overlaps(entries: &[Entry<'_>]) -> Result<()> {
    let mut ranges: Vec<(u64, u64, usize)> = Vec::with_capacity(2 * entries.len());
    for (i, e) in entries.iter().enumerate() {
        let h = &e.record.header;
        if e.record.layout.size > 0 {
            ranges.push((h.block_addr, h.block_addr + e.record.layout.size, i));
        }
        if e.record_addr != 0 {
            let end = e
                .record_addr
                .checked_add(e.record.bytes.len() as u64)
                .ok_or(Error::BadSnapshot {
                    offset: 0,
                    extension: i as u32,
                    field: "record address",
                    value: e.record_addr,
                })?;
            ranges.push((e.record_addr, end, i));
        }
    }
    ranges.sort_unstable();
    for w in ranges.windows(2) {
        if w[1].0 < w[0].1 {
            return Err(Error::SnapshotOverlap {
                first: crate::error::Name::from(entries[w[0].2].record.name()),
                second: crate::error::Name::from(entries[w[1].2].record.name()),
                addr: w[1].0,
            });
        }
    }
    Ok(())
}
