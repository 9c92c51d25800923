//! A spreadsheet as read from a file: a header row and data rows of typed cells, before any
//! column is given a meaning.
//!
//! Cells keep whether they were text or a number, because the difference matters: an 18-digit ID
//! number that Excel stored as a number has already lost its last digits.

use crate::{ImportError, csv_file, xlsx_file};
use chrono::{NaiveDate, NaiveDateTime};
use std::borrow::Cow;

/// Files larger than this are refused before being looked at.
pub const MAX_FILE_BYTES: usize = 20 * 1024 * 1024;
/// Data rows (the header not counted) above this are refused.
pub const MAX_ROWS: usize = 200_000;
/// Columns above this are refused (a register has a dozen).
pub const MAX_COLUMNS: usize = 1_000;
/// Cells (blank ones inside a row included) above this are refused: 200,000 rows of 40 columns.
/// The row and column limits alone would let a small file with one cell far right on every row
/// take gigabytes.
pub const MAX_CELLS: usize = 8_000_000;

/// One cell as the file stored it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A numeric cell of a workbook. CSV files only have text.
    Number(f64),
    Bool(bool),
    /// A workbook cell formatted as a date, holding a whole day.
    Date(NaiveDate),
    /// A workbook cell formatted as a date, holding a time of day too (in the sheet's own time:
    /// Excel has no time zones).
    DateTime(NaiveDateTime),
    /// An Excel error value such as `#N/A`.
    Error(String),
}

impl Cell {
    /// Empty, or text made only of whitespace.
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }

    /// The value as a person sees it in the sheet, trimmed: integral numbers as their digits
    /// (`13812345678`, not `13812345678.0`), dates as `YYYY-MM-DD`.
    pub fn display(&self) -> Cow<'_, str> {
        match self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(s) => Cow::Borrowed(s.trim()),
            Cell::Number(n) => Cow::Owned(format_number(*n)),
            Cell::Bool(b) => Cow::Borrowed(if *b { "TRUE" } else { "FALSE" }),
            Cell::Date(d) => Cow::Owned(d.to_string()),
            Cell::DateTime(t) => Cow::Owned(t.format("%Y-%m-%d %H:%M:%S").to_string()),
            Cell::Error(e) => Cow::Borrowed(e),
        }
    }
}

/// Integral values print as all their digits, rounded to the 15 significant digits Excel keeps
/// (`440785199001011000`, not the `…1008` the `f64` holds); others in the shortest form that
/// reads back the same.
pub(crate) fn format_number(n: f64) -> String {
    if !(n.is_finite() && n.fract() == 0.0 && n.abs() < 1e21) {
        return format!("{n}");
    }
    if n.abs() < 1e15 {
        return format!("{n:.0}");
    }
    // `4.40785199001011e17`: the mantissa's 15 digits, then zeros up to the exponent.
    let scientific = format!("{:.14e}", n.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let width = exponent.parse::<usize>().unwrap_or(0) + 1;
    let sign = if n < 0.0 { "-" } else { "" };
    format!("{sign}{digits:0<width$}")
}

/// A data row and its number as the user sees it in the spreadsheet (the header is usually row 1).
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub number: usize,
    pub cells: Vec<Cell>,
}

impl TableRow {
    /// The cell in column `index`; [`Cell::Empty`] past the end of the row.
    pub fn cell(&self, index: usize) -> &Cell {
        self.cells.get(index).unwrap_or(&Cell::Empty)
    }
}

/// A header row and the data rows under it. Blank rows are left out (their numbers are skipped),
/// so every row here has at least one non-blank cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The headers as they appear in the file, trimmed; `""` for a column without one. There are
    /// as many as the widest row has cells.
    pub headers: Vec<String>,
    /// The spreadsheet row number of the header: the first non-blank row that is not a title.
    pub header_row: usize,
    /// Title lines above the header (a row with a single cell, such as "湴朗村居民花名册" or a
    /// date line), as Chinese offices put them on top of their registers. They are skipped.
    pub titles: Vec<String>,
    pub rows: Vec<TableRow>,
}

