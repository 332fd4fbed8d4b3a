//! Loaders: where the bytes of an object come from, and how long they stay.
//!
//! The storage type is a property of the loader, not a parameter of the load:
//!
//! | loader | storage | what elfext does |
//! |---|---|---|
//! | [`BufLoader::temporary`], [`IoLoader`], `FileLoader` | [`Storage::Temporary`] | copies every section it needs into the extension heap |
//! | [`BufLoader::persistent`] | [`Storage::Persistent`] | uses read-only sections without relocations in place |
//! | [`BufLoader::writable`] | [`Storage::Writable`] | relocates the buffer itself and runs from it |
//!
//! A persistent or writable buffer is borrowed by the [`Registry`](crate::Registry) for the
//! registry's lifetime `'buf`, so it cannot be dropped or changed while an extension may map
//! it:
//!
//! ```compile_fail
//! use elfext::{BufLoader, ExtHeap, Granules, NoExports, Registry};
//! let mut arena = [core::mem::MaybeUninit::<u8>::uninit(); 4096];
//! let registry = Registry::new(ExtHeap::new(&mut arena, Granules::NONE), &NoExports);
//! let object = std::vec![0u8; 64];
//! let _ = registry.load("ext", BufLoader::persistent(&object));
//! drop(object); // error[E0505]: cannot move out of `object` because it is borrowed
//! registry.len();
//! ```
//!
//! The same holds for a writable buffer, which cannot even be read while the registry
//! lives:
//!
//! ```compile_fail
//! use elfext::{BufLoader, ExtHeap, Granules, NoExports, Registry};
//! let mut arena = [core::mem::MaybeUninit::<u8>::uninit(); 4096];
//! let registry = Registry::new(ExtHeap::new(&mut arena, Granules::NONE), &NoExports);
//! let mut object = std::vec![0u8; 64];
//! let _ = registry.load("ext", BufLoader::writable(&mut object));
//! object[0] = 1; // error[E0503]: cannot use `object` because it was mutably borrowed
//! registry.len();
//! ```
//!
//! A temporary buffer is not borrowed beyond the load:
//!
//! ```
//! use elfext::{BufLoader, ExtHeap, Granules, NoExports, Registry};
//! let mut arena = [core::mem::MaybeUninit::<u8>::uninit(); 4096];
//! let registry = Registry::new(ExtHeap::new(&mut arena, Granules::NONE), &NoExports);
//! let object = std::vec![0u8; 64];
//! assert!(registry.load("ext", BufLoader::temporary(&object)).is_err()); // not an ELF file
//! drop(object);
//! assert_eq!(registry.len(), 0);
//! ```
//!
//! A writable buffer after unload (or after a load that failed while relocating) is *dirty*:
//! its sections hold relocated values, so load it again only from a fresh copy of the object.

#[cfg(feature = "std")]
mod file;
#[cfg(feature = "std")]
pub use file::FileLoader;

use crate::error::{Error, Result};

/// How long the bytes behind a loader live, and whether elfext may write to them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Storage {
    /// Bytes are gone after the load returns: everything needed is copied.
    Temporary,
    /// Bytes stay, read-only, for as long as the extension is loaded (flash, a `static`).
    Persistent,
    /// Bytes stay and may be modified: the object is relocated and used where it is.
    Writable,
}

/// The buffer behind a persistent or writable loader, borrowed for `'buf`.
#[derive(Debug)]
pub enum InPlace<'buf> {
    /// A read-only buffer.
    Persistent(&'buf [u8]),
    /// A buffer elfext relocates in place.
    Writable(&'buf mut [u8]),
}

/// A source of object bytes.
///
/// Implement [`len`](Loader::len) and [`read_at`](Loader::read_at) for any storage; a custom
/// loader is [`Storage::Temporary`] unless it overrides [`storage`](Loader::storage) and
/// [`in_place`](Loader::in_place).
pub trait Loader<'buf> {
    /// The storage type of the bytes.
    fn storage(&self) -> Storage {
        Storage::Temporary
    }
    /// Length of the object in bytes.
    fn len(&self) -> u64;
    /// Whether the object is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Copy `buf.len()` bytes starting at `offset`.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()>;
    /// Borrow `len` bytes at `offset` without copying, when the loader can.
    fn peek(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let _ = (offset, len);
        None
    }
    /// Hand over the buffer of a persistent or writable loader (called once per load).
    fn in_place(&mut self) -> Option<InPlace<'buf>> {
        None
    }
}

