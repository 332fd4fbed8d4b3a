//! `elfext`: the command-line face of the elfext library.
//!
//! Each subcommand lives in its own module: `inspect`, `check`, `prelink`, `run`, `shell`,
//! `map` and `demo`. Inputs (objects and static archives, combined into one extension) are
//! read by [`inputs`]. Exit codes are listed in [`error::exit`].
#![deny(unsafe_op_in_unsafe_fn)]

mod call;
mod check;
#[cfg(unix)]
mod demo;
mod error;
mod inputs;
mod inspect;
mod mapcmd;
mod prelink;
mod render;
mod run;
mod shell;
mod table;
mod target;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use error::CliError;

/// Load, link and run ELF extensions: relocatable objects (`.o`) linked into a running
/// program.
#[derive(Debug, Parser)]
#[command(
    name = "elfext",
    version,
    after_help = "Examples:\n  elfext demo                                  build example extensions with cc, then load, link,\n                                               run and unload them (from a checkout:\n                                               cargo run --release -p elfext-cli -- demo)\n  elfext inspect ext.o                         sections, relocations, symbols, RAM per storage type\n  elfext check --exports firmware.elf ext.o    would it link against this firmware?\n  elfext run ext.o libm.a --call 'scale(f64)->f64' 0.5\n  elfext run ext.o --target cortex-m4 --call 'add(i32,i32)->i32' 2 3\n  elfext prelink --exports fw.elf --text 0x08040000 --data 0x20010000 ext.o -o ext.img\n  elfext map --svg map.svg a.o b.o\n  elfext shell\n\nFILE... is any number of relocatable objects and static archives (.a), linked into one\nextension; archive members are pulled when they define a symbol still undefined.\n\nExit status:\n  0  success (check: the extension would link)\n  1  the command failed: unreadable or malformed input, load or link error, failed call\n  2  wrong command line, call signature or argument value\n  3  check: the extension would not link\n  4  run --target: QEMU or the board failed (fault, time limit, QEMU not found)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Build example extensions with the host C compiler and show what elfext does with them.
    #[command(
        after_help = "Example:\n  elfext demo              use cc, gcc or clang, whichever is found first\n  elfext demo --cc clang   use clang\n\nThe demo needs a C compiler (gcc or clang) and an x86-64 Linux host to run the code it loads."
    )]
    Demo(DemoArgs),
    /// Show what an extension contains and what it will cost in RAM under each storage type.
    Inspect(inspect::Args),
    /// Tell whether an extension would link against a firmware's exports.
    Check(check::Args),
    /// Link an extension for fixed addresses into an image that runs in place from flash.
    Prelink(prelink::Args),
    /// Load an extension and call one of its functions, natively or on a QEMU board.
    Run(run::Args),
    /// An interactive extension shell: load, unload, list, call.
    Shell(shell::Args),
    /// Draw the memory map after loading extensions (SVG or coloured text).
    Map(mapcmd::Args),
}

/// Options of `elfext demo`.
#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// C compiler to build the examples with [default: $CC, else cc, gcc or clang].
    #[arg(long, value_name = "COMPILER")]
    cc: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => run_demo(args),
        Command::Inspect(args) => inspect::run(args),
        Command::Check(args) => check::run(args),
        Command::Prelink(args) => prelink::run(args),
        Command::Run(args) => run::run(args),
        Command::Shell(args) => shell::run(args),
        Command::Map(args) => mapcmd::run(args),
    };
    match result {
        Ok(()) => ExitCode::from(error::exit::OK),
        Err(e) => {
            eprintln!("elfext: error: {e}");
            if let Some(detail) = e.detail() {
                eprintln!("{detail}");
            }
            ExitCode::from(e.exit_code())
        }
    }
}

#[cfg(unix)]
fn run_demo(args: DemoArgs) -> Result<(), CliError> {
    demo::run(args.cc.as_deref())
}

#[cfg(not(unix))]
fn run_demo(_args: DemoArgs) -> Result<(), CliError> {
    Err(CliError::Unsupported(
        "the demo runs extensions natively and needs a Unix host (Linux x86-64)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }
}
