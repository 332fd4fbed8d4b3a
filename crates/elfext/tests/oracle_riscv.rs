//! GNU ld is the oracle for RISC-V relocation, RV32 and RV64: C extensions built with the
//! cross gcc at -O0 and -O2, with and without linker relaxation, in the medlow and medany
//! code models and with -fPIC, and an assembly file using the types compilers do not emit,
//! must link to the same bytes with elfext as with `riscv64-unknown-elf-ld --no-relax` at
//! the same addresses. Far `jal`s go through veneers, range errors name the relocation, and
//! the types GNU binutils 2.40 cannot write (PLT32, SET_ULEB128, SUB_ULEB128) are checked
//! against values computed here.

mod oracle;

use std::path::PathBuf;

use elfext::{Arch, BufLoader, Error, ExportMap, Granules, Placed, Registry, TargetMemory};
use elfext_testkit::{build_path, Compiler};
use object::elf::*;
use object::read::elf::{FileHeader, Rela as _, SectionHeader as _, Sym as _};
use object::LittleEndian as LE;

const GCC: Compiler = Compiler::Cross("riscv64-unknown-elf-gcc");
const LD: &str = "riscv64-unknown-elf-ld";
/// Where elfext places extensions (a 32-bit address: RV32 and the medlow model need one).
const BASE: u64 = 0x2000_0000;
/// Where the stand-in host exports live: 256 MiB below, out of `jal` reach, within `call`'s.
const HOST: u64 = 0x1000_0000;

/// One RISC-V target: its architecture, compiler flags and GNU ld flags.
struct Target {
    arch: Arch,
    isa: &'static [&'static str],
    ld: &'static [&'static str],
}

const TARGETS: [Target; 2] = [
    Target {
        arch: Arch::Riscv32,
        isa: &["-march=rv32imac", "-mabi=ilp32"],
        ld: &["--no-relax", "-m", "elf32lriscv"],
    },
    Target {
        arch: Arch::Riscv64,
        isa: &["-march=rv64imac", "-mabi=lp64"],
        ld: &["--no-relax"],
    },
];

/// Whether the cross compiler and GNU ld are installed; says so when they are not.
fn toolchain() -> bool {
    oracle::toolchain(&[GCC.command(), LD], "riscv")
}

/// Portable C extensions (shared with the x86-64 tests) and a RISC-V one.
fn c_sources() -> Vec<&'static str> {
    oracle::sources(&["riscv/calls.c"], &[])
}

/// Code models and position independence.
const MODELS: &[&[&str]] = &[
    &["-fno-pic", "-mcmodel=medlow"],
    &["-fno-pic", "-mcmodel=medany"],
    &["-fPIC", "-mcmodel=medany"],
];

struct Obj {
    label: String,
    path: PathBuf,
    bytes: Vec<u8>,
}

fn build(t: &Target, source: &str, flags: &[&str]) -> Obj {
    let mut all = t.isa.to_vec();
    all.extend_from_slice(flags);
    let path = build_path(GCC, source, &all);
    let bytes = std::fs::read(&path).expect("read object");
    Obj {
        label: format!("{source} {}", all.join(" ")),
        path,
        bytes,
    }
}

fn exports(t: &Target, bytes: &[u8]) -> Vec<(String, u64)> {
    oracle::fake_exports(bytes, t.arch, HOST)
}

/// Link with elfext and GNU ld and compare; the number of sections compared.
fn compare(t: &Target, obj: &Obj) -> Result<usize, String> {
    let exports = exports(t, &obj.bytes);
    let exports: Vec<(&str, u64)> = exports.iter().map(|(n, a)| (n.as_str(), *a)).collect();
    oracle::compare(&obj.path, &obj.bytes, t.arch, LD, t.ld, BASE, &exports)
        .map(|c| c.sections)
        .map_err(|e| format!("{}: {e}", obj.label))
}

/// One relocation of an object.
#[derive(Clone, Debug)]
struct Reloc {
    /// The section it patches.
    section: u32,
    offset: u64,
    rtype: u32,
    addend: i64,
    /// Its symbol's section index (0 when undefined or absent), value and name.
    sym_shndx: u16,
    sym_value: u64,
    sym_name: String,
}

