//! `elfext prelink`: link an extension for fixed addresses into an image whose TEXT and
//! RODATA execute in place from flash and whose DATA and BSS go to a given RAM address
//! (see [`elfext::image`] for the format). `elfext run IMAGE` runs such an image natively
//! ([`native::run_image`]).

#[cfg(unix)]
pub mod native;

use std::collections::BTreeMap;
use std::path::PathBuf;

use elfext::image::{object_arch, Image};
use elfext::{Arch, ExportMap, PrelinkOptions};

use crate::call::{Arg, CallSpec};
use crate::check;
use crate::error::CliError;
use crate::inputs;
use crate::inspect::plan::parse_number;

/// Options of `elfext prelink`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  elfext prelink --text 0x08040000 --data 0x20010000 --exports firmware.elf app.o -o app.img
  elfext prelink --text 0x08040000 --data 0x20010000 --exports exports.txt a.o b.o libm.a -o app.img
  elfext prelink --text 0x7e000000 --data 0x7e400000 add.o -o add.img && elfext run add.img --call 'add(i32,i32)->i32' 2 3

The inputs are linked for TEXT and RODATA at --text (flash, executed in place) and DATA and
BSS at --data (RAM), against the firmware's exports at their addresses, with every relocation
applied for those final addresses (calls out of reach go through veneers in TEXT). The image
starts with a header (checksummed) and must be placed (flashed) so that its text lies at
--text: the summary prints where the image itself goes. The firmware loads it with
Registry::load_image, which copies DATA to --data and zeroes BSS; nothing is relocated at
run time. The init/fini tables are the first bytes of DATA. The image lists the exports it
was linked against (its imports); loading checks that the firmware has each at that address.

EXPORTS is a firmware ELF (its global function and object symbols and exports! tables) or a
text file of `name = 0xADDR` lines (`#` starts a comment), as for `elfext check`; every name
needs an address. Without --exports the extension may not use any outside symbol.

`elfext run IMAGE --call ...` runs an x86-64 image natively: its text is mapped at --text
and its data at --data in the elfext process, so both must be free addresses there; the host
C library moves with ASLR, so such an image can only call what it contains.

Exit codes: 0 the image was written, 1 an input is unreadable, malformed or does not link
for those addresses, 2 wrong command line.")]
pub struct Args {
    /// Objects (`.o`) and static archives (`.a`) combined into the extension.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Target address of TEXT then RODATA (flash; executed in place).
    #[arg(long, value_name = "ADDR", value_parser = parse_number)]
    text: u64,
    /// Target address of DATA then BSS (RAM).
    #[arg(long, value_name = "ADDR", value_parser = parse_number)]
    data: u64,
    /// The firmware's exports: a firmware ELF file or a `name = 0xADDR` list.
    #[arg(long, value_name = "EXPORTS")]
    exports: Option<PathBuf>,
    /// Architecture to link for [default: the objects', else the firmware's].
    #[arg(long, value_enum, value_name = "ARCH")]
    target_arch: Option<ArchArg>,
    /// Where to write the image.
    #[arg(short = 'o', long = "output", value_name = "IMAGE")]
    output: PathBuf,
}

/// An architecture on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ArchArg {
    /// x86-64.
    #[value(name = "x86-64")]
    X86_64,
    /// 32-bit ARM (Thumb-2 and A32).
    Arm,
    /// AArch64.
    Aarch64,
    /// RISC-V RV32.
    Rv32,
    /// RISC-V RV64.
    Rv64,
}

impl From<ArchArg> for Arch {
    fn from(a: ArchArg) -> Arch {
        match a {
            ArchArg::X86_64 => Arch::X86_64,
            ArchArg::Arm => Arch::Arm,
            ArchArg::Aarch64 => Arch::Aarch64,
            ArchArg::Rv32 => Arch::Riscv32,
            ArchArg::Rv64 => Arch::Riscv64,
        }
    }
}

/// Whether `bytes` are an image written by `elfext prelink` (its magic; the rest is checked
/// when it is loaded).
pub fn is_image(bytes: &[u8]) -> bool {
    elfext::image::is_image(bytes)
}

/// When the only input is an image written by `elfext prelink`, its bytes (`run` then
/// runs it with [`run_image`]).
pub fn image_input(files: &[PathBuf]) -> Result<Option<Vec<u8>>, CliError> {
    let [one] = files else {
        return Ok(None);
    };
    let bytes = std::fs::read(one)
        .map_err(|e| CliError::io(format!("cannot read {}", one.display()), e))?;
    Ok(is_image(&bytes).then_some(bytes))
}

