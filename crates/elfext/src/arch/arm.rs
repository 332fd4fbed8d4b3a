//! 32-bit ARM relocations: Thumb-2 and A32 (AAELF32, REL: addends live in the instruction
//! fields and are decoded from them).
//!
//! A symbol's address carries the Thumb bit as in its `st_value`: a Thumb function's is odd.
//! Calls interwork as GNU ld makes them: a Thumb `BL` to A32 code becomes `BLX` (target
//! aligned to 4), an A32 `BL` (`CALL`) to Thumb code becomes `BLX` with the H bit, an A32
//! `BLX` to A32 code becomes `BL`. Jumps (`THM_JUMP24`, `JUMP24`) and legacy `PC24` never
//! change instruction set by themselves: to code of the other set they go through the
//! veneer, and fail when there is none (the target is in the same extension and placed with
//! the caller; GNU ld would add a stub there). Data relocations (`ABS32`, `MOVW`, ...) use the address as is, so
//! a Thumb function's address keeps its bit 0. `TARGET1` is `ABS32` and `TARGET2` is
//! `REL32`, as for bare-metal EABI; `V4BX` leaves the `BX` alone. Position-independent code
//! uses the extension's GOT: `GOT_BREL` (slot − GOT), `GOT_PREL` (slot − P), `GOTOFF32`
//! (S + A − GOT) and `BASE_PREL` (GOT + A − P, for `_GLOBAL_OFFSET_TABLE_`). ARMv6-M
//! execute-only code builds addresses a byte at a time (`THM_ALU_ABS_G0_NC` to `G3`).
//!
//! Calls (`THM_CALL`, `CALL`, `PC24`) and tail jumps (`THM_JUMP24`, `JUMP24`) whose target
//! is out of reach (±16 MiB Thumb, ±32 MiB A32), or a jump that would have to change
//! instruction set, go through a 20-byte veneer with two entries: a Thumb-1 one (valid from
//! ARMv6-M on; saves r0 on the stack and clobbers r12, as the AAPCS allows a veneer) and an
//! A32 one (`ldr pc, [pc, #-12]`, interworking from ARMv5T on). Short Thumb branches
//! (`THM_JUMP19/11/8`) never get veneers: out of reach is an error.

use object::elf::*;

use super::{check_signed, Arch, Fail, Fixup, Howto, Need, Relocator};

/// `R_ARM_BASE_PREL` (`R_ARM_GOTPC` in `object`).
const R_ARM_BASE_PREL: RelocationType = R_ARM_GOTPC;
/// `R_ARM_GOT_BREL` (`R_ARM_GOT32` in `object`).
const R_ARM_GOT_BREL: RelocationType = R_ARM_GOT32;

/// `R_ARM_THM_ALU_ABS_G0_NC` to `G3`: byte `n` of `S + A` into the `imm8` of a Thumb-1
/// `MOVS`/`ADDS` (ARMv6-M execute-only code, `-mpure-code`); not named in `object`.
const R_ARM_THM_ALU_ABS_G0_NC: u32 = 132;
const R_ARM_THM_ALU_ABS_G3: u32 = 135;

