//! Notification throughput, for `BENCHMARKS.md`: how long enqueueing an activation's
//! notifications takes (5,000 staff by SMS and 500 group leads by e-mail: 5,500 rows in one
//! call), how long enqueueing it again takes (every key a duplicate), and how fast the dispatcher
//! then delivers them to local receivers that accept everything (the SMS gateway and SMTP
//! server of the app tests, on loopback).
//!
//! ```text
//! cargo run --release -p bulwark-app --example notify_throughput [-- sqlite|postgres]
//! ```
//! PostgreSQL: the server of `BULWARK_TEST_POSTGRES` (default the local one), a fresh database.

#[expect(dead_code, reason = "the tests' receivers; this example reads only what it accepted")]
#[path = "../tests/notify/receivers.rs"]
mod receivers;

use bulwark_app::notify::{self, Dispatcher, Hub, NotifyConfig, SmsConfig, SmtpConfig};
use bulwark_domain::{
    Millis,
    access::{Operation, Scope},
    areas::{AreaCode, AreaKind, NewArea},
    audit::AuditStamp,
    notify::{Address, Channel, DedupKey, DeliveryState, Email, NewNotification, Recipient},
    people::{Document, NewPerson, Phone},
};
use bulwark_store::Store;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

const STAFF: usize = 5000;
const LEADS: usize = 500;

fn now() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

async fn run(name: &str, store: Arc<dyn Store>) {
    let area = |code: &str, kind, parent: Option<i64>| NewArea {
        code: AreaCode::parse(code).unwrap(),
        name: code.into(),
        kind,
        parent,
    };
    let town = store.create_area(area("440785101", AreaKind::Town, None)).await.unwrap();
    let people: Vec<NewPerson> = (0..STAFF)
        .map(|i| {
            let mut p = NewPerson::new(format!("干部{i:04}"), Document::None, town.id);
            p.phone = Some(Phone::parse(&format!("139{:08}", i)).unwrap());
            p
        })
        .collect();
    let phones: Vec<Phone> = people.iter().map(|p| p.phone.clone().unwrap()).collect();
    let stamp = AuditStamp {
        at: now(),
        user: None,
        username: "bench".into(),
        role: None,
        operation: Operation::PersonsCreate,
        request_id: "bench".into(),
    };
    let ids = store.insert_people(people, &stamp).await.unwrap();
    let mut batch: Vec<NewNotification> = ids
        .iter()
        .zip(&phones)
        .map(|(id, phone)| {
            let key = DedupKey::parse(&format!("incident:1:activation:person:{id}:sms")).unwrap();
            let text = "【圣堂镇指挥部】黄金24小时预案已启动，请30分钟内到镇应急指挥中心集结。回执 /r/abcdefghijklmnop";
            NewNotification::new(key, Recipient::Person(*id), Address::Sms(phone.clone()), town.id, "", text)
                .unwrap()
                .for_incident(1)
        })
        .collect();
    batch.extend(ids.iter().take(LEADS).enumerate().map(|(i, id)| {
        let key = DedupKey::parse(&format!("incident:1:activation:person:{id}:email")).unwrap();
        let to = Email::parse(&format!("lead{i:03}@shengtang.example.org")).unwrap();
        NewNotification::new(
            key,
            Recipient::Person(*id),
            Address::Email(to),
            town.id,
            "集结通知",
            "请于07:30前到镇应急指挥中心集结",
        )
        .unwrap()
        .for_incident(1)
    }));
    let rows = batch.len();
    let hub = Arc::new(Hub::default());

    let started = Instant::now();
    let done = notify::enqueue(store.as_ref(), &hub, batch.clone(), now()).await.unwrap();
    let first = started.elapsed();
    let started = Instant::now();
    let again = notify::enqueue(store.as_ref(), &hub, batch, now()).await.unwrap();
    let second = started.elapsed();
    assert_eq!((done.created, again.duplicates), (rows as u64, rows as u64));

    let gateway = receivers::SmsReceiver::start(0, "bench").await;
    let smtp = receivers::SmtpReceiver::start(0).await;
    let config = NotifyConfig {
        sms: Some(SmsConfig { url: gateway.url.clone(), token: Some("bench".into()) }),
        smtp: Some(SmtpConfig { url: smtp.url(), from: "Bulwark <bulwark@shengtang.example.org>".into() }),
        tick: Duration::from_millis(20),
        ..NotifyConfig::default()
    };
    let started = Instant::now();
    let dispatcher = Dispatcher::new(store.clone(), hub.clone(), config, Arc::new(now)).unwrap().spawn();
    hub.wake();
    let scope = Scope::of(&town);
    loop {
        let counts = store.notification_counts(&scope, None).await.unwrap();
        let sent: u64 = counts.iter().filter(|c| c.state == DeliveryState::Sent).map(|c| c.count).sum();
        if sent == rows as u64 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "not delivered in 10 minutes: {counts:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delivery = started.elapsed();
    dispatcher.stop().await;
    assert_eq!((gateway.accepted().len(), smtp.accepted().len()), (STAFF, LEADS));
    let counts = store.notification_counts(&scope, None).await.unwrap();
    let sent_sms = counts.iter().find(|c| c.channel == Channel::Sms).map_or(0, |c| c.count);
    println!(
        "{name}: enqueue {rows} notifications ({STAFF} SMS + {LEADS} e-mails, one call): {:.0} ms; the same again (all duplicates): {:.0} ms; \
         delivered to local receivers in {:.2} s ({:.0}/s; {sent_sms} SMS, {LEADS} e-mails, fan-out {})",
        first.as_secs_f64() * 1000.0,
        second.as_secs_f64() * 1000.0,
        delivery.as_secs_f64(),
        rows as f64 / delivery.as_secs_f64(),
        NotifyConfig::default().fan_out,
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "both".into());
    if which == "sqlite" || which == "both" {
        let dir = tempfile::tempdir().unwrap();
        let store = bulwark_sqlite::SqliteStore::open(&dir.path().join("bulwark.db")).unwrap();
        run("SQLite", Arc::new(store)).await;
    }
    if which == "postgres" || which == "both" {
        let (store, _db) = bulwark_postgres::testing::fresh_store().await;
        run("PostgreSQL", Arc::new(store)).await;
    }
}
