//! Importing resident registers over HTTP, with files written at test time the way the real tools
//! write them: an XLSX workbook from rust_xlsxwriter (IDs as text, one ID and one phone as numbers),
//! a GB18030 CSV as Chinese Excel saves it, a UTF-8 CSV with a BOM, and a CSV where Excel has
//! already turned an ID number into `4.40785E+17`. Both engines; the page flow (preview, then
//! confirm) too.

use bulwark_domain::people::IdNumber;
use bulwark_testkit::{Client, Engine, TestServer};
use reqwest::{StatusCode, header};
use rust_xlsxwriter::{Format, Workbook};
use serde_json::Value;
use std::collections::BTreeSet;

/// A valid synthetic ID number (address code 900000 does not exist), born 1 January 1990.
fn id(seq: u32) -> String {
    IdNumber::from_body(&format!("900000199001011{seq:02}")).as_str().to_string()
}

/// `id` with a wrong check character.
fn with_wrong_check(id: &str) -> String {
    let (body, check) = id.split_at(17);
    format!("{body}{}", if check == "0" { "1" } else { "0" })
}

/// What the API shows of an ID number: `900000********1234`.
fn masked(id: &str) -> String {
    format!("{}********{}", &id[..6], &id[14..])
}

/// People registered in `area` (a code), as the commander's list counts them.
async fn count(client: &Client, area: &str) -> u64 {
    let (status, page) = client.get(&format!("/api/v1/persons?area={area}&limit=1")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["total"].as_u64().expect("a total")
}

/// The one person named `name` in `area`.
async fn person_named(client: &Client, area: &str, name: &str) -> Value {
    let (status, page) = client.get(&format!("/api/v1/persons?area={area}&q={name}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let found: Vec<&Value> = page["people"].as_array().unwrap().iter().filter(|p| p["name"] == name).collect();
    assert_eq!(found.len(), 1, "{name} in {page}");
    found[0].clone()
}

/// `(row, column, code)` of every error of a report.
fn codes(report: &Value) -> Vec<(u64, String, String)> {
    report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap().into(), e["code"].as_str().unwrap().into()))
        .collect()
}

/// The report adds up, every error names a data row, a header of the file and what is expected,
/// and no full ID number of the file appears in it.
fn check_report(report: &Value, headers: &[&str], ids: &[String], dry_run: bool, expected: (u64, u64, u64)) {
    let (total, ok, rejected) = expected;
    assert_eq!(report["dry_run"], dry_run, "{report:#}");
    assert_eq!(report["total_rows"], total, "{report:#}");
    assert_eq!(report["importable"], ok, "{report:#}");
    assert_eq!(report["imported"], if dry_run { 0 } else { ok }, "{report:#}");
    assert_eq!(report["rejected"], rejected, "{report:#}");
    assert_eq!(total, ok + rejected);
    let errors = report["errors"].as_array().unwrap();
    let rows: BTreeSet<u64> = errors.iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert_eq!(rows.len() as u64, rejected, "one or more errors for each rejected row: {report:#}");
    for e in errors {
        assert!(e["row"].as_u64().unwrap() >= 2, "the header is row 1: {e}");
        let column = e["column"].as_str().unwrap();
        assert!(headers.contains(&column), "column {column:?} is not a header of the file {headers:?}: {e}");
        assert!(e["message"].as_str().is_some_and(|m| m.len() > 10), "{e}");
        for id in ids {
            assert!(!e.to_string().contains(id.as_str()), "a full ID number in the report: {e}");
        }
    }
}

const XLSX_HEADERS: [&str; 6] = ["序号", "姓名", "身份证号", "手机", "住址", "户号"];

/// The ID numbers of [`register_xlsx`], and the workbook itself.
struct Register {
    bytes: Vec<u8>,
    ids: Vec<String>,
}

/// A register as an office would type it in Excel: IDs formatted as text, except one that went in
/// as a number (Excel keeps 15 digits), a phone typed as a number, and the usual mistakes.
fn register_xlsx(server: &TestServer) -> Register {
    let f = &server.fixture;
    let (a, b, c) = (f.code("A"), f.code("B"), f.code("C"));
    let canary = f.canaries[&f.people["A"][0]].0.clone();
    let excel_damaged = id(3);
    // What Excel stores for an 18-digit number typed into a General cell: 15 significant digits.
    let excel_number: f64 = format!("{}000", &excel_damaged[..15]).parse().unwrap();
    let text = Format::new().set_num_format("@");
    let mut workbook = Workbook::new();
    let sheet = workbook.add_worksheet();
    for (col, header) in XLSX_HEADERS.iter().enumerate() {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    enum Id {
        Text(String),
        Number(f64),
    }
    enum Phone<'a> {
        Text(&'a str),
        Number(f64),
        None,
    }
    let wrong = with_wrong_check(&id(4));
    let rows: Vec<(u32, &str, Id, Phone, &str, String)> = vec![
        // row 2: valid
        (2, "张湴一", Id::Text(id(1)), Phone::Text("13800000001"), "湴朗村1号", format!("{a}-H001")),
        // row 3: valid, the phone typed as a number
        (3, "李二", Id::Text(id(2)), Phone::Number(13800000002.0), "湴朗村2号", format!("{a}-H002")),
        // row 4: the ID typed as a number
        (4, "王三", Id::Number(excel_number), Phone::None, "", format!("{a}-H003")),
        // row 5: a wrong check character
        (5, "赵四", Id::Text(wrong.clone()), Phone::None, "", format!("{a}-H001")),
        // row 6: a household of town two, outside the commander's scope
        (6, "钱五", Id::Text(id(5)), Phone::None, "", format!("{c}-H001")),
        // row 7: a household that does not exist
        (7, "孙六", Id::Text(id(6)), Phone::None, "", format!("{a}-H099")),
        // row 8: someone already registered
        (8, "周七", Id::Text(canary.clone()), Phone::None, "", format!("{a}-H001")),
        // row 9: the same ID as row 2
        (9, "吴八", Id::Text(id(1)), Phone::None, "", format!("{b}-H001")),
        // row 10 is left blank; row 11: valid
        (11, "郑九", Id::Text(id(9)), Phone::Text("13800000009"), "二号网格3号", format!("{b}-H003")),
    ];
    for (row, name, id, phone, address, household) in &rows {
        let r = row - 1;
        sheet.write_number(r, 0, f64::from(*row - 1)).unwrap();
        sheet.write_string(r, 1, *name).unwrap();
        match id {
            Id::Text(s) => sheet.write_string_with_format(r, 2, s, &text).unwrap(),
            Id::Number(n) => sheet.write_number(r, 2, *n).unwrap(),
        };
        match phone {
            Phone::Text(s) => {
                sheet.write_string_with_format(r, 3, *s, &text).unwrap();
            }
            Phone::Number(n) => {
                sheet.write_number(r, 3, *n).unwrap();
            }
            Phone::None => {}
        }
        if !address.is_empty() {
            sheet.write_string(r, 4, *address).unwrap();
        }
        sheet.write_string_with_format(r, 5, household, &text).unwrap();
    }
    let bytes = workbook.save_to_buffer().unwrap();
    Register { bytes, ids: vec![id(1), id(2), id(3), id(5), id(6), id(9), wrong, canary] }
}

async fn xlsx_register(engine: Engine) {
    let server = TestServer::start(engine).await;
    let town = server.fixture.code("town1");
    let commander = server.login("commander").await;
    let Register { bytes, ids } = register_xlsx(&server);
    let before = count(&commander, &town).await;
    assert_eq!(before, 12);

    // A grid worker may not import, not even a preview.
    let grid_worker = server.login("gridworker_a").await;
    for path in ["/api/v1/imports/residents?dry_run=true", "/api/v1/imports/residents"] {
        let (status, body) = grid_worker.upload(path, "名册.xlsx", bytes.clone()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }
    assert_eq!(count(&commander, &town).await, before);

    // The preview stores nothing.
    let (status, preview) =
        commander.upload("/api/v1/imports/residents?dry_run=true", "名册.xlsx", bytes.clone()).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    check_report(&preview, &XLSX_HEADERS, &ids, true, (9, 3, 6));
    assert_eq!(count(&commander, &town).await, before);

    let expected: Vec<(u64, String, String)> = [
        (4, "身份证号", "id_number.excel_number"),
        (5, "身份证号", "id_number.checksum"),
        (6, "户号", "area.out_of_scope"),
        (7, "户号", "area.unknown"),
        (8, "身份证号", "document.registered"),
        (9, "身份证号", "duplicate_in_file"),
    ]
    .into_iter()
    .map(|(r, c, k)| (r, c.to_string(), k.to_string()))
    .collect();
    assert_eq!(codes(&preview), expected, "{preview:#}");
    let errors = preview["errors"].as_array().unwrap();
    let excel = &errors[0];
    let message = excel["message"].as_str().unwrap();
    assert!(message.contains("Excel") && message.contains("Text"), "the Excel explanation: {message}");
    assert_eq!(excel["value"], masked(&format!("{}000", &id(3)[..15])), "{excel}");
    assert!(errors[5]["message"].as_str().unwrap().contains("row 2"), "names the first row: {}", errors[5]);
    assert_eq!(preview["ignored_columns"], serde_json::json!(["序号"]));

    // The import stores exactly the valid rows, in one go.
    let (status, report) = commander.upload("/api/v1/imports/residents", "名册.xlsx", bytes.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    check_report(&report, &XLSX_HEADERS, &ids, false, (9, 3, 6));
    assert_eq!(codes(&report), expected);
    assert_eq!(count(&commander, &town).await, before + 3);
    assert_eq!(count(&commander, &server.fixture.code("A")).await, 6 + 2);
    assert_eq!(count(&commander, &server.fixture.code("B")).await, 6 + 1);
    let commander_two = server.login("commander_two").await;
    assert_eq!(count(&commander_two, &server.fixture.code("town2")).await, 6, "nothing outside the scope");

    // The imported people are readable, masked, and their names and addresses intact.
    let a = server.fixture.code("A");
    let first = person_named(&commander, &town, "张湴一").await;
    assert_eq!(first["document_number_masked"], masked(&id(1)), "{first}");
    assert_eq!(first["phone_masked"], "138****0001", "{first}");
    assert_eq!(first["address"], "湴朗村1号");
    assert_eq!(first["area"], format!("{a}-H001"));
    assert_eq!(first["grid"], a);
    assert_eq!(first["sex"], "male", "{first}");
    assert_eq!(first["birth_date"], "1990-01-01");
    assert_eq!(first["synthetic"], false);
    let (status, read) = commander.get(&format!("/api/v1/persons/{}", first["id"])).await;
    assert_eq!(status, StatusCode::OK, "{read}");
    assert_eq!(read["name"], "张湴一");
    assert!(!read.to_string().contains(&id(1)), "a full ID number: {read}");
    let second = person_named(&commander, &town, "李二").await;
    assert_eq!(second["phone_masked"], "138****0002", "the phone typed as a number: {second}");
    let last = person_named(&commander, &town, "郑九").await;
    assert_eq!(last["area"], format!("{}-H003", server.fixture.code("B")));
    let (_, page) = commander.get(&format!("/api/v1/persons?area={town}&q=王三")).await;
    assert_eq!(page["people"], serde_json::json!([]), "the row with the Excel number is not imported: {page}");

    // The same file again: every row is rejected, nothing is stored twice.
    let (status, again) = commander.upload("/api/v1/imports/residents", "名册.xlsx", bytes).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    check_report(&again, &XLSX_HEADERS, &ids, false, (9, 0, 9));
    let registered: Vec<u64> =
        codes(&again).into_iter().filter(|(_, _, code)| code == "document.registered").map(|(r, _, _)| r).collect();
    assert_eq!(registered, [2, 3, 8, 11], "{again:#}");
    assert_eq!(count(&commander, &town).await, before + 3);
}

#[tokio::test]
async fn xlsx_register_sqlite() {
    xlsx_register(Engine::Sqlite).await;
}

#[tokio::test]
async fn xlsx_register_postgres() {
    xlsx_register(Engine::Postgres).await;
}

/// A CSV file with CRLF line ends, encoded as Chinese Excel saves it.
fn gb18030(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(text);
    assert!(!unmappable, "GB18030 encodes all of it");
    assert!(std::str::from_utf8(&bytes).is_err(), "really not UTF-8");
    bytes.into_owned()
}

async fn csv_registers(engine: Engine) {
    let server = TestServer::start(engine).await;
    let town = server.fixture.code("town1");
    let (a, b) = (server.fixture.code("A"), server.fixture.code("B"));
    let commander = server.login("commander").await;
    let headers = ["姓名", "身份证号", "手机", "住址", "户号"];
    let before = count(&commander, &town).await;

    // "CSV (逗号分隔)" from Chinese Excel: GB18030, CRLF, the rare 湴 in names and addresses, a
    // quoted address with a comma.
    let text = [
        "姓名,身份证号,手机,住址,户号".to_string(),
        format!("湴朗张三,{},13800000021,恩平市圣堂镇湴朗村3号,{a}-H003", id(21)),
        format!("李湴,{},,\"湴朗村4号, 二楼\",{b}-H001", id(22)),
        format!("王五,{},1380000002,,{b}-H002", id(23)),
        format!("陈六,{},,,{a}-H404", id(24)),
    ]
    .join("\r\n")
        + "\r\n";
    let bytes = gb18030(&text);
    let ids = [id(21), id(22), id(23), id(24)];
    let (status, preview) = commander.upload("/api/v1/imports/residents?dry_run=true", "名册.csv", bytes.clone()).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    check_report(&preview, &headers, &ids, true, (4, 2, 2));
    let expected = vec![(4, "手机".to_string(), "phone.format".to_string()), (5, "户号".into(), "area.unknown".into())];
    assert_eq!(codes(&preview), expected);
    assert_eq!(count(&commander, &town).await, before);
    let (status, report) = commander.upload("/api/v1/imports/residents", "名册.csv", bytes).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    check_report(&report, &headers, &ids, false, (4, 2, 2));
    assert_eq!(count(&commander, &town).await, before + 2);
    let zhang = person_named(&commander, &town, "湴朗张三").await;
    assert_eq!(zhang["address"], "恩平市圣堂镇湴朗村3号", "{zhang}");
    assert_eq!(zhang["document_number_masked"], masked(&id(21)));
    let li = person_named(&commander, &town, "李湴").await;
    assert_eq!(li["address"], "湴朗村4号, 二楼", "{li}");
    assert_eq!(li["phone_masked"], Value::Null);

    // "CSV UTF-8 (逗号分隔)": a BOM before the first header, which must still be 姓名.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(
        format!("姓名,身份证号,手机,住址,户号\r\n湴仔,{},13800000031,湴朗村5号,{a}-H002\r\n", id(31)).as_bytes(),
    );
    let (status, report) = commander.upload("/api/v1/imports/residents", "utf8.csv", bom).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    check_report(&report, &headers, &[id(31)], false, (1, 1, 0));
    assert_eq!(person_named(&commander, &town, "湴仔").await["address"], "湴朗村5号");

    // An ID column that Excel showed in scientific notation before the file was saved as CSV.
    let text = format!("姓名,身份证号,户号\n郭七,4.40785E+17,{a}-H001\n何八,{},{a}-H001\n", id(41));
    let (status, report) = commander.upload("/api/v1/imports/residents", "sci.csv", text.into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    check_report(&report, &["姓名", "身份证号", "户号"], &[id(41)], false, (2, 1, 1));
    assert_eq!(codes(&report), [(2, "身份证号".to_string(), "id_number.excel_number".to_string())]);
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("Excel") && message.contains("Text"), "{message}");
    assert_eq!(count(&commander, &town).await, before + 4);
}

#[tokio::test]
async fn csv_registers_sqlite() {
    csv_registers(Engine::Sqlite).await;
}

#[tokio::test]
async fn csv_registers_postgres() {
    csv_registers(Engine::Postgres).await;
}

/// Register templates often mark required columns with `*`; the importer accepts `户号*` as the
/// household column, so errors about that column must name it as the file does.
async fn errors_name_marked_headers(engine: Engine) {
    let server = TestServer::start(engine).await;
    let (a, c) = (server.fixture.code("A"), server.fixture.code("C"));
    let commander = server.login("commander").await;
    let headers = ["姓名*", "身份证号*", "户号*"];
    let text = format!(
        "{}\n甲,{},{a}-H404\n乙,{},{c}-H001\n丙,{},{a}-H001\n",
        headers.join(","),
        id(51),
        id(52),
        with_wrong_check(&id(53))
    );
    let (status, report) =
        commander.upload("/api/v1/imports/residents?dry_run=true", "marked.csv", text.into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(
        codes(&report),
        [
            (2, "户号*".to_string(), "area.unknown".to_string()),
            (3, "户号*".into(), "area.out_of_scope".into()),
            (4, "身份证号*".into(), "id_number.checksum".into()),
        ],
        "{report:#}"
    );
    check_report(&report, &headers, &[id(51), id(52)], true, (3, 0, 3));
}

#[tokio::test]
async fn errors_name_marked_headers_sqlite() {
    errors_name_marked_headers(Engine::Sqlite).await;
}

#[tokio::test]
async fn errors_name_marked_headers_postgres() {
    errors_name_marked_headers(Engine::Postgres).await;
}

/// Nothing is half-imported: when the database refuses one row in the middle of the insert, none
/// of the file's rows stay; and two imports of the same file at once store it once.
async fn all_or_nothing(engine: Engine) {
    let server = TestServer::start(engine).await;
    let town = server.fixture.code("town1");
    let commander = server.login("commander").await;
    let before = count(&commander, &town).await;
    let Register { bytes, .. } = register_xlsx(&server);

    // The last valid row (郑九, row 11) cannot be written; rows 2 and 3 came before it.
    let fault = match engine {
        Engine::Sqlite => {
            "CREATE TRIGGER import_fault BEFORE INSERT ON persons WHEN NEW.name = '郑九' \
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
        }
        Engine::Postgres => {
            "CREATE FUNCTION import_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
             IF NEW.name = '郑九' THEN RAISE EXCEPTION 'injected fault'; END IF; RETURN NEW; END $$; \
             CREATE TRIGGER import_fault BEFORE INSERT ON persons FOR EACH ROW EXECUTE FUNCTION import_fault();"
        }
    };
    server.raw.execute(fault).await;
    let (status, body) = commander.upload("/api/v1/imports/residents", "名册.xlsx", bytes.clone()).await;
    assert!(status.is_server_error(), "{status}: {body}");
    assert!(!body.to_string().contains("injected"), "no database detail to the client: {body}");
    assert_eq!(count(&commander, &town).await, before, "rows 2 and 3 must not stay without row 11");
    let (_, page) = commander.get(&format!("/api/v1/persons?area={town}&q=张湴一")).await;
    assert_eq!(page["people"], serde_json::json!([]), "{page}");

    server
        .raw
        .execute(match engine {
            Engine::Sqlite => "DROP TRIGGER import_fault",
            Engine::Postgres => "DROP TRIGGER import_fault ON persons",
        })
        .await;
    let (status, report) = commander.upload("/api/v1/imports/residents", "名册.xlsx", bytes.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["imported"], 3, "{report:#}");
    assert_eq!(count(&commander, &town).await, before + 3);

    // A second file with three new valid people, uploaded twice at the same moment.
    let (a, b) = (server.fixture.code("A"), server.fixture.code("B"));
    let text =
        format!("姓名,身份证号,户号\n并一,{},{a}-H001\n并二,{},{a}-H002\n并三,{},{b}-H003\n", id(61), id(62), id(63));
    let upload = || commander.upload("/api/v1/imports/residents", "same.csv", text.clone().into_bytes());
    let (first, second) = tokio::join!(upload(), upload());
    let imported: Vec<u64> = [&first, &second]
        .iter()
        .filter(|(status, _)| *status == StatusCode::OK)
        .map(|(_, report)| report["imported"].as_u64().unwrap())
        .collect();
    for (status, body) in [&first, &second] {
        assert!(
            *status == StatusCode::OK || *status == StatusCode::CONFLICT,
            "either stored, rejected as registered, or refused as a conflict: {status} {body}"
        );
    }
    assert_eq!(
        imported.iter().filter(|&&n| n == 3).count(),
        1,
        "exactly one import stores the file: {first:?} {second:?}"
    );
    assert!(imported.iter().all(|&n| n == 0 || n == 3), "{first:?} {second:?}");
    assert_eq!(count(&commander, &town).await, before + 6);
}

#[tokio::test]
async fn all_or_nothing_sqlite() {
    all_or_nothing(Engine::Sqlite).await;
}

#[tokio::test]
async fn all_or_nothing_postgres() {
    all_or_nothing(Engine::Postgres).await;
}

/// When two imports of the same file race, the loser is told which row of its file is already
/// registered, numbered as the spreadsheet numbers it (the header is row 1). On PostgreSQL the
/// first import is slowed down inside its transaction so that the second one certainly meets it
/// at the unique index, not at the "already registered" check.
async fn concurrent_conflict_names_spreadsheet_rows(engine: Engine) {
    let server = TestServer::start(engine).await;
    let town = server.fixture.code("town1");
    let commander = server.login("commander").await;
    let before = count(&commander, &town).await;
    if engine == Engine::Postgres {
        server
            .raw
            .execute(
                "CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.name = '慢' THEN PERFORM pg_sleep(1); END IF; RETURN NEW; END $$; \
                 CREATE TRIGGER slow_insert BEFORE INSERT ON persons FOR EACH ROW EXECUTE FUNCTION slow_insert();",
            )
            .await;
    }
    let a = server.fixture.code("A");
    let rows = [(2, id(71)), (3, id(72)), (4, id(73))];
    let mut text = "姓名,身份证号,户号\n".to_string();
    for (_, id) in &rows {
        text.push_str(&format!("慢,{id},{a}-H001\n"));
    }
    let upload = || commander.upload("/api/v1/imports/residents", "race.csv", text.clone().into_bytes());
    let (first, second) = tokio::join!(upload(), upload());
    assert_eq!(count(&commander, &town).await, before + 3);
    for (status, body) in [&first, &second] {
        if *status != StatusCode::CONFLICT {
            assert_eq!(*status, StatusCode::OK, "{body}");
            continue;
        }
        let message = body["message"].as_str().unwrap();
        // "… 900000********1234 (row N) …": N must be the row of that ID number in the file.
        if let Some(at) = message.find("(row ") {
            let n: u64 = message[at + 5..].split(')').next().unwrap().parse().unwrap();
            let shown = message[..at].trim_end();
            let last4 = &shown[shown.len() - 4..];
            let (row, _) =
                rows.iter().find(|(_, id)| id.ends_with(last4)).expect("the message names an ID of the file");
            assert_eq!(n, *row, "the conflict names row {n} of the file for the ID in row {row}: {message}");
        }
    }
}

#[tokio::test]
async fn concurrent_conflict_names_spreadsheet_rows_sqlite() {
    concurrent_conflict_names_spreadsheet_rows(Engine::Sqlite).await;
}

#[tokio::test]
async fn concurrent_conflict_names_spreadsheet_rows_postgres() {
    concurrent_conflict_names_spreadsheet_rows(Engine::Postgres).await;
}

/// Files that are not registers are refused whole, with a reason the uploader can act on, and
/// nothing is stored.
async fn refused_files(engine: Engine) {
    let server = TestServer::start(engine).await;
    let town = server.fixture.code("town1");
    let commander = server.login("commander").await;
    let before = count(&commander, &town).await;
    let a = server.fixture.code("A");
    let legacy_xls = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0, 0, 0, 0];
    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("old.xls", legacy_xls.clone(), &[".xls", ".xlsx"]),
        ("empty.csv", Vec::new(), &["empty"]),
        (
            "columns.csv",
            format!("编号,电话,户号\n1,13800000001,{a}-H001\n").into_bytes(),
            &["姓名 (name)", "身份证号", "编号, 电话, 户号"],
        ),
        (
            "twice.csv",
            format!("姓名,手机,电话,身份证号,户号\n甲,,,{},{a}-H001\n", id(81)).into_bytes(),
            &["手机", "电话"],
        ),
        ("neither.csv", b"\xa9\x6d\xa6\x57,\xff\xfe\n".to_vec(), &["UTF-8", "GB18030"]),
    ];
    for (name, bytes, expected) in cases {
        for path in ["/api/v1/imports/residents?dry_run=true", "/api/v1/imports/residents"] {
            let (status, body) = commander.upload(path, name, bytes.clone()).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}: {body}");
            assert_eq!(body["field"], "file", "{name}: {body}");
            let message = body["message"].as_str().unwrap();
            for part in expected {
                assert!(message.contains(part), "{name}: {part:?} in {message}");
            }
        }
    }
    // A form without the field `file`.
    let form = reqwest::multipart::Form::new().text("other", "x");
    let response =
        commander.request(reqwest::Method::POST, "/api/v1/imports/residents").multipart(form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(count(&commander, &town).await, before);

    // The page says it too.
    let browser = Browser::login(&server, "commander").await;
    let (status, html) = browser.preview(legacy_xls).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{html}");
    assert!(html.contains(".xlsx"), "{html}");
    assert_eq!(count(&commander, &town).await, before);
}

#[tokio::test]
async fn refused_files_sqlite() {
    refused_files(Engine::Sqlite).await;
}

#[tokio::test]
async fn refused_files_postgres() {
    refused_files(Engine::Postgres).await;
}

/// A browser session: the cookie from `POST /login`, English pages.
struct Browser {
    url: String,
    cookie: String,
    http: reqwest::Client,
}

impl Browser {
    async fn login(server: &TestServer, username: &str) -> Browser {
        let http = server.anonymous().http;
        let response = http
            .post(format!("{}/login", server.url))
            .form(&[("username", username), ("password", bulwark_testkit::PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let set_cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().to_string();
        let session = set_cookie.split(';').next().unwrap();
        assert!(session.starts_with("bulwark_session=") && session.len() > 30, "{set_cookie}");
        Browser { url: server.url.clone(), cookie: format!("{session}; lang=en"), http }
    }

    /// A POST as a browser sends it from our own page.
    fn post(&self, path: &str, origin: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.url))
            .header(header::COOKIE, &self.cookie)
            .header(header::ORIGIN, origin)
    }

    /// Status and text of a page, without Fluent's bidi isolation marks.
    async fn page(response: reqwest::RequestBuilder) -> (StatusCode, String) {
        let response = response.send().await.unwrap();
        let status = response.status();
        (status, response.text().await.unwrap().replace(['\u{2068}', '\u{2069}'], ""))
    }

    async fn preview(&self, bytes: Vec<u8>) -> (StatusCode, String) {
        let part = reqwest::multipart::Part::bytes(bytes).file_name("名册.xlsx");
        let form = reqwest::multipart::Form::new().part("file", part);
        Self::page(self.post("/import", &self.url).multipart(form)).await
    }

    async fn confirm(&self, key: &str, origin: &str) -> (StatusCode, String) {
        Self::page(self.post("/import/confirm", origin).form(&[("key", key)])).await
    }
}

/// The hidden key of the confirmation form.
fn pending_key(html: &str) -> String {
    let start = html.find("name=\"key\" value=\"").expect("a confirmation form") + "name=\"key\" value=\"".len();
    let end = html[start..].find('"').unwrap();
    html[start..start + end].to_string()
}

async fn page_flow(engine: Engine) {
    let server = TestServer::start(engine).await;
    let town = server.fixture.code("town1");
    let api = server.login("commander").await;
    let before = count(&api, &town).await;
    let browser = Browser::login(&server, "commander").await;
    let Register { bytes, .. } = register_xlsx(&server);

    let (status, html) = browser.preview(bytes.clone()).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for shown in ["9 rows", "3 rows can be imported", "6 rows rejected", "Import 3 rows"] {
        assert!(html.contains(shown), "{shown:?} in {html}");
    }
    assert!(html.contains("<td>4</td><td>身份证号</td>"), "the Excel-number row in the error table: {html}");
    assert!(html.contains("<td>6</td><td>户号</td>"), "{html}");
    assert!(!html.contains(&id(1)), "no full ID number on the page");
    let key = pending_key(&html);
    assert_eq!(count(&api, &town).await, before, "the preview stores nothing");

    // A forged form from another site is refused, and does not use up the preview.
    let (status, _) = browser.confirm(&key, "http://evil.example").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(count(&api, &town).await, before);

    // Another account cannot confirm the commander's preview.
    let other = Browser::login(&server, "admin").await;
    let (status, html) = other.confirm(&key, &server.url).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("The preview has expired"), "{html}");
    assert_eq!(count(&api, &town).await, before);

    let (status, html) = browser.confirm(&key, &server.url).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("3 people imported."), "{html}");
    assert_eq!(count(&api, &town).await, before + 3);
    assert_eq!(person_named(&api, &town, "张湴一").await["address"], "湴朗村1号");

    // The key is used up; an unknown key imports nothing.
    for key in [key.as_str(), "not-a-key", ""] {
        let (status, html) = browser.confirm(key, &server.url).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("The preview has expired"), "{key:?}: {html}");
        assert!(!html.contains("people imported"), "{html}");
    }
    assert_eq!(count(&api, &town).await, before + 3);

    // A preview of the same file now offers nothing to confirm.
    let (status, html) = browser.preview(bytes).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains("0 rows can be imported") && html.contains("9 rows rejected"), "{html}");
    assert!(!html.contains("name=\"key\""), "{html}");

    // A grid worker's upload is refused.
    let grid_worker = Browser::login(&server, "gridworker_a").await;
    let (status, _) = grid_worker.preview(register_xlsx(&server).bytes).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(count(&api, &town).await, before + 3);
}

#[tokio::test]
async fn page_flow_sqlite() {
    page_flow(Engine::Sqlite).await;
}

#[tokio::test]
async fn page_flow_postgres() {
    page_flow(Engine::Postgres).await;
}
