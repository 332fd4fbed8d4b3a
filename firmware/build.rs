//! Links the firmware for its board, builds the test extensions with the target's cross
//! C compiler (and the distribution's picolibc for the libc extension) and prelinks two of
//! them into images for fixed flash and RAM addresses (`src/imagedemo.rs`).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One test extension: its name, its source (relative to the repository) and extra flags.
struct Ext {
    name: &'static str,
    source: &'static str,
    flags: &'static [&'static str],
}

const COMMON: &[Ext] = &[
    Ext {
        name: "hello",
        source: "extensions/c/hello.c",
        flags: &[],
    },
    Ext {
        name: "data",
        source: "extensions/c/data.c",
        flags: &[],
    },
    Ext {
        name: "init_fini",
        source: "extensions/c/init_fini.c",
        flags: &[],
    },
    Ext {
        name: "chain",
        source: "firmware/ext/chain.c",
        flags: &[],
    },
    Ext {
        name: "dep_a",
        source: "extensions/c/dep_a.c",
        flags: &[],
    },
    Ext {
        name: "dep_b",
        source: "extensions/c/dep_b.c",
        flags: &[],
    },
    Ext {
        name: "align",
        source: "extensions/c/align.c",
        flags: &[],
    },
    Ext {
        name: "bss",
        source: "extensions/c/bss.c",
        flags: &["-fcommon"],
    },
    Ext {
        name: "missing",
        source: "extensions/c/missing.c",
        flags: &[],
    },
    Ext {
        name: "fault",
        source: "firmware/ext/fault.c",
        flags: &[],
    },
];

fn main() {
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap();
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();

    let (memory, cc, arch_flags, far): (&str, &str, &[&str], &str) = match arch.as_str() {
        "arm" => (
            "memory-cortex-m.x",
            "arm-none-eabi-gcc",
            &["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft"],
            "firmware/ext/far.c",
        ),
        "riscv32" => (
            "memory-riscv.x",
            "riscv64-unknown-elf-gcc",
            &["-march=rv32imac", "-mabi=ilp32"],
            "firmware/ext/far_rv.S",
        ),
        other => panic!("the firmware runs on Cortex-M (arm) or RV32 (riscv32), not {other}"),
    };

    // Memory layout (with the image sections appended) and the runtime's linker script.
    let layout = std::fs::read_to_string(manifest.join(memory)).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    if arch == "riscv32" {
        println!("cargo:rustc-link-arg=-Tmemory.x");
    }
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rerun-if-changed={memory}");

    let far = Ext {
        name: "far",
        source: far,
        flags: &[],
    };
    for ext in COMMON.iter().chain([&far]) {
        compile(
            cc,
            arch_flags,
            &root,
            ext,
            &out.join(format!("{}.o", ext.name)),
        );
    }
    libc_demo(cc, arch_flags, &root, &out);
    let sections = images(cc, arch_flags, &arch, &root, &out, &layout);
    std::fs::write(out.join("memory.x"), layout + &sections).unwrap();
    println!("cargo:rustc-env=ELFEXT_EXT_DIR={}", out.display());
}

/// A prelinked image: the extension, where its bytes start in `IMAGE_FLASH` and where its
/// DATA+BSS start in `IMAGE_RAM` (offsets from the regions' origins).
struct ImageSlot {
    name: &'static str,
    flash: u64,
    ram: u64,
}

/// The images, in address order; each slot ends where the next begins (the last at the end
/// of the 64 KiB regions). The first 4 KiB of `IMAGE_FLASH` hold the firmware functions
/// images import (`.ext_image.imports`, at fixed addresses).
const IMAGES: &[ImageSlot] = &[
    ImageSlot {
        name: "data",
        flash: 0x1000,
        ram: 0,
    },
    ImageSlot {
        name: "init_fini",
        flash: 0x8000,
        ram: 0x1000,
    },
];
const IMAGE_REGION: u64 = 0x1_0000;

