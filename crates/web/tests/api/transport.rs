//! Transport to the lab through the API and the page, on both engines: a box opened at a site,
//! tubes registered through `POST /api/v1/registrations` packed into it (an open one flagged, an
//! unknown one refused), sealed, handed to a courier and received by the lab (both named), the
//! timer crossing 3 h and 4 h on the server's manual clock and stopping at the lab, the overdue
//! list, refusals of the wrong roles and of boxes outside the scope, and the phone page.

use crate::support::{browser, register};
use bulwark_testkit::{Client, Engine, TestServer};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

const MINUTE: i64 = 60_000;

fn key(n: u32) -> String {
    format!("0190a5b2-0000-7000-8000-{:012}", 900_000 + n)
}

struct Setup {
    round: i64,
    site: i64,
    /// A site of town two, outside town one's scope.
    site_two: i64,
}

async fn setup(server: &TestServer) -> Setup {
    let commander = server.login("commander").await;
    let (status, round) = commander
        .post("/api/v1/rounds", json!({"name": "第一轮全员核酸", "areas": [server.fixture.code("town1")]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let (status, site) = commander
        .post(
            "/api/v1/sites",
            json!({"name": "湴朗村委会采样点", "area": server.fixture.code("village1"), "lanes": [{"name": "1号"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    let (status, site_two) = server
        .login("commander_two")
        .await
        .post(
            "/api/v1/sites",
            json!({"name": "二号村采样点", "area": server.fixture.code("village2"), "lanes": [{"name": "1号"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site_two}");
    Setup {
        round: round["id"].as_i64().unwrap(),
        site: site["id"].as_i64().unwrap(),
        site_two: site_two["id"].as_i64().unwrap(),
    }
}

fn codes(list: &Value) -> Vec<String> {
    list.as_array().unwrap_or(&vec![]).iter().map(|b| b["code"].as_str().unwrap_or_default().to_string()).collect()
}

async fn boxes_of(client: &Client, round: i64) -> Value {
    let (status, list) = client.get(&format!("/api/v1/rounds/{round}/boxes")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    list
}

async fn api(engine: Engine) {
    let server = TestServer::start(engine).await;
    let s = setup(&server).await;
    let sampler = server.login("sampler").await;
    let lab = server.login("lab").await;
    let commander = server.login("commander").await;
    let people = &server.fixture.people["A"];
    let reg = |tube: &str, person: i64| json!({"round": s.round, "site": s.site, "tube": tube, "person": {"person_id": person}});

    // 07:00: two swabs into pool EP0000001, sealed by hand; 07:30: one into EP0000002, left open.
    for (i, person) in people[..2].iter().enumerate() {
        let (status, r) = register(&sampler, &key(i as u32), &reg("EP0000001", *person)).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }
    let (status, sealed) = sampler.post("/api/v1/tubes/EP0000001/seal", json!({})).await;
    assert_eq!((status, sealed["state"].as_str()), (StatusCode::OK, Some("sealed")), "{sealed}");
    server.clock.advance(30 * MINUTE);
    let (status, r) = register(&sampler, &key(10), &reg("EP0000002", people[2])).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");

    // A box opened at the site; sent again it answers the same box; the code of another box is a
    // conflict; a site outside the scope is refused like one that does not exist.
    let new_box = json!({"code": "box-0001", "round": s.round, "site": s.site});
    let (status, created) = sampler.post("/api/v1/boxes", new_box.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!((created["code"].as_str(), created["state"].as_str()), (Some("BOX-0001"), Some("packing")));
    assert_eq!(
        (created["warning"].as_str(), created["minutes_since_first_sample"].clone()),
        (Some("none"), Value::Null)
    );
    let (status, again) = sampler.post("/api/v1/boxes", new_box).await;
    assert_eq!((status, again["code"].as_str()), (StatusCode::OK, Some("BOX-0001")), "{again}");
    let (status, other) =
        commander.post("/api/v1/boxes", json!({"code": "BOX-0001", "round": s.round, "site": s.site})).await;
    assert_eq!(status, StatusCode::OK, "the same box from another account of the site: {other}");
    let (status, e) = server
        .login("commander_two")
        .await
        .post("/api/v1/boxes", json!({"code": "BOX-0001", "round": s.round, "site": s.site_two}))
        .await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{e}");
    let (status, outside) =
        sampler.post("/api/v1/boxes", json!({"code": "BOX-0002", "round": s.round, "site": s.site_two})).await;
    let (status_missing, missing) =
        sampler.post("/api/v1/boxes", json!({"code": "BOX-0002", "round": s.round, "site": 987_654})).await;
    assert_eq!((status, status_missing), (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN), "{outside} {missing}");
    assert_eq!(outside, missing, "a site outside the scope answers like one that does not exist");
    let (status, e) = sampler.post("/api/v1/boxes", json!({"code": "箱子", "round": s.round, "site": s.site})).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("code")), "{e}");

    // Packing: the sealed pool, the open one (flagged, kept), a code nobody registered (refused).
    let (status, packed) =
        sampler.post("/api/v1/boxes/BOX-0001/tubes", json!({"tubes": ["EP0000001", "ep0000002", "EP9999999"]})).await;
    assert_eq!(status, StatusCode::OK, "{packed}");
    let outcomes: Vec<(&str, &str)> = packed["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["tube"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(outcomes, [("EP0000001", "packed"), ("EP0000002", "packed"), ("EP9999999", "unknown_tube")]);
    assert_eq!(packed["results"][1]["flags"], json!(["open_tube"]));
    assert_eq!(packed["box"]["tube_count"], 2);
    assert_eq!(packed["box"]["flags"], json!(["open_tube"]));
    assert_eq!(packed["box"]["minutes_since_first_sample"], 30, "{packed}");
    assert_eq!(packed["box"]["tubes"].as_array().unwrap().len(), 2);
    let (status, e) = sampler.post("/api/v1/boxes/BOX-0001/tubes", json!({"tubes": ["EP 1"]})).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("tubes[0]")), "{e}");
    // A tube is in one box at most.
    let (status, _) =
        sampler.post("/api/v1/boxes", json!({"code": "BOX-0003", "round": s.round, "site": s.site})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, moved) = sampler.post("/api/v1/boxes/BOX-0003/tubes", json!({"tubes": ["EP0000001"]})).await;
    assert_eq!(
        (moved["results"][0]["outcome"].as_str(), moved["results"][0]["other_box"].as_str()),
        (Some("in_other_box"), Some("BOX-0001"))
    );
    let (status, e) = sampler.post("/api/v1/boxes/BOX-0003/seal", json!({})).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("tubes")), "an empty box: {e}");

    // Sealed, then handed to a courier, named and with a phone (shown masked).
    let (status, b) = sampler.post("/api/v1/boxes/BOX-0001/seal", json!({})).await;
    assert_eq!((status, b["state"].as_str()), (StatusCode::OK, Some("sealed")), "{b}");
    let courier = json!({"stage": "courier", "name": "王师傅", "phone": "13800138000"});
    let (status, h) = sampler.post("/api/v1/boxes/BOX-0001/handovers", courier.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{h}");
    assert_eq!(h["handover"]["to"], "王师傅");
    assert_eq!(h["handover"]["phone"], "138****8000");
    assert!(!h.to_string().contains("13800138000"), "the phone leaves the server masked");
    assert!(h["handover"]["from"].as_str().is_some_and(|f| !f.is_empty()), "the site's giver is named: {h}");
    assert_eq!(h["box"]["state"], "in_transit");
    let (status, repeat) = sampler.post("/api/v1/boxes/BOX-0001/handovers", courier).await;
    assert_eq!((status, repeat["handover"]["at"].clone()), (StatusCode::OK, h["handover"]["at"].clone()), "{repeat}");
    let (status, e) = sampler.post("/api/v1/boxes/BOX-0001/handovers", json!({"stage": "truck", "name": "王"})).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("stage")), "{e}");
    let (status, e) = sampler.post("/api/v1/boxes/BOX-0001/handovers", json!({"stage": "lab", "name": "  "})).await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("name")), "{e}");

    // The timer, from the first sample at 07:00: amber at 3 h, exactly 4 h still in time, red after.
    let timer = |list: &Value| -> (i64, String) {
        let b = list.as_array().unwrap().iter().find(|b| b["code"] == "BOX-0001").expect("BOX-0001 listed");
        (b["minutes_since_first_sample"].as_i64().unwrap(), b["warning"].as_str().unwrap().to_string())
    };
    assert_eq!(timer(&boxes_of(&commander, s.round).await), (30, "none".into()));
    server.clock.advance(150 * MINUTE);
    assert_eq!(timer(&boxes_of(&commander, s.round).await), (180, "soon".into()));
    server.clock.advance(60 * MINUTE);
    assert_eq!(timer(&boxes_of(&commander, s.round).await), (240, "soon".into()));
    let (_, overdue) = commander.get("/api/v1/transport/overdue").await;
    assert_eq!(codes(&overdue), Vec::<String>::new(), "exactly 4 h is in time");
    server.clock.advance(MINUTE);
    let list = boxes_of(&commander, s.round).await;
    assert_eq!(timer(&list), (241, "overdue".into()));
    assert_eq!(
        list.as_array().unwrap().iter().find(|b| b["code"] == "BOX-0003").unwrap()["warning"],
        "none",
        "an empty box has no timer"
    );
    let (status, overdue) = commander.get("/api/v1/transport/overdue").await;
    assert_eq!((status, codes(&overdue)), (StatusCode::OK, vec!["BOX-0001".to_string()]), "{overdue}");
    assert_eq!(overdue[0]["minutes_left"], -1);

    // The lab receives it from the courier: double-signed, and the timer stops (red: it was late).
    let (status, h) =
        lab.post("/api/v1/boxes/BOX-0001/handovers", json!({"stage": "lab", "name": "检验科 李医生"})).await;
    assert_eq!(status, StatusCode::CREATED, "{h}");
    assert_eq!((h["handover"]["from"].as_str(), h["handover"]["to"].as_str()), (Some("王师傅"), Some("检验科 李医生")));
    assert_eq!(h["box"]["state"], "received");
    server.clock.advance(60 * MINUTE);
    let (status, b) = lab.get("/api/v1/boxes/BOX-0001").await;
    assert_eq!(status, StatusCode::OK, "{b}");
    assert_eq!((b["minutes_since_first_sample"].as_i64(), b["warning"].as_str()), (Some(241), Some("overdue")));
    assert!(b["received_at"].is_string() && b["dispatched_at"].is_string() && b["sealed_at"].is_string(), "{b}");
    let stages: Vec<&str> = b["handovers"].as_array().unwrap().iter().map(|h| h["stage"].as_str().unwrap()).collect();
    assert_eq!(stages, ["courier", "lab"]);
    let (_, overdue) = commander.get("/api/v1/transport/overdue").await;
    assert!(codes(&overdue).is_empty(), "received boxes leave the overdue list");
    let (status, e) =
        sampler.post("/api/v1/boxes/BOX-0001/handovers", json!({"stage": "courier", "name": "张师傅"})).await;
    assert_eq!((status, e["code"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "nothing leaves the lab: {e}");

    // Roles: packing and hand-overs are tubes_seal, lists rounds_read.
    let grid_worker = server.login("gridworker_a").await;
    let checkpoint = server.login("checkpoint").await;
    let dispatcher = server.login("dispatcher").await;
    let (status, _) =
        grid_worker.post("/api/v1/boxes", json!({"code": "BOX-0004", "round": s.round, "site": s.site})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) =
        dispatcher.post("/api/v1/boxes/BOX-0003/handovers", json!({"stage": "courier", "name": "王师傅"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = checkpoint.post("/api/v1/boxes/BOX-0003/tubes", json!({"tubes": ["EP0000002"]})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = checkpoint.get(&format!("/api/v1/rounds/{}/boxes", s.round)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = server.login("admin").await.get("/api/v1/transport/overdue").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Scope: a grid worker of grid A may read rounds, but the village's boxes are not hers.
    assert_eq!(codes(&boxes_of(&grid_worker, s.round).await), Vec::<String>::new());
    let (status, _) = grid_worker.get("/api/v1/boxes/BOX-0001").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Town two's commander: town one's box is refused like a box that does not exist.
    let two = server.login("commander_two").await;
    let (status, outside) = two.post("/api/v1/boxes/BOX-0003/seal", json!({})).await;
    let (status_missing, missing) = two.post("/api/v1/boxes/BOX-9999/seal", json!({})).await;
    assert_eq!((status, status_missing), (StatusCode::FORBIDDEN, StatusCode::FORBIDDEN));
    assert_eq!(outside, missing);
    assert_eq!(codes(&boxes_of(&commander, s.round).await), ["BOX-0001", "BOX-0003"]);
    assert!(codes(&boxes_of(&two, s.round).await).is_empty());
    let (status, _) = commander.get("/api/v1/rounds/987654/boxes").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn page(engine: Engine) {
    let server = TestServer::start(engine).await;
    let s = setup(&server).await;
    let sampler_api = server.login("sampler").await;
    let people = &server.fixture.people["A"];
    for (i, tube) in ["EP0000011", "EP0000012"].iter().enumerate() {
        let body = json!({"round": s.round, "site": s.site, "tube": tube, "person": {"person_id": people[i]}});
        let (status, r) = register(&sampler_api, &key(100 + i as u32), &body).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
    }
    let sampler = browser(&server, "sampler").await;
    let url = |path: &str| format!("{}{path}", server.url);
    let round = s.round.to_string();
    let site = s.site.to_string();

    let html = sampler.get(url(&format!("/transport?round={round}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"new-box\"") && html.contains("id=\"no-boxes\""), "{html}");
    assert!(html.contains("hx-trigger=\"every 30s\""), "the list refreshes itself");

    // Open a box, pack by scanning (one code per line, one unknown), seal, hand over.
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let sampler = sampler.clone();
        let target = url(path);
        async move { sampler.post(target).form(&form).send().await.unwrap() }
    };
    let r =
        post("/transport/boxes", vec![("round", round.clone()), ("site", site.clone()), ("code", "box-0100".into())])
            .await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()[header::LOCATION].to_str().unwrap().to_string();
    assert_eq!(location, format!("/transport?round={round}&box=BOX-0100&notice=created"));
    let r = post(
        "/transport/pack",
        vec![
            ("round", round.clone()),
            ("box", "BOX-0100".into()),
            ("tubes", "EP0000011\r\nEP0000012\nEP0000404\n".into()),
        ],
    )
    .await;
    let location = r.headers()[header::LOCATION].to_str().unwrap().to_string();
    assert!(location.ends_with("notice=packed&n=2&refused=EP0000404"), "{location}");
    let html = sampler.get(url(&location)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"notice\"") && html.contains("EP0000404"), "{html}");
    assert!(html.contains("data-box=\"BOX-0100\""), "{html}");
    let r = post("/transport/seal", vec![("round", round.clone()), ("box", "BOX-0100".into())]).await;
    assert!(r.headers()[header::LOCATION].to_str().unwrap().ends_with("notice=sealed"));
    let form = vec![
        ("round", round.clone()),
        ("box", "BOX-0100".into()),
        ("stage", "courier".into()),
        ("name", "王师傅".into()),
        ("phone", "".into()),
    ];
    let r = post("/transport/handover", form).await;
    assert!(r.headers()[header::LOCATION].to_str().unwrap().ends_with("notice=handed_over"));

    // The timer on the page: amber from 3 h, red past 4 h (the fragment htmx polls). Cookie
    // sessions end after 30 idle minutes: sign in again after each jump of the clock.
    let fragment = |client: reqwest::Client| {
        let target = url(&format!("/transport/boxes?round={round}"));
        async move { client.get(target).send().await.unwrap().text().await.unwrap() }
    };
    let html = fragment(sampler.clone()).await;
    assert!(html.trim_start().starts_with("<section id=\"boxes\"") && !html.contains("<html"), "only the list: {html}");
    assert!(html.contains("data-warning=\"none\"") && html.contains("0:00"), "{html}");
    server.clock.advance(181 * MINUTE);
    let html = fragment(browser(&server, "sampler").await).await;
    assert!(html.contains("data-warning=\"soon\"") && html.contains("3:01"), "{html}");
    server.clock.advance(60 * MINUTE);
    let html = fragment(browser(&server, "sampler").await).await;
    assert!(html.contains("class=\"warn-overdue\"") && html.contains("4:01"), "{html}");

    // English, and a role that may read but not pack sees no forms.
    let lab = browser(&server, "lab").await;
    lab.get(url("/lang/en")).send().await.unwrap();
    let html = lab.get(url(&format!("/transport?round={round}"))).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Transport to the lab") && html.contains("Overdue"), "{html}");
    let worker = browser(&server, "gridworker_a").await;
    let html = worker.get(url(&format!("/transport?round={round}"))).send().await.unwrap().text().await.unwrap();
    assert!(!html.contains("id=\"pack\"") && !html.contains("BOX-0100"), "no forms, no box outside her grid: {html}");
    // A role without rounds_read gets the error page; a pack outside the scope is refused.
    let checkpoint = browser(&server, "checkpoint").await;
    let r = checkpoint.get(url("/transport")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let two = browser(&server, "commander_two").await;
    let r =
        two.post(url("/transport/seal")).form(&[("round", round.as_str()), ("box", "BOX-0100")]).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn transport_api_sqlite() {
    api(Engine::Sqlite).await;
}

#[tokio::test]
async fn transport_api_postgres() {
    api(Engine::Postgres).await;
}

#[tokio::test]
async fn transport_page_sqlite() {
    page(Engine::Sqlite).await;
}

#[tokio::test]
async fn transport_page_postgres() {
    page(Engine::Postgres).await;
}

// ---------------------------------------------------------------------------------------------
// The transport operations in the shared suites: the authorization matrix (and through it the
// audit and masking scans) and the CSRF check of the page's forms.

use crate::{
    authorization_matrix::Case,
    support::{ApiOp, Body, NO_ID, foreign_grids, fresh, home_grid},
};
use bulwark_domain::{
    access::Scope,
    areas::Area,
    testing::{BoxCode, NewBox, NewRegistration, NewRound, NewSite, OpeningHours, PoolSize, TubeCode, TubeFormat},
};

/// The matrix's round and its site in each fixture grid (made directly in storage, once).
async fn matrix_scene(server: &TestServer) -> (i64, std::collections::BTreeMap<&'static str, i64>) {
    let store = server.store.as_ref();
    let round = match store.rounds().await.expect("rounds").into_iter().find(|r| r.name == "转运矩阵轮次") {
        Some(r) => r.id,
        None => {
            let county = server.fixture.area("county").id;
            let new = NewRound {
                name: "转运矩阵轮次".into(),
                areas: vec![county],
                pool_size: PoolSize::TEN,
                overrides: vec![],
                starts_at: bulwark_testkit::START,
                ends_at: None,
            };
            store.create_round(new, bulwark_testkit::START).await.expect("round").id
        }
    };
    let existing = store.sites(&Scope::of(server.fixture.area("county"))).await.expect("sites");
    let mut sites = std::collections::BTreeMap::new();
    for grid in ["A", "B", "C"] {
        let name = format!("转运矩阵采样点{grid}");
        let id = match existing.iter().find(|s| s.name == name) {
            Some(s) => s.id,
            None => {
                let area = server.fixture.area(grid).id;
                let new = NewSite { name, area, serves: vec![area], hours: OpeningHours::ALWAYS, lanes: vec![] };
                store.create_site(new, bulwark_testkit::START).await.expect("site").id
            }
        };
        sites.insert(grid, id);
    }
    (round, sites)
}

/// A fresh tube with one swab of a resident of `grid`, registered at `site` (directly in storage).
async fn matrix_tube(server: &TestServer, round: i64, site: i64, grid: &str) -> String {
    let person_id = server.fixture.people[grid][0];
    let person = server
        .store
        .person(&Scope::of(server.fixture.area("county")), person_id)
        .await
        .expect("person")
        .expect("a fixture person");
    let n = fresh();
    let code = format!("MXT-{n}");
    let registration = NewRegistration {
        key: format!("0190a5b2-0000-7000-9000-{n:012}"),
        body_hash: 1,
        round,
        site,
        lane: None,
        tube: TubeCode::parse(&code, &TubeFormat::default()).expect("tube code"),
        pool_size: PoolSize::TEN,
        person: person.id,
        person_area_path: person.area_path,
        flags: vec![],
        at: bulwark_testkit::START,
        device_time: None,
        by: NO_ID,
        home: false,
        audit: None,
    };
    server.store.register(registration).await.expect("register");
    code
}

/// A fresh box at a matrix site; with `tube`, a registered tube packed into it (so that it can be
/// sealed).
async fn matrix_box(server: &TestServer, round: i64, site: i64, tube: Option<&str>) -> String {
    let code = BoxCode::parse(&format!("MX-{}", fresh()), &TubeFormat::default()).expect("code");
    let new = NewBox { code: code.clone(), round, site, at: bulwark_testkit::START, by: NO_ID };
    server.store.create_box(new).await.expect("box");
    if let Some(grid) = tube {
        let tube = matrix_tube(server, round, site, grid).await;
        let tube = TubeCode::parse(&tube, &TubeFormat::default()).expect("tube code");
        server.store.pack_tubes(&code, vec![tube], bulwark_testkit::START, NO_ID).await.expect("pack");
    }
    code.to_string()
}

/// The matrix's calls for the transport operations; `None` for any other operation.
pub async fn matrix_cases(server: &TestServer, op: &ApiOp, scope: &Area) -> Option<Vec<Case>> {
    let id = op.operation_id.as_str();
    if !id.starts_with("tubes_seal.box_")
        && !matches!(id, "rounds_read.box" | "rounds_read.boxes" | "rounds_read.overdue_boxes")
    {
        return None;
    }
    let (round, sites) = matrix_scene(server).await;
    let f = &server.fixture;
    let home = home_grid(server, scope);
    let mut grids = vec![(home, "in scope".to_string())];
    grids.extend(foreign_grids(server, scope).into_iter().map(|g| (g, format!("out of scope ({g})"))));
    let case = |path: String, body: Body, variant: String, target: Option<String>, nonexistent: bool| {
        let case = Case::new(op, path, body, variant);
        let case = match target {
            Some(t) => case.at(&t),
            None => case,
        };
        if nonexistent { case.missing() } else { case }
    };
    let mut out = Vec::new();
    match id {
        "rounds_read.boxes" => {
            out.push(case(format!("/api/v1/rounds/{round}/boxes"), Body::Empty, "list".into(), None, false))
        }
        "rounds_read.overdue_boxes" => out.push(case(op.template.clone(), Body::Empty, "list".into(), None, false)),
        "tubes_seal.box_create" => {
            for (g, variant) in grids {
                let body = json!({"code": format!("MX-{}", fresh()), "round": round, "site": sites[g]});
                out.push(case(op.template.clone(), Body::Json(body), variant, Some(f.area(g).path.clone()), false));
            }
            let body = json!({"code": format!("MX-{}", fresh()), "round": round, "site": NO_ID});
            out.push(case(op.template.clone(), Body::Json(body), "nonexistent".into(), None, true));
        }
        _ => {
            let suffix = match id {
                "rounds_read.box" => "",
                "tubes_seal.box_pack" => "/tubes",
                "tubes_seal.box_seal" => "/seal",
                "tubes_seal.box_handover" => "/handovers",
                _ => return None,
            };
            // Every call changes something when it is allowed: a registered tube is packed, a
            // packed box sealed, a box received.
            let body = async |g: &str| match id {
                "tubes_seal.box_pack" => Body::Json(json!({"tubes": [matrix_tube(server, round, sites[g], g).await]})),
                "tubes_seal.box_handover" => Body::Json(json!({"stage": "lab", "name": "矩阵检验员"})),
                _ => Body::Empty,
            };
            for (g, variant) in grids {
                let packed = (id == "tubes_seal.box_seal").then_some(g);
                let code = matrix_box(server, round, sites[g], packed).await;
                let path = format!("/api/v1/boxes/{code}{suffix}");
                out.push(case(path, body(g).await, variant, Some(f.area(g).path.clone()), false));
            }
            let path = format!("/api/v1/boxes/NOBOX-0000{suffix}");
            out.push(case(path, body(home).await, "nonexistent".into(), None, true));
        }
    }
    Some(out)
}

/// The page's POST routes for the CSRF suite, each with a form that succeeds from the page's own
/// origin (for a commander of town one): (template, path, form).
pub async fn csrf_page_targets(server: &TestServer) -> Vec<(&'static str, String, Body)> {
    let (round, sites) = matrix_scene(server).await;
    let site = sites["A"];
    let sealable = matrix_box(server, round, site, Some("A")).await;
    let code = matrix_box(server, round, site, None).await;
    let tube = matrix_tube(server, round, site, "A").await;
    let form = |pairs: Vec<(&str, String)>| Body::Form(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect());
    let r = round.to_string();
    vec![
        (
            "/transport/boxes",
            "/transport/boxes".into(),
            form(vec![("round", r.clone()), ("site", site.to_string()), ("code", format!("MX-{}", fresh()))]),
        ),
        (
            "/transport/pack",
            "/transport/pack".into(),
            form(vec![("round", r.clone()), ("box", code.clone()), ("tubes", tube)]),
        ),
        ("/transport/seal", "/transport/seal".into(), form(vec![("round", r.clone()), ("box", sealable)])),
        (
            "/transport/handover",
            "/transport/handover".into(),
            form(vec![("round", r), ("box", code), ("stage", "lab".into()), ("name", "跨站检验员".into())]),
        ),
    ]
}
