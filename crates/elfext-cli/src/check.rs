//! `elfext check`: would an extension link against a firmware's exports? Every missing
//! symbol and every relocation type the target architecture does not support is printed;
//! the exit code says yes (0) or no (3).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use elfext::{Arch, Exports, Storage};
use object::elf::{self, FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::LittleEndian as LE;

use crate::error::CliError;
use crate::inspect::describe;
use crate::inspect::elf::{self as objinfo, ObjectInfo};
use crate::inspect::plan::{self, GranuleArg, Placeholders, Window};

/// Options of `elfext check`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  elfext check --exports firmware.elf app.o     against a firmware ELF's symbols
  elfext check --exports exports.txt app.o      against a list of names

EXPORTS is either
  - an ELF file (the firmware, not stripped): its exports are the global and weak,
    defined, not hidden function and object symbols of its symbol table, and every entry
    of the tables it declares with elfext's exports! macro (found by their `ENTRIES`
    symbol: the names extensions link to, even for functions whose own symbols are
    local and mangled), at their addresses;
  - a text file: one name per line, optionally `name = 0xADDR`; `#` starts a comment.
    Names without an address get placeholders just below the window (see inspect --help).

The extension is loaded with elfext against those exports into a target window at
--base (nothing runs). Exit codes: 0 it would link, 3 it would not (every reason is
printed), 1 an input is unreadable or malformed.")]
pub struct Args {
    /// The firmware's exports: a firmware ELF file or a list of symbol names.
    #[arg(long, value_name = "EXPORTS")]
    exports: PathBuf,
    /// Objects and static archives, combined into one extension.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Protection granule the regions are rounded to.
    #[arg(long, value_enum, default_value = "none")]
    granule: GranuleArg,
    /// Target address of the window the extension is loaded into.
    #[arg(long, value_name = "ADDR", default_value = "0x20000000", value_parser = plan::parse_number)]
    base: u64,
}

/// The exports a firmware offers: names, with their addresses when known.
#[derive(Debug, Default)]
pub struct FirmwareExports {
    /// Name → address (`None`: from a name list without one).
    pub names: BTreeMap<String, Option<u64>>,
    /// The firmware's architecture, when EXPORTS is an ELF file.
    pub arch: Option<Arch>,
}

/// Read EXPORTS: an ELF file's defined global symbols, or a name list.
pub fn read_exports(path: &Path) -> Result<FirmwareExports, CliError> {
    let bytes = std::fs::read(path).map_err(|e| {
        CliError::io(
            format!("cannot read the exports file {}", path.display()),
            e,
        )
    })?;
    let what = path.display().to_string();
    if bytes.starts_with(&elf::ELFMAG) {
        if objinfo::ident(&bytes, &what)? {
            elf_exports::<FileHeader64<LE>>(&bytes, &what)
        } else {
            elf_exports::<FileHeader32<LE>>(&bytes, &what)
        }
    } else {
        name_list(&bytes, &what)
    }
}

