//! Turning a lab's result file into domain lab results: one row per tube, every cell parsed with
//! the domain types, every problem reported with its row, column and a stable code, and no row
//! lost: each data row ends up either in [`ParsedLabResults::results`] or named by at least one
//! [`RowError`].
//!
//! Which column holds what comes from a [`LabColumnMapping`]: detected from the headers, or saved
//! for a lab whose headers are its own. Matching tubes to pools and people is the caller's job.

mod cells;
mod mapping;

pub use cells::CHINA_OFFSET_MILLIS;
pub use mapping::{LabColumnMapping, LabField};

use crate::{Cell, ErrorCode, ImportError, MAX_TEXT_CHARS, RowError, Table, TableRow};
use bulwark_domain::{
    Millis,
    people::mask_numbers_in_text,
    testing::{LabOutcome, LabResult, TubeCode, TubeFormat},
};
use cells::{CT_NONE_FORMS, CT_RANGE, CtError, TIME_FORMS, TimeError};
use mapping::LabColumns;

/// What a result cell accepts, for error messages.
const OUTCOME_WORDS: &str = "阴性, 阳性, 可疑, 异常, 无效 (negative, positive, abnormal, invalid)";

/// The outcome of parsing a lab file: `total_rows == results.len() + rejected_rows()`.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLabResults {
    /// Each parsed row with its number as the user sees it in the spreadsheet, in row order.
    pub results: Vec<(usize, LabResult)>,
    /// In row order.
    pub errors: Vec<RowError>,
    /// Data rows in the file; blank rows do not count.
    pub total_rows: usize,
    /// The mapping used, with the headers as they appear in the file: what a caller can save for
    /// the lab's next file.
    pub mapping: LabColumnMapping,
    /// Headers that no field uses.
    pub ignored_columns: Vec<String>,
}

impl ParsedLabResults {
    /// How many rows have at least one error.
    pub fn rejected_rows(&self) -> usize {
        let boundaries = self.errors.windows(2).filter(|pair| pair[0].row != pair[1].row).count();
        if self.errors.is_empty() { 0 } else { boundaries + 1 }
    }
}

/// Parses every data row of `table` with the columns `mapping` names. Tube codes must fit
/// `format`. Fails only when a header the mapping names is not in the file.
pub fn parse_lab_results(
    table: &Table,
    mapping: &LabColumnMapping,
    format: &TubeFormat,
) -> Result<ParsedLabResults, ImportError> {
    let columns = mapping.positions(&table.headers)?;
    let expected_tube = expected_tube(format);
    let mut results = Vec::with_capacity(table.rows.len());
    let mut errors = Vec::new();
    for row in &table.rows {
        let parser = RowParser {
            row,
            headers: &table.headers,
            columns: &columns,
            format,
            expected_tube: &expected_tube,
            errors: Vec::new(),
        };
        match parser.parse() {
            Ok(result) => results.push((row.number, result)),
            Err(row_errors) => errors.extend(row_errors),
        }
    }
    let resolved = |field| columns.get(field).map(|i| table.headers[i].clone());
    let mapping = LabColumnMapping {
        tube_code: resolved(LabField::TubeCode).unwrap_or_default(),
        result: resolved(LabField::Result).unwrap_or_default(),
        ct_orf1ab: resolved(LabField::CtOrf1ab),
        ct_n: resolved(LabField::CtN),
        sampled_at: resolved(LabField::SampledAt),
        tested_at: resolved(LabField::TestedAt),
        reported_at: resolved(LabField::ReportedAt),
        lab: resolved(LabField::Lab),
    };
    Ok(ParsedLabResults { results, errors, total_rows: table.rows.len(), mapping, ignored_columns: columns.ignored })
}

/// `6 to 24 letters A–Z, digits or '-', starting with EP`.
fn expected_tube(format: &TubeFormat) -> String {
    let length = if format.min_len == format.max_len {
        format!("{}", format.min_len)
    } else {
        format!("{} to {}", format.min_len, format.max_len)
    };
    let prefix = if format.prefix.is_empty() { String::new() } else { format!(", starting with {}", format.prefix) };
    format!("{length} letters A–Z, digits or '-'{prefix}")
}

