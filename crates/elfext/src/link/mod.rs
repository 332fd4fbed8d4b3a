//! Linking: resolve symbols, place sections, apply relocations. Architecture independent;
//! the per-architecture rules come from [`crate::arch`].

pub mod exports;

use alloc::borrow::Cow;
use alloc::vec;
use alloc::vec::Vec;
use core::ptr::NonNull;

use object::elf;
use object::read::elf::{FileHeader, Rel, Rela, SectionHeader, Sym};
use object::{pod, LittleEndian as LE};

use crate::arch::{Fail, Fixup, Howto, Need, Pair, Relocator};
use crate::elf::{Object, Source};
use crate::error::{Error, Name, RelocType, Result};
use crate::layout::{self, Align, BlockLayout, Place, Plan, RegionKind};
use crate::loader::Storage;
use crate::memory::{Block, Memory};
use crate::tls::{first_fit, TlsArea};

/// A symbol the object needs from outside, to be filled in by a [`Resolve`].
pub(crate) struct Wanted<'n> {
    /// Its index in the object's symbol table.
    pub sym: u32,
    /// Its name.
    pub name: &'n [u8],
    /// Its address once found.
    pub addr: Option<u64>,
    /// The loaded extension that provides it, if not the host.
    pub provider: Option<NonNull<()>>,
}

/// Finds the addresses of undefined symbols.
pub(crate) trait Resolve {
    /// Fill in `wanted` (sorted by name; a repeated name may be filled only once) where
    /// possible.
    fn resolve(&self, wanted: &mut [Wanted<'_>], mem: &dyn Memory);
}

/// Where one section of an object was placed (see
/// [`Registry::load_traced`](crate::Registry::load_traced)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed<'n> {
    /// Section index.
    pub index: u32,
    /// Section name.
    pub name: &'n [u8],
    /// Region it belongs to.
    pub kind: RegionKind,
    /// Target address of its first byte; for a thread-local section (`.tdata`, `.tbss`),
    /// its offset from the thread pointer.
    pub addr: u64,
    /// Its size.
    pub size: u64,
    /// Whether it is used in place in the caller's buffer.
    pub in_place: bool,
}

/// What the registry keeps of a successful link.
pub(crate) struct Linked {
    /// The block holding the copied regions (none when nothing had to be copied).
    pub block: Option<Block>,
    /// Its layout.
    pub layout: BlockLayout,
    /// Entries of the preinit, init and fini tables.
    pub tables: [u16; 3],
    /// Extensions this one links against.
    pub deps: Vec<NonNull<()>>,
    /// Exported symbols (index, address), for storage types that keep them.
    pub exports: Vec<(u32, u64)>,
    /// Relocations applied.
    pub relocations: u64,
    /// Bytes copied out of the object.
    pub copied: u64,
    /// Bytes used in place.
    pub in_place: u64,
    /// Offset and size of its range of the thread-local area (0, 0 without TLS).
    pub tls: (u64, u64),
}

/// The thread-local area and the ranges of it that loaded extensions hold.
pub(crate) struct TlsUse<'r> {
    /// The area.
    pub area: &'r TlsArea,
    /// (offset, size) of each range held.
    pub used: Vec<(u64, u64)>,
}

/// Where the object's bytes are, for placement decisions and in-place writes.
pub(crate) struct Site {
    /// Storage type of the loader.
    pub storage: Storage,
    /// Host address of the caller's buffer (persistent and writable storage).
    pub base: u64,
    /// The writable buffer, relocated in place.
    pub writable: Option<NonNull<u8>>,
}

const REFERENCED: u8 = 1;
const GOT: u8 = 2;
const BRANCH: u8 = 4;
const FROM_BLOCK: u8 = 8;
const FROM_BUFFER: u8 = 16;

/// One relocation entry, whatever its format.
#[derive(Clone, Copy)]
struct Entry {
    offset: u64,
    rtype: u32,
    sym: u32,
    addend: Option<i64>,
}

/// Call `f` with the index and contents of every relocation in `bytes`.
#[inline(always)]
fn for_each_entry<E: FileHeader<Endian = LE>, X>(
    rela: bool,
    bytes: &[u8],
    mut f: impl FnMut(u32, Entry) -> core::result::Result<(), X>,
) -> core::result::Result<(), (u32, Entry, X)> {
    // The callback's error is small; the caller builds the full error from the entry.
    if rela {
        let relas: &[E::Rela] = pod::slice_from_all_bytes(bytes).unwrap_or(&[]);
        for (j, r) in relas.iter().enumerate() {
            let e = Entry {
                offset: r.r_offset(LE).into(),
                rtype: r.r_type(LE, false).0,
                sym: r.r_sym(LE, false),
                addend: Some(r.r_addend(LE).into()),
            };
            f(j as u32, e).map_err(|x| (j as u32, e, x))?;
        }
    } else {
        let rels: &[E::Rel] = pod::slice_from_all_bytes(bytes).unwrap_or(&[]);
        for (j, r) in rels.iter().enumerate() {
            let e = Entry {
                offset: r.r_offset(LE).into(),
                rtype: r.r_type(LE).0,
                sym: r.r_sym(LE),
                addend: None,
            };
            f(j as u32, e).map_err(|x| (j as u32, e, x))?;
        }
    }
    Ok(())
}

