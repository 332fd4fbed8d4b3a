//! `elfext shell` end to end: a script piped into the built binary, against objects compiled
//! with gcc from `tests/run_data`.
#![cfg(all(unix, any(target_arch = "x86_64", target_arch = "aarch64")))]

#[path = "data/support.rs"]
mod support;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use support::{run_data, succeeded};

const ELFEXT: &str = env!("CARGO_BIN_EXE_elfext");

/// Pipe `script` into `elfext shell`.
fn shell(script: &str) -> Output {
    let mut child = Command::new(ELFEXT)
        .arg("shell")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run elfext shell");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The lines of output that follow the echo of `command` up to the next prompt.
fn answer(out: &str, command: &str) -> Vec<String> {
    let echo = format!("elfext> {command}");
    let mut lines = out.lines().skip_while(|l| *l != echo);
    assert!(lines.next().is_some(), "`{command}` not echoed in:\n{out}");
    lines
        .take_while(|l| !l.starts_with("elfext> "))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

#[test]
fn a_piped_session() {
    let dir = tempfile::tempdir().unwrap();
    let helper = run_data(dir.path(), "pulled_helper", &[]);
    let main = run_data(dir.path(), "pulled_main", &[]);
    let types = run_data(dir.path(), "types", &[]);
    let script = format!(
        "# a comment, then a blank line\n\
         \n\
         load h {helper}\n\
         load m {main}\n\
         load t {types}\n\
         list\n\
         symbols m\n\
         call m foo(i32)->i32 4\n\
         call t third_f64(f64) -> f64 1\n\
         call t length(str)->u64 \"two words\"\n\
         call t neg_i8(i8)->i8 -100\n\
         call t bump(i32) 5\n\
         unload h\n\
         load h {helper}\n\
         list\n\
         heap\n\
         map\n\
         frobnicate\n\
         call t no_such_function()\n\
         call t add(i32)->i32 1 2\n\
         unload m\n\
         unload h\n\
         unload h\n\
         list\n\
         quit\n\
         list\n",
        helper = helper.display(),
        main = main.display(),
        types = types.display(),
    );
    let o = shell(&script);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();

    // Four commands fail, each with one line, and the session goes on to the end.
    assert_eq!(o.status.code(), Some(1), "{out}\n{err}");
    let errors: Vec<&str> = err.lines().collect();
    assert_eq!(errors.len(), 5, "{err}");
    assert_eq!(
        errors[0],
        "error: unload `h`: extension `h` is still used by `m`; unload `m` first"
    );
    assert_eq!(
        errors[1],
        "error: unknown command `frobnicate`; type `help` for the list"
    );
    assert!(errors[2].contains("no symbol `no_such_function`"), "{err}");
    assert_eq!(
        errors[3],
        "error: `add(i32)->i32` takes 1 argument, 2 given"
    );
    assert_eq!(errors[4], "elfext: error: 4 commands failed");

    assert_eq!(
        answer(&out, &format!("load h {}", helper.display())).len(),
        1
    );
    let loaded_m = answer(&out, &format!("load m {}", main.display()));
    assert!(
        loaded_m[0].starts_with("loaded `m`: 1 exports,")
            && loaded_m[0].ends_with("links against h"),
        "{loaded_m:?}"
    );
    let list = answer(&out, "list");
    assert_eq!(list[0], "extension uses heap bytes dependencies");
    assert!(
        list[2].starts_with("h 1 ") && list[2].ends_with(" -"),
        "{list:?}"
    );
    assert!(
        list[3].starts_with("m 1 ") && list[3].ends_with(" h"),
        "{list:?}"
    );
    assert!(list[4].starts_with("t 1 "), "{list:?}");

    let symbols = answer(&out, "symbols m");
    assert_eq!(symbols.len(), 3, "{symbols:?}");
    assert!(
        symbols[2].starts_with("foo 0x") && symbols[2].ends_with(" TEXT"),
        "{symbols:?}"
    );

    assert_eq!(answer(&out, "call m foo(i32)->i32 4"), ["41"]);
    assert_eq!(
        answer(&out, "call t third_f64(f64) -> f64 1"),
        ["0.3333333333333333"]
    );
    assert_eq!(answer(&out, "call t length(str)->u64 \"two words\""), ["9"]);
    assert_eq!(answer(&out, "call t neg_i8(i8)->i8 -100"), ["100"]);
    assert_eq!(answer(&out, "call t bump(i32) 5"), ["counter is 5"]);
    assert!(out.contains("`h` was loaded already; use count 2"), "{out}");

    let heap = answer(&out, "heap");
    let bytes = |label: &str| -> u64 {
        heap.iter()
            .find_map(|l| l.strip_prefix(&format!("{label} ")))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no `{label}` in {heap:?}"))
    };
    // Three extensions: three TEXT pages at least, one each of the others for `types`.
    assert!(bytes("TEXT") >= 3 * 4096, "{heap:?}");
    assert_eq!(bytes("RODATA") % 4096, 0);
    assert!(bytes("BSS") >= 4096, "{heap:?}");
    assert_eq!(bytes("in use") + bytes("free"), bytes("arena"));

    let map = answer(&out, "map");
    assert!(map.iter().any(|l| l.starts_with("start end ")), "{map:?}");
    for (ty, owner) in [("TEXT", "h"), ("TEXT", "m"), ("TEXT", "t"), ("BSS", "t")] {
        assert!(
            map.iter()
                .any(|l| l.contains(" 4096 ") && l.ends_with(&format!(" {ty} {owner}"))),
            "{ty} of {owner} not in {map:?}"
        );
    }

    assert_eq!(answer(&out, "unload m"), ["unloaded `m`"]);
    let unloads: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("unloaded `h`") || l.starts_with("`h` stays loaded"))
        .collect();
    assert_eq!(unloads, ["`h` stays loaded; use count 1", "unloaded `h`"]);

    // After the unloads only `t` is left; `quit` ends the session before the last `list`.
    let lists: Vec<&str> = out.matches("elfext> list").collect();
    assert_eq!(lists.len(), 3, "{out}");
    assert!(out.trim_end().ends_with("elfext> quit"), "{out}");
    let last_list = out.rsplit("elfext> list").next().unwrap();
    assert!(last_list.contains("\n  t "), "{last_list}");
    assert!(!last_list.contains("\n  h "), "{last_list}");
}

#[test]
fn a_clean_session_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let types = run_data(dir.path(), "types", &[]);
    let o = shell(&format!(
        "load t {}\ncall t add(i32,i32)->i32 2 3\ncall t scale(f64)->f64 0.25\n",
        types.display()
    ));
    let out = succeeded(&o, "a clean session");
    assert!(o.stderr.is_empty());
    assert_eq!(answer(&out, "call t add(i32,i32)->i32 2 3"), ["5"]);
    assert_eq!(answer(&out, "call t scale(f64)->f64 0.25"), ["0.5"]);
}

#[test]
fn bad_files_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.o");
    std::fs::write(&garbage, b"\x7fELF but not really").unwrap();
    let o = shell(&format!(
        "load g {}\nload x {}\nload\nlist\n",
        garbage.display(),
        dir.path().join("absent.o").display()
    ));
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(lines[0].starts_with("error: load `g`: "), "{err}");
    assert!(
        lines[1].starts_with("error: cannot read ") && lines[1].contains("absent.o"),
        "{err}"
    );
    assert_eq!(lines[2], "error: usage: load NAME FILE...");
    assert_eq!(lines[3], "elfext: error: 3 commands failed");
    assert_eq!(answer(&out, "list"), ["no extensions loaded"]);
}
