//! The XLSX exports of the lists, downloaded over HTTP on both engines and read back with a
//! spreadsheet reader: the header row in the caller's language, one row per item of the JSON list
//! it mirrors, ID numbers and phones as text cells (never floats) — masked for a role that may not
//! reveal them (or when `masked=true` is asked), whole for one that may, with one reveal entry
//! (reason "export") per person in the audit log —, times as datetime cells in China time, counts
//! as numbers; and the same refusals as the JSON lists for callers outside the role or the scope.

use crate::support::{Agent, Log, Reply, XLSX, audit_log, register, xlsx_local_time};
use bulwark_testkit::{Engine, TestServer};
use calamine::{Data, Reader, Xlsx};
use reqwest::StatusCode;
use serde_json::{Value, json};

const HOUR: i64 = 3_600_000;

/// The first sheet of a workbook: its name and its rows (the header first).
struct Sheet {
    name: String,
    rows: Vec<Vec<Data>>,
}

impl Sheet {
    fn read(reply: &Reply) -> Sheet {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.header("content-type").as_deref(), Some(XLSX));
        let mut book: Xlsx<_> =
            calamine::open_workbook_from_rs(std::io::Cursor::new(reply.bytes.clone())).expect("an xlsx workbook");
        let name = book.sheet_names()[0].clone();
        let range = book.worksheet_range(&name).expect("the first sheet");
        Sheet { name, rows: range.rows().map(|r| r.to_vec()).collect() }
    }

    fn header(&self) -> Vec<String> {
        self.rows[0].iter().map(|c| c.to_string()).collect()
    }

    fn body(&self) -> &[Vec<Data>] {
        &self.rows[1..]
    }

    fn col(&self, name: &str) -> usize {
        self.header().iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}: {:?}", self.header()))
    }
}

/// A text cell's text; panics on anything else (an ID number read back as a float, say).
fn text(cell: &Data) -> String {
    match cell {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => panic!("not a text cell: {other:?}"),
    }
}

/// A datetime cell as China time, `yyyy-mm-dd hh:mm`; panics on anything else.
fn time(cell: &Data) -> String {
    match cell {
        Data::DateTime(t) => xlsx_local_time(t.as_f64()),
        other => panic!("not a datetime cell: {other:?}"),
    }
}

fn number(cell: &Data) -> f64 {
    match cell {
        Data::Float(n) => *n,
        Data::Int(n) => *n as f64,
        other => panic!("not a number cell: {other:?}"),
    }
}

/// An RFC 3339 time of the JSON API as China time, `yyyy-mm-dd hh:mm`.
fn local(rfc3339: &Value) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(rfc3339.as_str().expect("a time")).expect("RFC 3339");
    t.with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset")).format("%Y-%m-%d %H:%M").to_string()
}

fn filename(reply: &Reply) -> String {
    reply.header("content-disposition").unwrap_or_default()
}

/// The people `username`'s export reveals are about, one per entry, so far.
async fn export_reveals(server: &TestServer, username: &str) -> Vec<i64> {
    let auditor = Agent::bearer(server, "auditor", &Log::default()).await;
    let mut people: Vec<i64> = audit_log(&auditor)
        .await
        .iter()
        .filter(|e| {
            e["operation"] == "persons_reveal"
                && e["detail"] == "export"
                && e["username"] == username
                && e["outcome"] == "success"
        })
        .filter_map(|e| e["person"].as_i64())
        .collect();
    people.sort_unstable();
    people
}

/// What the second list holds more than the first (both sorted).
fn added(before: &[i64], after: &[i64]) -> Vec<i64> {
    let mut rest = after.to_vec();
    for p in before {
        if let Some(i) = rest.iter().position(|q| q == p) {
            rest.remove(i);
        }
    }
    rest
}

