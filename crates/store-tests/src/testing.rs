//! Contract tests of [`bulwark_store::TestingStore`].

use super::{T0, World, insert, resident, stamp, world};
use bulwark_domain::{
    Millis,
    access::{Operation, Scope},
    areas::Area,
    people::{Document, Person, PersonId, Phone},
    testing::{
        DoorKnock, DoorKnockOutcome, LabOutcome, LabResult, LaneKind, NewLane, NewRegistration, NewRound, NewSite,
        OpeningHours, PoolCaseState, PoolSize, RegistrationFlag, ReviewReason, Round, Site, TubeCode, TubeFormat,
        TubeState,
    },
};
use bulwark_store::{
    PersonChange, Store, StoreError,
    testing::{HomeVisitReason, Registered},
};

const MINUTE: Millis = 60_000;

/// A round over the village (pool of 10) with a site of two lanes, and five residents in grid A
/// and three in grid B.
pub struct Scene {
    pub world: World,
    pub round: Round,
    pub site: Site,
    pub a: Vec<Person>,
    pub b: Vec<Person>,
}

pub async fn scene(store: &dyn Store) -> Scene {
    let world = world(store).await;
    let mut a = Vec::new();
    for i in 0..5 {
        a.push(insert(store, resident(&format!("甲{i}"), 1000 + i, &world.house_a)).await);
    }
    let mut b = Vec::new();
    for i in 0..3 {
        b.push(insert(store, resident(&format!("乙{i}"), 2000 + i, &world.house_b)).await);
    }
    let round = store
        .create_round(
            NewRound {
                name: "第一轮全员核酸".into(),
                areas: vec![world.village.id],
                pool_size: PoolSize::TEN,
                overrides: vec![],
                starts_at: T0,
                ends_at: None,
            },
            T0,
        )
        .await
        .expect("create round");
    let site = store
        .create_site(
            NewSite {
                name: "湴朗村委会采样点".into(),
                area: world.village.id,
                serves: vec![world.village.id],
                hours: OpeningHours::parse("07:00-22:00").unwrap(),
                lanes: vec![
                    NewLane { name: "1号".into(), kind: LaneKind::Normal },
                    NewLane { name: "绿色通道".into(), kind: LaneKind::GreenChannel },
                ],
            },
            T0,
        )
        .await
        .expect("create site");
    Scene { world, round, site, a, b }
}

pub fn tube(code: &str) -> TubeCode {
    TubeCode::parse(code, &TubeFormat::default()).unwrap()
}

impl Scene {
    /// A registration of `person` into `tube_code` with key `key` at minute `minute` of the round.
    /// A scan's registration in `tube_code` under `key`, made for whoever the scan finds.
    pub fn scan(&self, key: &str, tube_code: &str) -> bulwark_store::testing::MakeRegistration {
        let (key, code, scene_reg) =
            (key.to_string(), tube_code.to_string(), self.reg("unused", "LXA0001", &self.a[0], 0));
        Box::new(move |person: &Person| NewRegistration {
            key,
            tube: tube(&code),
            person: person.id,
            person_area_path: person.area_path.clone(),
            ..scene_reg
        })
    }

    pub fn reg(&self, key: &str, tube_code: &str, person: &Person, minute: i64) -> NewRegistration {
        NewRegistration {
            key: key.to_string(),
            body_hash: 7,
            round: self.round.id,
            site: self.site.id,
            lane: Some(self.site.lanes[0].id),
            tube: tube(tube_code),
            pool_size: PoolSize::TEN,
            person: person.id,
            person_area_path: person.area_path.clone(),
            flags: vec![],
            at: T0 + minute * MINUTE,
            device_time: Some(T0 + minute * MINUTE - 5_000),
            by: 42,
            home: false,
            audit: None,
        }
    }
}

fn created(r: Result<Registered, StoreError>) -> bulwark_domain::testing::Registration {
    match r {
        Ok(Registered::Created(reg)) => reg,
        other => panic!("expected a new registration, got {other:?}"),
    }
}

fn result(code: &str, outcome: LabOutcome) -> LabResult {
    LabResult {
        tube: tube(code),
        outcome,
        ct_orf1ab: outcome.is_abnormal().then_some(31.5),
        ct_n: None,
        sampled_at: None,
        tested_at: None,
        reported_at: Some(T0 + 300 * MINUTE),
        lab: Some("恩平市人民医院".into()),
    }
}

pub async fn testing_rounds_and_sites_round_trip(store: &dyn Store) {
    let s = scene(store).await;
    assert_eq!(store.round(s.round.id).await.unwrap().as_ref(), Some(&s.round));
    assert_eq!(s.round.area_paths, vec![s.world.village.path.clone()]);
    assert_eq!(store.rounds().await.unwrap(), vec![s.round.clone()]);
    let fresh = store.progress(s.round.id).await.unwrap();
    assert_eq!((fresh.sampled, fresh.registrations, fresh.tubes), (0, 0, 0), "a new round has figures, all zero");
    let site = store.site(s.site.id).await.unwrap().expect("site");
    assert_eq!(site, s.site);
    assert_eq!(site.lanes.len(), 2);
    assert_eq!(site.lanes[1].kind, LaneKind::GreenChannel);
    assert_eq!(store.sites(&Scope::of(&s.world.grid_a)).await.unwrap(), vec![], "the site stands in the village");
    assert_eq!(store.sites(&Scope::of(&s.world.town)).await.unwrap(), vec![site]);
    store.set_queue_length(s.site.id, 35, T0 + MINUTE).await.unwrap();
    let site = store.site(s.site.id).await.unwrap().unwrap();
    assert_eq!((site.queue_length, site.queue_counted_at), (35, Some(T0 + MINUTE)));
    let bad = NewRound {
        name: "x".into(),
        areas: vec![987_654],
        pool_size: PoolSize::TEN,
        overrides: vec![],
        starts_at: T0,
        ends_at: None,
    };
    assert!(matches!(store.create_round(bad, T0).await, Err(StoreError::Invalid(_))));
}

pub async fn testing_registration_is_idempotent_by_key(store: &dyn Store) {
    let s = scene(store).await;
    let first = created(store.register(s.reg("k-1", "EP0000001", &s.a[0], 1)).await);
    assert_eq!((first.tube_state, first.tube_members, first.flags.clone()), (TubeState::Open, 1, vec![]));
    assert_eq!(first.device_time, Some(T0 + MINUTE - 5_000));
    // A retry (the answer was lost) returns the stored registration, even after the tube moved on.
    created(store.register(s.reg("k-2", "EP0000001", &s.a[1], 2)).await);
    let replay = store.register(s.reg("k-1", "EP0000001", &s.a[0], 9)).await.unwrap();
    assert_eq!(replay, Registered::Replayed(first.clone()));
    // The same key with another body is refused and stores nothing.
    let mut other = s.reg("k-1", "EP0000001", &s.a[2], 3);
    other.body_hash = 8;
    assert_eq!(store.register(other).await.unwrap(), Registered::KeyReused);
    let regs = store.tube_registrations(first.tube_id).await.unwrap();
    assert_eq!(regs.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["k-1", "k-2"]);
    assert_eq!(store.progress(s.round.id).await.unwrap().registrations, 2);
}

/// A key used again with another body, naming a tube nobody has opened, in the same upload as a
/// new registration into that tube (first in the upload, so the first to name the tube): the
/// reused key stores nothing, and the tube is opened by the new registration, with its pool size.
pub async fn testing_a_reused_key_opens_no_tube(store: &dyn Store) {
    let s = scene(store).await;
    created(store.register(s.reg("k-1", "EP0000001", &s.a[0], 1)).await);
    let mut reused = s.reg("k-1", "EP0000009", &s.a[1], 2);
    reused.body_hash = 8;
    reused.pool_size = PoolSize::SINGLE;
    let answers = store.register_many(vec![reused, s.reg("k-2", "EP0000009", &s.a[2], 3)]).await.unwrap();
    let [reused, fresh] = <[_; 2]>::try_from(answers).expect("two answers");
    assert_eq!(reused.unwrap(), Registered::KeyReused);
    let fresh = created(fresh);
    assert_eq!((fresh.pool_size, fresh.tube_members, fresh.tube_state), (PoolSize::TEN, 1, TubeState::Open));
    let tube = store.tube(&tube("EP0000009")).await.unwrap().expect("the tube");
    assert_eq!((tube.pool_size, tube.members), (PoolSize::TEN, 1));
    assert_eq!(store.progress(s.round.id).await.unwrap().registrations, 2);
}

