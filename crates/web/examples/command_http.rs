//! Benchmark of command over HTTP with the demo town loaded (mid-round: the first round's 28,369
//! registrations, lab results and an abnormal pool), its 448 staff topped up to 5,000:
//! - activation of the golden-24-hours plan for 5,000 staff (`POST /api/v1/incidents`), 8 times
//!   (incidents 0–3 are answered over HTTP, 4–7 raw: the same 20,000 answers each way);
//! - the dashboard's server time (`GET /api/v1/incidents/{id}/dashboard`), 200 sequential reads;
//! - roll-call answers over HTTP (`POST /api/v1/incidents/{id}/rollcall`, each a different
//!   member's arrival, recorded by a working-group account), 64 concurrent connections, against
//!   the raw limit measured in the same run: the same answers through `CommandStore::record_answer`
//!   with no HTTP in front.
//!
//! `cargo run --release -p bulwark-web --example command_http [-- --database postgres://…]`

use bulwark_app::demo;
use bulwark_domain::{
    access::Scope,
    areas::AreaCode,
    command::RollCallStatus,
    workforce::{StaffMember, Team},
};
use bulwark_store::{PersonQuery, Store, command::NewAnswer};
use serde_json::{Value, json};
use std::{sync::Arc, time::Instant};

const STAFF: usize = 5_000;
const CONNECTIONS: usize = 64;
const PASSWORD: &str = "bench-password-1234";
/// 09:00 on 6 October 2022, China time: the demo's first round is under way.
const NOW: i64 = 1_665_018_000_000;

