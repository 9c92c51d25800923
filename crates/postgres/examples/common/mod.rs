//! A town for the load examples: areas through the store, residents by one `INSERT … SELECT`
//! (the examples measure testing, not the register import), on a fresh database that is
//! dropped at the end.

use bulwark_domain::{
    Millis,
    areas::{Area, AreaCode, AreaKind, NewArea},
    testing::{LaneKind, NewLane, NewRound, NewSite, OpeningHours, PoolSize, Round, Site},
};
use bulwark_postgres::{
    PgStore,
    testing::{TestDb, raw},
};
use bulwark_store::{AreaStore, TestingStore};
use std::time::Instant;

/// 07:00 on 6 October 2022 in Shengtang (UTC+8).
pub const T0: Millis = 1_665_010_800_000;

pub struct Town {
    pub store: PgStore,
    pub db: TestDb,
    pub town: Area,
    /// (person id, area path), by id.
    #[allow(dead_code, reason = "not every example registers people")]
    pub people: Vec<(i64, String)>,
}

fn area(code: String, kind: AreaKind, parent: Option<i64>) -> NewArea {
    NewArea { code: AreaCode::parse(&code).unwrap(), name: code, kind, parent }
}

/// A town of 10 villages × 100 grids × `households` households per grid, with `per_household`
/// residents in each.
pub async fn town(households: usize, per_household: usize) -> Town {
    let t = Instant::now();
    let db = TestDb::create().await;
    let store = PgStore::connect(&db.url).await.unwrap();
    let town = store.create_area(area("440785101".into(), AreaKind::Town, None)).await.unwrap();
    let villages = store
        .create_areas((0..10).map(|v| area(format!("440785101{v:03}"), AreaKind::Village, Some(town.id))).collect())
        .await
        .unwrap();
    let grids = store
        .create_areas(
            villages
                .iter()
                .flat_map(|v| (0..100).map(move |g| area(format!("{}-G{g:03}", v.code), AreaKind::Grid, Some(v.id))))
                .collect(),
        )
        .await
        .unwrap();
    for chunk in grids.chunks(100) {
        store
            .create_areas(
                chunk
                    .iter()
                    .flat_map(|g| {
                        (0..households)
                            .map(move |h| area(format!("{}-H{h:04}", g.code), AreaKind::Household, Some(g.id)))
                    })
                    .collect(),
            )
            .await
            .unwrap();
    }
    let client = raw(&db.url).await;
    client
        .execute(
            "INSERT INTO persons (name, doc_type, doc_number, area_id, grid_id, area_path, created_at, updated_at)
             SELECT '居民' || h.id || '-' || i, 'other', 'X' || h.id || '-' || i, h.id, h.parent_id, h.path, 0, 0
             FROM areas h, generate_series(1, $1::int) AS i WHERE h.kind = 'household' ORDER BY h.id, i",
            &[&(per_household as i32)],
        )
        .await
        .unwrap();
    client.batch_execute("VACUUM ANALYZE").await.unwrap();
    let people = client
        .query("SELECT id, area_path FROM persons ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect::<Vec<(i64, String)>>();
    eprintln!("town: {} areas, {} residents in {:.1?}", 1011 + 1000 * households, people.len(), t.elapsed());
    Town { store, db, town, people }
}

pub async fn round(store: &PgStore, town: &Area, name: &str) -> Round {
    store
        .create_round(
            NewRound {
                name: name.into(),
                areas: vec![town.id],
                pool_size: PoolSize::TEN,
                overrides: vec![],
                starts_at: T0,
                ends_at: None,
            },
            T0,
        )
        .await
        .unwrap()
}

pub async fn site(store: &PgStore, town: &Area, lanes: usize) -> Site {
    store
        .create_site(
            NewSite {
                name: "镇政府采样点".into(),
                area: town.id,
                serves: vec![town.id],
                hours: OpeningHours::ALWAYS,
                lanes: (0..lanes).map(|i| NewLane { name: format!("{}号", i + 1), kind: LaneKind::Normal }).collect(),
            },
            T0,
        )
        .await
        .unwrap()
}

/// Drops the database, unless `BULWARK_KEEP_DB` is set (to look at it afterwards).
pub fn finish(store: PgStore, db: TestDb) {
    drop(store);
    if std::env::var_os("BULWARK_KEEP_DB").is_some() {
        eprintln!("kept database {}", db.name);
        std::mem::forget(db);
    }
}

/// CPU seconds used so far by this process and by the PostgreSQL backends connected to the
/// example's database (from /proc; other work on the machine is not counted).
pub async fn cpu(db: &TestDb) -> (f64, f64) {
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
