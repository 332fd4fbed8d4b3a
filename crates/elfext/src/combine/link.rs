//! The combination itself: which sections stay, how symbols resolve across inputs, and the
//! new object written with `object`'s ELF writer.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use object::elf;
use object::read::elf::SymbolTable;
use object::read::elf::{FileHeader, Rel as _, Rela as _, SectionHeader as _, SectionTable, Sym};
use object::write::elf::{
    FileHeader as OutHeader, Rel, SectionHeader as OutSection, SectionIndex as OutIndex,
    Sym as OutSym, Writer,
};
use object::write::StringId;
use object::{Endian, Endianness, SymbolIndex, U32};

use super::{bad, Symbols};
use crate::error::{Error, Name, Result};

/// One input object, parsed.
pub(super) struct Object<'d, E: FileHeader> {
    /// Index of the unit it was parsed from.
    pub unit: usize,
    short: Name,
    data: &'d [u8],
    endian: Endianness,
    header: &'d E,
    sections: SectionTable<'d, E>,
    symbols: SymbolTable<'d, E>,
}

/// What a global symbol of one input is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A reference (`weak`: a weak one).
    Undefined { weak: bool },
    /// A common symbol.
    Common,
    /// A definition (`weak`: a weak one).
    Defined { weak: bool },
}

impl<'d, E: FileHeader<Endian = Endianness>> Object<'d, E> {
    /// Parse and check the headers and tables of the object of unit `unit`.
    pub fn parse(unit: usize, data: &'d [u8], short: Name) -> Result<Self> {
        let header = E::parse(data).map_err(|_| bad(short, "malformed ELF header"))?;
        let endian = header
            .endian()
            .map_err(|_| bad(short, "unknown ELF data encoding"))?;
        if header.e_type(endian) != elf::ET_REL {
            return Err(bad(
                short,
                "not a relocatable object (ET_REL); compile with -c or link with `ld -r`",
            ));
        }
        let sections = header
            .sections(endian, data)
            .map_err(|_| bad(short, "malformed section headers or section name table"))?;
        let symbols = sections
            .symbols(endian, data, elf::SHT_SYMTAB)
            .map_err(|_| bad(short, "malformed symbol table"))?;
        Ok(Object {
            unit,
            short,
            data,
            endian,
            header,
            sections,
            symbols,
        })
    }

    /// `e_machine`.
    pub fn machine(&self) -> u16 {
        self.header.e_machine(self.endian).0
    }

    /// `e_flags`.
    pub fn flags(&self) -> u32 {
        self.header.e_flags(self.endian).0
    }

