//! Section 2: every example loaded under each storage type, and its functions called.

use elfext::{HostMemory, Registry, Storage};

use super::host::{quote, take_printed, HOST};
use super::storage::{label, loaders, low_copies, STORAGES};
use super::{checked, function, host_memory, load, unload_all, Example};
use crate::error::CliError;
use crate::table::{Align, Table};

/// Load all examples under each storage type into a fresh registry and call into them.
pub fn show(examples: &[Example]) -> Result<(), CliError> {
    println!(
        "Each storage type gets a fresh Registry over HostMemory (a {} MiB mmap arena in the",
        super::HOST_ARENA >> 20
    );
    println!("low 2 GiB, W^X page protection). Persistent and writable objects are first copied");
    println!("into low mappings of their own, which the registry borrows while they are loaded.");
    println!();
    println!("  temporary   BufLoader::temporary(&object)  every section needed is copied");
    println!(
        "  persistent  BufLoader::persistent(&low)    unrelocated read-only data stays in place"
    );
    println!("  writable    BufLoader::writable(&mut low)  data is relocated where it lies");
    println!();
    let mut table = Table::new(&[
        ("storage", Align::Left),
        ("extension", Align::Left),
        ("call", Align::Left),
        ("result", Align::Right),
        ("printed through host_print", Align::Left),
    ]);
    for (i, storage) in STORAGES.into_iter().enumerate() {
        if i > 0 {
            table.rule();
        }
        let mut low = match storage {
            Storage::Temporary => Vec::new(),
            _ => low_copies(examples)?,
        };
        let registry = Registry::new(host_memory()?, &HOST);
        for (e, loader) in examples.iter().zip(loaders(storage, examples, &mut low)) {
            load(&registry, e.name, loader)?;
        }
        let mut rows = calls(&registry)?;
        rows[0][0] = label(storage).to_string();
        for row in rows {
            table.row(row);
        }
        unload_all(&registry, examples)?;
    }
    print!("{table}");
    Ok(())
}

/// Call the examples' functions; one table row each (storage column left blank).
fn calls(registry: &Registry<'_, HostMemory>) -> Result<Vec<[String; 5]>, CliError> {
    let mut rows = Vec::new();
    let mut row = |ext: &str, call: &str, result: String, printed: &[String]| {
        rows.push([
            String::new(),
            ext.into(),
            call.into(),
            result,
            quote(printed),
        ]);
    };

    // SAFETY (all look-ups below): the signatures are those of the demo's C sources, and every
    // function is called only while its extension is loaded.
    let square: extern "C" fn(i32) -> i32 = unsafe { function(registry, "mathlib", "square")? };
    let fib: extern "C" fn(i32) -> i64 = unsafe { function(registry, "mathlib", "fib")? };
    let sum_squares: extern "C" fn(i32) -> i64 =
        unsafe { function(registry, "stats", "sum_squares")? };
    let sample_energy: extern "C" fn() -> i64 =
        unsafe { function(registry, "stats", "sample_energy")? };
    let greet: extern "C" fn() -> i32 = unsafe { function(registry, "greet", "greet")? };
    let counter_next: extern "C" fn() -> i32 =
        unsafe { function(registry, "counter", "counter_next")? };

    let v = checked("square(7)", square(7), 49)?;
    row("mathlib", "square(7)", v, &take_printed());
    let v = checked("fib(40)", fib(40), 102_334_155)?;
    row("mathlib", "fib(40)", v, &take_printed());
    let v = checked("sum_squares(10)", sum_squares(10), 385)?;
    row("stats", "sum_squares(10)", v, &take_printed());
    // 3² + 1² + 4² + 1² + 5² + 9² + 2² + 6², squares computed by mathlib.
    let v = checked("sample_energy()", sample_energy(), 173)?;
    row("stats", "sample_energy()", v, &take_printed());

    // greet() prints its message through the host and returns the message's length.
    let length = greet();
    let printed = take_printed();
    let [message] = printed.as_slice() else {
        return Err(CliError::Check(format!(
            "greet() printed {} lines through host_print, expected 1",
            printed.len()
        )));
    };
    let v = checked("greet()", i64::from(length), message.len() as i64)?;
    row("greet", "greet()", v, &printed);

    // The constructor has not run (that is section 5), so `count` goes on from its DATA
    // value, 10.
    let v = checked("counter_next()", counter_next(), 11)?;
    row("counter", "counter_next()", v, &take_printed());
    Ok(rows)
}
