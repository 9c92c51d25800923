//! Notification delivery against real receivers started by the test, on both storage engines:
//! an HTTP SMS gateway that answers 503 to its first requests and an SMTP server that first
//! closes connections at once, then both recover; 200 SMS and 20 e-mails enqueued in one batch
//! arrive exactly once each, the failed attempts are counted, nothing is left waiting. Receivers
//! that never recover (and a channel without configuration) end `failed` with the error kept.
//! In-app notifications reach a listener on the hub's bus.
//!
//! The dispatcher runs on the system clock with a short retry policy; the tests poll with a
//! generous deadline and assert on outcomes, never on timings.

mod receivers;

use bulwark_app::notify::{self, Dispatcher, DispatcherHandle, Hub, NotifyConfig, SmsConfig, SmtpConfig};
use bulwark_domain::{
    Millis,
    access::{NewAccount, Role, Scope, Username},
    areas::{Area, AreaCode, AreaKind, NewArea},
    audit::AuditStamp,
    notify::{Address, Channel, DedupKey, DeliveryState, Email, NewNotification, Recipient, RetryPolicy},
    people::{Document, NewPerson, PersonId, Phone},
};
use bulwark_store::{
    Store,
    notify::{NotificationQuery, StateCount},
};
use receivers::{SmsReceiver, SmtpReceiver};
use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

const TOKEN: &str = "gateway-test-token";

#[derive(Clone, Copy, Debug)]
enum Engine {
    Sqlite,
    Postgres,
}

/// A fresh store of `engine` and what keeps its database alive.
async fn fresh(engine: Engine) -> (Arc<dyn Store>, Box<dyn std::any::Any + Send>) {
    match engine {
        Engine::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let store = bulwark_sqlite::SqliteStore::open(&dir.path().join("bulwark.db")).unwrap();
            (Arc::new(store), Box::new(dir))
        }
        Engine::Postgres => {
            let (store, db) = bulwark_postgres::testing::fresh_store().await;
            (Arc::new(store), Box::new(db))
        }
    }
}

fn system_now() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

/// The town, a grid, `n` staff with phones (and the first 20 with e-mail addresses), and an
/// account for in-app notifications.
struct Town {
    grid: Area,
    people: Vec<(PersonId, Phone)>,
    account: i64,
}

async fn town(store: &dyn Store, n: usize) -> Town {
    let area = |code: &str, name: &str, kind, parent: Option<&Area>| NewArea {
        code: AreaCode::parse(code).unwrap(),
        name: name.into(),
        kind,
        parent: parent.map(|p| p.id),
    };
    let town = store.create_area(area("440785101", "圣堂镇", AreaKind::Town, None)).await.unwrap();
    let village = store.create_area(area("440785101210", "湴朗村", AreaKind::Village, Some(&town))).await.unwrap();
    let grid = store.create_area(area("440785101210-G01", "第一网格", AreaKind::Grid, Some(&village))).await.unwrap();
    let staff: Vec<NewPerson> = (0..n)
        .map(|i| {
            let mut p = NewPerson::new(format!("干部{i:03}"), Document::None, grid.id);
            p.phone = Some(Phone::parse(&format!("139{:08}", 10_000 + i)).unwrap());
            p
        })
        .collect();
    let phones: Vec<Phone> = staff.iter().map(|p| p.phone.clone().unwrap()).collect();
    let stamp = AuditStamp {
        at: system_now(),
        user: None,
        username: "test".into(),
        role: None,
        operation: bulwark_domain::access::Operation::PersonsCreate,
        request_id: "notify-test".into(),
    };
    let ids = store.insert_people(staff, &stamp).await.unwrap();
    let account = NewAccount {
        username: Username::parse("commander").unwrap(),
        display_name: "指挥长".into(),
        role: Role::Commander,
        scope: town.id,
        password_hash: "x".into(),
    };
    let account = store.create_account(account, system_now()).await.unwrap().id;
    Town { grid, people: ids.into_iter().zip(phones).collect(), account }
}

