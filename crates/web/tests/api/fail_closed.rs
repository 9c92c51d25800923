//! Reads fail closed: when the audit log cannot be written, no person data leaves the server.

use bulwark_testkit::{Engine, TestServer};
use reqwest::StatusCode;

async fn reads_fail_when_the_audit_cannot_be_written(engine: Engine) {
    let server = TestServer::start(engine).await;
    let commander = server.login("commander").await;
    let person = server.fixture.people["A"][0];
    let (status, _) = commander.get(&format!("/api/v1/persons/{person}")).await;
    assert_eq!(status, StatusCode::OK, "reads work before the fault");

    server.raw.break_audit_log().await;
    let canaries: Vec<&(String, String)> = server.fixture.canaries.values().collect();
    for path in [
        format!("/api/v1/persons/{person}"),
        "/api/v1/persons".to_string(),
        format!("/api/v1/persons?area={}", server.fixture.code("A")),
    ] {
        let (status, body) = commander.get(&path).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{path}: {body}");
        assert_eq!(body["code"], "unavailable");
        let text = body.to_string();
        assert!(!text.contains("测试"), "{path} leaked a name: {text}");
        for (id, phone) in &canaries {
            assert!(!text.contains(&id[14..]) && !text.contains(&phone[7..]), "{path} leaked person data: {text}");
        }
    }
    let (status, body) =
        commander.post(&format!("/api/v1/persons/{person}/reveal"), serde_json::json!({"reason": "回访"})).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
}

#[tokio::test]
async fn fail_closed_sqlite() {
    reads_fail_when_the_audit_cannot_be_written(Engine::Sqlite).await;
}

#[tokio::test]
async fn fail_closed_postgres() {
    reads_fail_when_the_audit_cannot_be_written(Engine::Postgres).await;
}
