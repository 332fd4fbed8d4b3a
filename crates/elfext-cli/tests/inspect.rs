//! End to end: `elfext inspect` on objects compiled with gcc, arm-none-eabi-gcc and
//! riscv64-unknown-elf-gcc; its JSON is checked against loads done here with the library,
//! its relocation counts against GNU readelf, and malformed inputs give one error line.

#[path = "data/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::process::Command;

use elfext::{BufLoader, ExportMap, Granules, LoadReport, Registry, TargetMemory};
use serde_json::Value;
use support::{elfext, object, one_line_error, stdout, succeeded, Cc, ALL};

fn json(args: &[&str]) -> Value {
    let text = succeeded(&elfext(args), "inspect");
    serde_json::from_str(&text).expect("inspect --json prints JSON")
}

fn granules(name: &str) -> Granules {
    match name {
        "none" => Granules::NONE,
        "mpu32" => Granules::MPU32,
        "mpu-pow2" => Granules::MPU_POW2,
        "page4k" => Granules::PAGES,
        g => panic!("granule {g}"),
    }
}

/// Load `bytes` with the library as `inspect` documents it: into a `TargetMemory` at the
/// window's base, undefined names at `base - 64 KiB + 16 * i` (name order, Thumb bit on
/// ARM), the buffer of persistent and writable loads at the window's end.
fn library_report(bytes: &[u8], cc: Cc, v: &Value, storage: &str) -> LoadReport {
    let w = &v["window"];
    let base = w["base"].as_u64().unwrap();
    let size = w["size"].as_u64().unwrap() as usize;
    let buffer_at = w["buffer"].as_u64().unwrap();
    let mut names: Vec<&str> = v["undefined"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    names.sort();
    let mut exports = ExportMap::new();
    let thumb = u64::from(cc == Cc::Arm);
    for (i, n) in names.iter().enumerate() {
        exports.insert(n, (base - 0x1_0000 + 16 * i as u64) | thumb);
    }
    // An aligned copy, so that sections may be used in place.
    let mut storage_vec = vec![0u8; bytes.len() + 4096];
    let skip = (4096 - storage_vec.as_ptr() as usize % 4096) % 4096;
    let copy = &mut storage_vec[skip..skip + bytes.len()];
    copy.copy_from_slice(bytes);
    let mem = TargetMemory::new(base, size, granules(w["granule"].as_str().unwrap()));
    let mem = if storage == "temporary" {
        mem
    } else {
        mem.with_flash(copy, buffer_at)
    };
    let reg = Registry::for_arch(mem, &exports, cc.lib_arch());
    let r = match storage {
        "temporary" => reg.load_with_report("x", BufLoader::temporary(copy)),
        "persistent" => reg.load_with_report("x", BufLoader::persistent(copy)),
        "writable" => reg.load_with_report("x", BufLoader::writable(copy)),
        s => panic!("storage {s}"),
    };
    r.unwrap_or_else(|e| panic!("library load ({storage}): {e}"))
}

/// Relocation counts per type name, from GNU readelf.
fn readelf_counts(path: &std::path::Path) -> BTreeMap<String, u64> {
    let out = Command::new("readelf")
        .args(["-rW"])
        .arg(path)
        .output()
        .expect("run readelf (binutils)");
    assert!(out.status.success());
    let mut counts = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() >= 3
            && cols[0].chars().all(|c| c.is_ascii_hexdigit())
            && cols[2].starts_with("R_")
        {
            *counts.entry(cols[2].to_string()).or_default() += 1;
        }
    }
    counts
}

