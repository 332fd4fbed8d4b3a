//! x86-64 relocations (System V psABI, RELA).
//!
//! Calls (`R_X86_64_PLT32`) whose target is further than ±2 GiB go through a 16-byte veneer
//! (`jmp *0(%rip)` followed by the absolute target). GOT loads (`GOTPCRELX`,
//! `REX_GOTPCRELX`) are rewritten exactly as GNU ld rewrites them in a fixed-address
//! executable (`mov $imm`, `lea`, direct `call`/`jmp`) and otherwise read a slot of the
//! extension's own GOT.

use object::elf::*;

use super::{check_signed, check_unsigned, Arch, Fail, Fixup, Howto, Need, Pair, Relocator};

/// What each relocation type needs, indexed by type (a table, not a branch per type).
const HOWTO: [Option<Howto>; 43] = {
    let mut t: [Option<Howto>; 43] = [None; 43];
    t[R_X86_64_NONE.0 as usize] = h(Need::Skip, 0, 0);
    t[R_X86_64_64.0 as usize] = h(Need::Plain, 0, 8);
    t[R_X86_64_PC64.0 as usize] = h(Need::Plain, 0, 8);
    t[R_X86_64_PC32.0 as usize] = h(Need::Plain, 0, 4);
    t[R_X86_64_32.0 as usize] = h(Need::Plain, 0, 4);
    t[R_X86_64_32S.0 as usize] = h(Need::Plain, 0, 4);
    t[R_X86_64_16.0 as usize] = h(Need::Plain, 0, 2);
    t[R_X86_64_PC16.0 as usize] = h(Need::Plain, 0, 2);
    t[R_X86_64_8.0 as usize] = h(Need::Plain, 0, 1);
    t[R_X86_64_PC8.0 as usize] = h(Need::Plain, 0, 1);
    t[R_X86_64_PLT32.0 as usize] = h(Need::Branch, 0, 4);
    t[R_X86_64_GOTPCREL.0 as usize] = h(Need::Got, 0, 4);
    t[R_X86_64_GOTPC32.0 as usize] = h(Need::Plain, 0, 4);
    t[R_X86_64_GOTPC64.0 as usize] = h(Need::Plain, 0, 8);
    t[R_X86_64_GOTOFF64.0 as usize] = h(Need::Plain, 0, 8);
    t[R_X86_64_PLTOFF64.0 as usize] = h(Need::Plain, 0, 8);
    t[R_X86_64_GOT64.0 as usize] = h(Need::Got, 0, 8);
    t[R_X86_64_GOTPCRELX.0 as usize] = h(Need::Got, 2, 4);
    t[R_X86_64_REX_GOTPCRELX.0 as usize] = h(Need::Got, 3, 4);
    t[R_X86_64_TPOFF32.0 as usize] = h(Need::Plain, 0, 4);
    t[R_X86_64_TPOFF64.0 as usize] = h(Need::Plain, 0, 8);
    t
};

/// Bytes before the offset that a GOT load relocation may rewrite (REX, opcode, ModRM).
fn before(rtype: u32) -> u8 {
    if rtype == R_X86_64_REX_GOTPCRELX.0 {
        3
    } else {
        2
    }
}

