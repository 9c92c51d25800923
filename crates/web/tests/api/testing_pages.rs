//! The mass-testing pages through cookie sessions, on both engines: each page answers the roles
//! the policy table allows and refuses the others (with one `denied` audit entry per refusal);
//! the live page's figures; the door-knock outcome recorded through the JSON API from the page's
//! own session; the public board of waiting times shows no personal data and needs no session;
//! the QR sheet holds no ID number; the tube-label sheet; the event stream of a round page,
//! which sends an event after a registration, at most one a second, and ends with its session;
//! and the abnormal-pool counts the pages share, which follow at once whatever changes them.

use crate::support::{
    Agent, Body, Log, PersonIndex, Reply, audit_log, canaries_in, excerpt, open_stream, policy_of, read_until,
    sensitive_values,
};
use bulwark_testkit::{Client, Engine, TestServer};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

async fn register(client: &Client, key: u32, body: Value) -> (StatusCode, Value) {
    crate::support::register(client, &format!("0190a5b2-0000-7000-8000-{key:012}"), &body).await
}

/// A same-origin form POST from a page, as a browser sends it.
async fn post_form(agent: &Agent, server: &TestServer, path: &str, pairs: &[(&str, &str)]) -> Reply {
    let form = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    agent.send(Method::POST, path, Body::Form(form), &[("origin", server.url.as_str())]).await
}

fn location(r: &Reply) -> String {
    r.header("location").unwrap_or_default()
}

