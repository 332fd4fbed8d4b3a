//! Bad input never panics and never leaks: every truncation of a few valid objects and
//! random multi-bit flips give an `Err`, or a load that unloads cleanly; the heap after the
//! call (and after unloading what loaded) is exactly what it was before. Code from these
//! objects is never run: a flipped object may load with garbage code.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use common::*;
use elfext::{BufLoader, HostMemory, IoLoader, Loader, Registry};
use elfext_testkit::LowBuffer;
use proptest::prelude::*;

/// The objects mutated here: C with and without PIC, init/fini tables, common symbols,
/// and the Rust extension.
fn objects() -> &'static [Obj] {
    static OBJECTS: OnceLock<Vec<Obj>> = OnceLock::new();
    OBJECTS.get_or_init(|| {
        let rust = rust_builds().into_iter().next().expect("a rust build");
        vec![
            gcc("c/hello.c", &["-O2", "-fPIC"]),
            gcc("c/data.c", &["-O0", "-fno-pic"]),
            gcc("c/init_fini.c", &["-O2", "-fPIC"]),
            gcc("c/bss.c", &["-O2", "-fno-pic", "-fcommon"]),
            build("rust/compute.rs", &rust),
        ]
    })
}

/// Load through `loader` into `registry`; the heap must be as before after an error, and
/// after unloading a successful load. Panics (with `ctx`) if elfext panics.
fn load_or_fail_cleanly<'b>(
    registry: &Registry<'b, HostMemory>,
    loader: impl Loader<'b>,
    ctx: &str,
) {
    let before = registry.heap_stats();
    let result = catch_unwind(AssertUnwindSafe(|| registry.load("mutant", loader)));
    let Ok(result) = result else {
        panic!("{ctx}: elfext panicked");
    };
    if result.is_ok() {
        assert_eq!(
            registry.unload("mutant"),
            Ok(0),
            "{ctx}: a mutant that loaded unloads"
        );
    }
    assert_eq!(
        registry.heap_stats(),
        before,
        "{ctx}: the heap is as before ({})",
        match &result {
            Ok(_) => "loaded and unloaded".to_string(),
            Err(e) => e.to_string(),
        }
    );
}

/// Load `bytes` as temporary, streamed, persistent and writable (low memory) objects.
fn load_every_way(bytes: &[u8], ctx: &str) {
    let copying = registry();
    load_or_fail_cleanly(
        &copying,
        BufLoader::temporary(bytes),
        &format!("{ctx}, temporary"),
    );
    let stream = IoLoader::new(VecStream::new(bytes.to_vec()), bytes.len() as u64);
    load_or_fail_cleanly(&copying, stream, &format!("{ctx}, stream"));
    assert_heap_empty(&copying, ctx);
    let persistent = LowBuffer::new(bytes).expect("low buffer");
    let mut writable = LowBuffer::new(bytes).expect("low buffer");
    let registry = registry();
    load_or_fail_cleanly(
        &registry,
        BufLoader::persistent(persistent.as_slice()),
        &format!("{ctx}, persistent"),
    );
    load_or_fail_cleanly(
        &registry,
        BufLoader::writable(writable.as_mut_slice()),
        &format!("{ctx}, writable"),
    );
    assert_heap_empty(&registry, ctx);
}

/// Truncation lengths to try: all of them for small objects; for larger ones every 7th and
/// every length around a section's start and end (where parsing decisions change).
fn truncation_lengths(obj: &Obj) -> Vec<usize> {
    let len = obj.bytes.len();
    if len <= 4096 {
        return (0..len).collect();
    }
    let mut lens: Vec<usize> = (0..len).step_by(7).collect();
    let shoff = ehdr(&obj.bytes).e_shoff.get(object::LittleEndian) as usize;
    let mut edges = vec![64, shoff, len];
    for s in sections(&obj.bytes) {
        edges.push(s.offset as usize);
        edges.push((s.offset + s.size) as usize);
    }
    for e in edges {
        lens.extend(e.saturating_sub(2)..(e + 2).min(len));
    }
    lens.sort_unstable();
    lens.dedup();
    lens
}

#[test]
fn every_truncation_fails_cleanly_or_loads_and_unloads() {
    for obj in objects() {
        let mut loaded = 0;
        for len in truncation_lengths(obj) {
            let bytes = &obj.bytes[..len];
            let registry = registry();
            let before = registry.heap_stats();
            let result = catch_unwind(AssertUnwindSafe(|| {
                registry.load("cut", BufLoader::temporary(bytes))
            }))
            .unwrap_or_else(|_| panic!("{}: truncated to {len} bytes: elfext panicked", obj.label));
            if result.is_ok() {
                loaded += 1;
                registry.unload("cut").expect("unload");
            }
            assert_eq!(
                registry.heap_stats(),
                before,
                "{}: truncated to {len} bytes",
                obj.label
            );
        }
        assert_eq!(
            loaded, 0,
            "{}: no truncation of an object with trailing section headers loads",
            obj.label
        );
    }
}

#[test]
fn truncations_fail_cleanly_through_every_storage_type() {
    // Every storage path (borrowed, streamed, in place), sampled more sparsely.
    for obj in objects() {
        let lens = truncation_lengths(obj);
        for len in lens.iter().copied().step_by(5) {
            load_every_way(&obj.bytes[..len], &format!("{} cut to {len}", obj.label));
        }
    }
}

