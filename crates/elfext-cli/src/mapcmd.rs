//! `elfext map`: the memory map after loading extensions, drawn as coloured text and SVG.
//!
//! Each FILE is loaded as its own extension (named by its file stem) with the library's
//! `MapMemory`, whose memory map records every region and metadata record by type and
//! owner. Nothing runs: the map's RAM bank is a buffer of this program, linked for the
//! objects' architecture (`with_native(false)`), and addresses are shown relative to
//! `--base` (RAM) and `--flash` (the objects' buffers, for persistent and writable loads).

use std::fmt::Write;
use std::io::IsTerminal;
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};

use elfext::memory::map::{Bank, BankKind, Request, Slot};
use elfext::{
    Arch, BufLoader, LoadReport, MapEntry, MapMemory, MemoryMap, Placed, RangeType, Registry,
    Storage,
};

use crate::error::CliError;
use crate::inspect::elf as objinfo;
use crate::inspect::plan::{self, storage_name, GranuleArg, Placeholders};
use crate::render::{self, Extras, InPlace};

/// Options of `elfext map`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  elfext map hello.o data.o                         the map after loading both, as text
  elfext map --storage persistent --svg map.svg *.o also draw it as SVG
  elfext map --granule mpu-pow2 --color always app.o | less -R

Each FILE is one extension, named by its file stem, loaded in order (later ones may use
earlier ones' exports). Undefined symbols nobody defines get placeholder addresses below
the RAM bank (see `elfext inspect --help`). Letters in the bar: T TEXT, R RODATA, D DATA,
B BSS, M metadata, F file (the object's buffer), _ padding, . free; lower case t r d:
a section used in place inside its file (persistent and writable storage).")]
pub struct Args {
    /// Relocatable objects, each loaded as its own extension.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// How the objects are handed to the loader.
    #[arg(long, value_enum, default_value = "temporary")]
    storage: StorageArg,
    /// Protection granule the regions are rounded to.
    #[arg(long, value_enum, default_value = "none")]
    granule: GranuleArg,
    /// Size of the RAM bank [default: the smallest power of two from 16 KiB that holds them].
    #[arg(long, value_name = "BYTES", value_parser = plan::parse_number)]
    ram: Option<u64>,
    /// Address the RAM bank is shown at.
    #[arg(long, value_name = "ADDR", default_value = "0x20000000", value_parser = plan::parse_number)]
    base: u64,
    /// Address the objects' buffers (flash) are shown at, for persistent and writable storage.
    #[arg(long, value_name = "ADDR", default_value = "0x08000000", value_parser = plan::parse_number)]
    flash: u64,
    /// Also write the map as an SVG picture to this file.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Colour the text: auto (when stdout is a terminal and NO_COLOR is not set), always, never.
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorArg,
}

/// `--storage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum StorageArg {
    /// Every section is copied into RAM.
    Temporary,
    /// Read-only sections without relocations stay in the object's buffer (flash).
    Persistent,
    /// The object is relocated in its own buffer; only BSS is allocated.
    Writable,
}

impl StorageArg {
    fn storage(self) -> Storage {
        match self {
            StorageArg::Temporary => Storage::Temporary,
            StorageArg::Persistent => Storage::Persistent,
            StorageArg::Writable => Storage::Writable,
        }
    }
}

/// `--color`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

/// One extension to load: its name and its object.
pub struct Input {
    /// The extension's name.
    pub name: String,
    /// The relocatable object.
    pub bytes: Vec<u8>,
}

/// How the map is made.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// How the objects are handed to the loader.
    pub storage: Storage,
    /// Protection granule of the regions.
    pub granule: GranuleArg,
    /// Size of the RAM bank; `None`: the smallest power of two from 16 KiB that holds them.
    pub ram: Option<u64>,
    /// Address the RAM bank is shown at.
    pub base: u64,
    /// Address the objects' buffers are shown at.
    pub flash: u64,
}

/// The map after loading, with addresses as shown.
pub struct Drawn {
    /// The architecture the objects were linked for.
    pub arch: Arch,
    /// The map's ranges.
    pub entries: Vec<MapEntry>,
    /// Its banks.
    pub banks: Vec<Bank>,
    /// Sections used in place.
    pub in_place: Vec<InPlace>,
    /// What each load cost.
    pub reports: Vec<(String, LoadReport)>,
}