    fn symbol_name(&self, sym: &E::Sym) -> Result<&'d [u8]> {
        self.symbols
            .symbol_name(self.endian, sym)
            .map_err(|_| bad(self.short, "a symbol name lies outside the string table"))
    }

    /// The section a symbol is defined in (`None` for special section numbers).
    fn symbol_section(&self, sym: &E::Sym, index: usize) -> Result<Option<usize>> {
        let section = self
            .symbols
            .symbol_section(self.endian, sym, SymbolIndex(index))
            .map_err(|_| bad(self.short, "a symbol's extended section index is missing"))?;
        match section {
            Some(s) if s.0 >= self.sections.len() => Err(bad(
                self.short,
                "a symbol refers to a section that does not exist",
            )),
            s => Ok(s.map(|s| s.0)),
        }
    }

    /// What the global symbol `sym` is, ignoring which sections are dropped.
    fn kind(&self, sym: &E::Sym) -> Kind {
        let weak = sym.st_bind() == elf::STB_WEAK;
        let shndx = sym.st_shndx(self.endian);
        if shndx == elf::SHN_UNDEF {
            Kind::Undefined { weak }
        } else if shndx == elf::SHN_COMMON {
            Kind::Common
        } else {
            Kind::Defined { weak }
        }
    }

    /// The global symbols: (index, name, kind).
    fn globals(&self) -> impl Iterator<Item = Result<(usize, &'d [u8], Kind)>> + '_ {
        self.symbols
            .enumerate()
            .skip(1)
            .filter(|(_, s)| s.st_bind() != elf::STB_LOCAL)
            .map(|(i, s)| Ok((i.0, self.symbol_name(s)?, self.kind(s))))
    }

    /// Record this object's global definitions and references for member selection.
    pub(super) fn note_symbols(&self, state: &mut Symbols<'d>) -> Result<()> {
        for g in self.globals() {
            let (_, name, kind) = g?;
            match kind {
                Kind::Defined { .. } => state.get(name).defined = true,
                Kind::Common => state.get(name).common = true,
                Kind::Undefined { weak: false } => state.get(name).referenced = true,
                Kind::Undefined { weak: true } => {}
            }
        }
        Ok(())
    }

    /// Whether this (archive member) object defines a symbol still wanted.
    pub(super) fn defines_wanted(&self, state: &Symbols<'_>) -> Result<bool> {
        for g in self.globals() {
            let (_, name, kind) = g?;
            if matches!(kind, Kind::Defined { .. }) && state.wanted(name) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn section_name(&self, i: usize) -> Result<&'d [u8]> {
        let sh = self.sh(i);
        self.sections.section_name(self.endian, sh).map_err(|_| {
            bad(
                self.short,
                "a section name lies outside the section name table",
            )
        })
    }

    fn sh(&self, i: usize) -> &'d E::SectionHeader {
        &self.sections.iter().as_slice()[i]
    }

    /// The group section `i`: (flags, member section indices).
    fn group(&self, i: usize) -> Result<(u32, &'d [U32<Endianness>])> {
        match self.sh(i).group(self.endian, self.data) {
            Ok(Some((flags, members))) => Ok((flags.0, members)),
            _ => Err(bad(self.short, "malformed section group")),
        }
    }

    /// The signature of group section `i`: its symbol's name, or the section's name for a
    /// section symbol.
    fn signature(&self, i: usize) -> Result<&'d [u8]> {
        let info = self.sh(i).sh_info(self.endian) as usize;
        let sym = self
            .symbols
            .symbols()
            .get(info)
            .filter(|_| info != 0)
            .ok_or(bad(
                self.short,
                "a section group's signature symbol does not exist",
            ))?;
        if sym.st_type() == elf::STT_SECTION {
            if let Some(s) = self.symbol_section(sym, info)? {
                return self.section_name(s);
            }
        }
        self.symbol_name(sym)
    }
}

/// What becomes of one input section.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Fate {
    /// Not copied: the null section, the symbol and string tables (written anew).
    Omit,
    /// Copied to this output section.
    Keep(u32),
    /// Dropped with a duplicate COMDAT group; references to it go to the kept group's
    /// section of the same name and size (object position, section index), when there is
    /// one.
    Dropped(Option<(usize, usize)>),
}

/// The best definition of a global symbol found so far: (object position, symbol index).
#[derive(Clone, Copy)]
enum Best {
    None,
    Weak {
        at: (usize, usize),
    },
    Common {
        at: (usize, usize),
        size: u64,
        align: u64,
    },
    Strong {
        at: (usize, usize),
        unique: bool,
    },
}

/// One global symbol of the combined object.
struct Global<'d> {
    name: &'d [u8],
    best: Best,
    /// Referenced, not weakly, or defined in a dropped section (for the binding of an
    /// undefined output symbol).
    strong_ref: bool,
    /// The first appearance (object position, symbol index): the type of an undefined one.
    first: (usize, usize),
    /// The most constraining visibility seen.
    visibility: u8,
    /// Its output symbol index.
    out: u32,
}

/// The body of an output section.
enum Body<'d> {
    /// Bytes copied as they are, aligned in the file to this.
    Bytes(&'d [u8], u64),
    /// No bytes in the file.
    NoBits,
    /// Rewritten relocations (`true`: RELA).
    Relocations(Vec<Rel>, bool),
    /// A rewritten group: flags and member indices, in the file's byte order.
    Group(Vec<u8>),
}

/// One output section copied from an input.
struct Out<'d> {
    name: StringId,
    header: OutSection,
    body: Body<'d>,
}

/// Symbol map entry for a local symbol whose section was dropped without a stand-in.
const DISCARDED: u32 = u32::MAX;

