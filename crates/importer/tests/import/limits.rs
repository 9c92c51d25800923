//! Size limits, and a register of 50,000 rows (the scale of a town) read and parsed in one go.

use crate::support::{assert_totals, id, today};
use bulwark_importer::{ErrorCode, ImportError, MAX_FILE_BYTES, MAX_ROWS, parse_residents, read_table};
use chrono::{Days, NaiveDate};
use rust_xlsxwriter::{Format, Workbook};
use std::time::Instant;

#[test]
fn files_over_20_mib_are_refused_unread() {
    let bytes = vec![b','; MAX_FILE_BYTES + 1];
    assert_eq!(read_table(&bytes), Err(ImportError::FileTooLarge { size: MAX_FILE_BYTES + 1, limit: MAX_FILE_BYTES }));
}

#[test]
fn more_than_200k_rows_are_refused() {
    let mut csv = String::from("姓名\n");
    for _ in 0..=MAX_ROWS {
        csv.push_str("x\n");
    }
    assert_eq!(read_table(csv.as_bytes()), Err(ImportError::TooManyRows { limit: MAX_ROWS }));
    // Exactly the limit is fine.
    let at_limit = &csv[..csv.len() - 2];
    assert_eq!(read_table(at_limit.as_bytes()).unwrap().rows.len(), MAX_ROWS);
}

#[test]
fn old_xls_and_binary_files_are_refused() {
    let xls = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0];
    assert_eq!(read_table(&xls), Err(ImportError::LegacyXls));
    assert_eq!(read_table(b"%PDF-1.7\n\0\0binary"), Err(ImportError::NotATable));
    assert_eq!(read_table(b""), Err(ImportError::Empty));
    assert_eq!(read_table(b"\n\n ,, \n"), Err(ImportError::Empty));
}

/// 50,000 people, every 1,000th with a mistyped ID number, as CSV and as a workbook. Timing is
/// printed, not asserted: `cargo test --release -p bulwark-importer --test import fifty --
/// --nocapture`. calamine is slow without optimisations, so debug builds read a 5,000-row
/// workbook unless BULWARK_SLOW_TESTS is set.
#[test]
fn fifty_thousand_rows() {
    let csv = register_csv(50_000);
    check_large(csv.as_bytes(), 50_000);
    let rows = if cfg!(debug_assertions) && std::env::var_os("BULWARK_SLOW_TESTS").is_none() { 5_000 } else { 50_000 };
    check_large(&xlsx_from_csv(&register_csv(rows)), rows);
}

fn register_csv(rows: u32) -> String {
    let first_birthday = NaiveDate::from_ymd_opt(1930, 1, 1).unwrap();
    let mut csv = String::from("姓名,身份证号,电话,网格,户号,行动不便\n");
    for i in 0..rows {
        let birthday = first_birthday + Days::new(u64::from(i % 25_000));
        let id = id(&birthday.format("%Y%m%d").to_string(), i / 25_000);
        let id = if i % 1_000 == 999 { &id[..17] } else { &id };
        let cannot_walk = if i % 7 == 0 { "是" } else { "" };
        csv.push_str(&format!("测试{i},{id},138{i:08},G{},G{}-H{i},{cannot_walk}\n", i % 40, i % 40));
    }
    csv
}

fn xlsx_from_csv(csv: &str) -> Vec<u8> {
    let mut workbook = Workbook::new();
    let text = Format::new().set_num_format("@");
    let sheet = workbook.add_worksheet();
    for (row, line) in csv.lines().enumerate() {
        for (col, value) in line.split(',').enumerate() {
            sheet.write_string_with_format(row as u32, col as u16, value, &text).unwrap();
        }
    }
    workbook.save_to_buffer().unwrap()
}

fn check_large(bytes: &[u8], rows: u32) {
    let start = Instant::now();
    let table = read_table(bytes).unwrap();
    let read = start.elapsed();
    let parsed = parse_residents(&table, today()).unwrap();
    println!("{rows} rows, {} bytes: read {read:?}, parsed {:?}", bytes.len(), start.elapsed() - read);
    assert_totals(&parsed);
    assert_eq!(parsed.total_rows, rows as usize);
    let mistyped = rows as usize / 1_000;
    assert_eq!(parsed.errors.len(), mistyped, "{:#?}", &parsed.errors[..3.min(parsed.errors.len())]);
    assert!(parsed.errors.iter().all(|e| e.code == ErrorCode::IdNumberLength));
    assert_eq!(parsed.rows.len(), rows as usize - mistyped);
}
