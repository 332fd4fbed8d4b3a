//! `elfext inspect`: what an extension contains (architecture, sections, relocations,
//! symbols) and what it costs in RAM under each storage type, found by loading it with the
//! library into a target window.

pub mod elf;
pub mod plan;

use std::path::PathBuf;

use serde::Serialize;

use crate::error::CliError;
use crate::table::{load_report_cells, Align, Table};
use elf::ObjectInfo;
use plan::{storage_name, GranuleArg, Plan, Window};

/// Options of `elfext inspect`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Example:
  elfext inspect hello.o                      tables: sections, relocations, symbols, RAM plan
  elfext inspect --granule mpu32 app.o libm.a the plan with 32-byte MPU regions
  elfext inspect --json hello.o | jq .plan    the same as JSON, for tools

The plan loads the object with elfext into a target window at --base (nothing runs).
Undefined symbols are resolved to placeholder addresses just below the window
(--base - 64 KiB on, 16 bytes apart in name order, Thumb bit set on ARM), so the
load succeeds; `elfext check` tells whether a real firmware exports them.")]
pub struct Args {
    /// Objects and static archives, combined into one extension.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long)]
    json: bool,
    /// Protection granule the regions are rounded to.
    #[arg(long, value_enum, default_value = "none")]
    granule: GranuleArg,
    /// Target address of the window the extension is loaded into.
    #[arg(long, value_name = "ADDR", default_value = "0x20000000", value_parser = plan::parse_number)]
    base: u64,
}

/// A name for the inputs in messages.
pub fn describe(files: &[PathBuf]) -> String {
    files
        .iter()
        .map(|f| f.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Write `text` to stdout. A reader that stops early (`| head`) is not an error.
pub fn emit(text: &str) -> Result<(), CliError> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(CliError::io("write to standard output", e))
        }
        _ => Ok(()),
    }
}

/// Run `elfext inspect`.
pub fn run(args: Args) -> Result<(), CliError> {
    let what = describe(&args.files);
    let object = crate::inputs::read(&args.files, &[])?;
    let info = elf::read(&object, &what)?;
    let window = Window::for_object(&info, args.base, args.granule, &what)?;
    let (plans, plan_error) = match plan::all(&object, &info, &window, &what)? {
        Ok(plans) => (plans, None),
        Err(why) => (Vec::new(), Some(why)),
    };
    let plan_error = plan_error.as_deref();
    if args.json {
        let json =
            serde_json::to_string_pretty(&to_json(&what, &info, &window, &plans, plan_error))
                .map_err(|e| CliError::Failed(format!("cannot write JSON: {e}")))?;
        emit(&format!("{json}\n"))?;
    } else {
        emit(&tables(&what, &info, &window, &plans, plan_error))?;
    }
    Ok(())
}

#[derive(Serialize)]
struct Json<'a> {
    input: &'a str,
    arch: String,
    elf_class: u8,
    size: u64,
    sections: Vec<JsonSection<'a>>,
    relocations: &'a [elf::RelocCount],
    undefined: &'a [elf::Undefined],
    exported: &'a [elf::Exported],
    window: &'a Window,
    plan: Vec<JsonPlan<'a>>,
    /// Why there is no plan: elfext cannot link the object as it is.
    plan_error: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonSection<'a> {
    #[serde(flatten)]
    section: &'a elf::SectionInfo,
    /// The region it lands in, when it is loaded.
    region: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonPlan<'a> {
    storage: &'static str,
    /// TEXT, RODATA, DATA, BSS bytes in the block (rounded to the granule).
    regions: std::collections::BTreeMap<String, u64>,
    padding: u64,
    metadata: u64,
    heap_bytes: u64,
    copied: u64,
    in_place: u64,
    relocations: u64,
    sections: &'a [plan::PlacedSection],
}

/// The region of section `index`, from the first plan that placed it.
fn region_of(plans: &[Plan], index: u32) -> Option<&str> {
    plans
        .iter()
        .flat_map(|p| p.placed.iter())
        .find(|s| s.index == index)
        .map(|s| s.region.as_str())
}

fn to_json<'a>(
    what: &'a str,
    info: &'a ObjectInfo,
    window: &'a Window,
    plans: &'a [Plan],
    plan_error: Option<&'a str>,
) -> Json<'a> {
    Json {
        input: what,
        arch: info.arch.to_string(),
        elf_class: if info.arch.is_64() { 64 } else { 32 },
        size: info.size,
        sections: info
            .sections
            .iter()
            .map(|s| JsonSection {
                section: s,
                region: region_of(plans, s.index),
            })
            .collect(),
        relocations: &info.relocations,
        undefined: &info.undefined,
        exported: &info.exported,
        window,
        plan: plans
            .iter()
            .map(|p| JsonPlan {
                storage: storage_name(p.storage),
                regions: plan::region_names()
                    .into_iter()
                    .zip(p.report.regions)
                    .collect(),
                padding: p.report.padding,
                metadata: p.report.metadata,
                heap_bytes: p.report.heap_bytes(),
                copied: p.report.copied,
                in_place: p.report.in_place,
                relocations: p.report.relocations,
                sections: &p.placed,
            })
            .collect(),
        plan_error,
    }
}