/// A round or site that does not exist is refused, by a single registration, a scan and an
/// upload alike, and nothing is stored, even into a tube that exists (whose row would not catch
/// it). The SQLite writer skips these look-ups for the round and site its cache holds: an unknown
/// one must still be looked up.
pub async fn testing_a_registration_needs_its_round_and_site(store: &dyn Store) {
    let s = scene(store).await;
    let tube_id = created(store.register(s.reg("k-0", "EP0000001", &s.a[4], 0)).await).tube_id;
    let mut no_round = s.reg("k-1", "EP0000001", &s.a[0], 1);
    no_round.round = 9_999_999;
    let mut no_site = s.reg("k-2", "EP0000001", &s.a[1], 1);
    no_site.site = 9_999_999;
    for reg in [no_round.clone(), no_site.clone()] {
        assert!(matches!(store.register(reg).await, Err(StoreError::Invalid(_))));
    }
    let scan = no_round.clone();
    let make: bulwark_store::testing::MakeRegistration = Box::new(move |_: &Person| scan);
    assert!(matches!(
        store.register_scanned(bulwark_store::testing::Scanned::Id(s.a[0].id), make).await,
        Err(StoreError::Invalid(_))
    ));
    let answers = store.register_many(vec![no_round, no_site]).await.unwrap();
    assert!(answers.iter().all(|a| matches!(a, Err(StoreError::Invalid(_)))), "{answers:?}");
    let stored = store.tube_registrations(tube_id).await.unwrap();
    assert_eq!(stored.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["k-0"]);
}

pub async fn testing_physical_facts_are_flagged_never_refused(store: &dyn Store) {
    let s = scene(store).await;
    // A pool of 1 seals itself at once; a second person is over capacity and after the seal.
    let mut single = s.reg("p-1", "EP0000100", &s.a[0], 1);
    single.pool_size = PoolSize::SINGLE;
    let r = created(store.register(single).await);
    assert_eq!((r.tube_state, r.tube_members, r.pool_size), (TubeState::Sealed, 1, PoolSize::SINGLE));
    let r = created(store.register(s.reg("p-2", "EP0000100", &s.a[1], 2)).await);
    assert_eq!(r.flags, vec![RegistrationFlag::OverCapacity, RegistrationFlag::AfterSeal]);
    assert_eq!((r.tube_members, r.pool_size), (2, PoolSize::SINGLE), "an existing tube keeps its pool size");
    // The same person in a second tube of the round.
    let r = created(store.register(s.reg("p-3", "EP0000200", &s.a[0], 3)).await);
    assert_eq!(r.flags, vec![RegistrationFlag::DuplicateInRound]);
    // The same swab scanned twice into one tube: the earlier registration answers, nothing new.
    match store.register(s.reg("p-4", "EP0000200", &s.a[0], 4)).await.unwrap() {
        Registered::AlreadyInTube(earlier) => assert_eq!(earlier.key, "p-3"),
        other => panic!("expected the earlier registration, got {other:?}"),
    }
    let stored = store.tube(&tube("EP0000200")).await.unwrap().expect("tube");
    assert_eq!(stored.members, 1);
    // Sealed by hand, then a late scan.
    let sealed = store.seal_tube(&stored.code, T0 + 5 * MINUTE).await.unwrap();
    assert_eq!((sealed.state, sealed.sealed_at), (TubeState::Sealed, Some(T0 + 5 * MINUTE)));
    let again = store.seal_tube(&stored.code, T0 + 9 * MINUTE).await.unwrap();
    assert_eq!(again.sealed_at, Some(T0 + 5 * MINUTE), "sealing twice changes nothing");
    let r = created(store.register(s.reg("p-5", "EP0000200", &s.a[2], 6)).await);
    assert_eq!(r.flags, vec![RegistrationFlag::AfterSeal]);
    assert!(matches!(store.seal_tube(&tube("EP9999999"), T0).await, Err(StoreError::NotFound)));
    // Known flags travel through.
    let mut visitor = s.reg("p-6", "EP0000300", &s.b[0], 7);
    visitor.flags = vec![RegistrationFlag::RegisteredOnSpot];
    assert_eq!(created(store.register(visitor).await).flags, vec![RegistrationFlag::RegisteredOnSpot]);
    // Ten people fill and seal a pool of ten.
    let everyone: Vec<&Person> = s.a.iter().chain(s.b.iter()).collect();
    for (i, p) in everyone.iter().enumerate() {
        created(store.register(s.reg(&format!("f-{i}"), "EP0000400", p, 10)).await);
    }
    let extra = insert(store, resident("丙", 3000, &s.world.house_a)).await;
    let extra2 = insert(store, resident("丁", 3001, &s.world.house_a)).await;
    let r = created(store.register(s.reg("f-8", "EP0000400", &extra, 11)).await);
    assert_eq!((r.tube_state, r.tube_members), (TubeState::Open, 9));
    let r = created(store.register(s.reg("f-9", "EP0000400", &extra2, 11)).await);
    assert_eq!((r.tube_state, r.tube_members), (TubeState::Sealed, 10));
}

pub async fn testing_register_many_answers_each_item(store: &dyn Store) {
    let s = scene(store).await;
    created(store.register(s.reg("b-0", "EP0000001", &s.a[0], 1)).await);
    let mut reused = s.reg("b-0", "EP0000001", &s.a[3], 1);
    reused.body_hash = 99;
    let mut bad_round = s.reg("b-9", "EP0000001", &s.a[4], 1);
    bad_round.round = 424_242;
    let mut bad_site = s.reg("b-8", "EP0000001", &s.b[0], 1);
    bad_site.site = 424_242;
    // The round and site found for the items before do not vouch for the bad ones after.
    let answers = store
        .register_many(vec![
            s.reg("b-1", "EP0000001", &s.a[1], 1),
            s.reg("b-0", "EP0000001", &s.a[0], 1),
            reused,
            bad_round,
            bad_site,
            s.reg("b-2", "EP0000001", &s.a[2], 1),
        ])
        .await
        .unwrap();
    assert_eq!(answers.len(), 6);
    assert!(matches!(answers[0], Ok(Registered::Created(_))));
    assert!(matches!(answers[1], Ok(Registered::Replayed(_))));
    assert!(matches!(answers[2], Ok(Registered::KeyReused)));
    assert!(matches!(answers[3], Err(StoreError::Invalid(_))), "{:?}", answers[3]);
    assert!(matches!(answers[4], Err(StoreError::Invalid(_))), "{:?}", answers[4]);
    assert!(matches!(&answers[5], Ok(Registered::Created(r)) if r.tube_members == 3));
}

/// An upload that fills a tube member by member leaves the tube's row as the last of them left
/// it, whatever else the batch holds: a refused item, the same swab twice, another tube between.
pub async fn testing_a_batch_fills_and_seals_its_tubes(store: &dyn Store) {
    let s = scene(store).await;
    let mut people: Vec<Person> = s.a.iter().chain(s.b.iter()).cloned().collect();
    for i in 0..5 {
        people.push(insert(store, resident(&format!("丙{i}"), 3000 + i, &s.world.house_a)).await);
    }
    let mut batch = Vec::new();
    for (i, p) in people.iter().take(10).enumerate() {
        batch.push(s.reg(&format!("m-{i}"), "EP0000500", p, 10 + i as i64));
        if i == 4 {
            let mut bad_round = s.reg("m-bad", "EP0000500", &people[10], 14);
            bad_round.round = 424_242;
            batch.push(bad_round);
            batch.push(s.reg("m-again", "EP0000500", p, 14));
            batch.push(s.reg("m-other", "EP0000501", &people[10], 14));
        }
    }
    let answers = store.register_many(batch).await.unwrap();
    let members: Vec<u32> = answers
        .iter()
        .filter_map(|a| match a {
            Ok(Registered::Created(r)) if r.tube.as_str() == "EP0000500" => Some(r.tube_members),
            _ => None,
        })
        .collect();
    assert_eq!(members, (1..=10).collect::<Vec<_>>());
    assert!(matches!(answers[5], Err(StoreError::Invalid(_))), "{:?}", answers[5]);
    assert!(matches!(&answers[6], Ok(Registered::AlreadyInTube(r)) if r.key == "m-4"), "{:?}", answers[6]);
    let full = store.tube(&tube("EP0000500")).await.unwrap().expect("tube");
    assert_eq!((full.members, full.state, full.sealed_at), (10, TubeState::Sealed, Some(T0 + 19 * MINUTE)));
    let other = store.tube(&tube("EP0000501")).await.unwrap().expect("tube");
    assert_eq!((other.members, other.state, other.sealed_at), (1, TubeState::Open, None));
    let progress = store.progress(s.round.id).await.unwrap();
    assert_eq!((progress.tubes, progress.tubes_open), (2, 1));
    // A scan after the batch sees the tube as the batch left it, alone or in the next batch.
    let r = created(store.register(s.reg("m-late", "EP0000500", &people[11], 21)).await);
    assert_eq!(
        (r.tube_members, r.flags.clone()),
        (11, vec![RegistrationFlag::OverCapacity, RegistrationFlag::AfterSeal])
    );
    let answers = store.register_many(vec![s.reg("m-later", "EP0000500", &people[12], 22)]).await.unwrap();
    assert!(matches!(&answers[0], Ok(Registered::Created(r)) if r.tube_members == 12), "{:?}", answers[0]);
    let full = store.tube(&tube("EP0000500")).await.unwrap().expect("tube");
    assert_eq!((full.members, full.sealed_at), (12, Some(T0 + 19 * MINUTE)));
}

