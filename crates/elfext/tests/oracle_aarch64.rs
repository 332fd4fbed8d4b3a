//! GNU ld is the oracle for AArch64 relocation: C extensions built with the cross gcc at
//! -O0 and -O2 in the tiny, small and large code models and with -fPIC, and an assembly
//! file using every type a compiler does not emit, must link to the same bytes with elfext
//! as with `aarch64-linux-gnu-ld --no-relax` at the same addresses. Calls beyond ±128 MiB
//! go through veneers, and range errors name the relocation.

mod oracle;

use std::path::PathBuf;

use elfext::{Arch, BufLoader, Error, ExportMap, Granules, Placed, Registry, TargetMemory};
use elfext_testkit::{build_path, Compiler};
use object::elf::*;
use object::read::elf::{FileHeader, Rela as _, SectionHeader, Sym as _};
use object::LittleEndian as LE;

const GCC: Compiler = Compiler::Cross("aarch64-linux-gnu-gcc");
const LD: &str = "aarch64-linux-gnu-ld";
const BASE: u64 = 0x4000_0000;

/// Whether the cross compiler and GNU ld are installed; says so when they are not.
fn toolchain() -> bool {
    oracle::toolchain(&[GCC.command(), LD], "aarch64")
}

/// Portable C extensions (shared with the x86-64 tests) and AArch64 ones.
fn c_sources() -> Vec<&'static str> {
    oracle::sources(&["aarch64/calls.c"], &[])
}

/// The code models and position independence each C source is built with.
const MODELS: &[&[&str]] = &[
    &["-fno-pic", "-mcmodel=tiny"],
    &["-fno-pic", "-mcmodel=small"],
    &["-fno-pic", "-mcmodel=large"],
    &["-fPIC", "-mcmodel=small"],
];

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

/// Every C build, and the assembly file.
fn objects() -> Vec<(Obj, bool)> {
    let mut out = Vec::new();
    for source in c_sources() {
        for opt in ["-O0", "-O2"] {
            for model in MODELS {
                let mut flags = vec![opt, "-fno-common", "-fno-asynchronous-unwind-tables"];
                flags.extend_from_slice(model);
                let tiny = model.contains(&"-mcmodel=tiny");
                out.push((build(source, &flags), tiny));
            }
        }
    }
    out.push((build("aarch64/relocs.S", &[]), false));
    out
}

/// Undefined symbols of an object, as host exports: within ±1 MiB of the extension for
/// the tiny code model, 64 MiB away otherwise (still within reach of a direct call).
fn exports(bytes: &[u8], tiny: bool) -> Vec<(String, u64)> {
    let first = if tiny {
        BASE - 0x8_0000
    } else {
        BASE + 0x400_0000
    };
    oracle::fake_exports(bytes, Arch::Aarch64, first)
}

/// One relocation of an object: (section patched, offset, type, symbol).
type Reloc = (u32, u64, u32, u32);

/// Every relocation of an object.
fn relocations(bytes: &[u8]) -> Vec<Reloc> {
    let header = FileHeader64::<LE>::parse(bytes).unwrap();
    let sections = header.sections(LE, bytes).unwrap();
    let mut out = Vec::new();
    for sh in sections.iter() {
        if let Ok(Some((relas, _))) = sh.rela(LE, bytes) {
            out.extend(relas.iter().map(|r| {
                (
                    sh.sh_info(LE),
                    r.r_offset(LE),
                    r.r_type(LE, false).0,
                    r.r_sym(LE, false),
                )
            }));
        }
    }
    out
}

fn is_got(rtype: u32) -> bool {
    [
        R_AARCH64_ADR_GOT_PAGE,
        R_AARCH64_LD64_GOT_LO12_NC,
        R_AARCH64_GOT_LD_PREL19,
    ]
    .contains(&RelocationType(rtype))
}

/// An object elfext linked into a target window, with where each section went.
struct Linked<'m> {
    registry: Registry<'m, TargetMemory>,
    /// (section index, name, address, size); the GOT and veneers come after the sections.
    placed: Vec<(u32, String, u64, u64)>,
}

