//! Loading prelinked images (see [`crate::image`]): no ELF, no relocation, only a range
//! of RAM claimed at the image's data address.

use alloc::vec::Vec;

use super::record::{self, NewRecord, Rec};
use super::{Inner, Registry};
use crate::error::{Error, Name, Result};
use crate::image::Image;
use crate::layout::BlockLayout;
use crate::loader::Storage;
use crate::memory::Memory;

impl<'buf, M: Memory, R: lock_api::RawMutex> Registry<'buf, M, R> {
    /// Load the prelinked image `image` as `name`, or, when `name` is already loaded, only
    /// count one more use. Returns the use count before this call (0 for a fresh load).
    ///
    /// Every firmware symbol the image was linked against must be at the same address in
    /// the registry's exports ([`Error::ImageImport`] otherwise). The image must lie where
    /// it was prelinked to run: its text at the image's text
    /// address (for a memory with a [flash window](crate::TargetMemory::with_flash), at
    /// the target address of the host bytes). Nothing is relocated: the DATA+BSS range is
    /// taken at the image's data address ([`Memory::claim_block`], which
    /// [`MapMemory`](crate::MapMemory) provides; others refuse with
    /// [`Error::NoFixedBlocks`]), DATA is copied from the image and BSS zeroed. Run its
    /// constructors with [`Extension::bringup`](crate::Extension::bringup) as for any
    /// load. The extension reports [`Storage::Temporary`]: like a temporary load it keeps
    /// its exports in its record (the image is not read again after loading, except its
    /// text, which runs where it is).
    ///
    /// On error nothing is loaded and the memory is exactly as it was.
    pub fn load_image(&self, name: &str, image: &'buf [u8]) -> Result<u32> {
        let img = Image::parse(image)?;
        self.inner.lock().load_image(name, image, &img)
    }
}

impl<M: Memory> Inner<'_, M> {
    fn load_image(&mut self, name: &str, image: &[u8], img: &Image<'_>) -> Result<u32> {
        if let Some(prev) = self.count_use(name)? {
            return Ok(prev);
        }
        if name.len() > 255 {
            return Err(Error::TooLarge {
                what: "extension name length",
                value: name.len() as u64,
                limit: 255,
            });
        }
        if img.arch() != self.arch {
            return Err(Error::ImageArch {
                found: img.arch(),
                expected: self.arch,
            });
        }
        for (name, linked) in img.imports() {
            let found = self.exports.lookup(name);
            if found != Some(linked) {
                return Err(Error::ImageImport {
                    name: Name::new(name),
                    linked,
                    found,
                });
            }
        }
        let host_text = (image.as_ptr() as u64).wrapping_add(img.text_offset());
        let at = self.mem.in_place_addr(host_text);
        if at != img.text_addr() {
            return Err(Error::ImageMisplaced {
                at,
                text: img.text_addr(),
                image: img.image_addr(),
            });
        }
        let data = img.data();
        let bss_off = img.bss_addr() - img.data_addr();
        let layout = BlockLayout {
            offsets: [0, 0, 0, bss_off],
            sizes: [0, 0, data.len() as u64, img.bss_len()],
            size: bss_off + img.bss_len(),
            align: img.data_align(),
        };
        let mut exports: Vec<(u32, &[u8], u64)> = img
            .exports()
            .map(|(n, a)| (record::name_hash(n), n, a))
            .collect();
        exports.sort_by_key(|e| e.0);
        self.mem.owner(name);
        let block = if layout.size > 0 {
            Some(self.mem.claim_block(img.data_addr(), &layout)?)
        } else {
            None
        };
        let free_block = |mem: &mut M| {
            if let Some(b) = block {
                // SAFETY: just claimed with this layout; nothing refers to it yet.
                unsafe { mem.free_block(b, &layout) };
            }
        };
        if let Some(b) = block {
            // SAFETY: the memory handed out `layout.size` writable bytes at `b.ptr`, owned
            // by this load; the image is read-only input that shares no byte with them
            // (the image checked that TEXT and DATA+BSS do not overlap, and the claim that
            // nothing else holds the range).
            unsafe {
                let dst = b.ptr.as_ptr();
                core::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len());
                core::ptr::write_bytes(
                    dst.add(data.len()),
                    0,
                    (layout.size - data.len() as u64) as usize,
                );
            }
            if let Err(e) = self.mem.seal(&b, &layout) {
                free_block(&mut self.mem);
                return Err(e);
            }
        }
        let new = NewRecord {
            name: name.as_bytes(),
            storage: Storage::Temporary,
            source: 0,
            source_len: 0,
            block_addr: block.map_or(0, |b| b.addr),
            offsets: layout.offsets,
            sizes: layout.sizes,
            block_size: layout.size,
            block_align: layout.align,
            tables: img.table_lengths(),
            tls: (0, 0),
            deps: &[],
            exports: &exports,
        };
        let rec = match Rec::create(&mut self.mem, &new) {
            Ok(r) => r,
            Err(e) => {
                free_block(&mut self.mem);
                return Err(e);
            }
        };
        self.append(rec)?;
        Ok(0)
    }
}
