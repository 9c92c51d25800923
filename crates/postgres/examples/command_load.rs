//! Load test of command storage on PostgreSQL (the SQLite twin is `bulwark-sqlite`'s
//! `sqlite_command`), on a fresh database that is dropped at the end:
//!
//! 1. Activation: the default plan opened for `--staff` staff (default 5,000), `--activations`
//!    times (default 5); the time of `open_incident` alone, and of `Plan::instantiate` before it.
//! 2. The raw limit of this server in this run: `--callers` concurrent callers (default 64) over
//!    16 connections (the store's pool size), each sending one-row INSERTs, one transaction each
//!    (durable: the server runs with fsync and synchronous_commit on), for `--seconds` (default 10).
//! 3. Roll-call: an incident of `--people` members (default 100,000), then the same callers
//!    answer "arrived" for `--seconds`, every answer a different person and a first arrival (the
//!    heaviest answer: member row under its lock, log entry and timeline entry). Checked
//!    afterwards: every answer moved its member, one arrival entry each.
//!
//! `cargo run --release -p bulwark-postgres --example command_load [-- --staff N --people N --callers N --seconds N]`

use bulwark_domain::{
    access::Scope,
    areas::{AreaCode, AreaKind, NewArea},
    command::{IncidentLevel, RollCallPlace, RollCallStatus, TimelineKind, golden_24_hours},
    workforce::Team,
};
use bulwark_postgres::{
    PgStore,
    testing::{TestDb, raw},
};
use bulwark_store::{
    AreaStore, CommandStore,
    command::{NewAnswer, NewIncident},
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

const T0: i64 = 1_665_010_800_000;
/// Connections of the raw comparison: the store's pool size.
const RAW_CONNECTIONS: usize = 16;

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).map(|i| args[i + 1].parse().unwrap()).unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted.get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1))).copied().unwrap_or_default()
}

/// Staff: the given people, in the proportions of the source story (cadres, grid workers,
/// volunteers) with medical samplers added.
fn staff(people: &[i64]) -> Vec<(i64, Team)> {
    let teams = [Team::Cadre, Team::GridWorker, Team::GridWorker, Team::Volunteer, Team::Sampler];
    people.iter().enumerate().map(|(i, p)| (*p, teams[i % teams.len()])).collect()
}

fn incident(label: &str, area: i64, staff: &[(i64, Team)], at: i64) -> (NewIncident, Duration) {
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
        level: IncidentLevel::parse("3").unwrap(),
        area,
        headquarters: "镇应急指挥中心".into(),
        forward_post: "太子农庄".into(),
        by: 1,
        activation,
        tokens,
        timeline_text: "启动预案".into(),
    };
    (new, took)
}

/// CPU seconds used so far by this process and by the PostgreSQL backends connected to the
/// example's database (from /proc; other work on the machine is not counted).
async fn cpu(db: &TestDb) -> (f64, f64) {
    fn ticks(pid: &str) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let after = stat.rsplit_once(") ").map(|(_, rest)| rest).unwrap_or("");
        let fields: Vec<&str> = after.split(' ').collect();
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
        (field(11) + field(12)) / 100.0
    }
    let client = raw(&db.url).await;
    let pids: Vec<i32> = client
        .query("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    (ticks("self"), pids.iter().map(|p| ticks(&p.to_string())).sum())
}

