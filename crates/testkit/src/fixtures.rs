//! The committed fixtures under `tests/fixtures/<arch>/`: relocatable objects built with
//! the cross toolchains, and for each a reference image of what GNU ld linked from it at
//! the addresses elfext chose. `cargo xtask fixtures` writes them with [`generate`];
//! `crates/elfext/tests/fixtures.rs` links the committed objects with elfext and compares
//! them with the images, and regenerates everything to check nothing went stale.
//!
//! A reference image (`<name>.image`) is a text file (see `tests/fixtures/README.md`):
//!
//! ```text
//! elfext reference image 1
//! arch arm
//! base 0x20000000
//! export host_counter 0x1f800001
//! section 2 .text 0x20000000 132
//! 00b5...                       (the bytes in hex, 32 a line)
//! end
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use elfext::Arch;

use crate::{extensions_dir, oracle, repo_root};

/// The folder the fixtures are committed in.
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("tests/fixtures")
}

/// One fixture: an extension source built for one architecture with one set of flags.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// Sub-folder of `tests/fixtures/` (the architecture).
    pub dir: &'static str,
    /// File stem of the object and the image.
    pub name: &'static str,
    /// The architecture elfext links for.
    pub arch: Arch,
    /// The compiler command (gcc or a gcc-compatible cross compiler).
    pub cc: &'static str,
    /// The source, relative to `extensions/`.
    pub source: &'static str,
    /// Compiler flags (those the oracle tests use for the same build).
    pub flags: &'static [&'static str],
    /// The GNU ld command.
    pub ld: &'static str,
    /// GNU ld's flags.
    pub ld_flags: &'static [&'static str],
    /// Where elfext places the object.
    pub base: u64,
    /// The first stand-in host export address; each further one 0x100 higher.
    pub host: u64,
    /// Whether exports are Thumb code (bit 0 set; ARM M-profile).
    pub thumb: bool,
}

const ARM: (&str, &str) = ("arm-none-eabi-gcc", "arm-none-eabi-ld");
const AARCH64: (&str, &str) = ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-ld");
const RISCV: (&str, &str) = ("riscv64-unknown-elf-gcc", "riscv64-unknown-elf-ld");
const X86_64: (&str, &str) = ("gcc", "ld");