async fn pages(engine: Engine) {
    let started = Instant::now();
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    let log = Log::default();
    let anonymous = Agent::anonymous(&server, &log);
    let opener = Agent::cookie(&server, "commander", &log).await;
    let commander = &opener;

    // The commander opens a round from the form: two villages offered, village one ticked.
    let page = commander.get("/rounds").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("id=\"new-round\"") && page.text.contains(&f.code("village1")), "the form");
    assert!(!page.text.contains(&f.code("village2")), "only the commander's villages are offered");
    let r = post_form(
        commander,
        &server,
        "/rounds",
        &[("name", "第一轮全员核酸"), ("areas", &f.code("village1")), ("pool_size", "5")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", excerpt(&r.text));
    let round: i64 = location(&r).trim_start_matches("/rounds/").parse().expect("/rounds/{id}");
    let r = post_form(commander, &server, "/rounds", &[("name", "空轮次"), ("pool_size", "10")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "a round needs areas");
    let r =
        post_form(commander, &server, "/rounds", &[("name", "x"), ("areas", &f.code("village1")), ("pool_size", "7")])
            .await;
    assert!(r.status == StatusCode::UNPROCESSABLE_ENTITY && r.text.contains("pool_size"), "{}", excerpt(&r.text));

    // A site, and swabs from the lane: four people of grid A at 07:00, one at 08:00.
    let api = server.login("commander").await;
    let (status, site) = api
        .post(
            "/api/v1/sites",
            json!({"name": "湴朗村委会采样点", "area": f.code("village1"), "hours": "07:00-22:00",
                   "lanes": [{"name": "1号", "kind": "normal"}, {"name": "绿色通道", "kind": "green_channel"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    let site_id = site["id"].as_i64().unwrap();
    let lane = site["lanes"][0]["id"].as_i64().unwrap();
    let sampler = server.login("sampler").await;
    let people_a = &f.people["A"];
    let swab = |tube: &str, person: i64| json!({"round": round, "site": site_id, "lane": lane, "tube": tube, "person": {"person_id": person}});
    for (i, p) in people_a.iter().take(4).enumerate() {
        assert_eq!(register(&sampler, i as u32, swab("EP0000001", *p)).await.0, StatusCode::CREATED);
    }
    server.clock.advance(3_600_000);
    assert_eq!(register(&sampler, 10, swab("EP0000002", people_a[4])).await.0, StatusCode::CREATED);
    // An hour later every cookie session has been idle too long: everyone signs in now.
    assert_eq!(commander.get("/rounds").await.status, StatusCode::SEE_OTHER, "the idle session has ended");
    let mut agents = BTreeMap::new();
    for user in ["commander", "working_group", "gridworker_a", "gridworker_b", "sampler", "checkpoint", "lab", "admin"]
    {
        agents.insert(user, Agent::cookie(&server, user, &log).await);
    }
    let commander = &agents["commander"];

    // The live page: "截至 08:00 已采样 5 人", tubes, the hour chart's data, coverage by area.
    let page = commander.get(&format!("/rounds/{round}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", excerpt(&page.text));
    assert!(page.text.contains("截至 08:00") && page.text.contains("已采样 5 人"), "{}", excerpt(&page.text));
    assert!(page.text.contains("data-n=\"5\""));
    assert!(page.text.contains("id=\"round-live\"") && page.text.contains("/static/progress.js"));
    assert!(page.text.contains("湴朗村委会采样点"), "samples per site");
    assert!(
        page.text.contains(&format!("href=\"/rounds/{round}?area={}\"", f.code("village1"))),
        "a village links to its coverage"
    );
    let hours = page.text.split("data-hours=\"").nth(1).and_then(|s| s.split('"').next()).unwrap_or_default();
    let hours: Value = serde_json::from_str(&hours.replace("&#34;", "\"").replace("&quot;", "\"")).expect("hours JSON");
    assert_eq!(hours[1], json!([4, 1]), "samples per hour: {hours}");
    assert!(!page.text.contains("id=\"abnormal-banner\""), "no abnormal pool yet");
    // A village's page lists its grids, each with its door-knock list.
    let page = commander.get(&format!("/rounds/{round}?area={}", f.code("village1"))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains(&format!("/rounds/{round}/doorknock?area={}", f.code("A"))));
    let row = page.text.split(&format!("data-code=\"{}\"", f.code("A"))).nth(1).unwrap_or_default();
    let row = row.split("</tr>").next().unwrap_or_default();
    assert!(row.contains(">6<") && row.contains(">5<") && row.contains("83.3%"), "grid A: target 6, sampled 5: {row}");
    // In English.
    let english = commander.send(Method::GET, &format!("/rounds/{round}"), Body::Empty, &[("cookie", "lang=en")]).await;
    assert!(english.text.contains("5 people sampled"), "{}", excerpt(&english.text));

    // The grid worker's door-knock list: her one unsampled resident, masked, with the buttons.
    let worker = &agents["gridworker_a"];
    let knock_page = format!("/rounds/{round}/doorknock?area={}", f.code("A"));
    let page = worker.get(&knock_page).await;
    assert_eq!(page.status, StatusCode::OK, "{}", excerpt(&page.text));
    assert_eq!(page.text.matches("class=\"resident\"").count(), 1, "one resident left");
    assert!(page.text.contains(&format!("data-person=\"{}\"", people_a[5])));
    assert!(page.text.contains("data-outcome=\"cannot_walk\"") && page.text.contains("行动不便→上门"));
    assert!(canaries_in(&server, &page.text).is_empty() && sensitive_values(&page.text).is_empty(), "masked");
    // Her outcome goes to the JSON API from the page's session; the list then shows it.
    let r = worker
        .send(
            Method::POST,
            &format!("/api/v1/rounds/{round}/door-knocks"),
            Body::Json(json!({"person_id": people_a[5], "outcome": "away_from_town"})),
            &[("origin", server.url.as_str()), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let page = worker.get(&knock_page).await;
    assert!(page.text.contains("data-knock=\"away_from_town\"") && page.text.contains(">外出<"), "the outcome stays");
    assert!(page.text.contains("id=\"cov-target\">5<"), "away: out of the target: {}", excerpt(&page.text));
    // Her village narrows to her grid.
    let page = worker.get(&format!("/rounds/{round}/doorknock?area={}", f.code("village1"))).await;
    assert_eq!(page.status, StatusCode::OK, "{}", excerpt(&page.text));

    // Home visits: the elderly resident who cannot walk (grid A's first household) was sampled;
    // grid B's is on the list, with the way to the scan page in home mode.
    let page = commander.get(&format!("/rounds/{round}/home-visits")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", excerpt(&page.text));
    assert!(
        page.text.contains(&format!("/scan?round={round}&amp;home=1&amp;area={}", f.code("B"))),
        "{}",
        excerpt(&page.text)
    );
    assert!(page.text.contains("data-reason=\"cannot_walk\""));
    assert!(canaries_in(&server, &page.text).is_empty() && sensitive_values(&page.text).is_empty(), "masked");

    // An abnormal pool: the red banner on the round page, the members on their page.
    let lab = server.login("lab").await;
    let (status, report) = lab.post("/api/v1/lab-results", json!([{"tube": "EP0000001", "result": "可疑"}])).await;
    assert_eq!((status, report["abnormal"].clone()), (StatusCode::OK, json!(["EP0000001"])), "{report}");
    assert_eq!(register(&sampler, 11, swab("EP0000001", f.people["B"][0])).await.0, StatusCode::CREATED);
    let page = commander.get(&format!("/rounds/{round}")).await;
    assert!(
        page.text.contains("id=\"abnormal-banner\"") && page.text.contains(&format!("/rounds/{round}/abnormal-pools"))
    );
    let page = commander.get(&format!("/rounds/{round}/abnormal-pools")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", excerpt(&page.text));
    assert!(page.text.contains("data-tube=\"EP0000001\"") && page.text.contains("管控中"), "{}", excerpt(&page.text));
    assert_eq!(page.text.matches("<tr data-person=").count(), 5, "four members and one late registration");
    assert_eq!(page.text.matches("class=\"late\"").count(), 1, "the late one is marked");
    assert!(page.text.contains("一号网格") && page.text.contains("139****"), "grid and masked phone");
    assert!(canaries_in(&server, &page.text).is_empty() && sensitive_values(&page.text).is_empty(), "masked");

    // Sites: lanes, throughput, and the queue form; the public board then has a wait.
    let page = commander.get("/sites").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("湴朗村委会采样点") && page.text.contains(&format!("action=\"/sites/{site_id}/queue\""))
    );
    let r = post_form(commander, &server, &format!("/sites/{site_id}/queue"), &[("queue_length", "3")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", excerpt(&r.text));
    let r = post_form(commander, &server, &format!("/sites/{site_id}/queue"), &[("queue_length", "-1")]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = agents["checkpoint"].get("/sites").await;
    assert!(page.status == StatusCode::OK && !page.text.contains("queue_length"), "checkpoints read, without the form");

    // The public board: no session, nothing about anyone.
    let board = anonymous.get("/sites/waits").await;
    assert_eq!(board.status, StatusCode::OK, "{}", excerpt(&board.text));
    assert!(board.text.contains("湴朗村委会采样点") && board.text.contains("已开放"), "{}", excerpt(&board.text));
    // 3 queuing, 2 sampled in the last 15 minutes: 3 / (2 / 15) = 22.5 minutes.
    assert!(board.text.contains("预计等候约 23 分钟"), "{}", excerpt(&board.text));
    assert!(board.text.contains("http-equiv=\"refresh\" content=\"60\""));
    assert_no_personal_data(&server, &board.text, "the public board").await;
    assert!(!board.text.contains("第一轮全员核酸") && !board.text.contains("id=\"logout\""), "nothing else");

    // The QR sheet: names and addresses, tokens in the codes, no ID number.
    let sheet = worker.get(&format!("/print/qr?area={}", f.code("A"))).await;
    assert_eq!(sheet.status, StatusCode::OK, "{}", excerpt(&sheet.text));
    assert_eq!(sheet.text.matches("class=\"qr-cell\"").count(), 6);
    assert_eq!(sheet.text.matches("<svg xmlns").count(), 6);
    assert!(sheet.text.contains("测试A10") && sheet.text.contains("一号网格1号"), "names and addresses");
    for (id, (number, _)) in &f.canaries {
        assert!(!sheet.text.contains(number.as_str()), "the QR sheet shows the ID number of person {id}");
    }
    assert!(!sheet.text.contains("********"), "not even masked");
    assert!(sensitive_values(&sheet.text).is_empty());

    // Tube labels: 100 codes, 40 a page.
    let sheet = commander.get("/print/tubes?prefix=EP&start=1&count=100").await;
    assert_eq!(sheet.status, StatusCode::OK, "{}", excerpt(&sheet.text));
    assert_eq!(sheet.text.matches("class=\"tube-label\"").count(), 100);
    assert_eq!(sheet.text.matches("class=\"sheet label-sheet\"").count(), 3);
    assert!(sheet.text.contains(">EP000001</text>") && sheet.text.contains(">EP000100</text>"));
    for bad in ["prefix=e%20p", "count=0", "count=5000", "start=abc", "prefix=EP&start=999999&count=2"] {
        let r = commander.get(&format!("/print/tubes?{bad}")).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", excerpt(&r.text));
    }

    // Every page for the roles the policy allows, and refused to the others.
    let a = f.code("A");
    let b = f.code("B");
    let cases: Vec<(String, &[&str], &[&str])> = vec![
        ("/rounds".into(), &["commander", "working_group", "gridworker_a", "sampler", "lab"], &["checkpoint", "admin"]),
        (
            format!("/rounds/{round}"),
            &["commander", "working_group", "gridworker_a", "sampler", "lab"],
            &["checkpoint", "admin"],
        ),
        (format!("/rounds/{round}/live"), &["commander", "gridworker_a", "lab"], &["checkpoint", "admin"]),
        (format!("/rounds/{round}?area={b}"), &["commander", "gridworker_b"], &["gridworker_a"]),
        (
            format!("/rounds/{round}/doorknock?area={a}"),
            &["commander", "working_group", "gridworker_a"],
            &["gridworker_b", "sampler", "lab", "checkpoint", "admin"],
        ),
        (
            format!("/rounds/{round}/home-visits?area={a}"),
            &["commander", "gridworker_a", "sampler"],
            &["gridworker_b", "lab", "checkpoint", "admin"],
        ),
        (
            format!("/rounds/{round}/abnormal-pools"),
            &["commander", "working_group", "gridworker_a", "gridworker_b"],
            &["sampler", "lab", "checkpoint", "admin"],
        ),
        ("/sites".into(), &["commander", "gridworker_a", "sampler", "checkpoint", "lab"], &["admin"]),
        (
            format!("/print/qr?area={a}"),
            &["commander", "working_group", "gridworker_a"],
            &["gridworker_b", "sampler", "lab", "admin"],
        ),
        ("/print/tubes?count=4".into(), &["commander", "gridworker_a"], &["sampler", "lab", "admin"]),
    ];
    let mut problems = Vec::new();
    for (path, allowed, refused) in &cases {
        for user in *allowed {
            let r = agents[user].get(path).await;
            if r.status != StatusCode::OK {
                problems.push(format!("{user} GET {path}: expected 200, got {} {}", r.status, excerpt(&r.text)));
            }
        }
        for user in *refused {
            let r = agents[user].get(path).await;
            if r.status != StatusCode::FORBIDDEN {
                problems.push(format!("{user} GET {path}: expected 403, got {} {}", r.status, excerpt(&r.text)));
            }
        }
        let r = anonymous.get(path).await;
        if r.status != StatusCode::SEE_OTHER || location(&r) != "/login" {
            problems.push(format!("anonymous GET {path}: expected a redirect to /login, got {}", r.status));
        }
    }
    for (user, path, pairs) in [
        ("gridworker_a", "/rounds".to_string(), vec![("name", "越权"), ("areas", a.as_str())]),
        ("lab", format!("/sites/{site_id}/queue"), vec![("queue_length", "9")]),
        ("commander_two", format!("/sites/{site_id}/queue"), vec![("queue_length", "9")]),
    ] {
        let agent = match agents.get(user) {
            Some(agent) => agent.clone(),
            None => Agent::cookie(&server, user, &log).await,
        };
        let r = post_form(&agent, &server, &path, &pairs).await;
        if r.status != StatusCode::FORBIDDEN {
            problems.push(format!("{user} POST {path}: expected 403, got {} {}", r.status, excerpt(&r.text)));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n  {}", problems.len(), problems.join("\n  "));

    // One `denied` audit entry for each refusal, under the operation the route checks.
    let ops = crate::support::api_operations(&crate::support::served_document(&server).await);
    let mut refused: BTreeMap<(String, String), usize> = BTreeMap::new();
    for x in log.exchanges().iter().filter(|x| x.status == StatusCode::FORBIDDEN) {
        let op =
            policy_of(&ops, &x.method, x.route()).unwrap_or_else(|| panic!("a 403 on an unknown route {}", x.path));
        *refused.entry((x.agent.clone(), op)).or_default() += 1;
    }
    let auditor = Agent::bearer(&server, "auditor", &Log::default()).await;
    let mut denied: BTreeMap<(String, String), usize> = BTreeMap::new();
    for e in audit_log(&auditor).await.iter().filter(|e| e["outcome"] == "denied") {
        let key = (
            e["username"].as_str().unwrap_or_default().to_string(),
            e["operation"].as_str().unwrap_or_default().to_string(),
        );
        *denied.entry(key).or_default() += 1;
    }
    assert_eq!(refused, denied, "refusals and denied audit entries");
    eprintln!("testing pages on {engine:?}: {} exchanges in {:?}", log.exchanges().len(), started.elapsed());
}

/// No fixture person's name, full ID number or phone, and no full ID number or phone at all.
async fn assert_no_personal_data(server: &TestServer, text: &str, what: &str) {
    let index = PersonIndex::load(server).await;
    assert!(index.persons_in(text).is_empty(), "{what} names people: {:?}", index.persons_in(text));
    assert!(canaries_in(server, text).is_empty(), "{what} shows canaries");
    assert!(sensitive_values(text).is_empty(), "{what} shows {:?}", sensitive_values(text));
    assert!(!text.contains("****"), "{what} shows masked values");
}

#[tokio::test]
async fn testing_pages_sqlite() {
    pages(Engine::Sqlite).await;
}

#[tokio::test]
async fn testing_pages_postgres() {
    pages(Engine::Postgres).await;
}

/// The event stream of a round's page: refused without a session or the right role; an event
/// after a registration; a burst coalesced to at most one event a second; ends after sign-out.
async fn events(engine: Engine) {
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    let log = Log::default();
    let api = server.login("commander").await;
    let (status, round) =
        api.post("/api/v1/rounds", json!({"name": "第二轮", "areas": [f.code("village1")], "pool_size": 20})).await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let round = round["id"].as_i64().unwrap();
    let (_, site) = api
        .post("/api/v1/sites", json!({"name": "二号采样点", "area": f.code("village1"), "lanes": [{"name": "1号"}]}))
        .await;
    let site = site["id"].as_i64().unwrap();
    let sampler = server.login("sampler").await;
    let swab = |n: usize| {
        let people: Vec<i64> = f.people["A"].iter().chain(&f.people["B"]).copied().collect();
        json!({"round": round, "site": site, "tube": "EP0000100", "person": {"person_id": people[n]}})
    };

    let path = format!("/rounds/{round}/events");
    let anonymous = Agent::anonymous(&server, &log).get(&path).await;
    assert_eq!((anonymous.status, location(&anonymous)), (StatusCode::SEE_OTHER, "/login".into()));
    let checkpoint = Agent::cookie(&server, "checkpoint", &log).await.get(&path).await;
    assert_eq!(checkpoint.status, StatusCode::FORBIDDEN);
    let missing = Agent::cookie(&server, "commander", &log).await.get("/rounds/987654321/events").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let commander = Agent::cookie(&server, "commander", &log).await;
    let mut stream = open_stream(&server, &commander, &path).await;
    let mut seen = String::new();

    // One registration: one event, within a second or so.
    let t = Instant::now();
    assert_eq!(register(&sampler, 1, swab(0)).await.0, StatusCode::CREATED);
    assert!(read_until(&mut stream, &mut seen, "event: progress", Duration::from_secs(5)).await, "no event: {seen:?}");
    assert!(seen.contains(&format!("data: {round}")), "{seen:?}");
    assert!(!seen.contains("测试"), "no personal data in events");
    eprintln!("first event {:?} after the registration", t.elapsed());

    // Another round's registrations say nothing here.
    let (_, other) = api.post("/api/v1/rounds", json!({"name": "别的轮次", "areas": [f.code("village1")]})).await;
    let other = other["id"].as_i64().unwrap();
    let other_swab =
        json!({"round": other, "site": site, "tube": "EP0000200", "person": {"person_id": f.people["A"][0]}});
    assert_eq!(register(&sampler, 50, other_swab).await.0, StatusCode::CREATED);

    // A burst of ten: events at least a second apart (arrival times, measured here).
    seen.clear();
    let burst = Instant::now();
    for n in 1..=10 {
        assert_eq!(register(&sampler, 1 + n as u32, swab(n)).await.0, StatusCode::CREATED);
    }
    let sent = burst.elapsed();
    let mut arrivals = Vec::new();
    let until = tokio::time::Instant::now() + sent + Duration::from_millis(2_500);
    while let Ok(Ok(Some(bytes))) = tokio::time::timeout_at(until, stream.chunk()).await {
        let text = String::from_utf8_lossy(&bytes).to_string();
        for _ in 0..text.matches("event: ").count() {
            arrivals.push(burst.elapsed());
        }
        seen.push_str(&text);
    }
    assert!(!arrivals.is_empty(), "the burst made no event: {seen:?}");
    assert!(seen.matches(&format!("data: {other}")).count() == 0, "another round's event: {seen:?}");
    for pair in arrivals.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_millis(800), "events closer than a second: {arrivals:?}");
    }
    let bound = sent.as_secs_f64().ceil() as usize + 3;
    assert!(arrivals.len() <= bound, "{} events for 10 registrations in {sent:?}: {arrivals:?}", arrivals.len());
    eprintln!("burst of 10 registrations in {sent:?}: {} events at {arrivals:?}", arrivals.len());

    // Signed out: the next event ends the stream instead of being sent.
    let r = commander.send(Method::POST, "/logout", Body::Empty, &[("origin", server.url.as_str())]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    seen.clear();
    assert_eq!(register(&sampler, 30, swab(11)).await.0, StatusCode::CREATED);
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.chunk()).await {
            Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Ok(None)) | Ok(Err(_)) => break true,
            Err(_) => break false,
        }
    };
    assert!(ended && !seen.contains("event:"), "the stream outlived its session: {seen:?}");
}

#[tokio::test]
async fn round_events_sqlite() {
    events(Engine::Sqlite).await;
}

#[tokio::test]
async fn round_events_postgres() {
    events(Engine::Postgres).await;
}

/// The abnormal-pool counts behind the round page's banner and the dashboard are shared between
/// pages for a moment, yet whatever changes them shows at once (the test server's clock stands
/// still, so nothing here expires by age): a new abnormal pool; a late registration into the
/// pool, which brings it into another grid's view; the re-tests' results, which release it and
/// tell open pages that the round's figures changed. A member swabbed into a single tube again
/// leaves the released pool released; a member it did not have, arriving late, opens it again.
async fn abnormal_counts(engine: Engine) {
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    let log = Log::default();
    let api = server.login("commander").await;
    let (status, round) =
        api.post("/api/v1/rounds", json!({"name": "第三轮", "areas": [f.code("village1")], "pool_size": 5})).await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let round = round["id"].as_i64().unwrap();
    let (_, site) = api
        .post("/api/v1/sites", json!({"name": "三号采样点", "area": f.code("village1"), "lanes": [{"name": "1号"}]}))
        .await;
    let site = site["id"].as_i64().unwrap();
    let sampler = server.login("sampler").await;
    let lab = server.login("lab").await;
    let swab = |tube: &str, person: i64, pool: u8| json!({"round": round, "site": site, "tube": tube, "person": {"person_id": person}, "pool_size": pool});
    let members: Vec<i64> = f.people["A"].iter().take(4).copied().chain([f.people["B"][0]]).collect();
    for (i, p) in members.iter().take(4).enumerate() {
        assert_eq!(register(&sampler, i as u32, swab("EP0000301", *p, 5)).await.0, StatusCode::CREATED);
    }
    let incident = crate::command::activate(&api).await["id"].as_i64().unwrap();
    let dashboard = || async {
        let (status, d) = api.get(&format!("/api/v1/incidents/{incident}/dashboard")).await;
        assert_eq!(status, StatusCode::OK, "{d}");
        (d["testing"]["abnormal_pools"].as_u64(), d["testing"]["abnormal_pools_open"].as_u64())
    };
    let commander = Agent::cookie(&server, "commander", &log).await;
    let grid_b = Agent::cookie(&server, "gridworker_b", &log).await;
    let live = format!("/rounds/{round}/live");
    let banner = |agent: &Agent| {
        let agent = agent.clone();
        let live = live.clone();
        async move {
            let page = agent.get(&live).await;
            assert_eq!(page.status, StatusCode::OK, "{}", excerpt(&page.text));
            page.text.split("id=\"abnormal-banner\">").nth(1).and_then(|s| s.split("</p>").next()).map(str::to_string)
        }
    };
    assert_eq!((banner(&commander).await, banner(&grid_b).await), (None, None), "no abnormal pool yet");
    assert_eq!(dashboard().await, (Some(0), Some(0)));

    // The pool turns abnormal: the commander's banner and dashboard at once; grid B has nobody in it.
    let (status, report) = lab.post("/api/v1/lab-results", json!([{"tube": "EP0000301", "result": "可疑"}])).await;
    assert_eq!((status, report["abnormal"].clone()), (StatusCode::OK, json!(["EP0000301"])), "{report}");
    let seen = banner(&commander).await.unwrap_or_default();
    assert!(seen.contains("本轮有 1 个异常混管") && seen.contains("其中 1 个尚未解除管控"), "{seen}");
    assert_eq!(dashboard().await, (Some(1), Some(1)));
    assert_eq!(banner(&grid_b).await, None, "grid B has no member in the pool");

    // A late swab of a grid B resident into the pool: grid B sees the pool at once.
    assert_eq!(register(&sampler, 10, swab("EP0000301", members[4], 5)).await.0, StatusCode::CREATED);
    let seen = banner(&grid_b).await.unwrap_or_default();
    assert!(seen.contains("本轮有 1 个异常混管"), "the late member brings the pool into grid B: {seen}");

    // Single-tube re-tests a minute later (a re-test is one registered after the pool's result),
    // all negative: the pool is released, and open pages are told. The banner is read after the
    // re-tests, so that what it shows last was read after the clock moved.
    server.clock.advance(60_000);
    for (i, p) in members.iter().enumerate() {
        let tube = format!("EP000040{i}");
        assert_eq!(register(&sampler, 20 + i as u32, swab(&tube, *p, 1)).await.0, StatusCode::CREATED);
    }
    assert!(banner(&commander).await.unwrap_or_default().contains("其中 1 个"), "re-sampling: still open");
    let mut stream = open_stream(&server, &commander, &format!("/rounds/{round}/events")).await;
    let negatives: Vec<Value> =
        (0..members.len()).map(|i| json!({"tube": format!("EP000040{i}"), "result": "阴性"})).collect();
    let (status, report) = lab.post("/api/v1/lab-results", json!(negatives)).await;
    assert_eq!((status, report["applied"].clone()), (StatusCode::OK, json!(5)), "{report}");
    let mut events = String::new();
    assert!(
        read_until(&mut stream, &mut events, "event: progress", Duration::from_secs(5)).await,
        "results change the round's figures: the page is told ({events:?})"
    );
    assert!(events.contains(&format!("data: {round}")), "{events:?}");
    let seen = banner(&commander).await.unwrap_or_default();
    assert!(seen.contains("本轮有 1 个异常混管") && !seen.contains("其中"), "released at once: {seen}");
    assert_eq!(dashboard().await, (Some(1), Some(0)));

    // A cleared member swabbed into a single tube once more (a daily test): the pool stays
    // released, on the list, the banner and the dashboard alike.
    assert_eq!(register(&sampler, 30, swab("EP0000410", members[0], 1)).await.0, StatusCode::CREATED);
    let (status, pools) = api.get(&format!("/api/v1/rounds/{round}/abnormal-pools")).await;
    assert_eq!(status, StatusCode::OK, "{pools}");
    assert_eq!(pools[0]["state"], "released", "{pools}");
    let seen = banner(&commander).await.unwrap_or_default();
    assert!(seen.contains("本轮有 1 个异常混管") && !seen.contains("其中"), "still released: {seen}");
    assert_eq!(dashboard().await, (Some(1), Some(0)));

    // A member the pool did not have arrives late (a scan that waited offline): she was in the
    // pool and has no re-test, so it is open again, at once.
    assert_eq!(register(&sampler, 31, swab("EP0000301", f.people["A"][4], 5)).await.0, StatusCode::CREATED);
    let seen = banner(&commander).await.unwrap_or_default();
    assert!(seen.contains("其中 1 个尚未解除管控"), "the late member is held: {seen}");
    assert_eq!(dashboard().await, (Some(1), Some(1)));
}

#[tokio::test]
async fn abnormal_counts_sqlite() {
    abnormal_counts(Engine::Sqlite).await;
}

#[tokio::test]
async fn abnormal_counts_postgres() {
    abnormal_counts(Engine::Postgres).await;
}

/// A round page left open does not hold up the server's graceful shutdown: its event stream
/// ends when the server is told to stop.
#[tokio::test]
async fn open_round_pages_do_not_hold_up_shutdown() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn bulwark_store::Store> =
        Arc::new(bulwark_sqlite::SqliteStore::open(&dir.path().join("bulwark.db")).expect("open SQLite"));
    let fixture = bulwark_testkit::Fixture::load(store.as_ref(), bulwark_testkit::START).await;
    let clock = Arc::new(bulwark_web::clock::ManualClock::new(bulwark_testkit::START));
    let state = bulwark_web::AppState::new(store, clock);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(bulwark_web::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let client = Client { base: url.clone(), token: None, http: reqwest::Client::new() };
    let (status, login) = client
        .post("/api/v1/auth/login", json!({"username": "commander", "password": bulwark_testkit::PASSWORD}))
        .await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let client = Client { token: login["token"].as_str().map(str::to_string), ..client };
    let (status, round) =
        client.post("/api/v1/rounds", json!({"name": "关机检查", "areas": [fixture.code("village1")]})).await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let mut stream =
        client.request(Method::GET, &format!("/rounds/{}/events", round["id"])).send().await.expect("the stream opens");
    assert_eq!(stream.status(), StatusCode::OK);

    stop.send(()).expect("the server listens for the stop");
    let finished = tokio::time::timeout(Duration::from_secs(5), server).await;
    assert!(finished.is_ok(), "the server did not stop within 5 s while a round page was open");
    let end = tokio::time::timeout(Duration::from_secs(1), stream.chunk()).await;
    assert!(matches!(end, Ok(Ok(None)) | Ok(Err(_))), "the stream did not end: {end:?}");
}

/// The review queue page: a result for an unknown tube and a person swabbed twice in the round
/// (kept, flagged) are listed for the commander and the lab; a grid worker may not open it.
async fn review_page(engine: Engine) {
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    let api = server.login("commander").await;
    let (status, round) =
        api.post("/api/v1/rounds", json!({"name": "第一轮", "areas": [f.code("village1")], "pool_size": 5})).await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let (status, site) = api
        .post(
            "/api/v1/sites",
            json!({"name": "采样点", "area": f.code("village1"), "hours": "00:00-24:00", "lanes": [{"name": "1号", "kind": "normal"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    let sampler = server.login("sampler").await;
    let person = f.people["A"][0];
    for (key, tube) in [(900, "EP0000801"), (901, "EP0000802")] {
        let body = json!({"round": round["id"], "site": site["id"], "lane": site["lanes"][0]["id"], "tube": tube,
            "person": {"person_id": person}});
        assert_eq!(register(&sampler, key, body).await.0, StatusCode::CREATED);
    }
    let lab = server.login("lab").await;
    let (status, report) = lab.post("/api/v1/lab-results", json!([{"tube": "EP9999901", "result": "阳性"}])).await;
    assert_eq!(status, StatusCode::OK, "{report}");

    let log = Log::default();
    let commander = Agent::cookie(&server, "commander", &log).await;
    let page = commander.get(&format!("/review?round={}", round["id"])).await;
    assert_eq!(page.status, StatusCode::OK, "{}", excerpt(&page.text));
    assert!(
        page.text.contains("EP9999901") && page.text.contains("未知管码") && page.text.contains("阳性"),
        "{}",
        page.text
    );
    assert!(page.text.contains("EP0000802") && page.text.contains("同轮重复"), "{}", page.text);
    assert!(page.text.contains(&format!("href=\"/persons/{person}\"")));
    assert_no_personal_data(&server, &page.text, "the review page").await;
    let live = commander.get(&format!("/rounds/{}", round["id"])).await;
    assert!(live.text.contains("id=\"review-link\""), "the round page links to it");
    let lab_page = Agent::cookie(&server, "lab", &log).await.get("/review").await;
    assert!(lab_page.status == StatusCode::OK && lab_page.text.contains("EP9999901"));
    let worker = Agent::cookie(&server, "gridworker_a", &log).await.get("/review").await;
    assert_eq!(worker.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn review_page_sqlite() {
    review_page(Engine::Sqlite).await;
}

#[tokio::test]
async fn review_page_postgres() {
    review_page(Engine::Postgres).await;
}
