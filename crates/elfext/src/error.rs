//! Errors: every failure of elfext is one of these, and each names what failed.

use alloc::vec::Vec;
use core::fmt;

use crate::arch::Arch;
use crate::layout::RegionKind;
use crate::memory::map::{MapEntry, RangeType};

/// A short, inline copy of a name (symbol, section or extension) kept inside an error.
///
/// Errors never allocate for names: a name longer than the inline capacity is cut and
/// shown with a trailing `…`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name {
    bytes: [u8; Name::CAPACITY],
    len: u8,
    cut: bool,
}

impl Name {
    /// How many bytes of a name an error keeps.
    pub const CAPACITY: usize = 24;

    /// The empty name.
    pub const EMPTY: Name = Name {
        bytes: [0; Name::CAPACITY],
        len: 0,
        cut: false,
    };

    /// Copy (a prefix of) `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        let len = bytes.len().min(Self::CAPACITY);
        let mut out = [0u8; Self::CAPACITY];
        out[..len].copy_from_slice(&bytes[..len]);
        Name {
            bytes: out,
            len: len as u8,
            cut: bytes.len() > Self::CAPACITY,
        }
    }

    /// The kept bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name::new(s.as_bytes())
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.as_bytes().utf8_chunks() {
            f.write_str(chunk.valid())?;
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        if self.cut {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

/// A section of the object, by index and name, as shown in errors.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SectionId {
    /// Index in the section header table.
    pub index: u32,
    /// Section name (empty when the name itself could not be read).
    pub name: Name,
}

impl fmt::Display for SectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.as_bytes().is_empty() {
            write!(f, "section #{}", self.index)
        } else {
            write!(f, "section #{} `{}`", self.index, self.name)
        }
    }
}

impl fmt::Debug for SectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A relocation type shown by name when the `names` feature is on, by number otherwise.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RelocType {
    /// The architecture the type belongs to.
    pub arch: Arch,
    /// The raw `r_type` value.
    pub raw: u32,
}

impl fmt::Display for RelocType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[cfg(feature = "names")]
        {
            let names = object::elf::machine_names(self.arch.machine());
            if let Some(name) = names.r.name(object::elf::RelocationType(self.raw)) {
                return write!(f, "{name} ({})", self.raw);
            }
        }
        write!(f, "type {}", self.raw)
    }
}

