//! Layout: which section goes to which region, and which is used in place. A plan only;
//! nothing is allocated or copied here.
//!
//! An extension occupies one block of the extension heap, cut into four sub-regions in this
//! order, each rounded to the protection granule of its kind:
//!
//! ```text
//! TEXT   = [PREINIT | INIT | FINI arrays] [text sections] [GOT] [veneers]   (read + execute)
//! RODATA = [read-only sections]                                            (read)
//! DATA   = [writable sections]                                             (read + write)
//! BSS    = [NOBITS sections] [common symbols]                              (read + write)
//! ```
//!
//! The init/fini tables and the GOT are written only while linking, so they share the
//! text region's protection. Sections used in place do not appear in the block at all.

use alloc::vec::Vec;
use core::fmt;

use object::elf;
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::LittleEndian as LE;

use crate::elf::Object;
use crate::error::{Error, Result};
use crate::loader::Storage;

/// The kinds of memory an extension occupies; the first four are its regions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegionKind {
    /// Code, init/fini tables, GOT and veneers: read + execute after linking.
    Text = 0,
    /// Read-only data.
    Rodata = 1,
    /// Initialized writable data.
    Data = 2,
    /// Zero-initialized writable data.
    Bss = 3,
    /// The loader's own bookkeeping (never rounded to a protection granule).
    Metadata = 4,
}

impl RegionKind {
    /// The four region kinds, in block order.
    pub const REGIONS: [RegionKind; 4] = [
        RegionKind::Text,
        RegionKind::Rodata,
        RegionKind::Data,
        RegionKind::Bss,
    ];
}

impl fmt::Display for RegionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RegionKind::Text => "TEXT",
            RegionKind::Rodata => "RODATA",
            RegionKind::Data => "DATA",
            RegionKind::Bss => "BSS",
            RegionKind::Metadata => "metadata",
        })
    }
}

/// Protection granule: how a region's size and start are rounded so that a memory
/// protection unit or MMU can cover exactly that region.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Granule {
    /// No rounding.
    None,
    /// ARMv8-M style MPU: start and size multiples of 32 bytes.
    Mpu32,
    /// ARMv7-M style MPU: size a power of two (at least 32), start aligned to the size.
    MpuPow2,
    /// 4 KiB pages.
    Page4K,
}

impl Granule {
    /// Rounded size and required alignment of a region of `size` bytes (0 stays 0).
    pub fn round(self, size: u64) -> (u64, u64) {
        if size == 0 {
            return (0, 1);
        }
        match self {
            Granule::None => (size, 1),
            Granule::Mpu32 => (size.div_ceil(32) * 32, 32),
            Granule::MpuPow2 => {
                let s = size.max(32).next_power_of_two();
                (s, s)
            }
            Granule::Page4K => (size.div_ceil(4096) * 4096, 4096),
        }
    }
}

/// The protection granule of each region kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Granules(pub [Granule; 4]);

impl Granules {
    /// No protection: regions are packed.
    pub const NONE: Granules = Granules([Granule::None; 4]);
    /// 32-byte MPU regions.
    pub const MPU32: Granules = Granules([Granule::Mpu32; 4]);
    /// Power-of-two MPU regions.
    pub const MPU_POW2: Granules = Granules([Granule::MpuPow2; 4]);
    /// 4 KiB pages.
    pub const PAGES: Granules = Granules([Granule::Page4K; 4]);

    /// The granule of `kind` (metadata is never rounded).
    pub fn of(&self, kind: RegionKind) -> Granule {
        match kind {
            RegionKind::Metadata => Granule::None,
            k => self.0[k as usize],
        }
    }
}

/// Where the four regions sit inside one block.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlockLayout {
    /// Offset of each region in the block.
    pub offsets: [u64; 4],
    /// Size of each region, rounded to its granule.
    pub sizes: [u64; 4],
    /// Size of the whole block.
    pub size: u64,
    /// Alignment of the block.
    pub align: u64,
}

