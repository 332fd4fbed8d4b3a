//! QEMU virt (RV32): `mcycle`, a locked PMP entry that makes the flash area read-only, and
//! an exception handler that reports what the extension did.

use core::arch::asm;

/// The board's name in reports.
pub const NAME: &str = "rv32imac (qemu virt)";

extern "C" {
    static _flash_start: u8;
    static _flash_end: u8;
}

/// The flash area: `[start, end)`.
pub fn flash() -> (u64, u64) {
    // The linker script defines both symbols; only their addresses are used.
    (&raw const _flash_start as u64, &raw const _flash_end as u64)
}

/// Set up memory protection; returns how cycles are counted.
pub fn init() -> &'static str {
    // The linker script defines both symbols; only their addresses are used.
    let (start, end) = (
        &raw const _flash_start as usize,
        &raw const _flash_end as usize,
    );
    // One NAPOT entry over the flash area: read and execute, locked so that it binds
    // machine mode too.
    let napot = (start | ((end - start) / 2 - 1)) >> 2;
    let cfg: usize = 0x80 | 0x18 | 0x04 | 0x01; // L, A=NAPOT, X, R
                                                // SAFETY: PMP entry 0 is free at reset; locking it only removes write access to flash.
    unsafe {
        asm!("csrw pmpaddr0, {0}", in(reg) napot);
        asm!("csrw pmpcfg0, {0}", in(reg) cfg);
    }
    "mcycle"
}

/// A reading of the cycle counter (see [`elapsed`]).
pub fn cycles() -> u32 {
    let c: u32;
    // SAFETY: reading a machine-mode counter.
    unsafe { asm!("csrr {0}, mcycle", out(reg) c) };
    c
}

/// Cycles between two readings of [`cycles`].
pub fn elapsed(start: u32, end: u32) -> u32 {
    end.wrapping_sub(start)
}

#[export_name = "ExceptionHandler"]
fn exception_handler(frame: &riscv_rt::TrapFrame) -> ! {
    let (cause, tval, epc): (usize, usize, usize);
    // SAFETY: reading the trap registers.
    unsafe {
        asm!("csrr {0}, mcause", out(reg) cause);
        asm!("csrr {0}, mtval", out(reg) tval);
        asm!("csrr {0}, mepc", out(reg) epc);
    }
    let kind = match cause {
        0 => "instruction address misaligned",
        1 => "instruction access fault (a call to an unmapped address)",
        2 => "illegal instruction",
        5 => "load access fault",
        7 => "store access fault (write to read-only memory)",
        _ => "exception",
    };
    super::report_fault(kind, epc as u32, Some(tval as u32), frame.ra as u32)
}
