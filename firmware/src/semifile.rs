//! A host file read through semihosting, as an `embedded-io` stream for `IoLoader`.

use semihosting::fs::File;
use semihosting::io::{Read as _, Seek as _, SeekFrom};

/// A read-only host file. Semihosting seeks only to absolute offsets, so the position is
/// tracked here.
pub struct HostFile {
    file: File,
    pos: u64,
    len: u64,
}

/// A semihosting I/O error.
#[derive(Debug)]
pub struct HostFileError;

impl core::fmt::Display for HostFileError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("semihosting file I/O failed")
    }
}

impl core::error::Error for HostFileError {}

impl embedded_io::Error for HostFileError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::Other
    }
}

impl HostFile {
    /// Open `path` on the host; returns the file and its length.
    pub fn open(path: &str) -> Result<(Self, u64), HostFileError> {
        let mut name = alloc::vec::Vec::with_capacity(path.len() + 1);
        name.extend_from_slice(path.as_bytes());
        name.push(0);
        let name = core::ffi::CStr::from_bytes_with_nul(&name).map_err(|_| HostFileError)?;
        let file = File::open(name).map_err(|_| HostFileError)?;
        let len = file.metadata().map_err(|_| HostFileError)?.len();
        Ok((HostFile { file, pos: 0, len }, len))
    }
}

impl embedded_io::ErrorType for HostFile {
    type Error = HostFileError;
}

impl embedded_io::Read for HostFile {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, HostFileError> {
        let n = self.file.read(buf).map_err(|_| HostFileError)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl embedded_io::Seek for HostFile {
    fn seek(&mut self, pos: embedded_io::SeekFrom) -> Result<u64, HostFileError> {
        let to = match pos {
            embedded_io::SeekFrom::Start(n) => Some(n),
            embedded_io::SeekFrom::End(n) => self.len.checked_add_signed(n),
            embedded_io::SeekFrom::Current(n) => self.pos.checked_add_signed(n),
        }
        .ok_or(HostFileError)?;
        self.pos = self
            .file
            .seek(SeekFrom::Start(to))
            .map_err(|_| HostFileError)?;
        Ok(self.pos)
    }
}