impl BlockLayout {
    /// Arrange regions of `raw` bytes with alignments `align` under `granules`.
    pub fn arrange(raw: [u64; 4], align: [u64; 4], granules: &Granules) -> Self {
        let mut l = BlockLayout {
            align: 1,
            ..Default::default()
        };
        let mut cursor = 0u64;
        for k in 0..4 {
            let (size, galign) = granules.0[k].round(raw[k]);
            if size == 0 {
                l.offsets[k] = cursor;
                continue;
            }
            let a = align[k].max(galign).max(1);
            let off = cursor.next_multiple_of(a);
            l.offsets[k] = off;
            l.sizes[k] = size;
            cursor = off + size;
            l.align = l.align.max(a);
        }
        l.size = cursor;
        l
    }

    /// Bytes of the block not covered by any region (alignment between regions).
    pub fn padding(&self) -> u64 {
        self.size - self.sizes.iter().sum::<u64>()
    }
}

/// Where one section lives once loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// Not loaded (not allocated, or dropped such as `.eh_frame`).
    Skip,
    /// Copied (or zeroed) into the block, at this offset of its region.
    Block(RegionKind, u64),
    /// Used where it is in the caller's buffer.
    InBuffer,
    /// Thread-local (`.tdata`, `.tbss`): at this offset of the extension's TLS range.
    Tls(u64),
}

/// Which init/fini table a section belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Table {
    Preinit = 0,
    Init = 1,
    Fini = 2,
}

/// The whole placement of one object.
pub(crate) struct Plan {
    /// Placement of each section.
    pub places: Vec<Place>,
    /// Relocation sections that patch loaded sections.
    pub rel_sections: Vec<u32>,
    /// Bytes used in each region before granule rounding.
    pub raw: [u64; 4],
    /// Alignment each region needs.
    pub align: [u64; 4],
    /// Entries in the preinit, init and fini tables.
    pub table_len: [u32; 3],
    /// Offset in BSS where common symbols start.
    pub common_start: u64,
    /// Offset in TEXT of the GOT, and its slot count.
    pub got: (u64, u32),
    /// Offset in TEXT of the veneers, and their count.
    pub veneers: (u64, u32),
    /// Bytes of sections copied from the object into the block.
    pub copied: u64,
    /// Bytes of sections used in place.
    pub in_place: u64,
    /// Size and alignment of the thread-local sections together.
    pub tls: (u64, u64),
    /// The first thread-local section (0: none), for errors.
    pub tls_section: u32,
    /// Sections whose alignment padding is trimmed, sorted by section (empty: none).
    pub shrunk: Vec<Shrunk>,
    /// The region the init/fini tables start: TEXT, or DATA for a prelinked image.
    pub tables_in: RegionKind,
    /// For persistent storage, which sections relocations patch.
    relocated: Vec<bool>,
}

/// One trimmed alignment padding (RISC-V `R_RISCV_ALIGN`), as GNU ld trims it: of the
/// `addend` bytes of `nop`s at `at`, the first `keep` stay (rewritten as `nop`s) and the
/// rest are deleted; everything after moves down.
///
/// gas gives a section at least the alignment of every `.align` in it, and elfext places
/// each section at a multiple of its alignment, so what to delete depends only on offsets
/// inside the section and is known before anything is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cut {
    /// Offset of the padding in the section, before any deletion.
    pub at: u64,
    /// Bytes of it kept.
    pub keep: u64,
    /// Bytes of it deleted.
    pub len: u64,
    /// Bytes deleted by this cut and every earlier one of the section.
    pub total: u64,
}

impl Cut {
    /// Offset (before any deletion) of the first deleted byte.
    pub fn start(&self) -> u64 {
        self.at + self.keep
    }
}

/// The cuts of one section, in offset order.
pub(crate) struct Shrunk {
    /// Section index.
    pub section: u32,
    /// Its cuts.
    pub cuts: Vec<Cut>,
}

/// Where offset `x` of a section (before deletions) lands once `cuts` are applied: as GNU
/// ld moves symbols and relocations, down by every deletion that starts before it.
#[inline]
pub(crate) fn map(cuts: &[Cut], x: u64) -> u64 {
    let k = cuts.partition_point(|c| c.start() < x);
    match k {
        0 => x,
        k => x - cuts[k - 1].total,
    }
}

