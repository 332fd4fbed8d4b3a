//! End to end: `elfext map` on objects compiled with the real compilers: the text picture's
//! rows agree with the library's load reports, in-place sections are marked inside their
//! files, colours follow `--color`, the SVG is written, and bad input gives one error line.

#[path = "data/support.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::Path;

use support::{elfext, object, one_line_error, stdout, succeeded, Cc, ALL};

/// One row of a map table: size, type, owner.
#[derive(Debug)]
struct Row {
    start: u64,
    size: u64,
    ty: String,
    in_place: bool,
    owner: String,
}

fn rows(text: &str) -> Vec<Row> {
    text.lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            if c.len() < 5 || !c[0].starts_with("0x") || !c[1].starts_with("0x") || c[3] != "B" {
                return None;
            }
            let in_place = c.get(5) == Some(&"in");
            Some(Row {
                start: u64::from_str_radix(&c[0][2..], 16).unwrap(),
                size: c[2].parse().unwrap(),
                ty: c[4].to_string(),
                in_place,
                owner: c
                    .get(if in_place { 7 } else { 5 })
                    .unwrap_or(&"")
                    .to_string(),
            })
        })
        .collect()
}

/// The report table: extension → [TEXT, RODATA, DATA, BSS, padding, metadata, heap, in place].
fn reports(text: &str, names: &[&str]) -> BTreeMap<String, Vec<u64>> {
    text.lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split_whitespace().collect();
            (c.len() == 9 && names.contains(&c[0])).then(|| {
                (
                    c[0].to_string(),
                    c[1..].iter().map(|n| n.parse().unwrap()).collect(),
                )
            })
        })
        .collect()
}

fn map(args: &[&str], files: &[&Path]) -> std::process::Output {
    let mut all: Vec<std::ffi::OsString> = vec!["map".into()];
    all.extend(args.iter().map(Into::into));
    all.extend(files.iter().map(|f| f.as_os_str().to_owned()));
    elfext(&all)
}

#[test]
fn persistent_map_agrees_with_the_load_reports_and_marks_in_place_sections() {
    let dir = tempfile::tempdir().unwrap();
    for cc in ALL {
        let ext = object(cc, "ext.c", dir.path(), &[]);
        let user = object(cc, "user.c", dir.path(), &[]);
        let svg = dir.path().join(format!("map_{}.svg", cc.label()));
        let out = map(
            &[
                "--storage",
                "persistent",
                "--color",
                "never",
                "--svg",
                svg.to_str().unwrap(),
            ],
            &[&ext, &user],
        );
        let text = succeeded(&out, &format!("{cc:?}"));
        assert!(!text.contains('\x1b'), "colour with --color never");
        let names = [
            format!("ext_{}", cc.label()),
            format!("user_{}", cc.label()),
        ];
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let reports = reports(&text, &names);
        assert_eq!(reports.len(), 2, "{text}");
        let rows = rows(&text);
        for name in &names {
            let r = &reports[*name];
            let of = |ty: &str, in_place: bool| -> u64 {
                rows.iter()
                    .filter(|x| x.owner == *name && x.ty == ty && x.in_place == in_place)
                    .map(|x| x.size)
                    .sum()
            };
            for (i, ty) in ["TEXT", "RODATA", "DATA", "BSS"].iter().enumerate() {
                assert_eq!(of(ty, false), r[i], "{cc:?} {name} {ty}:\n{text}");
            }
            assert_eq!(of("metadata", false), r[5], "{cc:?} {name} metadata");
            let in_place: u64 = ["TEXT", "RODATA", "DATA"].iter().map(|t| of(t, true)).sum();
            assert_eq!(in_place, r[7], "{cc:?} {name} in place:\n{text}");
            // Each object's file is in the flash bank.
            assert!(
                rows.iter()
                    .any(|x| x.owner == *name && x.ty == "file" && x.start >= 0x0800_0000),
                "{text}"
            );
        }
        // ext's string constant has no relocations: used in place from the file.
        assert!(
            rows.iter()
                .any(|x| x.owner == names[0] && x.ty == "RODATA" && x.in_place),
            "{cc:?}:\n{text}"
        );
        let picture = std::fs::read_to_string(&svg).unwrap();
        assert!(picture.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(picture.trim_end().ends_with("</svg>"));
        assert_eq!(picture.matches("<svg").count(), 1);
        assert!(picture.contains(&format!("TEXT {}", names[1])), "{picture}");
        assert!(picture.contains("in place"));
        assert!(text.contains(&format!("SVG written to {}", svg.display())));
    }
}

#[test]
fn granule_padding_is_drawn_and_matches_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let ext = object(Cc::Arm, "ext.c", dir.path(), &[]);
    let out = map(&["--granule", "mpu-pow2", "--color", "never"], &[&ext]);
    let text = succeeded(&out, "map");
    let r = &reports(&text, &["ext_arm"])["ext_arm"];
    let rows = rows(&text);
    let padding: u64 = rows
        .iter()
        .filter(|x| x.ty == "padding" && x.owner == "ext_arm")
        .map(|x| x.size)
        .sum();
    assert!(r[4] > 0, "mpu-pow2 pads: {text}");
    assert_eq!(padding, r[4], "{text}");
    for x in rows
        .iter()
        .filter(|x| ["TEXT", "RODATA", "DATA", "BSS"].contains(&x.ty.as_str()))
    {
        assert!(x.size.is_power_of_two() && x.size >= 32, "{x:?}");
        assert_eq!(x.start % x.size, 0, "{x:?}");
    }
}

