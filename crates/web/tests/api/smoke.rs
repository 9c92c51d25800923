//! The basic path on both engines: health, login, a masked list, a person, the audit of that read.

use bulwark_testkit::{Engine, TestServer};
use reqwest::StatusCode;

async fn smoke(engine: Engine) {
    let server = TestServer::start(engine).await;
    let (status, _) = server.anonymous().get("/healthz").await;
    assert_eq!(status, StatusCode::OK);

    let grid_worker = server.login("gridworker_a").await;
    let (status, page) = grid_worker.get("/api/v1/persons").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["total"], 6);
    let first = &page["people"][0];
    assert!(first["document_number_masked"].as_str().unwrap().contains("********"));
    assert!(first["phone_masked"].as_str().unwrap().contains("****"));

    let id = first["id"].as_i64().unwrap();
    let (status, _) = grid_worker.get(&format!("/api/v1/persons/{id}")).await;
    assert_eq!(status, StatusCode::OK);

    let auditor = server.login("auditor").await;
    let (status, entries) = auditor.get(&format!("/api/v1/audit?person={id}")).await;
    assert_eq!(status, StatusCode::OK);
    let ops: Vec<&str> = entries.as_array().unwrap().iter().map(|e| e["operation"].as_str().unwrap()).collect();
    assert!(ops.contains(&"persons_read"), "{ops:?}");
    assert!(ops.contains(&"persons_list"), "{ops:?}");
}

#[tokio::test]
async fn smoke_sqlite() {
    smoke(Engine::Sqlite).await;
}

#[tokio::test]
async fn smoke_postgres() {
    smoke(Engine::Postgres).await;
}
