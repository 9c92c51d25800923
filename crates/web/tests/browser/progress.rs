//! A round's live page in the browser: the commander watches "已采样 N 人" and the hour chart
//! change without a reload while swabs are registered through the API, then the red banner of an
//! abnormal pool; a grid worker records a door-knock on her phone; and screenshots of every
//! mass-testing page at phone and desktop size, none of which scrolls sideways on the phone or
//! fetches anything from outside the machine.

use crate::harness::{
    Browser, DESKTOP, PHONE, assert_local_only, click, js, resize, save, screenshot, text, type_into, wait_for_path,
    wait_until,
};
use bulwark_testkit::{Client, Engine, PASSWORD, TestServer};
use fantoccini::{
    Client as Driver,
    wd::{PrintConfiguration, PrintMargins, PrintSize},
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Instant;

const HOUR: i64 = 3_600_000;

async fn register(client: &Client, key: u32, body: Value) {
    let response = client
        .request(Method::POST, "/api/v1/registrations")
        .header("Idempotency-Key", format!("0190a5b2-0000-7000-8000-{key:012}"))
        .json(&body)
        .send()
        .await
        .expect("request reaches the server");
    let (status, body) = bulwark_testkit::decode(response).await;
    assert_eq!(status, StatusCode::CREATED, "registration {key}: {body}");
}

/// What the scenario needs from the server it cannot borrow.
#[derive(Clone)]
struct World {
    origin: String,
    round: i64,
    site: i64,
    sampler: Client,
    lab: Client,
    grid_a: String,
    /// Residents of grids A and B, in fixture order.
    a: Vec<i64>,
    b: Vec<i64>,
}

impl World {
    fn swab(&self, tube: &str, person: i64) -> Value {
        json!({"round": self.round, "site": self.site, "lane": null, "tube": tube, "person": {"person_id": person}})
    }
}

#[tokio::test]
async fn the_round_page_follows_registrations_without_a_reload() {
    let started = Instant::now();
    let server = TestServer::start(Engine::Sqlite).await;
    let f = &server.fixture;
    let commander = server.login("commander").await;
    let (status, round) = commander
        .post("/api/v1/rounds", json!({"name": "第一轮全员核酸", "areas": [f.code("village1")], "pool_size": 10}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{round}");
    let (status, site) = commander
        .post(
            "/api/v1/sites",
            json!({"name": "湴朗村委会采样点", "area": f.code("village1"), "hours": "07:00-22:00",
                   "lanes": [{"name": "1号", "kind": "normal"}, {"name": "绿色通道", "kind": "green_channel"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    let world = World {
        origin: server.url.clone(),
        round: round["id"].as_i64().unwrap(),
        site: site["id"].as_i64().unwrap(),
        sampler: server.login("sampler").await,
        lab: server.login("lab").await,
        grid_a: f.code("A"),
        a: f.people["A"].clone(),
        b: f.people["B"].clone(),
    };
    // The morning so far: 07:00 four swabs in one tube, 08:00 three, 09:00 one.
    let (a, b) = (&world.a, &world.b);
    for (i, p) in [a[0], a[1], b[0], b[1]].into_iter().enumerate() {
        register(&world.sampler, i as u32, world.swab("EP0000001", p)).await;
    }
    server.clock.advance(HOUR);
    for (i, p) in [a[2], b[2], b[3]].into_iter().enumerate() {
        register(&world.sampler, 10 + i as u32, world.swab("EP0000002", p)).await;
    }
    server.clock.advance(HOUR + 20 * 60_000);
    register(&world.sampler, 20, world.swab("EP0000002", b[4])).await;
    let browser = Browser::start().await;
    eprintln!("server, round and browser up in {:?}", started.elapsed());
    browser.run("progress", move |c| async move { scenario(c, world).await }).await;
    eprintln!("whole test: {:?}", started.elapsed());
}

async fn log_in(c: &Driver, origin: &str, username: &str) {
    c.goto(&format!("{origin}/login")).await.expect("open /login");
    wait_for_path(c, "/login").await;
    type_into(c, "#username", username).await;
    type_into(c, "#password", PASSWORD).await;
    click(c, "#login-submit").await;
    wait_for_path(c, "/areas").await;
}

async fn log_out(c: &Driver) {
    click(c, "#logout").await;
    wait_for_path(c, "/login").await;
}

async fn open(c: &Driver, origin: &str, path: &str) {
    c.goto(&format!("{origin}{path}")).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
    wait_for_path(c, path).await;
}

/// On a phone: the page does not scroll sideways (wide tables scroll inside their own box).
async fn assert_fits_the_width(c: &Driver, page: &str) {
    let widths = js(c, "[document.documentElement.scrollWidth, window.innerWidth]").await;
    let (scroll, inner) = (widths[0].as_i64().unwrap_or_default(), widths[1].as_i64().unwrap_or_default());
    assert!(scroll <= inner, "{page} is {scroll} px wide in a {inner} px viewport");
}

/// Screenshots at both sizes (desktop first, the window is left at desktop size), checking the
/// phone layout's width.
async fn both_sizes(c: &Driver, name: &str) {
    resize(c, DESKTOP).await;
    screenshot(c, &format!("testing-{name}-desktop")).await;
    resize(c, PHONE).await;
    assert_fits_the_width(c, name).await;
    screenshot(c, &format!("testing-{name}-phone")).await;
    resize(c, DESKTOP).await;
}

/// Prints the page to an A4 PDF (8 mm margins, as the sheets' `@page` asks), saves it as
/// `name.pdf` and returns its number of pages.
async fn print_a4(c: &Driver, name: &str) -> usize {
    let margins = PrintMargins { top: 0.8, bottom: 0.8, left: 0.8, right: 0.8 };
    let config = PrintConfiguration::builder()
        .size(PrintSize::A4)
        .margins(margins)
        .shrink_to_fit(false)
        .background(true)
        .build()
        .expect("a print configuration");
    let pdf = c.print(config).await.expect("print to PDF");
    assert!(pdf.starts_with(b"%PDF"), "{name}: not a PDF");
    let path = save(&format!("testing-{name}.pdf"), &pdf);
    eprintln!("printed: {}", path.display());
    // Page objects: `/Type /Page` not followed by `s` (that is the page tree).
    let text = String::from_utf8_lossy(&pdf);
    text.match_indices("/Type /Page").filter(|(i, m)| !text[i + m.len()..].starts_with('s')).count()
}

async fn sampled(c: &Driver) -> i64 {
    js(c, "Number(document.getElementById('sampled').dataset.n)").await.as_i64().expect("a number")
}

async fn scenario(c: Driver, w: World) {
    let origin = w.origin.as_str();
    let round = w.round;
    resize(&c, DESKTOP).await;
    log_in(&c, origin, "commander").await;

    // The menu leads to the rounds, the round to its live page.
    click(&c, "#nav-rounds").await;
    wait_for_path(&c, "/rounds").await;
    click(&c, "#new-round summary").await;
    both_sizes(&c, "rounds").await;
    click(&c, &format!("#rounds a[data-round='{round}']")).await;
    wait_for_path(&c, &format!("/rounds/{round}")).await;
    wait_until(&c, "document.getElementById('round-live').dataset.listening === '1'", "the event stream open").await;
    wait_until(&c, "document.querySelector('#hour-chart .uplot canvas')", "the hour chart drawn").await;
    assert_eq!(sampled(&c).await, 8);
    assert_eq!(text(&c, "#headline").await, "截至 09:20 已采样 8 人");
    let bars = js(&c, "JSON.parse(document.getElementById('hour-chart').dataset.hours)[1]").await;
    assert_eq!(bars, json!([4, 3, 1]), "samples per hour");

    // Two swabs at the lane: the figure moves, the page stays.
    js(&c, "(window.__bulwarkNoReload = 'still here', true)").await;
    let t = Instant::now();
    register(&w.sampler, 30, w.swab("EP0000003", w.b[5])).await;
    let visitor = json!({"round": round, "site": w.site, "tube": "EP0000003",
        "person": {"document_type": "passport", "document_number": "E12345678", "name": "李司机", "phone": "13800138000"}});
    register(&w.sampler, 31, visitor).await;
    wait_until(&c, "document.getElementById('sampled').dataset.n === '10'", "10 sampled, without a reload").await;
    eprintln!("the figure changed {:?} after the first registration", t.elapsed());
    assert_eq!(text(&c, "#headline").await, "截至 09:20 已采样 10 人");
    assert_eq!(js(&c, "window.__bulwarkNoReload").await, "still here", "the page was reloaded");
    wait_until(
        &c,
        "JSON.stringify(JSON.parse(document.getElementById('hour-chart').dataset.hours)[1]) === '[4,3,3]'",
        "the chart's last bar grown",
    )
    .await;
    assert_eq!(text(&c, "#tubes-open").await, "3");
    let fetched = assert_local_only(&c, origin).await;
    assert!(fetched.iter().any(|u| u.ends_with("/static/vendor/uPlot.iife.min.js")), "uPlot from our server");
    assert!(fetched.iter().any(|u| u.contains(&format!("/rounds/{round}/live"))), "the fragment: {fetched:?}");
    both_sizes(&c, "round").await;

    // An abnormal pool: the red banner appears, still without a reload.
    let (status, report) = w.lab.post("/api/v1/lab-results", json!([{"tube": "EP0000001", "result": "阳性"}])).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    // (Lab results announce abnormal pools to the pages of their round.)
    wait_until(&c, "document.getElementById('abnormal-banner')", "the abnormal-pool banner").await;
    assert_eq!(js(&c, "window.__bulwarkNoReload").await, "still here");
    both_sizes(&c, "round-abnormal").await;
    click(&c, "#abnormal-link").await;
    wait_for_path(&c, &format!("/rounds/{round}/abnormal-pools")).await;
    assert_eq!(js(&c, "document.querySelectorAll('.pool tbody tr').length").await, 4);
    assert!(text(&c, ".pool h2").await.contains("管控中"));
    both_sizes(&c, "abnormal-pools").await;
    open(&c, origin, &format!("/rounds/{round}/home-visits")).await;
    both_sizes(&c, "home-visits").await;
    open(&c, origin, "/sites").await;
    // The queue marshal's count: 12 waiting, 3 sampled in the last 15 minutes.
    type_into(&c, ".queue-form input[name='queue_length']", "12").await;
    click(&c, ".queue-form button").await;
    wait_until(
        &c,
        "document.querySelector('.site .wait') && document.querySelector('.site .wait').textContent.includes('60')",
        "the wait estimated",
    )
    .await;
    both_sizes(&c, "sites").await;
    open(&c, origin, "/print/tubes?prefix=EP&start=1&count=60").await;
    both_sizes(&c, "print-tubes").await;
    assert_eq!(print_a4(&c, "print-tubes").await, 2, "60 labels, 40 a page");
    log_out(&c).await;

    // The grid worker on her phone: three residents to knock on; "外出" recorded in place.
    resize(&c, PHONE).await;
    log_in(&c, origin, "gridworker_a").await;
    open(&c, origin, &format!("/rounds/{round}/doorknock?area={}", w.grid_a)).await;
    assert_eq!(js(&c, "document.querySelectorAll('#untested .resident').length").await, 3);
    assert_eq!(text(&c, "#cov-target").await, "6");
    assert_fits_the_width(&c, "the door-knock list").await;
    screenshot(&c, "testing-doorknock-phone").await;
    js(&c, "(window.__bulwarkNoReload = 'still here', true)").await;
    let first = js(&c, "document.querySelector('#untested .resident').dataset.person").await;
    let first = first.as_str().expect("a person id").to_string();
    click(&c, &format!("#untested [data-person='{first}'] button[data-outcome='away_from_town']")).await;
    let shown =
        format!("document.querySelector(\"#untested [data-person='{first}'] .knock-outcome\").textContent === '外出'");
    wait_until(&c, &shown, "the outcome shown").await;
    wait_until(&c, "document.getElementById('cov-target').textContent === '5'", "the target without the person away")
        .await;
    let pressed = format!(
        "document.querySelector(\"#untested [data-person='{first}'] button[data-outcome='away_from_town']\").getAttribute('aria-pressed')"
    );
    assert_eq!(js(&c, &pressed).await, "true");
    assert_eq!(js(&c, "window.__bulwarkNoReload").await, "still here");
    let height = js(&c, "document.querySelector('#untested button.knock').getBoundingClientRect().height").await;
    assert!(height.as_f64().unwrap_or_default() >= 44.0, "buttons big enough for a finger: {height}");
    assert_local_only(&c, origin).await;
    screenshot(&c, "testing-doorknock-recorded-phone").await;
    // Reloaded, the outcome is still there: nobody leaves the list without a reason.
    open(&c, origin, &format!("/rounds/{round}/doorknock?area={}", w.grid_a)).await;
    assert_eq!(js(&c, "document.querySelectorAll('#untested .resident').length").await, 3);
    assert_eq!(text(&c, &format!("#untested [data-person='{first}'] .knock-outcome")).await, "外出");
    resize(&c, DESKTOP).await;
    screenshot(&c, "testing-doorknock-desktop").await;
    open(&c, origin, &format!("/print/qr?area={}", w.grid_a)).await;
    both_sizes(&c, "print-qr").await;
    assert_eq!(print_a4(&c, "print-qr").await, 1, "6 codes, 24 a page");
    open(&c, origin, &format!("/rounds/{round}")).await;
    both_sizes(&c, "round-grid-worker").await;
    log_out(&c).await;

    // The public board, without a session, in English too.
    open(&c, origin, "/sites/waits").await;
    let board = text(&c, "#waits").await;
    assert!(board.contains("湴朗村委会采样点") && board.contains("预计等候约 60 分钟"), "{board}");
    both_sizes(&c, "waits").await;
    click(&c, "#lang-switch").await;
    wait_until(&c, "document.documentElement.lang === 'en'", "the board in English").await;
    assert_eq!(text(&c, "h1").await, "Waiting times at sampling sites");
    resize(&c, PHONE).await;
    screenshot(&c, "testing-waits-en-phone").await;
    assert_local_only(&c, origin).await;
}
