//! Errors of the `elfext` command: each one prints as one line.

use std::process::ExitStatus;

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