/// Proof that an error was recorded for the row (as in `residents.rs`).
struct Recorded;

type Part<T> = Result<T, Recorded>;

struct RowParser<'a> {
    row: &'a TableRow,
    headers: &'a [String],
    columns: &'a LabColumns,
    format: &'a TubeFormat,
    expected_tube: &'a str,
    errors: Vec<RowError>,
}

impl<'a> RowParser<'a> {
    fn parse(mut self) -> Result<LabResult, Vec<RowError>> {
        let tube = self.tube();
        let outcome = self.outcome();
        let ct_orf1ab = self.ct(LabField::CtOrf1ab);
        let ct_n = self.ct(LabField::CtN);
        let sampled_at = self.time(LabField::SampledAt);
        let tested_at = self.time(LabField::TestedAt);
        let reported_at = self.time(LabField::ReportedAt);
        let lab = self.lab();
        match (tube, outcome, ct_orf1ab, ct_n, sampled_at, tested_at, reported_at, lab) {
            (
                Ok(tube),
                Ok(outcome),
                Ok(ct_orf1ab),
                Ok(ct_n),
                Ok(sampled_at),
                Ok(tested_at),
                Ok(reported_at),
                Ok(lab),
            ) => Ok(LabResult { tube, outcome, ct_orf1ab, ct_n, sampled_at, tested_at, reported_at, lab }),
            _ => Err(self.errors),
        }
    }

    fn cell(&self, field: LabField) -> Option<&'a Cell> {
        self.columns.get(field).map(|i| self.row.cell(i))
    }

    fn error(&mut self, field: LabField, code: ErrorCode, message: impl Into<String>) -> Recorded {
        let raw = self.cell(field).map(Cell::display).unwrap_or_default();
        // A tube code is no personal data, and the user must find the tube by it.
        let value = if field == LabField::TubeCode { cut(&raw) } else { shown(&raw) };
        let column = self.columns.get(field).map_or(field.as_str(), |i| &self.headers[i]).to_string();
        self.errors.push(RowError { row: self.row.number, column, code, value, message: message.into() });
        Recorded
    }

    /// The cell of `field` unless the column is absent or the cell blank; an Excel error value is
    /// recorded.
    fn filled_cell(&mut self, field: LabField) -> Part<Option<&'a Cell>> {
        match self.cell(field) {
            None => Ok(None),
            Some(cell) if cell.is_blank() => Ok(None),
            Some(Cell::Error(e)) => Err(self.error(
                field,
                ErrorCode::CellError,
                format!("the cell shows the Excel error {e}: enter the value"),
            )),
            Some(cell) => Ok(Some(cell)),
        }
    }

    fn tube(&mut self) -> Part<TubeCode> {
        let expected = self.expected_tube;
        let cell = match self.filled_cell(LabField::TubeCode)? {
            None => {
                let message = format!("a tube code is required: {expected}");
                return Err(self.error(LabField::TubeCode, ErrorCode::MissingValue, message));
            }
            Some(Cell::Number(n)) if n.abs() >= 1e15 => {
                return Err(self.error(
                    LabField::TubeCode,
                    ErrorCode::ExcelNumber,
                    "Excel stored this tube code as a number and kept only its first 15 digits: format the \
                     column as Text and enter the codes again",
                ));
            }
            Some(Cell::Date(_) | Cell::DateTime(_)) => {
                return Err(self.error(
                    LabField::TubeCode,
                    ErrorCode::ExcelDate,
                    "Excel turned this tube code into a date: format the column as Text and enter it again",
                ));
            }
            Some(cell) => cell,
        };
        TubeCode::parse(&cell.display(), self.format)
            .map_err(|e| self.error(LabField::TubeCode, ErrorCode::TubeCodeFormat, format!("{e}; expected {expected}")))
    }

    fn outcome(&mut self) -> Part<LabOutcome> {
        let Some(cell) = self.filled_cell(LabField::Result)? else {
            let message = format!("a result is required: {OUTCOME_WORDS}");
            return Err(self.error(LabField::Result, ErrorCode::MissingValue, message));
        };
        let parsed = match cell {
            Cell::Text(text) => LabOutcome::parse(text),
            _ => None,
        };
        parsed.ok_or_else(|| {
            self.error(LabField::Result, ErrorCode::LabOutcomeUnknown, format!("expected {OUTCOME_WORDS}"))
        })
    }

    fn ct(&mut self, field: LabField) -> Part<Option<f32>> {
        let Some(cell) = self.filled_cell(field)? else { return Ok(None) };
        let (low, high) = CT_RANGE;
        cells::ct(cell).map_err(|e| match e {
            CtError::Format => self.error(
                field,
                ErrorCode::CtFormat,
                format!("expected a Ct value such as 35.2, or {CT_NONE_FORMS} for none"),
            ),
            CtError::Range => self.error(field, ErrorCode::CtRange, format!("a Ct value is between {low} and {high}")),
        })
    }

    fn time(&mut self, field: LabField) -> Part<Option<Millis>> {
        let Some(cell) = self.filled_cell(field)? else { return Ok(None) };
        cells::time(cell).map(Some).map_err(|e| match e {
            TimeError::Format => self.error(field, ErrorCode::TimeFormat, format!("expected {TIME_FORMS}")),
            TimeError::DateOnly if matches!(cell, Cell::Date(_)) => self.error(
                field,
                ErrorCode::TimeDateOnly,
                "this Excel cell holds a day without a time: enter the time of day too (e.g. 2022-10-06 \
                 08:20), or leave the column out of the column mapping",
            ),
            TimeError::DateOnly => self.error(
                field,
                ErrorCode::TimeDateOnly,
                format!(
                    "the time of day is missing: expected {TIME_FORMS}, or leave the column out of the column mapping"
                ),
            ),
        })
    }

    fn lab(&mut self) -> Part<Option<String>> {
        let Some(cell) = self.filled_cell(LabField::Lab)? else { return Ok(None) };
        let text = cell.display();
        if text.chars().count() > MAX_TEXT_CHARS {
            return Err(self.error(LabField::Lab, ErrorCode::TooLong, format!("at most {MAX_TEXT_CHARS} characters")));
        }
        Ok(Some(text.into_owned()))
    }
}