/// What each relocation type needs, indexed by type (a table, not a branch per type).
const HOWTO: [Option<Howto>; 136] = {
    let mut t: [Option<Howto>; 136] = [None; 136];
    t[R_ARM_NONE.0 as usize] = h(Need::Skip, 0);
    t[R_ARM_V4BX.0 as usize] = h(Need::Skip, 0);
    t[R_ARM_ABS32.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_REL32.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_TLS_LE32.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_PREL31.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_TARGET1.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_TARGET2.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_BASE_PREL.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_GOT_BREL.0 as usize] = h(Need::Got, 4);
    t[R_ARM_GOTOFF.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_GOT_PREL.0 as usize] = h(Need::Got, 4);
    t[R_ARM_PC24.0 as usize] = h(Need::Branch, 4);
    t[R_ARM_CALL.0 as usize] = h(Need::Branch, 4);
    t[R_ARM_JUMP24.0 as usize] = h(Need::Branch, 4);
    t[R_ARM_THM_PC22.0 as usize] = h(Need::Branch, 4);
    t[R_ARM_THM_JUMP24.0 as usize] = h(Need::Branch, 4);
    t[R_ARM_THM_JUMP19.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_THM_PC11.0 as usize] = h(Need::Plain, 2);
    t[R_ARM_THM_PC9.0 as usize] = h(Need::Plain, 2);
    let mut g = R_ARM_THM_ALU_ABS_G0_NC;
    while g <= R_ARM_THM_ALU_ABS_G3 {
        t[g as usize] = h(Need::Plain, 2);
        g += 1;
    }
    t[R_ARM_MOVW_ABS_NC.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_MOVT_ABS.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_MOVW_PREL_NC.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_MOVT_PREL.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_THM_MOVW_ABS_NC.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_THM_MOVT_ABS.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_THM_MOVW_PREL_NC.0 as usize] = h(Need::Plain, 4);
    t[R_ARM_THM_MOVT_PREL.0 as usize] = h(Need::Plain, 4);
    t
};

use super::plain as h;

/// Sign-extend the low `bits` bits of `v`.
fn sext(v: u32, bits: u32) -> i64 {
    i64::from(((v << (32 - bits)) as i32) >> (32 - bits))
}

fn word(place: &[u8]) -> u32 {
    u32::from_le_bytes([place[0], place[1], place[2], place[3]])
}

fn put_word(place: &mut [u8], v: u32) {
    place[..4].copy_from_slice(&v.to_le_bytes());
}

/// The two halfwords of a 32-bit Thumb instruction (first, second).
fn halves(place: &[u8]) -> (u32, u32) {
    (
        u32::from(u16::from_le_bytes([place[0], place[1]])),
        u32::from(u16::from_le_bytes([place[2], place[3]])),
    )
}

fn put_halves(place: &mut [u8], (hw1, hw2): (u32, u32)) {
    place[..2].copy_from_slice(&(hw1 as u16).to_le_bytes());
    place[2..4].copy_from_slice(&(hw2 as u16).to_le_bytes());
}

/// Offset of a Thumb `BL`/`BLX`/`B.W` (encoding T4): `S:I1:I2:imm10:imm11:0`, where
/// `I1 = !(J1 ^ S)` and `I2 = !(J2 ^ S)`.
fn thm_b24(hw1: u32, hw2: u32) -> i64 {
    let s = (hw1 >> 10) & 1;
    let i1 = !((hw2 >> 13) ^ s) & 1;
    let i2 = !((hw2 >> 11) ^ s) & 1;
    let v = (s << 24) | (i1 << 23) | (i2 << 22) | ((hw1 & 0x3ff) << 12) | ((hw2 & 0x7ff) << 1);
    sext(v, 25)
}

/// Put a 25-bit offset into a Thumb `BL`/`BLX`/`B.W`, keeping the other bits.
fn set_thm_b24(hw1: u32, hw2: u32, off: i64) -> (u32, u32) {
    let v = off as u32;
    let s = (v >> 24) & 1;
    let j1 = !((v >> 23) ^ s) & 1;
    let j2 = !((v >> 22) ^ s) & 1;
    (
        (hw1 & !0x7ff) | (s << 10) | ((v >> 12) & 0x3ff),
        (hw2 & !0x2fff) | (j1 << 13) | (j2 << 11) | ((v >> 1) & 0x7ff),
    )
}

/// Offset of a conditional Thumb `B<c>.W` (encoding T3): `S:J2:J1:imm6:imm11:0`.
fn thm_b19(hw1: u32, hw2: u32) -> i64 {
    let v = (((hw1 >> 10) & 1) << 20)
        | (((hw2 >> 11) & 1) << 19)
        | (((hw2 >> 13) & 1) << 18)
        | ((hw1 & 0x3f) << 12)
        | ((hw2 & 0x7ff) << 1);
    sext(v, 21)
}