/// Rewrite a relaxable GOT load as GNU ld does when it links a fixed-address executable,
/// so that elfext's bytes equal ld's. `place` starts at the REX prefix (REX_GOTPCRELX) or
/// the opcode (GOTPCRELX). Returns false when no rewrite applies: the GOT slot is used.
///
/// - `mov foo@GOTPCREL(%rip), %reg` → `mov $foo, %reg` when foo fits the immediate
///   (sign-extended with REX.W), else → `lea foo(%rip), %reg` when foo is within ±2 GiB;
/// - `call *foo@GOTPCREL(%rip)` → `addr32 call foo`;
/// - `jmp *foo@GOTPCREL(%rip)` → `jmp foo; nop`.
fn relax_got_load(rtype: u32, place: &mut [u8], s: i64, pcrel: i64) -> bool {
    let rex = rtype == R_X86_64_REX_GOTPCRELX.0;
    let op = usize::from(rex);
    let (opcode, modrm) = (place[op], place[op + 1]);
    let disp = op + 2;
    if modrm & 0xc7 != 0x05 {
        return false; // not RIP-relative
    }
    if opcode == 0x8b {
        let wide = rex && place[0] & 0x08 != 0;
        // The GOT slot would hold the symbol's address itself (the addend only compensates
        // for the RIP-relative displacement).
        let imm = if wide {
            check_signed(s, 32)
        } else {
            check_unsigned(s, 32)
        };
        if let Ok(v) = imm {
            place[op] = 0xc7;
            place[op + 1] = 0xc0 | ((modrm >> 3) & 7);
            if rex && place[0] & 0x04 != 0 {
                place[0] = (place[0] & !0x04) | 0x01; // REX.R becomes REX.B
            }
            put(place, disp, (v as u32).to_le_bytes());
            return true;
        }
        if let Ok(v) = check_signed(pcrel, 32) {
            place[op] = 0x8d;
            put(place, disp, (v as i32).to_le_bytes());
            return true;
        }
        return false;
    }
    if opcode == 0xff && !rex {
        if modrm == 0x15 {
            if let Ok(v) = check_signed(pcrel, 32) {
                place[0] = 0x67;
                place[1] = 0xe8;
                put(place, 2, (v as i32).to_le_bytes());
                return true;
            }
        } else if modrm == 0x25 {
            if let Ok(v) = check_signed(pcrel.wrapping_add(1), 32) {
                place[0] = 0xe9;
                put(place, 1, (v as i32).to_le_bytes());
                place[5] = 0x90;
                return true;
            }
        }
    }
    false
}

/// The x86-64 relocator.
pub(crate) struct X86_64;

const fn h(need: Need, before: u8, width: u8) -> Option<Howto> {
    super::howto(need, Pair::None, before, width)
}

fn put<const N: usize>(place: &mut [u8], at: usize, bytes: [u8; N]) {
    place[at..at + N].copy_from_slice(&bytes);
}

impl Relocator for X86_64 {
    const ARCH: Arch = Arch::X86_64;
    const VENEER_SIZE: usize = 16;
    const VENEER_ALIGN: u64 = 16;

    #[inline]
    fn howto(rtype: u32) -> Option<Howto> {
        HOWTO.get(rtype as usize).copied().flatten()
    }

    fn implicit_addend(rtype: u32, place: &[u8]) -> i64 {
        match place.len() {
            8 => i64::from_le_bytes(place.try_into().unwrap_or_default()),
            4 if rtype == R_X86_64_32.0 => {
                i64::from(u32::from_le_bytes(place.try_into().unwrap_or_default()))
            }
            4 => i64::from(i32::from_le_bytes(place.try_into().unwrap_or_default())),
            2 => i64::from(i16::from_le_bytes(place.try_into().unwrap_or_default())),
            1 => i64::from(place[0] as i8),
            _ => 0,
        }
    }

