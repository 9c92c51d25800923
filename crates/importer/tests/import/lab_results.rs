//! Lab result files as labs send them: an Excel workbook with Chinese headers and date-time cells,
//! CSV in GB18030 as Chinese Excel saves it and in UTF-8 with a BOM, a title line above the
//! header, a lab with headers of its own and a saved column mapping, and rows with errors that
//! name their row and column. Every file goes through `read_table` and `parse_lab_results` the
//! way an upload does.

use bulwark_domain::testing::{LabOutcome, TubeFormat};
use bulwark_importer::{
    Cell, ImportError, LabColumnMapping, ParsedLabResults, Table, TableRow, parse_lab_results, read_table,
};
use chrono::{FixedOffset, TimeZone};
use encoding_rs::GB18030;
use proptest::prelude::*;
use proptest::test_runner::Config;
use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

/// An instant given as China time.
fn china(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    FixedOffset::east_opt(8 * 3600).unwrap().with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap().timestamp_millis()
}

/// Reads and parses `bytes` with the detected mapping, checking that every data row is either
/// parsed or rejected.
fn parse(bytes: &[u8]) -> ParsedLabResults {
    let table = read_table(bytes).unwrap_or_else(|e| panic!("file refused: {e}"));
    let mapping = LabColumnMapping::detect(&table.headers).unwrap_or_else(|e| panic!("columns refused: {e}"));
    parse_with(&table, &mapping, &TubeFormat::default())
}

fn parse_with(table: &Table, mapping: &LabColumnMapping, format: &TubeFormat) -> ParsedLabResults {
    let parsed = parse_lab_results(table, mapping, format).unwrap_or_else(|e| panic!("mapping refused: {e}"));
    assert_totals(&parsed);
    parsed
}

/// Rows in = rows parsed + rows rejected, and no row is both.
fn assert_totals(parsed: &ParsedLabResults) {
    assert_eq!(parsed.total_rows, parsed.results.len() + parsed.rejected_rows(), "{parsed:#?}");
    for (row, _) in &parsed.results {
        assert!(parsed.errors.iter().all(|e| e.row != *row), "row {row} both parsed and rejected");
    }
}

/// `(row, column, code)` of every error.
fn error_codes(parsed: &ParsedLabResults) -> Vec<(usize, &str, &str)> {
    parsed.errors.iter().map(|e| (e.row, e.column.as_str(), e.code.as_str())).collect()
}

/// `(row, tube, outcome)` of every result.
fn outcomes(parsed: &ParsedLabResults) -> Vec<(usize, &str, LabOutcome)> {
    parsed.results.iter().map(|(row, r)| (*row, r.tube.as_str(), r.outcome)).collect()
}

const HEADERS: [&str; 9] =
    ["序号", "条码号", "检测结果", "CT值(ORF1ab)", "CT值(N)", "采样时间", "检测时间", "报告时间", "检测机构"];

