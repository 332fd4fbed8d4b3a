//! The shell's state and commands: a native registry and what each command does with it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use elfext::{HostMemory, MapEntry, Name, RangeFlags, RangeType, RegionKind, Registry};

use crate::call;
use crate::error::CliError;
use crate::inputs;
use crate::run::native;
use crate::table::{Align, Table};

/// The commands, with their arguments and what they do (for `help` and completion).
pub const COMMANDS: [(&str, &str, &str); 10] = [
    (
        "load",
        "NAME FILE...",
        "load objects and archives as extension NAME (again: one more use)",
    ),
    (
        "unload",
        "NAME",
        "drop one use of NAME; at zero run its destructors and free it",
    ),
    (
        "list",
        "",
        "loaded extensions: use count, heap bytes, dependencies",
    ),
    (
        "symbols",
        "NAME",
        "the symbols NAME exports, with address and region",
    ),
    (
        "call",
        "NAME FN(TYPES)->RET ARGS...",
        "call FN of NAME, e.g. call m add(i32,i32)->i32 2 3",
    ),
    ("heap", "", "extension heap use by region kind"),
    ("map", "", "memory map of the extension arena"),
    ("help", "", "this list"),
    (
        "quit",
        "",
        "unload everything and leave (also: exit, end of input)",
    ),
    ("exit", "", ""),
];

/// What a command asks of the loop.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next command.
    Continue,
    /// Leave the shell.
    Quit,
}

/// A shell session: extensions loaded natively, as `elfext run` does.
pub struct Session {
    registry: Registry<'static, HostMemory>,
    /// Where each loaded extension's regions are (recorded when it was loaded).
    regions: BTreeMap<String, Vec<(RegionKind, u64, u64)>>,
}

impl Session {
    /// A session with nothing loaded.
    pub fn new() -> Result<Self, CliError> {
        Ok(Session {
            registry: native::registry()?,
            regions: BTreeMap::new(),
        })
    }

    /// Names of the loaded extensions and of the symbols each exports (for completion).
    pub fn names(&self) -> BTreeMap<String, Vec<String>> {
        let mut names = BTreeMap::new();
        self.registry.for_each(|ext| {
            let mut symbols = Vec::new();
            // An extension whose exports cannot be read completes no symbols.
            let _ = ext.for_each_export(|s, _| symbols.push(s.to_string()));
            symbols.sort();
            names.insert(ext.name().to_string(), symbols);
        });
        names
    }

    /// Run one command line; its output goes to stdout.
    pub fn execute(&mut self, words: &[String]) -> Result<Flow, CliError> {
        let Some((command, rest)) = words.split_first() else {
            return Ok(Flow::Continue);
        };
        match command.as_str() {
            "load" => self.load(rest)?,
            "unload" => self.unload(one_name("unload", rest)?)?,
            "list" => self.list(no_args("list", rest)?),
            "symbols" => self.symbols(one_name("symbols", rest)?)?,
            "call" => self.call(rest)?,
            "heap" => self.heap(no_args("heap", rest)?),
            "map" => self.map(no_args("map", rest)?),
            "help" => help(),
            "quit" | "exit" => return Ok(Flow::Quit),
            other => {
                return Err(CliError::Usage(format!(
                    "unknown command `{other}`; type `help` for the list"
                )))
            }
        }
        Ok(Flow::Continue)
    }

    fn load(&mut self, args: &[String]) -> Result<(), CliError> {
        let [name, files @ ..] = args else {
            return Err(CliError::Usage("usage: load NAME FILE...".into()));
        };
        if files.is_empty() {
            return Err(CliError::Usage(format!(
                "usage: load NAME FILE... (no file given for `{name}`)"
            )));
        }
        let paths: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
        let object = inputs::read(&paths, &[])?;
        let loaded = native::load(&self.registry, name, &object)?;
        if loaded.before > 0 {
            println!(
                "`{name}` was loaded already; use count {}",
                loaded.before + 1
            );
            return Ok(());
        }
        self.regions.insert(name.clone(), loaded.regions);
        let (exports, heap, deps) = self
            .registry
            .with(name, |ext| {
                let mut n = 0;
                let _ = ext.for_each_export(|_, _| n += 1);
                let (block, meta) = ext.heap_bytes();
                let deps: Vec<String> = ext.dependencies().map(str::to_string).collect();
                (n, block + meta, deps)
            })
            .map_err(|e| CliError::elfext(format!("load `{name}`"), e))?;
        let deps = if deps.is_empty() {
            String::new()
        } else {
            format!(", links against {}", deps.join(", "))
        };
        println!("loaded `{name}`: {exports} exports, {heap} heap bytes{deps}");
        Ok(())
    }