/// Every fixture: the assembly files that use every relocation type each relocator
/// handles, and a few C builds per architecture.
pub fn all() -> Vec<Fixture> {
    let arm = |name, source, flags, thumb| Fixture {
        dir: "arm",
        name,
        arch: Arch::Arm,
        cc: ARM.0,
        source,
        flags,
        ld: ARM.1,
        ld_flags: &["--no-relax"],
        base: 0x2000_0000,
        host: 0x2000_0000 - (8 << 20),
        thumb,
    };
    let aarch64 = |name, source, flags, tiny: bool| Fixture {
        dir: "aarch64",
        name,
        arch: Arch::Aarch64,
        cc: AARCH64.0,
        source,
        flags,
        ld: AARCH64.1,
        ld_flags: &["--no-relax"],
        base: 0x4000_0000,
        host: if tiny {
            0x4000_0000 - 0x8_0000
        } else {
            0x4400_0000
        },
        thumb: false,
    };
    let riscv = |arch, name, source, flags| Fixture {
        dir: if arch == Arch::Riscv32 {
            "riscv32"
        } else {
            "riscv64"
        },
        name,
        arch,
        cc: RISCV.0,
        source,
        flags,
        ld: RISCV.1,
        ld_flags: if arch == Arch::Riscv32 {
            &["--no-relax", "-m", "elf32lriscv"]
        } else {
            &["--no-relax"]
        },
        base: 0x2000_0000,
        host: 0x1000_0000,
        thumb: false,
    };
    let x86_64 = |name, source, flags| Fixture {
        dir: "x86_64",
        name,
        arch: Arch::X86_64,
        cc: X86_64.0,
        source,
        flags,
        ld: X86_64.1,
        ld_flags: &[],
        base: 0x2000_0000,
        host: 0x1000_0000,
        thumb: false,
    };
    let (rv32, rv64) = (Arch::Riscv32, Arch::Riscv64);
    vec![
        arm("relocs", "arm/relocs.S", &[], false),
        arm("v6m", "arm/v6m.S", &[], true),
        arm("v4bx", "arm/v4bx.S", &[], false),
        arm("got", "arm/got.S", &[], true),
        arm(
            "calls-m4-O2",
            "arm/calls.c",
            &[
                "-mcpu=cortex-m4",
                "-mthumb",
                "-O2",
                "-fno-common",
                "-fno-asynchronous-unwind-tables",
            ],
            true,
        ),
        arm(
            "data-m0plus-O0-pure",
            "c/data.c",
            &[
                "-mcpu=cortex-m0plus",
                "-mthumb",
                "-O0",
                "-mpure-code",
                "-fno-common",
                "-fno-asynchronous-unwind-tables",
            ],
            true,
        ),
        arm(
            "calls-a9-arm-O2",
            "arm/calls.c",
            &[
                "-mcpu=cortex-a9",
                "-marm",
                "-O2",
                "-fno-common",
                "-fno-asynchronous-unwind-tables",
            ],
            false,
        ),
        arm(
            "pic-m33-O2",
            "arm/pic.c",
            &[
                "-mcpu=cortex-m33",
                "-mthumb",
                "-O2",
                "-fPIC",
                "-fno-asynchronous-unwind-tables",
            ],
            true,
        ),
        aarch64("relocs", "aarch64/relocs.S", &[], false),
        aarch64(
            "calls-small-O2",
            "aarch64/calls.c",
            &[
                "-O2",
                "-fno-pic",
                "-mcmodel=small",
                "-fno-common",
                "-fno-asynchronous-unwind-tables",
            ],
            false,
        ),
        aarch64(
            "hello-tiny-O0",
            "c/hello.c",
            &[
                "-O0",
                "-fno-pic",
                "-mcmodel=tiny",
                "-fno-common",
                "-fno-asynchronous-unwind-tables",
            ],
            true,
        ),
        aarch64(
            "data-large-O2",
            "c/data.c",
            &[
                "-O2",
                "-fno-pic",
                "-mcmodel=large",
                "-fno-common",
                "-fno-asynchronous-unwind-tables",
            ],
            false,
        ),
        riscv(
            rv32,
            "relocs",
            "riscv/relocs.S",
            &["-march=rv32imac", "-mabi=ilp32"],
        ),
        riscv(
            rv32,
            "calls-medlow-O2-relax",
            "riscv/calls.c",
            &[
                "-march=rv32imac",
                "-mabi=ilp32",
                "-O2",
                "-mrelax",
                "-fno-pic",
                "-mcmodel=medlow",
                "-fno-common",
                "-fno-asynchronous-unwind-tables",
            ],
        ),
        riscv(
            rv64,
            "relocs",
            "riscv/relocs.S",
            &["-march=rv64imac", "-mabi=lp64"],
        ),
        riscv(
            rv64,
            "calls-medany-O2-relax",
            "riscv/calls.c",
            &[
                "-march=rv64imac",
                "-mabi=lp64",
                "-O2",
                "-mrelax",
                "-fno-pic",
                "-mcmodel=medany",
                "-fno-common",
                "-fno-asynchronous-unwind-tables",
            ],
        ),
        riscv(
            rv64,
            "data-medany-O0",
            "c/data.c",
            &[
                "-march=rv64imac",
                "-mabi=lp64",
                "-O0",
                "-mno-relax",
                "-fno-pic",
                "-mcmodel=medany",
                "-fno-common",
                "-fno-asynchronous-unwind-tables",
            ],
        ),
        x86_64(
            "oracle-O2",
            "c/oracle.c",
            &[
                "-O2",
                "-fno-pic",
                "-fno-common",
                "-fno-asynchronous-unwind-tables",
            ],
        ),
        x86_64(
            "hello-O0-pic",
            "c/hello.c",
            &[
                "-O0",
                "-fPIC",
                "-fno-common",
                "-fno-asynchronous-unwind-tables",
            ],
        ),
    ]
}

impl Fixture {
    /// `<dir>/<name>`, for messages.
    pub fn label(&self) -> String {
        format!("{}/{}", self.dir, self.name)
    }

    /// The object's path under `root` (`tests/fixtures` or a temporary folder).
    pub fn object_path(&self, root: &Path) -> PathBuf {
        root.join(self.dir).join(format!("{}.o", self.name))
    }

    /// The reference image's path under `root`.
    pub fn image_path(&self, root: &Path) -> PathBuf {
        root.join(self.dir).join(format!("{}.image", self.name))
    }

