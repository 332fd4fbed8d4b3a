//! The memory map against a reference model: random sequences of bank additions,
//! reservations (bottom-up, top-down, windowed, exact, merging), maximal reservations,
//! shrinks and frees over a small address space, with the map's invariants checked after
//! every step.

use std::cell::Cell;

use elfext::memory::map::{BankKind, Change, MapEntry, Request, Slot};
use elfext::{Error, Granule, MemoryMap, Name, RangeFlags, RangeType};
use proptest::prelude::*;

/// Candidate banks: the first two are adjacent, the third is apart.
const BANKS: [(u64, u64); 3] = [(0, 512), (512, 1024), (1536, 2048)];
const TYPES: [RangeType; 4] = [
    RangeType::Text,
    RangeType::Data,
    RangeType::File,
    RangeType::Device,
];
const OWNERS: [&str; 3] = ["a", "b", "c"];

fn granule(ty: RangeType) -> Granule {
    match ty {
        RangeType::Text => Granule::Mpu32,
        RangeType::Data => Granule::MpuPow2,
        _ => Granule::None,
    }
}

#[derive(Clone, Copy, Debug)]
enum Where {
    BottomUp,
    TopDown,
    At(u64),
}

#[derive(Clone, Debug)]
enum Op {
    AddBank(usize),
    Alloc {
        ty: usize,
        size: u64,
        align: u64,
        place: Where,
        window: Option<(u64, u64)>,
        no_overwrite: bool,
        merge: bool,
        owner: usize,
    },
    AllocMax {
        ty: usize,
        size: u64,
        align: u64,
        top: bool,
        window: Option<(u64, u64)>,
    },
    /// Free the n-th live reservation (modulo), or a random address if there is none.
    Free(usize, u64),
    /// Shrink the n-th live reservation to a size.
    Shrink(usize, u64),
    FreeAt(u64),
}

fn window() -> impl Strategy<Value = Option<(u64, u64)>> {
    prop_oneof![
        Just(None),
        (0u64..2100, 0u64..1200).prop_map(|(min, len)| Some((min, min + len))),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let place = prop_oneof![
        Just(Where::BottomUp),
        Just(Where::TopDown),
        (0u64..2100).prop_map(Where::At),
        // Exact addresses on a 16-byte grid, to hit existing starts and merges.
        (0u64..132).prop_map(|x| Where::At(x * 16)),
    ];
    prop_oneof![
        1 => (0usize..3).prop_map(Op::AddBank),
        6 => (
            0usize..4,
            1u64..200,
            0u32..7,
            place,
            window(),
            any::<bool>(),
            any::<bool>(),
            0usize..3
        )
            .prop_map(
                |(ty, size, align, place, window, no_overwrite, merge, owner)| Op::Alloc {
                    ty,
                    size,
                    align: 1 << align,
                    place,
                    window,
                    no_overwrite,
                    merge,
                    owner,
                }
            ),
        1 => (0usize..4, 1u64..300, 0u32..6, any::<bool>(), window()).prop_map(
            |(ty, size, align, top, window)| Op::AllocMax {
                ty,
                size,
                align: 1 << align,
                top,
                window,
            }
        ),
        4 => (any::<usize>(), 0u64..2100).prop_map(|(i, a)| Op::Free(i, a)),
        2 => (any::<usize>(), 0u64..300).prop_map(|(i, s)| Op::Shrink(i, s)),
        1 => (0u64..2100).prop_map(Op::FreeAt),
    ]
}

/// A live reservation of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Res {
    start: u64,
    end: u64,
    ty: RangeType,
    flags: RangeFlags,
    owner: Name,
}

#[derive(Default)]
struct Model {
    banks: Vec<(u64, u64)>,
    res: Vec<Res>,
}

impl Model {
    fn bank_of(&self, addr: u64) -> Option<(u64, u64)> {
        self.banks
            .iter()
            .copied()
            .find(|&(s, e)| s <= addr && addr < e)
    }
    fn is_free(&self, start: u64, end: u64) -> bool {
        self.bank_of(start).is_some_and(|(_, e)| end <= e)
            && !self.res.iter().any(|r| r.start < end && start < r.end)
    }
    /// Free gaps, in address order.
    fn gaps(&self) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut banks = self.banks.clone();
        banks.sort();
        for (bs, be) in banks {
            let mut inside: Vec<_> = self
                .res
                .iter()
                .filter(|r| bs <= r.start && r.end <= be)
                .map(|r| (r.start, r.end))
                .collect();
            inside.sort();
            let mut at = bs;
            for (s, e) in inside {
                if at < s {
                    gaps.push((at, s));
                }
                at = e;
            }
            if at < be {
                gaps.push((at, be));
            }
        }
        gaps
    }
}