/// The pieces of a section kept by `cuts`: (offset before, offset after, length).
pub(crate) fn kept(cuts: &[Cut], size: u64) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
    let mut from = 0u64;
    let mut deleted = 0u64;
    cuts.iter()
        .map(Some)
        .chain(core::iter::once(None))
        .map(move |c| {
            let (end, next) = match c {
                Some(c) => (c.start(), c.start() + c.len),
                None => (size, size),
            };
            let piece = (from, from - deleted, end - from);
            from = next;
            if let Some(c) = c {
                deleted = c.total;
            }
            piece
        })
}

/// Rewrite the kept padding of every cut as `nop`s (4-byte `nop`, then a `c.nop` for the
/// last two bytes), as GNU ld does; `sect` is the section after deletions.
pub(crate) fn write_nops(cuts: &[Cut], sect: &mut [u8]) {
    let mut before = 0u64;
    for c in cuts {
        let at = (c.at - before) as usize;
        let keep = c.keep as usize;
        let pad = &mut sect[at..at + keep];
        let words = keep & !3;
        for w in pad[..words].chunks_exact_mut(4) {
            w.copy_from_slice(&0x0000_0013u32.to_le_bytes());
        }
        let rest = &mut pad[words..];
        let n = rest.len().min(2);
        rest[..n].copy_from_slice(&0x0001u16.to_le_bytes()[..n]);
        before = c.total;
    }
}

/// An alignment relocation (RISC-V `R_RISCV_ALIGN`) as the link's first pass found it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Align {
    /// The section it pads.
    pub target: u32,
    /// Its relocation section.
    pub rel: u32,
    /// Its index there.
    pub reloc: u32,
    /// Offset of the padding.
    pub offset: u64,
    /// Bytes of padding (`None` for a REL entry).
    pub addend: Option<i64>,
}

/// The cuts GNU ld would make for `aligns` (in relocation order), per section; every
/// alignment relocation that cannot be honoured is an error naming it.
pub(crate) fn cuts_of<E: FileHeader<Endian = LE>>(
    obj: &Object<'_, E>,
    aligns: &mut [Align],
) -> Result<Vec<Shrunk>> {
    // Stable: the relocations of one section stay in their order.
    aligns.sort_by_key(|a| a.target);
    let mut out: Vec<Shrunk> = Vec::new();
    let mut rest = &aligns[..];
    while let Some(first) = rest.first() {
        let n = rest.iter().take_while(|a| a.target == first.target).count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        let sh = obj.sh(first.target);
        let size: u64 = sh.sh_size(LE).into();
        let salign: u64 = sh.sh_addralign(LE).into();
        let (mut end, mut total) = (0u64, 0u64);
        let mut cuts = Vec::new();
        for a in group {
            let bad = |problem| Error::BadAlignment {
                section: obj.id(a.rel),
                reloc: a.reloc,
                target: obj.id(a.target),
                offset: a.offset,
                addend: a.addend.unwrap_or(0),
                problem,
            };
            let addend = a
                .addend
                .ok_or_else(|| bad("alignment padding without an addend"))?;
            let pad = u64::try_from(addend).map_err(|_| bad("negative alignment padding"))?;
            let pad_end = a
                .offset
                .checked_add(pad)
                .filter(|&e| e <= size)
                .ok_or_else(|| bad("alignment padding runs past the end of the section"))?;
            if a.offset < end {
                return Err(bad(
                    "alignment padding before or inside the previous one (relocations out of order)",
                ));
            }
            // The smallest power of two above the padding.
            let alignment = (pad + 1).next_power_of_two();
            if alignment > salign.max(1) {
                return Err(bad(
                    "alignment larger than the section's sh_addralign (its place is unknown)",
                ));
            }
            let pos = a.offset - total;
            let needed = (alignment - pos % alignment) % alignment;
            if needed > pad {
                return Err(bad("alignment padding shorter than the alignment needs"));
            }
            if needed < pad {
                total += pad - needed;
                cuts.push(Cut {
                    at: a.offset,
                    keep: needed,
                    len: pad - needed,
                    total,
                });
            }
            end = pad_end;
        }
        if !cuts.is_empty() {
            out.push(Shrunk {
                section: first.target,
                cuts,
            });
        }
    }
    Ok(out)
}

