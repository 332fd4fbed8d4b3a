//! Pictures of a memory map: a coloured text bar with a table, and an SVG drawing.
//!
//! Both show every range of the map in address order, by type and owner: free space,
//! extension regions (TEXT, RODATA, DATA, BSS), loader metadata, files and the firmware's
//! own ranges. A free range between two regions of one extension is drawn as that
//! extension's padding (alignment and protection-granule rounding). Sections used in place
//! inside a file (persistent or writable storage) can be marked on top of it.

use std::fmt::Write;

use elfext::memory::map::{Bank, BankKind};
use elfext::{MapEntry, RangeFlags, RangeType};

/// A section used in place: its bytes stay in the file's buffer instead of being copied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InPlace {
    /// The extension it belongs to.
    pub owner: String,
    /// The section's name.
    pub section: String,
    /// The region it serves as (`Text`, `Rodata`, ...).
    pub region: RangeType,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// What a picture shows besides the map's entries.
#[derive(Clone, Copy, Debug, Default)]
pub struct Extras<'a> {
    /// The map's banks, to name them (entries refer to them by index).
    pub banks: &'a [Bank],
    /// Sections used in place, drawn over the files that hold them.
    pub in_place: &'a [InPlace],
}

/// The coloured (ANSI, when `color`) text rendering of a map: per bank a bar, then a table.
// The shell's `map` command draws its registry's map with it.
#[allow(dead_code)]
pub fn text(entries: &[MapEntry], color: bool) -> String {
    text_with(entries, &Extras::default(), color)
}

/// The SVG rendering of a map.
// For the shell, beside `text`.
#[allow(dead_code)]
pub fn svg(entries: &[MapEntry]) -> String {
    svg_with(entries, &Extras::default())
}

/// What a row of the picture is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Range(RangeType),
    /// Free space between two regions of one extension.
    Padding,
}

#[derive(Clone, Debug)]
struct Row {
    start: u64,
    end: u64,
    kind: Kind,
    owner: String,
    flags: RangeFlags,
}

impl Row {
    fn len(&self) -> u64 {
        self.end - self.start
    }
}

fn is_region(t: RangeType) -> bool {
    matches!(
        t,
        RangeType::Text | RangeType::Rodata | RangeType::Data | RangeType::Bss
    )
}

/// The entries of each bank, in address order, with padding recognised.
fn banks_of(entries: &[MapEntry]) -> Vec<(u8, Vec<Row>)> {
    let mut out: Vec<(u8, Vec<Row>)> = Vec::new();
    for (i, e) in entries.iter().enumerate() {
        let prev = i.checked_sub(1).and_then(|j| entries.get(j));
        let next = entries.get(i + 1);
        let padding_of = match (prev, next) {
            (Some(p), Some(n))
                if e.ty == RangeType::Free
                    && p.bank == e.bank
                    && n.bank == e.bank
                    && p.end == e.start
                    && n.start == e.end
                    && is_region(p.ty)
                    && is_region(n.ty)
                    && p.owner == n.owner
                    && !p.owner.as_bytes().is_empty() =>
            {
                Some(p.owner.to_string())
            }
            _ => None,
        };
        let row = Row {
            start: e.start,
            end: e.end,
            kind: if padding_of.is_some() {
                Kind::Padding
            } else {
                Kind::Range(e.ty)
            },
            owner: padding_of.unwrap_or_else(|| e.owner.to_string()),
            flags: e.flags,
        };
        match out.last_mut() {
            Some((b, rows)) if *b == e.bank => rows.push(row),
            _ => out.push((e.bank, vec![row])),
        }
    }
    out
}

fn kind_name(k: Kind) -> String {
    match k {
        Kind::Range(t) => t.to_string(),
        Kind::Padding => "padding".into(),
    }
}

/// The letter of a kind in the text bar (lower case: used in place).
fn letter(k: Kind) -> char {
    match k {
        Kind::Padding => '_',
        Kind::Range(t) => match t {
            RangeType::Free => '.',
            RangeType::Firmware => 'W',
            RangeType::Text => 'T',
            RangeType::Rodata => 'R',
            RangeType::Data => 'D',
            RangeType::Bss => 'B',
            RangeType::Metadata => 'M',
            RangeType::File => 'F',
            RangeType::Device => 'V',
        },
    }
}

