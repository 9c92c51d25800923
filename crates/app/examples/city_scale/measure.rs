//! Timing: the store calls alone (no HTTP), then the real server (`bulwark serve`, started as a
//! separate process) over HTTP, one request at a time and then from many connections at once, and
//! the server's memory from /proc.

use crate::plan::{Plan, mix};
use crate::rows::{Ids, Res};
use crate::setup::{COMMANDER, PASSWORD};
use bulwark_domain::{
    access::{Operation, Role, Scope},
    areas::AreaCode,
    audit::{AuditStamp, Outcome},
};
use bulwark_store::Store;
use std::time::{Duration, Instant};

pub struct Figure {
    pub what: String,
    pub n: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Figure {
    fn of(what: impl Into<String>, mut times: Vec<Duration>) -> Figure {
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at = |q: f64| ms(times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1]);
        Figure { what: what.into(), n: times.len(), p50: at(0.50), p99: at(0.99), max: at(1.0) }
    }
    pub fn line(&self) -> String {
        format!("| {} | {} | {:.2} | {:.2} | {:.2} |", self.what, self.n, self.p50, self.p99, self.max)
    }
}

/// Area levels asked for: the city, a street/town, a community/village, a grid.
const LEVELS: [&str; 4] = ["city", "street/town", "community/village", "grid"];

/// A random area of `level` as (plan index, code).
fn area(plan: Plan, level: usize, r: u64) -> (usize, String) {
    match level {
        0 => (0, crate::plan::CITY_CODE.to_string()),
        1 => ((r % plan.towns as u64) as usize, Plan::town_code((r % plan.towns as u64) as usize)),
        2 => ((r % plan.units() as u64) as usize, Plan::unit_code((r % plan.units() as u64) as usize)),
        _ => ((r % plan.grids() as u64) as usize, Plan::grid_code((r % plan.grids() as u64) as usize)),
    }
}

fn untested_expected(grid: usize) -> usize {
    Plan::grid_residents(grid) - Plan::grid_sampled(grid)
}

/// The store's calls behind the two requests, `n` of each, on random areas.
pub async fn store_calls(store: &dyn Store, plan: Plan, ids: &Ids, n: usize, seed: u64) -> Res<Vec<Figure>> {
    let mut figures = Vec::new();
    for (level, name) in LEVELS.iter().enumerate() {
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            let (index, _) = area(plan, level, mix(seed ^ (level * 1_000_000 + i) as u64));
            let id = match level {
                0 => ids.city.0,
                1 => ids.towns[index].0,
                2 => ids.units[index].0,
                _ => ids.grids[index].0,
            };
            let t = Instant::now();
            let rows = store.coverage(ids.round, id).await?;
            times.push(t.elapsed());
            if rows.is_empty() || rows[0].area.id != id {
                return Err(format!("coverage of area {id} answered {} rows", rows.len()).into());
            }
        }
        figures.push(Figure::of(format!("`coverage` ({name})"), times));
    }
    let stamp = |i: usize| AuditStamp {
        at: crate::rows::T0 + 12 * 3_600_000,
        user: Some(ids.commander.0),
        username: COMMANDER.into(),
        role: Some(Role::Commander),
        operation: Operation::UntestedList,
        request_id: format!("city-scale-{seed}-{i}"),
    };
    let (mut lists, mut audits, mut lookups) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let (grid, code) = area(plan, 3, mix(seed ^ (9_000_000 + i) as u64));
        let t = Instant::now();
        store.area_by_code(&AreaCode::parse(&code)?).await?.ok_or("grid missing")?;
        lookups.push(t.elapsed());
        let scope = Scope { area: ids.grids[grid].0, path: ids.grids[grid].1.clone() };
        let t = Instant::now();
        let list = store.untested(ids.round, &scope, None, 500).await?;
        lists.push(t.elapsed());
        if list.len() != untested_expected(grid) {
            return Err(format!("grid {code}: {} untested, expected {}", list.len(), untested_expected(grid)).into());
        }
        let entries = list.iter().map(|u| stamp(i).entry(Some(u.person.id), Outcome::Success, None)).collect();
        let t = Instant::now();
        store.append_audit(entries).await?;
        audits.push(t.elapsed());
    }
    figures.push(Figure::of("`area_by_code` (grid)", lookups));
    figures.push(Figure::of("`untested` (grid, 150–450 people)", lists));
    figures.push(Figure::of("`append_audit` of that list (one entry per person)", audits));
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        store.progress(ids.round).await?;
        times.push(t.elapsed());
    }
    figures.push(Figure::of("`progress` (not a target; the round page)", times));
    Ok(figures)
}

pub struct Server {
    child: tokio::process::Child,
    pub pid: u32,
    pub base: String,
    pub started_in: Duration,
}

impl Server {
    /// Starts `bin serve` with `storage` arguments and waits for /healthz.
    pub async fn start(bin: &std::path::Path, storage: &[String], log: &std::path::Path) -> Res<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let base = format!("http://127.0.0.1:{port}");
        let log = std::fs::File::create(log)?;
        let t = Instant::now();
        let child = tokio::process::Command::new(bin)
            .arg("serve")
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(storage)
            .env("RUST_LOG", "warn")
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()?;
        let pid = child.id().ok_or("the server exited at once")?;
        let client = reqwest::Client::new();
        for _ in 0..1200 {
            if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
                return Ok(Server { child, pid, base, started_in: t.elapsed() });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err("the server did not answer /healthz within 120 s".into())
    }

