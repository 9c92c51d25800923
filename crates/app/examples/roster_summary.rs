//! Benchmark: the commander's dashboard asks for "staff on post" (`RosterStore::roster_summary`)
//! for the whole demo town, and the roster page reads a day's roster; how long each takes, on
//! SQLite in a temporary directory or on PostgreSQL (`--database postgres://…`, a database that
//! may be dropped and created: its name must start with `bulwark_bench`).
//!
//! `cargo run --release -p bulwark-app --example roster_summary [-- --database URL]`

use bulwark_app::{demo, rosters::local_offset};
use bulwark_domain::{
    access::Scope,
    areas::AreaCode,
    workforce::{RosterRules, roster::day_bounds},
};
use bulwark_store::Store;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

async fn open(database: Option<&str>, dir: &std::path::Path) -> Arc<dyn Store> {
    match database {
        Some(url) => {
            let admin = bulwark_postgres::testing::raw(url).await;
            let db = "bulwark_bench_rosters";
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await.unwrap();
            admin.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
            let url = bulwark_postgres::testing::with_database(url, db);
            Arc::new(bulwark_postgres::PgStore::connect(&url).await.unwrap())
        }
        None => Arc::new(bulwark_sqlite::SqliteStore::open(&dir.join("rosters.db")).unwrap()),
    }
}

fn quantiles(mut t: Vec<Duration>) -> String {
    t.sort();
    let q = |p: f64| t[((t.len() - 1) as f64 * p) as usize].as_secs_f64() * 1000.0;
    format!("median {:.2} ms, p99 {:.2} ms, max {:.2} ms", q(0.5), q(0.99), q(1.0))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let database = args.iter().position(|a| a == "--database").map(|i| args[i + 1].clone());
    let dir = tempfile::tempdir().unwrap();
    let store = open(database.as_deref(), dir.path()).await;
    let day = demo::outbreak_day();
    let t = Instant::now();
    demo::load(store.as_ref(), demo::DEFAULT_SEED, day, Some("bench-password-1".into()), 1_665_000_000_000)
        .await
        .unwrap();
    println!("demo loaded in {:.1} s ({})", t.elapsed().as_secs_f64(), store.engine());
    let town = store.area_by_code(&AreaCode::parse(bulwark_demo::TOWN.0).unwrap()).await.unwrap().unwrap();
    let scope = Scope::of(&town);
    let (from, to) = day_bounds(day, local_offset());

    let mut summary = Vec::new();
    let mut last = None;
    for i in 0..500 {
        // Every minute of the day from 06:00, so the answers differ.
        let now = from + 6 * 3_600_000 + i * 60_000;
        let t = Instant::now();
        last = Some(store.roster_summary(&scope, now, RosterRules::DEFAULT).await.unwrap());
        summary.push(t.elapsed());
    }
    println!("roster_summary (town, 500 calls): {}; last: {:?}", quantiles(summary), last.unwrap());

    let mut roster = Vec::new();
    let mut size = 0;
    for _ in 0..50 {
        let t = Instant::now();
        let r = store.roster(&scope, from, to).await.unwrap();
        roster.push(t.elapsed());
        size = r.iter().flat_map(|p| &p.shifts).map(|s| s.assignments.len()).sum();
    }
    println!("roster of a day (town, 50 calls, {size} assignments): {}", quantiles(roster));
}
