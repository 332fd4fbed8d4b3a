//! `elfext shell`: an interactive extension shell, like an RTOS's `llext` shell commands.
//!
//! Extensions are loaded natively, as `elfext run` loads them. On a terminal the shell reads
//! lines with editing, history and completion (of commands, extension names, exported
//! symbols and file names); otherwise it reads commands line by line from stdin and echoes
//! each one before its output, so a script can be piped in.

#[cfg(unix)]
mod session;

use std::path::PathBuf;

use crate::error::CliError;

/// Options of `elfext shell`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example session:
  elfext> load m mathlib.o
  loaded `m`: 2 exports, 8256 heap bytes
  elfext> call m add(i32,i32)->i32 2 3
  5
  elfext> list
  elfext> unload m

Commands: load NAME FILE..., unload NAME, list, symbols NAME, call NAME FN(TYPES)->RET ARGS...,
heap, map, help, quit. Signatures are those of `elfext run --call`.

On a terminal: line editing, history (kept in --history FILE if given) and Tab completion of
commands, extension names, symbols and file names. Otherwise commands are read from stdin one
per line (`#` starts a comment) and echoed after the prompt, so a script can be piped in; a
failing command prints one error line on stderr and the session goes on.

Exit codes: 0 when every command succeeded, 1 when any failed (also when piped), 2 for a
wrong command line of `elfext shell` itself.

  printf 'load m m.o\\ncall m add(i32,i32)->i32 2 3\\n' | elfext shell")]
pub struct Args {
    /// Keep the command history in FILE (read at start, written at exit; terminal only).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
}

/// Run `elfext shell`.
#[cfg(unix)]
pub fn run(args: Args) -> Result<(), CliError> {
    use std::io::IsTerminal;

    let mut session = session::Session::new()?;
    let failed = if std::io::stdin().is_terminal() {
        interactive::run(&mut session, args.history.as_deref())?
    } else {
        piped(&mut session)?
    };
    let at_end = session.unload_all();
    if let Err(e) = at_end {
        eprintln!("error: {e}");
        return Err(CliError::Failed(format!(
            "{} command(s) failed, and unloading at the end failed",
            failed
        )));
    }
    match failed {
        0 => Ok(()),
        1 => Err(CliError::Failed("1 command failed".into())),
        n => Err(CliError::Failed(format!("{n} commands failed"))),
    }
}

/// Run `elfext shell`.
#[cfg(not(unix))]
pub fn run(_args: Args) -> Result<(), CliError> {
    Err(CliError::Unsupported(
        "the shell loads extensions natively and needs a Unix host (x86-64 or AArch64)",
    ))
}

/// The prompt.
#[cfg(unix)]
const PROMPT: &str = "elfext> ";

/// Run one line; print its error, if any, as one line. Returns the flow and whether it
/// failed.
#[cfg(unix)]
fn line(session: &mut session::Session, line: &str) -> (session::Flow, bool) {
    use std::io::Write;

    let text = line.trim();
    if text.is_empty() || text.starts_with('#') {
        return (session::Flow::Continue, false);
    }
    let result = session::words(text).and_then(|w| session.execute(&w));
    let _ = std::io::stdout().flush();
    match result {
        Ok(flow) => (flow, false),
        Err(e) => {
            eprintln!("error: {e}");
            (session::Flow::Continue, true)
        }
    }
}

/// Read commands from a non-terminal stdin, echoing each. Returns the number that failed.
#[cfg(unix)]
fn piped(session: &mut session::Session) -> Result<usize, CliError> {
    use std::io::BufRead;

    let mut failed = 0;
    for text in std::io::stdin().lock().lines() {
        let text = text.map_err(|e| CliError::io("read a command from stdin", e))?;
        println!("{PROMPT}{text}");
        let (flow, bad) = line(session, &text);
        failed += usize::from(bad);
        if flow == session::Flow::Quit {
            break;
        }
    }
    Ok(failed)
}