/// The answer's audited read is written with the registration whenever the answer shows the
/// person, and never for a reused key or a refused item.
pub async fn testing_registration_writes_its_audit_entry(store: &dyn Store) {
    let s = scene(store).await;
    let audited = |key: &str, person: &Person, minute: i64| {
        let mut reg = s.reg(key, "EP0000001", person, minute);
        reg.audit = Some(bulwark_domain::audit::NewAuditEntry {
            at: T0 + minute * MINUTE,
            user: Some(42),
            username: "sampler".into(),
            role: Some(bulwark_domain::access::Role::Sampler),
            operation: bulwark_domain::access::Operation::RegistrationsCreate,
            person: Some(person.id),
            outcome: bulwark_domain::audit::Outcome::Success,
            detail: None,
            request_id: format!("scan-{key}"),
        });
        reg
    };
    let entries = |person: PersonId| async move {
        let q = bulwark_store::AuditQuery { person: Some(person), user: None, before: None, limit: 100 };
        let all = store.audit_entries(&q).await.unwrap().into_iter();
        // Oldest first; only this test's entries (the scene's people were audited as inserted).
        all.rev().map(|e| e.request_id).filter(|r| r.starts_with("scan-")).collect::<Vec<_>>()
    };
    created(store.register(audited("a-1", &s.a[0], 1)).await);
    assert_eq!(entries(s.a[0].id).await, ["scan-a-1"]);
    // A replay shows the person again; a reused key shows nobody.
    assert!(matches!(store.register(audited("a-1", &s.a[0], 1)).await, Ok(Registered::Replayed(_))));
    let mut reused = audited("a-1", &s.a[0], 2);
    reused.body_hash = 77;
    assert_eq!(store.register(reused).await.unwrap(), Registered::KeyReused);
    assert_eq!(entries(s.a[0].id).await.len(), 2);
    // The same swab again under a new key answers the earlier registration: shown, audited.
    assert!(matches!(store.register(audited("a-2", &s.a[0], 3)).await, Ok(Registered::AlreadyInTube(_))));
    assert_eq!(entries(s.a[0].id).await.len(), 3);
    // In a batch: the stored item is audited, the refused one is not.
    let mut bad_round = audited("a-4", &s.a[2], 4);
    bad_round.round = 424_242;
    let answers = store.register_many(vec![audited("a-3", &s.a[1], 4), bad_round]).await.unwrap();
    assert!(matches!(answers[0], Ok(Registered::Created(_))));
    assert!(answers[1].is_err());
    assert_eq!(entries(s.a[1].id).await, ["scan-a-3"]);
    assert!(entries(s.a[2].id).await.is_empty());
}

pub async fn testing_progress_and_coverage_counters(store: &dyn Store) {
    let s = scene(store).await;
    let village = &s.world.village;
    let cov = store.coverage(s.round.id, village.id).await.unwrap();
    let figures = |cov: &[bulwark_store::testing::CoverageRow]| -> Vec<(String, u64, u64, u64)> {
        cov.iter().map(|c| (c.area.code.to_string(), c.residents, c.excluded, c.sampled)).collect()
    };
    assert_eq!(
        figures(&cov),
        vec![
            ("440785101210".into(), 8, 0, 0),
            ("440785101210-G01".into(), 5, 0, 0),
            ("440785101210-G02".into(), 3, 0, 0)
        ]
    );
    created(store.register(s.reg("c-1", "EP0000001", &s.a[0], 1)).await);
    created(store.register(s.reg("c-2", "EP0000001", &s.a[1], 2)).await);
    created(store.register(s.reg("c-3", "EP0000002", &s.a[1], 70)).await); // same person again: counted once
    created(store.register(s.reg("c-4", "EP0000002", &s.b[0], 71)).await);
    let cov = store.coverage(s.round.id, village.id).await.unwrap();
    assert_eq!(
        figures(&cov),
        vec![
            ("440785101210".into(), 8, 0, 3),
            ("440785101210-G01".into(), 5, 0, 2),
            ("440785101210-G02".into(), 3, 0, 1)
        ]
    );
    assert_eq!(cov[0].target(), 8);
    let grid = store.coverage(s.round.id, s.world.grid_a.id).await.unwrap();
    assert_eq!(figures(&grid), vec![("440785101210-G01".into(), 5, 0, 2)], "households are not listed");
    // New residents count at once, and a door-knock "away" leaves the target.
    insert(store, resident("新", 4000, &s.world.house_b)).await;
    store
        .record_door_knock(
            s.round.id,
            DoorKnock {
                person: s.b[2].id,
                outcome: DoorKnockOutcome::AwayFromTown,
                note: Some("在广州打工".into()),
                at: T0,
            },
            42,
        )
        .await
        .unwrap();
    let cov = store.coverage(s.round.id, village.id).await.unwrap();
    assert_eq!(figures(&cov)[2], ("440785101210-G02".into(), 4, 1, 1));
    assert_eq!(cov[2].target(), 3);
    // A household asked for itself: the same figures on every engine (PostgreSQL keeps no
    // counters for households and counts its residents instead).
    let house = store.coverage(s.round.id, s.world.house_b.id).await.unwrap();
    assert_eq!(figures(&house), vec![("440785101210-G02-H001".into(), 4, 1, 1)]);
    let house = store.coverage(s.round.id, s.world.house_a.id).await.unwrap();
    assert_eq!(figures(&house), vec![("440785101210-G01-H001".into(), 5, 0, 2)]);
    // Knocking again with "will go" brings the person back into the target; twice "away" counts once.
    for outcome in [DoorKnockOutcome::SampledElsewhere, DoorKnockOutcome::WillGo] {
        store
            .record_door_knock(s.round.id, DoorKnock { person: s.b[2].id, outcome, note: None, at: T0 }, 42)
            .await
            .unwrap();
    }
    assert_eq!(figures(&store.coverage(s.round.id, village.id).await.unwrap())[2].2, 0);

    let p = store.progress(s.round.id).await.unwrap();
    assert_eq!((p.sampled, p.registrations, p.tubes, p.tubes_open), (3, 4, 2, 2));
    let hours: Vec<(Millis, u64)> = p.by_hour.iter().map(|h| (h.hour, h.samples)).collect();
    assert_eq!(hours, vec![(T0, 2), (T0 + 60 * MINUTE, 2)]);
    assert_eq!(p.by_site.len(), 1);
    assert_eq!((p.by_site[0].site, p.by_site[0].samples), (s.site.id, 4));
    let lanes = store.lane_counts(s.round.id, s.site.id, T0 + 60 * MINUTE).await.unwrap();
    assert_eq!(lanes, vec![(s.site.lanes[0].id, 2)]);
}

pub async fn testing_untested_list_and_home_visits(store: &dyn Store) {
    let s = scene(store).await;
    created(store.register(s.reg("u-1", "EP0000001", &s.a[0], 1)).await);
    created(store.register(s.reg("u-2", "EP0000001", &s.a[2], 1)).await);
    let grid_a = Scope::of(&s.world.grid_a);
    let untested = store.untested(s.round.id, &grid_a, None, 100).await.unwrap();
    let ids: Vec<_> = untested.iter().map(|u| u.person.id).collect();
    assert_eq!(ids, vec![s.a[1].id, s.a[3].id, s.a[4].id]);
    let page = store.untested(s.round.id, &grid_a, Some(s.a[1].id), 1).await.unwrap();
    assert_eq!(page.iter().map(|u| u.person.id).collect::<Vec<_>>(), vec![s.a[3].id]);
    store
        .record_door_knock(
            s.round.id,
            DoorKnock {
                person: s.a[3].id,
                outcome: DoorKnockOutcome::CannotWalk,
                note: Some("卧床".into()),
                at: T0 + MINUTE,
            },
            42,
        )
        .await
        .unwrap();
    let untested = store.untested(s.round.id, &grid_a, None, 100).await.unwrap();
    let knock = untested.iter().find(|u| u.person.id == s.a[3].id).unwrap().knock.clone().expect("knock");
    assert_eq!((knock.outcome, knock.note.as_deref()), (DoorKnockOutcome::CannotWalk, Some("卧床")));
    let visits = store.home_visits(s.round.id, &Scope::of(&s.world.village)).await.unwrap();
    assert_eq!(
        visits.iter().map(|v| (v.person.id, v.reason)).collect::<Vec<_>>(),
        vec![(s.a[3].id, HomeVisitReason::DoorKnock)]
    );
    // Sampled at home: off both lists.
    let mut home = s.reg("u-3", "EP0000009", &s.a[3], 90);
    home.home = true;
    assert!(created(store.register(home).await).home);
    assert!(store.home_visits(s.round.id, &Scope::of(&s.world.village)).await.unwrap().is_empty());
    assert_eq!(store.untested(s.round.id, &grid_a, None, 100).await.unwrap().len(), 2);
    // Another grid's people never show in grid A's list.
    assert!(
        store
            .untested(s.round.id, &grid_a, None, 100)
            .await
            .unwrap()
            .iter()
            .all(|u| u.person.grid == Some(s.world.grid_a.id))
    );
}

