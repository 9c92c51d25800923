//! Reliability §3 (e), CSRF: for every state-changing route — every non-GET operation of the
//! OpenAPI document and every POST page route — a request carrying a valid session cookie but
//! coming from another site (a foreign `Origin`, `Origin: null`, `Sec-Fetch-Site: cross-site` or
//! `same-site`) is refused with 403 and changes nothing (areas, people, accounts, sessions, audit
//! log); the same request from the page's own origin succeeds. A bearer-token request without
//! `Origin` is not subject to the check, and no GET changes anything.
//!
//! Page routes are not in the OpenAPI document: they are listed in `support::PAGE_ROUTES`, and
//! this test fails if a POST route of that list has no case here.

use crate::{
    authorization_matrix::cases,
    support::{
        Agent, Body, Log, PAGE_ROUTES, Reply, api_operations, excerpt, fresh, fresh_account, fresh_grid,
        fresh_id_number, fresh_name, fresh_phone, household, page_login, served_document,
    },
};
use bulwark_app::accounts::token_hash;
use bulwark_domain::access::{Operation, Role, Scope, allows};
use bulwark_store::{AuditQuery, PersonQuery};
use bulwark_testkit::{Engine, PASSWORD, TestServer};
use reqwest::{Method, StatusCode};

/// What a request could change: areas, people, accounts, which of `sessions` are alive and (with
/// `audit`) the audit log's last entry.
async fn state(server: &TestServer, sessions: &[&str], audit: bool) -> String {
    let root = Scope::of(server.fixture.area("county"));
    let areas = server.store.areas_within(&root, true).await.expect("areas");
    let mut people = Vec::new();
    let mut after = None;
    loop {
        let page = server
            .store
            .people(&PersonQuery { within: root.clone(), search: None, after, limit: 500 })
            .await
            .expect("people");
        let Some(last) = page.last() else { break };
        after = Some(last.id);
        people.extend(page);
    }
    let accounts = server.store.accounts(&root).await.expect("accounts");
    // Mass testing: rounds, sites, and per round its figures, door-knocks and the review queue.
    let rounds = server.store.rounds().await.expect("rounds");
    let sites = server.store.sites(&root).await.expect("sites");
    let mut testing = Vec::new();
    for round in &rounds {
        testing.push(format!("{:?}", server.store.progress(round.id).await.expect("progress")));
        testing.push(format!("{:?}", server.store.untested(round.id, &root, None, 10_000).await.expect("untested")));
    }
    testing.push(format!("{:?}", server.store.review_queue(10_000).await.expect("review")));
    // Notifications: which are marked read (their delivery moves on in the background).
    let outbox = server
        .store
        .notifications(&bulwark_store::notify::NotificationQuery::within(root.clone(), 1000))
        .await
        .expect("notifications");
    // By id: the list's order follows delivery, which the dispatcher moves on in the background.
    let mut read: Vec<(i64, Option<i64>)> = outbox.iter().map(|n| (n.id, n.read_at)).collect();
    read.sort_unstable();
    testing.push(format!("{read:?}"));
    // Workforce: posts, shifts, assignments and their check-ins.
    testing.push(format!("{:?}", server.store.roster(&root, 0, i64::MAX / 4).await.expect("roster")));
    // Area leaders.
    testing.push(format!("{:?}", server.store.leaders(&root).await.expect("leaders")));
    let mut alive = Vec::new();
    for s in sessions {
        alive.push(server.store.session(&token_hash(s)).await.expect("session").is_some());
    }
    let last_audit = if audit {
        server
            .store
            .audit_entries(&AuditQuery { limit: 1, ..Default::default() })
            .await
            .expect("audit")
            .first()
            .map(|e| e.seq)
    } else {
        None
    };
    format!("{areas:?}\n{people:?}\n{accounts:?}\n{alive:?}\n{last_audit:?}\n{rounds:?}\n{sites:?}\n{testing:?}")
}

/// A state-changing request to forge.
struct Target {
    name: String,
    method: Method,
    path: String,
    body: Body,
    /// Extra headers every request carries (an Idempotency-Key).
    headers: Vec<(String, String)>,
    /// The session it is sent with.
    cookie: String,
}

fn succeeded(r: &Reply) -> bool {
    r.status.is_success() || r.status == StatusCode::SEE_OTHER
}

