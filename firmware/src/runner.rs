//! `run`: call one function of an extension streamed from a host file, for
//! `elfext run --target`.
//!
//! The request is the semihosting command line, one token per argument:
//!
//! ```text
//! run <object path, hex> <symbol> [w<word, hex> | s<string bytes, hex>]...
//! ```
//!
//! Paths and strings travel hex-encoded: the semihosting command line is split at blanks and
//! QEMU's option syntax gives commas a meaning. The host has already laid the arguments out
//! in argument registers (r0-r3 on Cortex-M, a0-a7 on RV32; the host refuses calls that need
//! the stack); a string becomes a pointer to a NUL-terminated copy in [`STRINGS`].
//!
//! The object is loaded as a temporary extension named after its file, against the
//! firmware's exports plus the compiler's run-time helpers (soft-float and 64-bit division,
//! [`RUNTIME`]). The firmware calls the function with the argument words, prints the 64-bit
//! result register pair (r0:r1 / a0:a1) as `elfext-run: ret=0x<16 hex digits>`, unloads the
//! extension and exits with status 0. A refused request exits with status 1, a load or link
//! error or a missing symbol with status 2 (after `elfext-run: error: <the library's error>`),
//! and a fault goes to the board's fault handler (status 3).

use elfext::{ExportTable, ExtHeap, IoLoader, Registry};
use semihosting::println;

use crate::board;
use crate::exports::FIRMWARE;
use crate::semifile::HostFile;

/// Bytes of the semihosting command line read (the host keeps its requests shorter).
const CMDLINE_BYTES: usize = 4096;
/// Argument registers the call passes.
const WORDS: usize = 8;
/// Room for the string arguments, NUL-terminated.
const STRING_BYTES: usize = 2048;

/// The string arguments the called function receives pointers to.
static mut STRINGS: [u8; STRING_BYTES] = [0; STRING_BYTES];

/// The signature every call is made through: the host placed each argument in the register
/// the C ABI gives it, so passing all argument registers passes any signature that fits
/// them, and the 64-bit return covers every return type (the soft-float ABIs return floats
/// in the integer registers).
type Call = extern "C" fn(u32, u32, u32, u32, u32, u32, u32, u32) -> u64;

/// What extensions may link against in `run`: the firmware's exports, then the run-time
/// helpers compiled C calls for operations the CPU lacks.
static RUN_EXPORTS: (&ExportTable, &ExportTable) = (&FIRMWARE, &RUNTIME);

#[cfg(target_arch = "arm")]
mod runtime {
    //! The ARM EABI run-time helpers (soft-float `double`/`float` and 64-bit division), from
    //! the Rust runtime (compiler-builtins).
    extern "C" {
        // Only their addresses are taken; the real signatures vary.
        fn __aeabi_dadd();
        fn __aeabi_dsub();
        fn __aeabi_drsub();
        fn __aeabi_dmul();
        fn __aeabi_ddiv();
        fn __aeabi_dcmpeq();
        fn __aeabi_dcmplt();
        fn __aeabi_dcmple();
        fn __aeabi_dcmpge();
        fn __aeabi_dcmpgt();
        fn __aeabi_dcmpun();
        fn __aeabi_d2iz();
        fn __aeabi_d2uiz();
        fn __aeabi_d2lz();
        fn __aeabi_d2ulz();
        fn __aeabi_i2d();
        fn __aeabi_ui2d();
        fn __aeabi_l2d();
        fn __aeabi_ul2d();
        fn __aeabi_f2d();
        fn __aeabi_d2f();
        fn __aeabi_fadd();
        fn __aeabi_fsub();
        fn __aeabi_frsub();
        fn __aeabi_fmul();
        fn __aeabi_fdiv();
        fn __aeabi_fcmpeq();
        fn __aeabi_fcmplt();
        fn __aeabi_fcmple();
        fn __aeabi_fcmpge();
        fn __aeabi_fcmpgt();
        fn __aeabi_fcmpun();
        fn __aeabi_f2iz();
        fn __aeabi_f2uiz();
        fn __aeabi_f2lz();
        fn __aeabi_f2ulz();
        fn __aeabi_i2f();
        fn __aeabi_ui2f();
        fn __aeabi_l2f();
        fn __aeabi_ul2f();
        fn __aeabi_ldivmod();
        fn __aeabi_uldivmod();
        fn __aeabi_llsl();
        fn __aeabi_llsr();
        fn __aeabi_lasr();
    }

