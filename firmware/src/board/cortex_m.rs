//! mps2-an386 (Cortex-M4): DWT or SysTick cycles, an MPU that makes flash read-only, and a
//! HardFault handler that reports what the extension did.

use core::sync::atomic::{AtomicBool, Ordering};
use cortex_m::peripheral::{syst::SystClkSource, DWT};
use cortex_m_rt::{exception, ExceptionFrame};

/// The board's name in reports.
pub const NAME: &str = "cortex-m4 (mps2-an386)";

extern "C" {
    static _flash_start: u8;
    static _flash_end: u8;
}

/// Whether this run counts with the DWT (else SysTick).
static DWT_COUNTS: AtomicBool = AtomicBool::new(false);

/// SysTick ticks once per this many CPU cycles under QEMU (25 MHz against 1 GHz virtual time
/// with `-icount shift=0`).
const SYSTICK_SCALE: u32 = 40;

/// The flash area: `[start, end)`.
pub fn flash() -> (u64, u64) {
    // The linker script defines both symbols; only their addresses are used.
    (&raw const _flash_start as u64, &raw const _flash_end as u64)
}

/// Set up the cycle counter and memory protection.
pub fn init() -> &'static str {
    let mut p = cortex_m::Peripherals::take().unwrap();
    p.DCB.enable_trace();
    p.DWT.enable_cycle_counter();
    let a = DWT::cycle_count();
    core::hint::black_box(0u32.wrapping_add(a));
    let b = DWT::cycle_count();
    let source = if b != a {
        DWT_COUNTS.store(true, Ordering::Relaxed);
        "DWT CYCCNT"
    } else {
        p.SYST.set_clock_source(SystClkSource::Core);
        p.SYST.set_reload(0x00ff_ffff);
        p.SYST.clear_current();
        p.SYST.enable_counter();
        "SysTick x40 (QEMU models no DWT cycle counter)"
    };
    protect_flash(&mut p);
    source
}

/// A reading of the cycle counter (see [`elapsed`]).
pub fn cycles() -> u32 {
    if DWT_COUNTS.load(Ordering::Relaxed) {
        DWT::cycle_count()
    } else {
        // SysTick counts down over 24 bits.
        0x00ff_ffff - cortex_m::peripheral::SYST::get_current()
    }
}

/// Cycles between two readings of [`cycles`].
pub fn elapsed(start: u32, end: u32) -> u32 {
    if DWT_COUNTS.load(Ordering::Relaxed) {
        end.wrapping_sub(start)
    } else {
        (end.wrapping_sub(start) & 0x00ff_ffff) * SYSTICK_SCALE
    }
}

/// MPU (PMSAv7): flash read-only and executable, RAM read-write and executable, the rest
/// the default map.
fn protect_flash(p: &mut cortex_m::Peripherals) {
    // The linker script defines both symbols; only their addresses are used.
    let (start, end) = (&raw const _flash_start as u32, &raw const _flash_end as u32);
    let size_log2 = 31 - (end - start).leading_zeros();
    const AP_RO: u32 = 0b110 << 24;
    const AP_RW: u32 = 0b011 << 24;
    const NORMAL: u32 = 1 << 17; // TEX 0, C 1, B 0: normal memory, write-through
    let region = |n: u32, base: u32, log2: u32, ap: u32| {
        // SAFETY: configuring the MPU before it is enabled.
        unsafe {
            p.MPU.rnr.write(n);
            p.MPU.rbar.write(base);
            p.MPU.rasr.write(ap | NORMAL | ((log2 - 1) << 1) | 1);
        }
    };
    region(0, start, size_log2, AP_RO);
    region(1, 0x2000_0000, 22, AP_RW);
    // SAFETY: enable the MPU with the default map for everything else (PRIVDEFENA).
    unsafe {
        p.MPU.ctrl.write(0b101);
    }
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    // SAFETY: reading the fault status registers.
    let (cfsr, mmfar, bfar) = unsafe {
        (
            core::ptr::read_volatile(0xE000_ED28 as *const u32),
            core::ptr::read_volatile(0xE000_ED34 as *const u32),
            core::ptr::read_volatile(0xE000_ED38 as *const u32),
        )
    };
    let pc = frame.pc();
    let (kind, addr) = if cfsr & 0x02 != 0 {
        (
            "MemManage: data access violation (write to read-only memory)",
            (cfsr & 0x80 != 0).then_some(mmfar),
        )
    } else if cfsr & 0x01 != 0 {
        (
            "MemManage: instruction fetch from a non-executable address",
            Some(pc),
        )
    } else if cfsr & 0x0100 != 0 {
        (
            "BusFault: instruction fetch from an unmapped address",
            Some(pc),
        )
    } else if cfsr & 0x0200 != 0 {
        (
            "BusFault: data access to an unmapped address",
            (cfsr & 0x8000 != 0).then_some(bfar),
        )
    } else if cfsr & 0x0002_0000 != 0 {
        (
            "UsageFault: invalid state (a call to an address without the Thumb bit)",
            Some(pc),
        )
    } else {
        ("HardFault", None)
    };
    super::report_fault(kind, pc, addr, frame.lr())
}