/// The origin of the memory region `region` in the linker script `script`.
fn origin(script: &str, region: &str) -> u64 {
    let line = script
        .lines()
        .find(|l| l.trim_start().starts_with(region) && l.contains("ORIGIN"))
        .unwrap_or_else(|| panic!("the memory script has no region {region}"));
    let hex = line
        .split("ORIGIN")
        .nth(1)
        .and_then(|r| r.split("0x").nth(1))
        .and_then(|r| r.split(|c: char| !c.is_ascii_hexdigit()).next())
        .unwrap_or_else(|| panic!("no hexadecimal ORIGIN in: {line}"));
    u64::from_str_radix(hex, 16).unwrap()
}

/// Prelink the `IMAGES` for the `IMAGE_FLASH` and `IMAGE_RAM` regions of the memory script
/// and return the linker script sections that place their bytes.
///
/// Imports: an image is linked for fixed addresses before the firmware exists, so it can
/// only import firmware symbols whose address is fixed by the linker script. The one
/// import here, `host_record` (for `init_fini`), is put at the start of `IMAGE_FLASH`
/// (`#[link_section = ".ext_image.imports"]` in `src/exports.rs`); `load_image` checks
/// that the firmware's export really is there. `data.c` is compiled again without GCC's
/// loop-to-library-call rewriting, so that it calls no `strlen` (whose address only the
/// firmware's link decides).
fn images(cc: &str, flags: &[&str], arch: &str, root: &Path, out: &Path, script: &str) -> String {
    use elfext::{prelink, Arch, ExportMap, Image, PrelinkOptions};

    let flash = origin(script, "IMAGE_FLASH");
    let ram = origin(script, "IMAGE_RAM");
    let (target, thumb) = match arch {
        "arm" => (Arch::Arm, 1),
        _ => (Arch::Riscv32, 0),
    };
    let mut exports = ExportMap::new();
    exports.insert("host_record", flash | thumb);

    // One output section per slot, at its address (a location counter set inside a section
    // means an offset to GNU ld but an address to lld).
    let mut sections = format!(
        "\n/* Generated by build.rs: the prelinked images, each placed so that its text is at\n * the address it was prelinked for; host_record at {flash:#x}. */\nSECTIONS\n{{\n  .ext_image.imports ORIGIN(IMAGE_FLASH) :\n  {{\n    KEEP(*(.ext_image.imports .ext_image.imports.*));\n  }} > IMAGE_FLASH\n"
    );
    for (i, slot) in IMAGES.iter().enumerate() {
        let ext = COMMON.iter().find(|e| e.name == slot.name).unwrap();
        let obj = out.join(format!("{}.image.o", slot.name));
        let self_contained = Ext {
            flags: &["-fno-tree-loop-distribute-patterns"],
            ..*ext
        };
        compile(cc, flags, root, &self_contained, &obj);
        let bytes = std::fs::read(&obj).unwrap();
        let (flash_end, ram_end) = IMAGES
            .get(i + 1)
            .map_or((IMAGE_REGION, IMAGE_REGION), |n| (n.flash, n.ram));
        let link = |text: u64| {
            let options = PrelinkOptions {
                arch: target,
                text,
                data: ram + slot.ram,
                exports: &exports,
            };
            prelink(&bytes, &options, None)
                .unwrap_or_else(|e| panic!("prelinking {} for {text:#x}: {e}", slot.name))
        };
        // Where the text sits in the image depends only on the header (the names), not on
        // the addresses: link once to learn it, then for the address the slot gives.
        let first = link(flash + slot.flash);
        let text_offset = Image::parse(&first).unwrap().text_offset();
        let image = link(flash + slot.flash + text_offset);
        let img = Image::parse(&image).unwrap();
        assert_eq!(img.image_addr(), flash + slot.flash, "{}: moved", slot.name);
        assert!(
            slot.flash + img.len() as u64 <= flash_end,
            "{}: the image ({} bytes) overflows its flash slot",
            slot.name,
            img.len()
        );
        assert!(
            img.ram_range().1 <= ram + ram_end,
            "{}: DATA+BSS overflow its RAM slot",
            slot.name
        );
        std::fs::write(out.join(format!("{}.img", slot.name)), &image).unwrap();
        sections += &format!(
            "  .ext_image.{name} ORIGIN(IMAGE_FLASH) + {at:#x} :\n  {{\n    KEEP(*(.ext_image.{name}));\n  }} > IMAGE_FLASH\n",
            name = slot.name,
            at = slot.flash
        );
    }
    sections += "\n  .ext_image_ram (NOLOAD) : ALIGN(8)\n  {\n    KEEP(*(.ext_image_ram .ext_image_ram.*));\n  } > IMAGE_RAM\n} INSERT AFTER .rodata;\n";
    sections
}

