//! Load test of lab results on PostgreSQL, on a fresh database (dropped at the end):
//! `--tubes` sealed tubes (default 2,500,000, inserted directly with SQL) receive one result each
//! through `record_results`, in lab files of `--file` results (default 100,000), `--parallel` files
//! at a time (default 2). About one tube in a thousand is abnormal or positive. Then one file is
//! sent again (every result "unchanged") and a file of unknown codes (every result to review).
//!
//! `cargo run --release -p bulwark-postgres --example lab_results_load [-- --tubes N --file N --parallel N]`

#[path = "common/mod.rs"]
mod common;

use bulwark_domain::testing::{LabOutcome, LabResult, TubeCode};
use bulwark_postgres::testing::raw;
use bulwark_store::TestingStore;
use common::T0;
use std::{sync::Arc, time::Instant};

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).map(|i| args[i + 1].parse().unwrap()).unwrap_or(default)
}

fn result(i: usize, prefix: &str) -> LabResult {
    let outcome = match i % 1000 {
        7 => LabOutcome::Abnormal,
        500 => LabOutcome::Positive,
        999 => LabOutcome::Invalid,
        _ => LabOutcome::Negative,
    };
    LabResult {
        tube: TubeCode::from_stored(format!("{prefix}{i:09}")),
        outcome,
        ct_orf1ab: outcome.is_abnormal().then_some(33.1),
        ct_n: outcome.is_abnormal().then_some(34.7),
        sampled_at: Some(T0),
        tested_at: Some(T0 + 5 * 3_600_000),
        reported_at: Some(T0 + 6 * 3_600_000),
        lab: Some("恩平市人民医院检验科".into()),
    }
}

#[tokio::main]
async fn main() {
    let tubes = arg("--tubes", 2_500_000);
    let file = arg("--file", 100_000);
    let parallel = arg("--parallel", 2);
    let town = common::town(1, 1).await;
    let round = common::round(&town.store, &town.town, "第一轮").await;
    let site = common::site(&town.store, &town.town, 4).await;
    let t = Instant::now();
    let client = raw(&town.db.url).await;
    client
        .execute(
            "INSERT INTO tubes (code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at)
             SELECT 'L' || lpad(i::text, 9, '0'), $1, $2, $3, 10, 'sealed', 10, $4::bigint, $4::bigint + 600000
             FROM generate_series(0, $5::int - 1) AS i",
            &[&round.id, &site.id, &site.lanes[0].id, &T0, &(tubes as i32)],
        )
        .await
        .unwrap();
    client.batch_execute("VACUUM ANALYZE tubes").await.unwrap();
    eprintln!("{tubes} sealed tubes in {:.1?}", t.elapsed());

    // Lab files: consecutive codes, shuffled inside each file as a lab's plate order would be.
    let files: Vec<Vec<LabResult>> = (0..tubes)
        .collect::<Vec<_>>()
        .chunks(file)
        .map(|c| {
            let mut c = c.to_vec();
            let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ c[0] as u64;
            for i in (1..c.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                c.swap(i, (x % (i as u64 + 1)) as usize);
            }
            c.into_iter().map(|i| result(i, "L")).collect()
        })
        .collect();
    let store = Arc::new(town.store.clone());
    let queue = Arc::new(std::sync::Mutex::new(files.into_iter().enumerate().collect::<Vec<_>>()));
    let cpu = common::cpu(&town.db).await;
    let t = Instant::now();
    let workers: Vec<_> = (0..parallel)
        .map(|_| {
            let (store, queue) = (store.clone(), queue.clone());
            tokio::spawn(async move {
                let mut totals = (0u64, 0u64, 0usize);
                loop {
                    let next = queue.lock().unwrap().pop();
                    let Some((n, results)) = next else { return totals };
                    let report = store.record_results(results, 7, T0 + 8 * 3_600_000 + n as i64).await.unwrap();
                    totals.0 += report.applied;
                    totals.1 += report.unchanged;
                    totals.2 += report.abnormal.len();
                }
            })
        })
        .collect();
    let (mut applied, mut unchanged, mut abnormal) = (0, 0, 0);
    for w in workers {
        let (a, u, b) = w.await.unwrap();
        applied += a;
        unchanged += u;
        abnormal += b;
    }
    let elapsed = t.elapsed();
    let used = common::cpu(&town.db).await;
    assert_eq!((applied, unchanged), (tubes as u64, 0));
    let resulted: i64 =
        client.query_one("SELECT count(*) FROM tubes WHERE state = 'resulted'", &[]).await.unwrap().get(0);
    let logged: i64 = client.query_one("SELECT count(*) FROM lab_results", &[]).await.unwrap().get(0);
    let cases: i64 = client.query_one("SELECT count(*) FROM pool_cases", &[]).await.unwrap().get(0);
    assert_eq!((resulted, logged, cases), (tubes as i64, tubes as i64, abnormal as i64));
    println!(
        "record_results: {tubes} results in files of {file}, {parallel} at a time: {:.2?} = {:.0}/s ({abnormal} abnormal pools)",
        elapsed,
        tubes as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  CPU per result: PostgreSQL {:.1} µs, this process {:.1} µs",
        (used.1 - cpu.1) * 1e6 / tubes as f64,
        (used.0 - cpu.0) * 1e6 / tubes as f64
    );

    // A file sent again, and a file of codes nobody registered.
    let again: Vec<LabResult> = (0..file.min(tubes)).map(|i| result(i, "L")).collect();
    let t = Instant::now();
    let report = store.record_results(again, 7, T0 + 9 * 3_600_000).await.unwrap();
    let resend = t.elapsed();
    assert_eq!(report.unchanged, file.min(tubes) as u64);
    let strangers: Vec<LabResult> = (0..file).map(|i| result(i, "Z")).collect();
    let t = Instant::now();
    let report = store.record_results(strangers, 7, T0 + 9 * 3_600_000).await.unwrap();
    let unknown = t.elapsed();
    assert_eq!(report.review.len(), file);
    println!("the same file again: {resend:.2?}; a file of unknown tubes: {unknown:.2?}");
    drop(store);
    common::finish(town.store, town.db);
}