/// Everything that can go wrong while loading, linking, running or unloading an extension.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The loader could not deliver the requested bytes.
    #[error(
        "cannot read {len} bytes at offset {offset:#x} of the object ({len_total} bytes long)"
    )]
    Read {
        /// Offset asked for.
        offset: u64,
        /// Length asked for.
        len: u64,
        /// Length of the object as the loader reports it.
        len_total: u64,
    },
    /// The loader's backing stream failed.
    #[error("the loader's stream failed at offset {offset:#x}")]
    Io {
        /// Offset of the failed read.
        offset: u64,
    },
    /// The input does not start with the ELF magic bytes.
    #[error("not an ELF file (bad magic bytes)")]
    NotElf,
    /// ELF class, data encoding or version that elfext does not read.
    #[error("unsupported ELF identification: {0}")]
    BadIdent(&'static str),
    /// The file is ELF but not a relocatable object.
    #[error("ELF type {found} is not a relocatable object (ET_REL = 1); link extensions with `-c` or `ld -r`")]
    NotRelocatable {
        /// `e_type` found.
        found: u16,
    },
    /// The object was built for another machine than the one being linked for.
    #[error("object is for machine {} but the loader links for {expected}", MachineName(*.found))]
    WrongMachine {
        /// `e_machine` found.
        found: u16,
        /// The architecture being linked for.
        expected: Arch,
    },
    /// The object's class (32/64-bit) does not match the architecture.
    #[error("object is ELF{found} but {arch} objects are ELF{expected}")]
    WrongClass {
        /// Bits of the class found.
        found: u8,
        /// Bits the architecture needs.
        expected: u8,
        /// Architecture being linked for.
        arch: Arch,
    },
    /// A header field is inconsistent.
    #[error("bad ELF header: {0}")]
    BadHeader(&'static str),
    /// A section header is inconsistent or points outside the file.
    #[error(
        "{section}: {problem} (offset {offset:#x}, size {size:#x}, file is {file_len:#x} bytes)"
    )]
    SectionOutOfFile {
        /// The section.
        section: SectionId,
        /// What is wrong.
        problem: &'static str,
        /// `sh_offset`.
        offset: u64,
        /// `sh_size`.
        size: u64,
        /// Length of the object.
        file_len: u64,
    },
    /// A section header field has a value elfext cannot accept.
    #[error("{section}: {problem} ({value:#x})")]
    BadSection {
        /// The section.
        section: SectionId,
        /// What is wrong.
        problem: &'static str,
        /// The offending value.
        value: u64,
    },
    /// A reference to a section index that does not exist.
    #[error("{what} refers to section index {index}, but the object has {count} sections")]
    BadSectionIndex {
        /// Who refers to it.
        what: &'static str,
        /// The index found.
        index: u32,
        /// Number of sections.
        count: u32,
    },
    /// A symbol points to a section index that does not exist or is unsuitable.
    #[error("symbol #{symbol} `{name}` refers to section index {index}, {problem}")]
    BadSymbolSection {
        /// Symbol index.
        symbol: u32,
        /// Symbol name.
        name: Name,
        /// The section index.
        index: u32,
        /// What is wrong.
        problem: &'static str,
    },
    /// A symbol's value lies outside its section.
    #[error("symbol `{name}` at offset {value:#x} lies outside {section} ({size:#x} bytes)")]
    SymbolOutsideSection {
        /// Symbol name.
        name: Name,
        /// The section.
        section: SectionId,
        /// `st_value`.
        value: u64,
        /// Section size.
        size: u64,
    },
    /// A string table offset that does not fall inside its table.
    #[error("{table}: string offset {offset:#x} is outside the table or unterminated")]
    BadString {
        /// The string table.
        table: SectionId,
        /// Offset found.
        offset: u32,
    },
    /// A relocation names a symbol index that does not exist.
    #[error("{section}: relocation #{reloc} refers to symbol index {index}, but the symbol table has {count}")]
    BadSymbolIndex {
        /// The relocation section.
        section: SectionId,
        /// Relocation index within it.
        reloc: u32,
        /// Symbol index found.
        index: u32,
        /// Number of symbols.
        count: u32,
    },
    /// A relocation section is linked to something other than the object's symbol table.
    #[error("{section}: relocations use section index {link} as their symbol table, but the symbol table is section {symtab}")]
    WrongSymbolTable {
        /// The relocation section.
        section: SectionId,
        /// Its `sh_link`.
        link: u32,
        /// The symbol table's index.
        symtab: u32,
    },
    /// A relocation patches bytes outside the section it applies to.
    #[error("{section}: relocation #{reloc} at offset {offset:#x} ({width} bytes) is outside {target} ({size:#x} bytes)")]
    RelocationOutOfSection {
        /// The relocation section.
        section: SectionId,
        /// Relocation index.
        reloc: u32,
        /// Offset of the patch.
        offset: u64,
        /// Bytes patched.
        width: u8,
        /// The section being patched.
        target: SectionId,
        /// Its size.
        size: u64,
    },
    /// An alignment relocation (RISC-V `R_RISCV_ALIGN`) whose padding cannot be trimmed as
    /// GNU ld trims it, or a relocation that patches padding such a relocation deletes.
    #[error(
        "{section}: relocation #{reloc} at {target}+{offset:#x} (addend {addend:#x}): {problem}"
    )]
    BadAlignment {
        /// The relocation section.
        section: SectionId,
        /// Relocation index.
        reloc: u32,
        /// The section being patched.
        target: SectionId,
        /// Offset of the relocation in it.
        offset: u64,
        /// Its addend (for `R_RISCV_ALIGN`, the bytes of padding).
        addend: i64,
        /// What is wrong.
        problem: &'static str,
    },
    /// A relocation type the architecture's linker does not handle.
    #[error("{arch}: unsupported relocation {rtype} at {section}+{offset:#x}")]
    UnsupportedRelocation {
        /// Architecture.
        arch: Arch,
        /// The type.
        rtype: RelocType,
        /// The section being patched.
        section: SectionId,
        /// Offset in it.
        offset: u64,
    },
    /// A computed relocation value does not fit the field that receives it.
    #[error("{rtype} against `{symbol}` at {section}+{offset:#x}: value {value:#x} is out of range [{min:#x}, {max:#x}]")]
    RelocationOverflow {
        /// The type.
        rtype: RelocType,
        /// Target symbol.
        symbol: Name,
        /// The section being patched.
        section: SectionId,
        /// Offset in it.
        offset: u64,
        /// The computed value.
        value: i64,
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A computed value needs an alignment the field cannot express.
    #[error("{rtype} against `{symbol}` at {section}+{offset:#x}: value {value:#x} is not a multiple of {align}")]
    RelocationMisaligned {
        /// The type.
        rtype: RelocType,
        /// Target symbol.
        symbol: Name,
        /// The section being patched.
        section: SectionId,
        /// Offset in it.
        offset: u64,
        /// The computed value.
        value: i64,
        /// Required alignment.
        align: u32,
    },
    /// The instruction at a relocation is not one the relocation type allows.
    #[error("{rtype} at {section}+{offset:#x}: {problem}")]
    BadInstruction {
        /// The type.
        rtype: RelocType,
        /// The section being patched.
        section: SectionId,
        /// Offset in it.
        offset: u64,
        /// What is wrong.
        problem: &'static str,
    },
    /// Symbols the extension needs that neither the host nor a loaded extension exports.
    #[error("undefined symbols: {}", ListNames(.0))]
    MissingSymbols(Vec<Name>),
    /// A thread-local symbol the extension uses but does not define: thread-local
    /// variables are linked only within one extension.
    #[error("thread-local symbol {0} is not defined in the extension (thread-local variables are not shared between extensions or with the host)")]
    ExternalTls(Name),
    /// The object uses a feature elfext does not implement.
    #[error("{section}: {problem}")]
    Unsupported {
        /// Where it was found.
        section: SectionId,
        /// What it is.
        problem: &'static str,
    },
    /// The object has thread-local sections but the registry has no
    /// [`TlsArea`](crate::TlsArea).
    #[error(
        "{section} is thread-local, but the registry has no thread-local area (Registry::with_tls)"
    )]
    NoTlsArea {
        /// The first thread-local section.
        section: SectionId,
    },
    /// The thread-local area has no free range large enough for the object's TLS.
    #[error("thread-local area full: {section} and the other thread-local sections need {needed} bytes, {free} bytes are free")]
    TlsAreaFull {
        /// The first thread-local section.
        section: SectionId,
        /// Bytes the object's thread-local sections need.
        needed: u64,
        /// Bytes of the area no loaded extension holds (possibly not contiguous).
        free: u64,
    },
    /// In-place storage would overlap bytes elfext still has to read.
    #[error("{section} overlaps the object's {what}; a writable object must keep its tables apart from its sections")]
    InPlaceOverlap {
        /// The section used in place.
        section: SectionId,
        /// Which table it overlaps.
        what: &'static str,
    },
    /// The extension heap cannot satisfy a request.
    #[error("extension heap exhausted: {size} bytes aligned to {align} for {kind} ({free} bytes free in total)")]
    OutOfMemory {
        /// What the bytes were for.
        kind: RegionKind,
        /// Size asked for.
        size: u64,
        /// Alignment asked for.
        align: u64,
        /// Free bytes left in the arena.
        free: u64,
    },
    /// A number that does not fit elfext's compact bookkeeping.
    #[error("{what} is too large: {value} (limit {limit})")]
    TooLarge {
        /// What overflowed.
        what: &'static str,
        /// The value.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// The named extension is not loaded.
    #[error("no extension named `{0}` is loaded")]
    NotLoaded(Name),
    /// An extension could not be unloaded because another one links against it.
    #[error("extension `{name}` is still used by `{dependent}`; unload `{dependent}` first")]
    InUse {
        /// The extension asked to unload.
        name: Name,
        /// One extension that depends on it.
        dependent: Name,
    },
    /// The heap cannot be torn down while extensions are loaded.
    #[error("cannot tear down the extension heap: {loaded} extensions are still loaded")]
    HeapBusy {
        /// How many.
        loaded: usize,
    },
    /// A symbol asked for by name is not exported by the extension.
    #[error("extension `{extension}` exports no symbol `{symbol}`")]
    NoSuchSymbol {
        /// The extension.
        extension: Name,
        /// The symbol.
        symbol: Name,
    },
    /// The memory backend places code somewhere the host cannot execute it directly.
    #[error("this memory backend does not map extensions into the running program; native calls are impossible")]
    NotNative,
    /// The memory backend could not apply a protection.
    #[error("memory protection failed for {kind} at {addr:#x} (+{len:#x})")]
    Protect {
        /// Region kind.
        kind: RegionKind,
        /// Start.
        addr: u64,
        /// Length.
        len: u64,
    },
    /// elfext has no relocation support for this architecture yet.
    #[error("no linker for {0} objects yet")]
    NoLinker(Arch),
    /// A memory-map reservation would overlap a reservation it may not replace.
    #[error("memory map: cannot reserve {new}: it overlaps {existing}")]
    MapOverlap {
        /// The reservation asked for.
        new: MapEntry,
        /// The reservation already there.
        existing: MapEntry,
    },
    /// No free range of the memory map can hold an allocation.
    #[error("memory map: no free range holds {size} bytes aligned to {align} for {ty} in [{min:#x}, {max:#x}]")]
    MapNoSpace {
        /// Type of the reservation.
        ty: RangeType,
        /// Bytes asked for (after granule rounding).
        size: u64,
        /// Alignment asked for (after granule rounding).
        align: u64,
        /// Lowest allowed address.
        min: u64,
        /// Highest allowed address.
        max: u64,
    },
    /// The memory map has no bookkeeping slot left.
    #[error("memory map bookkeeping full: all {capacity} {what} slots are in use")]
    MapFull {
        /// What kind of slot.
        what: &'static str,
        /// How many there are.
        capacity: u32,
    },
    /// No reservation of the memory map starts at the address given.
    #[error("memory map: no reservation starts at {addr:#x} (never reserved, or already freed)")]
    MapNotReserved {
        /// The address.
        addr: u64,
    },
    /// A reservation does not lie inside one bank of the memory map.
    #[error("memory map: [{start:#x}, {end:#x}) is not inside one bank")]
    MapOutsideBanks {
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// A memory-map request that makes no sense.
    #[error("memory map: {problem} ({value:#x})")]
    MapBadRequest {
        /// What is wrong.
        problem: &'static str,
        /// The offending value.
        value: u64,
    },
    /// A loader declares a storage type but cannot provide the buffer it implies.
    #[error("the loader declares {0:?} storage but exposes no buffer")]
    LoaderStorage(crate::loader::Storage),
    /// The memory backend cannot take back a block at a fixed address (needed to restore a
    /// snapshot).
    #[error("this memory cannot take back a block at a fixed address (restore needs a backend such as MapMemory)")]
    NoFixedBlocks,
    /// The buffer given to save a snapshot is too small.
    #[error("snapshot needs {needed} bytes, the buffer has {given}")]
    SnapshotTooSmall {
        /// Bytes the snapshot needs.
        needed: u64,
        /// Bytes the buffer has.
        given: u64,
    },
    /// A snapshot field is malformed or inconsistent.
    #[error("snapshot: bad {field} at byte {offset}{}: {value:#x}", ExtIndex(*.extension))]
    BadSnapshot {
        /// Byte offset of the field in the snapshot.
        offset: u64,
        /// Index of the extension the field belongs to (`u32::MAX`: the snapshot's header).
        extension: u32,
        /// Which field.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// A snapshot was written by another version of the format.
    #[error("snapshot format version {found}, this build reads version {supported}")]
    SnapshotVersion {
        /// The version in the snapshot.
        found: u16,
        /// The version this build reads.
        supported: u16,
    },
    /// The snapshot's checksum does not match its bytes.
    #[error("snapshot checksum mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    SnapshotChecksum {
        /// The checksum stored in the snapshot.
        stored: u32,
        /// The checksum of the bytes.
        computed: u32,
    },
    /// A retained region's contents no longer match the checksum saved in the snapshot.
    #[error("extension `{extension}`: {kind} changed since the snapshot (checksum {stored:#010x}, now {computed:#010x})")]
    RegionChecksum {
        /// The extension.
        extension: Name,
        /// The region.
        kind: RegionKind,
        /// The checksum saved in the snapshot.
        stored: u32,
        /// The checksum of the region now.
        computed: u32,
    },
    /// Two extensions of a snapshot claim overlapping memory.
    #[error("snapshot: the blocks of `{first}` and `{second}` overlap at {addr:#x}")]
    SnapshotOverlap {
        /// The extension with the lower block.
        first: Name,
        /// The extension whose block starts inside it.
        second: Name,
        /// Where the second block starts.
        addr: u64,
    },
    /// A region to take back lies outside the memory the backend manages.
    #[error("{kind} of `{owner}` at [{start:#x}, {end:#x}) lies outside this memory")]
    OutsideMemory {
        /// The extension it belongs to.
        owner: Name,
        /// The region.
        kind: RegionKind,
        /// First byte.
        start: u64,
        /// One past the last byte.
        end: u64,
    },
    /// A prelinked image's field is malformed or inconsistent (see [`crate::image`]).
    #[error("image: bad {field} at byte {offset}: {value:#x}")]
    BadImage {
        /// Byte offset of the field in the image.
        offset: u64,
        /// Which field, and what is wrong with it.
        field: &'static str,
        /// The value found.
        value: u64,
    },
    /// A prelinked image's checksum does not match its bytes.
    #[error("image checksum mismatch: stored {stored:#010x}, computed {computed:#010x} (the image is damaged)")]
    ImageChecksum {
        /// The checksum stored in the image.
        stored: u32,
        /// The checksum of the bytes.
        computed: u32,
    },
    /// A prelinked image is for another architecture than the registry links for.
    #[error("image is prelinked for {found} but the registry links for {expected}")]
    ImageArch {
        /// The image's architecture.
        found: Arch,
        /// The registry's.
        expected: Arch,
    },
    /// A prelinked image's text is not at the address it was linked to run at.
    #[error("image text is at {at:#x} but was prelinked to run at {text:#x}: place (flash or map) the image at {image:#x}")]
    ImageMisplaced {
        /// Where the image's text bytes are.
        at: u64,
        /// Where they must be.
        text: u64,
        /// Where the image must start for that.
        image: u64,
    },
    /// The text and the data ranges of a prelinked image overlap.
    #[error("image text [{text_start:#x}, {text_end:#x}) and data+bss [{data_start:#x}, {data_end:#x}) overlap; choose addresses further apart")]
    ImageOverlap {
        /// First byte of TEXT and RODATA.
        text_start: u64,
        /// One past their last byte.
        text_end: u64,
        /// First byte of DATA and BSS.
        data_start: u64,
        /// One past their last byte.
        data_end: u64,
    },
    /// An address given for a prelinked image does not suit it.
    #[error("image {what} address {addr:#x} {problem}")]
    ImageAddress {
        /// Which address (text, data).
        what: &'static str,
        /// The address.
        addr: u64,
        /// What is wrong (not aligned to ..., beyond the address space).
        problem: ImageAddressProblem,
    },
    /// A prelinked image was linked against a firmware symbol that this registry's exports
    /// have elsewhere, or not at all.
    #[error("image was prelinked against `{name}` at {linked:#x}, but {}; prelink it again against these exports", ExportNow(*.found))]
    ImageImport {
        /// The symbol.
        name: Name,
        /// The address the image was linked for.
        linked: u64,
        /// Its address in the registry's exports (`None`: not exported).
        found: Option<u64>,
    },
    /// Two inputs of a combination both define a symbol, and neither definition is weak.
    #[error("symbol `{symbol}` is defined in both `{first}` and `{second}`; remove one definition or make one of them weak")]
    DuplicateSymbol {
        /// The symbol.
        symbol: Name,
        /// The input whose definition came first.
        first: Name,
        /// The input with the second definition.
        second: Name,
    },
    /// Two inputs of a combination are built for different targets.
    #[error("cannot combine `{first}` and `{second}`: {what}")]
    IncompatibleInputs {
        /// The input that set the target.
        first: Name,
        /// The input that differs from it.
        second: Name,
        /// How they differ.
        what: Mismatch,
    },
    /// An input of a combination is malformed or of a kind that cannot be combined.
    #[error("`{input}`: {problem}")]
    BadInput {
        /// The input (`lib.a(member.o)` for an archive member).
        input: Name,
        /// What is wrong.
        problem: &'static str,
    },
    /// A kept section refers to a symbol of a section dropped as a duplicate COMDAT group
    /// member, and the kept group has no section of that name to stand in for it.
    #[error("`{input}`: section `{section}` refers to a section dropped as part of a duplicate COMDAT group, and the kept group has no section of that name")]
    DiscardedReference {
        /// The input of the referring section.
        input: Name,
        /// The referring section.
        section: Name,
    },
}

/// Where the registry's exports have an image's import, for [`Error::ImageImport`].
struct ExportNow(Option<u64>);

impl fmt::Display for ExportNow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(a) => write!(f, "the exports have it at {a:#x}"),
            None => f.write_str("the exports do not have it"),
        }
    }
}

