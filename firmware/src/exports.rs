//! What the firmware exports to extensions: printing, a record log, a counter, callbacks
//! and the C memory and string functions.

use core::ffi::{c_char, c_int, CStr};
use core::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

use elfext::exports;

extern "C" {
    // The C functions come from the Rust runtime (compiler-builtins): the firmware links
    // them anyway, extensions share them.
    fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
    fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8;
    fn memset(dst: *mut u8, c: c_int, n: usize) -> *mut u8;
    fn memcmp(a: *const u8, b: *const u8, n: usize) -> c_int;
    fn strlen(s: *const c_char) -> usize;
}

/// A counter extensions read and write directly.
#[no_mangle]
pub static host_counter: AtomicI32 = AtomicI32::new(0);

/// Print a C string from an extension on the console; returns its length.
pub extern "C" fn host_print(msg: *const c_char) -> c_int {
    if msg.is_null() {
        return -1;
    }
    // SAFETY: extensions pass NUL-terminated strings (their own literals).
    let text = unsafe { CStr::from_ptr(msg) };
    semihosting::println!("  ext says: {}", text.to_str().unwrap_or("<not UTF-8>"));
    text.count_bytes() as c_int
}

/// Codes `host_record` received, in order (for the init/fini order check).
static RECORDS: [AtomicI32; 16] = [const { AtomicI32::new(0) }; 16];
static RECORDED: AtomicUsize = AtomicUsize::new(0);

/// Note a code (constructors and destructors report through it).
///
/// At a fixed address, the start of the `IMAGE_FLASH` region (see `build.rs`): the
/// prelinked `init_fini` image was linked against it there before the firmware was built.
#[link_section = ".ext_image.imports"]
pub extern "C" fn host_record(code: c_int) {
    let i = RECORDED.fetch_add(1, Ordering::Relaxed);
    if let Some(slot) = RECORDS.get(i) {
        slot.store(code, Ordering::Relaxed);
    }
}

/// Take the codes recorded since the last call.
pub fn take_records() -> alloc::vec::Vec<i32> {
    let n = RECORDED.swap(0, Ordering::Relaxed).min(RECORDS.len());
    RECORDS[..n]
        .iter()
        .map(|r| r.load(Ordering::Relaxed))
        .collect()
}

/// `a + b`.
pub extern "C" fn host_add(a: c_int, b: c_int) -> c_int {
    a.wrapping_add(b)
}

/// Call `f(x)`: a callback into an extension.
pub extern "C" fn host_apply(f: Option<extern "C" fn(c_int) -> c_int>, x: c_int) -> c_int {
    match f {
        Some(f) => f(x),
        None => -1,
    }
}

exports! {
    /// Every symbol extensions may link against.
    pub static FIRMWARE = [
        fn host_print,
        fn host_record,
        fn host_add,
        fn host_apply,
        static host_counter,
        fn memcpy,
        fn memmove,
        fn memset,
        fn memcmp,
        fn strlen,
    ];
}
