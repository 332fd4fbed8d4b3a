//! GNU ld is the oracle for 32-bit ARM relocation: C extensions built with
//! arm-none-eabi-gcc for v6-M, v7-M, v7E-M, v8-M (Thumb), v7-R (A32 and Thumb) and v7-A (A32) at
//! -O0 and -O2, with literal pools, MOVW/MOVT pairs, execute-only code, separate function
//! sections and -fPIC, and assembly for the types compilers rarely emit (ARMv7-A mixing
//! Thumb and A32, ARMv6-M, ARMv4T), must link to the same bytes with elfext as with
//! `arm-none-eabi-ld --no-relax` at the same addresses. Veneers, GOT slots GNU ld orders
//! differently, and range and interworking errors are checked directly.

mod oracle;

use std::path::PathBuf;

use elfext::{Arch, BufLoader, Error, ExportMap, Granules, Placed, Registry, TargetMemory};
use elfext_testkit::{build_path, Compiler};
use object::elf::*;
use object::read::elf::{FileHeader, Rel as _, SectionHeader as _, Sym as _};
use object::{LittleEndian as LE, SectionIndex, SymbolIndex};

const GCC: Compiler = Compiler::Cross("arm-none-eabi-gcc");
const LD: &str = "arm-none-eabi-ld";
/// Where elfext places extensions.
const BASE: u64 = 0x2000_0000;
/// Where the stand-in host exports live: 8 MiB below, within reach of every call.
const HOST: u64 = BASE - (8 << 20);

/// Whether the cross compiler and GNU ld are installed; says so when they are not.
fn toolchain() -> bool {
    oracle::toolchain(&[GCC.command(), LD], "arm")
}

/// Cores and instruction sets.
const CPUS: &[&[&str]] = &[
    &["-mcpu=cortex-m0plus", "-mthumb"],
    &["-mcpu=cortex-m3", "-mthumb"],
    &["-mcpu=cortex-m4", "-mthumb"],
    &["-mcpu=cortex-m33", "-mthumb"],
    &["-mcpu=cortex-r5", "-marm"],
    &["-mcpu=cortex-r5", "-mthumb"],
    &["-mcpu=cortex-a9", "-marm"],
];

/// Code generation variants: literal pools, one section per function, MOVW/MOVT.
const VARIANTS: &[&[&str]] = &[
    &[],
    &["-ffunction-sections"],
    &["-mword-relocations"],
    &["-mslow-flash-data"],
    &["-mpure-code"],
];

/// Portable C extensions (shared with the other architectures) and an ARM one.
fn c_sources() -> Vec<&'static str> {
    oracle::sources(&["arm/calls.c"], &["c/oracle.c", "c/symbols.c"])
}

struct Obj {
    label: String,
    path: PathBuf,
    bytes: Vec<u8>,
}

fn build(source: &str, flags: &[&str]) -> Obj {
    let path = build_path(GCC, source, flags);
    let bytes = std::fs::read(&path).expect("read object");
    Obj {
        label: format!("{source} {}", flags.join(" ")),
        path,
        bytes,
    }
}

/// Stand-in host exports. GNU ld knows nothing of a `--defsym` symbol's instruction set and
/// takes it for A32 code, interworking to it only where the core has A32 state (not on
/// M-profile); elfext reads the instruction set from bit 0. Exports seen from M-profile code
/// are Thumb (odd addresses), all others A32, so the two agree.
fn exports(obj: &Obj, thumb: bool) -> Vec<(String, u64)> {
    let mut exports = oracle::fake_exports(&obj.bytes, Arch::Arm, HOST);
    for e in &mut exports {
        e.1 |= u64::from(thumb);
    }
    exports
}

/// Link with elfext and GNU ld and compare; the number of sections compared.
fn compare(obj: &Obj, thumb: bool) -> Result<usize, String> {
    let exports = exports(obj, thumb);
    let exports: Vec<(&str, u64)> = exports.iter().map(|(n, a)| (n.as_str(), *a)).collect();
    oracle::compare(
        &obj.path,
        &obj.bytes,
        Arch::Arm,
        LD,
        &["--no-relax"],
        BASE,
        &exports,
    )
    .map(|c| c.sections)
    .map_err(|e| format!("{}: {e}", obj.label))
}