impl Linked<'_> {
    fn new<'m>(bytes: &[u8], map: &'m ExportMap) -> Result<Linked<'m>, Error> {
        let memory = TargetMemory::new(BASE, 1 << 20, Granules::NONE);
        let registry = Registry::for_arch(memory, map, Arch::Aarch64);
        let mut placed = Vec::new();
        registry.load_traced("aarch64", BufLoader::temporary(bytes), &mut |p: Placed<
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

    fn section(&self, name: &str) -> Option<(u64, u64)> {
        self.placed.iter().find(|p| p.1 == name).map(|p| (p.2, p.3))
    }

    fn addr_of_section(&self, index: u32) -> u64 {
        self.placed.iter().find(|p| p.0 == index).unwrap().2
    }

    fn word(&self, addr: u64) -> u32 {
        let b = self.bytes(addr, 4);
        u32::from_le_bytes(b.try_into().unwrap())
    }

    fn quad(&self, addr: u64) -> u64 {
        let b = self.bytes(addr, 8);
        u64::from_le_bytes(b.try_into().unwrap())
    }

    fn bytes(&self, addr: u64, len: usize) -> Vec<u8> {
        self.registry
            .with_memory(|m| m.bytes(addr, len).map(<[u8]>::to_vec))
            .expect("inside the target window")
    }
}

/// Address of symbol `sym` of an object as elfext linked it.
fn symbol_addr(bytes: &[u8], linked: &Linked<'_>, exports: &[(String, u64)], sym: u32) -> u64 {
    let header = FileHeader64::<LE>::parse(bytes).unwrap();
    let sections = header.sections(LE, bytes).unwrap();
    let symbols = sections.symbols(LE, bytes, SHT_SYMTAB).unwrap();
    let s = symbols.symbol(object::SymbolIndex(sym as usize)).unwrap();
    if s.is_undefined(LE) {
        let name = s.name(LE, symbols.strings()).unwrap();
        let name = std::str::from_utf8(name).unwrap();
        return exports.iter().find(|(n, _)| n == name).unwrap().1;
    }
    linked.addr_of_section(u32::from(s.st_shndx(LE).0)) + s.st_value(LE)
}

/// The page an `ADRP` at `p` addresses.
fn adrp_target(insn: u32, p: u64) -> u64 {
    let imm = ((insn >> 5) & 0x7ffff) << 2 | ((insn >> 29) & 3);
    let imm = i64::from((imm << 11) as i32 >> 11);
    (p & !0xfff).wrapping_add((imm << 12) as u64)
}

/// The address an `LDR (literal)` at `p` reads.
fn literal_target(insn: u32, p: u64) -> u64 {
    let imm = ((((insn >> 5) & 0x7ffff) << 13) as i32) >> 13;
    p.wrapping_add((i64::from(imm) * 4) as u64)
}

/// The target of a `B` / `BL` at `p`.
fn branch_target(insn: u32, p: u64) -> u64 {
    let imm = i64::from(((insn & 0x03ff_ffff) << 6) as i32 >> 6);
    p.wrapping_add((imm * 4) as u64)
}

/// GNU ld orders the GOT slots of several symbols its own way, so code reading them is
/// not comparable byte for byte: check instead that every GOT load elfext linked reads a
/// slot of elfext's GOT holding its symbol's address. Returns the loads checked.
fn check_got_loads(obj: &Obj, exports: &[(String, u64)]) -> Result<usize, String> {
    let mut map = ExportMap::new();
    for (name, addr) in exports {
        map.insert(name, *addr);
    }
    let linked = Linked::new(&obj.bytes, &map).map_err(|e| format!("elfext: {e}"))?;
    let (got, size) = linked.section(".got").ok_or("no GOT")?;
    let slots: Vec<(u64, u64)> = (0..size / 8)
        .map(|i| (got + 8 * i, linked.quad(got + 8 * i)))
        .collect();
    let mut checked = 0;
    for (target, offset, rtype, sym) in relocations(&obj.bytes) {
        if !is_got(rtype) {
            continue;
        }
        let p = linked.addr_of_section(target) + offset;
        let insn = linked.word(p);
        let s = symbol_addr(&obj.bytes, &linked, exports, sym);
        let reads_slot = |g: u64| {
            if rtype == R_AARCH64_ADR_GOT_PAGE.0 {
                adrp_target(insn, p) == g & !0xfff
            } else if rtype == R_AARCH64_GOT_LD_PREL19.0 {
                literal_target(insn, p) == g
            } else {
                u64::from((insn >> 10) & 0xfff) * 8 == g & 0xfff
            }
        };
        if !slots.iter().any(|&(g, v)| v == s && reads_slot(g)) {
            return Err(format!(
                "type {rtype} at {p:#x} ({insn:#010x}) reads no GOT slot holding {s:#x}"
            ));
        }
        checked += 1;
    }
    linked
        .registry
        .unload("aarch64")
        .map_err(|e| e.to_string())?;
    Ok(checked)
}