impl Drawn {
    /// What the pictures show besides the entries.
    pub fn extras(&self) -> Extras<'_> {
        Extras {
            banks: &self.banks,
            in_place: &self.in_place,
        }
    }
}

/// Run `elfext map`.
pub fn run(args: Args) -> Result<(), CliError> {
    let mut inputs: Vec<Input> = Vec::new();
    for path in &args.files {
        let bytes = crate::inputs::read(std::slice::from_ref(path), &[])?;
        let name = stem(path)?;
        if inputs.iter().any(|i| i.name == name) {
            return Err(CliError::Usage(format!(
                "two inputs are named `{name}` (by their file stem); rename one"
            )));
        }
        inputs.push(Input { name, bytes });
    }
    let setup = Setup {
        storage: args.storage.storage(),
        granule: args.granule,
        ram: args.ram,
        base: args.base,
        flash: args.flash,
    };
    let drawn = build(&inputs, &setup, |i| args.files[i].display().to_string())?;
    let color = match args.color {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Memory map after loading {} extension{} ({}, {} storage, granule {}):",
        inputs.len(),
        if inputs.len() == 1 { "" } else { "s" },
        drawn.arch,
        storage_name(setup.storage),
        args.granule.name()
    );
    out.push('\n');
    let _ = write!(
        out,
        "{}",
        render::text_with(&drawn.entries, &drawn.extras(), color)
    );
    out.push('\n');
    let _ = write!(out, "{}", report_table(&drawn));
    if let Some(path) = &args.svg {
        std::fs::write(path, render::svg_with(&drawn.entries, &drawn.extras())).map_err(|e| {
            CliError::io(format!("cannot write the SVG file {}", path.display()), e)
        })?;
        let _ = writeln!(out, "SVG written to {}", path.display());
    }
    crate::inspect::emit(&out)
}

/// A table of what each load cost (the library's `LoadReport`).
pub fn report_table(drawn: &Drawn) -> crate::table::Table {
    use crate::table::{load_report_cells, Align, Table};
    let mut t = Table::load_reports("extension", &[("in place", Align::Right)]);
    for (name, r) in &drawn.reports {
        let mut cells = load_report_cells(name.clone(), r);
        cells.push(r.in_place.to_string());
        t.row(cells);
    }
    t
}

/// Load `inputs` in order into a fresh memory map and draw it; `what(i)` names input `i`
/// in errors.
pub fn build(
    inputs: &[Input],
    setup: &Setup,
    what: impl Fn(usize) -> String,
) -> Result<Drawn, CliError> {
    let mut arch: Option<(Arch, String)> = None;
    let mut undefined = Vec::new();
    let mut defined = std::collections::BTreeSet::new();
    let mut needed = 0u64;
    for (n, input) in inputs.iter().enumerate() {
        let what = what(n);
        let info = objinfo::read(&input.bytes, &what)?;
        needed += plan::check_size(&info, &what)?;
        match &arch {
            Some((a, first)) if *a != info.arch => {
                return Err(CliError::Failed(format!(
                    "{what} is for {}, {first} for {a}; give objects of one architecture",
                    info.arch
                )))
            }
            Some(_) => {}
            None => arch = Some((info.arch, what.clone())),
        }
        undefined.extend(info.undefined.iter().map(|u| u.name.clone()));
        defined.extend(info.exported.iter().map(|e| e.name.clone()));
    }
    let Some((arch, _)) = arch else {
        return Err(CliError::Usage("give at least one object".into()));
    };
    undefined.retain(|u| !defined.contains(u));
    if setup.ram.is_some_and(|r| r > plan::MAX_WINDOW) {
        return Err(CliError::Usage(format!(
            "--ram: at most {} MiB",
            plan::MAX_WINDOW >> 20
        )));
    }
    // Granules and metadata may take several times the sections' own bytes.
    let limit = (needed * 8 + (64 << 10)).min(plan::MAX_WINDOW);
    let mut size = setup.ram.unwrap_or(16 << 10).max(4096);
    loop {
        match draw(inputs, arch, &undefined, setup, size) {
            Ok(d) => return Ok(d),
            Err(Failure::NoRoom(_)) if setup.ram.is_none() && size < limit => size *= 2,
            Err(Failure::NoRoom(e)) | Err(Failure::Load(e)) => return Err(e),
        }
    }
}

