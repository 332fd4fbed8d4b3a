//! Symbol binding: weak undefined references resolve to null, weak references to host
//! exports resolve to the host, hidden and static symbols are not exported, host function
//! addresses stored in data reach the host, several instances of one object are
//! independent, and a symbol exported by several extensions binds to the oldest.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use common::*;
use elfext::{BufLoader, Error, Name};

#[test]
fn weak_hidden_and_host_pointer_symbols_everywhere() {
    for b in c_builds(&[]) {
        let obj = build("c/symbols.c", &b);
        let pic = b.is_pic();
        check_everywhere("symbols", &obj, |ext| {
            let ctx = ext.ctx();
            // SAFETY: the signatures match symbols.c.
            let (weak_fn, weak_data, call_host_fn, use_hidden) = unsafe {
                (
                    ext.function::<extern "C" fn() -> i32>("weak_function_is_null"),
                    ext.function::<extern "C" fn() -> i32>("weak_data_is_null"),
                    ext.function::<extern "C" fn(i32, i32) -> i32>("call_host_fn"),
                    ext.function::<extern "C" fn(i32) -> i32>("use_hidden"),
                )
            };
            assert_eq!(weak_fn(), 1, "{ctx}: an undefined weak function is null");
            assert_eq!(weak_data(), 1, "{ctx}: undefined weak data is null");
            assert_eq!(
                call_host_fn(40, 2),
                42,
                "{ctx}: a host function pointer in .data"
            );
            assert_eq!(
                use_hidden(1),
                9,
                "{ctx}: hidden and weak definitions link locally"
            );
            if pic {
                // SAFETY: `int weak_host_print(void)`.
                let weak_host =
                    unsafe { ext.function::<extern "C" fn() -> i32>("weak_host_print") };
                assert_eq!(
                    weak_host(),
                    13,
                    "{ctx}: a weak reference binds to the host export"
                );
                assert_eq!(take_printed(), ["weakly linked"], "{ctx}: the host printed");
            }
            let hidden = ext
                .registry
                .with(ext.name, |e| e.symbol("hidden_helper"))
                .expect("loaded");
            assert!(
                matches!(hidden, Err(Error::NoSuchSymbol { .. })),
                "{ctx}: a hidden function is not exported"
            );
            let meta = ext
                .registry
                .with(ext.name, |e| e.symbol("meta_marker"))
                .expect("loaded");
            assert!(
                matches!(meta, Err(Error::NoSuchSymbol { .. })),
                "{ctx}: a global in a section that is not loaded is not exported"
            );
            assert_eq!(
                ext.symbol("abs_marker"),
                0x1234,
                "{ctx}: an absolute symbol's value"
            );
            // SAFETY: `int overridable(void)`.
            let overridable = unsafe { ext.function::<extern "C" fn() -> i32>("overridable") };
            assert_eq!(overridable(), 7, "{ctx}: a weak definition is exported");
        });
    }
}

#[test]
fn two_instances_of_one_object_have_separate_data() {
    for b in c_builds(&[]) {
        let obj = build("c/data.c", &b);
        for via in [Via::Temporary, Via::PersistentLow, Via::WritableLow] {
            let ctx = format!("{} via {via:?}", obj.label);
            let mut first = Staged::new(via, &obj);
            let mut second = Staged::new(via, &obj);
            let registry = registry();
            registry.load("one", first.loader()).expect("one");
            registry.load("two", second.loader()).expect("two");
            let bump = |name: &str| {
                // SAFETY: `int bump(int)`.
                registry
                    .with(name, |e| unsafe {
                        e.function::<extern "C" fn(i32) -> i32>("bump")
                    })
                    .unwrap()
                    .unwrap()
            };
            assert_eq!(bump("one")(10), 52, "{ctx}: first instance");
            assert_eq!(bump("one")(10), 62, "{ctx}: first instance again");
            assert_eq!(
                bump("two")(1),
                43,
                "{ctx}: the second instance has its own counter"
            );
            registry.unload("one").unwrap();
            assert_eq!(
                bump("two")(1),
                44,
                "{ctx}: the second survives the first's unload"
            );
            registry.unload("two").unwrap();
            assert_heap_empty(&registry, &ctx);
        }
    }
}

#[test]
fn a_symbol_exported_twice_binds_to_the_oldest_provider() {
    let a = gcc("c/dep_a.c", &["-O2", "-fPIC"]);
    let b = gcc("c/dep_b.c", &["-O2", "-fPIC"]);
    let registry = registry();
    registry
        .load("A-old", BufLoader::temporary(&a.bytes))
        .unwrap();
    registry
        .load("A-new", BufLoader::temporary(&a.bytes))
        .unwrap();
    registry.load("B", BufLoader::temporary(&b.bytes)).unwrap();
    let deps: Vec<String> = registry
        .with("B", |e| e.dependencies().map(String::from).collect())
        .unwrap();
    assert_eq!(deps, ["A-old"], "B binds to the oldest provider only");
    // SAFETY: `void b_set_a(int)`.
    let set = registry
        .with("B", |e| unsafe {
            e.function::<extern "C" fn(i32)>("b_set_a")
        })
        .unwrap()
        .unwrap();
    set(5);
    let value = |name: &str| {
        let p = registry
            .with(name, |e| e.data::<i32>("a_value"))
            .unwrap()
            .unwrap();
        // SAFETY: `int a_value` is live.
        unsafe { read(p) }
    };
    assert_eq!(
        (value("A-old"), value("A-new")),
        (5, 100),
        "B writes A-old's data"
    );
    assert_eq!(
        registry.unload("A-new"),
        Ok(0),
        "the unused provider unloads"
    );
    assert_eq!(
        registry.unload("A-old"),
        Err(Error::InUse {
            name: Name::from("A-old"),
            dependent: Name::from("B")
        }),
        "the provider B binds to is in use"
    );
    registry.unload("B").unwrap();
    registry.unload("A-old").unwrap();
    assert_heap_empty(&registry, "after the providers");
}

#[test]
fn host_exports_take_precedence_over_extension_exports() {
    // An extension exporting `host_add` must not shadow the host's export.
    let shadow = gcc("c/shadow.c", &["-O2", "-fPIC"]);
    let sections_obj = gcc("c/sections.c", &["-O2", "-fPIC"]);
    let registry = registry();
    registry
        .load("shadow", BufLoader::temporary(&shadow.bytes))
        .unwrap();
    registry
        .load("sections", BufLoader::temporary(&sections_obj.bytes))
        .unwrap();
    let deps = registry
        .with("sections", |e| e.dependencies().count())
        .unwrap();
    assert_eq!(deps, 0, "host_add comes from the host, not from `shadow`");
    // SAFETY: `int chain(int)`.
    let chain = registry
        .with("sections", |e| unsafe {
            e.function::<extern "C" fn(i32) -> i32>("chain")
        })
        .unwrap()
        .unwrap();
    assert_eq!(
        chain(1),
        1009,
        "the host's host_add adds; the shadow's would subtract"
    );
    assert_eq!(
        registry.unload("shadow"),
        Ok(0),
        "nothing depends on the shadow"
    );
    registry.unload("sections").unwrap();
    assert_heap_empty(&registry, "after shadowing");
}
