//! Shared support for the native x86-64 end-to-end tests: the host's export table, the
//! compiler configurations every extension is built with, the storage types every object
//! is loaded through, a model of what each storage type must copy, and small ELF readers
//! and patchers for hand-made bad input.
//!
//! Not every test file uses every helper.
#![allow(dead_code)]

use std::cell::RefCell;
use std::ffi::{c_char, c_void, CStr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, Once};

use elfext::{
    exports, BufLoader, Error, FileLoader, HostMemory, InPlace, IoLoader, LoadReport, Loader,
    Registry, Storage,
};
use elfext_testkit::{Compiler, LowBuffer};
use object::elf;
use object::read::elf::SectionHeader as _;
use object::LittleEndian as LE;

// ---------------------------------------------------------------------------------------
// The host program: what extensions may link against.
// ---------------------------------------------------------------------------------------

thread_local! {
    static PRINTED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static RECORDED: RefCell<Vec<i32>> = const { RefCell::new(Vec::new()) };
}

/// Host export: "prints" a C string (kept per thread for the test to inspect); returns its
/// length.
pub extern "C" fn host_print(msg: *const c_char) -> i32 {
    // SAFETY: extensions pass NUL-terminated strings.
    let s = unsafe { CStr::from_ptr(msg) }
        .to_string_lossy()
        .into_owned();
    let len = s.len() as i32;
    PRINTED.with(|p| p.borrow_mut().push(s));
    len
}

/// Host export: records a code (kept per thread), used by init/fini and the Rust extension.
pub extern "C" fn host_record(code: i32) {
    RECORDED.with(|r| r.borrow_mut().push(code));
}

/// Host export: adds two numbers.
pub extern "C" fn host_add(a: i32, b: i32) -> i32 {
    a.wrapping_add(b)
}

/// Host export (data): a read-only limit extensions read through the GOT.
pub static HOST_LIMIT: i32 = 1000;

/// Host export (data): a counter extensions increment (an `int` on the C side).
pub static HOST_COUNTER: AtomicI32 = AtomicI32::new(0);

// The C library functions compilers emit calls to on their own (loops become memset,
// strlen, ...), exported as a real host would.
extern "C" {
    fn memset(dst: *mut c_void, c: i32, n: usize) -> *mut c_void;
    fn memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void;
    fn strlen(s: *const c_char) -> usize;
}

exports! {
    pub static HOST = [
        fn host_print,
        fn host_record,
        fn host_add,
        fn memset,
        fn memcpy,
        fn strlen,
        static HOST_LIMIT as "host_limit",
        static HOST_COUNTER as "host_counter",
    ];
}

/// What `host_print` printed on this thread since the last call.
pub fn take_printed() -> Vec<String> {
    PRINTED.with(|p| std::mem::take(&mut *p.borrow_mut()))
}

/// What `host_record` recorded on this thread since the last call.
pub fn take_recorded() -> Vec<i32> {
    RECORDED.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

/// Bytes of the extension arena each test registry maps.
pub const ARENA: usize = 8 << 20;

/// A fresh registry with the host's exports and a native (mmap, W^X) memory.
pub fn registry<'b>() -> Registry<'b, HostMemory> {
    Registry::new(
        HostMemory::new(ARENA).expect("map the extension arena"),
        &HOST,
    )
}

// ---------------------------------------------------------------------------------------
// Building extensions.
// ---------------------------------------------------------------------------------------

/// One way to compile an extension source.
#[derive(Clone, Debug)]
pub struct Build {
    /// The compiler.
    pub compiler: Compiler,
    /// Its flags.
    pub flags: Vec<&'static str>,
}

impl Build {
    /// A short description for assertion messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.compiler.command(), self.flags.join(" "))
    }
    /// Whether code from this build is position independent.
    pub fn is_pic(&self) -> bool {
        self.flags
            .iter()
            .any(|f| *f == "-fPIC" || *f == "relocation-model=pic")
    }
}

static CLANG_NOTE: Once = Once::new();

