//! The lane's scan page in a real browser, on a phone-sized window: a sampler scans a tube and
//! people, the network goes down (DevTools network emulation), she scans on, the page is reloaded
//! while offline (the service worker serves it, the outbox is read back from IndexedDB), the
//! network comes back and the outbox drains; then the database itself (not the API) shows every
//! scan exactly once. A second test types like a keyboard-wedge scanner and checks that focus
//! comes back to the input after every scan.

use crate::harness::{
    Browser, PHONE, assert_local_only, click, has_han, js, message, resize, screenshot, text, type_into, wait_for_path,
    wait_until,
};
use bulwark_domain::people::IdNumber;
use bulwark_testkit::{Engine, PASSWORD, RawDatabase, TestServer};
use fantoccini::{Client, Locator, key::Key, wd::WebDriverCompatibleCommand};
use serde_json::json;
use std::{collections::BTreeSet, time::Instant};

const ZH: &str = include_str!("../../locales/zh-CN/main.ftl");
const EN: &str = include_str!("../../locales/en/main.ftl");

/// chromedriver's Chrome-specific command that sets DevTools network emulation for the session.
#[derive(Debug)]
struct NetworkConditions {
    offline: bool,
}

impl WebDriverCompatibleCommand for NetworkConditions {
    fn endpoint(
        &self,
        base_url: &reqwest::Url,
        session_id: Option<&str>,
    ) -> Result<reqwest::Url, <reqwest::Url as std::str::FromStr>::Err> {
        base_url.join(&format!("session/{}/chromium/network_conditions", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (axum::http::Method, Option<String>) {
        let conditions = json!({"network_conditions": {
            "offline": self.offline, "latency": 0, "download_throughput": -1, "upload_throughput": -1}});
        (axum::http::Method::POST, Some(conditions.to_string()))
    }
}

async fn set_offline(c: &Client, offline: bool) {
    c.issue_cmd(NetworkConditions { offline })
        .await
        .unwrap_or_else(|e| panic!("network emulation offline={offline}: {e}"));
}

/// A cable between the browser and the server (a TCP relay on loopback) that the test can pull:
/// DevTools network emulation takes the page offline, but not its service worker, whose requests
/// would still reach the server. Pulled, the relay closes every connection and refuses new ones,
/// so nothing of the browser reaches the server, as on a phone whose network is gone.
struct Cable {
    url: String,
    open: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
    relay: tokio::task::JoinHandle<()>,
}

impl Cable {
    async fn to(server: &str) -> Cable {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the relay");
        let url = format!("http://{}", listener.local_addr().expect("relay address"));
        let target = server.trim_start_matches("http://").to_string();
        let open = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let connections = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (is_open, all) = (open.clone(), connections.clone());
        let relay = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !is_open.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: the connection closes at once
                }
                let target = target.clone();
                let pump = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                all.lock().expect("connections").push(pump.abort_handle());
            }
        });
        Cable { url, open, connections, relay }
    }

    fn pull(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        for pump in self.connections.lock().expect("connections").drain(..) {
            pump.abort();
        }
    }

    fn plug(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Cable {
    fn drop(&mut self) {
        self.relay.abort();
        self.pull();
    }
}

/// A round over village one and a site there with two lanes, made by the commander.
struct Setup {
    round: i64,
    site: i64,
    lane: i64,
}

async fn setup(server: &TestServer) -> Setup {
    let commander = server.login("commander").await;
    let (status, round) = commander
        .post(
            "/api/v1/rounds",
            json!({"name": "第一轮全员核酸", "areas": [server.fixture.code("village1")], "pool_size": 10}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{round}");
    let (status, site) = commander
        .post(
            "/api/v1/sites",
            json!({"name": "湴朗村委会采样点", "area": server.fixture.code("village1"),
                   "lanes": [{"name": "1号通道", "kind": "normal"}, {"name": "绿色通道", "kind": "green_channel"}]}),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{site}");
    Setup {
        round: round["id"].as_i64().expect("round id"),
        site: site["id"].as_i64().expect("site id"),
        lane: site["lanes"][0]["id"].as_i64().expect("lane id"),
    }
}

/// The ID numbers of the fixture's residents of village one (grids A and B), in id order.
fn village_one(server: &TestServer) -> Vec<(i64, String)> {
    let mut people: Vec<i64> = server.fixture.people["A"].iter().chain(&server.fixture.people["B"]).copied().collect();
    people.sort();
    people.into_iter().map(|p| (p, server.fixture.canaries[&p].0.clone())).collect()
}

async fn log_in(c: &Client, origin: &str, username: &str) {
    c.goto(&format!("{origin}/login")).await.expect("open /login");
    wait_for_path(c, "/login").await;
    type_into(c, "#username", username).await;
    type_into(c, "#password", PASSWORD).await;
    click(c, "#login-submit").await;
    wait_for_path(c, "/areas").await;
}

/// Waits for the scan page to be ready to scan (its outbox read, the input enabled).
async fn wait_ready(c: &Client) {
    wait_until(
        c,
        "document.getElementById('scan') && document.getElementById('scan').dataset.state === 'ready'",
        "the scan page ready",
    )
    .await;
}

/// Scans `code` as a keyboard-wedge scanner does: the characters, then Enter.
async fn scan(c: &Client, code: &str) {
    let input = c.find(Locator::Id("scan-input")).await.expect("the scan input");
    input.send_keys(&format!("{code}{}", Key::Enter)).await.unwrap_or_else(|e| panic!("scan {code}: {e}"));
}

/// The rows of the recent-scans list: (key, state).
async fn rows(c: &Client) -> Vec<(String, String)> {
    let v = js(c, "Array.from(document.querySelectorAll('#recent li')).map(li => [li.dataset.key, li.dataset.state, li.dataset.kind])").await;
    v.as_array()
        .expect("rows")
        .iter()
        .filter(|r| r[2] == "registration")
        .map(|r| (r[0].as_str().unwrap_or_default().to_string(), r[1].as_str().unwrap_or_default().to_string()))
        .collect()
}

async fn pending(c: &Client) -> i64 {
    js(c, "Number(document.getElementById('pending-count').dataset.n)").await.as_i64().expect("a count")
}

/// One number from the database behind the server, by SQL (the same on both engines).
async fn count(raw: &RawDatabase, sql: &str) -> i64 {
    match raw {
        RawDatabase::Sqlite(store) => {
            let sql = sql.to_string();
            store
                .read(move |conn| {
                    conn.query_row(&sql, [], |r| r.get::<_, i64>(0))
                        .map_err(|e| bulwark_store::StoreError::Internal(e.to_string()))
                })
                .await
                .unwrap_or_else(|e| panic!("{e:?}"))
        }
        RawDatabase::Postgres(url) => {
            let client = bulwark_postgres::testing::raw(url).await;
            client.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get::<_, i64>(0)
        }
    }
}

/// No full ID number or phone of any fixture person is in the page.
fn assert_masked(source: &str, server_canaries: &[(String, String)], page: &str) {
    for (number, phone) in server_canaries {
        assert!(!source.contains(number.as_str()), "{page} shows a full ID number");
        assert!(!source.contains(phone.as_str()), "{page} shows a full phone");
    }
}

#[tokio::test]
async fn scans_survive_going_offline_and_a_reload_sqlite() {
    offline_scenario(Engine::Sqlite).await;
}

#[tokio::test]
async fn scans_survive_going_offline_and_a_reload_postgres() {
    offline_scenario(Engine::Postgres).await;
}

async fn offline_scenario(engine: Engine) {
    let started = Instant::now();
    let server = TestServer::start(engine).await;
    let s = setup(&server).await;
    let people = village_one(&server);
    let browser = Browser::start().await;
    eprintln!("server and browser up in {:?}", started.elapsed());
    // The browser reaches the server through a cable the test can pull.
    let cable = std::sync::Arc::new(Cable::to(&server.url).await);
    let origin = cable.url.clone();
    let canaries: Vec<(String, String)> = server.fixture.canaries.values().cloned().collect();
    let name = match engine {
        Engine::Sqlite => "scan-offline",
        Engine::Postgres => "scan-offline-pg",
    };
    let shots = engine == Engine::Sqlite;
    let path = format!("/scan?round={}&site={}&lane={}", s.round, s.site, s.lane);
    let scans: Vec<String> = people[..7].iter().map(|(_, id)| id.clone()).collect();
    let (keys_tx, keys_rx) = tokio::sync::oneshot::channel::<Vec<String>>();
    let wire = cable.clone();
    browser
        .run(name, move |c| async move {
            let keys = scenario(&c, &wire, &origin, &path, &scans, &canaries, shots).await;
            let _ = keys_tx.send(keys);
        })
        .await;
    let keys = keys_rx.await.expect("the keys of the scans");

    // In the database itself: each of the 7 scans exactly once, by key and by (person, tube).
    let raw = &server.raw;
    let round = s.round;
    assert_eq!(keys.len(), 7, "{keys:?}");
    for key in &keys {
        let n = count(raw, &format!("SELECT count(*) FROM registrations WHERE idem_key = '{key}'")).await;
        assert_eq!(n, 1, "registration {key} stored {n} times");
    }
    let total = count(raw, &format!("SELECT count(*) FROM registrations WHERE round_id = {round}")).await;
    let distinct_keys =
        count(raw, &format!("SELECT count(DISTINCT idem_key) FROM registrations WHERE round_id = {round}")).await;
    let distinct_pairs = count(
        raw,
        &format!(
            "SELECT count(*) FROM (SELECT DISTINCT person_id, tube_id FROM registrations WHERE round_id = {round}) AS p"
        ),
    )
    .await;
    assert_eq!((total, distinct_keys, distinct_pairs), (7, 7, 7), "registrations, keys, (person, tube) pairs");
    let tubes = count(
        raw,
        &format!(
            "SELECT count(*) FROM tubes WHERE code = 'EP0000001' AND members = 7 AND id IN \
             (SELECT tube_id FROM registrations WHERE round_id = {round})"
        ),
    )
    .await;
    assert_eq!(tubes, 1, "one tube EP0000001 with 7 members");
    let expected: BTreeSet<i64> = people[..7].iter().map(|(p, _)| *p).collect();
    for person in &expected {
        let n = count(
            raw,
            &format!("SELECT count(*) FROM registrations WHERE round_id = {round} AND person_id = {person}"),
        )
        .await;
        assert_eq!(n, 1, "person {person} registered {n} times");
    }
    eprintln!("whole test: {:?}", started.elapsed());
}

async fn scenario(
    c: &Client,
    cable: &Cable,
    origin: &str,
    path: &str,
    scans: &[String],
    canaries: &[(String, String)],
    shots: bool,
) -> Vec<String> {
    resize(c, PHONE).await;
    log_in(c, origin, "sampler").await;
    c.goto(&format!("{origin}{path}")).await.expect("open the scan page");
    wait_for_path(c, path).await;
    wait_ready(c).await;
    assert_eq!(js(c, "document.documentElement.lang").await, "zh-CN");
    assert_eq!(text(c, "h1").await, message(ZH, "scan-title"));
    assert_eq!(js(c, "document.activeElement.id").await, "scan-input", "the input is focused at once");
    wait_until(c, "document.getElementById('scan').dataset.offlineReady === '1'", "the page kept for offline use")
        .await;
    wait_until(c, "document.getElementById('where-round').textContent === '第一轮全员核酸'", "the round's name").await;

    // 1. Online: a tube, then three people by their ID numbers.
    scan(c, "ep0000001").await;
    wait_until(c, "document.getElementById('tube-code').textContent === 'EP0000001'", "the tube, upper-cased").await;
    for (i, id) in scans[..3].iter().enumerate() {
        scan(c, id).await;
        let stored = format!(
            "Array.from(document.querySelectorAll('#recent li[data-kind=registration]')).filter(li => li.dataset.state === 'stored').length === {}",
            i + 1
        );
        wait_until(c, &stored, &format!("scan {} stored", i + 1)).await;
        assert_eq!(js(c, "document.activeElement.id").await, "scan-input");
    }
    assert_eq!(js(c, "document.getElementById('feedback').dataset.state").await, "stored");
    assert!(text(c, "#feedback-title").await.starts_with(&message(ZH, "scan-stored")));
    wait_until(c, "document.getElementById('tube-count').dataset.members === '3'", "3 in the tube").await;
    assert_eq!(js(c, "document.getElementById('tube-count').dataset.pool").await, "10");
    assert_eq!(pending(c).await, 0);
    assert!(js(c, "BulwarkScan.beeps.includes('ok')").await.as_bool().unwrap_or_default(), "a high beep");
    assert_masked(&c.source().await.expect("source"), canaries, "the scan page");
    assert_local_only(c, origin).await;
    if shots {
        screenshot(c, "scan-online-phone").await;
    }

    // 2. The network goes down; four more scans are kept on the phone.
    cable.pull();
    set_offline(c, true).await;
    wait_until(c, "navigator.onLine === false", "the browser offline").await;
    wait_until(c, "document.getElementById('net-state').dataset.online === '0'", "the page showing it is offline")
        .await;
    for (i, id) in scans[3..].iter().enumerate() {
        scan(c, id).await;
        let saved = format!(
            "Array.from(document.querySelectorAll('#recent li[data-kind=registration]')).filter(li => li.dataset.state === 'saved').length === {}",
            i + 1
        );
        wait_until(c, &saved, &format!("offline scan {} saved", i + 1)).await;
        assert_eq!(js(c, "document.activeElement.id").await, "scan-input");
    }
    wait_until(c, "document.getElementById('pending-count').dataset.n === '4'", "4 waiting").await;
    let waiting = message(ZH, "scan-pending").replace("{ $n }", "4");
    assert_eq!(text(c, "#pending-count").await, waiting);
    assert_eq!(js(c, "document.getElementById('feedback').dataset.state").await, "saved");
    assert_eq!(text(c, "#feedback-title").await, message(ZH, "scan-saved"));
    assert_eq!(js(c, "document.getElementById('tube-count').dataset.members").await, "7");
    if shots {
        screenshot(c, "scan-offline-phone").await;
    }
    let before: Vec<(String, String)> = rows(c).await;
    assert_eq!(before.len(), 7, "{before:?}");

    // 3. Reloaded while offline: the service worker serves the page, the outbox is read back.
    js(c, "(window.__beforeReload = true)").await;
    c.refresh().await.expect("reload while offline");
    wait_until(c, "window.__beforeReload === undefined", "a new page").await;
    wait_ready(c).await;
    assert_eq!(js(c, "navigator.onLine").await, false, "still offline after the reload");
    let served_by_worker = js(c, "performance.getEntriesByType('navigation')[0].workerStart > 0").await;
    assert_eq!(served_by_worker, true, "the page came through the service worker");
    let from_device = js(c, "document.getElementById('scan').dataset.fromDevice === '1'").await;
    assert_eq!(from_device, true, "the page is the copy kept on this device, not one from the network");
    assert_eq!(text(c, "#from-device").await, message(ZH, "scan-from-device"));
    assert_eq!(pending(c).await, 4, "the outbox read back after the reload");
    assert_eq!(text(c, "#pending-count").await, waiting);
    let after = rows(c).await;
    let saved: Vec<&String> = after.iter().filter(|(_, s)| s == "saved").map(|(k, _)| k).collect();
    assert_eq!(saved.len(), 4, "{after:?}");
    for k in &saved {
        assert!(before.iter().any(|(b, _)| b == *k), "the same items as before the reload");
    }
    assert_eq!(text(c, "#tube-code").await, "EP0000001", "the open tube survives the reload");
    assert_eq!(js(c, "document.activeElement.id").await, "scan-input");
    if shots {
        screenshot(c, "scan-reloaded-offline-phone").await;
    }

    // 4. The network comes back: the outbox drains by itself.
    cable.plug();
    set_offline(c, false).await;
    wait_until(c, "document.getElementById('pending-count').dataset.n === '0'", "the outbox drained").await;
    wait_until(
        c,
        "Array.from(document.querySelectorAll('#recent li[data-kind=registration]')).every(li => li.dataset.state === 'stored')",
        "every scan stored",
    )
    .await;
    wait_until(c, "document.getElementById('tube-count').dataset.members === '7'", "7 in the tube").await;
    assert_eq!(text(c, "#pending-count").await, message(ZH, "scan-pending").replace("{ $n }", "0"));
    assert_masked(&c.source().await.expect("source"), canaries, "the scan page");
    assert_local_only(c, origin).await;
    if shots {
        screenshot(c, "scan-drained-phone").await;
    }
    let keys: Vec<String> = rows(c).await.into_iter().map(|(k, _)| k).collect();
    for k in &keys {
        assert!(is_uuid_v7(k), "a UUIDv7 key: {k}");
    }
    keys
}

/// `xxxxxxxx-xxxx-7xxx-[89ab]xxx-xxxxxxxxxxxx`, lower-case hex.
fn is_uuid_v7(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && [8, 13, 18, 23].iter().all(|&i| b[i] == b'-')
        && b.iter()
            .enumerate()
            .all(|(i, c)| [8, 13, 18, 23].contains(&i) || c.is_ascii_digit() || (b'a'..=b'f').contains(c))
        && b[14] == b'7'
        && matches!(b[19], b'8' | b'9' | b'a' | b'b')
}

/// A keyboard-wedge scanner types fast: a tube, people and Enter after each, with no pause. Focus
/// comes back to the input after every scan, also after a refused one, a button and the form.
#[tokio::test]
async fn keyboard_wedge_keeps_the_focus() {
    let started = Instant::now();
    let server = TestServer::start(Engine::Sqlite).await;
    let s = setup(&server).await;
    let people = village_one(&server);
    // A personal QR code, as printed for a resident without a phone.
    let (status, codes) =
        server.login("commander").await.get(&format!("/api/v1/qr-codes?area={}", server.fixture.code("A"))).await;
    assert_eq!(status, reqwest::StatusCode::OK, "{codes}");
    let token = codes
        .as_array()
        .expect("QR codes")
        .iter()
        .find(|q| q["person_id"] == people[2].0)
        .and_then(|q| q["token"].as_str())
        .expect("a token for the third resident")
        .to_string();
    let browser = Browser::start().await;
    let origin = server.url.clone();
    let round = s.round;
    browser
        .run("scan-wedge", move |c| async move {
            resize(&c, PHONE).await;
            log_in(&c, &origin, "sampler").await;

            // Without a round and a site: the chooser, filled from the API.
            c.goto(&format!("{origin}/scan")).await.expect("open /scan");
            wait_until(&c, "document.querySelectorAll('#choose-site option').length === 1", "the sites listed").await;
            wait_until(&c, "document.querySelectorAll('#choose-lane option').length === 3", "the lanes listed").await;
            assert_eq!(text(&c, "h1").await, message(ZH, "scan-title"));
            js(&c, &format!("(document.getElementById('choose-lane').value = '{}', true)", s.lane)).await;
            click(&c, "#choose-go").await;
            wait_for_path(&c, &format!("/scan?round={round}&site={}&lane={}", s.site, s.lane)).await;
            wait_ready(&c).await;
            helpers(&c).await;
            // Every submit of the scan form records where the focus is once the page handled it.
            js(&c, "(window.__focus = [], document.getElementById('scan-form').addEventListener('submit', \
                () => window.__focus.push(document.activeElement.id)), true)")
            .await;

            // One burst, as fast as WebDriver types: tube, person, person (Enter after each).
            let input = c.find(Locator::Id("scan-input")).await.expect("input");
            let burst = format!("EP0000002{enter}{}{enter}{}{enter}", people[0].1, people[1].1, enter = Key::Enter);
            input.send_keys(&burst).await.expect("type the burst");
            wait_until(
                &c,
                "Array.from(document.querySelectorAll('#recent li[data-kind=registration]')).filter(li => li.dataset.state === 'stored').length === 2",
                "both people stored",
            )
            .await;
            assert_eq!(js(&c, "window.__focus").await, json!(["scan-input", "scan-input", "scan-input"]));
            assert_eq!(text(&c, "#tube-code").await, "EP0000002");
            // The second is grid A's elderly resident (born 1938, cannot walk): the green channel.
            let green = text(&c, "#feedback-green").await;
            assert!(green.contains(&message(ZH, "scan-green-elderly")), "{green}");
            assert!(green.contains(&message(ZH, "scan-green-disabled")), "{green}");

            // A personal QR code (`BWQ1…`) into the same tube.
            scan(&c, &token).await;
            wait_until(
                &c,
                "Array.from(document.querySelectorAll('#recent li[data-kind=registration]')).filter(li => li.dataset.state === 'stored').length === 3",
                "the QR code stored",
            )
            .await;
            assert_eq!(js(&c, "document.getElementById('tube-count').dataset.members").await, "3");

            // A valid ID number of nobody in the register: the server refuses it (422), the page
            // shows it in red with the reason, and keeps it in the refused list.
            let stranger = IdNumber::from_body("44078519900101123").as_str().to_string();
            scan(&c, &stranger).await;
            wait_until(&c, "document.getElementById('feedback').dataset.state === 'refused'", "a refusal").await;
            assert!(text(&c, "#feedback-detail").await.contains(&message(ZH, "scan-not-registered")));
            wait_until(&c, "document.getElementById('refused-count').dataset.n === '1'", "one refused").await;
            assert_eq!(js(&c, "document.querySelectorAll('#refused-list li').length").await, 1);
            assert_eq!(js(&c, "document.activeElement.id").await, "scan-input");

            // A misread ID number (check digit wrong): refused on the phone, red, and focus stays.
            let mut wrong = people[2].1.clone();
            let last = if wrong.ends_with('0') { '1' } else { '0' };
            wrong.replace_range(17.., &last.to_string());
            scan(&c, &wrong).await;
            wait_until(&c, "document.getElementById('feedback').dataset.state === 'refused'", "a red answer").await;
            assert_eq!(text(&c, "#feedback-title").await, message(ZH, "scan-id-checksum"));
            assert!(js(&c, "BulwarkScan.beeps.includes('bad')").await.as_bool().unwrap_or_default(), "a low beep");
            assert_eq!(js(&c, "document.activeElement.id").await, "scan-input");

            // Seal now: the button, then the focus is back in the input; the next scan must be a tube.
            click(&c, "#seal-now").await;
            assert_eq!(js(&c, "document.activeElement.id").await, "scan-input");
            wait_until(
                &c,
                "Array.from(document.querySelectorAll('#recent li[data-kind=seal]')).some(li => li.dataset.state === 'stored')",
                "the tube sealed",
            )
            .await;
            scan(&c, &people[2].1).await;
            wait_until(&c, "document.getElementById('feedback').dataset.state === 'refused'", "a tube first").await;
            assert_eq!(text(&c, "#feedback-title").await, message(ZH, "scan-tube-first"));

            // A document typed by hand (a visitor with a passport), into a new single tube.
            js(&c, "(document.getElementById('pool-size').value = '1', \
                document.getElementById('pool-size').dispatchEvent(new Event('change')), true)")
            .await;
            scan(&c, "EP0000003").await;
            click(&c, "#manual-open").await;
            // A passport number is not a resident ID number: its checksum is not asked for.
            type_into(&c, "#manual-number", "E12345678").await;
            type_into(&c, "#manual-name", "李司机").await;
            click(&c, "#manual-submit").await;
            assert_eq!(text(&c, "#manual-error").await, message(ZH, "scan-id-checksum"));
            js(&c, "(document.getElementById('manual-type').value = 'passport', true)").await;
            type_into(&c, "#manual-phone", "13800138000").await;
            click(&c, "#manual-submit").await;
            wait_until(&c, "document.getElementById('feedback').dataset.state === 'flagged'", "stored with a flag").await;
            assert!(text(&c, "#feedback-detail").await.contains(&message(ZH, "flag-registered_on_spot")));
            assert_eq!(js(&c, "document.activeElement.id").await, "scan-input");
            wait_until(&c, "!document.getElementById('next-tube').hidden", "the single tube full: next tube").await;
            assert!(has_han(&text(&c, "#next-tube").await));
            screenshot(&c, "scan-wedge-phone").await;

            // The camera's reader loads from this server (WebAssembly allowed by the page's policy).
            let decoded = c
                .execute_async(
                    "const done = arguments[arguments.length - 1];
                     BulwarkScan.loadZxing()
                       .then(z => z.readBarcodes(new ImageData(64, 64), { formats: ['QRCode', 'Code128'] }))
                       .then(r => done(r.length), e => done('failed: ' + e));",
                    vec![],
                )
                .await
                .expect("run the reader");
            assert_eq!(decoded, json!(0), "the reader ran on a blank frame");
            let fetched = assert_local_only(&c, &origin).await;
            assert!(fetched.iter().any(|u| u.ends_with("/static/vendor/zxing_reader.wasm")), "{fetched:?}");

            // In English.
            click(&c, "#lang-switch").await;
            wait_until(&c, "document.documentElement.lang === 'en'", "the page in English").await;
            wait_ready(&c).await;
            assert_eq!(text(&c, "h1").await, message(EN, "scan-title"));
            assert_eq!(text(&c, "#pending-count").await, message(EN, "scan-pending").replace("{ $n }", "0"));
            // The refused scan is still listed after the reload, until someone dismisses it.
            assert_eq!(text(&c, "#refused-count").await, message(EN, "scan-refused-count").replace("{ $n }", "1"));
            screenshot(&c, "scan-wedge-phone-en").await;
            click(&c, "#refused-list button").await;
            c.accept_alert().await.expect("confirm the dismissal");
            wait_until(&c, "document.getElementById('refused-section').hidden", "the refused list emptied").await;
            assert_eq!(js(&c, "document.activeElement.id").await, "scan-input");
        })
        .await;
    let stored = count(&server.raw, &format!("SELECT count(*) FROM registrations WHERE round_id = {round}")).await;
    assert_eq!(stored, 4, "two residents by ID number, one by QR code, and the visitor");
    // Only those who may register swabs get the page.
    for (username, status) in [("lab", 403), ("gridworker_a", 403), ("commander", 200)] {
        let (got, _) = server.login(username).await.get("/scan").await;
        assert_eq!(got.as_u16(), status, "GET /scan as {username}");
    }
    eprintln!("whole test: {:?}", started.elapsed());
}

/// The page's own helpers, against the domain's: the ID checksum (every single-digit error in the
/// first 17 characters caught, lower-case x taken), UUIDv7 keys, and what a scan is taken for.
async fn helpers(c: &Client) {
    let mut ids: Vec<String> =
        (0..40).map(|n| IdNumber::from_body(&format!("44078519850101{n:03}")).as_str().to_string()).collect();
    let with_x = ids.iter().find(|id| id.ends_with('X')).expect("an ID number ending in X").clone();
    ids.push(with_x.to_lowercase());
    let mut wrong = Vec::new();
    for (i, c) in ids[0].char_indices().take(17) {
        let digit = c.to_digit(10).expect("a digit");
        for d in (0..10).filter(|d| *d != digit) {
            let mut w = ids[0].clone();
            w.replace_range(i..=i, &d.to_string());
            wrong.push(w);
        }
    }
    let checked = js(
        c,
        &format!(
            "[{ids}.every(BulwarkScan.idChecksumOk), {wrong}.filter(BulwarkScan.idChecksumOk)]",
            ids = json!(ids),
            wrong = json!(wrong)
        ),
    )
    .await;
    assert_eq!(checked, json!([true, []]), "the script's ID checksum agrees with the domain's");

    let keys = js(
        c,
        "(() => { const ks = Array.from({length: 1000}, () => BulwarkScan.uuidv7());
                  const k = BulwarkScan.uuidv7(1665010800123);
                  return [new Set(ks).size, ks[0], k, parseInt(k.replaceAll('-', '').slice(0, 12), 16)]; })()",
    )
    .await;
    assert_eq!(keys[0], 1000, "1000 different keys");
    assert!(is_uuid_v7(keys[1].as_str().unwrap_or_default()), "{keys}");
    assert!(is_uuid_v7(keys[2].as_str().unwrap_or_default()), "{keys}");
    assert_eq!(keys[3], 1665010800123_i64, "the first 48 bits are the time in milliseconds");

    let kinds = js(
        c,
        &format!(
            "[['ep-001234', false], [' {id} ', true], ['{idx}', true], ['BWQ1abcdef', true], ['{bad}', true], ['{bad}', false], ['管子', true]]
                .map(([s, open]) => {{ const k = BulwarkScan.classify(s, open); return [k.kind, k.code || (k.person && (k.person.id_number || k.person.qr)) || k.key]; }})",
            id = ids[0],
            idx = ids.last().expect("the lower-case x"),
            bad = wrong[0],
        ),
    )
    .await;
    assert_eq!(
        kinds,
        json!([
            ["tube", "EP-001234"],
            ["person", ids[0]],
            ["person", with_x],
            ["person", "BWQ1abcdef"],
            ["error", "scan-id-checksum"],
            ["tube", wrong[0]],
            ["error", "scan-not-recognised"]
        ])
    );
}

/// The network is down long enough for the session to expire: the uploads are refused with 401
/// when it comes back, and that is not an answer about the scans. They stay in the outbox until
/// the sampler has logged in again, then they upload.
#[tokio::test]
async fn an_expired_session_keeps_the_outbox() {
    let started = Instant::now();
    let server = TestServer::start(Engine::Sqlite).await;
    let s = setup(&server).await;
    let people = village_one(&server);
    let browser = Browser::start().await;
    let cable = std::sync::Arc::new(Cable::to(&server.url).await);
    let origin = cable.url.clone();
    let clock = server.clock.clone();
    let path = format!("/scan?round={}&site={}&lane={}", s.round, s.site, s.lane);
    let round = s.round;
    browser
        .run("scan-expired", move |c| async move {
            resize(&c, PHONE).await;
            log_in(&c, &origin, "sampler").await;
            c.goto(&format!("{origin}{path}")).await.expect("open the scan page");
            wait_ready(&c).await;
            scan(&c, "EP0000009").await;
            scan(&c, &people[0].1).await;
            wait_until(&c, "document.querySelector('#recent li[data-kind=registration]').dataset.state === 'stored'", "stored").await;

            cable.pull();
            set_offline(&c, true).await;
            for (_, id) in &people[1..3] {
                scan(&c, id).await;
            }
            wait_until(&c, "document.getElementById('pending-count').dataset.n === '2'", "2 waiting").await;
            // 31 minutes offline: the session's idle timeout (30 minutes) has passed.
            clock.advance(31 * 60_000);
            cable.plug();
            set_offline(&c, false).await;
            wait_until(&c, "document.getElementById('net-state').dataset.problem === 'scan-login-again'", "log in again").await;
            assert_eq!(pending(&c).await, 2, "a 401 removes nothing");
            assert_eq!(js(&c, "Number(document.getElementById('refused-count').dataset.n)").await, 0);
            assert_eq!(text(&c, "#login-again").await, message(ZH, "scan-login-again"));
            screenshot(&c, "scan-expired-phone").await;

            // Logging in again in another tab; back in the scan page the outbox drains.
            let scan_tab = c.window().await.expect("this tab");
            click(&c, "#login-again").await;
            let tabs = c.windows().await.expect("tabs");
            let login_tab = tabs.into_iter().find(|w| *w != scan_tab).expect("the login tab");
            c.switch_to_window(login_tab).await.expect("to the login tab");
            wait_for_path(&c, "/login").await;
            type_into(&c, "#username", "sampler").await;
            type_into(&c, "#password", PASSWORD).await;
            click(&c, "#login-submit").await;
            wait_for_path(&c, "/areas").await;
            c.close_window().await.expect("close the login tab");
            c.switch_to_window(scan_tab).await.expect("back to the scan page");
            wait_until(&c, "document.getElementById('pending-count').dataset.n === '0'", "the outbox drained").await;
            wait_until(
                &c,
                "Array.from(document.querySelectorAll('#recent li[data-kind=registration]')).every(li => li.dataset.state === 'stored')",
                "every scan stored",
            )
            .await;
            assert_eq!(js(&c, "document.getElementById('net-state').dataset.problem === undefined").await, true);
        })
        .await;
    let stored = count(&server.raw, &format!("SELECT count(*) FROM registrations WHERE round_id = {round}")).await;
    assert_eq!(stored, 3);
    eprintln!("whole test: {:?}", started.elapsed());
}

#[test]
fn uuid_v7_shape() {
    assert!(is_uuid_v7("0190a5b2-0000-7000-8000-000000000001"));
    assert!(!is_uuid_v7("0190a5b2-0000-4000-8000-000000000001"));
    assert!(!is_uuid_v7("0190a5b2-0000-7000-c000-000000000001"));
}
