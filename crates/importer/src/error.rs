//! File-level errors: the whole file is refused, no row is imported.
//!
//! Problems with single rows are not errors of this kind: they are [`crate::RowError`]s, collected
//! so that the user can fix every row in one pass.

/// Why a file cannot be read as a table of residents at all. Messages are meant for the person
/// who uploaded the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error("the file has {size} bytes, more than the limit of {limit} bytes (20 MiB): split it into smaller files")]
    FileTooLarge { size: usize, limit: usize },
    #[error("the file has more than {limit} data rows: split it into smaller files")]
    TooManyRows { limit: usize },
    #[error("the file has more than {limit} columns")]
    TooManyColumns { limit: usize },
    #[error("the file has more than {limit} cells: split it into smaller files")]
    TooManyCells { limit: usize },
    #[error("the file is empty: the first row must name the columns (姓名, 身份证号, …)")]
    Empty,
    #[error("this is an old Excel 97-2003 workbook (.xls): save it as .xlsx or as CSV and import that")]
    LegacyXls,
    #[error("the file is neither a CSV file nor an Excel workbook (.xlsx)")]
    NotATable,
    #[error("the CSV file is neither UTF-8 nor GB18030 (GBK) text: save it again as \"CSV UTF-8\"")]
    Encoding,
    #[error("the CSV file cannot be read: {0}")]
    Csv(String),
    #[error("the Excel workbook cannot be read: {0}")]
    Xlsx(String),
    #[error("the Excel workbook unpacks to more than {limit} bytes: it is not a plain register")]
    XlsxTooLarge { limit: u64 },
    #[error("the Excel workbook has no worksheet")]
    NoWorksheet,
    #[error("required column missing: {}; the columns found are: {}", missing.join("; "), found.join(", "))]
    MissingColumns {
        /// What is missing, with the header names that are accepted for it.
        missing: Vec<String>,
        /// The headers of the file, as they appear in it.
        found: Vec<String>,
    },
    #[error("the columns \"{first}\" and \"{second}\" both mean {field}: keep only one of them")]
    DuplicateColumn { field: &'static str, first: String, second: String },
}