/// Reads an XLSX workbook (first worksheet) or a CSV file, told apart by the zip magic number.
/// CSV text may be UTF-8 (with or without a BOM), GB18030/GBK as Chinese Excel saves it, or
/// UTF-16 with a BOM (Excel's "Unicode text", tab-separated).
pub fn read_table(bytes: &[u8]) -> Result<Table, ImportError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(ImportError::FileTooLarge { size: bytes.len(), limit: MAX_FILE_BYTES });
    }
    if bytes.starts_with(b"PK\x03\x04") {
        xlsx_file::read(bytes)
    } else if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Err(ImportError::LegacyXls)
    } else {
        csv_file::read(bytes)
    }
}

/// Title rows skipped above the header at most. A register's header has at least two columns (a
/// name and a document), so one-cell rows before the first wider row are titles.
const MAX_TITLE_ROWS: usize = 5;

/// Collects rows in sheet order and enforces the row and column limits as rows arrive, so an
/// oversized file stops early. The header is the first row with two or more cells, when up to
/// [`MAX_TITLE_ROWS`] one-cell rows (titles) come before it; otherwise the first non-blank row.
#[derive(Default)]
pub(crate) struct TableBuilder {
    header: Option<(usize, Vec<Cell>)>,
    /// One-cell rows seen before any header: titles, unless no wider row follows.
    leading: Vec<(usize, Vec<Cell>)>,
    rows: Vec<TableRow>,
    width: usize,
    cells: usize,
}

impl TableBuilder {
    /// Adds the row numbered `number` (1-based, as shown in the sheet). Blank rows are dropped.
    pub(crate) fn push(&mut self, number: usize, mut cells: Vec<Cell>) -> Result<(), ImportError> {
        while cells.last().is_some_and(Cell::is_blank) {
            cells.pop();
        }
        if cells.is_empty() {
            return Ok(());
        }
        if cells.len() > MAX_COLUMNS {
            return Err(ImportError::TooManyColumns { limit: MAX_COLUMNS });
        }
        self.cells += cells.len();
        if self.cells > MAX_CELLS {
            return Err(ImportError::TooManyCells { limit: MAX_CELLS });
        }
        self.width = self.width.max(cells.len());
        if self.header.is_none() {
            let one_cell = cells.iter().filter(|c| !c.is_blank()).count() == 1;
            if one_cell && self.leading.len() < MAX_TITLE_ROWS {
                self.leading.push((number, cells));
                return Ok(());
            }
            if !one_cell {
                // The one-cell rows above were titles: a wider row is the header.
                self.width = cells.len();
                self.header = Some((number, cells));
                return Ok(());
            }
            // Too many one-cell rows for titles: a one-column file. Its first row is the header.
            self.promote_leading_to_rows();
        }
        if self.header.is_none() {
            self.header = Some((number, cells));
        } else if self.rows.len() == MAX_ROWS {
            return Err(ImportError::TooManyRows { limit: MAX_ROWS });
        } else {
            self.rows.push(TableRow { number, cells });
        }
        Ok(())
    }

    /// Takes the one-cell rows seen so far as the header and data of a one-column file.
    fn promote_leading_to_rows(&mut self) {
        let mut leading = std::mem::take(&mut self.leading).into_iter();
        self.header = leading.next();
        self.rows.extend(leading.map(|(number, cells)| TableRow { number, cells }));
    }

