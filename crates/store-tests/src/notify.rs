//! Contract tests of [`bulwark_store::NotificationStore`]: the outbox.

use super::{T0, World, account, insert, resident, world};
use bulwark_domain::{
    Millis,
    access::{Role, Scope},
    notify::{Address, Channel, DedupKey, DeliveryState, Email, NewNotification, Recipient},
    people::{Person, Phone},
};
use bulwark_store::{
    Store, StoreError,
    notify::{DeliveryFailure, Enqueued, NotificationQuery, StateCount},
};
use std::collections::{BTreeSet, HashSet};

const SECOND: Millis = 1000;
const LEASE: Millis = 60 * SECOND;

fn key(k: &str) -> DedupKey {
    DedupKey::parse(k).unwrap()
}

fn sms(k: &str, person: &Person, phone: &str, area: i64, text: &str) -> NewNotification {
    let address = Address::Sms(Phone::parse(phone).unwrap());
    NewNotification::new(key(k), Recipient::Person(person.id), address, area, "", text).unwrap()
}

fn email(k: &str, person: &Person, to: &str, area: i64) -> NewNotification {
    let address = Address::Email(Email::parse(to).unwrap());
    NewNotification::new(
        key(k),
        Recipient::Person(person.id),
        address,
        area,
        "集结通知",
        "请于07:30前到镇应急指挥中心集结",
    )
    .unwrap()
}

fn in_app(k: &str, account: i64, area: i64, text: &str) -> NewNotification {
    NewNotification::new(key(k), Recipient::Account(account), Address::InApp(account), area, "任务超时", text).unwrap()
}

fn everything(w: &World) -> NotificationQuery {
    NotificationQuery::within(Scope::of(&w.town), 1000)
}

async fn states(store: &dyn Store, w: &World) -> Vec<(String, DeliveryState, u32)> {
    let mut all: Vec<_> =
        store.notifications(&everything(w)).await.unwrap().into_iter().map(|n| (n.key, n.state, n.attempts)).collect();
    all.sort();
    all
}

/// Two people and an account of the world, for recipients.
async fn recipients(store: &dyn Store, w: &World) -> (Person, Person, i64) {
    let chen = insert(store, resident("陈大文", 1, &w.house_a)).await;
    let li = insert(store, resident("李秀英", 2, &w.house_b)).await;
    let lead =
        store.create_account(account("lead.a", "第一网格组长", Role::WorkingGroup, &w.grid_a), T0).await.unwrap();
    (chen, li, lead.id)
}