/// What pass 1 found wrong with a relocation.
enum Bad {
    /// Its type is not supported.
    Type,
    /// It patches bytes outside its section.
    Place(u8),
    /// Its symbol index is out of range.
    Symbol,
}

/// The error for a relocation that could not be applied.
#[cold]
fn reloc_error<E: FileHeader<Endian = LE>>(
    obj: &Object<'_, E>,
    arch: crate::arch::Arch,
    e: &Entry,
    target: u32,
    fail: Fail,
) -> Error {
    let rtype = RelocType { arch, raw: e.rtype };
    match fail {
        Fail::Overflow { value, min, max } => Error::RelocationOverflow {
            rtype,
            symbol: label(obj, e.sym),
            section: obj.id(target),
            offset: e.offset,
            value,
            min,
            max,
        },
        Fail::BadInstruction(problem) => Error::BadInstruction {
            rtype,
            section: obj.id(target),
            offset: e.offset,
            problem,
        },
    }
}

/// Target address of each region: where the block puts it, or, for a prelinked image
/// (`data_at`), DATA at `data_at` and BSS after it (aligned to `bss_align`) while TEXT and
/// RODATA stay where the block puts them.
fn region_addrs(
    block: u64,
    layout: &BlockLayout,
    data_at: Option<u64>,
    bss_align: u64,
) -> [u64; 4] {
    let mut addrs = layout.offsets.map(|o| block.wrapping_add(o));
    if let Some(data) = data_at {
        addrs[2] = data;
        addrs[3] = data
            .wrapping_add(layout.sizes[2])
            .next_multiple_of(bss_align.max(1));
    }
    addrs
}

/// The address of a section once placed (`regions`: target address of each region); for
/// a thread-local section, its offset from the thread pointer (`tls` is that of the
/// extension's TLS range).
fn section_addr(place: Place, regions: &[u64; 4], in_place: u64, tls: u64) -> Option<u64> {
    match place {
        Place::Skip => None,
        Place::Block(kind, off) => Some(regions[kind as usize] + off),
        Place::InBuffer => Some(in_place),
        Place::Tls(off) => Some(tls.wrapping_add(off)),
    }
}

/// Label of symbol `s` for messages: its name, or its section's name for section symbols.
fn label<E: FileHeader<Endian = LE>>(obj: &Object<'_, E>, s: u32) -> Name {
    if s >= obj.nsyms {
        return Name::new(b"?");
    }
    let sym = obj.sym(s);
    if sym.st_type() == elf::STT_SECTION {
        return Name::new(obj.section_name(u32::from(sym.st_shndx(LE).0)));
    }
    Name::new(obj.sym_name(s).unwrap_or(b"?"))
}

/// Whether symbol `s` is exported: global or weak, defined, not hidden and not
/// thread-local.
pub(crate) fn is_export<S: Sym<Endian = LE>>(sym: &S) -> bool {
    let bind = sym.st_bind();
    let shndx = sym.st_shndx(LE);
    (bind == elf::STB_GLOBAL || bind == elf::STB_WEAK)
        && shndx != elf::SHN_UNDEF
        && sym.st_type() != elf::STT_SECTION
        && sym.st_type() != elf::STT_FILE
        && sym.st_type() != elf::STT_TLS
        && matches!(sym.st_visibility(), elf::STV_DEFAULT | elf::STV_PROTECTED)
}

/// Address of symbol `s` given the placement: `None` when it is undefined or lies in a
/// section that is not loaded. `common` is the running BSS offset for common symbols,
/// advanced in symbol order exactly as the plan did. A thread-local symbol's "address" is
/// its offset from the thread pointer; `tls` is that of the extension's TLS range.
#[allow(clippy::too_many_arguments)]
pub(crate) fn symbol_addr<E: FileHeader<Endian = LE>, M: Memory + ?Sized>(
    obj: &Object<'_, E>,
    plan: &Plan,
    layout: &BlockLayout,
    block: u64,
    base: u64,
    mem: &M,
    s: u32,
    common: &mut u64,
    tls: u64,
) -> Result<Option<u64>> {
    let regions = region_addrs(block, layout, None, 1);
    symbol_addr_in(obj, plan, &regions, base, mem, s, common, tls)
}

