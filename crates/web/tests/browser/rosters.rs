//! The roster pages in the browser: the commander's day roster (unfilled shifts marked) at desktop
//! and phone size and printed to A4; the grid worker checks in with the big button on her phone.
//! No page scrolls sideways on the phone or fetches anything from outside the machine.

use crate::harness::{
    Browser, DESKTOP, PHONE, assert_local_only, click, js, resize, save, screenshot, type_into, wait_for_path,
    wait_until,
};
use bulwark_testkit::{Engine, PASSWORD, TestServer};
use fantoccini::{
    Client as Driver,
    wd::{PrintConfiguration, PrintMargins, PrintSize},
};
use reqwest::StatusCode;
use serde_json::json;

async fn log_in(c: &Driver, origin: &str, username: &str) {
    c.goto(&format!("{origin}/login")).await.expect("open /login");
    wait_for_path(c, "/login").await;
    type_into(c, "#username", username).await;
    type_into(c, "#password", PASSWORD).await;
    click(c, "#login-submit").await;
    wait_for_path(c, "/areas").await;
}

async fn open(c: &Driver, origin: &str, path: &str) {
    c.goto(&format!("{origin}{path}")).await.unwrap_or_else(|e| panic!("open {path}: {e}"));
    wait_for_path(c, path).await;
}

async fn assert_fits_the_width(c: &Driver, page: &str) {
    let widths = js(c, "[document.documentElement.scrollWidth, window.innerWidth]").await;
    let (scroll, inner) = (widths[0].as_i64().unwrap_or_default(), widths[1].as_i64().unwrap_or_default());
    assert!(scroll <= inner, "{page} is {scroll} px wide in a {inner} px viewport");
}

#[tokio::test]
async fn the_roster_prints_and_the_phone_checks_in() {
    let server = TestServer::start(Engine::Sqlite).await;
    let f = &server.fixture;
    let commander = server.login("commander").await;
    let (status, post) = commander
        .post(
            "/api/v1/posts",
            json!({"name": "开阳高速圣堂出口卡口", "kind": "checkpoint", "duties": ["guard", "temperature"],
                "area": f.code("A"), "needed": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{post}");
    let post = post["id"].as_i64().unwrap();
    let (status, shifts) =
        commander.post(&format!("/api/v1/posts/{post}/shifts"), json!({"date": "2022-10-06", "pattern": "3x8"})).await;
    assert_eq!(status, StatusCode::CREATED, "{shifts}");
    for (shift, person, what) in [(0, 0, "查验健康码和行程卡"), (1, 1, "测温"), (1, 2, "查验健康码和行程卡")]
    {
        let body = json!({"shift": shifts[shift]["id"], "person": f.people["A"][person], "responsibility": what});
        let (status, a) = commander.post("/api/v1/assignments", body).await;
        assert_eq!(status, StatusCode::CREATED, "{a}");
    }
    let origin = server.url.clone();
    let browser = Browser::start().await;
    browser
        .run("rosters", move |c| async move {
            let origin = origin.as_str();
            resize(&c, DESKTOP).await;
            log_in(&c, origin, "commander").await;
            open(&c, origin, "/rosters?date=2022-10-06").await;
            // 07:00: the night shift has one of two, the 16:00 shift is far; the 08:00 shift is full.
            assert_eq!(js(&c, "document.querySelectorAll('.unfilled-tag').length").await, 1);
            assert_eq!(js(&c, "document.querySelectorAll('[data-assignment]').length").await, 3);
            screenshot(&c, "rosters-day-desktop").await;
            resize(&c, PHONE).await;
            assert_fits_the_width(&c, "/rosters").await;
            screenshot(&c, "rosters-day-phone").await;
            resize(&c, DESKTOP).await;
            let config = PrintConfiguration::builder()
                .size(PrintSize::A4)
                .margins(PrintMargins { top: 0.8, bottom: 0.8, left: 0.8, right: 0.8 })
                .shrink_to_fit(true)
                .background(true)
                .build()
                .expect("a print configuration");
            let pdf = c.print(config).await.expect("print to PDF");
            assert!(pdf.starts_with(b"%PDF"), "the roster prints");
            eprintln!("printed: {}", save("rosters-day.pdf", &pdf).display());
            click(&c, "#logout").await;
            wait_for_path(&c, "/login").await;

            // The grid worker on her phone: the night shift is running; she checks in.
            resize(&c, PHONE).await;
            log_in(&c, origin, "gridworker_a").await;
            open(&c, origin, "/checkin").await;
            assert_fits_the_width(&c, "/checkin").await;
            let height = js(&c, "document.querySelector('button.big.in').getBoundingClientRect().height").await;
            assert!(height.as_f64().unwrap_or_default() >= 60.0, "a big button: {height}");
            screenshot(&c, "rosters-checkin-phone").await;
            click(&c, "button.big.in").await;
            wait_until(&c, "document.getElementById('notice') !== null", "the check-in notice").await;
            assert_eq!(js(&c, "document.querySelectorAll('button.big.out').length").await, 1);
            screenshot(&c, "rosters-checked-in-phone").await;
            let fetched = assert_local_only(&c, origin).await;
            assert!(fetched.iter().any(|u| u.ends_with("/static/app.css")), "the style from our server: {fetched:?}");
        })
        .await;
}