pub async fn notify_enqueue_is_one_transaction_idempotent_by_key(store: &dyn Store) {
    let w = world(store).await;
    let (chen, li, lead) = recipients(store, &w).await;
    let batch = vec![
        sms("incident:12:activation:person:1:sms", &chen, "13812345678", w.grid_a.id, "请30分钟内到指挥部集结")
            .for_incident(12),
        email("incident:12:activation:person:1:email", &chen, "chen.dawen@example.org", w.grid_a.id).for_incident(12),
        in_app("incident:12:overdue:task:3:account", lead, w.grid_a.id, "流调任务已超时"),
        sms("later", &li, "13912345678", w.grid_b.id, "明早复核").not_before(T0 + 3600 * SECOND),
    ];
    let done = store.enqueue_notifications(batch.clone(), T0).await.unwrap();
    assert_eq!(done, Enqueued { created: 4, duplicates: 0 });

    // Stored as given, pending, due at once (or at `not_before`), nothing tried yet.
    let stored = store.notifications(&everything(&w)).await.unwrap();
    assert_eq!(stored.len(), 4);
    let first = stored.iter().find(|n| n.key == "incident:12:activation:person:1:sms").unwrap();
    assert_eq!(first.recipient, Recipient::Person(chen.id));
    assert_eq!(first.recipient_name, "陈大文");
    assert_eq!(first.address, Address::Sms(Phone::parse("13812345678").unwrap()));
    assert_eq!((first.incident, first.area_path.as_str()), (Some(12), w.grid_a.path.as_str()));
    assert_eq!((first.subject.as_str(), first.body.as_str()), ("", "请30分钟内到指挥部集结"));
    assert_eq!((first.state, first.attempts, first.last_error.as_deref()), (DeliveryState::Pending, 0, None));
    assert_eq!((first.due_at, first.created_at, first.sent_at, first.read_at), (Some(T0), T0, None, None));
    let mail = stored.iter().find(|n| n.channel() == Channel::Email).unwrap();
    assert_eq!(mail.address, Address::Email(Email::parse("chen.dawen@example.org").unwrap()));
    assert_eq!(mail.subject, "集结通知");
    let note = stored.iter().find(|n| n.channel() == Channel::InApp).unwrap();
    assert_eq!((note.recipient, note.recipient_name.as_str()), (Recipient::Account(lead), "第一网格组长"));
    let later = stored.iter().find(|n| n.key == "later").unwrap();
    assert_eq!(later.due_at, Some(T0 + 3600 * SECOND));

    // The activation tried again: every key is there already, nobody is notified twice, and a
    // changed text under an old key changes nothing.
    let mut again = batch.clone();
    again[0].body = "改过的文字".into();
    again.push(sms("incident:12:activation:person:2:sms", &li, "13912345678", w.grid_b.id, "请集结"));
    // The same key twice in one batch is stored once.
    again.push(sms("incident:12:activation:person:2:sms", &li, "13912345678", w.grid_b.id, "请集结"));
    let done = store.enqueue_notifications(again, T0 + SECOND).await.unwrap();
    assert_eq!(done, Enqueued { created: 1, duplicates: 5 });
    let stored = store.notifications(&everything(&w)).await.unwrap();
    assert_eq!(stored.len(), 5);
    assert!(stored.iter().any(|n| n.body == "请30分钟内到指挥部集结"));
    assert!(!stored.iter().any(|n| n.body == "改过的文字"));

    // All or nothing: an unknown area or recipient refuses the whole batch.
    let bad_area =
        vec![sms("new-1", &li, "13912345678", w.grid_b.id, "x"), sms("new-2", &li, "13912345678", 987_654, "x")];
    assert!(matches!(store.enqueue_notifications(bad_area, T0).await, Err(StoreError::Invalid(_))));
    let mut ghost = chen.clone();
    ghost.id += 1000;
    let bad_person =
        vec![sms("new-3", &li, "13912345678", w.grid_b.id, "x"), sms("new-4", &ghost, "13912345678", w.grid_b.id, "x")];
    assert!(matches!(store.enqueue_notifications(bad_person, T0).await, Err(StoreError::Invalid(_))));
    assert_eq!(store.notifications(&everything(&w)).await.unwrap().len(), 5);
    assert_eq!(store.enqueue_notifications(Vec::new(), T0).await.unwrap(), Enqueued::default());

    // Enqueueing 5,000 is one batch (the activation of a county's staff).
    let many: Vec<NewNotification> = (0..5000)
        .map(|i| sms(&format!("incident:13:activation:person:{i}:sms"), &chen, "13812345678", w.grid_a.id, "请集结"))
        .collect();
    assert_eq!(store.enqueue_notifications(many, T0).await.unwrap(), Enqueued { created: 5000, duplicates: 0 });
}