/// Byte ranges the loader interprets (headers, section headers, symbols, strings and
/// relocations), where flips are most interesting.
fn metadata_ranges(obj: &Obj) -> Vec<(usize, usize)> {
    let shoff = ehdr(&obj.bytes).e_shoff.get(object::LittleEndian) as usize;
    let mut ranges = vec![(0, 64), (shoff, obj.bytes.len())];
    for s in sections(&obj.bytes) {
        let table = matches!(
            s.ty,
            object::elf::SHT_SYMTAB | object::elf::SHT_STRTAB | object::elf::SHT_RELA
        );
        if table && s.size > 0 {
            ranges.push((s.offset as usize, (s.offset + s.size) as usize));
        }
    }
    ranges
}

/// A flip: which object, whether to aim at metadata, where, and which bit.
fn flips() -> impl Strategy<
    Value = (
        usize,
        Vec<(bool, prop::sample::Index, prop::sample::Index, u8)>,
    ),
> {
    (
        0..objects().len(),
        prop::collection::vec(
            (
                any::<bool>(),
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                0u8..8,
            ),
            1..8,
        ),
    )
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_bit_flips_fail_cleanly_or_load_and_unload((which, bits) in flips()) {
        let obj = &objects()[which];
        let ranges = metadata_ranges(obj);
        let mut bytes = obj.bytes.clone();
        let mut at = Vec::new();
        for (meta, range, offset, bit) in bits {
            let byte = if meta {
                let (start, end) = ranges[range.index(ranges.len())];
                start + offset.index(end - start)
            } else {
                offset.index(bytes.len())
            };
            bytes[byte] ^= 1 << bit;
            at.push((byte, bit));
        }
        load_every_way(&bytes, &format!("{} with bits flipped at {at:?}", obj.label));
    }
}

/// A hostile value for a header field: small, boundary or random.
fn hostile_value() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(u64::from(u32::MAX)),
        Just(u64::MAX),
        Just(1 << 31),
        0u64..0x2000,
        any::<u64>(),
    ]
}

/// Which field of which section header (or relocation entry) to overwrite.
#[derive(Clone, Copy, Debug)]
enum Field {
    Offset,
    Size,
    Link,
    Info,
    Align,
    EntSize,
    Type,
    Flags,
    RelocOffset,
    RelocSymbol,
    RelocType,
    RelocAddend,
}

fn field() -> impl Strategy<Value = Field> {
    prop::sample::select(vec![
        Field::Offset,
        Field::Size,
        Field::Link,
        Field::Info,
        Field::Align,
        Field::EntSize,
        Field::Type,
        Field::Flags,
        Field::RelocOffset,
        Field::RelocSymbol,
        Field::RelocType,
        Field::RelocAddend,
    ])
}

/// Overwrite `field` of section `index` (or of a relocation entry in a relocation section).
/// `secs` are the sections of the unchanged object.
fn lie(
    bytes: &mut [u8],
    secs: &[Section],
    index: u32,
    entry: prop::sample::Index,
    field: Field,
    value: u64,
) {
    use object::LittleEndian as LE;
    let rela = secs
        .iter()
        .filter(|s| s.ty == object::elf::SHT_RELA && s.size >= 24)
        .nth(index as usize % 4);
    let h = shdr_mut(bytes, index);
    match field {
        Field::Offset => h.sh_offset.set(LE, value),
        Field::Size => h.sh_size.set(LE, value),
        Field::Link => h.sh_link.set(LE, value as u32),
        Field::Info => h.sh_info.set(LE, value as u32),
        Field::Align => h.sh_addralign.set(LE, value),
        Field::EntSize => h.sh_entsize.set(LE, value),
        Field::Type => h.sh_type.set(LE, object::elf::SectionType(value as u32)),
        Field::Flags => h.sh_flags.set(LE, object::elf::SectionFlags(value)),
        _ => {
            let Some(rela) = rela.cloned() else { return };
            let r = rela_mut(bytes, &rela, entry.index((rela.size / 24) as usize));
            let (sym, ty) = (r.r_sym(LE, false), r.r_type(LE, false));
            match field {
                Field::RelocOffset => r.r_offset.set(LE, value),
                Field::RelocSymbol => r.set_r_info(LE, false, value as u32, ty),
                Field::RelocType => r.set_r_info(
                    LE,
                    false,
                    sym,
                    object::elf::RelocationType(value as u32 % 64),
                ),
                _ => r.r_addend.set(LE, value as i64),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn lying_section_headers_and_relocations_fail_cleanly_or_load_and_unload(
        which in 0..objects().len(),
        lies in prop::collection::vec(
            (any::<prop::sample::Index>(), any::<prop::sample::Index>(), field(), hostile_value()),
            1..4,
        ),
    ) {
        let obj = &objects()[which];
        let secs = sections(&obj.bytes);
        let n = secs.len();
        let mut bytes = obj.bytes.clone();
        let mut told = Vec::new();
        for (section, entry, field, value) in lies {
            let index = section.index(n) as u32;
            lie(&mut bytes, &secs, index, entry, field, value);
            told.push((index, field, value));
        }
        load_every_way(&bytes, &format!("{} with {told:?}", obj.label));
    }
}