/// [`symbol_addr`] with the target address of each region given.
#[allow(clippy::too_many_arguments)]
fn symbol_addr_in<E: FileHeader<Endian = LE>, M: Memory + ?Sized>(
    obj: &Object<'_, E>,
    plan: &Plan,
    regions: &[u64; 4],
    base: u64,
    mem: &M,
    s: u32,
    common: &mut u64,
    tls: u64,
) -> Result<Option<u64>> {
    let sym = obj.sym(s);
    let shndx = sym.st_shndx(LE);
    let value: u64 = sym.st_value(LE).into();
    if shndx == elf::SHN_UNDEF {
        return Ok(None);
    }
    if shndx == elf::SHN_ABS {
        return Ok(Some(value));
    }
    if shndx == elf::SHN_COMMON {
        let size: u64 = sym.st_size(LE).into();
        let at = common.next_multiple_of(value.max(1));
        *common = at + size;
        return Ok(Some(regions[RegionKind::Bss as usize] + at));
    }
    let i = u32::from(shndx.0);
    let bad = |problem| Error::BadSymbolSection {
        symbol: s,
        name: label(obj, s),
        index: i,
        problem,
    };
    if i >= obj.shnum || shndx.0 >= elf::SHN_LORESERVE {
        return Err(bad("which does not exist"));
    }
    let size: u64 = obj.sh(i).sh_size(LE).into();
    if value > size {
        return Err(Error::SymbolOutsideSection {
            name: label(obj, s),
            section: obj.id(i),
            value,
            size,
        });
    }
    let value = match plan.cuts(i) {
        Some(cuts) => layout::map(cuts, value),
        None => value,
    };
    let (off, _) = obj.file_range(i);
    let in_place = mem.in_place_addr(base.wrapping_add(off));
    // A section that is not loaded (debug info, unwind tables) gives no address.
    Ok(
        section_addr(plan.places[i as usize], regions, in_place, tls)
            .map(|a| a.wrapping_add(value)),
    )
}

/// Trim `plan` as the link of `obj` did (see [`layout::Cut`]), for an extension whose
/// symbols are read from its own tables after the link: the plan of [`Plan::new`] alone
/// does not read relocations. Only RISC-V trims.
pub(crate) fn retrim<'a, E: FileHeader<Endian = LE>>(
    obj: &Object<'a, E>,
    src: &mut impl Source<'a>,
    arch: crate::arch::Arch,
    plan: &mut Plan,
    storage: Storage,
    base: u64,
    ok: crate::layout::InPlaceOk<'_>,
) -> Result<()> {
    if !matches!(
        arch,
        crate::arch::Arch::Riscv32 | crate::arch::Arch::Riscv64
    ) {
        return Ok(());
    }
    let mut aligns: Vec<Align> = Vec::new();
    for &r in &plan.rel_sections {
        let sh = obj.sh(r);
        let target = sh.sh_info(LE);
        let rela = sh.sh_type(LE) == elf::SHT_RELA;
        let (off, size) = obj.file_range(r);
        let bytes = src.get(off, size)?;
        let _ = for_each_entry::<E, ()>(rela, &bytes, |j, e| {
            if e.rtype == elf::R_RISCV_ALIGN.0 {
                aligns.push(Align {
                    target,
                    rel: r,
                    reloc: j,
                    offset: e.offset,
                    addend: e.addend,
                });
            }
            Ok(())
        });
    }
    if aligns.is_empty() {
        return Ok(());
    }
    let shrunk = layout::cuts_of(obj, &mut aligns)?;
    if shrunk.is_empty() {
        return Ok(());
    }
    plan.shrink(obj, storage, base, ok, shrunk)
}

/// Link `obj` into `mem`: plan, resolve, allocate, copy, relocate, protect.
pub(crate) fn link<'a, E, R, M>(
    obj: &Object<'a, E>,
    src: &mut impl Source<'a>,
    mem: &mut M,
    site: &Site,
    resolver: &dyn Resolve,
    tls: Option<TlsUse<'_>>,
    trace: Option<&mut dyn FnMut(Placed<'_>)>,
) -> Result<Linked>
where
    E: FileHeader<Endian = LE>,
    R: Relocator,
    M: Memory,
{
    link_at::<E, R, M>(obj, src, mem, site, resolver, tls, trace, None)
}

