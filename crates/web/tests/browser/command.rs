//! Command in the browser (issue 4): the commander activates the golden-24-hours plan from the
//! incidents page at desktop size; each member gets an SMS with a one-tap link (through a
//! recording SMS gateway on a loopback port); a member with no account opens her link in a second
//! browser at phone size and taps "我已到达"; the commander's dashboard shows the arrival without
//! a reload, and a task marked done moves down the list without one either. Screenshots of the
//! dashboard in Chinese at both sizes (none of which scrolls sideways on the phone; the English
//! one neither) and of the member's page are kept in the artifacts; no page fetches anything from
//! outside the machine.

use crate::harness::{
    Browser, DESKTOP, PHONE, assert_local_only, click, has_han, js, resize, screenshot, text, type_into, wait_for_path,
    wait_until,
};
use bulwark_app::notify::{NotifyConfig, SmsConfig};
use bulwark_domain::workforce::{StaffMember, Team};
use bulwark_testkit::{Engine, PASSWORD, TestServer};
use fantoccini::Client as Driver;
use serde_json::{Value, json};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// The trigger of the source story, typed into the activation form.
const TRIGGER: &str = "有两名核酸检测异常人员到过太子农庄吃饭";

/// What an SMS gateway was asked to send: (to, text).
type Outbox = Arc<Mutex<Vec<(String, String)>>>;

