//! Call signatures of `run --call` and the shell's `call`: `NAME(ARG_TYPES)->RET`, the
//! argument values that go with them, and how a return value is printed.
//!
//! Types: `i8 i16 i32 i64 u8 u16 u32 u64` (integers), `f32 f64`, `ptr` (an address) and
//! `str` (a C string: the argument is passed as a pointer to a NUL-terminated copy), and
//! `void` as a return type only. `f()` takes no arguments; `->RET` may be left out (void).

use std::ffi::CString;
use std::fmt;

use crate::error::CliError;

/// A C type of an argument or of the return value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    /// `int8_t`.
    I8,
    /// `int16_t`.
    I16,
    /// `int32_t`.
    I32,
    /// `int64_t`.
    I64,
    /// `uint8_t`.
    U8,
    /// `uint16_t`.
    U16,
    /// `uint32_t`.
    U32,
    /// `uint64_t`.
    U64,
    /// `float`.
    F32,
    /// `double`.
    F64,
    /// Any pointer, given and printed as an address.
    Ptr,
    /// `const char *`: a NUL-terminated string.
    Str,
    /// No value (return type only).
    Void,
}

/// Every type with its name in a signature.
const NAMES: [(Ty, &str); 13] = [
    (Ty::I8, "i8"),
    (Ty::I16, "i16"),
    (Ty::I32, "i32"),
    (Ty::I64, "i64"),
    (Ty::U8, "u8"),
    (Ty::U16, "u16"),
    (Ty::U32, "u32"),
    (Ty::U64, "u64"),
    (Ty::F32, "f32"),
    (Ty::F64, "f64"),
    (Ty::Ptr, "ptr"),
    (Ty::Str, "str"),
    (Ty::Void, "void"),
];

impl Ty {
    /// The type named `name` in a signature (`i32`, `f64`, `str`, ...).
    pub fn from_name(name: &str) -> Option<Ty> {
        NAMES.iter().find(|(_, n)| *n == name).map(|(t, _)| *t)
    }

    /// The type's name in a signature.
    pub fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(t, _)| *t == self)
            .map_or("?", |(_, n)| n)
    }

    /// True for `f32` and `f64`, which the C ABIs pass in floating-point registers.
    pub fn is_float(self) -> bool {
        matches!(self, Ty::F32 | Ty::F64)
    }

    /// For integer types: (signed, width in bits).
    fn int_kind(self) -> Option<(bool, u32)> {
        Some(match self {
            Ty::I8 => (true, 8),
            Ty::I16 => (true, 16),
            Ty::I32 => (true, 32),
            Ty::I64 => (true, 64),
            Ty::U8 => (false, 8),
            Ty::U16 => (false, 16),
            Ty::U32 => (false, 32),
            Ty::U64 => (false, 64),
            _ => return None,
        })
    }
}

impl fmt::Display for Ty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A parsed signature: `add(i32,i32)->i32`.
#[derive(Clone, Debug, PartialEq)]
pub struct CallSpec {
    /// The function's symbol name.
    pub name: String,
    /// The argument types, in order (never `Void`).
    pub args: Vec<Ty>,
    /// The return type (`Void` if none).
    pub ret: Ty,
}

impl fmt::Display for CallSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.name)?;
        for (i, t) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{t}")?;
        }
        write!(f, ")->{}", self.ret)
    }
}

/// One argument value, ready to be passed.
#[derive(Clone, Debug, PartialEq)]
pub enum Arg {
    /// An integer of type `ty`, sign- or zero-extended to 64 bits according to `ty`.
    Int {
        /// The integer type.
        ty: Ty,
        /// The value extended to 64 bits.
        bits: u64,
    },
    /// A `float`.
    F32(f32),
    /// A `double`.
    F64(f64),
    /// An address.
    Ptr(u64),
    /// A string, passed as a pointer to a NUL-terminated copy.
    Str(CString),
}

/// The help text's line on signatures, shared by `run` and the shell.
pub const SYNTAX: &str = "NAME(TYPE,...)->RET with types i8 i16 i32 i64 u8 u16 u32 u64 f32 f64 ptr str (and void as RET)";

fn usage(msg: String) -> CliError {
    CliError::Usage(msg)
}

