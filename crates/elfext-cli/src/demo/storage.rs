//! The three storage types, and the buffers persistent and writable loads borrow.

use elfext::{BufLoader, Storage};

use super::build::Example;
use crate::error::CliError;
use elfext::LowBuffer;

/// The storage types, in the order the demo shows them.
pub const STORAGES: [Storage; 3] = [Storage::Temporary, Storage::Persistent, Storage::Writable];

/// How the demo names a storage type.
pub fn label(storage: Storage) -> &'static str {
    match storage {
        Storage::Temporary => "temporary",
        Storage::Persistent => "persistent",
        Storage::Writable => "writable",
    }
}

/// Bytes that a persistent or writable loader may borrow for a registry's lifetime.
pub trait ObjectBuf {
    /// The bytes.
    fn bytes(&self) -> &[u8];
    /// The bytes, writable.
    fn bytes_mut(&mut self) -> &mut [u8];
}

/// A copy of an object in ordinary heap memory, starting on a 64-byte boundary.
///
/// A section is used in place only when its address is a multiple of its alignment, and
/// compilers align arrays of 32 bytes or more to 32; `Vec<u8>` alone only promises 1.
pub struct AlignedCopy {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

/// Alignment of an [`AlignedCopy`].
const COPY_ALIGN: usize = 64;

impl AlignedCopy {
    /// Copy `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        let mut storage = vec![0u8; bytes.len() + COPY_ALIGN - 1];
        // `align_offset` may give up (usize::MAX); then the copy is merely unaligned.
        let start = storage
            .as_ptr()
            .align_offset(COPY_ALIGN)
            .min(COPY_ALIGN - 1);
        storage[start..start + bytes.len()].copy_from_slice(bytes);
        AlignedCopy {
            storage,
            start,
            len: bytes.len(),
        }
    }
}

impl ObjectBuf for AlignedCopy {
    fn bytes(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + self.len]
    }
}

impl ObjectBuf for LowBuffer {
    fn bytes(&self) -> &[u8] {
        self.as_slice()
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

/// One low-memory copy of each example's object (fresh copies: a writable buffer is
/// relocated in place and cannot be loaded twice).
pub fn low_copies(examples: &[Example]) -> Result<Vec<LowBuffer>, CliError> {
    examples
        .iter()
        .map(|e| {
            LowBuffer::new(&e.object)
                .map_err(|err| CliError::io(format!("map a low buffer for {}.o", e.name), err))
        })
        .collect()
}

/// A loader for each example under `storage`. Temporary loaders read `examples`; persistent
/// and writable ones borrow `buffers` (one copy of each object, in the same order).
pub fn loaders<'b, B: ObjectBuf>(
    storage: Storage,
    examples: &'b [Example],
    buffers: &'b mut [B],
) -> Vec<BufLoader<'b, 'b>> {
    match storage {
        Storage::Temporary => examples
            .iter()
            .map(|e| BufLoader::temporary(&e.object))
            .collect(),
        Storage::Persistent => {
            let shared: &'b [B] = buffers;
            shared
                .iter()
                .map(|b| BufLoader::persistent(b.bytes()))
                .collect()
        }
        Storage::Writable => buffers
            .iter_mut()
            .map(|b| BufLoader::writable(b.bytes_mut()))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_copy_is_aligned_and_equal() {
        for len in [0, 1, 63, 64, 1000] {
            let object: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut copy = AlignedCopy::new(&object);
            assert_eq!(copy.bytes(), object.as_slice());
            assert_eq!(copy.bytes_mut().as_ptr() as usize % COPY_ALIGN, 0);
        }
    }
}
