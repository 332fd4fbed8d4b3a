//! `elfext demo`: build the example extensions, then load, link, run and unload them, one
//! feature of elfext per section.

mod build;
mod calls;
mod heap;
mod host;
mod lifecycle;
mod map;
mod storage;

use std::fmt::Display;

use elfext::{HostMemory, Memory, Registry};

use crate::error::CliError;
use crate::table::{Align, Table};
use build::Example;

/// Size of each `HostMemory` arena the demo maps.
const HOST_ARENA: usize = 1 << 20;

/// Run the whole demo, compiling the examples with `compiler` (or the first one found).
pub fn run(compiler: Option<&str>) -> Result<(), CliError> {
    println!("elfext demo: load, link, run and unload relocatable ELF objects");

    section(1, "Building the example extensions");
    let cc = build::find_compiler(compiler)?;
    let dir = tempfile::Builder::new()
        .prefix("elfext-demo-")
        .tempdir()
        .map_err(|e| CliError::io("create a temporary directory", e))?;
    let examples = build::build_all(&cc, dir.path())?;
    println!("compiler: {} ({})", cc.spec, cc.version);
    println!(
        "flags:    {} (relocatable objects, position independent)",
        build::CFLAGS.join(" ")
    );
    println!("built in: {} (removed at exit)", dir.path().display());
    println!();
    show_examples(&examples);

    section(2, "Storage types: load, link and call");
    calls::show(&examples)?;

    section(3, "Reference counts");
    println!("Errors in these tables are provoked on purpose; the details column shows the");
    println!("library's own message (the Display of elfext::Error).");
    println!();
    lifecycle::reference_counts(&examples)?;

    section(4, "Dependencies between extensions");
    lifecycle::dependencies(&examples)?;

    section(5, "Constructors and destructors: bringup() and teardown()");
    lifecycle::init_fini(&examples)?;

    section(6, "Heap report: HostMemory (4 KiB pages, native execution)");
    heap::host_report(&examples)?;

    section(
        7,
        "Heap report: ExtHeap over a Vec arena, no granules (microcontroller view)",
    );
    heap::packed_report(&examples)?;

    section(8, "Memory map: MapMemory, persistent storage");
    map::show(&examples)?;

    println!();
    println!("Demo finished: every call returned what it should and the heap is back to 0 bytes.");
    Ok(())
}

fn show_examples(examples: &[Example]) {
    let mut t = Table::new(&[
        ("extension", Align::Left),
        ("source", Align::Right),
        ("object", Align::Right),
        ("what it shows", Align::Left),
    ]);
    for e in examples {
        t.row([
            e.name.to_string(),
            format!("{} B", e.source.len()),
            format!("{} B", e.object.len()),
            e.about.to_string(),
        ]);
    }
    print!("{t}");
}

/// Print a numbered section heading.
fn section(number: u32, title: &str) {
    let heading = format!("{number}. {title}");
    println!();
    println!("{heading}");
    println!("{}", "=".repeat(heading.chars().count()));
}

/// A `HostMemory` arena for one registry.
fn host_memory() -> Result<HostMemory, CliError> {
    HostMemory::new(HOST_ARENA).map_err(|e| CliError::io("map the HostMemory arena", e))
}

/// Fail unless `got` is `want`.
fn expect<T: PartialEq + Display>(what: &str, got: T, want: T) -> Result<(), CliError> {
    if got == want {
        Ok(())
    } else {
        Err(CliError::Check(format!(
            "{what} gave {got}, expected {want}"
        )))
    }
}

/// `got` as text, after checking that it is `want`.
fn checked<T: PartialEq + Display>(what: &str, got: T, want: T) -> Result<String, CliError> {
    expect(what, &got, &want)?;
    Ok(got.to_string())
}

/// Load `name`, naming the extension in any error.
fn load<'b, M: Memory>(
    registry: &Registry<'b, M>,
    name: &str,
    loader: elfext::BufLoader<'b, 'b>,
) -> Result<u32, CliError> {
    registry
        .load(name, loader)
        .map_err(|e| CliError::elfext(format!("load `{name}`"), e))
}

/// Unload `name`, naming the extension in any error.
fn unload<M: Memory>(registry: &Registry<'_, M>, name: &str) -> Result<u32, CliError> {
    registry
        .unload(name)
        .map_err(|e| CliError::elfext(format!("unload `{name}`"), e))
}

/// Unload every example, last loaded first (dependents before what they depend on).
fn unload_all<M: Memory>(registry: &Registry<'_, M>, examples: &[Example]) -> Result<(), CliError> {
    for e in examples.iter().rev() {
        expect(
            &format!("unload(\"{}\")", e.name),
            unload(registry, e.name)?,
            0,
        )?;
    }
    Ok(())
}

/// The exported function `symbol` of extension `ext`, as a function pointer of type `F`.
///
/// # Safety
/// `F` must be the function's C signature, and the pointer must not be called after `ext`
/// is unloaded.
unsafe fn function<M: Memory, F: Copy>(
    registry: &Registry<'_, M>,
    ext: &str,
    symbol: &str,
) -> Result<F, CliError> {
    // SAFETY: forwarded from the caller.
    let found = registry.with(ext, |e| unsafe { e.function::<F>(symbol) });
    found
        .and_then(|f| f)
        .map_err(|e| CliError::elfext(format!("look up `{symbol}` in `{ext}`"), e))
}

/// The example called `name`.
fn example<'e>(examples: &'e [Example], name: &str) -> &'e Example {
    examples
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| unreachable!("no example named {name}"))
}
