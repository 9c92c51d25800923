//! Benchmark of a round's progress on PostgreSQL at city scale, on a fresh database (dropped at
//! the end): `--tubes` tubes (default 1,000,000) and the lane-minute rows of about 10,000,000
//! registrations (2,000 sites of 4 lanes over 450 minutes, in 16 shards: 3.6 M rows) inserted
//! directly with SQL, the progress counters filled from them with every site and hour in all 16
//! shards (as a long round leaves them); then `progress` through the store (the counters) is timed
//! against the statements it ran before (summing the lane minutes, counting the tubes) in the same
//! run. The SQLite twin is `bulwark-sqlite`'s `sqlite_progress`.
//!
//! `cargo run --release -p bulwark-postgres --example progress_load [-- --tubes N]`

#[path = "common/mod.rs"]
mod common;

use bulwark_postgres::testing::raw;
use bulwark_store::TestingStore;
use common::T0;
use std::time::{Duration, Instant};

/// The statements `progress` ran before the counters.
async fn old(client: &tokio_postgres::Client, round: i64, sql: &[&str; 3]) -> (u64, u64, u64, u64, usize, usize) {
    let tubes = client.query_one(sql[0], &[&round]).await.unwrap();
    let hours = client.query(sql[1], &[&round]).await.unwrap();
    let sites = client.query(sql[2], &[&round]).await.unwrap();
    let registrations: i64 = hours.iter().map(|r| r.get::<_, i64>(1)).sum();
    let g = |i| tubes.get::<_, i64>(i) as u64;
    (registrations as u64, g(0), g(1), g(2), hours.len(), sites.len())
}

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        ms(v[v.len() / 2]),
        ms(v[v.len() * 99 / 100]),
        ms(v[v.len() - 1])
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let tubes: i32 =
        args.iter().position(|a| a == "--tubes").map(|i| args[i + 1].parse().unwrap()).unwrap_or(1_000_000);
    let town = common::town(1, 1).await;
    let round = common::round(&town.store, &town.town, "第一轮").await;
    // One site through the product (no registrations), 2,000 more by SQL.
    common::site(&town.store, &town.town, 1).await;
    let t = Instant::now();
    let client = raw(&town.db.url).await;
    client
        .batch_execute(&format!(
            "INSERT INTO sites (name, area_id, area_path, opens, closes, created_at)
                 SELECT '采样点' || lpad(s::text, 4, '0'), {area}, '{path}', 0, 0, 0 FROM generate_series(1, 2000) AS s;
             INSERT INTO tubes (code, round_id, site_id, lane_id, pool_size, state, members, opened_at)
                 SELECT 'L' || lpad(i::text, 9, '0'), {round}, 1 + i % 2000, NULL, 10,
                        CASE WHEN i % 10 = 0 THEN 'open' WHEN i % 10 < 5 THEN 'resulted' ELSE 'sealed' END, 10, {T0}
                 FROM generate_series(0, {tubes} - 1) AS i;
             INSERT INTO lane_minutes (round_id, site_id, lane_id, minute, shard, n)
                 SELECT {round}, s.id, s.id * 4 + l, {T0} / 60000 + m, m % 16, 2 + (m % 9 < 7)::int
                 FROM (SELECT id FROM sites WHERE name LIKE '采样点%') s, generate_series(0, 3) AS l, generate_series(0, 449) AS m;
             INSERT INTO round_tubes (round_id, state, shard, n)
                 SELECT round_id, state, sh, count(*) / 16 + CASE WHEN sh = 0 THEN count(*) % 16 ELSE 0 END
                 FROM tubes, generate_series(0, 15) AS sh GROUP BY round_id, state, sh;
             INSERT INTO round_hours (round_id, hour, shard, n)
                 SELECT round_id, (minute / 60) * 3600000, shard, sum(n) FROM lane_minutes GROUP BY 1, 2, 3;
             INSERT INTO round_sites (round_id, site_id, shard, n)
                 SELECT round_id, site_id, shard, sum(n) FROM lane_minutes GROUP BY 1, 2, 3;",
            area = town.town.id,
            path = town.town.path,
            round = round.id,
        ))
        .await
        .unwrap();
    client.batch_execute("VACUUM ANALYZE").await.unwrap();
    let rows: i64 = client.query_one("SELECT count(*) FROM lane_minutes", &[]).await.unwrap().get(0);
    let counters: i64 = client
        .query_one(
            "SELECT (SELECT count(*) FROM round_tubes) + (SELECT count(*) FROM round_hours) + (SELECT count(*) FROM round_sites)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    eprintln!("{tubes} tubes, {rows} lane-minute rows, {counters} counter rows in {:.1?}", t.elapsed());

    let p = town.store.progress(round.id).await.unwrap();
    println!(
        "progress: {} registrations, {} tubes ({} open, {} resulted), {} hours, {} sites",
        p.registrations,
        p.tubes,
        p.tubes_open,
        p.tubes_resulted,
        p.by_hour.len(),
        p.by_site.len()
    );
    let old_sql: [&str; 3] = [
        "SELECT count(*), count(*) FILTER (WHERE state = 'open'), count(*) FILTER (WHERE state = 'resulted')
         FROM tubes WHERE round_id = $1",
        "SELECT (minute * 60000 / 3600000) * 3600000, sum(n)::bigint FROM lane_minutes WHERE round_id = $1 GROUP BY 1 ORDER BY 1",
        "SELECT s.id, s.name, sum(m.n)::bigint FROM lane_minutes m JOIN sites s ON s.id = m.site_id
         WHERE m.round_id = $1 GROUP BY s.id, s.name ORDER BY s.name, s.id",
    ];
    assert_eq!(
        old(&client, round.id, &old_sql).await,
        (p.registrations, p.tubes, p.tubes_open, p.tubes_resulted, p.by_hour.len(), p.by_site.len())
    );
    let cpu = common::cpu(&town.db).await;
    let mut new_times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        town.store.progress(round.id).await.unwrap();
        new_times.push(t.elapsed());
    }
    let used = common::cpu(&town.db).await;
    let mut old_times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        old(&client, round.id, &old_sql).await;
        old_times.push(t.elapsed());
    }
    println!("progress from the counters (store call, 200 times): {}", percentiles(new_times));
    println!(
        "  CPU per call: PostgreSQL {:.3} ms, this process {:.3} ms",
        (used.1 - cpu.1) * 5.0,
        (used.0 - cpu.0) * 5.0
    );
    println!("the former statements (summing and counting, 10 times): {}", percentiles(old_times));
    drop(client);
    common::finish(town.store, town.db);
}
