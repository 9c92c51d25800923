//! CSV files in the encodings Chinese Excel writes. Names with rare characters must come back
//! exactly, whatever the encoding; text that fits no encoding is refused, never guessed at.

use crate::support::{error_codes, id, parse, parsed_rows};
use bulwark_importer::{ImportError, read_table};
use encoding_rs::{GB18030, UTF_16LE};

/// 湴 (as in 湴朗村) is in GBK; 𠮷 lies outside the Basic Multilingual Plane, which only GB18030's
/// four-byte sequences reach.
fn register() -> String {
    [
        "姓名,身份证号,联系电话,住址,网格编码",
        &format!("湴测试,{},13812345678,湴朗村测试路1号,G01", id("19800101", 1)),
        &format!("𠮷测试,{},0750-7381368,,G02", id("19900202", 2)),
        "",
    ]
    .join("\r\n")
}

fn names_and_addresses(bytes: &[u8]) -> Vec<(String, Option<String>)> {
    let parsed = parse(bytes);
    assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
    parsed.rows.into_iter().map(|r| (r.name, r.address)).collect()
}

fn expected() -> Vec<(String, Option<String>)> {
    vec![("湴测试".into(), Some("湴朗村测试路1号".into())), ("𠮷测试".into(), None)]
}

#[test]
fn gb18030_as_chinese_excel_saves_it() {
    let text = register();
    let (bytes, _, unmappable) = GB18030.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "the test file must really be GB18030");
    assert_eq!(names_and_addresses(&bytes), expected());
}

#[test]
fn utf8_with_and_without_bom() {
    let plain = register().into_bytes();
    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend_from_slice(&plain);
    assert_eq!(names_and_addresses(&plain), expected());
    assert_eq!(names_and_addresses(&with_bom), expected());
    // The BOM does not stick to the first header.
    assert_eq!(read_table(&with_bom).unwrap().headers[0], "姓名");
}

#[test]
fn utf16_unicode_text_with_tabs() {
    let text = register().replace(',', "\t");
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    assert_eq!(UTF_16LE.decode(&bytes).0, text, "the test file must really be UTF-16LE");
    assert_eq!(names_and_addresses(&bytes), expected());
}

#[test]
fn text_in_no_known_encoding_is_refused() {
    // 0x80 and 0xFF are not lead bytes in GB18030, and this is not UTF-8 either.
    let mut bytes = GB18030.encode("姓名,身份证号\n测试").0.into_owned();
    bytes.extend_from_slice(b"\x80\xff\n");
    assert_eq!(read_table(&bytes), Err(ImportError::Encoding));
}

#[test]
fn id_shortened_by_excel_in_a_csv_file() {
    // Opening a CSV in Excel and saving it again turns every ID number into "4.40785E+17".
    let csv = format!("姓名,身份证号,网格\n测试甲,4.40785E+17,G01\n测试乙,{},G01\n", id("19800101", 1));
    let parsed = parse(csv.as_bytes());
    assert_eq!(parsed_rows(&parsed), [3]);
    assert_eq!(error_codes(&parsed), [(2, "身份证号", "id_number.excel_number")]);
    let error = &parsed.errors[0];
    assert!(error.message.contains("Excel") && error.message.contains("Text"), "{}", error.message);
    assert_eq!(error.value, "4.*******17");
}
