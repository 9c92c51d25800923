//! XLSX workbooks: the first worksheet, read cell by cell with calamine.
//!
//! A workbook is a zip archive, so before calamine opens it the central directory is checked
//! against entry-count and unpacked-size limits (the zip reader refuses to inflate an entry past
//! its declared size, so declared sizes bound memory). The sheet is then streamed, and the row and
//! column limits apply to cells that hold something: a stray formatted cell at row 1,048,576 costs
//! nothing. Formulas are never evaluated; their cached values are read.

use crate::{
    Cell, ImportError, Table,
    table::{MAX_CELLS, MAX_COLUMNS, MAX_ROWS, TableBuilder},
};
use calamine::{DataRef, Reader, Xlsx};
use chrono::{Days, NaiveDate, NaiveTime};
use std::collections::BTreeMap;
use std::io::Cursor;

/// A register workbook has about ten entries; Excel itself writes a few dozen at most.
const MAX_ZIP_ENTRIES: usize = 1_000;
/// What all entries may unpack to together. A 200,000-row sheet is well under this.
pub const MAX_UNPACKED_BYTES: u64 = 512 * 1024 * 1024;

pub(crate) fn read(bytes: &[u8]) -> Result<Table, ImportError> {
    check_archive(bytes)?;
    // calamine parses untrusted XML; should it ever panic on a malformed file, the user gets a
    // refused file rather than a crashed import.
    std::panic::catch_unwind(|| read_first_sheet(bytes))
        .unwrap_or_else(|_| Err(ImportError::Xlsx("the workbook is malformed".to_string())))
}

fn check_archive(bytes: &[u8]) -> Result<(), ImportError> {
    let archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ImportError::Xlsx(e.to_string()))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(ImportError::Xlsx(format!("it has {} parts, more than {MAX_ZIP_ENTRIES}", archive.len())));
    }
    let mut unpacked: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive.by_index_data(index).map_err(|e| ImportError::Xlsx(e.to_string()))?;
        unpacked = unpacked.saturating_add(entry.size());
    }
    if unpacked > MAX_UNPACKED_BYTES {
        return Err(ImportError::XlsxTooLarge { limit: MAX_UNPACKED_BYTES });
    }
    Ok(())
}

fn read_first_sheet(bytes: &[u8]) -> Result<Table, ImportError> {
    let xlsx_error = |e: calamine::XlsxError| ImportError::Xlsx(e.to_string());
    let mut workbook = Xlsx::new(Cursor::new(bytes)).map_err(xlsx_error)?;
    let is_1904 = workbook.has_1904_epoch();
    let sheet = workbook.sheet_names().into_iter().next().ok_or(ImportError::NoWorksheet)?;
    let mut reader = workbook.worksheet_cells_reader(&sheet).map_err(xlsx_error)?;
    // Cells normally arrive row by row, but nothing in the format promises it.
    let mut rows: BTreeMap<u32, Vec<Cell>> = BTreeMap::new();
    // Cells held, blank ones padding a row included.
    let mut held = 0;
    while let Some(cell) = reader.next_cell().map_err(xlsx_error)? {
        let value = convert(cell.get_value(), is_1904);
        if value.is_blank() {
            continue;
        }
        let (row, column) = cell.get_position();
        let column = column as usize;
        if column >= MAX_COLUMNS {
            return Err(ImportError::TooManyColumns { limit: MAX_COLUMNS });
        }
        // The header row plus the data rows.
        if rows.len() > MAX_ROWS && !rows.contains_key(&row) {
            return Err(ImportError::TooManyRows { limit: MAX_ROWS });
        }
        let cells = rows.entry(row).or_default();
        if cells.len() <= column {
            held += column + 1 - cells.len();
            if held > MAX_CELLS {
                return Err(ImportError::TooManyCells { limit: MAX_CELLS });
            }
            cells.resize(column + 1, Cell::Empty);
        }
        cells[column] = value;
    }
    let mut builder = TableBuilder::default();
    for (row, cells) in rows {
        builder.push(row as usize + 1, cells)?;
    }
    builder.finish()
}

fn convert(value: &DataRef<'_>, is_1904: bool) -> Cell {
    match value {
        DataRef::Empty => Cell::Empty,
        DataRef::Int(i) => Cell::Number(*i as f64),
        DataRef::Float(f) => Cell::Number(*f),
        DataRef::String(s) | DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text((*s).to_string()),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(dt) if dt.is_datetime() => {
            let serial = dt.as_f64();
            match serial_to_date(serial, is_1904) {
                None => Cell::Number(serial),
                Some(day) if serial.fract() == 0.0 => Cell::Date(day),
                // Whole milliseconds of the day: 15:30 is stored as 0.645833…, a hair below.
                Some(day) => Cell::DateTime(
                    day.and_time(NaiveTime::MIN)
                        + chrono::Duration::milliseconds((serial.fract() * 86_400_000.0).round() as i64),
                ),
            }
        }
        DataRef::DateTime(dt) => Cell::Number(dt.as_f64()),
        DataRef::Error(e) => Cell::Error(e.to_string()),
    }
}

/// The day of an Excel serial date. In the 1900 system Excel counts a 29 February 1900 that never
/// was, so serials from 61 on are one day ahead of a plain count from 31 December 1899.
/// (calamine's own `as_datetime`, behind its `dates` feature, panics on a serial of -1e300 in a
/// date-formatted cell; this returns `None` outside Excel's range.)
fn serial_to_date(serial: f64, is_1904: bool) -> Option<NaiveDate> {
    if !(0.0..=2_958_465.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as u64;
    let (epoch, days) = if is_1904 {
        (NaiveDate::from_ymd_opt(1904, 1, 1)?, days)
    } else if days >= 61 {
        (NaiveDate::from_ymd_opt(1899, 12, 30)?, days)
    } else {
        (NaiveDate::from_ymd_opt(1899, 12, 31)?, days)
    };
    epoch.checked_add_days(Days::new(days))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_dates() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(serial_to_date(29221.0, false), d(1980, 1, 1));
        assert_eq!(serial_to_date(44840.75, false), d(2022, 10, 6));
        assert_eq!(serial_to_date(1.0, false), d(1900, 1, 1));
        assert_eq!(serial_to_date(61.0, false), d(1900, 3, 1));
        assert_eq!(serial_to_date(0.0, true), d(1904, 1, 1));
        assert_eq!(serial_to_date(-1.0, false), None);
        assert_eq!(serial_to_date(f64::NAN, false), None);
        assert_eq!(serial_to_date(1e300, false), None);
    }

    #[test]
    fn not_a_zip() {
        assert!(matches!(read(b"PK\x03\x04 and then nothing"), Err(ImportError::Xlsx(_))));
    }
}
