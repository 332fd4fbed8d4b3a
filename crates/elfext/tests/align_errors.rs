//! Bad RISC-V `R_RISCV_ALIGN` padding: every case the trimming rejects (see `cuts_of` and
//! `check_outside_cuts`) is a precise `Error::BadAlignment` naming the relocation section,
//! the relocation and the problem, for a copied and for an in-place (writable) load, and a
//! failed load leaves the heap as it was.
//!
//! The objects are one small RV32 assembly file, assembled with the cross gcc, then patched
//! where the assembler cannot write the bad case (an ALIGN's addend or offset, the order of
//! the relocations, the section's `sh_addralign`, a REL section instead of RELA).

use std::path::PathBuf;

use elfext::{Arch, BufLoader, Error, Granules, NoExports, Registry, SectionId, TargetMemory};
use elfext_testkit::{build_path, Compiler};
use object::elf;
use object::read::elf::{FileHeader as _, SectionHeader as _};
use object::LittleEndian as LE;

const GCC: Compiler = Compiler::Cross("riscv64-unknown-elf-gcc");
/// Where elfext places extensions.
const BASE: u64 = 0x8000_0000;
/// Where a writable buffer sits on the target.
const FLASH: u64 = 0x4000_0000;

/// Two ALIGNs and a data word in `.text` (16-aligned), with relaxation, so that:
///
/// - relocation #0: ALIGN at 0x6, 14 bytes of padding, of which 10 are needed: the 4
///   bytes at 0x10..0x14 are deleted;
/// - relocation #1: ALIGN at 0x16, 14 bytes, at 0x12 after the first cut: all needed;
/// - relocation #2: `R_RISCV_32` against `f` at 0x24;
///
/// and `.text` is 0x30 bytes. `object()` checks all of this.
const SOURCE: &str = "\
	.option relax
	.text
	.globl f
f:
	c.addi a0, 1
	c.addi a0, 1
	c.addi a0, 1
	.balign 16
g:
	c.addi a0, 1
	.balign 16
h:
	.word f
	ret
";

/// Whether the cross compiler is installed; says so when it is not (as the oracle tests'
/// `toolchain()`, whose module brings helpers this file does not use).
fn toolchain() -> bool {
    let ok = GCC.available();
    if !ok {
        println!("skipped: riscv cross toolchain not installed");
    }
    ok
}

/// The assembled object.
fn object() -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("elfext-align-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temporary folder");
    let src: PathBuf = dir.join("align_errors.S");
    // Written once per process; the tests of this file run in parallel.
    static WRITE: std::sync::Once = std::sync::Once::new();
    WRITE.call_once(|| std::fs::write(&src, SOURCE).expect("write source"));
    let path = build_path(
        GCC,
        src.to_str().expect("UTF-8 path"),
        &["-march=rv32imac", "-mabi=ilp32"],
    );
    let bytes = std::fs::read(&path).expect("read object");
    // The layout the tests rely on.
    let text = section(&bytes, ".text");
    assert_eq!(text.size, 0x30, ".text size");
    assert_eq!(text.addralign, 16, ".text sh_addralign");
    let rela = section(&bytes, ".rela.text");
    assert_eq!(rela.size, 3 * 12, ".rela.text holds three entries");
    let want = [
        (0x6, elf::R_RISCV_ALIGN.0, 14),
        (0x16, elf::R_RISCV_ALIGN.0, 14),
        (0x24, elf::R_RISCV_32.0, 0),
    ];
    for (n, w) in want.into_iter().enumerate() {
        let at = rela.offset + 12 * n;
        let info = u32_at(&bytes, at + 4);
        let got = (
            u32_at(&bytes, at),
            info & 0xff,
            u32_at(&bytes, at + 8) as i32,
        );
        assert_eq!(got, w, "relocation #{n}");
    }
    bytes
}

// --- ELF32 readers and patchers ----------------------------------------------------------

/// A section: its header's file offset, its contents' file offset and size, its alignment.
struct Section {
    header: usize,
    offset: usize,
    size: usize,
    addralign: u32,
}