    fn apply(f: &Fixup, place: &mut [u8]) -> Result<(), Fail> {
        let s_a = (f.s as i64).wrapping_add(f.a);
        let pcrel = s_a.wrapping_sub(f.p as i64);
        match RelocationType(f.rtype) {
            R_X86_64_NONE => {}
            R_X86_64_64 => put(place, 0, s_a.to_le_bytes()),
            // Local-exec TLS: a thread-local symbol's S is already its offset from %fs.
            R_X86_64_TPOFF64 => put(place, 0, s_a.to_le_bytes()),
            R_X86_64_TPOFF32 => put(place, 0, (check_signed(s_a, 32)? as i32).to_le_bytes()),
            R_X86_64_PC64 => put(place, 0, pcrel.to_le_bytes()),
            R_X86_64_PC32 => put(place, 0, (check_signed(pcrel, 32)? as i32).to_le_bytes()),
            R_X86_64_32 => put(place, 0, (check_unsigned(s_a, 32)? as u32).to_le_bytes()),
            R_X86_64_32S => put(place, 0, (check_signed(s_a, 32)? as i32).to_le_bytes()),
            R_X86_64_16 => {
                let v = if s_a < 0 {
                    check_signed(s_a, 16)?
                } else {
                    check_unsigned(s_a, 16)?
                };
                put(place, 0, (v as u16).to_le_bytes())
            }
            R_X86_64_PC16 => put(place, 0, (check_signed(pcrel, 16)? as i16).to_le_bytes()),
            R_X86_64_8 => {
                let v = if s_a < 0 {
                    check_signed(s_a, 8)?
                } else {
                    check_unsigned(s_a, 8)?
                };
                place[0] = v as u8;
            }
            R_X86_64_PC8 => place[0] = check_signed(pcrel, 8)? as u8,
            R_X86_64_PLT32 => {
                let v = match (check_signed(pcrel, 32), f.veneer) {
                    (Ok(v), _) => v,
                    (Err(_), Some(veneer)) => check_signed(
                        (veneer as i64).wrapping_add(f.a).wrapping_sub(f.p as i64),
                        32,
                    )?,
                    (Err(e), None) => return Err(e),
                };
                put(place, 0, (v as i32).to_le_bytes())
            }
            // Relative to the extension's GOT (large code model).
            R_X86_64_GOTPC32 => {
                let v = (f.got_base as i64)
                    .wrapping_add(f.a)
                    .wrapping_sub(f.p as i64);
                put(place, 0, (check_signed(v, 32)? as i32).to_le_bytes())
            }
            R_X86_64_GOTPC64 => put(
                place,
                0,
                (f.got_base as i64)
                    .wrapping_add(f.a)
                    .wrapping_sub(f.p as i64)
                    .to_le_bytes(),
            ),
            // There is no PLT: a function's "PLT entry" is the function itself.
            R_X86_64_GOTOFF64 | R_X86_64_PLTOFF64 => {
                put(place, 0, s_a.wrapping_sub(f.got_base as i64).to_le_bytes())
            }
            // Offset of the symbol's GOT slot from the GOT.
            R_X86_64_GOT64 => {
                let got = f.got.ok_or(Fail::BadInstruction("no GOT slot"))? as i64;
                put(
                    place,
                    0,
                    got.wrapping_sub(f.got_base as i64)
                        .wrapping_add(f.a)
                        .to_le_bytes(),
                )
            }
            R_X86_64_GOTPCREL => {
                let got = f.got.ok_or(Fail::BadInstruction("no GOT slot"))? as i64;
                let v = check_signed(got.wrapping_add(f.a).wrapping_sub(f.p as i64), 32)?;
                put(place, 0, (v as i32).to_le_bytes())
            }
            R_X86_64_GOTPCRELX | R_X86_64_REX_GOTPCRELX => {
                if relax_got_load(f.rtype, place, f.s as i64, pcrel) {
                    return Ok(());
                }
                let at = usize::from(before(f.rtype));
                let got = f.got.ok_or(Fail::BadInstruction("no GOT slot"))? as i64;
                let v = check_signed(got.wrapping_add(f.a).wrapping_sub(f.p as i64), 32)?;
                put(place, at, (v as i32).to_le_bytes())
            }
            _ => return Err(Fail::BadInstruction("unsupported relocation")),
        }
        Ok(())
    }

    fn write_veneer(dst: &mut [u8], _at: u64, target: u64) {
        // jmp *0(%rip); .quad target; two bytes of int3 padding.
        dst[..6].copy_from_slice(&[0xff, 0x25, 0, 0, 0, 0]);
        dst[6..14].copy_from_slice(&target.to_le_bytes());
        dst[14..16].copy_from_slice(&[0xcc, 0xcc]);
    }
}
