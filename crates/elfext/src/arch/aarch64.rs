//! AArch64 relocations (ELF for the Arm 64-bit Architecture, AAELF64; RELA).
//!
//! Each relocation computes X from S (symbol), A (addend), P (place) and, for GOT loads,
//! G (the symbol's slot in the extension's GOT), with `Page(x) = x & !0xfff`, checks X
//! against the range the ABI gives and writes it into an instruction field, little-endian.
//! GOT loads (`ADR_GOT_PAGE` + `LD64_GOT_LO12_NC`, and the tiny model's `GOT_LD_PREL19`)
//! read a slot of the extension's own GOT. Calls and tail calls (`CALL26`, `JUMP26`) whose
//! target is further than ±128 MiB go through a 16-byte veneer: `ldr x16, #8; br x16;
//! .quad target` (x16 is IP0, which the ABI leaves to veneers).

use object::elf::*;

use super::{check_signed, Arch, Fail, Fixup, Howto, Need, Relocator};

/// The AArch64 relocator.
pub(crate) struct Aarch64;

use super::plain as h;

/// `Page(x)`: the address of the 4 KiB page holding `x`.
fn page(x: i64) -> i64 {
    x & !0xfff
}

/// Check that `value` lies in `[min, max]`.
fn within(value: i64, min: i64, max: i64) -> Result<i64, Fail> {
    if value < min || value > max {
        Err(Fail::Overflow { value, min, max })
    } else {
        Ok(value)
    }
}

/// Check that the low `bits` bits of `value` are zero.
fn aligned(value: i64, bits: u32, problem: &'static str) -> Result<i64, Fail> {
    if value & ((1 << bits) - 1) != 0 {
        Err(Fail::BadInstruction(problem))
    } else {
        Ok(value)
    }
}

/// Replace the bits of `insn` selected by `mask` with `field << shift`.
fn insert(insn: u32, field: u32, shift: u32, mask: u32) -> u32 {
    (insn & !mask) | ((field << shift) & mask)
}

/// Branch offset into the `imm26` field of `B` / `BL` (bits 25:0, in words).
fn encode_imm26(insn: u32, x: i64) -> u32 {
    insert(insn, (x >> 2) as u32, 0, 0x03ff_ffff)
}

/// Offset into the `imm19` field of `B.cond`, `CBZ`, `LDR (literal)` (bits 23:5, in words).
fn encode_imm19(insn: u32, x: i64) -> u32 {
    insert(insn, (x >> 2) as u32, 5, 0x00ff_ffe0)
}

/// Offset into the `imm14` field of `TBZ` / `TBNZ` (bits 18:5, in words).
fn encode_imm14(insn: u32, x: i64) -> u32 {
    insert(insn, (x >> 2) as u32, 5, 0x0007_ffe0)
}

/// A 21-bit value into `ADR` / `ADRP`: `immlo` (bits 30:29) and `immhi` (bits 23:5).
fn encode_adr(insn: u32, imm: i64) -> u32 {
    let imm = imm as u32;
    let lo = insert(insn, imm & 3, 29, 0x6000_0000);
    insert(lo, imm >> 2, 5, 0x00ff_ffe0)
}

/// The `imm12` field of `ADD (immediate)` and `LDR`/`STR (unsigned offset)` (bits 21:10).
fn encode_imm12(insn: u32, imm: i64) -> u32 {
    insert(insn, imm as u32, 10, 0x003f_fc00)
}

/// The `imm16` field of `MOVZ` / `MOVN` / `MOVK` (bits 20:5) from bits `[shift+15:shift]`.
fn encode_movw(insn: u32, x: i64, shift: u32) -> u32 {
    insert(insn, ((x >> shift) & 0xffff) as u32, 5, 0x001f_ffe0)
}

/// A signed group: `MOVZ` with X when X ≥ 0, else `MOVN` with !X (opc, bits 30:29).
fn encode_movnz(insn: u32, x: i64, shift: u32) -> u32 {
    if x < 0 {
        encode_movw(insn & !0x6000_0000, !x, shift)
    } else {
        encode_movw((insn & !0x6000_0000) | 0x4000_0000, x, shift)
    }
}