/// Parse a signature such as `add(i32,i32)->i32`, `scale(f64)->f64`, `tick()`.
pub fn parse_spec(s: &str) -> Result<CallSpec, CliError> {
    let bad = |why: &str| {
        usage(format!(
            "bad call signature `{s}`: {why}; write {SYNTAX}, e.g. `add(i32,i32)->i32`"
        ))
    };
    let open = s.find('(').ok_or_else(|| bad("no `(`"))?;
    let close = s.rfind(')').ok_or_else(|| bad("no `)`"))?;
    if close < open {
        return Err(bad("`)` before `(`"));
    }
    let name = s[..open].trim();
    if name.is_empty() {
        return Err(bad("no function name"));
    }
    let name_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'))
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !name_ok {
        return Err(bad(&format!("`{name}` is not a symbol name")));
    }
    let inner = s[open + 1..close].trim();
    let mut args = Vec::new();
    if !inner.is_empty() {
        for part in inner.split(',') {
            let part = part.trim();
            match Ty::from_name(part) {
                Some(Ty::Void) => {
                    return Err(bad(
                        "void is only a return type (write `f()` for no arguments)",
                    ))
                }
                Some(t) => args.push(t),
                None if part.is_empty() => return Err(bad("empty argument type")),
                None => return Err(bad(&format!("unknown type `{part}`"))),
            }
        }
    }
    let rest = s[close + 1..].trim();
    let ret = if rest.is_empty() {
        Ty::Void
    } else {
        let r = rest
            .strip_prefix("->")
            .ok_or_else(|| bad(&format!("expected `->RET` after `)`, found `{rest}`")))?
            .trim();
        Ty::from_name(r).ok_or_else(|| {
            if r.is_empty() {
                bad("no return type after `->`")
            } else {
                bad(&format!("unknown return type `{r}`"))
            }
        })?
    };
    Ok(CallSpec {
        name: name.to_string(),
        args,
        ret,
    })
}

/// Parse an integer literal: decimal or `0x` hex, optionally negative.
fn parse_int(text: &str) -> Option<i128> {
    let t = text.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let magnitude = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        if hex.is_empty() || hex.starts_with(['+', '-']) {
            return None;
        }
        i128::from_str_radix(hex, 16).ok()?
    } else {
        if digits.is_empty() || digits.starts_with(['+', '-']) {
            return None;
        }
        digits.parse::<i128>().ok()?
    };
    Some(if neg { -magnitude } else { magnitude })
}

/// Parse the argument values of a call, checking their count and each value's range.
pub fn parse_args(spec: &CallSpec, args: &[String]) -> Result<Vec<Arg>, CliError> {
    if args.len() != spec.args.len() {
        return Err(usage(format!(
            "`{spec}` takes {} argument{}, {} given",
            spec.args.len(),
            if spec.args.len() == 1 { "" } else { "s" },
            args.len()
        )));
    }
    spec.args
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (&ty, text))| {
            let bad = |why: &str| usage(format!("argument {} of `{spec}`: `{text}` {why}", i + 1));
            match ty {
                Ty::F32 => text
                    .trim()
                    .parse::<f32>()
                    .map(Arg::F32)
                    .map_err(|_| bad("is not a number (f32)")),
                Ty::F64 => text
                    .trim()
                    .parse::<f64>()
                    .map(Arg::F64)
                    .map_err(|_| bad("is not a number (f64)")),
                Ty::Ptr => {
                    if matches!(text.trim(), "null" | "NULL") {
                        return Ok(Arg::Ptr(0));
                    }
                    match parse_int(text) {
                        Some(v) if (0..=u64::MAX as i128).contains(&v) => Ok(Arg::Ptr(v as u64)),
                        _ => Err(bad("is not an address (0x..., a decimal number or null)")),
                    }
                }
                Ty::Str => CString::new(text.as_bytes())
                    .map(Arg::Str)
                    .map_err(|_| bad("contains a NUL byte")),
                Ty::Void => Err(bad("has type void")),
                _ => {
                    let (signed, width) = ty.int_kind().ok_or_else(|| bad("has no type"))?;
                    let (min, max): (i128, i128) = if signed {
                        (-(1i128 << (width - 1)), (1i128 << (width - 1)) - 1)
                    } else {
                        (0, (1i128 << width) - 1)
                    };
                    let v = parse_int(text).ok_or_else(|| {
                        bad(&format!("is not an integer ({ty}: decimal or 0x hex)"))
                    })?;
                    if v < min || v > max {
                        return Err(bad(&format!("is out of range for {ty} ({min}..={max})")));
                    }
                    // Two's complement: a negative value is sign-extended to 64 bits.
                    Ok(Arg::Int {
                        ty,
                        bits: v as i64 as u64,
                    })
                }
            }
        })
        .collect()
}

