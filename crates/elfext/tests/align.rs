//! Alignment from 8 to 512 bytes: read-only, writable and zeroed data and functions with
//! `__attribute__((aligned(N)))` keep their alignment wherever they are placed (copied into
//! the block or used in place), and the code that uses them works.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use common::*;

/// Every aligned symbol in align.c with its alignment.
const ALIGNED: [(&str, u64); 12] = [
    ("ro_8", 8),
    ("ro_64", 64),
    ("ro_512", 512),
    ("rw_16", 16),
    ("rw_128", 128),
    ("rw_256", 256),
    ("bss_32", 32),
    ("bss_512", 512),
    ("fn_16", 16),
    ("fn_32", 32),
    ("fn_256", 256),
    ("fn_512", 512),
];

#[test]
fn aligned_data_and_functions_keep_their_alignment_everywhere() {
    for b in c_builds(&[]) {
        let obj = build("c/align.c", &b);
        check_everywhere("align", &obj, |ext| {
            let ctx = ext.ctx();
            for (sym, align) in ALIGNED {
                let addr = ext.symbol(sym);
                assert_eq!(
                    addr % align,
                    0,
                    "{ctx}: `{sym}` at {addr:#x} is aligned to {align} bytes"
                );
            }
            // SAFETY: `long ro_512` is live.
            assert_eq!(
                unsafe { read(ext.data::<i64>("ro_512")) },
                512,
                "{ctx}: ro_512's value"
            );
            // SAFETY: `long rw_256` is live.
            assert_eq!(
                unsafe { read(ext.data::<i64>("rw_256")) },
                256,
                "{ctx}: rw_256's value"
            );
            // SAFETY: `int fn_512(void)`.
            let fn_512 = unsafe { ext.function::<extern "C" fn() -> i32>("fn_512") };
            assert_eq!(fn_512(), 512, "{ctx}: a 512-byte aligned function runs");
            // SAFETY: `long aligned_sum(void)`.
            let sum = unsafe { ext.function::<extern "C" fn() -> i64>("aligned_sum") };
            assert_eq!(sum(), 1806, "{ctx}: code reads every aligned object");
            assert_eq!(sum(), 1809, "{ctx}: and writes the aligned .bss objects");
        });
    }
}

#[test]
fn sections_misaligned_in_a_persistent_buffer_are_copied_to_keep_their_alignment() {
    for b in c_builds(&[]) {
        let obj = build("c/align.c", &b);
        // The object starts 8 bytes into a page: sections aligned to 16 or more are not
        // aligned where they lie in the buffer.
        let shifted: Vec<u8> = [&[0u8; 8][..], &obj.bytes].concat();
        let low = elfext_testkit::LowBuffer::new(&shifted).expect("low buffer");
        let buf = &low.as_slice()[8..];
        let base = buf.as_ptr() as u64;
        assert_eq!(base % 16, 8, "the object is only 8-byte aligned");
        let expected = Expected::model(&obj.bytes, elfext::Storage::Persistent, base);
        let registry = registry();
        let report = registry
            .load_with_report("align", elfext::BufLoader::persistent(buf))
            .unwrap_or_else(|e| panic!("{}: {e}", obj.label));
        check_report(&obj.label, Via::PersistentLow, expected, &report);
        for (sym, align) in ALIGNED {
            let addr = registry.with("align", |e| e.symbol(sym)).unwrap().unwrap();
            assert_eq!(
                addr % align,
                0,
                "{}: `{sym}` at {addr:#x} is {align}-aligned",
                obj.label
            );
        }
        // SAFETY: `long aligned_sum(void)`.
        let sum = registry
            .with("align", |e| unsafe {
                e.function::<extern "C" fn() -> i64>("aligned_sum")
            })
            .unwrap()
            .unwrap();
        assert_eq!(
            sum(),
            1806,
            "{}: the code reads every aligned object",
            obj.label
        );
        assert_eq!(registry.unload("align"), Ok(0));
        assert_heap_empty(&registry, &obj.label);
    }
}
