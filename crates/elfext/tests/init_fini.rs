//! Init and fini arrays: `bringup()` runs .preinit_array, then constructors by increasing
//! priority, then plain constructors; `teardown()` runs the fini table in reverse, so
//! destructors run by decreasing priority after the plain ones. The effects are checked
//! through a host export and through the extension's own data.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use common::*;

/// Codes init_fini.c records: preinit, constructors 101, 200, plain.
const BRINGUP_ORDER: [i32; 4] = [1, 101, 200, 1000];
/// Destructors: plain, 200, 101.
const TEARDOWN_ORDER: [i32; 3] = [-1000, -200, -101];

#[test]
fn bringup_and_teardown_run_tables_in_priority_order_everywhere() {
    for b in c_builds(&[]) {
        let obj = build("c/init_fini.c", &b);
        check_everywhere("init_fini", &obj, |ext| {
            let ctx = ext.ctx();
            let lengths = ext
                .registry
                .with(ext.name, |e| e.table_lengths())
                .expect("loaded");
            assert_eq!(
                lengths,
                [1, 3, 3],
                "{ctx}: preinit, init and fini table entries"
            );
            // SAFETY: `int init_calls(void)`.
            let init_calls = unsafe { ext.function::<extern "C" fn() -> i32>("init_calls") };
            assert_eq!(init_calls(), 0, "{ctx}: loading alone runs no constructor");
            assert!(
                take_recorded().is_empty(),
                "{ctx}: nothing recorded before bringup"
            );

            // SAFETY: the extension's constructors only record codes.
            ext.registry
                .with(ext.name, |e| unsafe { e.bringup() })
                .expect("loaded")
                .expect("bringup runs natively");
            assert_eq!(
                take_recorded(),
                BRINGUP_ORDER,
                "{ctx}: bringup order seen by the host"
            );
            assert_eq!(init_calls(), 4, "{ctx}: four init entries ran once each");
            let log = ext.data::<[i32; 16]>("init_log");
            // SAFETY: `int init_log[16]` is live.
            let seen = unsafe { read(log) };
            assert_eq!(
                seen[..4],
                BRINGUP_ORDER,
                "{ctx}: bringup order in the extension's data"
            );

            // SAFETY: the destructors only record codes.
            ext.registry
                .with(ext.name, |e| unsafe { e.teardown() })
                .expect("loaded")
                .expect("teardown runs natively");
            assert_eq!(
                take_recorded(),
                TEARDOWN_ORDER,
                "{ctx}: teardown order seen by the host"
            );
            // SAFETY: as above.
            let seen = unsafe { read(log) };
            assert_eq!(
                seen[4..7],
                TEARDOWN_ORDER,
                "{ctx}: teardown order in the extension's data"
            );
            assert_eq!(init_calls(), 7, "{ctx}: every table entry ran exactly once");
        });
    }
}

#[test]
fn extensions_without_tables_bring_up_and_tear_down_as_no_ops() {
    let obj = gcc("c/hello.c", &["-O2", "-fPIC"]);
    check_everywhere("hello", &obj, |ext| {
        let lengths = ext
            .registry
            .with(ext.name, |e| e.table_lengths())
            .expect("loaded");
        assert_eq!(lengths, [0, 0, 0], "{}: no init/fini tables", ext.ctx());
        ext.registry
            // SAFETY: there is nothing to run.
            .with(ext.name, |e| unsafe {
                e.bringup().and_then(|()| e.teardown())
            })
            .expect("loaded")
            .expect("empty tables are fine");
        assert!(take_printed().is_empty(), "{}: nothing ran", ext.ctx());
    });
}
