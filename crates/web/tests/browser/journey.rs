//! A grid worker's day in the browser, then the auditor who checks it: login in Chinese, the
//! language switch, the grid's residents masked, a person's page with the audited reveal (htmx,
//! no reload), logout, and the audit log showing the list, the read and the reveal.
//! Screenshots at desktop and phone size; nothing fetched from outside the machine.

use crate::harness::{
    Browser, DESKTOP, PHONE, assert_local_only, click, has_han, js, message, resize, screenshot, text, type_into,
    wait_for_path, wait_until,
};
use bulwark_testkit::{Engine, PASSWORD, TestServer};
use fantoccini::{Client, Locator};
use std::{collections::BTreeMap, time::Instant};

const ZH: &str = include_str!("../../locales/zh-CN/main.ftl");
const EN: &str = include_str!("../../locales/en/main.ftl");

/// `900000********0105`: the address code and the last four stay.
fn is_masked_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 18
        && b[..6].iter().all(u8::is_ascii_digit)
        && b[6..14].iter().all(|&c| c == b'*')
        && b[14..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X')
}

/// `139****0110`: a mobile's first three and last four.
fn is_masked_mobile(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 11
        && b[0] == b'1'
        && b[1..3].iter().all(u8::is_ascii_digit)
        && b[3..7].iter().all(|&c| c == b'*')
        && b[7..].iter().all(u8::is_ascii_digit)
}

#[test]
fn masks_match_the_expected_shapes() {
    assert!(is_masked_id("900000********010X"));
    assert!(is_masked_id("440785********1234"));
    assert!(!is_masked_id("900000198501010105"));
    assert!(!is_masked_id("900000*******01234"));
    assert!(is_masked_mobile("139****0110"));
    assert!(!is_masked_mobile("13900000110"));
}

/// Chinese by default, both languages, the masked grid, the reveal, and the audit trail.
#[tokio::test]
async fn grid_worker_reveals_a_number_and_the_auditor_sees_it() {
    let started = Instant::now();
    let server = TestServer::start(Engine::Sqlite).await;
    let browser = Browser::start().await;
    eprintln!("server and browser up in {:?}", started.elapsed());
    let origin = server.url.clone();
    let grid = server.fixture.code("A");
    let canaries = server.fixture.canaries.clone();
    browser.run("journey", move |c| async move { journey(c, origin, grid, canaries).await }).await;
    eprintln!("whole test: {:?}", started.elapsed());
}

