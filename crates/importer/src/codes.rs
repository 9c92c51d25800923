//! Stable codes for the kinds of row error. The English message of a [`crate::RowError`] is for
//! logs and the command line; the web layer translates by code, so codes never change meaning.

use serde::{Serialize, Serializer};
use std::fmt;

/// What is wrong with a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A required value is empty (a name, an ID number).
    MissingValue,
    /// Longer than a register field holds.
    TooLong,
    /// The cell holds an Excel error such as `#N/A`.
    CellError,
    /// A code column (grid, household, document or phone) holds a number with more than 15
    /// digits, which Excel has already rounded.
    ExcelNumber,
    /// A code column holds a date: Excel turned something like `1-2` into 2 January.
    ExcelDate,
    IdNumberLength,
    /// An ID number that Excel stored as a number (or shows as `4.40785E+17`): its last digits
    /// are lost.
    IdNumberExcelNumber,
    IdNumberCharacters,
    IdNumberBirthDate,
    IdNumberFutureBirthDate,
    IdNumberChecksum,
    DocumentTypeUnknown,
    /// A number for a person registered without a document.
    DocumentNumberUnexpected,
    /// The ID number column and the document type/number columns disagree.
    DocumentConflict,
    PhoneFormat,
    AreaCodeFormat,
    /// Neither a grid nor a household is given.
    AreaMissing,
    BooleanFormat,
    SexUnknown,
    SexContradictsId,
    BirthDateFormat,
    BirthDateFuture,
    BirthDateContradictsId,
    /// The same document appears in an earlier row of the same file.
    DuplicateInFile,
    /// A lab file's tube code does not fit the configured tube format.
    TubeCodeFormat,
    /// A lab file's result is not a word labs use (阴性, 阳性, 可疑, 无效, …).
    LabOutcomeUnknown,
    /// A Ct value that is not a number.
    CtFormat,
    /// A Ct value outside 0–50.
    CtRange,
    /// A time that is not a date and time of day in a known form.
    TimeFormat,
    /// A time column holds only a date: the time of day is missing (or, for an Excel date cell,
    /// was not read).
    TimeDateOnly,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 30] = [
        ErrorCode::MissingValue,
        ErrorCode::TooLong,
        ErrorCode::CellError,
        ErrorCode::ExcelNumber,
        ErrorCode::ExcelDate,
        ErrorCode::IdNumberLength,
        ErrorCode::IdNumberExcelNumber,
        ErrorCode::IdNumberCharacters,
        ErrorCode::IdNumberBirthDate,
        ErrorCode::IdNumberFutureBirthDate,
        ErrorCode::IdNumberChecksum,
        ErrorCode::DocumentTypeUnknown,
        ErrorCode::DocumentNumberUnexpected,
        ErrorCode::DocumentConflict,
        ErrorCode::PhoneFormat,
        ErrorCode::AreaCodeFormat,
        ErrorCode::AreaMissing,
        ErrorCode::BooleanFormat,
        ErrorCode::SexUnknown,
        ErrorCode::SexContradictsId,
        ErrorCode::BirthDateFormat,
        ErrorCode::BirthDateFuture,
        ErrorCode::BirthDateContradictsId,
        ErrorCode::DuplicateInFile,
        ErrorCode::TubeCodeFormat,
        ErrorCode::LabOutcomeUnknown,
        ErrorCode::CtFormat,
        ErrorCode::CtRange,
        ErrorCode::TimeFormat,
        ErrorCode::TimeDateOnly,
    ];

    /// The stable code, e.g. `id_number.checksum`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::MissingValue => "missing_value",
            ErrorCode::TooLong => "too_long",
            ErrorCode::CellError => "cell_error",
            ErrorCode::ExcelNumber => "excel_number",
            ErrorCode::ExcelDate => "excel_date",
            ErrorCode::IdNumberLength => "id_number.length",
            ErrorCode::IdNumberExcelNumber => "id_number.excel_number",
            ErrorCode::IdNumberCharacters => "id_number.characters",
            ErrorCode::IdNumberBirthDate => "id_number.birth_date",
            ErrorCode::IdNumberFutureBirthDate => "id_number.future_birth_date",
            ErrorCode::IdNumberChecksum => "id_number.checksum",
            ErrorCode::DocumentTypeUnknown => "document_type.unknown",
            ErrorCode::DocumentNumberUnexpected => "document_number.unexpected",
            ErrorCode::DocumentConflict => "document.conflict",
            ErrorCode::PhoneFormat => "phone.format",
            ErrorCode::AreaCodeFormat => "area_code.format",
            ErrorCode::AreaMissing => "area.missing",
            ErrorCode::BooleanFormat => "boolean.format",
            ErrorCode::SexUnknown => "sex.unknown",
            ErrorCode::SexContradictsId => "sex.contradicts_id",
            ErrorCode::BirthDateFormat => "birth_date.format",
            ErrorCode::BirthDateFuture => "birth_date.future",
            ErrorCode::BirthDateContradictsId => "birth_date.contradicts_id",
            ErrorCode::DuplicateInFile => "duplicate_in_file",
            ErrorCode::TubeCodeFormat => "tube_code.format",
            ErrorCode::LabOutcomeUnknown => "lab_outcome.unknown",
            ErrorCode::CtFormat => "ct.format",
            ErrorCode::CtRange => "ct.range",
            ErrorCode::TimeFormat => "time.format",
            ErrorCode::TimeDateOnly => "time.date_only",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_distinct_and_snake_case() {
        let codes: HashSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(codes.len(), ErrorCode::ALL.len());
        assert!(codes.iter().all(|c| c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b == b'.')));
    }
}