pub async fn testing_lab_results_and_the_review_queue(store: &dyn Store) {
    let s = scene(store).await;
    created(store.register(s.reg("l-1", "EP0000001", &s.a[0], 1)).await);
    created(store.register(s.reg("l-2", "EP0000002", &s.a[1], 1)).await);
    let report = store
        .record_results(
            vec![
                result("EP0000001", LabOutcome::Negative),
                result("EP0000002", LabOutcome::Negative),
                result("EP0000001", LabOutcome::Negative),
                result("EP0000404", LabOutcome::Positive),
            ],
            7,
            T0 + 400 * MINUTE,
        )
        .await
        .unwrap();
    assert_eq!((report.applied, report.unchanged), (2, 1));
    assert_eq!(report.review, vec![(tube("EP0000404"), ReviewReason::UnknownTube)]);
    assert!(report.abnormal.is_empty());
    assert_eq!((report.rounds.as_slice(), report.abnormal_rounds.as_slice()), (&[s.round.id][..], &[][..]));
    // The same result again changes no round's figures.
    let again =
        store.record_results(vec![result("EP0000001", LabOutcome::Negative)], 7, T0 + 400 * MINUTE).await.unwrap();
    assert_eq!((again.unchanged, again.rounds.len()), (1, 0), "nothing changed, no round to tell");
    // A later positive for a negative tube wins and goes to review; a later negative never
    // overwrites a positive.
    let report = store
        .record_results(
            vec![result("EP0000002", LabOutcome::Positive), result("EP0000002", LabOutcome::Negative)],
            7,
            T0 + 401 * MINUTE,
        )
        .await
        .unwrap();
    assert_eq!(report.review.len(), 2);
    assert_eq!(report.abnormal, vec![tube("EP0000002")]);
    assert_eq!((report.rounds.as_slice(), report.abnormal_rounds.as_slice()), (&[s.round.id][..], &[s.round.id][..]));
    let t = store.tube(&tube("EP0000002")).await.unwrap().unwrap();
    assert_eq!((t.state, t.outcome), (TubeState::Resulted, Some(LabOutcome::Positive)));
    let queue = store.review_queue(100).await.unwrap();
    assert_eq!(
        queue.iter().map(|q| (q.result.tube.as_str().to_string(), q.reason)).collect::<Vec<_>>(),
        vec![
            ("EP0000404".to_string(), ReviewReason::UnknownTube),
            ("EP0000002".to_string(), ReviewReason::Conflict),
            ("EP0000002".to_string(), ReviewReason::Conflict)
        ]
    );
    assert_eq!(queue[0].result.outcome, LabOutcome::Positive, "a positive for an unknown tube is kept");
}

/// The round's abnormal pools inside `scope`, checked against their counts.
async fn listed(store: &dyn Store, round: i64, scope: &Scope) -> Vec<bulwark_store::testing::AbnormalPool> {
    let pools = store.abnormal_pools(round, scope).await.unwrap();
    let mut counted = bulwark_store::testing::AbnormalPoolCounts::default();
    for pool in &pools {
        counted.add(pool.state);
    }
    assert_eq!(store.abnormal_pool_counts(round, scope).await.unwrap(), counted, "the counts agree with the list");
    // The same pools in the same order when handed over a few at a time.
    for batch in [1, 2, 3] {
        let batches = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let into = batches.clone();
        let each = Box::new(move |pools| into.lock().unwrap().push(pools));
        store.abnormal_pools_in_batches(round, scope, batch, each).await.unwrap();
        let batches = std::mem::take(&mut *batches.lock().unwrap());
        let sizes: Vec<usize> = batches.iter().map(Vec::len).collect();
        assert!(sizes.iter().all(|n| (1..=batch).contains(n)), "batches of at most {batch}: {sizes:?}");
        assert!(sizes.iter().rev().skip(1).all(|n| *n == batch), "only the last batch is short: {sizes:?}");
        assert_eq!(batches.concat(), pools, "the pools in batches of {batch}");
    }
    pools
}

pub async fn testing_abnormal_pool_members_and_state(store: &dyn Store) {
    let s = scene(store).await;
    for (i, p) in s.a.iter().take(3).enumerate() {
        created(store.register(s.reg(&format!("a-{i}"), "EP0000001", p, 1)).await);
    }
    created(store.register(s.reg("n-0", "EP0000002", &s.b[0], 1)).await);
    store.seal_tube(&tube("EP0000001"), T0 + 10 * MINUTE).await.unwrap();
    store
        .record_results(
            vec![result("EP0000001", LabOutcome::Abnormal), result("EP0000002", LabOutcome::Negative)],
            7,
            T0 + 300 * MINUTE,
        )
        .await
        .unwrap();
    let village = Scope::of(&s.world.village);
    let pools = listed(store, s.round.id, &village).await;
    assert_eq!(pools.len(), 1);
    assert_eq!(pools[0].state, PoolCaseState::Held);
    assert_eq!(pools[0].members.iter().map(|m| m.person.id).collect::<Vec<_>>(), vec![s.a[0].id, s.a[1].id, s.a[2].id]);
    // A scan that queued offline arrives after the result: stored, flagged, and on the list at once.
    let late = created(store.register(s.reg("a-late", "EP0000001", &s.b[1], 2)).await);
    assert_eq!(late.flags, vec![RegistrationFlag::AfterResult]);
    let pools = listed(store, s.round.id, &village).await;
    assert_eq!(pools[0].members.len(), 4);
    assert!(pools[0].members.iter().any(|m| m.person.id == s.b[1].id));
    // Home visits: every member without a re-test.
    let visits = store.home_visits(s.round.id, &village).await.unwrap();
    assert_eq!(visits.iter().filter(|v| v.reason == HomeVisitReason::AbnormalPool).count(), 4, "{visits:?}");
    // Single-tube re-tests: not a duplicate in the round (they are expected), and they move the pool.
    let mut retests = Vec::new();
    for (i, p) in s.a.iter().take(3).chain([&s.b[1]]).enumerate() {
        let mut r = s.reg(&format!("r-{i}"), &format!("EP00009{i:02}"), p, 400 + i as i64);
        r.pool_size = PoolSize::SINGLE;
        r.home = true;
        let reg = created(store.register(r).await);
        assert_eq!(reg.flags, vec![], "a re-test after an abnormal pool is not a duplicate");
        retests.push(reg);
    }
    let pools = listed(store, s.round.id, &village).await;
    assert_eq!(pools[0].state, PoolCaseState::Resampling);
    assert!(pools[0].members.iter().all(|m| m.retest.as_ref().is_some_and(|(_, o)| o.is_none())));
    let negatives: Vec<_> = (0..4).map(|i| result(&format!("EP00009{i:02}"), LabOutcome::Negative)).collect();
    store.record_results(negatives, 7, T0 + 700 * MINUTE).await.unwrap();
    assert_eq!(listed(store, s.round.id, &village).await[0].state, PoolCaseState::Released);
    store.record_results(vec![result("EP0000902", LabOutcome::Positive)], 7, T0 + 701 * MINUTE).await.unwrap();
    let pools = listed(store, s.round.id, &village).await;
    assert_eq!(pools[0].state, PoolCaseState::CaseFollowUp);
    // Scope: grid B sees the pool (a member lives there) but only its own member.
    let grid_b = listed(store, s.round.id, &Scope::of(&s.world.grid_b)).await;
    assert_eq!(grid_b[0].members.iter().map(|m| m.person.id).collect::<Vec<_>>(), vec![s.b[1].id]);
}

/// A pool's members as listed are their people as they are now: a name, phone or address
/// changed after the pool's result shows at once, and a member who moved is listed in her new
/// grid's scope and no longer in her old one's.
pub async fn testing_abnormal_pool_members_follow_their_people(store: &dyn Store) {
    let s = scene(store).await;
    for (i, p) in s.a.iter().take(3).enumerate() {
        created(store.register(s.reg(&format!("f-{i}"), "EP0000031", p, 1)).await);
    }
    store.record_results(vec![result("EP0000031", LabOutcome::Positive)], 7, T0 + 300 * MINUTE).await.unwrap();
    let village = Scope::of(&s.world.village);
    let change = PersonChange {
        name: Some("甲零改".into()),
        phone: Some(Some(Phone::parse("13900001111").unwrap())),
        address: Some(Some("新村二巷8号".into())),
        ..PersonChange::default()
    };
    let at = T0 + 301 * MINUTE;
    store.update_person(&village, s.a[0].id, change, &stamp(at, Operation::PersonsUpdate)).await.unwrap();
    let moved = PersonChange { area: Some(s.world.house_b.id), ..PersonChange::default() };
    store.update_person(&village, s.a[1].id, moved, &stamp(at, Operation::PersonsUpdate)).await.unwrap();

    let pools = listed(store, s.round.id, &village).await;
    let first = &pools[0].members[0].person;
    assert_eq!(first.name, "甲零改");
    assert_eq!(first.phone, Some(Phone::parse("13900001111").unwrap()));
    assert_eq!(first.address.as_deref(), Some("新村二巷8号"));
    assert_eq!(pools[0].members[1].person.grid, Some(s.world.grid_b.id));
    let ids = |pools: &[bulwark_store::testing::AbnormalPool]| -> Vec<PersonId> {
        pools.iter().flat_map(|p| p.members.iter().map(|m| m.person.id)).collect()
    };
    assert_eq!(ids(&listed(store, s.round.id, &Scope::of(&s.world.grid_a)).await), vec![s.a[0].id, s.a[2].id]);
    assert_eq!(ids(&listed(store, s.round.id, &Scope::of(&s.world.grid_b)).await), vec![s.a[1].id]);
}

