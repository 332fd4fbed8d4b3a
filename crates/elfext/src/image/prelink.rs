//! The prelinker: link an object for fixed TEXT and DATA addresses and write an image.
//!
//! The object goes through the loader's own link ([`crate::link`]) into a [`Fixed`]
//! memory: one host buffer laid out as a block (TEXT, RODATA, DATA, BSS) whose TEXT and
//! RODATA are at the text address and whose DATA and BSS are moved to the data address.

use alloc::alloc::{alloc_zeroed, dealloc};
use alloc::vec;
use alloc::vec::Vec;
use core::alloc::Layout;
use core::cell::RefCell;
use core::ptr::NonNull;

use object::read::elf::FileHeader;
use object::LittleEndian as LE;

use super::{check_address, encode, Parts};
use crate::arch::{Aarch64, Arch, Arm, Relocator, Riscv32, Riscv64, X86_64};
use crate::elf::{identify, Class, Elf32, Elf64, Object, Whole};
use crate::error::{Error, Result};
use crate::layout::{BlockLayout, Granules, Plan, RegionKind};
use crate::link::exports::Exports;
use crate::link::{self, Placed, Resolve, Site, Wanted};
use crate::loader::Storage;
use crate::memory::{Block, HeapStats, Memory};

/// Where and against what to prelink.
#[derive(Clone, Copy)]
pub struct PrelinkOptions<'e> {
    /// The architecture to link for (see [`object_arch`]).
    pub arch: Arch,
    /// Target address of TEXT, then RODATA (flash, executed in place).
    pub text: u64,
    /// Target address of DATA, then BSS (RAM).
    pub data: u64,
    /// The firmware's exports, at their fixed addresses.
    pub exports: &'e dyn Exports,
}

/// The architecture an object is built for, read from its ELF header (`None`: not an ELF
/// object of a machine elfext links for).
pub fn object_arch(object: &[u8]) -> Option<Arch> {
    let class = identify(&mut Whole(object)).ok()?;
    let machine = u16::from_le_bytes([*object.get(18)?, *object.get(19)?]);
    let m = object::elf::Machine(machine);
    Some(match (m, class) {
        (object::elf::EM_X86_64, Class::Elf64) => Arch::X86_64,
        (object::elf::EM_ARM, Class::Elf32) => Arch::Arm,
        (object::elf::EM_AARCH64, Class::Elf64) => Arch::Aarch64,
        (object::elf::EM_RISCV, Class::Elf32) => Arch::Riscv32,
        (object::elf::EM_RISCV, Class::Elf64) => Arch::Riscv64,
        _ => return None,
    })
}