/// Largest block a maximal reservation may take in `[s, e)`: (start, length).
fn largest_in(s: u64, e: u64, align: u64, g: Granule) -> Option<(u64, u64)> {
    let mut best: Option<(u64, u64)> = None;
    let mut a = s.next_multiple_of(align);
    while a < e {
        let len = match g {
            Granule::MpuPow2 => {
                let mut p = 1u64 << 62;
                while p >= 32 && !(a % p == 0 && a + p <= e) {
                    p /= 2;
                }
                if p < 32 {
                    0
                } else {
                    p
                }
            }
            g => {
                let unit = g.round(1).1;
                (e - a) / unit * unit
            }
        };
        if best.is_none_or(|b| len > b.1) {
            best = Some((a, len));
        }
        a += align;
    }
    best
}

fn full<T>(r: &Result<T, Error>) -> bool {
    matches!(r, Err(Error::MapFull { .. }))
}

fn check_invariants(map: &MemoryMap<'_>, model: &Model) -> Result<(), TestCaseError> {
    let entries: Vec<MapEntry> = map.iter().collect();
    for w in entries.windows(2) {
        prop_assert!(w[0].end <= w[1].start, "overlap or disorder: {:?}", w);
        if w[0].end == w[1].start && w[0].bank == w[1].bank {
            prop_assert!(
                !(w[0].ty == RangeType::Free && w[1].ty == RangeType::Free),
                "adjacent free ranges not coalesced: {:?}",
                w
            );
        }
    }
    // Every byte of every bank is in exactly one range, and ranges lie in banks only.
    let mut covered = 0;
    for (i, bank) in map.banks().enumerate() {
        let mut at = bank.start;
        for e in entries.iter().filter(|e| e.bank as usize == i) {
            prop_assert!(e.start < e.end);
            prop_assert_eq!(e.start, at, "gap in bank {}", i);
            at = e.end;
        }
        prop_assert_eq!(at, bank.end, "bank {} not covered", i);
        covered += bank.end - bank.start;
    }
    prop_assert_eq!(entries.iter().map(|e| e.len()).sum::<u64>(), covered);
    let mut reserved: Vec<Res> = entries
        .iter()
        .filter(|e| e.ty != RangeType::Free)
        .map(|e| Res {
            start: e.start,
            end: e.end,
            ty: e.ty,
            flags: e.flags,
            owner: e.owner,
        })
        .collect();
    let mut expected = model.res.clone();
    expected.sort_by_key(|r| r.start);
    reserved.sort_by_key(|r| r.start);
    prop_assert_eq!(reserved, expected);
    let largest = entries
        .iter()
        .filter(|e| e.ty == RangeType::Free)
        .map(|e| e.len())
        .max()
        .unwrap_or(0);
    prop_assert_eq!(map.largest_free(), largest);
    prop_assert_eq!(map.len(), entries.len());
    Ok(())
}

