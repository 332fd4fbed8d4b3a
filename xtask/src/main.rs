//! Project tasks: `cargo xtask <task>`.
//!
//! - `fixtures [DIR]`: build the fixture objects with the cross toolchains, link each with
//!   GNU ld at the addresses elfext chooses and write the reference images, into
//!   `tests/fixtures/` (or `DIR`). See `tests/fixtures/README.md`.
//! - `qemu [BOARD] [ARG]`: build the firmware in `firmware/` and run it under QEMU on
//!   `cortex-m4`, `rv32` or both (the default), with an optional argument (`fault-text`,
//!   `fault-call`).

use std::path::PathBuf;
use std::process::ExitCode;

use std::time::Duration;

use elfext_testkit::fixtures;
use elfext_testkit::qemu::{self, Board};

const USAGE: &str = "usage: cargo xtask fixtures [DIR]
       cargo xtask qemu [cortex-m4|rv32] [fault-text|fault-call]
  fixtures   regenerate tests/fixtures/ (or DIR): objects built with the cross
             toolchains and GNU ld's reference images
  qemu       build the firmware and run it under QEMU on one board or both
             (scripts/qemu.sh fetches QEMU when it is missing)";

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
        ["qemu", rest @ ..] => qemu_task(rest),
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

fn qemu_task(args: &[&str]) -> ExitCode {
    let (boards, rest) = match args.first().and_then(|a| Board::from_name(a)) {
        Some(b) => (vec![b], &args[1..]),
        None => (Board::ALL.to_vec(), args),
    };
    if rest.len() > 1 {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    }
    let mut ok = true;
    for board in boards {
        let Some(q) = qemu::find(board) else {
            eprintln!("no QEMU for {}: run scripts/qemu.sh", board.name());
            return ExitCode::FAILURE;
        };
        let fw = match qemu::build_firmware(board) {
            Ok(fw) => fw,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        println!("== {} ({})", board.name(), fw.display());
        let run = q.run(board, &fw, rest, Duration::from_secs(120));
        print!("{}", run.output);
        match run.status {
            Some(0) => {}
            Some(code) => {
                println!("== {} exited with status {code}", board.name());
                ok = false;
            }
            None => {
                println!("== {} timed out", board.name());
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