/// Link `object` for `options.text` (TEXT, RODATA) and `options.data` (DATA, BSS) against
/// `options.exports` and write an image (see [the format](super)). `trace` is told where
/// each section went, as by [`Registry::load_traced`](crate::Registry::load_traced).
///
/// Every relocation is applied for those final addresses; out-of-reach calls to the
/// exports get veneers in TEXT. The addresses must be multiples of the alignment their
/// sections need, the ranges must fit the architecture's address space and must not
/// overlap.
pub fn prelink(
    object: &[u8],
    options: &PrelinkOptions<'_>,
    trace: Option<&mut dyn FnMut(Placed<'_>)>,
) -> Result<Vec<u8>> {
    match (identify(&mut Whole(object))?, options.arch) {
        (Class::Elf64, Arch::X86_64) => prelink_with::<Elf64, X86_64>(object, options, trace),
        (Class::Elf32, Arch::Arm) => prelink_with::<Elf32, Arm>(object, options, trace),
        (Class::Elf32, Arch::Riscv32) => prelink_with::<Elf32, Riscv32>(object, options, trace),
        (Class::Elf64, Arch::Riscv64) => prelink_with::<Elf64, Riscv64>(object, options, trace),
        (Class::Elf64, Arch::Aarch64) => prelink_with::<Elf64, Aarch64>(object, options, trace),
        (Class::Elf32, arch) => {
            Object::<Elf32>::parse(&mut Whole(object), arch)?;
            Err(Error::NoLinker(arch))
        }
        (Class::Elf64, arch) => {
            Object::<Elf64>::parse(&mut Whole(object), arch)?;
            Err(Error::NoLinker(arch))
        }
    }
}

fn prelink_with<E: FileHeader<Endian = LE>, R: Relocator>(
    object: &[u8],
    options: &PrelinkOptions<'_>,
    trace: Option<&mut dyn FnMut(Placed<'_>)>,
) -> Result<Vec<u8>> {
    let arch = R::ARCH;
    let word = u64::from(arch.word_size());
    let mut src = Whole(object);
    let obj = Object::<E>::parse(&mut src, arch)?;
    // The alignment each region needs, known before linking (trimming RISC-V padding
    // changes sizes, not alignments; the GOT and veneers need at most these).
    let never = |_, _, _| false;
    let mut plan = Plan::new(&obj, Storage::Temporary, 0, &never)?;
    plan.tables_in_data(&obj, Storage::Temporary, 0, &never)?;
    let text_align = plan.align[0]
        .max(plan.align[1])
        .max(word)
        .max(R::VENEER_ALIGN);
    let data_align = plan.align[2].max(plan.align[3]);
    check_address(arch, "text", options.text, text_align, 0)?;
    check_address(arch, "data", options.data, data_align, 0)?;

    let mut mem = Fixed::new(options.text);
    let site = Site {
        storage: Storage::Temporary,
        base: 0,
        writable: None,
    };
    let resolver = Firmware {
        exports: options.exports,
        used: RefCell::new(Vec::new()),
    };
    let linked = link::link_at::<E, R, Fixed>(
        &obj,
        &mut src,
        &mut mem,
        &site,
        &resolver,
        None,
        trace,
        Some(options.data),
    )?;
    let l = linked.layout;
    let (text_end, data_at) = (l.offsets[1] + l.sizes[1], l.offsets[2]);
    let bss_off = l.sizes[2].next_multiple_of(plan.align[3].max(1));
    check_address(arch, "text", options.text, text_align, text_end)?;
    check_address(arch, "data", options.data, data_align, bss_off + l.sizes[3])?;
    let (text_start, data_start) = (options.text, options.data);
    let (text_stop, data_stop) = (text_start + text_end, data_start + bss_off + l.sizes[3]);
    if text_start < text_stop
        && data_start < data_stop
        && text_start < data_stop
        && data_start < text_stop
    {
        return Err(Error::ImageOverlap {
            text_start,
            text_end: text_stop,
            data_start,
            data_end: data_stop,
        });
    }
    let bytes = mem.bytes();
    let mut exports: Vec<(&[u8], u64)> = Vec::with_capacity(linked.exports.len());
    for &(s, addr) in &linked.exports {
        exports.push((obj.sym_name(s)?, addr));
    }
    exports.sort_unstable();
    let used = resolver.used.into_inner();
    let imports: Vec<(&[u8], u64)> = used.iter().map(|(n, a)| (&n[..], *a)).collect();
    encode(&Parts {
        arch,
        text_addr: options.text,
        text: &bytes[..text_end as usize],
        text_align,
        data_addr: options.data,
        data: &bytes[data_at as usize..(data_at + l.sizes[2]) as usize],
        bss_off,
        bss_len: l.sizes[3],
        data_align,
        tables: linked.tables,
        exports: &exports,
        imports: &imports,
    })
}

/// Undefined symbols come from the firmware's exports only; the ones found are the
/// image's imports.
struct Firmware<'e> {
    exports: &'e dyn Exports,
    /// (name, address) of each export used, in name order.
    used: RefCell<Vec<(Vec<u8>, u64)>>,
}

impl Resolve for Firmware<'_> {
    fn resolve(&self, wanted: &mut [Wanted<'_>], _mem: &dyn Memory) {
        let mut used = self.used.borrow_mut();
        for w in wanted.iter_mut() {
            w.addr = self.exports.lookup(w.name);
            if let Some(a) = w.addr {
                if used.last().is_none_or(|(n, _)| n[..] != *w.name) {
                    used.push((w.name.to_vec(), a));
                }
            }
        }
    }
}

/// A memory that holds one block, in a host buffer, whose target address is the text
/// address (the link moves its DATA and BSS to the data address).
struct Fixed {
    text: u64,
    buf: Vec<u8>,
    stats: HeapStats,
}

impl Fixed {
    fn new(text: u64) -> Self {
        Fixed {
            text,
            buf: Vec::new(),
            stats: HeapStats::default(),
        }
    }

    /// The linked block.
    fn bytes(&self) -> &[u8] {
        &self.buf
    }
}

impl Memory for Fixed {
    fn granules(&self) -> Granules {
        Granules::NONE
    }
    fn in_place_ok(&self, _kind: RegionKind, _addr: u64, _len: u64) -> bool {
        false
    }
    fn alloc_block(&mut self, layout: &BlockLayout) -> Result<Block> {
        let size = usize::try_from(layout.size).map_err(|_| Error::TooLarge {
            what: "image",
            value: layout.size,
            limit: usize::MAX as u64,
        })?;
        // The link writes the whole block through `ptr`; the buffer's alignment does not
        // matter (target addresses are the text address's).
        self.buf = vec![0u8; size.max(1)];
        self.stats.regions = layout.sizes;
        self.stats.allocations = 1;
        Ok(Block {
            addr: self.text,
            ptr: NonNull::from(&mut self.buf[..]).cast(),
        })
    }
    unsafe fn free_block(&mut self, _block: Block, _layout: &BlockLayout) {
        self.buf = Vec::new();
        self.stats = HeapStats::default();
    }
    fn seal(&mut self, _block: &Block, _layout: &BlockLayout) -> Result<()> {
        Ok(())
    }
    fn alloc_meta(&mut self, layout: Layout) -> Result<NonNull<u8>> {
        // The link itself keeps no metadata here; this serves any caller all the same.
        let l = Layout::from_size_align(layout.size().max(1), layout.align()).map_err(|_| {
            Error::TooLarge {
                what: "metadata",
                value: layout.size() as u64,
                limit: isize::MAX as u64,
            }
        })?;
        // SAFETY: `l` has a non-zero size.
        NonNull::new(unsafe { alloc_zeroed(l) }).ok_or(Error::OutOfMemory {
            kind: RegionKind::Metadata,
            size: l.size() as u64,
            align: l.align() as u64,
            free: 0,
        })
    }
    unsafe fn free_meta(&mut self, ptr: NonNull<u8>, layout: Layout) {
        if let Ok(l) = Layout::from_size_align(layout.size().max(1), layout.align()) {
            // SAFETY: the caller passes what `alloc_meta` returned for this layout.
            unsafe { dealloc(ptr.as_ptr(), l) }
        }
    }
    fn stats(&self) -> HeapStats {
        self.stats
    }
    fn is_native(&self) -> bool {
        false
    }
}
