//! The roster pages through cookie sessions, on both engines: a commander makes a 24-hour
//! checkpoint post from the form, cuts a day into 3 × 8 h shifts, assigns a staff member chosen
//! from the post's staff; the day's roster marks the unfilled shifts and, after the start, the
//! no-show; the grid worker checks in and out on the phone page with its big buttons; the roster
//! is printable and links the export; roles the policy refuses get 403.

use crate::support::{Agent, Body, Log, Reply, excerpt};
use bulwark_domain::workforce::{StaffMember, Team};
use bulwark_testkit::{Engine, TestServer};
use reqwest::{Method, StatusCode};

async fn post_form(agent: &Agent, server: &TestServer, path: &str, pairs: &[(&str, &str)]) -> Reply {
    let form = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    agent.send(Method::POST, path, Body::Form(form), &[("origin", server.url.as_str())]).await
}

fn location(r: &Reply) -> String {
    r.header("location").unwrap_or_default()
}

/// The `data-assignment` ids on a page, in order.
fn assignments(page: &str) -> Vec<i64> {
    page.split("data-assignment=\"").skip(1).filter_map(|s| s.split('"').next()?.parse().ok()).collect()
}

async fn roster_pages(engine: Engine) {
    let server = TestServer::start(engine).await;
    let f = &server.fixture;
    let log = Log::default();
    let person = f.people["A"][0];
    let name = server
        .store
        .person(&bulwark_domain::access::Scope::of(f.area("county")), person)
        .await
        .expect("person")
        .expect("a fixture person")
        .name;
    server.store.add_staff(vec![StaffMember::new(person, Team::Cadre, f.area("A").id)]).await.expect("staff");

    let commander = Agent::cookie(&server, "commander", &log).await;
    let page = commander.get("/rosters?date=2022-10-06").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("id=\"new-post\"") && page.text.contains("id=\"no-posts\""), "{}", excerpt(&page.text));
    assert!(page.text.contains("@media print"), "a print stylesheet");
    assert!(page.text.contains("href=\"/api/v1/rosters/export?date=2022-10-06\""), "the export link");
    assert!(page.text.contains("id=\"nav-rosters\""));

    // A 24-hour post at the highway exit, in grid A.
    let r = post_form(
        &commander,
        &server,
        "/rosters/posts",
        &[
            ("name", "开阳高速圣堂出口卡口"),
            ("kind", "checkpoint"),
            ("duty_guard", "on"),
            ("duty_temperature", "on"),
            ("area", &f.code("A")),
            ("needed", "2"),
        ],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", excerpt(&r.text));
    let post_path = location(&r).split('?').next().unwrap_or_default().to_string();
    assert!(post_path.starts_with("/rosters/posts/"), "{post_path}");
    let r = post_form(
        &commander,
        &server,
        "/rosters/posts",
        &[("name", "x"), ("kind", "tent"), ("area", &f.code("A")), ("needed", "1")],
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("kind"), "the error names the field: {}", excerpt(&r.text));

    let r = post_form(
        &commander,
        &server,
        &format!("{post_path}/shifts"),
        &[("date", "2022-10-06"), ("pattern", "3x8"), ("first_hour", "0")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", excerpt(&r.text));
    let page = commander.get(&format!("{post_path}?date=2022-10-06")).await;
    assert_eq!(page.status, StatusCode::OK);
    for time in ["00:00–08:00", "08:00–16:00", "16:00–00:00"] {
        assert!(page.text.contains(time), "shift {time}: {}", excerpt(&page.text));
    }
    assert!(
        page.text.contains(&format!("<option value=\"{person}\">{name} · 党员干部先锋队</option>")),
        "the staff to choose from"
    );
    let shifts: Vec<i64> =
        page.text.split("data-shift=\"").skip(1).filter_map(|s| s.split('"').next()?.parse().ok()).collect();
    assert_eq!(shifts.len(), 3);
    let r = post_form(
        &commander,
        &server,
        &format!("{post_path}/assign"),
        &[("shift", &shifts[1].to_string()), ("person", &person.to_string()), ("responsibility", "查验健康码和行程卡")],
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", excerpt(&r.text));
    // The same person on the overlapping shift: refused, naming the clash.
    let r = post_form(
        &commander,
        &server,
        &format!("{post_path}/assign"),
        &[("shift", &shifts[1].to_string()), ("person", &person.to_string()), ("responsibility", "测温")],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(r.text.contains("开阳高速圣堂出口卡口"), "{}", excerpt(&r.text));

    // 07:00: the night shift runs with nobody, the 08:00 shift (1 of 2) starts within 2 hours.
    let page = commander.get("/rosters?date=2022-10-06").await;
    assert!(page.text.contains(&name) && page.text.contains("查验健康码和行程卡"));
    assert_eq!(page.text.matches("unfilled-tag").count(), 2, "{}", excerpt(&page.text));
    assert!(page.text.contains("data-attendance=\"upcoming\""));
    assert!(!page.text.contains("class=\"no-show"));
    // 08:20: not checked in 20 minutes after the start: a no-show, marked.
    // (Sessions end after 30 idle minutes: sign in again.)
    server.clock.advance(80 * 60_000);
    let commander = Agent::cookie(&server, "commander", &log).await;
    let page = commander.get("/rosters?date=2022-10-06").await;
    assert!(
        page.text.contains("data-attendance=\"no_show\"") && page.text.contains("class=\"no-show"),
        "{}",
        excerpt(&page.text)
    );
    assert!(page.text.contains("id=\"no-show-count\" class=\"error\""));

    // The grid worker of grid A checks in and out on the phone page.
    let worker = Agent::cookie(&server, "gridworker_a", &log).await;
    let page = worker.get("/checkin").await;
    assert_eq!(page.status, StatusCode::OK);
    let ids = assignments(&page.text);
    assert_eq!(ids.len(), 1, "{}", excerpt(&page.text));
    assert!(page.text.contains("class=\"big in\"") && page.text.contains("签到上岗"));
    let r = post_form(&worker, &server, &format!("/checkin/{}/in", ids[0]), &[]).await;
    assert_eq!((r.status, location(&r).as_str()), (StatusCode::SEE_OTHER, "/checkin?notice=checked_in"));
    let r = post_form(&worker, &server, &format!("/checkin/{}/in", ids[0]), &[]).await;
    assert_eq!(location(&r), "/checkin?notice=repeated", "a second check-in answers the first");
    let page = worker.get("/checkin?notice=checked_in").await;
    assert!(page.text.contains("id=\"notice\"") && page.text.contains("class=\"big out\""));
    assert!(page.text.contains("data-attendance=\"on_post\""));
    let page = commander.get("/rosters?date=2022-10-06").await;
    assert!(!page.text.contains("class=\"no-show"), "checked in: no longer a no-show");
    let r = post_form(&worker, &server, &format!("/checkin/{}/out", ids[0]), &[]).await;
    assert_eq!(location(&r), "/checkin?notice=checked_out");
    // Attendance is kept: the commander cannot remove a checked-in assignment.
    let r = post_form(&commander, &server, &format!("/rosters/assignments/{}/remove", ids[0]), &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // Roles the policy refuses.
    let lab = Agent::cookie(&server, "lab", &log).await;
    assert_eq!(lab.get("/rosters").await.status, StatusCode::FORBIDDEN);
    assert_eq!(lab.get("/checkin").await.status, StatusCode::OK, "labs check in to their posts too");
    let auditor = Agent::cookie(&server, "auditor", &log).await;
    assert_eq!(auditor.get("/checkin").await.status, StatusCode::FORBIDDEN);
    let sampler = Agent::cookie(&server, "sampler", &log).await;
    let r = post_form(
        &sampler,
        &server,
        "/rosters/posts",
        &[("name", "x"), ("kind", "other"), ("duties", "other"), ("area", &f.code("A")), ("needed", "1")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn roster_pages_sqlite() {
    roster_pages(Engine::Sqlite).await;
}

#[tokio::test]
async fn roster_pages_postgres() {
    roster_pages(Engine::Postgres).await;
}