enum Bytes<'buf, 't> {
    Temporary(&'t [u8]),
    Persistent(&'buf [u8]),
    Writable(Option<&'buf mut [u8]>, u64),
}

/// A loader over a byte buffer, with its storage type chosen by the constructor.
///
/// `'buf` is how long an extension may map the bytes; `'t` is how long a temporary buffer
/// lives (it need not outlive the registry).
pub struct BufLoader<'buf, 't> {
    bytes: Bytes<'buf, 't>,
}

impl<'buf, 't> BufLoader<'buf, 't> {
    /// Bytes that may disappear after the load: everything is copied.
    pub fn temporary(bytes: &'t [u8]) -> Self {
        BufLoader {
            bytes: Bytes::Temporary(bytes),
        }
    }
}

impl<'buf> BufLoader<'buf, 'buf> {
    /// Read-only bytes that outlive the registry: sections that never change run in place.
    ///
    /// A section is used in place only if its bytes are aligned as the section requires:
    /// align the buffer to the object's largest section alignment (compilers align arrays
    /// to 32 or 64 bytes), or those sections are copied.
    pub fn persistent(bytes: &'buf [u8]) -> Self {
        BufLoader {
            bytes: Bytes::Persistent(bytes),
        }
    }
    /// Bytes that outlive the registry and may be relocated in place: nothing is copied.
    ///
    /// As for [`persistent`](Self::persistent), align the buffer to the object's largest
    /// section alignment, or misaligned sections are copied.
    ///
    /// The buffer is dirty afterwards: it holds relocated sections, not the original object.
    pub fn writable(bytes: &'buf mut [u8]) -> Self {
        let len = bytes.len() as u64;
        BufLoader {
            bytes: Bytes::Writable(Some(bytes), len),
        }
    }
}

impl<'buf> Loader<'buf> for BufLoader<'buf, '_> {
    fn storage(&self) -> Storage {
        match self.bytes {
            Bytes::Temporary(_) => Storage::Temporary,
            Bytes::Persistent(_) => Storage::Persistent,
            Bytes::Writable(..) => Storage::Writable,
        }
    }
    fn len(&self) -> u64 {
        match &self.bytes {
            Bytes::Writable(_, len) => *len,
            _ => self.slice_any().len() as u64,
        }
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let total = self.len();
        let src = self.peek(offset, buf.len() as u64).ok_or(Error::Read {
            offset,
            len: buf.len() as u64,
            len_total: total,
        })?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn peek(&self, offset: u64, len: u64) -> Option<&[u8]> {
        let bytes = self.slice_any();
        let start = usize::try_from(offset).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        bytes.get(start..end)
    }
    fn in_place(&mut self) -> Option<InPlace<'buf>> {
        match &mut self.bytes {
            Bytes::Temporary(_) => None,
            Bytes::Persistent(b) => Some(InPlace::Persistent(b)),
            Bytes::Writable(b, _) => b.take().map(InPlace::Writable),
        }
    }
}

impl BufLoader<'_, '_> {
    fn slice_any(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Temporary(b) => b,
            Bytes::Persistent(b) => b,
            Bytes::Writable(Some(b), _) => b,
            Bytes::Writable(None, _) => &[],
        }
    }
}

/// Check that `len` bytes at `offset` lie inside an object of `total` bytes.
pub(crate) fn check_read(offset: u64, len: usize, total: u64) -> Result<()> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= total => Ok(()),
        _ => Err(Error::Read {
            offset,
            len: len as u64,
            len_total: total,
        }),
    }
}