/// Every relocation of an object.
fn relocations(t: &Target, bytes: &[u8]) -> Vec<Reloc> {
    fn read<E: FileHeader<Endian = LE>>(bytes: &[u8]) -> Vec<Reloc> {
        let header = E::parse(bytes).unwrap();
        let sections = header.sections(LE, bytes).unwrap();
        let symbols = sections.symbols(LE, bytes, SHT_SYMTAB).unwrap();
        let mut out = Vec::new();
        for sh in sections.iter() {
            if let Ok(Some((relas, _))) = sh.rela(LE, bytes) {
                for r in relas {
                    let mut reloc = Reloc {
                        section: sh.sh_info(LE),
                        offset: r.r_offset(LE).into(),
                        rtype: r.r_type(LE, false).0,
                        addend: r.r_addend(LE).into(),
                        sym_shndx: 0,
                        sym_value: 0,
                        sym_name: String::new(),
                    };
                    // Markers (ALIGN, RELAX) have no symbol.
                    if r.r_sym(LE, false) != 0 {
                        let index = object::SymbolIndex(r.r_sym(LE, false) as usize);
                        let sym = symbols.symbol(index).unwrap();
                        reloc.sym_shndx = sym.st_shndx(LE).0;
                        reloc.sym_value = sym.st_value(LE).into();
                        reloc.sym_name = String::from_utf8_lossy(
                            sym.name(LE, symbols.strings()).unwrap_or_default(),
                        )
                        .into_owned();
                    }
                    out.push(reloc);
                }
            }
        }
        out
    }
    if t.arch.is_64() {
        read::<FileHeader64<LE>>(bytes)
    } else {
        read::<FileHeader32<LE>>(bytes)
    }
}

/// Whether every `R_RISCV_ALIGN` padding of an object is exactly what its place needs
/// when the section sits at its alignment (so that GNU ld and elfext delete none of it).
fn padding_is_exact(relocs: &[Reloc]) -> bool {
    relocs
        .iter()
        .filter(|r| r.rtype == R_RISCV_ALIGN.0)
        .all(|r| {
            let align = (r.addend as u64 + 1).next_power_of_two();
            (r.offset + r.addend as u64) % align == 0
        })
}

/// `relocs` with their offsets and their symbols' values moved as GNU ld moves them when
/// it trims `R_RISCV_ALIGN` padding (sections sit at their alignment).
fn trimmed(relocs: &[Reloc]) -> Vec<Reloc> {
    // Per section: (first deleted byte, bytes deleted up to there and through it).
    let mut cuts: std::collections::BTreeMap<u32, Vec<(u64, u64)>> = Default::default();
    for r in relocs.iter().filter(|r| r.rtype == R_RISCV_ALIGN.0) {
        let c = cuts.entry(r.section).or_default();
        let total = c.last().map_or(0, |c| c.1);
        let (pad, align) = (r.addend as u64, (r.addend as u64 + 1).next_power_of_two());
        let needed = (align - (r.offset - total) % align) % align;
        if needed < pad {
            c.push((r.offset + needed, total + pad - needed));
        }
    }
    let map = |section: u32, x: u64| {
        let c = cuts.get(&section).map_or(&[][..], |c| &c[..]);
        x - c.iter().take_while(|c| c.0 < x).last().map_or(0, |c| c.1)
    };
    relocs
        .iter()
        .map(|r| Reloc {
            offset: map(r.section, r.offset),
            sym_value: match r.sym_shndx {
                0 => r.sym_value,
                s => map(u32::from(s), r.sym_value),
            },
            ..r.clone()
        })
        .collect()
}