    elfext::exports! {
        /// The ARM EABI helpers extensions may link against.
        pub static RUNTIME = [
            fn __aeabi_dadd, fn __aeabi_dsub, fn __aeabi_drsub, fn __aeabi_dmul, fn __aeabi_ddiv,
            fn __aeabi_dcmpeq, fn __aeabi_dcmplt, fn __aeabi_dcmple, fn __aeabi_dcmpge,
            fn __aeabi_dcmpgt, fn __aeabi_dcmpun,
            fn __aeabi_d2iz, fn __aeabi_d2uiz, fn __aeabi_d2lz, fn __aeabi_d2ulz,
            fn __aeabi_i2d, fn __aeabi_ui2d, fn __aeabi_l2d, fn __aeabi_ul2d,
            fn __aeabi_f2d, fn __aeabi_d2f,
            fn __aeabi_fadd, fn __aeabi_fsub, fn __aeabi_frsub, fn __aeabi_fmul, fn __aeabi_fdiv,
            fn __aeabi_fcmpeq, fn __aeabi_fcmplt, fn __aeabi_fcmple, fn __aeabi_fcmpge,
            fn __aeabi_fcmpgt, fn __aeabi_fcmpun,
            fn __aeabi_f2iz, fn __aeabi_f2uiz, fn __aeabi_f2lz, fn __aeabi_f2ulz,
            fn __aeabi_i2f, fn __aeabi_ui2f, fn __aeabi_l2f, fn __aeabi_ul2f,
            fn __aeabi_ldivmod, fn __aeabi_uldivmod,
            fn __aeabi_llsl, fn __aeabi_llsr, fn __aeabi_lasr,
        ];
    }
}

#[cfg(target_arch = "riscv32")]
mod runtime {
    //! The libgcc-style run-time helpers of RV32 ilp32 (soft-float `double`/`float` and
    //! 64-bit division), from the Rust runtime (compiler-builtins).
    extern "C" {
        // Only their addresses are taken; the real signatures vary.
        fn __adddf3();
        fn __subdf3();
        fn __muldf3();
        fn __divdf3();
        fn __eqdf2();
        fn __nedf2();
        fn __ltdf2();
        fn __ledf2();
        fn __gedf2();
        fn __gtdf2();
        fn __unorddf2();
        fn __fixdfsi();
        fn __fixunsdfsi();
        fn __fixdfdi();
        fn __fixunsdfdi();
        fn __floatsidf();
        fn __floatunsidf();
        fn __floatdidf();
        fn __floatundidf();
        fn __extendsfdf2();
        fn __truncdfsf2();
        fn __addsf3();
        fn __subsf3();
        fn __mulsf3();
        fn __divsf3();
        fn __eqsf2();
        fn __nesf2();
        fn __ltsf2();
        fn __lesf2();
        fn __gesf2();
        fn __gtsf2();
        fn __unordsf2();
        fn __fixsfsi();
        fn __fixunssfsi();
        fn __fixsfdi();
        fn __fixunssfdi();
        fn __floatsisf();
        fn __floatunsisf();
        fn __floatdisf();
        fn __floatundisf();
        fn __divdi3();
        fn __udivdi3();
        fn __moddi3();
        fn __umoddi3();
        fn __ashldi3();
        fn __lshrdi3();
        fn __ashrdi3();
    }

    elfext::exports! {
        /// The RV32 run-time helpers extensions may link against.
        pub static RUNTIME = [
            fn __adddf3, fn __subdf3, fn __muldf3, fn __divdf3,
            fn __eqdf2, fn __nedf2, fn __ltdf2, fn __ledf2, fn __gedf2, fn __gtdf2, fn __unorddf2,
            fn __fixdfsi, fn __fixunsdfsi, fn __fixdfdi, fn __fixunsdfdi,
            fn __floatsidf, fn __floatunsidf, fn __floatdidf, fn __floatundidf,
            fn __extendsfdf2, fn __truncdfsf2,
            fn __addsf3, fn __subsf3, fn __mulsf3, fn __divsf3,
            fn __eqsf2, fn __nesf2, fn __ltsf2, fn __lesf2, fn __gesf2, fn __gtsf2, fn __unordsf2,
            fn __fixsfsi, fn __fixunssfsi, fn __fixsfdi, fn __fixunssfdi,
            fn __floatsisf, fn __floatunsisf, fn __floatdisf, fn __floatundisf,
            fn __divdi3, fn __udivdi3, fn __moddi3, fn __umoddi3,
            fn __ashldi3, fn __lshrdi3, fn __ashrdi3,
        ];
    }
}

