//! Load test of command storage on SQLite (the PostgreSQL twin is `bulwark-postgres`'s
//! `command_load`), on a fresh file in a temporary directory:
//!
//! 1. Activation: the default plan opened for `--staff` staff (default 5,000), `--activations`
//!    times (default 5); the time of `open_incident` alone, and of `Plan::instantiate` before it.
//! 2. The raw limit of the engine in this run: `--callers` concurrent callers (default 64), each
//!    writing one row per call through the writer (its own savepoint in a group-committed,
//!    fsynced transaction), for `--seconds` (default 10).
//! 3. Roll-call: an incident of `--people` members (default 300,000), then the same callers
//!    answer "arrived" for `--seconds`, every answer a different person and a first arrival (the
//!    heaviest answer: member row, log entry and timeline entry). Checked afterwards: every answer
//!    moved its member, one arrival entry each.
//!
//! `cargo run --release -p bulwark-sqlite --example sqlite_command [-- --staff N --people N --callers N --seconds N]`

use bulwark_domain::{
    access::Scope,
    command::{RollCallPlace, RollCallStatus, TimelineKind, golden_24_hours},
    workforce::Team,
};
use bulwark_store::{
    CommandStore,
    command::{NewAnswer, NewIncident},
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

const T0: i64 = 1_665_010_800_000;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).map(|i| args[i + 1].parse().unwrap()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted.get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or_default()
}

/// Staff `1..=n`, in the proportions of the source story (cadres, grid workers, volunteers) with
/// medical samplers added.
fn staff(n: usize) -> Vec<(i64, Team)> {
    let teams = [Team::Cadre, Team::GridWorker, Team::GridWorker, Team::Volunteer, Team::Sampler];
    (1..=n as i64).map(|p| (p, teams[p as usize % teams.len()])).collect()
}

fn incident(label: &str, staff: &[(i64, Team)], at: i64) -> (NewIncident, Duration) {
    let plan = golden_24_hours();
    let t = Instant::now();
    let activation = plan.instantiate(at, staff);
    let took = t.elapsed();
    let tokens =
        activation.groups.iter().flat_map(|g| g.members.iter()).map(|p| (*p, format!("{label}{p:060x}"))).collect();
    let new = NewIncident {
        plan: plan.key.clone(),
        plan_version: 1,
        title: format!("演练 {label}"),
        trigger: "2名核酸异常人员曾在太子农庄就餐".into(),
        level: bulwark_domain::command::IncidentLevel::parse("3").unwrap(),
        area: 1,
        headquarters: "镇应急指挥中心".into(),
        forward_post: "太子农庄".into(),
        by: 1,
        activation,
        tokens,
        timeline_text: "启动预案".into(),
    };
    (new, took)
}