    fn unload(&mut self, name: &str) -> Result<(), CliError> {
        let left = native::unload(&self.registry, name)?;
        if left == 0 {
            self.regions.remove(name);
            println!("unloaded `{name}`");
        } else {
            println!("`{name}` stays loaded; use count {left}");
        }
        Ok(())
    }

    fn list(&self, (): ()) {
        if self.registry.is_empty() {
            println!("no extensions loaded");
            return;
        }
        let mut t = Table::new(&[
            ("extension", Align::Left),
            ("uses", Align::Right),
            ("heap bytes", Align::Right),
            ("dependencies", Align::Left),
        ]);
        self.registry.for_each(|ext| {
            let (block, meta) = ext.heap_bytes();
            let deps: Vec<&str> = ext.dependencies().collect();
            t.row([
                ext.name().to_string(),
                ext.use_count().to_string(),
                (block + meta).to_string(),
                if deps.is_empty() {
                    "-".to_string()
                } else {
                    deps.join(", ")
                },
            ]);
        });
        print!("{t}");
    }

    fn symbols(&self, name: &str) -> Result<(), CliError> {
        let what = || format!("symbols of `{name}`");
        let regions = self.regions.get(name).cloned().unwrap_or_default();
        let mut symbols = Vec::new();
        self.registry
            .with(name, |ext| {
                ext.for_each_export(|s, addr| symbols.push((addr, s.to_string())))
            })
            .and_then(|r| r)
            .map_err(|e| CliError::elfext(what(), e))?;
        if symbols.is_empty() {
            println!("`{name}` exports no symbols");
            return Ok(());
        }
        symbols.sort();
        let mut t = Table::new(&[
            ("symbol", Align::Left),
            ("address", Align::Right),
            ("region", Align::Left),
        ]);
        for (addr, s) in symbols {
            let region = regions
                .iter()
                .find(|(_, start, len)| (*start..start + len).contains(&addr))
                .map_or("-".to_string(), |(kind, _, _)| {
                    RangeType::from(*kind).to_string()
                });
            t.row([s, format!("{addr:#x}"), region]);
        }
        print!("{t}");
        Ok(())
    }

    fn call(&self, args: &[String]) -> Result<(), CliError> {
        let [name, signature, values @ ..] = args else {
            return Err(CliError::Usage(
                "usage: call NAME FN(TYPES)->RET ARGS..., e.g. call m add(i32,i32)->i32 2 3".into(),
            ));
        };
        // `f(i32) -> i32` split at its spaces: join the return type back on.
        let mut signature = signature.clone();
        let mut values = values;
        if let Some(arrow) = values.first().filter(|v| v.starts_with("->")) {
            signature.push_str(arrow);
            values = &values[1..];
            if arrow == "->" {
                if let Some((ret, rest)) = values.split_first() {
                    signature.push_str(ret);
                    values = rest;
                }
            }
        }
        let spec = call::parse_spec(&signature)?;
        let values = call::parse_args(&spec, values)?;
        let result = native::call(&self.registry, name, &spec, &values)?;
        if spec.ret != call::Ty::Void {
            println!("{result}");
        }
        Ok(())
    }

    fn heap(&self, (): ()) {
        let s = self.registry.heap_stats();
        let mut t = Table::new(&[("heap", Align::Left), ("bytes", Align::Right)]);
        for kind in native::KINDS {
            t.row([RangeType::from(kind).to_string(), s.of(kind).to_string()]);
        }
        t.row(["metadata".to_string(), s.metadata.to_string()]);
        t.row(["padding".to_string(), s.padding.to_string()]);
        t.rule();
        t.row(["in use".to_string(), s.total().to_string()]);
        t.row([
            "free".to_string(),
            s.arena.saturating_sub(s.total()).to_string(),
        ]);
        t.row(["arena".to_string(), s.arena.to_string()]);
        print!("{t}");
        println!("  {} allocations", s.allocations);
    }

