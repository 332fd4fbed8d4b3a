//! Thread-local storage on the native host: extensions built with
//! `-ftls-model=local-exec` reach their `__thread` variables at %fs plus a constant, inside
//! an area this test program reserves in its own TLS block.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use std::cell::UnsafeCell;

use common::*;
use elfext::{BufLoader, Error, HostMemory, Registry, TlsArea};

/// Bytes of the area the host reserves in every thread.
const AREA: usize = 256;

/// The host's thread-local area, aligned for any extension variable.
#[repr(C, align(64))]
struct Area(UnsafeCell<[u8; AREA]>);

thread_local! {
    // Const-initialized without a destructor: a plain static TLS variable of the test
    // executable, at the same offset from the thread pointer in every thread.
    static HOST_AREA: Area = const { Area(UnsafeCell::new([0; AREA])) };
}

/// The thread pointer (%fs base): the TCB's first word points to the TCB itself.
fn thread_pointer() -> usize {
    let tp: usize;
    // SAFETY: reads the TCB's self pointer, which x86-64 Linux always sets.
    unsafe { std::arch::asm!("mov {}, qword ptr fs:0", out(reg) tp) };
    tp
}

/// This thread's copy of the area.
fn area_addr() -> usize {
    HOST_AREA.with(|a| a.0.get() as usize)
}

/// The area as this thread sees it: offset from the thread pointer, this thread's copy
/// initialized at load.
fn area(size: u64) -> TlsArea {
    TlsArea {
        tp_offset: area_addr() as i64 - thread_pointer() as i64,
        size,
        init: Some(area_addr()),
    }
}

fn tls_registry<'b>(size: u64) -> Registry<'b, HostMemory> {
    // SAFETY: the area is this thread's `HOST_AREA` (at least `size` bytes), written by
    // nobody but the registry's loads, which all run on this thread.
    unsafe { registry().with_tls(area(size)) }
}

fn zero_area() {
    // SAFETY: this thread's copy; no extension code runs meanwhile.
    HOST_AREA.with(|a| unsafe { (*a.0.get()).fill(0) });
}

type GetFn = extern "C" fn() -> i32;
type BumpFn = extern "C" fn(i32) -> i32;
type WideFn = extern "C" fn() -> i64;
type AddrFn = extern "C" fn() -> *mut i32;
type BufFn = extern "C" fn() -> *mut u8;

/// Bytes of the object's thread-local sections: initialized ones, then zeroed ones, each
/// aligned.
fn tls_size(bytes: &[u8]) -> u64 {
    let secs = sections(bytes);
    let tls = |nobits: bool| {
        secs.iter().filter(move |s| {
            s.flags & object::elf::SHF_TLS.0 != 0 && (s.ty == object::elf::SHT_NOBITS) == nobits
        })
    };
    tls(false)
        .chain(tls(true))
        .fold(0, |end, s| end.next_multiple_of(s.align.max(1)) + s.size)
}