#[test]
fn json_plan_is_what_the_library_reports_for_every_arch_granule_and_storage() {
    let dir = tempfile::tempdir().unwrap();
    for cc in ALL {
        let path = object(cc, "ext.c", dir.path(), &[]);
        let bytes = std::fs::read(&path).unwrap();
        for granule in ["none", "mpu32", "mpu-pow2", "page4k"] {
            let v = json(&[
                "inspect",
                "--json",
                "--granule",
                granule,
                path.to_str().unwrap(),
            ]);
            assert_eq!(v["arch"], cc.arch(), "{cc:?}");
            assert_eq!(v["window"]["granule"], granule);
            let plans = v["plan"].as_array().unwrap();
            assert_eq!(plans.len(), 3);
            for p in plans {
                let storage = p["storage"].as_str().unwrap();
                let lib = library_report(&bytes, cc, &v, storage);
                let ctx = format!("{cc:?} {granule} {storage}");
                assert_eq!(p["heap_bytes"].as_u64(), Some(lib.heap_bytes()), "{ctx}");
                for (i, region) in ["TEXT", "RODATA", "DATA", "BSS"].iter().enumerate() {
                    assert_eq!(
                        p["regions"][region].as_u64(),
                        Some(lib.regions[i]),
                        "{ctx} {region}"
                    );
                }
                assert_eq!(p["padding"].as_u64(), Some(lib.padding), "{ctx}");
                assert_eq!(p["metadata"].as_u64(), Some(lib.metadata), "{ctx}");
                assert_eq!(p["copied"].as_u64(), Some(lib.copied), "{ctx}");
                assert_eq!(p["in_place"].as_u64(), Some(lib.in_place), "{ctx}");
                assert_eq!(p["relocations"].as_u64(), Some(lib.relocations), "{ctx}");
                // The placed sections add up to what was copied and used in place.
                let placed = p["sections"].as_array().unwrap();
                let in_place: u64 = placed
                    .iter()
                    .filter(|s| s["in_place"] == true)
                    .map(|s| s["size"].as_u64().unwrap())
                    .sum();
                assert_eq!(in_place, lib.in_place, "{ctx}");
            }
            // Temporary storage copies everything; writable uses the buffer for all but BSS.
            assert_eq!(plans[0]["in_place"], 0, "{cc:?}");
            assert_eq!(plans[2]["copied"], 0, "{cc:?}");
        }
    }
}

#[test]
fn json_lists_sections_relocations_and_symbols_like_readelf() {
    let dir = tempfile::tempdir().unwrap();
    for cc in ALL {
        let path = object(cc, "ext.c", dir.path(), &[]);
        let v = json(&["inspect", "--json", path.to_str().unwrap()]);
        let ctx = format!("{cc:?}");

        let relocs: BTreeMap<String, u64> = v["relocations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["type"].as_str().unwrap().to_string(),
                    r["count"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(relocs, readelf_counts(&path), "{ctx}");
        assert!(v["relocations"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["supported"] == true));

        let undefined: Vec<&str> = v["undefined"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["name"].as_str().unwrap())
            .collect();
        assert_eq!(undefined, ["host_counter", "host_print"], "{ctx}");
        let exported: Vec<(&str, &str)> = v["exported"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["name"].as_str().unwrap(), e["kind"].as_str().unwrap()))
            .collect();
        assert_eq!(
            exported,
            [
                ("ext_add", "function"),
                ("ext_hello", "function"),
                ("greeting", "object"),
                ("samples", "object"),
            ],
            "{ctx}"
        );

        // Sections: .text lands in TEXT, .bss in BSS, the symbol table nowhere.
        let sections = v["sections"].as_array().unwrap();
        let region = |name: &str| {
            sections
                .iter()
                .find(|s| s["name"] == name)
                .unwrap_or_else(|| panic!("{ctx}: no section {name}"))["region"]
                .clone()
        };
        assert_eq!(region(".bss"), "BSS", "{ctx}");
        assert_eq!(region(".symtab"), Value::Null, "{ctx}");
        let text = sections
            .iter()
            .find(|s| {
                s["name"].as_str().unwrap().starts_with(".text") && s["size"].as_u64() > Some(0)
            })
            .unwrap();
        assert_eq!(text["region"], "TEXT", "{ctx}");
    }
}

#[test]
fn several_files_are_inspected_as_one_extension() {
    let dir = tempfile::tempdir().unwrap();
    let ext = object(Cc::Rv32, "ext.c", dir.path(), &[]);
    let user = object(Cc::Rv32, "user.c", dir.path(), &[]);
    let v = json(&[
        "inspect",
        "--json",
        ext.to_str().unwrap(),
        user.to_str().unwrap(),
    ]);
    let names = |key: &str| -> Vec<String> {
        v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap().to_string())
            .collect()
    };
    // user's call to ext_add is resolved inside the combined object.
    assert_eq!(names("undefined"), ["host_counter", "host_print"]);
    assert!(names("exported").contains(&"user_twice".to_string()));
    assert!(names("exported").contains(&"ext_add".to_string()));
}