/// Why an address given for a prelinked image does not suit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageAddressProblem {
    /// It is not a multiple of the alignment its regions need.
    Misaligned(u64),
    /// The range starting there ends beyond the architecture's address space.
    TooHigh(u64),
}

impl fmt::Display for ImageAddressProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageAddressProblem::Misaligned(a) => {
                write!(
                    f,
                    "is not a multiple of {a} (the alignment its sections need)"
                )
            }
            ImageAddressProblem::TooHigh(end) => write!(
                f,
                "puts its range's end at {end:#x}, beyond the architecture's address space"
            ),
        }
    }
}

/// The extension index shown in [`Error::BadSnapshot`] (`u32::MAX`: the header).
struct ExtIndex(u32);

impl fmt::Display for ExtIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == u32::MAX {
            f.write_str(" (header)")
        } else {
            write!(f, " (extension #{})", self.0)
        }
    }
}

/// An `e_machine` value, by name when the `names` feature is on.
struct MachineName(u16);

impl fmt::Display for MachineName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        #[cfg(feature = "names")]
        if let Some(name) = object::elf::Machine(self.0).name() {
            return write!(f, "{name} ({})", self.0);
        }
        write!(f, "{}", self.0)
    }
}

struct ListNames<'a>(&'a [Name]);