/// [`link`], with the DATA and BSS regions at target address `data_at` instead of after
/// RODATA when it is given (a prelinked image: TEXT and RODATA run from flash where the
/// block is, DATA and BSS live in RAM). The init/fini tables then go to the start of DATA,
/// so that they are the first bytes of the block the image's loader takes in RAM.
#[allow(clippy::too_many_arguments)]
pub(crate) fn link_at<'a, E, R, M>(
    obj: &Object<'a, E>,
    src: &mut impl Source<'a>,
    mem: &mut M,
    site: &Site,
    resolver: &dyn Resolve,
    tls: Option<TlsUse<'_>>,
    trace: Option<&mut dyn FnMut(Placed<'_>)>,
    data_at: Option<u64>,
) -> Result<Linked>
where
    E: FileHeader<Endian = LE>,
    R: Relocator,
    M: Memory,
{
    let arch = R::ARCH;
    let word = u64::from(arch.word_size());
    let mut plan = {
        let m: &M = mem;
        let ok = |k, a, l| m.in_place_ok(k, a, l);
        let mut plan = Plan::new(obj, site.storage, site.base, &ok)?;
        if data_at.is_some() {
            plan.tables_in_data(obj, site.storage, site.base, &ok)?;
        }
        plan
    };

    // Pass 1: check every relocation and learn what each symbol needs.
    let mut flags = vec![0u8; obj.nsyms as usize];
    // Alignment padding to trim (RISC-V `R_RISCV_ALIGN`).
    let mut aligns: Vec<Align> = Vec::new();
    let mut rel_data: Vec<Cow<'a, [u8]>> = Vec::with_capacity(plan.rel_sections.len());
    let mut count = 0u64;
    for &r in &plan.rel_sections {
        let sh = obj.sh(r);
        let target = sh.sh_info(LE);
        let rela = sh.sh_type(LE) == elf::SHT_RELA;
        let (off, size) = obj.file_range(r);
        let bytes = src.get(off, size)?;
        let tsize: u64 = obj.sh(target).sh_size(LE).into();
        let from_buffer = plan.places[target as usize] == Place::InBuffer;
        count += size / if rela { 3 } else { 2 } / u64::from(arch.word_size());
        let checked = for_each_entry::<E, Bad>(rela, &bytes, |j, e| {
            let how = R::howto(e.rtype).ok_or(Bad::Type)?;
            match how.need {
                Need::Skip => return Ok(()),
                Need::Trim if R::TRIMS => {
                    aligns.push(Align {
                        target,
                        rel: r,
                        reloc: j,
                        offset: e.offset,
                        addend: e.addend,
                    });
                    return Ok(());
                }
                _ => {}
            }
            let end = e.offset.wrapping_add(u64::from(how.width));
            if e.offset < u64::from(how.before) || end > tsize || end < e.offset {
                return Err(Bad::Place(how.width));
            }
            let f = flags.get_mut(e.sym as usize).ok_or(Bad::Symbol)?;
            *f |= REFERENCED
                | match how.need {
                    Need::Got => GOT,
                    // Whether a branch crosses between the block and the caller's buffer
                    // (and may then be out of reach) is settled per symbol after this pass.
                    Need::Branch if from_buffer => BRANCH | FROM_BUFFER,
                    Need::Branch => BRANCH | FROM_BLOCK,
                    _ => 0,
                };
            Ok(())
        });
        if let Err((j, e, bad)) = checked {
            return Err(match bad {
                Bad::Type => Error::UnsupportedRelocation {
                    arch,
                    rtype: RelocType { arch, raw: e.rtype },
                    section: obj.id(target),
                    offset: e.offset,
                },
                Bad::Place(width) => Error::RelocationOutOfSection {
                    section: obj.id(r),
                    reloc: j,
                    offset: e.offset,
                    width,
                    target: obj.id(target),
                    size: tsize,
                },
                Bad::Symbol => Error::BadSymbolIndex {
                    section: obj.id(r),
                    reloc: j,
                    index: e.sym,
                    count: obj.nsyms,
                },
            });
        }
        rel_data.push(bytes);
    }
    if !aligns.is_empty() {
        let shrunk = layout::cuts_of(obj, &mut aligns)?;
        if !shrunk.is_empty() {
            let m: &M = mem;
            plan.shrink(
                obj,
                site.storage,
                site.base,
                &|k, a, l| m.in_place_ok(k, a, l),
                shrunk,
            )?;
            check_outside_cuts::<E, R>(obj, &plan, &rel_data)?;
        }
    }
    if site.writable.is_some() {
        check_in_place_apart(obj, &plan)?;
    }

    // Pass 2, over the symbols that relocations use: collect the undefined ones and give
    // GOT slots and veneers to those that need them.
    let mut info = vec![
        SymInfo {
            addr: 0,
            got: NONE,
            veneer: NONE
        };
        obj.nsyms as usize
    ];
    let mut wanted: Vec<Wanted<'_>> = Vec::new();
    let (mut got_n, mut ven_n) = (0u32, 0u32);
    let mut got_symbol = None;
    for s in 1..obj.nsyms {
        let f = flags[s as usize];
        if f == 0 {
            continue;
        }
        let shndx = obj.sym(s).st_shndx(LE);
        let undefined = shndx == elf::SHN_UNDEF;
        if undefined && obj.sym_name(s)? == b"_GLOBAL_OFFSET_TABLE_" {
            // The linker's own symbol: the extension's GOT, placed below.
            got_symbol = Some(s);
        } else if undefined && obj.sym(s).st_type() == elf::STT_TLS {
            return Err(Error::ExternalTls(Name::new(obj.sym_name(s)?)));
        } else if undefined {
            wanted.push(Wanted {
                sym: s,
                name: obj.sym_name(s)?,
                addr: None,
                provider: None,
            });
        }
        if f & GOT != 0 {
            info[s as usize].got = got_n;
            got_n += 1;
        }
        // A branch needs a veneer when its target is outside the object, or placed apart
        // (block vs caller's buffer) from some place that branches to it.
        if f & BRANCH != 0 {
            let apart = undefined
                || shndx.0 >= elf::SHN_LORESERVE
                || u32::from(shndx.0) >= obj.shnum
                || match plan.places[usize::from(shndx.0)] {
                    Place::Block(..) => f & FROM_BUFFER != 0,
                    Place::InBuffer => f & FROM_BLOCK != 0,
                    Place::Skip | Place::Tls(_) => true,
                };
            if apart {
                info[s as usize].veneer = ven_n;
                ven_n += 1;
            }
        }
    }
    let deps = resolve_undefined(obj, resolver, &*mem, &mut wanted, &mut info)?;
    // A range of the thread-local area, before anything is allocated.
    let (tls_range, tls_init) = match (plan.tls, tls) {
        ((0, _), _) => ((0, 0), None),
        (_, None) => {
            return Err(Error::NoTlsArea {
                section: obj.id(plan.tls_section),
            })
        }
        ((size, align), Some(mut t)) => {
            let off = first_fit(t.area.size, &mut t.used, size, align).map_err(|free| {
                Error::TlsAreaFull {
                    section: obj.id(plan.tls_section),
                    needed: size,
                    free,
                }
            })?;
            let at = (t.area.tp_offset as u64).wrapping_add(off);
            (
                (off, size),
                Some((at, t.area.init.map(|i| i + off as usize))),
            )
        }
    };
    let tls_at = tls_init.map_or(0, |t| t.0);
    plan.reserve(word, got_n, ven_n, R::VENEER_SIZE as u64, R::VENEER_ALIGN);
    let layout = BlockLayout::arrange(plan.raw, plan.align, &mem.granules());
    if let Some(&big) = layout.sizes.iter().find(|&&s| s > u64::from(u32::MAX)) {
        return Err(Error::TooLarge {
            what: "region",
            value: big,
            limit: u64::from(u32::MAX),
        });
    }

    // Allocate; from here on every error frees the block.
    let block = if layout.size > 0 {
        Some(mem.alloc_block(&layout)?)
    } else {
        None
    };
    let regions = region_addrs(
        block.map_or(0, |b| b.addr),
        &layout,
        data_at,
        plan.align[RegionKind::Bss as usize],
    );
    if let Some(trace) = trace {
        for i in 0..obj.shnum {
            let (off, _) = obj.file_range(i);
            let size = plan.size(obj, i);
            let place = plan.places[i as usize];
            let in_place = mem.in_place_addr(site.base.wrapping_add(off));
            if let Some(addr) = section_addr(place, &regions, in_place, tls_at) {
                let kind = match place {
                    Place::Block(kind, _) => kind,
                    _ => crate::layout::kind_of(obj.sh(i).sh_type(LE), obj.flags(i)),
                };
                trace(Placed {
                    index: i,
                    name: obj.section_name(i),
                    kind,
                    addr,
                    size,
                    in_place: place == Place::InBuffer,
                });
            }
        }
        // The GOT and the veneers, as sections of their own (indices past the last section).
        let text = regions[0];
        // The GOT is reported even when empty: `_GLOBAL_OFFSET_TABLE_` may point there.
        {
            let (addr, size) = (text + plan.got.0, u64::from(plan.got.1) * word);
            let kind = RegionKind::Text;
            trace(Placed {
                index: obj.shnum,
                name: b".got",
                kind,
                addr,
                size,
                in_place: false,
            });
        }
        if plan.veneers.1 > 0 {
            let (addr, size) = (
                text + plan.veneers.0,
                u64::from(plan.veneers.1) * R::VENEER_SIZE as u64,
            );
            let kind = RegionKind::Text;
            trace(Placed {
                index: obj.shnum + 1,
                name: b".veneers",
                kind,
                addr,
                size,
                in_place: false,
            });
        }
    }
    match fill::<E, R, M>(
        obj, src, mem, site, &plan, &layout, block, &regions, &rel_data, &flags, &mut info,
        got_symbol, tls_init,
    ) {
        Ok(exports) => Ok(Linked {
            block,
            layout,
            tables: plan.table_len.map(|n| n as u16),
            deps,
            exports,
            relocations: count,
            copied: plan.copied,
            in_place: plan.in_place,
            tls: tls_range,
        }),
        Err(e) => {
            if let Some(b) = block {
                // SAFETY: `b` was allocated above with `layout` and nothing else refers to it.
                unsafe { mem.free_block(b, &layout) };
            }
            Err(e)
        }
    }
}