    /// Whether the compiler and GNU ld can be run here.
    pub fn toolchain_available(&self) -> bool {
        [self.cc, self.ld].iter().all(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
    }

    /// The stand-in host exports of an object.
    pub fn exports(&self, object: &[u8]) -> Vec<(String, u64)> {
        let mut exports = oracle::fake_exports(object, self.arch, self.host);
        // GNU ld defines it on x86-64; elfext's GOT base needs no export.
        exports.retain(|(n, _)| n != "_GLOBAL_OFFSET_TABLE_");
        for e in &mut exports {
            e.1 |= u64::from(self.thumb);
        }
        exports
    }

    /// Compile the source into `<root>/<dir>/<name>.o`, from `extensions/` with a relative
    /// path so that the object does not depend on where the repository is.
    pub fn compile(&self, root: &Path) -> Result<PathBuf, String> {
        let out = self.object_path(root);
        std::fs::create_dir_all(out.parent().unwrap()).map_err(|e| e.to_string())?;
        let out = std::path::absolute(&out).map_err(|e| e.to_string())?;
        let output = Command::new(self.cc)
            .current_dir(extensions_dir())
            .arg("-c")
            .args(self.flags)
            .arg(self.source)
            .arg("-o")
            .arg(&out)
            .output()
            .map_err(|e| format!("run {}: {e}", self.cc))?;
        if !output.status.success() {
            return Err(format!(
                "{} {:?} {} failed:\n{}",
                self.cc,
                self.flags,
                self.source,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(out)
    }

    /// Compile the object into `root`, link it with elfext (for the addresses) and GNU ld,
    /// and write GNU ld's bytes as the reference image. Fails if elfext's bytes differ
    /// from GNU ld's: a fixture records agreement.
    pub fn generate(&self, root: &Path) -> Result<(), String> {
        let path = self.compile(root)?;
        let object = std::fs::read(&path).map_err(|e| e.to_string())?;
        let exports = self.exports(&object);
        let exports: Vec<(&str, u64)> = exports.iter().map(|(n, a)| (n.as_str(), *a)).collect();
        let linked = oracle::link_elfext(&object, self.arch, self.base, &exports)?;
        let theirs = oracle::link_gnu_ld(
            &path,
            &object,
            self.arch,
            self.ld,
            self.ld_flags,
            self.base,
            &exports,
            &linked,
        )?;
        let image = Image {
            arch: self.arch,
            base: self.base,
            exports: exports.iter().map(|(n, a)| (n.to_string(), *a)).collect(),
            sections: linked
                .compared()
                .zip(theirs)
                .map(|(s, (addr, bytes))| ImageSection {
                    index: s.index,
                    name: s.name.clone(),
                    addr,
                    bytes,
                })
                .collect(),
        };
        std::fs::write(self.image_path(root), image.to_text()).map_err(|e| e.to_string())?;
        check(&object, &image)
            .map(|_| ())
            .map_err(|e| format!("{}: elfext and GNU ld differ: {e}", self.label()))
    }
}

/// Regenerate every fixture whose toolchain is installed into `root`, with a
/// `toolchain.txt` per architecture folder naming the compiler and linker versions;
/// return the architecture folders skipped for want of a toolchain.
pub fn generate(root: &Path) -> Result<Vec<&'static str>, String> {
    let mut skipped: Vec<&'static str> = Vec::new();
    let mut done: Vec<&'static str> = Vec::new();
    let mut errors = Vec::new();
    for f in all() {
        if skipped.contains(&f.dir) {
            continue;
        }
        if !done.contains(&f.dir) {
            if !f.toolchain_available() {
                skipped.push(f.dir);
                continue;
            }
            std::fs::create_dir_all(root.join(f.dir)).map_err(|e| e.to_string())?;
            std::fs::write(root.join(f.dir).join("toolchain.txt"), toolchain(&f))
                .map_err(|e| e.to_string())?;
            done.push(f.dir);
        }
        if let Err(e) = f.generate(root) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(skipped)
    } else {
        Err(errors.join("\n\n"))
    }
}

/// The first line of `--version` of the fixture's compiler and linker.
fn toolchain(f: &Fixture) -> String {
    let mut out = String::new();
    for c in [f.cc, f.ld] {
        let version = Command::new(c)
            .arg("--version")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default();
        writeln!(out, "{c}: {version}").unwrap();
    }
    out
}

/// Link `object` with elfext as `image` records (base and exports) and compare every
/// section with the image; the number of sections compared.
pub fn check(object: &[u8], image: &Image) -> Result<usize, String> {
    let exports: Vec<(&str, u64)> = image
        .exports
        .iter()
        .map(|(n, a)| (n.as_str(), *a))
        .collect();
    let linked = oracle::link_elfext(object, image.arch, image.base, &exports)?;
    let ours: Vec<&oracle::Section> = linked.compared().collect();
    for want in &image.sections {
        let s = ours
            .iter()
            .find(|s| s.index == want.index && s.name == want.name)
            .ok_or_else(|| format!("elfext placed no section {} {}", want.index, want.name))?;
        if let Some(e) = oracle::difference(s, want.addr, &want.bytes) {
            return Err(e);
        }
    }
    if ours.len() != image.sections.len() {
        let names: Vec<&str> = ours.iter().map(|s| s.name.as_str()).collect();
        return Err(format!(
            "elfext linked {} sections ({names:?}), the image has {}",
            ours.len(),
            image.sections.len()
        ));
    }
    Ok(ours.len())
}

/// One section of a reference image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageSection {
    /// Section index in the object.
    pub index: u32,
    /// Section name.
    pub name: String,
    /// Where it was linked.
    pub addr: u64,
    /// What GNU ld linked there.
    pub bytes: Vec<u8>,
}

/// A reference image: GNU ld's bytes for each loaded section of an object, at the
/// addresses elfext chose.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// The architecture.
    pub arch: Arch,
    /// Where the object was placed.
    pub base: u64,
    /// The host exports (name, address) its undefined symbols were given.
    pub exports: Vec<(String, u64)>,
    /// The sections compared, in elfext's placement order.
    pub sections: Vec<ImageSection>,
}

const MAGIC: &str = "elfext reference image 1";

fn arch_name(arch: Arch) -> &'static str {
    match arch {
        Arch::X86_64 => "x86_64",
        Arch::Arm => "arm",
        Arch::Aarch64 => "aarch64",
        Arch::Riscv32 => "riscv32",
        Arch::Riscv64 => "riscv64",
        _ => "unknown",
    }
}