/// How a memory backend answers "may these bytes be used where they are?".
pub(crate) type InPlaceOk<'a> = &'a dyn Fn(RegionKind, u64, u64) -> bool;

fn table_of(ty: elf::SectionType) -> Option<Table> {
    match ty {
        elf::SHT_PREINIT_ARRAY => Some(Table::Preinit),
        elf::SHT_INIT_ARRAY => Some(Table::Init),
        elf::SHT_FINI_ARRAY => Some(Table::Fini),
        _ => None,
    }
}

/// Priority of `.init_array.NNNNN`; plain tables run after all numbered ones.
fn priority(name: &[u8]) -> u32 {
    let digits = name
        .iter()
        .rposition(|&b| b == b'.')
        .map(|p| &name[p + 1..])
        .unwrap_or(&[]);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return 65536;
    }
    digits
        .iter()
        .fold(0u32, |acc, d| {
            acc.saturating_mul(10).saturating_add(u32::from(d - b'0'))
        })
        .min(65535)
}

/// The kind of an allocated section.
pub(crate) fn kind_of(ty: elf::SectionType, flags: u64) -> RegionKind {
    if ty == elf::SHT_NOBITS {
        RegionKind::Bss
    } else if flags & elf::SHF_EXECINSTR.0 != 0 || table_of(ty).is_some() {
        RegionKind::Text
    } else if flags & elf::SHF_WRITE.0 != 0 {
        RegionKind::Data
    } else {
        RegionKind::Rodata
    }
}

impl Plan {
    /// Plan `obj` for `storage`. `base` is the address of the caller's buffer for persistent
    /// and writable storage; `ok` says where in-place use is possible.
    pub fn new<E: FileHeader<Endian = LE>>(
        obj: &Object<'_, E>,
        storage: Storage,
        base: u64,
        ok: InPlaceOk<'_>,
    ) -> Result<Plan> {
        let n = obj.shnum as usize;
        let mut plan = Plan {
            places: Vec::new(),
            rel_sections: Vec::new(),
            raw: [0; 4],
            align: [1; 4],
            table_len: [0; 3],
            common_start: 0,
            got: (0, 0),
            veneers: (0, 0),
            copied: 0,
            in_place: 0,
            tls: (0, 1),
            tls_section: 0,
            shrunk: Vec::new(),
            tables_in: RegionKind::Text,
            relocated: Vec::new(),
        };
        let word = if E::is_type_64_sized() { 8u64 } else { 4 };
        // Which sections relocations patch matters only to persistent storage.
        let mut relocated = if storage == Storage::Persistent {
            alloc::vec![false; n]
        } else {
            Vec::new()
        };
        // Relocation sections, checked, and which sections they patch.
        for i in 0..obj.shnum {
            let sh = obj.sh(i);
            let ty = sh.sh_type(LE);
            if ty != elf::SHT_REL && ty != elf::SHT_RELA {
                continue;
            }
            let target = sh.sh_info(LE);
            if target == 0 || target >= obj.shnum {
                return Err(Error::BadSectionIndex {
                    what: "relocation section's sh_info",
                    index: target,
                    count: obj.shnum,
                });
            }
            if !is_loaded(obj, target) {
                continue;
            }
            if sh.sh_link(LE) != obj.symtab || obj.symtab == 0 {
                return Err(Error::WrongSymbolTable {
                    section: obj.id(i),
                    link: sh.sh_link(LE),
                    symtab: obj.symtab,
                });
            }
            let want = if ty == elf::SHT_REL {
                2 * word
            } else {
                3 * word
            };
            let entsize: u64 = sh.sh_entsize(LE).into();
            if entsize != want {
                return Err(Error::BadSection {
                    section: obj.id(i),
                    problem: "relocation entry size does not match the ELF class",
                    value: entsize,
                });
            }
            let size: u64 = sh.sh_size(LE).into();
            if size % want != 0 {
                return Err(Error::BadSection {
                    section: obj.id(i),
                    problem: "size is not a multiple of the relocation entry size",
                    value: size,
                });
            }
            if size > 0 {
                if let Some(r) = relocated.get_mut(target as usize) {
                    *r = true;
                }
                plan.rel_sections.push(i);
            }
        }
        plan.relocated = relocated;
        plan.place(obj, storage, base, ok)?;
        Ok(plan)
    }