#[test]
fn colours_follow_the_option() {
    let dir = tempfile::tempdir().unwrap();
    let ext = object(Cc::Rv32, "ext.c", dir.path(), &[]);
    let always = stdout(&map(&["--color", "always"], &[&ext]));
    assert!(always.contains("\x1b[30;41m"), "TEXT in red: {always}");
    // Piped, auto means no colour.
    let auto = stdout(&map(&[], &[&ext]));
    assert!(!auto.contains('\x1b'));
    assert!(auto.contains("TEXT") && auto.contains("metadata"));
}

#[test]
fn writable_storage_uses_code_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let ext = object(Cc::Rv32, "ext.c", dir.path(), &[]);
    let out = map(&["--storage", "writable", "--color", "never"], &[&ext]);
    let text = succeeded(&out, "map");
    let rows = rows(&text);
    assert!(rows.iter().any(|x| x.ty == "TEXT" && x.in_place), "{text}");
    assert!(
        !rows.iter().any(|x| x.ty == "TEXT" && !x.in_place),
        "{text}"
    );
}

#[test]
fn bad_inputs_fail_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let ext = object(Cc::Arm, "ext.c", dir.path(), &[]);
    for (label, bad) in support::malformed_variants(&ext) {
        let line = one_line_error(&map(&[], &[&ext, &bad]), 1);
        assert!(line.contains(bad.to_str().unwrap()), "{label}: {line}");
    }
    let rv = object(Cc::Rv32, "user.c", dir.path(), &[]);
    let line = one_line_error(&map(&[], &[&ext, &rv]), 1);
    assert!(line.contains("one architecture"), "{line}");
    let again = dir.path().join("sub");
    std::fs::create_dir(&again).unwrap();
    let copy = again.join(ext.file_name().unwrap());
    std::fs::copy(&ext, &copy).unwrap();
    one_line_error(&map(&[], &[&ext, &copy]), 2);
    let flipped = dir.path().join("flipped.o");
    for (at, bytes) in support::bit_flips(&ext, 30) {
        std::fs::write(&flipped, &bytes).unwrap();
        let out = map(&["--storage", "persistent"], &[&flipped]);
        if !out.status.success() {
            let line = one_line_error(&out, 1);
            assert!(!line.is_empty(), "flip at {at}");
        }
    }
}

#[test]
fn help_has_an_example() {
    let out = elfext(&["map", "--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("Example:"));
}