/// Whether an object loads the GOT slots of more than one symbol.
fn has_several_got_symbols(bytes: &[u8]) -> bool {
    let mut syms: Vec<u32> = relocations(bytes)
        .into_iter()
        .filter(|r| is_got(r.2))
        .map(|r| r.3)
        .collect();
    syms.sort_unstable();
    syms.dedup();
    syms.len() > 1
}

#[test]
fn elfext_links_the_same_bytes_as_gnu_ld() {
    if !toolchain() {
        return;
    }
    let mut sections = 0;
    let mut got_loads = 0;
    let mut types: Vec<u32> = Vec::new();
    for (obj, tiny) in objects() {
        let exports = exports(&obj.bytes, tiny);
        if has_several_got_symbols(&obj.bytes) {
            got_loads +=
                check_got_loads(&obj, &exports).unwrap_or_else(|e| panic!("{}: {e}", obj.label));
            continue;
        }
        let exports: Vec<(&str, u64)> = exports.iter().map(|(n, a)| (n.as_str(), *a)).collect();
        let compared = oracle::compare(
            &obj.path,
            &obj.bytes,
            Arch::Aarch64,
            LD,
            &["--no-relax"],
            BASE,
            &exports,
        )
        .unwrap_or_else(|e| panic!("{}: {e}", obj.label));
        assert!(compared.sections >= 1, "{}: nothing compared", obj.label);
        sections += compared.sections;
        types.extend(relocations(&obj.bytes).iter().map(|r| r.2));
    }
    assert!(sections > 100, "only {sections} sections compared");
    assert!(got_loads > 100, "only {got_loads} GOT loads checked");
    // Every type of the issue was among those compared with GNU ld.
    for t in [
        R_AARCH64_ABS64,
        R_AARCH64_ABS32,
        R_AARCH64_ABS16,
        R_AARCH64_PREL64,
        R_AARCH64_PREL32,
        R_AARCH64_PREL16,
        R_AARCH64_CALL26,
        R_AARCH64_JUMP26,
        R_AARCH64_CONDBR19,
        R_AARCH64_TSTBR14,
        R_AARCH64_LD_PREL_LO19,
        R_AARCH64_ADR_PREL_LO21,
        R_AARCH64_ADR_PREL_PG_HI21,
        R_AARCH64_ADR_PREL_PG_HI21_NC,
        R_AARCH64_ADD_ABS_LO12_NC,
        R_AARCH64_LDST8_ABS_LO12_NC,
        R_AARCH64_LDST16_ABS_LO12_NC,
        R_AARCH64_LDST32_ABS_LO12_NC,
        R_AARCH64_LDST64_ABS_LO12_NC,
        R_AARCH64_LDST128_ABS_LO12_NC,
        R_AARCH64_MOVW_UABS_G0,
        R_AARCH64_MOVW_UABS_G0_NC,
        R_AARCH64_MOVW_UABS_G1,
        R_AARCH64_MOVW_UABS_G1_NC,
        R_AARCH64_MOVW_UABS_G2,
        R_AARCH64_MOVW_UABS_G2_NC,
        R_AARCH64_MOVW_UABS_G3,
        R_AARCH64_MOVW_SABS_G0,
        R_AARCH64_MOVW_SABS_G1,
        R_AARCH64_MOVW_SABS_G2,
        R_AARCH64_MOVW_PREL_G0,
        R_AARCH64_MOVW_PREL_G0_NC,
        R_AARCH64_MOVW_PREL_G1,
        R_AARCH64_MOVW_PREL_G1_NC,
        R_AARCH64_MOVW_PREL_G2,
        R_AARCH64_MOVW_PREL_G2_NC,
        R_AARCH64_MOVW_PREL_G3,
        R_AARCH64_ADR_GOT_PAGE,
        R_AARCH64_LD64_GOT_LO12_NC,
    ] {
        assert!(types.contains(&t.0), "type {} was never compared", t.0);
    }
}

