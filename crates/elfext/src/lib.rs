//! # elfext — loadable, linkable ELF extensions
//!
//! elfext takes a relocatable ELF object (`.o`) it has never seen, places its sections in
//! memory, links it against the symbols the host program exports and against other loaded
//! extensions, and lets the host call into it — on a microcontroller without an MMU as well
//! as on a hosted Linux.
//!
//! The data flows one way: [`Loader`] → ELF view → layout plan → [`Memory`] → link →
//! [`Registry`].
//!
//! ```no_run
//! # #[cfg(all(feature = "std", target_arch = "x86_64"))] {
//! use elfext::{exports, BufLoader, HostMemory, Registry};
//!
//! extern "C" fn host_add(a: i32, b: i32) -> i32 { a + b }
//! exports! { static HOST = [fn host_add]; }
//!
//! let object: Vec<u8> = std::fs::read("hello.o").unwrap();
//! let registry = Registry::new(HostMemory::new(1 << 20).unwrap(), &HOST);
//! assert_eq!(registry.load("hello", BufLoader::temporary(&object)).unwrap(), 0);
//! let run = registry
//!     .with("hello", |ext| unsafe { ext.function::<extern "C" fn() -> i32>("run") })
//!     .unwrap()
//!     .unwrap();
//! println!("run() = {}", run());
//! assert_eq!(registry.unload("hello").unwrap(), 0);
//! # }
//! ```
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod arch;
#[cfg(feature = "combine")]
pub mod combine;
mod elf;
pub mod error;
pub mod image;
pub mod layout;
mod link;
pub mod loader;
pub mod memory;
mod registry;
pub mod snapshot;
mod tls;

pub use arch::Arch;
#[cfg(feature = "combine")]
pub use combine::{Combined, Combiner, Origin};
pub use error::{Error, ImageAddressProblem, Mismatch, Name, Result, SectionId};
pub use image::{prelink, Image, PrelinkOptions};
pub use layout::{BlockLayout, Granule, Granules, RegionKind};
pub use link::exports::{
    sort_exports, Export, ExportAddr, ExportMap, ExportTable, Exports, NoExports,
};
pub use link::Placed;
#[cfg(feature = "std")]
pub use loader::FileLoader;
pub use loader::{BufLoader, InPlace, IoLoader, Loader, Storage};
pub use memory::map::{MapEntry, MemoryMap, RangeFlags, RangeType};
pub use memory::{Block, Claim, Claimed, ExtHeap, HeapStats, MapMemory, Memory, TargetMemory};
#[cfg(all(feature = "std", unix))]
pub use memory::{HostMemory, LowBuffer};
pub use registry::{DefaultRawMutex, Extension, LoadReport, Registry};
pub use snapshot::SaveOptions;
pub use tls::TlsArea;

/// The README's examples, compiled as doctests.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
