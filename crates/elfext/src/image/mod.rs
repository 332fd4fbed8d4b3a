//! Prelinked images: an extension linked on a host for fixed target addresses, whose TEXT
//! and RODATA execute in place from flash and whose DATA and BSS go to a given RAM address.
//!
//! [`prelink`] links a relocatable object with the same planner and relocation code as a
//! load (every architecture, veneers, GOT, RISC-V alignment trimming), against the
//! firmware's [`Exports`](crate::Exports) at their fixed addresses, and writes an image.
//! [`Registry::load_image`](crate::Registry::load_image) takes the image where it lies
//! (flashed, or mapped on a host) without relocating anything: it checks the image, claims
//! the DATA+BSS range at its address ([`Memory::claim_block`](crate::Memory::claim_block)),
//! copies DATA, zeroes BSS and records the exports. The extension is then like any other
//! (symbols, functions, `bringup`/`teardown`, use counts, unload, snapshots).
//!
//! The init/fini tables of an image are the first bytes of its DATA (in RAM), where
//! [`Extension::bringup`](crate::Extension::bringup) and `teardown` find them.
//!
//! An image lists the firmware symbols it was linked against (its imports) with their
//! addresses; loading checks each against the registry's exports, so an image prelinked for
//! another firmware build is refused instead of jumping to wrong addresses.
//!
//! # Format, version 1
//!
//! Little-endian, fixed-width, no host pointers: a 64-bit host writes the image that a
//! 32-bit target reads. Addresses are `u64`, lengths and offsets `u32`.
//!
//! ```text
//! header (80 bytes)
//!   0  magic            8 bytes  "ELFXIMAG"
//!   8  version          u16      1
//!  10  architecture     u8       0 x86-64, 1 ARM, 2 AArch64, 3 RV32, 4 RV64
//!  11  reserved         u8       0
//!  12  text offset      u32      where the text bytes start in the image (a multiple of
//!                                their alignment): the image must be placed at
//!                                text address - text offset
//!  16  total length     u32      bytes of the whole image
//!  20  checksum         u32      CRC-32 (ISO-HDLC, as zlib) of the `total length` bytes,
//!                                this field read as 0
//!  24  text address     u64      where TEXT then RODATA run (flash)
//!  32  text length      u32
//!  36  data length      u32      initialized DATA bytes (init/fini tables first)
//!  40  data address     u64      where DATA then BSS live (RAM)
//!  48  BSS offset       u32      from the data address (at least the data length)
//!  52  BSS length       u32
//!  56  data alignment   u32      power of two; the data address is a multiple of it
//!  60  table lengths    3 x u16  entries of the preinit, init and fini tables
//!  66  reserved         u16      0
//!  68  exports          u32      count
//!  72  imports          u32      count
//!  76  reserved         u32      0
//! exports, then imports (16 bytes each): address u64, name offset u32 (from the first name
//!     byte), name length u32; then the names, back to back; zeros up to the text offset
//! text bytes (text length), then data bytes (data length)
//! ```
//!
//! An image may be followed by unrelated bytes (a fixed-size flash slot): only `total
//! length` bytes are read.
//!
//! # Limits
//!
//! An image links only against the exports given to [`prelink`], not against other loaded
//! extensions, and thread-local sections are refused (there is no thread-local area to
//! place them in at prelink time).

mod prelink;

pub use prelink::{object_arch, prelink, PrelinkOptions};

use crate::arch::Arch;
use crate::error::{Error, ImageAddressProblem, Result};
use crate::snapshot::Checksum;

/// The image format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 1;

/// The first bytes of every image.
pub const MAGIC: [u8; 8] = *b"ELFXIMAG";

/// Bytes of the fixed header.
pub const HEADER_LEN: usize = 80;

/// Bytes of one export entry.
const EXPORT_LEN: usize = 16;

/// Byte offset of the checksum in the header.
const CRC_AT: usize = 20;

