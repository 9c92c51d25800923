//! Mass testing on PostgreSQL under concurrency: what the contract suite (one caller at a time)
//! cannot show. Registrations race on one key, one person and one tube through separate
//! transactions; counters stay exact; a merge carries rounds, sites and counters along.

mod common;

use bulwark_domain::{
    access::Scope,
    testing::{NewRegistration, PoolSize, RegistrationFlag, TubeState},
};
use bulwark_postgres::PgStore;
use bulwark_store::{AreaStore, StoreError, TestingStore, testing::Registered};
use bulwark_store_tests::{Scene, scene};
use std::{collections::HashSet, sync::Arc};

async fn setup() -> (Arc<PgStore>, Scene, common::TestDb) {
    let (store, db) = common::fresh_store().await;
    let s = scene(&store).await;
    (Arc::new(store), s, db)
}

/// Runs `items` as separate `register_many` calls (separate transactions), all at once.
async fn race(store: &Arc<PgStore>, items: Vec<NewRegistration>) -> Vec<Result<Registered, StoreError>> {
    let handles: Vec<_> = items
        .into_iter()
        .map(|item| {
            let store = store.clone();
            tokio::spawn(async move { store.register_many(vec![item]).await.unwrap().pop().unwrap() })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_key_sent_many_times_at_once_is_stored_once() {
    let (store, s, _db) = setup().await;
    for round in 0..3 {
        let key = format!("same-{round}");
        let tube = format!("EP00000{round}0");
        let answers = race(&store, (0..12).map(|_| s.reg(&key, &tube, &s.a[round], 1)).collect()).await;
        let created = answers.iter().filter(|a| matches!(a, Ok(Registered::Created(_)))).count();
        let replayed = answers.iter().filter(|a| matches!(a, Ok(Registered::Replayed(_)))).count();
        assert_eq!((created, replayed), (1, 11), "{answers:?}");
        // Through the queue of `register` too.
        let key = format!("queued-{round}");
        let handles: Vec<_> = (0..12)
            .map(|_| {
                let (store, reg) = (store.clone(), s.reg(&key, &format!("EP00001{round}0"), &s.b[round], 2));
                tokio::spawn(async move { store.register(reg).await })
            })
            .collect();
        let mut created = 0;
        for h in handles {
            match h.await.unwrap().unwrap() {
                Registered::Created(_) => created += 1,
                Registered::Replayed(_) => {}
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(created, 1);
    }
    // The same key with different bodies at once: one stored, the others refused.
    let answers = race(
        &store,
        (0..8)
            .map(|i| {
                let mut r = s.reg("contested", &format!("EP0000{:03}", 500 + i), &s.a[4], 3);
                r.body_hash = i64::from(i);
                r
            })
            .collect(),
    )
    .await;
    let created = answers.iter().filter(|a| matches!(a, Ok(Registered::Created(_)))).count();
    let reused = answers.iter().filter(|a| matches!(a, Ok(Registered::KeyReused))).count();
    assert_eq!((created, reused), (1, 7), "{answers:?}");
    // No tube was left behind by the refused ones.
    let progress = store.progress(s.round.id).await.unwrap();
    assert_eq!((progress.registrations, progress.tubes), (7, 7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_person_in_many_tubes_at_once_is_sampled_once() {
    let (store, s, _db) = setup().await;
    let answers =
        race(&store, (0..10).map(|i| s.reg(&format!("p-{i}"), &format!("EP00{:05}", 100 + i), &s.a[0], 5)).collect())
            .await;
    let regs: Vec<_> = answers
        .into_iter()
        .map(|a| match a {
            Ok(Registered::Created(r)) => r,
            other => panic!("{other:?}"),
        })
        .collect();
    // As if one after the other: the first is clean, every later one is a duplicate in the round.
    let clean = regs.iter().filter(|r| r.flags.is_empty()).count();
    assert_eq!(clean, 1, "{regs:?}");
    assert!(regs.iter().filter(|r| !r.flags.is_empty()).all(|r| r.flags == vec![RegistrationFlag::DuplicateInRound]));
    let progress = store.progress(s.round.id).await.unwrap();
    assert_eq!((progress.sampled, progress.registrations), (1, 10));
    let cov = store.coverage(s.round.id, s.world.grid_a.id).await.unwrap();
    assert_eq!(cov[0].sampled, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_scans_into_one_tube_at_once_count_exactly() {
    let (store, s, _db) = setup().await;
    let mut people = Vec::new();
    for i in 0..32 {
        people.push(
            bulwark_store_tests::insert(
                store.as_ref(),
                bulwark_store_tests::resident("众", 5000 + i, &s.world.house_a),
            )
            .await,
        );
    }
    let answers =
        race(&store, people.iter().enumerate().map(|(i, p)| s.reg(&format!("t-{i}"), "EP7777777", p, 9)).collect())
            .await;
    let mut members: Vec<u32> = answers
        .into_iter()
        .map(|a| match a {
            Ok(Registered::Created(r)) => r.tube_members,
            other => panic!("{other:?}"),
        })
        .collect();
    members.sort_unstable();
    assert_eq!(members, (1..=32).collect::<Vec<u32>>(), "each scan saw the one before it");
    let tube = store.tube(&bulwark_store_tests::tube("EP7777777")).await.unwrap().unwrap();
    assert_eq!((tube.members, tube.state, tube.pool_size), (32, TubeState::Sealed, PoolSize::TEN));
    let progress = store.progress(s.round.id).await.unwrap();
    assert_eq!((progress.sampled, progress.tubes, progress.tubes_open), (32, 1, 0));
    let cov = store.coverage(s.round.id, s.world.village.id).await.unwrap();
    assert_eq!((cov[0].sampled, cov[1].sampled), (32, 32));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_queue_answers_each_caller_with_their_own_registration() {
    let (store, s, _db) = setup().await;
    let everyone: Vec<_> = s.a.iter().chain(s.b.iter()).cloned().collect();
    let handles: Vec<_> = (0..64)
        .map(|i| {
            let reg = s.reg(&format!("q-{i}"), &format!("EP8{:06}", i / 4), &everyone[i % everyone.len()], i as i64);
            let store = store.clone();
            tokio::spawn(async move { (reg.key.clone(), store.register(reg).await) })
        })
        .collect();
    let mut keys = HashSet::new();
    for h in handles {
        let (key, answer) = h.await.unwrap();
        match answer.unwrap() {
            Registered::Created(r) => assert_eq!(r.key, key),
            other => panic!("{other:?}"),
        }
        keys.insert(key);
    }
    assert_eq!(keys.len(), 64);
    let progress = store.progress(s.round.id).await.unwrap();
    assert_eq!((progress.registrations, progress.sampled, progress.tubes), (64, 8, 16));
}

#[tokio::test]
async fn a_merge_carries_rounds_sites_and_counters() {
    let (store, s, _db) = setup().await;
    let site = store
        .create_site(
            bulwark_domain::testing::NewSite {
                name: "二组采样点".into(),
                area: s.world.grid_b.id,
                serves: vec![s.world.grid_b.id, s.world.grid_a.id],
                hours: bulwark_domain::testing::OpeningHours::ALWAYS,
                lanes: vec![],
            },
            0,
        )
        .await
        .unwrap();
    store.register(s.reg("m-1", "EP0000001", &s.b[0], 1)).await.unwrap();
    store.register(s.reg("m-2", "EP0000001", &s.a[0], 1)).await.unwrap();
    store.merge_grid(s.world.grid_b.id, s.world.grid_a.id).await.unwrap();
    let cov = store.coverage(s.round.id, s.world.village.id).await.unwrap();
    let figures: Vec<(i64, u64, u64)> = cov.iter().map(|c| (c.area.id, c.residents, c.sampled)).collect();
    assert_eq!(figures, vec![(s.world.village.id, 8, 2), (s.world.grid_a.id, 8, 2)]);
    let site = store.site(site.id).await.unwrap().unwrap();
    assert_eq!((site.area, site.serves.clone()), (s.world.grid_a.id, vec![s.world.grid_a.id]));
    assert!(site.area_path.starts_with(&s.world.grid_a.path));
    assert_eq!(store.sites(&Scope::of(&s.world.grid_a)).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_household_is_counted_from_its_residents() {
    let (store, s, _db) = setup().await;
    store.register(s.reg("h-1", "EP0000001", &s.a[0], 1)).await.unwrap();
    store.register(s.reg("h-2", "EP0000001", &s.a[1], 1)).await.unwrap();
    store.register(s.reg("h-3", "EP0000002", &s.a[1], 2)).await.unwrap();
    store
        .record_door_knock(
            s.round.id,
            bulwark_domain::testing::DoorKnock {
                person: s.a[4].id,
                outcome: bulwark_domain::testing::DoorKnockOutcome::AwayFromTown,
                note: None,
                at: 0,
            },
            42,
        )
        .await
        .unwrap();
    let house = store.coverage(s.round.id, s.world.house_a.id).await.unwrap();
    let grid = store.coverage(s.round.id, s.world.grid_a.id).await.unwrap();
    let figures = |c: &bulwark_store::testing::CoverageRow| (c.area.id, c.residents, c.excluded, c.sampled);
    assert_eq!(house.iter().map(figures).collect::<Vec<_>>(), vec![(s.world.house_a.id, 5, 1, 2)]);
    assert_eq!(grid.iter().map(figures).collect::<Vec<_>>(), vec![(s.world.grid_a.id, 5, 1, 2)]);
    // No counter rows for the household itself.
    let client = common::raw(&_db.url).await;
    let rows: i64 = client
        .query_one("SELECT count(*) FROM round_counts WHERE area_id = $1", &[&s.world.house_a.id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
}

/// A lab file large enough to be split into two transactions keeps every tube's results in order
/// and the report in input order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_lab_file_is_applied_in_order() {
    use bulwark_domain::testing::{LabOutcome, LabResult, ReviewReason, TubeCode};
    let (store, s, db) = setup().await;
    const N: usize = 110_000;
    let client = common::raw(&db.url).await;
    client
        .execute(
            "INSERT INTO tubes (code, round_id, site_id, pool_size, state, members, opened_at)
             SELECT 'Z' || lpad(i::text, 8, '0'), $1, $2, 10, 'sealed', 10, 0 FROM generate_series(0, $3::int - 1) AS i",
            &[&s.round.id, &s.site.id, &(N as i32)],
        )
        .await
        .unwrap();
    let result = |i: usize, outcome: LabOutcome| LabResult {
        tube: TubeCode::from_stored(format!("Z{i:08}")),
        outcome,
        ct_orf1ab: None,
        ct_n: None,
        sampled_at: None,
        tested_at: None,
        reported_at: None,
        lab: None,
    };
    // Every tube negative, then again: the same for even tubes, positive for odd ones; and
    // codes nobody registered in between.
    let mut results: Vec<LabResult> = (0..N).map(|i| result(i, LabOutcome::Negative)).collect();
    for i in 0..N {
        results.push(result(i, if i % 2 == 0 { LabOutcome::Negative } else { LabOutcome::Positive }));
        if i % 10_000 == 0 {
            results.push(result(N + i, LabOutcome::Positive));
        }
    }
    let report = store.record_results(results.clone(), 7, 1).await.unwrap();
    assert_eq!((report.applied, report.unchanged), ((N + N / 2) as u64, (N / 2) as u64));
    let expected_review: Vec<(TubeCode, ReviewReason)> = results[N..]
        .iter()
        .filter_map(|r| {
            let i: usize = r.tube.as_str()[1..].parse().unwrap();
            if i >= N {
                Some((r.tube.clone(), ReviewReason::UnknownTube))
            } else {
                (i % 2 == 1).then(|| (r.tube.clone(), ReviewReason::Conflict))
            }
        })
        .collect();
    assert_eq!(report.review, expected_review);
    let expected_abnormal: Vec<TubeCode> =
        (0..N).filter(|i| i % 2 == 1).map(|i| TubeCode::from_stored(format!("Z{i:08}"))).collect();
    assert_eq!(report.abnormal, expected_abnormal);
    let outcomes: Vec<(String, i64)> = client
        .query("SELECT outcome, count(*) FROM tubes WHERE code LIKE 'Z%' GROUP BY outcome ORDER BY outcome", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(outcomes, vec![("negative".to_string(), (N / 2) as i64), ("positive".to_string(), (N / 2) as i64)]);
    let logged: i64 = client.query_one("SELECT count(*) FROM lab_results", &[]).await.unwrap().get(0);
    assert_eq!(logged, results.len() as i64);
    let cases: i64 = client.query_one("SELECT count(*) FROM pool_cases", &[]).await.unwrap().get(0);
    assert_eq!(cases, (N / 2) as i64);
    drop(store);
}
