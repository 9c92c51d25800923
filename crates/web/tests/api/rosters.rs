//! Workforce posts and rosters over HTTP on both engines: posts, shifts by pattern, assignments
//! with the overlap refusal, check-in and check-out (idempotent, refused too early), the day's
//! roster with unfilled shifts and no-shows, the dashboard summary, and the XLSX export read back
//! with a spreadsheet reader (ID numbers are masked text cells). Also the authorization matrix's
//! and the CSRF suite's calls for these operations.

use crate::{
    authorization_matrix::Case,
    support::{Agent, ApiOp, Body, Log, NO_AREA, NO_ID, foreign_grids, fresh, home_grid},
};
use bulwark_domain::{
    Millis,
    areas::Area,
    people::{Document, IdNumber, NewPerson, PersonId},
    workforce::{Duty, NewAssignment, NewPost, PostKind, RosterRules, ShiftTimes},
};
use bulwark_store::rosters::{Assigned, Attended};
use bulwark_testkit::{Engine, START, TestServer};
use reqwest::StatusCode;
use serde_json::json;
use std::collections::BTreeMap;

const MINUTE: Millis = 60_000;
const HOUR: Millis = 60 * MINUTE;

/// The matrix's post in each fixture grid (made directly in storage, once).
async fn matrix_posts(server: &TestServer) -> BTreeMap<&'static str, i64> {
    let store = server.store.as_ref();
    let county = bulwark_domain::access::Scope::of(server.fixture.area("county"));
    let existing = store.posts(&county).await.expect("posts");
    let mut out = BTreeMap::new();
    for grid in ["A", "B", "C"] {
        let name = format!("排班矩阵岗位{grid}");
        let id = match existing.iter().find(|p| p.name == name) {
            Some(p) => p.id,
            None => {
                let area = server.fixture.area(grid).id;
                let post = NewPost::new(&name, PostKind::Checkpoint, vec![Duty::Guard], area, None, 2).expect("post");
                store.create_post(post, START).await.expect("create post").id
            }
        };
        out.insert(grid, id);
    }
    out
}

/// A person living in `grid`, made directly in storage (so that assignments never clash).
async fn fresh_person(server: &TestServer, grid: &str) -> PersonId {
    let n = fresh();
    let birth = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("date") + chrono::Days::new(n);
    let id = IdNumber::from_body(&format!("900000{}555", birth.format("%Y%m%d")));
    let person = NewPerson::new(format!("值班{n:06}号"), Document::ResidentId(id), server.fixture.area(grid).id);
    let stamp = bulwark_domain::audit::AuditStamp {
        at: START,
        user: None,
        username: "fixture".into(),
        role: None,
        operation: bulwark_domain::access::Operation::PersonsCreate,
        request_id: format!("fixture-{n}"),
    };
    server.store.insert_person(person, &stamp).await.expect("insert person").id
}

/// A fresh shift at `post` running at the server's clock (06:00–14:00 on 6 October, made unique
/// by a few milliseconds), or, with `later`, on a day of its own far ahead.
async fn fresh_shift(server: &TestServer, post: i64, later: bool) -> i64 {
    let n = fresh() as i64;
    let times = if later {
        ShiftTimes::new(START + n * 25 * HOUR, START + n * 25 * HOUR + 8 * HOUR)
    } else {
        ShiftTimes::new(START - HOUR - n, START + 7 * HOUR)
    }
    .expect("times");
    server.store.create_shifts(post, vec![times]).await.expect("create shift")[0].id
}

/// A fresh assignment of a fresh person of `grid` to a running shift at `post`; checked in when
/// `checked_in`.
async fn fresh_assignment(server: &TestServer, post: i64, grid: &str, checked_in: bool) -> i64 {
    let shift = fresh_shift(server, post, false).await;
    let person = fresh_person(server, grid).await;
    let new = NewAssignment::new(shift, person, "值守", START, NO_ID).expect("assignment");
    let id = match server.store.assign(new).await.expect("assign") {
        Assigned::Stored(a) => a.id,
        Assigned::Clash(c) => panic!("clash {c:?}"),
    };
    if checked_in {
        let r = server.store.check_in(id, START, RosterRules::DEFAULT).await.expect("check in");
        assert!(matches!(r, Attended::Recorded(_)), "{r:?}");
    }
    id
}

