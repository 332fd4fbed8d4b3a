//! Prelinked images: an object linked for a fixed text address (flash) and a fixed data
//! address (RAM), loaded with `Registry::load_image` without relocating anything.
//!
//! Natively, the image is placed in a host area mapped at a chosen address (its text runs
//! there) and its DATA+BSS go to a `MapMemory` over a second area: functions are called,
//! data read, constructors run, uses counted, and unloading gives the RAM back. Bad images
//! (truncated, flipped bits, wrong architecture, misplaced, outside memory) are refused
//! with precise errors and leave the memory as it was. GNU ld linking the same object for
//! the same addresses is the oracle for the bytes, on x86-64, ARM Thumb and RV32.

mod common;

use std::mem::MaybeUninit;

use elfext::memory::map::Slot;
use elfext::{
    prelink, Arch, Error, ExportMap, Exports, ExtHeap, Granules, Image, MapMemory, MemoryMap,
    Placed, PrelinkOptions, RangeType, RegionKind, Registry, SaveOptions,
};
use elfext_testkit::oracle::{difference, link_gnu_ld, ElfextLink, Section};
use elfext_testkit::{build_path, Compiler};

// ---------------------------------------------------------------------------------------
// Native: x86-64 images run from a mapped host area.
// ---------------------------------------------------------------------------------------

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod native {
    use super::*;
    use common::{gcc, take_printed, take_recorded, HOST};

    /// A host area mapped at a fixed address (MAP_FIXED_NOREPLACE), unmapped on drop.
    pub struct Area {
        pub addr: u64,
        pub len: usize,
    }

    impl Area {
        /// Map `len` read-write bytes at the first free address of `candidates`.
        pub fn map(candidates: &[u64], len: usize) -> Area {
            for &addr in candidates {
                // SAFETY: a fresh anonymous mapping that replaces nothing (NOREPLACE).
                let p = unsafe {
                    libc::mmap(
                        addr as usize as *mut libc::c_void,
                        len,
                        libc::PROT_READ | libc::PROT_WRITE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                        -1,
                        0,
                    )
                };
                if p != libc::MAP_FAILED && p as u64 == addr {
                    return Area { addr, len };
                }
                if p != libc::MAP_FAILED {
                    // SAFETY: the mapping just made elsewhere (an old kernel's hint).
                    unsafe { libc::munmap(p, len) };
                }
            }
            panic!("none of {candidates:#x?} could be mapped");
        }

        /// Copy `bytes` to `addr` inside the area and make the area read + execute.
        pub fn flash(&self, addr: u64, bytes: &[u8]) -> &'static [u8] {
            assert!(addr >= self.addr && addr + bytes.len() as u64 <= self.addr + self.len as u64);
            // SAFETY: inside the area, which is mapped read-write and owned by the test.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    addr as usize as *mut u8,
                    bytes.len(),
                );
                assert_eq!(
                    libc::mprotect(
                        self.addr as usize as *mut libc::c_void,
                        self.len,
                        libc::PROT_READ | libc::PROT_EXEC,
                    ),
                    0
                );
                // The area outlives every registry of the test (dropped last).
                std::slice::from_raw_parts(addr as usize as *const u8, bytes.len())
            }
        }

        /// The area as an arena for `MapMemory`.
        pub fn arena(&self) -> &'static mut [MaybeUninit<u8>] {
            // SAFETY: the area is mapped read-write, owned by the test and outlives the
            // registries that use it.
            unsafe {
                std::slice::from_raw_parts_mut(self.addr as usize as *mut MaybeUninit<u8>, self.len)
            }
        }
    }

    impl Drop for Area {
        fn drop(&mut self) {
            // SAFETY: mapped in `map`, no longer used.
            unsafe { libc::munmap(self.addr as usize as *mut libc::c_void, self.len) };
        }
    }

    /// Distinct address pairs per test (tests run in parallel in one process).
    fn areas(slot: u64) -> (Area, Area) {
        let text: Vec<u64> = (0..8)
            .map(|i| 0x3000_0000 + slot * 0x80_0000 + i * 0x1000_0000)
            .collect();
        let data: Vec<u64> = text.iter().map(|t| t + 0x40_0000).collect();
        (Area::map(&text, 1 << 20), Area::map(&data, 1 << 20))
    }

    fn host_exports() -> ExportMap {
        let mut map = ExportMap::new();
        for e in HOST.iter() {
            map.insert(e.name, e.addr.0 as u64);
        }
        map
    }

    /// Prelink `obj` for text at `text_area + 64 KiB` and data at `data_addr`, and place the
    /// image in the text area.
    fn place(obj: &[u8], text_area: &Area, data_addr: u64) -> &'static [u8] {
        let exports = host_exports();
        let text = text_area.addr + 0x1_0000;
        let options = PrelinkOptions {
            arch: Arch::X86_64,
            text,
            data: data_addr,
            exports: &exports,
        };
        let image = prelink(obj, &options, None).expect("prelink");
        let img = Image::parse(&image).expect("parse the image just written");
        assert_eq!(img.text_addr(), text);
        assert_eq!(img.data_addr(), data_addr);
        text_area.flash(img.image_addr(), &image)
    }

    fn map_memory(area: &Area, slots: &'static mut [Slot]) -> MapMemory<'static> {
        MapMemory::new(MemoryMap::new(slots), area.arena(), "ram").expect("map memory")
    }

    fn slots() -> &'static mut [Slot] {
        Box::leak(vec![Slot::EMPTY; 64].into_boxed_slice())
    }

    #[test]
    fn an_image_runs_in_place_with_its_data_in_ram() {
        let (text_area, data_area) = areas(0);
        let data_addr = data_area.addr + 0x1000;
        let obj = gcc("c/data.c", &["-O2", "-fPIC"]);
        let image = place(&obj.bytes, &text_area, data_addr);
        let img = Image::parse(image).unwrap();
        let reg = Registry::new(map_memory(&data_area, slots()), &HOST);
        let before = reg.heap_stats();
        assert_eq!(reg.load_image("data", image).unwrap(), 0);

        // SAFETY: the signatures of data.c.
        unsafe {
            let apply = reg
                .function::<extern "C" fn(i32, i32, i32) -> i32>("data", "apply")
                .unwrap();
            assert_eq!(apply(0, 2, 3), 5);
            assert_eq!(apply(2, 6, 7), 42);
            let prime_sum = reg
                .function::<extern "C" fn() -> i32>("data", "prime_sum")
                .unwrap();
            assert_eq!(prime_sum(), 77);
            let third = reg
                .function::<extern "C" fn() -> i32>("data", "get_third_prime")
                .unwrap();
            assert_eq!(third(), 5);
        }
        // Functions run from the text address, data lives at the data address.
        let apply = reg.symbol("data", "apply").unwrap();
        let (text_start, text_end) = img.text_range();
        assert!(
            (text_start..text_end).contains(&apply),
            "apply at {apply:#x}"
        );
        let counter = reg.symbol("data", "counter").unwrap();
        let (ram_start, ram_end) = img.ram_range();
        assert!(
            (ram_start..ram_end).contains(&counter),
            "counter at {counter:#x}"
        );
        let counter = reg
            .with("data", |e| e.data::<i32>("counter"))
            .unwrap()
            .unwrap();
        // SAFETY: `int counter = 42`, live while loaded.
        unsafe {
            assert_eq!(counter.read(), 42);
            counter.write(7);
        }
        let block = reg.with("data", |e| e.block()).unwrap();
        assert_eq!(block.0, data_addr);
        assert_eq!(block.1, ram_end - ram_start);
        // The map shows DATA and BSS at their addresses, owned by the extension.
        let owned: Vec<_> = reg.with_memory(|m| {
            m.map()
                .iter()
                .filter(|e| e.owner.as_bytes() == b"data" && e.ty != RangeType::Metadata)
                .collect()
        });
        assert_eq!(owned[0].start, data_addr);
        assert_eq!(owned[0].ty, RangeType::Data);

        // A second load only counts a use.
        assert_eq!(reg.load_image("data", image).unwrap(), 1);
        assert_eq!(reg.with("data", |e| e.use_count()).unwrap(), 2);
        assert_eq!(reg.unload("data").unwrap(), 1);
        // SAFETY: as above.
        assert_eq!(unsafe { counter.read() }, 7, "still loaded, data kept");
        assert_eq!(reg.unload("data").unwrap(), 0);
        assert_eq!(reg.heap_stats(), before, "unloading gives the RAM back");
        assert!(!reg.contains("data"));

        // Loading again starts from the image's data.
        reg.load_image("data", image).unwrap();
        // SAFETY: as above.
        assert_eq!(unsafe { counter.read() }, 42);
        reg.unload("data").unwrap();
    }

    #[test]
    fn calls_to_the_host_go_through_veneers_and_constructors_run_from_ram_tables() {
        let (text_area, data_area) = areas(1);
        let data_addr = data_area.addr;
        let hello = gcc("c/hello.c", &["-O2", "-fPIC"]);
        let init = gcc("c/init_fini.c", &["-O2", "-fPIC"]);
        let hello_image = place(&hello.bytes, &text_area, data_addr + 0x8_0000);
        let (text2, data2) = areas(2);
        let init_image = place(&init.bytes, &text2, data2.addr);
        let init_img = Image::parse(init_image).unwrap();
        assert_eq!(init_img.table_lengths(), [1, 3, 3]);

        // Prelinked against the host's exports: a registry whose exports have
        // `host_print` elsewhere, or not at all, refuses the image.
        let img = Image::parse(hello_image).unwrap();
        let imports: Vec<_> = img.imports().collect();
        assert_eq!(
            imports,
            [(&b"host_print"[..], HOST.lookup(b"host_print").unwrap())]
        );
        {
            let mut moved = host_exports();
            moved.insert("host_print", 0x1234_5678);
            let other = Registry::new(map_memory(&data_area, slots()), &moved);
            let before = other.heap_stats();
            match other.load_image("hello", hello_image) {
                Err(Error::ImageImport {
                    name,
                    linked,
                    found,
                }) => {
                    assert_eq!(name.as_bytes(), b"host_print");
                    assert_eq!(linked, imports[0].1);
                    assert_eq!(found, Some(0x1234_5678));
                }
                other => panic!("moved export: {other:?}"),
            }
            assert_eq!(other.heap_stats(), before);
        }
        {
            let none = ExportMap::new();
            let bare = Registry::new(map_memory(&data_area, slots()), &none);
            assert!(matches!(
                bare.load_image("hello", hello_image),
                Err(Error::ImageImport { found: None, .. })
            ));
        }
        let reg = Registry::new(map_memory(&data_area, slots()), &HOST);
        reg.load_image("hello", hello_image).unwrap();
        // SAFETY: `int hello(void)`.
        let hello = unsafe { reg.function::<extern "C" fn() -> i32>("hello", "hello") }.unwrap();
        take_printed();
        assert_eq!(hello(), "hello from an extension".len() as i32);
        assert_eq!(take_printed(), ["hello from an extension"]);
        reg.unload("hello").unwrap();

        let reg2 = Registry::new(map_memory(&data2, slots()), &HOST);
        reg2.load_image("init", init_image).unwrap();
        take_recorded();
        // SAFETY: the constructors only record codes.
        reg2.with("init", |e| unsafe { e.bringup() })
            .unwrap()
            .unwrap();
        assert_eq!(take_recorded(), [1, 101, 200, 1000]);
        // SAFETY: the destructors only record codes.
        reg2.with("init", |e| unsafe { e.teardown() })
            .unwrap()
            .unwrap();
        assert_eq!(take_recorded(), [-1000, -200, -101]);
        reg2.unload("init").unwrap();
    }

    #[test]
    fn an_image_extension_survives_save_and_restore() {
        let (text_area, data_area) = areas(5);
        let obj = gcc("c/data.c", &["-O2", "-fPIC"]);
        let image = place(&obj.bytes, &text_area, data_area.addr);
        let snap = {
            let reg = Registry::new(map_memory(&data_area, slots()), &HOST);
            reg.load_image("data", image).unwrap();
            reg.load_image("data", image).unwrap();
            let counter = reg
                .with("data", |e| e.data::<i32>("counter"))
                .unwrap()
                .unwrap();
            // SAFETY: `int counter`, live while loaded.
            unsafe { counter.write(7) };
            reg.save_to_vec(SaveOptions {
                region_checksums: true,
            })
            .unwrap()
            // Suspend: the registry and the map's bookkeeping are gone, the RAM stays.
        };
        let mem = map_memory(&data_area, slots());
        // SAFETY: the RAM and the image are untouched since the save; the host exports are
        // where they were.
        let reg = unsafe { Registry::restore(mem, &HOST, &snap) }
            .map_err(|(e, _)| e)
            .unwrap();
        assert_eq!(reg.with("data", |e| e.use_count()).unwrap(), 2);
        let counter = reg
            .with("data", |e| e.data::<i32>("counter"))
            .unwrap()
            .unwrap();
        // SAFETY: as above.
        assert_eq!(
            unsafe { counter.read() },
            7,
            "DATA kept, not reloaded from the image"
        );
        // SAFETY: `int apply(int, int, int)`.
        let apply = unsafe { reg.function::<extern "C" fn(i32, i32, i32) -> i32>("data", "apply") }
            .unwrap();
        assert_eq!(apply(1, 9, 4), 5);
        assert_eq!(reg.unload("data").unwrap(), 1);
        assert_eq!(reg.unload("data").unwrap(), 0);
        assert_eq!(reg.heap_stats().total(), 0);
    }

    #[test]
    fn other_extensions_link_against_an_image() {
        let (text_area, data_area) = areas(3);
        let a = gcc("c/dep_a.c", &["-O2", "-fPIC"]);
        let b = gcc("c/dep_b.c", &["-O2", "-fPIC"]);
        let image = place(&a.bytes, &text_area, data_area.addr);
        let reg = Registry::new(map_memory(&data_area, slots()), &HOST);
        reg.load_image("a", image).unwrap();
        // dep_b is linked at run time against dep_a's exports, read from the image's record.
        let err = reg.load("b", elfext::BufLoader::temporary(&b.bytes));
        match err {
            Ok(_) => {
                let deps: Vec<String> = reg
                    .with("b", |e| e.dependencies().map(str::to_owned).collect())
                    .unwrap();
                assert_eq!(deps, ["a"]);
                assert!(matches!(reg.unload("a"), Err(Error::InUse { .. })));
                reg.unload("b").unwrap();
            }
            Err(e) => panic!("dep_b against the image of dep_a: {e}"),
        }
        reg.unload("a").unwrap();
    }

    #[test]
    fn bad_images_are_refused_and_leave_the_memory_as_it_was() {
        let (text_area, data_area) = areas(4);
        let obj = gcc("c/data.c", &["-O2", "-fPIC"]);
        let image = place(&obj.bytes, &text_area, data_area.addr + 0x2000);
        let img = Image::parse(image).unwrap();
        {
            let reg = Registry::new(map_memory(&data_area, slots()), &HOST);
            let before = reg.heap_stats();
            let entries = || reg.with_memory(|m| m.map().iter().collect::<Vec<_>>());
            let map_before = entries();

            // Not where it was linked to run.
            let copy: &'static [u8] = Box::leak(image.to_vec().into_boxed_slice());
            match reg.load_image("data", copy) {
                Err(Error::ImageMisplaced {
                    at,
                    text,
                    image: want,
                }) => {
                    assert_eq!(at, copy.as_ptr() as u64 + img.text_offset());
                    assert_eq!(text, img.text_addr());
                    assert_eq!(want, img.image_addr());
                }
                other => panic!("misplaced image: {other:?}"),
            }
            // Every truncation and every bit flip of a copy.
            for n in 0..copy.len() {
                assert!(
                    reg.load_image("data", &copy[..n]).is_err(),
                    "truncated to {n}"
                );
            }
            for i in (0..copy.len()).step_by(7) {
                let mut b = copy.to_vec();
                b[i] ^= 0x10;
                let b: &'static [u8] = Box::leak(b.into_boxed_slice());
                assert!(
                    matches!(
                        reg.load_image("data", b),
                        Err(Error::ImageChecksum { .. } | Error::BadImage { .. })
                    ),
                    "flip in byte {i}"
                );
            }
            assert_eq!(reg.heap_stats(), before);
            assert_eq!(entries(), map_before);
        }

        // The right place but another architecture's registry.
        {
            let arm = Registry::for_arch(map_memory(&data_area, slots()), &HOST, Arch::Arm);
            assert!(matches!(
                arm.load_image("data", image),
                Err(Error::ImageArch {
                    found: Arch::X86_64,
                    expected: Arch::Arm
                })
            ));
            assert_eq!(arm.heap_stats().total(), 0);
        }

        // A memory that cannot place blocks at fixed addresses.
        let mut arena = vec![MaybeUninit::uninit(); 1 << 16];
        let heap = Registry::new(ExtHeap::new(&mut arena, Granules::NONE), &HOST);
        assert!(matches!(
            heap.load_image("data", image),
            Err(Error::NoFixedBlocks)
        ));
        assert_eq!(heap.heap_stats().total(), 0);

        // DATA outside the memory: a MapMemory over only part of the data area.
        let half = &mut data_area.arena()[..0x1000];
        {
            let small = Registry::new(
                MapMemory::new(MemoryMap::new(slots()), half, "small").unwrap(),
                &HOST,
            );
            let small_before = small.heap_stats();
            match small.load_image("data", image) {
                Err(Error::OutsideMemory { kind, start, .. }) => {
                    assert_eq!(kind, RegionKind::Data);
                    assert_eq!(start, data_area.addr + 0x2000);
                }
                other => panic!("data outside memory: {other:?}"),
            }
            assert_eq!(small.heap_stats(), small_before);
        }
    }

    #[test]
    fn overlapping_or_misaligned_addresses_are_refused_at_prelink() {
        let obj = gcc("c/data.c", &["-O2", "-fPIC"]);
        let exports = host_exports();
        let opts = |text, data| PrelinkOptions {
            arch: Arch::X86_64,
            text,
            data,
            exports: &exports,
        };
        let overlap = prelink(&obj.bytes, &opts(0x10_0000, 0x10_0040), None);
        assert!(
            matches!(
                overlap,
                Err(Error::ImageOverlap {
                    text_start: 0x10_0000,
                    data_start: 0x10_0040,
                    ..
                })
            ),
            "{overlap:?}"
        );
        assert!(matches!(
            prelink(&obj.bytes, &opts(0x10_0001, 0x20_0000), None),
            Err(Error::ImageAddress {
                what: "text",
                addr: 0x10_0001,
                ..
            })
        ));
        assert!(matches!(
            prelink(&obj.bytes, &opts(0x10_0000, 0x20_0002), None),
            Err(Error::ImageAddress {
                what: "data",
                addr: 0x20_0002,
                ..
            })
        ));
        let none = ExportMap::new();
        let missing = PrelinkOptions {
            exports: &none,
            ..opts(0x10_0000, 0x20_0000)
        };
        let hello = gcc("c/hello.c", &["-O2"]);
        assert!(matches!(
            prelink(&hello.bytes, &missing, None),
            Err(Error::MissingSymbols(names)) if names.len() == 1
        ));
    }
}