pub async fn notify_claim_lease_and_marks(store: &dyn Store) {
    let w = world(store).await;
    let (chen, li, lead) = recipients(store, &w).await;
    let batch = vec![
        sms("a", &chen, "13812345678", w.grid_a.id, "请集结"),
        email("b", &li, "li@example.org", w.grid_b.id),
        in_app("c", lead, w.grid_a.id, "任务超时"),
        sms("d", &li, "13912345678", w.grid_b.id, "明早复核").not_before(T0 + 600 * SECOND),
    ];
    store.enqueue_notifications(batch, T0).await.unwrap();

    // The due ones (not "d"), sending under the claim, the attempt counted.
    let claimed = store.claim_notifications("claim-1", T0, T0 + LEASE, 10).await.unwrap();
    let keys: BTreeSet<&str> = claimed.iter().map(|n| n.key.as_str()).collect();
    assert_eq!(keys, BTreeSet::from(["a", "b", "c"]));
    assert!(
        claimed.iter().all(|n| n.state == DeliveryState::Sending && n.attempts == 1 && n.due_at == Some(T0 + LEASE))
    );
    assert!(store.claim_notifications("claim-2", T0 + SECOND, T0 + LEASE, 10).await.unwrap().is_empty());
    let id = |k: &str| claimed.iter().find(|n| n.key == k).unwrap().id;

    // Sent: only with the claim that holds it, once.
    assert!(!store.mark_sent(id("a"), "claim-2", T0 + SECOND).await.unwrap());
    assert!(store.mark_sent(id("a"), "claim-1", T0 + SECOND).await.unwrap());
    assert!(!store.mark_sent(id("a"), "claim-1", T0 + SECOND).await.unwrap());
    assert!(store.mark_sent(id("c"), "claim-1", T0 + SECOND).await.unwrap());

    // Failed, to be retried in 5 s: not due before, due then, claimed with the second attempt.
    let failure = |error: &str, retry_at| DeliveryFailure { at: T0 + 2 * SECOND, error: error.into(), retry_at };
    assert!(!store.mark_failed(id("b"), "claim-x", failure("no", Some(T0 + 7 * SECOND))).await.unwrap());
    assert!(store.mark_failed(id("b"), "claim-1", failure("SMTP 421 try later", Some(T0 + 7 * SECOND))).await.unwrap());
    let b = store.notifications(&everything(&w)).await.unwrap().into_iter().find(|n| n.key == "b").unwrap();
    assert_eq!(
        (b.state, b.attempts, b.last_error.as_deref()),
        (DeliveryState::FailedRetrying, 1, Some("SMTP 421 try later"))
    );
    assert_eq!((b.due_at, b.updated_at), (Some(T0 + 7 * SECOND), T0 + 2 * SECOND));
    assert!(store.claim_notifications("claim-3", T0 + 6 * SECOND, T0 + LEASE, 10).await.unwrap().is_empty());
    assert_eq!(store.next_due().await.unwrap(), Some(T0 + 7 * SECOND));
    let retried = store.claim_notifications("claim-4", T0 + 7 * SECOND, T0 + 7 * SECOND + LEASE, 10).await.unwrap();
    assert_eq!(retried.iter().map(|n| (n.key.as_str(), n.attempts)).collect::<Vec<_>>(), vec![("b", 2)]);
    assert_eq!(retried[0].last_error.as_deref(), Some("SMTP 421 try later"), "the last error stays until the next");

    // Given up: failed, kept, never due again.
    assert!(store.mark_failed(id("b"), "claim-4", failure("SMTP 550 no such mailbox", None)).await.unwrap());
    assert!(store.claim_notifications("claim-5", T0 + 3600 * SECOND, T0 + 3700 * SECOND, 1).await.unwrap().len() == 1);
    assert_eq!(
        states(store, &w).await,
        vec![
            ("a".into(), DeliveryState::Sent, 1),
            ("b".into(), DeliveryState::Failed, 2),
            ("c".into(), DeliveryState::Sent, 1),
            ("d".into(), DeliveryState::Sending, 1),
        ]
    );
    let all = store.notifications(&everything(&w)).await.unwrap();
    let b = all.iter().find(|n| n.key == "b").unwrap();
    assert_eq!((b.due_at, b.last_error.as_deref()), (None, Some("SMTP 550 no such mailbox")));
    let a = all.iter().find(|n| n.key == "a").unwrap();
    assert_eq!((a.sent_at, a.due_at), (Some(T0 + SECOND), None));
    // Marks of a final notification change nothing.
    assert!(!store.mark_failed(id("a"), "claim-1", failure("late", None)).await.unwrap());
}