/// What the linker knows of one symbol.
#[derive(Clone, Copy)]
struct SymInfo {
    /// Target address.
    addr: u64,
    /// GOT slot, or [`NONE`].
    got: u32,
    /// Veneer, or [`NONE`].
    veneer: u32,
}

/// No GOT slot or veneer.
const NONE: u32 = u32::MAX;

/// Resolve the undefined symbols in `wanted` (one entry per symbol) through `resolver`;
/// every name nobody provides is reported at once. Returns the providing extensions.
fn resolve_undefined<E: FileHeader<Endian = LE>>(
    obj: &Object<'_, E>,
    resolver: &dyn Resolve,
    mem: &dyn Memory,
    wanted: &mut [Wanted<'_>],
    info: &mut [SymInfo],
) -> Result<Vec<NonNull<()>>> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    wanted.sort_unstable_by(|a, b| a.name.cmp(b.name));
    resolver.resolve(wanted, mem);
    // Two symbols of one name (rare) were resolved once: share the answer.
    for i in 1..wanted.len() {
        if wanted[i].name == wanted[i - 1].name && wanted[i].addr.is_none() {
            wanted[i].addr = wanted[i - 1].addr;
            wanted[i].provider = wanted[i - 1].provider;
        }
    }
    let mut missing = Vec::new();
    let mut deps: Vec<NonNull<()>> = Vec::new();
    for w in wanted.iter() {
        match w.addr {
            Some(a) => {
                info[w.sym as usize].addr = a;
                if let Some(p) = w.provider {
                    if !deps.contains(&p) {
                        deps.push(p);
                    }
                }
            }
            // A weak reference nobody defines is 0.
            None if obj.sym(w.sym).st_bind() == elf::STB_WEAK => {}
            None => {
                let n = Name::new(w.name);
                if !missing.contains(&n) {
                    missing.push(n);
                }
            }
        }
    }
    if missing.is_empty() {
        Ok(deps)
    } else {
        Err(Error::MissingSymbols(missing))
    }
}

