//! GNU ld as the relocation oracle: link an object with elfext into a described target
//! window, link the same object with GNU ld placing each input section at exactly the
//! address elfext chose (undefined symbols given by `--defsym`), and compare the bytes.
//!
//! Shared by the oracle tests (`crates/elfext/tests/oracle_*.rs`), the fixture test and
//! `cargo xtask fixtures`, which records GNU ld's bytes as reference images.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use elfext::{Arch, BufLoader, ExportMap, Granules, Placed, RegionKind, Registry, TargetMemory};
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::LittleEndian as LE;

/// One input section elfext placed, with the bytes it linked there.
#[derive(Clone, Debug)]
pub struct Section {
    /// Section index in the object.
    pub index: u32,
    /// Section name.
    pub name: String,
    /// What elfext made of it.
    pub kind: RegionKind,
    /// Where elfext placed it.
    pub addr: u64,
    /// Its size.
    pub size: u64,
    /// The linked bytes (empty for `.bss`-like and empty sections).
    pub bytes: Vec<u8>,
}

/// An object elfext linked into a target window.
#[derive(Clone, Debug)]
pub struct ElfextLink {
    /// The object's input sections, in the order elfext placed them.
    pub sections: Vec<Section>,
    /// Where elfext put its own GOT, if it made one.
    pub got: Option<u64>,
}

impl ElfextLink {
    /// The sections whose bytes are compared: loaded, not `.bss`-like, not empty.
    pub fn compared(&self) -> impl Iterator<Item = &Section> {
        self.sections
            .iter()
            .filter(|s| s.kind != RegionKind::Bss && s.size > 0)
    }
}

/// What a comparison covered.
#[derive(Debug)]
pub struct Compared {
    /// Sections compared byte for byte.
    pub sections: usize,
    /// Bytes compared.
    pub bytes: u64,
}

/// Link `object` for `arch` at `base` with elfext (a 1 MiB target window), `exports`
/// giving the addresses of undefined symbols.
pub fn link_elfext(
    object: &[u8],
    arch: Arch,
    base: u64,
    exports: &[(&str, u64)],
) -> Result<ElfextLink, String> {
    let mut map = ExportMap::new();
    for (name, addr) in exports {
        map.insert(name, *addr);
    }
    let registry = Registry::for_arch(TargetMemory::new(base, 1 << 20, Granules::NONE), &map, arch);
    let mut placed = Vec::new();
    registry
        .load_traced("oracle", BufLoader::temporary(object), &mut |p: Placed<
            '_,
        >| {
            placed.push(Section {
                index: p.index,
                name: String::from_utf8_lossy(p.name).into_owned(),
                kind: p.kind,
                addr: p.addr,
                size: p.size,
                bytes: Vec::new(),
            })
        })
        .map_err(|e| format!("elfext: {e}"))?;
    // elfext's own GOT and veneers are not input sections.
    let count = shnum(object, arch);
    let got = placed
        .iter()
        .find(|s| s.index >= count)
        .filter(|s| s.name == ".got")
        .map(|s| s.addr);
    let mut sections: Vec<Section> = placed.into_iter().filter(|s| s.index < count).collect();
    for s in &mut sections {
        if s.kind == RegionKind::Bss || s.size == 0 {
            continue;
        }
        let bytes = registry.with_memory(|m| m.bytes(s.addr, s.size as usize).map(<[u8]>::to_vec));
        s.bytes = bytes.ok_or_else(|| format!("{} is outside the target window", s.name))?;
    }
    registry.unload("oracle").map_err(|e| e.to_string())?;
    Ok(ElfextLink { sections, got })
}

