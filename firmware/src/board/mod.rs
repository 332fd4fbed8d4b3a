//! What differs between the boards: the cycle counter, memory protection, fault reports.

#[cfg(target_arch = "arm")]
mod cortex_m;
#[cfg(target_arch = "arm")]
pub use cortex_m::*;

#[cfg(target_arch = "riscv32")]
mod riscv;
#[cfg(target_arch = "riscv32")]
pub use riscv::*;

use core::sync::atomic::{AtomicU32, Ordering};

/// Where the extension under a fault test lives, for the fault report: its block in the
/// extension heap and its object in flash.
pub struct Watched {
    block: [AtomicU32; 2],
    object: [AtomicU32; 2],
}

/// The ranges the fault handler names.
pub static WATCHED: Watched = Watched {
    block: [AtomicU32::new(0), AtomicU32::new(0)],
    object: [AtomicU32::new(0), AtomicU32::new(0)],
};

impl Watched {
    /// Remember the extension's block and object ranges (start, end).
    pub fn set(&self, block: (u32, u32), object: (u32, u32)) {
        self.block[0].store(block.0, Ordering::Relaxed);
        self.block[1].store(block.1, Ordering::Relaxed);
        self.object[0].store(object.0, Ordering::Relaxed);
        self.object[1].store(object.1, Ordering::Relaxed);
    }

    /// Which part of the watched extension `addr` is in.
    pub fn describe(&self, addr: u32) -> &'static str {
        let inside = |r: &[AtomicU32; 2]| {
            (r[0].load(Ordering::Relaxed)..r[1].load(Ordering::Relaxed)).contains(&addr)
        };
        if inside(&self.object) {
            "inside the extension's object in flash (its in-place, read-only text)"
        } else if inside(&self.block) {
            "inside the extension's block in the extension heap"
        } else {
            "outside the extension's memory"
        }
    }
}

/// Report a fault and stop the firmware with exit status 3: what happened, the address
/// it happened at, the faulting instruction and the return address (the caller), each
/// placed relative to the watched extension.
pub fn report_fault(kind: &str, pc: u32, addr: Option<u32>, ret: u32) -> ! {
    if let Some(a) = addr {
        semihosting::println!(
            "fault: {kind} at address {a:#010x} ({})",
            WATCHED.describe(a)
        );
    } else {
        semihosting::println!("fault: {kind}");
    }
    semihosting::println!(
        "fault: instruction at {pc:#010x} ({}), return address {ret:#010x} ({})",
        WATCHED.describe(pc),
        WATCHED.describe(ret)
    );
    semihosting::process::exit(3)
}