async fn csrf(engine: Engine) {
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    let log = Log::default();
    let mut problems = Vec::new();

    let sign_in = |username: &'static str| {
        let server = &server;
        async move {
            let login = page_login(server, username, PASSWORD, None).await;
            assert_eq!(login.status, StatusCode::SEE_OTHER, "page login of {username}");
            login.cookie.expect("a session cookie")
        }
    };
    let commander = sign_in("commander").await;
    let admin = sign_in("admin").await;
    let lab = sign_in("lab").await;
    // Logout ends the session it is sent with; these are spent on the two logout routes.
    let spare_api = sign_in("commander").await;
    let spare_page = sign_in("commander").await;
    let sessions = [commander.as_str(), admin.as_str(), spare_api.as_str(), spare_page.as_str()];

    // Every non-GET operation of the API, with the in-scope body of the authorization matrix.
    let mut targets = Vec::new();
    let commander_scope = f.area("town1").clone();
    for op in api_operations(&served_document(&server).await) {
        if op.method == Method::GET {
            continue;
        }
        let policy = Operation::parse(op.policy_name());
        let cookie = match policy {
            Some(Operation::Logout) => spare_api.clone(),
            Some(p) if !allows(Role::Commander, p) && allows(Role::Admin, p) => admin.clone(),
            Some(p) if !allows(Role::Commander, p) && allows(Role::Lab, p) => lab.clone(),
            _ => commander.clone(),
        };
        let scope = if cookie == admin { f.area("county").clone() } else { commander_scope.clone() };
        let Some(case) = cases(&server, &op, &scope, "commander").await.and_then(|c| c.into_iter().next()) else {
            problems.push(format!("{} {} ({}): no case to forge", op.method, op.template, op.operation_id));
            continue;
        };
        targets.push(Target {
            name: op.operation_id.clone(),
            method: op.method.clone(),
            path: case.path,
            body: case.body,
            headers: case.headers,
            cookie,
        });
    }

    // Every POST page route.
    let n = fresh();
    let (from, into) = (fresh_grid(&server, "village1").await, fresh_grid(&server, "village1").await);
    let victim = fresh_account(&server, &format!("cv{}", fresh()), Role::Sampler, f.area("A")).await;
    let form = |pairs: &[(&str, &str)]| Body::Form(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
    let person = f.people["A"][0];
    // A sampling site for the queue form (mass testing), made directly in storage.
    let site = server
        .store
        .create_site(
            bulwark_domain::testing::NewSite {
                name: "跨站检查采样点".into(),
                area: f.area("village1").id,
                serves: vec![f.area("village1").id],
                hours: bulwark_domain::testing::OpeningHours::ALWAYS,
                lanes: vec![bulwark_domain::testing::NewLane {
                    name: "1号".into(),
                    kind: bulwark_domain::testing::LaneKind::Normal,
                }],
            },
            bulwark_testkit::START,
        )
        .await
        .expect("create a site")
        .id;
    let csv = format!("name,id_number,grid\n{},{},{}\n", fresh_name(n), fresh_id_number(n), f.code("A")).into_bytes();
    let mut page_targets: Vec<(&str, &str, String, Body, &String)> = vec![
        (
            "POST",
            "/areas/{code}/grids",
            format!("/areas/{}/grids", f.code("village1")),
            form(&[("code", &format!("{}-G{}", f.code("village1"), fresh())), ("name", "新网格")]),
            &commander,
        ),
        (
            "POST",
            "/areas/{code}/rename",
            format!("/areas/{}/rename", household(&server, "A")),
            form(&[("name", "1号")]),
            &commander,
        ),
        (
            "POST",
            "/areas/{code}/merge",
            format!("/areas/{}/merge", from.code),
            form(&[("into", into.code.as_str())]),
            &commander,
        ),
        (
            "POST",
            "/areas/{code}/persons",
            format!("/areas/{}/persons", f.code("A")),
            form(&[
                ("name", &fresh_name(n)),
                ("document_type", "resident_id"),
                ("document_number", &fresh_id_number(fresh())),
                ("phone", &fresh_phone(n)),
                ("address", "一号网格"),
                ("household", ""),
                ("other_needs", ""),
            ]),
            &commander,
        ),
        (
            "POST",
            "/persons/{id}",
            format!("/persons/{person}"),
            form(&[("phone", ""), ("address", "新地址"), ("other_needs", "")]),
            &commander,
        ),
        (
            "POST",
            "/persons/{id}/reveal",
            format!("/persons/{person}/reveal"),
            form(&[("reason", "跨站检查")]),
            &commander,
        ),
        ("POST", "/import", "/import".into(), Body::File(csv), &commander),
        (
            "POST",
            "/users",
            "/users".into(),
            form(&[
                ("username", &format!("cu{}", fresh())),
                ("display_name", "新账号"),
                ("role", "sampler"),
                ("scope", &f.code("A")),
                ("password", "csrf-password-1"),
            ]),
            &admin,
        ),
        ("POST", "/users/{id}/disable", format!("/users/{victim}/disable"), Body::Empty, &admin),
        ("POST", "/login", "/login".into(), form(&[("username", "commander"), ("password", PASSWORD)]), &commander),
        (
            "POST",
            "/rounds",
            "/rounds".into(),
            form(&[("name", "跨站检查轮次"), ("areas", &f.code("village1")), ("pool_size", "10")]),
            &commander,
        ),
        ("POST", "/sites/{id}/queue", format!("/sites/{site}/queue"), form(&[("queue_length", "17")]), &commander),
    ];
    for (template, path, body) in crate::transport::csrf_page_targets(&server).await {
        page_targets.push(("POST", template, path, body, &commander));
    }
    for (template, path, body) in crate::command_matrix::csrf_page_targets(&server).await {
        page_targets.push(("POST", template, path, body, &commander));
    }
    for (template, path, body) in crate::rosters::csrf_page_targets(&server).await {
        page_targets.push(("POST", template, path, body, &commander));
    }
    for (template, path, body) in crate::leaders::csrf_page_targets(&server) {
        page_targets.push(("POST", template, path, body, &commander));
    }
    for (_, template, path, body, cookie) in page_targets.iter().cloned() {
        targets.push(Target {
            name: format!("page {template}"),
            method: Method::POST,
            path,
            body,
            headers: vec![],
            cookie: cookie.clone(),
        });
    }
    for (method, template, _) in PAGE_ROUTES {
        if *method == "POST" && *template != "/import/confirm" && !page_targets.iter().any(|t| t.1 == *template) {
            problems.push(format!("page route POST {template}: no case to forge"));
        }
    }
    // Logout goes last, the confirmation of an import after its preview (below).
    targets.push(Target {
        name: "page /logout".into(),
        method: Method::POST,
        path: "/logout".into(),
        body: Body::Empty,
        headers: vec![],
        cookie: spare_page.clone(),
    });
    targets.sort_by_key(|t| t.name.contains("logout"));

    let own = server.url.clone();
    let forgeries: [(&str, &[(&str, &str)]); 4] = [
        ("foreign Origin", &[("origin", "http://evil.example")]),
        ("Origin: null", &[("origin", "null")]),
        ("Sec-Fetch-Site: cross-site", &[("sec-fetch-site", "cross-site")]),
        ("Sec-Fetch-Site: same-site", &[("sec-fetch-site", "same-site")]),
    ];
    let mut routes = 0;
    let mut forged = 0;
    let mut pending_key = None;
    let run = |t: Target| {
        let server = &server;
        let log = &log;
        let own = own.clone();
        async move {
            let mut problems = Vec::new();
            let agent = Agent { cookie: Some(t.cookie.clone()), ..Agent::anonymous(server, log) };
            let with = |extra: &[(&'static str, &str)]| -> Vec<(String, String)> {
                t.headers.iter().cloned().chain(extra.iter().map(|(k, v)| (k.to_string(), v.to_string()))).collect()
            };
            for (label, headers) in forgeries {
                let before = state(server, &sessions, true).await;
                let headers = with(headers);
                let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let r = agent.send(t.method.clone(), &t.path, t.body.clone(), &headers).await;
                if r.status != StatusCode::FORBIDDEN {
                    problems.push(format!(
                        "{} {} with {label}: expected 403, got {} {}",
                        t.method,
                        t.path,
                        r.status,
                        excerpt(&r.text)
                    ));
                }
                if state(server, &sessions, true).await != before {
                    problems.push(format!("{} {} with {label}: the state changed", t.method, t.path));
                }
            }
            let before = state(server, &sessions, true).await;
            let headers = with(&[("origin", own.as_str()), ("sec-fetch-site", "same-origin")]);
            let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let r = agent.send(t.method.clone(), &t.path, t.body.clone(), &headers).await;
            if !succeeded(&r) {
                problems.push(format!(
                    "{} {} ({}) from the own origin: expected success, got {} {}",
                    t.method,
                    t.path,
                    t.name,
                    r.status,
                    excerpt(&r.text)
                ));
            } else if t.name != "page /import" && state(server, &sessions, true).await == before {
                // (The import preview stores nothing until it is confirmed.)
                problems.push(format!(
                    "{} {} ({}) from the own origin: succeeded but changed nothing",
                    t.method, t.path, t.name
                ));
            }
            (problems, r.text)
        }
    };
    for t in targets {
        let is_preview = t.name == "page /import";
        routes += 1;
        forged += forgeries.len();
        let (p, text) = run(t).await;
        problems.extend(p);
        if is_preview {
            pending_key =
                text.split("name=\"key\" value=\"").nth(1).and_then(|s| s.split('"').next()).map(str::to_string);
        }
    }
    match pending_key {
        Some(key) => {
            routes += 1;
            forged += forgeries.len();
            let (p, _) = run(Target {
                name: "page /import/confirm".into(),
                method: Method::POST,
                path: "/import/confirm".into(),
                body: Body::Form(vec![("key".into(), key)]),
                headers: vec![],
                cookie: commander.clone(),
            })
            .await;
            problems.extend(p);
        }
        None => problems.push("the import preview gave no key to confirm".into()),
    }

    // A bearer token without Origin is not a cookie session: no check applies.
    let scanner = Agent::bearer(&server, "commander", &log).await;
    let n = fresh();
    let r = scanner
        .post("/api/v1/persons", serde_json::json!({"name": fresh_name(n), "document_number": fresh_id_number(n), "area": household(&server, "A")}))
        .await;
    if r.status != StatusCode::CREATED {
        problems.push(format!(
            "a bearer-token POST without Origin: expected 201, got {} {}",
            r.status,
            excerpt(&r.text)
        ));
    }

    // No GET changes anything (reads add audit entries; nothing else moves).
    let reader = Agent { cookie: Some(commander.clone()), ..Agent::anonymous(&server, &log) };
    let mut gets: Vec<String> = Vec::new();
    for op in api_operations(&served_document(&server).await) {
        if op.method == Method::GET
            && let Some(c) = cases(&server, &op, &commander_scope, "commander").await.and_then(|c| c.into_iter().next())
        {
            gets.push(c.path);
        }
    }
    gets.extend([
        "/".into(),
        "/login".into(),
        "/areas".into(),
        format!("/areas/{}", f.code("A")),
        format!("/persons/{person}"),
        "/import".into(),
        "/users".into(),
        "/audit".into(),
        "/lang/en".into(),
    ]);
    // The mass-testing pages, on a round made above (the event stream `/rounds/{id}/events` never
    // ends, so it is left out: it reads, and tests of its own cover it).
    let round = server.store.rounds().await.expect("rounds").first().expect("a round made above").id;
    gets.extend([
        "/rounds".into(),
        format!("/rounds/{round}"),
        format!("/rounds/{round}/live"),
        format!("/rounds/{round}/doorknock?area={}", f.code("A")),
        format!("/rounds/{round}/home-visits"),
        format!("/rounds/{round}/abnormal-pools"),
        "/sites".into(),
        "/sites/waits".into(),
        format!("/print/qr?area={}", f.code("A")),
        "/print/tubes?prefix=EP&start=1&count=40".into(),
        "/rosters?date=2022-10-06".into(),
        "/checkin".into(),
    ]);
    for path in &gets {
        let before = state(&server, &sessions[..2], false).await;
        reader.get(path).await;
        if state(&server, &sessions[..2], false).await != before {
            problems.push(format!("GET {path} changed the state"));
        }
    }

    println!(
        "CSRF on {engine:?}: {routes} state-changing routes, {forged} forged requests, {} GET routes, {} problems",
        gets.len(),
        problems.len()
    );
    assert!(problems.is_empty(), "{} problems:\n  {}", problems.len(), problems.join("\n  "));
}

#[tokio::test]
async fn csrf_sqlite() {
    csrf(Engine::Sqlite).await;
}

#[tokio::test]
async fn csrf_postgres() {
    csrf(Engine::Postgres).await;
}