/// Copy sections, compute symbol addresses, fill GOT and veneers, relocate and seal.
#[allow(clippy::too_many_arguments)]
fn fill<'a, E, R, M>(
    obj: &Object<'a, E>,
    src: &mut impl Source<'a>,
    mem: &mut M,
    site: &Site,
    plan: &Plan,
    layout: &BlockLayout,
    block: Option<Block>,
    regions: &[u64; 4],
    rel_data: &[Cow<'a, [u8]>],
    flags: &[u8],
    info: &mut [SymInfo],
    got_symbol: Option<u32>,
    tls: Option<(u64, Option<usize>)>,
) -> Result<Vec<(u32, u64)>>
where
    E: FileHeader<Endian = LE>,
    R: Relocator,
    M: Memory + ?Sized,
{
    let arch = R::ARCH;
    let word = arch.word_size() as usize;
    let image: &mut [u8] = match block {
        // SAFETY: the memory backend handed out `layout.size` writable bytes at `ptr`, owned
        // by this load until it is freed.
        Some(b) => unsafe { core::slice::from_raw_parts_mut(b.ptr.as_ptr(), layout.size as usize) },
        None => &mut [],
    };
    image.fill(0);
    // The thread-local template (`.tdata` then zeros), built here, relocated like any
    // section, and written to the area's initialized copy at the end.
    let (tls_at, tls_init) = tls.unwrap_or((0, None));
    let mut template = vec![
        0u8;
        if tls_init.is_some() {
            plan.tls.0 as usize
        } else {
            0
        }
    ];
    for i in 0..obj.shnum {
        let (dst, off) = match plan.places[i as usize] {
            Place::Block(kind, off) => (&mut *image, layout.offsets[kind as usize] + off),
            Place::Tls(off) if tls_init.is_some() => (&mut template[..], off),
            _ => continue,
        };
        let sh = obj.sh(i);
        if sh.sh_type(LE) == elf::SHT_NOBITS {
            continue;
        }
        let (foff, size) = obj.file_range(i);
        let at = off as usize;
        match plan.cuts(i) {
            None => src.copy(foff, &mut dst[at..at + size as usize])?,
            Some(cuts) => {
                let sect = &mut dst[at..at + plan.size(obj, i) as usize];
                for (from, to, len) in layout::kept(cuts, size) {
                    let to = to as usize;
                    src.copy(foff + from, &mut sect[to..to + len as usize])?;
                }
                layout::write_nops(cuts, sect);
            }
        }
    }
    // Sections relocated in place in a writable buffer close their trimmed padding there.
    if let Some(w) = site.writable {
        for sh in &plan.shrunk {
            if plan.places[sh.section as usize] != Place::InBuffer {
                continue;
            }
            let (foff, size) = obj.file_range(sh.section);
            // SAFETY: as for the relocations below: the section's bytes in the writable
            // buffer belong to this load and share no byte with anything elfext reads.
            let sect = unsafe {
                core::slice::from_raw_parts_mut(w.as_ptr().add(foff as usize), size as usize)
            };
            for (from, to, len) in layout::kept(&sh.cuts, size) {
                sect.copy_within(from as usize..(from + len) as usize, to as usize);
            }
            layout::write_nops(&sh.cuts, sect);
        }
    }

    // Symbol addresses (undefined ones were resolved already), then GOT and veneers.
    let mut common = plan.common_start;
    let temporary = site.storage == Storage::Temporary;
    for s in 1..obj.nsyms {
        let sym = obj.sym(s);
        let shndx = sym.st_shndx(LE);
        let referenced = flags[s as usize] & REFERENCED != 0;
        let needed = referenced || shndx == elf::SHN_COMMON || (temporary && is_export(sym));
        if shndx == elf::SHN_UNDEF || !needed {
            continue;
        }
        match symbol_addr_in(obj, plan, regions, site.base, mem, s, &mut common, tls_at)? {
            Some(a) => info[s as usize].addr = a,
            None if referenced => {
                return Err(Error::BadSymbolSection {
                    symbol: s,
                    name: label(obj, s),
                    index: u32::from(shndx.0),
                    problem: "a section that is not loaded",
                })
            }
            None => {}
        }
    }
    let text = layout.offsets[0] as usize;
    let got_at = text + plan.got.0 as usize;
    let ven_at = text + plan.veneers.0 as usize;
    if plan.got.1 > 0 || plan.veneers.1 > 0 {
        for i in info.iter() {
            if i.got != NONE {
                let at = got_at + i.got as usize * word;
                image[at..at + word].copy_from_slice(&i.addr.to_le_bytes()[..word]);
            }
            if i.veneer != NONE {
                let at = ven_at + i.veneer as usize * R::VENEER_SIZE;
                R::write_veneer(
                    &mut image[at..at + R::VENEER_SIZE],
                    regions[0] + (at - text) as u64,
                    i.addr,
                );
            }
        }
    }
    let got_addr = regions[0] + plan.got.0;
    if let Some(s) = got_symbol {
        info[s as usize].addr = got_addr;
    }
    let ven_addr = regions[0] + plan.veneers.0;

    // Relocate, section by section.
    for (n, &r) in plan.rel_sections.iter().enumerate() {
        let sh = obj.sh(r);
        let target = sh.sh_info(LE);
        let rela = sh.sh_type(LE) == elf::SHT_RELA;
        let (toff, _) = obj.file_range(target);
        let tsize = plan.size(obj, target);
        let cuts = if R::TRIMS { plan.cuts(target) } else { None };
        let (sect, taddr): (&mut [u8], u64) = match plan.places[target as usize] {
            Place::Block(kind, off) => {
                let at = (layout.offsets[kind as usize] + off) as usize;
                (
                    &mut image[at..at + tsize as usize],
                    regions[kind as usize] + off,
                )
            }
            Place::InBuffer => match site.writable {
                // SAFETY: a writable loader's buffer is exclusively borrowed for the
                // registry's lifetime; `check_in_place_apart` proved this section shares no
                // byte with any table elfext still reads, and with no other section.
                Some(w) => unsafe {
                    let p = w.as_ptr().add(toff as usize);
                    (
                        core::slice::from_raw_parts_mut(p, tsize as usize),
                        mem.in_place_addr(site.base + toff),
                    )
                },
                // Persistent sections with relocations are never placed in place.
                None => continue,
            },
            // Without an initialized copy, the template is not kept.
            Place::Tls(_) if tls_init.is_none() => continue,
            Place::Tls(off) => (
                &mut template[off as usize..(off + tsize) as usize],
                tls_at.wrapping_add(off),
            ),
            Place::Skip => continue,
        };
        let info: &[SymInfo] = info;
        let fixup = |e: &Entry, how: &Howto, a: i64| {
            let i = info[e.sym as usize];
            Fixup {
                rtype: e.rtype,
                p: taddr + e.offset,
                s: i.addr,
                a,
                got: match how.need {
                    Need::Got if i.got != NONE => Some(got_addr + u64::from(i.got) * word as u64),
                    _ => None,
                },
                veneer: match how.need {
                    Need::Branch if i.veneer != NONE => {
                        Some(ven_addr + u64::from(i.veneer) * R::VENEER_SIZE as u64)
                    }
                    _ => None,
                },
                got_base: got_addr,
                partner: None,
            }
        };
        // High parts of pairs first: their values by the offset they patch.
        let mut highs: Vec<(u64, i64)> = Vec::new();
        if R::HAS_PAIRS {
            let _ = for_each_entry::<E, ()>(
                rela,
                &rel_data[n],
                #[inline(always)]
                |_, mut e| {
                    if let Some(how) = R::howto(e.rtype).filter(|h| h.pair == Pair::Hi) {
                        if let Some(cuts) = cuts {
                            e.offset = layout::map(cuts, e.offset);
                        }
                        let at = e.offset as usize;
                        let a = match e.addend {
                            Some(a) => a,
                            None => R::implicit_addend(e.rtype, &sect[at..at + how.width as usize]),
                        };
                        highs.push((e.offset, R::partner_value(&fixup(&e, &how, a))));
                    }
                    Ok(())
                },
            );
            highs.sort_unstable_by_key(|h| h.0);
        }
        let applied = for_each_entry::<E, Fail>(
            rela,
            &rel_data[n],
            #[inline(always)]
            |_, mut e| {
                let Some(how) = R::howto(e.rtype) else {
                    return Ok(());
                };
                if matches!(how.need, Need::Skip | Need::Trim) {
                    return Ok(());
                }
                if let Some(cuts) = cuts {
                    // `check_outside_cuts` proved the field lies in a kept piece.
                    e.offset = layout::map(cuts, e.offset);
                }
                let at = e.offset as usize;
                // Pass 1 checked that `how.width` bytes lie inside the section; a field that
                // says its own length (ULEB128) is measured within the section.
                let width = R::field_width(e.rtype, &how, &sect[at..])
                    .min(sect.len() - at)
                    .max(usize::from(how.width));
                let place = &mut sect[at - how.before as usize..at + width];
                let a = match e.addend {
                    Some(a) => a,
                    None => R::implicit_addend(e.rtype, &place[how.before as usize..]),
                };
                let mut fx = fixup(&e, &how, a);
                if how.pair == Pair::Lo {
                    // The symbol labels the high part's instruction in this section.
                    let label = fx.s.wrapping_sub(taddr);
                    let hi = highs
                        .binary_search_by_key(&label, |h| h.0)
                        .map(|k| highs[k].1);
                    fx.partner = Some(hi.map_err(|_| {
                        Fail::BadInstruction("no high part at the low part's label")
                    })?);
                }
                R::apply(&fx, place)
            },
        );
        if let Err((_, e, fail)) = applied {
            return Err(reloc_error(obj, arch, &e, target, fail));
        }
    }
    if let Some(b) = &block {
        mem.seal(b, layout)?;
    }
    if let Some(init) = tls_init {
        // SAFETY: `Registry::with_tls`'s caller promised that the area's initialized copy
        // is writable host memory of the area's size; the range was allocated inside it.
        unsafe {
            core::ptr::copy_nonoverlapping(template.as_ptr(), init as *mut u8, template.len())
        };
    }

    // Exports are kept only when the object's symbol table will be gone.
    let mut exports = Vec::new();
    if temporary {
        for s in 1..obj.nsyms {
            let sym = obj.sym(s);
            let addr = info[s as usize].addr;
            if is_export(sym) && (addr != 0 || sym.st_shndx(LE) == elf::SHN_ABS) {
                exports.push((s, addr));
            }
        }
    }
    Ok(exports)
}