/// Whether clang can be used; prints a note (once) when it cannot.
pub fn clang_available() -> bool {
    let ok = Compiler::Clang.available();
    if !ok {
        CLANG_NOTE.call_once(|| {
            println!("note: clang is not installed; clang builds of the extensions are skipped")
        });
    }
    ok
}

/// The C configurations every C extension is tested under: gcc at -O0 and -O2 and clang at
/// -O2 (when installed), each with -fPIC and with -fno-pic, plus `extra` flags.
pub fn c_builds(extra: &[&'static str]) -> Vec<Build> {
    let mut out = Vec::new();
    let mut add = |compiler, opt: &'static str, pic: &'static str| {
        let mut flags = vec![opt, pic];
        flags.extend_from_slice(extra);
        out.push(Build { compiler, flags });
    };
    for opt in ["-O0", "-O2"] {
        for pic in ["-fPIC", "-fno-pic"] {
            add(Compiler::Gcc, opt, pic);
        }
    }
    if clang_available() {
        for pic in ["-fPIC", "-fno-pic"] {
            add(Compiler::Clang, "-O2", pic);
        }
    }
    out
}

/// The configurations of the Rust extension: optimized, position independent and static.
pub fn rust_builds() -> Vec<Build> {
    ["pic", "static"]
        .iter()
        .map(|model| Build {
            compiler: Compiler::Rustc,
            flags: vec![
                "-O",
                "--edition",
                "2021",
                "--target",
                "x86_64-unknown-linux-gnu",
                "-C",
                if *model == "pic" {
                    "relocation-model=pic"
                } else {
                    "relocation-model=static"
                },
            ],
        })
        .collect()
}

/// A compiled extension object.
#[derive(Clone, Debug)]
pub struct Obj {
    /// The object's bytes.
    pub bytes: Vec<u8>,
    /// Where the object is cached (for `FileLoader`).
    pub path: PathBuf,
    /// Source and build, for messages.
    pub label: String,
}

/// Serializes compilations within one test binary: the testkit's cache writes a temporary
/// file named after the process, so two threads building the same object at once would
/// race on it.
static BUILD_LOCK: Mutex<()> = Mutex::new(());

/// Compile `source` (relative to `extensions/`) with `build`.
pub fn build(source: &str, build: &Build) -> Obj {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let path = elfext_testkit::build_path(build.compiler, source, &build.flags);
    let bytes = std::fs::read(&path).expect("read the built object");
    Obj {
        bytes,
        path,
        label: format!("{source} [{}]", build.label()),
    }
}

/// Compile `source` with gcc and `flags` (a single configuration, for focused tests).
pub fn gcc(source: &str, flags: &[&'static str]) -> Obj {
    build(
        source,
        &Build {
            compiler: Compiler::Gcc,
            flags: flags.to_vec(),
        },
    )
}

// ---------------------------------------------------------------------------------------
// Storage types and loaders.
// ---------------------------------------------------------------------------------------

/// How an object reaches the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `BufLoader::temporary` over a Vec.
    Temporary,
    /// `BufLoader::persistent` over a copy in the low 2 GiB (in-place use happens).
    PersistentLow,
    /// `BufLoader::writable` over a fresh copy in the low 2 GiB (relocated in place).
    WritableLow,
    /// `BufLoader::persistent` over a Vec (out of reach: falls back to copying).
    PersistentVec,
    /// `BufLoader::writable` over a Vec (out of reach: falls back to copying).
    WritableVec,
    /// `FileLoader` over the cached object file.
    File,
    /// `IoLoader` over an in-memory `embedded_io` stream.
    Io,
}

impl Via {
    /// Every way, in the order tests run them.
    pub const ALL: [Via; 7] = [
        Via::Temporary,
        Via::PersistentLow,
        Via::WritableLow,
        Via::PersistentVec,
        Via::WritableVec,
        Via::File,
        Via::Io,
    ];

    /// The storage type the loader declares.
    pub fn storage(self) -> Storage {
        match self {
            Via::PersistentLow | Via::PersistentVec => Storage::Persistent,
            Via::WritableLow | Via::WritableVec => Storage::Writable,
            Via::Temporary | Via::File | Via::Io => Storage::Temporary,
        }
    }
}

/// A minimal `embedded_io` stream over a Vec: what a UART or flash driver would provide.
pub struct VecStream {
    bytes: Vec<u8>,
    pos: usize,
}

impl VecStream {
    /// A stream positioned at the start of `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        VecStream { bytes, pos: 0 }
    }
}