/// Whether `bytes` start like an image (its magic); [`Image::parse`] checks the rest.
pub fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// A checked view of a prelinked image.
#[derive(Clone, Copy, Debug)]
pub struct Image<'a> {
    bytes: &'a [u8],
    arch: Arch,
    text_off: u32,
    text_addr: u64,
    text_len: u32,
    data_addr: u64,
    data_len: u32,
    bss_off: u32,
    bss_len: u32,
    data_align: u32,
    tables: [u16; 3],
    n_exports: u32,
    n_imports: u32,
}

/// Little-endian field reads of a checked length.
fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32_at(b, at)) | u64::from(u32_at(b, at + 4)) << 32
}

fn bad(offset: usize, field: &'static str, value: u64) -> Error {
    Error::BadImage {
        offset: offset as u64,
        field,
        value,
    }
}

/// CRC-32 of an image's `total` bytes with the checksum field read as 0.
fn checksum(bytes: &[u8]) -> u32 {
    let mut d = Checksum::new();
    d.update(&bytes[..CRC_AT]);
    d.update(&[0; 4]);
    d.update(&bytes[CRC_AT + 4..]);
    d.finalize()
}

/// One past the highest address of `arch`'s address space.
fn address_space(arch: Arch) -> u128 {
    1u128 << (8 * u32::from(arch.word_size()))
}

impl<'a> Image<'a> {
    /// Check `bytes` as an image: magic, version, checksum, every length and address, and
    /// that TEXT does not overlap DATA+BSS.
    pub fn parse(bytes: &'a [u8]) -> Result<Self> {
        if bytes.len() < HEADER_LEN {
            if !is_image(bytes) && bytes.len() >= MAGIC.len() {
                return Err(bad(0, "magic (not an elfext image)", u64_at(bytes, 0)));
            }
            return Err(bad(
                bytes.len(),
                "length (shorter than the header: truncated)",
                bytes.len() as u64,
            ));
        }
        if !is_image(bytes) {
            return Err(bad(0, "magic (not an elfext image)", u64_at(bytes, 0)));
        }
        let version = u16_at(bytes, 8);
        if version != FORMAT_VERSION {
            return Err(bad(
                8,
                "format version (this build reads version 1)",
                u64::from(version),
            ));
        }
        let total = u32_at(bytes, 16) as usize;
        if total < HEADER_LEN || total > bytes.len() {
            return Err(bad(
                16,
                "total length (more than the bytes given: truncated?)",
                total as u64,
            ));
        }
        let bytes = &bytes[..total];
        let stored = u32_at(bytes, CRC_AT);
        let computed = checksum(bytes);
        if stored != computed {
            return Err(Error::ImageChecksum { stored, computed });
        }
        let code = bytes[10];
        let arch = Arch::from_code(code).ok_or_else(|| bad(10, "architecture", u64::from(code)))?;
        let img = Image {
            bytes,
            arch,
            text_off: u32_at(bytes, 12),
            text_addr: u64_at(bytes, 24),
            text_len: u32_at(bytes, 32),
            data_len: u32_at(bytes, 36),
            data_addr: u64_at(bytes, 40),
            bss_off: u32_at(bytes, 48),
            bss_len: u32_at(bytes, 52),
            data_align: u32_at(bytes, 56),
            tables: [u16_at(bytes, 60), u16_at(bytes, 62), u16_at(bytes, 64)],
            n_exports: u32_at(bytes, 68),
            n_imports: u32_at(bytes, 72),
        };
        img.check()?;
        Ok(img)
    }