fn sms(t: &Town, i: usize, incident: i64) -> NewNotification {
    let (person, phone) = &t.people[i];
    let key = DedupKey::parse(&format!("incident:{incident}:activation:person:{person}:sms")).unwrap();
    let text = format!("【圣堂镇指挥部】黄金24小时预案已启动，请30分钟内到镇应急指挥中心集结。回执 /r/tok{i:04}");
    NewNotification::new(key, Recipient::Person(*person), Address::Sms(phone.clone()), t.grid.id, "", &text)
        .unwrap()
        .for_incident(incident)
}

fn email(t: &Town, i: usize, incident: i64) -> NewNotification {
    let (person, _) = &t.people[i];
    let key = DedupKey::parse(&format!("incident:{incident}:activation:person:{person}:email")).unwrap();
    let to = Email::parse(&format!("cadre{i:02}@shengtang.example.org")).unwrap();
    let body = format!("各位组长：请于07:30前到镇应急指挥中心集结，并带领本组人员签到。编号 {i:04}");
    NewNotification::new(key, Recipient::Person(*person), Address::Email(to), t.grid.id, "集结通知", &body)
        .unwrap()
        .for_incident(incident)
}

fn config(sms: Option<&SmsReceiver>, smtp: Option<String>, policy: RetryPolicy) -> NotifyConfig {
    NotifyConfig {
        sms: sms.map(|r| SmsConfig { url: r.url.clone(), token: Some(TOKEN.into()) }),
        smtp: smtp.map(|url| SmtpConfig { url, from: "圣堂镇指挥部 <bulwark@shengtang.example.org>".into() }),
        policy,
        batch: 50,
        fan_out: 16,
        lease: 30_000,
        tick: Duration::from_millis(50),
    }
}

fn start(store: &Arc<dyn Store>, hub: &Arc<Hub>, config: NotifyConfig) -> DispatcherHandle {
    Dispatcher::new(store.clone(), hub.clone(), config, Arc::new(system_now)).expect("dispatcher").spawn()
}

/// Polls the counts until `done` holds for them, for at most a minute.
async fn wait_for(
    store: &dyn Store,
    scope: &Scope,
    what: &str,
    done: impl Fn(&[StateCount]) -> bool,
) -> Vec<StateCount> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let counts = store.notification_counts(scope, None).await.unwrap();
        if done(&counts) {
            return counts;
        }
        assert!(Instant::now() < deadline, "{what}: still {counts:?} after a minute");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(counts: &[StateCount], channel: Channel, state: DeliveryState) -> u64 {
    counts.iter().filter(|c| c.channel == channel && c.state == state).map(|c| c.count).sum()
}

