//! Architectures: one file each, describing how relocations patch that machine's code.

use core::fmt;

use object::elf;

mod aarch64;
mod arm;
mod riscv;
mod x86_64;

/// A machine elfext can link for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Arch {
    /// x86-64 (ELF64, RELA).
    X86_64,
    /// 32-bit ARM: Thumb-2 and A32 (ELF32, REL).
    Arm,
    /// AArch64 (ELF64, RELA).
    Aarch64,
    /// RISC-V RV32 (ELF32, RELA).
    Riscv32,
    /// RISC-V RV64 (ELF64, RELA).
    Riscv64,
}

impl Arch {
    /// The architecture of the program elfext is compiled into, when elfext knows it.
    pub const HOST: Option<Arch> = if cfg!(target_arch = "x86_64") {
        Some(Arch::X86_64)
    } else if cfg!(target_arch = "arm") {
        Some(Arch::Arm)
    } else if cfg!(target_arch = "aarch64") {
        Some(Arch::Aarch64)
    } else if cfg!(target_arch = "riscv32") {
        Some(Arch::Riscv32)
    } else if cfg!(target_arch = "riscv64") {
        Some(Arch::Riscv64)
    } else {
        None
    };

    /// The ELF `e_machine` value of this architecture.
    pub fn machine(self) -> elf::Machine {
        match self {
            Arch::X86_64 => elf::EM_X86_64,
            Arch::Arm => elf::EM_ARM,
            Arch::Aarch64 => elf::EM_AARCH64,
            Arch::Riscv32 | Arch::Riscv64 => elf::EM_RISCV,
        }
    }

    /// The architecture's number in snapshots and images (0 x86-64, 1 ARM, 2 AArch64,
    /// 3 RV32, 4 RV64).
    pub(crate) fn code(self) -> u8 {
        match self {
            Arch::X86_64 => 0,
            Arch::Arm => 1,
            Arch::Aarch64 => 2,
            Arch::Riscv32 => 3,
            Arch::Riscv64 => 4,
        }
    }

    /// The architecture numbered `c` by [`code`](Self::code).
    pub(crate) fn from_code(c: u8) -> Option<Arch> {
        Some(match c {
            0 => Arch::X86_64,
            1 => Arch::Arm,
            2 => Arch::Aarch64,
            3 => Arch::Riscv32,
            4 => Arch::Riscv64,
            _ => return None,
        })
    }

    /// Whether objects for this architecture are ELF64.
    pub fn is_64(self) -> bool {
        matches!(self, Arch::X86_64 | Arch::Aarch64 | Arch::Riscv64)
    }

    /// Size of an address in bytes.
    pub fn word_size(self) -> u8 {
        if self.is_64() {
            8
        } else {
            4
        }
    }

    /// Whether elfext can apply this architecture's relocations.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Arch::X86_64 | Arch::Arm | Arch::Aarch64 | Arch::Riscv32 | Arch::Riscv64
        )
    }

    /// Whether elfext applies relocation type `rtype` (`r_type`) of this architecture.
    pub fn supports_relocation(self, rtype: u32) -> bool {
        match self {
            Arch::X86_64 => X86_64::howto(rtype).is_some(),
            Arch::Arm => Arm::howto(rtype).is_some(),
            Arch::Aarch64 => Aarch64::howto(rtype).is_some(),
            Arch::Riscv32 => Riscv32::howto(rtype).is_some(),
            Arch::Riscv64 => Riscv64::howto(rtype).is_some(),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Arch::X86_64 => "x86_64",
            Arch::Arm => "arm",
            Arch::Aarch64 => "aarch64",
            Arch::Riscv32 => "riscv32",
            Arch::Riscv64 => "riscv64",
        })
    }
}

/// What a relocation type needs before memory is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Need {
    /// Nothing beyond the symbol's address.
    Plain,
    /// A GOT slot holding the symbol's address.
    Got,
    /// A branch that may need a veneer when the target is out of reach.
    Branch,
    /// Nothing at all: the relocation is a marker (R_*_NONE and the like).
    Skip,
    /// Nothing at link time, but the plan trims the alignment padding it marks (RISC-V
    /// `R_RISCV_ALIGN`; see [`crate::layout::Cut`]).
    Trim,
}

/// The role of a relocation in a high/low pair (RISC-V `PCREL_HI20` / `PCREL_LO12_I`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pair {
    /// Not part of a pair.
    None,
    /// A high part: its computed value is kept, by the address it patches, for low parts.
    Hi,
    /// A low part: its symbol is the label of the high part it completes, in the same
    /// section; the driver passes that high part's value as [`Fixup::partner`].
    Lo,
}

/// How one relocation type behaves, as the driver needs to know before applying it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Howto {
    /// Extra entries it needs.
    pub need: Need,
    /// Its role in a high/low pair.
    pub pair: Pair,
    /// Bytes before the offset the patch may read or rewrite (instruction prefixes).
    pub before: u8,
    /// Bytes from the offset on that the patch writes.
    pub width: u8,
}