/// Function `name` of the extension "tls".
///
/// # Safety
/// `F` must be its type.
unsafe fn func<F: Copy>(registry: &Registry<'_, HostMemory>, name: &str) -> F {
    registry
        // SAFETY: forwarded from the caller.
        .with("tls", |e| unsafe { e.function::<F>(name) })
        .unwrap()
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn builds() -> Vec<Build> {
    c_builds(&["-ftls-model=local-exec"])
}

#[test]
fn variables_live_in_the_hosts_area_initialized_from_the_template() {
    assert!(
        thread_pointer() > area_addr(),
        "x86-64: TLS lies below the thread pointer"
    );
    for b in builds() {
        let obj = build("c/tls.c", &b);
        for via in Via::ALL {
            let ctx = format!("{} via {via:?}", obj.label);
            zero_area();
            let registry = tls_registry(AREA as u64);
            let mut staged = Staged::new(via, &obj);
            registry
                .load("tls", staged.loader())
                .unwrap_or_else(|e| panic!("{ctx}: load failed: {e}"));
            let (off, size) = registry.with("tls", |e| e.tls_range()).unwrap();
            assert_eq!(off, 0, "{ctx}: the first extension gets the area's start");
            assert_eq!(
                size,
                tls_size(&obj.bytes),
                "{ctx}: .tdata then .tbss, aligned"
            );
            // SAFETY: the functions have these C types; the extension stays loaded while
            // they are called.
            let (get, bump, wide, addr, buf, deref) = unsafe {
                (
                    func::<GetFn>(&registry, "tls_get"),
                    func::<BumpFn>(&registry, "tls_bump"),
                    func::<WideFn>(&registry, "tls_wide_sum"),
                    func::<AddrFn>(&registry, "tls_addr"),
                    func::<BufFn>(&registry, "tls_buf"),
                    func::<GetFn>(&registry, "tls_deref"),
                )
            };
            let a = addr() as usize;
            assert!(
                (area_addr()..area_addr() + AREA).contains(&a),
                "{ctx}: the variable is in the host's area"
            );
            assert_eq!(buf() as usize % 16, 0, "{ctx}: alignment is kept");
            assert_eq!(get(), 5, "{ctx}: .tdata initialized, .tbss zeroed");
            assert_eq!(deref(), 42, "{ctx}: the template was relocated");
            assert_eq!(
                wide(),
                0x123456789 + 6,
                "{ctx}: the whole template is copied"
            );
            assert_eq!((bump(3), bump(4), get()), (3, 7, 12), "{ctx}: writes stick");
            // Another thread has its own copy of the area, never initialized by the load.
            let other = std::thread::spawn(move || {
                let mine = area_addr();
                (get(), bump(2), bump(2), addr() as usize - mine)
            })
            .join()
            .unwrap();
            assert_eq!(
                other,
                (0, 2, 4, a - area_addr()),
                "{ctx}: another thread sees its own zeroed copy at the same offset"
            );
            assert_eq!(get(), 12, "{ctx}: this thread's copy is untouched");
            assert_eq!(registry.unload("tls"), Ok(0));
            assert_heap_empty(&registry, &ctx);
        }
    }
}

#[test]
fn extensions_get_separate_ranges_freed_at_unload() {
    let obj = gcc("c/tls.c", &["-O2", "-fno-pic", "-ftls-model=local-exec"]);
    zero_area();
    let registry = tls_registry(AREA as u64);
    let load = |name: &str| {
        registry
            .load(name, BufLoader::temporary(&obj.bytes))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        registry.with(name, |e| e.tls_range()).unwrap()
    };
    let (a, b, c) = (load("a"), load("b"), load("c"));
    // The object's TLS is 16-byte aligned.
    let stride = tls_size(&obj.bytes).next_multiple_of(16);
    assert!(3 * stride <= AREA as u64);
    assert_eq!(
        (a.0, b.0, c.0),
        (0, stride, 2 * stride),
        "first fit, aligned"
    );
    assert_eq!(registry.unload("b"), Ok(0));
    // SAFETY: `tls_bump` is `int (int)`; "a" stays loaded while it is used.
    let bump_a: BumpFn = registry
        .with("a", |e| unsafe { e.function::<BumpFn>("tls_bump") })
        .unwrap()
        .unwrap();
    assert_eq!(bump_a(1), 1);
    let d = load("d");
    assert_eq!(d.0, stride, "the freed range is reused");
    assert_eq!(
        bump_a(1),
        2,
        "loading another extension leaves a's variables alone"
    );
    for n in ["a", "c", "d"] {
        assert_eq!(registry.unload(n), Ok(0));
    }
    assert_heap_empty(&registry, "tls ranges");
}

#[test]
fn a_thread_local_symbol_from_outside_is_refused() {
    let registry = tls_registry(AREA as u64);
    for b in builds() {
        let obj = build("c/tls_extern.c", &b);
        let err = load_err(&registry, &obj.bytes);
        assert_eq!(
            err,
            Error::ExternalTls("elsewhere".into()),
            "{}: {err}",
            obj.label
        );
    }
}

#[test]
fn a_full_area_is_an_error_and_the_heap_is_unchanged() {
    let obj = gcc("c/tls.c", &["-O2", "-fPIC", "-ftls-model=local-exec"]);
    zero_area();
    let registry = tls_registry(100);
    registry
        .load("first", BufLoader::temporary(&obj.bytes))
        .expect("one fits");
    let err = load_err(&registry, &obj.bytes);
    let Error::TlsAreaFull {
        section,
        needed,
        free,
    } = err
    else {
        panic!("expected TlsAreaFull, got {err}");
    };
    let size = tls_size(&obj.bytes);
    assert_eq!((needed, free), (size, 100 - size), "{err}");
    assert!(section.name.to_string().starts_with(".t"), "{err}");
    assert_eq!(registry.unload("first"), Ok(0));
    assert_heap_empty(&registry, "full area");
}
