//! Project tasks: `cargo xtask <task>`.
//!
//! - `fixtures [DIR]`: build the fixture objects with the cross toolchains, link each with
//!   GNU ld at the addresses elfext chooses and write the reference images, into
//!   `tests/fixtures/` (or `DIR`). See `tests/fixtures/README.md`.

use std::path::PathBuf;
use std::process::ExitCode;

use elfext_testkit::fixtures;

const USAGE: &str = "usage: cargo xtask fixtures [DIR]
  fixtures   regenerate tests/fixtures/ (or DIR): objects built with the cross
             toolchains and GNU ld's reference images";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["fixtures"] => fixtures_task(fixtures::fixtures_dir()),
        ["fixtures", dir] => fixtures_task(PathBuf::from(dir)),
        ["help" | "-h" | "--help"] => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn fixtures_task(root: PathBuf) -> ExitCode {
    match fixtures::generate(&root) {
        Ok(skipped) if skipped.is_empty() => {
            println!(
                "wrote {} fixtures to {}",
                fixtures::all().len(),
                root.display()
            );
            ExitCode::SUCCESS
        }
        Ok(skipped) => {
            eprintln!(
                "no toolchain for {}: install it (scripts/test.sh does) and run again",
                skipped.join(", ")
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
