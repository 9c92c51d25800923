//! Reading resident registers from CSV (UTF-8 or GB18030) and XLSX into parsed rows with per-row
//! errors.
//!
//! Two steps, so that a caller can show progress or reuse the table:
//! 1. [`read_table`] turns the bytes of an uploaded file into a [`Table`] of typed cells, or
//!    refuses the whole file with an [`ImportError`] (too large, not a table, undecodable).
//! 2. [`parse_residents`] maps the headers to fields (Chinese or English) and parses every row
//!    with the domain types, collecting a [`RowError`] with a stable [`ErrorCode`] for every bad
//!    cell. Rows in = rows parsed + rows rejected; nothing is dropped silently.
//!
//! The importer has no SQL and no HTTP: resolving area codes and finding people already
//! registered is the caller's job. It never panics on malformed input.

mod codes;
mod columns;
mod csv_file;
mod error;
mod lab_results;
mod residents;
mod table;
mod values;
mod xlsx_file;

pub use codes::ErrorCode;
pub use columns::Field;
pub use error::ImportError;
pub use lab_results::{CHINA_OFFSET_MILLIS, LabColumnMapping, LabField, ParsedLabResults, parse_lab_results};
pub use residents::{
    MAX_NAME_CHARS, MAX_TEXT_CHARS, PROGRESS_EVERY, ParsedResidents, ResidentRow, RowError, parse_residents,
    parse_residents_with_progress,
};
pub use table::{Cell, MAX_CELLS, MAX_COLUMNS, MAX_FILE_BYTES, MAX_ROWS, Table, TableRow, read_table};
pub use xlsx_file::MAX_UNPACKED_BYTES;
