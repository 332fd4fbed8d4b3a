//! What an object contains, read with the `object` crate: architecture, sections,
//! relocation counts per type, undefined and exported symbols.

use std::collections::{BTreeMap, BTreeSet};

use elfext::Arch;
use object::elf::{self, FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, Rel, Rela, SectionHeader, Sym};
use object::LittleEndian as LE;
use serde::Serialize;

use crate::error::CliError;

/// One section of the object.
#[derive(Clone, Debug, Serialize)]
pub struct SectionInfo {
    /// Section header index.
    pub index: u32,
    /// Its name.
    pub name: String,
    /// `sh_type` by name, without `SHT_` (`PROGBITS`, `NOBITS`, ...).
    #[serde(rename = "type")]
    pub ty: String,
    /// `sh_flags` as letters, as readelf shows them (`W` write, `A` alloc, `X` exec, ...).
    pub flags: String,
    /// Size in bytes.
    pub size: u64,
    /// Alignment.
    pub align: u64,
    /// Relocations that patch it.
    pub relocations: u64,
    /// Whether it occupies memory when loaded (`SHF_ALLOC`).
    #[serde(skip)]
    pub alloc: bool,
}

/// How many relocations of one type the object has.
#[derive(Clone, Debug, Serialize)]
pub struct RelocCount {
    /// The type's name (`R_ARM_THM_CALL`), or `type N` when it has none.
    #[serde(rename = "type")]
    pub name: String,
    /// `r_type`.
    pub raw: u32,
    /// Relocations of this type.
    pub count: u64,
    /// Whether elfext applies this type.
    pub supported: bool,
    /// Where the first one is: `section+offset`.
    pub first: String,
}

/// An undefined symbol.
#[derive(Clone, Debug, Serialize)]
pub struct Undefined {
    /// Its name.
    pub name: String,
    /// A weak reference (0 when nobody defines it).
    pub weak: bool,
    /// Whether a relocation uses it (only those must be resolved to link).
    pub referenced: bool,
}

/// A symbol the extension exports: global or weak, defined, not hidden.
#[derive(Clone, Debug, Serialize)]
pub struct Exported {
    /// Its name.
    pub name: String,
    /// `function`, `object`, `tls` or `other`.
    pub kind: &'static str,
    /// The section it is defined in (`COMMON` for common symbols, `ABS` for absolute ones).
    pub section: String,
    /// `st_value`.
    pub value: u64,
    /// `st_size`.
    pub size: u64,
}

/// Everything `inspect` shows that comes from reading the object (not from loading it).
#[derive(Clone, Debug)]
pub struct ObjectInfo {
    /// The architecture, from the ELF header.
    pub arch: Arch,
    /// Size of the object in bytes.
    pub size: u64,
    /// Sections in index order (the null section left out).
    pub sections: Vec<SectionInfo>,
    /// Relocation counts per type, by type number.
    pub relocations: Vec<RelocCount>,
    /// Undefined symbols, by name.
    pub undefined: Vec<Undefined>,
    /// Exported symbols, by name.
    pub exported: Vec<Exported>,
}

impl ObjectInfo {
    /// Relocation types elfext does not apply.
    pub fn unsupported(&self) -> impl Iterator<Item = &RelocCount> + '_ {
        self.relocations.iter().filter(|r| !r.supported)
    }
}

/// The name of relocation type `raw` of `arch`, as the ELF specification spells it.
pub fn reloc_name(arch: Arch, raw: u32) -> String {
    elf::machine_names(arch.machine())
        .r
        .name(elf::RelocationType(raw))
        .map_or_else(|| format!("type {raw}"), str::to_string)
}

/// A one-line error about a malformed file.
pub fn malformed(what: &str, problem: impl std::fmt::Display) -> CliError {
    CliError::Failed(format!(
        "{what}: malformed ELF file ({problem}); it may be truncated or damaged: rebuild it"
    ))
}

