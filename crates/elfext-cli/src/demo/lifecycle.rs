//! Sections 3 to 5: reference counts, dependencies, and constructors / destructors.
//!
//! Each section uses its own registry over `HostMemory` and temporary loaders.

use elfext::{BufLoader, Error, HostMemory, Registry};

use super::host::{quote, take_printed, HOST};
use super::{checked, example, expect, function, host_memory, load, unload, Example};
use crate::error::CliError;
use crate::table::{Align, Table};

type HostRegistry<'b> = Registry<'b, HostMemory>;

/// A table of steps; the first one of the demo says that errors are the library's words.
fn steps_table() -> Table {
    Table::new(&[
        ("step", Align::Left),
        ("returns", Align::Left),
        ("details", Align::Left),
    ])
}

fn heap_bytes(registry: &HostRegistry<'_>) -> u64 {
    registry.heap_stats().total()
}

/// An error the demo provokes on purpose, as two cells: `Err(variant)` and the library's
/// message. Any other outcome is a real failure.
fn expected_error(
    what: &str,
    result: Result<u32, Error>,
    variant: &'static str,
    is_expected: fn(&Error) -> bool,
) -> Result<[String; 2], CliError> {
    match result {
        Err(e) if is_expected(&e) => Ok([format!("Err({variant})"), e.to_string()]),
        Err(e) => Err(CliError::elfext(what, e)),
        Ok(n) => Err(CliError::Check(format!(
            "{what} returned {n}, expected Err({variant})"
        ))),
    }
}

/// Loading the same name twice counts uses; unloading returns the uses left.
pub fn reference_counts(examples: &[Example]) -> Result<(), CliError> {
    let mathlib = &example(examples, "mathlib").object;
    let registry = Registry::new(host_memory()?, &HOST);
    let mut t = steps_table();

    let prev = load(&registry, "mathlib", BufLoader::temporary(mathlib))?;
    let after_first = heap_bytes(&registry);
    t.row([
        "load(\"mathlib\")".into(),
        checked("first load", prev, 0)?,
        format!("previous use count: a fresh load, {after_first} heap bytes"),
    ]);

    let prev = load(&registry, "mathlib", BufLoader::temporary(mathlib))?;
    expect(
        "heap bytes after the second load",
        heap_bytes(&registry),
        after_first,
    )?;
    t.row([
        "load(\"mathlib\")".into(),
        checked("second load", prev, 1)?,
        "previous use count: already loaded, nothing copied".into(),
    ]);

    let uses = registry
        .with("mathlib", |e| e.use_count())
        .map_err(|e| CliError::elfext("look up `mathlib`", e))?;
    t.row([
        "use_count()".into(),
        checked("use_count()", uses, 2)?,
        "two loads outstanding".into(),
    ]);

    let left = unload(&registry, "mathlib")?;
    // SAFETY: mathlib.c defines `int square(int)`; mathlib stays loaded during the call.
    let square: extern "C" fn(i32) -> i32 = unsafe { function(&registry, "mathlib", "square")? };
    t.row([
        "unload(\"mathlib\")".into(),
        checked("first unload", left, 1)?,
        format!(
            "uses left: still loaded, square(5) = {}",
            checked("square(5)", square(5), 25)?
        ),
    ]);

    let left = unload(&registry, "mathlib")?;
    t.row([
        "unload(\"mathlib\")".into(),
        checked("second unload", left, 0)?,
        format!(
            "uses left: freed, {} heap bytes in use",
            checked("heap bytes after unloading", heap_bytes(&registry), 0)?
        ),
    ]);

    let [variant, message] = expected_error(
        "a third unload",
        registry.unload("mathlib"),
        "NotLoaded",
        |e| matches!(e, Error::NotLoaded(_)),
    )?;
    t.row(["unload(\"mathlib\")".into(), variant, message]);
    print!("{t}");
    Ok(())
}

