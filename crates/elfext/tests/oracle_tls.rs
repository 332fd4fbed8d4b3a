//! GNU ld is the oracle for local-exec thread-local storage on ARM, AArch64 and RISC-V:
//! `c/tls.c` built with `-ftls-model=local-exec` must link to the same code with elfext as
//! with the cross `ld`, once elfext's thread-local area is described the way each ABI puts
//! the TLS block after the thread pointer.
//!
//! GNU ld computes a variable's TP offset as its address minus the TLS segment's start,
//! plus the TCB when the ABI puts one first (variant I): 8 bytes on 32-bit ARM and 16 on
//! AArch64, rounded up to the segment's alignment; RISC-V puts the block right at `tp`.
//! elfext's only knob is [`TlsArea::tp_offset`], so the test sets it to that TCB size and
//! lets ld place `.tdata` then `.tbss` at an aligned address.

use std::process::Command;

use elfext::{Arch, BufLoader, ExportMap, Granules, Placed, Registry, TargetMemory, TlsArea};
use elfext_testkit::{build_path, Compiler};
use object::read::elf::{FileHeader, SectionHeader as _};
use object::LittleEndian as LE;

/// One target: compiler, its flags, GNU ld and its flags, and the TCB size of its ABI.
struct Target {
    arch: Arch,
    gcc: &'static str,
    flags: &'static [&'static str],
    ld: &'static str,
    ld_flags: &'static [&'static str],
    tcb: u64,
}

const TARGETS: &[Target] = &[
    Target {
        arch: Arch::Arm,
        gcc: "arm-none-eabi-gcc",
        flags: &["-mcpu=cortex-m4", "-mthumb"],
        ld: "arm-none-eabi-ld",
        ld_flags: &[],
        tcb: 8,
    },
    Target {
        arch: Arch::Arm,
        gcc: "arm-none-eabi-gcc",
        flags: &["-mcpu=cortex-a9", "-marm"],
        ld: "arm-none-eabi-ld",
        ld_flags: &[],
        tcb: 8,
    },
    Target {
        arch: Arch::Aarch64,
        gcc: "aarch64-linux-gnu-gcc",
        flags: &[],
        ld: "aarch64-linux-gnu-ld",
        ld_flags: &[],
        tcb: 16,
    },
    Target {
        arch: Arch::Aarch64,
        gcc: "aarch64-linux-gnu-gcc",
        // Offsets up to 2^48: MOVZ/MOVK instead of two ADDs.
        flags: &["-mtls-size=48"],
        ld: "aarch64-linux-gnu-ld",
        ld_flags: &[],
        tcb: 16,
    },
    Target {
        arch: Arch::Riscv32,
        gcc: "riscv64-unknown-elf-gcc",
        flags: &["-march=rv32imac", "-mabi=ilp32", "-mno-relax"],
        ld: "riscv64-unknown-elf-ld",
        ld_flags: &["--no-relax", "-m", "elf32lriscv"],
        tcb: 0,
    },
    Target {
        arch: Arch::Riscv64,
        gcc: "riscv64-unknown-elf-gcc",
        flags: &["-march=rv64imac", "-mabi=lp64", "-mno-relax"],
        ld: "riscv64-unknown-elf-ld",
        ld_flags: &["--no-relax"],
        tcb: 0,
    },
];

/// Where elfext and ld place the code.
const BASE: u64 = 0x2000_0000;
/// Where the host's `__aeabi_read_tp` (32-bit ARM reads TP through it) is, as a Thumb
/// function within reach of a `bl`.
const READ_TP: u64 = BASE - 0x1000 + 1;

