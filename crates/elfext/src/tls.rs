//! Thread-local storage: the area of each thread's TLS block that the host reserves for
//! extensions, and how it is shared out among them.
//!
//! Extensions use the local-exec model only (compile them with `-ftls-model=local-exec`):
//! code reaches a variable as the thread pointer plus a constant, which the linker writes
//! into the instruction. The host reserves, in every thread's TLS block, an area at the
//! same offset from the thread pointer (a `__thread` / `thread_local!` array of its own is
//! the usual way) and describes it with a [`TlsArea`]. Each extension with `.tdata` or
//! `.tbss` gets its own range of that area for as long as it is loaded.
//!
//! The offset is the only architecture knob: the value a relocation receives for a
//! variable is `tp_offset + range offset + offset in the extension's sections`, so that
//! thread pointer + value is the variable's address. (x86-64 puts the TLS block below the
//! thread pointer, so its offsets are negative; AArch64 and 32-bit ARM put it above the
//! TCB, RISC-V right at the thread pointer.)
//!
//! Limits: only the copy of the area at [`TlsArea::init`] (usually the loading thread's)
//! receives the extension's initial values (`.tdata` copied, `.tbss` zeroed) at load; every
//! other thread, including threads started later, sees whatever its own copy of the area
//! holds (zeros for a host `thread_local!` array initialized with zeros). TLS variables are
//! not exported to other extensions.

/// The part of every thread's TLS block reserved for extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsArea {
    /// Offset of the area's first byte from the thread pointer (negative below it). The
    /// area's address must be aligned to the largest alignment of any extension's TLS.
    pub tp_offset: i64,
    /// Size of the area in bytes.
    pub size: u64,
    /// Host address of one thread's copy of the area, where each extension's initial
    /// values are written at load; `None` to write nothing (the host initializes).
    pub init: Option<usize>,
}

/// First fit: the offset in an area of `size` bytes where `len` bytes aligned to `align`
/// (relative to the area's start) fit between the ranges `used` (offset, length), or the
/// bytes left free in total.
pub(crate) fn first_fit(
    size: u64,
    used: &mut [(u64, u64)],
    len: u64,
    align: u64,
) -> Result<u64, u64> {
    used.sort_unstable();
    let mut cursor = 0u64;
    let fits =
        |at: Option<u64>, end: u64| at.filter(|a| a.checked_add(len).is_some_and(|e| e <= end));
    for &(start, l) in used.iter() {
        if let Some(at) = fits(cursor.checked_next_multiple_of(align), start) {
            return Ok(at);
        }
        cursor = cursor.max(start.saturating_add(l));
    }
    if let Some(at) = fits(cursor.checked_next_multiple_of(align), size) {
        return Ok(at);
    }
    Err(size.saturating_sub(used.iter().map(|u| u.1).sum()))
}

#[cfg(test)]
mod tests {
    use super::first_fit;

    #[test]
    fn first_fit_fills_gaps_in_order_and_reports_free_bytes() {
        assert_eq!(first_fit(64, &mut [], 16, 8), Ok(0));
        assert_eq!(first_fit(64, &mut [(0, 4)], 8, 8), Ok(8));
        assert_eq!(first_fit(64, &mut [(32, 8), (0, 16)], 16, 16), Ok(16));
        assert_eq!(first_fit(64, &mut [(0, 16), (16, 16)], 32, 1), Ok(32));
        assert_eq!(first_fit(64, &mut [(0, 16), (32, 16)], 24, 1), Err(32));
        assert_eq!(first_fit(16, &mut [], 17, 1), Err(16));
    }
}