/// Put a 21-bit offset into a conditional Thumb `B<c>.W`, keeping the condition.
fn set_thm_b19(hw1: u32, hw2: u32, off: i64) -> (u32, u32) {
    let v = off as u32;
    (
        (hw1 & !0x43f) | (((v >> 20) & 1) << 10) | ((v >> 12) & 0x3f),
        (hw2 & !0x2fff) | (((v >> 18) & 1) << 13) | (((v >> 19) & 1) << 11) | ((v >> 1) & 0x7ff),
    )
}

/// The 16-bit immediate of a Thumb `MOVW`/`MOVT` (encoding T3): `imm4:i:imm3:imm8`.
fn thm_imm16(hw1: u32, hw2: u32) -> u32 {
    ((hw1 & 0xf) << 12) | (((hw1 >> 10) & 1) << 11) | (((hw2 >> 12) & 7) << 8) | (hw2 & 0xff)
}

fn set_thm_imm16(hw1: u32, hw2: u32, v: u32) -> (u32, u32) {
    (
        (hw1 & !0x040f) | ((v >> 12) & 0xf) | (((v >> 11) & 1) << 10),
        (hw2 & !0x70ff) | (((v >> 8) & 7) << 12) | (v & 0xff),
    )
}

/// The 16-bit immediate of an A32 `MOVW`/`MOVT`: `imm4:imm12`.
fn arm_imm16(insn: u32) -> u32 {
    ((insn >> 4) & 0xf000) | (insn & 0xfff)
}

fn set_arm_imm16(insn: u32, v: u32) -> u32 {
    (insn & !0x000f_0fff) | ((v & 0xf000) << 4) | (v & 0xfff)
}

/// Whether an A32 word is `BLX <imm>` (condition field `1111`).
fn is_arm_blx(insn: u32) -> bool {
    insn >> 25 == 0x7d
}

/// Offset of an A32 `B`/`BL`/`BLX <imm>`: `imm24:00`, plus `H:0` for `BLX`.
fn arm_b24(insn: u32) -> i64 {
    let h = if is_arm_blx(insn) {
        ((insn >> 24) & 1) << 1
    } else {
        0
    };
    sext(((insn & 0x00ff_ffff) << 2) | h, 26)
}

/// Where a veneer's A32 entry is (its Thumb entry is the veneer's start).
const ARM_ENTRY: u64 = 16;

/// The ARM relocator.
pub(crate) struct Arm;

/// A branch's value: `S + A - P`, or through the veneer (entry `entry`) when the target is
/// out of reach (`bits` of signed offset) or `direct` is false.
fn branch(f: &Fixup, bits: u32, direct: bool, entry: u64) -> Result<(i64, bool), Fail> {
    let x = (f.s as i64).wrapping_add(f.a).wrapping_sub(f.p as i64);
    let reach = check_signed(x, bits);
    match (direct, reach, f.veneer) {
        (true, Ok(x), _) => Ok((x, false)),
        (_, _, Some(v)) => {
            let x = ((v + entry) as i64)
                .wrapping_add(f.a)
                .wrapping_sub(f.p as i64);
            Ok((check_signed(x, bits)?, true))
        }
        (true, Err(e), None) => Err(e),
        (false, _, None) => Err(Fail::BadInstruction(
            "a jump that changes instruction set needs a veneer",
        )),
    }
}

impl Relocator for Arm {
    const ARCH: Arch = Arch::Arm;
    const VENEER_SIZE: usize = 20;
    const VENEER_ALIGN: u64 = 4;

    #[inline]
    fn howto(rtype: u32) -> Option<Howto> {
        HOWTO.get(rtype as usize).copied().flatten()
    }

