//! Bounds-checked views over an object's headers and tables, read through a loader.
//!
//! The raw structures are `object`'s ELF types; this module only checks them. Tables are
//! borrowed when the loader can lend its bytes and read into temporary buffers otherwise.

use alloc::borrow::Cow;
use alloc::vec;
use core::marker::PhantomData;
use core::mem::size_of;

use object::elf::{self, FileHeader32, FileHeader64};
use object::read::elf::{FileHeader, SectionHeader, Sym};
use object::{pod, LittleEndian as LE};

use crate::arch::Arch;
use crate::error::{Error, Name, Result, SectionId};
use crate::loader::Loader;

/// ELF32, little-endian.
pub(crate) type Elf32 = FileHeader32<LE>;
/// ELF64, little-endian.
pub(crate) type Elf64 = FileHeader64<LE>;

/// Where the bytes of the object come from during one load.
pub(crate) trait Source<'a> {
    /// Object length.
    fn len(&self) -> u64;
    /// `len` bytes at `offset`, borrowed when possible.
    fn get(&mut self, offset: u64, len: u64) -> Result<Cow<'a, [u8]>>;
    /// Copy bytes at `offset` into `dst`.
    fn copy(&mut self, offset: u64, dst: &mut [u8]) -> Result<()>;
}

fn range(offset: u64, len: u64, total: u64) -> Result<core::ops::Range<usize>> {
    let err = Error::Read {
        offset,
        len,
        len_total: total,
    };
    let end = offset
        .checked_add(len)
        .filter(|&e| e <= total)
        .ok_or(err.clone())?;
    let start = usize::try_from(offset).map_err(|_| err.clone())?;
    let end = usize::try_from(end).map_err(|_| err)?;
    Ok(start..end)
}

/// An object whose bytes can all be borrowed.
pub(crate) struct Whole<'a>(pub &'a [u8]);

impl<'a> Source<'a> for Whole<'a> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn get(&mut self, offset: u64, len: u64) -> Result<Cow<'a, [u8]>> {
        Ok(Cow::Borrowed(&self.0[range(offset, len, self.len())?]))
    }
    fn copy(&mut self, offset: u64, dst: &mut [u8]) -> Result<()> {
        dst.copy_from_slice(&self.0[range(offset, dst.len() as u64, self.len())?]);
        Ok(())
    }
}

/// An object read piece by piece through a loader that cannot lend its bytes.
pub(crate) struct Stream<'l, L>(pub &'l mut L);

impl<'a, 'buf, L: Loader<'buf>> Source<'a> for Stream<'_, L> {
    fn len(&self) -> u64 {
        self.0.len()
    }
    fn get(&mut self, offset: u64, len: u64) -> Result<Cow<'a, [u8]>> {
        let total = self.0.len();
        let r = range(offset, len, total)?;
        let mut buf = vec![0u8; r.len()];
        self.0.read_at(offset, &mut buf)?;
        Ok(Cow::Owned(buf))
    }
    fn copy(&mut self, offset: u64, dst: &mut [u8]) -> Result<()> {
        range(offset, dst.len() as u64, self.0.len())?;
        self.0.read_at(offset, dst)
    }
}

/// A buffer that code outside elfext may write to while it is read (a writable object's
/// data sections): only the requested ranges are ever borrowed, never the whole buffer.
pub(crate) struct RawSource<'a> {
    ptr: *const u8,
    len: usize,
    _buf: PhantomData<&'a [u8]>,
}

impl RawSource<'_> {
    /// # Safety
    /// `ptr..ptr+len` must stay allocated for `'a`, and the ranges asked for through
    /// [`Source::get`] must not be written while the returned slices live.
    pub unsafe fn new(ptr: *const u8, len: usize) -> Self {
        RawSource {
            ptr,
            len,
            _buf: PhantomData,
        }
    }
}

impl<'a> Source<'a> for RawSource<'a> {
    fn len(&self) -> u64 {
        self.len as u64
    }
    fn get(&mut self, offset: u64, len: u64) -> Result<Cow<'a, [u8]>> {
        let r = range(offset, len, self.len as u64)?;
        // SAFETY: in bounds (checked above); see `new` for the aliasing contract.
        Ok(Cow::Borrowed(unsafe {
            core::slice::from_raw_parts(self.ptr.add(r.start), r.len())
        }))
    }
    fn copy(&mut self, offset: u64, dst: &mut [u8]) -> Result<()> {
        let r = range(offset, dst.len() as u64, self.len as u64)?;
        // SAFETY: in bounds; `dst` is elfext's own memory, never the buffer itself.
        unsafe { core::ptr::copy_nonoverlapping(self.ptr.add(r.start), dst.as_mut_ptr(), r.len()) };
        Ok(())
    }
}