fn stem(path: &Path) -> Result<String, CliError> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{}: cannot name an extension after this file (no UTF-8 file stem)",
                path.display()
            ))
        })
}

enum Failure {
    /// The RAM bank is too small (retry bigger).
    NoRoom(CliError),
    /// Anything else.
    Load(CliError),
}

/// A buffer of this program at an address a 32-bit target can use: below 2 GiB on x86-64
/// Linux (`LowBuffer`), so absolute 32-bit relocations of ARM and RV32 objects fit.
struct HostBuffer {
    #[cfg(unix)]
    buf: elfext::LowBuffer,
    #[cfg(not(unix))]
    buf: Vec<u8>,
}

impl HostBuffer {
    fn new(bytes: &[u8]) -> Result<Self, CliError> {
        #[cfg(unix)]
        let buf = elfext::LowBuffer::new(bytes)
            .map_err(|e| CliError::io("map a buffer for the memory map", e))?;
        #[cfg(not(unix))]
        let buf = bytes.to_vec();
        Ok(HostBuffer { buf })
    }
    fn as_mut_slice(&mut self) -> &mut [u8] {
        #[cfg(unix)]
        return self.buf.as_mut_slice();
        #[cfg(not(unix))]
        return &mut self.buf;
    }
}

/// Load every input into a map with a RAM bank of `size` bytes and draw it.
fn draw(
    inputs: &[Input],
    arch: Arch,
    undefined: &[String],
    setup: &Setup,
    size: u64,
) -> Result<Drawn, Failure> {
    let (storage, granule) = (setup.storage, setup.granule);
    let load_err = |e: CliError| Failure::Load(e);
    let usize_size = usize::try_from(size).map_err(|_| {
        load_err(CliError::Usage(format!(
            "--ram {size} is too large for this host"
        )))
    })?;
    // The RAM bank, aligned to its (power-of-two) size so that alignments inside it are
    // the target's alignments.
    let align = usize_size.next_power_of_two();
    let mut ram = HostBuffer::new(&vec![0u8; usize_size + align]).map_err(load_err)?;
    let ram_all = ram.as_mut_slice();
    let skip = (align - ram_all.as_ptr() as usize % align) % align;
    let ram_slice = &mut ram_all[skip..skip + usize_size];
    let ram_host = ram_slice.as_ptr() as u64;
    // SAFETY: `MaybeUninit<u8>` has the layout of `u8`; the map only writes initialized
    // bytes through it, and the buffer is not read as `u8` while the map has it.
    let arena: &mut [MaybeUninit<u8>] =
        unsafe { &mut *(ram_slice as *mut [u8] as *mut [MaybeUninit<u8>]) };

    // The objects' buffers, one after another at 4 KiB boundaries, as a flash bank.
    let mut offsets = Vec::new();
    let mut flash_len = 0usize;
    for i in inputs {
        offsets.push(flash_len);
        flash_len += i.bytes.len().div_ceil(4096).max(1) * 4096;
    }
    let mut flash_bytes = vec![0u8; flash_len + 4096];
    let mut flash = HostBuffer::new(&flash_bytes).map_err(load_err)?;
    let flash_all = flash.as_mut_slice();
    let fskip = (4096 - flash_all.as_ptr() as usize % 4096) % 4096;
    let flash_slice = &mut flash_all[fskip..fskip + flash_len];
    for (i, &off) in inputs.iter().zip(&offsets) {
        flash_slice[off..off + i.bytes.len()].copy_from_slice(&i.bytes);
    }
    flash_bytes.clear();
    let flash_host = flash_slice.as_ptr() as u64;

    let mut slots = vec![Slot::EMPTY; 64 + 16 * inputs.len()];
    let map = MemoryMap::new(&mut slots).with_granules(granule.granules());
    let lib = |what: &str, e: elfext::Error| load_err(CliError::elfext(what, e));
    let mut memory = MapMemory::new(map, arena, "ram")
        .map_err(|e| lib("create the memory map", e))?
        .with_native(false);
    let with_files = storage != Storage::Temporary;
    if with_files {
        memory
            .add_bank(flash_host, flash_len as u64, BankKind::Flash, "objects")
            .map_err(|e| lib("add the flash bank to the memory map", e))?;
        for (i, &off) in inputs.iter().zip(&offsets) {
            let req = Request::new(RangeType::File, i.bytes.len() as u64)
                .at(flash_host + off as u64)
                .owner(&i.name);
            memory
                .reserve(&req)
                .map_err(|e| lib(&format!("reserve the file of `{}`", i.name), e))?;
        }
    }
    let exports = Placeholders::new(undefined.iter().map(String::as_str), ram_host, arch);
    // SAFETY: with `init: None` nothing is written to the area.
    let registry =
        unsafe { Registry::for_arch(memory, &exports, arch).with_tls(plan::tls_area(arch)) };

    // Split the flash buffer into one slice per object.
    let mut pieces: Vec<&mut [u8]> = Vec::new();
    let mut rest: &mut [u8] = flash_slice;
    for (idx, i) in inputs.iter().enumerate() {
        let next = offsets.get(idx + 1).copied().unwrap_or(flash_len);
        let (this, tail) = rest.split_at_mut(next - offsets[idx]);
        pieces.push(&mut this[..i.bytes.len()]);
        rest = tail;
    }

    let mut marks: Vec<InPlace> = Vec::new();
    let mut reports = Vec::new();
    for (i, piece) in inputs.iter().zip(pieces) {
        let mut trace = |p: Placed<'_>| {
            if p.in_place && p.size > 0 {
                marks.push(InPlace {
                    owner: i.name.clone(),
                    section: String::from_utf8_lossy(p.name).into_owned(),
                    region: p.kind.into(),
                    start: p.addr,
                    end: p.addr + p.size,
                });
            }
        };
        let result = match storage {
            Storage::Temporary => {
                registry.load_traced(&i.name, BufLoader::temporary(&i.bytes), &mut trace)
            }
            Storage::Persistent => {
                registry.load_traced(&i.name, BufLoader::persistent(piece), &mut trace)
            }
            Storage::Writable => {
                registry.load_traced(&i.name, BufLoader::writable(piece), &mut trace)
            }
        };
        match result {
            Ok(r) => reports.push((i.name.clone(), r)),
            Err(e @ elfext::Error::OutOfMemory { .. }) => {
                return Err(Failure::NoRoom(CliError::elfext(
                    format!(
                        "load `{}`: the RAM bank of {size} bytes is too small; give a larger --ram",
                        i.name
                    ),
                    e,
                )))
            }
            Err(e) => return Err(lib(&format!("load `{}`", i.name), e)),
        }
    }

    // Addresses as shown: RAM from --base, flash from --flash.
    let shown = |a: u64| -> u64 {
        if (ram_host..=ram_host + size).contains(&a) {
            a - ram_host + setup.base
        } else if (flash_host..=flash_host + flash_len as u64).contains(&a) {
            a - flash_host + setup.flash
        } else {
            a
        }
    };
    let (entries, banks) = registry.with_memory(|m| {
        let entries: Vec<MapEntry> = m
            .map()
            .iter()
            .map(|e| MapEntry {
                start: shown(e.start),
                end: shown(e.end),
                ..e
            })
            .collect();
        let banks: Vec<Bank> = m
            .map()
            .banks()
            .map(|b| Bank {
                start: shown(b.start),
                end: shown(b.end),
                ..*b
            })
            .collect();
        (entries, banks)
    });
    for m in &mut marks {
        m.start = shown(m.start);
        m.end = shown(m.end);
    }
    for i in inputs.iter().rev() {
        registry
            .unload(&i.name)
            .map_err(|e| lib(&format!("unload `{}`", i.name), e))?;
    }
    Ok(Drawn {
        arch,
        entries,
        banks,
        in_place: marks,
        reports,
    })
}