    fn implicit_addend(rtype: u32, place: &[u8]) -> i64 {
        if place.len() < 2 {
            return 0;
        }
        let hw = u32::from(u16::from_le_bytes([place[0], place[1]]));
        if (R_ARM_THM_ALU_ABS_G0_NC..=R_ARM_THM_ALU_ABS_G3).contains(&rtype) {
            return i64::from(hw & 0xff);
        }
        match RelocationType(rtype) {
            R_ARM_THM_PC11 => return sext((hw & 0x7ff) << 1, 12),
            R_ARM_THM_PC9 => return sext((hw & 0xff) << 1, 9),
            _ => {}
        }
        if place.len() < 4 {
            return 0;
        }
        let insn = word(place);
        let (hw1, hw2) = halves(place);
        match RelocationType(rtype) {
            R_ARM_PREL31 => sext(insn, 31),
            R_ARM_PC24 | R_ARM_CALL | R_ARM_JUMP24 => arm_b24(insn),
            R_ARM_THM_PC22 | R_ARM_THM_JUMP24 => thm_b24(hw1, hw2),
            R_ARM_THM_JUMP19 => thm_b19(hw1, hw2),
            R_ARM_MOVW_ABS_NC | R_ARM_MOVT_ABS | R_ARM_MOVW_PREL_NC | R_ARM_MOVT_PREL => {
                sext(arm_imm16(insn), 16)
            }
            R_ARM_THM_MOVW_ABS_NC
            | R_ARM_THM_MOVT_ABS
            | R_ARM_THM_MOVW_PREL_NC
            | R_ARM_THM_MOVT_PREL => sext(thm_imm16(hw1, hw2), 16),
            _ => i64::from(insn as i32),
        }
    }

