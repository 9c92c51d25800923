//! What the security suites share: agents that record every exchange, the operations of the
//! OpenAPI document, fixture targets (home and foreign grids), fresh objects made directly in
//! storage, scanners for full ID numbers and phones, and reading the whole audit log.

use bulwark_domain::{
    access::{NewAccount, Role, Scope, Username},
    areas::{Area, AreaCode, AreaKind, NewArea},
    people::{IdNumber, PersonId},
};
use bulwark_store::PersonQuery;
use bulwark_testkit::{Client, PASSWORD, TestServer};
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::Value;
use std::{
    collections::BTreeSet,
    sync::{
        Arc, Mutex, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
};

/// The body of a request.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(Value),
    Form(Vec<(String, String)>),
    /// A multipart form whose field `file` holds these bytes.
    File(Vec<u8>),
}

/// One request and its response, as recorded.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub agent: String,
    pub role: Option<Role>,
    pub method: Method,
    /// Path and query.
    pub path: String,
    pub status: StatusCode,
    pub text: String,
    /// The `reason` sent to a reveal endpoint.
    pub reason: Option<String>,
}

impl Exchange {
    /// The path without its query string.
    pub fn route(&self) -> &str {
        self.path.split('?').next().unwrap_or_default()
    }
}

/// Every exchange of a test, in order; shared by its agents.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<Exchange>>>);

impl Log {
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.0.lock().expect("log").clone()
    }
    fn push(&self, e: Exchange) {
        self.0.lock().expect("log").push(e);
    }
}

/// A response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body as text; an XLSX workbook's cells (see [`xlsx_text`]).
    pub text: String,
    pub bytes: Vec<u8>,
    /// The body as JSON; `Value::Null` when it is not JSON.
    pub json: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string)
    }
}

/// A caller: anonymous, a bearer token, or a session cookie.
#[derive(Clone)]
pub struct Agent {
    /// The username, or "anonymous" / "bad_token".
    pub name: String,
    pub role: Option<Role>,
    pub client: Client,
    /// The session cookie's value.
    pub cookie: Option<String>,
    pub log: Log,
}

impl Agent {
    pub fn anonymous(server: &TestServer, log: &Log) -> Agent {
        Agent { name: "anonymous".into(), role: None, client: server.anonymous(), cookie: None, log: log.clone() }
    }

    /// An agent with a token that no session has.
    pub fn bad_token(server: &TestServer, log: &Log) -> Agent {
        let mut client = server.anonymous();
        client.token = Some("bm90LWEtdG9rZW4tb2YtYW55b25lLWF0LWFsbC0xMjM0NTY3".into());
        Agent { name: "bad_token".into(), role: None, client, cookie: None, log: log.clone() }
    }

    /// Signs in through `POST /api/v1/auth/login` with the fixture password.
    pub async fn bearer(server: &TestServer, username: &str, log: &Log) -> Agent {
        let anonymous = Agent::anonymous(server, log);
        let r = anonymous
            .send(
                Method::POST,
                "/api/v1/auth/login",
                Body::Json(serde_json::json!({"username": username, "password": PASSWORD})),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "login of {username}: {}", r.text);
        let mut client = server.anonymous();
        client.token = Some(r.json["token"].as_str().expect("a token").to_string());
        let role = Role::parse(r.json["role"].as_str().unwrap_or_default());
        Agent { name: username.to_string(), role, client, cookie: None, log: log.clone() }
    }

    /// Signs in through the login page and carries the session cookie.
    pub async fn cookie(server: &TestServer, username: &str, log: &Log) -> Agent {
        let login = page_login(server, username, PASSWORD, None).await;
        assert_eq!(login.status, StatusCode::SEE_OTHER, "page login of {username}");
        let cookie = login.cookie.expect("a session cookie");
        let me = Agent {
            name: username.to_string(),
            role: None,
            client: server.anonymous(),
            cookie: Some(cookie),
            log: log.clone(),
        };
        let r = me.get("/api/v1/me").await;
        Agent { role: Role::parse(r.json["role"].as_str().unwrap_or_default()), ..me }
    }

