//! Symbols the host program exports to extensions.

use alloc::collections::BTreeMap;
use alloc::string::String;
use core::cmp::Ordering;

/// A set of symbols extensions may link against, looked up by name.
pub trait Exports {
    /// Target address of `name`, if exported.
    fn lookup(&self, name: &[u8]) -> Option<u64>;
}

/// No exports at all.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoExports;

impl Exports for NoExports {
    fn lookup(&self, _name: &[u8]) -> Option<u64> {
        None
    }
}

/// Search `a` first, then `b`.
impl<A: Exports, B: Exports> Exports for (A, B) {
    fn lookup(&self, name: &[u8]) -> Option<u64> {
        self.0.lookup(name).or_else(|| self.1.lookup(name))
    }
}

impl<T: Exports + ?Sized> Exports for &T {
    fn lookup(&self, name: &[u8]) -> Option<u64> {
        (**self).lookup(name)
    }
}

/// The address of an exported item.
#[derive(Clone, Copy, Debug)]
pub struct ExportAddr(pub *const ());

// SAFETY: an export address is only ever read as a number; nothing is dereferenced through it
// by elfext.
unsafe impl Sync for ExportAddr {}
// SAFETY: as above.
unsafe impl Send for ExportAddr {}

/// One exported item.
#[derive(Clone, Copy, Debug)]
pub struct Export {
    /// The name extensions use.
    pub name: &'static str,
    /// Its address.
    pub addr: ExportAddr,
}

/// A static export table, sorted at compile time: lookups are a binary search.
///
/// Build one with [`exports!`](crate::exports).
#[derive(Clone, Copy, Debug)]
pub struct ExportTable {
    entries: &'static [Export],
    order: &'static [u16],
}

impl ExportTable {
    /// A table of `entries`, searched in `order` (see [`sort_exports`]).
    pub const fn new(entries: &'static [Export], order: &'static [u16]) -> Self {
        ExportTable { entries, order }
    }
    /// Number of exports.
    pub const fn len(&self) -> usize {
        self.entries.len()
    }
    /// Whether the table is empty.
    pub const fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// The exports in name order.
    pub fn iter(&self) -> impl Iterator<Item = &Export> + '_ {
        self.order
            .iter()
            .map(move |&i| &self.entries[usize::from(i)])
    }
}

impl Exports for ExportTable {
    fn lookup(&self, name: &[u8]) -> Option<u64> {
        let i = self
            .order
            .binary_search_by(|&i| self.entries[usize::from(i)].name.as_bytes().cmp(name))
            .ok()?;
        Some(self.entries[usize::from(self.order[i])].addr.0 as u64)
    }
}

const fn less(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return if a[i] < b[i] {
                Ordering::Less
            } else {
                Ordering::Greater
            };
        }
        i += 1;
    }
    if a.len() < b.len() {
        Ordering::Less
    } else if a.len() > b.len() {
        Ordering::Greater
    } else {
        Ordering::Equal
    }
}

/// The order of `names` sorted by bytes, computed at compile time. Duplicate names are a
/// compile error.
pub const fn sort_exports<const N: usize>(names: [&str; N]) -> [u16; N] {
    assert!(N <= u16::MAX as usize, "too many exports in one table");
    let mut order = [0u16; N];
    let mut i = 0;
    while i < N {
        order[i] = i as u16;
        i += 1;
    }
    let mut i = 1;
    while i < N {
        let mut j = i;
        while j > 0 {
            match less(names[order[j] as usize], names[order[j - 1] as usize]) {
                Ordering::Less => {
                    let t = order[j];
                    order[j] = order[j - 1];
                    order[j - 1] = t;
                    j -= 1;
                }
                Ordering::Equal => panic!("the same name is exported twice"),
                Ordering::Greater => break,
            }
        }
        i += 1;
    }
    order
}

/// Declare the host program's export table: functions and statics extensions may use.
///
/// Functions must have the C ABI (`extern "C" fn`); statics are exported by address.
/// `as "name"` exports an item under another name.
///
/// ```
/// extern "C" fn add(a: i32, b: i32) -> i32 { a + b }
/// extern "C" fn my_strlen(s: *const u8) -> usize { unsafe { core::ffi::CStr::from_ptr(s.cast()).count_bytes() } }
/// static LIMIT: u32 = 10;
///
/// elfext::exports! {
///     /// What extensions may call.
///     pub static HOST = [
///         fn add,
///         fn my_strlen as "strlen",
///         static LIMIT,
///     ];
/// }
///
/// use elfext::Exports;
/// assert_eq!(HOST.lookup(b"strlen"), Some(my_strlen as usize as u64));
/// assert_eq!(HOST.lookup(b"LIMIT"), Some(&raw const LIMIT as u64));
/// assert_eq!(HOST.lookup(b"nothing"), None);
/// ```
#[macro_export]
macro_rules! exports {
    ($(#[$meta:meta])* $vis:vis static $table:ident = [ $( $kind:ident $item:ident $(as $alias:literal)? ),* $(,)? ];) => {
        $(#[$meta])*
        $vis static $table: $crate::ExportTable = {
            const NAMES: [&str; [$( stringify!($item) ),*].len()] =
                [$( $crate::exports!(@name $item $(as $alias)?) ),*];
            static ENTRIES: [$crate::Export; NAMES.len()] = [$(
                $crate::Export {
                    name: $crate::exports!(@name $item $(as $alias)?),
                    addr: $crate::ExportAddr($crate::exports!(@addr $kind $item)),
                }
            ),*];
            static ORDER: [u16; NAMES.len()] = $crate::sort_exports(NAMES);
            $crate::ExportTable::new(&ENTRIES, &ORDER)
        };
    };
    (@name $item:ident) => { stringify!($item) };
    (@name $item:ident as $alias:literal) => { $alias };
    (@addr fn $item:ident) => { $item as *const () };
    (@addr static $item:ident) => { (&raw const $item).cast::<()>() };
}

/// A run-time export map (for tools and tests), looked up in O(log n).
#[derive(Clone, Debug, Default)]
pub struct ExportMap {
    map: BTreeMap<String, u64>,
}

impl ExportMap {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }
    /// Export `name` at `addr` (replacing an earlier address).
    pub fn insert(&mut self, name: &str, addr: u64) {
        self.map.insert(String::from(name), addr);
    }
    /// Number of exports.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl Exports for ExportMap {
    fn lookup(&self, name: &[u8]) -> Option<u64> {
        self.map.get(core::str::from_utf8(name).ok()?).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn const_sort_orders_names() {
        const ORDER: [u16; 4] = sort_exports(["puts", "abs", "zz", "memcpy"]);
        assert_eq!(ORDER, [1, 3, 0, 2]);
    }

    extern "C" fn f1() {}
    extern "C" fn f2() {}
    static D: u64 = 7;

    crate::exports! {
        static TABLE = [fn f1, fn f2 as "alias", static D];
    }

    #[test]
    fn table_lookup() {
        assert_eq!(TABLE.len(), 3);
        assert_eq!(TABLE.lookup(b"f1"), Some(f1 as *const () as u64));
        assert_eq!(TABLE.lookup(b"alias"), Some(f2 as *const () as u64));
        assert_eq!(TABLE.lookup(b"f2"), None);
        assert_eq!(TABLE.lookup(b"D"), Some(&raw const D as u64));
        let names: alloc::vec::Vec<_> = TABLE.iter().map(|e| e.name).collect();
        assert_eq!(names, ["D", "alias", "f1"]);
    }
}