    /// Plan again with the alignment padding of `shrunk` trimmed (each section keeps
    /// whether it is used in place: that is decided on its size before trimming).
    pub fn shrink<E: FileHeader<Endian = LE>>(
        &mut self,
        obj: &Object<'_, E>,
        storage: Storage,
        base: u64,
        ok: InPlaceOk<'_>,
        shrunk: Vec<Shrunk>,
    ) -> Result<()> {
        self.shrunk = shrunk;
        self.place(obj, storage, base, ok)
    }

    /// Plan again with the init/fini tables at the start of DATA instead of TEXT (a
    /// prelinked image, whose TEXT is in flash and whose DATA the loader copies to RAM).
    pub fn tables_in_data<E: FileHeader<Endian = LE>>(
        &mut self,
        obj: &Object<'_, E>,
        storage: Storage,
        base: u64,
        ok: InPlaceOk<'_>,
    ) -> Result<()> {
        self.tables_in = RegionKind::Data;
        self.place(obj, storage, base, ok)
    }

    /// The cuts of section `i`, if its padding is trimmed.
    #[inline]
    pub fn cuts(&self, i: u32) -> Option<&[Cut]> {
        if self.shrunk.is_empty() {
            return None;
        }
        self.shrunk
            .binary_search_by_key(&i, |s| s.section)
            .ok()
            .map(|k| &self.shrunk[k].cuts[..])
    }

    /// Size of section `i` once loaded (its padding trimmed).
    pub fn size<E: FileHeader<Endian = LE>>(&self, obj: &Object<'_, E>, i: u32) -> u64 {
        let size: u64 = obj.sh(i).sh_size(LE).into();
        match self.cuts(i) {
            Some(c) => size - c.last().map_or(0, |c| c.total),
            None => size,
        }
    }