impl fmt::Display for ListNames<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, n) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "`{n}`")?;
        }
        Ok(())
    }
}

/// How two inputs of a combination differ (see [`Error::IncompatibleInputs`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mismatch {
    /// Different `e_machine` values (first, second).
    Machine(u16, u16),
    /// Different ELF classes, in bits (first, second).
    Class(u8, u8),
    /// Different byte orders.
    ByteOrder,
    /// `e_flags` that describe incompatible ABIs (first, second).
    Flags(u32, u32),
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Mismatch::Machine(a, b) => write!(
                f,
                "the first is for machine {}, the second for {}",
                MachineName(a),
                MachineName(b)
            ),
            Mismatch::Class(a, b) => write!(f, "the first is ELF{a}, the second ELF{b}"),
            Mismatch::ByteOrder => f.write_str("their byte orders differ"),
            Mismatch::Flags(a, b) => write!(
                f,
                "their ELF flags describe different ABIs ({a:#x} and {b:#x}); build both with the same -mabi / float ABI"
            ),
        }
    }
}

/// Shorthand for results of elfext operations.
pub type Result<T, E = Error> = core::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        assert!(
            core::mem::size_of::<Error>() <= 112,
            "Error is {} bytes",
            core::mem::size_of::<Error>()
        );
    }
}
