//! The boards' C calling conventions, as far as `run --target` needs them: where each
//! argument goes in the argument registers, and how the 64-bit result register pair reads
//! back as the return type.
//!
//! Both boards use 32-bit soft-float ABIs, so every value travels in integer registers:
//!
//! - Cortex-M4, AAPCS base standard (`thumbv7em-none-eabi`, gcc `-mfloat-abi=soft`): r0-r3.
//!   A 64-bit value (`i64`, `u64`, `f64`) takes an even/odd register pair (r0:r1 or r2:r3),
//!   skipping a register if needed.
//! - RV32 ilp32 (`riscv32imac`, gcc `-mabi=ilp32`): a0-a7. A 64-bit value takes the next two
//!   registers, with no alignment.
//!
//! Low word first in both. Integers narrower than 32 bits are sign- or zero-extended to 32
//! bits by their type; `f32` is its bit pattern. A call whose arguments do not all fit in
//! registers (AAPCS would pass the rest on the stack, ilp32 would split a 64-bit value
//! between a7 and the stack) is refused: the firmware passes registers only.
//!
//! Results come back in r0:r1 / a0:a1: a 64-bit type uses both, anything else the low word.

use crate::call::{Arg, CallSpec, Ty};
use crate::error::CliError;

use super::Board;

/// One argument register's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    /// This value.
    Word(u32),
    /// The address of a NUL-terminated copy of these bytes in the board's RAM.
    Str(Vec<u8>),
}

impl Board {
    /// Number of argument registers.
    fn arg_registers(self) -> usize {
        match self {
            Board::CortexM4 => 4,
            Board::Rv32 => 8,
        }
    }

    /// The argument registers, as the error message names them.
    fn register_names(self) -> &'static str {
        match self {
            Board::CortexM4 => "r0-r3",
            Board::Rv32 => "a0-a7",
        }
    }
}

/// The argument registers for calling `spec` with `args` on `board`, in order (trailing
/// unused registers left out).
pub fn lay_out(board: Board, spec: &CallSpec, args: &[Arg]) -> Result<Vec<Slot>, CliError> {
    let mut slots = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let parts: Vec<Slot> = match arg {
            Arg::Int { ty: Ty::I64 | Ty::U64, bits } => split(*bits).to_vec(),
            Arg::Int { bits, .. } => vec![Slot::Word(*bits as u32)],
            Arg::F32(f) => vec![Slot::Word(f.to_bits())],
            Arg::F64(f) => split(f.to_bits()).to_vec(),
            Arg::Ptr(addr) => vec![Slot::Word(u32::try_from(*addr).map_err(|_| {
                CliError::Usage(format!(
                    "argument {} of `{spec}`: address {addr:#x} does not fit the 32-bit addresses of {board}",
                    i + 1
                ))
            })?)],
            Arg::Str(s) => vec![Slot::Str(s.as_bytes().to_vec())],
        };
        if parts.len() == 2 && board == Board::CortexM4 && slots.len() % 2 == 1 {
            slots.push(Slot::Word(0));
        }
        if slots.len() + parts.len() > board.arg_registers() {
            let rule = match board {
                Board::CortexM4 => "a 64-bit value takes an even/odd register pair",
                Board::Rv32 => "a 64-bit value takes two registers",
            };
            return Err(CliError::Usage(format!(
                "`{spec}` needs the stack for argument {} on {board}: `run --target` passes arguments in registers {} only ({rule})",
                i + 1,
                board.register_names(),
            )));
        }
        slots.extend(parts);
    }
    Ok(slots)
}

/// A 64-bit value as two words, low word first.
fn split(v: u64) -> [Slot; 2] {
    [Slot::Word(v as u32), Slot::Word((v >> 32) as u32)]
}

