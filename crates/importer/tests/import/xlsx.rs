//! Workbooks written by rust_xlsxwriter: IDs kept as text (number format `@`) survive, an ID
//! stored as a number is refused with Excel named as the culprit, numeric phones are fine, and a
//! malformed or oversized workbook is refused without a panic.

use crate::support::{error_codes, id, parse, parsed_rows, with_wrong_check, workbook_parts, zip_parts};
use bulwark_domain::people::{DocumentType, Sex};
use bulwark_importer::{Cell, ImportError, MAX_CELLS, MAX_COLUMNS, MAX_UNPACKED_BYTES, read_table};
use chrono::NaiveDate;
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};
use std::io::{Cursor, Write};

const HEADERS: [&str; 13] = [
    "姓名",
    "身份证号",
    "电话",
    "网格",
    "户号",
    "行动不便",
    "卧床",
    "备注",
    "证件类型",
    "证件号码",
    "性别",
    "出生日期",
    "民族",
];

/// A register as a township office would keep it, with the damage Excel does to long numbers.
fn register() -> Vec<u8> {
    let mut workbook = Workbook::new();
    let text = Format::new().set_num_format("@");
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = workbook.add_worksheet();
    for (col, header) in HEADERS.iter().enumerate() {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    // Row 2: everything as text, the way it should be.
    sheet.write_string(1, 0, "测试甲").unwrap();
    sheet.write_string_with_format(1, 1, id("19800101", 1), &text).unwrap();
    sheet.write_string_with_format(1, 2, "13812345678", &text).unwrap();
    sheet.write_string(1, 3, "440785101210-G01").unwrap();
    sheet.write_string(1, 4, "440785101210-G01-H001").unwrap();
    sheet.write_string(1, 5, "是").unwrap();
    sheet.write_string(1, 13, "stray value").unwrap();
    // Row 3: an ID typed into a General column, stored as a number with 15 significant digits.
    sheet.write_string(2, 0, "测试乙").unwrap();
    sheet.write_number(2, 1, 4.40785199001011e17).unwrap();
    sheet.write_string(2, 3, "440785101210-G01").unwrap();
    // Row 4: a phone stored as a number, booleans as a real boolean and as a check mark.
    sheet.write_string(3, 0, "测试丙").unwrap();
    sheet.write_string_with_format(3, 1, id("19420315", 2), &text).unwrap();
    sheet.write_number(3, 2, 13812345678.0).unwrap();
    sheet.write_number(3, 3, 440785101210.0).unwrap();
    sheet.write_boolean(3, 5, true).unwrap();
    sheet.write_string(3, 6, "√").unwrap();
    sheet.write_string(3, 7, "需上门采样").unwrap();
    // Row 5: a passport holder; birth date in a date cell. The name is a formula: its cached
    // result is read, nothing is evaluated.
    sheet.write_formula(4, 0, Formula::new(r#"="测试"&"丁""#).set_result("测试丁")).unwrap();
    sheet.write_string(4, 8, "护照").unwrap();
    sheet.write_string(4, 9, "E12345678").unwrap();
    sheet.write_string(4, 10, "女").unwrap();
    sheet.write_datetime_with_format(4, 11, ExcelDateTime::from_ymd(1990, 5, 17).unwrap(), &date).unwrap();
    sheet.write_string(4, 4, "H-7").unwrap();
    // Row 6: Excel turned the household code "1-2" into 2 January.
    sheet.write_string(5, 0, "测试戊").unwrap();
    sheet.write_string_with_format(5, 1, id("19750620", 3), &text).unwrap();
    sheet.write_datetime_with_format(5, 4, ExcelDateTime::from_ymd(2022, 1, 2).unwrap(), &date).unwrap();
    // Row 7 is left empty. Row 8: a mistyped check character.
    sheet.write_string(7, 0, "测试己").unwrap();
    sheet.write_string_with_format(7, 1, with_wrong_check(&id("20010101", 5)), &text).unwrap();
    sheet.write_string(7, 3, "440785101210-G02").unwrap();
    // Trailing rows that are formatted but empty.
    sheet.write_blank(30, 0, &text).unwrap();
    sheet.write_string(40, 2, "  ").unwrap();
    // Only the first worksheet is read.
    let other = workbook.add_worksheet();
    other.write_string(0, 0, "姓名").unwrap();
    other.write_string(1, 0, "测试不应读取").unwrap();
    workbook.save_to_buffer().unwrap()
}

#[test]
fn cells_keep_their_types() {
    let table = read_table(&register()).unwrap();
    assert_eq!(table.header_row, 1);
    assert_eq!(&table.headers[..13], HEADERS);
    let numbers: Vec<usize> = table.rows.iter().map(|r| r.number).collect();
    assert_eq!(numbers, [2, 3, 4, 5, 6, 8], "blank rows are skipped, row numbers kept");
    assert_eq!(table.rows[0].cell(1), &Cell::Text(id("19800101", 1)));
    assert_eq!(table.rows[1].cell(1), &Cell::Number(4.40785199001011e17));
    assert_eq!(table.rows[2].cell(2), &Cell::Number(13812345678.0));
    assert_eq!(table.rows[2].cell(5), &Cell::Bool(true));
    assert_eq!(table.rows[3].cell(0), &Cell::Text("测试丁".into()));
    assert_eq!(table.rows[3].cell(11), &Cell::Date(NaiveDate::from_ymd_opt(1990, 5, 17).unwrap()));
}

#[test]
fn register_parses_with_excel_damage_reported() {
    let parsed = parse(&register());
    assert_eq!(parsed.total_rows, 6);
    assert_eq!(parsed_rows(&parsed), [2, 4, 5]);
    assert_eq!(parsed.ignored_columns, ["民族", "column N (no header)"]);
    assert_eq!(
        error_codes(&parsed),
        [(3, "身份证号", "id_number.excel_number"), (6, "户号", "excel_date"), (8, "身份证号", "id_number.checksum")]
    );

    let excel = &parsed.errors[0];
    assert_eq!(excel.value, "440785********1000", "shown as Excel shows it, and masked");
    assert!(excel.message.contains("Excel") && excel.message.contains("Text"), "{}", excel.message);
    assert!(parsed.errors[1].message.contains("date"), "{}", parsed.errors[1].message);

    let first = &parsed.rows[0];
    assert_eq!(first.name, "测试甲");
    assert_eq!(first.document.number(), Some(id("19800101", 1).as_str()));
    assert_eq!(first.sex, Some(Sex::Male));
    assert_eq!(first.birth_date, NaiveDate::from_ymd_opt(1980, 1, 1));
    assert_eq!(first.grid.as_ref().unwrap().as_str(), "440785101210-G01");
    assert_eq!(first.household.as_ref().unwrap().as_str(), "440785101210-G01-H001");
    assert!(first.needs.cannot_walk && !first.needs.bedridden);

    let numeric_phone = &parsed.rows[1];
    assert_eq!(numeric_phone.phone.as_ref().unwrap().as_str(), "13812345678");
    assert_eq!(numeric_phone.grid.as_ref().unwrap().as_str(), "440785101210");
    assert!(numeric_phone.needs.cannot_walk && numeric_phone.needs.bedridden);
    assert_eq!(numeric_phone.needs.other.as_deref(), Some("需上门采样"));
    assert_eq!(numeric_phone.sex, Some(Sex::Female));

    let passport = &parsed.rows[2];
    assert_eq!(passport.name, "测试丁");
    assert_eq!(passport.document.kind(), DocumentType::Passport);
    assert_eq!(passport.document.number(), Some("E12345678"));
    assert_eq!(passport.sex, Some(Sex::Female));
    assert_eq!(passport.birth_date, NaiveDate::from_ymd_opt(1990, 5, 17));
    assert_eq!(passport.grid, None);
}

#[test]
fn header_below_a_blank_row() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (col, header) in ["Name", "ID Number", "Household"].iter().enumerate() {
        sheet.write_string(2, col as u16, *header).unwrap();
    }
    sheet.write_string(3, 0, "测试甲").unwrap();
    sheet.write_string(3, 1, id("19800101", 1)).unwrap();
    sheet.write_string(3, 2, "H1").unwrap();
    sheet.write_string(4, 0, "测试乙").unwrap();
    sheet.write_string(4, 2, "H1").unwrap();
    let parsed = parse(&workbook.save_to_buffer().unwrap());
    assert_eq!(parsed_rows(&parsed), [4]);
    assert_eq!(error_codes(&parsed), [(5, "ID Number", "missing_value")]);
}

#[test]
fn truncated_and_corrupted_workbooks_are_refused() {
    let bytes = register();
    for cut in [10, 100, bytes.len() / 2, bytes.len() - 30] {
        let result = read_table(&bytes[..cut]);
        assert!(matches!(result, Err(ImportError::Xlsx(_))), "cut at {cut}: {result:?}");
    }
    let mut scrambled = bytes.clone();
    for byte in &mut scrambled[200..bytes.len() - 200] {
        *byte = byte.wrapping_mul(31).wrapping_add(7);
    }
    assert!(read_table(&scrambled).is_err());
}

#[test]
fn zip_directory_declaring_a_huge_entry_is_refused() {
    // A zip bomb is recognised by what its directory declares: patch the uncompressed size of
    // the first central-directory entry to 2 GiB.
    let mut bytes = register();
    let central = bytes.windows(4).position(|w| w == b"PK\x01\x02").unwrap();
    bytes[central + 24..central + 28].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    assert_eq!(read_table(&bytes), Err(ImportError::XlsxTooLarge { limit: MAX_UNPACKED_BYTES }));
}

#[test]
fn too_many_zip_entries_are_refused() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..1_001 {
        zip.start_file(format!("part{i}.xml"), options).unwrap();
        zip.write_all(b"<x/>").unwrap();
    }
    let bytes = zip.finish().unwrap().into_inner();
    let result = read_table(&bytes);
    assert!(matches!(&result, Err(ImportError::Xlsx(m)) if m.contains("parts")), "{result:?}");
}

#[test]
fn a_zip_that_is_not_a_workbook_is_refused() {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    zip.start_file("readme.txt", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all("不是表格".as_bytes()).unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    assert!(matches!(read_table(&bytes), Err(ImportError::Xlsx(_))));
}

#[test]
fn cells_far_to_the_right_are_refused() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "姓名").unwrap();
    sheet.write_string(1, MAX_COLUMNS as u16, "x").unwrap();
    assert_eq!(
        read_table(&workbook.save_to_buffer().unwrap()),
        Err(ImportError::TooManyColumns { limit: MAX_COLUMNS })
    );
}