/// No relocation may patch padding that trimming deletes (its field must lie within one
/// piece the cuts keep, so that it moves with it).
#[cold]
fn check_outside_cuts<E: FileHeader<Endian = LE>, R: Relocator>(
    obj: &Object<'_, E>,
    plan: &Plan,
    rel_data: &[Cow<'_, [u8]>],
) -> Result<()> {
    for (n, &r) in plan.rel_sections.iter().enumerate() {
        let sh = obj.sh(r);
        let target = sh.sh_info(LE);
        let Some(cuts) = plan.cuts(target) else {
            continue;
        };
        let rela = sh.sh_type(LE) == elf::SHT_RELA;
        let checked = for_each_entry::<E, ()>(rela, &rel_data[n], |_, e| {
            let Some(how) = R::howto(e.rtype) else {
                return Ok(());
            };
            if matches!(how.need, Need::Skip | Need::Trim) {
                return Ok(());
            }
            let (lo, hi) = (
                e.offset - u64::from(how.before),
                e.offset + u64::from(how.width),
            );
            // The first cut whose deleted bytes end after the field's start.
            let k = cuts.partition_point(|c| c.start() + c.len <= lo);
            match cuts.get(k) {
                Some(c) if c.start() < hi => Err(()),
                _ => Ok(()),
            }
        });
        if let Err((j, e, ())) = checked {
            return Err(Error::BadAlignment {
                section: obj.id(r),
                reloc: j,
                target: obj.id(target),
                offset: e.offset,
                addend: e.addend.unwrap_or(0),
                problem: "patches alignment padding that is deleted",
            });
        }
    }
    Ok(())
}

/// For writable storage: no section used in place may share a byte with the headers or
/// tables elfext reads, or with another section.
fn check_in_place_apart<E: FileHeader<Endian = LE>>(
    obj: &Object<'_, E>,
    plan: &Plan,
) -> Result<()> {
    // (start, end, what, section index); "what" is None for a section used in place.
    let mut ranges: Vec<(u64, u64, Option<&'static str>, u32)> = Vec::new();
    ranges.push((0, core::mem::size_of::<E>() as u64, Some("ELF header"), 0));
    let shsize = core::mem::size_of::<E::SectionHeader>() as u64;
    ranges.push((
        obj.shoff,
        obj.shoff + u64::from(obj.shnum) * shsize,
        Some("section headers"),
        0,
    ));
    for i in 0..obj.shnum {
        let ty = obj.sh(i).sh_type(LE);
        let (off, size) = obj.file_range(i);
        let what = match ty {
            elf::SHT_SYMTAB => Some("symbol table"),
            elf::SHT_STRTAB => Some("string table"),
            elf::SHT_REL | elf::SHT_RELA => Some("relocations"),
            _ if plan.places[i as usize] == Place::InBuffer => None,
            _ => continue,
        };
        if size > 0 {
            ranges.push((off, off + size, what, i));
        }
    }
    ranges.sort_unstable();
    // Sweep in address order, remembering the furthest end of sections and of tables seen.
    let mut section_end = 0u64;
    let mut table_end: (u64, &'static str) = (0, "");
    let mut last_section = 0u32;
    for &(start, end, what, i) in &ranges {
        match what {
            None => {
                if start < table_end.0 {
                    return Err(Error::InPlaceOverlap {
                        section: obj.id(i),
                        what: table_end.1,
                    });
                }
                if start < section_end {
                    return Err(Error::InPlaceOverlap {
                        section: obj.id(i),
                        what: "other sections",
                    });
                }
                section_end = section_end.max(end);
                last_section = i;
            }
            Some(w) => {
                if start < section_end {
                    return Err(Error::InPlaceOverlap {
                        section: obj.id(last_section),
                        what: w,
                    });
                }
                if end > table_end.0 {
                    table_end = (end, w);
                }
            }
        }
    }
    Ok(())
}
