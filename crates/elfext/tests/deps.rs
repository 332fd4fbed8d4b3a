//! Extensions depending on each other: B calls A's exported function and reads and writes
//! A's exported data. A cannot be unloaded while B is loaded (`Error::InUse` naming B);
//! use counts: loading a loaded name returns the previous count, unloading returns the
//! uses left.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use common::*;
use elfext::{BufLoader, Error, HostMemory, Name, Registry};

fn check_b_uses_a(registry: &Registry<'_, HostMemory>, ctx: &str) {
    let f = |ext: &str, sym: &str| {
        registry
            .with(ext, |e| e.symbol(sym))
            .expect("loaded")
            .unwrap_or_else(|e| panic!("{ctx}: {e}"))
    };
    // SAFETY: the signatures match dep_a.c and dep_b.c; both stay loaded while used.
    let (b_compute, b_name_len, b_set_a, a_bump) = unsafe {
        (
            std::mem::transmute::<usize, extern "C" fn(i32) -> i32>(f("B", "b_compute") as usize),
            std::mem::transmute::<usize, extern "C" fn() -> i32>(f("B", "b_name_len") as usize),
            std::mem::transmute::<usize, extern "C" fn(i32)>(f("B", "b_set_a") as usize),
            std::mem::transmute::<usize, extern "C" fn() -> i32>(f("A", "a_bump") as usize),
        )
    };
    assert_eq!(
        b_compute(5),
        110,
        "{ctx}: B calls A's a_twice and reads A's a_value"
    );
    assert_eq!(b_name_len(), 11, "{ctx}: B reads A's exported string");
    b_set_a(7);
    let a_value = f("A", "a_value") as usize as *const i32;
    // SAFETY: A's `int a_value` is live.
    assert_eq!(
        unsafe { read(a_value) },
        7,
        "{ctx}: B's write lands in A's data"
    );
    assert_eq!(a_bump(), 8, "{ctx}: A sees B's write");
    assert_eq!(b_compute(1), 10, "{ctx}: B sees A's own update");
    let deps: Vec<String> = registry
        .with("B", |e| e.dependencies().map(String::from).collect())
        .expect("loaded");
    assert_eq!(deps, ["A"], "{ctx}: B records its dependency on A");
    let deps_a = registry
        .with("A", |e| e.dependencies().count())
        .expect("loaded");
    assert_eq!(deps_a, 0, "{ctx}: A depends on nothing");
}

fn check_unload_order_and_use_counts(registry: &Registry<'_, HostMemory>, ctx: &str) {
    let before = registry.heap_stats();
    assert_eq!(
        registry.unload("A"),
        Err(Error::InUse {
            name: Name::from("A"),
            dependent: Name::from("B"),
        }),
        "{ctx}: A cannot be unloaded while B links against it"
    );
    assert_eq!(
        Error::InUse {
            name: Name::from("A"),
            dependent: Name::from("B"),
        }
        .to_string(),
        "extension `A` is still used by `B`; unload `B` first",
        "{ctx}: the message says what to do"
    );
    assert!(
        registry.contains("A"),
        "{ctx}: A stays loaded after the refusal"
    );
    assert_eq!(
        registry.heap_stats(),
        before,
        "{ctx}: a refused unload changes nothing"
    );

    // Use counts: a second load of a loaded name only counts a use.
    assert_eq!(
        registry.load("A", BufLoader::temporary(&[])),
        Ok(1),
        "{ctx}: loading a loaded name returns the previous use count"
    );
    assert_eq!(
        registry.load("A", BufLoader::temporary(&[])),
        Ok(2),
        "{ctx}: third use"
    );
    assert_eq!(
        registry.heap_stats(),
        before,
        "{ctx}: counting a use allocates nothing"
    );
    let uses = registry.with("A", |e| e.use_count()).expect("loaded");
    assert_eq!(uses, 3, "{ctx}: use_count() after three loads");
    assert_eq!(
        registry.unload("A"),
        Ok(2),
        "{ctx}: unload returns the uses left"
    );
    assert_eq!(
        registry.unload("A"),
        Ok(1),
        "{ctx}: unload returns the uses left"
    );
    assert!(
        matches!(registry.unload("A"), Err(Error::InUse { .. })),
        "{ctx}: the last use of A is still refused while B is loaded"
    );
    assert_eq!(registry.unload("B"), Ok(0), "{ctx}: B unloads");
    assert!(!registry.contains("B"), "{ctx}: B is gone");
    assert_eq!(
        registry.unload("A"),
        Ok(0),
        "{ctx}: A unloads once B is gone"
    );
    assert_eq!(
        registry.unload("A"),
        Err(Error::NotLoaded(Name::from("A"))),
        "{ctx}: unloading an unloaded name is NotLoaded"
    );
    assert_heap_empty(registry, ctx);
}