    pub async fn send(&self, method: Method, path: &str, body: Body, headers: &[(&str, &str)]) -> Reply {
        let mut r = self.client.request(method.clone(), path);
        if let Some(c) = &self.cookie {
            r = r.header("cookie", format!("bulwark_session={c}"));
        }
        for (k, v) in headers {
            r = r.header(*k, *v);
        }
        let mut reason = None;
        r = match body {
            Body::Empty => r,
            Body::Json(v) => {
                reason = v.get("reason").and_then(Value::as_str).map(str::to_string);
                r.json(&v)
            }
            Body::Form(f) => {
                reason = f.iter().find(|(k, _)| k == "reason").map(|(_, v)| v.clone());
                r.form(&f)
            }
            Body::File(bytes) => {
                let part = reqwest::multipart::Part::bytes(bytes).file_name("register.csv");
                r.multipart(reqwest::multipart::Form::new().part("file", part))
            }
        };
        let response = r.send().await.expect("request reaches the server");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
        let xlsx = headers.get("content-type").is_some_and(|v| v.as_bytes() == XLSX.as_bytes());
        let text = if xlsx { xlsx_text(&bytes) } else { String::from_utf8_lossy(&bytes).into_owned() };
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        self.log.push(Exchange {
            agent: self.name.clone(),
            role: self.role,
            method,
            path: path.to_string(),
            status,
            text: text.clone(),
            reason,
        });
        Reply { status, headers, text, bytes, json }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, Body::Empty, &[]).await
    }

    pub async fn post(&self, path: &str, json: Value) -> Reply {
        self.send(Method::POST, path, Body::Json(json), &[]).await
    }

    pub async fn patch(&self, path: &str, json: Value) -> Reply {
        self.send(Method::PATCH, path, Body::Json(json), &[]).await
    }
}

/// The content type of an Excel workbook.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// The cells of every sheet of a workbook as text: a tab after each cell, a line per row;
/// datetimes as `yyyy-mm-dd hh:mm`. So the scans for people and full numbers read an export like
/// any other body (the zipped bytes would hide everything).
pub fn xlsx_text(bytes: &[u8]) -> String {
    use calamine::{Data, Reader, Xlsx};
    let Ok(mut book) = calamine::open_workbook_from_rs::<Xlsx<_>, _>(std::io::Cursor::new(bytes.to_vec())) else {
        return String::from_utf8_lossy(bytes).into_owned();
    };
    let mut out = String::new();
    for name in book.sheet_names() {
        let Ok(range) = book.worksheet_range(&name) else { continue };
        out.push_str(&name);
        out.push('\n');
        for row in range.rows() {
            for cell in row {
                match cell {
                    Data::DateTime(t) => out.push_str(&xlsx_local_time(t.as_f64())),
                    other => out.push_str(&other.to_string()),
                }
                out.push('\t');
            }
            out.push('\n');
        }
    }
    out
}

/// An Excel serial datetime (days since 1899-12-30) written in China time, as `yyyy-mm-dd hh:mm`.
pub fn xlsx_local_time(serial: f64) -> String {
    let seconds = ((serial - 25_569.0) * 86_400.0).round() as i64;
    chrono::DateTime::from_timestamp(seconds, 0).map(|t| t.format("%Y-%m-%d %H:%M").to_string()).unwrap_or_default()
}

/// Whether a route downloads a workbook (`…/export` or `…/export/<list>`).
pub fn is_export(route: &str) -> bool {
    route.starts_with("/api/v1/") && (route.ends_with("/export") || route.contains("/export/"))
}

/// The outcome of a `POST /login` form.
pub struct PageLogin {
    pub status: StatusCode,
    /// The whole `Set-Cookie` header of the session cookie.
    pub set_cookie: Option<String>,
    /// The session cookie's value (empty when cleared).
    pub cookie: Option<String>,
    pub location: Option<String>,
    pub text: String,
}

/// Submits the login page's form, optionally carrying a session cookie already.
pub async fn page_login(server: &TestServer, username: &str, password: &str, cookie: Option<&str>) -> PageLogin {
    let client = server.anonymous();
    let mut r = client
        .http
        .post(format!("{}/login", server.url))
        .header("origin", server.url.clone())
        .form(&[("username", username), ("password", password)]);
    if let Some(c) = cookie {
        r = r.header("cookie", format!("bulwark_session={c}"));
    }
    let response = r.send().await.expect("request reaches the server");
    let status = response.status();
    let set_cookie = session_set_cookie(response.headers());
    let location = response.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string);
    let text = response.text().await.unwrap_or_default();
    let cookie = set_cookie.as_deref().map(cookie_value);
    PageLogin { status, set_cookie, cookie, location, text }
}