pub async fn notify_expired_lease_is_claimed_again(store: &dyn Store) {
    let w = world(store).await;
    let (chen, _, _) = recipients(store, &w).await;
    store.enqueue_notifications(vec![sms("a", &chen, "13812345678", w.grid_a.id, "请集结")], T0).await.unwrap();
    let first = store.claim_notifications("crashed", T0, T0 + LEASE, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    // The sender crashed: nothing is marked. Until the lease ends nobody else takes it.
    assert!(store.claim_notifications("other", T0 + LEASE - 1, T0 + 2 * LEASE, 10).await.unwrap().is_empty());
    let again = store.claim_notifications("other", T0 + LEASE, T0 + 2 * LEASE, 10).await.unwrap();
    assert_eq!(again.iter().map(|n| (n.id, n.attempts)).collect::<Vec<_>>(), vec![(first[0].id, 2)]);
    // The crashed sender's late answer changes nothing; the new claim's does.
    assert!(!store.mark_sent(first[0].id, "crashed", T0 + LEASE + 1).await.unwrap());
    assert!(store.mark_sent(first[0].id, "other", T0 + LEASE + 2).await.unwrap());
    assert_eq!(states(store, &w).await, vec![("a".into(), DeliveryState::Sent, 2)]);
}

pub async fn notify_concurrent_claimers_never_share_a_row(store: &dyn Store) {
    let w = world(store).await;
    let (chen, _, _) = recipients(store, &w).await;
    let batch: Vec<NewNotification> =
        (0..300).map(|i| sms(&format!("n{i}"), &chen, "13812345678", w.grid_a.id, "请集结")).collect();
    store.enqueue_notifications(batch, T0).await.unwrap();

    // Four claimers, each taking batches of 7 until nothing is left, at the same time.
    let claimer = |name: &'static str| async move {
        let mut got = Vec::new();
        for round in 0.. {
            let claim = format!("{name}-{round}");
            let batch = store.claim_notifications(&claim, T0, T0 + LEASE, 7).await.unwrap();
            if batch.is_empty() {
                break;
            }
            for n in batch {
                assert!(store.mark_sent(n.id, &claim, T0 + 1).await.unwrap(), "{name} lost its claim of {}", n.id);
                got.push(n.id);
            }
        }
        got
    };
    let (a, b, c, d) = tokio::join!(claimer("a"), claimer("b"), claimer("c"), claimer("d"));
    let mut seen = HashSet::new();
    for id in a.iter().chain(&b).chain(&c).chain(&d) {
        assert!(seen.insert(*id), "notification {id} was claimed twice");
    }
    assert_eq!(seen.len(), 300, "claims: {} + {} + {} + {}", a.len(), b.len(), c.len(), d.len());
    let counts = store.notification_counts(&Scope::of(&w.town), None).await.unwrap();
    assert_eq!(counts, vec![StateCount { channel: Channel::Sms, state: DeliveryState::Sent, count: 300 }]);
}

pub async fn notify_lists_and_counts_by_scope(store: &dyn Store) {
    let w = world(store).await;
    let (chen, li, lead) = recipients(store, &w).await;
    let batch = vec![
        sms("a1", &chen, "13812345678", w.grid_a.id, "一").for_incident(1),
        email("a2", &chen, "chen@example.org", w.grid_a.id).for_incident(1),
        in_app("a3", lead, w.grid_a.id, "三"),
        sms("b1", &li, "13912345678", w.grid_b.id, "四").for_incident(1),
        sms("b2", &li, "13912345678", w.grid_b.id, "五").for_incident(2),
        email("v1", &li, "li@example.org", w.village.id),
    ];
    store.enqueue_notifications(batch, T0).await.unwrap();
    let claimed = store.claim_notifications("c", T0, T0 + LEASE, 100).await.unwrap();
    let id = |k: &str| claimed.iter().find(|n| n.key == k).unwrap().id;
    store.mark_sent(id("a1"), "c", T0 + 1).await.unwrap();
    store.mark_sent(id("a3"), "c", T0 + 1).await.unwrap();
    store
        .mark_failed(id("a2"), "c", DeliveryFailure { at: T0 + 2, error: "refused".into(), retry_at: None })
        .await
        .unwrap();
    let retry = DeliveryFailure { at: T0 + 2, error: "503".into(), retry_at: Some(T0 + 5000) };
    store.mark_failed(id("b1"), "c", retry).await.unwrap();
    // b2 stays sending.
    store.mark_sent(id("v1"), "c", T0 + 3).await.unwrap();

    let keys = |q: NotificationQuery| async move {
        store.notifications(&q).await.unwrap().into_iter().map(|n| n.key).collect::<Vec<_>>()
    };
    // Failing ones first, then sending, then sent; newest first within a state.
    assert_eq!(keys(everything(&w)).await, vec!["a2", "b1", "b2", "v1", "a3", "a1"]);
    // Scope is part of the query.
    let grid_a = NotificationQuery::within(Scope::of(&w.grid_a), 100);
    assert_eq!(keys(grid_a.clone()).await, vec!["a2", "a3", "a1"]);
    assert_eq!(keys(NotificationQuery::within(Scope::of(&w.house_a), 100)).await, Vec::<String>::new());
    // Filters.
    assert_eq!(keys(NotificationQuery { incident: Some(1), ..everything(&w) }).await, vec!["a2", "b1", "a1"]);
    assert_eq!(
        keys(NotificationQuery { state: Some(DeliveryState::Sent), ..everything(&w) }).await,
        vec!["v1", "a3", "a1"]
    );
    assert_eq!(keys(NotificationQuery { channel: Some(Channel::Email), ..everything(&w) }).await, vec!["a2", "v1"]);
    assert_eq!(keys(NotificationQuery { person: Some(li.id), ..everything(&w) }).await, vec!["b1", "b2", "v1"]);
    assert_eq!(keys(NotificationQuery { account: Some(lead), ..everything(&w) }).await, vec!["a3"]);
    assert_eq!(keys(NotificationQuery { limit: 2, ..everything(&w) }).await, vec!["a2", "b1"]);
    // By id (what another server sent), in id order, whatever their state; unknown ids skipped.
    let by_id = store.notifications_by_id(&[id("b2"), id("a3"), 999_999]).await.unwrap();
    let sent = by_id.iter().map(|n| (n.key.as_str(), n.state, n.body.as_str())).collect::<Vec<_>>();
    let mut expected = vec![("a3", DeliveryState::Sent, "三"), ("b2", DeliveryState::Sending, "五")];
    expected.sort_by_key(|(k, ..)| id(k));
    assert_eq!(sent, expected);
    assert!(store.notifications_by_id(&[]).await.unwrap().is_empty());

    // Counts per channel and state, in scope and per incident.
    let count = |channel, state, count| StateCount { channel, state, count };
    let mut expected = vec![
        count(Channel::InApp, DeliveryState::Sent, 1),
        count(Channel::Sms, DeliveryState::Sending, 1),
        count(Channel::Sms, DeliveryState::Sent, 1),
        count(Channel::Sms, DeliveryState::FailedRetrying, 1),
        count(Channel::Email, DeliveryState::Sent, 1),
        count(Channel::Email, DeliveryState::Failed, 1),
    ];
    expected.sort();
    assert_eq!(store.notification_counts(&Scope::of(&w.town), None).await.unwrap(), expected);
    let mut expected = vec![
        count(Channel::Sms, DeliveryState::Sent, 1),
        count(Channel::Sms, DeliveryState::FailedRetrying, 1),
        count(Channel::Email, DeliveryState::Failed, 1),
    ];
    expected.sort();
    assert_eq!(store.notification_counts(&Scope::of(&w.town), Some(1)).await.unwrap(), expected);
    let mut expected = vec![
        count(Channel::InApp, DeliveryState::Sent, 1),
        count(Channel::Sms, DeliveryState::Sent, 1),
        count(Channel::Email, DeliveryState::Failed, 1),
    ];
    expected.sort();
    assert_eq!(store.notification_counts(&Scope::of(&w.grid_a), None).await.unwrap(), expected);
    assert!(store.notification_counts(&Scope::of(&w.house_b), None).await.unwrap().is_empty());
}

