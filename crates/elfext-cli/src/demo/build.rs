//! Building the example extensions: write the embedded C sources to a temporary directory and
//! compile each one into a relocatable object with the host C compiler.

use std::path::Path;
use std::process::Command;

use crate::error::CliError;

/// One example extension: its name, its C source and, once built, its object.
pub struct Example {
    /// The name it is loaded under (the source's file stem).
    pub name: &'static str,
    /// What it shows.
    pub about: &'static str,
    /// One function it exports, to show where its code ended up.
    pub entry: &'static str,
    /// The C source.
    pub source: &'static str,
    /// The compiled relocatable object.
    pub object: Vec<u8>,
}

/// The examples, in load order: `stats` links against `mathlib`, so it comes after it.
/// (name, what it shows, an exported function, source)
const SOURCES: [(&str, &str, &str, &str); 4] = [
    (
        "greet",
        "calls the host's host_print",
        "greet",
        include_str!("../../demo/greet.c"),
    ),
    (
        "counter",
        "DATA, BSS, constructor and destructor",
        "counter_next",
        include_str!("../../demo/counter.c"),
    ),
    (
        "mathlib",
        "exports square and fib",
        "square",
        include_str!("../../demo/mathlib.c"),
    ),
    (
        "stats",
        "calls mathlib's square",
        "sum_squares",
        include_str!("../../demo/stats.c"),
    ),
];

/// Flags every example is compiled with.
pub const CFLAGS: [&str; 3] = ["-c", "-O2", "-fPIC"];

/// Compilers tried, in order, when none is named.
const CANDIDATES: [&str; 3] = ["cc", "gcc", "clang"];

/// A C compiler that answered `--version`.
pub struct Compiler {
    /// The command as given (`$CC` may carry arguments, e.g. `ccache gcc`).
    pub spec: String,
    /// The first line of its `--version`.
    pub version: String,
}

impl Compiler {
    /// A command running the compiler with its own arguments, if any.
    fn command(&self) -> Command {
        let mut words = self.spec.split_whitespace();
        let mut cmd = Command::new(words.next().unwrap_or_default());
        cmd.args(words);
        cmd
    }
}

fn probe(spec: &str) -> Option<Compiler> {
    let mut compiler = Compiler {
        spec: spec.trim().to_string(),
        version: String::new(),
    };
    let out = compiler.command().arg("--version").output().ok()?;
    if !out.status.success() {
        return None;
    }
    compiler.version = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    Some(compiler)
}

/// Find the compiler to use: `wanted` if given, else `$CC`, else the first of cc, gcc, clang.
pub fn find_compiler(wanted: Option<&str>) -> Result<Compiler, CliError> {
    let from_env = std::env::var("CC").ok().filter(|c| !c.trim().is_empty());
    let tried: Vec<String> = match (wanted, from_env) {
        (Some(w), _) => vec![w.to_string()],
        (None, Some(env)) => vec![env],
        (None, None) => CANDIDATES.iter().map(|c| c.to_string()).collect(),
    };
    tried
        .iter()
        .find_map(|c| probe(c))
        .ok_or_else(|| CliError::NoCompiler {
            tried: tried.join(", "),
        })
}

/// Write every example's source into `dir` and compile it there.
pub fn build_all(compiler: &Compiler, dir: &Path) -> Result<Vec<Example>, CliError> {
    SOURCES
        .iter()
        .map(|&(name, about, entry, source)| {
            let c_path = dir.join(format!("{name}.c"));
            let o_path = dir.join(format!("{name}.o"));
            std::fs::write(&c_path, source)
                .map_err(|e| CliError::io(format!("write {}", c_path.display()), e))?;
            let mut cmd = compiler.command();
            cmd.args(CFLAGS).arg(&c_path).arg("-o").arg(&o_path);
            let shown = format!(
                "{} {} {name}.c -o {name}.o",
                compiler.spec,
                CFLAGS.join(" ")
            );
            let out = cmd
                .output()
                .map_err(|e| CliError::io(format!("run `{shown}`"), e))?;
            if !out.status.success() {
                return Err(CliError::Compile {
                    command: shown,
                    status: out.status,
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                });
            }
            let object = std::fs::read(&o_path)
                .map_err(|e| CliError::io(format!("read {}", o_path.display()), e))?;
            Ok(Example {
                name,
                about,
                entry,
                source,
                object,
            })
        })
        .collect()
}