/// The `Set-Cookie` header that sets `bulwark_session`, if any.
pub fn session_set_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("bulwark_session="))
        .map(str::to_string)
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap_or_default().trim_start_matches("bulwark_session=").to_string()
}

// ---------------------------------------------------------------------------------------------
// The OpenAPI document.

/// One operation of the OpenAPI document.
#[derive(Debug, Clone)]
pub struct ApiOp {
    pub method: Method,
    /// The path template, e.g. `/api/v1/persons/{id}`.
    pub template: String,
    pub operation_id: String,
}

impl ApiOp {
    /// The policy row's name: the operation id before any `.action`.
    pub fn policy_name(&self) -> &str {
        self.operation_id.split('.').next().unwrap_or_default()
    }
}

/// Every operation of the document, in a stable order.
pub fn api_operations(doc: &Value) -> Vec<ApiOp> {
    let mut ops = Vec::new();
    for (template, item) in doc["paths"].as_object().expect("the document has paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else { continue };
            if !matches!(method, Method::GET | Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
                continue;
            }
            let operation_id = op["operationId"].as_str().unwrap_or_default().to_string();
            ops.push(ApiOp { method, template: template.clone(), operation_id });
        }
    }
    ops.sort_by(|a, b| (&a.template, a.method.as_str()).cmp(&(&b.template, b.method.as_str())));
    ops
}

/// The served OpenAPI document.
pub async fn served_document(server: &TestServer) -> Value {
    let r = Agent::anonymous(server, &Log::default()).get("/api/v1/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK, "the OpenAPI document is served");
    r.json
}

/// Whether `path` (without query) is an instance of `template`.
pub fn matches_template(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    t.len() == p.len() && t.iter().zip(&p).all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
}

/// The page routes that need a session, with the policy row each one checks first.
/// (Page routes are not in the OpenAPI document; this list mirrors `pages::routes`.)
pub const PAGE_ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/areas", "areas_read"),
    ("GET", "/areas/{code}", "areas_read"),
    ("POST", "/areas/{code}/grids", "areas_manage"),
    ("POST", "/areas/{code}/rename", "areas_manage"),
    ("POST", "/areas/{code}/merge", "areas_manage"),
    ("POST", "/areas/{code}/persons", "persons_create"),
    ("GET", "/persons/{id}", "persons_read"),
    ("POST", "/persons/{id}", "persons_update"),
    ("POST", "/persons/{id}/reveal", "persons_reveal"),
    ("GET", "/import", "residents_import"),
    ("POST", "/import", "residents_import"),
    ("POST", "/import/confirm", "residents_import"),
    ("GET", "/users", "users_list"),
    ("POST", "/users", "users_manage"),
    ("POST", "/users/{id}/disable", "users_manage"),
    ("GET", "/audit", "audit_read"),
    ("GET", "/scan", "registrations_create"),
    ("GET", "/transport", "rounds_read"),
    ("GET", "/transport/boxes", "rounds_read"),
    ("POST", "/transport/boxes", "tubes_seal"),
    ("POST", "/transport/pack", "tubes_seal"),
    ("POST", "/transport/seal", "tubes_seal"),
    ("POST", "/transport/handover", "tubes_seal"),
    ("GET", "/rounds", "rounds_read"),
    ("POST", "/rounds", "rounds_manage"),
    ("GET", "/rounds/{id}", "rounds_read"),
    ("GET", "/rounds/{id}/live", "rounds_read"),
    ("GET", "/rounds/{id}/events", "rounds_read"),
    ("GET", "/rounds/{id}/doorknock", "untested_list"),
    ("GET", "/rounds/{id}/home-visits", "home_sampling_read"),
    ("GET", "/rounds/{id}/abnormal-pools", "abnormal_pools_read"),
    ("GET", "/review", "review_read"),
    ("GET", "/sites", "sites_read"),
    ("POST", "/sites/{id}/queue", "sites_manage"),
    ("GET", "/print/qr", "printables_read"),
    ("GET", "/print/tubes", "printables_read"),
    ("GET", "/incidents", "incidents_read"),
    ("POST", "/incidents", "incidents_activate"),
    ("GET", "/incidents/{id}", "incidents_read"),
    ("GET", "/incidents/{id}/live", "incidents_read"),
    ("GET", "/incidents/{id}/events", "incidents_read"),
    ("GET", "/incidents/{id}/report", "reports_read"),
    ("POST", "/incidents/{id}/timeline", "timeline_write"),
    ("POST", "/incidents/{id}/rollcall/resend", "incidents_activate"),
    ("POST", "/tasks/{id}", "tasks_update"),
    ("GET", "/plans", "plans_read"),
    ("POST", "/plans", "plans_manage"),
    ("POST", "/plans/import", "plans_manage"),
    ("GET", "/plans/{key}", "plans_read"),
    ("POST", "/plans/{key}/edit", "plans_manage"),
    ("GET", "/notifications", "me"),
    ("GET", "/notifications/events", "me"),
    ("GET", "/rosters", "rosters_read"),
    ("POST", "/rosters/posts", "rosters_manage"),
    ("GET", "/rosters/posts/{id}", "rosters_read"),
    ("POST", "/rosters/posts/{id}/shifts", "rosters_manage"),
    ("POST", "/rosters/posts/{id}/assign", "rosters_manage"),
    ("POST", "/rosters/assignments/{id}/remove", "rosters_manage"),
    ("GET", "/leaders", "rosters_read"),
    ("POST", "/leaders/{code}", "rosters_manage"),
    ("POST", "/leaders/{code}/remove", "rosters_manage"),
    ("GET", "/checkin", "posts_check_in"),
    ("POST", "/checkin/{id}/in", "posts_check_in"),
    ("POST", "/checkin/{id}/out", "posts_check_in"),
];