    /// The arena as map entries: each extension's regions, and the gaps between them.
    fn entries(&self) -> Vec<MapEntry> {
        let (start, len) = self.registry.with_memory(|m| m.arena());
        let mut used: Vec<MapEntry> = self
            .regions
            .iter()
            .flat_map(|(name, regions)| {
                regions.iter().map(move |&(kind, addr, size)| MapEntry {
                    start: addr,
                    end: addr + size,
                    ty: RangeType::from(kind),
                    flags: RangeFlags::NONE,
                    bank: 0,
                    owner: Name::from(name.as_str()),
                })
            })
            .collect();
        used.sort_by_key(|e| e.start);
        let mut entries = Vec::new();
        let mut cursor = start;
        for e in used {
            if e.start > cursor {
                entries.push(gap(cursor, e.start));
            }
            cursor = cursor.max(e.end);
            entries.push(e);
        }
        if cursor < start + len {
            entries.push(gap(cursor, start + len));
        }
        entries
    }

    fn map(&self, (): ()) {
        use std::io::IsTerminal;

        let color = std::io::stdout().is_terminal();
        print!("{}", crate::render::text(&self.entries(), color));
        let meta = self.registry.heap_stats().metadata;
        println!("  metadata records ({meta} bytes) are allocated from the ranges shown free");
    }

    /// Unload everything, dependents first (at the end of the session).
    pub fn unload_all(&mut self) -> Result<(), CliError> {
        loop {
            let mut loaded: Vec<(String, u32)> = Vec::new();
            let mut needed: Vec<String> = Vec::new();
            self.registry.for_each(|ext| {
                loaded.push((ext.name().to_string(), ext.use_count()));
                needed.extend(ext.dependencies().map(str::to_string));
            });
            let Some((name, uses)) = loaded.iter().find(|(n, _)| !needed.contains(n)).cloned()
            else {
                return Ok(());
            };
            for _ in 0..uses {
                native::unload(&self.registry, &name)?;
            }
            self.regions.remove(&name);
        }
    }
}

/// A free range of the map.
fn gap(start: u64, end: u64) -> MapEntry {
    MapEntry {
        start,
        end,
        ty: RangeType::Free,
        flags: RangeFlags::NONE,
        bank: 0,
        owner: Name::EMPTY,
    }
}

fn one_name<'a>(command: &str, args: &'a [String]) -> Result<&'a str, CliError> {
    match args {
        [name] => Ok(name),
        _ => Err(CliError::Usage(format!("usage: {command} NAME"))),
    }
}

fn no_args(command: &str, args: &[String]) -> Result<(), CliError> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(CliError::Usage(format!("`{command}` takes no arguments")))
    }
}

fn help() {
    let mut t = Table::new(&[
        ("command", Align::Left),
        ("arguments", Align::Left),
        ("what it does", Align::Left),
    ]);
    for (c, a, what) in COMMANDS {
        if !what.is_empty() {
            t.row([c, a, what]);
        }
    }
    print!("{t}");
    println!("  Signatures: {}.", call::SYNTAX);
    println!("  Quote an argument with spaces: call s length(str)->u64 \"two words\"");
}

/// Split a command line into words: spaces separate words, except inside quotes ('...' or
/// "...", removed) and parentheses (so `add(i32, i32)->i32` is one word).
pub fn words(line: &str) -> Result<Vec<String>, CliError> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quote = None;
    let mut depth = 0usize;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() && depth == 0 => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    _ => {}
                }
                word.push(c);
                in_word = true;
            }
        }
    }
    if let Some(q) = quote {
        return Err(CliError::Usage(format!("unterminated quote {q}")));
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_on_spaces_outside_quotes_and_parentheses() {
        let w = words("  call m add(i32, i32) -> i32  -2 \"a b\" 'c\"d' '' ").unwrap();
        assert_eq!(
            w,
            [
                "call",
                "m",
                "add(i32, i32)",
                "->",
                "i32",
                "-2",
                "a b",
                "c\"d",
                ""
            ]
        );
        let w = words("call m f( u8 )->u8 1").unwrap();
        assert_eq!(w, ["call", "m", "f( u8 )->u8", "1"]);
        assert!(words("").unwrap().is_empty());
        assert!(words("call 'x").is_err());
    }
}
