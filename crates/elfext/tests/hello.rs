//! Hello world: an extension calls a function the host exports (declared with
//! `elfext::exports!`), under every compiler configuration and storage type.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use common::*;

#[test]
fn hello_calls_the_host_print_function_everywhere() {
    for b in c_builds(&[]) {
        let obj = build("c/hello.c", &b);
        check_everywhere("hello", &obj, |ext| {
            // SAFETY: `int hello(void)`.
            let hello = unsafe { ext.function::<extern "C" fn() -> i32>("hello") };
            let msg = "hello from an extension";
            assert_eq!(
                hello(),
                msg.len() as i32,
                "{}: hello() returns what host_print returned",
                ext.ctx()
            );
            assert_eq!(
                take_printed(),
                [msg],
                "{}: the host printed the extension's string",
                ext.ctx()
            );
            if ext.via == Via::PersistentLow {
                assert!(
                    ext.report.in_place > 0,
                    "{}: the string literal's .rodata is used in place",
                    ext.ctx()
                );
            }
        });
    }
}