/// The policy row an exchange is checked against (API operations first, then pages).
pub fn policy_of(ops: &[ApiOp], method: &Method, route: &str) -> Option<String> {
    if let Some(op) = ops.iter().find(|o| o.method == *method && matches_template(&o.template, route)) {
        return Some(op.policy_name().to_string());
    }
    PAGE_ROUTES
        .iter()
        .find(|(m, t, _)| *m == method.as_str() && matches_template(t, route))
        .map(|(_, _, op)| op.to_string())
}

// ---------------------------------------------------------------------------------------------
// Fixture targets and fresh objects.

/// The fixture's grids.
pub const GRIDS: [&str; 3] = ["A", "B", "C"];

/// The scope area of a fixture account, by username.
pub fn scope_of(server: &TestServer, username: &str) -> Area {
    let (_, _, scope) = server
        .fixture
        .accounts
        .iter()
        .find(|(u, _, _)| *u == username)
        .unwrap_or_else(|| panic!("no account {username}"));
    server.fixture.area(scope).clone()
}

/// Whether something at `path` lies inside `scope`.
pub fn inside(scope: &Area, path: &str) -> bool {
    Scope::of(scope).contains_path(path)
}

/// The first fixture grid inside `scope` (every account's scope holds at least one).
pub fn home_grid(server: &TestServer, scope: &Area) -> &'static str {
    GRIDS.into_iter().find(|g| inside(scope, &server.fixture.area(g).path)).expect("a grid inside the scope")
}

/// The fixture grids outside `scope`.
pub fn foreign_grids(server: &TestServer, scope: &Area) -> Vec<&'static str> {
    GRIDS.into_iter().filter(|g| !inside(scope, &server.fixture.area(g).path)).collect()
}

/// The code of the first household of a fixture grid.
pub fn household(server: &TestServer, grid: &str) -> String {
    format!("{}-H001", server.fixture.code(grid))
}

/// A code no area has.
pub const NO_AREA: &str = "900000009999-G99";
/// An id no person or account has.
pub const NO_ID: i64 = 987_654_321;

static COUNTER: AtomicU64 = AtomicU64::new(100);

/// A number no other call in this process gets.
pub fn fresh() -> u64 {
    COUNTER.fetch_add(1, Ordering::SeqCst)
}

/// A valid resident ID number no fixture person has (address code 900000, sequence 777).
pub fn fresh_id_number(n: u64) -> String {
    let birth = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).expect("date") + chrono::Days::new(n);
    IdNumber::from_body(&format!("900000{}777", birth.format("%Y%m%d"))).as_str().to_string()
}

