//! Turning a table into resident rows: every cell parsed with the domain types, every problem
//! reported with its row, column and a stable code, and no row lost: each data row ends up either
//! in [`ParsedResidents::rows`] or named by at least one [`RowError`].

use crate::{
    Cell, ErrorCode, ImportError, Table, TableRow,
    columns::{ColumnMap, Field},
    values,
};
use bulwark_domain::{
    areas::{AreaCode, AreaId},
    people::{Document, DocumentError, DocumentType, IdNumberError, NewPerson, Phone, Sex, SpecialNeeds},
};
use chrono::NaiveDate;
use serde::Serialize;
use std::{
    borrow::Cow,
    collections::{HashMap, hash_map::Entry},
};

/// Longest name accepted, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest address or note accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 200;
/// How often, in rows, the progress callback is called.
pub const PROGRESS_EVERY: usize = 1_000;

/// A row that parsed completely. Area codes are not resolved yet: that needs the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentRow {
    /// The row number as the user sees it in the spreadsheet.
    pub row: usize,
    pub name: String,
    pub document: Document,
    /// From the ID number when there is one, otherwise as given.
    pub sex: Option<Sex>,
    /// From the ID number when there is one, otherwise as given.
    pub birth_date: Option<NaiveDate>,
    pub phone: Option<Phone>,
    pub address: Option<String>,
    /// At least one of `grid` and `household` is given.
    pub grid: Option<AreaCode>,
    pub household: Option<AreaCode>,
    pub needs: SpecialNeeds,
}

impl ResidentRow {
    /// The person to register, once the caller has resolved the household (or the grid) to
    /// `area`.
    pub fn into_new_person(self, area: AreaId) -> NewPerson {
        NewPerson {
            name: self.name,
            document: self.document,
            sex: self.sex,
            birth_date: self.birth_date,
            phone: self.phone,
            address: self.address,
            area,
            needs: self.needs,
            synthetic: false,
        }
    }
}

/// One problem in one cell. A row may have several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowError {
    /// The row number as the user sees it in the spreadsheet.
    pub row: usize,
    /// The header of the column as it appears in the file.
    pub column: String,
    pub code: ErrorCode,
    /// The value as found, masked when it is (or looks like) an ID number or a phone, and cut
    /// when long.
    pub value: String,
    /// What is expected, in English.
    pub message: String,
}

/// The outcome of parsing a register: `total_rows == rows.len() + rejected_rows()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedResidents {
    pub rows: Vec<ResidentRow>,
    /// In row order.
    pub errors: Vec<RowError>,
    /// Data rows in the file; blank rows do not count.
    pub total_rows: usize,
    /// Headers that mean nothing to the importer, and `column F (no header)` for data in a column
    /// without a header.
    pub ignored_columns: Vec<String>,
    /// The fields found, with their headers as they appear in the file.
    pub columns: Vec<(Field, String)>,
}

impl ParsedResidents {
    /// The header under which `field` appears in the file, for a caller's own row errors.
    pub fn header(&self, field: Field) -> Option<&str> {
        self.columns.iter().find(|(f, _)| *f == field).map(|(_, h)| h.as_str())
    }

    /// How many rows have at least one error.
    pub fn rejected_rows(&self) -> usize {
        let boundaries = self.errors.windows(2).filter(|pair| pair[0].row != pair[1].row).count();
        if self.errors.is_empty() { 0 } else { boundaries + 1 }
    }
}

/// Parses every data row of `table`. `today` bounds birth dates. Fails only when the columns
/// make no sense (a required one is missing, or one field has two columns).
pub fn parse_residents(table: &Table, today: NaiveDate) -> Result<ParsedResidents, ImportError> {
    parse_residents_with_progress(table, today, &mut |_| {})
}

/// Like [`parse_residents`], calling `progress` with the number of rows done every
/// [`PROGRESS_EVERY`] rows and at the end, so that a command-line progress bar can follow. The
/// last call is always `table.rows.len()`, and no call repeats the one before.
pub fn parse_residents_with_progress(
    table: &Table,
    today: NaiveDate,
    progress: &mut dyn FnMut(usize),
) -> Result<ParsedResidents, ImportError> {
    let columns = ColumnMap::new(&table.headers)?;
    let mut ignored_columns = columns.ignored.clone();
    ignored_columns.extend(unnamed_columns_with_data(table));
    let mut first_seen = HashMap::new();
    let mut rows = Vec::with_capacity(table.rows.len());
    let mut errors = Vec::new();
    for (index, row) in table.rows.iter().enumerate() {
        let parser = RowParser { row, headers: &table.headers, columns: &columns, today, errors: Vec::new() };
        match parser.parse(&mut first_seen) {
            Ok(parsed) => rows.push(parsed),
            Err(row_errors) => errors.extend(row_errors),
        }
        if (index + 1).is_multiple_of(PROGRESS_EVERY) {
            progress(index + 1);
        }
    }
    if table.rows.is_empty() || !table.rows.len().is_multiple_of(PROGRESS_EVERY) {
        progress(table.rows.len());
    }
    Ok(ParsedResidents {
        rows,
        errors,
        total_rows: table.rows.len(),
        ignored_columns,
        columns: columns.headers(&table.headers),
    })
}

