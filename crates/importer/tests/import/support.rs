//! Shared helpers: a fixed "today", synthetic ID numbers, and parsing with the totals checked.

use bulwark_domain::people::IdNumber;
use bulwark_importer::{ParsedResidents, parse_residents, read_table};
use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook};
use std::io::{Cursor, Read, Write};
use std::sync::OnceLock;

/// The morning of the outbreak in the source story.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2022, 10, 6).unwrap()
}

/// A valid ID number of someone from Enping born on `yyyymmdd`, with sequence `seq` (odd for
/// men, even for women).
pub fn id(yyyymmdd: &str, seq: u32) -> String {
    IdNumber::from_body(&format!("440785{yyyymmdd}{seq:03}")).to_string()
}

/// The same ID number with its check character replaced by a wrong one.
pub fn with_wrong_check(id: &str) -> String {
    let (body, check) = id.split_at(17);
    let wrong = if check == "0" { "1" } else { "0" };
    format!("{body}{wrong}")
}

/// Reads and parses `bytes`, checking that every data row is either parsed or rejected.
pub fn parse(bytes: &[u8]) -> ParsedResidents {
    let table = read_table(bytes).unwrap_or_else(|e| panic!("file refused: {e}"));
    let parsed = parse_residents(&table, today()).unwrap_or_else(|e| panic!("columns refused: {e}"));
    assert_totals(&parsed);
    parsed
}

/// Rows in = rows parsed + rows rejected, and no row is both.
pub fn assert_totals(parsed: &ParsedResidents) {
    assert_eq!(parsed.total_rows, parsed.rows.len() + parsed.rejected_rows(), "{parsed:#?}");
    for row in &parsed.rows {
        assert!(parsed.errors.iter().all(|e| e.row != row.row), "row {} both parsed and rejected", row.row);
    }
}

/// `(row, column, code)` of every error, to compare against expectations in one assert.
pub fn error_codes(parsed: &ParsedResidents) -> Vec<(usize, &str, &str)> {
    parsed.errors.iter().map(|e| (e.row, e.column.as_str(), e.code.as_str())).collect()
}

/// The row numbers that parsed.
pub fn parsed_rows(parsed: &ParsedResidents) -> Vec<usize> {
    parsed.rows.iter().map(|r| r.row).collect()
}

/// The parts (name, content) of a small but complete register workbook, to damage one at a time.
pub fn workbook_parts() -> &'static Vec<(String, Vec<u8>)> {
    static PARTS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    PARTS.get_or_init(|| {
        let mut workbook = Workbook::new();
        let sheet = workbook.add_worksheet();
        let text = Format::new().set_num_format("@");
        for (col, header) in ["姓名", "身份证号", "电话", "网格", "出生日期"].iter().enumerate() {
            sheet.write_string(0, col as u16, *header).unwrap();
        }
        sheet.write_string(1, 0, "测试甲").unwrap();
        sheet.write_string_with_format(1, 1, id("19800101", 1), &text).unwrap();
        sheet.write_number(1, 2, 13812345678.0).unwrap();
        sheet.write_string(1, 3, "G01").unwrap();
        sheet.write_number(1, 4, 29221.0).unwrap();
        let bytes = workbook.save_to_buffer().unwrap();
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        (0..archive.len())
            .map(|i| {
                let mut entry = archive.by_index(i).unwrap();
                let mut content = Vec::new();
                entry.read_to_end(&mut content).unwrap();
                (entry.name().unwrap().to_string(), content)
            })
            .collect()
    })
}

/// A workbook made of `parts`, stored uncompressed so that damage reaches the XML parsers.
pub fn zip_parts(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, content) in parts {
        zip.start_file(name.as_str(), options).unwrap();
        zip.write_all(content).unwrap();
    }
    zip.finish().unwrap().into_inner()
}
