//! The RAM plan of an object under each storage type, found by loading it with the library
//! into a [`TargetMemory`] window: which sections are copied, which are used in place, and
//! the heap bytes of regions, padding and metadata.

use elfext::{
    Arch, BufLoader, Exports, Granules, LoadReport, Placed, RegionKind, Registry, Storage,
    TargetMemory, TlsArea,
};
use serde::Serialize;

use super::elf::ObjectInfo;
use crate::error::CliError;

/// The three storage types, in the order the plans are shown.
pub const STORAGES: [Storage; 3] = [Storage::Temporary, Storage::Persistent, Storage::Writable];

/// The name of a storage type, as the command line and the JSON spell it.
pub fn storage_name(s: Storage) -> &'static str {
    match s {
        Storage::Temporary => "temporary",
        Storage::Persistent => "persistent",
        Storage::Writable => "writable",
    }
}

/// Protection granule of the regions, as given on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum GranuleArg {
    /// No rounding: regions packed byte-tight.
    None,
    /// ARMv8-M MPU: start and size multiples of 32 bytes.
    Mpu32,
    /// ARMv7-M MPU: power-of-two sizes, aligned to their size.
    MpuPow2,
    /// 4 KiB pages.
    Page4k,
}

impl GranuleArg {
    /// The library's granules for every region kind.
    pub fn granules(self) -> Granules {
        match self {
            GranuleArg::None => Granules::NONE,
            GranuleArg::Mpu32 => Granules::MPU32,
            GranuleArg::MpuPow2 => Granules::MPU_POW2,
            GranuleArg::Page4k => Granules::PAGES,
        }
    }

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            GranuleArg::None => "none",
            GranuleArg::Mpu32 => "mpu32",
            GranuleArg::MpuPow2 => "mpu-pow2",
            GranuleArg::Page4k => "page4k",
        }
    }
}

/// Parse an address or size: decimal or `0x` hexadecimal.
pub fn parse_number(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => t.parse(),
    };
    parsed.map_err(|_| format!("`{s}` is not a number (write it in decimal or as 0x...)"))
}

/// Bytes from the first placeholder address to the window's base.
pub const PLACEHOLDER_SPAN: u64 = 0x1_0000;

/// Exports that resolve every name of a list to a plausible address: the host functions and
/// data an extension calls sit just below the target window (`base - 64 KiB` on, 16 bytes
/// apart, in name order, with the Thumb bit set on ARM as for the firmware's Thumb
/// functions), so calls reach them directly and no veneer is counted that a real firmware
/// might not need. Names not in the list are not exported.
#[derive(Clone, Debug, Default)]
pub struct Placeholders {
    names: Vec<(Vec<u8>, u64)>,
}

impl Placeholders {
    /// Placeholders for `names` below `base`, for `arch`.
    pub fn new<'n>(names: impl IntoIterator<Item = &'n str>, base: u64, arch: Arch) -> Self {
        let mut names: Vec<Vec<u8>> = names.into_iter().map(|n| n.as_bytes().to_vec()).collect();
        names.sort();
        names.dedup();
        let thumb = u64::from(arch == Arch::Arm);
        let first = base.saturating_sub(PLACEHOLDER_SPAN);
        Placeholders {
            names: names
                .into_iter()
                .enumerate()
                .map(|(i, n)| {
                    (
                        n,
                        (first + 16 * (i as u64 % (PLACEHOLDER_SPAN / 16))) | thumb,
                    )
                })
                .collect(),
        }
    }

    /// Placeholders for every undefined symbol of `info`.
    pub fn for_object(info: &ObjectInfo, base: u64) -> Self {
        Self::new(
            info.undefined.iter().map(|u| u.name.as_str()),
            base,
            info.arch,
        )
    }
}

impl Exports for Placeholders {
    fn lookup(&self, name: &[u8]) -> Option<u64> {
        self.names
            .binary_search_by(|(n, _)| n.as_slice().cmp(name))
            .ok()
            .map(|i| self.names[i].1)
    }
}