/// The list reads each pool once in result order: a person scanned twice into a pool is listed
/// once, with her registration, the latest of several single-tube re-tests counts, a later
/// pooled registration is not a re-test, and the home-visit list gets the members' whole records.
pub async fn testing_abnormal_pools_order_duplicates_and_retests(store: &dyn Store) {
    let s = scene(store).await;
    let first = created(store.register(s.reg("p-0", "EP0000011", &s.a[0], 1)).await);
    created(store.register(s.reg("p-1", "EP0000011", &s.a[1], 2)).await);
    let again = store.register(s.reg("p-2", "EP0000011", &s.a[0], 3)).await.unwrap();
    assert!(matches!(again, Registered::AlreadyInTube(_)), "the same swab scanned twice: {again:?}");
    created(store.register(s.reg("q-0", "EP0000012", &s.b[0], 4)).await);
    created(store.register(s.reg("q-1", "EP0000012", &s.a[2], 5)).await);
    store.record_results(vec![result("EP0000012", LabOutcome::Abnormal)], 7, T0 + 300 * MINUTE).await.unwrap();
    store.record_results(vec![result("EP0000011", LabOutcome::Positive)], 7, T0 + 310 * MINUTE).await.unwrap();
    // a1: two single-tube re-tests, the later one counts; a2: scanned into another pool later.
    for (key, code, minute) in [("r-0", "EP0000921", 400), ("r-1", "EP0000922", 410)] {
        let mut r = s.reg(key, code, &s.a[1], minute);
        r.pool_size = PoolSize::SINGLE;
        created(store.register(r).await);
    }
    created(store.register(s.reg("x-0", "EP0000013", &s.a[2], 420)).await);
    // a3: re-tested in a single tube, then her swab into the first pool arrives late (an outbox
    // that was offline): her re-test is her first registration in the round.
    let mut r = s.reg("r-2", "EP0000923", &s.a[3], 430);
    r.pool_size = PoolSize::SINGLE;
    created(store.register(r).await);
    let late = created(store.register(s.reg("q-2", "EP0000012", &s.a[3], 440)).await);
    assert!(late.flags.contains(&RegistrationFlag::AfterResult), "{:?}", late.flags);
    let village = Scope::of(&s.world.village);
    let pools = listed(store, s.round.id, &village).await;
    let codes: Vec<&str> = pools.iter().map(|p| p.tube.code.as_str()).collect();
    assert_eq!(codes, vec!["EP0000012", "EP0000011"], "in the order the results came");
    let ids = |i: usize| pools[i].members.iter().map(|m| m.person.id).collect::<Vec<_>>();
    assert_eq!(ids(0), vec![s.b[0].id, s.a[2].id, s.a[3].id]);
    assert_eq!(ids(1), vec![s.a[0].id, s.a[1].id], "a person scanned twice is listed once");
    let a0 = &pools[1].members[0];
    assert_eq!((a0.registration, a0.registered_at), (first.id, first.at), "her first registration");
    assert_eq!((a0.person.name.as_str(), &a0.person.document), (s.a[0].name.as_str(), &s.a[0].document));
    assert_eq!((a0.person.grid, &a0.person.area_path), (s.a[0].grid, &s.a[0].area_path));
    assert_eq!(pools[1].members[1].retest, Some((tube("EP0000922"), None)), "the latest re-test");
    assert_eq!(pools[0].members[1].retest, None, "a later pooled registration is not a re-test");
    assert_eq!(pools[0].members[2].retest, Some((tube("EP0000923"), None)), "a re-test before her pool's scan");
    assert_eq!((pools[0].state, pools[1].state), (PoolCaseState::Resampling, PoolCaseState::Resampling));
    // Scope: grid B sees the first pool with its own member only, and not the second.
    let grid_b = listed(store, s.round.id, &Scope::of(&s.world.grid_b)).await;
    assert_eq!(grid_b.len(), 1);
    assert_eq!(grid_b[0].members.iter().map(|m| m.person.id).collect::<Vec<_>>(), vec![s.b[0].id]);
    // Home visits: the members without a re-test, each with her whole record.
    let visits = store.home_visits(s.round.id, &village).await.unwrap();
    let mut pooled: Vec<&Person> =
        visits.iter().filter(|v| v.reason == HomeVisitReason::AbnormalPool).map(|v| &v.person).collect();
    pooled.sort_by_key(|p| p.id);
    let mut expected = vec![&s.a[0], &s.a[2], &s.b[0]];
    expected.sort_by_key(|p| p.id);
    assert_eq!(pooled, expected);
}

/// A member swabbed singly more than once: the re-test that stands for her is the one that
/// decides (an abnormal result over a negative, a negative over a swab in the lab, a swab in the
/// lab over an invalid result), so a released pool stays released when a cleared member is
/// swabbed again, a positive is never outweighed, and an invalid re-test puts her back on the
/// home-visit list until she is swabbed again.
pub async fn testing_abnormal_pool_retests_in_any_order(store: &dyn Store) {
    let s = scene(store).await;
    let (a0, a1, a2) = (&s.a[0], &s.a[1], &s.a[2]);
    for (i, p) in [a0, a1, a2].into_iter().enumerate() {
        created(store.register(s.reg(&format!("p-{i}"), "EP0000051", p, 1 + i as i64)).await);
    }
    store.record_results(vec![result("EP0000051", LabOutcome::Abnormal)], 7, T0 + 300 * MINUTE).await.unwrap();
    let village = Scope::of(&s.world.village);
    let mut minute = 400;
    let mut swab = |person: &Person, code: &str| {
        minute += 1;
        let mut r = s.reg(&format!("r-{code}"), code, person, minute);
        r.pool_size = PoolSize::SINGLE;
        r.home = true;
        r
    };
    let results = |pairs: &[(&str, LabOutcome)]| pairs.iter().map(|(c, o)| result(c, *o)).collect::<Vec<_>>();
    let pool = || async { listed(store, s.round.id, &village).await.remove(0) };
    let standing = |pool: &bulwark_store::testing::AbnormalPool, person: &Person| {
        let member = pool.members.iter().find(|m| m.person.id == person.id).expect("a member");
        member.retest.as_ref().map(|(code, outcome)| (code.as_str().to_owned(), *outcome))
    };
    let to_visit = || async {
        let visits = store.home_visits(s.round.id, &village).await.unwrap();
        visits
            .into_iter()
            .filter(|v| v.reason == HomeVisitReason::AbnormalPool)
            .map(|v| v.person.id)
            .collect::<Vec<_>>()
    };

    for (p, code) in [(a0, "EP0000951"), (a1, "EP0000952"), (a2, "EP0000953")] {
        created(store.register(swab(p, code)).await);
    }
    let outcomes =
        [("EP0000951", LabOutcome::Negative), ("EP0000952", LabOutcome::Invalid), ("EP0000953", LabOutcome::Negative)];
    store.record_results(results(&outcomes), 7, T0 + 500 * MINUTE).await.unwrap();
    let p = pool().await;
    assert_eq!(p.state, PoolCaseState::Resampling, "one re-test was invalid");
    assert_eq!(standing(&p, a1), Some(("EP0000952".into(), Some(LabOutcome::Invalid))));
    assert_eq!(to_visit().await, vec![a1.id], "an invalid re-test is sampled again");

    created(store.register(swab(a1, "EP0000954")).await);
    let p = pool().await;
    assert_eq!(standing(&p, a1), Some(("EP0000954".into(), None)), "her new swab over the invalid one");
    assert_eq!(p.state, PoolCaseState::Resampling);
    assert_eq!(to_visit().await, Vec::<PersonId>::new());
    store.record_results(results(&[("EP0000954", LabOutcome::Negative)]), 7, T0 + 600 * MINUTE).await.unwrap();
    assert_eq!(pool().await.state, PoolCaseState::Released);

    // A cleared member swabbed again (a daily test): the pool stays released while it is in the lab.
    created(store.register(swab(a0, "EP0000955")).await);
    let p = pool().await;
    assert_eq!(p.state, PoolCaseState::Released, "another swab does not hold a cleared member again");
    assert_eq!(standing(&p, a0), Some(("EP0000951".into(), Some(LabOutcome::Negative))));
    assert_eq!(to_visit().await, Vec::<PersonId>::new());
    // It comes back positive: the case follow-up, which a later negative does not undo.
    store.record_results(results(&[("EP0000955", LabOutcome::Positive)]), 7, T0 + 700 * MINUTE).await.unwrap();
    let p = pool().await;
    assert_eq!(p.state, PoolCaseState::CaseFollowUp);
    assert_eq!(standing(&p, a0), Some(("EP0000955".into(), Some(LabOutcome::Positive))));
    created(store.register(swab(a0, "EP0000956")).await);
    store.record_results(results(&[("EP0000956", LabOutcome::Negative)]), 7, T0 + 800 * MINUTE).await.unwrap();
    let p = pool().await;
    assert_eq!(p.state, PoolCaseState::CaseFollowUp, "a positive is never outweighed");
    assert_eq!(standing(&p, a0), Some(("EP0000955".into(), Some(LabOutcome::Positive))));
}