#[test]
fn tables_show_every_part() {
    let dir = tempfile::tempdir().unwrap();
    let path = object(Cc::Arm, "ext.c", dir.path(), &[]);
    let out = elfext(&["inspect", "--granule", "mpu32", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    let text = stdout(&out);
    for part in [
        "ELF32 relocatable object for arm",
        "Sections",
        "Relocations by type",
        "R_ARM_ABS32",
        "Undefined symbols (2)",
        "host_print",
        "Exported symbols (4)",
        "ext_hello",
        "RAM plan per storage type",
        "granule mpu32",
        "temporary",
        "persistent",
        "writable",
        "in place",
    ] {
        assert!(text.contains(part), "missing {part:?} in:\n{text}");
    }
    // The persistent plan uses .rodata in place (no relocations in it).
    let rodata = text
        .lines()
        .find(|l| l.contains(" .rodata "))
        .unwrap_or_else(|| panic!("no .rodata row in:\n{text}"));
    assert!(rodata.contains("copied     in place"), "{rodata}");
}

#[test]
fn malformed_inputs_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = object(Cc::Rv32, "ext.c", dir.path(), &[]);
    for (label, bad) in support::malformed_variants(&path) {
        let out = elfext(&["inspect", bad.to_str().unwrap()]);
        let line = one_line_error(&out, 1);
        assert!(line.contains(bad.to_str().unwrap()), "{label}: {line}");
    }
    let out = elfext(&["inspect", dir.path().join("missing.o").to_str().unwrap()]);
    one_line_error(&out, 1);
    // A firmware executable is not an extension.
    let fw = support::firmware(Cc::Arm, "firmware.c", dir.path(), &[]);
    let line = one_line_error(&elfext(&["inspect", fw.to_str().unwrap()]), 1);
    assert!(line.contains("not a relocatable object"), "{line}");
}

#[test]
fn bit_flips_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    for cc in [Cc::Host, Cc::Arm] {
        let path = object(cc, "ext.c", dir.path(), &[]);
        let flipped = dir.path().join("flipped.o");
        for (at, bytes) in support::bit_flips(&path, 40) {
            std::fs::write(&flipped, &bytes).unwrap();
            let out = elfext(&["inspect", "--json", flipped.to_str().unwrap()]);
            match out.status.code() {
                Some(0) => {
                    serde_json::from_str::<Value>(&stdout(&out))
                        .unwrap_or_else(|e| panic!("{cc:?} flip at {at}: bad JSON: {e}"));
                }
                _ => {
                    let line = one_line_error(&out, 1);
                    assert!(!line.contains("panicked"), "{cc:?} flip at {at}: {line}");
                }
            }
        }
    }
}

#[test]
fn help_has_an_example() {
    let out = elfext(&["inspect", "--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("Example:"));
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = object(Cc::Arm, "ext.c", dir.path(), &[]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_elfext"))
        .args(["inspect", "--json"])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end at once, as `| head -0` would.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {err}", out.status);
    assert_eq!(err, "");
}

#[test]
fn an_object_elfext_cannot_link_is_still_inspected() {
    let dir = tempfile::tempdir().unwrap();
    let path = object(Cc::Host, "tls_gd.c", dir.path(), &[]);
    let v = json(&["inspect", "--json", path.to_str().unwrap()]);
    let tlsgd = v["relocations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == "R_X86_64_TLSGD")
        .expect("the TLSGD relocation is counted");
    assert_eq!(tlsgd["supported"], false);
    assert_eq!(v["plan"].as_array().unwrap().len(), 0);
    assert!(v["plan_error"].as_str().unwrap().contains("R_X86_64_TLSGD"));
    let text = stdout(&elfext(&["inspect", path.to_str().unwrap()]));
    assert!(text.contains("NOT SUPPORTED"), "{text}");
    assert!(text.contains("elfext cannot link it as it is"), "{text}");
}