/// A lab's workbook: Ct values as numbers, times as Excel date-time cells in one row and as text
/// in the others, the way LIS exports mix them.
fn lab_workbook() -> Vec<u8> {
    let mut workbook = Workbook::new();
    let datetime = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let text = Format::new().set_num_format("@");
    let sheet = workbook.add_worksheet();
    for (col, header) in HEADERS.iter().enumerate() {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    // Row 2: everything as text but the Ct values, the result with its sign.
    sheet.write_number(1, 0, 1).unwrap();
    sheet.write_string_with_format(1, 1, "EP2022100600001", &text).unwrap();
    sheet.write_string(1, 2, "阴性(-)").unwrap();
    sheet.write_string(1, 3, "—").unwrap();
    sheet.write_string(1, 4, "/").unwrap();
    sheet.write_string(1, 5, "2022-10-06 07:45").unwrap();
    sheet.write_string(1, 6, "2022/10/6 13:05:10").unwrap();
    sheet.write_string(1, 7, "2022年10月6日 15:30").unwrap();
    sheet.write_string(1, 8, "恩平市人民医院检验科").unwrap();
    // Row 3: a positive pool, Ct values as numbers, the tube code as a number in a General cell.
    sheet.write_number(2, 0, 2).unwrap();
    sheet.write_number(2, 1, 221006000123.0).unwrap();
    sheet.write_string(2, 2, "阳性").unwrap();
    sheet.write_number(2, 3, 28.5).unwrap();
    sheet.write_number(2, 4, 30.25).unwrap();
    sheet.write_string(2, 5, "2022-10-06T08:10:00").unwrap();
    sheet.write_string(2, 8, "恩平市人民医院检验科").unwrap();
    // Row 4: times as real date-time cells.
    sheet.write_number(3, 0, 3).unwrap();
    sheet.write_string(3, 1, "EP2022100600003").unwrap();
    sheet.write_string(3, 2, "可疑").unwrap();
    sheet.write_number(3, 3, 36.8).unwrap();
    let sampled = ExcelDateTime::parse_from_str("2022-10-06 08:20:00").unwrap();
    sheet.write_datetime_with_format(3, 5, &sampled, &datetime).unwrap();
    // Row 5: a date-time given as a plain number (a cell formatted General).
    sheet.write_number(4, 0, 4).unwrap();
    sheet.write_string(4, 1, "EP2022100600004").unwrap();
    sheet.write_string(4, 2, "NEGATIVE").unwrap();
    sheet.write_number(4, 5, 44840.0 + (8.0 + 30.0 / 60.0) / 24.0).unwrap();
    workbook.save_to_buffer().unwrap()
}

#[test]
fn xlsx_with_chinese_headers_and_datetime_cells() {
    let bytes = lab_workbook();
    let table = read_table(&bytes).unwrap();
    // A date-time cell keeps its time of day.
    let sampled = chrono::NaiveDate::from_ymd_opt(2022, 10, 6).unwrap().and_hms_opt(8, 20, 0).unwrap();
    assert_eq!(table.rows[2].cell(5), &Cell::DateTime(sampled));

    let parsed = parse(&bytes);
    assert_eq!(
        outcomes(&parsed),
        [
            (2, "EP2022100600001", LabOutcome::Negative),
            (3, "221006000123", LabOutcome::Positive),
            (4, "EP2022100600003", LabOutcome::Abnormal),
            (5, "EP2022100600004", LabOutcome::Negative)
        ]
    );
    assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);

    let (_, first) = &parsed.results[0];
    assert_eq!((first.ct_orf1ab, first.ct_n), (None, None));
    assert_eq!(first.sampled_at, Some(china(2022, 10, 6, 7, 45)));
    assert_eq!(first.tested_at, Some(china(2022, 10, 6, 13, 5) + 10_000));
    assert_eq!(first.reported_at, Some(china(2022, 10, 6, 15, 30)));
    assert_eq!(first.lab.as_deref(), Some("恩平市人民医院检验科"));
    let (_, positive) = &parsed.results[1];
    assert_eq!((positive.ct_orf1ab, positive.ct_n), (Some(28.5), Some(30.25)));
    assert_eq!(positive.sampled_at, Some(china(2022, 10, 6, 8, 10)));
    assert_eq!((positive.tested_at, positive.reported_at), (None, None));
    let (_, datetime_cell) = &parsed.results[2];
    assert_eq!(datetime_cell.sampled_at, Some(china(2022, 10, 6, 8, 20)), "read from the date-time cell in China time");
    let (_, serial) = &parsed.results[3];
    assert_eq!(serial.sampled_at, Some(china(2022, 10, 6, 8, 30)));
    assert_eq!(parsed.ignored_columns, ["序号"]);
}

/// The same lab file as CSV text, the way Chinese Excel writes dates (`2022/10/6 15:30`).
fn lab_csv() -> String {
    [
        "条码号,检测结果,CT值(ORF1ab),CT值(N),采样时间,检测时间,报告时间,检测机构",
        "EP2022100600001,阴性,,,2022/10/6 7:45,2022/10/6 13:05,2022/10/6 15:30,湴朗村临时检测点",
        "EP2022100600002,阳性（+）,24.61,26.03,2022/10/6 7:50,2022/10/6 13:05,2022/10/6 15:30,湴朗村临时检测点",
        "ep2022100600003,异常,36.2,-,2022/10/6 7:55,2022/10/6 13:05,2022/10/6 15:31,湴朗村临时检测点",
        "",
    ]
    .join("\r\n")
}