/// Symbols an object reads through GOT slots.
fn got_symbols(relocs: &[Reloc]) -> usize {
    let mut names: Vec<&str> = relocs
        .iter()
        .filter(|r| r.rtype == R_RISCV_GOT_HI20.0)
        .map(|r| r.sym_name.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    names.len()
}

#[test]
fn c_extensions_link_the_same_bytes_as_gnu_ld() {
    if !toolchain() {
        return;
    }
    let (mut sections, mut failures) = (0, Vec::new());
    // Builds compared byte for byte (and of those, with relaxation, and with alignment
    // padding GNU ld trims), and checked by GOT slot.
    let (mut compared, mut relaxed, mut trimmed, mut by_got) = (0, 0, 0, 0);
    for t in &TARGETS {
        for source in c_sources() {
            if t.arch == Arch::Riscv32 && source == "c/oracle.c" {
                // Casts a pointer to `long long` in a constant initializer: not for ILP32.
                continue;
            }
            for opt in ["-O0", "-O2"] {
                for relax in ["-mrelax", "-mno-relax"] {
                    for model in MODELS {
                        let mut flags =
                            vec![opt, relax, "-fno-common", "-fno-asynchronous-unwind-tables"];
                        flags.extend_from_slice(model);
                        let obj = build(t, source, &flags);
                        let relocs = relocations(t, &obj.bytes);
                        let result = if got_symbols(&relocs) > 1 {
                            // GNU ld orders GOT slots by its symbol hash table: check that
                            // every slot elfext's code reads holds its symbol instead.
                            by_got += 1;
                            got_slots_hold_their_symbols(t, &obj, &relocs).map(|()| 0)
                        } else {
                            compared += 1;
                            relaxed += usize::from(relax == "-mrelax");
                            trimmed += usize::from(!padding_is_exact(&relocs));
                            compare(t, &obj)
                        };
                        match result {
                            Ok(n) => sections += n,
                            Err(e) => failures.push(e),
                        }
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    println!(
        "{compared} builds compared with GNU ld ({relaxed} relaxed, {trimmed} with ALIGN \
         padding trimmed, {sections} sections), {by_got} checked slot by slot"
    );
    assert!(
        compared >= 200 && relaxed >= 90,
        "{compared} compared, {relaxed} relaxed"
    );
    assert!(
        by_got > 0 && trimmed > 0,
        "{by_got} by GOT, {trimmed} trimmed"
    );
}

#[test]
fn every_assembler_relocation_links_the_same_bytes_as_gnu_ld() {
    if !toolchain() {
        return;
    }
    for t in &TARGETS {
        let obj = build(t, "riscv/relocs.S", &[]);
        let relocs = relocations(t, &obj.bytes);
        let mut want = vec![
            R_RISCV_32,
            R_RISCV_BRANCH,
            R_RISCV_JAL,
            R_RISCV_CALL,
            R_RISCV_CALL_PLT,
            R_RISCV_GOT_HI20,
            R_RISCV_PCREL_HI20,
            R_RISCV_PCREL_LO12_I,
            R_RISCV_PCREL_LO12_S,
            R_RISCV_HI20,
            R_RISCV_LO12_I,
            R_RISCV_LO12_S,
            R_RISCV_ADD8,
            R_RISCV_ADD16,
            R_RISCV_ADD32,
            R_RISCV_ADD64,
            R_RISCV_SUB8,
            R_RISCV_SUB16,
            R_RISCV_SUB32,
            R_RISCV_SUB64,
            R_RISCV_ALIGN,
            R_RISCV_RVC_BRANCH,
            R_RISCV_RVC_JUMP,
            R_RISCV_RELAX,
            R_RISCV_SUB6,
            R_RISCV_SET6,
            R_RISCV_SET8,
            R_RISCV_SET16,
            R_RISCV_SET32,
            R_RISCV_32_PCREL,
        ];
        if t.arch == Arch::Riscv64 {
            want.push(R_RISCV_64);
        }
        for w in want {
            assert!(
                relocs.iter().any(|r| r.rtype == w.0),
                "{}: no relocation of type {}",
                obj.label,
                w.0
            );
        }
        // A PCREL_LO12 whose PCREL_HI20 is not the instruction just before it.
        assert!(relocs.iter().any(|lo| lo.rtype == R_RISCV_PCREL_LO12_I.0
            && lo.sym_value + 4 != lo.offset
            && relocs.iter().any(|hi| hi.rtype == R_RISCV_PCREL_HI20.0
                && hi.section == lo.section
                && u32::from(lo.sym_shndx) == lo.section
                && hi.offset == lo.sym_value)));
        compare(t, &obj).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// An object elfext linked into a target window, with where each section went.
struct Linked<'m> {
    registry: Registry<'m, TargetMemory>,
    /// (section index, name, address, size); the GOT and veneers come after the sections.
    placed: Vec<(u32, String, u64, u64)>,
}

impl Linked<'_> {
    fn new<'m>(t: &Target, bytes: &[u8], map: &'m ExportMap) -> Result<Linked<'m>, Error> {
        let memory = TargetMemory::new(BASE, 1 << 20, Granules::NONE);
        let registry = Registry::for_arch(memory, map, t.arch);
        let mut placed = Vec::new();
        registry.load_traced("riscv", BufLoader::temporary(bytes), &mut |p: Placed<
            '_,
        >| {
            placed.push((
                p.index,
                String::from_utf8_lossy(p.name).into_owned(),
                p.addr,
                p.size,
            ))
        })?;
        Ok(Linked { registry, placed })
    }

    fn section(&self, name: &str) -> (u64, u64) {
        self.placed
            .iter()
            .find(|p| p.1 == name)
            .map(|p| (p.2, p.3))
            .unwrap_or_else(|| panic!("no section {name}"))
    }

    fn bytes(&self, addr: u64, len: usize) -> Vec<u8> {
        self.registry
            .with_memory(|m| m.bytes(addr, len).map(<[u8]>::to_vec))
            .expect("inside the target window")
    }

    fn addr_of(&self, index: u32) -> Option<u64> {
        self.placed.iter().find(|p| p.0 == index).map(|p| p.2)
    }

    fn word(&self, addr: u64) -> u32 {
        u32::from_le_bytes(self.bytes(addr, 4).try_into().unwrap())
    }
}

/// Link with elfext and check that every `auipc` + load through a GOT slot reads a slot
/// holding its symbol's address.
fn got_slots_hold_their_symbols(t: &Target, obj: &Obj, relocs: &[Reloc]) -> Result<(), String> {
    let exports = exports(t, &obj.bytes);
    let map = export_map(&exports);
    let l = Linked::new(t, &obj.bytes, &map).map_err(|e| format!("{}: {e}", obj.label))?;
    let relocs = &trimmed(relocs);
    let word = usize::from(t.arch.word_size());
    let mut checked = 0;
    for hi in relocs.iter().filter(|r| r.rtype == R_RISCV_GOT_HI20.0) {
        let Some(base) = l.addr_of(hi.section) else {
            continue;
        };
        let p = base + hi.offset;
        let upper = i64::from((l.word(p) & 0xffff_f000) as i32);
        let want = if hi.sym_shndx == 0 {
            exports.iter().find(|(n, _)| *n == hi.sym_name).unwrap().1
        } else {
            l.addr_of(u32::from(hi.sym_shndx)).unwrap() + hi.sym_value
        };
        let los = relocs.iter().filter(|r| {
            r.rtype == R_RISCV_PCREL_LO12_I.0
                && r.section == hi.section
                && u32::from(r.sym_shndx) == hi.section
                && r.sym_value == hi.offset
        });
        for lo in los {
            let imm = i64::from((l.word(base + lo.offset) as i32) >> 20);
            let slot = p.wrapping_add((upper + imm) as u64);
            let mut b = [0u8; 8];
            b[..word].copy_from_slice(&l.bytes(slot, word));
            let got = u64::from_le_bytes(b);
            if got != want {
                return Err(format!(
                    "{}: GOT load at {:#x} reads {got:#x} from {slot:#x}, not {} at {want:#x}",
                    obj.label,
                    base + lo.offset,
                    hi.sym_name
                ));
            }
            checked += 1;
        }
    }
    if checked == 0 {
        return Err(format!("{}: no GOT load checked", obj.label));
    }
    Ok(())
}

fn export_map(exports: &[(String, u64)]) -> ExportMap {
    let mut map = ExportMap::new();
    for (n, a) in exports {
        map.insert(n, *a);
    }
    map
}

/// Where a `jal` at `p` jumps.
fn jal_target(insn: u32, p: u64) -> u64 {
    let imm = ((insn >> 31) << 20)
        | (((insn >> 12) & 0xff) << 12)
        | (((insn >> 20) & 1) << 11)
        | (((insn >> 21) & 0x3ff) << 1);
    p.wrapping_add(i64::from(((imm << 11) as i32) >> 11) as u64)
}

/// Where a veneer at `at` jumps: `auipc t1, hi; jalr x0, lo(t1)`, or (RV64) a literal load.
fn veneer_target(l: &Linked<'_>, at: u64) -> u64 {
    let (auipc, second) = (l.word(at), l.word(at + 4));
    assert_eq!(auipc & 0xfff, 0x317, "auipc t1 at {at:#x}");
    let hi = i64::from((auipc & 0xffff_f000) as i32);
    if second & 0x7f == 0x03 {
        // ld t1, 16(t1); jr t1
        assert_eq!(second, 0x0103_3303);
        assert_eq!(l.word(at + 8), 0x0003_0067);
        return u64::from_le_bytes(l.bytes(at + 16, 8).try_into().unwrap());
    }
    assert_eq!(second & 0xfffff, 0x3_0067, "jalr x0, lo(t1) at {at:#x}");
    let lo = i64::from((second as i32) >> 20);
    at.wrapping_add((hi + lo) as u64)
}

#[test]
fn far_jals_go_through_a_veneer() {
    if !toolchain() {
        return;
    }
    // 256 MiB away (auipc + jalr), and on RV64 also 64 GiB away (literal load).
    let cases = [
        (&TARGETS[0], HOST),
        (&TARGETS[1], HOST),
        (&TARGETS[1], 0x10_2345_6780),
    ];
    for (t, far) in cases {
        let obj = build(t, "riscv/far_jal.S", &[]);
        let map = export_map(&[("far_func".to_string(), far)]);
        let l = Linked::new(t, &obj.bytes, &map).unwrap_or_else(|e| panic!("{e}"));
        let (text, _) = l.section(".text");
        let (veneers, size) = l.section(".veneers");
        assert!(size > 0);
        for at in [text, text + 4] {
            let insn = l.word(at);
            assert_eq!(insn & 0x7f, 0x6f, "still a jal");
            let to = jal_target(insn, at);
            assert_eq!(to, veneers, "jal at {at:#x} goes to the veneer");
            assert_eq!(veneer_target(&l, to), far, "the veneer reaches far_func");
        }
        assert_eq!(l.word(text) & 0xf80, 1 << 7, "the call keeps ra");
        assert_eq!(l.word(text + 4) & 0xf80, 0, "the tail jump keeps x0");
        let literal = l.word(veneers + 4) & 0x7f == 0x03;
        assert_eq!(literal, far > 0xffff_ffff, "veneer kind for {far:#x}");
    }
}

#[test]
fn a_branch_out_of_range_names_the_relocation() {
    if !toolchain() {
        return;
    }
    for t in &TARGETS {
        let obj = build(t, "riscv/far_branch.S", &[]);
        let map = ExportMap::new();
        let err = Linked::new(t, &obj.bytes, &map)
            .err()
            .expect("a range error");
        match &err {
            Error::RelocationOverflow {
                rtype,
                offset,
                value,
                ..
            } => {
                assert_eq!((rtype.arch, rtype.raw), (t.arch, R_RISCV_BRANCH.0));
                assert_eq!(*offset, 0);
                assert_eq!(*value, 0x2006);
            }
            other => panic!("{other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("R_RISCV_BRANCH") && msg.contains(".text"),
            "{msg}"
        );
    }
}

/// Change relocation types of an assembled object (placeholders for types GNU as cannot
/// write): every relocation of type `from` becomes `to`.
fn retype(t: &Target, bytes: &mut [u8], map: &[(RelocationType, RelocationType)]) {
    // Offsets of the type field of each RELA entry: r_info's low byte (ELF32) or low
    // 32-bit word (ELF64), little-endian.
    fn entries<E: FileHeader<Endian = LE>>(bytes: &[u8], entsize: usize) -> Vec<usize> {
        let header = E::parse(bytes).unwrap();
        let sections = header.sections(LE, bytes).unwrap();
        let mut out = Vec::new();
        for sh in sections.iter() {
            if sh.sh_type(LE) == SHT_RELA {
                let (off, size) = sh.file_range(LE).unwrap();
                let info = entsize / 3;
                out.extend((0..size as usize / entsize).map(|i| off as usize + i * entsize + info));
            }
        }
        out
    }
    let at = if t.arch.is_64() {
        entries::<FileHeader64<LE>>(bytes, 24)
    } else {
        entries::<FileHeader32<LE>>(bytes, 12)
    };
    for a in at {
        if let Some((_, to)) = map.iter().find(|(from, _)| u32::from(bytes[a]) == from.0) {
            bytes[a] = to.0 as u8;
        }
    }
}

#[test]
fn plt32_and_uleb128_pairs_compute_their_values() {
    if !toolchain() {
        return;
    }
    for t in &TARGETS {
        let obj = build(t, "riscv/retyped.S", &[]);
        let mut bytes = obj.bytes.clone();
        retype(
            t,
            &mut bytes,
            &[
                (R_RISCV_32_PCREL, R_RISCV_PLT32),
                (R_RISCV_SET8, R_RISCV_SET_ULEB128),
                (R_RISCV_SUB8, R_RISCV_SUB_ULEB128),
            ],
        );
        let types: Vec<u32> = relocations(t, &bytes).iter().map(|r| r.rtype).collect();
        for w in [R_RISCV_PLT32, R_RISCV_SET_ULEB128, R_RISCV_SUB_ULEB128] {
            assert!(types.contains(&w.0), "{}: retyping failed", obj.label);
        }
        let exports = exports(t, &bytes);
        let func = exports.iter().find(|(n, _)| n == "ext_func").unwrap().1;
        let map = export_map(&exports);
        let l = Linked::new(t, &bytes, &map).unwrap_or_else(|e| panic!("{e}"));
        let (data, _) = l.section(".data");
        assert_eq!(
            l.word(data),
            func.wrapping_sub(data) as u32,
            "PLT32: S + A - P"
        );
        // .Lend - start: c.addi (2) + auipc/jalr (8), in a 3-byte field kept 3 bytes long.
        assert_eq!(l.bytes(data + 4, 3), [0x8a, 0x80, 0x00]);
    }
}

/// `extensions/c/align.c` built with relaxation: each aligned function follows `nop`
/// padding (`R_RISCV_ALIGN`) longer than its place needs, which elfext trims as GNU ld
/// does, both when it copies the code and when it relocates it in place in a writable
/// buffer.
#[test]
fn aligned_functions_are_aligned_after_relaxed_padding() {
    if !toolchain() {
        return;
    }
    const FUNCTIONS: [(&str, u64); 4] = [
        ("fn_16", 16),
        ("fn_32", 32),
        ("fn_256", 256),
        ("fn_512", 512),
    ];
    for t in &TARGETS {
        let flags = ["-O2", "-mrelax", "-ffunction-sections", "-fdata-sections"];
        let obj = build(t, "c/align.c", &flags);
        let relocs = relocations(t, &obj.bytes);
        assert!(
            !padding_is_exact(&relocs),
            "{}: no padding to trim",
            obj.label
        );
        let map = export_map(&exports(t, &obj.bytes));
        // Copied into the block.
        let registry = Registry::for_arch(
            TargetMemory::new(BASE, 1 << 20, Granules::NONE),
            &map,
            t.arch,
        );
        registry
            .load("align", BufLoader::temporary(&obj.bytes))
            .unwrap_or_else(|e| panic!("{}: {e}", obj.label));
        let mut copied = Vec::new();
        for (f, align) in FUNCTIONS {
            let addr = registry.symbol("align", f).unwrap();
            assert_eq!(addr % align, 0, "{}: {f} at {addr:#x}", obj.label);
            let code = registry
                .with_memory(|m| m.bytes(addr, 8).map(<[u8]>::to_vec))
                .unwrap();
            copied.push(code);
        }
        // Relocated in place in a writable buffer, 512-aligned on the host and the target.
        let mut storage = vec![0u8; obj.bytes.len() + 512];
        let start = storage.as_ptr().align_offset(512);
        let buf = &mut storage[start..start + obj.bytes.len()];
        buf.copy_from_slice(&obj.bytes);
        const FLASH: u64 = 0x4000_0000;
        let memory = TargetMemory::new(BASE, 1 << 20, Granules::NONE).with_flash(buf, FLASH);
        let registry = Registry::for_arch(memory, &map, t.arch);
        let (host, len) = (buf.as_ptr() as usize, buf.len());
        registry
            .load("align", BufLoader::writable(buf))
            .unwrap_or_else(|e| panic!("{}: {e}", obj.label));
        for ((f, align), code) in FUNCTIONS.into_iter().zip(&copied) {
            let addr = registry.symbol("align", f).unwrap();
            assert_eq!(addr % align, 0, "{}: {f} at {addr:#x} in place", obj.label);
            let off = (addr - FLASH) as usize;
            assert!(off + 8 <= len, "{}: {f} not in place", obj.label);
            // SAFETY: inside the buffer the registry borrows; nothing writes it now.
            let in_place = unsafe { std::slice::from_raw_parts((host + off) as *const u8, 8) };
            assert_eq!(in_place, &code[..], "{}: {f} in place", obj.label);
        }
    }
}
