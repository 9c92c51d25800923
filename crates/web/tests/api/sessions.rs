//! Reliability §3 (e), sessions: a new secret at every login, logout and disabling end sessions at
//! once, cookie sessions end after 30 idle minutes and every session after one 12-hour shift,
//! the cookie is HttpOnly and SameSite=Strict, and a session id fixed before login is worthless.

use crate::support::{Agent, Body, Log, page_login};
use bulwark_testkit::{Engine, PASSWORD, TestServer};
use reqwest::{Method, StatusCode};

const MINUTE: i64 = 60_000;

async fn sessions(engine: Engine) {
    let server = TestServer::start(engine).await;
    let log = Log::default();
    let own_origin = [("origin", server.url.as_str())];

    // A new token at each login; logout ends exactly that one.
    let first = Agent::bearer(&server, "gridworker_a", &log).await;
    let second = Agent::bearer(&server, "gridworker_a", &log).await;
    assert_ne!(first.client.token, second.client.token, "a new token at each login");
    assert_eq!(first.get("/api/v1/me").await.status, StatusCode::OK);
    let r = first.send(Method::POST, "/api/v1/auth/logout", Body::Empty, &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(first.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "the old token after logout");
    assert_eq!(first.get("/api/v1/persons").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        first.send(Method::POST, "/api/v1/auth/logout", Body::Empty, &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(second.get("/api/v1/me").await.status, StatusCode::OK, "the other session lives on");

    // The cookie: HttpOnly, SameSite=Strict, new at every login.
    let one = page_login(&server, "commander", PASSWORD, None).await;
    let two = page_login(&server, "commander", PASSWORD, None).await;
    for login in [&one, &two] {
        assert_eq!(login.status, StatusCode::SEE_OTHER);
        assert_eq!(login.location.as_deref(), Some("/areas"));
        let set_cookie = login.set_cookie.as_deref().expect("a session cookie");
        let attributes: Vec<String> = set_cookie.split(';').map(|a| a.trim().to_ascii_lowercase()).collect();
        assert!(attributes.contains(&"httponly".to_string()), "{set_cookie}");
        assert!(attributes.contains(&"samesite=strict".to_string()), "{set_cookie}");
        assert!(attributes.contains(&"path=/".to_string()), "{set_cookie}");
    }
    assert_ne!(one.cookie, two.cookie, "a new cookie at every login");

    // Session fixation: an id chosen before login is replaced, and never becomes valid.
    let fixed = "attacker-chosen-session-id-0123456789";
    let three = page_login(&server, "commander", PASSWORD, Some(fixed)).await;
    assert_eq!(three.status, StatusCode::SEE_OTHER);
    assert_ne!(three.cookie.as_deref(), Some(fixed), "the login sets a new id");
    let fixated = Agent { cookie: Some(fixed.into()), ..Agent::anonymous(&server, &log) };
    assert_eq!(fixated.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "the fixed id is not a session");
    let relogin = page_login(&server, "commander", PASSWORD, one.cookie.as_deref()).await;
    assert_ne!(relogin.cookie, one.cookie, "logging in while signed in gives a new id too");

    // Page logout ends the cookie session on the server.
    let cookie_two = Agent { cookie: two.cookie.clone(), ..Agent::anonymous(&server, &log) };
    assert_eq!(cookie_two.get("/api/v1/me").await.status, StatusCode::OK);
    let r = cookie_two.send(Method::POST, "/logout", Body::Empty, &own_origin).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.header("location").as_deref(), Some("/login"));
    assert!(
        crate::support::session_set_cookie(&r.headers).is_some_and(|c| c.contains("Max-Age=0")),
        "the cookie is cleared"
    );
    assert_eq!(
        cookie_two.get("/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED,
        "replaying the cookie after logout"
    );
    let page = cookie_two.get("/areas").await;
    assert_eq!((page.status, page.header("location").as_deref()), (StatusCode::SEE_OTHER, Some("/login")));

    // Disabling an account ends its sessions at once, bearer and cookie.
    let sampler = Agent::bearer(&server, "sampler", &log).await;
    let sampler_page = Agent::cookie(&server, "sampler", &log).await;
    assert_eq!(sampler.get("/api/v1/me").await.status, StatusCode::OK);
    assert_eq!(sampler_page.get("/areas").await.status, StatusCode::OK);
    let admin = Agent::bearer(&server, "admin", &log).await;
    let users = admin.get("/api/v1/users").await;
    let id =
        users.json.as_array().unwrap().iter().find(|u| u["username"] == "sampler").unwrap()["id"].as_i64().unwrap();
    let r = admin.send(Method::POST, &format!("/api/v1/users/{id}/disable"), Body::Empty, &[]).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(sampler.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "the disabled account's token");
    assert_eq!(
        sampler.get(&format!("/api/v1/persons/{}", server.fixture.people["A"][0])).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(sampler_page.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "the disabled account's cookie");
    let page = sampler_page.get("/areas").await;
    assert_eq!((page.status, page.header("location").as_deref()), (StatusCode::SEE_OTHER, Some("/login")));
    let again = Agent::anonymous(&server, &log)
        .post("/api/v1/auth/login", serde_json::json!({"username": "sampler", "password": PASSWORD}))
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "a disabled account cannot sign in");

    // Idle timeout: 30 minutes for cookie sessions, none for bearer tokens (scanners that
    // sync after an outage); the absolute lifetime of 12 hours for both.
    let browser = Agent::cookie(&server, "working_group", &log).await;
    let scanner = Agent::bearer(&server, "working_group", &log).await;
    server.clock.advance(29 * MINUTE);
    assert_eq!(browser.get("/areas").await.status, StatusCode::OK, "29 idle minutes");
    server.clock.advance(29 * MINUTE);
    assert_eq!(browser.get("/areas").await.status, StatusCode::OK, "active for 58 minutes, 29 idle");
    server.clock.advance(31 * MINUTE);
    let page = browser.get("/areas").await;
    assert_eq!(
        (page.status, page.header("location").as_deref()),
        (StatusCode::SEE_OTHER, Some("/login")),
        "after 31 idle minutes the page sends to the login"
    );
    assert_eq!(browser.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "and the API refuses the cookie");
    assert_eq!(scanner.get("/api/v1/me").await.status, StatusCode::OK, "a bearer token has no idle timeout");
    server.clock.advance(12 * 60 * MINUTE - 89 * MINUTE - MINUTE);
    assert_eq!(scanner.get("/api/v1/me").await.status, StatusCode::OK, "11 h 59 min after login");
    server.clock.advance(MINUTE);
    assert_eq!(scanner.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED, "12 h after login");
}

#[tokio::test]
async fn sessions_sqlite() {
    sessions(Engine::Sqlite).await;
}

#[tokio::test]
async fn sessions_postgres() {
    sessions(Engine::Postgres).await;
}
