//! Errors of the `elfext` command: each one prints as one line.

use std::process::ExitStatus;

/// The exit codes of `elfext` (also in the README and in `elfext --help`).
pub mod exit {
    /// Success (for `check`: the extension would link).
    pub const OK: u8 = 0;
    /// The command failed: unreadable or malformed input, a load or link error, a failed
    /// call, a failed build.
    pub const FAILED: u8 = 1;
    /// The command line is wrong (clap's own code for usage errors).
    pub const USAGE: u8 = 2;
    /// `check`: the extension would not link (missing symbols or unsupported relocations).
    pub const WOULD_NOT_LINK: u8 = 3;
    /// `run --target`: the board or QEMU failed (fault, timeout, QEMU not found).
    pub const TARGET: u8 = 4;
}

/// Everything that makes a command fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// No C compiler could be run.
    #[error("no C compiler found (tried {tried}); install gcc or clang, or name one with --cc")]
    NoCompiler {
        /// The commands tried, comma separated.
        tried: String,
    },
    /// The C compiler rejected a source file.
    #[error("`{command}` failed ({status})")]
    Compile {
        /// The command line that failed.
        command: String,
        /// How it ended.
        status: ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
    /// A file or memory operation of the host failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The elfext library refused an operation.
    #[error("{what}: {source}")]
    Elfext {
        /// What was being done.
        what: String,
        /// The library's error (boxed: `elfext::Error` is up to 128 bytes).
        source: Box<elfext::Error>,
    },
    /// A loaded extension did not behave as the demo expects.
    #[error("check failed: {0}")]
    Check(String),
    /// A wrong argument value found after parsing (a call signature, an address, ...).
    #[error("{0}")]
    Usage(String),
    /// `check` found reasons the extension would not link (already printed).
    #[error("{0}")]
    WouldNotLink(String),
    /// Running on a QEMU board failed.
    #[error("{0}")]
    Target(String),
    /// Any other failure, already phrased as one line (what, where, what to do).
    #[error("{0}")]
    Failed(String),
    /// The command cannot work on this host.
    #[cfg(not(unix))]
    #[error("{0}")]
    Unsupported(&'static str),
}

impl CliError {
    /// Wrap a library error with what was being done.
    pub fn elfext(what: impl Into<String>, source: elfext::Error) -> Self {
        CliError::Elfext {
            what: what.into(),
            source: Box::new(source),
        }
    }

    /// Wrap an OS error with what was being done.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        CliError::Io {
            what: what.into(),
            source,
        }
    }

    /// The process exit code for this error (see [`exit`]).
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::WouldNotLink(_) => exit::WOULD_NOT_LINK,
            CliError::Target(_) => exit::TARGET,
            _ => exit::FAILED,
        }
    }

    /// Longer output that belongs after the one-line message (a compiler's diagnostics).
    pub fn detail(&self) -> Option<&str> {
        match self {
            CliError::Compile { stderr, .. } if !stderr.trim().is_empty() => {
                Some(stderr.trim_end())
            }
            _ => None,
        }
    }
}