fn assert_lab_csv(parsed: &ParsedLabResults) {
    assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
    assert_eq!(
        outcomes(parsed),
        [
            (2, "EP2022100600001", LabOutcome::Negative),
            (3, "EP2022100600002", LabOutcome::Positive),
            (4, "EP2022100600003", LabOutcome::Abnormal),
        ]
    );
    let (_, abnormal) = &parsed.results[2];
    assert_eq!((abnormal.ct_orf1ab, abnormal.ct_n), (Some(36.2), None));
    assert_eq!(abnormal.sampled_at, Some(china(2022, 10, 6, 7, 55)));
    assert_eq!(abnormal.reported_at, Some(china(2022, 10, 6, 15, 31)));
    assert_eq!(abnormal.lab.as_deref(), Some("湴朗村临时检测点"));
}

#[test]
fn gb18030_csv_as_chinese_excel_saves_it() {
    let text = lab_csv();
    let (bytes, _, unmappable) = GB18030.encode(&text);
    assert!(!unmappable);
    assert!(std::str::from_utf8(&bytes).is_err(), "the test file must really be GB18030");
    assert_lab_csv(&parse(&bytes));
}

#[test]
fn utf8_with_a_bom() {
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    bytes.extend_from_slice(lab_csv().as_bytes());
    let parsed = parse(&bytes);
    assert_lab_csv(&parsed);
    assert_eq!(parsed.mapping.tube_code, "条码号");
}

#[test]
fn english_headers() {
    let text = "Barcode,Result,ORF1ab Ct,N Ct,Sampled_At,Tested_At,Reported_At,Lab\n\
                EP2022100600001,negative,,,2022-10-06 07:45:00,2022-10-06 13:05:00,2022-10-06 15:30:00,Enping CDC\n";
    let parsed = parse(text.as_bytes());
    assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
    assert_eq!(parsed.results[0].1.lab.as_deref(), Some("Enping CDC"));
    assert_eq!(parsed.results[0].1.tested_at, Some(china(2022, 10, 6, 13, 5)));
}

#[test]
fn a_title_row_above_the_header() {
    let text = "恩平市核酸检测结果报告（2022年10月6日）,,,\n\
                试管编号,结果,CT值,审核时间\n\
                EP2022100600001,阴性,,2022-10-06 15:30\n\
                EP2022100600002,阳性,31.5,2022-10-06 15:30\n";
    let table = read_table(text.as_bytes()).unwrap();
    assert_eq!(table.titles, ["恩平市核酸检测结果报告（2022年10月6日）"]);
    let parsed = parse(text.as_bytes());
    assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
    assert_eq!(
        outcomes(&parsed),
        [(3, "EP2022100600001", LabOutcome::Negative), (4, "EP2022100600002", LabOutcome::Positive)]
    );
    // A lone "CT值" column is the ORF1ab value.
    assert_eq!(parsed.results[1].1.ct_orf1ab, Some(31.5));
    assert_eq!(parsed.mapping.ct_orf1ab.as_deref(), Some("CT值"));
}