#[test]
fn calls_beyond_128_mib_go_through_one_veneer_per_target() {
    if !toolchain() {
        return;
    }
    for opt in ["-O0", "-O2"] {
        let obj = build(
            "aarch64/calls.c",
            &[opt, "-fno-pic", "-fno-asynchronous-unwind-tables"],
        );
        // 256 MiB above the extension: out of reach of B and BL, within reach of ADRP.
        let exports = oracle::fake_exports(&obj.bytes, Arch::Aarch64, BASE + 0x1000_0000);
        let mut map = ExportMap::new();
        for (name, addr) in &exports {
            map.insert(name, *addr);
        }
        let linked = Linked::new(&obj.bytes, &map).unwrap_or_else(|e| panic!("{opt}: {e}"));
        let (veneers, size) = linked.section(".veneers").expect("a veneer area");
        let mut used = Vec::new();
        for (target, offset, rtype, sym) in relocations(&obj.bytes) {
            if rtype != R_AARCH64_CALL26.0 && rtype != R_AARCH64_JUMP26.0 {
                continue;
            }
            let s = symbol_addr(&obj.bytes, &linked, &exports, sym);
            let p = linked.addr_of_section(target) + offset;
            let to = branch_target(linked.word(p), p);
            if s.abs_diff(p) < 1 << 27 {
                assert_eq!(to, s, "{opt}: a call in reach goes straight to its target");
                continue;
            }
            assert!(
                (veneers..veneers + size).contains(&to),
                "{opt}: call at {p:#x} to {s:#x} lands at {to:#x}, not in the veneers"
            );
            // ldr x16, #8; br x16; .quad target
            assert_eq!(linked.word(to), 0x5800_0050, "{opt}");
            assert_eq!(linked.word(to + 4), 0xd61f_0200, "{opt}");
            assert_eq!(linked.quad(to + 8), s, "{opt}: veneer at {to:#x}");
            used.push((s, to));
        }
        // host_add is called from several places, host_print too: one veneer each.
        used.sort_unstable();
        let calls = used.len();
        used.dedup();
        assert!(calls > used.len(), "{opt}: no target was called twice");
        let targets: Vec<u64> = used.iter().map(|u| u.0).collect();
        let mut distinct = targets.clone();
        distinct.dedup();
        assert_eq!(targets, distinct, "{opt}: a target with two veneers");
        assert_eq!(size, 16 * used.len() as u64, "{opt}: veneers nobody uses");
    }
}

#[test]
fn an_adr_out_of_reach_is_a_range_error_naming_the_type() {
    if !toolchain() {
        return;
    }
    let obj = build("aarch64/far_adr.S", &[]);
    let mut map = ExportMap::new();
    map.insert("host_counter", BASE + 0x10_0000 + 0x1000);
    let err = Linked::new(&obj.bytes, &map)
        .err()
        .expect("the ADR cannot reach");
    match &err {
        Error::RelocationOverflow {
            rtype, min, max, ..
        } => {
            assert_eq!(rtype.raw, R_AARCH64_ADR_PREL_LO21.0);
            assert_eq!((*min, *max), (-(1 << 20), (1 << 20) - 1));
        }
        other => panic!("expected a range error, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("R_AARCH64_ADR_PREL_LO21") && message.contains("host_counter"),
        "{message}"
    );
    // Within reach, it links.
    let mut map = ExportMap::new();
    map.insert("host_counter", BASE + 0x8_0000);
    Linked::new(&obj.bytes, &map).expect("the ADR reaches");
}