    fn check(&self) -> Result<()> {
        let listed = u64::from(self.n_exports) + u64::from(self.n_imports);
        let names = (HEADER_LEN as u64).saturating_add(listed * EXPORT_LEN as u64);
        let text_off = u64::from(self.text_off);
        if text_off < names || text_off > self.bytes.len() as u64 {
            return Err(bad(
                12,
                "text offset (inside the header or past the end)",
                text_off,
            ));
        }
        let end = text_off + u64::from(self.text_len) + u64::from(self.data_len);
        if end != self.bytes.len() as u64 {
            return Err(bad(
                16,
                "total length (not text offset + text length + data length)",
                self.bytes.len() as u64,
            ));
        }
        if self.bss_off < self.data_len {
            return Err(bad(48, "BSS offset (inside DATA)", u64::from(self.bss_off)));
        }
        if !self.data_align.is_power_of_two() {
            return Err(bad(
                56,
                "data alignment (not a power of two)",
                u64::from(self.data_align),
            ));
        }
        if self.data_addr % u64::from(self.data_align) != 0 {
            return Err(bad(
                40,
                "data address (not a multiple of the data alignment)",
                self.data_addr,
            ));
        }
        let word = u64::from(self.arch.word_size());
        let entries: u64 = self.tables.iter().map(|&n| u64::from(n)).sum();
        if entries * word > u64::from(self.data_len) {
            return Err(bad(
                60,
                "init/fini table lengths (more than DATA holds)",
                entries,
            ));
        }
        let space = address_space(self.arch);
        let (text_start, text_end) = self.text_range();
        if u128::from(self.text_addr) + u128::from(self.text_len) > space {
            return Err(bad(
                24,
                "text address (its range ends beyond the address space)",
                self.text_addr,
            ));
        }
        let ram = u128::from(self.data_addr) + u128::from(self.bss_off) + u128::from(self.bss_len);
        if ram > space {
            return Err(bad(
                40,
                "data address (its range ends beyond the address space)",
                self.data_addr,
            ));
        }
        let (data_start, data_end) = self.ram_range();
        if text_start < text_end
            && data_start < data_end
            && text_start < data_end
            && data_start < text_end
        {
            return Err(Error::ImageOverlap {
                text_start,
                text_end,
                data_start,
                data_end,
            });
        }
        let names_len = text_off - names;
        for i in 0..listed as usize {
            let at = HEADER_LEN + EXPORT_LEN * i;
            let off = u64::from(u32_at(self.bytes, at + 8));
            let len = u64::from(u32_at(self.bytes, at + 12));
            if len == 0 || off + len > names_len {
                return Err(bad(
                    at + 8,
                    "export or import name (outside the names)",
                    off,
                ));
            }
        }
        Ok(())
    }

    /// The architecture it is linked for.
    pub fn arch(&self) -> Arch {
        self.arch
    }

    /// Length of the image in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the image is empty (never: a checked image has at least its header).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Where the text bytes start in the image.
    pub fn text_offset(&self) -> u64 {
        u64::from(self.text_off)
    }

    /// Target address the image must be placed at (flashed or mapped) for its text to be at
    /// [`text_addr`](Self::text_addr).
    pub fn image_addr(&self) -> u64 {
        self.text_addr.wrapping_sub(u64::from(self.text_off))
    }

    /// Target address of TEXT (then RODATA).
    pub fn text_addr(&self) -> u64 {
        self.text_addr
    }

