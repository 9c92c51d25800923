//! City scale (issue 3): "with 20,000,000 residents and 10,000,000 registrations in the round, the
//! coverage of any area ≤ 20 ms, a grid's untested list ≤ 10 ms, server memory ≤ 1 GiB".
//!
//! Builds the city (see `plan.rs` for its shape, `rows.rs` for its rows), checks that every counter
//! agrees with the rows it counts (and refuses to go on otherwise), times the store calls alone,
//! then starts the real server (`bulwark serve`) on the database and times the requests over HTTP,
//! one at a time and from many connections, and reads the server's memory.
//!
//! ```sh
//! cargo build --release -p bulwark && cargo build --release -p bulwark-app --example city_scale
//! target/release/examples/city_scale --dir /work/city-data                       # SQLite
//! target/release/examples/city_scale --dir /work/city-data \
//!     --database postgres://postgres@127.0.0.1:5432/city_scale                # PostgreSQL
//! ```
//!
//! `--reuse` measures the city built before instead of building it again; `--towns N` builds a
//! smaller city (250 is the full one); `--order grid|community|town` how the registers were imported
//! (see `plan::Order`; community by default); `--requests N` per kind (500), `--connections N` (16) and
//! `--seconds N` (20) for the concurrent run, `--tablespace NAME` for a new PostgreSQL database,
//! `--bin PATH` for the server binary (default: `bulwark` next to the examples folder), `--store-only`
//! to stop after the store's figures.

mod check;
mod measure;
mod pg_load;
mod plan;
mod rows;
mod setup;
mod sqlite_load;

use plan::Plan;
use rows::Res;
use std::{path::PathBuf, sync::Arc, time::Instant};

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        // tokio-postgres says "db error" and keeps the server's message in the source.
        let mut text = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        eprintln!("city_scale: {text}");
        std::process::exit(1);
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn size_of(path: &std::path::Path) -> u64 {
    ["", "-wal"].iter().filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok()).map(|m| m.len()).sum()
}