fn read32(place: &[u8]) -> u32 {
    u32::from_le_bytes([place[0], place[1], place[2], place[3]])
}

fn write32(place: &mut [u8], v: u32) {
    place[..4].copy_from_slice(&v.to_le_bytes());
}

/// The slot a GOT relocation reads. Slots hold a symbol's address; an addend would ask
/// for a slot holding S+A, which the extension's GOT does not have.
fn got_slot(f: &Fixup) -> Result<i64, Fail> {
    if f.a != 0 {
        return Err(Fail::BadInstruction("GOT relocation with an addend"));
    }
    f.got
        .map(|g| g as i64)
        .ok_or(Fail::BadInstruction("no GOT slot"))
}

impl Relocator for Aarch64 {
    const ARCH: Arch = Arch::Aarch64;
    const VENEER_SIZE: usize = 16;
    const VENEER_ALIGN: u64 = 16;

    fn howto(rtype: u32) -> Option<Howto> {
        match RelocationType(rtype) {
            R_AARCH64_NONE => h(Need::Skip, 0),
            R_AARCH64_ABS64 | R_AARCH64_PREL64 => h(Need::Plain, 8),
            R_AARCH64_ABS16 | R_AARCH64_PREL16 => h(Need::Plain, 2),
            R_AARCH64_CALL26 | R_AARCH64_JUMP26 => h(Need::Branch, 4),
            R_AARCH64_ADR_GOT_PAGE | R_AARCH64_LD64_GOT_LO12_NC | R_AARCH64_GOT_LD_PREL19 => {
                h(Need::Got, 4)
            }
            R_AARCH64_ABS32
            | R_AARCH64_PREL32
            | R_AARCH64_MOVW_UABS_G0
            | R_AARCH64_MOVW_UABS_G0_NC
            | R_AARCH64_MOVW_UABS_G1
            | R_AARCH64_MOVW_UABS_G1_NC
            | R_AARCH64_MOVW_UABS_G2
            | R_AARCH64_MOVW_UABS_G2_NC
            | R_AARCH64_MOVW_UABS_G3
            | R_AARCH64_MOVW_SABS_G0
            | R_AARCH64_MOVW_SABS_G1
            | R_AARCH64_MOVW_SABS_G2
            | R_AARCH64_MOVW_PREL_G0
            | R_AARCH64_MOVW_PREL_G0_NC
            | R_AARCH64_MOVW_PREL_G1
            | R_AARCH64_MOVW_PREL_G1_NC
            | R_AARCH64_MOVW_PREL_G2
            | R_AARCH64_MOVW_PREL_G2_NC
            | R_AARCH64_MOVW_PREL_G3
            | R_AARCH64_LD_PREL_LO19
            | R_AARCH64_ADR_PREL_LO21
            | R_AARCH64_ADR_PREL_PG_HI21
            | R_AARCH64_ADR_PREL_PG_HI21_NC
            | R_AARCH64_ADD_ABS_LO12_NC
            | R_AARCH64_LDST8_ABS_LO12_NC
            | R_AARCH64_LDST16_ABS_LO12_NC
            | R_AARCH64_LDST32_ABS_LO12_NC
            | R_AARCH64_LDST64_ABS_LO12_NC
            | R_AARCH64_LDST128_ABS_LO12_NC
            | R_AARCH64_TSTBR14
            | R_AARCH64_CONDBR19
            | R_AARCH64_TLSLE_MOVW_TPREL_G2
            | R_AARCH64_TLSLE_MOVW_TPREL_G1
            | R_AARCH64_TLSLE_MOVW_TPREL_G1_NC
            | R_AARCH64_TLSLE_MOVW_TPREL_G0
            | R_AARCH64_TLSLE_MOVW_TPREL_G0_NC
            | R_AARCH64_TLSLE_ADD_TPREL_HI12
            | R_AARCH64_TLSLE_ADD_TPREL_LO12
            | R_AARCH64_TLSLE_ADD_TPREL_LO12_NC
            | R_AARCH64_TLSLE_LDST8_TPREL_LO12
            | R_AARCH64_TLSLE_LDST8_TPREL_LO12_NC
            | R_AARCH64_TLSLE_LDST16_TPREL_LO12
            | R_AARCH64_TLSLE_LDST16_TPREL_LO12_NC
            | R_AARCH64_TLSLE_LDST32_TPREL_LO12
            | R_AARCH64_TLSLE_LDST32_TPREL_LO12_NC
            | R_AARCH64_TLSLE_LDST64_TPREL_LO12
            | R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC
            | R_AARCH64_TLSLE_LDST128_TPREL_LO12
            | R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC => h(Need::Plain, 4),
            _ => None,
        }
    }