    /// The TEXT and RODATA bytes, as they must be at the text address.
    pub fn text(&self) -> &'a [u8] {
        let at = self.text_off as usize;
        &self.bytes[at..at + self.text_len as usize]
    }

    /// `[start, end)` of TEXT and RODATA at their target address.
    pub fn text_range(&self) -> (u64, u64) {
        (
            self.text_addr,
            self.text_addr.saturating_add(u64::from(self.text_len)),
        )
    }

    /// Target address of DATA (then BSS).
    pub fn data_addr(&self) -> u64 {
        self.data_addr
    }

    /// The initial DATA bytes (the init/fini tables first).
    pub fn data(&self) -> &'a [u8] {
        let at = self.text_off as usize + self.text_len as usize;
        &self.bytes[at..at + self.data_len as usize]
    }

    /// Target address of BSS.
    pub fn bss_addr(&self) -> u64 {
        self.data_addr.saturating_add(u64::from(self.bss_off))
    }

    /// Bytes of BSS.
    pub fn bss_len(&self) -> u64 {
        u64::from(self.bss_len)
    }

    /// `[start, end)` of DATA and BSS at their target address: the RAM the image needs.
    pub fn ram_range(&self) -> (u64, u64) {
        (
            self.data_addr,
            self.bss_addr().saturating_add(u64::from(self.bss_len)),
        )
    }

    /// Alignment of the DATA+BSS range.
    pub fn data_align(&self) -> u64 {
        u64::from(self.data_align)
    }

    /// Entries of the preinit, init and fini tables (at the start of DATA).
    pub fn table_lengths(&self) -> [u16; 3] {
        self.tables
    }

    /// Number of exported symbols.
    pub fn export_count(&self) -> usize {
        self.n_exports as usize
    }

    /// The exported symbols: name and target address.
    pub fn exports(&self) -> impl Iterator<Item = (&'a [u8], u64)> + '_ {
        self.entries(0, self.n_exports as usize)
    }

    /// The firmware symbols it was linked against: name and the address it was linked for.
    pub fn imports(&self) -> impl Iterator<Item = (&'a [u8], u64)> + '_ {
        self.entries(self.n_exports as usize, self.n_imports as usize)
    }

    /// Export or import entries `first..first + n`.
    fn entries(&self, first: usize, n: usize) -> impl Iterator<Item = (&'a [u8], u64)> + '_ {
        let all = self.n_exports as usize + self.n_imports as usize;
        let names = HEADER_LEN + EXPORT_LEN * all;
        let bytes = self.bytes;
        (first..first + n).map(move |i| {
            let at = HEADER_LEN + EXPORT_LEN * i;
            let addr = u64_at(bytes, at);
            let off = u32_at(bytes, at + 8) as usize;
            let len = u32_at(bytes, at + 12) as usize;
            (&bytes[names + off..names + off + len], addr)
        })
    }

    /// Target address of the export `name`.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.exports()
            .find(|(n, _)| *n == name.as_bytes())
            .map(|(_, a)| a)
    }
}

/// What an image holds, to be written by [`encode`].
pub(crate) struct Parts<'p> {
    pub arch: Arch,
    pub text_addr: u64,
    pub text: &'p [u8],
    pub text_align: u64,
    pub data_addr: u64,
    pub data: &'p [u8],
    pub bss_off: u64,
    pub bss_len: u64,
    pub data_align: u64,
    pub tables: [u16; 3],
    pub exports: &'p [(&'p [u8], u64)],
    pub imports: &'p [(&'p [u8], u64)],
}

fn field(what: &'static str, value: u64) -> Result<u32> {
    u32::try_from(value).map_err(|_| Error::TooLarge {
        what,
        value,
        limit: u64::from(u32::MAX),
    })
}

