//! Several inputs as one extension: relocatable objects and static archives (`.a`) combined
//! into one new relocatable object, as `ld -r` makes one, which the loader then loads
//! unchanged.
//!
//! - From an archive, exactly the members that define a symbol still undefined are pulled,
//!   again and again until a pass over every archive pulls nothing more (as GNU ld does for
//!   archives between `--start-group` and `--end-group`). Weak undefined references pull
//!   nothing; a common symbol pulls a member that defines it for real.
//! - Every input section stays a section of its own (same name, type, flags, alignment);
//!   symbols are renumbered and relocation sections (REL and RELA) rewritten to the new
//!   indices. Local symbols stay per input.
//! - A global definition of one input resolves the undefined references of the others:
//!   strong beats common beats weak; two strong definitions are an error naming the symbol and
//!   both inputs; common symbols keep the largest size and alignment.
//! - Of COMDAT groups with the same signature only the first is kept; references into the
//!   sections of the dropped ones go to the kept group's section of the same name.
//!
//! ```
//! # fn demo(a: &[u8], b: &[u8], libm: &[u8]) -> elfext::Result<()> {
//! use elfext::Combiner;
//!
//! let mut combiner = Combiner::new();
//! combiner.add("a.o", a)?;
//! combiner.add("b.o", b)?;
//! combiner.add("libm.a", libm)?;
//! combiner.need("entry");
//! let combined = combiner.combine()?;
//! // `combined.object` loads like any object; `combined.members` says what was pulled.
//! # let _ = combined; Ok(()) }
//! ```

mod link;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use object::elf;
use object::read::archive::ArchiveFile;
use object::read::elf::FileHeader;
use object::Endianness;

use crate::error::{Error, Mismatch, Name, Result};

/// Combines relocatable objects and static archives into one relocatable object.
///
/// Inputs are added in command-line order; the combined object holds the plain objects in
/// that order followed by the archive members pulled, in the order they were pulled.
#[derive(Default)]
pub struct Combiner<'a> {
    /// Plain objects and archive members, in the order added.
    units: Vec<Unit<'a>>,
    /// Symbols that count as undefined from the start.
    needed: Vec<&'a [u8]>,
    /// The archives added, as errors name them.
    archives: Vec<Name>,
}

/// The result of [`Combiner::combine`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Combined {
    /// The combined relocatable ELF object.
    pub object: Vec<u8>,
    /// The archive members pulled in, as `lib.a(member.o)`, in the order they were pulled.
    pub members: Vec<String>,
    /// Where each section of [`Combined::object`] that came from an input came from, in
    /// section order.
    pub origins: Vec<Origin>,
}

/// Where one section of a combined object came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// Index of the section in the combined object.
    pub section: u32,
    /// The input: its name as given to [`Combiner::add`], or `lib.a(member.o)`.
    pub input: String,
    /// Index of the section in that input.
    pub index: u32,
}

/// One relocatable object: given as such, or a member of an archive.
struct Unit<'a> {
    /// `a.o` or `lib.a(m.o)`.
    label: String,
    /// The label as errors show it (shortened to the file name when too long).
    short: Name,
    /// The object's bytes.
    bytes: &'a [u8],
    /// The archive (its index in the order archives were added), for members.
    archive: Option<usize>,
}

impl<'a> Combiner<'a> {
    /// An empty combiner.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add an input: a relocatable ELF object or a static archive, told apart by their magic
    /// bytes. `name` names it in errors and in [`Combined`].
    ///
    /// Archives may be GNU or BSD, with or without a symbol index; thin archives, whose
    /// members are separate files, are refused. Members that are not ELF files are skipped.
    pub fn add(&mut self, name: &'a str, bytes: &'a [u8]) -> Result<()> {
        if bytes.starts_with(&object::archive::MAGIC)
            || bytes.starts_with(&object::archive::THIN_MAGIC)
        {
            return self.add_archive(name, bytes);
        }
        if !bytes.starts_with(&elf::ELFMAG) {
            return Err(bad(
                short_name(name),
                "neither an ELF relocatable object nor a static archive (.a)",
            ));
        }
        self.units.push(Unit {
            label: String::from(name),
            short: short_name(name),
            bytes,
            archive: None,
        });
        Ok(())
    }

    fn add_archive(&mut self, name: &'a str, bytes: &'a [u8]) -> Result<()> {
        let short = short_name(name);
        let archive =
            ArchiveFile::parse(bytes).map_err(|_| bad(short, "malformed archive header"))?;
        if archive.is_thin() {
            return Err(bad(
                short,
                "thin archive: its members are separate files; make a regular one with `ar rcs`",
            ));
        }
        let index = self.archives.len();
        self.archives.push(short);
        for member in archive.members() {
            let member = member.map_err(|_| bad(short, "malformed archive member header"))?;
            let data = member
                .data(bytes)
                .map_err(|_| bad(short, "an archive member extends past the end of the file"))?;
            let member_name = String::from_utf8_lossy(member.name());
            let label = format!("{name}({member_name})");
            let member_short = if label.len() <= Name::CAPACITY {
                Name::from(label.as_str())
            } else {
                Name::from(format!("{}({member_name})", file_name(name)).as_str())
            };
            // Archives may hold other files (a text file, a symbol table of another
            // format): only ELF members are candidates.
            if !data.starts_with(&elf::ELFMAG) {
                continue;
            }
            self.units.push(Unit {
                label,
                short: member_short,
                bytes: data,
                archive: Some(index),
            });
        }
        Ok(())
    }

