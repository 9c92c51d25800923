//! Benchmark: the raw limit of the registration path — the same rows the HTTP benchmark sends,
//! through `TestingStore::register` (one per call, 64 concurrent callers, each acknowledged only
//! after its transaction is durably committed) and `register_many` (batches of 500), with no HTTP
//! in front. The demo town is loaded first so the tables hold realistic data.
//!
//! `cargo run --release -p bulwark-app --example register_limit [-- --database URL] [--total N]`
//! (a PostgreSQL URL's database is dropped and created as `bulwark_bench_register`).

use bulwark_app::demo;
use bulwark_domain::{
    access::Scope,
    people::Person,
    testing::{LaneKind, NewLane, NewRegistration, NewRound, NewSite, OpeningHours, PoolSize, TubeCode, TubeFormat},
};
use bulwark_store::{PersonQuery, Store};
use std::{sync::Arc, time::Instant};

const CALLERS: usize = 64;

async fn open(database: Option<&str>, dir: &std::path::Path) -> Arc<dyn Store> {
    match database {
        Some(url) => {
            let admin = bulwark_postgres::testing::raw(url).await;
            let db = "bulwark_bench_register";
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await.unwrap();
            admin.batch_execute(&format!("CREATE DATABASE {db}")).await.unwrap();
            let url = bulwark_postgres::testing::with_database(url, db);
            Arc::new(bulwark_postgres::PgStore::connect(&url).await.unwrap())
        }
        None => Arc::new(bulwark_sqlite::SqliteStore::open(&dir.join("bench.db")).unwrap()),
    }
}

struct Plan {
    /// Each pass over the people goes to the next round, as the HTTP load generator does.
    rounds: Vec<i64>,
    site: i64,
    lane: i64,
    people: Vec<Person>,
}

impl Plan {
    /// The `i`-th registration of run `run`: ten people per tube, every key new. `i` counts on
    /// from the earlier runs, so that a person is registered once per round.
    fn registration(&self, run: &str, i: usize) -> NewRegistration {
        let person = &self.people[i % self.people.len()];
        let pass = (i / 10) / (self.people.len() / 10).max(1);
        NewRegistration {
            key: uuid::Uuid::now_v7().to_string(),
            body_hash: i as i64,
            round: self.rounds[pass % self.rounds.len()],
            site: self.site,
            lane: Some(self.lane),
            tube: TubeCode::parse(&format!("{run}{:09}", i / 10), &TubeFormat::default()).unwrap(),
            pool_size: PoolSize::TEN,
            person: person.id,
            person_area_path: person.area_path.clone(),
            flags: vec![],
            at: 1_665_010_800_000 + i as i64,
            device_time: None,
            by: 1,
            home: false,
            // As the HTTP path does: the answer's audited read, in the registration's transaction.
            audit: Some(bulwark_domain::audit::NewAuditEntry {
                at: 1_665_010_800_000 + i as i64,
                user: Some(1),
                username: "bench".into(),
                role: Some(bulwark_domain::access::Role::Sampler),
                operation: bulwark_domain::access::Operation::RegistrationsCreate,
                person: Some(person.id),
                outcome: bulwark_domain::audit::Outcome::Success,
                detail: None,
                request_id: "bench".into(),
            }),
        }
    }
}

async fn everyone(store: &dyn Store, scope: &Scope) -> Vec<Person> {
    let mut people = Vec::new();
    let mut after = None;
    loop {
        let page =
            store.people(&PersonQuery { within: scope.clone(), search: None, after, limit: 5_000 }).await.unwrap();
        let Some(last) = page.last() else { return people };
        after = Some(last.id);
        people.extend(page);
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| args.iter().position(|a| a == name).map(|i| args[i + 1].clone());
    let database = arg("--database");
    let total: usize = arg("--total").map(|t| t.parse().unwrap()).unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let store = open(database.as_deref(), dir.path()).await;
    demo::load(store.as_ref(), demo::DEFAULT_SEED, demo::outbreak_day(), Some("bench-password".into()), 0)
        .await
        .unwrap();
    let town = store
        .area_by_code(&bulwark_domain::areas::AreaCode::parse(bulwark_demo::TOWN.0).unwrap())
        .await
        .unwrap()
        .unwrap();
    let people = everyone(store.as_ref(), &Scope::of(&town)).await;
    let round = NewRound {
        name: "bench".into(),
        areas: vec![town.id],
        pool_size: PoolSize::TEN,
        overrides: vec![],
        starts_at: 0,
        ends_at: None,
    };
    let mut rounds = Vec::new();
    for _ in 0..(2 * total).div_ceil(people.len()) + 1 {
        rounds.push(store.create_round(round.clone(), 0).await.unwrap().id);
    }
    let lanes = vec![NewLane { name: "1".into(), kind: LaneKind::Normal }];
    let site =
        NewSite { name: "bench".into(), area: town.id, serves: vec![town.id], hours: OpeningHours::ALWAYS, lanes };
    let site = store.create_site(site, 0).await.unwrap();
    let plan = Arc::new(Plan { rounds, site: site.id, lane: site.lanes[0].id, people });

    // One registration per call, 64 callers.
    let t = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..CALLERS {
        let (store, plan) = (store.clone(), plan.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = c;
            while i < total {
                store.register(plan.registration("S", i)).await.unwrap();
                i += CALLERS;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let single = total as f64 / t.elapsed().as_secs_f64();

    // Batches of 500, 4 callers.
    let t = Instant::now();
    let mut tasks = Vec::new();
    let batches = total.div_ceil(500);
    for c in 0..4 {
        let (store, plan) = (store.clone(), plan.clone());
        tasks.push(tokio::spawn(async move {
            let mut b = c;
            while b < batches {
                let items = (b * 500..((b + 1) * 500).min(total))
                    .map(|i| {
                        // As an upload over HTTP: its items' audited reads share the request.
                        let mut reg = plan.registration("B", total + i);
                        if let Some(audit) = reg.audit.as_mut() {
                            audit.at = 1_665_010_800_000 + (total + b * 500) as i64;
                            audit.request_id = format!("bench-{b}");
                        }
                        reg
                    })
                    .collect();
                for answer in store.register_many(items).await.unwrap() {
                    answer.unwrap();
                }
                b += 4;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let batch = total as f64 / t.elapsed().as_secs_f64();
    println!(
        "{{\"engine\":\"{}\",\"total\":{total},\"single_per_s\":{single:.0},\"batch_per_s\":{batch:.0},\"callers\":{CALLERS}}}",
        store.engine()
    );
}