async fn run() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let number = |name: &str, default: usize| arg(name).map_or(Ok(default), |v| v.parse::<usize>());
    let order = arg("--order").unwrap_or_else(|| "community".into());
    let order = plan::Order::parse(&order).ok_or("--order: grid, community or town")?;
    let plan = Plan { towns: number("--towns", plan::FULL_TOWNS)?.clamp(1, plan::FULL_TOWNS), order };
    let (requests, connections, seconds) =
        (number("--requests", 500)?, number("--connections", 16)?, number("--seconds", 20)?);
    let database = arg("--database");
    let dir = PathBuf::from(arg("--dir").unwrap_or_else(|| "/work/city-data".into()));
    let engine = if database.is_some() { "postgres" } else { "sqlite" };
    let sqlite_dir = dir.join("sqlite");
    let sqlite_file = sqlite_dir.join("bulwark.db");
    let record = dir.join(format!("{engine}-build.txt"));
    let bin = match arg("--bin") {
        Some(b) => PathBuf::from(b),
        None => std::env::current_exe()?.parent().and_then(|p| p.parent()).ok_or("no target folder")?.join("bulwark"),
    };
    std::fs::create_dir_all(&sqlite_dir)?;
    println!(
        "city_scale on {engine}: {} residents, {} registrations; load average {}",
        plan.residents(),
        plan.registrations(),
        load_average()
    );

    if !args.iter().any(|a| a == "--reuse") {
        let (t, load_before) = (Instant::now(), load_average());
        let stages = match &database {
            Some(url) => {
                pg_load::create_database(url, arg("--tablespace").as_deref()).await?;
                pg_load::build(url, plan).await?
            }
            None => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", sqlite_file.display()));
                }
                sqlite_load::build(&sqlite_file, plan).await?
            }
        };
        let mut text = format!(
            "built {} (towns {}, registers imported in {} order) in {:.0} s; load average before {load_before}, after {}\n",
            chrono::Local::now().format("%Y-%m-%d %H:%M"),
            plan.towns,
            plan.order.as_str(),
            t.elapsed().as_secs_f64(),
            load_average()
        );
        for (stage, secs) in stages {
            text.push_str(&format!("  {stage}: {secs:.1} s\n"));
        }
        std::fs::write(&record, text)?;
    }
    print!(
        "{}",
        std::fs::read_to_string(&record).map_err(|e| format!("{}: {e} (build without --reuse)", record.display()))?
    );

    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos() as u64;
    let store: Arc<dyn bulwark_store::Store> = match &database {
        Some(url) => Arc::new(bulwark_postgres::PgStore::connect(url).await?),
        None => Arc::new(bulwark_sqlite::SqliteStore::open(&sqlite_file)?),
    };
    let ids = setup::find(store.as_ref(), plan).await?;
    println!("checking the counters against the rows…");
    let t = Instant::now();
    let size = match &database {
        Some(url) => {
            let fresh_url =
                bulwark_postgres::testing::with_database(url, &format!("{}_fresh", pg_load::database_of(url)?));
            pg_load::create_database(&fresh_url, None).await?;
            drop(bulwark_postgres::PgStore::connect(&fresh_url).await?);
            let fresh = check::Db::Pg(bulwark_postgres::testing::raw(&fresh_url).await);
            let db = check::Db::Pg(bulwark_postgres::testing::raw(url).await);
            let checked = check::run(&db, &fresh, plan, &ids, seed).await;
            drop(fresh);
            let admin =
                bulwark_postgres::testing::raw(&bulwark_postgres::testing::with_database(url, "postgres")).await;
            admin.batch_execute(&format!("DROP DATABASE {}_fresh WITH (FORCE)", pg_load::database_of(url)?)).await?;
            checked?;
            let check::Db::Pg(c) = db else { unreachable!() };
            c.query_one("SELECT pg_database_size(current_database())", &[]).await?.get::<_, i64>(0) as u64
        }
        None => {
            let scratch = tempfile::tempdir()?;
            drop(bulwark_sqlite::SqliteStore::open(&scratch.path().join("fresh.db"))?);
            let fresh = check::Db::Sqlite(rusqlite::Connection::open(scratch.path().join("fresh.db"))?);
            let db = check::Db::Sqlite(rusqlite::Connection::open(&sqlite_file)?);
            check::run(&db, &fresh, plan, &ids, seed).await?;
            size_of(&sqlite_file)
        }
    };
    println!("  ({:.1} s); database size {:.1} GiB", t.elapsed().as_secs_f64(), size as f64 / (1u64 << 30) as f64);

    println!("\ntiming the store calls ({requests} of each, random areas; load average {})", load_average());
    println!("| store call | n | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|");
    for f in measure::store_calls(store.as_ref(), plan, &ids, requests, seed).await? {
        println!("{}", f.line());
    }
    drop(store);
    if args.iter().any(|a| a == "--store-only") {
        return Ok(());
    }

    let storage: Vec<String> = match &database {
        Some(url) => vec!["--database".into(), url.clone()],
        None => vec!["--data-dir".into(), sqlite_dir.display().to_string()],
    };
    let server = measure::Server::start(&bin, &storage, &dir.join(format!("server-{engine}.log"))).await?;
    println!(
        "\nserver {} (pid {}) answered /healthz after {:.1} s; {}",
        bin.display(),
        server.pid,
        server.started_in.as_secs_f64(),
        server.memory()?
    );
    let client = reqwest::Client::new();
    let token = measure::login(&client, &server.base).await?;
    println!("over HTTP, one request at a time ({requests} of each, random areas; load average {})", load_average());
    println!("| request | n | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|");
    for f in measure::sequential(&server.base, &token, plan, ids.round, requests, seed).await? {
        println!("{}", f.line());
    }
    println!("server memory after them: {}", server.memory()?);
    let (rate, coverage, untested) =
        measure::concurrent(&server.base, &token, plan, ids.round, connections, seconds as u64, seed).await?;
    println!("{connections} connections for {seconds} s: {rate:.0} requests/s (load average {})", load_average());
    println!("{}\n{}", coverage.line(), untested.line());
    println!("server memory after them: {}", server.memory()?);
    server.stop().await?;
    Ok(())
}