/// A [`Howto`] (as the `Option` relocators' tables hold).
pub(crate) const fn howto(need: Need, pair: Pair, before: u8, width: u8) -> Option<Howto> {
    Some(Howto {
        need,
        pair,
        before,
        width,
    })
}

/// A [`Howto`] for a type that patches `width` bytes at its offset, alone.
pub(crate) const fn plain(need: Need, width: u8) -> Option<Howto> {
    howto(need, Pair::None, 0, width)
}

/// The values a relocation is computed from.
pub(crate) struct Fixup {
    /// `r_type`.
    pub rtype: u32,
    /// Target address of the place being patched (P).
    pub p: u64,
    /// Target address of the symbol (S).
    pub s: u64,
    /// Addend (A).
    pub a: i64,
    /// Target address of the symbol's GOT slot, when it has one.
    pub got: Option<u64>,
    /// Target address of the symbol's veneer, when it has one.
    pub veneer: Option<u64>,
    /// Target address of the extension's GOT (`_GLOBAL_OFFSET_TABLE_`).
    pub got_base: u64,
    /// For a low part: the value its high part computed.
    pub partner: Option<i64>,
}

#[cfg(test)]
impl Fixup {
    /// A fixup with no GOT slot, veneer, GOT base or partner (for unit tests).
    pub(crate) fn plain(rtype: object::elf::RelocationType, p: u64, s: u64, a: i64) -> Self {
        Fixup {
            rtype: rtype.0,
            p,
            s,
            a,
            got: None,
            veneer: None,
            got_base: 0,
            partner: None,
        }
    }
}

/// Why a relocation could not be applied.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Fail {
    /// The value does not fit.
    Overflow { value: i64, min: i64, max: i64 },
    /// The instruction is not one this type may patch.
    BadInstruction(&'static str),
}

/// One architecture's relocation rules.
pub(crate) trait Relocator {
    /// The architecture.
    const ARCH: Arch;
    /// Bytes of one veneer.
    const VENEER_SIZE: usize;
    /// Alignment of the veneer area.
    const VENEER_ALIGN: u64;
    /// Whether some relocation types come in high/low pairs (see [`Pair`]).
    const HAS_PAIRS: bool = false;
    /// Whether some relocation type is [`Need::Trim`] (the plan may trim padding).
    const TRIMS: bool = false;
    /// Describe a relocation type, or `None` when it is not supported.
    fn howto(rtype: u32) -> Option<Howto>;
    /// The value a high part of a pair hands to its low parts (only called for
    /// [`Pair::Hi`] types).
    fn partner_value(f: &Fixup) -> i64 {
        let _ = f;
        0
    }
    /// Read the implicit addend of a REL relocation from the bytes at the place.
    fn implicit_addend(rtype: u32, place: &[u8]) -> i64;
    /// Bytes the field at the place covers, for types whose field says its own length
    /// (ULEB128); `rest` is the section from the offset on. Others cover `how.width`.
    fn field_width(rtype: u32, how: &Howto, rest: &[u8]) -> usize {
        let _ = (rtype, rest);
        usize::from(how.width)
    }
    /// Apply one relocation. `place` starts `howto.before` bytes before the offset.
    fn apply(f: &Fixup, place: &mut [u8]) -> Result<(), Fail>;
    /// Write a veneer at `at` that jumps to `target`.
    fn write_veneer(dst: &mut [u8], at: u64, target: u64);
}

pub(crate) use self::aarch64::Aarch64;
pub(crate) use self::arm::Arm;
pub(crate) use self::riscv::{Riscv32, Riscv64};
pub(crate) use self::x86_64::X86_64;

/// Check that a signed value fits in `bits` bits.
pub(crate) fn check_signed(value: i64, bits: u32) -> Result<i64, Fail> {
    let min = -(1i64 << (bits - 1));
    let max = (1i64 << (bits - 1)) - 1;
    if value < min || value > max {
        Err(Fail::Overflow { value, min, max })
    } else {
        Ok(value)
    }
}

/// Check that a value fits in `bits` bits, read as unsigned.
pub(crate) fn check_unsigned(value: i64, bits: u32) -> Result<i64, Fail> {
    let max = ((1u64 << bits) - 1) as i64;
    if value < 0 || value > max {
        Err(Fail::Overflow { value, min: 0, max })
    } else {
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_relocations_follow_each_arch_table() {
        assert!(Arch::X86_64.supports_relocation(elf::R_X86_64_PLT32.0));
        assert!(!Arch::X86_64.supports_relocation(elf::R_X86_64_GOTTPOFF.0));
        assert!(Arch::Arm.supports_relocation(elf::R_ARM_THM_PC22.0));
        assert!(!Arch::Arm.supports_relocation(elf::R_ARM_TLS_GD32.0));
        assert!(Arch::Riscv32.supports_relocation(elf::R_RISCV_CALL_PLT.0));
        assert!(!Arch::Riscv64.supports_relocation(elf::R_RISCV_TLS_GD_HI20.0));
        assert!(Arch::Aarch64.supports_relocation(elf::R_AARCH64_CALL26.0));
        assert!(!Arch::Aarch64.supports_relocation(u32::MAX));
    }
}
