//! Notifications through the API and the pages, on both engines: the server's dispatcher sends to
//! an SMS gateway the test runs, which never recovers; with a short retry policy the SMS end
//! `failed` after their attempts, with the gateway's answer visible in
//! `GET /api/v1/notifications` (addresses masked, scope kept, people audited), while the in-app
//! notification reaches the account's feed, its live stream and the page. Also the matrix cases
//! of the notification operations.

use crate::{
    authorization_matrix::Case,
    support::{ApiOp, Body, browser},
};
use bulwark_app::notify::{self, NotifyConfig, SmsConfig};
use bulwark_domain::{
    access::Username,
    areas::Area,
    notify::{Address, DedupKey, NewNotification, Recipient, RetryPolicy},
    people::{PersonId, Phone},
};
use bulwark_testkit::{Engine, START, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

/// An SMS gateway on a loopback port that answers every request with 503.
struct DeadGateway {
    url: String,
    requests: Arc<AtomicU32>,
}

async fn dead_gateway() -> DeadGateway {
    let requests = Arc::new(AtomicU32::new(0));
    let counter = requests.clone();
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                (axum::http::StatusCode::SERVICE_UNAVAILABLE, "gateway down for maintenance")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/sms", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    DeadGateway { url, requests }
}

fn sms_to(server: &TestServer, key: &str, grid: &str, index: usize) -> NewNotification {
    let person: PersonId = server.fixture.people[grid][index];
    let phone = Phone::parse(&server.fixture.canaries[&person].1).unwrap();
    NewNotification::new(
        DedupKey::parse(key).unwrap(),
        Recipient::Person(person),
        Address::Sms(phone),
        server.fixture.area(grid).id,
        "",
        "黄金24小时预案已启动，请30分钟内到指挥部集结",
    )
    .unwrap()
    .for_incident(1)
}

async fn account_id(server: &TestServer, username: &str) -> i64 {
    server.store.account_by_username(&Username::parse(username).unwrap()).await.unwrap().unwrap().0.id
}

async fn in_app_to(server: &TestServer, key: &str, username: &str, area: &Area, text: &str) -> NewNotification {
    let id = account_id(server, username).await;
    NewNotification::new(
        DedupKey::parse(key).unwrap(),
        Recipient::Account(id),
        Address::InApp(id),
        area.id,
        "任务超时",
        text,
    )
    .unwrap()
}

fn deliveries(board: &Value) -> Vec<Value> {
    board["deliveries"].as_array().cloned().unwrap_or_default()
}

async fn api_and_pages(engine: Engine) {
    let gateway = dead_gateway().await;
    let config = NotifyConfig {
        sms: Some(SmsConfig { url: gateway.url.clone(), token: None }),
        // The server's clock stands still: retries are due at once, three attempts, then give up.
        policy: RetryPolicy { first_delay: 0, factor: 2, max_delay: 0, keep_trying_for: 0, min_attempts: 3 },
        tick: Duration::from_millis(50),
        ..NotifyConfig::default()
    };
    let server = TestServer::start_with(engine, config).await;
    let f = &server.fixture;
    let batch = vec![
        sms_to(&server, "incident:1:activation:a0:sms", "A", 0),
        sms_to(&server, "incident:1:activation:a1:sms", "A", 1),
        sms_to(&server, "incident:1:activation:c0:sms", "C", 0),
        in_app_to(
            &server,
            "incident:1:overdue:1:commander",
            "commander",
            f.area("town1"),
            "流调溯源组：核心信息调查已超时",
        )
        .await,
    ];
    let done = notify::enqueue(server.store.as_ref(), &server.notify, batch, START).await.unwrap();
    assert_eq!(done.created, 4);

    // All three SMS are given up (grid C's too, which the commander of town one does not see).
    let everything =
        bulwark_store::notify::NotificationQuery::within(bulwark_domain::access::Scope::of(f.area("county")), 100);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let stored = server.store.notifications(&everything).await.unwrap();
        if stored.iter().all(|n| n.state.is_final()) {
            break;
        }
        assert!(Instant::now() < deadline, "not settled after a minute: {stored:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let commander = server.login("commander").await;
    let (status, board) = commander.get("/api/v1/notifications").await;
    assert_eq!(status, StatusCode::OK, "{board}");
    let list = deliveries(&board);
    // Town one's deliveries only: grid C is another town's.
    let people: Vec<i64> = list.iter().filter_map(|d| d["person_id"].as_i64()).collect();
    assert_eq!(people.len(), 2, "{board}");
    assert!(people.iter().all(|p| f.people["A"].contains(p)), "{board}");
    // Failing ones first, with the gateway's answer, the attempts and no full number.
    assert_eq!(list[0]["status"], "failed");
    assert_eq!(list[1]["status"], "failed");
    for d in &list[..2] {
        assert_eq!(d["attempts"], 3, "{d}");
        assert_eq!(d["channel"], "sms");
        assert_eq!(d["last_error"], "sms gateway answered 503 Service Unavailable: gateway down for maintenance");
        assert_eq!(d["next_attempt_at"], Value::Null);
        let phone = &f.canaries[&d["person_id"].as_i64().unwrap()].1;
        assert_eq!(d["address"].as_str().unwrap(), format!("{}****{}", &phone[..3], &phone[7..]));
        assert!(d["recipient_name"].as_str().unwrap().starts_with("测试A"));
    }
    let note = list.iter().find(|d| d["channel"] == "in_app").expect("the in-app notification is listed");
    assert_eq!((note["status"].as_str(), note["attempts"].as_u64()), (Some("sent"), Some(1)));
    for phone in f.canaries.values().map(|c| &c.1) {
        assert!(!board.to_string().contains(phone.as_str()), "a full phone number left the server");
    }
    let count = |status: &str, channel: &str| {
        board["counts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["status"] == status && c["channel"] == channel)
            .map(|c| c["count"].clone())
    };
    assert_eq!((count("failed", "sms"), count("sent", "in_app")), (Some(json!(2)), Some(json!(1))), "{board}");
    // Every attempt reached the gateway; the third of each was the last.
    let tried: u32 = server
        .store
        .notifications(&everything)
        .await
        .unwrap()
        .iter()
        .filter(|n| n.channel() == bulwark_domain::notify::Channel::Sms)
        .map(|n| n.attempts)
        .sum();
    assert_eq!((tried, gateway.requests.load(Ordering::SeqCst)), (9, 9));

    // Filters; a filter that names nothing known is refused with the field.
    let (_, failed) = commander.get("/api/v1/notifications?status=failed&channel=sms&incident=1").await;
    assert_eq!(deliveries(&failed).len(), 2, "{failed}");
    let (status, e) = commander.get("/api/v1/notifications?status=lost").await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("status")), "{e}");
    let (status, e) = commander.get("/api/v1/notifications?channel=fax").await;
    assert_eq!((status, e["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("channel")), "{e}");
    // Town two's commander sees town two's; a grid worker may not read the outbox.
    let (_, two) = server.login("commander_two").await.get("/api/v1/notifications").await;
    let two: Vec<i64> = deliveries(&two).iter().filter_map(|d| d["person_id"].as_i64()).collect();
    assert_eq!(two, vec![f.people["C"][0]]);
    let (status, _) = server.login("gridworker_a").await.get("/api/v1/notifications").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The commander's own feed: unread, then read.
    let (status, feed) = commander.get("/api/v1/notifications/mine").await;
    assert_eq!(status, StatusCode::OK, "{feed}");
    assert_eq!(feed["unread"], 1);
    assert_eq!(feed["notifications"][0]["body"], "流调溯源组：核心信息调查已超时");
    let newest = feed["notifications"][0]["id"].as_i64().unwrap();
    let (status, marked) = commander.post("/api/v1/notifications/mine/read", json!({"up_to": newest})).await;
    assert_eq!((status, marked["marked"].as_u64()), (StatusCode::OK, Some(1)));
    let (_, feed) = commander.get("/api/v1/notifications/mine").await;
    assert_eq!((feed["unread"].as_u64(), feed["notifications"][0]["read"].as_bool()), (Some(0), Some(true)));
    let (_, other) = server.login("working_group").await.get("/api/v1/notifications/mine").await;
    assert_eq!(other["notifications"], json!([]), "another account's feed is its own");

    // An open page's stream receives the next one as it is sent.
    let stream =
        commander.request(reqwest::Method::GET, "/notifications/events").send().await.expect("the event stream opens");
    assert_eq!(stream.status(), StatusCode::OK);
    let next = in_app_to(
        &server,
        "incident:1:overdue:2:commander",
        "commander",
        f.area("town1"),
        "隔离转运组：密接转运已超时",
    )
    .await;
    let enqueue = async {
        // The stream is open once its headers came; give the subscription a moment to exist
        // before the message is sent (a message sent before would be listed, not pushed).
        tokio::time::sleep(Duration::from_millis(200)).await;
        notify::enqueue(server.store.as_ref(), &server.notify, vec![next], START).await.unwrap();
    };
    let read = async {
        let mut stream = stream;
        let mut text = String::new();
        while !text.contains("密接转运已超时") {
            match tokio::time::timeout(Duration::from_secs(60), stream.chunk()).await {
                Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
                other => panic!("the stream ended or stalled: {other:?} after {text:?}"),
            }
        }
        text
    };
    let ((), text) = tokio::join!(enqueue, read);
    assert!(text.contains("event: notification"), "{text}");

    // The page: the feed for everyone, the board for those who may read the outbox.
    let page = browser(&server, "commander").await;
    let html = page.get(format!("{}/notifications", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("id=\"delivery-board\"") && html.contains("发送失败") && html.contains("测试A"), "{html}");
    assert!(html.contains("隔离转运组：密接转运已超时"), "the feed lists what was pushed");
    assert!(html.contains("gateway down for maintenance"));
    for phone in f.canaries.values().map(|c| &c.1) {
        assert!(!html.contains(phone.as_str()), "a full phone number on the page");
    }
    page.get(format!("{}/lang/en", server.url)).send().await.unwrap();
    let html = page.get(format!("{}/notifications", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("Delivery board") && html.contains("Failed"), "English page");
    let worker = browser(&server, "gridworker_a").await;
    let r = worker.get(format!("{}/notifications", server.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"my-notifications\"") && !html.contains("id=\"delivery-board\""));
    println!(
        "notifications on {engine:?}: 3 SMS to a dead gateway given up after 3 attempts each, in-app fed, streamed and shown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_sqlite() {
    api_and_pages(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_postgres() {
    api_and_pages(Engine::Postgres).await;
}

/// The outbox the matrix reads: an SMS to a person of each grid and an in-app one to the
/// commander, enqueued once per server (their keys make it idempotent).
async fn matrix_outbox(server: &TestServer) {
    let f = &server.fixture;
    let mut batch: Vec<NewNotification> =
        ["A", "B", "C"].iter().map(|g| sms_to(server, &format!("matrix:{g}:sms"), g, 3)).collect();
    batch.push(in_app_to(server, "matrix:commander", "commander", f.area("town1"), "矩阵通知").await);
    notify::enqueue(server.store.as_ref(), &server.notify, batch, START).await.unwrap();
}

/// Cases for the notification operations; `None` for any other operation. Marking read marks a
/// notification sent to the caller (`login_as`) for the purpose, so an allowed call changes
/// something.
pub async fn matrix_cases(server: &TestServer, op: &ApiOp, login_as: &str) -> Option<Vec<Case>> {
    let cases = match op.operation_id.as_str() {
        "notifications_read" => {
            matrix_outbox(server).await;
            vec![
                Case::new(op, op.template.clone(), Body::Empty, "list"),
                Case::new(op, format!("{}?status=failed&channel=sms", op.template), Body::Empty, "list filtered"),
            ]
        }
        "me.notifications" => vec![Case::new(op, op.template.clone(), Body::Empty, "own")],
        "me.notifications_read" => {
            let key = format!("matrix:read:{}", crate::support::fresh());
            let note = in_app_to(server, &key, login_as, server.fixture.area("county"), "矩阵已读").await;
            notify::enqueue(server.store.as_ref(), &server.notify, vec![note], START).await.unwrap();
            vec![Case::new(op, op.template.clone(), Body::Json(json!({"up_to": i64::MAX})), "own")]
        }
        _ => return None,
    };
    Some(cases)
}
