//! RISC-V relocations (psABI, RELA), for RV32 and RV64: one relocator generic over XLEN.
//!
//! High/low pairs: `PCREL_HI20` and `GOT_HI20` are [`Pair::Hi`]; a `PCREL_LO12_I/S` names
//! the label of its `auipc` and receives that high part's value (which need not be
//! adjacent). On RV32 every PC-relative and absolute value is taken modulo 2^32, as the
//! hardware computes it, so `auipc`/`lui` pairs reach the whole address space.
//!
//! Veneers, for `JAL`, `BRANCH` and the compressed branches whose target is out of reach:
//! RV32 uses `auipc t1, hi; jalr x0, lo(t1)` (8 bytes, computed from the veneer's own
//! address; modulo 2^32 it reaches everything, and it reads no data, so execute-only text
//! works). RV64 targets may lie beyond ±2 GiB and a veneer cannot fail, so its 24-byte slot
//! holds the same `auipc`/`jalr` when the target is within ±2 GiB of the veneer, and
//! otherwise `auipc t1, 0; ld t1, 16(t1); jalr x0, 0(t1)` with the absolute target as a
//! literal. `t1` is a temporary the psABI lets calls clobber (it is what `tail` uses).
//!
//! `RELAX` is a marker: nothing is relaxed. `ALIGN` marks `addend` bytes of `nop` padding
//! that an `.align` left in code built with `-mrelax`; as GNU ld does (even with
//! `--no-relax`), the plan keeps the part of it the place needs and deletes the rest, and
//! everything after moves down: section sizes, symbol values and relocation offsets (see
//! [`crate::layout::Cut`]). gas gives a section at least the alignment of every `.align` in
//! it and elfext places every section at a multiple of its alignment, so the deletions
//! depend only on offsets inside the section; an `ALIGN` asking for more than its section's
//! alignment is an error. As in GNU ld, addends (against section symbols) are not moved.

use object::elf::*;

use super::{check_signed, check_unsigned, Arch, Fail, Fixup, Howto, Need, Pair, Relocator};

/// The RISC-V relocator; `RV64` selects XLEN = 64.
pub(crate) struct Riscv<const RV64: bool>;

/// RV32 (ELF32).
pub(crate) type Riscv32 = Riscv<false>;
/// RV64 (ELF64).
pub(crate) type Riscv64 = Riscv<true>;