async fn incident_exports(engine: Engine) {
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    let log = Log::default();
    let scene = crate::command_matrix::scene(&server).await;
    let incident = scene.incidents["town1"];
    let people = &f.people["A"];
    let commander = Agent::bearer(&server, "commander", &log).await;

    // Two answers, a task done with an owner and a note, a manual timeline entry; then the clock
    // moves past the first deadlines so some tasks are overdue.
    server.clock.advance(10 * 60_000);
    for (person, status) in [(people[0], "arrived"), (people[1], "received")] {
        let r = commander
            .post(&format!("/api/v1/incidents/{incident}/rollcall"), json!({"person_id": person, "status": status}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let tasks = commander.get(&format!("/api/v1/incidents/{incident}/tasks")).await.json;
    let done = tasks[0]["id"].as_i64().expect("a task");
    let r = commander
        .patch(&format!("/api/v1/tasks/{done}"), json!({"status": "done", "owner": people[2], "notes": "已完成流调"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r =
        commander.post(&format!("/api/v1/incidents/{incident}/timeline"), json!({"text": "前线指挥部已开设"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    server.clock.advance(5 * HOUR);

    // Tasks: one row per task of the JSON list, times as datetimes, the owner by name (an
    // audited read).
    let json = commander.get(&format!("/api/v1/incidents/{incident}/tasks")).await.json;
    let json = json.as_array().expect("tasks");
    let reply = commander.get(&format!("/api/v1/incidents/{incident}/export/tasks")).await;
    assert_eq!(filename(&reply), format!("attachment; filename=\"tasks-{incident}-2022-10-06.xlsx\""));
    assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    let sheet = Sheet::read(&reply);
    assert_eq!(sheet.name, "任务");
    assert_eq!(sheet.header(), ["工作组", "任务", "截止时间", "状态", "完成时间", "逾期", "负责人", "备注"]);
    assert_eq!(sheet.body().len(), json.len());
    let mut overdue = 0;
    for (row, t) in sheet.body().iter().zip(json) {
        assert_eq!(text(&row[1]), t["title"].as_str().unwrap());
        assert_eq!(time(&row[2]), local(&t["deadline"]));
        if t["overdue"] == true {
            assert_eq!(text(&row[5]), "已逾期");
            overdue += 1;
        }
        if t["id"] == done {
            assert_eq!(text(&row[3]), "已完成");
            assert_eq!(time(&row[4]), local(&t["closed_at"]));
            assert_eq!(text(&row[7]), "已完成流调");
            let owner = server.store.person(&bulwark_domain::access::Scope::of(f.area("county")), people[2]).await;
            assert_eq!(text(&row[6]), owner.unwrap().unwrap().name);
        } else {
            assert!(matches!(row[4], Data::Empty), "an open task has no closing time: {:?}", row[4]);
        }
    }
    assert!(overdue > 0, "five hours on, some tasks are overdue");
    let auditor = Agent::bearer(&server, "auditor", &Log::default()).await;
    let entries = audit_log(&auditor).await;
    assert!(
        entries.iter().any(|e| e["operation"] == "incidents_read"
            && e["person"] == people[2]
            && e["username"] == "commander"
            && e["outcome"] == "success"),
        "the owner shown is an audited read"
    );
    // In English on request.
    let english = Sheet::read(&commander.get(&format!("/api/v1/incidents/{incident}/export/tasks?lang=en")).await);
    assert_eq!(english.header()[..4], ["Group", "Task", "Deadline", "Status"]);
    let done_row = json.iter().position(|t| t["id"] == done).unwrap();
    assert_eq!(text(&english.body()[done_row][3]), "Done");
    assert_eq!(text(&english.body()[done_row][1]), json[done_row]["title_en"].as_str().unwrap());

    // Timeline: time, kind, text, oldest first.
    let json = commander.get(&format!("/api/v1/incidents/{incident}/timeline")).await.json;
    let json = json.as_array().expect("timeline");
    let sheet = Sheet::read(&commander.get(&format!("/api/v1/incidents/{incident}/export/timeline")).await);
    assert_eq!(sheet.header(), ["时间", "类型", "内容"]);
    assert_eq!(sheet.body().len(), json.len());
    for (row, e) in sheet.body().iter().zip(json) {
        assert_eq!(time(&row[0]), local(&e["at"]));
        assert_eq!(text(&row[2]), e["text"].as_str().unwrap());
    }
    assert!(sheet.body().iter().any(|r| text(&r[1]) == "手工记录" && text(&r[2]) == "前线指挥部已开设"));

    // The roll-call board: per group, then the total; counts are numbers.
    let board = commander.get(&format!("/api/v1/incidents/{incident}/rollcall")).await.json;
    let groups = board["groups"].as_array().expect("groups");
    let sheet = Sheet::read(&commander.get(&format!("/api/v1/incidents/{incident}/export/rollcall")).await);
    assert_eq!(sheet.header(), ["工作组", "组长", "已通知", "已回复", "在途", "已到岗", "按时到岗", "未回复"]);
    assert_eq!(sheet.body().len(), groups.len() + 1);
    for (row, g) in sheet.body().iter().zip(groups) {
        assert_eq!(text(&row[0]), g["name"].as_str().unwrap());
        let counts: Vec<f64> = row[2..].iter().map(number).collect();
        let expected: Vec<f64> =
            ["notified", "answered", "on_the_way", "arrived", "arrived_within_deadline", "not_answered"]
                .iter()
                .map(|k| g[*k].as_f64().unwrap())
                .collect();
        assert_eq!(counts, expected, "{g}");
    }
    let total = sheet.body().last().unwrap();
    assert_eq!(text(&total[0]), "合计");
    assert_eq!(number(&total[2]), board["notified"].as_f64().unwrap());
    assert_eq!(number(&total[5]), board["arrived"].as_f64().unwrap());
    assert_eq!(number(&total[6]), board["arrived_within_deadline"].as_f64().unwrap());

    // Who has not answered: a commander may reveal, so the phones are whole text cells, each
    // audited as a reveal; masked when asked.
    let json = commander.get(&format!("/api/v1/incidents/{incident}/rollcall/missing")).await.json;
    let listed: Vec<i64> = json
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["people"].as_array().unwrap().iter().map(|p| p["person_id"].as_i64().unwrap()))
        .collect();
    assert_eq!(listed.len(), people.len() - 2, "everyone but the two who answered");
    let before = export_reveals(&server, "commander").await;
    let reply = commander.get(&format!("/api/v1/incidents/{incident}/export/missing")).await;
    let sheet = Sheet::read(&reply);
    assert_eq!(sheet.header(), ["工作组", "姓名", "电话"]);
    assert_eq!(sheet.body().len(), listed.len());
    for (row, id) in sheet.body().iter().zip(&listed) {
        assert_eq!(text(&row[2]), f.canaries[id].1, "the whole phone of person {id}");
    }
    let mut expected = listed.clone();
    expected.sort_unstable();
    assert_eq!(added(&before, &export_reveals(&server, "commander").await), expected);
    let before = export_reveals(&server, "commander").await;
    let masked = Sheet::read(&commander.get(&format!("/api/v1/incidents/{incident}/export/missing?masked=true")).await);
    assert!(masked.body().iter().all(|r| text(&r[2]).contains("****")), "masked on request");
    assert_eq!(export_reveals(&server, "commander").await, before, "nothing revealed, nothing audited as revealed");

    // The dashboard links to each export, and the link works with the page's cookie session.
    let page = Agent::cookie(&server, "commander", &log).await;
    let html = page.get(&format!("/incidents/{incident}")).await.text;
    for list in ["tasks", "timeline", "rollcall", "missing"] {
        let link = format!("/api/v1/incidents/{incident}/export/{list}");
        assert!(html.contains(&format!("href=\"{link}\"")), "the dashboard links to {link}");
        assert!(!Sheet::read(&page.get(&link).await).rows.is_empty(), "{link} downloads");
    }
    assert!(html.contains("导出 Excel"));

    // Refused like the JSON lists: a role without incidents_read, an incident of another town,
    // one that does not exist.
    let gw = Agent::bearer(&server, "gridworker_a", &log).await;
    let other_town = Agent::bearer(&server, "commander_two", &log).await;
    for (agent, id) in [(&gw, incident), (&other_town, incident), (&commander, 987_654_321)] {
        for list in ["tasks", "timeline", "rollcall", "missing"] {
            let json_path = match list {
                "missing" => format!("/api/v1/incidents/{id}/rollcall/missing"),
                "rollcall" => format!("/api/v1/incidents/{id}/rollcall"),
                other => format!("/api/v1/incidents/{id}/{other}"),
            };
            let expected = agent.get(&json_path).await.status;
            assert_eq!(expected, StatusCode::FORBIDDEN, "{} {json_path}", agent.name);
            let r = agent.get(&format!("/api/v1/incidents/{id}/export/{list}")).await;
            assert_eq!(r.status, expected, "{} export of {list} of {id}", agent.name);
        }
    }
}

#[tokio::test]
async fn incident_exports_sqlite() {
    incident_exports(Engine::Sqlite).await;
}

#[tokio::test]
async fn incident_exports_postgres() {
    incident_exports(Engine::Postgres).await;
}

/// A round over village one: grid A's first four residents in one pool that comes back
/// abnormal, the fifth sampled alone, the sixth unable to come (door-knock).
async fn round_scene(server: &TestServer) -> i64 {
    let f = &server.fixture;
    let commander = server.login("commander").await;
    let (status, round) = commander
        .post("/api/v1/rounds", json!({"name": "导出轮次", "areas": [f.code("village1")], "pool_size": 10}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let (status, site) = commander
        .post("/api/v1/sites", json!({"name": "导出采样点", "area": f.code("village1"), "lanes": [{"name": "1"}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    let (round, site) = (round["id"].as_i64().unwrap(), site["id"].as_i64().unwrap());
    let sampler = server.login("sampler").await;
    let people = &f.people["A"];
    for (i, person) in people[..5].iter().enumerate() {
        let tube = if i < 4 { "EX0000001" } else { "EX0000002" };
        let body = json!({"round": round, "site": site, "tube": tube, "person": {"person_id": person}});
        let (status, r) = register(&sampler, &format!("0190a5b2-0000-7000-8000-{:012}", 500 + i), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }
    let lab = server.login("lab").await;
    let (status, report) = lab.post("/api/v1/lab-results", json!([{"tube": "EX0000001", "result": "可疑"}])).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let gw = server.login("gridworker_a").await;
    let (status, _) = gw
        .post(
            &format!("/api/v1/rounds/{round}/door-knocks"),
            json!({"person_id": people[5], "outcome": "cannot_walk", "note": "卧床"}),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    round
}

async fn round_exports(engine: Engine) {
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    let log = Log::default();
    let round = round_scene(&server).await;
    let people = &f.people["A"];
    let commander = Agent::bearer(&server, "commander", &log).await;
    let gw = Agent::bearer(&server, "gridworker_a", &log).await;
    let sampler = Agent::bearer(&server, "sampler", &log).await;

    // Coverage of the village and its grids: numbers, and the share as a percentage.
    let village = f.code("village1");
    let json = commander.get(&format!("/api/v1/rounds/{round}/coverage?area={village}")).await.json;
    let json = json.as_array().expect("coverage");
    let reply = commander.get(&format!("/api/v1/rounds/{round}/export/coverage?area={village}")).await;
    assert_eq!(filename(&reply), format!("attachment; filename=\"coverage-{round}-{village}-2022-10-06.xlsx\""));
    let sheet = Sheet::read(&reply);
    assert_eq!(sheet.header(), ["区域编码", "区域", "层级", "居民", "不计入", "应检", "已采", "覆盖率"]);
    assert_eq!(sheet.body().len(), json.len());
    for (row, c) in sheet.body().iter().zip(json) {
        assert_eq!(text(&row[0]), c["code"].as_str().unwrap(), "codes are text");
        assert_eq!(text(&row[1]), c["name"].as_str().unwrap());
        assert_eq!(number(&row[5]), c["target"].as_f64().unwrap());
        assert_eq!(number(&row[6]), c["sampled"].as_f64().unwrap());
        assert_eq!((number(&row[7]) * 1000.0).round() / 10.0, c["percent"].as_f64().unwrap());
    }

    // The door-knock list of grid A for its grid worker (a role that may reveal): whole ID
    // numbers and phones as text, each person audited as read and as revealed.
    let grid = f.code("A");
    let json = gw.get(&format!("/api/v1/rounds/{round}/untested?area={grid}")).await.json;
    let json = json.as_array().expect("untested");
    assert_eq!(json.len(), people.len() - 5);
    let before = export_reveals(&server, "gridworker_a").await;
    let sheet = Sheet::read(&gw.get(&format!("/api/v1/rounds/{round}/export/untested?area={grid}")).await);
    assert_eq!(sheet.header(), ["网格", "姓名", "身份证号", "电话", "地址", "行动不便", "敲门结果", "敲门备注"]);
    assert_eq!(sheet.body().len(), json.len());
    let mut shown = Vec::new();
    for (row, u) in sheet.body().iter().zip(json) {
        let id = u["person_id"].as_i64().unwrap();
        shown.push(id);
        assert_eq!(text(&row[0]), "一号网格");
        assert_eq!(text(&row[1]), u["name"].as_str().unwrap());
        assert_eq!(text(&row[2]), f.canaries[&id].0, "the whole ID number as text");
        assert_eq!(text(&row[3]), f.canaries[&id].1, "the whole phone as text");
        if id == people[5] {
            assert_eq!(text(&row[6]), "行动不便→上门");
            assert_eq!(text(&row[7]), "卧床");
        }
    }
    assert_eq!(added(&before, &export_reveals(&server, "gridworker_a").await), shown);
    let masked = Sheet::read(&gw.get(&format!("/api/v1/rounds/{round}/export/untested?area={grid}&masked=true")).await);
    for (row, u) in masked.body().iter().zip(json) {
        assert_eq!(text(&row[2]), u["document"].as_str().unwrap(), "masked like the JSON list");
        assert_eq!(text(&row[3]), u["phone"].as_str().unwrap());
    }
    // Another grid is refused, like the JSON list.
    let b = f.code("B");
    assert_eq!(gw.get(&format!("/api/v1/rounds/{round}/untested?area={b}")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(gw.get(&format!("/api/v1/rounds/{round}/export/untested?area={b}")).await.status, StatusCode::FORBIDDEN);

    // Abnormal pools: a row per member, the tube code as text, the result's and the
    // registrations' times as datetimes.
    let json = commander.get(&format!("/api/v1/rounds/{round}/abnormal-pools")).await.json;
    let members = json[0]["members"].as_array().expect("members");
    let before = export_reveals(&server, "commander").await;
    let sheet = Sheet::read(&commander.get(&format!("/api/v1/rounds/{round}/export/abnormal-pools")).await);
    assert_eq!(sheet.body().len(), members.len());
    assert_eq!(members.len(), 4);
    let (tube, result, resulted, state) =
        (sheet.col("采样管"), sheet.col("结果"), sheet.col("出结果时间"), sheet.col("处置状态"));
    let (id_col, phone_col, grid_col, registered) =
        (sheet.col("身份证号"), sheet.col("电话"), sheet.col("网格"), sheet.col("登记时间"));
    for (row, m) in sheet.body().iter().zip(members) {
        let id = m["person_id"].as_i64().unwrap();
        assert_eq!(text(&row[tube]), "EX0000001");
        assert_eq!(text(&row[result]), "可疑");
        assert_eq!(time(&row[resulted]), local(&json[0]["resulted_at"]));
        assert_eq!(text(&row[state]), "管控中");
        assert_eq!(text(&row[id_col]), f.canaries[&id].0);
        assert_eq!(text(&row[phone_col]), f.canaries[&id].1);
        assert_eq!(text(&row[grid_col]), "一号网格");
        assert_eq!(time(&row[registered]), local(&m["registered_at"]));
    }
    let mut expected: Vec<i64> = members.iter().map(|m| m["person_id"].as_i64().unwrap()).collect();
    expected.sort_unstable();
    assert_eq!(added(&before, &export_reveals(&server, "commander").await), expected);
    // Narrowed to grid B: nobody.
    let grid_b = Sheet::read(&commander.get(&format!("/api/v1/rounds/{round}/export/abnormal-pools?area={b}")).await);
    assert!(grid_b.body().is_empty(), "grid B has no member of the pool");
    // A sampler may not read pools' members: refused, like the JSON list.
    assert_eq!(sampler.get(&format!("/api/v1/rounds/{round}/abnormal-pools")).await.status, StatusCode::FORBIDDEN);
    let r = sampler.get(&format!("/api/v1/rounds/{round}/export/abnormal-pools")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);

    // The pages link to their exports.
    let page = Agent::cookie(&server, "gridworker_a", &log).await;
    for (path, link) in [
        (format!("/rounds/{round}?area={grid}"), format!("/api/v1/rounds/{round}/export/coverage?area={grid}")),
        (
            format!("/rounds/{round}/doorknock?area={grid}"),
            format!("/api/v1/rounds/{round}/export/untested?area={grid}"),
        ),
        (format!("/rounds/{round}/abnormal-pools"), format!("/api/v1/rounds/{round}/export/abnormal-pools")),
        (
            format!("/rounds/{round}/home-visits?area={grid}"),
            format!("/api/v1/rounds/{round}/export/home-visits?area={grid}"),
        ),
    ] {
        let html = page.get(&path).await.text;
        assert!(html.contains(&format!("href=\"{link}\"")), "{path} links to {link}");
        let _ = Sheet::read(&page.get(&link).await);
    }

    // Home visits: a sampler's role may not reveal, so phones stay masked and nothing is audited
    // as revealed; the grid worker's export has them whole.
    let json = sampler.get(&format!("/api/v1/rounds/{round}/home-visits")).await.json;
    let visits = json.as_array().expect("visits");
    assert!(!visits.is_empty());
    let sheet = Sheet::read(&sampler.get(&format!("/api/v1/rounds/{round}/export/home-visits")).await);
    assert_eq!(sheet.header(), ["网格", "姓名", "电话", "地址", "上门原因"]);
    assert_eq!(sheet.body().len(), visits.len());
    for (row, v) in sheet.body().iter().zip(visits) {
        assert_eq!(text(&row[1]), v["name"].as_str().unwrap());
        assert_eq!(text(&row[2]), v["phone"].as_str().unwrap_or_default(), "masked like the JSON list");
        assert!(text(&row[2]).is_empty() || text(&row[2]).contains("****"));
    }
    assert!(export_reveals(&server, "sampler").await.is_empty());
    let sheet = Sheet::read(&gw.get(&format!("/api/v1/rounds/{round}/export/home-visits?lang=en")).await);
    assert_eq!(sheet.header(), ["Grid", "Name", "Phone", "Address", "Reason"]);
    let row = sheet.body().iter().find(|r| text(&r[1]) == visits[0]["name"].as_str().unwrap()).expect("the visit");
    let id = visits[0]["person_id"].as_i64().unwrap();
    assert_eq!(text(&row[2]), f.canaries[&id].1);
}

#[tokio::test]
async fn round_exports_sqlite() {
    round_exports(Engine::Sqlite).await;
}

#[tokio::test]
async fn round_exports_postgres() {
    round_exports(Engine::Postgres).await;
}
