//! Plain-text tables with aligned columns.

use std::fmt;

use elfext::LoadReport;

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text: flush left.
    Left,
    /// Numbers: flush right.
    Right,
}

enum Line {
    Cells(Vec<String>),
    Rule,
}

/// A table: a header row, a dashed rule, then rows (and rules between groups of rows).
pub struct Table {
    headers: Vec<&'static str>,
    align: Vec<Align>,
    lines: Vec<Line>,
}

/// Indentation of every table line.
const INDENT: &str = "  ";
/// Space between columns.
const GAP: &str = "  ";

impl Table {
    /// A table with these columns.
    pub fn new(columns: &[(&'static str, Align)]) -> Self {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            align: columns.iter().map(|c| c.1).collect(),
            lines: Vec::new(),
        }
    }

    /// Add a row; missing cells are blank, extra cells are an error of the caller.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut cells: Vec<String> = cells.into_iter().map(Into::into).collect();
        debug_assert!(cells.len() <= self.headers.len(), "row has too many cells");
        cells.resize(self.headers.len(), String::new());
        self.lines.push(Line::Cells(cells));
    }

    /// Add a dashed rule (before a total, or between groups).
    pub fn rule(&mut self) {
        self.lines.push(Line::Rule);
    }

    fn widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for line in &self.lines {
            if let Line::Cells(cells) = line {
                for (w, c) in w.iter_mut().zip(cells) {
                    *w = (*w).max(c.chars().count());
                }
            }
        }
        w
    }
}

fn write_cells(
    f: &mut fmt::Formatter<'_>,
    cells: &[&str],
    widths: &[usize],
    align: &[Align],
) -> fmt::Result {
    let mut line = String::from(INDENT);
    for (i, ((cell, &width), &align)) in cells.iter().zip(widths).zip(align).enumerate() {
        if i > 0 {
            line.push_str(GAP);
        }
        let pad = width - cell.chars().count();
        match align {
            Align::Left => {
                line.push_str(cell);
                line.extend(std::iter::repeat_n(' ', pad));
            }
            Align::Right => {
                line.extend(std::iter::repeat_n(' ', pad));
                line.push_str(cell);
            }
        }
    }
    writeln!(f, "{}", line.trim_end())
}

fn write_rule(f: &mut fmt::Formatter<'_>, widths: &[usize]) -> fmt::Result {
    let dashes: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    writeln!(f, "{INDENT}{}", dashes.join(GAP))
}

/// The columns a load-report table has after its first: region bytes, padding, metadata and
/// heap, as [`load_report_cells`] fills them.
const LOAD_REPORT: [(&str, Align); 7] = [
    ("TEXT", Align::Right),
    ("RODATA", Align::Right),
    ("DATA", Align::Right),
    ("BSS", Align::Right),
    ("padding", Align::Right),
    ("metadata", Align::Right),
    ("heap", Align::Right),
];

impl Table {
    /// A table of what loads cost: a `first` column of names, the bytes of TEXT, RODATA,
    /// DATA and BSS, padding, metadata and heap, then the columns `more`.
    pub fn load_reports(first: &'static str, more: &[(&'static str, Align)]) -> Self {
        let mut columns = vec![(first, Align::Left)];
        columns.extend(LOAD_REPORT);
        columns.extend_from_slice(more);
        Table::new(&columns)
    }
}

/// The cells of a [`Table::load_reports`] row up to its heap column: `first`, then `r`'s
/// region bytes, padding, metadata and heap bytes. The caller adds the cells of its own
/// columns.
pub fn load_report_cells(first: impl Into<String>, r: &LoadReport) -> Vec<String> {
    let mut cells = vec![first.into()];
    cells.extend(r.regions.iter().map(u64::to_string));
    cells.extend([r.padding, r.metadata, r.heap_bytes()].map(|n| n.to_string()));
    cells
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let widths = self.widths();
        write_cells(f, &self.headers, &widths, &self.align)?;
        write_rule(f, &widths)?;
        for line in &self.lines {
            match line {
                Line::Cells(cells) => {
                    let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
                    write_cells(f, &cells, &widths, &self.align)?;
                }
                Line::Rule => write_rule(f, &widths)?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up() {
        let mut t = Table::new(&[("name", Align::Left), ("bytes", Align::Right)]);
        t.row(["greet", "4096"]);
        t.row(["mathlib", "12"]);
        t.rule();
        t.row(["total", "4108"]);
        let expected = concat!(
            "  name     bytes\n",
            "  -------  -----\n",
            "  greet     4096\n",
            "  mathlib     12\n",
            "  -------  -----\n",
            "  total     4108\n",
        );
        assert_eq!(t.to_string(), expected);
    }

    #[test]
    fn short_rows_are_padded_and_trailing_blanks_trimmed() {
        let mut t = Table::new(&[("a", Align::Left), ("b", Align::Left)]);
        t.row(["x"]);
        assert_eq!(t.to_string(), "  a  b\n  -  -\n  x\n");
    }
}