pub async fn notify_in_app_read(store: &dyn Store) {
    let w = world(store).await;
    let (_, _, lead) = recipients(store, &w).await;
    let other =
        store.create_account(account("lead.b", "第二网格组长", Role::WorkingGroup, &w.grid_b), T0).await.unwrap();
    let batch = vec![
        in_app("x1", lead, w.grid_a.id, "一"),
        in_app("x2", lead, w.grid_a.id, "二"),
        in_app("y1", other.id, w.grid_b.id, "三"),
        in_app("x3", lead, w.grid_a.id, "四"),
    ];
    store.enqueue_notifications(batch, T0).await.unwrap();
    let mine = |account| NotificationQuery { account: Some(account), ..everything(&w) };
    let ids: Vec<i64> = store.notifications(&mine(lead)).await.unwrap().into_iter().map(|n| n.id).collect();
    assert_eq!(ids.len(), 3);
    let second = ids[1]; // newest first: x3, x2, x1
    assert_eq!(store.mark_read(lead, second, T0 + 10).await.unwrap(), 2);
    assert_eq!(store.mark_read(lead, second, T0 + 20).await.unwrap(), 0, "read once");
    let read: Vec<(String, Option<Millis>)> =
        store.notifications(&mine(lead)).await.unwrap().into_iter().map(|n| (n.key, n.read_at)).collect();
    assert_eq!(read, vec![("x3".into(), None), ("x2".into(), Some(T0 + 10)), ("x1".into(), Some(T0 + 10))]);
    // Another account's notifications are not touched.
    assert_eq!(store.mark_read(lead, i64::MAX, T0 + 30).await.unwrap(), 1);
    assert_eq!(store.notifications(&mine(other.id)).await.unwrap()[0].read_at, None);
}
