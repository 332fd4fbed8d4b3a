//! One `Registry` shared by several threads (it is `Sync`): threads load, call and unload
//! shared names (use counted) and names of their own, including extensions that depend on a
//! shared provider, through temporary, persistent and writable buffers at once.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use common::*;
use elfext::{BufLoader, HostMemory, Registry};
use elfext_testkit::LowBuffer;

const THREADS: usize = 4;
const ROUNDS: usize = 25;
/// Rounds in which each thread loads its data extension from a writable buffer.
const WRITABLE_ROUNDS: usize = 5;

fn assert_sync_and_send<T: Sync + Send>() {}

#[test]
fn the_registry_is_sync() {
    assert_sync_and_send::<Registry<'static, HostMemory>>();
}

/// Load `name`, run `f` on the address of `sym`, and return its result.
fn call<R>(
    registry: &Registry<'_, HostMemory>,
    name: &str,
    sym: &str,
    f: impl FnOnce(usize) -> R,
) -> R {
    let addr = registry
        .with(name, |e| e.symbol(sym))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    f(addr as usize)
}

#[test]
fn threads_share_one_registry_with_shared_and_private_names() {
    let hello = gcc("c/hello.c", &["-O2", "-fPIC"]);
    let data = gcc("c/data.c", &["-O2", "-fno-pic"]);
    let a = gcc("c/dep_a.c", &["-O2", "-fPIC"]);
    let b = gcc("c/dep_b.c", &["-O0", "-fno-pic"]);
    // Buffers outlive the registry: one shared persistent copy, and fresh writable copies.
    let shared_low = LowBuffer::new(&data.bytes).expect("low buffer");
    let mut writable: Vec<LowBuffer> = (0..THREADS * WRITABLE_ROUNDS)
        .map(|_| LowBuffer::new(&data.bytes).expect("low buffer"))
        .collect();
    let mut writable: Vec<&mut [u8]> = writable.iter_mut().map(LowBuffer::as_mut_slice).collect();
    let persistent: &[u8] = shared_low.as_slice();
    let registry = registry();

    std::thread::scope(|s| {
        for t in 0..THREADS {
            let mine: Vec<&mut [u8]> = writable.drain(..WRITABLE_ROUNDS).collect();
            let (registry, hello, data, a, b) = (&registry, &hello, &data, &a, &b);
            s.spawn(move || {
                let mut mine = mine.into_iter();
                let own = format!("data-{t}");
                let own_b = format!("B-{t}");
                for round in 0..ROUNDS {
                    let ctx = format!("thread {t} round {round}");
                    // A shared name: only the first load links, the others count uses.
                    registry
                        .load("hello", BufLoader::temporary(&hello.bytes))
                        .expect("hello");
                    call(registry, "hello", "hello", |f| {
                        // SAFETY: `int hello(void)`; this thread holds a use of "hello".
                        let f = unsafe { std::mem::transmute::<usize, extern "C" fn() -> i32>(f) };
                        assert_eq!(f(), 23, "{ctx}: hello runs");
                    });
                    assert_eq!(
                        take_printed(),
                        ["hello from an extension"],
                        "{ctx}: printed on this thread"
                    );

                    // A private name, from a temporary, persistent or writable buffer.
                    let loaded = match (round % 3, mine.next()) {
                        (_, Some(buf)) => registry.load(&own, BufLoader::writable(buf)),
                        (0, None) => registry.load(&own, BufLoader::persistent(persistent)),
                        _ => registry.load(&own, BufLoader::temporary(&data.bytes)),
                    };
                    assert_eq!(loaded, Ok(0), "{ctx}: {own} is fresh");
                    call(registry, &own, "bump", |f| {
                        // SAFETY: `int bump(int)`; the extension is this thread's own.
                        let f =
                            unsafe { std::mem::transmute::<usize, extern "C" fn(i32) -> i32>(f) };
                        assert_eq!(f(round as i32), 42 + round as i32, "{ctx}: private data");
                    });

                    // A shared provider with a private dependent.
                    registry
                        .load("A", BufLoader::temporary(&a.bytes))
                        .expect("A");
                    registry
                        .load(&own_b, BufLoader::temporary(&b.bytes))
                        .expect("B");
                    call(registry, &own_b, "b_compute", |f| {
                        // SAFETY: `int b_compute(int)`; this thread holds uses of A and B.
                        let f =
                            unsafe { std::mem::transmute::<usize, extern "C" fn(i32) -> i32>(f) };
                        assert_eq!(f(t as i32), 2 * t as i32 + 100, "{ctx}: B calls A");
                    });
                    assert_eq!(registry.unload(&own_b), Ok(0), "{ctx}: B is private");
                    registry
                        .unload("A")
                        .unwrap_or_else(|e| panic!("{ctx}: A: {e}"));
                    assert_eq!(registry.unload(&own), Ok(0), "{ctx}: {own} is private");
                    registry
                        .unload("hello")
                        .unwrap_or_else(|e| panic!("{ctx}: hello: {e}"));
                }
            });
        }
    });
    assert_heap_empty(&registry, "after every thread finished");
}