    /// The server's memory from /proc, in MiB: the peak (VmHWM), now (VmRSS), and of now what is
    /// the process's own (RssAnon) and what maps files (RssFile: SQLite's mapped database pages,
    /// shared with the page cache and given back under pressure, but counted in the RSS).
    pub fn memory(&self) -> Res<String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        let mib = |key: &str| -> Res<f64> {
            let line = status.lines().find(|l| l.starts_with(key)).ok_or("no such line")?;
            Ok(line.split_whitespace().nth(1).ok_or("no value")?.parse::<f64>()? / 1024.0)
        };
        Ok(format!(
            "VmHWM {:.0} MiB, VmRSS {:.0} MiB (RssAnon {:.0} MiB, RssFile {:.0} MiB)",
            mib("VmHWM:")?,
            mib("VmRSS:")?,
            mib("RssAnon:")?,
            mib("RssFile:")?
        ))
    }

    /// SIGINT (the server's own shutdown), then waits.
    pub async fn stop(mut self) -> Res<()> {
        std::process::Command::new("kill").args(["-INT", &self.pid.to_string()]).status()?;
        if tokio::time::timeout(Duration::from_secs(30), self.child.wait()).await.is_err() {
            self.child.kill().await?;
        }
        Ok(())
    }
}

pub async fn login(client: &reqwest::Client, base: &str) -> Res<String> {
    let body = serde_json::json!({ "username": COMMANDER, "password": PASSWORD });
    let answer: serde_json::Value =
        client.post(format!("{base}/api/v1/auth/login")).json(&body).send().await?.error_for_status()?.json().await?;
    Ok(answer["token"].as_str().ok_or("no token")?.to_string())
}

/// One request; the time is to the last byte of the answer. Checks what came back.
async fn request(client: &reqwest::Client, url: &str, token: &str, rows: Option<usize>) -> Res<Duration> {
    let t = Instant::now();
    let body = client.get(url).bearer_auth(token).send().await?.error_for_status()?.bytes().await?;
    let took = t.elapsed();
    let list: Vec<serde_json::Value> = serde_json::from_slice(&body)?;
    match rows {
        Some(n) if list.len() != n => Err(format!("{url}: {} rows, expected {n}", list.len()).into()),
        _ if list.is_empty() => Err(format!("{url}: no rows").into()),
        _ => Ok(took),
    }
}

/// A random request: coverage of a random level, or a random grid's untested list.
fn random_request(plan: Plan, base: &str, round: i64, r: u64) -> (String, Option<usize>, bool) {
    if r.is_multiple_of(2) {
        let (_, code) = area(plan, ((r >> 8) % 4) as usize, r >> 16);
        (format!("{base}/api/v1/rounds/{round}/coverage?area={code}"), None, false)
    } else {
        let (grid, code) = area(plan, 3, r >> 16);
        (format!("{base}/api/v1/rounds/{round}/untested?area={code}"), Some(untested_expected(grid)), true)
    }
}

/// `n` requests of each kind, one at a time.
pub async fn sequential(base: &str, token: &str, plan: Plan, round: i64, n: usize, seed: u64) -> Res<Vec<Figure>> {
    let client = reqwest::Client::new();
    let mut figures = Vec::new();
    for (level, name) in LEVELS.iter().enumerate() {
        let mut times = Vec::with_capacity(n);
        for i in 0..n {
            let (_, code) = area(plan, level, mix(seed ^ (20_000_000 + level * 1_000_000 + i) as u64));
            let url = format!("{base}/api/v1/rounds/{round}/coverage?area={code}");
            times.push(request(&client, &url, token, None).await?);
        }
        figures.push(Figure::of(format!("GET …/coverage?area= ({name})"), times));
    }
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let (grid, code) = area(plan, 3, mix(seed ^ (30_000_000 + i) as u64));
        let url = format!("{base}/api/v1/rounds/{round}/untested?area={code}");
        times.push(request(&client, &url, token, Some(untested_expected(grid))).await?);
    }
    figures.push(Figure::of("GET …/untested?area= (grid)", times));
    Ok(figures)
}

/// `connections` clients sending random requests for `seconds`: (requests/s, coverage, untested).
pub async fn concurrent(
    base: &str,
    token: &str,
    plan: Plan,
    round: i64,
    connections: usize,
    seconds: u64,
    seed: u64,
) -> Res<(f64, Figure, Figure)> {
    let client = reqwest::Client::builder().pool_max_idle_per_host(connections).build()?;
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for c in 0..connections {
        let (client, base, token) = (client.clone(), base.to_string(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let (mut coverage, mut untested) = (Vec::new(), Vec::new());
            let mut i = 0u64;
            while Instant::now() < until {
                let (url, rows, is_list) = random_request(plan, &base, round, mix(seed ^ ((c as u64) << 40) ^ i));
                let took = request(&client, &url, &token, rows).await.map_err(|e| e.to_string())?;
                if is_list {
                    untested.push(took)
                } else {
                    coverage.push(took)
                }
                i += 1;
            }
            Ok::<_, String>((coverage, untested))
        }));
    }
    let (mut coverage, mut untested) = (Vec::new(), Vec::new());
    for t in tasks {
        let (c, u) = t.await??;
        coverage.extend(c);
        untested.extend(u);
    }
    let rate = (coverage.len() + untested.len()) as f64 / started.elapsed().as_secs_f64();
    let name = |what: &str| format!("{what}, {connections} connections at once");
    Ok((rate, Figure::of(name("coverage (random level)"), coverage), Figure::of(name("untested (grid)"), untested)))
}