fn heading(out: &mut String, title: &str) {
    out.push('\n');
    out.push_str(title);
    out.push('\n');
}

fn tables(
    what: &str,
    info: &ObjectInfo,
    window: &Window,
    plans: &[Plan],
    plan_error: Option<&str>,
) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{what}: ELF{} relocatable object for {}, {} bytes",
        if info.arch.is_64() { 64 } else { 32 },
        info.arch,
        info.size
    );

    heading(
        &mut out,
        "Sections (where each lands, and whether it is copied or used in place)",
    );
    let mut t = Table::new(&[
        ("#", Align::Right),
        ("name", Align::Left),
        ("type", Align::Left),
        ("flags", Align::Left),
        ("size", Align::Right),
        ("align", Align::Right),
        ("relocs", Align::Right),
        ("region", Align::Left),
        ("temporary", Align::Left),
        ("persistent", Align::Left),
        ("writable", Align::Left),
    ]);
    for s in &info.sections {
        let mut cells = vec![
            s.index.to_string(),
            s.name.clone(),
            s.ty.clone(),
            s.flags.clone(),
            s.size.to_string(),
            s.align.to_string(),
            s.relocations.to_string(),
            region_of(plans, s.index).unwrap_or("-").to_string(),
        ];
        for p in plans {
            cells.push(match p.placed.iter().find(|x| x.index == s.index) {
                Some(x) if x.in_place => "in place".into(),
                Some(_) => "copied".into(),
                None => "-".into(),
            });
        }
        t.row(cells);
    }
    out.push_str(&t.to_string());

    heading(&mut out, "Relocations by type");
    if info.relocations.is_empty() {
        out.push_str("  none\n");
    } else {
        let mut t = Table::new(&[
            ("type", Align::Left),
            ("number", Align::Right),
            ("count", Align::Right),
            ("elfext", Align::Left),
            ("first at", Align::Left),
        ]);
        for r in &info.relocations {
            t.row([
                r.name.clone(),
                r.raw.to_string(),
                r.count.to_string(),
                if r.supported {
                    "supported"
                } else {
                    "NOT SUPPORTED"
                }
                .into(),
                r.first.clone(),
            ]);
        }
        out.push_str(&t.to_string());
    }

    heading(
        &mut out,
        &format!(
            "Undefined symbols ({}): the firmware must export them",
            info.undefined.len()
        ),
    );
    if info.undefined.is_empty() {
        out.push_str("  none\n");
    } else {
        let mut t = Table::new(&[
            ("name", Align::Left),
            ("binding", Align::Left),
            ("used by", Align::Left),
        ]);
        for u in &info.undefined {
            t.row([
                u.name.clone(),
                if u.weak { "weak" } else { "global" }.into(),
                if u.referenced {
                    "relocations"
                } else {
                    "nothing (not needed)"
                }
                .into(),
            ]);
        }
        out.push_str(&t.to_string());
    }

    heading(
        &mut out,
        &format!("Exported symbols ({})", info.exported.len()),
    );
    if info.exported.is_empty() {
        out.push_str("  none\n");
    } else {
        let mut t = Table::new(&[
            ("name", Align::Left),
            ("kind", Align::Left),
            ("section", Align::Left),
            ("value", Align::Right),
            ("size", Align::Right),
        ]);
        for e in &info.exported {
            t.row([
                e.name.clone(),
                e.kind.to_string(),
                e.section.clone(),
                format!("{:#x}", e.value),
                e.size.to_string(),
            ]);
        }
        out.push_str(&t.to_string());
    }

    heading(
        &mut out,
        &format!(
            "RAM plan per storage type (bytes; window {:#x}, {} KiB, granule {})",
            window.base,
            window.size >> 10,
            window.granule.name()
        ),
    );
    if let Some(why) = plan_error {
        let _ = writeln!(
            out,
            "  none: elfext cannot link it as it is: {why}\n  (`elfext check` lists every reason)"
        );
        return out;
    }
    let mut t = Table::load_reports(
        "storage",
        &[
            ("copied", Align::Right),
            ("in place", Align::Right),
            ("relocs", Align::Right),
        ],
    );
    for p in plans {
        let r = &p.report;
        let mut cells = load_report_cells(storage_name(p.storage), r);
        cells.extend([r.copied, r.in_place, r.relocations].map(|n| n.to_string()));
        t.row(cells);
    }
    out.push_str(&t.to_string());
    out.push_str(
        "  heap = regions + padding + metadata; copied and in place count section bytes.\n  \
         padding: bytes between regions lost to alignment and the protection granule.\n",
    );
    out
}