impl embedded_io::ErrorType for VecStream {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Read for VecStream {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let rest = self.bytes.get(self.pos..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl embedded_io::Seek for VecStream {
    fn seek(&mut self, pos: embedded_io::SeekFrom) -> Result<u64, Self::Error> {
        let len = self.bytes.len() as i128;
        let to = match pos {
            embedded_io::SeekFrom::Start(o) => i128::from(o),
            embedded_io::SeekFrom::End(d) => len + i128::from(d),
            embedded_io::SeekFrom::Current(d) => self.pos as i128 + i128::from(d),
        };
        let to = usize::try_from(to).map_err(|_| embedded_io::ErrorKind::InvalidInput)?;
        self.pos = to;
        Ok(to as u64)
    }
}

/// Any of the loaders the tests use, as one type.
pub enum AnyLoader<'a> {
    /// A buffer loader (temporary, persistent or writable).
    Buf(BufLoader<'a, 'a>),
    /// A file.
    File(FileLoader),
    /// A stream.
    Io(IoLoader<VecStream>),
}

impl<'a> Loader<'a> for AnyLoader<'a> {
    fn storage(&self) -> Storage {
        match self {
            AnyLoader::Buf(l) => l.storage(),
            AnyLoader::File(l) => l.storage(),
            AnyLoader::Io(l) => l.storage(),
        }
    }
    fn len(&self) -> u64 {
        match self {
            AnyLoader::Buf(l) => l.len(),
            AnyLoader::File(l) => l.len(),
            AnyLoader::Io(l) => l.len(),
        }
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> elfext::Result<()> {
        match self {
            AnyLoader::Buf(l) => l.read_at(offset, buf),
            AnyLoader::File(l) => l.read_at(offset, buf),
            AnyLoader::Io(l) => l.read_at(offset, buf),
        }
    }
    fn peek(&self, offset: u64, len: u64) -> Option<&[u8]> {
        match self {
            AnyLoader::Buf(l) => l.peek(offset, len),
            AnyLoader::File(l) => l.peek(offset, len),
            AnyLoader::Io(l) => l.peek(offset, len),
        }
    }
    fn in_place(&mut self) -> Option<InPlace<'a>> {
        match self {
            AnyLoader::Buf(l) => l.in_place(),
            AnyLoader::File(l) => l.in_place(),
            AnyLoader::Io(l) => l.in_place(),
        }
    }
}

/// An object made ready to load one way: the buffer a persistent or writable loader
/// borrows lives here, so a `Staged` must be created before the registry that uses it.
pub struct Staged {
    via: Via,
    vec: Vec<u8>,
    low: Option<LowBuffer>,
    path: PathBuf,
    expected: Expected,
}

impl Staged {
    /// Stage `obj` for loading through `via` (a fresh copy every time: a writable buffer is
    /// dirty after use).
    pub fn new(via: Via, obj: &Obj) -> Self {
        let low = match via {
            Via::PersistentLow | Via::WritableLow => {
                Some(LowBuffer::new(&obj.bytes).expect("map a low buffer"))
            }
            _ => None,
        };
        let vec = obj.bytes.clone();
        let base = match (&low, via) {
            (Some(l), _) => l.as_slice().as_ptr() as u64,
            (None, Via::PersistentVec | Via::WritableVec) => vec.as_ptr() as u64,
            _ => 0,
        };
        let expected = Expected::model(&obj.bytes, via.storage(), base);
        Staged {
            via,
            vec,
            low,
            path: obj.path.clone(),
            expected,
        }
    }