fn run(cmd: &mut Command) {
    let shown = format!("{cmd:?}");
    let status = cmd.status().unwrap_or_else(|e| {
        panic!("cannot run {shown}: {e}\n(install the cross toolchain: apt-get install gcc-arm-none-eabi gcc-riscv64-unknown-elf picolibc-arm-none-eabi picolibc-riscv64-unknown-elf)")
    });
    assert!(status.success(), "failed: {shown}");
}

fn compile(cc: &str, arch: &[&str], root: &Path, ext: &Ext, obj: &Path) {
    let src = root.join(ext.source);
    println!("cargo:rerun-if-changed={}", src.display());
    run(Command::new(cc)
        .args(arch)
        .args(["-O2", "-ffunction-sections", "-fdata-sections", "-c"])
        .args(ext.flags)
        .arg(&src)
        .arg("-o")
        .arg(obj));
}

/// The libc extension: one object made of `libc_demo.c` and the members of picolibc's
/// `libc.a` it needs, pulled by the cross `ld -r` as a static link would.
fn libc_demo(cc: &str, arch: &[&str], root: &Path, out: &Path) {
    let src = root.join("firmware/ext/libc_demo.c");
    println!("cargo:rerun-if-changed={}", src.display());
    let triple = cc.trim_end_matches("-gcc");
    // The multilib picolibc was built for (newlib may be installed too, so libc.a is not
    // looked up through the driver).
    let multi = capture(Command::new(cc).args(arch).arg("-print-multi-directory"));
    let libc = Path::new("/usr/lib/picolibc")
        .join(triple)
        .join("lib")
        .join(multi.trim())
        .join("libc.a");
    assert!(
        libc.exists(),
        "{} is missing: install picolibc-{triple} (apt-get install picolibc-{triple})",
        libc.display()
    );
    let libgcc = capture(Command::new(cc).args(arch).arg("-print-libgcc-file-name"));
    let obj = out.join("libc_demo.c.o");
    run(Command::new(cc)
        .args(arch)
        .args([
            "-Os",
            "-ffunction-sections",
            "-fdata-sections",
            "-fno-common",
        ])
        .args(["-fno-unwind-tables", "-fno-asynchronous-unwind-tables"])
        .args(["--specs=picolibc.specs", "-c"])
        .arg(&src)
        .arg("-o")
        .arg(&obj));
    // One relocatable object: the extension and every libc.a member it needs (printf
    // without floating point).
    let linked = out.join("libc_demo.linked.o");
    run(Command::new(cc)
        .args(arch)
        .args(["-nostdlib", "-nostartfiles", "-r"])
        .arg(&obj)
        .args([
            "-Wl,--defsym=vfprintf=__i_vfprintf",
            "-Wl,-u,__i_vfprintf",
            "-Wl,--start-group",
        ])
        .arg(&libc)
        .arg(libgcc.trim())
        .arg("-Wl,--end-group")
        .arg("-o")
        .arg(&linked));
    run(Command::new(format!("{triple}-objcopy"))
        .args(["--strip-debug", "-R", ".eh_frame", "-R", ".comment"])
        .arg(&linked)
        .arg(out.join("libc.o")));
}

fn capture(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    assert!(out.status.success(), "failed: {shown}");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}