/// The matrix's calls for the roster operations; `None` for any other operation.
pub async fn matrix_cases(server: &TestServer, op: &ApiOp, scope: &Area) -> Option<Vec<Case>> {
    let id = op.operation_id.as_str();
    if !id.starts_with("rosters_") && !id.starts_with("posts_check_in.") {
        return None;
    }
    let f = &server.fixture;
    let posts = matrix_posts(server).await;
    let home = home_grid(server, scope);
    let mut grids = vec![(home, "in scope".to_string())];
    grids.extend(foreign_grids(server, scope).into_iter().map(|g| (g, format!("out of scope ({g})"))));
    let mut out = Vec::new();
    match id {
        "rosters_read.posts" | "rosters_read.roster" | "rosters_read.export" | "rosters_read.summary" => {
            let base = op.template.clone();
            let query =
                if id == "rosters_read.posts" || id == "rosters_read.summary" { "" } else { "date=2022-10-06&" };
            out.push(Case::new(op, format!("{base}?{query}"), Body::Empty, "own scope"));
            for (g, variant) in grids {
                out.push(
                    Case::new(op, format!("{base}?{query}area={}", f.code(g)), Body::Empty, variant)
                        .at(&f.area(g).path),
                );
            }
            out.push(Case::new(op, format!("{base}?{query}area={NO_AREA}"), Body::Empty, "nonexistent").missing());
        }
        "rosters_manage.post_create" => {
            let body = |area: &str| {
                Body::Json(json!({"name": format!("矩阵岗位{}", fresh()), "kind": "checkpoint", "duties": ["guard"],
                    "area": area, "needed": 1}))
            };
            for (g, variant) in grids {
                out.push(Case::new(op, op.template.clone(), body(&f.code(g)), variant).at(&f.area(g).path));
            }
            out.push(Case::new(op, op.template.clone(), body(NO_AREA), "nonexistent").missing());
        }
        "rosters_manage.shifts_create" => {
            let body = || {
                let n = fresh() as i64;
                let starts = START + n * 25 * HOUR;
                let t = |ms: Millis| chrono::DateTime::from_timestamp_millis(ms).expect("time").to_rfc3339();
                Body::Json(json!({"shifts": [{"starts": t(starts), "ends": t(starts + 8 * HOUR)}]}))
            };
            for (g, variant) in grids {
                out.push(
                    Case::new(op, format!("/api/v1/posts/{}/shifts", posts[g]), body(), variant).at(&f.area(g).path),
                );
            }
            out.push(Case::new(op, format!("/api/v1/posts/{NO_ID}/shifts"), body(), "nonexistent").missing());
        }
        "rosters_manage.assign" => {
            for (g, variant) in grids {
                let shift = fresh_shift(server, posts[g], true).await;
                let person = fresh_person(server, g).await;
                let body = json!({"shift": shift, "person": person, "responsibility": "查验健康码"});
                out.push(Case::new(op, op.template.clone(), Body::Json(body), variant).at(&f.area(g).path));
            }
            let person = fresh_person(server, home).await;
            let body = json!({"shift": NO_ID, "person": person, "responsibility": "查验健康码"});
            out.push(Case::new(op, op.template.clone(), Body::Json(body), "nonexistent").missing());
        }
        "rosters_manage.unassign" | "posts_check_in.check_in" | "posts_check_in.check_out" => {
            let suffix = match id {
                "posts_check_in.check_in" => "/check-in",
                "posts_check_in.check_out" => "/check-out",
                _ => "",
            };
            let checked_in = id == "posts_check_in.check_out";
            for (g, variant) in grids {
                let a = fresh_assignment(server, posts[g], g, checked_in).await;
                out.push(
                    Case::new(op, format!("/api/v1/assignments/{a}{suffix}"), Body::Empty, variant).at(&f.area(g).path),
                );
            }
            out.push(
                Case::new(op, format!("/api/v1/assignments/{NO_ID}{suffix}"), Body::Empty, "nonexistent").missing(),
            );
        }
        _ => return None,
    }
    Some(out)
}