    /// Count `symbol` as undefined from the start, so that an archive member defining it is
    /// pulled in (like `ld -u symbol`).
    pub fn need(&mut self, symbol: &'a str) {
        self.needed.push(symbol.as_bytes());
    }

    /// Select the archive members needed, resolve symbols across all inputs and write the
    /// combined object.
    pub fn combine(&self) -> Result<Combined> {
        let Some(first) = self.units.first() else {
            return Err(match self.archives.first() {
                Some(&archive) => bad(archive, "the archive holds no ELF object"),
                None => bad(Name::from("(no input)"), "nothing to combine"),
            });
        };
        let (class, data) = ident(first)?;
        for unit in &self.units[1..] {
            let (c, d) = ident(unit)?;
            if c != class {
                return Err(Error::IncompatibleInputs {
                    first: first.short,
                    second: unit.short,
                    what: Mismatch::Class(bits(class), bits(c)),
                });
            }
            if d != data {
                return Err(Error::IncompatibleInputs {
                    first: first.short,
                    second: unit.short,
                    what: Mismatch::ByteOrder,
                });
            }
        }
        if class == elf::ELFCLASS64 {
            self.run::<elf::FileHeader64<Endianness>>()
        } else {
            self.run::<elf::FileHeader32<Endianness>>()
        }
    }

    fn run<E: FileHeader<Endian = Endianness>>(&self) -> Result<Combined> {
        let mut objects = Vec::with_capacity(self.units.len());
        for (i, unit) in self.units.iter().enumerate() {
            objects.push(link::Object::<E>::parse(i, unit.bytes, unit.short)?);
        }
        let first = &objects[0];
        let machine = first.machine();
        let mut flags = first.flags();
        for o in &objects[1..] {
            if o.machine() != machine {
                return Err(Error::IncompatibleInputs {
                    first: self.units[0].short,
                    second: self.units[o.unit].short,
                    what: Mismatch::Machine(machine, o.machine()),
                });
            }
            flags = merge_flags(machine, flags, o.flags()).ok_or(Error::IncompatibleInputs {
                first: self.units[0].short,
                second: self.units[o.unit].short,
                what: Mismatch::Flags(flags, o.flags()),
            })?;
        }
        let order = self.select(&objects)?;
        if order.is_empty() {
            if !self.needed.is_empty() {
                // Asked for symbols that no archive member defines.
                return Err(Error::MissingSymbols(
                    self.needed
                        .iter()
                        .map(|n| crate::error::Name::new(n))
                        .collect(),
                ));
            }
            return Err(bad(
                self.archives[0],
                "no archive member is needed: add an object that uses it, or name the symbols to pull in",
            ));
        }
        let chosen: Vec<&link::Object<'_, E>> = order.iter().map(|&i| &objects[i]).collect();
        let shorts: Vec<Name> = self.units.iter().map(|u| u.short).collect();
        let (object, sections) = link::write(&chosen, &shorts, flags)?;
        Ok(Combined {
            object,
            members: order
                .iter()
                .filter(|&&i| self.units[i].archive.is_some())
                .map(|&i| self.units[i].label.clone())
                .collect(),
            origins: sections
                .into_iter()
                .map(|(section, unit, index)| Origin {
                    section,
                    input: self.units[unit].label.clone(),
                    index,
                })
                .collect(),
        })
    }

    /// The units to combine: every plain object, then the archive members pulled, in the
    /// order they were pulled.
    fn select<E: FileHeader<Endian = Endianness>>(
        &self,
        objects: &[link::Object<'a, E>],
    ) -> Result<Vec<usize>> {
        let mut state = Symbols::default();
        for &n in &self.needed {
            state.get(n).referenced = true;
        }
        let mut order = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            if self.units[i].archive.is_none() {
                o.note_symbols(&mut state)?;
                order.push(i);
            }
        }
        let mut pulled = alloc::vec![false; objects.len()];
        loop {
            let mut changed = false;
            for (i, o) in objects.iter().enumerate() {
                if self.units[i].archive.is_none() || pulled[i] {
                    continue;
                }
                if o.defines_wanted(&state)? {
                    pulled[i] = true;
                    changed = true;
                    o.note_symbols(&mut state)?;
                    order.push(i);
                }
            }
            if !changed {
                return Ok(order);
            }
        }
    }
}

