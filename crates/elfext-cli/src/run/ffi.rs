//! Calling a native function whose signature is only known at run time, without libffi.
//!
//! Both supported C ABIs pass integer-class arguments (integers, pointers) and floating-point
//! arguments in two independent register files, in order: x86-64 System V uses 6 integer
//! registers (rdi, rsi, rdx, rcx, r8, r9) and 8 SSE registers (xmm0-xmm7); AArch64 AAPCS64
//! uses 8 general registers (x0-x7) and 8 SIMD registers (v0-v7). So every call is made
//! through one function pointer type with 6 `u64` and 8 `f64` parameters: each argument is
//! placed by its class, unused registers get zeros, and the callee reads only the ones it
//! declares. An `f32` travels as an `f64` whose low 32 bits are the float's bits (the callee
//! reads the low half of the register). Integer, pointer and void results come back in
//! rax / x0, read through a pointer type returning `u64`; float results in xmm0 / v0, read
//! through one returning `f64` (an `f32` result is the low 32 bits of its bits).
//!
//! Limits: at most 6 integer-class arguments (also on AArch64, to keep one rule) and 8
//! floating-point ones; no arguments on the stack, no structs by value. Variadic callees
//! (printf-style) work on x86-64, where the call goes through a C-variadic pointer so that
//! `al` holds the number of vector registers used, and on AArch64 Linux, where variadic
//! arguments are passed like named ones; their float arguments must be `f64` (C promotes
//! `float` to `double` in `...`). On Apple AArch64, variadic arguments go on the stack, so
//! variadic callees do not work there.

use crate::call::{Arg, Ty};
use crate::error::CliError;

/// Integer-class argument registers used.
pub const INT_REGS: usize = 6;
/// Floating-point argument registers used.
pub const FLOAT_REGS: usize = 8;

/// The argument registers of one call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Registers {
    /// Integer-class registers, in order.
    pub ints: [u64; INT_REGS],
    /// Floating-point registers, as raw bits, in order.
    pub floats: [u64; FLOAT_REGS],
}

/// What a call returned: both result registers (the caller keeps the one its type uses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Returned {
    /// The integer result register.
    pub int_bits: u64,
    /// The floating-point result register's bits.
    pub float_bits: u64,
}

/// Assign each argument to its register, by class, as the C ABI does. A `str` argument is
/// the address of the `CString` inside `args`, so `args` must outlive the call.
pub fn classify(args: &[Arg]) -> Result<Registers, CliError> {
    let mut regs = Registers::default();
    let (mut ni, mut nf) = (0, 0);
    let ints = args.iter().filter(|a| !is_float(a)).count();
    let floats = args.len() - ints;
    if ints > INT_REGS || floats > FLOAT_REGS {
        return Err(CliError::Usage(format!(
            "native calls take at most {INT_REGS} integer/pointer/str and {FLOAT_REGS} \
             float arguments; this one has {ints} and {floats}"
        )));
    }
    for a in args {
        match a {
            Arg::Int { bits, .. } | Arg::Ptr(bits) => {
                regs.ints[ni] = *bits;
                ni += 1;
            }
            Arg::Str(s) => {
                regs.ints[ni] = s.as_ptr() as u64;
                ni += 1;
            }
            Arg::F32(x) => {
                regs.floats[nf] = u64::from(x.to_bits());
                nf += 1;
            }
            Arg::F64(x) => {
                regs.floats[nf] = x.to_bits();
                nf += 1;
            }
        }
    }
    Ok(regs)
}

fn is_float(a: &Arg) -> bool {
    matches!(a, Arg::F32(_) | Arg::F64(_))
}

// x86-64: a C-variadic pointer. The fixed first parameter and the variadic rest land in the
// same registers as named parameters, and the caller sets `al` for printf-style callees.
#[cfg(all(unix, target_arch = "x86_64"))]
type NativeFn<R> = unsafe extern "C" fn(u64, ...) -> R;

// AArch64: 6 integer and 8 floating-point named parameters (variadic arguments would go on
// the stack on Apple targets).
#[cfg(all(unix, target_arch = "aarch64"))]
type NativeFn<R> =
    unsafe extern "C" fn(u64, u64, u64, u64, u64, u64, f64, f64, f64, f64, f64, f64, f64, f64) -> R;

/// Call the native function at `addr` with `regs`, reading the result register of `ret`.
///
/// # Safety
/// `addr` must be a function of this process whose parameters are the ones `regs` was
/// classified from (pointers in it must be valid for the callee's use), and `ret` its return
/// type.
#[cfg(all(unix, any(target_arch = "x86_64", target_arch = "aarch64")))]
pub unsafe fn call(addr: u64, regs: &Registers, ret: Ty) -> Returned {
    if ret.is_float() {
        // SAFETY: the caller's promise; a float result comes back in xmm0 / v0.
        let x: f64 = unsafe { call_with(addr, regs) };
        Returned {
            int_bits: 0,
            float_bits: x.to_bits(),
        }
    } else {
        // SAFETY: the caller's promise; any other result comes back in rax / x0.
        let r: u64 = unsafe { call_with(addr, regs) };
        Returned {
            int_bits: r,
            float_bits: 0,
        }
    }
}

