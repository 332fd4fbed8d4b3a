//! A temporary loader over a file on the host (read and seek only).

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::Loader;
use crate::error::{Error, Result};

/// A [`Storage::Temporary`](super::Storage::Temporary) loader that reads an object from a file.
pub struct FileLoader {
    file: File,
    len: u64,
}

impl FileLoader {
    /// Open `path` for reading.
    pub fn open(path: impl AsRef<Path>) -> std::io::Result<Self> {
        Self::new(File::open(path)?)
    }
    /// Wrap an open file.
    pub fn new(file: File) -> std::io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(FileLoader { file, len })
    }
}

impl Loader<'_> for FileLoader {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        super::check_read(offset, buf.len(), self.len)?;
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(|_| Error::Io { offset })?;
        self.file.read_exact(buf).map_err(|_| Error::Io { offset })
    }
}