/// Many pools, read on two connections when the engine has them (the walk's statements take
/// turns): every pool in the order its result came, whatever the order of the tubes, each with
/// its members in scan order, alike whether handed over at once or a few pools at a time.
pub async fn testing_abnormal_pools_many_in_result_order(store: &dyn Store) {
    let s = scene(store).await;
    let mut minute = 1;
    let mut members = Vec::new();
    for k in 0..7 {
        let code = format!("EP00001{k:02}");
        let mut people = vec![&s.a[k % 5], &s.b[k % 3]];
        if k % 2 == 0 {
            people.push(&s.a[(k + 1) % 5]);
        }
        for p in &people {
            // People in several pools are flagged in the round, and members of each.
            store.register(s.reg(&format!("m-{k}-{minute}"), &code, p, minute)).await.unwrap();
            minute += 1;
        }
        members.push(people.iter().map(|p| p.id).collect::<Vec<_>>());
    }
    // Results in another order than the tubes': the list follows the results.
    let arrival = [3, 0, 5, 1, 6, 2, 4];
    for (i, k) in arrival.iter().enumerate() {
        let result = result(&format!("EP00001{k:02}"), LabOutcome::Abnormal);
        store.record_results(vec![result], 7, T0 + (300 + i as i64) * MINUTE).await.unwrap();
    }
    let mut retest = s.reg("r-0", "EP0000930", &s.b[0], 400);
    retest.pool_size = PoolSize::SINGLE;
    created(store.register(retest).await);

    let pools = listed(store, s.round.id, &Scope::of(&s.world.village)).await;
    let codes: Vec<String> = pools.iter().map(|p| p.tube.code.to_string()).collect();
    let expected: Vec<String> = arrival.iter().map(|k| format!("EP00001{k:02}")).collect();
    assert_eq!(codes, expected, "in the order the results came");
    for (pool, k) in pools.iter().zip(arrival) {
        assert_eq!(pool.members.iter().map(|m| m.person.id).collect::<Vec<_>>(), members[k], "pool {k}");
        let retested = pool.members.iter().filter(|m| m.retest.is_some()).map(|m| m.person.id).collect::<Vec<_>>();
        let b0 = if k % 3 == 0 { vec![s.b[0].id] } else { vec![] };
        assert_eq!(retested, b0, "pool {k}: her single tube after the results is the re-test");
    }
    // Inside grid B: the same pools, each with its member from there alone.
    let grid_b = listed(store, s.round.id, &Scope::of(&s.world.grid_b)).await;
    assert_eq!(grid_b.iter().map(|p| p.tube.code.to_string()).collect::<Vec<_>>(), expected);
    assert!(grid_b.iter().zip(arrival).all(|(p, k)| p.members.len() == 1 && p.members[0].person.id == s.b[k % 3].id));
}