/// The result register pair (low register in the low half) as `format_return`'s
/// `(int_bits, float_bits)` for return type `ret`.
pub fn result_bits(ret: Ty, pair: u64) -> (u64, u64) {
    let low = pair & 0xffff_ffff;
    match ret {
        Ty::I64 | Ty::U64 => (pair, 0),
        Ty::F64 => (0, pair),
        Ty::F32 => (0, low),
        Ty::Void => (0, 0),
        _ => (low, 0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{format_return, parse_args, parse_spec};

    fn slots(board: Board, sig: &str, args: &[&str]) -> Result<Vec<Slot>, CliError> {
        let spec = parse_spec(sig).unwrap();
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let args = parse_args(&spec, &args).unwrap();
        lay_out(board, &spec, &args)
    }

    fn words(board: Board, sig: &str, args: &[&str]) -> Vec<u32> {
        slots(board, sig, args)
            .unwrap()
            .into_iter()
            .map(|s| match s {
                Slot::Word(w) => w,
                Slot::Str(_) => panic!("a string"),
            })
            .collect()
    }

    fn refused(board: Board, sig: &str, args: &[&str]) -> String {
        match slots(board, sig, args) {
            Err(CliError::Usage(m)) => m,
            other => panic!("{sig} on {board}: expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn small_integers_are_extended_to_a_word() {
        for board in [Board::CortexM4, Board::Rv32] {
            assert_eq!(
                words(board, "f(i8,u8,i16,u16)", &["-1", "255", "-2", "0xffff"]),
                [0xffff_ffff, 0xff, 0xffff_fffe, 0xffff]
            );
            assert_eq!(words(board, "f(i32,u32)", &["-3", "3"]), [0xffff_fffd, 3]);
        }
    }

    #[test]
    fn arm_aligns_64_bit_values_to_an_even_register() {
        // i32 in r0, r1 skipped, i64 in r2:r3 (low word in r2).
        assert_eq!(
            words(Board::CortexM4, "f(i32,i64)", &["7", "-2"]),
            [7, 0, 0xffff_fffe, 0xffff_ffff]
        );
        assert_eq!(
            words(Board::CortexM4, "f(u64,i32)", &["0x1122334455667788", "5"]),
            [0x5566_7788, 0x1122_3344, 5]
        );
        // f64 1.5 = 0x3ff8000000000000.
        assert_eq!(
            words(Board::CortexM4, "f(f32,f64)", &["1", "1.5"]),
            [0x3f80_0000, 0, 0, 0x3ff8_0000]
        );
    }

    #[test]
    fn rv32_packs_64_bit_values_without_alignment() {
        assert_eq!(
            words(Board::Rv32, "f(i32,i64)", &["7", "-2"]),
            [7, 0xffff_fffe, 0xffff_ffff]
        );
        assert_eq!(
            words(Board::Rv32, "f(i32,f64,i32)", &["1", "1.5", "2"]),
            [1, 0, 0x3ff8_0000, 2]
        );
    }

    #[test]
    fn arguments_beyond_the_registers_are_refused() {
        // AAPCS: i32 in r0, the i64 in r2:r3, no register left for the last i32.
        let m = refused(Board::CortexM4, "f(i32,i64,i32)", &["1", "2", "3"]);
        assert!(m.contains("argument 3") && m.contains("r0-r3"), "{m}");
        let m = refused(Board::CortexM4, "f(i32,i32,i32,i32,i32)", &["1"; 5]);
        assert!(m.contains("argument 5"), "{m}");
        // The same fit on RV32.
        assert_eq!(
            words(Board::Rv32, "f(i32,i64,i32)", &["1", "2", "3"]).len(),
            4
        );
        // ilp32 would split this i64 between a7 and the stack.
        let m = refused(
            Board::Rv32,
            "f(i32,i32,i32,i32,i32,i32,i32,i64)",
            &["0", "0", "0", "0", "0", "0", "0", "1"],
        );
        assert!(m.contains("argument 8") && m.contains("a0-a7"), "{m}");
        assert_eq!(
            words(Board::Rv32, "f(i32,i32,i32,i32,i32,i32,i64)", &["0"; 7]).len(),
            8
        );
    }

    #[test]
    fn strings_and_pointers() {
        assert_eq!(
            slots(Board::Rv32, "f(str,ptr)", &["hi there", "0x20001000"]).unwrap(),
            [Slot::Str(b"hi there".to_vec()), Slot::Word(0x2000_1000)]
        );
        let m = refused(Board::CortexM4, "f(ptr)", &["0x100000000"]);
        assert!(m.contains("32-bit"), "{m}");
    }

    #[test]
    fn results_read_as_their_type() {
        let show = |ty, pair| {
            let (int, float) = result_bits(ty, pair);
            format_return(ty, int, float)
        };
        // The high register holds junk for 32-bit and narrower types.
        assert_eq!(show(Ty::I8, 0xdead_beef_0000_00ff), "-1");
        assert_eq!(show(Ty::U8, 0xdead_beef_0000_01ff), "255");
        assert_eq!(show(Ty::I32, 0x1234_5678_ffff_fffe), "-2");
        assert_eq!(show(Ty::Ptr, 0x1234_5678_2000_0010), "0x20000010");
        assert_eq!(show(Ty::I64, 0xffff_ffff_ffff_fffe), "-2");
        assert_eq!(show(Ty::U64, 0x1122_3344_5566_7788), "1234605616436508552");
        assert_eq!(show(Ty::F64, 0x3ff8_0000_0000_0000), "1.5");
        assert_eq!(show(Ty::F32, 0x0bad_0000_3f80_0000), "1.0");
        assert_eq!(show(Ty::Void, 0x1234), "");
    }
}