    /// Place every loaded section (everything but the relocation checks of [`Plan::new`]).
    fn place<E: FileHeader<Endian = LE>>(
        &mut self,
        obj: &Object<'_, E>,
        storage: Storage,
        base: u64,
        ok: InPlaceOk<'_>,
    ) -> Result<()> {
        let plan = self;
        let n = obj.shnum as usize;
        let word = if E::is_type_64_sized() { 8u64 } else { 4 };
        plan.places.clear();
        plan.places.resize(n, Place::Skip);
        plan.raw = [0; 4];
        plan.align = [1; 4];
        plan.table_len = [0; 3];
        plan.copied = 0;
        plan.in_place = 0;
        plan.tls = (0, 1);
        plan.tls_section = 0;
        // The init/fini tables come first in their region (TEXT, or DATA for an image),
        // sorted as GNU ld sorts them.
        let mut tables: Vec<(Table, u32, u32)> = Vec::new();
        for i in 0..obj.shnum {
            let sh = obj.sh(i);
            if let Some(t) = table_of(sh.sh_type(LE)) {
                if !is_loaded(obj, i) {
                    continue;
                }
                tables.push((t, priority(obj.section_name(i)), i));
            }
        }
        tables.sort_unstable();
        let mut cursor = [0u64; 4];
        for &(t, _, i) in &tables {
            let size = plan.size(obj, i);
            if size % word != 0 {
                return Err(Error::BadSection {
                    section: obj.id(i),
                    problem: "init/fini table size is not a multiple of the address size",
                    value: size,
                });
            }
            let entries = u32::try_from(size / word)
                .ok()
                .filter(|&e| e <= u32::from(u16::MAX));
            let entries = entries.ok_or(Error::TooLarge {
                what: "init/fini table entries",
                value: size / word,
                limit: u64::from(u16::MAX),
            })?;
            plan.table_len[t as usize] += entries;
            if plan.table_len[t as usize] > u32::from(u16::MAX) {
                return Err(Error::TooLarge {
                    what: "init/fini table entries",
                    value: u64::from(plan.table_len[t as usize]),
                    limit: u64::from(u16::MAX),
                });
            }
            let k = plan.tables_in as usize;
            let at = grow(cursor[k], word, size)?;
            plan.places[i as usize] = Place::Block(plan.tables_in, at);
            plan.align[k] = plan.align[k].max(word);
            cursor[k] = at + size;
            plan.copied += size;
        }
        // Every other allocated section, in file order.
        let mut tbss: Vec<u32> = Vec::new();
        for i in 0..obj.shnum {
            let sh = obj.sh(i);
            let ty = sh.sh_type(LE);
            if table_of(ty).is_some() || !is_loaded(obj, i) {
                continue;
            }
            let flags = sh.sh_flags(LE).0;
            let kind = kind_of(ty, flags);
            let (off, full): (u64, u64) = (sh.sh_offset(LE).into(), sh.sh_size(LE).into());
            let size = plan.size(obj, i);
            let align: u64 = sh.sh_addralign(LE).into();
            let align = align.max(1);
            if flags & elf::SHF_TLS.0 != 0 {
                // Thread-local sections go to the thread-local area, not the block:
                // initialized ones first, zeroed ones after, as GNU ld orders them.
                if ty == elf::SHT_NOBITS {
                    tbss.push(i);
                } else {
                    plan.place_tls(i, align, size)?;
                }
                continue;
            }
            let addr = base.wrapping_add(off);
            let in_place = match storage {
                Storage::Temporary => false,
                Storage::Persistent => {
                    kind != RegionKind::Bss
                        && kind != RegionKind::Data
                        && !plan.relocated.get(i as usize).copied().unwrap_or(true)
                }
                Storage::Writable => kind != RegionKind::Bss,
            } && addr % align == 0
                && ok(kind, addr, full);
            if in_place {
                plan.places[i as usize] = Place::InBuffer;
                plan.in_place += size;
                continue;
            }
            let k = kind as usize;
            let at = grow(cursor[k], align, size)?;
            plan.places[i as usize] = Place::Block(kind, at);
            plan.align[k] = plan.align[k].max(align);
            cursor[k] = at + size;
            if kind != RegionKind::Bss {
                plan.copied += size;
            }
        }
        for i in tbss {
            let align: u64 = obj.sh(i).sh_addralign(LE).into();
            let size = plan.size(obj, i);
            plan.place_tls(i, align.max(1), size)?;
        }
        // Common symbols are allocated at the end of BSS.
        plan.common_start = cursor[3];
        for s in 1..obj.nsyms {
            let sym = obj.sym(s);
            if sym.st_shndx(LE) == elf::SHN_COMMON {
                let align: u64 = sym.st_value(LE).into();
                let size: u64 = sym.st_size(LE).into();
                let align = align.max(1);
                if !align.is_power_of_two() {
                    return Err(Error::BadSymbolSection {
                        symbol: s,
                        name: crate::error::Name::new(obj.sym_name(s).unwrap_or(&[])),
                        index: u32::from(elf::SHN_COMMON.0),
                        problem: "its alignment is not a power of two",
                    });
                }
                cursor[3] = grow(cursor[3], align, size)? + size;
                plan.align[3] = plan.align[3].max(align);
            }
        }
        plan.raw = cursor;
        Ok(())
    }

    /// Place thread-local section `i` next in the extension's TLS range.
    fn place_tls(&mut self, i: u32, align: u64, size: u64) -> Result<()> {
        let at = grow(self.tls.0, align, size)?;
        self.places[i as usize] = Place::Tls(at);
        self.tls = (at + size, self.tls.1.max(align));
        if self.tls_section == 0 {
            self.tls_section = i;
        }
        Ok(())
    }

    /// Reserve `slots` GOT entries and `veneers` veneers of `veneer_size` bytes in TEXT.
    pub fn reserve(
        &mut self,
        word: u64,
        slots: u32,
        veneers: u32,
        veneer_size: u64,
        veneer_align: u64,
    ) {
        let t = &mut self.raw[0];
        // The GOT's place is known even when it is empty (`_GLOBAL_OFFSET_TABLE_`).
        *t = t.next_multiple_of(word);
        self.got = (*t, slots);
        if slots > 0 {
            *t += u64::from(slots) * word;
            self.align[0] = self.align[0].max(word);
        }
        if veneers > 0 {
            *t = t.next_multiple_of(veneer_align);
            self.veneers = (*t, veneers);
            *t += u64::from(veneers) * veneer_size;
            self.align[0] = self.align[0].max(veneer_align);
        }
    }
}