pub async fn testing_people_by_document_and_qr(store: &dyn Store) {
    let s = scene(store).await;
    let found = store.person_by_document(&s.a[2].document).await.unwrap().expect("found");
    assert_eq!(found.id, s.a[2].id);
    assert!(store.person_by_document(&Document::ResidentId(super::nth_id(77_777))).await.unwrap().is_none());
    let counter = std::sync::atomic::AtomicU32::new(0);
    let make = move || format!("qr-{}", counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    let grid_a = Scope::of(&s.world.grid_a);
    let tokens = store.qr_tokens(&grid_a, &make).await.unwrap();
    assert_eq!(tokens.len(), 5);
    let again = store.qr_tokens(&grid_a, &make).await.unwrap();
    assert_eq!(tokens, again, "tokens are made once");
    let (person, token) = &tokens[3];
    assert!(!token.contains(person.document.number().unwrap_or("-")));
    assert_eq!(store.person_by_qr(token).await.unwrap().map(|p| p.id), Some(person.id));
    assert!(store.person_by_qr("qr-unknown").await.unwrap().is_none());
}

/// A scan looked up and stored in one step: by id, by document and by QR token, each answering
/// the person found with the registration `make` built for them; nobody found stores nothing.
pub async fn testing_register_scanned_finds_the_person_and_stores(store: &dyn Store) {
    use bulwark_store::testing::Scanned;
    let s = scene(store).await;
    let make = |key: &str, tube: &str| s.scan(key, tube);
    let (by_id, person) = store
        .register_scanned(Scanned::Id(s.a[1].id), make("0190a000-0000-7000-8000-000000000001", "LXA0001"))
        .await
        .unwrap()
        .expect("found by id");
    assert_eq!(person.id, s.a[1].id);
    assert_eq!(created(Ok(by_id)).person, s.a[1].id);
    let (by_document, person) = store
        .register_scanned(
            Scanned::Document(s.a[2].document.clone()),
            make("0190a000-0000-7000-8000-000000000002", "LXA0001"),
        )
        .await
        .unwrap()
        .expect("found by document");
    assert_eq!(person.id, s.a[2].id);
    assert_eq!(created(Ok(by_document)).tube_members, 2);
    let counter = std::sync::atomic::AtomicU32::new(0);
    let token = move || format!("QR{}", counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    let tokens = store.qr_tokens(&Scope::of(&s.world.grid_b), &token).await.unwrap();
    let (owner, token) = &tokens[0];
    let (by_qr, person) = store
        .register_scanned(Scanned::Qr(token.clone()), make("0190a000-0000-7000-8000-000000000003", "LXA0002"))
        .await
        .unwrap()
        .expect("found by QR token");
    assert_eq!(person.id, owner.id);
    assert_eq!(created(Ok(by_qr)).person, owner.id);
    // The same key again answers the stored registration (a replay), with the person.
    let (replay, _) = store
        .register_scanned(Scanned::Id(s.a[1].id), make("0190a000-0000-7000-8000-000000000001", "LXA0001"))
        .await
        .unwrap()
        .expect("found again");
    assert!(matches!(replay, Registered::Replayed(_)), "{replay:?}");
    let nobody = store
        .register_scanned(Scanned::Id(9_999_999), make("0190a000-0000-7000-8000-000000000004", "LXA0003"))
        .await
        .unwrap();
    assert!(nobody.is_none());
    let unknown = Scanned::Document(Document::ResidentId(super::nth_id(77_777)));
    assert!(
        store
            .register_scanned(unknown, make("0190a000-0000-7000-8000-000000000005", "LXA0003"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.progress(s.round.id).await.unwrap().registrations, 3, "nothing stored for nobody");
}

/// Scans arriving together (one group commit on PostgreSQL, whose worker looks their people up in
/// one statement) each find their own person; a scan of nobody among them stores nothing.
pub async fn testing_scans_together_each_find_their_own(store: &dyn Store) {
    use bulwark_store::testing::Scanned;
    let s = scene(store).await;
    let key = |n: u32| format!("0190a000-0000-7000-8000-{n:012}");
    let (by_document, by_id, nobody, by_document_too) = tokio::join!(
        store.register_scanned(Scanned::Document(s.a[0].document.clone()), s.scan(&key(11), "LXA0001")),
        store.register_scanned(Scanned::Id(s.b[1].id), s.scan(&key(12), "LXA0001")),
        store.register_scanned(Scanned::Id(9_999_999), s.scan(&key(13), "LXA0001")),
        store.register_scanned(Scanned::Document(s.a[3].document.clone()), s.scan(&key(14), "LXA0002")),
    );
    for (answer, expected) in [(by_document, &s.a[0]), (by_id, &s.b[1]), (by_document_too, &s.a[3])] {
        let (registered, person) = answer.unwrap().expect("found");
        assert_eq!(person.id, expected.id);
        assert_eq!(created(Ok(registered)).person, expected.id);
    }
    assert!(nobody.unwrap().is_none());
    assert_eq!(store.progress(s.round.id).await.unwrap().registrations, 3, "nothing stored for nobody");
}

/// An upload's people in one call: each scan's person in the scans' order, `None` for nobody.
pub async fn testing_people_scanned_in_order(store: &dyn Store) {
    use bulwark_store::testing::Scanned;
    let s = scene(store).await;
    assert!(store.people_scanned(&[]).await.unwrap().is_empty());
    let counter = std::sync::atomic::AtomicU32::new(0);
    let token = move || format!("QS{}", counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst));
    let tokens = store.qr_tokens(&Scope::of(&s.world.grid_b), &token).await.unwrap();
    let (owner, token) = &tokens[0];
    let scans = [
        Scanned::Document(s.a[2].document.clone()),
        Scanned::Id(9_999_999),
        Scanned::Qr(token.clone()),
        Scanned::Id(s.a[0].id),
        Scanned::Document(Document::ResidentId(super::nth_id(77_777))),
        Scanned::Document(s.a[2].document.clone()),
    ];
    let found: Vec<Option<PersonId>> =
        store.people_scanned(&scans).await.unwrap().into_iter().map(|p| p.map(|p| p.id)).collect();
    assert_eq!(found, vec![Some(s.a[2].id), None, Some(owner.id), Some(s.a[0].id), None, Some(s.a[2].id)]);
}

/// Residents counted per area follow people moving between grids.
pub async fn testing_resident_counters_follow_moves(store: &dyn Store) {
    let s = scene(store).await;
    let moved = &s.a[0];
    store
        .update_person(
            &Scope::of(&s.world.town),
            moved.id,
            bulwark_store::PersonChange { area: Some(s.world.house_b.id), ..Default::default() },
            &super::stamp(T0, bulwark_domain::access::Operation::PersonsUpdate),
        )
        .await
        .unwrap();
    let residents = |cov: Vec<bulwark_store::testing::CoverageRow>| cov.iter().map(|c| c.residents).collect::<Vec<_>>();
    assert_eq!(residents(store.coverage(s.round.id, s.world.village.id).await.unwrap()), vec![8, 4, 4]);
    store.merge_grid(s.world.grid_b.id, s.world.grid_a.id).await.unwrap();
    assert_eq!(residents(store.coverage(s.round.id, s.world.village.id).await.unwrap()), vec![8, 8]);
    let _: &Area = &s.world.grid_a;
}

pub async fn testing_lab_mappings_are_saved(store: &dyn Store) {
    assert_eq!(store.lab_mapping("恩平市人民医院").await.unwrap(), None);
    store.save_lab_mapping("恩平市人民医院", r#"{"tube_code":"管号"}"#, T0).await.unwrap();
    store.save_lab_mapping("恩平市人民医院", r#"{"tube_code":"条码号"}"#, T0 + 1).await.unwrap();
    assert_eq!(store.lab_mapping("恩平市人民医院").await.unwrap().as_deref(), Some(r#"{"tube_code":"条码号"}"#));
    assert_eq!(store.lab_mapping("江门市中心医院").await.unwrap(), None);
}

/// Merging grid B into grid A carries everything of mass testing, command, rosters, transport and
/// notifications that names grid B or stands below it, and grid A's counters add up: its figures
/// after the merge are its own plus grid B's before it.
pub async fn testing_merge_grid_moves_mass_testing_references(store: &dyn Store) {
    use crate::command::CommandScene;
    use crate::transport::box_code;
    use bulwark_domain::{
        command::golden_24_hours,
        notify::{Address, DedupKey, NewNotification, Recipient},
        people::Phone,
        testing::PoolOverride,
        workforce::{Duty, NewPost, PostKind},
    };
    use bulwark_store::notify::NotificationQuery;

    let s = scene(store).await;
    let (w, grid_a, grid_b) = (&s.world, &s.world.grid_a, &s.world.grid_b);
    let new_round = |name: &str, areas: Vec<i64>, overrides: Vec<PoolOverride>| NewRound {
        name: name.into(),
        areas,
        pool_size: PoolSize::TEN,
        overrides,
        starts_at: T0,
        ends_at: None,
    };
    // A round naming both grids (one row survives), and one naming grid B alone with a pool
    // override there.
    let both = store.create_round(new_round("两个网格", vec![grid_a.id, grid_b.id], vec![]), T0).await.unwrap();
    let single = PoolOverride { area: grid_b.id, pool_size: PoolSize::new(1).unwrap() };
    let only_b = store.create_round(new_round("第二网格", vec![grid_b.id], vec![single]), T0).await.unwrap();
    // A site standing in grid B and serving both grids.
    let site_b = store
        .create_site(
            NewSite {
                name: "第二网格采样点".into(),
                area: grid_b.id,
                serves: vec![grid_b.id, grid_a.id],
                hours: OpeningHours::ALWAYS,
                lanes: vec![NewLane { name: "1号".into(), kind: LaneKind::Normal }],
            },
            T0,
        )
        .await
        .unwrap();
    // Counters of both grids in the village's round, and of grid B in its own round.
    created(store.register(s.reg("g-1", "EP0000001", &s.a[0], 1)).await);
    created(store.register(s.reg("g-2", "EP0000001", &s.a[1], 2)).await);
    created(store.register(s.reg("g-3", "EP0000002", &s.b[0], 3)).await);
    let mut at_b = s.reg("g-4", "EP0000003", &s.b[1], 4);
    (at_b.round, at_b.site, at_b.lane, at_b.pool_size) =
        (only_b.id, site_b.id, Some(site_b.lanes[0].id), PoolSize::new(1).unwrap());
    created(store.register(at_b).await);
    for (person, outcome) in [(&s.b[2], DoorKnockOutcome::AwayFromTown), (&s.a[4], DoorKnockOutcome::SampledElsewhere)]
    {
        let knock = DoorKnock { person: person.id, outcome, note: None, at: T0 };
        store.record_door_knock(s.round.id, knock, 42).await.unwrap();
    }
    // A box packed at grid B's site, an incident and a post in grid B, a notification of grid B.
    let the_box = store
        .create_box(bulwark_domain::testing::NewBox {
            code: box_code("BX0000001"),
            round: only_b.id,
            site: site_b.id,
            at: T0 + 5 * MINUTE,
            by: 42,
        })
        .await
        .unwrap();
    let plan = golden_24_hours();
    let plan_version = store.save_plan(&plan, T0, 7).await.unwrap().version;
    let command = CommandScene { world: w.clone(), staff: vec![], plan, plan_version };
    let incident = command.open(store, "merge", grid_b, T0).await;
    let post = NewPost::new("第二网格卡口", PostKind::Checkpoint, vec![Duty::Guard], grid_b.id, None, 1).unwrap();
    let post = store.create_post(post, T0).await.unwrap();
    let notice = NewNotification::new(
        DedupKey::parse("merge-1").unwrap(),
        Recipient::Person(s.b[0].id),
        Address::Sms(Phone::parse("13812345678").unwrap()),
        grid_b.id,
        "",
        "请到第二网格采样点采样",
    )
    .unwrap();
    store.enqueue_notifications(vec![notice], T0).await.unwrap();

    let figures = |c: &bulwark_store::testing::CoverageRow| (c.area.id, c.residents, c.excluded, c.sampled);
    let before = store.coverage(s.round.id, w.village.id).await.unwrap();
    let before: Vec<_> = before.iter().map(figures).collect();
    assert_eq!(before, vec![(w.village.id, 8, 2, 3), (grid_a.id, 5, 1, 2), (grid_b.id, 3, 1, 1)]);
    let only_b_before = store.coverage(only_b.id, grid_b.id).await.unwrap();
    assert_eq!(only_b_before.iter().map(figures).collect::<Vec<_>>(), vec![(grid_b.id, 3, 0, 1)]);
    let progress = |p: bulwark_store::testing::Progress| (p.sampled, p.registrations, p.tubes, p.tubes_open, p.by_site);
    let progress_before = progress(store.progress(s.round.id).await.unwrap());
    let only_b_progress = progress(store.progress(only_b.id).await.unwrap());

    store.merge_grid(grid_b.id, grid_a.id).await.expect("a grid named by rounds, sites and counters merges");

    // Coverage: the survivor's figures are the sum of both grids'; the village's are unchanged.
    let after = store.coverage(s.round.id, w.village.id).await.unwrap();
    let (a, b) = (before[1], before[2]);
    assert_eq!(
        after.iter().map(figures).collect::<Vec<_>>(),
        vec![before[0], (grid_a.id, a.1 + b.1, a.2 + b.2, a.3 + b.3)]
    );
    let survivor = store.coverage(only_b.id, grid_a.id).await.unwrap();
    assert_eq!(survivor.iter().map(figures).collect::<Vec<_>>(), vec![(grid_a.id, 8, 0, 1)]);
    assert_eq!(progress(store.progress(s.round.id).await.unwrap()), progress_before);
    assert_eq!(progress(store.progress(only_b.id).await.unwrap()), only_b_progress);
    // Rounds and their pool overrides name the survivor, once.
    let round = store.round(both.id).await.unwrap().unwrap();
    assert_eq!((round.areas, round.area_paths), (vec![grid_a.id], vec![grid_a.path.clone()]));
    let round = store.round(only_b.id).await.unwrap().unwrap();
    assert_eq!((round.areas, round.area_paths), (vec![grid_a.id], vec![grid_a.path.clone()]));
    assert_eq!(
        round.overrides.iter().map(|(o, path)| (o.area, o.pool_size.get(), path.as_str())).collect::<Vec<_>>(),
        vec![(grid_a.id, 1, grid_a.path.as_str())]
    );
    // The site stands in the survivor and serves it once; its box follows it.
    let site = store.site(site_b.id).await.unwrap().unwrap();
    assert_eq!((site.area, site.area_path.as_str(), site.serves), (grid_a.id, grid_a.path.as_str(), vec![grid_a.id]));
    let ids = |v: Vec<Site>| v.into_iter().map(|s| s.id).collect::<Vec<_>>();
    assert_eq!(ids(store.sites(&Scope::of(grid_a)).await.unwrap()), vec![site_b.id]);
    let boxes = store.boxes(only_b.id, &Scope::of(grid_a)).await.unwrap();
    assert_eq!(
        boxes.iter().map(|b| (b.id, b.area_path.as_str())).collect::<Vec<_>>(),
        vec![(the_box.id, grid_a.path.as_str())]
    );
    // The incident, the post and the notification are the survivor's.
    let incidents = store.incidents(&Scope::of(grid_a)).await.unwrap();
    assert_eq!(
        incidents.iter().map(|i| (i.id, i.area, i.area_path.as_str())).collect::<Vec<_>>(),
        vec![(incident, grid_a.id, grid_a.path.as_str())]
    );
    let posts = store.posts(&Scope::of(grid_a)).await.unwrap();
    assert_eq!(
        posts.iter().map(|p| (p.id, p.area, p.area_path.as_str())).collect::<Vec<_>>(),
        vec![(post.id, grid_a.id, grid_a.path.as_str())]
    );
    let notices = store.notifications(&NotificationQuery::within(Scope::of(grid_a), 10)).await.unwrap();
    assert_eq!(notices.iter().map(|n| n.area_path.as_str()).collect::<Vec<_>>(), vec![grid_a.path.as_str()]);
    // The door-knock list of the survivor lists grid B's people not yet sampled.
    let untested = store.untested(s.round.id, &Scope::of(grid_a), None, 100).await.unwrap();
    let mut listed: Vec<PersonId> = untested.iter().map(|u| u.person.id).collect();
    listed.sort_unstable();
    let mut expected = vec![s.a[2].id, s.a[3].id, s.a[4].id, s.b[1].id, s.b[2].id];
    expected.sort_unstable();
    assert_eq!(listed, expected);
    // Registrations go on (the person as read now) and count for the survivor.
    let moved = store.person(&Scope::of(grid_a), s.b[1].id).await.unwrap().expect("moved with the grid");
    assert!(moved.area_path.starts_with(&grid_a.path));
    created(store.register(s.reg("g-5", "EP0000004", &moved, 6)).await);
    let grid = store.coverage(s.round.id, grid_a.id).await.unwrap();
    assert_eq!(grid.iter().map(figures).collect::<Vec<_>>(), vec![(grid_a.id, 8, 2, 4)]);
}

/// The round's progress is kept in counters; after registrations (one by one and in batches,
/// replays, reused keys, late scans), seals by hand and by pool size, lab results (first, changed,
/// repeated, unknown) and a merge of grids, it equals a recount of the tubes and registrations.
pub async fn testing_progress_equals_a_recount(store: &dyn Store) {
    use std::collections::BTreeMap;
    let s = scene(store).await;
    let site_b = store
        .create_site(
            NewSite {
                name: "第二网格采样点".into(),
                area: s.world.grid_b.id,
                serves: vec![s.world.grid_b.id],
                hours: OpeningHours::ALWAYS,
                lanes: vec![],
            },
            T0,
        )
        .await
        .unwrap();
    let people: Vec<&Person> = s.a.iter().chain(s.b.iter()).collect();
    let mut created_regs: Vec<bulwark_domain::testing::Registration> = Vec::new();
    let mut codes: Vec<String> = Vec::new();
    let mut keep = |answer: bulwark_store::StoreResult<Registered>, codes: &mut Vec<String>| {
        if let Ok(Registered::Created(reg)) = answer {
            codes.push(reg.tube.as_str().to_string());
            created_regs.push(reg);
        }
    };
    // One by one over three hours, at both sites, pools of ten and single tubes.
    for i in 0..24_i64 {
        let person = people[i as usize % people.len()];
        let mut reg = s.reg(&format!("p-{i}"), &format!("EP{:07}", 100 + i / 3), person, i * 9);
        if i % 4 == 0 {
            (reg.site, reg.lane) = (site_b.id, None);
        }
        if i % 5 == 0 {
            reg.tube = tube(&format!("EP{:07}", 500 + i));
            reg.pool_size = PoolSize::new(1).unwrap();
        }
        keep(store.register(reg).await, &mut codes);
    }
    // A replay and a reused key change nothing.
    keep(store.register(s.reg("p-1", "EP0000100", people[1], 9)).await, &mut codes);
    let mut reused = s.reg("p-2", "EP0000100", people[2], 18);
    reused.body_hash = 8;
    keep(store.register(reused).await, &mut codes);
    // Seal two tubes by hand (one already sealed), then a late scan into a sealed tube.
    store.seal_tube(&tube("EP0000101"), T0 + 200 * MINUTE).await.unwrap();
    store.seal_tube(&tube("EP0000101"), T0 + 201 * MINUTE).await.unwrap();
    store.seal_tube(&tube("EP0000505"), T0 + 201 * MINUTE).await.unwrap();
    keep(store.register(s.reg("p-late", "EP0000101", people[7], 202)).await, &mut codes);
    // A batch with a refused item (unknown round) and a new tube.
    let mut batch: Vec<NewRegistration> =
        (0..6).map(|i| s.reg(&format!("b-{i}"), "EP0000900", people[i], 230 + i as i64)).collect();
    batch[3].round = 987_654;
    for answer in store.register_many(batch).await.unwrap() {
        keep(answer, &mut codes);
    }
    // Results: an open tube, a sealed one, a changed result, the same result again, an unknown tube.
    let results = vec![
        result("EP0000100", LabOutcome::Negative),
        result("EP0000101", LabOutcome::Negative),
        result("EP0000505", LabOutcome::Abnormal),
        result("EP0000505", LabOutcome::Abnormal),
        result("EP0000102", LabOutcome::Invalid),
        result("EP0000102", LabOutcome::Negative),
        result("EP9999999", LabOutcome::Negative),
    ];
    store.record_results(results, 42, T0 + 300 * MINUTE).await.unwrap();
    store.merge_grid(s.world.grid_b.id, s.world.grid_a.id).await.unwrap();
    let moved = store.person(&Scope::of(&s.world.grid_a), s.b[0].id).await.unwrap().unwrap();
    keep(store.register(s.reg("after-merge", "EP0000901", &moved, 310)).await, &mut codes);

    // The recount, from what the store answers tube by tube and from the registrations made.
    codes.sort();
    codes.dedup();
    let mut states: BTreeMap<&str, u64> = BTreeMap::new();
    for code in &codes {
        let t = store.tube(&tube(code)).await.unwrap().expect("tube");
        *states.entry(t.state.as_str()).or_default() += 1;
    }
    let mut hours: BTreeMap<Millis, u64> = BTreeMap::new();
    let mut sites: BTreeMap<i64, u64> = BTreeMap::new();
    for reg in &created_regs {
        *hours.entry(reg.at.div_euclid(60 * MINUTE) * 60 * MINUTE).or_default() += 1;
        *sites.entry(reg.site).or_default() += 1;
    }
    let mut people_sampled: Vec<PersonId> = created_regs.iter().map(|r| r.person).collect();
    people_sampled.sort_unstable();
    people_sampled.dedup();

    let p = store.progress(s.round.id).await.unwrap();
    let count = |state: TubeState| states.get(state.as_str()).copied().unwrap_or(0);
    assert_eq!(
        (p.sampled, p.registrations, p.tubes, p.tubes_open, p.tubes_resulted),
        (
            people_sampled.len() as u64,
            created_regs.len() as u64,
            codes.len() as u64,
            count(TubeState::Open),
            count(TubeState::Resulted)
        )
    );
    assert!(count(TubeState::Open) > 0 && count(TubeState::Sealed) > 0 && count(TubeState::Resulted) == 4);
    assert_eq!(p.by_hour.iter().map(|h| (h.hour, h.samples)).collect::<BTreeMap<_, _>>(), hours);
    assert_eq!(p.by_site.iter().map(|c| (c.site, c.samples)).collect::<BTreeMap<_, _>>(), sites);
}