fn elf_exports<E: FileHeader<Endian = LE>>(
    bytes: &[u8],
    what: &str,
) -> Result<FirmwareExports, CliError> {
    let bad = |e: object::read::Error| objinfo::malformed(what, e);
    let header = E::parse(bytes).map_err(bad)?;
    let arch = objinfo::arch_of(header.e_machine(LE), E::is_type_64_sized(), what)?;
    let sections = header.sections(LE, bytes).map_err(bad)?;
    let symbols = sections.symbols(LE, bytes, elf::SHT_SYMTAB).map_err(bad)?;
    if symbols.is_empty() {
        return Err(CliError::Failed(format!(
            "{what}: the ELF file has no symbol table (stripped?); give the unstripped firmware or a list of names"
        )));
    }
    let mut names = BTreeMap::new();
    for sym in symbols.iter().skip(1) {
        let bind = sym.st_bind();
        let ty = sym.st_type();
        let vis = sym.st_visibility();
        if (bind != elf::STB_GLOBAL && bind != elf::STB_WEAK)
            || sym.st_shndx(LE) == elf::SHN_UNDEF
            || (ty != elf::STT_FUNC && ty != elf::STT_OBJECT)
            || vis == elf::STV_HIDDEN
            || vis == elf::STV_INTERNAL
        {
            continue;
        }
        let name = sym.name(LE, symbols.strings()).map_err(bad)?;
        if let Ok(name) = std::str::from_utf8(name) {
            names.insert(name.to_string(), Some(sym.st_value(LE).into()));
        }
    }
    // Tables declared with elfext's `exports!` macro: their functions may be local symbols
    // under mangled names, but the table holds the names and addresses extensions link to.
    let word = if E::is_type_64_sized() { 8 } else { 4 };
    let at = |addr: u64, len: u64| -> Option<&[u8]> {
        sections.iter().find_map(|sh| {
            let start: u64 = sh.sh_addr(LE).into();
            let size: u64 = sh.sh_size(LE).into();
            let end = addr.checked_add(len)?;
            let progbits =
                sh.sh_type(LE) == elf::SHT_PROGBITS && sh.sh_flags(LE).0 & elf::SHF_ALLOC.0 != 0;
            if !progbits || addr < start || end > start.checked_add(size)? {
                return None;
            }
            let offset: u64 = sh.sh_offset(LE).into();
            let off = usize::try_from(offset + (addr - start)).ok()?;
            bytes.get(off..off.checked_add(usize::try_from(len).ok()?)?)
        })
    };
    for sym in symbols.iter().skip(1) {
        let name = sym.name(LE, symbols.strings()).map_err(bad)?;
        let size: u64 = sym.st_size(LE).into();
        if sym.st_type() != elf::STT_OBJECT
            || !contains(name, b"7ENTRIES17h")
            || size == 0
            || size % (3 * word) != 0
        {
            continue;
        }
        let Some(table) = at(sym.st_value(LE).into(), size) else {
            continue;
        };
        let words: Vec<u64> = table
            .chunks_exact(word as usize)
            .map(|w| {
                let mut b = [0u8; 8];
                b[..w.len()].copy_from_slice(w);
                u64::from_le_bytes(b)
            })
            .collect();
        // An entry is a name (pointer, length) and an address; the compiler may put the
        // address first. Take the layout under which every name is an identifier.
        for (p, l, a) in [(0, 1, 2), (2, 0, 1), (1, 2, 0)] {
            let entries: Option<Vec<(String, u64)>> = words
                .chunks_exact(3)
                .map(|e| {
                    let n = at(e[p], e[l])?;
                    let ok = !n.is_empty()
                        && n.iter()
                            .all(|c| c.is_ascii_alphanumeric() || b"_$.".contains(c));
                    ok.then(|| (String::from_utf8_lossy(n).into_owned(), e[a]))
                })
                .collect();
            if let Some(entries) = entries {
                for (n, a) in entries {
                    names.insert(n, Some(a));
                }
                break;
            }
        }
    }
    Ok(FirmwareExports {
        names,
        arch: Some(arch),
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn name_list(bytes: &[u8], what: &str) -> Result<FirmwareExports, CliError> {
    let text = std::str::from_utf8(bytes).map_err(|_| {
        CliError::Failed(format!(
            "{what}: neither an ELF file nor a text list of names (not UTF-8); give the firmware ELF or one name per line"
        ))
    })?;
    let mut names = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let (name, addr) = match line.split_once('=') {
            Some((name, addr)) => {
                let addr = plan::parse_number(addr).map_err(|e| {
                    CliError::Failed(format!("{what}:{}: {e}; write `name = 0xADDR`", n + 1))
                })?;
                (name.trim(), Some(addr))
            }
            None => (line, None),
        };
        if name.is_empty() || name.chars().any(char::is_whitespace) {
            return Err(CliError::Failed(format!(
                "{what}:{}: `{line}` is not a symbol name; write one name per line, optionally `name = 0xADDR`",
                n + 1
            )));
        }
        names.insert(name.to_string(), addr);
    }
    Ok(FirmwareExports { names, arch: None })
}

/// Exports at known addresses, and placeholders for names without one.
struct Resolved {
    known: BTreeMap<Vec<u8>, u64>,
    placeholders: Placeholders,
}

impl Exports for Resolved {
    fn lookup(&self, name: &[u8]) -> Option<u64> {
        self.known
            .get(name)
            .copied()
            .or_else(|| self.placeholders.lookup(name))
    }
}

/// Why the extension would not link.
#[derive(Debug, Default)]
struct Problems {
    missing: Vec<String>,
    unsupported: Vec<objinfo::RelocCount>,
    other: Vec<String>,
}

/// Run `elfext check`.
pub fn run(args: Args) -> Result<(), CliError> {
    let what = describe(&args.files);
    let exports = read_exports(&args.exports)?;
    let object = crate::inputs::read(&args.files, &[])?;
    let info = objinfo::read(&object, &what)?;
    let window = Window::for_object(&info, args.base, args.granule, &what)?;
    let problems = check(&object, &info, &exports, &window, &what)?;

    let mut out = String::new();

    let _ = writeln!(
        out,
        "{what}: {} object, {} undefined symbols, checked against {} exports of {}",
        info.arch,
        info.undefined.iter().filter(|u| u.referenced).count(),
        exports.names.len(),
        args.exports.display()
    );
    for m in &problems.missing {
        let _ = writeln!(out, "missing symbol: {m}");
    }
    for r in &problems.unsupported {
        let _ = writeln!(
            out,
            "unsupported relocation: {} ({} on {}, {}x, first at {})",
            r.name, r.raw, info.arch, r.count, r.first
        );
    }
    for o in &problems.other {
        let _ = writeln!(out, "link error: {o}");
    }
    let n = problems.missing.len() + problems.unsupported.len() + problems.other.len();
    if n == 0 {
        let _ = writeln!(out, "would link");
    }
    crate::inspect::emit(&out)?;
    if n == 0 {
        return Ok(());
    }
    let mut parts = Vec::new();
    if !problems.missing.is_empty() {
        parts.push(plural(problems.missing.len(), "missing symbol"));
    }
    if !problems.unsupported.is_empty() {
        parts.push(plural(
            problems.unsupported.len(),
            "unsupported relocation type",
        ));
    }
    if !problems.other.is_empty() {
        parts.push(plural(problems.other.len(), "other link error"));
    }
    Err(CliError::WouldNotLink(format!(
        "{what} would not link against {}: {} (listed above); export what is missing from the firmware, or rebuild the extension without it",
        args.exports.display(),
        parts.join(", ")
    )))
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// Load the object against `exports` with the library and collect every reason it would not
/// link: the library reports all missing symbols at once; to see the errors behind them, it
/// is loaded again with the missing names given placeholders.
fn check(
    object: &[u8],
    info: &ObjectInfo,
    exports: &FirmwareExports,
    window: &Window,
    what: &str,
) -> Result<Problems, CliError> {
    let mut problems = Problems {
        unsupported: info.unsupported().cloned().collect(),
        ..Problems::default()
    };
    if let Some(fw) = exports.arch {
        if fw != info.arch {
            problems.other.push(format!(
                "the extension is for {}, the firmware for {fw}",
                info.arch
            ));
            return Ok(problems);
        }
    }
    let known: BTreeMap<Vec<u8>, u64> = exports
        .names
        .iter()
        .filter_map(|(n, a)| a.map(|a| (n.as_bytes().to_vec(), a)))
        .collect();
    let unaddressed = exports
        .names
        .iter()
        .filter(|(_, a)| a.is_none())
        .map(|(n, _)| n.as_str());
    let resolved = Resolved {
        known,
        placeholders: Placeholders::new(unaddressed, window.base, info.arch),
    };
    match plan::load(object, info.arch, &resolved, window, Storage::Temporary) {
        Ok(_) => return Ok(problems),
        Err(elfext::Error::MissingSymbols(names)) => {
            // The library keeps the first bytes of each name: match them to the object's
            // undefined symbols for the full names.
            for n in &names {
                let cut = n.as_bytes();
                let full: Vec<&str> = info
                    .undefined
                    .iter()
                    .map(|u| u.name.as_str())
                    .filter(|u| {
                        u.as_bytes() == cut
                            || (cut.len() == elfext::Name::CAPACITY
                                && u.as_bytes().starts_with(cut)
                                && !exports.names.contains_key(*u))
                    })
                    .collect();
                if full.is_empty() {
                    problems
                        .missing
                        .push(String::from_utf8_lossy(cut).into_owned());
                }
                for f in full {
                    if !problems.missing.iter().any(|m| m == f) {
                        problems.missing.push(f.to_string());
                    }
                }
            }
        }
        Err(e) => {
            // The library stopped before resolving symbols: find the missing ones in the
            // object's symbol table, as the library would (referenced, not weak).
            classify(e, &mut problems, what)?;
            problems.missing = info
                .undefined
                .iter()
                .filter(|u| u.referenced && !u.weak && !exports.names.contains_key(&u.name))
                .map(|u| u.name.clone())
                .collect();
            return Ok(problems);
        }
    }
    // Again, with the missing names stood in for, to find what else would fail.
    let mut names: Vec<&str> = exports
        .names
        .iter()
        .filter(|(_, a)| a.is_none())
        .map(|(n, _)| n.as_str())
        .collect();
    names.extend(problems.missing.iter().map(String::as_str));
    let again = Resolved {
        known: resolved.known.clone(),
        placeholders: Placeholders::new(names, window.base, info.arch),
    };
    if let Err(e) = plan::load(object, info.arch, &again, window, Storage::Temporary) {
        classify(e, &mut problems, what)?;
    }
    Ok(problems)
}

/// File a library error under the problems (a link failure) or return it (the object is
/// malformed or the check itself failed).
fn classify(e: elfext::Error, problems: &mut Problems, what: &str) -> Result<(), CliError> {
    match e {
        // Already listed from the object's relocation tables.
        elfext::Error::UnsupportedRelocation { .. } if !problems.unsupported.is_empty() => Ok(()),
        elfext::Error::MissingSymbols(names) => {
            for n in names {
                problems.missing.push(n.to_string());
            }
            Ok(())
        }
        e if plan::is_link_error(&e) => {
            problems.other.push(e.to_string());
            Ok(())
        }
        e => Err(CliError::elfext(format!("{what}: cannot be loaded"), e)),
    }
}