/// The target window the object is linked into.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Window {
    /// Target address of the window.
    pub base: u64,
    /// Its size in bytes.
    pub size: u64,
    /// Target address of the object's buffer for persistent and writable loads (flash, or a
    /// RAM buffer): right after the window.
    pub buffer: u64,
    /// Protection granule of the regions.
    #[serde(serialize_with = "granule_name")]
    pub granule: GranuleArg,
}

fn granule_name<S: serde::Serializer>(g: &GranuleArg, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(g.name())
}

/// The largest target window the commands link into (the host allocates twice as much).
pub const MAX_WINDOW: u64 = 64 << 20;

/// Bytes the loaded sections of `info` take before rounding: sizes plus alignments.
pub fn needed_bytes(info: &ObjectInfo) -> u64 {
    info.sections
        .iter()
        .filter(|s| s.alloc)
        .map(|s| s.size.saturating_add(s.align.min(1 << 20)))
        .fold(0u64, u64::saturating_add)
}

/// Refuse objects whose sections could not fit in [`MAX_WINDOW`]; `what` names it.
pub fn check_size(info: &ObjectInfo, what: &str) -> Result<u64, CliError> {
    let raw = needed_bytes(info);
    if raw > MAX_WINDOW / 8 {
        return Err(CliError::Failed(format!(
            "{what}: its sections need {raw} bytes, more than the {} MiB this command plans for; the object may be damaged",
            (MAX_WINDOW / 8) >> 20
        )));
    }
    Ok(raw)
}

impl Window {
    /// A window at `base` big enough for `info` under any granule; `what` names the input.
    pub fn for_object(
        info: &ObjectInfo,
        base: u64,
        granule: GranuleArg,
        what: &str,
    ) -> Result<Self, CliError> {
        let raw = check_size(info, what)?;
        let size = (raw * 8 + (256 << 10))
            .next_power_of_two()
            .clamp(1 << 20, MAX_WINDOW);
        Ok(Window {
            base,
            size,
            buffer: base.saturating_add(size),
            granule,
        })
    }
}

/// Where one section went.
#[derive(Clone, Debug, Serialize)]
pub struct PlacedSection {
    /// Section index.
    pub index: u32,
    /// Section name.
    pub name: String,
    /// The region it belongs to.
    pub region: String,
    /// Target address (for `.tdata`/`.tbss`: offset from the thread pointer).
    pub addr: u64,
    /// Size in bytes.
    pub size: u64,
    /// Used in place in the object's buffer instead of copied.
    pub in_place: bool,
}

/// What loading under one storage type costs.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The storage type.
    pub storage: Storage,
    /// The library's report of the load.
    pub report: LoadReport,
    /// Where each loaded section went, by section index.
    pub placed: Vec<PlacedSection>,
}

/// A copy of an object at an address aligned for any section it holds.
struct Aligned {
    bytes: Vec<u8>,
    start: usize,
    len: usize,
}

impl Aligned {
    const ALIGN: usize = 4096;

    fn new(object: &[u8]) -> Self {
        let mut bytes = vec![0u8; object.len() + Self::ALIGN];
        let start = (Self::ALIGN - bytes.as_ptr() as usize % Self::ALIGN) % Self::ALIGN;
        bytes[start..start + object.len()].copy_from_slice(object);
        Aligned {
            bytes,
            start,
            len: object.len(),
        }
    }
    fn get(&self) -> &[u8] {
        &self.bytes[self.start..self.start + self.len]
    }
    fn get_mut(&mut self) -> &mut [u8] {
        &mut self.bytes[self.start..self.start + self.len]
    }
}

