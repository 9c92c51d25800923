//! Contract tests of [`bulwark_store::TransportStore`].

use super::T0;
use crate::testing::{Scene, scene, tube};
use bulwark_domain::{
    Millis,
    access::Scope,
    people::Phone,
    testing::{
        BoxCode, BoxState, HandoverStage, LaneKind, NewBox, NewHandover, NewLane, NewSite, OpeningHours, PoolSize,
        Site, TransportFlag, TubeFormat, TubeState,
    },
};
use bulwark_store::{
    Store, StoreError,
    testing::Registered,
    transport::{HandedOver, Packed},
};

const MINUTE: Millis = 60_000;

pub fn box_code(code: &str) -> BoxCode {
    BoxCode::parse(code, &TubeFormat::default()).unwrap()
}

impl Scene {
    /// A box opened at `site` (default: the scene's site) at minute `minute` of the round.
    pub fn new_box(&self, code: &str, site: Option<&Site>, minute: i64) -> NewBox {
        NewBox {
            code: box_code(code),
            round: self.round.id,
            site: site.unwrap_or(&self.site).id,
            at: T0 + minute * MINUTE,
            by: 42,
        }
    }

    /// Registers the scene's people into tubes, one person per tube, at the given minutes; a
    /// single-tube pool seals itself, a pool of ten stays open.
    pub async fn tubes(&self, store: &dyn Store, tubes: &[(&str, i64, PoolSize)]) {
        for (i, (code, minute, pool)) in tubes.iter().enumerate() {
            let people: Vec<_> = self.a.iter().chain(self.b.iter()).collect();
            let mut reg = self.reg(&format!("t-{code}"), code, people[i % people.len()], *minute);
            reg.pool_size = *pool;
            let r = store.register(reg).await.expect("register");
            assert!(matches!(r, Registered::Created(_)), "{r:?}");
        }
    }
}

fn handover(stage: HandoverStage, to: &str, minute: i64) -> NewHandover {
    NewHandover {
        stage,
        to_name: to.to_string(),
        to_phone: None,
        from_name: None,
        recorder: "采样点 陈姐".into(),
        at: T0 + minute * MINUTE,
        by: 42,
    }
}

fn stored(p: &Packed) -> Vec<TransportFlag> {
    match p {
        Packed::Stored(flags) => flags.clone(),
        other => panic!("expected the tube packed, got {other:?}"),
    }
}

async fn other_site(store: &dyn Store, s: &Scene) -> Site {
    store
        .create_site(
            NewSite {
                name: "第一网格流动采样点".into(),
                area: s.world.grid_a.id,
                serves: vec![s.world.grid_a.id],
                hours: OpeningHours::ALWAYS,
                lanes: vec![NewLane { name: "1号".into(), kind: LaneKind::Normal }],
            },
            T0,
        )
        .await
        .expect("create site")
}