/// What each relocation type needs, indexed by type.
const HOWTO: [Option<Howto>; 62] = {
    let mut t: [Option<Howto>; 62] = [None; 62];
    t[R_RISCV_NONE.0 as usize] = h(Need::Skip, Pair::None, 0);
    t[R_RISCV_32.0 as usize] = h(Need::Plain, Pair::None, 4);
    t[R_RISCV_64.0 as usize] = h(Need::Plain, Pair::None, 8);
    t[R_RISCV_BRANCH.0 as usize] = h(Need::Branch, Pair::None, 4);
    t[R_RISCV_JAL.0 as usize] = h(Need::Branch, Pair::None, 4);
    // `auipc`+`jalr` reaches ±2 GiB, like a veneer would: no veneer.
    t[R_RISCV_CALL.0 as usize] = h(Need::Plain, Pair::None, 8);
    t[R_RISCV_CALL_PLT.0 as usize] = h(Need::Plain, Pair::None, 8);
    t[R_RISCV_GOT_HI20.0 as usize] = h(Need::Got, Pair::Hi, 4);
    t[R_RISCV_PCREL_HI20.0 as usize] = h(Need::Plain, Pair::Hi, 4);
    t[R_RISCV_PCREL_LO12_I.0 as usize] = h(Need::Plain, Pair::Lo, 4);
    t[R_RISCV_PCREL_LO12_S.0 as usize] = h(Need::Plain, Pair::Lo, 4);
    t[R_RISCV_HI20.0 as usize] = h(Need::Plain, Pair::None, 4);
    t[R_RISCV_LO12_I.0 as usize] = h(Need::Plain, Pair::None, 4);
    t[R_RISCV_LO12_S.0 as usize] = h(Need::Plain, Pair::None, 4);
    t[R_RISCV_TPREL_HI20.0 as usize] = h(Need::Plain, Pair::None, 4);
    t[R_RISCV_TPREL_LO12_I.0 as usize] = h(Need::Plain, Pair::None, 4);
    t[R_RISCV_TPREL_LO12_S.0 as usize] = h(Need::Plain, Pair::None, 4);
    // Marks the `add` of tp for relaxation; the instruction stays as it is.
    t[R_RISCV_TPREL_ADD.0 as usize] = h(Need::Skip, Pair::None, 0);
    t[R_RISCV_ADD8.0 as usize] = h(Need::Plain, Pair::None, 1);
    t[R_RISCV_ADD16.0 as usize] = h(Need::Plain, Pair::None, 2);
    t[R_RISCV_ADD32.0 as usize] = h(Need::Plain, Pair::None, 4);
    t[R_RISCV_ADD64.0 as usize] = h(Need::Plain, Pair::None, 8);
    t[R_RISCV_SUB8.0 as usize] = h(Need::Plain, Pair::None, 1);
    t[R_RISCV_SUB16.0 as usize] = h(Need::Plain, Pair::None, 2);
    t[R_RISCV_SUB32.0 as usize] = h(Need::Plain, Pair::None, 4);
    t[R_RISCV_SUB64.0 as usize] = h(Need::Plain, Pair::None, 8);
    t[R_RISCV_ALIGN.0 as usize] = h(Need::Trim, Pair::None, 0);
    t[R_RISCV_RVC_BRANCH.0 as usize] = h(Need::Branch, Pair::None, 2);
    t[R_RISCV_RVC_JUMP.0 as usize] = h(Need::Branch, Pair::None, 2);
    t[R_RISCV_RELAX.0 as usize] = h(Need::Skip, Pair::None, 0);
    t[R_RISCV_SUB6.0 as usize] = h(Need::Plain, Pair::None, 1);
    t[R_RISCV_SET6.0 as usize] = h(Need::Plain, Pair::None, 1);
    t[R_RISCV_SET8.0 as usize] = h(Need::Plain, Pair::None, 1);
    t[R_RISCV_SET16.0 as usize] = h(Need::Plain, Pair::None, 2);
    t[R_RISCV_SET32.0 as usize] = h(Need::Plain, Pair::None, 4);
    t[R_RISCV_32_PCREL.0 as usize] = h(Need::Plain, Pair::None, 4);
    t[R_RISCV_PLT32.0 as usize] = h(Need::Plain, Pair::None, 4);
    // Variable length: at least one byte (see `field_width`).
    t[R_RISCV_SET_ULEB128.0 as usize] = h(Need::Plain, Pair::None, 1);
    t[R_RISCV_SUB_ULEB128.0 as usize] = h(Need::Plain, Pair::None, 1);
    t
};

const fn h(need: Need, pair: Pair, width: u8) -> Option<Howto> {
    super::howto(need, pair, 0, width)
}

/// `t1`, the register veneers use.
const T1: u32 = 6;

fn get32(place: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([place[at], place[at + 1], place[at + 2], place[at + 3]])
}

