//! Load test of lab results on SQLite (the PostgreSQL twin is in bulwark-postgres): `--tubes`
//! tubes (default 2,500,000 — one Shanghai day — inserted directly with SQL) receive one result
//! each through `record_results`, in lab files of 100,000; one tube in a thousand is abnormal or
//! positive. The ten members of those pools are residents as the register holds them (an ID
//! number, a phone, an address, a grid), one in ten with a single-tube re-test registered after
//! the result. Then the abnormal pools' members are listed, as the command would right afterwards
//! (`--lists` times, default 5: the first is the figure "right afterwards", the others show the
//! spread), and the audit entries of one list (one per member shown) are appended and committed
//! as the request does.
//!
//! `cargo run --release -p bulwark-sqlite --example sqlite_lab_results [-- --tubes N --lists N --keep FILE]`
//!
//! `--keep FILE` leaves the database at FILE (for `bulwark serve` on it, say); `--reuse FILE` lists
//! the pools of a database left that way (nothing is loaded).

use bulwark_domain::{
    access::{Operation, Role, Scope},
    audit::{AuditStamp, Outcome},
    people::IdNumber,
    testing::{LabOutcome, LabResult, TubeCode},
};
use bulwark_store::{AuditStore, TestingStore};
use std::time::Instant;

const T0: i64 = 1_665_010_800_000;
/// Grids the members live in.
const GRIDS: i64 = 100;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).map(|i| args[i + 1].clone())
}

/// The `i`-th member's ID number (born 1940 onwards, valid check digit).
fn id_number(i: usize) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).unwrap() + chrono::Days::new((i / 900) as u64);
    IdNumber::from_body(&format!("440785{}{:03}", birth.format("%Y%m%d"), 100 + i % 900)).as_str().to_string()
}

/// CPU time this process has used, in ms (every thread's from /proc, in nanoseconds): on a machine
/// shared with other work the wall time of a list is partly the neighbours'.
fn cpu_ms() -> f64 {
    let tasks = std::fs::read_dir("/proc/self/task").unwrap();
    let ns: u64 = tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum();
    ns as f64 / 1e6
}