/// Check the identification of an ELF file and say whether it is ELF64; `what` names it
/// in errors.
pub fn ident(bytes: &[u8], what: &str) -> Result<bool, CliError> {
    if !bytes.starts_with(&elf::ELFMAG) {
        return Err(CliError::Failed(format!(
            "{what}: not an ELF file (it does not start with \\x7fELF); give an object built with `cc -c`"
        )));
    }
    let is_64 = match bytes.get(4).copied() {
        Some(c) if c == elf::ELFCLASS32.0 => false,
        Some(c) if c == elf::ELFCLASS64.0 => true,
        Some(c) => {
            return Err(malformed(
                what,
                format_args!("ELF class {c} is neither 32 nor 64 bits"),
            ))
        }
        None => return Err(malformed(what, "the ELF header is cut short")),
    };
    if bytes.get(5) != Some(&elf::ELFDATA2LSB.0) {
        return Err(CliError::Failed(format!(
            "{what}: not a little-endian ELF file; elfext links little-endian objects only"
        )));
    }
    Ok(is_64)
}

/// The architecture of an ELF file, from its header; `what` names it in errors.
pub fn arch_of(machine: elf::Machine, is_64: bool, what: &str) -> Result<Arch, CliError> {
    let arch = match machine {
        elf::EM_X86_64 => Arch::X86_64,
        elf::EM_ARM => Arch::Arm,
        elf::EM_AARCH64 => Arch::Aarch64,
        elf::EM_RISCV if is_64 => Arch::Riscv64,
        elf::EM_RISCV => Arch::Riscv32,
        m => {
            let name = m.name().unwrap_or("an unknown machine");
            return Err(CliError::Failed(format!(
                "{what}: built for {name} (e_machine {}); elfext links x86-64, ARM, AArch64, RV32 and RV64 objects",
                m.0
            )));
        }
    };
    if arch.is_64() != is_64 {
        return Err(CliError::Failed(format!(
            "{what}: an ELF{} header for {arch}, whose objects are ELF{}; the file is damaged or not a {arch} object",
            if is_64 { 64 } else { 32 },
            if arch.is_64() { 64 } else { 32 },
        )));
    }
    Ok(arch)
}

/// Read what a relocatable object contains; `what` names it in errors.
pub fn read(bytes: &[u8], what: &str) -> Result<ObjectInfo, CliError> {
    if ident(bytes, what)? {
        read_class::<FileHeader64<LE>>(bytes, what)
    } else {
        read_class::<FileHeader32<LE>>(bytes, what)
    }
}

