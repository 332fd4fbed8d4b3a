//! Links the firmware for its board and builds the test extensions with the target's cross
//! C compiler (and the distribution's picolibc for the libc extension).

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

    // Memory layout and the runtime's linker script.
    std::fs::copy(manifest.join(memory), out.join("memory.x")).unwrap();
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
    println!("cargo:rustc-env=ELFEXT_EXT_DIR={}", out.display());
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