/// Tube → box → courier → lab: every step timestamped, the box's summary kept with it.
pub async fn transport_box_lifecycle(store: &dyn Store) {
    let s = scene(store).await;
    let single = PoolSize::SINGLE;
    s.tubes(store, &[("EP0000001", 30, single), ("EP0000002", 10, single), ("EP0000003", 50, single)]).await;
    let created = store.create_box(s.new_box("box-0001", None, 60)).await.unwrap();
    assert_eq!(created.code.as_str(), "BOX-0001");
    assert_eq!((created.state, created.tubes, created.first_sample_at), (BoxState::Packing, 0, None));
    assert_eq!((created.round, created.site, created.created_at), (s.round.id, s.site.id, T0 + 60 * MINUTE));
    assert_eq!(created.area_path, s.site.area_path);
    assert!(created.flags.is_empty());

    let packed = store
        .pack_tubes(&created.code, vec![tube("EP0000001"), tube("EP0000002")], T0 + 61 * MINUTE, 42)
        .await
        .unwrap();
    assert_eq!(packed.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>(), ["EP0000001", "EP0000002"]);
    assert!(packed.iter().all(|(_, p)| stored(p).is_empty()), "{packed:?}");
    // Scanned twice (also twice in one request): nothing new.
    let again = store
        .pack_tubes(&created.code, vec![tube("EP0000002"), tube("EP0000003"), tube("EP0000003")], T0 + 62 * MINUTE, 42)
        .await
        .unwrap();
    assert_eq!(again[0].1, Packed::AlreadyInBox);
    assert_eq!(again[1].1, Packed::Stored(vec![]));
    assert_eq!(again[2].1, Packed::AlreadyInBox);

    let detail = store.transport_box(&created.code).await.unwrap().expect("the box");
    assert_eq!(detail.summary.tubes, 3);
    assert_eq!(detail.summary.first_sample_at, Some(T0 + 10 * MINUTE), "the earliest tube, not the first packed");
    let tubes: Vec<_> = detail.tubes.iter().map(|t| (t.code.as_str(), t.opened_at, t.packed_at, t.state)).collect();
    assert_eq!(
        tubes,
        vec![
            ("EP0000001", T0 + 30 * MINUTE, T0 + 61 * MINUTE, TubeState::Sealed),
            ("EP0000002", T0 + 10 * MINUTE, T0 + 61 * MINUTE, TubeState::Sealed),
            ("EP0000003", T0 + 50 * MINUTE, T0 + 62 * MINUTE, TubeState::Sealed),
        ]
    );
    assert!(detail.handovers.is_empty());

    let sealed = store.seal_box(&created.code, T0 + 70 * MINUTE).await.unwrap();
    assert_eq!((sealed.state, sealed.sealed_at), (BoxState::Sealed, Some(T0 + 70 * MINUTE)));
    let again = store.seal_box(&created.code, T0 + 75 * MINUTE).await.unwrap();
    assert_eq!(again.sealed_at, Some(T0 + 70 * MINUTE), "sealing twice changes nothing");

    // Site → courier, with the courier's phone; the giver is the recorder at the site.
    let mut to_courier = handover(HandoverStage::Courier, "王师傅", 80);
    to_courier.to_phone = Some(Phone::parse("13800138000").unwrap());
    let h = match store.record_handover(&created.code, to_courier.clone()).await.unwrap() {
        HandedOver::Recorded(h) => h,
        other => panic!("expected a new hand-over, got {other:?}"),
    };
    assert_eq!(
        (h.stage, h.from_name.as_deref(), h.to_name.as_str()),
        (HandoverStage::Courier, Some("采样点 陈姐"), "王师傅")
    );
    assert_eq!(h.to_phone.as_ref().map(Phone::as_str), Some("13800138000"));
    // The phone that lost the answer sends it again: the same hand-over answers.
    let mut retry = to_courier.clone();
    retry.at = T0 + 81 * MINUTE;
    assert_eq!(store.record_handover(&created.code, retry).await.unwrap(), HandedOver::Repeated(h.clone()));
    // Courier → lab: the courier is the giver.
    let received = match store.record_handover(&created.code, handover(HandoverStage::Lab, "检验科 李医生", 150)).await
    {
        Ok(HandedOver::Recorded(r)) => r,
        other => panic!("expected a new hand-over, got {other:?}"),
    };
    assert_eq!(received.from_name.as_deref(), Some("王师傅"));

    let detail = store.transport_box(&created.code).await.unwrap().unwrap();
    let b = &detail.summary;
    assert_eq!(b.state, BoxState::Received);
    assert_eq!(
        (b.sealed_at, b.dispatched_at, b.received_at),
        (Some(T0 + 70 * MINUTE), Some(T0 + 80 * MINUTE), Some(T0 + 150 * MINUTE))
    );
    assert!(b.flags.is_empty(), "{:?}", b.flags);
    assert_eq!(detail.handovers, vec![h.clone(), received.clone()]);
    // Nothing leaves the lab; repeating the receipt is harmless.
    let out = store.record_handover(&created.code, handover(HandoverStage::Courier, "张师傅", 160)).await;
    assert!(matches!(out, Err(StoreError::Conflict(_))), "{out:?}");
    let repeat = store.record_handover(&created.code, handover(HandoverStage::Lab, "检验科 李医生", 161)).await;
    assert_eq!(repeat.unwrap(), HandedOver::Repeated(received));
    assert_eq!(store.transport_box(&created.code).await.unwrap().unwrap().handovers.len(), 2);
}

