//! Reliability procedure (a), mode K (process crash) and mode P (power loss), as in
//! `shared/docs/reliability.md` §3 (a):
//!
//! 1. a fresh database (a temporary data directory, or a new PostgreSQL database), the demo town
//!    loaded by `bulwark demo`, a round and a site opened as the commander;
//! 2. W client tasks register with fresh UUIDv7 keys and unique (person, tube) pairs, ten people
//!    a tube, retrying the **same** key on a timeout, a connection error, 409 (in flight) or 5xx
//!    with jittered exponential back-off until 200 or 201; 5% of the acknowledged requests are sent
//!    once more on purpose and must be answered 200 with the same registration id; every ack goes
//!    into the ledger (key → registration id). With `batch`, a tube's ten scans go as one outbox
//!    upload, retried whole the same way, and its items answered 409, 429 or 5xx are sent again
//!    with the same keys, as the scan page does; each item answered 200 or 201 is an ack;
//! 3. meanwhile the server gets SIGKILL every U(0.3 s, 2 s) and is restarted after U(50, 300) ms
//!    (mode P: before the restart, everything not fsynced is dropped, see [`crate::lossyfs`]);
//! 4. then the clients stop taking new work, finish what they hold, the server is killed a last
//!    time, and the database is read directly and compared with the ledger ([`crate::verify`]).
//!
//! With `kill_postgres` the database is a private cluster this tool owns ([`crate::pgcluster`]),
//! and in half of the cycles (exactly, in a seeded order) PostgreSQL is the one that goes down —
//! SIGKILL to the postmaster or `pg_ctl stop -m immediate`, half each — **instead of** the bulwark
//! server,
//! which stays up and must find its way back to the database by itself once crash recovery is
//! done (in the meantime it answers 503 and the clients retry). Before the offline check the
//! postmaster is SIGKILLed and recovered once more, so that every acknowledged write had to come
//! back from the WAL at least once.