#[test]
fn a_lab_with_its_own_headers_and_a_saved_mapping() {
    let text = "管号,判定,采集时间,备注\n\
                EP2022100600001,阴性,2022-10-06 07:45,\n\
                EP2022100600002,阳性,2022-10-06 07:50,复核\n";
    let table = read_table(text.as_bytes()).unwrap();
    let err = LabColumnMapping::detect(&table.headers).unwrap_err();
    assert!(err.to_string().contains("条码号 (tube_code)"), "{err}");

    // As the lab's mapping is stored: JSON, optional fields left out.
    let saved = r#"{"tube_code":"管号","result":"判定","sampled_at":"采集时间"}"#;
    let mapping: LabColumnMapping = serde_json::from_str(saved).unwrap();
    assert_eq!(serde_json::from_str::<LabColumnMapping>(&serde_json::to_string(&mapping).unwrap()).unwrap(), mapping);
    let parsed = parse_with(&table, &mapping, &TubeFormat::default());
    assert!(parsed.errors.is_empty(), "{:#?}", parsed.errors);
    assert_eq!(
        outcomes(&parsed),
        [(2, "EP2022100600001", LabOutcome::Negative), (3, "EP2022100600002", LabOutcome::Positive)]
    );
    assert_eq!(parsed.results[1].1.sampled_at, Some(china(2022, 10, 6, 7, 50)));
    assert_eq!(parsed.ignored_columns, ["备注"]);

    // A saved mapping overrides detection even where detection would work.
    let usual = "条码号,检测结果,样本号\nX,阴性,EP2022100600009\n";
    let mapping = LabColumnMapping { tube_code: "样本号".into(), result: "检测结果".into(), ..mapping };
    let mapping = LabColumnMapping { sampled_at: None, ..mapping };
    let parsed = parse_with(&read_table(usual.as_bytes()).unwrap(), &mapping, &TubeFormat::default());
    assert_eq!(outcomes(&parsed), [(2, "EP2022100600009", LabOutcome::Negative)]);

    // A mapping naming a header the file lacks refuses the file, naming the header.
    let other_lab = "条码号,检测结果\nEP2022100600001,阴性\n";
    let saved: LabColumnMapping = serde_json::from_str(r#"{"tube_code":"管号","result":"判定"}"#).unwrap();
    let err =
        parse_lab_results(&read_table(other_lab.as_bytes()).unwrap(), &saved, &TubeFormat::default()).unwrap_err();
    let ImportError::MissingColumns { missing, found } = &err else { panic!("{err:?}") };
    assert_eq!(
        missing,
        &[
            "\"管号\", which the column mapping names for tube_code",
            "\"判定\", which the column mapping names for result"
        ]
    );
    assert_eq!(found, &["条码号", "检测结果"]);
}

#[test]
fn row_errors_name_the_row_and_the_column() {
    let text = [
        "条码号,检测结果,ORF1ab基因Ct值,N基因Ct值,采样时间,检测单位",
        "EP2022100600001,阴性,,,2022-10-06 07:45,恩平市人民医院",
        ",阴性,,,2022-10-06 07:45,恩平市人民医院",
        "EP-1,阴性,,,2022-10-06 07:45,恩平市人民医院",
        "EP2022100600004,待定,,,2022-10-06 07:45,恩平市人民医院",
        "EP2022100600005,阳性,abc,55,2022-10-06 07:45,恩平市人民医院",
        "EP2022100600006,阴性,,,10/6/2022 7:45,恩平市人民医院",
        "EP2022100600007,阴性,,,2022-10-06,恩平市人民医院",
        "",
        "EP2022100600009,,,,2022-10-06 07:45,恩平市人民医院",
        "XX2022100600010,阴性,,,2022-10-06 07:45,恩平市人民医院",
        "EP2022100600011,阴性,,,2022-10-06 07:45,13812345678",
    ]
    .join("\n");
    let parsed = parse(text.as_bytes());
    assert_eq!(
        error_codes(&parsed),
        [
            (3, "条码号", "missing_value"),
            (4, "条码号", "tube_code.format"),
            (5, "检测结果", "lab_outcome.unknown"),
            (6, "ORF1ab基因Ct值", "ct.format"),
            (6, "N基因Ct值", "ct.range"),
            (7, "采样时间", "time.format"),
            (8, "采样时间", "time.date_only"),
            (10, "检测结果", "missing_value"),
        ]
    );
    assert_eq!(parsed.total_rows, 10);
    assert_eq!(parsed.results.iter().map(|(row, _)| *row).collect::<Vec<_>>(), [2, 11, 12]);
    let message = |row: usize, column: &str| {
        parsed.errors.iter().find(|e| e.row == row && e.column == column).map(|e| e.message.clone()).unwrap()
    };
    assert!(message(4, "条码号").contains("6 to 24 letters A–Z, digits or '-'"), "{}", message(4, "条码号"));
    assert!(message(5, "检测结果").contains("阴性, 阳性, 可疑, 异常, 无效"), "{}", message(5, "检测结果"));
    assert!(message(6, "N基因Ct值").contains("between 0 and 50"), "{}", message(6, "N基因Ct值"));
    assert!(message(7, "采样时间").contains("2022/10/6 15:30"), "{}", message(7, "采样时间"));
    let value = |row: usize| parsed.errors.iter().find(|e| e.row == row).unwrap().value.clone();
    assert_eq!((value(4), value(5), value(7)), ("EP-1".to_string(), "待定".to_string(), "10/6/2022 7:45".to_string()));
    // A phone in the lab column is stored as written there; the importer does not judge names.
    assert_eq!(parsed.results[2].1.lab.as_deref(), Some("13812345678"));

    // A town whose labels all start with EP: a code from elsewhere is refused, saying so.
    let ep = TubeFormat { prefix: "EP".into(), ..TubeFormat::default() };
    let table = read_table(text.as_bytes()).unwrap();
    let mapping = LabColumnMapping::detect(&table.headers).unwrap();
    let parsed = parse_with(&table, &mapping, &ep);
    let refused = parsed.errors.iter().find(|e| e.row == 11).unwrap();
    assert_eq!((refused.code.as_str(), refused.value.as_str()), ("tube_code.format", "XX2022100600010"));
    assert!(refused.message.contains("starting with EP"), "{}", refused.message);
}

#[test]
fn excel_damage_to_tube_codes_is_named() {
    let mut workbook = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let sheet = workbook.add_worksheet();
    sheet.write_string(0, 0, "条码号").unwrap();
    sheet.write_string(0, 1, "检测结果").unwrap();
    sheet.write_number(1, 0, 2.20100600012345e17).unwrap();
    sheet.write_string(1, 1, "阴性").unwrap();
    sheet.write_datetime_with_format(2, 0, ExcelDateTime::from_ymd(2022, 10, 6).unwrap(), &date).unwrap();
    sheet.write_string(2, 1, "阴性").unwrap();
    let parsed = parse(&workbook.save_to_buffer().unwrap());
    assert_eq!(error_codes(&parsed), [(2, "条码号", "excel_number"), (3, "条码号", "excel_date")]);
}

fn config(cases: u32) -> Config {
    Config { cases, failure_persistence: None, ..Config::default() }
}

const TOKENS: &[&str] = &[
    "阴性",
    "阳性(+)",
    "可疑",
    "无效",
    "—",
    "/",
    "-",
    "35.2",
    "2022-10-06",
    " ",
    "15:30",
    "年",
    "月",
    "日",
    "T",
    "Z",
    "+08:00",
    ".",
    ":",
    "１",
    "EP",
    "2022100600001",
    "#N/A",
    "𠮷",
    "\u{feff}",
    "e",
    "9",
];

fn cell() -> impl Strategy<Value = Cell> {
    prop_oneof![
        Just(Cell::Empty),
        any::<String>().prop_map(Cell::Text),
        prop::collection::vec(prop::sample::select(TOKENS), 0..12).prop_map(|t| Cell::Text(t.concat())),
        any::<f64>().prop_map(Cell::Number),
        (0.0..3e6f64).prop_map(Cell::Number),
        any::<bool>().prop_map(Cell::Bool),
        (1i32..9999, 1u32..366)
            .prop_map(|(y, d)| { Cell::Date(chrono::NaiveDate::from_yo_opt(y, d).unwrap_or(chrono::NaiveDate::MIN)) }),
        Just(Cell::Error("#N/A".into())),
    ]
}

proptest! {
    #![proptest_config(config(512))]

    /// Whatever the cells hold, parsing ends in results and row errors, never a panic.
    #[test]
    fn arbitrary_cells_never_panic(rows in prop::collection::vec(prop::collection::vec(cell(), 0..10), 1..20)) {
        let table = Table {
            headers: HEADERS.iter().map(|h| h.to_string()).collect(),
            header_row: 1,
            titles: Vec::new(),
            rows: rows
                .into_iter()
                .enumerate()
                .filter(|(_, cells)| cells.iter().any(|c| !c.is_blank()))
                .map(|(i, cells)| TableRow { number: i + 2, cells })
                .collect(),
        };
        let mapping = LabColumnMapping::detect(&table.headers).unwrap();
        let parsed = parse_lab_results(&table, &mapping, &TubeFormat::default()).unwrap();
        assert_totals(&parsed);
    }

    /// Arbitrary headers never panic detection, and a detected mapping always fits its file.
    #[test]
    fn arbitrary_headers_never_panic(headers in prop::collection::vec(any::<String>(), 0..12)) {
        if let Ok(mapping) = LabColumnMapping::detect(&headers) {
            let table = Table { headers, header_row: 1, titles: Vec::new(), rows: Vec::new() };
            prop_assert!(parse_lab_results(&table, &mapping, &TubeFormat::default()).is_ok());
        }
    }
}