async fn journey(c: Client, origin: String, grid: String, canaries: BTreeMap<i64, (String, String)>) {
    // 1. The login page, in Chinese without any choice made.
    resize(&c, DESKTOP).await;
    c.goto(&format!("{origin}/login")).await.expect("open /login");
    wait_for_path(&c, "/login").await;
    assert_eq!(js(&c, "document.documentElement.lang").await, "zh-CN");
    let title = c.title().await.expect("title");
    assert_eq!(title, format!("{} · {}", message(ZH, "login-title"), message(ZH, "app-name")));
    assert!(has_han(&title), "a Chinese title: {title}");
    assert_eq!(text(&c, "h1").await, message(ZH, "login-title"));
    assert_eq!(text(&c, "#lang-switch").await, "English");
    assert_local_only(&c, &origin).await;
    log_in(&c, "gridworker_a").await;
    assert_eq!(text(&c, "#nav-areas").await, message(ZH, "nav-areas"));

    // 2. To English and back; the switch returns to the page it was clicked on.
    click(&c, "#lang-switch").await;
    wait_until(&c, "document.documentElement.lang === 'en'", "the page in English").await;
    wait_for_path(&c, "/areas").await;
    assert_eq!(text(&c, "h1").await, message(EN, "nav-areas"));
    assert_eq!(text(&c, "#nav-areas").await, message(EN, "nav-areas"));
    assert_eq!(text(&c, "#logout").await, message(EN, "logout"));
    assert_eq!(text(&c, "#lang-switch").await, "中文");
    // The menu, the brand, the heading (names of people and areas are data, in Chinese).
    let english = [text(&c, "header.top nav").await, text(&c, ".brand").await, text(&c, "h1").await].join(" ");
    assert!(!has_han(&english), "English texts without Chinese: {english}");
    click(&c, "#lang-switch").await;
    wait_until(&c, "document.documentElement.lang === 'zh-CN'", "the page in Chinese again").await;
    wait_for_path(&c, "/areas").await;
    assert_eq!(text(&c, "h1").await, message(ZH, "nav-areas"));
    assert_eq!(text(&c, "#logout").await, message(ZH, "logout"));

    // 3. The grid, from the area tree: residents with masked ID numbers and phones.
    click(&c, &format!("#area-tree a[data-code='{grid}']")).await;
    wait_for_path(&c, &format!("/areas/{grid}")).await;
    text(&c, "#residents").await;
    assert!(text(&c, "#residents thead").await.contains(&message(ZH, "id-number")), "Chinese column headings");
    let masked_ids = texts(&c, "#residents .masked-id").await;
    assert_eq!(masked_ids.len(), 6, "grid A has six residents: {masked_ids:?}");
    for id in &masked_ids {
        assert!(is_masked_id(id), "a masked ID number, not {id:?}");
    }
    let phones = texts(&c, "#residents tbody td:nth-child(4)").await;
    assert_eq!(phones.len(), 6);
    for phone in &phones {
        assert!(is_masked_mobile(phone), "a masked phone, not {phone:?}");
    }
    let source = c.source().await.expect("page source");
    assert_no_canary(&source, &canaries, None, "the grid page");
    assert_local_only(&c, &origin).await;
    screenshot(&c, "grid-desktop").await;
    resize(&c, PHONE).await;
    assert_fits_the_width(&c, "the grid page").await;
    screenshot(&c, "grid-phone").await;

    let mut residents: Vec<String> = js(
        &c,
        "Array.from(document.querySelectorAll('#residents .person-link')).map(a => a.pathname.split('/').pop())",
    )
    .await
    .as_array()
    .expect("person links")
    .iter()
    .map(|id| id.as_str().unwrap_or_default().to_string())
    .collect();
    residents.sort();
    assert_eq!(residents.len(), 6);

    // 4. A person (on the phone): masked values, then the reveal without a page reload.
    let link = c.find(Locator::Css("#residents .person-link")).await.expect("a person link");
    let href = link.attr("href").await.expect("href").expect("a link target");
    let person: i64 = href.strip_prefix("/persons/").and_then(|id| id.parse().ok()).expect("/persons/{id}");
    let (full_id, full_phone) = canaries[&person].clone();
    link.click().await.expect("open the person");
    wait_for_path(&c, &href).await;
    assert!(has_han(&text(&c, "#person-name").await));
    let masked = text(&c, "#document-masked").await;
    let masked = masked.split_whitespace().last().unwrap_or_default();
    assert!(is_masked_id(masked), "a masked ID number on the person page: {masked:?}");
    assert_eq!(&masked[..6], &full_id[..6]);
    assert_eq!(&masked[14..], &full_id[14..]);
    let phone = text(&c, "#phone-masked").await;
    assert!(is_masked_mobile(&phone), "a masked phone on the person page: {phone:?}");
    assert_eq!(&phone[7..], &full_phone[7..]);
    assert_no_canary(&c.source().await.expect("page source"), &canaries, None, "the person page");
    assert_eq!(text(&c, "#revealed").await, "");

    js(&c, "(window.__bulwarkNoReload = 'still here', true)").await;
    type_into(&c, "#reveal-reason", "入户核查").await;
    click(&c, "#reveal").await;
    assert_eq!(text(&c, "#document-full").await, full_id, "the full number appears");
    assert_eq!(text(&c, "#phone-full").await, full_phone);
    assert_eq!(js(&c, "window.__bulwarkNoReload").await, "still here", "the reveal reloaded the page");
    assert_eq!(js(&c, "location.pathname").await, href);
    let fetched = assert_local_only(&c, &origin).await;
    assert!(
        fetched.iter().any(|u| u.ends_with(&format!("/persons/{person}/reveal"))),
        "the reveal went through htmx: {fetched:?}"
    );
    assert!(fetched.iter().any(|u| u.ends_with("/static/htmx.min.js")), "htmx from our server: {fetched:?}");
    assert_no_canary(&c.source().await.expect("page source"), &canaries, Some(person), "the person page");
    assert_fits_the_width(&c, "the person page").await;
    let button = js(&c, "document.getElementById('reveal').getBoundingClientRect().height").await;
    assert!(button.as_f64().unwrap_or_default() >= 44.0, "a reveal button big enough for a finger: {button}");
    screenshot(&c, "person-phone").await;
    resize(&c, DESKTOP).await;
    screenshot(&c, "person-desktop").await;

    // 5. The auditor, in the same browser, sees the list, the read and the reveal.
    click(&c, "#logout").await;
    wait_for_path(&c, "/login").await;
    log_in(&c, "auditor").await;
    click(&c, "#nav-audit").await;
    wait_for_path(&c, "/audit").await;
    let rows = js(
        &c,
        "Array.from(document.querySelectorAll('#audit .audit-row')).map(r => [
            r.dataset.operation, r.dataset.person, r.cells[2].textContent.trim(), r.cells[7].textContent.trim()])",
    )
    .await;
    let rows: Vec<[String; 4]> = serde_json::from_value(rows).expect("audit rows");
    let of = |operation: &str, person: &str| {
        rows.iter().filter(|r| r[0] == operation && r[1] == person && r[2] == "gridworker_a").count()
    };
    let person_id = person.to_string();
    // A list is audited once per person shown.
    let mut listed: Vec<String> =
        rows.iter().filter(|r| r[0] == "persons_list" && r[2] == "gridworker_a").map(|r| r[1].clone()).collect();
    listed.sort();
    listed.dedup();
    assert_eq!(listed, residents, "the grid's list is audited for each resident shown: {rows:?}");
    assert!(of("persons_read", &person_id) >= 1, "the person's page is audited: {rows:?}");
    assert_eq!(of("persons_reveal", &person_id), 1, "the reveal is audited once: {rows:?}");
    let reveal = rows.iter().find(|r| r[0] == "persons_reveal").expect("the reveal");
    assert_eq!(reveal[3], "入户核查", "the reason is kept with the reveal");
    assert_no_canary(&c.source().await.expect("page source"), &canaries, None, "the audit page");
    assert_local_only(&c, &origin).await;
}

