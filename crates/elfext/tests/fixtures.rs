//! The committed fixtures (`tests/fixtures/<arch>/`): every committed object, linked with
//! elfext at the recorded base with the recorded exports, must give the bytes GNU ld gave
//! (the reference image) for every section, with no cross toolchain installed. Where the
//! toolchains are installed, the objects and images are regenerated and must equal the
//! committed ones, so they cannot go stale.

use std::path::{Path, PathBuf};

use elfext_testkit::fixtures::{self, check, Fixture, Image};

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| {
        panic!(
            "read {}: {e} (regenerate with `cargo xtask fixtures`)",
            path.display()
        )
    })
}

fn image(path: &Path) -> Image {
    let text = String::from_utf8(read(path)).expect("an image is text");
    Image::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn committed_objects_link_to_their_reference_images() {
    let root = fixtures::fixtures_dir();
    let (mut sections, mut failures) = (0, Vec::new());
    let all = fixtures::all();
    for f in &all {
        let object = read(&f.object_path(&root));
        let image = image(&f.image_path(&root));
        assert_eq!(image.arch, f.arch, "{}", f.label());
        assert_eq!(image.base, f.base, "{}", f.label());
        match check(&object, &image) {
            Ok(n) => sections += n,
            Err(e) => failures.push(format!("{}: {e}", f.label())),
        }
    }
    assert!(
        failures.is_empty(),
        "{} fixtures differ from GNU ld's images:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    // Every architecture, and more than one section per object.
    for dir in ["arm", "aarch64", "riscv32", "riscv64", "x86_64"] {
        assert!(all.iter().any(|f| f.dir == dir), "no fixture for {dir}");
    }
    assert!(
        sections > 2 * all.len(),
        "only {sections} sections compared"
    );
}

#[test]
fn no_stray_fixture_files() {
    // Everything under tests/fixtures/<arch>/ is a fixture's object or image, or the
    // toolchain note: a fixture dropped from the list leaves nothing behind.
    let root = fixtures::fixtures_dir();
    let all = fixtures::all();
    let mut expected: Vec<PathBuf> = all
        .iter()
        .flat_map(|f| [f.object_path(&root), f.image_path(&root)])
        .collect();
    expected.extend(all.iter().map(|f| root.join(f.dir).join("toolchain.txt")));
    for dir in std::fs::read_dir(&root).expect("tests/fixtures") {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            assert!(
                expected.contains(&file),
                "{} belongs to no fixture",
                file.display()
            );
        }
    }
}

#[test]
fn a_changed_byte_is_caught() {
    // The comparison can fail: flip one byte of each image section and expect a difference.
    let root = fixtures::fixtures_dir();
    let f = fixtures::all()
        .into_iter()
        .find(|f| f.dir == "arm" && f.name == "relocs")
        .unwrap();
    let object = read(&f.object_path(&root));
    let good = image(&f.image_path(&root));
    assert_eq!(Image::parse(&good.to_text()).as_ref(), Ok(&good));
    for i in 0..good.sections.len() {
        let mut bad = good.clone();
        let last = bad.sections[i].bytes.len() - 1;
        bad.sections[i].bytes[last] ^= 1;
        let err = check(&object, &bad).expect_err("a changed byte");
        assert!(err.contains("differs"), "{err}");
    }
}

/// Regenerate into a temporary folder and compare file by file with the committed set.
#[test]
fn regenerated_fixtures_equal_the_committed_ones() {
    let all = fixtures::all();
    let mut dirs: Vec<&str> = all.iter().map(|f| f.dir).collect();
    dirs.dedup();
    let missing: Vec<&str> = dirs
        .iter()
        .copied()
        .filter(|d| {
            !all.iter()
                .find(|f| f.dir == *d)
                .unwrap()
                .toolchain_available()
        })
        .collect();
    if !missing.is_empty() {
        println!(
            "skipped regenerating fixtures for {}: toolchain not installed",
            missing.join(", ")
        );
    }
    let tmp = std::env::temp_dir().join(format!("elfext-fixtures-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = fixtures::generate(&tmp);
    let differences = result.map(|skipped| differences(&all, &tmp, &skipped));
    let _ = std::fs::remove_dir_all(&tmp);
    let differences = differences.unwrap_or_else(|e| panic!("regenerating fixtures: {e}"));
    assert!(
        differences.is_empty(),
        "the committed fixtures are stale; run `cargo xtask fixtures` and commit:\n{}",
        differences.join("\n")
    );
}

/// Files of regenerated fixtures (under `tmp`) that differ from the committed ones.
fn differences(all: &[Fixture], tmp: &Path, skipped: &[&str]) -> Vec<String> {
    let root = fixtures::fixtures_dir();
    let mut out = Vec::new();
    let mut dirs: Vec<&str> = Vec::new();
    for f in all.iter().filter(|f| !skipped.contains(&f.dir)) {
        let mut files = vec![f.object_path(&root), f.image_path(&root)];
        if !dirs.contains(&f.dir) {
            dirs.push(f.dir);
            // Different compiler or linker versions explain different objects.
            files.insert(0, root.join(f.dir).join("toolchain.txt"));
        }
        for committed in files {
            let rel = committed.strip_prefix(&root).unwrap();
            let fresh = tmp.join(rel);
            if std::fs::read(&committed).ok() != std::fs::read(&fresh).ok() {
                out.push(format!("{} differs", rel.display()));
            }
        }
    }
    out
}