    /// What the load must copy and use in place.
    pub fn expected(&self) -> Expected {
        self.expected
    }

    /// The loader, borrowing the staged buffer for as long as the registry may use it.
    pub fn loader(&mut self) -> AnyLoader<'_> {
        match self.via {
            Via::Temporary => AnyLoader::Buf(BufLoader::temporary(&self.vec)),
            Via::PersistentVec => AnyLoader::Buf(BufLoader::persistent(&self.vec)),
            Via::WritableVec => AnyLoader::Buf(BufLoader::writable(&mut self.vec)),
            Via::PersistentLow => AnyLoader::Buf(BufLoader::persistent(
                self.low.as_ref().expect("low buffer").as_slice(),
            )),
            Via::WritableLow => AnyLoader::Buf(BufLoader::writable(
                self.low.as_mut().expect("low buffer").as_mut_slice(),
            )),
            Via::File => AnyLoader::File(FileLoader::open(&self.path).expect("open the object")),
            Via::Io => AnyLoader::Io(
                IoLoader::from_stream(VecStream::new(self.vec.clone()))
                    .expect("seek to the end of the stream"),
            ),
        }
    }
}

/// The x86-64 reach of 32-bit relocations from the extension arena: in-place bytes must lie
/// below 2 GiB.
const LOW_LIMIT: u64 = 1 << 31;

/// What one load must copy and use in place, from the section headers alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// Bytes of sections copied into the block.
    pub copied: u64,
    /// Bytes of sections used in place.
    pub in_place: u64,
    /// Bytes of executable sections and init/fini tables (never in place with `HostMemory`).
    pub code_and_tables: u64,
}

impl Expected {
    /// The placement rules of the design, for `HostMemory` on x86-64:
    /// temporary copies everything; persistent uses read-only sections without relocations
    /// in place; writable uses every non-code section in place (code is never executed from
    /// a caller's buffer, and init/fini tables are always gathered into the block); in place
    /// only when the bytes lie below 2 GiB and are aligned as their section requires.
    pub fn model(bytes: &[u8], storage: Storage, base: u64) -> Self {
        let secs = sections(bytes);
        let relocated = relocated_sections(&secs);
        let mut e = Expected::default();
        for s in secs.iter().filter(|s| s.is_loaded()) {
            if s.is_table() {
                e.copied += s.size;
                e.code_and_tables += s.size;
                continue;
            }
            if s.ty == elf::SHT_NOBITS {
                continue;
            }
            let exec = s.flags & elf::SHF_EXECINSTR.0 != 0;
            let write = s.flags & elf::SHF_WRITE.0 != 0;
            if exec {
                e.code_and_tables += s.size;
            }
            let addr = base.wrapping_add(s.offset);
            let reachable = addr % s.align.max(1) == 0
                && addr.checked_add(s.size).is_some_and(|end| end <= LOW_LIMIT);
            let in_place = !exec
                && reachable
                && match storage {
                    Storage::Temporary => false,
                    Storage::Persistent => !write && !relocated.contains(&s.index),
                    Storage::Writable => true,
                };
            if in_place {
                e.in_place += s.size;
            } else {
                e.copied += s.size;
            }
        }
        e
    }
}

/// Check a load's report against the model, with the brief's storage-specific rules.
pub fn check_report(label: &str, via: Via, expected: Expected, report: &LoadReport) {
    assert_eq!(
        report.previous_uses, 0,
        "{label} via {via:?}: a fresh load reports 0 previous uses"
    );
    assert_eq!(
        (report.copied, report.in_place),
        (expected.copied, expected.in_place),
        "{label} via {via:?}: (copied, in place) bytes differ from the placement rules"
    );
    match via {
        Via::Temporary | Via::File | Via::Io => {
            assert_eq!(
                report.in_place, 0,
                "{label} via {via:?}: temporary storage copies everything"
            )
        }
        Via::WritableLow => assert_eq!(
            report.copied, expected.code_and_tables,
            "{label} via {via:?}: writable storage copies only code and init/fini tables"
        ),
        _ => {}
    }
    assert!(
        report.metadata > 0,
        "{label} via {via:?}: every extension has a metadata record"
    );
}

