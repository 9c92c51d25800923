//! Test support for Bulwark's end-to-end suites.
//!
//! [`TestServer::start`] runs the real application on `127.0.0.1:0` over a fresh database of the
//! chosen [`Engine`] (a temporary SQLite file, or a new PostgreSQL database dropped afterwards),
//! with a manual clock standing at 07:00 on 6 October 2022 (China time) and the [`fixture`]
//! loaded, and the notification dispatcher running on that clock ([`TestServer::start_with`]
//! configures its channels). [`Client`] speaks to it over HTTP like any other client.

pub mod fixture;

use bulwark_app::notify::{Dispatcher, DispatcherHandle, Hub, NotifyConfig};
use bulwark_store::Store;
use bulwark_web::{AppState, Clock, clock::ManualClock};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::sync::Arc;

pub use fixture::{Fixture, PASSWORD};

/// The storage engines every behaviour is tested on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub const ALL: [Engine; 2] = [Engine::Sqlite, Engine::Postgres];
}

/// 2022-10-06 07:00 in China (UTC+8): when the source story's plan was activated.
pub const START: i64 = 1_665_010_800_000;

/// A running server. Dropping it stops the server and removes its database.
pub struct TestServer {
    pub url: String,
    pub store: Arc<dyn Store>,
    /// Raw access to the database behind the server, for fault injection and checks that go
    /// around the application.
    pub raw: RawDatabase,
    pub clock: Arc<ManualClock>,
    pub fixture: Fixture,
    /// The server's notification hub (enqueue through it to wake the dispatcher).
    pub notify: Arc<Hub>,
    _dispatcher: DispatcherHandle,
    _database: Box<dyn std::any::Any + Send>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

impl TestServer {
    /// Starts a server over a fresh database with the fixture loaded; no SMS gateway or SMTP
    /// server is configured.
    pub async fn start(engine: Engine) -> TestServer {
        Self::start_with(engine, NotifyConfig::default()).await
    }