/// The return value as printed: integers in decimal of their type (i8 -1 → "-1"), floats with
/// full precision (Rust `{:?}` of the f32/f64, e.g. "0.1" / "1e-7"), ptr as 0x…, void → "".
///
/// `int_bits` is the integer result register, `float_bits` the floating-point one (an f32 in
/// its low 32 bits). A `str` return is printed as its address here: only a caller that can
/// read the memory it points to (the native `run`) prints the string itself.
pub fn format_return(ty: Ty, int_bits: u64, float_bits: u64) -> String {
    match ty {
        Ty::I8 => (int_bits as u8 as i8).to_string(),
        Ty::I16 => (int_bits as u16 as i16).to_string(),
        Ty::I32 => (int_bits as u32 as i32).to_string(),
        Ty::I64 => (int_bits as i64).to_string(),
        Ty::U8 => (int_bits as u8).to_string(),
        Ty::U16 => (int_bits as u16).to_string(),
        Ty::U32 => (int_bits as u32).to_string(),
        Ty::U64 => int_bits.to_string(),
        Ty::F32 => format!("{:?}", f32::from_bits(float_bits as u32)),
        Ty::F64 => format!("{:?}", f64::from_bits(float_bits)),
        Ty::Ptr | Ty::Str => format!("{int_bits:#x}"),
        Ty::Void => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn usage_text(e: CliError) -> String {
        match e {
            CliError::Usage(m) => m,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn signatures() {
        let s = parse_spec("add(i32,i32)->i32").unwrap();
        assert_eq!(s.name, "add");
        assert_eq!(s.args, vec![Ty::I32, Ty::I32]);
        assert_eq!(s.ret, Ty::I32);
        assert_eq!(s.to_string(), "add(i32,i32)->i32");

        let s = parse_spec(" tick ( ) ").unwrap();
        assert_eq!(
            (s.name.as_str(), s.args.len(), s.ret),
            ("tick", 0, Ty::Void)
        );
        let s = parse_spec("f( u8 , str,ptr ,f32) -> f64").unwrap();
        assert_eq!(s.args, vec![Ty::U8, Ty::Str, Ty::Ptr, Ty::F32]);
        assert_eq!(s.ret, Ty::F64);
        assert_eq!(parse_spec("g()->void").unwrap().ret, Ty::Void);
        assert_eq!(parse_spec("_x.1$()->str").unwrap().ret, Ty::Str);
    }

    #[test]
    fn bad_signatures() {
        for (s, why) in [
            ("add", "no `(`"),
            ("add(i32", "no `)`"),
            (")add(", "`)` before `(`"),
            ("(i32)->i32", "no function name"),
            ("1add()", "not a symbol name"),
            ("a b()", "not a symbol name"),
            ("f(int)", "unknown type `int`"),
            ("f(i32,)", "empty argument type"),
            ("f(void)", "void is only a return type"),
            ("f()i32", "expected `->RET`"),
            ("f()->", "no return type"),
            ("f()->long", "unknown return type `long`"),
        ] {
            let m = usage_text(parse_spec(s).unwrap_err());
            assert!(m.contains(why), "{s}: {m}");
            assert!(!m.contains('\n'), "{m}");
        }
    }

    #[test]
    fn integer_arguments() {
        let s = parse_spec("f(i8,i16,i32,i64,u8,u16,u32,u64)").unwrap();
        let a = parse_args(
            &s,
            &strings(&[
                "-1",
                "-32768",
                "0x7fffffff",
                "-9223372036854775808",
                "255",
                "0xFFFF",
                "4294967295",
                "18446744073709551615",
            ]),
        )
        .unwrap();
        let bits: Vec<u64> = a
            .iter()
            .map(|a| match a {
                Arg::Int { bits, .. } => *bits,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            bits,
            vec![
                u64::MAX,
                (-32768i64) as u64,
                0x7fff_ffff,
                1 << 63,
                255,
                0xffff,
                0xffff_ffff,
                u64::MAX
            ]
        );
        assert_eq!(
            a[0],
            Arg::Int {
                ty: Ty::I8,
                bits: u64::MAX
            }
        );
    }

    #[test]
    fn integer_ranges() {
        for (ty, bad) in [
            ("i8", "128"),
            ("i8", "-129"),
            ("i8", "0xff"),
            ("u8", "256"),
            ("u8", "-1"),
            ("i16", "32768"),
            ("u16", "65536"),
            ("i32", "2147483648"),
            ("u32", "4294967296"),
            ("i64", "9223372036854775808"),
            ("u64", "18446744073709551616"),
        ] {
            let s = parse_spec(&format!("f({ty})")).unwrap();
            let m = usage_text(parse_args(&s, &strings(&[bad])).unwrap_err());
            assert!(m.contains("out of range"), "{ty} {bad}: {m}");
        }
        let s = parse_spec("f(i32)").unwrap();
        for bad in ["", "x", "1.5", "0x", "--1", "-+1", "0xg"] {
            let m = usage_text(parse_args(&s, &strings(&[bad])).unwrap_err());
            assert!(m.contains("is not an integer"), "{bad}: {m}");
        }
    }

    #[test]
    fn other_arguments() {
        let s = parse_spec("f(f32,f64,ptr,ptr,str)").unwrap();
        let a = parse_args(
            &s,
            &strings(&["0.1", "-2.5e3", "0x1000", "null", "hi there"]),
        )
        .unwrap();
        assert_eq!(
            a,
            vec![
                Arg::F32(0.1),
                Arg::F64(-2500.0),
                Arg::Ptr(0x1000),
                Arg::Ptr(0),
                Arg::Str(CString::new("hi there").unwrap()),
            ]
        );
        let m = usage_text(parse_args(&s, &strings(&["a", "1", "1", "1", "s"])).unwrap_err());
        assert!(
            m.starts_with("argument 1 of `f(f32,f64,ptr,ptr,str)->void`"),
            "{m}"
        );
        let m = usage_text(parse_args(&s, &strings(&["1", "1", "-1", "1", "s"])).unwrap_err());
        assert!(
            m.contains("argument 3") && m.contains("not an address"),
            "{m}"
        );
    }

    #[test]
    fn argument_count() {
        let s = parse_spec("add(i32,i32)->i32").unwrap();
        let m = usage_text(parse_args(&s, &strings(&["1"])).unwrap_err());
        assert_eq!(m, "`add(i32,i32)->i32` takes 2 arguments, 1 given");
        let s = parse_spec("one(u8)").unwrap();
        let m = usage_text(parse_args(&s, &strings(&[])).unwrap_err());
        assert_eq!(m, "`one(u8)->void` takes 1 argument, 0 given");
    }

    #[test]
    fn return_values() {
        assert_eq!(format_return(Ty::I8, 0xff, 0), "-1");
        assert_eq!(format_return(Ty::I8, 0x1_7f, 0), "127");
        assert_eq!(format_return(Ty::I16, 0x8000, 0), "-32768");
        assert_eq!(format_return(Ty::I32, 0xdead_ffff_ffff, 0), "-1");
        assert_eq!(format_return(Ty::I64, u64::MAX, 0), "-1");
        assert_eq!(format_return(Ty::U8, 0x1ff, 0), "255");
        assert_eq!(format_return(Ty::U16, 0x1_ffff, 0), "65535");
        assert_eq!(format_return(Ty::U32, u64::MAX, 0), "4294967295");
        assert_eq!(format_return(Ty::U64, u64::MAX, 0), "18446744073709551615");
        assert_eq!(
            format_return(Ty::F32, 0, 0xffff_ffff_0000_0000 | 0.1f32.to_bits() as u64),
            "0.1"
        );
        assert_eq!(format_return(Ty::F32, 0, 1e-7f32.to_bits() as u64), "1e-7");
        assert_eq!(
            format_return(Ty::F64, 0, (1.0f64 / 3.0).to_bits()),
            "0.3333333333333333"
        );
        assert_eq!(format_return(Ty::F64, 0, 2.0f64.to_bits()), "2.0");
        assert_eq!(format_return(Ty::Ptr, 0x7fff_1000, 0), "0x7fff1000");
        assert_eq!(format_return(Ty::Ptr, 0, 0), "0x0");
        assert_eq!(format_return(Ty::Void, 5, 5), "");
    }
}
