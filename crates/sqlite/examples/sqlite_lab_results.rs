//! Load test of lab results on SQLite (the PostgreSQL twin is in bulwark-postgres): `--tubes`
//! tubes (default 2,500,000 — one Shanghai day — inserted directly with SQL) receive one result
//! each through `record_results`, in lab files of 100,000; one tube in a thousand is abnormal or
//! positive. Then the abnormal pools' members are listed, as the command would right afterwards.
//!
//! `cargo run --release -p bulwark-sqlite --example sqlite_lab_results [-- --tubes N]`

use bulwark_domain::{
    access::Scope,
    testing::{LabOutcome, LabResult, TubeCode},
};
use bulwark_store::TestingStore;
use std::time::Instant;

const T0: i64 = 1_665_010_800_000;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let tubes: usize =
        args.iter().position(|a| a == "--tubes").map(|i| args[i + 1].parse().unwrap()).unwrap_or(2_500_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lab.db");
    let store = bulwark_sqlite::SqliteStore::open(&path).unwrap();
    // Tubes straight into the file: a county, a round, a site, one person per tube's first member.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             INSERT INTO areas (id, code, name, kind, parent_id, path) VALUES (1, '440785', '恩平市', 'county', NULL, '/1/');
             INSERT INTO rounds (id, name, pool_size, starts_at, created_at) VALUES (1, 'bench', 10, 0, 0);
             INSERT INTO sites (id, name, area_id, area_path, opens, closes, created_at) VALUES (1, 'bench', 1, '/1/', 0, 0, 0);",
        )
        .unwrap();
        let tx = c.unchecked_transaction().unwrap();
        {
            let mut s = tx
                .prepare("INSERT INTO tubes (id, code, round_id, site_id, pool_size, state, members, opened_at) VALUES (?1, ?2, 1, 1, 10, 'sealed', 10, ?3)")
                .unwrap();
            for i in 0..tubes {
                s.execute(rusqlite::params![i as i64 + 1, format!("EP{i:09}"), T0]).unwrap();
            }
            // The ten members of every tube that will come back abnormal or positive.
            let mut person = tx
                .prepare("INSERT INTO persons (name, doc_type, area_id, area_path, created_at, updated_at) VALUES ('受检者', 'none', 1, '/1/', 0, 0)")
                .unwrap();
            let mut reg = tx
                .prepare(
                    "INSERT INTO registrations (idem_key, body_hash, round_id, site_id, tube_id, person_id, at, account_id, home, flags, tube_state, tube_members) \
                     VALUES (?1, 0, 1, 1, ?2, ?3, ?4, 1, 0, 0, 'sealed', ?5)",
                )
                .unwrap();
            for i in (0..tubes).filter(|i| matches!(i % 1000, 7 | 500)) {
                for m in 0..10 {
                    person.execute([]).unwrap();
                    let id = tx.last_insert_rowid();
                    reg.execute(rusqlite::params![format!("k-{i}-{m}"), i as i64 + 1, id, T0, m + 1]).unwrap();
                }
            }
        }
        tx.commit().unwrap();
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let t = Instant::now();
        let mut i = 0;
        while i < tubes {
            let end = (i + 100_000).min(tubes);
            let file: Vec<LabResult> = (i..end)
                .map(|n| {
                    let outcome = match n % 1000 {
                        7 => LabOutcome::Abnormal,
                        500 => LabOutcome::Positive,
                        _ => LabOutcome::Negative,
                    };
                    LabResult {
                        tube: TubeCode::from_stored(format!("EP{n:09}")),
                        outcome,
                        ct_orf1ab: outcome.is_abnormal().then_some(33.1),
                        ct_n: None,
                        sampled_at: Some(T0),
                        tested_at: None,
                        reported_at: Some(T0 + 6 * 3_600_000),
                        lab: Some("恩平市人民医院检验科".into()),
                    }
                })
                .collect();
            store.record_results(file, 1, T0 + 7 * 3_600_000).await.unwrap();
            i = end;
        }
        let load = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let everyone = Scope { area: 1, path: "/1/".into() };
        let pools = store.abnormal_pools(1, &everyone).await.unwrap();
        let list = t.elapsed().as_secs_f64();
        println!(
            "{{\"engine\":\"sqlite\",\"tubes\":{tubes},\"load_s\":{load:.2},\"results_per_s\":{:.0},\"abnormal_pools\":{},\"members\":{},\"list_ms\":{:.1}}}",
            tubes as f64 / load,
            pools.len(),
            pools.iter().map(|p| p.members.len()).sum::<usize>(),
            list * 1000.0
        );
    });
}
