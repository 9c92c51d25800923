//! Benchmark: how long the demo town takes to generate and load, against the raw limit of the
//! same storage path (the 45,000 residents through `insert_people` alone, nothing else), on
//! SQLite in a temporary directory or on PostgreSQL (`--database postgres://…`, a database that
//! may be dropped and created: its name must start with `bulwark_bench`).
//!
//! `cargo run --release -p bulwark-app --example demo_load [-- --database URL]`

use bulwark_app::demo;
use bulwark_domain::{access::Operation, audit::AuditStamp, people::NewPerson};
use bulwark_store::Store;
use std::{sync::Arc, time::Instant};

async fn open(database: Option<&str>, dir: &std::path::Path, name: &str) -> Arc<dyn Store> {
    match database {
        Some(url) => {
            let admin = bulwark_postgres::testing::raw(url).await;
            let db = format!("bulwark_bench_{name}");
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await.unwrap();
            admin.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
            let url = bulwark_postgres::testing::with_database(url, &db);
            Arc::new(bulwark_postgres::PgStore::connect(&url).await.unwrap())
        }
        None => Arc::new(bulwark_sqlite::SqliteStore::open(&dir.join(format!("{name}.db"))).unwrap()),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let database = args.iter().position(|a| a == "--database").map(|i| args[i + 1].clone());
    let dir = tempfile::tempdir().unwrap();
    let today = demo::outbreak_day();

    let t = Instant::now();
    let town = bulwark_demo::generate(demo::DEFAULT_SEED, today);
    let generate = t.elapsed();

    // The whole load, as `bulwark demo` does it.
    let store = open(database.as_deref(), dir.path(), "full").await;
    let t = Instant::now();
    let summary =
        demo::load(store.as_ref(), demo::DEFAULT_SEED, today, Some("bench-password".into()), 0).await.unwrap();
    let full = t.elapsed();

    // The raw limit: the same residents through insert_people into one grid, nothing else.
    let raw = open(database.as_deref(), dir.path(), "raw").await;
    let grid = {
        use bulwark_domain::areas::{AreaCode, AreaKind, NewArea};
        let mut parent = None;
        let mut last = None;
        for (code, kind) in
            [("1", AreaKind::County), ("2", AreaKind::Town), ("3", AreaKind::Village), ("4", AreaKind::Grid)]
        {
            let area = raw
                .create_area(NewArea { code: AreaCode::parse(code).unwrap(), name: code.into(), kind, parent })
                .await
                .unwrap();
            parent = Some(area.id);
            last = Some(area.id);
        }
        last.unwrap()
    };
    let people: Vec<NewPerson> =
        town.residents.iter().map(|r| NewPerson::new(r.name.clone(), r.document.clone(), grid)).collect();
    let n = people.len();
    let stamp = AuditStamp {
        at: 0,
        user: None,
        username: "bench".into(),
        role: None,
        operation: Operation::PersonsCreate,
        request_id: "bench".into(),
    };
    let t = Instant::now();
    raw.insert_people(people, &stamp).await.unwrap();
    let raw_insert = t.elapsed();

    println!("engine: {}", store.engine());
    println!(
        "generate: {:.3} s ({} areas, {} residents)",
        generate.as_secs_f64(),
        town.areas.len(),
        town.residents.len()
    );
    println!("full demo load: {:.3} s ({} residents)", full.as_secs_f64(), summary.residents);
    println!(
        "raw insert_people of the residents: {:.3} s ({:.0} rows/s)",
        raw_insert.as_secs_f64(),
        n as f64 / raw_insert.as_secs_f64()
    );
    println!("full load / raw insert: {:.2}", full.as_secs_f64() / raw_insert.as_secs_f64());
}