/// ANSI background colour code of a kind (`None`: terminal default).
fn ansi(k: Kind) -> Option<u8> {
    match k {
        Kind::Padding => Some(100),
        Kind::Range(t) => match t {
            RangeType::Free => None,
            RangeType::Firmware => Some(47),
            RangeType::Text => Some(41),
            RangeType::Rodata => Some(43),
            RangeType::Data => Some(42),
            RangeType::Bss => Some(46),
            RangeType::Metadata => Some(45),
            RangeType::File => Some(44),
            RangeType::Device => Some(105),
        },
    }
}

/// SVG fill colour of a kind.
fn fill(k: Kind) -> &'static str {
    match k {
        Kind::Padding => "url(#padding)",
        Kind::Range(t) => match t {
            RangeType::Free => "#f4f4f4",
            RangeType::Firmware => "#9e9e9e",
            RangeType::Text => "#e57373",
            RangeType::Rodata => "#ffd54f",
            RangeType::Data => "#81c784",
            RangeType::Bss => "#4dd0e1",
            RangeType::Metadata => "#ba68c8",
            RangeType::File => "#64b5f6",
            RangeType::Device => "#f06292",
        },
    }
}

/// Split `width` units among rows: every row gets at least one, the rest goes by size
/// (largest remainder), so small regions stay visible beside large free ranges.
fn widths(rows: &[Row], width: u64) -> Vec<u64> {
    let n = rows.len() as u64;
    let width = width.max(n);
    let spare = width - n;
    let total: u128 = rows
        .iter()
        .map(|r| u128::from(r.len()))
        .sum::<u128>()
        .max(1);
    let mut out: Vec<u64> = Vec::with_capacity(rows.len());
    let mut rem: Vec<(u128, usize)> = Vec::with_capacity(rows.len());
    for (i, r) in rows.iter().enumerate() {
        let exact = u128::from(r.len()) * u128::from(spare);
        out.push(1 + (exact / total) as u64);
        rem.push((exact % total, i));
    }
    let given: u64 = out.iter().sum();
    rem.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in rem.iter().take((width - given) as usize) {
        out[i] += 1;
    }
    out
}

/// The in-place section covering the bytes `[start, end)` of a file row, if any.
fn in_place_at(marks: &[InPlace], start: u64, end: u64) -> Option<&InPlace> {
    marks.iter().find(|m| m.start < end && start < m.end)
}

fn size_text(n: u64) -> String {
    if n >= 1 << 20 && n % (1 << 20) == 0 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n % (1 << 10) == 0 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}

fn bank_title(index: u8, rows: &[Row], banks: &[Bank]) -> String {
    let (start, end) = (
        rows.first().map_or(0, |r| r.start),
        rows.last().map_or(0, |r| r.end),
    );
    let bytes_of = |k: Kind| -> u64 { rows.iter().filter(|r| r.kind == k).map(Row::len).sum() };
    let free = bytes_of(Kind::Range(RangeType::Free));
    let padding = bytes_of(Kind::Padding);
    let used = (end - start) - free - padding;
    let name = match banks.get(usize::from(index)) {
        Some(b) => format!(
            "{} ({})",
            b.name,
            if b.kind == BankKind::Flash {
                "flash"
            } else {
                "RAM"
            }
        ),
        None => format!("bank {index}"),
    };
    let padding = if padding > 0 {
        format!(", {padding} B padding")
    } else {
        String::new()
    };
    format!(
        "{name} {start:#010x}-{end:#010x}, {}: {used} B in use{padding}, {free} B free",
        size_text(end - start)
    )
}

/// Columns of the text bar.
const BAR: u64 = 64;

