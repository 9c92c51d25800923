//! The row rules, on small UTF-8 CSV files: what is required, what is derived from the ID
//! number, how errors name their row, column and expectation, and how values are masked.

use crate::support::{assert_totals, error_codes, id, parse, parsed_rows, today, with_wrong_check};
use bulwark_domain::people::{Document, DocumentType, Sex};
use bulwark_importer::{ErrorCode, Field, ImportError, parse_residents, parse_residents_with_progress, read_table};
use chrono::NaiveDate;

fn csv(lines: &[&str]) -> Vec<u8> {
    lines.join("\n").into_bytes()
}

#[test]
fn errors_name_row_column_and_expectation() {
    let bad = with_wrong_check(&id("19800101", 1));
    let parsed = parse(&csv(&["序号,姓名,身份证号,电话,网格", &format!("1,测试甲,{bad},12345,G01")]));
    assert_eq!(error_codes(&parsed), [(2, "身份证号", "id_number.checksum"), (2, "电话", "phone.format")]);
    let [checksum, phone] = &parsed.errors[..] else { unreachable!() };
    assert!(checksum.message.contains("check character should be"), "{}", checksum.message);
    assert_eq!(checksum.value, format!("440785********{}", &bad[14..]));
    assert!(phone.message.contains("11 digits"), "{}", phone.message);
    assert_eq!(phone.value, "123*5");
    assert_eq!(parsed.rejected_rows(), 1);
}

#[test]
fn every_error_of_a_row_is_reported() {
    let parsed = parse(&csv(&[
        "姓名,身份证号,电话,网格,户号,行动不便,卧床,性别",
        "   ,123,abc,,,也许,2,X",
        &format!("测试乙,{},,G 1,,,,", id("19800101", 3)),
    ]));
    assert_eq!(
        error_codes(&parsed),
        [
            (2, "姓名", "missing_value"),
            (2, "身份证号", "id_number.length"),
            (2, "性别", "sex.unknown"),
            (2, "电话", "phone.format"),
            (2, "网格", "area.missing"),
            (2, "行动不便", "boolean.format"),
            (2, "卧床", "boolean.format"),
            (3, "网格", "area_code.format"),
        ]
    );
    assert_eq!(parsed.total_rows, 2);
    assert_eq!(parsed.rejected_rows(), 2);
}

#[test]
fn sex_and_birth_date_come_from_the_id() {
    let woman = id("19550707", 8);
    let parsed = parse(&csv(&[
        "姓名,身份证号,网格,性别,出生日期",
        &format!("测试甲,{woman},G01,女,1955-07-07"),
        &format!("测试乙,{},G01,,", id("19600101", 9)),
        &format!("测试丙,{},G01,男,1955/7/8", id("19550707", 10)),
    ]));
    assert_eq!(parsed_rows(&parsed), [2, 3]);
    assert_eq!(parsed.rows[0].sex, Some(Sex::Female));
    assert_eq!(parsed.rows[1].sex, Some(Sex::Male));
    assert_eq!(parsed.rows[1].birth_date, NaiveDate::from_ymd_opt(1960, 1, 1));
    assert_eq!(error_codes(&parsed), [(4, "性别", "sex.contradicts_id"), (4, "出生日期", "birth_date.contradicts_id")]);
    // The message does not repeat the birth date the masked ID hides.
    assert!(parsed.errors.iter().all(|e| !e.message.contains("1955")));
}

#[test]
fn people_without_a_resident_id() {
    let parsed = parse(&csv(&[
        "姓名,证件类型,证件号码,户号,性别,出生日期",
        "测试甲,护照,e1234567,H1,F,1990年5月17日",
        "测试乙,无,,H1,,",
        &format!("测试丙,,{},H1,,", id("19800101", 1)),
        "测试丁,驾照,123,H1,,",
        "测试戊,护照,,H1,,",
        "测试己,无,123,H1,,",
        "测试庚,,,H1,,",
        "测试辛,其他,X1,H1,男,2030-01-01",
    ]));
    assert_eq!(parsed_rows(&parsed), [2, 3, 4]);
    let [passport, none, resident] = &parsed.rows[..] else { unreachable!() };
    assert_eq!(passport.document, Document::Other { kind: DocumentType::Passport, number: "E1234567".into() });
    assert_eq!((passport.sex, passport.birth_date), (Some(Sex::Female), NaiveDate::from_ymd_opt(1990, 5, 17)));
    assert_eq!(none.document, Document::None);
    assert_eq!(resident.document.kind(), DocumentType::ResidentId);
    assert_eq!(
        error_codes(&parsed),
        [
            (5, "证件类型", "document_type.unknown"),
            (6, "证件号码", "missing_value"),
            (7, "证件号码", "document_number.unexpected"),
            (8, "证件号码", "missing_value"),
            (9, "出生日期", "birth_date.future"),
        ]
    );
}

#[test]
fn id_column_and_document_columns_must_agree() {
    let person = id("19800101", 1);
    let parsed = parse(&csv(&[
        "姓名,身份证号,证件类型,证件号码,网格",
        &format!("测试甲,{person},身份证,{},G1", person.to_lowercase()),
        &format!("测试乙,{person},护照,E1,G1"),
        &format!("测试丙,{},,{},G1", id("19800101", 3), id("19800101", 5)),
    ]));
    assert_eq!(parsed_rows(&parsed), [2]);
    assert_eq!(error_codes(&parsed), [(3, "证件类型", "document.conflict"), (4, "证件号码", "document.conflict")]);
}

