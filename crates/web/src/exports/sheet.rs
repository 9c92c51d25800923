//! The one XLSX writer every export uses: a header row in the caller's language (bold, frozen,
//! with a filter), column widths, and cells typed for what they hold. ID numbers, phones and codes
//! are text cells with the number format `@` (Excel keeps only 15 significant digits of a number,
//! and `4.40785E+17` is no ID number); times are real datetime cells in China time (UTC+8) shown
//! as `yyyy-mm-dd hh:mm`, so they sort and filter as times; counts are numbers.

use crate::i18n::Tr;
use bulwark_app::AppError;
use bulwark_domain::Millis;
use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatBorder, Workbook, Worksheet, XlsxError};

/// China time: what every sheet shows (UTC+8, no daylight saving).
const LOCAL_OFFSET_SECONDS: i64 = 8 * 3600;

/// Excel refuses sheet names longer than this.
const SHEET_NAME_MAX: usize = 31;

fn xlsx(e: XlsxError) -> AppError {
    AppError::Internal(format!("xlsx: {e}"))
}

/// A column: its header (a Fluent key), its width in characters, and whether it holds text that
/// looks like a number (the whole column is then formatted as text, also for cells typed later).
pub(crate) struct Column {
    pub key: &'static str,
    pub width: f64,
    pub text: bool,
}

/// A column of words, numbers or times.
pub(crate) const fn col(key: &'static str, width: f64) -> Column {
    Column { key, width, text: false }
}

/// A column of ID numbers, phones or codes: text, never numbers.
pub(crate) const fn text_col(key: &'static str, width: f64) -> Column {
    Column { key, width, text: true }
}

/// A cell and how it is written.
pub(crate) enum Cell {
    /// Words.
    Text(String),
    /// Digits that must stay text (ID numbers, phones, tube and area codes): format `@`.
    Code(String),
    /// A moment, written as an Excel datetime in China time.
    Time(Millis),
    /// A count or an amount.
    Number(f64),
    /// A share (0.935), shown as a percentage with one decimal (93.5%).
    Share(f64),
    Empty,
}

impl Cell {
    pub(crate) fn text(s: impl Into<String>) -> Cell {
        Cell::Text(s.into())
    }

    pub(crate) fn maybe_text(s: Option<impl Into<String>>) -> Cell {
        s.map_or(Cell::Empty, |s| Cell::Text(s.into()))
    }

    pub(crate) fn code(s: Option<impl Into<String>>) -> Cell {
        s.map_or(Cell::Empty, |s| Cell::Code(s.into()))
    }

    pub(crate) fn time(at: Option<Millis>) -> Cell {
        at.map_or(Cell::Empty, Cell::Time)
    }

    pub(crate) fn count(n: impl Into<u64>) -> Cell {
        Cell::Number(n.into() as f64)
    }

    /// `part / whole`, 0 when the whole is 0.
    pub(crate) fn share(part: u64, whole: u64) -> Cell {
        Cell::Share(if whole == 0 { 0.0 } else { part as f64 / whole as f64 })
    }
}

struct Formats {
    header: Format,
    text: Format,
    time: Format,
    share: Format,
}

/// A workbook being written, in one language.
pub(crate) struct Book {
    workbook: Workbook,
    formats: Formats,
    pub tr: Tr,
}

impl Book {
    pub(crate) fn new(tr: Tr) -> Book {
        let formats = Formats {
            header: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xE8EEF4))
                .set_border_bottom(FormatBorder::Thin),
            text: Format::new().set_num_format("@"),
            time: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
            share: Format::new().set_num_format("0.0%"),
        };
        Book { workbook: Workbook::new(), formats, tr }
    }

    /// Adds a sheet named by the Fluent key `name_key` (and `suffix`, e.g. a date) with its
    /// header row.
    pub(crate) fn sheet(&mut self, name_key: &str, suffix: &str, columns: &[Column]) -> Result<Sheet<'_>, AppError> {
        let name = sheet_name(&format!("{}{suffix}", self.tr.get(name_key)));
        let ws = self.workbook.add_worksheet();
        ws.set_name(name).map_err(xlsx)?;
        for (c, column) in columns.iter().enumerate() {
            let c = c as u16;
            ws.set_column_width(c, column.width).map_err(xlsx)?;
            if column.text {
                ws.set_column_format(c, &self.formats.text).map_err(xlsx)?;
            }
            ws.write_string_with_format(0, c, self.tr.get(column.key), &self.formats.header).map_err(xlsx)?;
        }
        ws.set_freeze_panes(1, 0).map_err(xlsx)?;
        Ok(Sheet { ws, formats: &self.formats, row: 1, columns: columns.len() as u16 })
    }

    pub(crate) fn save(mut self) -> Result<Vec<u8>, AppError> {
        self.workbook.save_to_buffer().map_err(xlsx)
    }
}

/// Excel's rules for sheet names: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str) -> String {
    name.chars().map(|c| if "[]:*?/\\".contains(c) { ' ' } else { c }).take(SHEET_NAME_MAX).collect()
}

/// A sheet being filled, row after row.
pub(crate) struct Sheet<'a> {
    ws: &'a mut Worksheet,
    formats: &'a Formats,
    row: u32,
    columns: u16,
}

impl Sheet<'_> {
    pub(crate) fn row(&mut self, cells: Vec<Cell>) -> Result<(), AppError> {
        let (row, f) = (self.row, self.formats);
        for (c, cell) in cells.into_iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Text(s) => self.ws.write_string(row, c, s).map(drop),
                Cell::Code(s) => self.ws.write_string_with_format(row, c, s, &f.text).map(drop),
                Cell::Time(at) => {
                    let local =
                        ExcelDateTime::from_timestamp(at.div_euclid(1000) + LOCAL_OFFSET_SECONDS).map_err(xlsx)?;
                    self.ws.write_datetime_with_format(row, c, &local, &f.time).map(drop)
                }
                Cell::Number(n) => self.ws.write_number(row, c, n).map(drop),
                Cell::Share(s) => self.ws.write_number_with_format(row, c, s, &f.share).map(drop),
                Cell::Empty => Ok(()),
            }
            .map_err(xlsx)?;
        }
        self.row += 1;
        Ok(())
    }

    /// Puts the filter buttons on the header over the rows written.
    pub(crate) fn finish(self) -> Result<(), AppError> {
        if self.columns > 0 {
            self.ws.autofilter(0, 0, self.row.saturating_sub(1), self.columns - 1).map_err(xlsx)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::sheet_name;

    #[test]
    fn sheet_names_follow_excels_rules() {
        assert_eq!(sheet_name("排班表 2022-10-06"), "排班表 2022-10-06");
        assert_eq!(sheet_name("a/b[c]:d"), "a b c  d");
        assert_eq!(sheet_name(&"x".repeat(40)).chars().count(), 31);
    }
}
