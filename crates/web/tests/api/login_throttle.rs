//! Reliability §3 (e), brute force and user enumeration, with the manual clock.
//!
//! Five wrong passwords lock the account: the sixth attempt, even with the right password, is
//! answered 429 with Retry-After, through the API and the page; after 15 minutes the right
//! password works again. Failures are in the audit log as `denied` login entries. An unknown
//! username, a wrong password and a disabled account get identical answers.

use crate::support::{Agent, Log, audit_log, page_login};
use bulwark_testkit::{Engine, PASSWORD, TestServer};
use reqwest::StatusCode;
use serde_json::{Value, json};

const LOGIN: &str = "/api/v1/auth/login";

fn attempt(username: &str, password: &str) -> Value {
    json!({"username": username, "password": password})
}

async fn denied_logins(server: &TestServer, username: &str) -> Vec<Value> {
    let auditor = Agent::bearer(server, "auditor", &Log::default()).await;
    audit_log(&auditor)
        .await
        .into_iter()
        .filter(|e| e["operation"] == "login" && e["outcome"] == "denied" && e["username"] == username)
        .collect()
}

async fn brute_force_locks_the_account(engine: Engine) {
    let server = TestServer::start(engine).await;
    let log = Log::default();
    let anonymous = Agent::anonymous(&server, &log);

    let mut bodies = Vec::new();
    for i in 1..=5 {
        let r = anonymous.post(LOGIN, attempt("sampler", &format!("wrong-password-{i}"))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "wrong password {i}: {}", r.text);
        assert!(r.json.get("token").is_none());
        bodies.push(r.text);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "every failure answers alike: {bodies:?}");

    // Locked: the right password is refused too, with Retry-After.
    let r = anonymous.post(LOGIN, attempt("sampler", PASSWORD)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "the right password while locked: {}", r.text);
    assert!(r.json.get("token").is_none(), "no token while locked");
    assert_eq!(r.json["code"], "too_many_attempts");
    let retry: u64 = r.header("retry-after").expect("Retry-After").parse().expect("Retry-After in seconds");
    assert!((1..=15 * 60).contains(&retry), "Retry-After {retry}");
    let r = anonymous.post(LOGIN, attempt("sampler", "wrong-password-6")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let page = page_login(&server, "sampler", PASSWORD, None).await;
    assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "the login page is locked too");
    assert!(page.cookie.is_none(), "no session cookie while locked");

    // Other accounts are not locked out by it.
    Agent::bearer(&server, "lab", &log).await;

    // Still locked a little before the window ends; open after it.
    server.clock.advance(15 * 60_000 - 5_000);
    let r = anonymous.post(LOGIN, attempt("sampler", PASSWORD)).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "still locked at 14:55");
    server.clock.advance(6_000);
    let r = anonymous.post(LOGIN, attempt("sampler", PASSWORD)).await;
    assert_eq!(r.status, StatusCode::OK, "unlocked after 15 minutes: {}", r.text);
    assert!(r.json["token"].is_string());

    // The failures are audited, as denied logins of that account.
    let denied = denied_logins(&server, "sampler").await;
    assert!(denied.len() >= 5, "5 wrong passwords, {} denied entries", denied.len());
    for e in &denied {
        assert_eq!(e["role"], "sampler", "{e}");
        assert!(e["user"].is_i64(), "{e}");
    }
}

#[tokio::test]
async fn brute_force_locks_the_account_sqlite() {
    brute_force_locks_the_account(Engine::Sqlite).await;
}

#[tokio::test]
async fn brute_force_locks_the_account_postgres() {
    brute_force_locks_the_account(Engine::Postgres).await;
}

/// §3 (e) 1: "Failures are audit-logged: count equals attempts" — the attempts refused while
/// the account is locked included.
async fn every_refused_login_is_audited(engine: Engine) {
    let server = TestServer::start(engine).await;
    let anonymous = Agent::anonymous(&server, &Log::default());
    let mut refused = 0;
    for i in 1..=8 {
        let password = if i == 7 { PASSWORD.to_string() } else { format!("wrong-password-{i}") };
        let r = anonymous.post(LOGIN, attempt("checkpoint", &password)).await;
        assert!(matches!(r.status.as_u16(), 401 | 429), "attempt {i}: {}", r.status);
        refused += 1;
    }
    let denied = denied_logins(&server, "checkpoint").await;
    assert_eq!(
        denied.len(),
        refused,
        "{refused} refused login attempts (5 wrong, then 3 while locked), {} denied audit entries",
        denied.len()
    );
}

#[tokio::test]
async fn every_refused_login_is_audited_sqlite() {
    every_refused_login_is_audited(Engine::Sqlite).await;
}

#[tokio::test]
async fn every_refused_login_is_audited_postgres() {
    every_refused_login_is_audited(Engine::Postgres).await;
}

async fn unknown_user_and_wrong_password_look_alike(engine: Engine) {
    let server = TestServer::start(engine).await;
    let log = Log::default();
    let anonymous = Agent::anonymous(&server, &log);

    let unknown = anonymous.post(LOGIN, attempt("no_such_user", "wrong-password")).await;
    let wrong = anonymous.post(LOGIN, attempt("lab", "wrong-password")).await;
    let invalid_name = anonymous.post(LOGIN, attempt("NO SUCH USER!", "wrong-password")).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!((unknown.status, &unknown.text), (wrong.status, &wrong.text), "unknown username vs wrong password");
    assert_eq!(
        (unknown.status, &unknown.text),
        (invalid_name.status, &invalid_name.text),
        "unknown vs malformed username"
    );

    // A disabled account with its right password answers the same.
    let admin = Agent::bearer(&server, "admin", &log).await;
    let users = admin.get("/api/v1/users").await;
    let id =
        users.json.as_array().unwrap().iter().find(|u| u["username"] == "dispatcher").unwrap()["id"].as_i64().unwrap();
    assert_eq!(
        admin
            .send(reqwest::Method::POST, &format!("/api/v1/users/{id}/disable"), crate::support::Body::Empty, &[])
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let disabled = anonymous.post(LOGIN, attempt("dispatcher", PASSWORD)).await;
    assert_eq!(
        (unknown.status, &unknown.text),
        (disabled.status, &disabled.text),
        "unknown username vs disabled account"
    );

    // The login page: the same answer but for the username it echoes into the form.
    let unknown_page = page_login(&server, "no_such_user", "wrong-password", None).await;
    let wrong_page = page_login(&server, "checkpoint", "wrong-password", None).await;
    assert_eq!(unknown_page.status, wrong_page.status);
    assert_eq!(unknown_page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown_page.text.replace("no_such_user", "<name>"),
        wrong_page.text.replace("checkpoint", "<name>"),
        "the login page answers an unknown username and a wrong password alike"
    );
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_alike_sqlite() {
    unknown_user_and_wrong_password_look_alike(Engine::Sqlite).await;
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_alike_postgres() {
    unknown_user_and_wrong_password_look_alike(Engine::Postgres).await;
}