// ---------------------------------------------------------------------------------------
// Running a check under every storage type.
// ---------------------------------------------------------------------------------------

/// An extension loaded for a check.
pub struct Loaded<'r, 'b> {
    /// The registry it is loaded in.
    pub registry: &'r Registry<'b, HostMemory>,
    /// Its name.
    pub name: &'r str,
    /// Object and build, for messages.
    pub label: String,
    /// How it was loaded.
    pub via: Via,
    /// What the load reported.
    pub report: LoadReport,
}

impl Loaded<'_, '_> {
    /// A prefix for assertion messages.
    pub fn ctx(&self) -> String {
        format!("{} via {:?}", self.label, self.via)
    }
    /// The address of exported symbol `sym`.
    pub fn symbol(&self, sym: &str) -> u64 {
        self.registry
            .with(self.name, |e| e.symbol(sym))
            .expect("extension is loaded")
            .unwrap_or_else(|e| panic!("{}: symbol `{sym}`: {e}", self.ctx()))
    }
    /// The exported function `sym` as `F`.
    ///
    /// # Safety
    /// `F` must be the function's type; do not use it after unloading.
    pub unsafe fn function<F: Copy>(&self, sym: &str) -> F {
        self.registry
            // SAFETY: forwarded from the caller.
            .with(self.name, |e| unsafe { e.function::<F>(sym) })
            .expect("extension is loaded")
            .unwrap_or_else(|e| panic!("{}: function `{sym}`: {e}", self.ctx()))
    }
    /// A pointer to the exported data `sym`.
    pub fn data<T>(&self, sym: &str) -> *mut T {
        self.registry
            .with(self.name, |e| e.data::<T>(sym))
            .expect("extension is loaded")
            .unwrap_or_else(|e| panic!("{}: data `{sym}`: {e}", self.ctx()))
    }
}

/// Load `obj` under the name `name` through every [`Via`], check the report and the
/// recorded storage type, run `check`, unload, and check the heap is empty again.
pub fn check_everywhere(name: &str, obj: &Obj, mut check: impl FnMut(&Loaded<'_, '_>)) {
    for via in Via::ALL {
        check_via(name, obj, via, &mut check);
    }
}

/// [`check_everywhere`] for one way of loading.
pub fn check_via(name: &str, obj: &Obj, via: Via, check: &mut dyn FnMut(&Loaded<'_, '_>)) {
    let mut staged = Staged::new(via, obj);
    let expected = staged.expected();
    let registry = registry();
    let report = registry
        .load_with_report(name, staged.loader())
        .unwrap_or_else(|e| panic!("{} via {via:?}: load failed: {e}", obj.label));
    check_report(&obj.label, via, expected, &report);
    let (regions, (block_bytes, meta_bytes)) = registry
        .with(name, |e| (e.region_sizes(), e.heap_bytes()))
        .expect("loaded");
    assert_eq!(
        (regions, meta_bytes),
        (report.regions, report.metadata),
        "{} via {via:?}: the extension's sizes match its load report",
        obj.label
    );
    assert_eq!(
        block_bytes,
        report.regions.iter().sum::<u64>() + report.padding,
        "{} via {via:?}: the block is its regions and their padding",
        obj.label
    );
    assert_eq!(
        registry.heap_stats().total(),
        block_bytes + meta_bytes,
        "{} via {via:?}: the heap holds exactly the block and the record",
        obj.label
    );
    let storage = registry.with(name, |e| e.storage()).expect("loaded");
    assert_eq!(
        storage,
        via.storage(),
        "{} via {via:?}: the extension records its loader's storage type",
        obj.label
    );
    take_printed();
    take_recorded();
    check(&Loaded {
        registry: &registry,
        name,
        label: obj.label.clone(),
        via,
        report,
    });
    assert_eq!(
        registry.unload(name),
        Ok(0),
        "{} via {via:?}: unload frees the extension",
        obj.label
    );
    assert_heap_empty(&registry, &format!("{} via {via:?}", obj.label));
}