    fn implicit_addend(rtype: u32, place: &[u8]) -> i64 {
        // AArch64 objects use RELA; a REL entry's addend is the data it patches (an
        // instruction field carries none).
        match RelocationType(rtype) {
            R_AARCH64_ABS64 | R_AARCH64_PREL64 => {
                i64::from_le_bytes(place.try_into().unwrap_or_default())
            }
            R_AARCH64_ABS32 | R_AARCH64_PREL32 => {
                i64::from(i32::from_le_bytes(place.try_into().unwrap_or_default()))
            }
            R_AARCH64_ABS16 | R_AARCH64_PREL16 => {
                i64::from(i16::from_le_bytes(place.try_into().unwrap_or_default()))
            }
            _ => 0,
        }
    }

    fn apply(f: &Fixup, place: &mut [u8]) -> Result<(), Fail> {
        let s_a = (f.s as i64).wrapping_add(f.a);
        let p = f.p as i64;
        let pcrel = s_a.wrapping_sub(p);
        let rtype = RelocationType(f.rtype);
        // Data.
        match rtype {
            R_AARCH64_NONE => return Ok(()),
            R_AARCH64_ABS64 => {
                place[..8].copy_from_slice(&s_a.to_le_bytes());
                return Ok(());
            }
            R_AARCH64_PREL64 => {
                place[..8].copy_from_slice(&pcrel.to_le_bytes());
                return Ok(());
            }
            R_AARCH64_ABS32 | R_AARCH64_PREL32 => {
                let x = if rtype == R_AARCH64_ABS32 { s_a } else { pcrel };
                let v = within(x, -(1 << 31), (1 << 32) - 1)?;
                write32(place, v as u32);
                return Ok(());
            }
            R_AARCH64_ABS16 | R_AARCH64_PREL16 => {
                let x = if rtype == R_AARCH64_ABS16 { s_a } else { pcrel };
                let v = within(x, -(1 << 15), (1 << 16) - 1)?;
                place[..2].copy_from_slice(&(v as u16).to_le_bytes());
                return Ok(());
            }
            _ => {}
        }
        // Instructions.
        let insn = read32(place);
        let patched = match rtype {
            R_AARCH64_CALL26 | R_AARCH64_JUMP26 => {
                let x = match (check_signed(pcrel, 28), f.veneer) {
                    (Ok(x), _) => x,
                    // The veneer jumps to S itself, so only a branch to S may use it.
                    (Err(_), Some(veneer)) if f.a == 0 => {
                        check_signed((veneer as i64).wrapping_sub(p), 28)?
                    }
                    (Err(e), _) => return Err(e),
                };
                encode_imm26(insn, aligned(x, 2, "branch target is not 4-byte aligned")?)
            }
            R_AARCH64_CONDBR19 | R_AARCH64_LD_PREL_LO19 => {
                let x = aligned(check_signed(pcrel, 21)?, 2, "target is not 4-byte aligned")?;
                encode_imm19(insn, x)
            }
            R_AARCH64_TSTBR14 => {
                let x = aligned(check_signed(pcrel, 16)?, 2, "target is not 4-byte aligned")?;
                encode_imm14(insn, x)
            }
            R_AARCH64_ADR_PREL_LO21 => encode_adr(insn, check_signed(pcrel, 21)?),
            R_AARCH64_ADR_PREL_PG_HI21 => {
                let x = check_signed(page(s_a).wrapping_sub(page(p)), 33)?;
                encode_adr(insn, x >> 12)
            }
            R_AARCH64_ADR_PREL_PG_HI21_NC => {
                encode_adr(insn, page(s_a).wrapping_sub(page(p)) >> 12)
            }
            R_AARCH64_ADR_GOT_PAGE => {
                let x = check_signed(page(got_slot(f)?).wrapping_sub(page(p)), 33)?;
                encode_adr(insn, x >> 12)
            }
            R_AARCH64_LD64_GOT_LO12_NC => encode_imm12(insn, (got_slot(f)? & 0xfff) >> 3),
            // `ldr xN, <slot>` in the tiny code model.
            R_AARCH64_GOT_LD_PREL19 => {
                encode_imm19(insn, check_signed(got_slot(f)?.wrapping_sub(p), 21)?)
            }
            R_AARCH64_ADD_ABS_LO12_NC | R_AARCH64_LDST8_ABS_LO12_NC => {
                encode_imm12(insn, s_a & 0xfff)
            }
            R_AARCH64_LDST16_ABS_LO12_NC
            | R_AARCH64_LDST32_ABS_LO12_NC
            | R_AARCH64_LDST64_ABS_LO12_NC
            | R_AARCH64_LDST128_ABS_LO12_NC => {
                let scale = match rtype {
                    R_AARCH64_LDST16_ABS_LO12_NC => 1,
                    R_AARCH64_LDST32_ABS_LO12_NC => 2,
                    R_AARCH64_LDST64_ABS_LO12_NC => 3,
                    _ => 4,
                };
                let lo = aligned(
                    s_a & 0xfff,
                    scale,
                    "address is not a multiple of the access size",
                )?;
                encode_imm12(insn, lo >> scale)
            }
            // Unsigned groups: the immediate only; the instruction stays as written.
            R_AARCH64_MOVW_UABS_G0 => encode_movw(insn, within(s_a, 0, 0xffff)?, 0),
            R_AARCH64_MOVW_UABS_G1 => encode_movw(insn, within(s_a, 0, (1 << 32) - 1)?, 16),
            R_AARCH64_MOVW_UABS_G2 => encode_movw(insn, within(s_a, 0, (1 << 48) - 1)?, 32),
            R_AARCH64_MOVW_UABS_G0_NC => encode_movw(insn, s_a, 0),
            R_AARCH64_MOVW_UABS_G1_NC => encode_movw(insn, s_a, 16),
            R_AARCH64_MOVW_UABS_G2_NC => encode_movw(insn, s_a, 32),
            R_AARCH64_MOVW_UABS_G3 => encode_movw(insn, s_a, 48),
            // Signed groups: MOVZ or MOVN by the sign of X.
            R_AARCH64_MOVW_SABS_G0 => encode_movnz(insn, check_signed(s_a, 17)?, 0),
            R_AARCH64_MOVW_SABS_G1 => encode_movnz(insn, check_signed(s_a, 33)?, 16),
            R_AARCH64_MOVW_SABS_G2 => encode_movnz(insn, check_signed(s_a, 49)?, 32),
            R_AARCH64_MOVW_PREL_G0 => encode_movnz(insn, check_signed(pcrel, 17)?, 0),
            R_AARCH64_MOVW_PREL_G1 => encode_movnz(insn, check_signed(pcrel, 33)?, 16),
            R_AARCH64_MOVW_PREL_G2 => encode_movnz(insn, check_signed(pcrel, 49)?, 32),
            R_AARCH64_MOVW_PREL_G3 => encode_movnz(insn, pcrel, 48),
            // Their MOVK companions: the immediate only.
            R_AARCH64_MOVW_PREL_G0_NC => encode_movw(insn, pcrel, 0),
            R_AARCH64_MOVW_PREL_G1_NC => encode_movw(insn, pcrel, 16),
            R_AARCH64_MOVW_PREL_G2_NC => encode_movw(insn, pcrel, 32),
            // Local-exec TLS: a thread-local symbol's S is already TPREL(S), its offset from
            // the thread pointer.
            R_AARCH64_TLSLE_MOVW_TPREL_G2 => encode_movnz(insn, check_signed(s_a, 49)?, 32),
            R_AARCH64_TLSLE_MOVW_TPREL_G1 => encode_movnz(insn, check_signed(s_a, 33)?, 16),
            R_AARCH64_TLSLE_MOVW_TPREL_G0 => encode_movnz(insn, check_signed(s_a, 17)?, 0),
            R_AARCH64_TLSLE_MOVW_TPREL_G1_NC => encode_movw(insn, s_a, 16),
            R_AARCH64_TLSLE_MOVW_TPREL_G0_NC => encode_movw(insn, s_a, 0),
            R_AARCH64_TLSLE_ADD_TPREL_HI12 => {
                encode_imm12(insn, within(s_a, 0, (1 << 24) - 1)? >> 12)
            }
            R_AARCH64_TLSLE_ADD_TPREL_LO12 => encode_imm12(insn, within(s_a, 0, 0xfff)?),
            R_AARCH64_TLSLE_ADD_TPREL_LO12_NC => encode_imm12(insn, s_a & 0xfff),
            R_AARCH64_TLSLE_LDST8_TPREL_LO12
            | R_AARCH64_TLSLE_LDST8_TPREL_LO12_NC
            | R_AARCH64_TLSLE_LDST16_TPREL_LO12
            | R_AARCH64_TLSLE_LDST16_TPREL_LO12_NC
            | R_AARCH64_TLSLE_LDST32_TPREL_LO12
            | R_AARCH64_TLSLE_LDST32_TPREL_LO12_NC
            | R_AARCH64_TLSLE_LDST64_TPREL_LO12
            | R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC
            | R_AARCH64_TLSLE_LDST128_TPREL_LO12
            | R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC => {
                let (scale, checked) = match rtype {
                    R_AARCH64_TLSLE_LDST8_TPREL_LO12 => (0, true),
                    R_AARCH64_TLSLE_LDST8_TPREL_LO12_NC => (0, false),
                    R_AARCH64_TLSLE_LDST16_TPREL_LO12 => (1, true),
                    R_AARCH64_TLSLE_LDST16_TPREL_LO12_NC => (1, false),
                    R_AARCH64_TLSLE_LDST32_TPREL_LO12 => (2, true),
                    R_AARCH64_TLSLE_LDST32_TPREL_LO12_NC => (2, false),
                    R_AARCH64_TLSLE_LDST64_TPREL_LO12 => (3, true),
                    R_AARCH64_TLSLE_LDST64_TPREL_LO12_NC => (3, false),
                    R_AARCH64_TLSLE_LDST128_TPREL_LO12 => (4, true),
                    _ => (4, false),
                };
                let x = if checked {
                    within(s_a, 0, 0xfff)?
                } else {
                    s_a & 0xfff
                };
                let lo = aligned(x, scale, "offset is not a multiple of the access size")?;
                encode_imm12(insn, lo >> scale)
            }
            _ => return Err(Fail::BadInstruction("unsupported relocation")),
        };
        write32(place, patched);
        Ok(())
    }