/// `elfext run IMAGE`: run the image natively where it was prelinked to run (`on_target`,
/// `--target` given, is refused: boards run objects).
pub fn run_image(
    name: &str,
    bytes: &[u8],
    on_target: bool,
    spec: &CallSpec,
    values: &[Arg],
) -> Result<String, CliError> {
    if on_target {
        return Err(CliError::Usage(format!(
            "`{name}` is an image from `elfext prelink`; --target runs objects (give the object files instead, or drop --target to run the image natively)"
        )));
    }
    #[cfg(unix)]
    return native::run_image(name, bytes, spec, values);
    #[cfg(not(unix))]
    {
        let _ = (bytes, spec, values);
        Err(CliError::Unsupported(
            "running an image natively needs a Unix host (x86-64 Linux)",
        ))
    }
}

/// Run `elfext prelink`.
pub fn run(args: Args) -> Result<(), CliError> {
    let object = inputs::read(&args.files, &[])?;
    let firmware = match &args.exports {
        Some(path) => Some(check::read_exports(path)?),
        None => None,
    };
    let what = args.exports.as_ref().map(|p| p.display().to_string());
    let first = args.files[0].display().to_string();
    let arch = match (args.target_arch.map(Arch::from), object_arch(&object)) {
        (Some(a), _) => a,
        (None, Some(a)) => a,
        (None, None) => match firmware.as_ref().and_then(|f| f.arch) {
            Some(a) => a,
            None => {
                return Err(CliError::Usage(format!(
                    "cannot tell which architecture {first} is for; give --target-arch"
                )))
            }
        },
    };
    let mut exports = ExportMap::new();
    if let Some(f) = &firmware {
        if let Some(farch) = f.arch.filter(|&a| a != arch) {
            return Err(CliError::Usage(format!(
                "{} is firmware for {farch} but the extension is linked for {arch}",
                what.as_deref().unwrap_or("EXPORTS")
            )));
        }
        let without: Vec<&str> = f
            .names
            .iter()
            .filter(|(_, a)| a.is_none())
            .map(|(n, _)| n.as_str())
            .collect();
        if let Some(name) = without.first() {
            return Err(CliError::Usage(format!(
                "{}: `{name}` has no address ({} names without one); prelink links for fixed addresses: write `{name} = 0xADDR`",
                what.as_deref().unwrap_or("EXPORTS"),
                without.len()
            )));
        }
        for (name, addr) in &f.names {
            if let Some(addr) = addr {
                exports.insert(name, *addr);
            }
        }
    }
    let options = PrelinkOptions {
        arch,
        text: args.text,
        data: args.data,
        exports: &exports,
    };
    let image = elfext::prelink(&object, &options, None)
        .map_err(|e| CliError::elfext(format!("prelink {first} for {arch}"), e))?;
    let img = Image::parse(&image).map_err(|e| {
        CliError::elfext(
            format!("check the image written for {first} (please report this)"),
            e,
        )
    })?;
    std::fs::write(&args.output, &image)
        .map_err(|e| CliError::io(format!("cannot write {}", args.output.display()), e))?;
    print!(
        "{}",
        summary(&img, &first, &args.output.display().to_string())
    );
    Ok(())
}

/// What `prelink` prints about the image it wrote.
fn summary(img: &Image<'_>, input: &str, output: &str) -> String {
    let (ram_start, ram_end) = img.ram_range();
    let [pre, init, fini] = img.table_lengths();
    let mut names: BTreeMap<String, u64> = BTreeMap::new();
    for (n, a) in img.exports() {
        names.insert(String::from_utf8_lossy(n).into_owned(), a);
    }
    let mut s = format!(
        "prelinked {input} for {}: {output}, {} bytes\n",
        img.arch(),
        img.len()
    );
    s += &format!(
        "  image  {:#010x}  place (flash) the image here; its text starts {} bytes in\n",
        img.image_addr(),
        img.text_offset()
    );
    s += &format!(
        "  text   {:#010x}  {} bytes of TEXT and RODATA, executed in place\n",
        img.text_addr(),
        img.text().len()
    );
    s += &format!(
        "  data   {:#010x}  {} bytes of DATA, copied from the image (init/fini tables {pre}/{init}/{fini})\n",
        img.data_addr(),
        img.data().len()
    );
    s += &format!(
        "  bss    {:#010x}  {} bytes, zeroed\n",
        img.bss_addr(),
        img.bss_len()
    );
    s += &format!(
        "  RAM    [{ram_start:#x}, {ram_end:#x})  {} bytes\n",
        ram_end - ram_start
    );
    s += &format!("  exports: {}\n", names.len());
    for (n, a) in &names {
        s += &format!("    {a:#010x}  {n}\n");
    }
    // What it was linked against: the firmware that loads it must have these there.
    s += &format!("  imports: {}\n", img.imports().count());
    for (n, a) in img.imports() {
        s += &format!("    {a:#010x}  {}\n", String::from_utf8_lossy(n));
    }
    s
}