fn unnamed_columns_with_data(table: &Table) -> impl Iterator<Item = String> {
    (0..table.headers.len())
        .filter(|&i| table.headers[i].is_empty() && table.rows.iter().any(|r| !r.cell(i).is_blank()))
        .map(|i| format!("column {} (no header)", column_letters(i)))
}

/// `0` → `A`, `26` → `AA`, as spreadsheets name columns.
fn column_letters(index: usize) -> String {
    let mut letters = Vec::new();
    let mut n = index + 1;
    while n > 0 {
        letters.push(b'A' + ((n - 1) % 26) as u8);
        n = (n - 1) / 26;
    }
    letters.iter().rev().map(|&b| b as char).collect()
}

/// Proof that an error was recorded for the row: a part that failed returns it, so a row with a
/// failed part can never be counted as parsed without an error to show for it.
struct Recorded;

type Part<T> = Result<T, Recorded>;

struct RowParser<'a> {
    row: &'a TableRow,
    headers: &'a [String],
    columns: &'a ColumnMap,
    today: NaiveDate,
    errors: Vec<RowError>,
}

impl<'a> RowParser<'a> {
    fn parse(mut self, first_seen: &mut HashMap<(DocumentType, String), usize>) -> Result<ResidentRow, Vec<RowError>> {
        let name = self.name();
        let document = self.document();
        let person = self.sex_and_birth_date(document.as_ref().ok());
        let phone = self.phone();
        let address = self.free_text(Field::Address, MAX_TEXT_CHARS);
        let area = self.area();
        let needs = self.needs();
        let unique = match &document {
            Ok(document) => self.check_unique(document, first_seen),
            Err(_) => Ok(()),
        };
        match (name, document, person, phone, address, area, needs, unique) {
            (
                Ok(name),
                Ok(document),
                Ok((sex, birth_date)),
                Ok(phone),
                Ok(address),
                Ok((grid, household)),
                Ok(needs),
                Ok(()),
            ) => Ok(ResidentRow {
                row: self.row.number,
                name,
                document,
                sex,
                birth_date,
                phone,
                address,
                grid,
                household,
                needs,
            }),
            _ => Err(self.errors),
        }
    }