use runtime::RUNTIME;

/// Exit status of a request the firmware cannot read.
const BAD_REQUEST: i32 = 1;
/// Exit status of a load or link error or a missing symbol.
const LOAD_FAILED: i32 = 2;

fn refuse(why: &str) -> ! {
    println!("elfext-run: bad request: {why}");
    semihosting::process::exit(BAD_REQUEST)
}

/// Decode hex digits into `out`; the number of bytes, or `None` for bad digits or no room.
fn unhex(text: &str, out: &mut [u8]) -> Option<usize> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) || digits.len() / 2 > out.len() {
        return None;
    }
    for (pair, byte) in digits.chunks(2).zip(out.iter_mut()) {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        *byte = (hi * 16 + lo) as u8;
    }
    Some(digits.len() / 2)
}

/// Run the request on the command line with `heap` as the extension heap; never returns.
pub fn run(heap: ExtHeap<'static>) -> ! {
    let Ok(args) = semihosting::experimental::env::args::<CMDLINE_BYTES>() else {
        refuse("cannot read the command line");
    };
    let mut args = (&args).skip(2);
    let mut next = |what: &str| match args.next() {
        Some(Ok(a)) => a,
        Some(Err(_)) => refuse("the command line is not UTF-8"),
        None => refuse(what),
    };

    let mut path = [0u8; 512];
    let path = match unhex(next("no object path"), &mut path) {
        Some(n) => core::str::from_utf8(&path[..n]).unwrap_or_else(|_| refuse("bad path")),
        None => refuse("the object path is not hex (or longer than 512 bytes)"),
    };
    let symbol = next("no symbol");

    // SAFETY: the only reference ever made to STRINGS; this function never returns.
    let strings = unsafe { &mut *core::ptr::addr_of_mut!(STRINGS) };
    let mut used = 0;
    let mut words = [0u32; WORDS];
    for (count, token) in args.enumerate() {
        let Ok(token) = token else {
            refuse("the command line is not UTF-8")
        };
        if count == WORDS {
            refuse("more than 8 argument words");
        }
        words[count] = if let Some(hex) = token.strip_prefix('w') {
            u32::from_str_radix(hex, 16).unwrap_or_else(|_| refuse("bad argument word"))
        } else if let Some(hex) = token.strip_prefix('s') {
            // Leave room for the NUL (the buffer starts zeroed and each string is written
            // once).
            let room = &mut strings[used..(STRING_BYTES - 1).max(used)];
            let n = unhex(hex, room).unwrap_or_else(|| refuse("bad or too long string"));
            let at = room.as_ptr() as u32;
            used += n + 1;
            at
        } else {
            refuse("an argument is neither w<hex> nor s<hex>")
        };
    }

    let name = path
        .rsplit('/')
        .next()
        .and_then(|file| file.split('.').next())
        .filter(|n| !n.is_empty())
        .unwrap_or("extension");
    let reg: Registry<'static, ExtHeap<'static>> = Registry::new(heap, &RUN_EXPORTS);
    let loaded = HostFile::open(path)
        .map_err(|_| alloc::format!("cannot open {path} over semihosting"))
        .and_then(|(file, len)| {
            reg.load(name, IoLoader::new(file, len))
                .map_err(|e| alloc::format!("{e}"))
        });
    if let Err(e) = loaded {
        println!("elfext-run: error: {e}");
        semihosting::process::exit(LOAD_FAILED);
    }
    let block = reg.with(name, |e| e.block()).unwrap_or((0, 0));
    board::WATCHED.set((block.0 as u32, (block.0 + block.1) as u32), (0, 0));

    // SAFETY: the host laid the words out for the function's C signature (see `Call`); the
    // pointer is used only while the extension is loaded.
    let f = match unsafe { reg.function::<Call>(name, symbol) } {
        Ok(f) => f,
        Err(e) => {
            println!("elfext-run: error: {e}");
            semihosting::process::exit(LOAD_FAILED);
        }
    };
    let [a, b, c, d, e, g, h, i] = words;
    let ret = f(a, b, c, d, e, g, h, i);
    println!("elfext-run: ret={ret:#018x}");
    if let Err(e) = reg.unload(name) {
        println!("elfext-run: error: unloading {name}: {e}");
        semihosting::process::exit(LOAD_FAILED);
    }
    semihosting::process::exit(0)
}
