//! Test and benchmark support for elfext.
//!
//! - [`build`] compiles extension sources from `extensions/` with a real compiler (gcc,
//!   clang or rustc) into a cache under the target directory and returns the object bytes.
//! - [`LowBuffer`] (elfext's own) copies an object into memory mapped in the low 2 GiB, where
//!   x86-64 code in the extension arena can reach it with 32-bit relocations, so persistent
//!   and writable in-place paths run natively.
//! - [`oracle`] links an object with elfext and with GNU ld at the same addresses.
//! - [`qemu`] builds the firmware in `firmware/` and runs it on a QEMU board.
//! - [`fixtures`] describes, generates and checks the committed objects and reference
//!   images under `tests/fixtures/`.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

pub mod fixtures;
pub mod oracle;
pub mod qemu;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

/// The `extensions/` folder.
pub fn extensions_dir() -> PathBuf {
    repo_root().join("extensions")
}

fn cache_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("ext-objects");
    std::fs::create_dir_all(&dir).expect("create object cache");
    dir
}

/// A compiler that builds extension objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compiler {
    /// The host `gcc`.
    Gcc,
    /// The host `clang`.
    Clang,
    /// `rustc` for `x86_64-unknown-linux-gnu`.
    Rustc,
    /// A gcc-compatible cross compiler, by command (`aarch64-linux-gnu-gcc`).
    Cross(&'static str),
}

impl Compiler {
    /// The command name.
    pub fn command(self) -> &'static str {
        match self {
            Compiler::Gcc => "gcc",
            Compiler::Clang => "clang",
            Compiler::Rustc => "rustc",
            Compiler::Cross(command) => command,
        }
    }

    /// Whether the compiler can be run here.
    pub fn available(self) -> bool {
        Command::new(self.command())
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    }
}

/// Compile `source` (relative to `extensions/`, or absolute) with `compiler` and `flags`
/// into an object and return its bytes. Results are cached by content and flags.
///
/// Panics with the compiler's output when compilation fails: a test cannot go on without
/// its object.
pub fn build(compiler: Compiler, source: &str, flags: &[&str]) -> Vec<u8> {
    let path = build_path(compiler, source, flags);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Like [`build`], returning the object's path.
pub fn build_path(compiler: Compiler, source: &str, flags: &[&str]) -> PathBuf {
    let src = if Path::new(source).is_absolute() {
        PathBuf::from(source)
    } else {
        extensions_dir().join(source)
    };
    let text = std::fs::read(&src).unwrap_or_else(|e| panic!("read {}: {e}", src.display()));
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (compiler, &text, flags).hash(&mut h);
    let stem = src.file_stem().and_then(|s| s.to_str()).unwrap_or("ext");
    let out = cache_dir().join(format!("{stem}-{:016x}.o", h.finish()));
    if out.exists() {
        return out;
    }
    // A unique temporary name per process and call, so parallel builds never collide.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = out.with_extension(format!("{}-{n}.tmp", std::process::id()));
    let mut cmd = Command::new(compiler.command());
    match compiler {
        Compiler::Gcc | Compiler::Clang | Compiler::Cross(_) => {
            cmd.arg("-c").args(flags).arg(&src).arg("-o").arg(&tmp);
        }
        Compiler::Rustc => {
            cmd.args([
                "--crate-type=lib",
                "--emit=obj",
                "-C",
                "panic=abort",
                "-C",
                "codegen-units=1",
            ])
            .args(flags)
            .arg(&src)
            .arg("-o")
            .arg(&tmp);
        }
    }
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", compiler.command()));
    if !output.status.success() {
        panic!(
            "{} {:?} {} failed:\n{}",
            compiler.command(),
            flags,
            src.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    std::fs::rename(&tmp, &out).expect("store object");
    out
}

pub use elfext::LowBuffer;