#[cfg(unix)]
mod interactive {
    //! The terminal side: rustyline with history and completion.

    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::path::Path;
    use std::rc::Rc;

    use rustyline::completion::{Completer, FilenameCompleter, Pair};
    use rustyline::error::ReadlineError;
    use rustyline::history::DefaultHistory;
    use rustyline::{Context, Editor, Helper, Highlighter, Hinter, Validator};

    use super::session::{Flow, Session, COMMANDS};
    use super::{line, PROMPT};
    use crate::error::CliError;

    /// Completion of commands, extension names, symbols and file names.
    #[derive(Helper, Highlighter, Hinter, Validator)]
    struct ShellHelper {
        /// Loaded extensions and their exported symbols, refreshed after each command.
        names: Rc<RefCell<BTreeMap<String, Vec<String>>>>,
        files: FilenameCompleter,
    }

    fn pairs<'a>(prefix: &str, names: impl Iterator<Item = &'a str>) -> Vec<Pair> {
        names
            .filter(|n| n.starts_with(prefix))
            .map(|n| Pair {
                display: n.to_string(),
                replacement: format!("{n} "),
            })
            .collect()
    }

    impl Completer for ShellHelper {
        type Candidate = Pair;

        fn complete(
            &self,
            text: &str,
            pos: usize,
            ctx: &Context<'_>,
        ) -> rustyline::Result<(usize, Vec<Pair>)> {
            let before = &text[..pos];
            let start = before.rfind(char::is_whitespace).map_or(0, |i| {
                i + before[i..].chars().next().map_or(1, char::len_utf8)
            });
            let prefix = &before[start..];
            let done: Vec<&str> = before[..start].split_whitespace().collect();
            let names = self.names.borrow();
            let candidates = match done.as_slice() {
                [] => pairs(
                    prefix,
                    COMMANDS.iter().map(|(c, _, _)| *c).filter(|c| *c != "exit"),
                ),
                ["unload" | "symbols" | "call"] => pairs(prefix, names.keys().map(String::as_str)),
                ["load", _, ..] => return self.files.complete(text, pos, ctx),
                ["call", ext] => names
                    .get(*ext)
                    .map(|symbols| {
                        symbols
                            .iter()
                            .filter(|s| s.starts_with(prefix))
                            .map(|s| Pair {
                                display: s.clone(),
                                replacement: format!("{s}("),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            Ok((start, candidates))
        }
    }

    /// Read and run commands until `quit` or end of input. Returns the number that failed.
    pub fn run(session: &mut Session, history: Option<&Path>) -> Result<usize, CliError> {
        let readline = |e: ReadlineError| CliError::Failed(format!("terminal: {e}"));
        let names = Rc::new(RefCell::new(session.names()));
        let mut editor: Editor<ShellHelper, DefaultHistory> = Editor::new().map_err(readline)?;
        editor.set_helper(Some(ShellHelper {
            names: Rc::clone(&names),
            files: FilenameCompleter::new(),
        }));
        if let Some(path) = history {
            // A history file that does not exist yet is created at exit.
            let _ = editor.load_history(path);
        }
        println!("elfext shell: type `help` for the commands, `quit` or Ctrl-D to leave");
        let mut failed = 0;
        loop {
            match editor.readline(PROMPT) {
                Ok(text) => {
                    if !text.trim().is_empty() {
                        let _ = editor.add_history_entry(text.as_str());
                    }
                    let (flow, bad) = line(session, &text);
                    failed += usize::from(bad);
                    *names.borrow_mut() = session.names();
                    if flow == Flow::Quit {
                        break;
                    }
                }
                Err(ReadlineError::Interrupted) => continue,
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(readline(e)),
            }
        }
        if let Some(path) = history {
            editor
                .save_history(path)
                .map_err(|e| CliError::Failed(format!("write history {}: {e}", path.display())))?;
        }
        Ok(failed)
    }
}