    /// Starts a server whose notification dispatcher uses `notify` (e.g. receivers the test runs).
    pub async fn start_with(engine: Engine, notify: NotifyConfig) -> TestServer {
        let (store, database, raw): (Arc<dyn Store>, Box<dyn std::any::Any + Send>, RawDatabase) = match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let store =
                    Arc::new(bulwark_sqlite::SqliteStore::open(&dir.path().join("bulwark.db")).expect("open SQLite"));
                (store.clone(), Box::new(dir), RawDatabase::Sqlite(store))
            }
            Engine::Postgres => {
                let db = bulwark_postgres::testing::TestDb::create().await;
                let store = bulwark_postgres::PgStore::connect(&db.url).await.expect("connect PostgreSQL");
                let raw = RawDatabase::Postgres(db.url.clone());
                (Arc::new(store), Box::new(db), raw)
            }
        };
        let fixture = Fixture::load(store.as_ref(), START).await;
        Self::serve_with(store, database, raw, fixture, notify).await
    }

    /// A second server on this one's PostgreSQL database, as a deployment behind a load
    /// balancer runs them: its own connections, clock (from the same start) and in-process state.
    /// The first server keeps the database; drop this one first.
    pub async fn another(&self) -> TestServer {
        self.another_with(NotifyConfig::default()).await
    }

    /// [`another`](Self::another), its notification dispatcher configured by `notify`.
    pub async fn another_with(&self, notify: NotifyConfig) -> TestServer {
        let RawDatabase::Postgres(url) = &self.raw else { panic!("servers share a PostgreSQL database only") };
        let store = bulwark_postgres::PgStore::connect(url).await.expect("connect PostgreSQL");
        let raw = RawDatabase::Postgres(url.clone());
        Self::serve_with(Arc::new(store), Box::new(()), raw, self.fixture.clone(), notify).await
    }

    /// Serves `store` (already filled) on a loopback port.
    pub async fn serve(
        store: Arc<dyn Store>,
        database: Box<dyn std::any::Any + Send>,
        raw: RawDatabase,
        fixture: Fixture,
    ) -> TestServer {
        Self::serve_with(store, database, raw, fixture, NotifyConfig::default()).await
    }

    /// Serves `store` with the notification dispatcher configured by `notify`.
    pub async fn serve_with(
        store: Arc<dyn Store>,
        database: Box<dyn std::any::Any + Send>,
        raw: RawDatabase,
        fixture: Fixture,
        notify: NotifyConfig,
    ) -> TestServer {
        let clock = Arc::new(ManualClock::new(START));
        let state = AppState::new(store.clone(), clock.clone());
        let hub = state.notify.clone();
        let now_clock = clock.clone();
        let dispatcher = Dispatcher::new(store.clone(), hub.clone(), notify, Arc::new(move || now_clock.now()))
            .expect("notification settings")
            .spawn();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let _ = bulwark_web::serve(listener, state, async {
                let _ = rx.await;
            })
            .await;
        });
        TestServer {
            url,
            store,
            raw,
            clock,
            fixture,
            notify: hub,
            _dispatcher: dispatcher,
            _database: database,
            _shutdown: tx,
        }
    }

    /// A client without a session.
    pub fn anonymous(&self) -> Client {
        Client { base: self.url.clone(), token: None, http: http_client() }
    }

    /// A client signed in as `username` (with the fixture password) through the API.
    pub async fn login(&self, username: &str) -> Client {
        let anonymous = self.anonymous();
        let (status, body) = anonymous
            .send(
                Method::POST,
                "/api/v1/auth/login",
                Some(serde_json::json!({"username": username, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "login of {username}: {body}");
        let token = body["token"].as_str().expect("a token").to_string();
        Client { token: Some(token), ..anonymous }
    }
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("HTTP client")
}

/// The database behind a test server, reached without the application.
pub enum RawDatabase {
    Sqlite(Arc<bulwark_sqlite::SqliteStore>),
    /// The test database's URL.
    Postgres(String),
}

impl RawDatabase {
    /// Runs SQL statements directly (through the SQLite writer, or a new PostgreSQL connection).
    pub async fn execute(&self, sql: &str) {
        match self {
            RawDatabase::Sqlite(store) => {
                let sql = sql.to_string();
                store
                    .write(move |c| {
                        c.execute_batch(&sql).map_err(|e| bulwark_store::StoreError::Internal(e.to_string()))
                    })
                    .await
                    .expect("raw SQL on SQLite");
            }
            RawDatabase::Postgres(url) => {
                bulwark_postgres::testing::raw(url).await.batch_execute(sql).await.expect("raw SQL on PostgreSQL");
            }
        }
    }

    /// Makes every insert into the audit log fail, as a full disk or a broken audit store would
    /// (every entry has a row in `audit_entries`, or on PostgreSQL a list's entries one row in
    /// `audit_entries_waiting`).
    pub async fn break_audit_log(&self) {
        self.break_audit_log_when("true", "true").await
    }

    /// Like [`break_audit_log`](Self::break_audit_log), for entries about `person` alone: a read
    /// that shows her fails from the batch that holds her on.
    pub async fn break_audit_log_for(&self, person: i64) {
        self.break_audit_log_when(&format!("NEW.person_id = {person}"), &format!("{person} = ANY(NEW.people)")).await
    }

    /// Makes every append to the audit log whose new entry meets `entry` fail, and on PostgreSQL
    /// every list whose waiting row meets `list`.
    async fn break_audit_log_when(&self, entry: &str, list: &str) {
        match self {
            RawDatabase::Sqlite(_) => {
                self.execute(&format!(
                    "CREATE TRIGGER audit_log_broken BEFORE INSERT ON audit_entries WHEN {entry}
                     BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END;"
                ))
                .await
            }
            RawDatabase::Postgres(_) => {
                self.execute(&format!(
                    "CREATE FUNCTION audit_log_broken() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected audit failure'; END $$;
                     CREATE TRIGGER audit_log_broken BEFORE INSERT ON audit_entries FOR EACH ROW WHEN ({entry})
                     EXECUTE FUNCTION audit_log_broken();
                     CREATE TRIGGER audit_list_broken BEFORE INSERT ON audit_entries_waiting FOR EACH ROW WHEN ({list})
                     EXECUTE FUNCTION audit_log_broken();"
                ))
                .await
            }
        }
    }
}

/// An HTTP client of the API, with or without a bearer token.
#[derive(Clone)]
pub struct Client {
    pub base: String,
    pub token: Option<String>,
    pub http: reqwest::Client,
}

impl Client {
    /// A request builder for `path`, with the bearer token when there is one.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Sends a request with an optional JSON body; returns the status and the body as JSON
    /// (`Value::Null` when empty, a string when not JSON).
    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut r = self.request(method, path);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let response = r.send().await.expect("request reaches the server");
        decode(response).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    /// Uploads `bytes` as the multipart field `file`.
    pub async fn upload(&self, path: &str, file_name: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(file_name.to_string());
        let form = reqwest::multipart::Form::new().part("file", part);
        let response =
            self.request(Method::POST, path).multipart(form).send().await.expect("request reaches the server");
        decode(response).await
    }
}

/// The status and JSON body of a response.
pub async fn decode(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
    (status, body)
}
