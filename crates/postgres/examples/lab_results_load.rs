//! Load test of lab results on PostgreSQL, on a fresh database (dropped at the end):
//! `--tubes` sealed tubes (default 2,500,000, inserted directly with SQL) receive one result each
//! through `record_results`, in lab files of `--file` results (default 100,000), `--parallel` files
//! at a time (default 2). About one tube in a thousand is abnormal or positive; the ten members of
//! those pools are residents with an ID number, a phone and an address, one in ten with a
//! single-tube re-test registered after the result. Right after the load the abnormal pools'
//! members are listed (`--lists` times, default 5) and the audit entries of one list are
//! appended, as the request does. Then one file is sent again (every result "unchanged") and a
//! file of unknown codes (every result to review).
//!
//! `cargo run --release -p bulwark-postgres --example lab_results_load [-- --tubes N --file N --parallel N --lists N]`

#[path = "common/mod.rs"]
mod common;

use bulwark_domain::{
    access::{Operation, Role, Scope},
    audit::{AuditStamp, Outcome},
    people::IdNumber,
    testing::{LabOutcome, LabResult, TubeCode},
};
use bulwark_postgres::testing::raw;
use bulwark_store::{AuditStore, TestingStore};
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
    let lists = arg("--lists", 5);
    // 50,000 residents: enough for the members of 5,000 pools of ten.
    let town = common::town(5, 10).await;
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
    // The residents as a register holds them: an ID number, a phone, an address, a birth date.
    let ids: Vec<i64> = town.people.iter().map(|(id, _)| *id).collect();
    let numbers: Vec<String> = (0..ids.len())
        .map(|i| {
            let birth = chrono::NaiveDate::from_ymd_opt(1940, 1, 1).unwrap() + chrono::Days::new((i / 900) as u64);
            IdNumber::from_body(&format!("440785{}{:03}", birth.format("%Y%m%d"), 100 + i % 900)).as_str().to_string()
        })
        .collect();
    client
        .execute(
            "UPDATE persons p SET doc_type = 'resident_id', doc_number = u.n, phone = '138' || lpad(p.id::text, 8, '0'),
                 address = '恩平市圣堂镇' || p.grid_id || '网格' || (p.id % 500) || '号',
                 birth_date = to_date(substr(u.n, 7, 8), 'YYYYMMDD'), sex = CASE WHEN p.id % 2 = 0 THEN 'male' ELSE 'female' END
             FROM UNNEST($1::bigint[], $2::text[]) AS u(id, n) WHERE p.id = u.id",
            &[&ids, &numbers],
        )
        .await
        .unwrap();
    // The ten members of every tube that will come back abnormal or positive (by the codes'
    // numbers: 7 and 500 in each thousand), and a single-tube re-test for one member in ten.
    let members = client
        .execute(
            "WITH pt AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM tubes
                         WHERE round_id = $1 AND substr(code, 2)::int % 1000 IN (7, 500)),
                  pp AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM persons)
             INSERT INTO registrations (idem_key, body_hash, round_id, site_id, lane_id, tube_id, person_id, seq, at,
                                        account_id, home, flags, tube_state, tube_members)
             SELECT 'k-' || pt.id || '-' || m, 0, $1, $2, $3, pt.id, pp.id, 0, $4::bigint, 1, false, 0, 'sealed', m + 1
             FROM pt CROSS JOIN generate_series(0, 9) AS m JOIN pp ON pp.n = pt.n * 10 + m",
            &[&round.id, &site.id, &site.lanes[0].id, &T0],
        )
        .await
        .unwrap();
    let retest_at = T0 + 10 * 3_600_000;
    client
        .batch_execute(&format!(
            "INSERT INTO tubes (code, round_id, site_id, lane_id, pool_size, state, members, opened_at, sealed_at)
             SELECT 'R' || lpad(r.person_id::text, 9, '0'), r.round_id, r.site_id, r.lane_id, 1, 'sealed', 1, {retest_at}, {retest_at}
             FROM registrations r WHERE r.person_id % 10 = 3;
             INSERT INTO registrations (idem_key, body_hash, round_id, site_id, lane_id, tube_id, person_id, seq, at,
                                        account_id, home, flags, tube_state, tube_members)
             SELECT 'r-' || r.person_id, 0, r.round_id, r.site_id, r.lane_id, t.id, r.person_id, 1, {retest_at}, 1, true, 0, 'sealed', 1
             FROM registrations r JOIN tubes t ON t.code = 'R' || lpad(r.person_id::text, 9, '0') WHERE r.person_id % 10 = 3;"
        ))
        .await
        .unwrap();
    client.batch_execute("VACUUM ANALYZE").await.unwrap();
    eprintln!("{tubes} sealed tubes, {members} members of the pools to come in {:.1?}", t.elapsed());

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

    // Right afterwards: the abnormal pools with their members, as the command lists them.
    let everyone = Scope::of(&town.town);
    let (mut wall, mut cpu_ms) = (Vec::new(), Vec::new());
    let mut pools = Vec::new();
    for _ in 0..lists {
        drop(std::mem::take(&mut pools));
        let (t, before) = (Instant::now(), common::cpu(&town.db).await);
        pools = store.abnormal_pools(round.id, &everyone).await.unwrap();
        let elapsed = t.elapsed().as_secs_f64() * 1000.0;
        let after = common::cpu(&town.db).await;
        wall.push(elapsed);
        cpu_ms.push(((after.0 - before.0) * 1000.0, (after.1 - before.1) * 1000.0));
    }
    let listed: usize = pools.iter().map(|p| p.members.len()).sum();
    let retests = pools.iter().flat_map(|p| &p.members).filter(|m| m.retest.is_some()).count();
    let mut sorted = wall.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "abnormal pools: {} pools, {listed} members ({retests} with a re-test) in {:?} ms (median {:.1} ms); \
         CPU ms (this process, PostgreSQL; 10 ms ticks) {:?}",
        pools.len(),
        wall.iter().map(|t| (t * 10.0).round() / 10.0).collect::<Vec<_>>(),
        sorted[sorted.len() / 2],
        cpu_ms
    );
    let stamp = AuditStamp {
        at: T0 + 11 * 3_600_000,
        user: Some(1),
        username: "commander".into(),
        role: Some(Role::Commander),
        operation: Operation::AbnormalPoolsRead,
        request_id: "bench".into(),
    };
    let entries: Vec<_> =
        pools.iter().flat_map(|p| &p.members).map(|m| stamp.entry(Some(m.person.id), Outcome::Success, None)).collect();
    let t = Instant::now();
    store.append_audit(entries).await.unwrap();
    println!("  its {listed} audit entries appended in {:.1?}", t.elapsed());
    println!(
        "  load average {}",
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split(' ').take(3).collect::<Vec<_>>().join(" ")
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