#[test]
fn b_links_against_a_and_blocks_its_unload_everywhere() {
    for b in c_builds(&[]) {
        let a = build("c/dep_a.c", &b);
        let bb = build("c/dep_b.c", &b);
        for via in Via::ALL {
            let ctx = format!("{} + {} via {via:?}", a.label, bb.label);
            let mut sa = Staged::new(via, &a);
            let mut sb = Staged::new(via, &bb);
            let registry = registry();
            assert_eq!(
                registry.load("A", sa.loader()),
                Ok(0),
                "{ctx}: A loads fresh"
            );
            assert_eq!(
                registry.load("B", sb.loader()),
                Ok(0),
                "{ctx}: B loads fresh"
            );
            assert_eq!(registry.len(), 2, "{ctx}: two extensions loaded");
            check_b_uses_a(&registry, &ctx);
            check_unload_order_and_use_counts(&registry, &ctx);
        }
    }
}

#[test]
fn dependencies_link_across_different_storage_types() {
    let a = gcc("c/dep_a.c", &["-O2", "-fno-pic"]);
    let bb = gcc("c/dep_b.c", &["-O2", "-fPIC"]);
    for via_a in Via::ALL {
        for via_b in Via::ALL {
            let ctx = format!("A via {via_a:?}, B via {via_b:?}");
            let mut sa = Staged::new(via_a, &a);
            let mut sb = Staged::new(via_b, &bb);
            let registry = registry();
            registry
                .load("A", sa.loader())
                .unwrap_or_else(|e| panic!("{ctx}: A: {e}"));
            registry
                .load("B", sb.loader())
                .unwrap_or_else(|e| panic!("{ctx}: B: {e}"));
            check_b_uses_a(&registry, &ctx);
            check_unload_order_and_use_counts(&registry, &ctx);
        }
    }
}

#[test]
fn b_without_a_names_every_missing_symbol_of_a() {
    for b in c_builds(&[]) {
        let bb = build("c/dep_b.c", &b);
        let registry = registry();
        let Error::MissingSymbols(missing) = load_err(&registry, &bb.bytes) else {
            panic!("{}: B without A fails with MissingSymbols", bb.label);
        };
        let mut names: Vec<String> = missing.iter().map(|n| n.to_string()).collect();
        names.sort();
        assert_eq!(
            names,
            ["a_name", "a_twice", "a_value"],
            "{}: every symbol A would provide is listed, once",
            bb.label
        );
    }
}

#[test]
fn an_unloaded_provider_no_longer_resolves_symbols() {
    let a = gcc("c/dep_a.c", &["-O2", "-fPIC"]);
    let bb = gcc("c/dep_b.c", &["-O2", "-fPIC"]);
    let registry = registry();
    registry
        .load("A", BufLoader::temporary(&a.bytes))
        .expect("A loads");
    registry
        .load("B", BufLoader::temporary(&bb.bytes))
        .expect("B loads");
    registry.unload("B").expect("B unloads");
    registry.unload("A").expect("A unloads");
    assert!(
        matches!(load_err(&registry, &bb.bytes), Error::MissingSymbols(_)),
        "B cannot link once A is gone"
    );
    assert_heap_empty(&registry, "after A and B");
}