fn put32(place: &mut [u8], at: usize, v: u32) {
    place[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn get16(place: &[u8]) -> u16 {
    u16::from_le_bytes([place[0], place[1]])
}

fn put16(place: &mut [u8], v: u16) {
    place[..2].copy_from_slice(&v.to_le_bytes());
}

/// The high 20 bits of `v` for `lui`/`auipc`, rounded so that the sign-extended low 12 bits
/// added back give `v`.
fn hi20(v: i64) -> i64 {
    v.wrapping_add(0x800) >> 12
}

/// The low 12 bits of `v`, sign-extended: `v - (hi20(v) << 12)`.
fn lo12(v: i64) -> i64 {
    (v << 52) >> 52
}

/// U-type: the immediate's upper 20 bits go to bits 31:12.
fn encode_u(insn: u32, hi: i64) -> u32 {
    (insn & 0xfff) | ((hi as u32) << 12)
}

/// I-type: a 12-bit immediate in bits 31:20.
fn encode_i(insn: u32, imm: i64) -> u32 {
    (insn & 0x000f_ffff) | ((imm as u32 & 0xfff) << 20)
}

/// S-type: imm[11:5] in bits 31:25, imm[4:0] in bits 11:7.
fn encode_s(insn: u32, imm: i64) -> u32 {
    let imm = imm as u32;
    (insn & 0x01ff_f07f) | (((imm >> 5) & 0x7f) << 25) | ((imm & 0x1f) << 7)
}

/// B-type: imm[12|10:5] in bits 31:25, imm[4:1|11] in bits 11:7.
fn encode_b(insn: u32, imm: i64) -> u32 {
    let imm = imm as u32;
    (insn & 0x01ff_f07f)
        | (((imm >> 12) & 1) << 31)
        | (((imm >> 5) & 0x3f) << 25)
        | (((imm >> 1) & 0xf) << 8)
        | (((imm >> 11) & 1) << 7)
}

/// J-type: imm[20|10:1|11|19:12] in bits 31:12.
fn encode_j(insn: u32, imm: i64) -> u32 {
    let imm = imm as u32;
    (insn & 0xfff)
        | (((imm >> 20) & 1) << 31)
        | (((imm >> 1) & 0x3ff) << 21)
        | (((imm >> 11) & 1) << 20)
        | (((imm >> 12) & 0xff) << 12)
}

/// CB format (`c.beqz`, `c.bnez`): offset[8|4:3] in bits 12:10, offset[7:6|2:1|5] in
/// bits 6:2.
fn encode_cb(insn: u16, imm: i64) -> u16 {
    let imm = imm as u16;
    (insn & 0xe383)
        | (((imm >> 8) & 1) << 12)
        | (((imm >> 3) & 3) << 10)
        | (((imm >> 6) & 3) << 5)
        | (((imm >> 1) & 3) << 3)
        | (((imm >> 5) & 1) << 2)
}

/// CJ format (`c.j`, `c.jal`): offset[11|4|9:8|10|6|7|3:1|5] in bits 12:2.
fn encode_cj(insn: u16, imm: i64) -> u16 {
    let imm = imm as u16;
    (insn & 0xe003)
        | (((imm >> 11) & 1) << 12)
        | (((imm >> 4) & 1) << 11)
        | (((imm >> 8) & 3) << 9)
        | (((imm >> 10) & 1) << 8)
        | (((imm >> 6) & 1) << 7)
        | (((imm >> 7) & 1) << 6)
        | (((imm >> 1) & 7) << 3)
        | (((imm >> 5) & 1) << 2)
}

/// Length of the ULEB128 at the start of `rest`: up to its first byte without the
/// continuation bit, or all of `rest` when there is none.
fn uleb_len(rest: &[u8]) -> usize {
    rest.iter()
        .position(|b| b & 0x80 == 0)
        .map_or(rest.len(), |i| i + 1)
}

/// Read the ULEB128 filling `field` (its length is the field's).
fn read_uleb(field: &[u8]) -> u128 {
    field
        .iter()
        .enumerate()
        .take(18)
        .fold(0, |v, (i, b)| v | (u128::from(b & 0x7f) << (7 * i)))
}

/// Write `v` (modulo 2^(7 × length)) into a ULEB128 field, keeping its length.
fn write_uleb(field: &mut [u8], v: u128) {
    let last = field.len() - 1;
    for (i, b) in field.iter_mut().enumerate() {
        let bits = if i < 18 {
            (v >> (7 * i)) as u8 & 0x7f
        } else {
            0
        };
        *b = bits | if i < last { 0x80 } else { 0 };
    }
}

impl<const RV64: bool> Riscv<RV64> {
    /// `v` as the machine computes addresses: modulo 2^XLEN, sign-extended.
    fn wrap(v: i64) -> i64 {
        if RV64 {
            v
        } else {
            v as i32 as i64
        }
    }

    /// The `lui`/`auipc` immediate for `v`: on RV64 it must fit in 20 signed bits.
    fn upper(v: i64) -> Result<i64, Fail> {
        if RV64 {
            check_signed(hi20(v), 20).map_err(|_| {
                let (min, max) = (-(1i64 << 31) - 0x800, (1i64 << 31) - 0x801);
                Fail::Overflow { value: v, min, max }
            })
        } else {
            Ok(hi20(v))
        }
    }

    /// A PC-relative branch offset that fits `bits`, through the veneer when the target is
    /// out of reach (only for a plain symbol: the veneer jumps to the symbol itself).
    fn branch(f: &Fixup, pcrel: i64, bits: u32) -> Result<i64, Fail> {
        let v = match (check_signed(pcrel, bits), f.veneer) {
            (Ok(v), _) => v,
            (Err(_), Some(veneer)) if f.a == 0 => {
                check_signed(Self::wrap((veneer as i64).wrapping_sub(f.p as i64)), bits)?
            }
            (Err(e), _) => return Err(e),
        };
        if v & 1 != 0 {
            return Err(Fail::BadInstruction("branch target is not 2-byte aligned"));
        }
        Ok(v)
    }
}

/// Check a 32-bit instruction's major opcode.
fn opcode(insn: u32, ok: &[u32], what: &'static str) -> Result<u32, Fail> {
    if ok.contains(&(insn & 0x7f)) {
        Ok(insn)
    } else {
        Err(Fail::BadInstruction(what))
    }
}

const LUI: u32 = 0x37;
const AUIPC: u32 = 0x17;
const JALR: u32 = 0x67;
const JAL: u32 = 0x6f;
const BRANCH: u32 = 0x63;

impl<const RV64: bool> Relocator for Riscv<RV64> {
    const ARCH: Arch = if RV64 { Arch::Riscv64 } else { Arch::Riscv32 };
    const VENEER_SIZE: usize = if RV64 { 24 } else { 8 };
    const VENEER_ALIGN: u64 = if RV64 { 8 } else { 4 };
    const HAS_PAIRS: bool = true;
    const TRIMS: bool = true;

    #[inline]
    fn howto(rtype: u32) -> Option<Howto> {
        HOWTO.get(rtype as usize).copied().flatten()
    }

    fn field_width(rtype: u32, how: &Howto, rest: &[u8]) -> usize {
        if rtype == R_RISCV_SET_ULEB128.0 || rtype == R_RISCV_SUB_ULEB128.0 {
            uleb_len(rest)
        } else {
            usize::from(how.width)
        }
    }

    fn partner_value(f: &Fixup) -> i64 {
        let target = match RelocationType(f.rtype) {
            R_RISCV_GOT_HI20 => f.got.unwrap_or(0) as i64,
            _ => f.s as i64,
        };
        Self::wrap(target.wrapping_add(f.a).wrapping_sub(f.p as i64))
    }

    fn implicit_addend(_rtype: u32, _place: &[u8]) -> i64 {
        // RISC-V objects use RELA only.
        0
    }

    fn apply(f: &Fixup, place: &mut [u8]) -> Result<(), Fail> {
        let s_a = (f.s as i64).wrapping_add(f.a);
        let abs = Self::wrap(s_a);
        let pcrel = Self::wrap(s_a.wrapping_sub(f.p as i64));
        match RelocationType(f.rtype) {
            R_RISCV_NONE | R_RISCV_RELAX | R_RISCV_ALIGN => {}
            R_RISCV_32 => {
                let v = if abs < 0 {
                    check_signed(abs, 32)?
                } else {
                    check_unsigned(abs, 32)?
                };
                put32(place, 0, v as u32)
            }
            R_RISCV_64 => place[..8].copy_from_slice(&s_a.to_le_bytes()),
            R_RISCV_32_PCREL | R_RISCV_PLT32 => put32(place, 0, check_signed(pcrel, 32)? as u32),
            R_RISCV_HI20 => {
                let insn = opcode(get32(place, 0), &[LUI], "HI20 on an instruction not lui")?;
                put32(place, 0, encode_u(insn, Self::upper(abs)?))
            }
            R_RISCV_LO12_I => put32(place, 0, encode_i(get32(place, 0), lo12(abs))),
            R_RISCV_LO12_S => put32(place, 0, encode_s(get32(place, 0), lo12(abs))),
            // Local-exec TLS: a thread-local symbol's S is already its offset from tp.
            R_RISCV_TPREL_HI20 => {
                let insn = opcode(
                    get32(place, 0),
                    &[LUI],
                    "TPREL_HI20 on an instruction not lui",
                )?;
                put32(place, 0, encode_u(insn, Self::upper(abs)?))
            }
            R_RISCV_TPREL_LO12_I => put32(place, 0, encode_i(get32(place, 0), lo12(abs))),
            R_RISCV_TPREL_LO12_S => put32(place, 0, encode_s(get32(place, 0), lo12(abs))),
            R_RISCV_PCREL_HI20 | R_RISCV_GOT_HI20 => {
                if f.rtype == R_RISCV_GOT_HI20.0 && f.got.is_none() {
                    return Err(Fail::BadInstruction("no GOT slot"));
                }
                let v = Self::partner_value(f);
                let insn = opcode(
                    get32(place, 0),
                    &[AUIPC],
                    "HI20 on an instruction not auipc",
                )?;
                put32(place, 0, encode_u(insn, Self::upper(v)?))
            }
            R_RISCV_PCREL_LO12_I | R_RISCV_PCREL_LO12_S => {
                let v = f
                    .partner
                    .ok_or(Fail::BadInstruction("no high part for the low part"))?;
                let insn = get32(place, 0);
                put32(
                    place,
                    0,
                    if f.rtype == R_RISCV_PCREL_LO12_I.0 {
                        encode_i(insn, lo12(v))
                    } else {
                        encode_s(insn, lo12(v))
                    },
                )
            }
            R_RISCV_CALL | R_RISCV_CALL_PLT => {
                let auipc = opcode(get32(place, 0), &[AUIPC], "CALL without auipc")?;
                let jalr = opcode(get32(place, 4), &[JALR], "CALL without jalr")?;
                put32(place, 0, encode_u(auipc, Self::upper(pcrel)?));
                put32(place, 4, encode_i(jalr, lo12(pcrel)));
            }
            R_RISCV_JAL => {
                let insn = opcode(get32(place, 0), &[JAL], "JAL on an instruction not jal")?;
                put32(place, 0, encode_j(insn, Self::branch(f, pcrel, 21)?))
            }
            R_RISCV_BRANCH => {
                let insn = opcode(get32(place, 0), &[BRANCH], "BRANCH on a non-branch")?;
                put32(place, 0, encode_b(insn, Self::branch(f, pcrel, 13)?))
            }
            R_RISCV_RVC_BRANCH => {
                let insn = get16(place);
                if insn & 0xc003 != 0xc001 {
                    return Err(Fail::BadInstruction("RVC_BRANCH on a non c.beqz/c.bnez"));
                }
                put16(place, encode_cb(insn, Self::branch(f, pcrel, 9)?))
            }
            R_RISCV_RVC_JUMP => {
                let insn = get16(place);
                // c.j, and c.jal on RV32 (the same encoding is c.addiw on RV64).
                if insn & 0xe003 != 0xa001 && (RV64 || insn & 0xe003 != 0x2001) {
                    return Err(Fail::BadInstruction("RVC_JUMP on a non c.j/c.jal"));
                }
                put16(place, encode_cj(insn, Self::branch(f, pcrel, 12)?))
            }
            // In-place arithmetic on data (label differences, DWARF), modulo the field.
            R_RISCV_ADD8 => place[0] = place[0].wrapping_add(s_a as u8),
            R_RISCV_SUB8 => place[0] = place[0].wrapping_sub(s_a as u8),
            R_RISCV_ADD16 | R_RISCV_SUB16 => {
                let v = get16(place);
                let v = if f.rtype == R_RISCV_ADD16.0 {
                    v.wrapping_add(s_a as u16)
                } else {
                    v.wrapping_sub(s_a as u16)
                };
                put16(place, v)
            }
            R_RISCV_ADD32 | R_RISCV_SUB32 => {
                let v = get32(place, 0);
                let v = if f.rtype == R_RISCV_ADD32.0 {
                    v.wrapping_add(s_a as u32)
                } else {
                    v.wrapping_sub(s_a as u32)
                };
                put32(place, 0, v)
            }
            R_RISCV_ADD64 | R_RISCV_SUB64 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&place[..8]);
                let v = u64::from_le_bytes(b);
                let v = if f.rtype == R_RISCV_ADD64.0 {
                    v.wrapping_add(s_a as u64)
                } else {
                    v.wrapping_sub(s_a as u64)
                };
                place[..8].copy_from_slice(&v.to_le_bytes())
            }
            R_RISCV_SET6 => place[0] = (place[0] & 0xc0) | (s_a as u8 & 0x3f),
            R_RISCV_SUB6 => {
                place[0] = (place[0] & 0xc0) | (place[0].wrapping_sub(s_a as u8) & 0x3f)
            }
            R_RISCV_SET8 => place[0] = s_a as u8,
            R_RISCV_SET16 => put16(place, s_a as u16),
            R_RISCV_SET32 => put32(place, 0, s_a as u32),
            // A pair at one offset, applied in order: SET writes S + A, SUB subtracts S + A,
            // both modulo the field's 7 × length bits.
            R_RISCV_SET_ULEB128 | R_RISCV_SUB_ULEB128 => {
                if place.last().is_none_or(|b| b & 0x80 != 0) {
                    return Err(Fail::BadInstruction("unterminated ULEB128"));
                }
                let v = if f.rtype == R_RISCV_SET_ULEB128.0 {
                    s_a as u64 as u128
                } else {
                    read_uleb(place).wrapping_sub(s_a as u64 as u128)
                };
                write_uleb(place, v)
            }
            _ => return Err(Fail::BadInstruction("unsupported relocation")),
        }
        Ok(())
    }

    fn write_veneer(dst: &mut [u8], at: u64, target: u64) {
        dst.fill(0);
        let pcrel = Self::wrap((target as i64).wrapping_sub(at as i64));
        if !RV64 || check_signed(hi20(pcrel), 20).is_ok() {
            // auipc t1, hi; jalr x0, lo(t1)
            put32(dst, 0, encode_u(AUIPC | (T1 << 7), hi20(pcrel)));
            put32(dst, 4, encode_i(JALR | (T1 << 15), lo12(pcrel)));
        } else {
            // auipc t1, 0; ld t1, 16(t1); jalr x0, 0(t1); (4 bytes of padding); .dword target
            put32(dst, 0, AUIPC | (T1 << 7));
            put32(
                dst,
                4,
                encode_i(0x03 | (T1 << 7) | (3 << 12) | (T1 << 15), 16),
            );
            put32(dst, 8, JALR | (T1 << 15));
            dst[16..24].copy_from_slice(&target.to_le_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sext(v: u32, bits: u32) -> i64 {
        i64::from(((v << (32 - bits)) as i32) >> (32 - bits))
    }

    fn decode_i(insn: u32) -> i64 {
        i64::from((insn as i32) >> 20)
    }

    fn decode_s(insn: u32) -> i64 {
        sext(((insn >> 25) << 5) | ((insn >> 7) & 0x1f), 12)
    }

    fn decode_b(i: u32) -> i64 {
        let v = ((i >> 31) << 12)
            | (((i >> 7) & 1) << 11)
            | (((i >> 25) & 0x3f) << 5)
            | (((i >> 8) & 0xf) << 1);
        sext(v, 13)
    }

    fn decode_j(i: u32) -> i64 {
        let v = ((i >> 31) << 20)
            | (((i >> 12) & 0xff) << 12)
            | (((i >> 20) & 1) << 11)
            | (((i >> 21) & 0x3ff) << 1);
        sext(v, 21)
    }

    fn decode_cb(i: u16) -> i64 {
        let i = u32::from(i);
        let v = (((i >> 12) & 1) << 8)
            | (((i >> 10) & 3) << 3)
            | (((i >> 5) & 3) << 6)
            | (((i >> 3) & 3) << 1)
            | (((i >> 2) & 1) << 5);
        sext(v, 9)
    }

    fn decode_cj(i: u16) -> i64 {
        let i = u32::from(i);
        let v = (((i >> 12) & 1) << 11)
            | (((i >> 11) & 1) << 4)
            | (((i >> 9) & 3) << 8)
            | (((i >> 8) & 1) << 10)
            | (((i >> 7) & 1) << 6)
            | (((i >> 6) & 1) << 7)
            | (((i >> 3) & 7) << 1)
            | (((i >> 2) & 1) << 5);
        sext(v, 12)
    }

    /// Every even offset of a range, from the most negative to the most positive.
    fn offsets(bits: u32) -> impl Iterator<Item = i64> {
        let max = 1i64 << (bits - 1);
        (-max..max).step_by(2)
    }

    #[test]
    fn encoders_round_trip_and_keep_the_other_fields() {
        for imm in -2048..2048 {
            assert_eq!(decode_i(encode_i(0x0005_0513, imm)), imm);
            assert_eq!(encode_i(0x0005_0513, imm) & 0x000f_ffff, 0x0005_0513);
            assert_eq!(decode_s(encode_s(0x00a5_3023, imm)), imm);
            assert_eq!(encode_s(0x00a5_3023, imm) & 0x01ff_f07f, 0x00a5_3023);
        }
        for imm in offsets(13) {
            assert_eq!(decode_b(encode_b(0x0000_0463, imm)), imm);
            assert_eq!(encode_b(0x00b5_0063, imm) & 0x01ff_f07f, 0x00b5_0063);
        }
        for imm in offsets(21).step_by(37) {
            assert_eq!(decode_j(encode_j(0x0000_00ef, imm)), imm);
            assert_eq!(encode_j(0x0000_00ef, imm) & 0xfff, 0x0ef);
        }
        for imm in offsets(9) {
            assert_eq!(decode_cb(encode_cb(0xc101, imm)), imm);
            assert_eq!(encode_cb(0xc101, imm) & 0xe383, 0xc101);
        }
        for imm in offsets(12) {
            assert_eq!(decode_cj(encode_cj(0xa001, imm)), imm);
            assert_eq!(encode_cj(0xa001, imm) & 0xe003, 0xa001);
        }
    }

    #[test]
    fn encoders_match_known_instructions() {
        // From GNU as: jal ra, +0x800 / beq a0, a1, -8 / c.j +0x7fe / c.beqz a0, -2 /
        // sw a0, -4(sp).
        assert_eq!(encode_j(0x0000_00ef, 0x800), 0x0010_00ef);
        assert_eq!(encode_b(0x00b5_0063, -8), 0xfeb5_0ce3);
        assert_eq!(encode_cj(0xa001, 0x7fe), 0xaffd);
        assert_eq!(encode_cb(0xc101, -2), 0xdd7d);
        assert_eq!(encode_s(0x00a1_2023, -4), 0xfea1_2e23);
        assert_eq!(encode_u(0x0000_0537, 0x12345), 0x1234_5537);
    }

    #[test]
    fn hi20_and_lo12_rebuild_the_value() {
        for v in [
            0,
            1,
            0x7ff,
            0x800,
            0xfff,
            0x1000,
            -1,
            -0x800,
            -0x801,
            0x7fff_f7ff,
        ] {
            assert_eq!((hi20(v) << 12) + lo12(v), v, "{v:#x}");
            assert!((-2048..2048).contains(&lo12(v)));
        }
        assert_eq!(hi20(0x800), 1);
        assert_eq!(lo12(0x800), -0x800);
        // RV64: beyond ±2 GiB the upper part does not fit.
        assert!(Riscv64::upper(0x7fff_f7ff).is_ok());
        assert!(Riscv64::upper(0x7fff_f800).is_err());
        assert!(Riscv64::upper(-0x8000_0800).is_ok());
        assert!(Riscv64::upper(-0x8000_0801).is_err());
        // RV32 wraps.
        assert_eq!(Riscv32::wrap(0x1_0000_0010), 0x10);
    }

    #[test]
    fn uleb128_fields_keep_their_length() {
        let mut f = [0x80, 0x80, 0x00];
        assert_eq!(uleb_len(&f), 3);
        write_uleb(&mut f, 300);
        assert_eq!(f, [0xac, 0x82, 0x00]);
        assert_eq!(read_uleb(&f), 300);
        let mut one = [0x7f];
        write_uleb(&mut one, 0x85);
        assert_eq!(one, [0x05]);
        assert_eq!(uleb_len(&[0x80, 0x80]), 2);
    }

    fn fixup(rtype: RelocationType, p: u64, s: u64) -> Fixup {
        Fixup::plain(rtype, p, s, 0)
    }

    #[test]
    fn far_branches_use_the_veneer_or_fail() {
        let mut jal = 0x0000_00efu32.to_le_bytes();
        let mut f = fixup(R_RISCV_JAL, 0x1000, 0x1000 + (1 << 20));
        assert!(matches!(
            Riscv32::apply(&f, &mut jal),
            Err(Fail::Overflow { .. })
        ));
        f.veneer = Some(0x1100);
        Riscv32::apply(&f, &mut jal).unwrap();
        assert_eq!(decode_j(u32::from_le_bytes(jal)), 0x100);
        // A symbol plus an addend cannot go through a veneer that jumps to the symbol.
        f.a = 4;
        assert!(Riscv32::apply(&f, &mut jal).is_err());
    }

    #[test]
    fn veneers_reach_their_target() {
        let mut v = [0u8; 8];
        Riscv32::write_veneer(&mut v, 0x2000_0000, 0x1000_0804);
        let (auipc, jalr) = (get32(&v, 0), get32(&v, 4));
        assert_eq!(auipc & 0xfff, AUIPC | (T1 << 7));
        assert_eq!(jalr & 0xfffff, JALR | (T1 << 15));
        let reached = 0x2000_0000i64 + i64::from((auipc & 0xffff_f000) as i32) + decode_i(jalr);
        assert_eq!(reached, 0x1000_0804);

        let mut v = [0u8; 24];
        Riscv64::write_veneer(&mut v, 0x8000_0000, 0x8000_1000);
        assert_eq!(get32(&v, 0), 0x0000_1317); // auipc t1, 0x1
        assert_eq!(get32(&v, 4), 0x0003_0067); // jr 0(t1)
        Riscv64::write_veneer(&mut v, 0x8000_0000, 0x12_3456_7000);
        assert_eq!(get32(&v, 0), 0x0000_0317); // auipc t1, 0
        assert_eq!(get32(&v, 4), 0x0103_3303); // ld t1, 16(t1)
        assert_eq!(get32(&v, 8), 0x0003_0067); // jr 0(t1)
        assert_eq!(&v[16..], &0x12_3456_7000u64.to_le_bytes());
    }

    #[test]
    fn wrong_instructions_are_refused() {
        let mut nop = 0x0000_0013u32.to_le_bytes();
        let f = fixup(R_RISCV_JAL, 0x1000, 0x1010);
        assert!(matches!(
            Riscv64::apply(&f, &mut nop),
            Err(Fail::BadInstruction(_))
        ));
        // 0x2001 is c.jal on RV32 but c.addiw on RV64.
        let f = fixup(R_RISCV_RVC_JUMP, 0x1000, 0x1010);
        let mut c = 0x2001u16.to_le_bytes();
        assert!(Riscv32::apply(&f, &mut c).is_ok());
        let mut c = 0x2001u16.to_le_bytes();
        assert!(Riscv64::apply(&f, &mut c).is_err());
    }
}
