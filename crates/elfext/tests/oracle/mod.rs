//! GNU ld as the relocation oracle: link an object with elfext into a described target
//! window, link the same object with GNU ld placing each input section at exactly the
//! address elfext chose (undefined symbols given by `--defsym`), and compare the bytes.
//!
//! The oracle lives in the testkit (`elfext_testkit::oracle`), shared with the fixture
//! test and `cargo xtask fixtures`.

pub use elfext_testkit::oracle::{compare, fake_exports};
