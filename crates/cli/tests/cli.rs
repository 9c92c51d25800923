//! The `bulwark` binary as an operator runs it: `import residents` on a data directory, `serve`,
//! and `demo` (load, restart without loading again, generated passwords). Every process started
//! here is killed when its guard drops, also when an assertion fails.

use bulwark_domain::{
    access::Scope,
    areas::{AreaCode, AreaKind, NewArea},
    people::IdNumber,
};
use bulwark_sqlite::SqliteStore;
use bulwark_store::Store;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::{
    io::Read,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_bulwark");

/// The environment variables the binary reads, removed so that the caller's shell cannot change
/// what a test runs against.
const BULWARK_ENV: [&str; 5] =
    ["BULWARK_DATABASE", "BULWARK_DATA_DIR", "BULWARK_LISTEN", "BULWARK_DEMO_PASSWORD", "BULWARK_SECURE_COOKIES"];

fn bulwark() -> Command {
    let mut command = Command::new(BIN);
    for name in BULWARK_ENV {
        command.env_remove(name);
    }
    command.env("RUST_LOG", "warn").env("NO_COLOR", "1");
    command
}

/// Runs the binary to completion.
fn run(args: &[&str]) -> Output {
    bulwark().args(args).stdin(Stdio::null()).output().expect("run the bulwark binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---------------------------------------------------------------------------------------------
// import residents

const HOUSEHOLD: &str = "900000001201-G01-H001";

/// A valid synthetic ID number (address code 900000 does not exist).
fn id(seq: u32) -> String {
    IdNumber::from_body(&format!("900000199001011{seq:02}")).as_str().to_string()
}

fn with_wrong_check(id: &str) -> String {
    let (body, check) = id.split_at(17);
    format!("{body}{}", if check == "0" { "1" } else { "0" })
}

/// Where the binary keeps its data in a test: a SQLite data directory, or a PostgreSQL database.
enum Database {
    Sqlite(tempfile::TempDir),
    Postgres(bulwark_postgres::testing::TestDb),
}

impl Database {
    /// A database with a county, town, village, grid and one household, made with the storage
    /// engine directly and closed again before the binary opens it.
    async fn prepared(engine: Engine) -> Database {
        let database = match engine {
            Engine::Sqlite => Database::Sqlite(tempfile::tempdir().unwrap()),
            Engine::Postgres => Database::Postgres(bulwark_postgres::testing::TestDb::create().await),
        };
        let store = database.open().await;
        let mut parent = None;
        for (code, name, kind) in [
            ("900000", "测试县", AreaKind::County),
            ("900000001", "一号镇", AreaKind::Town),
            ("900000001201", "湴朗村民委员会", AreaKind::Village),
            ("900000001201-G01", "一号网格", AreaKind::Grid),
            (HOUSEHOLD, "1号", AreaKind::Household),
        ] {
            let area = store
                .create_area(NewArea { code: AreaCode::parse(code).unwrap(), name: name.into(), kind, parent })
                .await
                .expect("create area");
            parent = Some(area.id);
        }
        drop(store);
        database
    }

    async fn open(&self) -> Arc<dyn Store> {
        match self {
            Database::Sqlite(dir) => Arc::new(SqliteStore::open(&dir.path().join("bulwark.db")).expect("open SQLite")),
            Database::Postgres(db) => {
                Arc::new(bulwark_postgres::PgStore::connect(&db.url).await.expect("connect PostgreSQL"))
            }
        }
    }

    /// The options that point the binary at this database.
    fn args(&self) -> [String; 2] {
        match self {
            Database::Sqlite(dir) => ["--data-dir".into(), dir.path().to_str().unwrap().into()],
            Database::Postgres(db) => ["--database".into(), db.url.clone()],
        }
    }

    /// The audit entries of imports, oldest first.
    async fn import_audit(&self) -> Vec<bulwark_domain::audit::AuditEntry> {
        let query = bulwark_store::AuditQuery { limit: 1000, ..Default::default() };
        let mut entries = self.open().await.audit_entries(&query).await.unwrap();
        entries.retain(|e| e.operation == "residents_import");
        entries.sort_by_key(|e| e.seq);
        entries
    }

    /// People registered in the prepared town, read with the storage engine.
    async fn people(&self) -> u64 {
        let store = self.open().await;
        let town = store.area_by_code(&AreaCode::parse("900000001").unwrap()).await.unwrap().expect("the town");
        store.count_people(&Scope::of(&town)).await.unwrap()
    }
}

#[derive(Clone, Copy)]
enum Engine {
    Sqlite,
    Postgres,
}

/// A register as Chinese Excel saves "CSV": GB18030, CRLF. Rows 2 and 3 are valid; row 4 has a
/// wrong check character, row 5 an unknown household, row 6 an ID that Excel already shortened.
fn register_csv(dir: &Path) -> PathBuf {
    let rows = [
        "姓名,身份证号,手机,住址,户号".to_string(),
        format!("湴朗甲,{},13800000001,湴朗村1号,{HOUSEHOLD}", id(1)),
        format!("乙,{},,,{HOUSEHOLD}", id(2)),
        format!("丙,{},,,{HOUSEHOLD}", with_wrong_check(&id(3))),
        format!("丁,{},,,900000001201-G01-H999", id(4)),
        format!("戊,4.40785E+17,,,{HOUSEHOLD}"),
    ];
    let csv = rows.join("\r\n") + "\r\n";
    let (bytes, _, unmappable) = encoding_rs::GB18030.encode(&csv);
    assert!(!unmappable);
    let path = dir.join("名册.csv");
    std::fs::write(&path, bytes).unwrap();
    path
}

async fn import_residents(engine: Engine) {
    let data = Database::prepared(engine).await;
    let files = tempfile::tempdir().unwrap();
    let register = register_csv(files.path());
    let file = register.to_str().unwrap();
    let [option, target] = data.args();
    let import = |file: &str, dry_run: bool| {
        let mut args = vec!["import", "residents", file, option.as_str(), target.as_str()];
        if dry_run {
            args.push("--dry-run");
        }
        run(&args)
    };

    // A dry run reports every row and stores nothing.
    let out = import(file, true);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("5 rows: 2 importable (dry run, nothing stored), 3 rejected"), "{stdout}");
    for expected in [
        "row 4, column 身份证号: ",
        "[id_number.checksum]",
        "row 5, column 户号: ",
        "[area.unknown]",
        "row 6, column 身份证号: ",
        "[id_number.excel_number]",
    ] {
        assert!(stdout.contains(expected), "{expected:?} in {stdout}");
    }
    assert!(!stdout.contains(&with_wrong_check(&id(3))), "ID numbers are masked: {stdout}");
    assert_eq!(data.people().await, 0);

    // The import stores the valid rows.
    let out = import(file, false);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("5 rows: 2 imported, 3 rejected"), "{stdout}");
    assert!(stdout.contains("Excel"), "the Excel explanation: {stdout}");
    assert_eq!(data.people().await, 2);
    // Audited as the operator of the machine, one entry per person stored.
    let audit = data.import_audit().await;
    assert_eq!(audit.len(), 2, "{audit:#?}");
    assert!(audit.iter().all(|e| e.username == "cli" && e.person.is_some() && e.outcome == "success"), "{audit:#?}");

    // Again: everything is rejected, the valid rows as registered already.
    let out = import(file, false);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout.contains("5 rows: 0 imported, 5 rejected"), "{stdout}");
    assert_eq!(stdout.matches("[document.registered]").count(), 2, "{stdout}");
    assert_eq!(data.people().await, 2);

    // A workbook with only bad rows: the ID typed as a number, a row without a name.
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let sheet = workbook.add_worksheet();
    for (col, header) in ["姓名", "身份证号", "户号"].iter().enumerate() {
        sheet.write_string(0, col as u16, *header).unwrap();
    }
    sheet.write_string(1, 0, "己").unwrap();
    sheet.write_number(1, 1, format!("{}000", &id(5)[..15]).parse::<f64>().unwrap()).unwrap();
    sheet.write_string(1, 2, HOUSEHOLD).unwrap();
    sheet.write_string(2, 1, id(6)).unwrap();
    sheet.write_string(2, 2, HOUSEHOLD).unwrap();
    let bad = files.path().join("bad.xlsx");
    workbook.save(&bad).unwrap();
    let out = import(bad.to_str().unwrap(), false);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "a file of bad rows is a report, not a failure: {out:?}");
    assert!(stdout.contains("2 rows: 0 imported, 2 rejected"), "{stdout}");
    assert!(stdout.contains("row 2, column 身份证号: ") && stdout.contains("[id_number.excel_number]"), "{stdout}");
    assert!(stdout.contains("row 3, column 姓名: ") && stdout.contains("[missing_value]"), "{stdout}");
    assert_eq!(data.people().await, 2);

    // A file that is not there.
    let missing = files.path().join("没有这个文件.csv");
    let out = import(missing.to_str().unwrap(), false);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(stderr.contains("没有这个文件.csv") && stderr.contains("No such file"), "{stderr}");

    // A file without the required columns is refused whole, naming what is missing.
    let wrong_columns = files.path().join("wrong.csv");
    std::fs::write(&wrong_columns, "编号,电话\n1,13800000001\n").unwrap();
    let out = import(wrong_columns.to_str().unwrap(), false);
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{out:?}");
    assert!(stderr.contains("姓名 (name)") && stderr.contains("身份证号 (id_number)"), "{stderr}");
    assert_eq!(data.people().await, 2);
}