/// Link `object` (at `path`) with `ld` (plus `ld_flags`), putting every input section
/// where elfext put it in `linked` and GNU ld's GOT where elfext's is; return GNU ld's
/// (address, bytes) for each of [`ElfextLink::compared`], in that order.
#[allow(clippy::too_many_arguments)]
pub fn link_gnu_ld(
    path: &Path,
    object: &[u8],
    arch: Arch,
    ld: &str,
    ld_flags: &[&str],
    base: u64,
    exports: &[(&str, u64)],
    linked: &ElfextLink,
) -> Result<Vec<(u64, Vec<u8>)>, String> {
    // A linker script that puts every input section where elfext put it.
    let mut script = String::from("SECTIONS {\n");
    let placed = &linked.sections;
    for s in placed {
        let names = placed.iter().filter(|o| o.name == s.name).count();
        if names > 1 {
            return Err(format!(
                "section name {} is not unique; the oracle cannot place it",
                s.name
            ));
        }
        writeln!(
            script,
            "  .elfext_{} 0x{:x} : {{ KEEP(*({})) }}",
            s.index, s.addr, s.name
        )
        .unwrap();
    }
    // GNU ld's GOT goes where elfext's is, so that code using it is comparable (veneers
    // never appear: targets are in reach). GOT and PLT sections GNU ld may create
    // otherwise go far away: a difference in them shows up as a difference in the code
    // that uses them.
    // `_GLOBAL_OFFSET_TABLE_` is the start of GNU ld's `.got.plt` on x86-64; objects that
    // use it (large code model) get that section at elfext's GOT address instead.
    let got = linked.got;
    let (got_at, got_plt_at) = if uses_got_base(object, arch) && arch == Arch::X86_64 {
        (base + (8 << 20), got.unwrap_or(base + (9 << 20)))
    } else if arch == Arch::Aarch64 {
        // GNU ld reserves the first entry of the AArch64 GOT: its slots start a word in.
        (got.map_or(base + (8 << 20), |g| g - 8), base + (9 << 20))
    } else if matches!(arch, Arch::Riscv32 | Arch::Riscv64) {
        // GNU ld reserves the first entry of the RISC-V GOT too.
        let word = u64::from(arch.word_size());
        (got.map_or(base + (8 << 20), |g| g - word), base + (9 << 20))
    } else {
        (got.unwrap_or(base + (8 << 20)), base + (9 << 20))
    };
    writeln!(script, "  .got 0x{got_at:x} : {{ *(.got) }}").unwrap();
    writeln!(script, "  .got.plt 0x{got_plt_at:x} : {{ *(.got.plt) }}").unwrap();
    writeln!(
        script,
        "  .plt 0x{:x} : {{ *(.plt) *(.iplt) }}",
        base + (10 << 20)
    )
    .unwrap();
    script.push_str("  /DISCARD/ : { *(.eh_frame) *(.comment) *(.note*) }\n}\n");

    let dir = path.parent().unwrap_or(Path::new("."));
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("oracle");
    // Unique per process and call: tests link the same object in parallel.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let script_path = dir.join(format!("{stem}.{}-{n}.ld", std::process::id()));
    let out_path = dir.join(format!("{stem}.{}-{n}.elf", std::process::id()));
    std::fs::write(&script_path, &script).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(ld);
    // GNU ld's own GOT may overlap elfext's regions by address (they are compared, not
    // loaded): let it.
    cmd.arg("--no-check-sections")
        .args(ld_flags)
        .arg("-T")
        .arg(&script_path)
        .arg("-o")
        .arg(&out_path)
        .arg(path);
    for (name, addr) in exports {
        cmd.arg(format!("--defsym={name}=0x{addr:x}"));
    }
    let output = cmd.output().map_err(|e| format!("run {ld}: {e}"));
    let _ = std::fs::remove_file(&script_path);
    let output = output?;
    if !output.status.success() {
        let _ = std::fs::remove_file(&out_path);
        return Err(format!(
            "{ld} failed:\n{}\nscript:\n{script}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let file = std::fs::read(&out_path).map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&out_path);
    let theirs = output_sections(&file?, arch)?;

    linked
        .compared()
        .map(|s| {
            let want = format!(".elfext_{}", s.index);
            theirs
                .iter()
                .find(|(n, _, _)| *n == want)
                .map(|(_, a, b)| (*a, b.clone()))
                .ok_or_else(|| format!("GNU ld did not emit {} ({want})", s.name))
        })
        .collect()
}

/// Compare what elfext linked for one section with what GNU ld (or a reference image of
/// it) has at `addr`: `None` when they agree, or a description of the first difference.
pub fn difference(s: &Section, addr: u64, bytes: &[u8]) -> Option<String> {
    if addr != s.addr {
        return Some(format!(
            "{}: GNU ld placed it at {addr:#x}, elfext at {:#x}",
            s.name, s.addr
        ));
    }
    let ours = &s.bytes;
    if let Some(at) = ours.iter().zip(bytes.iter()).position(|(a, b)| a != b) {
        let lo = at.saturating_sub(4);
        let hi = (at + 8).min(ours.len());
        return Some(format!(
            "{} differs at +{at:#x} (address {:#x}):\n  elfext {:02x?}\n  GNU ld {:02x?}",
            s.name,
            s.addr + at as u64,
            &ours[lo..hi],
            &bytes[lo..hi.min(bytes.len())]
        ));
    }
    if ours.len() != bytes.len() {
        return Some(format!(
            "{}: {} bytes from elfext, {} from GNU ld",
            s.name,
            ours.len(),
            bytes.len()
        ));
    }
    None
}

/// Link `object` (at `path`) for `arch` at `base` with elfext and with `ld` (plus
/// `ld_flags`), `exports` giving the addresses of undefined symbols; return what was
/// compared, or a description of the first difference.
pub fn compare(
    path: &Path,
    object: &[u8],
    arch: Arch,
    ld: &str,
    ld_flags: &[&str],
    base: u64,
    exports: &[(&str, u64)],
) -> Result<Compared, String> {
    let linked = link_elfext(object, arch, base, exports)?;
    let theirs = link_gnu_ld(path, object, arch, ld, ld_flags, base, exports, &linked)?;
    let mut compared = Compared {
        sections: 0,
        bytes: 0,
    };
    for (s, (addr, bytes)) in linked.compared().zip(&theirs) {
        if let Some(e) = difference(s, *addr, bytes) {
            return Err(e);
        }
        compared.sections += 1;
        compared.bytes += s.size;
    }
    Ok(compared)
}

/// Whether an object refers to `_GLOBAL_OFFSET_TABLE_`.
fn uses_got_base(object: &[u8], arch: Arch) -> bool {
    fake_exports(object, arch, 0)
        .iter()
        .any(|(n, _)| n == "_GLOBAL_OFFSET_TABLE_")
}

/// Number of sections in an object.
fn shnum(object: &[u8], arch: Arch) -> u32 {
    fn read<E: FileHeader<Endian = LE>>(object: &[u8]) -> u32 {
        E::parse(object)
            .and_then(|h| h.sections(LE, object))
            .map_or(0, |s| s.len() as u32)
    }
    if arch.is_64() {
        read::<object::elf::FileHeader64<LE>>(object)
    } else {
        read::<object::elf::FileHeader32<LE>>(object)
    }
}

/// Names of the undefined global symbols of an object, each given an address from
/// `first` on (a stand-in for the host's exports).
pub fn fake_exports(object: &[u8], arch: Arch, first: u64) -> Vec<(String, u64)> {
    fn read<E: FileHeader<Endian = LE>>(object: &[u8]) -> Vec<String> {
        let Ok(header) = E::parse(object) else {
            return Vec::new();
        };
        let Ok(sections) = header.sections(LE, object) else {
            return Vec::new();
        };
        let Ok(symbols) = sections.symbols(LE, object, object::elf::SHT_SYMTAB) else {
            return Vec::new();
        };
        let mut names: Vec<String> = symbols
            .iter()
            .skip(1)
            .filter(|s| s.is_undefined(LE))
            .filter_map(|s| s.name(LE, symbols.strings()).ok())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect();
        names.sort();
        names.dedup();
        names
    }
    let names = if arch.is_64() {
        read::<object::elf::FileHeader64<LE>>(object)
    } else {
        read::<object::elf::FileHeader32<LE>>(object)
    };
    names
        .into_iter()
        .enumerate()
        .map(|(i, n)| (n, first + 0x100 * i as u64))
        .collect()
}

/// (name, address, contents) of every section of a linked ELF file.
fn output_sections(file: &[u8], arch: Arch) -> Result<Vec<(String, u64, Vec<u8>)>, String> {
    fn read<E: FileHeader<Endian = LE>>(
        file: &[u8],
    ) -> Result<Vec<(String, u64, Vec<u8>)>, String> {
        let header = E::parse(file).map_err(|e| e.to_string())?;
        let sections = header.sections(LE, file).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for sh in sections.iter() {
            let name = sections.section_name(LE, sh).map_err(|e| e.to_string())?;
            let data = sh.data(LE, file).map_err(|e| e.to_string())?;
            out.push((
                String::from_utf8_lossy(name).into_owned(),
                sh.sh_addr(LE).into(),
                data.to_vec(),
            ));
        }
        Ok(out)
    }
    if arch.is_64() {
        read::<object::elf::FileHeader64<LE>>(file)
    } else {
        read::<object::elf::FileHeader32<LE>>(file)
    }
}