use crate::{
    PersonRange, api,
    http::{Conn, HttpError},
    pgcluster::Stop,
    plan::{self, Keys, Plan},
    report::{self, Latency},
    server::{self, Server, Storage},
    verify::{self, Ledger, Verdict},
};
use bytes::Bytes;
use rand::{Rng, SeedableRng, seq::SliceRandom};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::{
    collections::BTreeMap,
    path::PathBuf,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use uuid::Uuid;

#[derive(Debug, Clone)]
pub struct Options {
    pub server_bin: PathBuf,
    /// A PostgreSQL URL (of a maintenance database such as `postgres`); a new database is created
    /// on that server for the run. `None`: SQLite in a temporary data directory.
    pub database: Option<String>,
    /// PostgreSQL on a private cluster (`pgcluster_bindir`'s binaries) that is itself killed in a
    /// seeded share (`pg_kill_share`) of the cycles. `database` must then be `None`.
    pub kill_postgres: bool,
    pub pg_kill_share: f64,
    /// The PostgreSQL server binaries for `kill_postgres` (default: [`crate::pgcluster::find_bindir`]).
    pub pg_bindir: Option<PathBuf>,
    pub kills: u32,
    pub seed: u64,
    pub workers: usize,
    pub replay_rate: f64,
    /// Each client sends its tube's ten scans as one outbox upload (`POST …/registrations/batch`)
    /// instead of one request per scan.
    pub batch: bool,
    pub up: (Duration, Duration),
    pub down: (Duration, Duration),
    /// Mode P: the data directory is a lossy FUSE mount that forgets unsynced writes at each kill.
    pub power_loss: bool,
    /// Keep the data directory (or the PostgreSQL database) afterwards.
    pub keep: bool,
    /// How long a single request may take before it counts as "no answer".
    pub request_timeout: Duration,
    /// The back-off cap: the n-th retry of a key waits U(1 ms, min(10 ms·2ⁿ, cap)).
    pub backoff_max: Duration,
    /// How long the clients get to finish their last items once the kills are over.
    pub drain_timeout: Duration,
    /// How long the first start (the demo load) may take.
    pub start_timeout: Duration,
    pub persons: Option<PersonRange>,
    pub out: Option<PathBuf>,
    /// With `kills == 0`: how long to run without faults (the baseline the faulted throughput is
    /// compared with).
    pub no_fault_duration: Duration,
}

impl Options {
    pub fn new(server_bin: PathBuf) -> Options {
        Options {
            server_bin,
            database: None,
            kill_postgres: false,
            pg_kill_share: 0.5,
            pg_bindir: None,
            kills: 30,
            seed: 0,
            workers: 8,
            replay_rate: 0.05,
            batch: false,
            up: (Duration::from_millis(300), Duration::from_secs(2)),
            down: (Duration::from_millis(50), Duration::from_millis(300)),
            power_loss: false,
            keep: false,
            request_timeout: Duration::from_secs(10),
            backoff_max: Duration::from_millis(500),
            drain_timeout: Duration::from_secs(120),
            start_timeout: Duration::from_secs(300),
            persons: None,
            out: None,
            no_fault_duration: Duration::from_secs(20),
        }
    }
}

/// The figures of one run: one JSON line in `crash.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub procedure: &'static str,
    pub mode: &'static str,
    /// How the clients send: "single" (a request per scan) or "batch" (a tube's scans per upload).
    pub requests: &'static str,
    pub engine: &'static str,
    pub seed: u64,
    pub workers: usize,
    /// Fault cycles: the server's kills plus PostgreSQL's.
    pub kills: u32,
    /// Cycles that SIGKILLed the bulwark server.
    pub server_kills: u32,
    /// Cycles that stopped PostgreSQL instead (`kill_postgres`), and how: SIGKILL to the
    /// postmaster, or `pg_ctl stop -m immediate`. The final SIGKILL before the check not counted.
    pub pg_kills: u32,
    pub pg_sigkills: u32,
    pub pg_immediate_stops: u32,
    /// From each PostgreSQL start after a kill to its first accepted connection (crash recovery).
    pub pg_recovery_ms: Option<RestartFigures>,
    /// Times the bulwark server exited by itself while PostgreSQL was down or recovering.
    pub server_exits_on_pg_kill: u32,
    pub server_starts: u32,
    /// Starts whose process exited by itself (e.g. failed to open the database).
    pub server_early_exits: u32,
    pub attempted: u64,
    pub acked: u64,
    pub present: u64,
    pub lost: u64,
    pub unexpected: u64,
    pub duplicates: u64,
    pub duplicate_triples: u64,
    pub id_mismatches: u64,
    /// Sent again after no answer, a 409 or a 5xx.
    pub retries: u64,
    /// Keys whose first answer came on a retry and was 200: the earlier attempt had committed.
    pub recovered_on_retry: u64,
    /// Sent but never acknowledged, yet stored (allowed).
    pub recovered_unacked: u64,
    /// Deliberate second deliveries of acknowledged requests.
    pub duplicate_deliveries: u64,
    /// Deliberate second deliveries not answered 200 with the same registration id.
    pub replay_failures: u64,
    /// Of those answered 200 with the same id, how many `registration` objects differed from the
    /// first answer (a failure).
    pub replay_body_differences: u64,
    /// … and how many whole bodies differed (the tube's state included; reported only).
    pub replay_full_body_differences: u64,
    /// Keys still without an answer when the drain time ran out.
    pub unresolved: u64,
    /// Definitive refusals (4xx other than 409/429), by status: a failure of the run.
    pub rejected: BTreeMap<u16, u64>,
    /// Attempts without an answer, by kind, and 5xx/409 answers, by status.
    pub transient: BTreeMap<String, u64>,
    pub load_seconds: f64,
    pub acked_per_s: f64,
    pub ack_latency: Latency,
    /// From each restart of the server to the first acknowledged write sent after it.
    pub restart_to_first_write_ms: Option<RestartFigures>,
    /// From each time PostgreSQL accepted connections again after a kill to the first
    /// acknowledged write sent after it (the running server's reconnection included).
    pub pg_restart_to_first_write_ms: Option<RestartFigures>,
    pub integrity: String,
    pub journal: String,
    /// Mode P: what the lossy layer did (fsyncs passed through, dirty pages dropped).
    pub lossy: Option<crate::lossyfs::LossyStats>,
    pub passed: bool,
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestartFigures {
    pub count: usize,
    pub p50: f64,
    pub mean: f64,
    pub max: f64,
}

impl RestartFigures {
    fn of(durations: &[Duration]) -> Option<RestartFigures> {
        if durations.is_empty() {
            return None;
        }
        let mut ms: Vec<f64> = durations.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        ms.sort_by(f64::total_cmp);
        let round = |v: f64| (v * 10.0).round() / 10.0;
        Some(RestartFigures {
            count: ms.len(),
            p50: round(ms[ms.len() / 2]),
            mean: round(ms.iter().sum::<f64>() / ms.len() as f64),
            max: round(*ms.last().expect("not empty")),
        })
    }
}

/// What the clients share with the fault loop.
struct Shared {
    addr: std::net::SocketAddr,
    plan: Plan,
    token: String,
    next: AtomicU64,
    stop: AtomicBool,
    /// Past this instant clients give up on an unanswered key (set when the drain starts).
    give_up_at: Mutex<Option<Instant>>,
    /// The last restart not yet followed by an acknowledged write, and whether it was
    /// PostgreSQL's.
    restarted_at: Mutex<Option<(Instant, bool)>>,
    restart_to_first_write: Mutex<Vec<Duration>>,
    pg_restart_to_first_write: Mutex<Vec<Duration>>,
    replay_rate: f64,
    batch: bool,
    request_timeout: Duration,
    backoff_max: Duration,
}

/// One client task's record.
struct Worker {
    attempted: Vec<String>,
    acked: Vec<(String, String)>,
    latency: hdrhistogram::Histogram<u64>,
    retries: u64,
    recovered_on_retry: u64,
    duplicate_deliveries: u64,
    replay_failures: u64,
    replay_body_differences: u64,
    replay_full_body_differences: u64,
    unresolved: u64,
    rejected: BTreeMap<u16, u64>,
    transient: BTreeMap<String, u64>,
    examples: Vec<String>,
}

enum Outcome {
    /// 200 or 201, with the registration id and the whole answer.
    Ack {
        status: u16,
        id: String,
        body: Bytes,
        sent_at: Instant,
        retried: bool,
    },
    Rejected {
        status: u16,
        body: Bytes,
    },
    GaveUp,
}

/// A definitive answer to a request.
struct Answer {
    status: u16,
    body: Bytes,
    sent_at: Instant,
    retried: bool,
}

/// An upload's definitive answers, item by item.
struct Uploaded {
    answers: Vec<(u16, Option<String>)>,
    first_sent_at: Instant,
    retried: bool,
}

/// Each item's status and registration id from an upload's 200 answer with `n` results.
fn upload_ids(answer: &Answer, n: usize) -> Option<Vec<(u16, Option<String>)>> {
    if answer.status != 200 {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
    let results = value["results"].as_array().filter(|r| r.len() == n)?;
    results.iter().map(|r| Some((u16::try_from(r["status"].as_u64()?).ok()?, id_of(&r["body"])))).collect()
}

fn registration_id(body: &[u8]) -> Option<String> {
    id_of(&serde_json::from_slice(body).ok()?)
}

/// The registration id in a registration's answer.
fn id_of(answer: &serde_json::Value) -> Option<String> {
    match &answer["registration"]["id"] {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// The answer without the parts that legitimately change later (the tube fills up and seals).
fn stable_part(body: &[u8]) -> Option<serde_json::Value> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    Some(value["registration"].clone())
}

impl Worker {
    fn new() -> Worker {
        Worker {
            attempted: Vec::new(),
            acked: Vec::new(),
            latency: report::histogram(),
            retries: 0,
            recovered_on_retry: 0,
            duplicate_deliveries: 0,
            replay_failures: 0,
            replay_body_differences: 0,
            replay_full_body_differences: 0,
            unresolved: 0,
            rejected: BTreeMap::new(),
            transient: BTreeMap::new(),
            examples: Vec::new(),
        }
    }

    fn example(&mut self, text: String) {
        if self.examples.len() < 5 {
            self.examples.push(text);
        }
    }

    /// Sends `body` under `key` until a definitive answer: retries the same key after no answer,
    /// 409 (the same key still in flight), 429 or 5xx, with full-jitter exponential back-off.
    async fn deliver(
        &mut self,
        conn: &mut Conn,
        shared: &Shared,
        rng: &mut ChaCha8Rng,
        key: &str,
        body: &Bytes,
    ) -> Outcome {
        let Some(answer) = self.answered(conn, shared, rng, "/api/v1/registrations", Some(key), body).await else {
            return Outcome::GaveUp;
        };
        let Answer { status, body, sent_at, retried } = answer;
        match registration_id(&body).filter(|_| status == 200 || status == 201) {
            Some(id) => Outcome::Ack { status, id, body, sent_at, retried },
            None => Outcome::Rejected { status, body },
        }
    }

    /// Sends `body` to `path` (under `key`, when given) until an answer that is not "try again"
    /// (see [`Worker::deliver`]); `None` when the drain's deadline passed first.
    async fn answered(
        &mut self,
        conn: &mut Conn,
        shared: &Shared,
        rng: &mut ChaCha8Rng,
        path: &str,
        key: Option<&str>,
        body: &Bytes,
    ) -> Option<Answer> {
        let auth = format!("Bearer {}", shared.token);
        let mut attempt = 0u32;
        loop {
            let sent_at = Instant::now();
            let mut headers = vec![("authorization", auth.as_str())];
            headers.extend(key.map(|k| ("idempotency-key", k)));
            match conn.send("POST", path, &headers, body.clone()).await {
                Ok(r) if r.status == 409 || r.status == 429 || r.status >= 500 => {
                    *self.transient.entry(r.status.to_string()).or_default() += 1;
                }
                Ok(r) => return Some(Answer { status: r.status, body: r.body, sent_at, retried: attempt > 0 }),
                Err(e) => {
                    let kind = match e {
                        HttpError::Connect(_) => "connect",
                        HttpError::Handshake(_) => "handshake",
                        HttpError::Request(_) => "request",
                        HttpError::Timeout(_) => "timeout",
                    };
                    *self.transient.entry(kind.to_string()).or_default() += 1;
                }
            }
            attempt += 1;
            if !self.back_off(shared, rng, attempt).await {
                return None;
            }
        }
    }

    /// Waits before the `attempt`-th retry (full jitter, exponential); false once the drain's
    /// deadline has passed (give up instead).
    async fn back_off(&mut self, shared: &Shared, rng: &mut ChaCha8Rng, attempt: u32) -> bool {
        if shared.give_up_at.lock().expect("lock").is_some_and(|t| Instant::now() > t) {
            return false;
        }
        self.retries += 1;
        let cap = Duration::from_millis(10).saturating_mul(1 << attempt.min(6)).min(shared.backoff_max);
        let pause = rng.random_range(Duration::from_millis(1)..=cap);
        tokio::time::sleep(pause).await;
        true
    }

    /// Uploads one tube's scans as the scan page's outbox does: the items answered "try again"
    /// (409, 429 or 5xx each, or no usable answer at all) are sent again, with the same keys, until
    /// each has a definitive answer; every item answered 200 or 201 goes into the ledger. A share
    /// of the uploads is sent once more whole, and each acknowledged item must then answer 200
    /// with the same registration. False when the drain's deadline passed with items unanswered.
    async fn upload(
        &mut self,
        conn: &mut Conn,
        shared: &Shared,
        rng: &mut ChaCha8Rng,
        items: &[(Uuid, plan::Item)],
    ) -> bool {
        self.attempted.extend(items.iter().map(|(key, _)| key.to_string()));
        let started = Instant::now();
        let Some(sent) = self.upload_until_answered(conn, shared, rng, items).await else { return false };
        report::record(&mut self.latency, started.elapsed());
        Self::note_first_write(shared, sent.first_sent_at);
        let acked = |answers: &[(u16, Option<String>)], i: usize| match &answers[i] {
            (200 | 201, Some(id)) => Some(id.clone()),
            _ => None,
        };
        for (i, (key, item)) in items.iter().enumerate() {
            match acked(&sent.answers, i) {
                Some(id) => {
                    if sent.retried && sent.answers[i].0 == 200 {
                        self.recovered_on_retry += 1;
                    }
                    self.acked.push((key.to_string(), id));
                }
                None => {
                    let status = sent.answers[i].0;
                    *self.rejected.entry(status).or_default() += 1;
                    self.example(format!("item {key} (person {}, tube {}) refused: {status}", item.person, item.tube));
                }
            }
        }
        if rng.random_bool(shared.replay_rate) {
            self.duplicate_deliveries += items.len() as u64;
            let Some(again) = self.upload_until_answered(conn, shared, rng, items).await else { return false };
            for (i, (key, _)) in items.iter().enumerate() {
                let Some(first) = acked(&sent.answers, i) else { continue };
                if again.answers[i] != (200, Some(first.clone())) {
                    self.replay_failures += 1;
                    self.example(format!("replay of {key} (acked as {first}): {:?}", again.answers[i]));
                }
            }
        }
        true
    }

    /// Each item's definitive answer (status, registration id) to an upload of `items`, sending
    /// again those answered "try again"; `None` when the drain's deadline passed first.
    async fn upload_until_answered(
        &mut self,
        conn: &mut Conn,
        shared: &Shared,
        rng: &mut ChaCha8Rng,
        items: &[(Uuid, plan::Item)],
    ) -> Option<Uploaded> {
        const PATH: &str = "/api/v1/registrations/batch";
        let mut answers: Vec<Option<(u16, Option<String>)>> = vec![None; items.len()];
        let mut pending: Vec<usize> = (0..items.len()).collect();
        let (mut first_sent_at, mut retried, mut attempt) = (None, false, 0u32);
        while !pending.is_empty() {
            let sending: Vec<(Uuid, plan::Item)> = pending.iter().map(|&i| items[i].clone()).collect();
            let body = Bytes::from(shared.plan.batch_body(&sending));
            let Some(answer) = self.answered(conn, shared, rng, PATH, None, &body).await else {
                self.unresolved += pending.len() as u64;
                return None;
            };
            first_sent_at.get_or_insert(answer.sent_at);
            retried |= answer.retried;
            let Some(results) = upload_ids(&answer, sending.len()) else {
                // The whole upload refused (a 4xx): every item with it.
                self.example(format!("upload refused: {} {}", answer.status, String::from_utf8_lossy(&answer.body)));
                for &i in &pending {
                    answers[i] = Some((answer.status, None));
                }
                break;
            };
            let mut again = Vec::new();
            for (&i, (status, id)) in pending.iter().zip(results) {
                if status == 409 || status == 429 || status >= 500 {
                    *self.transient.entry(format!("item {status}")).or_default() += 1;
                    again.push(i);
                } else {
                    answers[i] = Some((status, id));
                }
            }
            pending = again;
            if !pending.is_empty() {
                retried = true;
                attempt += 1;
                if !self.back_off(shared, rng, attempt).await {
                    self.unresolved += pending.len() as u64;
                    return None;
                }
            }
        }
        Some(Uploaded {
            answers: answers.into_iter().map(|a| a.expect("every item answered")).collect(),
            first_sent_at: first_sent_at.expect("sent at least once"),
            retried,
        })
    }

    fn note_first_write(shared: &Shared, sent_at: Instant) {
        let mut restarted = shared.restarted_at.lock().expect("lock");
        if let Some((at, pg)) = *restarted
            && sent_at >= at
        {
            let list = if pg { &shared.pg_restart_to_first_write } else { &shared.restart_to_first_write };
            list.lock().expect("lock").push(Instant::now() - at);
            *restarted = None;
        }
    }

    async fn run(mut self, shared: Arc<Shared>, seed: u64) -> Worker {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut keys = Keys::new(rng.random());
        let mut conn = Conn::new(crate::http::Endpoint::local(shared.addr)).with_timeout(shared.request_timeout);
        // Each task fills whole tubes: it takes ten items at a time, as one lane fills one tube.
        while !shared.stop.load(Ordering::Relaxed) {
            let block = shared.next.fetch_add(plan::POOL_SIZE, Ordering::Relaxed);
            if shared.batch {
                let items: Vec<(Uuid, plan::Item)> =
                    (block..block + plan::POOL_SIZE).map(|i| (keys.fresh(), shared.plan.item(i))).collect();
                if !self.upload(&mut conn, &shared, &mut rng, &items).await {
                    return self;
                }
                continue;
            }
            for index in block..block + plan::POOL_SIZE {
                let item = shared.plan.item(index);
                let key = keys.fresh().to_string();
                let body = Bytes::from(shared.plan.body(&item));
                self.attempted.push(key.clone());
                let started = Instant::now();
                match self.deliver(&mut conn, &shared, &mut rng, &key, &body).await {
                    Outcome::Ack { status, id, body: first, sent_at, retried } => {
                        report::record(&mut self.latency, started.elapsed());
                        Self::note_first_write(&shared, sent_at);
                        if retried && status == 200 {
                            self.recovered_on_retry += 1;
                        }
                        if rng.random_bool(shared.replay_rate) {
                            self.duplicate_deliveries += 1;
                            match self.deliver(&mut conn, &shared, &mut rng, &key, &body).await {
                                Outcome::Ack { status: 200, id: again, body: second, .. } if again == id => {
                                    if first != second {
                                        self.replay_full_body_differences += 1;
                                    }
                                    if stable_part(&first) != stable_part(&second) {
                                        self.replay_body_differences += 1;
                                        self.example(format!(
                                            "replay of {key}: registration differs: first {} then {}",
                                            String::from_utf8_lossy(&first),
                                            String::from_utf8_lossy(&second)
                                        ));
                                    }
                                }
                                Outcome::Ack { status, id: again, body, .. } => {
                                    self.replay_failures += 1;
                                    self.example(format!(
                                        "replay of {key} (acked as {id}): status {status}, registration {again}: {}",
                                        String::from_utf8_lossy(&body)
                                    ));
                                }
                                Outcome::Rejected { status, body } => {
                                    self.replay_failures += 1;
                                    self.example(format!(
                                        "replay of {key} (acked as {id}): status {status}: {}",
                                        String::from_utf8_lossy(&body)
                                    ));
                                }
                                Outcome::GaveUp => self.unresolved += 1,
                            }
                        }
                        self.acked.push((key, id));
                    }
                    Outcome::Rejected { status, body } => {
                        *self.rejected.entry(status).or_default() += 1;
                        self.example(format!(
                            "registration {key} (person {}, tube {}) refused: {status} {}",
                            item.person,
                            item.tube,
                            String::from_utf8_lossy(&body)
                        ));
                    }
                    Outcome::GaveUp => {
                        self.unresolved += 1;
                        return self;
                    }
                }
            }
        }
        self
    }
}

/// The storage a run uses, and how to read it afterwards.
enum Engine {
    /// `db` is the file to verify (in mode P, the backing file: what survived); `live` is the one
    /// the server uses (in mode P, through the lossy mount).
    Sqlite {
        db: PathBuf,
        live: PathBuf,
    },
    Postgres {
        admin_url: String,
        db_url: String,
        name: String,
    },
}

/// `postgres://user@host:port/db?opts` with another database name.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}

async fn postgres_admin(url: &str, sql: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    client.batch_execute(sql).await?;
    drop(client);
    let _ = driver.await;
    Ok(())
}

async fn person_range(engine: &Engine) -> anyhow::Result<PersonRange> {
    const SQL: &str = "SELECT min(id), max(id), count(*) FROM persons";
    let (first, last, count): (i64, i64, i64) = match engine {
        Engine::Sqlite { live, .. } => {
            let conn = rusqlite::Connection::open_with_flags(live, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            conn.busy_timeout(Duration::from_secs(10))?;
            conn.query_row(SQL, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        }
        Engine::Postgres { db_url, .. } => {
            let (client, connection) = tokio_postgres::connect(db_url, tokio_postgres::NoTls).await?;
            let driver = tokio::spawn(connection);
            let row = client.query_one("SELECT min(id)::bigint, max(id)::bigint, count(*) FROM persons", &[]).await?;
            drop(client);
            let _ = driver.await;
            (row.get(0), row.get(1), row.get(2))
        }
    };
    if count != last - first + 1 {
        anyhow::bail!("person ids are not contiguous ({count} persons between {first} and {last}); pass --persons");
    }
    Ok(PersonRange { first, last })
}

/// Which cycles stop PostgreSQL, and how: exactly `round(kills × share)` of them, in a seeded
/// order, half (rounded up) by SIGKILL to the postmaster and the rest by `pg_ctl stop -m
/// immediate`; `None` kills the server.
fn pg_schedule(rng: &mut ChaCha8Rng, kills: u32, share: f64) -> Vec<Option<Stop>> {
    let pg = ((f64::from(kills) * share.clamp(0.0, 1.0)).round() as usize).min(kills as usize);
    let sigkills = pg.div_ceil(2);
    let mut schedule: Vec<Option<Stop>> = (0..kills as usize)
        .map(|i| match i {
            i if i < sigkills => Some(Stop::SigKill),
            i if i < pg => Some(Stop::Immediate),
            _ => None,
        })
        .collect();
    schedule.shuffle(rng);
    schedule
}

fn uniform(rng: &mut ChaCha8Rng, (low, high): (Duration, Duration)) -> Duration {
    if high <= low { low } else { rng.random_range(low..=high) }
}

/// Runs the procedure and returns its figures; `figures.passed` says whether every check held.
pub async fn run(options: Options) -> anyhow::Result<Figures> {
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let tmp = tempfile::Builder::new().prefix("bulwark-crash-").tempdir()?;
    let root = tmp.path().to_path_buf();
    eprintln!(
        "bulwark-crash: seed {} · mode {} · {} kills · {} workers · work dir {}",
        options.seed,
        if options.power_loss { "P (power loss)" } else { "K (kill -9)" },
        options.kills,
        options.workers,
        root.display()
    );

    // Storage: a data directory (behind the lossy layer in mode P), or a new PostgreSQL database.
    let data_dir = root.join("data");
    std::fs::create_dir_all(&data_dir)?;
    let mut lossy = None;
    let mut cluster = None;
    let database = if options.kill_postgres {
        if options.power_loss {
            anyhow::bail!("--kill-postgres and --power-loss do not go together (mode P runs on SQLite only)");
        }
        if options.database.is_some() {
            anyhow::bail!(
                "--kill-postgres runs its own PostgreSQL cluster: a --database server would not be the one killed"
            );
        }
        let bindir = match &options.pg_bindir {
            Some(dir) => dir.clone(),
            None => crate::pgcluster::find_bindir().ok_or_else(|| {
                anyhow::anyhow!(
                    "--kill-postgres needs the PostgreSQL server binaries (initdb, postgres, pg_ctl): none found \
                     (set BULWARK_PG_BINDIR)"
                )
            })?,
        };
        let mut c = crate::pgcluster::Cluster::create(&bindir, root.join("postgres.log"))?;
        c.start()?;
        c.wait_ready(options.start_timeout).await?;
        eprintln!(
            "bulwark-crash: private PostgreSQL cluster ({}) on port {}, postmaster {}",
            bindir.display(),
            c.port,
            c.pid().unwrap_or(0)
        );
        let url = c.url("postgres");
        cluster = Some(c);
        Some(url)
    } else {
        options.database.clone()
    };
    let (storage, engine) = match &database {
        None => {
            let served_dir = if options.power_loss {
                let mount = root.join("mnt");
                std::fs::create_dir_all(&mount)?;
                lossy = Some(crate::lossyfs::Lossy::mount(&data_dir, &mount)?);
                mount
            } else {
                data_dir.clone()
            };
            let live = served_dir.join("bulwark.db");
            (Storage::DataDir(served_dir), Engine::Sqlite { db: data_dir.join("bulwark.db"), live })
        }
        Some(url) => {
            if options.power_loss {
                anyhow::bail!(
                    "mode P (--power-loss) runs on SQLite only: PostgreSQL's files are not under this tool's control"
                );
            }
            let name = format!("bulwark_crash_{}_{}", options.seed, std::process::id());
            postgres_admin(url, &format!("DROP DATABASE IF EXISTS {name}")).await?;
            postgres_admin(url, &format!("CREATE DATABASE {name}")).await?;
            let db_url = with_database(url, &name);
            (Storage::Postgres(db_url.clone()), Engine::Postgres { admin_url: url.clone(), db_url, name })
        }
    };

    let password: String = (0..20).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect();
    let mut server =
        Server::new(&options.server_bin, storage, server::free_port()?, password.clone(), root.join("server.log"));
    let result = drive(&options, &mut rng, &mut server, &engine, lossy.as_mut(), cluster.as_mut()).await;
    server.kill();
    if let Some(l) = lossy.take() {
        l.unmount();
    }
    let figures = match result {
        Ok(figures) => figures,
        Err(e) => {
            eprintln!("bulwark-crash: server log tail:\n{}", server.log_tail());
            if let Some(c) = &cluster {
                eprintln!("bulwark-crash: PostgreSQL log tail:\n{}", c.log_tail());
            }
            if options.keep {
                if let Some(dir) = cluster.as_mut().and_then(|c| c.keep()) {
                    eprintln!("bulwark-crash: kept the PostgreSQL cluster {}", dir.display());
                }
                eprintln!("bulwark-crash: kept {}", tmp.keep().display());
            }
            return Err(e);
        }
    };
    if let Engine::Postgres { admin_url, name, .. } = &engine
        && !options.keep
        && cluster.is_none()
        && let Err(e) = postgres_admin(admin_url, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await
    {
        eprintln!("bulwark-crash: could not drop database {name}: {e}");
    }
    if options.keep {
        if let Some(dir) = cluster.as_mut().and_then(|c| c.keep()) {
            eprintln!("bulwark-crash: kept the PostgreSQL cluster {} (stopped)", dir.display());
        }
        eprintln!("bulwark-crash: kept {}", tmp.keep().display());
    }
    drop(cluster);
    Ok(figures)
}

async fn drive(
    options: &Options,
    rng: &mut ChaCha8Rng,
    server: &mut Server,
    engine: &Engine,
    mut lossy: Option<&mut crate::lossyfs::Lossy>,
    mut cluster: Option<&mut crate::pgcluster::Cluster>,
) -> anyhow::Result<Figures> {
    // 1. The demo town, a round and a site.
    server.start(true)?;
    let took = server.wait_ready(options.start_timeout).await?;
    eprintln!("bulwark-crash: demo loaded and serving on {} after {:.1} s", server.listen, took.as_secs_f64());
    let mut conn = Conn::new(server.endpoint()).with_timeout(Duration::from_secs(30));
    let commander = api::login(&mut conn, "commander", &server.password).await?;
    let village = api::a_village(&mut conn, &commander, api::DEMO_TOWN).await?;
    let target =
        api::set_up(&mut conn, &commander, &format!("crash seed {}", options.seed), api::DEMO_TOWN, &village).await?;
    let sampler = api::login(&mut conn, "sampler", &server.password).await?;
    let persons = match options.persons {
        Some(p) => p,
        None => person_range(engine).await?,
    };
    let plan = Plan {
        target,
        rounds: vec![target.round],
        persons,
        tube_prefix: plan::run_prefix('K', options.seed % 1_000_000_000_000, rng),
        device_time: plan::device_time_now(),
    };
    eprintln!(
        "bulwark-crash: round {} site {} lane {} (village {village}), persons {}-{}, tubes {}-…",
        target.round, target.site, target.lane, persons.first, persons.last, plan.tube_prefix
    );

    // 2. The clients.
    let shared = Arc::new(Shared {
        addr: server.listen,
        plan,
        token: sampler,
        next: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        give_up_at: Mutex::new(None),
        restarted_at: Mutex::new(None),
        restart_to_first_write: Mutex::new(Vec::new()),
        pg_restart_to_first_write: Mutex::new(Vec::new()),
        replay_rate: options.replay_rate,
        batch: options.batch,
        request_timeout: options.request_timeout,
        backoff_max: options.backoff_max,
    });
    let load_started = Instant::now();
    let tasks: Vec<_> =
        (0..options.workers).map(|_| tokio::spawn(Worker::new().run(shared.clone(), rng.random()))).collect();

    // 3. The faults (none: a baseline run of fixed length).
    if options.kills == 0 {
        tokio::time::sleep(options.no_fault_duration).await;
    }
    let mut kills = 0;
    let (mut server_kills, mut pg_sigkills, mut pg_immediate_stops, mut server_exits_on_pg_kill) = (0, 0, 0, 0);
    let mut pg_recovery = Vec::new();
    // Drawn only with a cluster, so that runs without one replay as before for a seed.
    let schedule = match cluster {
        Some(_) => pg_schedule(rng, options.kills, options.pg_kill_share),
        None => vec![None; options.kills as usize],
    };
    while kills < options.kills {
        tokio::time::sleep(uniform(rng, options.up)).await;
        if let Some(c) = cluster.as_deref_mut()
            && let Some(how) = schedule[kills as usize]
        {
            c.stop(how).await?;
            kills += 1;
            match how {
                Stop::SigKill => pg_sigkills += 1,
                Stop::Immediate => pg_immediate_stops += 1,
            }
            tokio::time::sleep(uniform(rng, options.down)).await;
            c.start()?;
            pg_recovery.push(c.wait_ready(options.start_timeout).await?);
            *shared.restarted_at.lock().expect("lock") = Some((Instant::now(), true));
            // The server was left running: it must still be (a server that exits when its
            // database goes away is counted, then started again).
            if !server.running() {
                server_exits_on_pg_kill += 1;
                eprintln!("bulwark-crash: the server exited while PostgreSQL was down (kill {kills})");
                server.start(false)?;
            }
            continue;
        }
        server.kill();
        kills += 1;
        server_kills += 1;
        if let Some(l) = lossy.as_deref_mut() {
            l.power_loss()?;
        }
        tokio::time::sleep(uniform(rng, options.down)).await;
        server.start(false)?;
        *shared.restarted_at.lock().expect("lock") = Some((Instant::now(), false));
        // A start that fails (e.g. the port still held) shows as an early exit: try again, but
        // a server that cannot start at all (say, a database it cannot open) ends the run.
        let restarted = Instant::now();
        tokio::time::sleep(Duration::from_millis(30)).await;
        while !server.running() {
            if restarted.elapsed() > options.start_timeout {
                anyhow::bail!("the server does not start again after kill {kills}; its log:\n{}", server.log_tail());
            }
            server.start(false)?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    // 4. Drain: no new items; the clients finish what they hold against a server that stays up.
    server.wait_ready(options.start_timeout).await?;
    shared.stop.store(true, Ordering::Relaxed);
    *shared.give_up_at.lock().expect("lock") = Some(Instant::now() + options.drain_timeout);
    let mut workers = Vec::new();
    for task in tasks {
        workers.push(task.await?);
    }
    let load_seconds = load_started.elapsed().as_secs_f64();
    // One last fault, then the offline check.
    server.kill();
    if let Some(l) = lossy.as_deref_mut() {
        l.power_loss()?;
    }
    if let Some(c) = cluster {
        c.stop(Stop::SigKill).await?;
        c.start()?;
        c.wait_ready(options.start_timeout).await?;
    }

    let lossy_stats = lossy.as_ref().map(|l| l.stats());
    let mut ledger = Ledger::default();
    let mut latency = report::histogram();
    let mut f = Worker::new();
    for w in workers {
        ledger.attempted.extend(w.attempted);
        ledger.acked.extend(w.acked);
        latency.add(&w.latency).expect("same bounds");
        f.retries += w.retries;
        f.recovered_on_retry += w.recovered_on_retry;
        f.duplicate_deliveries += w.duplicate_deliveries;
        f.replay_failures += w.replay_failures;
        f.replay_body_differences += w.replay_body_differences;
        f.replay_full_body_differences += w.replay_full_body_differences;
        f.unresolved += w.unresolved;
        for (k, v) in w.rejected {
            *f.rejected.entry(k).or_default() += v;
        }
        for (k, v) in w.transient {
            *f.transient.entry(k).or_default() += v;
        }
        for e in w.examples {
            f.example(e);
        }
    }
    let (stored, journal) = match engine {
        Engine::Sqlite { db, .. } => {
            let journal = {
                let conn = rusqlite::Connection::open(db)?;
                conn.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0))?
            };
            (verify::read_sqlite(db, target.round)?, journal)
        }
        Engine::Postgres { db_url, .. } => (verify::read_postgres(db_url, target.round).await?, "postgres".to_string()),
    };
    let verdict: Verdict = verify::compare(&ledger, &stored);
    let mut failures: Vec<String> = verdict.examples.clone();
    if f.replay_body_differences > 0 {
        failures.push(format!("{} replays answered a different registration object", f.replay_body_differences));
    }
    if f.replay_failures > 0 {
        failures.push(format!("{} deliberate replays were not answered 200 with the original id", f.replay_failures));
    }
    if !f.rejected.is_empty() {
        failures.push(format!("registrations refused: {:?}", f.rejected));
    }
    if f.unresolved > 0 {
        failures.push(format!("{} keys still unanswered after the drain time", f.unresolved));
    }
    failures.extend(f.examples.iter().cloned());
    let passed = verdict.passed()
        && f.replay_failures == 0
        && f.replay_body_differences == 0
        && f.rejected.is_empty()
        && f.unresolved == 0;

    if server_exits_on_pg_kill > 0 {
        failures.push(format!("the server exited {server_exits_on_pg_kill} times when PostgreSQL went down"));
    }
    let passed = passed && server_exits_on_pg_kill == 0;
    let restart_to_first_write_ms = RestartFigures::of(&shared.restart_to_first_write.lock().expect("lock"));
    let pg_restart_to_first_write_ms = RestartFigures::of(&shared.pg_restart_to_first_write.lock().expect("lock"));
    let acked = ledger.acked.len() as u64;
    Ok(Figures {
        procedure: "a",
        mode: if options.power_loss { "P" } else { "K" },
        requests: if options.batch { "batch" } else { "single" },
        engine: if matches!(engine, Engine::Sqlite { .. }) { "sqlite" } else { "postgres" },
        seed: options.seed,
        workers: options.workers,
        kills,
        server_kills,
        pg_kills: pg_sigkills + pg_immediate_stops,
        pg_sigkills,
        pg_immediate_stops,
        pg_recovery_ms: RestartFigures::of(&pg_recovery),
        server_exits_on_pg_kill,
        server_starts: server.starts,
        server_early_exits: server.early_exits,
        attempted: ledger.attempted.len() as u64,
        acked,
        present: verdict.present,
        lost: verdict.lost,
        unexpected: verdict.unexpected,
        duplicates: verdict.duplicate_keys,
        duplicate_triples: verdict.duplicate_triples,
        id_mismatches: verdict.id_mismatches,
        retries: f.retries,
        recovered_on_retry: f.recovered_on_retry,
        recovered_unacked: verdict.recovered_unacked,
        duplicate_deliveries: f.duplicate_deliveries,
        replay_failures: f.replay_failures,
        replay_body_differences: f.replay_body_differences,
        replay_full_body_differences: f.replay_full_body_differences,
        unresolved: f.unresolved,
        rejected: f.rejected,
        transient: f.transient,
        load_seconds: (load_seconds * 100.0).round() / 100.0,
        acked_per_s: ((acked as f64 / load_seconds) * 10.0).round() / 10.0,
        ack_latency: Latency::of(&latency),
        restart_to_first_write_ms,
        pg_restart_to_first_write_ms,
        integrity: verdict.integrity,
        journal,
        lossy: lossy_stats,
        passed,
        failures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(with_database("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(with_database("postgres://h:5432", "x"), "postgres://h:5432/x");
    }

    #[test]
    fn postgres_is_stopped_in_the_given_share_of_the_cycles_half_of_them_by_sigkill() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let schedule = pg_schedule(&mut rng, 30, 0.5);
        assert_eq!(schedule.len(), 30);
        assert_eq!(schedule.iter().filter(|s| **s == Some(Stop::SigKill)).count(), 8);
        assert_eq!(schedule.iter().filter(|s| **s == Some(Stop::Immediate)).count(), 7);
        assert_ne!(schedule, pg_schedule(&mut rng, 30, 0.5), "the order is drawn");
        assert_eq!(pg_schedule(&mut rng, 7, 0.0), vec![None; 7]);
        assert!(pg_schedule(&mut rng, 3, 1.0).iter().all(Option::is_some));
    }

    #[test]
    fn registration_ids_are_read_from_the_answer() {
        assert_eq!(registration_id(br#"{"registration":{"id":42,"key":"k"},"tube":{}}"#).as_deref(), Some("42"));
        assert_eq!(registration_id(br#"{"registration":{"id":"r-1"}}"#).as_deref(), Some("r-1"));
        assert_eq!(registration_id(br#"{"code":"x"}"#), None);
    }
}
