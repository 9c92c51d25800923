//! The pages through a cookie session: registering a resident from a grid page, editing the needs
//! set by hand, and the scope of both.

use crate::support::browser;
use bulwark_testkit::{Engine, TestServer};
use reqwest::{StatusCode, header};

async fn register_and_edit(engine: Engine) {
    let server = TestServer::start(engine).await;
    let grid_a = server.fixture.code("A");
    let household = format!("{grid_a}-H002");
    let worker = browser(&server, "gridworker_a").await;

    let page = worker.get(format!("{}/areas/{grid_a}", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"new-person\""), "the grid page offers the registration form");

    let form = [
        ("name", "访客王某"),
        ("document_type", "passport"),
        ("document_number", "e1234567"),
        ("phone", "13900009999"),
        ("address", "湴朗村2号"),
        ("household", household.as_str()),
        ("cannot_walk", "1"),
        ("other_needs", "孕妇"),
    ];
    let r = worker.post(format!("{}/areas/{grid_a}/persons", server.url)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let location = r.headers()[header::LOCATION].to_str().unwrap().to_string();
    assert!(location.starts_with("/persons/"), "{location}");

    let page = worker.get(format!("{}{location}", server.url)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("访客王某") && page.contains("E1****67") && page.contains("139****9999"), "masked values");
    assert!(!page.contains("13900009999") && !page.contains("E1234567"), "no full values on the page");
    assert!(page.contains("孕妇"));
    assert!(page.contains("<title>访客王某 · "), "the title holds the name and nothing else");
    assert_eq!(page.matches("id=\"save-person\"").count(), 1, "one edit form");

    let r = worker
        .post(format!("{}{location}", server.url))
        .form(&[("phone", ""), ("address", "湴朗村3号"), ("bedridden", "1"), ("other_needs", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let id: i64 = location.trim_start_matches("/persons/").parse().unwrap();
    let api = server.login("commander").await;
    let (_, person) = api.get(&format!("/api/v1/persons/{id}")).await;
    assert_eq!(person["address"], "湴朗村3号");
    assert_eq!(person["needs"]["bedridden"], true);
    assert_eq!(person["needs"]["cannot_walk"], false, "unticked box clears the flag");
    assert_eq!(person["phone_masked"], "139****9999", "an empty phone field keeps the number");

    // Another grid's worker can neither register into grid A nor open the new person.
    let other = browser(&server, "gridworker_b").await;
    let r = other.post(format!("{}/areas/{grid_a}/persons", server.url)).form(&form).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = other.get(format!("{}{location}", server.url)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);

    // A bad ID number is refused with the field named, and nothing is stored.
    let bad = [
        ("name", "某"),
        ("document_type", "resident_id"),
        ("document_number", "110105194912310021"),
        ("phone", ""),
        ("address", ""),
        ("other_needs", ""),
    ];
    let r = worker.post(format!("{}/areas/{grid_a}/persons", server.url)).form(&bad).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.unwrap().contains("document_number"));
}

#[tokio::test]
async fn pages_sqlite() {
    register_and_edit(Engine::Sqlite).await;
}

#[tokio::test]
async fn pages_postgres() {
    register_and_edit(Engine::Postgres).await;
}
