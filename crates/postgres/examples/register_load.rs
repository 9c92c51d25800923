//! Load test of the registration path on PostgreSQL, on a fresh database (dropped at the end).
//!
//! 1. `register`: `--tasks` concurrent tasks (default 64, one lane each) each register their share
//!    of `--single` people (default 200,000), one call at a time, into pools of ten.
//! 2. `register_many`: `--uploaders` concurrent uploaders (default 4) each send their share of
//!    `--many` people (default 1,000,000) in batches of `--batch` (default 5,000), as scanners
//!    re-uploading after an outage would.
//!
//! Both check afterwards that every registration was created and counted once.
//!
//! `cargo run --release -p bulwark-postgres --example register_load [-- --single N --tasks N --many N --uploaders N --batch N]`

#[path = "common/mod.rs"]
mod common;

use bulwark_domain::testing::{NewRegistration, PoolSize, TubeCode, TubeFormat};
use bulwark_store::{TestingStore, testing::Registered};
use common::T0;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).map(|i| args[i + 1].parse().unwrap()).unwrap_or(default)
}

fn registration(
    key: String,
    tube: String,
    round: i64,
    site: i64,
    lane: i64,
    person: &(i64, String),
    at: i64,
) -> NewRegistration {
    NewRegistration {
        key,
        body_hash: 1,
        round,
        site,
        lane: Some(lane),
        tube: TubeCode::parse(&tube, &TubeFormat::default()).unwrap(),
        pool_size: PoolSize::TEN,
        person: person.0,
        person_area_path: person.1.clone(),
        flags: vec![],
        at,
        device_time: Some(at - 3_000),
        by: 1,
        home: false,
        // As the HTTP path does: the answer's audited read, in the registration's transaction.
        audit: Some(bulwark_domain::audit::NewAuditEntry {
            at,
            user: Some(1),
            username: "bench".into(),
            role: Some(bulwark_domain::access::Role::Sampler),
            operation: bulwark_domain::access::Operation::RegistrationsCreate,
            person: Some(person.0),
            outcome: bulwark_domain::audit::Outcome::Success,
            detail: None,
            request_id: "bench".into(),
        }),
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let single = arg("--single", 200_000);
    let tasks = arg("--tasks", 64);
    let many = arg("--many", 1_000_000);
    let uploaders = arg("--uploaders", 4);
    let batch = arg("--batch", 5_000);
    let wanted = single.max(many);
    let per_household = 3;
    let households = wanted.div_ceil(1000 * per_household);
    let town = common::town(households, per_household).await;
    let store = Arc::new(town.store.clone());
    let people = Arc::new(town.people.clone());
    let site = common::site(&store, &town.town, tasks).await;

    // 0. The raw limits of this server in this run, for comparison: durable single-row inserts
    //    (one transaction each) from 16 connections, and 1,000-row inserts from 4.
    {
        let client = bulwark_postgres::testing::raw(&town.db.url).await;
        client.batch_execute("CREATE TABLE bench (id bigserial PRIMARY KEY, k text UNIQUE, v bigint)").await.unwrap();
        let run = |clients: usize, rows: usize| {
            let url = town.db.url.clone();
            async move {
                let t = Instant::now();
                let handles: Vec<_> = (0..clients)
                    .map(|c| {
                        let url = url.clone();
                        tokio::spawn(async move {
                            let client = bulwark_postgres::testing::raw(&url).await;
                            let mut n = 0;
                            while t.elapsed() < Duration::from_secs(5) {
                                let keys: Vec<String> = (0..rows).map(|i| format!("{rows}-{c}-{n}-{i}")).collect();
                                client
                                    .execute(
                                        "INSERT INTO bench (k, v) SELECT k, 1 FROM UNNEST($1::text[]) AS k",
                                        &[&keys],
                                    )
                                    .await
                                    .unwrap();
                                n += 1;
                            }
                            n * rows
                        })
                    })
                    .collect();
                let mut total = 0;
                for h in handles {
                    total += h.await.unwrap();
                }
                total as f64 / t.elapsed().as_secs_f64()
            }
        };
        println!("raw INSERT, one row per transaction, 16 connections: {:.0}/s", run(16, 1).await);
        println!("raw INSERT, 1,000 rows per transaction, 4 connections: {:.0}/s", run(4, 1000).await);
    }

    // 1. One registration per call, `tasks` at a time.
    if single > 0 {
        let round = common::round(&store, &town.town, "单次登记").await;
        let cpu = common::cpu(&town.db).await;
        let t = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|k| {
                let (store, people, lane, round, site) =
                    (store.clone(), people.clone(), site.lanes[k].id, round.id, site.id);
                tokio::spawn(async move {
                    let mut latencies = Vec::new();
                    let mut i = k;
                    let mut n = 0;
                    while i < single {
                        let reg = registration(
                            format!("s-{i}"),
                            format!("S{k:03}-{:07}", n / 10),
                            round,
                            site,
                            lane,
                            &people[i],
                            T0 + i as i64 * 20,
                        );
                        let start = Instant::now();
                        let answer = store.register(reg).await.unwrap();
                        latencies.push(start.elapsed());
                        assert!(matches!(answer, Registered::Created(_)), "{answer:?}");
                        i += tasks;
                        n += 1;
                    }
                    latencies
                })
            })
            .collect();
        let mut latencies = Vec::new();
        for h in handles {
            latencies.extend(h.await.unwrap());
        }
        let elapsed = t.elapsed();
        let used = common::cpu(&town.db).await;
        latencies.sort_unstable();
        let progress = store.progress(round.id).await.unwrap();
        assert_eq!((progress.registrations, progress.sampled), (single as u64, single as u64));
        assert_eq!(progress.tubes, (0..tasks).map(|k| (single - k).div_ceil(tasks).div_ceil(10) as u64).sum::<u64>());
        println!(
            "register: {single} registrations, {tasks} tasks: {:.2?} = {:.0}/s; latency p50 {:.1?}, p99 {:.1?}, max {:.1?}",
            elapsed,
            single as f64 / elapsed.as_secs_f64(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.last().unwrap()
        );
        println!(
            "  CPU per registration: PostgreSQL {:.0} µs, this process {:.0} µs",
            (used.1 - cpu.1) * 1e6 / single as f64,
            (used.0 - cpu.0) * 1e6 / single as f64
        );
    }

    // 2. Batches through register_many, `uploaders` at a time.
    if many > 0 {
        let round = common::round(&store, &town.town, "批量上传").await;
        let cpu = common::cpu(&town.db).await;
        let t = Instant::now();
        let handles: Vec<_> = (0..uploaders)
            .map(|u| {
                let (store, people, site) = (store.clone(), people.clone(), site.clone());
                let round = round.id;
                tokio::spawn(async move {
                    let mine: Vec<usize> = (u..many).step_by(uploaders).collect();
                    let mut created = 0;
                    for (b, chunk) in mine.chunks(batch).enumerate() {
                        let items: Vec<NewRegistration> = chunk
                            .iter()
                            .enumerate()
                            .map(|(j, &i)| {
                                let lane = site.lanes[i % site.lanes.len()].id;
                                registration(
                                    format!("m-{i}"),
                                    format!("M{u:02}-{b:05}-{:04}", j / 10),
                                    round,
                                    site.id,
                                    lane,
                                    &people[i],
                                    T0 + i as i64 * 5,
                                )
                            })
                            .collect();
                        let answers = store.register_many(items).await.unwrap();
                        created += answers.iter().filter(|a| matches!(a, Ok(Registered::Created(_)))).count();
                    }
                    created
                })
            })
            .collect();
        let mut created = 0;
        for h in handles {
            created += h.await.unwrap();
        }
        let elapsed = t.elapsed();
        let used = common::cpu(&town.db).await;
        assert_eq!(created, many);
        let progress = store.progress(round.id).await.unwrap();
        assert_eq!((progress.registrations, progress.sampled), (many as u64, many as u64));
        println!(
            "register_many: {many} registrations, {uploaders} uploaders, batches of {batch}: {:.2?} = {:.0}/s",
            elapsed,
            many as f64 / elapsed.as_secs_f64()
        );
        println!(
            "  CPU per registration: PostgreSQL {:.0} µs, this process {:.0} µs",
            (used.1 - cpu.1) * 1e6 / many as f64,
            (used.0 - cpu.0) * 1e6 / many as f64
        );
    }
    drop(store);
    common::finish(town.store, town.db);
}
