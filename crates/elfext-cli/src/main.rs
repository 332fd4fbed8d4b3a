//! `elfext`: the command-line face of the elfext library.
//!
//! Today it has one subcommand, `demo`, which builds a few example extensions with the host C
//! compiler and walks through what elfext does with them. Later subcommands (inspect, check,
//! run, shell, ...) slot into [`Command`].
#![deny(unsafe_op_in_unsafe_fn)]

#[cfg(unix)]
mod demo;
mod error;
#[cfg(unix)]
mod table;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use error::CliError;

/// Load, link and run ELF extensions: relocatable objects (`.o`) linked into a running
/// program.
#[derive(Debug, Parser)]
#[command(
    name = "elfext",
    version,
    after_help = "Example:\n  elfext demo          build the example extensions with cc, then load, link, run and\n                       unload them under every storage type and memory backend\n\n  From a checkout:     cargo run --release -p elfext-cli -- demo"
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("elfext: error: {e}");
            if let Some(detail) = e.detail() {
                eprintln!("{detail}");
            }
            ExitCode::FAILURE
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
