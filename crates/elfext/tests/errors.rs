//! Errors: every failure is a precise `Err` naming what failed, and a failed load leaves
//! the heap exactly as it was. Broken objects are made by patching single ELF fields in a
//! copy of a real object (through `object`'s raw ELF64 types).
#![cfg(all(target_arch = "x86_64", target_os = "linux", feature = "std"))]

mod common;

use common::*;
use elfext::{Arch, BufLoader, Error, HostMemory, InPlace, Loader, Name, Registry, Storage};
use elfext_testkit::LowBuffer;
use object::elf;
use object::LittleEndian as LE;

/// A registry that already holds one extension, so that "the heap is as it was" is checked
/// against a non-empty heap.
fn busy_registry<'b>() -> Registry<'b, HostMemory> {
    let registry = registry();
    let hello = gcc("c/hello.c", &["-O2", "-fPIC"]);
    registry
        .load("resident", BufLoader::temporary(&hello.bytes))
        .expect("a resident extension loads");
    registry
}

/// hello.c, -O2 -fPIC: `.text` with two relocations in `.rela.text` (a PC32 to a string and
/// a PLT32 call to `host_print`).
fn hello() -> Obj {
    gcc("c/hello.c", &["-O2", "-fPIC"])
}

// --- patching helpers: each changes one field of a copy -------------------------------

/// Set `e_machine` (ELF header offset 18).
fn with_machine(obj: &[u8], machine: elf::Machine) -> Vec<u8> {
    patched(obj, |b| ehdr_mut(b).e_machine.set(LE, machine))
}

/// Set `e_type` (ELF header offset 16).
fn with_type(obj: &[u8], ty: elf::FileType) -> Vec<u8> {
    patched(obj, |b| ehdr_mut(b).e_type.set(LE, ty))
}

/// Set `sh_offset` of the section called `name`.
fn with_section_offset(obj: &[u8], name: &str, offset: u64) -> Vec<u8> {
    let i = section(obj, name).index;
    patched(obj, |b| shdr_mut(b, i).sh_offset.set(LE, offset))
}

/// Set `sh_size` of the section called `name`.
fn with_section_size(obj: &[u8], name: &str, size: u64) -> Vec<u8> {
    let i = section(obj, name).index;
    patched(obj, |b| shdr_mut(b, i).sh_size.set(LE, size))
}

/// Set `sh_link` of the section called `name`.
fn with_section_link(obj: &[u8], name: &str, link: u32) -> Vec<u8> {
    let i = section(obj, name).index;
    patched(obj, |b| shdr_mut(b, i).sh_link.set(LE, link))
}

/// Set `sh_info` of the section called `name`.
fn with_section_info(obj: &[u8], name: &str, info: u32) -> Vec<u8> {
    let i = section(obj, name).index;
    patched(obj, |b| shdr_mut(b, i).sh_info.set(LE, info))
}

/// Change relocation `n` of the RELA section called `rela`.
fn with_reloc(obj: &[u8], rela: &str, n: usize, change: impl FnOnce(&mut Rela)) -> Vec<u8> {
    let s = section(obj, rela);
    patched(obj, |b| change(rela_mut(b, &s, n)))
}

/// The (symbol, type) of a RELA entry.
fn sym_and_type(r: &Rela) -> (u32, u32) {
    (r.r_sym(LE, false), r.r_type(LE, false).0)
}

// --- symbols ------------------------------------------------------------------------

#[test]
fn missing_symbols_are_all_named_in_one_error() {
    for b in c_builds(&[]) {
        let obj = build("c/missing.c", &b);
        let registry = busy_registry();
        let err = load_err(&registry, &obj.bytes);
        let Error::MissingSymbols(names) = &err else {
            panic!("{}: expected MissingSymbols, got {err}", obj.label);
        };
        let mut names: Vec<String> = names.iter().map(Name::to_string).collect();
        names.sort();
        assert_eq!(
            names,
            [
                "undefined_function_one",
                "undefined_function_two",
                "undefined_variable"
            ],
            "{}: every missing symbol is named once; the host's host_print is not missing",
            obj.label
        );
        let msg = err.to_string();
        for n in &names {
            assert!(
                msg.contains(&format!("`{n}`")),
                "{}: the message names {n}: {msg}",
                obj.label
            );
        }
    }
}