/// The text rendering with bank names and in-place marks.
pub fn text_with(entries: &[MapEntry], extras: &Extras<'_>, color: bool) -> String {
    let mut out = String::new();
    let paint = |s: &str, k: Kind| match (color, ansi(k)) {
        (true, Some(c)) => format!("\x1b[30;{c}m{s}\x1b[0m"),
        _ => s.to_string(),
    };
    for (bank, rows) in banks_of(entries) {
        let _ = writeln!(out, "{}", bank_title(bank, &rows, extras.banks));
        // The bar.
        let w = widths(&rows, BAR);
        let mut bar = String::new();
        for (r, &cols) in rows.iter().zip(&w) {
            for c in 0..cols {
                // The bytes this column stands for, to mark in-place sections of a file.
                let from = r.start + r.len() * c / cols;
                let to = (r.start + r.len() * (c + 1) / cols).max(from + 1);
                let mark = (r.kind == Kind::Range(RangeType::File))
                    .then(|| in_place_at(extras.in_place, from, to))
                    .flatten();
                let ch = match mark {
                    Some(m) => letter(Kind::Range(m.region)).to_ascii_lowercase(),
                    None => letter(r.kind),
                };
                bar.push_str(&paint(&ch.to_string(), r.kind));
            }
        }
        let _ = writeln!(out, "  |{bar}|");
        // The table.
        let mut t = crate::table::Table::new(&[
            ("start", crate::table::Align::Left),
            ("end", crate::table::Align::Left),
            ("size", crate::table::Align::Right),
            ("type", crate::table::Align::Left),
            ("owner", crate::table::Align::Left),
            ("notes", crate::table::Align::Left),
        ]);
        let mut colored = Vec::new();
        for r in &rows {
            let note = if r.flags == RangeFlags::NONE {
                String::new()
            } else {
                r.flags.to_string()
            };
            t.row([
                format!("{:#010x}", r.start),
                format!("{:#010x}", r.end),
                format!("{} B", r.len()),
                kind_name(r.kind),
                r.owner.clone(),
                note,
            ]);
            colored.push(r.kind);
            if r.kind == Kind::Range(RangeType::File) {
                for m in extras
                    .in_place
                    .iter()
                    .filter(|m| m.start < r.end && r.start < m.end)
                {
                    t.row([
                        format!("{:#010x}", m.start),
                        format!("{:#010x}", m.end),
                        format!("{} B", m.end - m.start),
                        format!("{} in place", m.region),
                        m.owner.clone(),
                        format!("{} used from the file, not copied", m.section),
                    ]);
                    colored.push(Kind::Range(m.region));
                }
            }
        }
        // Colour the type cell of each row (after layout, so widths are unaffected).
        let mut lines = t.to_string();
        if color {
            let mut painted = String::new();
            let mut kinds = colored.iter();
            for (i, line) in lines.lines().enumerate() {
                if i >= 2 {
                    if let Some(&k) = kinds.next() {
                        let name = match k {
                            Kind::Range(t) if line.contains(" in place ") => {
                                format!("{t} in place")
                            }
                            k => kind_name(k),
                        };
                        if let Some(at) = line.find(&format!("  {name} ")) {
                            let (a, b) = line.split_at(at + 2);
                            let _ = writeln!(painted, "{a}{}{}", paint(&name, k), &b[name.len()..]);
                            continue;
                        }
                    }
                }
                let _ = writeln!(painted, "{line}");
            }
            lines = painted;
        }
        out.push_str(&lines);
        out.push('\n');
    }
    let mut legend = String::from("legend:");
    for k in LEGEND {
        let _ = write!(
            legend,
            " {} {}",
            paint(&letter(k).to_string(), k),
            kind_name(k)
        );
    }
    out.push_str(&legend);
    out.push_str("; t r d: sections used in place inside a file\n");
    out
}

/// The kinds a legend explains, in the order it lists them.
const LEGEND: [Kind; 10] = [
    Kind::Range(RangeType::Text),
    Kind::Range(RangeType::Rodata),
    Kind::Range(RangeType::Data),
    Kind::Range(RangeType::Bss),
    Kind::Range(RangeType::Metadata),
    Kind::Range(RangeType::File),
    Kind::Range(RangeType::Firmware),
    Kind::Range(RangeType::Device),
    Kind::Padding,
    Kind::Range(RangeType::Free),
];

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Pixel width of the SVG bars.
const SVG_BAR: u64 = 900;
const SVG_LEFT: u64 = 20;
const ROW_H: u64 = 16;