/// Assert nothing is loaded and no heap byte is in use.
pub fn assert_heap_empty(registry: &Registry<'_, HostMemory>, ctx: &str) {
    assert!(registry.is_empty(), "{ctx}: nothing stays loaded");
    let stats = registry.heap_stats();
    assert_eq!(
        stats.total(),
        0,
        "{ctx}: every heap byte is freed after unloading ({stats:?})"
    );
    assert_eq!(
        stats.allocations, 0,
        "{ctx}: no allocation is left ({stats:?})"
    );
}

/// Load `bytes` (temporary) and expect an error; check the heap is exactly as before.
pub fn load_err(registry: &Registry<'_, HostMemory>, bytes: &[u8]) -> Error {
    let before = registry.heap_stats();
    let count = registry.len();
    let err = match registry.load("bad", BufLoader::temporary(bytes)) {
        Ok(_) => panic!("loading a broken object succeeded"),
        Err(e) => e,
    };
    assert_eq!(
        registry.heap_stats(),
        before,
        "the heap is exactly as before the failed load ({err})"
    );
    assert_eq!(registry.len(), count, "a failed load adds no extension");
    assert!(!registry.contains("bad"), "a failed load adds no extension");
    err
}

// ---------------------------------------------------------------------------------------
// Reading and patching ELF64 objects (object's raw types; all fields are unaligned bytes).
// ---------------------------------------------------------------------------------------

type Ehdr = elf::FileHeader64<LE>;
type Shdr = elf::SectionHeader64<LE>;
/// A RELA entry.
pub type Rela = elf::Rela64<LE>;

/// One section header, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// Index in the section header table.
    pub index: u32,
    /// Name.
    pub name: String,
    /// `sh_type`.
    pub ty: elf::SectionType,
    /// `sh_flags`.
    pub flags: u64,
    /// `sh_offset`.
    pub offset: u64,
    /// `sh_size`.
    pub size: u64,
    /// `sh_addralign`.
    pub align: u64,
    /// `sh_link`.
    pub link: u32,
    /// `sh_info`.
    pub info: u32,
}

impl Section {
    /// Whether the loader places it in memory (allocated, and not the unwind table).
    pub fn is_loaded(&self) -> bool {
        self.flags & elf::SHF_ALLOC.0 != 0 && self.name != ".eh_frame"
    }
    /// Whether it is a preinit, init or fini table.
    pub fn is_table(&self) -> bool {
        matches!(
            self.ty,
            elf::SHT_PREINIT_ARRAY | elf::SHT_INIT_ARRAY | elf::SHT_FINI_ARRAY
        )
    }
    /// Whether it holds code.
    pub fn is_code(&self) -> bool {
        self.flags & elf::SHF_EXECINSTR.0 != 0
    }
    /// Whether it is a relocation section.
    pub fn is_rel(&self) -> bool {
        matches!(self.ty, elf::SHT_REL | elf::SHT_RELA)
    }
}

/// The ELF header of a well-formed ELF64 object.
pub fn ehdr(bytes: &[u8]) -> &Ehdr {
    object::pod::from_bytes::<Ehdr>(bytes)
        .expect("ELF64 header")
        .0
}

/// The ELF header, writable.
pub fn ehdr_mut(bytes: &mut [u8]) -> &mut Ehdr {
    object::pod::from_bytes_mut::<Ehdr>(bytes)
        .expect("ELF64 header")
        .0
}

/// Section header `i`, writable.
pub fn shdr_mut(bytes: &mut [u8], i: u32) -> &mut Shdr {
    let at = ehdr(bytes).e_shoff.get(LE) as usize + i as usize * size_of::<Shdr>();
    object::pod::from_bytes_mut::<Shdr>(&mut bytes[at..])
        .expect("section header")
        .0
}