/// What member selection knows of one global symbol.
#[derive(Default)]
struct SymbolState {
    /// Defined (not as common) by an object already in.
    defined: bool,
    /// Common in an object already in.
    common: bool,
    /// Referenced (not weakly) by an object already in, or needed.
    referenced: bool,
}

impl SymbolState {
    /// Whether an archive member that defines the symbol is pulled in.
    fn wanted(&self) -> bool {
        !self.defined && (self.referenced || self.common)
    }
}

/// Global symbols seen during member selection, by name.
#[derive(Default)]
struct Symbols<'a>(alloc::collections::BTreeMap<&'a [u8], SymbolState>);

impl<'a> Symbols<'a> {
    fn get(&mut self, name: &'a [u8]) -> &mut SymbolState {
        self.0.entry(name).or_default()
    }
    fn wanted(&self, name: &[u8]) -> bool {
        self.0.get(name).is_some_and(SymbolState::wanted)
    }
}

/// `e_ident` class and data encoding of a unit.
fn ident(unit: &Unit<'_>) -> Result<(elf::FileClass, elf::DataEncoding)> {
    let (Some(&class), Some(&data)) = (unit.bytes.get(4), unit.bytes.get(5)) else {
        return Err(bad(unit.short, "file shorter than the ELF identification"));
    };
    let (class, data) = (elf::FileClass(class), elf::DataEncoding(data));
    if class != elf::ELFCLASS32 && class != elf::ELFCLASS64 {
        return Err(bad(unit.short, "unknown ELF class"));
    }
    if data != elf::ELFDATA2LSB && data != elf::ELFDATA2MSB {
        return Err(bad(unit.short, "unknown ELF data encoding"));
    }
    Ok((class, data))
}

fn bits(class: elf::FileClass) -> u8 {
    if class == elf::ELFCLASS64 {
        64
    } else {
        32
    }
}

/// The `e_flags` of two inputs merged, or `None` when they describe incompatible ABIs.
fn merge_flags(machine: u16, a: u32, b: u32) -> Option<u32> {
    match elf::Machine(machine) {
        elf::EM_RISCV => {
            // Compressed instructions and the TSO memory model may be mixed; the float
            // ABI and RVE may not.
            let free = elf::EF_RISCV_RVC.0 | elf::EF_RISCV_TSO.0;
            (a & !free == b & !free).then_some(a | b)
        }
        elf::EM_ARM => {
            // The same EABI version; soft- and hard-float calls may not meet.
            let eabi = elf::EF_ARM_EABIMASK;
            let float = elf::EF_ARM_ABI_FLOAT_SOFT | elf::EF_ARM_ABI_FLOAT_HARD;
            let both = a | b;
            (a & eabi == b & eabi && both & float != float).then_some(both)
        }
        _ => (a == b).then_some(a),
    }
}

fn bad(input: Name, problem: &'static str) -> Error {
    Error::BadInput { input, problem }
}

/// The last path component of `path`.
fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// `name` as errors show it: the file name alone when the whole does not fit a [`Name`].
fn short_name(name: &str) -> Name {
    if name.len() <= Name::CAPACITY {
        Name::from(name)
    } else {
        Name::from(file_name(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_merge_as_gnu_ld_accepts_them() {
        let rvc = elf::EF_RISCV_RVC.0;
        let soft = 0;
        let double = elf::EF_RISCV_FLOAT_ABI_DOUBLE.0;
        let riscv = elf::EM_RISCV.0;
        assert_eq!(merge_flags(riscv, soft | rvc, soft), Some(rvc));
        assert_eq!(merge_flags(riscv, double, soft), None);
        let arm = elf::EM_ARM.0;
        let v5 = elf::EF_ARM_EABI_VER5.0;
        let hard = elf::EF_ARM_ABI_FLOAT_HARD;
        let softfp = elf::EF_ARM_ABI_FLOAT_SOFT;
        assert_eq!(merge_flags(arm, v5 | softfp, v5), Some(v5 | softfp));
        assert_eq!(merge_flags(arm, v5 | softfp, v5 | hard), None);
        assert_eq!(merge_flags(arm, v5, 0x0400_0000), None);
        assert_eq!(merge_flags(elf::EM_X86_64.0, 0, 0), Some(0));
        assert_eq!(merge_flags(elf::EM_X86_64.0, 0, 1), None);
    }

    #[test]
    fn long_names_keep_their_file_name() {
        assert_eq!(short_name("a.o").as_bytes(), b"a.o");
        let long = "/very/long/path/to/some/build/directory/libthing.a";
        assert_eq!(short_name(long).as_bytes(), b"libthing.a");
    }

    #[test]
    fn not_objects_are_refused() {
        let mut c = Combiner::new();
        assert!(matches!(
            c.add("x.txt", b"hello"),
            Err(Error::BadInput { .. })
        ));
        assert!(matches!(c.combine(), Err(Error::BadInput { .. })));
        let thin = b"!<thin>\n";
        assert!(matches!(c.add("t.a", thin), Err(Error::BadInput { .. })));
    }
}