#[test]
fn c_extensions_link_the_same_bytes_as_gnu_ld() {
    if !toolchain() {
        return;
    }
    let (mut sections, mut failures) = (0, Vec::new());
    for source in c_sources() {
        for cpu in CPUS {
            for opt in ["-O0", "-O2"] {
                for variant in VARIANTS {
                    // MOVW/MOVT instead of literal pools: M-profile cores with MOVT only.
                    let m_movt =
                        cpu[0].starts_with("-mcpu=cortex-m") && cpu[0] != "-mcpu=cortex-m0plus";
                    if variant.contains(&"-mslow-flash-data") && !m_movt {
                        continue;
                    }
                    // Execute-only code: byte by byte (THM_ALU_ABS_G0_NC..G3) on v6-M,
                    // MOVW/MOVT on v7-M and v8-M.
                    if variant.contains(&"-mpure-code") && !cpu[0].starts_with("-mcpu=cortex-m") {
                        continue;
                    }
                    let mut flags = cpu.to_vec();
                    flags.extend_from_slice(&[
                        opt,
                        "-fno-common",
                        "-fno-asynchronous-unwind-tables",
                    ]);
                    flags.extend_from_slice(variant);
                    // Thumb code calling A32 host functions on v7-R: GNU ld tail-calls them
                    // through its own stub, elfext through its veneer; keep calls as BL(X).
                    let m_profile = cpu[0].starts_with("-mcpu=cortex-m");
                    if !m_profile && cpu[1] == "-mthumb" {
                        flags.push("-fno-optimize-sibling-calls");
                    }
                    match compare(&build(source, &flags), m_profile) {
                        Ok(n) => sections += n,
                        Err(e) => failures.push(e),
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(sections > 500, "only {sections} sections compared");
}

#[test]
fn pic_code_links_the_same_bytes_as_gnu_ld() {
    if !toolchain() {
        return;
    }
    // One GOT slot per object: GNU ld orders several by its own hash table.
    // (R_ARM_GOT32 is GOT_BREL, R_ARM_GOTPC is BASE_PREL.)
    let (mut sections, mut failures) = (0, Vec::new());
    for cpu in CPUS {
        for opt in ["-O0", "-O2"] {
            let mut flags = cpu.to_vec();
            flags.extend_from_slice(&[opt, "-fPIC", "-fno-asynchronous-unwind-tables"]);
            let obj = build("arm/pic.c", &flags);
            let types = relocation_types(&obj.bytes);
            assert!(
                types.contains(&R_ARM_GOT32.0) && types.contains(&R_ARM_GOTPC.0),
                "{}: no GOT_BREL or BASE_PREL",
                obj.label
            );
            match compare(&obj, cpu[0].starts_with("-mcpu=cortex-m")) {
                Ok(n) => sections += n,
                Err(e) => failures.push(e),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    assert!(sections >= 20, "only {sections} sections compared");
}

#[test]
fn got_relative_data_links_the_same_bytes_as_gnu_ld() {
    if !toolchain() {
        return;
    }
    let obj = build("arm/got.S", &[]);
    // R_ARM_GOTPC is BASE_PREL, R_ARM_GOT32 is GOT_BREL, R_ARM_GOTOFF is GOTOFF32.
    compare_all(
        &obj,
        true,
        &[R_ARM_GOT_PREL, R_ARM_GOT32, R_ARM_GOTOFF, R_ARM_GOTPC],
    );
}

/// Types of every relocation of an object.
fn relocation_types(bytes: &[u8]) -> Vec<u32> {
    let header = FileHeader32::<LE>::parse(bytes).unwrap();
    let sections = header.sections(LE, bytes).unwrap();
    let mut out = Vec::new();
    for sh in sections.iter() {
        if let Ok(Some((rels, _))) = sh.rel(LE, bytes) {
            out.extend(rels.iter().map(|r| r.r_type(LE).0));
        }
    }
    out
}

/// Check that an object has relocations of all the types `want`, then compare it.
fn compare_all(obj: &Obj, thumb: bool, want: &[RelocationType]) {
    let types = relocation_types(&obj.bytes);
    for w in want {
        assert!(
            types.contains(&w.0),
            "{}: no relocation of type {}",
            obj.label,
            w.0
        );
    }
    let n = compare(obj, thumb).unwrap_or_else(|e| panic!("{e}"));
    assert!(n >= 2, "{}: only {n} sections compared", obj.label);
}

#[test]
fn every_assembler_relocation_links_the_same_bytes_as_gnu_ld() {
    if !toolchain() {
        return;
    }
    let obj = build("arm/relocs.S", &[]);
    compare_all(
        &obj,
        false,
        &[
            R_ARM_ABS32,
            R_ARM_REL32,
            R_ARM_PREL31,
            R_ARM_TARGET1,
            R_ARM_TARGET2,
            R_ARM_CALL,
            R_ARM_JUMP24,
            R_ARM_PC24,
            R_ARM_THM_PC22,
            R_ARM_THM_JUMP24,
            R_ARM_THM_JUMP19,
            R_ARM_THM_PC11,
            R_ARM_THM_PC9,
            R_ARM_MOVW_ABS_NC,
            R_ARM_MOVT_ABS,
            R_ARM_MOVW_PREL_NC,
            R_ARM_MOVT_PREL,
            R_ARM_THM_MOVW_ABS_NC,
            R_ARM_THM_MOVT_ABS,
            R_ARM_THM_MOVW_PREL_NC,
            R_ARM_THM_MOVT_PREL,
        ],
    );
}

#[test]
fn armv6m_execute_only_code_links_the_same_bytes_as_gnu_ld() {
    if !toolchain() {
        return;
    }
    let obj = build("arm/v6m.S", &[]);
    // R_ARM_THM_ALU_ABS_G0_NC to G3 (132 to 135) are not named in `object`.
    let mut want: Vec<RelocationType> = (132..=135).map(RelocationType).collect();
    want.extend([R_ARM_THM_PC22, R_ARM_THM_PC11, R_ARM_THM_PC9, R_ARM_ABS32]);
    compare_all(&obj, true, &want);
}

#[test]
fn armv4t_bx_marks_leave_the_code_alone() {
    if !toolchain() {
        return;
    }
    let obj = build("arm/v4bx.S", &[]);
    compare_all(&obj, false, &[R_ARM_V4BX, R_ARM_CALL]);
}

/// An object elfext linked into a target window, with where each section went.
struct Linked<'m> {
    registry: Registry<'m, TargetMemory>,
    /// (name, address, size); the GOT and veneers come after the sections.
    placed: Vec<(String, u64, u64)>,
}

impl Linked<'_> {
    fn new<'m>(bytes: &[u8], map: &'m ExportMap) -> Result<Linked<'m>, Error> {
        let memory = TargetMemory::new(BASE, 1 << 20, Granules::NONE);
        let registry = Registry::for_arch(memory, map, Arch::Arm);
        let mut placed = Vec::new();
        registry.load_traced("arm", BufLoader::temporary(bytes), &mut |p: Placed<'_>| {
            placed.push((String::from_utf8_lossy(p.name).into_owned(), p.addr, p.size))
        })?;
        Ok(Linked { registry, placed })
    }

    fn section(&self, name: &str) -> (u64, u64) {
        self.placed
            .iter()
            .find(|p| p.0 == name)
            .map(|p| (p.1, p.2))
            .unwrap_or_else(|| panic!("no section {name}"))
    }

    fn bytes(&self, addr: u64, len: usize) -> Vec<u8> {
        self.registry
            .with_memory(|m| m.bytes(addr, len).map(<[u8]>::to_vec))
            .expect("inside the target window")
    }

    fn word(&self, addr: u64) -> u32 {
        u32::from_le_bytes(self.bytes(addr, 4).try_into().unwrap())
    }

    fn half(&self, addr: u64) -> u32 {
        u32::from(u16::from_le_bytes(self.bytes(addr, 2).try_into().unwrap()))
    }
}

fn export_map(exports: &[(&str, u64)]) -> ExportMap {
    let mut map = ExportMap::new();
    for (n, a) in exports {
        map.insert(n, *a);
    }
    map
}

#[test]
fn a_short_thumb_branch_out_of_range_names_the_relocation() {
    if !toolchain() {
        return;
    }
    let obj = build("arm/far_jump11.S", &[]);
    // Within reach it links, and says where the branch is.
    let near = export_map(&[("far_func", (BASE + 0x400) | 1)]);
    let p = Linked::new(&obj.bytes, &near)
        .unwrap_or_else(|e| panic!("{e}"))
        .section(".text")
        .0;
    let map = export_map(&[("far_func", HOST | 1)]);
    let err = Linked::new(&obj.bytes, &map).err().expect("a range error");
    match &err {
        Error::RelocationOverflow {
            rtype,
            offset,
            value,
            min,
            max,
            ..
        } => {
            assert_eq!((rtype.arch, rtype.raw), (Arch::Arm, R_ARM_THM_PC11.0));
            assert_eq!(*offset, 0);
            assert_eq!((*min, *max), (-2048, 2047));
            // S + A - P, with the Thumb bit and the -4 addend B.N carries.
            assert_eq!(*value, (HOST | 1) as i64 - 4 - p as i64);
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("R_ARM_THM_PC11") && msg.contains(".text"),
        "{msg}"
    );
}

/// Where a Thumb `BL`/`B.W` at `p` goes, and whether it is a `BL`/`B.W` (not a `BLX`).
fn thumb_branch(l: &Linked<'_>, p: u64) -> (u64, bool) {
    let (hw1, hw2) = (l.half(p), l.half(p + 2));
    let s = (hw1 >> 10) & 1;
    let i1 = !((hw2 >> 13) ^ s) & 1;
    let i2 = !((hw2 >> 11) ^ s) & 1;
    let v = (s << 24) | (i1 << 23) | (i2 << 22) | ((hw1 & 0x3ff) << 12) | ((hw2 & 0x7ff) << 1);
    let off = i64::from(((v << 7) as i32) >> 7);
    ((p + 4).wrapping_add(off as u64), hw2 & 0x1000 != 0)
}

/// Where an A32 `B`/`BL` at `p` goes.
fn arm_branch(l: &Linked<'_>, p: u64) -> u64 {
    let insn = l.word(p);
    assert_ne!(insn >> 28, 0xf, "not a BLX at {p:#x}");
    let off = i64::from(((insn << 8) as i32) >> 6);
    (p + 8).wrapping_add(off as u64)
}

#[test]
fn far_calls_go_through_a_veneer() {
    if !toolchain() {
        return;
    }
    let obj = build("arm/far_call.S", &[]);
    // 256 MiB below the extension: out of reach of every branch.
    let (far_thumb, far_arm) = (0x1000_0001, 0x1000_0100);
    let map = export_map(&[("far_thumb", far_thumb), ("far_arm", far_arm)]);
    let l = Linked::new(&obj.bytes, &map).unwrap_or_else(|e| panic!("{e}"));
    let (veneers, size) = l.section(".veneers");
    assert_eq!(size, 40, "one veneer per far function");
    // Thumb entry: push {r0}; ldr r0, [pc, #8]; mov ip, r0; pop {r0}; bx ip; nop.
    let thumb_entry = [0xb401, 0x4802, 0x4684, 0xbc01, 0x4760, 0xbf00];
    let veneer_to = |target: u64| {
        (0..2)
            .map(|k| veneers + 20 * k)
            .find(|&v| u64::from(l.word(v + 12)) == target)
            .unwrap_or_else(|| panic!("no veneer to {target:#x}"))
    };
    for v in [veneer_to(far_thumb), veneer_to(far_arm)] {
        for (i, hw) in thumb_entry.iter().enumerate() {
            assert_eq!(l.half(v + 2 * i as u64), *hw, "veneer at {v:#x}");
        }
        // A32 entry: ldr pc, [pc, #-12] (the same literal).
        assert_eq!(l.word(v + 16), 0xe51f_f00c);
    }
    let (thumb, _) = l.section(".text.thumb");
    // Thumb callers reach the Thumb entry with BL / B.W, whatever the target's set.
    assert_eq!(thumb_branch(&l, thumb), (veneer_to(far_thumb), true));
    assert_eq!(thumb_branch(&l, thumb + 4), (veneer_to(far_thumb), true));
    assert_eq!(l.half(thumb + 6) & 0xd000, 0x9000, "still a B.W");
    assert_eq!(thumb_branch(&l, thumb + 8), (veneer_to(far_arm), true));
    // A32 callers reach the A32 entry with BL / B.
    let (arm, _) = l.section(".text.arm");
    assert_eq!(arm_branch(&l, arm), veneer_to(far_arm) + 16);
    assert_eq!(l.word(arm) >> 24, 0xeb, "BL");
    assert_eq!(arm_branch(&l, arm + 4), veneer_to(far_arm) + 16);
    assert_eq!(l.word(arm + 4) >> 24, 0xea, "B");
    assert_eq!(arm_branch(&l, arm + 8), veneer_to(far_thumb) + 16);
    assert_eq!(l.word(arm + 8) >> 24, 0xeb, "BL");
}

#[test]
fn a_thumb_jump_to_local_a32_code_is_refused() {
    if !toolchain() {
        return;
    }
    let obj = build("arm/mixed_jump.S", &[]);
    let map = ExportMap::new();
    let err = Linked::new(&obj.bytes, &map).err().expect("an error");
    match &err {
        Error::BadInstruction { rtype, offset, .. } => {
            assert_eq!((rtype.arch, rtype.raw), (Arch::Arm, R_ARM_THM_JUMP24.0));
            assert_eq!(*offset, 0);
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("R_ARM_THM_JUMP24") && msg.contains("veneer"),
        "{msg}"
    );
}

/// One GOT_BREL relocation: (patched section's name, offset, symbol's section name or
/// `None` when undefined, symbol's name, symbol's value, implicit addend).
type GotUse = (String, u64, Option<String>, String, u64, i64);

/// Every GOT_BREL relocation of an object.
fn got_uses(bytes: &[u8]) -> Vec<GotUse> {
    let header = FileHeader32::<LE>::parse(bytes).unwrap();
    let sections = header.sections(LE, bytes).unwrap();
    let symbols = sections.symbols(LE, bytes, SHT_SYMTAB).unwrap();
    let name = |sh: &SectionHeader32<LE>| {
        String::from_utf8_lossy(sections.section_name(LE, sh).unwrap()).into_owned()
    };
    let mut out = Vec::new();
    for sh in sections.iter() {
        let Ok(Some((rels, _))) = sh.rel(LE, bytes) else {
            continue;
        };
        let target = sections
            .section(SectionIndex(sh.sh_info(LE) as usize))
            .unwrap();
        let data = target.data(LE, bytes).unwrap();
        for r in rels.iter().filter(|r| r.r_type(LE) == R_ARM_GOT32) {
            let sym = symbols.symbol(SymbolIndex(r.r_sym(LE) as usize)).unwrap();
            let at = r.r_offset(LE) as usize;
            let addend = i32::from_le_bytes(data[at..at + 4].try_into().unwrap());
            let section = (!sym.is_undefined(LE)).then(|| {
                name(
                    sections
                        .section(SectionIndex(usize::from(sym.st_shndx(LE).0)))
                        .unwrap(),
                )
            });
            out.push((
                name(target),
                at as u64,
                section,
                String::from_utf8_lossy(sym.name(LE, symbols.strings()).unwrap()).into_owned(),
                sym.st_value(LE).into(),
                i64::from(addend),
            ));
        }
    }
    out
}

#[test]
fn every_got_slot_holds_its_symbols_address() {
    // GNU ld orders several GOT slots its own way, so PIC code with many is checked here
    // directly: each GOT_BREL leads from the GOT to a slot holding its symbol's address.
    if !toolchain() {
        return;
    }
    let mut checked = 0;
    for cpu in CPUS {
        for opt in ["-O0", "-O2"] {
            let mut flags = cpu.to_vec();
            flags.extend_from_slice(&[opt, "-fPIC", "-fno-common"]);
            flags.extend_from_slice(&["-fno-asynchronous-unwind-tables"]);
            flags.push("-mno-pic-data-is-text-relative");
            let obj = build("arm/calls.c", &flags);
            let exports = exports(&obj, cpu[0].starts_with("-mcpu=cortex-m"));
            let exports: Vec<(&str, u64)> = exports.iter().map(|(n, a)| (n.as_str(), *a)).collect();
            let map = export_map(&exports);
            let l = Linked::new(&obj.bytes, &map).unwrap_or_else(|e| panic!("{e}"));
            let (got, size) = l.section(".got");
            let uses = got_uses(&obj.bytes);
            assert!(uses.len() >= 4, "{}: {} GOT uses", obj.label, uses.len());
            for (target, offset, section, symbol, value, addend) in &uses {
                let want = match section {
                    Some(s) => l.section(s).0 + value,
                    None => exports.iter().find(|e| e.0 == symbol).unwrap().1,
                };
                let place = l.section(target).0 + offset;
                let slot = (got as i64 + i64::from(l.word(place) as i32) - addend) as u64;
                assert!(
                    slot >= got && slot + 4 <= got + size,
                    "{}: {symbol}",
                    obj.label
                );
                assert_eq!(u64::from(l.word(slot)), want, "{}: {symbol}", obj.label);
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} GOT uses checked");
}
