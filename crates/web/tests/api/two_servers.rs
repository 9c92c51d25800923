//! Two servers on one PostgreSQL database, as a deployment behind a load balancer runs them:
//! what one server's writes change reaches the pages open on the other, and the other reads its
//! shared abnormal-pool counts again at once (each server's clock stands still here, so nothing
//! expires by age); a server whose listening connection was cut listens again and reads every
//! shared count afresh, since it may have missed news of them; an in-app notification pops up
//! on a page whichever server it is open on; failed logins on one server count on the other; and
//! a session ended on one server ends on the other at once.

use crate::support::{Agent, Log, open_stream, read_until};
use bulwark_app::notify::{self, NotifyConfig};
use bulwark_domain::{
    access::Username,
    notify::{Address, DedupKey, NewNotification, Recipient},
};
use bulwark_testkit::{Client, Engine, Fixture, PASSWORD, START, TestServer};
use reqwest::StatusCode;
use serde_json::json;
use std::time::Duration;

const LOGIN: &str = "/api/v1/auth/login";

/// A round over village 1 with a site there, created by `api`: (round, site).
async fn round_with_site(api: &Client, f: &Fixture, name: &str) -> (i64, i64) {
    let (status, round) =
        api.post("/api/v1/rounds", json!({"name": name, "areas": [f.code("village1")], "pool_size": 5})).await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let site = json!({"name": format!("{name}采样点"), "area": f.code("village1"), "lanes": [{"name": "1号"}]});
    let (status, site) = api.post("/api/v1/sites", site).await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    (round["id"].as_i64().expect("a round"), site["id"].as_i64().expect("a site"))
}

/// An in-app notification to the commander, `key` saying `text`.
async fn note_to_commander(server: &TestServer, key: &str, text: &str) -> NewNotification {
    let username = Username::parse("commander").expect("a username");
    let account = server.store.account_by_username(&username).await.unwrap().expect("the commander").0.id;
    let key = DedupKey::parse(key).expect("a key");
    let area = server.fixture.area("town1").id;
    NewNotification::new(key, Recipient::Account(account), Address::InApp(account), area, "通知", text)
        .expect("a notification")
}

/// The abnormal-pool banner of the round's page as `agent` sees it, if there is one.
async fn banner(agent: &Agent, round: i64) -> Option<String> {
    let page = agent.get(&format!("/rounds/{round}/live")).await;
    assert_eq!(page.status, StatusCode::OK);
    page.text.split("id=\"abnormal-banner\">").nth(1).and_then(|s| s.split("</p>").next()).map(str::to_string)
}

#[tokio::test]
async fn pages_on_one_server_hear_the_other_servers_writes() {
    let a = TestServer::start(Engine::Postgres).await;
    let b = a.another().await;
    let f = &a.fixture;
    let log = Log::default();
    let api = a.login("commander").await;
    let (round, site) = round_with_site(&api, f, "第四轮").await;
    let sampler = a.login("sampler").await;
    let lab = a.login("lab").await;

    // The commander's round page is open on server B.
    let commander_b = Agent::cookie(&b, "commander", &log).await;
    let mut stream = open_stream(&b, &commander_b, &format!("/rounds/{round}/events")).await;
    assert_eq!(banner(&commander_b, round).await, None, "no abnormal pool yet (and B now holds that count)");
    // The round's creation on A is an event too, which may reach B just after the stream opened:
    // let it pass, so that what is heard next is the registration's.
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "event:", Duration::from_millis(600)).await;
    seen.clear();

    // A registration on server A: B's page is told.
    for (i, person) in f.people["A"].iter().take(3).enumerate() {
        let body = json!({"round": round, "site": site, "tube": "EP0000501", "person": {"person_id": person}});
        let key = format!("0190a5b2-0000-7000-8000-{:012}", 500 + i);
        assert_eq!(crate::support::register(&sampler, &key, &body).await.0, StatusCode::CREATED);
    }
    assert!(
        read_until(&mut stream, &mut seen, "event: progress", Duration::from_secs(5)).await,
        "B's page hears A's registration: {seen:?}"
    );

    // The pool turns abnormal on server A: B's page is told, and B's banner shows it at once
    // although B read its counts a moment ago.
    let (status, report) = lab.post("/api/v1/lab-results", json!([{"tube": "EP0000501", "result": "阳性"}])).await;
    assert_eq!((status, report["abnormal"].clone()), (StatusCode::OK, json!(["EP0000501"])), "{report}");
    seen.clear();
    assert!(
        read_until(&mut stream, &mut seen, "event: abnormal", Duration::from_secs(5)).await,
        "B's page hears A's abnormal pool: {seen:?}"
    );
    let shown = banner(&commander_b, round).await.unwrap_or_default();
    assert!(shown.contains("本轮有 1 个异常混管") && shown.contains("其中 1 个尚未解除管控"), "{shown}");

    // The incident board open on server B follows an incident activated on server A.
    let incident = crate::command::activate(&api).await["id"].as_i64().unwrap();
    let mut board = open_stream(&b, &commander_b, &format!("/incidents/{incident}/events")).await;
    let (status, _) = api.post(&format!("/api/v1/incidents/{incident}/timeline"), json!({"text": "B 也能看到"})).await;
    assert!(status.is_success(), "{status}");
    let mut seen = String::new();
    assert!(
        read_until(&mut board, &mut seen, "event: change", Duration::from_secs(5)).await,
        "B's board hears A's timeline entry: {seen:?}"
    );
    drop(b);
}