/// An SMS gateway on a loopback port that records every message it is given.
async fn recording_gateway() -> (String, Outbox) {
    let got: Outbox = Arc::default();
    let store = got.clone();
    let app = axum::Router::new().route(
        "/sms",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let store = store.clone();
            async move {
                let to = body["to"].as_str().unwrap_or_default().to_string();
                let text = body["text"].as_str().unwrap_or_default().to_string();
                store.lock().unwrap().push((to, text));
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let url = format!("http://{}/sms", listener.local_addr().expect("its address"));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the gateway serves") });
    (url, got)
}

/// Waits (bounded) until the gateway holds `n` roll-call links; the dispatcher sends in the
/// background.
async fn links_sent(got: &Outbox, n: usize) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let sent: Vec<_> = got.lock().unwrap().iter().filter(|(_, t)| t.contains("/r/")).cloned().collect();
        if sent.len() >= n {
            return sent;
        }
        assert!(Instant::now() < deadline, "{} of {n} SMS after 30 s", sent.len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the scenario needs from the server it cannot borrow.
struct World {
    origin: String,
    got: Outbox,
    /// The phone of the member whose link is opened (grid A's third resident, 测试A20, a grid
    /// worker, so staffing grid control).
    member_phone: String,
}

#[tokio::test]
async fn the_dashboard_follows_a_one_tap_answer_without_a_reload() {
    let (url, got) = recording_gateway().await;
    let config = NotifyConfig { sms: Some(SmsConfig { url, token: None }), ..Default::default() };
    let server = TestServer::start_with(Engine::Sqlite, config).await;
    let f = &server.fixture;
    // The fixture has people but no staff: grid A's six are grid workers, grid B's six cadres.
    let mut staff = Vec::new();
    for (grid, team, area) in [("A", Team::GridWorker, "A"), ("B", Team::Cadre, "village1")] {
        for p in &f.people[grid] {
            staff.push(StaffMember::new(*p, team, f.area(area).id));
        }
    }
    server.store.add_staff(staff).await.expect("add staff");
    let world = World { origin: server.url.clone(), got, member_phone: f.canaries[&f.people["A"][2]].1.clone() };
    let browser = Browser::start().await;
    browser.run("command", move |c| async move { scenario(c, world).await }).await;
}

async fn log_in(c: &Driver, origin: &str, username: &str) {
    c.goto(&format!("{origin}/login")).await.expect("open /login");
    wait_for_path(c, "/login").await;
    type_into(c, "#username", username).await;
    type_into(c, "#password", PASSWORD).await;
    click(c, "#login-submit").await;
    wait_for_path(c, "/areas").await;
}

/// On a phone: the page does not scroll sideways (wide tables scroll inside their own box).
async fn assert_fits_the_width(c: &Driver, page: &str) {
    let widths = js(c, "[document.documentElement.scrollWidth, window.innerWidth]").await;
    let (scroll, inner) = (widths[0].as_i64().unwrap_or_default(), widths[1].as_i64().unwrap_or_default());
    assert!(scroll <= inner, "{page} is {scroll} px wide in a {inner} px viewport");
}

/// A number shown on the dashboard (the text of the element with this CSS selector).
async fn figure(c: &Driver, css: &str) -> String {
    let expression = format!("(document.querySelector({}) || {{}}).textContent", json!(css));
    js(c, &expression).await.as_str().unwrap_or_default().trim().to_string()
}

async fn scenario(c: Driver, w: World) {
    let origin = w.origin.as_str();
    resize(&c, DESKTOP).await;
    log_in(&c, origin, "commander").await;

    // The activation form: no incident yet, so it is open.
    click(&c, "#nav-incidents").await;
    wait_for_path(&c, "/incidents").await;
    wait_until(&c, "document.getElementById('activate').open", "the activation form open").await;
    js(
        &c,
        "(document.getElementById('plan').value = 'golden-24h', document.getElementById('level').value = '2', true)",
    )
    .await;
    type_into(&c, "#trigger", TRIGGER).await;
    type_into(&c, "#forward-post", "太子农庄").await;
    screenshot(&c, "command-activate-desktop").await;
    click(&c, "#activate-button").await;
    wait_until(
        &c,
        "/^\\/incidents\\/\\d+$/.test(location.pathname) && document.readyState === 'complete'",
        "the dashboard after activation",
    )
    .await;
    wait_until(&c, "document.getElementById('incident-live').dataset.listening === '1'", "the event stream open").await;
    assert_eq!(text(&c, "#incident-trigger").await, TRIGGER);
    assert!(text(&c, "#incident-title").await.contains("II级响应"), "the level chosen");
    assert_eq!(figure(&c, "#assembly").await, "0 / 12", "twelve staff notified, none arrived");
    let grid = "#rollcall tr[data-group='grid-control']";
    assert_eq!(figure(&c, &format!("{grid} td.arrived")).await, "0");
    assert_eq!(figure(&c, &format!("{grid} td.answered")).await, "0");

    // Every member got an SMS with a link to this server; take the one to grid A's third resident.
    let sent = links_sent(&w.got, 12).await;
    assert_eq!(sent.len(), 12, "one SMS per member: {sent:?}");
    let (_, sms) = sent.iter().find(|(to, _)| *to == w.member_phone).expect("an SMS to the member");
    assert!(has_han(sms) && sms.contains("太子农庄"), "{sms}");
    let at = sms.find(&format!("{origin}/r/")).unwrap_or_else(|| panic!("a link to {origin} in the SMS: {sms}"));
    let link: String = sms[at..].chars().take_while(|ch| ch.is_ascii_graphic()).collect();

    // From here on the dashboard must not reload.
    js(&c, "(window.__marker = 1, true)").await;
    let refreshed_before = js(&c, "Number(document.getElementById('incident-live').dataset.refreshed || 0)").await;

    // The member, on her phone, with no account: a second browser.
    let member = Browser::start().await;
    let origin_owned = w.origin.clone();
    member
        .run("command-member", move |m| async move {
            resize(&m, PHONE).await;
            m.goto(&link).await.expect("open the link");
            wait_until(&m, "document.getElementById('answer-arrived') !== null", "the one-tap page").await;
            assert_eq!(text(&m, "#rollcall-name").await, "测试A20", "her own name");
            assert_fits_the_width(&m, "/r/{token}").await;
            let height = js(&m, "document.getElementById('answer-arrived').getBoundingClientRect().height").await;
            assert!(height.as_f64().unwrap_or_default() >= 44.0, "a button for a thumb: {height}");
            screenshot(&m, "command-rollcall-phone").await;
            js(&m, "(document.getElementById('answer-place').value = 'headquarters', true)").await;
            click(&m, "#answer-arrived").await;
            wait_until(
                &m,
                "(document.getElementById('rollcall-status') || {dataset: {}}).dataset.status === 'arrived'",
                "the page confirming the arrival",
            )
            .await;
            let banner = text(&m, "#rollcall-status").await;
            assert!(banner.contains("已到岗") && banner.contains("07:00"), "{banner}");
            assert_eq!(js(&m, "document.getElementById('answer-received')").await, Value::Null, "no going back");
            assert_fits_the_width(&m, "/r/{token} answered").await;
            screenshot(&m, "command-rollcall-arrived-phone").await;
            assert_local_only(&m, &origin_owned).await;
        })
        .await;

    // The commander's dashboard follows, without a reload.
    wait_until(
        &c,
        &format!("(document.querySelector(\"{grid} td.arrived\") || {{}}).textContent === '1'"),
        "grid control's arrived count at 1",
    )
    .await;
    assert_eq!(figure(&c, &format!("{grid} td.answered")).await, "1");
    assert_eq!(figure(&c, &format!("{grid} td.within")).await, "1", "arrived within the 30 minutes");
    assert_eq!(figure(&c, "#assembly").await, "1 / 12");
    assert_eq!(figure(&c, "#arrived").await, "1");
    wait_until(&c, "document.querySelector('#arrival-chart .uplot canvas')", "the arrivals chart drawn").await;
    assert_eq!(js(&c, "window.__marker").await, json!(1), "the dashboard was reloaded");
    let refreshed = js(&c, "Number(document.getElementById('incident-live').dataset.refreshed)").await;
    assert!(
        refreshed.as_i64() > refreshed_before.as_i64(),
        "swapped in by the script: {refreshed_before} → {refreshed}"
    );

    // A task marked done on the board moves below the open ones, still without a reload.
    let first = js(&c, "document.querySelector('#tasks li.task form.task-form').closest('li').dataset.task").await;
    let task = first.as_str().expect("an open task with a done button").to_string();
    let position =
        format!("[...document.querySelectorAll('#tasks li.task')].findIndex(li => li.dataset.task === '{task}')");
    assert_eq!(js(&c, &position).await, json!(0), "the first task");
    click(&c, &format!("#task-{task} button.done-button")).await;
    wait_until(
        &c,
        &format!("(document.getElementById('task-{task}') || {{classList: {{contains: () => false}}}}).classList.contains('done')"),
        "the task shown done",
    )
    .await;
    let open = js(&c, "document.querySelectorAll('#tasks li.task.open, #tasks li.task.in_progress').length").await;
    assert_eq!(js(&c, &position).await, open, "the done task follows the open ones");
    assert_eq!(js(&c, &format!("document.querySelectorAll('#task-{task} form').length")).await, json!(0));
    wait_until(&c, "document.querySelector('#timeline-list li.task_done')", "the timeline entry").await;
    assert_eq!(js(&c, "window.__marker").await, json!(1), "marking the task done reloaded the page");
    assert_eq!(js(&c, "document.documentElement.lang").await, json!("zh-CN"));

    // Screenshots in Chinese: desktop, then phone.
    screenshot(&c, "command-dashboard-desktop").await;
    resize(&c, PHONE).await;
    assert_fits_the_width(&c, "the dashboard").await;
    screenshot(&c, "command-dashboard-phone").await;
    let fetched = assert_local_only(&c, origin).await;
    assert!(fetched.iter().any(|u| u.ends_with("/static/command.js")), "the script from our server: {fetched:?}");
    assert!(fetched.iter().any(|u| u.contains("/live")), "the fragment fetched: {fetched:?}");

    // The English page on the phone fits too (its column heads are longer).
    click(&c, "#lang-switch").await;
    wait_until(&c, "document.documentElement.lang === 'en' && document.readyState === 'complete'", "English").await;
    wait_until(&c, "/^\\/incidents\\/\\d+$/.test(location.pathname)", "back on the dashboard").await;
    assert_fits_the_width(&c, "the English dashboard").await;
    screenshot(&c, "command-dashboard-en-phone").await;
    assert_local_only(&c, origin).await;

    // The daily report from the dashboard's link, in Chinese, on the phone and the desktop.
    click(&c, "#lang-switch").await;
    wait_until(&c, "document.documentElement.lang === 'zh-CN' && document.readyState === 'complete'", "Chinese").await;
    click(&c, "#report-link").await;
    wait_until(&c, "/^\\/incidents\\/\\d+\\/report$/.test(location.pathname)", "the report page").await;
    let lead = text(&c, "#report-lead").await;
    assert!(lead.starts_with("截至") && lead.contains("尚未开展全员核酸检测"), "the headline: {lead}");
    assert!(text(&c, "#report-title").await.ends_with("疫情防控工作日报"));
    assert_fits_the_width(&c, "the report").await;
    screenshot(&c, "command-report-phone").await;
    resize(&c, DESKTOP).await;
    screenshot(&c, "command-report-desktop").await;
    let pdf = js(&c, "document.getElementById('report-pdf').getAttribute('href')").await;
    assert!(pdf.as_str().is_some_and(|h| h.contains("format=pdf")), "{pdf}");
    assert_local_only(&c, origin).await;
}