/// The SVG rendering with bank names and in-place marks.
pub fn svg_with(entries: &[MapEntry], extras: &Extras<'_>) -> String {
    let banks = banks_of(entries);
    let mut body = String::new();
    let mut y = 20u64;
    for (bank, rows) in &banks {
        let _ = writeln!(
            body,
            r#"<text x="{SVG_LEFT}" y="{y}" class="title">{}</text>"#,
            xml(&bank_title(*bank, rows, extras.banks))
        );
        y += 10;
        let w = widths(rows, SVG_BAR);
        let mut x = SVG_LEFT;
        for (r, &px) in rows.iter().zip(&w) {
            let label = match r.kind {
                Kind::Range(RangeType::Free) => "free".to_string(),
                k if r.owner.is_empty() => kind_name(k),
                k => format!("{} {}", kind_name(k), r.owner),
            };
            let _ = writeln!(
                body,
                r##"<rect x="{x}" y="{y}" width="{px}" height="40" fill="{}" stroke="#555" stroke-width="0.5"><title>{} [{:#x}, {:#x}) {} B</title></rect>"##,
                fill(r.kind),
                xml(&label),
                r.start,
                r.end,
                r.len()
            );
            if r.kind == Kind::Range(RangeType::File) {
                for m in extras
                    .in_place
                    .iter()
                    .filter(|m| m.start < r.end && r.start < m.end)
                {
                    let a = m.start.max(r.start) - r.start;
                    let b = m.end.min(r.end) - r.start;
                    let mx = x + a * px / r.len().max(1);
                    let mw = ((b - a) * px / r.len().max(1)).max(1);
                    let _ = writeln!(
                        body,
                        r##"<rect x="{mx}" y="{}" width="{mw}" height="20" fill="{}" stroke="#333" stroke-dasharray="2,1"><title>{} of {} in place [{:#x}, {:#x}) {} B</title></rect>"##,
                        y + 20,
                        fill(Kind::Range(m.region)),
                        xml(&m.section),
                        xml(&m.owner),
                        m.start,
                        m.end,
                        m.end - m.start
                    );
                }
            }
            if px >= 8 * label.len() as u64 {
                let _ = writeln!(
                    body,
                    r#"<text x="{}" y="{}" class="label" text-anchor="middle">{}</text>"#,
                    x + px / 2,
                    y + 16,
                    xml(&label)
                );
            }
            x += px;
        }
        y += 58;
        // The table under the bar.
        for r in rows {
            let _ = writeln!(
                body,
                r##"<rect x="{SVG_LEFT}" y="{}" width="10" height="10" fill="{}" stroke="#555" stroke-width="0.5"/><text x="{}" y="{y}" class="row">{:#010x}-{:#010x} {:>9} B  {:<9} {}{}</text>"##,
                y - 9,
                fill(r.kind),
                SVG_LEFT + 16,
                r.start,
                r.end,
                r.len(),
                xml(&kind_name(r.kind)),
                xml(&r.owner),
                if r.flags == RangeFlags::NONE {
                    String::new()
                } else {
                    format!("  ({})", r.flags)
                }
            );
            y += ROW_H;
            if r.kind == Kind::Range(RangeType::File) {
                for m in extras
                    .in_place
                    .iter()
                    .filter(|m| m.start < r.end && r.start < m.end)
                {
                    let _ = writeln!(
                        body,
                        r#"<text x="{}" y="{y}" class="row">  {:#010x}-{:#010x} {:>9} B  {} in place: {} of {}</text>"#,
                        SVG_LEFT + 16,
                        m.start,
                        m.end,
                        m.end - m.start,
                        m.region,
                        xml(&m.section),
                        xml(&m.owner)
                    );
                    y += ROW_H;
                }
            }
        }
        y += 20;
    }
    // Legend.
    let mut x = SVG_LEFT;
    // One row of 100 px entries: device memory is left out so that the row fits the width.
    for k in LEGEND
        .into_iter()
        .filter(|&k| k != Kind::Range(RangeType::Device))
    {
        let _ = writeln!(
            body,
            r##"<rect x="{x}" y="{}" width="12" height="12" fill="{}" stroke="#555" stroke-width="0.5"/><text x="{}" y="{y}" class="row">{}</text>"##,
            y - 10,
            fill(k),
            x + 16,
            xml(&kind_name(k))
        );
        x += 100;
    }
    y += 12;
    let _ = writeln!(
        body,
        r#"<text x="{SVG_LEFT}" y="{}" class="row">A small box inside a file: a section used in place (not copied).</text>"#,
        y + 6
    );
    y += 16;
    let width = SVG_BAR + 2 * SVG_LEFT;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y}" viewBox="0 0 {width} {y}">
