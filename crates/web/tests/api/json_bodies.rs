//! A request body the API cannot read is answered in the API's error shape, naming what is wrong:
//! a value of the wrong type by its path (`items[1].round`), a body that is not JSON with where it
//! breaks, a body sent as something else with 415. And a good body still goes through.

use bulwark_testkit::{Client, Engine, TestServer, decode};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn raw(client: &Client, path: &str, content_type: &str, body: &str) -> (StatusCode, Value) {
    let response = client
        .request(Method::POST, path)
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .expect("request reaches the server");
    decode(response).await
}

async fn unreadable_bodies(engine: Engine) {
    let server = TestServer::start(engine).await;
    let sampler = server.login("sampler").await;
    let batch = "/api/v1/registrations/batch";
    let item = json!({"key": "0192f5e4-0000-7000-8000-000000000001", "round": 1, "site": 1, "tube": "T1",
        "person": {"person_id": 1}});
    let mut wrong = item.clone();
    wrong["round"] = json!("one");

    let body = json!({ "items": [item, wrong] }).to_string();
    let (status, error) = raw(&sampler, batch, "application/json", &body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert_eq!(error["code"], "invalid", "{error}");
    assert_eq!(error["field"], "items[1].round", "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("invalid type")), "{error}");

    let (status, error) = raw(&sampler, batch, "application/json", r#"{"items": [{"key": "#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["code"], "invalid", "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.starts_with("the body is not JSON")), "{error}");
    assert!(error.get("field").is_none(), "{error}");

    let (status, error) = raw(&sampler, batch, "application/json", r#"{"items": []} and more"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("trailing characters")), "{error}");

    let (status, error) = raw(&sampler, batch, "text/plain", r#"{"items": []}"#).await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{error}");
    assert_eq!(error["code"], "invalid", "{error}");

    // A missing field at the top names no path, only the field in its message.
    let (status, error) = raw(&sampler, batch, "application/json", "{}").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{error}");
    assert!(error["message"].as_str().is_some_and(|m| m.contains("missing field `items`")), "{error}");

    // Readable bodies go through, with a charset or as a `+json` type.
    let (status, answer) = raw(&sampler, batch, "application/json; charset=utf-8", r#"{"items": []}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["results"], json!([]));
    let (status, answer) = raw(&sampler, batch, "application/vnd.bulwark+json", r#"{"items": []}"#).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn unreadable_bodies_sqlite() {
    unreadable_bodies(Engine::Sqlite).await;
}

#[tokio::test]
async fn unreadable_bodies_postgres() {
    unreadable_bodies(Engine::Postgres).await;
}