/// Largest region elfext plans (regions are recorded as 32-bit sizes).
const MAX_REGION: u64 = u32::MAX as u64;

/// Where a `size`-byte item aligned to `align` starts after `cursor`, if the region stays
/// within [`MAX_REGION`].
fn grow(cursor: u64, align: u64, size: u64) -> Result<u64> {
    let at = cursor.checked_next_multiple_of(align);
    match at.and_then(|a| a.checked_add(size)) {
        Some(end) if end <= MAX_REGION => Ok(at.unwrap_or(0)),
        _ => Err(Error::TooLarge {
            what: "region",
            value: cursor.saturating_add(size),
            limit: MAX_REGION,
        }),
    }
}

/// Whether section `i` is part of the loaded image.
pub(crate) fn is_loaded<E: FileHeader<Endian = LE>>(obj: &Object<'_, E>, i: u32) -> bool {
    let flags = obj.flags(i);
    if flags & elf::SHF_ALLOC.0 == 0 {
        return false;
    }
    // Unwind tables are not used by extensions; dropping them saves memory and relocations.
    !obj.section_name_is(i, b".eh_frame")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_priorities_sort_numbered_tables_first() {
        assert_eq!(priority(b".init_array.00101"), 101);
        assert_eq!(priority(b".init_array"), 65536);
        assert_eq!(priority(b".fini_array.65535"), 65535);
        assert_eq!(priority(b".init_array.x1"), 65536);
    }

    #[test]
    fn section_kinds() {
        let x = elf::SHF_ALLOC.0 | elf::SHF_EXECINSTR.0;
        let w = elf::SHF_ALLOC.0 | elf::SHF_WRITE.0;
        assert_eq!(kind_of(elf::SHT_PROGBITS, x), RegionKind::Text);
        assert_eq!(kind_of(elf::SHT_PROGBITS, w), RegionKind::Data);
        assert_eq!(
            kind_of(elf::SHT_PROGBITS, elf::SHF_ALLOC.0),
            RegionKind::Rodata
        );
        assert_eq!(kind_of(elf::SHT_NOBITS, w), RegionKind::Bss);
        assert_eq!(kind_of(elf::SHT_INIT_ARRAY, w), RegionKind::Text);
    }

    #[test]
    fn packed_layout_aligns_each_region() {
        let l = BlockLayout::arrange([10, 3, 0, 16], [16, 1, 8, 64], &Granules::NONE);
        assert_eq!(l.offsets, [0, 10, 13, 64]);
        assert_eq!(l.sizes, [10, 3, 0, 16]);
        assert_eq!(l.size, 80);
        assert_eq!(l.align, 64);
        assert_eq!(l.padding(), 51);
    }

    #[test]
    fn page_layout_gives_each_region_its_pages() {
        let l = BlockLayout::arrange([5000, 1, 1, 0], [16, 1, 8, 1], &Granules::PAGES);
        assert_eq!(l.offsets[..3], [0, 8192, 12288]);
        assert_eq!(l.sizes, [8192, 4096, 4096, 0]);
        assert_eq!(l.size, 16384);
        assert_eq!(l.align, 4096);
    }

    #[test]
    fn pow2_mpu_regions_are_size_aligned() {
        let l = BlockLayout::arrange([100, 40, 0, 0], [4, 4, 1, 1], &Granules::MPU_POW2);
        assert_eq!(l.sizes[..2], [128, 64]);
        assert_eq!(l.offsets[1] % 64, 0);
        assert_eq!(l.align, 128);
    }

    #[test]
    fn growing_past_four_gib_is_refused() {
        assert!(grow(0, 8, u64::MAX).is_err());
        assert!(grow(u64::MAX - 3, 8, 1).is_err());
        assert_eq!(grow(5, 8, 8).unwrap(), 8);
    }
}