fn parse_addr(s: &str) -> Result<u64, String> {
    let hex = s
        .strip_prefix("0x")
        .ok_or_else(|| format!("address {s} without 0x"))?;
    u64::from_str_radix(hex, 16).map_err(|e| format!("address {s}: {e}"))
}

impl Image {
    /// The image as text.
    pub fn to_text(&self) -> String {
        let mut out = format!(
            "{MAGIC}\narch {}\nbase {:#x}\n",
            arch_name(self.arch),
            self.base
        );
        for (name, addr) in &self.exports {
            writeln!(out, "export {name} {addr:#x}").unwrap();
        }
        for s in &self.sections {
            writeln!(
                out,
                "section {} {} {:#x} {}",
                s.index,
                s.name,
                s.addr,
                s.bytes.len()
            )
            .unwrap();
            for line in s.bytes.chunks(32) {
                for b in line {
                    write!(out, "{b:02x}").unwrap();
                }
                out.push('\n');
            }
        }
        out.push_str("end\n");
        out
    }

    /// Read an image from its text.
    pub fn parse(text: &str) -> Result<Image, String> {
        let mut lines = text.lines();
        let mut next = |what: &str| lines.next().ok_or_else(|| format!("ends before {what}"));
        let magic = next("the header")?;
        if magic != MAGIC {
            return Err(format!("not a reference image: {magic:?}"));
        }
        let arch = next("arch")?;
        let arch = match arch.strip_prefix("arch ") {
            Some("x86_64") => Arch::X86_64,
            Some("arm") => Arch::Arm,
            Some("aarch64") => Arch::Aarch64,
            Some("riscv32") => Arch::Riscv32,
            Some("riscv64") => Arch::Riscv64,
            _ => return Err(format!("bad arch line {arch:?}")),
        };
        let base = next("base")?;
        let base = parse_addr(base.strip_prefix("base ").ok_or("no base line")?)?;
        let mut image = Image {
            arch,
            base,
            exports: Vec::new(),
            sections: Vec::new(),
        };
        let mut current: Option<(ImageSection, usize)> = None;
        let finish = |current: &mut Option<(ImageSection, usize)>,
                      sections: &mut Vec<ImageSection>|
         -> Result<(), String> {
            if let Some((s, size)) = current.take() {
                if s.bytes.len() != size {
                    return Err(format!(
                        "{}: {} bytes, {size} announced",
                        s.name,
                        s.bytes.len()
                    ));
                }
                sections.push(s);
            }
            Ok(())
        };
        for (n, line) in text.lines().enumerate().skip(3) {
            let err = |what: &str| format!("line {}: {what}: {line:?}", n + 1);
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["export", name, addr] if current.is_none() => {
                    image.exports.push((name.to_string(), parse_addr(addr)?));
                }
                ["section", index, name, addr, size] => {
                    finish(&mut current, &mut image.sections)?;
                    current = Some((
                        ImageSection {
                            index: index.parse().map_err(|_| err("bad index"))?,
                            name: name.to_string(),
                            addr: parse_addr(addr)?,
                            bytes: Vec::new(),
                        },
                        size.parse().map_err(|_| err("bad size"))?,
                    ));
                }
                ["end"] => {
                    finish(&mut current, &mut image.sections)?;
                    return Ok(image);
                }
                [hex] if current.is_some() && hex.len() % 2 == 0 => {
                    let s = &mut current.as_mut().unwrap().0;
                    for i in (0..hex.len()).step_by(2) {
                        let b =
                            u8::from_str_radix(&hex[i..i + 2], 16).map_err(|_| err("bad hex"))?;
                        s.bytes.push(b);
                    }
                }
                _ => return Err(err("unexpected")),
            }
        }
        Err("no end line".into())
    }
}
