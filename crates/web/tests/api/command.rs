//! Command through the API, on both engines: the shipped plan, activation at 07:00 with the
//! staff dealt into the 10 groups, roll-call answers (by a signed-in account for a member), the
//! board at 07:31 (who arrived within 30 minutes), who has not answered (masked phones to reveal
//! and call, audited),
//! tasks going overdue (flags, the server's sweep writing the timeline), task changes, manual
//! timeline entries (numbers masked), plans exported, edited and imported as new versions, the
//! dashboard's figures, and the pages; another town's commander sees none of it.

use crate::support::{Agent, Log, audit_log};
use bulwark_domain::workforce::{StaffMember, Team};
use bulwark_testkit::{Client, Engine, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const MINUTE: i64 = 60_000;

/// Grid A's six residents are grid workers, grid B's six are cadres (all of town one); grid C's
/// (town two) are cadres of the other town.
pub async fn add_staff(server: &TestServer) {
    let f = &server.fixture;
    let mut staff = Vec::new();
    for (grid, team, area) in
        [("A", Team::GridWorker, "A"), ("B", Team::Cadre, "village1"), ("C", Team::Cadre, "village2")]
    {
        for p in &f.people[grid] {
            staff.push(StaffMember::new(*p, team, f.area(area).id));
        }
    }
    server.store.add_staff(staff).await.expect("add staff");
}

pub async fn activate(client: &Client) -> Value {
    let (status, incident) = client
        .post(
            "/api/v1/incidents",
            json!({"plan": "golden-24h", "trigger": "有两名核酸检测异常人员到过太子农庄吃饭", "level": "II",
                   "activated_at": "2022-10-06T07:00:00+08:00", "forward_post": "太子农庄"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{incident}");
    incident
}

fn group<'a>(board: &'a Value, key: &str) -> &'a Value {
    board["groups"].as_array().unwrap().iter().find(|g| g["key"] == key).unwrap_or_else(|| panic!("group {key}"))
}

async fn timeline_kinds(client: &Client, id: i64) -> Vec<String> {
    let (status, list) = client.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list.as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap().to_string()).collect()
}

async fn command(engine: Engine) {
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    add_staff(&server).await;
    let commander = server.login("commander").await;
    let working = server.login("working_group").await;
    let other = server.login("commander_two").await;

    // The shipped plan is there before anyone saved one.
    let (status, plans) = commander.get("/api/v1/plans").await;
    assert_eq!(status, StatusCode::OK, "{plans}");
    let shipped = plans.as_array().unwrap().iter().find(|p| p["key"] == "golden-24h").expect("golden-24h");
    assert_eq!((shipped["version"].as_u64(), shipped["groups"].as_u64()), (Some(0), Some(10)));

    // Activation at 07:00: the twelve staff of town one, none of town two.
    let incident = activate(&commander).await;
    let id = incident["id"].as_i64().unwrap();
    assert_eq!(incident["notified"], 12, "{incident}");
    assert_eq!(incident["groups"].as_array().unwrap().len(), 10);
    assert_eq!(group(&incident, "grid-control")["members"], 6, "grid workers staff grid control");
    assert_eq!(incident["assembly_deadline"], "2022-10-05T23:30:00.000Z");
    assert_eq!(incident["plan_version"], 1, "activating the shipped plan stores it");
    let deadlines: Vec<&str> =
        incident["tasks"].as_array().unwrap().iter().map(|t| t["deadline"].as_str().unwrap()).collect();
    assert!(deadlines.windows(2).all(|w| w[0] <= w[1]), "tasks by deadline: {deadlines:?}");
    let risk = incident["tasks"].as_array().unwrap().iter().find(|t| t["key"] == "risk-areas").unwrap();
    assert_eq!(risk["deadline"], "2022-10-06T04:00:00.000Z", "5 h after 07:00 China time");

    // Answers: a grid worker arrives at 07:10, a cadre is on the way, then arrives at 07:31.
    let a = &f.people["A"];
    let b = &f.people["B"];
    server.clock.advance(10 * MINUTE);
    let rollcall = format!("/api/v1/incidents/{id}/rollcall");
    let (status, m) =
        working.post(&rollcall, json!({"person_id": a[0], "status": "arrived", "place": "headquarters"})).await;
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!((m["status"].as_str(), m["place"].as_str()), (Some("arrived"), Some("headquarters")));
    let (status, _) = working.post(&rollcall, json!({"person_id": b[0], "status": "on_my_way"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = working.post(&rollcall, json!({"person_id": a[1], "status": "received"})).await;
    assert_eq!(status, StatusCode::OK);
    server.clock.advance(21 * MINUTE);
    let (status, _) =
        working.post(&rollcall, json!({"person_id": b[0], "status": "arrived", "place": "forward_post"})).await;
    assert_eq!(status, StatusCode::OK);
    // A late "received" from a phone's queue does not undo an arrival.
    let (status, m) = working.post(&rollcall, json!({"person_id": a[0], "status": "received"})).await;
    assert_eq!((status, m["status"].as_str()), (StatusCode::OK, Some("arrived")));

    // Refusals: not a member, a bad token, nobody, a bad status.
    let c0 = f.people["C"][0];
    let (status, body) = working.post(&rollcall, json!({"person_id": c0, "status": "arrived"})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("person_id")), "{body}");
    let (status, _) = server.anonymous().post(&rollcall, json!({"token": "not-a-token", "status": "arrived"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server.anonymous().post(&rollcall, json!({"person_id": a[2], "status": "arrived"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = working.post(&rollcall, json!({"person_id": a[2], "status": "here"})).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")));

    // The board at 07:31.
    let (status, board) = commander.get(&rollcall).await;
    assert_eq!(status, StatusCode::OK, "{board}");
    assert_eq!(
        (&board["notified"], &board["answered"], &board["arrived"], &board["arrived_within_deadline"]),
        (&json!(12), &json!(3), &json!(2), &json!(1)),
        "{board}"
    );
    let grid = group(&board, "grid-control");
    assert_eq!(
        (&grid["notified"], &grid["answered"], &grid["arrived_within_deadline"]),
        (&json!(6), &json!(2), &json!(1))
    );
    assert_eq!(grid["not_answered"], 4);

    // Who has not answered in grid control: names and full phones, each an audited read.
    let (status, missing) = commander.get(&format!("{rollcall}/missing?group=grid-control")).await;
    assert_eq!(status, StatusCode::OK, "{missing}");
    let people = missing[0]["people"].as_array().unwrap();
    assert_eq!(people.len(), 4);
    let listed: Vec<i64> = people.iter().map(|p| p["person_id"].as_i64().unwrap()).collect();
    assert_eq!(listed, a[2..].to_vec());
    let phone = &f.canaries[&a[2]].1;
    assert_eq!(
        people[0]["phone"].as_str().unwrap(),
        bulwark_domain::people::mask_phone(phone),
        "masked until revealed"
    );
    let log = Log::default();
    let auditor = Agent::bearer(&server, "auditor", &log).await;
    let entries = audit_log(&auditor).await;
    for p in &listed {
        assert!(
            entries.iter().any(|e| e["person"] == *p && e["operation"] == "incidents_read"),
            "person {p} shown without an audit entry"
        );
    }
    let (status, body) = commander.get(&format!("{rollcall}/missing?group=nope")).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("group")));

    // Tasks at 07:31: the assembly task is overdue.
    let (status, tasks) = commander.get(&format!("/api/v1/incidents/{id}/tasks")).await;
    assert_eq!(status, StatusCode::OK, "{tasks}");
    let assemble = tasks.as_array().unwrap().iter().find(|t| t["key"] == "assemble").unwrap().clone();
    assert_eq!((assemble["overdue"].as_bool(), assemble["minutes_left"].as_i64()), (Some(true), Some(-1)));
    assert!(tasks.as_array().unwrap().iter().filter(|t| t["overdue"] == true).count() == 1);
    let task_path = format!("/api/v1/tasks/{}", assemble["id"]);
    let (status, done) =
        working.send(Method::PATCH, &task_path, Some(json!({"status": "done", "notes": "全员到齐"}))).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(
        (done["status"].as_str(), done["overdue"].as_bool(), done["late"].as_bool()),
        (Some("done"), Some(false), Some(true))
    );
    let (status, body) =
        working.send(Method::PATCH, &task_path, Some(json!({"status": "cancelled", "notes": " "}))).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("notes")), "{body}");
    let (status, body) = working.send(Method::PATCH, &task_path, Some(json!({"status": "finished"}))).await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")));
    let (status, _) = working.send(Method::PATCH, &task_path, Some(json!({"owner": a[0]}))).await;
    assert_eq!(status, StatusCode::OK);

    // Past 12:00, the 2 h and 4 h tasks are overdue: the server's sweep writes the timeline.
    server.clock.advance(5 * 60 * MINUTE);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let kinds = timeline_kinds(&commander, id).await;
        if kinds.iter().filter(|k| *k == "task_overdue").count() >= 10 {
            assert_eq!(kinds[0], "activated");
            assert!(kinds.contains(&"arrival".to_string()) && kinds.contains(&"task_done".to_string()), "{kinds:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no overdue entries after 30 s: {kinds:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The sweep marks each task once: the assembly task, done late, is not among them.
    let (_, timeline) = commander.get(&format!("/api/v1/incidents/{id}/timeline")).await;
    let overdue: Vec<&str> = timeline
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "task_overdue")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    let mut unique = overdue.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), overdue.len(), "{overdue:?}");
    assert!(!overdue.iter().any(|t| t.contains("集结")), "{overdue:?}");

    // A manual entry: the ID number typed into it is masked.
    let id_number = &f.canaries[&a[0]].0;
    let (status, entry) = working
        .post(&format!("/api/v1/incidents/{id}/timeline"), json!({"text": format!("已联系 {id_number} 的家属")}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    assert!(!entry["text"].as_str().unwrap().contains(id_number.as_str()), "{entry}");

    // The dashboard's figures.
    let (status, d) = commander.get(&format!("/api/v1/incidents/{id}/dashboard")).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    assert_eq!(d["minutes_since_activation"], 31 + 300);
    assert_eq!(d["rollcall"]["arrived_within_deadline"], 1);
    assert!(d["overdue"].as_u64().unwrap() >= 10);
    assert_eq!(d["tasks"][0]["overdue"], true, "overdue tasks first");

    // Another town's commander: refused alike, and not listed.
    for path in [
        format!("/api/v1/incidents/{id}"),
        format!("/api/v1/incidents/{id}/rollcall"),
        format!("/api/v1/incidents/{id}/dashboard"),
    ] {
        let (status, _) = other.get(&path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (_, list) = other.get("/api/v1/incidents").await;
    assert!(list.as_array().unwrap().is_empty(), "{list}");
    let (_, list) = commander.get("/api/v1/incidents").await;
    assert_eq!(list[0]["id"], id);

    // Plans: export, edit, import as a new version; the same file again stores nothing.
    let response = commander.request(Method::GET, "/api/v1/plans/golden-24h").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("plan-golden-24h-v1.json"));
    let mut plan: Value = response.json().await.unwrap();
    plan["assembly_minutes"] = json!(45);
    plan["groups"][0]["tasks"][0]["title"] = json!("全体工作人员45分钟内集结完毕");
    let (status, saved) = commander.post("/api/v1/plans", plan.clone()).await;
    assert_eq!((status, saved["version"].as_u64()), (StatusCode::CREATED, Some(2)), "{saved}");
    let (status, saved) = commander.post("/api/v1/plans", plan.clone()).await;
    assert_eq!((status, saved["version"].as_u64()), (StatusCode::OK, Some(2)));
    plan["groups"][1]["tasks"][0]["due_minutes"] = json!(0);
    let (status, body) = commander.post("/api/v1/plans", plan).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["field"], "groups[1].tasks[0].due_minutes");
    let (status, _) = working.post("/api/v1/plans", json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "working groups read plans, the commander edits them");

    // The pages: the dashboard and the plan, in Chinese.
    let log = Log::default();
    let page = Agent::cookie(&server, "commander", &log).await;
    let r = page.get(&format!("/incidents/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("太子农庄") && r.text.contains("综合协调组") && r.text.contains("id=\"arrival-chart\""));
    let r = page.get(&format!("/incidents/{id}?missing=grid-control")).await;
    assert!(r.text.contains(&bulwark_domain::people::mask_phone(phone)), "the lead's call list");
    assert!(r.text.contains(&format!("/persons/{}/reveal", a[2])) && !r.text.contains(phone.as_str()));
    let r = page.get("/plans/golden-24h").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.contains("45"));
    let r = Agent::cookie(&server, "commander_two", &log).await.get(&format!("/incidents/{id}")).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn command_sqlite() {
    command(Engine::Sqlite).await;
}

#[tokio::test]
async fn command_postgres() {
    command(Engine::Postgres).await;
}

/// An SMS gateway on a loopback port that records every message it is given.
pub(crate) async fn recording_gateway() -> (String, std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>) {
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = got.clone();
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let store = store.clone();
            async move {
                let to = body["to"].as_str().unwrap_or_default().to_string();
                let text = body["text"].as_str().unwrap_or_default().to_string();
                store.lock().unwrap().push((to, text));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// Waits until the gateway holds at least `n` messages matching `pred` (the dispatcher sends in
/// the background).
pub(crate) async fn messages(
    got: &std::sync::Mutex<Vec<(String, String)>>,
    n: usize,
    pred: impl Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let found: Vec<_> = got.lock().unwrap().iter().filter(|(_, t)| pred(t)).cloned().collect();
        if found.len() >= n {
            return found;
        }
        assert!(Instant::now() < deadline, "{} of {n} messages after 30 s", found.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Activation sends each member an SMS through the gateway with a one-tap link; the link's page
/// and its answer need no session; the token answers for that incident only; overdue tasks alert
/// the group lead by SMS.
async fn one_tap_links(engine: Engine) {
    let (url, got) = recording_gateway().await;
    let config = bulwark_app::notify::NotifyConfig {
        sms: Some(bulwark_app::notify::SmsConfig { url, token: None }),
        ..Default::default()
    };
    let server = TestServer::start_with(engine, config).await;
    let f = &server.fixture;
    add_staff(&server).await;
    let commander = server.login("commander").await;
    let incident = activate(&commander).await;
    let id = incident["id"].as_i64().unwrap();
    let sent = messages(&got, 12, |t| t.contains("/r/")).await;
    assert_eq!(sent.len(), 12, "one SMS per member, none twice: {sent:?}");
    let a2 = f.people["A"][2];
    let (_, text) = sent.iter().find(|(to, _)| *to == f.canaries[&a2].1).expect("an SMS to grid A's third resident");
    assert!(text.contains("07:30") && text.contains("太子农庄"), "{text}");
    let link = text.split("/r/").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert!(text.contains(&format!("{}/r/{link}", server.url)), "the link points at the server: {text}");

    // The page of the link, without a session: the member's own name, no one else's.
    let anonymous = server.anonymous();
    let page = anonymous.request(Method::GET, &format!("/r/{link}")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(page.headers()["cache-control"], "no-store");
    let html = page.text().await.unwrap();
    assert!(html.contains("测试A20") && html.contains("answer-arrived"), "{html}");
    assert!(!html.contains(&f.canaries[&a2].1), "no phone on the page");
    // The answer by token (the API) and the board.
    let path = format!("/api/v1/incidents/{id}/rollcall");
    let (status, m) = anonymous.post(&path, json!({"token": link, "status": "on_my_way"})).await;
    assert_eq!((status, m["person_id"].as_i64()), (StatusCode::OK, Some(a2)), "{m}");
    let form = anonymous
        .request(Method::POST, &format!("/r/{link}"))
        .form(&[("status", "arrived"), ("place", "forward_post")])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::SEE_OTHER);
    let (_, board) = commander.get(&path).await;
    assert_eq!((board["arrived"].as_u64(), board["arrived_within_deadline"].as_u64()), (Some(1), Some(1)), "{board}");
    // A token answers for its own incident only; a made-up one for none.
    let (status, _) = anonymous
        .post(&format!("/api/v1/incidents/{}/rollcall", id + 1), json!({"token": link, "status": "arrived"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let r = anonymous.request(Method::GET, "/r/AAAAAAAAAAAAAAAAAAAAAA").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // Links sent again (lost SMS, or never sent): the eleven who have not answered get new ones,
    // the old links stop working and the new ones answer; the one who answered gets none.
    let b0 = f.people["B"][0];
    let (_, old) = sent.iter().find(|(to, _)| *to == f.canaries[&b0].1).expect("an SMS to grid B's first resident");
    let old_link = old.split("/r/").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let (status, resent) = commander.post(&format!("/api/v1/incidents/{id}/rollcall/resend"), json!({})).await;
    assert_eq!(status, StatusCode::OK, "{resent}");
    assert_eq!((resent["members"].as_u64(), resent["messages"].as_u64()), (Some(11), Some(11)), "{resent}");
    let all = messages(&got, 23, |t| t.contains("/r/")).await;
    assert_eq!(all.iter().filter(|(to, _)| *to == f.canaries[&a2].1).count(), 1, "who answered gets no new link");
    let (_, new) = all.iter().rev().find(|(to, _)| *to == f.canaries[&b0].1).unwrap();
    let new_link = new.split("/r/").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    assert_ne!(new_link, old_link);
    let (status, _) = anonymous.post(&path, json!({"token": old_link, "status": "received"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the old link stopped working");
    let (status, m) = anonymous.post(&path, json!({"token": new_link, "status": "received"})).await;
    assert_eq!((status, m["person_id"].as_i64()), (StatusCode::OK, Some(b0)), "{m}");
    // Only members, and only the commander's own town.
    let (status, body) = commander
        .post(&format!("/api/v1/incidents/{id}/rollcall/resend"), json!({"persons": [f.people["C"][0]]}))
        .await;
    assert_eq!((status, body["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("persons")), "{body}");
    let (status, _) =
        server.login("commander_two").await.post(&format!("/api/v1/incidents/{id}/rollcall/resend"), json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Past the 2-hour deadlines: the group leads get an SMS for each overdue task of their group.
    server.clock.advance(130 * MINUTE);
    let alerts = messages(&got, 1, |t| t.contains("已超过时限")).await;
    let leads: Vec<&String> = alerts.iter().map(|(to, _)| to).collect();
    let phones: Vec<&String> = f.people["A"].iter().chain(&f.people["B"]).map(|p| &f.canaries[p].1).collect();
    assert!(leads.iter().all(|to| phones.contains(to)), "alerts go to members of town one: {leads:?}");
}

#[tokio::test]
async fn one_tap_links_sqlite() {
    one_tap_links(Engine::Sqlite).await;
}

#[tokio::test]
async fn one_tap_links_postgres() {
    one_tap_links(Engine::Postgres).await;
}
