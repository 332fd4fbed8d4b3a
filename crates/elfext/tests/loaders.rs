//! Loaders and storage types: where the loaded bytes end up (in the caller's buffer or in
//! the extension heap), `FileLoader` and `IoLoader` over an `embedded_io` stream, and
//! stream failures.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use common::*;
use elfext::{BufLoader, Error, FileLoader, IoLoader};
use elfext_testkit::LowBuffer;

/// Every C extension that loads on its own, built one way.
const SOURCES: [&str; 8] = [
    "c/hello.c",
    "c/data.c",
    "c/init_fini.c",
    "c/sections.c",
    "c/interleaved.c",
    "c/align.c",
    "c/bss.c",
    "c/dep_a.c",
];

#[test]
fn file_and_stream_loaders_load_every_extension_like_a_buffer() {
    for src in SOURCES {
        let obj = gcc(src, &["-O2", "-fPIC"]);
        let mut reports = Vec::new();
        for via in [Via::Temporary, Via::File, Via::Io] {
            check_via("ext", &obj, via, &mut |ext| {
                let mut exports = Vec::new();
                ext.registry
                    .with(ext.name, |e| {
                        e.for_each_export(|n, _| exports.push(n.to_string()))
                    })
                    .expect("loaded")
                    .expect("exports");
                exports.sort();
                reports.push((ext.report.regions, ext.report.copied, exports));
            });
        }
        assert!(
            reports.windows(2).all(|w| w[0] == w[1]),
            "{}: buffer, file and stream loads place the same regions and exports: {reports:?}",
            obj.label
        );
    }
}

#[test]
fn io_loader_with_an_explicit_length_loads() {
    let obj = gcc("c/hello.c", &["-O0", "-fno-pic"]);
    let registry = registry();
    let loader = IoLoader::new(VecStream::new(obj.bytes.clone()), obj.bytes.len() as u64);
    assert_eq!(registry.load("hello", loader), Ok(0), "IoLoader::new loads");
    // SAFETY: `int hello(void)`.
    let hello = registry
        .with("hello", |e| unsafe {
            e.function::<extern "C" fn() -> i32>("hello")
        })
        .expect("loaded")
        .expect("hello");
    assert_eq!(hello(), 23, "the streamed extension runs");
    assert_eq!(registry.unload("hello"), Ok(0));
    assert_heap_empty(&registry, "after the stream load");
}

/// A stream whose `fail_on`-th read (counting from 0) fails, like a flaky UART.
struct FailingStream {
    inner: VecStream,
    reads: usize,
    fail_on: usize,
}

impl FailingStream {
    fn new(bytes: &[u8], fail_on: usize) -> Self {
        FailingStream {
            inner: VecStream::new(bytes.to_vec()),
            reads: 0,
            fail_on,
        }
    }
}

impl embedded_io::ErrorType for FailingStream {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Read for FailingStream {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.reads += 1;
        if self.reads - 1 == self.fail_on {
            return Err(embedded_io::ErrorKind::Other);
        }
        self.inner.read(buf)
    }
}

impl embedded_io::Seek for FailingStream {
    fn seek(&mut self, pos: embedded_io::SeekFrom) -> Result<u64, Self::Error> {
        self.inner.seek(pos)
    }
}

#[test]
fn a_stream_failing_on_any_read_fails_the_load_and_leaks_nothing() {
    let obj = gcc("c/data.c", &["-O2", "-fPIC"]);
    let registry = registry();
    let len = obj.bytes.len() as u64;
    let mut fail_on = 0;
    loop {
        let before = registry.heap_stats();
        let loader = IoLoader::new(FailingStream::new(&obj.bytes, fail_on), len);
        match registry.load("data", loader) {
            Err(e) => assert!(
                matches!(e, Error::Io { .. } | Error::BadHeader(_)),
                "read #{fail_on} failing is reported as a read failure, not {e}"
            ),
            Ok(_) => {
                assert!(fail_on > 4, "a load reads the object piece by piece");
                assert_eq!(registry.unload("data"), Ok(0));
                break;
            }
        }
        assert_eq!(
            registry.heap_stats(),
            before,
            "read #{fail_on} failing: the heap is unchanged"
        );
        fail_on += 1;
    }
    assert_heap_empty(&registry, "after failing streams");
}

#[test]
fn a_stream_failing_on_any_read_is_an_io_error() {
    let obj = gcc("c/data.c", &["-O2", "-fPIC"]);
    let registry = registry();
    for fail_on in 0..6 {
        let loader = IoLoader::new(
            FailingStream::new(&obj.bytes, fail_on),
            obj.bytes.len() as u64,
        );
        let err = registry.load("data", loader).expect_err("the stream fails");
        assert!(
            matches!(err, Error::Io { .. }),
            "read #{fail_on} failing is an I/O error, not a malformed object: {err}"
        );
    }
}

#[test]
fn a_stream_shorter_than_its_declared_length_fails_cleanly() {
    let obj = gcc("c/hello.c", &["-O2", "-fPIC"]);
    let registry = registry();
    let half = obj.bytes[..obj.bytes.len() / 2].to_vec();
    let loader = IoLoader::new(VecStream::new(half), obj.bytes.len() as u64);
    registry
        .load("hello", loader)
        .expect_err("half an object cannot load");
    assert_heap_empty(&registry, "after the short stream");
}