#[test]
fn a_far_away_empty_cell_costs_nothing() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "姓名").unwrap();
    sheet.write_string(1, 0, "测试甲").unwrap();
    sheet.write_blank(1_048_575, 16_383, &Format::new().set_bold()).unwrap();
    let table = read_table(&workbook.save_to_buffer().unwrap()).unwrap();
    assert_eq!(table.rows.len(), 1);
    assert_eq!(table.headers, ["姓名"]);
}

#[test]
fn an_empty_workbook_is_refused() {
    let mut workbook = Workbook::new();
    workbook.add_worksheet();
    assert_eq!(read_table(&workbook.save_to_buffer().unwrap()), Err(ImportError::Empty));
}

/// calamine 0.38 subtracts the start of a `<dimension ref>` from its end without a check
/// (`get_dimension`), which panics in debug builds when the range is reversed. The importer
/// catches it at its boundary: the file is refused, nothing crashes.
#[test]
fn reversed_dimension_is_caught() {
    let mut parts = workbook_parts().clone();
    let (_, sheet) = parts.iter_mut().find(|(name, _)| name == "xl/worksheets/sheet1.xml").unwrap();
    let xml = String::from_utf8(sheet.clone()).unwrap();
    assert!(xml.contains(r#"<dimension ref="A1:E2"/>"#), "{xml}");
    *sheet = xml.replace(r#"<dimension ref="A1:E2"/>"#, r#"<dimension ref="E2:A1"/>"#).into_bytes();
    let result = read_table(&zip_parts(&parts));
    if cfg!(debug_assertions) {
        assert_eq!(result, Err(ImportError::Xlsx("the workbook is malformed".into())));
    }
}

#[test]
fn one_cell_far_right_on_many_rows_is_refused() {
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    let rows = MAX_CELLS / MAX_COLUMNS + 1;
    for row in 0..rows {
        sheet.write_string(row as u32, (MAX_COLUMNS - 1) as u16, "x").unwrap();
    }
    assert_eq!(read_table(&workbook.save_to_buffer().unwrap()), Err(ImportError::TooManyCells { limit: MAX_CELLS }));
}