/// Load `object` for `arch` into a fresh `window` under `storage`, resolving its undefined
/// symbols through `exports`, and record where every section went.
pub fn load(
    object: &[u8],
    arch: Arch,
    exports: &(dyn Exports + Sync),
    window: &Window,
    storage: Storage,
) -> Result<Plan, elfext::Error> {
    let size = usize::try_from(window.size).map_err(|_| elfext::Error::TooLarge {
        what: "target window",
        value: window.size,
        limit: usize::MAX as u64,
    })?;
    let mut copy = Aligned::new(object);
    let memory = TargetMemory::new(window.base, size, window.granule.granules());
    let memory = match storage {
        Storage::Temporary => memory,
        _ => memory.with_flash(copy.get(), window.buffer),
    };
    // SAFETY: with `init: None` nothing is written to the area; it only gives thread-local
    // sections their offsets from the thread pointer.
    let registry = unsafe { Registry::for_arch(memory, exports, arch).with_tls(tls_area(arch)) };
    let mut placed = Vec::new();
    let mut trace = |p: Placed<'_>| {
        placed.push(PlacedSection {
            index: p.index,
            name: String::from_utf8_lossy(p.name).into_owned(),
            region: p.kind.to_string(),
            addr: p.addr,
            size: p.size,
            in_place: p.in_place,
        })
    };
    let report = match storage {
        Storage::Temporary => {
            registry.load_traced("ext", BufLoader::temporary(copy.get()), &mut trace)
        }
        Storage::Persistent => {
            registry.load_traced("ext", BufLoader::persistent(copy.get()), &mut trace)
        }
        Storage::Writable => {
            registry.load_traced("ext", BufLoader::writable(copy.get_mut()), &mut trace)
        }
    }?;
    registry.unload("ext")?;
    placed.sort_by_key(|p| p.index);
    Ok(Plan {
        storage,
        report,
        placed,
    })
}

/// Bytes of the thread-local area the plans give extensions.
pub const TLS_AREA: u64 = 64 << 10;

/// A thread-local area of [`TLS_AREA`] bytes at the offset from the thread pointer that
/// `arch`'s ABI uses (below `%fs` on x86-64, past the TCB on ARM and AArch64).
pub fn tls_area(arch: Arch) -> TlsArea {
    let tp_offset = match arch {
        Arch::X86_64 => -(TLS_AREA as i64),
        Arch::Arm => 8,
        Arch::Aarch64 => 16,
        _ => 0,
    };
    TlsArea {
        tp_offset,
        size: TLS_AREA,
        init: None,
    }
}

/// Region names in block order.
pub fn region_names() -> [String; 4] {
    RegionKind::REGIONS.map(|k| k.to_string())
}

/// Whether a load failed because elfext cannot link the object as it is (an unsupported
/// relocation type or feature, a value out of range), not because the object is malformed.
pub fn is_link_error(e: &elfext::Error) -> bool {
    use elfext::Error as E;
    matches!(
        e,
        E::UnsupportedRelocation { .. }
            | E::RelocationOverflow { .. }
            | E::RelocationMisaligned { .. }
            | E::BadInstruction { .. }
            | E::ExternalTls(_)
            | E::Unsupported { .. }
            | E::NoTlsArea { .. }
            | E::TlsAreaFull { .. }
            | E::MissingSymbols(_)
    )
}

/// The plans of `object` under every storage type, with placeholder exports; `what` names
/// the input in errors. `Ok(Err(why))` when elfext cannot link the object (see
/// [`is_link_error`]); an `Err` when the object is malformed.
pub fn all(
    object: &[u8],
    info: &ObjectInfo,
    window: &Window,
    what: &str,
) -> Result<Result<Vec<Plan>, String>, CliError> {
    let exports = Placeholders::for_object(info, window.base);
    let mut plans = Vec::new();
    for s in STORAGES {
        match load(object, info.arch, &exports, window, s) {
            Ok(p) => plans.push(p),
            Err(e) if is_link_error(&e) => return Ok(Err(e.to_string())),
            Err(e) => {
                return Err(CliError::elfext(
                    format!("{what}: loading it as {} storage failed", storage_name(s)),
                    e,
                ))
            }
        }
    }
    Ok(Ok(plans))
}