#[test]
fn file_loader_reads_the_object_file() {
    let obj = gcc("c/hello.c", &["-O2", "-fno-pic"]);
    let registry = registry();
    let loader = FileLoader::open(&obj.path).expect("open");
    assert_eq!(registry.load("hello", loader), Ok(0), "FileLoader loads");
    assert_eq!(registry.unload("hello"), Ok(0));
    let truncated = std::env::temp_dir().join(format!("elfext-trunc-{}.o", std::process::id()));
    std::fs::write(&truncated, &obj.bytes[..obj.bytes.len() - 8]).expect("write");
    let loader = FileLoader::open(&truncated).expect("open");
    let err = registry
        .load("hello", loader)
        .expect_err("a truncated file cannot load");
    std::fs::remove_file(&truncated).ok();
    assert!(
        matches!(
            err,
            Error::BadHeader(_) | Error::SectionOutOfFile { .. } | Error::Read { .. }
        ),
        "a truncated file gives a header or range error, not {err}"
    );
    assert_heap_empty(&registry, "after the file loads");
}

/// Whether `addr` lies inside `buf`.
fn inside(buf: &[u8], addr: u64) -> bool {
    let start = buf.as_ptr() as u64;
    (start..start + buf.len() as u64).contains(&addr)
}

#[test]
fn persistent_low_buffers_lend_read_only_data_and_copy_writable_data() {
    for b in c_builds(&[]) {
        let obj = build("c/data.c", &b);
        let low = LowBuffer::new(&obj.bytes).expect("low buffer");
        let buf = low.as_slice();
        let registry = registry();
        let report = registry
            .load_with_report("data", BufLoader::persistent(buf))
            .expect("load");
        assert!(
            report.in_place > 0,
            "{}: read-only data is used in place",
            obj.label
        );
        let addr = |s: &str| registry.with("data", |e| e.symbol(s)).unwrap().unwrap();
        assert!(
            inside(buf, addr("version")),
            "{}: `const char version[]` (unrelocated .rodata) is read from the buffer",
            obj.label
        );
        for s in ["counter", "names", "ops"] {
            assert!(
                !inside(buf, addr(s)),
                "{}: writable `{s}` is copied out of the read-only buffer",
                obj.label
            );
        }
        for s in ["apply", "bump"] {
            assert!(!inside(buf, addr(s)), "{}: code `{s}` is copied", obj.label);
        }
        assert_eq!(
            low.as_slice(),
            &obj.bytes[..],
            "{}: a persistent buffer is never written",
            obj.label
        );
        assert_eq!(registry.unload("data"), Ok(0));
        assert_heap_empty(&registry, &obj.label);
    }
}

#[test]
fn writable_low_buffers_are_relocated_in_place() {
    for b in c_builds(&[]) {
        let obj = build("c/data.c", &b);
        let mut low = LowBuffer::new(&obj.bytes).expect("low buffer");
        let (start, len) = (low.as_slice().as_ptr() as u64, obj.bytes.len() as u64);
        let registry = registry();
        let report = registry
            .load_with_report("data", BufLoader::writable(low.as_mut_slice()))
            .expect("load");
        let code = sections(&obj.bytes)
            .iter()
            .filter(|s| s.is_loaded() && (s.is_code() || s.is_table()))
            .map(|s| s.size)
            .sum::<u64>();
        assert_eq!(report.copied, code, "{}: only code is copied", obj.label);
        let addr = |s: &str| registry.with("data", |e| e.symbol(s)).unwrap().unwrap();
        for s in ["counter", "names", "ops", "version", "greeting"] {
            let a = addr(s);
            assert!(
                (start..start + len).contains(&a),
                "{}: `{s}` at {a:#x} is used where it lies in the writable buffer",
                obj.label
            );
        }
        // SAFETY: `int counter` lives in the buffer while the extension is loaded.
        let counter = unsafe { read(addr("counter") as usize as *const i32) };
        assert_eq!(counter, 42, "{}: in-place data", obj.label);
        // SAFETY: `int (*ops[3])(int, int)`: relocated in place to the copied code.
        let ops = unsafe { read(addr("ops") as usize as *const [u64; 3]) };
        let apply = addr("apply");
        for op in ops {
            assert!(
                !(start..start + len).contains(&op) && op.abs_diff(apply) < 4096,
                "{}: the pointer table in the buffer now points to the copied code ({op:#x})",
                obj.label
            );
        }
        assert_eq!(registry.unload("data"), Ok(0));
        assert_heap_empty(&registry, &obj.label);
    }
}

#[test]
fn persistent_and_writable_vecs_out_of_reach_fall_back_to_copying() {
    let obj = gcc("c/data.c", &["-O2", "-fno-pic"]);
    let persistent = obj.bytes.clone();
    let mut writable = obj.bytes.clone();
    let low = |v: &Vec<u8>| (v.as_ptr() as u64 + v.len() as u64) <= 1 << 31;
    let (p_low, w_low) = (low(&persistent), low(&writable));
    let registry = registry();
    let rp = registry
        .load_with_report("p", BufLoader::persistent(&persistent))
        .expect("persistent Vec loads");
    let rw = registry
        .load_with_report("w", BufLoader::writable(&mut writable))
        .expect("writable Vec loads");
    if !p_low {
        assert_eq!(rp.in_place, 0, "a persistent Vec above 2 GiB is copied");
    }
    if !w_low {
        assert_eq!(rw.in_place, 0, "a writable Vec above 2 GiB is copied");
    }
    for name in ["p", "w"] {
        // SAFETY: `int apply(int, int, int)`.
        let apply = registry
            .with(name, |e| unsafe {
                e.function::<extern "C" fn(i32, i32, i32) -> i32>("apply")
            })
            .unwrap()
            .unwrap();
        assert_eq!(apply(2, 6, 7), 42, "`{name}` runs from copies");
    }
    registry.unload("p").unwrap();
    registry.unload("w").unwrap();
    assert_heap_empty(&registry, "after the Vec loads");
}