    fn write_veneer(dst: &mut [u8], _at: u64, target: u64) {
        // ldr x16, #8; br x16; .quad target
        dst[..4].copy_from_slice(&0x5800_0050u32.to_le_bytes());
        dst[4..8].copy_from_slice(&0xd61f_0200u32.to_le_bytes());
        dst[8..16].copy_from_slice(&target.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixup(rtype: RelocationType, p: u64, s: u64, a: i64) -> Fixup {
        Fixup::plain(rtype, p, s, a)
    }

    /// Apply one relocation to `insn` and return the patched word.
    fn patch(f: &Fixup, insn: u32) -> Result<u32, Fail> {
        let mut place = insn.to_le_bytes();
        Aarch64::apply(f, &mut place)?;
        Ok(u32::from_le_bytes(place))
    }

    #[test]
    fn tls_local_exec_fields() {
        // S is the TP offset; P plays no part.
        let f = |r, s| fixup(r, 0x1000, s, 0);
        // add x1, x0, #:tprel_hi12:x, lsl #12
        let hi = patch(&f(R_AARCH64_TLSLE_ADD_TPREL_HI12, 0x12_3456), 0x9140_0001).unwrap();
        assert_eq!(hi, 0x9140_0001 | 0x123 << 10);
        assert!(patch(&f(R_AARCH64_TLSLE_ADD_TPREL_HI12, 1 << 24), 0x9140_0001).is_err());
        assert!(patch(&f(R_AARCH64_TLSLE_ADD_TPREL_LO12, 0x1000), 0x9100_0021).is_err());
        let nc = patch(&f(R_AARCH64_TLSLE_ADD_TPREL_LO12_NC, 0x1010), 0x9100_0021).unwrap();
        assert_eq!(nc, 0x9100_0021 | 0x10 << 10);
        // ldr q4, [x0]: the offset in 16-byte units, which it must be a multiple of.
        let q = patch(&f(R_AARCH64_TLSLE_LDST128_TPREL_LO12, 0x20), 0x3dc0_0004).unwrap();
        assert_eq!(q, 0x3dc0_0004 | 2 << 10);
        assert!(patch(&f(R_AARCH64_TLSLE_LDST128_TPREL_LO12_NC, 0x28), 0x3dc0_0004).is_err());
        // movz x3, #:tprel_g0:x checks its range; the _NC MOVK does not.
        assert!(patch(&f(R_AARCH64_TLSLE_MOVW_TPREL_G0, 1 << 16), 0xd280_0003).is_err());
        let k = patch(&f(R_AARCH64_TLSLE_MOVW_TPREL_G0_NC, 0x1_2345), 0xf280_0003).unwrap();
        assert_eq!(k, 0xf280_0003 | 0x2345 << 5);
    }

    #[test]
    fn branch_fields() {
        // bl #+0x1000 and b #-4 (encodings from the Arm ARM).
        assert_eq!(encode_imm26(0x9400_0000, 0x1000), 0x9400_0400);
        assert_eq!(encode_imm26(0x1400_0000, -4), 0x17ff_ffff);
        // b.eq #+0x20, cbz x0 #-8, ldr x1 literal #+0x100.
        assert_eq!(encode_imm19(0x5400_0000, 0x20), 0x5400_0100);
        assert_eq!(encode_imm19(0xb400_0000, -8), 0xb4ff_ffc0);
        assert_eq!(encode_imm19(0x5800_0001, 0x100), 0x5800_0801);
        // tbz w0, #0, #+0x10 and #-4.
        assert_eq!(encode_imm14(0x3600_0000, 0x10), 0x3600_0080);
        assert_eq!(encode_imm14(0x3600_0000, -4), 0x3607_ffe0);
    }

    #[test]
    fn adr_fields() {
        // adr x0, #+5: immlo = 1, immhi = 1.
        assert_eq!(encode_adr(0x1000_0000, 5), 0x3000_0020);
        // adr x0, #-1: all ones.
        assert_eq!(encode_adr(0x1000_0000, -1), 0x70ff_ffe0);
        // adrp x0, page +1.
        assert_eq!(encode_adr(0x9000_0000, 1), 0xb000_0000);
    }

    #[test]
    fn imm12_and_move_wide_fields() {
        // add x0, x0, #0xabc
        assert_eq!(encode_imm12(0x9100_0000, 0xabc), 0x912a_f000);
        // movz x0, #0x1234 and movk x0, #0x5678, lsl #16.
        assert_eq!(encode_movw(0xd280_0000, 0x1234, 0), 0xd282_4680);
        assert_eq!(encode_movw(0xf2a0_0000, 0x5678_0000, 16), 0xf2aa_cf00);
        // A negative value turns movz into movn with the complement; a positive one back.
        assert_eq!(encode_movnz(0xd280_0000, -0x1234, 0), 0x9282_4660);
        assert_eq!(encode_movnz(0x9280_0000, 0x10, 0), 0xd280_0200);
    }

    #[test]
    fn page_relative_addresses() {
        // adrp at 0x1ffc to 0x3008 is two pages on; the low 12 bits go to add.
        let f = fixup(R_AARCH64_ADR_PREL_PG_HI21, 0x1ffc, 0x3000, 8);
        assert_eq!(patch(&f, 0x9000_0000).unwrap(), encode_adr(0x9000_0000, 2));
        let f = fixup(R_AARCH64_ADD_ABS_LO12_NC, 0x2000, 0x3000, 8);
        assert_eq!(patch(&f, 0x9100_0000).unwrap(), 0x9100_2000);
        // ldr x0, [x0, #0x10] scales by 8.
        let f = fixup(R_AARCH64_LDST64_ABS_LO12_NC, 0, 0x1010, 0);
        assert_eq!(patch(&f, 0xf940_0000).unwrap(), 0xf940_0800);
    }

    #[test]
    fn ranges_and_alignment_are_checked() {
        let far = fixup(R_AARCH64_CALL26, 0, 1 << 27, 0);
        assert!(matches!(
            patch(&far, 0x9400_0000),
            Err(Fail::Overflow { max, .. }) if max == (1 << 27) - 1
        ));
        let near = fixup(R_AARCH64_CALL26, 0, (1 << 27) - 4, 0);
        assert_eq!(patch(&near, 0x9400_0000).unwrap(), 0x95ff_ffff);
        let odd = fixup(R_AARCH64_CALL26, 0, 2, 0);
        assert!(matches!(
            patch(&odd, 0x9400_0000),
            Err(Fail::BadInstruction(_))
        ));
        let adr = fixup(R_AARCH64_ADR_PREL_LO21, 0, 1 << 20, 0);
        assert!(matches!(
            patch(&adr, 0x1000_0000),
            Err(Fail::Overflow { .. })
        ));
        let ld = fixup(R_AARCH64_LDST32_ABS_LO12_NC, 0, 0x1002, 0);
        assert!(matches!(
            patch(&ld, 0xb940_0000),
            Err(Fail::BadInstruction(_))
        ));
        let movw = fixup(R_AARCH64_MOVW_UABS_G0, 0, 0x1_0000, 0);
        assert!(matches!(
            patch(&movw, 0xd280_0000),
            Err(Fail::Overflow { .. })
        ));
        let abs16 = fixup(R_AARCH64_ABS16, 0, 0, -0x8000);
        let mut place = [0u8; 2];
        Aarch64::apply(&abs16, &mut place).unwrap();
        assert_eq!(place, [0x00, 0x80]);
        let abs16 = fixup(R_AARCH64_ABS16, 0, 0, -0x8001);
        assert!(matches!(
            Aarch64::apply(&abs16, &mut place),
            Err(Fail::Overflow { .. })
        ));
    }

    #[test]
    fn far_calls_use_the_veneer() {
        let mut f = fixup(R_AARCH64_CALL26, 0x1000, 1 << 40, 0);
        f.veneer = Some(0x2000);
        assert_eq!(patch(&f, 0x9400_0000).unwrap(), 0x9400_0400);
        // The veneer goes to S: a branch to S+A cannot use it.
        f.a = 4;
        assert!(matches!(patch(&f, 0x9400_0000), Err(Fail::Overflow { .. })));
        let mut v = [0u8; 16];
        Aarch64::write_veneer(&mut v, 0x2000, 0x1122_3344_5566_7788);
        assert_eq!(&v[..8], &[0x50, 0, 0, 0x58, 0x00, 0x02, 0x1f, 0xd6]);
        assert_eq!(
            u64::from_le_bytes(v[8..].try_into().unwrap()),
            0x1122_3344_5566_7788
        );
    }
}