/// Run `ops` on a map with `capacity` slots and on the model, step by step.
fn run(ops: &[Op], capacity: usize) -> Result<(), TestCaseError> {
    let changes = Cell::new(0u64);
    let counter = |_: &Change| changes.set(changes.get() + 1);
    let mut slots = vec![Slot::EMPTY; capacity];
    let mut map = MemoryMap::new(&mut slots);
    for ty in TYPES {
        map.set_granule(ty, granule(ty));
    }
    map.subscribe(&counter).unwrap();
    let mut model = Model::default();
    for op in ops {
        let before: Vec<MapEntry> = map.iter().collect();
        let key = map.key();
        match *op {
            Op::AddBank(i) => {
                let (s, e) = BANKS[i];
                let got = map.add_bank(s, e - s, BankKind::Ram, "bank");
                let ok = !model.banks.contains(&(s, e));
                if !full(&got) {
                    prop_assert_eq!(got.is_ok(), ok, "{:?}", got);
                    if ok {
                        model.banks.push((s, e));
                    }
                }
            }
            Op::Alloc {
                ty,
                size,
                align,
                place,
                window,
                no_overwrite,
                merge,
                owner,
            } => {
                let ty = TYPES[ty];
                let (min, max) = window.unwrap_or((0, u64::MAX));
                let flags = if no_overwrite {
                    RangeFlags::NO_OVERWRITE
                } else {
                    RangeFlags::NONE
                };
                let mut req = Request::new(ty, size)
                    .align(align)
                    .window(min, max)
                    .flags(flags)
                    .owner(OWNERS[owner]);
                if merge {
                    req = req.merge();
                }
                req = match place {
                    Where::BottomUp => req.bottom_up(),
                    Where::TopDown => req.top_down(),
                    Where::At(a) => req.at(a),
                };
                let (rsize, galign) = granule(ty).round(size);
                let align = align.max(galign);
                let got = map.allocate(&req);
                // What the model says: Ok(new reservation) or an error matcher.
                let expected: Result<Res, &str> = match place {
                    Where::BottomUp | Where::TopDown => {
                        let fits = |a: u64| {
                            a >= min && a + rsize - 1 <= max && model.is_free(a, a + rsize)
                        };
                        let mut candidates = (0..2048 / align + 1)
                            .map(|i| i * align)
                            .filter(|&a| fits(a));
                        let a = if matches!(place, Where::BottomUp) {
                            candidates.next()
                        } else {
                            candidates.next_back()
                        };
                        a.map(|a| Res {
                            start: a,
                            end: a + rsize,
                            ty,
                            flags,
                            owner: Name::from(OWNERS[owner]),
                        })
                        .ok_or("no space")
                    }
                    Where::At(a) => {
                        let end = a + rsize;
                        if a % align != 0 || a < min || end - 1 > max {
                            Err("bad request")
                        } else if let Some((_, be)) = model.bank_of(a) {
                            let mut over: Vec<Res> = model
                                .res
                                .iter()
                                .copied()
                                .filter(|r| r.start < end.min(be) && a < r.end)
                                .collect();
                            over.sort_by_key(|r| r.start);
                            let blocker = over.iter().find(|r| {
                                !(merge
                                    && r.ty == ty
                                    && r.flags == flags
                                    && r.owner == Name::from(OWNERS[owner])
                                    && !r.flags.contains(RangeFlags::NO_OVERWRITE))
                            });
                            if blocker.is_some() {
                                Err("overlap")
                            } else if end > be {
                                Err("outside")
                            } else {
                                let lo = over.iter().map(|r| r.start).chain([a]).min().unwrap();
                                let hi = over.iter().map(|r| r.end).chain([end]).max().unwrap();
                                Ok(Res {
                                    start: lo,
                                    end: hi,
                                    ty,
                                    flags,
                                    owner: Name::from(OWNERS[owner]),
                                })
                            }
                        } else {
                            Err("outside")
                        }
                    }
                };
                if !full(&got) {
                    match (&got, expected) {
                        (Ok(e), Ok(r)) => {
                            prop_assert_eq!(
                                (e.start, e.end, e.ty, e.flags, e.owner),
                                (r.start, r.end, r.ty, r.flags, r.owner)
                            );
                            // The requested range lies in the window; a merge may extend
                            // the reservation it returns over what was already reserved.
                            let asked = match place {
                                Where::At(a) => (a, a + rsize),
                                _ => (e.start, e.end),
                            };
                            prop_assert!(asked.0 >= min && asked.1 - 1 <= max);
                            prop_assert!(e.start <= asked.0 && asked.1 <= e.end);
                            if !merge {
                                prop_assert_eq!(e.start % align, 0);
                                prop_assert_eq!(asked, (e.start, e.end));
                            }
                            model.res.retain(|x| !(x.start < r.end && r.start < x.end));
                            model.res.push(r);
                        }
                        (Err(Error::MapNoSpace { .. }), Err("no space"))
                        | (Err(Error::MapBadRequest { .. }), Err("bad request"))
                        | (Err(Error::MapOverlap { .. }), Err("overlap"))
                        | (Err(Error::MapOutsideBanks { .. }), Err("outside")) => {}
                        (got, expected) => {
                            prop_assert!(false, "{:?}: map {:?}, model {:?}", op, got, expected)
                        }
                    }
                }
            }
            Op::AllocMax {
                ty,
                size,
                align,
                top,
                window,
            } => {
                let ty = TYPES[ty];
                let (min, max) = window.unwrap_or((0, u64::MAX));
                let mut req = Request::new(ty, size).align(align).window(min, max);
                if top {
                    req = req.top_down();
                }
                let g = granule(ty);
                let align = align.max(g.round(size).1);
                let best = model
                    .gaps()
                    .into_iter()
                    .filter_map(|(s, e)| {
                        let (s, e) = (s.max(min), e.min(max.saturating_add(1)));
                        (s < e).then(|| largest_in(s, e, align, g)).flatten()
                    })
                    .map(|b| b.1)
                    .filter(|&l| l >= size)
                    .max();
                let got = map.allocate_max(&req);
                if !full(&got) {
                    match (&got, best) {
                        (Ok(e), Some(len)) => {
                            prop_assert_eq!(e.len(), len);
                            prop_assert_eq!(e.start % align, 0);
                            prop_assert!(e.start >= min && e.end - 1 <= max);
                            prop_assert!(model.is_free(e.start, e.end));
                            model.res.push(Res {
                                start: e.start,
                                end: e.end,
                                ty,
                                flags: RangeFlags::NONE,
                                owner: Name::new(b""),
                            });
                        }
                        (Err(Error::MapNoSpace { .. }), None) => {}
                        (got, best) => {
                            prop_assert!(false, "{:?}: map {:?}, model {:?}", op, got, best)
                        }
                    }
                }
            }
            Op::Free(i, addr) | Op::Shrink(i, addr) if model.res.is_empty() => {
                let _ = i;
                prop_assert_eq!(map.free(addr), Err(Error::MapNotReserved { addr }));
            }
            Op::Free(i, _) => {
                let r = model.res[i % model.res.len()];
                let got = map.free(r.start).unwrap();
                prop_assert_eq!((got.start, got.end), (r.start, r.end));
                model.res.retain(|x| x.start != r.start);
                // Freeing twice is an error.
                prop_assert_eq!(
                    map.free(r.start),
                    Err(Error::MapNotReserved { addr: r.start })
                );
                let key2 = map.key();
                prop_assert_eq!(key2, key + 1);
            }
            Op::FreeAt(addr) => {
                let got = map.free(addr);
                match model.res.iter().position(|r| r.start == addr) {
                    Some(p) => {
                        prop_assert!(got.is_ok());
                        model.res.remove(p);
                    }
                    None => prop_assert_eq!(got, Err(Error::MapNotReserved { addr })),
                }
            }
            Op::Shrink(i, size) => {
                let idx = i % model.res.len();
                let r = model.res[idx];
                let (s, al) = granule(r.ty).round(size);
                let got = map.shrink(r.start, size);
                if !full(&got) {
                    if s == 0 || r.start % al != 0 || s > r.end - r.start {
                        prop_assert!(matches!(got, Err(Error::MapBadRequest { .. })), "{:?}", got);
                    } else {
                        let e = got.unwrap();
                        prop_assert_eq!((e.start, e.end), (r.start, r.start + s));
                        model.res[idx].end = r.start + s;
                    }
                }
            }
        }
        let after: Vec<MapEntry> = map.iter().collect();
        // The key moves exactly when the map changes; observers see every change.
        prop_assert_eq!(map.key() != key, after != before, "{:?}", op);
        prop_assert_eq!(changes.get(), map.key());
        check_invariants(&map, &model)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn map_agrees_with_model(ops in prop::collection::vec(op(), 1..80)) {
        // Enough slots for any sequence: MapFull never happens.
        let mut ops = ops;
        ops.insert(0, Op::AddBank(0));
        run(&ops, 1024)?;
    }

    #[test]
    fn running_out_of_slots_changes_nothing(
        ops in prop::collection::vec(op(), 1..60),
        capacity in 1usize..8,
    ) {
        let mut ops = ops;
        ops.insert(0, Op::AddBank(2));
        run(&ops, capacity)?;
    }
}

#[test]
fn many_reservations_stay_balanced_and_coalesce() {
    // 20 000 reservations in one bank, freed in a scattered order: the treap stays usable
    // (recursion depth is logarithmic) and the bank ends as one free range.
    let n = 20_000u64;
    let mut slots = vec![Slot::EMPTY; 2 * n as usize + 1];
    let mut map = MemoryMap::new(&mut slots);
    map.add_bank(0x1000_0000, 64 * n, BankKind::Ram, "ram")
        .unwrap();
    let mut starts = Vec::new();
    for i in 0..n {
        let req = Request::new(RangeType::Data, 1 + i % 32).align(32);
        starts.push(map.allocate(&req).unwrap().start);
    }
    for i in 0..n {
        let j = (i * 7919) % n;
        map.free(starts[j as usize]).unwrap();
    }
    assert_eq!(map.len(), 1);
    assert_eq!(map.largest_free(), 64 * n);
}

/// Found by the model test: an exact request that merges with a reservation below its
/// window returns the merged reservation, which reaches outside the window.
#[test]
fn a_merge_may_reach_outside_the_requests_window() {
    let ops = [
        Op::AddBank(0),
        Op::AllocMax {
            ty: 0,
            size: 1,
            align: 1,
            top: false,
            window: None,
        },
        Op::AddBank(2),
        Op::Alloc {
            ty: 2,
            size: 161,
            align: 1,
            place: Where::BottomUp,
            window: None,
            no_overwrite: false,
            merge: false,
            owner: 1,
        },
        Op::Alloc {
            ty: 0,
            size: 1,
            align: 1,
            place: Where::BottomUp,
            window: None,
            no_overwrite: false,
            merge: false,
            owner: 0,
        },
        Op::Free(851_677_758_071_056_259, 0),
        Op::Alloc {
            ty: 2,
            size: 1,
            align: 1,
            place: Where::At(1696),
            window: Some((1537, 1696)),
            no_overwrite: false,
            merge: true,
            owner: 1,
        },
    ];
    run(&ops, 1024).unwrap();
}