#[test]
fn duplicates_in_the_file_name_the_first_row() {
    let person = id("19800101", 1);
    let parsed = parse(&csv(&[
        "姓名,身份证号,证件类型,证件号码,网格",
        &format!("测试甲,{person},,,G1"),
        &format!("测试甲,{},,,G2", person.to_lowercase()),
        "测试乙,,护照,E1,G1",
        "测试乙,,护照,e1,G1",
        "测试丙,,无,,G1",
        "测试丁,,无,,G1",
        &format!("测试甲,,身份证,{person},G1"),
    ]));
    assert_eq!(parsed_rows(&parsed), [2, 4, 6, 7]);
    assert_eq!(
        error_codes(&parsed),
        [
            (3, "身份证号", "duplicate_in_file"),
            (5, "证件号码", "duplicate_in_file"),
            (8, "证件号码", "duplicate_in_file")
        ]
    );
    assert!(parsed.errors[0].message.contains("row 2"), "{}", parsed.errors[0].message);
    assert!(parsed.errors[1].message.contains("row 4"), "{}", parsed.errors[1].message);
}

#[test]
fn headers_in_english_any_case_and_spacing() {
    let parsed = parse(&csv(&[
        " NAME ,Id_Number,PHONE,Grid Code,household,Cannot Walk,BEDRIDDEN,other needs,Sex,Birth-Date,Remark",
        &format!("Test Person,{},138 1234 5678,g01,h01,Y,no,blind,,,x", id("19800101", 1)),
    ]));
    assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
    let row = &parsed.rows[0];
    assert_eq!(row.name, "Test Person");
    assert_eq!(row.phone.as_ref().unwrap().as_str(), "13812345678");
    assert_eq!(row.grid.as_ref().unwrap().as_str(), "G01");
    assert!(row.needs.cannot_walk && !row.needs.bedridden);
    assert_eq!(row.needs.other.as_deref(), Some("blind"));
    assert_eq!(parsed.ignored_columns, ["Remark"]);
    assert_eq!(parsed.header(Field::Grid), Some("Grid Code"));
    assert_eq!(parsed.header(Field::Address), None);
}

#[test]
fn booleans_in_every_accepted_form() {
    let mut lines = vec!["姓名,身份证号,网格,行动不便,卧床".to_string()];
    let forms = [("是", "否"), ("Y", "N"), ("yes", "no"), ("TRUE", "false"), ("1", "0"), ("√", "")];
    for (i, (yes, no)) in forms.iter().enumerate() {
        lines.push(format!("测试{i},{},G1,{yes},{no}", id("19800101", 2 * i as u32 + 1)));
    }
    let parsed = parse(lines.join("\n").as_bytes());
    assert_eq!(parsed.rows.len(), forms.len(), "{:#?}", parsed.errors);
    assert!(parsed.rows.iter().all(|r| r.needs.cannot_walk && !r.needs.bedridden));
}

#[test]
fn missing_columns_are_a_file_error_naming_found_and_expected() {
    let table = read_table(&csv(&["序号,名字,电话", "1,测试甲,13812345678"])).unwrap();
    let error = parse_residents(&table, today()).unwrap_err();
    let ImportError::MissingColumns { missing, found } = &error else { panic!("{error:?}") };
    assert_eq!(found, &["序号", "名字", "电话"]);
    assert_eq!(missing.len(), 3);
    let message = error.to_string();
    assert!(message.contains("姓名 (name)") && message.contains("身份证号 (id_number)"), "{message}");
}

#[test]
fn values_that_look_like_ids_or_phones_are_masked_anywhere() {
    let parsed = parse(&csv(&[
        "姓名,身份证号,网格,出生日期",
        &format!("测试甲,{},G1,{}", id("19800101", 2), id("19800101", 2)),
        &format!("测试乙,{},G1,13812345678", id("19800101", 4)),
    ]));
    let values: Vec<&str> = parsed.errors.iter().map(|e| e.value.as_str()).collect();
    assert_eq!(values, [format!("440785********{}", &id("19800101", 2)[14..]).as_str(), "138****5678"]);
}

#[test]
fn row_numbers_survive_blank_lines_and_multiline_cells() {
    let parsed = parse(&csv(&[
        "",
        "姓名,身份证号,网格,备注",
        &format!("测试甲,{},G1,\"第一行\n第二行\"", id("19800101", 1)),
        "",
        "测试乙,bad,G1,",
        "",
    ]));
    assert_eq!(parsed_rows(&parsed), [3]);
    assert_eq!(error_codes(&parsed), [(5, "身份证号", "id_number.length")]);
    assert_eq!(parsed.rows[0].needs.other.as_deref(), Some("第一行\n第二行"));
}

#[test]
fn progress_reports_every_thousand_rows_and_the_end() {
    let mut lines = vec!["姓名,身份证号,网格".to_string()];
    lines.extend((0..2_500).map(|i| format!("测试{i},{},G1", id("19800101", i % 1000))));
    let table = read_table(lines.join("\n").as_bytes()).unwrap();
    let mut seen = Vec::new();
    let parsed = parse_residents_with_progress(&table, today(), &mut |done| seen.push(done)).unwrap();
    assert_eq!(seen, [1_000, 2_000, 2_500]);
    assert_totals(&parsed);
    let exact = read_table(lines[..2_001].join("\n").as_bytes()).unwrap();
    seen.clear();
    parse_residents_with_progress(&exact, today(), &mut |done| seen.push(done)).unwrap();
    assert_eq!(seen, [1_000, 2_000]);
    // Sequence numbers repeat every 1,000 rows, so 1,500 rows are duplicates.
    assert_eq!(parsed.rows.len(), 1_000);
    assert!(parsed.errors.iter().all(|e| e.code == ErrorCode::DuplicateInFile));
}