fn section(bytes: &[u8], name: &str) -> Section {
    let ehdr = elf::FileHeader32::<LE>::parse(bytes).expect("ELF32 header");
    let sections = ehdr.sections(LE, bytes).expect("section table");
    let (i, sh) = sections
        .enumerate()
        .find(|(_, sh)| sections.section_name(LE, sh) == Ok(name.as_bytes()))
        .unwrap_or_else(|| panic!("no section {name}"));
    Section {
        header: ehdr.e_shoff.get(LE) as usize + i.0 * usize::from(ehdr.e_shentsize.get(LE)),
        offset: sh.sh_offset(LE) as usize,
        size: sh.sh_size(LE) as usize,
        addralign: sh.sh_addralign(LE),
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn set_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// File offset of relocation `n` of `.rela.text`.
fn rela_at(bytes: &[u8], n: usize) -> usize {
    section(bytes, ".rela.text").offset + 12 * n
}

/// Set `r_offset` of relocation `n` of `.rela.text`.
fn set_reloc_offset(bytes: &mut [u8], n: usize, offset: u32) {
    let at = rela_at(bytes, n);
    set_u32(bytes, at, offset);
}

/// Set `r_addend` of relocation `n` of `.rela.text`.
fn set_reloc_addend(bytes: &mut [u8], n: usize, addend: i32) {
    let at = rela_at(bytes, n) + 8;
    set_u32(bytes, at, addend as u32);
}

// --- loading ---------------------------------------------------------------------------

/// The relocation section of the test object, and the section it patches.
const RELA: &str = ".rela.text";
const TEXT: &str = ".text";

/// What a load must fail with (in `.rela.text`, patching `.text`).
struct Expect {
    reloc: u32,
    offset: u64,
    addend: i64,
    problem: &'static str,
}

fn check_section(id: &SectionId, name: &str, what: &str) {
    assert_eq!(id.name.as_bytes(), name.as_bytes(), "{what}");
}

/// Load `bytes` copied and in place; both must fail with `want` and leave the heap as it
/// was (checked against a heap that already holds the valid object).
fn expect_bad_alignment(bytes: &[u8], want: &Expect) {
    let valid = object();
    // Copied.
    let registry = Registry::for_arch(
        TargetMemory::new(BASE, 1 << 20, Granules::NONE),
        &NoExports,
        Arch::Riscv32,
    );
    registry
        .load("resident", BufLoader::temporary(&valid))
        .expect("the valid object loads");
    let before = registry.heap_stats();
    let err = registry
        .load("bad", BufLoader::temporary(bytes))
        .expect_err("a bad ALIGN fails the load");
    check(&err, want, "copied");
    assert_eq!(registry.heap_stats(), before, "copied: heap changed");
    drop(registry);

    // In place, in a writable buffer 64-aligned on the host and the target.
    let mut storage = vec![0u8; bytes.len() + 64];
    let start = storage.as_ptr().align_offset(64);
    let buf = &mut storage[start..start + bytes.len()];
    buf.copy_from_slice(bytes);
    let memory = TargetMemory::new(BASE, 1 << 20, Granules::NONE).with_flash(buf, FLASH);
    let registry = Registry::for_arch(memory, &NoExports, Arch::Riscv32);
    registry
        .load("resident", BufLoader::temporary(&valid))
        .expect("the valid object loads");
    let before = registry.heap_stats();
    let err = registry
        .load("bad", BufLoader::writable(buf))
        .expect_err("a bad ALIGN fails the in-place load");
    check(&err, want, "in place");
    assert_eq!(registry.heap_stats(), before, "in place: heap changed");
}

fn check(err: &Error, want: &Expect, how: &str) {
    let Error::BadAlignment {
        section,
        reloc,
        target,
        offset,
        addend,
        problem,
    } = err
    else {
        panic!("{how}: expected BadAlignment, got {err:?} ({err})");
    };
    check_section(section, RELA, "relocation section");
    check_section(target, TEXT, "patched section");
    assert_eq!(
        (*reloc, *offset, *addend, *problem),
        (want.reloc, want.offset, want.addend, want.problem),
        "{how}: {err}"
    );
    let shown = err.to_string();
    for part in [
        format!("`{}`", RELA),
        format!("relocation #{}", want.reloc),
        format!("`{}`+{:#x}", TEXT, want.offset),
        want.problem.to_string(),
    ] {
        assert!(shown.contains(&part), "{how}: {shown:?} lacks {part:?}");
    }
}

// --- the cases -------------------------------------------------------------------------

#[test]
fn the_unpatched_object_loads_copied_and_in_place() {
    if !toolchain() {
        return;
    }
    // `.text` less the 4 deleted bytes; `h` (the data word) moved down to 0x20.
    const TRIMMED: usize = 0x30 - 4;
    let bytes = object();
    let registry = Registry::for_arch(
        TargetMemory::new(BASE, 1 << 20, Granules::NONE),
        &NoExports,
        Arch::Riscv32,
    );
    registry
        .load("ok", BufLoader::temporary(&bytes))
        .expect("loads copied");
    let f = registry.symbol("ok", "f").expect("f");
    let copied = registry
        .with_memory(|m| m.bytes(f, TRIMMED).map(<[u8]>::to_vec))
        .expect(".text is in the block");
    assert_eq!(u32_at(&copied, 0x20) as u64, f, "the word at h is f");

    // In place in a writable buffer: `.text` trimmed there, the same bytes.
    let mut storage = vec![0u8; bytes.len() + 64];
    let start = storage.as_ptr().align_offset(64);
    let buf = &mut storage[start..start + bytes.len()];
    buf.copy_from_slice(&bytes);
    let memory = TargetMemory::new(BASE, 1 << 20, Granules::NONE).with_flash(buf, FLASH);
    let registry = Registry::for_arch(memory, &NoExports, Arch::Riscv32);
    let (host, len) = (buf.as_ptr() as usize, buf.len());
    registry
        .load("ok", BufLoader::writable(buf))
        .expect("loads in place");
    let f = registry.symbol("ok", "f").expect("f");
    let off = f.checked_sub(FLASH).expect(".text used in place") as usize;
    assert_eq!(off, section(&bytes, ".text").offset, "f in place");
    assert!(off + TRIMMED <= len);
    // SAFETY: inside the buffer the registry borrows; nothing writes it now.
    let in_place = unsafe { std::slice::from_raw_parts((host + off) as *const u8, TRIMMED) };
    let mut want = copied;
    // The word at h holds f's address, which differs between the two loads.
    want[0x20..0x24].copy_from_slice(&(f as u32).to_le_bytes());
    assert_eq!(in_place, &want[..], "in place and copied differ");
}

#[test]
fn align_without_an_addend() {
    if !toolchain() {
        return;
    }
    // `.rela.text` rewritten as `.rel.text` (SHT_REL, 8-byte entries): no addends.
    let mut bytes = object();
    let rela = section(&bytes, ".rela.text");
    for n in 0..3 {
        let from = rela.offset + 12 * n;
        let entry: [u8; 8] = bytes[from..from + 8].try_into().unwrap();
        let to = rela.offset + 8 * n;
        bytes[to..to + 8].copy_from_slice(&entry);
    }
    set_u32(&mut bytes, rela.header + 4, elf::SHT_REL.0);
    set_u32(&mut bytes, rela.header + 20, 3 * 8);
    set_u32(&mut bytes, rela.header + 36, 8);
    expect_bad_alignment(
        &bytes,
        &Expect {
            reloc: 0,
            offset: 0x6,
            addend: 0,
            problem: "alignment padding without an addend",
        },
    );
}

#[test]
fn align_with_a_negative_addend() {
    if !toolchain() {
        return;
    }
    let mut bytes = object();
    set_reloc_addend(&mut bytes, 0, -2);
    expect_bad_alignment(
        &bytes,
        &Expect {
            reloc: 0,
            offset: 0x6,
            addend: -2,
            problem: "negative alignment padding",
        },
    );
}

#[test]
fn align_padding_past_the_end_of_the_section() {
    if !toolchain() {
        return;
    }
    // Relocation #1 at 0x16: 0x1a bytes reach exactly the end (0x30); one more is past it.
    let mut bytes = object();
    set_reloc_addend(&mut bytes, 1, 0x1b);
    expect_bad_alignment(
        &bytes,
        &Expect {
            reloc: 1,
            offset: 0x16,
            addend: 0x1b,
            problem: "alignment padding runs past the end of the section",
        },
    );
    // An addend whose end overflows is past the end too.
    let mut bytes = object();
    set_reloc_offset(&mut bytes, 1, u32::MAX - 1);
    set_reloc_addend(&mut bytes, 1, i32::MAX);
    expect_bad_alignment(
        &bytes,
        &Expect {
            reloc: 1,
            offset: u64::from(u32::MAX - 1),
            addend: i64::from(i32::MAX),
            problem: "alignment padding runs past the end of the section",
        },
    );
}

const OUT_OF_ORDER: &str =
    "alignment padding before or inside the previous one (relocations out of order)";

#[test]
fn aligns_out_of_order() {
    if !toolchain() {
        return;
    }
    // Relocations #0 and #1 swapped: #1 (at 0x6) comes after the padding of #0 (at 0x16).
    let mut bytes = object();
    let (a, b) = (rela_at(&bytes, 0), rela_at(&bytes, 1));
    let first: [u8; 12] = bytes[a..a + 12].try_into().unwrap();
    bytes.copy_within(b..b + 12, a);
    bytes[b..b + 12].copy_from_slice(&first);
    expect_bad_alignment(
        &bytes,
        &Expect {
            reloc: 1,
            offset: 0x6,
            addend: 14,
            problem: OUT_OF_ORDER,
        },
    );
}

#[test]
fn aligns_overlapping() {
    if !toolchain() {
        return;
    }
    // Relocation #1 moved into the padding of #0 (0x6..0x14), and to its last byte.
    for offset in [0xe, 0x13] {
        let mut bytes = object();
        set_reloc_offset(&mut bytes, 1, offset);
        expect_bad_alignment(
            &bytes,
            &Expect {
                reloc: 1,
                offset: offset.into(),
                addend: 14,
                problem: OUT_OF_ORDER,
            },
        );
    }
}

#[test]
fn alignment_larger_than_the_sections() {
    if !toolchain() {
        return;
    }
    // 14 bytes of padding align to 16; `.text` says 8.
    let mut bytes = object();
    let text = section(&bytes, ".text");
    set_u32(&mut bytes, text.header + 32, 8);
    assert_eq!(section(&bytes, ".text").addralign, 8);
    expect_bad_alignment(
        &bytes,
        &Expect {
            reloc: 0,
            offset: 0x6,
            addend: 14,
            problem: "alignment larger than the section's sh_addralign (its place is unknown)",
        },
    );
}

#[test]
fn alignment_padding_shorter_than_needed() {
    if !toolchain() {
        return;
    }
    // 8 bytes of padding at 0x6 align to 16 and 10 are needed.
    let mut bytes = object();
    set_reloc_addend(&mut bytes, 0, 8);
    expect_bad_alignment(
        &bytes,
        &Expect {
            reloc: 0,
            offset: 0x6,
            addend: 8,
            problem: "alignment padding shorter than the alignment needs",
        },
    );
}

#[test]
fn relocation_patching_deleted_padding() {
    if !toolchain() {
        return;
    }
    // The 4-byte field of relocation #2 moved over the deleted bytes 0x10..0x14: inside
    // them, overlapping their start, overlapping their end.
    for offset in [0x10, 0xd, 0x13] {
        let mut bytes = object();
        set_reloc_offset(&mut bytes, 2, offset);
        expect_bad_alignment(
            &bytes,
            &Expect {
                reloc: 2,
                offset: offset.into(),
                addend: 0,
                problem: "patches alignment padding that is deleted",
            },
        );
    }
}

#[test]
fn relocation_next_to_deleted_padding_is_not_an_error() {
    if !toolchain() {
        return;
    }
    // Fields ending where the deleted bytes start, or starting where they end.
    for offset in [0xc, 0x14] {
        let mut bytes = object();
        set_reloc_offset(&mut bytes, 2, offset);
        let registry = Registry::for_arch(
            TargetMemory::new(BASE, 1 << 20, Granules::NONE),
            &NoExports,
            Arch::Riscv32,
        );
        registry
            .load("ok", BufLoader::temporary(&bytes))
            .unwrap_or_else(|e| panic!("R_RISCV_32 at {offset:#x}: {e}"));
    }
}