/// The listening connection of every server on the database is cut (a PostgreSQL restart, a
/// network blip): a result applied meanwhile is news that server B never hears, so B, once it
/// listens again, reads its counts afresh; and it hears what comes next.
#[tokio::test]
async fn a_server_that_listens_again_reads_its_counts_afresh() {
    let a = TestServer::start(Engine::Postgres).await;
    let b = a.another().await;
    let f = &a.fixture;
    let log = Log::default();
    let api = a.login("commander").await;
    let (round, site) = round_with_site(&api, f, "第五轮").await;
    let sampler = a.login("sampler").await;
    let swab = |i: usize, tube: &str| {
        let body = json!({"round": round, "site": site, "tube": tube, "person": {"person_id": f.people["A"][i]}});
        (format!("0190a5b2-0000-7000-8000-{:012}", 600 + i), body)
    };
    for i in 0..2 {
        let (key, body) = swab(i, "EP0000601");
        assert_eq!(crate::support::register(&sampler, &key, &body).await.0, StatusCode::CREATED);
    }
    let commander_b = Agent::cookie(&b, "commander", &log).await;
    assert_eq!(banner(&commander_b, round).await, None, "B holds a count of none");

    a.raw
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE datname = current_database() AND query = 'LISTEN bulwark_events' AND pid <> pg_backend_pid()",
        )
        .await;
    let lab = a.login("lab").await;
    let (status, report) = lab.post("/api/v1/lab-results", json!([{"tube": "EP0000601", "result": "阳性"}])).await;
    assert_eq!((status, report["abnormal"].clone()), (StatusCode::OK, json!(["EP0000601"])), "{report}");

    // B listens again within seconds (its first pause is one second) and forgets its counts.
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    let shown = loop {
        let shown = banner(&commander_b, round).await.unwrap_or_default();
        if shown.contains("本轮有 1 个异常混管") || tokio::time::Instant::now() > until {
            break shown;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(shown.contains("本轮有 1 个异常混管"), "B reads its counts afresh after listening again: {shown:?}");

    // And it hears what comes next.
    let mut stream = open_stream(&b, &commander_b, &format!("/rounds/{round}/events")).await;
    let (key, body) = swab(2, "EP0000602");
    assert_eq!(crate::support::register(&sampler, &key, &body).await.0, StatusCode::CREATED);
    let mut seen = String::new();
    assert!(
        read_until(&mut stream, &mut seen, "event: progress", Duration::from_secs(5)).await,
        "B hears A again: {seen:?}"
    );
    drop(b);
}

/// An in-app notification that server A's dispatcher sends pops up on the commander's page open
/// on server B, which reads it from the database (only its id travels between them).
#[tokio::test]
async fn an_in_app_notification_pops_up_on_the_other_server() {
    let a = TestServer::start(Engine::Postgres).await;
    // B's dispatcher looks for work only when B enqueues (an hour's tick): A's sends this one.
    let b = a.another_with(NotifyConfig { tick: Duration::from_secs(3_600), ..NotifyConfig::default() }).await;
    let log = Log::default();
    let commander_b = Agent::cookie(&b, "commander", &log).await;
    let mut stream = open_stream(&b, &commander_b, "/notifications/events").await;
    let note = note_to_commander(&a, "two-servers:abnormal:1", "本轮新增 1 个异常混管").await;
    notify::enqueue(a.store.as_ref(), &a.notify, vec![note], START).await.unwrap();
    let mut seen = String::new();
    assert!(
        read_until(&mut stream, &mut seen, "本轮新增 1 个异常混管", Duration::from_secs(10)).await,
        "B's page shows what A sent: {seen:?}"
    );
    assert!(seen.contains("event: notification"), "{seen:?}");
    drop(b);
}

/// Five wrong passwords on server A lock the account on server B as well: a balancer spreading
/// a guesser's attempts over the servers does not multiply them.
#[tokio::test]
async fn failed_logins_on_one_server_lock_the_account_on_the_other() {
    let a = TestServer::start(Engine::Postgres).await;
    let b = a.another_with(NotifyConfig { tick: Duration::from_secs(3_600), ..NotifyConfig::default() }).await;
    let log = Log::default();
    let commander_b = Agent::cookie(&b, "commander", &log).await;
    let mut stream = open_stream(&b, &commander_b, "/notifications/events").await;
    let guesser = Agent::anonymous(&a, &log);
    for i in 1..=5 {
        let r = guesser.post(LOGIN, json!({"username": "lab", "password": format!("wrong-password-{i}")})).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
    // A notification A sends after them: once B has shown it, B has heard of the failures (a
    // server's news arrive in order). B cannot be asked until then: a right password asked too
    // early logs in, and a success wipes the failures counted so far.
    notify::enqueue(
        a.store.as_ref(),
        &a.notify,
        vec![note_to_commander(&a, "two-servers:after-guesses", "猜测之后").await],
        START,
    )
    .await
    .unwrap();
    let mut seen = String::new();
    assert!(read_until(&mut stream, &mut seen, "猜测之后", Duration::from_secs(10)).await, "{seen:?}");

    let r = Agent::anonymous(&b, &log).post(LOGIN, json!({"username": "lab", "password": PASSWORD})).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "B refuses the right password too: {}", r.text);
    assert!(r.json.get("token").is_none());
    drop(b);
}

/// A session ended on server A ends on server B at once, although B had it cached (B's clock
/// stands still, so its cache would keep it for ever): a logout, and an account disabled.
#[tokio::test]
async fn sessions_ended_on_one_server_end_on_the_other() {
    let a = TestServer::start(Engine::Postgres).await;
    let b = a.another().await;
    let on_b = |client: &Client| Client { base: b.url.clone(), ..client.clone() };
    let refused_on_b = |client: Client| async move {
        let until = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let (status, _) = client.get("/api/v1/me").await;
            if status == StatusCode::UNAUTHORIZED || tokio::time::Instant::now() > until {
                return status == StatusCode::UNAUTHORIZED;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };

    let lab = a.login("lab").await;
    assert_eq!(on_b(&lab).get("/api/v1/me").await.0, StatusCode::OK, "B resolves and keeps the session");
    let (status, _) = lab.send(reqwest::Method::POST, "/api/v1/auth/logout", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(refused_on_b(on_b(&lab)).await, "logged out on A: refused on B");

    let sampler = a.login("sampler").await;
    assert_eq!(on_b(&sampler).get("/api/v1/me").await.0, StatusCode::OK);
    let (_, me) = sampler.get("/api/v1/me").await;
    let id = me["id"].as_i64().expect("an id");
    let (status, _) =
        a.login("admin").await.send(reqwest::Method::POST, &format!("/api/v1/users/{id}/disable"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(refused_on_b(on_b(&sampler)).await, "disabled on A: refused on B");
    drop(b);
}