#[test]
fn pic_code_reading_host_data_links_but_non_pic_code_overflows() {
    for b in c_builds(&[]) {
        let obj = build("c/host_data.c", &b);
        let registry = busy_registry();
        if b.is_pic() {
            registry
                .load("host_data", BufLoader::temporary(&obj.bytes))
                .unwrap_or_else(|e| {
                    panic!("{}: PIC code reaches host data via the GOT: {e}", obj.label)
                });
            registry.unload("host_data").expect("unload");
            continue;
        }
        let err = load_err(&registry, &obj.bytes);
        let Error::RelocationOverflow {
            rtype,
            symbol,
            section,
            value,
            min,
            max,
            ..
        } = err.clone()
        else {
            panic!("{}: expected RelocationOverflow, got {err}", obj.label);
        };
        assert!(
            [elf::R_X86_64_PC32.0, elf::R_X86_64_32S.0].contains(&rtype.raw),
            "{}: a 32-bit reference ({rtype}) overflows",
            obj.label
        );
        assert!(
            ["host_limit", "host_counter"].contains(&symbol.to_string().as_str()),
            "{}: the overflow names the host symbol, not {symbol}",
            obj.label
        );
        assert_eq!(section.name.to_string(), ".text", "{}: in .text", obj.label);
        assert_eq!(
            (min, max),
            (i64::from(i32::MIN), i64::from(i32::MAX)),
            "{}: range",
            obj.label
        );
        assert!(
            value < min || value > max,
            "{}: {value:#x} is out of range",
            obj.label
        );
        let msg = err.to_string();
        assert!(
            msg.contains(&format!("{value:#x}")) && msg.contains("0x7fffffff"),
            "{}: the message shows the value and the range: {msg}",
            obj.label
        );
    }
}

// --- headers ------------------------------------------------------------------------

#[test]
fn a_32_bit_x86_object_is_the_wrong_machine() {
    let built = std::panic::catch_unwind(|| gcc("c/hello.c", &["-m32", "-O2"]));
    let Ok(obj) = built else {
        println!("note: gcc -m32 cannot build here; the patched-machine test covers WrongMachine");
        return;
    };
    let registry = busy_registry();
    assert_eq!(
        load_err(&registry, &obj.bytes),
        Error::WrongMachine {
            found: elf::EM_386.0,
            expected: Arch::X86_64
        },
        "an i386 object is refused by an x86-64 registry"
    );
}