/// Write the combined object of `objs`; return it and, for each section copied from an
/// input, (output index, unit, input index).
#[allow(clippy::type_complexity)]
pub(super) fn write<E: FileHeader<Endian = Endianness>>(
    objs: &[&Object<'_, E>],
    shorts: &[Name],
    flags: u32,
) -> Result<(Vec<u8>, Vec<(u32, usize, u32)>)> {
    let first = objs[0];
    let endian = first.endian;
    let mut fates = fates(objs)?;

    let mut buffer = Vec::new();
    let mut writer = Writer::new(endian, first.header.is_type_64(), &mut buffer);
    writer.reserve_file_header();
    writer.reserve_null_section_index();
    let mut origins = Vec::new();
    let mut names = Vec::new();
    for (p, o) in objs.iter().enumerate() {
        for i in 0..fates[p].len() {
            if fates[p][i] == Fate::Keep(0) {
                let out = writer.reserve_section_index().0;
                if out >= u32::from(elf::SHN_LORESERVE) - 4 {
                    return Err(Error::TooLarge {
                        what: "sections in the combined object",
                        value: u64::from(out),
                        limit: u64::from(elf::SHN_LORESERVE) - 4,
                    });
                }
                fates[p][i] = Fate::Keep(out);
                names.push(writer.add_section_name(o.section_name(i)?));
                origins.push((out, o.unit, i as u32));
            }
        }
    }
    let symtab = writer.reserve_symtab_section_index().0;
    writer.reserve_strtab_section_index();
    writer.reserve_shstrtab_section_index();

    // Global symbols, resolved across the objects.
    let mut globals: Vec<Global<'_>> = Vec::new();
    let mut by_name: BTreeMap<&[u8], usize> = BTreeMap::new();
    let mut global_of: Vec<Vec<u32>> = Vec::with_capacity(objs.len());
    for (p, o) in objs.iter().enumerate() {
        let mut ids = vec![DISCARDED; o.symbols.len()];
        for g in o.globals() {
            let (j, name, kind) = g?;
            let sym = &o.symbols.symbols()[j];
            // A definition in a dropped section is a reference to the kept one.
            let kind = match (kind, o.symbol_section(sym, j)?) {
                (Kind::Defined { .. }, Some(s)) if !matches!(fates[p][s], Fate::Keep(_)) => {
                    Kind::Undefined { weak: false }
                }
                (k, _) => k,
            };
            let id = *by_name.entry(name).or_insert_with(|| {
                globals.push(Global {
                    name,
                    best: Best::None,
                    strong_ref: false,
                    first: (p, j),
                    visibility: 0,
                    out: 0,
                });
                globals.len() - 1
            });
            ids[j] = id as u32;
            let g = &mut globals[id];
            g.visibility = stricter(g.visibility, sym.st_visibility().0);
            let value: u64 = sym.st_value(o.endian).into();
            let size: u64 = sym.st_size(o.endian).into();
            g.best = match (g.best, kind) {
                (_, Kind::Undefined { weak }) => {
                    g.strong_ref |= !weak;
                    g.best
                }
                (Best::Strong { at, unique }, Kind::Defined { weak: false }) => {
                    if !(unique && sym.st_bind() == elf::STB_GNU_UNIQUE) {
                        return Err(Error::DuplicateSymbol {
                            symbol: Name::new(name),
                            first: shorts[objs[at.0].unit],
                            second: shorts[o.unit],
                        });
                    }
                    g.best
                }
                (_, Kind::Defined { weak: false }) => Best::Strong {
                    at: (p, j),
                    unique: sym.st_bind() == elf::STB_GNU_UNIQUE,
                },
                (Best::Strong { .. }, _) => g.best,
                (Best::Common { at, size: s, align }, Kind::Common) => Best::Common {
                    at,
                    size: s.max(size),
                    align: align.max(value),
                },
                (_, Kind::Common) => Best::Common {
                    at: (p, j),
                    size,
                    align: value,
                },
                (Best::None, Kind::Defined { weak: true }) => Best::Weak { at: (p, j) },
                (b, Kind::Defined { weak: true }) => b,
            };
        }
        global_of.push(ids);
    }

    // Output symbols: the null symbol, every object's locals, then the globals.
    let mut symmap: Vec<Vec<u32>> = Vec::with_capacity(objs.len());
    let mut locals: Vec<(usize, usize, Option<u32>, Option<StringId>)> = Vec::new();
    writer.reserve_null_symbol_index();
    for (p, o) in objs.iter().enumerate() {
        let mut map = vec![0u32; o.symbols.len()];
        for (j, sym) in o.symbols.enumerate().skip(1) {
            let j = j.0;
            if sym.st_bind() != elf::STB_LOCAL {
                continue;
            }
            let section = match o.symbol_section(sym, j)? {
                Some(s) => match out_section(&fates, p, s) {
                    Some(out) => Some(out),
                    None => {
                        map[j] = DISCARDED;
                        continue;
                    }
                },
                None => None,
            };
            let name = o.symbol_name(sym)?;
            let id = (!name.is_empty()).then(|| writer.add_string(name));
            map[j] = writer.reserve_symbol_index(section.map(OutIndex)).0;
            locals.push((p, j, section, id));
        }
        symmap.push(map);
    }
    let num_local = writer.symbol_count();
    let mut global_ids = Vec::with_capacity(globals.len());
    for g in &mut globals {
        global_ids.push(writer.add_string(g.name));
        let section = match g.best {
            Best::Strong { at, .. } | Best::Weak { at } => {
                let o = objs[at.0];
                o.symbol_section(&o.symbols.symbols()[at.1], at.1)?
                    .and_then(|s| out_section(&fates, at.0, s))
            }
            _ => None,
        };
        g.out = writer.reserve_symbol_index(section.map(OutIndex)).0;
    }
    for (p, ids) in global_of.iter().enumerate() {
        for (j, &id) in ids.iter().enumerate() {
            if id != DISCARDED {
                symmap[p][j] = globals[id as usize].out;
            }
        }
    }

    // Output sections copied from the inputs, their links rewritten.
    let mut outs: Vec<Out<'_>> = Vec::with_capacity(names.len());
    let mut names = names.into_iter();
    for (p, o) in objs.iter().enumerate() {
        for (i, fate) in fates[p].iter().enumerate() {
            if !matches!(fate, Fate::Keep(_)) {
                continue;
            }
            let sh = o.sh(i);
            let ty = sh.sh_type(o.endian);
            let sh_flags = sh.sh_flags(o.endian);
            let map_section = |s: u32| out_section(&fates, p, s as usize).unwrap_or(0);
            let link = sh.sh_link(o.endian);
            let info = sh.sh_info(o.endian);
            let (sh_link, sh_info, body) = if ty == elf::SHT_REL || ty == elf::SHT_RELA {
                let rels = relocations(o, i, &symmap[p])?;
                (
                    symtab,
                    map_section(info),
                    Body::Relocations(rels, ty == elf::SHT_RELA),
                )
            } else if ty == elf::SHT_GROUP {
                let (flags, members) = o.group(i)?;
                let mut bytes = Vec::with_capacity(4 * (members.len() + 1));
                bytes.extend_from_slice(&endian.write_u32(flags));
                for m in members {
                    let out = map_section(m.get(endian));
                    bytes.extend_from_slice(&endian.write_u32(out));
                }
                let sig = symmap[p].get(info as usize).copied().unwrap_or(0);
                (
                    symtab,
                    if sig == DISCARDED { 0 } else { sig },
                    Body::Group(bytes),
                )
            } else {
                let link = if link == 0 { 0 } else { map_section(link) };
                let info = if sh_flags.0 & elf::SHF_INFO_LINK.0 != 0 {
                    map_section(info)
                } else {
                    info
                };
                let body = if ty == elf::SHT_NOBITS {
                    Body::NoBits
                } else {
                    let bytes = sh
                        .data(o.endian, o.data)
                        .map_err(|_| bad(o.short, "a section extends past the end of the file"))?;
                    Body::Bytes(bytes, file_align(sh.sh_addralign(o.endian).into()))
                };
                (link, info, body)
            };
            outs.push(Out {
                name: names.next().ok_or(bad(o.short, "section count changed"))?,
                header: OutSection {
                    sh_name: 0,
                    sh_type: ty,
                    sh_flags,
                    sh_addr: sh.sh_addr(o.endian).into(),
                    sh_offset: 0,
                    sh_size: sh.sh_size(o.endian).into(),
                    sh_link,
                    sh_info,
                    sh_addralign: sh.sh_addralign(o.endian).into(),
                    sh_entsize: sh.sh_entsize(o.endian).into(),
                },
                body,
            });
        }
    }

    // Reserve the file: section bodies, symbol table, strings, section headers.
    for out in &mut outs {
        out.header.sh_offset = match &out.body {
            Body::Bytes(b, align) => writer.reserve(b.len() as u64, *align),
            Body::NoBits => writer.reserved_len(),
            Body::Relocations(r, rela) => writer.reserve_relocations(r.len(), *rela),
            Body::Group(b) => writer.reserve(b.len() as u64, 4),
        };
        if let Body::Relocations(r, rela) = &out.body {
            let entry = match (first.header.is_type_64(), rela) {
                (true, true) => 24,
                (true, false) => 16,
                (false, true) => 12,
                (false, false) => 8,
            };
            out.header.sh_size = entry * r.len() as u64;
            out.header.sh_entsize = entry;
        }
    }
    writer.reserve_symtab();
    writer.reserve_strtab().map_err(|_| too_large())?;
    writer.reserve_shstrtab().map_err(|_| too_large())?;
    writer.reserve_section_headers();
    if !first.header.is_type_64() && writer.reserved_len() > u64::from(u32::MAX) {
        return Err(too_large());
    }

    // Write it.
    let ident = first.header.e_ident();
    writer
        .write_file_header(&OutHeader {
            os_abi: ident.os_abi,
            abi_version: ident.abi_version,
            e_type: elf::ET_REL,
            e_machine: first.header.e_machine(endian),
            e_entry: 0,
            e_flags: elf::FileFlags(flags),
        })
        .map_err(|_| too_large())?;
    for out in &outs {
        match &out.body {
            Body::Bytes(b, align) => {
                writer.write_align(*align);
                writer.write(b);
            }
            Body::NoBits => {}
            Body::Relocations(rels, rela) => {
                writer.write_align_relocation();
                for r in rels {
                    writer.write_relocation(*rela, r);
                }
            }
            Body::Group(b) => {
                writer.write_align(4);
                writer.write(b);
            }
        }
    }
    writer.write_null_symbol();
    for &(p, j, section, name) in &locals {
        let o = objs[p];
        let sym = &o.symbols.symbols()[j];
        writer.write_symbol(&OutSym {
            section,
            st_name: writer.string_offset(name),
            st_info: sym.st_info(),
            st_other: sym.st_other(),
            st_shndx: sym.st_shndx(o.endian),
            st_value: sym.st_value(o.endian).into(),
            st_size: sym.st_size(o.endian).into(),
        });
    }
    for (g, &name) in globals.iter().zip(&global_ids) {
        let sym = global_symbol(objs, g, &fates)?;
        writer.write_symbol(&OutSym {
            st_name: writer.string_offset(Some(name)),
            ..sym
        });
    }
    writer.write_strtab();
    writer.write_shstrtab();
    writer.write_null_section_header();
    for out in &outs {
        writer.write_section_header(&OutSection {
            sh_name: writer.section_name_offset(Some(out.name)),
            ..out.header.clone()
        });
    }
    writer.write_symtab_section_header(num_local);
    writer.write_strtab_section_header();
    writer.write_shstrtab_section_header();
    debug_assert_eq!(writer.reserved_len(), writer.len());
    Ok((buffer, origins))
}

/// The output symbol (without its name) for global `g`.
fn global_symbol<E: FileHeader<Endian = Endianness>>(
    objs: &[&Object<'_, E>],
    g: &Global<'_>,
    fates: &[Vec<Fate>],
) -> Result<OutSym> {
    let with_visibility = |other: elf::SymbolOther| elf::SymbolOther((other.0 & !3) | g.visibility);
    Ok(match g.best {
        Best::Strong { at, .. } | Best::Weak { at } => {
            let o = objs[at.0];
            let sym = &o.symbols.symbols()[at.1];
            let section = o
                .symbol_section(sym, at.1)?
                .and_then(|s| out_section(fates, at.0, s));
            OutSym {
                section,
                st_name: 0,
                st_info: sym.st_info(),
                st_other: with_visibility(sym.st_other()),
                st_shndx: sym.st_shndx(o.endian),
                st_value: sym.st_value(o.endian).into(),
                st_size: sym.st_size(o.endian).into(),
            }
        }
        Best::Common { at, size, align } => {
            let o = objs[at.0];
            let sym = &o.symbols.symbols()[at.1];
            OutSym {
                section: None,
                st_name: 0,
                st_info: sym.st_info(),
                st_other: with_visibility(sym.st_other()),
                st_shndx: elf::SHN_COMMON,
                st_value: align,
                st_size: size,
            }
        }
        Best::None => {
            let o = objs[g.first.0];
            let sym = &o.symbols.symbols()[g.first.1];
            let bind = if g.strong_ref {
                elf::STB_GLOBAL
            } else {
                elf::STB_WEAK
            };
            OutSym {
                section: None,
                st_name: 0,
                st_info: elf::SymbolInfo::new(bind, sym.st_type()),
                st_other: with_visibility(sym.st_other()),
                st_shndx: elf::SHN_UNDEF,
                st_value: 0,
                st_size: 0,
            }
        }
    })
}

/// The output section of section `i` of object `p`: its own copy, or the kept stand-in of a
/// section dropped with a duplicate COMDAT group.
fn out_section(fates: &[Vec<Fate>], p: usize, i: usize) -> Option<u32> {
    match fates.get(p)?.get(i)? {
        Fate::Keep(o) => Some(*o),
        Fate::Dropped(Some((q, j))) => match fates[*q][*j] {
            Fate::Keep(o) => Some(o),
            _ => None,
        },
        _ => None,
    }
}

/// The more constraining of two visibilities (default < protected < hidden < internal).
fn stricter(a: u8, b: u8) -> u8 {
    match (a, b) {
        (0, x) | (x, 0) => x,
        (x, y) => x.min(y),
    }
}

/// What becomes of every section of every object: COMDAT groups after the first of a
/// signature are dropped, relocation sections follow the section they patch.
fn fates<E: FileHeader<Endian = Endianness>>(objs: &[&Object<'_, E>]) -> Result<Vec<Vec<Fate>>> {
    // Kept COMDAT groups by signature: (object position, group section index).
    let mut kept: BTreeMap<&[u8], (usize, usize)> = BTreeMap::new();
    let mut all = Vec::with_capacity(objs.len());
    for (p, o) in objs.iter().enumerate() {
        let count = o.sections.len();
        let mut fates = vec![Fate::Keep(0); count];
        let shstrndx = o
            .header
            .shstrndx(o.endian, o.data)
            .map_err(|_| bad(o.short, "malformed section name table index"))?
            as usize;
        let symtab = o.symbols.section().0;
        let strtab = o.symbols.string_section().0;
        for (i, sh) in o.sections.iter().enumerate() {
            let ty = sh.sh_type(o.endian);
            if ty == elf::SHT_CREL {
                return Err(bad(
                    o.short,
                    "compact relocations (SHT_CREL) are not supported; assemble without --crel",
                ));
            }
            if i == 0
                || ty == elf::SHT_SYMTAB
                || ty == elf::SHT_SYMTAB_SHNDX
                || (ty == elf::SHT_STRTAB && (i == shstrndx || (symtab != 0 && i == strtab)))
            {
                fates[i] = Fate::Omit;
            }
        }
        for i in 0..count {
            if o.sh(i).sh_type(o.endian) != elf::SHT_GROUP || fates[i] != Fate::Keep(0) {
                continue;
            }
            let (flags, members) = o.group(i)?;
            if flags & elf::GRP_COMDAT.0 == 0 {
                continue;
            }
            let signature = o.signature(i)?;
            let Some(&(q, g)) = kept.get(signature) else {
                kept.insert(signature, (p, i));
                continue;
            };
            fates[i] = Fate::Dropped(None);
            let (_, theirs) = objs[q].group(g)?;
            for m in members {
                let m = m.get(o.endian) as usize;
                if m == 0 || m >= count {
                    return Err(bad(
                        o.short,
                        "a section group lists a section that does not exist",
                    ));
                }
                let name = o.section_name(m)?;
                let mut stand_in = None;
                for t in theirs {
                    let t = t.get(o.endian) as usize;
                    // The same name and size: the same code, by the one-definition rule.
                    if t < objs[q].sections.len()
                        && objs[q].section_name(t)? == name
                        && objs[q].sh(t).sh_size(o.endian).into()
                            == o.sh(m).sh_size(o.endian).into()
                    {
                        stand_in = Some((q, t));
                        break;
                    }
                }
                fates[m] = Fate::Dropped(stand_in);
            }
        }
        for i in 0..count {
            let sh = o.sh(i);
            let ty = sh.sh_type(o.endian);
            if fates[i] != Fate::Keep(0) || (ty != elf::SHT_REL && ty != elf::SHT_RELA) {
                continue;
            }
            let target = sh.sh_info(o.endian) as usize;
            if target == 0 || target >= count {
                return Err(bad(
                    o.short,
                    "a relocation section patches a section that does not exist",
                ));
            }
            if sh.sh_link(o.endian) as usize != symtab || symtab == 0 {
                return Err(bad(
                    o.short,
                    "a relocation section does not use the object's symbol table",
                ));
            }
            if matches!(fates[target], Fate::Dropped(_)) {
                fates[i] = Fate::Dropped(None);
            }
        }
        all.push(fates);
    }
    Ok(all)
}

/// The relocations of section `r` of `o`, their symbols renumbered by `symmap`.
fn relocations<E: FileHeader<Endian = Endianness>>(
    o: &Object<'_, E>,
    r: usize,
    symmap: &[u32],
) -> Result<Vec<Rel>> {
    let sh = o.sh(r);
    let target = sh.sh_info(o.endian) as usize;
    let target_sh = o.sh(target);
    // A reference from loaded bytes to a dropped section cannot be given a value; from
    // debug information or the unwind table (which the loader ignores) it becomes 0.
    let loaded = target_sh.sh_flags(o.endian).0 & elf::SHF_ALLOC.0 != 0
        && o.section_name(target)? != b".eh_frame";
    let map = |sym: u32| -> Result<u32> {
        match symmap.get(sym as usize) {
            None => Err(bad(
                o.short,
                "a relocation refers to a symbol that does not exist",
            )),
            Some(&DISCARDED) if loaded => Err(Error::DiscardedReference {
                input: o.short,
                section: Name::new(o.section_name(target).unwrap_or(b"")),
            }),
            Some(&DISCARDED) => Ok(0),
            Some(&s) => Ok(s),
        }
    };
    let malformed = || bad(o.short, "malformed relocation section");
    let mut out = Vec::new();
    if sh.sh_type(o.endian) == elf::SHT_RELA {
        let (entries, _) = sh
            .rela(o.endian, o.data)
            .map_err(|_| malformed())?
            .ok_or_else(malformed)?;
        out.reserve(entries.len());
        for e in entries {
            out.push(Rel {
                r_offset: e.r_offset(o.endian).into(),
                r_sym: map(e.r_sym(o.endian, false))?,
                r_type: e.r_type(o.endian, false),
                r_addend: e.r_addend(o.endian).into(),
            });
        }
    } else {
        let (entries, _) = sh
            .rel(o.endian, o.data)
            .map_err(|_| malformed())?
            .ok_or_else(malformed)?;
        out.reserve(entries.len());
        for e in entries {
            out.push(Rel {
                r_offset: e.r_offset(o.endian).into(),
                r_sym: map(e.r_sym(o.endian))?,
                r_type: e.r_type(o.endian),
                r_addend: 0,
            });
        }
    }
    Ok(out)
}

/// The file alignment of a section's bytes: its own, up to a page (a larger or malformed
/// alignment only costs in-place use, which the loader checks).
fn file_align(align: u64) -> u64 {
    if align.is_power_of_two() {
        align.min(4096)
    } else {
        1
    }
}

fn too_large() -> Error {
    Error::TooLarge {
        what: "combined object",
        value: u64::from(u32::MAX) + 1,
        limit: u64::from(u32::MAX),
    }
}