/// Call the function at `addr` with every argument register of `regs`, reading the result
/// register of `R` (`u64` or `f64`).
///
/// # Safety
/// As for [`call`], with `R` the class of the function's result.
#[cfg(all(unix, any(target_arch = "x86_64", target_arch = "aarch64")))]
unsafe fn call_with<R>(addr: u64, regs: &Registers) -> R {
    let i = regs.ints;
    let f = regs.floats.map(f64::from_bits);
    // SAFETY: `addr` is a function (caller's promise); a function pointer is an address.
    let fp: NativeFn<R> = unsafe { std::mem::transmute::<usize, NativeFn<R>>(addr as usize) };
    // SAFETY: the callee reads the registers its real signature names, all set here.
    unsafe {
        fp(
            i[0], i[1], i[2], i[3], i[4], i[5], f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7],
        )
    }
}

#[cfg(all(test, unix, any(target_arch = "x86_64", target_arch = "aarch64")))]
mod tests {
    use super::*;
    use crate::call::{parse_args, parse_spec};

    extern "C" fn mix(a: i8, x: f32, b: u64, y: f64, c: i16) -> f64 {
        f64::from(a) + f64::from(x) + b as f64 + y + f64::from(c)
    }
    extern "C" fn narrow(a: f32, b: f32) -> f32 {
        a * b
    }
    extern "C" fn six(a: i64, b: i64, c: i64, d: i64, e: i64, f: i64) -> i64 {
        a - b + c - d + e - f
    }
    extern "C" fn eight(a: f64, b: f64, c: f64, d: f64, e: f64, f: f64, g: f64, h: f64) -> f64 {
        a + 2.0 * b + 3.0 * c + 4.0 * d + 5.0 * e + 6.0 * f + 7.0 * g + 8.0 * h
    }
    extern "C" fn len(s: *const std::ffi::c_char) -> usize {
        // SAFETY: the test passes a C string.
        unsafe { std::ffi::CStr::from_ptr(s) }.to_bytes().len()
    }

    fn run(addr: *const (), sig: &str, args: &[&str]) -> Returned {
        let spec = parse_spec(sig).unwrap();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let values = parse_args(&spec, &args).unwrap();
        let regs = classify(&values).unwrap();
        // SAFETY: each test names the function's real signature.
        unsafe { call(addr as u64, &regs, spec.ret) }
    }

    #[test]
    fn registers_by_class() {
        let r = run(
            mix as *const (),
            "mix(i8,f32,u64,f64,i16)->f64",
            &["-3", "0.5", "10", "0.25", "-100"],
        );
        assert_eq!(f64::from_bits(r.float_bits), -92.25);
        let r = run(narrow as *const (), "narrow(f32,f32)->f32", &["1.5", "-2"]);
        assert_eq!(f32::from_bits(r.float_bits as u32), -3.0);
        let r = run(
            six as *const (),
            "six(i64,i64,i64,i64,i64,i64)->i64",
            &["1", "2", "3", "4", "5", "-6"],
        );
        assert_eq!(r.int_bits as i64, 9);
        let r = run(
            eight as *const (),
            "eight(f64,f64,f64,f64,f64,f64,f64,f64)->f64",
            &["1", "1", "1", "1", "1", "1", "1", "1"],
        );
        assert_eq!(f64::from_bits(r.float_bits), 36.0);
        let r = run(len as *const (), "len(str)->u64", &["hello"]);
        assert_eq!(r.int_bits, 5);
    }

    #[test]
    fn too_many_arguments() {
        let spec = parse_spec("f(i32,i32,i32,i32,i32,i32,ptr)").unwrap();
        let args: Vec<String> = (0..7).map(|i| i.to_string()).collect();
        let values = parse_args(&spec, &args).unwrap();
        let err = classify(&values).unwrap_err().to_string();
        assert!(
            err.contains("at most 6") && err.contains("has 7 and 0"),
            "{err}"
        );
        let spec = parse_spec("f(f32,f32,f32,f32,f32,f32,f32,f32,f64)").unwrap();
        let args: Vec<String> = (0..9).map(|i| i.to_string()).collect();
        let values = parse_args(&spec, &args).unwrap();
        let err = classify(&values).unwrap_err().to_string();
        assert!(err.contains("has 0 and 9"), "{err}");
    }
}