#[test]
fn a_patched_machine_is_the_wrong_machine() {
    let obj = hello();
    let registry = busy_registry();
    let err = load_err(&registry, &with_machine(&obj.bytes, elf::EM_AARCH64));
    assert_eq!(
        err,
        Error::WrongMachine {
            found: elf::EM_AARCH64.0,
            expected: Arch::X86_64
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("183") && msg.contains("x86_64"),
        "the message names both machines: {msg}"
    );
}

#[test]
fn an_x32_object_is_the_wrong_class() {
    let Ok(obj) = std::panic::catch_unwind(|| gcc("c/hello.c", &["-mx32", "-O2"])) else {
        println!("note: gcc -mx32 cannot build here");
        return;
    };
    let registry = busy_registry();
    assert_eq!(
        load_err(&registry, &obj.bytes),
        Error::WrongClass {
            found: 32,
            expected: 64,
            arch: Arch::X86_64
        },
        "an x32 (ELF32, EM_X86_64) object is refused"
    );
}

#[test]
fn executables_and_shared_objects_are_not_relocatable() {
    let obj = hello();
    let registry = busy_registry();
    for ty in [elf::ET_EXEC, elf::ET_DYN] {
        let err = load_err(&registry, &with_type(&obj.bytes, ty));
        assert_eq!(err, Error::NotRelocatable { found: ty.0 });
        assert!(
            err.to_string().contains("-c"),
            "the message says how to build: {err}"
        );
    }
}

#[test]
fn truncated_headers_are_refused_at_every_length() {
    let obj = hello();
    let registry = busy_registry();
    for len in 0..size_of::<elf::FileHeader64<LE>>() {
        let err = load_err(&registry, &obj.bytes[..len]);
        match len {
            0..4 => assert_eq!(err, Error::NotElf, "{len} bytes"),
            4..16 => assert_eq!(
                err,
                Error::BadHeader("file shorter than e_ident"),
                "{len} bytes"
            ),
            _ => assert_eq!(
                err,
                Error::BadHeader("file shorter than the ELF header"),
                "{len} bytes"
            ),
        }
    }
}

#[test]
fn bad_identification_bytes_are_refused() {
    let obj = hello();
    let registry = busy_registry();
    let not_elf = patched(&obj.bytes, |b| b[1] = b'F');
    assert_eq!(load_err(&registry, &not_elf), Error::NotElf, "bad magic");
    // e_ident[EI_DATA] (offset 5) = ELFDATA2MSB
    let big = patched(&obj.bytes, |b| b[5] = elf::ELFDATA2MSB.0);
    assert!(
        matches!(load_err(&registry, &big), Error::BadIdent(_)),
        "big-endian"
    );
    // e_ident[EI_CLASS] (offset 4) = 7
    let class = patched(&obj.bytes, |b| b[4] = 7);
    assert!(
        matches!(load_err(&registry, &class), Error::BadIdent(_)),
        "unknown class"
    );
}

#[test]
fn a_section_header_table_outside_the_file_is_refused() {
    let obj = hello();
    let registry = busy_registry();
    let len = obj.bytes.len() as u64;
    let past = patched(&obj.bytes, |b| ehdr_mut(b).e_shoff.set(LE, len));
    assert!(
        matches!(load_err(&registry, &past), Error::BadHeader(_)),
        "e_shoff at EOF"
    );
    let bad_index = patched(&obj.bytes, |b| {
        let n = ehdr_mut(b).e_shnum.get(LE);
        ehdr_mut(b).e_shstrndx.set(LE, elf::SymbolSection(n + 3))
    });
    assert!(
        matches!(
            load_err(&registry, &bad_index),
            Error::BadSectionIndex {
                what: "e_shstrndx",
                ..
            }
        ),
        "e_shstrndx past the section count"
    );
}

// --- sections -----------------------------------------------------------------------

#[test]
fn a_section_past_the_end_of_the_file_is_named() {
    let obj = hello();
    let text = section(&obj.bytes, ".text");
    let len = obj.bytes.len() as u64;
    let registry = busy_registry();
    for (what, bytes, offset, size) in [
        (
            "offset at EOF",
            with_section_offset(&obj.bytes, ".text", len),
            len,
            text.size,
        ),
        (
            "offset + size past EOF",
            with_section_size(&obj.bytes, ".text", len),
            text.offset,
            len,
        ),
        (
            "size overflowing u64",
            with_section_size(&obj.bytes, ".text", u64::MAX),
            text.offset,
            u64::MAX,
        ),
    ] {
        let err = load_err(&registry, &bytes);
        let Error::SectionOutOfFile {
            section,
            offset: o,
            size: s,
            file_len,
            ..
        } = err
        else {
            panic!("{what}: expected SectionOutOfFile, got {err}");
        };
        assert_eq!(
            section.index, text.index,
            "{what}: the error names .text's index"
        );
        assert_eq!(
            (o, s, file_len),
            (offset, size, len),
            "{what}: offset, size and file length"
        );
        assert!(
            err.to_string()
                .contains(&format!("section #{}", text.index)),
            "{what}: the message names the section: {err}"
        );
    }
}

#[test]
fn a_section_past_the_end_of_the_file_is_named_by_its_name() {
    let obj = hello();
    let len = obj.bytes.len() as u64;
    let err = load_err(&registry(), &with_section_offset(&obj.bytes, ".text", len));
    assert!(
        err.to_string().contains("`.text`"),
        "the message names .text by name: {err}"
    );
}

#[test]
fn a_non_power_of_two_section_alignment_is_refused() {
    let obj = hello();
    let i = section(&obj.bytes, ".text").index;
    let bytes = patched(&obj.bytes, |b| shdr_mut(b, i).sh_addralign.set(LE, 24));
    let err = load_err(&busy_registry(), &bytes);
    assert!(
        matches!(err, Error::BadSection { section, value: 24, .. } if section.index == i),
        "alignment 24 is refused: {err}"
    );
}

// --- relocations --------------------------------------------------------------------

#[test]
fn a_relocation_outside_its_section_is_refused() {
    let obj = hello();
    let text = section(&obj.bytes, ".text");
    let rela = section(&obj.bytes, ".rela.text");
    let registry = busy_registry();
    for (n, offset) in [(0, text.size - 2), (1, text.size), (1, u64::MAX - 1)] {
        let bytes = with_reloc(&obj.bytes, ".rela.text", n, |r| r.r_offset.set(LE, offset));
        let err = load_err(&registry, &bytes);
        assert_eq!(
            err,
            Error::RelocationOutOfSection {
                section: elfext::SectionId {
                    index: rela.index,
                    name: Name::from(".rela.text")
                },
                reloc: n as u32,
                offset,
                width: 4,
                target: elfext::SectionId {
                    index: text.index,
                    name: Name::from(".text")
                },
                size: text.size,
            },
            "relocation #{n} at {offset:#x} past the end of .text"
        );
    }
}

#[test]
fn a_relocation_section_not_linked_to_the_symbol_table_is_refused() {
    let obj = hello();
    let secs = sections(&obj.bytes);
    let symtab = secs
        .iter()
        .find(|s| s.ty == elf::SHT_SYMTAB)
        .expect("symtab")
        .index;
    let rela = section(&obj.bytes, ".rela.text");
    let strtab = section(&obj.bytes, ".strtab").index;
    let err = load_err(
        &busy_registry(),
        &with_section_link(&obj.bytes, ".rela.text", strtab),
    );
    assert_eq!(
        err,
        Error::WrongSymbolTable {
            section: elfext::SectionId {
                index: rela.index,
                name: Name::from(".rela.text")
            },
            link: strtab,
            symtab,
        }
    );
    assert!(
        err.to_string().contains("`.rela.text`"),
        "the message names the section: {err}"
    );
}

#[test]
fn a_relocation_section_patching_a_missing_section_is_refused() {
    let obj = hello();
    let n = sections(&obj.bytes).len() as u32;
    let err = load_err(
        &busy_registry(),
        &with_section_info(&obj.bytes, ".rela.text", n + 5),
    );
    assert!(
        matches!(err, Error::BadSectionIndex { index, count, .. } if index == n + 5 && count == n),
        "sh_info past the section count: {err}"
    );
}

#[test]
fn an_unknown_relocation_type_is_named_with_its_section() {
    let obj = hello();
    let text = section(&obj.bytes, ".text");
    let bytes = with_reloc(&obj.bytes, ".rela.text", 1, |r| {
        let (sym, _) = sym_and_type(r);
        r.set_r_info(LE, false, sym, elf::RelocationType(200));
    });
    let err = load_err(&busy_registry(), &bytes);
    let Error::UnsupportedRelocation {
        arch,
        rtype,
        section,
        ..
    } = err
    else {
        panic!("expected UnsupportedRelocation, got {err}");
    };
    assert_eq!(
        (arch, rtype.raw, section.index),
        (Arch::X86_64, 200, text.index)
    );
    let msg = err.to_string();
    assert!(
        msg.contains("200") && msg.contains("`.text`"),
        "the message names the type and the section: {msg}"
    );
}

#[test]
fn a_relocation_against_a_missing_symbol_index_is_refused() {
    let obj = hello();
    let bytes = with_reloc(&obj.bytes, ".rela.text", 0, |r| {
        let (_, ty) = sym_and_type(r);
        r.set_r_info(LE, false, 100_000, elf::RelocationType(ty));
    });
    let err = load_err(&busy_registry(), &bytes);
    assert!(
        matches!(
            err,
            Error::BadSymbolIndex {
                reloc: 0,
                index: 100_000,
                ..
            }
        ),
        "symbol index 100000: {err}"
    );
}

#[test]
fn thread_local_storage_without_an_area_is_refused_and_named() {
    for b in c_builds(&["-ftls-model=local-exec"]) {
        let obj = build("c/tls.c", &b);
        let err = load_err(&busy_registry(), &obj.bytes);
        let Error::NoTlsArea { section } = err else {
            panic!("{}: expected NoTlsArea, got {err}", obj.label);
        };
        assert!(
            section.name.to_string().starts_with(".t"),
            "{}: the TLS section (.tdata or .tbss) is named: {err}",
            obj.label
        );
    }
}

#[test]
fn thread_local_models_other_than_local_exec_name_their_relocation() {
    // Position-independent code reaches TLS through __tls_get_addr (general dynamic).
    for b in c_builds(&[]).into_iter().filter(Build::is_pic) {
        let obj = build("c/tls.c", &b);
        let err = load_err(&busy_registry(), &obj.bytes);
        let Error::UnsupportedRelocation { rtype, .. } = err else {
            panic!("{}: expected UnsupportedRelocation, got {err}", obj.label);
        };
        assert!(
            [
                elf::R_X86_64_TLSGD.0,
                elf::R_X86_64_TLSLD.0,
                elf::R_X86_64_GOTTPOFF.0
            ]
            .contains(&rtype.raw),
            "{}: a TLS access model's relocation is named: {err}",
            obj.label
        );
    }
}

// --- storage, memory and registry ---------------------------------------------------

#[test]
fn a_writable_section_overlapping_the_symbol_table_is_refused() {
    // Point the string literal's section at the symbol table: used in place and relocated,
    // it would overwrite the symbols elfext still reads.
    let obj = hello();
    let secs = sections(&obj.bytes);
    let symtab = secs
        .iter()
        .find(|s| s.ty == elf::SHT_SYMTAB)
        .expect("symtab");
    let strings = secs
        .iter()
        .find(|s| s.name.starts_with(".rodata"))
        .expect("a .rodata section");
    let bytes = with_section_offset(&obj.bytes, &strings.name, symtab.offset);
    let mut low = LowBuffer::new(&bytes).expect("low buffer");
    let registry = registry();
    let err = registry
        .load("overlap", BufLoader::writable(low.as_mut_slice()))
        .expect_err("overlapping in-place sections are refused");
    assert!(
        matches!(
            err,
            Error::InPlaceOverlap {
                what: "symbol table",
                ..
            }
        ),
        "the overlap is named: {err}"
    );
    assert_heap_empty(&registry, "after the refused writable load");
}

#[test]
fn an_exhausted_arena_is_out_of_memory_and_leaks_nothing() {
    let obj = gcc("c/bss.c", &["-O2", "-fPIC"]);
    let registry = Registry::new(HostMemory::new(64 * 1024).expect("arena"), &HOST);
    let err = load_err(&registry, &obj.bytes);
    assert!(
        matches!(err, Error::OutOfMemory { .. }),
        "320 KiB of BSS in 64 KiB: {err}"
    );
    assert_heap_empty(&registry, "after running out of memory");
}

/// A loader that claims persistent storage but lends no buffer.
struct LyingLoader<'a>(&'a [u8]);