async fn open(database: Option<&str>, dir: &std::path::Path) -> Arc<dyn Store> {
    match database {
        Some(url) => {
            let admin = bulwark_postgres::testing::raw(url).await;
            let db = "bulwark_bench_command";
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await.unwrap();
            admin.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
            let url = bulwark_postgres::testing::with_database(url, db);
            Arc::new(bulwark_postgres::PgStore::connect(&url).await.unwrap())
        }
        None => Arc::new(bulwark_sqlite::SqliteStore::open(&dir.join("bench.db")).unwrap()),
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn login(http: &reqwest::Client, base: &str, username: &str) -> String {
    let r: Value = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": username, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().expect("token").to_string()
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let database = args.iter().position(|a| a == "--database").map(|i| args[i + 1].clone());
    let dir = tempfile::tempdir().unwrap();
    let store = open(database.as_deref(), dir.path()).await;
    let today = chrono::NaiveDate::from_ymd_opt(2022, 10, 6).unwrap();
    let t = Instant::now();
    demo::load(store.as_ref(), demo::DEFAULT_SEED, today, Some(PASSWORD.into()), NOW).await.unwrap();
    println!("engine {}: demo town loaded in {:.1} s", store.engine(), t.elapsed().as_secs_f64());

    // Top the staff up to 5,000 with residents of the town as volunteers.
    let town = store.area_by_code(&AreaCode::parse(bulwark_demo::TOWN.0).unwrap()).await.unwrap().unwrap();
    let scope = Scope::of(&town);
    let existing = store.staff(&scope, None).await.unwrap();
    let taken: std::collections::HashSet<i64> = existing.iter().map(|s| s.person).collect();
    let people =
        store.people(&PersonQuery { within: scope.clone(), search: None, after: None, limit: 1000 }).await.unwrap();
    let mut extra = Vec::new();
    let mut after = None;
    let mut page = people;
    while existing.len() + extra.len() < STAFF {
        for p in &page {
            if existing.len() + extra.len() < STAFF && !taken.contains(&p.id) {
                extra.push(StaffMember::new(p.id, Team::Volunteer, p.grid.unwrap_or(p.area)));
            }
            after = Some(p.id);
        }
        page = store.people(&PersonQuery { within: scope.clone(), search: None, after, limit: 1000 }).await.unwrap();
    }
    store.add_staff(extra).await.unwrap();

    let clock = Arc::new(bulwark_web::clock::ManualClock::new(NOW));
    let state = bulwark_web::AppState::new(store.clone(), clock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(bulwark_web::serve(listener, state, std::future::pending()));
    let http = reqwest::Client::builder().pool_max_idle_per_host(CONNECTIONS).build().unwrap();
    let commander = login(&http, &base, "commander").await;

    // Activation, 8 times.
    let mut incidents = Vec::new();
    let mut times = Vec::new();
    for n in 0..8 {
        let t = Instant::now();
        let r = http
            .post(format!("{base}/api/v1/incidents"))
            .bearer_auth(&commander)
            .json(&json!({"plan": "golden-24h", "trigger": format!("基准启动 {n}"), "level": 3}))
            .send()
            .await
            .unwrap();
        let elapsed = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["notified"].as_u64(), Some(STAFF as u64));
        incidents.push(body["id"].as_i64().unwrap());
        times.push(elapsed);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "activation of {STAFF} staff over HTTP: median {:.0} ms, max {:.0} ms (8 runs)",
        percentile(&times, 0.5),
        times[times.len() - 1]
    );

    // The dashboard, mid-round.
    let mut times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let r = http
            .get(format!("{base}/api/v1/incidents/{}/dashboard", incidents[0]))
            .bearer_auth(&commander)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let _ = r.bytes().await.unwrap();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "dashboard: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (200 reads, loopback)",
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times[times.len() - 1]
    );

    // Answers: incidents 0–3 over HTTP, incidents 4–7 raw.
    let members: Vec<(i64, i64)> = {
        let mut all = Vec::new();
        for id in &incidents[..4] {
            all.extend(store.members(*id).await.unwrap().into_iter().map(|m| (*id, m.person)));
        }
        all
    };
    let answerer = login(&http, &base, "commander").await;
    let work = Arc::new(std::sync::Mutex::new(members));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let work = work.clone();
        let http = http.clone();
        let base = base.clone();
        let token = answerer.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let Some((incident, person)) = work.lock().unwrap().pop() else { break };
                let t = Instant::now();
                let r = http
                    .post(format!("{base}/api/v1/incidents/{incident}/rollcall"))
                    .bearer_auth(&token)
                    .json(&json!({"person_id": person, "status": "arrived", "place": "headquarters"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
                let _ = r.bytes().await;
                latencies.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let http_rate = latencies.len() as f64 / t.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    println!(
        "roll-call answers over HTTP: {} in {:.1} s = {:.0}/s, p50 {:.1} ms, p99 {:.1} ms ({CONNECTIONS} connections)",
        latencies.len(),
        t.elapsed().as_secs_f64(),
        http_rate,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );

    let mut raw: Vec<(i64, i64)> = Vec::new();
    for id in &incidents[4..] {
        raw.extend(store.members(*id).await.unwrap().into_iter().map(|m| (*id, m.person)));
    }
    let work = Arc::new(std::sync::Mutex::new(raw));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let work = work.clone();
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0usize;
            loop {
                let Some((incident, person)) = work.lock().unwrap().pop() else { break };
                let answer = NewAnswer {
                    incident,
                    person,
                    status: RollCallStatus::Arrived,
                    place: None,
                    at: NOW,
                    by: None,
                    arrival_text: format!("{person} 到达"),
                    audit: NewAnswer::link_audit(incident, person, RollCallStatus::Arrived, NOW),
                };
                store.record_answer(answer).await.unwrap().expect("a member");
                n += 1;
            }
            n
        }));
    }
    let mut n = 0;
    for task in tasks {
        n += task.await.unwrap();
    }
    let raw_rate = n as f64 / t.elapsed().as_secs_f64();
    println!(
        "raw limit (record_answer, no HTTP): {n} in {:.1} s = {:.0}/s; HTTP is {:.0}% of it",
        t.elapsed().as_secs_f64(),
        raw_rate,
        http_rate * 100.0 / raw_rate
    );
}