    fn apply(f: &Fixup, place: &mut [u8]) -> Result<(), Fail> {
        let s_a = (f.s as i64).wrapping_add(f.a);
        let pcrel = s_a.wrapping_sub(f.p as i64);
        let got = || {
            f.got
                .map(|g| (g as i64).wrapping_add(f.a))
                .ok_or(Fail::BadInstruction("no GOT slot"))
        };
        let thumb_target = f.s & 1 != 0;
        if (R_ARM_THM_ALU_ABS_G0_NC..=R_ARM_THM_ALU_ABS_G3).contains(&f.rtype) {
            let byte = (s_a >> (8 * (f.rtype - R_ARM_THM_ALU_ABS_G0_NC))) as u16 & 0xff;
            let hw = u16::from_le_bytes([place[0], place[1]]);
            place[..2].copy_from_slice(&((hw & !0xff) | byte).to_le_bytes());
            return Ok(());
        }
        match RelocationType(f.rtype) {
            R_ARM_NONE | R_ARM_V4BX => {}
            R_ARM_ABS32 | R_ARM_TARGET1 => put_word(place, s_a as u32),
            // Local-exec TLS: a thread-local symbol's S is already its offset from TP.
            R_ARM_TLS_LE32 => put_word(place, s_a as u32),
            R_ARM_REL32 | R_ARM_TARGET2 => put_word(place, pcrel as u32),
            R_ARM_PREL31 => {
                let v = check_signed(pcrel, 31)? as u32;
                put_word(place, (word(place) & 0x8000_0000) | (v & 0x7fff_ffff));
            }
            R_ARM_BASE_PREL => put_word(
                place,
                (f.got_base as i64)
                    .wrapping_add(f.a)
                    .wrapping_sub(f.p as i64) as u32,
            ),
            R_ARM_GOTOFF => put_word(place, s_a.wrapping_sub(f.got_base as i64) as u32),
            R_ARM_GOT_BREL => put_word(place, got()?.wrapping_sub(f.got_base as i64) as u32),
            R_ARM_GOT_PREL => put_word(place, got()?.wrapping_sub(f.p as i64) as u32),
            R_ARM_MOVW_ABS_NC => put_word(place, set_arm_imm16(word(place), s_a as u32)),
            R_ARM_MOVT_ABS => put_word(place, set_arm_imm16(word(place), (s_a >> 16) as u32)),
            R_ARM_MOVW_PREL_NC => put_word(place, set_arm_imm16(word(place), pcrel as u32)),
            R_ARM_MOVT_PREL => put_word(place, set_arm_imm16(word(place), (pcrel >> 16) as u32)),
            R_ARM_THM_MOVW_ABS_NC
            | R_ARM_THM_MOVT_ABS
            | R_ARM_THM_MOVW_PREL_NC
            | R_ARM_THM_MOVT_PREL => {
                let v = match RelocationType(f.rtype) {
                    R_ARM_THM_MOVW_ABS_NC => s_a,
                    R_ARM_THM_MOVT_ABS => s_a >> 16,
                    R_ARM_THM_MOVW_PREL_NC => pcrel,
                    _ => pcrel >> 16,
                };
                let (hw1, hw2) = halves(place);
                put_halves(place, set_thm_imm16(hw1, hw2, v as u32));
            }
            R_ARM_PC24 | R_ARM_CALL | R_ARM_JUMP24 => {
                let insn = word(place);
                // Only CALL may become BLX (GNU ld never rewrites a legacy PC24 either). A
                // jump cannot change instruction set: such a target needs the veneer.
                let call = f.rtype == R_ARM_CALL.0;
                let direct = call || !thumb_target;
                let (x, veneered) = branch(f, 26, direct, ARM_ENTRY)?;
                let insn = if call && thumb_target && !veneered {
                    // BLX <imm>: bit 1 of the offset goes into H.
                    0xfa00_0000 | (((x as u32 >> 1) & 1) << 24) | ((x as u32 >> 2) & 0x00ff_ffff)
                } else {
                    if x & 3 != 0 {
                        return Err(Fail::BadInstruction("A32 branch to a misaligned target"));
                    }
                    // BLX <imm> to A32 code becomes BL.
                    let insn = if is_arm_blx(insn) { 0xeb00_0000 } else { insn };
                    (insn & 0xff00_0000) | ((x as u32 >> 2) & 0x00ff_ffff)
                };
                put_word(place, insn);
            }
            R_ARM_THM_PC22 => {
                let (x, veneered) = branch(f, 25, true, 0)?;
                let (hw1, hw2) = halves(place);
                let (x, hw2) = if thumb_target || veneered {
                    (x, hw2 | 0x1000) // BL
                } else {
                    // BLX: relative to the instruction's address aligned down to 4.
                    (check_signed((x + 2) & !3, 25)?, hw2 & !0x1000)
                };
                put_halves(place, set_thm_b24(hw1, hw2, x));
            }
            R_ARM_THM_JUMP24 => {
                let (x, _) = branch(f, 25, thumb_target, 0)?;
                let (hw1, hw2) = halves(place);
                put_halves(place, set_thm_b24(hw1, hw2, x));
            }
            R_ARM_THM_JUMP19 => {
                let x = check_signed(pcrel, 21)?;
                let (hw1, hw2) = halves(place);
                put_halves(place, set_thm_b19(hw1, hw2, x));
            }
            R_ARM_THM_PC11 => {
                let x = check_signed(pcrel, 12)? as u32;
                let hw = u16::from_le_bytes([place[0], place[1]]) as u32;
                let hw = (hw & !0x7ff) | ((x >> 1) & 0x7ff);
                place[..2].copy_from_slice(&(hw as u16).to_le_bytes());
            }
            R_ARM_THM_PC9 => {
                let x = check_signed(pcrel, 9)? as u32;
                let hw = u16::from_le_bytes([place[0], place[1]]) as u32;
                let hw = (hw & !0xff) | ((x >> 1) & 0xff);
                place[..2].copy_from_slice(&(hw as u16).to_le_bytes());
            }
            _ => return Err(Fail::BadInstruction("unsupported relocation")),
        }
        Ok(())
    }