/// `stats` links against `mathlib`, which therefore cannot go first.
pub fn dependencies(examples: &[Example]) -> Result<(), CliError> {
    let mathlib = &example(examples, "mathlib").object;
    let stats = &example(examples, "stats").object;
    let registry = Registry::new(host_memory()?, &HOST);
    let mut t = steps_table();

    let [variant, message] = expected_error(
        "loading `stats` without `mathlib`",
        registry.load("stats", BufLoader::temporary(stats)),
        "MissingSymbols",
        |e| matches!(e, Error::MissingSymbols(_)),
    )?;
    t.row(["load(\"stats\")".into(), variant, message]);
    t.row([
        "heap_stats().total()".into(),
        checked("heap bytes after a failed load", heap_bytes(&registry), 0)?,
        "bytes in use: the failed load left nothing behind".into(),
    ]);

    let prev = load(&registry, "mathlib", BufLoader::temporary(mathlib))?;
    t.row([
        "load(\"mathlib\")".into(),
        checked("load mathlib", prev, 0)?,
        "exports square and fib".into(),
    ]);
    let prev = load(&registry, "stats", BufLoader::temporary(stats))?;
    t.row([
        "load(\"stats\")".into(),
        checked("load stats", prev, 0)?,
        "square resolved to mathlib's".into(),
    ]);

    let deps = registry
        .with("stats", |e| e.dependencies().collect::<Vec<_>>().join(", "))
        .map_err(|e| CliError::elfext("look up `stats`", e))?;
    t.row([
        "dependencies()".into(),
        checked("stats' dependencies", deps.as_str(), "mathlib")?,
        "stats links against mathlib".into(),
    ]);

    let [variant, message] = expected_error(
        "unloading `mathlib` while `stats` uses it",
        registry.unload("mathlib"),
        "InUse",
        |e| matches!(e, Error::InUse { .. }),
    )?;
    t.row(["unload(\"mathlib\")".into(), variant, message]);
    // SAFETY: stats.c defines `long sum_squares(int)`; stats stays loaded during the call.
    let sum_squares: extern "C" fn(i32) -> i64 =
        unsafe { function(&registry, "stats", "sum_squares")? };
    t.row([
        "sum_squares(3)".into(),
        checked("sum_squares(3)", sum_squares(3), 14)?,
        "mathlib stayed loaded and still serves stats".into(),
    ]);

    let left = unload(&registry, "stats")?;
    t.row([
        "unload(\"stats\")".into(),
        checked("unload stats", left, 0)?,
        "the dependent goes first".into(),
    ]);
    let left = unload(&registry, "mathlib")?;
    t.row([
        "unload(\"mathlib\")".into(),
        checked("unload mathlib", left, 0)?,
        format!(
            "now allowed; {} heap bytes in use",
            checked("heap bytes after unloading", heap_bytes(&registry), 0)?
        ),
    ]);
    print!("{t}");
    Ok(())
}

/// `counter`'s constructor runs on bringup(), its destructor on teardown().
pub fn init_fini(examples: &[Example]) -> Result<(), CliError> {
    let counter = &example(examples, "counter").object;
    let registry = Registry::new(host_memory()?, &HOST);
    let mut t = Table::new(&[
        ("step", Align::Left),
        ("returns", Align::Left),
        ("printed through host_print", Align::Left),
    ]);
    let lookup = |e| CliError::elfext("look up `counter`", e);

    let prev = load(&registry, "counter", BufLoader::temporary(counter))?;
    t.row([
        "load(\"counter\")".into(),
        checked("load counter", prev, 0)?,
        quote(&take_printed()),
    ]);
    let [preinit, init, fini] = registry
        .with("counter", |e| e.table_lengths())
        .map_err(lookup)?;
    t.row([
        "table_lengths()".into(),
        format!("preinit {preinit}, init {init}, fini {fini}"),
        String::new(),
    ]);
    expect("init table entries", init, 1)?;
    expect("fini table entries", fini, 1)?;

    // SAFETY: counter.c defines `int counter_get(void)`, `int counter_next(void)` and
    // `int counter_history(int)`; they are called only while counter is loaded.
    let get: extern "C" fn() -> i32 = unsafe { function(&registry, "counter", "counter_get")? };
    let next: extern "C" fn() -> i32 = unsafe { function(&registry, "counter", "counter_next")? };
    let history: extern "C" fn(i32) -> i32 =
        unsafe { function(&registry, "counter", "counter_history")? };

    let v = checked("counter_get() before bringup()", get(), 10)?;
    t.row([
        "counter_get()".into(),
        format!("{v} (DATA as compiled)"),
        quote(&take_printed()),
    ]);

    // SAFETY: runs counter's own constructor, which only writes its DATA and calls
    // host_print.
    let up = registry.with("counter", |e| unsafe { e.bringup() });
    up.and_then(|r| r)
        .map_err(|e| CliError::elfext("bringup() of `counter`", e))?;
    let printed = take_printed();
    expect("lines printed by bringup()", printed.len(), 1)?;
    t.row(["bringup()".into(), "ok".into(), quote(&printed)]);

    let v = checked("counter_get() after bringup()", get(), 100)?;
    t.row(["counter_get()".into(), v, quote(&take_printed())]);
    let v = checked("counter_next()", next(), 101)?;
    t.row(["counter_next()".into(), v, quote(&take_printed())]);
    let v = checked("counter_history(101)", history(101), 101)?;
    t.row([
        "counter_history(101)".into(),
        format!("{v} (read back from BSS)"),
        quote(&take_printed()),
    ]);

    // SAFETY: runs counter's own destructor, which only calls host_print.
    let down = registry.with("counter", |e| unsafe { e.teardown() });
    down.and_then(|r| r)
        .map_err(|e| CliError::elfext("teardown() of `counter`", e))?;
    let printed = take_printed();
    expect("lines printed by teardown()", printed.len(), 1)?;
    t.row(["teardown()".into(), "ok".into(), quote(&printed)]);

    let left = unload(&registry, "counter")?;
    t.row([
        "unload(\"counter\")".into(),
        checked("unload counter", left, 0)?,
        String::new(),
    ]);
    print!("{t}");
    Ok(())
}