    fn cell(&self, field: Field) -> Option<&'a Cell> {
        self.columns.get(field).map(|i| self.row.cell(i))
    }

    fn header(&self, field: Field) -> &'a str {
        self.columns.get(field).map_or(field.as_str(), |i| &self.headers[i])
    }

    fn error(&mut self, field: Field, code: ErrorCode, message: impl Into<String>) -> Recorded {
        let raw = self.cell(field).map(Cell::display).unwrap_or_default();
        let value =
            values::shown(&raw, matches!(field, Field::IdNumber | Field::DocumentNumber), field == Field::Phone);
        self.errors.push(RowError {
            row: self.row.number,
            column: self.header(field).to_string(),
            code,
            value,
            message: message.into(),
        });
        Recorded
    }

    /// The cell of `field` unless the column is absent or the cell blank; an Excel error value is
    /// recorded.
    fn filled_cell(&mut self, field: Field) -> Part<Option<&'a Cell>> {
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

    fn text(&mut self, field: Field) -> Part<Option<Cow<'a, str>>> {
        Ok(self.filled_cell(field)?.map(Cell::display))
    }

    /// The text of a code column (ID, document number, phone, grid, household), refusing numbers
    /// that Excel has rounded and values that Excel turned into dates.
    fn code(&mut self, field: Field, is_id_number: bool) -> Part<Option<Cow<'a, str>>> {
        match self.filled_cell(field)? {
            Some(Cell::Number(n)) if n.abs() >= 1e15 && is_id_number => Err(self.error(
                field,
                ErrorCode::IdNumberExcelNumber,
                "Excel stored this ID number as a number and kept only its first 15 digits, so the last ones \
                 are lost: format the column as Text and enter the ID numbers again",
            )),
            Some(Cell::Number(n)) if n.abs() >= 1e15 => Err(self.error(
                field,
                ErrorCode::ExcelNumber,
                "Excel stored this code as a number and kept only its first 15 digits: format the column as \
                 Text and enter the codes again",
            )),
            Some(Cell::Date(_) | Cell::DateTime(_)) => Err(self.error(
                field,
                ErrorCode::ExcelDate,
                "Excel turned this value into a date: format the column as Text and enter the value again",
            )),
            cell => Ok(cell.map(Cell::display)),
        }
    }

    fn free_text(&mut self, field: Field, max_chars: usize) -> Part<Option<String>> {
        let Some(text) = self.text(field)? else { return Ok(None) };
        if text.chars().count() > max_chars {
            return Err(self.error(field, ErrorCode::TooLong, format!("at most {max_chars} characters")));
        }
        Ok(Some(text.into_owned()))
    }

    fn name(&mut self) -> Part<String> {
        match self.free_text(Field::Name, MAX_NAME_CHARS)? {
            Some(name) => Ok(name),
            None => Err(self.error(Field::Name, ErrorCode::MissingValue, "a name is required")),
        }
    }

    /// The ID number column wins when filled; otherwise the document type (empty meaning a
    /// resident ID) and number columns.
    fn document(&mut self) -> Part<Document> {
        let kind = match self.text(Field::DocumentType)? {
            None => None,
            Some(text) => match DocumentType::parse(&text.to_lowercase()) {
                Some(kind) => Some(kind),
                None => {
                    return Err(self.error(
                        Field::DocumentType,
                        ErrorCode::DocumentTypeUnknown,
                        "expected 身份证, 护照, 通行证, 居住证, 其他 or 无 (resident_id, passport, permit, other, none)",
                    ));
                }
            },
        };
        if let Some(id) = self.code(Field::IdNumber, true)? {
            return self.resident_id(&id, kind);
        }
        let kind = kind.unwrap_or(DocumentType::ResidentId);
        let number = self.code(Field::DocumentNumber, kind == DocumentType::ResidentId)?;
        if kind == DocumentType::ResidentId && number.is_none() {
            let field =
                if self.columns.get(Field::IdNumber).is_some() { Field::IdNumber } else { Field::DocumentNumber };
            let message = if self.columns.get(Field::DocumentType).is_some() {
                "an ID number is required; for a person without one, give the document type (护照, 通行证, 其他 or 无) and number"
            } else {
                "an ID number is required"
            };
            return Err(self.error(field, ErrorCode::MissingValue, message));
        }
        Document::parse(kind, number.as_deref().unwrap_or(""), self.today)
            .map_err(|e| self.document_error(Field::DocumentNumber, &e))
    }

    fn resident_id(&mut self, id: &str, kind: Option<DocumentType>) -> Part<Document> {
        let id_header = self.header(Field::IdNumber);
        if kind.is_some_and(|k| k != DocumentType::ResidentId) {
            let message =
                format!("the ID number column \"{id_header}\" is filled, so the document type must be empty or 身份证");
            return Err(self.error(Field::DocumentType, ErrorCode::DocumentConflict, message));
        }
        let document = Document::parse(DocumentType::ResidentId, id, self.today)
            .map_err(|e| self.document_error(Field::IdNumber, &e))?;
        if let Some(number) = self.code(Field::DocumentNumber, true)?
            && Document::parse(DocumentType::ResidentId, &number, self.today).as_ref() != Ok(&document)
        {
            let message = format!("differs from the ID number in \"{id_header}\": leave one of them empty");
            return Err(self.error(Field::DocumentNumber, ErrorCode::DocumentConflict, message));
        }
        Ok(document)
    }

    fn document_error(&mut self, field: Field, error: &DocumentError) -> Recorded {
        let code = match error {
            DocumentError::IdNumber(id_error) => match id_error {
                IdNumberError::Length(_) => ErrorCode::IdNumberLength,
                IdNumberError::ExcelNumber(_) => ErrorCode::IdNumberExcelNumber,
                IdNumberError::Characters => ErrorCode::IdNumberCharacters,
                IdNumberError::BirthDate(_) => ErrorCode::IdNumberBirthDate,
                IdNumberError::FutureBirthDate(_) => ErrorCode::IdNumberFutureBirthDate,
                IdNumberError::Checksum { .. } => ErrorCode::IdNumberChecksum,
            },
            DocumentError::MissingNumber => ErrorCode::MissingValue,
            DocumentError::TooLong => ErrorCode::TooLong,
            DocumentError::UnexpectedNumber => ErrorCode::DocumentNumberUnexpected,
        };
        // The domain's messages for dates quote the birth date, which masking exists to hide.
        let message = match error {
            DocumentError::IdNumber(IdNumberError::BirthDate(_)) => {
                "the birth date in the ID number (characters 7 to 14) does not exist".to_string()
            }
            DocumentError::IdNumber(IdNumberError::FutureBirthDate(_)) => {
                "the birth date in the ID number (characters 7 to 14) is in the future".to_string()
            }
            other => other.to_string(),
        };
        self.error(field, code, message)
    }

    /// Sex and birth date come from the ID number when there is one; given values must agree.
    fn sex_and_birth_date(&mut self, document: Option<&Document>) -> Part<(Option<Sex>, Option<NaiveDate>)> {
        let id = document.and_then(Document::id_number);
        let sex = match self.text(Field::Sex) {
            Ok(Some(text)) => match values::sex(&text) {
                Some(sex) if id.is_some_and(|id| id.sex() != sex) => Err(self.error(
                    Field::Sex,
                    ErrorCode::SexContradictsId,
                    "does not match the ID number (its 17th digit is odd for men, even for women)",
                )),
                Some(sex) => Ok(Some(sex)),
                None => Err(self.error(Field::Sex, ErrorCode::SexUnknown, "expected 男 or 女 (M/F, male/female)")),
            },
            Ok(None) => Ok(None),
            Err(recorded) => Err(recorded),
        };
        let birth_date = match self.filled_cell(Field::BirthDate) {
            Ok(Some(cell)) => match values::date(cell) {
                None => Err(self.error(
                    Field::BirthDate,
                    ErrorCode::BirthDateFormat,
                    format!("expected {}", values::DATE_FORMS),
                )),
                Some(date) if date > self.today => {
                    Err(self.error(Field::BirthDate, ErrorCode::BirthDateFuture, "the birth date is in the future"))
                }
                Some(date) if id.is_some_and(|id| id.birth_date() != date) => Err(self.error(
                    Field::BirthDate,
                    ErrorCode::BirthDateContradictsId,
                    "does not match the birth date in the ID number",
                )),
                Some(date) => Ok(Some(date)),
            },
            Ok(None) => Ok(None),
            Err(recorded) => Err(recorded),
        };
        let (sex, birth_date) = (sex?, birth_date?);
        Ok(match id {
            Some(id) => (Some(id.sex()), Some(id.birth_date())),
            None => (sex, birth_date),
        })
    }

    fn phone(&mut self) -> Part<Option<Phone>> {
        let Some(text) = self.code(Field::Phone, false)? else { return Ok(None) };
        Phone::parse(&text).map(Some).map_err(|e| self.error(Field::Phone, ErrorCode::PhoneFormat, e.to_string()))
    }

    fn area_code(&mut self, field: Field) -> Part<Option<AreaCode>> {
        let Some(text) = self.code(field, false)? else { return Ok(None) };
        AreaCode::parse(&text).map(Some).map_err(|e| self.error(field, ErrorCode::AreaCodeFormat, e.to_string()))
    }

    /// A person lives somewhere: a grid, a household, or both.
    fn area(&mut self) -> Part<(Option<AreaCode>, Option<AreaCode>)> {
        let grid = self.area_code(Field::Grid);
        let household = self.area_code(Field::Household);
        match (grid?, household?) {
            (None, None) => {
                let (grid, household) = (self.header(Field::Grid), self.header(Field::Household));
                let message = format!(
                    "where the person lives is required: a grid code ({grid}) or a household code ({household})"
                );
                let field = if self.columns.get(Field::Grid).is_some() { Field::Grid } else { Field::Household };
                Err(self.error(field, ErrorCode::AreaMissing, message))
            }
            pair => Ok(pair),
        }
    }

    fn flag(&mut self, field: Field) -> Part<bool> {
        let Some(cell) = self.filled_cell(field)? else { return Ok(false) };
        values::boolean(cell)
            .ok_or_else(|| self.error(field, ErrorCode::BooleanFormat, format!("expected {}", values::BOOLEAN_FORMS)))
    }

    fn needs(&mut self) -> Part<SpecialNeeds> {
        let cannot_walk = self.flag(Field::CannotWalk);
        let bedridden = self.flag(Field::Bedridden);
        let other = self.free_text(Field::OtherNeeds, MAX_TEXT_CHARS);
        Ok(SpecialNeeds { cannot_walk: cannot_walk?, bedridden: bedridden?, other: other? })
    }

    /// The second and later rows with the same document are rejected, naming the first. The first
    /// counts even when it is rejected for another reason: once fixed, it would clash again.
    fn check_unique(
        &mut self,
        document: &Document,
        first_seen: &mut HashMap<(DocumentType, String), usize>,
    ) -> Part<()> {
        let Some(number) = document.number() else { return Ok(()) };
        match first_seen.entry((document.kind(), number.to_string())) {
            Entry::Vacant(entry) => {
                entry.insert(self.row.number);
                Ok(())
            }
            Entry::Occupied(entry) => {
                let first = *entry.get();
                let id_column_filled = self.cell(Field::IdNumber).is_some_and(|c| !c.is_blank());
                let field = if id_column_filled { Field::IdNumber } else { Field::DocumentNumber };
                let what = if document.id_number().is_some() { "ID number" } else { "document" };
                let message = format!("the same {what} as row {first}: each person is registered once");
                Err(self.error(field, ErrorCode::DuplicateInFile, message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_letters_as_spreadsheets_show_them() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }
}