#[tokio::test]
async fn import_residents_sqlite() {
    import_residents(Engine::Sqlite).await;
}

#[tokio::test]
async fn import_residents_postgres() {
    import_residents(Engine::Postgres).await;
}

// ---------------------------------------------------------------------------------------------
// serve and demo

/// A running `bulwark serve` or `bulwark demo`, killed when dropped.
struct Server {
    child: Child,
    url: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Collects what a pipe says, as it says it.
fn collect(mut pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = text.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    text
}

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    /// Starts `bulwark <command> --listen 127.0.0.1:<free port> --data-dir <dir>` and waits until
    /// `/healthz` answers 200.
    async fn start(command: &str, data_dir: &Path, demo_password: Option<&str>, ready_within: Duration) -> Server {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut cmd = bulwark();
        cmd.args([command, "--listen", &listen, "--data-dir", data_dir.to_str().unwrap()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(password) = demo_password {
            cmd.env("BULWARK_DEMO_PASSWORD", password);
        }
        let mut child = cmd.spawn().expect("start the bulwark binary");
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let mut server = Server { child, url: format!("http://{listen}"), stdout, stderr };
        server.wait_ready(ready_within).await;
        server
    }

    async fn wait_ready(&mut self, within: Duration) {
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("bulwark exited with {status} before it was ready:\n{}\n{}", self.out(), self.err());
            }
            if let Ok(response) = http.get(format!("{}/healthz", self.url)).send().await {
                assert_eq!(response.status(), StatusCode::OK, "{}", self.err());
                return;
            }
            assert!(started.elapsed() < within, "not ready after {within:?}:\n{}\n{}", self.out(), self.err());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn out(&self) -> String {
        self.stdout.lock().unwrap().clone()
    }

    fn err(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Logs in through the API; the bearer token.
    async fn login(&self, username: &str, password: &str) -> Result<String, (StatusCode, Value)> {
        let response = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", self.url))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        match body["token"].as_str() {
            Some(token) if status == StatusCode::OK => Ok(token.to_string()),
            _ => Err((status, body)),
        }
    }

    async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        let response =
            reqwest::Client::new().get(format!("{}{path}", self.url)).bearer_auth(token).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn serve_answers_health_checks() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start("serve", data.path(), None, Duration::from_secs(30)).await;
    assert!(server.out().contains(&format!("serving on {}", server.url)), "{}", server.out());
    let response = reqwest::get(format!("{}/login", server.url)).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(data.path().join("bulwark.db").exists(), "the database lives in the data directory");
}

/// The demo accounts the brief of the demo names, one per role that matters here.
const DEMO_LOGINS: [&str; 6] = ["admin", "commander", "gridworker", "sampler", "lab", "auditor"];

/// The village-level units of 圣堂镇, from the NBS statistical codes
/// (`/shared/data/shengtang_villages.csv`).
const VILLAGES: [(&str, &str); 12] = [
    ("440785101001", "圩镇社区居民委员会"),
    ("440785101200", "长安村民委员会"),
    ("440785101201", "进职村民委员会"),
    ("440785101202", "龙塘村民委员会"),
    ("440785101203", "水塘村民委员会"),
    ("440785101204", "区村村民委员会"),
    ("440785101205", "三山村民委员会"),
    ("440785101206", "塘龙村民委员会"),
    ("440785101207", "根竹头村民委员会"),
    ("440785101208", "三联村民委员会"),
    ("440785101209", "歇马村民委员会"),
    ("440785101210", "湴朗村民委员会"),
];

/// Loading the demo town takes about 15 s in a debug build, longer on a busy machine.
const DEMO_READY: Duration = Duration::from_secs(240);

/// The residents the commander sees in the town.
async fn town_total(server: &Server, password: &str) -> u64 {
    let token = server.login("commander", password).await.expect("commander logs in");
    let (status, page) = server.get(&token, "/api/v1/persons?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["total"].as_u64().unwrap()
}

#[tokio::test]
async fn demo_loads_once_and_its_accounts_work() {
    let data = tempfile::tempdir().unwrap();
    let password = "demo-password-2022";

    // First start: the town is generated and loaded.
    let server = Server::start("demo", data.path(), Some(password), DEMO_READY).await;
    let stdout = server.out();
    assert!(stdout.contains("loaded now"), "{stdout}");
    assert!(stdout.contains("The clock runs from 2022-10-08 15:00:00 +08:00"), "the replay starts: {stdout}");
    assert!(!stdout.contains(password), "the password from the environment is not printed: {stdout}");
    let mut tokens = std::collections::HashMap::new();
    for username in DEMO_LOGINS {
        let token = server.login(username, password).await.unwrap_or_else(|e| panic!("{username}: {e:?}"));
        tokens.insert(username, token);
    }
    assert!(server.login("commander", "wrong-password-1").await.is_err());

    // The town as the source describes it: 12 village-level units and 235 grids.
    let (status, areas) = server.get(&tokens["commander"], "/api/v1/areas").await;
    assert_eq!(status, StatusCode::OK, "{areas}");
    let areas = areas.as_array().unwrap();
    let mut units: Vec<(&str, &str)> = areas
        .iter()
        .filter(|a| a["kind"] == "village" || a["kind"] == "community")
        .map(|a| (a["code"].as_str().unwrap(), a["name"].as_str().unwrap()))
        .collect();
    units.sort();
    assert_eq!(units, VILLAGES);
    let grids: Vec<&Value> = areas.iter().filter(|a| a["kind"] == "grid").collect();
    assert_eq!(grids.len(), 235);
    let (status, admin_areas) = server.get(&tokens["admin"], "/api/v1/areas").await;
    assert_eq!(status, StatusCode::OK, "{admin_areas}");
    assert_eq!(admin_areas.as_array().unwrap().iter().filter(|a| a["kind"] == "grid").count(), 235);

    // The grid worker sees her grid's residents, masked, and nothing of another grid.
    let (status, page) = server.get(&tokens["gridworker"], "/api/v1/persons").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page["total"].as_u64().unwrap() >= 1, "{page}");
    let people = page["people"].as_array().unwrap();
    assert!(!people.is_empty());
    let own_grid = people[0]["grid"].as_str().unwrap().to_string();
    for person in people {
        assert_eq!(person["grid"], own_grid.as_str());
        let document = person["document_number_masked"].as_str().unwrap();
        assert!(document.contains("********"), "{person}");
        if let Some(phone) = person["phone_masked"].as_str() {
            assert!(phone.contains("****"), "{person}");
        }
    }
    let other_grid = grids.iter().map(|g| g["code"].as_str().unwrap()).find(|c| *c != own_grid).unwrap();
    let (status, body) = server.get(&tokens["gridworker"], &format!("/api/v1/persons?area={other_grid}")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{other_grid}: {body}");

    let total = town_total(&server, password).await;
    assert!(total > 40_000, "about 45,000 synthetic residents: {total}");
    drop(server);

    // Second start on the same data: nothing is loaded twice, the accounts still work.
    let server = Server::start("demo", data.path(), Some(password), DEMO_READY).await;
    assert!(server.out().contains("already loaded"), "{}", server.out());
    // The replay clock goes on from where it was, it does not go back to 15:00.
    assert!(server.out().contains("The replay from 2022-10-08 15:00:00 +08:00 continues"), "{}", server.out());
    assert_eq!(town_total(&server, password).await, total);
    for username in DEMO_LOGINS {
        server.login(username, password).await.unwrap_or_else(|e| panic!("{username} after a restart: {e:?}"));
    }
    drop(server);

    // Third start, without a password in the environment: new passwords, printed once.
    let server = Server::start("demo", data.path(), None, DEMO_READY).await;
    let stdout = server.out();
    let accounts: Vec<(String, String)> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("Demo accounts"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(fields.len(), 3, "username, role and password: {l:?}");
            (fields[0].to_string(), fields[2].to_string())
        })
        .collect();
    for username in DEMO_LOGINS {
        let (_, generated) = accounts
            .iter()
            .find(|(u, _)| u == username)
            .unwrap_or_else(|| panic!("{username} and its password in {stdout}"));
        assert!(generated.len() >= 10, "{username}: {generated}");
        assert_eq!(stdout.matches(generated.as_str()).count(), 1, "printed once: {stdout}");
        server.login(username, generated).await.unwrap_or_else(|e| panic!("{username} with {generated}: {e:?}"));
    }
    assert!(server.login("commander", password).await.is_err(), "the old password no longer works");
    assert_eq!(town_total(&server, &accounts.iter().find(|(u, _)| u == "commander").unwrap().1).await, total);
}