/// A rejected value as the error report shows it: every run of seven or more digits masked (an
/// ID number or a phone typed in the wrong column), and cut when long.
///
/// Not `values::shown`: the domain's `mask_phone` that it calls for values with 11 digits counts
/// in bytes where it should count characters, and panics on `电话电话电话电话-13812345678`.
fn shown(raw: &str) -> String {
    cut(&mask_numbers_in_text(raw))
}

/// `raw` cut to 40 characters, as `values::shown` cuts.
fn cut(raw: &str) -> String {
    const SHOWN_CHARS: usize = 40;
    if raw.chars().count() > SHOWN_CHARS {
        raw.chars().take(SHOWN_CHARS).chain(['…']).collect()
    } else {
        raw.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_tube_formats() {
        assert_eq!(expected_tube(&TubeFormat::default()), "6 to 24 letters A–Z, digits or '-'");
        let ep = TubeFormat { min_len: 12, max_len: 12, prefix: "EP".into() };
        assert_eq!(expected_tube(&ep), "12 letters A–Z, digits or '-', starting with EP");
    }

    #[test]
    fn shown_values_mask_long_digit_runs() {
        assert_eq!(shown("2022-10-06 15:30:00"), "2022-10-06 15:30:00");
        assert_eq!(shown("13812345678"), "138****5678");
        assert_eq!(shown("440785199001011234"), "440785********1234");
        assert_eq!(shown("电话电话电话电话-13812345678"), "电话电话电话电话-138****5678");
        assert_eq!(shown(&"阳".repeat(60)).chars().count(), 41);
    }
}