impl<'a> Loader<'a> for LyingLoader<'a> {
    fn storage(&self) -> Storage {
        Storage::Persistent
    }
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> elfext::Result<()> {
        let at = offset as usize;
        buf.copy_from_slice(&self.0[at..at + buf.len()]);
        Ok(())
    }
    fn in_place(&mut self) -> Option<InPlace<'a>> {
        None
    }
}

#[test]
fn a_loader_declaring_storage_it_cannot_lend_is_refused() {
    let obj = hello();
    let registry = registry();
    assert_eq!(
        registry.load("liar", LyingLoader(&obj.bytes)),
        Err(Error::LoaderStorage(Storage::Persistent))
    );
    assert_heap_empty(&registry, "after the refused loader");
}

#[test]
fn the_use_count_stops_at_its_limit_with_an_error() {
    let obj = hello();
    let registry = registry();
    let before_uses = registry.heap_stats();
    assert_eq!(
        registry.load("hello", BufLoader::temporary(&obj.bytes)),
        Ok(0)
    );
    let loaded = registry.heap_stats();
    assert_ne!(loaded, before_uses, "the first load allocates");
    for previous in 1..u32::from(u16::MAX) {
        assert_eq!(
            registry.load("hello", BufLoader::temporary(&[])),
            Ok(previous)
        );
    }
    assert!(
        matches!(
            registry.load("hello", BufLoader::temporary(&[])),
            Err(Error::TooLarge {
                what: "use count",
                ..
            })
        ),
        "the 65536th use is refused"
    );
    assert_eq!(
        registry.heap_stats(),
        loaded,
        "counting uses never allocates"
    );
    for left in (0..u32::from(u16::MAX)).rev() {
        assert_eq!(registry.unload("hello"), Ok(left));
    }
    assert_heap_empty(&registry, "after 65535 unloads");
}

#[test]
fn registry_misuse_is_reported() {
    let obj = hello();
    let registry = registry();
    assert_eq!(
        registry.unload("nothing"),
        Err(Error::NotLoaded(Name::from("nothing")))
    );
    assert_eq!(
        registry.with("nothing", |_| ()).err(),
        Some(Error::NotLoaded(Name::from("nothing")))
    );
    let long = "x".repeat(300);
    assert!(
        matches!(
            registry.load(&long, BufLoader::temporary(&obj.bytes)),
            Err(Error::TooLarge { value: 300, .. })
        ),
        "a 300-byte name is too long"
    );
    registry
        .load("hello", BufLoader::temporary(&obj.bytes))
        .expect("load");
    let registry = match registry.into_memory() {
        Err((Error::HeapBusy { loaded: 1 }, registry)) => registry,
        Err((e, _)) => panic!("expected HeapBusy, got {e}"),
        Ok(_) => panic!("the heap cannot be torn down while an extension is loaded"),
    };
    registry.unload("hello").expect("unload");
    let memory = registry
        .into_memory()
        .ok()
        .expect("an empty registry gives its memory back");
    drop(memory);
}
