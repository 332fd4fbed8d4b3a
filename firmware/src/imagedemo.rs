//! Prelinked images on the target: `data` and `init_fini`, prelinked by `build.rs` for fixed
//! addresses, lie in flash (`IMAGE_FLASH`) with their text exactly where it runs; loading
//! one claims its DATA+BSS at its fixed address in a `MapMemory` over `IMAGE_RAM`, copies
//! DATA and zeroes BSS, relocating nothing. Damaged and misplaced images are refused.

use core::ffi::{c_char, CStr};
use core::mem::MaybeUninit;
use core::ops::Range;

use alloc::format;
use alloc::vec::Vec;
use elfext::memory::map::Slot;
use elfext::{Error, Image, LoadReport, MapMemory, MemoryMap, RangeType, Registry};
use semihosting::println;

use crate::exports::{self, FIRMWARE};
use crate::{board, check_data_calls, Checks, DataFns, IntFn0, IntFn1};

/// Bytes of a prelinked image built by `build.rs`.
macro_rules! image_len {
    ($name:literal) => {
        include_bytes!(concat!(env!("ELFEXT_EXT_DIR"), "/", $name, ".img")).len()
    };
}
macro_rules! image_bytes {
    ($name:literal) => {
        *include_bytes!(concat!(env!("ELFEXT_EXT_DIR"), "/", $name, ".img"))
    };
}

/// The `data` image, placed by the linker script so that its text is at its text address.
#[link_section = ".ext_image.data"]
#[used]
static DATA_IMAGE: [u8; image_len!("data")] = image_bytes!("data");

/// The `init_fini` image, likewise.
#[link_section = ".ext_image.init_fini"]
#[used]
static INIT_FINI_IMAGE: [u8; image_len!("init_fini")] = image_bytes!("init_fini");

/// `IMAGE_RAM`: where the images' DATA and BSS live (not zeroed at reset).
const RAM_BYTES: usize = 64 * 1024;
#[link_section = ".ext_image_ram"]
static mut RAM: [MaybeUninit<u8>; RAM_BYTES] = [MaybeUninit::uninit(); RAM_BYTES];

/// Bookkeeping of the map over `IMAGE_RAM`.
static mut SLOTS: [Slot; 32] = [Slot::EMPTY; 32];

type Reg<'buf> = Registry<'buf, MapMemory<'static>>;

/// The `[start, end)` of the flash, as a range.
fn flash() -> Range<u64> {
    let (start, end) = board::flash();
    start..end
}

/// Reservations of the map other than free space.
fn reserved(reg: &Reg<'_>) -> Vec<(RangeType, u64, u64)> {
    reg.with_memory(|m| {
        m.map()
            .iter()
            .filter(|e| e.ty != RangeType::Free)
            .map(|e| (e.ty, e.start, e.end))
            .collect()
    })
}

/// Run the image checks; returns the table rows of the fresh loads (extension, what the
/// load cost, cycles).
pub fn run(checks: &mut Checks) -> Vec<(&'static str, LoadReport, u32)> {
    println!("-- prelinked images");
    let mut rows = Vec::new();
    // RAM copies made before the registry, which borrows them: one with a flipped bit, one
    // intact but away from the address its text was linked for.
    let mut flipped = DATA_IMAGE.to_vec();
    let moved = DATA_IMAGE.to_vec();
    let (Some(data_img), Some(init_img)) = (
        checks.ok("image: data parses", Image::parse(&DATA_IMAGE)),
        checks.ok("image: init_fini parses", Image::parse(&INIT_FINI_IMAGE)),
    ) else {
        return rows;
    };
    let last = flipped.len() - 1;
    flipped[last] ^= 0x04;

    // SAFETY: the only references ever made to these statics, made once.
    let (ram, slots) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(RAM),
            &mut *core::ptr::addr_of_mut!(SLOTS),
        )
    };
    let ram_range = ram.as_ptr() as u64..ram.as_ptr() as u64 + RAM_BYTES as u64;
    let mem = match MapMemory::new(MemoryMap::new(slots), ram, "image RAM") {
        Ok(m) => m,
        Err(e) => {
            checks.check("image: map over IMAGE_RAM", false, e);
            return rows;
        }
    };
    let reg: Reg<'_> = Registry::new(mem, &FIRMWARE);

    for (name, img, bytes) in [
        ("data", &data_img, &DATA_IMAGE[..]),
        ("init_fini", &init_img, &INIT_FINI_IMAGE[..]),
    ] {
        let (text, text_end) = img.text_range();
        let (data, data_end) = img.ram_range();
        checks.check(
            format_args!(
                "image {name}: in flash at {:#x}, its text at {text:#x} as prelinked, DATA+BSS for {data:#x} in IMAGE_RAM",
                bytes.as_ptr() as u64
            ),
            bytes.as_ptr() as u64 == img.image_addr()
                && flash().contains(&text)
                && text_end <= flash().end
                && ram_range.contains(&data)
                && data_end <= ram_range.end,
            format!(
                "image at {:#x} (wants {:#x}), text {text:#x}..{text_end:#x}, flash {:?}, data {data:#x}..{data_end:#x}, RAM {ram_range:?}",
                bytes.as_ptr() as u64,
                img.image_addr(),
                flash()
            ),
        );
    }

    data(checks, &reg, &data_img, &mut rows);
    init_fini(checks, &reg, &init_img, &mut rows);

    // Damaged and misplaced copies are refused, and leave the memory as it was.
    let before = reserved(&reg);
    let r = reg.load_image("data", &flipped);
    checks.check(
        "image: a copy with one flipped bit is refused by the checksum",
        matches!(r, Err(Error::ImageChecksum { .. })),
        format!("{r:?}"),
    );
    if let Err(e) = &r {
        println!("  error: {e}");
    }
    let r = reg.load_image("data", &moved);
    let copy_text = moved.as_ptr() as u64 + data_img.text_offset();
    checks.check(
        "image: an intact copy in RAM (text not at its address) is refused as misplaced",
        matches!(r, Err(Error::ImageMisplaced { at, text, .. })
            if at == copy_text && text == data_img.text_addr()),
        format!("{r:?}"),
    );
    if let Err(e) = &r {
        println!("  error: {e}");
    }
    checks.eq(
        "image: refused images took nothing",
        (reserved(&reg), reg.len()),
        (before, 0),
    );
    checks.eq(
        "image: IMAGE_RAM empty at the end",
        (reserved(&reg), reg.heap_stats().total()),
        (Vec::new(), 0),
    );
    rows
}