async fn receivers_that_fail_then_recover(engine: Engine) {
    let (store, _db) = fresh(engine).await;
    let t = town(store.as_ref(), 200).await;
    let scope = Scope::of(&t.grid);
    let gateway = SmsReceiver::start(150, TOKEN).await;
    let smtp = SmtpReceiver::start(12).await;
    let hub = Arc::new(Hub::default());
    let policy = RetryPolicy { first_delay: 50, factor: 2, max_delay: 400, keep_trying_for: 120_000, min_attempts: 3 };
    let dispatcher = start(&store, &hub, config(Some(&gateway), Some(smtp.url()), policy));

    // One batch: 200 SMS and 20 e-mails, committed before enqueue returns.
    let mut batch: Vec<NewNotification> = (0..200).map(|i| sms(&t, i, 12)).collect();
    batch.extend((0..20).map(|i| email(&t, i, 12)));
    let started = Instant::now();
    let done = notify::enqueue(store.as_ref(), &hub, batch.clone(), system_now()).await.unwrap();
    let enqueue_ms = started.elapsed().as_millis();
    assert_eq!((done.created, done.duplicates), (220, 0));
    // The activation tried again notifies nobody twice.
    let again = notify::enqueue(store.as_ref(), &hub, batch.clone(), system_now()).await.unwrap();
    assert_eq!((again.created, again.duplicates), (0, 220));

    let counts = wait_for(store.as_ref(), &scope, "everything sent", |c| {
        count(c, Channel::Sms, DeliveryState::Sent) == 200 && count(c, Channel::Email, DeliveryState::Sent) == 20
    })
    .await;
    dispatcher.stop().await;
    // Nothing is left pending, sending, waiting for a retry or failed.
    assert_eq!(counts.iter().map(|c| c.count).sum::<u64>(), 220, "{counts:?}");

    // Every SMS arrived exactly once, with its text and key, to its number.
    let mut arrived: BTreeMap<(String, String), u32> = BTreeMap::new();
    for m in gateway.accepted() {
        *arrived.entry((m.to.clone(), m.text.clone())).or_default() += 1;
        assert!(m.key.starts_with("incident:12:activation:person:") && m.key.ends_with(":sms"), "{m:?}");
    }
    let expected: BTreeMap<(String, String), u32> = batch[..200]
        .iter()
        .map(|n| match &n.address {
            Address::Sms(p) => ((p.as_str().to_string(), n.body.clone()), 1),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(arrived, expected, "each SMS once");

    // Every e-mail arrived exactly once, to its address, with its text.
    let mut mails: BTreeMap<(Vec<String>, String), u32> = BTreeMap::new();
    for m in smtp.accepted() {
        assert_eq!(m.from, "bulwark@shengtang.example.org");
        assert!(m.message_id.starts_with("<notification-") && m.message_id.ends_with("@shengtang.example.org>"));
        *mails.entry((m.to.clone(), m.body.clone())).or_default() += 1;
    }
    let expected: BTreeMap<(Vec<String>, String), u32> = batch[200..]
        .iter()
        .map(|n| match &n.address {
            Address::Email(e) => ((vec![e.as_str().to_string()], n.body.clone()), 1),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(mails, expected, "each e-mail once");

    // The failed attempts were retried and recorded: each attempt is one request the gateway got
    // (150 refused + 200 accepted), one connection the SMTP server got (12 closed + 20 served).
    let stored = store.notifications(&NotificationQuery::within(scope.clone(), 1000)).await.unwrap();
    let attempts = |channel| stored.iter().filter(|n| n.channel() == channel).map(|n| n.attempts).sum::<u32>();
    assert_eq!((attempts(Channel::Sms), gateway.requests()), (350, 350));
    assert_eq!((attempts(Channel::Email), smtp.connections()), (32, 32));
    let retried_sms = stored.iter().filter(|n| n.channel() == Channel::Sms && n.attempts > 1).count();
    let retried_mail = stored.iter().filter(|n| n.channel() == Channel::Email && n.attempts > 1).count();
    assert!(retried_sms > 0 && retried_mail > 0, "{retried_sms} SMS and {retried_mail} e-mails were retried");
    let retried = stored.iter().find(|n| n.channel() == Channel::Sms && n.attempts > 1).unwrap();
    assert_eq!(
        retried.last_error.as_deref(),
        Some("sms gateway answered 503 Service Unavailable: {\"error\":\"gateway overloaded\"}")
    );
    assert!(stored.iter().all(|n| n.state == DeliveryState::Sent && n.sent_at.is_some() && n.due_at.is_none()));
    println!(
        "{engine:?}: 220 notifications enqueued in {enqueue_ms} ms; delivered through {} gateway requests and {} SMTP connections ({retried_sms} SMS and {retried_mail} e-mails retried)",
        gateway.requests(),
        smtp.connections()
    );
}

async fn receivers_that_never_recover(engine: Engine) {
    let (store, _db) = fresh(engine).await;
    let t = town(store.as_ref(), 6).await;
    let scope = Scope::of(&t.grid);
    let gateway = SmsReceiver::start(u32::MAX, TOKEN).await;
    let smtp = SmtpReceiver::start(u32::MAX).await;
    let hub = Arc::new(Hub::default());
    let policy = RetryPolicy { first_delay: 20, factor: 2, max_delay: 50, keep_trying_for: 300, min_attempts: 3 };
    let dispatcher = start(&store, &hub, config(Some(&gateway), Some(smtp.url()), policy));
    let batch = vec![sms(&t, 0, 7), sms(&t, 1, 7), email(&t, 2, 7)];
    notify::enqueue(store.as_ref(), &hub, batch, system_now()).await.unwrap();
    wait_for(store.as_ref(), &scope, "given up", |c| {
        count(c, Channel::Sms, DeliveryState::Failed) == 2 && count(c, Channel::Email, DeliveryState::Failed) == 1
    })
    .await;
    dispatcher.stop().await;
    let stored = store.notifications(&NotificationQuery::within(scope.clone(), 100)).await.unwrap();
    for n in &stored {
        assert!(n.attempts >= 3, "{n:?}");
        assert_eq!((n.state, n.due_at, n.sent_at), (DeliveryState::Failed, None, None));
        let error = n.last_error.as_deref().unwrap_or_default();
        match n.channel() {
            Channel::Sms => assert!(error.starts_with("sms gateway answered 503"), "{error}"),
            _ => assert!(error.starts_with("smtp: "), "{error}"),
        }
    }
    assert!(gateway.accepted().is_empty() && smtp.accepted().is_empty());
    assert_eq!(
        gateway.requests(),
        stored.iter().filter(|n| n.channel() == Channel::Sms).map(|n| n.attempts).sum::<u32>()
    );
}

async fn unconfigured_channels_and_in_app(engine: Engine) {
    let (store, _db) = fresh(engine).await;
    let t = town(store.as_ref(), 3).await;
    let scope = Scope::of(&t.grid);
    let hub = Arc::new(Hub::default());
    let mut listener = hub.subscribe();
    // No gateway and no SMTP server configured.
    let dispatcher = start(&store, &hub, config(None, None, RetryPolicy::default()));
    let key = DedupKey::parse("incident:7:overdue:task:3:account").unwrap();
    let note = NewNotification::new(
        key,
        Recipient::Account(t.account),
        Address::InApp(t.account),
        t.grid.id,
        "任务超时",
        "流调溯源组：核心信息调查已超时",
    )
    .unwrap();
    notify::enqueue(store.as_ref(), &hub, vec![sms(&t, 0, 7), email(&t, 1, 7), note], system_now()).await.unwrap();
    let pushed = tokio::time::timeout(Duration::from_secs(60), listener.recv()).await.expect("pushed in time").unwrap();
    assert_eq!((pushed.account, pushed.subject.as_str()), (t.account, "任务超时"));
    let counts = wait_for(store.as_ref(), &scope, "settled", |c| {
        c.iter().all(|c| c.state.is_final()) && c.iter().map(|c| c.count).sum::<u64>() == 3
    })
    .await;
    dispatcher.stop().await;
    assert_eq!(count(&counts, Channel::InApp, DeliveryState::Sent), 1);
    let stored = store.notifications(&NotificationQuery::within(scope, 100)).await.unwrap();
    let error = |channel| stored.iter().find(|n| n.channel() == channel).and_then(|n| n.last_error.clone());
    assert_eq!(error(Channel::Sms).as_deref(), Some("sms gateway not configured (BULWARK_SMS_URL)"));
    assert_eq!(error(Channel::Email).as_deref(), Some("smtp server not configured (BULWARK_SMTP_URL)"));
    assert!(
        stored
            .iter()
            .filter(|n| n.channel() != Channel::InApp)
            .all(|n| n.state == DeliveryState::Failed && n.attempts == 1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_that_fail_then_recover_sqlite() {
    receivers_that_fail_then_recover(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_that_fail_then_recover_postgres() {
    receivers_that_fail_then_recover(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_that_never_recover_sqlite() {
    receivers_that_never_recover(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receivers_that_never_recover_postgres() {
    receivers_that_never_recover(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfigured_channels_and_in_app_sqlite() {
    unconfigured_channels_and_in_app(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unconfigured_channels_and_in_app_postgres() {
    unconfigured_channels_and_in_app(Engine::Postgres).await;
}