/// ELF class of an object, read from its identification bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// ELF32.
    Elf32,
    /// ELF64.
    Elf64,
}

/// Read and check `e_ident`; say which class the object is.
pub(crate) fn identify<'a>(src: &mut impl Source<'a>) -> Result<Class> {
    if src.len() < 16 {
        return Err(if src.len() >= 4 {
            Error::BadHeader("file shorter than e_ident")
        } else {
            Error::NotElf
        });
    }
    let bytes = src.get(0, 16)?;
    // e_ident: magic, class, data encoding, version (the same in both classes).
    let (magic, class, data, version) = (&bytes[..4], bytes[4], bytes[5], bytes[6]);
    if magic != elf::ELFMAG {
        return Err(Error::NotElf);
    }
    if data != elf::ELFDATA2LSB.0 {
        return Err(Error::BadIdent("big-endian objects are not supported"));
    }
    if version != elf::EV_CURRENT.0 {
        return Err(Error::BadIdent("EI_VERSION is not EV_CURRENT"));
    }
    match class {
        c if c == elf::ELFCLASS32.0 => Ok(Class::Elf32),
        c if c == elf::ELFCLASS64.0 => Ok(Class::Elf64),
        _ => Err(Error::BadIdent(
            "EI_CLASS is neither ELFCLASS32 nor ELFCLASS64",
        )),
    }
}

/// The checked headers and tables of one relocatable object.
pub(crate) struct Object<'a, E: FileHeader> {
    /// Length of the object in bytes.
    pub len: u64,
    /// Number of sections.
    pub shnum: u32,
    /// Index of the symbol table (0 when there is none).
    pub symtab: u32,
    /// Index of the string table of the symbol table.
    pub strtab: u32,
    /// Number of symbols.
    pub nsyms: u32,
    /// File offset of the section header table.
    pub shoff: u64,
    shdrs: Cow<'a, [u8]>,
    shstr: Cow<'a, [u8]>,
    shstrndx: u32,
    syms: Cow<'a, [u8]>,
    strs: Cow<'a, [u8]>,
    _elf: PhantomData<E>,
}

/// A section header table that cannot be read is malformed when it lies outside the file;
/// any other failure (a stream error) is passed on as it is.
fn outside_file(e: Error) -> Error {
    match e {
        Error::Read { .. } => Error::BadHeader("section header table is outside the file"),
        other => other,
    }
}

/// Section headers after this many are rejected: a bound on temporary memory.
const MAX_SECTIONS: u32 = 1 << 20;