/// A temporary loader over any [`embedded_io::Read`] + [`embedded_io::Seek`] stream
/// (a UART with a protocol, a file system, a network stream).
pub struct IoLoader<R> {
    io: R,
    len: u64,
}

impl<R: embedded_io::Read + embedded_io::Seek> IoLoader<R> {
    /// Wrap a stream whose total length is `len` bytes.
    pub fn new(io: R, len: u64) -> Self {
        IoLoader { io, len }
    }
    /// Wrap a stream and find its length by seeking to its end.
    pub fn from_stream(mut io: R) -> Result<Self> {
        let len = io
            .seek(embedded_io::SeekFrom::End(0))
            .map_err(|_| Error::Io { offset: 0 })?;
        Ok(IoLoader { io, len })
    }
    /// Give the stream back.
    pub fn into_inner(self) -> R {
        self.io
    }
}

impl<R: embedded_io::Read + embedded_io::Seek> Loader<'_> for IoLoader<R> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        check_read(offset, buf.len(), self.len)?;
        self.io
            .seek(embedded_io::SeekFrom::Start(offset))
            .map_err(|_| Error::Io { offset })?;
        self.io.read_exact(buf).map_err(|_| Error::Io { offset })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buf_loader_storage_and_reads() {
        let bytes = [1u8, 2, 3, 4];
        let mut t = BufLoader::temporary(&bytes);
        assert_eq!(Loader::<'static>::storage(&t), Storage::Temporary);
        assert!(Loader::<'static>::in_place(&mut t).is_none());
        let mut out = [0u8; 2];
        Loader::<'static>::read_at(&mut t, 2, &mut out).unwrap();
        assert_eq!(out, [3, 4]);
        assert!(Loader::<'static>::read_at(&mut t, 3, &mut out).is_err());
        assert_eq!(Loader::<'static>::peek(&t, u64::MAX, 2), None);

        let mut p = BufLoader::persistent(&bytes);
        assert_eq!(p.storage(), Storage::Persistent);
        assert!(matches!(p.in_place(), Some(InPlace::Persistent(b)) if b.len() == 4));

        let mut buf = [0u8; 3];
        let mut w = BufLoader::writable(&mut buf);
        assert_eq!(w.storage(), Storage::Writable);
        assert!(matches!(w.in_place(), Some(InPlace::Writable(b)) if b.len() == 3));
        assert!(
            w.in_place().is_none(),
            "a writable buffer is handed over once"
        );
        assert_eq!(w.len(), 3);
    }

    struct Slice<'a>(&'a [u8], u64);
    impl embedded_io::ErrorType for Slice<'_> {
        type Error = embedded_io::ErrorKind;
    }
    impl embedded_io::Read for Slice<'_> {
        fn read(&mut self, buf: &mut [u8]) -> core::result::Result<usize, Self::Error> {
            let rest = &self.0[self.1 as usize..];
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            self.1 += n as u64;
            Ok(n)
        }
    }
    impl embedded_io::Seek for Slice<'_> {
        fn seek(&mut self, pos: embedded_io::SeekFrom) -> core::result::Result<u64, Self::Error> {
            self.1 = match pos {
                embedded_io::SeekFrom::Start(p) => p,
                embedded_io::SeekFrom::End(d) => (self.0.len() as i64 + d) as u64,
                embedded_io::SeekFrom::Current(d) => (self.1 as i64 + d) as u64,
            };
            Ok(self.1)
        }
    }

    #[test]
    fn io_loader_reads_through_seek() {
        let bytes = [9u8, 8, 7, 6, 5];
        let mut l = IoLoader::from_stream(Slice(&bytes, 0)).unwrap();
        assert_eq!(Loader::<'static>::len(&l), 5);
        let mut out = [0u8; 3];
        Loader::<'static>::read_at(&mut l, 1, &mut out).unwrap();
        assert_eq!(out, [8, 7, 6]);
        assert!(matches!(
            Loader::<'static>::read_at(&mut l, 4, &mut out),
            Err(Error::Read { .. })
        ));
    }
}
