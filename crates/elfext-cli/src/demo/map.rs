//! Section 8: the memory map after loading every example, as `elfext map` draws it.

use std::io::IsTerminal;

use elfext::{RangeType, Storage};

use super::build::Example;
use crate::error::CliError;
use crate::inspect::plan::GranuleArg;
use crate::mapcmd::{self, Input, Setup};
use crate::render;

/// Load every example persistently into a `MapMemory` and draw its memory map.
pub fn show(examples: &[Example]) -> Result<(), CliError> {
    println!("MapMemory allocates every region and metadata record from a memory map, owned by");
    println!("the extension's name. The objects sit in a flash bank (persistent storage), so");
    println!("read-only sections without relocations are used there (lower-case letters) and");
    println!("only what changes takes RAM. The map is linked for x86_64 and nothing is run.");
    println!();
    let inputs: Vec<Input> = examples
        .iter()
        .map(|e| Input {
            name: e.name.to_string(),
            bytes: e.object.clone(),
        })
        .collect();
    let setup = Setup {
        storage: Storage::Persistent,
        granule: GranuleArg::None,
        ram: Some(16 << 10),
        base: 0x2000_0000,
        flash: 0x0800_0000,
    };
    let drawn = mapcmd::build(&inputs, &setup, |i| format!("{}.o", examples[i].name))?;
    let color = std::io::stdout().is_terminal();
    print!(
        "{}",
        render::text_with(&drawn.entries, &drawn.extras(), color)
    );
    println!();
    print!("{}", mapcmd::report_table(&drawn));
    // Every example appears in the map, by name.
    for e in examples {
        let found = drawn
            .entries
            .iter()
            .any(|m| m.ty == RangeType::Metadata && m.owner.as_bytes() == e.name.as_bytes());
        super::expect(&format!("metadata of `{}` in the map", e.name), found, true)?;
    }
    Ok(())
}
