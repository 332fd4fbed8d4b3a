//! An extension written in Rust (`#![no_std]`, `#[no_mangle] pub extern "C" fn`, built with
//! rustc for x86_64-unknown-linux-gnu, position independent and static) calls host exports
//! and does real computation.
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use common::*;

fn primes_below(n: u32) -> Vec<i32> {
    (2..n as i32)
        .filter(|&p| (2..p).take_while(|d| d * d <= p).all(|d| p % d != 0))
        .collect()
}

#[test]
fn rust_extension_computes_and_calls_the_host_everywhere() {
    for b in rust_builds() {
        let obj = build("rust/compute.rs", &b);
        check_everywhere("compute", &obj, |ext| {
            let ctx = ext.ctx();
            // SAFETY: the signatures match compute.rs.
            let (hello, fib, count_primes, crc32, sort) = unsafe {
                (
                    ext.function::<extern "C" fn() -> i32>("rust_hello"),
                    ext.function::<extern "C" fn(u32) -> u64>("rust_fib"),
                    ext.function::<extern "C" fn(u32, i32) -> u32>("rust_count_primes"),
                    ext.function::<unsafe extern "C" fn(*const u8, usize) -> u32>("rust_crc32"),
                    ext.function::<unsafe extern "C" fn(*mut i32, usize) -> u32>("rust_sort"),
                )
            };
            assert_eq!(hello(), 15, "{ctx}: rust_hello returns host_print's result");
            assert_eq!(
                take_printed(),
                ["hello from rust"],
                "{ctx}: the host printed"
            );

            assert_eq!(fib(10), 55, "{ctx}: fib(10)");
            assert_eq!(fib(90), 2_880_067_194_370_816_120, "{ctx}: fib(90)");

            assert_eq!(count_primes(100, 1), 25, "{ctx}: 25 primes below 100");
            assert_eq!(
                take_recorded(),
                primes_below(100),
                "{ctx}: each prime reported"
            );
            assert_eq!(
                count_primes(4096, 0),
                primes_below(4096).len() as u32,
                "{ctx}: primes below 4096 (a 4 KiB stack array set by memset)"
            );

            // SAFETY: valid buffers of the given lengths.
            unsafe {
                assert_eq!(
                    crc32(b"123456789".as_ptr(), 9),
                    0xcbf4_3926,
                    "{ctx}: CRC-32 check value"
                );
                assert_eq!(crc32(b"".as_ptr(), 0), 0, "{ctx}: CRC-32 of nothing");
                let mut v = vec![5, -1, 3, 3, 0, 9, -7];
                let inversions = (0..v.len())
                    .flat_map(|i| (i + 1..v.len()).map(move |j| (i, j)))
                    .filter(|&(i, j)| v[i] > v[j])
                    .count() as u32;
                let moves = sort(v.as_mut_ptr(), v.len());
                assert_eq!(v, [-7, -1, 0, 3, 3, 5, 9], "{ctx}: sorted in place");
                assert_eq!(
                    moves, inversions,
                    "{ctx}: insertion sort swaps once per inversion"
                );
            }
            let version = ext.data::<u32>("RUST_EXT_VERSION");
            // SAFETY: `static RUST_EXT_VERSION: u32` is live.
            assert_eq!(unsafe { read(version) }, 3, "{ctx}: exported Rust static");
        });
    }
}