<defs><pattern id="padding" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#eeeeee"/><line x1="0" y1="0" x2="0" y2="6" stroke="#888" stroke-width="2"/></pattern></defs>
<style>text {{ font-family: monospace; font-size: 12px; }} .title {{ font-weight: bold; font-size: 13px; }} .label {{ font-size: 11px; }} .row {{ white-space: pre; }}</style>
<rect width="100%" height="100%" fill="white"/>
{body}</svg>
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use elfext::memory::map::Request;
    use elfext::memory::map::Slot;
    use elfext::MemoryMap;

    fn sample() -> Vec<MapEntry> {
        let mut slots = vec![Slot::EMPTY; 16];
        let mut map = MemoryMap::new(&mut slots);
        map.add_bank(0x1000, 0x1000, BankKind::Ram, "ram").unwrap();
        map.allocate(&Request::new(RangeType::Text, 0x40).at(0x1000).owner("a"))
            .unwrap();
        map.allocate(&Request::new(RangeType::Data, 0x20).at(0x1080).owner("a"))
            .unwrap();
        map.allocate(
            &Request::new(RangeType::Metadata, 0x30)
                .at(0x1f00)
                .owner("a"),
        )
        .unwrap();
        map.iter().collect()
    }

    #[test]
    fn widths_fill_the_bar_and_keep_small_ranges_visible() {
        let rows = banks_of(&sample()).remove(0).1;
        let w = widths(&rows, 64);
        assert_eq!(w.iter().sum::<u64>(), 64);
        assert!(w.iter().all(|&c| c >= 1));
    }

    #[test]
    fn gap_between_regions_of_one_owner_is_padding() {
        let rows = banks_of(&sample()).remove(0).1;
        let kinds: Vec<Kind> = rows.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                Kind::Range(RangeType::Text),
                Kind::Padding,
                Kind::Range(RangeType::Data),
                Kind::Range(RangeType::Free),
                Kind::Range(RangeType::Metadata),
                Kind::Range(RangeType::Free),
            ]
        );
        assert_eq!(rows[1].owner, "a");
        let out = text(&sample(), false);
        let row: Vec<&str> = out
            .lines()
            .find(|l| l.contains("padding   a"))
            .unwrap_or_else(|| panic!("{out}"))
            .split_whitespace()
            .collect();
        assert_eq!(row, ["0x00001040", "0x00001080", "64", "B", "padding", "a"]);
        assert!(
            out.contains("144 B in use, 64 B padding, 3888 B free"),
            "{out}"
        );
        assert!(!out.contains('\x1b'));
        assert!(text(&sample(), true).contains("\x1b[30;41m"));
    }

    #[test]
    fn svg_is_one_document_with_escaped_names() {
        let s = svg(&sample());
        assert!(s.starts_with("<svg"));
        assert!(s.trim_end().ends_with("</svg>"));
        assert_eq!(s.matches("<svg").count(), 1);
        assert!(s.contains("TEXT a"));
        assert_eq!(xml("a<b>&\""), "a&lt;b&gt;&amp;&quot;");
    }
}