// ---------------------------------------------------------------------------------------
// GNU ld as the oracle: the same object, the same addresses, the same bytes.
// ---------------------------------------------------------------------------------------

/// One target of the oracle comparison.
struct Target {
    arch: Arch,
    compiler: Compiler,
    flags: &'static [&'static str],
    ld: &'static str,
    ld_flags: &'static [&'static str],
    text: u64,
    data: u64,
    host: u64,
    /// Bit 0 of every export (Thumb functions on M-profile).
    thumb: bool,
}

const TARGETS: [Target; 3] = [
    Target {
        arch: Arch::X86_64,
        compiler: Compiler::Gcc,
        flags: &["-O2", "-fno-common", "-fno-asynchronous-unwind-tables"],
        ld: "ld",
        ld_flags: &[],
        text: 0x0040_0000,
        data: 0x0100_0000,
        host: 0x0030_0000,
        thumb: false,
    },
    Target {
        arch: Arch::Arm,
        compiler: Compiler::Cross("arm-none-eabi-gcc"),
        flags: &[
            "-mcpu=cortex-m4",
            "-mthumb",
            "-O2",
            "-fno-common",
            "-fno-asynchronous-unwind-tables",
        ],
        ld: "arm-none-eabi-ld",
        ld_flags: &["--no-relax"],
        text: 0x0800_4000,
        data: 0x2000_1000,
        host: 0x0800_0000,
        thumb: true,
    },
    Target {
        arch: Arch::Riscv32,
        compiler: Compiler::Cross("riscv64-unknown-elf-gcc"),
        flags: &[
            "-march=rv32imac",
            "-mabi=ilp32",
            "-O2",
            "-mrelax",
            "-fno-common",
            "-fno-asynchronous-unwind-tables",
        ],
        ld: "riscv64-unknown-elf-ld",
        ld_flags: &["--no-relax", "-m", "elf32lriscv"],
        text: 0x2000_0000,
        data: 0x8040_0000,
        host: 0x1ff0_0000,
        thumb: false,
    },
];

