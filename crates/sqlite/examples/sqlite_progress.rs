//! Benchmark of a round's progress on SQLite at city scale: `--tubes` tubes (default 1,000,000)
//! and the lane-minute rows of 10,000,000 registrations (2,000 sites of 4 lanes over 450 minutes:
//! 3.6 M rows, as at city scale) inserted directly with SQL, the progress counters filled from
//! them as migration 0010 does; then `progress` through the store (the counters) is timed against
//! the statements it ran before (summing the lane minutes, counting the tubes) in the same run.
//!
//! `cargo run --release -p bulwark-sqlite --example sqlite_progress [-- --tubes N]`

use bulwark_store::TestingStore;
use std::time::{Duration, Instant};

const T0: i64 = 1_665_010_800_000;
const SITES: i64 = 2_000;
const LANES: i64 = 4;
const MINUTES: i64 = 450;

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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let tubes: i64 =
        args.iter().position(|a| a == "--tubes").map(|i| args[i + 1].parse().unwrap()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("progress.db");
    let store = bulwark_sqlite::SqliteStore::open(&path).unwrap();
    let t = Instant::now();
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "PRAGMA journal_mode = WAL;
         INSERT INTO areas (id, code, name, kind, parent_id, path) VALUES (1, '440785', '恩平市', 'county', NULL, '/1/');
         INSERT INTO rounds (id, name, pool_size, starts_at, created_at) VALUES (1, 'bench', 10, 0, 0);",
    )
    .unwrap();
    let tx = c.unchecked_transaction().unwrap();
    {
        let mut site = tx
            .prepare("INSERT INTO sites (id, name, area_id, area_path, opens, closes, created_at) VALUES (?1, ?2, 1, '/1/', 0, 0, 0)")
            .unwrap();
        for s in 1..=SITES {
            site.execute(rusqlite::params![s, format!("采样点{s:04}")]).unwrap();
        }
        let mut tube = tx
            .prepare("INSERT INTO tubes (id, code, round_id, site_id, pool_size, state, members, opened_at) VALUES (?1, ?2, 1, ?3, 10, ?4, 10, ?5)")
            .unwrap();
        for i in 0..tubes {
            let state = match i % 10 {
                0 => "open",
                1..=4 => "resulted",
                _ => "sealed",
            };
            tube.execute(rusqlite::params![i + 1, format!("EP{i:09}"), 1 + i % SITES, state, T0]).unwrap();
        }
        // 10 M registrations spread over the lanes and minutes (2.78 a lane-minute).
        let mut minute = tx
            .prepare("INSERT INTO lane_minutes (round_id, site_id, lane_id, minute, n) VALUES (1, ?1, ?2, ?3, ?4)")
            .unwrap();
        for s in 1..=SITES {
            for l in 0..LANES {
                for m in 0..MINUTES {
                    minute
                        .execute(rusqlite::params![s, s * LANES + l, T0 / 60_000 + m, 2 + i64::from(m % 9 < 7)])
                        .unwrap();
                }
            }
        }
    }
    tx.commit().unwrap();
    c.execute_batch(
        "INSERT INTO round_tubes (round_id, state, n) SELECT round_id, state, count(*) FROM tubes GROUP BY round_id, state;
         INSERT INTO round_hours (round_id, hour, n)
             SELECT round_id, (minute / 60) * 3600000, sum(n) FROM lane_minutes GROUP BY 1, 2 HAVING sum(n) <> 0;
         INSERT INTO round_sites (round_id, site_id, n)
             SELECT round_id, site_id, sum(n) FROM lane_minutes GROUP BY 1, 2 HAVING sum(n) <> 0;
         ANALYZE;",
    )
    .unwrap();
    println!(
        "loaded {tubes} tubes, {} lane-minute rows in {:.1} s",
        SITES * LANES * MINUTES,
        t.elapsed().as_secs_f64()
    );

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let p = rt.block_on(store.progress(1)).unwrap();
    println!(
        "progress: {} registrations, {} tubes ({} open, {} resulted), {} hours, {} sites",
        p.registrations,
        p.tubes,
        p.tubes_open,
        p.tubes_resulted,
        p.by_hour.len(),
        p.by_site.len()
    );
    // The statements `progress` ran before the counters, on a connection of its own.
    let old = |c: &rusqlite::Connection| {
        let one = |sql: &str| c.query_row(sql, [], |r| r.get::<_, Option<i64>>(0)).unwrap().unwrap_or(0);
        let registrations = one("SELECT sum(n) FROM lane_minutes WHERE round_id = 1");
        let total = one("SELECT count(*) FROM tubes WHERE round_id = 1");
        let open = one("SELECT count(*) FROM tubes WHERE round_id = 1 AND state = 'open'");
        let resulted = one("SELECT count(*) FROM tubes WHERE round_id = 1 AND state = 'resulted'");
        let hours: Vec<(i64, i64)> = c
            .prepare_cached("SELECT (minute * 60000 / 3600000) * 3600000, sum(n) FROM lane_minutes WHERE round_id = 1 GROUP BY 1 ORDER BY 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let sites: Vec<(i64, i64)> = c
            .prepare_cached("SELECT s.id, sum(m.n) FROM lane_minutes m JOIN sites s ON s.id = m.site_id WHERE m.round_id = 1 GROUP BY s.id ORDER BY s.name, s.id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        (registrations as u64, total as u64, open as u64, resulted as u64, hours.len(), sites.len())
    };
    let before = old(&c);
    assert_eq!(before, (p.registrations, p.tubes, p.tubes_open, p.tubes_resulted, p.by_hour.len(), p.by_site.len()));
    let mut new_times = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        rt.block_on(store.progress(1)).unwrap();
        new_times.push(t.elapsed());
    }
    let mut old_times = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        old(&c);
        old_times.push(t.elapsed());
    }
    println!("progress from the counters (store call, 200 times): {}", percentiles(new_times));
    println!("the former statements (summing and counting, 10 times): {}", percentiles(old_times));
}