/// The roster pages' POST routes for the CSRF suite, each with a form that succeeds from the
/// page's own origin (for a commander of town one): (template, path, form).
pub async fn csrf_page_targets(server: &TestServer) -> Vec<(&'static str, String, Body)> {
    let posts = matrix_posts(server).await;
    let post = posts["A"];
    let form = |pairs: Vec<(&str, String)>| Body::Form(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    let shift = fresh_shift(server, post, true).await;
    let person = fresh_person(server, "A").await;
    let removable = fresh_assignment(server, post, "A", false).await;
    let check_in = fresh_assignment(server, post, "A", false).await;
    let check_out = fresh_assignment(server, post, "A", true).await;
    vec![
        (
            "/rosters/posts",
            "/rosters/posts".into(),
            form(vec![
                ("name", format!("跨站岗位{}", fresh())),
                ("kind", "checkpoint".into()),
                ("duties", "guard".into()),
                ("area", server.fixture.code("A")),
                ("needed", "1".into()),
            ]),
        ),
        (
            "/rosters/posts/{id}/shifts",
            format!("/rosters/posts/{post}/shifts"),
            form(vec![
                ("date", format!("2023-0{}-1{}", 1 + fresh() % 9, fresh() % 10)),
                ("pattern", "3x8".into()),
                ("first_hour", "0".into()),
            ]),
        ),
        (
            "/rosters/posts/{id}/assign",
            format!("/rosters/posts/{post}/assign"),
            form(vec![("shift", shift.to_string()), ("person", person.to_string()), ("responsibility", "测温".into())]),
        ),
        ("/rosters/assignments/{id}/remove", format!("/rosters/assignments/{removable}/remove"), form(vec![])),
        ("/checkin/{id}/in", format!("/checkin/{check_in}/in"), form(vec![])),
        ("/checkin/{id}/out", format!("/checkin/{check_out}/out"), form(vec![])),
    ]
}

async fn rosters_over_http(engine: Engine) {
    let server = TestServer::start(engine).await;
    let log = Log::default();
    let f = &server.fixture;
    let commander = Agent::bearer(&server, "commander", &log).await;

    // A 24-hour checkpoint post in grid A, staffed in 3 × 8 h shifts on 6 October.
    let r = commander
        .post(
            "/api/v1/posts",
            json!({"name": "开阳高速圣堂出口", "kind": "checkpoint", "duties": ["guard", "temperature"],
                "area": f.code("A"), "needed": 2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let post = r.json["id"].as_i64().expect("post id");
    assert_eq!(r.json["duties"], json!(["temperature", "guard"]));
    // Bad input names the field.
    let bad = commander
        .post(
            "/api/v1/posts",
            json!({"name": "x", "kind": "tent", "duties": ["guard"], "area": f.code("A"), "needed": 1}),
        )
        .await;
    assert_eq!((bad.status, bad.json["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("kind")));
    let bad = commander
        .post(
            "/api/v1/posts",
            json!({"name": "x", "kind": "checkpoint", "duties": [], "area": f.code("A"), "needed": 1}),
        )
        .await;
    assert_eq!(bad.json["field"].as_str(), Some("duties"), "{}", bad.text);

    let r =
        commander.post(&format!("/api/v1/posts/{post}/shifts"), json!({"date": "2022-10-06", "pattern": "3x8"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let shifts: Vec<i64> = r.json.as_array().expect("shifts").iter().map(|s| s["id"].as_i64().unwrap()).collect();
    assert_eq!(shifts.len(), 3);
    assert_eq!(r.json[1]["starts"], "2022-10-06T00:00:00.000Z", "the 08:00 (UTC+8) shift");
    let bad = commander
        .post(
            &format!("/api/v1/posts/{post}/shifts"),
            json!({"shifts": [{"starts": "2022-10-08T08:00:00+08:00", "ends": "2022-10-09T09:00:00+08:00"}]}),
        )
        .await;
    assert_eq!((bad.status, bad.json["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("shifts[0].ends")));
    assert!(bad.json["message"].as_str().unwrap().contains("24 hours"), "{}", bad.text);

    // Assignments: the 08:00–16:00 shift (running at 07:00 + 2 h), two people of grid A.
    let (p0, p1) = (f.people["A"][0], f.people["A"][1]);
    let assign = |shift: i64, person: i64, what: &str| {
        commander.post("/api/v1/assignments", json!({"shift": shift, "person": person, "responsibility": what}))
    };
    let a0 = assign(shifts[1], p0, "查验健康码和行程卡").await;
    assert_eq!(a0.status, StatusCode::CREATED, "{}", a0.text);
    assert!(a0.json["person"]["document_number_masked"].as_str().unwrap().contains('*'));
    let a0 = a0.json["id"].as_i64().unwrap();
    // The same person on the overlapping night shift of another post: refused, naming the clash.
    let other = commander
        .post(
            "/api/v1/posts",
            json!({"name": "湴朗采样点", "kind": "sampling_site", "duties": ["queue_order"],
            "area": f.code("A"), "needed": 1}),
        )
        .await
        .json["id"]
        .as_i64()
        .unwrap();
    let clash_shift = commander
        .post(
            &format!("/api/v1/posts/{other}/shifts"),
            json!({"shifts": [{"starts": "2022-10-06T12:00:00+08:00", "ends": "2022-10-06T20:00:00+08:00"}]}),
        )
        .await
        .json[0]["id"]
        .as_i64()
        .unwrap();
    let clash = assign(clash_shift, p0, "秩序维护").await;
    assert_eq!(clash.status, StatusCode::CONFLICT, "{}", clash.text);
    let message = clash.json["message"].as_str().unwrap();
    assert!(message.contains("开阳高速圣堂出口") && message.contains("2022-10-06 08:00"), "{message}");
    let a1 = assign(shifts[1], p1, "测温").await.json["id"].as_i64().unwrap();
    // Someone outside the commander's town is refused like a nonexistent person.
    let outsider = assign(shifts[1], f.people["C"][0], "测温").await;
    assert_eq!(outsider.status, StatusCode::FORBIDDEN);

    // Check-in: too early at 07:00 for 08:00 (opens 07:30), then at 07:40; a repeat answers the first.
    let early = commander.post(&format!("/api/v1/assignments/{a0}/check-in"), json!({})).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    assert!(early.json["message"].as_str().unwrap().contains("07:30"), "{}", early.text);
    server.clock.advance(40 * MINUTE);
    let first = commander.post(&format!("/api/v1/assignments/{a0}/check-in"), json!({})).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    server.clock.advance(5 * MINUTE);
    let again = commander.post(&format!("/api/v1/assignments/{a0}/check-in"), json!({})).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json["checked_in_at"], first.json["checked_in_at"]);
    // Check-out needs a check-in.
    let out = commander.post(&format!("/api/v1/assignments/{a1}/check-out"), json!({})).await;
    assert_eq!(out.status, StatusCode::CONFLICT, "{}", out.text);

    // 09:00: a1 is a no-show; the shift has 2 of 2 assigned; the 16:00 shift has nobody but is
    // 7 h away; the night shift is over.
    server.clock.advance(75 * MINUTE);
    let roster = commander.get(&format!("/api/v1/rosters?date=2022-10-06&area={}", f.code("A"))).await;
    assert_eq!(roster.status, StatusCode::OK, "{}", roster.text);
    let checkpoint = roster.json["posts"].as_array().unwrap().iter().find(|p| p["id"] == post).unwrap().clone();
    let day = &checkpoint["shifts"][1];
    assert_eq!(day["assigned"], 2);
    assert_eq!(day["unfilled"], serde_json::Value::Null);
    let attendance: Vec<&str> =
        day["assignments"].as_array().unwrap().iter().map(|a| a["attendance"].as_str().unwrap()).collect();
    assert_eq!(attendance, vec!["on_post", "no_show"]);
    assert_eq!(roster.json["no_shows"], 1);
    // The sampling-site post's 12:00 shift starts within 2 h at 10:30 and has nobody.
    server.clock.advance(90 * MINUTE);
    let roster = commander.get("/api/v1/rosters?date=2022-10-06").await;
    assert_eq!(roster.json["unfilled_shifts"], 1, "{}", roster.text);
    let summary = commander.get("/api/v1/rosters/summary").await;
    assert_eq!(summary.status, StatusCode::OK);
    assert_eq!(
        summary.json,
        json!({"posts": 2, "shifts_running": 1, "assigned": 2, "checked_in": 1, "unfilled_shifts": 1,
            "unfilled_places": 1, "no_shows": 1})
    );

    // A grid worker of grid B sees no post; of grid A, the roster.
    let gw_b = Agent::bearer(&server, "gridworker_b", &log).await;
    assert_eq!(gw_b.get("/api/v1/posts").await.json, json!([]));
    let gw_a = Agent::bearer(&server, "gridworker_a", &log).await;
    assert_eq!(gw_a.get("/api/v1/posts").await.json.as_array().unwrap().len(), 2);
    let refused = gw_a
        .post(
            "/api/v1/posts",
            json!({"name": "x", "kind": "other", "duties": ["other"], "area": f.code("A"), "needed": 1}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    // Remove: refused once checked in, allowed otherwise.
    let r = commander.send(reqwest::Method::DELETE, &format!("/api/v1/assignments/{a0}"), Body::Empty, &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = commander.send(reqwest::Method::DELETE, &format!("/api/v1/assignments/{a1}"), Body::Empty, &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);

    // The export, read back: Chinese headers, ID numbers masked text; phones masked for a sampler
    // (whose role may not reveal) and whole for the working group (whose role may); the empty
    // place of the unfilled shift listed.
    for (username, phones_whole) in [("sampler", false), ("working_group", true)] {
        let agent = Agent::bearer(&server, username, &log).await;
        let path = format!("/api/v1/rosters/export?date=2022-10-06&area={}", f.code("A"));
        let response = agent.client.request(reqwest::Method::GET, &path).send().await.expect("export");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers().get("content-type").and_then(|v| v.to_str().ok()),
            Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        );
        let bytes = response.bytes().await.expect("bytes");
        check_workbook(&bytes, &server, p0, phones_whole);
    }
}

/// Reads the workbook with calamine: the ID and phone cells are strings; the ID masked and the
/// person's full ID number nowhere; the phone masked unless `phones_whole`.
fn check_workbook(bytes: &[u8], server: &TestServer, person: PersonId, phones_whole: bool) {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec())).expect("an xlsx");
    let sheet = book.sheet_names()[0].clone();
    assert!(sheet.starts_with("排班表"), "{sheet}");
    let range = book.worksheet_range(&sheet).expect("sheet");
    let rows: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
    let header: Vec<String> = rows[0].iter().map(|c| c.to_string()).collect();
    assert_eq!(header[0], "岗位");
    let id_col = header.iter().position(|h| h == "身份证号").expect("ID column");
    let phone_col = header.iter().position(|h| h == "电话").expect("phone column");
    let (full_id, full_phone) = server.fixture.canaries[&person].clone();
    let mut people = 0;
    let mut seen_whole = false;
    for row in &rows[1..] {
        for cell in row {
            let text = cell.to_string();
            assert!(!text.contains(&full_id), "a full ID number in {text}");
            assert!(phones_whole || !text.contains(&full_phone), "a full phone in {text}");
        }
        match &row[id_col] {
            Data::String(s) if !s.is_empty() => {
                assert!(s.contains("****"), "masked ID {s}");
                assert!(matches!(&row[phone_col], Data::String(_)), "the phone is text: {:?}", row[phone_col]);
                let phone = row[phone_col].to_string();
                assert_eq!(phone.contains("****"), !phones_whole, "{phone}");
                seen_whole |= phone == full_phone;
                people += 1;
            }
            Data::Empty => {}
            Data::String(_) => {}
            other => panic!("the ID cell is not text: {other:?}"),
        }
    }
    assert!(people >= 1, "the roster lists the person on duty");
    assert_eq!(seen_whole, phones_whole, "the person's whole phone is shown only to a role that may reveal");
    assert!(
        rows.iter().any(|r| r.iter().any(|c| matches!(c, Data::String(s) if s == "（空缺）"))),
        "empty places are listed"
    );
}

#[tokio::test]
async fn rosters_over_http_sqlite() {
    rosters_over_http(Engine::Sqlite).await;
}

#[tokio::test]
async fn rosters_over_http_postgres() {
    rosters_over_http(Engine::Postgres).await;
}