#[tokio::main]
async fn main() {
    let staff_n = arg("--staff", 5_000);
    let people = arg("--people", 300_000).max(staff_n);
    let callers = arg("--callers", 64);
    let seconds = arg("--seconds", 10) as u64;
    let activations = arg("--activations", 5);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("command.db");
    let store = Arc::new(bulwark_sqlite::SqliteStore::open(&path).unwrap());
    // The town and its people straight into the file: this measures command, not the register.
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             INSERT INTO areas (id, code, name, kind, parent_id, path) VALUES (1, '440785101', '圣堂镇', 'town', NULL, '/1/');",
        )
        .unwrap();
        let tx = c.unchecked_transaction().unwrap();
        {
            let mut s = tx
                .prepare(
                    "INSERT INTO persons (id, name, doc_type, area_id, area_path, created_at, updated_at)
                     VALUES (?1, ?2, 'none', 1, '/1/', 0, 0)",
                )
                .unwrap();
            for p in 1..=people as i64 {
                s.execute(rusqlite::params![p, format!("工作人员{p}")]).unwrap();
            }
        }
        tx.commit().unwrap();
    }
    store.save_plan(&golden_24_hours(), T0, 1).await.unwrap();

    // 1. Activation of the default plan for the staff.
    let staff5k = staff(staff_n);
    let mut times = Vec::new();
    for i in 0..activations {
        let (new, instantiate) = incident(&format!("a{i}"), &staff5k, T0 + i as i64 * 60_000);
        let t = Instant::now();
        store.open_incident(new).await.unwrap();
        let took = t.elapsed();
        println!("activation {i}: {staff_n} members, instantiate {instantiate:.1?}, open_incident {took:.1?}");
        times.push(took);
    }
    times.sort_unstable();
    println!("activation of {staff_n}: open_incident min {:.1?}, median {:.1?}", times[0], times[times.len() / 2]);

    // 2. The raw limit: one-row writes through the writer, `callers` at a time.
    store
        .write(|c| {
            c.execute_batch("CREATE TABLE bench (id INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
                .map_err(|e| bulwark_store::StoreError::Internal(e.to_string()))
        })
        .await
        .unwrap();
    let t = Instant::now();
    let handles: Vec<_> = (0..callers)
        .map(|k| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut n = 0_u64;
                while t.elapsed() < Duration::from_secs(seconds) {
                    store
                        .write(move |c| {
                            c.execute("INSERT INTO bench (v) VALUES (?1)", [k as i64])
                                .map_err(|e| bulwark_store::StoreError::Internal(e.to_string()))
                        })
                        .await
                        .unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut raw = 0;
    for h in handles {
        raw += h.await.unwrap();
    }
    let raw_rate = raw as f64 / t.elapsed().as_secs_f64();
    println!("raw limit: one-row write per call, {callers} callers: {raw} in {:.1?} = {raw_rate:.0}/s", t.elapsed());

    // 3. Roll-call answers: every answer a different member's first arrival.
    let everyone = staff(people);
    let (new, instantiate) = incident("rc", &everyone, T0 + 3_600_000);
    let t = Instant::now();
    let id = store.open_incident(new).await.unwrap();
    println!("activation of {people}: instantiate {instantiate:.1?}, open_incident {:.1?}", t.elapsed());
    let members: Arc<Vec<i64>> = Arc::new(store.members(id).await.unwrap().iter().map(|m| m.person).collect());
    let t = Instant::now();
    let handles: Vec<_> = (0..callers)
        .map(|k| {
            let (store, members) = (store.clone(), members.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut i = k;
                while i < members.len() && t.elapsed() < Duration::from_secs(seconds) {
                    let answer = NewAnswer {
                        incident: id,
                        person: members[i],
                        status: RollCallStatus::Arrived,
                        place: Some(RollCallPlace::Headquarters),
                        at: T0 + 3_600_000 + i as i64,
                        by: None,
                        arrival_text: format!("工作人员{}到达总指挥部", members[i]),
                        audit: NewAnswer::link_audit(
                            id,
                            members[i],
                            RollCallStatus::Arrived,
                            T0 + 3_600_000 + i as i64,
                        ),
                    };
                    let start = Instant::now();
                    let (before, after) = store.record_answer(answer).await.unwrap().expect("a member");
                    latencies.push(start.elapsed());
                    assert!(before.arrived_at.is_none() && after.arrived_at.is_some());
                    i += callers;
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
    latencies.sort_unstable();
    let answers = latencies.len();
    let rate = answers as f64 / elapsed.as_secs_f64();
    if answers == members.len() {
        println!("(every member answered before the time was up: raise --people)");
    }
    let arrived = store.members(id).await.unwrap().iter().filter(|m| m.arrived_at.is_some()).count();
    let entries = store.timeline(id).await.unwrap().iter().filter(|e| e.kind == TimelineKind::Arrival).count();
    assert_eq!((arrived, entries), (answers, answers));
    assert_eq!(store.incidents(&Scope { area: 1, path: "/1/".into() }).await.unwrap().len(), activations + 1);
    println!(
        "record_answer: {answers} answers, {callers} callers: {elapsed:.1?} = {rate:.0}/s ({:.0} % of the raw limit); \
         latency p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        100.0 * rate / raw_rate,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
}