#[tokio::main]
async fn main() {
    let staff_n = arg("--staff", 5_000);
    let people_n = arg("--people", 100_000).max(staff_n);
    let callers = arg("--callers", 64);
    let seconds = arg("--seconds", 10) as u64;
    let activations = arg("--activations", 5);

    let db = TestDb::create().await;
    let store = Arc::new(PgStore::connect(&db.url).await.unwrap());
    let town = store
        .create_area(NewArea {
            code: AreaCode::parse("440785101").unwrap(),
            name: "圣堂镇".into(),
            kind: AreaKind::Town,
            parent: None,
        })
        .await
        .unwrap();
    // The people straight into the table: this measures command, not the register.
    let client = raw(&db.url).await;
    client
        .execute(
            "INSERT INTO persons (name, doc_type, area_id, area_path, created_at, updated_at)
             SELECT '工作人员' || i, 'none', $1, $2, 0, 0 FROM generate_series(1, $3::int) AS i",
            &[&town.id, &town.path, &(people_n as i32)],
        )
        .await
        .unwrap();
    client.batch_execute("VACUUM ANALYZE").await.unwrap();
    let people: Vec<i64> =
        client.query("SELECT id FROM persons ORDER BY id", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    store.save_plan(&golden_24_hours(), T0, 1).await.unwrap();

    // 1. Activation of the default plan for the staff.
    let staff5k = staff(&people[..staff_n]);
    let mut times = Vec::new();
    for i in 0..activations {
        let (new, instantiate) = incident(&format!("a{i}"), town.id, &staff5k, T0 + i as i64 * 60_000);
        let t = Instant::now();
        store.open_incident(new).await.unwrap();
        let took = t.elapsed();
        println!("activation {i}: {staff_n} members, instantiate {instantiate:.1?}, open_incident {took:.1?}");
        times.push(took);
    }
    times.sort_unstable();
    println!("activation of {staff_n}: open_incident min {:.1?}, median {:.1?}", times[0], times[times.len() / 2]);

    // 2. The raw limit: durable one-row INSERTs, `callers` callers over 16 connections.
    client.batch_execute("CREATE TABLE bench (id bigserial PRIMARY KEY, v bigint NOT NULL)").await.unwrap();
    let mut connections = Vec::new();
    for _ in 0..RAW_CONNECTIONS {
        connections.push(Arc::new(raw(&db.url).await));
    }
    let raw_cpu = cpu(&db).await;
    let t = Instant::now();
    let handles: Vec<_> = (0..callers)
        .map(|k| {
            let client = connections[k % RAW_CONNECTIONS].clone();
            tokio::spawn(async move {
                let stmt = client.prepare("INSERT INTO bench (v) VALUES ($1)").await.unwrap();
                let mut n = 0_u64;
                while t.elapsed() < Duration::from_secs(seconds) {
                    client.execute(&stmt, &[&(k as i64)]).await.unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut raw_n = 0;
    for h in handles {
        raw_n += h.await.unwrap();
    }
    let raw_rate = raw_n as f64 / t.elapsed().as_secs_f64();
    let raw_used = cpu(&db).await;
    println!(
        "raw limit: one-row INSERT per transaction, {callers} callers over {RAW_CONNECTIONS} connections: \
         {raw_n} in {:.1?} = {raw_rate:.0}/s; PostgreSQL CPU {:.0} µs per INSERT",
        t.elapsed(),
        (raw_used.1 - raw_cpu.1) * 1e6 / raw_n as f64
    );
    drop(connections);

    // 3. Roll-call answers: every answer a different member's first arrival.
    let everyone = staff(&people);
    let (new, instantiate) = incident("rc", town.id, &everyone, T0 + 3_600_000);
    let t = Instant::now();
    let id = store.open_incident(new).await.unwrap();
    println!("activation of {people_n}: instantiate {instantiate:.1?}, open_incident {:.1?}", t.elapsed());
    let members: Arc<Vec<i64>> = Arc::new(store.members(id).await.unwrap().iter().map(|m| m.person).collect());
    let before_cpu = cpu(&db).await;
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
    let used = cpu(&db).await;
    latencies.sort_unstable();
    let answers = latencies.len();
    let rate = answers as f64 / elapsed.as_secs_f64();
    if answers == members.len() {
        println!("(every member answered before the time was up: raise --people)");
    }
    let arrived = store.members(id).await.unwrap().iter().filter(|m| m.arrived_at.is_some()).count();
    let entries = store.timeline(id).await.unwrap().iter().filter(|e| e.kind == TimelineKind::Arrival).count();
    assert_eq!((arrived, entries), (answers, answers));
    assert_eq!(store.incidents(&Scope::of(&town)).await.unwrap().len(), activations + 1);
    println!(
        "record_answer: {answers} answers, {callers} callers: {elapsed:.1?} = {rate:.0}/s ({:.0} % of the raw limit); \
         latency p50 {:.1?}, p99 {:.1?}, max {:.1?}",
        100.0 * rate / raw_rate,
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
    println!(
        "  CPU per answer: PostgreSQL {:.0} µs, this process {:.0} µs",
        (used.1 - before_cpu.1) * 1e6 / answers as f64,
        (used.0 - before_cpu.0) * 1e6 / answers as f64
    );
    drop(client);
    drop(store);
    drop(db);
}