const SOURCES: [&str; 6] = [
    "c/hello.c",
    "c/data.c",
    "c/init_fini.c",
    "c/bss.c",
    "c/align.c",
    "c/dep_b.c",
];

fn toolchain(t: &Target) -> bool {
    [t.compiler.command(), t.ld].iter().all(|c| {
        std::process::Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Prelink `source` for `t` and compare every loaded section's bytes with GNU ld's.
fn compare(t: &Target, source: &str) -> Result<usize, String> {
    let path = build_path(t.compiler, source, t.flags);
    let bytes = std::fs::read(&path).map_err(|e| e.to_string())?;
    let mut exports = elfext_testkit::oracle::fake_exports(&bytes, t.arch, t.host);
    for e in &mut exports {
        e.1 |= u64::from(t.thumb);
    }
    let mut map = ExportMap::new();
    for (n, a) in &exports {
        map.insert(n, *a);
    }
    let options = PrelinkOptions {
        arch: t.arch,
        text: t.text,
        data: t.data,
        exports: &map,
    };
    let mut placed = Vec::new();
    let mut trace = |p: Placed<'_>| {
        placed.push((
            p.index,
            String::from_utf8_lossy(p.name).into_owned(),
            p.kind,
            p.addr,
            p.size,
        ))
    };
    let image = prelink(&bytes, &options, Some(&mut trace)).map_err(|e| format!("prelink: {e}"))?;
    let img = Image::parse(&image).map_err(|e| e.to_string())?;
    // e_shnum: the linker's own GOT and veneers are reported past the last section.
    let at = if t.arch.is_64() { 60 } else { 48 };
    let shnum = u32::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
    let got = placed
        .iter()
        .find(|p| p.0 >= shnum && p.1 == ".got")
        .map(|p| p.3);
    let mut sections = Vec::new();
    for (index, name, kind, addr, size) in placed.into_iter().filter(|p| p.0 < shnum) {
        let mut s = Section {
            index,
            name,
            kind,
            addr,
            size,
            bytes: Vec::new(),
        };
        if kind != RegionKind::Bss && size > 0 {
            let (base, region) = if (img.text_range().0..img.text_range().1).contains(&addr) {
                (img.text_addr(), img.text())
            } else {
                (img.data_addr(), img.data())
            };
            let at = (addr - base) as usize;
            s.bytes = region
                .get(at..at + size as usize)
                .ok_or_else(|| format!("{} at {addr:#x} is outside the image", s.name))?
                .to_vec();
            // Text and rodata at the text address, data (and the init/fini tables) at the
            // data address.
            let want_text =
                matches!(kind, RegionKind::Text | RegionKind::Rodata) && !s.name.contains("_array");
            if want_text != (base == img.text_addr()) {
                return Err(format!("{} ({kind}) placed at {addr:#x}", s.name));
            }
        }
        sections.push(s);
    }
    let linked = ElfextLink { sections, got };
    let exports: Vec<(&str, u64)> = exports.iter().map(|(n, a)| (n.as_str(), *a)).collect();
    // GNU ld's own GOT and PLT, if it makes them, go far from both ranges.
    let theirs = link_gnu_ld(
        &path,
        &bytes,
        t.arch,
        t.ld,
        t.ld_flags,
        t.data + (16 << 20),
        &exports,
        &linked,
    )?;
    let mut n = 0;
    for (s, (addr, bytes)) in linked.compared().zip(&theirs) {
        if let Some(e) = difference(s, *addr, bytes) {
            return Err(e);
        }
        n += 1;
    }
    Ok(n)
}

#[test]
fn images_hold_the_same_bytes_as_gnu_ld_links_for_the_same_addresses() {
    let mut failures = Vec::new();
    for t in &TARGETS {
        if !toolchain(t) {
            println!("skipped: {} toolchain not installed", t.arch);
            continue;
        }
        let mut sections = 0;
        for source in SOURCES {
            match compare(t, source) {
                Ok(n) => sections += n,
                Err(e) => failures.push(format!("{} {source}: {e}", t.arch)),
            }
        }
        println!("{}: {sections} sections identical to GNU ld", t.arch);
        assert!(
            sections >= SOURCES.len(),
            "{}: only {sections} sections compared",
            t.arch
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
