//! Area leaders (包村领导) over HTTP on both engines: set, list (masked phones), replace, remove;
//! scope (the other town's commander is refused, a grid worker may not set); validation naming
//! the field; the dashboard's per-village coverage shows the leader's title; and the escalation:
//! an abnormal pool sends its villages' leader one SMS, and the same results posted again send
//! nothing more. Also the authorization matrix's calls for these operations.

use crate::{
    authorization_matrix::Case,
    command::{activate, messages, recording_gateway},
    support::{ApiOp, Body, NO_AREA, foreign_grids, home_grid, register, village_of},
};
use bulwark_domain::areas::Area;
use bulwark_testkit::{Engine, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

/// The matrix's calls for the leader operations; `None` for any other operation.
pub async fn matrix_cases(server: &TestServer, op: &ApiOp, scope: &Area) -> Option<Vec<Case>> {
    let id = op.operation_id.as_str();
    let f = &server.fixture;
    let home = home_grid(server, scope);
    let mut villages = vec![(home, "in scope".to_string())];
    for g in foreign_grids(server, scope) {
        if !villages.iter().any(|(v, _)| village_of(v) == village_of(g)) {
            villages.push((g, format!("out of scope ({})", village_of(g))));
        }
    }
    let mut out = Vec::new();
    match id {
        "rosters_read.leaders" => out.push(Case::new(op, op.template.clone(), Body::Empty, "list")),
        "rosters_manage.set_leader" | "rosters_manage.remove_leader" => {
            for (g, variant) in villages {
                let village = village_of(g);
                let body = if id == "rosters_manage.set_leader" {
                    Body::Json(json!({"person_id": f.people[g][0], "title": "分管副镇长"}))
                } else {
                    Body::Empty
                };
                out.push(
                    Case::new(op, format!("/api/v1/areas/{}/leader", f.code(village)), body, variant)
                        .at(&f.area(village).path),
                );
            }
            let body = if id == "rosters_manage.set_leader" {
                Body::Json(json!({"person_id": f.people[home][0], "title": "分管副镇长"}))
            } else {
                Body::Empty
            };
            out.push(Case::new(op, format!("/api/v1/areas/{NO_AREA}/leader"), body, "nonexistent").missing());
        }
        _ => return None,
    }
    Some(out)
}

/// The leaders page's POST routes for the CSRF suite, each with a form that succeeds from the
/// page's own origin (for a commander of town one): (template, path, form).
pub fn csrf_page_targets(server: &TestServer) -> Vec<(&'static str, String, Body)> {
    let f = &server.fixture;
    let village = f.code("village1");
    let form =
        vec![("person_id".to_string(), f.people["A"][0].to_string()), ("title".to_string(), "分管副镇长".into())];
    vec![
        ("/leaders/{code}", format!("/leaders/{village}"), Body::Form(form)),
        ("/leaders/{code}/remove", format!("/leaders/{village}/remove"), Body::Form(vec![])),
    ]
}

async fn leaders_over_http(engine: Engine) {
    let (url, got) = recording_gateway().await;
    let config = bulwark_app::notify::NotifyConfig {
        sms: Some(bulwark_app::notify::SmsConfig { url, token: None }),
        ..Default::default()
    };
    let server = TestServer::start_with(engine, config).await;
    let f = &server.fixture;
    let commander = server.login("commander").await;
    let village = f.code("village1");
    let path = format!("/api/v1/areas/{village}/leader");
    let leader = f.people["A"][0];
    let (_, leader_phone) = f.canaries[&leader].clone();

    // Validation names the field; grids are not led.
    let (status, e) = commander.send(Method::PUT, &path, Some(json!({"person_id": leader, "title": " "}))).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("title")), "{e}");
    let long = "镇".repeat(51);
    let (status, e) = commander.send(Method::PUT, &path, Some(json!({"person_id": leader, "title": long}))).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("title")), "{e}");
    let grid_path = format!("/api/v1/areas/{}/leader", f.code("A"));
    let (status, e) =
        commander.send(Method::PUT, &grid_path, Some(json!({"person_id": leader, "title": "组长"}))).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("area")), "{e}");

    // Set, then list: title, name, masked phone.
    let (status, set) =
        commander.send(Method::PUT, &path, Some(json!({"person_id": f.people["B"][1], "title": "镇长"}))).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    let (status, set) =
        commander.send(Method::PUT, &path, Some(json!({"person_id": leader, "title": "分管副镇长"}))).await;
    assert_eq!(status, StatusCode::OK, "{set}");
    assert_eq!(set["person_id"].as_i64(), Some(leader), "setting again replaces");
    let (status, list) = commander.get("/api/v1/leaders").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 1, "one leader per area: {list}");
    assert_eq!(rows[0]["area_code"], village.as_str());
    assert_eq!(rows[0]["title"], "分管副镇长");
    assert_eq!(rows[0]["person_id"].as_i64(), Some(leader));
    assert!(rows[0]["name"].as_str().is_some_and(|n| !n.is_empty()), "{list}");
    let masked = rows[0]["phone_masked"].as_str().unwrap();
    assert!(masked.contains("****") && !list.to_string().contains(&leader_phone), "masked: {list}");

    // Scope: the other town's commander is refused and sees none; a grid worker may not set.
    let commander_two = server.login("commander_two").await;
    let (status, _) =
        commander_two.send(Method::PUT, &path, Some(json!({"person_id": leader, "title": "分管副镇长"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = commander_two.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, none) = commander_two.get("/api/v1/leaders").await;
    assert_eq!((status, none), (StatusCode::OK, json!([])));
    // Nor may a commander name someone from another town.
    let (status, _) =
        commander.send(Method::PUT, &path, Some(json!({"person_id": f.people["C"][0], "title": "分管副镇长"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let grid_worker = server.login("gridworker_a").await;
    let (status, _) =
        grid_worker.send(Method::PUT, &path, Some(json!({"person_id": leader, "title": "分管副镇长"}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The dashboard's coverage per village shows the leader's title (no name).
    let (status, round) =
        commander.post("/api/v1/rounds", json!({"name": "第一轮全员核酸", "areas": [village], "pool_size": 10})).await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let (status, site) = commander
        .post(
            "/api/v1/sites",
            json!({"name": "湴朗村委会采样点", "area": village, "hours": "00:00-23:59",
                   "lanes": [{"name": "1号", "kind": "normal"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    let incident = activate(&commander).await;
    let (status, d) = commander.get(&format!("/api/v1/incidents/{}/dashboard", incident["id"])).await;
    assert_eq!(status, StatusCode::OK, "{d}");
    let villages = d["testing"]["villages"].as_array().expect("villages on the dashboard");
    let row = villages.iter().find(|v| v["code"] == village.as_str()).expect("village one's coverage");
    assert_eq!(row["leader_title"], "分管副镇长", "{d}");
    let name = rows[0]["name"].as_str().unwrap();
    assert!(!d.to_string().contains(name), "the dashboard shows no person");
    let pages = crate::support::Agent::cookie(&server, "commander", &crate::support::Log::default()).await;
    let live = pages.get(&format!("/incidents/{}/live", incident["id"])).await;
    assert_eq!(live.status, StatusCode::OK);
    assert!(live.text.contains("leader-title") && live.text.contains("分管副镇长"), "the live page shows the title");
    assert!(!live.text.contains(name), "and no name");

    // Escalation: two residents of grid A in one pool, the pool turns abnormal.
    let sampler = server.login("sampler").await;
    let (round, site) = (round["id"].as_i64().unwrap(), site["id"].as_i64().unwrap());
    for (i, p) in f.people["A"][1..3].iter().enumerate() {
        let body = json!({"round": round, "site": site, "tube": "EP0000701", "person": {"person_id": p}});
        let key = format!("0190a5b2-0000-7000-8000-{:012}", 700 + i);
        let (status, r) = register(&sampler, &key, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }
    let lab = server.login("lab").await;
    let results = json!([{"tube": "EP0000701", "result": "阳性", "ct_orf1ab": 28.0}]);
    let (status, report) = lab.post("/api/v1/lab-results", results.clone()).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["abnormal"], json!(["EP0000701"]));
    let sent = messages(&got, 1, |t| t.contains("EP0000701")).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, leader_phone, "to the village leader's phone");
    assert!(sent[0].1.contains("湴朗村民委员会") && sent[0].1.contains("单管复采"), "{}", sent[0].1);

    // The same results again: nothing more is sent.
    let (status, again) = lab.post("/api/v1/lab-results", results).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    let root = bulwark_domain::access::Scope::of(f.area("county"));
    let outbox = server
        .store
        .notifications(&bulwark_store::notify::NotificationQuery::within(root, 1000))
        .await
        .expect("outbox");
    let to_leader: Vec<_> = outbox.iter().filter(|n| n.body.contains("EP0000701")).collect();
    assert_eq!(to_leader.len(), 1, "one alert in the outbox: {to_leader:?}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = got.lock().unwrap().iter().filter(|(_, t)| t.contains("EP0000701")).count();
    assert_eq!(sent, 1, "the leader's SMS is not sent twice");

    // Remove: the list is empty again, removing twice is fine.
    let (status, _) = commander.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = commander.send(Method::DELETE, &path, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = commander.get("/api/v1/leaders").await;
    assert_eq!(list, json!([]));
}

#[tokio::test]
async fn leaders_over_http_sqlite() {
    leaders_over_http(Engine::Sqlite).await;
}

#[tokio::test]
async fn leaders_over_http_postgres() {
    leaders_over_http(Engine::Postgres).await;
}

/// The `/leaders` page through a cookie session: a staff member chosen from the select becomes
/// the village's leader, the page shows the title, name and masked phone, and removes them; a
/// role that may only read sees no forms.
async fn leaders_page(engine: Engine) {
    use crate::support::{Agent, Log};
    use bulwark_domain::workforce::{StaffMember, Team};
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    let log = Log::default();
    let person = f.people["A"][1];
    let (_, phone) = f.canaries[&person].clone();
    server.store.add_staff(vec![StaffMember::new(person, Team::Cadre, f.area("village1").id)]).await.expect("staff");
    let commander = Agent::cookie(&server, "commander", &log).await;
    let rosters = commander.get("/rosters").await;
    assert!(rosters.text.contains("href=\"/leaders\""), "linked from the rosters page");
    let page = commander.get("/leaders").await;
    assert_eq!(page.status, StatusCode::OK);
    let village = f.code("village1");
    assert!(page.text.contains(&format!("data-area=\"{village}\"")), "the village is listed");
    assert!(page.text.contains(&format!("<option value=\"{person}\"")), "the staff member is offered");

    let form = vec![("person_id".to_string(), person.to_string()), ("title".to_string(), "镇领导（包村）".into())];
    let r = commander
        .send(Method::POST, &format!("/leaders/{village}"), Body::Form(form), &[("origin", server.url.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = commander.get("/leaders?notice=set").await;
    assert!(page.text.contains("镇领导（包村）") && page.text.contains("id=\"notice\""));
    let masked = format!("{}****{}", &phone[..3], &phone[7..]);
    assert!(page.text.contains(&masked) && !page.text.contains(&phone), "the phone masked");
    let bad = vec![("person_id".to_string(), person.to_string()), ("title".to_string(), String::new())];
    let r = commander
        .send(Method::POST, &format!("/leaders/{village}"), Body::Form(bad), &[("origin", server.url.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    let grid_worker = Agent::cookie(&server, "gridworker_a", &log).await;
    let page = grid_worker.get("/leaders").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.text.contains("leader-form"), "no forms for a role that may not set leaders");

    let r = commander
        .send(
            Method::POST,
            &format!("/leaders/{village}/remove"),
            Body::Form(vec![]),
            &[("origin", server.url.as_str())],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = commander.get("/leaders").await;
    assert!(!page.text.contains("镇领导（包村）"), "removed");
}

#[tokio::test]
async fn leaders_page_sqlite() {
    leaders_page(Engine::Sqlite).await;
}

#[tokio::test]
async fn leaders_page_postgres() {
    leaders_page(Engine::Postgres).await;
}
