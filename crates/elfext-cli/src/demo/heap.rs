//! Sections 6 and 7: what each extension costs in the extension heap, per storage type and
//! memory backend, and proof that unloading gives every byte back.

use std::mem::MaybeUninit;

use elfext::{Arch, ExtHeap, Granules, LoadReport, Memory, Registry, Storage};

use super::host::HOST;
use super::storage::{label, loaders, low_copies, AlignedCopy, ObjectBuf, STORAGES};
use super::{expect, host_memory, unload_all, Example};
use crate::error::CliError;
use crate::table::{load_report_cells, Align, Table};

/// Size of the packed `ExtHeap` arena (a `Vec`, like a static array on a microcontroller).
const PACKED_ARENA: usize = 64 << 10;

/// Storage types under HostMemory: page granules, code always copied into executable pages.
pub fn host_report(examples: &[Example]) -> Result<(), CliError> {
    println!("Every region is rounded up to whole 4 KiB pages so that it can be protected on its");
    println!("own (TEXT read + execute, RODATA read-only, DATA and BSS read + write). Code never");
    println!("runs from a caller's buffer here; read-only data may, when it lies below 2 GiB.");
    for storage in STORAGES {
        let mut low = match storage {
            Storage::Temporary => Vec::new(),
            _ => low_copies(examples)?,
        };
        let registry = Registry::new(host_memory()?, &HOST);
        measure(&registry, storage, examples, &mut low)?;
    }
    Ok(())
}

/// Storage types under an `ExtHeap` with no granules: regions packed byte-tight, and code
/// used in place from persistent or writable buffers (flash or RAM on a microcontroller).
pub fn packed_report(examples: &[Example]) -> Result<(), CliError> {
    println!(
        "A {} KiB arena in a Vec, managed by ExtHeap with Granules::NONE: no rounding, and code",
        PACKED_ARENA >> 10
    );
    println!("may run from the object's own buffer. The registry only links here (for x86_64);");
    println!("nothing is called, because a Vec is not executable memory on this host.");
    for storage in STORAGES {
        let mut copies: Vec<AlignedCopy> = match storage {
            Storage::Temporary => Vec::new(),
            _ => examples
                .iter()
                .map(|e| AlignedCopy::new(&e.object))
                .collect(),
        };
        let mut arena = vec![MaybeUninit::<u8>::uninit(); PACKED_ARENA];
        let heap = ExtHeap::new(&mut arena, Granules::NONE);
        let registry = Registry::for_arch(heap, &HOST, Arch::X86_64);
        measure(&registry, storage, examples, &mut copies)?;
    }
    Ok(())
}

/// Where an extension's representative function ended up.
fn code_location<M: Memory>(registry: &Registry<'_, M>, ext: &Example) -> Result<String, CliError> {
    let found = registry.with(ext.name, |e| {
        let (start, size) = e.block();
        e.symbol(ext.entry).map(|addr| {
            if (start..start + size).contains(&addr) {
                format!("{} in heap block", ext.entry)
            } else {
                format!("{} in place", ext.entry)
            }
        })
    });
    found
        .and_then(|r| r)
        .map_err(|e| CliError::elfext(format!("look up `{}` in `{}`", ext.entry, ext.name), e))
}

/// Load every example with a report, print the table, unload everything and check that the
/// heap is empty again.
fn measure<'b, M: Memory, B: ObjectBuf>(
    registry: &Registry<'b, M>,
    storage: Storage,
    examples: &'b [Example],
    buffers: &'b mut [B],
) -> Result<(), CliError> {
    let before = registry.heap_stats().total();
    expect("heap bytes of a fresh registry", before, 0)?;

    let mut t = Table::load_reports(
        "extension",
        &[
            ("in place", Align::Right),
            ("copied", Align::Right),
            ("relocs", Align::Right),
            ("code", Align::Left),
        ],
    );
    let mut total = LoadReport::default();
    let mut heap_total = 0;
    for (e, loader) in examples.iter().zip(loaders(storage, examples, buffers)) {
        let r = registry
            .load_with_report(e.name, loader)
            .map_err(|err| CliError::elfext(format!("load `{}`", e.name), err))?;
        let mut cells = load_report_cells(e.name, &r);
        cells.extend([r.in_place, r.copied, r.relocations].map(|n| n.to_string()));
        cells.push(code_location(registry, e)?);
        t.row(cells);
        for (sum, n) in total.regions.iter_mut().zip(r.regions) {
            *sum += n;
        }
        total.padding += r.padding;
        total.metadata += r.metadata;
        total.in_place += r.in_place;
        total.copied += r.copied;
        total.relocations += r.relocations;
        heap_total += r.heap_bytes();
    }
    t.rule();
    let mut cells = load_report_cells("total", &total);
    cells.extend([total.in_place, total.copied, total.relocations].map(|n| n.to_string()));
    t.row(cells);

    let loaded = registry.heap_stats();
    expect(
        "heap bytes: stats against the sum of the reports",
        loaded.total(),
        heap_total,
    )?;
    unload_all(registry, examples)?;
    let after = registry.heap_stats();

    println!();
    println!("{} storage:", label(storage));
    print!("{t}");
    println!(
        "  heap bytes in use: {before} before loading, {} with everything loaded ({} allocations),",
        loaded.total(),
        loaded.allocations
    );
    println!("  {} after unloading everything", after.total());
    expect("heap bytes after unloading everything", after.total(), 0)?;
    expect(
        "allocations after unloading everything",
        after.allocations,
        0,
    )?;
    Ok(())
}