/// Every section header of a well-formed ELF64 object.
pub fn sections(bytes: &[u8]) -> Vec<Section> {
    let h = ehdr(bytes);
    let shoff = h.e_shoff.get(LE) as usize;
    let n = usize::from(h.e_shnum.get(LE));
    let shstrndx = usize::from(h.e_shstrndx.get(LE).0);
    let shdrs = object::pod::slice_from_bytes::<Shdr>(&bytes[shoff..], n)
        .expect("section headers")
        .0;
    let strs = {
        let s = &shdrs[shstrndx];
        let off = s.sh_offset.get(LE) as usize;
        &bytes[off..off + s.sh_size.get(LE) as usize]
    };
    shdrs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let name_at = s.sh_name(LE) as usize;
            let name = strs[name_at..]
                .split(|&b| b == 0)
                .next()
                .map(|n| String::from_utf8_lossy(n).into_owned())
                .unwrap_or_default();
            Section {
                index: i as u32,
                name,
                ty: s.sh_type(LE),
                flags: s.sh_flags(LE).0,
                offset: s.sh_offset(LE),
                size: s.sh_size(LE),
                align: s.sh_addralign(LE),
                link: s.sh_link(LE),
                info: s.sh_info(LE),
            }
        })
        .collect()
}

/// The section called `name`.
pub fn section(bytes: &[u8], name: &str) -> Section {
    sections(bytes)
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("the object has no section `{name}`"))
}

/// Indices of the sections patched by a non-empty relocation section.
pub fn relocated_sections(secs: &[Section]) -> std::collections::HashSet<u32> {
    secs.iter()
        .filter(|s| s.is_rel() && s.size > 0)
        .map(|s| s.info)
        .collect()
}

/// RELA entry `n` of section `rela` (a `.rela.*` section), writable.
pub fn rela_mut<'a>(bytes: &'a mut [u8], rela: &Section, n: usize) -> &'a mut Rela {
    let at = rela.offset as usize + n * size_of::<Rela>();
    object::pod::from_bytes_mut::<Rela>(&mut bytes[at..])
        .expect("relocation entry")
        .0
}

/// A copy of `bytes` changed by `patch`.
pub fn patched(bytes: &[u8], patch: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut copy = bytes.to_vec();
    patch(&mut copy);
    copy
}

/// Read a `T` from a possibly unaligned pointer into an extension.
///
/// # Safety
/// `p` must point to a live `T`.
pub unsafe fn read<T: Copy>(p: *const T) -> T {
    // SAFETY: forwarded from the caller.
    unsafe { p.read_unaligned() }
}

/// The host counter's current value.
pub fn host_counter() -> i32 {
    HOST_COUNTER.load(Ordering::SeqCst)
}

/// Names of the common symbols (`SHN_COMMON`) of a well-formed ELF64 object.
pub fn common_symbols(bytes: &[u8]) -> Vec<String> {
    let secs = sections(bytes);
    let Some(symtab) = secs.iter().find(|s| s.ty == elf::SHT_SYMTAB) else {
        return Vec::new();
    };
    let strtab = &secs[symtab.link as usize];
    let strs = &bytes[strtab.offset as usize..(strtab.offset + strtab.size) as usize];
    let n = (symtab.size / size_of::<elf::Sym64<LE>>() as u64) as usize;
    let syms = object::pod::slice_from_bytes::<elf::Sym64<LE>>(&bytes[symtab.offset as usize..], n)
        .expect("symbol table")
        .0;
    syms.iter()
        .filter(|s| s.st_shndx.get(LE) == elf::SHN_COMMON)
        .map(|s| {
            let at = s.st_name.get(LE) as usize;
            let name = strs[at..].split(|&b| b == 0).next().unwrap_or_default();
            String::from_utf8_lossy(name).into_owned()
        })
        .collect()
}
