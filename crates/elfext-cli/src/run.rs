//! `elfext run`: load an extension natively and call one of its functions.
//!
//! The inputs are combined into one extension by [`inputs::read`], with the called function
//! counted as needed (so archive members defining it, and what they need, are pulled in).
//! The extension is loaded into a [`Registry`](elfext::Registry) over
//! [`HostMemory`](elfext::HostMemory), linked against the host's C library, its
//! constructors run, the function called with the given arguments, and the return value
//! printed alone on the last line of stdout. With `--target`, [`crate::target::run`] does the
//! same on a QEMU board.

#[cfg(unix)]
pub mod ffi;
#[cfg(unix)]
pub mod native;

use std::path::{Path, PathBuf};

use crate::call::{self, Arg, CallSpec};
use crate::error::CliError;
use crate::inputs;

/// Options of `elfext run`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Examples:
  elfext run add.o --call 'add(i32,i32)->i32' 2 3
  elfext run scale.o --call 'scale(f64)->f64' 0.5
  elfext run strings.o --call 'len(str)->u64' hello
  elfext run libfoo.a --call 'foo(i32)->i32' 1     pulls foo and what it needs from the archive
  elfext run --target cortex-m4 add.o --call 'add(i32,i32)->i32' 2 3    on QEMU mps2-an386

Types: i8 i16 i32 i64 u8 u16 u32 u64 (decimal, negative or 0x hex), f32 f64, ptr (an address,
0x... or null), str (passed as a pointer to a NUL-terminated copy); void as a return type, and
`->RET` may be left out for void. The return value is printed alone on the last line of stdout
(floats with full precision; a str return prints the string), after anything the function
printed; a void function prints nothing more. The host's C library functions are available to the extension.

Native calls take up to 6 integer/pointer/str and 8 float arguments (x86-64 and AArch64 Unix);
printf-style variadic functions can be called with f64 (not f32) variadic arguments. The
function must really have the signature given: a wrong one calls it with wrong values.

Exit codes: 0 the call returned, 1 the inputs could not be read, loaded or linked, or the
function is missing or crashed, 2 wrong command line, signature or argument, 4 (--target) the
board or QEMU failed.")]
pub struct Args {
    /// Objects (`.o`) and static archives (`.a`) combined into the extension (before --call).
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// The function to call, `NAME(TYPE,...)->RET`, followed by its arguments.
    #[arg(
        long,
        required = true,
        num_args = 1..,
        allow_negative_numbers = true,
        value_name = "SIGNATURE [ARGS]"
    )]
    call: Vec<String>,
    /// Run on a QEMU board instead of natively.
    #[arg(long, value_name = "BOARD")]
    target: Option<crate::target::Board>,
}

/// Run `elfext run`.
pub fn run(args: Args) -> Result<(), CliError> {
    let (signature, values) = args
        .call
        .split_first()
        .ok_or_else(|| CliError::Usage("--call needs a signature".into()))?;
    let spec = call::parse_spec(signature)?;
    let values = call::parse_args(&spec, values)?;
    // Arguments the native call cannot pass are a usage error, found before any loading.
    #[cfg(unix)]
    if args.target.is_none() {
        ffi::classify(&values)?;
    }
    // An image from `elfext prelink` runs natively where it was prelinked to run.
    if let Some(image) = crate::prelink::image_input(&args.files)? {
        let name = extension_name(&args.files[0]);
        let result =
            crate::prelink::run_image(&name, &image, args.target.is_some(), &spec, &values)?;
        if spec.ret != crate::call::Ty::Void {
            println!("{result}");
        }
        return Ok(());
    }
    let object = inputs::read(&args.files, &[spec.name.as_str()])?;
    let result = match args.target {
        Some(board) => crate::target::run(
            board,
            &extension_name(&args.files[0]),
            &object,
            &spec,
            &values,
        )?,
        None => run_object(&extension_name(&args.files[0]), &object, &spec, &values)?,
    };
    // A void function has no value to print: its own output, if any, is all there is.
    if spec.ret != crate::call::Ty::Void {
        println!("{result}");
    }
    Ok(())
}

/// The extension's name: the first input's file name without its extension.
fn extension_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "extension".to_string())
}

/// Load `object` natively as extension `name`, call `spec` with `values`, unload it, and
/// return the formatted result.
#[cfg(unix)]
pub fn run_object(
    name: &str,
    object: &[u8],
    spec: &CallSpec,
    values: &[Arg],
) -> Result<String, CliError> {
    let registry = native::registry()?;
    native::load(&registry, name, object)?;
    let result = native::call(&registry, name, spec, values);
    let unloaded = native::unload(&registry, name);
    let result = result?;
    unloaded?;
    Ok(result)
}

/// Load `object` natively as extension `name`, call `spec` with `values`, unload it, and
/// return the formatted result.
#[cfg(not(unix))]
pub fn run_object(
    _name: &str,
    _object: &[u8],
    _spec: &CallSpec,
    _values: &[Arg],
) -> Result<String, CliError> {
    Err(CliError::Unsupported(
        "native runs need a Unix host (x86-64 or AArch64); use --target to run on a QEMU board",
    ))
}