fn main() {
    let tubes: usize = arg("--tubes").map(|s| s.parse().unwrap()).unwrap_or(2_500_000);
    let lists: usize = arg("--lists").map(|s| s.parse().unwrap()).unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    let path = match arg("--keep") {
        Some(p) => std::path::PathBuf::from(p),
        None => dir.path().join("lab.db"),
    };
    let reuse = arg("--reuse").map(std::path::PathBuf::from);
    let path = reuse.clone().unwrap_or(path);
    let store = bulwark_sqlite::SqliteStore::open(&path).unwrap();
    // Tubes straight into the file: a county, its grids, a round, a site; the members of the
    // tubes that will come back abnormal or positive.
    let t = Instant::now();
    let mut members = 0usize;
    if reuse.is_none() {
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
            let mut grid = tx
                .prepare("INSERT INTO areas (id, code, name, kind, parent_id, path) VALUES (?1, ?2, ?3, 'grid', 1, ?4)")
                .unwrap();
            for g in 2..2 + GRIDS {
                grid.execute(rusqlite::params![g, format!("440785-G{g:03}"), format!("第{g}网格"), format!("/1/{g}/")])
                    .unwrap();
            }
            let mut s = tx
                .prepare("INSERT INTO tubes (id, code, round_id, site_id, pool_size, state, members, opened_at) VALUES (?1, ?2, 1, 1, ?3, 'sealed', ?4, ?5)")
                .unwrap();
            for i in 0..tubes {
                s.execute(rusqlite::params![i as i64 + 1, format!("EP{i:09}"), 10, 10, T0]).unwrap();
            }
            let mut person = tx
                .prepare(
                    "INSERT INTO persons (name, doc_type, doc_number, sex, birth_date, phone, address, area_id, grid_id, area_path, created_at, updated_at) \
                     VALUES (?1, 'resident_id', ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, 0, 0)",
                )
                .unwrap();
            let mut reg = tx
                .prepare(
                    "INSERT INTO registrations (idem_key, body_hash, round_id, site_id, tube_id, person_id, at, account_id, home, flags, tube_state, tube_members) \
                     VALUES (?1, 0, 1, 1, ?2, ?3, ?4, 1, ?6, 0, 'sealed', ?5)",
                )
                .unwrap();
            let mut retest = 0;
            for i in (0..tubes).filter(|i| matches!(i % 1000, 7 | 500)) {
                for m in 0..10 {
                    let id = id_number(members);
                    let g = 2 + (members as i64 % GRIDS);
                    person
                        .execute(rusqlite::params![
                            format!("居民{members}"),
                            id,
                            if members.is_multiple_of(2) { "male" } else { "female" },
                            format!("{}-{}-{}", &id[6..10], &id[10..12], &id[12..14]),
                            format!("138{:08}", members),
                            format!("恩平市圣堂镇第{g}网格{}号", members % 500),
                            g,
                            format!("/1/{g}/")
                        ])
                        .unwrap();
                    let pid = tx.last_insert_rowid();
                    reg.execute(rusqlite::params![format!("k-{i}-{m}"), i as i64 + 1, pid, T0, m + 1, 0]).unwrap();
                    // One member in ten already has a single-tube re-test (its result to come).
                    if members % 10 == 3 {
                        let tube = (tubes + retest) as i64 + 1;
                        s.execute(rusqlite::params![tube, format!("RT{retest:09}"), 1, 1, T0 + 9 * 3_600_000]).unwrap();
                        reg.execute(rusqlite::params![format!("r-{retest}"), tube, pid, T0 + 9 * 3_600_000, 1, 1])
                            .unwrap();
                        retest += 1;
                    }
                    members += 1;
                }
            }
        }
        tx.commit().unwrap();
    }
    eprintln!("{tubes} sealed tubes, {members} members of the pools to come in {:.1?}", t.elapsed());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let t = Instant::now();
        let mut i = 0;
        while i < tubes && reuse.is_none() {
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
        let everyone = Scope { area: 1, path: "/1/".into() };
        let mut times = Vec::new();
        let mut cpu = Vec::new();
        let mut pools = Vec::new();
        for _ in 0..lists {
            drop(std::mem::take(&mut pools));
            let (t, c) = (Instant::now(), cpu_ms());
            pools = store.abnormal_pools(1, &everyone).await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            cpu.push(cpu_ms() - c);
        }
        let listed: usize = pools.iter().map(|p| p.members.len()).sum();
        let retests = pools.iter().flat_map(|p| &p.members).filter(|m| m.retest.is_some()).count();
        // The audit of one list, as the request writes it: an entry per member, committed.
        let stamp = AuditStamp {
            at: T0 + 8 * 3_600_000,
            user: Some(1),
            username: "commander".into(),
            role: Some(Role::Commander),
            operation: Operation::AbnormalPoolsRead,
            request_id: "bench".into(),
        };
        let entries = pools.iter().flat_map(|p| &p.members).map(|m| stamp.entry(Some(m.person.id), Outcome::Success, None));
        let entries: Vec<_> = entries.collect();
        let (t, c) = (Instant::now(), cpu_ms());
        store.append_audit(entries).await.unwrap();
        let audit = t.elapsed().as_secs_f64() * 1000.0;
        let audit_cpu = cpu_ms() - c;
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let tenths = |v: &[f64]| v.iter().map(|t| (t * 10.0).round() / 10.0).collect::<Vec<_>>();
        println!(
            "{{\"engine\":\"sqlite\",\"tubes\":{tubes},\"load_s\":{load:.2},\"results_per_s\":{:.0},\"abnormal_pools\":{},\"members\":{listed},\"retests\":{retests},\"list_ms\":{:?},\"list_median_ms\":{:.1},\"list_cpu_ms\":{:?},\"list_cpu_median_ms\":{:.1},\"audit_ms\":{audit:.1},\"audit_cpu_ms\":{audit_cpu:.1},\"load_average\":\"{}\"}}",
            tubes as f64 / load,
            pools.len(),
            tenths(&times),
            median(&times),
            tenths(&cpu),
            median(&cpu),
            std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').take(3).collect::<Vec<_>>().join(" "),
        );
    });
    if arg("--keep").is_some() {
        eprintln!("database left at {}", path.display());
    }
}