async fn log_in(c: &Client, username: &str) {
    type_into(c, "#username", username).await;
    type_into(c, "#password", PASSWORD).await;
    click(c, "#login-submit").await;
    wait_for_path(c, "/areas").await;
}

/// The texts of every element matching `css`.
async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.expect("find elements") {
        out.push(e.text().await.expect("text").trim().to_string());
    }
    out
}

/// No full ID number or phone of any fixture person is in `source`, except those of `revealed`.
fn assert_no_canary(source: &str, canaries: &BTreeMap<i64, (String, String)>, revealed: Option<i64>, page: &str) {
    for (id, (number, phone)) in canaries {
        if Some(*id) == revealed {
            continue;
        }
        assert!(!source.contains(number.as_str()), "{page} shows the full ID number of person {id}");
        assert!(!source.contains(phone.as_str()), "{page} shows the full phone of person {id}");
    }
}

/// On a phone: the page does not scroll sideways (wide tables scroll inside their own box).
async fn assert_fits_the_width(c: &Client, page: &str) {
    let widths = js(c, "[document.documentElement.scrollWidth, window.innerWidth]").await;
    let (scroll, inner) = (widths[0].as_i64().unwrap_or_default(), widths[1].as_i64().unwrap_or_default());
    assert!(scroll <= inner, "{page} is {scroll} px wide in a {inner} px viewport");
}