    fn write_veneer(dst: &mut [u8], _at: u64, target: u64) {
        // Thumb entry: push {r0}; ldr r0, [pc, #8]; mov ip, r0; pop {r0}; bx ip; nop.
        for (i, hw) in [0xb401u16, 0x4802, 0x4684, 0xbc01, 0x4760, 0xbf00]
            .iter()
            .enumerate()
        {
            dst[2 * i..2 * i + 2].copy_from_slice(&hw.to_le_bytes());
        }
        // The target, with its Thumb bit; then the A32 entry: ldr pc, [pc, #-12].
        dst[12..16].copy_from_slice(&(target as u32).to_le_bytes());
        dst[16..20].copy_from_slice(&0xe51f_f00cu32.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumb_bl_offsets_round_trip() {
        // bl . (offset -4): f7ff fffe.
        assert_eq!(thm_b24(0xf7ff, 0xfffe), -4);
        assert_eq!(set_thm_b24(0xf000, 0xf800, -4), (0xf7ff, 0xfffe));
        for off in [
            0i64,
            2,
            -2,
            0x1234,
            -0x1234,
            (1 << 24) - 2,
            -(1 << 24),
            0x40_0000,
        ] {
            let (a, b) = set_thm_b24(0xf000, 0xd000, off);
            assert_eq!(thm_b24(a, b), off, "{off:#x}");
            assert_eq!(b & 0xd000, 0xd000, "BL bits kept");
            // B.W keeps bit 12 set and bit 14 clear.
            let (a, b) = set_thm_b24(0xf000, 0x9000, off);
            assert_eq!((thm_b24(a, b), b & 0xd000), (off, 0x9000));
        }
    }

    #[test]
    fn thumb_conditional_branch_offsets_round_trip() {
        // beq.w . (cond 0): f000 8000 + fields of -4 = f43f affe.
        assert_eq!(thm_b19(0xf43f, 0xaffe), -4);
        for off in [0i64, 2, -4, 0x7_fffe, -0x10_0000, 0x1234] {
            let (a, b) = set_thm_b19(0xf180, 0x8000, off); // cond 6
            assert_eq!(thm_b19(a, b), off, "{off:#x}");
            assert_eq!((a >> 6) & 0xf, 6, "condition kept");
        }
    }

    #[test]
    fn movw_movt_immediates_round_trip() {
        for v in [0u32, 1, 0xffff, 0x8000, 0x1234, 0xabcd, 0x0800, 0x0700] {
            let (a, b) = set_thm_imm16(0xf240, 0x0300, v); // movw r3, #0
            assert_eq!(thm_imm16(a, b), v);
            assert_eq!(
                (a & 0xfbf0, b & 0x8f00),
                (0xf240, 0x0300),
                "opcode, Rd kept"
            );
            let insn = set_arm_imm16(0xe300_3000, v); // movw r3, #0
            assert_eq!(arm_imm16(insn), v);
            assert_eq!(insn & 0xfff0_f000, 0xe300_3000);
        }
    }

    #[test]
    fn a32_branch_offsets_and_addends() {
        // bl . : ebfffffe (offset -8).
        assert_eq!(arm_b24(0xebff_fffe), -8);
        // blx with H set: fbfffffe: -8 + 2.
        assert_eq!(arm_b24(0xfbff_fffe), -6);
        let bytes = 0xeaff_fffeu32.to_le_bytes();
        assert_eq!(Arm::implicit_addend(R_ARM_JUMP24.0, &bytes), -8);
        let bytes = [0xfe, 0xe7]; // b.n . : -4
        assert_eq!(Arm::implicit_addend(R_ARM_THM_PC11.0, &bytes), -4);
        let bytes = [0xfe, 0xd0]; // beq.n . : -4
        assert_eq!(Arm::implicit_addend(R_ARM_THM_PC9.0, &bytes), -4);
        let bytes = 0x7fff_fff0u32.to_le_bytes();
        assert_eq!(Arm::implicit_addend(R_ARM_PREL31.0, &bytes), -16);
    }

    fn fixup(rtype: RelocationType, p: u64, s: u64, a: i64) -> Fixup {
        Fixup::plain(rtype, p, s, a)
    }

    #[test]
    fn calls_interwork() {
        // Thumb BL to A32 code at 0x2000 from 0x1002: BLX, offset from 0x1004 aligned.
        let mut place = [0u8; 4];
        put_halves(&mut place, (0xf7ff, 0xfffe));
        Arm::apply(&fixup(R_ARM_THM_PC22, 0x1002, 0x2000, -4), &mut place).unwrap();
        let (a, b) = halves(&place);
        assert_eq!(b & 0x1000, 0, "BLX");
        assert_eq!(0x1004 + thm_b24(a, b), 0x2000);
        // A32 BL to Thumb code at 0x2003 from 0x1000: BLX with H.
        let mut place = 0xebff_fffeu32.to_le_bytes();
        Arm::apply(&fixup(R_ARM_CALL, 0x1000, 0x2003, -8), &mut place).unwrap();
        let insn = word(&place);
        assert!(is_arm_blx(insn));
        assert_eq!(0x1008 + arm_b24(insn), 0x2002);
        // An A32 jump, or legacy PC24 BL, to Thumb code without a veneer is refused.
        for (rtype, insn) in [(R_ARM_JUMP24, 0xeaff_fffeu32), (R_ARM_PC24, 0xebff_fffe)] {
            let mut place = insn.to_le_bytes();
            let f = fixup(rtype, 0x1000, 0x2003, -8);
            assert!(matches!(
                Arm::apply(&f, &mut place),
                Err(Fail::BadInstruction(_))
            ));
            // With a veneer it goes to the veneer's A32 entry, keeping the instruction.
            let f = Fixup {
                veneer: Some(0x3000),
                ..f
            };
            Arm::apply(&f, &mut place).unwrap();
            assert_eq!(word(&place) >> 24, insn >> 24);
            assert_eq!(0x1008 + arm_b24(word(&place)), 0x3000 + ARM_ENTRY as i64);
        }
    }

    #[test]
    fn alu_bytes_round_trip() {
        // adds r0, #0x7f: the addend is the immediate, unshifted.
        let mut place = 0x307fu16.to_le_bytes();
        for (g, byte) in
            (R_ARM_THM_ALU_ABS_G0_NC..=R_ARM_THM_ALU_ABS_G3).zip([0x7e, 0x12, 0x34, 0x56])
        {
            let a = Arm::implicit_addend(g, &place);
            assert_eq!(a, 0x7f);
            let f = Fixup {
                rtype: g,
                ..fixup(R_ARM_NONE, 0, 0x5634_11ff, a)
            };
            let mut p = place;
            Arm::apply(&f, &mut p).unwrap();
            assert_eq!(u16::from_le_bytes(p), 0x3000 | byte, "byte {g}");
        }
        place = 0x2100u16.to_le_bytes(); // movs r1, #0
        assert_eq!(Arm::implicit_addend(R_ARM_THM_ALU_ABS_G3, &place), 0);
    }

    #[test]
    fn short_thumb_branches_check_their_range() {
        let mut place = [0xfe, 0xe7];
        Arm::apply(
            &fixup(R_ARM_THM_PC11, 0x1000, 0x1000 + 2050, -4),
            &mut place,
        )
        .unwrap();
        assert_eq!(u16::from_le_bytes(place), 0xe000 | (2046 >> 1));
        let f = fixup(R_ARM_THM_PC11, 0x1000, 0x1000 + 2052, -4);
        assert!(matches!(
            Arm::apply(&f, &mut place),
            Err(Fail::Overflow { value: 2048, .. })
        ));
    }
}