/// A mobile number no fixture person has.
pub fn fresh_phone(n: u64) -> String {
    format!("137{:08}", n % 100_000_000)
}

/// A person's name that is no other name's substring.
pub fn fresh_name(n: u64) -> String {
    format!("新人{n:06}号")
}

/// A grid created directly in storage under a fixture village.
pub async fn fresh_grid(server: &TestServer, village: &str) -> Area {
    let code = format!("{}-G{}", server.fixture.code(village), fresh());
    server
        .store
        .create_area(NewArea {
            code: AreaCode::parse(&code).expect("code"),
            name: format!("新网格{code}"),
            kind: AreaKind::Grid,
            parent: Some(server.fixture.area(village).id),
        })
        .await
        .expect("create a grid")
}

/// The fixture password's hash, computed once.
pub fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| bulwark_app::accounts::hash_password(PASSWORD).expect("hash")).clone()
}

/// An account created directly in storage, with the fixture password; returns its id.
pub async fn fresh_account(server: &TestServer, username: &str, role: Role, scope: &Area) -> i64 {
    let account = NewAccount {
        username: Username::parse(username).expect("username"),
        display_name: username.to_string(),
        role,
        scope: scope.id,
        password_hash: password_hash(),
    };
    server.store.create_account(account, bulwark_testkit::START).await.expect("create an account").id
}

/// The village of a fixture grid.
pub fn village_of(grid: &str) -> &'static str {
    if grid == "C" { "village2" } else { "village1" }
}

// ---------------------------------------------------------------------------------------------
// Person data in responses.

/// Every person in storage: names, full ID numbers and phones, and where they live.
pub struct PersonIndex {
    pub names: Vec<(String, PersonId)>,
    /// Full document numbers and phones.
    pub values: Vec<(String, PersonId)>,
    pub paths: std::collections::HashMap<PersonId, String>,
}

impl PersonIndex {
    pub async fn load(server: &TestServer) -> PersonIndex {
        let root = Scope::of(server.fixture.area("county"));
        let mut index = PersonIndex { names: Vec::new(), values: Vec::new(), paths: Default::default() };
        let mut after = None;
        loop {
            let query = PersonQuery { within: root.clone(), search: None, after, limit: 500 };
            let page = server.store.people(&query).await.expect("people");
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            for p in page {
                index.names.push((p.name.clone(), p.id));
                if let Some(n) = p.document.number() {
                    index.values.push((n.to_string(), p.id));
                }
                if let Some(ph) = &p.phone {
                    index.values.push((ph.as_str().to_string(), p.id));
                }
                index.paths.insert(p.id, p.area_path.clone());
            }
        }
        index
    }

    /// The people a response shows: by name, or by a full ID number or phone.
    pub fn persons_in(&self, text: &str) -> BTreeSet<PersonId> {
        let mut found: BTreeSet<PersonId> =
            self.names.iter().filter(|(n, _)| text.contains(n.as_str())).map(|(_, id)| *id).collect();
        found.extend(self.full_values_in(text).into_iter().map(|(id, _)| id));
        found
    }

    /// The full ID numbers and phones in a text, with whose they are.
    pub fn full_values_in(&self, text: &str) -> Vec<(PersonId, String)> {
        self.values.iter().filter(|(v, _)| text.contains(v.as_str())).map(|(v, id)| (*id, v.clone())).collect()
    }
}

/// Full mobile numbers (`1[3-9]` and 9 more digits) and checksum-valid 18-character ID numbers
/// in a text, however they got there: runs of digits (an ID number may end in X) that no other
/// ASCII letter or digit touches, so hex strings such as request ids do not count.
pub fn sensitive_values(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let mut run = text[start..i].to_string();
        if run.len() == 17 && i < b.len() && (b[i] == b'X' || b[i] == b'x') {
            run.push('X');
            i += 1;
        }
        let touches = |j: Option<usize>| j.and_then(|j| b.get(j)).is_some_and(|c| c.is_ascii_alphanumeric());
        if touches(start.checked_sub(1)) || touches(Some(i)) {
            continue;
        }
        let digits = run.as_bytes();
        let mobile = run.len() == 11 && digits[0] == b'1' && (b'3'..=b'9').contains(&digits[1]);
        let id_number = run.len() == 18 && IdNumber::parse_ignoring_date_limit(&run).is_ok();
        if mobile || id_number {
            found.push(run);
        }
    }
    found
}