fn installed(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Name, address and bytes of each section of a linked executable.
fn ld_sections(bytes: &[u8], is_64: bool) -> Vec<(String, u64, u64, Vec<u8>)> {
    fn read<E: FileHeader<Endian = LE>>(bytes: &[u8]) -> Vec<(String, u64, u64, Vec<u8>)> {
        let header = E::parse(bytes).unwrap();
        let sections = header.sections(LE, bytes).unwrap();
        sections
            .iter()
            .map(|s| {
                let name = String::from_utf8_lossy(sections.section_name(LE, s).unwrap());
                let data = s.data(LE, bytes).unwrap_or_default().to_vec();
                (
                    name.into_owned(),
                    s.sh_addr(LE).into(),
                    s.sh_addralign(LE).into(),
                    data,
                )
            })
            .collect()
    }
    if is_64 {
        read::<object::elf::FileHeader64<LE>>(bytes)
    } else {
        read::<object::elf::FileHeader32<LE>>(bytes)
    }
}

/// Link `obj` with GNU ld: `.text` at `text` (where elfext put it), then the TLS sections
/// at an aligned address.
fn gnu_ld(t: &Target, obj: &std::path::Path, text: u64) -> Vec<(String, u64, u64, Vec<u8>)> {
    let dir = std::env::temp_dir().join(format!("elfext-oracle-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let stem = obj.file_stem().unwrap().to_string_lossy().into_owned();
    let script = dir.join(format!("{stem}.ld"));
    let out = dir.join(format!("{stem}.elf"));
    std::fs::write(
        &script,
        format!(
            "__aeabi_read_tp = {READ_TP:#x};\nSECTIONS {{\n  . = {text:#x};\n  .text : {{ *(.text .text.*) }}\n  \
             . = ALIGN(0x1000);\n  .tdata : {{ *(.tdata .tdata.*) }}\n  \
             .tbss : {{ *(.tbss .tbss.*) }}\n  .data : {{ *(.data .data.* .sdata .sdata.*) }}\n  \
             .bss : {{ *(.bss .bss.* .sbss .sbss.* COMMON) }}\n  \
             /DISCARD/ : {{ *(.comment .note.* .ARM.attributes .riscv.attributes .eh_frame) }}\n}}\n"
        ),
    )
    .unwrap();
    let status = Command::new(t.ld)
        .args(t.ld_flags)
        .args(["-e", "0", "-T"])
        .arg(&script)
        .arg(obj)
        .arg("-o")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success(), "{} failed on {}", t.ld, obj.display());
    ld_sections(&std::fs::read(&out).unwrap(), t.arch.is_64())
}

/// Link `source` built with `flags` for `t` with elfext and GNU ld; compare `.text`.
fn compare(t: &Target, source: &str, flags: &[&str]) {
    let path = build_path(Compiler::Cross(t.gcc), source, flags);
    let label = format!("{source} {} {}", t.gcc, flags.join(" "));
    let bytes = std::fs::read(&path).unwrap();
    // The TLS segment's alignment: ld rounds the TCB up to it.
    let align = ld_sections(&bytes, t.arch.is_64())
        .iter()
        .filter(|s| s.0 == ".tdata" || s.0 == ".tbss")
        .map(|s| s.2)
        .max()
        .unwrap_or(1);
    let tp_offset = t.tcb.next_multiple_of(align.max(1));

    let mut map = ExportMap::new();
    map.insert("__aeabi_read_tp", READ_TP);
    let registry = Registry::for_arch(
        TargetMemory::new(BASE, 1 << 20, Granules::NONE),
        &map,
        t.arch,
    );
    let area = TlsArea {
        tp_offset: tp_offset as i64,
        size: 256,
        init: None,
    };
    // SAFETY: no initialized copy: elfext writes no thread-local bytes.
    let registry = unsafe { registry.with_tls(area) };
    let mut text = None;
    registry
        .load_traced("tls", BufLoader::temporary(&bytes), &mut |p: Placed<'_>| {
            if p.name == b".text" {
                text = Some((p.addr, p.size));
            }
        })
        .unwrap_or_else(|e| panic!("{label}: {e}"));
    let (addr, len) = text.expect(".text is placed");
    let ours = registry
        .with_memory(|m| m.bytes(addr, len as usize).map(<[u8]>::to_vec))
        .unwrap();
    let ld = gnu_ld(t, &path, addr);
    let theirs = &ld.iter().find(|s| s.0 == ".text").expect("ld's .text").3;
    assert_eq!(
        registry.with("tls", |e| e.tls_range()).unwrap().0,
        0,
        "{label}"
    );
    assert_eq!(&ours, theirs, "{label}: .text differs from GNU ld's");
}

#[test]
fn local_exec_tls_links_the_same_code_as_gnu_ld() {
    let mut compared = 0;
    for t in TARGETS {
        if !installed(t.gcc) || !installed(t.ld) {
            println!("skipped: {} or {} not installed", t.gcc, t.ld);
            continue;
        }
        for opt in ["-O0", "-O2"] {
            for pic in ["-fno-pic", "-fPIC"] {
                let mut flags = t.flags.to_vec();
                flags.extend([opt, pic, "-ftls-model=local-exec"]);
                flags.extend(["-fno-asynchronous-unwind-tables", "-fno-common"]);
                compare(t, "c/tls.c", &flags);
                compared += 1;
            }
        }
        if t.arch == Arch::Aarch64 && t.flags.is_empty() {
            // The TLSLE types gcc does not emit.
            compare(t, "aarch64/tls.S", &[]);
            compared += 1;
        }
    }
    println!("{compared} builds compared with GNU ld");
}