impl<'a, E> Object<'a, E>
where
    E: FileHeader<Endian = LE>,
{
    /// Read and check the file header, section headers, symbol table and string tables.
    pub fn parse(src: &mut impl Source<'a>, arch: Arch) -> Result<Self> {
        let len = src.len();
        let hsize = size_of::<E>() as u64;
        if len < hsize {
            return Err(Error::BadHeader("file shorter than the ELF header"));
        }
        let hbytes = src.get(0, hsize)?;
        let header: &E = pod::from_bytes(&hbytes)
            .map_err(|()| Error::BadHeader("ELF header"))?
            .0;
        let class_bits = if E::is_type_64_sized() { 64 } else { 32 };
        let e_type = header.e_type(LE);
        if e_type != elf::ET_REL {
            return Err(Error::NotRelocatable { found: e_type.0 });
        }
        if header.e_machine(LE) != arch.machine() {
            return Err(Error::WrongMachine {
                found: header.e_machine(LE).0,
                expected: arch,
            });
        }
        if arch.is_64() != E::is_type_64_sized() {
            return Err(Error::WrongClass {
                found: class_bits,
                expected: if arch.is_64() { 64 } else { 32 },
                arch,
            });
        }
        let shoff: u64 = header.e_shoff(LE).into();
        let entsize = u64::from(header.e_shentsize(LE));
        let shsize = size_of::<E::SectionHeader>() as u64;
        if shoff == 0 {
            return Err(Error::BadHeader("no section header table (e_shoff is 0)"));
        }
        if entsize != shsize {
            return Err(Error::BadHeader("e_shentsize does not match the ELF class"));
        }
        // Section 0 carries the real count and string table index when they overflow.
        let first = src.get(shoff, shsize).map_err(outside_file)?;
        let sh0: &E::SectionHeader = pod::from_bytes(&first)
            .map_err(|()| Error::BadHeader("section 0"))?
            .0;
        let mut shnum = u32::from(header.e_shnum(LE));
        if shnum == 0 {
            let big: u64 = sh0.sh_size(LE).into();
            shnum = u32::try_from(big)
                .map_err(|_| Error::BadHeader("section count in section 0 is too large"))?;
        }
        if shnum == 0 {
            return Err(Error::BadHeader("no sections"));
        }
        if shnum > MAX_SECTIONS {
            return Err(Error::TooLarge {
                what: "section count",
                value: u64::from(shnum),
                limit: u64::from(MAX_SECTIONS),
            });
        }
        let mut shstrndx = u32::from(header.e_shstrndx(LE).0);
        if shstrndx == u32::from(elf::SHN_XINDEX.0) {
            shstrndx = sh0.sh_link(LE);
        }
        drop(first);
        let table_len = u64::from(shnum) * shsize;
        let shdrs = src.get(shoff, table_len).map_err(outside_file)?;
        if shstrndx >= shnum {
            return Err(Error::BadSectionIndex {
                what: "e_shstrndx",
                index: shstrndx,
                count: shnum,
            });
        }
        let mut obj: Object<'a, E> = Object {
            len,
            shnum,
            symtab: 0,
            strtab: 0,
            nsyms: 0,
            shoff,
            shdrs,
            shstr: Cow::Borrowed(&[]),
            shstrndx: 0,
            syms: Cow::Borrowed(&[]),
            strs: Cow::Borrowed(&[]),
            _elf: PhantomData,
        };
        // Section names first, so that every later error can name its section.
        if shstrndx != 0 {
            let sh = obj.sh(shstrndx);
            if sh.sh_type(LE) != elf::SHT_STRTAB {
                return Err(Error::BadSection {
                    section: obj.raw_id(shstrndx),
                    problem: "e_shstrndx names a section that is not a string table; type",
                    value: u64::from(sh.sh_type(LE).0),
                });
            }
            let (off, size): (u64, u64) = (sh.sh_offset(LE).into(), sh.sh_size(LE).into());
            if off.checked_add(size).is_none_or(|end| end > len) {
                return Err(Error::SectionOutOfFile {
                    section: obj.raw_id(shstrndx),
                    problem: "section names extend past the end of the file",
                    offset: off,
                    size,
                    file_len: len,
                });
            }
            obj.shstr = src.get(off, size)?;
            obj.shstrndx = shstrndx;
        }
        // Check every section against the file before reading any of them.
        let mut symtab = 0;
        for i in 0..shnum {
            let sh = obj.sh(i);
            let ty = sh.sh_type(LE);
            let align: u64 = sh.sh_addralign(LE).into();
            if align > 1 && !align.is_power_of_two() {
                return Err(Error::BadSection {
                    section: obj.id(i),
                    problem: "alignment is not a power of two",
                    value: align,
                });
            }
            if ty != elf::SHT_NOBITS && ty != elf::SHT_NULL {
                let (off, size): (u64, u64) = (sh.sh_offset(LE).into(), sh.sh_size(LE).into());
                if off.checked_add(size).is_none_or(|end| end > len) {
                    return Err(Error::SectionOutOfFile {
                        section: obj.id(i),
                        problem: "contents extend past the end of the file",
                        offset: off,
                        size,
                        file_len: len,
                    });
                }
            }
            if ty == elf::SHT_SYMTAB {
                if symtab != 0 {
                    return Err(Error::BadSection {
                        section: obj.raw_id(i),
                        problem: "second symbol table (the first is at this index)",
                        value: u64::from(symtab),
                    });
                }
                symtab = i;
            }
            if ty == elf::SHT_SYMTAB_SHNDX {
                return Err(Error::Unsupported {
                    section: obj.raw_id(i),
                    problem: "extended section indices (SHT_SYMTAB_SHNDX) are not supported",
                });
            }
        }
        if symtab != 0 {
            let sh = obj.sh(symtab);
            let entsize: u64 = sh.sh_entsize(LE).into();
            let size: u64 = sh.sh_size(LE).into();
            let symsize = size_of::<E::Sym>() as u64;
            if entsize != symsize {
                return Err(Error::BadSection {
                    section: obj.id(symtab),
                    problem: "symbol entry size does not match the ELF class",
                    value: entsize,
                });
            }
            if size % symsize != 0 {
                return Err(Error::BadSection {
                    section: obj.id(symtab),
                    problem: "size is not a multiple of the symbol entry size",
                    value: size,
                });
            }
            let link = sh.sh_link(LE);
            if link == 0 || link >= shnum || obj.sh(link).sh_type(LE) != elf::SHT_STRTAB {
                return Err(Error::BadSection {
                    section: obj.id(symtab),
                    problem: "sh_link does not name a string table",
                    value: u64::from(link),
                });
            }
            let nsyms = u32::try_from(size / symsize).map_err(|_| Error::TooLarge {
                what: "symbol count",
                value: size / symsize,
                limit: u64::from(u32::MAX),
            })?;
            let (off, sh_size) = (sh.sh_offset(LE).into(), size);
            obj.syms = src.get(off, sh_size)?;
            let strsh = obj.sh(link);
            let (soff, ssize) = (strsh.sh_offset(LE).into(), strsh.sh_size(LE).into());
            obj.strs = src.get(soff, ssize)?;
            obj.symtab = symtab;
            obj.strtab = link;
            obj.nsyms = nsyms;
        }
        Ok(obj)
    }

    /// Section header `i` (`i < shnum`; out-of-range indices give section 0).
    #[inline]
    pub fn sh(&self, i: u32) -> &E::SectionHeader {
        let size = size_of::<E::SectionHeader>();
        let at = i as usize * size;
        let bytes = self
            .shdrs
            .get(at..at + size)
            .or_else(|| self.shdrs.get(..size))
            .unwrap_or(&[]);
        // Section headers are unaligned byte arrays, so this only fails on short input,
        // which `parse` has ruled out.
        match pod::from_bytes::<E::SectionHeader>(bytes) {
            Ok((sh, _)) => sh,
            Err(()) => unreachable_header(),
        }
    }

    /// Symbol `i` (`i < nsyms`).
    #[inline]
    pub fn sym(&self, i: u32) -> &E::Sym {
        let size = size_of::<E::Sym>();
        let at = i as usize * size;
        match self.syms.get(at..at + size).map(pod::from_bytes::<E::Sym>) {
            Some(Ok((s, _))) => s,
            _ => unreachable_sym(),
        }
    }

    /// NUL-terminated string at `offset` of the symbol string table.
    #[inline]
    pub fn sym_str(&self, offset: u32) -> Result<&[u8]> {
        cstr(&self.strs, offset).ok_or_else(|| Error::BadString {
            table: self.id(self.strtab),
            offset,
        })
    }

    /// Name of symbol `i`.
    #[inline]
    pub fn sym_name(&self, i: u32) -> Result<&[u8]> {
        self.sym_str(self.sym(i).st_name(LE))
    }

    /// Name of section `i`, or an empty name when it cannot be read.
    pub fn section_name(&self, i: u32) -> &[u8] {
        if i >= self.shnum {
            return &[];
        }
        cstr(&self.shstr, self.sh(i).sh_name(LE)).unwrap_or(&[])
    }

    /// Whether section `i` is named exactly `name` (without scanning for the terminator).
    #[inline]
    pub fn section_name_is(&self, i: u32, name: &[u8]) -> bool {
        let off = self.sh(i).sh_name(LE) as usize;
        match self.shstr.get(off..off + name.len() + 1) {
            Some(b) => b[..name.len()] == *name && b[name.len()] == 0,
            None => false,
        }
    }

    /// Section `i` as errors show it.
    pub fn id(&self, i: u32) -> SectionId {
        SectionId {
            index: i,
            name: Name::new(self.section_name(i)),
        }
    }

    fn raw_id(&self, i: u32) -> SectionId {
        SectionId {
            index: i,
            name: Name::new(&[]),
        }
    }

    /// Section flags of `i`.
    #[inline]
    pub fn flags(&self, i: u32) -> u64 {
        self.sh(i).sh_flags(LE).0
    }

    /// `(offset, size)` of section `i` in the file.
    #[inline]
    pub fn file_range(&self, i: u32) -> (u64, u64) {
        let sh = self.sh(i);
        (sh.sh_offset(LE).into(), sh.sh_size(LE).into())
    }
}

#[cold]
fn unreachable_header() -> ! {
    unreachable!("section header table was checked by Object::parse")
}

#[cold]
fn unreachable_sym() -> ! {
    unreachable!("symbol table was checked by Object::parse")
}

/// The NUL-terminated string at `offset` of `table`.
#[inline]
pub(crate) fn cstr(table: &[u8], offset: u32) -> Option<&[u8]> {
    let tail = table.get(offset as usize..)?;
    let end = tail.iter().position(|&b| b == 0)?;
    Some(&tail[..end])
}