fn read_class<E: FileHeader<Endian = LE>>(
    bytes: &[u8],
    what: &str,
) -> Result<ObjectInfo, CliError> {
    let bad = |e: object::read::Error| malformed(what, e);
    let header = E::parse(bytes).map_err(bad)?;
    let arch = arch_of(header.e_machine(LE), E::is_type_64_sized(), what)?;
    let e_type = header.e_type(LE);
    if e_type != elf::ET_REL {
        let kind = e_type.name().unwrap_or("an unknown type");
        return Err(CliError::Failed(format!(
            "{what}: not a relocatable object ({kind}); give an object built with `cc -c`"
        )));
    }
    let sections = header.sections(LE, bytes).map_err(bad)?;
    let symbols = sections.symbols(LE, bytes, elf::SHT_SYMTAB).map_err(bad)?;

    // Relocations: per type, per patched section, and which symbols they use.
    let mut per_type: BTreeMap<u32, RelocCount> = BTreeMap::new();
    let mut per_section: BTreeMap<u32, u64> = BTreeMap::new();
    let mut used = BTreeSet::new();
    for sh in sections.iter() {
        let entries: Vec<(u64, u32, u32)> =
            if let Some((rels, _)) = sh.rel(LE, bytes).map_err(bad)? {
                rels.iter()
                    .map(|r| (r.r_offset(LE).into(), r.r_type(LE).0, r.r_sym(LE)))
                    .collect()
            } else if let Some((relas, _)) = sh.rela(LE, bytes).map_err(bad)? {
                relas
                    .iter()
                    .map(|r| {
                        (
                            r.r_offset(LE).into(),
                            r.r_type(LE, false).0,
                            r.r_sym(LE, false),
                        )
                    })
                    .collect()
            } else {
                continue;
            };
        let target = sh.sh_info(LE);
        let target_name = sections
            .section(object::SectionIndex(target as usize))
            .and_then(|t| sections.section_name(LE, t))
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .unwrap_or_else(|_| format!("section {target}"));
        *per_section.entry(target).or_default() += entries.len() as u64;
        for (offset, rtype, sym) in entries {
            used.insert(sym);
            let c = per_type.entry(rtype).or_insert_with(|| RelocCount {
                name: reloc_name(arch, rtype),
                raw: rtype,
                count: 0,
                supported: arch.supports_relocation(rtype),
                first: format!("{target_name}+{offset:#x}"),
            });
            c.count += 1;
        }
    }

    let mut infos = Vec::new();
    for (i, sh) in sections.iter().enumerate().skip(1) {
        let name = sections.section_name(LE, sh).map_err(bad)?;
        let sh_type = sh.sh_type(LE);
        let flags = sh.sh_flags(LE).0;
        infos.push(SectionInfo {
            index: i as u32,
            name: String::from_utf8_lossy(name).into_owned(),
            ty: elf::machine_names(arch.machine())
                .sht
                .name(sh_type)
                .map(|n| n.trim_start_matches("SHT_").to_string())
                .unwrap_or_else(|| format!("{:#x}", sh_type.0)),
            flags: flag_letters(flags),
            size: sh.sh_size(LE).into(),
            align: sh.sh_addralign(LE).into(),
            relocations: per_section.get(&(i as u32)).copied().unwrap_or(0),
            alloc: flags & elf::SHF_ALLOC.0 != 0,
        });
    }

    let strings = symbols.strings();
    let mut undefined = BTreeMap::new();
    let mut exported = BTreeMap::new();
    for (i, sym) in symbols.iter().enumerate().skip(1) {
        let bind = sym.st_bind();
        if bind != elf::STB_GLOBAL && bind != elf::STB_WEAK {
            continue;
        }
        let name = String::from_utf8_lossy(sym.name(LE, strings).map_err(bad)?).into_owned();
        if name.is_empty() {
            continue;
        }
        let weak = bind == elf::STB_WEAK;
        let shndx = sym.st_shndx(LE);
        if shndx == elf::SHN_UNDEF {
            if name == "_GLOBAL_OFFSET_TABLE_" {
                continue;
            }
            let u = undefined.entry(name.clone()).or_insert(Undefined {
                name,
                weak,
                referenced: false,
            });
            u.referenced |= used.contains(&(i as u32));
            continue;
        }
        let vis = sym.st_visibility();
        if vis == elf::STV_HIDDEN || vis == elf::STV_INTERNAL {
            continue;
        }
        let section = if shndx == elf::SHN_COMMON {
            "COMMON".to_string()
        } else if shndx == elf::SHN_ABS {
            "ABS".to_string()
        } else {
            sections
                .section(object::SectionIndex(usize::from(shndx.0)))
                .and_then(|s| sections.section_name(LE, s))
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_else(|_| format!("section {}", shndx.0))
        };
        let st_type = sym.st_type();
        exported.insert(
            name.clone(),
            Exported {
                name,
                kind: if st_type == elf::STT_FUNC {
                    "function"
                } else if st_type == elf::STT_OBJECT || st_type == elf::STT_COMMON {
                    "object"
                } else if st_type == elf::STT_TLS {
                    "tls"
                } else {
                    "other"
                },
                section,
                value: sym.st_value(LE).into(),
                size: sym.st_size(LE).into(),
            },
        );
    }
    Ok(ObjectInfo {
        arch,
        size: bytes.len() as u64,
        sections: infos,
        relocations: per_type.into_values().collect(),
        undefined: undefined.into_values().collect(),
        exported: exported.into_values().collect(),
    })
}

fn flag_letters(flags: u64) -> String {
    let mut out = String::new();
    for (bit, c) in [
        (elf::SHF_WRITE, 'W'),
        (elf::SHF_ALLOC, 'A'),
        (elf::SHF_EXECINSTR, 'X'),
        (elf::SHF_MERGE, 'M'),
        (elf::SHF_STRINGS, 'S'),
        (elf::SHF_INFO_LINK, 'I'),
        (elf::SHF_GROUP, 'G'),
        (elf::SHF_TLS, 'T'),
    ] {
        if flags & bit.0 != 0 {
            out.push(c);
        }
    }
    out
}