/// Load `name` from `image`, timing it; the table row of the load.
fn load(
    checks: &mut Checks,
    reg: &Reg<'_>,
    what: &str,
    name: &str,
    image: &'static [u8],
    img: &Image<'_>,
) -> Option<(LoadReport, u32)> {
    let before = reg.heap_stats();
    let t = board::cycles();
    let r = reg.load_image(name, image);
    let cycles = board::elapsed(t, board::cycles());
    let prev = checks.ok(what, r)?;
    let after = reg.heap_stats();
    let mut regions = [0; 4];
    for (k, r) in regions.iter_mut().enumerate() {
        *r = after.regions[k] - before.regions[k];
    }
    Some((
        LoadReport {
            previous_uses: prev,
            regions,
            padding: after.padding - before.padding,
            metadata: after.metadata - before.metadata,
            copied: img.data().len() as u64,
            in_place: img.text().len() as u64,
            relocations: 0,
        },
        cycles,
    ))
}

fn data(
    checks: &mut Checks,
    reg: &Reg<'_>,
    img: &Image<'_>,
    rows: &mut Vec<(&'static str, LoadReport, u32)>,
) {
    let what = "data (image)";
    let Some((report, cycles)) = load(
        checks,
        reg,
        "load data (image): no relocation",
        "data",
        &DATA_IMAGE,
        img,
    ) else {
        return;
    };
    rows.push(("data", report, cycles));
    checks.eq(format_args!("{what}: fresh load"), report.previous_uses, 0);
    // Every function runs from flash, at the address the image was prelinked for.
    let (text, text_end) = img.text_range();
    let mut wrong = Vec::new();
    for sym in ["apply", "prime_sum", "colour_len", "bump", "get_greeting"] {
        let got = reg.symbol("data", sym).ok();
        let code = got.map(|a| a & !1);
        let ok = got.is_some()
            && got == img.symbol(sym)
            && code.is_some_and(|a| (text..text_end).contains(&a) && flash().contains(&a));
        if !ok {
            wrong.push(format!(
                "{sym} at {got:x?}, image says {:x?}",
                img.symbol(sym)
            ));
        }
    }
    checks.check(
        format_args!(
            "{what}: functions at their prelinked addresses in flash ({text:#x}..{text_end:#x}), executed in place"
        ),
        wrong.is_empty(),
        wrong.join(", "),
    );
    let (data_start, data_end) = img.ram_range();
    let counter_at = reg.symbol("data", "counter").unwrap_or(0);
    checks.check(
        format_args!("{what}: counter in its DATA at {counter_at:#x}, in IMAGE_RAM"),
        (data_start..data_end).contains(&counter_at) && Some(counter_at) == img.symbol("counter"),
        format!("DATA+BSS {data_start:#x}..{data_end:#x}"),
    );
    let r = (|| -> elfext::Result<()> {
        // SAFETY: the C signatures of the symbols asked for.
        let (apply, prime_sum, third, colour_len, initials, bump, wide, greeting) = unsafe {
            (
                reg.function::<extern "C" fn(i32, i32, i32) -> i32>("data", "apply")?,
                reg.function::<IntFn0>("data", "prime_sum")?,
                reg.function::<IntFn0>("data", "get_third_prime")?,
                reg.function::<IntFn1>("data", "colour_len")?,
                reg.function::<IntFn0>("data", "name_initials")?,
                reg.function::<IntFn1>("data", "bump")?,
                reg.function::<extern "C" fn() -> i64>("data", "get_wide")?,
                reg.function::<extern "C" fn() -> *const c_char>("data", "get_greeting")?,
            )
        };
        check_data_calls(
            checks,
            what,
            DataFns {
                apply,
                prime_sum,
                third,
                colour_len,
                initials,
                wide,
            },
        );
        let g = greeting();
        // SAFETY: get_greeting returns a pointer to a string literal of the extension.
        let text = unsafe { CStr::from_ptr(g) };
        checks.check(
            format_args!("{what}: greeting, read from RODATA in flash"),
            text.to_bytes() == b"hello, data" && flash().contains(&(g as u64)),
            format!("{text:?} at {:#x}", g as u64),
        );
        checks.eq(format_args!("{what}: bump"), bump(1), 43);
        Ok(())
    })();
    checks.ok(format_args!("{what}: symbols"), r);
    let counter = reg
        .with("data", |e| e.data::<i32>("counter"))
        .ok()
        .and_then(|r| r.ok());
    // SAFETY: `int counter` is live while the extension is loaded.
    let counter = counter.map(|p| unsafe { p.read() });
    checks.eq(format_args!("{what}: exported counter"), counter, Some(43));

    // Use counts: a second load only counts.
    let heap = reg.heap_stats();
    let second = reg.load_image("data", &DATA_IMAGE);
    checks.eq(
        format_args!("{what}: loaded again, one more use"),
        (
            second.ok(),
            reg.with("data", |e| e.use_count()).ok(),
            reg.heap_stats(),
        ),
        (Some(1), Some(2), heap),
    );
    checks.eq(
        format_args!("{what}: unload -> 1 use left"),
        reg.unload("data").ok(),
        Some(1),
    );
    // SAFETY: the C signature of `bump`.
    if let Ok(bump) = unsafe { reg.function::<IntFn1>("data", "bump") } {
        checks.eq(format_args!("{what}: still callable"), bump(1), 44);
    }
    checks.eq(
        format_args!("{what}: unload -> 0 uses left"),
        reg.unload("data").ok(),
        Some(0),
    );
    checks.eq(
        format_args!("{what}: IMAGE_RAM empty after the unload"),
        (reserved(reg), reg.heap_stats().total()),
        (Vec::new(), 0),
    );

    // Loaded again: DATA comes from the image again, not from what the last run left.
    let again = reg.load_image("data", &DATA_IMAGE);
    checks.eq(
        format_args!("{what}: load after unload is a fresh load"),
        again.ok(),
        Some(0),
    );
    // SAFETY: the C signature of `bump`.
    if let Ok(bump) = unsafe { reg.function::<IntFn1>("data", "bump") } {
        checks.eq(
            format_args!("{what}: DATA initialised again (counter 42 + 1)"),
            bump(1),
            43,
        );
    }
    checks.eq(
        format_args!("{what}: unload again"),
        reg.unload("data").ok(),
        Some(0),
    );
}

fn init_fini(
    checks: &mut Checks,
    reg: &Reg<'_>,
    img: &Image<'_>,
    rows: &mut Vec<(&'static str, LoadReport, u32)>,
) {
    let what = "init_fini (image)";
    exports::take_records();
    let Some((report, cycles)) = load(
        checks,
        reg,
        "load init_fini (image): host_record imported at its fixed address",
        "init_fini",
        &INIT_FINI_IMAGE,
        img,
    ) else {
        return;
    };
    rows.push(("init_fini", report, cycles));
    checks.eq(
        format_args!("{what}: init/fini tables at the start of DATA"),
        img.table_lengths(),
        [1, 3, 3],
    );
    // SAFETY: runs the extension's constructors.
    let r = reg.with("init_fini", |e| unsafe { e.bringup() });
    checks.ok(format_args!("{what}: bringup"), r.and_then(|r| r));
    checks.eq(
        format_args!("{what}: preinit and constructor order"),
        exports::take_records(),
        [1, 101, 200, 1000].to_vec(),
    );
    // SAFETY: the C signature of `init_calls`.
    if let Ok(calls) = unsafe { reg.function::<IntFn0>("init_fini", "init_calls") } {
        checks.eq(
            format_args!("{what}: constructors seen by the extension"),
            calls(),
            4,
        );
    }
    let log = reg
        .with("init_fini", |e| e.data::<[i32; 4]>("init_log"))
        .ok()
        .and_then(|r| r.ok());
    // SAFETY: `int init_log[16]` is live while the extension is loaded.
    let log = log.map(|p| unsafe { p.read() });
    checks.eq(
        format_args!("{what}: the extension's own log, in its BSS"),
        log,
        Some([1, 101, 200, 1000]),
    );
    // SAFETY: runs the extension's destructors.
    let r = reg.with("init_fini", |e| unsafe { e.teardown() });
    checks.ok(format_args!("{what}: teardown"), r.and_then(|r| r));
    checks.eq(
        format_args!("{what}: destructor order"),
        exports::take_records(),
        [-1000, -200, -101].to_vec(),
    );
    checks.eq(
        format_args!("{what}: unload"),
        reg.unload("init_fini").ok(),
        Some(0),
    );
}