/// Codes are unique, references must exist, and unknown boxes are not found.
pub async fn transport_codes_and_references(store: &dyn Store) {
    let s = scene(store).await;
    store.create_box(s.new_box("BOX-0001", None, 0)).await.unwrap();
    let dup = store.create_box(s.new_box("box-0001", None, 1)).await;
    assert!(matches!(&dup, Err(StoreError::Conflict(m)) if m.contains("BOX-0001")), "{dup:?}");
    let mut bad_round = s.new_box("BOX-0002", None, 0);
    bad_round.round = 987_654;
    assert!(matches!(store.create_box(bad_round).await, Err(StoreError::Invalid(_))));
    let mut bad_site = s.new_box("BOX-0003", None, 0);
    bad_site.site = 987_654;
    assert!(matches!(store.create_box(bad_site).await, Err(StoreError::Invalid(_))));
    assert!(store.transport_box(&box_code("BOX-0002")).await.unwrap().is_none());

    let nowhere = box_code("BOX-9999");
    assert!(store.transport_box(&nowhere).await.unwrap().is_none());
    assert_eq!(store.pack_tubes(&nowhere, vec![tube("EP0000001")], T0, 42).await, Err(StoreError::NotFound));
    assert_eq!(store.seal_box(&nowhere, T0).await, Err(StoreError::NotFound));
    let h = store.record_handover(&nowhere, handover(HandoverStage::Courier, "王师傅", 1)).await;
    assert_eq!(h, Err(StoreError::NotFound));
    // An empty box is not sealed.
    assert!(matches!(store.seal_box(&box_code("BOX-0001"), T0).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.transport_box(&box_code("BOX-0001")).await.unwrap().unwrap().summary.state, BoxState::Packing);
}

/// A tube is in one box at most; a tube nobody registered is refused; what physically happened
/// is stored and flagged.
pub async fn transport_physical_facts_are_flagged(store: &dyn Store) {
    let s = scene(store).await;
    let ten = PoolSize::TEN;
    let single = PoolSize::SINGLE;
    s.tubes(store, &[("EP0000001", 1, ten), ("EP0000002", 2, single), ("EP0000003", 3, single)]).await;
    let one = store.create_box(s.new_box("BOX-0001", None, 5)).await.unwrap();
    let two = store.create_box(s.new_box("BOX-0002", None, 5)).await.unwrap();
    let packed = store
        .pack_tubes(&one.code, vec![tube("EP0000001"), tube("EP0000404"), tube("EP0000002")], T0 + 6 * MINUTE, 42)
        .await
        .unwrap();
    assert_eq!(stored(&packed[0].1), vec![TransportFlag::OpenTube], "an open pool packed: flagged, kept");
    assert_eq!(packed[1].1, Packed::UnknownTube);
    assert_eq!(stored(&packed[2].1), vec![]);
    let moved = store.pack_tubes(&two.code, vec![tube("EP0000002")], T0 + 7 * MINUTE, 42).await.unwrap();
    assert_eq!(moved[0].1, Packed::InOtherBox(one.code.clone()));
    assert_eq!(store.transport_box(&two.code).await.unwrap().unwrap().summary.tubes, 0);

    // A tube added after the seal.
    store.seal_box(&one.code, T0 + 8 * MINUTE).await.unwrap();
    let late = store.pack_tubes(&one.code, vec![tube("EP0000003")], T0 + 9 * MINUTE, 42).await.unwrap();
    assert_eq!(stored(&late[0].1), vec![TransportFlag::AfterSeal]);
    let b = store.transport_box(&one.code).await.unwrap().unwrap();
    assert_eq!((b.summary.tubes, b.summary.state), (3, BoxState::Sealed));
    assert_eq!(b.summary.flags, vec![TransportFlag::OpenTube, TransportFlag::AfterSeal]);
    assert_eq!(b.tubes[2].flags, vec![TransportFlag::AfterSeal]);

    // The site drove an unsealed box to the lab itself: received, flagged.
    let three = store.create_box(s.new_box("BOX-0003", None, 10)).await.unwrap();
    s.tubes(store, &[("EP0000004", 11, single)]).await;
    store.pack_tubes(&three.code, vec![tube("EP0000004")], T0 + 12 * MINUTE, 42).await.unwrap();
    let mut receipt = handover(HandoverStage::Lab, "检验科 李医生", 40);
    receipt.from_name = Some("村医 何".into());
    let h = store.record_handover(&three.code, receipt).await.unwrap();
    let h = h.handover();
    assert_eq!(h.flags, vec![TransportFlag::UnsealedHandover, TransportFlag::NoCourier]);
    assert_eq!(h.from_name.as_deref(), Some("村医 何"));
    let b = store.transport_box(&three.code).await.unwrap().unwrap().summary;
    assert_eq!(
        (b.state, b.sealed_at, b.dispatched_at, b.received_at),
        (BoxState::Received, None, None, Some(T0 + 40 * MINUTE))
    );
    assert_eq!(b.flags, vec![TransportFlag::UnsealedHandover, TransportFlag::NoCourier]);
}

/// A round's boxes inside a scope, and the overdue list.
pub async fn transport_boxes_by_scope_and_overdue(store: &dyn Store) {
    let s = scene(store).await;
    let grid_site = other_site(store, &s).await;
    let single = PoolSize::SINGLE;
    s.tubes(store, &[("EP0000001", 0, single), ("EP0000002", 30, single), ("EP0000003", 60, single)]).await;
    let village_box = store.create_box(s.new_box("BOX-0001", None, 1)).await.unwrap();
    let grid_box = store.create_box(s.new_box("BOX-0002", Some(&grid_site), 2)).await.unwrap();
    let empty = store.create_box(s.new_box("BOX-0003", None, 3)).await.unwrap();
    store.pack_tubes(&village_box.code, vec![tube("EP0000001")], T0 + 5 * MINUTE, 42).await.unwrap();
    store.pack_tubes(&grid_box.code, vec![tube("EP0000003"), tube("EP0000002")], T0 + 65 * MINUTE, 42).await.unwrap();

    let codes = |boxes: Vec<bulwark_domain::testing::TransportBox>| {
        boxes.into_iter().map(|b| b.code.as_str().to_string()).collect::<Vec<_>>()
    };
    let village = Scope::of(&s.world.village);
    assert_eq!(codes(store.boxes(s.round.id, &village).await.unwrap()), ["BOX-0001", "BOX-0002", "BOX-0003"]);
    assert_eq!(codes(store.boxes(s.round.id, &Scope::of(&s.world.grid_a)).await.unwrap()), ["BOX-0002"]);
    assert!(store.boxes(s.round.id, &Scope::of(&s.world.grid_b)).await.unwrap().is_empty());
    assert!(store.boxes(s.round.id + 1000, &village).await.unwrap().is_empty(), "another round");
    let listed = store.boxes(s.round.id, &village).await.unwrap();
    assert_eq!(
        listed.iter().map(|b| (b.tubes, b.first_sample_at)).collect::<Vec<_>>(),
        vec![(1, Some(T0)), (2, Some(T0 + 30 * MINUTE)), (0, None)]
    );
    assert_eq!(listed[2], empty);

    // At 4 h 10 min with a 4 h limit: the village box is overdue (sampled at T0), the grid box
    // (T0 + 30 min) not yet; an empty box never is.
    let limit = 240 * MINUTE;
    let overdue = |now: Millis| store.overdue_boxes(&village, now - limit);
    assert_eq!(codes(overdue(T0 + 250 * MINUTE).await.unwrap()), ["BOX-0001"]);
    assert_eq!(codes(overdue(T0 + 240 * MINUTE).await.unwrap()), Vec::<String>::new(), "exactly 4 h is in time");
    assert_eq!(codes(overdue(T0 + 300 * MINUTE).await.unwrap()), ["BOX-0001", "BOX-0002"], "oldest sample first");
    assert!(store.overdue_boxes(&Scope::of(&s.world.grid_b), T0 + 300 * MINUTE).await.unwrap().is_empty());
    assert_eq!(codes(store.overdue_boxes(&Scope::of(&s.world.grid_a), T0 + 60 * MINUTE).await.unwrap()), ["BOX-0002"]);
    // Received boxes leave the list, however late they arrived; in transit they stay on it.
    store.record_handover(&grid_box.code, handover(HandoverStage::Courier, "王师傅", 100)).await.unwrap();
    assert_eq!(codes(overdue(T0 + 300 * MINUTE).await.unwrap()), ["BOX-0001", "BOX-0002"]);
    store.record_handover(&village_box.code, handover(HandoverStage::Lab, "检验科 李医生", 290)).await.unwrap();
    assert_eq!(codes(overdue(T0 + 300 * MINUTE).await.unwrap()), ["BOX-0002"]);
    let received = store.transport_box(&village_box.code).await.unwrap().unwrap().summary;
    assert_eq!(received.received_at, Some(T0 + 290 * MINUTE));
}