/// Write an image.
pub(crate) fn encode(p: &Parts<'_>) -> Result<alloc::vec::Vec<u8>> {
    let entries = || p.exports.iter().chain(p.imports);
    let names_at = HEADER_LEN + EXPORT_LEN * (p.exports.len() + p.imports.len());
    let names_len: usize = entries().map(|(n, _)| n.len()).sum();
    let text_off = ((names_at + names_len) as u64).next_multiple_of(p.text_align.max(16));
    let text_off = field("image header", text_off)?;
    let total = u64::from(text_off) + p.text.len() as u64 + p.data.len() as u64;
    let total = field("image", total)?;
    let mut out = alloc::vec::Vec::with_capacity(total as usize);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.push(Arch::code(p.arch));
    out.push(0);
    out.extend_from_slice(&text_off.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&p.text_addr.to_le_bytes());
    out.extend_from_slice(&field("text", p.text.len() as u64)?.to_le_bytes());
    out.extend_from_slice(&field("data", p.data.len() as u64)?.to_le_bytes());
    out.extend_from_slice(&p.data_addr.to_le_bytes());
    out.extend_from_slice(&field("BSS offset", p.bss_off)?.to_le_bytes());
    out.extend_from_slice(&field("BSS", p.bss_len)?.to_le_bytes());
    out.extend_from_slice(&field("data alignment", p.data_align)?.to_le_bytes());
    for t in p.tables {
        out.extend_from_slice(&t.to_le_bytes());
    }
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&field("exports", p.exports.len() as u64)?.to_le_bytes());
    out.extend_from_slice(&field("imports", p.imports.len() as u64)?.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut off = 0u64;
    for (name, addr) in entries() {
        out.extend_from_slice(&addr.to_le_bytes());
        out.extend_from_slice(&field("export names", off)?.to_le_bytes());
        out.extend_from_slice(&field("export name", name.len() as u64)?.to_le_bytes());
        off += name.len() as u64;
    }
    for (name, _) in entries() {
        out.extend_from_slice(name);
    }
    out.resize(text_off as usize, 0);
    out.extend_from_slice(p.text);
    out.extend_from_slice(p.data);
    let crc = checksum(&out);
    out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// Check that `addr` is a multiple of `align` and that `len` bytes from it stay inside
/// `arch`'s address space.
pub(crate) fn check_address(
    arch: Arch,
    what: &'static str,
    addr: u64,
    align: u64,
    len: u64,
) -> Result<()> {
    if addr % align.max(1) != 0 {
        return Err(Error::ImageAddress {
            what,
            addr,
            problem: ImageAddressProblem::Misaligned(align),
        });
    }
    let end = u128::from(addr) + u128::from(len);
    if end > address_space(arch) {
        return Err(Error::ImageAddress {
            what,
            addr,
            problem: ImageAddressProblem::TooHigh(end.min(u128::from(u64::MAX)) as u64),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn sample() -> Vec<u8> {
        let text = [0x90u8; 40];
        let data = [1u8, 0, 0, 0, 2, 0, 0, 0];
        encode(&Parts {
            arch: Arch::Arm,
            text_addr: 0x0800_1000,
            text: &text,
            text_align: 4,
            data_addr: 0x2000_0000,
            data: &data,
            bss_off: 8,
            bss_len: 16,
            data_align: 4,
            tables: [0, 1, 0],
            exports: &[(b"run", 0x0800_1001), (b"counter", 0x2000_0004)],
            imports: &[(b"printf", 0x0000_0401)],
        })
        .unwrap()
    }

    #[test]
    fn round_trip() {
        let bytes = sample();
        let img = Image::parse(&bytes).unwrap();
        assert_eq!(img.arch(), Arch::Arm);
        assert_eq!(img.text_addr(), 0x0800_1000);
        assert_eq!(img.text(), &[0x90u8; 40]);
        assert_eq!(img.data(), &[1u8, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(img.ram_range(), (0x2000_0000, 0x2000_0018));
        assert_eq!(img.table_lengths(), [0, 1, 0]);
        assert_eq!(img.symbol("counter"), Some(0x2000_0004));
        assert_eq!(img.symbol("run"), Some(0x0800_1001));
        assert_eq!(img.imports().collect::<Vec<_>>(), [(&b"printf"[..], 0x401)]);
        assert_eq!(img.image_addr(), 0x0800_1000 - img.text_offset());
        assert_eq!(img.text_offset() % 16, 0);
    }

    #[test]
    fn every_truncation_and_bit_flip_is_refused() {
        let bytes = sample();
        for n in 0..bytes.len() {
            assert!(Image::parse(&bytes[..n]).is_err(), "truncated to {n}");
        }
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                assert!(Image::parse(&b).is_err(), "bit {bit} of byte {i}");
            }
        }
    }

    #[test]
    fn overlapping_ranges_are_refused_even_with_a_good_checksum() {
        let text = [0u8; 64];
        let bytes = encode(&Parts {
            arch: Arch::Riscv32,
            text_addr: 0x8000_0000,
            text: &text,
            text_align: 4,
            data_addr: 0x8000_0020,
            data: &[],
            bss_off: 0,
            bss_len: 16,
            data_align: 4,
            tables: [0; 3],
            exports: &[],
            imports: &[],
        })
        .unwrap();
        assert!(matches!(
            Image::parse(&bytes),
            Err(Error::ImageOverlap {
                text_start: 0x8000_0000,
                text_end: 0x8000_0040,
                ..
            })
        ));
    }

    #[test]
    fn ranges_beyond_a_32_bit_address_space_are_refused() {
        let bytes = encode(&Parts {
            arch: Arch::Arm,
            text_addr: 0xffff_fff0,
            text: &[0u8; 32],
            text_align: 4,
            data_addr: 0x2000_0000,
            data: &[],
            bss_off: 0,
            bss_len: 0,
            data_align: 4,
            tables: [0; 3],
            exports: &[],
            imports: &[],
        })
        .unwrap();
        assert!(matches!(
            Image::parse(&bytes),
            Err(Error::BadImage { offset: 24, .. })
        ));
    }
}