    pub(crate) fn finish(mut self) -> Result<Table, ImportError> {
        if self.header.is_none() {
            self.promote_leading_to_rows();
        }
        let (header_row, header) = self.header.ok_or(ImportError::Empty)?;
        let mut headers: Vec<String> = header.iter().map(|c| c.display().into_owned()).collect();
        headers.resize(self.width, String::new());
        let titles = self
            .leading
            .iter()
            .map(|(_, cells)| {
                cells.iter().find(|c| !c.is_blank()).map(|c| c.display().into_owned()).unwrap_or_default()
            })
            .collect();
        Ok(Table { headers, header_row, titles, rows: self.rows })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_display_as_people_see_them() {
        assert_eq!(Cell::Number(13812345678.0).display(), "13812345678");
        assert_eq!(Cell::Number(4.40785199001011e17).display(), "440785199001011000");
        assert_eq!(Cell::Number(-4.40785199001011e17).display(), "-440785199001011000");
        assert_eq!(Cell::Number(123456789012345.0).display(), "123456789012345");
        assert_eq!(Cell::Number(1e20).display(), "100000000000000000000");
        assert_eq!(Cell::Number(1e21).display(), "1000000000000000000000");
        assert_eq!(Cell::Number(1.5).display(), "1.5");
        assert_eq!(Cell::Number(f64::NAN).display(), "NaN");
        assert_eq!(Cell::Text("  张三 ".into()).display(), "张三");
    }

    #[test]
    fn builder_skips_blank_rows_and_pads_headers() {
        let mut b = TableBuilder::default();
        b.push(1, vec![Cell::Empty, Cell::Text(" ".into())]).unwrap();
        b.push(2, vec![Cell::Text("姓名".into()), Cell::Text("身份证号".into()), Cell::Empty]).unwrap();
        b.push(3, vec![Cell::Text("a".into()), Cell::Text("b".into()), Cell::Text("c".into()), Cell::Empty]).unwrap();
        b.push(4, vec![]).unwrap();
        let table = b.finish().unwrap();
        assert_eq!(table.header_row, 2);
        assert!(table.titles.is_empty());
        assert_eq!(table.headers, vec!["姓名".to_string(), "身份证号".to_string(), String::new()]);
        assert_eq!(table.rows.len(), 1);
        assert_eq!(table.rows[0].number, 3);
        assert_eq!(table.rows[0].cell(7), &Cell::Empty);
    }

    #[test]
    fn builder_skips_title_rows_above_the_header() {
        let mut b = TableBuilder::default();
        b.push(1, vec![Cell::Text("圣堂镇湴朗村居民花名册".into()), Cell::Empty, Cell::Empty]).unwrap();
        b.push(2, vec![Cell::Empty, Cell::Empty, Cell::Text("2022年10月6日".into())]).unwrap();
        b.push(3, vec![Cell::Text("姓名".into()), Cell::Text("身份证号".into())]).unwrap();
        b.push(4, vec![Cell::Text("某".into())]).unwrap();
        let table = b.finish().unwrap();
        assert_eq!(table.titles, vec!["圣堂镇湴朗村居民花名册".to_string(), "2022年10月6日".to_string()]);
        assert_eq!(table.header_row, 3);
        assert_eq!(table.headers, vec!["姓名".to_string(), "身份证号".to_string()]);
        // A one-cell row below the header is data, not a title.
        assert_eq!(table.rows.len(), 1);
        assert_eq!(table.rows[0].number, 4);
    }

    #[test]
    fn a_one_column_file_keeps_its_first_row_as_the_header() {
        let mut b = TableBuilder::default();
        for (n, v) in ["姓名", "张三", "李四"].iter().enumerate() {
            b.push(n + 1, vec![Cell::Text((*v).into())]).unwrap();
        }
        let table = b.finish().unwrap();
        assert_eq!((table.header_row, table.headers.clone(), table.rows.len()), (1, vec!["姓名".to_string()], 2));
        let mut b = TableBuilder::default();
        for n in 1..=8 {
            b.push(n, vec![Cell::Text(format!("r{n}"))]).unwrap();
        }
        let table = b.finish().unwrap();
        assert_eq!((table.header_row, table.rows.len()), (1, 7));
        assert!(table.titles.is_empty());
    }

    #[test]
    fn builder_without_rows_is_empty() {
        assert_eq!(TableBuilder::default().finish(), Err(ImportError::Empty));
    }

    #[test]
    fn limits() {
        let mut b = TableBuilder::default();
        assert_eq!(
            b.push(1, vec![Cell::Text("x".into()); MAX_COLUMNS + 1]),
            Err(ImportError::TooManyColumns { limit: MAX_COLUMNS })
        );
        let mut b = TableBuilder::default();
        let wide = vec![Cell::Text("x".into()); MAX_COLUMNS];
        let result = (1..).map(|n| b.push(n, wide.clone())).find(Result::is_err).unwrap();
        assert_eq!(result, Err(ImportError::TooManyCells { limit: MAX_CELLS }));
        assert!(b.rows.len() < MAX_ROWS);
        assert!(matches!(read_table(&vec![b'a'; MAX_FILE_BYTES + 1]), Err(ImportError::FileTooLarge { .. })));
        assert_eq!(read_table(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0]), Err(ImportError::LegacyXls));
    }
}