/// The fixture's canary ID numbers and phones found in a text.
pub fn canaries_in(server: &TestServer, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (id_number, phone) in server.fixture.canaries.values() {
        for v in [id_number, phone] {
            if text.contains(v.as_str()) {
                found.push(v.clone());
            }
        }
    }
    found
}

// ---------------------------------------------------------------------------------------------
// The audit log.

/// The whole audit log, newest first, read page by page with `before`.
pub async fn audit_log(auditor: &Agent) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    let mut before: Option<i64> = None;
    for _ in 0..10_000 {
        let path = match before {
            Some(b) => format!("/api/v1/audit?limit=250&before={b}"),
            None => "/api/v1/audit?limit=250".to_string(),
        };
        let r = auditor.get(&path).await;
        assert_eq!(r.status, StatusCode::OK, "audit page: {}", r.text);
        let page = r.json.as_array().expect("a list of entries").clone();
        let Some(last) = page.last() else { break };
        before = last["seq"].as_i64();
        let full = page.len() == 250;
        all.extend(page);
        if !full {
            break;
        }
    }
    all
}

/// A short, single-line excerpt of a body for messages.
pub fn excerpt(text: &str) -> String {
    let one_line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    let cut: String = one_line.chars().take(160).collect();
    if cut.len() < one_line.len() { format!("{cut}…") } else { cut }
}

/// The person-page and area-page links of an HTML page: `/persons/<id>` ids.
pub fn person_links(html: &str) -> Vec<i64> {
    html.split("href=\"/persons/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter_map(|id| id.parse().ok())
        .collect()
}

/// The area codes an HTML page links to (`/areas/<code>`).
pub fn area_links(html: &str) -> Vec<String> {
    html.split("href=\"/areas/").skip(1).filter_map(|rest| rest.split(['"', '?']).next()).map(str::to_string).collect()
}

// ---------------------------------------------------------------------------------------------
// Shared calls of the mass-testing and page suites.

/// `POST /api/v1/registrations` with an `Idempotency-Key`.
pub async fn register(client: &Client, key: &str, body: &Value) -> (StatusCode, Value) {
    let response = client
        .request(Method::POST, "/api/v1/registrations")
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("request reaches the server");
    bulwark_testkit::decode(response).await
}

/// Signs in through the login form and returns a client that keeps the session cookie and sends
/// the page's own Origin, as a browser does.
pub async fn browser(server: &TestServer, username: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, server.url.parse().unwrap());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .post(format!("{}/login", server.url))
        .form(&[("username", username), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "login of {username}");
    client
}

/// Reads the stream until `what` has arrived or `patience` is over; returns what was read.
pub async fn read_until(
    response: &mut reqwest::Response,
    seen: &mut String,
    what: &str,
    patience: std::time::Duration,
) -> bool {
    let until = tokio::time::Instant::now() + patience;
    while !seen.contains(what) {
        match tokio::time::timeout_at(until, response.chunk()).await {
            Ok(Ok(Some(bytes))) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            _ => return false,
        }
    }
    true
}

/// Opens a page's event stream with `agent`'s session cookie, as the page's script does; the
/// response is the stream, read with [`read_until`].
pub async fn open_stream(server: &TestServer, agent: &Agent, path: &str) -> reqwest::Response {
    let cookie = format!("bulwark_session={}", agent.cookie.clone().expect("a cookie session"));
    let stream = server
        .anonymous()
        .http
        .get(format!("{}{path}", server.url))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("the stream opens");
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    stream
}

#[cfg(test)]
mod tests {
    use super::sensitive_values;

    #[test]
    fn finds_full_values_and_nothing_else() {
        let id = bulwark_domain::people::IdNumber::from_body("90000019850101010").as_str().to_string();
        let text = format!(
            "电话13900000010，身份证{id} at 1665010800000 req 01a22487-6b72-7102-a35c-14853069096e 139****0010"
        );
        assert_eq!(sensitive_values(&text), vec!["13900000010".to_string(), id]);
        assert!(sensitive_values("x13900000010 139000000101 90000019850101010").is_empty());
    }
}
