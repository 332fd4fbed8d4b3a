//! A `no_std` extension written in Rust: C-ABI functions the host calls, which call back
//! into the host and do some real computation (Fibonacci, a sieve of Eratosthenes, a
//! CRC-32 over host memory, sorting in place) with no panicking paths, so the object
//! needs nothing from `core` at link time.
#![no_std]

extern "C" {
    fn host_print(msg: *const u8) -> i32;
    fn host_record(code: i32);
}

/// Prints a greeting through the host; returns what the host returned.
#[no_mangle]
pub extern "C" fn rust_hello() -> i32 {
    // SAFETY: a NUL-terminated static string; the host only reads it.
    unsafe { host_print(b"hello from rust\0".as_ptr()) }
}

/// The `n`-th Fibonacci number modulo 2^64.
#[no_mangle]
pub extern "C" fn rust_fib(n: u32) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        let next = a.wrapping_add(b);
        a = b;
        b = next;
    }
    a
}

/// How many primes are below `limit` (limit at most 4096), reporting each one to the host
/// when `report` is non-zero.
#[no_mangle]
pub extern "C" fn rust_count_primes(limit: u32, report: i32) -> u32 {
    let mut composite = [false; 4096];
    let limit = (limit as usize).min(composite.len());
    let mut count = 0;
    let mut i = 2;
    while i < limit {
        if !composite[i] {
            count += 1;
            if report != 0 {
                // SAFETY: the host's function takes any code.
                unsafe { host_record(i as i32) };
            }
            let mut j = i * i;
            while j < limit {
                composite[j] = true;
                j += i;
            }
        }
        i += 1;
    }
    count
}

/// The CRC-32 table, built on first use (a writable static: .bss or .data).
static mut CRC_TABLE: [u32; 256] = [0; 256];
static mut CRC_READY: bool = false;

/// CRC-32 (IEEE) of `len` bytes at `data`.
///
/// # Safety
/// `data` must be readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn rust_crc32(data: *const u8, len: usize) -> u32 {
    // SAFETY: the extension is single-threaded by contract; the table is only touched here.
    let table = unsafe { &mut *core::ptr::addr_of_mut!(CRC_TABLE) };
    // SAFETY: as above.
    unsafe {
        if !CRC_READY {
            for (n, entry) in table.iter_mut().enumerate() {
                let mut c = n as u32;
                for _ in 0..8 {
                    c = if c & 1 != 0 { 0xedb8_8320 ^ (c >> 1) } else { c >> 1 };
                }
                *entry = c;
            }
            CRC_READY = true;
        }
    }
    // SAFETY: the caller vouches for `data..data+len`.
    let bytes = unsafe { core::slice::from_raw_parts(data, len) };
    let mut crc = !0u32;
    for &b in bytes {
        crc = table[((crc ^ u32::from(b)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Sort `len` integers at `data` in place (insertion sort); returns how many moves it made.
///
/// # Safety
/// `data` must be valid for reads and writes of `len` integers.
#[no_mangle]
pub unsafe extern "C" fn rust_sort(data: *mut i32, len: usize) -> u32 {
    // SAFETY: the caller vouches for the slice.
    let v = unsafe { core::slice::from_raw_parts_mut(data, len) };
    let mut moves = 0;
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && v[j - 1] > v[j] {
            v.swap(j - 1, j);
            moves += 1;
            j -= 1;
        }
    }
    moves
}

/// Exported data the host can read: a version number.
#[no_mangle]
pub static RUST_EXT_VERSION: u32 = 3;
